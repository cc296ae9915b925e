//! A user's in-app notifications (SLA warnings and breaches today).

use crate::{App, AppError, AppResult, Page};
use orion_domain::{Actor, Timestamp};
use orion_store::notifications;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    pub id: i64,
    /// `sla_warning`, `sla_breached`
    pub kind: String,
    pub ticket: Option<String>,
    pub message: String,
    pub created_at: String,
    pub read: bool,
}

impl App {
    /// The caller's notifications, newest first.
    pub async fn my_notifications(
        &self,
        actor: &Actor,
        unread_only: bool,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<Notification>> {
        let limit = crate::kernel::paging::parse_limit(limit)?;
        let before = crate::kernel::paging::parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut rows = notifications::list(&mut r.conn(), actor.id.0, unread_only, before, limit + 1).await?;
        let next_cursor = crate::kernel::paging::keyset_cursor(&mut rows, limit, |n| n.id);
        let items = rows
            .into_iter()
            .map(|n| Notification {
                id: n.id,
                kind: n.kind,
                ticket: n.ticket_number,
                message: n.message,
                created_at: Timestamp(n.created_at).to_rfc3339(),
                read: n.read_at.is_some(),
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    pub async fn mark_notification_read(&self, actor: &Actor, id: i64) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        let done = notifications::mark_read(&mut tx.conn(), actor.id.0, id, self.now()).await?;
        self.commit(tx).await?;
        if done { Ok(()) } else { Err(AppError::NotFound("notification")) }
    }
}

/// The most unread notifications the bell counts (it shows "99+" beyond).
pub const UNREAD_CAP: i64 = 100;

impl App {
    /// How many of the caller's notifications are unread (at most [`UNREAD_CAP`]).
    pub async fn unread_notifications(&self, actor: &Actor) -> AppResult<i64> {
        let mut r = self.db.read().await?;
        Ok(notifications::count_unread(&mut r.conn(), actor.id.0, UNREAD_CAP).await?)
    }

    /// Marks all of the caller's notifications read; how many were unread.
    pub async fn mark_all_notifications_read(&self, actor: &Actor) -> AppResult<u64> {
        let mut tx = self.db.begin().await?;
        let n = notifications::mark_all_read(&mut tx.conn(), actor.id.0, self.now()).await?;
        self.commit(tx).await?;
        Ok(n)
    }
}
