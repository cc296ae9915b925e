//! Time logged on tickets (`time_entry`): with a reply, a note, a call or the resolution, or on
//! its own. A ticket's entries are read by the (ticket, id) index; the reports read the entries
//! logged in a period by the (logged_at, id) index, under the same filters as the other figures.

use crate::reports::{Scope, push_scope};
use crate::sql::Sql;
use crate::{Conn, Result, with_conn};

/// Minutes logged, with the ticket's group, tier and category when they were.
pub struct NewTime<'a> {
    pub ticket_id: i64,
    pub entry_id: Option<i64>,
    pub user_id: i64,
    pub work: &'a str,
    pub minutes: i64,
    pub note: &'a str,
    pub group_id: i64,
    pub tier: i64,
    pub category_id: Option<i64>,
    pub logged_at: i64,
}

pub async fn insert(conn: &mut Conn<'_>, t: &NewTime<'_>) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO time_entry (ticket_id, entry_id, user_id, work, minutes, note, group_id, tier, category_id,
                 logged_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(t.ticket_id)
        .bind(t.entry_id)
        .bind(t.user_id)
        .bind(t.work)
        .bind(t.minutes)
        .bind(t.note)
        .bind(t.group_id)
        .bind(t.tier)
        .bind(t.category_id)
        .bind(t.logged_at)
        .fetch_one(c)
        .await
    })?)
}

/// A time entry as shown, with who logged it and where.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TimeRow {
    pub id: i64,
    pub ticket_id: i64,
    pub ticket_number: String,
    pub entry_id: Option<i64>,
    pub work: String,
    pub minutes: i64,
    pub note: String,
    pub tier: i64,
    pub logged_at: i64,
    pub user_email: String,
    pub user_name: String,
    pub group_name: String,
    pub category_path: Option<String>,
}

const ROW: &str =
    "SELECT e.id, e.ticket_id, t.number AS ticket_number, e.entry_id, e.work, e.minutes, e.note, e.tier, e.logged_at,
        u.email AS user_email, u.name AS user_name, g.name AS group_name, k.path AS category_path
    FROM time_entry e JOIN ticket t ON t.id = e.ticket_id JOIN app_user u ON u.id = e.user_id
    JOIN agent_group g ON g.id = e.group_id LEFT JOIN category k ON k.id = e.category_id";

/// A ticket's entries, oldest first (at most `limit`).
pub async fn for_ticket(conn: &mut Conn<'_>, ticket_id: i64, limit: i64) -> Result<Vec<TimeRow>> {
    let mut sql = Sql::new(ROW);
    sql.push(" WHERE e.ticket_id = ").bind_i64(ticket_id).push(" ORDER BY e.id LIMIT ").bind_i64(limit);
    Ok(crate::fetch_all_sql!(conn, TimeRow, &sql)?)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Total {
    pub minutes: i64,
    pub entries: i64,
}

/// The minutes logged on a ticket and in how many entries.
pub async fn ticket_total(conn: &mut Conn<'_>, ticket_id: i64) -> Result<Total> {
    let mut sql = Sql::new("SELECT CAST(COALESCE(SUM(minutes), 0) AS BIGINT) AS minutes, COUNT(*) AS entries");
    sql.push(" FROM time_entry WHERE ticket_id = ").bind_i64(ticket_id);
    let rows: Vec<Total> = crate::fetch_all_sql!(conn, Total, &sql)?;
    Ok(rows.first().copied().unwrap_or_default())
}

/// The entries of a period joined to their tickets, with the columns [`Scope`] filters on
/// (`assignee_id` is the person who logged the time; `group_id` the group they logged it in).
fn in_period(select: &str, s: &Scope, from: i64, to: i64) -> Sql {
    let mut sql = Sql::new(select);
    // CROSS JOIN keeps SQLite from walking every ticket of the kind for an empty or small period:
    // the period's entries come first, by their time index.
    sql.push(
        " FROM (SELECT e.id, e.ticket_id, e.minutes, e.work, e.logged_at, e.group_id, e.tier, e.category_id,
                 e.user_id AS assignee_id, t.kind, t.priority, t.channel, t.visibility_group_id
             FROM time_entry e CROSS JOIN ticket t WHERE t.id = e.ticket_id AND e.logged_at >= ",
    );
    sql.bind_i64(from).push(" AND e.logged_at < ").bind_i64(to).push(") x WHERE 1 = 1");
    push_scope(&mut sql, s, "group_id");
    sql
}

/// The columns time can be totalled by.
pub const BY_COLUMNS: [&str; 7] = ["group_id", "tier", "priority", "category_id", "kind", "channel", "assignee_id"];

/// Minutes, entries and tickets per value of `by` (one of [`BY_COLUMNS`]).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Spent {
    pub key: Option<String>,
    pub minutes: i64,
    pub entries: i64,
    pub tickets: i64,
}

/// The time logged in `[from, to)` under the filters, in all and (with `by`) per value.
pub async fn spent(conn: &mut Conn<'_>, s: &Scope, from: i64, to: i64, by: Option<&str>) -> Result<Vec<Spent>> {
    let key = match by {
        Some(col) if BY_COLUMNS.contains(&col) => format!("CAST({col} AS TEXT)"),
        _ => "CAST(NULL AS TEXT)".to_string(),
    };
    let mut sql = in_period(
        &format!(
            "SELECT {key} AS key, CAST(COALESCE(SUM(minutes), 0) AS BIGINT) AS minutes, COUNT(*) AS entries,
                 COUNT(DISTINCT ticket_id) AS tickets"
        ),
        s,
        from,
        to,
    );
    sql.push(" GROUP BY 1");
    Ok(crate::fetch_all_sql!(conn, Spent, &sql)?)
}

#[derive(sqlx::FromRow)]
struct Id {
    id: i64,
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

/// A page of the tickets with time logged in `[from, to)` under the filters, highest id first
/// after `after`; and how many there are.
pub async fn ticket_page(
    conn: &mut Conn<'_>,
    s: &Scope,
    (from, to): (i64, i64),
    after: Option<i64>,
    limit: i64,
) -> Result<(i64, Vec<i64>)> {
    let count = in_period("SELECT COUNT(DISTINCT ticket_id) AS n", s, from, to);
    let total: Vec<Count> = crate::fetch_all_sql!(conn, Count, &count)?;
    let mut page = in_period("SELECT DISTINCT ticket_id AS id", s, from, to);
    if let Some(a) = after {
        page.push(" AND ticket_id < ").bind_i64(a);
    }
    page.push(" ORDER BY 1 DESC LIMIT ").bind_i64(limit);
    let ids: Vec<Id> = crate::fetch_all_sql!(conn, Id, &page)?;
    Ok((total.first().map(|c| c.n).unwrap_or(0), ids.into_iter().map(|i| i.id).collect()))
}

/// A page of the entries logged in `[from, to)` under the filters, oldest first after the
/// entry `after` (the CSV export).
pub async fn entries_page(
    conn: &mut Conn<'_>,
    s: &Scope,
    (from, to): (i64, i64),
    after: i64,
    limit: i64,
) -> Result<Vec<TimeRow>> {
    let mut ids = in_period("SELECT id", s, from, to);
    ids.push(" AND id > ").bind_i64(after).push(" ORDER BY id LIMIT ").bind_i64(limit);
    let ids: Vec<Id> = crate::fetch_all_sql!(conn, Id, &ids)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(ROW);
    let list: Vec<i64> = ids.into_iter().map(|i| i.id).collect();
    sql.push(" WHERE e.id IN ").bind_list(&list, crate::sql::Bind::I64).push(" ORDER BY e.id");
    Ok(crate::fetch_all_sql!(conn, TimeRow, &sql)?)
}
