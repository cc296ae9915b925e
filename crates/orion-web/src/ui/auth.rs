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
use orion_app::signin::SignInError;
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
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
}

async fn login_page(Query(q): Query<HashMap<String, String>>) -> Response {
    let page = LoginPage {
        l: Layout::new(None, "Sign in", "", q.get("m").map(String::as_str)),
        email: String::new(),
        next: safe_next(q.get("next").map(String::as_str)).unwrap_or_default(),
        error: None,
    };
    render(&page)
}

async fn login(State(s): State<AppState>, ClientInfo(client): ClientInfo, headers: HeaderMap, f: Fields) -> Response {
    let email = f.text("email").unwrap_or_default();
    let password = f.get("password").unwrap_or_default().to_string();
    let next = safe_next(f.get("next"));
    let previous = cookie(&headers, SESSION_COOKIE);
    match s.app.sign_in(&email, &password, &client, previous.as_deref()).await {
        Ok(signed) => {
            let to = next
                .unwrap_or_else(|| if signed.actor.can_work_tickets() { "/agent".into() } else { "/portal".into() });
            let mut resp = Redirect::to(&to).into_response();
            resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&headers, &signed.token));
            resp
        }
        Err(e) => {
            let error = match e {
                SignInError::Refused => "Wrong e-mail or password, or the account is locked after too many failed \
                                         attempts. Try again later or ask the service desk."
                    .to_string(),
                SignInError::Throttled(min) => {
                    format!("Too many failed sign-ins from your network. Wait {min} minutes and try again.")
                }
            };
            let page = LoginPage {
                l: Layout::new(None, "Sign in", "", None),
                email,
                next: next.unwrap_or_default(),
                error: Some(error),
            };
            let mut resp = render(&page);
            *resp.status_mut() = StatusCode::UNAUTHORIZED;
            resp
        }
    }
}

async fn logout(State(s): State<AppState>, ClientInfo(client): ClientInfo, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = s.app.sign_out(&token, &client).await
    {
        return error_page(None, &e);
    }
    let mut resp = done("/login", "signed_out");
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
            let page = ForgotPage { l: Layout::new(None, "Forgot your password?", "", None), error: Some(explain(&e)) };
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
    let page = AccountPage {
        l: Layout::new(Some(user), "Your account", "account", flash),
        tokens,
        new_token,
        error,
        min_length,
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
