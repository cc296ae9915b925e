//! Scheduled reports: a lead saves a report's filters with a schedule — daily, weekly or monthly,
//! at an hour of a time zone — and the recipients (support staff). Each run mails the report of
//! the period just ended (the day, the seven days or the calendar month before the run) as HTML
//! with its charts drawn in HTML (mail programs do not show SVG) and its tables attached as CSV,
//! and is listed with its recipients.

use super::{ReportQuery, ReportTable, filter, summary_rows};
use crate::kernel::access::require_staff;
use crate::kernel::error::invalid;
use crate::{App, AppError, AppResult};
use orion_domain::cron::Cron;
use orion_domain::{Actor, Email, FieldErrors, Role, Timestamp, UserId};
use orion_store::report_schedules::{self as store, RunRow, ScheduleRow};
use orion_store::users;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

/// The job that runs one schedule when it is due.
pub const RUN_JOB: &str = "report.scheduled";
/// The most schedules one list shows.
const LIST_MAX: i64 = 500;
const FREQUENCIES: [&str; 3] = ["daily", "weekly", "monthly"];

/// The filters a scheduled report keeps (its period follows from the schedule).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportFilters {
    /// `mine` or `all`
    pub scope: Option<String>,
    pub group: Option<String>,
    pub tier: Option<String>,
    pub kind: Option<String>,
    pub priority: Option<String>,
    pub category: Option<String>,
    pub channel: Option<String>,
    pub agent: Option<String>,
    pub by: Option<String>,
}

impl ReportFilters {
    fn query(&self, from: i64, to: i64) -> ReportQuery {
        ReportQuery {
            from: Some(Timestamp(from).to_rfc3339()),
            to: Some(Timestamp(to).to_rfc3339()),
            scope: self.scope.clone(),
            group: self.group.clone(),
            tier: self.tier.clone(),
            kind: self.kind.clone(),
            priority: self.priority.clone(),
            category: self.category.clone(),
            channel: self.channel.clone(),
            agent: self.agent.clone(),
            by: self.by.clone(),
            ..ReportQuery::default()
        }
    }
}

/// `POST /api/v1/reports/schedules`, `PATCH /api/v1/reports/schedules/{id}`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    pub filters: Option<ReportFilters>,
    /// `daily` (the day before), `weekly` (the seven days before) or `monthly` (the month before)
    #[schema(schema_with = crate::api_schema::frequencies)]
    pub frequency: Option<String>,
    /// An IANA time zone, e.g. `Europe/Berlin` (default `UTC`)
    pub time_zone: Option<String>,
    /// The local hour it goes out, 0–23 (default 7)
    #[schema(minimum = 0, maximum = 23)]
    pub hour: Option<i64>,
    /// Weekly: 1 Monday … 7 Sunday (default 1)
    #[schema(minimum = 1, maximum = 7)]
    pub weekday: Option<i64>,
    /// Support staff's e-mails (default: you)
    #[schema(min_items = 1)]
    pub recipients: Option<Vec<String>>,
    pub active: Option<bool>,
}

/// A scheduled report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Schedule {
    pub id: i64,
    pub name: String,
    /// Who made it (their view of the tickets is the report's)
    pub owner: String,
    pub filters: ReportFilters,
    pub frequency: String,
    pub time_zone: String,
    pub hour: i64,
    pub weekday: Option<i64>,
    pub recipients: Vec<String>,
    pub active: bool,
    /// In words, e.g. "Every Monday at 07:00 (Europe/Berlin), the seven days before"
    pub when: String,
    pub next_run_at: Option<String>,
}

/// One run of a scheduled report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReportRun {
    pub id: i64,
    pub ran_at: String,
    pub period_from: String,
    pub period_to: String,
    /// The period's first and last day in the schedule's time zone, in words
    pub period: String,
    pub recipients: Vec<String>,
    /// `sent`, or why not
    pub outcome: String,
}

const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// The cron line of a schedule (weekday 1 Monday … 7 Sunday; cron counts Sunday as 0).
fn cron_of(frequency: &str, hour: i64, weekday: Option<i64>) -> String {
    match frequency {
        "weekly" => format!("0 {hour} * * {}", weekday.unwrap_or(1) % 7),
        "monthly" => format!("0 {hour} 1 * *"),
        _ => format!("0 {hour} * * *"),
    }
}

fn zone(name: &str) -> AppResult<jiff::tz::TimeZone> {
    jiff::tz::TimeZone::get(name)
        .map_err(|_| invalid("time_zone", format!("{name:?} is not a time zone (e.g. Europe/Berlin)")))
}

/// The first run strictly after `after`.
fn next_run(r: &ScheduleRow, after: i64) -> AppResult<i64> {
    let cron = Cron::parse("frequency", &cron_of(&r.frequency, r.hour, r.weekday))?;
    cron.next_after(after, &zone(&r.time_zone)?).ok_or_else(|| AppError::Internal("no next run".into()))
}

/// The period a run at `due` reports on: the local day, seven days or month before its day.
fn period(r: &ScheduleRow, due: i64) -> AppResult<(i64, i64)> {
    let tz = zone(&r.time_zone)?;
    let bad = |e: jiff::Error| AppError::Internal(format!("report period: {e}"));
    let day = jiff::Timestamp::from_millisecond(due).map_err(bad)?.to_zoned(tz.clone()).date();
    let start = match r.frequency.as_str() {
        "weekly" => day.checked_sub(jiff::Span::new().days(7)).map_err(bad)?,
        "monthly" => day.first_of_month().checked_sub(jiff::Span::new().months(1)).map_err(bad)?,
        _ => day.checked_sub(jiff::Span::new().days(1)).map_err(bad)?,
    };
    let end = if r.frequency == "monthly" { day.first_of_month() } else { day };
    let ms = |d: jiff::civil::Date| d.to_zoned(tz.clone()).map(|z| z.timestamp().as_millisecond()).map_err(bad);
    Ok((ms(start)?, ms(end)?))
}

/// The first and last local day of a period, as `YYYY-MM-DD`.
fn local_days(r: &ScheduleRow, (from, to): (i64, i64)) -> String {
    let day = |ms: i64| match (zone(&r.time_zone), jiff::Timestamp::from_millisecond(ms)) {
        (Ok(tz), Ok(t)) => t.to_zoned(tz).date().to_string(),
        _ => Timestamp(ms).to_rfc3339()[..10].to_string(),
    };
    format!("{} to {}", day(from), day(to - 1))
}

fn describe(r: &ScheduleRow) -> String {
    let at = format!("{:02}:00 ({})", r.hour, r.time_zone);
    match r.frequency.as_str() {
        "weekly" => {
            let d = WEEKDAYS.get((r.weekday.unwrap_or(1) - 1).clamp(0, 6) as usize).copied().unwrap_or("Monday");
            format!("Every {d} at {at}, the seven days before")
        }
        "monthly" => format!("On the first of each month at {at}, the month before"),
        _ => format!("Every day at {at}, the day before"),
    }
}

fn actor_of(u: &orion_store::users::UserRow) -> AppResult<Actor> {
    Ok(Actor { id: UserId(u.id), role: Role::parse("role", &u.role)? })
}

fn may_manage(actor: &Actor, r: &ScheduleRow) -> bool {
    actor.can_administer() || r.owner_id == actor.id.0
}

impl App {
    async fn schedule_view(&self, c: &mut orion_store::Conn<'_>, r: ScheduleRow) -> AppResult<Schedule> {
        let owner = users::get(c, r.owner_id).await?.email;
        Ok(Schedule {
            id: r.id,
            name: r.name.clone(),
            owner,
            filters: serde_json::from_str(&r.filters).unwrap_or_default(),
            frequency: r.frequency.clone(),
            time_zone: r.time_zone.clone(),
            hour: r.hour,
            weekday: r.weekday,
            recipients: serde_json::from_str(&r.recipients).unwrap_or_default(),
            active: r.active,
            when: describe(&r),
            next_run_at: r.active.then(|| Timestamp(r.next_run_at).to_rfc3339()),
        })
    }

    /// Your scheduled reports (admins: everyone's).
    pub async fn report_schedules(&self, actor: &Actor) -> AppResult<Vec<Schedule>> {
        require_staff(actor, "schedule reports")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let owner = (!actor.can_administer()).then_some(actor.id.0);
        let mut out = Vec::new();
        for row in store::list(&mut c, owner, LIST_MAX).await? {
            out.push(self.schedule_view(&mut c, row).await?);
        }
        Ok(out)
    }

    pub async fn report_schedule(&self, actor: &Actor, id: i64) -> AppResult<Schedule> {
        require_staff(actor, "schedule reports")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let row = match store::get(&mut c, id).await {
            Ok(row) if may_manage(actor, &row) => row,
            Ok(_) | Err(orion_store::StoreError::NotFound) => return Err(AppError::NotFound("scheduled report")),
            Err(e) => return Err(e.into()),
        };
        self.schedule_view(&mut c, row).await
    }

    /// Creates (`id` None) or changes a schedule; the first run is queued for its time.
    pub async fn save_report_schedule(
        &self,
        actor: &Actor,
        id: Option<i64>,
        input: ScheduleInput,
    ) -> AppResult<Schedule> {
        require_staff(actor, "schedule reports")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut row = match id {
            Some(id) => match store::get(&mut c, id).await {
                Ok(row) if may_manage(actor, &row) => row,
                Ok(_) | Err(orion_store::StoreError::NotFound) => return Err(AppError::NotFound("scheduled report")),
                Err(e) => return Err(e.into()),
            },
            None => ScheduleRow {
                id: 0,
                owner_id: actor.id.0,
                name: String::new(),
                filters: "{}".into(),
                frequency: "weekly".into(),
                time_zone: "UTC".into(),
                hour: 7,
                weekday: Some(1),
                recipients: json!([users::get(&mut c, actor.id.0).await?.email]).to_string(),
                active: true,
                next_run_at: 0,
                created_at: now,
                updated_at: now,
            },
        };
        let mut errs = FieldErrors::new();
        match input.name.as_deref().map(str::trim) {
            Some("") => errs.push("name", "is required"),
            Some(n) if n.chars().count() > 200 => errs.push("name", "must be at most 200 characters"),
            Some(n) => row.name = n.to_string(),
            None if id.is_none() => errs.push("name", "is required"),
            None => {}
        }
        if let Some(f) = &input.frequency {
            if FREQUENCIES.contains(&f.trim()) {
                row.frequency = f.trim().to_string();
            } else {
                errs.push("frequency", "must be daily, weekly or monthly");
            }
        }
        if let Some(z) = &input.time_zone {
            match zone(z.trim()) {
                Ok(_) => row.time_zone = z.trim().to_string(),
                Err(AppError::Validation(e)) => e.iter().for_each(|fe| errs.push(fe.field.clone(), fe.message.clone())),
                Err(e) => return Err(e),
            }
        }
        if let Some(h) = input.hour {
            if (0..=23).contains(&h) { row.hour = h } else { errs.push("hour", "must be 0 to 23") }
        }
        if let Some(w) = input.weekday {
            if (1..=7).contains(&w) {
                row.weekday = Some(w)
            } else {
                errs.push("weekday", "must be 1 (Monday) to 7 (Sunday)")
            }
        }
        if let Some(a) = input.active {
            row.active = a;
        }
        let owner = users::get(&mut c, row.owner_id).await?;
        let owner_actor = actor_of(&owner)?;
        if let Some(f) = &input.filters {
            // The owner's view checks the filters as a report would read them.
            match filter(&mut c, &owner_actor, &f.query(now - 86_400_000, now), now).await {
                Ok(_) => row.filters = serde_json::to_string(f).map_err(|e| AppError::Internal(e.to_string()))?,
                Err(AppError::Validation(e)) => {
                    for fe in e.iter() {
                        errs.push(format!("filters.{}", fe.field), fe.message.clone());
                    }
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(list) = &input.recipients {
            if list.is_empty() {
                errs.push("recipients", "name at least one person");
            }
            let mut emails = Vec::new();
            for (i, e) in list.iter().enumerate() {
                let field = format!("recipients[{i}]");
                let Some(addr) = errs.check(Email::parse(&field, e)) else { continue };
                match users::find_by_email(&mut c, addr.as_str()).await? {
                    Some(u) if u.active && u.role != "requester" => emails.push(u.email),
                    _ => errs.push(
                        field,
                        format!("{} is not an active member of support staff (reports are for staff)", addr.as_str()),
                    ),
                }
            }
            emails.dedup();
            row.recipients = json!(emails).to_string();
        }
        errs.into_result()?;
        row.next_run_at = next_run(&row, now)?;
        row.updated_at = now;
        let id = match id {
            Some(id) => {
                store::update(&mut c, &row).await?;
                id
            }
            None => store::insert(&mut c, &row).await?,
        };
        row.id = id;
        if row.active {
            let payload = json!({"schedule_id": id, "due": row.next_run_at}).to_string();
            let key = format!("{RUN_JOB}:{id}");
            let job = orion_store::jobs::NewJob {
                kind: RUN_JOB,
                payload: &payload,
                run_at: row.next_run_at,
                dedupe_key: Some(&key),
                max_attempts: 5,
            };
            orion_store::jobs::schedule(&mut c, &job, &key, now).await?;
        }
        let view = self.schedule_view(&mut c, row).await?;
        self.commit(tx).await?;
        Ok(view)
    }

    pub async fn delete_report_schedule(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require_staff(actor, "schedule reports")?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        match store::get(&mut c, id).await {
            Ok(row) if may_manage(actor, &row) => store::delete(&mut c, id).await?,
            Ok(_) | Err(orion_store::StoreError::NotFound) => return Err(AppError::NotFound("scheduled report")),
            Err(e) => return Err(e.into()),
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// A schedule's runs, newest first (`before`: the last id of the previous page).
    pub async fn report_runs(&self, actor: &Actor, id: i64, before: Option<i64>) -> AppResult<Vec<ReportRun>> {
        self.report_schedule(actor, id).await?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let schedule = store::get(&mut c, id).await?;
        let runs = store::runs(&mut c, id, before, 100).await?;
        Ok(runs
            .into_iter()
            .map(|x| ReportRun {
                id: x.id,
                ran_at: Timestamp(x.ran_at).to_rfc3339(),
                period_from: Timestamp(x.period_from).to_rfc3339(),
                period_to: Timestamp(x.period_to).to_rfc3339(),
                period: format!("{} ({})", local_days(&schedule, (x.period_from, x.period_to)), schedule.time_zone),
                recipients: serde_json::from_str(&x.recipients).unwrap_or_default(),
                outcome: x.outcome,
            })
            .collect())
    }

    /// Sends a schedule's report now, for the period its last due run covered (the "send now" button).
    pub async fn send_report_now(&self, actor: &Actor, id: i64) -> AppResult<ReportRun> {
        self.report_schedule(actor, id).await?;
        let now = self.now();
        self.run_schedule(id, now, false).await?;
        self.report_runs(actor, id, None).await?.into_iter().next().ok_or(AppError::Internal("no run recorded".into()))
    }

    /// The `report.scheduled` job: runs the schedule if this is still its due run, then queues the next.
    pub async fn run_report_job(&self, job: &orion_store::jobs::JobRow) -> crate::kernel::jobs::JobResult {
        let p: serde_json::Value = serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
        let (Some(id), Some(due)) = (p["schedule_id"].as_i64(), p["due"].as_i64()) else {
            return Err("report.scheduled without schedule_id and due".into());
        };
        self.run_schedule(id, due, true).await.map_err(|e| e.to_string())
    }

    async fn run_schedule(&self, id: i64, due: i64, scheduled: bool) -> AppResult<()> {
        let now = self.now();
        let (row, owner) = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let row = match store::get(&mut c, id).await {
                Ok(row) => row,
                Err(orion_store::StoreError::NotFound) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            let owner = users::get(&mut c, row.owner_id).await?;
            (row, owner)
        };
        // A schedule changed or paused since this run was queued: the new one has its own job.
        if scheduled && (!row.active || row.next_run_at != due) {
            return Ok(());
        }
        let (from, to) = period(&row, due)?;
        let filters: ReportFilters = serde_json::from_str(&row.filters).unwrap_or_default();
        let recipients: Vec<String> = serde_json::from_str(&row.recipients).unwrap_or_default();
        let outcome = if !owner.active || owner.role == "requester" {
            format!("not sent: {} is no longer active support staff", owner.email)
        } else {
            match self.mail_report(&actor_of(&owner)?, &row, &filters, (from, to), &recipients).await {
                Ok(()) => "sent".to_string(),
                Err(AppError::Validation(e)) => format!("not sent: the filters no longer apply ({e})"),
                Err(e) if !scheduled => return Err(e),
                Err(e) => format!("not sent: {e}"),
            }
        };
        let mut tx = self.db.begin_background().await?;
        let mut c = tx.conn();
        let run = RunRow {
            id: 0,
            schedule_id: id,
            ran_at: now,
            period_from: from,
            period_to: to,
            recipients: if outcome == "sent" { row.recipients.clone() } else { "[]".into() },
            outcome,
        };
        store::add_run(&mut c, &run).await?;
        if scheduled {
            let mut next = row.clone();
            next.next_run_at = next_run(&row, due.max(now))?;
            store::update(&mut c, &next).await?;
            let payload = json!({"schedule_id": id, "due": next.next_run_at}).to_string();
            let key = format!("{RUN_JOB}:{id}");
            let job = orion_store::jobs::NewJob {
                kind: RUN_JOB,
                payload: &payload,
                run_at: next.next_run_at,
                dedupe_key: Some(&key),
                max_attempts: 5,
            };
            orion_store::jobs::schedule(&mut c, &job, &key, now).await?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// Renders the report of `(from, to)` as the owner sees it and queues one mail per recipient.
    async fn mail_report(
        &self,
        owner: &Actor,
        row: &ScheduleRow,
        filters: &ReportFilters,
        (from, to): (i64, i64),
        recipients: &[String],
    ) -> AppResult<()> {
        let q = filters.query(from, to);
        let k = self.report_kpis(owner, &q).await?;
        let mut files = Vec::new();
        let mut tables = vec![
            ReportTable::Summary,
            ReportTable::Days,
            ReportTable::Backlog,
            ReportTable::Workload,
            ReportTable::TimeTotals,
        ];
        if filters.by.is_some() {
            tables.push(ReportTable::Breakdown);
        }
        for t in tables {
            files.push((format!("{}.csv", t.key()), self.report_csv(owner, t, &q).await?));
        }
        let days = local_days(row, (from, to));
        let (text, html) = render(&row.name, &format!("{days} ({})", row.time_zone), &describe(row), &k);
        let now = self.now();
        let mut tx = self.db.begin_background().await?;
        let mut c = tx.conn();
        let config = self.config(&mut c).await?;
        let Some(from_address) = config.mail.sender().map(str::to_string) else {
            return Err(AppError::Conflict("mail is not set up (Admin → Mail)".into()));
        };
        let subject = format!("{}: {days}", row.name);
        for to_address in recipients {
            let parts: Vec<orion_mail::outbound::Part> = files
                .iter()
                .map(|(name, body)| orion_mail::outbound::Part {
                    filename: name,
                    content_type: "text/csv; charset=utf-8",
                    bytes: body.as_bytes(),
                })
                .collect();
            let message_id = format!(
                "report.{}.{:016x}@{}",
                row.id,
                rand::random::<u64>(),
                crate::sending::domain_of(&from_address)
            );
            let to = vec![to_address.clone()];
            let out = crate::sending::automatic(
                &config.mail.from_name,
                &from_address,
                &to,
                (&subject, &text),
                &message_id,
                now,
            );
            let raw = orion_mail::outbound::compose_with_parts(&out, &html, &parts)
                .map_err(|e| AppError::Internal(format!("composing the report mail: {e}")))?;
            let stored = crate::sending::Stored {
                template: "scheduled_report",
                from: &from_address,
                to: to_address,
                ticket_id: None,
                message_id: &message_id,
                subject: &subject,
            };
            crate::sending::queue_raw(&mut c, &stored, &raw, now).await?;
        }
        self.commit(tx).await?;
        Ok(())
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The report as text and as HTML; the HTML's charts are table cells of proportional width.
fn render(name: &str, period: &str, when: &str, k: &super::Kpis) -> (String, String) {
    let rows = summary_rows(&k.summary).into_iter().zip(summary_rows(&k.previous));
    let mut text = format!("{name}\n{period}, compared with the period before. Days per day are UTC.\n\n");
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family: sans-serif; color: #1d2733\"><h1 style=\"font-size: 20px\">{}</h1><p>{}, compared with the period before. {}. Days in the table per day are UTC days.</p>",
        esc(name),
        esc(period),
        esc(when)
    );
    html.push_str("<table cellpadding=\"4\" style=\"border-collapse: collapse\"><tr><th align=\"left\">Measure</th><th align=\"right\">This period</th><th align=\"right\">Previous period</th></tr>");
    for (now, before) in rows {
        text.push_str(&format!("{:<58} {:>10} {:>10}\n", now.label, now.value, before.value));
        html.push_str(&format!(
            "<tr><td>{}</td><td align=\"right\">{}</td><td align=\"right\">{}</td></tr>",
            esc(now.label),
            esc(&now.value),
            esc(&before.value)
        ));
    }
    html.push_str("</table>");
    let max = k.days.iter().map(|d| d.created.max(d.resolved)).max().unwrap_or(0).max(1);
    html.push_str("<h2 style=\"font-size: 16px\">Created and resolved per day</h2><table cellpadding=\"2\" style=\"border-collapse: collapse\">");
    text.push_str("\nPer day (created, resolved):\n");
    for d in &k.days {
        let bar = |n: i64, colour: &str| {
            let w = (n * 240 / max).max(if n > 0 { 1 } else { 0 });
            format!("<div style=\"background: {colour}; height: 8px; width: {w}px\"></div>")
        };
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}{}</td><td align=\"right\">{} / {}</td></tr>",
            d.date,
            bar(d.created, "#3566a8"),
            bar(d.resolved, "#3f8f5a"),
            d.created,
            d.resolved
        ));
        text.push_str(&format!("  {} {:>5} {:>5}\n", d.date, d.created, d.resolved));
    }
    html.push_str("</table><p style=\"font-size: 12px\"><span style=\"color: #3566a8\">■</span> created <span style=\"color: #3f8f5a\">■</span> resolved</p>");
    html.push_str(&format!("<h2 style=\"font-size: 16px\">Open now: {}</h2><table cellpadding=\"4\">", k.backlog.open));
    text.push_str(&format!(
        "\nOpen now: {} ({} overdue, {} due within the hour)\n",
        k.backlog.open, k.backlog.overdue, k.backlog.at_risk
    ));
    for b in &k.backlog.bands {
        html.push_str(&format!("<tr><td>{}</td><td align=\"right\">{}</td></tr>", esc(&b.label), b.tickets));
    }
    html.push_str(&format!(
        "<tr><td>SLA target breached or past due</td><td align=\"right\">{}</td></tr><tr><td>SLA target due within the hour</td><td align=\"right\">{}</td></tr></table>",
        k.backlog.overdue, k.backlog.at_risk
    ));
    if !k.breakdown.is_empty() {
        html.push_str("<h2 style=\"font-size: 16px\">Breakdown</h2><table cellpadding=\"4\"><tr><th></th><th>Created</th><th>Resolved</th></tr>");
        for b in &k.breakdown {
            html.push_str(&format!(
                "<tr><td>{}</td><td align=\"right\">{}</td><td align=\"right\">{}</td></tr>",
                esc(&b.label),
                b.summary.created,
                b.summary.resolved
            ));
        }
        html.push_str("</table>");
    }
    html.push_str("<p style=\"font-size: 12px\">The tables are attached as CSV. You get this mail because a scheduled report in Orion names you (Reports → Scheduled reports).</p></body></html>");
    text.push_str("\nThe tables are attached as CSV. You get this mail because a scheduled report in Orion names you (Reports → Scheduled reports).\n");
    (text, html)
}
