//! The agent console: queues, the ticket page with its actions, logging a call, search.

use super::{Fields, Layout, WebUser, done, encode, error_page, explain, render, when, words};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use orion_app::itsm::problems::{TicketRelated, WorkaroundInput};
use orion_app::{
    AppError, CommentInput, EscalateInput, NewTicketInput, ReasonInput, ResolveInput, Ticket, TicketPatch,
    TimelineEntry, tickets::TicketQuery,
};
use orion_domain::ResolutionCode;
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent", get(queue))
        .route("/agent/people", get(people))
        .route("/agent/priority", get(priority))
        .route("/agent/new", get(new_page).post(create))
        .route("/agent/tickets/{number}", get(ticket))
        .route("/agent/tickets/{number}/live", get(live))
        .route("/agent/tickets/{number}/{action}", post(act))
        .route("/tickets/{number}", get(any_ticket))
        .route("/attachments/{id}", get(attachment))
}

/// The most timeline entries a ticket page shows.
pub(super) const MAX_ENTRIES: usize = 2000;

/// Only staff use the console; a requester who lands here goes to the portal.
pub(super) fn staff_only(user: &WebUser) -> Option<Response> {
    (!user.me.staff).then(|| Redirect::to("/portal").into_response())
}

/// One SLA clock as a badge: `sla-ok`, `sla-warn` (under an hour left), `sla-breach`, `sla-paused`.
pub(super) struct Badge {
    pub class: &'static str,
    pub text: String,
}

fn duration(mins: i64) -> String {
    let m = mins.abs();
    if m >= 24 * 60 {
        format!("{}d {}h", m / (24 * 60), m % (24 * 60) / 60)
    } else if m >= 60 {
        format!("{}h {}m", m / 60, m % 60)
    } else {
        format!("{m}m")
    }
}

fn badges(clocks: Option<&Vec<orion_app::sla::SlaBadge>>) -> Vec<Badge> {
    let mut out = Vec::new();
    for b in clocks.into_iter().flatten() {
        let what = if b.target == "first_response" { "Response" } else { "Resolve" };
        let (class, text) = match (b.state.as_str(), b.remaining_minutes) {
            ("breached", Some(m)) => ("sla-breach", format!("{what} overdue {}", duration(m))),
            ("breached", None) => ("sla-breach", format!("{what} breached")),
            ("paused", _) => ("sla-paused", format!("{what} paused")),
            ("running", Some(m)) if m < 60 => ("sla-warn", format!("{what} {} left", duration(m))),
            ("running", Some(m)) => ("sla-ok", format!("{what} {} left", duration(m))),
            _ => continue,
        };
        out.push(Badge { class, text });
    }
    out
}

pub(super) struct Row {
    pub number: String,
    pub title: String,
    pub priority: String,
    pub state: String,
    pub kind: String,
    pub requester: String,
    pub group: String,
    pub assignee: String,
    pub updated: String,
    pub sla: Vec<Badge>,
}

async fn rows(s: &AppState, user: &WebUser, items: Vec<Ticket>) -> Vec<Row> {
    let numbers: Vec<String> = items.iter().map(|t| t.number.clone()).collect();
    let clocks =
        if user.me.staff { s.app.sla_badges(&user.actor, &numbers).await.unwrap_or_default() } else { HashMap::new() };
    items
        .into_iter()
        .map(|t| Row {
            sla: badges(clocks.get(&t.number)),
            number: t.number,
            title: t.title,
            priority: t.priority,
            state: words(&t.state),
            kind: words(&t.kind),
            requester: t.requester_name,
            group: t.assignment_group,
            assignee: t.assignee_name.unwrap_or_default(),
            updated: when(&t.updated_at),
        })
        .collect()
}

pub(super) struct QueueLink {
    pub key: String,
    pub label: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "agent/queue.html")]
struct QueuePage {
    l: Layout,
    heading: String,
    queues: Vec<QueueLink>,
    rows: Vec<Row>,
    next: Option<String>,
    queue: String,
    state: String,
    priority: String,
    kind: String,
    order: String,
    error: Option<String>,
}

const STATE_CHOICES: &[(&str, &str)] = &[
    ("open", "Open (not resolved)"),
    ("new", "New"),
    ("assigned", "Assigned"),
    ("in_progress", "In progress"),
    ("pending", "Pending"),
    ("resolved", "Resolved"),
    ("closed", "Closed"),
    ("all", "Any state"),
];

async fn queue(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(r) = staff_only(&user) {
        return r;
    }
    let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let queue = get("queue").unwrap_or_else(|| "mine".into());
    let state = get("state").unwrap_or_else(|| "open".into());
    let groups = match s.app.list_groups(&user.actor).await {
        Ok(g) => g,
        Err(e) => return error_page(Some(&user), &e),
    };
    let mut query = TicketQuery {
        state: (state != "all").then(|| state.clone()),
        priority: get("priority"),
        kind: get("kind"),
        order: get("order"),
        cursor: get("cursor"),
        ..TicketQuery::default()
    };
    let mut heading = "Assigned to me".to_string();
    match queue.as_str() {
        "mine" => query.assignee = Some("me".into()),
        "unassigned" => {
            query.assignee = Some("none".into());
            heading = "Unassigned, every group".into();
        }
        "all" => heading = "Every ticket".into(),
        g => {
            let id = g.strip_prefix('g').and_then(|n| n.parse::<i64>().ok());
            match groups.iter().find(|x| Some(x.id) == id) {
                Some(group) => {
                    query.assignment_group = Some(group.name.clone());
                    heading = format!("{} (tier {})", group.name, group.tier);
                }
                None => return error_page(Some(&user), &AppError::NotFound("queue")),
            }
        }
    }
    let mut queues = vec![
        QueueLink { key: "mine".into(), label: "Assigned to me".into(), current: false },
        QueueLink { key: "unassigned".into(), label: "Unassigned".into(), current: false },
    ];
    let mut sorted: Vec<_> = groups.iter().filter(|g| g.active).collect();
    sorted.sort_by_key(|g| (!g.members.iter().any(|m| m.eq_ignore_ascii_case(&user.me.email)), g.tier, g.name.clone()));
    for g in sorted {
        let mine = g.members.iter().any(|m| m.eq_ignore_ascii_case(&user.me.email));
        let label = format!("{}{} · T{}", g.name, if mine { " ★" } else { "" }, g.tier);
        queues.push(QueueLink { key: format!("g{}", g.id), label, current: false });
    }
    queues.push(QueueLink { key: "all".into(), label: "Every ticket".into(), current: false });
    for l in &mut queues {
        l.current = l.key == queue;
    }
    let (rows_, next, error) = match s.app.list_tickets(&user.actor, query).await {
        Ok(page) => {
            let next = page.next_cursor.map(|c| {
                let mut params: Vec<(String, String)> = q
                    .iter()
                    .filter(|(k, _)| *k != "cursor" && *k != "m")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                params.sort();
                params.push(("cursor".into(), c));
                format!(
                    "/agent?{}",
                    params.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&")
                )
            });
            (rows(&s, &user, page.items).await, next, None)
        }
        Err(e @ AppError::Validation(_)) => (Vec::new(), None, Some(explain(&e))),
        Err(e) => return error_page(Some(&user), &e),
    };
    let page = QueuePage {
        l: Layout::new(Some(&user), heading.clone(), "queue", q.get("m").map(String::as_str)),
        heading,
        queues,
        rows: rows_,
        next,
        queue,
        state,
        priority: get("priority").unwrap_or_default(),
        kind: get("kind").unwrap_or_default(),
        order: get("order").unwrap_or_else(|| "newest".into()),
        error,
    };
    render(&page)
}

impl QueuePage {
    fn state_choices(&self) -> &'static [(&'static str, &'static str)] {
        STATE_CHOICES
    }
}

/// Type-ahead for the caller field: `<option>`s for a `<datalist>`.
async fn people(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    if !user.me.staff {
        return StatusCode::FORBIDDEN.into_response();
    }
    let text = q.get("requester").or(q.get("q")).map(|v| v.trim().to_string()).unwrap_or_default();
    if text.chars().count() < 2 {
        return Html(String::new()).into_response();
    }
    match s.app.list_users(&user.actor, None, Some(&text), None, Some(10)).await {
        Ok(p) => {
            let mut html = String::new();
            for u in p.items.iter().filter(|u| u.active) {
                let dept = u.department.as_deref().map(|d| format!(" · {d}")).unwrap_or_default();
                html.push_str(&format!("<option value=\"{}\">{}{}</option>", esc(&u.email), esc(&u.name), esc(&dept)));
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
async fn priority(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
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

async fn new_page(State(s): State<AppState>, user: WebUser) -> Response {
    if let Some(r) = staff_only(&user) {
        return r;
    }
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

async fn create(State(s): State<AppState>, user: WebUser, fields: Fields) -> Response {
    if let Some(r) = staff_only(&user) {
        return r;
    }
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
            new_page_with(&s, &user, f, Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// A timeline entry as the page shows it.
pub(super) struct EntryView {
    pub id: i64,
    pub at: String,
    pub who: String,
    pub label: String,
    pub internal: bool,
    pub body: String,
    pub details: Vec<(String, String)>,
    pub files: Vec<(i64, String)>,
}

pub(super) fn entry_view(e: TimelineEntry, with_details: bool) -> EntryView {
    let label = match e.kind.as_str() {
        "created" => "logged the ticket",
        "comment" => "replied",
        "email" => "wrote by e-mail",
        "work_note" => "added a work note",
        "phone_call" => "logged a phone call",
        "state_changed" => "changed the state",
        "fields_changed" => "changed fields",
        "escalated" => "escalated",
        "resolved" => "resolved the ticket",
        "reopened" => "reopened the ticket",
        "closed" => "closed the ticket",
        "assigned" => "assigned",
        other => other,
    }
    .to_string();
    let mut details = Vec::new();
    let mut files = Vec::new();
    if let Some(obj) = e.data.as_object() {
        for f in obj.get("attachments").and_then(|a| a.as_array()).into_iter().flatten() {
            if let (Some(id), Some(name)) = (f["id"].as_i64(), f["filename"].as_str()) {
                files.push((id, name.to_string()));
            }
        }
        if with_details {
            for (k, v) in obj {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    _ => continue,
                };
                if matches!(k.as_str(), "html" | "html_quoted" | "quoted" | "message_id") || text.is_empty() {
                    continue;
                }
                details.push((words(k), words_if_code(&text)));
            }
        }
    }
    EntryView {
        id: e.id,
        at: when(&e.at),
        who: e.actor.unwrap_or_else(|| "Orion".into()),
        label,
        internal: e.visibility == "internal",
        body: e.body,
        details,
        files,
    }
}

/// `in_progress` → `in progress`, but free text stays as written.
fn words_if_code(s: &str) -> String {
    if s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') { words(s) } else { s.to_string() }
}

/// What was typed into the ticket page's forms, kept when one is refused.
#[derive(Default)]
pub(super) struct Drafts {
    pub reply: String,
    pub note: String,
    pub call: String,
    pub reason: String,
    pub troubleshooting: String,
    pub notes: String,
    pub reopen: String,
    pub transfer_note: String,
}

pub(super) struct TicketView {
    pub number: String,
    pub title: String,
    pub description: String,
    pub kind: String,
    pub state: String,
    pub state_code: String,
    pub pending_reason: String,
    pub priority: String,
    pub impact: i64,
    pub urgency: i64,
    pub channel: String,
    pub category: String,
    pub requester: String,
    pub requester_email: String,
    pub group: String,
    pub tier: i64,
    pub assignee: String,
    pub assignee_email: String,
    pub created: String,
    pub updated: String,
    pub resolution: String,
    pub escalations: i64,
    pub version: i64,
    pub open: bool,
    pub resolved: bool,
    pub closed: bool,
}

pub(super) fn ticket_view(t: Ticket) -> TicketView {
    TicketView {
        open: !matches!(t.state.as_str(), "resolved" | "closed"),
        resolved: t.state == "resolved",
        closed: t.state == "closed",
        state: words(&t.state),
        state_code: t.state,
        pending_reason: t.pending_reason.map(|r| words(&r)).unwrap_or_default(),
        number: t.number,
        title: t.title,
        description: t.description,
        kind: words(&t.kind),
        priority: t.priority,
        impact: t.impact,
        urgency: t.urgency,
        channel: words(&t.channel),
        category: t.category.unwrap_or_default(),
        requester: t.requester_name,
        requester_email: t.requester,
        group: t.assignment_group,
        tier: t.assignment_group_tier,
        assignee: t.assignee_name.unwrap_or_default(),
        assignee_email: t.assignee.unwrap_or_default(),
        created: when(&t.created_at),
        updated: when(&t.updated_at),
        resolution: match (t.resolution_code, t.resolution_notes) {
            (Some(c), Some(n)) => format!("{} — {n}", words(&c)),
            (Some(c), None) => words(&c),
            _ => String::new(),
        },
        escalations: t.escalation_count,
        version: t.version,
    }
}

#[derive(Template)]
#[template(path = "agent/ticket.html")]
struct TicketPage {
    l: Layout,
    t: TicketView,
    entries: Vec<EntryView>,
    sla: Vec<Badge>,
    /// The monitoring alerts that opened or joined this incident
    alerts: Vec<super::monitoring::AlertRow>,
    /// How many there are (the page shows the first 50)
    alerts_total: usize,
    /// The assets the ticket names and what an outage of them affects
    assets: Option<orion_app::cmdb::TicketAssets>,
    /// The problem the incident belongs to (with its workaround) and the changes that caused it
    related: Option<TicketRelated>,
    members: Vec<String>,
    lower_groups: Vec<String>,
    higher_groups: Vec<String>,
    categories: Vec<String>,
    codes: Vec<&'static str>,
    /// The newest entry shown, for the live poll
    last_entry: i64,
    /// Which form failed (`reply`, `note`, …) and why
    form: String,
    error: Option<String>,
    d: Drafts,
}

#[derive(Template)]
#[template(path = "agent/live.html")]
struct LivePart {
    t: TicketView,
    /// The newest entry shown, for the next poll
    last_entry: i64,
    entries: Vec<EntryView>,
    sla: Vec<Badge>,
}

/// Reads what the ticket page shows: the ticket, its whole timeline, its SLA clocks.
async fn load(s: &AppState, user: &WebUser, number: &str) -> Result<(Ticket, Vec<EntryView>, Vec<Badge>), AppError> {
    let t = s.app.get_ticket(&user.actor, number).await?;
    let entries = s.app.whole_timeline(&user.actor, &t.number, MAX_ENTRIES).await?;
    let entries = entries.into_iter().map(|e| entry_view(e, true)).collect();
    let clocks = s.app.sla_badges(&user.actor, std::slice::from_ref(&t.number)).await?;
    let sla = badges(clocks.get(&t.number));
    Ok((t, entries, sla))
}

async fn ticket_page(
    s: &AppState,
    user: &WebUser,
    number: &str,
    flash: Option<&str>,
    form: &str,
    error: Option<String>,
    d: Drafts,
) -> Response {
    let (t, entries, sla) = match load(s, user, number).await {
        Ok(x) => x,
        Err(e) => return error_page(Some(user), &e),
    };
    let groups = s.app.list_groups(&user.actor).await.unwrap_or_default();
    let members = groups.iter().find(|g| g.name == t.assignment_group).map(|g| g.members.clone()).unwrap_or_default();
    let active = groups.iter().filter(|g| g.active && g.name != t.assignment_group);
    let lower_groups = active.clone().filter(|g| g.tier <= t.assignment_group_tier).map(|g| g.name.clone()).collect();
    let higher_groups = active.filter(|g| g.tier > t.assignment_group_tier).map(|g| g.name.clone()).collect();
    let categories = s
        .app
        .list_categories(&user.actor)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.active)
        .map(|c| c.path)
        .collect();
    let alerts = s.app.ticket_alerts(&user.actor, number).await.unwrap_or_default();
    let assets = s.app.ticket_assets(&user.actor, number).await.ok().filter(|a| !a.assets.is_empty());
    let related =
        s.app.ticket_related(&user.actor, number).await.ok().filter(|r| r.problem.is_some() || !r.caused_by.is_empty());
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = TicketPage {
        alerts_total: alerts.len(),
        alerts: alerts.into_iter().take(50).map(Into::into).collect(),
        assets,
        related,
        l: Layout::new(Some(user), format!("{} · {}", t.number, t.title), "queue", flash),
        t: ticket_view(t),
        last_entry: last_id(&entries),
        entries,
        sla,
        members,
        lower_groups,
        higher_groups,
        categories,
        codes: ResolutionCode::ALL.iter().map(|c| c.as_str()).collect(),
        form: form.to_string(),
        error,
        d,
    };
    let mut resp = render(&page);
    *resp.status_mut() = status;
    resp
}

impl TicketPage {
    fn code_label(&self, c: &str) -> String {
        words(c)
    }
}

async fn ticket(
    State(s): State<AppState>,
    user: WebUser,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = staff_only(&user) {
        return r;
    }
    ticket_page(&s, &user, &number, q.get("m").map(String::as_str), "", None, Drafts::default()).await
}

/// Polled by the open ticket page every few seconds: nothing (204) while the ticket's version and
/// newest timeline entry are what the page shows (two indexed look-ups), else the refreshed header
/// and timeline.
async fn live(
    State(s): State<AppState>,
    user: WebUser,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !user.me.staff {
        return StatusCode::FORBIDDEN.into_response();
    }
    let shown = (q.get("v").and_then(|v| v.parse::<i64>().ok()), q.get("e").and_then(|v| v.parse::<i64>().ok()));
    match s.app.ticket_freshness(&user.actor, &number).await {
        Ok((version, last)) if shown == (Some(version), Some(last)) => return StatusCode::NO_CONTENT.into_response(),
        Ok(_) => {}
        Err(e) => return error_page(Some(&user), &e),
    }
    match load(&s, &user, &number).await {
        Ok((t, entries, sla)) => render(&LivePart { t: ticket_view(t), last_entry: last_id(&entries), entries, sla }),
        Err(e) => error_page(Some(&user), &e),
    }
}

fn last_id(entries: &[EntryView]) -> i64 {
    entries.last().map_or(0, |e| e.id)
}

/// Every form on the ticket page posts here; a refused one shows the page again with the error
/// next to that form and everything typed still in place.
async fn act(
    State(s): State<AppState>,
    user: WebUser,
    Path((number, action)): Path<(String, String)>,
    f: Fields,
) -> Response {
    if let Some(r) = staff_only(&user) {
        return r;
    }
    let a = &s.app;
    let actor = &user.actor;
    let text = |k: &str| f.get(k).unwrap_or_default().to_string();
    let mut d = Drafts::default();
    let result: Result<&str, AppError> = match action.as_str() {
        "reply" => {
            d.reply = text("body");
            let cc = f
                .text("cc")
                .map(|c| c.split([',', ';', ' ']).filter(|x| !x.is_empty()).map(str::to_string).collect())
                .unwrap_or_default();
            let input =
                CommentInput { body: Some(d.reply.clone()), visibility: Some("public".into()), phone_call: false, cc };
            a.add_comment(actor, &number, input).await.map(|_| "replied")
        }
        "note" => {
            d.note = text("body");
            let input = CommentInput {
                body: Some(d.note.clone()),
                visibility: Some("internal".into()),
                ..CommentInput::default()
            };
            a.add_comment(actor, &number, input).await.map(|_| "noted")
        }
        "call" => {
            d.call = text("body");
            let input = CommentInput {
                body: Some(d.call.clone()),
                visibility: Some("internal".into()),
                phone_call: true,
                cc: Vec::new(),
            };
            a.add_comment(actor, &number, input).await.map(|_| "call")
        }
        "assign" => {
            let who = if f.checked("me") { user.me.email.clone() } else { text("assignee") };
            let patch = TicketPatch { assignee: Some(who), ..TicketPatch::default() };
            a.update_ticket(actor, &number, patch).await.map(|_| "assigned")
        }
        "transfer" => {
            d.transfer_note = text("note");
            let patch = TicketPatch {
                assignment_group: f.text("group"),
                note: Some(d.transfer_note.clone()),
                ..TicketPatch::default()
            };
            a.update_ticket(actor, &number, patch).await.map(|_| "assigned")
        }
        "escalate" => {
            d.reason = text("reason");
            d.troubleshooting = text("troubleshooting");
            let input = EscalateInput {
                to_group: f.text("to_group"),
                reason: Some(d.reason.clone()),
                troubleshooting: Some(d.troubleshooting.clone()),
            };
            a.escalate(actor, &number, input).await.map(|_| "escalated")
        }
        "update" => {
            let state = f.text("state");
            let patch = TicketPatch {
                impact: f.int("impact"),
                urgency: f.int("urgency"),
                category: f.get("category").map(str::to_string),
                pending_reason: if state.as_deref() == Some("pending") { f.text("pending_reason") } else { None },
                state,
                ..TicketPatch::default()
            };
            a.update_ticket(actor, &number, patch).await.map(|_| "updated")
        }
        "resolve" => {
            d.notes = text("notes");
            let input = ResolveInput { resolution_code: f.text("code"), resolution_notes: Some(d.notes.clone()) };
            a.resolve(actor, &number, input).await.map(|_| "resolved")
        }
        "workaround" => {
            let input = WorkaroundInput { note: f.text("note") };
            a.resolve_with_workaround(actor, &number, input).await.map(|_| "workaround_applied")
        }
        "link_article" => a.link_article(actor, &number, &text("article")).await.map(|_| "article_linked"),
        "unlink_article" => a.unlink_article(actor, &number, &text("article")).await.map(|_| "article_unlinked"),
        "reopen" => {
            d.reopen = text("reason");
            a.reopen(actor, &number, ReasonInput { reason: Some(d.reopen.clone()) }).await.map(|_| "reopened")
        }
        _ => Err(AppError::NotFound("action")),
    };
    match result {
        Ok(msg) => done(&format!("/agent/tickets/{number}"), msg),
        Err(
            e @ (AppError::Validation(_)
            | AppError::Conflict(_)
            | AppError::InvalidTransition(_)
            | AppError::Forbidden(_)),
        ) => ticket_page(&s, &user, &number, None, &action, Some(explain(&e)), d).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

/// The address in notification mail: staff get the console, requesters the portal.
async fn any_ticket(user: WebUser, Path(number): Path<String>) -> Response {
    let base = if user.me.staff { "/agent/tickets" } else { "/portal/tickets" };
    Redirect::to(&format!("{base}/{}", encode(&number))).into_response()
}

/// A file attached to a ticket the person may see. Served as a download (images inline), never
/// as a page of this site.
async fn attachment(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.attachment(&user.actor, id).await {
        Ok(f) => crate::file_response(f),
        Err(e) => error_page(Some(&user), &e),
    }
}
