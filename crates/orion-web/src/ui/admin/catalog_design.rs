//! The form designer of a catalog item: its sections, questions, approval steps, tasks and where
//! its requests go, each edited on a page of labelled fields and rules in sentences ("Show this
//! question when … is …"), instead of the package's JSON.
//!
//! Every page edits the item's draft as it was read: the page carries the item's row version, and
//! a draft changed meanwhile (by another administrator, or in another tab) is refused rather than
//! overwritten — positions in the form would no longer mean the same question. A change is saved
//! only when the whole draft still checks; a refusal names the place in words ("Section
//! “Developer”, question “Memory”: …") and keeps what was typed.

use super::{admin_only, with_status};
use crate::AppState;
use crate::ui::form::{Fields, done};
use crate::ui::layout::{Layout, error_page, explain, render};
use crate::ui::pickers;
use crate::ui::session::WebUser;
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::catalog::{ApprovalStep, Approver, CatalogItem, CatalogItemInput, Package, TaskOutput, TaskTemplate};
use orion_domain::catalog::{Choice, Condition, Match, Op, Question, QuestionKind, Rule, Section};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/catalog/{id}/routing", get(routing_page).post(routing_save))
        .route("/admin/catalog/{id}/sections/{s}", get(section_page).post(section_save))
        .route("/admin/catalog/{id}/sections/{s}/questions/{q}", get(question_page).post(question_save))
        .route("/admin/catalog/{id}/steps/{n}", get(step_page).post(step_save))
        .route("/admin/catalog/{id}/tasks/{n}", get(task_page).post(task_save))
        .route("/admin/catalog/{id}/move", post(move_part))
}

/// Blank condition rows offered under a rule's conditions, to add more.
const BLANK_ROWS: usize = 2;

/// A page's place in a list: a new one, or the one at this position.
#[derive(Clone, Copy, PartialEq)]
enum Slot {
    New,
    At(usize),
}

impl Slot {
    fn parse(s: &str) -> Option<Slot> {
        if s == "new" { Some(Slot::New) } else { s.parse().ok().map(Slot::At) }
    }

    fn path(self) -> String {
        match self {
            Slot::New => "new".into(),
            Slot::At(i) => i.to_string(),
        }
    }
}

fn not_found(user: &WebUser, what: &'static str) -> Response {
    error_page(Some(user), &AppError::NotFound(what))
}

/// The item and its draft, for an administrator.
async fn read(s: &AppState, user: &WebUser, id: i64) -> Result<(CatalogItem, Package), Response> {
    if let Some(r) = admin_only(user) {
        return Err(r);
    }
    match s.app.catalog_item(&user.actor, id).await {
        Ok(i) => {
            let p = i.draft.clone().unwrap_or_default();
            Ok((i, p))
        }
        Err(e) => Err(error_page(Some(user), &e)),
    }
}

/// Saves `p` as the item's draft, read at `row_version`. `Ok(Some(_))`: refused, and why.
async fn save_draft(
    s: &AppState,
    user: &WebUser,
    item: &CatalogItem,
    p: Package,
    row_version: Option<i64>,
) -> Result<Option<String>, Response> {
    let why = |e: &AppError, p: &Package| match e {
        AppError::Validation(errs) => {
            errs.iter().map(|f| format!("{}: {}", place(&f.field, p), f.message)).collect::<Vec<_>>().join("; ")
        }
        AppError::Conflict(_) => "The item was changed meanwhile (by someone else, or in another tab); \
                                  open it again to see the draft as it is now. Nothing was saved."
            .to_string(),
        other => explain(other),
    };
    let input = CatalogItemInput {
        name: item.name.clone(),
        description: item.description.clone(),
        category: item.category.clone(),
        icon: Some(item.icon.clone()),
        audience: Some(item.audience.clone()),
        active: Some(item.active),
        package: Some(p.clone()),
        publish: false,
        row_version,
    };
    match s.app.update_catalog_item(&user.actor, item.id, input).await {
        Ok(_) => Ok(None),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => Ok(Some(why(&e, &p))),
        Err(e) => Err(error_page(Some(user), &e)),
    }
}

/// A refusal's field (`package.form.sections[1].questions[0].choices`) as an administrator reads
/// it: "Section “Developer”, question “Memory (GB)”, choices".
fn place(field: &str, p: &Package) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut section = None;
    for seg in field.split('.') {
        let (name, index) = match seg.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        let part = match (name, index) {
            ("package" | "form", None) => continue,
            ("sections", Some(i)) => {
                section = p.form.sections.get(i);
                match section {
                    Some(s) if !s.title.trim().is_empty() => format!("section “{}”", s.title),
                    _ => format!("section {}", i + 1),
                }
            }
            ("questions", Some(i)) => match section.and_then(|s| s.questions.get(i)) {
                Some(q) if !q.label.trim().is_empty() => format!("question “{}”", q.label),
                _ => format!("question {}", i + 1),
            },
            ("approvals", Some(i)) => match p.approvals.get(i) {
                Some(s) if !s.name.trim().is_empty() => format!("approval step “{}”", s.name),
                _ => format!("approval step {}", i + 1),
            },
            ("tasks", Some(i)) => match p.tasks.get(i) {
                Some(t) if !t.title.trim().is_empty() => format!("task “{}”", t.title),
                _ => format!("task {}", i + 1),
            },
            ("show_when", None) => "“shown when”".into(),
            ("require_when", None) => "“required when”".into(),
            ("when", None) => "“only when”".into(),
            ("conditions", Some(i)) => format!("condition {}", i + 1),
            ("approvers", Some(i)) => format!("approver {}", i + 1),
            ("after", Some(i)) => format!("earlier task {}", i + 1),
            ("reads", Some(i)) => format!("answer shown {}", i + 1),
            ("outputs", Some(i)) => format!("output {}", i + 1),
            ("key", None) => "key".into(),
            ("assignment_group", None) => "group".into(),
            ("sla_policy", None) => "SLA policy".into(),
            (n, Some(i)) => format!("{} {}", n.replace('_', " "), i + 1),
            (n, None) => n.replace('_', " "),
        };
        parts.push(part);
    }
    let text = if parts.is_empty() { "the form".to_string() } else { parts.join(", ") };
    let mut c = text.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// A lower-case key made of a label's letters and digits ("Memory (GB)" → `memory_gb`).
fn key_from(label: &str) -> String {
    let mut key = String::new();
    for c in label.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            key.push(c);
        } else if !key.is_empty() && !key.ends_with('_') {
            key.push('_');
        }
    }
    let key: String = key.trim_end_matches('_').chars().take(40).collect();
    let key = key.trim_end_matches('_').to_string();
    if key.starts_with(|c: char| c.is_ascii_digit()) { format!("q_{key}") } else { key }
}

// ---------------------------------------------------------------------------------------------
// Rules in sentences

/// One condition row of a rule editor, as shown or typed.
struct CondRow {
    question: String,
    op: String,
    value: String,
    /// The question it names is no longer on the form (shown, so that it is not lost unseen)
    unknown: bool,
}

impl CondRow {
    fn blank() -> CondRow {
        CondRow { question: String::new(), op: "equals".into(), value: String::new(), unknown: false }
    }
}

/// Marks the rows naming a question the form no longer asks.
fn mark_unknown(rules: &mut [RuleEdit], asked: &[Asked]) {
    for r in rules {
        for row in &mut r.rows {
            row.unknown = !row.question.is_empty() && !asked.iter().any(|a| a.key == row.question);
        }
    }
}

/// A rule's editor: "Show this question when [all|any] of these hold: [question] [is] [value]".
struct RuleEdit {
    /// The form fields' prefix (`show`, `require`, `when`)
    name: &'static str,
    legend: &'static str,
    any: bool,
    rows: Vec<CondRow>,
}

impl RuleEdit {
    fn of(name: &'static str, legend: &'static str, r: Option<&Rule>) -> RuleEdit {
        let mut rows: Vec<CondRow> = r
            .map(|r| {
                r.conditions
                    .iter()
                    .map(|c| CondRow {
                        question: c.question.clone(),
                        op: op_key(c.op).into(),
                        value: c.value.clone(),
                        unknown: false,
                    })
                    .collect()
            })
            .unwrap_or_default();
        rows.extend((0..BLANK_ROWS).map(|_| CondRow::blank()));
        RuleEdit { name, legend, any: r.is_some_and(|r| r.r#match == Match::Any), rows }
    }

    /// The rule typed in `f` (rows without a question are left out; none: no rule), and its rows
    /// as typed, to show again when the change is refused.
    fn typed(name: &'static str, legend: &'static str, f: &Fields) -> (Option<Rule>, RuleEdit) {
        let qs = f.all(&format!("{name}_q"));
        let ops = f.all(&format!("{name}_op"));
        let vs = f.all(&format!("{name}_v"));
        let any = f.get(&format!("{name}_match")) == Some("any");
        let mut conditions = Vec::new();
        let mut rows = Vec::new();
        for (i, q) in qs.iter().enumerate() {
            let op = ops.get(i).cloned().unwrap_or_else(|| "equals".into());
            let value = vs.get(i).cloned().unwrap_or_default();
            if !q.trim().is_empty() {
                let parsed = Op::ALL.iter().find(|(_, k, _)| *k == op).map_or(Op::Equals, |(o, _, _)| *o);
                let value = if matches!(parsed, Op::IsEmpty | Op::IsNotEmpty) {
                    String::new()
                } else {
                    value.trim().to_string()
                };
                conditions.push(Condition { question: q.trim().to_string(), op: parsed, value: value.clone() });
                rows.push(CondRow { question: q.clone(), op, value, unknown: false });
            }
        }
        rows.extend((0..BLANK_ROWS).map(|_| CondRow::blank()));
        let rule =
            (!conditions.is_empty()).then_some(Rule { r#match: if any { Match::Any } else { Match::All }, conditions });
        (rule, RuleEdit { name, legend, any, rows })
    }
}

fn op_key(op: Op) -> &'static str {
    Op::ALL.iter().find(|(o, _, _)| *o == op).map_or("equals", |(_, k, _)| k)
}

/// A question a rule can look at, with its choices named for the value field's hint.
struct Asked {
    key: String,
    label: String,
    choices: String,
}

fn asked(p: &Package, but: Option<&str>) -> Vec<Asked> {
    p.form
        .sections
        .iter()
        .flat_map(|s| &s.questions)
        .filter(|q| q.kind.asks() && Some(q.key.as_str()) != but)
        .map(|q| Asked {
            key: q.key.clone(),
            label: q.label.clone(),
            choices: q.choices.iter().map(|c| format!("{} ({})", c.value, c.label)).collect::<Vec<_>>().join(", "),
        })
        .collect()
}

/// The operators for the rule editor: (key, label).
fn ops() -> Vec<(&'static str, &'static str)> {
    Op::ALL.iter().map(|(_, k, l)| (*k, *l)).collect()
}

fn typed_map(f: &Fields) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for (k, v) in &f.0 {
        m.entry(k.clone()).or_insert_with(|| v.clone());
    }
    m
}

fn value(v: &HashMap<String, String>, k: &str) -> String {
    v.get(k).cloned().unwrap_or_default()
}

fn opt_text(f: &Fields, k: &str) -> Option<String> {
    f.get(k).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A number typed in a field: empty is none; anything else must read as a number.
fn number<T: std::str::FromStr>(f: &Fields, k: &str, label: &str, errs: &mut Vec<String>) -> Option<T> {
    let t = f.get(k).map(str::trim).unwrap_or_default();
    if t.is_empty() {
        return None;
    }
    match t.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            errs.push(format!("{label}: “{t}” is not a number"));
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Where requests go

#[derive(Template)]
#[template(path = "admin/catalog_routing.html")]
struct RoutingPage {
    l: Layout,
    i: CatalogItem,
    v: HashMap<String, String>,
    groups: Vec<String>,
    categories: Vec<String>,
    policies: Vec<String>,
    /// The draft's questions a workflow may read: (key, label)
    questions: Vec<(String, String)>,
    error: Option<String>,
}

/// The parts of a workflow a request's answers fill, as the routing page names them.
const WORKFLOW_SLOTS: [(&str, &str); 9] = [
    ("person", "The person (a person or e-mail question)"),
    ("date", "The start, move or last day (a date question)"),
    ("name", "Their name, for a joiner Orion does not know yet"),
    ("manager", "Their manager (default: the one Orion knows)"),
    ("department", "Their department"),
    ("job_title", "Their role"),
    ("new_department", "A mover's new department"),
    ("new_job_title", "A mover's new role"),
    ("location", "Their location"),
];

impl RoutingPage {
    fn v(&self, k: &str) -> String {
        value(&self.v, k)
    }

    fn slots(&self) -> &'static [(&'static str, &'static str)] {
        &WORKFLOW_SLOTS
    }

    fn wf(&self, slot: &str) -> String {
        value(&self.v, &format!("wf_{slot}"))
    }
}

async fn routing_form(
    s: &AppState,
    user: &WebUser,
    i: CatalogItem,
    v: HashMap<String, String>,
    error: Option<String>,
) -> Response {
    let categories = pickers::category_paths(s, user).await;
    let policies = s.app.list_policies(&user.actor).await.unwrap_or_default().into_iter().map(|p| p.name).collect();
    let questions = i
        .draft
        .as_ref()
        .or(i.package.as_ref())
        .map(|p| p.form.questions().filter(|q| q.kind.asks()).map(|q| (q.key.clone(), q.label.clone())).collect())
        .unwrap_or_default();
    let page = RoutingPage {
        l: Layout::new(Some(user), format!("Where requests for {} go", i.name), "admin", None),
        groups: pickers::group_names(s, user).await,
        categories,
        policies,
        questions,
        i,
        v,
        error,
    };
    let err = page.error.clone();
    with_status(render(&page), &err)
}

async fn routing_page(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    let (i, p) = match read(&s, &user, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let n = |x: Option<i64>| x.map(|n| n.to_string()).unwrap_or_default();
    let v: HashMap<String, String> = [
        ("title", p.title.clone()),
        ("assignment_group", p.assignment_group.clone().unwrap_or_default()),
        ("category", p.category.clone().unwrap_or_default()),
        ("impact", n(p.impact)),
        ("urgency", n(p.urgency)),
        ("sla_policy", p.sla_policy.clone().unwrap_or_default()),
        ("next_steps", p.next_steps.clone()),
        ("closing_message", p.closing_message.clone()),
        ("row_version", i.row_version.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut v = v;
    if let Some(w) = &p.workflow {
        let o = |x: &Option<String>| x.clone().unwrap_or_default();
        for (k, x) in [
            ("kind", w.kind.clone()),
            ("person", w.person.clone()),
            ("date", w.date.clone()),
            ("name", o(&w.name)),
            ("manager", o(&w.manager)),
            ("department", o(&w.department)),
            ("job_title", o(&w.job_title)),
            ("new_department", o(&w.new_department)),
            ("new_job_title", o(&w.new_job_title)),
            ("location", o(&w.location)),
            ("group", o(&w.group)),
        ] {
            v.insert(format!("wf_{k}"), x);
        }
    }
    routing_form(&s, &user, i, v, None).await
}

async fn routing_save(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    let (i, mut p) = match read(&s, &user, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut errs = Vec::new();
    p.title = f.get("title").unwrap_or_default().trim().to_string();
    p.assignment_group = opt_text(&f, "assignment_group");
    p.category = opt_text(&f, "category");
    p.impact = number(&f, "impact", "Impact", &mut errs);
    p.urgency = number(&f, "urgency", "Urgency", &mut errs);
    p.sla_policy = opt_text(&f, "sla_policy");
    p.next_steps = f.get("next_steps").unwrap_or_default().trim().to_string();
    p.closing_message = f.get("closing_message").unwrap_or_default().trim().to_string();
    p.workflow = opt_text(&f, "wf_kind").map(|kind| {
        let w = |k: &str| opt_text(&f, &format!("wf_{k}"));
        orion_app::catalog::StartsWorkflow {
            kind,
            person: w("person").unwrap_or_default(),
            date: w("date").unwrap_or_default(),
            name: w("name"),
            manager: w("manager"),
            department: w("department"),
            job_title: w("job_title"),
            new_department: w("new_department"),
            new_job_title: w("new_job_title"),
            location: w("location"),
            group: w("group"),
        }
    });
    if !errs.is_empty() {
        return routing_form(&s, &user, i, typed_map(&f), Some(errs.join("; "))).await;
    }
    match save_draft(&s, &user, &i, p, f.int("row_version")).await {
        Ok(None) => done(&format!("/admin/catalog/{id}#design"), "item_saved"),
        Ok(Some(why)) => routing_form(&s, &user, i, typed_map(&f), Some(why)).await,
        Err(r) => r,
    }
}

// ---------------------------------------------------------------------------------------------
// Sections

#[derive(Template)]
#[template(path = "admin/catalog_section.html")]
struct SectionPage {
    l: Layout,
    i: CatalogItem,
    slot: String,
    is_new: bool,
    v: HashMap<String, String>,
    questions: usize,
    rules: Vec<RuleEdit>,
    asked: Vec<Asked>,
    ops: Vec<(&'static str, &'static str)>,
    error: Option<String>,
}

impl SectionPage {
    fn v(&self, k: &str) -> String {
        value(&self.v, k)
    }
}

#[allow(clippy::too_many_arguments)]
fn section_form(
    user: &WebUser,
    i: CatalogItem,
    p: &Package,
    slot: Slot,
    v: HashMap<String, String>,
    rule: RuleEdit,
    error: Option<String>,
) -> Response {
    let questions = match slot {
        Slot::At(n) => p.form.sections.get(n).map_or(0, |s| s.questions.len()),
        Slot::New => 0,
    };
    let title = match slot {
        Slot::New => format!("A new section of {}", i.name),
        Slot::At(_) => format!("A section of {}", i.name),
    };
    let asked = asked(p, None);
    let mut rules = vec![rule];
    mark_unknown(&mut rules, &asked);
    let page = SectionPage {
        l: Layout::new(Some(user), title, "admin", None),
        slot: slot.path(),
        is_new: slot == Slot::New,
        v,
        questions,
        rules,
        asked,
        ops: ops(),
        i,
        error,
    };
    let err = page.error.clone();
    with_status(render(&page), &err)
}

async fn section_page(State(s): State<AppState>, user: WebUser, Path((id, slot)): Path<(i64, String)>) -> Response {
    let (i, p) = match read(&s, &user, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(slot) = Slot::parse(&slot) else { return not_found(&user, "section") };
    let section = match slot {
        Slot::New => None,
        Slot::At(n) => match p.form.sections.get(n) {
            Some(s) => Some(s),
            None => return not_found(&user, "section"),
        },
    };
    let mut v = HashMap::new();
    v.insert("title".into(), section.map(|s| s.title.clone()).unwrap_or_default());
    v.insert("description".into(), section.map(|s| s.description.clone()).unwrap_or_default());
    v.insert("row_version".into(), i.row_version.to_string());
    let rule = RuleEdit::of("show", "Show this section only when", section.and_then(|s| s.show_when.as_ref()));
    section_form(&user, i, &p, slot, v, rule, None)
}

async fn section_save(
    State(s): State<AppState>,
    user: WebUser,
    Path((id, slot)): Path<(i64, String)>,
    f: Fields,
) -> Response {
    let (i, mut p) = match read(&s, &user, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(slot) = Slot::parse(&slot) else { return not_found(&user, "section") };
    if let Slot::At(n) = slot
        && n >= p.form.sections.len()
    {
        return not_found(&user, "section");
    }
    let (rule, edit) = RuleEdit::typed("show", "Show this section only when", &f);
    if f.get("remove").is_some() {
        let Slot::At(n) = slot else { return not_found(&user, "section") };
        let count = p.form.sections[n].questions.len();
        if count > 0 && !f.checked("with_questions") {
            let why = format!(
                "The section still asks {count} question(s): tick “also remove its questions” to remove them with it."
            );
            return section_form(&user, i, &p, slot, typed_map(&f), edit, Some(why));
        }
        p.form.sections.remove(n);
    } else {
        let title = f.get("title").unwrap_or_default().trim().to_string();
        let description = f.get("description").unwrap_or_default().trim().to_string();
        match slot {
            Slot::New => p.form.sections.push(Section { title, description, show_when: rule, questions: Vec::new() }),
            Slot::At(n) => {
                let sec = &mut p.form.sections[n];
                sec.title = title;
                sec.description = description;
                sec.show_when = rule;
            }
        }
    }
    let shown = p.clone();
    match save_draft(&s, &user, &i, p, f.int("row_version")).await {
        Ok(None) => done(&format!("/admin/catalog/{id}#design"), "item_saved"),
        Ok(Some(why)) => section_form(&user, i, &shown, slot, typed_map(&f), edit, Some(why)),
        Err(r) => r,
    }
}

// ---------------------------------------------------------------------------------------------
// Questions

#[derive(Template)]
#[template(path = "admin/catalog_question.html")]
struct QuestionPage {
    l: Layout,
    i: CatalogItem,
    section: usize,
    slot: String,
    is_new: bool,
    v: HashMap<String, String>,
    sections: Vec<(usize, String)>,
    kinds: Vec<(&'static str, &'static str)>,
    rules: Vec<RuleEdit>,
    asked: Vec<Asked>,
    ops: Vec<(&'static str, &'static str)>,
    error: Option<String>,
}

impl QuestionPage {
    fn v(&self, k: &str) -> String {
        value(&self.v, k)
    }
}

fn question_fields(q: Option<&Question>, section: usize) -> HashMap<String, String> {
    let mut v = HashMap::new();
    let Some(q) = q else {
        v.insert("kind".into(), "short_text".into());
        v.insert("section".into(), section.to_string());
        return v;
    };
    let n = |x: Option<f64>| x.map(|n| n.to_string()).unwrap_or_default();
    let u = |x: Option<usize>| x.map(|n| n.to_string()).unwrap_or_default();
    let choices = q
        .choices
        .iter()
        .map(|c| if key_from(&c.label) == c.value { c.label.clone() } else { format!("{} = {}", c.value, c.label) })
        .collect::<Vec<_>>()
        .join("\n");
    for (k, x) in [
        ("label", q.label.clone()),
        ("key", q.key.clone()),
        ("kind", q.kind.as_str().to_string()),
        ("help", q.help.clone()),
        ("required", if q.required { "on".into() } else { String::new() }),
        ("default", q.default.clone().unwrap_or_default()),
        ("choices", choices),
        ("min", n(q.min)),
        ("max", n(q.max)),
        ("min_length", u(q.min_length)),
        ("max_length", u(q.max_length)),
        ("pattern", q.pattern.clone().unwrap_or_default()),
        ("pattern_hint", q.pattern_hint.clone()),
        ("model", q.model.clone().unwrap_or_default()),
        ("section", section.to_string()),
    ] {
        v.insert(k.to_string(), x);
    }
    v
}

/// The choices typed one per line: `Label`, or `value = Label` to store another value.
fn choices_of(text: &str) -> Vec<Choice> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('=') {
            Some((v, label)) if !v.trim().is_empty() && !label.trim().is_empty() => {
                Choice { value: v.trim().to_string(), label: label.trim().to_string() }
            }
            _ => Choice { value: key_from(l), label: l.to_string() },
        })
        .collect()
}

/// Renames a question's key wherever the package names it: rules, approvers, tasks' answers.
fn rename_key(p: &mut Package, old: &str, new: &str) {
    let fix = |r: &mut Option<Rule>| {
        if let Some(r) = r {
            for c in &mut r.conditions {
                if c.question == old {
                    c.question = new.to_string();
                }
            }
        }
    };
    for s in &mut p.form.sections {
        fix(&mut s.show_when);
        for q in &mut s.questions {
            fix(&mut q.show_when);
            fix(&mut q.require_when);
        }
    }
    for step in &mut p.approvals {
        fix(&mut step.when);
        for a in &mut step.approvers {
            if let Approver::Question { key } = a
                && key == old
            {
                *key = new.to_string();
            }
        }
    }
    for t in &mut p.tasks {
        for r in &mut t.reads {
            if r == old {
                *r = new.to_string();
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn question_form(
    user: &WebUser,
    i: CatalogItem,
    p: &Package,
    section: usize,
    slot: Slot,
    v: HashMap<String, String>,
    rules: Vec<RuleEdit>,
    error: Option<String>,
) -> Response {
    let own = match slot {
        Slot::At(n) => p.form.sections.get(section).and_then(|s| s.questions.get(n)).map(|q| q.key.clone()),
        Slot::New => None,
    };
    let asked = asked(p, own.as_deref());
    let mut rules = rules;
    mark_unknown(&mut rules, &asked);
    let page = QuestionPage {
        l: Layout::new(Some(user), format!("A question of {}", i.name), "admin", None),
        section,
        slot: slot.path(),
        is_new: slot == Slot::New,
        v,
        sections: p
            .form
            .sections
            .iter()
            .enumerate()
            .map(|(n, s)| (n, if s.title.trim().is_empty() { format!("Section {}", n + 1) } else { s.title.clone() }))
            .collect(),
        kinds: QuestionKind::ALL.iter().map(|(_, k, l)| (*k, *l)).collect(),
        rules,
        asked,
        ops: ops(),
        i,
        error,
    };
    let err = page.error.clone();
    with_status(render(&page), &err)
}

async fn question_page(
    State(s): State<AppState>,
    user: WebUser,
    Path((id, section, slot)): Path<(i64, usize, String)>,
) -> Response {
    let (i, p) = match read(&s, &user, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(sec) = p.form.sections.get(section) else { return not_found(&user, "section") };
    let Some(slot) = Slot::parse(&slot) else { return not_found(&user, "question") };
    let q = match slot {
        Slot::New => None,
        Slot::At(n) => match sec.questions.get(n) {
            Some(q) => Some(q),
            None => return not_found(&user, "question"),
        },
    };
    let mut v = question_fields(q, section);
    v.insert("row_version".into(), i.row_version.to_string());
    let rules = vec![
        RuleEdit::of("show", "Show this question only when", q.and_then(|q| q.show_when.as_ref())),
        RuleEdit::of("require", "Require an answer also when", q.and_then(|q| q.require_when.as_ref())),
    ];
    question_form(&user, i, &p, section, slot, v, rules, None)
}

async fn question_save(
    State(s): State<AppState>,
    user: WebUser,
    Path((id, section, slot)): Path<(i64, usize, String)>,
    f: Fields,
) -> Response {
    let (i, mut p) = match read(&s, &user, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(slot) = Slot::parse(&slot) else { return not_found(&user, "question") };
    let count = match p.form.sections.get(section) {
        Some(sec) => sec.questions.len(),
        None => return not_found(&user, "section"),
    };
    if let Slot::At(n) = slot
        && n >= count
    {
        return not_found(&user, "question");
    }
    let (show, show_edit) = RuleEdit::typed("show", "Show this question only when", &f);
    let (require, require_edit) = RuleEdit::typed("require", "Require an answer also when", &f);
    let refuse = |p: &Package, i: CatalogItem, why: String, show_edit: RuleEdit, require_edit: RuleEdit| {
        question_form(&user, i, p, section, slot, typed_map(&f), vec![show_edit, require_edit], Some(why))
    };
    if f.get("remove").is_some() {
        let Slot::At(n) = slot else { return not_found(&user, "question") };
        p.form.sections[section].questions.remove(n);
    } else {
        let mut errs = Vec::new();
        let label = f.get("label").unwrap_or_default().trim().to_string();
        let typed_key = f.get("key").unwrap_or_default().trim().to_string();
        let key = if typed_key.is_empty() { key_from(&label) } else { typed_key };
        let kind = match QuestionKind::parse("kind", f.get("kind").unwrap_or_default()) {
            Ok(k) => k,
            Err(_) => {
                errs.push("Kind: pick what the question asks for".to_string());
                QuestionKind::ShortText
            }
        };
        let target = f.get("section").and_then(|x| x.parse::<usize>().ok()).unwrap_or(section);
        if target >= p.form.sections.len() {
            errs.push("Section: no such section".to_string());
        }
        let q = Question {
            key: key.clone(),
            label,
            kind,
            help: f.get("help").unwrap_or_default().trim().to_string(),
            required: f.checked("required"),
            default: opt_text(&f, "default"),
            choices: if kind.has_choices() { choices_of(f.get("choices").unwrap_or_default()) } else { Vec::new() },
            min: number(&f, "min", "Smallest number", &mut errs),
            max: number(&f, "max", "Largest number", &mut errs),
            min_length: number(&f, "min_length", "Fewest characters", &mut errs),
            max_length: number(&f, "max_length", "Most characters", &mut errs),
            pattern: opt_text(&f, "pattern"),
            pattern_hint: f.get("pattern_hint").unwrap_or_default().trim().to_string(),
            model: opt_text(&f, "model").filter(|_| kind == QuestionKind::Asset),
            show_when: show,
            require_when: require,
        };
        if !errs.is_empty() {
            return refuse(&p, i, errs.join("; "), show_edit, require_edit);
        }
        match slot {
            Slot::New => p.form.sections[target].questions.push(q),
            Slot::At(n) => {
                let old = p.form.sections[section].questions[n].key.clone();
                if old != key {
                    rename_key(&mut p, &old, &key);
                }
                if target == section {
                    p.form.sections[section].questions[n] = q;
                } else {
                    p.form.sections[section].questions.remove(n);
                    p.form.sections[target].questions.push(q);
                }
            }
        }
    }
    let shown = p.clone();
    match save_draft(&s, &user, &i, p, f.int("row_version")).await {
        Ok(None) => done(&format!("/admin/catalog/{id}#design"), "item_saved"),
        Ok(Some(why)) => refuse(&shown, i, why, show_edit, require_edit),
        Err(r) => r,
    }
}

// ---------------------------------------------------------------------------------------------
// Approval steps

#[derive(Template)]
#[template(path = "admin/catalog_step.html")]
struct StepPage {
    l: Layout,
    i: CatalogItem,
    slot: String,
    is_new: bool,
    v: HashMap<String, String>,
    /// Groups that may approve: (name, ticked)
    groups: Vec<(String, bool)>,
    /// The form's person questions: (key, label, ticked)
    people: Vec<(String, String, bool)>,
    rules: Vec<RuleEdit>,
    asked: Vec<Asked>,
    ops: Vec<(&'static str, &'static str)>,
    error: Option<String>,
}

impl StepPage {
    fn v(&self, k: &str) -> String {
        value(&self.v, k)
    }
}

fn step_fields(st: Option<&ApprovalStep>) -> HashMap<String, String> {
    let mut v = HashMap::new();
    let Some(st) = st else {
        v.insert("rule".into(), "any".into());
        v.insert("on_timeout".into(), "remind".into());
        return v;
    };
    let n = |x: Option<u32>| x.map(|n| n.to_string()).unwrap_or_default();
    let has = |a: &Approver| st.approvers.contains(a);
    let people: Vec<String> = st
        .approvers
        .iter()
        .filter_map(|a| if let Approver::User { email } = a { Some(email.clone()) } else { None })
        .collect();
    for (k, x) in [
        ("name", st.name.clone()),
        ("rule", if st.rule.trim().is_empty() { "any".into() } else { st.rule.trim().to_string() }),
        ("quorum", n(st.quorum)),
        ("manager", if has(&Approver::Manager) { "on".into() } else { String::new() }),
        ("managers_manager", if has(&Approver::ManagersManager) { "on".into() } else { String::new() }),
        ("people", people.join(", ")),
        ("remind_after_hours", n(st.remind_after_hours)),
        ("timeout_hours", n(st.timeout_hours)),
        (
            "on_timeout",
            if st.on_timeout.trim().is_empty() { "remind".into() } else { st.on_timeout.trim().to_string() },
        ),
    ] {
        v.insert(k.to_string(), x);
    }
    v
}

#[allow(clippy::too_many_arguments)]
async fn step_form(
    s: &AppState,
    user: &WebUser,
    i: CatalogItem,
    p: &Package,
    slot: Slot,
    v: HashMap<String, String>,
    approvers: &[Approver],
    rule: RuleEdit,
    error: Option<String>,
) -> Response {
    let groups = pickers::group_names(s, user)
        .await
        .into_iter()
        .map(|g| {
            let ticked = approvers.iter().any(|a| matches!(a, Approver::Group { name } if *name == g));
            (g, ticked)
        })
        .collect();
    let people = p
        .form
        .questions()
        .filter(|q| q.kind == QuestionKind::User)
        .map(|q| {
            let ticked = approvers.iter().any(|a| matches!(a, Approver::Question { key } if *key == q.key));
            (q.key.clone(), q.label.clone(), ticked)
        })
        .collect();
    let asked = asked(p, None);
    let mut rules = vec![rule];
    mark_unknown(&mut rules, &asked);
    let page = StepPage {
        l: Layout::new(Some(user), format!("An approval step of {}", i.name), "admin", None),
        slot: slot.path(),
        is_new: slot == Slot::New,
        v,
        groups,
        people,
        rules,
        asked,
        ops: ops(),
        i,
        error,
    };
    let err = page.error.clone();
    with_status(render(&page), &err)
}

async fn step_page(State(s): State<AppState>, user: WebUser, Path((id, slot)): Path<(i64, String)>) -> Response {
    let (i, p) = match read(&s, &user, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(slot) = Slot::parse(&slot) else { return not_found(&user, "approval step") };
    let step = match slot {
        Slot::New => None,
        Slot::At(n) => match p.approvals.get(n) {
            Some(st) => Some(st.clone()),
            None => return not_found(&user, "approval step"),
        },
    };
    let mut v = step_fields(step.as_ref());
    v.insert("row_version".into(), i.row_version.to_string());
    let approvers = step.as_ref().map(|s| s.approvers.clone()).unwrap_or_default();
    let rule = RuleEdit::of("when", "Ask this step only when", step.as_ref().and_then(|s| s.when.as_ref()));
    step_form(&s, &user, i, &p, slot, v, &approvers, rule, None).await
}

/// The approvers ticked and typed on a step's page, in a fixed order.
fn approvers_of(f: &Fields) -> Vec<Approver> {
    let mut a = Vec::new();
    if f.checked("manager") {
        a.push(Approver::Manager);
    }
    if f.checked("managers_manager") {
        a.push(Approver::ManagersManager);
    }
    for e in f.get("people").unwrap_or_default().split([',', '\n', ';']).map(str::trim).filter(|e| !e.is_empty()) {
        a.push(Approver::User { email: e.to_string() });
    }
    for g in f.all("groups") {
        a.push(Approver::Group { name: g });
    }
    for k in f.all("questions") {
        a.push(Approver::Question { key: k });
    }
    a
}

async fn step_save(
    State(s): State<AppState>,
    user: WebUser,
    Path((id, slot)): Path<(i64, String)>,
    f: Fields,
) -> Response {
    let (i, mut p) = match read(&s, &user, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(slot) = Slot::parse(&slot) else { return not_found(&user, "approval step") };
    if let Slot::At(n) = slot
        && n >= p.approvals.len()
    {
        return not_found(&user, "approval step");
    }
    let (rule, edit) = RuleEdit::typed("when", "Ask this step only when", &f);
    let approvers = approvers_of(&f);
    if f.get("remove").is_some() {
        let Slot::At(n) = slot else { return not_found(&user, "approval step") };
        p.approvals.remove(n);
    } else {
        let mut errs = Vec::new();
        let how = f.get("rule").unwrap_or("any").trim().to_string();
        let step = ApprovalStep {
            name: f.get("name").unwrap_or_default().trim().to_string(),
            quorum: if how == "quorum" { number(&f, "quorum", "Share", &mut errs) } else { None },
            rule: how,
            approvers: approvers.clone(),
            when: rule,
            remind_after_hours: number(&f, "remind_after_hours", "Remind after", &mut errs),
            timeout_hours: number(&f, "timeout_hours", "Time out after", &mut errs),
            on_timeout: f.get("on_timeout").unwrap_or("remind").trim().to_string(),
        };
        if !errs.is_empty() {
            return step_form(&s, &user, i, &p, slot, typed_map(&f), &approvers, edit, Some(errs.join("; "))).await;
        }
        match slot {
            Slot::New => p.approvals.push(step),
            Slot::At(n) => p.approvals[n] = step,
        }
    }
    let shown = p.clone();
    match save_draft(&s, &user, &i, p, f.int("row_version")).await {
        Ok(None) => done(&format!("/admin/catalog/{id}#chain"), "item_saved"),
        Ok(Some(why)) => step_form(&s, &user, i, &shown, slot, typed_map(&f), &approvers, edit, Some(why)).await,
        Err(r) => r,
    }
}

// ---------------------------------------------------------------------------------------------
// Tasks

struct OutputRow {
    key: String,
    label: String,
    required: bool,
}

#[derive(Template)]
#[template(path = "admin/catalog_task.html")]
struct TaskPage {
    l: Layout,
    i: CatalogItem,
    slot: String,
    is_new: bool,
    v: HashMap<String, String>,
    groups: Vec<String>,
    /// The tasks before this one: (key, title, ticked)
    earlier: Vec<(String, String, bool)>,
    /// The form's questions: (key, label, ticked)
    reads: Vec<(String, String, bool)>,
    outputs: Vec<OutputRow>,
    error: Option<String>,
}

impl TaskPage {
    fn v(&self, k: &str) -> String {
        value(&self.v, k)
    }
}

#[allow(clippy::too_many_arguments)]
async fn task_form(
    s: &AppState,
    user: &WebUser,
    i: CatalogItem,
    p: &Package,
    slot: Slot,
    v: HashMap<String, String>,
    task: &TaskTemplate,
    error: Option<String>,
) -> Response {
    let before = match slot {
        Slot::At(n) => n.min(p.tasks.len()),
        Slot::New => p.tasks.len(),
    };
    let earlier =
        p.tasks[..before].iter().map(|t| (t.key.clone(), t.title.clone(), task.after.contains(&t.key))).collect();
    let reads = p
        .form
        .questions()
        .filter(|q| q.kind.asks())
        .map(|q| (q.key.clone(), q.label.clone(), task.reads.contains(&q.key)))
        .collect();
    let mut outputs: Vec<OutputRow> = task
        .outputs
        .iter()
        .map(|o| OutputRow { key: o.key.clone(), label: o.label.clone(), required: o.required })
        .collect();
    outputs.extend((0..BLANK_ROWS).map(|_| OutputRow { key: String::new(), label: String::new(), required: false }));
    let page = TaskPage {
        l: Layout::new(Some(user), format!("A task of {}", i.name), "admin", None),
        slot: slot.path(),
        is_new: slot == Slot::New,
        v,
        groups: pickers::group_names(s, user).await,
        earlier,
        reads,
        outputs,
        i,
        error,
    };
    let err = page.error.clone();
    with_status(render(&page), &err)
}

async fn task_page(State(s): State<AppState>, user: WebUser, Path((id, slot)): Path<(i64, String)>) -> Response {
    let (i, p) = match read(&s, &user, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(slot) = Slot::parse(&slot) else { return not_found(&user, "task") };
    let task = match slot {
        Slot::New => TaskTemplate::default(),
        Slot::At(n) => match p.tasks.get(n) {
            Some(t) => t.clone(),
            None => return not_found(&user, "task"),
        },
    };
    let mut v = HashMap::new();
    v.insert("key".into(), task.key.clone());
    v.insert("title".into(), task.title.clone());
    v.insert("description".into(), task.description.clone());
    v.insert("group".into(), task.group.clone().unwrap_or_default());
    v.insert("row_version".into(), i.row_version.to_string());
    task_form(&s, &user, i, &p, slot, v, &task, None).await
}

/// The task typed on its page (the key made from the title when left empty).
fn task_of(f: &Fields) -> TaskTemplate {
    let title = f.get("title").unwrap_or_default().trim().to_string();
    let key = f.get("key").map(str::trim).filter(|k| !k.is_empty()).map_or_else(|| key_from(&title), str::to_string);
    let keys = f.all("out_key");
    let labels = f.all("out_label");
    let required = f.all("out_required");
    let outputs = labels
        .iter()
        .enumerate()
        .filter(|(n, l)| !l.trim().is_empty() || keys.get(*n).is_some_and(|k| !k.trim().is_empty()))
        .map(|(n, l)| {
            let typed = keys.get(n).map(|k| k.trim().to_string()).unwrap_or_default();
            TaskOutput {
                key: if typed.is_empty() { key_from(l) } else { typed },
                label: l.trim().to_string(),
                required: required.contains(&n.to_string()),
            }
        })
        .collect();
    TaskTemplate {
        key,
        title,
        description: f.get("description").unwrap_or_default().trim().to_string(),
        group: opt_text(f, "group"),
        after: f.all("after"),
        reads: f.all("reads"),
        outputs,
    }
}

async fn task_save(
    State(s): State<AppState>,
    user: WebUser,
    Path((id, slot)): Path<(i64, String)>,
    f: Fields,
) -> Response {
    let (i, mut p) = match read(&s, &user, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(slot) = Slot::parse(&slot) else { return not_found(&user, "task") };
    if let Slot::At(n) = slot
        && n >= p.tasks.len()
    {
        return not_found(&user, "task");
    }
    let task = task_of(&f);
    if f.get("remove").is_some() {
        let Slot::At(n) = slot else { return not_found(&user, "task") };
        p.tasks.remove(n);
    } else {
        match slot {
            Slot::New => p.tasks.push(task.clone()),
            Slot::At(n) => {
                let old = std::mem::replace(&mut p.tasks[n], task.clone()).key;
                if old != task.key {
                    for t in &mut p.tasks {
                        for a in &mut t.after {
                            if *a == old {
                                a.clone_from(&task.key);
                            }
                        }
                    }
                }
            }
        }
    }
    let shown = p.clone();
    match save_draft(&s, &user, &i, p, f.int("row_version")).await {
        Ok(None) => done(&format!("/admin/catalog/{id}#tasks"), "item_saved"),
        Ok(Some(why)) => {
            let mut v = typed_map(&f);
            v.insert("key".into(), task.key.clone());
            task_form(&s, &user, i, &shown, slot, v, &task, Some(why)).await
        }
        Err(r) => r,
    }
}

// ---------------------------------------------------------------------------------------------
// Moving a part up or down

/// Moves a section, a question (within its section, or into the next one at an end), an approval
/// step or a task one place up or down.
async fn move_part(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    let (i, mut p) = match read(&s, &user, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let up = f.get("dir") == Some("up");
    let at = f.get("at").and_then(|a| a.parse::<usize>().ok());
    let section = f.get("section").and_then(|a| a.parse::<usize>().ok());
    fn swap<T>(v: &mut [T], at: usize, up: bool) -> bool {
        let other = if up { at.checked_sub(1) } else { Some(at + 1) };
        match other {
            Some(o) if o < v.len() && at < v.len() => {
                v.swap(at, o);
                true
            }
            _ => false,
        }
    }
    let (moved, anchor) = match (f.get("what"), at) {
        (Some("section"), Some(a)) => (swap(&mut p.form.sections, a, up), "design"),
        (Some("question"), Some(a)) => {
            let Some(sn) = section.filter(|n| *n < p.form.sections.len()) else { return not_found(&user, "section") };
            let len = p.form.sections[sn].questions.len();
            let moved = if a >= len {
                false
            } else if swap(&mut p.form.sections[sn].questions, a, up) {
                true
            } else if up && sn > 0 {
                // The first question of a section moves to the end of the one above.
                let q = p.form.sections[sn].questions.remove(a);
                p.form.sections[sn - 1].questions.push(q);
                true
            } else if !up && sn + 1 < p.form.sections.len() {
                let q = p.form.sections[sn].questions.remove(a);
                p.form.sections[sn + 1].questions.insert(0, q);
                true
            } else {
                false
            };
            (moved, "design")
        }
        (Some("step"), Some(a)) => (swap(&mut p.approvals, a, up), "chain"),
        (Some("task"), Some(a)) => (swap(&mut p.tasks, a, up), "tasks"),
        _ => return not_found(&user, "part of the form"),
    };
    if !moved {
        return done(&format!("/admin/catalog/{id}#{anchor}"), "item_saved");
    }
    match save_draft(&s, &user, &i, p, f.int("row_version")).await {
        Ok(None) => done(&format!("/admin/catalog/{id}#{anchor}"), "item_saved"),
        Ok(Some(why)) => super::catalog::item_refused(&s, &user, id, why).await,
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_made_from_labels() {
        assert_eq!(key_from("Memory (GB)"), "memory_gb");
        assert_eq!(key_from("  What do you do?  "), "what_do_you_do");
        assert_eq!(key_from("3D printer"), "q_3d_printer");
        assert_eq!(key_from("Ünïcode—only"), "n_code_only");
    }

    #[test]
    fn choices_are_typed_one_per_line() {
        let c = choices_of("Software development\nfin = Finance\n\n  Design ");
        let pairs: Vec<(&str, &str)> = c.iter().map(|c| (c.value.as_str(), c.label.as_str())).collect();
        assert_eq!(
            pairs,
            vec![("software_development", "Software development"), ("fin", "Finance"), ("design", "Design")]
        );
    }

    #[test]
    fn a_refusal_names_the_place_in_words() {
        let p: Package = serde_json::from_value(serde_json::json!({
            "form": {"sections": [{"title": "Developer", "questions": [
                {"key": "ram", "label": "Memory (GB)", "kind": "number"}
            ]}]}
        }))
        .expect("a package");
        assert_eq!(
            place("package.form.sections[0].questions[0].show_when.conditions[1].question", &p),
            "Section “Developer”, question “Memory (GB)”, “shown when”, condition 2, question"
        );
        assert_eq!(place("package.assignment_group", &p), "Group");
        assert_eq!(place("package.tasks[3].outputs[0].key", &p), "Task 4, output 1, key");
    }
}
