//! Who is asking: the session cookie, the signed-in person of a page request ([`WebUser`]), the
//! staff-only pages' extractor ([`StaffUser`]), and where a request came from ([`ClientInfo`]).

use super::form::encode;
use super::layout::{Me, error_page};
use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Redirect, Response};
use orion_app::AppError;
use orion_app::signin::Client;
use orion_domain::Actor;
use std::marker::PhantomData;
use std::net::SocketAddr;

pub(crate) const SESSION_COOKIE: &str = "orion_session";

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
                    // Only pages (not their htmx fragments) show them, but an admin's request is rare
                    // enough that reading them each time costs nothing that matters.
                    notices: if s.actor.can_administer() && !is_fragment(parts) {
                        state.app.admin_notices(&s.actor).await.unwrap_or_default()
                    } else {
                        Vec::new()
                    },
                },
                actor: s.actor,
                token,
            }),
            Err(AppError::Unauthorized) => Err(to_sign_in(parts)),
            Err(e) => Err(error_page(None, &e)),
        }
    }
}

/// An htmx request for a part of a page (it shows no frame, so no notices).
fn is_fragment(parts: &Parts) -> bool {
    parts.headers.contains_key("hx-request")
}

impl OptionalFromRequestParts<AppState> for WebUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        Ok(<WebUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await.ok())
    }
}

/// The signed-in member of staff (agent, lead or admin) on a page only staff use, so a handler's
/// signature says who may call it. Anyone else is refused before the handler runs, the way `R`
/// says: [`ToPortal`] for the agent console (the default), [`ToHelp`] for the knowledge pages staff
/// write, [`Forbidden`] for the htmx parts of staff pages. Without a session it answers as
/// [`WebUser`] does (to the sign-in page).
pub(crate) struct StaffUser<R = ToPortal> {
    pub user: WebUser,
    refusal: PhantomData<R>,
}

/// What a staff-only page answers anyone else.
pub(crate) trait Refusal {
    fn response() -> Response;
}

/// A requester who lands on the agent console goes to the portal.
pub(crate) struct ToPortal;

/// A requester who lands on a knowledge page staff write goes to the help pages.
pub(crate) struct ToHelp;

/// A part of a staff page (htmx) answers anyone else with a bare 403.
pub(crate) struct Forbidden;

impl Refusal for ToPortal {
    fn response() -> Response {
        Redirect::to("/portal").into_response()
    }
}

impl Refusal for ToHelp {
    fn response() -> Response {
        Redirect::to("/help").into_response()
    }
}

impl Refusal for Forbidden {
    fn response() -> Response {
        StatusCode::FORBIDDEN.into_response()
    }
}

impl<R: Refusal> FromRequestParts<AppState> for StaffUser<R> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let user = <WebUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await?;
        if !user.me.staff {
            return Err(R::response());
        }
        Ok(StaffUser { user, refusal: PhantomData })
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
pub(crate) fn is_https(headers: &HeaderMap) -> bool {
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
}
