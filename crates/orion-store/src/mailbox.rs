//! IMAP mailboxes Orion polls: their settings, how far each has been read, and the lease that
//! lets one node at a time poll it.

use crate::{Conn, Result, with_conn};

/// No `Debug`: the row holds the mailbox secret, which must never reach a log.
#[derive(Clone, sqlx::FromRow)]
pub struct MailboxRow {
    pub id: i64,
    pub name: String,
    pub host: String,
    pub port: i64,
    pub security: String,
    pub username: String,
    pub auth: String,
    pub secret: Option<String>,
    pub secret_file: Option<String>,
    pub folder: String,
    pub after_fetch: String,
    pub move_to: Option<String>,
    pub poll_seconds: i64,
    pub enabled: bool,
    pub uidvalidity: Option<i64>,
    pub last_uid: i64,
    pub lease_owner: Option<String>,
    pub lease_until: i64,
    pub next_poll_at: i64,
    pub last_polled_at: Option<i64>,
    pub last_ok_at: Option<i64>,
    pub last_error: Option<String>,
    pub fetched: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The settings an admin gives (the rest is Orion's own bookkeeping).
pub struct MailboxSettings<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub port: i64,
    pub security: &'a str,
    pub username: &'a str,
    pub auth: &'a str,
    pub secret: Option<&'a str>,
    pub secret_file: Option<&'a str>,
    pub folder: &'a str,
    pub after_fetch: &'a str,
    pub move_to: Option<&'a str>,
    pub poll_seconds: i64,
    pub enabled: bool,
}

pub async fn insert(conn: &mut Conn<'_>, m: &MailboxSettings<'_>, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO mail_mailbox (name, host, port, security, username, auth, secret, secret_file, folder,
                 after_fetch, move_to, poll_seconds, enabled, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id",
        )
        .bind(m.name)
        .bind(m.host)
        .bind(m.port)
        .bind(m.security)
        .bind(m.username)
        .bind(m.auth)
        .bind(m.secret)
        .bind(m.secret_file)
        .bind(m.folder)
        .bind(m.after_fetch)
        .bind(m.move_to)
        .bind(m.poll_seconds)
        .bind(m.enabled)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

/// Replaces the settings. Another host, account or folder starts reading afresh
/// (`uidvalidity` forgotten); what was taken before is recognised by its content hash.
pub async fn update(conn: &mut Conn<'_>, id: i64, m: &MailboxSettings<'_>, now: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE mail_mailbox SET
                 uidvalidity = CASE WHEN host = $2 AND username = $6 AND folder = $10
                               THEN uidvalidity ELSE NULL END,
                 last_uid = CASE WHEN host = $2 AND username = $6 AND folder = $10
                            THEN last_uid ELSE 0 END,
                 name = $14, host = $2, port = $3, security = $4, auth = $5, username = $6, secret = $7,
                 secret_file = $8, after_fetch = $9, folder = $10, move_to = $11, poll_seconds = $12,
                 enabled = $13, next_poll_at = 0, last_error = NULL, updated_at = $15
             WHERE id = $1",
        )
        .bind(id)
        .bind(m.host)
        .bind(m.port)
        .bind(m.security)
        .bind(m.auth)
        .bind(m.username)
        .bind(m.secret)
        .bind(m.secret_file)
        .bind(m.after_fetch)
        .bind(m.folder)
        .bind(m.move_to)
        .bind(m.poll_seconds)
        .bind(m.enabled)
        .bind(m.name)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

pub async fn delete(conn: &mut Conn<'_>, id: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM mail_mailbox WHERE id = $1").bind(id).execute(c).await.map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<MailboxRow> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT * FROM mail_mailbox WHERE id = $1").bind(id).fetch_one(c).await
    })?)
}

pub async fn list(conn: &mut Conn<'_>) -> Result<Vec<MailboxRow>> {
    Ok(with_conn!(conn, |c| sqlx::query_as("SELECT * FROM mail_mailbox ORDER BY name").fetch_all(c).await)?)
}

/// Enabled mailboxes due for a poll whose lease is free.
pub async fn due(conn: &mut Conn<'_>, now: i64) -> Result<Vec<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT id FROM mail_mailbox WHERE enabled AND next_poll_at <= $1 AND lease_until <= $1 ORDER BY next_poll_at",
        )
        .bind(now)
        .fetch_all(c)
        .await
    })?)
}

/// When the next poll of any enabled mailbox is due.
pub async fn next_due(conn: &mut Conn<'_>) -> Result<Option<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT MIN(CASE WHEN lease_until > next_poll_at THEN lease_until ELSE next_poll_at END)
             FROM mail_mailbox WHERE enabled",
        )
        .fetch_one(c)
        .await
    })?)
}

/// Takes (or renews) the lease on a mailbox until `until`; false when another node holds it.
pub async fn lease(conn: &mut Conn<'_>, id: i64, owner: &str, now: i64, until: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE mail_mailbox SET lease_owner = $2, lease_until = $4
             WHERE id = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until <= $3)",
        )
        .bind(id)
        .bind(owner)
        .bind(now)
        .bind(until)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Records how far the mailbox has been read, if `owner` still holds the lease.
pub async fn set_position(
    conn: &mut Conn<'_>,
    id: i64,
    owner: &str,
    uidvalidity: i64,
    last_uid: i64,
    fetched: i64,
) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE mail_mailbox SET uidvalidity = $3, last_uid = $4, fetched = fetched + $5
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .bind(uidvalidity)
        .bind(last_uid)
        .bind(fetched)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Ends a poll: releases the lease, schedules the next poll and records the outcome.
pub async fn finish(
    conn: &mut Conn<'_>,
    id: i64,
    owner: &str,
    now: i64,
    next_poll_at: i64,
    error: Option<&str>,
) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE mail_mailbox SET lease_owner = NULL, lease_until = 0, next_poll_at = $4, last_polled_at = $3,
                 last_ok_at = CASE WHEN $5 IS NULL THEN $3 ELSE last_ok_at END, last_error = $5
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .bind(now)
        .bind(next_poll_at)
        .bind(error)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}
