//! Approvals, whatever asks for them: who is asked in which round of which ticket (a change's
//! round, a catalog request's step) and what they decided; a request's steps with their
//! reminders and timeouts; delegations; and the one-time links sent in approval mail.
//!
//! Changes and catalog requests both ask and decide through here; what a change's rounds add
//! (nominees, the changes awaiting someone) is in `itsm::changes`.

use crate::{Conn, Result, StoreError, one_row, with_conn};

/// One person asked in one round.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApprovalRow {
    pub id: i64,
    pub ticket_id: i64,
    pub round: i64,
    pub user_id: i64,
    pub user_email: String,
    pub user_name: String,
    pub on_behalf_of: Option<i64>,
    pub on_behalf_of_name: Option<String>,
    pub decision: Option<String>,
    pub comment: String,
    pub decided_at: Option<i64>,
    pub via: Option<String>,
}

/// The select list and joins of an [`ApprovalRow`], for `concat!` into static SQL.
macro_rules! approval_from {
    () => {
        "SELECT a.id, a.ticket_id, a.round, a.user_id, u.email AS user_email, u.name AS user_name, a.on_behalf_of, \
         b.name AS on_behalf_of_name, a.decision, a.comment, a.decided_at, a.via \
         FROM approval a JOIN app_user u ON u.id = a.user_id LEFT JOIN app_user b ON b.id = a.on_behalf_of"
    };
}

/// Asks `user_id` in `round` (in place of `on_behalf_of`); returns the row's id, or `None` if
/// they are asked in that round already.
pub async fn ask(
    conn: &mut Conn<'_>,
    ticket_id: i64,
    round: i64,
    user_id: i64,
    on_behalf_of: Option<i64>,
) -> Result<Option<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO approval (ticket_id, round, user_id, on_behalf_of) VALUES ($1, $2, $3, $4)
             ON CONFLICT (ticket_id, round, user_id) DO NOTHING RETURNING id",
        )
        .bind(ticket_id)
        .bind(round)
        .bind(user_id)
        .bind(on_behalf_of)
        .fetch_optional(c)
        .await
    })?)
}

/// Everyone asked about a ticket, every round, by round then name.
pub async fn of_ticket(conn: &mut Conn<'_>, ticket_id: i64) -> Result<Vec<ApprovalRow>> {
    const SQL: &str = concat!(approval_from!(), " WHERE a.ticket_id = $1 ORDER BY a.round, u.name, a.id");
    Ok(with_conn!(conn, |c| sqlx::query_as(SQL).bind(ticket_id).fetch_all(c).await)?)
}

pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<ApprovalRow> {
    const SQL: &str = concat!(approval_from!(), " WHERE a.id = $1");
    with_conn!(conn, |c| sqlx::query_as(SQL).bind(id).fetch_optional(c).await)?.ok_or(StoreError::NotFound)
}

/// `user_id`'s undecided row in `round` of a ticket, if they are asked and have yet to decide.
pub async fn undecided(conn: &mut Conn<'_>, ticket_id: i64, round: i64, user_id: i64) -> Result<Option<ApprovalRow>> {
    const SQL: &str =
        concat!(approval_from!(), " WHERE a.ticket_id = $1 AND a.round = $2 AND a.user_id = $3 AND a.decision IS NULL");
    Ok(with_conn!(conn, |c| sqlx::query_as(SQL).bind(ticket_id).bind(round).bind(user_id).fetch_optional(c).await)?)
}

/// Records a decision; `NotFound` if the row is decided already.
pub async fn decide(
    conn: &mut Conn<'_>,
    id: i64,
    (decision, comment, via): (&str, &str, &str),
    now: i64,
) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE approval SET decision = $2, comment = $3, via = $4, decided_at = $5
             WHERE id = $1 AND decision IS NULL",
        )
        .bind(id)
        .bind(decision)
        .bind(comment)
        .bind(via)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    one_row(n)
}

/// A catalog request waiting for someone's decision, as their list shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AwaitingRow {
    pub number: String,
    pub title: String,
    pub item_name: String,
    pub step_name: Option<String>,
    pub requester_name: String,
    pub requested_for_name: String,
    pub on_behalf_of_name: Option<String>,
}

/// The catalog requests waiting for `user_id`'s decision at their current step, oldest first,
/// read in one query.
pub async fn awaiting_requests(conn: &mut Conn<'_>, user_id: i64, limit: i64) -> Result<Vec<AwaitingRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT t.number, t.title, i.name AS item_name, s.name AS step_name, rq.name AS requester_name,
                    rf.name AS requested_for_name, b.name AS on_behalf_of_name
             FROM approval a
             JOIN catalog_request r ON r.ticket_id = a.ticket_id
             JOIN ticket t ON t.id = a.ticket_id
             JOIN catalog_item i ON i.id = r.item_id
             JOIN app_user rq ON rq.id = t.requester_id
             JOIN app_user rf ON rf.id = r.requested_for_id
             LEFT JOIN approval_step s ON s.ticket_id = a.ticket_id AND s.round = a.round
             LEFT JOIN app_user b ON b.id = a.on_behalf_of
             WHERE a.user_id = $1 AND a.decision IS NULL AND r.approval = 'pending' AND a.round = r.approval_round
               AND t.state NOT IN ('resolved', 'closed')
             ORDER BY a.ticket_id LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

// ---------------------------------------------------------------- steps

/// A catalog request's approval step as opened.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StepRow {
    pub ticket_id: i64,
    pub round: i64,
    pub name: String,
    pub rule: String,
    pub quorum: Option<i64>,
    pub state: String,
    pub opened_at: i64,
    pub remind_at: Option<i64>,
    pub due_at: Option<i64>,
    pub on_timeout: String,
    pub reminders: i64,
    pub decided_at: Option<i64>,
}

pub async fn insert_step(conn: &mut Conn<'_>, s: &StepRow) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO approval_step (ticket_id, round, name, rule, quorum, state, opened_at, remind_at, due_at,
                                        on_timeout, reminders, decided_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(s.ticket_id)
        .bind(s.round)
        .bind(&s.name)
        .bind(&s.rule)
        .bind(s.quorum)
        .bind(&s.state)
        .bind(s.opened_at)
        .bind(s.remind_at)
        .bind(s.due_at)
        .bind(&s.on_timeout)
        .bind(s.reminders)
        .bind(s.decided_at)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// Rewrites a step's state and timers.
pub async fn update_step(conn: &mut Conn<'_>, s: &StepRow) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE approval_step SET state = $3, remind_at = $4, due_at = $5, reminders = $6, decided_at = $7
             WHERE ticket_id = $1 AND round = $2",
        )
        .bind(s.ticket_id)
        .bind(s.round)
        .bind(&s.state)
        .bind(s.remind_at)
        .bind(s.due_at)
        .bind(s.reminders)
        .bind(s.decided_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    one_row(n)
}

pub async fn steps_of(conn: &mut Conn<'_>, ticket_id: i64) -> Result<Vec<StepRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT * FROM approval_step WHERE ticket_id = $1 ORDER BY round")
            .bind(ticket_id)
            .fetch_all(c)
            .await
    })?)
}

// ---------------------------------------------------------------- delegations

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DelegationRow {
    pub id: i64,
    pub user_id: i64,
    pub user_email: String,
    pub delegate_id: i64,
    pub delegate_email: String,
    pub delegate_name: String,
    pub starts_at: i64,
    pub ends_at: i64,
}

/// The select list and joins of a [`DelegationRow`].
macro_rules! delegation_from {
    () => {
        "SELECT d.id, d.user_id, u.email AS user_email, d.delegate_id, g.email AS delegate_email, \
         g.name AS delegate_name, d.starts_at, d.ends_at \
         FROM approval_delegation d JOIN app_user u ON u.id = d.user_id JOIN app_user g ON g.id = d.delegate_id"
    };
}

pub async fn insert_delegation(
    conn: &mut Conn<'_>,
    (user_id, delegate_id): (i64, i64),
    (starts_at, ends_at): (i64, i64),
    by: i64,
    now: i64,
) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO approval_delegation (user_id, delegate_id, starts_at, ends_at, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(user_id)
        .bind(delegate_id)
        .bind(starts_at)
        .bind(ends_at)
        .bind(now)
        .bind(by)
        .fetch_one(c)
        .await
    })?)
}

/// A person's delegations that have not ended, soonest first.
pub async fn delegations_of(conn: &mut Conn<'_>, user_id: i64, now: i64) -> Result<Vec<DelegationRow>> {
    const SQL: &str =
        concat!(delegation_from!(), " WHERE d.user_id = $1 AND d.ends_at > $2 ORDER BY d.starts_at, d.id");
    Ok(with_conn!(conn, |c| sqlx::query_as(SQL).bind(user_id).bind(now).fetch_all(c).await)?)
}

pub async fn get_delegation(conn: &mut Conn<'_>, id: i64) -> Result<DelegationRow> {
    const SQL: &str = concat!(delegation_from!(), " WHERE d.id = $1");
    with_conn!(conn, |c| sqlx::query_as(SQL).bind(id).fetch_optional(c).await)?.ok_or(StoreError::NotFound)
}

pub async fn delete_delegation(conn: &mut Conn<'_>, id: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM approval_delegation WHERE id = $1")
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    one_row(n)
}

/// Who approves for `user_id` at `at`, if they delegated (the latest delegation wins).
pub async fn delegate_at(conn: &mut Conn<'_>, user_id: i64, at: i64) -> Result<Option<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT d.delegate_id FROM approval_delegation d JOIN app_user g ON g.id = d.delegate_id
             WHERE d.user_id = $1 AND d.starts_at <= $2 AND d.ends_at > $2 AND g.active
             ORDER BY d.created_at DESC, d.id DESC LIMIT 1",
        )
        .bind(user_id)
        .bind(at)
        .fetch_optional(c)
        .await
    })?)
}

// ---------------------------------------------------------------- links

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkRow {
    pub approval_id: i64,
    pub message_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub async fn insert_link(
    conn: &mut Conn<'_>,
    token_hash: &str,
    approval_id: i64,
    message_id: &str,
    expires_at: i64,
) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO approval_link (token_hash, approval_id, message_id, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(approval_id)
        .bind(message_id)
        .bind(expires_at)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

pub async fn link_by_token(conn: &mut Conn<'_>, token_hash: &str) -> Result<Option<LinkRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT approval_id, message_id, expires_at, used_at FROM approval_link WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(c)
            .await
    })?)
}

/// The approval the first of `ids` (Message-IDs a reply refers to) asked for.
pub async fn link_by_messages(conn: &mut Conn<'_>, ids: &[&str]) -> Result<Option<LinkRow>> {
    for id in ids {
        let found: Option<LinkRow> = with_conn!(conn, |c| {
            sqlx::query_as(
                "SELECT approval_id, message_id, expires_at, used_at FROM approval_link WHERE message_id = $1",
            )
            .bind(*id)
            .fetch_optional(c)
            .await
        })?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// Marks every link of an approval used (a decision, however it came, spends them).
pub async fn spend_links(conn: &mut Conn<'_>, approval_id: i64, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE approval_link SET used_at = $2 WHERE approval_id = $1 AND used_at IS NULL")
            .bind(approval_id)
            .bind(now)
            .execute(c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}
