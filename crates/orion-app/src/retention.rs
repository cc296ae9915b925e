//! Retention of logs: how long Orion keeps each of its logs (webhook deliveries, heartbeat runs,
//! resolved alerts, rejected and sent mail, directory runs, the security log, notifications,
//! failed jobs), and the daily job that removes what is older, in small batches. Tickets, their
//! timelines, articles and assets are records, not logs: retention never touches them.

use crate::kernel::access::require_admin;
use crate::{App, AppError, AppResult};
use orion_domain::{Actor, FieldErrors, Timestamp};
use orion_store::retention as store;
pub use orion_store::retention::{LOGS, Log};
use orion_store::{Conn, settings, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const PURGE_JOB: &str = "retention.purge";
const SETTINGS_KEY: &str = "retention";
const LAST_RUN_KEY: &str = "retention_last_run";
const DAY_MS: i64 = 86_400_000;
/// The daily run starts at this time of day (UTC), when desks are quiet.
const RUN_AT_MS: i64 = 3 * 3_600_000;
/// Entries removed per write transaction.
const BATCH: i64 = 500;
/// Batches per log in one run; what is left goes in a follow-up run a minute later.
const MAX_BATCHES: usize = 200;
/// The longest a log can be kept (ten years); 0 keeps it for good.
const MAX_DAYS: i64 = 3650;

/// How many days each log is kept; 0 keeps it for good.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Webhook deliveries that were delivered, failed for good or cancelled
    #[schema(minimum = 0, maximum = 3650)]
    pub webhook_deliveries: i64,
    /// Heartbeat pings and missed runs
    #[schema(minimum = 0, maximum = 3650)]
    pub heartbeat_runs: i64,
    /// Monitoring alerts, counted from when they resolved
    #[schema(minimum = 0, maximum = 3650)]
    pub resolved_alerts: i64,
    /// Incoming mail that made no ticket (bounces, discarded mail), with its raw copy
    #[schema(minimum = 0, maximum = 3650)]
    pub rejected_mail: i64,
    /// The outgoing mail log, with each message's raw copy
    #[schema(minimum = 0, maximum = 3650)]
    pub sent_mail: i64,
    /// Directory sync runs and previews
    #[schema(minimum = 0, maximum = 3650)]
    pub directory_runs: i64,
    /// The security log: sign-ins, refusals, settings changes
    #[schema(minimum = 0, maximum = 3650)]
    pub security_log: i64,
    /// In-app notifications, read or not
    #[schema(minimum = 0, maximum = 3650)]
    pub notifications: i64,
    /// Background jobs that gave up after their last attempt
    #[schema(minimum = 0, maximum = 3650)]
    pub failed_jobs: i64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            webhook_deliveries: 30,
            heartbeat_runs: 30,
            resolved_alerts: 180,
            rejected_mail: 90,
            sent_mail: 180,
            directory_runs: 180,
            security_log: 365,
            notifications: 90,
            failed_jobs: 30,
        }
    }
}

/// Each log's key (the settings field), what people call it, and what it holds.
pub fn describe(log: Log) -> (&'static str, &'static str, &'static str) {
    match log {
        Log::WebhookDeliveries => (
            "webhook_deliveries",
            "Webhook deliveries",
            "Each event sent to a webhook, with the receiver's answer. Deliveries still being retried stay.",
        ),
        Log::HeartbeatRuns => {
            ("heartbeat_runs", "Heartbeat runs", "Each ping from a backup or job, and each missed run.")
        }
        Log::ResolvedAlerts => (
            "resolved_alerts",
            "Resolved alerts",
            "Monitoring alerts, counted from when they resolved. Firing alerts stay.",
        ),
        Log::RejectedMail => (
            "rejected_mail",
            "Mail that made no ticket",
            "Bounces and discarded mail, with their raw copies. Mail in quarantine and mail that became part of a ticket stay.",
        ),
        Log::SentMail => (
            "sent_mail",
            "Outgoing mail log",
            "Each mail Orion sent or held back, with its raw copy. Mail waiting to be sent stays; the replies on tickets stay.",
        ),
        Log::DirectoryRuns => ("directory_runs", "Directory sync runs", "Each sync and preview with what it changed."),
        Log::SecurityLog => {
            ("security_log", "Security log", "Sign-ins, refused sign-ins and security settings changes.")
        }
        Log::Notifications => ("notifications", "Notifications", "What agents were told in the console, read or not."),
        Log::FailedJobs => {
            ("failed_jobs", "Failed background work", "Background jobs that gave up after their last attempt.")
        }
    }
}

impl RetentionSettings {
    /// How many days `log` is kept (0: for good).
    pub fn days(&self, log: Log) -> i64 {
        match log {
            Log::WebhookDeliveries => self.webhook_deliveries,
            Log::HeartbeatRuns => self.heartbeat_runs,
            Log::ResolvedAlerts => self.resolved_alerts,
            Log::RejectedMail => self.rejected_mail,
            Log::SentMail => self.sent_mail,
            Log::DirectoryRuns => self.directory_runs,
            Log::SecurityLog => self.security_log,
            Log::Notifications => self.notifications,
            Log::FailedJobs => self.failed_jobs,
        }
    }

    fn check(&self) -> AppResult<()> {
        let mut errs = FieldErrors::new();
        for &log in LOGS {
            let d = self.days(log);
            if !(0..=MAX_DAYS).contains(&d) {
                errs.push(describe(log).0, "must be 0 (keep for good) to 3650 days");
            }
        }
        if (1..30).contains(&self.security_log) {
            errs.push("security_log", "must be kept at least 30 days (or 0, for good): it is the trace of sign-ins");
        }
        Ok(errs.into_result()?)
    }
}

/// What one log lost in a run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Removed {
    /// The log's key, as in the settings
    pub log: String,
    pub label: String,
    /// Days kept when the run removed them (0: kept for good, nothing removed)
    pub days: i64,
    /// Entries removed
    pub entries: u64,
    /// Whether entries older than the limit are left for the next run (it comes a minute later)
    pub more: bool,
}

/// What a run removed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct PurgeReport {
    /// When the run started
    pub at: String,
    pub logs: Vec<Removed>,
    /// Expired sessions, sign-in challenges, password-reset links and the like, removed too
    pub expired: u64,
    /// `schedule` or `manual`
    pub started_by: String,
}

/// The settings, the last run and when the next one is due.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RetentionStatus {
    pub settings: RetentionSettings,
    pub last_run: Option<PurgeReport>,
    /// When the daily run next starts
    pub next_run_at: String,
}

async fn load(c: &mut Conn<'_>) -> AppResult<RetentionSettings> {
    match settings::get(c, SETTINGS_KEY).await? {
        Some(s) => serde_json::from_str(&s).map_err(|e| AppError::Internal(format!("stored retention settings: {e}"))),
        None => Ok(RetentionSettings::default()),
    }
}

/// The next daily slot after `now`.
fn next_slot(now: i64) -> i64 {
    let since = (now - RUN_AT_MS).rem_euclid(DAY_MS);
    now - since + DAY_MS
}

impl App {
    /// How long each log is kept (admins).
    pub async fn retention_settings(&self, actor: &Actor) -> AppResult<RetentionSettings> {
        require_admin(actor, "read retention settings")?;
        let mut r = self.db.read().await?;
        load(&mut r.conn()).await
    }

    /// The settings with the last run and the next (admins).
    pub async fn retention_status(&self, actor: &Actor) -> AppResult<RetentionStatus> {
        require_admin(actor, "read retention settings")?;
        let mut r = self.db.read().await?;
        let settings = load(&mut r.conn()).await?;
        let last_run = match orion_store::settings::get(&mut r.conn(), LAST_RUN_KEY).await? {
            Some(s) => serde_json::from_str(&s).ok(),
            None => None,
        };
        Ok(RetentionStatus { settings, last_run, next_run_at: Timestamp(next_slot(self.now())).to_rfc3339() })
    }

    /// Changes how long logs are kept (admins); the change is written to the security log.
    pub async fn set_retention(&self, actor: &Actor, s: RetentionSettings) -> AppResult<RetentionSettings> {
        require_admin(actor, "change retention settings")?;
        s.check()?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let old = load(&mut tx.conn()).await?;
        let changed: Vec<String> = LOGS
            .iter()
            .filter(|&&l| old.days(l) != s.days(l))
            .map(|&l| format!("{} {} → {} days", describe(l).0, old.days(l), s.days(l)))
            .collect();
        settings::put(&mut tx.conn(), SETTINGS_KEY, &serde_json::to_string(&s).unwrap_or_default(), now).await?;
        if !changed.is_empty() {
            let detail = format!("retention by user {}: {}", actor.id.0, changed.join(", "));
            let e = web::NewEvent {
                kind: "retention_changed",
                user_id: Some(actor.id.0),
                email: None,
                ip: None,
                detail: &detail,
            };
            web::log_event(&mut tx.conn(), &e, now).await?;
        }
        self.commit(tx).await?;
        Ok(s)
    }

    /// Removes what is older than its log's limit now (admins), and reports what went.
    pub async fn purge_logs_now(&self, actor: &Actor) -> AppResult<PurgeReport> {
        require_admin(actor, "remove old log entries")?;
        self.purge_logs("manual").await
    }

    /// One run over every log: each kept for good is skipped, the others lose their entries
    /// older than the limit, [`BATCH`] at a time in short transactions.
    pub async fn purge_logs(&self, started_by: &str) -> AppResult<PurgeReport> {
        let now = self.now();
        let settings = {
            let mut r = self.db.read().await?;
            load(&mut r.conn()).await?
        };
        let mut report = PurgeReport {
            at: Timestamp(now).to_rfc3339(),
            logs: Vec::new(),
            expired: 0,
            started_by: started_by.into(),
        };
        for &log in LOGS {
            let (key, label, _) = describe(log);
            let days = settings.days(log);
            let mut removed = Removed { log: key.into(), label: label.into(), days, entries: 0, more: false };
            if days > 0 {
                let cutoff = now - days * DAY_MS;
                let below = store::boundary(&mut self.db.read().await?.conn(), log, cutoff).await?;
                let mut after = 0;
                let mut batches = 0;
                loop {
                    let batch =
                        store::pick(&mut self.db.read().await?.conn(), log, cutoff, after, below, BATCH).await?;
                    if batch.ids.is_empty() {
                        break;
                    }
                    if batches == MAX_BATCHES {
                        removed.more = true;
                        break;
                    }
                    let mut tx = self.db.begin().await?;
                    removed.entries += store::remove(&mut tx.conn(), log, &batch).await?;
                    self.commit(tx).await?;
                    after = batch.last_id;
                    batches += 1;
                    tokio::task::yield_now().await;
                }
            }
            report.logs.push(removed);
        }
        let mut tx = self.db.begin().await?;
        report.expired = store::remove_expired(&mut tx.conn(), now).await?;
        settings::put(&mut tx.conn(), LAST_RUN_KEY, &serde_json::to_string(&report).unwrap_or_default(), now).await?;
        self.commit(tx).await?;
        if report.logs.iter().any(|l| l.more) {
            self.enqueue(
                PURGE_JOB,
                &serde_json::json!({"follow_up": true}),
                now + 60_000,
                Some("retention.purge@follow-up"),
            )
            .await?;
        }
        tracing::info!(
            removed = report.logs.iter().map(|l| l.entries).sum::<u64>(),
            expired = report.expired,
            "old log entries removed"
        );
        Ok(report)
    }

    /// Queues the next daily run (one per day, whichever node queues it first).
    pub async fn schedule_purge(&self) -> AppResult<()> {
        let slot = next_slot(self.now());
        let key = format!("{PURGE_JOB}@{slot}");
        self.enqueue(PURGE_JOB, &serde_json::json!({"slot": Timestamp(slot).to_rfc3339()}), slot, Some(&key)).await?;
        Ok(())
    }

    /// The job: run, then queue the next day's (a follow-up run queues nothing more).
    pub async fn run_purge_job(&self, follow_up: bool) -> AppResult<()> {
        self.purge_logs("schedule").await?;
        if !follow_up {
            self.schedule_purge().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use orion_store::sql::Sql;
    use orion_store::{Db, DbOptions};
    use orion_testkit::Engine;
    use std::sync::Arc;

    const NOW: i64 = 1_800_000_000_000;

    async fn app_on_fresh_db(engine: Engine) -> Option<(App, tempfile::TempDir)> {
        let dir = tempfile::tempdir().unwrap();
        let url = orion_testkit::fresh_database(engine, dir.path()).await?;
        let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
        db.migrate().await.unwrap();
        Some((App::new(db, Arc::new(ManualClock::new(Timestamp(NOW)))), dir))
    }

    /// Runs literal SQL (test rows; `{old}` and `{new}` stand for 400 days and 1 day ago).
    async fn exec(app: &App, sql: &str) {
        let sql = sql.replace("{old}", &(NOW - 400 * DAY_MS).to_string()).replace("{new}", &(NOW - DAY_MS).to_string());
        let mut tx = app.db.begin().await.unwrap();
        orion_store::execute_sql!(&mut tx.conn(), &Sql::new(&sql)).unwrap_or_else(|e| panic!("{sql}: {e}"));
        tx.commit().await.unwrap();
    }

    async fn ids(app: &App, sql: &str) -> Vec<i64> {
        let mut r = app.db.read().await.unwrap();
        let rows: Vec<(i64,)> = orion_store::fetch_all_sql!(&mut r.conn(), (i64,), &Sql::new(sql)).unwrap();
        rows.into_iter().map(|(id,)| id).collect()
    }

    async fn blobs(app: &App) -> Vec<String> {
        let mut r = app.db.read().await.unwrap();
        let rows: Vec<(String,)> =
            orion_store::fetch_all_sql!(&mut r.conn(), (String,), &Sql::new("SELECT sha256 FROM blob ORDER BY sha256"))
                .unwrap();
        rows.into_iter().map(|(s,)| s).collect()
    }

    /// Each log loses exactly its entries that are old enough and settled; what is still at work,
    /// recent, or part of a ticket stays; a raw copy goes with the last entry naming it.
    async fn old_settled_entries_go_and_everything_else_stays(engine: Engine) {
        let Some((app, _dir)) = app_on_fresh_db(engine).await else { return };
        exec(&app, "INSERT INTO app_user (id, email, name, role, created_at, updated_at) VALUES (1, 'a@example.com', 'A', 'admin', 1, 1)").await;
        exec(&app, "INSERT INTO agent_group (id, name, tier, created_at, updated_at) VALUES (1, 'Desk', 1, 1, 1)")
            .await;
        // The security log: 1,200 old entries (three batches) and one recent.
        let values: Vec<String> = (0..1200).map(|i| format!("({{old}} + {i}, 'sign_in', 'x')")).collect();
        exec(&app, &format!("INSERT INTO security_event (at, kind, detail) VALUES {}", values.join(", "))).await;
        exec(&app, "INSERT INTO security_event (id, at, kind, detail) VALUES (5000, {new}, 'sign_in', 'recent')").await;
        // Jobs: dead and old goes; pending (however old) and recently dead stay.
        exec(
            &app,
            "INSERT INTO job (id, kind, state, run_at, created_at) VALUES
            (1, 'x', 'dead', {old}, {old}), (2, 'x', 'pending', {new}, {old}), (3, 'x', 'dead', {new}, {new})",
        )
        .await;
        exec(
            &app,
            "INSERT INTO notification (id, user_id, kind, message, created_at) VALUES
            (1, 1, 'x', 'old', {old}), (2, 1, 'x', 'new', {new})",
        )
        .await;
        // Webhook deliveries: an old delivered one was sent again (the repeat stays, unlinked);
        // an old one still retrying stays.
        exec(
            &app,
            "INSERT INTO webhook (id, name, url, secret, events, format, created_at, updated_at)
            VALUES (1, 'w', 'http://127.0.0.1:9/', 's', '[]', 'json', 1, 1)",
        )
        .await;
        exec(
            &app,
            "INSERT INTO webhook_delivery (id, webhook_id, event, body, status, created_at, redelivery_of) VALUES
            (1, 1, 'e', '{}', 'delivered', {old}, NULL), (2, 1, 'e', '{}', 'retrying', {old}, NULL),
            (3, 1, 'e', '{}', 'delivered', {new}, 1)",
        )
        .await;
        // Alerts: resolved long ago goes; still firing, or resolved lately, stays.
        exec(
            &app,
            "INSERT INTO integration (id, name, kind, token_hash, group_id, requester_id, created_at, updated_at)
            VALUES (1, 'am', 'alertmanager', 'h', 1, 1, 1, 1)",
        )
        .await;
        exec(&app, "INSERT INTO alert (id, integration_id, fingerprint, status, severity, summary, first_seen_at, last_seen_at, starts_at, resolved_at) VALUES
            (1, 1, 'a', 'resolved', 'critical', 's', {old}, {old}, {old}, {old}),
            (2, 1, 'b', 'firing', 'critical', 's', {old}, {new}, {old}, NULL),
            (3, 1, 'c', 'resolved', 'critical', 's', {old}, {new}, {old}, {new})").await;
        // Mail: blob 'x' is named by an old bounce and a recent sent mail; 'y' only by an old
        // discarded mail; 'z' only by an old sent mail; 't' by a ticket's mail.
        {
            let mut tx = app.db.begin().await.unwrap();
            for sha in ["t", "x", "y", "z", "q"] {
                orion_store::mail::put_blob(&mut tx.conn(), sha, b"raw", NOW).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
        exec(&app, "INSERT INTO mail_inbound (id, received_at, source, raw_sha256, content_hash, size, subject, status, processed_at) VALUES
            (1, {old}, 'imap', 'x', 'h1', 3, 's', 'bounce', {old}),
            (2, {old}, 'imap', 'y', 'h2', 3, 's', 'discarded', {old}),
            (3, {old}, 'imap', 't', 'h3', 3, 's', 'ticket_created', {old}),
            (4, {old}, 'imap', 'q', 'h4', 3, 's', 'quarantined', {old}),
            (5, {old}, 'imap', 'q', 'h5', 3, 's', 'discarded', {new})").await;
        exec(&app, "INSERT INTO mail_outbound (id, template, sender, automatic, recipients, message_id, subject, raw_sha256, status, created_at) VALUES
            (1, 't', 'd@example.com', TRUE, 'r', 'm1', 's', 'z', 'sent', {old}),
            (2, 't', 'd@example.com', TRUE, 'r', 'm2', 's', 'z', 'queued', {old}),
            (3, 't', 'd@example.com', TRUE, 'r', 'm3', 's', 'x', 'sent', {new})").await;
        exec(
            &app,
            "INSERT INTO web_session (id_hash, user_id, created_at, last_seen_at, expires_at) VALUES
            ('gone', 1, {old}, {old}, {old}), ('live', 1, {new}, {new}, {now})"
                .replace("{now}", &(NOW + DAY_MS).to_string())
                .as_str(),
        )
        .await;

        let report = app.purge_logs("manual").await.unwrap();
        let removed: std::collections::HashMap<_, _> =
            report.logs.iter().map(|l| (l.log.as_str(), l.entries)).collect();
        assert_eq!(removed["security_log"], 1200);
        assert_eq!(
            [
                removed["failed_jobs"],
                removed["notifications"],
                removed["webhook_deliveries"],
                removed["resolved_alerts"]
            ],
            [1, 1, 1, 1]
        );
        assert_eq!((removed["rejected_mail"], removed["sent_mail"]), (2, 1));
        assert_eq!(report.expired, 1);
        assert_eq!(ids(&app, "SELECT id FROM security_event ORDER BY id").await, [5000]);
        assert_eq!(ids(&app, "SELECT id FROM job ORDER BY id").await, [2, 3]);
        assert_eq!(ids(&app, "SELECT id FROM notification ORDER BY id").await, [2]);
        assert_eq!(ids(&app, "SELECT id FROM webhook_delivery ORDER BY id").await, [2, 3]);
        assert_eq!(ids(&app, "SELECT COUNT(*) FROM webhook_delivery WHERE redelivery_of IS NOT NULL").await, [0]);
        assert_eq!(ids(&app, "SELECT id FROM alert ORDER BY id").await, [2, 3]);
        assert_eq!(ids(&app, "SELECT id FROM mail_inbound ORDER BY id").await, [3, 4, 5]);
        assert_eq!(ids(&app, "SELECT id FROM mail_outbound ORDER BY id").await, [2, 3]);
        assert_eq!(blobs(&app).await, ["q", "t", "x", "z"], "y went with its only mail; z stays for the queued one");
        assert_eq!(ids(&app, "SELECT COUNT(*) FROM web_session").await, [1]);

        // Kept for good: nothing of that log goes. A second run finds nothing more.
        let s = RetentionSettings { security_log: 0, ..RetentionSettings::default() };
        let admin = Actor { id: orion_domain::UserId(1), role: orion_domain::Role::Admin };
        app.set_retention(&admin, s).await.unwrap();
        exec(&app, "INSERT INTO security_event (at, kind, detail) VALUES ({old}, 'sign_in', 'kept')").await;
        let report = app.purge_logs("schedule").await.unwrap();
        assert!(report.logs.iter().all(|l| l.entries == 0), "{report:?}");
        assert_eq!(ids(&app, "SELECT COUNT(*) FROM security_event WHERE detail = 'kept'").await, [1]);
        // The change itself is in the security log, with who made it.
        assert_eq!(
            ids(&app, "SELECT COUNT(*) FROM security_event WHERE kind = 'retention_changed' AND user_id = 1").await,
            [1]
        );
        let status = app.retention_status(&admin).await.unwrap();
        assert_eq!(status.last_run.map(|r| r.started_by), Some("schedule".to_string()));
        // Agents may neither read nor change it.
        let agent = Actor { id: orion_domain::UserId(1), role: orion_domain::Role::Agent };
        assert!(matches!(app.retention_status(&agent).await, Err(AppError::Forbidden(_))));
        assert!(matches!(app.purge_logs_now(&agent).await, Err(AppError::Forbidden(_))));
    }

    orion_testkit::engine_tests!(old_settled_entries_go_and_everything_else_stays);

    #[test]
    fn the_daily_slot_is_the_next_three_in_the_morning() {
        let day = 20_000 * DAY_MS;
        assert_eq!(next_slot(day), day + RUN_AT_MS);
        assert_eq!(next_slot(day + RUN_AT_MS), day + DAY_MS + RUN_AT_MS);
        assert_eq!(next_slot(day + RUN_AT_MS - 1), day + RUN_AT_MS);
        assert_eq!(next_slot(day + 5 * 3_600_000), day + DAY_MS + RUN_AT_MS);
    }

    #[test]
    fn limits_name_the_log() {
        let s = RetentionSettings {
            sent_mail: -1,
            webhook_deliveries: 4000,
            security_log: 7,
            ..RetentionSettings::default()
        };
        let AppError::Validation(errs) = s.check().unwrap_err() else { panic!("not a validation error") };
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["webhook_deliveries", "sent_mail", "security_log"]);
        assert!(RetentionSettings { security_log: 0, ..RetentionSettings::default() }.check().is_ok());
        assert!(RetentionSettings::default().check().is_ok());
    }
}
