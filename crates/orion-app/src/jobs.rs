//! Background work: a worker claims due jobs from the durable queue, runs the
//! handler registered for each job's kind, and completes it or schedules a
//! retry with backoff. `run_due` is one testable step; `run` loops over it,
//! sleeping until the next job is due or someone enqueues one.

use crate::{App, AppResult};
use orion_store::jobs::{self, JobRow, NewJob};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use crate::kernel::jobs::{Handled, JobResult, SettleWork, retry_delay_ms};

type BoxedHandler = Arc<dyn Fn(App, JobRow) -> Pin<Box<dyn Future<Output = Handled> + Send>> + Send + Sync>;

/// How long a claimed job is ours before another worker may take it over.
const LEASE_MS: i64 = 5 * 60_000;
/// Jobs claimed per step.
const BATCH: i64 = 32;
/// One settling transaction holds the single writer about this long at most (then commits and
/// goes on in the next), so ticket intake between two of them waits no longer.
const SETTLE_SLICE: Duration = Duration::from_millis(2);
/// Lanes of one claim (a ticket's jobs, or a job about no ticket) run at once, at most this many.
const LANES: usize = 8;
/// After this long on one batch, its unstarted jobs are given back (half the lease, in real time).
const LEASE_GUARD: Duration = Duration::from_millis(LEASE_MS as u64 / 2);
/// Longest sleep: other nodes' new jobs are noticed at least this often.
const MAX_IDLE: Duration = Duration::from_secs(5);

/// What one step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepOutcome {
    pub completed: usize,
    pub retried: usize,
    pub dead: usize,
    /// When the next pending job is due, if any.
    pub next_due: Option<i64>,
}

/// A job worker for this node.
pub struct Worker {
    app: App,
    id: String,
    handlers: HashMap<String, BoxedHandler>,
    /// When the pending-jobs gauge was last counted (a count reads every pending job's index
    /// entry: at a million open tickets' SLA timers, not something to do on every wake-up).
    counted_at: std::sync::Mutex<Option<std::time::Instant>>,
    /// Set when the node shuts down: the step in progress finishes the job it is running, gives
    /// the rest of its claim back and returns, instead of working through the whole backlog.
    stopping: std::sync::atomic::AtomicBool,
}

/// How often the pending-jobs gauge is recounted.
const COUNT_EVERY: Duration = Duration::from_secs(15);

impl Worker {
    /// `id` names this worker in leases (host and process, so a takeover is traceable).
    pub fn new(app: App, id: impl Into<String>) -> Self {
        Self {
            app,
            id: id.into(),
            handlers: HashMap::new(),
            counted_at: std::sync::Mutex::new(None),
            stopping: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Registers the handler for jobs of `kind`: it does all of its work itself.
    pub fn on<F, Fut>(self, kind: &str, handler: F) -> Self
    where
        F: Fn(App, JobRow) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = JobResult> + Send + 'static,
    {
        self.on_settled(kind, move |app, job| {
            let run = handler(app, job);
            async move { Handled::from(run.await) }
        })
    }

    /// Registers the handler for jobs of `kind` that leaves its database writes to the
    /// transaction settling its claim ([`SettleWork`]).
    pub fn on_settled<F, Fut>(mut self, kind: &str, handler: F) -> Self
    where
        F: Fn(App, JobRow) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Handled> + Send + 'static,
    {
        self.handlers.insert(kind.to_string(), Arc::new(move |app, job| Box::pin(handler(app, job))));
        self
    }

    /// Claims and runs every job due now (in batches), then reports when the next one is due.
    pub async fn run_due(&self) -> AppResult<StepOutcome> {
        let mut out = StepOutcome::default();
        while !self.stopping() {
            let now = self.app.now();
            // A look on a reader first: claiming takes the writer, which a wake-up with nothing
            // due (another node took the job, a timer for later) should not hold up.
            out.next_due = jobs::next_due(&mut self.app.db.read().await?.conn()).await?;
            if out.next_due.is_none_or(|due| due > now) {
                break;
            }
            let claimed = {
                let mut tx = self.app.db.begin_background().await?;
                let got = jobs::claim(&mut tx.conn(), &self.id, now, LEASE_MS, BATCH).await?;
                self.app.commit(tx).await?;
                got
            };
            if claimed.is_empty() {
                // Another node took them between the look and the claim.
                out.next_due = jobs::next_due(&mut self.app.db.read().await?.conn()).await?;
                break;
            }
            let (finished, unrun) = self.run_claim(claimed, std::time::Instant::now()).await;
            self.settle(finished, &unrun, &mut out).await?;
        }
        self.count_pending().await?;
        Ok(out)
    }

    /// Runs one claim: the jobs of one ticket one after another in the order they were queued (a
    /// ticket's mail and webhook deliveries go out in the order things happened to it), different
    /// tickets' at the same time, [`LANES`] at most. What ran, in queue order, and what was given
    /// back unrun.
    async fn run_claim(
        &self,
        claimed: Vec<JobRow>,
        claimed_at: std::time::Instant,
    ) -> (Vec<(JobRow, Handled)>, Vec<JobRow>) {
        use futures_util::StreamExt;
        let mut lanes: Vec<Vec<JobRow>> = Vec::new();
        let mut lane_of_ticket: HashMap<i64, usize> = HashMap::new();
        for job in claimed {
            match ticket_of(&job) {
                Some(ticket) => {
                    let lane = *lane_of_ticket.entry(ticket).or_insert_with(|| {
                        lanes.push(Vec::new());
                        lanes.len() - 1
                    });
                    lanes[lane].push(job);
                }
                None => lanes.push(vec![job]),
            }
        }
        let ran: Vec<_> = futures_util::stream::iter(lanes)
            .map(|lane| self.run_lane(lane, claimed_at))
            .buffer_unordered(LANES)
            .collect()
            .await;
        let (mut finished, mut unrun) = (Vec::new(), Vec::new());
        for (f, u) in ran {
            finished.extend(f);
            unrun.extend(u);
        }
        finished.sort_by_key(|(job, _)| job.id);
        (finished, unrun)
    }

    async fn run_lane(
        &self,
        lane: Vec<JobRow>,
        claimed_at: std::time::Instant,
    ) -> (Vec<(JobRow, Handled)>, Vec<JobRow>) {
        let mut finished = Vec::new();
        let mut lane = lane.into_iter();
        while let Some(job) = lane.next() {
            if claimed_at.elapsed() > LEASE_GUARD || self.stopping() {
                // Slow handlers (a webhook receiver timing out) used up half the lease: give the
                // rest back before another node may take them over and run them twice. So does a
                // node that shuts down: another node (or this one, restarted) takes them at once,
                // not when the lease ends.
                return (finished, std::iter::once(job).chain(lane).collect());
            }
            let handled = match self.handlers.get(&job.kind) {
                Some(h) => h(self.app.clone(), job.clone()).await,
                None => Handled::from(Err(format!("no handler for jobs of kind {:?} on this node", job.kind))),
            };
            finished.push((job, handled));
        }
        (finished, Vec::new())
    }

    /// Writes what became of the jobs of one claim (the worker shares the single writer with
    /// ticket intake): each handler's [`SettleWork`], done jobs deleted in one statement, failed
    /// ones due again later or dead, `unrun` ones given back, due at once. One transaction holds
    /// as many jobs as fit in [`SETTLE_SLICE`], so ticket intake waits for the writer no longer
    /// than that. If one job's work fails, its slice settles again job by job, so that only that
    /// job fails (and is retried). A crash before a commit runs those jobs again, as a lost lease
    /// would: handlers are idempotent, and a receiver may see a delivery twice (at least once,
    /// never lost).
    async fn settle(&self, finished: Vec<(JobRow, Handled)>, unrun: &[JobRow], out: &mut StepOutcome) -> AppResult<()> {
        let mut unrun = unrun;
        let mut rest = finished.into_iter().peekable();
        while rest.peek().is_some() || !unrun.is_empty() {
            let mut tx = self.app.db.begin_background().await?;
            let started = std::time::Instant::now();
            let mut slice = Vec::new();
            let mut failed = None;
            for (job, handled) in rest.by_ref() {
                if let Some(work) = &handled.settle
                    && let Err(e) = work.apply(&mut tx.conn()).await
                {
                    failed = Some((job.id, e));
                }
                slice.push((job, handled));
                if failed.is_some() || started.elapsed() > SETTLE_SLICE {
                    break;
                }
            }
            match failed {
                None => {
                    let outcomes = slice.into_iter().map(|(job, handled)| (job, handled.result));
                    self.write_outcomes(&mut tx.conn(), outcomes, unrun, out).await?;
                    self.app.commit(tx).await?;
                }
                Some((job, e)) => {
                    drop(tx);
                    tracing::warn!(job, error = %e, "recording a job's outcome failed; settling its jobs one by one");
                    self.settle_one_by_one(slice, unrun, out).await?;
                }
            }
            unrun = &[];
        }
        Ok(())
    }

    /// Settles `finished` each in its own transaction: a job whose work fails is retried with the
    /// reason, the others are written.
    async fn settle_one_by_one(
        &self,
        finished: Vec<(JobRow, Handled)>,
        unrun: &[JobRow],
        out: &mut StepOutcome,
    ) -> AppResult<()> {
        if !unrun.is_empty() {
            let mut tx = self.app.db.begin().await?;
            self.write_outcomes(&mut tx.conn(), std::iter::empty(), unrun, out).await?;
            self.app.commit(tx).await?;
        }
        for (job, handled) in finished {
            let mut tx = self.app.db.begin().await?;
            let mut result = handled.result;
            if let Some(work) = &handled.settle
                && let Err(e) = work.apply(&mut tx.conn()).await
            {
                drop(tx);
                tx = self.app.db.begin().await?;
                result = Err(format!("recording the outcome failed: {e}"));
            }
            self.write_outcomes(&mut tx.conn(), std::iter::once((job, result)), &[], out).await?;
            self.app.commit(tx).await?;
        }
        Ok(())
    }

    /// Gives `unrun` back, deletes the done jobs and schedules the failed ones' retries (or
    /// buries them), on `c`.
    async fn write_outcomes(
        &self,
        c: &mut orion_store::Conn<'_>,
        outcomes: impl Iterator<Item = (JobRow, JobResult)>,
        unrun: &[JobRow],
        out: &mut StepOutcome,
    ) -> AppResult<()> {
        let now = self.app.now();
        for j in unrun {
            jobs::release(c, j.id, &self.id, now).await?;
        }
        let mut done = Vec::new();
        for (job, result) in outcomes {
            match result {
                Ok(()) => done.push(job.id),
                Err(e) if job.attempts < job.max_attempts => {
                    let at = now + retry_delay_ms(job.attempts);
                    tracing::warn!(job = job.id, kind = %job.kind, attempt = job.attempts, error = %e, "job failed; will retry");
                    jobs::fail(c, job.id, &self.id, &e, Some(at)).await?;
                    out.retried += 1;
                }
                Err(e) => {
                    tracing::error!(job = job.id, kind = %job.kind, attempts = job.attempts, error = %e, "job failed for good");
                    jobs::fail(c, job.id, &self.id, &e, None).await?;
                    out.dead += 1;
                }
            }
        }
        jobs::complete_all(c, &done, &self.id).await?;
        out.completed += done.len();
        Ok(())
    }

    fn stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets the pending-jobs gauge, at most every [`COUNT_EVERY`].
    async fn count_pending(&self) -> AppResult<()> {
        {
            let mut at = self.counted_at.lock().unwrap_or_else(|e| e.into_inner());
            if at.is_some_and(|t| t.elapsed() < COUNT_EVERY) {
                return Ok(());
            }
            *at = Some(std::time::Instant::now());
        }
        let n = jobs::count_pending(&mut self.app.db.read().await?.conn()).await?;
        metrics::gauge!("orion_job_queue_pending").set(n as f64);
        Ok(())
    }

    /// Runs until `shutdown` resolves: a step, then sleep until the next due job,
    /// a local enqueue, or `MAX_IDLE`, whichever comes first.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let wake = self.app.job_wake.clone();
        tokio::pin!(shutdown);
        loop {
            let step = {
                let due = self.run_due();
                tokio::pin!(due);
                tokio::select! {
                    step = &mut due => step,
                    () = &mut shutdown => {
                        // Finish the job in hand and give the rest of the claim back.
                        self.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
                        if let Err(e) = due.await {
                            tracing::error!(error = %e, "job worker step failed while stopping");
                        }
                        return;
                    }
                }
            };
            let pause = match step {
                Ok(step) => step
                    .next_due
                    .map(|due| {
                        Duration::from_millis((due - self.app.now()).clamp(0, MAX_IDLE.as_millis() as i64) as u64)
                    })
                    .unwrap_or(MAX_IDLE),
                Err(e) => {
                    tracing::error!(error = %e, "job worker step failed");
                    MAX_IDLE
                }
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// The ticket a job is about (`ticket_id` in its payload), which orders it among its claim.
fn ticket_of(job: &JobRow) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(&job.payload).ok()?.get("ticket_id")?.as_i64()
}

/// A worker with every handler Orion has: what `orion serve` runs.
pub fn standard_worker(app: App, id: impl Into<String>) -> Worker {
    Worker::new(app, id)
        .on_settled(crate::sla::CHECK_JOB, |app, job| async move { app.sla_check_job(&job).await })
        .on_settled(crate::outbox::NOTIFY_JOB, |app, job| async move { app.notice_work(job) })
        .on_settled(crate::outbox::SEND_JOB, |app, job| async move { app.run_send(&job).await })
        .on(crate::monitoring::heartbeat::CHECK_JOB, |app, job| async move {
            let payload: serde_json::Value = serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
            let (Some(id), Some(due)) = (payload["heartbeat_id"].as_i64(), payload["due"].as_i64()) else {
                return Err("heartbeat.check without heartbeat_id and due".into());
            };
            app.check_heartbeat(id, due).await.map_err(|e| e.to_string())
        })
        .on_settled(crate::webhooks::DELIVER_JOB, |app, job| async move { app.run_delivery(&job).await })
        .on(crate::itsm::detect::DETECT_JOB, |app, _job| async move {
            app.run_detection_job().await.map_err(|e| e.to_string())
        })
        .on(crate::tickets::recheck::RECHECK_JOB, |app, job| async move { app.recheck_rules_job(&job).await })
        .on(crate::desk::AGENT_MAIL_JOB, |app, job| async move { app.agent_mail_job(&job).await })
        .on(crate::desk::DIGEST_JOB, |app, _job| async move { app.run_digest_job().await })
        .on(crate::reports::BACKFILL_JOB, |app, _job| async move {
            app.run_reports_backfill().await.map_err(|e| e.to_string())
        })
        .on(crate::reports::SNAPSHOT_JOB, |app, _job| async move { app.run_snapshot_job().await })
        .on(crate::reports::schedules::RUN_JOB, |app, job| async move { app.run_report_job(&job).await })
        .on(crate::surveys::SEND_JOB, |app, job| async move { app.run_survey_job(&job).await })
        .on(crate::catalog::APPROVAL_CHECK_JOB, |app, job| async move { app.run_approval_check(&job).await })
        .on(crate::catalog::FULFIL_JOB, |app, job| async move { app.run_fulfil_job(&job).await })
        .on(crate::workflows::OPEN_JOB, |app, job| async move { app.run_workflow_open_job(&job).await })
        .on(crate::catalog::WORKFLOW_JOB, |app, job| async move { app.run_request_workflow_job(&job).await })
        .on(crate::identity::DATES_JOB, |app, job| async move { app.run_directory_dates_job(&job).await })
        .on(crate::retention::PURGE_JOB, |app, job| async move {
            let follow_up = job.payload.contains("\"follow_up\"");
            app.run_purge_job(follow_up).await.map_err(|e| e.to_string())
        })
}

impl App {
    /// Queues a job in its own transaction and wakes this node's worker.
    /// Commands that must enqueue atomically with their change call
    /// `orion_store::jobs::enqueue` inside their transaction instead.
    pub async fn enqueue(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        run_at: i64,
        dedupe_key: Option<&str>,
    ) -> AppResult<Option<i64>> {
        let payload = payload.to_string();
        let mut tx = self.db.begin().await?;
        let id = jobs::enqueue(
            &mut tx.conn(),
            &NewJob { kind, payload: &payload, run_at, dedupe_key, max_attempts: 10 },
            self.now(),
        )
        .await?;
        self.commit(tx).await?;
        self.job_wake.notify_one();
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use orion_domain::Timestamp;
    use orion_store::{Db, DbOptions};
    use orion_testkit::Engine;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(retry_delay_ms(1), 30_000);
        assert_eq!(retry_delay_ms(2), 60_000);
        assert_eq!(retry_delay_ms(5), 480_000);
        assert_eq!(retry_delay_ms(9), 3_600_000);
        assert_eq!(retry_delay_ms(100), 3_600_000);
    }

    /// An application on a fresh database whose clock stands at 1,000,000 ms (None: engine absent).
    async fn app_on_fresh_db(engine: Engine) -> Option<(App, Arc<ManualClock>, tempfile::TempDir)> {
        let dir = tempfile::tempdir().unwrap();
        let url = orion_testkit::fresh_database(engine, dir.path()).await?;
        let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
        db.migrate().await.unwrap();
        let clock = Arc::new(ManualClock::new(Timestamp(1_000_000)));
        Some((App::new(db, clock.clone()), clock, dir))
    }

    async fn due_jobs_run_failures_retry_then_die(engine: Engine) {
        let Some((app, clock, _dir)) = app_on_fresh_db(engine).await else { return };
        let ran = Arc::new(AtomicUsize::new(0));
        let counter = ran.clone();
        let worker = Worker::new(app.clone(), "test-worker")
            .on("greet", move |_app, job| {
                let counter = counter.clone();
                async move {
                    assert_eq!(job.payload, r#"{"who":"ana"}"#);
                    counter.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            })
            .on("flaky", |_app, _job| async { Err("smtp down".to_string()) });

        app.enqueue("greet", &serde_json::json!({"who": "ana"}), 1_000_000, Some("greet:ana")).await.unwrap();
        assert_eq!(
            app.enqueue("greet", &serde_json::json!({"who": "ana"}), 1_000_000, Some("greet:ana")).await.unwrap(),
            None
        );
        app.enqueue("greet", &serde_json::json!({"who": "ana"}), 2_000_000, None).await.unwrap();
        let flaky = NewJob { kind: "flaky", payload: "{}", run_at: 1_000_000, dedupe_key: None, max_attempts: 2 };
        let mut tx = app.db.begin().await.unwrap();
        jobs::enqueue(&mut tx.conn(), &flaky, 0).await.unwrap();
        tx.commit().await.unwrap();

        let step = worker.run_due().await.unwrap();
        assert_eq!((step.completed, step.retried, step.dead), (1, 1, 0));
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(step.next_due, Some(1_000_000 + retry_delay_ms(1)), "the retry is the next thing due");

        clock.set(Timestamp(1_000_000 + retry_delay_ms(1)));
        let step = worker.run_due().await.unwrap();
        assert_eq!((step.completed, step.retried, step.dead), (0, 0, 1), "second failure of two attempts: dead");
        assert_eq!(step.next_due, Some(2_000_000));

        clock.set(Timestamp(2_000_000));
        let step = worker.run_due().await.unwrap();
        assert_eq!((step.completed, step.next_due), (1, None));
        assert_eq!(ran.load(Ordering::SeqCst), 2);
        let mut r = app.db.read().await.unwrap();
        let dead = jobs::list_dead(&mut r.conn(), 10).await.unwrap();
        assert_eq!((dead.len(), dead[0].last_error.as_deref()), (1, Some("smtp down")));
        drop(r);

        // A job given back unrun is due again at once and its claim is not counted as a try.
        app.enqueue("greet", &serde_json::json!({"who": "bo"}), 2_000_000, None).await.unwrap();
        let mut tx = app.db.begin().await.unwrap();
        let got = jobs::claim(&mut tx.conn(), "node-a", 2_000_000, LEASE_MS, 10).await.unwrap();
        assert_eq!((got.len(), got[0].attempts), (1, 1));
        assert!(jobs::release(&mut tx.conn(), got[0].id, "node-a", 2_000_000).await.unwrap());
        let again = jobs::claim(&mut tx.conn(), "node-b", 2_000_000, LEASE_MS, 10).await.unwrap();
        assert_eq!((again.len(), again[0].attempts, again[0].id), (1, 1, got[0].id));
        assert!(!jobs::release(&mut tx.conn(), got[0].id, "node-a", 2_000_000).await.unwrap(), "node-b holds it now");
        tx.commit().await.unwrap();
    }

    /// A node that shuts down with a backlog finishes the job in hand, gives the rest of its claim
    /// back (due at once, the claim not counted as a try) and stops: it does not work through
    /// the whole backlog first (it did, and `orion serve` would not exit on SIGTERM under load).
    async fn a_stopping_worker_gives_its_backlog_back(engine: Engine) {
        let Some((app, _clock, _dir)) = app_on_fresh_db(engine).await else { return };
        let ran = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(tokio::sync::Notify::new());
        let (counter, first) = (ran.clone(), started.clone());
        let worker = Worker::new(app.clone(), "stopping-worker").on("slow", move |_app, _job| {
            let (counter, first) = (counter.clone(), first.clone());
            async move {
                first.notify_one();
                tokio::time::sleep(Duration::from_millis(50)).await;
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        });
        for i in 0..20 {
            app.enqueue("slow", &serde_json::json!({"n": i}), 1_000_000, None).await.unwrap();
        }
        let stop = Arc::new(tokio::sync::Notify::new());
        let signal = stop.clone();
        let running = tokio::spawn(worker.run(async move { signal.notified().await }));
        started.notified().await;
        stop.notify_one();
        tokio::time::timeout(Duration::from_secs(5), running).await.expect("the worker stops").unwrap();

        let done = ran.load(Ordering::SeqCst);
        assert!((1..20).contains(&done), "the job in hand finished, the backlog did not run: {done} ran");
        let mut tx = app.db.begin().await.unwrap();
        let left = jobs::claim(&mut tx.conn(), "next-node", 1_000_000, LEASE_MS, 100).await.unwrap();
        assert_eq!(left.len(), 20 - done, "every job not run is due again at once");
        assert!(left.iter().all(|j| j.attempts == 1), "giving a job back does not count as a try");
        tx.commit().await.unwrap();
    }

    /// Work left for the settling transaction: a job whose record cannot be written fails alone
    /// (retried, with the reason), the rest of its claim settles with their work written.
    struct Write(&'static str);

    const RECORD: &str =
        "INSERT INTO job (kind, payload, run_at, max_attempts, created_at) VALUES ('recorded', '{}', 9000000, 1, 0)";

    impl SettleWork for Write {
        fn apply<'a>(
            &'a self,
            c: &'a mut orion_store::Conn<'_>,
        ) -> Pin<Box<dyn Future<Output = AppResult<()>> + Send + 'a>> {
            Box::pin(async move {
                // A statement the database refuses (on PostgreSQL it spoils the transaction).
                let sql = if self.0 == "broken" { "INSERT INTO no_such_table VALUES (1)" } else { RECORD };
                orion_store::with_conn!(c, |c| orion_store::sqlx::query(sql)
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected()))
                .map_err(|e| crate::AppError::Internal(e.to_string()))?;
                Ok(())
            })
        }
    }

    async fn a_failing_record_fails_only_its_own_job(engine: Engine) {
        let Some((app, _clock, _dir)) = app_on_fresh_db(engine).await else { return };
        let worker = Worker::new(app.clone(), "settling-worker")
            .on_settled("good", |_app, _job| async { Handled::with(Ok(()), Write("recorded")) })
            .on_settled("bad", |_app, _job| async { Handled::with(Ok(()), Write("broken")) });
        for kind in ["good", "bad", "good"] {
            app.enqueue(kind, &serde_json::json!({}), 1_000_000, None).await.unwrap();
        }
        let step = worker.run_due().await.unwrap();
        assert_eq!((step.completed, step.retried, step.dead), (2, 1, 0));
        let mut r = app.db.read().await.unwrap();
        let markers: i64 = orion_store::with_conn!(&mut r.conn(), |c| orion_store::sqlx::query_scalar(
            "SELECT COUNT(*) FROM job WHERE kind = 'recorded'"
        )
        .fetch_one(c)
        .await)
        .unwrap();
        assert_eq!(markers, 2, "both good jobs' records were written");
        let left: Vec<(String, Option<String>)> = orion_store::with_conn!(&mut r.conn(), |c| {
            orion_store::sqlx::query_as("SELECT kind, last_error FROM job WHERE kind IN ('good', 'bad')")
                .fetch_all(c)
                .await
        })
        .unwrap();
        assert_eq!(left.len(), 1, "the good jobs are done: {left:?}");
        assert_eq!(left[0].0, "bad");
        assert!(left[0].1.as_deref().is_some_and(|e| e.contains("recording the outcome failed")), "{left:?}");
    }

    /// Jobs of different tickets run at the same time; one ticket's jobs run one after another
    /// in the order they were queued, however long each takes.
    async fn one_tickets_jobs_keep_their_order(engine: Engine) {
        let Some((app, _clock, _dir)) = app_on_fresh_db(engine).await else { return };
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (log, now_running, peak) = (seen.clone(), running.clone(), most.clone());
        let worker = Worker::new(app.clone(), "lanes-worker").on("step", move |_app, job| {
            let (log, now_running, peak) = (log.clone(), now_running.clone(), peak.clone());
            async move {
                let p: serde_json::Value = serde_json::from_str(&job.payload).unwrap();
                let (ticket, n) = (p["ticket_id"].as_i64().unwrap(), p["n"].as_i64().unwrap());
                peak.fetch_max(now_running.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                // Earlier jobs take longer: were they run at once, later ones would finish first.
                tokio::time::sleep(Duration::from_millis(5 * (4 - n) as u64)).await;
                now_running.fetch_sub(1, Ordering::SeqCst);
                log.lock().unwrap().push((ticket, n));
                Ok(())
            }
        });
        for n in 0..4 {
            for ticket in 1..=4 {
                app.enqueue("step", &serde_json::json!({"ticket_id": ticket, "n": n}), 1_000_000, None).await.unwrap();
            }
        }
        let step = worker.run_due().await.unwrap();
        assert_eq!(step.completed, 16);
        let seen = seen.lock().unwrap().clone();
        for ticket in 1..=4 {
            let order: Vec<i64> = seen.iter().filter(|(t, _)| *t == ticket).map(|(_, n)| *n).collect();
            assert_eq!(order, vec![0, 1, 2, 3], "ticket {ticket}'s jobs in queue order: {seen:?}");
        }
        assert!(most.load(Ordering::SeqCst) > 1, "different tickets' jobs ran at the same time");
    }

    orion_testkit::engine_tests!(
        due_jobs_run_failures_retry_then_die,
        a_stopping_worker_gives_its_backlog_back,
        a_failing_record_fails_only_its_own_job,
        one_tickets_jobs_keep_their_order
    );
}
