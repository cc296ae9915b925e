//! Moving a ticket through its life: escalate, resolve, reopen, close.

use super::{Entry, TEXT_MAX, collect, group_by_name, load_visible, require_staff, save, state_of};
use crate::kernel::error::invalid;
use crate::{App, AppError, AppResult, EscalateInput, ReasonInput, ResolveInput, Ticket};
use orion_domain::error::required_text;
use orion_domain::{Actor, FieldErrors, ResolutionCode, State, TicketEvent, Visibility};
use orion_store::groups;
use serde_json::json;

impl App {
    /// Moves a ticket up to its group's escalation target (or a named group of the
    /// same or a higher tier), with the reason and the troubleshooting done so far.
    pub async fn escalate(&self, actor: &Actor, number: &str, input: EscalateInput) -> AppResult<Ticket> {
        require_staff(actor, "escalate tickets")?;
        let mut errs = FieldErrors::new();
        let reason = errs.check(required_text("reason", input.reason.as_deref().unwrap_or(""), TEXT_MAX));
        let troubleshooting =
            errs.check(required_text("troubleshooting", input.troubleshooting.as_deref().unwrap_or(""), TEXT_MAX));
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = load_visible(&mut c, actor, number).await?;
        super::require_core_lifecycle(&t)?;
        let state = state_of(&t)?;
        if !state.is_open() {
            return Err(AppError::Conflict(format!("{} is {state}; reopen it before escalating", t.number)));
        }
        let current = groups::get(&mut c, t.assignment_group_id).await?;
        let target = match input.to_group.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
            Some(name) => collect(&mut errs, group_by_name(&mut c, "to_group", name).await)?,
            None => match current.escalation_target_id {
                Some(id) => Some(groups::get(&mut c, id).await?),
                None => {
                    errs.push("to_group", format!("{} has no escalation target; name the group", current.name));
                    None
                }
            },
        };
        if let Some(g) = &target {
            if g.id == current.id {
                errs.push("to_group", format!("the ticket is already with {}", g.name));
            } else if g.tier < current.tier {
                errs.push(
                    "to_group",
                    format!(
                        "{} is tier {}, below tier {}: reassign it with a note instead",
                        g.name, g.tier, current.tier
                    ),
                );
            }
        }
        errs.into_result()?;
        let (Some(reason), Some(troubleshooting), Some(target)) = (reason, troubleshooting, target) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let view =
            escalate_in(&mut c, &mut t, (&current, &target), Some(actor), (&reason, &troubleshooting), now).await?;
        self.commit(tx).await?;
        Ok(view.into())
    }

    pub async fn resolve(&self, actor: &Actor, number: &str, input: ResolveInput) -> AppResult<Ticket> {
        require_staff(actor, "resolve tickets")?;
        let mut errs = FieldErrors::new();
        let code = match input.resolution_code.as_deref() {
            None => {
                errs.push("resolution_code", "is required");
                None
            }
            Some(c) => errs.check(ResolutionCode::parse("resolution_code", c)),
        };
        let notes =
            errs.check(required_text("resolution_notes", input.resolution_notes.as_deref().unwrap_or(""), TEXT_MAX));
        let minutes = super::time::check_minutes(&mut errs, "time_spent_minutes", input.time_spent_minutes);
        errs.into_result()?;
        let (Some(code), Some(notes)) = (code, notes) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = load_visible(&mut c, actor, number).await?;
        super::require_core_lifecycle(&t)?;
        if t.kind == orion_domain::TicketKind::Task.as_str() {
            return Err(AppError::Conflict(format!(
                "{} is a fulfilment task: complete it with its outputs (POST /api/v1/catalog/tasks/{}/complete)",
                t.number, t.number
            )));
        }
        super::time::require_time(&mut c, &t, minutes).await?;
        if let Some(m) = minutes {
            super::time::log_in(&mut c, actor, &t, (super::time::Work::Resolution, m, ""), None, now).await?;
        }
        let view = resolve_in(&mut c, actor, &mut t, (code, &notes), now).await?;
        self.commit(tx).await?;
        Ok(view.into())
    }

    /// The requester (or staff) reopens a resolved ticket; it goes back to its owner.
    pub async fn reopen(&self, actor: &Actor, number: &str, input: ReasonInput) -> AppResult<Ticket> {
        let reason = required_text("reason", input.reason.as_deref().unwrap_or(""), TEXT_MAX)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = load_visible(&mut c, actor, number).await?;
        if !actor.can_reopen_or_confirm(orion_domain::UserId(t.requester_id)) {
            return Err(AppError::Forbidden("only the requester or support staff can reopen".into()));
        }
        let view = reopen_in(&mut c, actor, &mut t, &reason, now).await?;
        self.commit(tx).await?;
        Ok(view.into())
    }

    /// Closes a resolved ticket (the requester confirming, or staff).
    pub async fn close(&self, actor: &Actor, number: &str, input: ReasonInput) -> AppResult<Ticket> {
        let note = input.reason.as_deref().map(str::trim).unwrap_or("").to_string();
        if note.chars().count() > TEXT_MAX {
            return Err(invalid("reason", format!("must be at most {TEXT_MAX} characters")));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = load_visible(&mut c, actor, number).await?;
        super::require_core_lifecycle(&t)?;
        let from = state_of(&t)?;
        from.transition(State::Closed)?;
        t.state = State::Closed.as_str().to_string();
        t.closed_at = Some(now);
        let entry = Entry {
            kind: "closed",
            visibility: Visibility::Public,
            body: &note,
            data: json!({"from": from.as_str()}),
            event: TicketEvent::Closed,
        };
        let view = save(&mut c, &mut t, now, Some(actor), entry).await?;
        self.commit(tx).await?;
        Ok(view.into())
    }
}

/// Moves `t` from group `current` up to `target` (an agent's escalation, or an SLA rule's when
/// `actor` is `None`) with the reason and the troubleshooting done so far, in the caller's transaction.
pub(crate) async fn escalate_in(
    c: &mut orion_store::Conn<'_>,
    t: &mut orion_store::tickets::TicketView,
    (current, target): (&groups::GroupRow, &groups::GroupRow),
    actor: Option<&Actor>,
    (reason, troubleshooting): (&str, &str),
    now: i64,
) -> AppResult<orion_store::tickets::TicketView> {
    let from_state = state_of(t)?;
    let from_assignee = super::move_up_to(t, target);
    let automatic = actor.is_none();
    let mut data = json!({
        "from_group": current.name, "from_tier": current.tier,
        "to_group": target.name, "to_tier": target.tier,
        "from_state": from_state.as_str(), "from_assignee": from_assignee,
        "reason": reason, "troubleshooting": troubleshooting,
        "escalation_count": t.escalation_count,
    });
    let body = if automatic {
        data["automatic"] = json!(true);
        String::new()
    } else {
        format!("Reason: {reason}\n\nTroubleshooting so far:\n{troubleshooting}")
    };
    let entry = Entry {
        kind: "escalated",
        visibility: Visibility::Internal,
        body: &body,
        data,
        event: TicketEvent::Escalated { automatic },
    };
    save(c, t, now, actor, entry).await
}

/// Raises the priority one step (P1 stays P1) because an SLA rule says so, recorded like an
/// agent's change (the SLA subscriber re-targets the clocks). Nothing happens to a closed ticket.
pub(crate) async fn raise_priority_in(
    c: &mut orion_store::Conn<'_>,
    t: &mut orion_store::tickets::TicketView,
    reason: &str,
    now: i64,
) -> AppResult<()> {
    let from = orion_domain::Priority::from_number("priority", t.priority)?;
    let to = from.raised();
    if to == from || !state_of(t)?.is_open() {
        return Ok(());
    }
    t.priority = i64::from(to.get());
    let entry = Entry {
        kind: "fields_changed",
        visibility: Visibility::Internal,
        body: "",
        data: json!({"changes": [{"field": "priority", "from": from.to_string(), "to": to.to_string()}],
                     "reason": reason, "automatic": true}),
        event: TicketEvent::FieldsChanged { priority_changed: true },
    };
    *t = save(c, t, now, None, entry).await?;
    Ok(())
}

/// Reopens a resolved ticket inside the caller's transaction (the API, or the requester answering
/// the resolution mail); the requester hears of it when someone else reopened it.
pub(crate) async fn reopen_in(
    c: &mut orion_store::Conn<'_>,
    actor: &Actor,
    t: &mut orion_store::tickets::TicketView,
    reason: &str,
    now: i64,
) -> AppResult<orion_store::tickets::TicketView> {
    super::require_core_lifecycle(t)?;
    let from = state_of(t)?;
    if from != State::Resolved {
        return Err(AppError::Conflict(format!("only a resolved ticket can be reopened; {} is {from}", t.number)));
    }
    let to = from.transition(State::after_reopen(t.assignee_id.is_some()))?;
    t.state = to.as_str().to_string();
    t.reopen_count += 1;
    t.resolved_at = None;
    t.resolution_code = None;
    t.resolution_notes = None;
    let entry = Entry {
        kind: "reopened",
        visibility: Visibility::Public,
        body: reason,
        data: json!({"from": from.as_str(), "to": to.as_str()}),
        event: TicketEvent::Reopened { from, to },
    };
    save(c, t, now, Some(actor), entry).await
}

/// Resolves an open ticket inside the caller's transaction (the API, or monitoring when every alert
/// of an incident has cleared); the requester hears of it unless they resolved it themselves.
pub(crate) async fn resolve_in(
    c: &mut orion_store::Conn<'_>,
    actor: &Actor,
    t: &mut orion_store::tickets::TicketView,
    (code, notes): (ResolutionCode, &str),
    now: i64,
) -> AppResult<orion_store::tickets::TicketView> {
    let from = state_of(t)?;
    from.transition(State::Resolved)?;
    t.state = State::Resolved.as_str().to_string();
    t.pending_reason = None;
    t.resolution_code = Some(code.as_str().to_string());
    t.resolution_notes = Some(notes.to_string());
    t.resolved_at = Some(now);
    let entry = Entry {
        kind: "resolved",
        visibility: Visibility::Public,
        body: notes,
        data: json!({"from": from.as_str(), "resolution_code": code.as_str()}),
        event: TicketEvent::Resolved,
    };
    save(c, t, now, Some(actor), entry).await
}
