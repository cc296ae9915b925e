//! Problem and change management. A problem (PRB) and a change (CHG) are tickets: they share
//! numbers, groups, assignees, the timeline, search, the CMDB links and webhooks with incidents.
//! What only they have (phases, analysis, approvals, plans) lives beside the ticket row, and
//! every phase move also sets the ticket core's state so queues and reports stay true.

use crate::kernel::access::require_staff;
use crate::kernel::error::collect;
use crate::kernel::error::invalid;
use crate::kernel::limits::{TEXT_MAX, TITLE_MAX};
use crate::tickets::{self, Entry};
use crate::tickets::{Planned, Requester, Written};
use crate::{App, AppError, AppResult};
use orion_domain::error::required_text;
use orion_domain::{Actor, FieldErrors, Level, PendingReason, State, TicketKind, Timestamp};
use orion_store::Conn;
use orion_store::itsm::LinkedRow;
use orion_store::tickets::TicketView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub mod changes;
pub mod detect;
pub mod problems;

pub(crate) fn ts(t: i64) -> String {
    Timestamp(t).to_rfc3339()
}

/// A ticket linked to a problem or a change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LinkedTicket {
    pub number: String,
    pub title: String,
    pub state: String,
    pub priority: String,
    pub created_at: String,
}

impl From<LinkedRow> for LinkedTicket {
    fn from(r: LinkedRow) -> Self {
        Self {
            number: r.number,
            title: r.title,
            state: r.state,
            priority: format!("P{}", r.priority),
            created_at: ts(r.created_at),
        }
    }
}

/// A problem or change in a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ItemSummary {
    pub number: String,
    pub title: String,
    pub phase: String,
    pub priority: String,
    pub assignment_group: String,
    pub assignee_name: Option<String>,
    pub created_at: String,
}

impl From<orion_store::itsm::ItemRow> for ItemSummary {
    fn from(r: orion_store::itsm::ItemRow) -> Self {
        Self {
            number: r.number,
            title: r.title,
            phase: r.phase,
            priority: format!("P{}", r.priority),
            assignment_group: r.group_name,
            assignee_name: r.assignee_name,
            created_at: ts(r.created_at),
        }
    }
}

/// What a new problem or change has in common with every ticket.
pub(crate) struct Core<'a> {
    pub kind: TicketKind,
    pub title: Option<&'a str>,
    pub description: Option<&'a str>,
    pub impact: Option<i64>,
    pub urgency: Option<i64>,
    pub category: Option<&'a str>,
    pub group: Option<&'a str>,
    pub assignee: Option<&'a str>,
    pub assets: &'a [String],
    pub state: State,
    pub pending: Option<PendingReason>,
}

/// Writes the ticket row of a new problem or change in the caller's transaction: checks every
/// field (collecting errors into `errs`), routes it, links its CIs. The caller checks `errs`
/// before and after. Returns `None` when a field was wrong.
pub(crate) async fn create_core(
    app: &App,
    c: &mut Conn<'_>,
    actor: &Actor,
    core: Core<'_>,
    errs: &mut FieldErrors,
    now: i64,
) -> AppResult<Option<Written>> {
    require_staff(actor, &format!("log {}s", core.kind))?;
    let title = errs.check(required_text("title", core.title.unwrap_or(""), TITLE_MAX));
    let description = core.description.unwrap_or("").trim().to_string();
    if description.chars().count() > TEXT_MAX {
        errs.push("description", format!("must be at most {TEXT_MAX} characters"));
    }
    let impact = errs.check(Level::parse("impact", core.impact.unwrap_or(3)));
    let urgency = errs.check(Level::parse("urgency", core.urgency.unwrap_or(3)));
    let config = app.config(c).await?;
    let group = match core.group.map(str::trim).filter(|g| !g.is_empty()) {
        Some(name) => collect(errs, tickets::group_by_name(c, "assignment_group", name).await)?,
        None => collect(errs, tickets::default_group(c).await)?,
    };
    let category = match core.category.map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => collect(errs, tickets::category_by_path(c, p).await)?,
    };
    let assignee = match (core.assignee.map(str::trim).filter(|a| !a.is_empty()), &group) {
        (Some(a), Some(g)) => collect(errs, tickets::assignee_in_group(c, a, g).await)?,
        _ => None,
    };
    let mut assets: Vec<(i64, String)> = Vec::new();
    for (i, a) in core.assets.iter().enumerate() {
        if let Some(ci) = collect(errs, crate::tickets::resolve_ref(c, &format!("assets[{i}]"), a).await)?
            && !assets.iter().any(|(id, _)| *id == ci.id)
        {
            assets.push((ci.id, ci.name));
        }
    }
    let (Some(title), Some(impact), Some(urgency), Some(group)) = (title, impact, urgency, group) else {
        return Ok(None);
    };
    if !errs.is_empty() {
        return Ok(None);
    }
    let priority = config.matrix.priority(impact, urgency);
    let state = if core.state == State::New && assignee.is_some() { State::Assigned } else { core.state };
    let entry_data = tickets::created_entry_data(
        priority,
        (impact.get(), urgency.get()),
        "api",
        &group.name,
        assignee.as_ref().map(|u| u.email.as_str()),
        &[],
    )
    .to_string();
    let written = crate::tickets::open(
        c,
        &Planned {
            requester: Requester::Known(actor.id.0),
            prefix: core.kind.prefix(),
            kind: core.kind.as_str(),
            title,
            description,
            channel: "api",
            category_id: category.as_ref().map(|c| c.id),
            impact: i64::from(impact.get()),
            urgency: i64::from(urgency.get()),
            priority: i64::from(priority.get()),
            state: state.as_str(),
            pending_reason: core.pending.map(|p| p.as_str()),
            assignment_group_id: group.id,
            assignee_id: assignee.as_ref().map(|u| u.id),
            max_tier: group.tier,
            created_by: actor.id.0,
            now,
            entry_data,
            clocks: Vec::new(),
            notify: false,
            assets,
            routed: Default::default(),
        },
    )
    .await?;
    Ok(Some(written))
}

/// A page of problems or changes, in one phase if `phase` names one (checked by `parse`).
pub(crate) async fn list_items(
    app: &App,
    items: orion_store::itsm::Items,
    phase: Option<&str>,
    parse: fn(&str, &str) -> Result<&'static str, orion_domain::FieldError>,
    (cursor, limit): (Option<&str>, Option<i64>),
) -> AppResult<crate::Page<ItemSummary>> {
    let phase = match phase.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => Some(parse("phase", p)?),
        None => None,
    };
    let limit = crate::kernel::paging::parse_limit(limit)?;
    let before = crate::kernel::paging::parse_cursor(cursor)?;
    let mut r = app.db.read().await?;
    let mut rows = orion_store::itsm::list_items(&mut r.conn(), items, phase, before, limit + 1).await?;
    let next_cursor = crate::kernel::paging::keyset_cursor(&mut rows, limit, |r| r.id);
    Ok(crate::Page { items: rows.into_iter().map(Into::into).collect(), next_cursor })
}

/// A PRB or CHG by number, of the expected kind.
pub(crate) async fn load_kind(c: &mut Conn<'_>, number: &str, kind: TicketKind) -> AppResult<TicketView> {
    let what = if kind == TicketKind::Problem { "problem" } else { "change" };
    let t = match tickets::load(c, number).await {
        Err(AppError::NotFound(_)) => return Err(AppError::NotFound(what)),
        other => other?,
    };
    if t.kind != kind.as_str() {
        return Err(AppError::NotFound(what));
    }
    Ok(t)
}

/// Moves the ticket core to the state a phase stands for and writes the timeline entry that
/// explains the move, in the caller's transaction.
pub(crate) async fn set_core_state(
    c: &mut Conn<'_>,
    t: &mut TicketView,
    (state, pending): (State, Option<PendingReason>),
    actor: &Actor,
    now: i64,
    entry: Entry<'_>,
) -> AppResult<TicketView> {
    t.state = state.as_str().to_string();
    t.pending_reason = pending.map(|p| p.as_str().to_string());
    match state {
        State::Resolved => t.resolved_at = Some(now),
        State::Closed => {
            t.closed_at = Some(now);
            t.resolved_at.get_or_insert(now);
        }
        _ => {
            t.resolved_at = None;
            t.closed_at = None;
        }
    }
    if state == State::InProgress && t.assignee_id.is_none() {
        // Whoever starts the work owns it, if nobody did.
        if orion_store::groups::is_member(c, t.assignment_group_id, actor.id.0).await? {
            t.assignee_id = Some(actor.id.0);
        }
    }
    tickets::save(c, t, now, Some(actor), entry).await
}

/// An internal timeline entry on another ticket (an incident linked to a problem, …).
pub(crate) async fn note_on(
    c: &mut Conn<'_>,
    ticket_id: i64,
    now: i64,
    actor: &Actor,
    kind: &str,
    data: serde_json::Value,
) -> AppResult<()> {
    tickets::record_entry(c, ticket_id, now, Some(actor), (kind, orion_domain::TicketEvent::Noted), &data).await
}

/// A text field of an update: trimmed, bounded.
pub(crate) fn text_field(errs: &mut FieldErrors, field: &str, v: Option<&str>) -> Option<String> {
    let v = v?.trim().to_string();
    if v.chars().count() > TEXT_MAX {
        errs.push(field, format!("must be at most {TEXT_MAX} characters"));
        return None;
    }
    Some(v)
}

pub(crate) fn require_phase_note(note: Option<&str>) -> AppResult<String> {
    let n = note.map(str::trim).unwrap_or("").to_string();
    if n.chars().count() > TEXT_MAX {
        return Err(invalid("note", format!("must be at most {TEXT_MAX} characters")));
    }
    Ok(n)
}
