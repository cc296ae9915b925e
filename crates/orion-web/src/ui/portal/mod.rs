//! The self-service portal: requesters report problems and requests, follow their own tickets,
//! reply, and confirm or reopen a resolution.

mod catalog;

use crate::AppState;
use crate::ui::form::{Fields, done, encode, read_multipart, when, words};
use crate::ui::kb::{Hit, article_hit};
use crate::ui::layout::{Layout, error_page, explain, render};
use crate::ui::session::WebUser;
use crate::ui::views::{EntryView, MAX_ENTRIES, TicketView, entry_view, ticket_view};
use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::kernel::uploads::{MAX_FILE_BYTES, MAX_FILES, MAX_FILES_TOTAL, check_uploads};
use orion_app::tickets::TicketQuery;
use orion_app::{AppError, CommentInput, NewTicketInput, ReasonInput};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    let uploads = DefaultBodyLimit::max(MAX_FILES_TOTAL + 1024 * 1024);
    Router::new()
        .merge(catalog::routes())
        .route("/portal", get(home))
        .route("/portal/team", get(team))
        .route("/portal/new", get(new_page).post(create).layer(uploads))
        .route("/portal/tickets/{number}", get(ticket))
        .route("/portal/tickets/{number}/reply", post(reply).layer(uploads))
        .route("/portal/tickets/{number}/confirm", post(confirm))
        .route("/portal/tickets/{number}/reopen", post(reopen))
        .route("/portal/tickets/{number}/survey", post(answer_survey))
}

pub(super) struct MyRow {
    pub number: String,
    pub title: String,
    pub state: String,
    pub state_code: String,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "portal/home.html")]
struct HomePage {
    l: Layout,
    rows: Vec<MyRow>,
    next: Option<String>,
    show: String,
    /// Someone they manage is joining, moving or leaving (a link to *My team*)
    team: bool,
}

async fn home(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    let show = q.get("show").cloned().unwrap_or_else(|| "open".into());
    let state = match show.as_str() {
        "all" => None,
        "resolved" => Some("resolved,closed".to_string()),
        _ => Some("open".to_string()),
    };
    let query = TicketQuery { state, cursor: q.get("cursor").cloned(), limit: Some(25), ..TicketQuery::default() };
    // Staff see their own tickets here too (the query limits them to their own as a requester would be).
    let query = if user.me.staff { TicketQuery { requester: Some(user.me.email.clone()), ..query } } else { query };
    let team = s.app.team_workflows(&user.actor, None, Some(1)).await.is_ok_and(|p| !p.items.is_empty());
    match s.app.list_tickets(&user.actor, query).await {
        Ok(p) => {
            let next = p.next_cursor.map(|c| format!("/portal?show={}&cursor={c}", encode(&show)));
            let rows = p
                .items
                .into_iter()
                // Fulfilment tasks are the desk's work; the request shows their progress. (A
                // requester's list leaves them out already; staff asking for themselves list them.)
                .filter(|t| t.kind != "task")
                .map(|t| MyRow {
                    number: t.number,
                    title: t.title,
                    state: portal_state(&t.state),
                    state_code: t.state,
                    updated: when(&t.updated_at),
                })
                .collect();
            render(&HomePage {
                l: Layout::new(Some(&user), "My requests", "portal", q.get("m").map(String::as_str)),
                rows,
                next,
                show,
                team,
            })
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Template)]
#[template(path = "portal/team.html")]
struct TeamPage {
    l: Layout,
    rows: Vec<orion_app::workflows::WorkflowProgress>,
    next: Option<String>,
}

/// *My team*: the joiners, movers and leavers of the people the user manages, with how far
/// each has got.
async fn team(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    match s.app.team_workflows(&user.actor, q.get("cursor").map(String::as_str), Some(25)).await {
        Ok(p) => render(&TeamPage {
            l: Layout::new(Some(&user), "My team: joining, moving and leaving", "team", None),
            rows: p.items,
            next: p.next_cursor.map(|c| format!("/portal/team?cursor={}", encode(&c))),
        }),
        Err(e) => error_page(Some(&user), &e),
    }
}

/// States in a requester's words.
fn portal_state(s: &str) -> String {
    match s {
        "new" => "Received".into(),
        "assigned" | "in_progress" => "Being worked on".into(),
        "pending" => "Waiting".into(),
        "resolved" => "Resolved — please confirm".into(),
        "closed" => "Closed".into(),
        other => words(other),
    }
}

#[derive(Default)]
pub(super) struct ReportForm {
    pub kind: String,
    pub title: String,
    pub description: String,
    /// Ties suggested articles opened while writing to this form (deflection)
    pub draft_key: String,
    /// The id of one of the requester's devices the problem is about
    pub device: String,
}

#[derive(Template)]
#[template(path = "portal/new.html")]
struct NewPage {
    l: Layout,
    f: ReportForm,
    error: Option<String>,
    max_files: usize,
    max_mib: usize,
    /// The devices checked out to the requester: (id, label)
    devices: Vec<(String, String)>,
}

async fn new_form(s: &AppState, user: &WebUser, mut f: ReportForm, error: Option<String>) -> Response {
    let devices = s
        .app
        .my_devices(&user.actor)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|d| {
            let tag = d.asset_tag.map(|t| format!(" ({t})")).unwrap_or_default();
            (d.id.to_string(), format!("{}{tag} — {}", d.name, d.ci_type.replace('_', " ")))
        })
        .collect();
    if f.draft_key.is_empty() {
        f.draft_key = orion_app::search::new_draft_key();
    }
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = NewPage {
        l: Layout::new(Some(user), "Report a problem or ask for something", "portal", None),
        f,
        error,
        max_files: MAX_FILES,
        max_mib: MAX_FILE_BYTES >> 20,
        devices,
    };
    let mut resp = render(&page);
    *resp.status_mut() = status;
    resp
}

async fn new_page(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    let kind =
        if q.get("kind").map(String::as_str) == Some("service_request") { "service_request" } else { "incident" };
    new_form(&s, &user, ReportForm { kind: kind.into(), ..ReportForm::default() }, None).await
}

async fn create(State(s): State<AppState>, user: WebUser, m: Multipart) -> Response {
    let (f, files) = match read_multipart(m).await {
        Ok(x) => x,
        Err(e) => return new_form(&s, &user, ReportForm::default(), Some(e)).await,
    };
    let form = ReportForm {
        kind: f.text("kind").unwrap_or_else(|| "incident".into()),
        title: f.get("title").unwrap_or_default().to_string(),
        description: f.get("description").unwrap_or_default().to_string(),
        draft_key: f.get("draft_key").unwrap_or_default().chars().take(64).collect(),
        device: f.text("device").unwrap_or_default(),
    };
    // Files are checked before the ticket exists, so a refused file leaves nothing half-written.
    if let Err(e) = check_uploads(&files) {
        return new_form(&s, &user, form, Some(explain(&e))).await;
    }
    let input = NewTicketInput {
        kind: Some(form.kind.clone()),
        title: Some(form.title.clone()),
        description: Some(form.description.clone()),
        channel: Some("portal".into()),
        // Staff reporting for themselves name themselves; a requester always reports as themselves.
        requester: user.me.staff.then(|| user.me.email.clone()),
        assets: (!form.device.is_empty()).then(|| vec![form.device.clone()]),
        ..NewTicketInput::default()
    };
    let t = match s.app.create_ticket(&user.actor, input).await {
        Ok(t) => t,
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::Forbidden(_))) => {
            return new_form(&s, &user, form, Some(explain(&e))).await;
        }
        Err(e) => return error_page(Some(&user), &e),
    };
    if !files.is_empty() {
        let input = CommentInput { visibility: Some("public".into()), ..CommentInput::default() };
        if let Err(e) = s.app.add_comment_with_files(&user.actor, &t.number, input, files).await {
            return error_page(Some(&user), &e);
        }
    }
    if !form.draft_key.is_empty()
        && let Err(e) = s.app.record_suggestion_submitted(&user.actor, &form.draft_key, &t.number).await
    {
        tracing::warn!(error = %e, "could not record that the form was submitted");
    }
    done(&format!("/portal/tickets/{}", t.number), "created")
}

#[derive(Template)]
#[template(path = "portal/ticket.html")]
struct TicketPage {
    l: Layout,
    t: TicketView,
    entries: Vec<EntryView>,
    /// Articles the desk linked to this request, then published ones about the same thing:
    /// public articles only (the service filters them for the requester).
    linked: Vec<Hit>,
    related: Vec<Hit>,
    form: String,
    error: Option<String>,
    draft: String,
    /// The satisfaction survey of the ticket, when one was sent
    survey: Option<orion_app::surveys::Survey>,
    /// The survey form's fields (shared with the page a survey link opens)
    action: String,
    chosen: String,
    required_below: i64,
    comment: String,
    /// What was asked, for a request from the catalog
    asked: Option<orion_app::catalog::CatalogRequest>,
    /// The joiner, mover or leaver the request started
    progress: Option<orion_app::workflows::WorkflowProgress>,
}

async fn ticket_page(
    s: &AppState,
    user: &WebUser,
    number: &str,
    flash: Option<&str>,
    form: &str,
    error: Option<String>,
    draft: String,
) -> Response {
    let t = match s.app.get_ticket(&user.actor, number).await {
        Ok(t) => t,
        Err(e) => return error_page(Some(user), &e),
    };
    let entries = match s.app.whole_timeline(&user.actor, &t.number, MAX_ENTRIES).await {
        // Requesters are only ever given public entries; staff looking here see the same view.
        Ok(all) => all.into_iter().filter(|e| e.visibility == "public").map(|e| entry_view(e, false)).collect(),
        Err(e) => return error_page(Some(user), &e),
    };
    let articles = match s.app.ticket_articles(&user.actor, &t.number).await {
        Ok(a) => a,
        Err(e) => return error_page(Some(user), &e),
    };
    let hits = |v: Vec<orion_app::search::ArticleHit>| v.into_iter().map(|a| article_hit(a, None)).collect();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let survey = s.app.ticket_survey(&user.actor, &t.number).await.ok();
    let asked = match s.app.catalog_request(&user.actor, &t.number).await {
        Ok(a) => a,
        Err(e) => return error_page(Some(user), &e),
    };
    let progress = s.app.workflow_of_request(&user.actor, &t.number).await.ok().flatten();
    let mut t = ticket_view(t);
    // The same words for the state as the requester's list uses.
    t.state = portal_state(&t.state_code);
    let page = TicketPage {
        l: Layout::new(Some(user), format!("{} · {}", t.number, t.title), "portal", flash),
        t,
        entries,
        linked: hits(articles.linked),
        related: hits(articles.related),
        action: format!("/portal/tickets/{number}/survey"),
        chosen: String::new(),
        required_below: survey.as_ref().map(|v| v.comment_required_below).unwrap_or(1),
        comment: if form == "survey" { draft.clone() } else { String::new() },
        survey,
        form: form.to_string(),
        error,
        draft,
        asked,
        progress,
    };
    let mut resp = render(&page);
    *resp.status_mut() = status;
    resp
}

async fn ticket(
    State(s): State<AppState>,
    user: WebUser,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    ticket_page(&s, &user, &number, q.get("m").map(String::as_str), "", None, String::new()).await
}

async fn reply(State(s): State<AppState>, user: WebUser, Path(number): Path<String>, m: Multipart) -> Response {
    let (f, files) = match read_multipart(m).await {
        Ok(x) => x,
        Err(e) => return ticket_page(&s, &user, &number, None, "reply", Some(e), String::new()).await,
    };
    let body = f.get("body").unwrap_or_default().to_string();
    let input = CommentInput { body: Some(body.clone()), visibility: Some("public".into()), ..CommentInput::default() };
    match s.app.add_comment_with_files(&user.actor, &number, input, files).await {
        Ok(_) => done(&format!("/portal/tickets/{number}"), "sent"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            ticket_page(&s, &user, &number, None, "reply", Some(explain(&e)), body).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// "How did we do?": the requester rates the support of their resolved ticket.
async fn answer_survey(State(s): State<AppState>, user: WebUser, Path(number): Path<String>, f: Fields) -> Response {
    let comment = f.get("comment").unwrap_or_default().to_string();
    let score = f.get("score").map(|v| v.trim().parse::<i64>().unwrap_or(0));
    let input = orion_app::surveys::SurveyAnswer { score, comment: Some(comment.clone()) };
    match s.app.answer_ticket_survey(&user.actor, &number, input).await {
        Ok(_) => done(&format!("/portal/tickets/{number}"), "survey_thanks"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            ticket_page(&s, &user, &number, None, "survey", Some(explain(&e)), comment).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// "Yes, it is solved": the requester closes the resolved ticket.
async fn confirm(State(s): State<AppState>, user: WebUser, Path(number): Path<String>) -> Response {
    let input = ReasonInput { reason: Some("The requester confirmed the resolution.".into()) };
    match s.app.close(&user.actor, &number, input).await {
        Ok(_) => done(&format!("/portal/tickets/{number}"), "closed"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::InvalidTransition(_))) => {
            ticket_page(&s, &user, &number, None, "confirm", Some(explain(&e)), String::new()).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// "No, it is not solved": the requester reopens it with a reason.
async fn reopen(State(s): State<AppState>, user: WebUser, Path(number): Path<String>, f: Fields) -> Response {
    let reason = f.get("reason").unwrap_or_default().to_string();
    match s.app.reopen(&user.actor, &number, ReasonInput { reason: Some(reason.clone()) }).await {
        Ok(_) => done(&format!("/portal/tickets/{number}"), "reopened"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::InvalidTransition(_))) => {
            ticket_page(&s, &user, &number, None, "reopen", Some(explain(&e)), reason).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}
