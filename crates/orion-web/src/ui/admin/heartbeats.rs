//! Admin page for heartbeats — backups and scheduled jobs that report each run to Orion, which
//! opens an incident when a run fails or does not come: add one (its ping addresses shown once),
//! change its schedule, switch it off and on, replace its token. Agents follow the runs on the
//! backup board.

use super::{admin_only, flash, with_status};
use crate::AppState;
use crate::ui::form::{Fields, done, when};
use crate::ui::layout::{Layout, error_page, explain_as, render};
use crate::ui::session::WebUser;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::monitoring::heartbeat::{Heartbeat, HeartbeatInput};
use orion_domain::FieldErrors;
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/heartbeats", get(list).post(create))
        .route("/admin/heartbeats/{id}", get(one).post(save))
        .route("/admin/heartbeats/{id}/token", post(rotate))
}

const LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("kind", "What it watches"),
    ("assignment_group", "Incidents go to the group"),
    ("interval_seconds", "Expect a run every (minutes)"),
    ("cron", "Or at these times (cron)"),
    ("timezone", "Time zone of those times"),
    ("grace_seconds", "Late after (minutes)"),
];

/// The form's values, as typed.
struct Form {
    name: String,
    kind: String,
    description: String,
    group: String,
    every_minutes: String,
    cron: String,
    timezone: String,
    grace_minutes: String,
    /// `every` (an interval) or `at` (cron times)
    schedule: String,
    enabled: bool,
}

impl Form {
    fn blank() -> Self {
        Form {
            name: String::new(),
            kind: "backup".into(),
            description: String::new(),
            group: String::new(),
            every_minutes: String::new(),
            cron: "0 2 * * *".into(),
            timezone: "UTC".into(),
            grace_minutes: String::new(),
            schedule: "at".into(),
            enabled: true,
        }
    }

    fn of(h: &Heartbeat) -> Self {
        Form {
            name: h.name.clone(),
            kind: h.kind.clone(),
            description: h.description.clone(),
            group: h.assignment_group.clone(),
            every_minutes: h.interval_seconds.map(|s| (s / 60).to_string()).unwrap_or_default(),
            cron: h.cron.clone().unwrap_or_default(),
            timezone: h.timezone.clone(),
            grace_minutes: (h.grace_seconds / 60).to_string(),
            schedule: if h.cron.is_some() { "at" } else { "every" }.into(),
            enabled: h.enabled,
        }
    }

    fn read(f: &Fields, errs: &mut FieldErrors) -> (Self, HeartbeatInput) {
        let t = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
        let form = Form {
            name: t("name"),
            kind: t("kind"),
            description: t("description"),
            group: t("group"),
            every_minutes: t("every_minutes"),
            cron: t("cron"),
            timezone: t("timezone"),
            grace_minutes: t("grace_minutes"),
            schedule: if t("schedule") == "every" { "every" } else { "at" }.into(),
            enabled: f.checked("enabled"),
        };
        let minutes = |v: &str, field: &str, errs: &mut FieldErrors| -> Option<i64> {
            if v.is_empty() {
                return None;
            }
            match v.parse::<i64>() {
                Ok(m) => Some(m.saturating_mul(60)),
                Err(_) => {
                    errs.push(field, format!("{v:?} is not a whole number of minutes"));
                    None
                }
            }
        };
        let some = |v: &str| Some(v.to_string()).filter(|v| !v.is_empty());
        let input = HeartbeatInput {
            name: Some(form.name.clone()),
            kind: some(&form.kind),
            description: Some(form.description.clone()),
            assignment_group: some(&form.group),
            interval_seconds: if form.schedule == "every" {
                minutes(&form.every_minutes, "interval_seconds", errs).or_else(|| {
                    errs.push("interval_seconds", "is required for a run every so many minutes");
                    None
                })
            } else {
                None
            },
            cron: if form.schedule == "at" {
                some(&form.cron).or_else(|| {
                    errs.push("cron", "is required for runs at set times");
                    None
                })
            } else {
                None
            },
            timezone: some(&form.timezone),
            grace_seconds: minutes(&form.grace_minutes, "grace_seconds", errs),
            enabled: Some(form.enabled),
        };
        (form, input)
    }
}

struct Row {
    id: i64,
    name: String,
    watches: &'static str,
    schedule: String,
    status: &'static str,
    alarm: bool,
    last: String,
    enabled: bool,
}

fn status_words(s: &str) -> &'static str {
    match s {
        "waiting" => "Waiting for its first run",
        "running" => "Running now",
        "ok" => "Last run succeeded",
        "failed" => "Last run failed",
        "missed" => "Missed its run",
        _ => "Unknown",
    }
}

fn schedule_words(h: &Heartbeat) -> String {
    match (&h.cron, h.interval_seconds) {
        (Some(c), _) => format!("at {c} ({})", h.timezone),
        (None, Some(s)) if s % 3600 == 0 => format!("every {} h", s / 3600),
        (None, Some(s)) => format!("every {} min", s / 60),
        _ => String::new(),
    }
}

/// The ping addresses of a token just made.
struct Urls {
    name: String,
    ok: String,
    fail: String,
    start: String,
}

#[derive(Template)]
#[template(path = "admin/heartbeats.html")]
struct ListPage {
    l: Layout,
    rows: Vec<Row>,
    f: Form,
    groups: Vec<String>,
    urls: Option<Urls>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/heartbeat.html")]
struct OnePage {
    l: Layout,
    id: i64,
    status: &'static str,
    next_due: String,
    f: Form,
    groups: Vec<String>,
    urls: Option<Urls>,
    error: Option<String>,
}

use crate::ui::pickers::group_names as groups;

fn urls(base: &str, w: orion_app::monitoring::heartbeat::HeartbeatWithToken) -> Urls {
    Urls {
        name: w.heartbeat.name,
        ok: format!("{base}{}", w.ok_url),
        fail: format!("{base}{}", w.fail_url),
        start: format!("{base}{}", w.start_url),
    }
}

async fn list_page(
    s: &AppState,
    user: &WebUser,
    flash_key: Option<&str>,
    form: Option<Form>,
    urls: Option<Urls>,
    error: Option<String>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let list = match s.app.list_heartbeats(&user.actor).await {
        Ok(l) => l,
        Err(e) => return error_page(Some(user), &e),
    };
    let rows = list
        .iter()
        .map(|h| Row {
            id: h.id,
            name: h.name.clone(),
            watches: if h.kind == "job" { "Scheduled job" } else { "Backup" },
            schedule: schedule_words(h),
            status: status_words(&h.status),
            alarm: matches!(h.status.as_str(), "failed" | "missed"),
            last: h.last_ping_at.as_deref().map(when).unwrap_or_else(|| "never".into()),
            enabled: h.enabled,
        })
        .collect();
    let p = ListPage {
        l: Layout::new(Some(user), "Heartbeats", "admin", flash_key),
        rows,
        f: form.unwrap_or_else(Form::blank),
        groups: groups(s, user).await,
        urls,
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn list(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    list_page(&s, &user, flash(&q), None, None, None).await
}

async fn create(State(s): State<AppState>, user: WebUser, headers: HeaderMap, f: Fields) -> Response {
    let mut errs = FieldErrors::new();
    let (form, input) = Form::read(&f, &mut errs);
    let result = match errs.into_result() {
        Ok(()) => s.app.create_heartbeat(&user.actor, input).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(w) => {
            let base = crate::ui::auth::public_base(&s, &headers).await;
            list_page(&s, &user, Some("heartbeat_added"), None, Some(urls(&base, w)), None).await
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            list_page(&s, &user, None, Some(form), None, Some(explain_as(&e, LABELS))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn one_page(
    s: &AppState,
    user: &WebUser,
    id: i64,
    flash_key: Option<&str>,
    form: Option<Form>,
    (urls, error): (Option<Urls>, Option<String>),
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let h = match s.app.list_heartbeats(&user.actor).await {
        Ok(l) => match l.into_iter().find(|h| h.id == id) {
            Some(h) => h,
            None => return error_page(Some(user), &AppError::NotFound("heartbeat")),
        },
        Err(e) => return error_page(Some(user), &e),
    };
    let p = OnePage {
        l: Layout::new(Some(user), format!("Heartbeat {}", h.name), "admin", flash_key),
        id,
        status: status_words(&h.status),
        next_due: h.next_due_at.as_deref().map(when).unwrap_or_else(|| "after its first run".into()),
        f: form.unwrap_or_else(|| Form::of(&h)),
        groups: groups(s, user).await,
        urls,
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn one(
    State(s): State<AppState>,
    user: WebUser,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    one_page(&s, &user, id, flash(&q), None, (None, None)).await
}

async fn save(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    let mut errs = FieldErrors::new();
    let (form, input) = Form::read(&f, &mut errs);
    let result = match errs.into_result() {
        Ok(()) => s.app.update_heartbeat(&user.actor, id, input).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => done(&format!("/admin/heartbeats/{id}"), "heartbeat_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            one_page(&s, &user, id, None, Some(form), (None, Some(explain_as(&e, LABELS)))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn rotate(State(s): State<AppState>, user: WebUser, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    match s.app.rotate_heartbeat_token(&user.actor, id).await {
        Ok(w) => {
            let base = crate::ui::auth::public_base(&s, &headers).await;
            one_page(&s, &user, id, Some("heartbeat_token"), None, (Some(urls(&base, w)), None)).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}
