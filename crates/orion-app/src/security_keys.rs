//! Security keys and passkeys (WebAuthn) as a second factor, beside the authenticator app.
//!
//! A user registers keys on their account page; at sign-in (after the password or a single
//! sign-on), before a sensitive change, a key's signature counts as the second factor. The
//! relying party is Orion's public address (the portal URL of the mail settings, else the address
//! the browser used): its host is the RP id and the origin must match exactly. Ceremony state
//! (the challenge) is kept in the database for five minutes and works once, so any node can
//! finish what another began; keys are stored as webauthn-rs records (public key and signature
//! counter), and a counter that goes backwards — a cloned key — is refused.

use crate::kernel::error::invalid;
use crate::signin::{Client, SignInError, SignedIn};
use crate::{App, AppError, AppResult};
use orion_domain::{Actor, Timestamp};
use orion_store::{mfa, users, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, SecurityKey,
    SecurityKeyAuthentication, SecurityKeyRegistration, Url, Uuid, Webauthn, WebauthnBuilder,
};

/// How long a ceremony may take, from the options to the browser's answer.
const CEREMONY_MS: i64 = 5 * 60_000;
/// Keys one user may register.
const MAX_KEYS: usize = 10;

/// A registered key as its owner (and admins) see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecurityKeyView {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// The relying party for `origin` (`https://orion.example.org`, or `http://localhost:8080`).
fn relying_party(origin: &str) -> AppResult<Webauthn> {
    let url = Url::parse(origin).map_err(|e| AppError::Internal(format!("Orion's address {origin:?}: {e}")))?;
    let Some(host) = url.domain().map(str::to_string) else {
        return Err(AppError::Conflict(
            "security keys need Orion to be reached by a name (https://orion.example.org), not an IP address: \
             set the portal URL in the mail settings"
                .into(),
        ));
    };
    // A key here is the second factor after a password (or a provider's sign-in): its touch
    // proves possession, as with GitHub's and Google's security keys. Asking it for user
    // verification as well comes with a credProtect policy that Chromium refuses for keys that
    // keep no credential of their own ("protection policy is inconsistent").
    WebauthnBuilder::new(&host, &url)
        .and_then(|b| b.rp_name("Orion").danger_set_user_presence_only_security_keys(true).build())
        .map_err(|e| AppError::Internal(format!("WebAuthn relying party: {e}")))
}

/// The WebAuthn user handle of an Orion user: stable, and meaningless outside Orion.
fn user_handle(user_id: i64) -> Uuid {
    Uuid::from_u64_pair(0x6f72_696f_6e00_0000, user_id as u64)
}

fn parse_key(row: &mfa::SecurityKeyRow) -> AppResult<SecurityKey> {
    serde_json::from_str(&row.credential).map_err(|e| AppError::Internal(format!("stored security key: {e}")))
}

fn to_json<T: Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(|e| AppError::Internal(e.to_string()))
}

impl App {
    /// The caller's keys.
    pub async fn security_keys(&self, actor: &Actor) -> AppResult<Vec<SecurityKeyView>> {
        self.keys_of(actor.id.0).await
    }

    pub(crate) async fn keys_of(&self, user_id: i64) -> AppResult<Vec<SecurityKeyView>> {
        let mut r = self.db.read().await?;
        let rows = mfa::security_keys(&mut r.conn(), user_id).await?;
        Ok(rows
            .into_iter()
            .map(|k| SecurityKeyView {
                id: k.id,
                name: k.name,
                created_at: Timestamp(k.created_at).to_rfc3339(),
                last_used_at: k.last_used_at.map(|t| Timestamp(t).to_rfc3339()),
            })
            .collect())
    }

    /// Starts registering a key for the caller: the options for `navigator.credentials.create`.
    pub async fn begin_key_registration(&self, actor: &Actor, origin: &str) -> AppResult<CreationChallengeResponse> {
        let rp = relying_party(origin)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let user = users::get(&mut c, actor.id.0).await?;
        let existing = mfa::security_keys(&mut c, user.id).await?;
        if existing.len() >= MAX_KEYS {
            return Err(AppError::Conflict(format!("you have {MAX_KEYS} keys already; remove one first")));
        }
        let exclude = existing.iter().map(parse_key).collect::<AppResult<Vec<_>>>()?;
        let exclude = exclude.iter().map(|k| k.cred_id().clone()).collect::<Vec<_>>();
        let (options, state) = rp
            .start_securitykey_registration(user_handle(user.id), &user.email, &user.name, Some(exclude), None, None)
            .map_err(|e| AppError::Internal(format!("WebAuthn registration: {e}")))?;
        mfa::put_ceremony(&mut c, user.id, "register", &to_json(&state)?, origin, now + CEREMONY_MS).await?;
        self.commit(tx).await?;
        Ok(options)
    }

    /// Finishes registering a key (the browser's answer, as JSON) under `name`. Returns new
    /// recovery codes when this is the caller's first second factor (shown once), else none.
    pub async fn finish_key_registration(
        &self,
        actor: &Actor,
        origin: &str,
        name: &str,
        credential: &str,
    ) -> AppResult<Vec<String>> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(invalid(
                "name",
                "give the key a name of at most 60 characters, e.g. \"YubiKey on my keyring\"",
            ));
        }
        let reg: RegisterPublicKeyCredential = serde_json::from_str(credential)
            .map_err(|_| invalid("credential", "the browser's answer could not be read; try again"))?;
        let now = self.now();
        let user_id = actor.id.0;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let ceremony = mfa::take_ceremony(&mut c, user_id, "register").await?;
        self.commit(tx).await?;
        let Some((state, started_at, expires_at)) = ceremony else {
            return Err(invalid("credential", "start adding the key again"));
        };
        if expires_at <= now || started_at != origin {
            return Err(invalid("credential", "that took too long; start adding the key again"));
        }
        let state: SecurityKeyRegistration =
            serde_json::from_str(&state).map_err(|e| AppError::Internal(format!("ceremony state: {e}")))?;
        let key = relying_party(origin)?
            .finish_securitykey_registration(&reg, &state)
            .map_err(|e| invalid("credential", format!("the key's answer was refused ({e}); try again")))?;
        let cred_id = data_encoding::BASE64URL_NOPAD.encode(key.cred_id().as_ref());
        let (had_factor, codes_left) = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let app = mfa::totp(&mut c, user_id).await?.is_some_and(|t| t.confirmed_at.is_some());
            let keys = !mfa::security_keys(&mut c, user_id).await?.is_empty();
            (app || keys, mfa::recovery_codes_left(&mut c, user_id).await?)
        };
        let (codes, hashes) = crate::mfa::recovery_codes();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        match mfa::insert_security_key(&mut c, user_id, name, &cred_id, &to_json(&key)?, now).await {
            Err(orion_store::StoreError::Duplicate) => {
                return Err(invalid("credential", "this key is registered already"));
            }
            other => other?,
        };
        let first = !had_factor && codes_left == 0;
        if first {
            mfa::replace_recovery_codes(&mut c, user_id, &hashes).await?;
        }
        let u = users::get(&mut c, user_id).await?;
        let detail = format!("security key {name:?}");
        let e = web::NewEvent {
            kind: "two_factor_enabled",
            user_id: Some(user_id),
            email: Some(&u.email),
            ip: None,
            detail: &detail,
        };
        web::log_event(&mut c, &e, now).await?;
        self.commit(tx).await?;
        Ok(if first { codes } else { Vec::new() })
    }

    /// Removes one of the caller's keys. Refused when it is their last second factor and their
    /// role requires one.
    pub async fn remove_security_key(&self, actor: &Actor, id: i64) -> AppResult<()> {
        let user_id = actor.id.0;
        let (user, keys, app) = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let u = users::get(&mut c, user_id).await?;
            let k = mfa::security_keys(&mut c, user_id).await?;
            let a = mfa::totp(&mut c, user_id).await?.is_some_and(|t| t.confirmed_at.is_some());
            (u, k, a)
        };
        let Some(key) = keys.iter().find(|k| k.id == id) else { return Err(AppError::NotFound("security key")) };
        if !app && keys.len() == 1 && self.two_factor_required(&user.role, user.created_at).await?.is_some() {
            return Err(AppError::Forbidden(
                "your role must use two-factor sign-in: add another key or an authenticator app before removing \
                 your last key"
                    .into(),
            ));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        mfa::delete_security_key(&mut c, user_id, id).await?;
        if !app && keys.len() == 1 {
            // No second factor left: the recovery codes go with it.
            mfa::replace_recovery_codes(&mut c, user_id, &[]).await?;
        }
        let detail = format!("security key {:?} removed by the user", key.name);
        let e = web::NewEvent {
            kind: "two_factor_disabled",
            user_id: Some(user_id),
            email: Some(&user.email),
            ip: None,
            detail: &detail,
        };
        web::log_event(&mut c, &e, now).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Starts a key check for `user_id`: the options for `navigator.credentials.get`, or `None`
    /// when they have no key.
    pub(crate) async fn begin_key_check(
        &self,
        user_id: i64,
        origin: &str,
    ) -> AppResult<Option<RequestChallengeResponse>> {
        let rows = {
            let mut r = self.db.read().await?;
            mfa::security_keys(&mut r.conn(), user_id).await?
        };
        if rows.is_empty() {
            return Ok(None);
        }
        let keys = rows.iter().map(parse_key).collect::<AppResult<Vec<_>>>()?;
        let (options, state) = relying_party(origin)?
            .start_securitykey_authentication(&keys)
            .map_err(|e| AppError::Internal(format!("WebAuthn authentication: {e}")))?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        mfa::put_ceremony(&mut tx.conn(), user_id, "authenticate", &to_json(&state)?, origin, now + CEREMONY_MS)
            .await?;
        self.commit(tx).await?;
        Ok(Some(options))
    }

    /// Checks the browser's answer to a key check; Ok(false) when it is wrong (the caller counts
    /// the failure). A right answer stores the key's new signature counter.
    pub(crate) async fn finish_key_check(&self, user_id: i64, origin: &str, credential: &str) -> AppResult<bool> {
        let Ok(answer) = serde_json::from_str::<PublicKeyCredential>(credential) else { return Ok(false) };
        let now = self.now();
        let ceremony = {
            let mut tx = self.db.begin().await?;
            let c = mfa::take_ceremony(&mut tx.conn(), user_id, "authenticate").await?;
            self.commit(tx).await?;
            c
        };
        let Some((state, started_at, expires_at)) = ceremony else { return Ok(false) };
        if expires_at <= now || started_at != origin {
            return Ok(false);
        }
        let state: SecurityKeyAuthentication =
            serde_json::from_str(&state).map_err(|e| AppError::Internal(format!("ceremony state: {e}")))?;
        let result = match relying_party(origin)?.finish_securitykey_authentication(&answer, &state) {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(user_id, error = %e, "a security key's answer was refused");
                return Ok(false);
            }
        };
        let rows = {
            let mut r = self.db.read().await?;
            mfa::security_keys(&mut r.conn(), user_id).await?
        };
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        for row in &rows {
            let mut key = parse_key(row)?;
            if key.cred_id() == result.cred_id() {
                key.update_credential(&result);
                mfa::key_used(&mut c, row.id, &to_json(&key)?, now).await?;
            }
        }
        self.commit(tx).await?;
        Ok(true)
    }

    /// The options for the key check of a sign-in waiting for its second factor (`None`: the user
    /// has no key).
    pub async fn challenge_key_options(
        &self,
        challenge: &str,
        origin: &str,
    ) -> AppResult<Option<RequestChallengeResponse>> {
        let Some(u) = self.challenge_user(challenge).await? else { return Err(AppError::Unauthorized) };
        self.begin_key_check(u.id, origin).await
    }

    /// The second step of a sign-in with a security key. A wrong answer counts like a wrong code.
    pub async fn sign_in_with_key(
        &self,
        challenge: &str,
        origin: &str,
        credential: &str,
        client: &Client,
        previous: Option<&str>,
    ) -> Result<SignedIn, SignInError> {
        let res = async {
            let Some(u) = self.challenge_user(challenge).await? else { return Ok(Err(SignInError::Refused)) };
            let ok = self.finish_key_check(u.id, origin, credential).await?;
            Ok::<_, AppError>(Ok(self
                .second_factor_result(challenge, &u, ok, client, previous, "with a security key")
                .await?))
        }
        .await;
        match res {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "security key sign-in failed on an internal error");
                Err(SignInError::Refused)
            }
        }
    }

    /// Which second factors the user of a sign-in waiting for one has: (authenticator app, keys).
    pub async fn challenge_factors(&self, challenge: &str) -> AppResult<(bool, bool)> {
        let Some(u) = self.challenge_user(challenge).await? else { return Err(AppError::Unauthorized) };
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let app = mfa::totp(&mut c, u.id).await?.is_some_and(|t| t.confirmed_at.is_some());
        Ok((app, !mfa::security_keys(&mut c, u.id).await?.is_empty()))
    }

    /// The options for confirming a sensitive change with a key (`None`: no key).
    pub async fn step_up_key_options(
        &self,
        actor: &Actor,
        origin: &str,
    ) -> AppResult<Option<RequestChallengeResponse>> {
        self.begin_key_check(actor.id.0, origin).await
    }

    /// Confirms a second factor for this session with a key (before a sensitive change).
    pub async fn step_up_with_key(
        &self,
        actor: &Actor,
        session_token: &str,
        origin: &str,
        credential: &str,
    ) -> AppResult<()> {
        let ok = self.finish_key_check(actor.id.0, origin, credential).await?;
        self.step_up_result(actor, session_token, ok).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_orion_s_host_and_never_an_ip_address() {
        assert!(relying_party("https://orion.example.org").is_ok());
        assert!(relying_party("http://localhost:8080").is_ok());
        let e = relying_party("http://127.0.0.1:8080").err().unwrap().to_string();
        assert!(e.contains("by a name"), "{e}");
    }

    #[test]
    fn user_handles_are_stable_and_distinct() {
        assert_eq!(user_handle(7), user_handle(7));
        assert_ne!(user_handle(7), user_handle(8));
    }
}
