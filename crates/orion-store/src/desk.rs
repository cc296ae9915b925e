//! The agent's desk as stored: macros, who follows which ticket, how each person wants to hear of
//! each kind of event, and who is writing on which ticket right now.

use crate::{Conn, Result, StoreError, with_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MacroRow {
    pub id: i64,
    pub name: String,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub group_id: Option<i64>,
    pub group_name: Option<String>,
    pub category_id: Option<i64>,
    pub category_path: Option<String>,
    pub reply: String,
    pub reply_visibility: String,
    pub changes: String,
    pub use_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const MACRO_COLS: &str = "SELECT m.id, m.name, m.owner_id, o.name AS owner_name, m.group_id, g.name AS group_name,
        m.category_id, c.path AS category_path, m.reply, m.reply_visibility, m.changes, m.use_count,
        m.created_at, m.updated_at
    FROM macro m
    LEFT JOIN app_user o ON o.id = m.owner_id
    LEFT JOIN agent_group g ON g.id = m.group_id
    LEFT JOIN category c ON c.id = m.category_id";

/// The fields of a macro.
pub struct MacroFields<'a> {
    pub name: &'a str,
    pub owner_id: Option<i64>,
    pub group_id: Option<i64>,
    pub category_id: Option<i64>,
    pub reply: &'a str,
    pub reply_visibility: &'a str,
    pub changes: &'a str,
}

pub async fn insert_macro(conn: &mut Conn<'_>, m: &MacroFields<'_>, created_by: i64, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO macro (name, owner_id, group_id, category_id, reply, reply_visibility, changes,
                 created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
        )
        .bind(m.name)
        .bind(m.owner_id)
        .bind(m.group_id)
        .bind(m.category_id)
        .bind(m.reply)
        .bind(m.reply_visibility)
        .bind(m.changes)
        .bind(created_by)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn update_macro(conn: &mut Conn<'_>, id: i64, m: &MacroFields<'_>, now: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE macro SET name = $2, owner_id = $3, group_id = $4, category_id = $5, reply = $6,
                 reply_visibility = $7, changes = $8, updated_at = $9 WHERE id = $1",
        )
        .bind(id)
        .bind(m.name)
        .bind(m.owner_id)
        .bind(m.group_id)
        .bind(m.category_id)
        .bind(m.reply)
        .bind(m.reply_visibility)
        .bind(m.changes)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

pub async fn delete_macro(conn: &mut Conn<'_>, id: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM macro WHERE id = $1").bind(id).execute(c).await.map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

pub async fn get_macro(conn: &mut Conn<'_>, id: i64) -> Result<MacroRow> {
    let sql = format!("{MACRO_COLS} WHERE m.id = $1");
    with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_optional(c).await)?
        .ok_or(StoreError::NotFound)
}

/// The macros `user_id` may use: their own, their groups', and those shared with every agent;
/// with `all`, every macro (admins managing them). By name.
pub async fn list_macros(conn: &mut Conn<'_>, user_id: i64, all: bool) -> Result<Vec<MacroRow>> {
    let sql = if all {
        format!("{MACRO_COLS} ORDER BY m.name, m.id LIMIT 1000")
    } else {
        format!(
            "{MACRO_COLS} WHERE m.owner_id = $1
                OR m.group_id IN (SELECT group_id FROM group_member WHERE user_id = $1)
                OR (m.owner_id IS NULL AND m.group_id IS NULL)
             ORDER BY m.name, m.id LIMIT 1000"
        )
    };
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(user_id).fetch_all(c).await)?)
}

/// Is a macro of this name already in the same scope (the same owner, or group, or everyone's)?
pub async fn macro_name_taken(
    conn: &mut Conn<'_>,
    name: &str,
    (owner_id, group_id): (Option<i64>, Option<i64>),
    except: Option<i64>,
) -> Result<bool> {
    let n: i64 = with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM macro WHERE lower(name) = lower($1)
                AND ((owner_id IS NULL AND $2 IS NULL) OR owner_id = $2)
                AND ((group_id IS NULL AND $3 IS NULL) OR group_id = $3)
                AND id <> $4",
        )
        .bind(name)
        .bind(owner_id)
        .bind(group_id)
        .bind(except.unwrap_or(0))
        .fetch_one(c)
        .await
    })?;
    Ok(n > 0)
}

pub async fn count_macro_use(conn: &mut Conn<'_>, id: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE macro SET use_count = use_count + 1 WHERE id = $1").bind(id).execute(c).await.map(|_| ())
    })?;
    Ok(())
}

/// Starts following a ticket; false if already following.
pub async fn follow(conn: &mut Conn<'_>, ticket_id: i64, user_id: i64, now: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO ticket_follower (ticket_id, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(ticket_id)
        .bind(user_id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// Stops following a ticket; false if not following.
pub async fn unfollow(conn: &mut Conn<'_>, ticket_id: i64, user_id: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM ticket_follower WHERE ticket_id = $1 AND user_id = $2")
            .bind(ticket_id)
            .bind(user_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// Who follows a ticket (at most 200, the earliest first).
pub async fn followers(conn: &mut Conn<'_>, ticket_id: i64) -> Result<Vec<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT user_id FROM ticket_follower WHERE ticket_id = $1 ORDER BY created_at, user_id LIMIT 200",
        )
        .bind(ticket_id)
        .fetch_all(c)
        .await
    })?)
}

/// Does `user_id` follow the ticket?
pub async fn is_following(conn: &mut Conn<'_>, ticket_id: i64, user_id: i64) -> Result<bool> {
    let n: Option<i64> = with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT user_id FROM ticket_follower WHERE ticket_id = $1 AND user_id = $2")
            .bind(ticket_id)
            .bind(user_id)
            .fetch_optional(c)
            .await
    })?;
    Ok(n.is_some())
}

/// A person's notification preferences that differ from the defaults: (kind, delivery).
pub async fn preferences(conn: &mut Conn<'_>, user_id: i64) -> Result<Vec<(String, String)>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT kind, delivery FROM notification_preference WHERE user_id = $1 ORDER BY kind")
            .bind(user_id)
            .fetch_all(c)
            .await
    })?)
}

/// How `user_id` chose to hear of `kind`; `None`: the default.
pub async fn preference(conn: &mut Conn<'_>, user_id: i64, kind: &str) -> Result<Option<String>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT delivery FROM notification_preference WHERE user_id = $1 AND kind = $2")
            .bind(user_id)
            .bind(kind)
            .fetch_optional(c)
            .await
    })?)
}

pub async fn set_preference(conn: &mut Conn<'_>, user_id: i64, kind: &str, delivery: Option<&str>) -> Result<()> {
    with_conn!(conn, |c| {
        match delivery {
            Some(d) => sqlx::query(
                "INSERT INTO notification_preference (user_id, kind, delivery) VALUES ($1, $2, $3)
                     ON CONFLICT (user_id, kind) DO UPDATE SET delivery = excluded.delivery",
            )
            .bind(user_id)
            .bind(kind)
            .bind(d)
            .execute(c)
            .await
            .map(|_| ()),
            None => sqlx::query("DELETE FROM notification_preference WHERE user_id = $1 AND kind = $2")
                .bind(user_id)
                .bind(kind)
                .execute(c)
                .await
                .map(|_| ()),
        }
    })?;
    Ok(())
}

/// The people who asked for the daily digest by mail.
pub async fn digest_subscribers(conn: &mut Conn<'_>) -> Result<Vec<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT user_id FROM notification_preference WHERE kind = 'digest' AND delivery IN ('mail', 'both')
             ORDER BY user_id",
        )
        .fetch_all(c)
        .await
    })?)
}

/// Notes that `user_id` is writing on a ticket now.
pub async fn touch_presence(conn: &mut Conn<'_>, ticket_id: i64, user_id: i64, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO ticket_presence (ticket_id, user_id, at) VALUES ($1, $2, $3)
                 ON CONFLICT (ticket_id, user_id) DO UPDATE SET at = excluded.at",
        )
        .bind(ticket_id)
        .bind(user_id)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// Forgets that `user_id` was writing on a ticket (they sent it, or left).
pub async fn clear_presence(conn: &mut Conn<'_>, ticket_id: i64, user_id: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("DELETE FROM ticket_presence WHERE ticket_id = $1 AND user_id = $2")
            .bind(ticket_id)
            .bind(user_id)
            .execute(c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// The names of the others writing on a ticket since `since`.
pub async fn present(conn: &mut Conn<'_>, ticket_id: i64, except_user: i64, since: i64) -> Result<Vec<String>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT u.name FROM ticket_presence p JOIN app_user u ON u.id = p.user_id
              WHERE p.ticket_id = $1 AND p.user_id <> $2 AND p.at >= $3 ORDER BY u.name LIMIT 10",
        )
        .bind(ticket_id)
        .bind(except_user)
        .bind(since)
        .fetch_all(c)
        .await
    })?)
}

/// The members of a group who asked to hear of tickets arriving in it (kind `group`, any
/// delivery but none).
pub async fn group_listeners(conn: &mut Conn<'_>, group_id: i64) -> Result<Vec<(i64, String)>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT p.user_id, p.delivery FROM notification_preference p
               JOIN group_member m ON m.user_id = p.user_id AND m.group_id = $1
              WHERE p.kind = 'group' AND p.delivery <> 'none'
              ORDER BY p.user_id LIMIT 500",
        )
        .bind(group_id)
        .fetch_all(c)
        .await
    })?)
}

/// Active staff whose e-mail is `handle` or starts with `handle@` (an `@mention`), at most two (the
/// caller ignores an ambiguous one).
pub async fn staff_by_handle(conn: &mut Conn<'_>, handle: &str) -> Result<Vec<(i64, String)>> {
    let handle = handle.to_lowercase();
    // An exact address, or the range of addresses `handle@…` ('A' follows '@').
    let (lo, hi) = if handle.contains('@') {
        (handle.clone(), handle.clone())
    } else {
        (format!("{handle}@"), format!("{handle}A"))
    };
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT id, email FROM app_user
              WHERE ((email = $1 AND email = $2) OR (email > $1 AND email < $2))
                AND active AND role <> 'requester'
              ORDER BY email LIMIT 2",
        )
        .bind(&lo)
        .bind(&hi)
        .fetch_all(c)
        .await
    })?)
}

/// The groups with at least one member who asked to hear of tickets arriving there.
pub async fn groups_with_listeners(conn: &mut Conn<'_>) -> Result<Vec<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT DISTINCT m.group_id FROM notification_preference p
               JOIN group_member m ON m.user_id = p.user_id
              WHERE p.kind = 'group' AND p.delivery <> 'none' ORDER BY m.group_id",
        )
        .fetch_all(c)
        .await
    })?)
}

/// Tickets per tag among those created in `[from, to)`: (tag, tickets, still open), the most used
/// first (at most 200 tags). With `reader`, tickets restricted to a group the reader is not in are
/// not counted.
pub async fn tag_counts(
    conn: &mut Conn<'_>,
    (from, to): (i64, i64),
    reader: Option<i64>,
) -> Result<Vec<(String, i64, i64)>> {
    let hidden = if reader.is_some() {
        " AND (t.visibility_group_id IS NULL
               OR t.visibility_group_id IN (SELECT group_id FROM group_member WHERE user_id = $3))"
    } else {
        " AND $3 = $3"
    };
    let sql = format!(
        "SELECT tt.tag, COUNT(*) AS tickets,
                SUM(CASE WHEN t.state IN ('resolved', 'closed') THEN 0 ELSE 1 END) AS open
           FROM ticket_tag tt JOIN ticket t ON t.id = tt.ticket_id
          WHERE t.created_at >= $1 AND t.created_at < $2{hidden}
          GROUP BY tt.tag ORDER BY COUNT(*) DESC, tt.tag LIMIT 200"
    );
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(from)
            .bind(to)
            .bind(reader.unwrap_or(0))
            .fetch_all(c)
            .await
    })?)
}
