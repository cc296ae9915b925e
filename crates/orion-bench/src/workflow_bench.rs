//! Joiners and leavers under load (`scripts/bench-workflows`), over HTTP against a running server:
//! starts N joiner workflows (each plans seven tasks in working days and opens the three that wait
//! for nothing as task tickets, and makes the joiner's account), then moves every one's start day a
//! week later (each re-dates its tasks and notes the move on the open task tickets), and lists the
//! dashboard page by page. Times each step per workflow and the whole run.

use super::{Conn, Phase};
use anyhow::{Result, bail};
use serde_json::{Value, json};
use std::time::Instant;

#[derive(clap::Args)]
pub struct WorkflowArgs {
    /// Base URL of the server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    /// API token of an agent of the group the tasks go to
    #[arg(long)]
    token: String,
    /// The group the tasks go to
    #[arg(long, default_value = "Service Desk")]
    group: String,
    /// Workflows to start and move
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// How the joiners' addresses start (`PREFIX0@bench.example`, …): one per run
    #[arg(long, default_value = "joiner")]
    prefix: String,
    /// Concurrent clients
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// The start day they are planned from (`YYYY-MM-DD`)
    #[arg(long)]
    start: String,
    /// The start day they are moved to (`YYYY-MM-DD`)
    #[arg(long)]
    later: String,
    /// Label for the engine column
    #[arg(long, default_value = "sqlite")]
    engine: String,
}

/// Runs `count` calls from `conc` connections; `call(i)` is the i-th request's (method, path, body)
/// and the status it must answer.
async fn phase(
    a: &WorkflowArgs,
    conc: usize,
    call: impl Fn(usize) -> (&'static str, String, Option<Value>, u16) + Send + Sync + Clone + 'static,
) -> Result<Phase> {
    let start = Instant::now();
    let mut workers = Vec::new();
    for w in 0..conc {
        let mut conn = Conn::open(&a.url, &format!("Bearer {}", a.token)).await?;
        let call = call.clone();
        let (count, conc) = (a.count, conc);
        workers.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0usize);
            let mut i = w;
            while i < count {
                let (method, path, body, want) = call(i);
                let t = Instant::now();
                let (status, b) = conn.call(method, &path, body.map(|b| b.to_string().into_bytes())).await;
                lat.push(t.elapsed().as_micros() as u64);
                if status != want {
                    if errors == 0 {
                        eprintln!("{method} {path}: HTTP {status}: {}", String::from_utf8_lossy(&b));
                    }
                    errors += 1;
                }
                i += conc;
            }
            (lat, errors)
        }));
    }
    Phase::gather(workers, start).await
}

pub async fn run(a: WorkflowArgs) -> Result<()> {
    let mut conn = Conn::open(&a.url, &format!("Bearer {}", a.token)).await?;
    let (status, _) = conn.call("GET", "/api/v1/me", None).await;
    if status != 200 {
        bail!("the token is not accepted (HTTP {status})");
    }
    let total = Instant::now();
    let (group, prefix) = (a.group.clone(), a.prefix.clone());
    let (day, late) = (a.start.clone(), a.later.clone());
    let started = phase(&a, a.concurrency, move |i| {
        let body = json!({"kind": "joiner", "person": format!("{prefix}{i}@bench.example"), "name": format!("Joiner {i}"),
                          "department": "Sales", "date": day, "group": group});
        ("POST", "/api/v1/workflows".to_string(), Some(body), 201)
    })
    .await?;
    // The ids of this run: the open workflows by day (an earlier run's were moved a week later).
    let mut ids = Vec::new();
    let mut cursor = String::new();
    let list = Instant::now();
    let mut pages = 0;
    loop {
        let path = format!("/api/v1/workflows?limit=200{cursor}");
        let (status, b) = conn.call("GET", &path, None).await;
        if status != 200 {
            bail!("GET {path}: HTTP {status}");
        }
        pages += 1;
        let v: Value = serde_json::from_slice(&b)?;
        ids.extend(v["items"].as_array().into_iter().flatten().filter_map(|w| w["id"].as_i64()));
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let listed = list.elapsed();
    if ids.len() < a.count {
        bail!("{} workflows listed of {}", ids.len(), a.count);
    }
    let ids = std::sync::Arc::new(ids);
    let moved = phase(&a, a.concurrency, move |i| {
        // Each was read at row version 1 and moves once.
        let body = json!({"date": late, "row_version": 1});
        ("POST", format!("/api/v1/workflows/{}/date", ids[i]), Some(body), 200)
    })
    .await?;
    let engine = &a.engine;
    let c = a.concurrency;
    println!("{}", started.row(engine, "start a joiner (plan 7 tasks, open 3 task tickets)", c));
    println!("{}", moved.row(engine, "move a joiner's start day (re-date 7 tasks, note 3 tickets)", c));
    println!(
        "<!-- {engine}: {} workflows started, listed ({pages} pages of 200) in {:.2} s, moved; whole run {:.1} s -->",
        a.count,
        listed.as_secs_f64(),
        total.elapsed().as_secs_f64()
    );
    Ok(())
}
