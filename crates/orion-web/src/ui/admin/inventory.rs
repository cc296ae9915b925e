//! Admin page for inventory agents: the tokens they send with (each shown once, with the server
//! address to put in the agent's configuration), and the inventory settings — how often agents
//! report, what state a newly found device gets, when an asset counts as stale, and the
//! operating-system baselines of the patch report.

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
use orion_app::cmdb::inventory::{Baseline, InventorySettings};
use orion_domain::FieldErrors;
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/inventory", get(inventory).post(save_settings))
        .route("/admin/inventory/tokens", post(add_token))
        .route("/admin/inventory/tokens/{id}/remove", post(remove_token))
}

const LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("prolog_freq_hours", "Agents report every (hours)"),
    ("new_asset_state", "A device found for the first time is"),
    ("stale_days", "Stale after (days without an inventory)"),
    ("token_header", "Header for the token"),
    ("baselines", "Operating-system baselines"),
];

struct TokenRow {
    id: i64,
    name: String,
    received: i64,
    last: String,
    created: String,
}

/// The settings as the form shows them.
struct SettingsForm {
    token_in_url: bool,
    token_header: String,
    hours: String,
    new_state: String,
    stale_days: String,
    baselines: String,
}

impl SettingsForm {
    fn of(s: &InventorySettings) -> Self {
        SettingsForm {
            token_in_url: s.token_in_url,
            token_header: s.token_header.clone(),
            hours: s.prolog_freq_hours.to_string(),
            new_state: s.new_asset_state.clone(),
            stale_days: s.stale_days.to_string(),
            baselines: s
                .baselines
                .iter()
                .map(|b| {
                    let mut line = b.os.clone();
                    if let Some(v) = &b.min_version {
                        line.push_str(&format!(" | {v}"));
                    } else {
                        line.push_str(" |");
                    }
                    if let Some(k) = &b.min_kernel {
                        line.push_str(&format!(" | {k}"));
                    }
                    line
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    fn read(f: &Fields, errs: &mut FieldErrors) -> (Self, InventorySettings) {
        let t = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
        let form = SettingsForm {
            token_in_url: f.checked("token_in_url"),
            token_header: t("token_header"),
            hours: t("hours"),
            new_state: t("new_state"),
            stale_days: t("stale_days"),
            baselines: t("baselines"),
        };
        let number = |v: &str, field: &str, errs: &mut FieldErrors| -> i64 {
            v.parse().unwrap_or_else(|_| {
                errs.push(field, format!("{v:?} is not a whole number"));
                0
            })
        };
        let mut baselines = Vec::new();
        for (i, line) in form.baselines.lines().map(str::trim).enumerate().filter(|(_, l)| !l.is_empty()) {
            let parts: Vec<&str> = line.split('|').map(str::trim).collect();
            let opt = |i: usize| parts.get(i).filter(|v| !v.is_empty()).map(|v| (*v).to_string());
            if parts.len() < 2 || parts[0].is_empty() || (opt(1).is_none() && opt(2).is_none()) {
                errs.push(
                    "baselines",
                    format!("line {}: write it as OS name | minimum version | minimum kernel", i + 1),
                );
                continue;
            }
            baselines.push(Baseline { os: parts[0].to_string(), min_version: opt(1), min_kernel: opt(2) });
        }
        let settings = InventorySettings {
            token_in_url: form.token_in_url,
            token_header: form.token_header.clone(),
            prolog_freq_hours: number(&form.hours, "prolog_freq_hours", errs),
            new_asset_state: form.new_state.clone(),
            stale_days: number(&form.stale_days, "stale_days", errs),
            baselines,
        };
        (form, settings)
    }
}

/// A token just made, with where agents send.
struct NewToken {
    name: String,
    token: String,
    server: String,
}

#[derive(Template)]
#[template(path = "admin/inventory.html")]
struct InventoryPage {
    l: Layout,
    tokens: Vec<TokenRow>,
    f: SettingsForm,
    address: String,
    new_token: Option<NewToken>,
    token_name: String,
    token_error: Option<String>,
    error: Option<String>,
}

struct Shown {
    form: Option<SettingsForm>,
    new_token: Option<(String, String)>,
    token_name: String,
    token_error: Option<String>,
    error: Option<String>,
}

impl Shown {
    fn nothing() -> Self {
        Shown { form: None, new_token: None, token_name: String::new(), token_error: None, error: None }
    }
}

async fn page(s: &AppState, user: &WebUser, headers: &HeaderMap, flash_key: Option<&str>, shown: Shown) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let (tokens, settings) =
        match (s.app.inventory_tokens(&user.actor).await, s.app.inventory_settings(&user.actor).await) {
            (Ok(t), Ok(st)) => (t, st),
            (Err(e), _) | (_, Err(e)) => return error_page(Some(user), &e),
        };
    let base = crate::ui::auth::public_base(s, headers).await;
    let address = format!("{base}/api/v1/inventory");
    let p = InventoryPage {
        l: Layout::new(Some(user), "Inventory agents", "admin", flash_key),
        tokens: tokens
            .into_iter()
            .map(|t| TokenRow {
                id: t.id,
                name: t.name,
                received: t.received,
                last: t.last_used_at.as_deref().map(when).unwrap_or_else(|| "not yet".into()),
                created: when(&t.created_at),
            })
            .collect(),
        f: shown.form.unwrap_or_else(|| SettingsForm::of(&settings)),
        new_token: shown.new_token.map(|(name, token)| NewToken {
            server: if settings.token_in_url { format!("{address}?token={token}") } else { address.clone() },
            name,
            token,
        }),
        address,
        token_name: shown.token_name,
        token_error: shown.token_error,
        error: shown.error,
    };
    let err = p.error.clone().or(p.token_error.clone());
    with_status(render(&p), &err)
}

async fn inventory(
    State(s): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    page(&s, &user, &headers, flash(&q), Shown::nothing()).await
}

async fn save_settings(State(s): State<AppState>, user: WebUser, headers: HeaderMap, f: Fields) -> Response {
    let mut errs = FieldErrors::new();
    let (form, settings) = SettingsForm::read(&f, &mut errs);
    let result = match errs.into_result() {
        Ok(()) => s.app.set_inventory_settings(&user.actor, settings).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => done("/admin/inventory", "settings_saved"),
        Err(e @ AppError::Validation(_)) => {
            let shown = Shown { form: Some(form), error: Some(explain_as(&e, LABELS)), ..Shown::nothing() };
            page(&s, &user, &headers, None, shown).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn add_token(State(s): State<AppState>, user: WebUser, headers: HeaderMap, f: Fields) -> Response {
    let name = f.get("name").unwrap_or_default().trim().to_string();
    match s.app.create_inventory_token(&user.actor, &name).await {
        Ok(t) => {
            let shown = Shown { new_token: Some((t.name, t.token)), ..Shown::nothing() };
            page(&s, &user, &headers, Some("inventory_token"), shown).await
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            let shown = Shown { token_name: name, token_error: Some(explain_as(&e, LABELS)), ..Shown::nothing() };
            page(&s, &user, &headers, None, shown).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn remove_token(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.delete_inventory_token(&user.actor, id).await {
        Ok(()) => done("/admin/inventory", "inventory_token_removed"),
        Err(e) => error_page(Some(&user), &e),
    }
}
