//! Admin pages for monitoring integrations (Alertmanager, Grafana, Zabbix, a generic webhook):
//! add one and get its token once, with the address to give the monitoring system; switch it
//! off and on; replace its token; and, on its own page, how its alerts become incidents (the
//! severities' priorities, grouping, reopening, the group, caller and category).

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
use orion_app::monitoring::{AlertSettings, Integration, IntegrationInput};
use std::collections::{BTreeMap, HashMap};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/integrations", get(integrations).post(create))
        .route("/admin/integrations/{id}/token", post(rotate))
        .route("/admin/integrations/{id}/switch", post(switch))
        .route("/admin/integrations/{id}", get(settings_get).post(settings_save))
}

const LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("kind", "Monitoring system"),
    ("assignment_group", "Incidents go to the group"),
    ("requester", "Incidents are logged for"),
    ("settings.category", "Category"),
    ("settings.group_window_minutes", "Alerts on one host or service join one incident within (minutes)"),
    ("settings.reopen_hours", "A repeat reopens the incident within (hours)"),
    ("settings.on_all_resolved", "When every alert has cleared"),
    ("settings.severity_map", "Severity"),
];

/// Impact and urgency as the ticket form names them.
const LEVELS: &[(u8, &str)] = &[(1, "High"), (2, "Medium"), (3, "Low")];

const KINDS: &[(&str, &str)] = &[
    ("alertmanager", "Prometheus Alertmanager"),
    ("grafana", "Grafana alerting"),
    ("zabbix", "Zabbix"),
    ("webhook", "Any other (generic JSON webhook)"),
];

fn kind_label(k: &str) -> &'static str {
    KINDS.iter().find(|(v, _)| *v == k).map_or("Other", |(_, l)| *l)
}

struct Row {
    id: i64,
    name: String,
    kind: &'static str,
    endpoint: String,
    group: String,
    received: i64,
    last: String,
    enabled: bool,
}

/// A token just made: for which integration, the token, and where to send.
struct NewToken {
    name: String,
    token: String,
    address: String,
}

#[derive(Template)]
#[template(path = "admin/integrations.html")]
struct IntegrationsPage {
    l: Layout,
    rows: Vec<Row>,
    kinds: &'static [(&'static str, &'static str)],
    groups: Vec<String>,
    /// The form's typed values: name, kind, group
    typed: (String, String, String),
    new_token: Option<NewToken>,
    error: Option<String>,
}

async fn page(
    s: &AppState,
    user: &WebUser,
    headers: &HeaderMap,
    flash_key: Option<&str>,
    typed: Option<(String, String, String)>,
    new_token: Option<(String, String, String)>,
    error: Option<String>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let list = match s.app.list_integrations(&user.actor).await {
        Ok(l) => l,
        Err(e) => return error_page(Some(user), &e),
    };
    let base = crate::ui::auth::public_base(s, headers).await;
    let rows = list
        .into_iter()
        .map(|i| Row {
            id: i.id,
            name: i.name,
            kind: kind_label(&i.kind),
            endpoint: format!("{base}{}", i.endpoint),
            group: i.assignment_group,
            received: i.received,
            last: i.last_received_at.as_deref().map(when).unwrap_or_else(|| "nothing yet".into()),
            enabled: i.enabled,
        })
        .collect();
    let groups = s
        .app
        .list_groups(&user.actor)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|g| g.active)
        .map(|g| g.name)
        .collect();
    let p = IntegrationsPage {
        l: Layout::new(Some(user), "Monitoring integrations", "admin", flash_key),
        rows,
        kinds: KINDS,
        groups,
        typed: typed.unwrap_or_else(|| (String::new(), "alertmanager".into(), String::new())),
        new_token: new_token.map(|(name, token, endpoint)| NewToken {
            name,
            token,
            address: format!("{base}{endpoint}"),
        }),
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn integrations(
    State(s): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    page(&s, &user, &headers, flash(&q), None, None, None).await
}

async fn create(State(s): State<AppState>, user: WebUser, headers: HeaderMap, f: Fields) -> Response {
    let t = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
    let typed = (t("name"), t("kind"), t("group"));
    let input = IntegrationInput {
        name: Some(typed.0.clone()),
        kind: Some(typed.1.clone()),
        assignment_group: Some(typed.2.clone()).filter(|g| !g.is_empty()),
        requester: None,
        settings: None,
        enabled: Some(true),
    };
    match s.app.create_integration(&user.actor, input).await {
        Ok(i) => {
            let shown = (i.integration.name.clone(), i.token, i.integration.endpoint.clone());
            page(&s, &user, &headers, Some("integration_added"), None, Some(shown), None).await
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            page(&s, &user, &headers, None, Some(typed), None, Some(explain_as(&e, LABELS))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn rotate(State(s): State<AppState>, user: WebUser, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    match s.app.rotate_integration_token(&user.actor, id).await {
        Ok(i) => {
            let shown = (i.integration.name.clone(), i.token, i.integration.endpoint.clone());
            page(&s, &user, &headers, Some("integration_token"), None, Some(shown), None).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// Switches an integration off (its alerts are refused, so the sender keeps them) or on again.
async fn switch(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    let input = IntegrationInput { enabled: Some(f.get("enabled") == Some("on")), ..Default::default() };
    match s.app.update_integration(&user.actor, id, input).await {
        Ok(_) => done("/admin/integrations", "integration_saved"),
        Err(e) => error_page(Some(&user), &e),
    }
}

/// One severity's line of the map.
struct SeverityRow {
    name: String,
    impact: u8,
    urgency: u8,
}

#[derive(Template)]
#[template(path = "admin/integration.html")]
struct IntegrationPage {
    l: Layout,
    i: Integration,
    kind: &'static str,
    address: String,
    groups: Vec<String>,
    categories: Vec<String>,
    levels: &'static [(u8, &'static str)],
    /// The form's values (typed, after a refusal, or stored)
    f: HashMap<String, String>,
    severities: Vec<SeverityRow>,
    error: Option<String>,
}

impl IntegrationPage {
    fn v(&self, k: &str) -> String {
        self.f.get(k).cloned().unwrap_or_default()
    }
}

fn settings_fields(i: &Integration) -> HashMap<String, String> {
    let s = &i.settings;
    [
        ("name", i.name.clone()),
        ("group", i.assignment_group.clone()),
        ("requester", i.requester.clone()),
        ("category", s.category.clone().unwrap_or_default()),
        ("group_window_minutes", s.group_window_minutes.to_string()),
        ("reopen_hours", s.reopen_hours.to_string()),
        ("on_all_resolved", s.on_all_resolved.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The severities in the map, the catch-all last, then two empty lines to add more.
fn severity_rows(map: &BTreeMap<String, [u8; 2]>) -> Vec<SeverityRow> {
    let mut rows: Vec<SeverityRow> = map
        .iter()
        .filter(|(k, _)| *k != "*")
        .map(|(k, [i, u])| SeverityRow { name: k.clone(), impact: *i, urgency: *u })
        .collect();
    let [i, u] = map.get("*").copied().unwrap_or([2, 3]);
    rows.push(SeverityRow { name: "*".into(), impact: i, urgency: u });
    for _ in 0..2 {
        rows.push(SeverityRow { name: String::new(), impact: 2, urgency: 2 });
    }
    rows
}

async fn integration_page(
    s: &AppState,
    user: &WebUser,
    headers: &HeaderMap,
    id: i64,
    flash_key: Option<&str>,
    typed: Option<(HashMap<String, String>, Vec<SeverityRow>, String)>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let i = match s.app.get_integration(&user.actor, id).await {
        Ok(i) => i,
        Err(e) => return error_page(Some(user), &e),
    };
    let base = crate::ui::auth::public_base(s, headers).await;
    let groups = s.app.list_groups(&user.actor).await.unwrap_or_default();
    let groups = groups.into_iter().filter(|g| g.active).map(|g| g.name).collect();
    let categories = s.app.list_categories(&user.actor).await.unwrap_or_default();
    let categories = categories.into_iter().filter(|c| c.active).map(|c| c.path).collect();
    let (f, severities, error) = match typed {
        Some((f, rows, e)) => (f, rows, Some(e)),
        None => (settings_fields(&i), severity_rows(&i.settings.severity_map), None),
    };
    let p = IntegrationPage {
        l: Layout::new(Some(user), format!("Integration {}", i.name), "admin", flash_key),
        kind: kind_label(&i.kind),
        address: format!("{base}{}", i.endpoint),
        i,
        groups,
        categories,
        levels: LEVELS,
        f,
        severities,
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn settings_get(
    State(s): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    integration_page(&s, &user, &headers, id, flash(&q), None).await
}

async fn settings_save(
    State(s): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    Path(id): Path<i64>,
    f: Fields,
) -> Response {
    let t = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
    let mut errs = orion_domain::FieldErrors::new();
    let int = |k: &str, errs: &mut orion_domain::FieldErrors| -> i64 {
        t(k).parse().unwrap_or_else(|_| {
            errs.push(format!("settings.{k}"), format!("{:?} is not a whole number", t(k)));
            0
        })
    };
    let (names, impacts, urgencies) = (f.all("sev_name"), f.all("sev_impact"), f.all("sev_urgency"));
    let mut rows = Vec::new();
    let mut map = BTreeMap::new();
    for (n, name) in names.iter().enumerate() {
        let level = |v: Option<&String>| v.and_then(|v| v.parse::<u8>().ok()).filter(|l| (1..=3).contains(l));
        let (impact, urgency) = (level(impacts.get(n)).unwrap_or(2), level(urgencies.get(n)).unwrap_or(2));
        let name = name.trim().to_lowercase();
        rows.push(SeverityRow { name: name.clone(), impact, urgency });
        if !name.is_empty() {
            map.insert(name, [impact, urgency]);
        }
    }
    let settings = AlertSettings {
        severity_map: map,
        group_window_minutes: int("group_window_minutes", &mut errs),
        reopen_hours: int("reopen_hours", &mut errs),
        on_all_resolved: t("on_all_resolved"),
        category: Some(t("category")).filter(|c| !c.is_empty()),
    };
    let input = IntegrationInput {
        name: Some(t("name")),
        kind: None,
        assignment_group: Some(t("group")).filter(|g| !g.is_empty()),
        requester: Some(t("requester")).filter(|r| !r.is_empty()),
        settings: Some(settings),
        enabled: None,
    };
    let result = match errs.into_result() {
        Ok(()) => s.app.update_integration(&user.actor, id, input).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => done(&format!("/admin/integrations/{id}"), "integration_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            let typed: HashMap<String, String> = f.0.iter().cloned().collect();
            let mut rows = rows;
            rows.retain(|r| !r.name.is_empty());
            rows.extend((0..2).map(|_| SeverityRow { name: String::new(), impact: 2, urgency: 2 }));
            integration_page(&s, &user, &headers, id, None, Some((typed, rows, explain_as(&e, LABELS)))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}
