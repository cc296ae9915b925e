//! `/api/v1/workflows`: joiners, movers and leavers — started, followed, re-planned when their day
//! moves, their tasks completed (assets checked out and in), closed on proof; the plans they start
//! from and the access each department or role gives.

use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::{AppState, ErrorBody};

use super::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use orion_app::Page;
use orion_app::workflows::{
    AccessProfile, AccessProfileInput, CloseInput, MoveInput, TaskOfWorkflow, TeamQuery, Workflow, WorkflowAudit,
    WorkflowInput, WorkflowPlan, WorkflowPlanInput, WorkflowProgress, WorkflowQuery, WorkflowSummary,
    WorkflowTaskCompletion,
};
use utoipa_axum::routes;

pub(crate) fn routes(r: super::ApiRoutes) -> super::ApiRoutes {
    r.routes(routes!(list_workflows, create_workflow))
        .routes(routes!(get_workflow))
        .routes(routes!(team_workflows))
        .routes(routes!(person_overview))
        .routes(routes!(workflow_of_request))
        .routes(routes!(move_workflow))
        .routes(routes!(close_workflow))
        .routes(routes!(reserve_asset))
        .routes(routes!(workflow_audit))
        .routes(routes!(workflow_audit_csv))
        .routes(routes!(task_of_workflow))
        .routes(routes!(complete_task))
        .routes(routes!(list_plans))
        .routes(routes!(set_plan))
        .routes(routes!(list_profiles, set_profile))
}

/// Workflows by day, the soonest first (staff): the open ones unless `state` says otherwise, each
/// with whether it is ready, urgent (within 2 working days and not ready) and what is not ready.
#[utoipa::path(get, path = "/api/v1/workflows", tag = "workflows", params(WorkflowQuery), security(("bearer" = [])), responses((status = 200, body = Page<WorkflowSummary>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_workflows(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<WorkflowQuery>,
) -> ApiResult<Json<Page<WorkflowSummary>>> {
    Ok(Json(s.app.workflows(&a, &q).await?))
}

/// Start a joiner, mover or leaver (staff): its plan dated from the day, the tasks that wait for
/// nothing opened as task tickets at once.
#[utoipa::path(post, path = "/api/v1/workflows", tag = "workflows", request_body = WorkflowInput, security(("bearer" = [])), responses((status = 201, body = Workflow), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_workflow(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<WorkflowInput>,
) -> ApiResult<(StatusCode, Json<Workflow>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_workflow(&a, input, "api").await?)))
}

/// The joiners, movers and leavers of the people the caller manages, latest day first, with how
/// far each has got (anyone; empty for someone who manages nobody).
#[utoipa::path(get, path = "/api/v1/workflows/team", tag = "workflows", params(TeamQuery), security(("bearer" = [])), responses((status = 200, body = Page<WorkflowProgress>), (status = 422, body = ErrorBody)))]
async fn team_workflows(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<TeamQuery>,
) -> ApiResult<Json<Page<WorkflowProgress>>> {
    Ok(Json(s.app.team_workflows(&a, q.cursor.as_deref(), q.limit).await?))
}

/// A person as the desk sees them (staff): profile, access (support groups), the assets they
/// hold and every joiner, mover or leaver of theirs.
#[utoipa::path(get, path = "/api/v1/people", tag = "workflows", params(orion_app::workflows::PersonQuery), security(("bearer" = [])), responses((status = 200, body = orion_app::workflows::PersonOverview), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn person_overview(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<orion_app::workflows::PersonQuery>,
) -> ApiResult<Json<orion_app::workflows::PersonOverview>> {
    Ok(Json(s.app.person_overview(&a, &q.email).await?))
}

/// Where the joiner, mover or leaver a catalog request started stands (whoever may see the
/// request); 404 when it started none.
#[utoipa::path(get, path = "/api/v1/tickets/{number}/workflow", tag = "workflows", params(("number" = String, Path)), security(("bearer" = [])), responses((status = 200, body = WorkflowProgress), (status = 404, body = ErrorBody)))]
async fn workflow_of_request(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<WorkflowProgress>> {
    match s.app.workflow_of_request(&a, &number).await? {
        Some(w) => Ok(Json(w)),
        None => Err(orion_app::AppError::NotFound("workflow").into()),
    }
}

/// One workflow with its tasks and what stands between it and closing (staff).
#[utoipa::path(get, path = "/api/v1/workflows/{id}", tag = "workflows", params(("id" = i64, Path)), security(("bearer" = [])), responses((status = 200, body = Workflow), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_workflow(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Workflow>> {
    Ok(Json(s.app.workflow(&a, id).await?))
}

/// Move the day (staff): every task not done is due again from the new day; whoever works on an
/// open one is told. 409 when the workflow changed since it was read.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/date", tag = "workflows", params(("id" = i64, Path)), request_body = MoveInput, security(("bearer" = [])), responses((status = 200, body = Workflow), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn move_workflow(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<MoveInput>,
) -> ApiResult<Json<Workflow>> {
    Ok(Json(s.app.move_workflow(&a, id, &input).await?))
}

/// Close (staff): a leaver only when Orion sees the account disabled, the groups left, every
/// asset checked in and every task done (409 naming what is not) — or with `exception`, a lead's
/// reason to close anyway.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/close", tag = "workflows", params(("id" = i64, Path)), request_body = CloseInput, security(("bearer" = [])), responses((status = 200, body = Workflow), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn close_workflow(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<CloseInput>,
) -> ApiResult<Json<Workflow>> {
    Ok(Json(s.app.close_workflow(&a, id, &input).await?))
}

/// Reserve an asset in stock for a joiner's hand-out task (staff): nobody else can have it checked
/// out meanwhile, and the task hands it out unless told otherwise; an empty `asset` releases it.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/reserve", tag = "workflows", params(("id" = i64, Path)), request_body = orion_app::workflows::ReserveInput, security(("bearer" = [])), responses((status = 200, body = Workflow), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reserve_asset(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<orion_app::workflows::ReserveInput>,
) -> ApiResult<Json<Workflow>> {
    Ok(Json(s.app.reserve_workflow_asset(&a, id, &input).await?))
}

/// A workflow's record for an audit (staff): who started it, each task with who did it, when and
/// what they recorded, what Orion saw of the person, who closed it and any exception.
#[utoipa::path(get, path = "/api/v1/workflows/{id}/audit", tag = "workflows", params(("id" = i64, Path)), security(("bearer" = [])), responses((status = 200, body = WorkflowAudit), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn workflow_audit(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<WorkflowAudit>> {
    Ok(Json(s.app.workflow_audit(&a, id).await?))
}

/// The same record as CSV (staff): `at, who, what, ticket`, then what Orion sees now.
#[utoipa::path(get, path = "/api/v1/workflows/{id}/audit.csv", tag = "workflows", params(("id" = i64, Path)), security(("bearer" = [])), responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn workflow_audit_csv(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<axum::response::Response> {
    Ok(audit_csv(&s, &a, id).await?)
}

/// The CSV response of a workflow's record (the API's and the console's).
pub(crate) async fn audit_csv(
    s: &AppState,
    actor: &orion_domain::Actor,
    id: i64,
) -> Result<axum::response::Response, orion_app::AppError> {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let body = s.app.workflow_audit_csv(actor, id).await?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!("attachment; filename=\"orion-workflow-{id}-audit.csv\""))
                .unwrap_or(HeaderValue::from_static("attachment")),
        ),
    ];
    Ok((headers, body).into_response())
}

/// A task ticket's place in its workflow (staff); 404 for a ticket that is no workflow task.
#[utoipa::path(get, path = "/api/v1/workflows/tasks/{number}", tag = "workflows", params(("number" = String, Path)), security(("bearer" = [])), responses((status = 200, body = TaskOfWorkflow), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn task_of_workflow(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<TaskOfWorkflow>> {
    match s.app.task_of_workflow(&a, &number).await? {
        Some(t) => Ok(Json(t)),
        None => Err(orion_app::AppError::NotFound("workflow task").into()),
    }
}

/// Complete a workflow task (staff): a hand-out names the asset checked out to the person, a
/// check-in line the condition its asset came back in. The tasks that waited for it open; the
/// workflow closes when nothing stands in its way.
#[utoipa::path(post, path = "/api/v1/workflows/tasks/{number}/complete", tag = "workflows", params(("number" = String, Path)), request_body = WorkflowTaskCompletion, security(("bearer" = [])), responses((status = 200, body = Workflow), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn complete_task(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(input): ApiJson<WorkflowTaskCompletion>,
) -> ApiResult<Json<Workflow>> {
    Ok(Json(s.app.complete_workflow_task(&a, &number, &input).await?))
}

/// The plan each kind starts with (staff).
#[utoipa::path(get, path = "/api/v1/workflow-plans", tag = "workflows", security(("bearer" = [])), responses((status = 200, body = Vec<WorkflowPlan>), (status = 403, body = ErrorBody)))]
async fn list_plans(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<WorkflowPlan>>> {
    Ok(Json(s.app.workflow_plans(&a).await?))
}

/// Replace the plan a kind starts with (admins; an empty list puts Orion's back). Workflows
/// already started keep theirs.
#[utoipa::path(put, path = "/api/v1/workflow-plans/{kind}", tag = "workflows", params(("kind" = String, Path, description = "joiner, mover or leaver")), request_body = WorkflowPlanInput, security(("bearer" = [])), responses((status = 200, body = WorkflowPlan), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_plan(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(kind): ApiPath<String>,
    ApiJson(input): ApiJson<WorkflowPlanInput>,
) -> ApiResult<Json<WorkflowPlan>> {
    Ok(Json(s.app.set_workflow_plan(&a, &kind, input).await?))
}

/// What each department and role gives access to (staff): a mover's access to add and revoke
/// is the difference between the old and the new.
#[utoipa::path(get, path = "/api/v1/access-profiles", tag = "workflows", security(("bearer" = [])), responses((status = 200, body = Vec<AccessProfile>), (status = 403, body = ErrorBody)))]
async fn list_profiles(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<AccessProfile>>> {
    Ok(Json(s.app.access_profiles(&a).await?))
}

/// Set what one department or role gives access to (admins; an empty list removes it).
#[utoipa::path(put, path = "/api/v1/access-profiles", tag = "workflows", request_body = AccessProfileInput, security(("bearer" = [])), responses((status = 200, body = AccessProfile), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_profile(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<AccessProfileInput>,
) -> ApiResult<Json<AccessProfile>> {
    Ok(Json(s.app.set_access_profile(&a, input).await?))
}
