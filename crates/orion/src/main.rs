//! `orion`: the one binary. Serve, migrate, manage users and groups, issue
//! tokens, and script tickets.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use orion_app::{App, AppError, GroupInput, NewTicketInput, NewUserInput, SystemClock};
use orion_domain::{Actor, Role, UserId};
use orion_store::{Db, DbOptions};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "orion", version, about = "Orion IT service management", propagate_version = true)]
struct Cli {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    mail: MailArgs,
    /// Log format: text or json
    #[arg(long, global = true, env = "ORION_LOG_FORMAT", default_value = "text")]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DbArgs {
    /// Directory for the SQLite database and attachments
    #[arg(long, global = true, env = "ORION_DATA_DIR", default_value = "./orion-data")]
    data_dir: PathBuf,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB (default: SQLite in the data directory)
    #[arg(long, global = true, env = "ORION_DATABASE_URL")]
    database_url: Option<String>,
    /// Maximum database connections (PostgreSQL) or SQLite readers
    #[arg(long, global = true, env = "ORION_DB_MAX_CONNECTIONS", default_value_t = 8)]
    db_max_connections: u32,
    /// SQLite synchronous=FULL (survives power loss; slower commits)
    #[arg(long, global = true, env = "ORION_SQLITE_SYNC_FULL")]
    sqlite_sync_full: bool,
    /// Seconds to wait for a database connection before giving up (`mail-ingest` then exits 75)
    #[arg(long, global = true, env = "ORION_DB_CONNECT_TIMEOUT", default_value_t = 30)]
    db_connect_timeout: u64,
}

#[derive(Args, Clone)]
struct MailArgs {
    /// Where Orion sends mail: smtp://[USER:PASSWORD@]HOST[:587] (STARTTLS required),
    /// smtps://…[:465] (TLS), smtp://HOST:25?tls=none (a local MTA); user and password percent-encoded
    #[arg(long, global = true, env = "ORION_SMTP_RELAY", hide_env_values = true)]
    smtp_relay: Option<String>,
    /// Extra trusted CA certificates (PEM) for the SMTP relay and IMAP servers, e.g. an internal CA
    #[arg(long, global = true, env = "ORION_MAIL_CA_FILE")]
    mail_ca_file: Option<PathBuf>,
    /// Seconds one IMAP step (connect, login, fetch a batch, …) may take before the poll is abandoned
    #[arg(long, global = true, env = "ORION_IMAP_TIMEOUT", default_value_t = 60)]
    imap_timeout: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server and API
    Serve {
        /// Address to listen on
        #[arg(long, env = "ORION_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Seed a demo organisation (once) and print how to sign in
        #[arg(long)]
        demo: bool,
        /// Also take mail by SMTP/LMTP on this address (e.g. 127.0.0.1:2525), for the helpdesk addresses
        /// in the mail settings; no TLS: keep it on loopback behind your MTA
        #[arg(long, env = "ORION_SMTP_LISTEN")]
        smtp_listen: Option<String>,
    },
    /// Take one RFC 822 message on standard input (for Postfix or fetchmail pipes). Exit codes follow
    /// sysexits: 0 the message is kept (as a ticket, a reply, or in quarantine), 75 temporary failure:
    /// the MTA should try again
    #[command(name = "mail-ingest")]
    MailIngest {
        /// Recorded as the message's source
        #[arg(long, default_value = "pipe")]
        source: String,
        /// Standard input is an mbox of many messages (an export, `formail`, a migration): each is
        /// taken in turn; a repeat of the run skips what was already taken
        #[arg(long)]
        mbox: bool,
    },
    /// The mail log, the quarantine and the outbox
    #[command(subcommand)]
    Mail(MailCmd),
    /// IMAP mailboxes Orion polls
    #[command(subcommand)]
    Mailbox(MailboxCmd),
    /// Apply database migrations and exit
    Migrate,
    /// Manage users
    #[command(subcommand)]
    User(UserCmd),
    /// Manage groups
    #[command(subcommand)]
    Group(GroupCmd),
    /// Manage API tokens
    #[command(subcommand)]
    Token(TokenCmd),
    /// Create, list and show tickets (for scripts)
    #[command(subcommand)]
    Ticket(TicketCmd),
    /// Business calendars for SLAs
    #[command(subcommand)]
    Calendar(CalendarCmd),
    /// SLA policies
    #[command(subcommand, name = "sla-policy")]
    SlaPolicy(PolicyCmd),
    /// Reports across tickets
    #[command(subcommand)]
    Report(ReportCmd),
    /// Copy a consistent snapshot of the SQLite database to a file
    Backup {
        /// Destination file (must not exist)
        #[arg(long)]
        to: PathBuf,
    },
    /// Print the OpenAPI document
    Openapi,
    /// Rebuild the full-text index of every ticket and article. Runs online: search keeps
    /// answering (from the old rows until each batch is rebuilt), writes keep indexing themselves
    Reindex {
        /// Tickets per transaction
        #[arg(long, default_value_t = 2000)]
        batch: i64,
    },
    /// Search tickets and articles as a user sees them
    Search {
        /// Words, "a phrase", -exclude, a OR b, prefix*
        query: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        /// ticket, article or all
        #[arg(long = "type", default_value = "all")]
        kind_of: String,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Knowledge-base articles
    #[command(subcommand)]
    Article(ArticleCmd),
    /// Problems, known errors and recurring-incident proposals
    #[command(subcommand)]
    Problem(ProblemCmd),
    /// Changes: approvals and the change calendar
    #[command(subcommand)]
    Change(ChangeCmd),
    /// Import assets, licences or users from a CSV file: every line is checked first, and with
    /// any bad line nothing is written (the lines are listed with the field and reason)
    Import {
        /// assets, licences or users
        kind: String,
        /// The CSV file (`-` for standard input); the first line names the columns
        file: PathBuf,
        /// Map the file's columns to fields: `"Asset Tag=asset_tag,Serial No=serial"`
        #[arg(long, default_value = "")]
        map: String,
        /// Check every line and report, writing nothing
        #[arg(long)]
        dry_run: bool,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
    /// Export assets, licences or users as CSV (safe to open in a spreadsheet)
    Export {
        /// assets, licences or users
        kind: String,
        /// Write here instead of standard output
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
}

#[derive(Subcommand)]
enum ProblemCmd {
    /// List problems, newest first
    List {
        #[arg(long)]
        phase: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
    /// Show a problem with its analysis and incidents
    Show {
        number: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
    /// Log a problem from a JSON file (`-` for standard input), the body of POST /api/v1/problems
    Create {
        file: PathBuf,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Move a problem to another phase
    Move {
        number: String,
        phase: String,
        #[arg(long)]
        note: Option<String>,
        /// With `resolved`: also resolve its open incidents
        #[arg(long)]
        resolve_incidents: bool,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Run the recurring-incident detector now (leads)
    Detect {
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Proposed problems (open, accepted or dismissed)
    Proposals {
        #[arg(long, default_value = "open")]
        state: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
    /// Accept a proposal: create the problem with its incidents (leads)
    Accept {
        id: i64,
        #[arg(long)]
        title: Option<String>,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Dismiss a proposal (leads)
    Dismiss {
        id: i64,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
}

#[derive(Subcommand)]
enum ChangeCmd {
    /// List changes, newest first
    List {
        #[arg(long)]
        phase: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
    /// Show a change with its approvals, tasks and conflicts
    Show {
        number: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
    /// Log a change from a JSON file (`-` for standard input), the body of POST /api/v1/changes
    Create {
        file: PathBuf,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Move a change to another phase
    Move {
        number: String,
        phase: String,
        #[arg(long)]
        note: Option<String>,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Approve a change as one of its approvers
    Approve {
        number: String,
        #[arg(long)]
        comment: Option<String>,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Reject a change as one of its approvers (a comment is required)
    Reject {
        number: String,
        #[arg(long)]
        comment: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Changes awaiting your approval
    Approvals {
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
    /// The change calendar with its conflicts
    Calendar {
        /// YYYY-MM-DD (default today)
        #[arg(long)]
        from: Option<String>,
        /// YYYY-MM-DD (default seven days later)
        #[arg(long)]
        to: Option<String>,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ArticleCmd {
    /// List articles, newest first
    List {
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        state: Option<String>,
        /// Only published articles past their review date
        #[arg(long)]
        stale: bool,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Show an article (Markdown source)
    Show {
        number: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
    /// Write a draft article from a Markdown file (`-` for standard input)
    Create {
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        title: Option<String>,
        /// The Markdown body
        #[arg(long)]
        file: Option<PathBuf>,
        /// howto, faq, known_error, runbook or training
        #[arg(long)]
        kind: Option<String>,
        /// internal or public
        #[arg(long)]
        audience: Option<String>,
        #[arg(long)]
        category: Option<String>,
        /// Comma-separated
        #[arg(long, default_value = "")]
        tags: String,
        /// YYYY-MM-DD
        #[arg(long)]
        review_by: Option<String>,
        /// Prefill title, body, category and tags from this resolved ticket
        #[arg(long)]
        from_ticket: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Save a new version of an article
    Edit {
        number: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        title: Option<String>,
        /// The new Markdown body (`-` for standard input)
        #[arg(long)]
        file: Option<PathBuf>,
        /// What changed
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Workflow: submit, publish, reject, retire or restore
    Transition {
        number: String,
        action: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Versions and workflow events
    History {
        number: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Unified diff between two versions (default: the last change)
    Diff {
        number: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        from: Option<i64>,
        #[arg(long)]
        to: Option<i64>,
    },
    /// Attach a file
    Attach {
        number: String,
        file: PathBuf,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Link an article to a ticket
    Link {
        number: String,
        #[arg(long)]
        ticket: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Suggested articles opened while writing tickets, and the tickets they deflected
    Deflections {
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long, default_value_t = 30)]
        days: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// requester, agent, lead or admin
        #[arg(long, default_value = "requester")]
        role: String,
        /// Group to join (repeatable)
        #[arg(long = "group")]
        groups: Vec<String>,
        #[arg(long)]
        phone: Option<String>,
        /// Department (SLA policies can match on it)
        #[arg(long)]
        department: Option<String>,
        /// Read the password from standard input
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
    /// List users
    List {
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password, read from standard input (the password policy applies; the
    /// lockout is lifted and the user's web sessions end)
    ResetPassword {
        #[arg(long)]
        email: String,
    },
    /// Lift a lockout after too many failed sign-ins
    Unlock {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum GroupCmd {
    /// Create a group
    Create {
        #[arg(long)]
        name: String,
        /// 1 service desk, 2 specialists, 3 experts
        #[arg(long)]
        tier: i64,
        /// Group that tickets escalate to
        #[arg(long)]
        escalates_to: Option<String>,
        /// Lead's e-mail
        #[arg(long)]
        lead: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        json: bool,
    },
    /// List groups
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum CalendarCmd {
    /// List calendars
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create or replace a calendar's zone and weekly hours (holidays are kept)
    Set {
        #[arg(long)]
        name: String,
        /// IANA time zone, e.g. Europe/Berlin
        #[arg(long)]
        time_zone: String,
        /// Working hours, repeatable: 09:00-12:00 --hours 13:00-17:00
        #[arg(long = "hours", required = true)]
        hours: Vec<String>,
        /// Working days: mon-fri, mon-sat, all, or a list like mon,tue,thu
        #[arg(long, default_value = "mon-fri")]
        days: String,
    },
    /// Add the holidays of an iCalendar (.ics) file to a calendar
    ImportHolidays {
        #[arg(long)]
        name: String,
        #[arg(long)]
        file: PathBuf,
    },
}

// Parsed once per process; the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum PolicyCmd {
    /// List active policies in matching order
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create or replace a policy
    Set {
        #[arg(long)]
        name: String,
        /// Matching order, lower first (the shipped defaults use 10..50)
        #[arg(long, default_value_t = 100)]
        position: i64,
        /// Comma-separated, e.g. P1,P2 (default: any)
        #[arg(long, value_delimiter = ',')]
        priorities: Vec<String>,
        /// Comma-separated: incident, service_request (default: any)
        #[arg(long, value_delimiter = ',')]
        kinds: Vec<String>,
        /// Category path; matches everything below it too
        #[arg(long)]
        category: Option<String>,
        #[arg(long, default_value = "Business hours")]
        calendar: String,
        /// First response target in working minutes
        #[arg(long)]
        first_response: Option<i64>,
        /// Resolution target in working minutes
        #[arg(long)]
        resolution: Option<i64>,
        /// A public update at least every N working minutes while open
        #[arg(long)]
        update_interval: Option<i64>,
        /// The requester's department
        #[arg(long)]
        department: Option<String>,
        /// Comma-separated pending reasons that pause the clocks (default: user,vendor)
        #[arg(long, value_delimiter = ',')]
        pause_on: Option<Vec<String>>,
        /// Comma-separated warning percentages (default: 50,75,90)
        #[arg(long, value_delimiter = ',')]
        warnings: Option<Vec<i64>>,
        /// What a priority change does: retarget (default) or restart
        #[arg(long)]
        on_priority_change: Option<String>,
        /// Escalation rules as a JSON list (see docs/sla.md); replaces the defaults
        #[arg(long)]
        rules: Option<String>,
        /// Do not escalate on a resolution breach (with the default rules)
        #[arg(long)]
        no_escalate: bool,
        /// Save the policy switched off
        #[arg(long)]
        inactive: bool,
    },
}

#[derive(Subcommand)]
enum MailCmd {
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

#[derive(Args)]
struct MailboxArgs {
    /// A short name (messages are logged with source imap:NAME)
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    host: Option<String>,
    /// Default 993 with tls, 143 otherwise
    #[arg(long)]
    port: Option<i64>,
    /// tls (default), starttls or none
    #[arg(long)]
    security: Option<String>,
    #[arg(long)]
    username: Option<String>,
    /// password (default) or xoauth2
    #[arg(long)]
    auth: Option<String>,
    /// Read the password or token from standard input
    #[arg(long)]
    secret_stdin: bool,
    /// Or read it at every poll from this file in the data directory's secrets/ folder
    #[arg(long)]
    secret_file: Option<String>,
    /// Default INBOX
    #[arg(long)]
    folder: Option<String>,
    /// flag (default), move or delete
    #[arg(long)]
    after_fetch: Option<String>,
    #[arg(long)]
    move_to: Option<String>,
    #[arg(long)]
    poll_seconds: Option<i64>,
    /// Add it switched off
    #[arg(long)]
    disabled: bool,
}

impl MailboxArgs {
    fn input(self) -> Result<orion_app::mailbox::MailboxInput> {
        Ok(orion_app::mailbox::MailboxInput {
            name: self.name,
            host: self.host,
            port: self.port,
            security: self.security,
            username: self.username,
            auth: self.auth,
            secret: if self.secret_stdin { Some(read_password()?) } else { None },
            secret_file: self.secret_file,
            folder: self.folder,
            after_fetch: self.after_fetch,
            move_to: self.move_to,
            poll_seconds: self.poll_seconds,
            enabled: Some(!self.disabled),
        })
    }
}

#[derive(Subcommand)]
enum MailboxCmd {
    /// The mailboxes and how polling goes
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a mailbox
    Add(MailboxArgs),
    /// Replace a mailbox's settings (the stored secret is kept unless a new one is given)
    Update {
        #[arg(long)]
        id: i64,
        #[command(flatten)]
        args: MailboxArgs,
    },
    /// Forget a mailbox (the mail taken from it stays)
    Remove {
        #[arg(long)]
        id: i64,
    },
    /// Poll a mailbox now and say what happened
    Poll {
        #[arg(long)]
        id: i64,
    },
}

#[derive(Subcommand)]
enum ReportCmd {
    /// Working time resolved tickets spent with each tier and group, against the OLA targets
    Ola {
        /// YYYY-MM-DD (UTC) or RFC 3339; default 30 days before --to
        #[arg(long)]
        from: Option<String>,
        /// YYYY-MM-DD (UTC, exclusive) or RFC 3339; default now
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create an API token; prints only the token
    Create {
        /// The user's e-mail
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

#[derive(Subcommand)]
enum TicketCmd {
    /// Log a ticket as a staff member
    Create {
        /// E-mail of the staff member logging it
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long, default_value = "incident")]
        kind: String,
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, default_value_t = 3)]
        impact: i64,
        #[arg(long, default_value_t = 3)]
        urgency: i64,
        /// Requester's e-mail
        #[arg(long)]
        requester: Option<String>,
        #[arg(long, default_value = "phone")]
        channel: String,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List tickets, newest first
    List {
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Show one ticket and its timeline
    Show {
        number: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
}

/// The CLI runs with database access, so it acts as the operator.
fn operator() -> Actor {
    Actor { id: UserId(0), role: Role::Admin }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(ExitWith(code, msg)) = e.downcast_ref::<ExitWith>() {
                eprintln!("error: {msg}");
                return ExitCode::from(*code);
            }
            match e.downcast_ref::<AppError>() {
                Some(AppError::Validation(errs)) => {
                    for f in errs.iter() {
                        eprintln!("error: {}: {}", f.field, f.message);
                    }
                }
                _ => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: &str) {
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

/// This node's mail setup: the relay, the templates (`<data dir>/templates/mail/`), the secrets
/// folder (`<data dir>/secrets/`), extra CAs.
fn mail_runtime(db: &DbArgs, mail: &MailArgs) -> Result<orion_app::outbox::MailRuntime> {
    let templates_dir = db.data_dir.join("templates").join("mail");
    let templates = orion_app::outbox::Templates::load(Some(&templates_dir)).map_err(|e| anyhow::anyhow!(e))?;
    let relay = match &mail.smtp_relay {
        None => None,
        Some(url) => {
            let mut relay = orion_mail::outbound::Relay::parse(url).map_err(|e| anyhow::anyhow!(e))?;
            relay.ca_file = mail.mail_ca_file.clone();
            Some(orion_mail::outbound::Sender::new(&relay, &hostname()).map_err(|e| anyhow::anyhow!(e))?)
        }
    };
    Ok(orion_app::outbox::MailRuntime {
        relay,
        templates,
        ca_file: mail.mail_ca_file.clone(),
        secrets_dir: Some(db.data_dir.join("secrets")),
        imap_timeout: std::time::Duration::from_secs(mail.imap_timeout.max(1)),
        node: format!("{}:{}", hostname(), std::process::id()),
    })
}

async fn open_with_mail(db: &DbArgs, mail: &MailArgs) -> Result<App> {
    let rt = mail_runtime(db, mail)?;
    Ok(open(db).await?.with_mail_runtime(rt))
}

async fn open(args: &DbArgs) -> Result<App> {
    let url = match &args.database_url {
        Some(u) => u.clone(),
        None => {
            std::fs::create_dir_all(&args.data_dir)
                .with_context(|| format!("cannot create data directory {}", args.data_dir.display()))?;
            format!("sqlite://{}", args.data_dir.join("orion.db").display())
        }
    };
    let opts = DbOptions {
        max_connections: args.db_max_connections,
        sqlite_synchronous_full: args.sqlite_sync_full,
        acquire_timeout: std::time::Duration::from_secs(args.db_connect_timeout.max(1)),
    };
    let db = Db::connect(&url, &opts).await.with_context(|| format!("cannot open the database {}", redact(&url)))?;
    db.migrate().await.context("migrating the database")?;
    Ok(App::new(db, Arc::new(SystemClock)))
}

/// Hides a password in a database URL before it is printed.
fn redact(url: &str) -> String {
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

fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// A list for scripts (`--json`) or people (one line each).
fn print_list<T: serde::Serialize>(items: &[T], json: bool, line: impl Fn(&T) -> String) -> Result<()> {
    if json {
        return print_json(&items);
    }
    for item in items {
        println!("{}", line(item));
    }
    Ok(())
}

fn read_password() -> Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).context("reading the password from standard input")?;
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Openapi => {
            println!("{}", orion_web::openapi_json());
            Ok(())
        }
        Command::Migrate => {
            let app = open(&cli.db).await?;
            println!("database is at the newest schema ({} migrations known)", orion_store::MIGRATIONS.len());
            app.db.close().await;
            Ok(())
        }
        Command::Serve { listen, demo, smtp_listen } => {
            serve(&cli.db, &cli.mail, &listen, demo, smtp_listen.as_deref()).await
        }
        Command::MailIngest { source, mbox } => mail_ingest(&cli.db, &source, mbox).await,
        Command::Backup { to } => {
            if to.exists() {
                anyhow::bail!("{} exists already; choose a new file", to.display());
            }
            let app = open(&cli.db).await?;
            app.db.backup_sqlite(&to.to_string_lossy()).await?;
            println!("backup written to {}", to.display());
            app.db.close().await;
            Ok(())
        }
        cmd => {
            let app = open_with_mail(&cli.db, &cli.mail).await?;
            let r = match cmd {
                Command::User(cmd) => user_cmd(&app, cmd).await,
                Command::Group(cmd) => group_cmd(&app, cmd).await,
                Command::Calendar(cmd) => calendar_cmd(&app, cmd).await,
                Command::SlaPolicy(cmd) => policy_cmd(&app, cmd).await,
                Command::Ticket(cmd) => ticket_cmd(&app, cmd).await,
                Command::Mail(cmd) => mail_cmd(&app, cmd).await,
                Command::Mailbox(cmd) => mailbox_cmd(&app, cmd).await,
                Command::Report(ReportCmd::Ola { from, to, group, json }) => {
                    report_ola(&app, orion_app::ola::OlaQuery { from, to, group }, json).await
                }
                Command::Reindex { batch } => reindex(&app, batch).await,
                Command::Import { kind, file, map, dry_run, as_user, json } => {
                    import_cmd(&app, &kind, &file, &map, dry_run, &as_user, json).await
                }
                Command::Export { kind, out, as_user } => export_cmd(&app, &kind, out.as_deref(), &as_user).await,
                Command::Search { query, as_user, kind_of, limit, json } => {
                    search_cmd(&app, &query, &as_user, &kind_of, limit, json).await
                }
                Command::Article(cmd) => article_cmd(&app, cmd).await,
                Command::Problem(cmd) => problem_cmd(&app, cmd).await,
                Command::Change(cmd) => change_cmd(&app, cmd).await,
                Command::Token(TokenCmd::Create { user, name }) => {
                    app.create_token_for(&user, &name).await.map(|t| println!("{}", t.token)).map_err(Into::into)
                }
                Command::Openapi
                | Command::Migrate
                | Command::Serve { .. }
                | Command::Backup { .. }
                | Command::MailIngest { .. } => Ok(()),
            };
            app.db.close().await;
            r
        }
    }
}

async fn user_cmd(app: &App, cmd: UserCmd) -> Result<()> {
    match cmd {
        UserCmd::Create { email, name, role, groups, phone, department, password_stdin, json } => {
            let password = if password_stdin { Some(read_password()?) } else { None };
            let u = app
                .create_user(
                    &operator(),
                    NewUserInput {
                        email: Some(email),
                        name: Some(name),
                        role: Some(role),
                        phone,
                        department,
                        groups,
                        password,
                    },
                )
                .await?;
            if json {
                print_json(&u)
            } else {
                println!("created user {} <{}> ({}) id {}", u.name, u.email, u.role, u.id);
                Ok(())
            }
        }
        UserCmd::List { role, json } => {
            let mut cursor = None;
            let mut all = Vec::new();
            loop {
                let page = app.list_users(&operator(), role.as_deref(), None, cursor.as_deref(), Some(200)).await?;
                all.extend(page.items);
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            print_list(&all, json, |u| {
                let inactive = if u.active { "" } else { "  (deactivated)" };
                format!("{:>6}  {:<9}  {:<40}  {}{inactive}", u.id, u.role, u.email, u.name)
            })
        }
        UserCmd::ResetPassword { email } => {
            app.set_password(&email, read_password()?).await?;
            println!("password of {email} changed; their sessions were ended");
            Ok(())
        }
        UserCmd::Unlock { email } => {
            let page = app.list_users(&operator(), None, Some(&email), None, Some(10)).await?;
            let Some(u) = page.items.into_iter().find(|u| u.email.eq_ignore_ascii_case(email.trim())) else {
                anyhow::bail!("no user with e-mail {email}");
            };
            app.unlock_user(&operator(), u.id).await?;
            println!("{} unlocked", u.email);
            Ok(())
        }
    }
}

async fn group_cmd(app: &App, cmd: GroupCmd) -> Result<()> {
    match cmd {
        GroupCmd::Create { name, tier, escalates_to, lead, description, json } => {
            let g = app
                .create_group(
                    &operator(),
                    GroupInput {
                        name: Some(name),
                        tier: Some(tier),
                        escalates_to,
                        lead,
                        description: Some(description),
                        active: None,
                    },
                )
                .await?;
            if json {
                print_json(&g)
            } else {
                println!("created group {} (tier {}) id {}", g.name, g.tier, g.id);
                Ok(())
            }
        }
        GroupCmd::List { json } => {
            let gs = app.list_groups(&operator()).await?;
            print_list(&gs, json, |g| {
                let up = g.escalates_to.as_deref().unwrap_or("-");
                format!(
                    "{:>4}  tier {}  {:<24} escalates to {up:<24} {} members",
                    g.id,
                    g.tier,
                    g.name,
                    g.members.len()
                )
            })
        }
    }
}

/// `09:00-17:00` → minutes since midnight.
fn parse_hours(s: &str) -> Result<(u16, u16)> {
    let minute = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
    };
    let (a, b) = s.split_once('-').ok_or_else(|| anyhow::anyhow!("--hours {s:?}: write it as 09:00-17:00"))?;
    match (minute(a), minute(b)) {
        (Some(a), Some(b)) if a < b => Ok((a, b)),
        _ => anyhow::bail!("--hours {s:?}: write it as 09:00-17:00, start before end"),
    }
}

/// `mon-fri`, `all`, `mon,wed` → which of the seven days (Monday first) work.
fn parse_days(s: &str) -> Result<[bool; 7]> {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let index = |d: &str| NAMES.iter().position(|n| *n == d.trim().to_ascii_lowercase());
    let mut days = [false; 7];
    if s.trim() == "all" {
        return Ok([true; 7]);
    }
    for part in s.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        match (index(a), index(b)) {
            (Some(a), Some(b)) if a <= b => days[a..=b].iter_mut().for_each(|d| *d = true),
            _ => anyhow::bail!("--days {s:?}: use mon-fri, all, or names like mon,tue,thu"),
        }
    }
    Ok(days)
}

async fn calendar_cmd(app: &App, cmd: CalendarCmd) -> Result<()> {
    match cmd {
        CalendarCmd::List { json } => {
            let cals = app.list_calendars(&operator()).await?;
            print_list(&cals, json, |c| {
                format!(
                    "{:<20} {:<20} {} holidays, {} yearly",
                    c.name,
                    c.time_zone,
                    c.holidays.len(),
                    c.yearly_holidays.len()
                )
            })
        }
        CalendarCmd::Set { name, time_zone, hours, days } => {
            let intervals = hours.iter().map(|h| parse_hours(h)).collect::<Result<Vec<_>>>()?;
            let days = parse_days(&days)?;
            let existing =
                app.list_calendars(&operator()).await?.into_iter().find(|c| c.name.eq_ignore_ascii_case(&name));
            let (holidays, yearly_holidays) = existing.map(|c| (c.holidays, c.yearly_holidays)).unwrap_or_default();
            let week = days.iter().map(|on| if *on { intervals.clone() } else { Vec::new() }).collect();
            let c = app
                .put_calendar(
                    &operator(),
                    orion_app::sla::Calendar { name, time_zone, week, holidays, yearly_holidays },
                )
                .await?;
            println!("calendar {} saved ({})", c.name, c.time_zone);
            Ok(())
        }
        CalendarCmd::ImportHolidays { name, file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let (c, added) = app.import_holidays(&operator(), &name, &text).await?;
            println!(
                "{added} holidays added to {} ({} dated, {} yearly)",
                c.name,
                c.holidays.len(),
                c.yearly_holidays.len()
            );
            Ok(())
        }
    }
}

async fn report_ola(app: &App, q: orion_app::ola::OlaQuery, json: bool) -> Result<()> {
    let r = app.ola_report(&operator(), &q).await?;
    if json {
        return print_json(&r);
    }
    println!("tickets resolved from {} to {}", r.from, r.to);
    for f in r.tiers.iter().chain(&r.groups) {
        println!(
            "tier {} {:<24} visits {:>6}  avg {:>5} min  max {:>6} min  target {:>5} min  over {:>5}  within {:>3} %",
            f.tier,
            f.group.as_deref().unwrap_or("(all groups)"),
            f.tickets,
            f.average_minutes,
            f.max_minutes,
            f.target_minutes,
            f.over_target,
            f.within_target_percent
        );
    }
    Ok(())
}

async fn policy_cmd(app: &App, cmd: PolicyCmd) -> Result<()> {
    match cmd {
        PolicyCmd::List { json } => {
            let ps = app.list_policies(&operator()).await?;
            let mins = |m: Option<i64>| m.map_or("-".to_string(), |m| format!("{m} min"));
            print_list(&ps, json, |p| {
                let priorities = if p.priorities.is_empty() { "any".to_string() } else { p.priorities.join(",") };
                format!(
                    "{:>4}  {:<24} {priorities:<12} {:<16} first response {:<10} resolution {:<10} update {:<8} {}",
                    p.position,
                    p.name,
                    p.calendar,
                    mins(p.first_response_minutes),
                    mins(p.resolution_minutes),
                    mins(p.update_interval_minutes),
                    p.on_priority_change
                )
            })
        }
        PolicyCmd::Set {
            name,
            position,
            priorities,
            kinds,
            category,
            calendar,
            first_response,
            resolution,
            update_interval,
            department,
            pause_on,
            warnings,
            on_priority_change,
            rules,
            no_escalate,
            inactive,
        } => {
            let escalation_rules =
                match rules {
                    Some(json) => Some(serde_json::from_str(&json).map_err(|e| {
                        anyhow::anyhow!("--rules: not a list of escalation rules: {e} (see docs/sla.md)")
                    })?),
                    None => None,
                };
            let p = app
                .put_policy(
                    &operator(),
                    &name,
                    orion_app::sla::PolicyInput {
                        position: Some(position),
                        priorities,
                        kinds,
                        category,
                        department,
                        calendar: Some(calendar),
                        first_response_minutes: first_response,
                        resolution_minutes: resolution,
                        update_interval_minutes: update_interval,
                        pause_on,
                        warnings_percent: warnings,
                        breach_escalates: Some(!no_escalate),
                        on_priority_change,
                        escalation_rules,
                        active: Some(!inactive),
                    },
                )
                .await?;
            println!("policy {} saved (position {})", p.name, p.position);
            Ok(())
        }
    }
}

async fn ticket_cmd(app: &App, cmd: TicketCmd) -> Result<()> {
    match cmd {
        TicketCmd::Create {
            as_user,
            kind,
            title,
            description,
            impact,
            urgency,
            requester,
            channel,
            category,
            group,
            json,
        } => {
            let actor = app.actor_for(&as_user).await?;
            let t = app
                .create_ticket(
                    &actor,
                    NewTicketInput {
                        kind: Some(kind),
                        title: Some(title),
                        description: Some(description),
                        impact: Some(impact),
                        urgency: Some(urgency),
                        requester,
                        channel: Some(channel),
                        category,
                        assignment_group: group,
                        ..Default::default()
                    },
                )
                .await?;
            if json {
                print_json(&t)
            } else {
                println!("{}", t.number);
                Ok(())
            }
        }
        TicketCmd::List { as_user, state, group, kind, limit, json } => {
            let actor = app.actor_for(&as_user).await?;
            let page = app
                .list_tickets(
                    &actor,
                    orion_app::tickets::TicketQuery {
                        state,
                        assignment_group: group,
                        kind,
                        limit: Some(limit),
                        ..Default::default()
                    },
                )
                .await?;
            if json {
                return print_json(&page);
            }
            for t in page.items {
                println!(
                    "{}  {}  {:<11}  {:<18}  {:<24}  {}",
                    t.number,
                    t.priority,
                    t.state,
                    t.assignment_group,
                    t.assignee.as_deref().unwrap_or("-"),
                    t.title
                );
            }
            Ok(())
        }
        TicketCmd::Show { number, as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let t = app.get_ticket(&actor, &number).await?;
            let tl = app.timeline(&actor, &number, None, Some(200)).await?;
            if json {
                return print_json(&serde_json::json!({"ticket": t, "timeline": tl.items}));
            }
            println!("{}  {}  {}  [{}]", t.number, t.priority, t.title, t.state);
            println!(
                "requester: {} <{}>   group: {} (tier {})   assignee: {}",
                t.requester_name,
                t.requester,
                t.assignment_group,
                t.assignment_group_tier,
                t.assignee.as_deref().unwrap_or("-")
            );
            if !t.description.is_empty() {
                println!("\n{}\n", t.description);
            }
            for e in tl.items {
                println!(
                    "{}  {:<14} {:<8} {}  {}",
                    e.at,
                    e.kind,
                    e.visibility,
                    e.actor.as_deref().unwrap_or("Orion"),
                    e.body.replace('\n', " ")
                );
            }
            Ok(())
        }
    }
}

/// Draws `done/total` as a bar on a terminal, or a line every tenth elsewhere (logs, CI).
struct Progress {
    started: std::time::Instant,
    tty: bool,
    last_tenth: i64,
    what: &'static str,
}

impl Progress {
    fn new(what: &'static str) -> Self {
        use std::io::IsTerminal;
        Progress { started: std::time::Instant::now(), tty: std::io::stderr().is_terminal(), last_tenth: -1, what }
    }

    fn show(&mut self, done: i64, total: i64) {
        let total = total.max(1);
        let pct = done * 100 / total;
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = done as f64 / secs;
        let eta = if rate > 0.0 { (total - done) as f64 / rate } else { 0.0 };
        let line = format!("{done}/{total} {} ({pct}%)  {rate:.0}/s  ETA {eta:.0} s", self.what);
        if self.tty {
            let filled = (pct as usize * 30 / 100).min(30);
            eprint!("\r[{}{}] {line}   ", "#".repeat(filled), ".".repeat(30 - filled));
            if done >= total {
                eprintln!();
            }
        } else if pct / 10 > self.last_tenth || done >= total {
            self.last_tenth = pct / 10;
            eprintln!("{line}");
        }
    }
}

async fn reindex(app: &App, batch: i64) -> Result<()> {
    if !(1..=100_000).contains(&batch) {
        anyhow::bail!("--batch must be between 1 and 100000");
    }
    let started = std::time::Instant::now();
    let mut p = Progress::new("rows");
    let (tickets, articles) = app.reindex(batch, |d, t| p.show(d, t)).await?;
    println!("reindexed {tickets} tickets and {articles} articles in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

async fn import_cmd(
    app: &App,
    kind: &str,
    file: &std::path::Path,
    map: &str,
    dry_run: bool,
    as_user: &str,
    json: bool,
) -> Result<()> {
    use orion_app::cmdb::csv_io::{CsvKind, parse_mapping};
    let actor = app.actor_for(as_user).await?;
    let kind = CsvKind::parse(kind)?;
    let mapping = parse_mapping(map)?;
    let data = if file.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::stdin().read_to_end(&mut v).context("reading standard input")?;
        v
    } else {
        std::fs::read(file).with_context(|| format!("reading {}", file.display()))?
    };
    let mut p = Progress::new("lines");
    let r = app.import_csv(&actor, kind, &data, &mapping, dry_run, |d, t| p.show(d as i64, t as i64)).await?;
    if json {
        print_json(&r)?;
    } else {
        for e in &r.errors {
            let field = if e.field.is_empty() { String::new() } else { format!(" {}:", e.field) };
            eprintln!("{}:{}:{field} {}", file.display(), e.line, e.reason);
        }
        if !r.ignored_columns.is_empty() {
            eprintln!("ignored columns: {}", r.ignored_columns.join(", "));
        }
        let verdict = match (r.written, r.dry_run, r.errors.is_empty()) {
            (true, _, _) => "written",
            (false, true, true) => "dry run: nothing written, every line is valid",
            _ => "nothing written",
        };
        println!(
            "{} lines: {} new, {} changed, {} unchanged, {} errors — {verdict}",
            r.rows,
            r.created,
            r.updated,
            r.unchanged,
            r.errors.len()
        );
    }
    if r.errors.is_empty() { Ok(()) } else { Err(anyhow::anyhow!("{} bad lines", r.errors.len())) }
}

async fn export_cmd(app: &App, kind: &str, out: Option<&std::path::Path>, as_user: &str) -> Result<()> {
    use orion_app::cmdb::csv_io::CsvKind;
    let actor = app.actor_for(as_user).await?;
    let kind = CsvKind::parse(kind)?;
    let mut sink: Box<dyn std::io::Write + Send> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create_new(p).with_context(|| format!("creating {} (it must not exist)", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let n = app.export_csv(&actor, kind, &mut *sink, |_| {}).await?;
    sink.flush()?;
    if out.is_some() {
        eprintln!("exported {n} rows");
    }
    Ok(())
}

async fn search_cmd(app: &App, query: &str, as_user: &str, kind_of: &str, limit: i64, json: bool) -> Result<()> {
    let actor = app.actor_for(as_user).await?;
    let q = orion_app::search::SearchQuery {
        q: query.to_string(),
        kind_of: Some(kind_of.to_string()),
        limit: Some(limit),
        ..Default::default()
    };
    let r = app.search(&actor, q).await?;
    if json {
        return print_json(&r);
    }
    let plain = |h: &str| {
        h.replace("<mark>", "*")
            .replace("</mark>", "*")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    };
    for t in &r.tickets {
        println!("{}  {:<9} {}  {}", t.number, t.state, t.priority, plain(&t.title_html));
        println!("    {}: {}", t.snippet_from, plain(&t.snippet_html));
    }
    for a in &r.articles {
        println!("{}  {:<9} {:<11} {}", a.number, a.state, a.kind, plain(&a.title_html));
        println!("    {}", plain(&a.snippet_html));
    }
    if r.tickets.is_empty() && r.articles.is_empty() {
        println!("nothing found");
    }
    Ok(())
}

fn read_body(file: &std::path::Path) -> Result<String> {
    if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading the article from standard input")?;
        return Ok(s);
    }
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

/// A JSON request body from a file or standard input, named in errors.
fn read_json<T: serde::de::DeserializeOwned>(file: &std::path::Path) -> Result<T> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("{}: not a valid request body", file.display()))
}

async fn problem_cmd(app: &App, cmd: ProblemCmd) -> Result<()> {
    use orion_app::itsm::detect::{AcceptInput, ProposalQuery};
    use orion_app::itsm::problems::{ProblemInput, ProblemPhaseInput, ProblemQuery};
    let line = |p: &orion_app::itsm::problems::Problem| {
        format!("{}  {:<13} {}  ({} incidents)", p.ticket.number, p.phase, p.ticket.title, p.incidents.len())
    };
    match cmd {
        ProblemCmd::List { phase, limit, as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let page = app.list_problems(&actor, ProblemQuery { phase, limit: Some(limit), cursor: None }).await?;
            print_list(&page.items, json, |p| format!("{}  {:<13} {:<3} {}", p.number, p.phase, p.priority, p.title))
        }
        ProblemCmd::Show { number, as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let p = app.get_problem(&actor, &number).await?;
            if json {
                return print_json(&p);
            }
            println!("{}", line(&p));
            for (label, text) in [
                ("Symptoms", &p.symptoms),
                ("Root cause", &p.root_cause),
                ("Workaround", &p.workaround),
                ("Analysis", &p.analysis),
            ] {
                if !text.is_empty() {
                    println!("\n{label}:\n{text}");
                }
            }
            for i in &p.incidents {
                println!("  {}  {:<11} {}", i.number, i.state, i.title);
            }
            Ok(())
        }
        ProblemCmd::Create { file, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let input: ProblemInput = read_json(&file)?;
            let p = app.create_problem(&actor, input).await?;
            println!("{}", line(&p));
            Ok(())
        }
        ProblemCmd::Move { number, phase, note, resolve_incidents, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let p = app.move_problem(&actor, &number, ProblemPhaseInput { phase, note, resolve_incidents }).await?;
            println!("{}", line(&p));
            Ok(())
        }
        ProblemCmd::Detect { as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let r = app.detect_recurring_now(&actor).await?;
            println!(
                "{} incidents read, {} clusters: {} new proposals, {} refreshed, {} already known",
                r.incidents, r.clusters, r.proposed, r.refreshed, r.known
            );
            Ok(())
        }
        ProblemCmd::Proposals { state, as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let q = ProposalQuery { state: Some(state), cursor: None, limit: Some(200) };
            let page = app.list_proposals(&actor, q).await?;
            print_list(&page.items, json, |p| {
                let numbers: Vec<&str> = p.incidents.iter().map(|i| i.number.as_str()).collect();
                format!("#{:<5} {:<9} {}\n       {}", p.id, p.state, p.reason, numbers.join(" "))
            })
        }
        ProblemCmd::Accept { id, title, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let p = app.accept_proposal(&actor, id, AcceptInput { title, ..Default::default() }).await?;
            println!("{}", line(&p));
            Ok(())
        }
        ProblemCmd::Dismiss { id, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let p = app.dismiss_proposal(&actor, id).await?;
            println!("#{} {}", p.id, p.state);
            Ok(())
        }
    }
}

async fn change_cmd(app: &App, cmd: ChangeCmd) -> Result<()> {
    use orion_app::itsm::changes::{CalendarQuery, ChangeInput, ChangePhaseInput, ChangeQuery, DecisionInput};
    let line = |c: &orion_app::itsm::changes::Change| {
        format!(
            "{}  {:<9} {:<12} risk {:<6} {}{}",
            c.ticket.number,
            c.change_type,
            c.phase,
            c.risk.as_deref().unwrap_or("-"),
            c.ticket.title,
            if c.conflicts.is_empty() { String::new() } else { format!("  ({} conflicts)", c.conflicts.len()) }
        )
    };
    match cmd {
        ChangeCmd::List { phase, limit, as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let page = app.list_changes(&actor, ChangeQuery { phase, limit: Some(limit), cursor: None }).await?;
            print_list(&page.items, json, |c| format!("{}  {:<12} {:<3} {}", c.number, c.phase, c.priority, c.title))
        }
        ChangeCmd::Show { number, as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let c = app.get_change(&actor, &number).await?;
            if json {
                return print_json(&c);
            }
            println!("{}", line(&c));
            println!(
                "planned {} .. {}",
                c.planned_start.as_deref().unwrap_or("-"),
                c.planned_end.as_deref().unwrap_or("-")
            );
            for a in &c.approvals {
                println!("  round {}  {:<30} {}", a.round, a.approver, a.decision.as_deref().unwrap_or("waiting"));
            }
            for k in &c.conflicts {
                println!("  conflict ({}): {}", k.kind, k.message);
            }
            Ok(())
        }
        ChangeCmd::Create { file, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let input: ChangeInput = read_json(&file)?;
            let c = app.create_change(&actor, input).await?;
            println!("{}", line(&c));
            Ok(())
        }
        ChangeCmd::Move { number, phase, note, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let c = app.move_change(&actor, &number, ChangePhaseInput { phase, note }).await?;
            println!("{}", line(&c));
            Ok(())
        }
        ChangeCmd::Approve { number, comment, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let c = app.decide_change(&actor, &number, DecisionInput { decision: "approved".into(), comment }).await?;
            println!("{}", line(&c));
            Ok(())
        }
        ChangeCmd::Reject { number, comment, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let input = DecisionInput { decision: "rejected".into(), comment: Some(comment) };
            let c = app.decide_change(&actor, &number, input).await?;
            println!("{}", line(&c));
            Ok(())
        }
        ChangeCmd::Approvals { as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let list = app.my_approvals(&actor).await?;
            print_list(&list, json, |a| {
                format!("{}  {:<9} risk {:<6} {}", a.number, a.change_type, a.risk.as_deref().unwrap_or("-"), a.title)
            })
        }
        ChangeCmd::Calendar { from, to, as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let cal = app.change_calendar(&actor, CalendarQuery { from, to }).await?;
            if json {
                return print_json(&cal);
            }
            for f in &cal.freezes {
                println!("FREEZE {} .. {}  {}", f.starts_at, f.ends_at, f.name);
            }
            for c in &cal.changes {
                println!("{} .. {}  {}  {:<12} {}", c.planned_start, c.planned_end, c.number, c.phase, c.title);
                for k in &c.conflicts {
                    println!("    ! {}", k.message);
                }
            }
            Ok(())
        }
    }
}

async fn article_cmd(app: &App, cmd: ArticleCmd) -> Result<()> {
    use orion_app::kb::{ArticleEdit, ArticleInput, ArticleQuery, ArticleTransition};
    match cmd {
        ArticleCmd::List { as_user, state, stale, limit, json } => {
            let actor = app.actor_for(&as_user).await?;
            let q = ArticleQuery { state, stale: Some(stale), limit: Some(limit), ..Default::default() };
            let page = app.list_articles(&actor, q).await?;
            print_list(&page.items, json, |a| {
                format!(
                    "{}  {:<9} {:<11} {:<8} {}{}",
                    a.number,
                    a.state,
                    a.kind,
                    a.audience,
                    a.title,
                    if a.stale { "  (review overdue)" } else { "" }
                )
            })
        }
        ArticleCmd::Show { number, as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let a = app.get_article(&actor, &number, false).await?;
            if json {
                return print_json(&a);
            }
            println!("{}  {}  [{} · {} · {} · v{}]", a.number, a.title, a.state, a.kind, a.audience, a.version);
            println!("owner: {}   review by: {}", a.owner_name, a.review_by.as_deref().unwrap_or("-"));
            println!("\n{}", a.body);
            Ok(())
        }
        ArticleCmd::Create { as_user, title, file, kind, audience, category, tags, review_by, from_ticket, json } => {
            let actor = app.actor_for(&as_user).await?;
            let mut input = match &from_ticket {
                Some(t) => app.article_draft_from_ticket(&actor, t).await?,
                None => ArticleInput::default(),
            };
            if let Some(t) = title {
                input.title = t;
            }
            if let Some(f) = file {
                input.body = read_body(&f)?;
            }
            if input.title.is_empty() || input.body.is_empty() {
                anyhow::bail!("give --title and --file (or --from-ticket)");
            }
            input.kind = kind.or(input.kind);
            input.audience = audience.or(input.audience);
            input.category = category.or(input.category);
            input.review_by = review_by;
            if !tags.is_empty() {
                input.tags = tags.split(',').map(str::to_string).collect();
            }
            let a = app.create_article(&actor, input).await?;
            if json {
                return print_json(&a);
            }
            println!("{}", a.number);
            Ok(())
        }
        ArticleCmd::Edit { number, as_user, title, file, note } => {
            let actor = app.actor_for(&as_user).await?;
            let current = app.get_article(&actor, &number, false).await?;
            let body = file.map(|f| read_body(&f)).transpose()?;
            let edit = ArticleEdit {
                version: current.version,
                title,
                body,
                kind: None,
                audience: None,
                category: None,
                tags: None,
                review_by: None,
                owner: None,
                note: Some(note),
            };
            let a = app.edit_article(&actor, &number, edit).await?;
            println!("{} is at version {}", a.number, a.version);
            Ok(())
        }
        ArticleCmd::Transition { number, action, as_user, note } => {
            let actor = app.actor_for(&as_user).await?;
            let a =
                app.transition_article(&actor, &number, ArticleTransition { action, note, review_by: None }).await?;
            println!("{} is {}", a.number, a.state);
            Ok(())
        }
        ArticleCmd::History { number, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let (versions, events) = app.article_history(&actor, &number).await?;
            for v in versions {
                println!("v{:<4} {}  {:<20} {}  {}", v.version, v.changed_at, v.changed_by, v.title, v.note);
            }
            for e in events {
                println!("      {}  {:<20} {}  {}", e.at, e.actor.as_deref().unwrap_or("Orion"), e.action, e.note);
            }
            Ok(())
        }
        ArticleCmd::Diff { number, as_user, from, to } => {
            let actor = app.actor_for(&as_user).await?;
            let d = app.article_diff(&actor, &number, from, to).await?;
            print!("{}", d.unified);
            Ok(())
        }
        ArticleCmd::Attach { number, file, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let filename = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            let upload =
                orion_app::tickets::Upload { filename, content_type: "application/octet-stream".into(), bytes };
            let a = app.attach_to_article(&actor, &number, vec![upload]).await?;
            println!("{} has {} attachment(s)", a.number, a.attachments.len());
            Ok(())
        }
        ArticleCmd::Link { number, ticket, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            app.link_article(&actor, &ticket, &number).await?;
            println!("{number} linked to {ticket}");
            Ok(())
        }
        ArticleCmd::Deflections { as_user, days, json } => {
            let actor = app.actor_for(&as_user).await?;
            let r = app.deflection_report(&actor, days).await?;
            if json {
                return print_json(&r);
            }
            println!(
                "{} suggested articles opened, {} tickets deflected ({} to {})",
                r.opened, r.deflected, r.from, r.to
            );
            for a in r.articles {
                println!("{}  opened {:>5}  deflected {:>5}  {}", a.article, a.opened, a.deflected, a.title);
            }
            Ok(())
        }
    }
}

/// sysexits `EX_TEMPFAIL`: the MTA keeps the message and tries again.
const EX_TEMPFAIL: u8 = 75;

/// A failure that must end the process with this exit code.
#[derive(Debug)]
struct ExitWith(u8, String);

impl std::fmt::Display for ExitWith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

impl std::error::Error for ExitWith {}

async fn mail_ingest(args: &DbArgs, source: &str, mbox: bool) -> Result<()> {
    let temp =
        |what: &str, e: &dyn std::fmt::Display| anyhow::Error::new(ExitWith(EX_TEMPFAIL, format!("{what}: {e}")));
    let mut raw = Vec::new();
    std::io::stdin().read_to_end(&mut raw).map_err(|e| temp("reading the message", &e))?;
    let app = open(args).await.map_err(|e| temp("opening the database", &e))?;
    let messages = if mbox { orion_mail::mbox::split(&raw) } else { vec![raw] };
    let mut result = Ok(());
    for (n, raw) in messages.iter().enumerate() {
        match app.ingest_mail(raw, source).await {
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

async fn mail_cmd(app: &App, cmd: MailCmd) -> Result<()> {
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

async fn mailbox_cmd(app: &App, cmd: MailboxCmd) -> Result<()> {
    let line = |m: &orion_app::mailbox::Mailbox| {
        format!(
            "{:>4}  {:<16} {}@{}:{} ({}) {}  {}  last UID {}, {} taken{}",
            m.id,
            m.name,
            m.username,
            m.host,
            m.port,
            m.security,
            m.folder,
            if m.enabled { "enabled" } else { "disabled" },
            m.last_uid,
            m.fetched,
            m.last_error.as_deref().map(|e| format!("  [last poll failed: {e}]")).unwrap_or_default()
        )
    };
    match cmd {
        MailboxCmd::List { json } => print_list(&app.list_mailboxes(&operator()).await?, json, line),
        MailboxCmd::Add(args) => {
            let m = app.create_mailbox(&operator(), args.input()?).await?;
            println!("{}", line(&m));
            Ok(())
        }
        MailboxCmd::Update { id, args } => {
            let m = app.update_mailbox(&operator(), id, args.input()?).await?;
            println!("{}", line(&m));
            Ok(())
        }
        MailboxCmd::Remove { id } => {
            app.delete_mailbox(&operator(), id).await?;
            println!("mailbox {id} removed");
            Ok(())
        }
        MailboxCmd::Poll { id } => {
            let r = app.poll_mailbox_now(&operator(), id).await?;
            print_json(&r)?;
            match r.error {
                Some(e) => Err(anyhow::anyhow!("the poll failed: {e}")),
                None => Ok(()),
            }
        }
    }
}

/// The SMTP/LMTP listener's way into Orion.
struct SmtpIntake(App);

impl orion_mail::smtp::Handler for SmtpIntake {
    async fn accepts(&self, rcpt: &str) -> bool {
        match self.0.mail_settings().await {
            Ok(s) => s.accepts(rcpt),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the mail settings");
                false
            }
        }
    }

    async fn deliver(&self, e: orion_mail::smtp::Envelope) -> Result<(), orion_mail::smtp::Reject> {
        match self.0.ingest_mail(&e.data, "smtp").await {
            Ok(m) => {
                tracing::info!(id = m.id, status = %m.status, peer = %e.peer, "mail received by SMTP");
                Ok(())
            }
            Err(err) => {
                tracing::warn!(error = %err, peer = %e.peer, "mail not kept; the sender will retry");
                Err(orion_mail::smtp::Reject::Temporary("cannot store the message now, try again later".into()))
            }
        }
    }
}

async fn serve(args: &DbArgs, mail: &MailArgs, listen: &str, demo: bool, smtp_listen: Option<&str>) -> Result<()> {
    let app = open_with_mail(args, mail).await?;
    if demo {
        eprintln!("seeding the demo organisation (first start only)…");
        if app.seed_demo(350).await? {
            eprintln!("demo organisation seeded");
        }
    }
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    if demo {
        let admin = app.create_token_for(orion_app::demo::DEMO_ADMIN, "demo").await?;
        let agent = app.create_token_for(orion_app::demo::DEMO_AGENT, "demo").await?;
        let requester = app.create_token_for(orion_app::demo::DEMO_REQUESTER, "demo").await?;
        println!("Orion demo is running: open http://{addr}/ and sign in as");
        println!("  admin      {}", orion_app::demo::DEMO_ADMIN);
        println!("  L1 agent   {}", orion_app::demo::DEMO_AGENT);
        println!("  requester  {}  (the self-service portal)", orion_app::demo::DEMO_REQUESTER);
        println!("with the password {}", orion_app::demo::DEMO_PASSWORD);
        println!();
        println!("API tokens for the same accounts (new ones are made at every start):");
        println!("  admin      {}", admin.token);
        println!("  L1 agent   {}", agent.token);
        println!("  requester  {}", requester.token);
        println!();
        println!("Try:  curl -H 'Authorization: Bearer {}' http://{addr}/api/v1/tickets?state=open", agent.token);
        println!("API description: http://{addr}/api/v1/openapi.json");
    } else {
        println!("Orion is listening on http://{addr}");
    }
    if app.reindex_needed().await? {
        // Tickets logged before the search index existed (an upgrade): index them in the
        // background; everything written from now on indexes itself.
        let app = app.clone();
        tokio::spawn(async move {
            tracing::info!("building the search index of existing tickets and articles");
            match app.reindex(2000, |_, _| {}).await {
                Ok((t, a)) => tracing::info!(tickets = t, articles = a, "search index built"),
                Err(e) => tracing::error!(error = %e, "building the search index failed; run `orion reindex`"),
            }
        });
    }
    let stop_smtp = Arc::new(tokio::sync::Notify::new());
    let smtp = match smtp_listen {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for SMTP on {addr}"))?;
            println!("Orion takes mail by SMTP/LMTP on {}", l.local_addr()?);
            let config = Arc::new(orion_mail::smtp::Config { hostname: hostname(), ..Default::default() });
            let stop = stop_smtp.clone();
            Some(tokio::spawn(orion_mail::smtp::serve(l, config, Arc::new(SmtpIntake(app.clone())), async move {
                stop.notified().await
            })))
        }
        None => None,
    };
    let db = app.db.clone();
    let maintenance = tokio::spawn({
        let db = db.clone();
        async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
            loop {
                tick.tick().await;
                if let Err(e) = db.checkpoint().await {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        }
    });
    // Background jobs (SLA timers, mail, webhooks register their handlers here as they land).
    app.schedule_detection().await.context("scheduling the recurring-incident detector")?;
    let stop_worker = Arc::new(tokio::sync::Notify::new());
    let worker = tokio::spawn(
        orion_app::jobs::standard_worker(app.clone(), format!("{}:{}", hostname(), std::process::id())).run({
            let stop = stop_worker.clone();
            async move { stop.notified().await }
        }),
    );
    let stop_poller = Arc::new(tokio::sync::Notify::new());
    let poller = tokio::spawn(orion_app::mailbox::run_poller(app.clone(), {
        let stop = stop_poller.clone();
        async move { stop.notified().await }
    }));
    axum::serve(listener, orion_web::router(app).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    maintenance.abort();
    stop_smtp.notify_one();
    if let Some(s) = smtp {
        let _ = s.await;
    }
    stop_poller.notify_one();
    let _ = poller.await;
    stop_worker.notify_one();
    let _ = worker.await;
    tracing::info!("stopped accepting requests; closing the database");
    db.close().await;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// This machine's name, for job leases (`/etc/hostname`, else `HOSTNAME`, else "orion").
fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "orion".to_string())
}

/// Resolves on SIGINT or SIGTERM; in-flight requests then finish before exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn database_passwords_are_not_printed() {
        assert_eq!(redact("postgres://orion:s3cret@db:5432/orion"), "postgres://orion:***@db:5432/orion");
        assert_eq!(redact("sqlite://./orion-data/orion.db"), "sqlite://./orion-data/orion.db");
        assert_eq!(redact("postgres://orion@db/orion"), "postgres://orion@db/orion");
    }
}
