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
use orion_store::{Conn, categories, groups, timeline, users};
use serde_json::json;

pub(crate) use crate::kernel::access::require_staff;
pub(crate) use crate::kernel::error::collect;
pub(crate) use crate::kernel::limits::{TEXT_MAX, TITLE_MAX};
pub(crate) use crate::kernel::paging::{PAGE_DEFAULT, PAGE_MAX, keyset_cursor, parse_cursor, parse_limit};
pub(crate) use crate::kernel::uploads::{Upload, push_upload_errors};

pub(crate) mod lifecycle;
pub(crate) mod open;
pub(crate) use lifecycle::reopen_in;
pub(crate) use open::{Planned, Requester, Written, link_asset, open, resolve_ref};

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
    /// Title contains this text (any case)
    pub title: Option<String>,
    /// `newest` (default) or `oldest` first
    #[param(schema_with = crate::api_schema::orders_exact)]
    pub order: Option<String>,
    /// From the previous page's `next_cursor`
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    pub cursor: Option<String>,
    /// 1..200, default 50
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A ticket by number, whoever asks (callers check what the actor may see).
pub(crate) async fn load(conn: &mut Conn<'_>, number: &str) -> AppResult<TicketView> {
    let n = TicketNumber::parse(number).ok_or(AppError::NotFound("ticket"))?;
    match tickets::get_by_number(conn, &n.to_string()).await {
        Err(orion_store::StoreError::NotFound) => Err(AppError::NotFound("ticket")),
        other => Ok(other?),
    }
}

/// Loads a ticket the actor may see; others' tickets look absent to requesters.
pub(crate) async fn load_visible(conn: &mut Conn<'_>, actor: &Actor, number: &str) -> AppResult<TicketView> {
    let t = load(conn, number).await?;
    if !actor.can_view_ticket(orion_domain::UserId(t.requester_id)) {
        return Err(AppError::NotFound("ticket"));
    }
    Ok(t)
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

pub(crate) async fn group_by_name(conn: &mut Conn<'_>, field: &str, name: &str) -> AppResult<groups::GroupRow> {
    match groups::find_by_name(conn, name.trim()).await? {
        Some(g) if g.active => Ok(g),
        Some(_) => Err(invalid(field, format!("group {name:?} is deactivated"))),
        None => Err(invalid(field, format!("no group named {name:?}"))),
    }
}

/// The default group read from the database (a group created on another node a moment ago).
pub(crate) async fn default_group(conn: &mut Conn<'_>) -> AppResult<groups::GroupRow> {
    let all = groups::list(conn).await?;
    crate::settings::service_desk(&all)
        .cloned()
        .ok_or_else(|| invalid("assignment_group", "no group exists to route the ticket to; create one first"))
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

pub(crate) async fn category_by_path(conn: &mut Conn<'_>, path: &str) -> AppResult<categories::CategoryRow> {
    match categories::find_by_path(conn, path.trim()).await? {
        Some(c) if c.active => Ok(c),
        Some(_) => Err(invalid("category", format!("category {path:?} is retired"))),
        None => Err(invalid("category", format!("no category {path:?}"))),
    }
}

impl App {
    /// Logs an incident or service request.
    pub async fn create_ticket(&self, actor: &Actor, input: NewTicketInput) -> AppResult<Ticket> {
        let mut errs = FieldErrors::new();
        let kind = match &input.kind {
            None => Some(TicketKind::Incident),
            Some(k) => match errs.check(TicketKind::parse("kind", k)) {
                Some(k) if k.has_own_phases() => {
                    errs.push("kind", format!("log a {k} with POST /api/v1/{k}s"));
                    None
                }
                k => k,
            },
        };
        let title = errs.check(required_text("title", input.title.as_deref().unwrap_or(""), TITLE_MAX));
        let description = match input.description.as_deref() {
            Some(d) if d.chars().count() > TEXT_MAX => {
                errs.push("description", format!("must be at most {TEXT_MAX} characters"));
                None
            }
            d => Some(d.unwrap_or("").trim().to_string()),
        };
        // What a requester may set: kind, title, description, category, urgency (how soon they
        // need it) and their own devices. Impact (how many it hurts) is the desk's assessment, and
        // the channel is the one they used: the portal or the API.
        let requester_only = actor.role == Role::Requester;
        let impact = match input.impact {
            Some(_) if requester_only => {
                errs.push(
                    "impact",
                    "is assessed by the service desk; leave it out (urgency says how soon you need it)",
                );
                None
            }
            i => errs.check(Level::parse("impact", i.unwrap_or(3))),
        };
        let urgency = errs.check(Level::parse("urgency", input.urgency.unwrap_or(3)));
        let default_channel = if requester_only { Channel::Portal } else { Channel::Api };
        let channel = match &input.channel {
            None => Some(default_channel),
            Some(c) => match errs.check(Channel::parse("channel", c)) {
                Some(c) if requester_only && !matches!(c, Channel::Portal | Channel::Api) => {
                    errs.push("channel", "requesters log tickets through the portal or the API (portal or api)");
                    None
                }
                c => c,
            },
        };
        let requester_email = match (&input.requester, actor.can_create_for_others()) {
            (Some(r), true) => errs.check(Email::parse("requester", r)),
            (Some(_), false) => {
                errs.push("requester", "requesters can only log tickets for themselves; leave it out");
                None
            }
            (None, _) => None,
        };
        if input.assignee.is_some() && !actor.can_work_tickets() {
            errs.push("assignee", "only support staff can assign tickets");
        }
        if input.assignment_group.is_some() && !actor.can_work_tickets() {
            errs.push("assignment_group", "only support staff can route tickets");
        }
        let now = self.now();

        // Resolve every reference on a read connection first and report every unknown one,
        // so the write transaction (SQLite's single writer) holds only the writes.
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let config = self.config(&mut c).await?;
        let group = match &input.assignment_group {
            Some(name) => match config.active_group(name) {
                Some(g) => Some(g.clone()),
                // Not in the cache: maybe created on another node a moment ago.
                None => collect(&mut errs, group_by_name(&mut c, "assignment_group", name).await)?,
            },
            None => match config.default_group() {
                Some(g) => Some(g.clone()),
                None => collect(&mut errs, default_group(&mut c).await)?,
            },
        };
        let category = match input.category.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => collect(&mut errs, category_by_path(&mut c, p).await)?,
        };
        let assignee = match (&input.assignee, &group) {
            (Some(a), Some(g)) if !a.trim().is_empty() => collect(&mut errs, assignee_in_group(&mut c, a, g).await)?,
            _ => None,
        };
        // The requester: the caller, a known person, or (None) someone to create.
        let known_requester = match &requester_email {
            None => Some(users::get(&mut c, actor.id.0).await?),
            Some(email) => match users::find_by_email(&mut c, email.as_str()).await? {
                Some(u) if !u.active => {
                    errs.push("requester", format!("{email} is deactivated"));
                    None
                }
                found => found,
            },
        };
        let mut assets: Vec<(i64, String)> = Vec::new();
        for (i, a) in input.assets.iter().flatten().enumerate() {
            let field = format!("assets[{i}]");
            match resolve_ref(&mut c, &field, a).await {
                Ok(ci) if actor.role == Role::Requester && ci.owner_id != Some(actor.id.0) => {
                    errs.push(field, "you can name only a device checked out to you");
                }
                Ok(ci) => {
                    if !assets.iter().any(|(id, _)| *id == ci.id) {
                        assets.push((ci.id, ci.name));
                    }
                }
                Err(AppError::Validation(e)) => e.iter().for_each(|f| errs.push(f.field.clone(), f.message.clone())),
                Err(e) => return Err(e),
            }
        }
        let matrix = config.matrix.clone();
        drop(r);
        errs.into_result()?;
        let (Some(kind), Some(title), Some(description), Some(impact), Some(urgency), Some(channel), Some(group)) =
            (kind, title, description, impact, urgency, channel, group)
        else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let priority = matrix.priority(impact, urgency);
        let state = if assignee.is_some() { State::Assigned } else { State::New };
        let clocks = crate::settings::sla::plan_clocks(
            &config,
            &orion_domain::sla_policy::TicketFacts {
                kind,
                priority,
                category: category.as_ref().map(|c| c.path.as_str()),
                department: known_requester.as_ref().and_then(|u| u.department.as_deref()),
            },
            now,
        );

        let (requester, requester_email, requester_name) = match (known_requester, requester_email) {
            (Some(u), _) => (Requester::Known(u.id), u.email, u.name),
            (None, Some(email)) => {
                let name = input
                    .requester_name
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .unwrap_or(email.local_part())
                    .to_string();
                let e = email.as_str().to_string();
                (Requester::New { email: e.clone(), name: name.clone() }, e, name)
            }
            (None, None) => return Err(AppError::Internal("the caller has no user row".into())),
        };
        let entry_data = created_entry_data(
            priority,
            (impact.get(), urgency.get()),
            channel.as_str(),
            &group.name,
            assignee.as_ref().map(|u| u.email.as_str()),
            &clocks,
        )
        .to_string();
        let Written { id, number, requester_id } = self
            .intake()
            .submit(Planned {
                requester,
                prefix: kind.prefix(),
                kind: kind.as_str(),
                title: title.clone(),
                description: description.clone(),
                channel: channel.as_str(),
                category_id: category.as_ref().map(|c| c.id),
                impact: i64::from(impact.get()),
                urgency: i64::from(urgency.get()),
                priority: i64::from(priority.get()),
                state: state.as_str(),
                assignment_group_id: group.id,
                assignee_id: assignee.as_ref().map(|u| u.id),
                max_tier: group.tier,
                created_by: actor.id.0,
                now,
                entry_data,
                clocks,
                notify: config.mail.sends("received"),
                assets,
            })
            .await?;
        let view = TicketView {
            id,
            number,
            kind: kind.as_str().into(),
            title,
            description,
            requester_id,
            requester_email,
            requester_name,
            channel: channel.as_str().into(),
            category_id: category.as_ref().map(|c| c.id),
            category_path: category.map(|c| c.path),
            impact: i64::from(impact.get()),
            urgency: i64::from(urgency.get()),
            priority: i64::from(priority.get()),
            state: state.as_str().into(),
            pending_reason: None,
            assignment_group_id: group.id,
            assignment_group_name: group.name,
            assignment_group_tier: group.tier,
            assignee_id: assignee.as_ref().map(|u| u.id),
            assignee_email: assignee.as_ref().map(|u| u.email.clone()),
            assignee_name: assignee.map(|u| u.name),
            escalation_count: 0,
            max_tier: group.tier,
            reopen_count: 0,
            resolution_code: None,
            resolution_notes: None,
            created_by: actor.id.0,
            created_at: now,
            updated_at: now,
            resolved_at: None,
            closed_at: None,
            version: 1,
        };
        Ok(view.into())
    }

    pub async fn get_ticket(&self, actor: &Actor, number: &str) -> AppResult<Ticket> {
        let mut r = self.db.read().await?;
        Ok(load_visible(&mut r.conn(), actor, number).await?.into())
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
        } else if let Some(e) = &q.requester {
            match users::find_by_email(&mut c, &e.trim().to_lowercase()).await? {
                Some(u) => f.requester_id = Some(u.id),
                None => errs.push("requester", format!("no user with e-mail {e}")),
            }
        }
        errs.into_result()?;
        f.limit = limit.unwrap_or(PAGE_DEFAULT) + 1;
        f.before_id = cursor.flatten();
        let mut rows = tickets::list(&mut c, &f).await?;
        let next_cursor = keyset_cursor(&mut rows, f.limit - 1, |t| t.id);
        Ok(Page { items: rows.into_iter().map(Ticket::from).collect(), next_cursor })
    }

    /// Changes fields and state. Moving to a higher tier is an escalation and
    /// goes through [`App::escalate`]; moving sideways or down needs a note.
    pub async fn update_ticket(&self, actor: &Actor, number: &str, p: TicketPatch) -> AppResult<Ticket> {
        require_staff(actor, "change tickets")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let before = load(&mut c, number).await?;
        let from_state = state_of(&before)?;
        if from_state == State::Closed {
            return Err(AppError::Conflict(format!("{} is closed and can no longer change", before.number)));
        }
        let mut t = before.clone();
        let mut errs = FieldErrors::new();
        let mut changes = Vec::new();
        let mut change = |field: &str, from: serde_json::Value, to: serde_json::Value| {
            if from != to {
                changes.push(json!({"field": field, "from": from, "to": to}));
            }
        };

        if let Some(title) = &p.title
            && let Some(v) = errs.check(required_text("title", title, TITLE_MAX))
        {
            change("title", json!(t.title), json!(v));
            t.title = v;
        }
        if let Some(d) = &p.description {
            if d.chars().count() > TEXT_MAX {
                errs.push("description", format!("must be at most {TEXT_MAX} characters"));
            } else {
                change("description", json!(t.description), json!(d.trim()));
                t.description = d.trim().to_string();
            }
        }
        let impact = p.impact.and_then(|i| errs.check(Level::parse("impact", i)));
        let urgency = p.urgency.and_then(|u| errs.check(Level::parse("urgency", u)));
        if impact.is_some() || urgency.is_some() {
            let i = impact.map_or(t.impact, |l| i64::from(l.get()));
            let u = urgency.map_or(t.urgency, |l| i64::from(l.get()));
            let prio = priority_matrix(&mut c).await?.priority(Level::parse("impact", i)?, Level::parse("urgency", u)?);
            change("impact", json!(t.impact), json!(i));
            change("urgency", json!(t.urgency), json!(u));
            change("priority", json!(format!("P{}", t.priority)), json!(prio.to_string()));
            t.impact = i;
            t.urgency = u;
            t.priority = i64::from(prio.get());
        }
        if let Some(cat) = p.category.as_deref().map(str::trim) {
            let new = if cat.is_empty() { None } else { collect(&mut errs, category_by_path(&mut c, cat).await)? };
            if cat.is_empty() || new.is_some() {
                change("category", json!(t.category_path), json!(new.as_ref().map(|c| &c.path)));
                t.category_id = new.as_ref().map(|c| c.id);
                t.category_path = new.map(|c| c.path);
            }
        }
        let mut group_note = None;
        if let Some(name) = &p.assignment_group
            && let Some(g) = collect(&mut errs, group_by_name(&mut c, "assignment_group", name).await)?
            && g.id != t.assignment_group_id
        {
            let from = Tier::parse("tier", t.assignment_group_tier)?;
            let to = Tier::parse("tier", g.tier)?;
            match EscalationKind::between(from, to) {
                EscalationKind::Up => errs.push(
                    "assignment_group",
                    format!(
                        "{} is tier {}, above tier {}: escalate with POST /api/v1/tickets/{}/escalate and the troubleshooting done so far",
                        g.name, g.tier, t.assignment_group_tier, t.number
                    ),
                ),
                _ => match p.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                    None => errs.push("note", "say why the ticket moves to another group"),
                    Some(n) => {
                        group_note = Some(n.to_string());
                        change("assignment_group", json!(t.assignment_group_name), json!(g.name));
                        t.assignment_group_id = g.id;
                        t.assignment_group_name = g.name;
                        t.assignment_group_tier = g.tier;
                        if p.assignee.is_none() && t.assignee_id.is_some() {
                            change("assignee", json!(t.assignee_email), json!(null));
                            t.assignee_id = None;
                            t.assignee_email = None;
                        }
                    }
                },
            }
        }
        if let Some(a) = p.assignee.as_deref().map(str::trim) {
            if a.is_empty() {
                change("assignee", json!(t.assignee_email), json!(null));
                t.assignee_id = None;
                t.assignee_email = None;
            } else {
                let g = groups::get(&mut c, t.assignment_group_id).await?;
                if let Some(u) = collect(&mut errs, assignee_in_group(&mut c, a, &g).await)? {
                    change("assignee", json!(t.assignee_email), json!(u.email));
                    t.assignee_id = Some(u.id);
                    t.assignee_email = Some(u.email);
                }
            }
        }
        // The state the caller asked for, or the one the assignment implies.
        let mut to_state = from_state;
        if let Some(s) = &p.state {
            if let Some(s) = errs.check(State::parse("state", s)) {
                match s {
                    State::Resolved => {
                        errs.push("state", format!("resolve with POST /api/v1/tickets/{}/resolve", t.number))
                    }
                    State::Closed => errs.push("state", format!("close with POST /api/v1/tickets/{}/close", t.number)),
                    _ if from_state == State::Resolved => {
                        errs.push("state", format!("reopen with POST /api/v1/tickets/{}/reopen", t.number))
                    }
                    _ => to_state = s,
                }
            }
        } else if t.assignee_id.is_some() && from_state == State::New {
            to_state = State::Assigned;
        } else if t.assignee_id.is_none() && from_state.needs_assignee() {
            to_state = State::New;
        }
        if to_state.needs_assignee() && t.assignee_id.is_none() {
            // Taking a ticket by setting it in progress assigns it to yourself.
            if groups::is_member(&mut c, t.assignment_group_id, actor.id.0).await? && to_state == State::InProgress {
                let me = users::get(&mut c, actor.id.0).await?;
                change("assignee", json!(t.assignee_email), json!(me.email));
                t.assignee_id = Some(me.id);
                t.assignee_email = Some(me.email);
            } else {
                errs.push("assignee", format!("a ticket in state {to_state} needs an assignee"));
            }
        }
        let pending_reason = match p.pending_reason.as_deref() {
            Some(r) => errs.check(PendingReason::parse("pending_reason", r)),
            None => None,
        };
        if to_state == State::Pending {
            let reason = pending_reason.map(|r| r.as_str().to_string()).or(t.pending_reason.clone());
            if reason.is_none() {
                errs.push("pending_reason", "say what the ticket waits for: user, vendor or change");
            }
            t.pending_reason = reason;
        } else {
            if p.pending_reason.is_some() {
                errs.push("pending_reason", "only a pending ticket has a pending reason");
            }
            t.pending_reason = None;
        }
        errs.into_result()?;
        if to_state != from_state {
            require_core_lifecycle(&before)?;
            from_state.transition(to_state)?;
        }
        t.state = to_state.as_str().to_string();

        let state_changed = to_state != from_state || t.pending_reason != before.pending_reason;
        if changes.is_empty() && !state_changed {
            return Ok(before.into());
        }
        t.updated_at = now;
        tickets::update(&mut c, &t).await?;
        let view = tickets::get(&mut c, t.id).await?;
        let stamp = || Stamp { ticket_id: t.id, at: now, actor: Some(actor) };
        if !changes.is_empty() {
            let what = ("fields_changed", Visibility::Internal, group_note.as_deref().unwrap_or(""));
            let event = TicketEvent::FieldsChanged { priority_changed: t.priority != before.priority };
            record(&mut c, stamp(), what, json!({ "changes": changes }), event, Some(&view)).await?;
        }
        if state_changed {
            let data =
                json!({"from": from_state.as_str(), "to": to_state.as_str(), "pending_reason": t.pending_reason});
            let event = TicketEvent::StateChanged { from: from_state, to: to_state };
            record(&mut c, stamp(), ("state_changed", Visibility::Public, ""), data, event, Some(&view)).await?;
        }
        self.commit(tx).await?;
        Ok(view.into())
    }

    /// A public reply or an internal work note. A requester's reply to a ticket
    /// pending on them puts it back in the queue.
    pub async fn add_comment(&self, actor: &Actor, number: &str, input: CommentInput) -> AppResult<TimelineEntry> {
        self.add_comment_with_files(actor, number, input, Vec::new()).await
    }

    /// A comment with files attached (the web forms); without a text, the entry names the files.
    pub async fn add_comment_with_files(
        &self,
        actor: &Actor,
        number: &str,
        mut input: CommentInput,
        files: Vec<Upload>,
    ) -> AppResult<TimelineEntry> {
        let mut errs = FieldErrors::new();
        push_upload_errors(&mut errs, &files);
        if !files.is_empty() && input.body.as_deref().is_none_or(|b| b.trim().is_empty()) {
            let names: Vec<&str> = files.iter().map(|f| f.filename.as_str()).collect();
            input.body = Some(format!("Attached: {}", names.join(", ")));
        }
        let body = errs.check(required_text("body", input.body.as_deref().unwrap_or(""), TEXT_MAX));
        let visibility = match input.visibility.as_deref() {
            None => Some(Visibility::Public),
            Some(v) => errs.check(Visibility::parse("visibility", v)),
        };
        if visibility == Some(Visibility::Internal) && !actor.can_see_internal() {
            errs.push("visibility", "requesters can only add public comments");
        }
        if input.phone_call && !actor.can_work_tickets() {
            errs.push("phone_call", "only support staff log phone calls");
        }
        let mut cc = Vec::new();
        if !input.cc.is_empty()
            && (!actor.can_work_tickets() || visibility != Some(Visibility::Public) || input.phone_call)
        {
            errs.push("cc", "only support staff copy a public reply to others");
        }
        for (i, a) in input.cc.iter().enumerate() {
            if let Some(e) = errs.check(Email::parse(&format!("cc[{i}]"), a)) {
                cc.push(e.as_str().to_string());
            }
        }
        errs.into_result()?;
        let (Some(body), Some(visibility)) = (body, visibility) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = load_visible(&mut c, actor, number).await?;
        let state = state_of(&t)?;
        if state == State::Closed {
            return Err(AppError::Conflict(format!("{} is closed; open a new ticket", t.number)));
        }
        let kind = match (input.phone_call, visibility) {
            (true, _) => CommentKind::PhoneCall,
            (false, Visibility::Public) => CommentKind::Comment,
            (false, Visibility::Internal) => CommentKind::WorkNote,
        };
        let mut data = serde_json::Map::new();
        if !cc.is_empty() {
            data.insert("cc".into(), json!(cc));
        }
        let mut file_ids = Vec::new();
        if !files.is_empty() {
            let mut listed = Vec::new();
            for f in &files {
                let sha = orion_mail::sha256_hex(&f.bytes);
                orion_store::mail::put_blob(&mut c, &sha, &f.bytes, now).await?;
                let a = orion_store::mail::NewAttachment {
                    ticket_id: t.id,
                    entry_id: None,
                    filename: &f.filename,
                    content_type: &f.content_type,
                    size: f.bytes.len() as i64,
                    sha256: &sha,
                    content_id: None,
                    inline: false,
                };
                let id = orion_store::mail::add_attachment(&mut c, &a, now).await?;
                file_ids.push(id);
                listed.push(json!({"id": id, "filename": f.filename, "content_type": f.content_type,
                                   "size": f.bytes.len(), "inline": false}));
            }
            data.insert("attachments".into(), json!(listed));
        }
        let data = serde_json::Value::Object(data).to_string();
        let id = comment_in(&mut c, actor, &mut t, kind, visibility, &body, &data, now).await?;
        if !file_ids.is_empty() {
            orion_store::mail::attach_to_entry(&mut c, &file_ids, id).await?;
        }
        let entry = timeline::list(&mut c, t.id, true, Some(id - 1), 1).await?;
        self.commit(tx).await?;
        entry.into_iter().next().map(TimelineEntry::from).ok_or(AppError::Internal("comment vanished".into()))
    }

    /// The ticket's version and its newest timeline entry's id (staff): two indexed look-ups that
    /// tell an open ticket page whether anything changed, without reading the timeline.
    pub async fn ticket_freshness(&self, actor: &Actor, number: &str) -> AppResult<(i64, i64)> {
        require_staff(actor, "follow tickets")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = load(&mut c, number).await?;
        Ok((t.version, timeline::last_id(&mut c, t.id).await?))
    }

    /// The whole timeline (at most `max` entries), oldest first; requesters see public entries only.
    pub async fn whole_timeline(&self, actor: &Actor, number: &str, max: usize) -> AppResult<Vec<TimelineEntry>> {
        let mut entries = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.timeline(actor, number, cursor.as_deref(), Some(PAGE_MAX)).await?;
            entries.extend(page.items);
            match page.next_cursor {
                Some(c) if entries.len() < max => cursor = Some(c),
                _ => return Ok(entries),
            }
        }
    }

    /// Oldest first; requesters see public entries only.
    pub async fn timeline(
        &self,
        actor: &Actor,
        number: &str,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<TimelineEntry>> {
        let limit = parse_limit(limit)?;
        let after = parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = load_visible(&mut c, actor, number).await?;
        let mut rows = timeline::list(&mut c, t.id, actor.can_see_internal(), after, limit + 1).await?;
        let next_cursor = keyset_cursor(&mut rows, limit, |e| e.id);
        let staff = actor.can_see_internal();
        let items = rows
            .into_iter()
            .map(|e| {
                let mut entry = TimelineEntry::from(e);
                // SLA targets are staff information, even on the public `created` entry.
                if !staff && let Some(data) = entry.data.as_object_mut() {
                    data.remove("sla");
                }
                entry
            })
            .collect();
        Ok(Page { items, next_cursor })
    }
}

/// Adds a comment-like entry (`comment`, `work_note`, `phone_call`, `email`) to an open ticket in the
/// caller's transaction: a requester's reply to a ticket pending on them puts it back in the queue.
/// (Subscribers count a public reply or call by staff for the SLA and mail it to the requester.)
/// Returns the entry's id.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn comment_in(
    c: &mut Conn<'_>,
    actor: &Actor,
    t: &mut TicketView,
    kind: CommentKind,
    visibility: Visibility,
    body: &str,
    data: &str,
    now: i64,
) -> AppResult<i64> {
    let state = state_of(t)?;
    let entry = timeline::NewEntry {
        ticket_id: t.id,
        at: now,
        actor_id: Some(actor.id.0),
        kind: kind.as_str(),
        visibility: visibility.as_str(),
        body,
        data,
    };
    let public = visibility == Visibility::Public;
    let event = TicketEvent::Commented { kind, public, by_staff: actor.can_work_tickets() };
    let id = timeline::append_event(c, &entry, Some(actor), event, Some(t)).await?;
    if state == State::Pending
        && t.pending_reason.as_deref() == Some(PendingReason::User.as_str())
        && actor.id.0 == t.requester_id
    {
        let to = State::after_reopen(t.assignee_id.is_some());
        t.state = to.as_str().to_string();
        t.pending_reason = None;
        t.updated_at = now;
        tickets::update(c, t).await?;
        let stamp = Stamp { ticket_id: t.id, at: now, actor: None };
        let what = ("state_changed", Visibility::Public, "The requester replied.");
        let data = json!({"from": "pending", "to": to.as_str(), "pending_reason": null});
        let event = TicketEvent::StateChanged { from: State::Pending, to };
        record(c, stamp, what, data, event, Some(t)).await?;
    } else {
        // Keep `updated_at` honest for queues sorted by activity.
        t.updated_at = now;
        tickets::update(c, t).await?;
    }
    Ok(id)
}
