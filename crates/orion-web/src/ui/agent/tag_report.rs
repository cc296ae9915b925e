//! Tickets per tag in a period, each tag opening its queue (Queues → Tags).

use crate::AppState;
use crate::ui::layout::{Layout, error_page, explain, render};
use crate::ui::session::StaffUser;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use orion_app::desk::{TagReport, TagReportQuery};
use std::collections::HashMap;

#[derive(Template)]
#[template(path = "agent/tag_report.html")]
struct Page {
    l: Layout,
    report: Option<TagReport>,
    from: String,
    to: String,
    error: Option<String>,
}

pub(super) async fn page(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let text = |k: &str| q.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let query = TagReportQuery { from: text("from"), to: text("to") };
    let l = Layout::new(Some(&user), "Tickets by tag", "queue", None);
    let (from, to) = (query.from.clone().unwrap_or_default(), query.to.clone().unwrap_or_default());
    match s.app.tag_report(&user.actor, &query).await {
        Ok(r) => render(&Page { l, report: Some(r), from, to, error: None }),
        Err(e @ orion_app::AppError::Validation(_)) => {
            let mut resp = render(&Page { l, report: None, from, to, error: Some(explain(&e)) });
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            resp
        }
        Err(e) => error_page(Some(&user), &e),
    }
}
