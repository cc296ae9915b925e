//! Single sign-on with OpenID Connect: providers, the provider accounts linked to users, sign-ins
//! on their way through a provider, and what a session needs to sign out at its provider.

use crate::users::{UserRow, user_columns};
use crate::{Conn, Result, with_conn};

/// No `Debug`: the row holds the client secret, which must never reach a log.
#[derive(Clone, sqlx::FromRow)]
pub struct ProviderRow {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub settings: String,
    pub secret: Option<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What an admin sets on a provider.
pub struct ProviderSettings<'a> {
    pub name: &'a str,
    pub position: i64,
    /// The rest of the settings as JSON (validated by the application).
    pub settings: &'a str,
    pub secret: Option<&'a str>,
    pub enabled: bool,
}

macro_rules! columns {
    () => {
        "id, name, position, settings, secret, enabled, created_at, updated_at"
    };
}

pub async fn insert_provider(conn: &mut Conn<'_>, p: &ProviderSettings<'_>, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO sso_provider (name, position, settings, secret, enabled, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(p.name)
        .bind(p.position)
        .bind(p.settings)
        .bind(p.secret)
        .bind(p.enabled)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn update_provider(conn: &mut Conn<'_>, id: i64, p: &ProviderSettings<'_>, now: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE sso_provider SET name = $2, position = $3, settings = $4, secret = $5, enabled = $6,
                 updated_at = $7
             WHERE id = $1",
        )
        .bind(id)
        .bind(p.name)
        .bind(p.position)
        .bind(p.settings)
        .bind(p.secret)
        .bind(p.enabled)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Removes a provider with its links and pending sign-ins; its users stay (with their other ways
/// to sign in).
pub async fn delete_provider(conn: &mut Conn<'_>, id: i64) -> Result<bool> {
    for sql in ["DELETE FROM sso_identity WHERE provider_id = $1", "DELETE FROM sso_login WHERE provider_id = $1"] {
        with_conn!(conn, |c| sqlx::query(sql).bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    }
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM sso_provider WHERE id = $1").bind(id).execute(c).await.map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

pub async fn get_provider(conn: &mut Conn<'_>, id: i64) -> Result<ProviderRow> {
    let sql = concat!("SELECT ", columns!(), " FROM sso_provider WHERE id = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sql).bind(id).fetch_one(c).await)?)
}

pub async fn find_provider(conn: &mut Conn<'_>, name: &str) -> Result<Option<ProviderRow>> {
    let sql = concat!("SELECT ", columns!(), " FROM sso_provider WHERE name = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sql).bind(name).fetch_optional(c).await)?)
}

/// Every provider in sign-in page order.
pub async fn list_providers(conn: &mut Conn<'_>) -> Result<Vec<ProviderRow>> {
    let sql = concat!("SELECT ", columns!(), " FROM sso_provider ORDER BY position, id");
    Ok(with_conn!(conn, |c| sqlx::query_as(sql).fetch_all(c).await)?)
}

/// The user a provider account is linked to.
pub async fn linked_user(conn: &mut Conn<'_>, provider_id: i64, subject: &str) -> Result<Option<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT user_id FROM sso_identity WHERE provider_id = $1 AND subject = $2")
            .bind(provider_id)
            .bind(subject)
            .fetch_optional(c)
            .await
    })?)
}

/// Links a provider account to a user (or notes another sign-in through it).
pub async fn link(conn: &mut Conn<'_>, provider_id: i64, subject: &str, user_id: i64, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO sso_identity (provider_id, subject, user_id, created_at, last_sign_in_at)
             VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (provider_id, subject) DO UPDATE SET user_id = $3, last_sign_in_at = $4",
        )
        .bind(provider_id)
        .bind(subject)
        .bind(user_id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// How many users a provider is linked to.
pub async fn count_linked(conn: &mut Conn<'_>, provider_id: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM sso_identity WHERE provider_id = $1")
            .bind(provider_id)
            .fetch_one(c)
            .await
    })?)
}

/// The user a directory sync keyed by this stable id (`objectGUID`, `entryUUID`).
pub async fn user_by_external_id(conn: &mut Conn<'_>, external_id: &str) -> Result<Option<UserRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM app_user WHERE external_id = $1"))
            .bind(external_id)
            .fetch_optional(c)
            .await
    })?)
}

/// A sign-in sent to a provider. No `Debug`: it holds the nonce and PKCE verifier.
#[derive(Clone, sqlx::FromRow)]
pub struct LoginRow {
    pub state_hash: String,
    pub provider_id: i64,
    pub nonce: String,
    pub pkce_verifier: String,
    pub redirect_url: String,
    pub return_to: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert_login(conn: &mut Conn<'_>, l: &LoginRow) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO sso_login (state_hash, provider_id, nonce, pkce_verifier, redirect_url, return_to,
                 created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&l.state_hash)
        .bind(l.provider_id)
        .bind(&l.nonce)
        .bind(&l.pkce_verifier)
        .bind(&l.redirect_url)
        .bind(&l.return_to)
        .bind(l.created_at)
        .bind(l.expires_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Takes a pending sign-in: it is removed, so a state works once.
pub async fn take_login(conn: &mut Conn<'_>, state_hash: &str) -> Result<Option<LoginRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "DELETE FROM sso_login WHERE state_hash = $1
             RETURNING state_hash, provider_id, nonce, pkce_verifier, redirect_url, return_to, created_at, expires_at",
        )
        .bind(state_hash)
        .fetch_optional(c)
        .await
    })?)
}

pub async fn delete_expired_logins(conn: &mut Conn<'_>, now: i64) -> Result<u64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query("DELETE FROM sso_login WHERE expires_at <= $1")
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?)
}

/// What holds a single sign-on's provider and ID token: a session, or a sign-in waiting for its
/// second factor.
#[derive(Debug, Clone, Copy)]
pub enum Holder {
    Session,
    Challenge,
}

/// Notes on a session or waiting sign-in (by the SHA-256 of its secret) which provider signed it
/// in, with the ID token that signs it out there.
pub async fn set_provider(
    conn: &mut Conn<'_>,
    holder: Holder,
    id_hash: &str,
    provider_id: i64,
    id_token: &str,
) -> Result<()> {
    let sql = match holder {
        Holder::Session => "UPDATE web_session SET sso_provider_id = $2, sso_id_token = $3 WHERE id_hash = $1",
        Holder::Challenge => "UPDATE signin_challenge SET sso_provider_id = $2, sso_id_token = $3 WHERE id_hash = $1",
    };
    with_conn!(conn, |c| {
        sqlx::query(sql).bind(id_hash).bind(provider_id).bind(id_token).execute(c).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The provider and ID token a session or waiting sign-in was signed in with, if any.
pub async fn provider_of(conn: &mut Conn<'_>, holder: Holder, id_hash: &str) -> Result<Option<(i64, String)>> {
    let sql = match holder {
        Holder::Session => "SELECT sso_provider_id, sso_id_token FROM web_session WHERE id_hash = $1",
        Holder::Challenge => "SELECT sso_provider_id, sso_id_token FROM signin_challenge WHERE id_hash = $1",
    };
    let row: Option<(Option<i64>, Option<String>)> =
        with_conn!(conn, |c| sqlx::query_as(sql).bind(id_hash).fetch_optional(c).await)?;
    Ok(row.and_then(|(p, t)| p.zip(t)))
}
