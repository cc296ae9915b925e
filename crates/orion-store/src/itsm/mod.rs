//! Problems and changes: what a PRB or CHG ticket has beyond the ticket core, the incidents they
//! are linked to, recurring-incident proposals, approvals, tasks, templates and freeze periods.

use crate::{Conn, Result, one_row, with_conn};
use orion_domain::change::{CHANGE_PHASES, PROBLEM_PHASES};

mod changes;

pub use changes::*;

// ---------------------------------------------------------------- problems

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProblemRow {
    pub ticket_id: i64,
    pub phase: String,
    pub symptoms: String,
    pub timeline: String,
    pub root_cause: String,
    pub contributing_factors: String,
    pub analysis: String,
    pub workaround: String,
    pub fix_change_id: Option<i64>,
    pub fix_change_number: Option<String>,
    pub known_error_at: Option<i64>,
    pub version: i64,
}

const PROBLEM_COLS: &str = "SELECT p.ticket_id, p.phase, p.symptoms, p.timeline, p.root_cause, p.contributing_factors,
        p.analysis, p.workaround, p.fix_change_id, f.number AS fix_change_number, p.known_error_at, p.version
     FROM problem p LEFT JOIN ticket f ON f.id = p.fix_change_id";

pub async fn insert_problem(conn: &mut Conn<'_>, p: &ProblemRow) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO problem (ticket_id, phase, symptoms, timeline, root_cause, contributing_factors, analysis,
                 workaround, fix_change_id, known_error_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(p.ticket_id)
        .bind(&p.phase)
        .bind(&p.symptoms)
        .bind(&p.timeline)
        .bind(&p.root_cause)
        .bind(&p.contributing_factors)
        .bind(&p.analysis)
        .bind(&p.workaround)
        .bind(p.fix_change_id)
        .bind(p.known_error_at)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

pub async fn get_problem(conn: &mut Conn<'_>, ticket_id: i64) -> Result<ProblemRow> {
    let sql = format!("{PROBLEM_COLS} WHERE p.ticket_id = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(ticket_id).fetch_one(c).await)?)
}

/// Writes a problem's own fields if it is still at `p.version`; `Ok(false)` if someone else
/// changed it meanwhile.
pub async fn update_problem(conn: &mut Conn<'_>, p: &ProblemRow) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE problem SET phase = $2, symptoms = $3, timeline = $4, root_cause = $5, contributing_factors = $6,
                 analysis = $7, workaround = $8, fix_change_id = $9, known_error_at = $10, version = version + 1
             WHERE ticket_id = $1 AND version = $11",
        )
        .bind(p.ticket_id)
        .bind(&p.phase)
        .bind(&p.symptoms)
        .bind(&p.timeline)
        .bind(&p.root_cause)
        .bind(&p.contributing_factors)
        .bind(&p.analysis)
        .bind(&p.workaround)
        .bind(p.fix_change_id)
        .bind(p.known_error_at)
        .bind(p.version)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// A PRB or CHG as lists show it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRow {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub phase: String,
    pub priority: i64,
    pub assignee_name: Option<String>,
    pub group_name: String,
    pub created_at: i64,
}

/// Which list of PRB or CHG items to read.
#[derive(Debug, Clone, Copy)]
pub enum Items {
    Problems,
    Changes,
}

/// Problems or changes newest first, optionally in one phase; keyset-paged by ticket id.
pub async fn list_items(
    conn: &mut Conn<'_>,
    items: Items,
    phase: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ItemRow>> {
    let (table, phases) = match items {
        Items::Problems => ("problem", PROBLEM_PHASES),
        Items::Changes => ("change_request", CHANGE_PHASES),
    };
    // A literal from the domain's list: PostgreSQL's generic plans ignore the index for a bound phase.
    let filter = match phase.and_then(|p| phases.iter().find(|x| **x == p)) {
        Some(p) => format!("x.phase = '{p}' AND"),
        None => String::new(),
    };
    let sql = format!(
        "SELECT t.id, t.number, t.title, x.phase, t.priority, a.name AS assignee_name, g.name AS group_name,
                t.created_at
         FROM {table} x JOIN ticket t ON t.id = x.ticket_id JOIN agent_group g ON g.id = t.assignment_group_id
         LEFT JOIN app_user a ON a.id = t.assignee_id
         WHERE {filter} x.ticket_id < $1 ORDER BY x.ticket_id DESC LIMIT $2"
    );
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(before.unwrap_or(i64::MAX)).bind(limit).fetch_all(c).await
    })?)
}

/// Links an incident to a problem. `Duplicate` if it already belongs to a problem.
pub async fn link_incident(conn: &mut Conn<'_>, incident_id: i64, problem_id: i64, by: i64, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO problem_incident (incident_id, problem_id, linked_by, linked_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(incident_id)
        .bind(problem_id)
        .bind(by)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

pub async fn unlink_incident(conn: &mut Conn<'_>, incident_id: i64, problem_id: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM problem_incident WHERE incident_id = $1 AND problem_id = $2")
            .bind(incident_id)
            .bind(problem_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    one_row(n)
}

/// A ticket linked to a problem or change.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkedRow {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub state: String,
    pub priority: i64,
    pub created_at: i64,
}

/// A problem's incidents, oldest first (at most 1,000).
pub async fn incidents_of_problem(conn: &mut Conn<'_>, problem_id: i64) -> Result<Vec<LinkedRow>> {
    linked_rows(
        conn,
        "problem_incident l JOIN ticket t ON t.id = l.incident_id WHERE l.problem_id = $1",
        "l.incident_id",
        1000,
        problem_id,
    )
    .await
}

/// The tickets on the other side of a link table (`from_where` joins it to `ticket t` and
/// binds `$1`), in the order of `order_by`, at most `limit`.
async fn linked_rows(
    conn: &mut Conn<'_>,
    from_where: &'static str,
    order_by: &'static str,
    limit: i64,
    id: i64,
) -> Result<Vec<LinkedRow>> {
    let sql = format!(
        "SELECT t.id, t.number, t.title, t.state, t.priority, t.created_at FROM {from_where} ORDER BY {order_by} LIMIT {limit}"
    );
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_all(c).await)?)
}

/// The problem an incident belongs to, if any.
pub async fn problem_of_incident(conn: &mut Conn<'_>, incident_id: i64) -> Result<Option<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT problem_id FROM problem_incident WHERE incident_id = $1")
            .bind(incident_id)
            .fetch_optional(c)
            .await
    })?)
}

/// An incident as the recurrence detector reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DetectRow {
    pub id: i64,
    pub created_at: i64,
    pub title: String,
    pub description: String,
    pub category: Option<String>,
}

/// Incidents created at or after `since` that belong to no problem, oldest first, at most `limit`.
pub async fn incidents_since(conn: &mut Conn<'_>, since: i64, limit: i64) -> Result<Vec<DetectRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT t.id, t.created_at, t.title, t.description, k.path AS category
             FROM ticket t LEFT JOIN category k ON k.id = t.category_id
             WHERE t.kind = 'incident' AND t.created_at >= $1
               AND NOT EXISTS (SELECT 1 FROM problem_incident l WHERE l.incident_id = t.id)
             ORDER BY t.created_at, t.id LIMIT $2",
        )
        .bind(since)
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

/// (ticket id, CI id, CI name, CI type) for every CI the given tickets name.
pub async fn cis_of_tickets(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<(i64, i64, String, String)>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let mut sql = crate::sql::Sql::new(
            "SELECT l.ticket_id, l.ci_id, c.name, c.ci_type FROM ticket_ci l JOIN ci c ON c.id = l.ci_id
             WHERE l.ticket_id IN ",
        );
        sql.bind_list(chunk, crate::sql::Bind::I64);
        let rows = crate::fetch_all_sql!(conn, TicketCiRow, &sql)?;
        out.extend(rows.into_iter().map(|r| (r.ticket_id, r.ci_id, r.name, r.ci_type)));
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct TicketCiRow {
    ticket_id: i64,
    ci_id: i64,
    name: String,
    ci_type: String,
}

// ---------------------------------------------------------------- proposals

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProposalRow {
    pub id: i64,
    pub basis: String,
    pub basis_ci_id: Option<i64>,
    pub reason: String,
    pub terms: String,
    pub incident_key: String,
    pub incidents: String,
    pub state: String,
    pub problem_id: Option<i64>,
    pub problem_number: Option<String>,
    pub decided_by: Option<i64>,
    pub decided_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const PROPOSAL_COLS: &str = "SELECT p.id, p.basis, p.basis_ci_id, p.reason, p.terms, p.incident_key, p.incidents,
        p.state, p.problem_id, t.number AS problem_number, p.decided_by, p.decided_at, p.created_at, p.updated_at
     FROM problem_proposal p LEFT JOIN ticket t ON t.id = p.problem_id";

pub struct NewProposal<'a> {
    pub basis: &'a str,
    pub basis_ci_id: Option<i64>,
    pub reason: &'a str,
    pub terms: &'a str,
    pub incident_key: &'a str,
    pub incidents: &'a str,
}

/// Records a proposal; `None` when a proposal for the same set of incidents exists (open,
/// accepted or dismissed).
pub async fn insert_proposal(conn: &mut Conn<'_>, p: &NewProposal<'_>, now: i64) -> Result<Option<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO problem_proposal (basis, basis_ci_id, reason, terms, incident_key, incidents, state,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $7)
             ON CONFLICT (incident_key) DO NOTHING RETURNING id",
        )
        .bind(p.basis)
        .bind(p.basis_ci_id)
        .bind(p.reason)
        .bind(p.terms)
        .bind(p.incident_key)
        .bind(p.incidents)
        .bind(now)
        .fetch_optional(c)
        .await
    })?)
}

/// An open proposal grew or shrank: new set, new reason.
pub async fn refresh_proposal(conn: &mut Conn<'_>, id: i64, p: &NewProposal<'_>, now: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE problem_proposal SET reason = $2, terms = $3, incident_key = $4, incidents = $5, updated_at = $6
             WHERE id = $1 AND state = 'open'
               AND NOT EXISTS (SELECT 1 FROM problem_proposal o WHERE o.incident_key = $4)",
        )
        .bind(id)
        .bind(p.reason)
        .bind(p.terms)
        .bind(p.incident_key)
        .bind(p.incidents)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

pub async fn get_proposal(conn: &mut Conn<'_>, id: i64) -> Result<ProposalRow> {
    let sql = format!("{PROPOSAL_COLS} WHERE p.id = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_one(c).await)?)
}

/// Proposals in `state`, newest first, keyset-paged.
pub async fn list_proposals(
    conn: &mut Conn<'_>,
    state: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ProposalRow>> {
    let sql = format!("{PROPOSAL_COLS} WHERE p.state = $1 AND p.id < $2 ORDER BY p.id DESC LIMIT $3");
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(state)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(c)
            .await
    })?)
}

/// Accepts (with the problem it became) or dismisses an open proposal; `NotFound` if it is not open.
pub async fn decide_proposal(
    conn: &mut Conn<'_>,
    id: i64,
    state: &str,
    problem_id: Option<i64>,
    by: i64,
    now: i64,
) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE problem_proposal SET state = $2, problem_id = $3, decided_by = $4, decided_at = $5, updated_at = $5
             WHERE id = $1 AND state = 'open'",
        )
        .bind(id)
        .bind(state)
        .bind(problem_id)
        .bind(by)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    one_row(n)
}

/// Whether a proposal for exactly this set exists, whatever its state.
pub async fn proposal_key_exists(conn: &mut Conn<'_>, key: &str) -> Result<bool> {
    let n: i64 = with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM problem_proposal WHERE incident_key = $1").bind(key).fetch_one(c).await
    })?;
    Ok(n > 0)
}
