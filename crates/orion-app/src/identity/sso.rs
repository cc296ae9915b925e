//! Single sign-on with OpenID Connect.
//!
//! A provider is found by discovery (`/.well-known/openid-configuration`); a sign-in is the
//! authorisation code flow with PKCE (S256), a random state (one use, ten minutes, bound to the
//! browser by a cookie in the web layer) and a nonce; the ID token's signature (the provider's
//! JWKS), issuer, audience, expiry and nonce are checked by `openidconnect`, and the access token
//! hash when the token carries one. The provider account (issuer subject) is linked to one Orion
//! user: found by an earlier link, by the directory's stable id in a claim, or by a verified
//! e-mail address, else created when the provider may create users. Group claims map to roles and
//! support groups as directory group rules do; a directory-managed user keeps what the directory
//! says. Orion's own two-factor rules apply after the provider unless the provider is trusted to
//! ask for a second factor itself. Sign-out ends the Orion session and, where the provider
//! supports it, the provider's (RP-initiated logout with the ID token as hint).

use super::config::one_line;
use crate::kernel::access::require_admin;
use crate::kernel::error::{found, invalid};
use crate::signin::{Client, SignInStep};
use crate::{App, AppError, AppResult};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, LogoutRequest, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, Scope, TokenResponse,
};
use orion_domain::{Actor, FieldErrors, Role};
use orion_store::sso::{self as store, LoginRow, ProviderRow, ProviderSettings};
use orion_store::{groups, users, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::time::Duration;
use utoipa::ToSchema;

/// How long a sign-in may stay at the provider.
const LOGIN_MS: i64 = 10 * 60_000;
/// The longest an answer from a provider may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Members of a provider group (a value of the groups claim) get an Orion role, a support group,
/// or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoGroupRule {
    /// A value of the groups claim, e.g. `it-helpdesk` (compared exactly)
    pub group: String,
    /// `requester`, `agent`, `lead` or `admin`; a user in several groups gets the highest
    pub role: Option<String>,
    /// An Orion support group the members join (and leave when the provider stops listing them)
    pub orion_group: Option<String>,
}

/// `POST /api/v1/sso/providers`, `PUT /api/v1/sso/providers/{id}` (on update, what is left out
/// keeps its stored value).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoProviderInput {
    /// Shown on the sign-in page as "Sign in with <name>"
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: Option<String>,
    /// Buttons are shown in this order (lowest first). Default: after the others
    pub position: Option<i64>,
    /// The issuer, e.g. `https://login.example.org/realms/staff`; its
    /// `/.well-known/openid-configuration` is read. `https://` (plain `http://` only on this machine)
    #[schema(min_length = 1, pattern = "^https?://[^\\s/?#]+")]
    pub issuer_url: Option<String>,
    /// The client id Orion is registered under at the provider
    #[schema(min_length = 1, pattern = "\\S")]
    pub client_id: Option<String>,
    /// The client secret; write-only. On update, leave out to keep the stored one
    pub client_secret: Option<String>,
    /// Instead of `client_secret`: a file name in the data directory's `secrets/` folder
    pub client_secret_file: Option<String>,
    /// PEM certificate(s) of a private CA that signed the provider's certificate, trusted besides
    /// the system's
    pub ca_pem: Option<String>,
    /// Scopes asked for besides `openid`. Default `email`, `profile`
    pub scopes: Option<Vec<String>>,
    /// The claim with the e-mail address. Default `email`
    pub email_claim: Option<String>,
    /// The claim with the display name. Default `name`
    pub name_claim: Option<String>,
    /// The claim listing the user's groups. Default `groups`
    pub groups_claim: Option<String>,
    /// A claim holding the directory's stable id (`objectGUID`, `entryUUID`), to find a synced
    /// user even when the e-mail differs. Default none
    pub stable_id_claim: Option<String>,
    pub group_rules: Option<Vec<SsoGroupRule>>,
    /// Create an account at the first sign-in of someone Orion does not know (default true);
    /// otherwise only existing users may sign in this way
    pub create_users: Option<bool>,
    /// The role of an account created at sign-in when no rule gives one: `requester` (default)
    /// or `agent`
    pub new_user_role: Option<String>,
    /// The provider asks for a second factor itself: Orion does not ask for its own after it.
    /// Default false
    pub provider_checks_second_factor: Option<bool>,
    /// Signing out of Orion signs out at the provider too, where it supports that. Default true
    pub sign_out_at_provider: Option<bool>,
    /// Default true
    pub enabled: Option<bool>,
}

/// The stored settings, every default filled in.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProviderConfig {
    issuer_url: String,
    client_id: String,
    client_secret_file: Option<String>,
    ca_pem: Option<String>,
    scopes: Vec<String>,
    email_claim: String,
    name_claim: String,
    groups_claim: String,
    stable_id_claim: Option<String>,
    group_rules: Vec<SsoGroupRule>,
    create_users: bool,
    new_user_role: String,
    provider_checks_second_factor: bool,
    sign_out_at_provider: bool,
}

impl ProviderConfig {
    fn maps_roles(&self) -> bool {
        self.group_rules.iter().any(|r| r.role.is_some())
    }
}

/// A single sign-on provider as admins see it (never the secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SsoProvider {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub issuer_url: String,
    pub client_id: String,
    /// Whether a client secret is stored
    pub has_secret: bool,
    pub client_secret_file: Option<String>,
    /// Whether a CA certificate is stored
    pub has_ca: bool,
    pub scopes: Vec<String>,
    pub email_claim: String,
    pub name_claim: String,
    pub groups_claim: String,
    pub stable_id_claim: Option<String>,
    pub group_rules: Vec<SsoGroupRule>,
    pub create_users: bool,
    pub new_user_role: String,
    pub provider_checks_second_factor: bool,
    pub sign_out_at_provider: bool,
    pub enabled: bool,
    /// Users who have signed in through it
    pub users: i64,
}

/// A provider as the sign-in page offers it.
#[derive(Debug, Clone)]
pub struct SsoButton {
    pub id: i64,
    pub name: String,
}

/// Why a single sign-on did not sign anyone in, in words for the sign-in page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoRefused(pub String);

fn refused(why: impl Into<String>) -> SsoRefused {
    SsoRefused(why.into())
}

fn parse_stored(json: &str) -> AppResult<ProviderConfig> {
    serde_json::from_str(json).map_err(|e| AppError::Internal(format!("stored SSO provider settings: {e}")))
}

fn view(r: &ProviderRow, cfg: &ProviderConfig, users: i64) -> SsoProvider {
    SsoProvider {
        id: r.id,
        name: r.name.clone(),
        position: r.position,
        issuer_url: cfg.issuer_url.clone(),
        client_id: cfg.client_id.clone(),
        has_secret: r.secret.is_some(),
        client_secret_file: cfg.client_secret_file.clone(),
        has_ca: cfg.ca_pem.is_some(),
        scopes: cfg.scopes.clone(),
        email_claim: cfg.email_claim.clone(),
        name_claim: cfg.name_claim.clone(),
        groups_claim: cfg.groups_claim.clone(),
        stable_id_claim: cfg.stable_id_claim.clone(),
        group_rules: cfg.group_rules.clone(),
        create_users: cfg.create_users,
        new_user_role: cfg.new_user_role.clone(),
        provider_checks_second_factor: cfg.provider_checks_second_factor,
        sign_out_at_provider: cfg.sign_out_at_provider,
        enabled: r.enabled,
        users,
    }
}

fn is_claim_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.'))
}

/// Whether `host` is this machine: the only place a plain-HTTP provider is accepted.
fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()) || host == "[::1]"
}

struct Checked {
    name: String,
    position: Option<i64>,
    enabled: bool,
    secret: Option<String>,
    config: ProviderConfig,
}

/// Checks an admin's input against the stored provider (on update: a left-out secret is kept,
/// left-out settings keep their stored value).
fn check(i: &SsoProviderInput, existing: Option<(&ProviderConfig, Option<&str>, &str, bool)>) -> AppResult<Checked> {
    let mut errs = FieldErrors::new();
    let old = existing.map(|e| e.0);
    for (field, v) in [("name", &i.name), ("issuer_url", &i.issuer_url), ("client_id", &i.client_id)] {
        if v.as_deref().is_some_and(|v| v.trim().is_empty()) {
            errs.push(field, "must not be empty");
        }
    }
    let name = one_line(&mut errs, "name", i.name.as_deref(), 60).or_else(|| existing.map(|e| e.2.to_string()));
    if name.is_none() {
        errs.push("name", "is required (it is shown as \"Sign in with <name>\")");
    }
    let issuer_url = one_line(&mut errs, "issuer_url", i.issuer_url.as_deref(), 300)
        .map(|u| u.trim_end_matches('/').to_string())
        .or_else(|| old.map(|o| o.issuer_url.clone()));
    match &issuer_url {
        None => errs.push("issuer_url", "is required, e.g. https://login.example.org/realms/staff"),
        Some(u) => match url::Url::parse(u) {
            Ok(p) if p.scheme() == "https" && p.host_str().is_some() => {}
            Ok(p) if p.scheme() == "http" && p.host_str().is_some_and(is_loopback) => {}
            Ok(p) if p.scheme() == "http" => {
                errs.push("issuer_url", "must use https:// (plain http:// only for a provider on this machine)")
            }
            _ => errs.push("issuer_url", "must be a URL like https://login.example.org/realms/staff"),
        },
    }
    if issuer_url.as_deref().is_some_and(|u| u.contains(['?', '#'])) {
        errs.push("issuer_url", "must not have a query or fragment");
    }
    let client_id =
        one_line(&mut errs, "client_id", i.client_id.as_deref(), 300).or_else(|| old.map(|o| o.client_id.clone()));
    if client_id.is_none() {
        errs.push("client_id", "is required");
    }
    let client_secret_file = match &i.client_secret_file {
        Some(f) => one_line(&mut errs, "client_secret_file", Some(f), 200),
        None => old.and_then(|o| o.client_secret_file.clone()),
    };
    if let Some(f) = &client_secret_file
        && !super::config::plain_file_name(f)
    {
        errs.push("client_secret_file", "must be a plain file name in the data directory's secrets/ folder");
    }
    let secret = match (&i.client_secret, &i.client_secret_file) {
        (Some(_), Some(_)) => {
            errs.push("client_secret", "give either client_secret or client_secret_file");
            None
        }
        (Some(s), None) if s.is_empty() => None,
        (Some(s), None) if s.len() > 1000 || s.contains(['\r', '\n']) => {
            errs.push("client_secret", "must be one line of at most 1000 bytes");
            None
        }
        (Some(s), None) => Some(s.clone()),
        (None, Some(_)) => None,
        (None, None) => existing.and_then(|e| e.1.map(str::to_string)),
    };
    let ca_pem = match &i.ca_pem {
        Some(p) if p.trim().is_empty() => None,
        Some(p) => {
            if reqwest::Certificate::from_pem_bundle(p.as_bytes()).map_or(true, |v| v.is_empty()) {
                errs.push("ca_pem", "is not a PEM certificate (-----BEGIN CERTIFICATE-----)");
            }
            Some(p.trim().to_string())
        }
        None => old.and_then(|o| o.ca_pem.clone()),
    };
    let scopes = match &i.scopes {
        Some(v) => {
            let mut out = Vec::new();
            for (n, s) in v.iter().enumerate() {
                let s = s.trim();
                if s.is_empty() || s.len() > 100 || !s.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\') {
                    errs.push(format!("scopes[{n}]"), "must be one word of printable characters");
                } else if s != "openid" && !out.iter().any(|o| o == s) {
                    out.push(s.to_string());
                }
            }
            out
        }
        None => old.map_or_else(|| vec!["email".to_string(), "profile".to_string()], |o| o.scopes.clone()),
    };
    let mut claim = |field: &'static str, v: &Option<String>, stored: Option<String>, default: &str| -> String {
        match v.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => {
                if !is_claim_name(c) {
                    errs.push(field, "must be a claim name (letters, digits, _ - : .)");
                }
                c.to_string()
            }
            Some(_) => default.to_string(),
            None => stored.unwrap_or_else(|| default.to_string()),
        }
    };
    let email_claim = claim("email_claim", &i.email_claim, old.map(|o| o.email_claim.clone()), "email");
    let name_claim = claim("name_claim", &i.name_claim, old.map(|o| o.name_claim.clone()), "name");
    let groups_claim = claim("groups_claim", &i.groups_claim, old.map(|o| o.groups_claim.clone()), "groups");
    let stable_id_claim = match i.stable_id_claim.as_deref().map(str::trim) {
        Some("") => None,
        Some(c) => {
            if !is_claim_name(c) {
                errs.push("stable_id_claim", "must be a claim name (letters, digits, _ - : .)");
            }
            Some(c.to_string())
        }
        None => old.and_then(|o| o.stable_id_claim.clone()),
    };
    let group_rules = match &i.group_rules {
        Some(rules) => {
            let mut out = Vec::new();
            for (n, r) in rules.iter().enumerate() {
                let group = r.group.trim();
                if group.is_empty() || group.len() > 300 {
                    errs.push(format!("group_rules[{n}].group"), "must be a group name of at most 300 characters");
                }
                let role = r.role.as_deref().map(str::trim).filter(|s| !s.is_empty());
                if let Some(role) = role
                    && Role::parse("role", role).is_err()
                {
                    errs.push(format!("group_rules[{n}].role"), "expected requester, agent, lead or admin");
                }
                let orion_group = r.orion_group.as_deref().map(str::trim).filter(|s| !s.is_empty());
                if role.is_none() && orion_group.is_none() {
                    errs.push(format!("group_rules[{n}]"), "give a role, a support group, or both");
                }
                out.push(SsoGroupRule {
                    group: group.to_string(),
                    role: role.map(str::to_string),
                    orion_group: orion_group.map(str::to_string),
                });
            }
            out
        }
        None => old.map(|o| o.group_rules.clone()).unwrap_or_default(),
    };
    let new_user_role = match i.new_user_role.as_deref().map(str::trim) {
        Some(r @ ("requester" | "agent")) => r.to_string(),
        Some(_) => {
            errs.push("new_user_role", "expected requester or agent (give higher roles through group rules)");
            "requester".to_string()
        }
        None => old.map_or_else(|| "requester".to_string(), |o| o.new_user_role.clone()),
    };
    if let Some(p) = i.position
        && !(0..=1_000_000).contains(&p)
    {
        errs.push("position", "must be between 0 and 1000000");
    }
    errs.into_result()?;
    let (Some(name), Some(issuer_url), Some(client_id)) = (name, issuer_url, client_id) else {
        return Err(AppError::Internal("validated input incomplete".into()));
    };
    Ok(Checked {
        name,
        position: i.position,
        enabled: i.enabled.or(existing.map(|e| e.3)).unwrap_or(true),
        secret,
        config: ProviderConfig {
            issuer_url,
            client_id,
            client_secret_file,
            ca_pem,
            scopes,
            email_claim,
            name_claim,
            groups_claim,
            stable_id_claim,
            group_rules,
            create_users: i.create_users.or(old.map(|o| o.create_users)).unwrap_or(true),
            new_user_role,
            provider_checks_second_factor: i
                .provider_checks_second_factor
                .or(old.map(|o| o.provider_checks_second_factor))
                .unwrap_or(false),
            sign_out_at_provider: i.sign_out_at_provider.or(old.map(|o| o.sign_out_at_provider)).unwrap_or(true),
        },
    })
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn name_taken(e: orion_store::StoreError) -> AppError {
    match e {
        orion_store::StoreError::Duplicate => invalid("name", "another provider has this name"),
        e => e.into(),
    }
}

/// A change to the SSO settings, in the security log.
async fn log_change(c: &mut orion_store::Conn<'_>, actor: &Actor, detail: &str, now: i64) -> AppResult<()> {
    let user_id = (actor.id.0 > 0).then_some(actor.id.0);
    let e = web::NewEvent { kind: "sso_changed", user_id, email: None, ip: None, detail };
    Ok(web::log_event(c, &e, now).await?)
}

/// The claims of a sign-in: the ID token's, completed from the userinfo endpoint.
struct Claims(serde_json::Map<String, Value>);

impl Claims {
    fn text(&self, name: &str) -> Option<String> {
        match self.0.get(name)? {
            Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A list claim (or one value), e.g. the groups.
    fn list(&self, name: &str) -> Vec<String> {
        match self.0.get(name) {
            Some(Value::Array(v)) => v.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }
}

/// The payload of a compact JWS whose signature has been verified, as JSON.
fn payload_of(jwt: &str) -> Option<serde_json::Map<String, Value>> {
    use data_encoding::BASE64URL_NOPAD;
    let part = jwt.split('.').nth(1)?;
    let bytes = BASE64URL_NOPAD.decode(part.trim_end_matches('=').as_bytes()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// What the group rules give someone in `groups`: the highest role, and the support groups of
/// every matching rule (with those of the rules that did not match, to leave).
fn map_groups(cfg: &ProviderConfig, groups: &[String]) -> (Option<Role>, BTreeSet<String>, BTreeSet<String>) {
    let mut role: Option<Role> = None;
    let mut join = BTreeSet::new();
    let mut managed = BTreeSet::new();
    for r in &cfg.group_rules {
        let hit = groups.iter().any(|g| g == &r.group);
        if let Some(g) = &r.orion_group {
            managed.insert(g.clone());
            if hit {
                join.insert(g.clone());
            }
        }
        if hit && let Some(rr) = r.role.as_deref().and_then(|s| Role::parse("role", s).ok()) {
            role = Some(role.map_or(rr, |cur| cur.max(rr)));
        }
    }
    let leave = managed.difference(&join).cloned().collect();
    (role, join, leave)
}

impl App {
    /// The HTTP client that speaks to a provider: no redirects followed (a token or discovery
    /// answer that redirects is refused, never forwarded), a timeout, the system's CAs and a
    /// pasted one.
    fn sso_http(&self, cfg: &ProviderConfig) -> AppResult<reqwest::Client> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(HTTP_TIMEOUT)
            .user_agent("Orion single sign-on");
        if let Some(pem) = &cfg.ca_pem {
            for c in reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| AppError::Internal(format!("stored CA certificate: {e}")))?
            {
                b = b.add_root_certificate(c);
            }
        }
        b.build().map_err(|e| AppError::Internal(format!("HTTP client: {e}")))
    }

    fn sso_secret(&self, row: &ProviderRow, cfg: &ProviderConfig) -> Result<Option<String>, String> {
        match (&cfg.client_secret_file, &row.secret) {
            (Some(file), _) => self.mail_rt.read_secret_file(file).map(Some),
            (None, s) => Ok(s.clone()),
        }
    }

    /// Reads the provider's discovery document (and its keys).
    async fn discover(&self, cfg: &ProviderConfig) -> Result<(ProviderMetadataWithLogout, reqwest::Client), String> {
        let http = self.sso_http(cfg).map_err(|e| e.to_string())?;
        let issuer = IssuerUrl::new(cfg.issuer_url.clone()).map_err(|e| format!("issuer URL: {e}"))?;
        let meta = ProviderMetadataWithLogout::discover_async(issuer, &http)
            .await
            .map_err(|e| format!("could not read the provider's OpenID configuration: {}", error_chain(&e)))?;
        Ok((meta, http))
    }

    pub async fn list_sso_providers(&self, actor: &Actor) -> AppResult<Vec<SsoProvider>> {
        require_admin(actor, "manage single sign-on")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let rows = store::list_providers(&mut c).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let cfg = parse_stored(&row.settings)?;
            let n = store::count_linked(&mut c, row.id).await?;
            out.push(view(&row, &cfg, n));
        }
        Ok(out)
    }

    pub async fn get_sso_provider(&self, actor: &Actor, id: i64) -> AppResult<SsoProvider> {
        require_admin(actor, "manage single sign-on")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let row = found(store::get_provider(&mut c, id).await, "single sign-on provider")?;
        let cfg = parse_stored(&row.settings)?;
        let n = store::count_linked(&mut c, id).await?;
        Ok(view(&row, &cfg, n))
    }

    async fn check_orion_groups(&self, cfg: &ProviderConfig) -> AppResult<()> {
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let mut errs = FieldErrors::new();
        for (n, rule) in cfg.group_rules.iter().enumerate() {
            if let Some(g) = &rule.orion_group
                && !groups::find_by_name(&mut c, g).await?.is_some_and(|g| g.active)
            {
                errs.push(format!("group_rules[{n}].orion_group"), format!("no active group named {g:?}"));
            }
        }
        Ok(errs.into_result()?)
    }

    pub async fn create_sso_provider(&self, actor: &Actor, input: SsoProviderInput) -> AppResult<SsoProvider> {
        require_admin(actor, "manage single sign-on")?;
        let checked = check(&input, None)?;
        self.check_orion_groups(&checked.config).await?;
        let settings = serde_json::to_string(&checked.config).map_err(|e| AppError::Internal(e.to_string()))?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let position = match checked.position {
            Some(p) => p,
            None => store::list_providers(&mut c).await?.iter().map(|p| p.position + 1).max().unwrap_or(0),
        };
        let p = ProviderSettings {
            name: &checked.name,
            position,
            settings: &settings,
            secret: checked.secret.as_deref(),
            enabled: checked.enabled,
        };
        let id = store::insert_provider(&mut c, &p, now).await.map_err(name_taken)?;
        log_change(&mut c, actor, &format!("single sign-on provider {:?} added", checked.name), now).await?;
        let row = store::get_provider(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(view(&row, &checked.config, 0))
    }

    pub async fn update_sso_provider(&self, actor: &Actor, id: i64, input: SsoProviderInput) -> AppResult<SsoProvider> {
        require_admin(actor, "manage single sign-on")?;
        let row = {
            let mut r = self.db.read().await?;
            found(store::get_provider(&mut r.conn(), id).await, "single sign-on provider")?
        };
        let old = parse_stored(&row.settings)?;
        let checked = check(&input, Some((&old, row.secret.as_deref(), &row.name, row.enabled)))?;
        self.check_orion_groups(&checked.config).await?;
        if !checked.enabled && row.enabled {
            self.check_passwords_remain(Some(id)).await?;
        }
        let settings = serde_json::to_string(&checked.config).map_err(|e| AppError::Internal(e.to_string()))?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let p = ProviderSettings {
            name: &checked.name,
            position: checked.position.unwrap_or(row.position),
            settings: &settings,
            secret: checked.secret.as_deref(),
            enabled: checked.enabled,
        };
        if !store::update_provider(&mut c, id, &p, now).await.map_err(name_taken)? {
            return Err(AppError::NotFound("single sign-on provider"));
        }
        log_change(&mut c, actor, &format!("single sign-on provider {:?} changed", checked.name), now).await?;
        let row = store::get_provider(&mut c, id).await?;
        let n = store::count_linked(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(view(&row, &checked.config, n))
    }

    pub async fn delete_sso_provider(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require_admin(actor, "manage single sign-on")?;
        self.check_passwords_remain(Some(id)).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let row = found(store::get_provider(&mut c, id).await, "single sign-on provider")?;
        store::delete_provider(&mut c, id).await?;
        log_change(&mut c, actor, &format!("single sign-on provider {:?} removed", row.name), now).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Password sign-in may be off for some roles only while a provider is there to sign them in:
    /// refuses removing or disabling the last one (`leaving`) while it is off for any role.
    pub(crate) async fn check_passwords_remain(&self, leaving: Option<i64>) -> AppResult<()> {
        let off = self.security_settings().await?.password_sign_in_off;
        if off.is_empty() {
            return Ok(());
        }
        let mut r = self.db.read().await?;
        let left =
            store::list_providers(&mut r.conn()).await?.iter().filter(|p| p.enabled && Some(p.id) != leaving).count();
        if left == 0 {
            return Err(AppError::Conflict(format!(
                "password sign-in is off for {}: turn it back on in the security settings before removing or \
                 disabling the last single sign-on provider",
                off.join(", ")
            )));
        }
        Ok(())
    }

    /// The providers the sign-in page offers.
    pub async fn sso_buttons(&self) -> AppResult<Vec<SsoButton>> {
        let mut r = self.db.read().await?;
        let rows = store::list_providers(&mut r.conn()).await?;
        Ok(rows.into_iter().filter(|p| p.enabled).map(|p| SsoButton { id: p.id, name: p.name }).collect())
    }

    /// Starts a sign-in at provider `id`: returns the provider's authorisation URL to send the
    /// browser to and the state the browser must bring back (kept in a cookie by the web layer).
    /// `redirect_url` is Orion's callback as the provider knows it; `return_to` a page of Orion.
    pub async fn begin_sso(
        &self,
        id: i64,
        redirect_url: &str,
        return_to: Option<&str>,
    ) -> Result<(String, String), SsoRefused> {
        let res = async {
            let row = {
                let mut r = self.db.read().await?;
                found(store::get_provider(&mut r.conn(), id).await, "single sign-on provider")?
            };
            if !row.enabled {
                return Ok(Err(refused(format!("Sign-in with {} is turned off.", row.name))));
            }
            let cfg = parse_stored(&row.settings)?;
            let (meta, _) = match self.discover(&cfg).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(provider = %row.name, error = %e, "single sign-on provider unreachable");
                    return Ok(Err(refused(format!("{} cannot be reached right now. Try again later.", row.name))));
                }
            };
            let redirect = RedirectUrl::new(redirect_url.to_string()).map_err(|e| AppError::Internal(e.to_string()))?;
            let client = CoreClient::from_provider_metadata(meta, ClientId::new(cfg.client_id.clone()), None)
                .set_redirect_uri(redirect);
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            let mut req = client.authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            );
            for s in &cfg.scopes {
                req = req.add_scope(Scope::new(s.clone()));
            }
            let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
            let now = self.now();
            let mut tx = self.db.begin().await?;
            let mut c = tx.conn();
            store::delete_expired_logins(&mut c, now).await?;
            let login = LoginRow {
                state_hash: sha256_hex(state.secret()),
                provider_id: id,
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                redirect_url: redirect_url.to_string(),
                return_to: return_to.map(str::to_string),
                created_at: now,
                expires_at: now + LOGIN_MS,
            };
            store::insert_login(&mut c, &login).await?;
            self.commit(tx).await?;
            Ok::<_, AppError>(Ok((url.to_string(), state.secret().clone())))
        }
        .await;
        res.unwrap_or_else(|e| match e {
            AppError::NotFound(_) => Err(refused("There is no such sign-in provider.")),
            e => {
                tracing::warn!(error = %e, "single sign-on could not start");
                Err(refused("Single sign-on could not start. Try again, or ask the service desk."))
            }
        })
    }

    /// The provider's answer (`code`, `state`): checks it, finds or creates the user, and signs
    /// them in (or asks for Orion's second factor). Returns the step and the page to go to.
    pub async fn finish_sso(
        &self,
        state: &str,
        code: &str,
        client: &Client,
        previous: Option<&str>,
    ) -> Result<(SignInStep, Option<String>), SsoRefused> {
        let ip = client.ip.as_deref();
        let res = self.try_finish_sso(state, code, client, previous).await;
        match res {
            Ok(Ok(v)) => Ok(v),
            Ok(Err((why, provider, log))) => {
                self.log_security("sso_sign_in_failed", None, None, ip, &format!("{provider}: {log}")).await;
                Err(refused(why))
            }
            Err(e) => {
                tracing::warn!(error = %e, "single sign-on failed on an internal error");
                Err(refused("Single sign-on failed. Try again, or ask the service desk."))
            }
        }
    }

    /// The provider said no (`error` on the callback): logged, and the state is used up.
    pub async fn sso_denied(&self, state: &str, error: &str, client: &Client) -> SsoRefused {
        let login = match self.db.begin().await {
            Ok(mut tx) => {
                let l = store::take_login(&mut tx.conn(), &sha256_hex(state)).await.ok().flatten();
                let _ = self.commit(tx).await;
                l
            }
            Err(_) => None,
        };
        let error: String = error.chars().filter(|c| c.is_ascii_graphic()).take(100).collect();
        let detail = format!("provider {}: answered {error}", login.map_or(0, |l| l.provider_id));
        self.log_security("sso_sign_in_failed", None, None, client.ip.as_deref(), &detail).await;
        if error == "access_denied" {
            refused("Sign-in was cancelled at the provider.")
        } else {
            refused("The provider did not sign you in. Try again, or ask the service desk.")
        }
    }

    #[allow(clippy::type_complexity)]
    async fn try_finish_sso(
        &self,
        state: &str,
        code: &str,
        client: &Client,
        previous: Option<&str>,
    ) -> AppResult<Result<(SignInStep, Option<String>), (String, String, String)>> {
        let now = self.now();
        let login = {
            let mut tx = self.db.begin().await?;
            let l = store::take_login(&mut tx.conn(), &sha256_hex(state)).await?;
            self.commit(tx).await?;
            l
        };
        let expired = "This sign-in has expired or was already used. Start again.".to_string();
        let Some(login) = login else {
            return Ok(Err((expired, "unknown".into(), "unknown or used state".into())));
        };
        let row = {
            let mut r = self.db.read().await?;
            match store::get_provider(&mut r.conn(), login.provider_id).await {
                Ok(row) => row,
                Err(orion_store::StoreError::NotFound) => {
                    return Ok(Err((expired, "removed provider".into(), "provider removed".into())));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let pname = row.name.clone();
        let fail = |why: &str, log: String| Ok(Err((why.to_string(), pname.clone(), log)));
        if login.expires_at <= now {
            return fail(&expired, "state expired".into());
        }
        if !row.enabled {
            return fail(&format!("Sign-in with {} is turned off.", row.name), "provider disabled".into());
        }
        let cfg = parse_stored(&row.settings)?;
        let unreachable = format!("{} cannot be reached right now. Try again later.", row.name);
        let (meta, http) = match self.discover(&cfg).await {
            Ok(m) => m,
            Err(e) => return fail(&unreachable, e),
        };
        let end_session = meta.additional_metadata().end_session_endpoint.clone();
        let userinfo_url = meta.userinfo_endpoint().map(|u| u.url().clone());
        let secret = match self.sso_secret(&row, &cfg) {
            Ok(s) => s,
            Err(e) => return fail(&unreachable, format!("client secret: {e}")),
        };
        let redirect = RedirectUrl::new(login.redirect_url.clone()).map_err(|e| AppError::Internal(e.to_string()))?;
        let oidc = CoreClient::from_provider_metadata(
            meta,
            ClientId::new(cfg.client_id.clone()),
            secret.map(ClientSecret::new),
        )
        .set_redirect_uri(redirect);
        let request = match oidc.exchange_code(AuthorizationCode::new(code.to_string())) {
            Ok(r) => r,
            Err(e) => return fail(&unreachable, format!("no token endpoint: {e}")),
        };
        let tokens = match request
            .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier.clone()))
            .request_async(&http)
            .await
        {
            Ok(t) => t,
            Err(e) => {
                return fail(
                    "The provider did not accept this sign-in. Start again.",
                    format!("token request refused: {}", error_chain(&e)),
                );
            }
        };
        let refused_token = "The provider's answer did not pass Orion's checks, so you were not signed in.";
        let Some(id_token): Option<&CoreIdToken> = tokens.id_token() else {
            return fail(refused_token, "no ID token in the token response".into());
        };
        let verifier = oidc.id_token_verifier();
        let claims = match id_token.claims(&verifier, &Nonce::new(login.nonce.clone())) {
            Ok(c) => c,
            Err(e) => return fail(refused_token, format!("ID token refused: {}", error_chain(&e))),
        };
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token.signing_alg().ok();
            let key = id_token.signing_key(&verifier).ok();
            let ok = match (alg, key) {
                (Some(alg), Some(key)) => {
                    AccessTokenHash::from_token(tokens.access_token(), alg, key).is_ok_and(|h| h == *expected)
                }
                _ => false,
            };
            if !ok {
                return fail(refused_token, "ID token refused: the access token hash does not match".into());
            }
        }
        let subject = claims.subject().as_str().to_string();
        let raw = id_token.to_string();
        let mut all = Claims(payload_of(&raw).unwrap_or_default());
        // The e-mail, name or groups may only come from the userinfo endpoint.
        let wanted = [&cfg.email_claim, &cfg.name_claim, &cfg.groups_claim];
        if wanted.iter().any(|c| !all.0.contains_key(c.as_str()))
            && let Some(url) = userinfo_url
        {
            match http.get(url).bearer_auth(tokens.access_token().secret()).send().await {
                Ok(resp) if resp.status().is_success() => {
                    if let Ok(info) = resp.json::<serde_json::Map<String, Value>>().await {
                        // Claims from userinfo count only for the same subject (OIDC Core 5.3.2).
                        if info.get("sub").and_then(Value::as_str) == Some(subject.as_str()) {
                            for (k, v) in info {
                                all.0.entry(k).or_insert(v);
                            }
                        }
                    }
                }
                Ok(resp) => tracing::warn!(provider = %pname, status = %resp.status(), "userinfo refused"),
                Err(e) => tracing::warn!(provider = %pname, error = %e, "userinfo unreachable"),
            }
        }
        let email = all.text(&cfg.email_claim).map(|e| e.to_lowercase());
        let email_verified = all.0.get("email_verified").is_none_or(|v| v.as_bool() != Some(false));
        let name = all.text(&cfg.name_claim);
        let groups = all.list(&cfg.groups_claim);
        // A groups claim that is there but empty means "in no group"; one that is missing (not
        // released by the provider) says nothing, and roles stay as they are.
        let groups_given = all.0.contains_key(&cfg.groups_claim);
        let stable_id = cfg.stable_id_claim.as_deref().and_then(|c| all.text(c));

        // Who this is: an earlier link, the directory's stable id, a verified e-mail; else new.
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut user = match store::linked_user(&mut c, row.id, &subject).await? {
            Some(uid) => Some(users::get(&mut c, uid).await?),
            None => None,
        };
        let mut how = "linked before";
        if user.is_none()
            && let Some(sid) = &stable_id
        {
            user = store::user_by_external_id(&mut c, sid).await?;
            how = "matched by the directory's stable id";
        }
        if user.is_none()
            && let Some(e) = &email
            && email_verified
        {
            user = users::find_by_email(&mut c, e).await?;
            how = "matched by e-mail address";
        }
        let (mapped_role, join, leave) = map_groups(&cfg, &groups);
        let user = match user {
            Some(u) => u,
            None => {
                let Some(email) = email.filter(|_| email_verified) else {
                    drop(tx);
                    return fail(
                        "The provider did not give a verified e-mail address, which Orion needs to know you.",
                        format!("subject {subject}: no verified {} claim", cfg.email_claim),
                    );
                };
                if !cfg.create_users {
                    drop(tx);
                    return fail(
                        &format!("There is no Orion account for {email}. Ask the service desk to add you."),
                        format!("subject {subject}: no account for {email}, and the provider creates none"),
                    );
                }
                if orion_domain::Email::parse("email", &email).is_err() {
                    drop(tx);
                    return fail(
                        "The provider gave an e-mail address Orion cannot use.",
                        format!("subject {subject}: invalid e-mail {email:?}"),
                    );
                }
                let role =
                    mapped_role.or_else(|| Role::parse("role", &cfg.new_user_role).ok()).unwrap_or(Role::Requester);
                let name = name.clone().unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_string());
                let name: String = name.chars().take(200).collect();
                let id = users::insert(
                    &mut c,
                    &users::NewUser {
                        email: &email,
                        name: &name,
                        role: role.as_str(),
                        phone: None,
                        department: None,
                        password_hash: None,
                        now,
                    },
                )
                .await?;
                how = "account created at first sign-in";
                let u = users::get(&mut c, id).await?;
                let detail = format!("through {}: account created as {}", row.name, role.as_str());
                let e = web::NewEvent {
                    kind: "user_provisioned",
                    user_id: Some(id),
                    email: Some(&u.email),
                    ip: client.ip.as_deref(),
                    detail: &detail,
                };
                web::log_event(&mut c, &e, now).await?;
                u
            }
        };
        if !user.active {
            drop(tx);
            return fail(
                "Your Orion account is deactivated. Ask the service desk.",
                format!("subject {subject}: user {} is deactivated", user.id),
            );
        }
        store::link(&mut c, row.id, &subject, user.id, now).await?;
        let mut role_changed = false;
        // Roles and groups from the provider, unless the directory (or a break-glass mark) owns them.
        if user.directory_source_id.is_none() && !user.break_glass && groups_given {
            let current = Role::parse("role", &user.role).unwrap_or(Role::Requester);
            let role = if cfg.maps_roles() && groups_given { mapped_role.unwrap_or(Role::Requester) } else { current };
            // An admin is never demoted by a sign-in: a mistaken rule must not lock admins out.
            let role = if current == Role::Admin { current } else { role };
            if role != current {
                role_changed = true;
                users::update(
                    &mut c,
                    user.id,
                    users::UserChange { role: Some(role.as_str()), ..Default::default() },
                    now,
                )
                .await?;
                let detail = format!("through {}: role {} → {}", row.name, current.as_str(), role.as_str());
                let e = web::NewEvent {
                    kind: "role_changed_by_sso",
                    user_id: Some(user.id),
                    email: Some(&user.email),
                    ip: client.ip.as_deref(),
                    detail: &detail,
                };
                web::log_event(&mut c, &e, now).await?;
            }
            let mine = users::group_ids(&mut c, user.id).await?;
            if role != Role::Requester {
                for g in &join {
                    if let Some(g) = groups::find_by_name(&mut c, g).await?.filter(|g| g.active)
                        && !mine.contains(&g.id)
                    {
                        groups::add_member(&mut c, g.id, user.id).await?;
                    }
                }
            }
            let leave: Vec<&String> = if role == Role::Requester {
                join.iter().chain(leave.iter()).collect()
            } else {
                leave.iter().collect()
            };
            for g in leave {
                if let Some(g) = groups::find_by_name(&mut c, g).await?
                    && mine.contains(&g.id)
                {
                    groups::remove_member(&mut c, g.id, user.id).await?;
                }
            }
        }
        let creds = web::credentials(&mut c, &user.email).await?.ok_or(AppError::NotFound("user"))?;
        self.commit(tx).await?;
        if role_changed {
            // Their API tokens speak with the new role from now on, on every node.
            self.tokens_changed().await;
        }
        if creds.locked_until.is_some_and(|t| t > now) {
            return fail(
                "This account is locked after too many failed attempts. Try again later.",
                format!("subject {subject}: user {} is locked", user.id),
            );
        }
        let token = if cfg.sign_out_at_provider && end_session.is_some() { raw } else { String::new() };
        let detail = format!("through {} ({how})", row.name);
        let step = self
            .after_first_factor(
                &creds,
                client,
                previous,
                Some((row.id, &token)),
                !cfg.provider_checks_second_factor,
                &detail,
            )
            .await?;
        Ok(Ok((step, login.return_to)))
    }

    /// Where to send the browser after signing out of Orion so that the provider signs out too:
    /// its end-session endpoint with the ID token as hint, or `None` (sign-out stays local).
    pub(crate) async fn provider_sign_out_url(
        &self,
        provider_id: i64,
        id_token: &str,
        after: Option<&str>,
    ) -> Option<String> {
        if id_token.is_empty() {
            return None;
        }
        let row = {
            let mut r = self.db.read().await.ok()?;
            store::get_provider(&mut r.conn(), provider_id).await.ok()?
        };
        let cfg = parse_stored(&row.settings).ok()?;
        if !cfg.sign_out_at_provider {
            return None;
        }
        let (meta, _) =
            self.discover(&cfg).await.map_err(|e| tracing::warn!(error = %e, "sign-out at provider")).ok()?;
        let end = meta.additional_metadata().end_session_endpoint.clone()?;
        let mut req = LogoutRequest::from(end).set_client_id(ClientId::new(cfg.client_id.clone()));
        // The stored token was checked at sign-in; it only names the session to end here.
        let hint: Option<CoreIdToken> = id_token.parse().ok();
        if let Some(h) = &hint {
            req = req.set_id_token_hint(h);
        }
        if let Some(a) = after.and_then(|a| PostLogoutRedirectUrl::new(a.to_string()).ok()) {
            req = req.set_post_logout_redirect_uri(a);
        }
        Some(req.http_get_url().to_string())
    }
}

/// An error and its causes in one line (the HTTP and JSON errors inside a discovery failure).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(issuer: &str) -> SsoProviderInput {
        SsoProviderInput {
            name: Some("Staff login".into()),
            issuer_url: Some(issuer.into()),
            client_id: Some("orion".into()),
            ..Default::default()
        }
    }

    #[test]
    fn issuers_must_be_https_except_on_this_machine() {
        assert!(check(&input("https://login.example.org/realms/staff/"), None).is_ok());
        assert!(check(&input("http://127.0.0.1:9400"), None).is_ok());
        assert!(check(&input("http://localhost:9400"), None).is_ok());
        let e = check(&input("http://login.example.org"), None).err().unwrap().to_string();
        assert!(e.contains("issuer_url"), "{e}");
        let c = check(&input("https://login.example.org/realms/staff/"), None).unwrap();
        assert_eq!(c.config.issuer_url, "https://login.example.org/realms/staff");
        assert_eq!(c.config.scopes, ["email", "profile"]);
    }

    #[test]
    fn a_left_out_secret_is_kept_and_bad_rules_are_named() {
        let mut i = input("https://idp.example.org");
        i.client_secret = Some("s3cret".into());
        let c = check(&i, None).unwrap();
        let again =
            check(&SsoProviderInput::default(), Some((&c.config, Some("s3cret"), "Staff login", true))).unwrap();
        assert_eq!(again.secret.as_deref(), Some("s3cret"));
        assert_eq!(again.config.issuer_url, "https://idp.example.org");
        i.group_rules = Some(vec![SsoGroupRule { group: "it".into(), role: Some("boss".into()), orion_group: None }]);
        i.new_user_role = Some("admin".into());
        let e = check(&i, None).err().unwrap().to_string();
        assert!(e.contains("group_rules[0].role") && e.contains("new_user_role"), "{e}");
    }

    #[test]
    fn groups_give_the_highest_role_and_leave_unmatched_groups() {
        let mut cfg = check(&input("https://idp.example.org"), None).unwrap().config;
        cfg.group_rules = vec![
            SsoGroupRule { group: "desk".into(), role: Some("agent".into()), orion_group: Some("Service Desk".into()) },
            SsoGroupRule { group: "leads".into(), role: Some("lead".into()), orion_group: None },
            SsoGroupRule { group: "net".into(), role: None, orion_group: Some("Network".into()) },
        ];
        let (role, join, leave) = map_groups(&cfg, &["leads".into(), "desk".into()]);
        assert_eq!(role, Some(Role::Lead));
        assert_eq!(join.into_iter().collect::<Vec<_>>(), ["Service Desk"]);
        assert_eq!(leave.into_iter().collect::<Vec<_>>(), ["Network"]);
        let (role, join, _) = map_groups(&cfg, &["other".into()]);
        assert_eq!(role, None);
        assert!(join.is_empty());
    }

    #[test]
    fn the_payload_of_a_token_is_read_as_json() {
        let p = payload_of("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImdyb3VwcyI6WyJhIiwiYiJdfQ.c2ln").unwrap();
        let c = Claims(p);
        assert_eq!(c.text("sub").as_deref(), Some("alice"));
        assert_eq!(c.list("groups"), ["a", "b"]);
        assert!(payload_of("not a token").is_none());
    }
}
