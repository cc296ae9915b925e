//! The web UI: server-rendered pages (askama) for agents, requesters and admins, with htmx for
//! the few partial updates (live ticket refresh, requester type-ahead, priority preview). Every
//! page calls the same services as the REST API; permissions are checked there.
//!
//! Sessions live in the database (see `orion_app::security`); the browser holds only a random
//! id in an HttpOnly, SameSite=Lax cookie. Every state-changing request must come from this
//! site (Fetch Metadata, else `Origin`), see [`guard`].

mod admin;
mod agent;
mod assets;
mod auth;
mod cmdb;
mod itsm;
mod kb;
mod monitoring;
mod portal;

use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use orion_app::AppError;
use orion_app::security::Client;
use orion_domain::Actor;
use std::net::SocketAddr;

pub(crate) const SESSION_COOKIE: &str = "orion_session";

/// Every page and form of the UI.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(cmdb::routes())
        .merge(auth::routes())
        .merge(agent::routes())
        .merge(monitoring::routes())
        .merge(assets::routes())
        .merge(portal::routes())
        .merge(admin::routes())
        .merge(kb::routes())
        .merge(itsm::routes())
}

/// Who is signed in, as the page header shows them.
#[derive(Debug, Clone)]
pub(crate) struct Me {
    pub name: String,
    pub email: String,
    pub staff: bool,
    pub admin: bool,
}

/// What every page's frame needs: the signed-in person (if any), a message after an action,
/// and the page's title.
pub(crate) struct Layout {
    pub me: Option<Me>,
    pub flash: Option<&'static str>,
    pub title: String,
    /// Which part of the navigation is current: `queue`, `new`, `problems`, `changes`, `approvals`,
    /// `portal`, `admin`, `account`
    pub section: &'static str,
}

impl Layout {
    pub fn new(user: Option<&WebUser>, title: impl Into<String>, section: &'static str, flash: Option<&str>) -> Self {
        Layout { me: user.map(|u| u.me.clone()), flash: flash.and_then(flash_text), title: title.into(), section }
    }
}

/// Messages shown after an action, by the key in `?m=` (never text from the URL itself).
fn flash_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "created" => "Ticket logged.",
        "replied" => "Reply sent to the requester.",
        "noted" => "Work note added.",
        "call" => "Phone call logged.",
        "assigned" => "Assignment saved.",
        "escalated" => "Ticket escalated.",
        "updated" => "Ticket updated.",
        "resolved" => "Ticket resolved.",
        "reopened" => "Ticket reopened.",
        "closed" => "Thank you — the ticket is closed.",
        "sent" => "Your message was added to the ticket.",
        "password" => "Password changed. Other sessions were signed out.",
        "everywhere" => "Signed out on every other device.",
        "token_revoked" => "Token revoked.",
        "user_created" => "User created.",
        "user_saved" => "User saved.",
        "unlocked" => "Account unlocked.",
        "group_saved" => "Group saved.",
        "category_saved" => "Category saved.",
        "matrix_saved" => "Priority matrix saved.",
        "settings_saved" => "Settings saved.",
        "reset_sent" => "If the address belongs to an account, a link to set a new password is on its way.",
        "reset_done" => "Password set. Sign in with it now.",
        "signed_out" => "Signed out.",
        "article_saved" => "Article saved.",
        "feedback" => "Thank you for your feedback.",
        "article_linked" => "Article linked to the ticket.",
        "article_unlinked" => "Article link removed.",
        "window_created" => "Maintenance window started: matching alerts open nothing until it ends.",
        "window_ended" => "Maintenance window ended.",
        "asset_saved" => "Asset saved.",
        "asset_moved" => "Asset updated; the move is in its history.",
        "relation_added" => "Relationship recorded.",
        "problem_created" => "Problem logged.",
        "problem_moved" => "Problem moved.",
        "analysis_saved" => "Analysis saved.",
        "incident_linked" => "Incident linked to the problem.",
        "incident_unlinked" => "Incident unlinked from the problem.",
        "proposal_dismissed" => "Proposal dismissed; the same incidents are not proposed again.",
        "detected" => "Detection ran; new proposals are listed below.",
        "workaround_applied" => "Ticket resolved with the problem's workaround.",
        "change_created" => "Change logged.",
        "change_moved" => "Change moved.",
        "change_saved" => "Change saved.",
        "decided" => "Decision recorded.",
        "task_added" => "Task added.",
        "task_done" => "Task done.",
        "reviewed" => "Outcome recorded.",
        _ => return None,
    })
}

/// The signed-in user of a page request. Without a valid session, a page redirects to the
/// sign-in page (and back afterwards); an htmx request gets `HX-Redirect`.
pub(crate) struct WebUser {
    pub actor: Actor,
    pub me: Me,
    pub token: String,
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else { return Err(to_sign_in(parts)) };
        match state.app.session(&token).await {
            Ok(s) => Ok(WebUser {
                me: Me {
                    name: s.name,
                    email: s.email,
                    staff: s.actor.can_work_tickets(),
                    admin: s.actor.can_administer(),
                },
                actor: s.actor,
                token,
            }),
            Err(AppError::Unauthorized) => Err(to_sign_in(parts)),
            Err(e) => Err(error_page(None, &e)),
        }
    }
}

fn to_sign_in(parts: &Parts) -> Response {
    let here = if parts.method == Method::GET {
        parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into())
    } else {
        parts.headers.get(header::REFERER).and_then(|v| v.to_str().ok()).map(path_of).unwrap_or_else(|| "/".into())
    };
    let target = format!("/login?next={}", encode(&here));
    if parts.headers.contains_key("hx-request") {
        return (StatusCode::OK, [("hx-redirect", target)]).into_response();
    }
    Redirect::to(&target).into_response()
}

/// The path and query of a URL (`https://host/a?b` → `/a?b`).
fn path_of(url: &str) -> String {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| rest[i..].to_string()).unwrap_or_else(|| "/".into()),
        None => url.to_string(),
    }
}

/// A `next` target that stays on this site (a path, not `//host` or `/\host`).
pub(crate) fn safe_next(next: Option<&str>) -> Option<String> {
    let n = next?.trim();
    let ok = n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") && !n.contains(['\r', '\n']);
    ok.then(|| n.to_string())
}

pub(crate) fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A cookie's value from the request.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// Whether the browser reached us over HTTPS (directly or through a proxy that says so).
fn is_https(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` value for the session (empty `value`: delete it).
pub(crate) fn session_cookie(headers: &HeaderMap, value: &str) -> HeaderValue {
    let secure = if is_https(headers) { "; Secure" } else { "" };
    let age = if value.is_empty() { "; Max-Age=0" } else { "" };
    HeaderValue::from_str(&format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax{secure}{age}"))
        .unwrap_or_else(|_| HeaderValue::from_static("orion_session=; Path=/; Max-Age=0"))
}

/// Where a request came from: the peer address, or the proxy's `X-Forwarded-For` when the peer
/// is this machine (a reverse proxy on the same host).
pub(crate) fn client_of(parts_headers: &HeaderMap, peer: Option<SocketAddr>) -> Client {
    let forwarded = parts_headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().to_string())
        .filter(|v| v.parse::<std::net::IpAddr>().is_ok());
    let ip = match peer {
        Some(p) if p.ip().is_loopback() => forwarded.or(Some(p.ip().to_string())),
        Some(p) => Some(p.ip().to_string()),
        None => forwarded,
    };
    let user_agent = parts_headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
    Client { ip, user_agent }
}

/// The request's [`Client`].
pub(crate) struct ClientInfo(pub Client);

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        Ok(ClientInfo(client_of(&parts.headers, peer)))
    }
}

/// Refuses state-changing requests from other sites and sets the security headers on every
/// response. A request with `Authorization` (an API client with a token) is not a browser
/// riding on a cookie and is let through.
pub(crate) async fn guard(state: axum::extract::State<AppState>, req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method
        && !req.headers().contains_key(header::AUTHORIZATION)
        && let Err(why) = same_origin(req.headers())
    {
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let client = client_of(req.headers(), peer);
        let detail = format!("{} {}: {why}", req.method(), req.uri().path());
        state.app.log_security("cross_site_refused", None, None, client.ip.as_deref(), &detail).await;
        let message = format!("refused: a state-changing request from another site ({why})");
        let body = serde_json::json!({"error": {"code": "cross_site_request", "message": message}});
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    let is_api = req.uri().path().starts_with("/api/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if !is_api {
        h.insert("x-frame-options", HeaderValue::from_static("DENY"));
        h.insert(
            "content-security-policy",
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        );
    }
    resp
}

/// Fetch Metadata first (`Sec-Fetch-Site` must be `same-origin` or `none`), else `Origin` must
/// name this host, else (a non-browser client) the request must not carry the session cookie.
fn same_origin(h: &HeaderMap) -> Result<(), String> {
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return match site {
            "same-origin" | "none" => Ok(()),
            other => Err(format!("Sec-Fetch-Site is {other}")),
        };
    }
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    if let Some(origin) = h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let origin_host = origin.split_once("://").map(|(_, r)| r).unwrap_or(origin);
        return if !host.is_empty() && origin_host.eq_ignore_ascii_case(host) {
            Ok(())
        } else {
            Err(format!("Origin {origin} is not this site"))
        };
    }
    if cookie(h, SESSION_COOKIE).is_some() {
        return Err("no Sec-Fetch-Site or Origin on a request with a session cookie".into());
    }
    Ok(())
}

/// Renders a template, or a plain 500 if the template itself fails.
pub(crate) fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    l: Layout,
    status: u16,
    message: String,
}

/// A page for an error the person cannot fix in a form (not found, not allowed, broken).
pub(crate) fn error_page(user: Option<&WebUser>, e: &AppError) -> Response {
    let (status, message) = match e {
        AppError::NotFound(what) => (StatusCode::NOT_FOUND, format!("No such {what}, or you may not see it.")),
        AppError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
        AppError::Unauthorized => (StatusCode::UNAUTHORIZED, "Please sign in.".into()),
        AppError::TokenRefused(m) => (StatusCode::UNAUTHORIZED, m.clone()),
        AppError::Validation(_) | AppError::Conflict(_) | AppError::InvalidTransition(_) => {
            (StatusCode::UNPROCESSABLE_ENTITY, explain(e))
        }
        _ => {
            tracing::error!(error = %e, "page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side; please try again.".into())
        }
    };
    let page = ErrorPage {
        l: Layout::new(user, status.canonical_reason().unwrap_or("Error"), "", None),
        status: status.as_u16(),
        message,
    };
    let mut resp = render(&page);
    *resp.status_mut() = status;
    resp
}

/// An error in words for the form it came from: each field named.
pub(crate) fn explain(e: &AppError) -> String {
    match e {
        AppError::Validation(errs) => {
            errs.iter().map(|f| format!("{}: {}", f.field.replace('_', " "), f.message)).collect::<Vec<_>>().join("; ")
        }
        AppError::Conflict(m) | AppError::Forbidden(m) => m.clone(),
        AppError::InvalidTransition(t) => t.to_string(),
        AppError::NotFound(what) => format!("no such {what}"),
        _ => "Something went wrong on our side; nothing was saved. Please try again.".into(),
    }
}

/// The fields of a submitted form, in order (repeated names kept: multi-selects, checkboxes).
pub(crate) struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The field's text, or `None` when missing or blank.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v == "on" || v == "true" || v == "1")
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(|v| v.trim().parse().ok())
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| (StatusCode::PAYLOAD_TOO_LARGE, e.body_text()).into_response())?;
        Ok(Fields(form_urlencoded::parse(&bytes).into_owned().collect()))
    }
}

/// Readable time for pages: `2026-11-22 14:03 UTC` (the browser shows it in local time).
pub(crate) fn when(rfc3339: &str) -> String {
    let t = rfc3339.replace('T', " ");
    let t = t.split('.').next().unwrap_or(&t).trim_end_matches('Z');
    let t = t.get(..16).unwrap_or(t);
    format!("{t} UTC")
}

/// Human words for a machine value (`in_progress` → `in progress`).
pub(crate) fn words(s: &str) -> String {
    s.replace('_', " ")
}

/// A redirect after a successful form (POST → GET), with a message key.
pub(crate) fn done(path: &str, message: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{sep}m={message}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_targets_stay_on_this_site() {
        assert_eq!(safe_next(Some("/agent?queue=mine")).as_deref(), Some("/agent?queue=mine"));
        assert_eq!(safe_next(Some("//evil.example/x")), None);
        assert_eq!(safe_next(Some("/\\evil.example")), None);
        assert_eq!(safe_next(Some("https://evil.example")), None);
    }

    #[test]
    fn cross_site_requests_are_told_apart() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("help.example.com"));
        assert!(same_origin(&h).is_ok(), "a non-browser client without a cookie");
        h.insert(header::COOKIE, HeaderValue::from_static("orion_session=abc"));
        assert!(same_origin(&h).is_err(), "a cookie without any origin header");
        h.insert(header::ORIGIN, HeaderValue::from_static("https://help.example.com"));
        assert!(same_origin(&h).is_ok());
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(same_origin(&h).is_err());
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&h).is_ok(), "Fetch Metadata decides when present");
        h.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        assert!(same_origin(&h).is_err());
    }
}
