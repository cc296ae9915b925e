//! Directory sources (LDAP / Active Directory), the log of their sync runs, and the users they own.

use crate::users::{UserRow, user_columns};
use crate::{Conn, Result, with_conn};

/// No `Debug`: the row holds the bind secret, which must never reach a log.
#[derive(Clone, sqlx::FromRow)]
pub struct SourceRow {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub settings: String,
    pub secret: Option<String>,
    pub sync_minutes: i64,
    pub enabled: bool,
    pub lease_owner: Option<String>,
    pub lease_until: i64,
    pub next_run_at: i64,
    pub last_run_at: Option<i64>,
    pub last_ok_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What an admin sets on a source.
pub struct SourceSettings<'a> {
    pub name: &'a str,
    pub position: i64,
    /// The rest of the settings as JSON (validated by the application).
    pub settings: &'a str,
    pub secret: Option<&'a str>,
    pub sync_minutes: i64,
    pub enabled: bool,
}

pub async fn insert_source(conn: &mut Conn<'_>, s: &SourceSettings<'_>, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO directory_source (name, position, settings, secret, sync_minutes, enabled, next_run_at,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7) RETURNING id",
        )
        .bind(s.name)
        .bind(s.position)
        .bind(s.settings)
        .bind(s.secret)
        .bind(s.sync_minutes)
        .bind(s.enabled)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn update_source(conn: &mut Conn<'_>, id: i64, s: &SourceSettings<'_>, now: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE directory_source SET name = $2, position = $3, settings = $4, secret = $5, sync_minutes = $6,
                 enabled = $7, updated_at = $8, last_error = NULL
             WHERE id = $1",
        )
        .bind(id)
        .bind(s.name)
        .bind(s.position)
        .bind(s.settings)
        .bind(s.secret)
        .bind(s.sync_minutes)
        .bind(s.enabled)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Deletes a source; its users stay (as local accounts, `directory_source_id` cleared).
pub async fn delete_source(conn: &mut Conn<'_>, id: i64) -> Result<bool> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE app_user SET directory_source_id = NULL, external_id = NULL WHERE directory_source_id = $1")
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM directory_source WHERE id = $1").bind(id).execute(c).await.map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

pub async fn get_source(conn: &mut Conn<'_>, id: i64) -> Result<SourceRow> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT * FROM directory_source WHERE id = $1").bind(id).fetch_one(c).await
    })?)
}

pub async fn find_source(conn: &mut Conn<'_>, name: &str) -> Result<Option<SourceRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT * FROM directory_source WHERE name = $1").bind(name).fetch_optional(c).await
    })?)
}

/// Every source in the order they are synchronised (an earlier source wins a conflict).
pub async fn list_sources(conn: &mut Conn<'_>) -> Result<Vec<SourceRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT * FROM directory_source ORDER BY position, id").fetch_all(c).await
    })?)
}

/// Enabled, scheduled sources due for a run whose lease is free.
pub async fn due_sources(conn: &mut Conn<'_>, now: i64) -> Result<Vec<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT id FROM directory_source
             WHERE enabled AND sync_minutes > 0 AND next_run_at <= $1 AND lease_until <= $1
             ORDER BY position, id",
        )
        .bind(now)
        .fetch_all(c)
        .await
    })?)
}

/// When the next scheduled run of any source is due.
pub async fn next_due(conn: &mut Conn<'_>) -> Result<Option<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT MIN(CASE WHEN lease_until > next_run_at THEN lease_until ELSE next_run_at END)
             FROM directory_source WHERE enabled AND sync_minutes > 0",
        )
        .fetch_one(c)
        .await
    })?)
}

/// Takes (or renews) the lease on a source until `until`; false when another node holds it.
pub async fn lease(conn: &mut Conn<'_>, id: i64, owner: &str, now: i64, until: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE directory_source SET lease_owner = $2, lease_until = $4
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

/// Ends a run: releases the lease, schedules the next one and records the outcome.
pub async fn finish(conn: &mut Conn<'_>, id: i64, owner: &str, now: i64, next: i64, error: Option<&str>) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE directory_source SET lease_owner = NULL, lease_until = 0, next_run_at = $4, last_run_at = $3,
                 last_ok_at = CASE WHEN $5 IS NULL THEN $3 ELSE last_ok_at END, last_error = $5
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .bind(now)
        .bind(next)
        .bind(error)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Releases the lease without moving the schedule (after a dry run).
pub async fn release(conn: &mut Conn<'_>, id: i64, owner: &str) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE directory_source SET lease_owner = NULL, lease_until = 0 WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// How many users a source owns.
pub async fn count_users_of(conn: &mut Conn<'_>, source_id: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM app_user WHERE directory_source_id = $1")
            .bind(source_id)
            .fetch_one(c)
            .await
    })?)
}

/// The longest-standing active admin (who opens a scheduled run's hand-over tasks).
pub async fn first_active_admin(conn: &mut Conn<'_>) -> Result<Option<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT MIN(id) FROM app_user WHERE role = 'admin' AND active").fetch_one(c).await
    })?)
}

/// One run of a source, as logged.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: i64,
    pub source_id: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub dry_run: bool,
    pub started_by: String,
    pub outcome: String,
    pub entries: i64,
    pub created: i64,
    pub updated: i64,
    pub disabled: i64,
    pub reenabled: i64,
    pub unchanged: i64,
    pub message: String,
    pub diff: String,
    pub actor_id: Option<i64>,
}

pub async fn insert_run(conn: &mut Conn<'_>, r: &RunRow) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO directory_run (source_id, started_at, finished_at, dry_run, started_by, outcome, entries,
                 created, updated, disabled, reenabled, unchanged, message, diff, actor_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
        )
        .bind(r.source_id)
        .bind(r.started_at)
        .bind(r.finished_at)
        .bind(r.dry_run)
        .bind(&r.started_by)
        .bind(&r.outcome)
        .bind(r.entries)
        .bind(r.created)
        .bind(r.updated)
        .bind(r.disabled)
        .bind(r.reenabled)
        .bind(r.unchanged)
        .bind(&r.message)
        .bind(&r.diff)
        .bind(r.actor_id)
        .fetch_one(c)
        .await
    })?)
}

/// Runs of a source, newest first, before `before` (keyset).
pub async fn list_runs(conn: &mut Conn<'_>, source_id: i64, before: Option<i64>, limit: i64) -> Result<Vec<RunRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT * FROM directory_run WHERE source_id = $1 AND id < $2 ORDER BY source_id DESC, id DESC LIMIT $3",
        )
        .bind(source_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

pub async fn get_run(conn: &mut Conn<'_>, id: i64) -> Result<RunRow> {
    Ok(with_conn!(conn, |c| sqlx::query_as("SELECT * FROM directory_run WHERE id = $1").bind(id).fetch_one(c).await)?)
}

/// A user as a sync compares it with its directory entry.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncedUser {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub external_id: Option<String>,
    pub external_dn: Option<String>,
    pub deactivated_by: Option<String>,
}

/// Every user a source owns.
pub async fn users_of(conn: &mut Conn<'_>, source_id: i64) -> Result<Vec<SyncedUser>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            ", external_id, external_dn, deactivated_by FROM app_user WHERE directory_source_id = $1 ORDER BY id"
        ))
        .bind(source_id)
        .fetch_all(c)
        .await
    })?)
}

/// The accounts with these e-mail addresses, with the source that owns each (to adopt local
/// accounts and to spot addresses another source owns): (email, id, source, break-glass).
pub async fn owners_by_email(conn: &mut Conn<'_>, emails: &[String]) -> Result<Vec<(String, i64, Option<i64>, bool)>> {
    let mut out = Vec::new();
    for chunk in emails.chunks(500) {
        let mut sql =
            crate::sql::Sql::new("SELECT email, id, directory_source_id, break_glass FROM app_user WHERE email IN ");
        sql.bind_list(chunk, crate::sql::Bind::Text);
        out.extend(
            crate::fetch_all_sql!(conn, Owner, &sql)?
                .into_iter()
                .map(|o| (o.email, o.id, o.directory_source_id, o.break_glass)),
        );
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct Owner {
    email: String,
    id: i64,
    directory_source_id: Option<i64>,
    break_glass: bool,
}

/// What a sync writes on a user it owns.
pub struct SyncedFields<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub login: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub department: Option<&'a str>,
    pub title: Option<&'a str>,
    pub location: Option<&'a str>,
    pub external_id: &'a str,
    pub external_dn: &'a str,
}

/// Creates a user from the directory; the caller writes its lookup terms (`users::index_terms_of`,
/// once per batch).
pub async fn insert_synced(conn: &mut Conn<'_>, source_id: i64, f: &SyncedFields<'_>, now: i64) -> Result<i64> {
    let id: i64 = with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO app_user (email, name, role, login, phone, department, title, location, external_id,
                 external_dn, directory_source_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
        )
        .bind(f.email)
        .bind(f.name)
        .bind(f.role)
        .bind(f.login)
        .bind(f.phone)
        .bind(f.department)
        .bind(f.title)
        .bind(f.location)
        .bind(f.external_id)
        .bind(f.external_dn)
        .bind(source_id)
        .bind(now)
        .fetch_one(c)
        .await
    })?;
    Ok(id)
}

/// Writes the directory's values on a user and makes `source_id` its owner (adopting a local
/// account with the same e-mail, or following a rename). The caller rewrites the user's lookup
/// terms (`users::index_terms_of`, once per batch).
pub async fn update_synced(conn: &mut Conn<'_>, id: i64, source_id: i64, f: &SyncedFields<'_>, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE app_user SET email = $2, name = $3, role = $4, login = $5, phone = $6, department = $7,
                 title = $8, location = $9, external_id = $10, external_dn = $11, directory_source_id = $12,
                 updated_at = $13
             WHERE id = $1",
        )
        .bind(id)
        .bind(f.email)
        .bind(f.name)
        .bind(f.role)
        .bind(f.login)
        .bind(f.phone)
        .bind(f.department)
        .bind(f.title)
        .bind(f.location)
        .bind(f.external_id)
        .bind(f.external_dn)
        .bind(source_id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Deactivates a user with the reason; `by` is `directory` or `admin`.
pub async fn deactivate(conn: &mut Conn<'_>, id: i64, reason: &str, by: &str, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE app_user SET active = FALSE, deactivated_at = $2, deactivated_reason = $3, deactivated_by = $4,
                 updated_at = $2
             WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .bind(reason)
        .bind(by)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn reactivate(conn: &mut Conn<'_>, id: i64, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE app_user SET active = TRUE, deactivated_at = NULL, deactivated_reason = NULL,
                 deactivated_by = NULL, updated_at = $2
             WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// (DN, user id) of every user carrying a directory DN, to resolve `manager` references across
/// sources.
pub async fn users_by_dn(conn: &mut Conn<'_>) -> Result<Vec<(String, i64)>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT external_dn, id FROM app_user WHERE external_dn IS NOT NULL").fetch_all(c).await
    })?)
}

/// The open tickets a user is assigned (number, title) and the assets they hold (name, tag),
/// at most `limit` of each: what a hand-over task lists.
pub async fn held_work(
    conn: &mut Conn<'_>,
    user_id: i64,
    limit: i64,
) -> Result<(Vec<(String, String)>, Vec<(String, Option<String>)>)> {
    let tickets = with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT number, title FROM ticket
             WHERE assignee_id = $1 AND state IN ('new', 'assigned', 'in_progress', 'pending') ORDER BY id LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(c)
        .await
    })?;
    let assets = with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT name, asset_tag FROM ci WHERE owner_id = $1 AND state NOT IN ('retired', 'disposed')
             ORDER BY id LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(c)
        .await
    })?;
    Ok((tickets, assets))
}
