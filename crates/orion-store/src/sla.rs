//! Calendars, SLA policies, and the clocks of each ticket.

use crate::{Conn, Result, with_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CalendarRow {
    pub id: i64,
    pub name: String,
    /// JSON `orion_domain::calendar::CalendarSpec`
    pub spec: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PolicyRow {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub kinds: String,
    pub priorities: String,
    pub category: Option<String>,
    pub department: Option<String>,
    pub calendar_name: String,
    pub calendar_spec: String,
    pub first_response_min: Option<i64>,
    pub resolution_min: Option<i64>,
    pub update_interval_min: Option<i64>,
    pub pause_on: String,
    pub warnings: String,
    pub breach_escalates: bool,
    /// JSON list of `orion_domain::sla_policy::EscalationRule`; `None`: the defaults
    pub escalation_rules: Option<String>,
    pub on_priority_change: String,
    pub active: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClockRow {
    pub id: i64,
    pub ticket_id: i64,
    pub target: String,
    pub policy_name: String,
    pub calendar_name: String,
    pub calendar_spec: String,
    pub pause_on: String,
    pub warnings: String,
    pub escalates: bool,
    pub target_ms: i64,
    pub state: String,
    pub due_at: Option<i64>,
    pub warned_pct: i64,
    pub breach_handled: bool,
    /// The policy's escalation rules when the clock started (JSON); `None`: the defaults
    pub rules: Option<String>,
    pub on_priority_change: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub ticket_sla_id: i64,
    pub at: i64,
    pub kind: String,
    pub reason: Option<String>,
}

pub async fn list_calendars(conn: &mut Conn<'_>) -> Result<Vec<CalendarRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT id, name, spec FROM business_calendar ORDER BY name").fetch_all(c).await
    })?)
}

/// Active policies in matching order, each with its calendar.
/// The policies in matching order; with `switched_off`, also those not in use.
pub async fn list_policies(conn: &mut Conn<'_>, switched_off: bool) -> Result<Vec<PolicyRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT p.id, p.name, p.position, p.kinds, p.priorities, p.category, p.department,
                    b.name AS calendar_name, b.spec AS calendar_spec,
                    p.first_response_min, p.resolution_min, p.update_interval_min, p.pause_on, p.warnings,
                    p.breach_escalates, p.escalation_rules, p.on_priority_change, p.active
             FROM sla_policy p JOIN business_calendar b ON b.id = p.calendar_id
             WHERE p.active OR $1 ORDER BY p.position, p.id",
        )
        .bind(switched_off)
        .fetch_all(c)
        .await
    })?)
}

/// A clock to start with a ticket.
pub struct NewClock<'a> {
    pub target: &'a str,
    pub policy_name: &'a str,
    pub calendar_name: &'a str,
    pub calendar_spec: &'a str,
    pub pause_on: &'a str,
    pub warnings: &'a str,
    pub escalates: bool,
    pub rules: Option<&'a str>,
    pub on_priority_change: &'a str,
    pub target_ms: i64,
    pub due_at: Option<i64>,
}

impl<'a> From<&'a orion_domain::PlannedClock> for NewClock<'a> {
    fn from(k: &'a orion_domain::PlannedClock) -> Self {
        NewClock {
            target: k.target,
            policy_name: &k.policy_name,
            calendar_name: &k.calendar_name,
            calendar_spec: &k.calendar_spec,
            pause_on: &k.pause_on,
            warnings: &k.warnings,
            escalates: k.escalates,
            rules: Some(&k.rules),
            on_priority_change: k.on_priority_change,
            target_ms: k.target_ms,
            due_at: k.due_at,
        }
    }
}

/// Starts a ticket's clocks — one row each and their `start` events — and queues or moves its
/// timer `(job, dedupe key)`, all in one round trip: this runs for every new ticket, on the single
/// writer's path (three statements after `;` on SQLite, one with data-modifying `WITH` on PostgreSQL).
pub async fn start_clocks(
    conn: &mut Conn<'_>,
    ticket_id: i64,
    clocks: &[NewClock<'_>],
    now: i64,
    timer: Option<(&crate::jobs::NewJob<'_>, &str)>,
) -> Result<()> {
    if clocks.is_empty() {
        if let Some((job, key)) = timer {
            crate::jobs::schedule(conn, job, key, now).await?;
        }
        return Ok(());
    }
    let postgres = conn.engine() == crate::Engine::Postgres;
    let mut sql = crate::sql::Sql::new(if postgres { "WITH s AS (" } else { "" });
    sql.push(
        "INSERT INTO ticket_sla (ticket_id, target, policy_name, calendar_name, calendar_spec, pause_on,
             warnings, escalates, rules, on_priority_change, target_ms, state, due_at, created_at, updated_at) VALUES ",
    );
    for (i, k) in clocks.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.bind_i64(ticket_id).push(", ");
        sql.bind_text(k.target).push(", ");
        sql.bind_text(k.policy_name).push(", ");
        sql.bind_text(k.calendar_name).push(", ");
        sql.bind_text(k.calendar_spec).push(", ");
        sql.bind_text(k.pause_on).push(", ");
        sql.bind_text(k.warnings).push(", ");
        sql.push(if k.escalates { "TRUE, " } else { "FALSE, " });
        sql.bind(crate::sql::Bind::OptText(k.rules.map(str::to_string))).push(", ");
        sql.bind_text(k.on_priority_change).push(", ");
        sql.bind_i64(k.target_ms).push(", 'running', ");
        sql.bind(crate::sql::Bind::OptI64(k.due_at)).push(", ");
        sql.bind_i64(now).push(", ");
        sql.bind_i64(now).push(")");
    }
    // The start events: of the rows just inserted (PostgreSQL), of the ticket's rows (SQLite,
    // where the ticket has no others: its clocks start once).
    if postgres {
        sql.push(" RETURNING id)");
        sql.push(if timer.is_some() { ", e AS (" } else { " " });
        sql.push("INSERT INTO sla_event (ticket_sla_id, at, kind) SELECT id, ").bind_i64(now).push(", 'start' FROM s");
        if timer.is_some() {
            sql.push(") ");
        }
    } else {
        sql.push("; INSERT INTO sla_event (ticket_sla_id, at, kind) SELECT id, ");
        sql.bind_i64(now).push(", 'start' FROM ticket_sla WHERE ticket_id = ").bind_i64(ticket_id);
        if timer.is_some() {
            sql.push("; ");
        }
    }
    if let Some((job, key)) = timer {
        crate::jobs::push_schedule(conn, &mut sql, job, key, now);
    }
    crate::execute_sql!(conn, &sql)?;
    Ok(())
}

pub async fn clocks_of(conn: &mut Conn<'_>, ticket_id: i64) -> Result<Vec<ClockRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT id, ticket_id, target, policy_name, calendar_name, calendar_spec, pause_on, warnings, escalates,
                    target_ms, state, due_at, warned_pct, breach_handled, rules, on_priority_change
             FROM ticket_sla WHERE ticket_id = $1 ORDER BY id",
        )
        .bind(ticket_id)
        .fetch_all(c)
        .await
    })?)
}

pub async fn events_of(conn: &mut Conn<'_>, ticket_id: i64) -> Result<Vec<EventRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT e.id, e.ticket_sla_id, e.at, e.kind, e.reason FROM sla_event e
             JOIN ticket_sla s ON s.id = e.ticket_sla_id WHERE s.ticket_id = $1 ORDER BY e.id",
        )
        .bind(ticket_id)
        .fetch_all(c)
        .await
    })?)
}

pub async fn append_event(conn: &mut Conn<'_>, clock_id: i64, at: i64, kind: &str, reason: Option<&str>) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("INSERT INTO sla_event (ticket_sla_id, at, kind, reason) VALUES ($1, $2, $3, $4)")
            .bind(clock_id)
            .bind(at)
            .bind(kind)
            .bind(reason)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Stores what a clock's events now say (state, due time), and its target if re-targeted.
pub async fn update_clock(conn: &mut Conn<'_>, k: &ClockRow, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE ticket_sla SET policy_name = $2, calendar_name = $3, calendar_spec = $4, pause_on = $5,
                 target_ms = $6, state = $7, due_at = $8, updated_at = $9, warnings = $10, escalates = $11,
                 warned_pct = $12, breach_handled = $13, rules = $14, on_priority_change = $15
             WHERE id = $1",
        )
        .bind(k.id)
        .bind(&k.policy_name)
        .bind(&k.calendar_name)
        .bind(&k.calendar_spec)
        .bind(&k.pause_on)
        .bind(k.target_ms)
        .bind(&k.state)
        .bind(k.due_at)
        .bind(now)
        .bind(&k.warnings)
        .bind(k.escalates)
        .bind(k.warned_pct)
        .bind(k.breach_handled)
        .bind(&k.rules)
        .bind(&k.on_priority_change)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Ids of tickets with a breached SLA that are still open, newest first, keyset-paged (the leads' breach queue).
pub async fn breached_open_tickets(conn: &mut Conn<'_>, before_id: Option<i64>, limit: i64) -> Result<Vec<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT DISTINCT s.ticket_id FROM ticket_sla s JOIN ticket t ON t.id = s.ticket_id
             WHERE s.state = 'breached' AND t.state NOT IN ('resolved', 'closed') AND s.ticket_id < $1
             ORDER BY s.ticket_id DESC LIMIT $2",
        )
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

pub async fn find_calendar(conn: &mut Conn<'_>, name: &str) -> Result<Option<CalendarRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as("SELECT id, name, spec FROM business_calendar WHERE LOWER(name) = LOWER($1)")
            .bind(name)
            .fetch_optional(c)
            .await
    })?)
}

/// Creates or replaces a calendar by name.
pub async fn put_calendar(conn: &mut Conn<'_>, name: &str, spec: &str, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO business_calendar (name, spec, created_at, updated_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(spec)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A policy as written by an admin.
pub struct PolicyWrite<'a> {
    pub name: &'a str,
    pub position: i64,
    pub kinds: &'a str,
    pub priorities: &'a str,
    pub category: Option<&'a str>,
    pub department: Option<&'a str>,
    pub calendar_id: i64,
    pub first_response_min: Option<i64>,
    pub resolution_min: Option<i64>,
    pub update_interval_min: Option<i64>,
    pub pause_on: &'a str,
    pub warnings: &'a str,
    pub breach_escalates: bool,
    pub escalation_rules: Option<&'a str>,
    pub on_priority_change: &'a str,
    pub active: bool,
}

/// Creates or replaces a policy by name.
pub async fn put_policy(conn: &mut Conn<'_>, p: &PolicyWrite<'_>, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO sla_policy (name, position, kinds, priorities, category, department, calendar_id,
                 first_response_min, resolution_min, pause_on, warnings, breach_escalates, active, created_at, updated_at,
                 update_interval_min, escalation_rules, on_priority_change)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, $16, $17)
             ON CONFLICT (name) DO UPDATE SET position = excluded.position, kinds = excluded.kinds,
                 priorities = excluded.priorities, category = excluded.category, department = excluded.department,
                 calendar_id = excluded.calendar_id, first_response_min = excluded.first_response_min,
                 resolution_min = excluded.resolution_min, pause_on = excluded.pause_on, warnings = excluded.warnings,
                 breach_escalates = excluded.breach_escalates, active = excluded.active, updated_at = excluded.updated_at,
                 update_interval_min = excluded.update_interval_min, escalation_rules = excluded.escalation_rules,
                 on_priority_change = excluded.on_priority_change",
        )
        .bind(p.name)
        .bind(p.position)
        .bind(p.kinds)
        .bind(p.priorities)
        .bind(p.category)
        .bind(p.department)
        .bind(p.calendar_id)
        .bind(p.first_response_min)
        .bind(p.resolution_min)
        .bind(p.pause_on)
        .bind(p.warnings)
        .bind(p.breach_escalates)
        .bind(p.active)
        .bind(now)
        .bind(p.update_interval_min)
        .bind(p.escalation_rules)
        .bind(p.on_priority_change)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Adds a clock to a ticket that already has others (a target a new priority's policy adds), started now.
pub async fn add_clock(conn: &mut Conn<'_>, ticket_id: i64, k: &NewClock<'_>, now: i64) -> Result<i64> {
    let id: i64 = with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO ticket_sla (ticket_id, target, policy_name, calendar_name, calendar_spec, pause_on,
                 warnings, escalates, rules, on_priority_change, target_ms, state, due_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'running', $12, $13, $13) RETURNING id",
        )
        .bind(ticket_id)
        .bind(k.target)
        .bind(k.policy_name)
        .bind(k.calendar_name)
        .bind(k.calendar_spec)
        .bind(k.pause_on)
        .bind(k.warnings)
        .bind(k.escalates)
        .bind(k.rules)
        .bind(k.on_priority_change)
        .bind(k.target_ms)
        .bind(k.due_at)
        .bind(now)
        .fetch_one(c)
        .await
    })?;
    append_event(conn, id, now, "start", None).await?;
    Ok(id)
}

/// A stretch a resolved ticket spent with one group, for OLA reports.
#[derive(Debug, Clone)]
pub struct OlaSpanWrite {
    pub group_id: i64,
    pub tier: i64,
    pub started_at: i64,
    pub ended_at: i64,
    pub working_ms: i64,
    pub target_ms: i64,
}

/// Replaces the recorded spans of a ticket (at each resolution).
pub async fn record_ola_spans(
    conn: &mut Conn<'_>,
    ticket_id: i64,
    resolved_at: i64,
    spans: &[OlaSpanWrite],
) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("DELETE FROM ola_span WHERE ticket_id = $1")
            .bind(ticket_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    if spans.is_empty() {
        return Ok(());
    }
    let mut sql = crate::sql::Sql::new(
        "INSERT INTO ola_span (ticket_id, group_id, tier, started_at, ended_at, working_ms, target_ms, resolved_at) VALUES ",
    );
    for (i, s) in spans.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        for (j, v) in [ticket_id, s.group_id, s.tier, s.started_at, s.ended_at, s.working_ms, s.target_ms, resolved_at]
            .into_iter()
            .enumerate()
        {
            if j > 0 {
                sql.push(", ");
            }
            sql.bind_i64(v);
        }
        sql.push(")");
    }
    crate::execute_sql!(conn, &sql)?;
    Ok(())
}

/// One group's (or tier's) figures in an OLA report.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OlaAggregate {
    pub group_id: i64,
    pub group_name: String,
    pub tier: i64,
    pub spans: i64,
    pub tickets: i64,
    pub total_ms: i64,
    pub max_ms: i64,
    pub over_target: i64,
}

/// Time with each group for tickets resolved in `[from, to)`, optionally one group only.
/// Reads the rows of the period through the `resolved_at` index.
pub async fn ola_aggregate(
    conn: &mut Conn<'_>,
    from: i64,
    to: i64,
    group_id: Option<i64>,
    reader: Option<i64>,
) -> Result<Vec<OlaAggregate>> {
    // With a reader, tickets restricted to a group they are not in are left out of the counts.
    let hidden = if reader.is_some() {
        " AND NOT EXISTS (SELECT 1 FROM ticket t WHERE t.id = s.ticket_id AND t.visibility_group_id IS NOT NULL
               AND t.visibility_group_id NOT IN (SELECT group_id FROM group_member WHERE user_id = $4))"
    } else {
        " AND $4 = $4"
    };
    let sql = format!(
        "SELECT s.group_id, g.name AS group_name, s.tier, COUNT(*) AS spans,
                COUNT(DISTINCT s.ticket_id) AS tickets, CAST(SUM(s.working_ms) AS BIGINT) AS total_ms,
                MAX(s.working_ms) AS max_ms,
                CAST(SUM(CASE WHEN s.working_ms > s.target_ms THEN 1 ELSE 0 END) AS BIGINT) AS over_target
         FROM ola_span s JOIN agent_group g ON g.id = s.group_id
         WHERE s.resolved_at >= $1 AND s.resolved_at < $2 AND ($3 IS NULL OR s.group_id = $3){hidden}
         GROUP BY s.group_id, g.name, s.tier ORDER BY s.tier, g.name"
    );
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(from)
            .bind(to)
            .bind(group_id)
            .bind(reader.unwrap_or(0))
            .fetch_all(c)
            .await
    })?)
}

/// The state of one SLA clock, for a queue's badges.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Badge {
    pub number: String,
    pub target: String,
    pub state: String,
    pub due_at: Option<i64>,
}

/// Every SLA clock of the tickets with these numbers (one page of a queue).
pub async fn badges(conn: &mut Conn<'_>, numbers: &[String]) -> Result<Vec<Badge>> {
    if numbers.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = crate::sql::Sql::new(
        "SELECT t.number, s.target, s.state, s.due_at FROM ticket_sla s JOIN ticket t ON t.id = s.ticket_id
         WHERE t.number IN (",
    );
    for (i, n) in numbers.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind_text(n.clone());
    }
    sql.push(") ORDER BY s.id");
    Ok(crate::fetch_all_sql!(conn, Badge, &sql)?)
}
