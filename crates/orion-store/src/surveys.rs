//! Satisfaction surveys: one per resolved ticket at most, found by its link's SHA-256, answered
//! once; read for the reports by the time they were sent, under the same filters as the rest.

use crate::reports::{Scope, push_scope};
use crate::sql::Sql;
use crate::{Conn, Result, with_conn};

/// A survey as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SurveyRow {
    pub id: i64,
    pub ticket_id: i64,
    pub requester_id: i64,
    pub assignee_id: Option<i64>,
    pub group_id: i64,
    pub tier: i64,
    pub category_id: Option<i64>,
    pub priority: i64,
    pub kind: String,
    pub channel: String,
    pub visibility_group_id: Option<i64>,
    pub sent_at: i64,
    pub expires_at: i64,
    pub answered_at: Option<i64>,
    pub score: Option<i64>,
    pub comment: String,
    pub followup_ticket_id: Option<i64>,
}

const COLUMNS: &str = "id, ticket_id, requester_id, assignee_id, group_id, tier, category_id, priority, kind, channel,
    visibility_group_id, sent_at, expires_at, answered_at, score, comment, followup_ticket_id";

/// Writes a new survey (`row.id`, the answer and the follow-up are ignored); returns its id, or
/// `None` when the ticket has one already.
pub async fn insert(conn: &mut Conn<'_>, row: &SurveyRow, token_sha256: &str) -> Result<Option<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO survey (ticket_id, requester_id, assignee_id, group_id, tier, category_id, priority, kind,
                 channel, visibility_group_id, token_sha256, sent_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (ticket_id) DO NOTHING RETURNING id",
        )
        .bind(row.ticket_id)
        .bind(row.requester_id)
        .bind(row.assignee_id)
        .bind(row.group_id)
        .bind(row.tier)
        .bind(row.category_id)
        .bind(row.priority)
        .bind(&row.kind)
        .bind(&row.channel)
        .bind(row.visibility_group_id)
        .bind(token_sha256)
        .bind(row.sent_at)
        .bind(row.expires_at)
        .fetch_optional(c)
        .await
    })?)
}

pub async fn by_token(conn: &mut Conn<'_>, token_sha256: &str) -> Result<Option<SurveyRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM survey WHERE token_sha256 = "));
    sql.bind_text(token_sha256.to_string());
    Ok(crate::fetch_all_sql!(conn, SurveyRow, &sql)?.into_iter().next())
}

pub async fn by_ticket(conn: &mut Conn<'_>, ticket_id: i64) -> Result<Option<SurveyRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM survey WHERE ticket_id = "));
    sql.bind_i64(ticket_id);
    Ok(crate::fetch_all_sql!(conn, SurveyRow, &sql)?.into_iter().next())
}

/// Records the answer unless one was recorded before; returns whether this one was.
pub async fn answer(conn: &mut Conn<'_>, id: i64, score: i64, comment: &str, now: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE survey SET answered_at = $2, score = $3, comment = $4 WHERE id = $1 AND answered_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .bind(score)
        .bind(comment)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

pub async fn set_followup(conn: &mut Conn<'_>, id: i64, ticket_id: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE survey SET followup_ticket_id = $2 WHERE id = $1")
            .bind(id)
            .bind(ticket_id)
            .execute(c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// A restriction added or lifted on the ticket follows onto its survey.
pub async fn restrict(conn: &mut Conn<'_>, ticket_id: i64, group: Option<i64>) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE survey SET visibility_group_id = $2 WHERE ticket_id = $1")
            .bind(ticket_id)
            .bind(group)
            .execute(c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct At {
    at: Option<i64>,
}

/// When the person was last sent a survey (the cooldown reads it by the requester index).
pub async fn last_sent_to(conn: &mut Conn<'_>, requester_id: i64) -> Result<Option<i64>> {
    let mut sql = Sql::new("SELECT MAX(sent_at) AS at FROM survey WHERE requester_id = ");
    sql.bind_i64(requester_id);
    Ok(crate::fetch_all_sql!(conn, At, &sql)?.into_iter().next().and_then(|a| a.at))
}

/// The surveys sent in a period, per value of a breakdown column.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Results {
    pub key: Option<String>,
    pub sent: i64,
    pub answered: i64,
    /// The stars of the answers, added up
    pub stars: i64,
    /// Answers of 4 or 5 stars
    pub satisfied: i64,
    /// Answers at or below the low mark
    pub low: i64,
}

/// The columns results can be grouped by.
pub const BY_COLUMNS: [&str; 7] = ["group_id", "tier", "priority", "category_id", "kind", "channel", "assignee_id"];

/// The surveys sent in `[from, to)` under the filters: sent, answered, stars, satisfied and low
/// (at or below `low`), in all and (with `by`) per value.
pub async fn results(
    conn: &mut Conn<'_>,
    s: &Scope,
    (from, to): (i64, i64),
    low: i64,
    by: Option<&str>,
) -> Result<Vec<Results>> {
    let key = match by {
        Some(col) if BY_COLUMNS.contains(&col) => format!("CAST({col} AS TEXT)"),
        _ => "CAST(NULL AS TEXT)".to_string(),
    };
    let mut sql = Sql::new(&format!(
        "SELECT {key} AS key, COUNT(*) AS sent, COUNT(answered_at) AS answered,
             CAST(COALESCE(SUM(score), 0) AS BIGINT) AS stars,
             CAST(COALESCE(SUM(CASE WHEN score >= 4 THEN 1 ELSE 0 END), 0) AS BIGINT) AS satisfied,
             CAST(COALESCE(SUM(CASE WHEN score <= "
    ));
    sql.bind_i64(low).push(" THEN 1 ELSE 0 END), 0) AS BIGINT) AS low FROM survey WHERE sent_at >= ");
    sql.bind_i64(from).push(" AND sent_at < ").bind_i64(to);
    push_scope(&mut sql, s, "group_id");
    sql.push(" GROUP BY 1");
    Ok(crate::fetch_all_sql!(conn, Results, &sql)?)
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

/// A page of the surveys sent in `[from, to)` under the filters that `condition` (literal SQL
/// over `survey`'s columns) picks, the latest sent first after `(sent_at, id)`; and how many.
pub async fn page(
    conn: &mut Conn<'_>,
    s: &Scope,
    (from, to): (i64, i64),
    condition: &str,
    after: Option<(i64, i64)>,
    limit: i64,
) -> Result<(i64, Vec<SurveyRow>)> {
    let base = |select: &str| {
        let mut sql = Sql::new(select);
        sql.push(" FROM survey WHERE sent_at >= ").bind_i64(from).push(" AND sent_at < ").bind_i64(to);
        push_scope(&mut sql, s, "group_id");
        sql.push(" AND (").push(condition).push(")");
        sql
    };
    let total: Vec<Count> = crate::fetch_all_sql!(conn, Count, &base("SELECT COUNT(*) AS n"))?;
    let mut rows = base(&format!("SELECT {COLUMNS}"));
    if let Some((at, id)) = after {
        rows.push(" AND (sent_at < ").bind_i64(at).push(" OR (sent_at = ").bind_i64(at);
        rows.push(" AND id < ").bind_i64(id).push("))");
    }
    rows.push(" ORDER BY sent_at DESC, id DESC LIMIT ").bind_i64(limit);
    let rows = crate::fetch_all_sql!(conn, SurveyRow, &rows)?;
    Ok((total.first().map(|c| c.n).unwrap_or(0), rows))
}
