//! Routing rules as stored: ordered by position; conditions and actions are JSON documents
//! (orion-domain `routing`).

use crate::{Conn, Result, with_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RuleRow {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub active: bool,
    pub stop: bool,
    /// Also checked when a person changes the ticket or replies
    pub on_update: bool,
    pub conditions: String,
    pub actions: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLS: &str =
    "SELECT id, name, position, active, stop, on_update, conditions, actions, created_at, updated_at FROM routing_rule";

/// The fields an admin sets.
pub struct RuleFields<'a> {
    pub name: &'a str,
    pub active: bool,
    pub stop: bool,
    pub on_update: bool,
    pub conditions: &'a str,
    pub actions: &'a str,
}

/// Adds a rule at the end of the order.
pub async fn insert(conn: &mut Conn<'_>, r: &RuleFields<'_>, created_by: i64, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO routing_rule (name, position, active, stop, conditions, actions, created_by,
                 created_at, updated_at, on_update)
             VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM routing_rule), $2, $3, $4, $5, $6, $7, $7, $8)
             RETURNING id",
        )
        .bind(r.name)
        .bind(r.active)
        .bind(r.stop)
        .bind(r.conditions)
        .bind(r.actions)
        .bind(created_by)
        .bind(now)
        .bind(r.on_update)
        .fetch_one(c)
        .await
    })?)
}

pub async fn update(conn: &mut Conn<'_>, id: i64, r: &RuleFields<'_>, now: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE routing_rule SET name = $2, active = $3, stop = $4, conditions = $5, actions = $6,
                 updated_at = $7, on_update = $8 WHERE id = $1",
        )
        .bind(id)
        .bind(r.name)
        .bind(r.active)
        .bind(r.stop)
        .bind(r.conditions)
        .bind(r.actions)
        .bind(now)
        .bind(r.on_update)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

pub async fn delete(conn: &mut Conn<'_>, id: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM routing_rule WHERE id = $1").bind(id).execute(c).await.map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<RuleRow> {
    let sql = format!("{COLS} WHERE id = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_one(c).await)?)
}

/// Every rule in evaluation order.
pub async fn list(conn: &mut Conn<'_>) -> Result<Vec<RuleRow>> {
    let sql = format!("{COLS} ORDER BY position, id");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(c).await)?)
}

/// Sets each rule's position to its index in `ids` (the whole order, first to last).
pub async fn reorder(conn: &mut Conn<'_>, ids: &[i64], now: i64) -> Result<()> {
    for (i, id) in ids.iter().enumerate() {
        with_conn!(conn, |c| {
            sqlx::query("UPDATE routing_rule SET position = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(i as i64 + 1)
                .bind(now)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}
