//! `/api/v1/webhooks`: outbound webhooks and their delivery log (admins).

use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::{AppState, ErrorBody};

use super::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use orion_app::Page;
use orion_app::webhooks::{Delivery, Webhook, WebhookInput, WebhookWithSecret};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

pub(crate) fn routes(r: super::ApiRoutes) -> super::ApiRoutes {
    r.routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(rotate_secret))
        .routes(routes!(ping))
        .routes(routes!(deliveries))
        .routes(routes!(delivery))
        .routes(routes!(redeliver))
}

/// Every webhook (admins).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Vec<Webhook>), (status = 403, body = ErrorBody)))]
async fn list_webhooks(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<Webhook>>> {
    Ok(Json(s.app.list_webhooks(&a).await?))
}

/// Subscribe a URL to ticket events (admins); the signing secret is in the answer, once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = WebhookInput,
    security(("bearer" = [])),
    responses((status = 201, body = WebhookWithSecret), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_webhook(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<WebhookInput>,
) -> ApiResult<(StatusCode, Json<WebhookWithSecret>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_webhook(&a, input).await?)))
}

/// One webhook (admins).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = Webhook), (status = 404, body = ErrorBody)))]
async fn get_webhook(State(s): State<AppState>, Auth(a): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Webhook>> {
    Ok(Json(s.app.get_webhook(&a, id).await?))
}

/// Change a webhook (admins); fields left out keep their value (the secret too).
#[utoipa::path(put, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    request_body = WebhookInput, security(("bearer" = [])),
    responses((status = 200, body = Webhook), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_webhook(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<WebhookInput>,
) -> ApiResult<Json<Webhook>> {
    Ok(Json(s.app.update_webhook(&a, id, input).await?))
}

/// Remove a webhook and its delivery log (admins).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_webhook(State(s): State<AppState>, Auth(a): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<StatusCode> {
    s.app.delete_webhook(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace a webhook's signing secret (admins); the new one is in the answer, once.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/secret", tag = "webhooks", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = WebhookWithSecret), (status = 404, body = ErrorBody)))]
async fn rotate_secret(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<WebhookWithSecret>> {
    Ok(Json(s.app.rotate_webhook_secret(&a, id).await?))
}

/// Queue a `ping` event to the webhook (admins): the answer is the delivery to watch in the log.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/ping", tag = "webhooks", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 202, body = Delivery), (status = 404, body = ErrorBody)))]
async fn ping(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    Ok((StatusCode::ACCEPTED, Json(s.app.ping_webhook(&a, id).await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveryQuery {
    /// Only deliveries still retrying or given up on
    pub failing: Option<bool>,
    /// From the previous page's `next_cursor`
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    pub cursor: Option<String>,
    /// 1..200, default 50
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A webhook's delivery log, newest first (admins): status, response code, attempts, what was sent.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = i64, Path), DeliveryQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<Delivery>), (status = 404, body = ErrorBody)))]
async fn deliveries(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<Page<Delivery>>> {
    let page = s.app.webhook_deliveries(&a, id, q.failing.unwrap_or(false), q.cursor.as_deref(), q.limit).await?;
    Ok(Json(page))
}

/// One delivery (admins).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries/{delivery}", tag = "webhooks",
    params(("id" = i64, Path), ("delivery" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Delivery), (status = 404, body = ErrorBody)))]
async fn delivery(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath((id, delivery)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<Delivery>> {
    Ok(Json(s.app.webhook_delivery(&a, id, delivery).await?))
}

/// Send a delivery's body again, as a new delivery (admins).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver", tag = "webhooks",
    params(("id" = i64, Path), ("delivery" = i64, Path)), security(("bearer" = [])),
    responses((status = 202, body = Delivery), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn redeliver(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath((id, delivery)): ApiPath<(i64, i64)>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    Ok((StatusCode::ACCEPTED, Json(s.app.redeliver(&a, id, delivery).await?)))
}
