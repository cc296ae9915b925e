//! Orion's HTTP face: the web UI, the REST API under `/api/v1`, health and metrics.
//! Handlers are thin: parse, call one service, map the result.

mod error;
mod extract;
mod openapi;
mod routes;
mod ui;

pub use error::{ApiError, ErrorBody};
pub use openapi::openapi_json;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use orion_app::App;
use std::sync::OnceLock;
use std::time::Duration;

/// Largest request body accepted (JSON); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach. The router clones it for every request: one shared pointer,
/// not the application's dozen.
#[derive(Clone)]
pub struct AppState(std::sync::Arc<Shared>);

/// The handles behind [`AppState`].
pub struct Shared {
    pub app: App,
    pub metrics: PrometheusHandle,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The process-wide Prometheus recorder (installed once, even with many servers in one test process).
/// A stored file as a download, never as a page of this site: images inline, everything else as
/// `application/octet-stream`; the name in both `filename` forms; sandboxed and not sniffed.
pub(crate) fn file_response(f: orion_app::mail::AttachmentFile) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let inline = matches!(f.content_type.as_str(), "image/png" | "image/jpeg" | "image/gif" | "image/webp");
    let name: String = f
        .filename
        .chars()
        .map(|c| if c == '"' || c == '\\' || c.is_control() || !c.is_ascii() { '_' } else { c })
        .collect();
    let encoded: String = f
        .filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect();
    let disposition =
        format!("{}; filename=\"{name}\"; filename*=UTF-8''{encoded}", if inline { "inline" } else { "attachment" });
    let content_type = if inline { f.content_type } else { "application/octet-stream".into() };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
            (header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'".into()),
        ],
        f.bytes,
    )
        .into_response()
}

pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new().install_recorder().unwrap_or_else(|_| {
                // Another recorder is installed: keep a private one so /metrics still answers.
                PrometheusBuilder::new().build_recorder().handle()
            });
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .ok();
            handle
        })
        .clone()
}

/// The span of one request: its method and route *template* (`/password/reset/{secret}`), never
/// the path itself, which may carry a secret.
fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let route = req.extensions().get::<axum::extract::MatchedPath>().map_or("(unmatched)", |m| m.as_str());
    tracing::debug_span!("request", method = %req.method(), route)
}

/// The whole HTTP application.
pub fn router(app: App) -> Router {
    let state = AppState(std::sync::Arc::new(Shared { app, metrics: metrics_handle() }));
    answer_panics(routes::router(state))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(routes::system::track_requests))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(60),
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
}

/// A handler that panics answers like any other internal failure — a logged 500 with the error
/// envelope — instead of a dropped connection.
fn answer_panics(router: Router) -> Router {
    router.layer(tower_http::catch_panic::CatchPanicLayer::custom(error::panic_response))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_with_the_error_envelope() {
        let router = super::answer_panics(axum::Router::new().route(
            "/boom",
            axum::routing::get(|| async {
                // A byte index inside a character: the kind of bug that once dropped connections.
                let text = std::hint::black_box("abcdefgé");
                text[..8].to_string()
            }),
        ));
        let resp = router.oneshot(Request::get("/boom").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["error"]["code"], "internal", "{v}");
    }
}
