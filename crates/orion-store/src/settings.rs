//! Key/value settings stored as JSON text (priority matrix, demo marker, …).

use crate::{Conn, Result, with_conn};

pub async fn get(conn: &mut Conn<'_>, key: &str) -> Result<Option<String>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT value FROM setting WHERE key = $1").bind(key).fetch_optional(c).await
    })?)
}

pub async fn put(conn: &mut Conn<'_>, key: &str, value: &str, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO setting (key, value, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}
