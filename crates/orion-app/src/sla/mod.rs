//! SLA clocks on tickets: started when a ticket is logged, paused and resumed
//! with its state, stopped by the first public reply (first response) and by
//! resolution, continued on reopen, re-targeted when the priority changes.
//! Every change is a clock event plus a timeline entry, written in the
//! transaction of the ticket change that caused it.

mod badges;
mod policies;
mod timer;

pub use badges::SlaBadge;
pub use policies::{Calendar, Policy, PolicyInput, WhatIf, WhatIfAnswer, WhatIfTarget};

use crate::settings::Config;
use crate::settings::sla::{matching, parse_list, parse_rules, planned, to_json};
use crate::{App, AppError, AppResult};
use orion_domain::calendar::CalendarSpec;
use orion_domain::sla::{ClockEvent, ClockEventKind, ClockReading, ClockState, explain, read_clock};
use orion_domain::sla_policy::{EscalationRule, OnPriorityChange, RuleAction, TargetKind, TicketFacts, actions_for};
use orion_domain::{
    Actor, BusinessCalendar, CommentKind, PendingReason, Priority, State, TicketEvent, TicketKind, Timestamp,
};
use orion_store::sla::{self, ClockRow, NewClock};
use orion_store::timeline::Recorded;
use orion_store::{Conn, tickets::TicketView};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

fn calendar_of(k: &ClockRow) -> AppResult<BusinessCalendar> {
    let spec: CalendarSpec = serde_json::from_str(&k.calendar_spec)
        .map_err(|e| AppError::Internal(format!("stored SLA calendar of clock {}: {e}", k.id)))?;
    Ok(spec.build()?)
}

fn events_for(events: &[sla::EventRow], clock_id: i64) -> Vec<ClockEvent> {
    events
        .iter()
        .filter(|e| e.ticket_sla_id == clock_id)
        .filter_map(|e| ClockEventKind::from_name(&e.kind).map(|kind| ClockEvent { at: Timestamp(e.at), kind }))
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

/// The name of a clock state as stored and shown (a clock not started yet counts as running).
fn state_label(state: ClockState) -> &'static str {
    match state {
        ClockState::Breached => "breached",
        ClockState::Met => "met",
        ClockState::Paused => "paused",
        ClockState::Running | ClockState::NotStarted => "running",
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
    let (mut next, mut changed) = (None, false);
    for mut k in clocks {
        let cal = calendar_of(&k)?;
        let mut evs = events_for(&events, k.id);
        let before = read_clock(&cal, k.target_ms, &evs, Timestamp(now));
        let Some(change) = plan(&k, motion(&before)) else {
            next = earliest(next, next_check(&k, &cal, &evs, Timestamp(now)));
            continue;
        };
        changed = true;
        sla::append_event(c, k.id, now, change.kind.as_str(), change.reason).await?;
        evs.push(ClockEvent { at: Timestamp(now), kind: change.kind });
        if change.kind == ClockEventKind::Restart {
            // A new cycle: its warnings and breach are announced afresh.
            k.warned_pct = 0;
            k.breach_handled = false;
        }
        let after = read_clock(&cal, k.target_ms, &evs, Timestamp(now));
        k.state = state_label(after.state).to_string();
        k.due_at = if motion(&after) == Motion::Running { after.due.map(|d| d.0) } else { None };
        sla::update_clock(c, &k, now).await?;
        next = earliest(next, next_check(&k, &cal, &evs, Timestamp(now)));
        let entry_kind = match (change.kind, after.state) {
            (ClockEventKind::Pause, _) => "sla_paused",
            (ClockEventKind::Resume, _) => "sla_resumed",
            (ClockEventKind::Restart, _) => "sla_restarted",
            (ClockEventKind::Stop, ClockState::Breached) => "sla_breached",
            _ => "sla_met",
        };
        let mut data = json!({
            "target": k.target, "policy": k.policy_name, "reason": change.reason,
            "elapsed_minutes": after.elapsed_ms / 60_000,
            "due": after.due.map(|d| d.to_rfc3339()),
        });
        if entry_kind == "sla_breached" {
            // Stopped late: the timer may have announced the breach already (webhooks send it once).
            data["announced"] = json!(k.breach_handled);
        }
        crate::tickets::record_entry(c, t.id, now, actor, (entry_kind, TicketEvent::Sla), &data).await?;
    }
    if changed {
        schedule_next(c, t.id, next, now).await?;
    }
    Ok(())
}

/// The SLA clocks' subscriber to ticket events: a new ticket starts the clocks it was planned
/// with; every change of state moves them (pause while pending, stop at resolution, continue on
/// reopen); a new priority re-targets them; a public reply or call by staff meets the
/// first-response target and restarts the update interval.
pub(crate) async fn react(c: &mut Conn<'_>, config: &Config, r: &Recorded) -> AppResult<()> {
    let actor = r.actor.as_ref();
    match (&r.event, r.ticket.as_deref()) {
        (TicketEvent::Created { clocks, .. }, _) => {
            let new: Vec<NewClock<'_>> = clocks.iter().map(NewClock::from).collect();
            let (payload, key) = check_timer(r.ticket_id);
            let first_check = clocks.iter().filter_map(|k| k.first_check_at).min().map(|at| check_job(&payload, at));
            sla::start_clocks(c, r.ticket_id, &new, r.at, first_check.as_ref().map(|j| (j, key.as_str()))).await?;
        }
        (TicketEvent::FieldsChanged { priority_changed: true }, Some(t)) => retarget(c, config, t, r.at, actor).await?,
        (e, Some(t)) if e.moves_state() => sync_with_state(c, t, r.at, actor).await?,
        (TicketEvent::Commented { kind, public, by_staff: true }, Some(t))
            if *public || *kind == CommentKind::PhoneCall =>
        {
            if let Some(a) = actor {
                public_update(c, t, r.at, a).await?;
            }
        }
        _ => {}
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
            // A stopped clock stays stopped while pending; it continues only when work resumes.
            (_, Motion::Paused) => None,
        }
    })
    .await
}

/// A public reply by staff (or a logged phone call): the first meets the first-response target,
/// and each one starts the update-interval clock again.
pub(crate) async fn public_update(c: &mut Conn<'_>, t: &TicketView, now: i64, actor: &Actor) -> AppResult<()> {
    apply(c, t, now, Some(actor), |k, current| match (k.target.as_str(), current) {
        (_, Motion::Stopped) => None,
        ("first_response", _) => Some(Change { kind: ClockEventKind::Stop, reason: Some("first public reply") }),
        ("update", _) => Some(Change { kind: ClockEventKind::Restart, reason: Some("public update") }),
        _ => None,
    })
    .await
}

/// A new priority may mean a new policy. Each clock follows the `on_priority_change` of the
/// policy it ran under: `retarget` keeps its events (so paused time stays paused) and measures
/// them against the new target from the original start; `restart` starts a running or paused
/// clock again from zero. A target the new policy adds starts now; one it lacks keeps its old policy.
pub(crate) async fn retarget(
    c: &mut Conn<'_>,
    config: &Config,
    t: &TicketView,
    now: i64,
    actor: Option<&Actor>,
) -> AppResult<()> {
    let department = orion_store::users::get(c, t.requester_id).await?.department;
    let facts = TicketFacts {
        kind: TicketKind::parse("kind", &t.kind)?,
        priority: Priority::from_number("priority", t.priority)?,
        category: t.category_path.as_deref(),
        department: department.as_deref(),
    };
    let Some(p) = matching(config, &facts) else { return Ok(()) };
    let events = sla::events_of(c, t.id).await?;
    let clocks = sla::clocks_of(c, t.id).await?;
    let (mut next, mut changed) = (None, false);
    let open = State::parse("state", &t.state)?.is_open();
    for kind in TargetKind::ALL {
        if open
            && !clocks.iter().any(|k| k.target == kind.as_str())
            && let Some(new) = planned(p, kind, now)
        {
            sla::add_clock(c, t.id, &NewClock::from(&new), now).await?;
            changed = true;
            next = earliest(next, new.first_check_at);
            crate::tickets::record_entry(
                c,
                t.id,
                now,
                actor,
                ("sla_started", TicketEvent::Sla),
                &json!({"target": kind.as_str(), "policy": p.policy.name, "target_minutes": new.target_ms / 60_000,
                        "due": new.due_at.map(|d| Timestamp(d).to_rfc3339())}),
            )
            .await?;
        }
    }
    for mut k in clocks {
        let mut evs = events_for(&events, k.id);
        let kind = TargetKind::parse("target", &k.target)?;
        let target_ms = match p.target_ms(kind) {
            Some(ms) if k.policy_name != p.policy.name || k.target_ms != ms => ms,
            _ => {
                next = earliest(next, next_check(&k, &calendar_of(&k)?, &evs, Timestamp(now)));
                continue;
            }
        };
        let mode = OnPriorityChange::parse("on_priority_change", &k.on_priority_change).unwrap_or_default();
        let before = read_clock(&calendar_of(&k)?, k.target_ms, &evs, Timestamp(now));
        if mode == OnPriorityChange::Restart && motion(&before) == Motion::Stopped {
            // A met (or missed) target stays as it was.
            continue;
        }
        changed = true;
        let old = (k.policy_name.clone(), k.target_ms);
        k.policy_name = p.policy.name.clone();
        k.calendar_name = p.calendar_name.clone();
        k.calendar_spec = p.calendar_spec.clone();
        k.pause_on = p.pause_on_json.clone();
        k.warnings = p.warnings_json.clone();
        k.escalates = p.escalates;
        k.rules = Some(p.rules_json.clone());
        k.on_priority_change = p.policy.on_priority_change.as_str().to_string();
        k.target_ms = target_ms;
        if mode == OnPriorityChange::Restart {
            sla::append_event(c, k.id, now, ClockEventKind::Restart.as_str(), Some("priority changed")).await?;
            evs.push(ClockEvent { at: Timestamp(now), kind: ClockEventKind::Restart });
            k.warned_pct = 0;
            k.breach_handled = false;
        }
        let r = read_clock(&p.calendar, target_ms, &evs, Timestamp(now));
        // A clock no longer breached under the new target has its breach acted on again if it comes.
        k.breach_handled &= r.state == ClockState::Breached;
        k.state = state_label(r.state).to_string();
        k.due_at = if motion(&r) == Motion::Running { r.due.map(|d| d.0) } else { None };
        sla::update_clock(c, &k, now).await?;
        next = earliest(next, next_check(&k, &p.calendar, &evs, Timestamp(now)));
        crate::tickets::record_entry(
            c,
            t.id,
            now,
            actor,
            ("sla_retargeted", TicketEvent::Sla),
            &json!({
                "target": k.target, "from_policy": old.0, "to_policy": k.policy_name,
                "from_minutes": old.1 / 60_000, "to_minutes": target_ms / 60_000, "mode": mode.as_str(),
                "due": r.due.map(|d| d.to_rfc3339()), "state": k.state,
            }),
        )
        .await?;
    }
    if changed {
        schedule_next(c, t.id, next, now).await?;
    }
    Ok(())
}

/// Plans a ticket's SLA timer from all of its clocks as they now stand.
async fn reschedule(c: &mut Conn<'_>, ticket_id: i64, now: i64) -> AppResult<()> {
    let events = sla::events_of(c, ticket_id).await?;
    let mut next = None;
    for k in sla::clocks_of(c, ticket_id).await? {
        next = earliest(next, next_check(&k, &calendar_of(&k)?, &events_for(&events, k.id), Timestamp(now)));
    }
    schedule_next(c, ticket_id, next, now).await
}

fn warning_pcts(k: &ClockRow) -> Vec<i64> {
    let mut v = parse_list(&k.warnings, |v| v.as_i64().filter(|p| (1..100).contains(p)));
    v.sort_unstable();
    v
}

/// When a running clock next needs attention: its next unannounced warning, or its breach.
fn next_check(k: &ClockRow, cal: &BusinessCalendar, evs: &[ClockEvent], now: Timestamp) -> Option<i64> {
    let r = read_clock(cal, k.target_ms, evs, now);
    if motion(&r) != Motion::Running {
        return None;
    }
    let warning = warning_pcts(k)
        .into_iter()
        .filter(|p| *p > k.warned_pct)
        .filter_map(|p| orion_domain::sla::threshold_due(cal, k.target_ms, p as u8, evs, now))
        .map(|t| t.0)
        .min();
    // A clock is breached once its time is *over* (at the due instant it is still met): checking at
    // `due` itself would find nothing and plan the same instant again, a loop under a still clock.
    let breach = if k.breach_handled { None } else { r.due.map(|d| d.0 + 1) };
    earliest(warning, breach)
}

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Moves the ticket's SLA timer (one job per ticket) to `next`, computed by the caller from the
/// clocks it just changed. With nothing left to watch the pending job is left alone: it fires
/// once more, finds nothing to do, and is completed.
async fn schedule_next(c: &mut Conn<'_>, ticket_id: i64, next: Option<i64>, now: i64) -> AppResult<()> {
    match next {
        Some(at) => schedule_check(c, ticket_id, at.max(now), now).await,
        None => Ok(()),
    }
}

pub(crate) const CHECK_JOB: &str = "sla.check";

pub(crate) async fn schedule_check(c: &mut Conn<'_>, ticket_id: i64, at: i64, now: i64) -> AppResult<()> {
    let (payload, key) = check_timer(ticket_id);
    orion_store::jobs::schedule(c, &check_job(&payload, at), &key, now).await?;
    Ok(())
}

/// A ticket's SLA timer: its payload and dedupe key (one pending check per ticket).
fn check_timer(ticket_id: i64) -> (String, String) {
    (json!({ "ticket_id": ticket_id }).to_string(), format!("sla:{ticket_id}"))
}

/// The SLA check job with `payload`, due `at`.
fn check_job(payload: &str, at: i64) -> orion_store::jobs::NewJob<'_> {
    orion_store::jobs::NewJob { kind: CHECK_JOB, payload, run_at: at, dedupe_key: None, max_attempts: 10 }
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
        self.sla_view(actor, number, &Preview::default()).await
    }

    /// What-if: the SLA targets if the priority changed and/or the ticket paused now. Writes nothing.
    pub async fn sla_preview(&self, actor: &Actor, number: &str, what_if: &Preview) -> AppResult<Vec<SlaTarget>> {
        self.sla_view(actor, number, what_if).await
    }

    async fn sla_view(&self, actor: &Actor, number: &str, what_if: &Preview) -> AppResult<Vec<SlaTarget>> {
        if !actor.can_work_tickets() {
            return Err(AppError::Forbidden("only support staff can read SLA details".into()));
        }
        let priority = match what_if.priority.as_deref() {
            Some(p) => Some(Priority::parse("priority", p)?),
            None => None,
        };
        let now = Timestamp(self.now());
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        let config = match priority {
            Some(_) => Some(self.config(&mut c).await?),
            None => None,
        };
        let department = orion_store::users::get(&mut c, t.requester_id).await?.department;
        let new_policy = match (priority, &config) {
            (Some(p), Some(cfg)) => matching(
                cfg,
                &TicketFacts {
                    kind: TicketKind::parse("kind", &t.kind)?,
                    priority: p,
                    category: t.category_path.as_deref(),
                    department: department.as_deref(),
                },
            ),
            _ => None,
        };
        let events = sla::events_of(&mut c, t.id).await?;
        let mut out = Vec::new();
        for k in sla::clocks_of(&mut c, t.id).await? {
            let mut evs = events_for(&events, k.id);
            let (mut policy, mut calendar_name, mut cal, mut target_ms) =
                (k.policy_name.clone(), k.calendar_name.clone(), calendar_of(&k)?, k.target_ms);
            if let Some(p) = new_policy
                && let Some(ms) = p.target_ms(TargetKind::parse("target", &k.target)?)
            {
                (policy, calendar_name, cal, target_ms) =
                    (p.policy.name.clone(), p.calendar_name.clone(), p.calendar.clone(), ms);
            }
            if what_if.pause_now && motion(&read_clock(&cal, target_ms, &evs, now)) == Motion::Running {
                evs.push(ClockEvent { at: now, kind: ClockEventKind::Pause });
            }
            let reading = read_clock(&cal, target_ms, &evs, now);
            out.push(SlaTarget {
                target: k.target.clone(),
                policy,
                calendar: calendar_name,
                state: state_label(reading.state).into(),
                due_at: reading.due.map(|d| d.to_rfc3339()),
                target_minutes: target_ms / 60_000,
                elapsed_minutes: reading.elapsed_ms / 60_000,
                remaining_minutes: reading.remaining_ms / 60_000,
                paused: reading
                    .paused
                    .iter()
                    .map(|(f, to)| PausedSpan { from: f.to_rfc3339(), to: to.map(|x| x.to_rfc3339()) })
                    .collect(),
                explanation: explain(&cal, target_ms, &evs, now),
            });
        }
        Ok(out)
    }
}

/// `POST /api/v1/tickets/{number}/sla/preview`: what would the targets be if…
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preview {
    /// …the priority were this (`P1`…`P5`), re-targeted from the original start
    #[schema(schema_with = crate::api_schema::priorities)]
    pub priority: Option<String>,
    /// …the ticket were paused now (e.g. set pending on the user)
    #[serde(default)]
    pub pause_now: bool,
}
