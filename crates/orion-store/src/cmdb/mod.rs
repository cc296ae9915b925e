//! Assets and the CMDB: configuration items, their history, relationships, ticket links,
//! installed software, licences and inventory tokens.

use crate::sql::{Bind, Sql};
use crate::{Conn, Result, fetch_all_sql, with_conn};
use orion_domain::asset::{CI_TYPES, STATES};

/// A configuration item as stored, with the name and e-mail of the user holding it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CiRow {
    pub id: i64,
    pub ci_type: String,
    pub name: String,
    pub asset_tag: Option<String>,
    pub serial: Option<String>,
    pub hw_uuid: Option<String>,
    pub device_id: Option<String>,
    pub model: String,
    pub manufacturer: String,
    pub vendor: String,
    pub location: String,
    pub department: String,
    pub cost_cents: Option<i64>,
    pub purchase_date: Option<String>,
    pub warranty_end: Option<String>,
    pub notes: String,
    pub state: String,
    /// JSON object of the type's own attributes
    pub attributes: String,
    pub owner_id: Option<i64>,
    pub owner_email: Option<String>,
    pub owner_name: Option<String>,
    pub due_back: Option<String>,
    pub group_id: Option<i64>,
    pub group_name: Option<String>,
    pub os_name: String,
    pub os_version: String,
    pub kernel: String,
    /// JSON summary of the last inventory
    pub hardware: String,
    pub last_inventory_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const CI_COLS: &str = "SELECT ci.id, ci.ci_type, ci.name, ci.asset_tag, ci.serial, ci.hw_uuid, ci.device_id, ci.model,
        ci.manufacturer, ci.vendor, ci.location, ci.department, ci.cost_cents, ci.purchase_date, ci.warranty_end,
        ci.notes, ci.state, ci.attributes, ci.owner_id, u.email AS owner_email, u.name AS owner_name, ci.due_back,
        ci.group_id, g.name AS group_name, ci.os_name, ci.os_version, ci.kernel, ci.hardware, ci.last_inventory_at,
        ci.version, ci.created_at, ci.updated_at
     FROM ci LEFT JOIN app_user u ON u.id = ci.owner_id LEFT JOIN agent_group g ON g.id = ci.group_id";

/// The fields a person edits (state and holder change through their own calls).
#[derive(Debug, Clone, Default)]
pub struct CiFields {
    pub ci_type: String,
    pub name: String,
    pub asset_tag: Option<String>,
    pub serial: Option<String>,
    pub model: String,
    pub manufacturer: String,
    pub vendor: String,
    pub location: String,
    pub department: String,
    pub cost_cents: Option<i64>,
    pub purchase_date: Option<String>,
    pub warranty_end: Option<String>,
    pub notes: String,
    pub attributes: String,
    pub group_id: Option<i64>,
}

pub async fn insert(conn: &mut Conn<'_>, f: &CiFields, state: &str, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO ci (ci_type, name, name_key, asset_tag, serial, model, manufacturer, vendor, location,
                 department, cost_cents, purchase_date, warranty_end, notes, attributes, group_id, state,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18)
             RETURNING id",
        )
        .bind(&f.ci_type)
        .bind(&f.name)
        .bind(f.name.to_lowercase())
        .bind(&f.asset_tag)
        .bind(&f.serial)
        .bind(&f.model)
        .bind(&f.manufacturer)
        .bind(&f.vendor)
        .bind(&f.location)
        .bind(&f.department)
        .bind(f.cost_cents)
        .bind(&f.purchase_date)
        .bind(&f.warranty_end)
        .bind(&f.notes)
        .bind(&f.attributes)
        .bind(f.group_id)
        .bind(state)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

/// Writes every editable field if the row is still at `version`; `Ok(false)` when another
/// change came first.
pub async fn update(conn: &mut Conn<'_>, id: i64, version: i64, f: &CiFields, now: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE ci SET ci_type = $3, name = $4, name_key = $5, asset_tag = $6, serial = $7, model = $8,
                 manufacturer = $9, vendor = $10, location = $11, department = $12, cost_cents = $13,
                 purchase_date = $14, warranty_end = $15, notes = $16, attributes = $17, group_id = $18,
                 version = version + 1, updated_at = $19
             WHERE id = $1 AND version = $2",
        )
        .bind(id)
        .bind(version)
        .bind(&f.ci_type)
        .bind(&f.name)
        .bind(f.name.to_lowercase())
        .bind(&f.asset_tag)
        .bind(&f.serial)
        .bind(&f.model)
        .bind(&f.manufacturer)
        .bind(&f.vendor)
        .bind(&f.location)
        .bind(&f.department)
        .bind(f.cost_cents)
        .bind(&f.purchase_date)
        .bind(&f.warranty_end)
        .bind(&f.notes)
        .bind(&f.attributes)
        .bind(f.group_id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Moves a CI to `state` with its holder and return date, if it is still at `version`.
pub async fn set_state(
    conn: &mut Conn<'_>,
    id: i64,
    version: i64,
    state: &str,
    owner_id: Option<i64>,
    due_back: Option<&str>,
    now: i64,
) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE ci SET state = $3, owner_id = $4, due_back = $5, version = version + 1, updated_at = $6
             WHERE id = $1 AND version = $2",
        )
        .bind(id)
        .bind(version)
        .bind(state)
        .bind(owner_id)
        .bind(due_back)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<CiRow> {
    let sql = format!("{CI_COLS} WHERE ci.id = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_one(c).await)?)
}

pub async fn get_many(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<CiRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(CI_COLS);
    sql.push(" WHERE ci.id IN ").bind_list(ids, Bind::I64).push(" ORDER BY ci.name_key, ci.id");
    Ok(fetch_all_sql!(conn, CiRow, &sql)?)
}

/// A CI by asset tag (exact, case-insensitive).
pub async fn find_by_tag(conn: &mut Conn<'_>, tag: &str) -> Result<Option<CiRow>> {
    let sql = format!("{CI_COLS} WHERE ci.asset_tag = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(tag).fetch_optional(c).await)?)
}

/// The CIs whose `column` equals `value`, newest inventory first (the matching keys of an
/// inventory: `serial`, `hw_uuid`, `device_id`, `name_key`).
pub async fn find_by(conn: &mut Conn<'_>, column: MatchKey, value: &str) -> Result<Vec<i64>> {
    let sql = format!(
        "SELECT id FROM ci WHERE {} = $1 AND state <> 'disposed' ORDER BY last_inventory_at DESC, id DESC LIMIT 5",
        column.column()
    );
    Ok(with_conn!(conn, |c| sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(value).fetch_all(c).await)?)
}

/// The indexed columns an inventory or an alert is matched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKey {
    Serial,
    Uuid,
    DeviceId,
    Name,
}

impl MatchKey {
    fn column(self) -> &'static str {
        match self {
            MatchKey::Serial => "serial",
            MatchKey::Uuid => "hw_uuid",
            MatchKey::DeviceId => "device_id",
            MatchKey::Name => "name_key",
        }
    }
}

/// The CIs that reported one of `macs`.
pub async fn find_by_macs(conn: &mut Conn<'_>, macs: &[String]) -> Result<Vec<i64>> {
    if macs.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT DISTINCT m.ci_id AS id FROM ci_mac m JOIN ci ON ci.id = m.ci_id WHERE m.mac IN ");
    sql.bind_list(macs, Bind::Text).push(" AND ci.state <> 'disposed' ORDER BY id DESC");
    let rows = fetch_all_sql!(conn, IdRow, &sql)?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

#[derive(sqlx::FromRow)]
struct IdRow {
    id: i64,
}

/// Which CIs a list shows.
#[derive(Debug, Clone, Default)]
pub struct CiFilter {
    pub ci_type: Option<String>,
    pub state: Option<String>,
    pub owner_id: Option<i64>,
    pub location: Option<String>,
    /// Lower-cased name prefix
    pub name_prefix: Option<String>,
    /// Exact asset tag or serial
    pub tag_or_serial: Option<String>,
}

/// CIs newest first, keyset-paged by id; with a name prefix, by name (then id), the page after
/// the CI `before`. Each filter has an index that ends in `id` (the prefix: `(name_key, id)`),
/// so a page reads only its rows whatever the table's size.
///
/// Type and state are written into the SQL as literals: they are checked against the fixed
/// lists (callers pass only those), and PostgreSQL's generic plan for a prepared statement
/// could not otherwise see that `type = 'server' AND state = 'in_repair'` is rare and would walk
/// the whole primary key instead of the (type, state, id) index.
pub async fn list(conn: &mut Conn<'_>, f: &CiFilter, before: Option<i64>, limit: i64) -> Result<Vec<CiRow>> {
    let mut sql = Sql::new(CI_COLS);
    sql.push(" WHERE 1 = 1");
    match (&f.name_prefix, before) {
        (Some(_), Some(b)) => {
            sql.push(" AND (ci.name_key, ci.id) > (SELECT c2.name_key, c2.id FROM ci c2 WHERE c2.id = ");
            sql.bind_i64(b).push(")");
        }
        (None, Some(b)) => {
            sql.push(" AND ci.id < ").bind_i64(b);
        }
        (_, None) => {}
    }
    for (column, value, allowed) in [("ci_type", &f.ci_type, CI_TYPES), ("state", &f.state, STATES)] {
        match value.as_deref().map(|v| literal(v, allowed)) {
            None => {}
            Some(Some(v)) => {
                sql.push(&format!(" AND ci.{column} = '{v}'"));
            }
            // Not a value the schema allows: nothing can match.
            Some(None) => return Ok(Vec::new()),
        }
    }
    if let Some(o) = f.owner_id {
        sql.push(" AND ci.owner_id = ").bind_i64(o);
    }
    if let Some(l) = &f.location {
        sql.push(" AND ci.location = ").bind_text(l.clone());
    }
    if let Some(p) = &f.name_prefix {
        // A range, not LIKE: both engines use the (name_key, id) index for it (and for the order).
        sql.push(" AND ci.name_key >= ").bind_text(p.clone());
        sql.push(" AND ci.name_key < ").bind_text(format!("{p}\u{10FFFF}"));
    }
    if let Some(t) = &f.tag_or_serial {
        sql.push(" AND (ci.asset_tag = ").bind_text(t.clone());
        sql.push(" OR ci.serial = ").bind_text(t.clone()).push(")");
    }
    if f.name_prefix.is_some() {
        sql.push(" ORDER BY ci.name_key, ci.id LIMIT ").bind_i64(limit);
    } else {
        sql.push(" ORDER BY ci.id DESC LIMIT ").bind_i64(limit);
    }
    let mut rows = fetch_all_sql!(conn, CiRow, &sql)?;
    if let Some(p) = &f.name_prefix {
        // Exact under any collation (a linguistic one may sort `pc1` between `pc-1` and `pc-2`).
        rows.retain(|r| r.name.to_lowercase().starts_with(p.as_str()));
    }
    Ok(rows)
}

/// `v` as one of `allowed` (a static string safe to write into SQL), or None.
fn literal(v: &str, allowed: &[&'static str]) -> Option<&'static str> {
    allowed.iter().find(|a| **a == v).copied()
}

/// Removes a CI that nothing refers to (its history, software and relations go with it).
pub async fn delete(conn: &mut Conn<'_>, id: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM ci WHERE id = $1").bind(id).execute(c).await.map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

mod inventory;
mod licences;

pub use inventory::*;
pub use licences::*;

// ---------------------------------------------------------------- history

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CiEventRow {
    pub id: i64,
    pub ci_id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub kind: String,
    pub summary: String,
    pub data: String,
}

pub async fn insert_event(
    conn: &mut Conn<'_>,
    ci_id: i64,
    at: i64,
    actor_id: Option<i64>,
    kind: &str,
    summary: &str,
    data: &str,
) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO ci_event (ci_id, at, actor_id, kind, summary, data) VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id",
        )
        .bind(ci_id)
        .bind(at)
        .bind(actor_id)
        .bind(kind)
        .bind(summary)
        .bind(data)
        .fetch_one(c)
        .await
    })?)
}

/// A CI's history, newest first, keyset-paged by id.
pub async fn events(conn: &mut Conn<'_>, ci_id: i64, before: Option<i64>, limit: i64) -> Result<Vec<CiEventRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT e.id, e.ci_id, e.at, e.actor_id, u.name AS actor_name, e.kind, e.summary, e.data
             FROM ci_event e LEFT JOIN app_user u ON u.id = e.actor_id
             WHERE e.ci_id = $1 AND e.id < $2 ORDER BY e.id DESC LIMIT $3",
        )
        .bind(ci_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

// ---------------------------------------------------------------- relations

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RelationRow {
    pub id: i64,
    pub source_id: i64,
    pub source_name: String,
    pub source_type: String,
    pub kind: String,
    pub target_id: i64,
    pub target_name: String,
    pub target_type: String,
    pub created_at: i64,
}

const RELATION_COLS: &str = "SELECT r.id, r.source_id, s.name AS source_name, s.ci_type AS source_type, r.kind,
        r.target_id, t.name AS target_name, t.ci_type AS target_type, r.created_at
     FROM ci_relation r JOIN ci s ON s.id = r.source_id JOIN ci t ON t.id = r.target_id";

pub async fn insert_relation(
    conn: &mut Conn<'_>,
    source_id: i64,
    kind: &str,
    target_id: i64,
    by: i64,
    now: i64,
) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO ci_relation (source_id, kind, target_id, created_by, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id",
        )
        .bind(source_id)
        .bind(kind)
        .bind(target_id)
        .bind(by)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn get_relation(conn: &mut Conn<'_>, id: i64) -> Result<RelationRow> {
    let sql = format!("{RELATION_COLS} WHERE r.id = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_one(c).await)?)
}

pub async fn delete_relation(conn: &mut Conn<'_>, id: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM ci_relation WHERE id = $1").bind(id).execute(c).await.map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

/// Every relation a CI takes part in, either side.
pub async fn relations_of(conn: &mut Conn<'_>, ci_id: i64) -> Result<Vec<RelationRow>> {
    let sql = format!("{RELATION_COLS} WHERE r.source_id = $1 OR r.target_id = $1 ORDER BY r.kind, r.id LIMIT 1000");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(ci_id).fetch_all(c).await)?)
}

/// The relations whose target is one of `targets`: one step of an impact walk.
pub async fn sources_of(conn: &mut Conn<'_>, targets: &[i64]) -> Result<Vec<(i64, String, i64)>> {
    let mut out = Vec::new();
    for chunk in targets.chunks(500) {
        let mut sql = Sql::new("SELECT source_id, kind, target_id FROM ci_relation WHERE target_id IN ");
        sql.bind_list(chunk, Bind::I64);
        let rows = fetch_all_sql!(conn, EdgeRow, &sql)?;
        out.extend(rows.into_iter().map(|r| (r.source_id, r.kind, r.target_id)));
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct EdgeRow {
    source_id: i64,
    kind: String,
    target_id: i64,
}

// ---------------------------------------------------------------- tickets

/// Links a ticket to a CI; `Ok(false)` if it already was.
pub async fn link_ticket(conn: &mut Conn<'_>, ticket_id: i64, ci_id: i64, by: Option<i64>, now: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO ticket_ci (ticket_id, ci_id, created_by, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (ticket_id, ci_id) DO NOTHING",
        )
        .bind(ticket_id)
        .bind(ci_id)
        .bind(by)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

pub async fn unlink_ticket(conn: &mut Conn<'_>, ticket_id: i64, ci_id: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM ticket_ci WHERE ticket_id = $1 AND ci_id = $2")
            .bind(ticket_id)
            .bind(ci_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

/// The CIs a ticket names.
pub async fn cis_of_ticket(conn: &mut Conn<'_>, ticket_id: i64) -> Result<Vec<CiRow>> {
    let sql = format!(
        "{CI_COLS} WHERE ci.id IN (SELECT ci_id FROM ticket_ci WHERE ticket_id = $1) ORDER BY ci.name_key, ci.id"
    );
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(ticket_id).fetch_all(c).await)?)
}

/// A ticket that names a CI, as its page lists them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CiTicketRow {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub state: String,
    pub priority: i64,
    pub created_at: i64,
}

/// The tickets naming a CI, newest first, keyset-paged by ticket id.
pub async fn tickets_of_ci(
    conn: &mut Conn<'_>,
    ci_id: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<CiTicketRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT t.id, t.number, t.title, t.state, t.priority, t.created_at
             FROM ticket_ci l JOIN ticket t ON t.id = l.ticket_id
             WHERE l.ci_id = $1 AND l.ticket_id < $2 ORDER BY l.ticket_id DESC LIMIT $3",
        )
        .bind(ci_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

/// Whether anything outside the CI's own rows refers to it (tickets, licence seats).
pub async fn is_referenced(conn: &mut Conn<'_>, ci_id: i64) -> Result<bool> {
    let n: i64 = with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM ticket_ci WHERE ci_id = $1)
                  + (SELECT COUNT(*) FROM licence_assignment WHERE ci_id = $1)",
        )
        .bind(ci_id)
        .fetch_one(c)
        .await
    })?;
    Ok(n > 0)
}
