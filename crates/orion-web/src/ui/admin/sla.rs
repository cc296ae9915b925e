//! Admin pages for service levels: the SLA policies (what they match, their targets, pauses,
//! warnings and escalation rules), the business calendars they count working time on (hours,
//! holidays, iCalendar import), and a what-if that shows which policy a ticket would fall under
//! and when it would be due.

use super::{admin_only, flash, with_status};
use crate::AppState;
use crate::ui::form::{Fields, done, encode_segment as encode, read_multipart};
use crate::ui::layout::{Layout, error_page, explain_as, render};
use crate::ui::session::WebUser;
use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::sla::{Calendar, Policy, PolicyInput, WhatIf, WhatIfAnswer};
use orion_domain::FieldErrors;
use orion_domain::sla_policy::{EscalationRule, RuleAction, RuleOn, TargetKind};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/sla", get(overview).post(add_calendar))
        .route("/admin/sla/new-policy", get(new_policy).post(create_policy))
        .route("/admin/sla/policies/{name}", get(policy_page).post(save_policy))
        .route("/admin/sla/calendars/{name}", get(calendar_page).post(save_calendar))
        .route("/admin/sla/calendars/{name}/import", post(import_ics).layer(DefaultBodyLimit::max(2 * 1024 * 1024)))
}

/// The policy form's labels for the service's field names.
const POLICY_LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("priorities", "Priorities"),
    ("kinds", "Ticket types"),
    ("calendar", "Calendar"),
    ("first_response_minutes", "First response within"),
    ("resolution_minutes", "Resolve within"),
    ("update_interval_minutes", "Update the caller at least every"),
    ("pause_on", "Clocks stop while waiting on"),
    ("warnings_percent", "Warn at"),
    ("on_priority_change", "When the priority changes"),
    ("escalation_rules", "Escalation rules"),
];

const CALENDAR_LABELS: &[(&str, &str)] =
    &[("name", "Name"), ("time_zone", "Time zone"), ("week", "Working hours"), ("holidays", "Holidays")];

const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const KINDS: [(&str, &str); 2] = [("incident", "Incidents"), ("service_request", "Service requests")];
const PAUSES: [(&str, &str); 3] = [("user", "the caller"), ("vendor", "a vendor"), ("change", "a change")];
const ACTIONS: [(&str, &str); 4] = [
    ("notify_assignee", "Tell the assignee"),
    ("notify_lead", "Tell the group's leads"),
    ("escalate", "Escalate to the next tier"),
    ("raise_priority", "Raise the priority"),
];

/// Working minutes as people say them: `15 min`, `4 h`, `1 h 30 min` (working time, so no days).
fn working(m: i64) -> String {
    match (m / 60, m % 60) {
        (0, min) => format!("{min} min"),
        (h, 0) => format!("{h} h"),
        (h, min) => format!("{h} h {min} min"),
    }
}

/// `[[540, 1020]]` → `09:00–17:00`; none: `closed`.
fn hours_words(day: &[(u16, u16)]) -> String {
    if day.is_empty() {
        return "closed".into();
    }
    day.iter().map(|(a, b)| format!("{}–{}", clock(*a), clock(*b))).collect::<Vec<_>>().join(", ")
}

fn clock(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// `09:00-17:00, 18:00-20:00` (blank: closed) → minute spans; the error names the day.
fn parse_day(day: &str, text: &str) -> Result<Vec<(u16, u16)>, String> {
    let bad = || format!("{day}: write hours as 09:00-17:00 (several separated by commas; blank when closed)");
    let minute = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':').unwrap_or((t.trim(), "0"));
        let (h, m): (u16, u16) = (h.trim().parse().ok()?, m.trim().parse().ok()?);
        (m < 60 && (h < 24 || h == 24 && m == 0)).then_some(h * 60 + m)
    };
    let mut out = Vec::new();
    for span in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (a, b) = span.split_once(['-', '–']).ok_or_else(bad)?;
        let (a, b) = (minute(a).ok_or_else(bad)?, minute(b).ok_or_else(bad)?);
        if a >= b {
            return Err(format!("{day}: {span} ends before it starts"));
        }
        out.push((a, b));
    }
    Ok(out)
}

/// Who a policy applies to, in words.
fn applies_to(p: &Policy) -> String {
    let kinds = if p.kinds.is_empty() {
        "Incidents and requests".to_string()
    } else {
        p.kinds
            .iter()
            .map(|k| KINDS.iter().find(|(v, _)| v == k).map_or(k.as_str(), |(_, l)| *l))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let mut s = kinds;
    if !p.priorities.is_empty() {
        s.push_str(&format!(" at {}", p.priorities.join(", ")));
    }
    if let Some(c) = &p.category {
        s.push_str(&format!(" in {c}"));
    }
    if let Some(d) = &p.department {
        s.push_str(&format!(" from {d}"));
    }
    s
}

fn targets_words(p: &Policy) -> String {
    let mut out = Vec::new();
    if let Some(m) = p.first_response_minutes {
        out.push(format!("first response {}", working(m)));
    }
    if let Some(m) = p.resolution_minutes {
        out.push(format!("resolution {}", working(m)));
    }
    if let Some(m) = p.update_interval_minutes {
        out.push(format!("an update every {}", working(m)));
    }
    let s = out.join(", ");
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

struct PolicyRow {
    name: String,
    position: i64,
    applies: String,
    targets: String,
    calendar: String,
    active: bool,
}

struct CalendarRow {
    name: String,
    time_zone: String,
    week: String,
    holidays: usize,
}

/// The what-if form's values and its answer.
struct Try {
    kind: String,
    priority: String,
    category: String,
    department: String,
    logged_at: String,
    answer: Option<Answer>,
}

struct Answer {
    policy: Option<String>,
    calendar: String,
    lines: Vec<String>,
}

fn answer_of(a: WhatIfAnswer) -> Answer {
    let lines = a
        .targets
        .iter()
        .map(|t| {
            let what = TargetKind::parse("target", &t.target).map_or(t.target.clone(), |k| {
                let l = k.label();
                let mut c = l.chars();
                c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
            });
            match &t.due_local {
                Some(due) => format!("{what} within {} of working time: due {due}", working(t.minutes)),
                None => format!("{what} within {}: the calendar has no working time ahead", working(t.minutes)),
            }
        })
        .collect();
    Answer {
        policy: a.policy,
        calendar: match (a.calendar, a.time_zone) {
            (Some(c), Some(z)) => format!("{c} ({z})"),
            _ => String::new(),
        },
        lines,
    }
}

#[derive(Template)]
#[template(path = "admin/sla.html")]
struct OverviewPage {
    l: Layout,
    policies: Vec<PolicyRow>,
    calendars: Vec<CalendarRow>,
    t: Try,
    kinds: &'static [(&'static str, &'static str)],
    priorities: Vec<String>,
    categories: Vec<String>,
    try_error: Option<String>,
    error: Option<String>,
    cal_name: String,
    cal_zone: String,
}

async fn overview_page(
    s: &AppState,
    user: &WebUser,
    q: &HashMap<String, String>,
    error: Option<String>,
    draft: (String, String),
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let (policies, calendars) = match (s.app.all_policies(&user.actor).await, s.app.list_calendars(&user.actor).await) {
        (Ok(p), Ok(c)) => (p, c),
        (Err(e), _) | (_, Err(e)) => return error_page(Some(user), &e),
    };
    let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let mut t = Try {
        kind: get("kind"),
        priority: get("priority"),
        category: get("category"),
        department: get("department"),
        logged_at: get("logged_at"),
        answer: None,
    };
    let mut try_error = None;
    if q.contains_key("try") {
        let input = WhatIf {
            kind: t.kind.clone(),
            priority: t.priority.clone(),
            category: Some(t.category.clone()),
            department: Some(t.department.clone()),
            logged_at: Some(t.logged_at.clone()),
        };
        match s.app.sla_what_if(&user.actor, &input).await {
            Ok(a) => t.answer = Some(answer_of(a)),
            Err(e @ AppError::Validation(_)) => {
                try_error = Some(explain_as(
                    &e,
                    &[("kind", "Ticket type"), ("priority", "Priority"), ("logged_at", "Logged at")],
                ));
            }
            Err(e) => return error_page(Some(user), &e),
        }
    }
    let categories = crate::ui::pickers::category_paths(s, user).await;
    let p = OverviewPage {
        l: Layout::new(Some(user), "Service levels", "admin", flash(q)),
        policies: policies
            .iter()
            .map(|p| PolicyRow {
                name: p.name.clone(),
                position: p.position,
                applies: applies_to(p),
                targets: targets_words(p),
                calendar: p.calendar.clone(),
                active: p.active,
            })
            .collect(),
        calendars: calendars
            .iter()
            .map(|c| CalendarRow {
                name: c.name.clone(),
                time_zone: c.time_zone.clone(),
                week: week_summary(&c.week),
                holidays: c.holidays.len() + c.yearly_holidays.len(),
            })
            .collect(),
        t,
        kinds: &KINDS,
        priorities: (1..=5).map(|n| format!("P{n}")).collect(),
        categories,
        try_error,
        error,
        cal_name: draft.0,
        cal_zone: draft.1,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

/// `Mon–Fri 09:00–17:00`, or each day when they differ.
fn week_summary(week: &[Vec<(u16, u16)>]) -> String {
    if week.iter().all(|d| d == &[(0, 1440)]) {
        return "Round the clock".into();
    }
    let mut parts: Vec<(usize, usize, String)> = Vec::new();
    for (i, day) in week.iter().enumerate() {
        let w = hours_words(day);
        match parts.last_mut() {
            Some((_, end, last)) if *last == w && *end + 1 == i => *end = i,
            _ => parts.push((i, i, w)),
        }
    }
    parts
        .into_iter()
        .filter(|(_, _, w)| w != "closed")
        .map(|(a, b, w)| {
            let short = |i: usize| &DAYS[i][..3];
            if a == b { format!("{} {w}", short(a)) } else { format!("{}–{} {w}", short(a), short(b)) }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

async fn overview(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    overview_page(&s, &user, &q, None, (String::new(), "UTC".into())).await
}

/// A new calendar: Monday to Friday 09:00–17:00 to start with; the hours are set on its page.
async fn add_calendar(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let name = f.get("name").unwrap_or_default().trim().to_string();
    let zone = f.get("time_zone").unwrap_or_default().trim().to_string();
    if s.app.list_calendars(&user.actor).await.unwrap_or_default().iter().any(|c| c.name.eq_ignore_ascii_case(&name)) {
        let e = AppError::Conflict(format!("A calendar named {name} already exists; open it to change it."));
        return overview_page(&s, &user, &HashMap::new(), Some(explain_as(&e, CALENDAR_LABELS)), (name, zone)).await;
    }
    let nine_to_five = vec![(540, 1020)];
    let week = (0..7).map(|d| if d < 5 { nine_to_five.clone() } else { Vec::new() }).collect();
    let cal = Calendar { name: name.clone(), time_zone: zone.clone(), week, holidays: vec![], yearly_holidays: vec![] };
    match s.app.put_calendar(&user.actor, cal).await {
        Ok(c) => done(&format!("/admin/sla/calendars/{}", encode(&c.name)), "calendar_added"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            overview_page(&s, &user, &HashMap::new(), Some(explain_as(&e, CALENDAR_LABELS)), (name, zone)).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// One escalation rule as the form shows it.
struct RuleForm {
    on: String,
    target: String,
    percent: String,
    actions: Vec<String>,
}

/// The policy form's values.
struct PolicyForm {
    name: String,
    position: String,
    kinds: Vec<String>,
    priorities: Vec<String>,
    category: String,
    department: String,
    calendar: String,
    first_response: String,
    resolution: String,
    update: String,
    pause_on: Vec<String>,
    warnings: String,
    on_priority_change: String,
    rules: Vec<RuleForm>,
    active: bool,
}

impl PolicyForm {
    fn blank() -> Self {
        PolicyForm {
            name: String::new(),
            position: "100".into(),
            kinds: vec![],
            priorities: vec![],
            category: String::new(),
            department: String::new(),
            calendar: "Business hours".into(),
            first_response: String::new(),
            resolution: String::new(),
            update: String::new(),
            pause_on: vec!["user".into(), "vendor".into()],
            warnings: "50, 75, 90".into(),
            on_priority_change: "retarget".into(),
            rules: Self::with_blanks(orion_domain::sla_policy::default_rules(true).iter().map(rule_form).collect()),
            active: true,
        }
    }

    fn of(p: &Policy) -> Self {
        let num = |v: Option<i64>| v.map(|m| m.to_string()).unwrap_or_default();
        PolicyForm {
            name: p.name.clone(),
            position: p.position.to_string(),
            kinds: p.kinds.clone(),
            priorities: p.priorities.clone(),
            category: p.category.clone().unwrap_or_default(),
            department: p.department.clone().unwrap_or_default(),
            calendar: p.calendar.clone(),
            first_response: num(p.first_response_minutes),
            resolution: num(p.resolution_minutes),
            update: num(p.update_interval_minutes),
            pause_on: p.pause_on.clone(),
            warnings: p.warnings_percent.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            on_priority_change: p.on_priority_change.clone(),
            rules: Self::with_blanks(p.escalation_rules.iter().map(rule_form).collect()),
            active: p.active,
        }
    }

    /// Two empty rows to add rules in.
    fn with_blanks(mut rules: Vec<RuleForm>) -> Vec<RuleForm> {
        for _ in 0..2 {
            rules.push(RuleForm { on: String::new(), target: String::new(), percent: String::new(), actions: vec![] });
        }
        rules
    }

    /// What the form posted, as the service takes it; what cannot be read is named in `errs`.
    fn read(f: &Fields, name: String, errs: &mut FieldErrors) -> (Self, PolicyInput) {
        let t = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
        let mut rules = Vec::new();
        let mut rule_input = Vec::new();
        for i in 0..f.int("rule_count").unwrap_or(0).clamp(0, 50) {
            let r = RuleForm {
                on: t(&format!("rule_on_{i}")),
                target: t(&format!("rule_target_{i}")),
                percent: t(&format!("rule_percent_{i}")),
                actions: f.all(&format!("rule_actions_{i}")),
            };
            if !r.on.is_empty() {
                match rule_of(&r) {
                    Ok(rule) => rule_input.push(rule),
                    Err(m) => errs.push("escalation_rules", format!("rule {}: {m}", i + 1)),
                }
                rules.push(r);
            }
        }
        let warnings: Vec<i64> = t("warnings")
            .split([',', ' ', '%'])
            .filter(|w| !w.is_empty())
            .filter_map(|w| match w.parse() {
                Ok(n) => Some(n),
                Err(_) => {
                    errs.push("warnings_percent", format!("{w:?} is not a whole number of percent"));
                    None
                }
            })
            .collect();
        let minutes = |k: &str, field: &str, errs: &mut FieldErrors| -> Option<i64> {
            let v = t(k);
            if v.is_empty() {
                return None;
            }
            v.parse().map_err(|_| errs.push(field, format!("{v:?} is not a whole number of minutes"))).ok()
        };
        let input = PolicyInput {
            position: f.int("position"),
            priorities: f.all("priorities"),
            kinds: f.all("kinds"),
            category: Some(t("category")).filter(|v| !v.is_empty()),
            department: Some(t("department")).filter(|v| !v.is_empty()),
            calendar: Some(t("calendar")).filter(|v| !v.is_empty()),
            first_response_minutes: minutes("first_response", "first_response_minutes", errs),
            resolution_minutes: minutes("resolution", "resolution_minutes", errs),
            update_interval_minutes: minutes("update", "update_interval_minutes", errs),
            pause_on: Some(f.all("pause_on")),
            warnings_percent: Some(warnings),
            breach_escalates: None,
            on_priority_change: Some(t("on_priority_change")).filter(|v| !v.is_empty()),
            escalation_rules: Some(rule_input),
            active: Some(f.checked("active")),
        };
        let form = PolicyForm {
            name,
            position: t("position"),
            kinds: input.kinds.clone(),
            priorities: input.priorities.clone(),
            category: t("category"),
            department: t("department"),
            calendar: t("calendar"),
            first_response: t("first_response"),
            resolution: t("resolution"),
            update: t("update"),
            pause_on: f.all("pause_on"),
            warnings: t("warnings"),
            on_priority_change: t("on_priority_change"),
            rules: Self::with_blanks(rules),
            active: f.checked("active"),
        };
        (form, input)
    }

    fn has_kind(&self, k: &&str) -> bool {
        self.kinds.iter().any(|x| x == *k)
    }
    fn has_priority(&self, p: &String) -> bool {
        self.priorities.contains(p)
    }
    fn pauses(&self, r: &&str) -> bool {
        self.pause_on.iter().any(|x| x == *r)
    }
}

impl RuleForm {
    fn does(&self, a: &&str) -> bool {
        self.actions.iter().any(|x| x == *a)
    }
}

fn rule_form(r: &EscalationRule) -> RuleForm {
    let v = serde_json::to_value(r).unwrap_or_default();
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
    RuleForm {
        on: s("on"),
        target: s("target"),
        percent: r.percent.map(|p| p.to_string()).unwrap_or_default(),
        actions: v
            .get("actions")
            .and_then(|a| a.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
    }
}

fn rule_of(r: &RuleForm) -> Result<EscalationRule, String> {
    let on: RuleOn =
        serde_json::from_value(serde_json::json!(r.on)).map_err(|_| "choose warning or breach".to_string())?;
    let target = match r.target.as_str() {
        "" => None,
        t => Some(TargetKind::parse("target", t).map_err(|e| e.message)?),
    };
    let percent = match r.percent.as_str() {
        "" => None,
        p => Some(p.trim_end_matches('%').parse::<u8>().map_err(|_| format!("{p:?} is not a percentage"))?),
    };
    if r.actions.is_empty() {
        return Err("choose at least one thing to do".into());
    }
    let actions: Vec<RuleAction> = r
        .actions
        .iter()
        .map(|a| serde_json::from_value(serde_json::json!(a)).map_err(|_| format!("unknown action {a:?}")))
        .collect::<Result<_, _>>()?;
    Ok(EscalationRule { on, target, percent, actions })
}

#[derive(Template)]
#[template(path = "admin/sla_policy.html")]
struct PolicyPage {
    l: Layout,
    new: bool,
    f: PolicyForm,
    calendars: Vec<String>,
    categories: Vec<String>,
    kinds: &'static [(&'static str, &'static str)],
    priorities: Vec<String>,
    pauses: &'static [(&'static str, &'static str)],
    actions: &'static [(&'static str, &'static str)],
    error: Option<String>,
}

async fn policy_form_page(
    s: &AppState,
    user: &WebUser,
    new: bool,
    f: PolicyForm,
    flash_key: Option<&str>,
    error: Option<String>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let calendars = match s.app.list_calendars(&user.actor).await {
        Ok(c) => c.into_iter().map(|c| c.name).collect(),
        Err(e) => return error_page(Some(user), &e),
    };
    let categories = s.app.list_categories(&user.actor).await.unwrap_or_default().into_iter().map(|c| c.path).collect();
    let title = if new { "New SLA policy".to_string() } else { format!("SLA policy {}", f.name) };
    let p = PolicyPage {
        l: Layout::new(Some(user), title, "admin", flash_key),
        new,
        f,
        calendars,
        categories,
        kinds: &KINDS,
        priorities: (1..=5).map(|n| format!("P{n}")).collect(),
        pauses: &PAUSES,
        actions: &ACTIONS,
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn new_policy(State(s): State<AppState>, user: WebUser) -> Response {
    policy_form_page(&s, &user, true, PolicyForm::blank(), None, None).await
}

async fn find_policy(s: &AppState, user: &WebUser, name: &str) -> Result<Policy, AppError> {
    s.app.all_policies(&user.actor).await?.into_iter().find(|p| p.name == name).ok_or(AppError::NotFound("SLA policy"))
}

async fn policy_page(
    State(s): State<AppState>,
    user: WebUser,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = admin_only(&user) {
        return r;
    }
    match find_policy(&s, &user, &name).await {
        Ok(p) => policy_form_page(&s, &user, false, PolicyForm::of(&p), flash(&q), None).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn put_policy(s: &AppState, user: &WebUser, new: bool, name: String, f: &Fields) -> Response {
    let mut errs = FieldErrors::new();
    let (form, input) = PolicyForm::read(f, name.clone(), &mut errs);
    if new && s.app.all_policies(&user.actor).await.unwrap_or_default().iter().any(|p| p.name == name.trim()) {
        errs.push("name", "a policy with this name exists already; open it from the list to change it");
    }
    let result = match errs.into_result() {
        Ok(()) => s.app.put_policy(&user.actor, &name, input).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(p) => done(&format!("/admin/sla/policies/{}", encode(&p.name)), "policy_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            policy_form_page(s, user, new, form, None, Some(explain_as(&e, POLICY_LABELS))).await
        }
        Err(e) => error_page(Some(user), &e),
    }
}

async fn create_policy(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let name = f.get("name").unwrap_or_default().trim().to_string();
    put_policy(&s, &user, true, name, &f).await
}

async fn save_policy(State(s): State<AppState>, user: WebUser, Path(name): Path<String>, f: Fields) -> Response {
    if let Err(e) = find_policy(&s, &user, &name).await {
        return error_page(Some(&user), &e);
    }
    put_policy(&s, &user, false, name, &f).await
}

/// The calendar form's values.
struct CalendarForm {
    name: String,
    time_zone: String,
    days: Vec<(&'static str, String)>,
    holidays: String,
    yearly: String,
}

impl CalendarForm {
    fn of(c: &Calendar) -> Self {
        CalendarForm {
            name: c.name.clone(),
            time_zone: c.time_zone.clone(),
            days: DAYS
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let spans = c.week.get(i).cloned().unwrap_or_default();
                    let text = spans.iter().map(|(a, b)| format!("{}-{}", clock(*a), clock(*b))).collect::<Vec<_>>();
                    (*d, text.join(", "))
                })
                .collect(),
            holidays: c.holidays.join("\n"),
            yearly: c.yearly_holidays.iter().map(|(m, d)| format!("{m:02}-{d:02}")).collect::<Vec<_>>().join("\n"),
        }
    }

    fn read(f: &Fields, name: String, errs: &mut FieldErrors) -> (Self, Calendar) {
        let t = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
        let days: Vec<(&'static str, String)> =
            DAYS.iter().enumerate().map(|(i, d)| (*d, t(&format!("day_{i}")))).collect();
        let mut week = Vec::new();
        for (day, text) in &days {
            match parse_day(day, text) {
                Ok(spans) => week.push(spans),
                Err(m) => {
                    errs.push("week", m);
                    week.push(Vec::new());
                }
            }
        }
        let lines =
            |k: &str| t(k).lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect::<Vec<_>>();
        let holidays: Vec<String> = lines("holidays")
            .into_iter()
            .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
            .collect();
        let mut yearly = Vec::new();
        for l in lines("yearly") {
            let first = l.split_whitespace().next().unwrap_or_default();
            match first.split_once(['-', '/']).and_then(|(m, d)| Some((m.parse::<i8>().ok()?, d.parse::<i8>().ok()?))) {
                Some((m, d)) if (1..=12).contains(&m) && (1..=31).contains(&d) => yearly.push((m, d)),
                _ => errs.push("yearly_holidays", format!("{first:?} is not a month and day such as 12-25")),
            }
        }
        let form = CalendarForm {
            name: name.clone(),
            time_zone: t("time_zone"),
            days,
            holidays: t("holidays"),
            yearly: t("yearly"),
        };
        let cal = Calendar { name, time_zone: form.time_zone.clone(), week, holidays, yearly_holidays: yearly };
        (form, cal)
    }
}

#[derive(Template)]
#[template(path = "admin/sla_calendar.html")]
struct CalendarPage {
    l: Layout,
    f: CalendarForm,
    used_by: Vec<String>,
    error: Option<String>,
    import_error: Option<String>,
}

async fn calendar_form_page(
    s: &AppState,
    user: &WebUser,
    f: CalendarForm,
    flash_key: Option<&str>,
    (error, import_error): (Option<String>, Option<String>),
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let used_by = s
        .app
        .all_policies(&user.actor)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.calendar == f.name)
        .map(|p| p.name)
        .collect();
    let p = CalendarPage {
        l: Layout::new(Some(user), format!("Calendar {}", f.name), "admin", flash_key),
        f,
        used_by,
        error,
        import_error,
    };
    let err = p.error.clone().or(p.import_error.clone());
    with_status(render(&p), &err)
}

async fn find_calendar(s: &AppState, user: &WebUser, name: &str) -> Result<Calendar, AppError> {
    s.app.list_calendars(&user.actor).await?.into_iter().find(|c| c.name == name).ok_or(AppError::NotFound("calendar"))
}

async fn calendar_page(
    State(s): State<AppState>,
    user: WebUser,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = admin_only(&user) {
        return r;
    }
    match find_calendar(&s, &user, &name).await {
        Ok(c) => calendar_form_page(&s, &user, CalendarForm::of(&c), flash(&q), (None, None)).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn save_calendar(State(s): State<AppState>, user: WebUser, Path(name): Path<String>, f: Fields) -> Response {
    if let Err(e) = find_calendar(&s, &user, &name).await {
        return error_page(Some(&user), &e);
    }
    let mut errs = FieldErrors::new();
    let (form, cal) = CalendarForm::read(&f, name.clone(), &mut errs);
    let result = match errs.into_result() {
        Ok(()) => s.app.put_calendar(&user.actor, cal).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => done(&format!("/admin/sla/calendars/{}", encode(&name)), "calendar_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            let labels = [CALENDAR_LABELS, &[("yearly_holidays", "Every year on")]].concat();
            calendar_form_page(&s, &user, form, None, (Some(explain_as(&e, &labels)), None)).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// Adds the holidays of an uploaded (or pasted) iCalendar file.
async fn import_ics(State(s): State<AppState>, user: WebUser, Path(name): Path<String>, m: Multipart) -> Response {
    let cal = match find_calendar(&s, &user, &name).await {
        Ok(c) => c,
        Err(e) => return error_page(Some(&user), &e),
    };
    let (fields, files) = match read_multipart(m).await {
        Ok(x) => x,
        Err(msg) => return calendar_form_page(&s, &user, CalendarForm::of(&cal), None, (None, Some(msg))).await,
    };
    let text = match files.first() {
        Some(file) => String::from_utf8_lossy(&file.bytes).into_owned(),
        None => fields.get("ics").unwrap_or_default().to_string(),
    };
    if text.trim().is_empty() {
        let msg = "Choose an .ics file (or paste its text) to import.".to_string();
        return calendar_form_page(&s, &user, CalendarForm::of(&cal), None, (None, Some(msg))).await;
    }
    match s.app.import_holidays(&user.actor, &name, &text).await {
        Ok((_, added)) => done(
            &format!("/admin/sla/calendars/{}", encode(&name)),
            if added == 0 { "ics_nothing" } else { "ics_imported" },
        ),
        Err(e @ AppError::Validation(_)) => {
            let msg = format!("The file could not be read: {}", explain_as(&e, &[]));
            calendar_form_page(&s, &user, CalendarForm::of(&cal), None, (None, Some(msg))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_are_read_as_people_write_them() {
        assert_eq!(parse_day("Monday", "09:00-17:00"), Ok(vec![(540, 1020)]));
        assert_eq!(parse_day("Monday", "8-12, 13:30–17"), Ok(vec![(480, 720), (810, 1020)]));
        assert_eq!(parse_day("Monday", "00:00-24:00"), Ok(vec![(0, 1440)]));
        assert_eq!(parse_day("Sunday", ""), Ok(vec![]));
        assert!(parse_day("Friday", "17:00-09:00").unwrap_err().starts_with("Friday: "));
        assert!(parse_day("Friday", "nine to five").unwrap_err().contains("09:00-17:00"));
        assert!(parse_day("Friday", "25:00-26:00").is_err());
    }

    #[test]
    fn weeks_and_targets_read_as_words() {
        let nine = vec![(540, 1020)];
        let week: Vec<_> = (0..7).map(|d| if d < 5 { nine.clone() } else { vec![] }).collect();
        assert_eq!(week_summary(&week), "Mon–Fri 09:00–17:00");
        assert_eq!(week_summary(&vec![vec![(0, 1440)]; 7]), "Round the clock");
        assert_eq!(working(15), "15 min");
        assert_eq!(working(240), "4 h");
        assert_eq!(working(90), "1 h 30 min");
    }
}
