//! Problem and change management rules: the phases problems and changes move through, change
//! risk from its questionnaire, how approvals are counted, and how a phase maps onto the ticket
//! core's state (so queues, search and reports treat PRB and CHG like every other ticket).

use crate::FieldError;
use crate::ticket::{PendingReason, State};

pub(crate) fn parse_in(list: &'static [&'static str], field: &str, s: &str) -> Result<&'static str, FieldError> {
    let s = s.trim();
    list.iter()
        .find(|t| t.eq_ignore_ascii_case(s))
        .copied()
        .ok_or_else(|| FieldError::new(field, format!("{s:?} is not one of {}", list.join(", "))))
}

/// A problem's phases, in order.
pub const PROBLEM_PHASES: &[&str] = &["new", "investigating", "known_error", "resolved", "closed"];

pub fn parse_problem_phase(field: &str, s: &str) -> Result<&'static str, FieldError> {
    parse_in(PROBLEM_PHASES, field, s)
}

/// Where a problem may go from `from`. Investigation finds the root cause and either documents a
/// workaround (known error) or fixes it; a known error is fixed later or needs more digging; a
/// resolved problem that comes back is investigated again; closed is final.
pub fn problem_next(from: &str) -> &'static [&'static str] {
    match from {
        "new" => &["investigating", "closed"],
        "investigating" => &["known_error", "resolved", "closed"],
        "known_error" => &["investigating", "resolved"],
        "resolved" => &["investigating", "closed"],
        _ => &[],
    }
}

/// The ticket-core state a problem phase stands for.
pub fn problem_core_state(phase: &str) -> (State, Option<PendingReason>) {
    match phase {
        "investigating" => (State::InProgress, None),
        // Waiting for the permanent fix, which is a change.
        "known_error" => (State::Pending, Some(PendingReason::Change)),
        "resolved" => (State::Resolved, None),
        "closed" => (State::Closed, None),
        _ => (State::New, None),
    }
}

/// Change types: standard (a pre-approved template, no CAB), normal, emergency.
pub const CHANGE_TYPES: &[&str] = &["standard", "normal", "emergency"];

pub fn parse_change_type(field: &str, s: &str) -> Result<&'static str, FieldError> {
    parse_in(CHANGE_TYPES, field, s)
}

/// A change's phases. `cancelled` and `failed` are final like `closed`.
pub const CHANGE_PHASES: &[&str] =
    &["draft", "assessment", "approval", "scheduled", "implementing", "review", "closed", "cancelled", "failed"];

pub fn parse_change_phase(field: &str, s: &str) -> Result<&'static str, FieldError> {
    parse_in(CHANGE_PHASES, field, s)
}

/// Where a change of `kind` may go from `from` by hand. Approval is left by the approvers'
/// decisions (to scheduled, or back to assessment when rejected), and review by recording the
/// outcome (closed or failed), so neither is listed as a manual move out of those phases except
/// cancelling. A standard change skips approval; an emergency change may be scheduled or
/// implemented at once and is approved after the fact.
pub fn change_next(kind: &str, from: &str) -> &'static [&'static str] {
    match (kind, from) {
        (_, "draft") => &["assessment", "cancelled"],
        ("standard", "assessment") => &["scheduled", "cancelled"],
        ("emergency", "assessment") => &["scheduled", "implementing", "cancelled"],
        (_, "assessment") => &["approval", "cancelled"],
        (_, "approval") => &["cancelled"],
        (_, "scheduled") => &["implementing", "assessment", "cancelled"],
        (_, "implementing") => &["review"],
        _ => &[],
    }
}

pub fn change_is_final(phase: &str) -> bool {
    matches!(phase, "closed" | "cancelled" | "failed")
}

/// The ticket-core state a change phase stands for.
pub fn change_core_state(phase: &str) -> (State, Option<PendingReason>) {
    match phase {
        "approval" | "scheduled" => (State::Pending, Some(PendingReason::Change)),
        "implementing" | "review" => (State::InProgress, None),
        "closed" | "cancelled" | "failed" => (State::Closed, None),
        _ => (State::New, None),
    }
}

/// The review outcomes, and the phase each leads to.
pub const OUTCOMES: &[&str] = &["successful", "successful_with_issues", "failed", "backed_out"];

pub fn parse_outcome(field: &str, s: &str) -> Result<&'static str, FieldError> {
    parse_in(OUTCOMES, field, s)
}

pub fn outcome_phase(outcome: &str) -> &'static str {
    if matches!(outcome, "failed" | "backed_out") { "failed" } else { "closed" }
}

/// Risk levels.
pub const RISKS: &[&str] = &["low", "medium", "high"];

pub fn parse_risk(field: &str, s: &str) -> Result<&'static str, FieldError> {
    parse_in(RISKS, field, s)
}

/// The questionnaire, each answer 1 (best) to 3 (worst): how many people or services an outage
/// would touch, how complex the work is, how new it is to the implementers (1: done often,
/// 3: never), and how hard backing it out would be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskAnswers {
    pub impact: u8,
    pub complexity: u8,
    pub experience: u8,
    pub backout: u8,
}

impl RiskAnswers {
    pub fn check(&self) -> Result<(), FieldError> {
        for (field, v) in [
            ("risk_impact", self.impact),
            ("risk_complexity", self.complexity),
            ("risk_experience", self.experience),
            ("risk_backout", self.backout),
        ] {
            if !(1..=3).contains(&v) {
                return Err(FieldError::new(field, "must be 1, 2 or 3"));
            }
        }
        Ok(())
    }

    /// Low up to 6 points, medium to 9, high above; a change that would touch many and is hard to
    /// back out is high whatever else is said.
    pub fn risk(&self) -> &'static str {
        let sum = self.impact + self.complexity + self.experience + self.backout;
        if (self.impact == 3 && self.backout == 3) || sum >= 10 {
            "high"
        } else if sum >= 7 {
            "medium"
        } else {
            "low"
        }
    }
}

pub use crate::approval::{APPROVAL_RULES, Tally, parse_approval_rule, tally};

/// Whether two half-open periods `[a0, a1)` and `[b0, b1)` share any time.
pub fn overlaps(a: (i64, i64), b: (i64, i64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Whether `inner` lies wholly inside one of `windows`.
pub fn inside_any(inner: (i64, i64), windows: &[(i64, i64)]) -> bool {
    windows.iter().any(|w| w.0 <= inner.0 && inner.1 <= w.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_phases_follow_the_itil_flow() {
        assert!(problem_next("new").contains(&"investigating"));
        assert!(!problem_next("new").contains(&"resolved"));
        assert!(problem_next("known_error").contains(&"resolved"));
        assert!(problem_next("resolved").contains(&"investigating"));
        assert!(problem_next("closed").is_empty());
        assert_eq!(problem_core_state("known_error"), (State::Pending, Some(PendingReason::Change)));
        assert!(parse_problem_phase("phase", "Known_Error").is_ok());
        assert!(parse_problem_phase("phase", "done").is_err());
    }

    #[test]
    fn change_moves_depend_on_the_type() {
        assert_eq!(change_next("normal", "assessment"), &["approval", "cancelled"]);
        assert!(change_next("standard", "assessment").contains(&"scheduled"));
        assert!(!change_next("standard", "assessment").contains(&"approval"));
        assert!(change_next("emergency", "assessment").contains(&"implementing"));
        assert!(!change_next("normal", "approval").contains(&"scheduled"), "approval is left by decisions");
        assert!(change_next("normal", "review").is_empty(), "review is left by the outcome");
        assert!(change_next("normal", "closed").is_empty());
        assert_eq!(outcome_phase("backed_out"), "failed");
        assert_eq!(outcome_phase("successful_with_issues"), "closed");
        assert_eq!(change_core_state("scheduled").0, State::Pending);
        assert_eq!(change_core_state("failed").0, State::Closed);
    }

    #[test]
    fn risk_from_the_questionnaire() {
        let a = |impact, complexity, experience, backout| RiskAnswers { impact, complexity, experience, backout };
        assert_eq!(a(1, 1, 1, 1).risk(), "low");
        assert_eq!(a(2, 2, 1, 1).risk(), "low");
        assert_eq!(a(2, 2, 2, 1).risk(), "medium");
        assert_eq!(a(3, 3, 3, 1).risk(), "high");
        assert_eq!(a(3, 1, 1, 3).risk(), "high", "wide impact and no way back");
        assert!(a(0, 1, 1, 1).check().is_err());
        assert_eq!(a(1, 4, 1, 1).check().unwrap_err().field, "risk_complexity");
    }

    #[test]
    fn periods() {
        assert!(overlaps((10, 20), (19, 30)));
        assert!(!overlaps((10, 20), (20, 30)), "half-open: back to back is fine");
        assert!(inside_any((12, 18), &[(0, 5), (10, 20)]));
        assert!(!inside_any((12, 22), &[(10, 20), (21, 30)]));
    }
}
