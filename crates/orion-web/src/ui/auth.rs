//! Sign-in, sign-out, password reset and the account page (password, sessions, API tokens).

use super::form::{Fields, done, when};
use super::layout::{Layout, error_page, explain, render};
use super::session::{ClientInfo, SESSION_COOKIE, WebUser, cookie, safe_next, session_cookie};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use orion_app::signin::{SignInError, SignInStep};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/login/sso/callback", get(sso_callback))
        .route("/login/sso/{id}", get(sso_start))
        .route("/login/two-factor", get(second_factor_page).post(second_factor))
        .route("/login/two-factor/setup", get(setup_at_signin_page).post(setup_at_signin))
        .route("/account/two-factor", get(account_setup_page).post(account_setup))
        .route("/account/two-factor/off", post(account_two_factor_off))
        .route("/account/two-factor/recovery", post(account_recovery_codes))
        .route("/account/confirm", get(confirm_page).post(confirm))
        .route("/account/confirm/key-options", post(confirm_key_options))
        .route("/account/confirm/key", post(confirm_key))
        .route("/account/security-keys/options", post(key_registration_options))
        .route("/account/security-keys", post(add_key))
        .route("/account/security-keys/{id}/remove", post(remove_key))
        .route("/login/two-factor/key-options", post(signin_key_options))
        .route("/login/two-factor/key", post(signin_key))
        .route("/logout", post(logout))
        .route("/logout-everywhere", post(logout_everywhere))
        .route("/password/forgot", get(forgot_page).post(forgot))
        .route("/password/reset/{secret}", get(reset_page).post(reset))
        .route("/account", get(account))
        .route("/account/password", post(change_password))
        .route("/account/tokens", post(create_token))
        .route("/account/tokens/{id}/revoke", post(revoke_token))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    l: Layout,
    email: String,
    next: String,
    error: Option<String>,
    /// Single sign-on providers: (id, name)
    providers: Vec<(i64, String)>,
}

impl LoginPage {
    fn next_query(&self) -> String {
        if self.next.is_empty() { String::new() } else { format!("?next={}", super::form::encode(&self.next)) }
    }
}

async fn login_view(
    s: &AppState,
    email: String,
    next: String,
    error: Option<String>,
    message: Option<&str>,
) -> LoginPage {
    let providers = match s.app.sso_buttons().await {
        Ok(b) => b.into_iter().map(|b| (b.id, b.name)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not list single sign-on providers");
            Vec::new()
        }
    };
    LoginPage { l: Layout::new(None, "Sign in", "", message), email, next, error, providers }
}

async fn login_page(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let next = safe_next(q.get("next").map(String::as_str)).unwrap_or_default();
    render(&login_view(&s, String::new(), next, None, q.get("m").map(String::as_str)).await)
}

/// The sign-in page with an error and a status.
async fn login_refused(s: &AppState, error: String, next: Option<String>, status: StatusCode) -> Response {
    let page = login_view(s, String::new(), next.unwrap_or_default(), Some(error), None).await;
    let mut resp = render(&page);
    *resp.status_mut() = status;
    resp
}

/// The cookie that ties a single sign-on to the browser that started it (ten minutes).
const SSO_COOKIE: &str = "orion_sso";

fn sso_cookie(headers: &HeaderMap, value: &str) -> axum::http::HeaderValue {
    let secure = if super::session::is_https(headers) { "; Secure" } else { "" };
    let age = if value.is_empty() { "Max-Age=0" } else { "Max-Age=600" };
    axum::http::HeaderValue::from_str(&format!(
        "{SSO_COOKIE}={value}; Path=/login/sso; HttpOnly; SameSite=Lax; {age}{secure}"
    ))
    .unwrap_or_else(|_| axum::http::HeaderValue::from_static("orion_sso=; Path=/login/sso; Max-Age=0"))
}

/// Orion's address as the browser (and so a provider) knows it: the portal URL of the mail
/// settings when set, else this request's host.
pub(crate) async fn public_base(s: &AppState, headers: &HeaderMap) -> String {
    if let Ok(Some(u)) = s.app.mail_settings().await.map(|m| m.portal_url) {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
        .unwrap_or("localhost");
    let scheme = if super::session::is_https(headers) { "https" } else { "http" };
    format!("{scheme}://{host}")
}

async fn sso_start(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let next = safe_next(q.get("next").map(String::as_str));
    let Ok(id) = id.parse::<i64>() else {
        return login_refused(&s, "There is no such sign-in provider.".into(), next, StatusCode::NOT_FOUND).await;
    };
    let callback = format!("{}/login/sso/callback", public_base(&s, &headers).await);
    match s.app.begin_sso(id, &callback, next.as_deref()).await {
        Ok((url, state)) => {
            let mut resp = Redirect::to(&url).into_response();
            resp.headers_mut().insert(header::SET_COOKIE, sso_cookie(&headers, &state));
            resp
        }
        Err(why) => login_refused(&s, why.0, next, StatusCode::BAD_GATEWAY).await,
    }
}

async fn sso_callback(
    State(s): State<AppState>,
    ClientInfo(client): ClientInfo,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let state = q.get("state").map(String::as_str).unwrap_or_default();
    let clear = |mut resp: Response| {
        resp.headers_mut().append(header::SET_COOKIE, sso_cookie(&headers, ""));
        resp
    };
    // The state must come back to the browser that set off: a code pushed into someone else's
    // browser (login CSRF) finds no matching cookie.
    if state.is_empty() || cookie(&headers, SSO_COOKIE).as_deref() != Some(state) {
        let ip = client.ip.as_deref();
        s.app
            .log_security("sso_sign_in_failed", None, None, ip, "the answer came to a browser that did not start it")
            .await;
        let why = "This sign-in did not start in this browser, or took too long. Start again.".to_string();
        return clear(login_refused(&s, why, None, StatusCode::BAD_REQUEST).await);
    }
    if let Some(error) = q.get("error") {
        let why = s.app.sso_denied(state, error, &client).await;
        return clear(login_refused(&s, why.0, None, StatusCode::UNAUTHORIZED).await);
    }
    let code = q.get("code").map(String::as_str).unwrap_or_default();
    let previous = cookie(&headers, SESSION_COOKIE);
    let resp = match s.app.finish_sso(state, code, &client, previous.as_deref()).await {
        Ok((SignInStep::Done(signed), next)) => signed_in(&headers, &signed, safe_next(next.as_deref())),
        Ok((SignInStep::SecondFactor(ch), next)) => {
            to_challenge(&headers, "/login/two-factor", &ch, safe_next(next.as_deref()))
        }
        Ok((SignInStep::Enrol(ch), next)) => {
            to_challenge(&headers, "/login/two-factor/setup", &ch, safe_next(next.as_deref()))
        }
        Err(why) => login_refused(&s, why.0, None, StatusCode::UNAUTHORIZED).await,
    };
    clear(resp)
}

async fn login(State(s): State<AppState>, ClientInfo(client): ClientInfo, headers: HeaderMap, f: Fields) -> Response {
    let email = f.text("email").unwrap_or_default();
    let password = f.get("password").unwrap_or_default().to_string();
    let next = safe_next(f.get("next"));
    let previous = cookie(&headers, SESSION_COOKIE);
    match s.app.sign_in(&email, &password, &client, previous.as_deref()).await {
        Ok(SignInStep::Done(signed)) => signed_in(&headers, &signed, next),
        Ok(SignInStep::SecondFactor(challenge)) => to_challenge(&headers, "/login/two-factor", &challenge, next),
        Ok(SignInStep::Enrol(challenge)) => to_challenge(&headers, "/login/two-factor/setup", &challenge, next),
        Err(e) => {
            let error = match e {
                SignInError::Refused => "Wrong e-mail or password, or the account is locked after too many failed \
                                         attempts. Try again later or ask the service desk."
                    .to_string(),
                SignInError::Throttled(min) => {
                    format!("Too many failed sign-ins from your network. Wait {min} minutes and try again.")
                }
                SignInError::SsoOnly => "Your organisation signs you in with single sign-on: use the button \
                                         below instead of a password."
                    .to_string(),
            };
            let page = login_view(&s, email, next.unwrap_or_default(), Some(error), None).await;
            let mut resp = render(&page);
            *resp.status_mut() = StatusCode::UNAUTHORIZED;
            resp
        }
    }
}

#[derive(Template)]
#[template(path = "signed_out_provider.html")]
struct SignedOutProvider {
    l: Layout,
    url: String,
}

async fn logout(State(s): State<AppState>, ClientInfo(client): ClientInfo, headers: HeaderMap) -> Response {
    let mut provider = None;
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        let after = format!("{}/login?m=signed_out", public_base(&s, &headers).await);
        match s.app.sign_out(&token, &client, Some(&after)).await {
            Ok(url) => provider = url,
            Err(e) => return error_page(None, &e),
        }
    }
    // Signed in through a provider that signs out too: on to it, and back to the sign-in page.
    // A page that moves on by itself, not a redirect: the console's policy lets forms post only
    // to Orion (`form-action 'self'`), which a browser applies to a form's redirects too.
    let mut resp = match provider {
        Some(url) => render(&SignedOutProvider { l: Layout::new(None, "Signed out", "", None), url }),
        None => done("/login", "signed_out"),
    };
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&headers, ""));
    resp
}

async fn logout_everywhere(
    State(s): State<AppState>,
    user: WebUser,
    ClientInfo(client): ClientInfo,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = s.app.sign_out_everywhere(&user.actor, &client).await {
        return error_page(Some(&user), &e);
    }
    let mut resp = done("/login", "signed_out");
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&headers, ""));
    resp
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    l: Layout,
    error: Option<String>,
}

async fn forgot_page() -> Response {
    render(&ForgotPage { l: Layout::new(None, "Forgot your password?", "", None), error: None })
}

async fn forgot(State(s): State<AppState>, ClientInfo(client): ClientInfo, f: Fields) -> Response {
    let email = f.text("email").unwrap_or_default();
    match s.app.request_password_reset(&email, &client).await {
        Ok(()) => done("/login", "reset_sent"),
        Err(e) => {
            // What is missing is the admin's to fix (the server log and the mail settings say it);
            // the person at the page is told what they can do.
            tracing::warn!(error = %e, "a password reset was asked for but cannot be sent");
            let error = "Password reset by e-mail is not available here. Ask the service desk to reset your password.";
            let page =
                ForgotPage { l: Layout::new(None, "Forgot your password?", "", None), error: Some(error.into()) };
            let mut resp = render(&page);
            *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            resp
        }
    }
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    l: Layout,
    secret: String,
    usable: bool,
    error: Option<String>,
}

async fn reset_page(State(s): State<AppState>, Path(secret): Path<String>) -> Response {
    let usable = s.app.reset_link_usable(&secret).await.unwrap_or(false);
    render(&ResetPage { l: Layout::new(None, "Choose a new password", "", None), secret, usable, error: None })
}

async fn reset(
    State(s): State<AppState>,
    Path(secret): Path<String>,
    ClientInfo(client): ClientInfo,
    f: Fields,
) -> Response {
    let password = f.get("password").unwrap_or_default();
    if f.get("confirm") != Some(password) {
        let page = ResetPage {
            l: Layout::new(None, "Choose a new password", "", None),
            secret,
            usable: true,
            error: Some("The two passwords differ.".into()),
        };
        return render(&page);
    }
    match s.app.reset_password(&secret, password, &client).await {
        Ok(()) => done("/login", "reset_done"),
        Err(e) => {
            let usable = s.app.reset_link_usable(&secret).await.unwrap_or(false);
            let page = ResetPage {
                l: Layout::new(None, "Choose a new password", "", None),
                secret,
                usable,
                error: Some(explain(&e)),
            };
            let mut resp = render(&page);
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            resp
        }
    }
}

pub(super) struct TokenView {
    pub id: i64,
    pub name: String,
    pub created: String,
    pub last_used: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    l: Layout,
    tokens: Vec<TokenView>,
    new_token: Option<String>,
    error: Option<String>,
    min_length: i64,
    two_factor: Option<orion_app::mfa::TwoFactorStatus>,
    two_factor_due: Option<String>,
    keys: Vec<KeyRow>,
}

struct KeyRow {
    id: i64,
    name: String,
    added: String,
    last_used: String,
}

async fn account_page(
    s: &AppState,
    user: &WebUser,
    flash: Option<&str>,
    new_token: Option<String>,
    error: Option<String>,
) -> Response {
    let tokens = match s.app.list_own_tokens(&user.actor).await {
        Ok(t) => t,
        Err(e) => return error_page(Some(user), &e),
    };
    let tokens = tokens
        .into_iter()
        .map(|t| TokenView {
            id: t["id"].as_i64().unwrap_or_default(),
            name: t["name"].as_str().unwrap_or_default().to_string(),
            created: when(t["created_at"].as_str().unwrap_or_default()),
            last_used: t["last_used_at"].as_str().map(when).unwrap_or_else(|| "never".into()),
            revoked: t["revoked"].as_bool().unwrap_or_default(),
        })
        .collect();
    let min_length = s.app.security_settings().await.map(|x| x.min_password_length).unwrap_or(15);
    let two_factor = s.app.two_factor_status(&user.actor).await.ok();
    let two_factor_due = two_factor.as_ref().and_then(|t| t.required_from.as_deref().map(when));
    let keys = s
        .app
        .security_keys(&user.actor)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            name: k.name,
            added: when(&k.created_at),
            last_used: k.last_used_at.as_deref().map(when).unwrap_or_else(|| "never".into()),
        })
        .collect();
    let page = AccountPage {
        l: Layout::new(Some(user), "Your account", "account", flash),
        tokens,
        new_token,
        error,
        min_length,
        two_factor,
        two_factor_due,
        keys,
    };
    let mut resp = render(&page);
    if page.error.is_some() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

async fn account(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    account_page(&s, &user, q.get("m").map(String::as_str), None, None).await
}

async fn change_password(
    State(s): State<AppState>,
    user: WebUser,
    ClientInfo(client): ClientInfo,
    f: Fields,
) -> Response {
    let new = f.get("new_password").unwrap_or_default();
    if f.get("confirm") != Some(new) {
        return account_page(&s, &user, None, None, Some("The two new passwords differ.".into())).await;
    }
    let current = f.get("current_password").unwrap_or_default();
    match s.app.change_own_password(&user.actor, current, new, Some(&user.token), &client).await {
        Ok(()) => done("/account", "password"),
        Err(e) => account_page(&s, &user, None, None, Some(explain(&e))).await,
    }
}

async fn create_token(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    if user.me.admin
        && let Some(r) = require_recent_second_factor(&s, &user, "/account").await
    {
        return r;
    }
    let name = f.text("name").unwrap_or_default();
    match s.app.create_own_token(&user.actor, &name).await {
        Ok(t) => account_page(&s, &user, None, Some(t.token), None).await,
        Err(e) => account_page(&s, &user, None, None, Some(explain(&e))).await,
    }
}

async fn revoke_token(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.revoke_own_token(&user.actor, id).await {
        Ok(()) => done("/account", "token_revoked"),
        Err(e) => error_page(Some(&user), &e),
    }
}

/// The cookie that carries a sign-in waiting for its second factor (ten minutes, sign-in pages only).
const CHALLENGE_COOKIE: &str = "orion_2fa";

fn challenge_cookie(headers: &HeaderMap, value: &str) -> axum::http::HeaderValue {
    let secure = if super::session::is_https(headers) { "; Secure" } else { "" };
    let age = if value.is_empty() { "Max-Age=0" } else { "Max-Age=600" };
    axum::http::HeaderValue::from_str(&format!(
        "{CHALLENGE_COOKIE}={value}; Path=/login; HttpOnly; SameSite=Lax; {age}{secure}"
    ))
    .unwrap_or_else(|_| axum::http::HeaderValue::from_static("orion_2fa=; Path=/login; Max-Age=0"))
}

fn signed_in(headers: &HeaderMap, signed: &orion_app::signin::SignedIn, next: Option<String>) -> Response {
    let to = next.unwrap_or_else(|| if signed.actor.can_work_tickets() { "/agent".into() } else { "/portal".into() });
    let mut resp = Redirect::to(&to).into_response();
    resp.headers_mut().append(header::SET_COOKIE, session_cookie(headers, &signed.token));
    resp.headers_mut().append(header::SET_COOKIE, challenge_cookie(headers, ""));
    resp
}

fn to_challenge(headers: &HeaderMap, page: &str, challenge: &str, next: Option<String>) -> Response {
    let to = match next {
        Some(n) => format!("{page}?next={}", super::form::encode(&n)),
        None => page.to_string(),
    };
    let mut resp = Redirect::to(&to).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, challenge_cookie(headers, challenge));
    resp
}

fn expired_challenge() -> Response {
    done("/login", "second_factor_expired")
}

#[derive(Template)]
#[template(path = "login_2fa.html")]
struct SecondFactorPage {
    l: Layout,
    next: String,
    error: Option<String>,
    /// Which second factors the user has: an authenticator app, security keys
    app: bool,
    keys: bool,
}

async fn second_factor_page(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(ch) = cookie(&headers, CHALLENGE_COOKIE) else { return expired_challenge() };
    if !s.app.challenge_open(&ch).await {
        return expired_challenge();
    }
    let next = safe_next(q.get("next").map(String::as_str)).unwrap_or_default();
    let (app, keys) = s.app.challenge_factors(&ch).await.unwrap_or((true, false));
    render(&SecondFactorPage { l: Layout::new(None, "Two-factor sign-in", "", None), next, error: None, app, keys })
}

async fn second_factor(
    State(s): State<AppState>,
    ClientInfo(client): ClientInfo,
    headers: HeaderMap,
    f: Fields,
) -> Response {
    let Some(ch) = cookie(&headers, CHALLENGE_COOKIE) else { return expired_challenge() };
    let next = safe_next(f.get("next"));
    let previous = cookie(&headers, SESSION_COOKIE);
    let code = f.get("code").unwrap_or_default();
    let result = s.app.sign_in_second_factor(&ch, code, &client, previous.as_deref()).await;
    let wrong =
        "That code is not right. Use the current code from your authenticator app, or one of your recovery codes.";
    second_factor_answer(&s, &headers, &ch, next, result.ok(), wrong).await
}

/// The answer to a second factor at sign-in: signed in, the attempt over, or the page again with
/// what was wrong.
async fn second_factor_answer(
    s: &AppState,
    headers: &HeaderMap,
    ch: &str,
    next: Option<String>,
    signed: Option<orion_app::signin::SignedIn>,
    wrong: &str,
) -> Response {
    if let Some(signed) = signed {
        return signed_in(headers, &signed, next);
    }
    if !s.app.challenge_open(ch).await {
        return expired_challenge();
    }
    let (app, keys) = s.app.challenge_factors(ch).await.unwrap_or((true, false));
    let page = SecondFactorPage {
        l: Layout::new(None, "Two-factor sign-in", "", None),
        next: next.unwrap_or_default(),
        error: Some(wrong.into()),
        app,
        keys,
    };
    let mut resp = render(&page);
    *resp.status_mut() = StatusCode::UNAUTHORIZED;
    resp
}

#[derive(Template)]
#[template(path = "two_factor_setup.html")]
struct SetupPage {
    l: Layout,
    action: &'static str,
    intro: &'static str,
    e: orion_app::mfa::Enrolment,
    next: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage {
    l: Layout,
    codes: Vec<String>,
    continue_to: String,
}

async fn setup_at_signin_page(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(ch) = cookie(&headers, CHALLENGE_COOKIE) else { return expired_challenge() };
    let e = match s.app.challenge_enrolment(&ch).await {
        Ok(e) => e,
        Err(_) => return expired_challenge(),
    };
    render(&SetupPage {
        l: Layout::new(None, "Set up two-factor sign-in", "", None),
        action: "/login/two-factor/setup",
        intro: "Your role signs in with a second factor. Set up an authenticator app now to continue.",
        e,
        next: safe_next(q.get("next").map(String::as_str)).unwrap_or_default(),
        error: None,
    })
}

async fn setup_at_signin(
    State(s): State<AppState>,
    ClientInfo(client): ClientInfo,
    headers: HeaderMap,
    f: Fields,
) -> Response {
    let Some(ch) = cookie(&headers, CHALLENGE_COOKIE) else { return expired_challenge() };
    let previous = cookie(&headers, SESSION_COOKIE);
    let next = safe_next(f.get("next"));
    match s.app.challenge_confirm_enrolment(&ch, f.get("code").unwrap_or_default(), &client, previous.as_deref()).await
    {
        Ok((signed, codes)) => {
            let continue_to = next
                .unwrap_or_else(|| if signed.actor.can_work_tickets() { "/agent".into() } else { "/portal".into() });
            let mut resp = render(&RecoveryCodesPage {
                l: Layout::new(None, "Your recovery codes", "", None),
                codes,
                continue_to,
            });
            resp.headers_mut().append(header::SET_COOKIE, session_cookie(&headers, &signed.token));
            resp.headers_mut().append(header::SET_COOKIE, challenge_cookie(&headers, ""));
            resp
        }
        Err(orion_app::AppError::Unauthorized) => expired_challenge(),
        Err(e) => {
            // Show the same secret again (the pending one stays until confirmed or replaced).
            let enrol = match s.app.challenge_enrolment(&ch).await {
                Ok(x) => x,
                Err(_) => return expired_challenge(),
            };
            let mut resp = render(&SetupPage {
                l: Layout::new(None, "Set up two-factor sign-in", "", None),
                action: "/login/two-factor/setup",
                intro: "Your role signs in with a second factor. Set up an authenticator app now to continue.",
                e: enrol,
                next: next.unwrap_or_default(),
                error: Some(explain(&e)),
            });
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            resp
        }
    }
}

async fn account_setup_page(State(s): State<AppState>, user: WebUser) -> Response {
    match s.app.begin_two_factor(&user.actor).await {
        Ok(e) => render(&SetupPage {
            l: Layout::new(Some(&user), "Set up two-factor sign-in", "account", None),
            action: "/account/two-factor",
            intro: "After this, signing in asks for a code from the app as well as your password.",
            e,
            next: String::new(),
            error: None,
        }),
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn account_setup(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    match s.app.confirm_two_factor(&user.actor, f.get("code").unwrap_or_default()).await {
        Ok(codes) => render(&RecoveryCodesPage {
            l: Layout::new(Some(&user), "Your recovery codes", "account", None),
            codes,
            continue_to: "/account".into(),
        }),
        Err(e @ orion_app::AppError::Validation(_)) => {
            // A wrong first code: start again with a fresh secret (the app must be set up anew).
            match s.app.begin_two_factor(&user.actor).await {
                Ok(enrol) => {
                    let mut resp = render(&SetupPage {
                        l: Layout::new(Some(&user), "Set up two-factor sign-in", "account", None),
                        action: "/account/two-factor",
                        intro: "That code did not match. Remove the Orion entry from your app and scan this new code.",
                        e: enrol,
                        next: String::new(),
                        error: Some(explain(&e)),
                    });
                    *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                    resp
                }
                Err(e) => error_page(Some(&user), &e),
            }
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn account_two_factor_off(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    match s.app.disable_two_factor(&user.actor, f.get("code").unwrap_or_default()).await {
        Ok(()) => done("/account", "two_factor_off"),
        Err(e @ (orion_app::AppError::Validation(_) | orion_app::AppError::Forbidden(_))) => {
            account_page(&s, &user, None, None, Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn account_recovery_codes(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    match s.app.renew_recovery_codes(&user.actor, f.get("code").unwrap_or_default()).await {
        Ok(codes) => render(&RecoveryCodesPage {
            l: Layout::new(Some(&user), "Your recovery codes", "account", None),
            codes,
            continue_to: "/account".into(),
        }),
        Err(e @ orion_app::AppError::Validation(_)) => account_page(&s, &user, None, None, Some(explain(&e))).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

/// Sensitive pages and changes ask people who use two-factor sign-in for a fresh code first: the
/// response to send instead, or `None` to go ahead. `back` is where to return afterwards (a page,
/// so a form is filled in again rather than resent blindly).
pub(crate) async fn require_recent_second_factor(s: &AppState, user: &WebUser, back: &str) -> Option<Response> {
    match s.app.step_up_needed(&user.token).await {
        Ok(false) => None,
        Ok(true) => Some(Redirect::to(&format!("/account/confirm?next={}", super::form::encode(back))).into_response()),
        Err(e) => Some(error_page(Some(user), &e)),
    }
}

#[derive(Template)]
#[template(path = "confirm_second_factor.html")]
struct ConfirmPage {
    l: Layout,
    next: String,
    error: Option<String>,
    app: bool,
    keys: bool,
}

async fn confirm_page(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    let next = safe_next(q.get("next").map(String::as_str)).unwrap_or_else(|| "/account".into());
    confirm_view(&s, &user, next, None).await
}

async fn confirm_view(s: &AppState, user: &WebUser, next: String, error: Option<String>) -> Response {
    let (app, keys) = match s.app.two_factor_status(&user.actor).await {
        Ok(t) => (t.authenticator_app, t.security_keys > 0),
        Err(_) => (true, false),
    };
    let failed = error.is_some();
    let mut resp = render(&ConfirmPage {
        l: Layout::new(Some(user), "Confirm it is you", "account", None),
        next,
        error,
        app,
        keys,
    });
    if failed {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

async fn confirm(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let next = safe_next(f.get("next")).unwrap_or_else(|| "/account".into());
    match s.app.step_up(&user.actor, &user.token, f.get("code").unwrap_or_default()).await {
        Ok(()) => Redirect::to(&next).into_response(),
        Err(e @ orion_app::AppError::Validation(_)) => confirm_view(&s, &user, next, Some(explain(&e))).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

/// Orion's origin as the browser sees it (the relying party of security keys).
async fn origin(s: &AppState, headers: &HeaderMap) -> String {
    public_base(s, headers).await
}

/// A JSON answer for the script of a security-key button: the options, or an error it can show.
fn key_options<T: serde::Serialize>(r: Result<Option<T>, orion_app::AppError>) -> Response {
    let error = |status: StatusCode, message: String| {
        (status, axum::Json(serde_json::json!({"error": {"message": message}}))).into_response()
    };
    match r {
        Ok(Some(o)) => axum::Json(o).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "No security key is registered.".into()),
        Err(orion_app::AppError::Unauthorized) => {
            error(StatusCode::UNAUTHORIZED, "This sign-in has expired; start again.".into())
        }
        Err(e @ (orion_app::AppError::Conflict(_) | orion_app::AppError::Validation(_))) => {
            error(StatusCode::CONFLICT, explain(&e))
        }
        Err(e) => {
            tracing::warn!(error = %e, "security key options");
            error(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong; try again.".into())
        }
    }
}

async fn key_registration_options(State(s): State<AppState>, user: WebUser, headers: HeaderMap) -> Response {
    let origin = origin(&s, &headers).await;
    key_options(s.app.begin_key_registration(&user.actor, &origin).await.map(Some))
}

/// The form the key button submits: the key's name and the browser's answer.
async fn add_key(State(s): State<AppState>, user: WebUser, headers: HeaderMap, f: Fields) -> Response {
    let origin = origin(&s, &headers).await;
    let name = f.get("name").unwrap_or_default();
    let credential = f.get("credential").unwrap_or_default();
    match s.app.finish_key_registration(&user.actor, &origin, name, credential).await {
        Ok(codes) if !codes.is_empty() => render(&RecoveryCodesPage {
            l: Layout::new(Some(&user), "Your recovery codes", "account", None),
            codes,
            continue_to: "/account".into(),
        }),
        Ok(_) => done("/account", "key_added"),
        Err(e @ (orion_app::AppError::Validation(_) | orion_app::AppError::Conflict(_))) => {
            account_page(&s, &user, None, None, Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn remove_key(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    if let Some(r) = require_recent_second_factor(&s, &user, "/account").await {
        return r;
    }
    match s.app.remove_security_key(&user.actor, id).await {
        Ok(()) => done("/account", "key_removed"),
        Err(e @ orion_app::AppError::Forbidden(_)) => account_page(&s, &user, None, None, Some(explain(&e))).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn signin_key_options(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let Some(ch) = cookie(&headers, CHALLENGE_COOKIE) else {
        return key_options::<()>(Err(orion_app::AppError::Unauthorized));
    };
    let origin = origin(&s, &headers).await;
    key_options(s.app.challenge_key_options(&ch, &origin).await)
}

async fn signin_key(
    State(s): State<AppState>,
    ClientInfo(client): ClientInfo,
    headers: HeaderMap,
    f: Fields,
) -> Response {
    let Some(ch) = cookie(&headers, CHALLENGE_COOKIE) else { return expired_challenge() };
    let next = safe_next(f.get("next"));
    let previous = cookie(&headers, SESSION_COOKIE);
    let origin = origin(&s, &headers).await;
    let credential = f.get("credential").unwrap_or_default();
    let result = s.app.sign_in_with_key(&ch, &origin, credential, &client, previous.as_deref()).await;
    let wrong = "The security key's answer was not accepted. Try again, or use another way below.";
    second_factor_answer(&s, &headers, &ch, next, result.ok(), wrong).await
}

async fn confirm_key_options(State(s): State<AppState>, user: WebUser, headers: HeaderMap) -> Response {
    let origin = origin(&s, &headers).await;
    key_options(s.app.step_up_key_options(&user.actor, &origin).await)
}

async fn confirm_key(State(s): State<AppState>, user: WebUser, headers: HeaderMap, f: Fields) -> Response {
    let next = safe_next(f.get("next")).unwrap_or_else(|| "/account".into());
    let origin = origin(&s, &headers).await;
    let credential = f.get("credential").unwrap_or_default();
    match s.app.step_up_with_key(&user.actor, &user.token, &origin, credential).await {
        Ok(()) => Redirect::to(&next).into_response(),
        Err(orion_app::AppError::Validation(_)) => {
            confirm_view(&s, &user, next, Some("The security key's answer was not accepted. Try again.".into())).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}
