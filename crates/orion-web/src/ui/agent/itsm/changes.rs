//! Change pages: the list with the new-change form, a change's page (plans, risk, conflicts,
//! phase moves, approvals, tasks, review), the approvals awaiting the signed-in person and the
//! change calendar.

use super::{Listed, Row, Typed, group_names, instant, list, listed, local, refusal, refused};
use crate::AppState;
use crate::ui::form::{Fields, done, when, words};
use crate::ui::layout::{Layout, error_page, render};
use crate::ui::session::{StaffUser, WebUser};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::itsm::changes::{
    CalendarQuery, Change, ChangeEdit, ChangeFields, ChangeInput, ChangePhaseInput, ChangeQuery, Conflict,
    DecisionInput, ReviewInput, TaskDoneInput, TaskInput,
};
use orion_domain::Timestamp;
use orion_domain::change::{APPROVAL_RULES, CHANGE_PHASES, CHANGE_TYPES, OUTCOMES, RISKS};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/changes", get(list_page).post(create))
        .route("/agent/changes/{number}", get(page))
        .route("/agent/changes/{number}/{action}", post(act))
        .route("/agent/approvals", get(approvals))
        .route("/agent/change-calendar", get(calendar))
}

/// The change fields of the new-change and edit forms. On an edit a blank field clears what it
/// held; on a new change it is simply not given.
fn fields_of(f: &Fields, editing: bool) -> ChangeFields {
    let text = |k: &str| if editing { f.get(k).map(|v| v.trim().to_string()) } else { f.text(k) };
    ChangeFields {
        reason: text("reason"),
        implementation_plan: text("implementation_plan"),
        backout_plan: text("backout_plan"),
        test_plan: text("test_plan"),
        risk_impact: f.int("risk_impact"),
        risk_complexity: f.int("risk_complexity"),
        risk_experience: f.int("risk_experience"),
        risk_backout: f.int("risk_backout"),
        risk: text("risk"),
        risk_override_reason: f.text("risk_override_reason"),
        planned_start: f.text("planned_start").map(|v| instant(&v)),
        planned_end: f.text("planned_end").map(|v| instant(&v)),
        implementer_group: text("implementer_group"),
        approvers: f.get("approvers").map(|v| list(Some(v))).filter(|l| editing || !l.is_empty()),
        cab_group: text("cab_group"),
        approval_rule: f.text("approval_rule"),
    }
}

#[derive(Template)]
#[template(path = "agent/changes.html")]
struct ListPage {
    l: Layout,
    rows: Vec<Row>,
    phases: &'static [&'static str],
    phase: String,
    next: Option<String>,
    types: &'static [&'static str],
    templates: Vec<(String, String)>,
    groups: Vec<String>,
    risks: &'static [&'static str],
    rules: &'static [&'static str],
    /// What the new-change form holds
    f: Typed,
    /// Which form failed: `list`, `new`
    form: &'static str,
    error: Option<String>,
}

async fn list_with(
    s: &AppState,
    user: &WebUser,
    q: &HashMap<String, String>,
    f: Typed,
    form: &'static str,
    error: Option<String>,
) -> Response {
    let (app, actor) = (&s.app, &user.actor);
    let v = |k: &str| q.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let phase = v("phase").unwrap_or_default();
    let query = ChangeQuery { phase: v("phase"), cursor: v("cursor"), limit: Some(50) };
    let (rows, next, error, form) = match listed(app.list_changes(actor, query).await, "/agent/changes", &phase) {
        Ok(Listed { rows, next, refused: None }) => (rows, next, error, form),
        Ok(Listed { rows, next, refused }) => (rows, next, refused, "list"),
        Err(e) => return error_page(Some(user), &e),
    };
    let templates = match app.change_templates(actor).await {
        Ok(t) => t.into_iter().filter(|t| t.active).map(|t| (t.name, t.title)).collect(),
        Err(e) => return error_page(Some(user), &e),
    };
    let groups = group_names(s, user).await;
    let resp = render(&ListPage {
        l: Layout::new(Some(user), "Changes", "changes", q.get("m").map(String::as_str)),
        rows,
        phases: CHANGE_PHASES,
        phase,
        next,
        types: CHANGE_TYPES,
        templates,
        groups,
        risks: RISKS,
        rules: APPROVAL_RULES,
        f,
        form,
        error: error.clone(),
    });
    refused(resp, &error)
}

async fn list_page(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let defaults = [("change_type", "normal"), ("impact", "3"), ("urgency", "3"), ("approval_rule", "all")];
    let f = Typed(defaults.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
    list_with(&s, &user, &q, f, "", None).await
}

/// The new-change form.
async fn create(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, f: Fields) -> Response {
    let change_type = f.text("change_type");
    let assets = list(f.get("assets"));
    let input = ChangeInput {
        // The template select is only meant for standard changes; another type ignores it.
        template: f.text("template").filter(|_| change_type.as_deref() == Some("standard")),
        change_type,
        title: f.text("title"),
        description: f.text("description"),
        impact: f.int("impact"),
        urgency: f.int("urgency"),
        category: None,
        assignment_group: f.text("assignment_group"),
        assignee: f.text("assignee"),
        assets: (!assets.is_empty()).then_some(assets),
        fields: fields_of(&f, false),
    };
    match s.app.create_change(&user.actor, input).await {
        Ok(c) => done(&format!("/agent/changes/{}", c.ticket.number), "change_created"),
        Err(e) => match refusal(&e) {
            Some(m) => list_with(&s, &user, &HashMap::new(), Typed::from(&f), "new", Some(m)).await,
            None => error_page(Some(&user), &e),
        },
    }
}

/// A label and its value in the facts list.
struct Fact {
    label: &'static str,
    value: String,
}

/// The edit form's values: the change's, or what was typed when the edit was refused.
struct EditForm(HashMap<&'static str, String>);

impl EditForm {
    fn of(c: &Change) -> EditForm {
        let n = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let nominated: Vec<&str> = c.approvals.iter().filter(|a| a.round == 0).map(|a| a.approver.as_str()).collect();
        let risk = if c.risk_override_reason.is_some() { o(&c.risk) } else { String::new() };
        EditForm(HashMap::from([
            ("version", c.version.to_string()),
            ("reason", c.reason.clone()),
            ("implementation_plan", c.implementation_plan.clone()),
            ("backout_plan", c.backout_plan.clone()),
            ("test_plan", c.test_plan.clone()),
            ("risk_impact", n(c.risk_impact)),
            ("risk_complexity", n(c.risk_complexity)),
            ("risk_experience", n(c.risk_experience)),
            ("risk_backout", n(c.risk_backout)),
            ("risk", risk),
            ("risk_override_reason", o(&c.risk_override_reason)),
            ("planned_start", local(c.planned_start.as_deref())),
            ("planned_end", local(c.planned_end.as_deref())),
            ("implementer_group", o(&c.implementer_group)),
            ("cab_group", o(&c.cab_group)),
            ("approval_rule", c.approval_rule.clone()),
            ("approvers", nominated.join(", ")),
        ]))
    }

    fn typed(mut self, f: &Fields) -> EditForm {
        for (k, v) in self.0.iter_mut() {
            if let Some(t) = f.get(k) {
                *v = t.to_string();
            }
        }
        self
    }

    fn get(&self, k: &str) -> String {
        self.0.get(k).cloned().unwrap_or_default()
    }

    fn is(&self, k: &str, v: &str) -> bool {
        self.0.get(k).is_some_and(|x| x == v)
    }
}

#[derive(Template)]
#[template(path = "agent/change.html")]
struct ChangePage {
    l: Layout,
    c: Change,
    facts: Vec<Fact>,
    /// The risk line: what the questionnaire gives and what is in force
    risk: String,
    period: String,
    actual: String,
    /// The viewer is an approver of the pending round who has yet to decide
    can_decide: bool,
    editable: bool,
    e: EditForm,
    risks: &'static [&'static str],
    rules: &'static [&'static str],
    outcomes: &'static [&'static str],
    /// Which form failed: `move`, `decide`, `edit`, `task`, `review`
    /// The configuration items the change touches, with what an outage of them affects
    cis: Option<orion_app::cmdb::TicketAssets>,
    form: String,
    error: Option<String>,
    /// Text typed into the refused form (note, comment, task title, review notes)
    typed: Typed,
}

impl ChangePage {
    fn conflict_kind(&self, c: &Conflict) -> String {
        words(&c.kind)
    }
}

fn span(from: Option<&str>, to: Option<&str>) -> String {
    match (from, to) {
        (Some(f), Some(t)) => format!("{} – {}", when(f), when(t)),
        (Some(f), None) => format!("from {}", when(f)),
        (None, Some(t)) => format!("until {}", when(t)),
        (None, None) => String::new(),
    }
}

async fn change_page(
    s: &AppState,
    user: &WebUser,
    number: &str,
    flash: Option<&str>,
    (form, error): (&str, Option<String>),
    typed: Option<&Fields>,
) -> Response {
    let c = match s.app.get_change(&user.actor, number).await {
        Ok(c) => c,
        Err(e) => return error_page(Some(user), &e),
    };
    let o = |v: &Option<String>| v.as_deref().map(words).unwrap_or_default();
    let mut facts = vec![
        Fact { label: "Type", value: words(&c.change_type) },
        Fact { label: "Template", value: o(&c.template) },
        Fact { label: "Priority", value: c.ticket.priority.clone() },
        Fact { label: "Owner group", value: c.ticket.assignment_group.clone() },
        Fact { label: "Owner", value: o(&c.ticket.assignee_name) },
        Fact { label: "Implementer group", value: o(&c.implementer_group) },
        Fact { label: "CAB group", value: o(&c.cab_group) },
        Fact { label: "Approval rule", value: c.approval_rule.clone() },
        Fact {
            label: "Approval",
            value: c.approval.as_deref().map(|a| format!("{a} (round {})", c.approval_round)).unwrap_or_default(),
        },
        Fact { label: "Outcome", value: o(&c.outcome) },
        Fact { label: "Logged", value: format!("{} by {}", when(&c.ticket.created_at), c.ticket.requester_name) },
    ];
    facts.retain(|f| !f.value.is_empty());
    let risk = match (&c.risk, &c.risk_computed, &c.risk_override_reason) {
        (None, _, _) => "not assessed: answer the questionnaire".to_string(),
        (Some(r), Some(comp), Some(why)) if r != comp => {
            format!("{r} (questionnaire gives {comp}; set because: {why})")
        }
        (Some(r), None, Some(why)) => format!("{r} (set because: {why})"),
        (Some(r), _, _) => format!("{r} (from the questionnaire)"),
    };
    let me = &user.me.email;
    let can_decide = c.approval.as_deref() == Some("pending")
        && c.approvals
            .iter()
            .any(|a| a.round == c.approval_round && a.decision.is_none() && a.approver.eq_ignore_ascii_case(me));
    let mut e = EditForm::of(&c);
    if let (Some(f), "edit") = (typed, form) {
        e = e.typed(f);
    }
    let title = format!("{} · {}", c.ticket.number, c.ticket.title);
    let cis = s.app.ticket_assets(&user.actor, &c.ticket.number).await.ok();
    let resp = render(&ChangePage {
        cis,
        l: Layout::new(Some(user), title, "changes", flash),
        facts,
        risk,
        period: span(c.planned_start.as_deref(), c.planned_end.as_deref()),
        actual: span(c.actual_start.as_deref(), c.actual_end.as_deref()),
        can_decide,
        editable: matches!(c.phase.as_str(), "draft" | "assessment"),
        e,
        c,
        risks: RISKS,
        rules: APPROVAL_RULES,
        outcomes: OUTCOMES,
        form: form.to_string(),
        error: error.clone(),
        typed: typed.map(Typed::from).unwrap_or_default(),
    });
    refused(resp, &error)
}

async fn page(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    change_page(&s, &user, &number, q.get("m").map(String::as_str), ("", None), None).await
}

/// Every form on a change's page posts here; `action` says which.
async fn act(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path((number, action)): Path<(String, String)>,
    f: Fields,
) -> Response {
    let (app, actor) = (&s.app, &user.actor);
    let r: Result<&str, AppError> = match action.as_str() {
        "move" => {
            let input = ChangePhaseInput { phase: f.text("phase").unwrap_or_default(), note: f.text("note") };
            app.move_change(actor, &number, input).await.map(|_| "change_moved")
        }
        "edit" => {
            let input = ChangeEdit { version: f.int("version"), fields: fields_of(&f, true) };
            app.edit_change(actor, &number, input).await.map(|_| "change_saved")
        }
        "decide" => match app.change_approval_step_up(actor).await {
            Err(e) => Err(e),
            Ok(needed) => {
                // A code confirmed within the last minutes, else the confirmation page first.
                let back = format!("/agent/changes/{number}");
                if needed && let Some(r) = crate::ui::auth::require_recent_second_factor(&s, &user, &back).await {
                    return r;
                }
                let input =
                    DecisionInput { decision: f.text("decision").unwrap_or_default(), comment: f.text("comment") };
                app.decide_change(actor, &number, input).await.map(|_| "decided")
            }
        },
        "link_asset" => {
            let input = orion_app::cmdb::TicketAssetInput { asset: f.text("asset").unwrap_or_default() };
            app.link_ticket_asset(actor, &number, input).await.map(|_| "asset_linked")
        }
        "unlink_asset" => match f.int("asset") {
            Some(id) => app.unlink_ticket_asset(actor, &number, id).await.map(|_| "asset_unlinked"),
            None => Err(AppError::NotFound("asset on this change")),
        },
        "task" => {
            let input = TaskInput { title: f.text("title").unwrap_or_default(), assignee: f.text("assignee") };
            app.add_change_task(actor, &number, input).await.map(|_| "task_added")
        }
        "task_done" => match f.int("task") {
            Some(id) => app
                .complete_change_task(actor, &number, id, TaskDoneInput { notes: f.text("notes") })
                .await
                .map(|_| "task_done"),
            None => Err(AppError::NotFound("task")),
        },
        "review" => {
            let input = ReviewInput { outcome: f.text("outcome").unwrap_or_default(), notes: f.text("notes") };
            app.review_change(actor, &number, input).await.map(|_| "reviewed")
        }
        _ => Err(AppError::NotFound("action")),
    };
    match r {
        Ok(m) => done(&format!("/agent/changes/{number}"), m),
        Err(e) => match refusal(&e) {
            Some(m) => {
                let form = if action == "task_done" { "task" } else { action.as_str() };
                change_page(&s, &user, &number, None, (form, Some(m)), Some(&f)).await
            }
            None => error_page(Some(&user), &e),
        },
    }
}

#[derive(Template)]
#[template(path = "agent/approvals.html")]
struct ApprovalsPage {
    l: Layout,
    items: Vec<orion_app::catalog::Awaiting>,
}

impl ApprovalsPage {
    fn period(&self, a: &orion_app::catalog::Awaiting) -> String {
        span(a.planned_start.as_deref(), a.planned_end.as_deref())
    }
}

/// The changes and catalog requests waiting for the signed-in person's decision.
async fn approvals(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match s.app.awaiting_my_decision(&user.actor).await {
        Ok(items) => render(&ApprovalsPage {
            l: Layout::new(Some(&user), "Awaiting my approval", "approvals", q.get("m").map(String::as_str)),
            items,
        }),
        Err(e) => error_page(Some(&user), &e),
    }
}

const DAY_MS: i64 = 86_400_000;
const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// `YYYY-MM-DD` of an instant.
fn day_of(ms: i64) -> String {
    Timestamp(ms).to_rfc3339()[..10].to_string()
}

/// One change on one day of the calendar.
struct CalEntry {
    number: String,
    title: String,
    /// The time span, the whole of it (it may run over several days)
    span: String,
    change_type: String,
    phase: String,
    risk: String,
    assets: String,
    assignee: String,
    conflicts: Vec<Conflict>,
}

struct Day {
    date: String,
    weekday: &'static str,
    /// The freeze periods covering some of the day
    freezes: Vec<String>,
    changes: Vec<CalEntry>,
}

#[derive(Template)]
#[template(path = "agent/change_calendar.html")]
struct CalendarPage {
    l: Layout,
    from: String,
    to: String,
    days: Vec<Day>,
    prev: String,
    next: String,
    error: Option<String>,
}

/// The change calendar, day by day: this week unless `from` (and `to`) say otherwise.
async fn calendar(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let arg = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let today = s.app.clock.now().as_millis().div_euclid(DAY_MS);
    let monday = (today - (today + 3).rem_euclid(7)) * DAY_MS;
    let mut error = None;
    let day_arg = |k: &str, default: i64, error: &mut Option<String>| match arg(k) {
        None => default,
        Some(v) => match Timestamp::parse_day_or_instant(k, v) {
            Ok(t) => t.0 - t.0.rem_euclid(DAY_MS),
            Err(e) => {
                *error = Some(format!("{k}: {}", e.message));
                default
            }
        },
    };
    let from = day_arg("from", monday, &mut error);
    let to = day_arg("to", from + 7 * DAY_MS, &mut error);
    let (days, error) = if error.is_some() {
        (Vec::new(), error)
    } else {
        let query = CalendarQuery { from: Some(day_of(from)), to: Some(day_of(to)) };
        match s.app.change_calendar(&user.actor, query).await {
            Ok(cal) => (days_of(from, to, cal), None),
            Err(e) => match refusal(&e) {
                Some(m) => (Vec::new(), Some(m)),
                None => return error_page(Some(&user), &e),
            },
        }
    };
    let width = (to - from).clamp(DAY_MS, 92 * DAY_MS);
    let link = |f: i64| format!("/agent/change-calendar?from={}&to={}", day_of(f), day_of(f + width));
    let resp = render(&CalendarPage {
        l: Layout::new(Some(&user), "Change calendar", "changes", None),
        from: day_of(from),
        to: day_of(to - DAY_MS),
        days,
        prev: link(from - width),
        next: link(from + width),
        error: error.clone(),
    });
    refused(resp, &error)
}

/// Lays the calendar's changes and freezes out on the days from `from` to `to` (midnights, UTC).
fn days_of(from: i64, to: i64, cal: orion_app::itsm::changes::Calendar) -> Vec<Day> {
    let ms = |t: &str| Timestamp::parse_day_or_instant("at", t).map(|t| t.0).ok();
    let mut days = Vec::new();
    let mut d = from;
    while d < to && days.len() < 92 {
        let (start, end) = (d, d + DAY_MS);
        let meets = |a: &str, b: &str| matches!((ms(a), ms(b)), (Some(a), Some(b)) if a < end && b > start);
        let freezes = cal
            .freezes
            .iter()
            .filter(|f| meets(&f.starts_at, &f.ends_at))
            .map(|f| {
                let why = if f.reason.is_empty() { String::new() } else { format!(": {}", f.reason) };
                format!("Change freeze {}{why} ({} – {})", f.name, when(&f.starts_at), when(&f.ends_at))
            })
            .collect();
        let changes = cal
            .changes
            .iter()
            .filter(|c| meets(&c.planned_start, &c.planned_end))
            .map(|c| CalEntry {
                number: c.number.clone(),
                title: c.title.clone(),
                span: span(Some(&c.planned_start), Some(&c.planned_end)),
                change_type: c.change_type.clone(),
                phase: words(&c.phase),
                risk: c.risk.clone().unwrap_or_else(|| "unassessed".into()),
                assets: c.assets.join(", "),
                assignee: c.assignee_name.clone().unwrap_or_default(),
                conflicts: c.conflicts.clone(),
            })
            .collect();
        let weekday = WEEKDAYS[usize::try_from((d.div_euclid(DAY_MS) + 3).rem_euclid(7)).unwrap_or(0)];
        days.push(Day { date: day_of(d), weekday, freezes, changes });
        d += DAY_MS;
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_named_from_monday() {
        // 2026-11-16 is a Monday.
        let monday = Timestamp::parse_day_or_instant("d", "2026-11-16").unwrap().0;
        let cal = orion_app::itsm::changes::Calendar {
            from: String::new(),
            to: String::new(),
            changes: Vec::new(),
            freezes: Vec::new(),
        };
        let days = days_of(monday, monday + 7 * DAY_MS, cal);
        assert_eq!(days.len(), 7);
        assert_eq!((days[0].date.as_str(), days[0].weekday), ("2026-11-16", "Monday"));
        assert_eq!((days[6].date.as_str(), days[6].weekday), ("2026-11-22", "Sunday"));
    }
}
