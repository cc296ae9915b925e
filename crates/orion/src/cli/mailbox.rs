//! `orion mailbox`: the IMAP mailboxes Orion polls.

use super::operator;
use super::output::{print_json, print_list, read_password};
use anyhow::Result;
use clap::{Args, Subcommand};
use orion_app::App;

#[derive(Args)]
pub struct MailboxArgs {
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
pub enum MailboxCmd {
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

pub async fn run(app: &App, cmd: MailboxCmd) -> Result<()> {
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
