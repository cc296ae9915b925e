//! What an agent is told, and working a ticket beside colleagues: notifications of the events that
//! concern someone (a ticket assigned to them or arriving in their group, the requester's reply,
//! an `@mention` in a work note, an approval waiting, a followed ticket changing), each delivered
//! as each person chose (in the console, by mail, both or not at all), a daily digest by mail;
//! following a ticket; and the "someone else is replying" hint.
//!
//! The notices are a reaction to ticket events ([`react`]): written in the ticket's transaction,
//! to people who may see the ticket, never to whoever caused the event.

use crate::kernel::access::require_staff;
use crate::kernel::jobs::JobResult;
use crate::{App, AppError, AppResult};
use orion_domain::{Actor, CommentKind, TicketEvent, Timestamp};
use orion_store::tickets::TicketView;
use orion_store::timeline::Recorded;
use orion_store::{Conn, desk as store, users};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

pub use crate::notifications::AGENT_MAIL_JOB;
/// The daily digest job.
pub const DIGEST_JOB: &str = "desk.digest";
/// Presence older than this means the agent stopped writing.
const PRESENCE_MS: i64 = 45_000;

/// Who else is writing on a ticket.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Presence {
    /// Names of the others writing a reply or note right now
    pub replying: Vec<String>,
}

/// Is a ticket followed by the reader?
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Following {
    pub following: bool,
}

/// `GET /api/v1/reports/tags`
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TagReportQuery {
    /// `YYYY-MM-DD` (UTC) or RFC 3339; default: 30 days before `to`
    pub from: Option<String>,
    /// `YYYY-MM-DD` (UTC, exclusive) or RFC 3339; default: now
    pub to: Option<String>,
}

/// Tickets per tag among those created in a period.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TagReport {
    pub from: String,
    pub to: String,
    /// The most used first (at most 200)
    pub tags: Vec<TagCount>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TagCount {
    pub tag: String,
    /// Tickets created in the period with the tag
    pub tickets: i64,
    /// Of those, still open (not resolved or closed)
    pub open: i64,
}

/// A notice for one person.
struct Notice {
    user: i64,
    kind: &'static str,
    message: String,
}

/// The `@handles` in a work note: `@ada` (the part of an address before the @) or
/// `@ada@example.com`, each once, in lower case.
pub(crate) fn mentions(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i] == '@' && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '.'));
        if starts {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_alphanumeric() || matches!(chars[j], '.' | '-' | '_' | '+' | '@')) {
                j += 1;
            }
            let h: String = chars[i + 1..j].iter().collect::<String>().trim_end_matches(['.', '@']).to_lowercase();
            if !h.is_empty() && !out.contains(&h) {
                out.push(h);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out.truncate(20);
    out
}

/// The changes of a `fields_changed` entry: (field, to).
fn changed(data: &Value) -> Vec<(&str, &Value)> {
    data["changes"].as_array().into_iter().flatten().filter_map(|c| Some((c["field"].as_str()?, &c["to"]))).collect()
}

/// What happened, for followers ("Ada replied", "the state is now pending").
fn what_happened(r: &Recorded, data: &Value, actor_name: &str) -> Option<String> {
    Some(match &r.event {
        TicketEvent::Commented { kind: CommentKind::WorkNote, .. } => format!("{actor_name} added a work note"),
        TicketEvent::Commented { kind: CommentKind::PhoneCall, .. } => format!("{actor_name} logged a call"),
        TicketEvent::Commented { .. } => format!("{actor_name} replied"),
        TicketEvent::FieldsChanged { .. } => {
            let fields: Vec<String> = changed(data).iter().map(|(f, _)| f.replace('_', " ")).collect();
            format!("{actor_name} changed the {}", fields.join(", "))
        }
        TicketEvent::StateChanged { to, .. } => format!("the state is now {}", to.as_str().replace('_', " ")),
        TicketEvent::Escalated { .. } => "it was escalated".to_string(),
        TicketEvent::Resolved => format!("{actor_name} resolved it"),
        TicketEvent::Reopened { .. } => "it was reopened".to_string(),
        TicketEvent::Closed => "it was closed".to_string(),
        TicketEvent::PhaseChanged => format!("it moved to the phase {}", data["to"].as_str().unwrap_or("?")),
        _ => return None,
    })
}

/// Tells the people an event concerns, as each chose (the reaction to ticket events).
pub(crate) async fn react(c: &mut Conn<'_>, config: &crate::settings::Config, r: &Recorded) -> AppResult<()> {
    let Some(entry) = &r.entry else { return Ok(()) };
    // Who caused it: a new ticket's creator is on its entry.
    let actor = r.actor.as_ref().map(|a| a.id.0).or(entry.actor_id);
    let mut notices: Vec<Notice> = Vec::new();
    let data: Value = serde_json::from_str(&entry.data).unwrap_or(Value::Null);
    let loaded;
    let t: &TicketView = match (&r.ticket, &r.event) {
        (Some(t), _) => t,
        // A new ticket concerns someone only when it has an assignee, or lands in a group with
        // listeners (the configuration cache knows which): creating one reads nothing more else.
        (None, TicketEvent::Created { .. }) => {
            let group = data["assignment_group"].as_str().and_then(|g| config.groups.iter().find(|x| x.name == g));
            let listened = group.is_some_and(|g| config.group_listeners.contains(&g.id));
            if data["assignee"].is_null() && !listened {
                return Ok(());
            }
            loaded = orion_store::tickets::get(c, r.ticket_id).await?;
            &loaded
        }
        // Entries written without the ticket (tags, links) concern nobody's notices.
        (None, _) => return Ok(()),
    };
    let label = format!("{} “{}”", t.number, t.title);
    // Who did it, by name: read only when someone is to be told (most changes tell nobody).
    let mut who = Who { actor, name: None };
    match &r.event {
        TicketEvent::Created { .. } => {
            if let Some(a) = t.assignee_id {
                notices.push(Notice { user: a, kind: "assigned", message: format!("{label} is assigned to you.") });
            }
            group_notices(c, t, &label, "is new in", &mut notices).await?;
        }
        TicketEvent::FieldsChanged { .. } => {
            for (field, to) in changed(&data) {
                match field {
                    "assignee" if to.is_string() => {
                        if let Some(a) = t.assignee_id {
                            let message = format!("{} assigned {label} to you.", who.name(c, t).await?);
                            notices.push(Notice { user: a, kind: "assigned", message });
                        }
                    }
                    "assignment_group" => group_notices(c, t, &label, "was moved to", &mut notices).await?,
                    _ => {}
                }
            }
        }
        TicketEvent::Escalated { .. } => group_notices(c, t, &label, "was escalated to", &mut notices).await?,
        TicketEvent::Commented { kind, .. } => {
            if actor == Some(t.requester_id)
                && matches!(kind, CommentKind::Comment | CommentKind::Email)
                && let Some(a) = t.assignee_id
            {
                let message = format!("{} replied on {label}.", t.requester_name);
                notices.push(Notice { user: a, kind: "reply", message });
            }
            if *kind == CommentKind::WorkNote {
                for h in mentions(&entry.body) {
                    let found = store::staff_by_handle(c, &h).await?;
                    if let [(id, _)] = found.as_slice() {
                        let message = format!("{} mentioned you on {label}.", who.name(c, t).await?);
                        notices.push(Notice { user: *id, kind: "mention", message });
                    }
                }
            }
        }
        TicketEvent::PhaseChanged => {
            for email in data["approvers_asked"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if let Some(u) = users::find_by_email(c, email).await? {
                    let message = format!("{label} waits for your approval.");
                    notices.push(Notice { user: u.id, kind: "approval", message });
                }
            }
        }
        _ => {}
    }
    if !matches!(r.event, TicketEvent::Created { .. } | TicketEvent::Sla) {
        let followers: Vec<i64> =
            store::followers(c, t.id).await?.into_iter().filter(|u| !notices.iter().any(|n| n.user == *u)).collect();
        if !followers.is_empty()
            && let Some(what) = what_happened(r, &data, &who.name(c, t).await?)
        {
            for user in followers {
                notices.push(Notice { user, kind: "followed", message: format!("{label}: {what}.") });
            }
        }
    }
    deliver(c, t, actor, notices, r.at).await
}

/// Whoever caused an event, their name read once and only when a message needs it.
struct Who {
    actor: Option<i64>,
    name: Option<String>,
}

impl Who {
    async fn name(&mut self, c: &mut Conn<'_>, t: &TicketView) -> AppResult<String> {
        if let Some(n) = &self.name {
            return Ok(n.clone());
        }
        let n = match self.actor {
            Some(id) if id == t.requester_id => t.requester_name.clone(),
            Some(id) => users::get(c, id).await?.name,
            None => "Orion".to_string(),
        };
        self.name = Some(n.clone());
        Ok(n)
    }
}

/// Notices to the members of the ticket's group who asked to hear of tickets arriving there.
async fn group_notices(
    c: &mut Conn<'_>,
    t: &TicketView,
    label: &str,
    how: &str,
    notices: &mut Vec<Notice>,
) -> AppResult<()> {
    for (user, _) in store::group_listeners(c, t.assignment_group_id).await? {
        if Some(user) != t.assignee_id {
            let message = format!("{label} {how} {}.", t.assignment_group_name);
            notices.push(Notice { user, kind: "group", message });
        }
    }
    Ok(())
}

/// Writes each notice as its person chose: a console notification, a mail job, both or nothing;
/// never to whoever caused it, nor to anyone who may not see the ticket, each person once.
async fn deliver(
    c: &mut Conn<'_>,
    t: &TicketView,
    actor: Option<i64>,
    notices: Vec<Notice>,
    now: i64,
) -> AppResult<()> {
    if notices.is_empty() {
        return Ok(());
    }
    let mut seen: Vec<i64> = Vec::new();
    for n in notices {
        if Some(n.user) == actor || seen.contains(&n.user) {
            continue;
        }
        seen.push(n.user);
        crate::tickets::notify_user(c, t, n.user, n.kind, &n.message, now).await?;
    }
    Ok(())
}

impl App {
    /// Tickets per tag among those created in a period (staff; tickets restricted to a group the
    /// reader is not in are not counted).
    pub async fn tag_report(&self, actor: &Actor, q: &TagReportQuery) -> AppResult<TagReport> {
        require_staff(actor, "read reports")?;
        let mut errs = orion_domain::FieldErrors::new();
        let period = crate::kernel::period::parse(q.from.as_deref(), q.to.as_deref(), self.now(), &mut errs);
        errs.into_result()?;
        let Some((from, to)) = period else { return Err(AppError::Internal("validated input incomplete".into())) };
        let reader = (!actor.can_administer()).then_some(actor.id.0);
        let mut r = self.db.read().await?;
        let rows = store::tag_counts(&mut r.conn(), (from, to), reader).await?;
        Ok(TagReport {
            from: Timestamp(from).to_rfc3339(),
            to: Timestamp(to).to_rfc3339(),
            tags: rows.into_iter().map(|(tag, tickets, open)| TagCount { tag, tickets, open }).collect(),
        })
    }

    /// Starts (or, with `follow: false`, stops) following a ticket the actor may see (staff).
    pub async fn follow_ticket(&self, actor: &Actor, number: &str, follow: bool) -> AppResult<Following> {
        require_staff(actor, "follow tickets")?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        if follow {
            store::follow(&mut c, t.id, actor.id.0, self.now()).await?;
        } else {
            store::unfollow(&mut c, t.id, actor.id.0).await?;
        }
        tx.commit().await?;
        Ok(Following { following: follow })
    }

    /// Does the actor follow the ticket?
    pub async fn ticket_following(&self, actor: &Actor, number: &str) -> AppResult<Following> {
        require_staff(actor, "follow tickets")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        Ok(Following { following: store::is_following(&mut c, t.id, actor.id.0).await? })
    }

    /// Notes that the actor is writing on a ticket (`writing: true`, refreshed while they type) or
    /// stopped; returns who else is writing there.
    pub async fn replying(&self, actor: &Actor, number: &str, writing: Option<bool>) -> AppResult<Presence> {
        require_staff(actor, "work tickets")?;
        let now = self.now();
        let since = now - PRESENCE_MS;
        let Some(writing) = writing else {
            // Only asking (every open ticket page, every few seconds): a read, not a write.
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let t = crate::tickets::load_visible(&mut c, actor, number).await?;
            return Ok(Presence { replying: store::present(&mut c, t.id, actor.id.0, since).await? });
        };
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        if writing {
            store::touch_presence(&mut c, t.id, actor.id.0, now).await?;
        } else {
            store::clear_presence(&mut c, t.id, actor.id.0).await?;
        }
        let replying = store::present(&mut c, t.id, actor.id.0, since).await?;
        tx.commit().await?;
        Ok(Presence { replying })
    }

    /// The `mail.agent` job: renders one notice into a mail to the agent and queues it.
    pub async fn agent_mail_job(&self, job: &orion_store::jobs::JobRow) -> JobResult {
        self.agent_mail(job).await.map_err(|e| e.to_string())
    }

    async fn agent_mail(&self, job: &orion_store::jobs::JobRow) -> AppResult<()> {
        let p: Value = serde_json::from_str(&job.payload).map_err(|e| AppError::Internal(e.to_string()))?;
        let (Some(user), Some(ticket)) = (p["user_id"].as_i64(), p["ticket_id"].as_i64()) else {
            return Err(AppError::Internal("mail.agent without user_id and ticket_id".into()));
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let config = self.config(&mut c).await?;
        let Some(from) = config.mail.sender().map(str::to_string) else { return Ok(()) };
        let u = users::get(&mut c, user).await?;
        let t = orion_store::tickets::get(&mut c, ticket).await?;
        if !u.active || !crate::tickets::user_may_see(&mut c, &u, &t).await? {
            return Ok(());
        }
        let base = config.mail.portal_url.as_deref().map(|u| u.trim_end_matches('/').to_string());
        let ctx = json!({
            "agent": {"name": u.name, "email": u.email},
            "message": p["message"],
            "ticket": {"number": t.number, "title": t.title, "state": t.state, "priority": format!("P{}", t.priority),
                       "group": t.assignment_group_name, "requester": t.requester_name},
            "link": base.map(|b| format!("{b}/tickets/{}", t.number)),
            "helpdesk": {"name": config.mail.from_name, "address": from},
        });
        let mail = crate::sending::PlainMail {
            template: "agent_notice",
            from_name: &config.mail.from_name,
            from: &from,
            to: &u.email,
            ticket_id: Some(t.id),
            secret: false,
        };
        crate::sending::queue_plain_mail(&mut c, &self.mail_rt.templates, &mail, &ctx, now).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Queues the next morning's digest (one per day, whichever node queues it first).
    pub async fn schedule_digest(&self) -> AppResult<()> {
        let slot = next_digest(self.now());
        let key = format!("{DIGEST_JOB}@{slot}");
        self.enqueue(DIGEST_JOB, &json!({"slot": Timestamp(slot).to_rfc3339()}), slot, Some(&key)).await?;
        Ok(())
    }

    /// The digest job: a mail to each person who asked for it, then the next day's is queued.
    pub async fn run_digest_job(&self) -> JobResult {
        let r = self.send_digests().await.map_err(|e| e.to_string());
        self.schedule_digest().await.map_err(|e| e.to_string())?;
        r.map(|_| ())
    }

    /// Mails the digest to everyone who asked for it; returns how many were queued.
    pub async fn send_digests(&self) -> AppResult<usize> {
        let now = self.now();
        let mut r = self.db.read().await?;
        let subscribers = store::digest_subscribers(&mut r.conn()).await?;
        drop(r);
        let mut sent = 0;
        for user in subscribers {
            let mut tx = self.db.begin().await?;
            let mut c = tx.conn();
            let config = self.config(&mut c).await?;
            let Some(from) = config.mail.sender().map(str::to_string) else { return Ok(0) };
            let u = users::get(&mut c, user).await?;
            if !u.active || u.role == "requester" {
                continue;
            }
            let mine = orion_store::tickets::list(
                &mut c,
                &orion_store::tickets::TicketFilter {
                    assignee: Some(orion_store::tickets::AssigneeFilter::User(user)),
                    states: orion_domain::State::ALL
                        .iter()
                        .filter(|s| s.is_open())
                        .map(|s| s.as_str().to_string())
                        .collect(),
                    limit: 21,
                    ..Default::default()
                },
            )
            .await?;
            let unread = orion_store::notifications::list(&mut c, user, true, None, 11).await?;
            let base = config.mail.portal_url.as_deref().map(|u| u.trim_end_matches('/').to_string());
            let ctx = json!({
                "agent": {"name": u.name, "email": u.email},
                "tickets": mine.rows.iter().take(20).map(|t| json!({"number": t.number, "title": t.title,
                    "state": t.state.replace('_', " "), "priority": format!("P{}", t.priority)})).collect::<Vec<_>>(),
                "more_tickets": mine.rows.len() > 20,
                "notices": unread.iter().take(10).map(|n| json!({"message": n.message,
                    "at": Timestamp(n.created_at).to_rfc3339()})).collect::<Vec<_>>(),
                "more_notices": unread.len() > 10,
                "link": base,
                "helpdesk": {"name": config.mail.from_name, "address": from},
            });
            let mail = crate::sending::PlainMail {
                template: "digest",
                from_name: &config.mail.from_name,
                from: &from,
                to: &u.email,
                ticket_id: None,
                secret: false,
            };
            crate::sending::queue_plain_mail(&mut c, &self.mail_rt.templates, &mail, &ctx, now).await?;
            self.commit(tx).await?;
            sent += 1;
        }
        Ok(sent)
    }
}

/// The next digest time: 06:00 UTC of the next day after `now` (or today, if still ahead).
fn next_digest(now: i64) -> i64 {
    const DAY: i64 = 86_400_000;
    let six = 6 * 3_600_000;
    let today = now - now.rem_euclid(DAY) + six;
    if today > now { today } else { today + DAY }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_handles_after_an_at_sign() {
        assert_eq!(mentions("@ada please check; cc @Bob.Smith@example.com."), vec!["ada", "bob.smith@example.com"]);
        assert!(mentions("mail me at ada@example.com").is_empty(), "an address in text is not a mention");
        assert_eq!(mentions("@ada and @ada again"), vec!["ada"]);
    }

    #[test]
    fn the_digest_goes_at_six_utc() {
        let day = 86_400_000;
        assert_eq!(next_digest(10 * day), 10 * day + 6 * 3_600_000);
        assert_eq!(next_digest(10 * day + 7 * 3_600_000), 11 * day + 6 * 3_600_000);
    }
}
