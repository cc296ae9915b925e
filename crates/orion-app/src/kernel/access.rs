//! The authorisation glue over the domain's permissions: a refusal names who may do it.

use crate::kernel::{AppError, AppResult};
use orion_domain::{Actor, Role};

/// Agents, leads and admins.
pub(crate) fn require_staff(actor: &Actor, what: &str) -> AppResult<()> {
    if actor.can_work_tickets() { Ok(()) } else { Err(AppError::Forbidden(format!("only support staff can {what}"))) }
}

/// Admins only.
pub(crate) fn require_admin(actor: &Actor, what: &str) -> AppResult<()> {
    if actor.can_administer() { Ok(()) } else { Err(AppError::Forbidden(format!("only admins can {what}"))) }
}

/// Leads and admins only.
pub(crate) fn require_lead(actor: &Actor, what: &str) -> AppResult<()> {
    if matches!(actor.role, Role::Lead | Role::Admin) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!("only leads and admins can {what}")))
    }
}
