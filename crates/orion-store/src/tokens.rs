//! API tokens; only a SHA-256 of each secret is stored.

use crate::{Conn, Result, with_conn};

/// What a presented token resolves to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenOwner {
    pub token_id: i64,
    pub user_id: i64,
    pub role: String,
    pub user_active: bool,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub async fn insert(
    conn: &mut Conn<'_>,
    user_id: i64,
    name: &str,
    token_hash: &str,
    expires_at: Option<i64>,
    now: i64,
) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO api_token (user_id, name, token_hash, expires_at, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(expires_at)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn find_owner(conn: &mut Conn<'_>, token_hash: &str) -> Result<Option<TokenOwner>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT t.id AS token_id, t.user_id, u.role, u.active AS user_active,
                    t.last_used_at, t.expires_at, t.revoked_at
             FROM api_token t JOIN app_user u ON u.id = t.user_id WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(c)
        .await
    })?)
}

pub async fn touch(conn: &mut Conn<'_>, token_id: i64, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE api_token SET last_used_at = $2 WHERE id = $1")
            .bind(token_id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn list_for_user(conn: &mut Conn<'_>, user_id: i64) -> Result<Vec<TokenRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT id, user_id, name, created_at, last_used_at, expires_at, revoked_at
             FROM api_token WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(c)
        .await
    })?)
}

/// What revoking a token found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// There is no such token (for this owner).
    Missing,
    /// It was live and is revoked now.
    Now,
    /// It had been revoked before; nothing changed.
    Already,
}

/// Revokes a token of `user_id`.
pub async fn revoke(conn: &mut Conn<'_>, user_id: i64, token_id: i64, now: i64) -> Result<Revoked> {
    let n = with_conn!(conn, |c| {
        sqlx::query("UPDATE api_token SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL")
            .bind(token_id)
            .bind(user_id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    if n > 0 {
        return Ok(Revoked::Now);
    }
    let owner = owner_of(conn, token_id).await?;
    Ok(if owner == Some(user_id) { Revoked::Already } else { Revoked::Missing })
}

/// The owner of a token, revoked or not.
async fn owner_of(conn: &mut Conn<'_>, token_id: i64) -> Result<Option<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT user_id FROM api_token WHERE id = $1").bind(token_id).fetch_optional(c).await
    })?)
}

/// Revokes every live token of a user (deactivated); returns how many.
pub async fn revoke_all_of(conn: &mut Conn<'_>, user_id: i64, now: i64) -> Result<u64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query("UPDATE api_token SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user_id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?)
}

/// A token with its owner, for the admins' list of every token.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenWithOwner {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Every token, newest first, `limit` before id `before` (keyset paging).
pub async fn list_all(conn: &mut Conn<'_>, before: Option<i64>, limit: i64) -> Result<Vec<TokenWithOwner>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT t.id, t.name, u.email, t.created_at, t.last_used_at, t.revoked_at
             FROM api_token t JOIN app_user u ON u.id = t.user_id WHERE t.id < $1 ORDER BY t.id DESC LIMIT $2",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

/// Revokes any token (admins); returns what it found and the token's owner.
pub async fn revoke_any(conn: &mut Conn<'_>, token_id: i64, now: i64) -> Result<(Revoked, Option<i64>)> {
    let owner: Option<i64> = with_conn!(conn, |c| {
        sqlx::query_scalar(
            "UPDATE api_token SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING user_id",
        )
        .bind(token_id)
        .bind(now)
        .fetch_optional(c)
        .await
    })?;
    if owner.is_some() {
        return Ok((Revoked::Now, owner));
    }
    let owner = owner_of(conn, token_id).await?;
    Ok((if owner.is_some() { Revoked::Already } else { Revoked::Missing }, owner))
}
