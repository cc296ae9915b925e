//! The outcome row a resolution writes: what the KPIs measure of one ticket, read from its
//! timeline once, in the resolving transaction (and for tickets resolved before reports existed,
//! by a background job).

use crate::{AppError, AppResult};
use orion_domain::{Role, Timestamp};
use orion_store::reports::{self, Outcome};
use orion_store::tickets::TicketView;
use orion_store::{Conn, groups, timeline, users};
use std::collections::HashMap;

/// What the timeline says about one ticket's life.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Walk {
    /// The group it was logged with
    pub first_group: Option<String>,
    /// The first public reply or phone call by staff
    pub first_response_at: Option<i64>,
    /// The stretches it was open: from creation or a reopen to the next resolution or closure
    pub open: Vec<(i64, Option<i64>)>,
}

/// Reads a ticket's timeline: its first group, its first response by staff and its open stretches.
pub(crate) async fn walk(c: &mut Conn<'_>, t: &TicketView) -> AppResult<Walk> {
    let mut w = Walk { open: vec![(t.created_at, None)], ..Walk::default() };
    let mut staff: HashMap<i64, bool> = HashMap::new();
    let mut after = None;
    loop {
        let page = timeline::list(c, t.id, true, after, 500).await?;
        let Some(last) = page.last().map(|e| e.id) else { break };
        for e in &page {
            match e.kind.as_str() {
                "created" if w.first_group.is_none() => {
                    let data: serde_json::Value = serde_json::from_str(&e.data).unwrap_or_default();
                    w.first_group = data["assignment_group"].as_str().map(str::to_string);
                }
                "comment" | "phone_call" if w.first_response_at.is_none() => {
                    let counts = e.kind == "phone_call" || e.visibility == "public";
                    if let Some(actor) = e.actor_id.filter(|_| counts) {
                        let is_staff = match staff.get(&actor) {
                            Some(s) => *s,
                            None => {
                                let role = users::get(c, actor).await?.role;
                                let s = Role::parse("role", &role).map(Role::is_staff).unwrap_or(false);
                                *staff.entry(actor).or_insert(s)
                            }
                        };
                        if is_staff {
                            w.first_response_at = Some(e.at);
                        }
                    }
                }
                "resolved" | "closed" => {
                    if let Some(open) = w.open.last_mut().filter(|s| s.1.is_none()) {
                        open.1 = Some(e.at);
                    }
                }
                "reopened" if w.open.last().is_some_and(|s| s.1.is_some()) => w.open.push((e.at, None)),
                _ => {}
            }
        }
        after = Some(last);
    }
    Ok(w)
}

/// Writes the outcome row of `t`, resolved at `resolved_at`.
pub(crate) async fn record(c: &mut Conn<'_>, t: &TicketView, resolved_at: i64) -> AppResult<()> {
    let cal = crate::settings::sla::business_calendar(c).await?;
    let w = walk(c, t).await?;
    let groups: HashMap<String, i64> = groups::list(c).await?.into_iter().map(|g| (g.name, g.tier)).collect();
    let first_tier = w.first_group.as_deref().and_then(|g| groups.get(g)).copied().unwrap_or(1);
    let business = |from: i64, to: i64| cal.business_ms_between(Timestamp(from), Timestamp(to));
    let resolution_ms =
        w.open.iter().filter(|s| s.0 < resolved_at).map(|s| business(s.0, s.1.unwrap_or(resolved_at))).sum();
    let response_ms = w.first_response_at.filter(|at| *at <= resolved_at).map(|at| business(t.created_at, at));
    let clocks = reports::clock_states(c, t.id).await?;
    let sla = |target: &str| {
        clocks.iter().find(|(k, s)| k == target && (s == "met" || s == "breached")).map(|(_, s)| s.clone())
    };
    let o = Outcome {
        ticket_id: t.id,
        kind: t.kind.clone(),
        channel: t.channel.clone(),
        priority: t.priority,
        category_id: t.category_id,
        group_id: t.assignment_group_id,
        tier: t.assignment_group_tier,
        assignee_id: t.assignee_id,
        visibility_group_id: t.visibility_group_id,
        first_tier,
        max_tier: t.max_tier.max(first_tier).max(t.assignment_group_tier),
        reopen_count: t.reopen_count,
        created_at: t.created_at,
        resolved_at,
        response_ms,
        resolution_ms,
        response_sla: sla("first_response"),
        resolution_sla: sla("resolution"),
        update_sla: sla("update"),
    };
    reports::record_outcome(c, &o).await?;
    Ok(())
}

/// The subscriber to ticket events: a resolution writes the ticket's outcome row (after the SLA
/// subscriber, so the clocks it reads are already stopped); a restriction added or lifted later
/// follows onto the row, so the reports hide what the ticket pages hide.
pub(crate) async fn react(c: &mut Conn<'_>, r: &timeline::Recorded) -> AppResult<()> {
    let restriction = r.entry.as_ref().is_some_and(|e| e.kind == "restricted" || e.kind == "unrestricted");
    if restriction && let Some(t) = r.ticket.as_deref() {
        reports::restrict_outcome(c, t.id, t.visibility_group_id).await?;
        return Ok(());
    }
    if r.event != orion_domain::TicketEvent::Resolved {
        return Ok(());
    }
    match r.ticket.as_deref() {
        Some(t) => record(c, t, r.at).await,
        None => {
            let t = orion_store::tickets::get(c, r.ticket_id).await?;
            record(c, &t, r.at).await
        }
    }
}

/// Writes the outcome rows of tickets resolved before reports existed (the ids
/// `orion_store::reports::missing_outcomes` found).
pub(crate) async fn backfill(c: &mut Conn<'_>, ids: &[i64]) -> AppResult<()> {
    for id in ids {
        let t = orion_store::tickets::get(c, *id).await?;
        // Reopened since it was listed: its next resolution writes the row.
        if t.state != "resolved" && t.state != "closed" {
            continue;
        }
        let Some(at) = t.resolved_at else {
            return Err(AppError::Internal(format!("ticket {id} listed as resolved has no resolution time")));
        };
        record(c, &t, at).await?;
    }
    Ok(())
}
