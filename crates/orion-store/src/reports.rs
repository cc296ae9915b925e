//! What the leads' reports read: one outcome row per resolved ticket (written at resolution),
//! the tickets created in a period and the tickets open now. Each read is one index range; the
//! figures are computed by the caller, so a drill-down list and its count come from the same rows.

use crate::{Conn, Result, with_conn};

/// A resolved ticket as the reports measure it (`ticket_outcome`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Outcome {
    pub ticket_id: i64,
    pub kind: String,
    pub channel: String,
    pub priority: i64,
    pub category_id: Option<i64>,
    pub group_id: i64,
    pub tier: i64,
    pub assignee_id: Option<i64>,
    pub visibility_group_id: Option<i64>,
    pub first_tier: i64,
    pub max_tier: i64,
    pub reopen_count: i64,
    pub created_at: i64,
    pub resolved_at: i64,
    pub response_ms: Option<i64>,
    pub resolution_ms: i64,
    pub response_sla: Option<String>,
    pub resolution_sla: Option<String>,
    pub update_sla: Option<String>,
}

/// Writes (or, for a ticket resolved again after a reopen, replaces) a ticket's outcome row.
pub async fn record_outcome(conn: &mut Conn<'_>, o: &Outcome) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO ticket_outcome (ticket_id, kind, channel, priority, category_id, group_id, tier,
                 assignee_id, visibility_group_id, first_tier, max_tier, reopen_count, created_at, resolved_at,
                 response_ms, resolution_ms, response_sla, resolution_sla, update_sla)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
             ON CONFLICT (ticket_id) DO UPDATE SET kind = excluded.kind, channel = excluded.channel,
                 priority = excluded.priority, category_id = excluded.category_id, group_id = excluded.group_id,
                 tier = excluded.tier, assignee_id = excluded.assignee_id,
                 visibility_group_id = excluded.visibility_group_id, first_tier = excluded.first_tier,
                 max_tier = excluded.max_tier, reopen_count = excluded.reopen_count,
                 created_at = excluded.created_at, resolved_at = excluded.resolved_at,
                 response_ms = excluded.response_ms, resolution_ms = excluded.resolution_ms,
                 response_sla = excluded.response_sla, resolution_sla = excluded.resolution_sla,
                 update_sla = excluded.update_sla",
        )
        .bind(o.ticket_id)
        .bind(&o.kind)
        .bind(&o.channel)
        .bind(o.priority)
        .bind(o.category_id)
        .bind(o.group_id)
        .bind(o.tier)
        .bind(o.assignee_id)
        .bind(o.visibility_group_id)
        .bind(o.first_tier)
        .bind(o.max_tier)
        .bind(o.reopen_count)
        .bind(o.created_at)
        .bind(o.resolved_at)
        .bind(o.response_ms)
        .bind(o.resolution_ms)
        .bind(&o.response_sla)
        .bind(&o.resolution_sla)
        .bind(&o.update_sla)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// The outcome rows of the tickets resolved in `[from, to)`, oldest resolution first.
pub async fn outcomes(conn: &mut Conn<'_>, from: i64, to: i64) -> Result<Vec<Outcome>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT ticket_id, kind, channel, priority, category_id, group_id, tier, assignee_id,
                    visibility_group_id, first_tier, max_tier, reopen_count, created_at, resolved_at,
                    response_ms, resolution_ms, response_sla, resolution_sla, update_sla
             FROM ticket_outcome WHERE resolved_at >= $1 AND resolved_at < $2 ORDER BY resolved_at, ticket_id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(c)
        .await
    })?)
}

/// A ticket as the created and backlog figures see it: its fields now.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Logged {
    pub id: i64,
    pub kind: String,
    pub channel: String,
    pub priority: i64,
    pub category_id: Option<i64>,
    pub group_id: i64,
    pub assignee_id: Option<i64>,
    pub visibility_group_id: Option<i64>,
    pub state: String,
    pub created_at: i64,
}

const LOGGED: &str = "SELECT id, kind, channel, priority, category_id, assignment_group_id AS group_id, assignee_id,
        visibility_group_id, state, created_at FROM ticket";

/// The incidents and service requests created in `[from, to)` (one range of the
/// (kind, created_at) index per kind).
pub async fn created(conn: &mut Conn<'_>, from: i64, to: i64) -> Result<Vec<Logged>> {
    let sql =
        format!("{LOGGED} WHERE kind IN ('incident', 'service_request') AND created_at >= $1 AND created_at < $2");
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(from).bind(to).fetch_all(c).await
    })?)
}

/// The incidents and service requests open now (new, assigned, in progress or pending).
pub async fn open(conn: &mut Conn<'_>) -> Result<Vec<Logged>> {
    let sql = format!(
        "{LOGGED} WHERE state IN ('new', 'assigned', 'in_progress', 'pending') AND kind IN ('incident', 'service_request')"
    );
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(c).await)?)
}

/// Resolved tickets without an outcome row (resolved before reports existed), oldest first.
pub async fn missing_outcomes(conn: &mut Conn<'_>, limit: i64) -> Result<Vec<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT t.id FROM ticket t WHERE t.resolved_at IS NOT NULL AND t.state IN ('resolved', 'closed')
               AND NOT EXISTS (SELECT 1 FROM ticket_outcome o WHERE o.ticket_id = t.id)
             ORDER BY t.id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

/// The SLA clocks' states of one ticket: (target, state).
pub async fn clock_states(conn: &mut Conn<'_>, ticket_id: i64) -> Result<Vec<(String, String)>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT target, state FROM ticket_sla WHERE ticket_id = $1").bind(ticket_id).fetch_all(c).await
    })?)
}

/// The tickets with an SLA target breached, or running past its due time, at `now` (open or not:
/// the caller keeps the open ones).
pub async fn overdue(conn: &mut Conn<'_>, now: i64) -> Result<Vec<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT ticket_id FROM ticket_sla WHERE state = 'breached'
             UNION SELECT ticket_id FROM ticket_sla WHERE state = 'running' AND due_at < $1",
        )
        .bind(now)
        .fetch_all(c)
        .await
    })?)
}

/// Follows a ticket's restriction onto its outcome row (if it has one).
pub async fn restrict_outcome(conn: &mut Conn<'_>, ticket_id: i64, group_id: Option<i64>) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE ticket_outcome SET visibility_group_id = $2 WHERE ticket_id = $1")
            .bind(ticket_id)
            .bind(group_id)
            .execute(c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}
