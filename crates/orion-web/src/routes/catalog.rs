//! `/api/v1/catalog`: the service catalog — items, their forms and publication, export and
//! import, and requests made from them with their answers.

use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::{AppState, ErrorBody};

use super::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use orion_app::catalog::{
    AnswerBreakdown, AnswersInput, ApprovalDecision, ApprovalRequestView, Awaiting, CatalogExport, CatalogImport,
    CatalogItem, CatalogItemInput, CatalogQuery, CatalogRequest, CatalogRequestInput, Delegation, DelegationInput,
    DryRun, DryRunInput, FormCheck, TaskCompletion, TaskOfRequest,
};
use orion_app::{Page, Ticket};
use utoipa_axum::routes;

pub(crate) fn routes(r: super::ApiRoutes) -> super::ApiRoutes {
    r.routes(routes!(list_items, create_item))
        .routes(routes!(get_item, update_item))
        .routes(routes!(publish_item))
        .routes(routes!(export_item))
        .routes(routes!(export_requests))
        .routes(routes!(answer_breakdown))
        .routes(routes!(import_item))
        .routes(routes!(check_form))
        .routes(routes!(request_item))
        .routes(routes!(ticket_answers))
        .routes(routes!(request_approval, decide_request))
        .routes(routes!(awaiting_my_decision))
        .routes(routes!(list_delegations, add_delegation))
        .routes(routes!(remove_delegation))
        .routes(routes!(dry_run))
        .routes(routes!(get_task))
        .routes(routes!(complete_task))
}

/// The catalog: every item for administrators (by name); for everyone else the items offered
/// to them (by name, or `order=popular`: most requested first).
#[utoipa::path(get, path = "/api/v1/catalog/items", tag = "catalog", params(CatalogQuery), security(("bearer" = [])), responses((status = 200, body = Page<CatalogItem>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_items(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<CatalogQuery>,
) -> ApiResult<Json<Page<CatalogItem>>> {
    Ok(Json(s.app.catalog_items(&a, &q).await?))
}

/// Add an item (administrators); `publish: true` offers it at once as version 1.
#[utoipa::path(post, path = "/api/v1/catalog/items", tag = "catalog", request_body = CatalogItemInput, security(("bearer" = [])), responses((status = 201, body = CatalogItem), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_item(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<CatalogItemInput>,
) -> ApiResult<(StatusCode, Json<CatalogItem>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_catalog_item(&a, input).await?)))
}

/// One item: its published form (and, for administrators, its draft).
#[utoipa::path(get, path = "/api/v1/catalog/items/{id}", tag = "catalog", params(("id" = i64, Path)), security(("bearer" = [])), responses((status = 200, body = CatalogItem), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn get_item(State(s): State<AppState>, Auth(a): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<CatalogItem>> {
    Ok(Json(s.app.catalog_item(&a, id).await?))
}

/// Rewrite an item's fields and draft (administrators), sending back the `row_version` it was
/// read at; `publish: true` publishes the draft too.
#[utoipa::path(put, path = "/api/v1/catalog/items/{id}", tag = "catalog", params(("id" = i64, Path)), request_body = CatalogItemInput, security(("bearer" = [])), responses((status = 200, body = CatalogItem), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_item(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<CatalogItemInput>,
) -> ApiResult<Json<CatalogItem>> {
    Ok(Json(s.app.update_catalog_item(&a, id, input).await?))
}

/// Publish an item's draft as its next version (administrators); requests already made keep
/// the version they were made with.
#[utoipa::path(post, path = "/api/v1/catalog/items/{id}/publish", tag = "catalog", params(("id" = i64, Path)), security(("bearer" = [])), responses((status = 200, body = CatalogItem), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn publish_item(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CatalogItem>> {
    Ok(Json(s.app.publish_catalog_item(&a, id).await?))
}

/// An item as one JSON file (administrators), for `POST /api/v1/catalog/import` elsewhere.
#[utoipa::path(get, path = "/api/v1/catalog/items/{id}/export", tag = "catalog", params(("id" = i64, Path)), security(("bearer" = [])), responses((status = 200, body = CatalogExport), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn export_item(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CatalogExport>> {
    Ok(Json(s.app.export_catalog_item(&a, id).await?))
}

/// An item's requests as CSV (staff), oldest first: number, when, state, form version, who it is
/// for, then one column per question (choices by their labels). Cells a spreadsheet would run as
/// formulas start with `'`.
#[utoipa::path(get, path = "/api/v1/catalog/items/{id}/requests.csv", tag = "catalog", params(("id" = i64, Path)), security(("bearer" = [])), responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn export_requests(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<axum::response::Response> {
    Ok(requests_csv(&s, &a, id).await?)
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct BreakdownQuery {
    /// The question's key (`ram_gb`); default: the newest version's first choice or yes/no question
    question: Option<String>,
    /// `YYYY-MM-DD` (UTC) or RFC 3339; default: 30 days before `to`
    from: Option<String>,
    /// `YYYY-MM-DD` (UTC, exclusive) or RFC 3339; default: now
    to: Option<String>,
}

/// How an item's requests made in a period answered one question (staff): each answer given and
/// how many requests gave it, most given first, with the requests made and those that answered.
#[utoipa::path(get, path = "/api/v1/catalog/items/{id}/answers", tag = "catalog", params(("id" = i64, Path), BreakdownQuery), security(("bearer" = [])), responses((status = 200, body = AnswerBreakdown), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn answer_breakdown(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<BreakdownQuery>,
) -> ApiResult<Json<AnswerBreakdown>> {
    fn blank(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    Ok(Json(s.app.catalog_answer_breakdown(&a, id, blank(&q.question), blank(&q.from), blank(&q.to)).await?))
}

/// The CSV response of an item's requests (the API's and the console's).
pub(crate) async fn requests_csv(
    s: &AppState,
    actor: &orion_domain::Actor,
    id: i64,
) -> Result<axum::response::Response, orion_app::AppError> {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let mut out: Vec<u8> = Vec::new();
    s.app.export_catalog_requests(actor, id, &mut out).await?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!("attachment; filename=\"orion-catalog-{id}-requests.csv\""))
                .unwrap_or(HeaderValue::from_static("attachment")),
        ),
    ];
    Ok((headers, out).into_response())
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    /// Check the file and change nothing
    dry_run: Option<bool>,
}

/// Import an exported item (administrators): a new item, or the item of the same name
/// rewritten; published either way. With `dry_run=true`, only checked (204 when it would import).
#[utoipa::path(post, path = "/api/v1/catalog/import", tag = "catalog", params(ImportQuery), request_body = CatalogImport, security(("bearer" = [])), responses((status = 200, body = CatalogItem), (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn import_item(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<ImportQuery>,
    ApiJson(input): ApiJson<CatalogImport>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    Ok(match s.app.import_catalog_item(&a, input, q.dry_run.unwrap_or(false)).await? {
        Some(item) => Json(item).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Check answers against an item's form while it is filled in: which sections and questions
/// show, which must be answered, which answers are refused.
#[utoipa::path(post, path = "/api/v1/catalog/items/{id}/check", tag = "catalog", params(("id" = i64, Path)), request_body = AnswersInput, security(("bearer" = [])), responses((status = 200, body = FormCheck), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn check_form(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<AnswersInput>,
) -> ApiResult<Json<FormCheck>> {
    Ok(Json(s.app.check_catalog_form(&a, id, &input).await?))
}

/// Request an item: the answers are checked against its published form and kept, typed, with
/// the service request it logs.
#[utoipa::path(post, path = "/api/v1/catalog/items/{id}/requests", tag = "catalog", params(("id" = i64, Path)), request_body = CatalogRequestInput, security(("bearer" = [])), responses((status = 201, body = Ticket), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn request_item(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<CatalogRequestInput>,
) -> ApiResult<(StatusCode, Json<Ticket>)> {
    Ok((StatusCode::CREATED, Json(s.app.request_catalog_item(&a, id, input).await?)))
}

/// What a ticket was asked from the catalog: the item, its version and the answers (404 for a
/// ticket not requested from the catalog).
#[utoipa::path(get, path = "/api/v1/tickets/{number}/catalog", tag = "catalog", params(("number" = String, Path)), security(("bearer" = [])), responses((status = 200, body = CatalogRequest), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn ticket_answers(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<CatalogRequest>> {
    s.app.catalog_request(&a, &number).await?.map(Json).ok_or(crate::ApiError::NotFound)
}

/// A catalog request's approval as its approvers see it: the request, its answers, every step with
/// who decided what, and the step waiting for the caller (approvers of any role, or staff who may
/// see the ticket).
#[utoipa::path(get, path = "/api/v1/catalog/requests/{number}/approval", tag = "catalog", params(("number" = String, Path)), security(("bearer" = [])), responses((status = 200, body = ApprovalRequestView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn request_approval(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<ApprovalRequestView>> {
    Ok(Json(s.app.request_for_approval(&a, &number).await?))
}

/// Approve or reject a request at the step waiting for you (`comment` required to reject; the
/// requester is told). The request moves on when the step is decided.
#[utoipa::path(post, path = "/api/v1/catalog/requests/{number}/approval", tag = "catalog", params(("number" = String, Path)), request_body = ApprovalDecision, security(("bearer" = [])), responses((status = 200, body = ApprovalRequestView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn decide_request(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<ApprovalDecision>,
) -> ApiResult<Json<ApprovalRequestView>> {
    Ok(Json(s.app.decide_request(&a, &number, &input).await?))
}

/// Everything waiting for your decision: changes (staff) and catalog requests.
#[utoipa::path(get, path = "/api/v1/me/awaiting-approval", tag = "catalog", security(("bearer" = [])), responses((status = 200, body = Vec<Awaiting>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn awaiting_my_decision(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<Awaiting>>> {
    Ok(Json(s.app.awaiting_my_decision(&a).await?))
}

/// Whose delegations to list (administrators: anyone's).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DelegationQuery {
    /// An e-mail address (administrators only; default: yourself)
    user: Option<String>,
}

/// Your delegations that have not ended: who approves in your place, and when.
#[utoipa::path(get, path = "/api/v1/me/delegations", tag = "catalog", params(DelegationQuery), security(("bearer" = [])), responses((status = 200, body = Vec<Delegation>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_delegations(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<DelegationQuery>,
) -> ApiResult<Json<Vec<Delegation>>> {
    Ok(Json(s.app.delegations(&a, q.user.as_deref()).await?))
}

/// Delegate approvals for a period: steps opened in it ask the delegate instead.
#[utoipa::path(post, path = "/api/v1/me/delegations", tag = "catalog", request_body = DelegationInput, security(("bearer" = [])), responses((status = 201, body = Delegation), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_delegation(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<DelegationInput>,
) -> ApiResult<(StatusCode, Json<Delegation>)> {
    Ok((StatusCode::CREATED, Json(s.app.add_delegation(&a, &input).await?)))
}

/// Remove a delegation (yours; administrators anyone's).
#[utoipa::path(delete, path = "/api/v1/me/delegations/{id}", tag = "catalog", params(("id" = i64, Path)), security(("bearer" = [])), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn remove_delegation(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    s.app.remove_delegation(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A fulfilment task's place in its request: the request, the item, the outputs to record and
/// those recorded (staff; 404 for a ticket that is no task).
#[utoipa::path(get, path = "/api/v1/catalog/tasks/{number}", tag = "catalog", params(("number" = String, Path)), security(("bearer" = [])), responses((status = 200, body = TaskOfRequest), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn get_task(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<TaskOfRequest>> {
    s.app.task_of_request(&a, &number).await?.map(Json).ok_or(crate::ApiError::NotFound)
}

/// Complete a fulfilment task with the outputs it declares (`{"outputs": {"account_name": "jdoe"},
/// "notes": …}`): its ticket is resolved, the tasks waiting for it open, and the request resolves
/// with its closing message when this was the last one.
#[utoipa::path(post, path = "/api/v1/catalog/tasks/{number}/complete", tag = "catalog", params(("number" = String, Path)), request_body = TaskCompletion, security(("bearer" = [])), responses((status = 200, body = TaskOfRequest), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn complete_task(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<TaskCompletion>,
) -> ApiResult<Json<TaskOfRequest>> {
    Ok(Json(s.app.complete_task(&a, &number, &input).await?))
}

/// Fill an item's form as someone would (administrators): the refused answers, the title and
/// group, who would approve at each step, the tasks and the mail — nothing is written. The draft
/// is tried unless `published`.
#[utoipa::path(post, path = "/api/v1/catalog/items/{id}/dry-run", tag = "catalog", params(("id" = i64, Path)), request_body = DryRunInput, security(("bearer" = [])), responses((status = 200, body = DryRun), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn dry_run(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<DryRunInput>,
) -> ApiResult<Json<DryRun>> {
    Ok(Json(s.app.dry_run_catalog_item(&a, id, &input).await?))
}
