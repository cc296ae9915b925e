//! Joiners, movers and leavers: one workflow per arrival, move or departure, holding the person,
//! their manager, department, location and day, and a plan of tasks each due a number of working
//! days (the `Business hours` calendar) before or after that day. Tasks open as task tickets (TSK)
//! in their groups' queues as soon as the tasks they wait for are done; moving the day plans every
//! task not yet done again and tells the people working on them.
//!
//! The asset register takes part: a joiner's hand-out task checks the laptop out to them when it
//! is completed; a leaver's plan has one line per asset they hold (read when it is planned, and
//! again when it is closed), each completed by checking the asset in with its condition. A leaver
//! closes only when Orion sees the account disabled, the groups left and every asset back — or a
//! lead records why it closes anyway.

mod audit;
mod person;
mod plans;
mod starts;

use crate::kernel::access::{require_lead, require_staff};
use crate::kernel::error::{found, invalid};
use crate::tickets::create::{Prepared, Preset};
use crate::{App, AppError, AppResult, NewTicketInput, Page};
use jiff::civil::Date;
use orion_domain::workflow::{self as wf, Evidence, Kind};
use orion_domain::{Actor, BusinessCalendar, FieldErrors, ResolutionCode, Role, Timestamp, UserId};
use orion_store::Conn;
use orion_store::workflows::{self as store, TaskRow, WorkflowRow};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use utoipa::{IntoParams, ToSchema};

pub use audit::{AuditLine, WorkflowAudit};
pub use person::{PersonOverview, PersonQuery};
pub use plans::{AccessProfile, AccessProfileInput, WorkflowPlan, WorkflowPlanInput};
pub use starts::{ProgressTask, TeamQuery, WorkflowProgress};

/// The job that opens a workflow's tasks whose earlier tasks are done.
pub const OPEN_JOB: &str = "workflow.open";
/// How close to its day (in working days) a workflow not yet ready is shown as urgent.
pub const URGENT_DAYS: i32 = 2;

/// `POST /api/v1/workflows`
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowInput {
    /// `joiner`, `mover` or `leaver`
    #[schema(schema_with = workflow_kinds_exact)]
    pub kind: String,
    /// The person's e-mail address
    #[schema(min_length = 1, max_length = 254, pattern = "\\S")]
    pub person: String,
    /// A joiner Orion does not know yet: their name (an account is made for them, as a requester)
    pub name: Option<String>,
    /// Their manager's e-mail (default: the manager Orion knows for them)
    pub manager: Option<String>,
    /// Default: the person's (a mover's old department)
    pub department: Option<String>,
    /// Default: the person's title (a mover's old role)
    pub job_title: Option<String>,
    /// A mover's new department
    pub new_department: Option<String>,
    /// A mover's new role
    pub new_job_title: Option<String>,
    /// Default: the person's
    pub location: Option<String>,
    /// The start day, the move day or the last day (`YYYY-MM-DD`)
    #[schema(schema_with = crate::api_schema::date_exact)]
    pub date: String,
    /// The support group its tasks go to unless the plan names another
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub group: String,
    pub note: Option<String>,
}

/// A person as a workflow names them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonRef {
    pub name: String,
    pub email: String,
    /// The account is active
    pub active: bool,
}

/// An asset a task hands out or takes back.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskAsset {
    pub id: i64,
    pub name: String,
    pub asset_tag: Option<String>,
}

/// One task of a workflow.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkflowTask {
    pub key: String,
    /// The line of a per-asset task (0, 1, …)
    pub n: i64,
    pub title: String,
    pub group: String,
    /// The working day it is due (`YYYY-MM-DD`), by the end of working time
    pub due: String,
    /// "5 working days before the start day"
    pub when: String,
    /// `waiting` (for earlier tasks), `open`, `done`, `cancelled`
    pub state: String,
    /// The task ticket, once opened
    pub number: Option<String>,
    /// `hands_out` (completing it checks an asset out to the person), `check_in` (one asset to
    /// take back) or empty
    pub action: String,
    pub asset: Option<TaskAsset>,
    /// What was recorded: the asset handed out, the condition of one taken back, the notes
    pub outcome: String,
    pub done_at: Option<String>,
    /// Not done and past its due time
    pub overdue: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Workflow {
    pub id: i64,
    /// `joiner`, `mover`, `leaver`
    pub kind: String,
    /// "Joiner", "Move", "Leaver"
    pub kind_label: String,
    pub person: PersonRef,
    pub manager: Option<PersonRef>,
    pub department: String,
    pub job_title: String,
    pub new_department: String,
    pub new_job_title: String,
    pub location: String,
    /// The start day, the move day or the last day (`YYYY-MM-DD`)
    pub date: String,
    /// "start day", "move day", "last day"
    pub date_name: String,
    pub group: String,
    /// `open`, `closed`, `cancelled`
    pub state: String,
    /// Every task due before its day is done (a joiner is ready for their first day)
    pub ready: bool,
    /// Open, not ready, and its day is within 2 working days (or past)
    pub urgent: bool,
    /// What stands between it and closing, in sentences
    pub blockers: Vec<String>,
    /// A mover's access to add and to revoke
    pub access_add: Vec<String>,
    pub access_revoke: Vec<String>,
    pub tasks: Vec<WorkflowTask>,
    pub tasks_done: usize,
    /// `api`, `console`, `catalog`, `directory`
    pub origin: String,
    /// The catalog request it answers
    pub request: Option<String>,
    /// The request form's answers, in form order
    pub answers: Vec<FormAnswer>,
    pub note: String,
    pub created_at: String,
    pub closed_at: Option<String>,
    /// Why a lead closed it although Orion did not see everything done
    pub exception_reason: Option<String>,
    pub row_version: i64,
}

/// One answer of the form a workflow was requested with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FormAnswer {
    pub question: String,
    pub answer: String,
}

/// A workflow as the list and the dashboard show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkflowSummary {
    pub id: i64,
    pub kind: String,
    pub kind_label: String,
    pub person: PersonRef,
    pub department: String,
    pub date: String,
    pub date_name: String,
    pub group: String,
    pub state: String,
    pub ready: bool,
    pub urgent: bool,
    pub tasks: usize,
    pub tasks_done: usize,
    /// The tasks due before its day that are not done yet, by title
    pub not_ready: Vec<String>,
}

/// `GET /api/v1/workflows`
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WorkflowQuery {
    /// `open` (default), `closed`, `cancelled` or `all`
    #[param(schema_with = workflow_states_exact)]
    pub state: Option<String>,
    /// One person's, by e-mail
    pub person: Option<String>,
    /// The `next_cursor` of the previous page
    pub cursor: Option<String>,
    /// 1–200 (default 50)
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

crate::api_schema::one_of_values!(workflow_kinds, workflow_kinds_exact: &["joiner", "mover", "leaver"]);
crate::api_schema::one_of_values!(workflow_states, workflow_states_exact: &["open", "closed", "cancelled", "all"]);

/// `POST /api/v1/workflows/{id}/date`: HR moved the day.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveInput {
    #[schema(schema_with = crate::api_schema::date_exact)]
    pub date: String,
    /// The workflow's `row_version` as read
    pub row_version: i64,
}

/// `POST /api/v1/workflows/tasks/{number}/complete`
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowTaskCompletion {
    /// What was done
    #[serde(default)]
    pub notes: String,
    /// A hand-out task: the asset checked out to the person (asset tag, or id)
    pub asset: Option<String>,
    /// A check-in line: `good`, `worn`, `damaged`, `faulty` or `incomplete`
    pub condition: Option<String>,
    /// A check-in line: where the asset goes, `in_stock` (default), `in_repair` or `retired`
    pub to_state: Option<String>,
}

/// `POST /api/v1/workflows/{id}/reserve`: the asset a joiner's hand-out task will hand out.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveInput {
    /// The asset (tag, or id), in stock; empty to release the one reserved
    #[serde(default)]
    pub asset: String,
}

/// `POST /api/v1/workflows/{id}/close`
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseInput {
    /// Close although Orion does not see everything done (leads): why
    #[schema(max_length = 2000)]
    pub exception: Option<String>,
}

/// A task ticket's place in its workflow.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskOfWorkflow {
    pub workflow: i64,
    pub kind_label: String,
    pub person: PersonRef,
    pub date: String,
    pub date_name: String,
    pub task: WorkflowTask,
}

/// A list's cursor, `day.id` (as [`next_cursor`] writes it); none for an empty one.
pub(super) fn day_cursor(cursor: Option<&str>) -> AppResult<Option<(String, i64)>> {
    let Some(cur) = cursor.map(str::trim).filter(|c| !c.is_empty()) else { return Ok(None) };
    let parsed =
        cur.split_once('.').and_then(|(d, id)| Some((d.parse::<Date>().ok()?.to_string(), id.parse::<i64>().ok()?)));
    Ok(Some(parsed.ok_or_else(|| invalid("cursor", "is not a cursor this server issued"))?))
}

/// Cuts a page read with one row more than `limit` to `limit`; the cursor of the next page when
/// there is one.
pub(super) fn next_cursor(rows: &mut Vec<WorkflowRow>, limit: i64) -> Option<String> {
    if rows.len() as i64 <= limit {
        return None;
    }
    rows.truncate(limit as usize);
    rows.last().map(|w| format!("{}.{}", w.anchor_day, w.id))
}

/// An asset by tag, or by id; 422 naming `asset` when there is none.
async fn asset_named(c: &mut Conn<'_>, asset: &str) -> AppResult<orion_store::cmdb::CiRow> {
    if let Some(ci) = orion_store::cmdb::find_by_tag(c, asset).await? {
        return Ok(ci);
    }
    match asset.parse::<i64>() {
        Ok(id) => found(orion_store::cmdb::get(c, id).await, "asset")
            .map_err(|_| invalid("asset", format!("no asset {asset:?}"))),
        Err(_) => Err(invalid("asset", format!("no asset {asset:?}"))),
    }
}

fn parse_day(field: &str, s: &str) -> Result<Date, orion_domain::FieldError> {
    let s = s.trim();
    s.parse::<Date>().map_err(|_| orion_domain::FieldError::new(field, format!("{s:?} is not a date like 2027-02-01")))
}

fn text(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

fn list_of(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn json_of<T: Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(|e| AppError::Internal(e.to_string()))
}

/// The tasks ready to open: waiting, with every task they wait for done (or cancelled).
fn ready_tasks(rows: &[TaskRow]) -> Vec<TaskRow> {
    rows.iter()
        .filter(|r| r.state == "waiting")
        .filter(|r| {
            list_of(&r.after_keys).iter().all(|k| {
                rows.iter().filter(|x| &x.task_key == k).all(|x| matches!(x.state.as_str(), "done" | "cancelled"))
            })
        })
        .cloned()
        .collect()
}

fn finished(state: &str) -> bool {
    matches!(state, "done" | "cancelled")
}

/// Whether every task due before the day is done.
fn is_ready(rows: &[TaskRow]) -> bool {
    rows.iter().filter(|r| r.offset_days < 0).all(|r| finished(&r.state))
}

/// Is `day` within [`URGENT_DAYS`] working days of today (or past)?
fn is_near(cal: &BusinessCalendar, day: Date, today: Date) -> bool {
    cal.add_working_days(today, URGENT_DAYS).is_none_or(|limit| day <= limit)
}

fn today(cal: &BusinessCalendar, now: i64) -> Date {
    match jiff::Timestamp::from_millisecond(now) {
        Ok(ts) => ts.to_zoned(cal.zone().clone()).date(),
        Err(_) => Date::constant(1970, 1, 1),
    }
}

async fn evidence(c: &mut Conn<'_>, w: &WorkflowRow) -> AppResult<Evidence> {
    let person = orion_store::users::get(c, w.person_id).await?;
    let held = store::assets_held(c, w.person_id).await?;
    Ok(Evidence {
        account_disabled: !person.active,
        groups_kept: store::groups_of(c, w.person_id).await?,
        assets_held: held.iter().map(|a| a.asset_tag.clone().unwrap_or_else(|| a.name.clone())).collect(),
        seats_held: store::seats_held(c, w.person_id).await?,
    })
}

/// What stands between an open workflow and closing.
fn blockers(kind: Kind, rows: &[TaskRow], ev: Option<&Evidence>) -> Vec<String> {
    let mut out = Vec::new();
    let open = rows.iter().filter(|r| !finished(&r.state)).count();
    match open {
        0 => {}
        1 => out.push("1 task is not done.".to_string()),
        n => out.push(format!("{n} tasks are not done.")),
    }
    if kind == Kind::Leaver
        && let Some(ev) = ev
    {
        out.extend(ev.blockers());
    }
    out
}

impl App {
    async fn calendar(&self) -> AppResult<BusinessCalendar> {
        let mut r = self.db.read().await?;
        crate::settings::sla::business_calendar(&mut r.conn()).await
    }

    /// Starts a workflow (staff): the plan of its kind dated from its day, the tasks that wait for
    /// nothing opened at once; a leaver's plan gets one check-in line per asset they hold, a
    /// mover's the access their old and new department and role give and take.
    pub async fn create_workflow(&self, actor: &Actor, input: WorkflowInput, origin: &str) -> AppResult<Workflow> {
        require_staff(actor, "start joiners, movers and leavers")?;
        let id = self.start_workflow(Some(actor.id.0), input, (origin, None, "{}")).await?;
        self.workflow(actor, id).await
    }

    /// Starts a workflow for `by` (none: the directory sync); `from` is the origin, the catalog
    /// request it answers and the form's answers as JSON. Returns its id.
    pub(crate) async fn start_workflow(
        &self,
        by: Option<i64>,
        input: WorkflowInput,
        from: (&str, Option<i64>, &str),
    ) -> AppResult<i64> {
        let (origin, request_id, details) = from;
        let mut errs = FieldErrors::new();
        let kind = errs.check(Kind::parse("kind", input.kind.trim()));
        let day = errs.check(parse_day("date", &input.date));
        let email = input.person.trim().to_lowercase();
        if email.is_empty() || !email.contains('@') {
            errs.push("person", "the person's e-mail address is required");
        }
        let note = input.note.as_deref().map(str::trim).unwrap_or("").to_string();
        if note.chars().count() > 2_000 {
            errs.push("note", "at most 2000 characters");
        }
        for (field, v) in [
            ("department", &input.department),
            ("job_title", &input.job_title),
            ("new_department", &input.new_department),
            ("new_job_title", &input.new_job_title),
            ("location", &input.location),
            ("name", &input.name),
        ] {
            if v.as_deref().is_some_and(|v| v.chars().count() > 200) {
                errs.push(field, "at most 200 characters");
            }
        }
        if kind == Some(Kind::Mover) && text(&input.new_department).is_none() && text(&input.new_job_title).is_none() {
            errs.push("new_department", "a move needs the new department or the new role");
        }
        let now = self.now();
        let (person, manager, group, plan, cal) = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let person = orion_store::users::find_by_email(&mut c, &email).await?;
            match (&person, kind) {
                (None, Some(Kind::Joiner)) if text(&input.name).is_none() => {
                    errs.push("name", "Orion does not know this person yet: give their name")
                }
                (None, Some(Kind::Mover | Kind::Leaver)) => errs.push("person", format!("no user {email:?}")),
                _ => {}
            }
            let manager = match text(&input.manager) {
                Some(m) => match orion_store::users::find_by_email(&mut c, &m.to_lowercase()).await? {
                    Some(u) => Some(u),
                    None => {
                        errs.push("manager", format!("no user {m:?}"));
                        None
                    }
                },
                None => match person.as_ref().and_then(|p| p.manager_id) {
                    Some(id) => Some(orion_store::users::get(&mut c, id).await?),
                    None => None,
                },
            };
            let group = match orion_store::groups::find_by_name(&mut c, input.group.trim()).await? {
                Some(g) if g.active => Some(g),
                Some(_) => {
                    errs.push("group", format!("{} is not active", input.group.trim()));
                    None
                }
                None if input.group.trim().is_empty() => {
                    errs.push("group", "the group the tasks go to is required");
                    None
                }
                None => {
                    errs.push("group", format!("no group {:?}", input.group.trim()));
                    None
                }
            };
            let plan = match kind {
                Some(k) => Some(plans::plan_of(&mut c, k).await?),
                None => None,
            };
            let cal = crate::settings::sla::business_calendar(&mut c).await?;
            (person, manager, group, plan, cal)
        };
        errs.into_result()?;
        let (Some(kind), Some(day), Some(group), Some(plan)) = (kind, day, group, plan) else {
            unreachable!("checked above")
        };
        let department =
            text(&input.department).or_else(|| person.as_ref().and_then(|p| p.department.clone())).unwrap_or_default();
        let job_title =
            text(&input.job_title).or_else(|| person.as_ref().and_then(|p| p.title.clone())).unwrap_or_default();
        let location =
            text(&input.location).or_else(|| person.as_ref().and_then(|p| p.location.clone())).unwrap_or_default();
        let new_department = text(&input.new_department).unwrap_or_default();
        let new_job_title = text(&input.new_job_title).unwrap_or_default();
        // Group names of the plan, read once.
        let mut group_ids: HashMap<String, i64> = HashMap::new();
        {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            for t in &plan {
                if let Some(g) = t.group.as_deref().map(str::trim).filter(|g| !g.is_empty())
                    && !group_ids.contains_key(g)
                {
                    let row =
                        orion_store::groups::find_by_name(&mut c, g).await?.filter(|g| g.active).ok_or_else(|| {
                            invalid(
                                "group",
                                format!("the {} plan names the group {g:?}, which is not active", kind.label()),
                            )
                        })?;
                    group_ids.insert(g.to_string(), row.id);
                }
            }
        }
        let due = wf::due_dates(&cal, day, &plan);
        if due.iter().any(Option::is_none) {
            return Err(invalid("date", "the Business hours calendar has no working days to plan by"));
        }
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let person_id = match &person {
            Some(p) => p.id,
            None => {
                let name = text(&input.name).unwrap_or_default();
                let id = orion_store::users::insert_requester(&mut c, &email, &name, now).await?;
                // The account Orion makes for a joiner knows their manager (approvals need it).
                if let Some(m) = &manager {
                    orion_store::users::set_manager(&mut c, id, Some(m.id), now).await?;
                }
                id
            }
        };
        let (access_add, access_revoke) = if kind == Kind::Mover {
            let old: BTreeSet<String> =
                store::access_of(&mut c, &[department.clone(), job_title.clone()]).await?.into_iter().collect();
            let new_names = [
                if new_department.is_empty() { department.clone() } else { new_department.clone() },
                if new_job_title.is_empty() { job_title.clone() } else { new_job_title.clone() },
            ];
            let new: BTreeSet<String> = store::access_of(&mut c, &new_names).await?.into_iter().collect();
            wf::access_diff(&old, &new)
        } else {
            (Vec::new(), Vec::new())
        };
        let held = if kind == Kind::Leaver { store::assets_held(&mut c, person_id).await? } else { Vec::new() };
        let id = store::insert(
            &mut c,
            &store::NewWorkflow {
                kind: kind.as_str(),
                person_id,
                manager_id: manager.as_ref().map(|m| m.id),
                department: &department,
                job_title: &job_title,
                new_department: &new_department,
                new_job_title: &new_job_title,
                location: &location,
                anchor_day: &day.to_string(),
                group_id: group.id,
                access_add: &json_of(&access_add)?,
                access_revoke: &json_of(&access_revoke)?,
                details,
                origin,
                request_id,
                note: &note,
                created_by: by,
            },
            now,
        )
        .await?;
        for (position, (t, due)) in plan.iter().zip(&due).enumerate() {
            let Some(due) = due else { continue };
            let mut description = t.description.clone();
            if kind == Kind::Mover && t.key == "add_access" && !access_add.is_empty() {
                description = format!("{description}\nAdd: {}", access_add.join(", ")).trim().to_string();
            }
            if kind == Kind::Mover && t.key == "revoke_access" && !access_revoke.is_empty() {
                description = format!("{description}\nRevoke: {}", access_revoke.join(", ")).trim().to_string();
            }
            let row = |n: i64, title: String, action: &str, asset_id: Option<i64>| TaskRow {
                workflow_id: id,
                task_key: t.key.clone(),
                n,
                position: position as i64,
                title,
                description: description.clone(),
                group_id: t.group.as_deref().and_then(|g| group_ids.get(g.trim()).copied()).unwrap_or(group.id),
                offset_days: i64::from(t.offset_days),
                after_keys: serde_json::to_string(&t.after).unwrap_or_else(|_| "[]".into()),
                action: action.into(),
                asset_id,
                state: "waiting".into(),
                due_day: due.day.to_string(),
                due_at: due.at.0,
                ticket_id: None,
                done_at: None,
                done_by: None,
                outcome: String::new(),
            };
            if t.per_asset {
                let base = row(0, t.title.clone(), "check_in", None);
                for (n, a) in held.iter().enumerate() {
                    store::insert_task(&mut c, &asset_line(&base, n as i64, &t.title, a)).await?;
                }
            } else {
                let action = if t.hands_out { "hands_out" } else { "" };
                store::insert_task(&mut c, &row(0, t.title.clone(), action, None)).await?;
            }
        }
        queue_open(&mut c, id, now).await?;
        self.commit(tx).await?;
        self.open_ready_workflow_tasks(id).await?;
        tracing::info!(workflow = id, kind = kind.as_str(), origin, "workflow started");
        Ok(id)
    }

    /// One workflow with its tasks and what stands between it and closing (staff).
    pub async fn workflow(&self, actor: &Actor, id: i64) -> AppResult<Workflow> {
        require_staff(actor, "see joiners, movers and leavers")?;
        let cal = self.calendar().await?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let w = found(store::get(&mut c, id).await, "workflow")?;
        self.workflow_view(&mut c, &cal, w).await
    }

    async fn workflow_view(&self, c: &mut Conn<'_>, cal: &BusinessCalendar, w: WorkflowRow) -> AppResult<Workflow> {
        let kind = Kind::parse("kind", &w.kind)?;
        let rows = store::tasks_of(c, w.id).await?;
        let groups: HashMap<i64, String> =
            orion_store::groups::list(c).await?.into_iter().map(|g| (g.id, g.name)).collect();
        let now = self.now();
        let mut tasks = Vec::with_capacity(rows.len());
        for r in &rows {
            let number = match r.ticket_id {
                Some(t) => Some(orion_store::tickets::get(c, t).await?.number),
                None => None,
            };
            let asset = match r.asset_id {
                Some(a) => {
                    let ci = orion_store::cmdb::get(c, a).await?;
                    Some(TaskAsset { id: ci.id, name: ci.name, asset_tag: ci.asset_tag })
                }
                None => None,
            };
            tasks.push(task_view(r, kind, &groups, number, asset, now));
        }
        let ev = if kind == Kind::Leaver && w.state == "open" { Some(evidence(c, &w).await?) } else { None };
        let manager = match w.manager_id {
            Some(m) => {
                let u = orion_store::users::get(c, m).await?;
                Some(PersonRef { name: u.name, email: u.email, active: u.active })
            }
            None => None,
        };
        let ready = is_ready(&rows);
        let day = parse_day("date", &w.anchor_day)?;
        let blockers = if w.state == "open" { blockers(kind, &rows, ev.as_ref()) } else { Vec::new() };
        let request = match w.request_id {
            Some(t) => Some(orion_store::tickets::get(c, t).await?.number),
            None => None,
        };
        let answers = serde_json::from_str::<Vec<(String, String)>>(&w.details)
            .unwrap_or_default()
            .into_iter()
            .map(|(question, answer)| FormAnswer { question, answer })
            .collect();
        Ok(Workflow {
            id: w.id,
            kind: w.kind.clone(),
            kind_label: kind.label().into(),
            person: PersonRef { name: w.person_name, email: w.person_email, active: w.person_active },
            manager,
            department: w.department,
            job_title: w.job_title,
            new_department: w.new_department,
            new_job_title: w.new_job_title,
            location: w.location,
            date: w.anchor_day,
            date_name: kind.anchor().into(),
            group: w.group_name,
            urgent: w.state == "open" && !ready && is_near(cal, day, today(cal, now)),
            state: w.state,
            ready,
            blockers,
            access_add: list_of(&w.access_add),
            access_revoke: list_of(&w.access_revoke),
            tasks_done: rows.iter().filter(|r| r.state == "done").count(),
            tasks,
            origin: w.origin,
            request,
            answers,
            note: w.note,
            created_at: Timestamp(w.created_at).to_rfc3339(),
            closed_at: w.closed_at.map(|t| Timestamp(t).to_rfc3339()),
            exception_reason: w.exception_reason,
            row_version: w.row_version,
        })
    }

    /// Workflows by day (staff): the open ones by default — the dashboard of who arrives and leaves
    /// next, with what is not ready.
    pub async fn workflows(&self, actor: &Actor, q: &WorkflowQuery) -> AppResult<Page<WorkflowSummary>> {
        require_staff(actor, "see joiners, movers and leavers")?;
        let limit = crate::kernel::paging::parse_limit(q.limit)?;
        let state = match q.state.as_deref().map(str::trim) {
            None | Some("") | Some("open") => Some("open"),
            Some("all") => None,
            Some(s @ ("closed" | "cancelled")) => Some(s),
            Some(_) => return Err(invalid("state", "must be open, closed, cancelled or all")),
        };
        let after = day_cursor(q.cursor.as_deref())?;
        let cal = self.calendar().await?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let person = match text(&q.person) {
            Some(p) => match orion_store::users::find_by_email(&mut c, &p.to_lowercase()).await? {
                Some(u) => Some(u.id),
                None => return Ok(Page { items: Vec::new(), next_cursor: None }),
            },
            None => None,
        };
        let mut rows =
            store::list(&mut c, state, person, after.as_ref().map(|(d, i)| (d.as_str(), *i)), limit + 1).await?;
        let next = next_cursor(&mut rows, limit);
        let ids: Vec<i64> = rows.iter().map(|w| w.id).collect();
        let mut tasks: HashMap<i64, Vec<TaskRow>> = HashMap::new();
        for t in store::tasks_of_many(&mut c, &ids).await? {
            tasks.entry(t.workflow_id).or_default().push(t);
        }
        let today = today(&cal, self.now());
        let items = rows
            .into_iter()
            .map(|w| {
                let kind = Kind::parse("kind", &w.kind).unwrap_or(Kind::Joiner);
                let mine = tasks.remove(&w.id).unwrap_or_default();
                let ready = is_ready(&mine);
                let near = w.anchor_day.parse::<Date>().is_ok_and(|d| is_near(&cal, d, today));
                WorkflowSummary {
                    id: w.id,
                    kind: w.kind.clone(),
                    kind_label: kind.label().into(),
                    person: PersonRef { name: w.person_name, email: w.person_email, active: w.person_active },
                    department: if w.new_department.is_empty() { w.department } else { w.new_department },
                    date: w.anchor_day,
                    date_name: kind.anchor().into(),
                    group: w.group_name,
                    urgent: w.state == "open" && !ready && near,
                    state: w.state,
                    ready,
                    tasks: mine.len(),
                    tasks_done: mine.iter().filter(|t| t.state == "done").count(),
                    not_ready: mine
                        .iter()
                        .filter(|t| t.offset_days < 0 && !finished(&t.state))
                        .map(|t| t.title.clone())
                        .collect(),
                }
            })
            .collect();
        Ok(Page { items, next_cursor: next })
    }

    /// Moves a workflow's day (staff): every task not done yet is due again counted from the new
    /// day, and whoever works on an open one is told.
    pub async fn move_workflow(&self, actor: &Actor, id: i64, input: &MoveInput) -> AppResult<Workflow> {
        require_staff(actor, "move a workflow's day")?;
        let day = parse_day("date", &input.date)?;
        self.move_day(Some(actor), id, day, input.row_version).await?;
        self.workflow(actor, id).await
    }

    /// Moves a workflow's day for `actor` (none: the directory sync).
    pub(crate) async fn move_day(&self, actor: Option<&Actor>, id: i64, day: Date, row_version: i64) -> AppResult<()> {
        let cal = self.calendar().await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let w = found(store::get(&mut c, id).await, "workflow")?;
        if w.state != "open" {
            return Err(AppError::Conflict(format!("this workflow is {} already", w.state)));
        }
        let kind = Kind::parse("kind", &w.kind)?;
        let old = w.anchor_day.clone();
        if old == day.to_string() {
            return Err(invalid("date", format!("the {} is {old} already", kind.anchor())));
        }
        store::set_day(&mut c, id, row_version, &day.to_string(), now).await?;
        let mut moved = 0;
        for mut t in store::tasks_of(&mut c, id).await? {
            if finished(&t.state) {
                continue;
            }
            let offset = i32::try_from(t.offset_days).unwrap_or(0);
            let (Some(due_day), Some(due_at)) =
                (cal.add_working_days(day, offset), cal.add_working_days(day, offset).and_then(|d| cal.end_of_day(d)))
            else {
                return Err(invalid("date", "the Business hours calendar has no working days to plan by"));
            };
            t.due_day = due_day.to_string();
            t.due_at = due_at.0;
            store::update_task(&mut c, &t).await?;
            moved += 1;
            if let Some(ticket_id) = t.ticket_id {
                let ticket = orion_store::tickets::get(&mut c, ticket_id).await?;
                let message = format!(
                    "The {} of {} moved from {old} to {day}: “{}” is now due {due_day}.",
                    kind.anchor(),
                    w.person_name,
                    t.title
                );
                crate::tickets::record_entry(
                    &mut c,
                    ticket_id,
                    now,
                    actor,
                    ("workflow_replanned", orion_domain::TicketEvent::Noted),
                    &json!({"message": message, "from": old, "to": day.to_string(), "due": due_day.to_string()}),
                )
                .await?;
                if let Some(assignee) = ticket.assignee_id.filter(|a| actor.is_none_or(|x| *a != x.id.0)) {
                    crate::tickets::notify_user(&mut c, &ticket, assignee, "workflow", &message, now).await?;
                }
            }
        }
        tracing::info!(workflow = id, from = %old, to = %day, tasks = moved, "workflow re-planned");
        self.commit(tx).await?;
        Ok(())
    }

    /// The `workflow.open` job: opens the workflow's tasks whose earlier tasks are done.
    pub async fn run_workflow_open_job(&self, job: &orion_store::jobs::JobRow) -> crate::kernel::jobs::JobResult {
        let p: serde_json::Value = serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
        let Some(id) = p["workflow_id"].as_i64() else { return Err("workflow.open without workflow_id".into()) };
        self.open_ready_workflow_tasks(id).await.map_err(|e| e.to_string())
    }

    async fn open_ready_workflow_tasks(&self, id: i64) -> AppResult<()> {
        let (w, ready) = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let w = store::get(&mut c, id).await?;
            let rows = store::tasks_of(&mut c, id).await?;
            (w, ready_tasks(&rows))
        };
        let kind = Kind::parse("kind", &w.kind)?;
        if ready.is_empty() || w.state != "open" {
            return Ok(());
        }
        // Task tickets are opened as whoever started it; the directory's as the first admin.
        let creator = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let by = match w.created_by {
                Some(u) => Some(u),
                None => orion_store::identity::first_active_admin(&mut c).await?,
            };
            let Some(by) = by else {
                return Err(AppError::Internal(format!("workflow {id}: no active administrator to open tasks as")));
            };
            let u = orion_store::users::get(&mut c, by).await?;
            Actor { id: UserId(u.id), role: Role::parse("role", &u.role)? }
        };
        let groups: HashMap<i64, String> = {
            let mut r = self.db.read().await?;
            orion_store::groups::list(&mut r.conn()).await?.into_iter().map(|g| (g.id, g.name)).collect()
        };
        let mut planned = Vec::new();
        for t in &ready {
            let title: String = t.title.chars().take(crate::kernel::limits::TITLE_MAX).collect();
            let body = task_body(&w, kind, t);
            let input = NewTicketInput {
                kind: Some("task".into()),
                title: Some(title),
                description: Some(body.chars().take(crate::kernel::limits::TEXT_MAX).collect()),
                ..Default::default()
            };
            let group = groups.get(&t.group_id).map(String::as_str).unwrap_or(&w.group_name);
            let preset = Preset { group: Some(group), impact: None, sla_policy: None, task: true };
            let Prepared { planned: p, .. } = self.prepare_ticket_with(&creator, input, preset).await?;
            planned.push((t.clone(), p));
        }
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        // Another worker may have opened some meanwhile.
        let current = store::tasks_of(&mut c, id).await?;
        for (mut row, p) in planned {
            if current.iter().find(|x| x.task_key == row.task_key && x.n == row.n).is_none_or(|x| x.state != "waiting")
            {
                continue;
            }
            let written = crate::tickets::open(&mut c, &p).await?;
            row.state = "open".into();
            row.ticket_id = Some(written.id);
            store::update_task(&mut c, &row).await?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// A task ticket's place in its workflow (staff); `None` for a ticket that is no workflow task.
    pub async fn task_of_workflow(&self, actor: &Actor, number: &str) -> AppResult<Option<TaskOfWorkflow>> {
        require_staff(actor, "see joiners, movers and leavers")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        let Some(row) = store::task_by_ticket(&mut c, t.id).await? else { return Ok(None) };
        let w = store::get(&mut c, row.workflow_id).await?;
        let kind = Kind::parse("kind", &w.kind)?;
        let groups: HashMap<i64, String> =
            orion_store::groups::list(&mut c).await?.into_iter().map(|g| (g.id, g.name)).collect();
        let asset = match row.asset_id {
            Some(a) => {
                let ci = orion_store::cmdb::get(&mut c, a).await?;
                Some(TaskAsset { id: ci.id, name: ci.name, asset_tag: ci.asset_tag })
            }
            None => None,
        };
        Ok(Some(TaskOfWorkflow {
            workflow: w.id,
            kind_label: kind.label().into(),
            person: PersonRef { name: w.person_name, email: w.person_email, active: w.person_active },
            date: w.anchor_day,
            date_name: kind.anchor().into(),
            task: task_view(&row, kind, &groups, Some(t.number), asset, self.now()),
        }))
    }

    /// Completes a workflow task (staff): a hand-out checks the named asset out to the person, a
    /// check-in line takes its asset back with the condition; the task ticket is resolved, the
    /// tasks that waited for it open, and the workflow closes when nothing stands in its way.
    pub async fn complete_workflow_task(
        &self,
        actor: &Actor,
        number: &str,
        input: &WorkflowTaskCompletion,
    ) -> AppResult<Workflow> {
        require_staff(actor, "complete tasks")?;
        let (t, row, w) = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let t = crate::tickets::load_visible(&mut c, actor, number).await?;
            let row = store::task_by_ticket(&mut c, t.id)
                .await?
                .ok_or_else(|| invalid("number", format!("{} is not a task of a joiner, mover or leaver", t.number)))?;
            let w = store::get(&mut c, row.workflow_id).await?;
            (t, row, w)
        };
        if row.state != "open" || matches!(t.state.as_str(), "resolved" | "closed") {
            return Err(AppError::Conflict(format!("{} is done already", t.number)));
        }
        let notes = input.notes.trim();
        if notes.chars().count() > 4_000 {
            return Err(invalid("notes", "at most 4000 characters"));
        }
        // The asset register first: it checks what it is asked on its own.
        let mut outcome = String::new();
        match row.action.as_str() {
            "hands_out" => {
                // The asset reserved for them, unless another is named.
                let reserved = row.asset_id.map(|id| id.to_string());
                let Some(asset) = text(&input.asset).or(reserved) else {
                    return Err(invalid("asset", "name the asset handed out (its asset tag)"));
                };
                let ci = {
                    let mut r = self.db.read().await?;
                    asset_named(&mut r.conn(), &asset).await?
                };
                // Done before (a retry after a failure): it is theirs already.
                if !(ci.state == "deployed" && ci.owner_id == Some(w.person_id)) {
                    let input = crate::cmdb::CheckoutInput {
                        user: w.person_email.clone(),
                        due_back: None,
                        note: Some(format!("{} of {}", Kind::parse("kind", &w.kind)?.label(), w.person_name)),
                    };
                    self.checkout_asset(actor, ci.id, input).await.map_err(|e| match e {
                        AppError::Validation(_) | AppError::Conflict(_) => invalid("asset", format!("{asset}: {e}")),
                        e => e,
                    })?;
                }
                outcome = format!("Checked out {} ({})", ci.name, ci.asset_tag.clone().unwrap_or(ci.id.to_string()));
            }
            "check_in" => {
                let Some(condition) = text(&input.condition) else {
                    return Err(invalid("condition", "the condition it came back in is required"));
                };
                let asset_id =
                    row.asset_id.ok_or_else(|| AppError::Internal("a check-in line without asset".into()))?;
                let ci = {
                    let mut r = self.db.read().await?;
                    orion_store::cmdb::get(&mut r.conn(), asset_id).await?
                };
                if ci.state == "deployed" && ci.owner_id == Some(w.person_id) {
                    let input = crate::cmdb::CheckinInput {
                        condition: condition.clone(),
                        to_state: text(&input.to_state),
                        note: Some(format!("Leaver {}", w.person_name)),
                    };
                    self.checkin_asset(actor, asset_id, input).await?;
                }
                outcome = format!("Checked in, condition {}", condition.to_lowercase());
            }
            _ => {}
        }
        if !notes.is_empty() {
            outcome = if outcome.is_empty() { notes.to_string() } else { format!("{outcome}. {notes}") };
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = orion_store::tickets::get(&mut c, t.id).await?;
        let mut row = store::task_by_ticket(&mut c, t.id).await?.ok_or(AppError::NotFound("task"))?;
        if row.state != "open" {
            return Err(AppError::Conflict(format!("{} is done already", t.number)));
        }
        let resolution = if outcome.is_empty() { "Done.".to_string() } else { outcome.clone() };
        if !matches!(t.state.as_str(), "resolved" | "closed") {
            crate::tickets::resolve_in(&mut c, actor, &mut t, (ResolutionCode::RequestFulfilled, &resolution), now)
                .await?;
        }
        row.state = "done".into();
        row.done_at = Some(now);
        row.done_by = Some(actor.id.0);
        row.outcome = outcome.chars().take(4_000).collect();
        store::update_task(&mut c, &row).await?;
        queue_open(&mut c, w.id, now).await?;
        self.commit(tx).await?;
        self.open_ready_workflow_tasks(w.id).await?;
        self.close_when_done(actor, w.id).await?;
        self.workflow(actor, w.id).await
    }

    /// Reserves an asset in stock for a joiner's hand-out task (staff) — it cannot be checked out
    /// to anyone else meanwhile, and the task hands it out unless told otherwise — or, with an
    /// empty `asset`, releases the one reserved.
    pub async fn reserve_workflow_asset(&self, actor: &Actor, id: i64, input: &ReserveInput) -> AppResult<Workflow> {
        require_staff(actor, "reserve assets")?;
        let asset = input.asset.trim();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let w = found(store::get(&mut c, id).await, "workflow")?;
        if w.state != "open" {
            return Err(AppError::Conflict(format!("this workflow is {} already", w.state)));
        }
        let mut row = store::tasks_of(&mut c, id)
            .await?
            .into_iter()
            .find(|t| t.action == "hands_out" && !finished(&t.state))
            .ok_or_else(|| AppError::Conflict("this workflow has no hand-out task left to reserve for".into()))?;
        row.asset_id = if asset.is_empty() {
            None
        } else {
            let ci = asset_named(&mut c, asset).await?;
            if ci.state != "in_stock" {
                return Err(invalid("asset", format!("{asset} is {}, not in stock", ci.state.replace('_', " "))));
            }
            if let Some((person, name, day)) = store::reservation_of(&mut c, ci.id).await?
                && person != w.person_id
            {
                return Err(invalid("asset", format!("{asset} is reserved for {name}, who starts on {day}")));
            }
            Some(ci.id)
        };
        store::update_task(&mut c, &row).await?;
        self.commit(tx).await?;
        self.workflow(actor, id).await
    }

    /// Closes a workflow whose tasks are all done and, for a leaver, whose evidence is clear.
    async fn close_when_done(&self, actor: &Actor, id: i64) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let w = store::get(&mut c, id).await?;
        if w.state != "open" {
            return Ok(());
        }
        let kind = Kind::parse("kind", &w.kind)?;
        let rows = store::tasks_of(&mut c, id).await?;
        let ev = if kind == Kind::Leaver { Some(evidence(&mut c, &w).await?) } else { None };
        if blockers(kind, &rows, ev.as_ref()).is_empty() {
            store::finish(&mut c, id, "closed", Some(actor.id.0), None, now).await?;
            if let Some(request) = w.request_id {
                let what = format!("the {} of {} is done.", kind.label().to_lowercase(), w.person_name);
                crate::catalog::tasks::workflow_closed(&mut c, actor, request, &what, now).await?;
            }
            self.commit(tx).await?;
        }
        Ok(())
    }

    /// Closes a workflow (staff). A leaver closes only when Orion sees the account disabled, the
    /// groups left and every asset checked in, and every task done — or, with `exception`, when a
    /// lead records why it closes anyway. Assets the person took since it was planned get their
    /// own check-in lines first.
    pub async fn close_workflow(&self, actor: &Actor, id: i64, input: &CloseInput) -> AppResult<Workflow> {
        require_staff(actor, "close joiners, movers and leavers")?;
        let exception = text(&input.exception);
        if exception.is_some() {
            require_lead(actor, "close a workflow with an exception")?;
        }
        if exception.as_deref().is_some_and(|e| e.chars().count() > 2_000) {
            return Err(invalid("exception", "at most 2000 characters"));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let w = found(store::get(&mut c, id).await, "workflow")?;
        if w.state != "open" {
            return Err(AppError::Conflict(format!("this workflow is {} already", w.state)));
        }
        let kind = Kind::parse("kind", &w.kind)?;
        let mut rows = store::tasks_of(&mut c, id).await?;
        let ev = if kind == Kind::Leaver { Some(evidence(&mut c, &w).await?) } else { None };
        let mut added = 0;
        if kind == Kind::Leaver {
            added = plan_new_assets(&mut c, &w, &mut rows).await?;
        }
        let why = blockers(kind, &rows, ev.as_ref());
        match (&exception, why.is_empty()) {
            (_, true) | (Some(_), false) => {
                // Tasks left open with an exception are cancelled with it.
                for r in rows.iter_mut().filter(|r| !finished(&r.state)) {
                    r.state = "cancelled".into();
                    r.outcome = exception.clone().unwrap_or_default();
                    store::update_task(&mut c, r).await?;
                    if let Some(tid) = r.ticket_id {
                        let mut t = orion_store::tickets::get(&mut c, tid).await?;
                        if !matches!(t.state.as_str(), "resolved" | "closed") {
                            let notes = format!("Cancelled: the workflow was closed. {}", r.outcome);
                            crate::tickets::resolve_in(&mut c, actor, &mut t, (ResolutionCode::Cancelled, &notes), now)
                                .await?;
                        }
                    }
                }
                let reason = (!why.is_empty()).then(|| {
                    format!("{} (open when closed: {})", exception.clone().unwrap_or_default(), why.join(" "))
                });
                store::finish(&mut c, id, "closed", Some(actor.id.0), reason.as_deref(), now).await?;
                if let Some(request) = w.request_id {
                    let what = match &exception {
                        Some(e) => format!("the {} of {} is closed ({e}).", kind.label().to_lowercase(), w.person_name),
                        None => format!("the {} of {} is done.", kind.label().to_lowercase(), w.person_name),
                    };
                    crate::catalog::tasks::workflow_closed(&mut c, actor, request, &what, now).await?;
                }
                tracing::info!(workflow = id, exception = reason.is_some(), "workflow closed");
            }
            (None, false) => {
                if added > 0 {
                    // The new check-in lines are kept: commit them, then refuse.
                    queue_open(&mut c, id, now).await?;
                    self.commit(tx).await?;
                    self.open_ready_workflow_tasks(id).await?;
                } else {
                    drop(tx);
                }
                return Err(AppError::Conflict(format!("It cannot close yet: {}", why.join(" "))));
            }
        }
        self.commit(tx).await?;
        self.workflow(actor, id).await
    }
}

/// A check-in line for asset `a`: `base`'s task (its key, place, group and dates), line `n`.
fn asset_line(base: &TaskRow, n: i64, title: &str, a: &store::HeldAsset) -> TaskRow {
    let what = a.asset_tag.as_ref().map_or_else(|| a.name.clone(), |tag| format!("{} ({tag})", a.name));
    TaskRow {
        n,
        title: format!("{title}: {what}"),
        action: "check_in".into(),
        asset_id: Some(a.id),
        state: "waiting".into(),
        ticket_id: None,
        done_at: None,
        done_by: None,
        outcome: String::new(),
        ..base.clone()
    }
}

/// Adds a check-in line for each asset the leaver holds that no line covers yet (an asset checked
/// out to them after planning), copying an existing line — or, when they held nothing at
/// planning, the plan's per-asset task. Returns how many were added.
async fn plan_new_assets(c: &mut Conn<'_>, w: &WorkflowRow, rows: &mut Vec<TaskRow>) -> AppResult<usize> {
    let held = store::assets_held(c, w.person_id).await?;
    let new: Vec<&store::HeldAsset> =
        held.iter().filter(|a| !rows.iter().any(|r| r.asset_id == Some(a.id) && r.state != "cancelled")).collect();
    if new.is_empty() {
        return Ok(0);
    }
    let (base, title) = match rows.iter().find(|r| r.action == "check_in") {
        Some(r) => (r.clone(), r.title.split_once(": ").map_or(r.title.as_str(), |(t, _)| t).to_string()),
        None => match per_asset_task(c, w).await? {
            Some(x) => x,
            None => return Ok(0),
        },
    };
    let first = rows.iter().filter(|r| r.task_key == base.task_key).map(|r| r.n).max().unwrap_or(-1) + 1;
    for (n, a) in (first..).zip(&new) {
        let row = asset_line(&base, n, &title, a);
        store::insert_task(c, &row).await?;
        rows.push(row);
    }
    Ok(new.len())
}

/// The leaver plan's per-asset task as a line to copy, dated from the workflow's day, with its
/// title; `None` when the plan has none.
async fn per_asset_task(c: &mut Conn<'_>, w: &WorkflowRow) -> AppResult<Option<(TaskRow, String)>> {
    let plan = plans::plan_of(c, Kind::Leaver).await?;
    let Some((position, t)) = plan.iter().enumerate().find(|(_, t)| t.per_asset) else { return Ok(None) };
    let cal = crate::settings::sla::business_calendar(c).await?;
    let day = parse_day("date", &w.anchor_day)?;
    let Some(Some(due)) = wf::due_dates(&cal, day, std::slice::from_ref(t)).first().copied() else {
        return Ok(None);
    };
    let group_id = match t.group.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
        Some(g) => orion_store::groups::find_by_name(c, g).await?.map_or(w.group_id, |g| g.id),
        None => w.group_id,
    };
    let base = TaskRow {
        workflow_id: w.id,
        task_key: t.key.clone(),
        n: 0,
        position: position as i64,
        title: t.title.clone(),
        description: t.description.clone(),
        group_id,
        offset_days: i64::from(t.offset_days),
        after_keys: serde_json::to_string(&t.after).unwrap_or_else(|_| "[]".into()),
        action: "check_in".into(),
        asset_id: None,
        state: "waiting".into(),
        due_day: due.day.to_string(),
        due_at: due.at.0,
        ticket_id: None,
        done_at: None,
        done_by: None,
        outcome: String::new(),
    };
    Ok(Some((base, t.title.clone())))
}

async fn queue_open(c: &mut Conn<'_>, id: i64, now: i64) -> AppResult<()> {
    crate::kernel::jobs::enqueue_for(c, OPEN_JOB, ("workflow_id", id), now).await
}

fn task_view(
    r: &TaskRow,
    kind: Kind,
    groups: &HashMap<i64, String>,
    number: Option<String>,
    asset: Option<TaskAsset>,
    now: i64,
) -> WorkflowTask {
    WorkflowTask {
        key: r.task_key.clone(),
        n: r.n,
        title: r.title.clone(),
        group: groups.get(&r.group_id).cloned().unwrap_or_default(),
        due: r.due_day.clone(),
        when: wf::offset_text(i32::try_from(r.offset_days).unwrap_or(0), kind),
        state: r.state.clone(),
        number,
        action: r.action.clone(),
        asset,
        outcome: r.outcome.clone(),
        done_at: r.done_at.map(|t| Timestamp(t).to_rfc3339()),
        overdue: !finished(&r.state) && r.due_at < now,
    }
}

/// What a task ticket says: whose workflow, the day, when the task is due and what to do.
fn task_body(w: &WorkflowRow, kind: Kind, t: &TaskRow) -> String {
    let mut body = format!(
        "{} of {} <{}>: {} {}.\nDue {} ({}).",
        kind.label(),
        w.person_name,
        w.person_email,
        kind.anchor(),
        w.anchor_day,
        t.due_day,
        wf::offset_text(i32::try_from(t.offset_days).unwrap_or(0), kind),
    );
    let dept = match kind {
        Kind::Mover => format!(
            "From {} {} to {} {}",
            w.department,
            w.job_title,
            if w.new_department.is_empty() { &w.department } else { &w.new_department },
            if w.new_job_title.is_empty() { &w.job_title } else { &w.new_job_title },
        ),
        _ => format!("{} {}", w.department, w.job_title),
    };
    if !dept.trim().is_empty() {
        body.push_str(&format!("\n{}", dept.split_whitespace().collect::<Vec<_>>().join(" ")));
    }
    if !w.location.is_empty() {
        body.push_str(&format!("\nLocation: {}", w.location));
    }
    if !t.description.trim().is_empty() {
        body.push_str(&format!("\n\n{}", t.description.trim()));
    }
    match t.action.as_str() {
        "hands_out" => body.push_str("\n\nComplete the task with the asset tag: Orion checks it out to them."),
        "check_in" => body.push_str("\n\nComplete the task with the condition it came back in: Orion checks it in."),
        _ => {}
    }
    if !w.note.is_empty() {
        body.push_str(&format!("\n\nNote: {}", w.note));
    }
    body
}
