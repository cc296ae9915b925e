//! What inventory agents report: hardware facts, network addresses, installed software, the
//! agents' tokens, and the operating-system builds patch status is judged on.

use super::*;
use crate::sql::Sql;
use crate::{Conn, Result, fetch_all_sql, with_conn};

// ---------------------------------------------------------------- inventory data

/// What an inventory sets on a CI.
pub struct InventoryFields<'a> {
    pub serial: Option<&'a str>,
    pub hw_uuid: Option<&'a str>,
    pub device_id: &'a str,
    pub model: &'a str,
    pub manufacturer: &'a str,
    pub os_name: &'a str,
    pub os_version: &'a str,
    pub kernel: &'a str,
    pub hardware: &'a str,
}

pub async fn set_inventory(conn: &mut Conn<'_>, id: i64, f: &InventoryFields<'_>, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE ci SET serial = COALESCE($2, serial), hw_uuid = COALESCE($3, hw_uuid), device_id = $4,
                 model = CASE WHEN $5 = '' THEN model ELSE $5 END,
                 manufacturer = CASE WHEN $6 = '' THEN manufacturer ELSE $6 END,
                 os_name = $7, os_version = $8, kernel = $9, hardware = $10, last_inventory_at = $11,
                 version = version + 1, updated_at = $11
             WHERE id = $1",
        )
        .bind(id)
        .bind(f.serial)
        .bind(f.hw_uuid)
        .bind(f.device_id)
        .bind(f.model)
        .bind(f.manufacturer)
        .bind(f.os_name)
        .bind(f.os_version)
        .bind(f.kernel)
        .bind(f.hardware)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

pub async fn macs(conn: &mut Conn<'_>, ci_id: i64) -> Result<Vec<String>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT mac FROM ci_mac WHERE ci_id = $1 ORDER BY mac").bind(ci_id).fetch_all(c).await
    })?)
}

pub async fn replace_macs(conn: &mut Conn<'_>, ci_id: i64, macs: &[String]) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("DELETE FROM ci_mac WHERE ci_id = $1").bind(ci_id).execute(c).await.map(|_| ())
    })?;
    if macs.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new("INSERT INTO ci_mac (mac, ci_id) VALUES ");
    for (i, m) in macs.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.bind_text(m.clone()).push(", ").bind_i64(ci_id).push(")");
    }
    crate::execute_sql!(conn, &sql)?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SoftwareRow {
    pub name: String,
    pub version: String,
    pub publisher: String,
}

pub async fn software(conn: &mut Conn<'_>, ci_id: i64) -> Result<Vec<SoftwareRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT name, version, publisher FROM ci_software WHERE ci_id = $1 ORDER BY name_key, version")
            .bind(ci_id)
            .fetch_all(c)
            .await
    })?)
}

/// Removes the listed (name, version) pairs from a CI's software.
pub async fn remove_software(conn: &mut Conn<'_>, ci_id: i64, gone: &[&SoftwareRow]) -> Result<()> {
    for chunk in gone.chunks(200) {
        let mut sql = Sql::new("DELETE FROM ci_software WHERE ci_id = ");
        sql.bind_i64(ci_id).push(" AND (");
        for (i, s) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(name_key = " } else { " OR (name_key = " });
            sql.bind_text(s.name.to_lowercase()).push(" AND version = ").bind_text(s.version.clone()).push(")");
        }
        sql.push(")");
        crate::execute_sql!(conn, &sql)?;
    }
    Ok(())
}

/// Adds software rows to a CI, 200 to a statement.
pub async fn add_software(conn: &mut Conn<'_>, ci_id: i64, new: &[&SoftwareRow]) -> Result<()> {
    for chunk in new.chunks(200) {
        let mut sql = Sql::new("INSERT INTO ci_software (ci_id, name_key, version, name, publisher) VALUES ");
        for (i, s) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            sql.bind_i64(ci_id).push(", ").bind_text(s.name.to_lowercase()).push(", ");
            sql.bind_text(s.version.clone()).push(", ").bind_text(s.name.clone()).push(", ");
            sql.bind_text(s.publisher.clone()).push(")");
        }
        sql.push(" ON CONFLICT (ci_id, name_key, version) DO NOTHING");
        crate::execute_sql!(conn, &sql)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- inventory tokens

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InventoryTokenRow {
    pub id: i64,
    pub name: String,
    pub received: i64,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
}

pub async fn insert_token(conn: &mut Conn<'_>, name: &str, token_hash: &str, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO inventory_token (name, token_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(token_hash)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn tokens(conn: &mut Conn<'_>) -> Result<Vec<InventoryTokenRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT id, name, received, last_used_at, created_at FROM inventory_token ORDER BY name")
            .fetch_all(c)
            .await
    })?)
}

pub async fn delete_token(conn: &mut Conn<'_>, id: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM inventory_token WHERE id = $1").bind(id).execute(c).await.map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

/// The token with this hash, counted as used now.
pub async fn use_token(conn: &mut Conn<'_>, token_hash: &str, now: i64) -> Result<Option<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "UPDATE inventory_token SET received = received + 1, last_used_at = $2 WHERE token_hash = $1 RETURNING id",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(c)
        .await
    })?)
}

/// One operating-system build and how many live assets run it (`stale`: of which not
/// inventoried since `stale_before`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OsBuildRow {
    pub os_name: String,
    pub os_version: String,
    pub kernel: String,
    pub assets: i64,
    pub stale: i64,
}

pub async fn os_builds(conn: &mut Conn<'_>, stale_before: i64) -> Result<Vec<OsBuildRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT os_name, os_version, kernel, COUNT(*) AS assets,
                    SUM(CASE WHEN last_inventory_at < $1 THEN 1 ELSE 0 END) AS stale
             FROM ci WHERE last_inventory_at IS NOT NULL AND state NOT IN ('retired', 'disposed')
             GROUP BY os_name, os_version, kernel ORDER BY os_name, os_version, kernel",
        )
        .bind(stale_before)
        .fetch_all(c)
        .await
    })?)
}

/// Live inventoried assets newest first, keyset-paged by id: those on one of `builds`
/// (os_name, os_version, kernel), or when `stale_before` is set those not inventoried since.
pub async fn list_by_build(
    conn: &mut Conn<'_>,
    builds: &[(String, String, String)],
    stale_before: Option<i64>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<CiRow>> {
    // Newest first is a walk of the primary key, which finds a page at once when most assets are
    // inventoried. When few are (an agent rolled out to a handful of a million assets), that walk
    // read the whole table (0.1 s on SQLite): a bounded count on the partial index of inventoried
    // assets tells, and then SQLite reads that index and sorts the few. PostgreSQL's planner
    // knows the index's size itself.
    let few = conn.engine() == crate::Engine::Sqlite
        && crate::sql::fewer_than(conn, 1000, |probe| {
            probe.push("SELECT 1 FROM ci WHERE last_inventory_at IS NOT NULL");
            if let Some(t) = stale_before {
                probe.push(" AND last_inventory_at < ").bind_i64(t);
            }
        })
        .await?;
    let mut sql = Sql::new(CI_COLS);
    if few {
        // CI_COLS ends with `FROM ci` and its joins; name the index on `ci` itself.
        sql = Sql::new(&CI_COLS.replacen(" FROM ci ", " FROM ci INDEXED BY ci_inventory_idx ", 1));
    }
    sql.push(" WHERE ci.last_inventory_at IS NOT NULL AND ci.state NOT IN ('retired', 'disposed') AND ci.id < ");
    sql.bind_i64(before.unwrap_or(i64::MAX));
    if let Some(t) = stale_before {
        sql.push(" AND ci.last_inventory_at < ").bind_i64(t);
    } else {
        if builds.is_empty() {
            return Ok(Vec::new());
        }
        sql.push(" AND (");
        for (i, (n, v, k)) in builds.iter().enumerate() {
            sql.push(if i == 0 { "(ci.os_name = " } else { " OR (ci.os_name = " });
            sql.bind_text(n.clone()).push(" AND ci.os_version = ").bind_text(v.clone());
            sql.push(" AND ci.kernel = ").bind_text(k.clone()).push(")");
        }
        sql.push(")");
    }
    sql.push(" ORDER BY ci.id DESC LIMIT ").bind_i64(limit);
    Ok(fetch_all_sql!(conn, CiRow, &sql)?)
}
