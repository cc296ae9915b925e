//! Health, readiness, Prometheus metrics and request accounting; retention of logs.

use super::ApiResult;
use crate::extract::{ApiJson, Auth};
use crate::{AppState, ErrorBody};
use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use orion_app::retention::{PurgeReport, RetentionSettings, RetentionStatus};
use serde_json::json;
use std::time::Instant;
use utoipa_axum::routes;

pub(crate) fn routes(r: super::ApiRoutes) -> super::ApiRoutes {
    r.routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(prometheus))
        .routes(routes!(get_retention_settings, put_retention_settings))
        .routes(routes!(get_retention))
        .routes(routes!(purge_now))
}

/// How many days each log is kept (0: for good). Admins.
#[utoipa::path(get, path = "/api/v1/settings/retention", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = RetentionSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_retention_settings(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<RetentionSettings>> {
    Ok(Json(s.app.retention_settings(&a).await?))
}

/// Changes how long logs are kept; the change is written to the security log. Admins.
#[utoipa::path(put, path = "/api/v1/settings/retention", tag = "settings", request_body = RetentionSettings,
    security(("bearer" = [])),
    responses((status = 200, body = RetentionSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn put_retention_settings(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<RetentionSettings>,
) -> ApiResult<Json<RetentionSettings>> {
    Ok(Json(s.app.set_retention(&a, input).await?))
}

/// The retention settings, what the last removal run removed, and when the next one starts. Admins.
#[utoipa::path(get, path = "/api/v1/retention", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = RetentionStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_retention(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<RetentionStatus>> {
    Ok(Json(s.app.retention_status(&a).await?))
}

/// Removes log entries older than their log's limit now, instead of at the daily run. Admins.
#[utoipa::path(post, path = "/api/v1/retention/purge", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = PurgeReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn purge_now(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<PurgeReport>> {
    Ok(Json(s.app.purge_logs_now(&a).await?))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, description = "Alive")))]
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// The database answers; a load balancer sends traffic only when this is 200.
#[utoipa::path(get, path = "/readyz", tag = "system",
    responses((status = 200, description = "Ready"), (status = 503, description = "Database unreachable")))]
async fn readyz(State(s): State<AppState>) -> Response {
    match s.app.db.ping().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable", "reason": "database"})))
                .into_response()
        }
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, description = "Prometheus text format")))]
async fn prometheus(State(s): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render()).into_response()
}

/// Counts requests and their latency by route template (never by raw path, so labels stay bounded).
pub(crate) async fn track_requests(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route =
        req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("orion_http_requests_total", &labels).increment(1);
    metrics::histogram!("orion_http_request_duration_seconds", &labels).record(start.elapsed().as_secs_f64());
    response
}
