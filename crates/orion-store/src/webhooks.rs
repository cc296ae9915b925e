//! Outbound webhooks: subscriptions and their delivery log.

use crate::{Conn, Result, with_conn};

/// A webhook as stored, its signing secret included (the app never shows it after creation).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookRow {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub secret: String,
    /// JSON array of event names
    pub events: String,
    /// JSON array of group ids (empty: every group)
    pub group_ids: String,
    /// JSON array of priorities 1–5 (empty: every priority)
    pub priorities: String,
    pub format: String,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

const WEBHOOK_COLS: &str =
    "SELECT id, name, url, secret, events, group_ids, priorities, format, enabled, created_at, updated_at FROM webhook";

pub struct NewWebhook<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub secret: &'a str,
    pub events: &'a str,
    pub group_ids: &'a str,
    pub priorities: &'a str,
    pub format: &'a str,
    pub enabled: bool,
}

pub async fn insert(conn: &mut Conn<'_>, w: &NewWebhook<'_>, created_by: i64, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO webhook (name, url, secret, events, group_ids, priorities, format, enabled, created_by,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
        )
        .bind(w.name)
        .bind(w.url)
        .bind(w.secret)
        .bind(w.events)
        .bind(w.group_ids)
        .bind(w.priorities)
        .bind(w.format)
        .bind(w.enabled)
        .bind(created_by)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

/// Writes every field of `w` (the secret included: pass the stored one to keep it).
pub async fn update(conn: &mut Conn<'_>, id: i64, w: &NewWebhook<'_>, now: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE webhook SET name = $2, url = $3, secret = $4, events = $5, group_ids = $6, priorities = $7,
                 format = $8, enabled = $9, updated_at = $10 WHERE id = $1",
        )
        .bind(id)
        .bind(w.name)
        .bind(w.url)
        .bind(w.secret)
        .bind(w.events)
        .bind(w.group_ids)
        .bind(w.priorities)
        .bind(w.format)
        .bind(w.enabled)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

/// Replaces a webhook's signing secret.
pub async fn set_secret(conn: &mut Conn<'_>, id: i64, secret: &str, now: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query("UPDATE webhook SET secret = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(secret)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

/// Removes a webhook and its delivery log.
pub async fn delete(conn: &mut Conn<'_>, id: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM webhook WHERE id = $1").bind(id).execute(c).await.map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<WebhookRow> {
    let sql = format!("{WEBHOOK_COLS} WHERE id = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_one(c).await)?)
}

pub async fn list(conn: &mut Conn<'_>) -> Result<Vec<WebhookRow>> {
    let sql = format!("{WEBHOOK_COLS} ORDER BY name");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(c).await)?)
}

/// The enabled webhooks: what every ticket event is matched against.
pub async fn enabled(conn: &mut Conn<'_>) -> Result<Vec<WebhookRow>> {
    let sql = format!("{WEBHOOK_COLS} WHERE enabled ORDER BY id");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(c).await)?)
}

/// One delivery as the log shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub webhook_id: i64,
    pub event: String,
    pub ticket_id: Option<i64>,
    pub ticket_number: Option<String>,
    pub body: String,
    pub status: String,
    pub attempts: i64,
    pub response_code: Option<i64>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub duration_ms: Option<i64>,
    pub redelivery_of: Option<i64>,
    pub created_at: i64,
    pub last_attempt_at: Option<i64>,
    pub next_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
}

const DELIVERY_COLS: &str = "SELECT d.id, d.webhook_id, d.event, d.ticket_id, t.number AS ticket_number, d.body,
        d.status, d.attempts, d.response_code, d.response_body, d.error, d.duration_ms, d.redelivery_of,
        d.created_at, d.last_attempt_at, d.next_attempt_at, d.delivered_at
     FROM webhook_delivery d LEFT JOIN ticket t ON t.id = d.ticket_id";

pub struct NewDelivery<'a> {
    pub webhook_id: i64,
    pub event: &'a str,
    pub ticket_id: Option<i64>,
    pub body: &'a str,
    pub redelivery_of: Option<i64>,
}

pub async fn insert_delivery(conn: &mut Conn<'_>, d: &NewDelivery<'_>, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO webhook_delivery (webhook_id, event, ticket_id, body, redelivery_of, created_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(d.webhook_id)
        .bind(d.event)
        .bind(d.ticket_id)
        .bind(d.body)
        .bind(d.redelivery_of)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn get_delivery(conn: &mut Conn<'_>, id: i64) -> Result<DeliveryRow> {
    let sql = format!("{DELIVERY_COLS} WHERE d.id = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_one(c).await)?)
}

/// A webhook's deliveries, newest first, keyset-paged by id; only the failing ones when asked.
pub async fn list_deliveries(
    conn: &mut Conn<'_>,
    webhook_id: i64,
    failing_only: bool,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<DeliveryRow>> {
    let failing = if failing_only { " AND d.status IN ('retrying', 'failed')" } else { "" };
    let sql = format!("{DELIVERY_COLS} WHERE d.webhook_id = $1 AND d.id < $2{failing} ORDER BY d.id DESC LIMIT $3");
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(webhook_id)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(c)
            .await
    })?)
}

/// What one attempt found.
pub struct Attempt<'a> {
    /// `delivered`, `retrying`, `failed` or `cancelled`
    pub status: &'a str,
    pub response_code: Option<i64>,
    pub response_body: Option<&'a str>,
    pub error: Option<&'a str>,
    pub duration_ms: Option<i64>,
    pub next_attempt_at: Option<i64>,
}

/// Records an attempt: one more, its outcome, and when the next one is due (if any).
pub async fn record_attempt(conn: &mut Conn<'_>, id: i64, a: &Attempt<'_>, now: i64) -> Result<()> {
    let delivered = (a.status == "delivered").then_some(now);
    let tried = i64::from(a.status != "cancelled");
    with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE webhook_delivery SET status = $2, attempts = attempts + $3, response_code = $4,
                 response_body = $5, error = $6, duration_ms = $7, last_attempt_at = $8, next_attempt_at = $9,
                 delivered_at = $10
             WHERE id = $1",
        )
        .bind(id)
        .bind(a.status)
        .bind(tried)
        .bind(a.response_code)
        .bind(a.response_body)
        .bind(a.error)
        .bind(a.duration_ms)
        .bind(now)
        .bind(a.next_attempt_at)
        .bind(delivered)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}
