//! A catalog request's fulfilment: the item's task plan opens task tickets (TSK) once the request
//! is approved — tasks without `after` at once, in parallel; the others when the tasks they wait
//! for are done. Each task shows the answers it reads and the outputs recorded before it; its
//! assignee completes it with the outputs it declares ("account name created"), which flow into
//! later tasks and the requester's closing message. The request resolves when its last task is
//! done.

use super::{CatalogAnswer, Package, fill, read_package};
use crate::kernel::error::{found, invalid};
use crate::tickets::create::{Prepared, Preset};
use crate::{App, AppError, AppResult, NewTicketInput};
use orion_domain::catalog::{Form, Value};
use orion_domain::{Actor, FieldErrors, ResolutionCode, Role, Timestamp, UserId};
use orion_store::Conn;
use orion_store::catalog::{self as store, RequestRow, TaskRow};
use orion_store::tickets::TicketView;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The job that opens a request's tasks that are ready.
pub const FULFIL_JOB: &str = "catalog.fulfil";
/// The job that starts the joiner, mover or leaver an approved request asks for (the
/// `workflows` module runs it).
pub const WORKFLOW_JOB: &str = "catalog.workflow";
const MAX_TASKS: usize = 20;
const MAX_OUTPUTS: usize = 10;

/// One task of an item's fulfilment plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TaskTemplate {
    /// Names the task in `after`: lower-case letters, digits and `_` (`create_account`)
    pub key: String,
    /// The task ticket's title; `{{key}}` is replaced by an answer or an earlier task's output
    pub title: String,
    /// What to do (the same replacements)
    pub description: String,
    /// The group it goes to, by name (default: the request's group)
    pub group: Option<String>,
    /// Tasks that must be done first (earlier in the plan); none: it starts when the request is
    /// approved
    pub after: Vec<String>,
    /// The answers shown on the task, by question key (empty: every answer)
    pub reads: Vec<String>,
    /// What its assignee records when it is done
    pub outputs: Vec<TaskOutput>,
}

/// A joiner, mover or leaver an item's requests start once approved: which of the form's
/// questions hold the person, the day and the rest. The request is fulfilled when the workflow
/// closes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StartsWorkflow {
    /// `joiner`, `mover` or `leaver`
    pub kind: String,
    /// The question whose answer is the person (a person or an e-mail question)
    pub person: String,
    /// The question whose answer is the start, move or last day (a date question)
    pub date: String,
    /// A joiner Orion does not know yet: the question with their name
    pub name: Option<String>,
    /// The question with their manager (default: the manager Orion knows for them)
    pub manager: Option<String>,
    pub department: Option<String>,
    pub job_title: Option<String>,
    /// A mover's new department and role
    pub new_department: Option<String>,
    pub new_job_title: Option<String>,
    pub location: Option<String>,
    /// The group its tasks go to, by name (default: the request's group)
    pub group: Option<String>,
}

/// Checks which questions a workflow start reads (`package.workflow.person`, …).
pub(super) fn validate_workflow(
    config: &crate::settings::Config,
    form: &Form,
    w: &StartsWorkflow,
    errs: &mut FieldErrors,
) {
    use orion_domain::catalog::QuestionKind as Q;
    if !matches!(w.kind.as_str(), "joiner" | "mover" | "leaver") {
        errs.push("package.workflow.kind", "must be joiner, mover or leaver");
    }
    let mut check = |field: &str, key: Option<&str>, kinds: &[Q], what: &str| {
        let Some(key) = key.map(str::trim).filter(|k| !k.is_empty()) else { return };
        match form.question(key) {
            None => errs.push(format!("package.workflow.{field}"), format!("the form has no question {key:?}")),
            Some(q) if !kinds.is_empty() && !kinds.contains(&q.kind) => {
                errs.push(format!("package.workflow.{field}"), format!("{:?} must be {what}", q.label))
            }
            Some(_) => {}
        }
    };
    let text = [Q::ShortText, Q::Choice, Q::LongText];
    check("person", Some(&w.person), &[Q::User, Q::Email], "a person or an e-mail question");
    check("date", Some(&w.date), &[Q::Date], "a date question");
    check("name", w.name.as_deref(), &text, "a text or choice question");
    check("manager", w.manager.as_deref(), &[Q::User, Q::Email], "a person or an e-mail question");
    for (field, key) in [
        ("department", &w.department),
        ("job_title", &w.job_title),
        ("new_department", &w.new_department),
        ("new_job_title", &w.new_job_title),
        ("location", &w.location),
    ] {
        check(field, key.as_deref(), &text, "a text or choice question");
    }
    if w.person.trim().is_empty() {
        errs.push("package.workflow.person", "name the question whose answer is the person");
    }
    if w.date.trim().is_empty() {
        errs.push("package.workflow.date", "name the question whose answer is the day");
    }
    if w.kind == "mover"
        && w.new_department.as_deref().is_none_or(|k| k.trim().is_empty())
        && w.new_job_title.as_deref().is_none_or(|k| k.trim().is_empty())
    {
        errs.push("package.workflow.new_department", "a move needs the question with the new department or role");
    }
    if let Some(g) = w.group.as_deref().filter(|g| !g.trim().is_empty())
        && config.active_group(g).is_none()
    {
        errs.push("package.workflow.group", format!("no active group called {g:?}"));
    }
}

/// A value a task records for later tasks and the closing message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TaskOutput {
    /// Names it in texts (`{{account_name}}`); unique in the plan, not a question's key
    pub key: String,
    pub label: String,
    pub required: bool,
}

/// Where one task of a request stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskView {
    pub key: String,
    pub title: String,
    /// `waiting` (for earlier tasks), `open`, `done`, `cancelled`
    pub state: String,
    /// The task ticket, once opened
    pub number: Option<String>,
    pub group: Option<String>,
    /// What its assignee recorded: `{key: text}`
    #[schema(value_type = Object)]
    pub outputs: BTreeMap<String, String>,
    pub done_at: Option<String>,
}

/// A task ticket's place in its request, with the outputs to record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskOfRequest {
    pub request: String,
    pub item: String,
    pub key: String,
    pub state: String,
    pub outputs: Vec<TaskOutput>,
    #[schema(value_type = Object)]
    pub recorded: BTreeMap<String, String>,
}

/// Completing a task: the outputs it declares, and a note.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskCompletion {
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    /// What was done (default: "Done.")
    #[serde(default)]
    pub notes: String,
}

fn key_ok(k: &str) -> bool {
    let mut chars = k.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && k.len() <= 40
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks an item's task plan (every mistake named by place, `package.tasks[1].after[0]`).
pub(super) fn validate_plan(
    config: &crate::settings::Config,
    form: &Form,
    tasks: &[TaskTemplate],
    errs: &mut FieldErrors,
) {
    if tasks.len() > MAX_TASKS {
        errs.push("package.tasks", format!("a plan has at most {MAX_TASKS} tasks"));
    }
    let mut earlier: Vec<&str> = Vec::new();
    let mut outputs: Vec<&str> = Vec::new();
    for (i, t) in tasks.iter().enumerate() {
        let f = format!("package.tasks[{i}]");
        if !key_ok(&t.key) {
            errs.push(format!("{f}.key"), "1–40 lower-case letters, digits and _, starting with a letter");
        } else if earlier.contains(&t.key.as_str()) {
            errs.push(format!("{f}.key"), format!("another task is already called {:?}", t.key));
        }
        if t.title.trim().is_empty() || t.title.chars().count() > crate::kernel::limits::TITLE_MAX {
            errs.push(format!("{f}.title"), "a task needs a title");
        }
        if t.description.chars().count() > crate::kernel::limits::TEXT_MAX {
            errs.push(format!("{f}.description"), "is too long");
        }
        if let Some(g) = t.group.as_deref().filter(|g| !g.trim().is_empty())
            && config.active_group(g).is_none()
        {
            errs.push(format!("{f}.group"), format!("no active group called {g:?}"));
        }
        for (j, a) in t.after.iter().enumerate() {
            if !earlier.contains(&a.as_str()) {
                errs.push(format!("{f}.after[{j}]"), format!("{a:?} is not a task earlier in the plan"));
            }
        }
        for (j, r) in t.reads.iter().enumerate() {
            if form.question(r).is_none() {
                errs.push(format!("{f}.reads[{j}]"), format!("the form has no question {r:?}"));
            }
        }
        if t.outputs.len() > MAX_OUTPUTS {
            errs.push(format!("{f}.outputs"), format!("a task records at most {MAX_OUTPUTS} outputs"));
        }
        for (j, o) in t.outputs.iter().enumerate() {
            let of = format!("{f}.outputs[{j}]");
            if !key_ok(&o.key) {
                errs.push(format!("{of}.key"), "1–40 lower-case letters, digits and _, starting with a letter");
            } else if outputs.contains(&o.key.as_str()) || form.question(&o.key).is_some() {
                errs.push(format!("{of}.key"), format!("{:?} names another output or a question already", o.key));
            }
            if o.label.trim().is_empty() {
                errs.push(format!("{of}.label"), "an output needs a label");
            }
            outputs.push(&o.key);
        }
        earlier.push(&t.key);
    }
}

/// The values texts are filled from: the answers, and the outputs recorded so far.
fn values(form: &Form, answers: &[store::AnswerRow], tasks: &[TaskRow]) -> BTreeMap<String, Value> {
    let mut v = super::approvals::values_of(form, answers);
    for t in tasks {
        if let Ok(o) = serde_json::from_str::<BTreeMap<String, String>>(&t.outputs) {
            for (k, x) in o {
                v.insert(k, Value::Text(x));
            }
        }
    }
    v
}

/// Writes a request's plan (in the transaction that approved it, or that logged it when it needs
/// no approval) and queues the opening of its first tasks. Returns whether it has tasks.
pub(super) async fn plan(c: &mut Conn<'_>, request_id: i64, package: &Package, now: i64) -> AppResult<bool> {
    if package.workflow.is_some() {
        crate::kernel::jobs::enqueue_for(c, WORKFLOW_JOB, ("request_id", request_id), now).await?;
    }
    if package.tasks.is_empty() {
        return Ok(false);
    }
    for (n, t) in package.tasks.iter().enumerate() {
        store::insert_task(c, request_id, &t.key, n as i64).await?;
    }
    queue_fulfil(c, request_id, now).await?;
    Ok(true)
}

/// What a request asks of the workflow it starts.
pub(crate) struct WorkflowAsk {
    pub start: StartsWorkflow,
    /// The answers as text, by question key (a person's answer is their e-mail address)
    pub values: BTreeMap<String, String>,
    /// The answers as shown on the request, `(question, answer)` in form order
    pub shown: Vec<(String, String)>,
    pub item: String,
}

/// The workflow a catalog request starts, with its answers; `None` for a request that starts
/// none (or a ticket that is no request).
pub(crate) async fn workflow_ask(c: &mut Conn<'_>, request_id: i64) -> AppResult<Option<WorkflowAsk>> {
    let Some(req) = store::request_of(c, request_id).await? else { return Ok(None) };
    let package = read_package(&req.package)?;
    let Some(start) = package.workflow.clone() else { return Ok(None) };
    let answers = store::answers_of(c, request_id).await?;
    let values =
        super::approvals::values_of(&package.form, &answers).into_iter().map(|(k, v)| (k, v.as_text())).collect();
    let shown = super::answers_in_order(&package, &answers)
        .into_iter()
        .filter(|a| a.attachment.is_none())
        .map(|a| (a.label, a.text))
        .collect();
    Ok(Some(WorkflowAsk { start, values, shown, item: req.item_name }))
}

/// The workflow a request started has closed: the request is fulfilled (with its closing
/// message, or one naming `what` was done), unless tasks of its own are still open.
pub(crate) async fn workflow_closed(
    c: &mut Conn<'_>,
    actor: &Actor,
    request_id: i64,
    what: &str,
    now: i64,
) -> AppResult<()> {
    let rows = store::tasks_of(c, request_id).await?;
    if !rows.iter().all(|r| matches!(r.state.as_str(), "done" | "cancelled")) {
        return Ok(());
    }
    let Some(req) = store::request_of(c, request_id).await? else { return Ok(()) };
    let mut t = orion_store::tickets::get(c, request_id).await?;
    if matches!(t.state.as_str(), "resolved" | "closed") {
        return Ok(());
    }
    let package = read_package(&req.package)?;
    let answers = store::answers_of(c, request_id).await?;
    let vals = values(&package.form, &answers, &rows);
    let text = match fill(&package.closing_message, &vals).trim() {
        "" => format!("Your request “{}” is fulfilled: {what}", req.item_name),
        s => s.to_string(),
    };
    let text: String = text.chars().take(crate::kernel::limits::TEXT_MAX).collect();
    crate::tickets::resolve_in(c, actor, &mut t, (ResolutionCode::RequestFulfilled, &text), now).await?;
    Ok(())
}

async fn queue_fulfil(c: &mut Conn<'_>, request_id: i64, now: i64) -> AppResult<()> {
    crate::kernel::jobs::enqueue_for(c, FULFIL_JOB, ("request_id", request_id), now).await
}

fn task_view(row: &TaskRow, def: Option<&TaskTemplate>, number: Option<String>) -> TaskView {
    TaskView {
        key: row.task_key.clone(),
        title: def.map(|d| d.title.clone()).unwrap_or_else(|| row.task_key.clone()),
        state: row.state.clone(),
        number,
        group: def.and_then(|d| d.group.clone()),
        outputs: serde_json::from_str(&row.outputs).unwrap_or_default(),
        done_at: row.done_at.map(|d| Timestamp(d).to_rfc3339()),
    }
}

/// A request's tasks as its views show them.
pub(super) async fn tasks_view(c: &mut Conn<'_>, request_id: i64, package: &Package) -> AppResult<Vec<TaskView>> {
    let rows = store::tasks_of(c, request_id).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let answers = store::answers_of(c, request_id).await?;
    let vals = values(&package.form, &answers, &rows);
    let mut out = Vec::new();
    for r in &rows {
        let number = match r.task_ticket_id {
            Some(id) => Some(orion_store::tickets::get(c, id).await?.number),
            None => None,
        };
        let def = package.tasks.iter().find(|t| t.key == r.task_key);
        let mut v = task_view(r, def, number);
        if let Some(d) = def {
            v.title = fill(&d.title, &vals);
        }
        out.push(v);
    }
    Ok(out)
}

/// The waiting tasks whose earlier tasks are all done.
fn ready_tasks(rows: &[TaskRow], package: &Package) -> Vec<TaskRow> {
    let done: Vec<&str> = rows.iter().filter(|r| r.state == "done").map(|r| r.task_key.as_str()).collect();
    rows.iter()
        .filter(|r| r.state == "waiting")
        .filter(|r| {
            package
                .tasks
                .iter()
                .find(|d| d.key == r.task_key)
                .is_some_and(|d| d.after.iter().all(|a| done.contains(&a.as_str())))
        })
        .cloned()
        .collect()
}

/// What a request's finished tasks recorded, one "- label: value" line each.
fn earlier_outputs(rows: &[TaskRow], package: &Package) -> Vec<String> {
    rows.iter()
        .filter(|x| x.state == "done")
        .flat_map(|x| serde_json::from_str::<BTreeMap<String, String>>(&x.outputs).unwrap_or_default())
        .map(|(k, v)| {
            let label = package
                .tasks
                .iter()
                .flat_map(|t| t.outputs.iter())
                .find(|o| o.key == k)
                .map(|o| o.label.clone())
                .unwrap_or(k);
            format!("- {label}: {v}")
        })
        .collect()
}

/// A task ticket's description: the template's text filled in, the request it serves, the
/// answers it reads and what earlier tasks recorded.
fn task_body(
    d: &TaskTemplate,
    (t, req): (&TicketView, &RequestRow),
    vals: &BTreeMap<String, Value>,
    shown: &[CatalogAnswer],
    earlier: &[String],
) -> String {
    let mut body = fill(&d.description, vals).trim().to_string();
    body.push_str(&format!(
        "\n\nFor {} “{}” ({}), requested by {}.",
        t.number, t.title, req.item_name, t.requester_name
    ));
    let lines: Vec<String> = shown
        .iter()
        .filter(|a| d.reads.is_empty() || d.reads.contains(&a.key))
        .map(|a| format!("- {}: {}", a.label, a.text))
        .collect();
    if !lines.is_empty() {
        body.push_str("\n\n");
        body.push_str(&lines.join("\n"));
    }
    if !earlier.is_empty() {
        body.push_str("\n\nRecorded by earlier tasks:\n");
        body.push_str(&earlier.join("\n"));
    }
    body
}

impl App {
    /// The `catalog.fulfil` job: opens the request's tasks whose earlier tasks are done.
    pub async fn run_fulfil_job(&self, job: &orion_store::jobs::JobRow) -> crate::kernel::jobs::JobResult {
        let p: serde_json::Value = serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
        let Some(id) = p["request_id"].as_i64() else { return Err("catalog.fulfil without request_id".into()) };
        self.open_ready_tasks(id).await.map_err(|e| e.to_string())
    }

    async fn open_ready_tasks(&self, request_id: i64) -> AppResult<()> {
        // What to open, read first: a task ticket goes through the one creation path.
        let (req_ticket, ready, text) = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let t = orion_store::tickets::get(&mut c, request_id).await?;
            let Some(req) = store::request_of(&mut c, request_id).await? else { return Ok(()) };
            let package = read_package(&req.package)?;
            let rows = store::tasks_of(&mut c, request_id).await?;
            let ready = ready_tasks(&rows, &package);
            let answers = store::answers_of(&mut c, request_id).await?;
            let vals = values(&package.form, &answers, &rows);
            let shown = super::answers_in_order(&package, &answers);
            let earlier = earlier_outputs(&rows, &package);
            let mut text = BTreeMap::new();
            for r in &ready {
                let Some(d) = package.tasks.iter().find(|d| d.key == r.task_key) else { continue };
                let body = task_body(d, (&t, &req), &vals, &shown, &earlier);
                let title: String = fill(&d.title, &vals).chars().take(crate::kernel::limits::TITLE_MAX).collect();
                text.insert(r.task_key.clone(), (title, body, d.group.clone()));
            }
            (t, ready, text)
        };
        if ready.is_empty() || matches!(req_ticket.state.as_str(), "resolved" | "closed") {
            return Ok(());
        }
        let creator = {
            let mut r = self.db.read().await?;
            let u = orion_store::users::get(&mut r.conn(), req_ticket.created_by).await?;
            Actor { id: UserId(u.id), role: Role::parse("role", &u.role)? }
        };
        let mut planned = Vec::new();
        for r in &ready {
            let Some((title, body, group)) = text.get(&r.task_key) else { continue };
            let input = NewTicketInput {
                kind: Some("task".into()),
                title: Some(if title.trim().is_empty() { r.task_key.clone() } else { title.clone() }),
                description: Some(body.chars().take(crate::kernel::limits::TEXT_MAX).collect()),
                requester: (req_ticket.requester_id != creator.id.0).then(|| req_ticket.requester_email.clone()),
                ..Default::default()
            };
            let preset = Preset {
                group: Some(
                    group
                        .as_deref()
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .unwrap_or(&req_ticket.assignment_group_name),
                ),
                impact: Some(req_ticket.impact),
                sla_policy: None,
                task: true,
            };
            let Prepared { planned: p, .. } = self.prepare_ticket_with(&creator, input, preset).await?;
            planned.push((r.clone(), p));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        // Another worker may have opened some meanwhile.
        let current = store::tasks_of(&mut c, request_id).await?;
        for (mut row, p) in planned {
            if current.iter().find(|x| x.task_key == row.task_key).is_none_or(|x| x.state != "waiting") {
                continue;
            }
            let written = crate::tickets::open(&mut c, &p).await?;
            row.state = "open".into();
            row.task_ticket_id = Some(written.id);
            store::update_task(&mut c, &row).await?;
            let data = json!({"task": row.task_key, "number": written.number});
            crate::tickets::record_entry(
                &mut c,
                request_id,
                now,
                None,
                ("task_opened", orion_domain::TicketEvent::Noted),
                &data,
            )
            .await?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// A task ticket's place in its request (staff); `None` for a ticket that is no task.
    pub async fn task_of_request(&self, actor: &Actor, number: &str) -> AppResult<Option<TaskOfRequest>> {
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        let Some(row) = store::task_by_ticket(&mut c, t.id).await? else { return Ok(None) };
        let req_t = orion_store::tickets::get(&mut c, row.request_id).await?;
        let req = store::request_of(&mut c, row.request_id).await?.ok_or(AppError::NotFound("catalog request"))?;
        let package = read_package(&req.package)?;
        let outputs =
            package.tasks.iter().find(|d| d.key == row.task_key).map(|d| d.outputs.clone()).unwrap_or_default();
        Ok(Some(TaskOfRequest {
            request: req_t.number,
            item: req.item_name,
            key: row.task_key.clone(),
            state: row.state.clone(),
            outputs,
            recorded: serde_json::from_str(&row.outputs).unwrap_or_default(),
        }))
    }

    /// Completes a task with its outputs: resolves its ticket, opens the tasks that waited for it,
    /// and resolves the request — with a closing message that names the outputs — when it was
    /// the last one.
    pub async fn complete_task(&self, actor: &Actor, number: &str, input: &TaskCompletion) -> AppResult<TaskOfRequest> {
        crate::kernel::access::require_staff(actor, "complete tasks")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = crate::tickets::load_visible(&mut c, actor, number).await?;
        let mut row = store::task_by_ticket(&mut c, t.id)
            .await?
            .ok_or_else(|| invalid("number", format!("{} is not a task of a catalog request", t.number)))?;
        if row.state != "open" || matches!(t.state.as_str(), "resolved" | "closed") {
            return Err(AppError::Conflict(format!("{} is done already", t.number)));
        }
        let req = store::request_of(&mut c, row.request_id).await?.ok_or(AppError::NotFound("catalog request"))?;
        let package = read_package(&req.package)?;
        let def = package.tasks.iter().find(|d| d.key == row.task_key).cloned().unwrap_or_default();
        let mut errs = FieldErrors::new();
        let mut outputs = BTreeMap::new();
        for (k, _) in input.outputs.iter() {
            if !def.outputs.iter().any(|o| &o.key == k) {
                errs.push(format!("outputs.{k}"), "this task records no such output");
            }
        }
        for o in &def.outputs {
            let v = input.outputs.get(&o.key).map(|v| v.trim()).unwrap_or("");
            if v.chars().count() > 1_000 {
                errs.push(format!("outputs.{}", o.key), format!("{}: at most 1000 characters", o.label));
            } else if v.is_empty() && o.required {
                errs.push(format!("outputs.{}", o.key), format!("{}: is required", o.label));
            } else if !v.is_empty() {
                outputs.insert(o.key.clone(), v.to_string());
            }
        }
        errs.into_result()?;
        let mut notes = input.notes.trim().to_string();
        if notes.is_empty() {
            notes = "Done.".into();
        }
        for o in &def.outputs {
            if let Some(v) = outputs.get(&o.key) {
                notes.push_str(&format!("\n{}: {v}", o.label));
            }
        }
        let notes: String = notes.chars().take(crate::kernel::limits::TEXT_MAX).collect();
        crate::tickets::resolve_in(&mut c, actor, &mut t, (ResolutionCode::RequestFulfilled, &notes), now).await?;
        row.state = "done".into();
        row.outputs = serde_json::to_string(&outputs).map_err(|e| AppError::Internal(e.to_string()))?;
        row.done_at = Some(now);
        store::update_task(&mut c, &row).await?;
        let data = json!({"task": row.task_key, "number": t.number, "outputs": outputs});
        crate::tickets::record_entry(
            &mut c,
            row.request_id,
            now,
            Some(actor),
            ("task_done", orion_domain::TicketEvent::Noted),
            &data,
        )
        .await?;
        let rows = store::tasks_of(&mut c, row.request_id).await?;
        // A request that started a workflow is fulfilled when the workflow closes.
        let workflow_open =
            orion_store::workflows::by_request(&mut c, row.request_id).await?.is_some_and(|w| w.state == "open");
        if rows.iter().all(|r| matches!(r.state.as_str(), "done" | "cancelled")) && !workflow_open {
            let mut req_t = orion_store::tickets::get(&mut c, row.request_id).await?;
            if !matches!(req_t.state.as_str(), "resolved" | "closed") {
                let answers = store::answers_of(&mut c, row.request_id).await?;
                let vals = values(&package.form, &answers, &rows);
                let mut text = match fill(&package.closing_message, &vals).trim() {
                    "" => format!("Your request “{}” is fulfilled.", req.item_name),
                    s => s.to_string(),
                };
                let recorded: Vec<String> = package
                    .tasks
                    .iter()
                    .flat_map(|d| d.outputs.iter())
                    .filter_map(|o| vals.get(&o.key).map(|v| format!("{}: {}", o.label, v.as_text())))
                    .collect();
                if package.closing_message.trim().is_empty() && !recorded.is_empty() {
                    text.push_str("\n\n");
                    text.push_str(&recorded.join("\n"));
                }
                let text: String = text.chars().take(crate::kernel::limits::TEXT_MAX).collect();
                crate::tickets::resolve_in(&mut c, actor, &mut req_t, (ResolutionCode::RequestFulfilled, &text), now)
                    .await?;
            }
        } else {
            queue_fulfil(&mut c, row.request_id, now).await?;
        }
        self.commit(tx).await?;
        let found_task = self.task_of_request(actor, number).await?;
        found(found_task.ok_or(orion_store::StoreError::NotFound), "task")
    }
}
