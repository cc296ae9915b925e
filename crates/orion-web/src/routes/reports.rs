//! `/api/v1/reports/...`: the leads' KPIs, the ticket list behind each number, CSV exports.

use super::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::{AppState, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use orion_app::reports::schedules::{ReportRun, Schedule, ScheduleInput};
use orion_app::reports::{Kpis, ReportQuery, ReportTable, ReportTickets};
use orion_app::settings::surveys::SurveySettings;
use orion_app::surveys::{Survey, SurveyAnswer};
use utoipa_axum::routes;

pub(crate) fn routes(r: super::ApiRoutes) -> super::ApiRoutes {
    r.routes(routes!(kpis))
        .routes(routes!(tickets))
        .routes(routes!(export))
        .routes(routes!(get_survey_settings, put_survey_settings))
        .routes(routes!(ticket_survey, answer_survey))
        .routes(routes!(list_schedules, create_schedule))
        .routes(routes!(get_schedule, update_schedule, delete_schedule))
        .routes(routes!(schedule_runs))
        .routes(routes!(send_schedule))
}

/// Your scheduled reports (admins: everyone's).
#[utoipa::path(get, path = "/api/v1/reports/schedules", tag = "reports",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Schedule>), (status = 403, body = ErrorBody)))]
async fn list_schedules(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<Schedule>>> {
    Ok(Json(s.app.report_schedules(&actor).await?))
}

/// Mail a report on a schedule: its filters, daily, weekly or monthly at an hour of a time zone,
/// to support staff (staff). The report is what its owner may see.
#[utoipa::path(post, path = "/api/v1/reports/schedules", tag = "reports", request_body = ScheduleInput,
    security(("bearer" = [])),
    responses((status = 201, body = Schedule), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_schedule(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(input): ApiJson<ScheduleInput>,
) -> ApiResult<(StatusCode, Json<Schedule>)> {
    Ok((StatusCode::CREATED, Json(s.app.save_report_schedule(&actor, None, input).await?)))
}

/// One scheduled report (its owner or an admin).
#[utoipa::path(get, path = "/api/v1/reports/schedules/{id}", tag = "reports", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Schedule), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_schedule(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Schedule>> {
    Ok(Json(s.app.report_schedule(&actor, id).await?))
}

/// Change a scheduled report (its owner or an admin); the next run moves with the schedule.
#[utoipa::path(patch, path = "/api/v1/reports/schedules/{id}", tag = "reports", params(("id" = i64, Path)),
    request_body = ScheduleInput, security(("bearer" = [])),
    responses((status = 200, body = Schedule), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn update_schedule(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ScheduleInput>,
) -> ApiResult<Json<Schedule>> {
    Ok(Json(s.app.save_report_schedule(&actor, Some(id), input).await?))
}

/// Delete a scheduled report and its runs (its owner or an admin).
#[utoipa::path(delete, path = "/api/v1/reports/schedules/{id}", tag = "reports", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_schedule(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    s.app.delete_report_schedule(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct RunsQuery {
    /// The last `id` of the previous page
    before: Option<i64>,
}

/// A scheduled report's runs with their periods and recipients, newest first, 100 a page.
#[utoipa::path(get, path = "/api/v1/reports/schedules/{id}/runs", tag = "reports", params(("id" = i64, Path), RunsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ReportRun>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn schedule_runs(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<RunsQuery>,
) -> ApiResult<Json<Vec<ReportRun>>> {
    Ok(Json(s.app.report_runs(&actor, id, q.before).await?))
}

/// Send a scheduled report now, for the period just ended (its owner or an admin).
#[utoipa::path(post, path = "/api/v1/reports/schedules/{id}/send", tag = "reports", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ReportRun), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, description = "Mail is not set up", body = ErrorBody)))]
async fn send_schedule(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ReportRun>> {
    Ok(Json(s.app.send_report_now(&actor, id).await?))
}

/// How satisfaction surveys are sent (staff).
#[utoipa::path(get, path = "/api/v1/settings/surveys", tag = "settings",
    security(("bearer" = [])),
    responses((status = 200, body = SurveySettings), (status = 403, body = ErrorBody)))]
async fn get_survey_settings(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<SurveySettings>> {
    Ok(Json(s.app.survey_settings(&actor).await?))
}

/// Change how satisfaction surveys are sent (admins).
#[utoipa::path(put, path = "/api/v1/settings/surveys", tag = "settings", request_body = SurveySettings,
    security(("bearer" = [])),
    responses((status = 200, body = SurveySettings), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_survey_settings(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(input): ApiJson<SurveySettings>,
) -> ApiResult<Json<SurveySettings>> {
    Ok(Json(s.app.set_survey_settings(&actor, input).await?))
}

/// A ticket's satisfaction survey: its requester's own, or (staff) any they may see.
#[utoipa::path(get, path = "/api/v1/tickets/{number}/survey", tag = "tickets",
    params(("number" = String, Path, description = "e.g. INC0000042")),
    security(("bearer" = [])),
    responses((status = 200, body = Survey), (status = 404, description = "No survey was sent", body = ErrorBody)))]
async fn ticket_survey(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<Survey>> {
    Ok(Json(s.app.ticket_survey(&actor, &number).await?))
}

/// The requester answers their ticket's survey: 1–5 stars and a comment (required below the
/// score the settings name). Once; 409 when answered already or expired.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/survey", tag = "tickets", request_body = SurveyAnswer,
    params(("number" = String, Path, description = "e.g. INC0000042")),
    security(("bearer" = [])),
    responses((status = 200, body = Survey), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn answer_survey(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<SurveyAnswer>,
) -> ApiResult<Json<Survey>> {
    Ok(Json(s.app.answer_ticket_survey(&actor, &number, input).await?))
}

/// The KPIs of a period under filters, with the period before, the backlog, the workload and an
/// optional breakdown (staff). docs/reports.md gives every formula.
#[utoipa::path(get, path = "/api/v1/reports/kpis", tag = "reports", params(ReportQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Kpis), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn kpis(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Json<Kpis>> {
    Ok(Json(s.app.report_kpis(&actor, &q).await?))
}

/// The tickets one number of the KPIs counts (`metric`), under the same period and filters,
/// newest first (staff).
#[utoipa::path(get, path = "/api/v1/reports/tickets", tag = "reports", params(ReportQuery),
    security(("bearer" = [])),
    responses((status = 200, body = ReportTickets), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn tickets(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Json<ReportTickets>> {
    Ok(Json(s.app.report_tickets(&actor, &q).await?))
}

/// One report table as CSV: `summary`, `days`, `backlog`, `workload`, `breakdown` (with `by`) or
/// `tickets` (with `metric`) (staff). Cells a spreadsheet would run as formulas start with `'`.
#[utoipa::path(get, path = "/api/v1/reports/csv/{table}", tag = "reports",
    params(("table" = inline(ReportTable), Path), ReportQuery),
    security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn export(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(table): ApiPath<String>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Response> {
    // A table the path cannot name is no resource, as with any other path.
    let table = ReportTable::parse(&table).ok_or(crate::ApiError::NotFound)?;
    let body = s.app.report_csv(&actor, table, &q).await?;
    Ok(csv_response(table, body))
}

/// A CSV download named after its table.
pub(crate) fn csv_response(table: ReportTable, body: String) -> Response {
    let name = format!("attachment; filename=\"orion-report-{}.csv\"", table.key());
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
        (header::CONTENT_DISPOSITION, HeaderValue::from_str(&name).unwrap_or(HeaderValue::from_static("attachment"))),
    ];
    (headers, body).into_response()
}
