//! Tickets: kinds, numbers, the state machine, channels and resolution codes.

use crate::error::FieldError;
use crate::user::Tier;
use std::fmt;

/// Defines a closed set of lower-case names with `as_str`, `parse` and `ALL`.
macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $variant:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),* }
            }

            pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
                match s {
                    $($s => Ok($name::$variant),)*
                    _ => Err(FieldError::new(field, format!(
                        concat!("must be one of the ", $what, ": {}"),
                        Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum!(
    /// What sort of work a ticket is. Problems and changes share the same core; their own
    /// phases live beside it (see [`crate::change`]).
    TicketKind, "ticket kinds" {
        Incident = "incident",
        ServiceRequest = "service_request",
        Problem = "problem",
        Change = "change",
        /// A fulfilment task of a catalog request, opened by the item's task plan.
        Task = "task",
    }
);

impl TicketKind {
    /// The number prefix: `INC`, `REQ`, `PRB`, `CHG`, `TSK`.
    pub fn prefix(self) -> &'static str {
        match self {
            TicketKind::Incident => "INC",
            TicketKind::ServiceRequest => "REQ",
            TicketKind::Problem => "PRB",
            TicketKind::Change => "CHG",
            TicketKind::Task => "TSK",
        }
    }

    /// Incidents and service requests follow the ticket state machine; problems and changes
    /// move by their own phases.
    pub fn has_own_phases(self) -> bool {
        matches!(self, TicketKind::Problem | TicketKind::Change)
    }

    fn from_prefix(p: &str) -> Option<Self> {
        TicketKind::ALL.iter().copied().find(|k| k.prefix() == p)
    }
}

/// A ticket's human number, e.g. `INC0001042`: prefix plus at least seven digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketNumber {
    kind: TicketKind,
    seq: i64,
}

impl TicketNumber {
    pub fn new(kind: TicketKind, seq: i64) -> Self {
        Self { kind, seq }
    }

    /// Parses `INC0001042` (case-insensitive prefix).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.len() < 4 || !s.is_char_boundary(3) {
            return None;
        }
        let (prefix, digits) = s.split_at(3);
        let kind = TicketKind::from_prefix(&prefix.to_ascii_uppercase())?;
        if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let seq: i64 = digits.parse().ok()?;
        (seq > 0).then_some(Self { kind, seq })
    }

    pub fn kind(self) -> TicketKind {
        self.kind
    }

    pub fn seq(self) -> i64 {
        self.seq
    }
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:07}", self.kind.prefix(), self.seq)
    }
}

named_enum!(
    /// Where a ticket is in its life.
    State, "states" {
        /// Logged, waiting for someone in the assignment group to pick it up.
        New = "new",
        /// An agent owns it.
        Assigned = "assigned",
        /// The owner is working on it.
        InProgress = "in_progress",
        /// Waiting on the requester, a vendor or a change (the reason says which).
        Pending = "pending",
        /// Fixed or answered; the requester may reopen it.
        Resolved = "resolved",
        /// Final.
        Closed = "closed",
    }
);

named_enum!(
    /// Why a ticket is pending.
    PendingReason, "pending reasons" {
        User = "user",
        Vendor = "vendor",
        Change = "change",
        /// A catalog request waiting for its approvers (set and cleared by the approval chain).
        Approval = "approval",
    }
);

named_enum!(
    /// How a ticket reached the service desk.
    Channel, "channels" {
        Phone = "phone",
        Email = "email",
        Portal = "portal",
        Api = "api",
        Monitoring = "monitoring",
        WalkIn = "walk_in",
    }
);

named_enum!(
    /// How a ticket was resolved.
    ResolutionCode, "resolution codes" {
        Fixed = "fixed",
        Workaround = "workaround",
        InformationProvided = "information_provided",
        RequestFulfilled = "request_fulfilled",
        NotReproducible = "not_reproducible",
        Duplicate = "duplicate",
        Cancelled = "cancelled",
    }
);

named_enum!(
    /// Who may read a timeline entry.
    Visibility, "visibilities" {
        /// The requester sees it too.
        Public = "public",
        /// Support staff only (work notes, escalations, field changes).
        Internal = "internal",
    }
);

/// A refused state change, with what would have been allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionError {
    pub from: State,
    pub to: State,
    pub allowed: Vec<State>,
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let allowed: Vec<&str> = self.allowed.iter().map(|s| s.as_str()).collect();
        if allowed.is_empty() {
            write!(f, "a {} ticket cannot change state", self.from)
        } else {
            write!(f, "cannot go from {} to {}; allowed: {}", self.from, self.to, allowed.join(", "))
        }
    }
}

impl std::error::Error for TransitionError {}

impl State {
    /// The states reachable from this one. `resolved -> new/assigned/in_progress` is a reopen.
    pub fn next_states(self) -> &'static [State] {
        use State::*;
        match self {
            New => &[Assigned, InProgress, Pending, Resolved],
            Assigned => &[New, InProgress, Pending, Resolved],
            InProgress => &[Assigned, Pending, Resolved],
            Pending => &[Assigned, InProgress, Resolved],
            Resolved => &[Closed, New, Assigned, InProgress],
            Closed => &[],
        }
    }

    /// Checks one step of the state machine.
    pub fn transition(self, to: State) -> Result<State, TransitionError> {
        if self.next_states().contains(&to) {
            Ok(to)
        } else {
            Err(TransitionError { from: self, to, allowed: self.next_states().to_vec() })
        }
    }

    /// Open tickets are still being worked: anything before resolved.
    pub fn is_open(self) -> bool {
        !matches!(self, State::Resolved | State::Closed)
    }

    /// States that need a named assignee.
    pub fn needs_assignee(self) -> bool {
        matches!(self, State::Assigned | State::InProgress)
    }

    /// The state a reopened ticket returns to: with its owner if it still has one.
    pub fn after_reopen(has_assignee: bool) -> State {
        if has_assignee { State::InProgress } else { State::New }
    }
}

/// How a move between groups relates to the support tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscalationKind {
    /// To a higher tier: needs a reason and the troubleshooting done so far.
    Up,
    /// To another group of the same tier.
    Sideways,
    /// Back to a lower tier.
    Down,
}

impl EscalationKind {
    pub fn between(from: Tier, to: Tier) -> Self {
        use std::cmp::Ordering::*;
        match to.cmp(&from) {
            Greater => EscalationKind::Up,
            Equal => EscalationKind::Sideways,
            Less => EscalationKind::Down,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn numbers_format_and_parse() {
        let n = TicketNumber::new(TicketKind::Incident, 1042);
        assert_eq!(n.to_string(), "INC0001042");
        assert_eq!(TicketNumber::parse("INC0001042"), Some(n));
        assert_eq!(TicketNumber::parse("inc0001042"), Some(n));
        assert_eq!(TicketNumber::parse("REQ0000001").unwrap().kind(), TicketKind::ServiceRequest);
        assert_eq!(TicketNumber::new(TicketKind::Incident, 12_345_678).to_string(), "INC12345678");
        for bad in ["", "INC", "XYZ0000001", "INC00x0001", "INC0000000", "ÄÖÜ1", "INC-000001"] {
            assert_eq!(TicketNumber::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn lifecycle_happy_path() {
        let s = State::New.transition(State::Assigned).unwrap();
        let s = s.transition(State::InProgress).unwrap();
        let s = s.transition(State::Pending).unwrap();
        let s = s.transition(State::InProgress).unwrap();
        let s = s.transition(State::Resolved).unwrap();
        let s = s.transition(State::InProgress).unwrap(); // reopen
        let s = s.transition(State::Resolved).unwrap();
        assert_eq!(s.transition(State::Closed).unwrap(), State::Closed);
    }

    #[test]
    fn closed_is_final_and_errors_say_what_is_allowed() {
        for to in State::ALL {
            assert!(State::Closed.transition(*to).is_err());
        }
        let e = State::New.transition(State::Closed).unwrap_err();
        assert!(e.to_string().contains("allowed: assigned"), "{e}");
        assert!(State::New.transition(State::New).is_err());
    }

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(State::parse("state", s.as_str()).unwrap(), *s);
        }
        let e = State::parse("state", "done").unwrap_err();
        assert!(e.message.contains("in_progress"));
        assert_eq!(Channel::parse("channel", "walk_in").unwrap(), Channel::WalkIn);
    }

    #[test]
    fn escalation_kind_follows_tiers() {
        let t = |n| Tier::parse("t", n).unwrap();
        assert_eq!(EscalationKind::between(t(1), t(2)), EscalationKind::Up);
        assert_eq!(EscalationKind::between(t(2), t(2)), EscalationKind::Sideways);
        assert_eq!(EscalationKind::between(t(3), t(1)), EscalationKind::Down);
    }

    proptest! {
        /// Any sequence of accepted transitions keeps the machine in a known state and never leaves closed.
        #[test]
        fn random_walks_respect_the_machine(steps in proptest::collection::vec(0usize..6, 0..40)) {
            let mut s = State::New;
            for i in steps {
                let to = State::ALL[i];
                match s.transition(to) {
                    Ok(n) => { prop_assert!(s != State::Closed); prop_assert!(s.next_states().contains(&n)); s = n; }
                    Err(e) => { prop_assert_eq!(e.from, s); prop_assert!(!s.next_states().contains(&to)); }
                }
            }
        }

        #[test]
        fn numbers_round_trip(seq in 1i64..10_000_000_000, k in 0usize..2) {
            let n = TicketNumber::new(TicketKind::ALL[k], seq);
            prop_assert_eq!(TicketNumber::parse(&n.to_string()), Some(n));
        }
    }
}
