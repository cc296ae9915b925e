//! Tickets: insert, read with display names, optimistic update, keyset lists.

use crate::sql::{Bind, Sql};
use crate::{Conn, Result, StoreError, with_conn};

/// A ticket with the names a person reads (requester, group, assignee, category).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketView {
    pub id: i64,
    pub number: String,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub requester_id: i64,
    pub requester_email: String,
    pub requester_name: String,
    pub channel: String,
    pub category_id: Option<i64>,
    pub category_path: Option<String>,
    pub impact: i64,
    pub urgency: i64,
    pub priority: i64,
    pub state: String,
    pub pending_reason: Option<String>,
    pub assignment_group_id: i64,
    pub assignment_group_name: String,
    pub assignment_group_tier: i64,
    pub assignee_id: Option<i64>,
    pub assignee_email: Option<String>,
    pub assignee_name: Option<String>,
    pub escalation_count: i64,
    pub max_tier: i64,
    pub reopen_count: i64,
    pub resolution_code: Option<String>,
    pub resolution_notes: Option<String>,
    pub created_by: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub version: i64,
}

const SELECT_VIEW: &str = "SELECT t.id, t.number, t.kind, t.title, t.description,
        t.requester_id, r.email AS requester_email, r.name AS requester_name, t.channel,
        t.category_id, c.path AS category_path, t.impact, t.urgency, t.priority, t.state, t.pending_reason,
        t.assignment_group_id, g.name AS assignment_group_name, g.tier AS assignment_group_tier,
        t.assignee_id, a.email AS assignee_email, a.name AS assignee_name,
        t.escalation_count, t.max_tier, t.reopen_count, t.resolution_code, t.resolution_notes,
        t.created_by, t.created_at, t.updated_at, t.resolved_at, t.closed_at, t.version
    FROM ticket t
    JOIN app_user r ON r.id = t.requester_id
    JOIN agent_group g ON g.id = t.assignment_group_id
    LEFT JOIN category c ON c.id = t.category_id
    LEFT JOIN app_user a ON a.id = t.assignee_id";

/// The fields of a ticket being logged; its number is drawn from the sequence of `prefix`.
pub struct NewTicket<'a> {
    /// `INC`, `REQ`, …: the number prefix, which is also the sequence's name
    pub prefix: &'a str,
    pub kind: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub requester_id: i64,
    pub channel: &'a str,
    pub category_id: Option<i64>,
    pub impact: i64,
    pub urgency: i64,
    pub priority: i64,
    pub state: &'a str,
    /// Why it waits, for a ticket that starts pending (problems and changes may)
    pub pending_reason: Option<&'a str>,
    pub assignment_group_id: i64,
    pub assignee_id: Option<i64>,
    pub max_tier: i64,
    pub created_by: i64,
    pub now: i64,
    /// The timeline entry that records the creation (its actor is `created_by`).
    pub entry_visibility: &'a str,
    pub entry_data: &'a str,
}

#[derive(sqlx::FromRow)]
struct Created {
    id: i64,
    number: String,
}

/// Numbers the ticket, inserts it and its `created` timeline entry in one
/// statement batch: logging tickets is the hottest write, and each round trip
/// to the database costs more than the SQL itself. The number is the prefix and
/// at least seven digits, as `orion_domain::TicketNumber` formats it.
const CREATE_SQLITE: &str = "
    INSERT INTO ticket_counter (kind, last_value) VALUES ($1, 1)
        ON CONFLICT (kind) DO UPDATE SET last_value = ticket_counter.last_value + 1;
    INSERT INTO ticket (number, kind, title, description, requester_id, channel, category_id,
            impact, urgency, priority, state, assignment_group_id, assignee_id, max_tier,
            created_by, created_at, updated_at, pending_reason)
        SELECT $1 || printf('%07d', last_value), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $19
        FROM ticket_counter WHERE kind = $1
        RETURNING id, number;
    INSERT INTO timeline_entry (ticket_id, at, actor_id, kind, visibility, body, data)
        VALUES (last_insert_rowid(), $16, $15, 'created', $17, '', $18);";

const CREATE_POSTGRES: &str = "
    WITH n AS (
        INSERT INTO ticket_counter (kind, last_value) VALUES ($1, 1)
        ON CONFLICT (kind) DO UPDATE SET last_value = ticket_counter.last_value + 1
        RETURNING last_value
    ), t AS (
        INSERT INTO ticket (number, kind, title, description, requester_id, channel, category_id,
            impact, urgency, priority, state, assignment_group_id, assignee_id, max_tier,
            created_by, created_at, updated_at, pending_reason)
        SELECT $1 || CASE WHEN n.last_value < 10000000 THEN lpad(n.last_value::text, 7, '0')
                          ELSE n.last_value::text END,
               $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $19
        FROM n
        RETURNING id, number
    ), e AS (
        INSERT INTO timeline_entry (ticket_id, at, actor_id, kind, visibility, body, data)
        SELECT t.id, $16, $15, 'created', $17, '', $18 FROM t
    )
    SELECT id, number FROM t";

/// Logs a ticket: returns its id and number.
pub async fn create(conn: &mut Conn<'_>, t: &NewTicket<'_>) -> Result<(i64, String)> {
    let sql = match conn.engine() {
        crate::Engine::Sqlite => CREATE_SQLITE,
        crate::Engine::Postgres => CREATE_POSTGRES,
    };
    // fetch_all: on SQLite every statement of the batch must run, not only up to the first row.
    let rows: Vec<Created> = with_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(t.prefix)
            .bind(t.kind)
            .bind(t.title)
            .bind(t.description)
            .bind(t.requester_id)
            .bind(t.channel)
            .bind(t.category_id)
            .bind(t.impact)
            .bind(t.urgency)
            .bind(t.priority)
            .bind(t.state)
            .bind(t.assignment_group_id)
            .bind(t.assignee_id)
            .bind(t.max_tier)
            .bind(t.created_by)
            .bind(t.now)
            .bind(t.entry_visibility)
            .bind(t.entry_data)
            .bind(t.pending_reason)
            .fetch_all(c)
            .await
    })?;
    let created = rows.into_iter().next().ok_or(StoreError::NotFound)?;
    let doc =
        crate::search::TicketDoc::build(created.id, t.requester_id, t.title, t.description, "", std::iter::empty());
    crate::search::write_tickets(conn, vec![doc]).await?;
    Ok((created.id, created.number))
}

pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<TicketView> {
    let mut sql = Sql::new(SELECT_VIEW);
    sql.push(" WHERE t.id = ").bind_i64(id);
    crate::fetch_all_sql!(conn, TicketView, &sql)?.pop().ok_or(StoreError::NotFound)
}

/// Several tickets by id, in no particular order.
pub async fn get_many(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<TicketView>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(SELECT_VIEW);
    sql.push(" WHERE t.id IN ").bind_list(ids, Bind::I64);
    Ok(crate::fetch_all_sql!(conn, TicketView, &sql)?)
}

pub async fn get_by_number(conn: &mut Conn<'_>, number: &str) -> Result<TicketView> {
    let mut sql = Sql::new(SELECT_VIEW);
    sql.push(" WHERE t.number = ").bind_text(number);
    crate::fetch_all_sql!(conn, TicketView, &sql)?.pop().ok_or(StoreError::NotFound)
}

/// Writes the mutable fields of `t` if nobody changed the ticket since `t.version` was read,
/// and refreshes its search index row when its text changed.
pub async fn update(conn: &mut Conn<'_>, t: &TicketView) -> Result<()> {
    let before: Option<(String, String, Option<String>)> = with_conn!(conn, |c| {
        sqlx::query_as("SELECT title, description, resolution_notes FROM ticket WHERE id = $1")
            .bind(t.id)
            .fetch_optional(c)
            .await
    })?;
    let text_changed = before.is_some_and(|(ti, d, r)| ti != t.title || d != t.description || r != t.resolution_notes);
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE ticket SET title = $2, description = $3, category_id = $4, impact = $5, urgency = $6,
                 priority = $7, state = $8, pending_reason = $9, assignment_group_id = $10, assignee_id = $11,
                 escalation_count = $12, max_tier = $13, reopen_count = $14, resolution_code = $15,
                 resolution_notes = $16, updated_at = $17, resolved_at = $18, closed_at = $19,
                 version = version + 1
             WHERE id = $1 AND version = $20",
        )
        .bind(t.id)
        .bind(&t.title)
        .bind(&t.description)
        .bind(t.category_id)
        .bind(t.impact)
        .bind(t.urgency)
        .bind(t.priority)
        .bind(&t.state)
        .bind(&t.pending_reason)
        .bind(t.assignment_group_id)
        .bind(t.assignee_id)
        .bind(t.escalation_count)
        .bind(t.max_tier)
        .bind(t.reopen_count)
        .bind(&t.resolution_code)
        .bind(&t.resolution_notes)
        .bind(t.updated_at)
        .bind(t.resolved_at)
        .bind(t.closed_at)
        .bind(t.version)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(StoreError::Stale);
    }
    if text_changed {
        crate::search::index_ticket(conn, t.id).await?;
    }
    Ok(())
}

/// Who a list is restricted to by assignee.
#[derive(Debug, Clone, Copy)]
pub enum AssigneeFilter {
    Nobody,
    User(i64),
}

/// Filters for a ticket list; every one is served by an index on (column, id).
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub kind: Option<String>,
    pub states: Vec<String>,
    pub priority: Option<i64>,
    pub group_id: Option<i64>,
    pub assignee: Option<AssigneeFilter>,
    pub requester_id: Option<i64>,
    /// Keyset cursor: only tickets past this id in the list's order.
    pub before_id: Option<i64>,
    /// Oldest first instead of newest first.
    pub ascending: bool,
    /// Title contains this text (any case).
    pub title: Option<String>,
    pub limit: i64,
}

/// Newest first, keyset-paged, never an OFFSET.
pub async fn list(conn: &mut Conn<'_>, f: &TicketFilter) -> Result<Vec<TicketView>> {
    let mut sql = Sql::new(SELECT_VIEW);
    sql.push(" WHERE 1=1");
    if let Some(k) = &f.kind {
        sql.push(" AND t.kind = ").bind_text(k.clone());
    }
    if !f.states.is_empty() {
        sql.push(" AND t.state IN ").bind_list(&f.states, Bind::Text);
    }
    if let Some(p) = f.priority {
        sql.push(" AND t.priority = ").bind_i64(p);
    }
    if let Some(g) = f.group_id {
        sql.push(" AND t.assignment_group_id = ").bind_i64(g);
    }
    match f.assignee {
        Some(AssigneeFilter::Nobody) => {
            sql.push(" AND t.assignee_id IS NULL");
        }
        Some(AssigneeFilter::User(u)) => {
            sql.push(" AND t.assignee_id = ").bind_i64(u);
        }
        None => {}
    }
    if let Some(r) = f.requester_id {
        sql.push(" AND t.requester_id = ").bind_i64(r);
    }
    if let Some(text) = &f.title {
        let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        sql.push(" AND LOWER(t.title) LIKE ").bind_text(format!("%{escaped}%")).push(" ESCAPE '\\'");
    }
    match (f.before_id, f.ascending) {
        (Some(b), false) => {
            sql.push(" AND t.id < ").bind_i64(b);
        }
        (Some(b), true) => {
            sql.push(" AND t.id > ").bind_i64(b);
        }
        (None, _) => {}
    }
    sql.push(if f.ascending { " ORDER BY t.id ASC LIMIT " } else { " ORDER BY t.id DESC LIMIT " }).bind_i64(f.limit);
    Ok(crate::fetch_all_sql!(conn, TicketView, &sql)?)
}

pub async fn count(conn: &mut Conn<'_>) -> Result<i64> {
    Ok(with_conn!(conn, |c| sqlx::query_scalar("SELECT COUNT(*) FROM ticket").fetch_one(c).await)?)
}
