//! The full-text indexes of tickets and articles, one small module per engine
//! where they differ: FTS5 on SQLite, tsvector + GIN on PostgreSQL.
//!
//! Both index the words `orion_domain::search` folds, so both engines find the
//! same things. Rows are written in the caller's transaction: a ticket is
//! findable the moment its write commits, and never before.

use crate::sql::{Bind, Sql};
use crate::{Conn, Result, with_conn};
use orion_domain::search::{Query, index_text};

/// The folded text of one ticket, by who may see it.
#[derive(Debug, Clone, Default)]
pub struct TicketDoc {
    pub id: i64,
    pub requester_id: i64,
    pub title: String,
    pub public_text: String,
    pub internal_text: String,
}

impl TicketDoc {
    /// Folds the source text: title, description and public entries, internal entries.
    pub fn build<'a>(
        id: i64,
        requester_id: i64,
        title: &str,
        description: &str,
        resolution: &str,
        entries: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> TicketDoc {
        let mut public = index_text(description);
        let mut internal = String::new();
        let push = |to: &mut String, text: &str| {
            let t = index_text(text);
            if !t.is_empty() {
                if !to.is_empty() {
                    to.push(' ');
                }
                to.push_str(&t);
            }
        };
        push(&mut public, resolution);
        for (visibility, body) in entries {
            if visibility == "public" {
                push(&mut public, body);
            } else {
                push(&mut internal, body);
            }
        }
        TicketDoc { id, requester_id, title: index_text(title), public_text: public, internal_text: internal }
    }
}

/// Writes (or replaces) the index rows of `docs`. In a write transaction they are kept until its
/// commit and written then, in one statement (see [`write_tickets_now`]); on any other connection,
/// at once.
pub async fn write_tickets(conn: &mut Conn<'_>, docs: Vec<TicketDoc>) -> Result<()> {
    if docs.is_empty() {
        return Ok(());
    }
    match conn.defer_search(docs) {
        None => Ok(()),
        Some(docs) => write_tickets_now(conn, docs).await,
    }
}

/// Writes the index rows of `docs`, the last document of a ticket winning, in one statement.
///
/// A write transaction calls this just before it commits, for every document written in it.
/// SQLite's FTS5 flushes what it holds in memory to a new segment at the start of every later
/// statement of the transaction (a statement savepoint), so rows written as they come cost a
/// segment, and soon a merge, per ticket; written last, a batch of tickets makes one segment.
pub(crate) async fn write_tickets_now(conn: &mut Conn<'_>, mut docs: Vec<TicketDoc>) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    docs.reverse();
    docs.retain(|d| seen.insert(d.id));
    docs.reverse();
    match &mut conn.link {
        crate::Link::Sqlite(c) => {
            // One statement however many documents: they travel as one JSON array.
            let rows: Vec<serde_json::Value> = docs
                .iter()
                .map(|d| serde_json::json!([d.id, d.title, d.public_text, d.internal_text, d.requester_id]))
                .collect();
            sqlx::query(
                "INSERT OR REPLACE INTO fts_ticket (rowid, title, public_text, internal_text, owner)
                 SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, 'u' || (value ->> 4)
                 FROM json_each($1)",
            )
            .bind(serde_json::Value::Array(rows).to_string())
            .execute(&mut **c)
            .await?;
        }
        crate::Link::Postgres(c) => {
            let ids: Vec<i64> = docs.iter().map(|d| d.id).collect();
            let requesters: Vec<i64> = docs.iter().map(|d| d.requester_id).collect();
            let titles: Vec<&str> = docs.iter().map(|d| d.title.as_str()).collect();
            let public: Vec<&str> = docs.iter().map(|d| d.public_text.as_str()).collect();
            let internal: Vec<&str> = docs.iter().map(|d| d.internal_text.as_str()).collect();
            // all_tsv also carries marker lexemes (see `pg_ticket_hits`): the requester and the
            // id blocks. Folded words are letters and digits, so no word can equal a marker.
            sqlx::query(
                "INSERT INTO fts_ticket (ticket_id, all_tsv, public_tsv)
                 SELECT u.id, p.v || setweight(to_tsvector('simple', u.i), 'C')
                              || array_to_tsvector(ARRAY['!u' || u.r, '!a' || (u.id >> 13), '!b' || (u.id >> 16),
                                                         '!c' || (u.id >> 19), '!d' || (u.id >> 22)]), p.v
                 FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS u(id, t, p, i, r),
                      LATERAL (SELECT setweight(to_tsvector('simple', u.t), 'A')
                                   || setweight(to_tsvector('simple', u.p), 'B') AS v) p
                 ON CONFLICT (ticket_id) DO UPDATE SET all_tsv = EXCLUDED.all_tsv, public_tsv = EXCLUDED.public_tsv",
            )
            .bind(&ids)
            .bind(&titles)
            .bind(&public)
            .bind(&internal)
            .bind(&requesters)
            .execute(&mut **c)
            .await?;
        }
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct TicketSource {
    id: i64,
    requester_id: i64,
    kind: String,
    title: String,
    description: String,
    resolution_notes: Option<String>,
}

#[derive(sqlx::FromRow)]
struct EntrySource {
    ticket_id: i64,
    visibility: String,
    body: String,
}

/// Builds the index documents of the tickets with ids in `from..=to` from their stored text.
pub async fn ticket_docs(conn: &mut Conn<'_>, from: i64, to: i64) -> Result<Vec<TicketDoc>> {
    let tickets: Vec<TicketSource> = with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT id, requester_id, kind, title, description, resolution_notes FROM ticket
             WHERE id BETWEEN $1 AND $2 ORDER BY id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(c)
        .await
    })?;
    let entries: Vec<EntrySource> = with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT ticket_id, visibility, body FROM timeline_entry
             WHERE ticket_id BETWEEN $1 AND $2 AND body <> '' ORDER BY ticket_id, id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(c)
        .await
    })?;
    // A catalog request's answers are found like what its requester wrote (public text). Only
    // service requests have answers: a comment on an incident reads no more than before.
    let any_requests = tickets.iter().any(|t| t.kind == "service_request");
    let answers: Vec<EntrySource> = if !any_requests {
        Vec::new()
    } else {
        with_conn!(conn, |c| {
            sqlx::query_as(
                "SELECT ticket_id, 'public' AS visibility, text_value AS body FROM catalog_answer
             WHERE ticket_id BETWEEN $1 AND $2 AND text_value <> '' ORDER BY ticket_id, question_key, n",
            )
            .bind(from)
            .bind(to)
            .fetch_all(c)
            .await
        })?
    };
    let (mut at, mut ans) = (0, 0);
    let mut docs = Vec::with_capacity(tickets.len());
    for t in &tickets {
        while at < entries.len() && entries[at].ticket_id < t.id {
            at += 1;
        }
        let start = at;
        while at < entries.len() && entries[at].ticket_id == t.id {
            at += 1;
        }
        while ans < answers.len() && answers[ans].ticket_id < t.id {
            ans += 1;
        }
        let first_answer = ans;
        while ans < answers.len() && answers[ans].ticket_id == t.id {
            ans += 1;
        }
        let mine = answers[first_answer..ans]
            .iter()
            .chain(&entries[start..at])
            .map(|e| (e.visibility.as_str(), e.body.as_str()));
        docs.push(TicketDoc::build(
            t.id,
            t.requester_id,
            &t.title,
            &t.description,
            t.resolution_notes.as_deref().unwrap_or(""),
            mine,
        ));
    }
    Ok(docs)
}

/// Rebuilds one ticket's index row from what is stored, in the caller's transaction.
pub async fn index_ticket(conn: &mut Conn<'_>, ticket_id: i64) -> Result<()> {
    let docs = ticket_docs(conn, ticket_id, ticket_id).await?;
    write_tickets(conn, docs).await
}

/// One article's folded text.
#[derive(Debug, Clone, Default)]
pub struct ArticleDoc {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub tags: String,
}

impl ArticleDoc {
    pub fn build(id: i64, title: &str, body: &str, tags: &str) -> ArticleDoc {
        ArticleDoc { id, title: index_text(title), body: index_text(body), tags: index_text(tags) }
    }
}

pub async fn write_articles(conn: &mut Conn<'_>, docs: &[ArticleDoc]) -> Result<()> {
    match &mut conn.link {
        crate::Link::Sqlite(c) => {
            for d in docs {
                sqlx::query("INSERT OR REPLACE INTO fts_article (rowid, title, body, tags) VALUES ($1, $2, $3, $4)")
                    .bind(d.id)
                    .bind(&d.title)
                    .bind(&d.body)
                    .bind(&d.tags)
                    .execute(&mut **c)
                    .await?;
            }
        }
        crate::Link::Postgres(c) => {
            for d in docs {
                sqlx::query(
                    "INSERT INTO fts_article (article_id, tsv)
                     VALUES ($1, setweight(to_tsvector('simple', $2), 'A') || setweight(to_tsvector('simple', $4), 'B')
                                 || setweight(to_tsvector('simple', $3), 'C'))
                     ON CONFLICT (article_id) DO UPDATE SET tsv = EXCLUDED.tsv",
                )
                .bind(d.id)
                .bind(&d.title)
                .bind(&d.body)
                .bind(&d.tags)
                .execute(&mut **c)
                .await?;
            }
        }
    }
    Ok(())
}

/// Who is searching tickets, which decides what text may match.
#[derive(Debug, Clone, Copy)]
pub enum TicketScope {
    /// Staff: every ticket, internal notes included.
    Staff,
    /// A requester: only their own tickets, only public text.
    Requester(i64),
}

/// Filters that narrow a ticket search; all are checked inside the query.
#[derive(Debug, Clone, Default)]
pub struct TicketSearchFilter {
    pub kind: Option<String>,
    pub states: Vec<String>,
    pub group_id: Option<i64>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    /// Only tickets with an id below this (newest-first keyset paging).
    pub before_id: Option<i64>,
}

impl TicketSearchFilter {
    /// Does it filter nothing (beyond the keyset cursor)?
    pub fn is_empty(&self) -> bool {
        self.kind.is_none()
            && self.states.is_empty()
            && self.group_id.is_none()
            && self.created_from.is_none()
            && self.created_to.is_none()
    }
}

/// A matching ticket id and its relevance (higher is better; engine-specific scale).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Hit {
    pub id: i64,
    pub score: f64,
}

fn ticket_filters(sql: &mut Sql, f: &TicketSearchFilter, scope: TicketScope) {
    if let TicketScope::Requester(r) = scope {
        // A fulfilment task is the desk's own work: its requester follows the request instead.
        sql.push(" AND t.requester_id = ").bind_i64(r).push(" AND t.kind <> 'task'");
    }
    if let Some(k) = &f.kind {
        sql.push(" AND t.kind = ").bind_text(k.clone());
    }
    if !f.states.is_empty() {
        sql.push(" AND t.state IN ").bind_list(&f.states, Bind::Text);
    }
    if let Some(g) = f.group_id {
        sql.push(" AND t.assignment_group_id = ").bind_i64(g);
    }
    if let Some(from) = f.created_from {
        sql.push(" AND t.created_at >= ").bind_i64(from);
    }
    if let Some(to) = f.created_to {
        sql.push(" AND t.created_at < ").bind_i64(to);
    }
}

/// The newest `cap` tickets matching `q` within `scope` and `f`, each with its relevance.
/// Newest first; the caller ranks them. Bounding the candidates keeps a one-word query
/// that matches a tenth of a million tickets as fast as a rare one.
pub async fn ticket_hits(
    conn: &mut Conn<'_>,
    q: &Query,
    scope: TicketScope,
    f: &TicketSearchFilter,
    cap: i64,
) -> Result<Vec<Hit>> {
    if conn.engine() == crate::Engine::Postgres {
        return pg_ticket_hits(conn, q, scope, f, cap).await;
    }
    // SQLite. CROSS JOIN fixes the join order: the index drives, newest match first, so LIMIT
    // stops the scan and bm25 is computed only for rows that pass the filters. A requester's
    // query also matches their `owner` token, so the index intersects with their tickets.
    let expr = match scope {
        TicketScope::Staff => q.to_fts5(Some("title public_text internal_text")),
        TicketScope::Requester(r) => format!("({}) AND {{owner}} : \"u{r}\"", q.to_fts5(Some("title public_text"))),
    };
    // Filters that leave few tickets (the known errors: problems in one phase) drive from the
    // tickets instead, each looked up in the index by its rowid: walking every match of a common
    // word to find the few problems among them took 70 ms at a million tickets.
    let few = !f.is_empty()
        && crate::sql::fewer_than(conn, FEW_TICKETS, |probe| {
            probe.push("SELECT 1 FROM ticket t WHERE 1=1");
            ticket_filters(probe, f, scope);
            if let Some(b) = f.before_id {
                probe.push(" AND t.id < ").bind_i64(b);
            }
        })
        .await?;
    let mut sql = Sql::new(if few {
        "SELECT fts_ticket.rowid AS id, -bm25(fts_ticket, 4.0, 1.0, 0.7, 0.0) AS score
         FROM ticket t CROSS JOIN fts_ticket ON fts_ticket.rowid = t.id WHERE fts_ticket MATCH "
    } else {
        "SELECT fts_ticket.rowid AS id, -bm25(fts_ticket, 4.0, 1.0, 0.7, 0.0) AS score
         FROM fts_ticket CROSS JOIN ticket t ON t.id = fts_ticket.rowid WHERE fts_ticket MATCH "
    });
    sql.bind_text(expr);
    ticket_filters(&mut sql, f, scope);
    if let Some(b) = f.before_id {
        sql.push(" AND fts_ticket.rowid < ").bind_i64(b);
    }
    sql.push(" ORDER BY fts_ticket.rowid DESC LIMIT ").bind_i64(cap);
    Ok(crate::fetch_all_sql!(conn, Hit, &sql)?)
}

/// Below this many tickets passing a search's filters, SQLite looks each of them up in the index.
const FEW_TICKETS: i64 = 2_000;

/// The id blocks PostgreSQL marks in each ticket's `all_tsv`: the marker `!a<id >> 13>` names
/// its block of 8,192 ids, `!b<id >> 16>` its block of 65,536, `!c…` 524,288, `!d…` 4,194,304.
/// `write_tickets` and migration 0015 write the same markers.
const PG_BLOCKS: [(char, u32); 4] = [('a', 13), ('b', 16), ('c', 19), ('d', 22)];

/// PostgreSQL: the newest `cap` matches.
///
/// GIN answers "which rows match" but not "the newest of them": a query of common words would
/// fetch and sort every match to keep the newest `cap` (0.2 s for three words at a million
/// tickets), and walking the primary key newest first reads the whole table when the words are
/// rare. So the search goes back in steps. Each step looks at a range of ids: the two newest
/// blocks of 8,192, then the two blocks of 65,536 below, and so on (`PG_BLOCKS`). Its query
/// bounds the ids *and* ANDs the two blocks' marker lexemes — which no folded word can equal —
/// into the words, so whichever plan PostgreSQL picks for the words it knows (walking the key
/// for common words, the index for rare ones) reads only that range. After each step, if the
/// matches seen so far say only a few are left below, one index query takes them all. A
/// requester's tickets carry their marker (`!u7`): their search is one index query that
/// intersects the words with it.
///
/// Queries are planned for their values each time (`Sql::plan_each_time`): a generic plan
/// cannot know whether the words are common.
async fn pg_ticket_hits(
    conn: &mut Conn<'_>,
    q: &Query,
    scope: TicketScope,
    f: &TicketSearchFilter,
    cap: i64,
) -> Result<Vec<Hit>> {
    if let TicketScope::Requester(r) = scope {
        let range = f.before_id.map(|b| (0, b));
        return pg_ticket_query(conn, q, scope, f, cap, Some(format!("'!u{r}'")), range).await;
    }
    // Ids below `pos` are still to be searched; the `seen` ids above it held `found` matches.
    let mut pos = match f.before_id {
        Some(b) => b,
        None => max_ticket_id(conn).await? + 1,
    };
    let (mut seen, mut found) = (0i64, 0i64);
    let mut hits: Vec<Hit> = Vec::new();
    for (letter, shift) in PG_BLOCKS {
        if pos <= 1 || hits.len() as i64 >= cap {
            return Ok(hits);
        }
        if seen > 0 && found * pos <= 4 * cap * seen {
            break;
        }
        let block = (pos - 1) >> shift;
        let (markers, from) = if block > 0 {
            (format!("'!{letter}{block}' | '!{letter}{}'", block - 1), (block - 1) << shift)
        } else {
            (format!("'!{letter}0'"), 0)
        };
        let got = pg_ticket_query(conn, q, scope, f, cap - hits.len() as i64, Some(markers), Some((from, pos))).await?;
        found += got.len() as i64;
        seen += pos - from;
        pos = from;
        hits.extend(got);
    }
    if pos > 1 && (hits.len() as i64) < cap {
        hits.extend(pg_ticket_query(conn, q, scope, f, cap - hits.len() as i64, None, Some((0, pos))).await?);
    }
    Ok(hits)
}

/// One PostgreSQL ticket query, newest first: matches of `q` that also match `markers` (a
/// tsquery of marker lexemes), with ids in `range` (from, below; the callers keep it below
/// `f.before_id`). Without block markers only `below` counts, checked row by row.
async fn pg_ticket_query(
    conn: &mut Conn<'_>,
    q: &Query,
    scope: TicketScope,
    f: &TicketSearchFilter,
    cap: i64,
    markers: Option<String>,
    range: Option<(i64, i64)>,
) -> Result<Vec<Hit>> {
    // A requester's words are matched against the public text only; the marker narrows the
    // index scan to their tickets, and `t.requester_id` (from `ticket_filters`) is the check.
    let (column, public) = match scope {
        TicketScope::Staff => ("f.all_tsv", false),
        TicketScope::Requester(_) => ("f.public_tsv", true),
    };
    // Without a filter or a requester to check, the ticket rows are not needed.
    let join =
        if matches!(scope, TicketScope::Staff) && f.is_empty() { "" } else { "JOIN ticket t ON t.id = f.ticket_id" };
    // The rank is computed outside, for the rows kept only, not for every match sorted.
    let mut sql = Sql::new("SELECT s.id, ts_rank(s.v, to_tsquery('simple', ");
    sql.bind_text(q.to_tsquery());
    sql.push(&format!("))::float8 AS score FROM (SELECT f.ticket_id AS id, {column} AS v FROM fts_ticket f {join} "));
    // For a requester, the index of all the text is only a sieve: it is asked for the wanted
    // words (which public text also holds) and their marker, never for exclusions, which the
    // internal text would answer. The whole query is then applied to the public text alone.
    let sieve = if public { q.wanted().to_tsquery() } else { q.to_tsquery() };
    sql.push("WHERE f.all_tsv @@ (to_tsquery('simple', ").bind_text(sieve).push(")");
    // Block markers come with a lower bound; a requester's marker does not.
    let bounded = markers.is_some() && matches!(scope, TicketScope::Staff);
    if let Some(m) = markers {
        sql.push(" && ").bind_text(m).push("::tsquery");
    }
    sql.push(")");
    if public {
        sql.push(" AND f.public_tsv @@ to_tsquery('simple', ").bind_text(q.to_tsquery()).push(")");
    }
    ticket_filters(&mut sql, f, scope);
    // `+ 0` keeps the primary key out of unbounded plans: walking it newest first looking for
    // rare matches is the plan that reads the whole table.
    let key = if bounded { "f.ticket_id" } else { "f.ticket_id + 0" };
    if let Some((from, below)) = range {
        sql.push(&format!(" AND {key} < ")).bind_i64(below);
        if bounded {
            sql.push(" AND f.ticket_id >= ").bind_i64(from);
        }
    }
    sql.push(&format!(" ORDER BY {key} DESC LIMIT ")).bind_i64(cap);
    sql.push(") s").plan_each_time();
    Ok(crate::fetch_all_sql!(conn, Hit, &sql)?)
}

/// Who is searching articles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArticleScope {
    /// Staff: every audience; states as filtered.
    Staff,
    /// Requesters and suggestions on the portal: published public articles only.
    Public,
}

#[derive(Debug, Clone, Default)]
pub struct ArticleSearchFilter {
    pub kind: Option<String>,
    pub states: Vec<String>,
    pub category_id: Option<i64>,
    pub before_id: Option<i64>,
}

/// The newest `cap` articles matching `q`, with relevance.
pub async fn article_hits(
    conn: &mut Conn<'_>,
    q: &Query,
    scope: ArticleScope,
    f: &ArticleSearchFilter,
    cap: i64,
) -> Result<Vec<Hit>> {
    let mut sql;
    let (id_col, order, end) = match conn.engine() {
        crate::Engine::Sqlite => {
            sql = Sql::new(
                "SELECT fts_article.rowid AS id, -bm25(fts_article, 4.0, 1.0, 2.0) AS score
                 FROM fts_article CROSS JOIN kb_article a ON a.id = fts_article.rowid WHERE fts_article MATCH ",
            );
            sql.bind_text(q.to_fts5(None));
            ("fts_article.rowid", " ORDER BY fts_article.rowid DESC LIMIT ", "")
        }
        crate::Engine::Postgres => {
            // Ranked outside, for the rows kept only: an article's tsvector is long, and
            // ranking every match before the sort cost 15–90 ms.
            sql = Sql::new("SELECT s.id, ts_rank(s.v, to_tsquery('simple', ");
            sql.bind_text(q.to_tsquery());
            sql.push(
                "))::float8 AS score FROM (SELECT f.article_id AS id, f.tsv AS v
                 FROM fts_article f JOIN kb_article a ON a.id = f.article_id WHERE f.tsv @@ to_tsquery('simple', ",
            );
            sql.bind_text(q.to_tsquery()).push(")");
            ("f.article_id", " ORDER BY f.article_id DESC LIMIT ", ") s")
        }
    };
    if scope == ArticleScope::Public {
        sql.push(" AND a.state = 'published' AND a.audience = 'public'");
    }
    if let Some(k) = &f.kind {
        sql.push(" AND a.kind = ").bind_text(k.clone());
    }
    if !f.states.is_empty() {
        sql.push(" AND a.state IN ").bind_list(&f.states, Bind::Text);
    }
    if let Some(c) = f.category_id {
        sql.push(" AND a.category_id = ").bind_i64(c);
    }
    if let Some(b) = f.before_id {
        sql.push(&format!(" AND {id_col} < ")).bind_i64(b);
    }
    sql.push(order).bind_i64(cap).push(end).plan_each_time();
    Ok(crate::fetch_all_sql!(conn, Hit, &sql)?)
}

/// Visible text entries of some tickets, for snippets: (ticket id, visibility, body), oldest first.
pub async fn entry_texts(conn: &mut Conn<'_>, ids: &[i64], internal: bool) -> Result<Vec<(i64, String, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT ticket_id, visibility, body FROM timeline_entry WHERE ticket_id IN ");
    sql.bind_list(ids, Bind::I64).push(" AND body <> ''");
    if !internal {
        sql.push(" AND visibility = 'public'");
    }
    sql.push(" ORDER BY ticket_id, id");
    Ok(crate::fetch_all_sql!(conn, (i64, String, String), &sql)?)
}

/// The largest ticket id (0 without tickets): the end of a reindex.
pub async fn max_ticket_id(conn: &mut Conn<'_>) -> Result<i64> {
    let v: Option<i64> = with_conn!(conn, |c| sqlx::query_scalar("SELECT MAX(id) FROM ticket").fetch_one(c).await)?;
    Ok(v.unwrap_or(0))
}
