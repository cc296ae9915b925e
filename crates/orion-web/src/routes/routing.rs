//! `/api/v1/routing-rules`: the ordered rules every new ticket is checked against (admins).

use crate::extract::{ApiJson, ApiPath, Auth};
use crate::{AppState, ErrorBody};

use super::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use orion_app::routing::{Rule, RuleInput, RuleOrder, RuleTestInput, RuleTestResult};
use utoipa_axum::routes;

pub(crate) fn routes(r: super::ApiRoutes) -> super::ApiRoutes {
    r.routes(routes!(list_rules, create_rule)).routes(routes!(order_rules)).routes(routes!(test_rules)).routes(routes!(
        get_rule,
        update_rule,
        delete_rule
    ))
}

/// Every routing rule in the order they are checked (admins).
#[utoipa::path(get, path = "/api/v1/routing-rules", tag = "routing", security(("bearer" = [])),
    responses((status = 200, body = Vec<Rule>), (status = 403, body = ErrorBody)))]
async fn list_rules(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<Rule>>> {
    Ok(Json(s.app.list_rules(&a).await?))
}

/// Add a rule at the end of the order (admins).
#[utoipa::path(post, path = "/api/v1/routing-rules", tag = "routing", request_body = RuleInput,
    security(("bearer" = [])),
    responses((status = 201, body = Rule), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_rule(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<RuleInput>,
) -> ApiResult<(StatusCode, Json<Rule>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_rule(&a, input).await?)))
}

/// Put the rules in a new order: every rule's id, first to last (admins).
#[utoipa::path(put, path = "/api/v1/routing-rules/order", tag = "routing", request_body = RuleOrder,
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Rule>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn order_rules(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(order): ApiJson<RuleOrder>,
) -> ApiResult<Json<Vec<Rule>>> {
    Ok(Json(s.app.order_rules(&a, order).await?))
}

/// What the active rules would do to a sample ticket or a pasted mail; nothing is written (admins).
#[utoipa::path(post, path = "/api/v1/routing-rules/test", tag = "routing", request_body = RuleTestInput,
    security(("bearer" = [])),
    responses((status = 200, body = RuleTestResult), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn test_rules(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<RuleTestInput>,
) -> ApiResult<Json<RuleTestResult>> {
    Ok(Json(s.app.test_rules(&a, input).await?))
}

/// One rule (admins).
#[utoipa::path(get, path = "/api/v1/routing-rules/{id}", tag = "routing", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = Rule), (status = 404, body = ErrorBody)))]
async fn get_rule(State(s): State<AppState>, Auth(a): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Rule>> {
    Ok(Json(s.app.get_rule(&a, id).await?))
}

/// Change a rule; fields left out keep their value (admins).
#[utoipa::path(put, path = "/api/v1/routing-rules/{id}", tag = "routing", params(("id" = i64, Path)),
    request_body = RuleInput, security(("bearer" = [])),
    responses((status = 200, body = Rule), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_rule(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<RuleInput>,
) -> ApiResult<Json<Rule>> {
    Ok(Json(s.app.update_rule(&a, id, input).await?))
}

/// Remove a rule (admins).
#[utoipa::path(delete, path = "/api/v1/routing-rules/{id}", tag = "routing", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_rule(State(s): State<AppState>, Auth(a): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<StatusCode> {
    s.app.delete_rule(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
