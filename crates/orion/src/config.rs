//! What a node is configured with: flags and `ORION_*` environment variables (through clap),
//! and how the database and the mail runtime are opened from them.

use anyhow::{Context, Result};
use clap::Args;
use orion_app::{App, Clock};
use orion_store::{Db, DbOptions};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the data lives and how to reach the database.
#[derive(Args, Clone, Debug)]
pub struct DatabaseConfig {
    /// Directory for the SQLite database and attachments
    #[arg(long, global = true, env = "ORION_DATA_DIR", default_value = "./orion-data")]
    pub data_dir: PathBuf,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB (default: SQLite in the data directory)
    #[arg(long, global = true, env = "ORION_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Maximum database connections (PostgreSQL) or SQLite readers
    #[arg(long, global = true, env = "ORION_DB_MAX_CONNECTIONS", default_value_t = 8)]
    pub db_max_connections: u32,
    /// SQLite synchronous=FULL (survives power loss; slower commits)
    #[arg(long, global = true, env = "ORION_SQLITE_SYNC_FULL")]
    pub sqlite_sync_full: bool,
    /// Seconds to wait for a database connection before giving up (`mail-ingest` then exits 75)
    #[arg(long, global = true, env = "ORION_DB_CONNECT_TIMEOUT", default_value_t = 30)]
    pub db_connect_timeout: u64,
}

impl DatabaseConfig {
    /// The defaults of the flags, with the data in `data_dir` and the database at `database_url`.
    pub fn new(data_dir: impl Into<PathBuf>, database_url: Option<String>) -> Self {
        let defaults = DbOptions::default();
        Self {
            data_dir: data_dir.into(),
            database_url,
            db_max_connections: defaults.max_connections,
            sqlite_sync_full: defaults.sqlite_synchronous_full,
            db_connect_timeout: defaults.acquire_timeout.as_secs(),
        }
    }

    /// Connects to the database (SQLite in the data directory unless a URL is given) and brings
    /// its schema to the newest version.
    pub async fn connect_and_migrate(&self) -> Result<Db> {
        let url = match &self.database_url {
            Some(u) => u.clone(),
            None => {
                std::fs::create_dir_all(&self.data_dir)
                    .with_context(|| format!("cannot create data directory {}", self.data_dir.display()))?;
                format!("sqlite://{}", self.data_dir.join("orion.db").display())
            }
        };
        let opts = DbOptions {
            max_connections: self.db_max_connections,
            sqlite_synchronous_full: self.sqlite_sync_full,
            acquire_timeout: std::time::Duration::from_secs(self.db_connect_timeout.max(1)),
        };
        let db =
            Db::connect(&url, &opts).await.with_context(|| format!("cannot open the database {}", redact(&url)))?;
        db.migrate().await.context("migrating the database")?;
        Ok(db)
    }

    /// The application over the migrated database, on `clock`.
    pub async fn open(&self, clock: Arc<dyn Clock>) -> Result<App> {
        Ok(App::new(self.connect_and_migrate().await?, clock))
    }
}

/// How this node sends mail and reaches IMAP servers.
#[derive(Args, Clone, Debug)]
pub struct MailConfig {
    /// Where Orion sends mail: smtp://[USER:PASSWORD@]HOST[:587] (STARTTLS required),
    /// smtps://…[:465] (TLS), smtp://HOST:25?tls=none (a local MTA); user and password percent-encoded
    #[arg(long, global = true, env = "ORION_SMTP_RELAY", hide_env_values = true)]
    pub smtp_relay: Option<String>,
    /// Extra trusted CA certificates (PEM) for the SMTP relay and IMAP servers, e.g. an internal CA
    #[arg(long, global = true, env = "ORION_MAIL_CA_FILE")]
    pub mail_ca_file: Option<PathBuf>,
    /// Seconds one IMAP step (connect, login, fetch a batch, …) may take before the poll is abandoned
    #[arg(long, global = true, env = "ORION_IMAP_TIMEOUT", default_value_t = 60)]
    pub imap_timeout: u64,
}

impl Default for MailConfig {
    /// The flags' defaults: no relay (mail is queued, not sent), no extra CAs.
    fn default() -> Self {
        Self { smtp_relay: None, mail_ca_file: None, imap_timeout: 60 }
    }
}

impl MailConfig {
    /// This node's mail setup: the relay, the templates (`<data dir>/templates/mail/`), the secrets
    /// folder (`<data dir>/secrets/`), extra CAs.
    pub fn runtime(&self, db: &DatabaseConfig) -> Result<orion_app::outbox::MailRuntime> {
        let templates_dir = db.data_dir.join("templates").join("mail");
        let templates = orion_app::outbox::Templates::load(Some(&templates_dir)).map_err(|e| anyhow::anyhow!(e))?;
        let relay = match &self.smtp_relay {
            None => None,
            Some(url) => {
                let mut relay = orion_mail::outbound::Relay::parse(url).map_err(|e| anyhow::anyhow!(e))?;
                relay.ca_file = self.mail_ca_file.clone();
                Some(orion_mail::outbound::Sender::new(&relay, &hostname()).map_err(|e| anyhow::anyhow!(e))?)
            }
        };
        Ok(orion_app::outbox::MailRuntime {
            relay,
            templates,
            ca_file: self.mail_ca_file.clone(),
            secrets_dir: Some(db.data_dir.join("secrets")),
            imap_timeout: std::time::Duration::from_secs(self.imap_timeout.max(1)),
            node: node_name(),
        })
    }
}

/// Opens the application with this node's mail runtime (what `serve` and most commands use).
pub async fn open_with_mail(db: &DatabaseConfig, mail: &MailConfig, clock: Arc<dyn Clock>) -> Result<App> {
    let rt = mail.runtime(db)?;
    Ok(db.open(clock).await?.with_mail_runtime(rt))
}

/// Hides a password in a database URL before it is printed.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let cred = &url[s + 3..at];
            match cred.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// This machine's name, for job leases (`/etc/hostname`, else `HOSTNAME`, else "orion").
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "orion".to_string())
}

/// This process's name in job and mailbox leases: `host:pid`.
pub fn node_name() -> String {
    format!("{}:{}", hostname(), std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn database_passwords_are_not_printed() {
        assert_eq!(redact("postgres://orion:s3cret@db:5432/orion"), "postgres://orion:***@db:5432/orion");
        assert_eq!(redact("sqlite://./orion-data/orion.db"), "sqlite://./orion-data/orion.db");
        assert_eq!(redact("postgres://orion@db/orion"), "postgres://orion@db/orion");
    }

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        db: DatabaseConfig,
        #[command(flatten)]
        mail: MailConfig,
    }

    /// `DatabaseConfig::new` and `MailConfig::default` (what the tests' servers use) have the flags' defaults.
    #[test]
    fn the_constructor_has_the_flags_defaults() {
        // An ORION_* variable in the environment would change what is parsed.
        if std::env::vars().any(|(k, _)| k.starts_with("ORION_")) {
            return;
        }
        let parsed = Flags::parse_from(["orion", "--data-dir", "d"]);
        let built = DatabaseConfig::new("d", None);
        assert_eq!(parsed.db.db_max_connections, built.db_max_connections);
        assert_eq!(parsed.db.sqlite_sync_full, built.sqlite_sync_full);
        assert_eq!(parsed.db.db_connect_timeout, built.db_connect_timeout);
        assert_eq!(parsed.mail.imap_timeout, MailConfig::default().imap_timeout);
    }
}
