//! Logging a call: the new-incident form, the caller type-ahead and the priority preview.

use crate::AppState;
use crate::ui::form::{Fields, done};
use crate::ui::layout::{Layout, error_page, explain_as, render};

/// The form's labels for the service's field names, so an error names what the agent sees.
const LABELS: &[(&str, &str)] = &[
    ("requester", "Caller"),
    ("requester_name", "Caller's name"),
    ("kind", "Kind"),
    ("title", "Short description"),
    ("description", "What the caller says"),
    ("category", "Category"),
    ("channel", "Channel"),
    ("impact", "Impact"),
    ("urgency", "Urgency"),
    ("assignment_group", "Assignment group"),
    ("assignee", "Assign to me"),
    ("assets", "Affected asset"),
];
use crate::ui::session::{Forbidden, StaffUser, WebUser};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use orion_app::{AppError, NewTicketInput};
use std::collections::HashMap;
/// Type-ahead for the caller field: `<option>`s for a `<datalist>`.
pub(super) async fn people(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser<Forbidden>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let text = q.get("requester").or(q.get("q")).map(|v| v.trim().to_string()).unwrap_or_default();
    if text.chars().count() < 2 {
        return Html(String::new()).into_response();
    }
    match s.app.list_users(&user.actor, None, Some(&text), None, Some(10)).await {
        Ok(p) => {
            let mut html = String::new();
            for u in p.items.iter().filter(|u| u.active) {
                let mut label = u.name.clone();
                for part in [u.department.as_deref(), u.phone.as_deref()].into_iter().flatten() {
                    label.push_str(" · ");
                    label.push_str(part);
                }
                html.push_str(&format!("<option value=\"{}\">{}</option>", esc(&u.email), esc(&label)));
            }
            Html(html).into_response()
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The priority that an impact and urgency give, for the new-incident form.
pub(super) async fn priority(
    State(s): State<AppState>,
    user: WebUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let level = |k: &str| q.get(k).and_then(|v| v.parse::<usize>().ok()).filter(|v| (1..=3).contains(v));
    let (Some(i), Some(u)) = (level("impact"), level("urgency")) else {
        return Html("<output id=\"priority\">choose impact and urgency</output>".to_string()).into_response();
    };
    match s.app.get_priority_matrix(&user.actor).await {
        Ok(m) => {
            let p = m.rows.get(i - 1).and_then(|r| r.get(u - 1)).copied().unwrap_or(3);
            let label = ["", "critical", "high", "moderate", "low", "planning"].get(p as usize).copied().unwrap_or("");
            Html(format!("<output id=\"priority\" class=\"prio p{p}\">P{p} · {label}</output>")).into_response()
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Default)]
pub(super) struct NewForm {
    pub requester: String,
    pub requester_name: String,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub impact: String,
    pub urgency: String,
    pub channel: String,
    pub group: String,
    pub mine: bool,
    /// An affected asset: its tag or id
    pub asset: String,
}

#[derive(Template)]
#[template(path = "agent/new.html")]
struct NewPage {
    l: Layout,
    f: NewForm,
    categories: Vec<String>,
    groups: Vec<String>,
    error: Option<String>,
}

async fn new_page_with(s: &AppState, user: &WebUser, f: NewForm, error: Option<String>) -> Response {
    let categories =
        s.app.list_categories(&user.actor).await.map(|c| c.into_iter().filter(|c| c.active).map(|c| c.path).collect());
    let groups =
        s.app.list_groups(&user.actor).await.map(|g| g.into_iter().filter(|g| g.active).map(|g| g.name).collect());
    let (Ok(categories), Ok(groups)) = (categories, groups) else {
        return error_page(Some(user), &AppError::Internal("reading categories and groups".into()));
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = NewPage { l: Layout::new(Some(user), "Log an incident", "new", None), f, categories, groups, error };
    let mut resp = render(&page);
    *resp.status_mut() = status;
    resp
}

pub(super) async fn new_page(State(s): State<AppState>, StaffUser { user, .. }: StaffUser) -> Response {
    let f = NewForm {
        kind: "incident".into(),
        impact: "3".into(),
        urgency: "3".into(),
        channel: "phone".into(),
        mine: true,
        ..NewForm::default()
    };
    new_page_with(&s, &user, f, None).await
}

pub(super) async fn create(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, fields: Fields) -> Response {
    let f = NewForm {
        requester: fields.text("requester").unwrap_or_default(),
        requester_name: fields.text("requester_name").unwrap_or_default(),
        kind: fields.text("kind").unwrap_or_else(|| "incident".into()),
        title: fields.get("title").unwrap_or_default().to_string(),
        description: fields.get("description").unwrap_or_default().to_string(),
        category: fields.text("category").unwrap_or_default(),
        impact: fields.text("impact").unwrap_or_default(),
        urgency: fields.text("urgency").unwrap_or_default(),
        channel: fields.text("channel").unwrap_or_else(|| "phone".into()),
        group: fields.text("group").unwrap_or_default(),
        mine: fields.checked("mine"),
        asset: fields.text("asset").unwrap_or_default(),
    };
    let input = NewTicketInput {
        kind: Some(f.kind.clone()),
        title: Some(f.title.clone()),
        description: Some(f.description.clone()),
        impact: f.impact.parse().ok(),
        urgency: f.urgency.parse().ok(),
        requester: Some(f.requester.clone()),
        requester_name: (!f.requester_name.is_empty()).then(|| f.requester_name.clone()),
        channel: Some(f.channel.clone()),
        category: (!f.category.is_empty()).then(|| f.category.clone()),
        assignment_group: (!f.group.is_empty()).then(|| f.group.clone()),
        assignee: f.mine.then(|| user.me.email.clone()),
        assets: (!f.asset.trim().is_empty()).then(|| vec![f.asset.trim().to_string()]),
    };
    match s.app.create_ticket(&user.actor, input).await {
        Ok(t) => done(&format!("/agent/tickets/{}", t.number), "created"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::Forbidden(_))) => {
            new_page_with(&s, &user, f, Some(explain_as(&e, LABELS))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}
