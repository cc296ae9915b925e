//! Mail Orion sends: each message rendered once and kept with its Message-ID until delivered.

use crate::{Conn, Result, with_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboundRow {
    pub id: i64,
    pub ticket_id: Option<i64>,
    pub ticket_number: Option<String>,
    pub template: String,
    pub sender: String,
    pub automatic: bool,
    /// Comma-separated addresses
    pub recipients: String,
    pub message_id: String,
    pub subject: String,
    pub raw_sha256: String,
    pub status: String,
    pub reason: Option<String>,
    pub attempts: i64,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

const COLUMNS: &str = "o.id, o.ticket_id, t.number AS ticket_number, o.template, o.sender, o.automatic, o.recipients,
    o.message_id, o.subject, o.raw_sha256, o.status, o.reason, o.attempts, o.created_at, o.sent_at";

pub struct NewOutbound<'a> {
    pub ticket_id: Option<i64>,
    pub template: &'a str,
    pub sender: &'a str,
    pub automatic: bool,
    pub recipients: &'a str,
    pub message_id: &'a str,
    pub subject: &'a str,
    pub raw_sha256: &'a str,
    pub status: &'a str,
    pub reason: Option<&'a str>,
}

pub async fn insert(conn: &mut Conn<'_>, m: &NewOutbound<'_>, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO mail_outbound (ticket_id, template, sender, automatic, recipients, message_id, subject,
                 raw_sha256, status, reason, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(m.ticket_id)
        .bind(m.template)
        .bind(m.sender)
        .bind(m.automatic)
        .bind(m.recipients)
        .bind(m.message_id)
        .bind(m.subject)
        .bind(m.raw_sha256)
        .bind(m.status)
        .bind(m.reason)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<OutboundRow> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(crate::sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM mail_outbound o LEFT JOIN ticket t ON t.id = o.ticket_id WHERE o.id = $1"
        )))
        .bind(id)
        .fetch_one(c)
        .await
    })?)
}

/// Newest first, keyset-paged; `unsent_only`: queued and failed mail.
pub async fn list(
    conn: &mut Conn<'_>,
    unsent_only: bool,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<OutboundRow>> {
    let filter = if unsent_only { "o.status IN ('queued', 'failed') AND " } else { "" };
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(crate::sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM mail_outbound o LEFT JOIN ticket t ON t.id = o.ticket_id
             WHERE {filter}o.id < $1 ORDER BY o.id DESC LIMIT $2"
        )))
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

/// Records one delivery attempt: `status` sent, queued (will retry) or failed, with the reason.
pub async fn set_status(
    conn: &mut Conn<'_>,
    id: i64,
    status: &str,
    reason: Option<&str>,
    sent_at: Option<i64>,
) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE mail_outbound SET status = $2, reason = $3, sent_at = $4, attempts = attempts + 1 WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(reason)
        .bind(sent_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Puts a failed message back in the queue.
pub async fn requeue(conn: &mut Conn<'_>, id: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query("UPDATE mail_outbound SET status = 'queued', reason = NULL WHERE id = $1 AND status = 'failed'")
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Automatic mail to `address` since `since`.
pub async fn count_auto_since(conn: &mut Conn<'_>, address: &str, since: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM mail_auto_sent WHERE address = $1 AND sent_at >= $2")
            .bind(address)
            .bind(since)
            .fetch_one(c)
            .await
    })?)
}

/// Records an automatic mail to `address`, forgetting its mails older than `keep_since`.
pub async fn record_auto(conn: &mut Conn<'_>, address: &str, now: i64, keep_since: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("DELETE FROM mail_auto_sent WHERE address = $1 AND sent_at < $2")
            .bind(address)
            .bind(keep_since)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    with_conn!(conn, |c| {
        sqlx::query("INSERT INTO mail_auto_sent (address, sent_at) VALUES ($1, $2)")
            .bind(address)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Whether a message with this Message-ID was already queued (a repeated notification job).
pub async fn exists(conn: &mut Conn<'_>, message_id: &str) -> Result<bool> {
    let n: i64 = with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM mail_outbound WHERE message_id = $1")
            .bind(message_id)
            .fetch_one(c)
            .await
    })?;
    Ok(n > 0)
}
