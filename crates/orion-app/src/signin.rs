//! Web sign-in and session security: server-side sessions with idle and absolute timeouts,
//! sign-in throttling per address and lockout per account, the password policy (NIST SP
//! 800-63B: a minimum length, common passwords refused, no composition rules), one-time
//! password reset links by mail, and the security log that records every such event.

use crate::kernel::error::invalid;
use crate::kernel::paging::{keyset_cursor, parse_cursor, parse_limit};
use crate::{App, AppError, AppResult, Page};
use orion_domain::{Actor, Email, FieldErrors, Role, Timestamp, UserId};
use orion_store::{Conn, settings, tokens, users, web};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

const SECURITY_SETTINGS: &str = "security";
const MINUTE_MS: i64 = 60_000;
/// `last_seen_at` is written at most this often per session.
const TOUCH_EVERY_MS: i64 = MINUTE_MS;
/// A reset link works this long, once.
pub const RESET_MINUTES: i64 = 60;
/// At most this many reset links per account per hour.
const RESETS_PER_HOUR: i64 = 3;
/// The window over which failed sign-ins from one address are counted.
const THROTTLE_WINDOW_MS: i64 = 15 * MINUTE_MS;

static COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// How sign-in and sessions behave (`GET/PUT /api/v1/settings/security`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySettings {
    /// Failed sign-ins in a row that lock an account (default 5)
    #[schema(minimum = 1, maximum = 100)]
    pub lockout_threshold: i64,
    /// How long a lockout lasts in minutes; 0 keeps the account locked until an admin unlocks it (default 15)
    #[schema(minimum = 0, maximum = 10080)]
    pub lockout_minutes: i64,
    /// Failed sign-ins from one IP address within 15 minutes after which that address must wait (default 30)
    #[schema(minimum = 1, maximum = 100000)]
    pub max_failures_per_address: i64,
    /// A session ends after this many minutes without a request (default 60)
    #[schema(minimum = 1, maximum = 10080)]
    pub idle_timeout_minutes: i64,
    /// A session ends this many hours after sign-in, however busy (default 12)
    #[schema(minimum = 1, maximum = 720)]
    pub absolute_timeout_hours: i64,
    /// Shortest password accepted (default 15, NIST SP 800-63B-4 for single-factor passwords; at least 8)
    #[schema(minimum = 8, maximum = 64)]
    pub min_password_length: i64,
    /// Roles that must sign in with a second factor (an authenticator app): any of `requester`,
    /// `agent`, `lead`, `admin`. Default none
    #[schema(schema_with = crate::api_schema::role_list)]
    pub two_factor_roles: Vec<String>,
    /// Days people in those roles may still sign in without it, from when the rule was set (or
    /// their account created); then they must set it up at sign-in. Default 7
    #[schema(minimum = 0, maximum = 90)]
    pub two_factor_grace_days: i64,
    /// Sensitive changes (directory sources, security settings, resetting someone's two-factor
    /// sign-in, new API tokens of admins) ask people who use two-factor sign-in for a code again
    /// when their last one is older than this many minutes (default 15)
    #[schema(minimum = 1, maximum = 720)]
    pub step_up_minutes: i64,
    /// When the roles above last changed (set by Orion; ignored on input)
    #[schema(read_only)]
    pub two_factor_required_since: Option<i64>,
    /// Roles that sign in only through single sign-on: their password (local or directory) no
    /// longer signs them in, except break-glass accounts. Needs an enabled single sign-on
    /// provider. Default none
    #[schema(schema_with = crate::api_schema::role_list)]
    pub password_sign_in_off: Vec<String>,
    /// Approving or rejecting a change asks for the second factor again (like the other sensitive
    /// changes): approvers need two-factor sign-in, and API tokens cannot decide. Default false
    pub step_up_for_change_approval: bool,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            lockout_threshold: 5,
            lockout_minutes: 15,
            max_failures_per_address: 30,
            idle_timeout_minutes: 60,
            absolute_timeout_hours: 12,
            min_password_length: 15,
            two_factor_roles: Vec::new(),
            two_factor_grace_days: 7,
            step_up_minutes: 15,
            two_factor_required_since: None,
            password_sign_in_off: Vec::new(),
            step_up_for_change_approval: false,
        }
    }
}

impl SecuritySettings {
    pub(crate) fn lockout(&self) -> crate::auth::Lockout {
        crate::auth::Lockout { threshold: self.lockout_threshold, minutes: self.lockout_minutes }
    }

    fn check(&self) -> AppResult<()> {
        let mut errs = FieldErrors::new();
        let mut range = |field: &'static str, v: i64, lo: i64, hi: i64| {
            if !(lo..=hi).contains(&v) {
                errs.push(field, format!("must be between {lo} and {hi}"));
            }
        };
        range("lockout_threshold", self.lockout_threshold, 1, 100);
        range("lockout_minutes", self.lockout_minutes, 0, 7 * 24 * 60);
        range("max_failures_per_address", self.max_failures_per_address, 1, 100_000);
        range("idle_timeout_minutes", self.idle_timeout_minutes, 1, 7 * 24 * 60);
        range("absolute_timeout_hours", self.absolute_timeout_hours, 1, 30 * 24);
        range("min_password_length", self.min_password_length, 8, 64);
        range("two_factor_grace_days", self.two_factor_grace_days, 0, 90);
        range("step_up_minutes", self.step_up_minutes, 1, 720);
        for (field, list) in
            [("two_factor_roles", &self.two_factor_roles), ("password_sign_in_off", &self.password_sign_in_off)]
        {
            for r in list {
                if Role::parse(field, r).is_err() {
                    errs.push(field, format!("{r:?} is not a role (requester, agent, lead, admin)"));
                }
            }
        }
        errs.into_result().map_err(AppError::Validation)
    }
}

pub(crate) async fn load_settings(c: &mut Conn<'_>) -> AppResult<SecuritySettings> {
    match settings::get(c, SECURITY_SETTINGS).await? {
        Some(json) => {
            serde_json::from_str(&json).map_err(|e| AppError::Internal(format!("stored security settings: {e}")))
        }
        None => Ok(SecuritySettings::default()),
    }
}

/// Where a request came from, for throttling and the security log.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A signed-in browser: the cookie's secret and who it belongs to.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub actor: Actor,
}

/// What a right password leads to.
#[derive(Debug)]
pub enum SignInStep {
    /// Signed in
    Done(SignedIn),
    /// A second factor is needed: the challenge token (the browser keeps it for ten minutes)
    SecondFactor(String),
    /// The role requires two-factor sign-in and it is not set up yet: set it up under this challenge
    Enrol(String),
}

/// How long a sign-in waits for its second factor.
const CHALLENGE_MS: i64 = 10 * MINUTE_MS;
/// Wrong second factors one challenge takes before the password is asked again.
const CHALLENGE_TRIES: i64 = 5;

/// The user behind a valid session.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub actor: Actor,
    pub email: String,
    pub name: String,
    /// When the session ends at the latest (epoch ms)
    pub expires_at: i64,
}

/// Why a sign-in failed, as the sign-in page says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInError {
    /// Wrong e-mail or password, or the account is locked or deactivated (never told apart)
    Refused,
    /// Too many failures from this address; wait this many minutes
    Throttled(i64),
    /// The password was right, but this role signs in only through single sign-on
    SsoOnly,
}

/// One line of the security log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecurityEvent {
    pub id: i64,
    pub at: String,
    /// `sign_in`, `sign_in_failed`, `sign_in_throttled`, `account_locked`, `account_unlocked`, `sign_out`,
    /// `sign_out_everywhere`, `session_expired`, `password_changed`, `password_reset_requested`,
    /// `password_reset`, `token_created`, `token_revoked`, `cross_site_refused`, `ticket_restricted`,
    /// `ticket_unrestricted`, `retention_changed`, …
    pub kind: String,
    pub user_id: Option<i64>,
    pub email: Option<String>,
    pub ip: Option<String>,
    pub detail: String,
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn role_of(s: &str) -> AppResult<Role> {
    Role::parse("role", s).map_err(|e| AppError::Internal(e.to_string()))
}

/// Checks a new password against the policy: long enough, not too long, not a common password
/// (nor one with only digits or symbols added around a common word), not made of one repeated
/// character or a run like `123456…`, and not the user's own e-mail or name.
pub fn check_password(password: &str, min_len: i64, context: &[&str]) -> AppResult<()> {
    let len = password.chars().count() as i64;
    if len < min_len {
        return Err(invalid("password", format!("must be at least {min_len} characters")));
    }
    if password.len() > 1024 {
        return Err(invalid("password", "must be at most 1024 bytes"));
    }
    let lower = password.to_lowercase();
    let core = lower.trim_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c.is_whitespace());
    let common = |s: &str| !s.is_empty() && COMMON_PASSWORDS.lines().any(|l| l == s);
    if common(&lower) || (core.chars().count() >= 4 && common(core)) {
        return Err(invalid("password", "is too common; choose a longer phrase of your own"));
    }
    if core.is_empty() || core.chars().all(|c| core.starts_with(c)) || is_run(&lower) {
        return Err(invalid("password", "is too easy to guess (a repeated or sequential pattern)"));
    }
    for word in context.iter().map(|w| w.trim().to_lowercase()).filter(|w| w.chars().count() >= 4) {
        if core == word || core.contains(&word) && word.chars().count() * 2 >= core.chars().count() {
            return Err(invalid("password", "must not be built from your name or e-mail address"));
        }
    }
    Ok(())
}

/// A run of consecutive characters (`abcdef…`, `987654…`, `qwertyuiop…`) making up the password.
fn is_run(s: &str) -> bool {
    const ROWS: &[&str] = &["qwertyuiop", "asdfghjkl", "zxcvbnm", "qwertzuiop", "azertyuiop"];
    let cs: Vec<char> = s.chars().collect();
    let step = |d: i64| cs.windows(2).all(|w| w[1] as i64 - w[0] as i64 == d);
    // The first eight characters, not bytes: a password is any Unicode text.
    let head: String = cs.iter().take(8).collect();
    step(1) || step(-1) || ROWS.iter().any(|r| r.contains(s) || cs.len() >= 8 && r.starts_with(&head))
}

impl App {
    /// The security settings from the cached configuration.
    pub async fn security_settings(&self) -> AppResult<SecuritySettings> {
        let mut r = self.db.read().await?;
        Ok(self.config(&mut r.conn()).await?.security.clone())
    }

    pub async fn get_security_settings(&self, actor: &Actor) -> AppResult<SecuritySettings> {
        crate::kernel::access::require_admin(actor, "read security settings")?;
        self.security_settings().await
    }

    pub async fn set_security_settings(&self, actor: &Actor, s: SecuritySettings) -> AppResult<SecuritySettings> {
        crate::kernel::access::require_admin(actor, "change security settings")?;
        s.check()?;
        let mut s = s;
        s.two_factor_roles.sort();
        s.two_factor_roles.dedup();
        s.password_sign_in_off.sort();
        s.password_sign_in_off.dedup();
        if !s.password_sign_in_off.is_empty() && self.sso_buttons().await?.is_empty() {
            return Err(AppError::Conflict(
                "password sign-in can be turned off only while a single sign-on provider is enabled, or nobody in \
                 those roles could sign in"
                    .into(),
            ));
        }
        let old = self.security_settings().await?;
        s.two_factor_required_since = if s.two_factor_roles.is_empty() {
            None
        } else if old.two_factor_roles == s.two_factor_roles {
            old.two_factor_required_since
        } else {
            Some(self.now())
        };
        let json = serde_json::to_string(&s).map_err(|e| AppError::Internal(e.to_string()))?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        settings::put(&mut tx.conn(), SECURITY_SETTINGS, &json, now).await?;
        let detail = format!("security settings by user {}: {json}", actor.id.0);
        let e = web::NewEvent { kind: "settings_changed", user_id: None, email: None, ip: None, detail: &detail };
        web::log_event(&mut tx.conn(), &e, now).await?;
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(s)
    }

    /// Checks a password against the policy for the user with `email` and `name`.
    pub async fn check_password_policy(&self, password: &str, email: &str, name: &str) -> AppResult<()> {
        let min = self.security_settings().await?.min_password_length;
        let local = email.split('@').next().unwrap_or(email);
        check_password(password, min, &[email, local, name, "orion"])
    }

    /// Writes one line of the security log (also used by the web layer for refused requests).
    pub async fn log_security(
        &self,
        kind: &str,
        user_id: Option<i64>,
        email: Option<&str>,
        ip: Option<&str>,
        detail: &str,
    ) {
        let now = self.now();
        let res = async {
            let mut tx = self.db.begin().await?;
            web::log_event(&mut tx.conn(), &web::NewEvent { kind, user_id, email, ip, detail }, now).await?;
            self.commit(tx).await?;
            Ok::<_, AppError>(())
        }
        .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, kind, "could not write the security log");
        }
        metrics::counter!("orion_security_events_total", "kind" => kind.to_string()).increment(1);
    }

    /// Signs in with e-mail and password. On success the previous session of this browser (if
    /// any) ends, so the session id changes at sign-in.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        client: &Client,
        previous: Option<&str>,
    ) -> Result<SignInStep, SignInError> {
        self.try_sign_in(email, password, client, previous).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "sign-in failed on an internal error");
            Err(SignInError::Refused)
        })
    }

    async fn try_sign_in(
        &self,
        email: &str,
        password: &str,
        client: &Client,
        previous: Option<&str>,
    ) -> AppResult<Result<SignInStep, SignInError>> {
        let now = self.now();
        let s = self.security_settings().await?;
        let ip = client.ip.as_deref();
        let email = email.trim().to_lowercase();
        let shown = if email.chars().count() > 254 { &email[..0] } else { email.as_str() };
        if let Some(ip) = ip {
            let failures = {
                let mut r = self.db.read().await?;
                web::failures_from(&mut r.conn(), ip, now - THROTTLE_WINDOW_MS).await?
            };
            if failures >= s.max_failures_per_address {
                self.log_security(
                    "sign_in_throttled",
                    None,
                    Some(shown),
                    Some(ip),
                    "too many failures from this address",
                )
                .await;
                return Ok(Err(SignInError::Throttled(THROTTLE_WINDOW_MS / MINUTE_MS)));
            }
        }
        let creds = {
            let mut r = self.db.read().await?;
            web::credentials(&mut r.conn(), &email).await?
        };
        // A directory user signs in with their directory password (a bind as them), or with a
        // local one if they have it; break-glass accounts only ever with the local one.
        let directory =
            |u: &web::Credentials| (!u.break_glass).then(|| u.directory_source_id.zip(u.external_dn.clone())).flatten();
        // Unknown, deactivated and password-less accounts cost the same time as a wrong password.
        let Some(u) = creds.filter(|u| u.active && (u.password_hash.is_some() || directory(u).is_some())) else {
            crate::auth::verify_password(password.to_string(), dummy_hash().await).await;
            self.log_security("sign_in_failed", None, Some(shown), ip, "unknown, deactivated or without password")
                .await;
            return Ok(Err(SignInError::Refused));
        };
        let by_directory = match directory(&u) {
            Some((source, dn)) => self.directory_password_ok(source, &dn, password).await.unwrap_or(false),
            None => false,
        };
        let ok = by_directory
            || match &u.password_hash {
                Some(h) => crate::auth::verify_password(password.to_string(), h.clone()).await,
                None => false,
            };
        let locked = u.locked_until.is_some_and(|t| t > now);
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        if locked {
            let detail = if ok { "account locked (the password was right)" } else { "account locked" };
            web::log_event(&mut c, &event("sign_in_failed", &u, ip, detail), now).await?;
            self.commit(tx).await?;
            return Ok(Err(SignInError::Refused));
        }
        if !ok {
            crate::auth::count_failure(&mut c, (u.id, &u.email), ip, "wrong password", &s.lockout(), now).await?;
            self.commit(tx).await?;
            return Ok(Err(SignInError::Refused));
        }
        if !u.break_glass && s.password_sign_in_off.contains(&u.role) {
            let detail = "password right, but this role signs in only through single sign-on";
            web::log_event(&mut c, &event("sign_in_failed", &u, ip, detail), now).await?;
            self.commit(tx).await?;
            return Ok(Err(SignInError::SsoOnly));
        }
        drop(tx); // nothing written: the password is right
        let detail = if by_directory { "with the directory password" } else { "" };
        Ok(Ok(self.after_first_factor(&u, client, previous, None, true, detail).await?))
    }

    /// After the first factor (a password, or a provider's sign-in): Orion's second factor (or
    /// its set-up) when due and `second_factor` allows, else the session. `sso` is the provider
    /// and ID token of a single sign-on, kept for signing out there.
    pub(crate) async fn after_first_factor(
        &self,
        u: &web::Credentials,
        client: &Client,
        previous: Option<&str>,
        sso: Option<(i64, &str)>,
        second_factor: bool,
        how: &str,
    ) -> AppResult<SignInStep> {
        let now = self.now();
        let s = self.security_settings().await?;
        let ip = client.ip.as_deref();
        let step = if second_factor { self.after_password(u.id).await? } else { crate::mfa::AfterPassword::Done };
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        if !matches!(step, crate::mfa::AfterPassword::Done) {
            let token = random_secret();
            orion_store::mfa::delete_expired_challenges(&mut c, now).await?;
            orion_store::mfa::insert_challenge(&mut c, &sha256_hex(&token), u.id, now, now + CHALLENGE_MS).await?;
            if let Some((p, t)) = sso {
                orion_store::sso::set_provider(&mut c, orion_store::sso::Holder::Challenge, &sha256_hex(&token), p, t)
                    .await?;
            }
            let first = if sso.is_some() { how.to_string() } else { "password right".to_string() };
            let detail = if matches!(step, crate::mfa::AfterPassword::Enrol) {
                format!("{first}; two-factor set-up required")
            } else {
                format!("{first}; second factor asked")
            };
            web::log_event(&mut c, &event("sign_in_password_ok", u, ip, &detail), now).await?;
            self.commit(tx).await?;
            return Ok(match step {
                crate::mfa::AfterPassword::Enrol => SignInStep::Enrol(token),
                _ => SignInStep::SecondFactor(token),
            });
        }
        // A provider trusted to ask for a second factor counts as one for sensitive changes.
        let signed =
            self.open_session(&mut c, u, client, previous, &s, now, sso.is_some() && !second_factor, how).await?;
        if let Some((p, t)) = sso {
            orion_store::sso::set_provider(&mut c, orion_store::sso::Holder::Session, &sha256_hex(&signed.token), p, t)
                .await?;
        }
        self.commit(tx).await?;
        metrics::counter!("orion_security_events_total", "kind" => "sign_in").increment(1);
        Ok(SignInStep::Done(signed))
    }

    /// Starts a session for `u` (after every factor): ends this browser's previous one, clears the
    /// failure count, logs the sign-in.
    #[allow(clippy::too_many_arguments)]
    async fn open_session(
        &self,
        c: &mut Conn<'_>,
        u: &web::Credentials,
        client: &Client,
        previous: Option<&str>,
        s: &SecuritySettings,
        now: i64,
        second_factor: bool,
        detail: &str,
    ) -> AppResult<SignedIn> {
        let ip = client.ip.as_deref();
        if let Some(prev) = previous {
            web::delete_session(c, &sha256_hex(prev)).await?;
        }
        web::clear_failures(c, u.id).await?;
        web::delete_expired_sessions(c, now).await?;
        let token = random_secret();
        let expires = now + s.absolute_timeout_hours * 60 * MINUTE_MS;
        let agent = client.user_agent.as_deref().map(|a| a.chars().take(300).collect::<String>());
        web::insert_session(c, &sha256_hex(&token), u.id, now, expires, ip, agent.as_deref()).await?;
        if second_factor {
            // Signed in with a second factor: it counts as confirmed for sensitive changes.
            web::set_session_second_factor(c, &sha256_hex(&token), now).await?;
        }
        web::log_event(c, &event("sign_in", u, ip, detail), now).await?;
        Ok(SignedIn { token, actor: Actor { id: UserId(u.id), role: role_of(&u.role)? } })
    }

    /// The user a live challenge belongs to (active, not locked); `None` ends the attempt.
    pub(crate) async fn challenge_user(&self, challenge: &str) -> AppResult<Option<web::Credentials>> {
        if challenge.len() != 64 || !challenge.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let now = self.now();
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let Some(ch) = orion_store::mfa::challenge(&mut c, &sha256_hex(challenge)).await? else { return Ok(None) };
        if ch.expires_at <= now || ch.failures >= CHALLENGE_TRIES {
            return Ok(None);
        }
        let u = users::get(&mut c, ch.user_id).await?;
        let creds = web::credentials(&mut c, &u.email).await?;
        Ok(creds.filter(|u| u.active && u.locked_until.is_none_or(|t| t <= now)))
    }

    /// Whether a second-factor challenge is still open (for the page that asks for the code).
    pub async fn challenge_open(&self, challenge: &str) -> bool {
        matches!(self.challenge_user(challenge).await, Ok(Some(_)))
    }

    /// The second step of a sign-in: a code from the authenticator app or a recovery code. Wrong
    /// codes count towards the account's lockout, and five end the challenge.
    pub async fn sign_in_second_factor(
        &self,
        challenge: &str,
        code: &str,
        client: &Client,
        previous: Option<&str>,
    ) -> Result<SignedIn, SignInError> {
        let res = async {
            let Some(u) = self.challenge_user(challenge).await? else { return Ok(Err(SignInError::Refused)) };
            let ok = self.check_second_factor(u.id, code).await?;
            self.second_factor_result(challenge, &u, ok, client, previous, "with a second factor").await
        }
        .await;
        res.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "second factor failed on an internal error");
            Err(SignInError::Refused)
        })
    }

    /// After a second factor was checked (`ok`): the session, or the failure counted against the
    /// challenge and the account.
    pub(crate) async fn second_factor_result(
        &self,
        challenge: &str,
        u: &web::Credentials,
        ok: bool,
        client: &Client,
        previous: Option<&str>,
        how: &str,
    ) -> AppResult<Result<SignedIn, SignInError>> {
        let now = self.now();
        let s = self.security_settings().await?;
        let ip = client.ip.as_deref();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        if !ok {
            orion_store::mfa::challenge_failed(&mut c, &sha256_hex(challenge)).await?;
            crate::auth::count_failure(&mut c, (u.id, &u.email), ip, "wrong second factor", &s.lockout(), now).await?;
            self.commit(tx).await?;
            return Ok(Err(SignInError::Refused));
        }
        let sso =
            orion_store::sso::provider_of(&mut c, orion_store::sso::Holder::Challenge, &sha256_hex(challenge)).await?;
        orion_store::mfa::delete_challenge(&mut c, &sha256_hex(challenge)).await?;
        let how = if sso.is_some() { format!("through single sign-on, {how}") } else { how.to_string() };
        let signed = self.open_session(&mut c, u, client, previous, &s, now, true, &how).await?;
        if let Some((p, t)) = sso {
            orion_store::sso::set_provider(
                &mut c,
                orion_store::sso::Holder::Session,
                &sha256_hex(&signed.token),
                p,
                &t,
            )
            .await?;
        }
        self.commit(tx).await?;
        Ok(Ok(signed))
    }

    /// Set-up during sign-in (the role requires it): a new secret for the challenge's user.
    pub async fn challenge_enrolment(&self, challenge: &str) -> AppResult<crate::mfa::Enrolment> {
        let Some(u) = self.challenge_user(challenge).await? else { return Err(AppError::Unauthorized) };
        self.begin_enrolment_for(u.id).await
    }

    /// Confirms set-up during sign-in and signs in; returns the session and the recovery codes.
    pub async fn challenge_confirm_enrolment(
        &self,
        challenge: &str,
        code: &str,
        client: &Client,
        previous: Option<&str>,
    ) -> AppResult<(SignedIn, Vec<String>)> {
        let Some(u) = self.challenge_user(challenge).await? else { return Err(AppError::Unauthorized) };
        let codes = self.confirm_enrolment_for(u.id, code, client.ip.as_deref()).await?;
        let now = self.now();
        let s = self.security_settings().await?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let sso =
            orion_store::sso::provider_of(&mut c, orion_store::sso::Holder::Challenge, &sha256_hex(challenge)).await?;
        orion_store::mfa::delete_challenge(&mut c, &sha256_hex(challenge)).await?;
        let signed =
            self.open_session(&mut c, &u, client, previous, &s, now, true, "two-factor set up at sign-in").await?;
        if let Some((p, t)) = sso {
            orion_store::sso::set_provider(
                &mut c,
                orion_store::sso::Holder::Session,
                &sha256_hex(&signed.token),
                p,
                &t,
            )
            .await?;
        }
        self.commit(tx).await?;
        Ok((signed, codes))
    }

    /// The user behind a session cookie, if the session is valid; an expired one is ended.
    pub async fn session(&self, token: &str) -> AppResult<WebSession> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AppError::Unauthorized);
        }
        let now = self.now();
        let hash = sha256_hex(token);
        let row = {
            let mut r = self.db.read().await?;
            web::find_session(&mut r.conn(), &hash).await?
        };
        let Some(s) = row else { return Err(AppError::Unauthorized) };
        let settings = self.security_settings().await?;
        let idle_end = s.last_seen_at + settings.idle_timeout_minutes * MINUTE_MS;
        if !s.active || s.expires_at <= now || idle_end <= now {
            let mut tx = self.db.begin().await?;
            web::delete_session(&mut tx.conn(), &hash).await?;
            let why = if !s.active {
                "user deactivated"
            } else if s.expires_at <= now {
                "absolute timeout"
            } else {
                "idle timeout"
            };
            let e = web::NewEvent {
                kind: "session_expired",
                user_id: Some(s.user_id),
                email: Some(&s.email),
                ip: None,
                detail: why,
            };
            web::log_event(&mut tx.conn(), &e, now).await?;
            self.commit(tx).await?;
            return Err(AppError::Unauthorized);
        }
        if now - s.last_seen_at >= TOUCH_EVERY_MS {
            let mut tx = self.db.begin().await?;
            web::touch_session(&mut tx.conn(), &hash, now).await?;
            self.commit(tx).await?;
        }
        Ok(WebSession {
            actor: Actor { id: UserId(s.user_id), role: role_of(&s.role)? },
            email: s.email,
            name: s.name,
            expires_at: s.expires_at,
        })
    }

    /// Ends this browser's session. When a single sign-on provider signed it in and signs out
    /// too, returns where to send the browser for that (then back to `after`).
    pub async fn sign_out(&self, token: &str, client: &Client, after: Option<&str>) -> AppResult<Option<String>> {
        let Ok(s) = self.session(token).await else { return Ok(None) };
        let sso = {
            let mut r = self.db.read().await?;
            orion_store::sso::provider_of(&mut r.conn(), orion_store::sso::Holder::Session, &sha256_hex(token)).await?
        };
        let mut tx = self.db.begin().await?;
        web::delete_session(&mut tx.conn(), &sha256_hex(token)).await?;
        let e = web::NewEvent {
            kind: "sign_out",
            user_id: Some(s.actor.id.0),
            email: Some(&s.email),
            ip: client.ip.as_deref(),
            detail: "",
        };
        web::log_event(&mut tx.conn(), &e, self.now()).await?;
        self.commit(tx).await?;
        Ok(match sso {
            Some((provider, id_token)) => self.provider_sign_out_url(provider, &id_token, after).await,
            None => None,
        })
    }

    /// Ends every session of the caller (all browsers, all devices); returns how many ended.
    pub async fn sign_out_everywhere(&self, actor: &Actor, client: &Client) -> AppResult<u64> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let u = users::get(&mut c, actor.id.0).await?;
        let n = web::delete_sessions_of(&mut c, u.id).await?;
        let detail = format!("{n} session(s) ended");
        let e = web::NewEvent {
            kind: "sign_out_everywhere",
            user_id: Some(u.id),
            email: Some(&u.email),
            ip: client.ip.as_deref(),
            detail: &detail,
        };
        web::log_event(&mut c, &e, now).await?;
        self.commit(tx).await?;
        Ok(n)
    }

    /// Changes the caller's own password (the current one is required); every other session of
    /// theirs ends.
    pub async fn change_own_password(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
        keep_session: Option<&str>,
        client: &Client,
    ) -> AppResult<()> {
        let (u, hash) = {
            let mut r = self.db.read().await?;
            let u = users::get(&mut r.conn(), actor.id.0).await?;
            let creds = web::credentials(&mut r.conn(), &u.email).await?;
            (u, creds.and_then(|c| c.password_hash))
        };
        let ok = match hash {
            Some(h) => crate::auth::verify_password(current.to_string(), h).await,
            None => false,
        };
        if !ok {
            return Err(invalid("current_password", "is not your current password"));
        }
        self.check_password_policy(new, &u.email, &u.name).await?;
        self.store_password(u.id, &u.email, new, "password_changed", "by the user", keep_session, client).await
    }

    /// Writes a new password hash: lockout lifted, reset links voided, sessions ended but
    /// `keep_session`, logged as `kind`.
    #[allow(clippy::too_many_arguments)]
    async fn store_password(
        &self,
        user_id: i64,
        email: &str,
        password: &str,
        kind: &str,
        detail: &str,
        keep_session: Option<&str>,
        client: &Client,
    ) -> AppResult<()> {
        let hash = crate::auth::hash_password(password.to_string()).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        users::set_password_hash(&mut c, user_id, &hash, now).await?;
        web::set_password_changed(&mut c, user_id, now).await?;
        web::clear_failures(&mut c, user_id).await?;
        web::void_resets_of(&mut c, user_id, now).await?;
        web::delete_sessions_of(&mut c, user_id).await?;
        if let Some(keep) = keep_session {
            // The session that changed the password stays: it is re-created under the same id.
            let s = self.security_settings().await?;
            let expires = now + s.absolute_timeout_hours * 60 * MINUTE_MS;
            web::insert_session(&mut c, &sha256_hex(keep), user_id, now, expires, client.ip.as_deref(), None).await?;
        }
        let e = web::NewEvent { kind, user_id: Some(user_id), email: Some(email), ip: client.ip.as_deref(), detail };
        web::log_event(&mut c, &e, now).await?;
        self.commit(tx).await?;
        self.tokens_changed().await;
        Ok(())
    }

    /// Sets a user's password from the CLI or an admin (`orion user reset-password`): the policy
    /// applies, the lockout is lifted and every session of theirs ends.
    pub async fn set_password(&self, email: &str, password: String) -> AppResult<()> {
        let email = Email::parse("email", email)?;
        let u = {
            let mut r = self.db.read().await?;
            users::find_by_email(&mut r.conn(), email.as_str()).await?.ok_or(AppError::NotFound("user"))?
        };
        self.check_password_policy(&password, &u.email, &u.name).await?;
        self.store_password(u.id, &u.email, &password, "password_reset", "by an operator", None, &Client::default())
            .await
    }

    /// Sends a one-time link to set a new password, if `email` belongs to an active account and
    /// mail can be sent. Says nothing about whether the account exists: the caller shows the same
    /// answer either way. Errors only when Orion cannot send password mail at all.
    pub async fn request_password_reset(&self, email: &str, client: &Client) -> AppResult<()> {
        let settings = self.mail_settings().await?;
        let (Some(from), Some(portal)) = (settings.sender().map(str::to_string), settings.portal_url.clone()) else {
            return Err(AppError::Conflict(
                "password reset by mail is not set up (it needs a sender address and the portal URL in the mail settings)"
                    .into(),
            ));
        };
        let now = self.now();
        let ip = client.ip.as_deref();
        let email = email.trim().to_lowercase();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let Some(u) = users::find_by_email(&mut c, &email).await?.filter(|u| u.active) else {
            let e = web::NewEvent {
                kind: "password_reset_requested",
                user_id: None,
                email: Some(&email),
                ip,
                detail: "no such active account; nothing sent",
            };
            web::log_event(&mut c, &e, now).await?;
            self.commit(tx).await?;
            return Ok(());
        };
        let sso_only = self.security_settings().await?.password_sign_in_off.contains(&u.role) && !u.break_glass;
        if sso_only {
            let e = web::NewEvent {
                kind: "password_reset_requested",
                user_id: Some(u.id),
                email: Some(&u.email),
                ip,
                detail: "this role signs in only through single sign-on; nothing sent",
            };
            web::log_event(&mut c, &e, now).await?;
            self.commit(tx).await?;
            return Ok(());
        }
        if web::resets_since(&mut c, u.id, now - 60 * MINUTE_MS).await? >= RESETS_PER_HOUR {
            let e = web::NewEvent {
                kind: "password_reset_requested",
                user_id: Some(u.id),
                email: Some(&u.email),
                ip,
                detail: "too many requests this hour; nothing sent",
            };
            web::log_event(&mut c, &e, now).await?;
            self.commit(tx).await?;
            return Ok(());
        }
        let secret = random_secret();
        web::insert_reset(&mut c, &sha256_hex(&secret), u.id, now, now + RESET_MINUTES * MINUTE_MS).await?;
        let ctx = json!({
            "user": {"name": u.name, "email": u.email},
            "helpdesk": {"name": settings.from_name, "address": from},
            "reset_url": format!("{}/password/reset/{secret}", portal.trim_end_matches('/')),
            "expires_minutes": RESET_MINUTES,
        });
        crate::sending::queue_account_mail(
            &mut c,
            &self.mail_rt.templates,
            "password_reset",
            &settings.from_name,
            &from,
            &u.email,
            &ctx,
            now,
        )
        .await?;
        let e = web::NewEvent {
            kind: "password_reset_requested",
            user_id: Some(u.id),
            email: Some(&u.email),
            ip,
            detail: "link sent",
        };
        web::log_event(&mut c, &e, now).await?;
        self.commit(tx).await?;
        self.job_wake.notify_one();
        Ok(())
    }

    /// Whether a reset link still works (the page asks before showing the form).
    pub async fn reset_link_usable(&self, secret: &str) -> AppResult<bool> {
        let mut r = self.db.read().await?;
        Ok(web::reset_usable(&mut r.conn(), &sha256_hex(secret), self.now()).await?)
    }

    /// Uses a reset link to set a new password; the link works once. A password the policy
    /// refuses leaves the link usable for another try.
    pub async fn reset_password(&self, secret: &str, password: &str, client: &Client) -> AppResult<()> {
        let hash = sha256_hex(secret);
        let expired = || invalid("link", "this link has expired or was already used; ask for a new one");
        let mut tx = self.db.begin().await?;
        let id = web::take_reset(&mut tx.conn(), &hash, self.now()).await?.ok_or_else(expired)?;
        let u = users::get(&mut tx.conn(), id).await?;
        self.check_password_policy(password, &u.email, &u.name).await?;
        self.commit(tx).await?;
        self.store_password(u.id, &u.email, password, "password_reset", "with an e-mailed link", None, client).await
    }

    /// Lifts a lockout (admins).
    pub async fn unlock_user(&self, actor: &Actor, user_id: i64) -> AppResult<()> {
        crate::kernel::access::require_admin(actor, "unlock accounts")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let u = crate::kernel::error::found(users::get(&mut c, user_id).await, "user")?;
        web::clear_failures(&mut c, u.id).await?;
        let detail = format!("by user {}", actor.id.0);
        let e = web::NewEvent {
            kind: "account_unlocked",
            user_id: Some(u.id),
            email: Some(&u.email),
            ip: None,
            detail: &detail,
        };
        web::log_event(&mut c, &e, now).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Whether a user is locked out now, and the failures in a row (admins).
    pub async fn lock_state(&self, actor: &Actor, user_id: i64) -> AppResult<(bool, i64)> {
        crate::kernel::access::require_admin(actor, "see lockouts")?;
        let mut r = self.db.read().await?;
        let (failures, until) = crate::kernel::error::found(web::lock_state(&mut r.conn(), user_id).await, "user")?;
        Ok((until.is_some_and(|t| t > self.now()), failures))
    }

    /// The security log, newest first (admins).
    pub async fn security_log(
        &self,
        actor: &Actor,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<SecurityEvent>> {
        crate::kernel::access::require_admin(actor, "read the security log")?;
        let limit = parse_limit(limit)?;
        let before = parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut rows = web::list_events(&mut r.conn(), before, limit + 1).await?;
        let next_cursor = keyset_cursor(&mut rows, limit, |e| e.id);
        let items = rows
            .into_iter()
            .map(|e| SecurityEvent {
                id: e.id,
                at: Timestamp(e.at).to_rfc3339(),
                kind: e.kind,
                user_id: e.user_id,
                email: e.email,
                ip: e.ip,
                detail: e.detail,
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    /// Every API token with its owner, newest first (admins).
    pub async fn list_all_tokens(
        &self,
        actor: &Actor,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<tokens::TokenWithOwner>> {
        crate::kernel::access::require_admin(actor, "list every API token")?;
        let limit = parse_limit(limit)?;
        let before = parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut rows = tokens::list_all(&mut r.conn(), before, limit + 1).await?;
        let next_cursor = keyset_cursor(&mut rows, limit, |t| t.id);
        Ok(Page { items: rows, next_cursor })
    }

    /// Revokes anyone's token (admins).
    pub async fn revoke_any_token(&self, actor: &Actor, token_id: i64) -> AppResult<()> {
        crate::kernel::access::require_admin(actor, "revoke others' API tokens")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let (found, owner) = tokens::revoke_any(&mut c, token_id, now).await?;
        let owner = owner.ok_or(AppError::NotFound("token"))?;
        if found == tokens::Revoked::Already {
            return Ok(());
        }
        let detail = format!("token {token_id} by admin {}", actor.id.0);
        let e = web::NewEvent { kind: "token_revoked", user_id: Some(owner), email: None, ip: None, detail: &detail };
        web::log_event(&mut c, &e, now).await?;
        self.commit(tx).await?;
        self.tokens_changed().await;
        Ok(())
    }
}

fn event<'a>(kind: &'a str, u: &'a web::Credentials, ip: Option<&'a str>, detail: &'a str) -> web::NewEvent<'a> {
    web::NewEvent { kind, user_id: Some(u.id), email: Some(&u.email), ip, detail }
}

/// A valid Argon2id hash of nothing anyone knows, so a sign-in for an unknown account takes as
/// long as one for a known account.
async fn dummy_hash() -> String {
    static HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    HASH.get_or_init(|| async { crate::auth::hash_password(random_secret()).await.unwrap_or_default() }).await.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_refuses_common_patterned_and_personal_passwords() {
        let ok = |p: &str| check_password(p, 15, &["anna.berg@example.com", "anna.berg", "Anna Berg"]);
        assert!(ok("my printer eats blue paper").is_ok());
        assert!(ok("short").is_err(), "too short");
        for bad in ["password1234567", "Password1234567!", "qwertyuiopasdfg", "aaaaaaaaaaaaaaaa", "123456789012345"] {
            assert!(ok(bad).is_err(), "{bad} must be refused");
        }
        assert!(ok("anna.berg@example.com").is_err(), "own address");
        assert!(ok("abcdefghijklmnop").is_err(), "a run");
        // No composition rules: all lower case and spaces is fine.
        assert!(ok("correct horse battery staple").is_ok());
    }

    #[test]
    fn passwords_in_any_script_are_judged_not_panicked_on() {
        let ok = |p: &str| check_password(p, 15, &["anna.berg@example.com"]);
        // The 8th byte falls inside a character in each of these (it once panicked the request).
        for fine in [
            "abcdefgé horse battery staple",
            "我的打印机总是卡纸了怎么办呢朋友们",
            "パスワードは長い文章がいいです",
            "qwertyu€ horse battery",
        ] {
            assert!(ok(fine).is_ok(), "{fine} must be accepted");
        }
        assert!(ok("ééééééééééééééééé").is_err(), "a repeated character in any script is still refused");
        assert!(is_run("qwertyuiop"));
        assert!(!is_run("qwertyu€iop"));
    }
}
