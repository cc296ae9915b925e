//! What happens to a ticket, as typed events.
//!
//! Every ticket command records the timeline entry that explains a change together with one of
//! these events, in the change's transaction. When the transaction is about to commit, the
//! application runs its subscribers (SLA clocks, OLA spans, requester mail, webhooks, metrics)
//! over every event recorded, in the order they were recorded; subscribers may write rows of
//! their own (and so record further events), but never call ticket commands.

use crate::ticket::{State, TicketKind};

/// One thing that happened to a ticket.
#[derive(Debug, Clone, PartialEq)]
pub enum TicketEvent {
    /// Logged, by any channel, with the SLA clocks it starts with.
    Created {
        kind: TicketKind,
        clocks: Vec<PlannedClock>,
        notify_requester: bool,
    },
    /// Fields other than the state changed (title, category, group, assignee, priority, …).
    FieldsChanged {
        priority_changed: bool,
    },
    /// The state changed by an edit, or by the requester answering a ticket pending on them.
    StateChanged {
        from: State,
        to: State,
    },
    /// Moved up to a higher tier's queue, by an agent or by an SLA escalation rule.
    Escalated {
        automatic: bool,
    },
    /// A reply, work note, phone call or e-mail was added.
    Commented {
        kind: CommentKind,
        public: bool,
        by_staff: bool,
    },
    Resolved,
    Reopened {
        from: State,
        to: State,
    },
    Closed,
    /// A problem or change moved to another phase (they do not use the incident states).
    PhaseChanged,
    /// An SLA clock started, paused, resumed, warned, breached, was met or re-targeted.
    Sla,
    /// An asset (configuration item) was linked to (or, `linked: false`, unlinked from) the ticket.
    AssetLinked {
        asset_id: i64,
        ticket_number: String,
        linked: bool,
    },
    /// A knowledge article was linked to the ticket.
    ArticleLinked,
    /// An approver decided on a change (or, later, a request).
    ApprovalDecided,
    /// Anything else the timeline records (links between problems and incidents, change tasks,
    /// mail bounces, notes Orion writes about monitoring, …).
    Noted,
}

impl TicketEvent {
    /// Did the ticket's state (or the reason it waits) change? SLA clocks follow the state.
    pub fn moves_state(&self) -> bool {
        matches!(
            self,
            TicketEvent::StateChanged { .. }
                | TicketEvent::Escalated { .. }
                | TicketEvent::Resolved
                | TicketEvent::Reopened { .. }
                | TicketEvent::Closed
                | TicketEvent::PhaseChanged
        )
    }
}

/// The kinds of comment-like timeline entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentKind {
    /// A reply (public) by the requester or the desk.
    Comment,
    /// An internal note between agents.
    WorkNote,
    /// A phone call logged by the desk.
    PhoneCall,
    /// A mail that arrived for the ticket.
    Email,
}

impl CommentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CommentKind::Comment => "comment",
            CommentKind::WorkNote => "work_note",
            CommentKind::PhoneCall => "phone_call",
            CommentKind::Email => "email",
        }
    }
}

/// An SLA clock a new ticket starts with, as planned from the policy it falls under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedClock {
    pub target: &'static str,
    pub policy_name: String,
    pub calendar_name: String,
    pub calendar_spec: String,
    pub pause_on: String,
    pub warnings: String,
    pub escalates: bool,
    pub rules: String,
    pub on_priority_change: &'static str,
    pub target_ms: i64,
    pub due_at: Option<i64>,
    /// When the first warning (or the breach) of this clock is due.
    pub first_check_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_events_that_move_the_state_move_the_clocks() {
        assert!(TicketEvent::Resolved.moves_state());
        assert!(TicketEvent::StateChanged { from: State::New, to: State::Pending }.moves_state());
        assert!(TicketEvent::Escalated { automatic: true }.moves_state());
        assert!(!TicketEvent::FieldsChanged { priority_changed: true }.moves_state());
        assert!(!TicketEvent::Commented { kind: CommentKind::Comment, public: true, by_staff: true }.moves_state());
        assert!(!TicketEvent::Sla.moves_state());
    }
}
