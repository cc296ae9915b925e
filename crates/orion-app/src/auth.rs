//! API tokens and passwords.
//!
//! A token is `orion_` plus 64 hex characters; only its SHA-256 is stored. Valid
//! tokens are cached per node for a few seconds so a read does not cost a token
//! query. Whatever changes who a token speaks for (a revoked token, a deactivated user, a
//! changed role, a new password) clears the cache on this node at once and, on PostgreSQL,
//! tells every other node to clear theirs (`NOTIFY orion_auth`, [`run_auth_listener`]); a
//! node that lost its listening connection clears its cache when it reconnects, and entries
//! never outlive `CACHE_TTL_MS` anyway.

use crate::{App, AppError, AppResult, NewToken, kernel::error::invalid};
use orion_domain::{Actor, Email, Role, UserId};
use orion_store::{tokens, users, web};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

const CACHE_TTL_MS: i64 = 10_000;
const CACHE_MAX: usize = 10_000;
/// `last_used_at` is written at most this often per token, to keep reads read-only.
const TOUCH_EVERY_MS: i64 = 5 * 60_000;
pub const TOKEN_PREFIX: &str = "orion_";
/// The absolute floor; the configured policy (`signin::check_password`) asks for more.
const MIN_PASSWORD_LEN: usize = 8;

#[derive(Default)]
pub(crate) struct TokenCache {
    entries: Mutex<HashMap<String, (Actor, i64)>>,
}

impl TokenCache {
    fn get(&self, hash: &str, now: i64) -> Option<Actor> {
        let map = self.entries.lock().ok()?;
        map.get(hash).filter(|(_, until)| *until > now).map(|(a, _)| a.clone())
    }

    fn put(&self, hash: String, actor: Actor, until: i64) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(hash, (actor, until));
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut map) = self.entries.lock() {
            map.clear();
        }
    }
}

/// The SHA-256 of a token, as stored (API, integration and heartbeat tokens alike).
pub(crate) fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A new secret token: `prefix` and 64 random hex characters.
pub(crate) fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The channel on which nodes tell each other that cached tokens may be stale.
const AUTH_CHANNEL: &str = "orion_auth";

impl App {
    /// After a committed change to tokens, users' roles or active state: this node forgets its
    /// cached tokens now, and every other node when the notification reaches it.
    pub(crate) async fn tokens_changed(&self) {
        self.tokens.clear();
        if let Err(e) = self.db.notify(AUTH_CHANNEL, "").await {
            tracing::warn!(error = %e, "could not tell the other nodes to forget cached tokens");
        }
    }

    /// Resolves a bearer token to the acting user.
    pub async fn authenticate(&self, token: &str) -> AppResult<Actor> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
            return Err(AppError::Unauthorized);
        }
        let now = self.now();
        let hash = hash_token(token);
        if let Some(actor) = self.tokens.get(&hash, now) {
            return Ok(actor);
        }
        let owner = {
            let mut r = self.db.read().await?;
            tokens::find_owner(&mut r.conn(), &hash).await?
        };
        let Some(o) = owner else { return Err(AppError::Unauthorized) };
        if o.revoked_at.is_some() || !o.user_active || o.expires_at.is_some_and(|e| e <= now) {
            return Err(AppError::Unauthorized);
        }
        let role = Role::parse("role", &o.role).map_err(|e| AppError::Internal(e.to_string()))?;
        let actor = Actor { id: UserId(o.user_id), role };
        if o.last_used_at.is_none_or(|t| now - t > TOUCH_EVERY_MS) {
            let mut tx = self.db.begin().await?;
            tokens::touch(&mut tx.conn(), o.token_id, now).await?;
            self.commit(tx).await?;
        }
        let until = o.expires_at.map_or(now + CACHE_TTL_MS, |e| e.min(now + CACHE_TTL_MS));
        self.tokens.put(hash, actor.clone(), until);
        Ok(actor)
    }

    /// Issues a token for the user with `email` (the CLI and admins use this).
    pub async fn create_token_for(&self, email: &str, name: &str) -> AppResult<NewToken> {
        let email = Email::parse("user", email)?;
        let name = orion_domain::error::required_text("name", name, 100)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let user = users::find_by_email(&mut tx.conn(), email.as_str())
            .await?
            .ok_or_else(|| invalid("user", format!("no user with e-mail {email}")))?;
        if !user.active {
            return Err(invalid("user", "the user is deactivated"));
        }
        let token = new_token(TOKEN_PREFIX);
        let id = tokens::insert(&mut tx.conn(), user.id, &name, &hash_token(&token), None, now).await?;
        let detail = format!("token {id} ({name})");
        let e = web::NewEvent {
            kind: "token_created",
            user_id: Some(user.id),
            email: Some(&user.email),
            ip: None,
            detail: &detail,
        };
        web::log_event(&mut tx.conn(), &e, now).await?;
        self.commit(tx).await?;
        Ok(NewToken { id, name, token })
    }

    /// Creates a token for the caller themselves.
    pub async fn create_own_token(&self, actor: &Actor, name: &str) -> AppResult<NewToken> {
        let email = {
            let mut r = self.db.read().await?;
            users::get(&mut r.conn(), actor.id.0).await?.email
        };
        self.create_token_for(&email, name).await
    }

    /// Revokes one of the caller's tokens.
    pub async fn revoke_own_token(&self, actor: &Actor, token_id: i64) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let found = tokens::revoke(&mut tx.conn(), actor.id.0, token_id, now).await?;
        if found == tokens::Revoked::Now {
            let detail = format!("token {token_id} by its owner");
            let e = web::NewEvent {
                kind: "token_revoked",
                user_id: Some(actor.id.0),
                email: None,
                ip: None,
                detail: &detail,
            };
            web::log_event(&mut tx.conn(), &e, now).await?;
        }
        self.commit(tx).await?;
        match found {
            // Revoking a revoked token again changes nothing and is no mistake.
            tokens::Revoked::Already => Ok(()),
            tokens::Revoked::Now => {
                self.tokens_changed().await;
                Ok(())
            }
            tokens::Revoked::Missing => Err(AppError::NotFound("token")),
        }
    }

    /// Lists the caller's tokens (never their secrets).
    pub async fn list_own_tokens(&self, actor: &Actor) -> AppResult<Vec<serde_json::Value>> {
        let mut r = self.db.read().await?;
        let rows = tokens::list_for_user(&mut r.conn(), actor.id.0).await?;
        Ok(rows
            .into_iter()
            .map(|t| {
                serde_json::json!({
                    "id": t.id, "name": t.name,
                    "created_at": orion_domain::Timestamp(t.created_at).to_rfc3339(),
                    "last_used_at": t.last_used_at.map(|v| orion_domain::Timestamp(v).to_rfc3339()),
                    "revoked": t.revoked_at.is_some(),
                })
            })
            .collect())
    }
}

/// Hashes a password with Argon2id off the async threads.
pub async fn hash_password(password: String) -> AppResult<String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(invalid("password", format!("must be at least {MIN_PASSWORD_LEN} characters")));
    }
    if password.len() > 1024 {
        return Err(invalid("password", "must be at most 1024 bytes"));
    }
    tokio::task::spawn_blocking(move || {
        use argon2::PasswordHasher;
        argon2::Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}

/// Checks a password against a stored Argon2 hash.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        use argon2::{PasswordHash, PasswordVerifier};
        PasswordHash::new(&hash)
            .map(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// How failures lock an account (from the security settings).
pub(crate) struct Lockout {
    pub threshold: i64,
    /// 0: until an admin unlocks it
    pub minutes: i64,
}

/// Counts one failed sign-in step for a user — a wrong password, or a wrong second factor at
/// sign-in or before a sensitive change: logs it (`what`, with the failures in a row) and locks
/// the account once they reach the threshold. Returns whether it locked the account.
pub(crate) async fn count_failure(
    c: &mut orion_store::Conn<'_>,
    user: (i64, &str),
    ip: Option<&str>,
    what: &str,
    lockout: &Lockout,
    now: i64,
) -> AppResult<bool> {
    let (id, email) = user;
    let n = orion_store::web::add_failed_login(c, id).await?;
    let failed = format!("{what} ({n} in a row)");
    let e = orion_store::web::NewEvent {
        kind: "sign_in_failed",
        user_id: Some(id),
        email: Some(email),
        ip,
        detail: &failed,
    };
    orion_store::web::log_event(c, &e, now).await?;
    metrics::counter!("orion_security_events_total", "kind" => "sign_in_failed").increment(1);
    if n < lockout.threshold {
        return Ok(false);
    }
    let until = if lockout.minutes == 0 { i64::MAX } else { now + lockout.minutes * 60_000 };
    orion_store::web::set_lock(c, id, Some(until)).await?;
    let detail = if lockout.minutes == 0 {
        format!("after {n} failed sign-ins, until an admin unlocks it")
    } else {
        format!("after {n} failed sign-ins, for {} minutes", lockout.minutes)
    };
    let e = orion_store::web::NewEvent {
        kind: "account_locked",
        user_id: Some(id),
        email: Some(email),
        ip,
        detail: &detail,
    };
    orion_store::web::log_event(c, &e, now).await?;
    metrics::counter!("orion_security_events_total", "kind" => "account_locked").increment(1);
    Ok(true)
}

/// Clears this node's token cache whenever another node changes who a token speaks for, until
/// `shutdown`. Returns at once on SQLite (a single node).
pub async fn run_auth_listener(app: App, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let mut listener = match app.db.listen(AUTH_CHANNEL).await {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for token changes on other nodes; retrying");
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => continue,
                }
            }
        };
        // Whatever was said while nobody listened is lost: start from an empty cache.
        app.tokens.clear();
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                m = listener.try_recv() => match m {
                    Ok(Some(_)) => app.tokens.clear(),
                    // The connection dropped (the next call reconnects): notifications may be lost.
                    Ok(None) => app.tokens.clear(),
                    Err(e) => {
                        tracing::warn!(error = %e, "lost the listener for token changes; reconnecting");
                        break;
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), h.clone()).await);
        assert!(!verify_password("wrong horse battery".into(), h).await);
        assert!(hash_password("short".into()).await.is_err());
    }

    #[test]
    fn token_hash_is_sha256_hex() {
        assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
