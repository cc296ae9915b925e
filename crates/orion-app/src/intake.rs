//! Group commit for new tickets.
//!
//! Logging tickets is the hottest write, and on SQLite all writes share one
//! connection. Tickets that arrive together are written in one transaction:
//! the hot pages (indexes, the number counter) are written to the WAL once per
//! batch instead of once per ticket, and there is one BEGIN/COMMIT per batch.
//! Each ticket still commits whole or not at all: if any ticket of a batch
//! fails, the batch is rolled back and every ticket is retried in its own
//! transaction, so one bad ticket never takes others down with it.

use crate::AppResult;
use crate::kernel::work::Commit;
use crate::tickets::{Planned, Written, open};
use orion_store::Db;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Largest number of tickets written in one transaction.
const MAX_BATCH: usize = 64;

type Job = (Planned, oneshot::Sender<AppResult<Written>>);

/// The queue in front of the writer task.
#[derive(Clone)]
pub(crate) struct Intake {
    tx: mpsc::Sender<Job>,
}

/// What the writer task needs: the database, and the commit that runs the event subscribers.
#[derive(Clone)]
pub(crate) struct Writer {
    pub db: Db,
    pub commit: Arc<dyn Commit>,
}

impl Intake {
    /// Starts the writer task on the current runtime.
    pub(crate) fn start(writer: Writer) -> Self {
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(run(writer, rx));
        Self { tx }
    }

    /// Writes one ticket (possibly together with others) and waits for its commit.
    pub(crate) async fn submit(&self, planned: Planned) -> AppResult<Written> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((planned, reply))
            .await
            .map_err(|_| crate::AppError::Internal("the ticket writer has stopped".into()))?;
        answer.await.map_err(|_| crate::AppError::Internal("the ticket writer dropped a ticket".into()))?
    }
}

async fn run(db: Writer, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        write_batch(&db, jobs).await;
    }
}

async fn write_all(w: &Writer, jobs: &[Job]) -> AppResult<Vec<Written>> {
    let mut tx = w.db.begin().await?;
    let mut c = tx.conn();
    let mut out = Vec::with_capacity(jobs.len());
    for (p, _) in jobs {
        out.push(open(&mut c, p).await?);
    }
    w.commit.commit(tx).await?;
    Ok(out)
}

async fn write_alone(w: &Writer, p: &Planned) -> AppResult<Written> {
    let mut tx = w.db.begin().await?;
    let written = open(&mut tx.conn(), p).await?;
    w.commit.commit(tx).await?;
    Ok(written)
}

async fn write_batch(db: &Writer, jobs: Vec<Job>) {
    if jobs.len() > 1 {
        match write_all(db, &jobs).await {
            Ok(written) => {
                for ((_, reply), w) in jobs.into_iter().zip(written) {
                    let _ = reply.send(Ok(w));
                }
                return;
            }
            Err(e) => tracing::debug!(error = %e, size = jobs.len(), "batch failed; writing its tickets one by one"),
        }
    }
    for (p, reply) in jobs {
        let _ = reply.send(write_alone(db, &p).await);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::Requester;
    use orion_store::{DbOptions, groups, tickets, users};
    use orion_testkit::Engine;

    fn plan(group: i64, user: i64, i: usize) -> Planned {
        Planned {
            requester: if i.is_multiple_of(2) {
                Requester::Known(user)
            } else {
                Requester::New { email: format!("caller{}@example.com", i % 3), name: "Caller".into() }
            },
            prefix: "INC",
            kind: "incident",
            title: format!("ticket {i}"),
            description: String::new(),
            channel: "api",
            category_id: None,
            impact: 3,
            urgency: 3,
            priority: 5,
            state: "new",
            pending_reason: None,
            assignment_group_id: group,
            assignee_id: None,
            max_tier: 1,
            created_by: user,
            now: 1,
            entry_data: "{}".into(),
            assets: Vec::new(),
            routed: Default::default(),
            notify: false,
            clocks: Vec::new(),
        }
    }

    /// One ticket that cannot be written (its group does not exist) fails alone;
    /// the tickets written with it all commit, numbered without gaps.
    async fn a_bad_ticket_does_not_sink_its_batch(engine: Engine) {
        let dir = tempfile::tempdir().unwrap();
        let Some(url) = orion_testkit::fresh_database(engine, dir.path()).await else { return };
        let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
        db.migrate().await.unwrap();
        let mut tx = db.begin().await.unwrap();
        let user = users::insert(
            &mut tx.conn(),
            &users::NewUser {
                email: "a@example.com",
                name: "A",
                role: "agent",
                phone: None,
                department: None,
                password_hash: None,
                now: 0,
            },
        )
        .await
        .unwrap();
        let group = groups::insert(
            &mut tx.conn(),
            &groups::NewGroup {
                name: "SD",
                tier: 1,
                escalation_target_id: None,
                lead_id: None,
                description: "",
                now: 0,
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let commit = std::sync::Arc::new(crate::reactions::Reactions::default());
        let intake = Intake::start(Writer { db: db.clone(), commit });
        let mut handles = Vec::new();
        for i in 0..40 {
            let intake = intake.clone();
            let g = if i == 17 { 999_999 } else { group };
            handles.push(tokio::spawn(async move { intake.submit(plan(g, user, i)).await }));
        }
        let mut numbers = Vec::new();
        let mut failures = 0;
        for h in handles {
            match h.await.unwrap() {
                Ok(w) => numbers.push(w.number),
                Err(_) => failures += 1,
            }
        }
        assert_eq!(failures, 1);
        numbers.sort();
        let expected: Vec<String> = (1..=39).map(|n| format!("INC{n:07}")).collect();
        assert_eq!(numbers, expected, "committed tickets are numbered without gaps");
        let mut r = db.read().await.unwrap();
        let mut c = r.conn();
        assert_eq!(tickets::count(&mut c).await.unwrap(), 39);
        let callers = users::list(&mut c, Some("requester"), None, None, 100).await.unwrap();
        assert_eq!(callers.len(), 3, "each new caller is created once");
    }

    orion_testkit::engine_tests!(a_bad_ticket_does_not_sink_its_batch);
}
