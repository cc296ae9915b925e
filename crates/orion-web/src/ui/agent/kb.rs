//! Knowledge pages only staff open: the search box for tickets and articles, writing and editing
//! an article (from a resolved ticket too), an article's history, and a ticket's articles panel.
//! A requester who lands on one goes to the help pages.

use crate::AppState;
use crate::ui::form::{Fields, done, when};
use crate::ui::kb::{Hit, article_hit, ticket_hit};
use crate::ui::layout::{Layout, error_page, explain, render};
use crate::ui::session::{Forbidden, StaffUser, ToHelp, WebUser};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use orion_app::AppError;
use orion_app::kb::{ArticleEdit, ArticleInput};
use orion_app::search::SearchQuery;
use orion_domain::TicketNumber;
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/search", get(search))
        .route("/kb/new", get(new_page).post(create))
        .route("/kb/{number}/edit", get(edit_page).post(save))
        .route("/kb/{number}/history", get(history))
        .route("/agent/tickets/{number}/kb", get(ticket_panel))
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
    /// People the words find, with their newest tickets
    callers: Vec<CallerHit>,
    error: Option<String>,
}

/// A person the search words find (by name, address, phone, department), with their newest
/// tickets: (number, title, state).
struct CallerHit {
    name: String,
    email: String,
    about: String,
    tickets: Vec<(String, String, String)>,
    more: bool,
}

/// How many people, and how many of each one's tickets, the search page lists.
const CALLERS: i64 = 5;
const CALLER_TICKETS: i64 = 3;

/// The people plain words find (not a phrase, exclusion, `OR` or prefix query), with their tickets.
async fn callers(s: &AppState, user: &WebUser, text: &str) -> Vec<CallerHit> {
    if text.contains(['"', '*']) || text.split_whitespace().any(|w| w.starts_with('-') || w == "OR") {
        return Vec::new();
    }
    let Ok(people) = s.app.list_users(&user.actor, None, Some(text), None, Some(CALLERS)).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in people.items {
        let q = orion_app::tickets::TicketQuery {
            requester: Some(p.email.clone()),
            limit: Some(CALLER_TICKETS + 1),
            ..Default::default()
        };
        let Ok(page) = s.app.list_tickets(&user.actor, q).await else { continue };
        if page.items.is_empty() {
            continue;
        }
        let more = page.items.len() as i64 > CALLER_TICKETS;
        let tickets = page
            .items
            .into_iter()
            .take(CALLER_TICKETS as usize)
            .map(|t| (t.number, t.title, crate::ui::form::words(&t.state)))
            .collect();
        let about = [p.department.as_deref(), p.phone.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" · ");
        out.push(CallerHit { name: p.name, email: p.email, about, tickets, more });
    }
    out
}

/// One box for tickets and articles. A ticket number opens the ticket.
async fn search(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser<ToHelp>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
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
        callers: Vec::new(),
        error: None,
    };
    if !text.is_empty() {
        page.callers = callers(&s, &user, &text).await;
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

/// A new article; `?from=INC…` prefills it from a resolved ticket.
async fn new_page(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser<ToHelp>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
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

async fn create(State(s): State<AppState>, StaffUser { user, .. }: StaffUser<ToHelp>, f: Fields) -> Response {
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

async fn edit_page(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser<ToHelp>,
    Path(number): Path<String>,
) -> Response {
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

async fn save(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser<ToHelp>,
    Path(number): Path<String>,
    f: Fields,
) -> Response {
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
    StaffUser { user, .. }: StaffUser<ToHelp>,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
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
#[template(path = "kb/ticket_panel.html")]
struct TicketPanel {
    number: String,
    resolved: bool,
    linked: Vec<Hit>,
    related: Vec<Hit>,
}

/// The articles panel of a ticket page (htmx).
async fn ticket_panel(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser<Forbidden>,
    Path(number): Path<String>,
) -> Response {
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
