//! Two-factor sign-in with an authenticator app: TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second
//! steps, one step of clock drift either way), ten single-use recovery codes, enforcement per role
//! after a grace period, and an admin's reset. Codes are never accepted twice (the last accepted
//! time step is stored); wrong codes count like wrong passwords.

use crate::auth::hash_token;
use crate::kernel::access::require_admin;
use crate::kernel::error::{found, invalid};
use crate::{App, AppError, AppResult};
use orion_domain::{Actor, Timestamp};
use orion_store::{mfa, users, web};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use utoipa::ToSchema;

const STEP_SECONDS: i64 = 30;
const DIGITS: u32 = 6;
/// Recovery codes given at enrolment (and each time they are renewed).
pub const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "Orion";

/// HMAC-SHA1 (RFC 2104), as TOTP uses it.
fn hmac_sha1(key: &[u8], msg: &[u8]) -> [u8; 20] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..20].copy_from_slice(&Sha1::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha1::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha1::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The HOTP value (RFC 4226) of `counter`, as `DIGITS` digits.
pub fn hotp(secret: &[u8], counter: u64) -> String {
    let mac = hmac_sha1(secret, &counter.to_be_bytes());
    let offset = (mac[19] & 0x0f) as usize;
    let bin = (u32::from(mac[offset] & 0x7f) << 24)
        | (u32::from(mac[offset + 1]) << 16)
        | (u32::from(mac[offset + 2]) << 8)
        | u32::from(mac[offset + 3]);
    format!("{:0width$}", bin % 10u32.pow(DIGITS), width = DIGITS as usize)
}

/// The TOTP code for the time step containing `unix_seconds`.
pub fn totp_at(secret: &[u8], unix_seconds: i64) -> String {
    hotp(secret, (unix_seconds.max(0) / STEP_SECONDS) as u64)
}

/// The time step a code belongs to (now, one before or one after), if it is right and later than
/// `last_step`.
fn matching_step(secret: &[u8], code: &str, unix_seconds: i64, last_step: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = unix_seconds / STEP_SECONDS;
    [now - 1, now, now + 1]
        .into_iter()
        .filter(|s| *s > last_step && *s >= 0)
        .find(|s| constant_eq(hotp(secret, *s as u64).as_bytes(), code.as_bytes()))
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn base32(bytes: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(bytes)
}

fn from_base32(s: &str) -> AppResult<Vec<u8>> {
    data_encoding::BASE32_NOPAD.decode(s.as_bytes()).map_err(|e| AppError::Internal(format!("stored TOTP secret: {e}")))
}

/// A recovery code as typed: case, spaces and dashes do not matter.
fn normalise_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

/// Ten new recovery codes and their hashes (for the first security key).
pub(crate) fn recovery_codes() -> (Vec<String>, Vec<String>) {
    new_recovery_codes()
}

/// Ten new recovery codes (`xxxxx-xxxxx`, 50 bits each) and their hashes.
fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let s: String = (0..10).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
            format!("{}-{}", &s[..5], &s[5..])
        })
        .collect();
    let hashes = codes.iter().map(|c| hash_token(&normalise_code(c))).collect();
    (codes, hashes)
}

/// An authenticator app to set up: the secret as the app reads it, and as a QR code.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Enrolment {
    /// The secret in base32, for typing into the app
    pub secret: String,
    /// The `otpauth://` address the QR code holds
    pub otpauth_uri: String,
    /// The QR code as an SVG image
    pub qr_svg: String,
}

/// A user's two-factor state.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TwoFactorStatus {
    /// A second factor is set up: an authenticator app, a security key, or both
    pub enabled: bool,
    /// An authenticator app is set up and confirmed
    pub authenticator_app: bool,
    /// Security keys and passkeys registered
    pub security_keys: i64,
    pub recovery_codes_left: i64,
    /// Their role must use two-factor sign-in
    pub required: bool,
    /// Until when they may still sign in without it (when required and not set up)
    pub required_from: Option<String>,
}

/// What happens after a right password.
pub(crate) enum AfterPassword {
    /// No second factor needed (or not yet: inside the grace period)
    Done,
    /// A code from the authenticator app (or a recovery code) is needed
    SecondFactor,
    /// The role requires two-factor sign-in and the grace period is over: set it up first
    Enrol,
}

fn otpauth_uri(secret_b32: &str, email: &str) -> String {
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        enc(ISSUER),
        enc(email),
        enc(ISSUER)
    )
}

fn qr_svg(uri: &str) -> AppResult<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| AppError::Internal(format!("QR code: {e}")))?;
    Ok(code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).quiet_zone(true).build())
}

impl App {
    /// Whether the user's role must use two-factor sign-in, and from when (the grace period ends
    /// `two_factor_grace_days` after the rule was set or the account created, the later).
    pub(crate) async fn two_factor_required(&self, role: &str, created_at: i64) -> AppResult<Option<i64>> {
        let s = self.security_settings().await?;
        if !s.two_factor_roles.iter().any(|r| r == role) {
            return Ok(None);
        }
        let since = s.two_factor_required_since.unwrap_or(0).max(created_at);
        Ok(Some(since + s.two_factor_grace_days * 24 * 3_600_000))
    }

    /// What a right password leads to for this user.
    pub(crate) async fn after_password(&self, user_id: i64) -> AppResult<AfterPassword> {
        let (user, totp, keys) = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let keys = mfa::security_keys(&mut c, user_id).await?.len();
            (users::get(&mut c, user_id).await?, mfa::totp(&mut c, user_id).await?, keys)
        };
        if totp.is_some_and(|t| t.confirmed_at.is_some()) || keys > 0 {
            return Ok(AfterPassword::SecondFactor);
        }
        match self.two_factor_required(&user.role, user.created_at).await? {
            Some(from) if from <= self.now() => Ok(AfterPassword::Enrol),
            _ => Ok(AfterPassword::Done),
        }
    }

    pub async fn two_factor_status(&self, actor: &Actor) -> AppResult<TwoFactorStatus> {
        self.status_of(actor.id.0).await
    }

    /// Another user's two-factor state (admins).
    pub async fn user_two_factor(&self, actor: &Actor, user_id: i64) -> AppResult<TwoFactorStatus> {
        require_admin(actor, "see others' two-factor sign-in")?;
        self.status_of(user_id).await
    }

    async fn status_of(&self, user_id: i64) -> AppResult<TwoFactorStatus> {
        let (user, totp, left, keys) = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let u = found(users::get(&mut c, user_id).await, "user")?;
            let t = mfa::totp(&mut c, user_id).await?;
            let left = mfa::recovery_codes_left(&mut c, user_id).await?;
            let keys = mfa::security_keys(&mut c, user_id).await?.len() as i64;
            (u, t, left, keys)
        };
        let app = totp.is_some_and(|t| t.confirmed_at.is_some());
        let enabled = app || keys > 0;
        let required = self.two_factor_required(&user.role, user.created_at).await?;
        Ok(TwoFactorStatus {
            enabled,
            authenticator_app: app,
            security_keys: keys,
            recovery_codes_left: left,
            required: required.is_some(),
            required_from: required.filter(|_| !enabled).map(|t| Timestamp(t).to_rfc3339()),
        })
    }

    /// Starts setting up an authenticator app for `user_id` (a new secret, not yet in force).
    pub(crate) async fn begin_enrolment_for(&self, user_id: i64) -> AppResult<Enrolment> {
        let mut secret = [0u8; 20];
        rand::rng().fill(&mut secret);
        let b32 = base32(&secret);
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        if mfa::totp(&mut c, user_id).await?.is_some_and(|t| t.confirmed_at.is_some()) {
            return Err(AppError::Conflict(
                "two-factor sign-in is already set up; turn it off first to move to another app".into(),
            ));
        }
        let email = users::get(&mut c, user_id).await?.email;
        mfa::put_pending(&mut c, user_id, &b32, now).await?;
        self.commit(tx).await?;
        let uri = otpauth_uri(&b32, &email);
        Ok(Enrolment { qr_svg: qr_svg(&uri)?, otpauth_uri: uri, secret: b32 })
    }

    pub async fn begin_two_factor(&self, actor: &Actor) -> AppResult<Enrolment> {
        self.begin_enrolment_for(actor.id.0).await
    }

    /// Confirms the app with its first code; returns the recovery codes (shown this once).
    pub(crate) async fn confirm_enrolment_for(
        &self,
        user_id: i64,
        code: &str,
        ip: Option<&str>,
    ) -> AppResult<Vec<String>> {
        let now = self.now();
        let row = {
            let mut r = self.db.read().await?;
            mfa::totp(&mut r.conn(), user_id).await?
        };
        let Some(row) = row.filter(|t| t.confirmed_at.is_none()) else {
            return Err(invalid("code", "start setting up an authenticator app first"));
        };
        let secret = from_base32(&row.secret)?;
        let Some(step) = matching_step(&secret, code, now / 1000, row.last_step) else {
            return Err(invalid("code", "that code is not right; check the app's clock and try the next code"));
        };
        let (codes, hashes) = new_recovery_codes();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        if !mfa::accept_step(&mut c, user_id, step, now).await? {
            return Err(invalid("code", "that code was used already; wait for the next one"));
        }
        mfa::replace_recovery_codes(&mut c, user_id, &hashes).await?;
        let u = users::get(&mut c, user_id).await?;
        let e = web::NewEvent {
            kind: "two_factor_enabled",
            user_id: Some(user_id),
            email: Some(&u.email),
            ip,
            detail: "authenticator app",
        };
        web::log_event(&mut c, &e, now).await?;
        self.commit(tx).await?;
        Ok(codes)
    }

    pub async fn confirm_two_factor(&self, actor: &Actor, code: &str) -> AppResult<Vec<String>> {
        self.confirm_enrolment_for(actor.id.0, code, None).await
    }

    /// Checks a second factor: a code from the app or an unused recovery code. Ok(false) when
    /// wrong (the caller counts the failure).
    pub(crate) async fn check_second_factor(&self, user_id: i64, code: &str) -> AppResult<bool> {
        let now = self.now();
        let row = {
            let mut r = self.db.read().await?;
            mfa::totp(&mut r.conn(), user_id).await?
        };
        // A recovery code works whatever the second factor (an app, keys); an app's code only
        // with a confirmed app.
        let step = match row.filter(|t| t.confirmed_at.is_some()) {
            Some(row) => matching_step(&from_base32(&row.secret)?, code, now / 1000, row.last_step),
            None => None,
        };
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let ok = match step {
            Some(step) => mfa::accept_step(&mut c, user_id, step, now).await?,
            None => {
                let n = normalise_code(code);
                n.len() == 10 && mfa::use_recovery_code(&mut c, user_id, &hash_token(&n), now).await?
            }
        };
        self.commit(tx).await?;
        Ok(ok)
    }

    /// Turns two-factor sign-in off (a current code is needed); refused when the role requires it.
    pub async fn disable_two_factor(&self, actor: &Actor, code: &str) -> AppResult<()> {
        let user = {
            let mut r = self.db.read().await?;
            users::get(&mut r.conn(), actor.id.0).await?
        };
        let keys = {
            let mut r = self.db.read().await?;
            mfa::security_keys(&mut r.conn(), actor.id.0).await?.len()
        };
        if keys == 0 && self.two_factor_required(&user.role, user.created_at).await?.is_some() {
            return Err(AppError::Forbidden("your role must use two-factor sign-in; it cannot be turned off".into()));
        }
        if !self.check_second_factor(actor.id.0, code).await? {
            return Err(invalid("code", "that code is not right"));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        if keys == 0 {
            mfa::remove(&mut c, actor.id.0).await?;
        } else {
            // The keys stay, and with them the recovery codes.
            mfa::remove_app(&mut c, actor.id.0).await?;
        }
        let e = web::NewEvent {
            kind: "two_factor_disabled",
            user_id: Some(user.id),
            email: Some(&user.email),
            ip: None,
            detail: "by the user",
        };
        web::log_event(&mut c, &e, now).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// New recovery codes (the old ones stop working); a current code is needed.
    pub async fn renew_recovery_codes(&self, actor: &Actor, code: &str) -> AppResult<Vec<String>> {
        if !self.check_second_factor(actor.id.0, code).await? {
            return Err(invalid("code", "that code is not right"));
        }
        let (codes, hashes) = new_recovery_codes();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        mfa::replace_recovery_codes(&mut c, actor.id.0, &hashes).await?;
        let u = users::get(&mut c, actor.id.0).await?;
        let e = web::NewEvent {
            kind: "recovery_codes_renewed",
            user_id: Some(u.id),
            email: Some(&u.email),
            ip: None,
            detail: "",
        };
        web::log_event(&mut c, &e, now).await?;
        self.commit(tx).await?;
        Ok(codes)
    }

    /// Whether the session behind `session_token` must confirm a second factor before a sensitive
    /// change: its user has two-factor sign-in on and last confirmed it longer ago than the
    /// security settings allow. (People without it have nothing to confirm.)
    pub async fn step_up_needed(&self, session_token: &str) -> AppResult<bool> {
        let now = self.now();
        let minutes = self.security_settings().await?.step_up_minutes;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let Some((user_id, at)) = web::session_second_factor(&mut c, &hash_token(session_token)).await? else {
            return Err(AppError::Unauthorized);
        };
        let app = mfa::totp(&mut c, user_id).await?.is_some_and(|t| t.confirmed_at.is_some());
        if !app && mfa::security_keys(&mut c, user_id).await?.is_empty() {
            return Ok(false);
        }
        Ok(at.is_none_or(|t| now - t > minutes * 60_000))
    }

    /// Whether deciding on a change must confirm a second factor first (the security settings say
    /// so). Refuses someone who has no second factor to confirm: an approval the desk wants
    /// confirmed must not rest on a password alone.
    pub async fn change_approval_step_up(&self, actor: &Actor) -> AppResult<bool> {
        if !self.security_settings().await?.step_up_for_change_approval {
            return Ok(false);
        }
        if !self.status_of(actor.id.0).await?.enabled {
            return Err(AppError::Forbidden(
                "approving changes needs two-factor sign-in: set up an authenticator app on your account page first"
                    .into(),
            ));
        }
        Ok(true)
    }

    /// Confirms a second factor for this session now (before a sensitive change). A wrong code
    /// counts towards the account's lockout.
    pub async fn step_up(&self, actor: &Actor, session_token: &str, code: &str) -> AppResult<()> {
        let ok = self.check_second_factor(actor.id.0, code).await?;
        self.step_up_result(actor, session_token, ok).await
    }

    /// After a second factor was checked for a step-up (`ok`): the session's confirmation, or the
    /// failure counted against the account.
    pub(crate) async fn step_up_result(&self, actor: &Actor, session_token: &str, ok: bool) -> AppResult<()> {
        let now = self.now();
        if ok {
            let mut tx = self.db.begin().await?;
            web::set_session_second_factor(&mut tx.conn(), &hash_token(session_token), now).await?;
            self.commit(tx).await?;
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let u = users::get(&mut c, actor.id.0).await?;
        let lockout = self.security_settings().await?.lockout();
        let what = "wrong second factor before a sensitive change";
        if crate::auth::count_failure(&mut c, (u.id, &u.email), None, what, &lockout, now).await? {
            // A locked account's sessions end: whoever is guessing here is signed out.
            web::delete_sessions_of(&mut c, u.id).await?;
        }
        self.commit(tx).await?;
        Err(invalid("code", "that code is not right"))
    }

    /// An admin removes a user's authenticator app and recovery codes (a lost phone); the user sets
    /// it up again at their next sign-in if their role requires it. Logged.
    pub async fn reset_two_factor(&self, actor: &Actor, user_id: i64) -> AppResult<()> {
        require_admin(actor, "reset two-factor sign-in")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let u = found(users::get(&mut c, user_id).await, "user")?;
        let had_app = mfa::remove(&mut c, user_id).await?;
        let keys = mfa::delete_security_keys_of(&mut c, user_id).await?;
        let had = had_app || keys > 0;
        let detail = format!(
            "by admin user {}{}",
            actor.id.0,
            if had {
                format!("; authenticator app {}, {keys} security key(s) removed", if had_app { "and" } else { "none" })
            } else {
                " (none was set up)".into()
            }
        );
        let e = web::NewEvent {
            kind: "two_factor_reset",
            user_id: Some(u.id),
            email: Some(&u.email),
            ip: None,
            detail: &detail,
        };
        web::log_event(&mut c, &e, now).await?;
        // Their sessions end: whoever holds the lost device's sessions is signed out.
        web::delete_sessions_of(&mut c, user_id).await?;
        self.commit(tx).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotp_matches_rfc_4226_appendix_d() {
        let secret = b"12345678901234567890";
        let expected =
            ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
        for (i, e) in expected.iter().enumerate() {
            assert_eq!(hotp(secret, i as u64), *e);
        }
    }

    #[test]
    fn totp_matches_rfc_6238_appendix_b_for_sha1() {
        // The RFC's 8-digit values; their last six digits are the 6-digit codes.
        let secret = b"12345678901234567890";
        for (t, e) in
            [(59, "94287082"), (1_111_111_109, "07081804"), (1_234_567_890, "89005924"), (2_000_000_000, "69279037")]
        {
            assert_eq!(totp_at(secret, t), e[2..]);
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_way_and_never_twice() {
        let secret = b"12345678901234567890";
        let now = 1_234_567_890;
        let code = totp_at(secret, now - 30);
        let step = matching_step(secret, &code, now, 0).unwrap();
        assert_eq!(step, (now - 30) / 30);
        assert!(matching_step(secret, &code, now, step).is_none(), "replayed");
        assert!(matching_step(secret, &totp_at(secret, now - 90), now, 0).is_none(), "too old");
        assert!(matching_step(secret, "12345", now, 0).is_none());
        assert!(matching_step(secret, &format!(" {} ", &code), now, 0).is_some(), "spaces are ignored");
    }

    #[test]
    fn recovery_codes_are_distinct_and_typed_loosely() {
        let (codes, hashes) = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::HashSet<_> = hashes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        assert_eq!(hash_token(&normalise_code(&codes[0].to_uppercase().replace('-', " "))), hashes[0]);
    }
}
