//! Tickets: insert, read with display names, optimistic update, keyset lists.

use crate::sql::{Bind, Sql};
use crate::{Conn, Result, StoreError, with_conn};

/// A ticket with the names a person reads (requester, group, assignee, category).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketView {
    pub id: i64,
    pub number: String,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub requester_id: i64,
    pub requester_email: String,
    pub requester_name: String,
    pub channel: String,
    pub category_id: Option<i64>,
    pub category_path: Option<String>,
    pub impact: i64,
    pub urgency: i64,
    pub priority: i64,
    pub state: String,
    pub pending_reason: Option<String>,
    pub assignment_group_id: i64,
    pub assignment_group_name: String,
    pub assignment_group_tier: i64,
    pub assignee_id: Option<i64>,
    pub assignee_email: Option<String>,
    pub assignee_name: Option<String>,
    pub escalation_count: i64,
    pub max_tier: i64,
    pub reopen_count: i64,
    pub resolution_code: Option<String>,
    pub resolution_notes: Option<String>,
    pub created_by: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub version: i64,
    /// The group the ticket is restricted to (only its members, admins and the requester see it)
    pub visibility_group_id: Option<i64>,
    pub visibility_group_name: Option<String>,
    /// The ticket's tags, comma-joined (no tag holds a comma); `None` without tags
    pub tags: Option<String>,
}

impl TicketView {
    /// The tags, in alphabetical order.
    pub fn tag_list(&self) -> Vec<String> {
        let mut v: Vec<String> = self.tags.iter().flat_map(|t| t.split(',')).map(str::to_string).collect();
        v.sort();
        v
    }
}

/// A ticket with the names it refers to and its tags (kept comma-joined on the ticket row, so a
/// ticket page or a list page costs no extra round trip or sub-query for them). The restricting
/// group's name is looked up only for the few restricted tickets.
const SELECT_VIEW: &str = "SELECT t.id, t.number, t.kind, t.title, t.description,
        t.requester_id, r.email AS requester_email, r.name AS requester_name, t.channel,
        t.category_id, c.path AS category_path, t.impact, t.urgency, t.priority, t.state, t.pending_reason,
        t.assignment_group_id, g.name AS assignment_group_name, g.tier AS assignment_group_tier,
        t.assignee_id, a.email AS assignee_email, a.name AS assignee_name,
        t.escalation_count, t.max_tier, t.reopen_count, t.resolution_code, t.resolution_notes,
        t.created_by, t.created_at, t.updated_at, t.resolved_at, t.closed_at, t.version,
        t.visibility_group_id,
        CASE WHEN t.visibility_group_id IS NULL THEN NULL
             ELSE (SELECT vg.name FROM agent_group vg WHERE vg.id = t.visibility_group_id) END AS visibility_group_name,
        t.tags
    FROM ticket t
    JOIN app_user r ON r.id = t.requester_id
    JOIN agent_group g ON g.id = t.assignment_group_id
    LEFT JOIN category c ON c.id = t.category_id
    LEFT JOIN app_user a ON a.id = t.assignee_id";

/// The fields of a ticket being logged; its number is drawn from the sequence of `prefix`.
pub struct NewTicket<'a> {
    /// `INC`, `REQ`, …: the number prefix, which is also the sequence's name
    pub prefix: &'a str,
    pub kind: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub requester_id: i64,
    pub channel: &'a str,
    pub category_id: Option<i64>,
    pub impact: i64,
    pub urgency: i64,
    pub priority: i64,
    pub state: &'a str,
    /// Why it waits, for a ticket that starts pending (problems and changes may)
    pub pending_reason: Option<&'a str>,
    pub assignment_group_id: i64,
    pub assignee_id: Option<i64>,
    pub max_tier: i64,
    pub created_by: i64,
    pub now: i64,
    /// The timeline entry that records the creation (its actor is `created_by`).
    pub entry_visibility: &'a str,
    pub entry_data: &'a str,
    /// The group the ticket is restricted to from the start (a routing rule's doing)
    pub visibility_group_id: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct Created {
    id: i64,
    number: String,
}

/// Numbers the ticket, inserts it and its `created` timeline entry in one
/// statement batch: logging tickets is the hottest write, and each round trip
/// to the database costs more than the SQL itself. The number is the prefix and
/// at least seven digits, as `orion_domain::TicketNumber` formats it.
const CREATE_SQLITE: &str = "
    INSERT INTO ticket_counter (kind, last_value) VALUES ($1, 1)
        ON CONFLICT (kind) DO UPDATE SET last_value = ticket_counter.last_value + 1;
    INSERT INTO ticket (number, kind, title, description, requester_id, channel, category_id,
            impact, urgency, priority, state, assignment_group_id, assignee_id, max_tier,
            created_by, created_at, updated_at, pending_reason, visibility_group_id)
        SELECT $1 || printf('%07d', last_value), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $19, $20
        FROM ticket_counter WHERE kind = $1
        RETURNING id, number;
    INSERT INTO timeline_entry (ticket_id, at, actor_id, kind, visibility, body, data)
        VALUES (last_insert_rowid(), $16, $15, 'created', $17, '', $18);";

const CREATE_POSTGRES: &str = "
    WITH n AS (
        INSERT INTO ticket_counter (kind, last_value) VALUES ($1, 1)
        ON CONFLICT (kind) DO UPDATE SET last_value = ticket_counter.last_value + 1
        RETURNING last_value
    ), t AS (
        INSERT INTO ticket (number, kind, title, description, requester_id, channel, category_id,
            impact, urgency, priority, state, assignment_group_id, assignee_id, max_tier,
            created_by, created_at, updated_at, pending_reason, visibility_group_id)
        SELECT $1 || CASE WHEN n.last_value < 10000000 THEN lpad(n.last_value::text, 7, '0')
                          ELSE n.last_value::text END,
               $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $19, $20
        FROM n
        RETURNING id, number
    ), e AS (
        INSERT INTO timeline_entry (ticket_id, at, actor_id, kind, visibility, body, data)
        SELECT t.id, $16, $15, 'created', $17, '', $18 FROM t
    )
    SELECT id, number FROM t";

/// Logs a ticket: returns its id and number.
pub async fn create(conn: &mut Conn<'_>, t: &NewTicket<'_>) -> Result<(i64, String)> {
    let sql = match conn.engine() {
        crate::Engine::Sqlite => CREATE_SQLITE,
        crate::Engine::Postgres => CREATE_POSTGRES,
    };
    // fetch_all: on SQLite every statement of the batch must run, not only up to the first row.
    let rows: Vec<Created> = with_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(t.prefix)
            .bind(t.kind)
            .bind(t.title)
            .bind(t.description)
            .bind(t.requester_id)
            .bind(t.channel)
            .bind(t.category_id)
            .bind(t.impact)
            .bind(t.urgency)
            .bind(t.priority)
            .bind(t.state)
            .bind(t.assignment_group_id)
            .bind(t.assignee_id)
            .bind(t.max_tier)
            .bind(t.created_by)
            .bind(t.now)
            .bind(t.entry_visibility)
            .bind(t.entry_data)
            .bind(t.pending_reason)
            .bind(t.visibility_group_id)
            .fetch_all(c)
            .await
    })?;
    let created = rows.into_iter().next().ok_or(StoreError::NotFound)?;
    let doc =
        crate::search::TicketDoc::build(created.id, t.requester_id, t.title, t.description, "", std::iter::empty());
    crate::search::write_tickets(conn, vec![doc]).await?;
    Ok((created.id, created.number))
}

pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<TicketView> {
    let mut sql = Sql::new(SELECT_VIEW);
    sql.push(" WHERE t.id = ").bind_i64(id);
    crate::fetch_all_sql!(conn, TicketView, &sql)?.pop().ok_or(StoreError::NotFound)
}

/// Several tickets by id, in no particular order.
pub async fn get_many(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<TicketView>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(SELECT_VIEW);
    sql.push(" WHERE t.id IN ").bind_list(ids, Bind::I64);
    Ok(crate::fetch_all_sql!(conn, TicketView, &sql)?)
}

pub async fn get_by_number(conn: &mut Conn<'_>, number: &str) -> Result<TicketView> {
    let mut sql = Sql::new(SELECT_VIEW);
    sql.push(" WHERE t.number = ").bind_text(number);
    crate::fetch_all_sql!(conn, TicketView, &sql)?.pop().ok_or(StoreError::NotFound)
}

/// Writes the mutable fields of `t` if nobody changed the ticket since `t.version` was read,
/// and refreshes its search index row when its text changed.
pub async fn update(conn: &mut Conn<'_>, t: &TicketView) -> Result<()> {
    let before: Option<(String, String, Option<String>)> = with_conn!(conn, |c| {
        sqlx::query_as("SELECT title, description, resolution_notes FROM ticket WHERE id = $1")
            .bind(t.id)
            .fetch_optional(c)
            .await
    })?;
    let text_changed = before.is_some_and(|(ti, d, r)| ti != t.title || d != t.description || r != t.resolution_notes);
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE ticket SET title = $2, description = $3, category_id = $4, impact = $5, urgency = $6,
                 priority = $7, state = $8, pending_reason = $9, assignment_group_id = $10, assignee_id = $11,
                 escalation_count = $12, max_tier = $13, reopen_count = $14, resolution_code = $15,
                 resolution_notes = $16, updated_at = $17, resolved_at = $18, closed_at = $19,
                 visibility_group_id = $21, version = version + 1
             WHERE id = $1 AND version = $20",
        )
        .bind(t.id)
        .bind(&t.title)
        .bind(&t.description)
        .bind(t.category_id)
        .bind(t.impact)
        .bind(t.urgency)
        .bind(t.priority)
        .bind(&t.state)
        .bind(&t.pending_reason)
        .bind(t.assignment_group_id)
        .bind(t.assignee_id)
        .bind(t.escalation_count)
        .bind(t.max_tier)
        .bind(t.reopen_count)
        .bind(&t.resolution_code)
        .bind(&t.resolution_notes)
        .bind(t.updated_at)
        .bind(t.resolved_at)
        .bind(t.closed_at)
        .bind(t.version)
        .bind(t.visibility_group_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(StoreError::Stale);
    }
    if text_changed {
        crate::search::index_ticket(conn, t.id).await?;
    }
    Ok(())
}

/// Who a list is restricted to by assignee.
#[derive(Debug, Clone, Copy)]
pub enum AssigneeFilter {
    Nobody,
    User(i64),
}

/// Filters for a ticket list. Every list walks an index that yields its rows in id order (see
/// [`list`]); none collects the matching rows to sort them.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub kind: Option<String>,
    pub states: Vec<String>,
    pub priority: Option<i64>,
    pub group_id: Option<i64>,
    pub assignee: Option<AssigneeFilter>,
    pub requester_id: Option<i64>,
    /// Leaves out fulfilment tasks (a requester's list: a task is the desk's own work).
    pub hide_tasks: bool,
    /// Keyset cursor: only tickets past this id in the list's order.
    pub before_id: Option<i64>,
    /// Oldest first instead of newest first.
    pub ascending: bool,
    /// Title contains this text (any case).
    pub title: Option<String>,
    /// Only tickets with this tag (folded); the list then walks the tag's index.
    pub tag: Option<String>,
    /// Only catalog requests whose answer to a question (by key) is this text (for several
    /// choices: one of them); the list then walks the answers' index.
    pub answer: Option<(String, String)>,
    pub limit: i64,
}

/// An index a list can walk in id order once its leading columns are pinned by the filter.
/// A column the index has but the filter leaves open (or gives several values for) is pinned
/// by walking the index once per value — one "branch" each — and merging the branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// (requester_id, id)
    Requester,
    /// (assignee_id, state, id), once per state
    Assignee,
    /// (assignment_group_id, state, priority, id), once per state
    GroupPriority,
    /// (assignment_group_id, state, id), once per state
    GroupState,
    /// (assignment_group_id, id)
    Group,
    /// (state, id), once per state
    State,
    /// (kind, id)
    Kind,
    /// (priority, id)
    Priority,
    /// The primary key
    All,
}

impl Walk {
    fn index(self) -> &'static str {
        match self {
            Walk::Requester => "ticket_requester_idx",
            Walk::Assignee => "ticket_assignee_state_idx",
            Walk::GroupPriority => "ticket_group_state_priority_idx",
            Walk::GroupState => "ticket_group_state_idx",
            Walk::Group => "ticket_group_idx",
            Walk::State => "ticket_state_idx",
            Walk::Kind => "ticket_kind_idx",
            Walk::Priority => "ticket_priority_idx",
            Walk::All => "",
        }
    }

    fn per_state(self) -> bool {
        matches!(self, Walk::Assignee | Walk::GroupPriority | Walk::GroupState | Walk::State)
    }

    /// The walks that can serve `f`, the most specific first (the tie-break when several are
    /// about as long).
    fn candidates(f: &TicketFilter) -> Vec<Walk> {
        let mut w = Vec::new();
        if f.requester_id.is_some() {
            w.push(Walk::Requester);
        }
        if f.assignee.is_some() {
            w.push(Walk::Assignee);
        }
        if f.group_id.is_some() {
            w.push(match (f.priority.is_some(), f.states.is_empty()) {
                (true, _) => Walk::GroupPriority,
                (false, false) => Walk::GroupState,
                (false, true) => Walk::Group,
            });
        }
        if !f.states.is_empty() {
            w.push(Walk::State);
        }
        if f.kind.is_some() {
            w.push(Walk::Kind);
        }
        if f.priority.is_some() {
            w.push(Walk::Priority);
        }
        if w.is_empty() {
            w.push(Walk::All);
        }
        w
    }
}

/// Index entries a probe counts at most per branch: enough to tell a short walk from a long one.
const PROBE_CAP: i64 = 1000;

/// Newest first (or oldest first), keyset-paged, never an OFFSET, and never a sort of every
/// matching row: the list walks one index in id order and stops after `limit` rows.
///
/// Which index: on PostgreSQL the planner chooses, from its statistics, for the values bound
/// (each list is planned for its values). SQLite keeps no statistics of how common a value is, so
/// when the filter could walk several indexes the store first counts, for each, up to
/// [`PROBE_CAP`] entries that match its pinned columns — index-only, a fraction of a millisecond —
/// and walks the one that ends soonest (when every one is long: an assignee's or a group's before
/// a requester's), named with `INDEXED BY`. The state is in the group and
/// assignee indexes, so "my new tickets" walks exactly those even when the agent has a long
/// history and none new. Several states (or none, on an index that has the state) are one walk per
/// state, merged by id: a list of every open ticket reads `limit` rows of each open state, where a
/// single `state IN (…)` made SQLite collect every open ticket of a million and sort them.
///
/// A title filter ("contains") has no index: each page looks at the next [`TITLE_WINDOW`] ticket
/// ids of the list's order only (ids are handed out in sequence, so that is at most that many
/// tickets). When the window ends before `limit` tickets matched, the page says where it stopped
/// ([`TicketList::resume_after`]) and the next page goes on from there, so that a word found in
/// no title costs each page a bounded read instead of a million rows.
pub async fn list(conn: &mut Conn<'_>, f: &TicketFilter) -> Result<TicketList> {
    if let Some((key, value)) = &f.answer {
        let sql = answered(conn.engine() == crate::Engine::Sqlite, f, key, value);
        let rows: Vec<TicketView> = crate::fetch_all_sql!(conn, TicketView, &sql)?;
        return Ok(TicketList { rows, resume_after: None });
    }
    if let Some(tag) = &f.tag {
        let sql = tagged(conn.engine() == crate::Engine::Sqlite, f, tag);
        let rows: Vec<TicketView> = crate::fetch_all_sql!(conn, TicketView, &sql)?;
        return Ok(TicketList { rows, resume_after: None });
    }
    let window = match &f.title {
        Some(_) => match title_window(conn, f).await? {
            Some(w) => Some(w),
            None => return Ok(TicketList::default()),
        },
        None => None,
    };
    let (sql, _) = plan(conn, f, window.map(|w| w.ids)).await?;
    let rows: Vec<TicketView> = crate::fetch_all_sql!(conn, TicketView, &sql)?;
    let resume_after = match window {
        Some(w) if (rows.len() as i64) < f.limit && !w.last => Some(if f.ascending { w.ids.1 } else { w.ids.0 }),
        _ => None,
    };
    Ok(TicketList { rows, resume_after })
}

/// The statement [`list`] runs for `f` (after its probe on SQLite), for tests that check its plan.
#[doc(hidden)]
pub async fn list_sql(conn: &mut Conn<'_>, f: &TicketFilter) -> Result<Sql> {
    Ok(plan(conn, f, None).await?.0)
}

/// A list of the tickets with `tag`: the tag's index drives, in id order, and each ticket it
/// names is checked against the other filters.
fn tagged(sqlite: bool, f: &TicketFilter, tag: &str) -> Sql {
    let order = if f.ascending { "ASC" } else { "DESC" };
    let mut sql = Sql::new(SELECT_VIEW);
    let join = if sqlite { "CROSS JOIN" } else { "JOIN" };
    sql.push(&format!(
        " WHERE t.id IN (SELECT tt.ticket_id FROM ticket_tag tt {join} ticket ON ticket.id = tt.ticket_id WHERE tt.tag = "
    ));
    sql.bind_text(tag);
    push_filters(&mut sql, f, None);
    if let Some(title) = &f.title {
        sql.push(" AND LOWER(title) LIKE ").bind_text(like_pattern(title)).push(" ESCAPE '\\'");
    }
    sql.push(" ORDER BY tt.ticket_id ").push(order).push(" LIMIT ").bind_i64(f.limit);
    sql.push(") ORDER BY t.id ").push(order).push(" LIMIT ").bind_i64(f.limit);
    sql
}

/// A list of the catalog requests whose answer to `key` is `value`: the answers' index (question,
/// value, ticket) drives, in id order, and each ticket it names is checked against the other
/// filters (a tag among them).
fn answered(sqlite: bool, f: &TicketFilter, key: &str, value: &str) -> Sql {
    let order = if f.ascending { "ASC" } else { "DESC" };
    let mut sql = Sql::new(SELECT_VIEW);
    let join = if sqlite { "CROSS JOIN" } else { "JOIN" };
    sql.push(&format!(
        " WHERE t.id IN (SELECT a.ticket_id FROM catalog_answer a {join} ticket ON ticket.id = a.ticket_id
           WHERE a.question_key = "
    ));
    sql.bind_text(key).push(" AND a.text_value = ").bind_text(value);
    push_filters(&mut sql, f, None);
    if let Some(tag) = &f.tag {
        sql.push(" AND EXISTS (SELECT 1 FROM ticket_tag tt WHERE tt.ticket_id = a.ticket_id AND tt.tag = ");
        sql.bind_text(tag).push(")");
    }
    if let Some(title) = &f.title {
        sql.push(" AND LOWER(title) LIKE ").bind_text(like_pattern(title)).push(" ESCAPE '\\'");
    }
    sql.push(" ORDER BY a.ticket_id ").push(order).push(" LIMIT ").bind_i64(f.limit);
    sql.push(") ORDER BY t.id ").push(order).push(" LIMIT ").bind_i64(f.limit);
    sql
}

/// `ids`: only tickets with ids in this range (inclusive), the title filter's window.
async fn plan(conn: &mut Conn<'_>, f: &TicketFilter, ids: Option<(i64, i64)>) -> Result<(Sql, Walk)> {
    let sqlite = conn.engine() == crate::Engine::Sqlite;
    let candidates = Walk::candidates(f);
    let walk = if sqlite && candidates.len() > 1 { shortest_walk(conn, f, &candidates).await? } else { candidates[0] };
    let branches = branch_states(f, walk, sqlite);
    let order = if f.ascending { "ASC" } else { "DESC" };
    let mut sql = Sql::new(SELECT_VIEW);
    sql.push(" WHERE t.id IN (");
    for (i, state) in branches.iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        sql.push("SELECT id FROM (SELECT id");
        push_walk(&mut sql, walk, sqlite);
        push_filters(&mut sql, f, state.as_deref());
        if let (Some(title), Some((lo, hi))) = (&f.title, ids) {
            sql.push(" AND id BETWEEN ").bind_i64(lo).push(" AND ").bind_i64(hi);
            sql.push(" AND LOWER(title) LIKE ").bind_text(like_pattern(title)).push(" ESCAPE '\\'");
        }
        sql.push(" ORDER BY id ").push(order).push(" LIMIT ").bind_i64(f.limit).push(&format!(") AS b{i}"));
    }
    sql.push(") ORDER BY t.id ").push(order).push(" LIMIT ").bind_i64(f.limit);
    if !sqlite {
        sql.plan_each_time();
    }
    Ok((sql, walk))
}

/// ` FROM ticket` walking `walk` (named on SQLite), and the start of the conditions.
fn push_walk(sql: &mut Sql, walk: Walk, sqlite: bool) {
    sql.push(" FROM ticket");
    if sqlite {
        match walk {
            Walk::All => sql.push(" NOT INDEXED"),
            w => sql.push(" INDEXED BY ").push(w.index()),
        };
    }
    sql.push(" WHERE 1=1");
}

/// Ticket ids a title filter looks at per page (a few milliseconds on SQLite).
pub const TITLE_WINDOW: i64 = 10_000;

/// A page of a ticket list.
#[derive(Debug, Default)]
pub struct TicketList {
    /// Up to `limit` tickets in the list's order.
    pub rows: Vec<TicketView>,
    /// With fewer than `limit` rows: the id where a bounded read (the title filter's window)
    /// stopped before the end of the list; the next page starts after it.
    pub resume_after: Option<i64>,
}

#[derive(Clone, Copy)]
struct Window {
    /// The ids the page looks at, inclusive.
    ids: (i64, i64),
    /// The window reaches the end of the list.
    last: bool,
}

/// The next [`TITLE_WINDOW`] ids after the cursor in the list's order (`None`: none are left).
/// The first and last ids of the table are the ends of the primary key: no walk.
async fn title_window(conn: &mut Conn<'_>, f: &TicketFilter) -> Result<Option<Window>> {
    // Two subqueries: SQLite reads an end of the key for a lone MIN or MAX, but scans the table
    // for both in one SELECT.
    let ends: Vec<(Option<i64>, Option<i64>)> = crate::fetch_all_sql!(
        conn,
        (Option<i64>, Option<i64>),
        &Sql::new("SELECT (SELECT MIN(id) FROM ticket), (SELECT MAX(id) FROM ticket)")
    )?;
    let Some(&(Some(first), Some(last))) = ends.first() else { return Ok(None) };
    Ok(if f.ascending {
        let lo = f.before_id.map_or(first, |b| b.saturating_add(1)).max(first);
        let hi = lo.saturating_add(TITLE_WINDOW - 1);
        (lo <= last).then_some(Window { ids: (lo, hi), last: hi >= last })
    } else {
        let hi = f.before_id.map_or(last, |b| b.saturating_sub(1)).min(last);
        let lo = hi.saturating_sub(TITLE_WINDOW - 1);
        (hi >= first).then_some(Window { ids: (lo, hi), last: lo <= first })
    })
}

fn like_pattern(text: &str) -> String {
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// The state each branch of `walk` pins (`None`: one branch, the filter's states as they are).
fn branch_states(f: &TicketFilter, walk: Walk, sqlite: bool) -> Vec<Option<String>> {
    // PostgreSQL picks its own index for each branch: a branch per state of a filter without one
    // would only cost it planning time.
    if walk.per_state() && f.states.is_empty() && sqlite {
        orion_domain::ticket::State::ALL.iter().map(|s| Some(s.as_str().to_string())).collect()
    } else if f.states.len() > 1 && (walk.per_state() || !sqlite) {
        f.states.iter().cloned().map(Some).collect()
    } else {
        vec![None]
    }
}

/// Counts, for each candidate walk, the entries of its index that match its pinned columns (up
/// to [`PROBE_CAP`] per branch), in one statement, and gives the walk to take.
async fn shortest_walk(conn: &mut Conn<'_>, f: &TicketFilter, candidates: &[Walk]) -> Result<Walk> {
    let mut sql = Sql::new("");
    for (n, &w) in candidates.iter().enumerate() {
        if n > 0 {
            sql.push(" UNION ALL ");
        }
        sql.push(&format!("SELECT {n}, 0"));
        for state in branch_states(f, w, true) {
            sql.push(" + (SELECT COUNT(*) FROM (SELECT 1");
            push_walk(&mut sql, w, true);
            match w {
                Walk::Requester => push_requester(&mut sql, f),
                Walk::Assignee => push_assignee(&mut sql, f),
                Walk::Group => push_group(&mut sql, f),
                Walk::GroupState => push_group(&mut sql, f),
                Walk::GroupPriority => {
                    push_group(&mut sql, f);
                    push_priority(&mut sql, f);
                }
                Walk::Kind => push_kind(&mut sql, f),
                Walk::Priority => push_priority(&mut sql, f),
                Walk::State | Walk::All => {}
            }
            if w.per_state() {
                push_states(&mut sql, f, state.as_deref());
            }
            push_keyset(&mut sql, f);
            sql.push(" LIMIT ").bind_i64(PROBE_CAP).push(") AS p)");
        }
    }
    let counts: Vec<(i64, i64)> = crate::fetch_all_sql!(conn, (i64, i64), &sql)?;
    // A walk that ends within the cap is short: the shortest of those. When every walk is long,
    // the counts (all at the cap) say nothing, and the candidates' order decides: the assignee
    // and group walks first (a person's or a team's work), a requester's last (a requester with
    // thousands of tickets is a shared account or a monitoring system, whose tickets are
    // everything). Preferring the walk that pins the most columns instead was tried: a group's
    // priority walk, one branch per state, spent 40 ms in branches where the agent had no
    // tickets at all.
    let short = counts.iter().filter(|(_, count)| *count < PROBE_CAP).min_by_key(|(n, count)| (*count, *n));
    let best = match short {
        Some((n, _)) => candidates[usize::try_from(*n).unwrap_or(0)],
        None => candidates.iter().copied().find(|w| *w != Walk::Requester).unwrap_or(candidates[0]),
    };
    Ok(best)
}

/// Every condition of `f` on the unaliased `ticket` table; `state` pins one state for a branch.
fn push_filters(sql: &mut Sql, f: &TicketFilter, state: Option<&str>) {
    push_kind(sql, f);
    push_states(sql, f, state);
    push_priority(sql, f);
    push_group(sql, f);
    push_assignee(sql, f);
    push_requester(sql, f);
    push_keyset(sql, f);
}

fn push_kind(sql: &mut Sql, f: &TicketFilter) {
    if let Some(k) = &f.kind {
        sql.push(" AND kind = ").bind_text(k.clone());
    }
    if f.hide_tasks {
        sql.push(" AND kind <> 'task'");
    }
}

fn push_states(sql: &mut Sql, f: &TicketFilter, state: Option<&str>) {
    match state {
        Some(s) => {
            sql.push(" AND state = ").bind_text(s);
        }
        None if !f.states.is_empty() => {
            sql.push(" AND state IN ").bind_list(&f.states, Bind::Text);
        }
        None => {}
    }
}

fn push_priority(sql: &mut Sql, f: &TicketFilter) {
    if let Some(p) = f.priority {
        sql.push(" AND priority = ").bind_i64(p);
    }
}

fn push_group(sql: &mut Sql, f: &TicketFilter) {
    if let Some(g) = f.group_id {
        sql.push(" AND assignment_group_id = ").bind_i64(g);
    }
}

fn push_assignee(sql: &mut Sql, f: &TicketFilter) {
    match f.assignee {
        Some(AssigneeFilter::Nobody) => {
            sql.push(" AND assignee_id IS NULL");
        }
        Some(AssigneeFilter::User(u)) => {
            sql.push(" AND assignee_id = ").bind_i64(u);
        }
        None => {}
    }
}

fn push_requester(sql: &mut Sql, f: &TicketFilter) {
    if let Some(r) = f.requester_id {
        sql.push(" AND requester_id = ").bind_i64(r);
    }
}

fn push_keyset(sql: &mut Sql, f: &TicketFilter) {
    match (f.before_id, f.ascending) {
        (Some(b), false) => {
            sql.push(" AND id < ").bind_i64(b);
        }
        (Some(b), true) => {
            sql.push(" AND id > ").bind_i64(b);
        }
        (None, _) => {}
    }
}

pub async fn count(conn: &mut Conn<'_>) -> Result<i64> {
    Ok(with_conn!(conn, |c| sqlx::query_scalar("SELECT COUNT(*) FROM ticket").fetch_one(c).await)?)
}

/// The restricted tickets with ids in `lo..=hi` that `user_id` may not see: restricted to a group
/// they are not a member of. One range read of the restricted-ticket index (they are few), so a
/// list or search page of staff can drop them after it was read.
pub async fn hidden_from(conn: &mut Conn<'_>, user_id: i64, (lo, hi): (i64, i64)) -> Result<Vec<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT id FROM ticket WHERE visibility_group_id IS NOT NULL AND id BETWEEN $2 AND $3
               AND visibility_group_id NOT IN (SELECT group_id FROM group_member WHERE user_id = $1)",
        )
        .bind(user_id)
        .bind(lo)
        .bind(hi)
        .fetch_all(c)
        .await
    })?)
}

/// A ticket's tags, in alphabetical order.
pub async fn tags(conn: &mut Conn<'_>, ticket_id: i64) -> Result<Vec<String>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT tag FROM ticket_tag WHERE ticket_id = $1 ORDER BY tag")
            .bind(ticket_id)
            .fetch_all(c)
            .await
    })?)
}

/// Adds tags (already folded) to a ticket; returns those it did not have.
pub async fn add_tags(conn: &mut Conn<'_>, ticket_id: i64, tags: &[String]) -> Result<Vec<String>> {
    let mut added = Vec::new();
    for tag in tags {
        let n = with_conn!(conn, |c| {
            sqlx::query("INSERT INTO ticket_tag (ticket_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(ticket_id)
                .bind(tag)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })?;
        if n > 0 {
            added.push(tag.clone());
        }
    }
    if !added.is_empty() {
        store_tag_list(conn, ticket_id).await?;
    }
    Ok(added)
}

/// Writes a ticket's tags, comma-joined in order, on its row (read with the ticket).
async fn store_tag_list(conn: &mut Conn<'_>, ticket_id: i64) -> Result<()> {
    let list = tags(conn, ticket_id).await?;
    let joined = (!list.is_empty()).then(|| list.join(","));
    with_conn!(conn, |c| {
        sqlx::query("UPDATE ticket SET tags = $2 WHERE id = $1")
            .bind(ticket_id)
            .bind(&joined)
            .execute(c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// Removes one tag from a ticket; false if it did not have it.
pub async fn remove_tag(conn: &mut Conn<'_>, ticket_id: i64, tag: &str) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM ticket_tag WHERE ticket_id = $1 AND tag = $2")
            .bind(ticket_id)
            .bind(tag)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    if n > 0 {
        store_tag_list(conn, ticket_id).await?;
    }
    Ok(n > 0)
}
