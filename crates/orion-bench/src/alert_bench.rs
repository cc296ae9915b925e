//! Alert ingestion: Alertmanager payloads through `App::ingest_alerts`, the path the
//! `/api/v1/integrations/*` endpoints end in, in phases that matter to an operator — new outages
//! (one alert, one incident), their repeats (Alertmanager re-sends every group interval: pure
//! deduplication), storms (1,000 alerts of one group: one incident), the storms repeated, and the
//! storms resolved.

use anyhow::{Result, bail};
use orion_app::monitoring::{IntegrationInput, payload::Format};
use orion_app::{App, SystemClock};
use orion_store::{Db, DbOptions};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

#[derive(clap::Args)]
pub struct AlertArgs {
    /// A fresh, empty database: sqlite://PATH or postgres://…
    #[arg(long)]
    database_url: String,
    /// Separate outages, one alert each
    #[arg(long, default_value_t = 2_000)]
    outages: usize,
    /// Storms of `storm_size` alerts of one Alertmanager group each
    #[arg(long, default_value_t = 10)]
    storms: usize,
    #[arg(long, default_value_t = 1_000)]
    storm_size: usize,
    /// Payloads posted at once (several Alertmanagers or HTTP connections)
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Label for the engine column
    #[arg(long, default_value = "sqlite")]
    engine: String,
}

fn alert(name: &str, host: &str, status: &str) -> Value {
    json!({
        "status": status,
        "labels": {"alertname": name, "instance": host, "job": "node", "severity": "critical"},
        "annotations": {"summary": format!("{name} on {host}"), "description": "Filesystem / is 97% full"},
        "startsAt": "2026-11-22T13:09:53Z",
        "endsAt": if status == "resolved" { "2026-11-22T14:09:53Z" } else { "0001-01-01T00:00:00Z" },
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": format!("{name}-{host}"),
    })
}

fn payload(group: &str, status: &str, alerts: Vec<Value>) -> Vec<u8> {
    json!({
        "receiver": "orion", "status": status, "alerts": alerts,
        "groupLabels": {"alertname": group}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"{group}\"}}"), "truncatedAlerts": 0,
    })
    .to_string()
    .into_bytes()
}

struct Phase {
    alerts: usize,
    secs: f64,
    latencies_ms: Vec<f64>,
    incidents: BTreeSet<String>,
    actions: std::collections::BTreeMap<String, usize>,
}

async fn phase(app: &App, token: &str, payloads: Vec<Vec<u8>>, concurrency: usize) -> Result<Phase> {
    let payloads = Arc::new(payloads);
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (app, payloads, next, token) = (app.clone(), payloads.clone(), next.clone(), token.to_string());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = payloads.get(i) else { break };
                let start = Instant::now();
                let report = app.ingest_alerts(Format::Alertmanager, &token, p).await;
                out.push((start.elapsed().as_secs_f64() * 1000.0, report));
            }
            out
        }));
    }
    let mut p = Phase {
        alerts: 0,
        secs: 0.0,
        latencies_ms: Vec::new(),
        incidents: BTreeSet::new(),
        actions: Default::default(),
    };
    for t in tasks {
        for (ms, report) in t.await? {
            let report = report.map_err(|e| anyhow::anyhow!("ingestion failed: {e}"))?;
            p.latencies_ms.push(ms);
            for a in report.alerts {
                p.alerts += 1;
                *p.actions.entry(a.action).or_default() += 1;
                p.incidents.extend(a.incident);
            }
        }
    }
    p.secs = t0.elapsed().as_secs_f64();
    Ok(p)
}

fn row(engine: &str, what: &str, concurrency: usize, p: &mut Phase) -> String {
    p.latencies_ms.sort_by(f64::total_cmp);
    let pct = |q: f64| p.latencies_ms[((p.latencies_ms.len() - 1) as f64 * q).round() as usize];
    let actions: Vec<String> = p.actions.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!(
        "| {engine} | {what} | {} | {} | {concurrency} | {:.0} | {:.1} | {:.1} | {} | {} |",
        p.latencies_ms.len(),
        p.alerts,
        p.alerts as f64 / p.secs,
        pct(0.5),
        pct(0.99),
        p.incidents.len(),
        actions.join(", ")
    )
}

pub async fn run(a: AlertArgs) -> Result<()> {
    let db = Db::connect(&a.database_url, &DbOptions::default()).await?;
    db.migrate().await?;
    let app = App::new(db, Arc::new(SystemClock));
    crate::add_group(&app, "Infrastructure", 2).await?;
    let input = IntegrationInput {
        name: Some("prometheus".into()),
        kind: Some("alertmanager".into()),
        assignment_group: Some("Infrastructure".into()),
        ..Default::default()
    };
    let token = app.create_integration(&crate::bench_admin(), input).await?.token;

    let outages = |status: &str| -> Vec<Vec<u8>> {
        (0..a.outages)
            .map(|i| {
                payload(&format!("DiskFull{i}"), status, vec![alert("DiskFull", &format!("srv{i:05}:9100"), status)])
            })
            .collect()
    };
    let storms = |status: &str| -> Vec<Vec<u8>> {
        (0..a.storms)
            .map(|s| {
                let alerts =
                    (0..a.storm_size).map(|i| alert(&format!("Down{s}"), &format!("pod{s}-{i:05}"), status)).collect();
                payload(&format!("Down{s}"), status, alerts)
            })
            .collect()
    };
    let c = a.concurrency;
    let mut first = phase(&app, &token, outages("firing"), c).await?;
    if first.incidents.len() != a.outages {
        bail!("{} outages opened {} incidents", a.outages, first.incidents.len());
    }
    println!("{}", row(&a.engine, "new outages (1 alert → 1 incident)", c, &mut first));
    let mut again = phase(&app, &token, outages("firing"), c).await?;
    if again.actions.get("deduplicated") != Some(&a.outages) {
        bail!("repeats were not all deduplicated: {:?}", again.actions);
    }
    println!("{}", row(&a.engine, "the same alerts repeated", c, &mut again));
    let mut storm = phase(&app, &token, storms("firing"), c).await?;
    if storm.incidents.len() != a.storms {
        bail!("{} storms opened {} incidents", a.storms, storm.incidents.len());
    }
    println!("{}", row(&a.engine, &format!("storms of {} alerts", a.storm_size), c, &mut storm));
    let mut storm_again = phase(&app, &token, storms("firing"), c).await?;
    println!("{}", row(&a.engine, "the storms repeated", c, &mut storm_again));
    let mut resolved = phase(&app, &token, storms("resolved"), c).await?;
    println!("{}", row(&a.engine, "the storms resolved", c, &mut resolved));
    app.db.close().await;
    Ok(())
}
