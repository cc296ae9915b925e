//! `/api/v1/macros`, applying a macro to a ticket, following a ticket, who else is replying, and
//! `/api/v1/me/notification-preferences`.

use crate::extract::{ApiJson, ApiPath, Auth};
use crate::{AppState, ErrorBody};

use super::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use orion_app::Ticket;
use orion_app::desk::{Following, Presence, TagReport, TagReportQuery};
use orion_app::macros::{ApplyMacroInput, Macro, MacroInput, TicketMacro};
use orion_app::notifications::{Preference, PreferencesInput};
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::routes;

pub(crate) fn routes(r: super::ApiRoutes) -> super::ApiRoutes {
    r.routes(routes!(list_macros, create_macro))
        .routes(routes!(get_macro, update_macro, delete_macro))
        .routes(routes!(ticket_macros))
        .routes(routes!(apply_macro))
        .routes(routes!(following, follow, unfollow))
        .routes(routes!(replying))
        .routes(routes!(get_preferences, put_preferences))
        .routes(routes!(tag_report))
}

/// Tickets per tag among those created in a period, the most used first (staff; restricted
/// tickets count only for those who may see them).
#[utoipa::path(get, path = "/api/v1/reports/tags", tag = "reports", params(TagReportQuery), security(("bearer" = [])),
    responses((status = 200, body = TagReport), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn tag_report(
    State(s): State<AppState>,
    Auth(a): Auth,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<TagReportQuery>,
) -> ApiResult<Json<TagReport>> {
    Ok(Json(s.app.tag_report(&a, &q).await?))
}

/// The macros I may use (staff; admins: every macro), by name.
#[utoipa::path(get, path = "/api/v1/macros", tag = "macros", security(("bearer" = [])),
    responses((status = 200, body = Vec<Macro>), (status = 403, body = ErrorBody)))]
async fn list_macros(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<Macro>>> {
    Ok(Json(s.app.list_macros(&a).await?))
}

/// Save a macro: personal, shared with a group (its lead or an admin) or with every agent (admins).
#[utoipa::path(post, path = "/api/v1/macros", tag = "macros", request_body = MacroInput, security(("bearer" = [])),
    responses((status = 201, body = Macro), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_macro(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<MacroInput>,
) -> ApiResult<(StatusCode, Json<Macro>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_macro(&a, input).await?)))
}

/// One macro I may use.
#[utoipa::path(get, path = "/api/v1/macros/{id}", tag = "macros", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = Macro), (status = 404, body = ErrorBody)))]
async fn get_macro(State(s): State<AppState>, Auth(a): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Macro>> {
    Ok(Json(s.app.get_macro(&a, id).await?))
}

/// Change a macro; fields left out keep their value.
#[utoipa::path(put, path = "/api/v1/macros/{id}", tag = "macros", params(("id" = i64, Path)),
    request_body = MacroInput, security(("bearer" = [])),
    responses((status = 200, body = Macro), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_macro(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<MacroInput>,
) -> ApiResult<Json<Macro>> {
    Ok(Json(s.app.update_macro(&a, id, input).await?))
}

/// Remove a macro.
#[utoipa::path(delete, path = "/api/v1/macros/{id}", tag = "macros", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_macro(State(s): State<AppState>, Auth(a): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<StatusCode> {
    s.app.delete_macro(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The macros I may use on a ticket, each reply filled in for it; those for its category first.
#[utoipa::path(get, path = "/api/v1/tickets/{number}/macros", tag = "macros", params(("number" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<TicketMacro>), (status = 404, body = ErrorBody)))]
async fn ticket_macros(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<Vec<TicketMacro>>> {
    Ok(Json(s.app.ticket_macros(&a, &number).await?))
}

/// Apply a macro to a ticket: its reply (or my edit of it), field and state changes and tags, in
/// one step; nothing is written if any part is refused.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/apply-macro", tag = "macros", params(("number" = String, Path)),
    request_body = ApplyMacroInput, security(("bearer" = [])),
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn apply_macro(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<ApplyMacroInput>,
) -> ApiResult<Json<Ticket>> {
    Ok(Json(s.app.apply_macro(&a, &number, input).await?))
}

/// Do I follow the ticket?
#[utoipa::path(get, path = "/api/v1/tickets/{number}/follow", tag = "tickets", params(("number" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Following), (status = 404, body = ErrorBody)))]
async fn following(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<Following>> {
    Ok(Json(s.app.ticket_following(&a, &number).await?))
}

/// Follow a ticket: hear of its changes (as my preference for followed tickets says).
#[utoipa::path(put, path = "/api/v1/tickets/{number}/follow", tag = "tickets", params(("number" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Following), (status = 404, body = ErrorBody)))]
async fn follow(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<Following>> {
    Ok(Json(s.app.follow_ticket(&a, &number, true).await?))
}

/// Stop following a ticket.
#[utoipa::path(delete, path = "/api/v1/tickets/{number}/follow", tag = "tickets", params(("number" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Following), (status = 404, body = ErrorBody)))]
async fn unfollow(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<Following>> {
    Ok(Json(s.app.follow_ticket(&a, &number, false).await?))
}

/// `POST /api/v1/tickets/{number}/replying`
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReplyingInput {
    /// true: I am writing a reply or note now (send again every 20 s while typing); false: I
    /// stopped; left out: only ask who else is
    writing: Option<bool>,
}

/// Tell the others I am writing on a ticket, and hear who else is (the "someone else is replying" hint).
#[utoipa::path(post, path = "/api/v1/tickets/{number}/replying", tag = "tickets", params(("number" = String, Path)),
    request_body = ReplyingInput, security(("bearer" = [])),
    responses((status = 200, body = Presence), (status = 404, body = ErrorBody)))]
async fn replying(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<ReplyingInput>,
) -> ApiResult<Json<Presence>> {
    Ok(Json(s.app.replying(&a, &number, input.writing).await?))
}

/// How I hear of each kind of notice.
#[utoipa::path(get, path = "/api/v1/me/notification-preferences", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = Vec<Preference>)))]
async fn get_preferences(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<Preference>>> {
    Ok(Json(s.app.notification_preferences(&a).await?))
}

/// Change how I hear of some kinds of notice: `{"mention": "both", "group": "console", "digest": "mail"}`.
#[utoipa::path(put, path = "/api/v1/me/notification-preferences", tag = "me", request_body = BTreeMap<String, String>,
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Preference>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_preferences(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(deliveries): ApiJson<BTreeMap<String, String>>,
) -> ApiResult<Json<Vec<Preference>>> {
    Ok(Json(s.app.set_notification_preferences(&a, PreferencesInput { deliveries }).await?))
}
