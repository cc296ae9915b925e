//! Approving catalog requests: the page an approval mail's link opens (no sign-in: the link is
//! the key; opening it decides nothing, since mail scanners follow links — the buttons do), the
//! "Awaiting my approval" list for everyone (a manager need not be support staff) with a request's
//! page to decide on, and delegating one's approvals while away.

use crate::AppState;
use crate::ui::form::{Fields, done};
use crate::ui::layout::{Layout, error_page, explain, render};
use crate::ui::session::WebUser;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::catalog::{ApprovalDecision, ApprovalRequestView, Awaiting, Delegation, DelegationInput};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/approve/{token}", get(link_page).post(link_decide))
        .route("/portal/approvals", get(list))
        .route("/portal/approvals/delegations", post(delegate))
        .route("/portal/approvals/delegations/{id}/remove", post(undelegate))
        .route("/portal/approvals/{number}", get(request_page).post(request_decide))
}

fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn with_status(mut resp: Response, status: StatusCode) -> Response {
    *resp.status_mut() = status;
    resp
}

/// The decision a form sent.
fn decision(f: &Fields) -> ApprovalDecision {
    ApprovalDecision {
        decision: f.get("decision").unwrap_or_default().to_string(),
        comment: f.get("comment").unwrap_or_default().to_string(),
    }
}

#[derive(Template)]
#[template(path = "approvals/link.html")]
struct LinkPage {
    l: Layout,
    view: Option<ApprovalRequestView>,
    action: String,
    chosen: String,
    comment: String,
    error: Option<String>,
}

async fn link_page(
    State(s): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let chosen = q.get("decision").cloned().unwrap_or_default();
    let view = s.app.approval_by_link(&token).await.ok();
    let status = if view.is_some() { StatusCode::OK } else { StatusCode::NOT_FOUND };
    let page = LinkPage {
        l: Layout::new(None, "Approval", "", None),
        view,
        action: format!("/approve/{token}"),
        chosen,
        comment: String::new(),
        error: None,
    };
    with_status(render(&page), status)
}

async fn link_decide(State(s): State<AppState>, Path(token): Path<String>, f: Fields) -> Response {
    let input = decision(&f);
    let (view, error, status) = match s.app.decide_by_link(&token, &input).await {
        Ok(v) => (Some(v), None, StatusCode::OK),
        Err(e) => (s.app.approval_by_link(&token).await.ok(), Some(explain(&e)), status_of(&e)),
    };
    let page = LinkPage {
        l: Layout::new(None, "Approval", "", None),
        view,
        action: format!("/approve/{token}"),
        chosen: input.decision.trim().to_string(),
        comment: if error.is_some() { input.comment } else { String::new() },
        error,
    };
    with_status(render(&page), status)
}

#[derive(Template)]
#[template(path = "approvals/list.html")]
struct ListPage {
    l: Layout,
    items: Vec<Awaiting>,
    delegations: Vec<Delegation>,
    delegate: String,
    starts_at: String,
    ends_at: String,
    error: Option<String>,
}

async fn list_page(s: &AppState, user: &WebUser, flash: Option<&str>, form: (&Fields, Option<String>)) -> Response {
    let items = match s.app.awaiting_my_decision(&user.actor).await {
        Ok(v) => v,
        Err(e) => return error_page(Some(user), &e),
    };
    let delegations = s.app.delegations(&user.actor, None).await.unwrap_or_default();
    let (f, error) = form;
    let status = error.as_ref().map_or(StatusCode::OK, |_| StatusCode::UNPROCESSABLE_ENTITY);
    let page = ListPage {
        l: Layout::new(Some(user), "Awaiting my approval", "approvals", flash),
        items,
        delegations,
        delegate: f.get("delegate").unwrap_or_default().to_string(),
        starts_at: f.get("starts_at").unwrap_or_default().to_string(),
        ends_at: f.get("ends_at").unwrap_or_default().to_string(),
        error,
    };
    with_status(render(&page), status)
}

async fn list(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    list_page(&s, &user, q.get("m").map(String::as_str), (&Fields(Vec::new()), None)).await
}

async fn delegate(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let input = DelegationInput {
        user: None,
        delegate: f.get("delegate").unwrap_or_default().to_string(),
        starts_at: f.get("starts_at").unwrap_or_default().to_string(),
        ends_at: f.get("ends_at").unwrap_or_default().to_string(),
    };
    match s.app.add_delegation(&user.actor, &input).await {
        Ok(_) => done("/portal/approvals", "delegated"),
        Err(e) => list_page(&s, &user, None, (&f, Some(explain(&e)))).await,
    }
}

async fn undelegate(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.remove_delegation(&user.actor, id).await {
        Ok(()) => done("/portal/approvals", "undelegated"),
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Template)]
#[template(path = "approvals/request.html")]
struct RequestPage {
    l: Layout,
    v: ApprovalRequestView,
    back: &'static str,
    action: String,
    chosen: String,
    comment: String,
    error: Option<String>,
}

fn request_view(user: &WebUser, v: ApprovalRequestView, flash: Option<&str>) -> RequestPage {
    RequestPage {
        l: Layout::new(Some(user), format!("Approval of {}", v.number), "approvals", flash),
        back: if user.me.staff { "/agent/approvals" } else { "/portal/approvals" },
        action: format!("/portal/approvals/{}", v.number),
        v,
        chosen: String::new(),
        comment: String::new(),
        error: None,
    }
}

async fn request_page(
    State(s): State<AppState>,
    user: WebUser,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match s.app.request_for_approval(&user.actor, &number).await {
        Ok(v) => render(&request_view(&user, v, q.get("m").map(String::as_str))),
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn request_decide(State(s): State<AppState>, user: WebUser, Path(number): Path<String>, f: Fields) -> Response {
    let input = decision(&f);
    match s.app.decide_request(&user.actor, &number, &input).await {
        Ok(_) => done(&format!("/portal/approvals/{number}"), "decided"),
        Err(e) => match s.app.request_for_approval(&user.actor, &number).await {
            Ok(v) => {
                let mut page = request_view(&user, v, None);
                page.chosen = input.decision.trim().to_string();
                page.comment = input.comment;
                page.error = Some(explain(&e));
                with_status(render(&page), status_of(&e))
            }
            Err(_) => error_page(Some(&user), &e),
        },
    }
}
