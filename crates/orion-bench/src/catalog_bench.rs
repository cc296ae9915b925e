//! The service catalog under load (`scripts/bench-catalog`), over HTTP against a running server:
//! seeds N published items across twelve categories (one of them a 40-question form with
//! conditional sections), then times the portal's catalog page (every tile, a search, a category)
//! and the big form's page as the requester's browser asks for them, and submits requests with
//! all 40 answers through the API at concurrency 1 and 8.

use super::{Conn, Phase};
use anyhow::{Result, bail};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct CatalogArgs {
    /// Base URL of the server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    /// API token of an administrator (builds the items)
    #[arg(long)]
    admin_token: String,
    /// API token of the requester who submits
    #[arg(long)]
    requester_token: String,
    /// The requester's portal session cookie (`name=value`)
    #[arg(long)]
    cookie: String,
    /// Catalog items to seed
    #[arg(long, default_value_t = 500)]
    items: usize,
    /// Timed requests of each page
    #[arg(long, default_value_t = 200)]
    reps: usize,
    /// Seconds per submission phase
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Label for the engine column
    #[arg(long, default_value = "sqlite")]
    engine: String,
    /// Where to append the submission rows (their table has other columns)
    #[arg(long)]
    submit_out: std::path::PathBuf,
}

const CATEGORIES: &[&str] = &[
    "Hardware",
    "Software",
    "Access",
    "Accounts",
    "Mail",
    "Phones",
    "Printing",
    "Network",
    "Meeting rooms",
    "Facilities",
    "Security",
    "Training",
];

/// A small item's package: three questions, one shown only for one answer.
fn small_package(i: usize) -> Value {
    json!({
        "title": format!("Item {i}: {{{{what}}}}"),
        "form": {"sections": [{"title": "Request", "questions": [
            {"key": "what", "label": "What do you need", "kind": "short_text", "required": true, "max_length": 200},
            {"key": "urgent", "label": "Is it urgent", "kind": "yes_no"},
            {"key": "why", "label": "Why is it urgent", "kind": "long_text",
             "show_when": {"conditions": [{"question": "urgent", "op": "equals", "value": "yes"}]}}
        ]}]}
    })
}

/// The 40-question form: four sections of ten questions of every answerable kind, the last two
/// sections shown only for some answers (shown by the defaults, so the page has all 40), and
/// answers that satisfy every rule.
fn big_package() -> (Value, Value) {
    let mut sections = Vec::new();
    let mut answers = serde_json::Map::new();
    for s in 0..4 {
        let mut questions = Vec::new();
        for q in 0..10 {
            let key = format!("s{s}q{q}");
            let (question, answer) = match q % 8 {
                0 => (
                    json!({"kind": "short_text", "required": true, "max_length": 120}),
                    json!(format!("Answer {s}.{q} for the laptop")),
                ),
                1 => (json!({"kind": "long_text", "max_length": 2000}), json!("A longer text that explains the need.")),
                2 => (json!({"kind": "number", "required": true, "min": 1, "max": 64}), json!(16)),
                3 => (json!({"kind": "email"}), json!("someone@example.com")),
                4 => (json!({"kind": "date"}), json!("2027-01-15")),
                5 => (
                    json!({"kind": "choice", "required": true, "default": "b",
                           "choices": [{"value": "a", "label": "First"}, {"value": "b", "label": "Second"}, {"value": "c", "label": "Third"}]}),
                    json!("b"),
                ),
                6 => (
                    json!({"kind": "multi_choice",
                           "choices": [{"value": "dock", "label": "Dock"}, {"value": "mouse", "label": "Mouse"}, {"value": "bag", "label": "Bag"}]}),
                    json!(["dock", "bag"]),
                ),
                _ => (json!({"kind": "yes_no"}), json!("yes")),
            };
            let mut question = question;
            question["key"] = json!(key);
            question["label"] = json!(format!("Question {} of section {}", q + 1, s + 1));
            questions.push(question);
            answers.insert(key, answer);
        }
        let mut section = json!({"title": format!("Section {}", s + 1), "questions": questions});
        if s >= 2 {
            section["show_when"] = json!({"conditions": [{"question": "s0q5", "op": "equals", "value": "b"}]});
        }
        sections.push(section);
    }
    let package = json!({"title": "Workstation for {{s0q0}}", "form": {"sections": sections}});
    (package, Value::Object(answers))
}

async fn create_item(c: &mut Conn, body: Value) -> Result<i64> {
    let (status, b) = c.call("POST", "/api/v1/catalog/items", Some(body.to_string().into_bytes())).await;
    if status != 201 {
        bail!("creating a catalog item: HTTP {status}: {}", String::from_utf8_lossy(&b));
    }
    let v: Value = serde_json::from_slice(&b)?;
    v["id"].as_i64().ok_or_else(|| anyhow::anyhow!("no id in {v}"))
}

/// Times `reps` GETs of `path` after two warm-up requests: (p50, p95, max) in ms.
async fn time_page(c: &mut Conn, path: &str, reps: usize, must_contain: &str) -> Result<(f64, f64, f64, usize)> {
    for _ in 0..2 {
        let (status, body) = c.call("GET", path, None).await;
        if status != 200 {
            bail!("GET {path}: HTTP {status}");
        }
        if !String::from_utf8_lossy(&body).contains(must_contain) {
            bail!("GET {path} does not show {must_contain:?}");
        }
    }
    let mut lat = Vec::with_capacity(reps);
    let mut bytes = 0;
    for _ in 0..reps {
        let t = Instant::now();
        let (status, body) = c.call("GET", path, None).await;
        lat.push(t.elapsed().as_micros() as u64);
        if status != 200 {
            bail!("GET {path}: HTTP {status}");
        }
        bytes = body.len();
    }
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0;
    Ok((pct(0.5), pct(0.95), pct(1.0), bytes))
}

/// Submits the big form's request with every answer from `conc` connections for `secs` seconds.
async fn submit_phase(a: &CatalogArgs, item: i64, answers: &Value, conc: usize) -> Result<Phase> {
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let path = format!("/api/v1/catalog/items/{item}/requests");
    let body = json!({"answers": answers}).to_string().into_bytes();
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..conc {
        let mut conn = Conn::open(&a.url, &format!("Bearer {}", a.requester_token)).await?;
        let (path, body) = (path.clone(), body.clone());
        workers.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0usize);
            while Instant::now() < deadline {
                let t = Instant::now();
                let (status, _) = conn.call("POST", &path, Some(body.clone())).await;
                lat.push(t.elapsed().as_micros() as u64);
                if status != 201 {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    Phase::gather(workers, start).await
}

pub async fn run(a: CatalogArgs) -> Result<()> {
    let mut admin = Conn::open(&a.url, &format!("Bearer {}", a.admin_token)).await?;
    let seeded = Instant::now();
    let (package, answers) = big_package();
    let big = create_item(
        &mut admin,
        json!({"name": "Developer workstation", "description": "A workstation with forty questions.",
               "category": "Hardware", "icon": "laptop", "package": package, "publish": true}),
    )
    .await?;
    for i in 1..a.items {
        let category = CATEGORIES[i % CATEGORIES.len()];
        create_item(
            &mut admin,
            json!({"name": format!("{category} item {i}"), "description": format!("Generated item {i} for the benchmark."),
                   "category": category, "icon": "box", "package": small_package(i), "publish": true}),
        )
        .await?;
    }
    eprintln!("seeded {} items in {:.1} s", a.items, seeded.elapsed().as_secs_f64());

    // A request before timing: the big form's answers must pass every rule.
    let mut requester = Conn::open(&a.url, &format!("Bearer {}", a.requester_token)).await?;
    let (status, b) = requester
        .call(
            "POST",
            &format!("/api/v1/catalog/items/{big}/requests"),
            Some(json!({"answers": answers}).to_string().into_bytes()),
        )
        .await;
    if status != 201 {
        bail!("the 40-question request was refused: HTTP {status}: {}", String::from_utf8_lossy(&b));
    }

    let mut portal = Conn::open_with(&a.url, "cookie", &a.cookie).await?;
    let engine = &a.engine;
    let pages = [
        ("the catalog page, every tile", "/portal/catalog".to_string(), "Developer workstation"),
        ("the catalog page, a search", "/portal/catalog?q=item+42".to_string(), "item 42"),
        ("the catalog page, one category", "/portal/catalog?category=Printing".to_string(), "Printing item"),
        ("the 40-question form", format!("/portal/catalog/{big}"), "Question 10 of section 4"),
    ];
    for (what, path, shows) in pages {
        let (p50, p95, max, bytes) = time_page(&mut portal, &path, a.reps, shows).await?;
        println!("| {engine} | {what} | {} | {p50:.2} | {p95:.2} | {max:.2} | {} KiB |", a.items, bytes / 1024);
    }
    let mut rows = String::new();
    for conc in [1, 8] {
        let phase = submit_phase(&a, big, &answers, conc).await?;
        rows.push_str(&phase.row(engine, "submit a 40-question request", conc));
        rows.push('\n');
    }
    use std::io::Write;
    std::fs::OpenOptions::new().create(true).append(true).open(&a.submit_out)?.write_all(rows.as_bytes())?;
    Ok(())
}
