//! The one list of reactions to ticket events (the composition layer).
//!
//! Ticket commands write their rows and timeline entries and record a typed
//! [`orion_domain::TicketEvent`] with each (`orion_store::timeline`). Before the transaction
//! commits, [`Reactions`] runs every subscriber below over every recorded event, oldest first;
//! what a subscriber writes in turn (an SLA entry, a CMDB history event) records events of its
//! own, which run through the same list until none is left. Then it commits and, when the
//! transaction queued a job that is due now, wakes this node's job worker, so queued mail and
//! webhook deliveries go out at once (a timer for later, such as an SLA check, wakes nobody).
//! Subscribers write their own rows or queue durable jobs in the same transaction; they never
//! call ticket commands. Adding a reaction is one line in [`react`].

use crate::kernel::error::AppResult;
use crate::kernel::work::Commit;
use crate::settings::{Config, ConfigCache};
use orion_domain::TicketEvent;
use orion_store::timeline::Recorded;
use orion_store::{Conn, Tx};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::Notify;

/// What the subscribers need, shared with the application and its ticket writer.
#[derive(Clone, Default)]
pub(crate) struct Reactions {
    pub config: Arc<ConfigCache>,
    pub job_wake: Arc<Notify>,
}

/// Every subscriber, in the order they run for each event.
async fn react(c: &mut Conn<'_>, config: &Config, r: &Recorded) -> AppResult<()> {
    crate::sla::react(c, config, r).await?;
    crate::ola::react(c, r).await?;
    crate::reports::react(c, r).await?;
    crate::surveys::react(c, r).await?;
    crate::outbox::react(c, &config.mail, r).await?;
    crate::cmdb::react(c, r).await?;
    crate::webhooks::react(c, &config.webhooks, config.mail.portal_url.as_deref(), r).await?;
    crate::desk::react(c, config, r).await?;
    crate::tickets::recheck::react(c, config, r).await?;
    Ok(())
}

/// The counters a committed event adds to (after the commit: a rolled-back change counts nothing).
fn count(r: &Recorded) {
    match &r.event {
        TicketEvent::Created { kind, .. } => {
            metrics::counter!("orion_tickets_created_total", "kind" => kind.as_str()).increment(1);
        }
        TicketEvent::Escalated { automatic } => {
            metrics::counter!("orion_tickets_escalated_total", "automatic" => if *automatic { "yes" } else { "no" })
                .increment(1);
        }
        _ => {}
    }
}

impl Reactions {
    /// Runs the subscribers over everything `tx` recorded, commits it and, if it queued a job due
    /// now, wakes the job worker.
    pub(crate) async fn commit(&self, mut tx: Tx) -> AppResult<()> {
        let mut done: Vec<Recorded> = Vec::new();
        let mut config = None;
        loop {
            let batch = tx.take_events();
            if batch.is_empty() {
                break;
            }
            let mut c = tx.conn();
            let config = match &config {
                Some(cfg) => Arc::clone(cfg),
                None => config.insert(self.config.get(&mut c).await?).clone(),
            };
            for r in &batch {
                react(&mut c, &config, r).await?;
            }
            done.extend(batch);
        }
        let wake = tx.queued_due_jobs();
        tx.commit().await?;
        done.iter().for_each(count);
        if wake {
            self.job_wake.notify_one();
        }
        Ok(())
    }
}

impl Commit for Reactions {
    fn commit(&self, tx: Tx) -> Pin<Box<dyn Future<Output = AppResult<()>> + Send + '_>> {
        Box::pin(Reactions::commit(self, tx))
    }
}
