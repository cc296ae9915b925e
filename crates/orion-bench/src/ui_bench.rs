//! Seeds a database for timing the agent console's queues at scale (`scripts/bench-ui`): three
//! groups, an agent in all of them with a password, one requester, and N tickets spread over
//! groups, states and priorities, with varied titles and two SLA clocks each. The timing itself
//! is done over HTTP against `orion serve` by the script.

use anyhow::Result;
use orion_app::{App, GroupInput, NewUserInput, SystemClock};
use orion_domain::{Actor, Role, UserId};
use orion_store::sql::Sql;
use orion_store::{Db, DbOptions};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct UiArgs {
    /// A fresh, empty database: sqlite://PATH or postgres://…
    #[arg(long)]
    database_url: String,
    /// Tickets to seed
    #[arg(long, default_value_t = 1_000_000)]
    tickets: i64,
    /// Mark the open tickets' clocks that are past due as breached, as a running server's SLA
    /// timer does within seconds (otherwise they stay running, as if no timer had run)
    #[arg(long)]
    breached: bool,
}

pub const AGENT: &str = "bench-agent@example.com";
pub const PASSWORD: &str = "bench queue lantern light";
const STATES: [&str; 10] = [
    "new",
    "assigned",
    "in_progress",
    "pending",
    "assigned",
    "in_progress",
    "resolved",
    "resolved",
    "resolved",
    "closed",
];
const THINGS: [&str; 12] = [
    "Printer",
    "VPN",
    "Outlook",
    "Wi-Fi",
    "Laptop dock",
    "Teams",
    "SAP login",
    "Disk",
    "Certificate",
    "Monitor",
    "Badge reader",
    "Shared drive",
];
const PROBLEMS: [&str; 8] = [
    "not working",
    "very slow",
    "keeps disconnecting",
    "asks for the password again",
    "shows an error",
    "cannot be reached",
    "stopped after the update",
    "needs to be replaced",
];

pub async fn run(a: UiArgs) -> Result<()> {
    let db = Db::connect(&a.database_url, &DbOptions::default()).await?;
    db.migrate().await?;
    let app = App::new(db.clone(), Arc::new(SystemClock));
    let root = Actor { id: UserId(0), role: Role::Admin };
    for (name, tier) in [("Service Desk", 1), ("Desktop Support", 2), ("Infrastructure", 3)] {
        let g = GroupInput { name: Some(name.into()), tier: Some(tier), ..GroupInput::default() };
        app.create_group(&root, g).await?;
    }
    let agent = app
        .create_user(
            &root,
            NewUserInput {
                email: Some(AGENT.into()),
                name: Some("Bench Agent".into()),
                role: Some("agent".into()),
                groups: vec!["Service Desk".into(), "Desktop Support".into(), "Infrastructure".into()],
                password: Some(PASSWORD.into()),
                ..NewUserInput::default()
            },
        )
        .await?;
    let requester = app
        .create_user(
            &root,
            NewUserInput {
                email: Some("caller@example.com".into()),
                name: Some("A Caller".into()),
                ..NewUserInput::default()
            },
        )
        .await?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let t0 = Instant::now();
    crate::sla_bench::insert_in_batches(&db, a.tickets, |from, to| {
        let mut sql = Sql::new(
            "INSERT INTO ticket (id, number, kind, title, description, requester_id, channel, impact, urgency,
                 priority, state, assignment_group_id, assignee_id, max_tier, created_by, created_at, updated_at)
             VALUES ",
        );
        for i in from..to {
            let at = now - (a.tickets - i) * 30_000; // one ticket every 30 s, the newest now
            let state = STATES[(i % 10) as usize];
            let group = 1 + (i / 50) % 3;
            let mine = state != "new" && i % 4 == 0;
            // One ticket in the middle carries a word no other title has: the worst case for search.
            let title = if i == a.tickets / 2 {
                "Zeppelin-shaped balloon stuck in the server room".to_string()
            } else {
                format!("{} {}", THINGS[(i % 12) as usize], PROBLEMS[(i / 12 % 8) as usize])
            };
            sql.push(if i == from { "(" } else { ", (" });
            sql.bind_i64(i).push(", ").bind_text(format!("INC{i:07}")).push(", 'incident', ").bind_text(title);
            sql.push(", '', ").bind_i64(requester.id).push(", 'phone', 2, 2, ").bind_i64(1 + (i / 10) % 5);
            sql.push(", ").bind_text(state).push(", ").bind_i64(group).push(", ");
            if mine {
                sql.bind_i64(agent.id);
            } else {
                sql.push("NULL");
            }
            sql.push(", ").bind_i64(group).push(", ").bind_i64(agent.id).push(", ").bind_i64(at);
            sql.push(", ").bind_i64(at).push(")");
        }
        let mut clocks = Sql::new(
            "INSERT INTO ticket_sla (ticket_id, target, policy_name, calendar_name, calendar_spec, pause_on,
                 warnings, escalates, target_ms, state, due_at, created_at, updated_at) VALUES ",
        );
        for i in from..to {
            let at = now - (a.tickets - i) * 30_000;
            let open = !matches!(STATES[(i % 10) as usize], "resolved" | "closed");
            for (k, (target, ms)) in
                [("first_response", 4 * 3_600_000i64), ("resolution", 48 * 3_600_000)].iter().enumerate()
            {
                clocks.push(if i == from && k == 0 { "(" } else { ", (" });
                clocks.bind_i64(i).push(", ").bind_text(*target).push(", 'Bench', '24x7', '{}', '[]', '[]', FALSE, ");
                let state = match open {
                    false => "met",
                    true if a.breached && at + ms < now => "breached",
                    true => "running",
                };
                clocks.bind_i64(*ms).push(", ").bind_text(state).push(", ");
                clocks.bind_i64(at + ms).push(", ").bind_i64(at).push(", ").bind_i64(at).push(")");
            }
        }
        vec![sql, clocks]
    })
    .await?;
    // The seed wrote its own ids and numbers: move the number counter (and on PostgreSQL the id
    // sequence) past them, so that tickets logged afterwards (scripts/bench-lists' mixed load) get
    // fresh ones.
    let mut tx = db.begin().await?;
    let mut counter = Sql::new("INSERT INTO ticket_counter (kind, last_value) VALUES ('INC', ");
    counter.bind_i64(a.tickets).push(") ON CONFLICT (kind) DO UPDATE SET last_value = excluded.last_value");
    orion_store::execute_sql!(&mut tx.conn(), &counter)?;
    if db.engine() == orion_store::Engine::Postgres {
        let ids = Sql::new("SELECT setval(pg_get_serial_sequence('ticket', 'id'), (SELECT MAX(id) FROM ticket))");
        orion_store::execute_sql!(&mut tx.conn(), &ids)?;
    }
    tx.commit().await?;
    if db.engine() == orion_store::Engine::Postgres {
        db.execute_admin("ANALYZE").await?;
    }
    eprintln!("seeded {} tickets in {:.1} s", a.tickets, t0.elapsed().as_secs_f64());
    Ok(())
}
