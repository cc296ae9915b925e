//! Orion's use cases. Every command runs in one transaction that writes the
//! change and its timeline entry together; permissions are checked here, not
//! in the handlers.

pub mod api_schema;
pub mod auth;
pub mod cmdb;
mod config;
pub mod demo;
pub mod directory;
pub(crate) mod intake;
pub mod itsm;
pub mod jobs;
pub mod kb;
pub mod kernel;
pub mod mail;
pub mod mailbox;
pub mod monitoring;
pub mod notifications;
pub mod ola;
pub mod outbox;
pub mod search;
pub mod security;
pub mod settings;
pub mod sla;
pub mod tickets;
mod views;
pub mod webhooks;

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
    config: Arc<config::ConfigCache>,
    intake: Arc<std::sync::OnceLock<intake::Intake>>,
    /// Wakes this node's job worker when a job is queued here.
    job_wake: Arc<tokio::sync::Notify>,
    /// The SMTP relay, mail templates and mailbox settings of this node.
    mail_rt: Arc<outbox::MailRuntime>,
    /// The HTTP client outbound webhooks are sent with, built on first use.
    http: Arc<std::sync::OnceLock<reqwest::Client>>,
}

impl App {
    pub fn new(db: Db, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            clock,
            tokens: Arc::default(),
            config: Arc::default(),
            intake: Arc::default(),
            job_wake: Arc::default(),
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
        self.intake.get_or_init(|| intake::Intake::start(self.db.clone()))
    }

    fn now(&self) -> i64 {
        self.clock.now().as_millis()
    }
}
