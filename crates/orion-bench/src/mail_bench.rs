//! Email intake throughput: N distinct messages (a fifth of them replies to earlier tickets by
//! subject tag, some with an attachment) through `App::ingest_mail`, the path every intake (pipe,
//! SMTP, IMAP) ends in, at a given concurrency.

use anyhow::Result;
use orion_app::{App, SystemClock};
use orion_store::{Db, DbOptions};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct MailArgs {
    /// A fresh, empty database: sqlite://PATH or postgres://…
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Messages ingested at once (like parallel SMTP sessions or pipe deliveries)
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Label for the engine column
    #[arg(long, default_value = "sqlite")]
    engine: String,
}

fn message(i: usize) -> Vec<u8> {
    let sender = format!("user{}@example.com", i % 500);
    let (subject, attach) = if i % 5 == 4 {
        (format!("Re: [INC{:07}] still broken", i / 5 + 1), false)
    } else {
        (format!("Printer {i} on floor {} jams", i % 7), i.is_multiple_of(10))
    };
    let body = "Hello,\r\n\r\nthe printer jams on every second page since this morning. I tried to \
                reload the tray and to switch it off and on.\r\n\r\nRegards\r\n";
    let mut m = format!(
        "From: User {i} <{sender}>\r\nTo: help@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <bench-{i}@example.com>\r\nDate: Mon, 23 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    );
    if attach {
        m.push_str("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n");
        m.push_str(body);
        m.push_str("--b\r\nContent-Type: application/octet-stream; name=\"log.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        m.push_str(&"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n".repeat(40));
        m.push_str("--b--\r\n");
    } else {
        m.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
        m.push_str(body);
    }
    m.into_bytes()
}

pub async fn run(a: MailArgs) -> Result<()> {
    let db = Db::connect(&a.database_url, &DbOptions::default()).await?;
    db.migrate().await?;
    let app = App::new(db, Arc::new(SystemClock));
    crate::add_group(&app, "Service Desk", 1).await?;
    let messages: Arc<Vec<Vec<u8>>> = Arc::new((0..a.messages).map(message).collect());
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency.max(1) {
        let (app, messages, next) = (app.clone(), messages.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut failed = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(m) = messages.get(i) else { break };
                if app.ingest_mail(m, "bench").await.is_err() {
                    failed += 1;
                }
            }
            failed
        }));
    }
    let mut failed = 0;
    for t in tasks {
        failed += t.await?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let log = app.list_inbound_mail(&crate::bench_admin(), false, None, Some(1)).await?;
    println!(
        "| {} | {} | {} | {:.0} | {:.1} | {} | {} |",
        a.engine,
        a.messages,
        a.concurrency,
        a.messages as f64 / secs,
        bytes as f64 / secs / 1_048_576.0,
        failed,
        log.items.first().map_or(0, |m| m.id)
    );
    app.db.close().await;
    Ok(())
}
