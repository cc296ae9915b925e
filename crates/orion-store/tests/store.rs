//! Storage-level guarantees on both engines: matching schemas, an append-only
//! timeline, loud failures on bad URLs and on a schema newer than the binary.

use orion_store::{Db, DbOptions, Engine as DbEngine, schema, with_conn};
use orion_testkit::{Engine, fresh_database};

async fn open(engine: Engine) -> Option<(Db, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(engine, dir.path()).await?;
    let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
    db.migrate().await.unwrap();
    Some((db, dir))
}

#[tokio::test]
async fn both_engines_have_the_same_schema() {
    let Some((lite, _d1)) = open(Engine::Sqlite).await else { return };
    let Some((pg, _d2)) = open(Engine::Postgres).await else { return };
    assert_eq!(lite.engine(), DbEngine::Sqlite);
    assert_eq!(pg.engine(), DbEngine::Postgres);
    let a = schema::describe(&mut lite.read().await.unwrap().conn()).await.unwrap();
    let b = schema::describe(&mut pg.read().await.unwrap().conn()).await.unwrap();
    assert!(a.contains_key("ticket") && a.contains_key("timeline_entry"), "{a:?}");
    let tables_a: Vec<_> = a.keys().collect();
    let tables_b: Vec<_> = b.keys().collect();
    assert_eq!(tables_a, tables_b, "the two engines have different tables");
    for (table, cols) in &a {
        assert_eq!(cols, &b[table], "columns of {table} differ between SQLite and PostgreSQL");
    }
}

/// A P5 incident for `user` in `group`, logged at time 0.
fn new_ticket(user: i64, group: i64) -> orion_store::tickets::NewTicket<'static> {
    orion_store::tickets::NewTicket {
        prefix: "INC",
        kind: "incident",
        title: "t",
        description: "",
        requester_id: user,
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
        now: 0,
        entry_visibility: "public",
        entry_data: "{}",
        visibility_group_id: None,
    }
}

async fn seed_entry(db: &Db) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let mut c = tx.conn();
    let now = 1_700_000_000_000;
    let user = orion_store::users::insert(
        &mut c,
        &orion_store::users::NewUser {
            email: "a@example.com",
            name: "A",
            role: "agent",
            phone: None,
            department: None,
            password_hash: None,
            now,
        },
    )
    .await
    .unwrap();
    let group = orion_store::groups::insert(&mut c, &tier1_group("SD", now)).await.unwrap();
    let (ticket, number) = orion_store::tickets::create(&mut c, &new_ticket(user, group)).await.unwrap();
    assert_eq!(number, "INC0000001");
    let id = orion_store::timeline::append(
        &mut c,
        &orion_store::timeline::NewEntry {
            ticket_id: ticket,
            at: now,
            actor_id: Some(user),
            kind: "comment",
            visibility: "public",
            body: "",
            data: "{}",
        },
    )
    .await
    .unwrap();
    // Writing an entry records it for the application's subscribers, which must take it before
    // the transaction commits.
    let recorded = tx.take_events();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].event, orion_domain::TicketEvent::Noted);
    assert_eq!(recorded[0].entry.as_ref().map(|e| (e.id, e.kind.as_str())), Some((id, "comment")));
    tx.commit().await.unwrap();
    id
}

async fn timeline_is_append_only(engine: Engine) {
    let Some((db, _d)) = open(engine).await else { return };
    let id = seed_entry(&db).await;
    let mut tx = db.begin().await.unwrap();
    let mut c = tx.conn();
    let upd = with_conn!(&mut c, |c| sqlx::query("UPDATE timeline_entry SET body = 'rewritten' WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()));
    assert!(upd.is_err(), "an UPDATE of the timeline must fail");
    drop(tx);
    let mut tx = db.begin().await.unwrap();
    let mut c = tx.conn();
    let del = with_conn!(&mut c, |c| sqlx::query("DELETE FROM timeline_entry WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()));
    assert!(del.is_err(), "a DELETE from the timeline must fail");
    drop(tx);
    let mut r = db.read().await.unwrap();
    let rows = orion_store::timeline::list(&mut r.conn(), 1, true, None, 10).await.unwrap();
    assert_eq!(rows.len(), 2, "the created entry and the comment");
    assert_eq!(rows[1].body, "");
}

async fn migrations_are_idempotent_and_refuse_a_newer_schema(engine: Engine) {
    let Some((db, _d)) = open(engine).await else { return };
    assert!(db.migrate().await.unwrap().is_empty(), "a second run applies nothing");
    let mut tx = db.begin().await.unwrap();
    let mut c = tx.conn();
    with_conn!(&mut c, |c| sqlx::query(
        "INSERT INTO schema_migration (version, name, applied_at) VALUES (9999, 'future', 0)"
    )
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    tx.commit().await.unwrap();
    let err = db.migrate().await.unwrap_err().to_string();
    assert!(err.contains("9999") && err.contains("newer"), "{err}");
}

async fn constraint_errors_are_classified(engine: Engine) {
    let Some((db, _d)) = open(engine).await else { return };
    seed_entry(&db).await;
    let mut tx = db.begin().await.unwrap();
    let dup = orion_store::users::insert(
        &mut tx.conn(),
        &orion_store::users::NewUser {
            email: "a@example.com",
            name: "B",
            role: "agent",
            phone: None,
            department: None,
            password_hash: None,
            now: 0,
        },
    )
    .await;
    assert!(matches!(dup, Err(orion_store::StoreError::Duplicate)), "{dup:?}");
    drop(tx);
    let mut tx = db.begin().await.unwrap();
    let fk = orion_store::groups::add_member(&mut tx.conn(), 424242, 1).await;
    assert!(matches!(fk, Err(orion_store::StoreError::ForeignKey)), "{fk:?}");
}

async fn numbers_grow_past_seven_digits(engine: Engine) {
    let Some((db, _d)) = open(engine).await else { return };
    seed_entry(&db).await;
    let mut tx = db.begin().await.unwrap();
    let mut c = tx.conn();
    with_conn!(&mut c, |c| sqlx::query("UPDATE ticket_counter SET last_value = 9999998 WHERE kind = 'INC'")
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .unwrap();
    let mut numbers = Vec::new();
    for _ in 0..2 {
        let (_, n) = orion_store::tickets::create(&mut c, &new_ticket(1, 1)).await.unwrap();
        numbers.push(n);
    }
    tx.commit().await.unwrap();
    assert_eq!(numbers, ["INC9999999", "INC10000000"]);
    for n in &numbers {
        let parsed = orion_domain::TicketNumber::parse(n).unwrap();
        assert_eq!(&parsed.to_string(), n, "the domain formats numbers as the database does");
    }
    let mut r = db.read().await.unwrap();
    let t = orion_store::tickets::get_by_number(&mut r.conn(), "INC10000000").await.unwrap();
    let entries = orion_store::timeline::list(&mut r.conn(), t.id, true, None, 10).await.unwrap();
    assert_eq!(entries.len(), 1, "each ticket gets its created entry");
    assert_eq!(entries[0].kind, "created");
}

fn job<'a>(kind: &'a str, run_at: i64, key: Option<&'a str>) -> orion_store::jobs::NewJob<'a> {
    orion_store::jobs::NewJob { kind, payload: "{}", run_at, dedupe_key: key, max_attempts: 3 }
}

async fn jobs_are_leased_retried_and_deduplicated(engine: Engine) {
    use orion_store::jobs;
    let Some((db, _d)) = open(engine).await else { return };
    let mut tx = db.begin().await.unwrap();
    let mut c = tx.conn();
    let a = jobs::enqueue(&mut c, &job("sla", 100, Some("sla:1")), 0).await.unwrap();
    assert!(a.is_some());
    assert_eq!(jobs::enqueue(&mut c, &job("sla", 50, Some("sla:1")), 0).await.unwrap(), None, "deduplicated");
    let b = jobs::enqueue(&mut c, &job("mail", 200, None), 0).await.unwrap().unwrap();
    jobs::enqueue(&mut c, &job("later", 10_000, None), 0).await.unwrap().unwrap();
    assert_eq!(jobs::next_due(&mut c).await.unwrap(), Some(100));

    // Only due jobs are claimed, oldest first; a claimed job waits for its lease.
    assert!(jobs::claim(&mut c, "w1", 99, 1_000, 10).await.unwrap().is_empty());
    let got = jobs::claim(&mut c, "w1", 200, 1_000, 10).await.unwrap();
    assert_eq!(got.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>(), ["sla", "mail"]);
    assert_eq!(got[0].attempts, 1);
    assert!(jobs::claim(&mut c, "w2", 500, 1_000, 10).await.unwrap().is_empty(), "leased");
    assert_eq!(jobs::next_due(&mut c).await.unwrap(), Some(1_200), "due again when the lease ends");

    // w1 finishes the mail job; its sla job's lease runs out and w2 takes it over.
    assert_eq!(jobs::complete_all(&mut c, &[b], "w1").await.unwrap(), 1);
    let again = jobs::claim(&mut c, "w2", 1_300, 1_000, 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts, again[0].locked_by.as_deref()), (1, 2, Some("w2")));
    assert_eq!(jobs::complete_all(&mut c, &[a.unwrap(), b], "w1").await.unwrap(), 0, "a lost lease cannot complete");

    // Failures retry at the given time, then die; a dead job frees its dedupe key.
    assert!(jobs::fail(&mut c, a.unwrap(), "w2", "smtp down", Some(2_000)).await.unwrap());
    assert!(jobs::claim(&mut c, "w2", 1_999, 1_000, 10).await.unwrap().is_empty());
    let third = jobs::claim(&mut c, "w2", 2_000, 1_000, 10).await.unwrap();
    assert_eq!((third[0].attempts, third[0].last_error.as_deref()), (3, Some("smtp down")));
    assert!(jobs::fail(&mut c, a.unwrap(), "w2", "still down", None).await.unwrap());
    assert!(jobs::claim(&mut c, "w3", 1_000_000, 1_000, 10).await.unwrap().iter().all(|j| j.kind == "later"));
    let dead = jobs::list_dead(&mut c, 10).await.unwrap();
    assert_eq!((dead.len(), dead[0].last_error.as_deref()), (1, Some("still down")));
    assert!(jobs::enqueue(&mut c, &job("sla", 100, Some("sla:1")), 0).await.unwrap().is_some());
    tx.commit().await.unwrap();
}

/// Several workers claiming at once never get the same job.
async fn concurrent_claims_never_overlap(engine: Engine) {
    use orion_store::jobs;
    let Some((db, _d)) = open(engine).await else { return };
    let mut tx = db.begin().await.unwrap();
    for i in 0..200 {
        jobs::enqueue(&mut tx.conn(), &job("work", i, None), 0).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut workers = Vec::new();
    for w in 0..4 {
        let db = db.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let mut tx = db.begin().await.unwrap();
                let got = jobs::claim(&mut tx.conn(), &format!("w{w}"), 1_000, 60_000, 7).await.unwrap();
                tx.commit().await.unwrap();
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|j| j.id));
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!((n, all.len()), (200, 200), "every job claimed exactly once");
}

/// Data written under the previous schema survives the next migration.
async fn upgrading_keeps_existing_data(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = fresh_database(engine, dir.path()).await else { return };
    let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
    assert_eq!(db.migrate_to(1).await.unwrap(), [1]);
    // Written with schema 1's own SQL: today's repositories may use columns it does not have.
    db.execute_admin(
        "INSERT INTO app_user (id, email, name, role, created_at, updated_at) VALUES (1, 'a@example.com', 'A', 'agent', 0, 0);
         INSERT INTO agent_group (id, name, tier, created_at, updated_at) VALUES (1, 'SD', 1, 0, 0);
         INSERT INTO ticket (id, number, kind, title, description, requester_id, channel, impact, urgency, priority, state,
             assignment_group_id, max_tier, created_by, created_at, updated_at)
             VALUES (1, 'INC0000001', 'incident', 't', '', 1, 'api', 3, 3, 5, 'new', 1, 1, 1, 0, 0);
         INSERT INTO ticket_counter (kind, last_value) VALUES ('INC', 1);
         INSERT INTO timeline_entry (ticket_id, at, actor_id, kind, visibility) VALUES (1, 0, 1, 'created', 'public');
         INSERT INTO timeline_entry (ticket_id, at, actor_id, kind, visibility) VALUES (1, 0, 1, 'comment', 'public');",
    )
    .await
    .unwrap();
    assert_eq!(db.migrate_to(4).await.unwrap(), [2, 3, 4]);
    // SLA clocks as schema 4 knew them; 0005 rebuilds these tables on SQLite.
    db.execute_admin(
        "INSERT INTO ticket_sla (id, ticket_id, target, policy_name, calendar_name, calendar_spec, pause_on, warnings,
             escalates, target_ms, state, due_at, warned_pct, breach_handled, created_at, updated_at)
             VALUES (7, 1, 'resolution', 'P5 default', '24x7', '{}', '[\"user\"]', '[50]', TRUE, 60000, 'breached',
                     NULL, 50, TRUE, 0, 0);
         INSERT INTO sla_event (ticket_sla_id, at, kind) VALUES (7, 0, 'start');
         INSERT INTO sla_event (ticket_sla_id, at, kind, reason) VALUES (7, 5, 'pause', 'pending');",
    )
    .await
    .unwrap();
    let later: Vec<i64> = orion_store::MIGRATIONS.iter().map(|m| m.version).filter(|v| *v > 4).collect();
    assert_eq!(db.migrate().await.unwrap(), later);
    let mut r = db.read().await.unwrap();
    let clocks = orion_store::sla::clocks_of(&mut r.conn(), 1).await.unwrap();
    assert_eq!(clocks.len(), 1);
    let k = &clocks[0];
    assert_eq!(
        (k.id, k.state.as_str(), k.warned_pct, k.breach_handled, k.rules.as_deref(), k.on_priority_change.as_str()),
        (7, "breached", 50, true, None, "retarget")
    );
    let events = orion_store::sla::events_of(&mut r.conn(), 1).await.unwrap();
    let kinds: Vec<(&str, Option<&str>)> = events.iter().map(|e| (e.kind.as_str(), e.reason.as_deref())).collect();
    assert_eq!(kinds, [("start", None), ("pause", Some("pending"))]);
    drop(r);
    // The rebuilt tables take the new values and still check their foreign key.
    db.execute_admin("INSERT INTO sla_event (ticket_sla_id, at, kind) VALUES (7, 9, 'restart')").await.unwrap();
    assert!(
        db.execute_admin("INSERT INTO sla_event (ticket_sla_id, at, kind) VALUES (999, 9, 'start')").await.is_err()
    );
    let mut r = db.read().await.unwrap();
    let t = orion_store::tickets::get_by_number(&mut r.conn(), "INC0000001").await.unwrap();
    assert_eq!((t.title.as_str(), t.requester_email.as_str()), ("t", "a@example.com"));
    let entries = orion_store::timeline::list(&mut r.conn(), t.id, true, None, 10).await.unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(orion_store::jobs::count_pending(&mut r.conn()).await.unwrap(), 0);
    let u = orion_store::users::get(&mut r.conn(), 1).await.unwrap();
    assert_eq!((u.email.as_str(), u.department), ("a@example.com", None), "new columns arrive empty");
}

/// Ticket search goes back through the whole id range newest first, however far apart the
/// matches are (PostgreSQL searches in steps of id blocks, then the rest at once), pages by
/// id, and gives a requester their own tickets' public text only.
async fn search_finds_the_newest_matches_across_id_blocks(engine: Engine) {
    use orion_domain::search::Query;
    use orion_store::search::{TicketScope, TicketSearchFilter, ticket_hits};
    let Some((db, _d)) = open(engine).await else { return };
    seed_entry(&db).await; // user 1 and group 1; ticket 1 does not match
    let mut tx = db.begin().await.unwrap();
    let mut c = tx.conn();
    let other = orion_store::users::insert_requester(&mut c, "b@example.com", "B", 0).await.unwrap();
    // Matches far apart: in the newest small block, in older large blocks, near the start.
    let printers = [3_i64, 9_000, 70_000, 600_000, 600_001, 4_999_999, 5_000_000];
    let mut ids: Vec<i64> = printers.to_vec();
    ids.extend([5, 600_002, 4_999_998]);
    for id in ids {
        let title = if printers.contains(&id) { "Printer offline" } else { "VPN drops" };
        let requester = if id == 600_001 || id == 4_999_998 { other } else { 1 };
        let mut sql = orion_store::sql::Sql::new(
            "INSERT INTO ticket (id, number, kind, title, description, requester_id, channel, impact, urgency,
                 priority, state, assignment_group_id, max_tier, created_by, created_at, updated_at) VALUES (",
        );
        sql.bind_i64(id).push(", ").bind_text(format!("INC{id:07}")).push(", 'incident', ").bind_text(title);
        sql.push(", '', ").bind_i64(requester).push(", 'api', 3, 3, 5, 'new', 1, 1, 1, 0, 0)");
        orion_store::execute_sql!(&mut c, &sql).unwrap();
        orion_store::search::index_ticket(&mut c, id).await.unwrap();
    }
    // An internal note naming a printer on B's VPN ticket: staff find it, B does not.
    orion_store::timeline::append(
        &mut c,
        &orion_store::timeline::NewEntry {
            ticket_id: 4_999_998,
            at: 0,
            actor_id: Some(1),
            kind: "note",
            visibility: "internal",
            body: "printer spooler also stuck",
            data: "{}",
        },
    )
    .await
    .unwrap();
    tx.take_events();
    tx.commit().await.unwrap();

    let q = Query::parse("printer", false).unwrap();
    let all = TicketSearchFilter::default();
    let mut r = db.read().await.unwrap();
    let ids = |hits: Vec<orion_store::search::Hit>| hits.into_iter().map(|h| h.id).collect::<Vec<_>>();
    let found = ids(ticket_hits(&mut r.conn(), &q, TicketScope::Staff, &all, 1000).await.unwrap());
    let mut want = printers.to_vec();
    want.push(4_999_998);
    want.sort_by(|a, b| b.cmp(a));
    assert_eq!(found, want, "every match, newest first");
    for cap in 1..=want.len() as i64 {
        let found = ids(ticket_hits(&mut r.conn(), &q, TicketScope::Staff, &all, cap).await.unwrap());
        assert_eq!(found, want[..cap as usize], "the newest {cap}");
    }
    let page = TicketSearchFilter { before_id: Some(600_001), ..TicketSearchFilter::default() };
    let found = ids(ticket_hits(&mut r.conn(), &q, TicketScope::Staff, &page, 2).await.unwrap());
    assert_eq!(found, vec![600_000, 70_000], "a page below an id");
    let found = ids(ticket_hits(&mut r.conn(), &q, TicketScope::Requester(other), &all, 1000).await.unwrap());
    assert_eq!(found, vec![600_001], "B's own tickets, public text only");
    let found = ids(ticket_hits(&mut r.conn(), &q, TicketScope::Requester(1), &all, 3).await.unwrap());
    assert_eq!(found, vec![5_000_000, 4_999_999, 600_000]);
    let found = ids(ticket_hits(&mut r.conn(), &q, TicketScope::Requester(1), &page, 10).await.unwrap());
    assert_eq!(found, vec![600_000, 70_000, 9_000, 3], "a requester's page below an id");
    let vpn = Query::parse("vpn spooler", false).unwrap();
    let found = ids(ticket_hits(&mut r.conn(), &vpn, TicketScope::Staff, &all, 10).await.unwrap());
    assert_eq!(found, vec![4_999_998], "words of an internal note, for staff");
    let found = ids(ticket_hits(&mut r.conn(), &vpn, TicketScope::Requester(other), &all, 10).await.unwrap());
    assert!(found.is_empty(), "never for the requester: {found:?}");
}

/// Migration 0015 gives index rows written before it the PostgreSQL search markers: an old
/// ticket stays findable by its requester and in a staff search.
async fn search_markers_are_added_on_upgrade(engine: Engine) {
    use orion_domain::search::Query;
    use orion_store::search::{TicketScope, TicketSearchFilter, ticket_hits};
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = fresh_database(engine, dir.path()).await else { return };
    let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
    db.migrate_to(14).await.unwrap();
    db.execute_admin(
        "INSERT INTO app_user (id, email, name, role, created_at, updated_at) VALUES (1, 'a@example.com', 'A', 'requester', 0, 0);
         INSERT INTO agent_group (id, name, tier, created_at, updated_at) VALUES (1, 'SD', 1, 0, 0);
         INSERT INTO ticket (id, number, kind, title, description, requester_id, channel, impact, urgency, priority, state,
             assignment_group_id, max_tier, created_by, created_at, updated_at)
             VALUES (70000, 'INC0070000', 'incident', 'printer offline', '', 1, 'api', 3, 3, 5, 'new', 1, 1, 1, 0, 0);",
    )
    .await
    .unwrap();
    // The index row as 0010–0014 wrote it.
    let row = match db.engine() {
        DbEngine::Sqlite => {
            "INSERT INTO fts_ticket (rowid, title, public_text, internal_text, owner) VALUES (70000, 'printer offline', '', '', 'u1')"
        }
        DbEngine::Postgres => {
            "INSERT INTO fts_ticket (ticket_id, all_tsv, public_tsv)
             VALUES (70000, setweight(to_tsvector('simple', 'printer offline'), 'A'),
                     setweight(to_tsvector('simple', 'printer offline'), 'A'))"
        }
    };
    db.execute_admin(row).await.unwrap();
    assert_eq!(db.migrate_to(15).await.unwrap(), [15]);
    let q = Query::parse("printer", false).unwrap();
    let all = TicketSearchFilter::default();
    let mut r = db.read().await.unwrap();
    for scope in [TicketScope::Staff, TicketScope::Requester(1)] {
        let hits = ticket_hits(&mut r.conn(), &q, scope, &all, 10).await.unwrap();
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), [70000], "{scope:?}");
    }
}

async fn staff_hits(db: &Db, word: &str) -> Vec<i64> {
    use orion_store::search::{TicketScope, TicketSearchFilter, ticket_hits};
    let q = orion_domain::search::Query::parse(word, false).unwrap();
    let mut r = db.read().await.unwrap();
    let hits = ticket_hits(&mut r.conn(), &q, TicketScope::Staff, &TicketSearchFilter::default(), 10).await.unwrap();
    hits.into_iter().map(|h| h.id).collect()
}

/// A write transaction knows whether it queued work due at once (only that wakes the job worker),
/// and writes its search rows as it commits: the newest text of each ticket, nothing on rollback.
async fn a_transaction_notes_due_work_and_writes_search_rows_at_commit(engine: Engine) {
    use orion_store::search::{TicketDoc, write_tickets};
    let Some((db, _d)) = open(engine).await else { return };
    seed_entry(&db).await; // ticket 1, requester 1
    let doc = |title: &str| TicketDoc::build(1, 1, title, "", "", std::iter::empty());
    let mut tx = db.begin().await.unwrap();
    orion_store::jobs::enqueue(&mut tx.conn(), &job("sla", 5_000, None), 1_000).await.unwrap();
    assert!(!tx.queued_due_jobs(), "a timer for later wakes nobody");
    orion_store::jobs::enqueue(&mut tx.conn(), &job("mail", 1_000, None), 1_000).await.unwrap();
    assert!(tx.queued_due_jobs(), "work due now does");
    write_tickets(&mut tx.conn(), vec![doc("Printer jammed")]).await.unwrap();
    write_tickets(&mut tx.conn(), vec![doc("Scanner jammed")]).await.unwrap();
    assert!(staff_hits(&db, "scanner").await.is_empty(), "nothing is findable before the commit");
    tx.commit().await.unwrap();
    assert_eq!(staff_hits(&db, "scanner").await, [1]);
    assert!(staff_hits(&db, "printer").await.is_empty(), "the newest text of the ticket is its row");

    let mut tx = db.begin().await.unwrap();
    write_tickets(&mut tx.conn(), vec![doc("Monitor flickers")]).await.unwrap();
    drop(tx);
    assert!(staff_hits(&db, "monitor").await.is_empty(), "a rollback writes no row");
    assert_eq!(staff_hits(&db, "scanner").await, [1]);
}

/// The look-ups every requester notice makes reach their rows by an index, not by reading the
/// table (the latest message received for a ticket did: sending slowed as mail piled up, to 140
/// messages a second after 10,000). On PostgreSQL sequential scans are turned off for the check,
/// so the plan is an index scan exactly when an index can serve the query.
async fn a_notices_look_ups_use_indexes(engine: Engine) {
    let Some((db, _dir)) = open(engine).await else { return };
    // Each with the index PostgreSQL must search (it can also walk a whole index whose leading
    // column the query does not name, which is no better than reading the table).
    let queries = [
        (
            "SELECT message_id FROM ticket_message WHERE ticket_id = 1 AND direction = 'in' ORDER BY created_at DESC, message_id LIMIT 1",
            "ticket_message_ticket_idx",
        ),
        ("SELECT COUNT(*) FROM mail_auto_sent WHERE address = 'a@example.com' AND sent_at >= 1", "mail_auto_sent_idx"),
        ("SELECT COUNT(*) FROM mail_outbound WHERE message_id = 'x@example.com'", "mail_outbound_message_id_key"),
        ("SELECT status FROM mail_bounce WHERE address = 'a@example.com'", "mail_bounce_pkey"),
    ];
    let mut tx = db.begin().await.unwrap();
    let mut c = tx.conn();
    for (q, pg_index) in queries {
        let plan: Vec<String> = match c.engine() {
            DbEngine::Sqlite => {
                let rows: Vec<(i64, i64, i64, String)> = with_conn!(&mut c, |c| {
                    orion_store::sqlx::query_as(orion_store::sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {q}")))
                        .fetch_all(c)
                        .await
                })
                .unwrap();
                rows.into_iter().map(|r| r.3).collect()
            }
            DbEngine::Postgres => with_conn!(&mut c, |c| {
                orion_store::sqlx::query("SET LOCAL enable_seqscan = off").execute(&mut *c).await.unwrap();
                orion_store::sqlx::query_scalar(orion_store::sqlx::AssertSqlSafe(format!("EXPLAIN {q}")))
                    .fetch_all(c)
                    .await
            })
            .unwrap(),
        };
        let text = plan.join(" / ");
        let searched = match c.engine() {
            DbEngine::Sqlite => text.starts_with("SEARCH") && !text.contains("SCAN"),
            DbEngine::Postgres => {
                text.contains(&format!("using {pg_index} ")) || text.contains(&format!("on {pg_index} "))
            }
        };
        assert!(searched, "{q}\nreads the whole table or index: {text}");
    }
}

orion_testkit::engine_tests!(
    ticket_lists_give_exactly_the_filtered_tickets_in_order,
    a_title_filter_reads_a_bounded_window_per_page,
    a_notices_look_ups_use_indexes,
    a_transaction_notes_due_work_and_writes_search_rows_at_commit,
    search_finds_the_newest_matches_across_id_blocks,
    search_markers_are_added_on_upgrade,
    jobs_are_leased_retried_and_deduplicated,
    concurrent_claims_never_overlap,
    upgrading_keeps_existing_data,
    numbers_grow_past_seven_digits,
    timeline_is_append_only,
    migrations_are_idempotent_and_refuse_a_newer_schema,
    constraint_errors_are_classified,
);

#[tokio::test]
async fn unknown_url_schemes_are_refused_without_creating_files() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("orion.db");
    for url in [
        format!("sqlit://{}", target.display()),
        format!("postgress://x@127.0.0.1/{}", "db"),
        "mysql://x@localhost/db".to_string(),
        target.display().to_string(),
    ] {
        let err = Db::connect(&url, &DbOptions::default()).await.err().expect("must fail");
        assert!(err.to_string().contains("unsupported scheme"), "{url}: {err}");
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "no file may be created");
}

/// A seeded ticket as the reference reading of a list sees it.
#[derive(Clone)]
struct Seeded {
    id: i64,
    kind: &'static str,
    state: &'static str,
    priority: i64,
    group: i64,
    assignee: Option<i64>,
    requester: i64,
    title: String,
}

/// Two groups, two agents, two requesters, and `n` tickets spread unevenly over kinds, states,
/// priorities, groups, assignees (many unassigned) and requesters; inserted in one statement.
async fn seed_lists(db: &Db, n: i64) -> (Vec<Seeded>, [i64; 2], [i64; 2], [i64; 2]) {
    let mut tx = db.begin().await.unwrap();
    let mut c = tx.conn();
    let user = |email: &'static str, role: &'static str| orion_store::users::NewUser {
        email,
        name: email,
        role,
        phone: None,
        department: None,
        password_hash: None,
        now: 0,
    };
    let mut ids = Vec::new();
    for (email, role) in [
        ("a1@example.com", "agent"),
        ("a2@example.com", "agent"),
        ("r1@example.com", "requester"),
        ("r2@example.com", "requester"),
    ] {
        ids.push(orion_store::users::insert(&mut c, &user(email, role)).await.unwrap());
    }
    let mut groups = Vec::new();
    for name in ["SD", "Network"] {
        groups.push(orion_store::groups::insert(&mut c, &tier1_group(name, 0)).await.unwrap());
    }
    let (agents, requesters, groups) = ([ids[0], ids[1]], [ids[2], ids[3]], [groups[0], groups[1]]);
    const STATES: [&str; 6] = ["new", "assigned", "in_progress", "pending", "resolved", "closed"];
    let rows: Vec<Seeded> = (1..=n)
        .map(|i| {
            let state = STATES[((i * 7 + i / 13) % 6) as usize];
            Seeded {
                id: i,
                kind: if i % 11 == 0 {
                    "problem"
                } else if i % 5 == 0 {
                    "service_request"
                } else {
                    "incident"
                },
                state,
                priority: 1 + (i * 3 + i / 7) % 5,
                group: groups[usize::from(i % 3 == 0)],
                // Agent 1 never has a new ticket; most new tickets are unassigned.
                assignee: match (state, i % 4) {
                    ("new", 0) => Some(agents[1]),
                    ("new", _) | (_, 3) => None,
                    (_, 1) => Some(agents[1]),
                    _ => Some(agents[0]),
                },
                requester: requesters[usize::from(i % 9 == 0)],
                title: format!("{} {}", ["Printer jam", "VPN drops", "Zeppelin sighted"][(i % 3) as usize], i),
            }
        })
        .collect();
    for chunk in rows.chunks(500) {
        let mut sql = orion_store::sql::Sql::new(
            "INSERT INTO ticket (id, number, kind, title, description, requester_id, channel, impact, urgency,
                 priority, state, assignment_group_id, assignee_id, max_tier, created_by, created_at, updated_at)
             VALUES ",
        );
        for (k, r) in chunk.iter().enumerate() {
            sql.push(if k == 0 { "(" } else { ", (" }).bind_i64(r.id).push(", ");
            sql.bind_text(format!("INC{:07}", r.id)).push(", ").bind_text(r.kind).push(", ").bind_text(r.title.clone());
            sql.push(", '', ").bind_i64(r.requester).push(", 'api', 2, 2, ").bind_i64(r.priority).push(", ");
            sql.bind_text(r.state).push(", ").bind_i64(r.group).push(", ");
            sql.bind(orion_store::sql::Bind::OptI64(r.assignee)).push(", 1, ").bind_i64(agents[0]);
            sql.push(", ").bind_i64(r.id).push(", ").bind_i64(r.id).push(")");
        }
        orion_store::execute_sql!(&mut c, &sql).unwrap();
    }
    tx.commit().await.unwrap();
    (rows, agents, requesters, groups)
}

/// Pages through `f` as the API does (one row more than the page, the last row's id as the
/// cursor; a short page with a resume point goes on from it) and gives every id listed.
async fn page_through(db: &Db, f: &orion_store::tickets::TicketFilter, page: i64) -> Vec<i64> {
    let mut f = orion_store::tickets::TicketFilter { limit: page + 1, before_id: None, ..f.clone() };
    let mut all = Vec::new();
    for _ in 0..10_000 {
        let mut r = db.read().await.unwrap();
        let got = orion_store::tickets::list(&mut r.conn(), &f).await.unwrap();
        let ids: Vec<i64> = got.rows.iter().map(|t| t.id).collect();
        all.extend(ids.iter().take(page as usize));
        f.before_id = if ids.len() as i64 > page { Some(ids[page as usize - 1]) } else { got.resume_after };
        if f.before_id.is_none() {
            return all;
        }
    }
    panic!("the list never ended: {f:?}");
}

/// Every combination of the ticket list's filters, in both orders and paged, lists exactly the
/// tickets a plain reading of the filter picks, in order — whichever index the store walks, with
/// however many branches. On SQLite, the statements walk indexes in id order: none sorts.
async fn ticket_lists_give_exactly_the_filtered_tickets_in_order(engine: Engine) {
    use orion_store::tickets::{AssigneeFilter, TicketFilter};
    let Some((db, _dir)) = open(engine).await else { return };
    let (rows, agents, requesters, groups) = seed_lists(&db, 700).await;
    let open: Vec<String> = ["new", "assigned", "in_progress", "pending"].map(String::from).to_vec();
    let kinds = [None, Some("incident"), Some("problem"), Some("change")];
    let state_sets: [Vec<String>; 5] =
        [vec![], vec!["new".into()], vec!["new".into(), "assigned".into()], open, vec!["closed".into()]];
    let priorities = [None, Some(1), Some(4)];
    let group_ids = [None, Some(groups[0]), Some(groups[1])];
    let assignees = [None, Some(AssigneeFilter::Nobody), Some(AssigneeFilter::User(agents[0]))];
    let requester_ids = [None, Some(requesters[1])];
    let mut checked = 0;
    let mut sorted = Vec::new();
    // A fixed spread over the 2,160 combinations: every value of every filter is met many times.
    for n in (0..2160usize).step_by(7) {
        let mut k = n;
        let mut pick = |len: usize| {
            let v = k % len;
            k /= len;
            v
        };
        let f = TicketFilter {
            kind: kinds[pick(4)].map(String::from),
            states: state_sets[pick(5)].clone(),
            priority: priorities[pick(3)],
            group_id: group_ids[pick(3)],
            assignee: assignees[pick(3)],
            requester_id: requester_ids[pick(2)],
            ascending: pick(2) == 1,
            ..TicketFilter::default()
        };
        let mut want: Vec<i64> = rows
            .iter()
            .filter(|r| {
                f.kind.as_deref().is_none_or(|k| k == r.kind)
                    && (f.states.is_empty() || f.states.iter().any(|s| s == r.state))
                    && f.priority.is_none_or(|p| p == r.priority)
                    && f.group_id.is_none_or(|g| g == r.group)
                    && match f.assignee {
                        None => true,
                        Some(AssigneeFilter::Nobody) => r.assignee.is_none(),
                        Some(AssigneeFilter::User(u)) => r.assignee == Some(u),
                    }
                    && f.requester_id.is_none_or(|q| q == r.requester)
            })
            .map(|r| r.id)
            .collect();
        if !f.ascending {
            want.reverse();
        }
        assert_eq!(page_through(&db, &f, 9).await, want, "{f:?}");
        checked += usize::from(!want.is_empty());
        if engine == Engine::Sqlite {
            let mut r = db.read().await.unwrap();
            let mut c = r.conn();
            let sql = orion_store::tickets::list_sql(&mut c, &TicketFilter { limit: 10, ..f.clone() }).await.unwrap();
            let plan: Vec<(i64, i64, i64, String)> = with_conn!(&mut c, |c| {
                let q = orion_store::sqlx::query_as(orion_store::sqlx::AssertSqlSafe(format!(
                    "EXPLAIN QUERY PLAN {}",
                    sql.text()
                )));
                orion_store::bind_sql!(q, &sql).fetch_all(c).await
            })
            .unwrap();
            if plan.iter().any(|p| p.3.contains("TEMP B-TREE")) {
                sorted.push(format!("{f:?}"));
            }
        }
    }
    assert!(checked > 150, "too few combinations matched anything: {checked}");
    assert!(sorted.is_empty(), "these lists sort their rows instead of walking an index:\n{}", sorted.join("\n"));
}

/// A title filter reads a bounded window of the list per page: a word in two titles of 25,000
/// (one near each end) is found by following the pages' cursors, each page reading at most the
/// window, and the list ends.
async fn a_title_filter_reads_a_bounded_window_per_page(engine: Engine) {
    use orion_store::tickets::{TITLE_WINDOW, TicketFilter};
    let Some((db, _dir)) = open(engine).await else { return };
    let (_, agents, requesters, groups) = seed_lists(&db, 1).await;
    let n = TITLE_WINDOW + 5_000;
    let mut sql =
        orion_store::sql::Sql::new("WITH RECURSIVE s(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM s WHERE i < ");
    sql.bind_i64(n).push(
        ") INSERT INTO ticket (id, number, kind, title, description, requester_id, channel, impact, urgency,
             priority, state, assignment_group_id, assignee_id, max_tier, created_by, created_at, updated_at)
         SELECT i, 'INC' || i, 'incident', CASE WHEN i IN (3, ",
    );
    sql.bind_i64(n - 1).push(") THEN 'Zeppelin over the car park' ELSE 'Printer jam' END, '', ");
    sql.bind_i64(requesters[0]).push(", 'api', 2, 2, 3, 'new', ").bind_i64(groups[0]).push(", NULL, 1, ");
    sql.bind_i64(agents[0]).push(", i, i FROM s");
    let mut tx = db.begin().await.unwrap();
    orion_store::execute_sql!(&mut tx.conn(), &sql).unwrap();
    tx.commit().await.unwrap();

    for ascending in [false, true] {
        let f = TicketFilter { title: Some("zePPelin".into()), ascending, ..TicketFilter::default() };
        let mut want = vec![3, n - 1];
        if !ascending {
            want.reverse();
        }
        assert_eq!(page_through(&db, &f, 10).await, want);
        // The first page stops at the window with the one match near its start, and says where.
        let mut r = db.read().await.unwrap();
        let first = orion_store::tickets::list(&mut r.conn(), &TicketFilter { limit: 11, ..f.clone() }).await.unwrap();
        assert_eq!(first.rows.len(), 1);
        let edge = if ascending { TITLE_WINDOW } else { n - TITLE_WINDOW + 1 };
        assert_eq!(first.resume_after, Some(edge), "ascending: {ascending}");
    }
    // A title in no ticket: every page is empty but bounded, and the list still ends.
    let f = TicketFilter { title: Some("dirigible".into()), ..TicketFilter::default() };
    assert!(page_through(&db, &f, 10).await.is_empty());
}

/// How many groups the database holds, read on a reader.
async fn groups_count(db: &Db) -> i64 {
    let mut r = db.read().await.unwrap();
    with_conn!(r.conn(), |c| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM agent_group")
        .fetch_one(c)
        .await
        .unwrap())
}

async fn insert_group(tx: &mut orion_store::Tx, name: &str) {
    orion_store::groups::insert(&mut tx.conn(), &tier1_group(name, 1)).await.unwrap();
}

/// A tier-1 group without lead or escalation target.
fn tier1_group(name: &str, now: i64) -> orion_store::groups::NewGroup<'_> {
    orion_store::groups::NewGroup { name, tier: 1, escalation_target_id: None, lead_id: None, description: "", now }
}

/// SQLite's own connection handling (no general-purpose pool): a write transaction dropped
/// without commit leaves nothing and the writer usable at once, also when dropped in the middle
/// of its work by a cancelled request; readers are reused and bounded.
#[tokio::test]
async fn sqlite_writer_rolls_back_what_is_dropped_and_readers_are_bounded() {
    let Some((db, _dir)) = open(Engine::Sqlite).await else { return };
    let before = groups_count(&db).await;
    let mut tx = db.begin().await.unwrap();
    insert_group(&mut tx, "Dropped").await;
    drop(tx);
    let mut tx = db.begin().await.unwrap();
    insert_group(&mut tx, "Kept").await;
    tx.commit().await.unwrap();
    assert_eq!(groups_count(&db).await, before + 1, "the dropped transaction's group must be gone");
    // A request cancelled in the middle of its transaction, between two statements.
    let (started, begun) = tokio::sync::oneshot::channel();
    let work = {
        let db = db.clone();
        tokio::spawn(async move {
            let mut tx = db.begin().await.unwrap();
            insert_group(&mut tx, "Cancelled 0").await;
            started.send(()).unwrap();
            for i in 1..100_000 {
                insert_group(&mut tx, &format!("Cancelled {i}")).await;
            }
            tx.commit().await.unwrap();
        })
    };
    begun.await.unwrap();
    work.abort();
    assert!(work.await.unwrap_err().is_cancelled(), "the work must have been cut short");
    let mut tx = db.begin().await.unwrap();
    insert_group(&mut tx, "After").await;
    tx.commit().await.unwrap();
    assert_eq!(groups_count(&db).await, before + 2, "nothing of the cancelled transaction may remain");
    // DbOptions::default() allows 8 readers: a ninth waits for one to be handed back.
    let held: Vec<_> = hold_readers(&db, 8).await;
    let ninth = tokio::time::timeout(std::time::Duration::from_millis(200), db.read()).await;
    assert!(ninth.is_err(), "a ninth reader must wait while eight are held");
    drop(held);
    assert!(tokio::time::timeout(std::time::Duration::from_secs(5), db.read()).await.is_ok());
}

async fn hold_readers(db: &Db, n: usize) -> Vec<orion_store::ReadConn> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(db.read().await.unwrap());
    }
    out
}

/// The job worker's writes (`begin_background`) let people's writes waiting for SQLite's single
/// writer go first — but not for ever.
#[tokio::test]
async fn sqlite_background_writes_let_waiting_requests_go_first() {
    let Some((db, _dir)) = open(Engine::Sqlite).await else { return };
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let holder = db.begin().await.unwrap();
    let background = {
        let (db, order) = (db.clone(), order.clone());
        tokio::spawn(async move {
            let tx = db.begin_background().await.unwrap();
            order.lock().unwrap().push("background");
            tx.commit().await.unwrap();
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let foreground = {
        let (db, order) = (db.clone(), order.clone());
        tokio::spawn(async move {
            let tx = db.begin().await.unwrap();
            order.lock().unwrap().push("foreground");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            tx.commit().await.unwrap();
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    holder.commit().await.unwrap();
    foreground.await.unwrap();
    background.await.unwrap();
    assert_eq!(*order.lock().unwrap(), ["foreground", "background"], "the request queued later must go first");

    // A writer held longer than the background's patience: it still gets its turn in order.
    let holder = db.begin().await.unwrap();
    let waiter = {
        let db = db.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let tx = db.begin_background().await.unwrap();
            tx.commit().await.unwrap();
            started.elapsed()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    holder.commit().await.unwrap();
    let waited = waiter.await.unwrap();
    assert!(waited >= std::time::Duration::from_millis(400), "it waited for the holder: {waited:?}");
}
