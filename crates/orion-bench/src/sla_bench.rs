//! The SLA scheduler at scale: N open tickets, each with two running clocks and
//! its timer job, of which `due` are due now. Times the worker acting on the due
//! ones, and the look-up of the next due job, so the cost per tick can be
//! compared across N: it must not grow with the number of open tickets.

use anyhow::Result;
use orion_store::sql::{Bind, Sql};
use orion_store::{Db, DbOptions, execute_sql};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct SlaArgs {
    /// A fresh, empty database: sqlite://PATH or postgres://…
    #[arg(long)]
    database_url: String,
    /// Open tickets to seed
    #[arg(long, default_value_t = 1_000_000)]
    tickets: i64,
    /// How many of them have their SLA timer due now
    #[arg(long, default_value_t = 1_000)]
    due: i64,
}

const CALENDAR: &str = r#"{"time_zone":"UTC","week":[[[0,1440]],[[0,1440]],[[0,1440]],[[0,1440]],[[0,1440]],[[0,1440]],[[0,1440]]],"holidays":[],"yearly_holidays":[]}"#;
const ROWS_PER_STATEMENT: i64 = 200;
const ROWS_PER_TRANSACTION: i64 = 20_000;

fn rss_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// Writes rows for ids `1..=total`: `build` returns the statements for ids `from..to` (at most
/// `ROWS_PER_STATEMENT` of them), run in transactions of `ROWS_PER_TRANSACTION` ids.
pub(crate) async fn insert_in_batches(db: &Db, total: i64, mut build: impl FnMut(i64, i64) -> Vec<Sql>) -> Result<()> {
    let mut id = 1;
    while id <= total {
        let end_tx = (id + ROWS_PER_TRANSACTION).min(total + 1);
        let mut tx = db.begin().await?;
        let mut c = tx.conn();
        let mut from = id;
        while from < end_tx {
            let to = (from + ROWS_PER_STATEMENT).min(end_tx);
            for sql in build(from, to) {
                execute_sql!(&mut c, &sql)?;
            }
            from = to;
        }
        tx.commit().await?;
        id = end_tx;
    }
    Ok(())
}

/// Appends `(…), (…)` rows built by `row` for ids `from..to` to an INSERT.
fn rows(head: &str, from: i64, to: i64, row: impl Fn(&mut Sql, i64)) -> Sql {
    let mut sql = Sql::new(head);
    for i in from..to {
        sql.push(if i == from { "(" } else { ", (" });
        row(&mut sql, i);
        sql.push(")");
    }
    sql
}

pub async fn run(a: SlaArgs) -> Result<()> {
    let db = Db::connect(&a.database_url, &DbOptions::default()).await?;
    db.migrate().await?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let started = now - 3 * 3_600_000; // three hours ago: half-way warnings are due for the due ones
    let t0 = Instant::now();
    {
        let mut tx = db.begin().await?;
        let mut c = tx.conn();
        let user = orion_store::users::insert_requester(&mut c, "bench@example.com", "Bench", now).await?;
        orion_store::groups::insert(
            &mut c,
            &orion_store::groups::NewGroup {
                name: "Service Desk",
                tier: 1,
                escalation_target_id: None,
                lead_id: None,
                description: "",
                now,
            },
        )
        .await?;
        tx.commit().await?;
        anyhow::ensure!(user == 1, "run orion-bench sla on a fresh, empty database");
    }
    insert_in_batches(&db, a.tickets, |from, to| {
        let tickets = rows(
            "INSERT INTO ticket (id, number, kind, title, description, requester_id, channel, impact, urgency, priority,
                 state, assignment_group_id, max_tier, created_by, created_at, updated_at) VALUES ",
            from,
            to,
            |s, i| {
                s.bind_i64(i).push(", ").bind_text(format!("INC{i:07}"));
                s.push(", 'incident', 'Bench ticket', '', 1, 'api', 2, 2, 3, 'new', 1, 1, 1, ").bind_i64(started);
                s.push(", ").bind_i64(started);
            },
        );
        let clocks = rows(
            "INSERT INTO ticket_sla (id, ticket_id, target, policy_name, calendar_name, calendar_spec, pause_on,
                 warnings, escalates, target_ms, state, due_at, created_at, updated_at) VALUES ",
            2 * from - 1,
            2 * to - 1,
            |s, k| {
                let ticket = (k + 1) / 2;
                let (target, ms) =
                    if k % 2 == 1 { ("first_response", 6 * 3_600_000) } else { ("resolution", 48 * 3_600_000) };
                s.bind_i64(k).push(", ").bind_i64(ticket).push(", ").bind_text(target);
                s.push(", 'Bench', '24x7', ").bind(Bind::Text(CALENDAR.into()));
                s.push(", '[\"user\",\"vendor\"]', '[50,75,90]', TRUE, ").bind_i64(ms);
                s.push(", 'running', ")
                    .bind_i64(started + ms)
                    .push(", ")
                    .bind_i64(started)
                    .push(", ")
                    .bind_i64(started);
            },
        );
        let events =
            rows("INSERT INTO sla_event (id, ticket_sla_id, at, kind) VALUES ", 2 * from - 1, 2 * to - 1, |s, k| {
                s.bind_i64(k).push(", ").bind_i64(k).push(", ").bind_i64(started).push(", 'start'");
            });
        let jobs = rows(
            "INSERT INTO job (id, kind, payload, run_at, dedupe_key, max_attempts, created_at) VALUES ",
            from,
            to,
            |s, i| {
                // The first `due` tickets are due now; the rest much later.
                let run_at = if i <= a.due { now - 1_000 } else { now + 86_400_000 + i };
                s.bind_i64(i).push(", 'sla.check', ").bind_text(format!("{{\"ticket_id\":{i}}}"));
                s.push(", ").bind_i64(run_at).push(", ").bind_text(format!("sla:{i}")).push(", 10, ").bind_i64(now);
            },
        );
        vec![tickets, clocks, events, jobs]
    })
    .await?;
    let seeded = t0.elapsed();
    if let orion_store::Engine::Postgres = db.engine() {
        db.execute_admin("ANALYZE").await?;
    }
    let app = orion_app::App::new(db.clone(), Arc::new(orion_app::SystemClock));
    let worker = orion_app::jobs::standard_worker(app.clone(), "bench");
    let t1 = Instant::now();
    let step = worker.run_due().await?;
    let acted = t1.elapsed();
    let t2 = Instant::now();
    let mut lookups = 0;
    while t2.elapsed().as_millis() < 1_000 {
        let mut r = db.read().await?;
        orion_store::jobs::next_due(&mut r.conn()).await?;
        lookups += 1;
    }
    let per_lookup_us = t2.elapsed().as_micros() as f64 / f64::from(lookups);
    println!(
        "| {:?} | {} | {} | {:.1} | {} | {:.2} | {:.0} | {} |",
        db.engine(),
        a.tickets,
        step.completed,
        acted.as_secs_f64() * 1000.0,
        step.retried + step.dead,
        acted.as_secs_f64() * 1000.0 / step.completed.max(1) as f64,
        per_lookup_us,
        rss_kib() / 1024,
    );
    eprintln!("seeded {} tickets with clocks and timers in {:.1} s", a.tickets, seeded.as_secs_f64());
    db.close().await;
    Ok(())
}
