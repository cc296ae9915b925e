//! Business calendars and SLA policies as the API reads and writes them.

use super::*;

/// A business calendar as the API shows and takes it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
#[schema(as = BusinessCalendar)]
pub struct Calendar {
    /// Taken from the path on PUT
    #[serde(default)]
    pub name: String,
    /// IANA time zone, e.g. `Europe/Berlin`
    pub time_zone: String,
    /// Seven days, Monday first; each a list of `[start, end)` minutes since midnight, e.g. `[[540, 1020]]`
    #[schema(schema_with = crate::api_schema::business_week)]
    pub week: Vec<Vec<(u16, u16)>>,
    /// `YYYY-MM-DD`
    #[serde(default)]
    #[schema(schema_with = crate::api_schema::dates)]
    pub holidays: Vec<String>,
    /// `[month, day]` pairs that are holidays every year
    #[serde(default)]
    #[schema(schema_with = crate::api_schema::month_days)]
    pub yearly_holidays: Vec<(i8, i8)>,
}

/// An SLA policy as the API shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Policy {
    pub name: String,
    pub position: i64,
    /// Priorities matched (`P1`…); empty: any
    pub priorities: Vec<String>,
    pub kinds: Vec<String>,
    pub category: Option<String>,
    pub department: Option<String>,
    pub calendar: String,
    pub first_response_minutes: Option<i64>,
    pub resolution_minutes: Option<i64>,
    pub update_interval_minutes: Option<i64>,
    pub pause_on: Vec<String>,
    pub warnings_percent: Vec<i64>,
    pub breach_escalates: bool,
    /// `retarget` or `restart`
    pub on_priority_change: String,
    /// What happens on warnings and breaches (see `PolicyInput`)
    #[schema(value_type = Vec<Object>)]
    pub escalation_rules: Vec<EscalationRule>,
    /// False: switched off, new tickets do not use it
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

fn policy_of(p: sla::PolicyRow) -> Policy {
    Policy {
        priorities: parse_list(&p.priorities, |v| v.as_i64().map(|n| format!("P{n}"))),
        kinds: parse_list(&p.kinds, |v| v.as_str().map(str::to_string)),
        pause_on: parse_list(&p.pause_on, |v| v.as_str().map(str::to_string)),
        warnings_percent: parse_list(&p.warnings, serde_json::Value::as_i64),
        name: p.name,
        position: p.position,
        category: p.category,
        department: p.department,
        calendar: p.calendar_name,
        first_response_minutes: p.first_response_min,
        resolution_minutes: p.resolution_min,
        update_interval_minutes: p.update_interval_min,
        breach_escalates: p.breach_escalates,
        escalation_rules: parse_rules(p.escalation_rules.as_deref(), p.breach_escalates),
        on_priority_change: p.on_priority_change,
        active: p.active,
    }
}

impl App {
    pub async fn list_calendars(&self, actor: &Actor) -> AppResult<Vec<Calendar>> {
        if !actor.can_read_directory() {
            return Err(AppError::Forbidden("only staff can read calendars".into()));
        }
        let mut r = self.db.read().await?;
        let mut out = Vec::new();
        for row in sla::list_calendars(&mut r.conn()).await? {
            let spec: CalendarSpec = serde_json::from_str(&row.spec)
                .map_err(|e| AppError::Internal(format!("calendar {}: {e}", row.name)))?;
            out.push(Calendar {
                name: row.name,
                time_zone: spec.time_zone,
                week: spec.week,
                holidays: spec.holidays,
                yearly_holidays: spec.yearly_holidays,
            });
        }
        Ok(out)
    }

    /// Creates or replaces a calendar (admins). Tickets whose clocks already started keep the
    /// calendar they started with; new tickets and re-targets use the new one.
    pub async fn put_calendar(&self, actor: &Actor, cal: Calendar) -> AppResult<Calendar> {
        if !actor.can_administer() {
            return Err(AppError::Forbidden("only admins can change calendars".into()));
        }
        let name = orion_domain::error::required_text("name", &cal.name, 100)?;
        let spec = CalendarSpec {
            time_zone: cal.time_zone.clone(),
            week: cal.week.clone(),
            holidays: cal.holidays.clone(),
            yearly_holidays: cal.yearly_holidays.clone(),
        };
        spec.build()?;
        let json = serde_json::to_string(&spec).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        sla::put_calendar(&mut tx.conn(), &name, &json, self.now()).await?;
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(Calendar { name, ..cal })
    }

    /// Adds the holidays of an iCalendar file to a calendar (admins); returns how many were new.
    pub async fn import_holidays(&self, actor: &Actor, calendar: &str, ics: &str) -> AppResult<(Calendar, usize)> {
        let h = orion_domain::ics::parse_holidays(ics)?;
        let mut cal = self
            .list_calendars(actor)
            .await?
            .into_iter()
            .find(|c| c.name.eq_ignore_ascii_case(calendar))
            .ok_or(AppError::NotFound("calendar"))?;
        let before = cal.holidays.len() + cal.yearly_holidays.len();
        cal.holidays.extend(h.dates.iter().map(ToString::to_string));
        cal.holidays.sort();
        cal.holidays.dedup();
        cal.yearly_holidays.extend(h.yearly);
        cal.yearly_holidays.sort_unstable();
        cal.yearly_holidays.dedup();
        let added = cal.holidays.len() + cal.yearly_holidays.len() - before;
        Ok((self.put_calendar(actor, cal).await?, added))
    }

    /// The policies new tickets are matched against, in order.
    pub async fn list_policies(&self, actor: &Actor) -> AppResult<Vec<Policy>> {
        self.policies(actor, false).await
    }

    /// Every policy, the switched-off ones too (what the admin console lists).
    pub async fn all_policies(&self, actor: &Actor) -> AppResult<Vec<Policy>> {
        self.policies(actor, true).await
    }

    async fn policies(&self, actor: &Actor, switched_off: bool) -> AppResult<Vec<Policy>> {
        if !actor.can_read_directory() {
            return Err(AppError::Forbidden("only staff can read SLA policies".into()));
        }
        let mut r = self.db.read().await?;
        Ok(sla::list_policies(&mut r.conn(), switched_off).await?.into_iter().map(policy_of).collect())
    }
}

/// `PUT /api/v1/sla/policies/{name}`: a whole policy.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    /// Matching order: lower first (the defaults use 10..50)
    pub position: Option<i64>,
    /// `P1`…`P5`; empty: any
    #[serde(default)]
    pub priorities: Vec<String>,
    /// `incident`, `service_request`; empty: any
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Category path; matches it and everything below
    pub category: Option<String>,
    pub department: Option<String>,
    /// Calendar name
    pub calendar: Option<String>,
    #[schema(minimum = 1, maximum = 525600)]
    pub first_response_minutes: Option<i64>,
    #[schema(minimum = 1, maximum = 525600)]
    pub resolution_minutes: Option<i64>,
    /// A public agent update at least this often (working minutes) while the ticket is open
    #[schema(minimum = 1, maximum = 525600)]
    pub update_interval_minutes: Option<i64>,
    /// Pending reasons that pause the clocks; default `user`, `vendor`
    pub pause_on: Option<Vec<String>>,
    /// Default 50, 75, 90
    pub warnings_percent: Option<Vec<i64>>,
    /// Default true: a breached resolution target escalates (used when `escalation_rules` is absent)
    pub breach_escalates: Option<bool>,
    /// What a priority change does to running clocks: `retarget` (default; time already used counts
    /// against the new targets from the original start) or `restart` (they start again from zero)
    pub on_priority_change: Option<String>,
    /// Replaces the default rules. Each: `{"on": "warning"|"breach", "target": "first_response"|"resolution"|"update"
    /// (absent: every target), "percent": 90 (warnings only; absent: every warning), "actions": ["notify_assignee",
    /// "notify_lead", "escalate", "raise_priority"]}`
    #[schema(value_type = Option<Vec<Object>>)]
    pub escalation_rules: Option<Vec<EscalationRule>>,
    /// Default true
    pub active: Option<bool>,
}

impl App {
    /// Creates or replaces a policy (admins). Running clocks keep the policy they started with.
    pub async fn put_policy(&self, actor: &Actor, name: &str, p: PolicyInput) -> AppResult<Policy> {
        if !actor.can_administer() {
            return Err(AppError::Forbidden("only admins can change SLA policies".into()));
        }
        let mut errs = orion_domain::FieldErrors::new();
        let name = errs.check(orion_domain::error::required_text("name", name, 100));
        let priorities: Vec<i64> = p
            .priorities
            .iter()
            .filter_map(|x| errs.check(Priority::parse("priorities", x)).map(|p| i64::from(p.get())))
            .collect();
        let kinds: Vec<&str> =
            p.kinds.iter().filter_map(|k| errs.check(TicketKind::parse("kinds", k)).map(TicketKind::as_str)).collect();
        let pause_on: Vec<&str> = p
            .pause_on
            .clone()
            .unwrap_or_else(|| vec!["user".into(), "vendor".into()])
            .iter()
            .filter_map(|r| errs.check(PendingReason::parse("pause_on", r)).map(PendingReason::as_str))
            .collect();
        let warnings = p.warnings_percent.clone().unwrap_or_else(|| vec![50, 75, 90]);
        if warnings.iter().any(|w| !(1..100).contains(w)) {
            errs.push("warnings_percent", "each must be between 1 and 99");
        }
        for (field, v) in [
            ("first_response_minutes", p.first_response_minutes),
            ("resolution_minutes", p.resolution_minutes),
            ("update_interval_minutes", p.update_interval_minutes),
        ] {
            if v.is_some_and(|m| !(1..=525_600).contains(&m)) {
                errs.push(field, "must be between 1 and 525600 minutes");
            }
        }
        if p.first_response_minutes.is_none() && p.resolution_minutes.is_none() && p.update_interval_minutes.is_none() {
            errs.push("resolution_minutes", "a policy needs at least one target");
        }
        let on_priority_change = match p.on_priority_change.as_deref() {
            None => Some(OnPriorityChange::Retarget),
            Some(v) => errs.check(OnPriorityChange::parse("on_priority_change", v)),
        };
        if let Some(rules) = &p.escalation_rules {
            orion_domain::sla_policy::validate_rules(rules, &warnings, &mut errs);
        }
        let rules_json = p.escalation_rules.as_ref().map(to_json);
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let calendar_name = p.calendar.clone().unwrap_or_else(|| "Business hours".into());
        let calendar = sla::find_calendar(&mut c, &calendar_name).await?;
        if calendar.is_none() {
            errs.push("calendar", format!("no calendar named {calendar_name:?}"));
        }
        errs.into_result()?;
        let (Some(name), Some(calendar), Some(on_priority_change)) = (name, calendar, on_priority_change) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        sla::put_policy(
            &mut c,
            &sla::PolicyWrite {
                name: &name,
                position: p.position.unwrap_or(100),
                kinds: &to_json(&kinds),
                priorities: &to_json(&priorities),
                category: p.category.as_deref().map(str::trim).filter(|s| !s.is_empty()),
                department: p.department.as_deref().map(str::trim).filter(|s| !s.is_empty()),
                calendar_id: calendar.id,
                first_response_min: p.first_response_minutes,
                resolution_min: p.resolution_minutes,
                update_interval_min: p.update_interval_minutes,
                pause_on: &to_json(&pause_on),
                warnings: &to_json(&warnings),
                breach_escalates: p.breach_escalates.unwrap_or(true),
                escalation_rules: rules_json.as_deref(),
                on_priority_change: on_priority_change.as_str(),
                active: p.active.unwrap_or(true),
            },
            self.now(),
        )
        .await?;
        self.commit(tx).await?;
        self.invalidate_config();
        self.all_policies(actor).await?.into_iter().find(|x| x.name == name).ok_or(AppError::NotFound("policy"))
    }
}

/// `POST /api/v1/sla/what-if`: a ticket that is not logged yet, to see which policy it would fall
/// under and when its targets would be due.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatIf {
    /// `incident` or `service_request`
    #[schema(schema_with = crate::api_schema::ticket_kinds_exact)]
    pub kind: String,
    /// `P1`…`P5`
    #[schema(schema_with = crate::api_schema::priorities_exact)]
    pub priority: String,
    /// Category path, e.g. `Network / VPN`
    pub category: Option<String>,
    /// The caller's department
    pub department: Option<String>,
    /// When it would be logged: an RFC 3339 time, or `YYYY-MM-DDTHH:MM` in the calendar's time zone; absent: now
    pub logged_at: Option<String>,
}

/// What `WhatIf` found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WhatIfAnswer {
    /// The policy that would apply; absent: none matches and no clocks would run
    pub policy: Option<String>,
    pub calendar: Option<String>,
    /// The calendar's time zone
    pub time_zone: Option<String>,
    pub logged_at: String,
    pub targets: Vec<WhatIfTarget>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WhatIfTarget {
    /// `first_response`, `resolution` or `update`
    pub target: String,
    /// Working minutes allowed
    pub minutes: i64,
    /// When it would fall due; absent when the calendar has no working time ahead
    pub due_at: Option<String>,
    /// The due time in the calendar's zone, e.g. `Mon 2026-12-07 11:00`
    pub due_local: Option<String>,
}

impl App {
    /// Which policy a ticket like this would fall under, and when each target would be due. Writes nothing.
    pub async fn sla_what_if(&self, actor: &Actor, q: &WhatIf) -> AppResult<WhatIfAnswer> {
        if !actor.can_work_tickets() {
            return Err(AppError::Forbidden("only support staff can try SLA policies".into()));
        }
        let mut errs = orion_domain::FieldErrors::new();
        let kind = errs.check(TicketKind::parse("kind", q.kind.trim()));
        let priority = errs.check(Priority::parse("priority", q.priority.trim()));
        if kind.is_some_and(TicketKind::has_own_phases) {
            errs.push("kind", "problems and changes run on planned dates, not SLA targets");
        }
        errs.into_result()?;
        let (Some(kind), Some(priority)) = (kind, priority) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let category = q.category.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let department = q.department.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let mut r = self.db.read().await?;
        let config = self.config(&mut r.conn()).await?;
        drop(r);
        let facts = TicketFacts { kind, priority, category, department };
        let policy = matching(&config, &facts);
        let logged = match q.logged_at.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Timestamp(self.now()),
            Some(s) => logged_at(s, policy.map(|p| p.calendar.zone_name()))?,
        };
        let Some(p) = policy else {
            return Ok(WhatIfAnswer {
                policy: None,
                calendar: None,
                time_zone: None,
                logged_at: logged.to_rfc3339(),
                targets: Vec::new(),
            });
        };
        let targets = TargetKind::ALL
            .into_iter()
            .filter_map(|k| p.target_ms(k).map(|ms| (k, ms)))
            .map(|(k, ms)| {
                let due = p.calendar.add_business_ms(logged, ms);
                WhatIfTarget {
                    target: k.as_str().into(),
                    minutes: ms / 60_000,
                    due_at: due.map(Timestamp::to_rfc3339),
                    due_local: due.map(|d| p.calendar.local_label(d)),
                }
            })
            .collect();
        Ok(WhatIfAnswer {
            policy: Some(p.policy.name.clone()),
            calendar: Some(p.calendar_name.clone()),
            time_zone: Some(p.calendar.zone_name().to_string()),
            logged_at: logged.to_rfc3339(),
            targets,
        })
    }
}

/// An RFC 3339 time, or a wall-clock `YYYY-MM-DDTHH:MM` read in `zone` (UTC without one).
fn logged_at(s: &str, zone: Option<&str>) -> AppResult<Timestamp> {
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(Timestamp(ts.as_millisecond()));
    }
    let bad = || orion_domain::FieldError::new("logged_at", "expected a date and time such as 2026-12-07T16:30");
    let civil: jiff::civil::DateTime = s.parse().map_err(|_| bad())?;
    let tz = match zone {
        Some(z) => jiff::tz::TimeZone::get(z).map_err(|_| bad())?,
        None => jiff::tz::TimeZone::UTC,
    };
    let zoned = civil.to_zoned(tz).map_err(|_| bad())?;
    Ok(Timestamp(zoned.timestamp().as_millisecond()))
}
