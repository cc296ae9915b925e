//! Users: requesters, agents, leads, admins.

use crate::{Conn, Result, with_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub active: bool,
    pub phone: Option<String>,
    pub department: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub login: Option<String>,
    pub title: Option<String>,
    pub location: Option<String>,
    pub manager_id: Option<i64>,
    pub directory_source_id: Option<i64>,
    pub break_glass: bool,
    pub deactivated_at: Option<i64>,
    pub deactivated_reason: Option<String>,
    pub vip: bool,
}

/// The columns of a [`UserRow`], for `concat!` into static SQL.
macro_rules! user_columns {
    () => {
        "id, email, name, role, active, phone, department, created_at, updated_at, login, title, location, \
         manager_id, directory_source_id, break_glass, deactivated_at, deactivated_reason, vip"
    };
}
pub(crate) use user_columns;
const COLUMNS: &str = user_columns!();

pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub phone: Option<&'a str>,
    pub department: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub now: i64,
}

pub async fn insert(conn: &mut Conn<'_>, u: &NewUser<'_>) -> Result<i64> {
    let id: i64 = with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO app_user (email, name, role, phone, password_hash, created_at, updated_at, department)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7) RETURNING id",
        )
        .bind(u.email)
        .bind(u.name)
        .bind(u.role)
        .bind(u.phone)
        .bind(u.password_hash)
        .bind(u.now)
        .bind(u.department)
        .fetch_one(c)
        .await
    })?;
    index_terms(conn, id).await?;
    Ok(id)
}

/// Creates a requester account, or returns the existing user with that e-mail
/// (two tickets logged at once for the same new caller create one account).
pub async fn insert_requester(conn: &mut Conn<'_>, email: &str, name: &str, now: i64) -> Result<i64> {
    let id: Option<i64> = with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO app_user (email, name, role, created_at, updated_at) VALUES ($1, $2, 'requester', $3, $3)
             ON CONFLICT (email) DO NOTHING RETURNING id",
        )
        .bind(email)
        .bind(name)
        .bind(now)
        .fetch_optional(c)
        .await
    })?;
    match id {
        Some(id) => {
            index_terms(conn, id).await?;
            Ok(id)
        }
        None => find_by_email(conn, email).await?.map(|u| u.id).ok_or(crate::StoreError::NotFound),
    }
}

pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<UserRow> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM app_user WHERE id = $1")).bind(id).fetch_one(c).await
    })?)
}

pub async fn find_by_email(conn: &mut Conn<'_>, email: &str) -> Result<Option<UserRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM app_user WHERE email = $1"))
            .bind(email)
            .fetch_optional(c)
            .await
    })?)
}

/// A page of users ordered by id, optionally one role, optionally found by a lookup query (every
/// word the start of a word of the name, the e-mail address, phone, department or sign-in name).
pub async fn list(
    conn: &mut Conn<'_>,
    role: Option<&str>,
    query: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<UserRow>> {
    let words = match query {
        Some(q) => orion_domain::lookup::query_words(q),
        None => Vec::new(),
    };
    if query.is_some() && words.is_empty() {
        return Ok(Vec::new());
    }
    // The ids every word finds, from the term index (`distinct` where they are joined: one
    // person has several terms a word starts).
    let matches = |sql: &mut crate::sql::Sql, distinct: bool| {
        for (i, w) in words.iter().enumerate() {
            sql.push(match (i, distinct) {
                (0, true) => "SELECT DISTINCT user_id",
                (0, false) => "SELECT user_id",
                _ => " INTERSECT SELECT user_id",
            });
            sql.push(" FROM user_term WHERE term >= ").bind_text(w.clone());
            sql.push(" AND term < ").bind_text(orion_domain::lookup::prefix_end(w));
        }
    };
    // Few matches: look them up and sort them. Many: walk the users in id order, keeping the
    // matches, which stops after a page (a planner walks every user for a rare match otherwise).
    let few = !words.is_empty() && crate::sql::fewer_than(conn, LOOKUP_SORT_MAX, |sql| matches(sql, false)).await?;
    let mut sql = crate::sql::Sql::new(&format!("SELECT {COLUMNS} FROM app_user"));
    if few {
        sql.push(" JOIN (");
        matches(&mut sql, true);
        sql.push(") AS found ON found.user_id = app_user.id");
    }
    sql.push(" WHERE 1=1");
    if !words.is_empty() && !few {
        sql.push(" AND id IN (");
        matches(&mut sql, false);
        sql.push(")");
    }
    if let Some(r) = role {
        sql.push(" AND role = ").bind_text(r);
    }
    if let Some(a) = after {
        sql.push(" AND id > ").bind_i64(a);
    }
    sql.push(if few { " ORDER BY id + 0 LIMIT " } else { " ORDER BY id LIMIT " }).bind_i64(limit);
    Ok(crate::fetch_all_sql!(conn, UserRow, &sql)?)
}

/// Up to this many people a lookup finds are sorted; more are found by walking the id order.
const LOOKUP_SORT_MAX: i64 = 2000;

/// What an admin may change on a user; `None` leaves a field as it is.
#[derive(Debug, Default, Clone, Copy)]
pub struct UserChange<'a> {
    pub name: Option<&'a str>,
    pub role: Option<&'a str>,
    pub active: Option<bool>,
    pub phone: Option<&'a str>,
    pub department: Option<&'a str>,
    pub title: Option<&'a str>,
    pub location: Option<&'a str>,
    pub break_glass: Option<bool>,
    pub vip: Option<bool>,
}

/// Changes the fields given. Deactivating records when and that an admin did it; activating
/// clears that.
pub async fn update(conn: &mut Conn<'_>, id: i64, u: UserChange<'_>, now: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE app_user SET name = COALESCE($2, name), role = COALESCE($3, role),
                 deactivated_at = CASE WHEN $4 IS NULL THEN deactivated_at WHEN $4 THEN NULL
                     WHEN active THEN $6 ELSE deactivated_at END,
                 deactivated_by = CASE WHEN $4 IS NULL THEN deactivated_by WHEN $4 THEN NULL
                     WHEN active THEN 'admin' ELSE deactivated_by END,
                 deactivated_reason = CASE WHEN $4 IS NULL THEN deactivated_reason WHEN $4 THEN NULL
                     WHEN active THEN 'deactivated by an admin' ELSE deactivated_reason END,
                 active = COALESCE($4, active), phone = COALESCE($5, phone), updated_at = $6,
                 department = COALESCE($7, department), title = COALESCE($8, title),
                 location = COALESCE($9, location), break_glass = COALESCE($10, break_glass),
                 vip = COALESCE($11, vip)
             WHERE id = $1",
        )
        .bind(id)
        .bind(u.name)
        .bind(u.role)
        .bind(u.active)
        .bind(u.phone)
        .bind(now)
        .bind(u.department)
        .bind(u.title)
        .bind(u.location)
        .bind(u.break_glass)
        .bind(u.vip)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(crate::StoreError::NotFound);
    }
    index_terms(conn, id).await
}

/// Sets (or clears) a user's manager.
pub async fn set_manager(conn: &mut Conn<'_>, id: i64, manager_id: Option<i64>, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE app_user SET manager_id = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(manager_id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn set_password_hash(conn: &mut Conn<'_>, id: i64, hash: &str, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE app_user SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(hash)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The ids of the groups a user belongs to.
pub async fn group_ids(conn: &mut Conn<'_>, user_id: i64) -> Result<Vec<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT group_id FROM group_member WHERE user_id = $1 ORDER BY group_id")
            .bind(user_id)
            .fetch_all(c)
            .await
    })?)
}

/// (user id, group id) for every membership of the listed users, in one query.
pub async fn memberships(conn: &mut Conn<'_>, user_ids: &[i64]) -> Result<Vec<(i64, i64)>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = crate::sql::Sql::new("SELECT user_id, group_id FROM group_member WHERE user_id IN ");
    sql.bind_list(user_ids, crate::sql::Bind::I64).push(" ORDER BY user_id, group_id");
    let rows = crate::fetch_all_sql!(conn, Membership, &sql)?;
    Ok(rows.into_iter().map(|m| (m.user_id, m.group_id)).collect())
}

#[derive(sqlx::FromRow)]
struct Membership {
    user_id: i64,
    group_id: i64,
}

pub async fn count(conn: &mut Conn<'_>) -> Result<i64> {
    Ok(with_conn!(conn, |c| sqlx::query_scalar("SELECT COUNT(*) FROM app_user").fetch_one(c).await)?)
}

/// Writes the lookup terms of user `id` again, from its row (after every write of the fields
/// they come from).
pub async fn index_terms(conn: &mut Conn<'_>, id: i64) -> Result<()> {
    index_terms_of(conn, &[id]).await
}

/// Writes the lookup terms of the users `ids` again, from their rows, in three statements
/// whatever their number (a directory sync's batch, an upgrade's backfill).
pub async fn index_terms_of(conn: &mut Conn<'_>, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    /// Id, name, e-mail, phone, department, sign-in name.
    type Found = (i64, String, String, Option<String>, Option<String>, Option<String>);
    let mut read = crate::sql::Sql::new("SELECT id, name, email, phone, department, login FROM app_user WHERE id IN ");
    read.bind_list(ids, crate::sql::Bind::I64);
    let rows: Vec<Found> = crate::fetch_all_sql!(conn, Found, &read)?;
    let mut forget = crate::sql::Sql::new("DELETE FROM user_term WHERE user_id IN ");
    forget.bind_list(ids, crate::sql::Bind::I64);
    crate::execute_sql!(conn, &forget)?;
    let mut terms = Vec::new();
    for (id, name, email, phone, department, login) in &rows {
        let person = orion_domain::lookup::Person {
            name,
            email,
            phone: phone.as_deref(),
            department: department.as_deref(),
            login: login.as_deref(),
        };
        terms.extend(orion_domain::lookup::terms(&person).into_iter().map(|t| (t, *id)));
    }
    // At most 1,000 rows (2,000 values) per statement, within every engine's limit.
    for chunk in terms.chunks(1000) {
        let mut sql = crate::sql::Sql::new("INSERT INTO user_term (term, user_id) VALUES ");
        for (i, (t, id)) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" }).bind_text(t.clone()).push(", ").bind_i64(*id).push(")");
        }
        crate::execute_sql!(conn, &sql)?;
    }
    Ok(())
}

/// Writes the lookup terms of up to `batch` users with ids after `after`; the last id done and
/// how many, or `None` when there were none.
pub async fn index_terms_after(conn: &mut Conn<'_>, after: i64, batch: i64) -> Result<Option<(i64, u64)>> {
    let ids: Vec<i64> = with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT id FROM app_user WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(batch)
            .fetch_all(c)
            .await
    })?;
    index_terms_of(conn, &ids).await?;
    Ok(ids.last().map(|&last| (last, ids.len() as u64)))
}
