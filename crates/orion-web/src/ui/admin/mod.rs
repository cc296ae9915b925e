//! Admin pages: users, groups, categories, the priority matrix, API tokens, security settings
//! and the security log. The services refuse anyone but admins; these pages only show it.

use crate::AppState;
use crate::ui::form::{Fields, done, encode, when, words};
use crate::ui::layout::{Layout, error_page, explain, render};
use crate::ui::session::WebUser;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use orion_app::signin::SecuritySettings;
use orion_app::{AppError, CategoryInput, Group, GroupInput, NewUserInput, PriorityMatrixDoc, User, UserPatch};
use std::collections::HashMap;

mod catalog;
mod catalog_design;
mod changes;
mod heartbeats;
mod identity;
mod integrations;
mod inventory;
mod mail;
mod mailboxes;
mod retention;
mod routing;
mod sla;
mod sso;
mod webhooks;
mod workflows;

pub(super) fn routes() -> Router<AppState> {
    identity::routes()
        .merge(sso::routes())
        .merge(mailboxes::routes())
        .merge(webhooks::routes())
        .merge(integrations::routes())
        .merge(sla::routes())
        .merge(inventory::routes())
        .merge(heartbeats::routes())
        .merge(mail::routes())
        .merge(changes::routes())
        .merge(catalog::routes())
        .merge(catalog_design::routes())
        .merge(retention::routes())
        .merge(routing::routes())
        .merge(workflows::routes())
        .route("/admin", get(|| async { Redirect::to("/admin/users") }))
        .route("/admin/users", get(users).post(create_user))
        .route("/admin/users/{id}", get(user_page).post(save_user))
        .route("/admin/users/{id}/unlock", post(unlock))
        .route("/admin/users/{id}/password", post(set_password))
        .route("/admin/users/{id}/two-factor/reset", post(reset_two_factor))
        .route("/admin/groups", get(groups).post(create_group))
        .route("/admin/groups/{id}", post(save_group))
        .route("/admin/categories", get(categories).post(create_category))
        .route("/admin/categories/{id}/active", post(toggle_category))
        .route("/admin/priority-matrix", get(matrix).post(save_matrix))
        .route("/admin/surveys", get(surveys).post(save_surveys))
        .route("/admin/tokens", get(tokens))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
        .route("/admin/security", get(security).post(save_security))
}

fn admin_only(user: &WebUser) -> Option<Response> {
    (!user.me.admin)
        .then(|| error_page(Some(user), &AppError::Forbidden("Only administrators may open this page.".into())))
}

fn flash(q: &HashMap<String, String>) -> Option<&str> {
    q.get("m").map(String::as_str)
}

fn with_status(mut resp: Response, error: &Option<String>) -> Response {
    if error.is_some() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

const ROLES: &[&str] = &["requester", "agent", "lead", "admin"];

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    l: Layout,
    users: Vec<User>,
    next: Option<String>,
    q: String,
    roles: &'static [&'static str],
    groups: Vec<String>,
    error: Option<String>,
    draft: HashMap<String, String>,
}

impl UsersPage {
    fn draft(&self, k: &str) -> String {
        self.draft.get(k).cloned().unwrap_or_default()
    }
}

async fn users_page(
    s: &AppState,
    user: &WebUser,
    q: &HashMap<String, String>,
    error: Option<String>,
    draft: HashMap<String, String>,
) -> Response {
    let text = q.get("q").map(|v| v.trim().to_string()).unwrap_or_default();
    let role = q.get("role").filter(|r| !r.is_empty()).map(String::as_str);
    let page =
        match s.app.list_users(&user.actor, role, Some(&text), q.get("cursor").map(String::as_str), Some(50)).await {
            Ok(p) => p,
            Err(e) => return error_page(Some(user), &e),
        };
    let groups = s.app.list_groups(&user.actor).await.unwrap_or_default().into_iter().map(|g| g.name).collect();
    let next = page.next_cursor.map(|c| format!("/admin/users?q={}&cursor={c}", encode(&text)));
    let p = UsersPage {
        l: Layout::new(Some(user), "Users", "admin", flash(q)),
        users: page.items,
        next,
        q: text,
        roles: ROLES,
        groups,
        error,
        draft,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn users(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(r) = admin_only(&user) {
        return r;
    }
    users_page(&s, &user, &q, None, HashMap::new()).await
}

async fn create_user(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let input = NewUserInput {
        email: f.text("email"),
        name: f.text("name"),
        role: f.text("role"),
        phone: f.text("phone"),
        department: f.text("department"),
        groups: f.all("groups"),
        password: f.get("password").filter(|p| !p.is_empty()).map(str::to_string),
        vip: Some(f.checked("vip")),
    };
    match s.app.create_user(&user.actor, input).await {
        Ok(u) => done(&format!("/admin/users/{}", u.id), "user_created"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            let draft = f.0.iter().filter(|(k, _)| k != "password").cloned().collect();
            users_page(&s, &user, &HashMap::new(), Some(explain(&e)), draft).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    l: Layout,
    u: User,
    locked: bool,
    failures: i64,
    roles: &'static [&'static str],
    groups: Vec<String>,
    managers: Vec<orion_app::identity::ManagerLink>,
    deactivated_on: Option<String>,
    two_factor: Option<orion_app::mfa::TwoFactorStatus>,
    error: Option<String>,
}

async fn user_page_with(
    s: &AppState,
    user: &WebUser,
    id: i64,
    flash_key: Option<&str>,
    error: Option<String>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let u = match s.app.get_user(&user.actor, id).await {
        Ok(u) => u,
        Err(e) => return error_page(Some(user), &e),
    };
    let (locked, failures) = s.app.lock_state(&user.actor, id).await.unwrap_or((false, 0));
    let groups = s.app.list_groups(&user.actor).await.unwrap_or_default().into_iter().map(|g| g.name).collect();
    let managers = s.app.manager_chain(&user.actor, id).await.unwrap_or_default();
    let title = format!("User {}", u.email);
    let deactivated_on = u.deactivated_at.as_deref().map(when);
    let two_factor = s.app.user_two_factor(&user.actor, id).await.ok();
    let p = UserPage {
        l: Layout::new(Some(user), title, "admin", flash_key),
        u,
        locked,
        failures,
        roles: ROLES,
        groups,
        managers,
        deactivated_on,
        two_factor,
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn user_page(
    State(s): State<AppState>,
    user: WebUser,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    user_page_with(&s, &user, id, flash(&q), None).await
}

async fn save_user(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    let patch = UserPatch {
        name: f.text("name"),
        role: f.text("role"),
        active: Some(f.checked("active")),
        phone: Some(f.get("phone").unwrap_or_default().trim().to_string()),
        department: Some(f.get("department").unwrap_or_default().trim().to_string()),
        title: Some(f.get("title").unwrap_or_default().trim().to_string()),
        location: Some(f.get("location").unwrap_or_default().trim().to_string()),
        manager: Some(f.get("manager").unwrap_or_default().trim().to_string()),
        break_glass: Some(f.checked("break_glass")),
        vip: Some(f.checked("vip")),
        groups: Some(f.all("groups")),
    };
    match s.app.update_user(&user.actor, id, patch).await {
        Ok(_) => done(&format!("/admin/users/{id}"), "user_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            user_page_with(&s, &user, id, None, Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn reset_two_factor(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    if let Some(r) = crate::ui::auth::require_recent_second_factor(&s, &user, &format!("/admin/users/{id}")).await {
        return r;
    }
    match s.app.reset_two_factor(&user.actor, id).await {
        Ok(()) => done(&format!("/admin/users/{id}"), "two_factor_reset"),
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn unlock(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.unlock_user(&user.actor, id).await {
        Ok(()) => done(&format!("/admin/users/{id}"), "unlocked"),
        Err(e) => error_page(Some(&user), &e),
    }
}

/// An admin sets someone's password (the policy applies; their sessions end).
async fn set_password(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    if let Some(r) = admin_only(&user) {
        return r;
    }
    let target = match s.app.get_user(&user.actor, id).await {
        Ok(u) => u,
        Err(e) => return error_page(Some(&user), &e),
    };
    match s.app.set_password(&target.email, f.get("password").unwrap_or_default().to_string()).await {
        Ok(()) => done(&format!("/admin/users/{id}"), "user_saved"),
        Err(e @ AppError::Validation(_)) => user_page_with(&s, &user, id, None, Some(explain(&e))).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Template)]
#[template(path = "admin/groups.html")]
struct GroupsPage {
    l: Layout,
    groups: Vec<Group>,
    names: Vec<String>,
    error: Option<String>,
}

async fn groups_page(s: &AppState, user: &WebUser, flash_key: Option<&str>, error: Option<String>) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let groups = match s.app.list_groups(&user.actor).await {
        Ok(g) => g,
        Err(e) => return error_page(Some(user), &e),
    };
    let names = groups.iter().map(|g| g.name.clone()).collect();
    let p = GroupsPage { l: Layout::new(Some(user), "Groups", "admin", flash_key), groups, names, error };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn groups(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    groups_page(&s, &user, flash(&q), None).await
}

fn group_input(f: &Fields) -> GroupInput {
    GroupInput {
        name: f.text("name"),
        tier: f.int("tier"),
        escalates_to: Some(f.get("escalates_to").unwrap_or_default().to_string()),
        lead: Some(f.get("lead").unwrap_or_default().trim().to_string()),
        description: Some(f.get("description").unwrap_or_default().to_string()),
        active: Some(f.checked("active")),
        time_required: Some(f.checked("time_required")),
    }
}

async fn create_group(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let mut input = group_input(&f);
    input.active = Some(true);
    input.escalates_to = input.escalates_to.filter(|e| !e.is_empty());
    input.lead = input.lead.filter(|e| !e.is_empty());
    match s.app.create_group(&user.actor, input).await {
        Ok(_) => done("/admin/groups", "group_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            groups_page(&s, &user, None, Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn save_group(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    match s.app.update_group(&user.actor, id, group_input(&f)).await {
        Ok(_) => done("/admin/groups", "group_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            groups_page(&s, &user, None, Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Template)]
#[template(path = "admin/categories.html")]
struct CategoriesPage {
    l: Layout,
    categories: Vec<orion_app::Category>,
    error: Option<String>,
}

async fn categories_page(s: &AppState, user: &WebUser, flash_key: Option<&str>, error: Option<String>) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let mut categories = match s.app.list_categories(&user.actor).await {
        Ok(c) => c,
        Err(e) => return error_page(Some(user), &e),
    };
    categories.sort_by(|a, b| a.path.cmp(&b.path));
    let p = CategoriesPage { l: Layout::new(Some(user), "Categories", "admin", flash_key), categories, error };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn categories(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    categories_page(&s, &user, flash(&q), None).await
}

async fn create_category(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let input = CategoryInput { name: f.text("name"), parent: f.text("parent") };
    match s.app.create_category(&user.actor, input).await {
        Ok(_) => done("/admin/categories", "category_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            categories_page(&s, &user, None, Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn toggle_category(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    match s.app.set_category_active(&user.actor, id, f.checked("active")).await {
        Ok(_) => done("/admin/categories", "category_saved"),
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Template)]
#[template(path = "admin/matrix.html")]
struct MatrixPage {
    l: Layout,
    rows: Vec<Vec<i64>>,
    error: Option<String>,
}

impl MatrixPage {
    fn level(&self, i: &usize) -> &'static str {
        ["High", "Medium", "Low"].get(*i).copied().unwrap_or("")
    }
}

async fn matrix(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(r) = admin_only(&user) {
        return r;
    }
    match s.app.get_priority_matrix(&user.actor).await {
        Ok(m) => render(&MatrixPage {
            l: Layout::new(Some(&user), "Priority matrix", "admin", flash(&q)),
            rows: m.rows,
            error: None,
        }),
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn save_matrix(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let rows: Vec<Vec<i64>> =
        (1..=3).map(|i| (1..=3).map(|u| f.int(&format!("p{i}{u}")).unwrap_or(0)).collect()).collect();
    match s.app.set_priority_matrix(&user.actor, PriorityMatrixDoc { rows: rows.clone() }).await {
        Ok(_) => done("/admin/priority-matrix", "matrix_saved"),
        Err(e @ AppError::Validation(_)) => {
            let p = MatrixPage {
                l: Layout::new(Some(&user), "Priority matrix", "admin", None),
                rows,
                error: Some(explain(&e)),
            };
            let err = p.error.clone();
            with_status(render(&p), &err)
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

pub(super) struct TokenRow {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub created: String,
    pub last_used: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "admin/tokens.html")]
struct TokensPage {
    l: Layout,
    tokens: Vec<TokenRow>,
    next: Option<String>,
}

fn ms(t: i64) -> String {
    when(&orion_domain::Timestamp(t).to_rfc3339())
}

async fn tokens(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(r) = admin_only(&user) {
        return r;
    }
    match s.app.list_all_tokens(&user.actor, q.get("cursor").map(String::as_str), Some(100)).await {
        Ok(p) => {
            let tokens = p
                .items
                .into_iter()
                .map(|t| TokenRow {
                    id: t.id,
                    name: t.name,
                    owner: t.email,
                    created: ms(t.created_at),
                    last_used: t.last_used_at.map(ms).unwrap_or_else(|| "never".into()),
                    revoked: t.revoked_at.is_some(),
                })
                .collect();
            let next = p.next_cursor.map(|c| format!("/admin/tokens?cursor={c}"));
            render(&TokensPage { l: Layout::new(Some(&user), "API tokens", "admin", flash(&q)), tokens, next })
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn revoke_token(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.revoke_any_token(&user.actor, id).await {
        Ok(()) => done("/admin/tokens", "token_revoked"),
        Err(e) => error_page(Some(&user), &e),
    }
}

pub(super) struct EventRow {
    pub at: String,
    pub kind: String,
    pub email: String,
    pub ip: String,
    pub detail: String,
    pub alarm: bool,
}

#[derive(Template)]
#[template(path = "admin/security.html")]
struct SecurityPage {
    l: Layout,
    s: SecuritySettings,
    roles: &'static [&'static str],
    events: Vec<EventRow>,
    next: Option<String>,
    error: Option<String>,
}

async fn security_page(
    s: &AppState,
    user: &WebUser,
    q: &HashMap<String, String>,
    settings: Option<SecuritySettings>,
    error: Option<String>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let settings = match settings {
        Some(x) => x,
        None => match s.app.get_security_settings(&user.actor).await {
            Ok(x) => x,
            Err(e) => return error_page(Some(user), &e),
        },
    };
    let log = match s.app.security_log(&user.actor, q.get("cursor").map(String::as_str), Some(100)).await {
        Ok(p) => p,
        Err(e) => return error_page(Some(user), &e),
    };
    let events = log
        .items
        .into_iter()
        .map(|e| EventRow {
            alarm: matches!(e.kind.as_str(), "account_locked" | "sign_in_throttled" | "cross_site_refused"),
            at: when(&e.at),
            kind: security_event_label(&e.kind),
            email: e.email.unwrap_or_default(),
            ip: e.ip.unwrap_or_default(),
            detail: e.detail,
        })
        .collect();
    let next = log.next_cursor.map(|c| format!("/admin/security?cursor={c}"));
    let p = SecurityPage {
        l: Layout::new(Some(user), "Security", "admin", flash(q)),
        s: settings,
        roles: ROLES,
        events,
        next,
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

/// A security log event in words.
fn security_event_label(kind: &str) -> String {
    match kind {
        "sign_in" => "Signed in",
        "sign_in_failed" => "Sign-in refused",
        "sign_in_password_ok" => "Password right, second factor asked",
        "sign_in_throttled" => "Sign-ins from an address paused",
        "sso_sign_in_failed" => "Single sign-on refused",
        "sso_changed" => "Single sign-on settings changed",
        "user_provisioned" => "Account created at first sign-in",
        "role_changed_by_sso" => "Role changed by single sign-on",
        "account_locked" => "Account locked",
        "account_unlocked" => "Account unlocked",
        "sign_out" => "Signed out",
        "sign_out_everywhere" => "Signed out everywhere",
        "session_expired" => "Session ended",
        "password_changed" => "Password changed",
        "password_reset_requested" => "Password reset asked for",
        "password_reset" => "Password reset",
        "token_created" => "API token created",
        "token_revoked" => "API token revoked",
        "cross_site_refused" => "Cross-site request refused",
        "settings_changed" => "Security settings changed",
        "directory_changed" => "Directory settings changed",
        "deactivated_by_directory" => "Deactivated by the directory",
        "reactivated_by_directory" => "Re-enabled by the directory",
        "two_factor_enabled" => "Two-factor sign-in turned on",
        "two_factor_disabled" => "Two-factor sign-in turned off",
        "two_factor_reset" => "Two-factor sign-in reset by an admin",
        "recovery_codes_renewed" => "New recovery codes",
        "retention_changed" => "How long logs are kept changed",
        other => return words(other),
    }
    .to_string()
}

async fn security(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    security_page(&s, &user, &q, None, None).await
}

async fn save_security(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    if let Some(r) = crate::ui::auth::require_recent_second_factor(&s, &user, "/admin/security").await {
        return r;
    }
    let d = SecuritySettings::default();
    let settings = SecuritySettings {
        lockout_threshold: f.int("lockout_threshold").unwrap_or(d.lockout_threshold),
        lockout_minutes: f.int("lockout_minutes").unwrap_or(d.lockout_minutes),
        max_failures_per_address: f.int("max_failures_per_address").unwrap_or(d.max_failures_per_address),
        idle_timeout_minutes: f.int("idle_timeout_minutes").unwrap_or(d.idle_timeout_minutes),
        absolute_timeout_hours: f.int("absolute_timeout_hours").unwrap_or(d.absolute_timeout_hours),
        min_password_length: f.int("min_password_length").unwrap_or(d.min_password_length),
        two_factor_roles: f.all("two_factor_roles"),
        two_factor_grace_days: f.int("two_factor_grace_days").unwrap_or(d.two_factor_grace_days),
        step_up_minutes: f.int("step_up_minutes").unwrap_or(d.step_up_minutes),
        two_factor_required_since: None,
        password_sign_in_off: f.all("password_sign_in_off"),
        step_up_for_change_approval: f.checked("step_up_for_change_approval"),
    };
    match s.app.set_security_settings(&user.actor, settings.clone()).await {
        Ok(_) => done("/admin/security", "settings_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            security_page(&s, &user, &HashMap::new(), Some(settings), Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Template)]
#[template(path = "admin/surveys.html")]
struct SurveysPage {
    l: Layout,
    s: orion_app::settings::surveys::SurveySettings,
    error: Option<String>,
}

async fn surveys(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(r) = admin_only(&user) {
        return r;
    }
    match s.app.survey_settings(&user.actor).await {
        Ok(settings) => render(&SurveysPage {
            l: Layout::new(Some(&user), "Satisfaction surveys", "admin", flash(&q)),
            s: settings,
            error: None,
        }),
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn save_surveys(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    // A number typed wrong reaches the app out of range, so the page names the field.
    let n = |k: &str| f.get(k).map(|v| v.trim().parse::<i64>().unwrap_or(-1)).unwrap_or(-1);
    let settings = orion_app::settings::surveys::SurveySettings {
        enabled: f.checked("enabled"),
        sample_percent: n("sample_percent"),
        delay_minutes: n("delay_minutes"),
        expiry_days: n("expiry_days"),
        cooldown_days: n("cooldown_days"),
        comment_required_below: n("comment_required_below"),
        follow_up_at_or_below: n("follow_up_at_or_below"),
    };
    match s.app.set_survey_settings(&user.actor, settings.clone()).await {
        Ok(_) => done("/admin/surveys", "surveys_saved"),
        Err(e @ AppError::Validation(_)) => {
            let p = SurveysPage {
                l: Layout::new(Some(&user), "Satisfaction surveys", "admin", None),
                s: settings,
                error: Some(explain(&e)),
            };
            let err = p.error.clone();
            with_status(render(&p), &err)
        }
        Err(e) => error_page(Some(&user), &e),
    }
}
