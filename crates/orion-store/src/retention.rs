//! Old log entries, removed in small batches. Each log names its table, the column of when an
//! entry was written (ids grow with it, so the old part of a log is its low ids), which entries
//! may go at all, and the raw copy (blob) an entry holds, which goes with its last entry.
//!
//! A run finds the first entry written after the cutoff (reading only the old part, in id
//! order), picks removable entries below it on a reader, and removes each batch in its own short
//! write transaction — ticket intake waits for one batch at most, never for the whole purge.

use crate::sql::{Bind, Sql};
use crate::{Conn, Result, with_conn};

/// A log Orion keeps and removes old entries of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Log {
    /// Webhook deliveries that are settled (delivered, failed for good, cancelled)
    WebhookDeliveries,
    /// Heartbeat pings and missed runs
    HeartbeatRuns,
    /// Monitoring alerts that resolved
    ResolvedAlerts,
    /// Incoming mail that made no ticket (bounces, discarded mail), with its raw copy
    RejectedMail,
    /// The outgoing mail log (sent, suppressed, failed for good), with each raw copy
    SentMail,
    /// Directory sync runs and their previews
    DirectoryRuns,
    /// The security log (sign-ins, refusals, settings changes)
    SecurityLog,
    /// In-app notifications
    Notifications,
    /// Background jobs that gave up
    FailedJobs,
}

/// Every log, in the order the console lists them.
pub const LOGS: &[Log] = &[
    Log::WebhookDeliveries,
    Log::HeartbeatRuns,
    Log::ResolvedAlerts,
    Log::RejectedMail,
    Log::SentMail,
    Log::DirectoryRuns,
    Log::SecurityLog,
    Log::Notifications,
    Log::FailedJobs,
];

struct Shape {
    table: &'static str,
    /// When an entry was written.
    written: &'static str,
    /// Which entries may go at all (entries still at work stay, whatever their age).
    removable: &'static str,
    /// A second time that must be before the cutoff too (when the entry was settled).
    settled: Option<&'static str>,
    /// The column naming the entry's raw copy in `blob`.
    blob: Option<&'static str>,
}

impl Log {
    fn shape(self) -> Shape {
        let s = |table, written, removable| Shape { table, written, removable, settled: None, blob: None };
        match self {
            Log::WebhookDeliveries => {
                s("webhook_delivery", "created_at", "status IN ('delivered', 'failed', 'cancelled')")
            }
            Log::HeartbeatRuns => s("heartbeat_run", "at", "1 = 1"),
            Log::ResolvedAlerts => {
                Shape { settled: Some("resolved_at"), ..s("alert", "first_seen_at", "status = 'resolved'") }
            }
            Log::RejectedMail => Shape {
                settled: Some("processed_at"),
                blob: Some("raw_sha256"),
                ..s("mail_inbound", "received_at", "status IN ('bounce', 'discarded')")
            },
            Log::SentMail => Shape {
                blob: Some("raw_sha256"),
                ..s("mail_outbound", "created_at", "status IN ('sent', 'suppressed', 'failed')")
            },
            Log::DirectoryRuns => s("directory_run", "started_at", "1 = 1"),
            Log::SecurityLog => s("security_event", "at", "1 = 1"),
            Log::Notifications => s("notification", "created_at", "1 = 1"),
            Log::FailedJobs => s("job", "created_at", "state = 'dead'"),
        }
    }
}

/// Entries picked for removal: their ids and the raw copies they name.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub ids: Vec<i64>,
    pub blobs: Vec<String>,
    /// The last id looked at: the next batch starts after it.
    pub last_id: i64,
}

/// The first id of `log` written at or after `cutoff` (`i64::MAX` when every entry is older).
/// Reads the entries before it in id order and stops at the first newer one.
pub async fn boundary(conn: &mut Conn<'_>, log: Log, cutoff: i64) -> Result<i64> {
    let s = log.shape();
    let mut sql = Sql::new(&format!("SELECT id FROM {} WHERE {} >= ", s.table, s.written));
    sql.bind_i64(cutoff).push(" ORDER BY id LIMIT 1");
    let row: Vec<(i64,)> = crate::fetch_all_sql!(conn, (i64,), &sql)?;
    Ok(row.first().map_or(i64::MAX, |(id,)| *id))
}

/// Up to `limit` removable entries of `log` with ids in (`after`, `below`), settled before
/// `cutoff`, oldest first.
pub async fn pick(conn: &mut Conn<'_>, log: Log, cutoff: i64, after: i64, below: i64, limit: i64) -> Result<Batch> {
    let s = log.shape();
    let blob = s.blob.unwrap_or("''");
    let mut sql = Sql::new(&format!("SELECT id, {blob} FROM {} WHERE id > ", s.table));
    sql.bind_i64(after).push(" AND id < ").bind_i64(below).push(&format!(" AND ({})", s.removable));
    if let Some(settled) = s.settled {
        sql.push(&format!(" AND {settled} < ")).bind_i64(cutoff);
    }
    sql.push(" ORDER BY id LIMIT ").bind_i64(limit);
    let rows: Vec<(i64, String)> = crate::fetch_all_sql!(conn, (i64, String), &sql)?;
    let mut b = Batch { last_id: rows.last().map_or(after, |(id, _)| *id), ..Batch::default() };
    for (id, sha) in rows {
        b.ids.push(id);
        if s.blob.is_some() && !b.blobs.contains(&sha) {
            b.blobs.push(sha);
        }
    }
    Ok(b)
}

/// Removes the entries of `batch` (still removable: one settled or re-queued since it was picked
/// stays), then the raw copies no entry names any more; how many entries went.
pub async fn remove(conn: &mut Conn<'_>, log: Log, batch: &Batch) -> Result<u64> {
    if batch.ids.is_empty() {
        return Ok(0);
    }
    let s = log.shape();
    if log == Log::WebhookDeliveries {
        // A delivery sent again names the one it repeats; the repeat stays, without the link.
        let mut unlink = Sql::new("UPDATE webhook_delivery SET redelivery_of = NULL WHERE redelivery_of IN ");
        unlink.bind_list(&batch.ids, Bind::I64);
        crate::execute_sql!(conn, &unlink)?;
    }
    let mut sql = Sql::new(&format!("DELETE FROM {} WHERE ({}) AND id IN ", s.table, s.removable));
    sql.bind_list(&batch.ids, Bind::I64);
    let removed = crate::execute_sql!(conn, &sql)?;
    if !batch.blobs.is_empty() {
        let mut gc = Sql::new("DELETE FROM blob WHERE sha256 IN ");
        gc.bind_list(&batch.blobs, Bind::Text).push(
            " AND NOT EXISTS (SELECT 1 FROM mail_inbound m WHERE m.raw_sha256 = blob.sha256)
              AND NOT EXISTS (SELECT 1 FROM mail_outbound o WHERE o.raw_sha256 = blob.sha256)
              AND NOT EXISTS (SELECT 1 FROM attachment a WHERE a.sha256 = blob.sha256)
              AND NOT EXISTS (SELECT 1 FROM kb_attachment k WHERE k.sha256 = blob.sha256)",
        );
        crate::execute_sql!(conn, &gc)?;
    }
    Ok(removed)
}

/// Forgets what only mattered until it expired: sessions, sign-in challenges, single sign-on
/// round trips, password-reset links (used or expired a day ago), security-key ceremonies.
pub async fn remove_expired(conn: &mut Conn<'_>, now: i64) -> Result<u64> {
    let day_ago = now - 86_400_000;
    let mut n = 0;
    for (sql, at) in [
        ("DELETE FROM web_session WHERE expires_at <= $1", now),
        ("DELETE FROM signin_challenge WHERE expires_at < $1", now),
        ("DELETE FROM sso_login WHERE expires_at <= $1", now),
        ("DELETE FROM webauthn_ceremony WHERE expires_at < $1", now),
        ("DELETE FROM password_reset WHERE expires_at < $1 OR used_at < $1", day_ago),
        // "Writing on this ticket" marks mean nothing after a minute; the daily run clears them.
        ("DELETE FROM ticket_presence WHERE at < $1", day_ago),
    ] {
        n += with_conn!(conn, |c| sqlx::query(sql).bind(at).execute(c).await.map(|r| r.rows_affected()))?;
    }
    Ok(n)
}
