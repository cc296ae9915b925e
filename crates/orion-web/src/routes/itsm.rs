//! `/api/v1/problems`, `/api/v1/changes` and their neighbours: problem and change management.

use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::{AppState, ErrorBody};

use super::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use orion_app::itsm::ItemSummary;
use orion_app::itsm::changes::{
    AwaitingApproval, Calendar, CalendarQuery, Change, ChangeEdit, ChangeInput, ChangePhaseInput, ChangeQuery,
    DecisionInput, Freeze, FreezeInput, ReviewInput, TaskDoneInput, TaskInput, Template, TemplateInput,
};
use orion_app::itsm::detect::{AcceptInput, DetectReport, DetectionSettings, Proposal, ProposalQuery};
use orion_app::itsm::problems::{
    IncidentRef, KnownError, KnownErrorQuery, Problem, ProblemEdit, ProblemInput, ProblemPhaseInput, ProblemQuery,
    TicketRelated, WorkaroundInput,
};
use orion_app::kb::Article;
use orion_app::{Page, Ticket};
use utoipa_axum::routes;

pub(crate) fn routes(r: super::ApiRoutes) -> super::ApiRoutes {
    r.routes(routes!(list_problems, create_problem))
        .routes(routes!(get_problem, edit_problem))
        .routes(routes!(move_problem))
        .routes(routes!(link_problem_incident))
        .routes(routes!(unlink_problem_incident))
        .routes(routes!(problem_article))
        .routes(routes!(known_errors))
        .routes(routes!(ticket_related))
        .routes(routes!(resolve_with_workaround))
        .routes(routes!(list_proposals))
        .routes(routes!(get_proposal))
        .routes(routes!(accept_proposal))
        .routes(routes!(dismiss_proposal))
        .routes(routes!(detect_now))
        .routes(routes!(get_detection_settings, put_detection_settings))
        .routes(routes!(list_changes, create_change))
        .routes(routes!(get_change, edit_change))
        .routes(routes!(move_change))
        .routes(routes!(decide_change))
        .routes(routes!(add_task))
        .routes(routes!(complete_task))
        .routes(routes!(review_change))
        .routes(routes!(link_caused))
        .routes(routes!(calendar))
        .routes(routes!(my_approvals))
        .routes(routes!(list_templates, create_template))
        .routes(routes!(set_template_active))
        .routes(routes!(list_freezes, create_freeze))
        .routes(routes!(delete_freeze))
}

/// Problems newest first (staff), by phase. Keyset-paged.
#[utoipa::path(get, path = "/api/v1/problems", tag = "problems", params(ProblemQuery), security(("bearer" = [])), responses((status = 200, body = Page<ItemSummary>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_problems(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<ProblemQuery>,
) -> ApiResult<Json<Page<ItemSummary>>> {
    Ok(Json(s.app.list_problems(&a, q).await?))
}

/// Log a problem (staff) with its affected CIs and incidents.
#[utoipa::path(post, path = "/api/v1/problems", tag = "problems", request_body = ProblemInput, security(("bearer" = [])), responses((status = 201, body = Problem), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_problem(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<ProblemInput>,
) -> ApiResult<(StatusCode, Json<Problem>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_problem(&a, input).await?)))
}

/// One problem with its analysis and incidents (staff).
#[utoipa::path(get, path = "/api/v1/problems/{number}", tag = "problems", params(("number" = String, Path)), security(("bearer" = [])), responses((status = 200, body = Problem), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn get_problem(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<Problem>> {
    Ok(Json(s.app.get_problem(&a, &number).await?))
}

/// Edit the analysis: symptoms, timeline, root cause, contributing factors, 5-whys/fishbone notes, workaround, the fixing change (staff). Send `version` to refuse an edit made meanwhile (409).
#[utoipa::path(patch, path = "/api/v1/problems/{number}", tag = "problems", params(("number" = String, Path)), request_body = ProblemEdit, security(("bearer" = [])), responses((status = 200, body = Problem), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn edit_problem(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<ProblemEdit>,
) -> ApiResult<Json<Problem>> {
    Ok(Json(s.app.edit_problem(&a, &number, input).await?))
}

/// Move a problem: investigating, known_error (needs a workaround), resolved (needs the root cause; `resolve_incidents` resolves its open incidents and tells their requesters), closed.
#[utoipa::path(post, path = "/api/v1/problems/{number}/phase", tag = "problems", params(("number" = String, Path)), request_body = ProblemPhaseInput, security(("bearer" = [])), responses((status = 200, body = Problem), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn move_problem(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<ProblemPhaseInput>,
) -> ApiResult<Json<Problem>> {
    Ok(Json(s.app.move_problem(&a, &number, input).await?))
}

/// Link an incident to the problem (an incident belongs to one problem).
#[utoipa::path(post, path = "/api/v1/problems/{number}/incidents", tag = "problems", params(("number" = String, Path)), request_body = IncidentRef, security(("bearer" = [])), responses((status = 200, body = Problem), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn link_problem_incident(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<IncidentRef>,
) -> ApiResult<Json<Problem>> {
    Ok(Json(s.app.link_problem_incident(&a, &number, input).await?))
}

/// Unlink an incident.
#[utoipa::path(delete, path = "/api/v1/problems/{number}/incidents/{incident}", tag = "problems", params(("number" = String, Path), ("incident" = String, Path)), security(("bearer" = [])), responses((status = 200, body = Problem), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn unlink_problem_incident(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath((number, incident)): ApiPath<(String, String)>,
) -> ApiResult<Json<Problem>> {
    Ok(Json(s.app.unlink_problem_incident(&a, &number, &incident).await?))
}

/// Draft a known-error knowledge article from the problem (symptoms, cause, workaround) and link it.
#[utoipa::path(post, path = "/api/v1/problems/{number}/article", tag = "problems", params(("number" = String, Path)), security(("bearer" = [])), responses((status = 201, body = Article), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn problem_article(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<Article>)> {
    Ok((StatusCode::CREATED, Json(s.app.problem_article(&a, &number).await?)))
}

/// Known errors (problems whose workaround agents apply), newest first; `q` searches them.
#[utoipa::path(get, path = "/api/v1/known-errors", tag = "problems", params(KnownErrorQuery), security(("bearer" = [])), responses((status = 200, body = Page<KnownError>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn known_errors(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<KnownErrorQuery>,
) -> ApiResult<Json<Page<KnownError>>> {
    Ok(Json(s.app.known_errors(&a, q).await?))
}

/// The problem an incident belongs to (with its workaround) and the changes that caused it (staff).
#[utoipa::path(get, path = "/api/v1/tickets/{number}/related", tag = "problems", params(("number" = String, Path)), security(("bearer" = [])), responses((status = 200, body = TicketRelated), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn ticket_related(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<TicketRelated>> {
    Ok(Json(s.app.ticket_related(&a, &number).await?))
}

/// Resolve an incident with its problem's workaround, in one action (staff).
#[utoipa::path(post, path = "/api/v1/tickets/{number}/resolve-with-workaround", tag = "problems", params(("number" = String, Path)), request_body = WorkaroundInput, security(("bearer" = [])), responses((status = 200, body = Ticket), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn resolve_with_workaround(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<WorkaroundInput>,
) -> ApiResult<Json<Ticket>> {
    Ok(Json(s.app.resolve_with_workaround(&a, &number, input).await?))
}

/// Problems the recurring-incident detector proposes (staff), newest first.
#[utoipa::path(get, path = "/api/v1/problem-proposals", tag = "problems", params(ProposalQuery), security(("bearer" = [])), responses((status = 200, body = Page<Proposal>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_proposals(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<ProposalQuery>,
) -> ApiResult<Json<Page<Proposal>>> {
    Ok(Json(s.app.list_proposals(&a, q).await?))
}

/// One proposal with its incidents and why they were grouped.
#[utoipa::path(get, path = "/api/v1/problem-proposals/{id}", tag = "problems", params(("id" = i64, Path)), security(("bearer" = [])), responses((status = 200, body = Proposal), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn get_proposal(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Proposal>> {
    Ok(Json(s.app.get_proposal(&a, id).await?))
}

/// Accept a proposal (leads): creates the problem with the incidents linked.
#[utoipa::path(post, path = "/api/v1/problem-proposals/{id}/accept", tag = "problems", params(("id" = i64, Path)), request_body = AcceptInput, security(("bearer" = [])), responses((status = 201, body = Problem), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn accept_proposal(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<AcceptInput>,
) -> ApiResult<(StatusCode, Json<Problem>)> {
    Ok((StatusCode::CREATED, Json(s.app.accept_proposal(&a, id, input).await?)))
}

/// Dismiss a proposal (leads); the same incidents are not proposed again.
#[utoipa::path(post, path = "/api/v1/problem-proposals/{id}/dismiss", tag = "problems", params(("id" = i64, Path)), security(("bearer" = [])), responses((status = 200, body = Proposal), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn dismiss_proposal(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Proposal>> {
    Ok(Json(s.app.dismiss_proposal(&a, id).await?))
}

/// Run the recurring-incident detector now (leads).
#[utoipa::path(post, path = "/api/v1/problem-proposals/detect", tag = "problems", security(("bearer" = [])), responses((status = 200, body = DetectReport), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn detect_now(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<DetectReport>> {
    Ok(Json(s.app.detect_recurring_now(&a).await?))
}

/// The detector's window and thresholds (staff).
#[utoipa::path(get, path = "/api/v1/settings/problem-detection", tag = "problems", security(("bearer" = [])), responses((status = 200, body = DetectionSettings), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn get_detection_settings(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<DetectionSettings>> {
    Ok(Json(s.app.detection_settings(&a).await?))
}

/// Replace the detector's settings (admins).
#[utoipa::path(put, path = "/api/v1/settings/problem-detection", tag = "problems", request_body = DetectionSettings, security(("bearer" = [])), responses((status = 200, body = DetectionSettings), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_detection_settings(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<DetectionSettings>,
) -> ApiResult<Json<DetectionSettings>> {
    Ok(Json(s.app.set_detection_settings(&a, input).await?))
}

/// Changes newest first (staff), by phase. Keyset-paged.
#[utoipa::path(get, path = "/api/v1/changes", tag = "changes", params(ChangeQuery), security(("bearer" = [])), responses((status = 200, body = Page<ItemSummary>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_changes(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<ChangeQuery>,
) -> ApiResult<Json<Page<ItemSummary>>> {
    Ok(Json(s.app.list_changes(&a, q).await?))
}

/// Log a change (staff): normal or emergency as a draft; standard from a template, ready to schedule.
#[utoipa::path(post, path = "/api/v1/changes", tag = "changes", request_body = ChangeInput, security(("bearer" = [])), responses((status = 201, body = Change), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_change(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<ChangeInput>,
) -> ApiResult<(StatusCode, Json<Change>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_change(&a, input).await?)))
}

/// One change with its approvals, tasks and conflicts (staff).
#[utoipa::path(get, path = "/api/v1/changes/{number}", tag = "changes", params(("number" = String, Path)), security(("bearer" = [])), responses((status = 200, body = Change), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn get_change(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<Change>> {
    Ok(Json(s.app.get_change(&a, &number).await?))
}

/// Edit a drafted or assessed change: plans, risk questionnaire or override, planned period, approvers (staff).
#[utoipa::path(patch, path = "/api/v1/changes/{number}", tag = "changes", params(("number" = String, Path)), request_body = ChangeEdit, security(("bearer" = [])), responses((status = 200, body = Change), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn edit_change(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<ChangeEdit>,
) -> ApiResult<Json<Change>> {
    Ok(Json(s.app.edit_change(&a, &number, input).await?))
}

/// Move a change: assessment, approval (asks the approvers), scheduled, implementing, review (adds the verification task), cancelled.
#[utoipa::path(post, path = "/api/v1/changes/{number}/phase", tag = "changes", params(("number" = String, Path)), request_body = ChangePhaseInput, security(("bearer" = [])), responses((status = 200, body = Change), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn move_change(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<ChangePhaseInput>,
) -> ApiResult<Json<Change>> {
    Ok(Json(s.app.move_change(&a, &number, input).await?))
}

/// Approve or reject a change as one of its approvers (a rejection needs a comment).
#[utoipa::path(post, path = "/api/v1/changes/{number}/approvals", tag = "changes", params(("number" = String, Path)), request_body = DecisionInput, security(("bearer" = [])), responses((status = 200, body = Change), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn decide_change(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<DecisionInput>,
) -> ApiResult<Json<Change>> {
    if s.app.change_approval_step_up(&a).await? {
        return Err(orion_app::AppError::Forbidden(
            "this desk confirms change approvals with a second factor: decide in the console".into(),
        )
        .into());
    }
    Ok(Json(s.app.decide_change(&a, &number, input).await?))
}

/// Add a task (default assignee: the change owner).
#[utoipa::path(post, path = "/api/v1/changes/{number}/tasks", tag = "changes", params(("number" = String, Path)), request_body = TaskInput, security(("bearer" = [])), responses((status = 201, body = Change), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_task(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<TaskInput>,
) -> ApiResult<(StatusCode, Json<Change>)> {
    Ok((StatusCode::CREATED, Json(s.app.add_change_task(&a, &number, input).await?)))
}

/// Mark a task done (its assignee or a lead).
#[utoipa::path(post, path = "/api/v1/changes/{number}/tasks/{task}/done", tag = "changes", params(("number" = String, Path), ("task" = i64, Path)), request_body = TaskDoneInput, security(("bearer" = [])), responses((status = 200, body = Change), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn complete_task(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath((number, task)): ApiPath<(String, i64)>,
    ApiJson(input): ApiJson<TaskDoneInput>,
) -> ApiResult<Json<Change>> {
    Ok(Json(s.app.complete_change_task(&a, &number, task, input).await?))
}

/// Record the outcome of a change in review: successful or successful_with_issues close it, failed or backed_out end it as failed.
#[utoipa::path(post, path = "/api/v1/changes/{number}/review", tag = "changes", params(("number" = String, Path)), request_body = ReviewInput, security(("bearer" = [])), responses((status = 200, body = Change), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn review_change(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<ReviewInput>,
) -> ApiResult<Json<Change>> {
    Ok(Json(s.app.review_change(&a, &number, input).await?))
}

/// Record that this change caused an incident.
#[utoipa::path(post, path = "/api/v1/changes/{number}/incidents", tag = "changes", params(("number" = String, Path)), request_body = IncidentRef, security(("bearer" = [])), responses((status = 200, body = Change), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn link_caused(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<IncidentRef>,
) -> ApiResult<Json<Change>> {
    Ok(Json(s.app.link_caused_incident(&a, &number, &input.incident).await?))
}

/// Planned changes of a period (default: seven days from today) with their conflicts, and freeze periods.
#[utoipa::path(get, path = "/api/v1/change-calendar", tag = "changes", params(CalendarQuery), security(("bearer" = [])), responses((status = 200, body = Calendar), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn calendar(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<CalendarQuery>,
) -> ApiResult<Json<Calendar>> {
    Ok(Json(s.app.change_calendar(&a, q).await?))
}

/// Changes awaiting the caller's approval.
#[utoipa::path(get, path = "/api/v1/me/approvals", tag = "changes", security(("bearer" = [])), responses((status = 200, body = Vec<AwaitingApproval>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn my_approvals(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<AwaitingApproval>>> {
    Ok(Json(s.app.my_approvals(&a).await?))
}

/// Standard-change templates.
#[utoipa::path(get, path = "/api/v1/change-templates", tag = "changes", security(("bearer" = [])), responses((status = 200, body = Vec<Template>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_templates(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<Template>>> {
    Ok(Json(s.app.change_templates(&a).await?))
}

/// Add a pre-approved standard-change template (leads).
#[utoipa::path(post, path = "/api/v1/change-templates", tag = "changes", request_body = TemplateInput, security(("bearer" = [])), responses((status = 201, body = Template), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_template(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<TemplateInput>,
) -> ApiResult<(StatusCode, Json<Template>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_change_template(&a, input).await?)))
}

/// Retire (`false`) or reinstate (`true`) a template (leads).
#[utoipa::path(put, path = "/api/v1/change-templates/{name}/active", tag = "changes", params(("name" = String, Path)), request_body(content = bool, content_type = "application/json"), security(("bearer" = [])), responses((status = 200, body = Template), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_template_active(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(input): ApiJson<bool>,
) -> ApiResult<Json<Template>> {
    Ok(Json(s.app.set_change_template_active(&a, &name, input).await?))
}

/// Current and coming freeze periods.
#[utoipa::path(get, path = "/api/v1/freeze-periods", tag = "changes", security(("bearer" = [])), responses((status = 200, body = Vec<Freeze>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_freezes(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<Freeze>>> {
    Ok(Json(s.app.freeze_periods(&a).await?))
}

/// Declare a freeze period (leads).
#[utoipa::path(post, path = "/api/v1/freeze-periods", tag = "changes", request_body = FreezeInput, security(("bearer" = [])), responses((status = 201, body = Freeze), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_freeze(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<FreezeInput>,
) -> ApiResult<(StatusCode, Json<Freeze>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_freeze(&a, input).await?)))
}

/// Lift a freeze period (leads).
#[utoipa::path(delete, path = "/api/v1/freeze-periods/{id}", tag = "changes", params(("id" = i64, Path)), security(("bearer" = [])), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_freeze(State(s): State<AppState>, Auth(a): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<StatusCode> {
    s.app.delete_freeze(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
