//! SLA clocks on tickets: started when a ticket is logged, paused and resumed
//! with its state, stopped by the first public reply (first response) and by
//! resolution, continued on reopen, re-targeted when the priority changes.
//! Every change is a clock event plus a timeline entry, written in the
//! transaction of the ticket change that caused it.

use crate::config::Config;
use crate::{App, AppError, AppResult};
use orion_domain::calendar::CalendarSpec;
use orion_domain::sla::{ClockEvent, ClockEventKind, ClockReading, ClockState, explain, read_clock};
use orion_domain::sla_policy::{CalendarRef, SlaPolicy, TicketFacts};
use orion_domain::{Actor, BusinessCalendar, PendingReason, Priority, State, TicketKind, Timestamp};
use orion_store::sla::{self, ClockRow, NewClock};
use orion_store::{Conn, tickets::TicketView};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// A policy as loaded, with its calendar ready to compute with.
pub(crate) struct PolicyDef {
    pub policy: SlaPolicy,
    pub calendar_name: String,
    pub calendar_spec: String,
    pub calendar: BusinessCalendar,
    pub pause_on_json: String,
    pub first_response_ms: Option<i64>,
    pub resolution_ms: Option<i64>,
}

fn parse_list<T>(json: &str, each: impl Fn(&serde_json::Value) -> Option<T>) -> Vec<T> {
    serde_json::from_str::<Vec<serde_json::Value>>(json).unwrap_or_default().iter().filter_map(each).collect()
}

/// Loads the active policies; a policy whose calendar does not parse is skipped with a warning.
pub(crate) async fn load_policies(conn: &mut Conn<'_>) -> AppResult<Vec<PolicyDef>> {
    let mut out = Vec::new();
    for row in sla::list_policies(conn).await? {
        let spec: CalendarSpec = match serde_json::from_str(&row.calendar_spec) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(policy = %row.name, error = %e, "skipping SLA policy: calendar unreadable");
                continue;
            }
        };
        let calendar = match spec.build() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(policy = %row.name, error = %e, "skipping SLA policy: calendar invalid");
                continue;
            }
        };
        let policy = SlaPolicy {
            name: row.name.clone(),
            kinds: parse_list(&row.kinds, |v| v.as_str().and_then(|s| TicketKind::parse("kinds", s).ok())),
            priorities: parse_list(&row.priorities, |v| v.as_i64().and_then(|n| Priority::from_number("p", n).ok())),
            category: row.category.clone(),
            department: row.department.clone(),
            calendar: CalendarRef::Named(row.calendar_name.clone()),
            targets: orion_domain::sla_policy::Targets {
                first_response_min: row.first_response_min,
                resolution_min: row.resolution_min,
                update_interval_min: row.update_interval_min,
            },
            pause_on: parse_list(&row.pause_on, |v| v.as_str().and_then(|s| PendingReason::parse("pause_on", s).ok())),
            warnings_pct: parse_list(&row.warnings, |v| v.as_u64().and_then(|n| u8::try_from(n).ok())),
        };
        out.push(PolicyDef {
            first_response_ms: row.first_response_min.map(|m| m * 60_000),
            resolution_ms: row.resolution_min.map(|m| m * 60_000),
            policy,
            calendar_name: row.calendar_name,
            calendar_spec: row.calendar_spec,
            calendar,
            pause_on_json: row.pause_on,
        });
    }
    Ok(out)
}

/// A clock to start with a new ticket (owned, to travel to the ticket writer).
pub(crate) struct PlannedClock {
    pub target: &'static str,
    pub policy_name: String,
    pub calendar_name: String,
    pub calendar_spec: String,
    pub pause_on: String,
    pub target_ms: i64,
    pub due_at: Option<i64>,
}

impl PlannedClock {
    pub(crate) fn as_new(&self) -> NewClock<'_> {
        NewClock {
            target: self.target,
            policy_name: &self.policy_name,
            calendar_name: &self.calendar_name,
            calendar_spec: &self.calendar_spec,
            pause_on: &self.pause_on,
            target_ms: self.target_ms,
            due_at: self.due_at,
        }
    }
}

fn matching<'a>(config: &'a Config, facts: &TicketFacts<'_>) -> Option<&'a PolicyDef> {
    config.policies.iter().find(|p| p.policy.matches(facts))
}

/// The clocks a new ticket starts with, due from `now`.
pub(crate) fn plan_clocks(config: &Config, facts: &TicketFacts<'_>, now: i64) -> Vec<PlannedClock> {
    let Some(p) = matching(config, facts) else { return Vec::new() };
    [("first_response", p.first_response_ms), ("resolution", p.resolution_ms)]
        .into_iter()
        .filter_map(|(target, ms)| {
            ms.map(|ms| PlannedClock {
                target,
                policy_name: p.policy.name.clone(),
                calendar_name: p.calendar_name.clone(),
                calendar_spec: p.calendar_spec.clone(),
                pause_on: p.pause_on_json.clone(),
                target_ms: ms,
                due_at: p.calendar.add_business_ms(Timestamp(now), ms).map(|t| t.0),
            })
        })
        .collect()
}

fn calendar_of(k: &ClockRow) -> AppResult<BusinessCalendar> {
    let spec: CalendarSpec = serde_json::from_str(&k.calendar_spec)
        .map_err(|e| AppError::Internal(format!("stored SLA calendar of clock {}: {e}", k.id)))?;
    Ok(spec.build()?)
}

fn events_for(events: &[sla::EventRow], clock_id: i64) -> Vec<ClockEvent> {
    events
        .iter()
        .filter(|e| e.ticket_sla_id == clock_id)
        .filter_map(|e| {
            let kind = match e.kind.as_str() {
                "start" => ClockEventKind::Start,
                "pause" => ClockEventKind::Pause,
                "resume" => ClockEventKind::Resume,
                "stop" => ClockEventKind::Stop,
                _ => return None,
            };
            Some(ClockEvent { at: Timestamp(e.at), kind })
        })
        .collect()
}

/// Running, paused or stopped, as the event log says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Motion {
    Running,
    Paused,
    Stopped,
}

fn motion(r: &ClockReading) -> Motion {
    if r.stopped_at.is_some() {
        Motion::Stopped
    } else if r.paused.last().is_some_and(|(_, resumed)| resumed.is_none()) {
        Motion::Paused
    } else {
        Motion::Running
    }
}

fn stored_state(r: &ClockReading) -> &'static str {
    match (r.state, motion(r)) {
        (ClockState::Breached, _) => "breached",
        (_, Motion::Stopped) => "met",
        (_, Motion::Paused) => "paused",
        _ => "running",
    }
}

/// Where a ticket's clocks should stand in `state` (pending for `reason`).
fn desired(k: &ClockRow, state: State, reason: Option<&str>) -> Motion {
    let pauses =
        reason.is_some_and(|r| parse_list(&k.pause_on, |v| v.as_str().map(str::to_string)).iter().any(|p| p == r));
    match state {
        State::Resolved | State::Closed => Motion::Stopped,
        State::Pending if pauses => Motion::Paused,
        _ => Motion::Running,
    }
}

/// One clock change to record.
struct Change<'a> {
    kind: ClockEventKind,
    reason: Option<&'a str>,
}

async fn apply(
    c: &mut Conn<'_>,
    t: &TicketView,
    now: i64,
    actor: Option<&Actor>,
    plan: impl Fn(&ClockRow, Motion) -> Option<Change<'static>>,
) -> AppResult<()> {
    let clocks = sla::clocks_of(c, t.id).await?;
    if clocks.is_empty() {
        return Ok(());
    }
    let events = sla::events_of(c, t.id).await?;
    for mut k in clocks {
        let cal = calendar_of(&k)?;
        let mut evs = events_for(&events, k.id);
        let before = read_clock(&cal, k.target_ms, &evs, Timestamp(now));
        let Some(change) = plan(&k, motion(&before)) else { continue };
        let kind = match change.kind {
            ClockEventKind::Start => "start",
            ClockEventKind::Pause => "pause",
            ClockEventKind::Resume => "resume",
            ClockEventKind::Stop => "stop",
        };
        sla::append_event(c, k.id, now, kind, change.reason).await?;
        evs.push(ClockEvent { at: Timestamp(now), kind: change.kind });
        let after = read_clock(&cal, k.target_ms, &evs, Timestamp(now));
        k.state = stored_state(&after).to_string();
        k.due_at = if motion(&after) == Motion::Running { after.due.map(|d| d.0) } else { None };
        sla::update_clock(c, &k, now).await?;
        let entry_kind = match (change.kind, after.state) {
            (ClockEventKind::Pause, _) => "sla_paused",
            (ClockEventKind::Resume, _) => "sla_resumed",
            (ClockEventKind::Stop, ClockState::Breached) => "sla_breached",
            _ => "sla_met",
        };
        crate::tickets::record_entry(
            c,
            t.id,
            now,
            actor,
            entry_kind,
            &json!({
                "target": k.target, "policy": k.policy_name, "reason": change.reason,
                "elapsed_minutes": after.elapsed_ms / 60_000,
                "due": after.due.map(|d| d.to_rfc3339()),
            }),
        )
        .await?;
    }
    Ok(())
}

/// Brings the clocks in line with the ticket's (new) state: pause while pending
/// on a pausing reason, stop at resolution, continue otherwise (and on reopen).
pub(crate) async fn sync_with_state(
    c: &mut Conn<'_>,
    t: &TicketView,
    now: i64,
    actor: Option<&Actor>,
) -> AppResult<()> {
    let state = State::parse("state", &t.state)?;
    let reason = t.pending_reason.clone();
    apply(c, t, now, actor, move |k, current| {
        let want = desired(k, state, reason.as_deref());
        let first_response_done = k.target == "first_response" && current == Motion::Stopped;
        match (current, want) {
            (a, b) if a == b => None,
            _ if first_response_done => None,
            (_, Motion::Stopped) => Some(Change { kind: ClockEventKind::Stop, reason: None }),
            (Motion::Running, Motion::Paused) => Some(Change { kind: ClockEventKind::Pause, reason: Some("pending") }),
            (_, Motion::Running) => Some(Change { kind: ClockEventKind::Resume, reason: None }),
            (Motion::Stopped, Motion::Paused) => None,
            _ => None,
        }
    })
    .await
}

/// The first public reply by staff (or a logged call) meets the first-response target.
pub(crate) async fn first_response(c: &mut Conn<'_>, t: &TicketView, now: i64, actor: &Actor) -> AppResult<()> {
    apply(c, t, now, Some(actor), |k, current| {
        (k.target == "first_response" && current != Motion::Stopped)
            .then_some(Change { kind: ClockEventKind::Stop, reason: Some("first public reply") })
    })
    .await
}

/// A new priority may mean a new policy: each clock keeps its events (so paused
/// time stays paused) and is measured against the new target from its original start.
pub(crate) async fn retarget(
    c: &mut Conn<'_>,
    config: &Config,
    t: &TicketView,
    now: i64,
    actor: &Actor,
) -> AppResult<()> {
    let facts = TicketFacts {
        kind: TicketKind::parse("kind", &t.kind)?,
        priority: Priority::from_number("priority", t.priority)?,
        category: t.category_path.as_deref(),
        department: None,
    };
    let Some(p) = matching(config, &facts) else { return Ok(()) };
    let events = sla::events_of(c, t.id).await?;
    for mut k in sla::clocks_of(c, t.id).await? {
        let target = if k.target == "first_response" { p.first_response_ms } else { p.resolution_ms };
        let Some(target_ms) = target else { continue };
        if k.policy_name == p.policy.name && k.target_ms == target_ms {
            continue;
        }
        let old = (k.policy_name.clone(), k.target_ms);
        k.policy_name = p.policy.name.clone();
        k.calendar_name = p.calendar_name.clone();
        k.calendar_spec = p.calendar_spec.clone();
        k.pause_on = p.pause_on_json.clone();
        k.target_ms = target_ms;
        let r = read_clock(&p.calendar, target_ms, &events_for(&events, k.id), Timestamp(now));
        k.state = stored_state(&r).to_string();
        k.due_at = if motion(&r) == Motion::Running { r.due.map(|d| d.0) } else { None };
        sla::update_clock(c, &k, now).await?;
        crate::tickets::record_entry(
            c,
            t.id,
            now,
            Some(actor),
            "sla_retargeted",
            &json!({
                "target": k.target, "from_policy": old.0, "to_policy": k.policy_name,
                "from_minutes": old.1 / 60_000, "to_minutes": target_ms / 60_000,
                "due": r.due.map(|d| d.to_rfc3339()), "state": k.state,
            }),
        )
        .await?;
    }
    Ok(())
}

/// One SLA target of a ticket, as `GET /api/v1/tickets/{number}/sla` shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct SlaTarget {
    /// `first_response` or `resolution`
    pub target: String,
    pub policy: String,
    pub calendar: String,
    /// `running`, `paused`, `met`, `breached`
    pub state: String,
    /// When the target is (or was) reached; while paused, when it would be if resumed now
    pub due_at: Option<String>,
    pub target_minutes: i64,
    pub elapsed_minutes: i64,
    /// Negative once breached
    pub remaining_minutes: i64,
    pub paused: Vec<PausedSpan>,
    /// How the due time was derived, in words
    pub explanation: String,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct PausedSpan {
    pub from: String,
    pub to: Option<String>,
}

impl App {
    /// Every SLA target of a ticket, read now (staff only).
    pub async fn ticket_sla(&self, actor: &Actor, number: &str) -> AppResult<Vec<SlaTarget>> {
        if !actor.can_work_tickets() {
            return Err(AppError::Forbidden("only support staff can read SLA details".into()));
        }
        let now = Timestamp(self.now());
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = crate::tickets::load_for_staff(&mut c, number).await?;
        let events = sla::events_of(&mut c, t.id).await?;
        let mut out = Vec::new();
        for k in sla::clocks_of(&mut c, t.id).await? {
            let cal = calendar_of(&k)?;
            let evs = events_for(&events, k.id);
            let reading = read_clock(&cal, k.target_ms, &evs, now);
            out.push(SlaTarget {
                target: k.target.clone(),
                policy: k.policy_name.clone(),
                calendar: k.calendar_name.clone(),
                state: match reading.state {
                    ClockState::Breached => "breached",
                    ClockState::Met => "met",
                    ClockState::Paused => "paused",
                    _ => "running",
                }
                .into(),
                due_at: reading.due.map(|d| d.to_rfc3339()),
                target_minutes: k.target_ms / 60_000,
                elapsed_minutes: reading.elapsed_ms / 60_000,
                remaining_minutes: reading.remaining_ms / 60_000,
                paused: reading
                    .paused
                    .iter()
                    .map(|(f, to)| PausedSpan { from: f.to_rfc3339(), to: to.map(|x| x.to_rfc3339()) })
                    .collect(),
                explanation: explain(&cal, k.target_ms, &evs, now),
            });
        }
        Ok(out)
    }
}
