//! Email intake: every message that reaches Orion (pipe, SMTP/LMTP, IMAP) goes through
//! [`App::ingest_mail`], which in one transaction keeps the raw message, decides what it is — a
//! new ticket, a reply, a note for review, a bounce — and records the outcome. Mail that cannot be
//! handled is quarantined with its reason; nothing is dropped silently, nothing is taken twice.

use crate::tickets::comment_in;
use crate::tickets::{Planned, Requester};
use crate::{App, AppError, AppResult, Page};
use orion_domain::{Actor, FieldErrors, Role, State, TicketKind, Timestamp, UserId, Visibility};
use orion_mail::{Inbound, content_hash, sha256_hex};
use orion_store::{Conn, mail, settings, tickets, users};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use utoipa::ToSchema;

use crate::kernel::limits::{TEXT_MAX, TITLE_MAX, truncate};
use crate::settings::Config;
use crate::settings::mail::MAIL_SETTINGS;
pub use crate::settings::mail::MailSettings;

/// One message as the mail log and the quarantine show it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InboundMail {
    pub id: i64,
    pub received_at: String,
    /// `pipe`, `smtp`, `imap:<mailbox>`
    pub source: String,
    pub message_id: Option<String>,
    pub sender: Option<String>,
    pub subject: String,
    pub size: i64,
    /// `ticket_created`, `reply_added`, `note_added`, `bounce`, `quarantined`, `discarded`
    pub status: String,
    pub reason: Option<String>,
    pub ticket: Option<String>,
    /// How often this same message arrived (redeliveries create nothing)
    pub deliveries: i64,
    /// True when this delivery was a repeat of a message already taken
    #[serde(default)]
    pub duplicate: bool,
}

impl From<mail::InboundRow> for InboundMail {
    fn from(r: mail::InboundRow) -> Self {
        Self {
            id: r.id,
            received_at: Timestamp(r.received_at).to_rfc3339(),
            source: r.source,
            message_id: r.message_id,
            sender: r.sender,
            subject: r.subject,
            size: r.size,
            status: r.status,
            reason: r.reason,
            ticket: r.ticket_number,
            deliveries: r.deliveries,
            duplicate: false,
        }
    }
}

/// What processing decided.
struct Decision {
    status: &'static str,
    reason: Option<String>,
    ticket_id: Option<i64>,
}

impl Decision {
    fn quarantine(reason: impl Into<String>) -> Self {
        Self { status: "quarantined", reason: Some(reason.into()), ticket_id: None }
    }
}

impl App {
    /// The mail settings from the cached configuration (changes on another node apply within seconds).
    pub async fn mail_settings(&self) -> AppResult<MailSettings> {
        let mut r = self.db.read().await?;
        Ok(self.config(&mut r.conn()).await?.mail.clone())
    }

    /// What processing a message reads besides the message: the mail settings and the cached
    /// configuration (groups, priority matrix, SLA policies), read before the write transaction.
    async fn mail_context(&self) -> AppResult<(MailSettings, std::sync::Arc<Config>)> {
        let mut r = self.db.read().await?;
        let config = self.config(&mut r.conn()).await?;
        Ok((config.mail.clone(), config))
    }

    pub async fn get_mail_settings(&self, actor: &Actor) -> AppResult<MailSettings> {
        crate::kernel::access::require_admin(actor, "read mail settings")?;
        self.mail_settings().await
    }

    pub async fn set_mail_settings(&self, actor: &Actor, s: MailSettings) -> AppResult<MailSettings> {
        crate::kernel::access::require_admin(actor, "change mail settings")?;
        let mut errs = FieldErrors::new();
        let mut addresses = Vec::new();
        for (i, a) in s.addresses.iter().enumerate() {
            match orion_domain::Email::parse(&format!("addresses[{i}]"), a) {
                Ok(e) => addresses.push(e.as_str().to_string()),
                Err(e) => errs.push(e.field, e.message),
            }
        }
        if !matches!(s.unknown_senders.as_str(), "create" | "quarantine") {
            errs.push("unknown_senders", "expected create or quarantine");
        }
        if !matches!(s.non_participant_replies.as_str(), "internal_note" | "new_ticket") {
            errs.push("non_participant_replies", "expected internal_note or new_ticket");
        }
        if !(1024..=200 * 1024 * 1024).contains(&s.max_message_bytes) {
            errs.push("max_message_bytes", "must be between 1 KiB and 200 MiB");
        }
        let from_address = match s.from_address.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(a) => match orion_domain::Email::parse("from_address", a) {
                Ok(e) => Some(e.as_str().to_string()),
                Err(e) => {
                    errs.push(e.field, e.message);
                    None
                }
            },
        };
        if s.from_name.contains(['\r', '\n']) || s.from_name.chars().count() > 200 {
            errs.push("from_name", "must be one line of at most 200 characters");
        }
        for (i, e) in s.notify.iter().enumerate() {
            if !crate::settings::mail::NOTICES.contains(&e.as_str()) {
                errs.push(
                    format!("notify[{i}]"),
                    format!("expected one of {}", crate::settings::mail::NOTICES.join(", ")),
                );
            }
        }
        if !(0..=10_000).contains(&s.auto_reply_limit_per_hour) {
            errs.push("auto_reply_limit_per_hour", "must be between 0 and 10000");
        }
        let portal_url =
            s.portal_url.as_deref().map(|u| u.trim().trim_end_matches('/').to_string()).filter(|u| !u.is_empty());
        if let Some(u) = &portal_url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            errs.push("portal_url", "must start with https:// or http://");
        }
        errs.into_result()?;
        let s = MailSettings { addresses, from_address, portal_url, ..s };
        let json = serde_json::to_string(&s).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        settings::put(&mut tx.conn(), MAIL_SETTINGS, &json, self.now()).await?;
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(s)
    }

    /// Takes one raw message from `source`. Returns its log row; an error means nothing was kept
    /// (the database is unavailable) and the sender should try again later.
    pub async fn ingest_mail(&self, raw: &[u8], source: &str) -> AppResult<InboundMail> {
        let now = self.now();
        let (settings, config) = self.mail_context().await?;
        let raw_sha = sha256_hex(raw);
        let hash = content_hash(raw);
        let parsed = orion_mail::parse(raw);
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        if let Some(prev) = mail::seen(&mut c, &hash).await? {
            self.commit(tx).await?;
            metrics::counter!("orion_mail_duplicates_total").increment(1);
            return Ok(InboundMail { duplicate: true, deliveries: prev.deliveries + 1, ..prev.into() });
        }
        mail::put_blob(&mut c, &raw_sha, raw, now).await?;
        let decision = match &parsed {
            Ok(_) if raw.len() as i64 > settings.max_message_bytes => Ok(Decision::quarantine(format!(
                "too large: {} bytes, the limit is {} (mail settings max_message_bytes)",
                raw.len(),
                settings.max_message_bytes
            ))),
            Ok(m) => process(&mut c, (m, source), &settings, &self.mailer(&config), now, false).await,
            Err(e) => Ok(Decision::quarantine(format!("unreadable: {e}"))),
        };
        let decision = match decision {
            Ok(d) => d,
            Err(e) if e.is_temporary() => return Err(e),
            Err(e) => {
                // Nothing half-written: start again and keep the message in quarantine.
                drop(tx);
                tx = self.db.begin().await?;
                c = tx.conn();
                mail::put_blob(&mut c, &raw_sha, raw, now).await?;
                Decision::quarantine(format!("could not be processed: {e}"))
            }
        };
        let m = parsed.as_ref().ok();
        let id = mail::record(
            &mut c,
            &mail::NewInbound {
                received_at: now,
                source,
                raw_sha256: &raw_sha,
                content_hash: &hash,
                size: raw.len() as i64,
                message_id: m.and_then(|m| m.message_id.as_deref()),
                sender: m.and_then(|m| m.from.as_ref()).map(|f| f.address.as_str()),
                subject: &truncate(m.map_or("", |m| m.subject.as_str()), TITLE_MAX),
            },
            &mail::Outcome {
                status: decision.status,
                reason: decision.reason.as_deref(),
                ticket_id: decision.ticket_id,
            },
            now,
        )
        .await?;
        let row = mail::get_inbound(&mut c, id).await?;
        self.commit(tx).await?;
        metrics::counter!("orion_mail_received_total", "status" => decision.status).increment(1);
        Ok(row.into())
    }

    /// The mail log (`quarantined_only`: the quarantine), newest first (admins).
    pub async fn list_inbound_mail(
        &self,
        actor: &Actor,
        quarantined_only: bool,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<InboundMail>> {
        crate::kernel::access::require_admin(actor, "read the mail log")?;
        let limit = crate::kernel::paging::parse_limit(limit)?;
        let before = crate::kernel::paging::parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut rows = mail::list_inbound(&mut r.conn(), quarantined_only, before, limit + 1).await?;
        let next_cursor = crate::kernel::paging::keyset_cursor(&mut rows, limit, |m| m.id);
        Ok(Page { items: rows.into_iter().map(Into::into).collect(), next_cursor })
    }

    /// The raw message as received (admins).
    pub async fn inbound_mail_raw(&self, actor: &Actor, id: i64) -> AppResult<Vec<u8>> {
        crate::kernel::access::require_admin(actor, "read raw mail")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let row = crate::kernel::error::found(mail::get_inbound(&mut c, id).await, "message")?;
        Ok(mail::get_blob(&mut c, &row.raw_sha256).await?)
    }

    /// Processes a quarantined message again, past the checks that held it (size, unknown
    /// sender, automatic reply, loop); only an unreadable message stays where it is (admins).
    pub async fn reprocess_mail(&self, actor: &Actor, id: i64) -> AppResult<InboundMail> {
        crate::kernel::access::require_admin(actor, "reprocess mail")?;
        let now = self.now();
        let (settings, config) = self.mail_context().await?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let row = crate::kernel::error::found(mail::get_inbound(&mut c, id).await, "message")?;
        if row.status != "quarantined" {
            return Err(AppError::Conflict(format!("message {id} is {}, not quarantined", row.status)));
        }
        let raw = mail::get_blob(&mut c, &row.raw_sha256).await?;
        let parsed = orion_mail::parse(&raw).map_err(|e| AppError::Conflict(format!("still unreadable: {e}")))?;
        let d = process(&mut c, (&parsed, &row.source), &settings, &self.mailer(&config), now, true).await?;
        mail::set_outcome(
            &mut c,
            id,
            &mail::Outcome { status: d.status, reason: d.reason.as_deref(), ticket_id: d.ticket_id },
            now,
        )
        .await?;
        let row = mail::get_inbound(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(row.into())
    }

    /// Discards a quarantined message: it stays in the log (and its raw copy), marked discarded (admins).
    pub async fn discard_mail(&self, actor: &Actor, id: i64) -> AppResult<InboundMail> {
        crate::kernel::access::require_admin(actor, "discard mail")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let row = crate::kernel::error::found(mail::get_inbound(&mut c, id).await, "message")?;
        if row.status != "quarantined" {
            return Err(AppError::Conflict(format!("message {id} is {}, not quarantined", row.status)));
        }
        let reason = format!("discarded by user {} (was: {})", actor.id.0, row.reason.unwrap_or_default());
        mail::set_outcome(
            &mut c,
            id,
            &mail::Outcome { status: "discarded", reason: Some(&reason), ticket_id: None },
            now,
        )
        .await?;
        let row = mail::get_inbound(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(row.into())
    }
}

pub use crate::kernel::uploads::AttachmentFile;

impl App {
    /// An attachment's bytes, if the actor may see its ticket (requesters: only their own tickets'
    /// public attachments). Anything else looks like it does not exist.
    pub async fn attachment(&self, actor: &Actor, id: i64) -> AppResult<AttachmentFile> {
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let a = crate::kernel::error::found(mail::get_attachment(&mut c, id).await, "attachment")?;
        let t = tickets::get(&mut c, a.ticket_id).await?;
        let visible = crate::tickets::may_see(&mut c, actor, &t).await?
            && (actor.can_see_internal() || a.visibility.as_deref() != Some("internal"));
        if !visible {
            return Err(AppError::NotFound("attachment"));
        }
        let bytes = mail::get_blob(&mut c, &a.sha256).await?;
        Ok(AttachmentFile { filename: a.filename, content_type: a.content_type, bytes })
    }
}

/// Decides what a readable message is and writes it. `force` (an admin reprocessing) skips the
/// checks that quarantine.
async fn process(
    c: &mut Conn<'_>,
    (m, source): (&Inbound, &str),
    s: &MailSettings,
    mailer: &crate::catalog::Mailer<'_>,
    now: i64,
    force: bool,
) -> AppResult<Decision> {
    let config = mailer.config;
    let sender = m.from.as_ref().map(|f| f.address.clone()).unwrap_or_default();
    if let Some(b) = &m.bounce {
        return bounce(c, m, b, now).await;
    }
    if !force {
        if m.noise.contains(&orion_mail::Noise::OrionLoop) {
            return Ok(Decision::quarantine("mail loop: the message carries Orion's own X-Orion-Loop header"));
        }
        if s.is_own(&sender) {
            return Ok(Decision::quarantine(format!("mail loop: sent from the helpdesk address {sender}")));
        }
    }
    // A reply to an approval mail: "approve" or "reject" decides.
    if !m.is_auto_reply()
        && let Some((outcome, ticket_id)) = crate::catalog::approval_reply(c, mailer, m, &sender, now).await?
    {
        return Ok(match outcome {
            Ok(what) => Decision { status: "reply_added", reason: Some(what), ticket_id: Some(ticket_id) },
            Err(why) => {
                let mut t = tickets::get(c, ticket_id).await?;
                email_entry(c, m, &mut t, None, now).await?;
                Decision { status: "note_added", reason: Some(why), ticket_id: Some(ticket_id) }
            }
        });
    }
    let mut found = None;
    let refs = m.referenced_ids();
    if let Some((id, _)) = mail::ticket_for_messages(c, &refs).await? {
        found = Some(tickets::get(c, id).await?);
    } else if let Some(tag) = orion_mail::subject::ticket_tag(&m.subject) {
        match tickets::get_by_number(c, &tag).await {
            Ok(t) => found = Some(t),
            Err(orion_store::StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let user = users::find_by_email(c, &sender).await?;
    match found {
        Some(mut t) if t.state != State::Closed.as_str() => {
            let staff =
                user.as_ref().is_some_and(|u| u.active && Role::parse("role", &u.role).is_ok_and(Role::is_staff));
            let requester = user.as_ref().is_some_and(|u| u.id == t.requester_id);
            if m.is_auto_reply() {
                email_entry(c, m, &mut t, None, now).await?;
                return Ok(Decision {
                    status: "note_added",
                    reason: Some("automatic reply".into()),
                    ticket_id: Some(t.id),
                });
            }
            if staff || requester {
                let u = user.as_ref().ok_or_else(|| AppError::Internal("participant without a user".into()))?;
                let actor = Actor { id: UserId(u.id), role: Role::parse("role", &u.role)? };
                email_entry(c, m, &mut t, Some(&actor), now).await?;
                if requester && !staff && t.state == State::Resolved.as_str() {
                    // Answering the resolution mail means it is not solved after all.
                    let mut t = tickets::get(c, t.id).await?;
                    let reason = format!("The requester replied by mail to the resolved ticket ({}).", m.subject);
                    crate::tickets::reopen_in(c, &actor, &mut t, &truncate(&reason, TEXT_MAX), now).await?;
                    return Ok(Decision {
                        status: "reply_added",
                        reason: Some("reopened: the requester replied to the resolved ticket".into()),
                        ticket_id: Some(t.id),
                    });
                }
                return Ok(Decision { status: "reply_added", reason: None, ticket_id: Some(t.id) });
            }
            if s.non_participant_replies == "internal_note" || force {
                email_entry(c, m, &mut t, None, now).await?;
                return Ok(Decision {
                    status: "note_added",
                    reason: Some(format!("{sender} is not on the ticket: kept as an internal note for review")),
                    ticket_id: Some(t.id),
                });
            }
            new_ticket(c, (m, source), s, config, user, now, force, None).await
        }
        Some(closed) => new_ticket(c, (m, source), s, config, user, now, force, Some(closed.number)).await,
        None => new_ticket(c, (m, source), s, config, user, now, force, None).await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn new_ticket(
    c: &mut Conn<'_>,
    (m, source): (&Inbound, &str),
    s: &MailSettings,
    config: &Config,
    user: Option<users::UserRow>,
    now: i64,
    force: bool,
    follow_up_of: Option<String>,
) -> AppResult<Decision> {
    let Some(from) = &m.from else { return Ok(Decision::quarantine("no sender address")) };
    if !force && m.is_auto_reply() {
        let why: Vec<String> = m.noise.iter().map(orion_mail::Noise::describe).collect();
        return Ok(Decision::quarantine(format!("automatic reply matching no ticket ({})", why.join(", "))));
    }
    let requester_id = match user {
        Some(u) if !u.active => return Ok(Decision::quarantine(format!("the sender {} is deactivated", u.email))),
        Some(u) => u.id,
        None if s.unknown_senders == "quarantine" && !force => {
            return Ok(Decision::quarantine(format!(
                "unknown sender {} (mail settings: unknown_senders = quarantine)",
                from.address
            )));
        }
        None => {
            let name = from.name.clone().unwrap_or_else(|| from.address.split('@').next().unwrap_or("").to_string());
            users::insert_requester(c, &from.address, &truncate(&name, 200), now).await?
        }
    };
    let requester = users::get(c, requester_id).await?;
    let group = config
        .default_group()
        .cloned()
        .ok_or_else(|| AppError::Conflict("no active group to receive mail; create one first".into()))?;
    let (impact, urgency) = (orion_domain::Level::parse("impact", 3)?, orion_domain::Level::parse("urgency", 3)?);
    let title = orion_mail::subject::clean(&m.subject);
    let title = if title.is_empty() { "(no subject)".to_string() } else { truncate(&title, TITLE_MAX) };
    let mut description = truncate(m.text.trim(), TEXT_MAX);
    if let Some(prev) = &follow_up_of {
        description = format!("(A reply to {prev}, which is closed.)\n\n{description}");
    }
    // The routing rules, in order, on what the mail says and who sent it.
    let mut d = crate::routing::Draft::new(group, impact, urgency);
    let arrival = crate::routing::Arrival {
        channel: "email",
        sender: &requester.email,
        mailbox: source.strip_prefix("imap:"),
        subject: &title,
        body: &description,
        department: requester.department.as_deref(),
        vip: requester.vip,
        assets: Vec::new(),
        at: now,
        changed: false,
    };
    crate::routing::route(config, &arrival, &mut d);
    let routed = crate::tickets::Routed::from_draft(&mut d);
    let (group, impact, urgency) = (d.group, d.impact, d.urgency);
    let priority = config.matrix.priority(impact, urgency);
    let kind = TicketKind::Incident;
    let clocks = crate::settings::sla::plan_clocks(
        config,
        &orion_domain::sla_policy::TicketFacts {
            kind,
            priority,
            category: d.category.as_ref().map(|c| c.path.as_str()),
            department: requester.department.as_deref(),
        },
        now,
    );
    let mut entry_data = crate::tickets::created_entry_data(
        priority,
        (impact.get(), urgency.get()),
        "email",
        &group.name,
        d.assignee.as_ref().map(|u| u.email.as_str()),
        &clocks,
    );
    entry_data["follow_up_of"] = json!(follow_up_of);
    let entry_data = entry_data.to_string();
    let written = crate::tickets::open(
        c,
        &Planned {
            requester: Requester::Known(requester_id),
            prefix: kind.prefix(),
            kind: kind.as_str(),
            title,
            description,
            channel: "email",
            category_id: d.category.as_ref().map(|c| c.id),
            impact: i64::from(impact.get()),
            urgency: i64::from(urgency.get()),
            priority: i64::from(priority.get()),
            state: if d.assignee.is_some() { State::Assigned.as_str() } else { State::New.as_str() },
            pending_reason: None,
            assignment_group_id: group.id,
            assignee_id: d.assignee.as_ref().map(|u| u.id),
            max_tier: group.tier,
            created_by: requester_id,
            now,
            entry_data,
            clocks,
            // No automatic answer to automatic mail, lists, bounces or loops (RFC 3834).
            notify: m.noise.is_empty() && s.sends("received"),
            assets: Vec::new(),
            routed,
        },
    )
    .await?;
    let mut t = tickets::get(c, written.id).await?;
    let actor = Actor { id: UserId(requester_id), role: Role::parse("role", &requester.role)? };
    email_entry(c, m, &mut t, Some(&actor), now).await?;
    Ok(Decision { status: "ticket_created", reason: None, ticket_id: Some(written.id) })
}

/// The message on the ticket's timeline (kind `email`): new text as the body; quoted history,
/// sanitised HTML, addresses and attachments in the data. With an actor it is that person's reply
/// (public); without one it is an internal note for review (an automatic reply, a stranger).
async fn email_entry(
    c: &mut Conn<'_>,
    m: &Inbound,
    t: &mut tickets::TicketView,
    actor: Option<&Actor>,
    now: i64,
) -> AppResult<i64> {
    let mut inline: HashMap<String, String> = HashMap::new();
    let mut ids = Vec::new();
    let mut files = Vec::new();
    for a in &m.attachments {
        let sha = sha256_hex(&a.bytes);
        mail::put_blob(c, &sha, &a.bytes, now).await?;
        let id = mail::add_attachment(
            c,
            &mail::NewAttachment {
                ticket_id: t.id,
                entry_id: None,
                filename: &a.filename,
                content_type: &a.content_type,
                size: a.bytes.len() as i64,
                sha256: &sha,
                content_id: a.content_id.as_deref(),
                inline: a.inline,
            },
            now,
        )
        .await?;
        if let Some(cid) = &a.content_id {
            inline.insert(cid.clone(), format!("/api/v1/attachments/{id}"));
        }
        ids.push(id);
        files.push(json!({"id": id, "filename": a.filename, "content_type": a.content_type,
                          "size": a.bytes.len(), "inline": a.inline}));
    }
    let (new_text, quoted) = orion_mail::quote::split(&m.text);
    let (html_new, html_quoted) = match &m.html {
        Some(h) => {
            let (n, q) = orion_mail::quote::split_html(h);
            (
                Some(orion_mail::html::sanitize(n, &inline)),
                (!q.is_empty()).then(|| orion_mail::html::sanitize(q, &inline)),
            )
        }
        None => (None, None),
    };
    let body = if new_text.trim().is_empty() { m.text.trim() } else { new_text };
    let data = json!({
        "message_id": m.message_id, "from": m.from.as_ref().map(|f| &f.address),
        "from_name": m.from.as_ref().and_then(|f| f.name.as_ref()),
        "to": m.to.iter().map(|x| &x.address).collect::<Vec<_>>(),
        "cc": m.cc.iter().map(|x| &x.address).collect::<Vec<_>>(),
        "subject": m.subject, "quoted": truncate(quoted, TEXT_MAX), "html": html_new, "html_quoted": html_quoted,
        "attachments": files, "automatic": m.is_auto_reply(),
    })
    .to_string();
    let body = truncate(body, TEXT_MAX);
    let entry = match actor {
        Some(a) => comment_in(c, a, t, orion_domain::CommentKind::Email, Visibility::Public, &body, &data, now).await?,
        None => crate::tickets::internal_note(c, t.id, now, "email", &body, &data).await?,
    };
    mail::attach_to_entry(c, &ids, entry).await?;
    if let Some(id) = &m.message_id {
        mail::link_message(c, id, t.id, "in", None, now).await?;
    }
    Ok(entry)
}

/// A delivery status notification: never a ticket. The recipient is flagged as bouncing and, when
/// the bounced message was Orion's, the ticket gets an internal note.
async fn bounce(c: &mut Conn<'_>, m: &Inbound, b: &orion_mail::Bounce, now: i64) -> AppResult<Decision> {
    let original = b.original_message_id.clone().or_else(|| m.referenced_ids().first().map(|s| s.to_string()));
    let sent = match &original {
        Some(id) => mail::outbound_recipient(c, id).await?,
        None => None,
    };
    let mut recipients = b.failed_recipients.clone();
    if recipients.is_empty()
        && let Some((_, Some(r))) = &sent
    {
        recipients.push(r.clone());
    }
    for r in &recipients {
        mail::flag_bounce(c, r, b.status.as_deref(), b.permanent, now).await?;
    }
    let Some((ticket_id, _)) = sent else {
        return Ok(Decision {
            status: "bounce",
            reason: Some(format!(
                "delivery failure for {} matching no message Orion sent ({})",
                if recipients.is_empty() { "an unknown recipient".to_string() } else { recipients.join(", ") },
                original.as_deref().unwrap_or("no original Message-ID")
            )),
            ticket_id: None,
        });
    };
    let body = format!(
        "Mail to {} could not be delivered ({}).",
        recipients.join(", "),
        b.status.as_deref().unwrap_or("no status")
    );
    let data = json!({"recipients": recipients, "status": b.status, "permanent": b.permanent, "message_id": original});
    crate::tickets::internal_note(c, ticket_id, now, "mail_bounced", &body, &data.to_string()).await?;
    Ok(Decision { status: "bounce", reason: b.status.clone(), ticket_id: Some(ticket_id) })
}

/// `POST /api/v1/mail/test`: where to send a test message.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelayTestInput {
    /// The address to send the test message to
    #[schema(min_length = 3, pattern = "\\S@\\S")]
    pub to: String,
}

/// What the relay answered to a test message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RelayTest {
    /// The relay took the message
    pub sent: bool,
    /// What happened, in words (the relay's own answer when it refused)
    pub message: String,
}

impl App {
    /// Sends a test message through this node's SMTP relay at once and says what the relay
    /// answered (admins). Nothing is queued: a refused test is reported, not retried.
    pub async fn send_test_mail(&self, actor: &Actor, input: &RelayTestInput) -> AppResult<RelayTest> {
        crate::kernel::access::require_admin(actor, "send test mail")?;
        let to = orion_domain::Email::parse("to", &input.to)?;
        let settings = self.mail_settings().await?;
        let Some(from) = settings.sender().map(str::to_string) else {
            return Err(crate::kernel::error::invalid(
                "from_address",
                "set a sender address (or a helpdesk address) before sending mail",
            ));
        };
        let Some(relay) = &self.mail_rt.relay else {
            return Ok(RelayTest {
                sent: false,
                message:
                    "No SMTP relay is configured on this node: start Orion with --smtp-relay (or ORION_SMTP_RELAY)."
                        .into(),
            });
        };
        let now = self.now();
        let recipients = vec![to.as_str().to_string()];
        let message_id = format!("test.{:016x}@{}", rand::random::<u64>(), crate::sending::domain_of(&from));
        let raw = orion_mail::outbound::compose(&orion_mail::outbound::Outgoing {
            from_name: &settings.from_name,
            from_address: &from,
            to: &recipients,
            cc: &[],
            subject: "Orion test message",
            text: "This is a test message from Orion, sent by an administrator to check the mail relay.\n\
                   If it reached you, Orion can send mail.\n",
            message_id: &message_id,
            in_reply_to: None,
            references: &[],
            auto_submitted: Some("auto-generated"),
            date_ms: now,
        })
        .map_err(|e| AppError::Internal(format!("composing the test message: {e}")))?;
        Ok(match relay.send(&from, &recipients, &raw).await {
            Ok(()) => RelayTest { sent: true, message: format!("The relay took the message for {to} (from {from}).") },
            Err(e) => RelayTest { sent: false, message: format!("The relay refused the message: {}", e.message) },
        })
    }
}
