//! Orion's storage: one `Db` over SQLite or PostgreSQL, migrations, and the
//! repositories the application services call inside a transaction.
//!
//! The same SQL text serves both engines wherever they agree; `with_conn!`
//! runs one query expression against whichever connection is behind a `Conn`.

pub mod approvals;
pub mod catalog;
pub mod categories;
pub mod cmdb;
mod db;
pub mod desk;
mod error;
pub mod groups;
pub mod identity;
pub mod itsm;
pub mod jobs;
pub mod kb;
pub mod mail;
pub mod mailbox;
pub mod mfa;
mod migrate;
pub mod monitoring;
pub mod notifications;
pub mod outbox;
pub mod report_schedules;
pub mod reports;
pub mod retention;
pub mod routing;
pub mod schema;
pub mod search;
pub mod settings;
pub mod sla;
pub mod sql;
mod sqlite_conns;
pub mod sso;
pub mod surveys;
pub mod tickets;
pub mod timeline;
pub mod tokens;
pub mod users;
pub mod web;
pub mod webhooks;
pub mod workflows;
pub mod worklog;

pub use db::{Conn, Db, DbOptions, Engine, Link, ReadConn, Tx};
pub use error::StoreError;
pub use migrate::{MIGRATIONS, Migration};

/// Re-exported for the `with_conn!` family of macros in other crates.
pub use sqlx;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// `NotFound` when a write that names one row touched none.
pub(crate) fn one_row(rows_affected: u64) -> Result<()> {
    if rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}
