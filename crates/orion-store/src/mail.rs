//! Email: stored bytes, the inbound log (with the quarantine), Message-IDs per ticket,
//! attachments, and bouncing addresses.

use crate::{Conn, Result, with_conn};

/// Stores bytes under their SHA-256 (a second copy of the same bytes is not stored again).
pub async fn put_blob(conn: &mut Conn<'_>, sha256: &str, bytes: &[u8], now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO blob (sha256, size, bytes, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(bytes.len() as i64)
        .bind(bytes)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn get_blob(conn: &mut Conn<'_>, sha256: &str) -> Result<Vec<u8>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT bytes FROM blob WHERE sha256 = $1").bind(sha256).fetch_one(c).await
    })?)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InboundRow {
    pub id: i64,
    pub received_at: i64,
    pub source: String,
    pub raw_sha256: String,
    pub content_hash: String,
    pub size: i64,
    pub message_id: Option<String>,
    pub sender: Option<String>,
    pub subject: String,
    pub status: String,
    pub reason: Option<String>,
    pub ticket_id: Option<i64>,
    pub ticket_number: Option<String>,
    pub deliveries: i64,
    pub processed_at: i64,
}

const INBOUND_COLUMNS: &str = "m.id, m.received_at, m.source, m.raw_sha256, m.content_hash, m.size, m.message_id,
    m.sender, m.subject, m.status, m.reason, m.ticket_id, t.number AS ticket_number, m.deliveries, m.processed_at";

/// A message seen before (same content without trace headers): counts the delivery and returns it.
pub async fn seen(conn: &mut Conn<'_>, content_hash: &str) -> Result<Option<InboundRow>> {
    let row: Option<InboundRow> = with_conn!(conn, |c| {
        sqlx::query_as(crate::sqlx::AssertSqlSafe(format!(
            "SELECT {INBOUND_COLUMNS} FROM mail_inbound m LEFT JOIN ticket t ON t.id = m.ticket_id WHERE m.content_hash = $1"
        )))
        .bind(content_hash)
        .fetch_optional(c)
        .await
    })?;
    if let Some(r) = &row {
        with_conn!(conn, |c| {
            sqlx::query("UPDATE mail_inbound SET deliveries = deliveries + 1 WHERE id = $1")
                .bind(r.id)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })?;
    }
    Ok(row)
}

/// What became of a message.
pub struct Outcome<'a> {
    pub status: &'a str,
    pub reason: Option<&'a str>,
    pub ticket_id: Option<i64>,
}

pub struct NewInbound<'a> {
    pub received_at: i64,
    pub source: &'a str,
    pub raw_sha256: &'a str,
    pub content_hash: &'a str,
    pub size: i64,
    pub message_id: Option<&'a str>,
    pub sender: Option<&'a str>,
    pub subject: &'a str,
}

pub async fn record(conn: &mut Conn<'_>, m: &NewInbound<'_>, o: &Outcome<'_>, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO mail_inbound (received_at, source, raw_sha256, content_hash, size, message_id, sender, subject,
                 status, reason, ticket_id, processed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(m.received_at)
        .bind(m.source)
        .bind(m.raw_sha256)
        .bind(m.content_hash)
        .bind(m.size)
        .bind(m.message_id)
        .bind(m.sender)
        .bind(m.subject)
        .bind(o.status)
        .bind(o.reason)
        .bind(o.ticket_id)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

/// Sets what became of a message after it was processed again (or discarded).
pub async fn set_outcome(conn: &mut Conn<'_>, id: i64, o: &Outcome<'_>, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE mail_inbound SET status = $2, reason = $3, ticket_id = $4, processed_at = $5 WHERE id = $1")
            .bind(id)
            .bind(o.status)
            .bind(o.reason)
            .bind(o.ticket_id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn get_inbound(conn: &mut Conn<'_>, id: i64) -> Result<InboundRow> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(crate::sqlx::AssertSqlSafe(format!(
            "SELECT {INBOUND_COLUMNS} FROM mail_inbound m LEFT JOIN ticket t ON t.id = m.ticket_id WHERE m.id = $1"
        )))
        .bind(id)
        .fetch_one(c)
        .await
    })?)
}

/// Newest first, keyset-paged; `quarantined_only` for the quarantine.
pub async fn list_inbound(
    conn: &mut Conn<'_>,
    quarantined_only: bool,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<InboundRow>> {
    let filter = if quarantined_only { "m.status = 'quarantined' AND " } else { "" };
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(crate::sqlx::AssertSqlSafe(format!(
            "SELECT {INBOUND_COLUMNS} FROM mail_inbound m LEFT JOIN ticket t ON t.id = m.ticket_id
             WHERE {filter}m.id < $1 ORDER BY m.id DESC LIMIT $2"
        )))
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

/// Remembers that a Message-ID belongs to a ticket.
pub async fn link_message(
    conn: &mut Conn<'_>,
    message_id: &str,
    ticket_id: i64,
    direction: &str,
    recipient: Option<&str>,
    now: i64,
) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO ticket_message (message_id, ticket_id, direction, recipient, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_id, ticket_id) DO NOTHING",
        )
        .bind(message_id)
        .bind(ticket_id)
        .bind(direction)
        .bind(recipient)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The ticket the first of `ids` that Orion knows belongs to (most recent link first).
pub async fn ticket_for_messages(conn: &mut Conn<'_>, ids: &[&str]) -> Result<Option<(i64, String)>> {
    for id in ids {
        let found: Option<(i64, String)> = with_conn!(conn, |c| {
            sqlx::query_as(
                "SELECT ticket_id, direction FROM ticket_message WHERE message_id = $1 ORDER BY created_at DESC LIMIT 1",
            )
            .bind(*id)
            .fetch_optional(c)
            .await
        })?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The Message-ID of the latest message received for a ticket.
pub async fn last_inbound_message(conn: &mut Conn<'_>, ticket_id: i64) -> Result<Option<String>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT message_id FROM ticket_message WHERE ticket_id = $1 AND direction = 'in'
             ORDER BY created_at DESC, message_id LIMIT 1",
        )
        .bind(ticket_id)
        .fetch_optional(c)
        .await
    })?)
}

/// The recipient an outbound message went to.
pub async fn outbound_recipient(conn: &mut Conn<'_>, message_id: &str) -> Result<Option<(i64, Option<String>)>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT ticket_id, recipient FROM ticket_message WHERE message_id = $1 AND direction = 'out' LIMIT 1",
        )
        .bind(message_id)
        .fetch_optional(c)
        .await
    })?)
}

pub struct NewAttachment<'a> {
    pub ticket_id: i64,
    pub entry_id: Option<i64>,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub sha256: &'a str,
    pub content_id: Option<&'a str>,
    pub inline: bool,
}

pub async fn add_attachment(conn: &mut Conn<'_>, a: &NewAttachment<'_>, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO attachment (ticket_id, entry_id, filename, content_type, size, sha256, content_id, inline, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(a.ticket_id)
        .bind(a.entry_id)
        .bind(a.filename)
        .bind(a.content_type)
        .bind(a.size)
        .bind(a.sha256)
        .bind(a.content_id)
        .bind(a.inline)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

/// Points attachments saved before their timeline entry existed at it.
pub async fn attach_to_entry(conn: &mut Conn<'_>, ids: &[i64], entry_id: i64) -> Result<()> {
    for id in ids {
        with_conn!(conn, |c| {
            sqlx::query("UPDATE attachment SET entry_id = $2 WHERE id = $1")
                .bind(*id)
                .bind(entry_id)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttachmentRow {
    pub id: i64,
    pub ticket_id: i64,
    pub entry_id: Option<i64>,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub content_id: Option<String>,
    pub inline: bool,
    pub created_at: i64,
    /// The visibility of the timeline entry it came with (`None`: the ticket itself)
    pub visibility: Option<String>,
}

/// An attachment with the visibility of the entry it came with.
pub async fn get_attachment(conn: &mut Conn<'_>, id: i64) -> Result<AttachmentRow> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT a.id, a.ticket_id, a.entry_id, a.filename, a.content_type, a.size, a.sha256, a.content_id,
                    a.inline, a.created_at, e.visibility
             FROM attachment a LEFT JOIN timeline_entry e ON e.id = a.entry_id WHERE a.id = $1",
        )
        .bind(id)
        .fetch_one(c)
        .await
    })?)
}

/// Notes that mail to `address` bounced.
pub async fn flag_bounce(
    conn: &mut Conn<'_>,
    address: &str,
    status: Option<&str>,
    permanent: bool,
    now: i64,
) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO mail_bounce (address, status, permanent, count, last_at) VALUES ($1, $2, $3, 1, $4)
             ON CONFLICT (address) DO UPDATE SET status = excluded.status, permanent = excluded.permanent,
                 count = mail_bounce.count + 1, last_at = excluded.last_at",
        )
        .bind(address)
        .bind(status)
        .bind(permanent)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BounceRow {
    pub address: String,
    pub status: Option<String>,
    pub permanent: bool,
    pub count: i64,
    pub last_at: i64,
}

pub async fn bounce_of(conn: &mut Conn<'_>, address: &str) -> Result<Option<BounceRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT address, status, permanent, count, last_at FROM mail_bounce WHERE address = $1")
            .bind(address)
            .fetch_optional(c)
            .await
    })?)
}
