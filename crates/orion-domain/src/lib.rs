//! Orion's domain core: the service-desk rules with no I/O.
//!
//! Everything here is pure: types that can only hold valid values, the ticket
//! state machine, the priority matrix, escalation decisions and permission
//! checks. Adapters (storage, web, mail) build on these.

pub mod approval;
pub mod asset;
pub mod calendar;
pub mod catalog;
pub mod change;
pub mod cron;
pub mod error;
pub mod events;
pub mod ics;
pub mod ids;
pub mod lookup;
pub mod macros;
pub mod permission;
pub mod priority;
pub mod recurrence;
pub mod routing;
pub mod search;
pub mod sla;
pub mod sla_policy;
pub mod ticket;
pub mod time;
pub mod user;
pub mod workflow;

pub use calendar::BusinessCalendar;
pub use error::{FieldError, FieldErrors};
pub use events::{CommentKind, PlannedClock, TicketEvent};
pub use ids::{CategoryId, GroupId, TicketId, UserId};
pub use permission::Actor;
pub use priority::{Level, Priority, PriorityMatrix};
pub use ticket::{
    Channel, EscalationKind, PendingReason, ResolutionCode, State, TicketKind, TicketNumber, TransitionError,
    Visibility,
};
pub use time::Timestamp;
pub use user::{Email, Role, Tier};
