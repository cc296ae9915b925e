//! Approval rounds, whatever asks for them (a change today; a catalog request or an access grant
//! next): the rules a round is decided by and how its decisions are counted.

use crate::change::parse_in;
use crate::error::FieldError;

/// How many approvals a round needs: the first, every one, or more than half.
pub const APPROVAL_RULES: &[&str] = &["any", "all", "majority"];

pub fn parse_approval_rule(field: &str, s: &str) -> Result<&'static str, FieldError> {
    parse_in(APPROVAL_RULES, field, s)
}

/// Where a round of approvals stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    Pending,
    Approved,
    Rejected,
}

/// Counts a round: `any` is approved by the first approval and rejected only when everyone has
/// rejected; `all` is rejected by the first rejection; `majority` needs more than half of the
/// approvers and is rejected as soon as that can no longer happen.
pub fn tally(rule: &str, approvers: usize, approved: usize, rejected: usize) -> Tally {
    if approvers == 0 {
        return Tally::Pending;
    }
    match rule {
        "any" if approved > 0 => Tally::Approved,
        "any" if rejected >= approvers => Tally::Rejected,
        "all" if rejected > 0 => Tally::Rejected,
        "all" if approved >= approvers => Tally::Approved,
        "majority" if approved * 2 > approvers => Tally::Approved,
        "majority" if (approvers - rejected) * 2 <= approvers => Tally::Rejected,
        _ => Tally::Pending,
    }
}

/// Counts a step decided by a share of its approvers: approved once at least `percent` of them
/// approved, rejected as soon as that can no longer happen.
pub fn tally_share(percent: u32, approvers: usize, approved: usize, rejected: usize) -> Tally {
    if approvers == 0 {
        return Tally::Pending;
    }
    let need = percent.clamp(1, 100) as usize * approvers;
    if approved * 100 >= need {
        Tally::Approved
    } else if (approvers - rejected.min(approvers)) * 100 < need {
        Tally::Rejected
    } else {
        Tally::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approvals_are_counted_by_rule() {
        assert_eq!(tally("any", 3, 1, 0), Tally::Approved);
        assert_eq!(tally("any", 3, 0, 2), Tally::Pending);
        assert_eq!(tally("any", 3, 0, 3), Tally::Rejected);
        assert_eq!(tally("all", 3, 2, 0), Tally::Pending);
        assert_eq!(tally("all", 3, 3, 0), Tally::Approved);
        assert_eq!(tally("all", 3, 2, 1), Tally::Rejected);
        assert_eq!(tally("majority", 3, 1, 0), Tally::Pending);
        assert_eq!(tally("majority", 3, 2, 0), Tally::Approved);
        assert_eq!(tally("majority", 3, 0, 2), Tally::Rejected);
        assert_eq!(tally("majority", 4, 2, 1), Tally::Pending);
        assert_eq!(tally("majority", 4, 1, 2), Tally::Rejected, "2 of 4 is not more than half");
        assert_eq!(tally("majority", 4, 3, 1), Tally::Approved);
        assert_eq!(tally("all", 0, 0, 0), Tally::Pending);
    }

    #[test]
    fn a_share_of_approvers_decides_a_quorum() {
        assert_eq!(tally_share(60, 5, 2, 0), Tally::Pending);
        assert_eq!(tally_share(60, 5, 3, 0), Tally::Approved, "3 of 5 is 60 %");
        assert_eq!(tally_share(60, 5, 1, 2), Tally::Pending, "3 may still approve");
        assert_eq!(tally_share(60, 5, 1, 3), Tally::Rejected, "at most 2 of 5 can approve");
        assert_eq!(tally_share(100, 2, 1, 0), Tally::Pending);
        assert_eq!(tally_share(100, 2, 1, 1), Tally::Rejected);
        assert_eq!(tally_share(50, 0, 0, 0), Tally::Pending);
    }

    #[test]
    fn an_unknown_rule_names_the_field() {
        assert_eq!(parse_approval_rule("approval_rule", " majority ").unwrap(), "majority");
        assert_eq!(parse_approval_rule("approval_rule", "most").unwrap_err().field, "approval_rule");
    }
}
