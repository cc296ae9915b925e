//! The append-only timeline of each ticket: its audit trail.

use crate::tickets::TicketView;
use crate::{Conn, Result, with_conn};
use orion_domain::{Actor, TicketEvent};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub id: i64,
    pub ticket_id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub kind: String,
    pub visibility: String,
    pub body: String,
    pub data: String,
}

pub struct NewEntry<'a> {
    pub ticket_id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub kind: &'a str,
    pub visibility: &'a str,
    pub body: &'a str,
    /// JSON text: before/after values, group moves, …
    pub data: &'a str,
}

/// A ticket event recorded in a write transaction, with the timeline entry that explains it
/// and the ticket as the command left it (when the command had it at hand).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub ticket_id: i64,
    pub at: i64,
    /// Who did it; `None`: Orion itself.
    pub actor: Option<Actor>,
    pub event: TicketEvent,
    /// The entry written with the event.
    pub entry: Option<Written>,
    pub ticket: Option<Box<TicketView>>,
}

/// A timeline entry as written.
#[derive(Debug, Clone)]
pub struct Written {
    pub id: i64,
    pub actor_id: Option<i64>,
    pub kind: String,
    pub visibility: String,
    pub body: String,
    pub data: String,
}

impl Written {
    fn of(id: i64, e: &NewEntry<'_>) -> Self {
        Written {
            id,
            actor_id: e.actor_id,
            kind: e.kind.to_string(),
            visibility: e.visibility.to_string(),
            body: e.body.to_string(),
            data: e.data.to_string(),
        }
    }
}

/// Appends an entry and records `event` with it for the transaction's subscribers. `actor` is
/// who did it (its id must be `e.actor_id`); `ticket` the ticket as the command left it.
pub async fn append_event(
    conn: &mut Conn<'_>,
    e: &NewEntry<'_>,
    actor: Option<&Actor>,
    event: TicketEvent,
    ticket: Option<&TicketView>,
) -> Result<i64> {
    let id = insert(conn, e).await?;
    conn.record(Recorded {
        ticket_id: e.ticket_id,
        at: e.at,
        actor: actor.cloned(),
        event,
        entry: Some(Written::of(id, e)),
        ticket: ticket.map(|t| Box::new(t.clone())),
    });
    Ok(id)
}

/// Records the `created` entry that `tickets::create` wrote with the ticket.
pub fn record_created(conn: &mut Conn<'_>, e: &NewEntry<'_>, actor: Option<&Actor>, event: TicketEvent) {
    conn.record(Recorded {
        ticket_id: e.ticket_id,
        at: e.at,
        actor: actor.cloned(),
        event,
        entry: Some(Written::of(0, e)),
        ticket: None,
    });
}

/// Appends an entry Orion or a feature writes (no typed event of its own: [`TicketEvent::Noted`]).
pub async fn append(conn: &mut Conn<'_>, e: &NewEntry<'_>) -> Result<i64> {
    let id = insert(conn, e).await?;
    conn.record(Recorded {
        ticket_id: e.ticket_id,
        at: e.at,
        actor: None,
        event: TicketEvent::Noted,
        entry: Some(Written::of(id, e)),
        ticket: None,
    });
    Ok(id)
}

/// Writes an entry; one with text refreshes the ticket's search index row.
async fn insert(conn: &mut Conn<'_>, e: &NewEntry<'_>) -> Result<i64> {
    let id = with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO timeline_entry (ticket_id, at, actor_id, kind, visibility, body, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(e.ticket_id)
        .bind(e.at)
        .bind(e.actor_id)
        .bind(e.kind)
        .bind(e.visibility)
        .bind(e.body)
        .bind(e.data)
        .fetch_one(c)
        .await
    })?;
    if !e.body.trim().is_empty() {
        crate::search::index_ticket(conn, e.ticket_id).await?;
    }
    Ok(id)
}

/// Oldest first, keyset-paged; internal entries only when asked for.
pub async fn list(
    conn: &mut Conn<'_>,
    ticket_id: i64,
    include_internal: bool,
    after_id: Option<i64>,
    limit: i64,
) -> Result<Vec<EntryRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT e.id, e.ticket_id, e.at, e.actor_id, u.name AS actor_name, e.kind, e.visibility, e.body, e.data
             FROM timeline_entry e LEFT JOIN app_user u ON u.id = e.actor_id
             WHERE e.ticket_id = $1 AND ($2 OR e.visibility = 'public') AND e.id > $3
             ORDER BY e.id LIMIT $4",
        )
        .bind(ticket_id)
        .bind(include_internal)
        .bind(after_id.unwrap_or(0))
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

/// The newest entry's id of a ticket (0 without entries): a cheap "has anything happened?".
pub async fn last_id(conn: &mut Conn<'_>, ticket_id: i64) -> Result<i64> {
    let id: Option<i64> = with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT MAX(id) FROM timeline_entry WHERE ticket_id = $1").bind(ticket_id).fetch_one(c).await
    })?;
    Ok(id.unwrap_or(0))
}
