//! Changes as stored: the change row, its approval rounds, tasks, the incidents it caused,
//! standard-change templates and freeze periods.

use super::*;
use crate::{Conn, Result, with_conn};

// ---------------------------------------------------------------- changes

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ChangeRow {
    pub ticket_id: i64,
    pub change_type: String,
    pub phase: String,
    pub template_id: Option<i64>,
    pub template_name: Option<String>,
    pub reason: String,
    pub implementation_plan: String,
    pub backout_plan: String,
    pub test_plan: String,
    pub risk_impact: Option<i64>,
    pub risk_complexity: Option<i64>,
    pub risk_experience: Option<i64>,
    pub risk_backout: Option<i64>,
    pub risk: Option<String>,
    pub risk_override_reason: Option<String>,
    pub planned_start: Option<i64>,
    pub planned_end: Option<i64>,
    pub actual_start: Option<i64>,
    pub actual_end: Option<i64>,
    pub implementer_group_id: Option<i64>,
    pub implementer_group_name: Option<String>,
    pub approval_rule: String,
    pub cab_group_id: Option<i64>,
    pub cab_group_name: Option<String>,
    pub approval_round: i64,
    pub approval: Option<String>,
    pub outcome: Option<String>,
    pub outcome_notes: String,
    pub version: i64,
}

const CHANGE_COLS: &str =
    "SELECT r.ticket_id, r.change_type, r.phase, r.template_id, tp.name AS template_name, r.reason,
        r.implementation_plan, r.backout_plan, r.test_plan, r.risk_impact, r.risk_complexity, r.risk_experience,
        r.risk_backout, r.risk, r.risk_override_reason, r.planned_start, r.planned_end, r.actual_start, r.actual_end,
        r.implementer_group_id, ig.name AS implementer_group_name, r.approval_rule, r.cab_group_id,
        cg.name AS cab_group_name, r.approval_round, r.approval, r.outcome, r.outcome_notes, r.version
     FROM change_request r LEFT JOIN change_template tp ON tp.id = r.template_id
     LEFT JOIN agent_group ig ON ig.id = r.implementer_group_id LEFT JOIN agent_group cg ON cg.id = r.cab_group_id";

pub async fn insert_change(conn: &mut Conn<'_>, r: &ChangeRow) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO change_request (ticket_id, change_type, phase, template_id, reason, implementation_plan,
                 backout_plan, test_plan, risk_impact, risk_complexity, risk_experience, risk_backout, risk,
                 risk_override_reason, planned_start, planned_end, implementer_group_id, approval_rule, cab_group_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        )
        .bind(r.ticket_id)
        .bind(&r.change_type)
        .bind(&r.phase)
        .bind(r.template_id)
        .bind(&r.reason)
        .bind(&r.implementation_plan)
        .bind(&r.backout_plan)
        .bind(&r.test_plan)
        .bind(r.risk_impact)
        .bind(r.risk_complexity)
        .bind(r.risk_experience)
        .bind(r.risk_backout)
        .bind(&r.risk)
        .bind(&r.risk_override_reason)
        .bind(r.planned_start)
        .bind(r.planned_end)
        .bind(r.implementer_group_id)
        .bind(&r.approval_rule)
        .bind(r.cab_group_id)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

pub async fn get_change(conn: &mut Conn<'_>, ticket_id: i64) -> Result<ChangeRow> {
    let sql = format!("{CHANGE_COLS} WHERE r.ticket_id = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(ticket_id).fetch_one(c).await)?)
}

pub async fn get_changes(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<ChangeRow>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let mut sql = crate::sql::Sql::new(&format!("{CHANGE_COLS} WHERE r.ticket_id IN "));
        sql.bind_list(chunk, crate::sql::Bind::I64);
        out.extend(crate::fetch_all_sql!(conn, ChangeRow, &sql)?);
    }
    Ok(out)
}

/// Writes a change's own fields if it is still at `r.version`.
pub async fn update_change(conn: &mut Conn<'_>, r: &ChangeRow) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE change_request SET phase = $2, reason = $3, implementation_plan = $4, backout_plan = $5,
                 test_plan = $6, risk_impact = $7, risk_complexity = $8, risk_experience = $9, risk_backout = $10,
                 risk = $11, risk_override_reason = $12, planned_start = $13, planned_end = $14, actual_start = $15,
                 actual_end = $16, implementer_group_id = $17, approval_rule = $18, cab_group_id = $19,
                 approval_round = $20, approval = $21, outcome = $22, outcome_notes = $23, version = version + 1
             WHERE ticket_id = $1 AND version = $24",
        )
        .bind(r.ticket_id)
        .bind(&r.phase)
        .bind(&r.reason)
        .bind(&r.implementation_plan)
        .bind(&r.backout_plan)
        .bind(&r.test_plan)
        .bind(r.risk_impact)
        .bind(r.risk_complexity)
        .bind(r.risk_experience)
        .bind(r.risk_backout)
        .bind(&r.risk)
        .bind(&r.risk_override_reason)
        .bind(r.planned_start)
        .bind(r.planned_end)
        .bind(r.actual_start)
        .bind(r.actual_end)
        .bind(r.implementer_group_id)
        .bind(&r.approval_rule)
        .bind(r.cab_group_id)
        .bind(r.approval_round)
        .bind(&r.approval)
        .bind(&r.outcome)
        .bind(&r.outcome_notes)
        .bind(r.version)
        .execute(c)
        .await
        .map(|x| x.rows_affected())
    })?;
    Ok(n == 1)
}

/// The longest a change may be planned for; the calendar relies on it to read by start only.
pub const MAX_CHANGE_MS: i64 = 31 * 86_400_000;

/// Planned changes (not drafts, not cancelled) whose period meets `[from, to)`, by start.
pub async fn calendar(conn: &mut Conn<'_>, from: i64, to: i64, limit: i64) -> Result<Vec<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT ticket_id FROM change_request
             WHERE planned_start IS NOT NULL AND planned_start >= $1 AND planned_start < $2 AND planned_end > $3
               AND phase NOT IN ('draft', 'cancelled')
             ORDER BY planned_start, ticket_id LIMIT $4",
        )
        .bind(from - MAX_CHANGE_MS)
        .bind(to)
        .bind(from)
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

// ---------------------------------------------------------------- approvals

// Who is asked and what they decided is `crate::approvals`, which changes share with catalog
// requests; what is a change's alone is here.

/// Forgets the approvers nominated before approval was asked (round 0).
pub async fn clear_nominees(conn: &mut Conn<'_>, change_id: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("DELETE FROM approval WHERE ticket_id = $1 AND round = 0")
            .bind(change_id)
            .execute(c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// The changes waiting for `user_id`'s decision in their current round, oldest first.
pub async fn awaiting(conn: &mut Conn<'_>, user_id: i64, limit: i64) -> Result<Vec<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT a.ticket_id FROM approval a JOIN change_request r ON r.ticket_id = a.ticket_id
             WHERE a.user_id = $1 AND a.decision IS NULL AND a.round = r.approval_round AND r.approval = 'pending'
               AND r.phase NOT IN ('cancelled', 'closed', 'failed')
             ORDER BY a.ticket_id LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

// ---------------------------------------------------------------- tasks

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskRow {
    pub id: i64,
    pub change_id: i64,
    pub title: String,
    pub assignee_id: Option<i64>,
    pub assignee_email: Option<String>,
    pub done_at: Option<i64>,
    pub done_by: Option<i64>,
    pub notes: String,
    pub created_at: i64,
}

pub async fn insert_task(
    conn: &mut Conn<'_>,
    change_id: i64,
    title: &str,
    assignee_id: Option<i64>,
    now: i64,
) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO change_task (change_id, title, assignee_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(change_id)
        .bind(title)
        .bind(assignee_id)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn tasks_of(conn: &mut Conn<'_>, change_id: i64) -> Result<Vec<TaskRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT k.id, k.change_id, k.title, k.assignee_id, u.email AS assignee_email, k.done_at, k.done_by,
                    k.notes, k.created_at
             FROM change_task k LEFT JOIN app_user u ON u.id = k.assignee_id
             WHERE k.change_id = $1 ORDER BY k.id LIMIT 500",
        )
        .bind(change_id)
        .fetch_all(c)
        .await
    })?)
}

/// Marks an open task of a change done; `NotFound` if there is no such open task.
pub async fn complete_task(
    conn: &mut Conn<'_>,
    change_id: i64,
    task_id: i64,
    by: i64,
    notes: &str,
    now: i64,
) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE change_task SET done_at = $3, done_by = $4, notes = $5
             WHERE id = $1 AND change_id = $2 AND done_at IS NULL",
        )
        .bind(task_id)
        .bind(change_id)
        .bind(now)
        .bind(by)
        .bind(notes)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    one_row(n)
}

// ---------------------------------------------------------------- incidents caused by changes

/// Records that a change caused an incident; `Ok(false)` if it already was.
pub async fn link_caused(conn: &mut Conn<'_>, incident_id: i64, change_id: i64, by: i64, now: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO change_incident (incident_id, change_id, linked_by, linked_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (incident_id, change_id) DO NOTHING",
        )
        .bind(incident_id)
        .bind(change_id)
        .bind(by)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// The incidents a change caused.
pub async fn caused_by(conn: &mut Conn<'_>, change_id: i64) -> Result<Vec<LinkedRow>> {
    linked_rows(
        conn,
        "change_incident l JOIN ticket t ON t.id = l.incident_id WHERE l.change_id = $1",
        "l.incident_id",
        1000,
        change_id,
    )
    .await
}

/// The changes an incident was caused by.
pub async fn causes_of(conn: &mut Conn<'_>, incident_id: i64) -> Result<Vec<LinkedRow>> {
    linked_rows(
        conn,
        "change_incident l JOIN ticket t ON t.id = l.change_id WHERE l.incident_id = $1",
        "l.change_id",
        100,
        incident_id,
    )
    .await
}

// ---------------------------------------------------------------- templates

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TemplateRow {
    pub id: i64,
    pub name: String,
    pub title: String,
    pub description: String,
    pub implementation_plan: String,
    pub backout_plan: String,
    pub test_plan: String,
    pub risk: String,
    pub implementer_group_id: Option<i64>,
    pub implementer_group_name: Option<String>,
    pub active: bool,
    pub created_at: i64,
}

const TEMPLATE_COLS: &str = "SELECT t.id, t.name, t.title, t.description, t.implementation_plan, t.backout_plan,
        t.test_plan, t.risk, t.implementer_group_id, g.name AS implementer_group_name, t.active, t.created_at
     FROM change_template t LEFT JOIN agent_group g ON g.id = t.implementer_group_id";

pub async fn insert_template(conn: &mut Conn<'_>, t: &TemplateRow, by: i64, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO change_template (name, title, description, implementation_plan, backout_plan, test_plan,
                 risk, implementer_group_id, active, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(&t.name)
        .bind(&t.title)
        .bind(&t.description)
        .bind(&t.implementation_plan)
        .bind(&t.backout_plan)
        .bind(&t.test_plan)
        .bind(&t.risk)
        .bind(t.implementer_group_id)
        .bind(t.active)
        .bind(by)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn templates(conn: &mut Conn<'_>) -> Result<Vec<TemplateRow>> {
    let sql = format!("{TEMPLATE_COLS} ORDER BY t.name LIMIT 1000");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(c).await)?)
}

pub async fn find_template(conn: &mut Conn<'_>, name: &str) -> Result<Option<TemplateRow>> {
    let sql = format!("{TEMPLATE_COLS} WHERE t.name = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(name).fetch_optional(c).await)?)
}

pub async fn set_template_active(conn: &mut Conn<'_>, id: i64, active: bool) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query("UPDATE change_template SET active = $2 WHERE id = $1")
            .bind(id)
            .bind(active)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    one_row(n)
}

// ---------------------------------------------------------------- freeze periods

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FreezeRow {
    pub id: i64,
    pub name: String,
    pub reason: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub created_at: i64,
}

pub async fn insert_freeze(
    conn: &mut Conn<'_>,
    name: &str,
    reason: &str,
    (starts_at, ends_at): (i64, i64),
    by: i64,
    now: i64,
) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO freeze_period (name, reason, starts_at, ends_at, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(name)
        .bind(reason)
        .bind(starts_at)
        .bind(ends_at)
        .bind(by)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

/// Freeze periods that end after `after`, by start (at most 1,000).
pub async fn freezes_ending_after(conn: &mut Conn<'_>, after: i64) -> Result<Vec<FreezeRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT id, name, reason, starts_at, ends_at, created_at FROM freeze_period
             WHERE ends_at > $1 ORDER BY starts_at, id LIMIT 1000",
        )
        .bind(after)
        .fetch_all(c)
        .await
    })?)
}

pub async fn delete_freeze(conn: &mut Conn<'_>, id: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM freeze_period WHERE id = $1").bind(id).execute(c).await.map(|r| r.rows_affected())
    })?;
    one_row(n)
}
