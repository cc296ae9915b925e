//! Two-factor sign-in: TOTP secrets, recovery codes, and sign-ins waiting for a second factor.

use crate::{Conn, Result, with_conn};

/// No `Debug`: the row holds the TOTP secret.
#[derive(Clone, sqlx::FromRow)]
pub struct TotpRow {
    pub user_id: i64,
    pub secret: String,
    pub confirmed_at: Option<i64>,
    pub last_step: i64,
    pub created_at: i64,
}

pub async fn totp(conn: &mut Conn<'_>, user_id: i64) -> Result<Option<TotpRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT user_id, secret, confirmed_at, last_step, created_at FROM user_totp WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(c)
            .await
    })?)
}

/// Starts (or restarts) enrolment with a new, unconfirmed secret.
pub async fn put_pending(conn: &mut Conn<'_>, user_id: i64, secret: &str, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO user_totp (user_id, secret, confirmed_at, last_step, created_at) VALUES ($1, $2, NULL, 0, $3)
             ON CONFLICT (user_id) DO UPDATE SET secret = $2, confirmed_at = NULL, last_step = 0, created_at = $3",
        )
        .bind(user_id)
        .bind(secret)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Records an accepted code: its time step (never accepted again) and, at enrolment, confirmation.
/// False when another request accepted this step or a later one first.
pub async fn accept_step(conn: &mut Conn<'_>, user_id: i64, step: i64, now: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE user_totp SET last_step = $2, confirmed_at = COALESCE(confirmed_at, $3)
             WHERE user_id = $1 AND last_step < $2",
        )
        .bind(user_id)
        .bind(step)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Removes the TOTP secret and every recovery code (turned off, or reset by an admin).
pub async fn remove(conn: &mut Conn<'_>, user_id: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
            .bind(user_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    with_conn!(conn, |c| {
        sqlx::query("DELETE FROM user_recovery_code WHERE user_id = $1")
            .bind(user_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Replaces a user's recovery codes with these (hashes).
pub async fn replace_recovery_codes(conn: &mut Conn<'_>, user_id: i64, hashes: &[String]) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("DELETE FROM user_recovery_code WHERE user_id = $1")
            .bind(user_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    for h in hashes {
        with_conn!(conn, |c| {
            sqlx::query("INSERT INTO user_recovery_code (user_id, code_hash) VALUES ($1, $2)")
                .bind(user_id)
                .bind(h)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Uses a recovery code: true when it was unused (it is used now).
pub async fn use_recovery_code(conn: &mut Conn<'_>, user_id: i64, hash: &str, now: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE user_recovery_code SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

pub async fn recovery_codes_left(conn: &mut Conn<'_>, user_id: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM user_recovery_code WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id)
            .fetch_one(c)
            .await
    })?)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChallengeRow {
    pub user_id: i64,
    pub expires_at: i64,
    pub failures: i64,
}

pub async fn insert_challenge(
    conn: &mut Conn<'_>,
    id_hash: &str,
    user_id: i64,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("INSERT INTO signin_challenge (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(id_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn challenge(conn: &mut Conn<'_>, id_hash: &str) -> Result<Option<ChallengeRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT user_id, expires_at, failures FROM signin_challenge WHERE id_hash = $1")
            .bind(id_hash)
            .fetch_optional(c)
            .await
    })?)
}

/// Counts a wrong code against the challenge; returns the failures so far.
pub async fn challenge_failed(conn: &mut Conn<'_>, id_hash: &str) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("UPDATE signin_challenge SET failures = failures + 1 WHERE id_hash = $1 RETURNING failures")
            .bind(id_hash)
            .fetch_optional(c)
            .await
    })?
    .unwrap_or(i64::MAX))
}

pub async fn delete_challenge(conn: &mut Conn<'_>, id_hash: &str) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("DELETE FROM signin_challenge WHERE id_hash = $1 OR expires_at < 0")
            .bind(id_hash)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Forgets challenges that expired (housekeeping at each sign-in).
pub async fn delete_expired_challenges(conn: &mut Conn<'_>, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("DELETE FROM signin_challenge WHERE expires_at < $1")
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}
