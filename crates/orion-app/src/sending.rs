//! Putting mail on the send queue, below the features that decide what to send: the message
//! templates (built in, each replaceable by a file), the `mail.send` job that hands a stored
//! message to the relay, and mail about someone's account rather than a ticket (a password reset
//! link), which sign-in queues without depending on the requester notices in [`crate::outbox`].

use crate::{AppError, AppResult};
use orion_mail::outbound::{Outgoing, compose};
use orion_store::jobs::{self, NewJob};
use orion_store::{Conn, mail, outbox};
use serde_json::{Value, json};
use std::path::Path;

/// The job that hands one stored message to the relay.
pub const SEND_JOB: &str = "mail.send";

/// Send attempts before a message counts as failed: 30 s doubling, at most an hour apart, about a day in all.
pub(crate) const SEND_ATTEMPTS: i64 = 30;

/// The message templates: the defaults built in, each replaceable by a file of the same name in
/// the data directory's `templates/mail/`. A template's first line is `Subject: …`, then an empty
/// line, then the text (minijinja syntax).
pub struct Templates {
    env: minijinja::Environment<'static>,
}

const DEFAULTS: &[(&str, &str)] = &[
    ("received", include_str!("../templates/mail/received.txt")),
    ("public_reply", include_str!("../templates/mail/public_reply.txt")),
    ("state_changed", include_str!("../templates/mail/state_changed.txt")),
    ("resolved", include_str!("../templates/mail/resolved.txt")),
    ("password_reset", include_str!("../templates/mail/password_reset.txt")),
    ("agent_notice", include_str!("../templates/mail/agent_notice.txt")),
    ("digest", include_str!("../templates/mail/digest.txt")),
    ("survey", include_str!("../templates/mail/survey.txt")),
    ("approval", include_str!("../templates/mail/approval.txt")),
];

impl Default for Templates {
    fn default() -> Self {
        Self::load(None).expect("the built-in mail templates are valid")
    }
}

impl Templates {
    /// The built-in templates, with those in `dir` (if given) in their place. Each is tried once
    /// with sample data, so a mistake stops the start with the file and line named.
    pub fn load(dir: Option<&Path>) -> Result<Templates, String> {
        let mut env = minijinja::Environment::new();
        for (name, default) in DEFAULTS {
            let file = dir.map(|d| d.join(format!("{name}.txt")));
            let (source, origin) = match &file {
                Some(f) if f.exists() => {
                    (std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?, f.display().to_string())
                }
                _ => (default.to_string(), format!("built-in template {name}")),
            };
            env.add_template_owned(name.to_string(), source).map_err(|e| describe(&origin, &e))?;
            let t = Templates { env };
            t.render(name, &sample()).map_err(|e| format!("{origin}: {e}"))?;
            env = t.env;
        }
        Ok(Templates { env })
    }

    /// Subject and text.
    pub fn render(&self, name: &str, ctx: &Value) -> Result<(String, String), String> {
        let t = self.env.get_template(name).map_err(|e| e.to_string())?;
        let out = t.render(minijinja::value::Serde(ctx)).map_err(|e| describe(name, &e))?;
        split_subject(name, &out)
    }

    /// The text a template is rendered from here (a file's, or the built-in one).
    pub fn source(&self, name: &str) -> Option<String> {
        self.env.get_template(name).ok().map(|t| t.source().to_string())
    }

    /// Renders `source` as the template `name` (one edited in the console), the mistakes
    /// described with their line.
    pub fn render_source(name: &str, source: &str, ctx: &Value) -> Result<(String, String), String> {
        let mut env = minijinja::Environment::new();
        env.add_template_owned(name.to_string(), source.to_string()).map_err(|e| describe("the template", &e))?;
        let t = env.get_template(name).map_err(|e| e.to_string())?;
        let out = t.render(minijinja::value::Serde(ctx)).map_err(|e| describe("the template", &e))?;
        split_subject("the template", &out)
    }
}

/// The names of the templates and what each mail is, for people.
pub const TEMPLATE_NAMES: &[(&str, &str)] = &[
    ("received", "Ticket received"),
    ("public_reply", "An agent replied"),
    ("state_changed", "The ticket's state changed"),
    ("resolved", "The ticket is resolved"),
    ("password_reset", "A link to set a new password"),
    ("agent_notice", "A notice to an agent (assigned, mentioned, a reply, …)"),
    ("digest", "An agent's morning summary"),
    ("survey", "How did we do? (the satisfaction survey)"),
    ("approval", "An approver is asked to decide on a request (with one-time links)"),
];

fn split_subject(name: &str, out: &str) -> Result<(String, String), String> {
    let (head, body) = out.split_once("\n\n").unwrap_or((out, ""));
    let subject = head
        .strip_prefix("Subject:")
        .ok_or_else(|| format!("{name}: the first line must be \"Subject: …\" followed by an empty line"))?
        .trim()
        .replace(['\r', '\n'], " ");
    Ok((subject, body.trim_end().to_string() + "\n"))
}

/// Subject and text of mail `name`: the template edited in the console if there is one (kept in
/// the database, so every node uses it), else this node's file or the built-in one.
pub(crate) fn render_mail(
    edited: &std::collections::HashMap<String, String>,
    templates: &Templates,
    name: &str,
    ctx: &Value,
) -> Result<(String, String), String> {
    match edited.get(name) {
        Some(source) => Templates::render_source(name, source, ctx),
        None => templates.render(name, ctx),
    }
}

fn describe(origin: &str, e: &minijinja::Error) -> String {
    match e.line() {
        Some(line) => format!("{origin}, line {line}: {e}"),
        None => format!("{origin}: {e}"),
    }
}

/// Sample data every template is tried with (the console's preview shows it).
pub(crate) fn sample() -> Value {
    json!({
        "ticket": {"number": "INC0000001", "title": "Printer on floor 3 prints blank pages", "state": "pending",
                   "priority": "P3", "kind": "incident", "group": "Service Desk", "assignee": "Sam Agent",
                   "description": "…", "resolution_code": "solved", "resolution_notes": "Replaced the toner."},
        "requester": {"name": "Anna Berg", "email": "anna@example.com"},
        "helpdesk": {"name": "IT Service Desk", "address": "help@example.com"},
        "portal_url": "https://help.example.com",
        "reply": {"author": "Sam Agent", "text": "Could you send a photo of the page?"},
        "change": {"from": "in_progress", "to": "pending", "pending_reason": "user"},
        "user": {"name": "Anna Berg", "email": "anna@example.com"},
        "reset_url": "https://help.example.com/password/reset/0123abcd",
        "survey_url": "https://help.example.com/survey/srv_0123abcd",
        "expires_on": "2026-12-20",
        "expires_minutes": 60,
        "agent": {"name": "Sam Agent", "email": "sam@example.com"},
        "message": "Anna Berg replied on INC0000001 “Printer on floor 3 prints blank pages”.",
        "link": "https://help.example.com/tickets/INC0000001",
        "tickets": [{"number": "INC0000001", "title": "Printer on floor 3 prints blank pages", "state": "pending",
                     "priority": "P3"}],
        "more_tickets": false,
        "notices": [{"message": "INC0000001 “Printer on floor 3 prints blank pages” is assigned to you.",
                     "at": "2026-12-06T08:00:00Z"}],
        "more_notices": false,
        "approver": {"name": "Mia Manager", "email": "mia@example.com"},
        "requested_for": null,
        "item": "New laptop",
        "step": "Manager approval",
        "answers": [{"label": "Memory (GB)", "text": "32"}],
        "on_behalf_of": null,
        "approve_url": "https://help.example.com/approve/apv_0123abcd?decision=approve",
        "reject_url": "https://help.example.com/approve/apv_0123abcd?decision=reject",
        "due": "Tue 8 Dec 2026 14:00",
        "reminder": false,
    })
}

/// The domain of an address, for Message-IDs (`orion.invalid` when it has none).
pub(crate) fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("orion.invalid", |(_, d)| d)
}

/// A message to one person that is not a requester notice: an account mail (a password reset
/// link), a notice to an agent, the daily digest.
pub(crate) struct PlainMail<'a> {
    pub template: &'a str,
    pub from_name: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    /// The ticket it is about, which keeps a ticket's mail in order
    pub ticket_id: Option<i64>,
    /// Its text holds a secret (see [`SECRET_TEMPLATES`])
    pub secret: bool,
}

/// Queues a message about someone's account (not about a ticket), such as a password reset
/// link, in the caller's transaction. Its raw text holds a secret, so the outbox never shows it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn queue_account_mail(
    c: &mut Conn<'_>,
    templates: &Templates,
    template: &str,
    from_name: &str,
    from: &str,
    to: &str,
    ctx: &Value,
    now: i64,
) -> AppResult<()> {
    let mail = PlainMail { template, from_name, from, to, ticket_id: None, secret: true };
    queue_plain_mail(c, templates, &mail, ctx, now).await
}

/// Renders and queues a [`PlainMail`] in the caller's transaction.
pub(crate) async fn queue_plain_mail(
    c: &mut Conn<'_>,
    templates: &Templates,
    m: &PlainMail<'_>,
    ctx: &Value,
    now: i64,
) -> AppResult<()> {
    let prefix = if m.secret { "account" } else { "notice" };
    let message_id = format!("{prefix}.{}.{:016x}@{}", m.template, rand::random::<u64>(), domain_of(m.from));
    queue_plain_mail_as(c, templates, m, ctx, now, &message_id).await
}

/// [`queue_plain_mail`] with the Message-ID given, for mail whose replies Orion reads (an
/// approval mail: a reply to it decides).
pub(crate) async fn queue_plain_mail_as(
    c: &mut Conn<'_>,
    templates: &Templates,
    m: &PlainMail<'_>,
    ctx: &Value,
    now: i64,
    message_id: &str,
) -> AppResult<()> {
    let template = m.template;
    let edited = edited_templates(c).await?;
    let (subject, text) =
        render_mail(&edited, templates, template, ctx).map_err(|e| AppError::Internal(format!("mail template {e}")))?;
    let to = vec![m.to.to_string()];
    let raw = compose(&automatic(m.from_name, m.from, &to, (&subject, &text), message_id, now))
        .map_err(|e| AppError::Internal(format!("composing {template} mail: {e}")))?;
    let stored = Stored { template, from: m.from, to: m.to, ticket_id: m.ticket_id, message_id, subject: &subject };
    queue_raw(c, &stored, &raw, now).await
}

/// The headers of an automatic message from the helpdesk to some people (no thread):
/// `(subject, text)` as rendered.
pub(crate) fn automatic<'a>(
    from_name: &'a str,
    from: &'a str,
    to: &'a [String],
    (subject, text): (&'a str, &'a str),
    message_id: &'a str,
    now: i64,
) -> Outgoing<'a> {
    Outgoing {
        from_name,
        from_address: from,
        to,
        cc: &[],
        subject,
        text,
        message_id,
        in_reply_to: None,
        references: &[],
        auto_submitted: Some("auto-generated"),
        date_ms: now,
    }
}

/// What the outbox lists of a message queued with [`queue_raw`].
pub(crate) struct Stored<'a> {
    pub template: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    /// The ticket it is about, which keeps a ticket's mail in order
    pub ticket_id: Option<i64>,
    pub message_id: &'a str,
    pub subject: &'a str,
}

/// Queues a composed message in the caller's transaction: stored, listed in the outbox under its
/// template, sent by the `mail.send` job.
pub(crate) async fn queue_raw(c: &mut Conn<'_>, m: &Stored<'_>, raw: &[u8], now: i64) -> AppResult<()> {
    let sha = orion_mail::sha256_hex(raw);
    mail::put_blob(c, &sha, raw, now).await?;
    let new = outbox::NewOutbound {
        ticket_id: m.ticket_id,
        template: m.template,
        sender: m.from,
        automatic: true,
        recipients: m.to,
        message_id: m.message_id,
        subject: m.subject,
        raw_sha256: &sha,
        status: "queued",
        reason: None,
    };
    let id = outbox::insert(c, &new, now).await?;
    queue_send(c, id, m.ticket_id, now).await?;
    metrics::counter!("orion_mail_queued_total", "template" => m.template.to_string(), "suppressed" => "false")
        .increment(1);
    Ok(())
}

/// Templates whose messages carry a secret: their raw text is never shown.
pub(crate) const SECRET_TEMPLATES: &[&str] = &["password_reset", "survey", "approval"];

/// Queues the sending of a stored message; `ticket_id` (the ticket it is about) keeps a ticket's
/// mail in order among the job worker's concurrent work.
pub(crate) async fn queue_send(c: &mut Conn<'_>, outbound_id: i64, ticket_id: Option<i64>, now: i64) -> AppResult<()> {
    let payload = match ticket_id {
        Some(t) => json!({"outbound_id": outbound_id, "ticket_id": t}),
        None => json!({"outbound_id": outbound_id}),
    }
    .to_string();
    let key = format!("mail.send:{outbound_id}");
    jobs::enqueue(
        c,
        &NewJob { kind: SEND_JOB, payload: &payload, run_at: now, dedupe_key: Some(&key), max_attempts: SEND_ATTEMPTS },
        now,
    )
    .await?;
    Ok(())
}

/// Where the mail templates edited in the console are kept: one JSON object, name → text.
pub(crate) const MAIL_TEMPLATES: &str = "mail_templates";

/// The mail templates edited in the console (the rest come from files or are built in).
pub(crate) async fn edited_templates(c: &mut Conn<'_>) -> AppResult<std::collections::HashMap<String, String>> {
    match orion_store::settings::get(c, MAIL_TEMPLATES).await? {
        Some(json) => {
            serde_json::from_str(&json).map_err(|e| AppError::Internal(format!("stored mail templates: {e}")))
        }
        None => Ok(std::collections::HashMap::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_templates_render_with_the_ticket_tag() {
        let t = Templates::default();
        for (name, _) in DEFAULTS.iter().filter(|(n, _)| crate::settings::mail::NOTICES.contains(n)) {
            let (subject, text) = t.render(name, &sample()).unwrap();
            assert!(subject.contains("[INC0000001]"), "{name}: {subject}");
            assert!(!text.trim().is_empty(), "{name}");
        }
        // Account mail is about no ticket; the reset link is in it.
        let (subject, text) = t.render("password_reset", &sample()).unwrap();
        assert_eq!(subject, "Set your IT Service Desk password");
        assert!(text.contains("https://help.example.com/password/reset/0123abcd"), "{text}");
        let (subject, text) = t.render("state_changed", &sample()).unwrap();
        assert_eq!(subject, "[INC0000001] Waiting for your answer: Printer on floor 3 prints blank pages");
        assert!(text.contains("we need something from you"), "{text}");
        let (_, text) = t.render("public_reply", &sample()).unwrap();
        assert!(text.starts_with("Could you send a photo of the page?"), "{text}");
    }

    #[test]
    fn an_override_replaces_a_template_and_a_broken_one_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("received.txt"), "Subject: Got it: {{ ticket.title }}\n\nThanks!\n").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let (subject, text) = t.render("received", &sample()).unwrap();
        assert_eq!((subject.as_str(), text.as_str()), ("Got it: Printer on floor 3 prints blank pages", "Thanks!\n"));
        std::fs::write(dir.path().join("resolved.txt"), "Subject: x\n\nline two\n{% if %}\n").unwrap();
        let e = Templates::load(Some(dir.path())).err().unwrap();
        assert!(e.contains("resolved.txt") && e.contains("line 4"), "{e}");
        std::fs::write(dir.path().join("resolved.txt"), "No subject line\n\ntext\n").unwrap();
        let e = Templates::load(Some(dir.path())).err().unwrap();
        assert!(e.contains("Subject:"), "{e}");
    }
}
