//! What the leads' reports read: one outcome row per resolved ticket (written at resolution),
//! the tickets created in a period and the tickets open now. Each read is one index range; the
//! figures are computed by the caller, so a drill-down list and its count come from the same rows.

use crate::sql::{Bind, Sql};
use crate::{Conn, Result, StoreError, with_conn};

/// A resolved ticket as the reports measure it (`ticket_outcome`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Outcome {
    pub ticket_id: i64,
    pub kind: String,
    pub channel: String,
    pub priority: i64,
    pub category_id: Option<i64>,
    pub group_id: i64,
    pub tier: i64,
    pub assignee_id: Option<i64>,
    pub visibility_group_id: Option<i64>,
    pub first_tier: i64,
    pub max_tier: i64,
    pub reopen_count: i64,
    pub created_at: i64,
    pub resolved_at: i64,
    pub response_ms: Option<i64>,
    pub resolution_ms: i64,
    pub response_sla: Option<String>,
    pub resolution_sla: Option<String>,
    pub update_sla: Option<String>,
}

/// Writes (or, for a ticket resolved again after a reopen, replaces) a ticket's outcome row.
pub async fn record_outcome(conn: &mut Conn<'_>, o: &Outcome) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO ticket_outcome (ticket_id, kind, channel, priority, category_id, group_id, tier,
                 assignee_id, visibility_group_id, first_tier, max_tier, reopen_count, created_at, resolved_at,
                 response_ms, resolution_ms, response_sla, resolution_sla, update_sla)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
             ON CONFLICT (ticket_id) DO UPDATE SET kind = excluded.kind, channel = excluded.channel,
                 priority = excluded.priority, category_id = excluded.category_id, group_id = excluded.group_id,
                 tier = excluded.tier, assignee_id = excluded.assignee_id,
                 visibility_group_id = excluded.visibility_group_id, first_tier = excluded.first_tier,
                 max_tier = excluded.max_tier, reopen_count = excluded.reopen_count,
                 created_at = excluded.created_at, resolved_at = excluded.resolved_at,
                 response_ms = excluded.response_ms, resolution_ms = excluded.resolution_ms,
                 response_sla = excluded.response_sla, resolution_sla = excluded.resolution_sla,
                 update_sla = excluded.update_sla",
        )
        .bind(o.ticket_id)
        .bind(&o.kind)
        .bind(&o.channel)
        .bind(o.priority)
        .bind(o.category_id)
        .bind(o.group_id)
        .bind(o.tier)
        .bind(o.assignee_id)
        .bind(o.visibility_group_id)
        .bind(o.first_tier)
        .bind(o.max_tier)
        .bind(o.reopen_count)
        .bind(o.created_at)
        .bind(o.resolved_at)
        .bind(o.response_ms)
        .bind(o.resolution_ms)
        .bind(&o.response_sla)
        .bind(&o.resolution_sla)
        .bind(&o.update_sla)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// A report's filters as the SQL applies them (the caller has resolved names to ids).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only these groups (the ticket's group now; for outcomes, the resolving group)
    pub group_ids: Option<Vec<i64>>,
    /// One kind; `None`: incidents and service requests
    pub kind: Option<String>,
    pub priority: Option<i64>,
    /// `Some(None)`: without a category
    pub category_ids: Option<Option<Vec<i64>>>,
    pub channel: Option<String>,
    /// `Some(None)`: unassigned
    pub agent: Option<Option<i64>>,
    /// The reader's groups: tickets restricted to another group are left out; `None`: an admin
    pub reader_groups: Option<Vec<i64>>,
}

fn push_in(sql: &mut Sql, column: &str, ids: &[i64]) {
    if ids.is_empty() {
        sql.push(" AND 1 = 0");
    } else {
        sql.push(" AND ").push(column).push(" IN ").bind_list(ids, Bind::I64);
    }
}

/// ` AND …` for each filter of `s`; `group` names the group column.
pub(crate) fn push_scope(sql: &mut Sql, s: &Scope, group: &str) {
    push_filters(sql, s, group, false);
}

/// [`push_scope`] over `ticket_tally`, whose category, assignee and restriction are 0 for none.
fn push_tally_scope(sql: &mut Sql, s: &Scope) {
    push_filters(sql, s, "group_id", true);
}

fn push_filters(sql: &mut Sql, s: &Scope, group: &str, zero_is_none: bool) {
    let none = |column: &str| {
        if zero_is_none { format!(" AND {column} = 0") } else { format!(" AND {column} IS NULL") }
    };
    match &s.kind {
        Some(k) => sql.push(" AND kind = ").bind_text(k.clone()),
        None => sql.push(" AND kind IN ('incident', 'service_request')"),
    };
    if let Some(ids) = &s.group_ids {
        push_in(sql, group, ids);
    }
    if let Some(p) = s.priority {
        sql.push(" AND priority = ").bind_i64(p);
    }
    match &s.category_ids {
        Some(None) => {
            sql.push(&none("category_id"));
        }
        Some(Some(ids)) => push_in(sql, "category_id", ids),
        None => {}
    }
    if let Some(c) = &s.channel {
        sql.push(" AND channel = ").bind_text(c.clone());
    }
    match s.agent {
        Some(None) => {
            sql.push(&none("assignee_id"));
        }
        Some(Some(id)) => {
            sql.push(" AND assignee_id = ").bind_i64(id);
        }
        None => {}
    }
    if let Some(mine) = &s.reader_groups {
        if mine.is_empty() {
            sql.push(&none("visibility_group_id"));
        } else {
            sql.push(" AND (1 = 1").push(&none("visibility_group_id")).push(" OR visibility_group_id IN ");
            sql.bind_list(mine, Bind::I64).push(")");
        }
    }
}

/// What the figures need of one resolved ticket, and no more (a year of them stays small).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measure {
    /// The breakdown column's value as text; NULL without a breakdown (or no value)
    pub key: Option<String>,
    /// The UTC day of the resolution (days since the epoch)
    pub day: i64,
    /// Resolved in the period asked for (not in the one before it)
    pub current: bool,
    pub first_tier: i64,
    pub max_tier: i64,
    /// Reopened at least once
    pub reopened: bool,
    pub response_ms: Option<i64>,
    pub resolution_ms: i64,
    /// 0: no such clock, 1: met, 2: breached
    pub response_sla: i64,
    pub resolution_sla: i64,
    pub update_sla: i64,
}

/// The [`Measure`]s of one breakdown value as read: each row's `packed,response_ms,resolution_ms`
/// joined by `;` into one text. A period holds tens of thousands of resolved tickets, and the
/// driver spends far more on each row it hands over (about 2 µs on SQLite) than the database
/// spends reading it from the index and writing it into the text (about 0.6 µs).
#[derive(sqlx::FromRow)]
struct Joined {
    #[sqlx(default)]
    key: Option<String>,
    rows: Option<String>,
}

/// `packed`: the resolution day << 12 | current << 11 | update SLA << 9 | resolution SLA << 7 |
/// response SLA << 5 | reopened << 4 | max tier << 2 | first tier (tiers are 1 to 3).
const PACKED: &str = "CAST(resolved_at / 86400000 AS BIGINT) * 4096 + first_tier + max_tier * 4
    + CASE WHEN reopen_count > 0 THEN 16 ELSE 0 END
    + CASE response_sla WHEN 'met' THEN 32 WHEN 'breached' THEN 64 ELSE 0 END
    + CASE resolution_sla WHEN 'met' THEN 128 WHEN 'breached' THEN 256 ELSE 0 END
    + CASE update_sla WHEN 'met' THEN 512 WHEN 'breached' THEN 1024 ELSE 0 END";

/// The columns of `ticket_outcome` a breakdown of resolved tickets can group by.
pub const OUTCOME_BY_COLUMNS: [&str; 6] = ["group_id", "priority", "category_id", "kind", "channel", "assignee_id"];

/// The measures of the tickets resolved in `[from, to)` under the filters — `current` from
/// `split` on — with (`by`, one of [`OUTCOME_BY_COLUMNS`]) the breakdown value. Read from the
/// covering index `ticket_outcome_measures_idx`.
pub async fn measures(
    conn: &mut Conn<'_>,
    s: &Scope,
    (from, split, to): (i64, i64, i64),
    by: Option<&str>,
) -> Result<Vec<Measure>> {
    let by = by.filter(|col| OUTCOME_BY_COLUMNS.contains(col));
    let key = by.map(|col| format!("CAST({col} AS TEXT) AS key, ")).unwrap_or_default();
    let join = match conn.engine() {
        crate::Engine::Sqlite => "group_concat",
        crate::Engine::Postgres => "string_agg",
    };
    let outer_key = if by.is_some() { "key, " } else { "" };
    let mut sql = Sql::new(&format!(
        "SELECT {outer_key}{join}(CAST(packed AS TEXT) || ',' || COALESCE(CAST(response_ms AS TEXT), '') || ','
            || CAST(resolution_ms AS TEXT), ';') AS rows
         FROM (SELECT {key}CAST({PACKED} + CASE WHEN resolved_at >= "
    ));
    sql.bind_i64(split).push(" THEN 2048 ELSE 0 END AS BIGINT) AS packed, response_ms, resolution_ms");
    sql.push(" FROM ticket_outcome WHERE resolved_at >= ").bind_i64(from).push(" AND resolved_at < ").bind_i64(to);
    push_scope(&mut sql, s, "group_id");
    sql.push(") m");
    if by.is_some() {
        sql.push(" GROUP BY key");
    }
    let joined: Vec<Joined> = crate::fetch_all_sql!(conn, Joined, &sql)?;
    let mut out = Vec::new();
    for j in &joined {
        for row in j.rows.as_deref().unwrap_or("").split(';').filter(|r| !r.is_empty()) {
            out.push(unpack(j.key.clone(), row)?);
        }
    }
    Ok(out)
}

/// One row of [`Joined`]: `packed,response_ms,resolution_ms` (`response_ms` empty: none).
fn unpack(key: Option<String>, row: &str) -> Result<Measure> {
    let corrupt = || StoreError::Corrupt { column: "ticket_outcome", value: row.to_string() };
    let mut parts = row.split(',');
    let mut next = || parts.next().ok_or_else(corrupt);
    let (packed, response, resolution) = (next()?, next()?, next()?);
    let int = |s: &str| s.parse::<i64>().map_err(|_| corrupt());
    let p = int(packed)?;
    Ok(Measure {
        key,
        day: p >> 12,
        current: p & 2048 != 0,
        first_tier: p & 3,
        max_tier: (p >> 2) & 3,
        reopened: p & 16 != 0,
        response_ms: if response.is_empty() { None } else { Some(int(response)?) },
        resolution_ms: int(resolution)?,
        response_sla: (p >> 5) & 3,
        resolution_sla: (p >> 7) & 3,
        update_sla: (p >> 9) & 3,
    })
}

/// A page of outcome rows that `condition` (literal SQL over `ticket_outcome`'s columns) picks,
/// latest resolution first, after the keyset `(resolved_at, ticket_id)`; and how many there are.
pub async fn outcome_page(
    conn: &mut Conn<'_>,
    s: &Scope,
    (from, to): (i64, i64),
    condition: &'static str,
    after: Option<(i64, i64)>,
    limit: i64,
) -> Result<(i64, Vec<Outcome>)> {
    let base = |select: &str| {
        let mut sql = Sql::new(select);
        sql.push(" FROM ticket_outcome WHERE resolved_at >= ").bind_i64(from).push(" AND resolved_at < ").bind_i64(to);
        push_scope(&mut sql, s, "group_id");
        sql.push(" AND (").push(condition).push(")");
        sql
    };
    let count = base("SELECT COUNT(*) AS n");
    let total: Vec<Count> = crate::fetch_all_sql!(conn, Count, &count)?;
    let mut page = base(
        "SELECT ticket_id, kind, channel, priority, category_id, group_id, tier, assignee_id,
                visibility_group_id, first_tier, max_tier, reopen_count, created_at, resolved_at,
                response_ms, resolution_ms, response_sla, resolution_sla, update_sla",
    );
    if let Some((at, id)) = after {
        page.push(" AND (resolved_at < ").bind_i64(at).push(" OR (resolved_at = ").bind_i64(at);
        page.push(" AND ticket_id < ").bind_i64(id).push("))");
    }
    page.push(" ORDER BY resolved_at DESC, ticket_id DESC LIMIT ").bind_i64(limit);
    let rows = crate::fetch_all_sql!(conn, Outcome, &page)?;
    Ok((total.first().map(|c| c.n).unwrap_or(0), rows))
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

/// Tickets created, per value of a breakdown column and per UTC day (days since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Created {
    /// The breakdown column's value as text (NULL: none, or no breakdown)
    pub key: Option<String>,
    pub day: i64,
    pub n: i64,
}

/// The columns of `ticket` a breakdown of created tickets can group by.
pub const BY_COLUMNS: [&str; 6] = ["assignment_group_id", "priority", "category_id", "kind", "channel", "assignee_id"];

/// A UTC day in milliseconds.
const DAY: i64 = 86_400_000;

/// The `ticket_tally` column for a [`BY_COLUMNS`] one, as text (0 for none read as NULL).
fn tally_key(column: Option<&str>) -> String {
    match column {
        Some("assignment_group_id") => "CAST(group_id AS TEXT)".into(),
        Some(col @ ("category_id" | "assignee_id")) => format!("CAST(NULLIF({col}, 0) AS TEXT)"),
        Some(col @ ("priority" | "kind" | "channel")) => format!("CAST({col} AS TEXT)"),
        _ => "CAST(NULL AS TEXT)".into(),
    }
}

/// Counts the tickets created in `[from, to)` under the filters, per UTC day and (with `by`, one
/// of [`BY_COLUMNS`]) per value: the whole days from `ticket_tally`, the part-days at either end
/// from the tickets.
pub async fn created(conn: &mut Conn<'_>, s: &Scope, from: i64, to: i64, by: Option<&str>) -> Result<Vec<Created>> {
    let by = by.filter(|col| BY_COLUMNS.contains(col));
    let first_whole = from.div_euclid(DAY) + i64::from(from.rem_euclid(DAY) != 0);
    let end_whole = to.div_euclid(DAY);
    let mut rows = Vec::new();
    let mut raw = Vec::new();
    if first_whole < end_whole {
        let mut sql = Sql::new(&format!(
            "SELECT {} AS key, created_day AS day, CAST(SUM(n) AS BIGINT) AS n FROM ticket_tally WHERE created_day >= ",
            tally_key(by)
        ));
        sql.bind_i64(first_whole).push(" AND created_day < ").bind_i64(end_whole);
        push_tally_scope(&mut sql, s);
        sql.push(" GROUP BY 1, 2 HAVING SUM(n) <> 0");
        rows = crate::fetch_all_sql!(conn, Created, &sql)?;
        raw.push((from, first_whole * DAY));
        raw.push((end_whole * DAY, to));
    } else {
        raw.push((from, to));
    }
    let key = match by {
        Some(col) => format!("CAST({col} AS TEXT)"),
        None => "CAST(NULL AS TEXT)".to_string(),
    };
    for (from, to) in raw.into_iter().filter(|(a, b)| a < b) {
        let mut sql = Sql::new(&format!(
            "SELECT {key} AS key, CAST(created_at / 86400000 AS BIGINT) AS day, COUNT(*) AS n FROM ticket WHERE created_at >= "
        ));
        sql.bind_i64(from).push(" AND created_at < ").bind_i64(to);
        push_scope(&mut sql, s, "assignment_group_id");
        sql.push(" GROUP BY 1, 2");
        rows.extend(crate::fetch_all_sql!(conn, Created, &sql)?);
    }
    Ok(rows)
}

/// Open tickets per agent, pending or not, age band and overdue or not (see [`backlog`]).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Open {
    pub assignee_id: Option<i64>,
    /// 1: pending
    pub pending: i64,
    /// 0 under a day, 1 one to three days, 2 three to seven, 3 seven to thirty, 4 older
    pub band: i64,
    /// 1: an SLA target breached or running past due
    pub overdue: i64,
    pub n: i64,
}

/// The band boundaries: a ticket is in band `i` when younger than `BAND_HOURS[i]` hours.
pub const BAND_HOURS: [i64; 4] = [24, 72, 168, 720];

const OPEN_STATES: [&str; 4] = ["new", "assigned", "in_progress", "pending"];

const OVERDUE: &str = "EXISTS (SELECT 1 FROM ticket_sla s WHERE s.ticket_id = ticket.id
    AND (s.state = 'breached' OR (s.state = 'running' AND s.due_at < ";

const DUE_SOON: &str = "EXISTS (SELECT 1 FROM ticket_sla s WHERE s.ticket_id = ticket.id
    AND s.state = 'running' AND s.due_at >= ";

/// How many open tickets under the filters have a running SLA clock due in `[from, to)` (read
/// from the clocks' due-time index, not from every open ticket).
pub async fn due_within(conn: &mut Conn<'_>, s: &Scope, (from, to): (i64, i64)) -> Result<i64> {
    let mut sql = Sql::new(
        "SELECT COUNT(*) AS n FROM ticket WHERE id IN (SELECT ticket_id FROM ticket_sla
         WHERE state = 'running' AND due_at >= ",
    );
    sql.bind_i64(from).push(" AND due_at < ").bind_i64(to);
    sql.push(") AND state IN ('new', 'assigned', 'in_progress', 'pending')");
    push_scope(&mut sql, s, "assignment_group_id");
    let n: Vec<Count> = crate::fetch_all_sql!(conn, Count, &sql)?;
    Ok(n.first().map(|c| c.n).unwrap_or(0))
}

/// The incidents and service requests open at `now` under the filters, counted per agent,
/// pending, age band ([`BAND_HOURS`]) and overdue.
pub async fn backlog(conn: &mut Conn<'_>, s: &Scope, now: i64) -> Result<Vec<Open>> {
    let cuts: Vec<i64> = BAND_HOURS.iter().map(|h| now - h * 3_600_000).collect();
    open_counts(conn, s, &cuts, now).await
}

#[derive(sqlx::FromRow)]
struct TallyOpen {
    day: i64,
    assignee_id: Option<i64>,
    pending: i64,
    overdue: i64,
    n: i64,
}

/// The open tickets under the filters counted per agent, pending, band and overdue at `now`
/// (an SLA clock breached, or running past its due time), where a ticket is in band `i` when
/// created after `cuts[i]` (the first such), else in band `cuts.len()`. Whole days come from
/// `ticket_tally`; the days a cut falls in, and the tickets whose clock ran past due without the
/// SLA timer having marked it breached yet, from the tickets.
pub async fn open_counts(conn: &mut Conn<'_>, s: &Scope, cuts: &[i64], now: i64) -> Result<Vec<Open>> {
    let cut_days: std::collections::BTreeSet<i64> =
        cuts.iter().filter(|c| **c != i64::MIN && **c != i64::MAX).map(|c| c.div_euclid(DAY)).collect();
    let band_of = |at: i64| cuts.iter().position(|c| at > *c).unwrap_or(cuts.len()) as i64;
    let mut counts: std::collections::BTreeMap<(Option<i64>, i64, i64, i64), i64> = Default::default();

    let mut tally = Sql::new(
        "SELECT created_day AS day, NULLIF(assignee_id, 0) AS assignee_id,
                CAST(CASE WHEN status = 2 THEN 1 ELSE 0 END AS BIGINT) AS pending, breached AS overdue,
                CAST(SUM(n) AS BIGINT) AS n
         FROM ticket_tally WHERE status > 0",
    );
    push_tally_scope(&mut tally, s);
    tally.push(" GROUP BY 1, 2, 3, 4");
    for r in crate::fetch_all_sql!(conn, TallyOpen, &tally)? {
        if r.n != 0 && !cut_days.contains(&r.day) {
            *counts.entry((r.assignee_id, r.pending, band_of(r.day * DAY), r.overdue)).or_default() += r.n;
        }
    }

    let band_case = |sql: &mut Sql| {
        if cuts.is_empty() {
            sql.push("CAST(0 AS BIGINT) AS band");
            return;
        }
        sql.push("CAST(CASE");
        for (i, c) in cuts.iter().enumerate() {
            sql.push(" WHEN created_at > ").bind_i64(*c).push(&format!(" THEN {i}"));
        }
        sql.push(&format!(" ELSE {} END AS BIGINT) AS band", cuts.len()));
    };
    let head = "SELECT assignee_id, CAST(CASE WHEN state = 'pending' THEN 1 ELSE 0 END AS BIGINT) AS pending, ";
    for day in &cut_days {
        let mut sql = Sql::new(head);
        band_case(&mut sql);
        sql.push(", CAST(sla_breached AS BIGINT) AS overdue, COUNT(*) AS n FROM ticket WHERE created_at >= ");
        sql.bind_i64(day * DAY).push(" AND created_at < ").bind_i64((day + 1) * DAY);
        sql.push(" AND state IN ('new', 'assigned', 'in_progress', 'pending')");
        push_scope(&mut sql, s, "assignment_group_id");
        sql.push(" GROUP BY 1, 2, 3, 4");
        for r in crate::fetch_all_sql!(conn, Open, &sql)? {
            *counts.entry((r.assignee_id, r.pending, r.band, r.overdue)).or_default() += r.n;
        }
    }

    // Past due but not marked breached yet: overdue all the same.
    let mut late = Sql::new(head);
    band_case(&mut late);
    late.push(
        ", CAST(1 AS BIGINT) AS overdue, COUNT(*) AS n FROM ticket WHERE id IN (SELECT ticket_id FROM ticket_sla",
    );
    late.push(" WHERE state = 'running' AND due_at < ").bind_i64(now);
    late.push(") AND sla_breached = 0 AND state IN ('new', 'assigned', 'in_progress', 'pending')");
    push_scope(&mut late, s, "assignment_group_id");
    late.push(" GROUP BY 1, 2, 3, 4");
    for r in crate::fetch_all_sql!(conn, Open, &late)? {
        *counts.entry((r.assignee_id, r.pending, r.band, 0)).or_default() -= r.n;
        *counts.entry((r.assignee_id, r.pending, r.band, 1)).or_default() += r.n;
    }
    Ok(counts
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|((assignee_id, pending, band, overdue), n)| Open { assignee_id, pending, band, overdue, n })
        .collect())
}

/// Which tickets a list of created or open tickets holds.
#[derive(Debug, Clone, Copy)]
pub enum Logged {
    /// Created in `[from, to)`
    Created(i64, i64),
    /// Open now; created in `(after, before]` when given (an age band), only pending ones, only
    /// those overdue at the instant given, only those with a running clock due in `[from, to)`
    Open { created: Option<(i64, i64)>, pending: bool, overdue_at: Option<i64>, due_within: Option<(i64, i64)> },
}

/// A page of ticket ids (newest first, below `before_id`) of a created or open list, and how many
/// it holds. Open lists walk the (state, id) index once per state.
pub async fn logged_page(
    conn: &mut Conn<'_>,
    s: &Scope,
    which: Logged,
    before_id: Option<i64>,
    limit: i64,
) -> Result<(i64, Vec<i64>)> {
    let sqlite = conn.engine() == crate::Engine::Sqlite;
    let conditions = |sql: &mut Sql| {
        push_scope(sql, s, "assignment_group_id");
        if let Logged::Open { created, overdue_at, due_within, .. } = which {
            if let Some((from, to)) = due_within {
                sql.push(" AND ").push(DUE_SOON).bind_i64(from).push(" AND s.due_at < ").bind_i64(to).push(")");
            }
            if let Some((lo, hi)) = created {
                sql.push(" AND created_at > ").bind_i64(lo).push(" AND created_at <= ").bind_i64(hi);
            }
            if let Some(now) = overdue_at {
                sql.push(" AND ").push(OVERDUE).bind_i64(now).push(")))");
            }
        }
    };
    let page = match which {
        Logged::Created(from, to) => {
            let mut page = Sql::new("SELECT id AS n FROM ticket WHERE created_at >= ");
            page.bind_i64(from).push(" AND created_at < ").bind_i64(to);
            conditions(&mut page);
            if let Some(b) = before_id {
                page.push(" AND id < ").bind_i64(b);
            }
            page.push(" ORDER BY id DESC LIMIT ").bind_i64(limit);
            page
        }
        Logged::Open { pending, .. } => {
            let states: &[&str] = if pending { &["pending"] } else { &OPEN_STATES };
            let mut page = Sql::new("SELECT n FROM (");
            for (i, state) in states.iter().enumerate() {
                if i > 0 {
                    page.push(" UNION ALL ");
                }
                page.push("SELECT n FROM (SELECT id AS n FROM ticket");
                if sqlite {
                    page.push(" INDEXED BY ticket_state_idx");
                }
                page.push(" WHERE state = ").bind_text(state.to_string());
                conditions(&mut page);
                if let Some(b) = before_id {
                    page.push(" AND id < ").bind_i64(b);
                }
                page.push(" ORDER BY id DESC LIMIT ").bind_i64(limit).push(&format!(") AS b{i}"));
            }
            page.push(") AS branches ORDER BY n DESC LIMIT ").bind_i64(limit);
            page
        }
    };
    // The counts come from the tally where it can answer (see `created`, `open_counts`).
    let total = match which {
        Logged::Created(from, to) => created(conn, s, from, to, None).await?.iter().map(|r| r.n).sum(),
        Logged::Open { created, pending, overdue_at, due_within: None } => {
            let (cuts, band) = match created {
                Some((lo, hi)) => (vec![hi, lo], 1),
                None => (Vec::new(), 0),
            };
            open_counts(conn, s, &cuts, overdue_at.unwrap_or(i64::MIN))
                .await?
                .iter()
                .filter(|o| o.band == band && (!pending || o.pending == 1) && (overdue_at.is_none() || o.overdue == 1))
                .map(|o| o.n)
                .sum()
        }
        // Due within a window: read from the clocks' due-time index, a few tickets.
        Logged::Open { .. } => {
            let mut count = Sql::new("SELECT COUNT(*) AS n FROM ticket WHERE state IN ");
            count.bind_list(&OPEN_STATES, |v| Bind::Text(v.to_string()));
            conditions(&mut count);
            crate::fetch_all_sql!(conn, Count, &count)?.first().map(|c| c.n).unwrap_or(0)
        }
    };
    let ids: Vec<Count> = crate::fetch_all_sql!(conn, Count, &page)?;
    Ok((total, ids.into_iter().map(|c| c.n).collect()))
}

/// Resolved tickets without an outcome row (resolved before reports existed), oldest first.
pub async fn missing_outcomes(conn: &mut Conn<'_>, limit: i64) -> Result<Vec<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT t.id FROM ticket t WHERE t.resolved_at IS NOT NULL AND t.state IN ('resolved', 'closed')
               AND NOT EXISTS (SELECT 1 FROM ticket_outcome o WHERE o.ticket_id = t.id)
             ORDER BY t.id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

/// The SLA clocks' states of one ticket: (target, state).
pub async fn clock_states(conn: &mut Conn<'_>, ticket_id: i64) -> Result<Vec<(String, String)>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT target, state FROM ticket_sla WHERE ticket_id = $1").bind(ticket_id).fetch_all(c).await
    })?)
}

/// Follows a ticket's restriction onto its outcome row (if it has one).
pub async fn restrict_outcome(conn: &mut Conn<'_>, ticket_id: i64, group_id: Option<i64>) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE ticket_outcome SET visibility_group_id = $2 WHERE ticket_id = $1")
            .bind(ticket_id)
            .bind(group_id)
            .execute(c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// One row of a day's backlog snapshot.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SnapshotRow {
    pub group_id: i64,
    /// 0: not restricted
    pub visibility_group_id: i64,
    pub kind: String,
    pub priority: i64,
    pub band: i64,
    pub open: i64,
    pub pending: i64,
    pub overdue: i64,
}

/// The backlog at `at` per group, restriction, kind, priority and age band: what
/// [`keep_snapshot`] writes. Read on a read connection, so the writer is not held while a large
/// backlog is counted (over a second at 600,000 open tickets).
pub async fn snapshot_rows(conn: &mut Conn<'_>, at: i64) -> Result<Vec<SnapshotRow>> {
    let mut sql = Sql::new(
        "SELECT assignment_group_id AS group_id, COALESCE(visibility_group_id, 0) AS visibility_group_id, kind,
                priority, CAST(CASE",
    );
    for (i, h) in BAND_HOURS.iter().enumerate() {
        sql.push(" WHEN created_at > ").bind_i64(at - h * 3_600_000).push(&format!(" THEN {i}"));
    }
    sql.push(" ELSE 4 END AS BIGINT) AS band, COUNT(*) AS open,");
    sql.push(" CAST(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS BIGINT) AS pending,");
    // Breached (kept on the ticket by the clocks' triggers), or running past due and not marked
    // yet: the late clocks are looked up once, not once per ticket.
    sql.push(" CAST(SUM(CASE WHEN sla_breached = 1 OR id IN (SELECT ticket_id FROM ticket_sla");
    sql.push(" WHERE state = 'running' AND due_at < ").bind_i64(at).push(") THEN 1 ELSE 0 END) AS BIGINT) AS overdue");
    sql.push(" FROM ticket WHERE state IN ('new', 'assigned', 'in_progress', 'pending')");
    sql.push(" AND kind IN ('incident', 'service_request') AND created_at <= ").bind_i64(at);
    sql.push(" GROUP BY 1, 2, 3, 4, 5");
    Ok(crate::fetch_all_sql!(conn, SnapshotRow, &sql)?)
}

/// Writes `rows` (from [`snapshot_rows`]) as the snapshot of `day` (days since the epoch), taken
/// at `at`; a day already kept is left as it was. Returns whether this call kept it.
pub async fn keep_snapshot(conn: &mut Conn<'_>, day: i64, at: i64, rows: &[SnapshotRow]) -> Result<bool> {
    let mut mark = Sql::new("INSERT INTO backlog_snapshot_day (day, taken_at) VALUES (");
    mark.bind_i64(day).push(", ").bind_i64(at).push(") ON CONFLICT DO NOTHING");
    if crate::execute_sql!(conn, &mark)? == 0 {
        return Ok(false);
    }
    for r in rows {
        with_conn!(conn, |c| {
            sqlx::query(
                "INSERT INTO backlog_snapshot
                   (day, group_id, visibility_group_id, kind, priority, band, open, pending, overdue)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(day)
            .bind(r.group_id)
            .bind(r.visibility_group_id)
            .bind(&r.kind)
            .bind(r.priority)
            .bind(r.band)
            .bind(r.open)
            .bind(r.pending)
            .bind(r.overdue)
            .execute(c)
            .await
            .map(|_| ())
        })?;
    }
    Ok(true)
}

#[derive(sqlx::FromRow)]
struct Day {
    day: i64,
}

/// The days of `[from_day, to_day)` whose snapshot was taken.
pub async fn kept_days(conn: &mut Conn<'_>, (from_day, to_day): (i64, i64)) -> Result<Vec<i64>> {
    let mut sql = Sql::new("SELECT day FROM backlog_snapshot_day WHERE day >= ");
    sql.bind_i64(from_day).push(" AND day < ").bind_i64(to_day).push(" ORDER BY day");
    Ok(crate::fetch_all_sql!(conn, Day, &sql)?.into_iter().map(|d| d.day).collect())
}

/// The backlog of one day and age band as the snapshots kept it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Kept {
    pub day: i64,
    pub band: i64,
    pub open: i64,
    pub pending: i64,
    pub overdue: i64,
}

/// The snapshots of the days `[from_day, to_day)` under the filters they keep (groups, kind,
/// priority, the reader's restriction), per day and age band.
pub async fn trend(conn: &mut Conn<'_>, s: &Scope, (from_day, to_day): (i64, i64)) -> Result<Vec<Kept>> {
    let mut sql = Sql::new(
        "SELECT day, band, CAST(SUM(open) AS BIGINT) AS open, CAST(SUM(pending) AS BIGINT) AS pending,
             CAST(SUM(overdue) AS BIGINT) AS overdue FROM backlog_snapshot WHERE day >= ",
    );
    sql.bind_i64(from_day).push(" AND day < ").bind_i64(to_day);
    if let Some(k) = &s.kind {
        sql.push(" AND kind = ").bind_text(k.clone());
    }
    if let Some(ids) = &s.group_ids {
        push_in(&mut sql, "group_id", ids);
    }
    if let Some(p) = s.priority {
        sql.push(" AND priority = ").bind_i64(p);
    }
    if let Some(mine) = &s.reader_groups {
        if mine.is_empty() {
            sql.push(" AND visibility_group_id = 0");
        } else {
            sql.push(" AND (visibility_group_id = 0 OR visibility_group_id IN ").bind_list(mine, Bind::I64).push(")");
        }
    }
    sql.push(" GROUP BY day, band ORDER BY day, band");
    Ok(crate::fetch_all_sql!(conn, Kept, &sql)?)
}

/// The service management figures of a period (the whole service: the ticket filters do not
/// apply): changes reviewed and successful, alerts first seen and the incidents they opened or
/// joined, problems opened and those accepted from the recurring-incident detector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Service {
    pub changes_reviewed: i64,
    pub changes_successful: i64,
    pub alerts: i64,
    pub alert_incidents: i64,
    pub problems_opened: i64,
    pub problems_detected: i64,
}

/// Which tickets a service management figure counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceList {
    /// Changes whose outcome was recorded in the period
    ChangesReviewed,
    /// Of those, the failed or backed-out ones
    ChangesFailed,
    /// Incidents opened or joined by alerts first seen in the period
    AlertIncidents,
    /// Problems logged in the period
    ProblemsOpened,
}

fn push_service_ids(sql: &mut Sql, which: ServiceList, (from, to): (i64, i64), reader: Option<&[i64]>) {
    match which {
        ServiceList::ChangesReviewed | ServiceList::ChangesFailed => {
            sql.push(
                "SELECT c.ticket_id AS n FROM change_request c JOIN ticket t ON t.id = c.ticket_id
                 WHERE c.outcome IS NOT NULL AND COALESCE(c.actual_end, t.updated_at) >= ",
            );
            sql.bind_i64(from).push(" AND COALESCE(c.actual_end, t.updated_at) < ").bind_i64(to);
            if which == ServiceList::ChangesFailed {
                sql.push(" AND c.outcome IN ('failed', 'backed_out')");
            }
        }
        ServiceList::AlertIncidents => {
            sql.push("SELECT DISTINCT a.ticket_id AS n FROM alert a JOIN ticket t ON t.id = a.ticket_id WHERE a.first_seen_at >= ");
            sql.bind_i64(from).push(" AND a.first_seen_at < ").bind_i64(to);
        }
        ServiceList::ProblemsOpened => {
            sql.push("SELECT t.id AS n FROM ticket t WHERE t.kind = 'problem' AND t.created_at >= ");
            sql.bind_i64(from).push(" AND t.created_at < ").bind_i64(to);
        }
    }
    if let Some(mine) = reader {
        if mine.is_empty() {
            sql.push(" AND t.visibility_group_id IS NULL");
        } else {
            sql.push(" AND (t.visibility_group_id IS NULL OR t.visibility_group_id IN ")
                .bind_list(mine, Bind::I64)
                .push(")");
        }
    }
}

/// A page of the tickets one service management figure counts (highest id first, below
/// `before`), and how many there are.
pub async fn service_page(
    conn: &mut Conn<'_>,
    which: ServiceList,
    period: (i64, i64),
    reader: Option<&[i64]>,
    before: Option<i64>,
    limit: i64,
) -> Result<(i64, Vec<i64>)> {
    let mut count = Sql::new("SELECT COUNT(*) AS n FROM (");
    push_service_ids(&mut count, which, period, reader);
    count.push(") AS x");
    let total: Vec<Count> = crate::fetch_all_sql!(conn, Count, &count)?;
    let mut page = Sql::new("SELECT n FROM (");
    push_service_ids(&mut page, which, period, reader);
    page.push(") AS x WHERE 1 = 1");
    if let Some(b) = before {
        page.push(" AND n < ").bind_i64(b);
    }
    page.push(" ORDER BY n DESC LIMIT ").bind_i64(limit);
    let ids: Vec<Count> = crate::fetch_all_sql!(conn, Count, &page)?;
    Ok((total.first().map(|c| c.n).unwrap_or(0), ids.into_iter().map(|c| c.n).collect()))
}

/// The service management figures of `[from, to)` (`reader`: the groups of a reader who is not
/// an admin; tickets restricted to other groups are left out).
pub async fn service(conn: &mut Conn<'_>, (from, to): (i64, i64), reader: Option<&[i64]>) -> Result<Service> {
    let mut n = [0_i64; 4];
    let lists = [
        ServiceList::ChangesReviewed,
        ServiceList::ChangesFailed,
        ServiceList::AlertIncidents,
        ServiceList::ProblemsOpened,
    ];
    for (slot, which) in n.iter_mut().zip(lists) {
        let mut sql = Sql::new("SELECT COUNT(*) AS n FROM (");
        push_service_ids(&mut sql, which, (from, to), reader);
        sql.push(") AS x");
        let rows: Vec<Count> = crate::fetch_all_sql!(conn, Count, &sql)?;
        *slot = rows.first().map(|c| c.n).unwrap_or(0);
    }
    let [reviewed, failed, alert_incidents, problems_opened] = n;
    let mut alerts = Sql::new("SELECT COUNT(*) AS n FROM alert WHERE first_seen_at >= ");
    alerts.bind_i64(from).push(" AND first_seen_at < ").bind_i64(to);
    let alerts: Vec<Count> = crate::fetch_all_sql!(conn, Count, &alerts)?;
    let mut detected = Sql::new(
        "SELECT COUNT(*) AS n FROM problem_proposal WHERE state = 'accepted' AND problem_id IS NOT NULL AND decided_at >= ",
    );
    detected.bind_i64(from).push(" AND decided_at < ").bind_i64(to);
    let detected: Vec<Count> = crate::fetch_all_sql!(conn, Count, &detected)?;
    Ok(Service {
        changes_reviewed: reviewed,
        changes_successful: reviewed - failed,
        alerts: alerts.first().map(|c| c.n).unwrap_or(0),
        alert_incidents,
        problems_opened,
        problems_detected: detected.first().map(|c| c.n).unwrap_or(0),
    })
}

/// How many (day, filter values, status) counts of `ticket_tally` differ from a recount of the
/// tickets themselves (with the breached flag recomputed from the SLA clocks): 0 when the
/// triggers kept it exact.
pub async fn tally_differences(conn: &mut Conn<'_>) -> Result<i64> {
    let sql = Sql::new(
        "SELECT COUNT(*) AS n FROM (
           SELECT created_day, kind, group_id, priority, category_id, channel, assignee_id, visibility_group_id,
                  status, breached
           FROM (SELECT created_day, kind, group_id, priority, category_id, channel, assignee_id,
                        visibility_group_id, status, breached, n AS kept, 0 AS counted
                 FROM ticket_tally
                 UNION ALL
                 SELECT created_at / 86400000, kind, assignment_group_id, priority, COALESCE(category_id, 0),
                        channel, COALESCE(assignee_id, 0), COALESCE(visibility_group_id, 0),
                        CASE WHEN state = 'pending' THEN 2
                             WHEN state IN ('new', 'assigned', 'in_progress') THEN 1 ELSE 0 END,
                        CASE WHEN state IN ('new', 'assigned', 'in_progress', 'pending') AND EXISTS
                             (SELECT 1 FROM ticket_sla s WHERE s.ticket_id = ticket.id AND s.state = 'breached')
                             THEN 1 ELSE 0 END,
                        0, 1
                 FROM ticket) AS both_sides
           GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
           HAVING SUM(kept) <> SUM(counted)) AS differing",
    );
    let n: Vec<Count> = crate::fetch_all_sql!(conn, Count, &sql)?;
    Ok(n.first().map(|c| c.n).unwrap_or(0))
}
