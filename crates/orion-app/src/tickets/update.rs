//! Changing a ticket's fields, assignment and state in one command, each change with its
//! timeline entry and typed event.

use super::*;

impl App {
    /// Changes fields and state. Moving to a higher tier is an escalation and
    /// goes through [`App::escalate`]; moving sideways or down needs a note.
    pub async fn update_ticket(&self, actor: &Actor, number: &str, p: TicketPatch) -> AppResult<Ticket> {
        require_staff(actor, "change tickets")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let before = load_visible(&mut tx.conn(), actor, number).await?;
        let (view, changed) = update_in(&mut tx.conn(), actor, before, &p, now).await?;
        if changed {
            self.commit(tx).await?;
        }
        Ok(view.into())
    }
}

/// Applies `p` to `before` (a ticket `actor` may see) inside the caller's transaction: every
/// change with its timeline entry and event. Returns the ticket as it is now and whether anything
/// changed.
pub(crate) async fn update_in(
    c: &mut Conn<'_>,
    actor: &Actor,
    before: TicketView,
    p: &TicketPatch,
    now: i64,
) -> AppResult<(TicketView, bool)> {
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
        let prio = priority_matrix(c).await?.priority(Level::parse("impact", i)?, Level::parse("urgency", u)?);
        change("impact", json!(t.impact), json!(i));
        change("urgency", json!(t.urgency), json!(u));
        change("priority", json!(format!("P{}", t.priority)), json!(prio.to_string()));
        t.impact = i;
        t.urgency = u;
        t.priority = i64::from(prio.get());
    }
    if let Some(cat) = p.category.as_deref().map(str::trim) {
        let new = if cat.is_empty() { None } else { collect(&mut errs, category_by_path(c, cat).await)? };
        if cat.is_empty() || new.is_some() {
            change("category", json!(t.category_path), json!(new.as_ref().map(|c| &c.path)));
            t.category_id = new.as_ref().map(|c| c.id);
            t.category_path = new.map(|c| c.path);
        }
    }
    let mut group_note = None;
    if let Some(name) = &p.assignment_group
        && let Some(g) = collect(&mut errs, group_by_name(c, "assignment_group", name).await)?
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
            let g = groups::get(c, t.assignment_group_id).await?;
            if let Some(u) = collect(&mut errs, assignee_in_group(c, a, &g).await)? {
                change("assignee", json!(t.assignee_email), json!(u.email));
                t.assignee_id = Some(u.id);
                t.assignee_email = Some(u.email);
            }
        }
    }
    // The state the caller asked for, or the one the assignment implies. Problems and changes
    // move by their phases: assigning one changes who works on it, not its state.
    let core = !matches!(before.kind.as_str(), "problem" | "change");
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
    } else if core && t.assignee_id.is_some() && from_state == State::New {
        to_state = State::Assigned;
    } else if core && t.assignee_id.is_none() && from_state.needs_assignee() {
        to_state = State::New;
    }
    // A catalog request waiting for its approvers moves on when they decide, not by an edit.
    let awaiting_approval = before.pending_reason.as_deref() == Some(PendingReason::Approval.as_str());
    if awaiting_approval && to_state != from_state {
        errs.push(
            "state",
            format!(
                "{} waits for approval and moves on when its approvers decide; close it to cancel the request",
                t.number
            ),
        );
    }
    if p.pending_reason.as_deref().map(str::trim) == Some(PendingReason::Approval.as_str()) && !awaiting_approval {
        errs.push("pending_reason", "only an approval chain puts a request on hold for approval");
    }
    if core && to_state.needs_assignee() && t.assignee_id.is_none() {
        // Taking a ticket by setting it in progress assigns it to yourself.
        if groups::is_member(c, t.assignment_group_id, actor.id.0).await? && to_state == State::InProgress {
            let me = users::get(c, actor.id.0).await?;
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
        return Ok((before, false));
    }
    t.updated_at = now;
    tickets::update(c, &t).await?;
    let view = tickets::get(c, t.id).await?;
    let stamp = || Stamp { ticket_id: t.id, at: now, actor: Some(actor) };
    if !changes.is_empty() {
        let what = ("fields_changed", Visibility::Internal, group_note.as_deref().unwrap_or(""));
        let event = TicketEvent::FieldsChanged { priority_changed: t.priority != before.priority };
        record(c, stamp(), what, json!({ "changes": changes }), event, Some(&view)).await?;
    }
    if state_changed {
        let data = json!({"from": from_state.as_str(), "to": to_state.as_str(), "pending_reason": t.pending_reason});
        let event = TicketEvent::StateChanged { from: from_state, to: to_state };
        record(c, stamp(), ("state_changed", Visibility::Public, ""), data, event, Some(&view)).await?;
    }
    Ok((view, true))
}
