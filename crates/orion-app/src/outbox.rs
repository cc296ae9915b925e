//! Mail Orion sends to requesters. A change that should tell the requester (a new ticket, an
//! agent's public reply, a state change that matters to them, the resolution) queues a
//! `mail.notify` job in its own transaction; the job renders the template, applies the loop and
//! rate-limit rules, stores the message with its Message-ID and queues `mail.send`, which hands it
//! to the relay and retries while the relay is away. An SMTP outage delays mail, never loses it.

use crate::{App, AppError, AppResult, Page};
use orion_domain::{Actor, Timestamp};
use orion_mail::outbound::{Outgoing, compose};
use orion_store::jobs::{self, JobRow, NewJob};
use orion_store::{Conn, mail, outbox, tickets, timeline};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use utoipa::ToSchema;

use crate::sending::{SECRET_TEMPLATES, domain_of, queue_send};
pub use crate::sending::{SEND_JOB, Templates};

pub const NOTIFY_JOB: &str = "mail.notify";

/// The notifications a requester can get, each with a template of the same name.
pub use crate::settings::mail::NOTICES as EVENTS;

const HOUR_MS: i64 = 3_600_000;

/// What a node needs to send and fetch mail: the relay, the templates, extra trusted
/// certificates, where mailbox secrets live, and this node's name.
pub struct MailRuntime {
    pub relay: Option<orion_mail::outbound::Sender>,
    pub templates: Templates,
    pub ca_file: Option<PathBuf>,
    /// Mailbox `secret_file`s are read from here (`<data dir>/secrets`)
    pub secrets_dir: Option<PathBuf>,
    /// The longest one IMAP step may take
    pub imap_timeout: Duration,
    /// This node's name in mailbox leases
    pub node: String,
}

impl MailRuntime {
    /// A secret kept in a file of this node's `secrets/` folder (a mailbox's or a directory's
    /// password, a token another program refreshes), read fresh at each use; surrounding
    /// whitespace and line endings are not part of it.
    pub(crate) fn read_secret_file(&self, file: &str) -> Result<String, String> {
        let dir = self.secrets_dir.as_ref().ok_or("no secrets folder is configured on this node")?;
        let path = dir.join(file);
        let s = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(s.trim().to_string())
    }
}

impl Default for MailRuntime {
    fn default() -> Self {
        Self {
            relay: None,
            templates: Templates::default(),
            ca_file: None,
            secrets_dir: None,
            imap_timeout: Duration::from_secs(60),
            node: format!("node-{}", std::process::id()),
        }
    }
}

/// Queues the notification for `event` on ticket `t` inside the caller's transaction, if the
/// settings send it and the requester did not cause it themselves.
pub(crate) async fn notice(
    c: &mut Conn<'_>,
    settings: &crate::settings::mail::MailSettings,
    (ticket_id, requester_id): (i64, i64),
    event: &str,
    extra: Value,
    actor_id: Option<i64>,
    now: i64,
) -> AppResult<()> {
    if !settings.sends(event) || (event != "received" && actor_id == Some(requester_id)) {
        return Ok(());
    }
    queue_notice(c, ticket_id, event, extra, now).await
}

/// The requester-mail subscriber to ticket events: "we received your ticket", a reply from the
/// desk, the ticket put on hold for them or reopened, and the resolution (each as the mail
/// settings allow; never about what the requester did themselves).
pub(crate) async fn react(
    c: &mut Conn<'_>,
    settings: &crate::settings::mail::MailSettings,
    r: &timeline::Recorded,
) -> AppResult<()> {
    use orion_domain::{CommentKind, State, TicketEvent, TicketKind};
    // A fulfilment task is the desk's own work: its requester hears of the request, not of it.
    if matches!(r.event, TicketEvent::Created { kind: TicketKind::Task, .. })
        || r.ticket.as_deref().is_some_and(|t| t.kind == TicketKind::Task.as_str())
    {
        return Ok(());
    }
    if let TicketEvent::Created { notify_requester: true, .. } = r.event {
        return queue_notice(c, r.ticket_id, "received", Value::Null, r.at).await;
    }
    // A routing rule's automatic reply is Orion's own: mailed like a reply from the desk.
    if let (TicketEvent::Commented { kind: CommentKind::Comment, by_staff: true, .. }, Some(t), None) =
        (&r.event, r.ticket.as_deref(), r.actor.as_ref())
    {
        let extra = json!({ "entry_id": r.entry.as_ref().map(|e| e.id) });
        return notice(c, settings, (t.id, t.requester_id), "public_reply", extra, None, r.at).await;
    }
    let (Some(t), Some(actor)) = (r.ticket.as_deref(), r.actor.as_ref()) else { return Ok(()) };
    let (event, extra) = match &r.event {
        TicketEvent::StateChanged { from, to: State::Pending } => {
            ("state_changed", json!({"from": from.as_str(), "to": "pending", "pending_reason": t.pending_reason}))
        }
        TicketEvent::Reopened { from, to } => ("state_changed", json!({"from": from.as_str(), "to": to.as_str()})),
        TicketEvent::Resolved => ("resolved", Value::Null),
        TicketEvent::Commented { kind: CommentKind::Comment, by_staff: true, .. } => {
            ("public_reply", json!({ "entry_id": r.entry.as_ref().map(|e| e.id) }))
        }
        _ => return Ok(()),
    };
    notice(c, settings, (t.id, t.requester_id), event, extra, Some(actor.id.0), r.at).await
}

/// Queues a `mail.notify` job (the caller has checked that the settings send `event`).
pub(crate) async fn queue_notice(
    c: &mut Conn<'_>,
    ticket_id: i64,
    event: &str,
    extra: Value,
    now: i64,
) -> AppResult<()> {
    // The nonce names this notification in its Message-ID, the same on every retry of the job.
    let nonce = format!("{:016x}", rand::random::<u64>());
    let mut payload = json!({"ticket_id": ticket_id, "event": event, "nonce": nonce});
    if let (Some(p), Some(extra)) = (payload.as_object_mut(), extra.as_object()) {
        p.extend(extra.clone());
    }
    jobs::enqueue(
        c,
        &NewJob { kind: NOTIFY_JOB, payload: &payload.to_string(), run_at: now, dedupe_key: None, max_attempts: 10 },
        now,
    )
    .await?;
    Ok(())
}

/// One message Orion sent or is sending, as the outbox lists it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutboundMail {
    pub id: i64,
    pub created_at: String,
    pub ticket: Option<String>,
    /// `received`, `public_reply`, `state_changed`, `resolved`
    pub template: String,
    pub automatic: bool,
    pub recipients: Vec<String>,
    pub message_id: String,
    pub subject: String,
    /// `queued` (waiting or retrying), `sent`, `failed` (given up; can be retried), `suppressed`
    pub status: String,
    pub reason: Option<String>,
    pub attempts: i64,
    pub sent_at: Option<String>,
}

impl From<outbox::OutboundRow> for OutboundMail {
    fn from(r: outbox::OutboundRow) -> Self {
        Self {
            id: r.id,
            created_at: Timestamp(r.created_at).to_rfc3339(),
            ticket: r.ticket_number,
            template: r.template,
            automatic: r.automatic,
            recipients: r.recipients.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            message_id: r.message_id,
            subject: r.subject,
            status: r.status,
            reason: r.reason,
            attempts: r.attempts,
            sent_at: r.sent_at.map(|t| Timestamp(t).to_rfc3339()),
        }
    }
}

/// The Message-ID every message about a ticket refers to, so a reply to any of them finds it.
pub(crate) fn root_id(number: &str, from_address: &str) -> String {
    format!("{number}@{}", domain_of(from_address))
}

/// A `mail.notify` job's work, done in the worker's settling transaction.
struct Notice {
    app: App,
    job: JobRow,
}

impl crate::kernel::jobs::SettleWork for Notice {
    fn apply<'a>(
        &'a self,
        c: &'a mut Conn<'_>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = AppResult<()>> + Send + 'a>> {
        Box::pin(self.app.notice_in(c, &self.job))
    }
}

/// What became of one attempt at sending a message: its new status, and the internal note a
/// failure for good leaves on its ticket (ticket, time, text, data).
struct SendOutcome {
    id: i64,
    status: &'static str,
    error: Option<String>,
    sent_at: Option<i64>,
    failure_note: Option<(i64, i64, String, String)>,
}

impl crate::kernel::jobs::SettleWork for SendOutcome {
    fn apply<'a>(
        &'a self,
        c: &'a mut Conn<'_>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = AppResult<()>> + Send + 'a>> {
        Box::pin(async move {
            outbox::set_status(c, self.id, self.status, self.error.as_deref(), self.sent_at).await?;
            if let Some((ticket_id, at, body, data)) = &self.failure_note {
                crate::tickets::internal_note(c, *ticket_id, *at, "mail_failed", body, data).await?;
            }
            Ok(())
        })
    }
}

impl App {
    /// A `mail.notify` job: all of it is database work, done in the transaction that settles the
    /// worker's claim ([`Notice`]).
    pub fn notice_work(&self, job: JobRow) -> crate::kernel::jobs::Handled {
        crate::kernel::jobs::Handled::with(Ok(()), Notice { app: self.clone(), job })
    }

    /// Renders a `mail.notify` job's notification and queues it for sending, on `c`.
    async fn notice_in(&self, c: &mut Conn<'_>, job: &JobRow) -> AppResult<()> {
        let p: Value = serde_json::from_str(&job.payload).map_err(|e| AppError::Internal(e.to_string()))?;
        let ticket_id = p["ticket_id"].as_i64().ok_or(AppError::Internal("mail.notify without ticket_id".into()))?;
        let event = p["event"].as_str().unwrap_or_default().to_string();
        let now = self.now();
        // The per-node configuration cache (what ticket intake reads), not a query per notice.
        let config = self.config(c).await?;
        let settings = &config.mail;
        let Some(from) = settings.sender().map(str::to_string) else { return Ok(()) };
        if !settings.sends(&event) {
            return Ok(());
        }
        let t = tickets::get(c, ticket_id).await?;
        let nonce = p["nonce"].as_str().map_or_else(|| job.id.to_string(), str::to_string);
        let message_id = format!("{}.{}.{nonce}@{}", t.number, event.replace('_', "-"), domain_of(&from));
        if outbox::exists(c, &message_id).await? {
            return Ok(());
        }
        let requester = orion_store::users::get(c, t.requester_id).await?;
        let mut to = vec![requester.email.clone()];
        let mut cc: Vec<String> = Vec::new();
        let mut reply = Value::Null;
        if event == "public_reply" {
            let entry_id = p["entry_id"].as_i64().unwrap_or_default();
            let entry = timeline::list(c, t.id, false, Some(entry_id - 1), 1).await?.into_iter().next();
            let Some(entry) = entry.filter(|e| e.id == entry_id) else { return Ok(()) };
            let data: Value = serde_json::from_str(&entry.data).unwrap_or_default();
            cc = data["cc"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect();
            reply = json!({"author": entry.actor_name.unwrap_or_default(), "text": entry.body});
        }
        // Never to Orion itself (a loop), and nobody twice.
        let own = |a: &String| a.eq_ignore_ascii_case(&from) || settings.is_own(a);
        // `.invalid` never resolves (RFC 2606): the requesters Orion makes for monitoring.
        let reserved = |a: &String| a.to_ascii_lowercase().ends_with(".invalid");
        let to_reserved = to.iter().any(reserved);
        to.retain(|a| !own(a) && !reserved(a));
        cc.retain(|a| !own(a) && !to.iter().any(|t| t.eq_ignore_ascii_case(a)));
        let automatic = event != "public_reply";
        let ctx = json!({
            "ticket": {"number": t.number, "title": t.title, "state": t.state, "priority": format!("P{}", t.priority),
                       "kind": t.kind, "group": t.assignment_group_name, "assignee": t.assignee_name,
                       "description": t.description, "resolution_code": t.resolution_code,
                       "resolution_notes": t.resolution_notes},
            "requester": {"name": requester.name, "email": requester.email},
            "helpdesk": {"name": settings.from_name, "address": from},
            "portal_url": settings.portal_url,
            "reply": reply,
            "change": {"from": p["from"], "to": p["to"], "pending_reason": p["pending_reason"]},
        });
        let (mut subject, text) =
            crate::sending::render_mail(&config.mail_templates, &self.mail_rt.templates, &event, &ctx)
                .map_err(|e| AppError::Internal(format!("mail template {e}")))?;
        let tag = format!("[{}]", t.number);
        if !subject.contains(&tag) {
            subject = format!("{tag} {subject}");
        }
        // Why this message must not go out, if it must not.
        let mut suppressed = None;
        if to.is_empty() && cc.is_empty() && to_reserved {
            suppressed = Some(format!("{} is a reserved .invalid address (a monitoring requester)", requester.email));
        } else if to.is_empty() && cc.is_empty() {
            suppressed = Some(format!("the requester's address {} is a helpdesk address (loop)", requester.email));
        } else if automatic && !requester.active {
            suppressed = Some(format!("the requester {} is deactivated", requester.email));
        } else if automatic {
            if let Some(b) = mail::bounce_of(c, &requester.email).await?
                && b.permanent
            {
                suppressed =
                    Some(format!("mail to {} bounces permanently ({})", requester.email, b.status.unwrap_or_default()));
            } else if outbox::count_auto_since(c, &requester.email, now - HOUR_MS).await?
                >= settings.auto_reply_limit_per_hour
            {
                suppressed = Some(format!(
                    "auto-reply rate limit: {} automatic messages to {} in the last hour",
                    settings.auto_reply_limit_per_hour, requester.email
                ));
            }
        }
        let root = root_id(&t.number, &from);
        let last_in = mail::last_inbound_message(c, t.id).await?;
        let mut references = vec![root.clone()];
        references.extend(last_in.clone());
        let raw = compose(&Outgoing {
            from_name: &settings.from_name,
            from_address: &from,
            to: &to,
            cc: &cc,
            subject: &subject,
            text: &text,
            message_id: &message_id,
            in_reply_to: Some(last_in.as_deref().unwrap_or(&root)),
            references: &references,
            auto_submitted: automatic.then_some(if event == "received" { "auto-replied" } else { "auto-generated" }),
            date_ms: now,
        })
        .map_err(|e| AppError::Internal(format!("composing mail for {}: {e}", t.number)))?;
        let sha = orion_mail::sha256_hex(&raw);
        mail::put_blob(c, &sha, &raw, now).await?;
        let recipients = to.iter().chain(&cc).cloned().collect::<Vec<_>>().join(",");
        let id = outbox::insert(
            c,
            &outbox::NewOutbound {
                ticket_id: Some(t.id),
                template: &event,
                sender: &from,
                automatic,
                recipients: &recipients,
                message_id: &message_id,
                subject: &subject,
                raw_sha256: &sha,
                status: if suppressed.is_some() { "suppressed" } else { "queued" },
                reason: suppressed.as_deref(),
            },
            now,
        )
        .await?;
        if suppressed.is_none() {
            let first = to.first().or(cc.first()).map(String::as_str);
            mail::link_message(c, &message_id, t.id, "out", first, now).await?;
            mail::link_message(c, &root, t.id, "out", None, now).await?;
            if automatic {
                outbox::record_auto(c, &requester.email, now, now - HOUR_MS).await?;
            }
            queue_send(c, id, Some(t.id), now).await?;
        }
        metrics::counter!("orion_mail_queued_total", "template" => event, "suppressed" => suppressed.is_some().to_string())
            .increment(1);
        Ok(())
    }

    /// Runs a `mail.send` job: hands the stored message to the relay. A refusal for good (5xx)
    /// or the last attempt marks it failed with an internal note on the ticket; anything else
    /// is retried. The message's new status is written when the worker settles its claim.
    pub async fn run_send(&self, job: &JobRow) -> crate::kernel::jobs::Handled {
        use crate::kernel::jobs::Handled;
        let (row, raw) = match self.load_queued(job).await {
            Ok(Some(found)) => found,
            Ok(None) => return Handled::from(Ok(())),
            Err(e) => return Handled::from(Err(e)),
        };
        let id = row.id;
        let recipients: Vec<String> = row.recipients.split(',').map(str::to_string).collect();
        let result = match &self.mail_rt.relay {
            None => Err(orion_mail::outbound::SendError {
                permanent: false,
                message: "no SMTP relay is configured on this node (--smtp-relay / ORION_SMTP_RELAY)".into(),
            }),
            Some(s) => s.send(&row.sender, &recipients, &raw).await,
        };
        let now = self.now();
        let sent = |status: &'static str, error: Option<String>, sent_at: Option<i64>| SendOutcome {
            id,
            status,
            error,
            sent_at,
            failure_note: None,
        };
        match result {
            Ok(()) => {
                metrics::counter!("orion_mail_sent_total").increment(1);
                Handled::with(Ok(()), sent("sent", None, Some(now)))
            }
            Err(e) if e.permanent || job.attempts >= job.max_attempts => {
                let why = if e.permanent {
                    e.message.clone()
                } else {
                    format!("gave up after {} attempts: {}", job.attempts, e.message)
                };
                let mut outcome = sent("failed", Some(why.clone()), None);
                if let Some(ticket_id) = row.ticket_id {
                    let body = format!("Mail to {} could not be sent: {why}", recipients.join(", "));
                    let data = json!({"outbound_id": id, "message_id": row.message_id, "recipients": recipients});
                    outcome.failure_note = Some((ticket_id, now, body, data.to_string()));
                }
                metrics::counter!("orion_mail_failed_total").increment(1);
                Handled::with(Ok(()), outcome)
            }
            Err(e) => Handled::with(Err(e.message.clone()), sent("queued", Some(e.message), None)),
        }
    }

    /// A `mail.send` job's message and its raw text, if it is still queued.
    async fn load_queued(&self, job: &JobRow) -> Result<Option<(outbox::OutboundRow, Vec<u8>)>, String> {
        let p: Value = serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
        let id = p["outbound_id"].as_i64().ok_or("mail.send without outbound_id")?;
        let mut r = self.db.read().await.map_err(|e| e.to_string())?;
        let mut c = r.conn();
        let row = outbox::get(&mut c, id).await.map_err(|e| e.to_string())?;
        if row.status != "queued" {
            return Ok(None);
        }
        let raw = mail::get_blob(&mut c, &row.raw_sha256).await.map_err(|e| e.to_string())?;
        Ok(Some((row, raw)))
    }

    /// Mail Orion sent or is sending, newest first (`unsent_only`: queued and failed) (admins).
    pub async fn list_outbound_mail(
        &self,
        actor: &Actor,
        unsent_only: bool,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<OutboundMail>> {
        crate::kernel::access::require_admin(actor, "read the outbox")?;
        let limit = crate::kernel::paging::parse_limit(limit)?;
        let before = crate::kernel::paging::parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut rows = outbox::list(&mut r.conn(), unsent_only, before, limit + 1).await?;
        let next_cursor = crate::kernel::paging::keyset_cursor(&mut rows, limit, |m| m.id);
        Ok(Page { items: rows.into_iter().map(Into::into).collect(), next_cursor })
    }

    /// The message as sent (admins).
    pub async fn outbound_mail_raw(&self, actor: &Actor, id: i64) -> AppResult<Vec<u8>> {
        crate::kernel::access::require_admin(actor, "read sent mail")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let row = crate::kernel::error::found(outbox::get(&mut c, id).await, "message")?;
        if SECRET_TEMPLATES.contains(&row.template.as_str()) {
            return Err(AppError::Forbidden(format!(
                "a {} message holds a one-time secret and is not shown",
                row.template
            )));
        }
        Ok(mail::get_blob(&mut c, &row.raw_sha256).await?)
    }

    /// Sends a failed message again (admins).
    pub async fn retry_outbound_mail(&self, actor: &Actor, id: i64) -> AppResult<OutboundMail> {
        crate::kernel::access::require_admin(actor, "retry mail")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let row = crate::kernel::error::found(outbox::get(&mut c, id).await, "message")?;
        if !outbox::requeue(&mut c, id).await? {
            return Err(AppError::Conflict(format!("message {id} is {}, not failed", row.status)));
        }
        queue_send(&mut c, id, row.ticket_id, now).await?;
        let row = outbox::get(&mut c, id).await?;
        self.commit(tx).await?;
        self.job_wake.notify_one();
        Ok(row.into())
    }
}
