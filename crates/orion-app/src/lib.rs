//! Orion's use cases. Every command runs in one transaction that writes the
//! change and its timeline entry together; permissions are checked here, not
//! in the handlers.

pub mod admin_notices;
pub mod api_schema;
pub mod auth;
pub mod catalog;
pub mod cmdb;
pub mod demo;
pub mod desk;
pub mod directory;
pub mod identity;
pub(crate) mod intake;
pub mod itsm;
pub mod jobs;
pub mod kb;
pub mod kernel;
#[cfg(test)]
mod layering;
pub mod macros;
pub mod mail;
pub mod mail_templates;
pub mod mailbox;
pub mod mfa;
pub mod monitoring;
pub mod notifications;
pub mod ola;
pub mod outbox;
mod reactions;
pub mod reports;
pub mod retention;
pub mod routing;
pub mod search;
pub mod security_keys;
pub mod sending;
pub mod settings;
pub mod signin;
pub mod sla;
pub mod surveys;
pub mod tickets;
mod views;
pub mod webhooks;
pub mod workflows;

pub use kernel::clock::{Clock, ManualClock, SystemClock};
pub use kernel::error::{AppError, AppResult};
pub use views::*;

use orion_store::Db;
use std::sync::Arc;

/// The application: the database, the clock, and caches shared by every request.
#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    tokens: Arc<auth::TokenCache>,
    config: Arc<settings::ConfigCache>,
    intake: Arc<std::sync::OnceLock<intake::Intake>>,
    /// Wakes this node's job worker when a job is queued here.
    job_wake: Arc<tokio::sync::Notify>,
    /// The subscribers to ticket events, run by [`App::commit`].
    reactions: Arc<reactions::Reactions>,
    /// The SMTP relay, mail templates and mailbox settings of this node.
    mail_rt: Arc<outbox::MailRuntime>,
    /// The HTTP client outbound webhooks are sent with, built on first use.
    http: Arc<std::sync::OnceLock<reqwest::Client>>,
}

impl App {
    pub fn new(db: Db, clock: Arc<dyn Clock>) -> Self {
        let reactions = reactions::Reactions::default();
        Self {
            db,
            clock,
            tokens: Arc::default(),
            config: reactions.config.clone(),
            intake: Arc::default(),
            job_wake: reactions.job_wake.clone(),
            reactions: Arc::new(reactions),
            mail_rt: Arc::default(),
            http: Arc::default(),
        }
    }

    /// The same application sending and fetching mail with `rt`.
    pub fn with_mail_runtime(mut self, rt: outbox::MailRuntime) -> Self {
        self.mail_rt = Arc::new(rt);
        self
    }

    /// The group-commit writer for new tickets, started on first use.
    fn intake(&self) -> &intake::Intake {
        self.intake.get_or_init(|| {
            intake::Intake::start(intake::Writer { db: self.db.clone(), commit: self.reactions.clone() })
        })
    }

    /// Commits a command's transaction: the subscribers run over the ticket events it recorded
    /// (SLA clocks, OLA spans, requester mail, CMDB history, webhooks), then it commits and the
    /// job worker wakes.
    pub(crate) async fn commit(&self, tx: orion_store::Tx) -> AppResult<()> {
        self.reactions.commit(tx).await
    }

    fn now(&self) -> i64 {
        self.clock.now().as_millis()
    }
}
