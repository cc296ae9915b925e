//! Admin pages for single sign-on: the OpenID Connect providers (add, change, remove).

use super::{admin_only, flash, with_status};
use crate::AppState;
use crate::ui::auth::require_recent_second_factor;
use crate::ui::form::{Fields, done};
use crate::ui::layout::{Layout, error_page, explain, render};
use crate::ui::session::WebUser;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::identity::sso::{SsoGroupRule, SsoProvider, SsoProviderInput};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/sso", get(providers).post(create_provider))
        .route("/admin/sso/{id}", get(provider_page).post(save_provider))
        .route("/admin/sso/{id}/remove", post(remove))
}

const ROLES: &[&str] = &["requester", "agent", "lead", "admin"];

/// The form's values: a provider being added or changed.
struct Form {
    name: String,
    issuer_url: String,
    client_id: String,
    has_secret: bool,
    ca_pem: String,
    scopes: String,
    email_claim: String,
    name_claim: String,
    groups_claim: String,
    stable_id_claim: String,
    rules: Vec<SsoGroupRule>,
    create_users: bool,
    new_user_role: String,
    provider_checks_second_factor: bool,
    sign_out_at_provider: bool,
    enabled: bool,
}

impl Form {
    fn blank() -> Self {
        Form {
            name: String::new(),
            issuer_url: String::new(),
            client_id: String::new(),
            has_secret: false,
            ca_pem: String::new(),
            scopes: "email profile".into(),
            email_claim: "email".into(),
            name_claim: "name".into(),
            groups_claim: "groups".into(),
            stable_id_claim: String::new(),
            rules: Vec::new(),
            create_users: true,
            new_user_role: "requester".into(),
            provider_checks_second_factor: false,
            sign_out_at_provider: true,
            enabled: true,
        }
    }

    fn of(p: &SsoProvider) -> Self {
        Form {
            name: p.name.clone(),
            issuer_url: p.issuer_url.clone(),
            client_id: p.client_id.clone(),
            has_secret: p.has_secret,
            ca_pem: String::new(),
            scopes: p.scopes.join(" "),
            email_claim: p.email_claim.clone(),
            name_claim: p.name_claim.clone(),
            groups_claim: p.groups_claim.clone(),
            stable_id_claim: p.stable_id_claim.clone().unwrap_or_default(),
            rules: p.group_rules.clone(),
            create_users: p.create_users,
            new_user_role: p.new_user_role.clone(),
            provider_checks_second_factor: p.provider_checks_second_factor,
            sign_out_at_provider: p.sign_out_at_provider,
            enabled: p.enabled,
        }
    }

    /// What the form posted, as the service takes it; `editing` leaves a blank secret and CA out.
    fn read(f: &Fields, editing: bool) -> (Self, SsoProviderInput) {
        let t = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
        let groups = f.all("rule_group");
        let roles = f.all("rule_role");
        let orion = f.all("rule_orion_group");
        let rules: Vec<SsoGroupRule> = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| !g.trim().is_empty())
            .map(|(i, g)| SsoGroupRule {
                group: g.trim().to_string(),
                role: roles.get(i).map(|r| r.trim().to_string()).filter(|r| !r.is_empty()),
                orion_group: orion.get(i).map(|g| g.trim().to_string()).filter(|g| !g.is_empty()),
            })
            .collect();
        let form = Form {
            name: t("name"),
            issuer_url: t("issuer_url"),
            client_id: t("client_id"),
            has_secret: false,
            ca_pem: t("ca_pem"),
            scopes: t("scopes"),
            email_claim: t("email_claim"),
            name_claim: t("name_claim"),
            groups_claim: t("groups_claim"),
            stable_id_claim: t("stable_id_claim"),
            rules: rules.clone(),
            create_users: f.checked("create_users"),
            new_user_role: t("new_user_role"),
            provider_checks_second_factor: f.checked("provider_checks_second_factor"),
            sign_out_at_provider: f.checked("sign_out_at_provider"),
            enabled: f.checked("enabled"),
        };
        let input = SsoProviderInput {
            name: Some(form.name.clone()),
            position: None,
            issuer_url: Some(form.issuer_url.clone()),
            client_id: Some(form.client_id.clone()),
            client_secret: f.get("client_secret").filter(|s| !s.is_empty()).map(str::to_string),
            client_secret_file: None,
            ca_pem: if editing && form.ca_pem.is_empty() && !f.checked("clear_ca") {
                None
            } else {
                Some(form.ca_pem.clone())
            },
            scopes: Some(form.scopes.split_whitespace().map(str::to_string).collect()),
            email_claim: Some(form.email_claim.clone()),
            name_claim: Some(form.name_claim.clone()),
            groups_claim: Some(form.groups_claim.clone()),
            stable_id_claim: Some(form.stable_id_claim.clone()),
            group_rules: Some(rules),
            create_users: Some(form.create_users),
            new_user_role: Some(form.new_user_role.clone()).filter(|r| !r.is_empty()),
            provider_checks_second_factor: Some(form.provider_checks_second_factor),
            sign_out_at_provider: Some(form.sign_out_at_provider),
            enabled: Some(form.enabled),
        };
        (form, input)
    }
}

struct ProviderRow {
    id: i64,
    name: String,
    issuer_url: String,
    users: i64,
    state: &'static str,
}

use crate::ui::pickers::group_names;

/// The address to register at the provider as Orion's redirect URI.
async fn callback_url(s: &AppState, headers: &HeaderMap) -> String {
    format!("{}/login/sso/callback", crate::ui::auth::public_base(s, headers).await)
}

#[derive(Template)]
#[template(path = "admin/sso.html")]
struct ProvidersPage {
    l: Layout,
    providers: Vec<ProviderRow>,
    f: Form,
    roles: &'static [&'static str],
    groups: Vec<String>,
    blank_rules: usize,
    callback: String,
    error: Option<String>,
}

async fn providers_page(
    s: &AppState,
    user: &WebUser,
    headers: &HeaderMap,
    flash_key: Option<&str>,
    form: Option<Form>,
    error: Option<String>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let list = match s.app.list_sso_providers(&user.actor).await {
        Ok(l) => l,
        Err(e) => return error_page(Some(user), &e),
    };
    let providers = list
        .iter()
        .map(|p| ProviderRow {
            id: p.id,
            name: p.name.clone(),
            issuer_url: p.issuer_url.clone(),
            users: p.users,
            state: if p.enabled { "On the sign-in page" } else { "Switched off" },
        })
        .collect();
    let p = ProvidersPage {
        l: Layout::new(Some(user), "Single sign-on", "admin", flash_key),
        providers,
        f: form.unwrap_or_else(Form::blank),
        roles: ROLES,
        groups: group_names(s, user).await,
        blank_rules: 3,
        callback: callback_url(s, headers).await,
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn providers(
    State(s): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    providers_page(&s, &user, &headers, flash(&q), None, None).await
}

async fn create_provider(State(s): State<AppState>, user: WebUser, headers: HeaderMap, f: Fields) -> Response {
    if let Some(r) = require_recent_second_factor(&s, &user, "/admin/sso").await {
        return r;
    }
    let (form, input) = Form::read(&f, false);
    match s.app.create_sso_provider(&user.actor, input).await {
        Ok(p) => done(&format!("/admin/sso/{}", p.id), "provider_added"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            providers_page(&s, &user, &headers, None, Some(form), Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Template)]
#[template(path = "admin/sso_provider.html")]
struct ProviderPage {
    l: Layout,
    id: i64,
    users: i64,
    f: Form,
    roles: &'static [&'static str],
    groups: Vec<String>,
    blank_rules: usize,
    callback: String,
    error: Option<String>,
}

async fn provider_page_with(
    s: &AppState,
    user: &WebUser,
    headers: &HeaderMap,
    id: i64,
    flash_key: Option<&str>,
    form: Option<Form>,
    error: Option<String>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let p = match s.app.get_sso_provider(&user.actor, id).await {
        Ok(x) => x,
        Err(e) => return error_page(Some(user), &e),
    };
    let mut f = form.unwrap_or_else(|| Form::of(&p));
    f.has_secret = p.has_secret;
    let page = ProviderPage {
        l: Layout::new(Some(user), format!("Single sign-on: {}", p.name), "admin", flash_key),
        id,
        users: p.users,
        f,
        roles: ROLES,
        groups: group_names(s, user).await,
        blank_rules: 2,
        callback: callback_url(s, headers).await,
        error,
    };
    let err = page.error.clone();
    with_status(render(&page), &err)
}

async fn provider_page(
    State(s): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    provider_page_with(&s, &user, &headers, id, flash(&q), None, None).await
}

async fn save_provider(
    State(s): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    Path(id): Path<i64>,
    f: Fields,
) -> Response {
    if let Some(r) = require_recent_second_factor(&s, &user, &format!("/admin/sso/{id}")).await {
        return r;
    }
    let (form, input) = Form::read(&f, true);
    match s.app.update_sso_provider(&user.actor, id, input).await {
        Ok(_) => done(&format!("/admin/sso/{id}"), "provider_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            provider_page_with(&s, &user, &headers, id, None, Some(form), Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn remove(State(s): State<AppState>, user: WebUser, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    if let Some(r) = require_recent_second_factor(&s, &user, &format!("/admin/sso/{id}")).await {
        return r;
    }
    match s.app.delete_sso_provider(&user.actor, id).await {
        Ok(()) => done("/admin/sso", "provider_removed"),
        Err(e @ AppError::Conflict(_)) => {
            provider_page_with(&s, &user, &headers, id, None, None, Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}
