//! The queues: a person's own tickets, the unassigned ones, each group's, every ticket.

use super::sla::{Badge, badges};
use crate::AppState;
use crate::ui::form::{encode, when, words};
use crate::ui::layout::{Layout, error_page, explain, render};
use crate::ui::session::{StaffUser, WebUser};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use orion_app::{AppError, Ticket, tickets::TicketQuery};
use std::collections::HashMap;
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
    /// The caller's e-mail the list is limited to
    requester: String,
    /// The tag the list is limited to
    tag: String,
    /// The catalog answer the list is limited to (`ram_gb:32`)
    answer: String,
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

pub(super) async fn queue(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    // A caller typed without picking from the list: the one person it finds, if only one.
    let mut caller_error = None;
    let requester = match get("requester") {
        Some(r) if !r.contains('@') => match s.app.list_users(&user.actor, None, Some(&r), None, Some(2)).await {
            Ok(p) if p.items.len() == 1 => Some(p.items[0].email.clone()),
            Ok(p) => {
                caller_error = Some(if p.items.is_empty() {
                    format!("Caller: nobody is found by {r:?}.")
                } else {
                    format!("Caller: several people are found by {r:?}; pick one from the list.")
                });
                Some(r)
            }
            Err(e) => return error_page(Some(&user), &e),
        },
        other => other,
    };
    // One caller's tickets are looked for across every queue unless a queue is chosen.
    let tag = get("tag");
    let answer = get("answer");
    let queue = get("queue").unwrap_or_else(|| {
        if requester.is_some() || tag.is_some() || answer.is_some() { "all".into() } else { "mine".into() }
    });
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
        requester: requester.clone().filter(|_| caller_error.is_none()),
        tag: tag.clone(),
        answer: answer.clone(),
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
    if let Some(r) = &requester {
        heading = format!("{heading}, called in by {r}");
    }
    if let Some(t) = &tag {
        heading = format!("{heading}, tagged {t}");
    }
    if let Some((key, value)) = answer.as_deref().and_then(|a| a.split_once(':')) {
        heading = format!("{heading}, requests answering {key} with {value}");
    }
    let listed = match caller_error {
        Some(e) => Err(e),
        None => Ok(s.app.list_tickets(&user.actor, query).await),
    };
    let (rows_, next, error) = match listed {
        Err(e) => (Vec::new(), None, Some(e)),
        Ok(listed) => match listed {
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
        },
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
        requester: requester.unwrap_or_default(),
        tag: tag.unwrap_or_default(),
        answer: answer.unwrap_or_default(),
        error,
    };
    render(&page)
}

impl QueuePage {
    fn state_choices(&self) -> &'static [(&'static str, &'static str)] {
        STATE_CHOICES
    }
}
