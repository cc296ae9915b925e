//! What a job handler answers, and how long a failed job waits before its next try.

/// What a handler says about one run of a job.
pub type JobResult = Result<(), String>;

/// The delay before retry number `attempts` (1-based): 30 s doubling, at most an hour.
pub fn retry_delay_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 20) - 1;
    (30_000i64 << exp).min(3_600_000)
}

/// Database work a handler leaves for the worker, to be written in the one transaction that
/// settles its whole claim: a handler that talks to the outside (a webhook receiver, the SMTP
/// relay) does that first, concurrently with the claim's other jobs, and its record of the
/// outcome waits for the worker's commit instead of queueing for the single writer on its own.
/// A handler whose work is all in the database leaves all of it here.
///
/// `apply` may run twice (the worker replays a claim job by job when one job's work fails), so
/// it writes from its own fields and never consumes them.
pub trait SettleWork: Send + Sync {
    fn apply<'a>(
        &'a self,
        c: &'a mut orion_store::Conn<'_>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = super::AppResult<()>> + Send + 'a>>;
}

/// What a handler did with one job: its result, and what is left to write when the claim settles.
pub struct Handled {
    pub result: JobResult,
    pub settle: Option<Box<dyn SettleWork>>,
}

impl Handled {
    /// A result with a record to write when the claim settles.
    pub fn with(result: JobResult, work: impl SettleWork + 'static) -> Self {
        Self { result, settle: Some(Box::new(work)) }
    }
}

impl From<JobResult> for Handled {
    fn from(result: JobResult) -> Self {
        Self { result, settle: None }
    }
}

/// Queues `kind` for one record (`{field: id}`), due now, at most once pending per record (the
/// dedupe key `kind:id`): the "open what is ready" jobs of catalog requests and workflows.
pub(crate) async fn enqueue_for(
    c: &mut orion_store::Conn<'_>,
    kind: &str,
    (field, id): (&str, i64),
    now: i64,
) -> crate::AppResult<()> {
    let key = format!("{kind}:{id}");
    let payload = serde_json::json!({ field: id }).to_string();
    let job =
        orion_store::jobs::NewJob { kind, payload: &payload, run_at: now, dedupe_key: Some(&key), max_attempts: 10 };
    orion_store::jobs::enqueue(c, &job, now).await?;
    Ok(())
}
