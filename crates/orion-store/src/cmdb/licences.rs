//! Software licences and their seat assignments.

use crate::{Conn, Result, with_conn};

// ---------------------------------------------------------------- licences

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LicenceRow {
    pub id: i64,
    pub product: String,
    pub vendor: String,
    pub licence_type: String,
    pub seats: Option<i64>,
    pub software_match: String,
    pub purchase_date: Option<String>,
    pub expires_on: Option<String>,
    pub cost_cents: Option<i64>,
    pub reference: String,
    pub notes: String,
    pub assigned: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const LICENCE_COLS: &str = "SELECT l.id, l.product, l.vendor, l.licence_type, l.seats, l.software_match,
        l.purchase_date, l.expires_on, l.cost_cents, l.reference, l.notes,
        (SELECT COUNT(*) FROM licence_assignment a WHERE a.licence_id = l.id) AS assigned,
        l.created_at, l.updated_at
     FROM licence l";

pub struct LicenceFields<'a> {
    pub product: &'a str,
    pub vendor: &'a str,
    pub licence_type: &'a str,
    pub seats: Option<i64>,
    pub software_match: &'a str,
    pub purchase_date: Option<&'a str>,
    pub expires_on: Option<&'a str>,
    pub cost_cents: Option<i64>,
    pub reference: &'a str,
    pub notes: &'a str,
}

pub async fn insert_licence(conn: &mut Conn<'_>, l: &LicenceFields<'_>, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO licence (product, vendor, licence_type, seats, software_match, purchase_date, expires_on,
                 cost_cents, reference, notes, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
        )
        .bind(l.product)
        .bind(l.vendor)
        .bind(l.licence_type)
        .bind(l.seats)
        .bind(l.software_match)
        .bind(l.purchase_date)
        .bind(l.expires_on)
        .bind(l.cost_cents)
        .bind(l.reference)
        .bind(l.notes)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn update_licence(conn: &mut Conn<'_>, id: i64, l: &LicenceFields<'_>, now: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE licence SET product = $2, vendor = $3, licence_type = $4, seats = $5, software_match = $6,
                 purchase_date = $7, expires_on = $8, cost_cents = $9, reference = $10, notes = $11, updated_at = $12
             WHERE id = $1",
        )
        .bind(id)
        .bind(l.product)
        .bind(l.vendor)
        .bind(l.licence_type)
        .bind(l.seats)
        .bind(l.software_match)
        .bind(l.purchase_date)
        .bind(l.expires_on)
        .bind(l.cost_cents)
        .bind(l.reference)
        .bind(l.notes)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

pub async fn delete_licence(conn: &mut Conn<'_>, id: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM licence WHERE id = $1").bind(id).execute(c).await.map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

pub async fn get_licence(conn: &mut Conn<'_>, id: i64) -> Result<LicenceRow> {
    let sql = format!("{LICENCE_COLS} WHERE l.id = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_one(c).await)?)
}

/// The licence of a product (any case) with this contract reference: what an import line updates.
pub async fn find_licence(conn: &mut Conn<'_>, product: &str, reference: &str) -> Result<Option<LicenceRow>> {
    let sql = format!("{LICENCE_COLS} WHERE LOWER(l.product) = LOWER($1) AND l.reference = $2 ORDER BY l.id LIMIT 1");
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(product).bind(reference).fetch_optional(c).await
    })?)
}

/// Licences by product, keyset-paged by id.
pub async fn list_licences(conn: &mut Conn<'_>, before: Option<i64>, limit: i64) -> Result<Vec<LicenceRow>> {
    let sql = format!("{LICENCE_COLS} WHERE l.id < $1 ORDER BY l.id DESC LIMIT $2");
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(before.unwrap_or(i64::MAX)).bind(limit).fetch_all(c).await
    })?)
}

/// Every licence (the compliance report reads them all; a site has hundreds, not millions).
pub async fn all_licences(conn: &mut Conn<'_>) -> Result<Vec<LicenceRow>> {
    let sql = format!("{LICENCE_COLS} ORDER BY l.product, l.id");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(c).await)?)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AssignmentRow {
    pub id: i64,
    pub licence_id: i64,
    pub ci_id: Option<i64>,
    pub ci_name: Option<String>,
    pub user_id: Option<i64>,
    pub user_email: Option<String>,
    pub created_at: i64,
}

pub async fn assign(
    conn: &mut Conn<'_>,
    licence_id: i64,
    ci_id: Option<i64>,
    user_id: Option<i64>,
    by: i64,
    now: i64,
) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO licence_assignment (licence_id, ci_id, user_id, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(licence_id)
        .bind(ci_id)
        .bind(user_id)
        .bind(by)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn unassign(conn: &mut Conn<'_>, licence_id: i64, id: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM licence_assignment WHERE id = $1 AND licence_id = $2")
            .bind(id)
            .bind(licence_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

pub async fn assignments(conn: &mut Conn<'_>, licence_id: i64) -> Result<Vec<AssignmentRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT a.id, a.licence_id, a.ci_id, ci.name AS ci_name, a.user_id, u.email AS user_email, a.created_at
             FROM licence_assignment a LEFT JOIN ci ON ci.id = a.ci_id LEFT JOIN app_user u ON u.id = a.user_id
             WHERE a.licence_id = $1 ORDER BY a.id",
        )
        .bind(licence_id)
        .fetch_all(c)
        .await
    })?)
}

/// How many devices (not disposed or retired) have software matching `pattern` (lower-case,
/// `%` wildcards) installed, and how many distinct people hold them (a device nobody holds
/// counts as one person).
pub async fn installed_counts(conn: &mut Conn<'_>, pattern: &str) -> Result<(i64, i64)> {
    let (exact, like) = if pattern.contains('%') { (None, Some(pattern)) } else { (Some(pattern), None) };
    let row: (i64, i64) = with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT COUNT(*),
                    COUNT(DISTINCT CASE WHEN ci.owner_id IS NULL THEN -ci.id ELSE ci.owner_id END)
             FROM ci WHERE ci.state NOT IN ('retired', 'disposed') AND ci.id IN (
                 SELECT s.ci_id FROM ci_software s WHERE s.name_key = $1 OR s.name_key LIKE $2)",
        )
        .bind(exact)
        .bind(like)
        .fetch_one(c)
        .await
    })?;
    Ok(row)
}
