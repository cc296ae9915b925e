//! A catalog request's approval chain: ordered steps, each decided by any, all, a majority or a
//! share of its approvers, who come from a named person, a support group, the requester's
//! manager or their manager's manager, or a person picked in the form; steps that apply only
//! when the answers match; delegation while someone is away; reminders and a timeout per step
//! in business hours. Approvers decide in the console or on the portal, by the one-time link in
//! the approval mail, or by replying "approve" or "reject" to it.
//!
//! The rows are the ones change approvals use (`approval`), counted by the same rules
//! (`orion_domain::approval`). A request waiting for approval is pending (reason `approval`);
//! approved, it goes to its group's queue; rejected, it is closed with the reason, which the
//! requester is sent.

use super::{CatalogAnswer, Package, read_package};
use crate::kernel::error::{found, invalid};
use crate::sending::{PlainMail, Templates};
use crate::settings::Config;
use crate::{App, AppError, AppResult};
use orion_domain::approval::{Tally, tally, tally_share};
use orion_domain::catalog::{Form, QuestionKind, Rule, Value};
use orion_domain::{Actor, FieldErrors, Role, State, TicketEvent, Timestamp, UserId};
use orion_store::approvals::{self as store, ApprovalRow, StepRow};
use orion_store::catalog::{self as catalog_store, AnswerRow, RequestRow};
use orion_store::tickets::TicketView;
use orion_store::{Conn, timeline, users};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The job that reminds a step's approvers and applies its timeout.
pub const CHECK_JOB: &str = "approval.check";
/// How long an approval link works.
const LINK_DAYS: i64 = 14;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// The most steps a chain has, and the longest reminder or timeout (in business hours).
const MAX_STEPS: usize = 10;
const MAX_HOURS: u32 = 2_000;

crate::api_schema::one_of_values!(step_rules, step_rules_exact: &["any", "all", "majority", "quorum"]);
crate::api_schema::one_of_values!(timeouts, timeouts_exact: &["remind", "escalate", "approve", "reject"]);
crate::api_schema::one_of_values!(decisions, decisions_exact: &["approve", "reject"]);

/// Who is asked at a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Approver {
    /// A named person, by e-mail address
    User { email: String },
    /// Every active member of a support group, by name
    Group { name: String },
    /// The manager of the person the request is for
    Manager,
    /// Their manager's manager
    ManagersManager,
    /// The person picked in a user question of the form, by the question's key
    Question { key: String },
}

/// One step of an item's approval chain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ApprovalStep {
    /// "Manager approval"
    pub name: String,
    /// `any` (the first approval decides; default), `all`, `majority`, `quorum`
    #[schema(schema_with = step_rules)]
    pub rule: String,
    /// With `quorum`: the share of approvers (percent) who must approve
    pub quorum: Option<u32>,
    pub approvers: Vec<Approver>,
    /// The step applies only when the answers match (a rule as in the form: `{"conditions": …}`)
    #[schema(value_type = Option<Object>)]
    pub when: Option<Rule>,
    /// Remind the approvers who have not decided after this many business hours
    pub remind_after_hours: Option<u32>,
    /// What `on_timeout` does, after this many business hours without a decision
    pub timeout_hours: Option<u32>,
    /// `remind` (again; default), `escalate` (ask the approvers' managers too), `approve`, `reject`
    #[schema(schema_with = timeouts)]
    pub on_timeout: String,
}

impl ApprovalStep {
    fn rule(&self) -> &str {
        if self.rule.trim().is_empty() { "any" } else { self.rule.trim() }
    }

    fn on_timeout(&self) -> &str {
        if self.on_timeout.trim().is_empty() { "remind" } else { self.on_timeout.trim() }
    }
}

/// Writes a step's omitted rule and timeout action as what they mean (`any`, `remind`), so a
/// stored or shown package names them as its schema does.
pub(super) fn spell_out_defaults(steps: &mut [ApprovalStep]) {
    for s in steps {
        s.rule = s.rule().to_string();
        s.on_timeout = s.on_timeout().to_string();
    }
}

/// How a rule reads: "any one of them", "all of them", …
fn rule_label(rule: &str, quorum: Option<i64>) -> String {
    match rule {
        "all" => "all of them".into(),
        "majority" => "more than half of them".into(),
        "quorum" => format!("at least {} % of them", quorum.unwrap_or(100)),
        _ => "any one of them".into(),
    }
}

/// Checks an item's approval chain (every mistake named by place, `package.approvals[1].rule`).
pub(super) async fn validate_steps(
    c: &mut Conn<'_>,
    config: &Config,
    form: &Form,
    steps: &[ApprovalStep],
    errs: &mut FieldErrors,
) -> AppResult<()> {
    if steps.len() > MAX_STEPS {
        errs.push("package.approvals", format!("a chain has at most {MAX_STEPS} steps"));
    }
    for (i, s) in steps.iter().enumerate() {
        let f = format!("package.approvals[{i}]");
        if s.name.trim().is_empty() || s.name.chars().count() > 100 {
            errs.push(format!("{f}.name"), "a step needs a name of at most 100 characters");
        }
        match (s.rule(), s.quorum) {
            ("any" | "all" | "majority", None) => {}
            ("any" | "all" | "majority", Some(_)) => {
                errs.push(format!("{f}.quorum"), "only a quorum step has a quorum; leave it out")
            }
            ("quorum", Some(1..=100)) => {}
            ("quorum", _) => errs.push(format!("{f}.quorum"), "a quorum step needs a share from 1 to 100 (percent)"),
            (other, _) => {
                errs.push(format!("{f}.rule"), format!("must be any, all, majority or quorum, not {other:?}"))
            }
        }
        if s.approvers.is_empty() {
            errs.push(format!("{f}.approvers"), "a step asks at least one approver");
        }
        for (j, a) in s.approvers.iter().enumerate() {
            let af = format!("{f}.approvers[{j}]");
            match a {
                Approver::User { email } => match users::find_by_email(c, &email.trim().to_lowercase()).await? {
                    Some(u) if u.active => {}
                    _ => errs.push(format!("{af}.email"), format!("no active person with the address {email:?}")),
                },
                Approver::Group { name } => {
                    if config.active_group(name).is_none() {
                        errs.push(format!("{af}.name"), format!("no active group called {name:?}"));
                    }
                }
                Approver::Question { key } => match form.question(key) {
                    Some(q) if q.kind == QuestionKind::User => {}
                    Some(_) => errs.push(format!("{af}.key"), format!("{key:?} does not ask for a person")),
                    None => errs.push(format!("{af}.key"), format!("the form has no question {key:?}")),
                },
                Approver::Manager | Approver::ManagersManager => {}
            }
        }
        if let Some(r) = &s.when {
            form.validate_rule(&format!("{f}.when"), r, errs);
        }
        for (field, h) in [("remind_after_hours", s.remind_after_hours), ("timeout_hours", s.timeout_hours)] {
            if h.is_some_and(|h| h == 0 || h > MAX_HOURS) {
                errs.push(format!("{f}.{field}"), format!("from 1 to {MAX_HOURS} business hours"));
            }
        }
        if let (Some(r), Some(t)) = (s.remind_after_hours, s.timeout_hours)
            && r >= t
        {
            errs.push(format!("{f}.remind_after_hours"), "remind before the step times out");
        }
        if !matches!(s.on_timeout(), "remind" | "escalate" | "approve" | "reject") {
            errs.push(format!("{f}.on_timeout"), "must be remind, escalate, approve or reject");
        }
    }
    Ok(())
}

/// A request's approval as its requester, approvers and the desk see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestApproval {
    /// `pending`, `approved`, `rejected`
    pub state: String,
    /// The steps opened so far, in order
    pub steps: Vec<StepView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepView {
    pub name: String,
    /// How it is decided, in words ("any one of them")
    pub rule: String,
    /// `pending`, `approved`, `rejected`
    pub state: String,
    pub approvers: Vec<ApproverView>,
    /// When it times out (null: never)
    pub due_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApproverView {
    pub name: String,
    pub email: String,
    /// Asked in place of this person (a delegation, or a timeout escalated to their manager)
    pub on_behalf_of: Option<String>,
    /// `approved`, `rejected`, null while undecided
    pub decision: Option<String>,
    pub comment: String,
    pub decided_at: Option<String>,
    /// How the decision came: `console`, `link`, `mail`, `timeout`
    pub via: Option<String>,
}

/// An approver's decision.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDecision {
    /// `approve` or `reject`
    #[schema(schema_with = decisions)]
    pub decision: String,
    /// Why (required to reject; the requester is told)
    #[serde(default)]
    pub comment: String,
}

/// Something waiting for the caller's decision: a change's round or a catalog request's step.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Awaiting {
    /// `change` or `service_request`
    pub kind: String,
    pub number: String,
    pub title: String,
    /// The catalog item, or the change's type
    pub what: String,
    /// The step asked about (requests)
    pub step: Option<String>,
    pub requested_by: String,
    /// Who a request is for
    pub requested_for: Option<String>,
    /// Asked in place of this person
    pub on_behalf_of: Option<String>,
    /// A change's phase and planned window
    pub phase: Option<String>,
    pub planned_start: Option<String>,
    pub planned_end: Option<String>,
}

/// A request as its approver sees it (in the console, on the portal or through a link).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApprovalRequestView {
    pub number: String,
    pub title: String,
    pub item: String,
    pub requested_by: String,
    pub requested_for: String,
    pub answers: Vec<CatalogAnswer>,
    pub approval: RequestApproval,
    /// The step the viewer is asked about, if they have yet to decide
    pub your_step: Option<String>,
    /// Asked in place of this person
    pub on_behalf_of: Option<String>,
    /// The link was used or expired, or the request no longer waits (links only)
    pub closed_reason: Option<String>,
}

/// A delegation: while someone is away, another person approves for them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delegation {
    pub id: i64,
    pub user: String,
    pub delegate: String,
    pub delegate_name: String,
    pub starts_at: String,
    pub ends_at: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DelegationInput {
    /// Whose approvals are delegated (administrators only; default: yourself)
    pub user: Option<String>,
    /// Who approves in their place, by e-mail address
    pub delegate: String,
    /// From (RFC 3339 or a date, `2026-12-20`)
    pub starts_at: String,
    /// Until (excluded; a date means the start of that day)
    pub ends_at: String,
}

/// What sending approval mail needs.
pub(crate) struct Mailer<'a> {
    pub templates: &'a Templates,
    pub config: &'a Config,
}

/// Typed answers from stored rows, as the form's rules read them.
pub(super) fn values_of(form: &Form, rows: &[AnswerRow]) -> BTreeMap<String, Value> {
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for q in form.questions() {
        let mine: Vec<&AnswerRow> = rows.iter().filter(|a| a.question_key == q.key).collect();
        let Some(first) = mine.first() else { continue };
        let v = match q.kind {
            QuestionKind::Number => Value::Number(first.number_value.unwrap_or_default()),
            QuestionKind::YesNo => Value::Bool(first.text_value == "yes"),
            QuestionKind::MultiChoice => Value::List(mine.iter().map(|a| a.text_value.clone()).collect()),
            _ => Value::Text(first.text_value.clone()),
        };
        out.insert(q.key.clone(), v);
    }
    out
}

/// Who a step asks, each with the person they stand in for: the approvers its sources name
/// (never the person the request is for), each replaced by their delegate while they are away.
async fn resolve(
    c: &mut Conn<'_>,
    config: &Config,
    step: &ApprovalStep,
    (requested_for, answers): (&users::UserRow, &[AnswerRow]),
    now: i64,
) -> AppResult<(Vec<(i64, Option<i64>)>, Vec<String>)> {
    let mut ids: Vec<i64> = Vec::new();
    let mut missing = Vec::new();
    let manager = match requested_for.manager_id {
        Some(m) => Some(users::get(c, m).await?),
        None => None,
    };
    for a in &step.approvers {
        let found: Vec<i64> = match a {
            Approver::User { email } => match users::find_by_email(c, &email.trim().to_lowercase()).await? {
                Some(u) if u.active => vec![u.id],
                _ => {
                    missing.push(format!("{email} is not an active user"));
                    vec![]
                }
            },
            Approver::Group { name } => match config.active_group(name) {
                Some(g) => {
                    let mut v = Vec::new();
                    for id in orion_store::groups::member_ids(c, g.id).await? {
                        if users::get(c, id).await?.active {
                            v.push(id);
                        }
                    }
                    if v.is_empty() {
                        missing.push(format!("the group {name} has no active members"));
                    }
                    v
                }
                None => {
                    missing.push(format!("there is no active group {name}"));
                    vec![]
                }
            },
            Approver::Manager => match &manager {
                Some(m) if m.active => vec![m.id],
                _ => {
                    missing.push(format!("{} has no active manager", requested_for.name));
                    vec![]
                }
            },
            Approver::ManagersManager => {
                let up = match manager.as_ref().and_then(|m| m.manager_id) {
                    Some(id) => Some(users::get(c, id).await?),
                    None => None,
                };
                match up {
                    Some(u) if u.active => vec![u.id],
                    _ => {
                        missing.push(format!("{}'s manager has no active manager", requested_for.name));
                        vec![]
                    }
                }
            }
            Approver::Question { key } => {
                match answers.iter().find(|r| &r.question_key == key).and_then(|r| r.ref_id) {
                    Some(id) => vec![id],
                    None => {
                        missing.push(format!("nobody was picked for {key}"));
                        vec![]
                    }
                }
            }
        };
        for id in found {
            if id != requested_for.id && !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let mut out: Vec<(i64, Option<i64>)> = Vec::new();
    for id in ids {
        match store::delegate_at(c, id, now).await? {
            Some(d) if d != requested_for.id && !out.iter().any(|(u, _)| *u == d) => out.push((d, Some(id))),
            _ if !out.iter().any(|(u, _)| *u == id) => out.push((id, None)),
            _ => {}
        }
    }
    Ok((out, missing))
}

/// The steps of a chain that apply to the answers, with their number (1, 2, … in chain order).
fn applicable(package: &Package, values: &BTreeMap<String, Value>) -> Vec<(i64, ApprovalStep)> {
    package
        .approvals
        .iter()
        .enumerate()
        .filter(|(_, s)| s.when.as_ref().is_none_or(|r| r.holds(values)))
        .map(|(i, s)| (i as i64 + 1, s.clone()))
        .collect()
}

/// Refuses a request whose chain would ask nobody at some step (no manager set, an empty group):
/// the requester is told before anything is written.
pub(super) async fn check_chain(
    c: &mut Conn<'_>,
    config: &Config,
    package: &Package,
    values: &BTreeMap<String, Value>,
    (requested_for, answers): (&users::UserRow, &[AnswerRow]),
    now: i64,
    errs: &mut FieldErrors,
) -> AppResult<()> {
    // The designer's dry run reads the chain the same way: what it calls a problem refuses here.
    for step in preview_chain(c, config, package, values, (requested_for, answers), now).await? {
        if let Some(problem) = step.problem.filter(|_| step.applies) {
            errs.push(
                "approvals",
                format!(
                    "this request needs approval ({}), but nobody can give it: {problem}; ask the service desk",
                    step.name
                ),
            );
        }
    }
    Ok(())
}

/// Where a request's chain moved.
enum Moved {
    /// A step was opened and its approvers asked
    Opened,
    /// No step is left: approved
    Done,
}

/// The business calendar's instant `hours` business hours after `now`.
fn after_hours(cal: &orion_domain::BusinessCalendar, now: i64, hours: Option<u32>) -> Option<i64> {
    hours.and_then(|h| cal.add_business_ms(Timestamp(now), i64::from(h) * HOUR_MS)).map(|t| t.0)
}

/// The step a request's chain is at, as the package defines it.
fn step_def(package: &Package, round: i64) -> Option<&ApprovalStep> {
    usize::try_from(round - 1).ok().and_then(|i| package.approvals.get(i))
}

/// Schedules the check of a step at its next reminder or timeout (none: nothing to check).
async fn schedule_check(c: &mut Conn<'_>, step: &StepRow, now: i64) -> AppResult<()> {
    let at = match (step.remind_at, step.due_at) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return Ok(()),
    };
    let key = format!("{CHECK_JOB}:{}:{}", step.ticket_id, step.round);
    let payload = json!({"ticket_id": step.ticket_id, "round": step.round}).to_string();
    let job = orion_store::jobs::NewJob {
        kind: CHECK_JOB,
        payload: &payload,
        run_at: at,
        dedupe_key: Some(&key),
        max_attempts: 5,
    };
    orion_store::jobs::schedule(c, &job, &key, now).await?;
    Ok(())
}

/// The answers of a request in the form's order.
async fn answers_of(c: &mut Conn<'_>, package: &Package, ticket_id: i64) -> AppResult<Vec<CatalogAnswer>> {
    let rows = catalog_store::answers_of(c, ticket_id).await?;
    Ok(super::answers_in_order(package, &rows))
}

/// Opens the first step after `after` (0: the first) that applies to the answers, asks its
/// approvers and mails them; `Done` when none is left.
async fn open_next(
    c: &mut Conn<'_>,
    m: &Mailer<'_>,
    t: &TicketView,
    req: &RequestRow,
    after: i64,
    now: i64,
) -> AppResult<Moved> {
    let package = read_package(&req.package)?;
    let rows = catalog_store::answers_of(c, t.id).await?;
    let values = values_of(&package.form, &rows);
    let requested_for = users::get(c, req.requested_for_id).await?;
    let cal = crate::settings::sla::business_calendar(c).await?;
    let Some((round, step)) = applicable(&package, &values).into_iter().find(|(r, _)| *r > after) else {
        return Ok(Moved::Done);
    };
    let (mut who, missing) = resolve(c, m.config, &step, (&requested_for, &rows), now).await?;
    let mut fallback = None;
    if who.is_empty() {
        // Nobody its sources name can be asked (a manager left since the request was made): the
        // request's group decides, so a person still does.
        for id in orion_store::groups::member_ids(c, t.assignment_group_id).await? {
            if id != requested_for.id && users::get(c, id).await?.active {
                who.push((id, None));
            }
        }
        fallback = Some(missing.join("; "));
    }
    let row = StepRow {
        ticket_id: t.id,
        round,
        name: step.name.trim().to_string(),
        rule: step.rule().to_string(),
        quorum: step.quorum.map(i64::from),
        state: "pending".into(),
        opened_at: now,
        remind_at: after_hours(&cal, now, step.remind_after_hours),
        due_at: after_hours(&cal, now, step.timeout_hours),
        on_timeout: step.on_timeout().to_string(),
        reminders: 0,
        decided_at: None,
    };
    store::insert_step(c, &row).await?;
    catalog_store::set_approval(c, t.id, Some("pending"), round).await?;
    let mut names = Vec::new();
    let ask = AskMail::new(t, req, (&package, &rows), &requested_for, cal);
    for (user, behalf) in &who {
        if let Some(id) = store::ask(c, t.id, round, *user, *behalf).await? {
            let a = store::get(c, id).await?;
            names.push(a.user_name.clone());
            send_ask(c, m, &ask, &a, (&row, false), now).await?;
        }
    }
    let data = json!({"step": row.name, "round": round, "approvers": names, "rule": rule_label(&row.rule, row.quorum),
                      "fallback": fallback, "due_at": row.due_at.map(|d| Timestamp(d).to_rfc3339())});
    crate::tickets::record_entry(c, t.id, now, None, ("approval_requested", TicketEvent::Noted), &data).await?;
    schedule_check(c, &row, now).await?;
    Ok(Moved::Opened)
}

/// What every approval mail of one request shares, read once for all its approvers.
struct AskMail<'a> {
    t: &'a TicketView,
    req: &'a RequestRow,
    answers: Vec<serde_json::Value>,
    requested_for: Option<String>,
    cal: orion_domain::BusinessCalendar,
}

impl<'a> AskMail<'a> {
    /// Reads what the mails share: the answers, for whom, and the business calendar.
    async fn read(c: &mut Conn<'_>, t: &'a TicketView, req: &'a RequestRow, package: &Package) -> AppResult<Self> {
        let rows = catalog_store::answers_of(c, t.id).await?;
        let requested_for = users::get(c, req.requested_for_id).await?;
        let cal = crate::settings::sla::business_calendar(c).await?;
        Ok(Self::new(t, req, (package, &rows), &requested_for, cal))
    }

    /// From what the caller has read already.
    fn new(
        t: &'a TicketView,
        req: &'a RequestRow,
        (package, rows): (&Package, &[AnswerRow]),
        requested_for: &users::UserRow,
        cal: orion_domain::BusinessCalendar,
    ) -> Self {
        let answers = super::answers_in_order(package, rows)
            .into_iter()
            .map(|x| json!({"label": x.label, "text": x.text}))
            .collect();
        let requested_for = (requested_for.id != t.requester_id).then(|| requested_for.name.clone());
        Self { t, req, answers, requested_for, cal }
    }
}

/// Mails an approver the request with their one-time link (a reminder when `reminder`).
async fn send_ask(
    c: &mut Conn<'_>,
    m: &Mailer<'_>,
    ask: &AskMail<'_>,
    a: &ApprovalRow,
    (step, reminder): (&StepRow, bool),
    now: i64,
) -> AppResult<()> {
    let (Some(from), Some(portal)) = (m.config.mail.sender().map(str::to_string), m.config.mail.portal_url.as_deref())
    else {
        return Ok(());
    };
    let portal = portal.trim_end_matches('/');
    let token = crate::auth::new_token("apv_");
    let message_id = format!("approval.{:016x}@{}", rand::random::<u64>(), crate::sending::domain_of(&from));
    let expires = now + LINK_DAYS * DAY_MS;
    store::insert_link(c, &crate::auth::hash_token(&token), a.id, &message_id, expires).await?;
    let t = ask.t;
    let ctx = json!({
        "approver": {"name": a.user_name, "email": a.user_email},
        "requester": {"name": t.requester_name, "email": t.requester_email},
        "requested_for": ask.requested_for,
        "item": ask.req.item_name,
        "step": step.name,
        "ticket": {"number": t.number, "title": t.title},
        "answers": ask.answers,
        "on_behalf_of": a.on_behalf_of_name,
        "approve_url": format!("{portal}/approve/{token}?decision=approve"),
        "reject_url": format!("{portal}/approve/{token}?decision=reject"),
        "expires_on": Timestamp(expires).to_rfc3339()[..10].to_string(),
        "due": step.due_at.map(|d| ask.cal.local_label(Timestamp(d))),
        "reminder": reminder,
        "helpdesk": {"name": m.config.mail.from_name, "address": from},
    });
    let mail = PlainMail {
        template: "approval",
        from_name: &m.config.mail.from_name,
        from: &from,
        to: &a.user_email,
        ticket_id: Some(t.id),
        secret: true,
    };
    crate::sending::queue_plain_mail_as(c, m.templates, &mail, &ctx, now, &message_id).await
}

/// The actor an approver decides as.
async fn actor_of(c: &mut Conn<'_>, user_id: i64) -> AppResult<Actor> {
    let u = users::get(c, user_id).await?;
    Ok(Actor { id: UserId(u.id), role: Role::parse("role", &u.role)? })
}

/// Records approver row `a`'s decision (`approved` or `rejected`) and moves the request on when
/// its step is decided: to the next step, to its group's queue, or closed with the reason.
pub(crate) async fn decide_in(
    c: &mut Conn<'_>,
    m: &Mailer<'_>,
    a: &ApprovalRow,
    (decision, comment, via): (&str, &str, &str),
    now: i64,
) -> AppResult<()> {
    let req = catalog_store::request_of(c, a.ticket_id).await?.ok_or(AppError::NotFound("catalog request"))?;
    let t = orion_store::tickets::get(c, a.ticket_id).await?;
    if req.approval.as_deref() != Some("pending")
        || a.round != req.approval_round
        || matches!(t.state.as_str(), "resolved" | "closed")
    {
        return Err(AppError::Conflict(format!("{} no longer waits for this approval", t.number)));
    }
    match store::decide(c, a.id, (decision, comment, via), now).await {
        Err(orion_store::StoreError::NotFound) => {
            return Err(AppError::Conflict(format!("your decision on {} is recorded already", t.number)));
        }
        other => other?,
    }
    store::spend_links(c, a.id, now).await?;
    let actor = actor_of(c, a.user_id).await?;
    let steps = store::steps_of(c, t.id).await?;
    let step = steps.into_iter().find(|s| s.round == a.round).ok_or(AppError::NotFound("approval step"))?;
    let behalf = a.on_behalf_of_name.as_deref().map(|n| format!(" for {n}")).unwrap_or_default();
    let body = match decision {
        "approved" => format!("{}: approved by {}{behalf}.", step.name, a.user_name),
        _ => format!("{}: rejected by {}{behalf}: {comment}", step.name, a.user_name),
    };
    let data = json!({"step": step.name, "round": a.round, "decision": decision, "comment": comment, "via": via});
    let e = timeline::NewEntry {
        ticket_id: t.id,
        at: now,
        actor_id: Some(a.user_id),
        kind: "approval_decided",
        visibility: "public",
        body: &body,
        data: &data.to_string(),
    };
    timeline::append_event(c, &e, Some(&actor), TicketEvent::ApprovalDecided, Some(&t)).await?;
    settle(c, m, (&t, &req), step, Some(&actor), now).await
}

/// Counts a step and, once it is decided, moves the request on.
async fn settle(
    c: &mut Conn<'_>,
    m: &Mailer<'_>,
    (t, req): (&TicketView, &RequestRow),
    mut step: StepRow,
    actor: Option<&Actor>,
    now: i64,
) -> AppResult<()> {
    let rows: Vec<ApprovalRow> =
        store::of_ticket(c, t.id).await?.into_iter().filter(|r| r.round == step.round).collect();
    let yes = rows.iter().filter(|r| r.decision.as_deref() == Some("approved")).count();
    let no = rows.iter().filter(|r| r.decision.as_deref() == Some("rejected")).count();
    let result = match step.rule.as_str() {
        "quorum" => tally_share(step.quorum.unwrap_or(100) as u32, rows.len(), yes, no),
        rule => tally(rule, rows.len(), yes, no),
    };
    let reasons: Vec<String> = rows
        .iter()
        .filter(|r| r.decision.as_deref() == Some("rejected"))
        .map(|r| format!("{}: {}", r.user_name, r.comment))
        .collect();
    conclude(c, m, (t, req), &mut step, result, &reasons.join("\n"), actor, now).await
}

/// Writes a step's outcome and what follows from it.
#[allow(clippy::too_many_arguments)]
async fn conclude(
    c: &mut Conn<'_>,
    m: &Mailer<'_>,
    (t, req): (&TicketView, &RequestRow),
    step: &mut StepRow,
    result: Tally,
    reason: &str,
    actor: Option<&Actor>,
    now: i64,
) -> AppResult<()> {
    match result {
        Tally::Pending => Ok(()),
        Tally::Approved => {
            step.state = "approved".into();
            step.decided_at = Some(now);
            store::update_step(c, step).await?;
            match open_next(c, m, t, req, step.round, now).await? {
                Moved::Opened => Ok(()),
                Moved::Done => approved(c, t.id, step.round, actor, now).await,
            }
        }
        Tally::Rejected => {
            step.state = "rejected".into();
            step.decided_at = Some(now);
            store::update_step(c, step).await?;
            rejected(c, (t.id, step.round), reason, actor, now).await
        }
    }
}

/// Every step approved: the request goes to its group's queue.
async fn approved(c: &mut Conn<'_>, ticket_id: i64, round: i64, actor: Option<&Actor>, now: i64) -> AppResult<()> {
    catalog_store::set_approval(c, ticket_id, Some("approved"), round).await?;
    if let Some(req) = catalog_store::request_of(c, ticket_id).await? {
        super::tasks::plan(c, ticket_id, &read_package(&req.package)?, now).await?;
    }
    let mut t = orion_store::tickets::get(c, ticket_id).await?;
    if t.state != State::Pending.as_str() {
        return Ok(());
    }
    t.state = State::New.as_str().to_string();
    t.pending_reason = None;
    let entry = crate::tickets::Entry {
        kind: "state_changed",
        visibility: orion_domain::Visibility::Public,
        body: "Approved: the request goes to its team.",
        data: json!({"from": "pending", "to": "new", "pending_reason": null, "approval": "approved"}),
        event: TicketEvent::StateChanged { from: State::Pending, to: State::New },
    };
    crate::tickets::save(c, &mut t, now, actor, entry).await?;
    Ok(())
}

/// A step rejected: the request is closed, and its requester told why.
async fn rejected(
    c: &mut Conn<'_>,
    (ticket_id, round): (i64, i64),
    reason: &str,
    actor: Option<&Actor>,
    now: i64,
) -> AppResult<()> {
    catalog_store::set_approval(c, ticket_id, Some("rejected"), round).await?;
    let mut t = orion_store::tickets::get(c, ticket_id).await?;
    let body = format!("Your request was not approved.\n\n{reason}");
    let e = timeline::NewEntry {
        ticket_id,
        at: now,
        actor_id: None,
        kind: "comment",
        visibility: "public",
        body: &body,
        data: "{}",
    };
    // Orion's message: mailed to the requester like a reply from the desk.
    let event = TicketEvent::Commented { kind: orion_domain::CommentKind::Comment, public: true, by_staff: true };
    timeline::append_event(c, &e, None, event, Some(&t)).await?;
    let from = orion_domain::State::parse("state", &t.state).unwrap_or(State::Pending);
    t.state = State::Closed.as_str().to_string();
    t.pending_reason = None;
    t.resolution_code = Some("cancelled".into());
    t.resolution_notes =
        Some(format!("Not approved. {reason}").chars().take(crate::kernel::limits::TEXT_MAX).collect());
    t.resolved_at = Some(now);
    t.closed_at = Some(now);
    let entry = crate::tickets::Entry {
        kind: "state_changed",
        visibility: orion_domain::Visibility::Public,
        body: "",
        data: json!({"from": from.as_str(), "to": "closed", "approval": "rejected"}),
        event: TicketEvent::Closed,
    };
    crate::tickets::save(c, &mut t, now, actor, entry).await?;
    Ok(())
}

/// Starts the chain of a request just written (in its transaction): opens the first step that
/// applies and puts the request on hold for it. Returns whether approval is asked.
pub(super) async fn start(
    c: &mut Conn<'_>,
    m: &Mailer<'_>,
    ticket_id: i64,
    actor: &Actor,
    now: i64,
) -> AppResult<bool> {
    let req = catalog_store::request_of(c, ticket_id).await?.ok_or(AppError::NotFound("catalog request"))?;
    let package = read_package(&req.package)?;
    let rows = catalog_store::answers_of(c, ticket_id).await?;
    if applicable(&package, &values_of(&package.form, &rows)).is_empty() {
        return Ok(false);
    }
    let mut t = orion_store::tickets::get(c, ticket_id).await?;
    let before = orion_domain::State::parse("state", &t.state).unwrap_or(State::New);
    t.state = State::Pending.as_str().to_string();
    t.pending_reason = Some("approval".into());
    let entry = crate::tickets::Entry {
        kind: "state_changed",
        visibility: orion_domain::Visibility::Public,
        body: "",
        data: json!({"from": before.as_str(), "to": "pending", "pending_reason": "approval"}),
        event: TicketEvent::StateChanged { from: before, to: State::Pending },
    };
    let t = crate::tickets::save(c, &mut t, now, Some(actor), entry).await?;
    match open_next(c, m, &t, &req, 0, now).await? {
        Moved::Opened => Ok(true),
        Moved::Done => Err(AppError::Internal("an applicable approval step was not opened".into())),
    }
}

/// `approve`/`approved` or `reject`/`rejected` as stored; `None` for anything else.
fn parse_decision(s: &str) -> Option<&'static str> {
    match s.trim().to_ascii_lowercase().as_str() {
        "approve" | "approved" | "yes" => Some("approved"),
        "reject" | "rejected" | "no" => Some("rejected"),
        _ => None,
    }
}

fn checked_decision(input: &ApprovalDecision) -> AppResult<(&'static str, String)> {
    let Some(decision) = parse_decision(&input.decision) else {
        return Err(invalid("decision", format!("must be approve or reject, not {:?}", input.decision)));
    };
    let comment: String = input.comment.trim().chars().take(crate::kernel::limits::TEXT_MAX).collect();
    if decision == "rejected" && comment.is_empty() {
        return Err(invalid("comment", "say why you reject the request; the requester is told"));
    }
    Ok((decision, comment))
}

/// A date (`2026-12-20`, the start of that day in the business-hours zone) or an RFC 3339 time.
fn parse_instant(field: &str, s: &str, zone: &jiff::tz::TimeZone) -> AppResult<i64> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    let date: jiff::civil::Date = s.parse().map_err(|_| invalid(field, "expected a date (YYYY-MM-DD) or a time"))?;
    let zoned = date.to_zoned(zone.clone()).map_err(|_| invalid(field, "not a day of the calendar"))?;
    Ok(zoned.timestamp().as_millisecond())
}

fn delegation_view(d: orion_store::approvals::DelegationRow) -> Delegation {
    Delegation {
        id: d.id,
        user: d.user_email,
        delegate: d.delegate_email,
        delegate_name: d.delegate_name,
        starts_at: Timestamp(d.starts_at).to_rfc3339(),
        ends_at: Timestamp(d.ends_at).to_rfc3339(),
    }
}

/// A request's approval as stored, for its views.
pub(super) async fn approval_view(c: &mut Conn<'_>, req: &RequestRow) -> AppResult<Option<RequestApproval>> {
    let Some(state) = req.approval.clone() else { return Ok(None) };
    let rows = store::of_ticket(c, req.ticket_id).await?;
    let steps = store::steps_of(c, req.ticket_id)
        .await?
        .into_iter()
        .map(|s| StepView {
            rule: rule_label(&s.rule, s.quorum),
            state: s.state.clone(),
            due_at: s.due_at.filter(|_| s.state == "pending").map(|d| Timestamp(d).to_rfc3339()),
            approvers: rows
                .iter()
                .filter(|r| r.round == s.round)
                .map(|r| ApproverView {
                    name: r.user_name.clone(),
                    email: r.user_email.clone(),
                    on_behalf_of: r.on_behalf_of_name.clone(),
                    decision: r.decision.clone(),
                    comment: r.comment.clone(),
                    decided_at: r.decided_at.map(|d| Timestamp(d).to_rfc3339()),
                    via: r.via.clone(),
                })
                .collect(),
            name: s.name,
        })
        .collect();
    Ok(Some(RequestApproval { state, steps }))
}

impl App {
    pub(crate) fn mailer<'a>(&'a self, config: &'a Config) -> Mailer<'a> {
        Mailer { templates: &self.mail_rt.templates, config }
    }

    /// The caller's undecided row at a request's current step.
    async fn my_row(&self, c: &mut Conn<'_>, actor: &Actor, ticket_id: i64) -> AppResult<Option<ApprovalRow>> {
        let Some(req) = catalog_store::request_of(c, ticket_id).await? else { return Ok(None) };
        if req.approval.as_deref() != Some("pending") {
            return Ok(None);
        }
        Ok(store::of_ticket(c, ticket_id)
            .await?
            .into_iter()
            .find(|r| r.round == req.approval_round && r.user_id == actor.id.0 && r.decision.is_none()))
    }

    /// A request as one of its approvers sees it (any role: a manager need not be support
    /// staff); staff who may see the ticket see it too.
    pub async fn request_for_approval(&self, actor: &Actor, number: &str) -> AppResult<ApprovalRequestView> {
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = found(orion_store::tickets::get_by_number(&mut c, number.trim()).await, "catalog request")?;
        let asked = store::of_ticket(&mut c, t.id).await?.iter().any(|a| a.user_id == actor.id.0);
        if !asked {
            // Not an approver: only as whoever may see the ticket.
            crate::tickets::load_visible(&mut c, actor, number).await?;
        }
        let mine = self.my_row(&mut c, actor, t.id).await?;
        self.approver_view(&mut c, &t, mine.as_ref(), None).await
    }

    async fn approver_view(
        &self,
        c: &mut Conn<'_>,
        t: &TicketView,
        mine: Option<&ApprovalRow>,
        closed_reason: Option<String>,
    ) -> AppResult<ApprovalRequestView> {
        let req = catalog_store::request_of(c, t.id).await?.ok_or(AppError::NotFound("catalog request"))?;
        let package = read_package(&req.package)?;
        let answers = answers_of(c, &package, t.id).await?;
        let approval = approval_view(c, &req).await?.ok_or(AppError::NotFound("approval"))?;
        let requested_for = users::get(c, req.requested_for_id).await?;
        let your_step = match mine {
            Some(a) => store::steps_of(c, t.id).await?.into_iter().find(|s| s.round == a.round).map(|s| s.name),
            None => None,
        };
        Ok(ApprovalRequestView {
            number: t.number.clone(),
            title: t.title.clone(),
            item: req.item_name,
            requested_by: t.requester_name.clone(),
            requested_for: requested_for.name,
            answers,
            approval,
            your_step,
            on_behalf_of: mine.and_then(|a| a.on_behalf_of_name.clone()),
            closed_reason,
        })
    }

    /// The caller approves or rejects a request at its current step (console, portal, API).
    pub async fn decide_request(
        &self,
        actor: &Actor,
        number: &str,
        input: &ApprovalDecision,
    ) -> AppResult<ApprovalRequestView> {
        let (decision, comment) = checked_decision(input)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let config = self.config(&mut c).await?;
        let t = found(orion_store::tickets::get_by_number(&mut c, number.trim()).await, "catalog request")?;
        let Some(a) = self.my_row(&mut c, actor, t.id).await? else {
            let asked = store::of_ticket(&mut c, t.id).await?.iter().any(|a| a.user_id == actor.id.0);
            if !asked {
                crate::tickets::load_visible(&mut c, actor, number).await?;
            }
            return Err(AppError::Forbidden(format!("{} does not wait for your decision", t.number)));
        };
        decide_in(&mut c, &self.mailer(&config), &a, (decision, &comment, "console"), now).await?;
        self.commit(tx).await?;
        self.request_for_approval(actor, number).await
    }

    /// What a link from an approval mail opens (anyone holding it); `closed_reason` says why it
    /// no longer decides anything.
    pub async fn approval_by_link(&self, token: &str) -> AppResult<ApprovalRequestView> {
        plausible_link(token)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let link = store::link_by_token(&mut c, &crate::auth::hash_token(token.trim()))
            .await?
            .ok_or(AppError::NotFound("approval link"))?;
        let a = store::get(&mut c, link.approval_id).await?;
        let t = orion_store::tickets::get(&mut c, a.ticket_id).await?;
        let actor = actor_of(&mut c, a.user_id).await?;
        let mine = self.my_row(&mut c, &actor, t.id).await?.filter(|m| m.id == a.id);
        let reason = link_closed(&link, mine.is_some(), self.now());
        self.approver_view(&mut c, &t, mine.as_ref().filter(|_| reason.is_none()), reason).await
    }

    /// Decides through a link: once, before it expires, while the request waits for that
    /// approver; the decision is recorded as theirs, made by link.
    pub async fn decide_by_link(&self, token: &str, input: &ApprovalDecision) -> AppResult<ApprovalRequestView> {
        plausible_link(token)?;
        let (decision, comment) = checked_decision(input)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let config = self.config(&mut c).await?;
        let link = store::link_by_token(&mut c, &crate::auth::hash_token(token.trim()))
            .await?
            .ok_or(AppError::NotFound("approval link"))?;
        let a = store::get(&mut c, link.approval_id).await?;
        let actor = actor_of(&mut c, a.user_id).await?;
        let waiting = self.my_row(&mut c, &actor, a.ticket_id).await?.is_some_and(|m| m.id == a.id);
        if let Some(reason) = link_closed(&link, waiting, now) {
            return Err(AppError::Conflict(reason));
        }
        decide_in(&mut c, &self.mailer(&config), &a, (decision, &comment, "link"), now).await?;
        self.commit(tx).await?;
        self.approval_by_link(token).await
    }

    /// Everything waiting for the caller's decision: changes (staff) and catalog requests.
    pub async fn awaiting_my_decision(&self, actor: &Actor) -> AppResult<Vec<Awaiting>> {
        let mut out = Vec::new();
        if actor.role.is_staff() {
            for a in self.my_approvals(actor).await? {
                out.push(Awaiting {
                    kind: "change".into(),
                    number: a.number,
                    title: a.title,
                    what: format!("{} change", a.change_type),
                    step: None,
                    requested_by: a.requested_by,
                    requested_for: None,
                    on_behalf_of: None,
                    phase: Some(a.phase),
                    planned_start: a.planned_start,
                    planned_end: a.planned_end,
                });
            }
        }
        let mut r = self.db.read().await?;
        for a in store::awaiting_requests(&mut r.conn(), actor.id.0, 500).await? {
            out.push(Awaiting {
                kind: "service_request".into(),
                number: a.number,
                title: a.title,
                what: a.item_name,
                step: a.step_name,
                requested_by: a.requester_name,
                requested_for: Some(a.requested_for_name),
                on_behalf_of: a.on_behalf_of_name,
                phase: None,
                planned_start: None,
                planned_end: None,
            });
        }
        Ok(out)
    }

    /// A person's delegations that have not ended (their own; administrators anyone's).
    pub async fn delegations(&self, actor: &Actor, user: Option<&str>) -> AppResult<Vec<Delegation>> {
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let id = self.delegating_user(&mut c, actor, user).await?;
        Ok(store::delegations_of(&mut c, id, self.now()).await?.into_iter().map(delegation_view).collect())
    }

    async fn delegating_user(&self, c: &mut Conn<'_>, actor: &Actor, user: Option<&str>) -> AppResult<i64> {
        match user.map(str::trim).filter(|u| !u.is_empty()) {
            None => Ok(actor.id.0),
            Some(email) => {
                let u = users::find_by_email(c, &email.to_lowercase()).await?;
                match u {
                    Some(u) if u.id == actor.id.0 => Ok(u.id),
                    Some(_) | None if !actor.can_administer() => {
                        Err(AppError::Forbidden("you can delegate only your own approvals".into()))
                    }
                    Some(u) => Ok(u.id),
                    None => Err(invalid("user", format!("no person with the address {email:?}"))),
                }
            }
        }
    }

    /// Delegates approvals for a period: steps opened then ask the delegate instead.
    pub async fn add_delegation(&self, actor: &Actor, input: &DelegationInput) -> AppResult<Delegation> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let user = self.delegating_user(&mut c, actor, input.user.as_deref()).await?;
        let cal = crate::settings::sla::business_calendar(&mut c).await?;
        let mut errs = FieldErrors::new();
        let delegate = match users::find_by_email(&mut c, &input.delegate.trim().to_lowercase()).await? {
            Some(d) if d.active && d.id != user => Some(d.id),
            Some(d) if d.id == user => {
                errs.push("delegate", "someone else approves in your place");
                None
            }
            _ => {
                errs.push("delegate", format!("no active person with the address {:?}", input.delegate.trim()));
                None
            }
        };
        let starts =
            crate::kernel::error::collect(&mut errs, parse_instant("starts_at", &input.starts_at, cal.zone()))?;
        let ends = crate::kernel::error::collect(&mut errs, parse_instant("ends_at", &input.ends_at, cal.zone()))?;
        if let (Some(s), Some(e)) = (starts, ends) {
            if e <= s {
                errs.push("ends_at", "ends after it starts");
            } else if e <= now {
                errs.push("ends_at", "is in the past");
            } else if e - s > 366 * DAY_MS {
                errs.push("ends_at", "a delegation lasts at most a year");
            }
        }
        errs.into_result()?;
        let (Some(delegate), Some(s), Some(e)) = (delegate, starts, ends) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let id = store::insert_delegation(&mut c, (user, delegate), (s, e), actor.id.0, now).await?;
        let d = store::get_delegation(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(delegation_view(d))
    }

    pub async fn remove_delegation(&self, actor: &Actor, id: i64) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let d = found(store::get_delegation(&mut c, id).await, "delegation")?;
        if d.user_id != actor.id.0 && !actor.can_administer() {
            return Err(AppError::NotFound("delegation"));
        }
        store::delete_delegation(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// The `approval.check` job: reminds a step's undecided approvers and applies its timeout.
    pub async fn run_approval_check(&self, job: &orion_store::jobs::JobRow) -> crate::kernel::jobs::JobResult {
        let p: serde_json::Value = serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
        let (Some(ticket_id), Some(round)) = (p["ticket_id"].as_i64(), p["round"].as_i64()) else {
            return Err("approval.check without ticket_id and round".into());
        };
        self.check_step(ticket_id, round).await.map_err(|e| e.to_string())
    }

    async fn check_step(&self, ticket_id: i64, round: i64) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.db.begin_background().await?;
        let mut c = tx.conn();
        let config = self.config(&mut c).await?;
        let m = self.mailer(&config);
        let Some(req) = catalog_store::request_of(&mut c, ticket_id).await? else { return Ok(()) };
        let t = orion_store::tickets::get(&mut c, ticket_id).await?;
        let Some(mut step) = store::steps_of(&mut c, ticket_id).await?.into_iter().find(|s| s.round == round) else {
            return Ok(());
        };
        if req.approval.as_deref() != Some("pending")
            || req.approval_round != round
            || step.state != "pending"
            || matches!(t.state.as_str(), "resolved" | "closed")
        {
            return Ok(());
        }
        let package = read_package(&req.package)?;
        let def = step_def(&package, round).cloned().unwrap_or_default();
        let cal = crate::settings::sla::business_calendar(&mut c).await?;
        let undecided: Vec<ApprovalRow> = store::of_ticket(&mut c, ticket_id)
            .await?
            .into_iter()
            .filter(|a| a.round == round && a.decision.is_none())
            .collect();
        let mut remind = false;
        if step.remind_at.is_some_and(|at| at <= now) {
            step.remind_at = None;
            remind = true;
        }
        if step.due_at.is_some_and(|at| at <= now) {
            let hours = def.timeout_hours.unwrap_or(0);
            let note = format!("No decision within {hours} business hours");
            match step.on_timeout.as_str() {
                "approve" | "reject" => {
                    let (decision, result) = if step.on_timeout == "approve" {
                        ("approved", Tally::Approved)
                    } else {
                        ("rejected", Tally::Rejected)
                    };
                    for a in &undecided {
                        store::decide(&mut c, a.id, (decision, &note, "timeout"), now).await?;
                        store::spend_links(&mut c, a.id, now).await?;
                    }
                    let data = json!({"step": step.name, "round": round, "decision": decision, "via": "timeout",
                                      "comment": note});
                    let body = format!("{}: {} automatically. {note}.", step.name, decision);
                    let e = timeline::NewEntry {
                        ticket_id,
                        at: now,
                        actor_id: None,
                        kind: "approval_decided",
                        visibility: "public",
                        body: &body,
                        data: &data.to_string(),
                    };
                    timeline::append_event(&mut c, &e, None, TicketEvent::ApprovalDecided, Some(&t)).await?;
                    step.due_at = None;
                    conclude(&mut c, &m, (&t, &req), &mut step, result, &format!("{note}."), None, now).await?;
                    self.commit(tx).await?;
                    return Ok(());
                }
                "escalate" => {
                    let ask = AskMail::read(&mut c, &t, &req, &package).await?;
                    let mut asked = Vec::new();
                    let requested_for = req.requested_for_id;
                    for a in &undecided {
                        let Some(mgr) = users::get(&mut c, a.user_id).await?.manager_id else { continue };
                        let mgr = users::get(&mut c, mgr).await?;
                        if !mgr.active || mgr.id == requested_for {
                            continue;
                        }
                        if let Some(id) = store::ask(&mut c, ticket_id, round, mgr.id, Some(a.user_id)).await? {
                            let row = store::get(&mut c, id).await?;
                            send_ask(&mut c, &m, &ask, &row, (&step, false), now).await?;
                            asked.push(mgr.name);
                        }
                    }
                    let data = json!({"step": step.name, "round": round, "escalated_to": asked, "reason": note});
                    crate::tickets::record_entry(
                        &mut c,
                        ticket_id,
                        now,
                        None,
                        ("approval_escalated", TicketEvent::Noted),
                        &data,
                    )
                    .await?;
                    remind = true;
                }
                _ => remind = true,
            }
            step.due_at = after_hours(&cal, now, def.timeout_hours.filter(|h| *h > 0));
        }
        if remind {
            step.reminders += 1;
            let ask = AskMail::read(&mut c, &t, &req, &package).await?;
            for a in &undecided {
                send_ask(&mut c, &m, &ask, a, (&step, true), now).await?;
            }
        }
        store::update_step(&mut c, &step).await?;
        schedule_check(&mut c, &step, now).await?;
        self.commit(tx).await?;
        Ok(())
    }
}

/// Why a link no longer decides anything (`None`: it does).
fn link_closed(link: &orion_store::approvals::LinkRow, waiting: bool, now: i64) -> Option<String> {
    if link.used_at.is_some() {
        Some("This link was used: your decision is recorded.".into())
    } else if link.expires_at <= now {
        Some("This link has expired. Decide in Orion, or ask the service desk for a new link.".into())
    } else if !waiting {
        Some("This request no longer waits for your decision.".into())
    } else {
        None
    }
}

/// Checks a link before it reaches the store (`apv_` and 64 hex characters).
pub fn plausible_link(token: &str) -> AppResult<()> {
    let t = token.trim();
    if t.len() == 68 && t.starts_with("apv_") && t[4..].bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(AppError::NotFound("approval link"))
    }
}

/// A reply to an approval mail (in the mail intake's transaction): "approve" or "reject" on the
/// first line of the new text, the reason on the next ones. `None`: the mail answers no approval
/// mail; otherwise the outcome, as the mail log says it, and the ticket.
pub(crate) async fn reply(
    c: &mut Conn<'_>,
    m: &Mailer<'_>,
    mail: &orion_mail::Inbound,
    sender: &str,
    now: i64,
) -> AppResult<Option<(Result<String, String>, i64)>> {
    let Some(link) = store::link_by_messages(c, &mail.referenced_ids()).await? else { return Ok(None) };
    let a = store::get(c, link.approval_id).await?;
    let ticket_id = a.ticket_id;
    if !a.user_email.eq_ignore_ascii_case(sender.trim()) {
        return Ok(Some((Err(format!("an approval reply from {sender}, who was not asked: not recorded")), ticket_id)));
    }
    let (new_text, _) = orion_mail::quote::split(&mail.text);
    let mut lines = new_text.lines().map(str::trim).skip_while(|l| l.is_empty());
    let first = lines.next().unwrap_or("");
    let word = first.split(|ch: char| !ch.is_alphabetic()).find(|w| !w.is_empty()).unwrap_or("");
    let Some(decision) = parse_decision(word) else {
        return Ok(Some((
            Err("an approval reply without approve or reject on its first line: not recorded".into()),
            ticket_id,
        )));
    };
    let rest_of_first =
        first[first.find(word).map_or(0, |i| i + word.len())..].trim_start_matches([':', '-', ',', '.', ' ']);
    let mut reason: Vec<&str> = Vec::new();
    if !rest_of_first.trim().is_empty() {
        reason.push(rest_of_first.trim());
    }
    reason.extend(lines.take_while(|l| !l.starts_with("--")));
    let comment: String = reason.join("\n").trim().chars().take(crate::kernel::limits::TEXT_MAX).collect();
    if decision == "rejected" && comment.is_empty() {
        return Ok(Some((Err("a rejection by mail without a reason: not recorded".into()), ticket_id)));
    }
    let waiting = {
        let req = catalog_store::request_of(c, ticket_id).await?;
        req.is_some_and(|r| r.approval.as_deref() == Some("pending") && r.approval_round == a.round)
            && a.decision.is_none()
    };
    if !waiting || link.expires_at <= now {
        let why = if waiting { "the approval mail is too old" } else { "the request no longer waits for it" };
        return Ok(Some((Err(format!("an approval reply from {}: not recorded, {why}", a.user_email)), ticket_id)));
    }
    decide_in(c, m, &a, (decision, &comment, "mail"), now).await?;
    Ok(Some((Ok(format!("approval by mail: {decision} by {}", a.user_email)), ticket_id)))
}

/// One step of a chain as a dry run sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepPreview {
    pub name: String,
    /// How it is decided, in words
    pub rule: String,
    /// Whether its condition holds for these answers
    pub applies: bool,
    /// Who would be asked: e-mail addresses (`mia@example.com for bob@example.com` when a delegate stands in)
    pub approvers: Vec<String>,
    /// Why nobody could be asked (the request would be refused)
    pub problem: Option<String>,
}

/// The chain a request with these answers would run, without writing anything.
pub(super) async fn preview_chain(
    c: &mut Conn<'_>,
    config: &Config,
    package: &Package,
    values: &BTreeMap<String, Value>,
    (requested_for, answers): (&users::UserRow, &[AnswerRow]),
    now: i64,
) -> AppResult<Vec<StepPreview>> {
    let mut out = Vec::new();
    for step in &package.approvals {
        let applies = step.when.as_ref().is_none_or(|r| r.holds(values));
        let mut approvers = Vec::new();
        let mut problem = None;
        if applies {
            let (who, missing) = resolve(c, config, step, (requested_for, answers), now).await?;
            for (id, behalf) in who {
                let u = users::get(c, id).await?;
                approvers.push(match behalf {
                    Some(b) => format!("{} for {}", u.email, users::get(c, b).await?.email),
                    None => u.email,
                });
            }
            if approvers.is_empty() {
                problem = Some(missing.join("; "));
            }
        }
        out.push(StepPreview {
            name: step.name.trim().to_string(),
            rule: rule_label(step.rule(), step.quorum.map(i64::from)),
            applies,
            approvers,
            problem,
        });
    }
    Ok(out)
}
