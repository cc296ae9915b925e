//! The asset register at size: seed N configuration items (a realistic mix of types, states,
//! locations and holders), time the list views through `App::list_assets` — every filter the
//! API offers, first pages and deep keyset pages — then time inventory processing: FusionInventory
//! XML inventories of about 270 KB and 900 packages through `App::receive_inventory`, for new
//! machines, unchanged re-inventories and re-inventories with changed packages.

use anyhow::Result;
use orion_app::cmdb::AssetQuery;
use orion_app::cmdb::inventory::{Presented, zlib};
use orion_app::{App, SystemClock};
use orion_domain::{Actor, Role, UserId};
use orion_store::sql::Sql;
use orion_store::{Db, DbOptions};
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct AssetArgs {
    /// A fresh, empty database: sqlite://PATH or postgres://…
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 1_000_000)]
    assets: i64,
    /// People who hold devices
    #[arg(long, default_value_t = 20_000)]
    users: i64,
    /// Timed runs of each list query
    #[arg(long, default_value_t = 200)]
    reps: usize,
    /// Machines inventoried (each three times: new, unchanged, changed)
    #[arg(long, default_value_t = 200)]
    inventories: usize,
    /// A captured FusionInventory inventory (crates/orion/tests/it/fixtures/fusion_inventory_full.xml)
    #[arg(long)]
    inventory_xml: std::path::PathBuf,
    #[arg(long, default_value = "sqlite")]
    engine: String,
    /// Seed only, time nothing (for `scripts/bench-lists`, which times the lists over HTTP)
    #[arg(long)]
    seed_only: bool,
}

const TYPES: &[(&str, u32)] = &[
    ("desktop", 30),
    ("laptop", 30),
    ("phone", 12),
    ("peripheral", 10),
    ("printer", 5),
    ("server", 4),
    ("virtual_machine", 5),
    ("network_device", 2),
    ("room_equipment", 1),
    ("software", 1),
];
const STATES: &[(&str, u32)] =
    &[("deployed", 70), ("in_stock", 15), ("in_repair", 3), ("retired", 10), ("disposed", 2)];

fn pick<'a>(rng: &mut impl Rng, table: &[(&'a str, u32)]) -> &'a str {
    let total: u32 = table.iter().map(|t| t.1).sum();
    let mut n = rng.random_range(0..total);
    for (v, w) in table {
        if n < *w {
            return v;
        }
        n -= w;
    }
    table[0].0
}

fn prefix(t: &str) -> &'static str {
    match t {
        "desktop" => "PC",
        "laptop" => "LT",
        "phone" => "PH",
        "printer" => "PRN",
        "server" => "SRV",
        "virtual_machine" => "VM",
        "network_device" => "NET",
        _ => "AST",
    }
}

/// Gives every interface of machine `i` its own MAC address (`02:…`, locally administered).
fn unique_macs(xml: &str, i: usize) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    let mut k = 0;
    while let Some(p) = rest.find("<MACADDR>") {
        let start = p + "<MACADDR>".len();
        out.push_str(&rest[..start]);
        let end = rest[start..].find('<').map(|e| start + e).unwrap_or(start);
        out.push_str(&format!("02:00:{:02x}:{:02x}:{:02x}:01", (i >> 8) & 0xff, i & 0xff, k & 0xff));
        k += 1;
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

pub async fn run(a: AssetArgs) -> Result<()> {
    let engine = a.engine.clone();
    let db = Db::connect(&a.database_url, &DbOptions::default()).await?;
    db.migrate().await?;
    let app = App::new(db.clone(), Arc::new(SystemClock));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;

    let t0 = Instant::now();
    crate::sla_bench::insert_in_batches(&db, a.users, |from, to| {
        let mut sql = Sql::new("INSERT INTO app_user (id, email, name, role, created_at, updated_at) VALUES ");
        for i in from..to {
            sql.push(if i == from { "(" } else { ", (" });
            sql.bind_i64(i).push(", ").bind_text(format!("user{i}@example.com")).push(", ");
            sql.bind_text(format!("User {i}")).push(", 'requester', ").bind_i64(now).push(", ").bind_i64(now).push(")");
        }
        vec![sql]
    })
    .await?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let users = a.users;
    crate::sla_bench::insert_in_batches(&db, a.assets, |from, to| {
        let mut sql = Sql::new(
            "INSERT INTO ci (id, ci_type, name, name_key, asset_tag, serial, model, manufacturer, location, state,
                 owner_id, cost_cents, purchase_date, created_at, updated_at) VALUES ",
        );
        for i in from..to {
            let t = pick(&mut rng, TYPES);
            let st = pick(&mut rng, STATES);
            let name = format!("{}-{i:07}", prefix(t));
            let owner =
                (st == "deployed" && matches!(t, "desktop" | "laptop" | "phone")).then(|| rng.random_range(1..=users));
            sql.push(if i == from { "(" } else { ", (" });
            sql.bind_i64(i).push(", ").bind_text(t).push(", ").bind_text(name.clone()).push(", ");
            sql.bind_text(name.to_lowercase()).push(", ").bind_text(format!("TAG{i:08}")).push(", ");
            sql.bind_text(format!("SN{:010X}", i * 7919)).push(", 'EliteBook 840', 'HP', ");
            sql.bind_text(format!("Site {:02}", rng.random_range(0..50))).push(", ").bind_text(st).push(", ");
            match owner {
                Some(o) => sql.bind_i64(o),
                None => sql.push("NULL"),
            };
            sql.push(", 129900, '2025-03-01', ").bind_i64(now).push(", ").bind_i64(now).push(")");
        }
        vec![sql]
    })
    .await?;
    if engine == "postgres" {
        // The seed wrote its own ids: move the identity sequences past them.
        let mut tx = db.begin().await?;
        for table in ["app_user", "ci"] {
            let sql = Sql::new(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            ));
            orion_store::execute_sql!(&mut tx.conn(), &sql)?;
        }
        orion_store::execute_sql!(&mut tx.conn(), &Sql::new("ANALYZE"))?;
        tx.commit().await?;
    }
    eprintln!("seeded {} assets and {} users in {:.1} s", a.assets, a.users, t0.elapsed().as_secs_f64());
    if a.seed_only {
        return Ok(());
    }

    fn agent() -> Actor {
        Actor { id: UserId(0), role: Role::Agent }
    }
    let n = a.assets;
    type Make = Box<dyn Fn(&mut rand::rngs::StdRng) -> (Actor, AssetQuery)>;
    let q = AssetQuery::default;
    let cases: Vec<(&str, Make)> = vec![
        ("first page, no filter", Box::new(move |_| (agent(), q()))),
        (
            "deep page (keyset cursor)",
            Box::new(move |r| (agent(), AssetQuery { cursor: Some(r.random_range(1000..n).to_string()), ..q() })),
        ),
        ("type=laptop", Box::new(move |_| (agent(), AssetQuery { ci_type: Some("laptop".into()), ..q() }))),
        (
            "type=laptop, deep page",
            Box::new(move |r| {
                (
                    agent(),
                    AssetQuery {
                        ci_type: Some("laptop".into()),
                        cursor: Some(r.random_range(1000..n).to_string()),
                        ..q()
                    },
                )
            }),
        ),
        (
            "type=server&state=in_repair",
            Box::new(move |_| {
                (agent(), AssetQuery { ci_type: Some("server".into()), state: Some("in_repair".into()), ..q() })
            }),
        ),
        ("state=in_repair", Box::new(move |_| (agent(), AssetQuery { state: Some("in_repair".into()), ..q() }))),
        (
            "holder=<email>",
            Box::new(move |r| {
                (agent(), AssetQuery { holder: Some(format!("user{}@example.com", r.random_range(1..=users))), ..q() })
            }),
        ),
        (
            "location=<site>",
            Box::new(move |r| {
                (agent(), AssetQuery { location: Some(format!("Site {:02}", r.random_range(0..50))), ..q() })
            }),
        ),
        (
            "q=<asset tag>",
            Box::new(move |r| (agent(), AssetQuery { q: Some(format!("TAG{:08}", r.random_range(1..=n))), ..q() })),
        ),
        ("q=<name prefix> (\"lt-000\")", Box::new(move |_| (agent(), AssetQuery { q: Some("lt-000".into()), ..q() }))),
        (
            "requester: my devices",
            Box::new(move |r| (Actor { id: UserId(r.random_range(1..=users)), role: Role::Requester }, q())),
        ),
    ];
    println!("| engine | list | rows | p50 ms | p95 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    for (name, make) in &cases {
        let (actor, query) = make(&mut rng);
        let rows = app.list_assets(&actor, query).await?.items.len();
        let mut times = Vec::with_capacity(a.reps);
        for _ in 0..a.reps {
            let (actor, query) = make(&mut rng);
            let t = Instant::now();
            app.list_assets(&actor, query).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let times = crate::Samples::new(times);
        let p = |q: f64| times.p(q);
        println!("| {engine} | {name} | {rows} | {:.2} | {:.2} | {:.2} |", p(0.5), p(0.95), times.max());
    }

    // Inventories.
    let xml = std::fs::read_to_string(&a.inventory_xml)?;
    let packages = xml.matches("<SOFTWARES>").count();
    let token = app.create_inventory_token(&crate::bench_admin(), "bench").await?.token;
    let none = |_: &str| None;
    let machine = |i: usize, changed: bool| {
        let mut x = xml
            .replacen("<NAME>vm</NAME>", &format!("<NAME>bench-{i:05}</NAME>"), 1)
            .replace("<DEVICEID>", &format!("<DEVICEID>bench-{i}-"));
        x = unique_macs(&x, i);
        if changed {
            x = x.replace("<VERSION>1.", "<VERSION>2.");
        }
        zlib(&x)
    };
    println!();
    println!(
        "| engine | inventories ({} KB XML, {packages} packages) | count | per second | p50 ms | p95 ms |",
        xml.len() / 1024
    );
    println!("|---|---|---|---|---|---|");
    for (label, changed) in
        [("new machines", false), ("unchanged re-inventory", false), ("re-inventory, packages upgraded", true)]
    {
        let bodies: Vec<Vec<u8>> = (0..a.inventories).map(|i| machine(i, changed)).collect();
        let mut times = Vec::with_capacity(bodies.len());
        let t0 = Instant::now();
        for b in &bodies {
            let t = Instant::now();
            let presented = Presented { bearer: Some(&token), header: &none, url: None };
            app.receive_inventory(presented, b).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let secs = t0.elapsed().as_secs_f64();
        let times = crate::Samples::new(times);
        let p = |q: f64| times.p(q);
        println!(
            "| {engine} | {label} | {} | {:.1} | {:.1} | {:.1} |",
            bodies.len(),
            bodies.len() as f64 / secs,
            p(0.5),
            p(0.95)
        );
    }
    db.close().await;
    Ok(())
}
