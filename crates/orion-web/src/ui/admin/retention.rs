//! Admin page for the retention of logs: how many days each log is kept, what the last daily
//! run removed, and a button to remove old entries now.

use super::{admin_only, flash, with_status};
use crate::AppState;
use crate::ui::form::{Fields, done, when};
use crate::ui::layout::{Layout, error_page, explain_as, render};
use crate::ui::session::WebUser;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::retention::{LOGS, RetentionSettings, describe};
use orion_domain::FieldErrors;
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/admin/retention", get(page_get).post(save)).route("/admin/retention/purge", post(purge))
}

struct LogRow {
    key: &'static str,
    label: &'static str,
    holds: &'static str,
    /// The days typed or stored ("" for good)
    days: String,
    /// What the last run removed, in words
    last: String,
}

#[derive(Template)]
#[template(path = "admin/retention.html")]
struct RetentionPage {
    l: Layout,
    logs: Vec<LogRow>,
    last_run: Option<String>,
    next_run: String,
    error: Option<String>,
}

fn entries(n: u64) -> String {
    if n == 1 { "1 entry".into() } else { format!("{n} entries") }
}

async fn page(s: &AppState, user: &WebUser, flash_key: Option<&str>, typed: Option<(&Fields, String)>) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let status = match s.app.retention_status(&user.actor).await {
        Ok(x) => x,
        Err(e) => return error_page(Some(user), &e),
    };
    let removed: HashMap<&str, &orion_app::retention::Removed> =
        status.last_run.iter().flat_map(|r| r.logs.iter()).map(|l| (l.log.as_str(), l)).collect();
    let logs = LOGS
        .iter()
        .map(|&log| {
            let (key, label, holds) = describe(log);
            let stored = status.settings.days(log);
            let days = match typed {
                Some((f, _)) => f.get(key).unwrap_or_default().to_string(),
                None if stored == 0 => String::new(),
                None => stored.to_string(),
            };
            let last = match removed.get(key) {
                None => String::new(),
                Some(r) if r.days == 0 => "Kept for good".into(),
                Some(r) if r.more => format!("{} removed, more to go", entries(r.entries)),
                Some(r) => format!("{} removed", entries(r.entries)),
            };
            LogRow { key, label, holds, days, last }
        })
        .collect();
    let last_run = status.last_run.as_ref().map(|r| {
        let by = if r.started_by == "manual" { "started by hand" } else { "daily run" };
        let expired = match r.expired {
            0 => String::new(),
            1 => ", and 1 expired session or link".into(),
            n => format!(", and {n} expired sessions and links"),
        };
        let total: u64 = r.logs.iter().map(|l| l.entries).sum();
        format!("{} ({by}): {} removed{expired}.", when(&r.at), entries(total))
    });
    let error = typed.map(|(_, e)| e);
    let p = RetentionPage {
        l: Layout::new(Some(user), "Retention", "admin", flash_key),
        logs,
        last_run,
        next_run: when(&status.next_run_at),
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn page_get(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    page(&s, &user, flash(&q), None).await
}

fn labels() -> Vec<(&'static str, &'static str)> {
    LOGS.iter().map(|&l| (describe(l).0, describe(l).1)).collect()
}

async fn save(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    if let Some(r) = crate::ui::auth::require_recent_second_factor(&s, &user, "/admin/retention").await {
        return r;
    }
    let mut errs = FieldErrors::new();
    let mut days = HashMap::new();
    for &log in LOGS {
        let key = describe(log).0;
        let text = f.get(key).unwrap_or_default().trim();
        let d = if text.is_empty() {
            0
        } else {
            text.parse().unwrap_or_else(|_| {
                errs.push(key, format!("{text:?} is not a whole number of days"));
                0
            })
        };
        days.insert(key, d);
    }
    let d = |k: &str| days.get(k).copied().unwrap_or_default();
    let settings = RetentionSettings {
        webhook_deliveries: d("webhook_deliveries"),
        heartbeat_runs: d("heartbeat_runs"),
        resolved_alerts: d("resolved_alerts"),
        rejected_mail: d("rejected_mail"),
        sent_mail: d("sent_mail"),
        directory_runs: d("directory_runs"),
        security_log: d("security_log"),
        notifications: d("notifications"),
        failed_jobs: d("failed_jobs"),
    };
    let result = match errs.into_result() {
        Ok(()) => s.app.set_retention(&user.actor, settings).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => done("/admin/retention", "retention_saved"),
        Err(e @ AppError::Validation(_)) => page(&s, &user, None, Some((&f, explain_as(&e, &labels())))).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn purge(State(s): State<AppState>, user: WebUser) -> Response {
    match s.app.purge_logs_now(&user.actor).await {
        Ok(_) => done("/admin/retention", "purged"),
        Err(e) => error_page(Some(&user), &e),
    }
}
