//! Monitoring: integrations (alert sources), alerts, maintenance windows.

use crate::{Conn, Result, with_conn};

/// Every ticket state in which an incident still counts as open.
const OPEN_STATES: &str = "('new', 'assigned', 'in_progress', 'pending')";

/// An integration as stored (only a hash of its token is kept, and not read back).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntegrationRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub group_id: i64,
    pub group_name: String,
    pub requester_id: i64,
    pub requester_email: String,
    pub config: String,
    pub enabled: bool,
    pub received: i64,
    pub last_received_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const INTEGRATION_COLS: &str = "SELECT i.id, i.name, i.kind, i.group_id, g.name AS group_name, i.requester_id,
        u.email AS requester_email, i.config, i.enabled, i.received, i.last_received_at, i.created_at, i.updated_at
     FROM integration i JOIN agent_group g ON g.id = i.group_id JOIN app_user u ON u.id = i.requester_id";

pub struct NewIntegration<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub token_hash: &'a str,
    pub group_id: i64,
    pub requester_id: i64,
    pub config: &'a str,
    pub enabled: bool,
}

pub async fn insert_integration(conn: &mut Conn<'_>, n: &NewIntegration<'_>, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO integration (name, kind, token_hash, group_id, requester_id, config, enabled, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(n.name)
        .bind(n.kind)
        .bind(n.token_hash)
        .bind(n.group_id)
        .bind(n.requester_id)
        .bind(n.config)
        .bind(n.enabled)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

/// Changes the settings (not the token, not the kind).
pub async fn update_integration(conn: &mut Conn<'_>, id: i64, n: &NewIntegration<'_>, now: i64) -> Result<()> {
    let n_rows = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE integration SET name = $2, group_id = $3, requester_id = $4, config = $5, enabled = $6,
                 updated_at = $7 WHERE id = $1",
        )
        .bind(id)
        .bind(n.name)
        .bind(n.group_id)
        .bind(n.requester_id)
        .bind(n.config)
        .bind(n.enabled)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    if n_rows == 0 {
        return Err(crate::StoreError::NotFound);
    }
    Ok(())
}

pub async fn set_integration_token(conn: &mut Conn<'_>, id: i64, token_hash: &str, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE integration SET token_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(token_hash)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn get_integration(conn: &mut Conn<'_>, id: i64) -> Result<IntegrationRow> {
    let sql = format!("{INTEGRATION_COLS} WHERE i.id = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_one(c).await)?)
}

pub async fn find_integration_by_token(conn: &mut Conn<'_>, token_hash: &str) -> Result<Option<IntegrationRow>> {
    let sql = format!("{INTEGRATION_COLS} WHERE i.token_hash = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(token_hash).fetch_optional(c).await)?)
}

pub async fn list_integrations(conn: &mut Conn<'_>) -> Result<Vec<IntegrationRow>> {
    let sql = format!("{INTEGRATION_COLS} ORDER BY i.name");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(c).await)?)
}

pub async fn count_received(conn: &mut Conn<'_>, id: i64, n: i64, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE integration SET received = received + $2, last_received_at = $3 WHERE id = $1")
            .bind(id)
            .bind(n)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Serialises alert ingestion across nodes on PostgreSQL for the rest of the transaction, so two
/// payloads about one outage cannot both open an incident. (SQLite has one writer already.)
pub async fn lock_ingestion(conn: &mut Conn<'_>) -> Result<()> {
    if let crate::Link::Postgres(c) = &mut conn.link {
        sqlx::query("SELECT pg_advisory_xact_lock(731101)").execute(&mut **c).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertRow {
    pub id: i64,
    pub integration_id: i64,
    pub integration_name: String,
    pub fingerprint: String,
    pub status: String,
    pub severity: String,
    pub summary: String,
    pub details: String,
    pub labels: String,
    pub group_key: String,
    pub ci: String,
    pub service: String,
    pub source_url: Option<String>,
    pub ticket_id: Option<i64>,
    pub ticket_number: Option<String>,
    pub ticket_state: Option<String>,
    pub window_id: Option<i64>,
    pub window_name: Option<String>,
    pub received: i64,
    pub fired: i64,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    pub starts_at: i64,
    pub resolved_at: Option<i64>,
}

const ALERT_COLS: &str = "SELECT a.id, a.integration_id, i.name AS integration_name, a.fingerprint, a.status,
        a.severity, a.summary, a.details, a.labels, a.group_key, a.ci, a.service, a.source_url, a.ticket_id,
        t.number AS ticket_number, t.state AS ticket_state, a.window_id, w.name AS window_name, a.received,
        a.fired, a.first_seen_at, a.last_seen_at, a.starts_at, a.resolved_at
     FROM alert a JOIN integration i ON i.id = a.integration_id
     LEFT JOIN ticket t ON t.id = a.ticket_id LEFT JOIN maintenance_window w ON w.id = a.window_id";

/// What a payload said about an alert, as stored.
pub struct AlertWrite<'a> {
    pub status: &'a str,
    pub severity: &'a str,
    pub summary: &'a str,
    pub details: &'a str,
    pub labels: &'a str,
    pub group_key: &'a str,
    pub ci: &'a str,
    pub service: &'a str,
    pub source_url: Option<&'a str>,
}

pub async fn find_alert(conn: &mut Conn<'_>, integration_id: i64, fingerprint: &str) -> Result<Option<AlertRow>> {
    let sql = format!("{ALERT_COLS} WHERE a.integration_id = $1 AND a.fingerprint = $2");
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(integration_id).bind(fingerprint).fetch_optional(c).await
    })?)
}

pub async fn insert_alert(
    conn: &mut Conn<'_>,
    integration_id: i64,
    fingerprint: &str,
    a: &AlertWrite<'_>,
    (ticket_id, window_id): (Option<i64>, Option<i64>),
    starts_at: i64,
    now: i64,
) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO alert (integration_id, fingerprint, status, severity, summary, details, labels, group_key,
                 ci, service, source_url, ticket_id, window_id, first_seen_at, last_seen_at, starts_at, resolved_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15,
                 CASE WHEN $3 = 'resolved' THEN $14 END) RETURNING id",
        )
        .bind(integration_id)
        .bind(fingerprint)
        .bind(a.status)
        .bind(a.severity)
        .bind(a.summary)
        .bind(a.details)
        .bind(a.labels)
        .bind(a.group_key)
        .bind(a.ci)
        .bind(a.service)
        .bind(a.source_url)
        .bind(ticket_id)
        .bind(window_id)
        .bind(now)
        .bind(starts_at)
        .fetch_one(c)
        .await
    })?)
}

/// A repeat of what is known: counted and seen, nothing else.
pub async fn touch_alert(conn: &mut Conn<'_>, id: i64, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE alert SET received = received + 1, last_seen_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A change of state: firing again (`fired` counts it) or resolved, with the payload's latest text.
pub async fn update_alert(
    conn: &mut Conn<'_>,
    id: i64,
    a: &AlertWrite<'_>,
    (ticket_id, window_id): (Option<i64>, Option<i64>),
    starts_at: Option<i64>,
    now: i64,
) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE alert SET status = $2, severity = $3, summary = $4, details = $5, labels = $6, group_key = $7,
                 ci = $8, service = $9, source_url = $10, ticket_id = $11, window_id = $12,
                 received = received + 1, last_seen_at = $13,
                 fired = fired + CASE WHEN status = 'resolved' AND $2 = 'firing' THEN 1 ELSE 0 END,
                 starts_at = COALESCE($14, starts_at),
                 resolved_at = CASE WHEN $2 = 'resolved' THEN $13 END
             WHERE id = $1",
        )
        .bind(id)
        .bind(a.status)
        .bind(a.severity)
        .bind(a.summary)
        .bind(a.details)
        .bind(a.labels)
        .bind(a.group_key)
        .bind(a.ci)
        .bind(a.service)
        .bind(a.source_url)
        .bind(ticket_id)
        .bind(window_id)
        .bind(now)
        .bind(starts_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Which alert attribute an open incident is looked up by.
pub enum Correlate<'a> {
    /// The same source's group (Alertmanager `groupKey`), however old, while its incident is open.
    Group(i64, &'a str),
    /// The same CI, seen since the given time.
    Ci(&'a str, i64),
    /// The same service, seen since the given time.
    Service(&'a str, i64),
}

/// The open incident that alerts like this one already belong to, if any.
pub async fn open_incident_for(conn: &mut Conn<'_>, by: Correlate<'_>) -> Result<Option<i64>> {
    let head = "SELECT a.ticket_id FROM alert a JOIN ticket t ON t.id = a.ticket_id WHERE ";
    let tail = format!(" AND t.state IN {OPEN_STATES} ORDER BY a.last_seen_at DESC LIMIT 1");
    let (cond, text, n) = match by {
        Correlate::Group(integration, key) => ("a.group_key = $1 AND a.integration_id = $2", key, integration),
        Correlate::Ci(ci, since) => ("a.ci = $1 AND a.last_seen_at >= $2", ci, since),
        Correlate::Service(s, since) => ("a.service = $1 AND a.last_seen_at >= $2", s, since),
    };
    let sql = format!("{head}{cond}{tail}");
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(text).bind(n).fetch_optional(c).await
    })?)
}

/// How many of an incident's alerts are still firing, and how many it has.
pub async fn ticket_alert_counts(conn: &mut Conn<'_>, ticket_id: i64) -> Result<(i64, i64)> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN status = 'firing' THEN 1 ELSE 0 END), 0), COUNT(*)
             FROM alert WHERE ticket_id = $1",
        )
        .bind(ticket_id)
        .fetch_one(c)
        .await
    })?)
}

pub async fn ticket_alerts(conn: &mut Conn<'_>, ticket_id: i64, limit: i64) -> Result<Vec<AlertRow>> {
    let sql = format!("{ALERT_COLS} WHERE a.ticket_id = $1 ORDER BY a.id LIMIT $2");
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(ticket_id).bind(limit).fetch_all(c).await
    })?)
}

/// The alerts naming one of `cis` (lower-case host names) or a fully qualified name under one
/// (`db1.example.com` for `db1`), newest first.
pub async fn ci_alerts(conn: &mut Conn<'_>, cis: &[String], limit: i64) -> Result<Vec<AlertRow>> {
    let mut sql = crate::sql::Sql::new(ALERT_COLS);
    sql.push(" WHERE (a.ci IN ").bind_list(cis, crate::sql::Bind::Text);
    for n in cis {
        // `.` and the next character, `/`, bound the names under `n.` as an index range.
        sql.push(" OR (a.ci > ").bind_text(format!("{n}.")).push(" AND a.ci < ").bind_text(format!("{n}/")).push(")");
    }
    sql.push(")");
    sql.push(" ORDER BY a.last_seen_at DESC, a.id DESC LIMIT ").bind_i64(limit);
    Ok(crate::fetch_all_sql!(conn, AlertRow, &sql)?)
}

/// Alerts newest first, by key (`status` and `integration` optional).
pub async fn list_alerts(
    conn: &mut Conn<'_>,
    status: Option<&str>,
    integration_id: Option<i64>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AlertRow>> {
    let sql = format!(
        "{ALERT_COLS} WHERE ($1 IS NULL OR a.status = $1) AND ($2 IS NULL OR a.integration_id = $2)
           AND ($3 IS NULL OR a.id < $3) ORDER BY a.id DESC LIMIT $4"
    );
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(status)
            .bind(integration_id)
            .bind(before)
            .bind(limit)
            .fetch_all(c)
            .await
    })?)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WindowRow {
    pub id: i64,
    pub name: String,
    pub reason: String,
    pub matchers: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

pub async fn insert_window(
    conn: &mut Conn<'_>,
    (name, reason, matchers): (&str, &str, &str),
    (starts_at, ends_at): (i64, i64),
    created_by: i64,
    now: i64,
) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO maintenance_window (name, reason, matchers, starts_at, ends_at, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(name)
        .bind(reason)
        .bind(matchers)
        .bind(starts_at)
        .bind(ends_at)
        .bind(created_by)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

/// Windows that end after `after`, soonest first (current and future ones).
pub async fn windows_ending_after(conn: &mut Conn<'_>, after: i64, limit: i64) -> Result<Vec<WindowRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT id, name, reason, matchers, starts_at, ends_at, created_by, created_at FROM maintenance_window
             WHERE ends_at > $1 ORDER BY starts_at, id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

pub async fn get_window(conn: &mut Conn<'_>, id: i64) -> Result<WindowRow> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT id, name, reason, matchers, starts_at, ends_at, created_by, created_at FROM maintenance_window
             WHERE id = $1",
        )
        .bind(id)
        .fetch_one(c)
        .await
    })?)
}

/// Ends a window now (or shortens a future one to nothing).
pub async fn end_window(conn: &mut Conn<'_>, id: i64, at: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE maintenance_window SET ends_at = $2, starts_at = CASE WHEN starts_at > $2 THEN $2 ELSE starts_at END WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HeartbeatRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub description: String,
    pub group_id: i64,
    pub group_name: String,
    pub requester_id: i64,
    pub interval_seconds: Option<i64>,
    pub cron: Option<String>,
    pub timezone: String,
    pub grace_seconds: i64,
    pub enabled: bool,
    pub status: String,
    pub started_at: Option<i64>,
    pub last_ping_at: Option<i64>,
    pub last_ok_at: Option<i64>,
    pub last_duration_ms: Option<i64>,
    pub next_due_at: Option<i64>,
    pub ticket_id: Option<i64>,
    pub ticket_number: Option<String>,
    pub ticket_state: Option<String>,
    pub created_at: i64,
}

const HEARTBEAT_COLS: &str = "SELECT h.id, h.name, h.kind, h.description, h.group_id, g.name AS group_name,
        h.requester_id, h.interval_seconds, h.cron, h.timezone, h.grace_seconds, h.enabled, h.status, h.started_at,
        h.last_ping_at, h.last_ok_at, h.last_duration_ms, h.next_due_at, h.ticket_id, t.number AS ticket_number,
        t.state AS ticket_state, h.created_at
     FROM heartbeat h JOIN agent_group g ON g.id = h.group_id LEFT JOIN ticket t ON t.id = h.ticket_id";

/// A heartbeat's settings.
pub struct HeartbeatSettings<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub description: &'a str,
    pub group_id: i64,
    pub interval_seconds: Option<i64>,
    pub cron: Option<&'a str>,
    pub timezone: &'a str,
    pub grace_seconds: i64,
    pub enabled: bool,
}

pub async fn insert_heartbeat(
    conn: &mut Conn<'_>,
    h: &HeartbeatSettings<'_>,
    (token_hash, requester_id): (&str, i64),
    next_due_at: Option<i64>,
    now: i64,
) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO heartbeat (name, kind, description, token_hash, group_id, requester_id, interval_seconds,
                 cron, timezone, grace_seconds, enabled, next_due_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id",
        )
        .bind(h.name)
        .bind(h.kind)
        .bind(h.description)
        .bind(token_hash)
        .bind(h.group_id)
        .bind(requester_id)
        .bind(h.interval_seconds)
        .bind(h.cron)
        .bind(h.timezone)
        .bind(h.grace_seconds)
        .bind(h.enabled)
        .bind(next_due_at)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn update_heartbeat(
    conn: &mut Conn<'_>,
    id: i64,
    h: &HeartbeatSettings<'_>,
    next_due_at: Option<i64>,
    now: i64,
) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE heartbeat SET name = $2, kind = $3, description = $4, group_id = $5, interval_seconds = $6,
                 cron = $7, timezone = $8, grace_seconds = $9, enabled = $10, next_due_at = $11, updated_at = $12
             WHERE id = $1",
        )
        .bind(id)
        .bind(h.name)
        .bind(h.kind)
        .bind(h.description)
        .bind(h.group_id)
        .bind(h.interval_seconds)
        .bind(h.cron)
        .bind(h.timezone)
        .bind(h.grace_seconds)
        .bind(h.enabled)
        .bind(next_due_at)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(crate::StoreError::NotFound);
    }
    Ok(())
}

pub async fn set_heartbeat_token(conn: &mut Conn<'_>, id: i64, token_hash: &str, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE heartbeat SET token_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(token_hash)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn get_heartbeat(conn: &mut Conn<'_>, id: i64) -> Result<HeartbeatRow> {
    let sql = format!("{HEARTBEAT_COLS} WHERE h.id = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_one(c).await)?)
}

pub async fn find_heartbeat_by_token(conn: &mut Conn<'_>, token_hash: &str) -> Result<Option<HeartbeatRow>> {
    let sql = format!("{HEARTBEAT_COLS} WHERE h.token_hash = $1");
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(token_hash).fetch_optional(c).await
    })?)
}

pub async fn list_heartbeats(conn: &mut Conn<'_>) -> Result<Vec<HeartbeatRow>> {
    let sql = format!("{HEARTBEAT_COLS} ORDER BY h.name");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(c).await)?)
}

/// The state after a ping or a missed run.
pub struct HeartbeatState {
    pub status: &'static str,
    pub started_at: Option<i64>,
    pub last_ping_at: Option<i64>,
    pub last_ok_at: Option<i64>,
    pub last_duration_ms: Option<i64>,
    pub next_due_at: Option<i64>,
    pub ticket_id: Option<i64>,
}

pub async fn set_heartbeat_state(conn: &mut Conn<'_>, id: i64, s: &HeartbeatState, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE heartbeat SET status = $2, started_at = $3, last_ping_at = $4, last_ok_at = $5,
                 last_duration_ms = $6, next_due_at = $7, ticket_id = $8, updated_at = $9 WHERE id = $1",
        )
        .bind(id)
        .bind(s.status)
        .bind(s.started_at)
        .bind(s.last_ping_at)
        .bind(s.last_ok_at)
        .bind(s.last_duration_ms)
        .bind(s.next_due_at)
        .bind(s.ticket_id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HeartbeatRunRow {
    pub id: i64,
    pub at: i64,
    pub outcome: String,
    pub duration_ms: Option<i64>,
    pub log: String,
    pub ticket_number: Option<String>,
}

pub async fn insert_run(
    conn: &mut Conn<'_>,
    heartbeat_id: i64,
    (outcome, duration_ms, log): (&str, Option<i64>, &str),
    ticket_id: Option<i64>,
    at: i64,
) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO heartbeat_run (heartbeat_id, at, outcome, duration_ms, log, ticket_id)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(heartbeat_id)
        .bind(at)
        .bind(outcome)
        .bind(duration_ms)
        .bind(log)
        .bind(ticket_id)
        .fetch_one(c)
        .await
    })?)
}

/// A heartbeat's runs, newest first, by key.
pub async fn list_runs(
    conn: &mut Conn<'_>,
    heartbeat_id: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<HeartbeatRunRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT r.id, r.at, r.outcome, r.duration_ms, r.log, t.number AS ticket_number
             FROM heartbeat_run r LEFT JOIN ticket t ON t.id = r.ticket_id
             WHERE r.heartbeat_id = $1 AND ($2 IS NULL OR r.id < $2) ORDER BY r.id DESC LIMIT $3",
        )
        .bind(heartbeat_id)
        .bind(before)
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}
