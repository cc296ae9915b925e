//! Delivering one notice to one person as they chose for its kind: a notification in the
//! console, a mail (a `mail.agent` job), both or nothing — never about a ticket they may not see.

use super::*;
use crate::notifications::AGENT_MAIL_JOB;
use orion_store::desk as store;
use orion_store::jobs::{self, NewJob};

/// One notice to one person, as they chose for its kind (the SLA timer and routing rules use this
/// too). Returns whether anything was written.
pub(crate) async fn notify_user(
    c: &mut Conn<'_>,
    t: &TicketView,
    user: i64,
    kind: &str,
    message: &str,
    now: i64,
) -> AppResult<bool> {
    let delivery = delivery_of(c, user, crate::notifications::preference_kind(kind)).await?;
    if delivery == "none" {
        return Ok(false);
    }
    let u = users::get(c, user).await?;
    if !u.active || !user_may_see(c, &u, t).await? {
        return Ok(false);
    }
    if matches!(delivery.as_str(), "console" | "both") {
        orion_store::notifications::insert(c, user, Some(t.id), kind, message, now).await?;
    }
    if matches!(delivery.as_str(), "mail" | "both") {
        let payload = json!({"user_id": user, "ticket_id": t.id, "kind": kind, "message": message}).to_string();
        let job = NewJob { kind: AGENT_MAIL_JOB, payload: &payload, run_at: now, dedupe_key: None, max_attempts: 10 };
        jobs::enqueue(c, &job, now).await?;
    }
    Ok(true)
}

async fn delivery_of(c: &mut Conn<'_>, user: i64, kind: &str) -> AppResult<String> {
    let chosen = store::preference(c, user, kind).await?;
    Ok(chosen.unwrap_or_else(|| crate::notifications::default_of(kind).to_string()))
}
