//! SLA policies: which targets apply to a ticket, on which calendar, with
//! which pauses and warnings. The first matching policy (in order) wins, so
//! specific policies go before general ones.

use crate::priority::Priority;
use crate::ticket::{PendingReason, TicketKind};

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
