//! Web sessions, the security log, account lockout and password reset links.
//! Secrets (session ids, reset links) are stored only as their SHA-256.

use crate::{Conn, Result, with_conn};

/// A session with the user it belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub user_id: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub role: String,
    pub active: bool,
    pub email: String,
    pub name: String,
}

pub async fn insert_session(
    conn: &mut Conn<'_>,
    id_hash: &str,
    user_id: i64,
    now: i64,
    expires_at: i64,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO web_session (id_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent)
             VALUES ($1, $2, $3, $3, $4, $5, $6)",
        )
        .bind(id_hash)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .bind(ip)
        .bind(user_agent)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn find_session(conn: &mut Conn<'_>, id_hash: &str) -> Result<Option<SessionRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT s.user_id, s.created_at, s.last_seen_at, s.expires_at, u.role, u.active, u.email, u.name
             FROM web_session s JOIN app_user u ON u.id = s.user_id WHERE s.id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(c)
        .await
    })?)
}

/// When the session last confirmed a second factor (`None`: no such session).
pub async fn session_second_factor(conn: &mut Conn<'_>, id_hash: &str) -> Result<Option<(i64, Option<i64>)>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT user_id, second_factor_at FROM web_session WHERE id_hash = $1")
            .bind(id_hash)
            .fetch_optional(c)
            .await
    })?)
}

pub async fn set_session_second_factor(conn: &mut Conn<'_>, id_hash: &str, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE web_session SET second_factor_at = $2 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn touch_session(conn: &mut Conn<'_>, id_hash: &str, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE web_session SET last_seen_at = $2 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn delete_session(conn: &mut Conn<'_>, id_hash: &str) -> Result<u64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query("DELETE FROM web_session WHERE id_hash = $1")
            .bind(id_hash)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?)
}

/// Ends every session of a user; returns how many there were.
pub async fn delete_sessions_of(conn: &mut Conn<'_>, user_id: i64) -> Result<u64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query("DELETE FROM web_session WHERE user_id = $1")
            .bind(user_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?)
}

/// Forgets sessions that expired (absolutely) before `now`.
pub async fn delete_expired_sessions(conn: &mut Conn<'_>, now: i64) -> Result<u64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query("DELETE FROM web_session WHERE expires_at <= $1")
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?)
}

pub async fn count_sessions_of(conn: &mut Conn<'_>, user_id: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM web_session WHERE user_id = $1").bind(user_id).fetch_one(c).await
    })?)
}

/// What sign-in needs to know about an account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Credentials {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub active: bool,
    pub password_hash: Option<String>,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    /// The directory source that owns the user (their directory password also signs them in)
    pub directory_source_id: Option<i64>,
    pub external_dn: Option<String>,
    pub break_glass: bool,
}

pub async fn credentials(conn: &mut Conn<'_>, email: &str) -> Result<Option<Credentials>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT id, email, role, active, password_hash, failed_logins, locked_until, directory_source_id,
                 external_dn, break_glass
             FROM app_user WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(c)
        .await
    })?)
}

/// Records one more failed sign-in; returns the count after it.
pub async fn add_failed_login(conn: &mut Conn<'_>, user_id: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "UPDATE app_user SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins",
        )
        .bind(user_id)
        .fetch_one(c)
        .await
    })?)
}

/// Sets (or with `None` lifts) a lockout; lifting also forgets the failures.
pub async fn set_lock(conn: &mut Conn<'_>, user_id: i64, locked_until: Option<i64>) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE app_user SET locked_until = $2,
                 failed_logins = CASE WHEN $2 IS NULL THEN 0 ELSE failed_logins END WHERE id = $1",
        )
        .bind(user_id)
        .bind(locked_until)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A successful sign-in: failures forgotten, lockout gone.
pub async fn clear_failures(conn: &mut Conn<'_>, user_id: i64) -> Result<()> {
    set_lock(conn, user_id, None).await
}

pub async fn set_password_changed(conn: &mut Conn<'_>, user_id: i64, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE app_user SET password_changed_at = $2 WHERE id = $1")
            .bind(user_id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Lockout state of one user, for admin pages.
pub async fn lock_state(conn: &mut Conn<'_>, user_id: i64) -> Result<(i64, Option<i64>)> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT failed_logins, locked_until FROM app_user WHERE id = $1")
            .bind(user_id)
            .fetch_one(c)
            .await
    })?)
}

/// One line of the security log.
pub struct NewEvent<'a> {
    pub kind: &'a str,
    pub user_id: Option<i64>,
    pub email: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub detail: &'a str,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub user_id: Option<i64>,
    pub email: Option<String>,
    pub ip: Option<String>,
    pub detail: String,
}

pub async fn log_event(conn: &mut Conn<'_>, e: &NewEvent<'_>, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("INSERT INTO security_event (at, kind, user_id, email, ip, detail) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(now)
            .bind(e.kind)
            .bind(e.user_id)
            .bind(e.email)
            .bind(e.ip)
            .bind(e.detail)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The newest events first, `limit` of them before id `before` (keyset paging).
pub async fn list_events(conn: &mut Conn<'_>, before: Option<i64>, limit: i64) -> Result<Vec<EventRow>> {
    let before = before.unwrap_or(i64::MAX);
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT id, at, kind, user_id, email, ip, detail FROM security_event
             WHERE id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

/// Failed sign-ins from one address since `since`.
pub async fn failures_from(conn: &mut Conn<'_>, ip: &str, since: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM security_event WHERE kind = 'sign_in_failed' AND ip = $1 AND at >= $2")
            .bind(ip)
            .bind(since)
            .fetch_one(c)
            .await
    })?)
}

pub async fn insert_reset(
    conn: &mut Conn<'_>,
    token_hash: &str,
    user_id: i64,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("INSERT INTO password_reset (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Takes a reset link: returns its user if it is unused and unexpired, and marks it used.
pub async fn take_reset(conn: &mut Conn<'_>, token_hash: &str, now: i64) -> Result<Option<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "UPDATE password_reset SET used_at = $2
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(c)
        .await
    })?)
}

/// Whether a reset link is still usable (without taking it).
pub async fn reset_usable(conn: &mut Conn<'_>, token_hash: &str, now: i64) -> Result<bool> {
    let n: i64 = with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM password_reset WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_one(c)
        .await
    })?;
    Ok(n > 0)
}

/// Voids every open reset link of a user (after the password changed).
pub async fn void_resets_of(conn: &mut Conn<'_>, user_id: i64, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE password_reset SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Reset links of a user created since `since` (to limit how many one can request).
pub async fn resets_since(conn: &mut Conn<'_>, user_id: i64, since: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM password_reset WHERE user_id = $1 AND created_at >= $2")
            .bind(user_id)
            .bind(since)
            .fetch_one(c)
            .await
    })?)
}
