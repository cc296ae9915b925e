//! Admin pages for the service catalog: the items with their state, adding and importing one,
//! and an item's page — its fields, who may ask for it, its form, approval chain and tasks read in
//! sentences with a link to change each part (the designer, `catalog_design`), its package as the
//! JSON the catalog guide describes (for those who prefer it), publishing, and export as a file.

use super::{admin_only, flash};
use crate::AppState;
use crate::ui::form::{Fields, done};
use crate::ui::layout::{Layout, error_page, explain, explain_as, render};
use crate::ui::session::WebUser;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::catalog::{Audience, CatalogItem, CatalogItemInput, CatalogQuery, ICONS, Package};
use orion_domain::catalog::{Op, Rule};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/catalog", get(list).post(add))
        .route("/admin/catalog/import", post(import))
        .route("/admin/catalog/{id}", get(item).post(save))
        .route("/admin/catalog/{id}/publish", post(publish))
        .route("/admin/catalog/{id}/export", get(export))
        .route("/admin/catalog/{id}/requests.csv", get(requests_csv))
        .route("/admin/catalog/{id}/try", post(try_it))
}

/// A dry run on the item's page: who it was tried as, the answers typed, and what came out.
struct Trial {
    as_user: String,
    answers: String,
    result: Result<orion_app::catalog::DryRun, String>,
}

const LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("category", "Category tile"),
    ("description", "Description"),
    ("icon", "Icon"),
    ("package", "Form and routing"),
    ("audience", "Who may ask"),
    ("format", "File format"),
    ("row_version", "Edit"),
];

struct Row {
    id: i64,
    name: String,
    category: String,
    version: i64,
    active: bool,
    changes: bool,
    requested: i64,
}

#[derive(Template)]
#[template(path = "admin/catalog.html")]
struct ListPage {
    l: Layout,
    rows: Vec<Row>,
    icons: &'static [(&'static str, &'static str)],
    error: Option<String>,
    typed: HashMap<String, String>,
}

impl ListPage {
    fn t(&self, k: &str) -> String {
        self.typed.get(k).cloned().unwrap_or_default()
    }
}

async fn list_page(
    s: &AppState,
    user: &WebUser,
    flash_key: Option<&str>,
    error: Option<String>,
    typed: HashMap<String, String>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let mut rows = Vec::new();
    let mut cursor = None;
    loop {
        let q = CatalogQuery { cursor, limit: Some(200), ..CatalogQuery::default() };
        match s.app.catalog_items(&user.actor, &q).await {
            Ok(p) => {
                rows.extend(p.items.into_iter().map(|i| Row {
                    id: i.id,
                    name: i.name,
                    category: i.category,
                    version: i.version,
                    active: i.active,
                    changes: i.unpublished_changes,
                    requested: i.requested,
                }));
                match p.next_cursor {
                    // An admin page lists a catalog (hundreds of items), not a million.
                    Some(c) if rows.len() < 2_000 => cursor = Some(c),
                    _ => break,
                }
            }
            Err(e) => return error_page(Some(user), &e),
        }
    }
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let mut resp = render(&ListPage {
        l: Layout::new(Some(user), "Service catalog", "admin", flash_key),
        rows,
        icons: &ICONS,
        error,
        typed,
    });
    *resp.status_mut() = status;
    resp
}

async fn list(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    list_page(&s, &user, flash(&q), None, HashMap::new()).await
}

/// Adds an item with an empty form; its page opens to build the form.
async fn add(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let typed: HashMap<String, String> = f.0.iter().cloned().collect();
    let input = CatalogItemInput {
        name: f.get("name").unwrap_or_default().to_string(),
        description: f.get("description").unwrap_or_default().to_string(),
        category: f.get("category").unwrap_or_default().to_string(),
        icon: f.text("icon"),
        audience: None,
        active: Some(true),
        package: None,
        publish: false,
        row_version: None,
    };
    match s.app.create_catalog_item(&user.actor, input).await {
        Ok(i) => done(&format!("/admin/catalog/{}", i.id), "item_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            list_page(&s, &user, None, Some(explain_as(&e, LABELS)), typed).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// Imports an exported item pasted into the page.
async fn import(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let text = f.get("file").unwrap_or_default().to_string();
    let typed: HashMap<String, String> = [("file".to_string(), text.clone())].into_iter().collect();
    let file: orion_app::catalog::CatalogImport = match serde_json::from_str(&text) {
        Ok(f) => f,
        Err(e) => {
            let msg = format!("This is not an exported catalog item: {e}.");
            return list_page(&s, &user, None, Some(msg), typed).await;
        }
    };
    match s.app.import_catalog_item(&user.actor, file, false).await {
        Ok(Some(i)) => done(&format!("/admin/catalog/{}", i.id), "item_imported"),
        Ok(None) => done("/admin/catalog", "item_imported"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            list_page(&s, &user, None, Some(explain_as(&e, LABELS)), typed).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// One line of the form's outline: a question as an administrator reads it.
struct Line {
    label: String,
    what: String,
}

struct Part {
    /// Its place in the form (the designer's links name it)
    index: usize,
    title: String,
    when: String,
    lines: Vec<Line>,
}

#[derive(Template)]
#[template(path = "admin/catalog_item.html")]
struct ItemPage {
    l: Layout,
    i: CatalogItem,
    icons: &'static [(&'static str, &'static str)],
    roles: &'static [&'static str],
    groups: Vec<String>,
    /// The package as edited (the draft, or what was typed when refused)
    package: String,
    departments: String,
    outline: Vec<Part>,
    /// The approval chain as read: one line per step
    chain: Vec<Line>,
    /// The tasks as read: one line per task
    tasks: Vec<Line>,
    /// Where requests go, in sentences
    routing: Vec<String>,
    error: Option<String>,
    trial: Option<Trial>,
}

impl ItemPage {
    fn has_role(&self, r: &str) -> bool {
        self.i.audience.roles.iter().any(|x| x == r)
    }
    fn has_group(&self, g: &str) -> bool {
        self.i.audience.groups.iter().any(|x| x == g)
    }
}

/// "when Memory (GB) is more than 16", from a rule.
fn rule_text(r: &Rule, p: &Package) -> String {
    let label = |k: &str| p.form.question(k).map(|q| q.label.clone()).unwrap_or_else(|| k.to_string());
    let value = |k: &str, v: &str| {
        p.form
            .question(k)
            .and_then(|q| q.choices.iter().find(|c| c.value == v))
            .map(|c| c.label.clone())
            .unwrap_or_else(|| v.to_string())
    };
    let parts: Vec<String> = r
        .conditions
        .iter()
        .map(|c| match c.op {
            Op::IsEmpty | Op::IsNotEmpty => format!("“{}” {}", label(&c.question), c.op.label()),
            _ => format!("“{}” {} “{}”", label(&c.question), c.op.label(), value(&c.question, &c.value)),
        })
        .collect();
    let join = if r.r#match == orion_domain::catalog::Match::Any { " or " } else { " and " };
    parts.join(join)
}

fn outline(p: &Package) -> Vec<Part> {
    p.form
        .sections
        .iter()
        .enumerate()
        .map(|(index, s)| Part {
            index,
            title: s.title.clone(),
            when: s.show_when.as_ref().map(|r| format!("Shown when {}", rule_text(r, p))).unwrap_or_default(),
            lines: s
                .questions
                .iter()
                .map(|q| {
                    let mut what = vec![q.kind.label().to_string()];
                    if q.required {
                        what.push("required".into());
                    }
                    if !q.choices.is_empty() {
                        let c: Vec<&str> = q.choices.iter().map(|c| c.label.as_str()).collect();
                        what.push(format!("choices: {}", c.join(", ")));
                    }
                    if let Some(r) = &q.show_when {
                        what.push(format!("shown when {}", rule_text(r, p)));
                    }
                    if let Some(r) = &q.require_when {
                        what.push(format!("required when {}", rule_text(r, p)));
                    }
                    Line { label: q.label.clone(), what: what.join("; ") }
                })
                .collect(),
        })
        .collect()
}

/// "Manager approval — the requester's manager; any one of them; reminded after 8 business hours…"
fn chain(p: &Package) -> Vec<Line> {
    use orion_app::catalog::Approver;
    p.approvals
        .iter()
        .map(|s| {
            let who: Vec<String> = s
                .approvers
                .iter()
                .map(|a| match a {
                    Approver::User { email } => email.clone(),
                    Approver::Group { name } => format!("everyone in {name}"),
                    Approver::Manager => "the requester's manager".into(),
                    Approver::ManagersManager => "their manager's manager".into(),
                    Approver::Question { key } => {
                        let label = p.form.question(key).map(|q| q.label.clone()).unwrap_or_else(|| key.clone());
                        format!("the person picked in “{label}”")
                    }
                })
                .collect();
            let mut what = vec![who.join(", ")];
            what.push(match s.rule.trim() {
                "all" => "all of them approve".to_string(),
                "majority" => "more than half approve".to_string(),
                "quorum" => format!("at least {} % approve", s.quorum.unwrap_or(100)),
                _ => "any one of them approves".to_string(),
            });
            if let Some(r) = &s.when {
                what.push(format!("only when {}", rule_text(r, p)));
            }
            if let Some(h) = s.remind_after_hours {
                what.push(format!("reminded after {h} business hours"));
            }
            if let Some(h) = s.timeout_hours {
                let then = match s.on_timeout.trim() {
                    "escalate" => "their managers are asked too",
                    "approve" => "approved automatically",
                    "reject" => "rejected automatically",
                    _ => "reminded again",
                };
                what.push(format!("after {h} business hours without a decision, {then}"));
            }
            Line { label: s.name.clone(), what: what.join("; ") }
        })
        .collect()
}

/// "Create an account — Desktop Support, after Order the laptop; records Account name (required)"
fn task_lines(p: &Package) -> Vec<Line> {
    p.tasks
        .iter()
        .map(|t| {
            let mut what = vec![t.group.clone().unwrap_or_else(|| "the request's group".into())];
            let title_of =
                |k: &str| p.tasks.iter().find(|x| x.key == k).map(|x| x.title.clone()).unwrap_or_else(|| k.to_string());
            if !t.after.is_empty() {
                let after: Vec<String> = t.after.iter().map(|a| format!("“{}”", title_of(a))).collect();
                what.push(format!("once {} {} done", after.join(" and "), if after.len() == 1 { "is" } else { "are" }));
            } else {
                what.push("opens when the request is approved".into());
            }
            if !t.outputs.is_empty() {
                let o: Vec<String> = t
                    .outputs
                    .iter()
                    .map(|o| if o.required { format!("{} (required)", o.label) } else { o.label.clone() })
                    .collect();
                what.push(format!("records {}", o.join(", ")));
            }
            Line { label: t.title.clone(), what: what.join("; ") }
        })
        .collect()
}

/// Where requests go and what requesters are told, in sentences.
fn routing_lines(p: &Package, name: &str) -> Vec<String> {
    let mut r = vec![format!(
        "Requests are titled “{}” and go to {}.",
        if p.title.trim().is_empty() { name } else { p.title.trim() },
        p.assignment_group.as_deref().unwrap_or("the service desk")
    )];
    if let Some(c) = &p.category {
        r.push(format!("Their category is {c}."));
    }
    r.push(format!("Impact {}, urgency {}.", p.impact.unwrap_or(3), p.urgency.unwrap_or(3)));
    if let Some(sla) = &p.sla_policy {
        r.push(format!("They are timed by the SLA policy {sla}."));
    }
    if !p.next_steps.trim().is_empty() {
        r.push(format!("Requesters are told: “{}”", p.next_steps.trim()));
    }
    if let Some(w) = &p.workflow {
        let label = |k: &str| p.form.question(k).map_or_else(|| k.to_string(), |q| format!("“{}”", q.label));
        let what = match w.kind.as_str() {
            "joiner" => "a joiner",
            "mover" => "a move",
            _ => "a leaver",
        };
        r.push(format!(
            "Once approved, a request starts {what} for the person answered to {}, on the day answered to {};              it is fulfilled when that closes.",
            label(&w.person),
            label(&w.date)
        ));
    }
    r
}

/// The item's page with a refusal shown over it (the draft as it is).
pub(super) async fn item_refused(s: &AppState, user: &WebUser, id: i64, why: String) -> Response {
    item_page(s, user, id, None, Some((None, why)), None).await
}

async fn item_page(
    s: &AppState,
    user: &WebUser,
    id: i64,
    flash_key: Option<&str>,
    refused: Option<(Option<String>, String)>,
    trial: Option<Trial>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let i = match s.app.catalog_item(&user.actor, id).await {
        Ok(i) => i,
        Err(e) => return error_page(Some(user), &e),
    };
    let draft = i.draft.clone().unwrap_or_default();
    // The package as typed when a save was refused; else the draft as it is.
    let (package, error) = match refused {
        Some((Some(typed), error)) => (typed, Some(error)),
        Some((None, error)) => (serde_json::to_string_pretty(&draft).unwrap_or_default(), Some(error)),
        None => (serde_json::to_string_pretty(&draft).unwrap_or_default(), None),
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let mut resp = render(&ItemPage {
        l: Layout::new(Some(user), format!("Catalog item {}", i.name), "admin", flash_key),
        outline: outline(&draft),
        chain: chain(&draft),
        tasks: task_lines(&draft),
        routing: routing_lines(&draft, &i.name),
        departments: i.audience.departments.join(", "),
        groups: crate::ui::pickers::group_names(s, user).await,
        roles: &["requester", "agent", "lead", "admin"],
        icons: &ICONS,
        package,
        error,
        trial,
        i,
    });
    *resp.status_mut() = status;
    resp
}

async fn item(
    State(s): State<AppState>,
    user: WebUser,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    item_page(&s, &user, id, flash(&q), None, None).await
}

async fn save(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    let typed = f.get("package").unwrap_or_default().to_string();
    let package: Package = match serde_json::from_str(&typed) {
        Ok(p) => p,
        Err(e) => {
            let msg = format!("Form and routing: this is not a package the catalog reads ({e}).");
            return item_page(&s, &user, id, None, Some((Some(typed), msg)), None).await;
        }
    };
    let departments = f
        .get("departments")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect();
    let input = CatalogItemInput {
        name: f.get("name").unwrap_or_default().to_string(),
        description: f.get("description").unwrap_or_default().to_string(),
        category: f.get("category").unwrap_or_default().to_string(),
        icon: f.text("icon"),
        audience: Some(Audience { roles: f.all("roles"), groups: f.all("groups"), departments }),
        active: Some(f.checked("active")),
        package: Some(package),
        publish: f.get("publish").is_some(),
        row_version: f.int("row_version"),
    };
    let publish = input.publish;
    match s.app.update_catalog_item(&user.actor, id, input).await {
        Ok(_) => done(&format!("/admin/catalog/{id}"), if publish { "item_published" } else { "item_saved" }),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            item_page(&s, &user, id, None, Some((Some(typed), explain_as(&e, LABELS))), None).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn publish(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.publish_catalog_item(&user.actor, id).await {
        Ok(_) => done(&format!("/admin/catalog/{id}"), "item_published"),
        Err(e) => error_page(Some(&user), &e),
    }
}

/// The item as a file to download.
async fn export(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.export_catalog_item(&user.actor, id).await {
        Ok(file) => {
            let name: String = file
                .name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
                .collect();
            let body = serde_json::to_string_pretty(&file).unwrap_or_default();
            (
                [
                    (header::CONTENT_TYPE, "application/json".to_string()),
                    (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.json\"")),
                ],
                body,
            )
                .into_response()
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// The item's requests with their answers, as CSV.
async fn requests_csv(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    if let Some(r) = admin_only(&user) {
        return r;
    }
    match crate::routes::catalog::requests_csv(&s, &user.actor, id).await {
        Ok(r) => r,
        Err(e) => error_page(Some(&user), &e),
    }
}

/// "Try it as": fills the draft's form as someone would and shows what the request would produce,
/// writing nothing.
async fn try_it(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    let as_user = f.get("as_user").unwrap_or_default().trim().to_string();
    let answers = f.get("answers").unwrap_or_default().to_string();
    let result = match serde_json::from_str::<std::collections::BTreeMap<String, serde_json::Value>>(
        if answers.trim().is_empty() { "{}" } else { &answers },
    ) {
        Err(e) => Err(format!("The answers are not a JSON object of question keys and answers: {e}")),
        Ok(map) => {
            let input = orion_app::catalog::DryRunInput { as_user: as_user.clone(), answers: map, published: false };
            s.app.dry_run_catalog_item(&user.actor, id, &input).await.map_err(|e| explain(&e))
        }
    };
    item_page(&s, &user, id, None, None, Some(Trial { as_user, answers, result })).await
}
