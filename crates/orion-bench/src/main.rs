//! `orion-bench`: a load generator for a running Orion. It logs tickets, then
//! reads them back, at each concurrency level, and prints throughput and
//! latency percentiles as a Markdown table row per phase.
//!
//! Each worker holds one keep-alive HTTP/1.1 connection (hyper's low-level
//! client, no pool, no per-request URL parsing) so that the client takes as
//! little as possible of the CPU it shares with the server on a small machine.

use anyhow::{Context, Result, bail};
use clap::Parser;
use rand::Rng;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    about = "Orion benchmarks: HTTP load (http), the SLA scheduler at scale (sla), email intake (mail), console queues (queues), full-text search (search), alert ingestion (alerts)"
)]
enum Cli {
    /// Ticket create/read load against a running server
    Http(Args),
    /// Seed open tickets with running SLA clocks, then time the scheduler on the due ones
    Sla(sla_bench::SlaArgs),
    /// Email intake throughput through the ingest pipeline
    Mail(mail_bench::MailArgs),
    /// Seed N tickets for timing the agent console's queues (scripts/bench-ui)
    Queues(ui_bench::UiArgs),
    /// Seed tickets and articles of IT support text, time the reindex and searches (scripts/bench-search)
    Search(search_bench::SearchArgs),
    /// Alertmanager payloads through alert ingestion: new outages, repeats, storms (scripts/bench-alerts)
    Alerts(alert_bench::AlertArgs),
    /// Seed N assets, time the asset list views and inventory processing (scripts/bench-assets)
    Assets(asset_bench::AssetArgs),
    /// Every list endpoint and console queue with every filter against a running server, first
    /// request and warm (scripts/bench-lists)
    Lists(lists_bench::ListArgs),
    /// Precision and recall of the recurring-incident detector on generated months (scripts/bench-recurrence)
    Recurrence(recurrence_bench::RecurrenceArgs),
    /// Seed N people, time building their lookup index and the caller type-ahead (scripts/bench-people)
    People(people_bench::PeopleArgs),
    /// Seed N catalog items, time the portal's catalog pages and 40-question submissions (scripts/bench-catalog)
    Catalog(catalog_bench::CatalogArgs),
    /// Start N joiners, list them, move their start day (scripts/bench-workflows)
    Workflows(workflow_bench::WorkflowArgs),
    /// A webhook receiver and mail relay that count what they get (for `http --admin-token`)
    Sink(sink::SinkArgs),
}

#[derive(clap::Args)]
struct Args {
    /// Base URL of the server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    /// API token of an agent
    #[arg(long, env = "ORION_BENCH_TOKEN")]
    token: String,
    /// Seconds per phase
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrency levels, comma-separated
    #[arg(long, default_value = "1,8", value_delimiter = ',')]
    concurrency: Vec<usize>,
    /// Label for the engine column
    #[arg(long, default_value = "sqlite")]
    engine: String,
    /// API token of an admin: with it, the run first turns on what a working desk has on besides
    /// SLA clocks and search — a mail to the requester for every logged ticket (the server needs
    /// `--smtp-relay`) and a webhook subscription to every event, sent to --webhook-url
    #[arg(long, requires = "webhook_url")]
    admin_token: Option<String>,
    /// The webhook receiver (e.g. `orion-bench sink`), with --admin-token
    #[arg(long, requires = "admin_token")]
    webhook_url: Option<String>,
    /// What --admin-token turns on, comma-separated: `mail`, `webhook`, `rules` (200 routing
    /// rules, the last matching every ticket), or `none` (to measure one
    /// subscriber's cost at a time)
    #[arg(long, value_delimiter = ',', default_value = "mail,webhook")]
    features: Vec<String>,
}

struct Phase {
    ops: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Phase {
    /// Waits for the workers (each returning its latencies and error count) and adds them up.
    async fn gather(workers: Vec<tokio::task::JoinHandle<(Vec<u64>, usize)>>, start: Instant) -> Result<Phase> {
        let mut phase = Phase { ops: 0, errors: 0, elapsed: Duration::ZERO, latencies_us: Vec::new() };
        for w in workers {
            let (lat, errors) = w.await?;
            phase.ops += lat.len();
            phase.errors += errors;
            phase.latencies_us.extend(lat);
        }
        phase.elapsed = start.elapsed();
        Ok(phase)
    }

    fn row(&self, engine: &str, op: &str, conc: usize) -> String {
        let mut l = self.latencies_us.clone();
        l.sort_unstable();
        let pct = |p: f64| -> f64 {
            if l.is_empty() {
                return 0.0;
            }
            let i = ((l.len() as f64 - 1.0) * p).round() as usize;
            l[i] as f64 / 1000.0
        };
        format!(
            "| {engine} | {op} | {conc} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            self.ops as f64 / self.elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.99),
            pct(1.0),
            self.errors
        )
    }
}

/// One keep-alive connection to the server.
struct Conn {
    send: hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
    host: String,
    auth_header: &'static str,
    auth: String,
}

impl Conn {
    async fn open(url: &str, auth: &str) -> Result<Conn> {
        Self::open_with(url, "authorization", auth).await
    }

    /// A connection that sends `value` in the header `header` (e.g. a console session cookie).
    async fn open_with(url: &str, header: &'static str, value: &str) -> Result<Conn> {
        let host = url.trim_start_matches("http://").trim_end_matches('/').to_string();
        let stream = tokio::net::TcpStream::connect(&host).await.context("connecting")?;
        stream.set_nodelay(true)?;
        let (send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Conn { send, host, auth_header: header, auth: value.to_string() })
    }

    /// Sends one request and returns its status (0 on a transport error).
    async fn call(&mut self, method: &str, path: &str, body: Option<Vec<u8>>) -> (u16, bytes::Bytes) {
        use http_body_util::BodyExt;
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
            .header(self.auth_header, &self.auth);
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let Ok(req) = req.body(http_body_util::Full::new(bytes::Bytes::from(body.unwrap_or_default()))) else {
            return (0, bytes::Bytes::new());
        };
        if self.send.ready().await.is_err() {
            return (0, bytes::Bytes::new());
        }
        match self.send.send_request(req).await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                (status, body)
            }
            Err(_) => (0, bytes::Bytes::new()),
        }
    }
}

#[derive(Clone, Copy)]
enum Op {
    Create,
    Read { existing: usize },
}

fn create_body(i: usize) -> Vec<u8> {
    serde_json::json!({
        "title": format!("Bench ticket {i}: VPN drops after sleep"),
        "description": "Generated by orion-bench. The client loses the tunnel after resume from standby.",
        "impact": (i % 3 + 1) as i64, "urgency": ((i / 3) % 3 + 1) as i64,
        "requester": format!("bench{}@example.com", i % 500),
        "channel": "phone",
    })
    .to_string()
    .into_bytes()
}

async fn run_phase(url: &str, auth: &str, conc: usize, secs: u64, op: Op) -> Result<Phase> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut conns = Vec::new();
    for _ in 0..conc {
        conns.push(Conn::open(url, auth).await?);
    }
    let start = Instant::now();
    let mut workers = Vec::new();
    for (w, mut conn) in conns.into_iter().enumerate() {
        workers.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut i) = (Vec::with_capacity(200_000), 0usize, 0usize);
            while Instant::now() < deadline {
                let t = Instant::now();
                let ok = match op {
                    Op::Create => {
                        conn.call("POST", "/api/v1/tickets", Some(create_body(w * 1_000_000 + i))).await.0 == 201
                    }
                    Op::Read { existing } => {
                        let n = rand::rng().random_range(1..=existing);
                        conn.call("GET", &format!("/api/v1/tickets/INC{n:07}"), None).await.0 == 200
                    }
                };
                lat.push(t.elapsed().as_micros() as u64);
                if !ok {
                    errors += 1;
                }
                i += 1;
            }
            (lat, errors)
        }));
    }
    Phase::gather(workers, start).await
}

/// Turns on the requester's acknowledgement for every logged ticket (no hourly cap, so every one is sent) and a
/// webhook subscription to every event, through the API as an admin would; only those named in
/// `features` (`mail`, `webhook`).
async fn every_feature_on(url: &str, admin_token: &str, webhook_url: &str, features: &[String]) -> Result<()> {
    if let Some(f) = features.iter().find(|f| !["mail", "webhook", "rules", "none"].contains(&f.as_str())) {
        bail!("--features takes mail, webhook, rules or none, not {f:?}");
    }
    let on = |f: &str| features.iter().any(|x| x == f);
    let mut c = Conn::open(url, &format!("Bearer {admin_token}")).await?;
    if on("rules") {
        add_rules(&mut c).await?;
    }
    let (status, body) = c.call("GET", "/api/v1/settings/mail", None).await;
    if status == 404 {
        // An older revision in a `scripts/bench --compare` run: it has neither.
        println!("<!-- this server has no mail settings or webhooks: measured without them -->");
        return Ok(());
    }
    if status != 200 {
        bail!("reading the mail settings with the admin token: HTTP {status}");
    }
    if !on("mail") {
        return subscribe(&mut c, webhook_url, on("webhook")).await;
    }
    let mut mail: serde_json::Value = serde_json::from_slice(&body)?;
    mail["addresses"] = serde_json::json!(["servicedesk@example.com"]);
    mail["from_address"] = serde_json::json!("servicedesk@example.com");
    // The run logs and reads tickets: the acknowledgement is the notice it causes.
    mail["notify"] = serde_json::json!(["received"]);
    mail["auto_reply_limit_per_hour"] = serde_json::json!(10_000);
    let (status, body) = c.call("PUT", "/api/v1/settings/mail", Some(mail.to_string().into_bytes())).await;
    if status != 200 {
        bail!("turning requester mail on: HTTP {status} {}", String::from_utf8_lossy(&body));
    }
    subscribe(&mut c, webhook_url, on("webhook")).await
}

/// How many routing rules `--features rules` adds.
const RULES: usize = 200;

/// Adds `RULES` routing rules as an admin would: 199 that the bench tickets do not match (words,
/// sender domains, departments, VIPs outside business hours — each checked on every ticket) and
/// a last one that matches them all ("VPN") and tags them, so every ticket also gets its firing on
/// the timeline and a tag.
async fn add_rules(c: &mut Conn) -> Result<()> {
    for i in 0..RULES {
        let (conditions, actions) = match i % 4 {
            _ if i == RULES - 1 => (serde_json::json!({"words": ["vpn"]}), serde_json::json!({"tags": ["vpn"]})),
            0 => (
                serde_json::json!({"words": [format!("keyword{i}"), format!("two words {i}")]}),
                serde_json::json!({"tags": [format!("t{i}")]}),
            ),
            1 => (
                serde_json::json!({"senders": [format!("dept{i}.example.org")], "channels": ["email"]}),
                serde_json::json!({"impact": 2}),
            ),
            2 => (serde_json::json!({"departments": [format!("Department {i}")]}), serde_json::json!({"urgency": 2})),
            _ => (
                serde_json::json!({"vip": true, "business_hours": false}),
                serde_json::json!({"tags": ["after-hours-vip"]}),
            ),
        };
        let rule = serde_json::json!({"name": format!("Bench rule {i}"), "conditions": conditions, "actions": actions});
        let (status, body) = c.call("POST", "/api/v1/routing-rules", Some(rule.to_string().into_bytes())).await;
        if status == 404 {
            println!("<!-- this server has no routing rules: measured without them -->");
            return Ok(());
        }
        if status != 201 {
            bail!("adding routing rule {i}: HTTP {status} {}", String::from_utf8_lossy(&body));
        }
    }
    Ok(())
}

/// Subscribes the receiver to every event, if `on`.
async fn subscribe(c: &mut Conn, webhook_url: &str, on: bool) -> Result<()> {
    if !on {
        return Ok(());
    }
    let hook = serde_json::json!({"name": "Bench receiver", "url": webhook_url, "events": ["*"]});
    let (status, body) = c.call("POST", "/api/v1/webhooks", Some(hook.to_string().into_bytes())).await;
    if status != 201 {
        bail!("subscribing the webhook: HTTP {status} {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

/// The actor the in-process benches act as: an admin.
fn bench_admin() -> orion_domain::Actor {
    orion_domain::Actor { id: orion_domain::UserId(0), role: orion_domain::Role::Admin }
}

/// Adds a group through the application, as an admin would.
async fn add_group(app: &orion_app::App, name: &str, tier: i64) -> Result<()> {
    let input = orion_app::GroupInput { name: Some(name.into()), tier: Some(tier), ..Default::default() };
    app.create_group(&bench_admin(), input).await?;
    Ok(())
}

/// The database at `url`, migrated, an application on it with the system clock, and the engine's
/// name for the table rows.
pub(crate) async fn open_app(url: &str) -> Result<(orion_store::Db, orion_app::App, &'static str)> {
    let db = orion_store::Db::connect(url, &orion_store::DbOptions::default()).await?;
    db.migrate().await?;
    let app = orion_app::App::new(db.clone(), std::sync::Arc::new(orion_app::SystemClock));
    let engine = match db.engine() {
        orion_store::Engine::Sqlite => "sqlite",
        orion_store::Engine::Postgres => "postgres",
    };
    Ok((db, app, engine))
}

/// Durations in milliseconds, sorted, for percentiles.
pub(crate) struct Samples(Vec<f64>);

impl Samples {
    pub(crate) fn new(mut ms: Vec<f64>) -> Self {
        ms.sort_by(f64::total_cmp);
        Samples(ms)
    }

    /// The `q` quantile (0.5: the median), 0 when empty.
    pub(crate) fn p(&self, q: f64) -> f64 {
        let n = self.0.len();
        if n == 0 { 0.0 } else { self.0[((n as f64 * q) as usize).min(n - 1)] }
    }

    pub(crate) fn max(&self) -> f64 {
        self.0.last().copied().unwrap_or(0.0)
    }
}

mod alert_bench;
mod asset_bench;
mod catalog_bench;
mod lists_bench;
mod mail_bench;
mod people_bench;
mod recurrence_bench;
mod search_bench;
mod sink;
mod sla_bench;
mod ui_bench;
mod workflow_bench;

#[tokio::main]
async fn main() -> Result<()> {
    let args = match Cli::parse() {
        Cli::Http(a) => a,
        Cli::Sla(a) => return sla_bench::run(a).await,
        Cli::Mail(a) => return mail_bench::run(a).await,
        Cli::Queues(a) => return ui_bench::run(a).await,
        Cli::Search(a) => return search_bench::run(a).await,
        Cli::Alerts(a) => return alert_bench::run(a).await,
        Cli::Assets(a) => return asset_bench::run(a).await,
        Cli::Recurrence(a) => return recurrence_bench::run(a).await,
        Cli::People(a) => return people_bench::run(a).await,
        Cli::Lists(a) => return lists_bench::run(a).await,
        Cli::Catalog(a) => return catalog_bench::run(a).await,
        Cli::Workflows(a) => return workflow_bench::run(a).await,
        Cli::Sink(a) => return sink::run(a).await,
    };
    let auth = format!("Bearer {}", args.token);
    let (status, _) = Conn::open(&args.url, &auth).await?.call("GET", "/api/v1/me", None).await;
    if status != 200 {
        bail!("the token is not accepted (HTTP {status})");
    }
    if let (Some(admin), Some(hook)) = (&args.admin_token, &args.webhook_url) {
        every_feature_on(&args.url, admin, hook, &args.features).await?;
    }
    println!("| engine | operation | concurrency | ops/s | p50 ms | p99 ms | max ms | errors |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut created = 0usize;
    for &conc in &args.concurrency {
        let phase = run_phase(&args.url, &auth, conc, args.seconds, Op::Create).await?;
        created += phase.ops - phase.errors;
        println!("{}", phase.row(&args.engine, "create", conc));
    }
    for &conc in &args.concurrency {
        let phase = run_phase(&args.url, &auth, conc, args.seconds, Op::Read { existing: created.max(1) }).await?;
        println!("{}", phase.row(&args.engine, "read", conc));
    }
    Ok(())
}
