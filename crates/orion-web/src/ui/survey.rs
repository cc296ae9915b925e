//! The satisfaction survey a requester opens from the mail (no sign-in: the link is the key).
//! Opening it records nothing — mail scanners follow links — the button does.

use crate::AppState;
use crate::ui::form::Fields;
use crate::ui::layout::{Layout, explain, render};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use orion_app::AppError;
use orion_app::surveys::{Survey, SurveyAnswer};
use std::collections::HashMap;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/survey/{token}", get(page).post(answer))
}

#[derive(Template)]
#[template(path = "survey.html")]
struct SurveyPage {
    l: Layout,
    survey: Option<Survey>,
    action: String,
    /// The score the link chose (`"4"`), empty for none
    chosen: String,
    required_below: i64,
    comment: String,
    error: Option<String>,
}

fn show(
    token: &str,
    survey: Option<Survey>,
    chosen: Option<i64>,
    comment: String,
    error: Option<String>,
) -> SurveyPage {
    SurveyPage {
        l: Layout::new(None, "How did we do?", "", None),
        required_below: survey.as_ref().map(|s| s.comment_required_below).unwrap_or(1),
        survey,
        action: format!("/survey/{token}"),
        chosen: chosen.map(|n| n.to_string()).unwrap_or_default(),
        comment,
        error,
    }
}

async fn page(
    State(s): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let chosen = q.get("score").and_then(|v| v.parse::<i64>().ok()).filter(|n| (1..=5).contains(n));
    let survey = match orion_app::surveys::plausible_link(&token) {
        Ok(()) => s.app.survey_by_link(&token).await.ok(),
        Err(_) => None,
    };
    let status = if survey.is_some() { StatusCode::OK } else { StatusCode::NOT_FOUND };
    let mut resp = render(&show(&token, survey, chosen, String::new(), None));
    *resp.status_mut() = status;
    resp
}

async fn answer(State(s): State<AppState>, Path(token): Path<String>, f: Fields) -> Response {
    let comment = f.get("comment").unwrap_or_default().to_string();
    let score = f.get("score").map(|v| v.trim().parse::<i64>().unwrap_or(0));
    if orion_app::surveys::plausible_link(&token).is_err() {
        let mut resp = render(&show(&token, None, score, comment, None));
        *resp.status_mut() = StatusCode::NOT_FOUND;
        return resp;
    }
    let input = SurveyAnswer { score, comment: Some(comment.clone()) };
    match s.app.answer_survey_by_link(&token, input).await {
        Ok(done) => render(&show(&token, Some(done), score, String::new(), None)),
        Err(e) => {
            let status = match &e {
                AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
                AppError::Conflict(_) => StatusCode::CONFLICT,
                AppError::NotFound(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let survey = s.app.survey_by_link(&token).await.ok();
            let mut resp = render(&show(&token, survey, score, comment, Some(explain(&e))));
            *resp.status_mut() = status;
            resp
        }
    }
}
