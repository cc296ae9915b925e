//! The SLA badges of a page of tickets in a queue.

use super::*;

/// One SLA clock of a ticket in a queue: which target, its state, and when it is due.
#[derive(Debug, Clone, Serialize)]
pub struct SlaBadge {
    /// `first_response` or `resolution`
    pub target: String,
    /// `running`, `paused`, `met`, `breached` (a running clock past due counts as breached)
    pub state: String,
    /// Minutes left (negative: overdue) while running
    pub remaining_minutes: Option<i64>,
}

impl App {
    /// The SLA clocks of a page of tickets, by ticket number (staff only).
    pub async fn sla_badges(
        &self,
        actor: &Actor,
        numbers: &[String],
    ) -> AppResult<std::collections::HashMap<String, Vec<SlaBadge>>> {
        if !actor.can_work_tickets() {
            return Err(AppError::Forbidden("only support staff see SLA clocks".into()));
        }
        let now = self.now();
        let rows = {
            let mut r = self.db.read().await?;
            orion_store::sla::badges(&mut r.conn(), numbers).await?
        };
        let mut out: std::collections::HashMap<String, Vec<SlaBadge>> = std::collections::HashMap::new();
        for b in rows {
            let remaining = (b.state == "running").then(|| b.due_at.map(|d| (d - now).div_euclid(60_000))).flatten();
            let state = if remaining.is_some_and(|m| m < 0) { "breached".to_string() } else { b.state };
            out.entry(b.number).or_default().push(SlaBadge { target: b.target, state, remaining_minutes: remaining });
        }
        Ok(out)
    }
}
