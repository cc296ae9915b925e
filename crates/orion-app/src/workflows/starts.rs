//! Workflows Orion starts by itself, and how the people who asked follow them.
//!
//! - A catalog item can start a joiner, mover or leaver: once its request is approved, the
//!   `catalog.workflow` job reads the answers into a workflow; a request it cannot start from
//!   (a day that is no date, a person Orion does not know) gets a note saying why and stays with
//!   its group. The request is fulfilled when the workflow closes.
//! - A directory source with a workflow group starts a joiner for a new user whose start day is
//!   ahead, and a leaver for a user given a last day or disabled; a day the directory moves moves
//!   the workflow, so its tasks are planned again.
//! - The requester follows the workflow on the request's portal page; a manager follows their
//!   people's on the portal's *My team* page.

use super::{Kind, Workflow, WorkflowInput, day_cursor, is_near, is_ready, next_cursor, parse_day, today};
use crate::catalog::tasks::{WorkflowAsk, workflow_ask};
use crate::{App, AppError, AppResult, Page};
use jiff::civil::Date;
use orion_domain::Actor;
use orion_store::workflows as store;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

/// How far ahead (calendar days) a day the directory gives starts a workflow; later days wait for
/// a later sync.
pub const HORIZON_DAYS: i64 = 60;

/// `GET /api/v1/workflows/team`
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TeamQuery {
    /// The `next_cursor` of the previous page
    pub cursor: Option<String>,
    /// 1–200 (default 50)
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// One task as the person who asked sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgressTask {
    pub title: String,
    /// `YYYY-MM-DD`
    pub due: String,
    /// `waiting`, `open`, `done`, `cancelled`
    pub state: String,
}

/// Where a workflow stands, for the requester and the manager (no ticket numbers, no internal
/// notes).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkflowProgress {
    pub id: i64,
    pub kind: String,
    pub kind_label: String,
    pub person: String,
    pub date: String,
    pub date_name: String,
    /// `open`, `closed`, `cancelled`
    pub state: String,
    /// Every task due before the day is done
    pub ready: bool,
    /// Open, not ready, and the day is within 2 working days
    pub urgent: bool,
    pub tasks_done: usize,
    pub tasks: Vec<ProgressTask>,
}

fn progress(w: &Workflow) -> WorkflowProgress {
    WorkflowProgress {
        id: w.id,
        kind: w.kind.clone(),
        kind_label: w.kind_label.clone(),
        person: w.person.name.clone(),
        date: w.date.clone(),
        date_name: w.date_name.clone(),
        state: w.state.clone(),
        ready: w.ready,
        urgent: w.urgent,
        tasks_done: w.tasks_done,
        tasks: w
            .tasks
            .iter()
            .map(|t| ProgressTask { title: t.title.clone(), due: t.due.clone(), state: t.state.clone() })
            .collect(),
    }
}

/// The fields a request's answers fill, by the item's mapping.
fn input_of(ask: &WorkflowAsk, group: &str, number: &str) -> WorkflowInput {
    let get = |k: &Option<String>| {
        k.as_deref().map(str::trim).filter(|k| !k.is_empty()).and_then(|k| ask.values.get(k)).cloned()
    };
    let s = &ask.start;
    WorkflowInput {
        kind: s.kind.clone(),
        person: ask.values.get(s.person.trim()).cloned().unwrap_or_default(),
        name: get(&s.name),
        manager: get(&s.manager),
        department: get(&s.department),
        job_title: get(&s.job_title),
        new_department: get(&s.new_department),
        new_job_title: get(&s.new_job_title),
        location: get(&s.location),
        date: ask.values.get(s.date.trim()).cloned().unwrap_or_default(),
        group: s.group.clone().filter(|g| !g.trim().is_empty()).unwrap_or_else(|| group.to_string()),
        note: Some(format!("Requested in {number} ({}).", ask.item)),
    }
}

impl App {
    /// The `catalog.workflow` job: starts the workflow an approved request asks for, once.
    pub async fn run_request_workflow_job(&self, job: &orion_store::jobs::JobRow) -> crate::kernel::jobs::JobResult {
        let p: serde_json::Value = serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
        let Some(id) = p["request_id"].as_i64() else { return Err("catalog.workflow without request_id".into()) };
        self.start_from_request(id).await.map_err(|e| e.to_string())
    }

    async fn start_from_request(&self, request_id: i64) -> AppResult<()> {
        let (t, ask) = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            if store::by_request(&mut c, request_id).await?.is_some() {
                return Ok(());
            }
            let t = orion_store::tickets::get(&mut c, request_id).await?;
            let Some(ask) = workflow_ask(&mut c, request_id).await? else { return Ok(()) };
            (t, ask)
        };
        if matches!(t.state.as_str(), "resolved" | "closed") {
            return Ok(());
        }
        let input = input_of(&ask, &t.assignment_group_name, &t.number);
        let details = serde_json::to_string(&ask.shown).map_err(|e| AppError::Internal(e.to_string()))?;
        let kind = Kind::parse("kind", &input.kind)?;
        let (message, data) =
            match self.start_workflow(Some(t.created_by), input, ("catalog", Some(request_id), &details)).await {
                Ok(id) => {
                    let w = {
                        let mut r = self.db.read().await?;
                        store::get(&mut r.conn(), id).await?
                    };
                    let message = format!(
                        "Started the {} of {}: {} {}. Its tasks are on the Joiners & leavers page.",
                        kind.label().to_lowercase(),
                        w.person_name,
                        kind.anchor(),
                        w.anchor_day
                    );
                    (message.clone(), json!({"message": message, "workflow": id}))
                }
                Err(AppError::Validation(errs)) => {
                    let why: Vec<String> = errs.iter().map(|e| e.message.clone()).collect();
                    let message = format!(
                        "Orion could not start the {} from this request: {}. Start it by hand on the Joiners & \
                         leavers page.",
                        kind.label().to_lowercase(),
                        why.join("; ")
                    );
                    (message.clone(), json!({"message": message}))
                }
                Err(e) => return Err(e),
            };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        crate::tickets::record_entry(
            &mut c,
            request_id,
            now,
            None,
            ("workflow_started", orion_domain::TicketEvent::Noted),
            &data,
        )
        .await?;
        self.commit(tx).await?;
        tracing::info!(request = %t.number, "{message}");
        Ok(())
    }

    /// The `directory.dates` job: for each person the sync read a day for, starts their joiner
    /// or leaver — or moves it, when the directory's day moved; a person the sync disabled gets a
    /// leaver with today as the last day unless one is open.
    pub async fn run_directory_dates_job(&self, job: &orion_store::jobs::JobRow) -> crate::kernel::jobs::JobResult {
        let p: serde_json::Value = serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
        let group = p["group"].as_str().unwrap_or_default().to_string();
        let cal = self.calendar().await.map_err(|e| e.to_string())?;
        let today = today(&cal, self.now());
        let mut wanted: Vec<(i64, Kind, Date)> = Vec::new();
        for d in p["dated"].as_array().into_iter().flatten() {
            let Some(id) = d[0].as_i64() else { continue };
            let day = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<Date>().ok()).filter(|d| *d >= today);
            if let Some(start) = day(&d[1]) {
                wanted.push((id, Kind::Joiner, start));
            }
            if let Some(end) = day(&d[2]) {
                wanted.push((id, Kind::Leaver, end));
            }
        }
        let disabled: Vec<i64> = p["disabled"].as_array().into_iter().flatten().filter_map(|v| v.as_i64()).collect();
        // A refusal (a plan naming a group no longer active) is logged and left; anything else
        // fails the job so that it runs again — the starts are idempotent.
        let mut retry = Vec::new();
        let mut tally = |id: i64, kind: Kind, r: AppResult<()>| match r {
            Ok(()) => {}
            Err(AppError::Validation(e)) => {
                tracing::warn!(user = id, kind = kind.as_str(), error = %e, "the directory's workflow was refused");
            }
            Err(e) => retry.push(format!("user {id}: {e}")),
        };
        for (id, kind, day) in wanted {
            // A day further ahead than the horizon waits for a later sync: its tasks would
            // otherwise sit in the queues for months.
            let new_ok = day <= today.checked_add(jiff::Span::new().days(HORIZON_DAYS)).unwrap_or(Date::MAX);
            tally(id, kind, self.start_or_move(id, kind, day, &group, (true, new_ok)).await);
        }
        for id in disabled {
            tally(id, Kind::Leaver, self.start_or_move(id, Kind::Leaver, today, &group, (false, true)).await);
        }
        if !retry.is_empty() {
            return Err(format!("some workflows from the directory did not start: {}", retry.join("; ")));
        }
        Ok(())
    }

    /// Starts the person's `kind` workflow on `day` unless they have one; moves an open one whose
    /// day differs when `follow` (the directory's day is the truth).
    /// `(follow, start)`: whether to move an open one to `day`, whether to start one if none.
    async fn start_or_move(
        &self,
        person_id: i64,
        kind: Kind,
        day: Date,
        group: &str,
        (follow, start): (bool, bool),
    ) -> AppResult<()> {
        let (person, theirs) = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let person = orion_store::users::get(&mut c, person_id).await?;
            let theirs: Vec<store::WorkflowRow> = store::list(&mut c, None, Some(person_id), None, 200)
                .await?
                .into_iter()
                .filter(|w| w.kind == kind.as_str() && w.state != "cancelled")
                .collect();
            (person, theirs)
        };
        if let Some(open) = theirs.iter().find(|w| w.state == "open") {
            if follow && open.anchor_day != day.to_string() {
                self.move_day(None, open.id, day, open.row_version).await?;
            }
            return Ok(());
        }
        // Done already for this day (a joiner who started, a leaver closed), or too far ahead.
        if !start || theirs.iter().any(|w| w.anchor_day == day.to_string()) {
            return Ok(());
        }
        if kind == Kind::Joiner && !person.active {
            return Ok(());
        }
        let input = WorkflowInput {
            kind: kind.as_str().into(),
            person: person.email.clone(),
            date: day.to_string(),
            group: group.to_string(),
            note: Some("Started by the directory sync.".into()),
            ..Default::default()
        };
        self.start_workflow(None, input, ("directory", None, "{}")).await?;
        Ok(())
    }

    /// Where the workflow a request started stands (whoever may see the request); `None` when it
    /// started none.
    pub async fn workflow_of_request(&self, actor: &Actor, number: &str) -> AppResult<Option<WorkflowProgress>> {
        let w = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let t = crate::tickets::load_visible(&mut c, actor, number).await?;
            match store::by_request(&mut c, t.id).await? {
                Some(w) => w,
                None => return Ok(None),
            }
        };
        let cal = self.calendar().await?;
        let mut r = self.db.read().await?;
        let view = self.workflow_view(&mut r.conn(), &cal, w).await?;
        Ok(Some(progress(&view)))
    }

    /// The joiners, movers and leavers of the people `actor` manages, latest day first.
    pub async fn team_workflows(
        &self,
        actor: &Actor,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<WorkflowProgress>> {
        let limit = crate::kernel::paging::parse_limit(limit)?;
        let before = day_cursor(cursor)?;
        let cal = self.calendar().await?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let mut rows =
            store::managed_by(&mut c, actor.id.0, before.as_ref().map(|(d, i)| (d.as_str(), *i)), limit + 1).await?;
        let next = next_cursor(&mut rows, limit);
        let today = today(&cal, self.now());
        let ids: Vec<i64> = rows.iter().map(|w| w.id).collect();
        let mut tasks: std::collections::HashMap<i64, Vec<store::TaskRow>> = std::collections::HashMap::new();
        for t in store::tasks_of_many(&mut c, &ids).await? {
            tasks.entry(t.workflow_id).or_default().push(t);
        }
        let items = rows
            .into_iter()
            .map(|w| {
                let kind = Kind::parse("kind", &w.kind).unwrap_or(Kind::Joiner);
                let mine = tasks.remove(&w.id).unwrap_or_default();
                let ready = is_ready(&mine);
                let near = parse_day("date", &w.anchor_day).is_ok_and(|d| is_near(&cal, d, today));
                WorkflowProgress {
                    id: w.id,
                    kind: w.kind.clone(),
                    kind_label: kind.label().into(),
                    person: w.person_name,
                    date: w.anchor_day,
                    date_name: kind.anchor().into(),
                    urgent: w.state == "open" && !ready && near,
                    state: w.state,
                    ready,
                    tasks_done: mine.iter().filter(|t| t.state == "done").count(),
                    tasks: mine
                        .iter()
                        .map(|t| ProgressTask {
                            title: t.title.clone(),
                            due: t.due_day.clone(),
                            state: t.state.clone(),
                        })
                        .collect(),
                }
            })
            .collect();
        Ok(Page { items, next_cursor: next })
    }
}
