//! The UI's static files, embedded in the binary and served with an ETag.

use crate::AppState;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

const FILES: &[(&str, &str, &[u8])] = &[
    ("htmx.min.js", "text/javascript; charset=utf-8", include_bytes!("../../static/htmx.min.js")),
    ("orion.js", "text/javascript; charset=utf-8", include_bytes!("../../static/orion.js")),
    ("orion.css", "text/css; charset=utf-8", include_bytes!("../../static/orion.css")),
    ("orion.svg", "image/svg+xml", include_bytes!("../../static/orion.svg")),
];

fn etags() -> &'static Vec<String> {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        FILES
            .iter()
            .map(|(_, _, bytes)| {
                let d = Sha256::digest(bytes);
                format!("\"{}\"", d.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>())
            })
            .collect()
    })
}

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/static/{file}", axum::routing::get(file))
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(i) = FILES.iter().position(|(n, _, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (_, mime, bytes) = FILES[i];
    let tag = &etags()[i];
    let cache = [
        (header::ETAG, HeaderValue::from_str(tag).unwrap_or(HeaderValue::from_static("\"0\""))),
        (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600, must-revalidate")),
    ];
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(tag.as_str()) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (cache, [(header::CONTENT_TYPE, mime)], bytes).into_response()
}
