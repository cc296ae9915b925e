//! Assignment groups (teams) with their tier, escalation target and members.

use crate::{Conn, Result, with_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupRow {
    pub id: i64,
    pub name: String,
    pub tier: i64,
    pub escalation_target_id: Option<i64>,
    pub lead_id: Option<i64>,
    pub description: String,
    pub active: bool,
    /// Time must be logged on a ticket of the group before it is resolved
    pub time_required: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

pub struct NewGroup<'a> {
    pub name: &'a str,
    pub tier: i64,
    pub escalation_target_id: Option<i64>,
    pub lead_id: Option<i64>,
    pub description: &'a str,
    pub now: i64,
}

pub async fn insert(conn: &mut Conn<'_>, g: &NewGroup<'_>) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO agent_group (name, tier, escalation_target_id, lead_id, description, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(g.name)
        .bind(g.tier)
        .bind(g.escalation_target_id)
        .bind(g.lead_id)
        .bind(g.description)
        .bind(g.now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<GroupRow> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT id, name, tier, escalation_target_id, lead_id, description, active, time_required, created_at, updated_at
             FROM agent_group WHERE id = $1",
        )
        .bind(id)
        .fetch_one(c)
        .await
    })?)
}

/// Case-insensitive lookup by name.
pub async fn find_by_name(conn: &mut Conn<'_>, name: &str) -> Result<Option<GroupRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT id, name, tier, escalation_target_id, lead_id, description, active, time_required, created_at, updated_at
             FROM agent_group WHERE LOWER(name) = LOWER($1)",
        )
        .bind(name)
        .fetch_optional(c)
        .await
    })?)
}

/// All groups ordered by tier then name (a service desk has tens, not millions).
pub async fn list(conn: &mut Conn<'_>) -> Result<Vec<GroupRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT id, name, tier, escalation_target_id, lead_id, description, active, time_required, created_at, updated_at
             FROM agent_group ORDER BY tier, name",
        )
        .fetch_all(c)
        .await
    })?)
}

/// Writes every editable field of a group.
pub async fn update(conn: &mut Conn<'_>, g: &GroupRow) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE agent_group SET name = $2, tier = $3, escalation_target_id = $4, lead_id = $5,
                 description = $6, active = $7, time_required = $9, updated_at = $8 WHERE id = $1",
        )
        .bind(g.id)
        .bind(&g.name)
        .bind(g.tier)
        .bind(g.escalation_target_id)
        .bind(g.lead_id)
        .bind(&g.description)
        .bind(g.active)
        .bind(g.updated_at)
        .bind(g.time_required)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

/// Adds a member; adding one twice is not an error.
pub async fn add_member(conn: &mut Conn<'_>, group_id: i64, user_id: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("INSERT INTO group_member (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(group_id)
            .bind(user_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn remove_member(conn: &mut Conn<'_>, group_id: i64, user_id: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("DELETE FROM group_member WHERE group_id = $1 AND user_id = $2")
            .bind(group_id)
            .bind(user_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn is_member(conn: &mut Conn<'_>, group_id: i64, user_id: i64) -> Result<bool> {
    let n: i64 = with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM group_member WHERE group_id = $1 AND user_id = $2")
            .bind(group_id)
            .bind(user_id)
            .fetch_one(c)
            .await
    })?;
    Ok(n > 0)
}

/// Member user ids of a group.
pub async fn member_ids(conn: &mut Conn<'_>, group_id: i64) -> Result<Vec<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT user_id FROM group_member WHERE group_id = $1 ORDER BY user_id")
            .bind(group_id)
            .fetch_all(c)
            .await
    })?)
}

/// The ids of the groups a user is a member of.
pub async fn group_ids_of(conn: &mut Conn<'_>, user_id: i64) -> Result<Vec<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT group_id FROM group_member WHERE user_id = $1 ORDER BY group_id")
            .bind(user_id)
            .fetch_all(c)
            .await
    })?)
}
