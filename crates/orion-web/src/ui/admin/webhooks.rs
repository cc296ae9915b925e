//! Admin pages for outbound webhooks: add, change, test, replace the signing secret, remove, and
//! each webhook's delivery log with "send again".

use super::{admin_only, flash, with_status};
use crate::AppState;
use crate::ui::form::{Fields, done, when};
use crate::ui::layout::{Layout, error_page, explain_as, render};
use crate::ui::session::WebUser;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::webhooks::{EVENTS, Webhook, WebhookInput};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/webhooks", get(webhooks).post(create))
        .route("/admin/webhooks/{id}", get(webhook_page).post(save))
        .route("/admin/webhooks/{id}/ping", post(ping))
        .route("/admin/webhooks/{id}/secret", post(rotate))
        .route("/admin/webhooks/{id}/remove", post(remove))
        .route("/admin/webhooks/{id}/deliveries/{delivery}/again", post(again))
}

const LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("url", "Address"),
    ("events", "Send when"),
    ("assignment_groups", "Only tickets of the groups"),
    ("priorities", "Only priorities"),
    ("format", "Format"),
];

/// An event in words.
fn event_label(e: &str) -> &'static str {
    match e {
        "ticket.created" => "a ticket is logged",
        "ticket.updated" => "a ticket changes",
        "ticket.assigned" => "a ticket is assigned",
        "ticket.escalated" => "a ticket is escalated",
        "ticket.commented" => "a reply or note is added",
        "ticket.resolved" => "a ticket is resolved",
        "ticket.closed" => "a ticket is closed",
        "ticket.reopened" => "a ticket is reopened",
        "sla.warning" => "an SLA target is close",
        "sla.breached" => "an SLA target is missed",
        "ping" => "test event",
        _ => "other event",
    }
}

struct Form {
    name: String,
    url: String,
    events: Vec<String>,
    groups: String,
    priorities: String,
    format: String,
    enabled: bool,
}

impl Form {
    fn blank() -> Self {
        Form {
            name: String::new(),
            url: String::new(),
            events: vec!["ticket.created".into()],
            groups: String::new(),
            priorities: String::new(),
            format: "json".into(),
            enabled: true,
        }
    }

    fn of(w: &Webhook) -> Self {
        Form {
            name: w.name.clone(),
            url: w.url.clone(),
            events: w.events.clone(),
            groups: w.assignment_groups.join(", "),
            priorities: w.priorities.join(", "),
            format: w.format.clone(),
            enabled: w.enabled,
        }
    }

    fn read(f: &Fields) -> (Self, WebhookInput) {
        let t = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
        let list = |s: &str| s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect();
        let form = Form {
            name: t("name"),
            url: t("url"),
            events: f.all("events"),
            groups: t("groups"),
            priorities: t("priorities"),
            format: t("format"),
            enabled: f.checked("enabled"),
        };
        let input = WebhookInput {
            name: Some(form.name.clone()),
            url: Some(form.url.clone()),
            events: Some(form.events.clone()),
            assignment_groups: Some(list(&form.groups)),
            priorities: Some(list(&form.priorities)),
            format: Some(form.format.clone()).filter(|x| !x.is_empty()),
            secret: None,
            enabled: Some(form.enabled),
        };
        (form, input)
    }

    fn has(&self, e: &&str) -> bool {
        self.events.iter().any(|x| x == e || x == "*")
    }
}

struct Row {
    id: i64,
    name: String,
    url: String,
    events: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct WebhooksPage {
    l: Layout,
    rows: Vec<Row>,
    f: Form,
    events: Vec<(&'static str, &'static str)>,
    error: Option<String>,
}

fn all_events() -> Vec<(&'static str, &'static str)> {
    EVENTS.iter().map(|e| (*e, event_label(e))).collect()
}

async fn list_page(
    s: &AppState,
    user: &WebUser,
    flash_key: Option<&str>,
    form: Option<Form>,
    error: Option<String>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let list = match s.app.list_webhooks(&user.actor).await {
        Ok(l) => l,
        Err(e) => return error_page(Some(user), &e),
    };
    let rows = list
        .iter()
        .map(|w| Row {
            id: w.id,
            name: w.name.clone(),
            url: w.url.clone(),
            events: w
                .events
                .iter()
                .map(|e| if e == "*" { "everything" } else { event_label(e) })
                .collect::<Vec<_>>()
                .join(", "),
            state: if w.enabled { "Sending" } else { "Switched off" },
        })
        .collect();
    let p = WebhooksPage {
        l: Layout::new(Some(user), "Webhooks", "admin", flash_key),
        rows,
        f: form.unwrap_or_else(Form::blank),
        events: all_events(),
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn webhooks(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    list_page(&s, &user, flash(&q), None, None).await
}

async fn create(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let (form, input) = Form::read(&f);
    match s.app.create_webhook(&user.actor, input).await {
        // The secret is shown this once, on the new webhook's page.
        Ok(w) => one_page(&s, &user, w.webhook.id, Some("webhook_added"), None, Some(w.secret), None).await,
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            list_page(&s, &user, None, Some(form), Some(explain_as(&e, LABELS))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

struct DeliveryRow {
    id: i64,
    at: String,
    event: &'static str,
    ticket: String,
    status: String,
    outcome: String,
    failed: bool,
}

#[derive(Template)]
#[template(path = "admin/webhook.html")]
struct WebhookPage {
    l: Layout,
    id: i64,
    f: Form,
    events: Vec<(&'static str, &'static str)>,
    /// A new signing secret, shown once
    secret: Option<String>,
    deliveries: Vec<DeliveryRow>,
    error: Option<String>,
}

async fn one_page(
    s: &AppState,
    user: &WebUser,
    id: i64,
    flash_key: Option<&str>,
    form: Option<Form>,
    secret: Option<String>,
    error: Option<String>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let w = match s.app.get_webhook(&user.actor, id).await {
        Ok(w) => w,
        Err(e) => return error_page(Some(user), &e),
    };
    let deliveries = match s.app.webhook_deliveries(&user.actor, id, false, None, Some(20)).await {
        Ok(p) => p.items,
        Err(e) => return error_page(Some(user), &e),
    };
    let deliveries = deliveries
        .into_iter()
        .map(|d| DeliveryRow {
            id: d.id,
            at: when(&d.created_at),
            event: event_label(&d.event),
            ticket: d.ticket.unwrap_or_default(),
            failed: matches!(d.status.as_str(), "failed" | "retrying"),
            status: match d.status.as_str() {
                "pending" => "waiting to be sent".into(),
                "retrying" => format!("trying again ({} attempts so far)", d.attempts),
                "delivered" => "delivered".into(),
                "failed" => format!("gave up after {} attempts", d.attempts),
                "cancelled" => "cancelled (webhook switched off)".into(),
                other => other.replace('_', " "),
            },
            outcome: match (d.response_code, d.error) {
                (_, Some(e)) => e,
                (Some(c), None) => format!("answered {c}"),
                (None, None) => String::new(),
            },
        })
        .collect();
    let p = WebhookPage {
        l: Layout::new(Some(user), format!("Webhook {}", w.name), "admin", flash_key),
        id,
        f: form.unwrap_or_else(|| Form::of(&w)),
        events: all_events(),
        secret,
        deliveries,
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn webhook_page(
    State(s): State<AppState>,
    user: WebUser,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    one_page(&s, &user, id, flash(&q), None, None, None).await
}

async fn save(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    let (form, input) = Form::read(&f);
    match s.app.update_webhook(&user.actor, id, input).await {
        Ok(_) => done(&format!("/admin/webhooks/{id}"), "webhook_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            one_page(&s, &user, id, None, Some(form), None, Some(explain_as(&e, LABELS))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn ping(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.ping_webhook(&user.actor, id).await {
        Ok(_) => done(&format!("/admin/webhooks/{id}"), "webhook_pinged"),
        Err(e @ AppError::Conflict(_)) => one_page(&s, &user, id, None, None, None, Some(explain_as(&e, LABELS))).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn rotate(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.rotate_webhook_secret(&user.actor, id).await {
        Ok(w) => one_page(&s, &user, id, Some("webhook_secret"), None, Some(w.secret), None).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn remove(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.delete_webhook(&user.actor, id).await {
        Ok(()) => done("/admin/webhooks", "webhook_removed"),
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn again(State(s): State<AppState>, user: WebUser, Path((id, delivery)): Path<(i64, i64)>) -> Response {
    match s.app.redeliver(&user.actor, id, delivery).await {
        Ok(_) => done(&format!("/admin/webhooks/{id}"), "webhook_again"),
        Err(e @ AppError::Conflict(_)) => one_page(&s, &user, id, None, None, None, Some(explain_as(&e, LABELS))).await,
        Err(e) => error_page(Some(&user), &e),
    }
}
