//! Two-factor sign-in: TOTP secrets, recovery codes, security keys (WebAuthn) and their ceremonies,
//! and sign-ins waiting for a second factor.

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

/// Removes only the TOTP secret (the user keeps security keys and recovery codes).
pub async fn remove_app(conn: &mut Conn<'_>, user_id: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
            .bind(user_id)
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

/// A registered security key or passkey. No `Debug` needed: the credential is a public key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SecurityKeyRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub credential_id: String,
    /// webauthn-rs's record of the credential (public key, counter), as JSON
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub async fn security_keys(conn: &mut Conn<'_>, user_id: i64) -> Result<Vec<SecurityKeyRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT id, user_id, name, credential_id, credential, created_at, last_used_at
             FROM user_security_key WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(c)
        .await
    })?)
}

pub async fn insert_security_key(
    conn: &mut Conn<'_>,
    user_id: i64,
    name: &str,
    credential_id: &str,
    credential: &str,
    now: i64,
) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO user_security_key (user_id, name, credential_id, credential, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(credential_id)
        .bind(credential)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

/// After a sign-in with the key: its new signature counter, and when.
pub async fn key_used(conn: &mut Conn<'_>, id: i64, credential: &str, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE user_security_key SET credential = $2, last_used_at = $3 WHERE id = $1")
            .bind(id)
            .bind(credential)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Removes one of a user's keys; false when they have none with that id.
pub async fn delete_security_key(conn: &mut Conn<'_>, user_id: i64, id: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM user_security_key WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Removes every key of a user (two-factor sign-in turned off or reset); how many there were.
pub async fn delete_security_keys_of(conn: &mut Conn<'_>, user_id: i64) -> Result<u64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query("DELETE FROM user_security_key WHERE user_id = $1")
            .bind(user_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?)
}

/// Starts (or restarts) a WebAuthn ceremony for a user: `kind` `register` or `authenticate`.
pub async fn put_ceremony(
    conn: &mut Conn<'_>,
    user_id: i64,
    kind: &str,
    state: &str,
    origin: &str,
    expires_at: i64,
) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO webauthn_ceremony (user_id, kind, state, origin, expires_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id, kind) DO UPDATE SET state = $3, origin = $4, expires_at = $5",
        )
        .bind(user_id)
        .bind(kind)
        .bind(state)
        .bind(origin)
        .bind(expires_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Takes a user's ceremony of `kind` (it works once): (state, origin, expires_at).
pub async fn take_ceremony(conn: &mut Conn<'_>, user_id: i64, kind: &str) -> Result<Option<(String, String, i64)>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "DELETE FROM webauthn_ceremony WHERE user_id = $1 AND kind = $2 RETURNING state, origin, expires_at",
        )
        .bind(user_id)
        .bind(kind)
        .fetch_optional(c)
        .await
    })?)
}
