//! `/api/v1/tickets`

use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::{AppState, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use orion_app::tickets::time::{TicketTime, TimeEntry, TimeInput};
use orion_app::tickets::{RestrictionInput, TagsInput, TicketQuery};
use orion_app::{
    CommentInput, EscalateInput, NewTicketInput, Page, ReasonInput, ResolveInput, Ticket, TicketPatch, TimelineEntry,
};
use serde::Deserialize;
use utoipa_axum::routes;

pub(crate) fn routes(r: super::ApiRoutes) -> super::ApiRoutes {
    r.routes(routes!(create_ticket, list_tickets))
        .routes(routes!(get_ticket, update_ticket))
        .routes(routes!(add_comment))
        .routes(routes!(escalate))
        .routes(routes!(restrict))
        .routes(routes!(add_tags))
        .routes(routes!(remove_tag))
        .routes(routes!(resolve))
        .routes(routes!(ticket_time, log_time))
        .routes(routes!(reopen))
        .routes(routes!(close))
        .routes(routes!(timeline))
        .routes(routes!(sla))
        .routes(routes!(breach_queue))
        .routes(routes!(sla_preview))
        .routes(routes!(ola))
        .routes(routes!(ola_report))
        .routes(routes!(get_ola_targets, put_ola_targets))
        .routes(routes!(list_calendars))
        .routes(routes!(put_calendar))
        .routes(routes!(list_policies))
        .routes(routes!(sla_what_if))
        .routes(routes!(put_policy))
}

use super::ApiResult;

/// Log an incident or service request.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", request_body = NewTicketInput,
    security(("bearer" = [])),
    responses((status = 201, description = "Logged", body = Ticket),
               (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
               (status = 413, body = ErrorBody), (status = 422, description = "Invalid fields", body = ErrorBody)))]
async fn create_ticket(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(mut input): ApiJson<NewTicketInput>,
) -> ApiResult<(StatusCode, Json<Ticket>)> {
    // Through this endpoint the channel is the API unless staff log a call or mail on someone's behalf.
    input.channel.get_or_insert_with(|| "api".into());
    Ok((StatusCode::CREATED, Json(s.app.create_ticket(&actor, input).await?)))
}

/// List tickets, newest first (requesters: their own only).
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(TicketQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Page<Ticket>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_tickets(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<TicketQuery>,
) -> ApiResult<Json<Page<Ticket>>> {
    Ok(Json(s.app.list_tickets(&actor, q).await?))
}

/// One ticket.
#[utoipa::path(get, path = "/api/v1/tickets/{number}", tag = "tickets",
    params(("number" = String, Path, description = "e.g. INC0000042")),
    security(("bearer" = [])),
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody)))]
async fn get_ticket(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<Ticket>> {
    Ok(Json(s.app.get_ticket(&actor, &number).await?))
}

/// Change fields, assignment or state (staff).
#[utoipa::path(patch, path = "/api/v1/tickets/{number}", tag = "tickets", request_body = TicketPatch,
    params(("number" = String, Path, description = "e.g. INC0000042")),
    security(("bearer" = [])),
    responses((status = 200, body = Ticket), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, description = "Invalid state transition or concurrent change", body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn update_ticket(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(patch): ApiJson<TicketPatch>,
) -> ApiResult<Json<Ticket>> {
    Ok(Json(s.app.update_ticket(&actor, &number, patch).await?))
}

/// Add a public reply or an internal work note.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/comments", tag = "tickets", request_body = CommentInput,
    params(("number" = String, Path, description = "e.g. INC0000042")),
    security(("bearer" = [])),
    responses((status = 201, body = TimelineEntry), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn add_comment(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<CommentInput>,
) -> ApiResult<(StatusCode, Json<TimelineEntry>)> {
    Ok((StatusCode::CREATED, Json(s.app.add_comment(&actor, &number, input).await?)))
}

/// Escalate to the next tier with the troubleshooting done so far (staff).
#[utoipa::path(post, path = "/api/v1/tickets/{number}/escalate", tag = "tickets", request_body = EscalateInput,
    params(("number" = String, Path, description = "e.g. INC0000042")),
    security(("bearer" = [])),
    responses((status = 200, body = Ticket), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn escalate(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<EscalateInput>,
) -> ApiResult<Json<Ticket>> {
    Ok(Json(s.app.escalate(&actor, &number, input).await?))
}

/// Restrict the ticket to a group (only its members, admins and the requester see it), or lift
/// the restriction with `{"group": null}` (staff who can see it; written to the security log).
#[utoipa::path(put, path = "/api/v1/tickets/{number}/restriction", tag = "tickets", request_body = RestrictionInput,
    params(("number" = String, Path, description = "e.g. INC0000042")),
    security(("bearer" = [])),
    responses((status = 200, body = Ticket), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn restrict(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<RestrictionInput>,
) -> ApiResult<Json<Ticket>> {
    Ok(Json(s.app.restrict_ticket(&actor, &number, input).await?))
}

/// Add tags to the ticket (staff); the answer is all its tags.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/tags", tag = "tickets", request_body = TagsInput,
    params(("number" = String, Path, description = "e.g. INC0000042")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<String>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn add_tags(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<TagsInput>,
) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(s.app.tag_ticket(&actor, &number, input).await?))
}

/// Remove a tag from the ticket (staff); the answer is the tags left.
#[utoipa::path(delete, path = "/api/v1/tickets/{number}/tags/{tag}", tag = "tickets",
    params(("number" = String, Path, description = "e.g. INC0000042"), ("tag" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<String>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn remove_tag(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath((number, tag)): ApiPath<(String, String)>,
) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(s.app.untag_ticket(&actor, &number, &tag).await?))
}

/// The time logged on a ticket, oldest first, with its total (staff).
#[utoipa::path(get, path = "/api/v1/tickets/{number}/time", tag = "tickets",
    params(("number" = String, Path, description = "e.g. INC0000042")),
    security(("bearer" = [])),
    responses((status = 200, body = TicketTime), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn ticket_time(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<TicketTime>> {
    Ok(Json(s.app.ticket_time(&actor, &number).await?))
}

/// Log time spent on a ticket on its own — a task, a call, other work (staff). Time spent on a
/// reply, note, call or the resolution is logged with it (`time_spent_minutes`).
#[utoipa::path(post, path = "/api/v1/tickets/{number}/time", tag = "tickets", request_body = TimeInput,
    params(("number" = String, Path, description = "e.g. INC0000042")),
    security(("bearer" = [])),
    responses((status = 201, description = "Logged", body = TimeEntry), (status = 403, body = ErrorBody),
               (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn log_time(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<TimeInput>,
) -> ApiResult<(StatusCode, Json<TimeEntry>)> {
    Ok((StatusCode::CREATED, Json(s.app.log_time(&actor, &number, input).await?)))
}

/// Resolve with a resolution code and notes (staff).
#[utoipa::path(post, path = "/api/v1/tickets/{number}/resolve", tag = "tickets", request_body = ResolveInput,
    params(("number" = String, Path, description = "e.g. INC0000042")),
    security(("bearer" = [])),
    responses((status = 200, body = Ticket), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn resolve(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<ResolveInput>,
) -> ApiResult<Json<Ticket>> {
    Ok(Json(s.app.resolve(&actor, &number, input).await?))
}

/// Reopen a resolved ticket (its requester or staff); `reason` is required.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/reopen", tag = "tickets", request_body = ReasonInput,
    params(("number" = String, Path, description = "e.g. INC0000042")),
    security(("bearer" = [])),
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn reopen(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<ReasonInput>,
) -> ApiResult<Json<Ticket>> {
    Ok(Json(s.app.reopen(&actor, &number, input).await?))
}

/// Close a resolved ticket (the requester confirming, or staff).
#[utoipa::path(post, path = "/api/v1/tickets/{number}/close", tag = "tickets", request_body = ReasonInput,
    params(("number" = String, Path, description = "e.g. INC0000042")),
    security(("bearer" = [])),
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn close(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<ReasonInput>,
) -> ApiResult<Json<Ticket>> {
    Ok(Json(s.app.close(&actor, &number, input).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct TimelineQuery {
    /// From the previous page's `next_cursor`
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    cursor: Option<String>,
    /// 1..200, default 50
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// The ticket's timeline, oldest first (requesters: public entries only).
#[utoipa::path(get, path = "/api/v1/tickets/{number}/timeline", tag = "tickets",
    params(("number" = String, Path, description = "e.g. INC0000042"), TimelineQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Page<TimelineEntry>), (status = 404, body = ErrorBody)))]
async fn timeline(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
    ApiQuery(q): ApiQuery<TimelineQuery>,
) -> ApiResult<Json<Page<TimelineEntry>>> {
    Ok(Json(s.app.timeline(&actor, &number, q.cursor.as_deref(), q.limit).await?))
}

/// The ticket's SLA targets: due time, elapsed and remaining working minutes, pauses, and how the
/// due time was computed (staff).
#[utoipa::path(get, path = "/api/v1/tickets/{number}/sla", tag = "tickets",
    params(("number" = String, Path, description = "e.g. INC0000042")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<orion_app::sla::SlaTarget>), (status = 403, body = ErrorBody),
               (status = 404, body = ErrorBody)))]
async fn sla(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<Vec<orion_app::sla::SlaTarget>>> {
    Ok(Json(s.app.ticket_sla(&actor, &number).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    /// From the previous page's `next_cursor`
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    pub cursor: Option<String>,
    /// 1..200, default 50
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Open tickets with a breached SLA target, newest first: the leads' breach queue (staff).
#[utoipa::path(get, path = "/api/v1/sla/breaches", tag = "tickets", params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Page<Ticket>), (status = 403, body = ErrorBody)))]
async fn breach_queue(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Ticket>>> {
    Ok(Json(s.app.breach_queue(&actor, q.cursor.as_deref(), q.limit).await?))
}

/// Business calendars (staff).
#[utoipa::path(get, path = "/api/v1/sla/calendars", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = Vec<orion_app::sla::Calendar>), (status = 403, body = ErrorBody)))]
async fn list_calendars(
    State(s): State<AppState>,
    Auth(actor): Auth,
) -> ApiResult<Json<Vec<orion_app::sla::Calendar>>> {
    Ok(Json(s.app.list_calendars(&actor).await?))
}

/// Create or replace a business calendar (admins). Running clocks keep the calendar they started with.
#[utoipa::path(put, path = "/api/v1/sla/calendars/{name}", tag = "settings",
    params(("name" = String, Path, description = "e.g. Business hours")),
    request_body = orion_app::sla::Calendar, security(("bearer" = [])),
    responses((status = 200, body = orion_app::sla::Calendar), (status = 403, body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn put_calendar(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(mut cal): ApiJson<orion_app::sla::Calendar>,
) -> ApiResult<Json<orion_app::sla::Calendar>> {
    cal.name = name;
    Ok(Json(s.app.put_calendar(&actor, cal).await?))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PolicyListQuery {
    /// `true`: also the switched-off policies
    all: Option<bool>,
}

/// SLA policies in matching order (staff); the switched-off ones only with `all=true`.
#[utoipa::path(get, path = "/api/v1/sla/policies", tag = "settings", params(PolicyListQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<orion_app::sla::Policy>), (status = 403, body = ErrorBody)))]
async fn list_policies(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<PolicyListQuery>,
) -> ApiResult<Json<Vec<orion_app::sla::Policy>>> {
    Ok(Json(if q.all == Some(true) { s.app.all_policies(&actor).await? } else { s.app.list_policies(&actor).await? }))
}

/// What-if for a ticket not logged yet: the policy it would fall under and when each target
/// would be due; writes nothing (staff).
#[utoipa::path(post, path = "/api/v1/sla/what-if", tag = "settings",
    request_body = orion_app::sla::WhatIf, security(("bearer" = [])),
    responses((status = 200, body = orion_app::sla::WhatIfAnswer), (status = 403, body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn sla_what_if(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(q): ApiJson<orion_app::sla::WhatIf>,
) -> ApiResult<Json<orion_app::sla::WhatIfAnswer>> {
    Ok(Json(s.app.sla_what_if(&actor, &q).await?))
}

/// What-if: the SLA targets if the priority changed and/or the ticket paused now; writes nothing (staff).
#[utoipa::path(post, path = "/api/v1/tickets/{number}/sla/preview", tag = "tickets",
    params(("number" = String, Path, description = "e.g. INC0000042")),
    request_body = orion_app::sla::Preview, security(("bearer" = [])),
    responses((status = 200, body = Vec<orion_app::sla::SlaTarget>), (status = 403, body = ErrorBody),
               (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn sla_preview(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(what_if): ApiJson<orion_app::sla::Preview>,
) -> ApiResult<Json<Vec<orion_app::sla::SlaTarget>>> {
    Ok(Json(s.app.sla_preview(&actor, &number, &what_if).await?))
}

/// Time with each group and tier, against the per-tier OLA targets (staff).
#[utoipa::path(get, path = "/api/v1/tickets/{number}/ola", tag = "tickets",
    params(("number" = String, Path, description = "e.g. INC0000042")),
    security(("bearer" = [])),
    responses((status = 200, body = orion_app::ola::OlaReport), (status = 403, body = ErrorBody),
               (status = 404, body = ErrorBody)))]
async fn ola(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<orion_app::ola::OlaReport>> {
    Ok(Json(s.app.ticket_ola(&actor, &number).await?))
}

/// Working time resolved tickets spent with each group and tier in a period, against the OLA targets (staff).
#[utoipa::path(get, path = "/api/v1/reports/ola", tag = "reports", params(orion_app::ola::OlaQuery),
    security(("bearer" = [])),
    responses((status = 200, body = orion_app::ola::OlaSummary), (status = 403, body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn ola_report(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<orion_app::ola::OlaQuery>,
) -> ApiResult<Json<orion_app::ola::OlaSummary>> {
    Ok(Json(s.app.ola_report(&actor, &q).await?))
}

/// Per-tier OLA targets in working minutes (staff).
#[utoipa::path(get, path = "/api/v1/settings/ola", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = orion_app::ola::OlaTargets), (status = 403, body = ErrorBody)))]
async fn get_ola_targets(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<orion_app::ola::OlaTargets>> {
    Ok(Json(s.app.get_ola_targets(&actor).await?))
}

/// Replace the per-tier OLA targets (admins).
#[utoipa::path(put, path = "/api/v1/settings/ola", tag = "settings", request_body = orion_app::ola::OlaTargets,
    security(("bearer" = [])),
    responses((status = 200, body = orion_app::ola::OlaTargets), (status = 403, body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn put_ola_targets(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(t): ApiJson<orion_app::ola::OlaTargets>,
) -> ApiResult<Json<orion_app::ola::OlaTargets>> {
    Ok(Json(s.app.set_ola_targets(&actor, t).await?))
}

/// Create or replace an SLA policy (admins). Running clocks keep the policy they started with.
#[utoipa::path(put, path = "/api/v1/sla/policies/{name}", tag = "settings",
    params(("name" = String, Path, description = "e.g. VIP incidents")),
    request_body = orion_app::sla::PolicyInput, security(("bearer" = [])),
    responses((status = 200, body = orion_app::sla::Policy), (status = 403, body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn put_policy(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(p): ApiJson<orion_app::sla::PolicyInput>,
) -> ApiResult<Json<orion_app::sla::Policy>> {
    Ok(Json(s.app.put_policy(&actor, &name, p).await?))
}
