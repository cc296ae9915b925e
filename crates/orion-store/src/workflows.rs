//! Joiners, movers and leavers: the workflows, their tasks dated from the workflow's day, the
//! access each department or role gives, and the plans each kind starts with.

use crate::sql::Sql;
use crate::{Conn, Result, StoreError, with_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkflowRow {
    pub id: i64,
    pub kind: String,
    pub person_id: i64,
    pub person_name: String,
    pub person_email: String,
    pub person_active: bool,
    pub manager_id: Option<i64>,
    pub department: String,
    pub job_title: String,
    pub new_department: String,
    pub new_job_title: String,
    pub location: String,
    pub anchor_day: String,
    pub group_id: i64,
    pub group_name: String,
    pub state: String,
    pub access_add: String,
    pub access_revoke: String,
    pub details: String,
    pub origin: String,
    pub request_id: Option<i64>,
    pub note: String,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub closed_by: Option<i64>,
    pub exception_reason: Option<String>,
    pub row_version: i64,
}

const WORKFLOW_COLS: &str = "SELECT w.id, w.kind, w.person_id, u.name AS person_name, u.email AS person_email,
        u.active AS person_active, w.manager_id, w.department, w.job_title, w.new_department, w.new_job_title,
        w.location, w.anchor_day, w.group_id, g.name AS group_name, w.state, w.access_add, w.access_revoke,
        w.details, w.origin, w.request_id, w.note, w.created_by, w.created_at, w.updated_at, w.closed_at,
        w.closed_by, w.exception_reason, w.row_version
     FROM workflow w JOIN app_user u ON u.id = w.person_id JOIN agent_group g ON g.id = w.group_id";

/// What a new workflow's row holds.
pub struct NewWorkflow<'a> {
    pub kind: &'a str,
    pub person_id: i64,
    pub manager_id: Option<i64>,
    pub department: &'a str,
    pub job_title: &'a str,
    pub new_department: &'a str,
    pub new_job_title: &'a str,
    pub location: &'a str,
    pub anchor_day: &'a str,
    pub group_id: i64,
    pub access_add: &'a str,
    pub access_revoke: &'a str,
    pub details: &'a str,
    pub origin: &'a str,
    pub request_id: Option<i64>,
    pub note: &'a str,
    pub created_by: Option<i64>,
}

pub async fn insert(conn: &mut Conn<'_>, w: &NewWorkflow<'_>, now: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO workflow (kind, person_id, manager_id, department, job_title, new_department,
                 new_job_title, location, anchor_day, group_id, state, access_add, access_revoke, details, origin,
                 request_id, note, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, $12, $13, $14, $15, $16, $17, $18, $18)
             RETURNING id",
        )
        .bind(w.kind)
        .bind(w.person_id)
        .bind(w.manager_id)
        .bind(w.department)
        .bind(w.job_title)
        .bind(w.new_department)
        .bind(w.new_job_title)
        .bind(w.location)
        .bind(w.anchor_day)
        .bind(w.group_id)
        .bind(w.access_add)
        .bind(w.access_revoke)
        .bind(w.details)
        .bind(w.origin)
        .bind(w.request_id)
        .bind(w.note)
        .bind(w.created_by)
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<WorkflowRow> {
    let sql = format!("{WORKFLOW_COLS} WHERE w.id = $1");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_one(c).await)?)
}

/// Moves a workflow's day if its row is still at `row_version` ([`StoreError::Stale`] if not).
pub async fn set_day(conn: &mut Conn<'_>, id: i64, row_version: i64, day: &str, now: i64) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE workflow SET anchor_day = $3, updated_at = $4, row_version = row_version + 1
             WHERE id = $1 AND row_version = $2 AND state = 'open'",
        )
        .bind(id)
        .bind(row_version)
        .bind(day)
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

/// Ends a workflow (closed or cancelled), with the reason a lead gave for an exception.
pub async fn finish(
    conn: &mut Conn<'_>,
    id: i64,
    state: &str,
    by: Option<i64>,
    exception: Option<&str>,
    now: i64,
) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE workflow SET state = $2, closed_at = $3, closed_by = $4, exception_reason = $5, updated_at = $3,
                 row_version = row_version + 1
             WHERE id = $1 AND state = 'open'",
        )
        .bind(id)
        .bind(state)
        .bind(now)
        .bind(by)
        .bind(exception)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(StoreError::Stale);
    }
    Ok(())
}

/// A page of workflows in `state` by day then id, after `(day, id)`; of one person if given.
pub async fn list(
    conn: &mut Conn<'_>,
    state: Option<&str>,
    person_id: Option<i64>,
    after: Option<(&str, i64)>,
    limit: i64,
) -> Result<Vec<WorkflowRow>> {
    let mut sql = Sql::new(WORKFLOW_COLS);
    sql.push(" WHERE 1 = 1");
    if let Some(s) = state {
        sql.push(" AND w.state = ").bind_text(s);
    }
    if let Some(p) = person_id {
        sql.push(" AND w.person_id = ").bind_i64(p);
    }
    if let Some((day, id)) = after {
        sql.push(" AND (w.anchor_day > ").bind_text(day);
        sql.push(" OR (w.anchor_day = ").bind_text(day);
        sql.push(" AND w.id > ").bind_i64(id).push("))");
    }
    sql.push(" ORDER BY w.anchor_day, w.id LIMIT ").bind_i64(limit);
    Ok(crate::fetch_all_sql!(conn, WorkflowRow, &sql)?)
}

/// The workflow a catalog request started, if it started one.
pub async fn by_request(conn: &mut Conn<'_>, request_id: i64) -> Result<Option<WorkflowRow>> {
    let mut sql = Sql::new(WORKFLOW_COLS);
    sql.push(" WHERE w.request_id = ").bind_i64(request_id);
    sql.push(" ORDER BY w.id LIMIT 1");
    Ok(crate::fetch_all_sql!(conn, WorkflowRow, &sql)?.into_iter().next())
}

/// A page of the workflows of one manager's people, latest day first, before `(day, id)`.
pub async fn managed_by(
    conn: &mut Conn<'_>,
    manager_id: i64,
    before: Option<(&str, i64)>,
    limit: i64,
) -> Result<Vec<WorkflowRow>> {
    let mut sql = Sql::new(WORKFLOW_COLS);
    sql.push(" WHERE w.manager_id = ").bind_i64(manager_id);
    if let Some((day, id)) = before {
        sql.push(" AND (w.anchor_day < ").bind_text(day);
        sql.push(" OR (w.anchor_day = ").bind_text(day);
        sql.push(" AND w.id < ").bind_i64(id).push("))");
    }
    sql.push(" ORDER BY w.anchor_day DESC, w.id DESC LIMIT ").bind_i64(limit);
    Ok(crate::fetch_all_sql!(conn, WorkflowRow, &sql)?)
}

// ---------------------------------------------------------------- tasks

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TaskRow {
    pub workflow_id: i64,
    pub task_key: String,
    pub n: i64,
    pub position: i64,
    pub title: String,
    pub description: String,
    pub group_id: i64,
    pub offset_days: i64,
    /// JSON list of task keys
    pub after_keys: String,
    /// ``, `hands_out`, `check_in`
    pub action: String,
    pub asset_id: Option<i64>,
    /// waiting, open, done, cancelled
    pub state: String,
    pub due_day: String,
    pub due_at: i64,
    pub ticket_id: Option<i64>,
    pub done_at: Option<i64>,
    pub done_by: Option<i64>,
    pub outcome: String,
}

const TASK_COLS: &str = "SELECT workflow_id, task_key, n, position, title, description, group_id, offset_days,
        after_keys, action, asset_id, state, due_day, due_at, ticket_id, done_at, done_by, outcome FROM workflow_task";

pub async fn insert_task(conn: &mut Conn<'_>, t: &TaskRow) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO workflow_task (workflow_id, task_key, n, position, title, description, group_id, offset_days,
                 after_keys, action, asset_id, state, due_day, due_at, ticket_id, done_at, done_by, outcome)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(t.workflow_id)
        .bind(&t.task_key)
        .bind(t.n)
        .bind(t.position)
        .bind(&t.title)
        .bind(&t.description)
        .bind(t.group_id)
        .bind(t.offset_days)
        .bind(&t.after_keys)
        .bind(&t.action)
        .bind(t.asset_id)
        .bind(&t.state)
        .bind(&t.due_day)
        .bind(t.due_at)
        .bind(t.ticket_id)
        .bind(t.done_at)
        .bind(t.done_by)
        .bind(&t.outcome)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// Writes back what changes on a task: its state, dates, ticket and outcome.
pub async fn update_task(conn: &mut Conn<'_>, t: &TaskRow) -> Result<()> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE workflow_task SET state = $4, due_day = $5, due_at = $6, ticket_id = $7, done_at = $8,
                 done_by = $9, outcome = $10, asset_id = $11
             WHERE workflow_id = $1 AND task_key = $2 AND n = $3",
        )
        .bind(t.workflow_id)
        .bind(&t.task_key)
        .bind(t.n)
        .bind(&t.state)
        .bind(&t.due_day)
        .bind(t.due_at)
        .bind(t.ticket_id)
        .bind(t.done_at)
        .bind(t.done_by)
        .bind(&t.outcome)
        .bind(t.asset_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    crate::one_row(n)
}

/// A workflow's tasks in the plan's order (a per-asset task's lines by asset).
pub async fn tasks_of(conn: &mut Conn<'_>, workflow_id: i64) -> Result<Vec<TaskRow>> {
    let sql = format!("{TASK_COLS} WHERE workflow_id = $1 ORDER BY position, n");
    Ok(with_conn!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(workflow_id).fetch_all(c).await)?)
}

/// The tasks of several workflows, by workflow then plan order.
pub async fn tasks_of_many(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<TaskRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(&format!("{TASK_COLS} WHERE workflow_id IN "));
    sql.bind_list(ids, crate::sql::Bind::I64).push(" ORDER BY workflow_id, position, n");
    Ok(crate::fetch_all_sql!(conn, TaskRow, &sql)?)
}

/// The workflow task a ticket works on.
pub async fn task_by_ticket(conn: &mut Conn<'_>, ticket_id: i64) -> Result<Option<TaskRow>> {
    let sql = format!("{TASK_COLS} WHERE ticket_id = $1");
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(ticket_id).fetch_optional(c).await
    })?)
}

/// Who a joiner's hand-out task has reserved an asset for: `(person id, name, start day)`,
/// while the task and its workflow are open.
pub async fn reservation_of(conn: &mut Conn<'_>, asset_id: i64) -> Result<Option<(i64, String, String)>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT w.person_id, u.name, w.anchor_day FROM workflow_task t
             JOIN workflow w ON w.id = t.workflow_id JOIN app_user u ON u.id = w.person_id
             WHERE t.asset_id = $1 AND t.action = 'hands_out' AND t.state IN ('waiting', 'open')
               AND w.state = 'open'
             LIMIT 1",
        )
        .bind(asset_id)
        .fetch_optional(c)
        .await
    })?)
}

/// The products whose licence seats are assigned to a person, by name.
pub async fn seats_held(conn: &mut Conn<'_>, person_id: i64) -> Result<Vec<String>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT l.product FROM licence_assignment a JOIN licence l ON l.id = a.licence_id
             WHERE a.user_id = $1 ORDER BY l.product",
        )
        .bind(person_id)
        .fetch_all(c)
        .await
    })?)
}

// ---------------------------------------------------------------- what Orion observes

/// An asset checked out to someone.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct HeldAsset {
    pub id: i64,
    pub name: String,
    pub asset_tag: Option<String>,
}

/// The assets checked out to a person (deployed, with them as owner), oldest first.
pub async fn assets_held(conn: &mut Conn<'_>, person_id: i64) -> Result<Vec<HeldAsset>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT id, name, asset_tag FROM ci WHERE owner_id = $1 AND state = 'deployed' ORDER BY id LIMIT 200",
        )
        .bind(person_id)
        .fetch_all(c)
        .await
    })?)
}

/// The names of the groups a person is a member of, sorted.
pub async fn groups_of(conn: &mut Conn<'_>, person_id: i64) -> Result<Vec<String>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT g.name FROM group_member m JOIN agent_group g ON g.id = m.group_id
             WHERE m.user_id = $1 ORDER BY g.name",
        )
        .bind(person_id)
        .fetch_all(c)
        .await
    })?)
}

// ---------------------------------------------------------------- access profiles and plans

/// Every access profile: (name, access), by name then access.
pub async fn profiles(conn: &mut Conn<'_>) -> Result<Vec<(String, String)>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT name, access FROM access_profile ORDER BY name_key, access").fetch_all(c).await
    })?)
}

/// The access the departments and roles `names` give (any case), sorted, without repeats.
pub async fn access_of(conn: &mut Conn<'_>, names: &[String]) -> Result<Vec<String>> {
    let keys: Vec<String> = names.iter().map(|n| n.trim().to_lowercase()).filter(|n| !n.is_empty()).collect();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT DISTINCT access AS a FROM access_profile WHERE name_key IN ");
    sql.bind_list(&keys, crate::sql::Bind::Text).push(" ORDER BY access");
    #[derive(sqlx::FromRow)]
    struct A {
        a: String,
    }
    Ok(crate::fetch_all_sql!(conn, A, &sql)?.into_iter().map(|r| r.a).collect())
}

/// Replaces what department or role `name` gives access to (nothing: the profile is removed).
pub async fn set_profile(conn: &mut Conn<'_>, name: &str, access: &[String]) -> Result<()> {
    let key = name.trim().to_lowercase();
    with_conn!(conn, |c| {
        sqlx::query("DELETE FROM access_profile WHERE name_key = $1").bind(&key).execute(c).await.map(|_| ())
    })?;
    for a in access {
        with_conn!(conn, |c| {
            sqlx::query("INSERT INTO access_profile (name_key, name, access) VALUES ($1, $2, $3)")
                .bind(&key)
                .bind(name.trim())
                .bind(a)
                .execute(c)
                .await
                .map(|_| ())
        })?;
    }
    Ok(())
}

/// The plan stored for a kind (JSON), if an administrator changed the one Orion ships.
pub async fn plan(conn: &mut Conn<'_>, kind: &str) -> Result<Option<String>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT tasks FROM workflow_plan WHERE kind = $1").bind(kind).fetch_optional(c).await
    })?)
}

pub async fn set_plan(conn: &mut Conn<'_>, kind: &str, tasks: &str, by: i64, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO workflow_plan (kind, tasks, updated_at, updated_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (kind) DO UPDATE SET tasks = excluded.tasks, updated_at = excluded.updated_at,
                 updated_by = excluded.updated_by",
        )
        .bind(kind)
        .bind(tasks)
        .bind(now)
        .bind(by)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// Puts back the plan Orion ships for a kind.
pub async fn reset_plan(conn: &mut Conn<'_>, kind: &str) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("DELETE FROM workflow_plan WHERE kind = $1").bind(kind).execute(c).await.map(|_| ())
    })?;
    Ok(())
}
