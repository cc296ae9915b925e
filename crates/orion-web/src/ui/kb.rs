//! Knowledge pages (agents write, requesters read), the search page, suggestions while a
//! ticket is written, and the articles panel of a ticket.

use super::{Fields, Layout, WebUser, done, encode, error_page, explain, render, when, words};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::kb::{
    Article, ArticleEdit, ArticleInput, ArticleQuery, ArticleSummary, ArticleTransition, FeedbackInput,
};
use orion_app::kernel::uploads::{MAX_FILES_TOTAL, Upload};
use orion_app::search::{ArticleHit, SearchQuery, SuggestQuery, TicketHit};
use orion_domain::TicketNumber;
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/search", get(search))
        .route("/kb", get(list))
        .route("/help", get(help))
        .route("/kb/new", get(new_page).post(create))
        .route("/kb/suggest", get(suggest))
        .route("/kb/attachments/{id}", get(attachment))
        .route("/kb/{number}", get(view))
        .route("/kb/{number}/edit", get(edit_page).post(save))
        .route("/kb/{number}/history", get(history))
        .route("/kb/{number}/attach", post(attach).layer(DefaultBodyLimit::max(MAX_FILES_TOTAL + 1024 * 1024)))
        .route("/kb/{number}/do/{action}", post(act))
        .route("/agent/tickets/{number}/kb", get(ticket_panel))
}

/// A search result or article row as the pages show it.
pub(super) struct Hit {
    pub(super) number: String,
    pub(super) href: String,
    pub(super) title_html: String,
    pub(super) snippet_html: String,
    pub(super) meta: String,
}

fn ticket_hit(t: TicketHit) -> Hit {
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

pub(super) fn article_hit(a: ArticleHit, draft: Option<&str>) -> Hit {
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

fn kind_label(kind: &str) -> &'static str {
    orion_app::kb::KINDS.iter().find(|(k, _)| *k == kind).map(|(_, l)| *l).unwrap_or("Article")
}

#[derive(Template)]
#[template(path = "kb/search.html")]
struct SearchPage {
    l: Layout,
    q: String,
    state: String,
    tickets: Vec<Hit>,
    articles: Vec<Hit>,
    tickets_more: bool,
    error: Option<String>,
}

/// One box for tickets and articles. A ticket number opens the ticket.
async fn search(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    if !user.me.staff {
        return Redirect::to("/help").into_response();
    }
    let text = q.get("q").map(|v| v.trim().to_string()).unwrap_or_default();
    if let Some(n) = TicketNumber::parse(&text) {
        return Redirect::to(&format!("/agent/tickets/{n}")).into_response();
    }
    let state = q.get("state").cloned().filter(|s| !s.is_empty() && s != "all").unwrap_or_default();
    let mut page = SearchPage {
        l: Layout::new(Some(&user), format!("Search: {text}"), "queue", None),
        q: text.clone(),
        state: state.clone(),
        tickets: Vec::new(),
        articles: Vec::new(),
        tickets_more: false,
        error: None,
    };
    if !text.is_empty() {
        let query = SearchQuery {
            q: text,
            state: (!state.is_empty()).then_some(state),
            limit: Some(30),
            ..SearchQuery::default()
        };
        match s.app.search(&user.actor, query).await {
            Ok(r) => {
                page.tickets = r.tickets.into_iter().map(ticket_hit).collect();
                page.articles = r.articles.into_iter().map(|a| article_hit(a, None)).collect();
                page.tickets_more = r.tickets_more;
            }
            Err(e @ AppError::Validation(_)) => page.error = Some(explain(&e)),
            Err(e) => return error_page(Some(&user), &e),
        }
    }
    render(&page)
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

/// The editable fields of the article form.
#[derive(Default)]
struct Form {
    number: String,
    version: i64,
    title: String,
    body: String,
    kind: String,
    audience: String,
    category: String,
    tags: String,
    review_by: String,
    note: String,
    source_ticket: String,
}

#[derive(Template)]
#[template(path = "kb/edit.html")]
struct EditPage {
    l: Layout,
    f: Form,
    kinds: &'static [(&'static str, &'static str)],
    categories: Vec<String>,
    error: Option<String>,
}

async fn edit_form(s: &AppState, user: &WebUser, f: Form, error: Option<String>) -> Response {
    let categories = match s.app.list_categories(&user.actor).await {
        Ok(c) => c.into_iter().filter(|c| c.active).map(|c| c.path).collect(),
        Err(e) => return error_page(Some(user), &e),
    };
    let title = if f.number.is_empty() { "Write an article".to_string() } else { format!("Edit {}", f.number) };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page =
        EditPage { l: Layout::new(Some(user), title, "kb", None), f, kinds: orion_app::kb::KINDS, categories, error };
    let mut resp = render(&page);
    *resp.status_mut() = status;
    resp
}

fn staff_only(user: &WebUser) -> Option<Response> {
    (!user.me.staff).then(|| Redirect::to("/help").into_response())
}

/// A new article; `?from=INC…` prefills it from a resolved ticket.
async fn new_page(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(r) = staff_only(&user) {
        return r;
    }
    let mut f = Form { kind: "howto".into(), audience: "internal".into(), ..Form::default() };
    if let Some(t) = q.get("from") {
        match s.app.article_draft_from_ticket(&user.actor, t).await {
            Ok(d) => {
                f.title = d.title;
                f.body = d.body;
                f.kind = d.kind.unwrap_or_default();
                f.category = d.category.unwrap_or_default();
                f.tags = d.tags.join(", ");
                f.note = d.note.unwrap_or_default();
                f.source_ticket = d.source_ticket.unwrap_or_default();
            }
            Err(e) => return error_page(Some(&user), &e),
        }
    }
    edit_form(&s, &user, f, None).await
}

fn form_of(f: &Fields) -> Form {
    let t = |k: &str| f.get(k).unwrap_or_default().to_string();
    Form {
        number: String::new(),
        version: f.int("version").unwrap_or(0),
        title: t("title"),
        body: t("body"),
        kind: t("kind"),
        audience: t("audience"),
        category: t("category"),
        tags: t("tags"),
        review_by: t("review_by"),
        note: t("note"),
        source_ticket: t("source_ticket"),
    }
}

fn tags_of(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect()
}

async fn create(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    if let Some(r) = staff_only(&user) {
        return r;
    }
    let form = form_of(&f);
    let input = ArticleInput {
        title: form.title.clone(),
        body: form.body.clone(),
        kind: Some(form.kind.clone()),
        audience: Some(form.audience.clone()),
        category: Some(form.category.clone()),
        tags: tags_of(&form.tags),
        review_by: Some(form.review_by.clone()),
        owner: None,
        source_ticket: Some(form.source_ticket.clone()),
        note: Some(form.note.clone()).filter(|n| !n.trim().is_empty()),
    };
    match s.app.create_article(&user.actor, input).await {
        Ok(a) => done(&format!("/kb/{}", a.number), "article_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            edit_form(&s, &user, form, Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn edit_page(State(s): State<AppState>, user: WebUser, Path(number): Path<String>) -> Response {
    if let Some(r) = staff_only(&user) {
        return r;
    }
    let a = match s.app.get_article(&user.actor, &number, false).await {
        Ok(a) => a,
        Err(e) => return error_page(Some(&user), &e),
    };
    let f = Form {
        number: a.number,
        version: a.version,
        title: a.title,
        body: a.body,
        kind: a.kind,
        audience: a.audience,
        category: a.category.unwrap_or_default(),
        tags: a.tags.join(", "),
        review_by: a.review_by.unwrap_or_default(),
        note: String::new(),
        source_ticket: a.source_ticket.unwrap_or_default(),
    };
    edit_form(&s, &user, f, None).await
}

async fn save(State(s): State<AppState>, user: WebUser, Path(number): Path<String>, f: Fields) -> Response {
    if let Some(r) = staff_only(&user) {
        return r;
    }
    let mut form = form_of(&f);
    form.number = number.clone();
    let edit = ArticleEdit {
        version: form.version,
        title: Some(form.title.clone()),
        body: Some(form.body.clone()),
        kind: Some(form.kind.clone()),
        audience: Some(form.audience.clone()),
        category: Some(form.category.clone()),
        tags: Some(tags_of(&form.tags)),
        review_by: Some(form.review_by.clone()),
        owner: None,
        note: Some(form.note.clone()),
    };
    match s.app.edit_article(&user.actor, &number, edit).await {
        Ok(a) => done(&format!("/kb/{}", a.number), "article_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            edit_form(&s, &user, form, Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
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
    let files: Vec<Upload> = match super::portal::read_multipart(m).await {
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

struct VersionRow {
    version: i64,
    title: String,
    changed_by: String,
    changed_at: String,
    note: String,
}

struct EventRow {
    at: String,
    actor: String,
    action: String,
    note: String,
}

#[derive(Template)]
#[template(path = "kb/history.html")]
struct HistoryPage {
    l: Layout,
    number: String,
    versions: Vec<VersionRow>,
    events: Vec<EventRow>,
    diff: Option<orion_app::kb::ArticleDiff>,
}

async fn history(
    State(s): State<AppState>,
    user: WebUser,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = staff_only(&user) {
        return r;
    }
    let (versions, events) = match s.app.article_history(&user.actor, &number).await {
        Ok(x) => x,
        Err(e) => return error_page(Some(&user), &e),
    };
    let from = q.get("from").and_then(|v| v.parse().ok());
    let to = q.get("to").and_then(|v| v.parse().ok());
    let diff = if versions.len() > 1 || from.is_some() {
        match s.app.article_diff(&user.actor, &number, from, to).await {
            Ok(d) => Some(d),
            Err(e) => return error_page(Some(&user), &e),
        }
    } else {
        None
    };
    render(&HistoryPage {
        l: Layout::new(Some(&user), format!("History of {number}"), "kb", None),
        number: number.to_ascii_uppercase(),
        versions: versions
            .into_iter()
            .map(|v| VersionRow {
                version: v.version,
                title: v.title,
                changed_by: v.changed_by,
                changed_at: when(&v.changed_at),
                note: v.note,
            })
            .collect(),
        events: events
            .into_iter()
            .map(|e| EventRow {
                at: when(&e.at),
                actor: e.actor.unwrap_or_else(|| "Orion".into()),
                action: e.action,
                note: e.note,
            })
            .collect(),
        diff,
    })
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

#[derive(Template)]
#[template(path = "kb/ticket_panel.html")]
struct TicketPanel {
    number: String,
    resolved: bool,
    linked: Vec<Hit>,
    related: Vec<Hit>,
}

/// The articles panel of a ticket page (htmx).
async fn ticket_panel(State(s): State<AppState>, user: WebUser, Path(number): Path<String>) -> Response {
    if !user.me.staff {
        return StatusCode::FORBIDDEN.into_response();
    }
    let t = match s.app.get_ticket(&user.actor, &number).await {
        Ok(t) => t,
        Err(e) => return error_page(Some(&user), &e),
    };
    match s.app.ticket_articles(&user.actor, &number).await {
        Ok(r) => render(&TicketPanel {
            resolved: t.resolved_at.is_some(),
            number: t.number,
            linked: r.linked.into_iter().map(|a| article_hit(a, None)).collect(),
            related: r.related.into_iter().map(|a| article_hit(a, None)).collect(),
        }),
        Err(e) => error_page(Some(&user), &e),
    }
}
