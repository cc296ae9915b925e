//! Scheduled reports: a report's filters mailed on a schedule, and their runs.

use crate::sql::Sql;
use crate::{Conn, Result, StoreError, with_conn};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ScheduleRow {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub filters: String,
    pub frequency: String,
    pub time_zone: String,
    pub hour: i64,
    pub weekday: Option<i64>,
    pub recipients: String,
    pub active: bool,
    pub next_run_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, owner_id, name, filters, frequency, time_zone, hour, weekday, recipients, active,
    next_run_at, created_at, updated_at";

/// Writes a new schedule (`row.id` ignored); returns its id.
pub async fn insert(conn: &mut Conn<'_>, r: &ScheduleRow) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO report_schedule (owner_id, name, filters, frequency, time_zone, hour, weekday, recipients,
                 active, next_run_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(r.owner_id)
        .bind(&r.name)
        .bind(&r.filters)
        .bind(&r.frequency)
        .bind(&r.time_zone)
        .bind(r.hour)
        .bind(r.weekday)
        .bind(&r.recipients)
        .bind(r.active)
        .bind(r.next_run_at)
        .bind(r.created_at)
        .bind(r.updated_at)
        .fetch_one(c)
        .await
    })?)
}

pub async fn update(conn: &mut Conn<'_>, r: &ScheduleRow) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE report_schedule SET name = $2, filters = $3, frequency = $4, time_zone = $5, hour = $6,
                 weekday = $7, recipients = $8, active = $9, next_run_at = $10, updated_at = $11 WHERE id = $1",
        )
        .bind(r.id)
        .bind(&r.name)
        .bind(&r.filters)
        .bind(&r.frequency)
        .bind(&r.time_zone)
        .bind(r.hour)
        .bind(r.weekday)
        .bind(&r.recipients)
        .bind(r.active)
        .bind(r.next_run_at)
        .bind(r.updated_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<ScheduleRow> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM report_schedule WHERE id = "));
    sql.bind_i64(id);
    crate::fetch_all_sql!(conn, ScheduleRow, &sql)?.into_iter().next().ok_or(StoreError::NotFound)
}

/// One owner's schedules, or (`None`) everyone's, oldest first (tens per person, not millions;
/// capped at `limit`).
pub async fn list(conn: &mut Conn<'_>, owner: Option<i64>, limit: i64) -> Result<Vec<ScheduleRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM report_schedule WHERE 1 = 1"));
    if let Some(o) = owner {
        sql.push(" AND owner_id = ").bind_i64(o);
    }
    sql.push(" ORDER BY id LIMIT ").bind_i64(limit);
    Ok(crate::fetch_all_sql!(conn, ScheduleRow, &sql)?)
}

pub async fn delete(conn: &mut Conn<'_>, id: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("DELETE FROM report_run WHERE schedule_id = $1").bind(id).execute(c).await.map(|_| ())
    })?;
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM report_schedule WHERE id = $1").bind(id).execute(c).await.map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RunRow {
    pub id: i64,
    pub schedule_id: i64,
    pub ran_at: i64,
    pub period_from: i64,
    pub period_to: i64,
    pub recipients: String,
    pub outcome: String,
}

pub async fn add_run(conn: &mut Conn<'_>, r: &RunRow) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO report_run (schedule_id, ran_at, period_from, period_to, recipients, outcome)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(r.schedule_id)
        .bind(r.ran_at)
        .bind(r.period_from)
        .bind(r.period_to)
        .bind(&r.recipients)
        .bind(&r.outcome)
        .fetch_one(c)
        .await
    })?)
}

/// A schedule's runs, newest first, before the run `before` (keyset), at most `limit`.
pub async fn runs(conn: &mut Conn<'_>, schedule_id: i64, before: Option<i64>, limit: i64) -> Result<Vec<RunRow>> {
    let mut sql = Sql::new(
        "SELECT id, schedule_id, ran_at, period_from, period_to, recipients, outcome FROM report_run WHERE schedule_id = ",
    );
    sql.bind_i64(schedule_id);
    if let Some(b) = before {
        sql.push(" AND id < ").bind_i64(b);
    }
    sql.push(" ORDER BY id DESC LIMIT ").bind_i64(limit);
    Ok(crate::fetch_all_sql!(conn, RunRow, &sql)?)
}
