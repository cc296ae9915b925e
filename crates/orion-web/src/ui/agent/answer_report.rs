//! How a catalog item's requests answered one of its questions in a period ("laptop requests by
//! memory, this month"), each answer opening its tickets in the queue.

use crate::AppState;
use crate::ui::layout::{Layout, error_page, explain, render};
use crate::ui::session::StaffUser;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use orion_app::catalog::AnswerBreakdown;
use std::collections::HashMap;

#[derive(Template)]
#[template(path = "agent/answer_report.html")]
struct Page {
    l: Layout,
    id: i64,
    name: String,
    report: Option<AnswerBreakdown>,
    question: String,
    from: String,
    to: String,
    error: Option<String>,
}

impl Page {
    /// A value's share of the requests that answered, as "42 %".
    fn share(&self, count: &i64) -> String {
        match &self.report {
            Some(r) if r.answered > 0 => format!("{} %", (count * 100 + r.answered / 2) / r.answered),
            _ => String::new(),
        }
    }
}

pub(super) async fn page(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let text = |k: &str| q.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let item = match s.app.catalog_item(&user.actor, id).await {
        Ok(i) => i,
        Err(e) => return error_page(Some(&user), &e),
    };
    let l = Layout::new(Some(&user), format!("{}: requests by answer", item.name), "queue", None);
    let (question, from, to) = (text("question"), text("from"), text("to"));
    let result =
        s.app.catalog_answer_breakdown(&user.actor, id, question.as_deref(), from.as_deref(), to.as_deref()).await;
    let mut page = Page {
        l,
        id,
        name: item.name,
        report: None,
        question: question.unwrap_or_default(),
        from: from.unwrap_or_default(),
        to: to.unwrap_or_default(),
        error: None,
    };
    match result {
        Ok(r) => {
            page.question = r.question.clone();
            page.report = Some(r);
            render(&page)
        }
        Err(e @ orion_app::AppError::Validation(_)) => {
            page.error = Some(explain(&e));
            let mut resp = render(&page);
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            resp
        }
        Err(e) => error_page(Some(&user), &e),
    }
}
