//! `orion-bench sink`: the peers a desk with every feature on talks to while it logs tickets — a
//! webhook receiver (HTTP, answers 204 to every POST) and a mail relay (SMTP without TLS, Orion's
//! own listener with a handler that keeps nothing). It counts what arrives and writes the counts
//! to a file every half second, so the load run can say how many deliveries kept up.

use anyhow::{Context, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(clap::Args)]
pub struct SinkArgs {
    /// Port of the webhook receiver on 127.0.0.1
    #[arg(long)]
    http_port: u16,
    /// Port of the mail relay on 127.0.0.1
    #[arg(long)]
    smtp_port: u16,
    /// File the counts are written to (`webhooks N` and `mails N`)
    #[arg(long)]
    counts: std::path::PathBuf,
}

#[derive(Default)]
struct Counts {
    webhooks: AtomicU64,
    mails: AtomicU64,
}

impl orion_mail::smtp::Handler for Counts {
    async fn accepts(&self, _rcpt: &str) -> bool {
        true
    }

    async fn deliver(&self, _envelope: orion_mail::smtp::Envelope) -> Result<(), orion_mail::smtp::Reject> {
        self.mails.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

pub async fn run(a: SinkArgs) -> Result<()> {
    let counts = Arc::new(Counts::default());
    let smtp = tokio::net::TcpListener::bind(("127.0.0.1", a.smtp_port)).await.context("binding the SMTP port")?;
    let http = tokio::net::TcpListener::bind(("127.0.0.1", a.http_port)).await.context("binding the HTTP port")?;
    let config = Arc::new(orion_mail::smtp::Config { hostname: "bench-sink".into(), ..Default::default() });
    tokio::spawn(orion_mail::smtp::serve(smtp, config, counts.clone(), std::future::pending()));
    let writer = counts.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let text = format!(
                "webhooks {}\nmails {}\n",
                writer.webhooks.load(Ordering::Relaxed),
                writer.mails.load(Ordering::Relaxed)
            );
            let _ = std::fs::write(&a.counts, text);
        }
    });
    loop {
        let (stream, _) = http.accept().await?;
        let counts = counts.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let counts = counts.clone();
                async move {
                    use http_body_util::BodyExt;
                    let post = req.method() == hyper::Method::POST;
                    let _ = req.into_body().collect().await;
                    if post {
                        counts.webhooks.fetch_add(1, Ordering::Relaxed);
                    }
                    let mut resp = hyper::Response::new(http_body_util::Empty::<bytes::Bytes>::new());
                    *resp.status_mut() = hyper::StatusCode::NO_CONTENT;
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
        });
    }
}
