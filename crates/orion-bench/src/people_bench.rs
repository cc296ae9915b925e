//! Caller lookup at scale (`scripts/bench-people`): seeds N people with generated names (some
//! with accents), e-mail addresses, phone numbers and departments, builds their lookup index as
//! the first start after the upgrade does (timed), then times the caller type-ahead
//! (`App::list_users` with `q`, ten results, as an agent) for the kinds of query the desk types.

use anyhow::Result;
use orion_domain::{Actor, Role, UserId};
use orion_store::Db;
use orion_store::sql::Sql;
use std::time::Instant;

#[derive(clap::Args)]
pub struct PeopleArgs {
    /// A fresh, empty database: sqlite://PATH or postgres://…
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 100_000)]
    people: i64,
    /// Timed runs of each query
    #[arg(long, default_value_t = 200)]
    reps: usize,
}

const FIRST: &[&str] = &[
    "Anna", "Ben", "Clara", "David", "Elif", "Finn", "Greta", "Hannes", "Ines", "Jonas", "Katrin", "Lukas", "Maria",
    "Noah", "Olga", "Paul", "Rosa", "Stefan", "Tomás", "Ute", "Viktor", "Wiebke", "Yusuf", "Zoë", "Łukasz", "Chloé",
    "Søren", "Renée", "José", "Mehmet",
];
const LAST: &[&str] = &[
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Krause",
    "Meier",
    "Lehmann",
    "Schmid",
    "Schulze",
    "Maier",
    "Köhler",
    "Herrmann",
    "König",
    "Walter",
    "Mayer",
    "Huber",
    "Kaiser",
    "Fuchs",
    "Peters",
    "Lang",
    "Scholz",
    "Möller",
    "Weiß",
    "Jung",
    "Hahn",
    "Schubert",
    "Vogel",
    "Friedrich",
    "Keller",
    "Günther",
    "Frank",
    "Berger",
    "Winkler",
    "Roth",
    "Beck",
    "Lorenz",
    "Baumann",
    "Franke",
    "Albrecht",
    "O'Brien",
    "García",
    "Nowak",
    "Dubois",
    "Rossi",
    "Jensen",
    "Kowalski",
    "Yılmaz",
    "Novák",
    "Papadopoulos",
];
const DEPARTMENTS: &[&str] = &[
    "Finance",
    "Human Resources",
    "Sales",
    "Marketing",
    "Logistics",
    "Production",
    "Research & Development",
    "Legal",
    "Customer Service",
    "Procurement",
    "IT Operations",
    "Facilities",
];

/// The kind of query, the query.
const QUERIES: &[(&str, &str)] = &[
    ("2 letters of a surname", "mü"),
    ("3 letters of a surname", "sch"),
    ("a surname, without its accent", "muller"),
    ("a rare surname", "papadopoulos"),
    ("first name and surname", "anna mül"),
    ("a whole e-mail address", "person12345@example.com"),
    ("the start of an address", "person1234"),
    ("the last 4 digits of a phone number", "4321"),
    ("a phone number as read out", "+49 30 555 12345"),
    ("a department word and a name", "finance kr"),
    ("nobody", "xylophone"),
];

pub async fn run(a: PeopleArgs) -> Result<()> {
    let (db, app, engine) = crate::open_app(&a.database_url).await?;
    let t0 = Instant::now();
    seed(&db, a.people).await?;
    let seeded = t0.elapsed();
    let t1 = Instant::now();
    let indexed = app.index_people_if_needed().await?;
    let built = t1.elapsed();
    eprintln!(
        "{engine}: {} people seeded in {:.1} s; lookup index of {indexed} built in {:.1} s",
        a.people,
        seeded.as_secs_f64(),
        built.as_secs_f64()
    );
    println!("<!-- {engine}: lookup index of {indexed} people built in {:.1} s -->", built.as_secs_f64());
    let agent = Actor { id: UserId(1), role: Role::Agent };
    for (what, q) in QUERIES {
        let found = app.list_users(&agent, None, Some(q), None, Some(10)).await?.items.len();
        let mut times = Vec::with_capacity(a.reps);
        for _ in 0..a.reps {
            let t = Instant::now();
            app.list_users(&agent, None, Some(q), None, Some(10)).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let times = crate::Samples::new(times);
        let p = |q: f64| times.p(q);
        println!("| {engine} | {what}: `{q}` | {found} | {:.2} | {:.2} | {:.2} |", p(0.5), p(0.95), times.max());
    }
    db.close().await;
    Ok(())
}

/// People 1..=n, written straight to the table (as an upgrade finds them), then marked for the
/// lookup index the way the migration marks a database that has people.
async fn seed(db: &Db, n: i64) -> Result<()> {
    crate::sla_bench::insert_in_batches(db, n, |from, to| {
        let mut sql =
            Sql::new("INSERT INTO app_user (id, email, name, role, phone, department, created_at, updated_at) VALUES ");
        for i in from..to {
            let first = FIRST[(i as usize * 7) % FIRST.len()];
            let last = LAST[(i as usize * 13 + i as usize / 97) % LAST.len()];
            let dept = DEPARTMENTS[(i as usize / 3) % DEPARTMENTS.len()];
            let phone = format!("+49 30 555 {:05}", i % 100_000);
            sql.push(if i == from { "(" } else { ", (" });
            sql.bind_i64(i).push(", ").bind_text(format!("person{i}@example.com")).push(", ");
            sql.bind_text(format!("{first} {last}")).push(", ").bind_text(if i == 1 { "agent" } else { "requester" });
            sql.push(", ").bind_text(phone).push(", ").bind_text(dept).push(", 0, 0)");
        }
        vec![sql]
    })
    .await?;
    let mut tx = db.begin().await?;
    orion_store::settings::put(&mut tx.conn(), "people.lookup_index_needed", "true", 0).await?;
    tx.commit().await?;
    Ok(())
}
