//! Full-text search at scale (`scripts/bench-search`): seeds N tickets of generated IT support
//! text (a third with an internal note, resolved ones with resolution notes) and M articles,
//! times `orion reindex` over all of it, then times searches of one to three words through the
//! service layer, as staff and as a requester, on whichever engine the URL names.

use anyhow::Result;
use orion_app::demo::textgen;
use orion_app::search::SearchQuery;
use orion_app::{App, GroupInput, NewUserInput};
use orion_domain::{Actor, Role, UserId};
use orion_store::Db;
use orion_store::sql::Sql;
use rand::SeedableRng;
use std::time::Instant;

#[derive(clap::Args)]
pub struct SearchArgs {
    /// A fresh, empty database: sqlite://PATH or postgres://…
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 1_000_000)]
    tickets: i64,
    #[arg(long, default_value_t = 10_000)]
    articles: i64,
    /// Timed runs of each query
    #[arg(long, default_value_t = 40)]
    reps: usize,
    /// The database already holds what an earlier run seeded and indexed (after a migration
    /// or a change to the queries): time the searches only
    #[arg(long)]
    reuse: bool,
}

const REQUESTERS: i64 = 200;

const QUERIES: &[(&str, &str)] = &[
    ("1 word, common (~1 in 28 tickets)", "printer"),
    ("1 word, common", "vpn"),
    ("1 word, rare (one ticket)", "zeppelin"),
    ("1 word, no match", "xylophone"),
    ("1 word, prefix", "certif*"),
    ("2 words", "outlook password"),
    ("2 words, across topics", "teams monitor"),
    ("3 words", "paper jam tray"),
    ("3 words, phrase", "\"disk cleanup\" laptop"),
    ("3 words, OR", "docking OR monitor OR hdmi"),
];

pub async fn run(a: SearchArgs) -> Result<()> {
    let (db, app, engine) = crate::open_app(&a.database_url).await?;
    let (agent, requesters) = if a.reuse { seeded_users(&db).await? } else { seed(&app, &db, &a, engine).await? };
    let staff = Actor { id: UserId(agent), role: Role::Agent };
    let requester = Actor { id: UserId(requesters[7]), role: Role::Requester };
    for (who, actor, kind_of) in
        [("agent, tickets + articles", &staff, None), ("requester, own tickets + public articles", &requester, None)]
    {
        for (name, q) in QUERIES {
            let query = || SearchQuery { q: q.to_string(), kind_of: kind_of.clone(), ..SearchQuery::default() };
            let warm = app.search(actor, query()).await?;
            let found = warm.tickets.len() + warm.articles.len();
            let mut times = Vec::with_capacity(a.reps);
            for _ in 0..a.reps {
                let t = Instant::now();
                app.search(actor, query()).await?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            let times = crate::Samples::new(times);
            let p = |q: f64| times.p(q);
            println!(
                "| {engine} | {who} | {name}: `{q}` | {found} | {:.1} | {:.1} | {:.1} |",
                p(0.5),
                p(0.95),
                times.max()
            );
        }
    }
    db.close().await;
    Ok(())
}

/// Seeds the tickets and articles and rebuilds the index; returns the agent and the requesters.
async fn seed(app: &App, db: &Db, a: &SearchArgs, engine: &str) -> Result<(i64, Vec<i64>)> {
    let root = Actor { id: UserId(0), role: Role::Admin };
    let g = GroupInput { name: Some("Service Desk".into()), tier: Some(1), ..GroupInput::default() };
    app.create_group(&root, g).await?;
    let agent = app
        .create_user(
            &root,
            NewUserInput {
                email: Some("search-agent@example.com".into()),
                name: Some("Search Agent".into()),
                role: Some("agent".into()),
                groups: vec!["Service Desk".into()],
                ..NewUserInput::default()
            },
        )
        .await?;
    let mut requesters = Vec::new();
    for r in 0..REQUESTERS {
        let u = app
            .create_user(
                &root,
                NewUserInput {
                    email: Some(format!("caller{r}@example.com")),
                    name: Some(format!("Caller {r}")),
                    ..NewUserInput::default()
                },
            )
            .await?;
        requesters.push(u.id);
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let t0 = Instant::now();
    let n = a.tickets;
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    crate::sla_bench::insert_in_batches(db, n, |from, to| {
        let mut tickets = Sql::new(
            "INSERT INTO ticket (id, number, kind, title, description, requester_id, channel, impact, urgency,
                 priority, state, assignment_group_id, max_tier, created_by, created_at, updated_at, resolution_notes)
             VALUES ",
        );
        let mut notes =
            Sql::new("INSERT INTO timeline_entry (ticket_id, at, actor_id, kind, visibility, body) VALUES ");
        let mut any_note = false;
        for i in from..to {
            let at = now - (n - i) * 30_000;
            let g = textgen::ticket(&mut rng);
            let resolved = i % 10 >= 6;
            let title =
                if i == n / 2 { "Zeppelin-shaped balloon stuck in the server room".to_string() } else { g.title };
            tickets.push(if i == from { "(" } else { ", (" });
            tickets.bind_i64(i).push(", ").bind_text(format!("INC{i:07}")).push(", 'incident', ").bind_text(title);
            tickets.push(", ").bind_text(g.description).push(", ").bind_i64(requesters[(i % REQUESTERS) as usize]);
            tickets.push(", 'phone', 3, 3, 5, ").bind_text(if resolved { "resolved" } else { "assigned" });
            tickets.push(", 1, 1, ").bind_i64(agent.id).push(", ").bind_i64(at).push(", ").bind_i64(at).push(", ");
            if resolved {
                tickets.bind_text(g.resolution);
            } else {
                tickets.push("NULL");
            }
            tickets.push(")");
            if i % 3 == 0 {
                notes.push(if any_note { ", (" } else { "(" });
                notes.bind_i64(i).push(", ").bind_i64(at).push(", ").bind_i64(agent.id);
                notes.push(", 'note', 'internal', ").bind_text(g.internal_note).push(")");
                any_note = true;
            }
        }
        if any_note { vec![tickets, notes] } else { vec![tickets] }
    })
    .await?;
    let m = a.articles;
    crate::sla_bench::insert_in_batches(db, m, |from, to| {
        let mut sql = Sql::new(
            "INSERT INTO kb_article (id, number, title, body, kind, audience, state, tags, owner_id, created_by,
                 created_at, updated_at) VALUES ",
        );
        for i in from..to {
            let art = textgen::article_variant(&mut rng, i as usize);
            sql.push(if i == from { "(" } else { ", (" });
            sql.bind_i64(i).push(", ").bind_text(format!("KB{i:07}")).push(", ").bind_text(art.title);
            sql.push(", ").bind_text(art.body).push(", ").bind_text(art.kind).push(", ");
            sql.bind_text(if i % 2 == 0 { "public" } else { "internal" }).push(", 'published', ");
            sql.bind_text(art.tags.join(", ")).push(", ").bind_i64(agent.id).push(", ").bind_i64(agent.id);
            sql.push(", ").bind_i64(now).push(", ").bind_i64(now).push(")");
        }
        vec![sql]
    })
    .await?;
    eprintln!("seeded {n} tickets and {m} articles in {:.1} s", t0.elapsed().as_secs_f64());

    let t1 = Instant::now();
    let mut last = 0;
    let (ti, ar) = app
        .reindex(2000, |done, total| {
            if done * 10 / total.max(1) > last {
                last = done * 10 / total.max(1);
                eprintln!("reindex {done}/{total}");
            }
        })
        .await?;
    let reindex_s = t1.elapsed().as_secs_f64();
    if db.engine() == orion_store::Engine::Postgres {
        db.execute_admin("VACUUM ANALYZE").await?;
    }
    println!(
        "| {engine} | reindex {ti} tickets + {ar} articles | {reindex_s:.1} s ({:.0} rows/s) |",
        (ti + ar) as f64 / reindex_s
    );

    Ok((agent.id, requesters))
}

/// The agent and requesters an earlier run created.
async fn seeded_users(db: &Db) -> Result<(i64, Vec<i64>)> {
    let mut r = db.read().await?;
    let mut c = r.conn();
    let mut id = async |email: String| -> Result<i64> {
        let u = orion_store::users::find_by_email(&mut c, &email).await?;
        u.map(|u| u.id).ok_or_else(|| anyhow::anyhow!("no user {email}: seed the database first (run without --reuse)"))
    };
    let agent = id("search-agent@example.com".into()).await?;
    let mut requesters = Vec::new();
    for r in 0..REQUESTERS {
        requesters.push(id(format!("caller{r}@example.com")).await?);
    }
    Ok((agent, requesters))
}
