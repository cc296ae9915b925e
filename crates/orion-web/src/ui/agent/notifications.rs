//! The bell in the console's header (the unread count, refreshed every few seconds) and the
//! notifications page: what an agent was told, newest first, with mark-read.

use crate::AppState;
use crate::ui::form::{Fields, done, when};
use crate::ui::layout::{Layout, error_page, render};
use crate::ui::session::{StaffUser, WebUser};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use orion_app::notifications::UNREAD_CAP;
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/notifications", get(page))
        .route("/agent/notifications/bell", get(bell))
        .route("/agent/notifications/read", post(read_all))
        .route("/agent/notifications/settings", get(settings).post(save_settings))
        .route("/agent/notifications/{id}/read", post(read_one))
}

/// How often an open page asks for the unread count, in seconds.
const BELL_EVERY_S: u32 = 10;

/// The count in the bell (empty when nothing is unread); it asks again by itself.
pub(crate) fn bell_html(unread: i64) -> String {
    let shown = match unread {
        0 => String::new(),
        n if n >= UNREAD_CAP => format!("{}+<span class=\"sr\"> unread</span>", UNREAD_CAP - 1),
        n => format!("{n}<span class=\"sr\"> unread</span>"),
    };
    format!(
        "<span id=\"bell-count\" class=\"count{}\" hx-get=\"/agent/notifications/bell\" hx-trigger=\"every {BELL_EVERY_S}s\" hx-swap=\"outerHTML\">{shown}</span>",
        if unread == 0 { " none" } else { "" }
    )
}

async fn bell(State(s): State<AppState>, StaffUser { user, .. }: StaffUser) -> Response {
    Html(bell_html(s.app.unread_notifications(&user.actor).await.unwrap_or(0))).into_response()
}

struct Row {
    id: i64,
    what: &'static str,
    message: String,
    ticket: Option<String>,
    at: String,
    read: bool,
}

#[derive(Template)]
#[template(path = "agent/notifications.html")]
struct NotificationsPage {
    l: Layout,
    rows: Vec<Row>,
    next: Option<String>,
    unread_only: bool,
}

/// A notification's kind in words.
fn kind_label(kind: &str) -> &'static str {
    match kind {
        "sla_warning" => "SLA warning",
        "sla_breached" => "SLA breached",
        "assigned" => "Assigned to you",
        "group" => "In your group",
        "reply" => "Requester replied",
        "mention" => "Mentioned",
        "approval" => "Approval waiting",
        "followed" => "Followed ticket",
        "rule" => "Routing rule",
        "workflow" => "Joiner or leaver moved",
        _ => "Notice",
    }
}

async fn page(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let unread_only = q.get("unread").is_some_and(|v| v == "1");
    let list = s.app.my_notifications(&user.actor, unread_only, q.get("cursor").map(String::as_str), Some(50)).await;
    let list = match list {
        Ok(l) => l,
        Err(e) => return error_page(Some(&user), &e),
    };
    let rows = list
        .items
        .into_iter()
        .map(|n| Row {
            id: n.id,
            what: kind_label(&n.kind),
            message: n.message,
            ticket: n.ticket,
            at: when(&n.created_at),
            read: n.read,
        })
        .collect();
    let p = NotificationsPage {
        l: Layout::new(Some(&user), "Notifications", "notifications", q.get("m").map(String::as_str)),
        rows,
        next: list.next_cursor,
        unread_only,
    };
    render(&p)
}

async fn read_one(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.mark_notification_read(&user.actor, id).await {
        Ok(()) => done("/agent/notifications", "notification_read"),
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn read_all(State(s): State<AppState>, user: WebUser) -> Response {
    match s.app.mark_all_notifications_read(&user.actor).await {
        Ok(_) => done("/agent/notifications", "notifications_read"),
        Err(e) => error_page(Some(&user), &e),
    }
}

/// The ways a notice can reach someone, in words.
const DELIVERIES: &[(&str, &str)] =
    &[("console", "In the console"), ("mail", "By e-mail"), ("both", "Both"), ("none", "Not at all")];

#[derive(Template)]
#[template(path = "agent/notification_settings.html")]
struct SettingsPage {
    l: Layout,
    prefs: Vec<orion_app::notifications::Preference>,
    deliveries: &'static [(&'static str, &'static str)],
    error: Option<String>,
}

async fn settings_page(s: &AppState, user: &WebUser, flash: Option<&str>, error: Option<String>) -> Response {
    match s.app.notification_preferences(&user.actor).await {
        Ok(prefs) => {
            let l = Layout::new(Some(user), "How you are notified", "notifications", flash);
            let mut resp = render(&SettingsPage { l, prefs, deliveries: DELIVERIES, error: error.clone() });
            if error.is_some() {
                *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            }
            resp
        }
        Err(e) => error_page(Some(user), &e),
    }
}

async fn settings(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    settings_page(&s, &user, q.get("m").map(String::as_str), None).await
}

async fn save_settings(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, f: Fields) -> Response {
    let deliveries =
        orion_app::notifications::KINDS.iter().filter_map(|(k, _, _)| f.text(k).map(|d| (k.to_string(), d))).collect();
    let input = orion_app::notifications::PreferencesInput { deliveries };
    match s.app.set_notification_preferences(&user.actor, input).await {
        Ok(_) => done("/agent/notifications/settings", "preferences_saved"),
        Err(e @ orion_app::AppError::Validation(_)) => {
            settings_page(&s, &user, None, Some(crate::ui::layout::explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}
