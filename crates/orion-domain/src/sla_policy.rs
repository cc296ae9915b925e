//! SLA policies: which targets apply to a ticket, on which calendar, with
//! which pauses and warnings. The first matching policy (in order) wins, so
//! specific policies go before general ones.

use crate::error::{FieldError, FieldErrors};
use crate::priority::Priority;
use crate::ticket::{PendingReason, TicketKind};
use serde::{Deserialize, Serialize};

/// The targets a policy can set; each is a clock of its own on the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// Met by the first public agent reply or logged phone call.
    FirstResponse,
    /// Met by resolution; continues on reopen.
    Resolution,
    /// Starts again with every public agent update; stops at resolution.
    Update,
}

impl TargetKind {
    pub const ALL: [Self; 3] = [Self::FirstResponse, Self::Resolution, Self::Update];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstResponse => "first_response",
            Self::Resolution => "resolution",
            Self::Update => "update",
        }
    }

    /// "first response", "resolution", "update" — for messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::FirstResponse => "first response",
            Self::Resolution => "resolution",
            Self::Update => "update interval",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            FieldError::new(field, format!("unknown SLA target {s:?}; expected first_response, resolution or update"))
        })
    }
}

/// What a priority change does to running clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnPriorityChange {
    /// Measure the time already used (pauses kept) against the new targets, from the original start.
    #[default]
    Retarget,
    /// Start the running clocks again from zero with the new targets.
    Restart,
}

impl OnPriorityChange {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retarget => "retarget",
            Self::Restart => "restart",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        match s {
            "retarget" => Ok(Self::Retarget),
            "restart" => Ok(Self::Restart),
            _ => Err(FieldError::new(field, format!("expected retarget or restart, not {s:?}"))),
        }
    }
}

/// When an escalation rule fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleOn {
    Warning,
    Breach,
}

/// What an escalation rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// An in-app notification to the assignee.
    NotifyAssignee,
    /// An in-app notification to the lead of the ticket's group.
    NotifyLead,
    /// Reassign to the group's escalation target, as an agent's escalation would.
    Escalate,
    /// One priority step up (P3 to P2), re-targeting the clocks.
    RaisePriority,
}

/// On a warning or breach of a target (or of any target), do these things.
/// Every breach also puts the ticket on the leads' breach queue, with or without a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationRule {
    pub on: RuleOn,
    /// Absent: every target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetKind>,
    /// Warnings only: at this percentage; absent: at every warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
    pub actions: Vec<RuleAction>,
}

/// The rules a policy has unless it says otherwise: warnings notify the assignee; breaches notify
/// the assignee and the group's lead; a breached resolution escalates (when `breach_escalates`).
pub fn default_rules(breach_escalates: bool) -> Vec<EscalationRule> {
    let mut rules = vec![
        EscalationRule { on: RuleOn::Warning, target: None, percent: None, actions: vec![RuleAction::NotifyAssignee] },
        EscalationRule {
            on: RuleOn::Breach,
            target: None,
            percent: None,
            actions: vec![RuleAction::NotifyAssignee, RuleAction::NotifyLead],
        },
    ];
    if breach_escalates {
        rules.push(EscalationRule {
            on: RuleOn::Breach,
            target: Some(TargetKind::Resolution),
            percent: None,
            actions: vec![RuleAction::Escalate],
        });
    }
    rules
}

/// Every action the rules ask for when `target` crosses a warning at `percent` (`Some`) or breaches (`None`),
/// each once, in a fixed order (notify before moving the ticket).
pub fn actions_for(rules: &[EscalationRule], target: TargetKind, percent: Option<u8>) -> Vec<RuleAction> {
    let mut out: Vec<RuleAction> = rules
        .iter()
        .filter(|r| r.target.is_none_or(|t| t == target))
        .filter(|r| match (r.on, percent) {
            (RuleOn::Breach, None) => true,
            (RuleOn::Warning, Some(p)) => r.percent.is_none_or(|want| want == p),
            _ => false,
        })
        .flat_map(|r| r.actions.iter().copied())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Checks rules from the API: warnings name a percentage the policy warns at, every rule does something.
pub fn validate_rules(rules: &[EscalationRule], warnings_pct: &[i64], errs: &mut FieldErrors) {
    for (i, r) in rules.iter().enumerate() {
        if r.actions.is_empty() {
            errs.push(format!("escalation_rules[{i}].actions"), "name at least one action");
        }
        match (r.on, r.percent) {
            (RuleOn::Breach, Some(_)) => {
                errs.push(format!("escalation_rules[{i}].percent"), "only warning rules have a percentage")
            }
            (RuleOn::Warning, Some(p)) if !warnings_pct.contains(&i64::from(p)) => errs.push(
                format!("escalation_rules[{i}].percent"),
                format!("the policy warns at {warnings_pct:?} percent, not at {p}"),
            ),
            _ => {}
        }
    }
}

/// Which calendar a policy counts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarRef {
    /// Round the clock.
    Always,
    /// A named business calendar (the default one is "Business hours").
    Named(String),
}

/// One working day of a business calendar, for targets written in days.
pub const BUSINESS_DAY_MIN: i64 = 8 * 60;

/// Targets in working minutes; `None` means no target of that kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// Met by the first public agent reply or logged phone call.
    pub first_response_min: Option<i64>,
    pub resolution_min: Option<i64>,
    /// A public update at least this often while the ticket is open.
    pub update_interval_min: Option<i64>,
}

/// An SLA policy and what it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    pub name: String,
    /// Empty: any kind.
    pub kinds: Vec<TicketKind>,
    /// Empty: any priority.
    pub priorities: Vec<Priority>,
    /// Matches a category and everything below it (`Hardware` matches `Hardware / Printer`).
    pub category: Option<String>,
    /// The requester's department.
    pub department: Option<String>,
    pub calendar: CalendarRef,
    pub targets: Targets,
    /// The clock stops while a ticket is pending for one of these reasons.
    pub pause_on: Vec<PendingReason>,
    /// Warnings at these percentages of each target.
    pub warnings_pct: Vec<u8>,
    pub on_priority_change: OnPriorityChange,
    pub rules: Vec<EscalationRule>,
}

/// What a policy is matched against.
#[derive(Debug, Clone, Copy)]
pub struct TicketFacts<'a> {
    pub kind: TicketKind,
    pub priority: Priority,
    pub category: Option<&'a str>,
    pub department: Option<&'a str>,
}

impl SlaPolicy {
    pub fn matches(&self, t: &TicketFacts<'_>) -> bool {
        let category_ok = match (&self.category, t.category) {
            (None, _) => true,
            (Some(want), Some(have)) => {
                have.eq_ignore_ascii_case(want)
                    || have.len() > want.len()
                        && have[..want.len()].eq_ignore_ascii_case(want)
                        && have[want.len()..].starts_with(" / ")
            }
            (Some(_), None) => false,
        };
        let department_ok = match (&self.department, t.department) {
            (None, _) => true,
            (Some(want), Some(have)) => have.eq_ignore_ascii_case(want),
            (Some(_), None) => false,
        };
        (self.kinds.is_empty() || self.kinds.contains(&t.kind))
            && (self.priorities.is_empty() || self.priorities.contains(&t.priority))
            && category_ok
            && department_ok
    }

    /// Does pending for `reason` stop this policy's clocks?
    pub fn pauses_on(&self, reason: PendingReason) -> bool {
        self.pause_on.contains(&reason)
    }
}

/// The first policy that matches, in order.
pub fn match_policy<'a>(policies: &'a [SlaPolicy], t: &TicketFacts<'_>) -> Option<&'a SlaPolicy> {
    policies.iter().find(|p| p.matches(t))
}

/// The policies Orion ships: P1 15 min / 4 h round the clock; P2 1 h / 8 business hours;
/// P3 4 business hours / 3 business days; P4 1 business day / 5 business days;
/// P5 2 business days / no resolution target. Pending on the user or a vendor pauses them.
pub fn default_policies() -> Vec<SlaPolicy> {
    let business = || CalendarRef::Named("Business hours".into());
    let p = |n: i64| Priority::from_number("priority", n).unwrap_or_else(|_| unreachable!("1..=5 are priorities"));
    let policy = |n: i64, calendar: CalendarRef, first: i64, resolution: Option<i64>| SlaPolicy {
        name: format!("P{n} default"),
        kinds: Vec::new(),
        priorities: vec![p(n)],
        category: None,
        department: None,
        calendar,
        targets: Targets { first_response_min: Some(first), resolution_min: resolution, update_interval_min: None },
        pause_on: vec![PendingReason::User, PendingReason::Vendor],
        warnings_pct: vec![50, 75, 90],
        on_priority_change: OnPriorityChange::Retarget,
        rules: default_rules(true),
    };
    vec![
        policy(1, CalendarRef::Always, 15, Some(4 * 60)),
        policy(2, business(), 60, Some(8 * 60)),
        policy(3, business(), 4 * 60, Some(3 * BUSINESS_DAY_MIN)),
        policy(4, business(), BUSINESS_DAY_MIN, Some(5 * BUSINESS_DAY_MIN)),
        policy(5, business(), 2 * BUSINESS_DAY_MIN, None),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(priority: i64, category: Option<&'static str>) -> TicketFacts<'static> {
        TicketFacts {
            kind: TicketKind::Incident,
            priority: Priority::from_number("p", priority).unwrap(),
            category,
            department: Some("Finance"),
        }
    }

    #[test]
    fn defaults_cover_every_priority_as_the_issue_says() {
        let ps = default_policies();
        let p1 = match_policy(&ps, &facts(1, None)).unwrap();
        assert_eq!(
            (p1.calendar.clone(), p1.targets.first_response_min, p1.targets.resolution_min),
            (CalendarRef::Always, Some(15), Some(240))
        );
        let p3 = match_policy(&ps, &facts(3, None)).unwrap();
        assert_eq!((p3.targets.first_response_min, p3.targets.resolution_min), (Some(240), Some(3 * 480)));
        let p5 = match_policy(&ps, &facts(5, None)).unwrap();
        assert_eq!((p5.targets.first_response_min, p5.targets.resolution_min), (Some(960), None));
        assert!(p5.pauses_on(PendingReason::User) && !p5.pauses_on(PendingReason::Change));
        assert_eq!(p5.warnings_pct, [50, 75, 90]);
    }

    #[test]
    fn rules_pick_the_actions_of_their_target_and_moment() {
        let mut rules = default_rules(true);
        rules.push(EscalationRule {
            on: RuleOn::Warning,
            target: Some(TargetKind::Resolution),
            percent: Some(90),
            actions: vec![RuleAction::RaisePriority, RuleAction::NotifyLead],
        });
        use RuleAction::*;
        assert_eq!(actions_for(&rules, TargetKind::Resolution, None), [NotifyAssignee, NotifyLead, Escalate]);
        assert_eq!(actions_for(&rules, TargetKind::FirstResponse, None), [NotifyAssignee, NotifyLead]);
        assert_eq!(actions_for(&rules, TargetKind::Resolution, Some(75)), [NotifyAssignee]);
        assert_eq!(actions_for(&rules, TargetKind::Resolution, Some(90)), [NotifyAssignee, NotifyLead, RaisePriority]);
        assert_eq!(actions_for(&rules, TargetKind::Update, Some(90)), [NotifyAssignee]);
        assert_eq!(actions_for(&default_rules(false), TargetKind::Resolution, None), [NotifyAssignee, NotifyLead]);
        let json =
            r#"[{"on":"warning","percent":80,"actions":["notify_lead"]},{"on":"breach","percent":50,"actions":[]}]"#;
        let parsed: Vec<EscalationRule> = serde_json::from_str(json).unwrap();
        let mut errs = FieldErrors::new();
        validate_rules(&parsed, &[50, 75, 90], &mut errs);
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["escalation_rules[0].percent", "escalation_rules[1].actions", "escalation_rules[1].percent"]
        );
        assert_eq!(TargetKind::parse("t", "update").unwrap(), TargetKind::Update);
        assert!(TargetKind::parse("t", "lunch").is_err());
    }

    #[test]
    fn specific_policies_win_when_listed_first() {
        let mut ps = default_policies();
        let mut vip = ps[2].clone();
        vip.name = "Finance printers".into();
        vip.category = Some("Hardware".into());
        vip.department = Some("finance".into());
        vip.targets.resolution_min = Some(120);
        ps.insert(0, vip);
        assert_eq!(match_policy(&ps, &facts(3, Some("Hardware / Printer"))).unwrap().name, "Finance printers");
        assert_eq!(match_policy(&ps, &facts(3, Some("Hardware"))).unwrap().name, "Finance printers");
        assert_eq!(
            match_policy(&ps, &facts(3, Some("Hardwareless"))).unwrap().name,
            "P3 default",
            "prefix must end at a level"
        );
        assert_eq!(match_policy(&ps, &facts(3, None)).unwrap().name, "P3 default");
        let mut other = facts(3, Some("Hardware"));
        other.department = Some("Sales");
        assert_eq!(match_policy(&ps, &other).unwrap().name, "P3 default");
    }
}
