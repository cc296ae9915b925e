//! Who may do what. The service layer asks these before every read and write.

use crate::ids::UserId;
use crate::user::Role;

/// The authenticated user on whose behalf a command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: UserId,
    pub role: Role,
}

impl Actor {
    /// Agents, leads and admins see every ticket; requesters only those they requested.
    pub fn can_view_ticket(&self, requester: UserId) -> bool {
        self.role.is_staff() || self.id == requester
    }

    /// Internal work notes, escalations and field history are for staff only.
    pub fn can_see_internal(&self) -> bool {
        self.role.is_staff()
    }

    /// Assign, escalate, resolve, change fields: staff work.
    pub fn can_work_tickets(&self) -> bool {
        self.role.is_staff()
    }

    /// Log a ticket on someone else's behalf (a caller on the phone).
    pub fn can_create_for_others(&self) -> bool {
        self.role.is_staff()
    }

    /// Read the directory (users, groups) to assign and route tickets.
    pub fn can_read_directory(&self) -> bool {
        self.role.is_staff()
    }

    /// Create and change users, groups, categories and settings.
    pub fn can_administer(&self) -> bool {
        self.role == Role::Admin
    }

    /// Reopen or confirm (close) a resolved ticket: its requester or staff.
    pub fn can_reopen_or_confirm(&self, requester: UserId) -> bool {
        self.role.is_staff() || self.id == requester
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requesters_only_see_their_own() {
        let me = Actor { id: UserId(1), role: Role::Requester };
        assert!(me.can_view_ticket(UserId(1)));
        assert!(!me.can_view_ticket(UserId(2)));
        assert!(!me.can_see_internal());
        assert!(!me.can_work_tickets());
        assert!(me.can_reopen_or_confirm(UserId(1)));
        assert!(!me.can_reopen_or_confirm(UserId(2)));
    }

    #[test]
    fn only_admins_administer() {
        for role in Role::ALL {
            let a = Actor { id: UserId(9), role };
            assert_eq!(a.can_administer(), role == Role::Admin);
            assert_eq!(a.can_view_ticket(UserId(1)), role != Role::Requester);
        }
    }
}
