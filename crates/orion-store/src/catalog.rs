//! The service catalog: items, their published versions, the requests made from them and the
//! answers those requests carry (typed, one row per question, so they can be filtered on).

use crate::sql::Sql;
use crate::{Conn, Result, StoreError, with_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub category: String,
    pub icon: String,
    /// `{"roles": [...], "groups": [ids]}`
    pub audience: String,
    pub active: bool,
    /// The package being edited (JSON)
    pub draft: String,
    /// The latest published version (0: never published)
    pub version: i64,
    pub requested: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub row_version: i64,
}

/// What an item's row holds besides its counters.
pub struct ItemFields<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub category: &'a str,
    pub icon: &'a str,
    pub audience: &'a str,
    pub active: bool,
    pub draft: &'a str,
}

const ITEM_COLS: &str = "SELECT id, name, description, category, icon, audience, active, draft, version, requested,
        created_at, updated_at, row_version FROM catalog_item";

/// The lower-case form names are unique by.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

pub async fn insert_item(conn: &mut Conn<'_>, f: &ItemFields<'_>, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO catalog_item (name, name_key, description, category, icon, audience, active, draft,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
        )
        .bind(f.name)
        .bind(name_key(f.name))
        .bind(f.description)
        .bind(f.category)
        .bind(f.icon)
        .bind(f.audience)
        .bind(f.active)
        .bind(f.draft)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

/// Rewrites an item's fields if its row is still at `row_version` ([`StoreError::Stale`] if
/// someone changed it since).
pub async fn update_item(conn: &mut Conn<'_>, id: i64, row_version: i64, f: &ItemFields<'_>, now: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE catalog_item SET name = $3, name_key = $4, description = $5, category = $6, icon = $7,
                 audience = $8, active = $9, draft = $10, updated_at = $11, row_version = row_version + 1
             WHERE id = $1 AND row_version = $2",
        )
        .bind(id)
        .bind(row_version)
        .bind(f.name)
        .bind(name_key(f.name))
        .bind(f.description)
        .bind(f.category)
        .bind(f.icon)
        .bind(f.audience)
        .bind(f.active)
        .bind(f.draft)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(StoreError::Stale);
    }
    Ok(())
}

pub async fn get_item(conn: &mut Conn<'_>, id: i64) -> Result<ItemRow> {
    let sql = format!("{ITEM_COLS} WHERE id = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_one(c).await)?)
}

pub async fn find_item(conn: &mut Conn<'_>, name: &str) -> Result<Option<ItemRow>> {
    let sql = format!("{ITEM_COLS} WHERE name_key = $1");
    let key = name_key(name);
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(&key).fetch_optional(c).await)?)
}

/// Which items a page of the catalog holds.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter<'a> {
    /// Active and published ones only (what requesters may see)
    pub offered: bool,
    pub category: Option<&'a str>,
    /// Words all found in the name, description or category (any case)
    pub words: Vec<String>,
}

/// A page of items by name (after `after`, a name key), at most `limit`.
pub async fn list_items(
    conn: &mut Conn<'_>,
    f: &ItemFilter<'_>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<ItemRow>> {
    let mut sql = Sql::new(ITEM_COLS);
    sql.push(" WHERE 1 = 1");
    push_filter(&mut sql, f);
    if let Some(a) = after {
        sql.push(" AND name_key > ").bind_text(a);
    }
    sql.push(" ORDER BY name_key LIMIT ").bind_i64(limit);
    Ok(crate::fetch_all_sql!(conn, ItemRow, &sql)?)
}

/// The items most requested first (the portal's order), then by name; after `after` (the
/// requests and name key of the previous page's last item), at most `limit`.
pub async fn popular_items(
    conn: &mut Conn<'_>,
    f: &ItemFilter<'_>,
    after: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<ItemRow>> {
    let mut sql = Sql::new(ITEM_COLS);
    sql.push(" WHERE 1 = 1");
    push_filter(&mut sql, f);
    if let Some((requested, key)) = after {
        sql.push(" AND (requested < ").bind_i64(requested);
        sql.push(" OR (requested = ").bind_i64(requested).push(" AND name_key > ").bind_text(key).push("))");
    }
    sql.push(" ORDER BY requested DESC, name_key LIMIT ").bind_i64(limit);
    Ok(crate::fetch_all_sql!(conn, ItemRow, &sql)?)
}

fn push_filter(sql: &mut Sql, f: &ItemFilter<'_>) {
    if f.offered {
        sql.push(" AND active = TRUE AND version > 0");
    }
    if let Some(cat) = f.category {
        sql.push(" AND LOWER(category) = ").bind_text(cat.to_lowercase());
    }
    for w in &f.words {
        let pattern = format!("%{}%", w.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        sql.push(" AND (name_key LIKE ").bind_text(&pattern).push(" ESCAPE '\\'");
        sql.push(" OR LOWER(description) LIKE ").bind_text(&pattern).push(" ESCAPE '\\'");
        sql.push(" OR LOWER(category) LIKE ").bind_text(&pattern).push(" ESCAPE '\\')");
    }
}

/// The categories of the items offered, each with how many it holds.
pub async fn categories(conn: &mut Conn<'_>) -> Result<Vec<(String, i64)>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT category, COUNT(*) FROM catalog_item WHERE active = TRUE AND version > 0
             GROUP BY category ORDER BY category",
        )
        .fetch_all(c)
        .await
    })?)
}

/// Publishes `package` as the item's next version; returns its number.
pub async fn publish(conn: &mut Conn<'_>, item_id: i64, package: &str, by: i64, now: i64) -> Result<i64> {
    let version: i64 = with_conn!(conn, |c| {
        sqlx::query_scalar(
            "UPDATE catalog_item SET version = version + 1, updated_at = $2, row_version = row_version + 1
             WHERE id = $1 RETURNING version",
        )
        .bind(item_id)
        .bind(now)
        .fetch_one(c)
        .await
    })?;
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO catalog_item_version (item_id, version, package, published_at, published_by)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(item_id)
        .bind(version)
        .bind(package)
        .bind(now)
        .bind(by)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(version)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VersionRow {
    pub item_id: i64,
    pub version: i64,
    pub package: String,
    pub published_at: i64,
    pub published_by: i64,
}

pub async fn version(conn: &mut Conn<'_>, item_id: i64, version: i64) -> Result<VersionRow> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT item_id, version, package, published_at, published_by FROM catalog_item_version
             WHERE item_id = $1 AND version = $2",
        )
        .bind(item_id)
        .bind(version)
        .fetch_one(c)
        .await
    })?)
}

/// The versions of an item, newest first (without their packages' text).
pub async fn versions(conn: &mut Conn<'_>, item_id: i64) -> Result<Vec<(i64, i64, i64)>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT version, published_at, published_by FROM catalog_item_version WHERE item_id = $1
             ORDER BY version DESC LIMIT 200",
        )
        .bind(item_id)
        .fetch_all(c)
        .await
    })?)
}

/// Every version of an item with its package, oldest first.
pub async fn packages(conn: &mut Conn<'_>, item_id: i64) -> Result<Vec<(i64, String)>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT version, package FROM catalog_item_version WHERE item_id = $1 ORDER BY version")
            .bind(item_id)
            .fetch_all(c)
            .await
    })?)
}

/// Records that ticket `ticket_id` was requested from version `version` of an item.
pub async fn insert_request(
    conn: &mut Conn<'_>,
    ticket_id: i64,
    (item_id, version): (i64, i64),
    requested_for_id: i64,
) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO catalog_request (ticket_id, item_id, version, requested_for_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(ticket_id)
        .bind(item_id)
        .bind(version)
        .bind(requested_for_id)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// Counts a request of the item (the catalog's "most requested" order). The item's row is locked
/// until the transaction ends: the caller does this last, just before committing, so that
/// requests of one popular item queue on the lock for the commit only.
pub async fn count_request(conn: &mut Conn<'_>, item_id: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE catalog_item SET requested = requested + 1 WHERE id = $1")
            .bind(item_id)
            .execute(c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestRow {
    pub ticket_id: i64,
    pub item_id: i64,
    pub item_name: String,
    pub version: i64,
    pub requested_for_id: i64,
    pub package: String,
    /// NULL (none asked), pending, approved, rejected
    pub approval: Option<String>,
    /// The approval step it is at (0: none opened)
    pub approval_round: i64,
}

/// The catalog request a ticket is, with the package of its version.
pub async fn request_of(conn: &mut Conn<'_>, ticket_id: i64) -> Result<Option<RequestRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT r.ticket_id, r.item_id, i.name AS item_name, r.version, r.requested_for_id, v.package,
                    r.approval, r.approval_round
             FROM catalog_request r JOIN catalog_item i ON i.id = r.item_id
             JOIN catalog_item_version v ON v.item_id = r.item_id AND v.version = r.version
             WHERE r.ticket_id = $1",
        )
        .bind(ticket_id)
        .fetch_optional(c)
        .await
    })?)
}

/// Where a request's approval stands, and the step it is at.
pub async fn set_approval(conn: &mut Conn<'_>, ticket_id: i64, approval: Option<&str>, round: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query("UPDATE catalog_request SET approval = $2, approval_round = $3 WHERE ticket_id = $1")
            .bind(ticket_id)
            .bind(approval)
            .bind(round)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

/// One stored answer.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AnswerRow {
    pub question_key: String,
    pub n: i64,
    pub text_value: String,
    pub number_value: Option<f64>,
    pub ref_id: Option<i64>,
}

/// Writes a request's answers in one statement (a 40-question form was 40 round trips).
pub async fn insert_answers(conn: &mut Conn<'_>, ticket_id: i64, answers: &[AnswerRow]) -> Result<()> {
    use crate::sql::Bind;
    // At most 6 binds a row: well under either engine's limit for the largest form.
    for chunk in answers.chunks(500) {
        let mut sql = Sql::new(
            "INSERT INTO catalog_answer (ticket_id, question_key, n, text_value, number_value, ref_id) VALUES ",
        );
        for (i, a) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            sql.bind_i64(ticket_id).push(", ");
            sql.bind_text(a.question_key.clone()).push(", ");
            sql.bind_i64(a.n).push(", ");
            sql.bind_text(a.text_value.clone()).push(", ");
            sql.bind(Bind::OptF64(a.number_value)).push(", ");
            sql.bind(Bind::OptI64(a.ref_id)).push(")");
        }
        crate::execute_sql!(conn, &sql)?;
    }
    Ok(())
}

/// A request's answers, in question-key and value order.
pub async fn answers_of(conn: &mut Conn<'_>, ticket_id: i64) -> Result<Vec<AnswerRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT question_key, n, text_value, number_value, ref_id FROM catalog_answer WHERE ticket_id = $1
             ORDER BY question_key, n",
        )
        .bind(ticket_id)
        .fetch_all(c)
        .await
    })?)
}

/// A request of an item, as its requests' export lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestListRow {
    pub ticket_id: i64,
    pub number: String,
    pub created_at: i64,
    pub state: String,
    pub version: i64,
    pub requested_for: String,
}

/// The requests of an item after ticket `after` (oldest first), at most `limit`: the item's
/// request index walked in ticket order.
pub async fn requests_page(conn: &mut Conn<'_>, item_id: i64, after: i64, limit: i64) -> Result<Vec<RequestListRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT r.ticket_id, t.number, t.created_at, t.state, r.version, u.email AS requested_for
             FROM catalog_request r JOIN ticket t ON t.id = r.ticket_id JOIN app_user u ON u.id = r.requested_for_id
             WHERE r.item_id = $1 AND r.ticket_id > $2 ORDER BY r.ticket_id LIMIT $3",
        )
        .bind(item_id)
        .bind(after)
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

/// The answers of the requests `ticket_ids`, by ticket, question key and value order.
pub async fn answers_of_many(conn: &mut Conn<'_>, ticket_ids: &[i64]) -> Result<Vec<(i64, AnswerRow)>> {
    if ticket_ids.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(sqlx::FromRow)]
    struct Row {
        ticket_id: i64,
        #[sqlx(flatten)]
        answer: AnswerRow,
    }
    let mut sql = Sql::new(
        "SELECT ticket_id, question_key, n, text_value, number_value, ref_id FROM catalog_answer WHERE ticket_id IN ",
    );
    sql.bind_list(ticket_ids, crate::sql::Bind::I64).push(" ORDER BY ticket_id, question_key, n");
    let rows: Vec<Row> = crate::fetch_all_sql!(conn, Row, &sql)?;
    Ok(rows.into_iter().map(|r| (r.ticket_id, r.answer)).collect())
}

/// How the requests of an item made in `[from, to)` (ms) answered `question_key`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnswerCounts {
    /// Requests of the item in the period
    pub requests: i64,
    /// Of those, the ones that answered the question
    pub answered: i64,
    /// Each value given and how many requests gave it (a multiple choice counts once per value
    /// picked), most given first, at most `limit` values
    pub values: Vec<(String, i64)>,
}

/// Counts the answers to one question of an item's requests in a period: the item's request index
/// walked in ticket order, each ticket's creation time and answer read by key.
pub async fn answer_counts(
    conn: &mut Conn<'_>,
    item_id: i64,
    question_key: &str,
    (from, to): (i64, i64),
    limit: i64,
) -> Result<AnswerCounts> {
    #[derive(sqlx::FromRow)]
    struct Totals {
        requests: i64,
        answered: i64,
    }
    #[derive(sqlx::FromRow)]
    struct Value {
        value: String,
        n: i64,
    }
    let totals: Totals = with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT COUNT(*) AS requests,
                    COUNT(*) FILTER (WHERE EXISTS (SELECT 1 FROM catalog_answer a
                        WHERE a.ticket_id = r.ticket_id AND a.question_key = $2)) AS answered
             FROM catalog_request r JOIN ticket t ON t.id = r.ticket_id
             WHERE r.item_id = $1 AND t.created_at >= $3 AND t.created_at < $4",
        )
        .bind(item_id)
        .bind(question_key)
        .bind(from)
        .bind(to)
        .fetch_one(c)
        .await
    })?;
    let values: Vec<Value> = with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT a.text_value AS value, COUNT(*) AS n
             FROM catalog_request r JOIN ticket t ON t.id = r.ticket_id
             JOIN catalog_answer a ON a.ticket_id = r.ticket_id AND a.question_key = $2
             WHERE r.item_id = $1 AND t.created_at >= $3 AND t.created_at < $4
             GROUP BY a.text_value ORDER BY n DESC, value LIMIT $5",
        )
        .bind(item_id)
        .bind(question_key)
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(c)
        .await
    })?;
    Ok(AnswerCounts {
        requests: totals.requests,
        answered: totals.answered,
        values: values.into_iter().map(|v| (v.value, v.n)).collect(),
    })
}

/// How an answer filter compares.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerMatch {
    /// The answer (or one of several choices) is this text (any case)
    Text(String),
    /// A number answer equal to this
    Number(f64),
}

/// A page of the ids of tickets (newest first, below `before_id`) whose answer to `question_key`
/// matches, among the requests of `item_id` if given. Walks the answer indexes in ticket order.
pub async fn tickets_answering(
    conn: &mut Conn<'_>,
    question_key: &str,
    m: &AnswerMatch,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<i64>> {
    let mut sql = Sql::new("SELECT DISTINCT ticket_id AS id FROM catalog_answer WHERE question_key = ");
    sql.bind_text(question_key);
    match m {
        AnswerMatch::Text(t) => sql.push(" AND text_value = ").bind_text(t),
        AnswerMatch::Number(n) => sql.push(" AND number_value = ").bind(crate::sql::Bind::F64(*n)),
    };
    if let Some(b) = before_id {
        sql.push(" AND ticket_id < ").bind_i64(b);
    }
    sql.push(" ORDER BY ticket_id DESC LIMIT ").bind_i64(limit);
    #[derive(sqlx::FromRow)]
    struct Id {
        id: i64,
    }
    Ok(crate::fetch_all_sql!(conn, Id, &sql)?.into_iter().map(|r| r.id).collect())
}

// ---------------------------------------------------------------- fulfilment tasks

/// One task of a request's fulfilment plan.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TaskRow {
    pub request_id: i64,
    pub task_key: String,
    pub n: i64,
    pub state: String,
    pub task_ticket_id: Option<i64>,
    pub outputs: String,
    pub done_at: Option<i64>,
}

pub async fn insert_task(conn: &mut Conn<'_>, request_id: i64, task_key: &str, n: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("INSERT INTO catalog_task (request_id, task_key, n, state) VALUES ($1, $2, $3, 'waiting')")
            .bind(request_id)
            .bind(task_key)
            .bind(n)
            .execute(c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// Rewrites a task's state, ticket, outputs and completion.
pub async fn update_task(conn: &mut Conn<'_>, t: &TaskRow) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE catalog_task SET state = $3, task_ticket_id = $4, outputs = $5, done_at = $6
             WHERE request_id = $1 AND task_key = $2",
        )
        .bind(t.request_id)
        .bind(&t.task_key)
        .bind(&t.state)
        .bind(t.task_ticket_id)
        .bind(&t.outputs)
        .bind(t.done_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

/// A request's tasks in plan order.
pub async fn tasks_of(conn: &mut Conn<'_>, request_id: i64) -> Result<Vec<TaskRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT * FROM catalog_task WHERE request_id = $1 ORDER BY n")
            .bind(request_id)
            .fetch_all(c)
            .await
    })?)
}

/// The task a task ticket works on.
pub async fn task_by_ticket(conn: &mut Conn<'_>, task_ticket_id: i64) -> Result<Option<TaskRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT * FROM catalog_task WHERE task_ticket_id = $1")
            .bind(task_ticket_id)
            .fetch_optional(c)
            .await
    })?)
}
