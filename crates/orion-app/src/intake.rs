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
use orion_store::tickets::{self, NewTicket};
use orion_store::{Conn, Db, users};
use tokio::sync::{mpsc, oneshot};

/// Largest number of tickets written in one transaction.
const MAX_BATCH: usize = 64;

/// Who the ticket is for: a known user, or a caller to create as a requester.
pub(crate) enum Requester {
    Known(i64),
    New { email: String, name: String },
}

/// A validated ticket, ready to be numbered and written.
pub(crate) struct Planned {
    pub requester: Requester,
    pub prefix: &'static str,
    pub kind: &'static str,
    pub title: String,
    pub description: String,
    pub channel: &'static str,
    pub category_id: Option<i64>,
    pub impact: i64,
    pub urgency: i64,
    pub priority: i64,
    pub state: &'static str,
    pub assignment_group_id: i64,
    pub assignee_id: Option<i64>,
    pub max_tier: i64,
    pub created_by: i64,
    pub now: i64,
    pub entry_data: String,
    /// The SLA clocks to start with the ticket.
    pub clocks: Vec<crate::sla::PlannedClock>,
    /// Tell the requester by mail that the ticket was logged.
    pub notify: bool,
    /// The assets (CI id, name) the ticket is about
    pub assets: Vec<(i64, String)>,
}

/// What was written: the ticket's id and number, and the requester's id.
pub(crate) struct Written {
    pub id: i64,
    pub number: String,
    pub requester_id: i64,
}

type Job = (Planned, oneshot::Sender<AppResult<Written>>);

/// The queue in front of the writer task.
#[derive(Clone)]
pub(crate) struct Intake {
    tx: mpsc::Sender<Job>,
}

impl Intake {
    /// Starts the writer task on the current runtime.
    pub(crate) fn start(db: Db) -> Self {
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(run(db, rx));
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

async fn run(db: Db, mut rx: mpsc::Receiver<Job>) {
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

pub(crate) async fn write_one(c: &mut Conn<'_>, p: &Planned) -> AppResult<Written> {
    let requester_id = match &p.requester {
        Requester::Known(id) => *id,
        Requester::New { email, name } => users::insert_requester(c, email, name, p.now).await?,
    };
    let (id, number) = tickets::create(
        c,
        &NewTicket {
            prefix: p.prefix,
            kind: p.kind,
            title: &p.title,
            description: &p.description,
            requester_id,
            channel: p.channel,
            category_id: p.category_id,
            impact: p.impact,
            urgency: p.urgency,
            priority: p.priority,
            state: p.state,
            assignment_group_id: p.assignment_group_id,
            assignee_id: p.assignee_id,
            max_tier: p.max_tier,
            created_by: p.created_by,
            now: p.now,
            entry_visibility: "public",
            entry_data: &p.entry_data,
        },
    )
    .await?;
    let created = crate::webhooks::TicketEvent {
        ticket_id: id,
        at: p.now,
        actor_id: Some(p.created_by),
        kind: "created",
        visibility: "public",
        body: "",
        data: &p.entry_data,
    };
    crate::webhooks::emit(c, &created).await?;
    let clocks: Vec<_> = p.clocks.iter().map(crate::sla::PlannedClock::as_new).collect();
    orion_store::sla::start_clocks(c, id, &clocks, p.now).await?;
    if let Some(at) = p.clocks.iter().filter_map(|k| k.first_check_at).min() {
        crate::sla::schedule_check(c, id, at, p.now).await?;
    }
    if p.notify {
        crate::outbox::queue_notice(c, id, "received", serde_json::Value::Null, p.now).await?;
    }
    for (ci, name) in &p.assets {
        crate::cmdb::link(c, id, &number, (*ci, name), Some(p.created_by), p.now).await?;
    }
    Ok(Written { id, number, requester_id })
}

async fn write_all(db: &Db, jobs: &[Job]) -> AppResult<Vec<Written>> {
    let mut tx = db.begin().await?;
    let mut c = tx.conn();
    let mut out = Vec::with_capacity(jobs.len());
    for (p, _) in jobs {
        out.push(write_one(&mut c, p).await?);
    }
    tx.commit().await?;
    Ok(out)
}

async fn write_alone(db: &Db, p: &Planned) -> AppResult<Written> {
    let mut tx = db.begin().await?;
    let w = write_one(&mut tx.conn(), p).await?;
    tx.commit().await?;
    Ok(w)
}

async fn write_batch(db: &Db, jobs: Vec<Job>) {
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
    use orion_store::{DbOptions, groups};
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
            assignment_group_id: group,
            assignee_id: None,
            max_tier: 1,
            created_by: user,
            now: 1,
            entry_data: "{}".into(),
            assets: Vec::new(),
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

        let intake = Intake::start(db.clone());
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
