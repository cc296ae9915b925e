//! The durable job queue: rows claimed with leases, safe with many nodes.
//!
//! Claiming a job moves its `run_at` to the end of the lease, so a job whose
//! worker died is simply due again later; no sweeper is needed. Delivery is at
//! least once: handlers must be idempotent. Finished jobs are deleted; jobs out
//! of attempts are kept as `dead` with their last error.

use crate::sql::Sql;
use crate::{Conn, Result, with_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub run_at: i64,
    pub dedupe_key: Option<String>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub locked_by: Option<String>,
    pub last_error: Option<String>,
}

pub struct NewJob<'a> {
    pub kind: &'a str,
    /// JSON text
    pub payload: &'a str,
    pub run_at: i64,
    /// At most one pending job per key (e.g. `sla:INC0000042:resolution`).
    pub dedupe_key: Option<&'a str>,
    pub max_attempts: i64,
}

/// Queues a job; `None` when a pending job with the same dedupe key exists.
pub async fn enqueue(conn: &mut Conn<'_>, j: &NewJob<'_>, now: i64) -> Result<Option<i64>> {
    conn.queued_job(j.run_at <= now);
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO job (kind, payload, run_at, dedupe_key, max_attempts, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (dedupe_key) WHERE state = 'pending' DO NOTHING
             RETURNING id",
        )
        .bind(j.kind)
        .bind(j.payload)
        .bind(j.run_at)
        .bind(j.dedupe_key)
        .bind(j.max_attempts)
        .bind(now)
        .fetch_optional(c)
        .await
    })?)
}

/// Queues a job, or moves the pending job with the same dedupe key to the new
/// time and payload (timers that are re-planned, e.g. an SLA check after a pause).
pub async fn schedule(conn: &mut Conn<'_>, j: &NewJob<'_>, dedupe_key: &str, now: i64) -> Result<()> {
    let mut sql = Sql::default();
    push_schedule(conn, &mut sql, j, dedupe_key, now);
    crate::execute_sql!(conn, &sql)?;
    Ok(())
}

/// Appends the statement [`schedule`] runs to `sql`, with placeholders numbered after the ones
/// already there, for a repository that writes it in the same round trip as its own rows (after
/// `;` on SQLite, as the main statement after its `WITH` on PostgreSQL).
pub(crate) fn push_schedule(conn: &mut Conn<'_>, sql: &mut Sql, j: &NewJob<'_>, dedupe_key: &str, now: i64) {
    conn.queued_job(j.run_at <= now);
    sql.push("INSERT INTO job (kind, payload, run_at, dedupe_key, max_attempts, created_at) VALUES (");
    sql.bind_text(j.kind).push(", ");
    sql.bind_text(j.payload).push(", ");
    sql.bind_i64(j.run_at).push(", ");
    sql.bind_text(dedupe_key).push(", ");
    sql.bind_i64(j.max_attempts).push(", ");
    sql.bind_i64(now).push(
        ") ON CONFLICT (dedupe_key) WHERE state = 'pending'
         DO UPDATE SET run_at = excluded.run_at, payload = excluded.payload, attempts = 0, locked_by = NULL",
    );
}

const CLAIM_SQLITE: &str = "UPDATE job SET run_at = $2, locked_by = $1, attempts = attempts + 1
    WHERE id IN (SELECT id FROM job WHERE state = 'pending' AND run_at <= $3 ORDER BY run_at, id LIMIT $4)
    RETURNING id, kind, payload, run_at, dedupe_key, attempts, max_attempts, locked_by, last_error";

const CLAIM_POSTGRES: &str = "UPDATE job SET run_at = $2, locked_by = $1, attempts = attempts + 1
    WHERE id IN (SELECT id FROM job WHERE state = 'pending' AND run_at <= $3 ORDER BY run_at, id LIMIT $4
                 FOR UPDATE SKIP LOCKED)
    RETURNING id, kind, payload, run_at, dedupe_key, attempts, max_attempts, locked_by, last_error";

/// Claims up to `limit` due jobs for `worker` for `lease_ms`, oldest due first.
pub async fn claim(conn: &mut Conn<'_>, worker: &str, now: i64, lease_ms: i64, limit: i64) -> Result<Vec<JobRow>> {
    let sql = match conn.engine() {
        crate::Engine::Sqlite => CLAIM_SQLITE,
        crate::Engine::Postgres => CLAIM_POSTGRES,
    };
    let mut rows: Vec<JobRow> = with_conn!(conn, |c| {
        sqlx::query_as(sql).bind(worker).bind(now + lease_ms).bind(now).bind(limit).fetch_all(c).await
    })?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Deletes the finished jobs `ids` still claimed by `worker`, in one statement; how many.
pub async fn complete_all(conn: &mut Conn<'_>, ids: &[i64], worker: &str) -> Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut sql = Sql::new("DELETE FROM job WHERE state = 'pending' AND locked_by = ");
    sql.bind_text(worker).push(" AND id IN ").bind_list(ids, crate::sql::Bind::I64);
    Ok(crate::execute_sql!(conn, &sql)?)
}

/// Gives a claimed job back unrun: due at `now`, the claim's attempt not counted.
pub async fn release(conn: &mut Conn<'_>, id: i64, worker: &str, now: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE job SET locked_by = NULL, run_at = $3, attempts = attempts - 1
             WHERE id = $1 AND locked_by = $2 AND state = 'pending'",
        )
        .bind(id)
        .bind(worker)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// Records a failure: due again at `retry_at`, or dead when `retry_at` is `None`.
pub async fn fail(conn: &mut Conn<'_>, id: i64, worker: &str, error: &str, retry_at: Option<i64>) -> Result<bool> {
    let error: String = error.chars().take(2000).collect();
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE job SET locked_by = NULL, last_error = $3,
                 run_at = COALESCE($4, run_at), state = CASE WHEN $4 IS NULL THEN 'dead' ELSE 'pending' END
             WHERE id = $1 AND locked_by = $2 AND state = 'pending'",
        )
        .bind(id)
        .bind(worker)
        .bind(&error)
        .bind(retry_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// When the next pending job is due (claimed ones count at their lease's end).
pub async fn next_due(conn: &mut Conn<'_>) -> Result<Option<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT MIN(run_at) FROM job WHERE state = 'pending'").fetch_one(c).await
    })?)
}

/// Pending jobs (the queue depth metric).
pub async fn count_pending(conn: &mut Conn<'_>) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM job WHERE state = 'pending'").fetch_one(c).await
    })?)
}

/// Dead jobs, newest first, for an admin.
pub async fn list_dead(conn: &mut Conn<'_>, limit: i64) -> Result<Vec<JobRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT id, kind, payload, run_at, dedupe_key, attempts, max_attempts, locked_by, last_error
             FROM job WHERE state = 'dead' ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}
