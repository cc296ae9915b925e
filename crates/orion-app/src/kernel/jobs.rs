//! What a job handler answers, and how long a failed job waits before its next try.

/// What a handler says about one run of a job.
pub type JobResult = Result<(), String>;

/// The delay before retry number `attempts` (1-based): 30 s doubling, at most an hour.
pub fn retry_delay_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 20) - 1;
    (30_000i64 << exp).min(3_600_000)
}
