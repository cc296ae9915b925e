//! Changes: standard (from a pre-approved template), normal (assessed and approved by named
//! approvers or a CAB group) and emergency (implemented at once, approved after the fact); the
//! plans and risk; verification tasks and the review outcome; the change calendar with its
//! conflicts (same or dependent CIs at the same time, outside a CI's maintenance windows, inside
//! a freeze period).

use super::{Core, LinkedTicket, create_core, load_kind, note_on, set_core_state, text_field, ts};
use crate::kernel::access::require_lead;
use crate::kernel::access::require_staff;
use crate::kernel::error::collect;
use crate::kernel::error::{found, invalid};
use crate::tickets::{self, Entry};
use crate::{App, AppError, AppResult, Page, Ticket};
use orion_domain::TicketEvent;
use orion_domain::change::{
    RiskAnswers, Tally, change_core_state, change_is_final, change_next, inside_any, outcome_phase, overlaps,
    parse_approval_rule, parse_change_phase, parse_change_type, parse_outcome, parse_risk, tally,
};
use orion_domain::{Actor, Email, FieldErrors, Role, State, TicketKind, Timestamp, Visibility};
use orion_store::Conn;
use orion_store::itsm::{self as store, ChangeRow, MAX_CHANGE_MS};
use orion_store::tickets::TicketView;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashSet;
use utoipa::{IntoParams, ToSchema};

mod approval;
mod calendar;
mod tasks;
mod templates;

use approval::{approver_emails, open_round};
use calendar::conflicts_for;

/// A change with its plans, approvals, tasks and conflicts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Change {
    /// The ticket core: number `CHG…`, title, group, assignee (the change owner), priority, state
    pub ticket: Ticket,
    /// `standard`, `normal`, `emergency`
    pub change_type: String,
    /// `draft`, `assessment`, `approval`, `scheduled`, `implementing`, `review`, `closed`, `cancelled`, `failed`
    pub phase: String,
    /// The phases it may be moved to by hand now
    pub next_phases: Vec<String>,
    /// The standard-change template it was made from
    pub template: Option<String>,
    pub reason: String,
    pub implementation_plan: String,
    pub backout_plan: String,
    pub test_plan: String,
    /// The questionnaire's answers, 1 (best) .. 3 (worst)
    #[schema(minimum = 1, maximum = 3)]
    pub risk_impact: Option<i64>,
    #[schema(minimum = 1, maximum = 3)]
    pub risk_complexity: Option<i64>,
    #[schema(minimum = 1, maximum = 3)]
    pub risk_experience: Option<i64>,
    #[schema(minimum = 1, maximum = 3)]
    pub risk_backout: Option<i64>,
    /// What the questionnaire gives
    pub risk_computed: Option<String>,
    /// The risk in force: computed, or overridden with a reason
    pub risk: Option<String>,
    pub risk_override_reason: Option<String>,
    pub planned_start: Option<String>,
    pub planned_end: Option<String>,
    pub actual_start: Option<String>,
    pub actual_end: Option<String>,
    pub implementer_group: Option<String>,
    /// `any`, `all`, `majority`
    pub approval_rule: String,
    pub cab_group: Option<String>,
    /// The current round: `pending`, `approved`, `rejected`; none before approval is asked
    /// (and for standard changes, which are pre-approved)
    pub approval: Option<String>,
    pub approval_round: i64,
    /// Approvers of every round (round 0: those nominated before approval is asked)
    pub approvals: Vec<Approval>,
    pub tasks: Vec<ChangeTask>,
    /// `successful`, `successful_with_issues`, `failed`, `backed_out`
    pub outcome: Option<String>,
    pub outcome_notes: String,
    /// Incidents this change caused
    pub caused_incidents: Vec<LinkedTicket>,
    /// Clashes with other changes, maintenance windows and freeze periods
    pub conflicts: Vec<Conflict>,
    pub version: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Approval {
    pub round: i64,
    pub approver: String,
    pub approver_name: String,
    /// `approved`, `rejected`, or none yet
    pub decision: Option<String>,
    pub comment: String,
    pub decided_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangeTask {
    pub id: i64,
    pub title: String,
    pub assignee: Option<String>,
    pub done: bool,
    pub done_at: Option<String>,
    pub notes: String,
}

/// Something a change clashes with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Conflict {
    /// `overlap` (another change on the same or a dependent CI), `maintenance_window`, `freeze`
    pub kind: String,
    pub message: String,
    /// The other change, for `overlap`
    pub other: Option<String>,
    /// The CI concerned
    pub ci: Option<String>,
}

/// A new change. A standard change names its template, which supplies the plans and risk.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeInput {
    /// `standard`, `normal` (default), `emergency`
    #[schema(schema_with = crate::api_schema::change_types)]
    pub change_type: Option<String>,
    /// A standard-change template's name
    pub template: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    pub title: Option<String>,
    pub description: Option<String>,
    #[schema(minimum = 1, maximum = 3)]
    pub impact: Option<i64>,
    #[schema(minimum = 1, maximum = 3)]
    pub urgency: Option<i64>,
    pub category: Option<String>,
    /// The group owning the change; default the service desk
    pub assignment_group: Option<String>,
    /// The change owner (implementer), a member of the group
    pub assignee: Option<String>,
    /// Affected CIs and services: asset ids or tags
    pub assets: Option<Vec<String>>,
    #[serde(flatten)]
    pub fields: ChangeFields,
}

/// The fields of a change that can be set on creation and edited while it is drafted or assessed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeFields {
    pub reason: Option<String>,
    pub implementation_plan: Option<String>,
    pub backout_plan: Option<String>,
    pub test_plan: Option<String>,
    /// 1..3: how many people or services an outage would touch
    #[schema(minimum = 1, maximum = 3)]
    pub risk_impact: Option<i64>,
    /// 1..3: how complex the work is
    #[schema(minimum = 1, maximum = 3)]
    pub risk_complexity: Option<i64>,
    /// 1..3: 1 done often, 3 never done before
    #[schema(minimum = 1, maximum = 3)]
    pub risk_experience: Option<i64>,
    /// 1..3: how hard backing out would be
    #[schema(minimum = 1, maximum = 3)]
    pub risk_backout: Option<i64>,
    /// Overrides the computed risk (`low`, `medium`, `high`); needs `risk_override_reason`. An
    /// empty string drops the override: the questionnaire's risk is in force again
    #[schema(schema_with = crate::api_schema::risk_override)]
    pub risk: Option<String>,
    pub risk_override_reason: Option<String>,
    /// RFC 3339
    pub planned_start: Option<String>,
    pub planned_end: Option<String>,
    pub implementer_group: Option<String>,
    /// Approvers' e-mails (nominated; asked when the change goes to approval)
    pub approvers: Option<Vec<String>>,
    /// A CAB group: its members are asked too
    pub cab_group: Option<String>,
    /// `any`, `all` (default), `majority`
    #[schema(schema_with = crate::api_schema::approval_rules)]
    pub approval_rule: Option<String>,
}

/// An edit of a drafted or assessed change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeEdit {
    /// The version read; a stale one is refused (409)
    pub version: Option<i64>,
    #[serde(flatten)]
    pub fields: ChangeFields,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePhaseInput {
    #[schema(schema_with = crate::api_schema::change_phases_exact)]
    pub phase: String,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// `approved` or `rejected`
    #[schema(schema_with = crate::api_schema::decisions_exact)]
    pub decision: String,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    #[schema(min_length = 1, pattern = "\\S")]
    pub title: String,
    /// Agent e-mail; default the change owner
    pub assignee: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskDoneInput {
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// `successful`, `successful_with_issues`, `failed`, `backed_out`
    #[schema(schema_with = crate::api_schema::review_outcomes_exact)]
    pub outcome: String,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangeQuery {
    #[param(schema_with = crate::api_schema::change_phases_exact)]
    pub phase: Option<String>,
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CalendarQuery {
    /// `YYYY-MM-DD` or RFC 3339; default today
    #[param(schema_with = crate::api_schema::date_or_time_exact)]
    pub from: Option<String>,
    /// Default seven days after `from`; at most 92 days
    #[param(schema_with = crate::api_schema::date_or_time_exact)]
    pub to: Option<String>,
}

/// The change calendar of a period.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = ChangeCalendar)]
pub struct Calendar {
    pub from: String,
    pub to: String,
    pub changes: Vec<CalendarItem>,
    pub freezes: Vec<Freeze>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CalendarItem {
    pub number: String,
    pub title: String,
    pub change_type: String,
    pub phase: String,
    pub risk: Option<String>,
    pub planned_start: String,
    pub planned_end: String,
    pub assignee_name: Option<String>,
    /// Names of the CIs it touches
    pub assets: Vec<String>,
    pub conflicts: Vec<Conflict>,
}

/// A standard-change template.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Template {
    pub name: String,
    pub title: String,
    pub description: String,
    pub implementation_plan: String,
    pub backout_plan: String,
    pub test_plan: String,
    pub risk: String,
    pub implementer_group: Option<String>,
    pub active: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: String,
    #[schema(min_length = 1, pattern = "\\S")]
    pub title: String,
    pub description: Option<String>,
    #[schema(min_length = 1, pattern = "\\S")]
    pub implementation_plan: String,
    #[schema(min_length = 1, pattern = "\\S")]
    pub backout_plan: String,
    pub test_plan: Option<String>,
    /// Default `low`
    #[schema(schema_with = crate::api_schema::risks)]
    pub risk: Option<String>,
    pub implementer_group: Option<String>,
}

/// A blackout period for changes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Freeze {
    pub id: i64,
    pub name: String,
    pub reason: String,
    pub starts_at: String,
    pub ends_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FreezeInput {
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: String,
    pub reason: Option<String>,
    /// `YYYY-MM-DD` (midnight UTC) or RFC 3339
    #[schema(schema_with = crate::api_schema::date_or_time_exact)]
    pub starts_at: String,
    #[schema(schema_with = crate::api_schema::date_or_time_exact)]
    pub ends_at: String,
}

/// The changes waiting for one approver.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AwaitingApproval {
    pub number: String,
    pub title: String,
    pub change_type: String,
    pub phase: String,
    pub risk: Option<String>,
    pub planned_start: Option<String>,
    pub planned_end: Option<String>,
    pub requested_by: String,
}

fn answers(r: &ChangeRow) -> Option<RiskAnswers> {
    Some(RiskAnswers {
        impact: u8::try_from(r.risk_impact?).ok()?,
        complexity: u8::try_from(r.risk_complexity?).ok()?,
        experience: u8::try_from(r.risk_experience?).ok()?,
        backout: u8::try_from(r.risk_backout?).ok()?,
    })
}

pub(crate) async fn view(c: &mut Conn<'_>, actor: &Actor, t: TicketView) -> AppResult<Change> {
    let r = store::get_change(c, t.id).await?;
    let approvals = orion_store::approvals::of_ticket(c, t.id).await?;
    let tasks = store::tasks_of(c, t.id).await?;
    let mut caused = store::caused_by(c, t.id).await?;
    // The incidents it caused that are restricted to a group the reader is not in stay unnamed.
    crate::tickets::drop_hidden(c, actor, &mut caused, |r| r.id).await?;
    let conflicts = conflicts_for(c, &r, &t).await?;
    Ok(Change {
        change_type: r.change_type.clone(),
        phase: r.phase.clone(),
        next_phases: change_next(&r.change_type, &r.phase).iter().map(|s| s.to_string()).collect(),
        template: r.template_name.clone(),
        reason: r.reason.clone(),
        implementation_plan: r.implementation_plan.clone(),
        backout_plan: r.backout_plan.clone(),
        test_plan: r.test_plan.clone(),
        risk_impact: r.risk_impact,
        risk_complexity: r.risk_complexity,
        risk_experience: r.risk_experience,
        risk_backout: r.risk_backout,
        risk_computed: answers(&r).map(|a| a.risk().to_string()),
        risk: r.risk.clone(),
        risk_override_reason: r.risk_override_reason.clone(),
        planned_start: r.planned_start.map(ts),
        planned_end: r.planned_end.map(ts),
        actual_start: r.actual_start.map(ts),
        actual_end: r.actual_end.map(ts),
        implementer_group: r.implementer_group_name.clone(),
        approval_rule: r.approval_rule.clone(),
        cab_group: r.cab_group_name.clone(),
        approval: r.approval.clone(),
        approval_round: r.approval_round,
        approvals: approvals
            .into_iter()
            .map(|a| Approval {
                round: a.round,
                approver: a.user_email,
                approver_name: a.user_name,
                decision: a.decision,
                comment: a.comment,
                decided_at: a.decided_at.map(ts),
            })
            .collect(),
        tasks: tasks
            .into_iter()
            .map(|k| ChangeTask {
                id: k.id,
                title: k.title,
                assignee: k.assignee_email,
                done: k.done_at.is_some(),
                done_at: k.done_at.map(ts),
                notes: k.notes,
            })
            .collect(),
        outcome: r.outcome.clone(),
        outcome_notes: r.outcome_notes.clone(),
        caused_incidents: caused.into_iter().map(Into::into).collect(),
        conflicts,
        version: r.version,
        ticket: t.into(),
    })
}

/// Applies `f` to `r`, collecting errors; returns the names of the fields that changed and the
/// nominated approvers (user ids) when given.
async fn apply_fields(
    c: &mut Conn<'_>,
    r: &mut ChangeRow,
    f: &ChangeFields,
    errs: &mut FieldErrors,
) -> AppResult<(Vec<&'static str>, Option<Vec<i64>>)> {
    let mut changed = Vec::new();
    for (field, value, slot) in [
        ("reason", &f.reason, &mut r.reason),
        ("implementation_plan", &f.implementation_plan, &mut r.implementation_plan),
        ("backout_plan", &f.backout_plan, &mut r.backout_plan),
        ("test_plan", &f.test_plan, &mut r.test_plan),
    ] {
        if let Some(v) = text_field(errs, field, value.as_deref())
            && v != *slot
        {
            *slot = v;
            changed.push(field);
        }
    }
    for (field, value, slot) in [
        ("risk_impact", f.risk_impact, &mut r.risk_impact),
        ("risk_complexity", f.risk_complexity, &mut r.risk_complexity),
        ("risk_experience", f.risk_experience, &mut r.risk_experience),
        ("risk_backout", f.risk_backout, &mut r.risk_backout),
    ] {
        match value {
            Some(v) if !(1..=3).contains(&v) => errs.push(field, "must be 1, 2 or 3"),
            Some(v) if Some(v) != *slot => {
                *slot = Some(v);
                changed.push(field);
            }
            _ => {}
        }
    }
    // The risk in force: the override (with its reason) or what the questionnaire gives.
    let risk_before = (r.risk.clone(), r.risk_override_reason.clone());
    let computed = answers(r).map(|a| a.risk());
    match f.risk.as_deref().map(str::trim) {
        Some("") => {
            r.risk_override_reason = None;
            r.risk = computed.map(str::to_string);
        }
        Some(v) => match errs.check(parse_risk("risk", v)) {
            Some(risk) if Some(risk) != computed => {
                let why = f.risk_override_reason.as_deref().map(str::trim).unwrap_or("");
                if why.is_empty() {
                    errs.push(
                        "risk_override_reason",
                        format!(
                            "say why the risk is {risk} when the questionnaire gives {}",
                            computed.unwrap_or("nothing (unanswered)")
                        ),
                    );
                }
                r.risk = Some(risk.to_string());
                r.risk_override_reason = Some(why.to_string());
            }
            Some(risk) => {
                r.risk = Some(risk.to_string());
                r.risk_override_reason = None;
            }
            None => {}
        },
        None => {
            if r.risk_override_reason.is_none() && computed.is_some() {
                r.risk = computed.map(str::to_string);
            }
        }
    }
    if (r.risk.clone(), r.risk_override_reason.clone()) != risk_before {
        changed.push("risk");
    }
    let start = f.planned_start.as_deref().map(|s| Timestamp::parse_day_or_instant("planned_start", s));
    let end = f.planned_end.as_deref().map(|s| Timestamp::parse_day_or_instant("planned_end", s));
    if let Some(s) = start.and_then(|s| errs.check(s)) {
        r.planned_start = Some(s.0);
        changed.push("planned_start");
    }
    if let Some(e) = end.and_then(|e| errs.check(e)) {
        r.planned_end = Some(e.0);
        changed.push("planned_end");
    }
    if let Some((s, e)) = r.planned_start.zip(r.planned_end) {
        if e <= s {
            errs.push("planned_end", "must be after planned_start");
        } else if e - s > MAX_CHANGE_MS {
            errs.push("planned_end", "a change may be planned for at most 31 days; split longer work");
        }
    }
    if let Some(g) = f.implementer_group.as_deref().map(str::trim) {
        if g.is_empty() {
            r.implementer_group_id = None;
        } else if let Some(g) = collect(errs, tickets::group_by_name(c, "implementer_group", g).await)? {
            r.implementer_group_id = Some(g.id);
        }
        changed.push("implementer_group");
    }
    if let Some(g) = f.cab_group.as_deref().map(str::trim) {
        if g.is_empty() {
            r.cab_group_id = None;
        } else if let Some(g) = collect(errs, tickets::group_by_name(c, "cab_group", g).await)? {
            r.cab_group_id = Some(g.id);
        }
        changed.push("cab_group");
    }
    if let Some(rule) = f.approval_rule.as_deref()
        && let Some(rule) = errs.check(parse_approval_rule("approval_rule", rule))
    {
        r.approval_rule = rule.to_string();
        changed.push("approval_rule");
    }
    let mut nominated = None;
    if let Some(list) = &f.approvers {
        let mut ids = Vec::new();
        for (i, e) in list.iter().enumerate() {
            let field = format!("approvers[{i}]");
            let Some(email) = errs.check(Email::parse(&field, e)) else { continue };
            match orion_store::users::find_by_email(c, email.as_str()).await? {
                Some(u) if u.active && Role::parse("role", &u.role).is_ok_and(|r| r.is_staff()) => {
                    if !ids.contains(&u.id) {
                        ids.push(u.id);
                    }
                }
                Some(_) => errs.push(field, format!("{email} is not an active agent, lead or admin")),
                None => errs.push(field, format!("no user with e-mail {email}")),
            }
        }
        nominated = Some(ids);
        changed.push("approvers");
    }
    Ok((changed, nominated))
}

/// Everything a change needs before it is approved, scheduled or implemented.
fn check_ready(r: &ChangeRow, errs: &mut FieldErrors) {
    if r.planned_start.is_none() {
        errs.push("planned_start", "plan when the change starts");
    }
    if r.planned_end.is_none() {
        errs.push("planned_end", "plan when the change ends");
    }
    if r.change_type != "standard" {
        if r.implementation_plan.is_empty() {
            errs.push("implementation_plan", "write how the change will be implemented");
        }
        if r.backout_plan.is_empty() {
            errs.push("backout_plan", "write how the change will be backed out if it goes wrong");
        }
        if r.risk.is_none() {
            errs.push("risk", "answer the risk questionnaire (risk_impact, risk_complexity, risk_experience, risk_backout) or set the risk with a reason");
        }
    }
}

fn stale(t: &TicketView) -> AppError {
    AppError::Conflict(format!("{} was changed by someone else; reload it", t.number))
}

impl App {
    /// Logs a change (staff): a draft, or for a standard change an assessed one ready to schedule.
    pub async fn create_change(&self, actor: &Actor, input: ChangeInput) -> AppResult<Change> {
        require_staff(actor, "log changes")?;
        let now = self.now();
        let mut errs = FieldErrors::new();
        let kind = match input.change_type.as_deref() {
            None => Some("normal"),
            Some(k) => errs.check(parse_change_type("change_type", k)),
        };
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let template = match input.template.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(name) => match store::find_template(&mut c, name).await? {
                Some(t) if t.active => Some(t),
                Some(_) => {
                    errs.push("template", format!("template {name:?} is retired"));
                    None
                }
                None => {
                    errs.push("template", format!("no template named {name:?}"));
                    None
                }
            },
            None => None,
        };
        if kind == Some("standard") && template.is_none() && input.template.is_none() {
            errs.push("template", "a standard change is made from a pre-approved template; name it");
        }
        if kind.is_some_and(|k| k != "standard") && input.template.is_some() {
            errs.push("template", "only standard changes come from templates");
        }
        let mut r = ChangeRow {
            change_type: kind.unwrap_or("normal").to_string(),
            phase: if kind == Some("standard") { "assessment".into() } else { "draft".into() },
            approval_rule: "all".into(),
            ..Default::default()
        };
        if let Some(tp) = &template {
            r.template_id = Some(tp.id);
            r.implementation_plan = tp.implementation_plan.clone();
            r.backout_plan = tp.backout_plan.clone();
            r.test_plan = tp.test_plan.clone();
            r.risk = Some(tp.risk.clone());
            r.risk_override_reason = Some(format!("pre-approved template {}", tp.name));
            r.implementer_group_id = tp.implementer_group_id;
        }
        let (_, nominated) = apply_fields(&mut c, &mut r, &input.fields, &mut errs).await?;
        let title = input.title.clone().or_else(|| template.as_ref().map(|t| t.title.clone()));
        let description = input.description.clone().or_else(|| template.as_ref().map(|t| t.description.clone()));
        let core = Core {
            kind: TicketKind::Change,
            title: title.as_deref(),
            description: description.as_deref(),
            impact: input.impact,
            urgency: input.urgency,
            category: input.category.as_deref(),
            group: input.assignment_group.as_deref(),
            assignee: input.assignee.as_deref(),
            assets: input.assets.as_deref().unwrap_or_default(),
            state: State::New,
            pending: None,
        };
        let written = create_core(self, &mut c, actor, core, &mut errs, now).await?;
        errs.into_result()?;
        let Some(written) = written else { return Err(AppError::Internal("validated input incomplete".into())) };
        r.ticket_id = written.id;
        store::insert_change(&mut c, &r).await?;
        for id in nominated.unwrap_or_default() {
            orion_store::approvals::ask(&mut c, r.ticket_id, 0, id, None).await?;
        }
        let t = orion_store::tickets::get(&mut c, written.id).await?;
        let out = view(&mut c, actor, t).await?;
        self.commit(tx).await?;
        Ok(out)
    }

    pub async fn get_change(&self, actor: &Actor, number: &str) -> AppResult<Change> {
        require_staff(actor, "see changes")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = load_kind(&mut c, number, TicketKind::Change).await?;
        view(&mut c, actor, t).await
    }

    pub async fn list_changes(&self, actor: &Actor, q: ChangeQuery) -> AppResult<Page<super::ItemSummary>> {
        require_staff(actor, "see changes")?;
        let items = orion_store::itsm::Items::Changes;
        super::list_items(self, items, q.phase.as_deref(), parse_change_phase, (q.cursor.as_deref(), q.limit)).await
    }

    /// Edits a drafted or assessed change (staff).
    pub async fn edit_change(&self, actor: &Actor, number: &str, e: ChangeEdit) -> AppResult<Change> {
        require_staff(actor, "edit changes")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = load_kind(&mut c, number, TicketKind::Change).await?;
        let mut r = store::get_change(&mut c, t.id).await?;
        if !matches!(r.phase.as_str(), "draft" | "assessment") {
            return Err(AppError::Conflict(format!(
                "{} is {}; only a drafted or assessed change is edited (move a scheduled one back to assessment to replan it)",
                t.number, r.phase
            )));
        }
        if let Some(v) = e.version
            && v != r.version
        {
            return Err(AppError::Conflict(format!(
                "{} was changed by someone else (version {} now, you read {v}); reload it",
                t.number, r.version
            )));
        }
        let mut errs = FieldErrors::new();
        let (changed, nominated) = apply_fields(&mut c, &mut r, &e.fields, &mut errs).await?;
        errs.into_result()?;
        if changed.is_empty() {
            return view(&mut c, actor, t).await;
        }
        if !store::update_change(&mut c, &r).await? {
            return Err(stale(&t));
        }
        if let Some(ids) = nominated {
            orion_store::itsm::clear_nominees(&mut c, r.ticket_id).await?;
            for id in ids {
                orion_store::approvals::ask(&mut c, r.ticket_id, 0, id, None).await?;
            }
        }
        let entry = Entry {
            kind: "change_updated",
            visibility: Visibility::Internal,
            body: "",
            data: json!({"fields": changed}),
            event: TicketEvent::FieldsChanged { priority_changed: false },
        };
        let t = tickets::save(&mut c, &mut t, now, Some(actor), entry).await?;
        let out = view(&mut c, actor, t).await?;
        self.commit(tx).await?;
        Ok(out)
    }

    /// Moves a change by hand (staff): submit, ask for approval, schedule, start, finish,
    /// cancel. Approval is left by the approvers' decisions, review by the outcome.
    pub async fn move_change(&self, actor: &Actor, number: &str, input: ChangePhaseInput) -> AppResult<Change> {
        require_staff(actor, "move changes")?;
        let to = parse_change_phase("phase", &input.phase)?;
        let note = super::require_phase_note(input.note.as_deref())?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = load_kind(&mut c, number, TicketKind::Change).await?;
        let mut r = store::get_change(&mut c, t.id).await?;
        let from = r.phase.clone();
        let allowed = change_next(&r.change_type, &from);
        if !allowed.contains(&to) {
            let hint = match from.as_str() {
                "approval" => "; it leaves approval by the approvers' decisions",
                "review" => "; record the review outcome to close it",
                _ => "",
            };
            return Err(AppError::Conflict(format!(
                "{} ({} change) is {from}; it can move to {}{hint}",
                t.number,
                r.change_type,
                if allowed.is_empty() { "nothing".to_string() } else { allowed.join(", ") }
            )));
        }
        let mut errs = FieldErrors::new();
        if matches!(to, "approval" | "scheduled" | "implementing") {
            check_ready(&r, &mut errs);
        }
        errs.into_result()?;
        let mut asked = Vec::new();
        match to {
            "approval" => asked = open_round(&mut c, &mut r).await?,
            "scheduled" | "implementing" if r.change_type == "emergency" && r.approval_round == 0 => {
                // Emergency: the work goes ahead; the approvers decide after the fact.
                asked = open_round(&mut c, &mut r).await?;
            }
            "assessment" if from == "scheduled" && r.change_type == "normal" => {
                // Replanning a scheduled change voids its approval.
                r.approval = None;
            }
            _ => {}
        }
        if to == "implementing" {
            r.actual_start = Some(now);
        }
        if to == "review" {
            r.actual_end = Some(now);
            if store::tasks_of(&mut c, r.ticket_id).await?.is_empty() {
                store::insert_task(&mut c, r.ticket_id, "Verify in production", t.assignee_id, now).await?;
            }
        }
        r.phase = to.to_string();
        if !store::update_change(&mut c, &r).await? {
            return Err(stale(&t));
        }
        let approvers = approver_emails(&mut c, &asked).await?;
        let entry = Entry {
            kind: "phase_changed",
            visibility: Visibility::Internal,
            body: &note,
            data: json!({"from": from, "to": to, "approvers_asked": approvers}),
            event: TicketEvent::PhaseChanged,
        };
        let t = set_core_state(&mut c, &mut t, change_core_state(to), actor, now, entry).await?;
        let out = view(&mut c, actor, t).await?;
        self.commit(tx).await?;
        Ok(out)
    }
}
