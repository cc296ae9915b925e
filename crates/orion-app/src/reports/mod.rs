//! Leads' reports: the KPIs of a period under filters, compared with the period before, a
//! breakdown by tier, group, priority, category, kind, channel or agent, the backlog by age and
//! the workload per agent — and, behind every number, the exact list of tickets it counts.
//!
//! The resolved-ticket figures read `ticket_outcome`, one row per resolved ticket written in the
//! resolving transaction ([`react`]); the created and backlog figures read the tickets. A count and
//! its ticket list are computed from the same rows by the same predicate ([`Metric`]), so they
//! cannot disagree. docs/reports.md states each formula.

pub mod figures;
mod outcome;
pub mod schedules;

pub(crate) use outcome::react;

use crate::kernel::access::require_staff;
use crate::{App, AppError, AppResult};
use figures::{AGE_BANDS, Csat, Rate, Spread, label};
use orion_domain::{Actor, FieldErrors, Timestamp};
use orion_store::reports::{self as store, Measure, Scope};
use orion_store::worklog;
use orion_store::{Conn, categories, groups, users};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use utoipa::ToSchema;

/// The job that writes outcome rows for tickets resolved before reports existed.
pub const BACKFILL_JOB: &str = "reports.backfill";
/// The job that keeps each day's backlog, a few minutes after midnight UTC.
pub const SNAPSHOT_JOB: &str = "reports.snapshot";
/// The setting that records the backfill has nothing left to do.
const BACKFILL_DONE: &str = "reports_backfill_done";
/// The longest period a report covers.
const MAX_DAYS: i64 = 400;
/// A ticket is at risk when an SLA target of it falls due within this time.
const AT_RISK_MS: i64 = 3_600_000;
/// The most tickets one page of a ticket list holds.
pub const MAX_PAGE: usize = 500;

/// The period, the filters and (for ticket lists) the number to list. Every report takes the
/// same filters; a number's ticket list takes the filters the number was shown with.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `YYYY-MM-DD` (UTC) or RFC 3339; default: 30 days before `to`
    pub from: Option<String>,
    /// `YYYY-MM-DD` (UTC, exclusive) or RFC 3339; default: now
    pub to: Option<String>,
    /// `mine`: only the groups you are a member of; `all` (default): every group
    pub scope: Option<String>,
    /// One group, by name
    pub group: Option<String>,
    /// 1, 2 or 3: the tier of the group that has (or resolved) the ticket
    pub tier: Option<String>,
    /// `incident` or `service_request`
    pub kind: Option<String>,
    /// `P1` (critical) to `P5` (planning)
    pub priority: Option<String>,
    /// A category path (`Hardware/Laptop`), its sub-categories included; `none`: no category
    pub category: Option<String>,
    /// `phone`, `email`, `portal`, `api`, `monitoring` or `walk_in`
    pub channel: Option<String>,
    /// An agent's e-mail: tickets assigned to (or resolved by) them; `none`: unassigned
    pub agent: Option<String>,
    /// Breakdown: `tier`, `group`, `priority`, `category`, `kind`, `channel` or `agent`
    pub by: Option<String>,
    /// Ticket lists: the number to list (`created`, `resolved`, `backlog`, …; see docs/reports.md)
    pub metric: Option<String>,
    /// Ticket lists of the backlog: one age band (`under_1d`, `1d_3d`, `3d_7d`, `7d_30d`, `over_30d`),
    /// `overdue` (an SLA target breached or past due), `at_risk` (an SLA target due within the hour)
    /// or `pending`
    pub band: Option<String>,
    /// Ticket lists: the `next` of the previous page
    pub after: Option<String>,
    /// Ticket lists: tickets per page, 1–500 (default 50)
    pub limit: Option<String>,
}

/// The numbers of one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    /// Incidents and service requests logged in the period
    pub created: i64,
    /// Resolved in the period (the last resolution of a reopened ticket counts)
    pub resolved: i64,
    /// Time to first response (a public reply or call by staff), working time, of those resolved
    pub mtta: Spread,
    /// Time to resolution, working time while open, of those resolved
    pub mttr: Spread,
    /// Of those resolved that were logged with a tier-1 group: resolved at tier 1, never escalated
    /// nor reopened
    pub first_contact_resolution: Rate,
    /// Of those resolved that were logged with a tier-1 group: reached tier 2
    pub escalation_l1_to_l2: Rate,
    /// Of those resolved that reached tier 2: reached tier 3
    pub escalation_l2_to_l3: Rate,
    /// Of those resolved: reopened at least once
    pub reopen_rate: Rate,
    /// First-response targets met, of those measured
    pub sla_response: Rate,
    /// Resolution targets met, of those measured
    pub sla_resolution: Rate,
    /// Update-interval targets met, of those measured
    pub sla_update: Rate,
    /// Minutes of work logged in the period on tickets under the filters (with `agent`: by them)
    pub time_minutes: i64,
    /// Tickets with time logged in the period
    pub time_tickets: i64,
    /// Satisfaction surveys sent in the period and their answers
    pub csat: Csat,
}

/// Time logged in the period for one tier or category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimeSpent {
    /// The filter value that lists this row's tickets (`tier=…`, `category=…`; `none`: no category)
    pub key: String,
    pub label: String,
    pub minutes: i64,
    pub entries: i64,
    pub tickets: i64,
}

/// Open tickets of one age band.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Band {
    /// `under_1d`, `1d_3d`, `3d_7d`, `7d_30d` or `over_30d`
    pub band: String,
    pub label: String,
    pub tickets: i64,
}

/// The incidents and service requests open now (the period does not apply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Backlog {
    pub open: i64,
    /// Open with an SLA target breached (or past due)
    pub overdue: i64,
    /// Open with an SLA target due within the next hour (at risk)
    pub at_risk: i64,
    pub bands: Vec<Band>,
}

/// One agent's open tickets (the agent null: tickets nobody has picked up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Load {
    /// The agent's e-mail; null: unassigned
    pub agent: Option<String>,
    pub name: String,
    pub open: i64,
    pub pending: i64,
    pub overdue: i64,
}

/// Created and resolved on one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Day {
    /// `YYYY-MM-DD`
    pub date: String,
    pub created: i64,
    pub resolved: i64,
}

/// The service management figures of the period, for the whole service (the ticket filters do
/// not apply; restricted tickets count only for their group's members and admins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServiceFigures {
    /// Successful (or successful with issues), of the changes whose outcome was recorded
    pub change_success: Rate,
    /// Alerts first seen in the period
    pub alerts: i64,
    /// Incidents those alerts opened or joined
    pub incidents_from_alerts: i64,
    /// Alerts per incident, one decimal; null without incidents from alerts
    pub alerts_per_incident: Option<f64>,
    /// Problems logged in the period
    pub problems_opened: i64,
    /// Problems opened from the recurring-incident detector's proposals in the period
    pub problems_from_recurring_incidents: i64,
}

/// The backlog at the end of one day (UTC), as the nightly snapshot kept it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrendDay {
    /// `YYYY-MM-DD`
    pub date: String,
    pub open: i64,
    pub pending: i64,
    /// With an SLA target breached or past due
    pub overdue: i64,
    /// Open per age band, youngest first (`under_1d`, `1d_3d`, `3d_7d`, `7d_30d`, `over_30d`)
    pub bands: Vec<i64>,
}

/// The numbers of one value of the breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BreakdownRow {
    /// The filter value that lists this row's tickets (`group=…`, `tier=…`; `none` for the empty value)
    pub key: String,
    pub label: String,
    pub summary: Summary,
}

/// `GET /api/v1/reports/kpis`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Kpis {
    /// Period start (inclusive)
    pub from: String,
    /// Period end (exclusive)
    pub to: String,
    /// The period before, of the same length, for comparison
    pub previous_from: String,
    pub summary: Summary,
    pub previous: Summary,
    pub backlog: Backlog,
    /// The agents with open tickets, most open first; unassigned last
    pub workload: Vec<Load>,
    /// Every day of the period
    pub days: Vec<Day>,
    /// What was open at the end of each day of the period, as kept then (days before snapshots
    /// began are missing); null when a filter the snapshots do not keep is set (category,
    /// channel, agent)
    pub trend: Option<Vec<TrendDay>>,
    /// Time logged in the period per tier (where the ticket was when the time was logged)
    pub time_by_tier: Vec<TimeSpent>,
    /// Time logged in the period per category
    pub time_by_category: Vec<TimeSpent>,
    /// Changes, alerts and problems of the period (the whole service)
    pub service: ServiceFigures,
    /// `tier`, `group`, … as asked with `by`; null without
    pub by: Option<String>,
    pub breakdown: Vec<BreakdownRow>,
}

/// A ticket in a report's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReportTicket {
    pub number: String,
    pub title: String,
    pub kind: String,
    pub state: String,
    /// `P1` to `P5`
    pub priority: String,
    pub group: String,
    pub assignee: Option<String>,
    pub created_at: String,
    pub resolved_at: Option<String>,
    /// Working minutes to first response (resolved tickets)
    pub response_minutes: Option<i64>,
    /// Working minutes to resolution (resolved tickets)
    pub resolution_minutes: Option<i64>,
    /// The stars given (survey lists)
    pub survey_score: Option<i64>,
}

/// `GET /api/v1/reports/tickets`: the tickets one number counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReportTickets {
    pub metric: String,
    /// What the list is, in words
    pub title: String,
    /// How many tickets the number counts (every page together)
    pub total: i64,
    /// Newest first
    pub tickets: Vec<ReportTicket>,
    /// Pass as `after` for the next page; null on the last
    pub next: Option<String>,
}

/// A number a ticket list can be asked for: the predicate that picks its tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Created,
    Backlog,
    Resolved,
    Responded,
    LoggedAtL1,
    FirstContact,
    EscalatedL2,
    ReachedL2,
    ReachedL3,
    Reopened,
    ResponseMeasured,
    ResponseBreached,
    ResolutionMeasured,
    ResolutionBreached,
    UpdateMeasured,
    UpdateBreached,
    TimeLogged,
    Surveyed,
    SurveyAnswered,
    SurveyLow,
    ChangesReviewed,
    ChangesFailed,
    AlertIncidents,
    ProblemsOpened,
}

impl Metric {
    pub const ALL: [(Metric, &'static str, &'static str); 24] = [
        (Metric::Created, "created", "Tickets created"),
        (Metric::Backlog, "backlog", "Tickets open now"),
        (Metric::Resolved, "resolved", "Tickets resolved"),
        (Metric::Responded, "responded", "Resolved tickets with a first response"),
        (Metric::LoggedAtL1, "logged_at_l1", "Resolved tickets logged with a tier-1 group"),
        (Metric::FirstContact, "first_contact", "Resolved at first contact (tier 1, never escalated nor reopened)"),
        (Metric::EscalatedL2, "escalated_l2", "Logged at tier 1 and escalated to tier 2 or above"),
        (Metric::ReachedL2, "reached_l2", "Resolved tickets that reached tier 2"),
        (Metric::ReachedL3, "reached_l3", "Resolved tickets that reached tier 3"),
        (Metric::Reopened, "reopened", "Resolved tickets reopened at least once"),
        (Metric::ResponseMeasured, "response_measured", "Resolved tickets with a first-response target"),
        (Metric::ResponseBreached, "response_breached", "First-response targets breached"),
        (Metric::ResolutionMeasured, "resolution_measured", "Resolved tickets with a resolution target"),
        (Metric::ResolutionBreached, "resolution_breached", "Resolution targets breached"),
        (Metric::UpdateMeasured, "update_measured", "Resolved tickets with an update-interval target"),
        (Metric::UpdateBreached, "update_breached", "Update-interval targets breached"),
        (Metric::TimeLogged, "time_logged", "Tickets with time logged in the period"),
        (Metric::Surveyed, "surveyed", "Tickets whose satisfaction survey was sent in the period"),
        (Metric::SurveyAnswered, "survey_answered", "Satisfaction surveys answered"),
        (Metric::SurveyLow, "survey_low", "Satisfaction surveys answered with 1 or 2 stars"),
        (Metric::ChangesReviewed, "changes_reviewed", "Changes whose outcome was recorded"),
        (Metric::ChangesFailed, "changes_failed", "Changes that failed or were backed out"),
        (Metric::AlertIncidents, "alert_incidents", "Incidents opened or joined by monitoring alerts"),
        (Metric::ProblemsOpened, "problems_opened", "Problems logged"),
    ];

    /// The service management list this metric is, if it is one.
    fn service_list(self) -> Option<store::ServiceList> {
        match self {
            Metric::ChangesReviewed => Some(store::ServiceList::ChangesReviewed),
            Metric::ChangesFailed => Some(store::ServiceList::ChangesFailed),
            Metric::AlertIncidents => Some(store::ServiceList::AlertIncidents),
            Metric::ProblemsOpened => Some(store::ServiceList::ProblemsOpened),
            _ => None,
        }
    }

    /// The same rule as SQL over `survey` (the survey lists).
    fn survey_condition(self) -> &'static str {
        match self {
            Metric::SurveyAnswered => "answered_at IS NOT NULL",
            Metric::SurveyLow => "score <= 2",
            _ => "1 = 1",
        }
    }

    pub fn parse(s: &str) -> Option<Metric> {
        Self::ALL.iter().find(|(_, k, _)| *k == s).map(|(m, _, _)| *m)
    }

    pub fn key(self) -> &'static str {
        Self::ALL.iter().find(|(m, _, _)| *m == self).map(|(_, k, _)| *k).unwrap_or("resolved")
    }

    pub fn title(self) -> &'static str {
        Self::ALL.iter().find(|(m, _, _)| *m == self).map(|(_, _, t)| *t).unwrap_or("")
    }

    /// The same rule as [`Metric::counts`], as SQL over `ticket_outcome` (for the lists).
    fn condition(self) -> &'static str {
        match self {
            Metric::Created
            | Metric::Backlog
            | Metric::Resolved
            | Metric::TimeLogged
            | Metric::Surveyed
            | Metric::SurveyAnswered
            | Metric::SurveyLow
            | Metric::ChangesReviewed
            | Metric::ChangesFailed
            | Metric::AlertIncidents
            | Metric::ProblemsOpened => "1 = 1",
            Metric::Responded => "response_ms IS NOT NULL",
            Metric::LoggedAtL1 => "first_tier = 1",
            Metric::FirstContact => "first_tier = 1 AND max_tier = 1 AND reopen_count = 0",
            Metric::EscalatedL2 => "first_tier = 1 AND max_tier >= 2",
            Metric::ReachedL2 => "max_tier >= 2",
            Metric::ReachedL3 => "max_tier >= 3",
            Metric::Reopened => "reopen_count > 0",
            Metric::ResponseMeasured => "response_sla IN ('met', 'breached')",
            Metric::ResponseBreached => "response_sla = 'breached'",
            Metric::ResolutionMeasured => "resolution_sla IN ('met', 'breached')",
            Metric::ResolutionBreached => "resolution_sla = 'breached'",
            Metric::UpdateMeasured => "update_sla IN ('met', 'breached')",
            Metric::UpdateBreached => "update_sla = 'breached'",
        }
    }

    /// Whether a resolved ticket counts (metrics over resolved tickets only).
    fn counts(self, o: &Measure) -> bool {
        // SLA results: 1 met, 2 breached, 0 no such clock.
        match self {
            Metric::Created
            | Metric::Backlog
            | Metric::TimeLogged
            | Metric::Surveyed
            | Metric::SurveyAnswered
            | Metric::SurveyLow
            | Metric::ChangesReviewed
            | Metric::ChangesFailed
            | Metric::AlertIncidents
            | Metric::ProblemsOpened => false,
            Metric::Resolved => true,
            Metric::Responded => o.response_ms.is_some(),
            Metric::LoggedAtL1 => o.first_tier == 1,
            Metric::FirstContact => o.first_tier == 1 && o.max_tier == 1 && !o.reopened,
            Metric::EscalatedL2 => o.first_tier == 1 && o.max_tier >= 2,
            Metric::ReachedL2 => o.max_tier >= 2,
            Metric::ReachedL3 => o.max_tier >= 3,
            Metric::Reopened => o.reopened,
            Metric::ResponseMeasured => o.response_sla > 0,
            Metric::ResponseBreached => o.response_sla == 2,
            Metric::ResolutionMeasured => o.resolution_sla > 0,
            Metric::ResolutionBreached => o.resolution_sla == 2,
            Metric::UpdateMeasured => o.update_sla > 0,
            Metric::UpdateBreached => o.update_sla == 2,
        }
    }
}

/// Computes one period's numbers from its count of created tickets and its resolved outcomes.
pub fn summarize(created: i64, resolved: &[&Measure]) -> Summary {
    let n = |m: Metric| resolved.iter().filter(|o| m.counts(o)).count() as i64;
    let met = |measured: Metric, breached: Metric| Rate::new(n(measured) - n(breached), n(measured));
    Summary {
        created,
        resolved: resolved.len() as i64,
        mtta: Spread::of(resolved.iter().filter_map(|o| o.response_ms).collect()),
        mttr: Spread::of(resolved.iter().map(|o| o.resolution_ms).collect()),
        first_contact_resolution: Rate::new(n(Metric::FirstContact), n(Metric::LoggedAtL1)),
        escalation_l1_to_l2: Rate::new(n(Metric::EscalatedL2), n(Metric::LoggedAtL1)),
        escalation_l2_to_l3: Rate::new(n(Metric::ReachedL3), n(Metric::ReachedL2)),
        reopen_rate: Rate::new(n(Metric::Reopened), resolved.len() as i64),
        sla_response: met(Metric::ResponseMeasured, Metric::ResponseBreached),
        sla_resolution: met(Metric::ResolutionMeasured, Metric::ResolutionBreached),
        sla_update: met(Metric::UpdateMeasured, Metric::UpdateBreached),
        time_minutes: 0,
        time_tickets: 0,
        csat: Csat::new(0, 0, 0, 0, 0),
    }
}

/// What a breakdown groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    Tier,
    Group,
    Priority,
    Category,
    Kind,
    Channel,
    Agent,
}

impl By {
    const ALL: [(By, &'static str); 7] = [
        (By::Tier, "tier"),
        (By::Group, "group"),
        (By::Priority, "priority"),
        (By::Category, "category"),
        (By::Kind, "kind"),
        (By::Channel, "channel"),
        (By::Agent, "agent"),
    ];

    fn parse(s: &str) -> Option<By> {
        Self::ALL.iter().find(|(_, k)| *k == s).map(|(b, _)| *b)
    }

    fn key(self) -> &'static str {
        Self::ALL.iter().find(|(b, _)| *b == self).map(|(_, k)| *k).unwrap_or("group")
    }

    /// The `ticket_outcome` column resolved tickets are grouped by.
    fn outcome_column(self) -> &'static str {
        match self {
            By::Tier | By::Group => "group_id",
            other => other.column(),
        }
    }

    /// The `time_entry` column (as [`worklog::spent`] names it) logged time is grouped by.
    fn time_column(self) -> &'static str {
        match self {
            By::Tier => "tier",
            By::Group => "group_id",
            other => other.column(),
        }
    }

    /// The ticket column created tickets are grouped by.
    fn column(self) -> &'static str {
        match self {
            By::Tier | By::Group => "assignment_group_id",
            By::Priority => "priority",
            By::Category => "category_id",
            By::Kind => "kind",
            By::Channel => "channel",
            By::Agent => "assignee_id",
        }
    }
}

/// Names of the things rows refer to by id.
struct Names {
    groups: HashMap<i64, (String, i64)>,
    categories: HashMap<i64, String>,
    agents: HashMap<i64, (String, String)>,
}

/// The query read: its period, its filters for the SQL, the breakdown and the names to show.
struct Filter {
    from: i64,
    to: i64,
    scope: Scope,
    by: Option<By>,
    names: Names,
}

impl Filter {
    fn tier_of(&self, group_id: i64) -> i64 {
        self.names.groups.get(&group_id).map(|g| g.1).unwrap_or(1)
    }

    /// A breakdown row's key and label for logged time, grouped by [`By::time_column`] (the tier
    /// is the entry's own, not its group's now).
    fn time_key_of(&self, by: By, value: Option<&str>) -> (String, String) {
        match (by, value.and_then(|v| v.parse::<i64>().ok())) {
            (By::Tier, Some(t)) => (t.to_string(), format!("Tier {t}")),
            _ => self.key_of(by, value),
        }
    }

    /// A breakdown row's key (the filter value that lists its tickets) and label, from the value
    /// of the grouped column: a group, priority, category or agent id, a kind or a channel.
    fn key_of(&self, by: By, value: Option<&str>) -> (String, String) {
        let id = value.and_then(|v| v.parse::<i64>().ok());
        match by {
            By::Tier => {
                let t = id.map(|g| self.tier_of(g)).unwrap_or(1);
                (t.to_string(), format!("Tier {t}"))
            }
            By::Group => {
                let name = id.and_then(|g| self.names.groups.get(&g)).map(|g| g.0.clone()).unwrap_or_default();
                (name.clone(), name)
            }
            By::Priority => {
                let p = id.unwrap_or(0);
                (format!("P{p}"), format!("P{p}"))
            }
            By::Category => match id.and_then(|c| self.names.categories.get(&c)) {
                Some(path) => (path.clone(), path.clone()),
                None => ("none".into(), "No category".into()),
            },
            By::Kind | By::Channel => {
                let v = value.unwrap_or_default();
                (v.to_string(), label(v))
            }
            By::Agent => match id.and_then(|a| self.names.agents.get(&a)) {
                Some((email, name)) => (email.clone(), name.clone()),
                None => ("none".into(), "Unassigned".into()),
            },
        }
    }
}

/// A query field as given: `None` when left out or empty (as a form sends an unused field).
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn parse_number(
    errs: &mut FieldErrors,
    field: &str,
    v: Option<&str>,
    range: std::ops::RangeInclusive<i64>,
) -> Option<i64> {
    let v = v?;
    match v.trim().parse::<i64>() {
        Ok(n) if range.contains(&n) => Some(n),
        _ => {
            errs.push(field, format!("must be a whole number from {} to {}", range.start(), range.end()));
            None
        }
    }
}

fn one_of(errs: &mut FieldErrors, field: &str, v: Option<&str>, allowed: &[&str]) -> Option<String> {
    let v = v?.trim();
    if allowed.contains(&v) {
        Some(v.to_string())
    } else {
        errs.push(field, format!("must be one of {}", allowed.join(", ")));
        None
    }
}

/// Reads the query's filters (mistakes by field name).
async fn filter(c: &mut Conn<'_>, actor: &Actor, q: &ReportQuery, now: i64) -> AppResult<Filter> {
    let mut errs = FieldErrors::new();
    let blank = |v: &Option<String>| given(v).map(str::to_string);
    let period = crate::kernel::period::parse(blank(&q.from).as_deref(), blank(&q.to).as_deref(), now, &mut errs);
    if let Some((from, to)) = period
        && to - from > MAX_DAYS * 86_400_000
    {
        errs.push("from", format!("a report covers at most {MAX_DAYS} days"));
    }
    let all_groups = groups::list(c).await?;
    let names = Names {
        groups: all_groups.iter().map(|g| (g.id, (g.name.clone(), g.tier))).collect(),
        categories: categories::list(c).await?.into_iter().map(|k| (k.id, k.path)).collect(),
        agents: HashMap::new(),
    };
    let my_groups: Vec<i64> = groups::group_ids_of(c, actor.id.0).await?;
    // Each group filter narrows the set the others left.
    let mut group_set: Option<HashSet<i64>> = None;
    let mut narrow = |only: HashSet<i64>| {
        group_set = Some(match group_set.take() {
            Some(before) => before.intersection(&only).copied().collect(),
            None => only,
        });
    };
    match blank(&q.scope).as_deref() {
        None | Some("all") => {}
        Some("mine") => narrow(my_groups.iter().copied().collect()),
        Some(_) => errs.push("scope", "must be mine or all"),
    }
    if let Some(name) = blank(&q.group) {
        match all_groups.iter().find(|g| g.name.eq_ignore_ascii_case(&name)) {
            Some(g) => narrow([g.id].into()),
            None => errs.push("group", format!("no group named {name:?}")),
        }
    }
    if let Some(tier) = parse_number(&mut errs, "tier", blank(&q.tier).as_deref(), 1..=3) {
        narrow(all_groups.iter().filter(|g| g.tier == tier).map(|g| g.id).collect());
    }
    let priority = match blank(&q.priority) {
        Some(p) => {
            let n = p.strip_prefix(['P', 'p']).unwrap_or(&p).parse::<i64>().ok().filter(|n| (1..=5).contains(n));
            if n.is_none() {
                errs.push("priority", "must be P1 to P5");
            }
            n
        }
        None => None,
    };
    let kind = one_of(&mut errs, "kind", blank(&q.kind).as_deref(), &["incident", "service_request"]);
    let channels: Vec<&str> = orion_domain::Channel::ALL.iter().map(|c| c.as_str()).collect();
    let channel = one_of(&mut errs, "channel", blank(&q.channel).as_deref(), &channels);
    let category_ids = match blank(&q.category) {
        None => None,
        Some(v) if v.eq_ignore_ascii_case("none") => Some(None),
        Some(path) => {
            let norm = |p: &str| {
                p.split('/').map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>().join("/").to_lowercase()
            };
            let wanted = norm(&path);
            let ids: Vec<i64> = names
                .categories
                .iter()
                .filter(|(_, p)| {
                    let p = norm(p);
                    p == wanted || p.starts_with(&format!("{wanted}/"))
                })
                .map(|(id, _)| *id)
                .collect();
            if ids.is_empty() {
                errs.push("category", format!("no category {path:?}"));
            }
            Some(Some(ids))
        }
    };
    let agent = match blank(&q.agent) {
        None => None,
        Some(v) if v.eq_ignore_ascii_case("none") => Some(None),
        Some(email) => match users::find_by_email(c, &email).await? {
            Some(u) => Some(Some(u.id)),
            None => {
                errs.push("agent", format!("no one has the e-mail {email:?}"));
                None
            }
        },
    };
    let by = match blank(&q.by) {
        None => None,
        Some(v) => {
            let b = By::parse(&v);
            if b.is_none() {
                let keys: Vec<&str> = By::ALL.iter().map(|(_, k)| *k).collect();
                errs.push("by", format!("must be one of {}", keys.join(", ")));
            }
            b
        }
    };
    errs.into_result()?;
    let Some((from, to)) = period else {
        return Err(AppError::Internal("validated input incomplete".into()));
    };
    let mut group_ids: Option<Vec<i64>> = group_set.map(|g| g.into_iter().collect());
    if let Some(ids) = &mut group_ids {
        ids.sort_unstable();
    }
    let scope = Scope {
        group_ids,
        kind,
        priority,
        category_ids,
        channel,
        agent,
        reader_groups: (!actor.can_administer()).then_some(my_groups),
    };
    Ok(Filter { from, to, scope, by, names })
}

/// Fills in the names of the agents the rows refer to.
async fn name_agents(c: &mut Conn<'_>, f: &mut Filter, ids: impl Iterator<Item = i64>) -> AppResult<()> {
    for id in ids {
        if let std::collections::hash_map::Entry::Vacant(e) = f.names.agents.entry(id) {
            let u = users::get(c, id).await?;
            e.insert((u.email, u.name));
        }
    }
    Ok(())
}

/// The survey figures of result rows added up.
fn csat_of(rows: &[orion_store::surveys::Results]) -> Csat {
    let sum = |f: fn(&orion_store::surveys::Results) -> i64| rows.iter().map(f).sum::<i64>();
    Csat::new(sum(|r| r.sent), sum(|r| r.answered), sum(|r| r.stars), sum(|r| r.satisfied), sum(|r| r.low))
}

/// A UTC day (days since the epoch) as `YYYY-MM-DD`.
fn date_of_day(day: i64) -> String {
    Timestamp(day * 86_400_000).to_rfc3339()[..10].to_string()
}

impl App {
    /// The KPIs of a period under filters (support staff; tickets restricted to a group the reader
    /// is not in are not counted, except for admins).
    pub async fn report_kpis(&self, actor: &Actor, q: &ReportQuery) -> AppResult<Kpis> {
        require_staff(actor, "read reports")?;
        let now = self.now();
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let mut f = filter(&mut c, actor, q, now).await?;
        let prev_from = f.from - (f.to - f.from);
        let column = f.by.map(By::column);
        let created = store::created(&mut c, &f.scope, f.from, f.to, column).await?;
        let created_before: i64 =
            store::created(&mut c, &f.scope, prev_from, f.from, None).await?.iter().map(|r| r.n).sum();
        let outcomes =
            store::measures(&mut c, &f.scope, (prev_from, f.from, f.to), f.by.map(By::outcome_column)).await?;
        let spent = worklog::spent(&mut c, &f.scope, f.from, f.to, f.by.map(By::time_column)).await?;
        let spent_before = worklog::spent(&mut c, &f.scope, prev_from, f.from, None).await?;
        // Per value of a breakdown a ticket can count more than once (two agents, two tiers).
        let spent_all = match f.by {
            Some(_) => Some(worklog::spent(&mut c, &f.scope, f.from, f.to, None).await?),
            None => None,
        };
        let spent_tier = worklog::spent(&mut c, &f.scope, f.from, f.to, Some("tier")).await?;
        let spent_category = worklog::spent(&mut c, &f.scope, f.from, f.to, Some("category_id")).await?;
        let surveys =
            orion_store::surveys::results(&mut c, &f.scope, (f.from, f.to), 2, f.by.map(By::time_column)).await?;
        let surveys_before = orion_store::surveys::results(&mut c, &f.scope, (prev_from, f.from), 2, None).await?;
        let service = store::service(&mut c, (f.from, f.to), f.scope.reader_groups.as_deref()).await?;
        let open = store::backlog(&mut c, &f.scope, now).await?;
        let kept = f.scope.category_ids.is_none() && f.scope.channel.is_none() && f.scope.agent.is_none();
        let trend_days = (f.from.div_euclid(86_400_000), (f.to - 1).div_euclid(86_400_000) + 1);
        let kept_rows = if kept {
            Some((store::kept_days(&mut c, trend_days).await?, store::trend(&mut c, &f.scope, trend_days).await?))
        } else {
            None
        };
        let at_risk = store::due_within(&mut c, &f.scope, (now, now + AT_RISK_MS)).await?;
        let mut agents: HashSet<i64> = open.iter().filter_map(|o| o.assignee_id).collect();
        if f.by == Some(By::Agent) {
            agents.extend(outcomes.iter().filter_map(|o| o.key.as_deref()?.parse::<i64>().ok()));
            agents.extend(created.iter().filter_map(|c| c.key.as_deref()?.parse::<i64>().ok()));
            agents.extend(spent.iter().filter_map(|c| c.key.as_deref()?.parse::<i64>().ok()));
            agents.extend(surveys.iter().filter_map(|c| c.key.as_deref()?.parse::<i64>().ok()));
        }
        name_agents(&mut c, &mut f, agents.into_iter()).await?;
        drop(r);

        // Every day of the period (whole UTC days; the first and last may be partly outside it).
        let (first_day, last_day) = (f.from.div_euclid(86_400_000), (f.to - 1).div_euclid(86_400_000));
        let mut days: BTreeMap<i64, (i64, i64)> = (first_day..=last_day).map(|d| (d, (0, 0))).collect();
        for row in &created {
            days.entry(row.day).or_default().0 += row.n;
        }
        let created_now: i64 = created.iter().map(|r| r.n).sum();
        let (now_resolved, prev_resolved): (Vec<&Measure>, Vec<&Measure>) = outcomes.iter().partition(|o| o.current);
        for o in &now_resolved {
            days.entry(o.day).or_default().1 += 1;
        }

        let bands = AGE_BANDS
            .iter()
            .enumerate()
            .map(|(i, (key, text))| Band {
                band: key.to_string(),
                label: text.to_string(),
                tickets: open.iter().filter(|o| o.band == i as i64).map(|o| o.n).sum(),
            })
            .collect();
        let backlog = Backlog {
            open: open.iter().map(|o| o.n).sum(),
            overdue: open.iter().filter(|o| o.overdue == 1).map(|o| o.n).sum(),
            at_risk,
            bands,
        };
        let mut loads: BTreeMap<Option<i64>, Load> = BTreeMap::new();
        for o in &open {
            let entry = loads.entry(o.assignee_id).or_insert_with(|| {
                let (agent, name) = match o.assignee_id.and_then(|id| f.names.agents.get(&id)) {
                    Some((email, name)) => (Some(email.clone()), name.clone()),
                    None => (None, "Unassigned".to_string()),
                };
                Load { agent, name, open: 0, pending: 0, overdue: 0 }
            });
            entry.open += o.n;
            entry.pending += o.n * o.pending;
            entry.overdue += o.n * o.overdue;
        }
        let mut workload: Vec<Load> = loads.into_values().collect();
        workload.sort_by(|a, b| (a.agent.is_none(), -a.open, &a.name).cmp(&(b.agent.is_none(), -b.open, &b.name)));

        let breakdown = match f.by {
            None => Vec::new(),
            Some(by) => {
                type Row<'a> = (String, i64, Vec<&'a Measure>, (i64, i64), Csat);
                let none = Csat::new(0, 0, 0, 0, 0);
                let mut rows: BTreeMap<String, Row> = BTreeMap::new();
                for row in &created {
                    let (k, text) = f.key_of(by, row.key.as_deref());
                    rows.entry(k).or_insert_with(|| (text, 0, Vec::new(), (0, 0), none)).1 += row.n;
                }
                for o in &now_resolved {
                    let (k, text) = f.key_of(by, o.key.as_deref());
                    rows.entry(k).or_insert_with(|| (text, 0, Vec::new(), (0, 0), none)).2.push(o);
                }
                for s in &spent {
                    let (k, text) = f.time_key_of(by, s.key.as_deref());
                    let t = &mut rows.entry(k).or_insert_with(|| (text, 0, Vec::new(), (0, 0), none)).3;
                    t.0 += s.minutes;
                    t.1 += s.tickets;
                }
                for r in &surveys {
                    let (k, text) = f.time_key_of(by, r.key.as_deref());
                    rows.entry(k).or_insert_with(|| (text, 0, Vec::new(), (0, 0), none)).4 =
                        csat_of(std::slice::from_ref(r));
                }
                rows.into_iter()
                    .map(|(key, (label, cr, re, (minutes, tickets), csat))| {
                        let mut summary = summarize(cr, &re);
                        summary.time_minutes = minutes;
                        summary.time_tickets = tickets;
                        summary.csat = csat;
                        BreakdownRow { key, label, summary }
                    })
                    .collect()
            }
        };
        let mut summary = summarize(created_now, &now_resolved);
        summary.time_minutes = spent.iter().map(|s| s.minutes).sum();
        summary.time_tickets = spent_all.as_ref().unwrap_or(&spent).iter().map(|s| s.tickets).sum();
        summary.csat = csat_of(&surveys);
        let mut previous = summarize(created_before, &prev_resolved);
        previous.csat = csat_of(&surveys_before);
        previous.time_minutes = spent_before.iter().map(|s| s.minutes).sum();
        previous.time_tickets = spent_before.iter().map(|s| s.tickets).sum();
        let time_rows = |rows: &[worklog::Spent], by: By| -> Vec<TimeSpent> {
            rows.iter()
                .map(|s| {
                    let (key, label) = f.time_key_of(by, s.key.as_deref());
                    TimeSpent { key, label, minutes: s.minutes, entries: s.entries, tickets: s.tickets }
                })
                .collect()
        };
        let mut time_by_tier = time_rows(&spent_tier, By::Tier);
        time_by_tier.sort_by(|a, b| a.key.cmp(&b.key));
        let mut time_by_category = time_rows(&spent_category, By::Category);
        time_by_category.sort_by(|a, b| (b.minutes, &a.label).cmp(&(a.minutes, &b.label)));
        Ok(Kpis {
            from: Timestamp(f.from).to_rfc3339(),
            to: Timestamp(f.to).to_rfc3339(),
            previous_from: Timestamp(prev_from).to_rfc3339(),
            summary,
            previous,
            time_by_tier,
            time_by_category,
            backlog,
            workload,
            days: days
                .into_iter()
                .map(|(d, (created, resolved))| Day { date: date_of_day(d), created, resolved })
                .collect(),
            trend: kept_rows.map(|(kept_days, rows)| {
                let mut per_day: BTreeMap<i64, TrendDay> = kept_days
                    .into_iter()
                    .map(|day| {
                        let empty = TrendDay {
                            date: date_of_day(day),
                            open: 0,
                            pending: 0,
                            overdue: 0,
                            bands: vec![0; AGE_BANDS.len()],
                        };
                        (day, empty)
                    })
                    .collect();
                for r in rows {
                    let Some(d) = per_day.get_mut(&r.day) else { continue };
                    d.open += r.open;
                    d.pending += r.pending;
                    d.overdue += r.overdue;
                    if let Some(b) = d.bands.get_mut(r.band as usize) {
                        *b += r.open;
                    }
                }
                per_day.into_values().collect()
            }),
            service: ServiceFigures {
                change_success: Rate::new(service.changes_successful, service.changes_reviewed),
                alerts: service.alerts,
                incidents_from_alerts: service.alert_incidents,
                alerts_per_incident: (service.alert_incidents > 0)
                    .then(|| (service.alerts as f64 * 10.0 / service.alert_incidents as f64).round() / 10.0),
                problems_opened: service.problems_opened,
                problems_from_recurring_incidents: service.problems_detected,
            },
            by: f.by.map(|b| b.key().to_string()),
            breakdown,
        })
    }

    /// The tickets one number counts, newest first, a page at a time (`after`, `limit`).
    pub async fn report_tickets(&self, actor: &Actor, q: &ReportQuery) -> AppResult<ReportTickets> {
        require_staff(actor, "read reports")?;
        let now = self.now();
        let mut errs = FieldErrors::new();
        let metric = match q.metric.as_deref().map(str::trim) {
            None | Some("") => {
                errs.push("metric", "is required");
                None
            }
            Some(m) => {
                let parsed = Metric::parse(m);
                if parsed.is_none() {
                    let keys: Vec<&str> = Metric::ALL.iter().map(|(_, k, _)| *k).collect();
                    errs.push("metric", format!("must be one of {}", keys.join(", ")));
                }
                parsed
            }
        };
        let limit = parse_number(&mut errs, "limit", given(&q.limit), 1..=MAX_PAGE as i64).unwrap_or(50);
        // The cursor: a ticket id, or for resolved tickets `resolution time.ticket id`.
        let after = given(&q.after);
        let cursor = match after {
            None => None,
            Some(a) => {
                let mut parts = a.splitn(2, '.').map(|p| p.parse::<i64>().ok().filter(|n| *n > 0));
                match (parts.next().flatten(), parts.next()) {
                    (Some(id), None) => Some((None, id)),
                    (Some(at), Some(Some(id))) => Some((Some(at), id)),
                    _ => {
                        errs.push("after", "must be the next of the previous page");
                        None
                    }
                }
            }
        };
        let band = given(&q.band);
        if let Some(b) = band
            && b != "overdue"
            && b != "pending"
            && b != "at_risk"
            && !AGE_BANDS.iter().any(|(k, _)| *k == b)
        {
            let mut keys: Vec<&str> = AGE_BANDS.iter().map(|(k, _)| *k).collect();
            keys.extend(["overdue", "at_risk", "pending"]);
            errs.push("band", format!("must be one of {}", keys.join(", ")));
        }
        errs.into_result()?;
        let Some(metric) = metric else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let f = filter(&mut c, actor, q, now).await?;
        // One more than a page tells whether another follows.
        let mut scores: HashMap<i64, Option<i64>> = HashMap::new();
        let (total, ids, measured, next) = match metric {
            Metric::Created | Metric::Backlog => {
                let which = match metric {
                    Metric::Created => store::Logged::Created(f.from, f.to),
                    _ => {
                        let created = band.and_then(|b| AGE_BANDS.iter().position(|(k, _)| *k == b)).map(|i| {
                            let younger = store::BAND_HOURS.get(i).map(|h| now - h * 3_600_000).unwrap_or(i64::MIN);
                            let older = if i == 0 { i64::MAX } else { now - store::BAND_HOURS[i - 1] * 3_600_000 };
                            (younger, older)
                        });
                        store::Logged::Open {
                            created,
                            pending: band == Some("pending"),
                            overdue_at: (band == Some("overdue")).then_some(now),
                            due_within: (band == Some("at_risk")).then_some((now, now + AT_RISK_MS)),
                        }
                    }
                };
                let (total, mut ids) =
                    store::logged_page(&mut c, &f.scope, which, cursor.map(|c| c.1), limit + 1).await?;
                let next = (ids.len() as i64 > limit).then(|| ids[limit as usize - 1].to_string());
                ids.truncate(limit as usize);
                (total, ids, HashMap::<i64, store::Outcome>::new(), next)
            }
            Metric::Surveyed | Metric::SurveyAnswered | Metric::SurveyLow => {
                let keyset = cursor.map(|(at, id)| (at.unwrap_or(i64::MAX), id));
                let (total, mut rows) = orion_store::surveys::page(
                    &mut c,
                    &f.scope,
                    (f.from, f.to),
                    metric.survey_condition(),
                    keyset,
                    limit + 1,
                )
                .await?;
                let next = (rows.len() as i64 > limit).then(|| {
                    let last = &rows[limit as usize - 1];
                    format!("{}.{}", last.sent_at, last.id)
                });
                rows.truncate(limit as usize);
                for r in &rows {
                    scores.insert(r.ticket_id, r.score);
                }
                (total, rows.iter().map(|r| r.ticket_id).collect(), HashMap::<i64, store::Outcome>::new(), next)
            }
            m if m.service_list().is_some() => {
                let which = m.service_list().unwrap_or(store::ServiceList::ProblemsOpened);
                let reader = f.scope.reader_groups.as_deref();
                let (total, mut ids) =
                    store::service_page(&mut c, which, (f.from, f.to), reader, cursor.map(|c| c.1), limit + 1).await?;
                let next = (ids.len() as i64 > limit).then(|| ids[limit as usize - 1].to_string());
                ids.truncate(limit as usize);
                (total, ids, HashMap::<i64, store::Outcome>::new(), next)
            }
            Metric::TimeLogged => {
                let (total, mut ids) =
                    worklog::ticket_page(&mut c, &f.scope, (f.from, f.to), cursor.map(|c| c.1), limit + 1).await?;
                let next = (ids.len() as i64 > limit).then(|| ids[limit as usize - 1].to_string());
                ids.truncate(limit as usize);
                (total, ids, HashMap::<i64, store::Outcome>::new(), next)
            }
            m => {
                let keyset = cursor.map(|(at, id)| (at.unwrap_or(i64::MAX), id));
                let (total, mut rows) =
                    store::outcome_page(&mut c, &f.scope, (f.from, f.to), m.condition(), keyset, limit + 1).await?;
                let next = (rows.len() as i64 > limit).then(|| {
                    let last = &rows[limit as usize - 1];
                    format!("{}.{}", last.resolved_at, last.ticket_id)
                });
                rows.truncate(limit as usize);
                let ids = rows.iter().map(|o| o.ticket_id).collect::<Vec<_>>();
                (total, ids, rows.into_iter().map(|o| (o.ticket_id, o)).collect(), next)
            }
        };
        let views = orion_store::tickets::get_many(&mut c, &ids).await?;
        let by_id: HashMap<i64, orion_store::tickets::TicketView> = views.into_iter().map(|t| (t.id, t)).collect();
        let tickets = ids
            .iter()
            .filter_map(|id| {
                let t = by_id.get(id)?;
                let m = measured.get(id);
                Some(ReportTicket {
                    number: t.number.clone(),
                    title: t.title.clone(),
                    kind: t.kind.clone(),
                    state: t.state.clone(),
                    priority: format!("P{}", t.priority),
                    group: t.assignment_group_name.clone(),
                    assignee: t.assignee_name.clone(),
                    created_at: Timestamp(t.created_at).to_rfc3339(),
                    resolved_at: m.map(|m| Timestamp(m.resolved_at).to_rfc3339()),
                    response_minutes: m.and_then(|m| m.response_ms.map(figures::minutes)),
                    resolution_minutes: m.map(|m| figures::minutes(m.resolution_ms)),
                    survey_score: scores.get(id).copied().flatten(),
                })
            })
            .collect();
        Ok(ReportTickets { metric: metric.key().into(), title: metric.title().into(), total, tickets, next })
    }

    /// One report table as CSV (`Tickets`: every ticket the query's `metric` counts).
    pub async fn report_csv(&self, actor: &Actor, table: ReportTable, q: &ReportQuery) -> AppResult<String> {
        let io = |e: csv::Error| AppError::Internal(format!("writing CSV: {e}"));
        let mut w = csv::Writer::from_writer(Vec::new());
        let cell = |s: &str| orion_domain::asset::spreadsheet_safe(s).into_owned();
        let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        let pct = |r: &Rate| r.percent.map(|p| format!("{p:.1}")).unwrap_or_default();
        match table {
            ReportTable::Tickets => {
                let mut q = q.clone();
                q.limit = Some(MAX_PAGE.to_string());
                w.write_record([
                    "number",
                    "title",
                    "kind",
                    "state",
                    "priority",
                    "group",
                    "assignee",
                    "created_at",
                    "resolved_at",
                    "response_minutes",
                    "resolution_minutes",
                    "survey_score",
                ])
                .map_err(io)?;
                loop {
                    let page = self.report_tickets(actor, &q).await?;
                    for t in &page.tickets {
                        w.write_record([
                            cell(&t.number),
                            cell(&t.title),
                            t.kind.clone(),
                            t.state.clone(),
                            t.priority.clone(),
                            cell(&t.group),
                            cell(t.assignee.as_deref().unwrap_or("")),
                            t.created_at.clone(),
                            t.resolved_at.clone().unwrap_or_default(),
                            opt(t.response_minutes),
                            opt(t.resolution_minutes),
                            opt(t.survey_score),
                        ])
                        .map_err(io)?;
                    }
                    match page.next {
                        Some(n) => q.after = Some(n),
                        None => break,
                    }
                }
            }
            ReportTable::Time => {
                require_staff(actor, "read reports")?;
                w.write_record([
                    "logged_at",
                    "ticket",
                    "agent",
                    "email",
                    "group",
                    "tier",
                    "category",
                    "work",
                    "minutes",
                    "note",
                ])
                .map_err(io)?;
                let mut r = self.db.read().await?;
                let mut c = r.conn();
                let f = filter(&mut c, actor, q, self.now()).await?;
                let mut after = 0;
                loop {
                    let rows = worklog::entries_page(&mut c, &f.scope, (f.from, f.to), after, MAX_PAGE as i64).await?;
                    let Some(last) = rows.last() else { break };
                    after = last.id;
                    for e in &rows {
                        w.write_record([
                            Timestamp(e.logged_at).to_rfc3339(),
                            cell(&e.ticket_number),
                            cell(&e.user_name),
                            cell(&e.user_email),
                            cell(&e.group_name),
                            e.tier.to_string(),
                            cell(e.category_path.as_deref().unwrap_or("")),
                            e.work.clone(),
                            e.minutes.to_string(),
                            cell(&e.note),
                        ])
                        .map_err(io)?;
                    }
                }
            }
            table => {
                let k = self.report_kpis(actor, q).await?;
                match table {
                    ReportTable::Summary => {
                        w.write_record(["measure", "this_period", "previous_period"]).map_err(io)?;
                        for row in summary_rows(&k.summary).into_iter().zip(summary_rows(&k.previous)) {
                            w.write_record([row.0.label.to_string(), row.0.value, row.1.value]).map_err(io)?;
                        }
                    }
                    ReportTable::Days => {
                        w.write_record(["date", "created", "resolved"]).map_err(io)?;
                        for d in &k.days {
                            w.write_record([d.date.clone(), d.created.to_string(), d.resolved.to_string()])
                                .map_err(io)?;
                        }
                    }
                    ReportTable::Backlog => {
                        w.write_record(["age", "open_tickets"]).map_err(io)?;
                        for b in &k.backlog.bands {
                            w.write_record([b.label.clone(), b.tickets.to_string()]).map_err(io)?;
                        }
                        w.write_record(["Overdue".to_string(), k.backlog.overdue.to_string()]).map_err(io)?;
                        w.write_record(["Due within the hour".to_string(), k.backlog.at_risk.to_string()])
                            .map_err(io)?;
                        w.write_record(["Total open".to_string(), k.backlog.open.to_string()]).map_err(io)?;
                    }
                    ReportTable::Workload => {
                        w.write_record(["agent", "email", "open", "pending", "overdue"]).map_err(io)?;
                        for l in &k.workload {
                            w.write_record([
                                cell(&l.name),
                                cell(l.agent.as_deref().unwrap_or("")),
                                l.open.to_string(),
                                l.pending.to_string(),
                                l.overdue.to_string(),
                            ])
                            .map_err(io)?;
                        }
                    }
                    ReportTable::Trend => {
                        let mut head = vec!["date", "open", "pending", "overdue"];
                        head.extend(AGE_BANDS.iter().map(|(k, _)| *k));
                        w.write_record(&head).map_err(io)?;
                        for d in k.trend.iter().flatten() {
                            let mut row =
                                vec![d.date.clone(), d.open.to_string(), d.pending.to_string(), d.overdue.to_string()];
                            row.extend(d.bands.iter().map(|b| b.to_string()));
                            w.write_record(&row).map_err(io)?;
                        }
                    }
                    ReportTable::TimeTotals => {
                        w.write_record(["per", "value", "minutes", "entries", "tickets"]).map_err(io)?;
                        for (per, rows) in [("tier", &k.time_by_tier), ("category", &k.time_by_category)] {
                            for t in rows {
                                w.write_record([
                                    per.to_string(),
                                    cell(&t.label),
                                    t.minutes.to_string(),
                                    t.entries.to_string(),
                                    t.tickets.to_string(),
                                ])
                                .map_err(io)?;
                            }
                        }
                    }
                    ReportTable::Breakdown | ReportTable::Tickets | ReportTable::Time => {
                        w.write_record([
                            k.by.as_deref().unwrap_or("value"),
                            "created",
                            "resolved",
                            "response_median_minutes",
                            "resolution_median_minutes",
                            "resolution_p90_minutes",
                            "first_contact_percent",
                            "sla_response_percent",
                            "sla_resolution_percent",
                            "reopen_percent",
                            "time_logged_minutes",
                            "surveys_answered",
                            "csat_average_stars",
                            "csat_satisfied_percent",
                        ])
                        .map_err(io)?;
                        for b in &k.breakdown {
                            let s = &b.summary;
                            w.write_record([
                                cell(&b.label),
                                s.created.to_string(),
                                s.resolved.to_string(),
                                opt(s.mtta.median_minutes),
                                opt(s.mttr.median_minutes),
                                opt(s.mttr.p90_minutes),
                                pct(&s.first_contact_resolution),
                                pct(&s.sla_response),
                                pct(&s.sla_resolution),
                                pct(&s.reopen_rate),
                                s.time_minutes.to_string(),
                                s.csat.answered.to_string(),
                                s.csat.average_stars.map(|a| format!("{a:.1}")).unwrap_or_default(),
                                pct(&s.csat.satisfied),
                            ])
                            .map_err(io)?;
                        }
                    }
                }
            }
        }
        let bytes = w.into_inner().map_err(|e| AppError::Internal(format!("writing CSV: {e}")))?;
        String::from_utf8(bytes).map_err(|e| AppError::Internal(e.to_string()))
    }

    /// Keeps the backlog as it is now as the snapshot of the day that just ended (run a few
    /// minutes after midnight UTC); a day kept before is left as it was. Returns whether this
    /// call kept it.
    pub async fn take_backlog_snapshot(&self) -> AppResult<bool> {
        let now = self.now();
        let day = now.div_euclid(86_400_000) - 1;
        let rows = store::snapshot_rows(&mut self.db.read().await?.conn(), now).await?;
        let mut tx = self.db.begin_background().await?;
        let n = store::keep_snapshot(&mut tx.conn(), day, now, &rows).await?;
        self.commit(tx).await?;
        Ok(n)
    }

    /// Queues the next snapshot at 00:05 UTC (one per day, whichever node queues it first).
    pub async fn schedule_backlog_snapshot(&self) -> AppResult<()> {
        const DAY: i64 = 86_400_000;
        let now = self.now();
        let slot = now - now.rem_euclid(DAY) + DAY + 5 * 60_000;
        let key = format!("{SNAPSHOT_JOB}@{slot}");
        self.enqueue(SNAPSHOT_JOB, &serde_json::json!({"slot": Timestamp(slot).to_rfc3339()}), slot, Some(&key))
            .await?;
        Ok(())
    }

    /// The snapshot job: keeps yesterday's backlog, then queues tomorrow's.
    pub async fn run_snapshot_job(&self) -> crate::kernel::jobs::JobResult {
        let r = self.take_backlog_snapshot().await.map(|_| ()).map_err(|e| e.to_string());
        self.schedule_backlog_snapshot().await.map_err(|e| e.to_string())?;
        r
    }

    /// Writes outcome rows for tickets resolved before reports existed, a batch per run, and
    /// queues the next batch while any are left; the last run notes that none are.
    pub async fn run_reports_backfill(&self) -> AppResult<()> {
        const BATCH: i64 = 200;
        let ids = {
            let mut r = self.db.read().await?;
            store::missing_outcomes(&mut r.conn(), BATCH).await?
        };
        let mut tx = self.db.begin_background().await?;
        let mut c = tx.conn();
        if ids.is_empty() {
            orion_store::settings::put(&mut c, BACKFILL_DONE, "true", self.now()).await?;
        }
        outcome::backfill(&mut c, &ids).await?;
        self.commit(tx).await?;
        if !ids.is_empty() {
            self.schedule_reports_backfill().await?;
        }
        Ok(())
    }

    /// Queues the backfill at start, unless it has finished before (once per start, whichever
    /// node queues it first).
    pub async fn schedule_reports_backfill(&self) -> AppResult<()> {
        let done = {
            let mut r = self.db.read().await?;
            orion_store::settings::get(&mut r.conn(), BACKFILL_DONE).await?.is_some()
        };
        if !done {
            let now = self.now();
            self.enqueue(BACKFILL_JOB, &serde_json::json!({}), now, Some(&format!("{BACKFILL_JOB}@{now}"))).await?;
        }
        Ok(())
    }
}

/// The tables a report downloads as CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ReportTable {
    Summary,
    Days,
    Backlog,
    Workload,
    Breakdown,
    Tickets,
    Time,
    TimeTotals,
    Trend,
}

impl ReportTable {
    pub const ALL: [(ReportTable, &'static str); 9] = [
        (ReportTable::Summary, "summary"),
        (ReportTable::Days, "days"),
        (ReportTable::Backlog, "backlog"),
        (ReportTable::Workload, "workload"),
        (ReportTable::Breakdown, "breakdown"),
        (ReportTable::Tickets, "tickets"),
        (ReportTable::Time, "time"),
        (ReportTable::TimeTotals, "time_totals"),
        (ReportTable::Trend, "trend"),
    ];

    pub fn parse(s: &str) -> Option<ReportTable> {
        Self::ALL.iter().find(|(_, k)| *k == s).map(|(t, _)| *t)
    }

    pub fn key(self) -> &'static str {
        Self::ALL.iter().find(|(t, _)| *t == self).map(|(_, k)| *k).unwrap_or("summary")
    }
}

/// One line of the summary as a person reads it, with the ticket list behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    pub label: &'static str,
    pub value: String,
    /// The list behind the number (`metric=`), when there is one
    pub metric: Option<&'static str>,
}

/// The summary's lines, in the order the dashboard and the CSV show them.
pub fn summary_rows(s: &Summary) -> Vec<SummaryRow> {
    let mins = |v: Option<i64>| v.map(|m| m.to_string()).unwrap_or_else(|| "–".into());
    let pct = |r: &Rate| r.percent.map(|p| format!("{p:.1} %")).unwrap_or_else(|| "–".into());
    let row = |label, value, metric| SummaryRow { label, value, metric };
    let hours = |m: i64| format!("{:.1}", m as f64 / 60.0);
    vec![
        row("Tickets created", s.created.to_string(), Some("created")),
        row("Tickets resolved", s.resolved.to_string(), Some("resolved")),
        row("Time to first response, median (working minutes)", mins(s.mtta.median_minutes), Some("responded")),
        row("Time to first response, 90th percentile (working minutes)", mins(s.mtta.p90_minutes), Some("responded")),
        row("Time to resolution, median (working minutes)", mins(s.mttr.median_minutes), Some("resolved")),
        row("Time to resolution, 90th percentile (working minutes)", mins(s.mttr.p90_minutes), Some("resolved")),
        row("First-contact resolution at tier 1", pct(&s.first_contact_resolution), Some("first_contact")),
        row("Escalated from tier 1 to tier 2", pct(&s.escalation_l1_to_l2), Some("escalated_l2")),
        row("Escalated from tier 2 to tier 3", pct(&s.escalation_l2_to_l3), Some("reached_l3")),
        row("Reopened", pct(&s.reopen_rate), Some("reopened")),
        row("First-response target met", pct(&s.sla_response), Some("response_breached")),
        row("Resolution target met", pct(&s.sla_resolution), Some("resolution_breached")),
        row("Update-interval target met", pct(&s.sla_update), Some("update_breached")),
        row("Time logged (hours)", hours(s.time_minutes), Some("time_logged")),
        row("Satisfaction surveys sent", s.csat.sent.to_string(), Some("surveyed")),
        row("Surveys answered", pct(&s.csat.response_rate), Some("survey_answered")),
        row(
            "Satisfaction, average stars (of 5)",
            s.csat.average_stars.map(|a| format!("{a:.1}")).unwrap_or_else(|| "–".into()),
            Some("survey_answered"),
        ),
        row("Satisfied (4 or 5 stars)", pct(&s.csat.satisfied), Some("survey_low")),
    ]
}
