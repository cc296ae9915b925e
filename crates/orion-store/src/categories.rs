//! The category tree; each node stores its full path ("Hardware / Printer").

use crate::{Conn, Result, with_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CategoryRow {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    pub path: String,
    pub active: bool,
}

pub async fn insert(conn: &mut Conn<'_>, parent_id: Option<i64>, name: &str, path: &str, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO category (parent_id, name, path, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(parent_id)
        .bind(name)
        .bind(path)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<CategoryRow> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT id, parent_id, name, path, active FROM category WHERE id = $1")
            .bind(id)
            .fetch_one(c)
            .await
    })?)
}

/// Case-insensitive lookup by full path.
pub async fn find_by_path(conn: &mut Conn<'_>, path: &str) -> Result<Option<CategoryRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT id, parent_id, name, path, active FROM category WHERE LOWER(path) = LOWER($1)")
            .bind(path)
            .fetch_optional(c)
            .await
    })?)
}

/// The whole tree in path order.
pub async fn list(conn: &mut Conn<'_>) -> Result<Vec<CategoryRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT id, parent_id, name, path, active FROM category ORDER BY path").fetch_all(c).await
    })?)
}

pub async fn set_active(conn: &mut Conn<'_>, id: i64, active: bool) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE category SET active = $2 WHERE id = $1")
            .bind(id)
            .bind(active)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}
