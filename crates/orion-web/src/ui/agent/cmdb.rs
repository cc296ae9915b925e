//! Asset pages for support staff: the register (filters, keyset pages) and an asset's page —
//! its fields, holder and lifecycle actions (check out, check in, repair, other moves), its
//! relationships and the impact of an outage, its tickets, alerts, maintenance windows, installed
//! software and full history. The services refuse requesters; these pages only show it.

use super::monitoring::AlertRow;
use crate::AppState;
use crate::ui::form::{Fields, done, encode, when};
use crate::ui::layout::{Layout, error_page, explain, render};
use crate::ui::session::{StaffUser, WebUser};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::cmdb::{
    Asset, AssetQuery, CheckinInput, CheckoutInput, Impact, RelationInput, RepairInput, RepairReturnInput, StateInput,
};
use orion_domain::asset::{CI_TYPES, STATES, format_cents};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/assets", get(list))
        .route("/agent/assets/{id}", get(page))
        .route("/agent/assets/{id}/move", post(act))
        .route("/agent/licences", get(licences))
        .route("/agent/patch-status", get(patch_status))
}

#[derive(Template)]
#[template(path = "agent/licences.html")]
struct LicencesPage {
    l: Layout,
    report: orion_app::cmdb::licences::ComplianceReport,
    licences: Vec<orion_app::cmdb::licences::Licence>,
    next: Option<String>,
}

/// Licence compliance (per product: entitled, in use, status) and the licences themselves.
async fn licences(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let days = q.get("days").and_then(|d| d.parse().ok());
    let cq = orion_app::cmdb::licences::ComplianceQuery { expiring_within_days: days };
    let report = match s.app.licence_compliance(&user.actor, cq).await {
        Ok(r) => r,
        Err(e) => return error_page(Some(&user), &e),
    };
    let lq = orion_app::cmdb::licences::LicenceListQuery { cursor: q.get("cursor").cloned(), limit: Some(100) };
    let page = match s.app.list_licences(&user.actor, lq).await {
        Ok(p) => p,
        Err(e) => return error_page(Some(&user), &e),
    };
    render(&LicencesPage {
        l: Layout::new(Some(&user), "Licences", "assets", q.get("m").map(String::as_str)),
        report,
        licences: page.items,
        next: page.next_cursor.map(|c| format!("/agent/licences?cursor={c}")),
    })
}

#[derive(Template)]
#[template(path = "agent/patch.html")]
struct PatchPage {
    l: Layout,
    summary: orion_app::cmdb::patch::PatchSummary,
    status: String,
    rows: Vec<Row>,
    next: Option<String>,
}

/// Patch status: every OS build against the baseline, and the assets of one status.
async fn patch_status(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let summary = match s.app.patch_summary(&user.actor).await {
        Ok(x) => x,
        Err(e) => return error_page(Some(&user), &e),
    };
    let status = q
        .get("status")
        .filter(|v| matches!(v.as_str(), "behind" | "ok" | "no_baseline" | "stale"))
        .cloned()
        .unwrap_or_else(|| "behind".into());
    let pq = orion_app::cmdb::patch::PatchQuery {
        status: Some(status.clone()),
        cursor: q.get("cursor").cloned(),
        limit: Some(50),
    };
    let page = match s.app.patch_assets(&user.actor, pq).await {
        Ok(p) => p,
        Err(e) => return error_page(Some(&user), &e),
    };
    render(&PatchPage {
        l: Layout::new(Some(&user), "Patch status", "assets", None),
        next: page.next_cursor.map(|c| format!("/agent/patch-status?status={status}&cursor={c}")),
        rows: page.items.into_iter().map(Row::from).collect(),
        summary,
        status,
    })
}

struct Row {
    id: i64,
    tag: String,
    name: String,
    ci_type: String,
    state: String,
    holder: String,
    location: String,
    os: String,
    inventoried: String,
    overdue: bool,
}

impl From<Asset> for Row {
    fn from(a: Asset) -> Self {
        Row {
            id: a.id,
            tag: a.asset_tag.unwrap_or_default(),
            name: a.name,
            ci_type: a.ci_type.replace('_', " "),
            state: a.state.replace('_', " "),
            holder: a.holder.map(|h| h.name).unwrap_or_default(),
            location: a.location,
            os: [a.os_name, a.os_version].join(" ").trim().to_string(),
            inventoried: a.last_inventory_at.as_deref().map(when).unwrap_or_default(),
            overdue: a.overdue,
        }
    }
}

#[derive(Template)]
#[template(path = "agent/assets.html")]
struct ListPage {
    l: Layout,
    rows: Vec<Row>,
    types: &'static [&'static str],
    states: &'static [&'static str],
    f: HashMap<String, String>,
    next: Option<String>,
    error: Option<String>,
}

impl ListPage {
    fn f(&self, k: &str) -> String {
        self.f.get(k).cloned().unwrap_or_default()
    }
}

async fn list(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let v = |k: &str| q.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let query = AssetQuery {
        ci_type: v("type"),
        state: v("state"),
        holder: v("holder"),
        location: v("location"),
        q: v("q"),
        cursor: v("cursor"),
        limit: Some(50),
    };
    let (rows, next, error) = match s.app.list_assets(&user.actor, query).await {
        Ok(p) => {
            let keep: Vec<String> = ["type", "state", "holder", "location", "q"]
                .iter()
                .filter_map(|k| v(k).map(|x| format!("{k}={}", encode(&x))))
                .collect();
            let next = p.next_cursor.map(|c| format!("/agent/assets?{}&cursor={c}", keep.join("&")));
            (p.items.into_iter().map(Row::from).collect(), next, None)
        }
        Err(e @ AppError::Validation(_)) => (Vec::new(), None, Some(explain(&e))),
        Err(e) => return error_page(Some(&user), &e),
    };
    render(&ListPage {
        l: Layout::new(Some(&user), "Assets", "assets", q.get("m").map(String::as_str)),
        rows,
        types: CI_TYPES,
        states: STATES,
        f: q,
        next,
        error,
    })
}

struct Line {
    label: &'static str,
    value: String,
}

struct Rel {
    text: String,
    other_id: i64,
    other: String,
}

#[derive(Template)]
#[template(path = "agent/asset.html")]
struct AssetPage {
    l: Layout,
    a: Asset,
    fields: Vec<Line>,
    attributes: Vec<(String, String)>,
    relations: Vec<Rel>,
    impact: Impact,
    tickets: Vec<orion_app::cmdb::AssetTicket>,
    alerts: Vec<AlertRow>,
    windows: Vec<(String, String, String, bool)>,
    software: Vec<orion_app::cmdb::Software>,
    history: Vec<(String, String, String, String)>,
    error: Option<String>,
}

async fn asset_page(s: &AppState, user: &WebUser, id: i64, flash: Option<&str>, error: Option<String>) -> Response {
    let app = &s.app;
    let actor = &user.actor;
    let a = match app.get_asset(actor, id).await {
        Ok(a) => a,
        Err(e) => return error_page(Some(user), &e),
    };
    let loaded = async {
        Ok::<_, AppError>((
            app.asset_relations(actor, id).await?,
            app.asset_impact(actor, id).await?,
            app.asset_tickets(actor, id, None, Some(20)).await?,
            app.asset_alerts(actor, id, 20).await?,
            app.asset_windows(actor, id).await?,
            app.asset_software(actor, id).await?,
            app.asset_history(actor, id, None, Some(100)).await?,
        ))
    };
    let (relations, impact, tickets, alerts, windows, software, history) = match loaded.await {
        Ok(x) => x,
        Err(e) => return error_page(Some(user), &e),
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut fields = vec![
        Line { label: "Asset tag", value: opt(&a.asset_tag) },
        Line { label: "Serial", value: opt(&a.serial) },
        Line { label: "Model", value: [a.manufacturer.as_str(), a.model.as_str()].join(" ").trim().to_string() },
        Line { label: "Vendor", value: a.vendor.clone() },
        Line { label: "Location", value: a.location.clone() },
        Line { label: "Department", value: a.department.clone() },
        Line { label: "Support group", value: opt(&a.support_group) },
        Line { label: "Cost", value: a.cost_cents.map(format_cents).unwrap_or_default() },
        Line { label: "Purchased", value: opt(&a.purchase_date) },
        Line {
            label: "Warranty until",
            value: match (&a.warranty_end, a.under_warranty) {
                (Some(w), Some(false)) => format!("{w} (expired)"),
                (Some(w), _) => w.clone(),
                _ => String::new(),
            },
        },
    ];
    if !a.os_name.is_empty() {
        fields.push(Line { label: "Operating system", value: format!("{} {}", a.os_name, a.os_version) });
        fields.push(Line { label: "Kernel", value: a.kernel.clone() });
        fields.push(Line {
            label: "Last inventory",
            value: a.last_inventory_at.as_deref().map(when).unwrap_or_default(),
        });
        if let Some(m) = a.hardware["memory_mb"].as_i64() {
            fields.push(Line { label: "Memory", value: format!("{m} MB") });
        }
        if let Some(c) = a.hardware["cpus"][0]["name"].as_str() {
            fields.push(Line { label: "CPU", value: c.to_string() });
        }
    }
    fields.retain(|f| !f.value.is_empty());
    let attributes = a
        .attributes
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let relations = relations
        .into_iter()
        .map(|r| {
            let kind = r.kind.replace('_', " ");
            if r.source.id == id {
                Rel { text: kind, other_id: r.target.id, other: r.target.name }
            } else {
                Rel { text: format!("{kind} this ←"), other_id: r.source.id, other: r.source.name }
            }
        })
        .collect();
    let windows = windows.into_iter().map(|w| (w.name, when(&w.starts_at), when(&w.ends_at), w.active)).collect();
    let history = history
        .items
        .into_iter()
        .map(|e| (when(&e.at), e.actor.unwrap_or_else(|| "Orion".into()), e.kind.replace('_', " "), e.summary))
        .collect();
    let title = a.name.clone();
    let mut resp = render(&AssetPage {
        l: Layout::new(Some(user), &title, "assets", flash),
        a,
        fields,
        attributes,
        relations,
        impact,
        tickets: tickets.items,
        alerts: alerts.into_iter().map(Into::into).collect(),
        windows,
        software,
        history,
        error: error.clone(),
    });
    if error.is_some() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

async fn page(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    asset_page(&s, &user, id, q.get("m").map(String::as_str), None).await
}

/// One form for every action on the asset page; `action` says which.
async fn act(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, Path(id): Path<i64>, f: Fields) -> Response {
    let (app, actor) = (&s.app, &user.actor);
    let note = f.text("note");
    let r = match f.get("action").unwrap_or("") {
        "checkout" => app
            .checkout_asset(
                actor,
                id,
                CheckoutInput { user: f.text("user").unwrap_or_default(), due_back: f.text("due_back"), note },
            )
            .await
            .map(|_| "asset_moved"),
        "checkin" => app
            .checkin_asset(
                actor,
                id,
                CheckinInput { condition: f.text("condition").unwrap_or_default(), to_state: f.text("to_state"), note },
            )
            .await
            .map(|_| "asset_moved"),
        "repair" => app
            .send_to_repair(
                actor,
                id,
                RepairInput {
                    vendor: f.text("vendor").unwrap_or_default(),
                    reference: f.text("reference"),
                    expected_back: f.text("expected_back"),
                    note,
                },
            )
            .await
            .map(|_| "asset_moved"),
        "repair_return" => app
            .return_from_repair(
                actor,
                id,
                RepairReturnInput {
                    outcome: f.text("outcome").unwrap_or_default(),
                    new_serial: f.text("new_serial"),
                    note,
                },
            )
            .await
            .map(|_| "asset_moved"),
        "state" => app
            .set_asset_state(actor, id, StateInput { state: f.text("state").unwrap_or_default(), note })
            .await
            .map(|_| "asset_moved"),
        "relate" => app
            .relate_asset(
                actor,
                id,
                RelationInput {
                    kind: f.text("kind").unwrap_or_default(),
                    target: f.text("target").unwrap_or_default(),
                },
            )
            .await
            .map(|_| "relation_added"),
        other => Err(AppError::Validation({
            let mut e = orion_domain::FieldErrors::new();
            e.push("action", format!("unknown action {other:?}"));
            e
        })),
    };
    match r {
        Ok(flash) => done(&format!("/agent/assets/{id}"), flash),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            asset_page(&s, &user, id, None, Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}
