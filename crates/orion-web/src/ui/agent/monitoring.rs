//! Monitoring pages for support staff: the alert list with the maintenance windows (and a form to
//! hold alerts back for planned work), and the backup board of heartbeat monitors. The services
//! refuse requesters; these pages only show it.

use crate::AppState;
use crate::ui::form::{Fields, done, when};
use crate::ui::layout::{Layout, error_page, explain, render};
use crate::ui::session::{StaffUser, WebUser};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::monitoring::{Alert, MaintenanceWindow, WindowInput};
use orion_domain::Timestamp;
use std::collections::{BTreeMap, HashMap};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/monitoring", get(monitoring))
        .route("/agent/monitoring/windows", post(create_window))
        .route("/agent/monitoring/windows/{id}/end", post(end_window))
        .route("/agent/backups", get(backups))
}

/// One alert as a row of the list.
pub(super) struct AlertRow {
    pub status: String,
    pub severity: String,
    pub summary: String,
    pub ci: String,
    pub integration: String,
    pub incident: String,
    pub incident_state: String,
    pub window: String,
    pub received: i64,
    pub first_seen: String,
    pub last_seen: String,
    pub source_url: String,
}

impl From<Alert> for AlertRow {
    fn from(a: Alert) -> Self {
        AlertRow {
            status: a.status,
            severity: a.severity,
            summary: a.summary,
            ci: if a.ci.is_empty() { a.service } else { a.ci },
            integration: a.integration,
            incident: a.incident.unwrap_or_default(),
            incident_state: a.incident_state.map(|s| s.replace('_', " ")).unwrap_or_default(),
            window: a.maintenance_window.unwrap_or_default(),
            received: a.received,
            first_seen: when(&a.first_seen_at),
            last_seen: when(&a.last_seen_at),
            source_url: a
                .source_url
                .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
                .unwrap_or_default(),
        }
    }
}

struct WindowRow {
    id: i64,
    name: String,
    reason: String,
    matchers: String,
    starts: String,
    ends: String,
    active: bool,
}

impl From<MaintenanceWindow> for WindowRow {
    fn from(w: MaintenanceWindow) -> Self {
        WindowRow {
            id: w.id,
            name: w.name,
            reason: w.reason,
            matchers: matchers_text(&w.matchers),
            starts: when(&w.starts_at),
            ends: when(&w.ends_at),
            active: w.active,
        }
    }
}

fn matchers_text(m: &BTreeMap<String, String>) -> String {
    m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

#[derive(Template)]
#[template(path = "agent/monitoring.html")]
struct MonitoringPage {
    l: Layout,
    alerts: Vec<AlertRow>,
    status: String,
    next: Option<String>,
    windows: Vec<WindowRow>,
    error: Option<String>,
    draft: HashMap<String, String>,
}

impl MonitoringPage {
    fn draft(&self, k: &str) -> String {
        self.draft.get(k).cloned().unwrap_or_default()
    }
}

async fn monitoring_page(
    s: &AppState,
    user: &WebUser,
    q: &HashMap<String, String>,
    error: Option<String>,
    draft: HashMap<String, String>,
) -> Response {
    let status = q.get("status").filter(|v| matches!(v.as_str(), "firing" | "resolved")).cloned().unwrap_or_default();
    let cursor = q.get("cursor").map(String::as_str);
    let filter = (!status.is_empty()).then_some(status.as_str());
    let alerts = match s.app.list_alerts(&user.actor, filter, None, cursor, Some(50)).await {
        Ok(p) => p,
        Err(e) => return error_page(Some(user), &e),
    };
    let windows = match s.app.list_windows(&user.actor).await {
        Ok(w) => w,
        Err(e) => return error_page(Some(user), &e),
    };
    let next = alerts.next_cursor.map(|c| format!("/agent/monitoring?status={status}&cursor={c}"));
    let page = MonitoringPage {
        l: Layout::new(Some(user), "Monitoring", "monitoring", q.get("m").map(String::as_str)),
        alerts: alerts.items.into_iter().map(Into::into).collect(),
        status,
        next,
        windows: windows.into_iter().map(Into::into).collect(),
        error: error.clone(),
        draft,
    };
    let mut resp = render(&page);
    if error.is_some() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

async fn monitoring(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    monitoring_page(&s, &user, &q, None, HashMap::new()).await
}

/// `job=backup, ci=db-*` → matchers; a line without `=` is an error naming it.
fn parse_matchers(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut m = BTreeMap::new();
    for part in text.split([',', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = part.split_once('=') else {
            return Err(format!("matchers: {part:?} is not label=value"));
        };
        m.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(m)
}

async fn create_window(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, f: Fields) -> Response {
    let draft: HashMap<String, String> = f.0.iter().cloned().collect();
    let fail = |e: String| (e, draft.clone());
    let minutes = f.int("minutes").unwrap_or(0);
    let built = parse_matchers(f.get("matchers").unwrap_or("")).map_err(fail).and_then(|matchers| {
        if !(1..=60 * 24 * 31).contains(&minutes) {
            return Err(fail("For (minutes): from 1 minute to 31 days".into()));
        }
        // Empty: from now. A date-and-time field sends `2026-12-20T02:00`, read as UTC.
        let start = match f.text("starts_at") {
            None => s.app.clock.now().as_millis(),
            Some(v) => {
                let v = if v.len() == 16 && v.contains('T') { format!("{v}:00Z") } else { v };
                Timestamp::parse_day_or_instant("starts_at", &v)
                    .map_err(|_| fail("Starts: a date and time such as 2026-12-20 02:00".into()))?
                    .as_millis()
            }
        };
        Ok(WindowInput {
            name: f.text("name"),
            reason: f.text("reason"),
            matchers: Some(matchers),
            starts_at: Some(Timestamp(start).to_rfc3339()),
            ends_at: Some(Timestamp(start + minutes * 60_000).to_rfc3339()),
        })
    });
    let input = match built {
        Ok(i) => i,
        Err((e, d)) => return monitoring_page(&s, &user, &HashMap::new(), Some(e), d).await,
    };
    match s.app.create_window(&user.actor, input).await {
        Ok(_) => done("/agent/monitoring", "window_created"),
        Err(e @ AppError::Validation(_)) => monitoring_page(&s, &user, &HashMap::new(), Some(explain(&e)), draft).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn end_window(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.end_window(&user.actor, id).await {
        Ok(_) => done("/agent/monitoring", "window_ended"),
        Err(e) => error_page(Some(&user), &e),
    }
}

struct JobRow {
    name: String,
    kind: String,
    group: String,
    schedule: String,
    status: String,
    last_ping: String,
    last_ok: String,
    duration: String,
    next_due: String,
    incident: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "agent/backups.html")]
struct BackupsPage {
    l: Layout,
    jobs: Vec<JobRow>,
}

/// `45 s`, `3 min`, `24 h`: seconds only below a minute, else as the SLA pages write durations.
fn seconds_text(ms: i64) -> String {
    if ms < 60_000 { format!("{} s", ms / 1000) } else { orion_domain::sla::human_duration(ms) }
}

async fn backups(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let list = match s.app.list_heartbeats(&user.actor).await {
        Ok(l) => l,
        Err(e) => return error_page(Some(&user), &e),
    };
    let opt = |t: &Option<String>| t.as_deref().map(when).unwrap_or_else(|| "—".into());
    let jobs = list
        .into_iter()
        .map(|h| JobRow {
            schedule: match (&h.cron, h.interval_seconds) {
                (Some(c), _) => format!("{c} ({})", h.timezone),
                (None, Some(i)) => format!("every {}", seconds_text(i * 1000)),
                _ => String::new(),
            },
            last_ping: opt(&h.last_ping_at),
            last_ok: opt(&h.last_ok_at),
            duration: h.last_duration_ms.map(seconds_text).unwrap_or_else(|| "—".into()),
            next_due: opt(&h.next_due_at),
            incident: h.incident.unwrap_or_default(),
            name: h.name,
            kind: h.kind,
            group: h.assignment_group,
            status: h.status,
            enabled: h.enabled,
        })
        .collect();
    render(&BackupsPage {
        l: Layout::new(Some(&user), "Backups and scheduled jobs", "backups", q.get("m").map(String::as_str)),
        jobs,
    })
}
