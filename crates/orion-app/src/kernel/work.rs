//! The unit of work of a command: a write transaction whose recorded ticket events run through
//! the application's subscribers before it commits.
//!
//! Commands write their rows and timeline entries on the transaction's connection; writing an
//! entry records its typed [`orion_domain::TicketEvent`] with it (`orion_store::timeline`). The
//! composition layer implements [`Commit`]: it runs every subscriber over every recorded event
//! (subscribers may record more, which run too), commits, and wakes the job worker. Lower layers
//! (the ticket writer) commit through the trait, so they never name a subscriber.

use super::error::AppResult;
use orion_store::Tx;
use std::future::Future;
use std::pin::Pin;

/// Dispatches a transaction's recorded events to the subscribers, then commits it.
pub trait Commit: Send + Sync + 'static {
    fn commit(&self, tx: Tx) -> Pin<Box<dyn Future<Output = AppResult<()>> + Send + '_>>;
}
