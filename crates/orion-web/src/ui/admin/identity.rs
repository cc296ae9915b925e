//! Admin pages for directory sync: the sources (add, change, remove), previewing and running a
//! sync, and each run's changes.

use super::{admin_only, flash, with_status};
use crate::AppState;
use crate::ui::auth::require_recent_second_factor;
use crate::ui::form::{Fields, done, when};
use crate::ui::layout::{Layout, error_page, explain, render};
use crate::ui::session::WebUser;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::identity::config::{AttributeMapInput, DirectorySourceInput, GroupRule};
use orion_app::identity::plan::ChangeList;
use orion_app::identity::{DirectoryRun, DirectorySource, SyncRequest};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/directory", get(sources).post(create_source))
        .route("/admin/directory/{id}", get(source_page).post(save_source))
        .route("/admin/directory/{id}/sync", post(sync))
        .route("/admin/directory/{id}/remove", post(remove))
        .route("/admin/directory/runs/{id}", get(run_page))
}

const ROLES: &[&str] = &["requester", "agent", "lead", "admin"];

/// A run as a table row.
struct RunRow {
    id: i64,
    at: String,
    outcome: &'static str,
    alarm: bool,
    by: &'static str,
    message: String,
}

fn outcome_label(o: &str) -> &'static str {
    match o {
        "applied" => "Applied",
        "previewed" => "Preview (nothing written)",
        "refused" => "Refused by the safety limits",
        _ => "Failed",
    }
}

impl RunRow {
    fn of(r: &DirectoryRun) -> Self {
        RunRow {
            id: r.id,
            at: when(&r.started_at),
            outcome: outcome_label(&r.outcome),
            alarm: matches!(r.outcome.as_str(), "refused" | "failed"),
            by: if r.started_by == "manual" { "by hand" } else { "on schedule" },
            message: r.message.clone(),
        }
    }
}

/// The form's values: a source being added or changed.
struct Form {
    name: String,
    kind: String,
    url: String,
    starttls: bool,
    ca_pem: String,
    bind_dn: String,
    has_secret: bool,
    base_dn: String,
    user_filter: String,
    attrs: Vec<(&'static str, &'static str, String)>,
    rules: Vec<GroupRule>,
    unmapped_users: String,
    max_disable_percent: i64,
    sync_minutes: i64,
    page_size: i64,
    handover_group: String,
    workflow_group: String,
    /// The attributes holding a joiner's first day and a leaver's last day (blank: none)
    start_date: String,
    end_date: String,
    enabled: bool,
}

const ATTRS: [(&str, &str); 9] = [
    ("attr_id", "Stable id"),
    ("attr_login", "Login"),
    ("attr_email", "E-mail"),
    ("attr_name", "Name"),
    ("attr_phone", "Phone"),
    ("attr_department", "Department"),
    ("attr_title", "Job title"),
    ("attr_location", "Location"),
    ("attr_manager", "Manager (a DN)"),
];

impl Form {
    fn blank() -> Self {
        Form {
            name: String::new(),
            kind: "openldap".into(),
            url: String::new(),
            starttls: false,
            ca_pem: String::new(),
            bind_dn: String::new(),
            has_secret: false,
            base_dn: String::new(),
            user_filter: String::new(),
            attrs: ATTRS.iter().map(|(k, l)| (*k, *l, String::new())).collect(),
            rules: Vec::new(),
            unmapped_users: "requester".into(),
            max_disable_percent: 10,
            sync_minutes: 60,
            page_size: 500,
            handover_group: String::new(),
            workflow_group: String::new(),
            start_date: String::new(),
            end_date: String::new(),
            enabled: true,
        }
    }

    fn of(s: &DirectorySource) -> Self {
        let a = &s.attributes;
        let values = [&a.id, &a.login, &a.email, &a.name, &a.phone, &a.department, &a.title, &a.location, &a.manager];
        Form {
            name: s.name.clone(),
            kind: s.kind.clone(),
            url: s.url.clone(),
            starttls: s.starttls,
            ca_pem: String::new(),
            bind_dn: s.bind_dn.clone().unwrap_or_default(),
            has_secret: s.has_secret,
            base_dn: s.base_dn.clone(),
            user_filter: s.user_filter.clone(),
            attrs: ATTRS.iter().zip(values).map(|((k, l), v)| (*k, *l, v.clone())).collect(),
            rules: s.group_rules.clone(),
            unmapped_users: s.unmapped_users.clone(),
            max_disable_percent: s.max_disable_percent,
            sync_minutes: s.sync_minutes,
            page_size: s.page_size,
            handover_group: s.handover_group.clone().unwrap_or_default(),
            workflow_group: s.workflow_group.clone().unwrap_or_default(),
            start_date: a.start_date.clone().unwrap_or_default(),
            end_date: a.end_date.clone().unwrap_or_default(),
            enabled: s.enabled,
        }
    }

    /// What the form posted, as the service takes it; `editing` leaves blank secrets and CA out.
    fn read(f: &Fields, editing: bool) -> (Self, DirectorySourceInput) {
        let t = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
        let dns = f.all("rule_dn");
        let roles = f.all("rule_role");
        let groups = f.all("rule_group");
        let rules: Vec<GroupRule> = dns
            .iter()
            .enumerate()
            .filter(|(_, d)| !d.trim().is_empty())
            .map(|(i, d)| GroupRule {
                group_dn: d.trim().to_string(),
                role: roles.get(i).map(|r| r.trim().to_string()).filter(|r| !r.is_empty()),
                group: groups.get(i).map(|g| g.trim().to_string()).filter(|g| !g.is_empty()),
            })
            .collect();
        let attrs: Vec<(&'static str, &'static str, String)> = ATTRS.iter().map(|(k, l)| (*k, *l, t(k))).collect();
        let a = |i: usize| Some(attrs[i].2.clone()).filter(|v| !v.is_empty());
        let form = Form {
            name: t("name"),
            kind: t("kind"),
            url: t("url"),
            starttls: f.checked("starttls"),
            ca_pem: t("ca_pem"),
            bind_dn: t("bind_dn"),
            has_secret: false,
            base_dn: t("base_dn"),
            user_filter: t("user_filter"),
            attrs: attrs.clone(),
            rules: rules.clone(),
            unmapped_users: t("unmapped_users"),
            max_disable_percent: f.int("max_disable_percent").unwrap_or(10),
            sync_minutes: f.int("sync_minutes").unwrap_or(60),
            page_size: f.int("page_size").unwrap_or(500),
            handover_group: t("handover_group"),
            workflow_group: t("workflow_group"),
            start_date: t("attr_start_date"),
            end_date: t("attr_end_date"),
            enabled: f.checked("enabled"),
        };
        let secret = f.get("secret").filter(|s| !s.is_empty()).map(str::to_string);
        let input = DirectorySourceInput {
            name: Some(form.name.clone()),
            position: None,
            kind: Some(form.kind.clone()),
            url: Some(form.url.clone()),
            starttls: Some(form.starttls),
            ca_pem: if editing && form.ca_pem.is_empty() && !f.checked("clear_ca") {
                None
            } else {
                Some(form.ca_pem.clone())
            },
            bind_dn: Some(form.bind_dn.clone()),
            secret,
            secret_file: None,
            base_dn: Some(form.base_dn.clone()),
            user_filter: Some(form.user_filter.clone()).filter(|s| !s.is_empty()),
            attributes: Some(AttributeMapInput {
                id: a(0),
                login: a(1),
                email: a(2),
                name: a(3),
                phone: a(4),
                department: a(5),
                title: a(6),
                location: a(7),
                manager: a(8),
                // Blank clears them when editing; a new source takes its kind's default.
                start_date: Some(form.start_date.clone()).filter(|v| editing || !v.is_empty()),
                end_date: Some(form.end_date.clone()).filter(|v| editing || !v.is_empty()),
            }),
            group_rules: Some(rules),
            unmapped_users: Some(form.unmapped_users.clone()).filter(|s| !s.is_empty()),
            max_disable_percent: f.int("max_disable_percent"),
            sync_minutes: f.int("sync_minutes"),
            page_size: f.int("page_size"),
            handover_group: Some(form.handover_group.clone()),
            workflow_group: Some(form.workflow_group.clone()),
            enabled: Some(form.enabled),
        };
        (form, input)
    }
}

struct SourceRow {
    id: i64,
    name: String,
    kind: &'static str,
    url: String,
    base_dn: String,
    users: i64,
    schedule: String,
    last: String,
    error: Option<String>,
}

fn schedule(s: &DirectorySource) -> String {
    match (s.enabled, s.sync_minutes) {
        (false, _) => "Switched off".into(),
        (true, 0) => "By hand only".into(),
        (true, 60) => "Every hour".into(),
        (true, m) if m % 60 == 0 => format!("Every {} hours", m / 60),
        (true, m) => format!("Every {m} minutes"),
    }
}

fn kind_label(k: &str) -> &'static str {
    if k == "active_directory" { "Active Directory" } else { "LDAP" }
}

#[derive(Template)]
#[template(path = "admin/directory.html")]
struct SourcesPage {
    l: Layout,
    sources: Vec<SourceRow>,
    f: Form,
    roles: &'static [&'static str],
    groups: Vec<String>,
    blank_rules: usize,
    error: Option<String>,
}

use crate::ui::pickers::group_names;

async fn sources_page(
    s: &AppState,
    user: &WebUser,
    flash_key: Option<&str>,
    form: Option<Form>,
    error: Option<String>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let list = match s.app.list_directory_sources(&user.actor).await {
        Ok(l) => l,
        Err(e) => return error_page(Some(user), &e),
    };
    let sources = list
        .iter()
        .map(|x| SourceRow {
            id: x.id,
            name: x.name.clone(),
            kind: kind_label(&x.kind),
            url: x.url.clone(),
            base_dn: x.base_dn.clone(),
            users: x.users,
            schedule: schedule(x),
            last: x.last_run_at.as_deref().map(when).unwrap_or_else(|| "never".into()),
            error: x.last_error.clone(),
        })
        .collect();
    let f = form.unwrap_or_else(Form::blank);
    let p = SourcesPage {
        l: Layout::new(Some(user), "Directory sync", "admin", flash_key),
        sources,
        blank_rules: 3,
        f,
        roles: ROLES,
        groups: group_names(s, user).await,
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn sources(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    sources_page(&s, &user, flash(&q), None, None).await
}

async fn create_source(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    if let Some(r) = require_recent_second_factor(&s, &user, "/admin/directory").await {
        return r;
    }
    let (form, input) = Form::read(&f, false);
    match s.app.create_directory_source(&user.actor, input).await {
        Ok(src) => done(&format!("/admin/directory/{}", src.id), "source_added"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            sources_page(&s, &user, None, Some(form), Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Template)]
#[template(path = "admin/directory_source.html")]
struct SourcePage {
    l: Layout,
    id: i64,
    src_users: i64,
    next_run: Option<String>,
    last_error: Option<String>,
    f: Form,
    roles: &'static [&'static str],
    groups: Vec<String>,
    blank_rules: usize,
    runs: Vec<RunRow>,
    more_runs: Option<String>,
    error: Option<String>,
}

async fn source_page_with(
    s: &AppState,
    user: &WebUser,
    id: i64,
    q: &HashMap<String, String>,
    form: Option<Form>,
    error: Option<String>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let src = match s.app.get_directory_source(&user.actor, id).await {
        Ok(x) => x,
        Err(e) => return error_page(Some(user), &e),
    };
    let runs = match s.app.list_directory_runs(&user.actor, id, q.get("cursor").map(String::as_str), Some(20)).await {
        Ok(p) => p,
        Err(e) => return error_page(Some(user), &e),
    };
    let mut f = form.unwrap_or_else(|| Form::of(&src));
    f.has_secret = src.has_secret;
    let p = SourcePage {
        l: Layout::new(Some(user), format!("Directory source {}", src.name), "admin", flash(q)),
        id,
        src_users: src.users,
        next_run: src.next_run_at.as_deref().map(when),
        last_error: src.last_error.clone(),
        f,
        roles: ROLES,
        groups: group_names(s, user).await,
        blank_rules: 2,
        runs: runs.items.iter().map(RunRow::of).collect(),
        more_runs: runs.next_cursor.map(|c| format!("/admin/directory/{id}?cursor={c}")),
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn source_page(
    State(s): State<AppState>,
    user: WebUser,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    source_page_with(&s, &user, id, &q, None, None).await
}

async fn save_source(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    if let Some(r) = require_recent_second_factor(&s, &user, &format!("/admin/directory/{id}")).await {
        return r;
    }
    let (form, input) = Form::read(&f, true);
    match s.app.update_directory_source(&user.actor, id, input).await {
        Ok(_) => done(&format!("/admin/directory/{id}"), "source_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            source_page_with(&s, &user, id, &HashMap::new(), Some(form), Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// "Preview changes", "Sync now" and "Sync anyway": the run's page shows what happened.
async fn sync(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    if f.get("mode") != Some("preview")
        && let Some(r) = require_recent_second_factor(&s, &user, &format!("/admin/directory/{id}")).await
    {
        return r;
    }
    let req = SyncRequest {
        dry_run: Some(f.get("mode") == Some("preview")),
        confirm_mass_deactivation: Some(f.checked("confirm")),
    };
    match s.app.sync_directory_now(&user.actor, id, req).await {
        Ok(run) => Redirect::to(&format!("/admin/directory/runs/{}", run.id)).into_response(),
        Err(e @ AppError::Conflict(_)) => {
            source_page_with(&s, &user, id, &HashMap::new(), None, Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn remove(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    if let Some(r) = require_recent_second_factor(&s, &user, &format!("/admin/directory/{id}")).await {
        return r;
    }
    match s.app.delete_directory_source(&user.actor, id).await {
        Ok(()) => done("/admin/directory", "source_removed"),
        Err(e) => error_page(Some(&user), &e),
    }
}

/// One kind of change on the run page.
struct Section {
    title: &'static str,
    list: ChangeList,
}

#[derive(Template)]
#[template(path = "admin/directory_run.html")]
struct RunPage {
    l: Layout,
    run: RunRow,
    source_id: i64,
    dry_run: bool,
    refused: bool,
    mass: bool,
    sections: Vec<Section>,
    role_changes: i64,
    group_changes: i64,
    manager_changes: i64,
}

async fn run_page(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    if let Some(r) = admin_only(&user) {
        return r;
    }
    let run = match s.app.get_directory_run(&user.actor, id).await {
        Ok(r) => r,
        Err(e) => return error_page(Some(&user), &e),
    };
    let d = run.diff.clone();
    let sections = vec![
        Section { title: "New users", list: d.create },
        Section { title: "Changed users", list: d.update },
        Section { title: "Deactivated", list: d.disable },
        Section { title: "Re-enabled", list: d.reenable },
        Section { title: "Left alone", list: d.skipped },
    ];
    let p = RunPage {
        l: Layout::new(Some(&user), format!("Directory run {id}"), "admin", None),
        source_id: run.source_id,
        dry_run: run.dry_run,
        refused: run.outcome == "refused",
        mass: run.outcome == "refused" && !run.message.contains("admin"),
        run: RunRow::of(&run),
        sections,
        role_changes: d.role_changes,
        group_changes: d.group_changes,
        manager_changes: d.manager_changes,
    };
    render(&p)
}

use axum::response::IntoResponse;
