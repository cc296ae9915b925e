//! `/api/v1/integrations/*` (alert endpoints and their admin), `/api/v1/alerts`,
//! `/api/v1/maintenance-windows`, `/api/v1/heartbeats`

use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::routes::tickets::PageQuery;
use crate::{ApiError, AppState, ErrorBody};

use super::ApiResult;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use orion_app::Page;
use orion_app::monitoring::heartbeat::{Heartbeat, HeartbeatInput, HeartbeatRun, HeartbeatWithToken, Ping, PingReply};
use orion_app::monitoring::payload::Format;
use orion_app::monitoring::{
    Alert, IngestReport, Integration, IntegrationInput, IntegrationWithToken, MaintenanceWindow, WindowInput,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

pub(crate) fn routes(r: super::ApiRoutes) -> super::ApiRoutes {
    r.routes(routes!(alertmanager))
        .routes(routes!(grafana))
        .routes(routes!(zabbix))
        .routes(routes!(webhook))
        .routes(routes!(list_integrations, create_integration))
        .routes(routes!(update_integration))
        .routes(routes!(rotate_integration))
        .routes(routes!(list_alerts))
        .routes(routes!(ticket_alerts))
        .routes(routes!(list_windows, create_window))
        .routes(routes!(end_window))
        .routes(routes!(list_heartbeats, create_heartbeat))
        .routes(routes!(update_heartbeat))
        .routes(routes!(rotate_heartbeat))
        .routes(routes!(heartbeat_runs))
        .routes(routes!(ping_post, ping_get))
}

/// `?token=` for senders that cannot set an `Authorization` header.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TokenQuery {
    /// The integration token, if not sent as `Authorization: Bearer`
    pub token: Option<String>,
}

fn token(headers: &HeaderMap, q: &TokenQuery) -> Result<String, ApiError> {
    crate::extract::bearer(headers)
        .map(str::to_string)
        .or_else(|| q.token.clone())
        .ok_or_else(|| ApiError::App(orion_app::AppError::TokenRefused(orion_app::monitoring::TOKEN_HELP.into())))
}

async fn ingest(
    s: &AppState,
    format: Format,
    headers: &HeaderMap,
    q: &TokenQuery,
    body: &[u8],
) -> ApiResult<Json<IngestReport>> {
    let token = token(headers, q)?;
    Ok(Json(s.app.ingest_alerts(format, &token, body).await?))
}

/// Prometheus Alertmanager webhook (version 4). Repeats are idempotent on `fingerprint`; alerts of
/// one `groupKey` become one incident.
#[utoipa::path(post, path = "/api/v1/integrations/alertmanager", tag = "monitoring", params(TokenQuery),
    request_body(content = serde_json::Value, content_type = "application/json"),
    security(("bearer" = [])),
    responses((status = 200, body = IngestReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn alertmanager(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<TokenQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<IngestReport>> {
    ingest(&s, Format::Alertmanager, &headers, &q, &body).await
}

/// Grafana alerting webhook (Alertmanager's shape plus `orgId`, `title`, `message`).
#[utoipa::path(post, path = "/api/v1/integrations/grafana", tag = "monitoring", params(TokenQuery),
    request_body(content = serde_json::Value, content_type = "application/json"),
    security(("bearer" = [])),
    responses((status = 200, body = IngestReport), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn grafana(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<TokenQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<IngestReport>> {
    ingest(&s, Format::Grafana, &headers, &q, &body).await
}

/// Zabbix, from the media type in `docs/integrations/zabbix_media_orion.yaml`; the answer's
/// `alerts[0].incident` is written back to the event as the tag `orion_incident`.
#[utoipa::path(post, path = "/api/v1/integrations/zabbix", tag = "monitoring", params(TokenQuery),
    request_body(content = serde_json::Value, content_type = "application/json"),
    security(("bearer" = [])),
    responses((status = 200, body = IngestReport), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn zabbix(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<TokenQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<IngestReport>> {
    ingest(&s, Format::Zabbix, &headers, &q, &body).await
}

/// The generic alert webhook: one event or an array of events
/// (`source`, `dedup_key`, `severity`, `summary`, `details`, `status` firing|resolved, `ci`,
/// `service`, `group`, `labels`, `url`, `timestamp`).
#[utoipa::path(post, path = "/api/v1/integrations/webhook", tag = "monitoring", params(TokenQuery),
    request_body(content = serde_json::Value, content_type = "application/json"),
    security(("bearer" = [])),
    responses((status = 200, body = IngestReport), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn webhook(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<TokenQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<IngestReport>> {
    ingest(&s, Format::Webhook, &headers, &q, &body).await
}

/// Every integration (admins).
#[utoipa::path(get, path = "/api/v1/integrations", tag = "monitoring", security(("bearer" = [])),
    responses((status = 200, body = Vec<Integration>), (status = 403, body = ErrorBody)))]
async fn list_integrations(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<Integration>>> {
    Ok(Json(s.app.list_integrations(&a).await?))
}

/// Add a monitoring integration (admins); the token is in the answer, once.
#[utoipa::path(post, path = "/api/v1/integrations", tag = "monitoring", request_body = IntegrationInput,
    security(("bearer" = [])),
    responses((status = 201, body = IntegrationWithToken), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_integration(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<IntegrationInput>,
) -> ApiResult<(StatusCode, Json<IntegrationWithToken>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_integration(&a, input).await?)))
}

/// Change an integration (admins); fields left out keep their value.
#[utoipa::path(put, path = "/api/v1/integrations/{id}", tag = "monitoring", params(("id" = i64, Path)),
    request_body = IntegrationInput, security(("bearer" = [])),
    responses((status = 200, body = Integration), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_integration(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<IntegrationInput>,
) -> ApiResult<Json<Integration>> {
    Ok(Json(s.app.update_integration(&a, id, input).await?))
}

/// Replace an integration's token (admins); the old one stops working at once.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/token", tag = "monitoring", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = IntegrationWithToken), (status = 404, body = ErrorBody)))]
async fn rotate_integration(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<IntegrationWithToken>> {
    Ok(Json(s.app.rotate_integration_token(&a, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AlertQuery {
    /// `firing` or `resolved`
    #[param(schema_with = orion_app::api_schema::alert_statuses_exact)]
    pub status: Option<String>,
    /// An integration id
    pub integration: Option<i64>,
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Alerts, newest first (staff).
#[utoipa::path(get, path = "/api/v1/alerts", tag = "monitoring", params(AlertQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<Alert>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_alerts(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> ApiResult<Json<Page<Alert>>> {
    Ok(Json(s.app.list_alerts(&a, q.status.as_deref(), q.integration, q.cursor.as_deref(), q.limit).await?))
}

/// The alerts of an incident (staff).
#[utoipa::path(get, path = "/api/v1/tickets/{number}/alerts", tag = "monitoring", params(("number" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<Alert>), (status = 404, body = ErrorBody)))]
async fn ticket_alerts(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<Vec<Alert>>> {
    Ok(Json(s.app.ticket_alerts(&a, &number).await?))
}

/// Current and coming maintenance windows (staff).
#[utoipa::path(get, path = "/api/v1/maintenance-windows", tag = "monitoring", security(("bearer" = [])),
    responses((status = 200, body = Vec<MaintenanceWindow>), (status = 403, body = ErrorBody)))]
async fn list_windows(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<MaintenanceWindow>>> {
    Ok(Json(s.app.list_windows(&a).await?))
}

/// Open a maintenance window (staff): matching alerts are recorded and open nothing.
#[utoipa::path(post, path = "/api/v1/maintenance-windows", tag = "monitoring", request_body = WindowInput,
    security(("bearer" = [])),
    responses((status = 201, body = MaintenanceWindow), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_window(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<WindowInput>,
) -> ApiResult<(StatusCode, Json<MaintenanceWindow>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_window(&a, input).await?)))
}

/// End a maintenance window now (staff).
#[utoipa::path(post, path = "/api/v1/maintenance-windows/{id}/end", tag = "monitoring", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = MaintenanceWindow), (status = 404, body = ErrorBody)))]
async fn end_window(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<MaintenanceWindow>> {
    Ok(Json(s.app.end_window(&a, id).await?))
}

/// The backup board: every heartbeat with its last run, result, duration and next due (staff).
#[utoipa::path(get, path = "/api/v1/heartbeats", tag = "monitoring", security(("bearer" = [])),
    responses((status = 200, body = Vec<Heartbeat>), (status = 403, body = ErrorBody)))]
async fn list_heartbeats(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<Heartbeat>>> {
    Ok(Json(s.app.list_heartbeats(&a).await?))
}

/// Add a heartbeat (leads, admins); its ping URLs are in the answer, once.
#[utoipa::path(post, path = "/api/v1/heartbeats", tag = "monitoring", request_body = HeartbeatInput,
    security(("bearer" = [])),
    responses((status = 201, body = HeartbeatWithToken), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_heartbeat(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<HeartbeatInput>,
) -> ApiResult<(StatusCode, Json<HeartbeatWithToken>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_heartbeat(&a, input).await?)))
}

/// Change a heartbeat (leads, admins).
#[utoipa::path(put, path = "/api/v1/heartbeats/{id}", tag = "monitoring", params(("id" = i64, Path)),
    request_body = HeartbeatInput, security(("bearer" = [])),
    responses((status = 200, body = Heartbeat), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_heartbeat(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<HeartbeatInput>,
) -> ApiResult<Json<Heartbeat>> {
    Ok(Json(s.app.update_heartbeat(&a, id, input).await?))
}

/// Replace a heartbeat's token (leads, admins); the old ping URLs stop working at once.
#[utoipa::path(post, path = "/api/v1/heartbeats/{id}/token", tag = "monitoring", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = HeartbeatWithToken), (status = 404, body = ErrorBody)))]
async fn rotate_heartbeat(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<HeartbeatWithToken>> {
    Ok(Json(s.app.rotate_heartbeat_token(&a, id).await?))
}

/// A heartbeat's runs and missed runs, newest first, with their logs (staff).
#[utoipa::path(get, path = "/api/v1/heartbeats/{id}/runs", tag = "monitoring", params(("id" = i64, Path), PageQuery),
    security(("bearer" = [])), responses((status = 200, body = Page<HeartbeatRun>), (status = 404, body = ErrorBody)))]
async fn heartbeat_runs(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<HeartbeatRun>>> {
    Ok(Json(s.app.heartbeat_runs(&a, id, q.cursor.as_deref(), q.limit).await?))
}

async fn ping(s: &AppState, token: &str, outcome: &str, body: &[u8]) -> ApiResult<Json<PingReply>> {
    let ping = Ping::parse(outcome).ok_or(ApiError::App(orion_app::AppError::NotFound("heartbeat action")))?;
    Ok(Json(s.app.ping_heartbeat(token, ping, body).await?))
}

/// A job's ping: `ok`, `fail` or `start`, the log as the body. The token in the path is the only
/// credential (no `Authorization`).
#[utoipa::path(post, path = "/api/v1/heartbeats/{id}/{outcome}", tag = "monitoring",
    params(("id" = String, Path, description = "The heartbeat's token, from its ping URL"),
        ("outcome" = String, Path, description = "ok, fail or start")),
    request_body(content = String, content_type = "text/plain"),
    responses((status = 200, body = PingReply), (status = 404, body = ErrorBody)))]
async fn ping_post(
    State(s): State<AppState>,
    ApiPath((token, outcome)): ApiPath<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<PingReply>> {
    ping(&s, &token, &outcome, &body).await
}

/// The same ping by `GET` (for `curl -fsS URL` in a crontab), without a log.
#[utoipa::path(get, path = "/api/v1/heartbeats/{id}/{outcome}", tag = "monitoring",
    params(("id" = String, Path, description = "The heartbeat's token, from its ping URL"),
        ("outcome" = String, Path, description = "ok, fail or start")),
    responses((status = 200, body = PingReply), (status = 404, body = ErrorBody)))]
async fn ping_get(
    State(s): State<AppState>,
    ApiPath((token, outcome)): ApiPath<(String, String)>,
) -> ApiResult<Json<PingReply>> {
    ping(&s, &token, &outcome, &[]).await
}
