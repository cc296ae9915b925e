//! Incidents and service requests: log, read, list, change, comment, escalate,
//! resolve, reopen, close. Each command is one transaction with its timeline entry.

use crate::kernel::error::invalid;
use crate::settings::priority_matrix;
use crate::{App, AppError, AppResult, CommentInput, NewTicketInput, Page, Ticket, TicketPatch, TimelineEntry};
use orion_domain::error::required_text;
use orion_domain::{
    Actor, Channel, CommentKind, Email, EscalationKind, FieldErrors, Level, PendingReason, PlannedClock, Priority,
    Role, State, TicketEvent, TicketKind, TicketNumber, Tier, Visibility,
};
use orion_store::tickets::{self, AssigneeFilter, TicketFilter, TicketView};
use orion_store::{Conn, groups, timeline, users};
use serde_json::json;

pub(crate) use crate::directory::{category_by_path, default_group, group_by_name};
pub(crate) use crate::kernel::access::require_staff;
pub(crate) use crate::kernel::error::collect;
pub(crate) use crate::kernel::limits::{TEXT_MAX, TITLE_MAX};
pub(crate) use crate::kernel::paging::{PAGE_DEFAULT, PAGE_MAX, keyset_cursor, parse_cursor, parse_limit};
pub(crate) use crate::kernel::uploads::{Upload, push_upload_errors};

mod comments;
pub(crate) mod create;
mod restrict;
pub(crate) use restrict::tag_in;
pub use restrict::{RestrictionInput, TagsInput};
pub(crate) mod lifecycle;
mod notify;
pub(crate) mod open;
pub(crate) use notify::notify_user;
pub(crate) mod recheck;
pub mod time;
mod update;
pub(crate) use comments::comment_in;
pub(crate) use lifecycle::{reopen_in, resolve_in};
pub(crate) use open::{Planned, Requester, Routed, Written, link_asset, open, resolve_ref};
pub(crate) use update::update_in;

/// Filters for `GET /api/v1/tickets`, as the caller wrote them.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TicketQuery {
    /// `incident` or `service_request`
    #[param(schema_with = crate::api_schema::listed_ticket_kinds_exact)]
    pub kind: Option<String>,
    /// One state or several, comma-separated (`new,assigned`); `open` means every state before resolved
    pub state: Option<String>,
    /// `P1`..`P5`
    #[param(schema_with = crate::api_schema::priorities_exact)]
    pub priority: Option<String>,
    /// Group name
    pub assignment_group: Option<String>,
    /// Agent e-mail, `me`, or `none` for unassigned
    pub assignee: Option<String>,
    /// Requester e-mail (staff only; requesters always see their own)
    pub requester: Option<String>,
    /// Title contains this text (any case). No index can serve "contains": each page looks at the
    /// next 10,000 tickets in the list's order only, so a page may hold fewer than `limit` tickets
    /// (even none) and still have a `next_cursor` — follow it to read on. Full-text search (`/api/v1/search`) finds
    /// words across every ticket at once.
    pub title: Option<String>,
    /// `newest` (default) or `oldest` first
    #[param(schema_with = crate::api_schema::orders_exact)]
    pub order: Option<String>,
    /// Only tickets with this tag (any case)
    pub tag: Option<String>,
    /// Only catalog requests with this answer: `question_key:value` (`ram_gb:32`,
    /// `extras:dock` for a request that picked the dock among its choices). The value is
    /// compared as stored: a choice's value, `yes`/`no`, a date as `YYYY-MM-DD`, a number as
    /// written without trailing zeros.
    pub answer: Option<String>,
    /// From the previous page's `next_cursor`
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    pub cursor: Option<String>,
    /// 1..200, default 50
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// `question_key:value` as a list filter: the key, and the value as answers are stored (a number
/// written `32.0` or `32,0` is stored `32`).
fn answer_filter(raw: &str) -> Result<(String, String), orion_domain::FieldError> {
    let bad = || orion_domain::FieldError::new("answer", "expected question_key:value, as in ram_gb:32");
    let (key, value) = raw.split_once(':').ok_or_else(bad)?;
    let (key, value) = (key.trim(), value.trim());
    if key.is_empty() || value.is_empty() || key.len() > 40 {
        return Err(bad());
    }
    let looks_decimal = value.contains(['.', ',']) && !value.contains(char::is_alphabetic);
    let value = match value.replace(',', ".").parse::<f64>() {
        Ok(n) if looks_decimal && n.is_finite() => orion_domain::catalog::format_number(n),
        _ => value.to_string(),
    };
    Ok((key.to_string(), value))
}

/// A ticket by number, whoever asks (callers check what the actor may see).
pub(crate) async fn load(conn: &mut Conn<'_>, number: &str) -> AppResult<TicketView> {
    let n = TicketNumber::parse(number).ok_or(AppError::NotFound("ticket"))?;
    match tickets::get_by_number(conn, &n.to_string()).await {
        Err(orion_store::StoreError::NotFound) => Err(AppError::NotFound("ticket")),
        other => Ok(other?),
    }
}

/// Loads a ticket the actor may see; others' tickets — and, for staff, tickets restricted to a
/// group they are not in — look absent.
pub(crate) async fn load_visible(conn: &mut Conn<'_>, actor: &Actor, number: &str) -> AppResult<TicketView> {
    let t = load(conn, number).await?;
    if !may_see(conn, actor, &t).await? {
        return Err(AppError::NotFound("ticket"));
    }
    Ok(t)
}

/// May `actor` see `t`? Requesters see their own tickets but not the fulfilment tasks of their
/// requests (the desk's own work: they follow the request); staff see every ticket but those
/// restricted to a group they are not a member of; admins see all.
pub(crate) async fn may_see(conn: &mut Conn<'_>, actor: &Actor, t: &TicketView) -> AppResult<bool> {
    if !actor.can_view_ticket(orion_domain::UserId(t.requester_id)) {
        return Ok(false);
    }
    if !actor.role.is_staff() && t.kind == orion_domain::TicketKind::Task.as_str() {
        return Ok(false);
    }
    match t.visibility_group_id {
        Some(g) if actor.role.is_staff() && !actor.can_administer() && actor.id.0 != t.requester_id => {
            Ok(groups::is_member(conn, g, actor.id.0).await?)
        }
        _ => Ok(true),
    }
}

/// May the user `u` (an agent to be told about `t`, already read by the caller) see it? Checked
/// before anyone is notified or mailed about a ticket.
pub(crate) async fn user_may_see(conn: &mut Conn<'_>, u: &users::UserRow, t: &TicketView) -> AppResult<bool> {
    if t.visibility_group_id.is_none() {
        return Ok(true);
    }
    let role = Role::parse("role", &u.role).map_err(|e| AppError::Internal(e.to_string()))?;
    may_see(conn, &Actor { id: orion_domain::UserId(u.id), role }, t).await
}

/// Drops from `items` (read for staff `actor`) the restricted tickets they may not see: one range
/// read of the restricted-ticket index over the ids of the page.
pub(crate) async fn drop_hidden<T>(
    conn: &mut Conn<'_>,
    actor: &Actor,
    items: &mut Vec<T>,
    id_of: impl Fn(&T) -> i64,
) -> AppResult<()> {
    if actor.can_administer() || !actor.role.is_staff() || items.is_empty() {
        return Ok(());
    }
    let lo = items.iter().map(&id_of).min().unwrap_or(0);
    let hi = items.iter().map(&id_of).max().unwrap_or(0);
    let hidden = tickets::hidden_from(conn, actor.id.0, (lo, hi)).await?;
    if !hidden.is_empty() {
        items.retain(|t| !hidden.contains(&id_of(t)));
    }
    Ok(())
}

/// Problems and changes move by their own phases, not by the incident state machine.
pub(crate) fn require_core_lifecycle(t: &TicketView) -> AppResult<()> {
    match t.kind.as_str() {
        "problem" => Err(AppError::Conflict(format!(
            "{} is a problem; it moves by its phases (POST /api/v1/problems/{}/phase)",
            t.number, t.number
        ))),
        "change" => Err(AppError::Conflict(format!(
            "{} is a change; it moves by its phases (POST /api/v1/changes/{}/phase)",
            t.number, t.number
        ))),
        _ => Ok(()),
    }
}

fn state_of(t: &TicketView) -> AppResult<State> {
    State::parse("state", &t.state).map_err(|e| AppError::Internal(e.to_string()))
}

/// A timeline entry that explains a change, and the typed event it stands for.
pub(crate) struct Entry<'a> {
    pub kind: &'a str,
    pub visibility: Visibility,
    pub body: &'a str,
    pub data: serde_json::Value,
    pub event: TicketEvent,
}

/// Writes the changed ticket `t` with the entry that explains the change and its event, in
/// the caller's transaction, and returns the ticket as stored.
pub(crate) async fn save(
    c: &mut Conn<'_>,
    t: &mut TicketView,
    now: i64,
    actor: Option<&Actor>,
    entry: Entry<'_>,
) -> AppResult<TicketView> {
    t.updated_at = now;
    tickets::update(c, t).await?;
    let view = tickets::get(c, t.id).await?;
    let stamp = Stamp { ticket_id: t.id, at: now, actor };
    record(c, stamp, (entry.kind, entry.visibility, entry.body), entry.data, entry.event, Some(&view)).await?;
    Ok(view)
}

/// Puts an escalated ticket into `target`'s queue: unowned, new, one escalation more,
/// the highest tier reached remembered. Returns the e-mail of the assignee it had.
pub(crate) fn move_up_to(t: &mut TicketView, target: &groups::GroupRow) -> Option<String> {
    t.assignment_group_id = target.id;
    t.assignment_group_name = target.name.clone();
    t.assignment_group_tier = target.tier;
    t.assignee_id = None;
    t.assignee_name = None;
    t.state = State::New.as_str().to_string();
    t.pending_reason = None;
    t.escalation_count += 1;
    t.max_tier = t.max_tier.max(target.tier);
    t.assignee_email.take()
}

/// The data of a ticket's `created` entry: how it was classified and routed, and its SLA targets.
pub(crate) fn created_entry_data(
    priority: Priority,
    (impact, urgency): (u8, u8),
    channel: &str,
    group: &str,
    assignee: Option<&str>,
    clocks: &[PlannedClock],
) -> serde_json::Value {
    json!({
        "priority": priority.to_string(), "impact": impact, "urgency": urgency,
        "channel": channel, "assignment_group": group, "assignee": assignee,
        "sla": clocks.iter().map(|k| json!({
            "target": k.target, "policy": k.policy_name,
            "due": k.due_at.map(|d| orion_domain::Timestamp(d).to_rfc3339()),
        })).collect::<Vec<_>>(),
    })
}

/// Appends an internal entry with a body that Orion writes itself (no actor); returns its id.
pub(crate) async fn internal_note(
    c: &mut Conn<'_>,
    ticket_id: i64,
    now: i64,
    kind: &str,
    body: &str,
    data: &str,
) -> AppResult<i64> {
    let entry = timeline::NewEntry { ticket_id, at: now, actor_id: None, kind, visibility: "internal", body, data };
    append(c, &entry).await
}

/// Appends a timeline entry in the caller's transaction; it is recorded as a
/// [`TicketEvent::Noted`] for the subscribers (webhooks among them).
pub(crate) async fn append(c: &mut Conn<'_>, e: &timeline::NewEntry<'_>) -> AppResult<i64> {
    Ok(timeline::append(c, e).await?)
}

/// Appends an internal entry Orion writes about a ticket (SLA events, …) with its event.
pub(crate) async fn record_entry(
    c: &mut Conn<'_>,
    ticket_id: i64,
    now: i64,
    actor: Option<&Actor>,
    (kind, event): (&str, TicketEvent),
    data: &serde_json::Value,
) -> AppResult<()> {
    let stamp = Stamp { ticket_id, at: now, actor };
    record(c, stamp, (kind, Visibility::Internal, ""), data.clone(), event, None).await?;
    Ok(())
}

/// Appends one timeline entry.
/// Which ticket an entry belongs to, when it happened and who did it (`None`: Orion itself).
struct Stamp<'a> {
    ticket_id: i64,
    at: i64,
    actor: Option<&'a Actor>,
}

/// Appends one timeline entry `(kind, visibility, body)` with `data`, recording `event` with the
/// ticket as the command left it.
async fn record(
    conn: &mut Conn<'_>,
    stamp: Stamp<'_>,
    (kind, visibility, body): (&str, Visibility, &str),
    data: serde_json::Value,
    event: TicketEvent,
    ticket: Option<&TicketView>,
) -> AppResult<i64> {
    let entry = timeline::NewEntry {
        ticket_id: stamp.ticket_id,
        at: stamp.at,
        actor_id: stamp.actor.map(|a| a.id.0),
        kind,
        visibility: visibility.as_str(),
        body,
        data: &data.to_string(),
    };
    Ok(timeline::append_event(conn, &entry, stamp.actor, event, ticket).await?)
}

/// An active staff member of `group_id`, by e-mail.
pub(crate) async fn assignee_in_group(
    conn: &mut Conn<'_>,
    email: &str,
    group: &groups::GroupRow,
) -> AppResult<users::UserRow> {
    let email = Email::parse("assignee", email)?;
    let u = users::find_by_email(conn, email.as_str())
        .await?
        .ok_or_else(|| invalid("assignee", format!("no user with e-mail {email}")))?;
    let role = Role::parse("role", &u.role).map_err(|e| AppError::Internal(e.to_string()))?;
    if !u.active || !role.is_staff() {
        return Err(invalid("assignee", "must be an active agent, lead or admin"));
    }
    if !groups::is_member(conn, group.id, u.id).await? {
        return Err(invalid("assignee", format!("{email} is not a member of {}", group.name)));
    }
    Ok(u)
}

impl App {
    pub async fn get_ticket(&self, actor: &Actor, number: &str) -> AppResult<Ticket> {
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        Ok(load_visible(&mut c, actor, number).await?.into())
    }

    /// Newest first, keyset-paged. Requesters only ever list their own tickets.
    pub async fn list_tickets(&self, actor: &Actor, q: TicketQuery) -> AppResult<Page<Ticket>> {
        let mut errs = FieldErrors::new();
        let mut f = TicketFilter::default();
        if let Some(k) = &q.kind {
            f.kind = errs.check(TicketKind::parse("kind", k)).map(|k| k.as_str().to_string());
        }
        if let Some(s) = &q.state {
            for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                if part == "open" {
                    f.states.extend(State::ALL.iter().filter(|s| s.is_open()).map(|s| s.as_str().to_string()));
                } else if let Some(st) = errs.check(State::parse("state", part)) {
                    f.states.push(st.as_str().to_string());
                }
            }
        }
        if let Some(p) = &q.priority {
            f.priority = errs.check(Priority::parse("priority", p)).map(|p| i64::from(p.get()));
        }
        match q.order.as_deref() {
            None | Some("newest") => {}
            Some("oldest") => f.ascending = true,
            Some(_) => errs.push("order", "expected newest or oldest"),
        }
        if let Some(t) = q.title.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            if t.chars().count() > 200 {
                errs.push("title", "must be at most 200 characters");
            }
            f.title = Some(t.to_string());
        }
        if let Some(a) = q.answer.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            f.answer = errs.check(answer_filter(a));
        }
        if let Some(t) = q.tag.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            f.tag = errs.check(orion_domain::routing::fold_tag("tag", t));
        }
        let limit = collect(&mut errs, parse_limit(q.limit))?;
        let cursor = collect(&mut errs, parse_cursor(q.cursor.as_deref()))?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        if let Some(g) = &q.assignment_group {
            match groups::find_by_name(&mut c, g.trim()).await? {
                Some(g) => f.group_id = Some(g.id),
                None => errs.push("assignment_group", format!("no group named {g:?}")),
            }
        }
        match q.assignee.as_deref().map(str::trim) {
            None => {}
            Some("none") => f.assignee = Some(AssigneeFilter::Nobody),
            Some("me") => f.assignee = Some(AssigneeFilter::User(actor.id.0)),
            Some(e) => match users::find_by_email(&mut c, &e.to_lowercase()).await? {
                Some(u) => f.assignee = Some(AssigneeFilter::User(u.id)),
                None => errs.push("assignee", format!("no user with e-mail {e}")),
            },
        }
        if actor.role == Role::Requester {
            f.requester_id = Some(actor.id.0);
            f.hide_tasks = true;
        } else if let Some(e) = &q.requester {
            match users::find_by_email(&mut c, &e.trim().to_lowercase()).await? {
                Some(u) => f.requester_id = Some(u.id),
                None => errs.push("requester", format!("no user with e-mail {e}")),
            }
        }
        errs.into_result()?;
        f.limit = limit.unwrap_or(PAGE_DEFAULT) + 1;
        f.before_id = cursor.flatten();
        let tickets::TicketList { mut rows, resume_after } = tickets::list(&mut c, &f).await?;
        // A title filter reads a bounded window per page: a short page may still have a next one.
        let next_cursor = keyset_cursor(&mut rows, f.limit - 1, |t| t.id).or(resume_after.map(|id| id.to_string()));
        // Restricted tickets the reader may not see leave the page (it may then be short).
        drop_hidden(&mut c, actor, &mut rows, |t| t.id).await?;
        Ok(Page { items: rows.into_iter().map(Ticket::from).collect(), next_cursor })
    }
}
