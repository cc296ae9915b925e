//! Knowledge pages every signed-in person reads: the article list (the staff's knowledge base at
//! `/kb`, the requesters' help pages at `/help`), an article with its feedback and workflow
//! buttons, its attachments, and the suggestions shown while a ticket is written. What only staff
//! open (search, writing and editing, history, a ticket's articles panel) is in the agent console.

use super::form::{Fields, done, encode, read_multipart, when, words};
use super::layout::{Layout, error_page, explain, render};
use super::session::WebUser;
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::kb::{Article, ArticleQuery, ArticleSummary, ArticleTransition, FeedbackInput};
use orion_app::kernel::uploads::{MAX_FILES_TOTAL, Upload};
use orion_app::search::{ArticleHit, SearchQuery, SuggestQuery, TicketHit};
use std::collections::HashMap;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/kb", get(list))
        .route("/help", get(help))
        .route("/kb/suggest", get(suggest))
        .route("/kb/attachments/{id}", get(attachment))
        .route("/kb/{number}", get(view))
        .route("/kb/{number}/attach", post(attach).layer(DefaultBodyLimit::max(MAX_FILES_TOTAL + 1024 * 1024)))
        .route("/kb/{number}/do/{action}", post(act))
}

/// A search result or article row as the pages show it.
pub(crate) struct Hit {
    pub(crate) number: String,
    pub(crate) href: String,
    pub(crate) title_html: String,
    pub(crate) snippet_html: String,
    pub(crate) meta: String,
}

pub(crate) fn ticket_hit(t: TicketHit) -> Hit {
    Hit {
        href: format!("/agent/tickets/{}", t.number),
        meta: format!(
            "{} · {} · {} · {} · {}",
            t.priority,
            words(&t.state),
            t.assignment_group,
            t.requester_name,
            when(&t.updated_at)
        ),
        snippet_html: if t.snippet_from == "description" || t.snippet_html.is_empty() {
            t.snippet_html
        } else {
            format!("<span class=\"tag\">{}</span> {}", t.snippet_from, t.snippet_html)
        },
        number: t.number,
        title_html: t.title_html,
    }
}

pub(crate) fn article_hit(a: ArticleHit, draft: Option<&str>) -> Hit {
    let kind = kind_label(&a.kind);
    Hit {
        href: match draft {
            Some(k) => format!("/kb/{}?draft={}", a.number, encode(k)),
            None => format!("/kb/{}", a.number),
        },
        meta: format!(
            "{kind}{}{} · {} found it helpful",
            if a.state == "published" { String::new() } else { format!(" · {}", a.state) },
            if a.audience == "internal" { " · internal" } else { "" },
            a.helpful_yes
        ),
        number: a.number,
        title_html: a.title_html,
        snippet_html: a.snippet_html,
    }
}

pub(crate) fn kind_label(kind: &str) -> &'static str {
    orion_app::kb::KINDS.iter().find(|(k, _)| *k == kind).map(|(_, l)| *l).unwrap_or("Article")
}

#[derive(Template)]
#[template(path = "kb/list.html")]
struct ListPage {
    l: Layout,
    staff: bool,
    q: String,
    state: String,
    stale: bool,
    hits: Vec<Hit>,
    rows: Vec<ArticleSummary>,
    next: Option<String>,
    error: Option<String>,
    states: &'static [&'static str],
}

async fn list(s: State<AppState>, user: WebUser, q: Query<HashMap<String, String>>) -> Response {
    list_page(s, user, q, "kb").await
}

/// The portal's help pages: published public articles.
async fn help(s: State<AppState>, user: WebUser, q: Query<HashMap<String, String>>) -> Response {
    list_page(s, user, q, "help").await
}

async fn list_page(
    State(s): State<AppState>,
    user: WebUser,
    Query(q): Query<HashMap<String, String>>,
    section: &'static str,
) -> Response {
    let text = q.get("q").map(|v| v.trim().to_string()).unwrap_or_default();
    let state = q.get("state").cloned().unwrap_or_default();
    let stale = q.get("stale").is_some_and(|v| v == "1" || v == "on");
    let staff = user.me.staff && section == "kb";
    let title = if staff { "Knowledge" } else { "Help articles" };
    let mut page = ListPage {
        l: Layout::new(Some(&user), title, section, q.get("m").map(String::as_str)),
        staff,
        q: text.clone(),
        state: state.clone(),
        stale,
        hits: Vec::new(),
        rows: Vec::new(),
        next: None,
        error: None,
        states: orion_app::kb::STATES,
    };
    if !text.is_empty() {
        let query = SearchQuery {
            q: text,
            kind_of: Some("article".into()),
            article_state: if staff { (!state.is_empty()).then_some(state) } else { Some("published".into()) },
            limit: Some(50),
            ..SearchQuery::default()
        };
        match s.app.search(&user.actor, query).await {
            Ok(r) => page.hits = r.articles.into_iter().map(|a| article_hit(a, None)).collect(),
            Err(e @ AppError::Validation(_)) => page.error = Some(explain(&e)),
            Err(e) => return error_page(Some(&user), &e),
        }
    } else {
        let query = ArticleQuery {
            state: if staff { (!state.is_empty()).then_some(state.clone()) } else { None },
            stale: Some(stale && staff),
            cursor: q.get("cursor").cloned(),
            ..ArticleQuery::default()
        };
        match s.app.list_articles(&user.actor, query).await {
            Ok(p) => {
                page.next = p.next_cursor.map(|c| format!("/{section}?state={}&cursor={c}", encode(&state)));
                page.rows = p.items;
            }
            Err(e) => return error_page(Some(&user), &e),
        }
    }
    render(&page)
}

#[derive(Template)]
#[template(path = "kb/article.html")]
struct ArticlePage {
    l: Layout,
    a: Article,
    staff: bool,
    lead: bool,
    kind: &'static str,
    back: &'static str,
    error: Option<String>,
}

async fn view(
    State(s): State<AppState>,
    user: WebUser,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let a = match s.app.get_article(&user.actor, &number, !q.contains_key("m")).await {
        Ok(a) => a,
        Err(e) => return error_page(Some(&user), &e),
    };
    // Opened from the suggestions of a ticket being written: remember it (deflection).
    if let Some(key) = q.get("draft")
        && let Err(e) = s.app.record_suggestion_open(&user.actor, key, &a.number).await
    {
        tracing::debug!(error = %e, "suggestion opening not recorded");
    }
    article_page(&user, a, q.get("m").map(String::as_str), None)
}

fn article_page(user: &WebUser, a: Article, flash: Option<&str>, error: Option<String>) -> Response {
    let staff = user.me.staff;
    let page = ArticlePage {
        l: Layout::new(Some(user), a.title.clone(), if staff { "kb" } else { "help" }, flash),
        kind: kind_label(&a.kind),
        staff,
        lead: user.me.admin || matches!(user.actor.role, orion_domain::Role::Lead),
        back: if staff { "/kb" } else { "/help" },
        a,
        error,
    };
    let status = if page.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let mut resp = render(&page);
    *resp.status_mut() = status;
    resp
}

/// Workflow buttons and "was this helpful?".
async fn act(
    State(s): State<AppState>,
    user: WebUser,
    Path((number, action)): Path<(String, String)>,
    f: Fields,
) -> Response {
    let a = &s.app;
    let result = match action.as_str() {
        "helpful" | "not_helpful" => {
            let input = FeedbackInput { helpful: action == "helpful", comment: f.get("comment").unwrap_or("").into() };
            a.article_feedback(&user.actor, &number, input).await.map(|_| "feedback")
        }
        "submit" | "publish" | "reject" | "retire" | "restore" => {
            let t = ArticleTransition {
                action: action.clone(),
                note: f.get("note").unwrap_or("").into(),
                review_by: f.text("review_by"),
            };
            a.transition_article(&user.actor, &number, t).await.map(|_| "article_saved")
        }
        _ => Err(AppError::NotFound("action")),
    };
    match result {
        Ok(msg) => done(&format!("/kb/{number}"), msg),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::Forbidden(_))) => {
            match a.get_article(&user.actor, &number, false).await {
                Ok(art) => article_page(&user, art, None, Some(explain(&e))),
                Err(e) => error_page(Some(&user), &e),
            }
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn attach(State(s): State<AppState>, user: WebUser, Path(number): Path<String>, m: Multipart) -> Response {
    let files: Vec<Upload> = match read_multipart(m).await {
        Ok((_, files)) => files,
        Err(e) => return error_page(Some(&user), &AppError::Conflict(e)),
    };
    match s.app.attach_to_article(&user.actor, &number, files).await {
        Ok(a) => done(&format!("/kb/{}", a.number), "article_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Forbidden(_))) => {
            match s.app.get_article(&user.actor, &number, false).await {
                Ok(art) => article_page(&user, art, None, Some(explain(&e))),
                Err(e) => error_page(Some(&user), &e),
            }
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn attachment(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.article_attachment(&user.actor, id).await {
        Ok(f) => crate::file_response(f),
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Template)]
#[template(path = "kb/suggest.html")]
struct SuggestPart {
    articles: Vec<Hit>,
    tickets: Vec<Hit>,
}

/// Suggestions while a ticket is typed (htmx): articles for everyone, similar resolved tickets for staff.
async fn suggest(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    let input = SuggestQuery {
        title: q.get("title").cloned().unwrap_or_default(),
        description: q.get("description").cloned().unwrap_or_default(),
    };
    let draft = q.get("draft_key").map(String::as_str).filter(|k| !k.is_empty());
    match s.app.suggest(&user.actor, input).await {
        Ok(r) => render(&SuggestPart {
            articles: r.articles.into_iter().map(|a| article_hit(a, draft)).collect(),
            tickets: r.tickets.into_iter().map(ticket_hit).collect(),
        }),
        Err(_) => Html(String::new()).into_response(),
    }
}
