//! SLA clocks on tickets: started when a ticket is logged, paused and resumed
//! with its state, stopped by the first public reply (first response) and by
//! resolution, continued on reopen, re-targeted when the priority changes.
//! Every change is a clock event plus a timeline entry, written in the
//! transaction of the ticket change that caused it.

use crate::settings::Config;
use crate::settings::sla::{matching, parse_list, parse_rules, planned, to_json};
use crate::{App, AppError, AppResult};
use orion_domain::calendar::CalendarSpec;
use orion_domain::sla::{ClockEvent, ClockEventKind, ClockReading, ClockState, explain, read_clock};
use orion_domain::sla_policy::{
    EscalationRule, OnPriorityChange, RuleAction, TargetKind, TicketFacts, actions_for, default_rules,
};
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
            sla::start_clocks(c, r.ticket_id, &new, r.at).await?;
            if let Some(at) = clocks.iter().filter_map(|k| k.first_check_at).min() {
                schedule_check(c, r.ticket_id, at, r.at).await?;
            }
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
    let payload = json!({ "ticket_id": ticket_id }).to_string();
    let job = orion_store::jobs::NewJob {
        kind: CHECK_JOB,
        payload: &payload,
        run_at: at,
        dedupe_key: None,
        max_attempts: 10,
    };
    orion_store::jobs::schedule(c, &job, &format!("sla:{ticket_id}"), now).await?;
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
        let t = crate::tickets::load(&mut c, number).await?;
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

impl App {
    /// The SLA timer of one ticket: announces warnings, acts on breaches by the clock's escalation
    /// rules, and plans the next check. Idempotent: a second run at the same time finds nothing new.
    pub async fn sla_check(&self, ticket_id: i64) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = match orion_store::tickets::get(&mut c, ticket_id).await {
            Err(orion_store::StoreError::NotFound) => return Ok(()),
            other => other?,
        };
        let events = sla::events_of(&mut c, t.id).await?;
        let mut next = None;
        // Moves of the ticket the rules ask for, done once after every clock was read.
        let (mut escalate, mut raise): (Option<String>, Option<String>) = (None, None);
        for mut k in sla::clocks_of(&mut c, t.id).await? {
            let cal = calendar_of(&k)?;
            let evs = events_for(&events, k.id);
            let r = read_clock(&cal, k.target_ms, &evs, Timestamp(now));
            if motion(&r) != Motion::Running {
                continue;
            }
            let kind = TargetKind::parse("target", &k.target)?;
            let rules = parse_rules(k.rules.as_deref(), k.escalates);
            let mut changed = false;
            let crossed = warning_pcts(&k)
                .into_iter()
                .filter(|p| *p > k.warned_pct && r.elapsed_ms * 100 >= k.target_ms * p)
                .max();
            if let Some(pct) = crossed.filter(|_| r.state != ClockState::Breached) {
                k.warned_pct = pct;
                changed = true;
                let actions = actions_for(&rules, kind, u8::try_from(pct).ok());
                let msg = format!(
                    "{} {}: {pct} % of the {} target used, {} left",
                    t.number,
                    t.title,
                    kind.label(),
                    orion_domain::sla::human_duration(r.remaining_ms)
                );
                let notified = notify(&mut c, &t, &actions, "sla_warning", &msg, now).await?;
                let why = format!("{pct} % of the {} target was used.", kind.label());
                note_moves(&actions, &why, &mut escalate, &mut raise);
                crate::tickets::record_entry(
                    &mut c,
                    t.id,
                    now,
                    None,
                    ("sla_warning", TicketEvent::Sla),
                    &json!({"target": k.target, "percent": pct, "due": r.due.map(|d| d.to_rfc3339()),
                            "remaining_minutes": r.remaining_ms / 60_000, "notify": notified, "actions": actions}),
                )
                .await?;
            }
            if r.state == ClockState::Breached && !k.breach_handled {
                k.breach_handled = true;
                k.warned_pct = warning_pcts(&k).into_iter().max().unwrap_or(k.warned_pct);
                k.state = "breached".into();
                changed = true;
                let actions = actions_for(&rules, kind, None);
                let msg = format!("{} {}: the {} target was breached", t.number, t.title, kind.label());
                let notified = notify(&mut c, &t, &actions, "sla_breached", &msg, now).await?;
                let why = format!("The {} SLA was breached.", kind.label());
                note_moves(&actions, &why, &mut escalate, &mut raise);
                crate::tickets::record_entry(
                    &mut c,
                    t.id,
                    now,
                    None,
                    ("sla_breached", TicketEvent::Sla),
                    &json!({"target": k.target, "policy": k.policy_name, "due": r.due.map(|d| d.to_rfc3339()),
                            "notify": notified, "actions": actions}),
                )
                .await?;
            }
            if changed {
                sla::update_clock(&mut c, &k, now).await?;
            }
            next = earliest(next, next_check(&k, &cal, &evs, Timestamp(now)));
        }
        if let Some(reason) = &raise {
            crate::tickets::lifecycle::raise_priority_in(&mut c, &mut t, reason, now).await?;
        }
        if let Some(reason) = &escalate {
            escalate_automatically(&mut c, &mut t, now, reason).await?;
        }
        // This very job is still pending under its dedupe key: scheduling moves it to the next
        // check (its completion then finds the lease gone and leaves it queued); with nothing
        // left to watch it is completed and removed.
        if raise.is_some() {
            reschedule(&mut c, t.id, now).await?;
        } else {
            schedule_next(&mut c, t.id, next, now).await?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// Tickets whose SLA is breached and that are still open, newest first (the leads' queue).
    pub async fn breach_queue(
        &self,
        actor: &Actor,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<crate::Page<crate::Ticket>> {
        if !actor.can_work_tickets() {
            return Err(AppError::Forbidden("only support staff can read the breach queue".into()));
        }
        let limit = crate::kernel::paging::parse_limit(limit)?;
        let before = crate::kernel::paging::parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let mut ids = sla::breached_open_tickets(&mut c, before, limit + 1).await?;
        let next_cursor = crate::kernel::paging::keyset_cursor(&mut ids, limit, |id| *id);
        let mut items = Vec::with_capacity(ids.len());
        for id in &ids {
            items.push(orion_store::tickets::get(&mut c, *id).await?.into());
        }
        Ok(crate::Page { items, next_cursor })
    }
}

/// Sends the in-app notifications `actions` ask for; returns the e-mail addresses notified.
async fn notify(
    c: &mut Conn<'_>,
    t: &TicketView,
    actions: &[RuleAction],
    kind: &str,
    msg: &str,
    now: i64,
) -> AppResult<Vec<String>> {
    let mut users: Vec<i64> = Vec::new();
    if actions.contains(&RuleAction::NotifyAssignee)
        && let Some(a) = t.assignee_id
    {
        users.push(a);
    }
    if actions.contains(&RuleAction::NotifyLead)
        && let Some(lead) = orion_store::groups::get(c, t.assignment_group_id).await?.lead_id
        && !users.contains(&lead)
    {
        users.push(lead);
    }
    let mut emails = Vec::with_capacity(users.len());
    for user in users {
        orion_store::notifications::insert(c, user, Some(t.id), kind, msg, now).await?;
        emails.push(orion_store::users::get(c, user).await?.email);
    }
    Ok(emails)
}

/// Remembers the first reason for each move a rule asks for.
fn note_moves(actions: &[RuleAction], why: &str, escalate: &mut Option<String>, raise: &mut Option<String>) {
    if actions.contains(&RuleAction::Escalate) {
        escalate.get_or_insert_with(|| why.to_string());
    }
    if actions.contains(&RuleAction::RaisePriority) {
        raise.get_or_insert_with(|| why.to_string());
    }
}

/// Moves the ticket up to its group's escalation target through the same ticket command an agent's
/// escalation uses, with the SLA event as the reason (a rule's `escalate`). At the top tier, or
/// when the target is deactivated, nothing moves.
async fn escalate_automatically(c: &mut Conn<'_>, t: &mut TicketView, now: i64, reason: &str) -> AppResult<()> {
    if !State::parse("state", &t.state)?.is_open() {
        return Ok(());
    }
    let current = orion_store::groups::get(c, t.assignment_group_id).await?;
    let Some(target_id) = current.escalation_target_id else { return Ok(()) };
    let target = orion_store::groups::get(c, target_id).await?;
    if !target.active {
        return Ok(());
    }
    *t = crate::tickets::lifecycle::escalate_in(c, t, (&current, &target), None, (reason, ""), now).await?;
    Ok(())
}

/// A business calendar as the API shows and takes it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
#[schema(as = BusinessCalendar)]
pub struct Calendar {
    /// Taken from the path on PUT
    #[serde(default)]
    pub name: String,
    /// IANA time zone, e.g. `Europe/Berlin`
    pub time_zone: String,
    /// Seven days, Monday first; each a list of `[start, end)` minutes since midnight, e.g. `[[540, 1020]]`
    #[schema(schema_with = crate::api_schema::business_week)]
    pub week: Vec<Vec<(u16, u16)>>,
    /// `YYYY-MM-DD`
    #[serde(default)]
    #[schema(schema_with = crate::api_schema::dates)]
    pub holidays: Vec<String>,
    /// `[month, day]` pairs that are holidays every year
    #[serde(default)]
    #[schema(schema_with = crate::api_schema::month_days)]
    pub yearly_holidays: Vec<(i8, i8)>,
}

/// An SLA policy as the API shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Policy {
    pub name: String,
    pub position: i64,
    /// Priorities matched (`P1`…); empty: any
    pub priorities: Vec<String>,
    pub kinds: Vec<String>,
    pub category: Option<String>,
    pub department: Option<String>,
    pub calendar: String,
    pub first_response_minutes: Option<i64>,
    pub resolution_minutes: Option<i64>,
    pub update_interval_minutes: Option<i64>,
    pub pause_on: Vec<String>,
    pub warnings_percent: Vec<i64>,
    pub breach_escalates: bool,
    /// `retarget` or `restart`
    pub on_priority_change: String,
    /// What happens on warnings and breaches (see `PolicyInput`)
    #[schema(value_type = Vec<Object>)]
    pub escalation_rules: Vec<EscalationRule>,
}

impl App {
    pub async fn list_calendars(&self, actor: &Actor) -> AppResult<Vec<Calendar>> {
        if !actor.can_read_directory() {
            return Err(AppError::Forbidden("only staff can read calendars".into()));
        }
        let mut r = self.db.read().await?;
        let mut out = Vec::new();
        for row in sla::list_calendars(&mut r.conn()).await? {
            let spec: CalendarSpec = serde_json::from_str(&row.spec)
                .map_err(|e| AppError::Internal(format!("calendar {}: {e}", row.name)))?;
            out.push(Calendar {
                name: row.name,
                time_zone: spec.time_zone,
                week: spec.week,
                holidays: spec.holidays,
                yearly_holidays: spec.yearly_holidays,
            });
        }
        Ok(out)
    }

    /// Creates or replaces a calendar (admins). Tickets whose clocks already started keep the
    /// calendar they started with; new tickets and re-targets use the new one.
    pub async fn put_calendar(&self, actor: &Actor, cal: Calendar) -> AppResult<Calendar> {
        if !actor.can_administer() {
            return Err(AppError::Forbidden("only admins can change calendars".into()));
        }
        let name = orion_domain::error::required_text("name", &cal.name, 100)?;
        let spec = CalendarSpec {
            time_zone: cal.time_zone.clone(),
            week: cal.week.clone(),
            holidays: cal.holidays.clone(),
            yearly_holidays: cal.yearly_holidays.clone(),
        };
        spec.build()?;
        let json = serde_json::to_string(&spec).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        sla::put_calendar(&mut tx.conn(), &name, &json, self.now()).await?;
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(Calendar { name, ..cal })
    }

    /// Adds the holidays of an iCalendar file to a calendar (admins); returns how many were new.
    pub async fn import_holidays(&self, actor: &Actor, calendar: &str, ics: &str) -> AppResult<(Calendar, usize)> {
        let h = orion_domain::ics::parse_holidays(ics)?;
        let mut cal = self
            .list_calendars(actor)
            .await?
            .into_iter()
            .find(|c| c.name.eq_ignore_ascii_case(calendar))
            .ok_or(AppError::NotFound("calendar"))?;
        let before = cal.holidays.len() + cal.yearly_holidays.len();
        cal.holidays.extend(h.dates.iter().map(ToString::to_string));
        cal.holidays.sort();
        cal.holidays.dedup();
        cal.yearly_holidays.extend(h.yearly);
        cal.yearly_holidays.sort_unstable();
        cal.yearly_holidays.dedup();
        let added = cal.holidays.len() + cal.yearly_holidays.len() - before;
        Ok((self.put_calendar(actor, cal).await?, added))
    }

    pub async fn list_policies(&self, actor: &Actor) -> AppResult<Vec<Policy>> {
        if !actor.can_read_directory() {
            return Err(AppError::Forbidden("only staff can read SLA policies".into()));
        }
        let mut r = self.db.read().await?;
        Ok(sla::list_policies(&mut r.conn())
            .await?
            .into_iter()
            .map(|p| Policy {
                priorities: parse_list(&p.priorities, |v| v.as_i64().map(|n| format!("P{n}"))),
                kinds: parse_list(&p.kinds, |v| v.as_str().map(str::to_string)),
                pause_on: parse_list(&p.pause_on, |v| v.as_str().map(str::to_string)),
                warnings_percent: parse_list(&p.warnings, serde_json::Value::as_i64),
                name: p.name,
                position: p.position,
                category: p.category,
                department: p.department,
                calendar: p.calendar_name,
                first_response_minutes: p.first_response_min,
                resolution_minutes: p.resolution_min,
                update_interval_minutes: p.update_interval_min,
                breach_escalates: p.breach_escalates,
                escalation_rules: parse_rules(p.escalation_rules.as_deref(), p.breach_escalates),
                on_priority_change: p.on_priority_change,
            })
            .collect())
    }
}

/// `PUT /api/v1/sla/policies/{name}`: a whole policy.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    /// Matching order: lower first (the defaults use 10..50)
    pub position: Option<i64>,
    /// `P1`…`P5`; empty: any
    #[serde(default)]
    pub priorities: Vec<String>,
    /// `incident`, `service_request`; empty: any
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Category path; matches it and everything below
    pub category: Option<String>,
    pub department: Option<String>,
    /// Calendar name
    pub calendar: Option<String>,
    #[schema(minimum = 1, maximum = 525600)]
    pub first_response_minutes: Option<i64>,
    #[schema(minimum = 1, maximum = 525600)]
    pub resolution_minutes: Option<i64>,
    /// A public agent update at least this often (working minutes) while the ticket is open
    #[schema(minimum = 1, maximum = 525600)]
    pub update_interval_minutes: Option<i64>,
    /// Pending reasons that pause the clocks; default `user`, `vendor`
    pub pause_on: Option<Vec<String>>,
    /// Default 50, 75, 90
    pub warnings_percent: Option<Vec<i64>>,
    /// Default true: a breached resolution target escalates (used when `escalation_rules` is absent)
    pub breach_escalates: Option<bool>,
    /// What a priority change does to running clocks: `retarget` (default; time already used counts
    /// against the new targets from the original start) or `restart` (they start again from zero)
    pub on_priority_change: Option<String>,
    /// Replaces the default rules. Each: `{"on": "warning"|"breach", "target": "first_response"|"resolution"|"update"
    /// (absent: every target), "percent": 90 (warnings only; absent: every warning), "actions": ["notify_assignee",
    /// "notify_lead", "escalate", "raise_priority"]}`
    #[schema(value_type = Option<Vec<Object>>)]
    pub escalation_rules: Option<Vec<EscalationRule>>,
    /// Default true
    pub active: Option<bool>,
}

impl App {
    /// Creates or replaces a policy (admins). Running clocks keep the policy they started with.
    pub async fn put_policy(&self, actor: &Actor, name: &str, p: PolicyInput) -> AppResult<Policy> {
        if !actor.can_administer() {
            return Err(AppError::Forbidden("only admins can change SLA policies".into()));
        }
        let mut errs = orion_domain::FieldErrors::new();
        let name = errs.check(orion_domain::error::required_text("name", name, 100));
        let priorities: Vec<i64> = p
            .priorities
            .iter()
            .filter_map(|x| errs.check(Priority::parse("priorities", x)).map(|p| i64::from(p.get())))
            .collect();
        let kinds: Vec<&str> =
            p.kinds.iter().filter_map(|k| errs.check(TicketKind::parse("kinds", k)).map(TicketKind::as_str)).collect();
        let pause_on: Vec<&str> = p
            .pause_on
            .clone()
            .unwrap_or_else(|| vec!["user".into(), "vendor".into()])
            .iter()
            .filter_map(|r| errs.check(PendingReason::parse("pause_on", r)).map(PendingReason::as_str))
            .collect();
        let warnings = p.warnings_percent.clone().unwrap_or_else(|| vec![50, 75, 90]);
        if warnings.iter().any(|w| !(1..100).contains(w)) {
            errs.push("warnings_percent", "each must be between 1 and 99");
        }
        for (field, v) in [
            ("first_response_minutes", p.first_response_minutes),
            ("resolution_minutes", p.resolution_minutes),
            ("update_interval_minutes", p.update_interval_minutes),
        ] {
            if v.is_some_and(|m| !(1..=525_600).contains(&m)) {
                errs.push(field, "must be between 1 and 525600 minutes");
            }
        }
        if p.first_response_minutes.is_none() && p.resolution_minutes.is_none() && p.update_interval_minutes.is_none() {
            errs.push("resolution_minutes", "a policy needs at least one target");
        }
        let on_priority_change = match p.on_priority_change.as_deref() {
            None => Some(OnPriorityChange::Retarget),
            Some(v) => errs.check(OnPriorityChange::parse("on_priority_change", v)),
        };
        if let Some(rules) = &p.escalation_rules {
            orion_domain::sla_policy::validate_rules(rules, &warnings, &mut errs);
        }
        let rules_json = p.escalation_rules.as_ref().map(to_json);
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let calendar_name = p.calendar.clone().unwrap_or_else(|| "Business hours".into());
        let calendar = sla::find_calendar(&mut c, &calendar_name).await?;
        if calendar.is_none() {
            errs.push("calendar", format!("no calendar named {calendar_name:?}"));
        }
        errs.into_result()?;
        let (Some(name), Some(calendar), Some(on_priority_change)) = (name, calendar, on_priority_change) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        sla::put_policy(
            &mut c,
            &sla::PolicyWrite {
                name: &name,
                position: p.position.unwrap_or(100),
                kinds: &to_json(&kinds),
                priorities: &to_json(&priorities),
                category: p.category.as_deref().map(str::trim).filter(|s| !s.is_empty()),
                department: p.department.as_deref().map(str::trim).filter(|s| !s.is_empty()),
                calendar_id: calendar.id,
                first_response_min: p.first_response_minutes,
                resolution_min: p.resolution_minutes,
                update_interval_min: p.update_interval_minutes,
                pause_on: &to_json(&pause_on),
                warnings: &to_json(&warnings),
                breach_escalates: p.breach_escalates.unwrap_or(true),
                escalation_rules: rules_json.as_deref(),
                on_priority_change: on_priority_change.as_str(),
                active: p.active.unwrap_or(true),
            },
            self.now(),
        )
        .await?;
        self.commit(tx).await?;
        self.invalidate_config();
        let mut r = self.db.read().await?;
        let all = sla::list_policies(&mut r.conn()).await?;
        drop(r);
        if all.iter().all(|x| x.name != name) {
            // Saved inactive: not in the active list; echo what was stored.
            return Ok(Policy {
                name,
                position: p.position.unwrap_or(100),
                priorities: priorities.iter().map(|n| format!("P{n}")).collect(),
                kinds: kinds.iter().map(|k| (*k).to_string()).collect(),
                category: p.category,
                department: p.department,
                calendar: calendar.name,
                first_response_minutes: p.first_response_minutes,
                resolution_minutes: p.resolution_minutes,
                update_interval_minutes: p.update_interval_minutes,
                pause_on: pause_on.iter().map(|r| (*r).to_string()).collect(),
                warnings_percent: warnings,
                breach_escalates: p.breach_escalates.unwrap_or(true),
                escalation_rules: p
                    .escalation_rules
                    .unwrap_or_else(|| default_rules(p.breach_escalates.unwrap_or(true))),
                on_priority_change: on_priority_change.as_str().to_string(),
            });
        }
        self.list_policies(actor).await?.into_iter().find(|x| x.name == name).ok_or(AppError::NotFound("policy"))
    }
}

/// A list as JSON text for a column.

/// One SLA clock of a ticket in a queue: which target, its state, and when it is due.
#[derive(Debug, Clone, Serialize)]
pub struct SlaBadge {
    /// `first_response` or `resolution`
    pub target: String,
    /// `running`, `paused`, `met`, `breached` (a running clock past due counts as breached)
    pub state: String,
    /// Minutes left (negative: overdue) while running
    pub remaining_minutes: Option<i64>,
}

impl App {
    /// The SLA clocks of a page of tickets, by ticket number (staff only).
    pub async fn sla_badges(
        &self,
        actor: &Actor,
        numbers: &[String],
    ) -> AppResult<std::collections::HashMap<String, Vec<SlaBadge>>> {
        if !actor.can_work_tickets() {
            return Err(AppError::Forbidden("only support staff see SLA clocks".into()));
        }
        let now = self.now();
        let rows = {
            let mut r = self.db.read().await?;
            orion_store::sla::badges(&mut r.conn(), numbers).await?
        };
        let mut out: std::collections::HashMap<String, Vec<SlaBadge>> = std::collections::HashMap::new();
        for b in rows {
            let remaining = (b.state == "running").then(|| b.due_at.map(|d| (d - now).div_euclid(60_000))).flatten();
            let state = if remaining.is_some_and(|m| m < 0) { "breached".to_string() } else { b.state };
            out.entry(b.number).or_default().push(SlaBadge { target: b.target, state, remaining_minutes: remaining });
        }
        Ok(out)
    }
}
