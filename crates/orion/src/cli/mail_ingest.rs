//! `orion mail-ingest`: one message (or an mbox) on standard input, for MTA pipes. Exit codes
//! follow sysexits, so the MTA knows when to try again.

use super::output::ExitWith;
use anyhow::Result;
use clap::Args;
use orion::DatabaseConfig;
use orion_app::SystemClock;
use std::io::Read;
use std::sync::Arc;

/// sysexits `EX_TEMPFAIL`: the MTA keeps the message and tries again.
const EX_TEMPFAIL: u8 = 75;

#[derive(Args)]
pub struct MailIngestArgs {
    /// Recorded as the message's source
    #[arg(long, default_value = "pipe")]
    source: String,
    /// Standard input is an mbox of many messages (an export, `formail`, a migration): each is
    /// taken in turn; a repeat of the run skips what was already taken
    #[arg(long)]
    mbox: bool,
}

pub async fn run(db: &DatabaseConfig, args: MailIngestArgs) -> Result<()> {
    let MailIngestArgs { source, mbox } = args;
    let temp =
        |what: &str, e: &dyn std::fmt::Display| anyhow::Error::new(ExitWith(EX_TEMPFAIL, format!("{what}: {e}")));
    let mut raw = Vec::new();
    std::io::stdin().read_to_end(&mut raw).map_err(|e| temp("reading the message", &e))?;
    let app = db.open(Arc::new(SystemClock)).await.map_err(|e| temp("opening the database", &e))?;
    let messages = if mbox { orion_mail::mbox::split(&raw) } else { vec![raw] };
    let mut result = Ok(());
    for (n, raw) in messages.iter().enumerate() {
        match app.ingest_mail(raw, &source).await {
            Ok(m) => eprintln!(
                "message {}: {}{}{}",
                m.id,
                if m.duplicate { "already received, nothing new: " } else { "" },
                m.status,
                m.ticket.map(|t| format!(" {t}")).unwrap_or_default()
            ),
            Err(e) => {
                // Those before are kept; running the same input again skips them.
                result = Err(temp(&format!("keeping message {} of {}", n + 1, messages.len()), &e));
                break;
            }
        }
    }
    app.db.close().await;
    result
}
