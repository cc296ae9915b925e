//! The command line: global flags, one subcommand per module, and the dispatch between them.

mod article;
mod backup;
mod calendar;
mod catalog;
mod change;
mod directory;
mod group;
mod import_export;
mod mail;
mod mail_ingest;
mod mailbox;
mod migrate;
mod openapi;
pub mod output;
mod problem;
mod reindex;
mod report;
mod search;
mod serve;
mod sla_policy;
mod ticket;
mod token;
mod user;

use anyhow::Result;
use clap::{Parser, Subcommand};
use orion::{DatabaseConfig, MailConfig};
use orion_app::SystemClock;
use orion_domain::{Actor, Role, UserId};
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "orion", version, about = "Orion IT service management", propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    db: DatabaseConfig,
    #[command(flatten)]
    mail: MailConfig,
    /// Log format: text or json
    #[arg(long, global = true, env = "ORION_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process; the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the web server and API
    Serve(serve::ServeArgs),
    /// Take one RFC 822 message on standard input (for Postfix or fetchmail pipes). Exit codes follow
    /// sysexits: 0 the message is kept (as a ticket, a reply, or in quarantine), 75 temporary failure:
    /// the MTA should try again
    #[command(name = "mail-ingest")]
    MailIngest(mail_ingest::MailIngestArgs),
    /// The mail log, the quarantine and the outbox
    #[command(subcommand)]
    Mail(mail::MailCmd),
    /// IMAP mailboxes Orion polls
    #[command(subcommand)]
    Mailbox(mailbox::MailboxCmd),
    /// Directory sources (LDAP, Active Directory) users are synchronised from
    #[command(subcommand)]
    Directory(directory::DirectoryCmd),
    /// Apply database migrations and exit
    Migrate,
    /// Manage users
    #[command(subcommand)]
    User(user::UserCmd),
    /// Manage groups
    #[command(subcommand)]
    Group(group::GroupCmd),
    /// Manage API tokens
    #[command(subcommand)]
    Token(token::TokenCmd),
    /// Create, list and show tickets (for scripts)
    #[command(subcommand)]
    Ticket(ticket::TicketCmd),
    /// Business calendars for SLAs
    #[command(subcommand)]
    Calendar(calendar::CalendarCmd),
    /// SLA policies
    #[command(subcommand, name = "sla-policy")]
    SlaPolicy(sla_policy::PolicyCmd),
    /// Reports across tickets
    #[command(subcommand)]
    Report(report::ReportCmd),
    /// Copy a consistent snapshot of the SQLite database to a file
    Backup(backup::BackupArgs),
    /// Print the OpenAPI document
    Openapi,
    /// Rebuild the full-text index of every ticket and article. Runs online: search keeps
    /// answering (from the old rows until each batch is rebuilt), writes keep indexing themselves
    Reindex(reindex::ReindexArgs),
    /// Search tickets and articles as a user sees them
    Search(search::SearchArgs),
    /// Knowledge-base articles
    #[command(subcommand)]
    Article(article::ArticleCmd),
    /// Problems, known errors and recurring-incident proposals
    #[command(subcommand)]
    Problem(problem::ProblemCmd),
    /// Changes: approvals and the change calendar
    #[command(subcommand)]
    Change(change::ChangeCmd),
    /// The service catalog: list items, export one as a file, import a file, publish a draft
    #[command(subcommand)]
    Catalog(catalog::CatalogCmd),
    /// Import assets, licences or users from a CSV file: every line is checked first, and with
    /// any bad line nothing is written (the lines are listed with the field and reason)
    Import(import_export::ImportArgs),
    /// Export assets, licences or users as CSV (safe to open in a spreadsheet)
    Export(import_export::ExportArgs),
}

/// The CLI runs with database access, so it acts as the operator.
fn operator() -> Actor {
    Actor { id: UserId(0), role: Role::Admin }
}

/// Logs go to standard error, filtered by `ORION_LOG` (else `RUST_LOG`), as text or JSON.
pub fn init_logging(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("ORION_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let b = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

/// Runs the command. Those that serve or take mail open the database their own way; the others
/// share one opening with this node's mail setup and close it after.
pub async fn run(cli: Cli) -> Result<()> {
    let Cli { db, mail, command, .. } = cli;
    match command {
        Command::Openapi => openapi::run(),
        Command::Migrate => migrate::run(&db).await,
        Command::Serve(args) => serve::run(db, mail, args).await,
        Command::MailIngest(args) => mail_ingest::run(&db, args).await,
        Command::Backup(args) => backup::run(&db, args).await,
        cmd => {
            let app = orion::config::open_with_mail(&db, &mail, Arc::new(SystemClock)).await?;
            let r = match cmd {
                Command::User(cmd) => user::run(&app, cmd).await,
                Command::Group(cmd) => group::run(&app, cmd).await,
                Command::Calendar(cmd) => calendar::run(&app, cmd).await,
                Command::SlaPolicy(cmd) => sla_policy::run(&app, cmd).await,
                Command::Ticket(cmd) => ticket::run(&app, cmd).await,
                Command::Mail(cmd) => mail::run(&app, cmd).await,
                Command::Mailbox(cmd) => mailbox::run(&app, cmd).await,
                Command::Directory(cmd) => directory::run(&app, cmd).await,
                Command::Report(cmd) => report::run(&app, cmd).await,
                Command::Reindex(args) => reindex::run(&app, args).await,
                Command::Import(args) => import_export::import(&app, args).await,
                Command::Export(args) => import_export::export(&app, args).await,
                Command::Search(args) => search::run(&app, args).await,
                Command::Article(cmd) => article::run(&app, cmd).await,
                Command::Problem(cmd) => problem::run(&app, cmd).await,
                Command::Change(cmd) => change::run(&app, cmd).await,
                Command::Catalog(cmd) => catalog::run(&app, cmd).await,
                Command::Token(cmd) => token::run(&app, cmd).await,
                Command::Openapi
                | Command::Migrate
                | Command::Serve(_)
                | Command::Backup(_)
                | Command::MailIngest(_) => Ok(()),
            };
            app.db.close().await;
            r
        }
    }
}
