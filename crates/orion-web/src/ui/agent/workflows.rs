//! Joiners, movers and leavers in the console: the dashboard of who arrives, moves and leaves
//! next (red when the day is near and something is not ready), starting one, and a workflow's
//! page — its tasks with their dates and tickets, what stands between it and closing, moving the
//! day and closing (a lead may close with an exception). Completing a task is on its ticket.

use crate::AppState;
use crate::ui::form::{Fields, done};
use crate::ui::layout::{Layout, error_page, explain_as, render};
use crate::ui::session::StaffUser;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::workflows::{
    CloseInput, MoveInput, Workflow, WorkflowAudit, WorkflowInput, WorkflowQuery, WorkflowSummary,
};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/workflows", get(list).post(create))
        .route("/agent/workflows/new", get(new_form))
        .route("/agent/workflows/{id}", get(page))
        .route("/agent/workflows/{id}/date", post(move_day))
        .route("/agent/workflows/{id}/close", post(close))
        .route("/agent/workflows/{id}/reserve", post(reserve))
        .route("/agent/workflows/{id}/audit", get(audit))
        .route("/agent/workflows/{id}/audit.csv", get(audit_csv))
        .route("/agent/person", get(person))
}

/// The form's fields as people read them, for refusals.
const LABELS: &[(&str, &str)] = &[
    ("kind", "What happens"),
    ("person", "Person's e-mail"),
    ("name", "Their name"),
    ("manager", "Their manager's e-mail"),
    ("department", "Department"),
    ("job_title", "Role"),
    ("new_department", "New department"),
    ("new_job_title", "New role"),
    ("location", "Location"),
    ("date", "Day"),
    ("group", "Group the tasks go to"),
    ("note", "Note for the tasks"),
    ("exception", "Why it closes anyway"),
    ("asset", "Asset"),
    ("row_version", "Version"),
];

#[derive(Template)]
#[template(path = "agent/workflows.html")]
struct ListPage {
    l: Layout,
    items: Vec<WorkflowSummary>,
    next: Option<String>,
    state: String,
}

#[derive(Template)]
#[template(path = "agent/workflow_form.html")]
struct FormPage {
    l: Layout,
    v: HashMap<String, String>,
    groups: Vec<String>,
    error: Option<String>,
}

impl FormPage {
    fn val(&self, k: &str) -> String {
        self.v.get(k).cloned().unwrap_or_default()
    }
    fn is(&self, k: &str, v: &str) -> bool {
        self.v.get(k).is_some_and(|x| x == v)
    }
}

#[derive(Template)]
#[template(path = "agent/workflow.html")]
struct WorkflowPage {
    l: Layout,
    w: Workflow,
    lead: bool,
    /// Which form failed (`date`, `close`) and why
    form: String,
    error: Option<String>,
}

async fn list(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let state = q.get("state").cloned().filter(|v| !v.is_empty()).unwrap_or_else(|| "open".into());
    let query =
        WorkflowQuery { state: Some(state.clone()), person: None, cursor: q.get("cursor").cloned(), limit: Some(100) };
    match s.app.workflows(&user.actor, &query).await {
        Ok(p) => {
            let next = p.next_cursor.map(|c| format!("/agent/workflows?state={state}&cursor={c}"));
            let l =
                Layout::new(Some(&user), "Joiners, movers and leavers", "workflows", q.get("m").map(String::as_str));
            render(&ListPage { l, items: p.items, next, state })
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn form_page(
    s: &AppState,
    user: &crate::ui::session::WebUser,
    v: HashMap<String, String>,
    error: Option<String>,
) -> Response {
    let groups = crate::ui::pickers::group_names(s, user).await;
    let l = Layout::new(Some(user), "Start a joiner, mover or leaver", "workflows", None);
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let mut resp = render(&FormPage { l, v, groups, error });
    *resp.status_mut() = status;
    resp
}

async fn new_form(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut v = HashMap::new();
    v.insert("kind".to_string(), q.get("kind").cloned().unwrap_or_else(|| "joiner".into()));
    if let Some(p) = q.get("person") {
        v.insert("person".into(), p.clone());
    }
    form_page(&s, &user, v, None).await
}

async fn create(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, f: Fields) -> Response {
    let v: HashMap<String, String> = f.0.iter().cloned().collect();
    let input = WorkflowInput {
        kind: f.text("kind").unwrap_or_default(),
        person: f.text("person").unwrap_or_default(),
        name: f.text("name"),
        manager: f.text("manager"),
        department: f.text("department"),
        job_title: f.text("job_title"),
        new_department: f.text("new_department"),
        new_job_title: f.text("new_job_title"),
        location: f.text("location"),
        date: f.text("date").unwrap_or_default(),
        group: f.text("group").unwrap_or_default(),
        note: f.text("note"),
    };
    match s.app.create_workflow(&user.actor, input, "console").await {
        Ok(w) => done(&format!("/agent/workflows/{}", w.id), "workflow_started"),
        Err(e @ AppError::Validation(_)) => form_page(&s, &user, v, Some(explain_as(&e, LABELS))).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn show(
    s: &AppState,
    user: &crate::ui::session::WebUser,
    id: i64,
    flash: Option<&str>,
    form: &str,
    error: Option<String>,
) -> Response {
    match s.app.workflow(&user.actor, id).await {
        Ok(w) => {
            let title = format!("{}: {}", w.kind_label, w.person.name);
            let lead = matches!(user.actor.role, orion_domain::Role::Lead | orion_domain::Role::Admin);
            let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            let mut resp = render(&WorkflowPage {
                l: Layout::new(Some(user), title, "workflows", flash),
                w,
                lead,
                form: form.into(),
                error,
            });
            *resp.status_mut() = status;
            resp
        }
        Err(e) => error_page(Some(user), &e),
    }
}

async fn page(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    show(&s, &user, id, q.get("m").map(String::as_str), "", None).await
}

async fn move_day(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(id): Path<i64>,
    f: Fields,
) -> Response {
    let input = MoveInput { date: f.text("date").unwrap_or_default(), row_version: f.int("row_version").unwrap_or(0) };
    match s.app.move_workflow(&user.actor, id, &input).await {
        Ok(_) => done(&format!("/agent/workflows/{id}"), "workflow_replanned"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            show(&s, &user, id, None, "date", Some(explain_as(&e, LABELS))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn close(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(id): Path<i64>,
    f: Fields,
) -> Response {
    let input = CloseInput { exception: f.text("exception") };
    match s.app.close_workflow(&user.actor, id, &input).await {
        Ok(_) => done(&format!("/agent/workflows/{id}"), "workflow_closed"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::Forbidden(_))) => {
            show(&s, &user, id, None, "close", Some(explain_as(&e, LABELS))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn reserve(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(id): Path<i64>,
    f: Fields,
) -> Response {
    let input = orion_app::workflows::ReserveInput { asset: f.get("asset").unwrap_or_default().to_string() };
    match s.app.reserve_workflow_asset(&user.actor, id, &input).await {
        Ok(_) => done(&format!("/agent/workflows/{id}"), "asset_reserved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            show(&s, &user, id, None, "reserve", Some(explain_as(&e, LABELS))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Template)]
#[template(path = "agent/workflow_audit.html")]
struct AuditPage {
    l: Layout,
    a: WorkflowAudit,
}

/// The workflow's record, a page to print or save for an audit.
async fn audit(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, Path(id): Path<i64>) -> Response {
    match s.app.workflow_audit(&user.actor, id).await {
        Ok(a) => {
            let title = format!("Audit record: {} of {}", a.workflow.kind_label, a.workflow.person.name);
            render(&AuditPage { l: Layout::new(Some(&user), title, "workflows", None), a })
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn audit_csv(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, Path(id): Path<i64>) -> Response {
    match crate::routes::workflows::audit_csv(&s, &user.actor, id).await {
        Ok(r) => r,
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Template)]
#[template(path = "agent/person.html")]
struct PersonPage {
    l: Layout,
    p: orion_app::workflows::PersonOverview,
}

/// A person's page: profile, access, assets held, joiners, movers and leavers.
async fn person(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let email = q.get("email").cloned().unwrap_or_default();
    match s.app.person_overview(&user.actor, &email).await {
        Ok(p) => render(&PersonPage { l: Layout::new(Some(&user), p.name.clone(), "workflows", None), p }),
        Err(e) => error_page(Some(&user), &e),
    }
}
