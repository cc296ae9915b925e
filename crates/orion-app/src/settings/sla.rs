//! The SLA policies as typed settings: loaded once into the settings cache, and the clocks a new
//! ticket starts with, planned from the policy it falls under.

use super::Config;
use crate::kernel::error::AppResult;
use orion_domain::calendar::CalendarSpec;
use orion_domain::sla_policy::{
    CalendarRef, EscalationRule, OnPriorityChange, SlaPolicy, TargetKind, TicketFacts, default_rules,
};
use orion_domain::{BusinessCalendar, PendingReason, PlannedClock, Priority, TicketKind, Timestamp};
use orion_store::{Conn, sla};
use serde::Serialize;

/// A policy as loaded, with its calendar ready to compute with.
pub(crate) struct PolicyDef {
    pub policy: SlaPolicy,
    pub calendar_name: String,
    pub calendar_spec: String,
    pub calendar: BusinessCalendar,
    pub pause_on_json: String,
    pub warnings_json: String,
    /// `breach_escalates`: the default rules are built from it; on a clock it only matters for
    /// clocks written before rules existed (their `rules` is NULL).
    pub escalates: bool,
    /// The effective escalation rules as JSON, copied onto each clock.
    pub rules_json: String,
}

impl PolicyDef {
    /// The target of `kind` in working milliseconds, if the policy sets one.
    pub(crate) fn target_ms(&self, kind: TargetKind) -> Option<i64> {
        let t = &self.policy.targets;
        match kind {
            TargetKind::FirstResponse => t.first_response_min,
            TargetKind::Resolution => t.resolution_min,
            TargetKind::Update => t.update_interval_min,
        }
        .map(|m| m * 60_000)
    }
}

/// The escalation rules stored as JSON (a policy's or a clock's copy); `None` or unreadable: the defaults.
pub(crate) fn parse_rules(json: Option<&str>, breach_escalates: bool) -> Vec<EscalationRule> {
    json.and_then(|j| serde_json::from_str(j).ok()).unwrap_or_else(|| default_rules(breach_escalates))
}

pub(crate) fn parse_list<T>(json: &str, each: impl Fn(&serde_json::Value) -> Option<T>) -> Vec<T> {
    serde_json::from_str::<Vec<serde_json::Value>>(json).unwrap_or_default().iter().filter_map(each).collect()
}

/// Loads the active policies; a policy whose calendar does not parse is skipped with a warning.
pub(crate) async fn load_policies(conn: &mut Conn<'_>) -> AppResult<Vec<PolicyDef>> {
    let mut out = Vec::new();
    for row in sla::list_policies(conn, false).await? {
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
            on_priority_change: OnPriorityChange::parse("on_priority_change", &row.on_priority_change)
                .unwrap_or_default(),
            rules: parse_rules(row.escalation_rules.as_deref(), row.breach_escalates),
        };
        out.push(PolicyDef {
            rules_json: to_json(&policy.rules),
            policy,
            calendar_name: row.calendar_name,
            calendar_spec: row.calendar_spec,
            calendar,
            pause_on_json: row.pause_on,
            warnings_json: row.warnings,
            escalates: row.breach_escalates,
        });
    }
    Ok(out)
}

/// The policy a ticket falls under. Problems and changes run on their own schedules (planned
/// dates, approvals), not on response and resolution targets.
pub(crate) fn matching<'a>(config: &'a Config, facts: &TicketFacts<'_>) -> Option<&'a PolicyDef> {
    if facts.kind.has_own_phases() {
        return None;
    }
    config.policies.iter().find(|p| p.policy.matches(facts))
}

/// The clocks a new ticket starts with, due from `now`.
pub(crate) fn plan_clocks(config: &Config, facts: &TicketFacts<'_>, now: i64) -> Vec<PlannedClock> {
    let Some(p) = matching(config, facts) else { return Vec::new() };
    TargetKind::ALL.into_iter().filter_map(|kind| planned(p, kind, now)).collect()
}

/// A clock of `kind` under policy `p`, started at `now`; `None` when the policy sets no such target.
pub(crate) fn planned(p: &PolicyDef, kind: TargetKind, now: i64) -> Option<PlannedClock> {
    // The first timer falls on the earliest warning (or the breach, without warnings).
    let first_pct =
        p.policy.warnings_pct.iter().filter(|pct| (1..100).contains(*pct)).min().map_or(100, |pct| i64::from(*pct));
    let ms = p.target_ms(kind)?;
    Some(PlannedClock {
        target: kind.as_str(),
        policy_name: p.policy.name.clone(),
        calendar_name: p.calendar_name.clone(),
        calendar_spec: p.calendar_spec.clone(),
        pause_on: p.pause_on_json.clone(),
        warnings: p.warnings_json.clone(),
        escalates: p.escalates,
        rules: p.rules_json.clone(),
        on_priority_change: p.policy.on_priority_change.as_str(),
        target_ms: ms,
        due_at: p.calendar.add_business_ms(Timestamp(now), ms).map(|t| t.0),
        first_check_at: p.calendar.add_business_ms(Timestamp(now), ms * first_pct / 100).map(|t| t.0),
    })
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// The `Business hours` calendar, which working-time reports (OLA, KPIs) count on; always open if
/// it was removed.
pub(crate) async fn business_calendar(conn: &mut Conn<'_>) -> AppResult<BusinessCalendar> {
    match sla::find_calendar(conn, "Business hours").await? {
        Some(r) => {
            let spec: CalendarSpec = serde_json::from_str(&r.spec)
                .map_err(|e| crate::AppError::Internal(format!("stored calendar Business hours: {e}")))?;
            Ok(spec.build()?)
        }
        None => Ok(BusinessCalendar::always()),
    }
}
