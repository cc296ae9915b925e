//! The guard in front of every request: state-changing requests only from this site, and the
//! security headers on every response.

use super::session::{SESSION_COOKIE, client_of, cookie};
use crate::AppState;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

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
    // A browser asking for a page gets an error as a page, never the API's JSON or a framework's
    // plain text ("Cannot parse `abc` to a `i64`").
    let wants_page = !is_api
        && req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let mut resp = next.run(req).await;
    let failed = resp.status().is_client_error() || resp.status().is_server_error();
    let is_page = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/html"));
    if wants_page && failed && !is_page {
        resp = super::layout::status_page(resp.status());
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
