//! In-app notifications for users.

use crate::{Conn, Result, with_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: i64,
    pub user_id: i64,
    pub ticket_number: Option<String>,
    pub kind: String,
    pub message: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

pub async fn insert(
    conn: &mut Conn<'_>,
    user_id: i64,
    ticket_id: Option<i64>,
    kind: &str,
    message: &str,
    now: i64,
) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO notification (user_id, ticket_id, kind, message, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user_id)
        .bind(ticket_id)
        .bind(kind)
        .bind(message)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A user's notifications, newest first, keyset-paged.
pub async fn list(
    conn: &mut Conn<'_>,
    user_id: i64,
    unread_only: bool,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<NotificationRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT n.id, n.user_id, t.number AS ticket_number, n.kind, n.message, n.created_at, n.read_at
             FROM notification n LEFT JOIN ticket t ON t.id = n.ticket_id
             WHERE n.user_id = $1 AND ($2 = FALSE OR n.read_at IS NULL) AND n.id < $3
             ORDER BY n.id DESC LIMIT $4",
        )
        .bind(user_id)
        .bind(unread_only)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

/// Marks one of the user's notifications read; `false` if it is not theirs.
pub async fn mark_read(conn: &mut Conn<'_>, user_id: i64, id: i64, now: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query("UPDATE notification SET read_at = COALESCE(read_at, $3) WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// How many of the user's notifications are unread, counting at most `cap`.
pub async fn count_unread(conn: &mut Conn<'_>, user_id: i64, cap: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM notification WHERE user_id = $1 AND read_at IS NULL LIMIT $2) AS u",
        )
        .bind(user_id)
        .bind(cap)
        .fetch_one(c)
        .await
    })?)
}

/// Marks every unread notification of the user read; how many.
pub async fn mark_all_read(conn: &mut Conn<'_>, user_id: i64, now: i64) -> Result<u64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query("UPDATE notification SET read_at = $2 WHERE user_id = $1 AND read_at IS NULL")
            .bind(user_id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?)
}
