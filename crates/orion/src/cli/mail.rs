//! `orion mail`: the mail log, the quarantine and the outbox.

use super::operator;
use super::output::print_list;
use anyhow::Result;
use clap::Subcommand;
use orion_app::App;

#[derive(Subcommand)]
pub enum MailCmd {
    /// Every message received and what became of it, newest first
    Log {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Messages that could not be processed, with the reason
    Quarantine {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Process a quarantined message again, past the check that held it
    Reprocess {
        #[arg(long)]
        id: i64,
    },
    /// Discard a quarantined message (it stays in the log)
    Discard {
        #[arg(long)]
        id: i64,
    },
    /// Mail Orion sent or is sending, newest first
    Outbox {
        /// Only mail not sent yet (queued or failed)
        #[arg(long)]
        unsent: bool,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Queue a failed message again
    Retry {
        #[arg(long)]
        id: i64,
    },
}

pub async fn run(app: &App, cmd: MailCmd) -> Result<()> {
    let line = |m: &orion_app::mail::InboundMail| {
        format!(
            "{:>6}  {}  {:<14} {:<10} {:<28} {}{}",
            m.id,
            m.received_at,
            m.status,
            m.ticket.as_deref().unwrap_or("-"),
            m.sender.as_deref().unwrap_or("-"),
            m.subject,
            m.reason.as_deref().map(|r| format!("  [{r}]")).unwrap_or_default()
        )
    };
    match cmd {
        MailCmd::Log { limit, json } => {
            let page = app.list_inbound_mail(&operator(), false, None, Some(limit)).await?;
            print_list(&page.items, json, line)
        }
        MailCmd::Quarantine { limit, json } => {
            let page = app.list_inbound_mail(&operator(), true, None, Some(limit)).await?;
            print_list(&page.items, json, line)
        }
        MailCmd::Reprocess { id } => {
            let m = app.reprocess_mail(&operator(), id).await?;
            println!("{}", line(&m));
            Ok(())
        }
        MailCmd::Discard { id } => {
            let m = app.discard_mail(&operator(), id).await?;
            println!("{}", line(&m));
            Ok(())
        }
        MailCmd::Outbox { unsent, limit, json } => {
            let page = app.list_outbound_mail(&operator(), unsent, None, Some(limit)).await?;
            print_list(&page.items, json, outbound_line)
        }
        MailCmd::Retry { id } => {
            let m = app.retry_outbound_mail(&operator(), id).await?;
            println!("{}", outbound_line(&m));
            Ok(())
        }
    }
}

fn outbound_line(m: &orion_app::outbox::OutboundMail) -> String {
    format!(
        "{:>6}  {}  {:<10} {:<10} {:<14} {:<28} {}{}",
        m.id,
        m.created_at,
        m.status,
        m.ticket.as_deref().unwrap_or("-"),
        m.template,
        m.recipients.join(","),
        m.subject,
        m.reason.as_deref().map(|r| format!("  [{r}]")).unwrap_or_default()
    )
}
