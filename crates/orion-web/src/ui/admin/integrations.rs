//! Admin pages for monitoring integrations (Alertmanager, Grafana, Zabbix, a generic webhook):
//! add one and get its token once, with the address to give the monitoring system; switch it
//! off and on; replace its token.

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
use orion_app::monitoring::IntegrationInput;
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/integrations", get(integrations).post(create))
        .route("/admin/integrations/{id}/token", post(rotate))
        .route("/admin/integrations/{id}/switch", post(switch))
}

const LABELS: &[(&str, &str)] =
    &[("name", "Name"), ("kind", "Monitoring system"), ("assignment_group", "Incidents go to the group")];

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
