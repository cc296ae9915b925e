//! Admin page for joiners, movers and leavers: the plan each kind starts with, read as sentences
//! ("Create the account — 10 working days before the start day — Desktop Support, after …") and
//! changed as the plan's JSON or put back to Orion's; and the access each department or role
//! gives, from which a mover's access to add and revoke is computed.

use super::{admin_only, flash, with_status};
use crate::AppState;
use crate::ui::form::{Fields, done};
use crate::ui::layout::{Layout, error_page, explain_as, render};
use crate::ui::session::WebUser;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::workflows::{AccessProfile, AccessProfileInput, WorkflowPlan, WorkflowPlanInput};
use orion_domain::workflow::{Kind, PlanTask, offset_text};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/workflows", get(page_get))
        .route("/admin/workflows/plans/{kind}", post(save_plan))
        .route("/admin/workflows/access", post(save_profile))
}

struct PlanView {
    plan: WorkflowPlan,
    lines: Vec<String>,
    json: String,
}

#[derive(Template)]
#[template(path = "admin/workflows.html")]
struct WorkflowsPage {
    l: Layout,
    plans: Vec<PlanView>,
    profiles: Vec<AccessProfile>,
    /// Which form failed (`plan-joiner`, `access`) and why
    form: String,
    error: Option<String>,
    /// What was typed into the failed form
    typed: HashMap<String, String>,
}

impl WorkflowsPage {
    fn typed(&self, k: &str) -> String {
        self.typed.get(k).cloned().unwrap_or_default()
    }
}

/// How a task of a plan reads.
fn line(t: &PlanTask, kind: Kind) -> String {
    let mut s = format!("{} — {}", t.title, offset_text(t.offset_days, kind));
    if let Some(g) = &t.group {
        s.push_str(&format!(" — {g}"));
    }
    if !t.after.is_empty() {
        s.push_str(&format!(", after {}", t.after.join(", ")));
    }
    if t.per_asset {
        s.push_str("; one line per asset the person holds, checked in with its condition");
    }
    if t.hands_out {
        s.push_str("; completing it checks an asset out to the person");
    }
    s
}

async fn page(
    s: &AppState,
    user: &WebUser,
    flash_key: Option<&str>,
    failed: Option<(&str, String, &Fields)>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let plans = match s.app.workflow_plans(&user.actor).await {
        Ok(p) => p,
        Err(e) => return error_page(Some(user), &e),
    };
    let profiles = match s.app.access_profiles(&user.actor).await {
        Ok(p) => p,
        Err(e) => return error_page(Some(user), &e),
    };
    let (form, error, typed) = match failed {
        Some((form, error, f)) => (form.to_string(), Some(error), f.0.iter().cloned().collect()),
        None => (String::new(), None, HashMap::new()),
    };
    let plans = plans
        .into_iter()
        .map(|plan| {
            let kind = Kind::parse("kind", &plan.kind).unwrap_or(Kind::Joiner);
            let lines = plan.tasks.iter().map(|t| line(t, kind)).collect();
            let json = serde_json::to_string_pretty(&plan.tasks).unwrap_or_default();
            PlanView { plan, lines, json }
        })
        .collect();
    let l = Layout::new(Some(user), "Joiners, movers and leavers", "admin", flash_key);
    with_status(render(&WorkflowsPage { l, plans, profiles, form, error: error.clone(), typed }), &error)
}

async fn page_get(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    page(&s, &user, flash(&q), None).await
}

async fn save_plan(State(s): State<AppState>, user: WebUser, Path(kind): Path<String>, f: Fields) -> Response {
    let form = format!("plan-{kind}");
    let tasks: Vec<PlanTask> = if f.get("standard").is_some() {
        Vec::new()
    } else {
        match serde_json::from_str(f.get("tasks").unwrap_or("[]")) {
            Ok(t) => t,
            Err(e) => {
                let msg = format!("The plan is not a list of tasks Orion reads ({e}).");
                return page(&s, &user, None, Some((&form, msg, &f))).await;
            }
        }
    };
    match s.app.set_workflow_plan(&user.actor, &kind, WorkflowPlanInput { tasks }).await {
        Ok(_) => done("/admin/workflows", "plan_saved"),
        Err(e @ AppError::Validation(_)) => page(&s, &user, None, Some((&form, explain_as(&e, &[]), &f))).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn save_profile(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let access = f.get("access").unwrap_or_default().lines().map(str::to_string).collect();
    let input = AccessProfileInput { name: f.get("name").unwrap_or_default().to_string(), access };
    match s.app.set_access_profile(&user.actor, input).await {
        Ok(_) => done("/admin/workflows", "profile_saved"),
        Err(e @ AppError::Validation(_)) => {
            let msg = explain_as(&e, &[("name", "Department or role"), ("access", "Access")]);
            page(&s, &user, None, Some(("access", msg, &f))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}
