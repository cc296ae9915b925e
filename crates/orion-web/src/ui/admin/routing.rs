//! Admin pages for routing rules: the ordered list with each rule in one sentence, a form to add
//! or change one, moving a rule up or down, switching it off, and a test run on a pasted mail.

use super::{admin_only, flash, with_status};
use crate::AppState;
use crate::ui::form::{Fields, done, words};
use crate::ui::layout::{Layout, error_page, explain_as, render};
use crate::ui::session::WebUser;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::routing::{Rule, RuleInput, RuleTestInput, RuleTestResult};
use orion_domain::Channel;
use orion_domain::routing::{Actions, Conditions};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/routing", get(list).post(create))
        .route("/admin/routing/test", post(try_rules))
        .route("/admin/routing/new", get(new_form))
        .route("/admin/routing/{id}", get(edit_form).post(save))
        .route("/admin/routing/{id}/move", post(move_rule))
        .route("/admin/routing/{id}/active", post(toggle))
        .route("/admin/routing/{id}/delete", post(delete))
}

/// The labels of the form's fields, for error messages.
const LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("actions", "Actions"),
    ("conditions.channels", "Came by"),
    ("conditions.senders", "Sender"),
    ("conditions.mailboxes", "Mailbox"),
    ("conditions.words", "Words"),
    ("conditions.categories", "Category is"),
    ("conditions.priorities", "Priority is"),
    ("conditions.departments", "Department"),
    ("conditions.assets", "About asset"),
    ("actions.group", "Route to group"),
    ("actions.assignee", "Assign to"),
    ("actions.category", "Set category"),
    ("actions.impact", "Set impact"),
    ("actions.urgency", "Set urgency"),
    ("actions.tags", "Add tags"),
    ("actions.restrict_to", "Restrict to group"),
    ("actions.work_note", "Work note"),
    ("actions.notify", "Tell"),
    ("actions.auto_reply", "Answer the requester with"),
    ("subject", "Subject"),
    ("requester", "Sender"),
    ("category", "Category"),
];

#[derive(Template)]
#[template(path = "admin/routing.html")]
struct ListPage {
    l: Layout,
    rules: Vec<Rule>,
    channels: Vec<(&'static str, String)>,
    /// The test run's sample as typed, and what the rules did with it
    sample: HashMap<String, String>,
    result: Option<RuleTestResult>,
    error: Option<String>,
}

impl ListPage {
    fn typed(&self, k: &str) -> String {
        self.sample.get(k).cloned().unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "admin/routing_form.html")]
struct FormPage {
    l: Layout,
    /// `None`: a new rule
    id: Option<i64>,
    f: HashMap<String, String>,
    channels: Vec<(&'static str, String)>,
    picked_channels: Vec<String>,
    picked_priorities: Vec<String>,
    groups: Vec<String>,
    categories: Vec<String>,
    error: Option<String>,
}

impl FormPage {
    fn v(&self, k: &str) -> String {
        self.f.get(k).cloned().unwrap_or_default()
    }
}

fn channels() -> Vec<(&'static str, String)> {
    Channel::ALL.iter().map(|c| (c.as_str(), words(c.as_str()))).collect()
}

async fn list_page(
    s: &AppState,
    user: &WebUser,
    flash_key: Option<&str>,
    sample: HashMap<String, String>,
    outcome: Option<Result<RuleTestResult, String>>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let rules = match s.app.list_rules(&user.actor).await {
        Ok(r) => r,
        Err(e) => return error_page(Some(user), &e),
    };
    let (result, error) = match outcome {
        Some(Ok(r)) => (Some(r), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let p = ListPage {
        l: Layout::new(Some(user), "Routing rules", "admin", flash_key),
        rules,
        channels: channels(),
        sample,
        result,
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn list(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    list_page(&s, &user, flash(&q), HashMap::new(), None).await
}

/// The form's fields from a stored rule.
fn fields_of(r: &Rule) -> HashMap<String, String> {
    let c = &r.conditions;
    let x = &r.actions;
    let join = |v: &[String]| v.join(", ");
    let mut f = HashMap::new();
    f.insert("name".into(), r.name.clone());
    f.insert("active".into(), if r.active { "on".into() } else { String::new() });
    f.insert("stop".into(), if r.stop { "on".into() } else { String::new() });
    f.insert("on_update".into(), if r.on_update { "on".into() } else { String::new() });
    f.insert("senders".into(), join(&c.senders));
    f.insert("mailboxes".into(), join(&c.mailboxes));
    f.insert("words".into(), join(&c.words));
    f.insert("categories".into(), join(&c.categories));
    f.insert("departments".into(), join(&c.departments));
    f.insert("assets".into(), join(&c.assets));
    let yes_no = |b: Option<bool>, yes: &str, no: &str| match b {
        Some(true) => yes.to_string(),
        Some(false) => no.to_string(),
        None => String::new(),
    };
    f.insert("vip".into(), yes_no(c.vip, "yes", "no"));
    f.insert("business_hours".into(), yes_no(c.business_hours, "in", "out"));
    f.insert("group".into(), x.group.clone().unwrap_or_default());
    f.insert("assignee".into(), x.assignee.clone().unwrap_or_default());
    f.insert("category".into(), x.category.clone().unwrap_or_default());
    f.insert("impact".into(), x.impact.map(|i| i.to_string()).unwrap_or_default());
    f.insert("urgency".into(), x.urgency.map(|i| i.to_string()).unwrap_or_default());
    f.insert("tags".into(), join(&x.tags));
    f.insert("restrict_to".into(), x.restrict_to.clone().unwrap_or_default());
    f.insert("work_note".into(), x.work_note.clone().unwrap_or_default());
    f.insert("notify".into(), join(&x.notify));
    f.insert("auto_reply".into(), x.auto_reply.clone().unwrap_or_default());
    f.insert("channels".into(), c.channels.join(","));
    f.insert("priorities".into(), c.priorities.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(","));
    f
}

/// The typed form as a map (multi-value fields joined by commas).
fn typed(f: &Fields) -> HashMap<String, String> {
    let mut m: HashMap<String, String> = HashMap::new();
    for (k, v) in &f.0 {
        m.entry(k.clone()).and_modify(|x| *x = format!("{x},{v}")).or_insert_with(|| v.clone());
    }
    m
}

async fn form_page(
    s: &AppState,
    user: &WebUser,
    id: Option<i64>,
    f: HashMap<String, String>,
    error: Option<String>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let groups = crate::ui::pickers::group_names(s, user).await;
    let categories = crate::ui::pickers::category_paths(s, user).await;
    let split = |k: &str| f.get(k).map(|v| v.split(',').map(str::to_string).collect()).unwrap_or_default();
    let title = match (&id, f.get("name")) {
        (Some(_), Some(n)) if !n.is_empty() => format!("Routing rule {n}"),
        _ => "New routing rule".to_string(),
    };
    let p = FormPage {
        l: Layout::new(Some(user), title, "admin", None),
        id,
        picked_channels: split("channels"),
        picked_priorities: split("priorities"),
        f,
        channels: channels(),
        groups,
        categories,
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn new_form(State(s): State<AppState>, user: WebUser) -> Response {
    let mut f = HashMap::new();
    f.insert("active".into(), "on".into());
    form_page(&s, &user, None, f, None).await
}

async fn edit_form(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.get_rule(&user.actor, id).await {
        Ok(r) => form_page(&s, &user, Some(id), fields_of(&r), None).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

/// A comma-separated field as a list.
fn list_of(f: &Fields, k: &str) -> Vec<String> {
    f.get(k).unwrap_or_default().split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_string).collect()
}

fn input_of(f: &Fields) -> RuleInput {
    let level = |k: &str| f.int(k).map(|n| n.clamp(0, 255) as u8);
    let conditions = Conditions {
        channels: f.all("channels"),
        senders: list_of(f, "senders"),
        mailboxes: list_of(f, "mailboxes"),
        words: list_of(f, "words"),
        categories: list_of(f, "categories"),
        priorities: f.all("priorities").iter().filter_map(|p| p.parse().ok()).collect(),
        departments: list_of(f, "departments"),
        vip: match f.get("vip") {
            Some("yes") => Some(true),
            Some("no") => Some(false),
            _ => None,
        },
        business_hours: match f.get("business_hours") {
            Some("in") => Some(true),
            Some("out") => Some(false),
            _ => None,
        },
        assets: list_of(f, "assets"),
    };
    let actions = Actions {
        group: f.text("group"),
        assignee: f.text("assignee"),
        category: f.text("category"),
        impact: level("impact"),
        urgency: level("urgency"),
        tags: list_of(f, "tags")
            .iter()
            .flat_map(|t| t.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect(),
        restrict_to: f.text("restrict_to"),
        work_note: f.text("work_note"),
        notify: list_of(f, "notify"),
        auto_reply: f.text("auto_reply"),
    };
    RuleInput {
        name: f.text("name"),
        active: Some(f.checked("active")),
        stop: Some(f.checked("stop")),
        on_update: Some(f.checked("on_update")),
        conditions: Some(conditions),
        actions: Some(actions),
    }
}

async fn create(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    match s.app.create_rule(&user.actor, input_of(&f)).await {
        Ok(_) => done("/admin/routing", "rule_saved"),
        Err(e @ AppError::Validation(_)) => form_page(&s, &user, None, typed(&f), Some(explain_as(&e, LABELS))).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn save(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    match s.app.update_rule(&user.actor, id, input_of(&f)).await {
        Ok(_) => done("/admin/routing", "rule_saved"),
        Err(e @ AppError::Validation(_)) => {
            form_page(&s, &user, Some(id), typed(&f), Some(explain_as(&e, LABELS))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn move_rule(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    match s.app.move_rule(&user.actor, id, f.get("dir") == Some("up")).await {
        Ok(_) => done("/admin/routing", "rule_moved"),
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn toggle(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    let input = RuleInput { active: Some(f.checked("active")), ..RuleInput::default() };
    match s.app.update_rule(&user.actor, id, input).await {
        Ok(r) if r.active => done("/admin/routing", "rule_on"),
        Ok(_) => done("/admin/routing", "rule_off"),
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn delete(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.delete_rule(&user.actor, id).await {
        Ok(()) => done("/admin/routing", "rule_deleted"),
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn try_rules(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let level = |k: &str| f.int(k).map(|n| n.clamp(0, 255) as u8);
    let input = RuleTestInput {
        channel: f.text("channel"),
        requester: f.text("requester"),
        mailbox: f.text("mailbox"),
        subject: f.text("subject"),
        body: f.text("body"),
        category: None,
        impact: level("impact"),
        urgency: level("urgency"),
        at: None,
    };
    let outcome = match s.app.test_rules(&user.actor, input).await {
        Ok(r) => Ok(r),
        Err(e @ AppError::Validation(_)) => Err(explain_as(&e, LABELS)),
        Err(e) => return error_page(Some(&user), &e),
    };
    list_page(&s, &user, None, typed(&f), Some(outcome)).await
}
