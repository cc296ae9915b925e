//! Knowledge-base articles: the current version, every earlier version, workflow
//! events, tags, feedback, attachments, ticket links and suggestion openings.

use crate::sql::{Bind, Sql};
use crate::{Conn, Result, StoreError, with_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ArticleRow {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub body: String,
    pub kind: String,
    pub audience: String,
    pub state: String,
    pub category_id: Option<i64>,
    pub category_path: Option<String>,
    pub tags: String,
    pub owner_id: i64,
    pub owner_name: String,
    pub owner_email: String,
    pub review_by: Option<i64>,
    pub source_ticket_id: Option<i64>,
    pub source_ticket_number: Option<String>,
    pub version: i64,
    pub views: i64,
    pub helpful_yes: i64,
    pub helpful_no: i64,
    pub created_by: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub published_at: Option<i64>,
}

const SELECT_ARTICLE: &str = "SELECT a.id, a.number, a.title, a.body, a.kind, a.audience, a.state, a.category_id,
        c.path AS category_path, a.tags, a.owner_id, o.name AS owner_name, o.email AS owner_email, a.review_by,
        a.source_ticket_id, t.number AS source_ticket_number, a.version, a.views, a.helpful_yes, a.helpful_no,
        a.created_by, a.created_at, a.updated_at, a.published_at
    FROM kb_article a
    JOIN app_user o ON o.id = a.owner_id
    LEFT JOIN category c ON c.id = a.category_id
    LEFT JOIN ticket t ON t.id = a.source_ticket_id";

/// The content fields of an article (one version).
pub struct Content<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub kind: &'a str,
    pub audience: &'a str,
    pub category_id: Option<i64>,
    /// Normalised, comma-separated.
    pub tags: &'a [String],
}

pub struct NewArticle<'a> {
    pub content: Content<'a>,
    pub state: &'a str,
    pub owner_id: i64,
    pub review_by: Option<i64>,
    pub source_ticket_id: Option<i64>,
    pub created_by: i64,
    pub now: i64,
    pub note: &'a str,
}

/// Numbers (`KB` + seven digits) and inserts an article with its first version and tags.
pub async fn create(conn: &mut Conn<'_>, a: &NewArticle<'_>) -> Result<i64> {
    let seq: i64 = with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO ticket_counter (kind, last_value) VALUES ('KB', 1)
             ON CONFLICT (kind) DO UPDATE SET last_value = ticket_counter.last_value + 1 RETURNING last_value",
        )
        .fetch_one(c)
        .await
    })?;
    let number = format!("KB{seq:07}");
    let tags = a.content.tags.join(", ");
    let published_at = (a.state == "published").then_some(a.now);
    let id: i64 = with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO kb_article (number, title, body, kind, audience, state, category_id, tags, owner_id,
                 review_by, source_ticket_id, created_by, created_at, updated_at, published_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14) RETURNING id",
        )
        .bind(&number)
        .bind(a.content.title)
        .bind(a.content.body)
        .bind(a.content.kind)
        .bind(a.content.audience)
        .bind(a.state)
        .bind(a.content.category_id)
        .bind(&tags)
        .bind(a.owner_id)
        .bind(a.review_by)
        .bind(a.source_ticket_id)
        .bind(a.created_by)
        .bind(a.now)
        .bind(published_at)
        .fetch_one(c)
        .await
    })?;
    write_version(conn, id, 1, &a.content, a.created_by, a.now, a.note).await?;
    write_tags(conn, id, a.content.tags).await?;
    index(conn, id, a.content.title, a.content.body, &tags).await?;
    Ok(id)
}

async fn write_version(
    conn: &mut Conn<'_>,
    id: i64,
    version: i64,
    c: &Content<'_>,
    by: i64,
    now: i64,
    note: &str,
) -> Result<()> {
    let tags = c.tags.join(", ");
    with_conn!(conn, |x| {
        sqlx::query(
            "INSERT INTO kb_article_version (article_id, version, title, body, kind, audience, category_id, tags,
                 changed_by, changed_at, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id)
        .bind(version)
        .bind(c.title)
        .bind(c.body)
        .bind(c.kind)
        .bind(c.audience)
        .bind(c.category_id)
        .bind(&tags)
        .bind(by)
        .bind(now)
        .bind(note)
        .execute(x)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

async fn write_tags(conn: &mut Conn<'_>, id: i64, tags: &[String]) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("DELETE FROM kb_tag WHERE article_id = $1").bind(id).execute(c).await.map(|r| r.rows_affected())
    })?;
    for t in tags {
        with_conn!(conn, |c| {
            sqlx::query("INSERT INTO kb_tag (tag, article_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(t)
                .bind(id)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

async fn index(conn: &mut Conn<'_>, id: i64, title: &str, body: &str, tags: &str) -> Result<()> {
    crate::search::write_articles(conn, &[crate::search::ArticleDoc::build(id, title, body, tags)]).await
}

/// Saves new content as the next version if nobody saved one since `expected_version`.
pub async fn update_content(
    conn: &mut Conn<'_>,
    id: i64,
    expected_version: i64,
    content: &Content<'_>,
    by: i64,
    now: i64,
    note: &str,
) -> Result<i64> {
    let tags = content.tags.join(", ");
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE kb_article SET title = $3, body = $4, kind = $5, audience = $6, category_id = $7, tags = $8,
                 updated_at = $9, version = version + 1
             WHERE id = $1 AND version = $2",
        )
        .bind(id)
        .bind(expected_version)
        .bind(content.title)
        .bind(content.body)
        .bind(content.kind)
        .bind(content.audience)
        .bind(content.category_id)
        .bind(&tags)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(StoreError::Stale);
    }
    let version = expected_version + 1;
    write_version(conn, id, version, content, by, now, note).await?;
    write_tags(conn, id, content.tags).await?;
    index(conn, id, content.title, content.body, &tags).await?;
    Ok(version)
}

/// Workflow fields: state, owner, review date.
pub async fn set_workflow(
    conn: &mut Conn<'_>,
    id: i64,
    state: &str,
    owner_id: i64,
    review_by: Option<i64>,
    now: i64,
) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE kb_article SET state = $2, owner_id = $3, review_by = $4, updated_at = $5,
                 published_at = CASE WHEN $2 = 'published' AND state <> 'published' THEN $5 ELSE published_at END
             WHERE id = $1",
        )
        .bind(id)
        .bind(state)
        .bind(owner_id)
        .bind(review_by)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn add_event(
    conn: &mut Conn<'_>,
    id: i64,
    at: i64,
    actor: Option<i64>,
    action: &str,
    note: &str,
) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("INSERT INTO kb_article_event (article_id, at, actor_id, action, note) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(at)
            .bind(actor)
            .bind(action)
            .bind(note)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub at: i64,
    pub actor_name: Option<String>,
    pub action: String,
    pub note: String,
}

pub async fn events(conn: &mut Conn<'_>, id: i64) -> Result<Vec<EventRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT e.at, u.name AS actor_name, e.action, e.note FROM kb_article_event e
             LEFT JOIN app_user u ON u.id = e.actor_id WHERE e.article_id = $1 ORDER BY e.id",
        )
        .bind(id)
        .fetch_all(c)
        .await
    })?)
}

pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<ArticleRow> {
    let mut sql = Sql::new(SELECT_ARTICLE);
    sql.push(" WHERE a.id = ").bind_i64(id);
    crate::fetch_all_sql!(conn, ArticleRow, &sql)?.pop().ok_or(StoreError::NotFound)
}

pub async fn get_by_number(conn: &mut Conn<'_>, number: &str) -> Result<ArticleRow> {
    let mut sql = Sql::new(SELECT_ARTICLE);
    sql.push(" WHERE a.number = ").bind_text(number);
    crate::fetch_all_sql!(conn, ArticleRow, &sql)?.pop().ok_or(StoreError::NotFound)
}

pub async fn get_many(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<ArticleRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(SELECT_ARTICLE);
    sql.push(" WHERE a.id IN ").bind_list(ids, Bind::I64);
    Ok(crate::fetch_all_sql!(conn, ArticleRow, &sql)?)
}

#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    pub states: Vec<String>,
    pub kind: Option<String>,
    pub public_only: bool,
    pub category_id: Option<i64>,
    pub tag: Option<String>,
    pub owner_id: Option<i64>,
    /// Published articles whose review date is before this instant.
    pub review_before: Option<i64>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Newest first, keyset-paged.
pub async fn list(conn: &mut Conn<'_>, f: &ArticleFilter) -> Result<Vec<ArticleRow>> {
    let mut sql = Sql::new(SELECT_ARTICLE);
    sql.push(" WHERE 1=1");
    if !f.states.is_empty() {
        sql.push(" AND a.state IN ").bind_list(&f.states, Bind::Text);
    }
    if f.public_only {
        sql.push(" AND a.state = 'published' AND a.audience = 'public'");
    }
    if let Some(k) = &f.kind {
        sql.push(" AND a.kind = ").bind_text(k.clone());
    }
    if let Some(c) = f.category_id {
        sql.push(" AND a.category_id = ").bind_i64(c);
    }
    if let Some(t) = &f.tag {
        sql.push(" AND a.id IN (SELECT article_id FROM kb_tag WHERE tag = ").bind_text(t.clone()).push(")");
    }
    if let Some(o) = f.owner_id {
        sql.push(" AND a.owner_id = ").bind_i64(o);
    }
    if let Some(r) = f.review_before {
        sql.push(" AND a.state = 'published' AND a.review_by < ").bind_i64(r);
    }
    if let Some(b) = f.before_id {
        sql.push(" AND a.id < ").bind_i64(b);
    }
    sql.push(" ORDER BY a.id DESC LIMIT ").bind_i64(f.limit);
    Ok(crate::fetch_all_sql!(conn, ArticleRow, &sql)?)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VersionRow {
    pub version: i64,
    pub title: String,
    pub body: String,
    pub kind: String,
    pub audience: String,
    pub category_id: Option<i64>,
    pub tags: String,
    pub changed_by_name: String,
    pub changed_at: i64,
    pub note: String,
}

/// Every version, newest first.
pub async fn versions(conn: &mut Conn<'_>, id: i64) -> Result<Vec<VersionRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT v.version, v.title, v.body, v.kind, v.audience, v.category_id, v.tags,
                    u.name AS changed_by_name, v.changed_at, v.note
             FROM kb_article_version v JOIN app_user u ON u.id = v.changed_by
             WHERE v.article_id = $1 ORDER BY v.version DESC",
        )
        .bind(id)
        .fetch_all(c)
        .await
    })?)
}

/// Records one person's answer (replacing an earlier one) and recounts the article's totals.
pub async fn feedback(
    conn: &mut Conn<'_>,
    id: i64,
    user_id: i64,
    helpful: bool,
    comment: &str,
    now: i64,
) -> Result<(i64, i64)> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO kb_feedback (article_id, user_id, helpful, comment, at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (article_id, user_id) DO UPDATE SET helpful = EXCLUDED.helpful, comment = EXCLUDED.comment,
                 at = EXCLUDED.at",
        )
        .bind(id)
        .bind(user_id)
        .bind(helpful)
        .bind(comment)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    let counts: (i64, i64) = with_conn!(conn, |c| {
        sqlx::query_as(
            "UPDATE kb_article SET
                 helpful_yes = (SELECT COUNT(*) FROM kb_feedback WHERE article_id = $1 AND helpful),
                 helpful_no = (SELECT COUNT(*) FROM kb_feedback WHERE article_id = $1 AND NOT helpful)
             WHERE id = $1 RETURNING helpful_yes, helpful_no",
        )
        .bind(id)
        .fetch_one(c)
        .await
    })?;
    Ok(counts)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FeedbackRow {
    pub user_name: Option<String>,
    pub helpful: bool,
    pub comment: String,
    pub at: i64,
}

/// The latest answers that came with a comment.
pub async fn feedback_comments(conn: &mut Conn<'_>, id: i64, limit: i64) -> Result<Vec<FeedbackRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT u.name AS user_name, f.helpful, f.comment, f.at FROM kb_feedback f
             LEFT JOIN app_user u ON u.id = f.user_id
             WHERE f.article_id = $1 AND f.comment <> '' ORDER BY f.at DESC LIMIT $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(c)
        .await
    })?)
}

pub async fn count_view(conn: &mut Conn<'_>, id: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query("UPDATE kb_article SET views = views + 1 WHERE id = $1")
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttachmentRow {
    pub id: i64,
    pub article_id: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

pub struct NewAttachment<'a> {
    pub article_id: i64,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub sha256: &'a str,
    pub by: i64,
    pub now: i64,
}

pub async fn add_attachment(conn: &mut Conn<'_>, a: &NewAttachment<'_>) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO kb_attachment (article_id, filename, content_type, size, sha256, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(a.article_id)
        .bind(a.filename)
        .bind(a.content_type)
        .bind(a.size)
        .bind(a.sha256)
        .bind(a.by)
        .bind(a.now)
        .fetch_one(c)
        .await
    })?)
}

pub async fn attachments(conn: &mut Conn<'_>, article_id: i64) -> Result<Vec<AttachmentRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT id, article_id, filename, content_type, size, sha256 FROM kb_attachment
             WHERE article_id = $1 ORDER BY id",
        )
        .bind(article_id)
        .fetch_all(c)
        .await
    })?)
}

pub async fn attachment(conn: &mut Conn<'_>, id: i64) -> Result<AttachmentRow> {
    with_conn!(conn, |c| {
        sqlx::query_as("SELECT id, article_id, filename, content_type, size, sha256 FROM kb_attachment WHERE id = $1")
            .bind(id)
            .fetch_optional(c)
            .await
    })?
    .ok_or(StoreError::NotFound)
}

/// Links an article to a ticket; false when it already was.
pub async fn link_ticket(conn: &mut Conn<'_>, ticket_id: i64, article_id: i64, by: i64, now: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO ticket_article (ticket_id, article_id, linked_by, linked_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(ticket_id)
        .bind(article_id)
        .bind(by)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

pub async fn unlink_ticket(conn: &mut Conn<'_>, ticket_id: i64, article_id: i64) -> Result<bool> {
    let n = with_conn!(conn, |c| {
        sqlx::query("DELETE FROM ticket_article WHERE ticket_id = $1 AND article_id = $2")
            .bind(ticket_id)
            .bind(article_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// Ids of the articles linked to a ticket, oldest link first.
pub async fn linked_articles(conn: &mut Conn<'_>, ticket_id: i64) -> Result<Vec<i64>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT article_id FROM ticket_article WHERE ticket_id = $1 ORDER BY linked_at, article_id")
            .bind(ticket_id)
            .fetch_all(c)
            .await
    })?)
}

/// How many tickets an article is linked to.
pub async fn link_count(conn: &mut Conn<'_>, article_id: i64) -> Result<i64> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM ticket_article WHERE article_id = $1")
            .bind(article_id)
            .fetch_one(c)
            .await
    })?)
}

/// A requester opened a suggested article while writing a ticket.
pub async fn record_open(conn: &mut Conn<'_>, draft_key: &str, user_id: i64, article_id: i64, now: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO kb_suggestion_open (draft_key, user_id, article_id, opened_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(draft_key)
        .bind(user_id)
        .bind(article_id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The ticket written with that form was submitted after all: its openings did not deflect it.
pub async fn record_submitted(conn: &mut Conn<'_>, draft_key: &str, user_id: i64, ticket_id: i64) -> Result<()> {
    with_conn!(conn, |c| {
        sqlx::query(
            "UPDATE kb_suggestion_open SET ticket_id = $3 WHERE draft_key = $1 AND user_id = $2 AND ticket_id IS NULL",
        )
        .bind(draft_key)
        .bind(user_id)
        .bind(ticket_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeflectionRow {
    pub article_id: i64,
    pub number: String,
    pub title: String,
    /// Forms in which the article was opened.
    pub opened: i64,
    /// Of those, forms that were submitted anyway.
    pub submitted: i64,
}

/// Per article: suggestion openings between `from` and `to` (forms, not clicks) and how many of
/// those forms were submitted anyway. The caller ends the window a while before now, so a
/// requester still reading is not yet counted as deflected.
pub async fn deflections(conn: &mut Conn<'_>, from: i64, to: i64) -> Result<Vec<DeflectionRow>> {
    Ok(with_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT a.id AS article_id, a.number, a.title,
                    COUNT(DISTINCT s.draft_key) AS opened,
                    COUNT(DISTINCT CASE WHEN s.ticket_id IS NOT NULL THEN s.draft_key END) AS submitted
             FROM kb_suggestion_open s JOIN kb_article a ON a.id = s.article_id
             WHERE s.opened_at >= $1 AND s.opened_at < $2
             GROUP BY a.id, a.number, a.title ORDER BY opened DESC, a.id LIMIT 200",
        )
        .bind(from)
        .bind(to)
        .fetch_all(c)
        .await
    })?)
}

/// The largest article id (0 without articles): the end of a reindex.
pub async fn max_id(conn: &mut Conn<'_>) -> Result<i64> {
    let v: Option<i64> = with_conn!(conn, |c| sqlx::query_scalar("SELECT MAX(id) FROM kb_article").fetch_one(c).await)?;
    Ok(v.unwrap_or(0))
}

/// Index documents of the articles with ids in `from..=to`.
pub async fn docs(conn: &mut Conn<'_>, from: i64, to: i64) -> Result<Vec<crate::search::ArticleDoc>> {
    let rows: Vec<(i64, String, String, String)> = with_conn!(conn, |c| {
        sqlx::query_as("SELECT id, title, body, tags FROM kb_article WHERE id BETWEEN $1 AND $2 ORDER BY id")
            .bind(from)
            .bind(to)
            .fetch_all(c)
            .await
    })?;
    Ok(rows.iter().map(|(id, t, b, g)| crate::search::ArticleDoc::build(*id, t, b, g)).collect())
}
