//! IMAP mailboxes: their settings (admins), and polling. One node at a time polls a mailbox (a
//! lease in the database); messages are fetched without marking them read, each is committed by
//! [`App::ingest_mail`], and only then flagged, moved or deleted on the server. The position
//! (UIDVALIDITY and the last UID taken) moves past a message only when it and every message
//! before it are committed, so a connection lost in the middle of a fetch loses nothing, and what
//! is fetched again is recognised by its content hash and not taken twice.

use crate::{App, AppError, AppResult};
use orion_domain::{Actor, FieldErrors, Timestamp};
use orion_mail::imap::{self, After, Auth, Security};
use orion_store::mailbox::{self, MailboxRow, MailboxSettings};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;

/// Messages fetched per IMAP command.
const BATCH: usize = 25;
/// How long a poll holds its mailbox before another node may take it over; renewed every batch.
const LEASE_MS: i64 = 5 * 60_000;

/// `POST /api/v1/mail/mailboxes`, `PUT /api/v1/mail/mailboxes/{id}`
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxInput {
    /// A short name; messages from it are logged with source `imap:<name>`
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: Option<String>,
    #[schema(min_length = 1, pattern = "\\S")]
    pub host: Option<String>,
    /// Default 993 with `tls`, 143 otherwise
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<i64>,
    /// `tls` (default), `starttls` or `none` (only for a server on the same host)
    pub security: Option<String>,
    #[schema(min_length = 1, pattern = "\\S")]
    pub username: Option<String>,
    /// `password` (default) or `xoauth2` (an OAuth2 access token, Microsoft 365 / Google)
    pub auth: Option<String>,
    /// The password or token; write-only. On update, leave out to keep the stored one
    pub secret: Option<String>,
    /// Instead of `secret`: a file name in the data directory's `secrets/` folder, read at every
    /// poll (for tokens another program refreshes)
    pub secret_file: Option<String>,
    /// Default `INBOX`
    pub folder: Option<String>,
    /// What to do with a message once it is committed: `flag` (default, set \Seen), `move`, `delete`
    pub after_fetch: Option<String>,
    /// The folder for `after_fetch: move`
    pub move_to: Option<String>,
    /// Default 60, at least 10
    #[schema(minimum = 10, maximum = 86400)]
    pub poll_seconds: Option<i64>,
    /// Default true
    pub enabled: Option<bool>,
}

/// A mailbox as admins see it: settings (never the secret) and how polling goes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Mailbox {
    pub id: i64,
    pub name: String,
    pub host: String,
    pub port: i64,
    pub security: String,
    pub username: String,
    pub auth: String,
    /// Whether a password or token is stored
    pub has_secret: bool,
    pub secret_file: Option<String>,
    pub folder: String,
    pub after_fetch: String,
    pub move_to: Option<String>,
    pub poll_seconds: i64,
    pub enabled: bool,
    pub uidvalidity: Option<i64>,
    /// The highest UID taken (every message up to it is committed)
    pub last_uid: i64,
    /// Messages taken from this mailbox so far
    pub fetched: i64,
    /// The node polling it now, if any
    pub polling_node: Option<String>,
    pub last_polled_at: Option<String>,
    pub last_ok_at: Option<String>,
    /// Why the last poll failed (empty when it succeeded)
    pub last_error: Option<String>,
}

impl Mailbox {
    fn from_row(r: MailboxRow, now: i64) -> Self {
        let ts = |t: Option<i64>| t.map(|t| Timestamp(t).to_rfc3339());
        Self {
            id: r.id,
            name: r.name,
            host: r.host,
            port: r.port,
            security: r.security,
            username: r.username,
            auth: r.auth,
            has_secret: r.secret.is_some(),
            secret_file: r.secret_file,
            folder: r.folder,
            after_fetch: r.after_fetch,
            move_to: r.move_to,
            poll_seconds: r.poll_seconds,
            enabled: r.enabled,
            uidvalidity: r.uidvalidity,
            last_uid: r.last_uid,
            fetched: r.fetched,
            polling_node: r.lease_owner.filter(|_| r.lease_until > now),
            last_polled_at: ts(r.last_polled_at),
            last_ok_at: ts(r.last_ok_at),
            last_error: r.last_error,
        }
    }
}

/// What one poll did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct PollReport {
    /// False when another node holds the mailbox (nothing was done here)
    pub polled: bool,
    /// Messages fetched from the server
    pub fetched: usize,
    /// Of those, messages already taken before (fetched again after an interruption)
    pub duplicates: usize,
    pub error: Option<String>,
}

struct Valid {
    name: String,
    host: String,
    port: i64,
    security: &'static str,
    username: String,
    auth: &'static str,
    secret: Option<String>,
    secret_file: Option<String>,
    folder: String,
    after_fetch: &'static str,
    move_to: Option<String>,
    poll_seconds: i64,
    enabled: bool,
}

fn text(errs: &mut FieldErrors, field: &str, v: Option<&str>, default: Option<&str>) -> String {
    let v = v.map(str::trim).filter(|s| !s.is_empty()).or(default);
    match v {
        None => {
            errs.push(field, "is required");
            String::new()
        }
        Some(s) if s.chars().count() > 200 || s.contains(['\r', '\n']) => {
            errs.push(field, "must be one line of at most 200 characters");
            String::new()
        }
        Some(s) => s.to_string(),
    }
}

fn pick(errs: &mut FieldErrors, field: &str, v: Option<&str>, allowed: &[&'static str]) -> &'static str {
    match v {
        None => allowed[0],
        Some(v) => allowed.iter().find(|a| **a == v).copied().unwrap_or_else(|| {
            errs.push(field, format!("expected one of {}", allowed.join(", ")));
            allowed[0]
        }),
    }
}

fn validate(i: &MailboxInput, existing: Option<&MailboxRow>) -> AppResult<Valid> {
    let mut errs = FieldErrors::new();
    let name = text(&mut errs, "name", i.name.as_deref(), None);
    let host = text(&mut errs, "host", i.host.as_deref(), None);
    let username = text(&mut errs, "username", i.username.as_deref(), None);
    let folder = text(&mut errs, "folder", i.folder.as_deref(), Some("INBOX"));
    let security = pick(&mut errs, "security", i.security.as_deref(), &["tls", "starttls", "none"]);
    let auth = pick(&mut errs, "auth", i.auth.as_deref(), &["password", "xoauth2"]);
    let after_fetch = pick(&mut errs, "after_fetch", i.after_fetch.as_deref(), &["flag", "move", "delete"]);
    let port = i.port.unwrap_or(if security == "tls" { 993 } else { 143 });
    if !(1..=65535).contains(&port) {
        errs.push("port", "must be between 1 and 65535");
    }
    let move_to = i.move_to.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    if after_fetch == "move" && move_to.is_none() {
        errs.push("move_to", "is required with after_fetch: move");
    }
    let poll_seconds = i.poll_seconds.unwrap_or(60);
    if !(10..=86_400).contains(&poll_seconds) {
        errs.push("poll_seconds", "must be between 10 and 86400");
    }
    let secret_file = i.secret_file.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    if let Some(f) = &secret_file
        && (f.starts_with('.') || !f.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        errs.push("secret_file", "must be a plain file name in the data directory's secrets/ folder");
    }
    let secret = match (&i.secret, &secret_file) {
        (Some(_), Some(_)) => {
            errs.push("secret", "give either secret or secret_file");
            None
        }
        (Some(s), None) if s.is_empty() => {
            errs.push("secret", "must not be empty");
            None
        }
        (Some(s), None) => Some(s.clone()),
        (None, Some(_)) => None,
        (None, None) => match existing.and_then(|e| e.secret.clone()) {
            Some(kept) => Some(kept),
            None => {
                errs.push("secret", "is required (or secret_file)");
                None
            }
        },
    };
    errs.into_result()?;
    Ok(Valid {
        name,
        host,
        port,
        security,
        username,
        auth,
        secret,
        secret_file,
        folder,
        after_fetch,
        move_to,
        poll_seconds,
        enabled: i.enabled.unwrap_or(true),
    })
}

impl Valid {
    fn settings(&self) -> MailboxSettings<'_> {
        MailboxSettings {
            name: &self.name,
            host: &self.host,
            port: self.port,
            security: self.security,
            username: &self.username,
            auth: self.auth,
            secret: self.secret.as_deref(),
            secret_file: self.secret_file.as_deref(),
            folder: &self.folder,
            after_fetch: self.after_fetch,
            move_to: self.move_to.as_deref(),
            poll_seconds: self.poll_seconds,
            enabled: self.enabled,
        }
    }
}

fn admin_only(actor: &Actor) -> AppResult<()> {
    crate::kernel::access::require_admin(actor, "manage mailboxes")
}

fn not_found<T>(r: Result<T, orion_store::StoreError>) -> AppResult<T> {
    crate::kernel::error::found(r, "mailbox")
}

fn name_taken(e: orion_store::StoreError) -> AppError {
    match e {
        orion_store::StoreError::Duplicate => crate::kernel::error::invalid("name", "another mailbox has this name"),
        e => e.into(),
    }
}

impl App {
    pub async fn list_mailboxes(&self, actor: &Actor) -> AppResult<Vec<Mailbox>> {
        admin_only(actor)?;
        let now = self.now();
        let mut r = self.db.read().await?;
        Ok(mailbox::list(&mut r.conn()).await?.into_iter().map(|m| Mailbox::from_row(m, now)).collect())
    }

    pub async fn create_mailbox(&self, actor: &Actor, input: MailboxInput) -> AppResult<Mailbox> {
        admin_only(actor)?;
        let v = validate(&input, None)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let id = mailbox::insert(&mut c, &v.settings(), now).await.map_err(name_taken)?;
        let row = mailbox::get(&mut c, id).await?;
        self.commit(tx).await?;
        tracing::info!(mailbox = %v.name, host = %v.host, user = %v.username, "mailbox added");
        Ok(Mailbox::from_row(row, now))
    }

    /// Replaces a mailbox's settings; a left-out `secret` keeps the stored one.
    pub async fn update_mailbox(&self, actor: &Actor, id: i64, input: MailboxInput) -> AppResult<Mailbox> {
        admin_only(actor)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let existing = not_found(mailbox::get(&mut c, id).await)?;
        let v = validate(&input, Some(&existing))?;
        mailbox::update(&mut c, id, &v.settings(), now).await.map_err(name_taken)?;
        let row = mailbox::get(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(Mailbox::from_row(row, now))
    }

    pub async fn delete_mailbox(&self, actor: &Actor, id: i64) -> AppResult<()> {
        admin_only(actor)?;
        let mut tx = self.db.begin().await?;
        if !mailbox::delete(&mut tx.conn(), id).await? {
            return Err(AppError::NotFound("mailbox"));
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// Polls one mailbox now on this node and says what happened (admins).
    pub async fn poll_mailbox_now(&self, actor: &Actor, id: i64) -> AppResult<PollReport> {
        admin_only(actor)?;
        {
            let mut r = self.db.read().await?;
            not_found(mailbox::get(&mut r.conn(), id).await)?;
        }
        self.poll_mailbox(id, &self.mail_rt.node).await
    }

    /// Takes the mailbox's lease, reads what is new, and releases it with the next poll scheduled.
    pub async fn poll_mailbox(&self, id: i64, owner: &str) -> AppResult<PollReport> {
        let now = self.now();
        let row = {
            let mut tx = self.db.begin().await?;
            let mut c = tx.conn();
            if !mailbox::lease(&mut c, id, owner, now, now + LEASE_MS).await? {
                return Ok(PollReport::default());
            }
            let row = mailbox::get(&mut c, id).await?;
            self.commit(tx).await?;
            row
        };
        let mut report = PollReport { polled: true, ..Default::default() };
        let result = self.read_mailbox(&row, owner, &mut report).await;
        if let Err(e) = &result {
            tracing::warn!(mailbox = %row.name, error = %e, "mailbox poll failed");
            metrics::counter!("orion_mail_poll_errors_total").increment(1);
            report.error = Some(e.clone());
        }
        let done = self.now();
        let mut tx = self.db.begin().await?;
        mailbox::finish(&mut tx.conn(), id, owner, done, done + row.poll_seconds * 1000, report.error.as_deref())
            .await?;
        self.commit(tx).await?;
        Ok(report)
    }

    fn mailbox_secret(&self, row: &MailboxRow) -> Result<String, String> {
        match (&row.secret_file, &row.secret) {
            (Some(file), _) => self.mail_rt.read_secret_file(file),
            (None, Some(s)) => Ok(s.clone()),
            (None, None) => Err("the mailbox has no password or token".into()),
        }
    }

    async fn read_mailbox(&self, row: &MailboxRow, owner: &str, report: &mut PollReport) -> Result<(), String> {
        let secret = self.mailbox_secret(row)?;
        let account = imap::Account {
            host: row.host.clone(),
            port: u16::try_from(row.port).map_err(|_| "bad port")?,
            security: match row.security.as_str() {
                "tls" => Security::Tls,
                "starttls" => Security::StartTls,
                _ => Security::None,
            },
            username: row.username.clone(),
            auth: if row.auth == "xoauth2" { Auth::XOAuth2(secret) } else { Auth::Password(secret) },
            ca_file: self.mail_rt.ca_file.clone(),
            timeout: self.mail_rt.imap_timeout,
        };
        let after = match row.after_fetch.as_str() {
            "move" => After::Move(row.move_to.clone().unwrap_or_default()),
            "delete" => After::Delete,
            _ => After::Flag,
        };
        let source = format!("imap:{}", row.name);
        let mut session = imap::connect(&account).await.map_err(|e| e.to_string())?;
        let outcome = self.read_folder(&mut session, row, owner, &after, &source, report).await;
        session.logout().await;
        outcome
    }

    async fn read_folder(
        &self,
        session: &mut imap::ImapSession,
        row: &MailboxRow,
        owner: &str,
        after: &After,
        source: &str,
        report: &mut PollReport,
    ) -> Result<(), String> {
        let validity = session.select(&row.folder).await.map_err(|e| e.to_string())?;
        let mut last = match row.uidvalidity {
            Some(v) if v == i64::from(validity) => u32::try_from(row.last_uid).unwrap_or(0),
            Some(v) => {
                // The folder was re-created: its UIDs start again. Read it all; what was taken
                // before is recognised by its content and not taken twice.
                tracing::warn!(mailbox = %row.name, old = v, new = validity, "UIDVALIDITY changed; reading the folder again");
                0
            }
            None => 0,
        };
        let uids = session.uids_after(last).await.map_err(|e| e.to_string())?;
        for chunk in uids.chunks(BATCH) {
            let mut fetched = session.fetch(chunk).await;
            fetched.messages.sort_by_key(|(uid, _)| *uid);
            let mut committed = Vec::new();
            let mut taken = 0i64;
            let mut stop = fetched.error.map(|e| e.to_string());
            for (uid, raw) in &fetched.messages {
                report.fetched += 1;
                match self.ingest_mail(raw, source).await {
                    Ok(m) => {
                        report.duplicates += usize::from(m.duplicate);
                        taken += i64::from(!m.duplicate);
                        committed.push(*uid);
                    }
                    Err(e) => {
                        stop = Some(format!("message UID {uid} could not be stored: {e}"));
                        break;
                    }
                }
            }
            // Flag, move or delete what is committed; the position passes a message only when both
            // are done, so a message whose flag was lost is fetched again (and not taken twice).
            let acted = match session.done(&committed, after).await {
                Ok(()) => committed,
                Err(e) => {
                    stop.get_or_insert(format!("after fetching: {e}"));
                    Vec::new()
                }
            };
            if let Some(uid) = chunk.iter().take_while(|u| acted.contains(u)).last() {
                last = *uid;
            }
            let now = self.now();
            let mut tx = self.db.begin().await.map_err(|e| e.to_string())?;
            let mut c = tx.conn();
            let ours = mailbox::set_position(&mut c, row.id, owner, i64::from(validity), i64::from(last), taken)
                .await
                .map_err(|e| e.to_string())?
                && mailbox::lease(&mut c, row.id, owner, now, now + LEASE_MS).await.map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            if !ours {
                return Err("another node took over the mailbox".into());
            }
            if let Some(e) = stop {
                return Err(e);
            }
        }
        if uids.is_empty() {
            // Remember the UIDVALIDITY even when there was nothing to read.
            let mut tx = self.db.begin().await.map_err(|e| e.to_string())?;
            mailbox::set_position(&mut tx.conn(), row.id, owner, i64::from(validity), i64::from(last), 0)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Polls every due mailbox this node can take, until `shutdown`. Each node of a cluster runs one;
/// the lease keeps two from reading the same mailbox.
pub async fn run_poller(app: App, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let owner = app.mail_rt.node.clone();
    loop {
        let pause = match poll_due(&app, &owner).await {
            Ok(next) => next
                .map(|at| Duration::from_millis((at - app.now()).clamp(1_000, 30_000) as u64))
                .unwrap_or(Duration::from_secs(30)),
            Err(e) => {
                tracing::error!(error = %e, "mailbox poller step failed");
                Duration::from_secs(30)
            }
        };
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

async fn poll_due(app: &App, owner: &str) -> AppResult<Option<i64>> {
    let due = {
        let mut r = app.db.read().await?;
        mailbox::due(&mut r.conn(), app.now()).await?
    };
    for id in due {
        app.poll_mailbox(id, owner).await?;
    }
    let mut r = app.db.read().await?;
    Ok(mailbox::next_due(&mut r.conn()).await?)
}
