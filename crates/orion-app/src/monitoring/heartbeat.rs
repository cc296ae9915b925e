//! Heartbeat monitors (dead-man's switches) for backups and other scheduled jobs.
//!
//! A job pings `/api/v1/heartbeats/{token}/start` (optional), then `/ok` or `/fail` with its log
//! as the body. Each heartbeat expects a run by its schedule (an interval after the last ping,
//! or a cron expression in a time zone) plus grace. Every ping moves the deadline and queues a
//! durable `heartbeat.check` job for it; the check finds a missed run if no ping moved the
//! deadline since. A failure or a missed run opens an incident for the owning group (or adds to
//! the open one), with the log attached; the next success adds a recovery note to it.

use crate::auth::{hash_token, new_token};
use crate::kernel::error::{found, invalid};
use crate::{App, AppError, AppResult, Page};
use orion_domain::cron::Cron;
use orion_domain::{Actor, FieldErrors, Level, Timestamp};
use orion_store::monitoring::{self as store, HeartbeatRow, HeartbeatSettings, HeartbeatState};
use orion_store::{Conn, jobs, mail, users};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

pub const CHECK_JOB: &str = "heartbeat.check";
/// Heartbeat tokens start with this.
pub const TOKEN_PREFIX: &str = "orion_hb_";
/// Longest log kept from a ping body (the rest is cut, and says so).
pub const LOG_MAX: usize = 1_000_000;
/// The user heartbeat incidents are logged for (no mail goes to `.invalid`).
const REQUESTER: &str = "monitoring-heartbeats@orion.invalid";

/// `POST /api/v1/heartbeats`, `PUT /api/v1/heartbeats/{id}`
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatInput {
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: Option<String>,
    /// `backup` (default) or `job`
    pub kind: Option<String>,
    pub description: Option<String>,
    /// The group that owns its incidents (default: the service desk)
    pub assignment_group: Option<String>,
    /// Expect a run this many seconds after the last one (give this or `cron`)
    #[schema(minimum = 60, maximum = 7776000)]
    pub interval_seconds: Option<i64>,
    /// Expect a run at these times, e.g. `0 2 * * *` (give this or `interval_seconds`)
    pub cron: Option<String>,
    /// The time zone of `cron` (IANA name, default UTC)
    pub timezone: Option<String>,
    /// How late a run may be before it counts as missed (default: a tenth of the interval, at
    /// least 5 minutes; 1 hour for cron schedules)
    pub grace_seconds: Option<i64>,
    pub enabled: Option<bool>,
}

/// A heartbeat as the backup board shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Heartbeat {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub description: String,
    pub assignment_group: String,
    pub interval_seconds: Option<i64>,
    pub cron: Option<String>,
    pub timezone: String,
    pub grace_seconds: i64,
    pub enabled: bool,
    /// `waiting` (never pinged), `running` (started), `ok`, `failed`, `missed`
    pub status: String,
    /// When the last run started (a `/start` ping)
    pub started_at: Option<String>,
    pub last_ping_at: Option<String>,
    pub last_ok_at: Option<String>,
    /// How long the last run took (from `/start` to `/ok` or `/fail`)
    pub last_duration_ms: Option<i64>,
    /// When the next run is expected (it counts as missed `grace_seconds` later)
    pub next_due_at: Option<String>,
    /// The incident of its last failure, while one is linked
    pub incident: Option<String>,
    pub incident_state: Option<String>,
}

impl From<HeartbeatRow> for Heartbeat {
    fn from(r: HeartbeatRow) -> Self {
        let ts = |t: Option<i64>| t.map(|t| Timestamp(t).to_rfc3339());
        Self {
            id: r.id,
            name: r.name,
            kind: r.kind,
            description: r.description,
            assignment_group: r.group_name,
            interval_seconds: r.interval_seconds,
            cron: r.cron,
            timezone: r.timezone,
            grace_seconds: r.grace_seconds,
            enabled: r.enabled,
            status: r.status,
            started_at: ts(r.started_at),
            last_ping_at: ts(r.last_ping_at),
            last_ok_at: ts(r.last_ok_at),
            last_duration_ms: r.last_duration_ms,
            next_due_at: ts(r.next_due_at),
            incident: r.ticket_number,
            incident_state: r.ticket_state,
        }
    }
}

/// A heartbeat with its ping URLs: shown once, at creation and when the token is replaced.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatWithToken {
    pub heartbeat: Heartbeat,
    pub token: String,
    /// `POST` here after a successful run (the body, if any, is kept as the run's log)
    pub ok_url: String,
    /// `POST` here after a failed run, with the log as the body
    pub fail_url: String,
    /// Optional: `POST` here when a run starts, so its duration is measured
    pub start_url: String,
}

impl HeartbeatWithToken {
    fn new(heartbeat: Heartbeat, token: String) -> Self {
        let base = format!("/api/v1/heartbeats/{token}");
        Self {
            heartbeat,
            ok_url: format!("{base}/ok"),
            fail_url: format!("{base}/fail"),
            start_url: format!("{base}/start"),
            token,
        }
    }
}

/// One run (or missed run) of a heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatRun {
    pub id: i64,
    pub at: String,
    /// `start`, `ok`, `fail` or `missed`
    pub outcome: String,
    pub duration_ms: Option<i64>,
    pub log: String,
    pub incident: Option<String>,
}

/// The answer to a ping.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PingReply {
    pub heartbeat: String,
    pub status: String,
    pub next_due_at: Option<String>,
    /// The incident a failure opened or was added to
    pub incident: Option<String>,
}

/// What a ping reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ping {
    Start,
    Ok,
    Fail,
}

impl Ping {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "start" => Some(Self::Start),
            "ok" | "success" => Some(Self::Ok),
            "fail" | "failure" => Some(Self::Fail),
            _ => None,
        }
    }
}

struct Schedule {
    interval_ms: Option<i64>,
    cron: Option<(Cron, jiff::tz::TimeZone)>,
}

impl Schedule {
    fn of(interval_seconds: Option<i64>, cron: Option<&str>, tz: &str) -> AppResult<Self> {
        let cron = match cron {
            Some(c) => {
                let zone = jiff::tz::TimeZone::get(tz)
                    .map_err(|_| invalid("timezone", format!("unknown time zone {tz:?}")))?;
                Some((Cron::parse("cron", c)?, zone))
            }
            None => None,
        };
        Ok(Self { interval_ms: interval_seconds.map(|s| s * 1000), cron })
    }

    fn of_row(r: &HeartbeatRow) -> AppResult<Self> {
        Self::of(r.interval_seconds, r.cron.as_deref(), &r.timezone)
    }

    /// When the run after one at (or expected at) `t` is due.
    fn next_after(&self, t: i64) -> Option<i64> {
        match (&self.cron, self.interval_ms) {
            (Some((c, tz)), _) => c.next_after(t, tz),
            (None, Some(ms)) => Some(t + ms),
            (None, None) => None,
        }
    }
}

/// Queues the check for the run due at `due`, once per heartbeat and due time.
async fn schedule_check(c: &mut Conn<'_>, id: i64, due: i64, grace_ms: i64, now: i64) -> AppResult<()> {
    let payload = json!({"heartbeat_id": id, "due": due}).to_string();
    let key = format!("heartbeat:{id}:{due}");
    let job = jobs::NewJob {
        kind: CHECK_JOB,
        payload: &payload,
        run_at: due + grace_ms,
        dedupe_key: Some(&key),
        max_attempts: 10,
    };
    jobs::enqueue(c, &job, now).await?;
    Ok(())
}

fn cut_log(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= LOG_MAX {
        return text.into_owned();
    }
    let mut end = LOG_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[… log cut at {LOG_MAX} bytes]", &text[..end])
}

impl App {
    /// Adds a heartbeat (leads, admins); the ping URLs are in the answer, once.
    pub async fn create_heartbeat(&self, actor: &Actor, input: HeartbeatInput) -> AppResult<HeartbeatWithToken> {
        crate::kernel::access::require_lead(actor, "manage heartbeats")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let v = heartbeat_fields(&mut c, &input, None).await?;
        let schedule = Schedule::of(v.interval_seconds, v.cron.as_deref(), &v.timezone)?;
        let due = if v.enabled { schedule.next_after(now) } else { None };
        let requester = match users::find_by_email(&mut c, REQUESTER).await? {
            Some(u) => u.id,
            None => users::insert_requester(&mut c, REQUESTER, "Monitoring: heartbeats", now).await?,
        };
        let token = new_token(TOKEN_PREFIX);
        let id = match store::insert_heartbeat(&mut c, &v.settings(), (&hash_token(&token), requester), due, now).await
        {
            Err(orion_store::StoreError::Duplicate) => {
                return Err(invalid("name", format!("a heartbeat named {:?} exists", v.name)));
            }
            other => other?,
        };
        if let Some(due) = due {
            schedule_check(&mut c, id, due, v.grace_seconds * 1000, now).await?;
        }
        let row = store::get_heartbeat(&mut c, id).await?;
        self.commit(tx).await?;
        self.job_wake.notify_one();
        Ok(HeartbeatWithToken::new(row.into(), token))
    }

    /// Changes a heartbeat (leads, admins); a new schedule counts from now.
    pub async fn update_heartbeat(&self, actor: &Actor, id: i64, input: HeartbeatInput) -> AppResult<Heartbeat> {
        crate::kernel::access::require_lead(actor, "manage heartbeats")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let current = found(store::get_heartbeat(&mut c, id).await, "heartbeat")?;
        let v = heartbeat_fields(&mut c, &input, Some(&current)).await?;
        let schedule = Schedule::of(v.interval_seconds, v.cron.as_deref(), &v.timezone)?;
        let from = current.last_ping_at.unwrap_or(now).max(now);
        let due = if v.enabled { schedule.next_after(from) } else { None };
        match store::update_heartbeat(&mut c, id, &v.settings(), due, now).await {
            Err(orion_store::StoreError::Duplicate) => {
                return Err(invalid("name", format!("a heartbeat named {:?} exists", v.name)));
            }
            other => other?,
        }
        if let Some(due) = due {
            schedule_check(&mut c, id, due, v.grace_seconds * 1000, now).await?;
        }
        let row = store::get_heartbeat(&mut c, id).await?;
        self.commit(tx).await?;
        self.job_wake.notify_one();
        Ok(row.into())
    }

    /// Replaces a heartbeat's token (leads, admins); the old URLs stop working at once.
    pub async fn rotate_heartbeat_token(&self, actor: &Actor, id: i64) -> AppResult<HeartbeatWithToken> {
        crate::kernel::access::require_lead(actor, "manage heartbeats")?;
        let now = self.now();
        let token = new_token(TOKEN_PREFIX);
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        found(store::get_heartbeat(&mut c, id).await, "heartbeat")?;
        store::set_heartbeat_token(&mut c, id, &hash_token(&token), now).await?;
        let row = store::get_heartbeat(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(HeartbeatWithToken::new(row.into(), token))
    }

    /// The backup board: every heartbeat with its last run, result, duration and next due (staff).
    pub async fn list_heartbeats(&self, actor: &Actor) -> AppResult<Vec<Heartbeat>> {
        crate::kernel::access::require_staff(actor, "see heartbeats")?;
        let mut r = self.db.read().await?;
        Ok(store::list_heartbeats(&mut r.conn()).await?.into_iter().map(Into::into).collect())
    }

    /// A heartbeat's runs, newest first (staff).
    pub async fn heartbeat_runs(
        &self,
        actor: &Actor,
        id: i64,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<HeartbeatRun>> {
        crate::kernel::access::require_staff(actor, "see heartbeats")?;
        let limit = crate::kernel::paging::parse_limit(limit)?;
        let before = crate::kernel::paging::parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        found(store::get_heartbeat(&mut c, id).await, "heartbeat")?;
        let mut rows = store::list_runs(&mut c, id, before, limit + 1).await?;
        let next_cursor = crate::kernel::paging::keyset_cursor(&mut rows, limit, |r| r.id);
        let items = rows
            .into_iter()
            .map(|r| HeartbeatRun {
                id: r.id,
                at: Timestamp(r.at).to_rfc3339(),
                outcome: r.outcome,
                duration_ms: r.duration_ms,
                log: r.log,
                incident: r.ticket_number,
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    /// A job's ping. The token is the only credential; an unknown one is "not found".
    pub async fn ping_heartbeat(&self, token: &str, ping: Ping, body: &[u8]) -> AppResult<PingReply> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
            return Err(AppError::NotFound("heartbeat"));
        }
        let now = self.now();
        let log = cut_log(body);
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let h =
            store::find_heartbeat_by_token(&mut c, &hash_token(token)).await?.ok_or(AppError::NotFound("heartbeat"))?;
        let schedule = Schedule::of_row(&h)?;
        let grace_ms = h.grace_seconds * 1000;
        let open_ticket =
            h.ticket_id.filter(|_| h.ticket_state.as_deref().is_some_and(|s| !matches!(s, "resolved" | "closed")));
        let mut state = HeartbeatState {
            status: "ok",
            started_at: h.started_at,
            last_ping_at: Some(now),
            last_ok_at: h.last_ok_at,
            last_duration_ms: h.last_duration_ms,
            next_due_at: h.next_due_at,
            ticket_id: h.ticket_id,
        };
        // A run that started within a day is the one finishing now.
        let duration = h.started_at.filter(|s| now - s < 86_400_000 && h.status == "running").map(|s| now - s);
        let mut incident = None;
        match ping {
            Ping::Start => {
                state.status = "running";
                state.started_at = Some(now);
                state.last_ping_at = h.last_ping_at;
                store::insert_run(&mut c, h.id, ("start", None, &log), None, now).await?;
            }
            Ping::Ok => {
                state.last_ok_at = Some(now);
                state.last_duration_ms = duration.or(h.last_duration_ms);
                state.started_at = None;
                state.next_due_at = if h.enabled { schedule.next_after(now) } else { None };
                store::insert_run(&mut c, h.id, ("ok", duration, &log), None, now).await?;
                if let Some(t) = open_ticket {
                    let body = format!(
                        "Recovered: {} ran successfully at {}.{}",
                        h.name,
                        Timestamp(now).to_rfc3339(),
                        duration.map(|d| format!(" It took {} s.", d / 1000)).unwrap_or_default()
                    );
                    crate::tickets::internal_note(
                        &mut c,
                        t,
                        now,
                        "heartbeat",
                        &body,
                        &json!({"outcome": "ok"}).to_string(),
                    )
                    .await?;
                    metrics::counter!("orion_heartbeat_recoveries_total").increment(1);
                }
            }
            Ping::Fail => {
                state.status = "failed";
                state.last_duration_ms = duration.or(h.last_duration_ms);
                state.started_at = None;
                state.next_due_at = if h.enabled { schedule.next_after(now) } else { None };
                let what = format!("{} reported a failure", h.name);
                let t = self.heartbeat_incident(&mut c, &h, open_ticket, &what, &log, now).await?;
                state.ticket_id = Some(t);
                store::insert_run(&mut c, h.id, ("fail", duration, &log), Some(t), now).await?;
                incident = Some(orion_store::tickets::get(&mut c, t).await?.number);
            }
        }
        if ping != Ping::Start
            && let Some(due) = state.next_due_at
        {
            schedule_check(&mut c, h.id, due, grace_ms, now).await?;
        }
        store::set_heartbeat_state(&mut c, h.id, &state, now).await?;
        self.commit(tx).await?;
        self.job_wake.notify_one();
        metrics::counter!("orion_heartbeat_pings_total", "outcome" => match ping {
            Ping::Start => "start",
            Ping::Ok => "ok",
            Ping::Fail => "fail",
        })
        .increment(1);
        Ok(PingReply {
            heartbeat: h.name,
            status: state.status.into(),
            next_due_at: state.next_due_at.map(|t| Timestamp(t).to_rfc3339()),
            incident,
        })
    }

    /// The `heartbeat.check` job: the run due at `due` has not been reported by its deadline.
    pub async fn check_heartbeat(&self, id: i64, due: i64) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let h = match store::get_heartbeat(&mut c, id).await {
            Err(orion_store::StoreError::NotFound) => return Ok(()),
            other => other?,
        };
        // A ping (or a schedule change) since moved the deadline on: nothing was missed.
        if !h.enabled || h.next_due_at != Some(due) || now < due + h.grace_seconds * 1000 {
            return Ok(());
        }
        let schedule = Schedule::of_row(&h)?;
        let open_ticket =
            h.ticket_id.filter(|_| h.ticket_state.as_deref().is_some_and(|s| !matches!(s, "resolved" | "closed")));
        let what = format!("{} did not report a run due at {}", h.name, Timestamp(due).to_rfc3339());
        let log = format!(
            "No ping by {} (due {} + {} s grace).",
            Timestamp(now).to_rfc3339(),
            Timestamp(due).to_rfc3339(),
            h.grace_seconds
        );
        let t = self.heartbeat_incident(&mut c, &h, open_ticket, &what, "", now).await?;
        store::insert_run(&mut c, h.id, ("missed", None, &log), Some(t), now).await?;
        // Expect the following run; keep reporting while it stays silent.
        let mut next = schedule.next_after(due);
        while let Some(n) = next.filter(|n| *n + h.grace_seconds * 1000 <= now) {
            next = schedule.next_after(n);
        }
        if let Some(n) = next {
            schedule_check(&mut c, h.id, n, h.grace_seconds * 1000, now).await?;
        }
        let state = HeartbeatState {
            status: "missed",
            started_at: h.started_at,
            last_ping_at: h.last_ping_at,
            last_ok_at: h.last_ok_at,
            last_duration_ms: h.last_duration_ms,
            next_due_at: next,
            ticket_id: Some(t),
        };
        store::set_heartbeat_state(&mut c, h.id, &state, now).await?;
        self.commit(tx).await?;
        metrics::counter!("orion_heartbeat_missed_total").increment(1);
        Ok(())
    }

    /// Adds the failure to the heartbeat's open incident, or opens one; the log is attached.
    async fn heartbeat_incident(
        &self,
        c: &mut Conn<'_>,
        h: &HeartbeatRow,
        open: Option<i64>,
        what: &str,
        log: &str,
        now: i64,
    ) -> AppResult<i64> {
        let excerpt: String = log.chars().rev().take(2000).collect::<Vec<_>>().into_iter().rev().collect();
        let body = if log.is_empty() { what.to_string() } else { format!("{what}.\n\nEnd of the log:\n{excerpt}") };
        let ticket = match open {
            Some(t) if log.is_empty() => {
                crate::tickets::internal_note(c, t, now, "heartbeat", &body, &json!({"outcome": "fail"}).to_string())
                    .await?;
                t
            }
            Some(t) => t,
            None => {
                let noun = if h.kind == "backup" { "Backup" } else { "Scheduled job" };
                let title = if log.is_empty() && what.contains("did not report") {
                    format!("{noun} did not run: {}", h.name)
                } else {
                    format!("{noun} failed: {}", h.name)
                };
                let schedule = h.cron.clone().map_or_else(
                    || format!("every {} s", h.interval_seconds.unwrap_or(0)),
                    |c| format!("cron {c} {}", h.timezone),
                );
                let mut description = format!("{body}\n\nHeartbeat \"{}\" ({schedule}).", h.name);
                if !h.description.is_empty() {
                    description = format!("{description}\n{}", h.description);
                }
                let incident = super::MonitoringIncident {
                    group_id: h.group_id,
                    requester_id: h.requester_id,
                    title,
                    description,
                    levels: (Level::parse("impact", 2)?, Level::parse("urgency", 2)?),
                    category: None,
                    data: json!({"heartbeat": h.name}),
                };
                self.open_monitoring_incident(c, incident, now).await?
            }
        };
        if !log.is_empty() {
            let bytes = log.as_bytes();
            let sha = orion_mail::sha256_hex(bytes);
            mail::put_blob(c, &sha, bytes, now).await?;
            let stamp = Timestamp(now).to_rfc3339().replace([':', '.'], "-");
            let filename = format!("{}-{stamp}.log", h.name.replace(|ch: char| !ch.is_ascii_alphanumeric(), "-"));
            let a = mail::NewAttachment {
                ticket_id: ticket,
                entry_id: None,
                filename: &filename,
                content_type: "text/plain; charset=utf-8",
                size: bytes.len() as i64,
                sha256: &sha,
                content_id: None,
                inline: false,
            };
            let file = mail::add_attachment(c, &a, now).await?;
            // The log rides on a note of its own, so the timeline lists it as a file.
            let note = if open.is_some() { body.clone() } else { format!("The log of the failed run: {filename}") };
            let data = json!({"outcome": "fail", "attachments": [{"id": file, "filename": filename,
                "content_type": "text/plain; charset=utf-8", "size": bytes.len(), "inline": false}]});
            let entry = crate::tickets::internal_note(c, ticket, now, "heartbeat", &note, &data.to_string()).await?;
            mail::attach_to_entry(c, &[file], entry).await?;
        }
        Ok(ticket)
    }
}

struct ValidHeartbeat {
    name: String,
    kind: &'static str,
    description: String,
    group_id: i64,
    interval_seconds: Option<i64>,
    cron: Option<String>,
    timezone: String,
    grace_seconds: i64,
    enabled: bool,
}

impl ValidHeartbeat {
    fn settings(&self) -> HeartbeatSettings<'_> {
        HeartbeatSettings {
            name: &self.name,
            kind: self.kind,
            description: &self.description,
            group_id: self.group_id,
            interval_seconds: self.interval_seconds,
            cron: self.cron.as_deref(),
            timezone: &self.timezone,
            grace_seconds: self.grace_seconds,
            enabled: self.enabled,
        }
    }
}

async fn heartbeat_fields(
    c: &mut Conn<'_>,
    input: &HeartbeatInput,
    cur: Option<&HeartbeatRow>,
) -> AppResult<ValidHeartbeat> {
    let mut errs = FieldErrors::new();
    let name = match (input.name.as_deref(), cur) {
        (Some(n), _) => errs.check(orion_domain::error::required_text("name", n, 100)),
        (None, Some(h)) => Some(h.name.clone()),
        (None, None) => {
            errs.push("name", "is required");
            None
        }
    };
    let kind = match input.kind.as_deref().or(cur.map(|h| h.kind.as_str())).unwrap_or("backup") {
        "backup" => "backup",
        "job" => "job",
        other => {
            errs.push("kind", format!("must be backup or job, not {other:?}"));
            "backup"
        }
    };
    // A schedule given in the input replaces the whole current one.
    let (interval, cron) = if input.interval_seconds.is_some() || input.cron.is_some() {
        (input.interval_seconds, input.cron.clone().map(|c| c.trim().to_string()))
    } else {
        (cur.and_then(|h| h.interval_seconds), cur.and_then(|h| h.cron.clone()))
    };
    match (interval, &cron) {
        (Some(_), Some(_)) => errs.push("cron", "give either interval_seconds or cron, not both"),
        (None, None) => errs.push("interval_seconds", "give interval_seconds or cron"),
        (Some(s), None) if !(60..=90 * 86_400).contains(&s) => {
            errs.push("interval_seconds", "must be 60 seconds to 90 days");
        }
        (None, Some(c)) => {
            errs.check(Cron::parse("cron", c));
        }
        _ => {}
    }
    let timezone = input.timezone.clone().or(cur.map(|h| h.timezone.clone())).unwrap_or_else(|| "UTC".into());
    if jiff::tz::TimeZone::get(&timezone).is_err() {
        errs.push("timezone", format!("unknown time zone {timezone:?} (use an IANA name like Europe/Berlin)"));
    }
    let default_grace = match interval {
        Some(s) => (s / 10).max(300),
        None => 3600,
    };
    let grace = input.grace_seconds.or(cur.map(|h| h.grace_seconds)).unwrap_or(default_grace);
    if !(0..=7 * 86_400).contains(&grace) {
        errs.push("grace_seconds", "must be 0 to 7 days");
    }
    let group_id =
        super::owning_group(c, input.assignment_group.as_deref(), cur.map(|h| h.group_id), &mut errs).await?;
    let description = input.description.clone().or(cur.map(|h| h.description.clone())).unwrap_or_default();
    if description.chars().count() > 2000 {
        errs.push("description", "must be at most 2000 characters");
    }
    errs.into_result()?;
    let (Some(name), Some(group_id)) = (name, group_id) else {
        return Err(AppError::Internal("validated input incomplete".into()));
    };
    Ok(ValidHeartbeat {
        name,
        kind,
        description: description.trim().to_string(),
        group_id,
        interval_seconds: interval,
        cron,
        timezone,
        grace_seconds: grace,
        enabled: input.enabled.unwrap_or(cur.is_none_or(|h| h.enabled)),
    })
}
