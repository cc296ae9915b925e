//! The knowledge base: articles written in Markdown, reviewed and published,
//! every version kept, read by agents and (when public) by requesters.

use crate::kernel::error::collect;
use crate::kernel::error::invalid;
use crate::kernel::paging::{keyset_cursor, parse_cursor, parse_limit};
use crate::kernel::uploads::{Upload, check_uploads};
use crate::{App, AppError, AppResult, Page};
use orion_domain::{Actor, FieldErrors, Timestamp};
use orion_store::kb::{self, ArticleFilter, ArticleRow, Content};
use orion_store::{Conn, StoreError, categories, users};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

mod attachments;
mod feedback;
mod history;

crate::api_schema::one_of_values!(audiences, audiences_exact: AUDIENCES);
crate::api_schema::one_of_values!(article_states, article_states_exact: STATES);

pub const TITLE_MAX: usize = 200;
pub const BODY_MAX: usize = 200_000;
pub const TAGS_MAX: usize = 20;
pub const TAG_MAX: usize = 40;
/// A published article without a review date is due for review this long after publication.
pub const DEFAULT_REVIEW_DAYS: i64 = 365;
const DAY_MS: i64 = 86_400_000;

/// The types of article the service desk writes.
pub const KINDS: &[(&str, &str)] = &[
    ("howto", "How-to / user guide"),
    ("faq", "FAQ"),
    ("known_error", "Known error"),
    ("runbook", "Troubleshooting runbook"),
    ("training", "Training material"),
];
pub const AUDIENCES: &[&str] = &["internal", "public"];
pub const STATES: &[&str] = &["draft", "review", "published", "retired"];

/// An article as its readers see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Article {
    /// e.g. `KB0000042`
    pub number: String,
    pub title: String,
    /// Markdown source
    pub body: String,
    /// The body rendered to sanitised HTML
    pub body_html: String,
    /// `howto`, `faq`, `known_error`, `runbook` or `training`
    pub kind: String,
    /// `internal` (agents only) or `public` (the portal too)
    pub audience: String,
    /// `draft`, `review`, `published` or `retired`
    pub state: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub owner_email: String,
    pub owner_name: String,
    /// The date by which the owner should check it is still right
    pub review_by: Option<String>,
    /// Published and past its review date
    pub stale: bool,
    /// The resolved ticket it was written from
    pub source_ticket: Option<String>,
    pub version: i64,
    pub views: i64,
    pub helpful_yes: i64,
    pub helpful_no: i64,
    pub created_at: String,
    pub updated_at: String,
    pub published_at: Option<String>,
    pub attachments: Vec<ArticleAttachment>,
}

/// An article in a list: everything but the body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ArticleSummary {
    pub number: String,
    pub title: String,
    pub kind: String,
    pub audience: String,
    pub state: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub owner_name: String,
    pub review_by: Option<String>,
    pub stale: bool,
    pub version: i64,
    pub views: i64,
    pub helpful_yes: i64,
    pub helpful_no: i64,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ArticleAttachment {
    pub id: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    /// Download path
    pub url: String,
}

/// A new article, or new content for one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleInput {
    #[schema(min_length = 1, pattern = "\\S")]
    pub title: String,
    /// Markdown
    #[schema(min_length = 1, pattern = "\\S")]
    pub body: String,
    /// Default `howto`
    #[schema(schema_with = crate::api_schema::article_kinds)]
    pub kind: Option<String>,
    /// Default `internal`
    #[schema(schema_with = audiences)]
    pub audience: Option<String>,
    /// Category path, e.g. `Hardware/Printer`
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// `YYYY-MM-DD`
    #[schema(schema_with = crate::api_schema::date)]
    pub review_by: Option<String>,
    /// Owner's e-mail (staff); default the author
    pub owner: Option<String>,
    /// Ticket number it is written from
    pub source_ticket: Option<String>,
    /// What changed, for the version history
    pub note: Option<String>,
}

/// New content for an article: the version it was edited from, so two editors cannot overwrite each other.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleEdit {
    pub version: i64,
    #[schema(min_length = 1, pattern = "\\S")]
    pub title: Option<String>,
    #[schema(min_length = 1, pattern = "\\S")]
    pub body: Option<String>,
    #[schema(schema_with = crate::api_schema::article_kinds)]
    pub kind: Option<String>,
    #[schema(schema_with = audiences)]
    pub audience: Option<String>,
    /// Category path; empty string clears it
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
    /// `YYYY-MM-DD`; empty string clears it
    #[schema(schema_with = crate::api_schema::date)]
    pub review_by: Option<String>,
    /// Owner's e-mail
    pub owner: Option<String>,
    pub note: Option<String>,
}

/// A workflow step.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleTransition {
    /// `submit` (draft to review), `publish`, `reject` (review to draft), `retire`, `restore` (retired to draft)
    #[schema(schema_with = crate::api_schema::article_actions_exact)]
    pub action: String,
    #[serde(default)]
    pub note: String,
    /// `YYYY-MM-DD`: the next review date when publishing
    #[schema(schema_with = crate::api_schema::date)]
    pub review_by: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ArticleQuery {
    /// One state or several, comma-separated
    #[param(schema_with = article_states_exact)]
    pub state: Option<String>,
    #[param(schema_with = crate::api_schema::article_kinds_exact)]
    pub kind: Option<String>,
    /// Category path
    pub category: Option<String>,
    pub tag: Option<String>,
    /// Owner's e-mail, or `me`
    pub owner: Option<String>,
    /// `true`: published articles past their review date
    pub stale: Option<bool>,
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ArticleVersion {
    pub version: i64,
    pub title: String,
    pub kind: String,
    pub audience: String,
    pub tags: Vec<String>,
    pub changed_by: String,
    pub changed_at: String,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ArticleEvent {
    pub at: String,
    pub actor: Option<String>,
    pub action: String,
    pub note: String,
}

/// What changed between two versions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ArticleDiff {
    pub from: i64,
    pub to: i64,
    pub title_from: String,
    pub title_to: String,
    /// Unified diff of the Markdown, three lines of context
    pub unified: String,
    /// Every line of both versions: `op` is `equal`, `insert` or `delete`
    pub lines: Vec<DiffLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DiffLine {
    pub op: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackInput {
    pub helpful: bool,
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeedbackTotals {
    pub helpful_yes: i64,
    pub helpful_no: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeedbackComment {
    pub user: Option<String>,
    pub helpful: bool,
    pub comment: String,
    pub at: String,
}

/// Markdown to HTML that is safe to put in a page: raw HTML in the source is
/// cleaned (scripts, event handlers, `javascript:` links removed), links get `rel=noopener`.
pub fn render_markdown(src: &str) -> String {
    use pulldown_cmark::{Options, Parser, html};
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    let mut out = String::with_capacity(src.len() * 3 / 2);
    html::push_html(&mut out, Parser::new_ext(src, opts));
    ammonia::Builder::default().clean(&out).to_string()
}

/// The plain text of Markdown (for snippets): what a reader sees, without the markup.
pub fn markdown_text(src: &str) -> String {
    use pulldown_cmark::{Event, Parser, TagEnd};
    let mut out = String::with_capacity(src.len());
    for ev in Parser::new(src) {
        match ev {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak | Event::HardBreak | Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::Heading(_)) => {
                out.push(' ')
            }
            _ => {}
        }
    }
    out
}

fn day(ms: Option<i64>) -> Option<String> {
    ms.map(|m| Timestamp(m).to_rfc3339()[..10].to_string())
}

fn split_tags(tags: &str) -> Vec<String> {
    tags.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect()
}

fn is_stale(r: &ArticleRow, now: i64) -> bool {
    r.state == "published" && r.review_by.is_some_and(|d| d < now)
}

impl ArticleSummary {
    fn from_row(r: &ArticleRow, now: i64) -> Self {
        ArticleSummary {
            number: r.number.clone(),
            title: r.title.clone(),
            kind: r.kind.clone(),
            audience: r.audience.clone(),
            state: r.state.clone(),
            category: r.category_path.clone(),
            tags: split_tags(&r.tags),
            owner_name: r.owner_name.clone(),
            review_by: day(r.review_by),
            stale: is_stale(r, now),
            version: r.version,
            views: r.views,
            helpful_yes: r.helpful_yes,
            helpful_no: r.helpful_no,
            updated_at: Timestamp(r.updated_at).to_rfc3339(),
        }
    }
}

fn article_of(r: ArticleRow, attachments: Vec<kb::AttachmentRow>, now: i64) -> Article {
    Article {
        stale: is_stale(&r, now),
        body_html: render_markdown(&r.body),
        number: r.number,
        title: r.title,
        body: r.body,
        kind: r.kind,
        audience: r.audience,
        state: r.state,
        category: r.category_path,
        tags: split_tags(&r.tags),
        owner_email: r.owner_email,
        owner_name: r.owner_name,
        review_by: day(r.review_by),
        source_ticket: r.source_ticket_number,
        version: r.version,
        views: r.views,
        helpful_yes: r.helpful_yes,
        helpful_no: r.helpful_no,
        created_at: Timestamp(r.created_at).to_rfc3339(),
        updated_at: Timestamp(r.updated_at).to_rfc3339(),
        published_at: r.published_at.map(|p| Timestamp(p).to_rfc3339()),
        attachments: attachments
            .into_iter()
            .map(|a| ArticleAttachment {
                url: format!("/kb/attachments/{}", a.id),
                id: a.id,
                filename: a.filename,
                content_type: a.content_type,
                size: a.size,
            })
            .collect(),
    }
}

/// May `actor` read this article?
pub(crate) fn may_read(actor: &Actor, r: &ArticleRow) -> bool {
    actor.role.is_staff() || (r.state == "published" && r.audience == "public")
}

fn staff(actor: &Actor) -> AppResult<()> {
    if actor.role.is_staff() { Ok(()) } else { Err(AppError::Forbidden("only staff write articles".into())) }
}

fn lead(actor: &Actor, what: &str) -> AppResult<()> {
    crate::kernel::access::require_lead(actor, &format!("{what} an article"))
}

/// Reads an article by number that `actor` may read (others get "not found", not "forbidden").
pub(crate) async fn load_readable(conn: &mut Conn<'_>, actor: &Actor, number: &str) -> AppResult<ArticleRow> {
    let number = number.trim().to_ascii_uppercase();
    let r = match kb::get_by_number(conn, &number).await {
        Err(StoreError::NotFound) => return Err(AppError::NotFound("article")),
        other => other?,
    };
    if may_read(actor, &r) { Ok(r) } else { Err(AppError::NotFound("article")) }
}

fn check_choice(errs: &mut FieldErrors, field: &str, v: &str, allowed: &[&str]) -> Option<String> {
    if allowed.contains(&v) {
        Some(v.to_string())
    } else {
        errs.push(field, format!("expected one of {}", allowed.join(", ")));
        None
    }
}

fn kind_names() -> Vec<&'static str> {
    KINDS.iter().map(|(k, _)| *k).collect()
}

/// Tags: trimmed, lower case, no duplicates, each short.
fn clean_tags(errs: &mut FieldErrors, tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags.iter().flat_map(|t| t.split(',')) {
        let t = t.trim().to_lowercase();
        if t.is_empty() || out.contains(&t) {
            continue;
        }
        if t.chars().count() > TAG_MAX {
            errs.push("tags", format!("a tag may have at most {TAG_MAX} characters"));
            continue;
        }
        out.push(t);
    }
    if out.len() > TAGS_MAX {
        errs.push("tags", format!("at most {TAGS_MAX} tags"));
    }
    out
}

fn parse_day(errs: &mut FieldErrors, field: &str, v: &str) -> Option<i64> {
    errs.check(Timestamp::parse_day_or_instant(field, v.trim())).map(|t| t.as_millis())
}

fn check_text(errs: &mut FieldErrors, title: &str, body: &str) {
    if title.trim().is_empty() {
        errs.push("title", "is required");
    } else if title.chars().count() > TITLE_MAX {
        errs.push("title", format!("must be at most {TITLE_MAX} characters"));
    }
    if body.trim().is_empty() {
        errs.push("body", "is required");
    } else if body.len() > BODY_MAX {
        errs.push("body", format!("must be at most {BODY_MAX} bytes"));
    }
}

async fn category_id(conn: &mut Conn<'_>, errs: &mut FieldErrors, path: Option<&str>) -> AppResult<Option<i64>> {
    match path.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(p) => match categories::find_by_path(conn, p).await? {
            Some(c) => Ok(Some(c.id)),
            None => {
                errs.push("category", format!("no category {p:?}"));
                Ok(None)
            }
        },
    }
}

async fn staff_user(conn: &mut Conn<'_>, errs: &mut FieldErrors, field: &str, email: &str) -> AppResult<Option<i64>> {
    match users::find_by_email(conn, &email.trim().to_lowercase()).await? {
        Some(u) if u.active && u.role != "requester" => Ok(Some(u.id)),
        Some(_) => {
            errs.push(field, "must be an active staff member");
            Ok(None)
        }
        None => {
            errs.push(field, format!("no user with e-mail {}", email.trim()));
            Ok(None)
        }
    }
}

impl App {
    /// Writes a new article as a draft (leads and admins may publish it at once with `state`).
    pub async fn create_article(&self, actor: &Actor, input: ArticleInput) -> AppResult<Article> {
        staff(actor)?;
        let now = self.clock.now().as_millis();
        let mut errs = FieldErrors::new();
        check_text(&mut errs, &input.title, &input.body);
        let kind = check_choice(&mut errs, "kind", input.kind.as_deref().unwrap_or("howto"), &kind_names());
        let audience = check_choice(&mut errs, "audience", input.audience.as_deref().unwrap_or("internal"), AUDIENCES);
        let tags = clean_tags(&mut errs, &input.tags);
        let review_by = input
            .review_by
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .and_then(|d| parse_day(&mut errs, "review_by", d));
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let category_id = category_id(&mut c, &mut errs, input.category.as_deref()).await?;
        let owner_id = match &input.owner {
            Some(o) if !o.trim().is_empty() => staff_user(&mut c, &mut errs, "owner", o).await?,
            _ => Some(actor.id.0),
        };
        let source = match input.source_ticket.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(n) => match crate::tickets::load(&mut c, n).await {
                Ok(t) => Some(t.id),
                Err(AppError::NotFound(_)) => {
                    errs.push("source_ticket", format!("no ticket {n}"));
                    None
                }
                Err(e) => return Err(e),
            },
        };
        errs.into_result()?;
        let (Some(kind), Some(audience), Some(owner_id)) = (kind, audience, owner_id) else {
            return Err(AppError::Internal("validated fields missing".into()));
        };
        let content = Content {
            title: input.title.trim(),
            body: &input.body,
            kind: &kind,
            audience: &audience,
            category_id,
            tags: &tags,
        };
        let note = input.note.as_deref().unwrap_or("created");
        let id = kb::create(
            &mut c,
            &kb::NewArticle {
                content,
                state: "draft",
                owner_id,
                review_by,
                source_ticket_id: source,
                created_by: actor.id.0,
                now,
                note,
            },
        )
        .await?;
        kb::add_event(&mut c, id, now, Some(actor.id.0), "created", "").await?;
        let row = kb::get(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(article_of(row, Vec::new(), now))
    }

    /// Reads an article; `count_view` counts a reader's visit.
    pub async fn get_article(&self, actor: &Actor, number: &str, count_view: bool) -> AppResult<Article> {
        let now = self.clock.now().as_millis();
        if count_view {
            // One write transaction reads what it counted, so the view shows in the answer.
            let mut tx = self.db.begin().await?;
            let mut c = tx.conn();
            let mut row = load_readable(&mut c, actor, number).await?;
            if row.state == "published" {
                kb::count_view(&mut c, row.id).await?;
                row.views += 1;
            }
            let att = kb::attachments(&mut c, row.id).await?;
            self.commit(tx).await?;
            return Ok(article_of(row, att, now));
        }
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let row = load_readable(&mut c, actor, number).await?;
        let att = kb::attachments(&mut c, row.id).await?;
        Ok(article_of(row, att, now))
    }

    /// Articles newest first, keyset-paged. Requesters see published public ones only.
    pub async fn list_articles(&self, actor: &Actor, q: ArticleQuery) -> AppResult<Page<ArticleSummary>> {
        let now = self.clock.now().as_millis();
        let mut errs = FieldErrors::new();
        let mut f = ArticleFilter { public_only: !actor.role.is_staff(), ..Default::default() };
        if let Some(s) = &q.state {
            for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                if let Some(s) = check_choice(&mut errs, "state", part, STATES) {
                    f.states.push(s);
                }
            }
        }
        if let Some(k) = &q.kind {
            f.kind = check_choice(&mut errs, "kind", k.trim(), &kind_names());
        }
        f.tag = q.tag.as_deref().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty());
        if q.stale == Some(true) {
            f.review_before = Some(now);
        }
        let limit = collect(&mut errs, parse_limit(q.limit))?;
        let cursor = collect(&mut errs, parse_cursor(q.cursor.as_deref()))?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        f.category_id = category_id(&mut c, &mut errs, q.category.as_deref()).await?;
        match q.owner.as_deref().map(str::trim) {
            None | Some("") => {}
            Some("me") => f.owner_id = Some(actor.id.0),
            Some(e) => match users::find_by_email(&mut c, &e.to_lowercase()).await? {
                Some(u) => f.owner_id = Some(u.id),
                None => errs.push("owner", format!("no user with e-mail {e}")),
            },
        }
        errs.into_result()?;
        f.limit = limit.unwrap_or(crate::kernel::paging::PAGE_DEFAULT) + 1;
        f.before_id = cursor.flatten();
        let mut rows = kb::list(&mut c, &f).await?;
        let next_cursor = keyset_cursor(&mut rows, f.limit - 1, |a| a.id);
        Ok(Page { items: rows.iter().map(|r| ArticleSummary::from_row(r, now)).collect(), next_cursor })
    }

    /// Saves new content as the next version; refused when someone saved since `edit.version`.
    pub async fn edit_article(&self, actor: &Actor, number: &str, edit: ArticleEdit) -> AppResult<Article> {
        staff(actor)?;
        let now = self.clock.now().as_millis();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let r = load_readable(&mut c, actor, number).await?;
        if r.state == "retired" {
            return Err(AppError::Conflict("a retired article cannot be edited; restore it first".into()));
        }
        if edit.version != r.version {
            return Err(AppError::Conflict(format!(
                "the article was changed by someone else (now version {}, you edited version {}); reload it",
                r.version, edit.version
            )));
        }
        let mut errs = FieldErrors::new();
        let title = edit.title.clone().unwrap_or_else(|| r.title.clone());
        let body = edit.body.clone().unwrap_or_else(|| r.body.clone());
        check_text(&mut errs, &title, &body);
        let kind = check_choice(&mut errs, "kind", edit.kind.as_deref().unwrap_or(&r.kind), &kind_names());
        let audience = check_choice(&mut errs, "audience", edit.audience.as_deref().unwrap_or(&r.audience), AUDIENCES);
        let tags = match &edit.tags {
            Some(t) => clean_tags(&mut errs, t),
            None => split_tags(&r.tags),
        };
        let category = match &edit.category {
            Some(p) => category_id(&mut c, &mut errs, Some(p)).await?,
            None => r.category_id,
        };
        let review_by = match edit.review_by.as_deref().map(str::trim) {
            None => r.review_by,
            Some("") => None,
            Some(d) => parse_day(&mut errs, "review_by", d),
        };
        let owner_id = match &edit.owner {
            Some(o) => staff_user(&mut c, &mut errs, "owner", o).await?,
            None => Some(r.owner_id),
        };
        errs.into_result()?;
        let (Some(kind), Some(audience), Some(owner_id)) = (kind, audience, owner_id) else {
            return Err(AppError::Internal("validated fields missing".into()));
        };
        let content_changed = title.trim() != r.title
            || body != r.body
            || kind != r.kind
            || audience != r.audience
            || category != r.category_id
            || tags != split_tags(&r.tags);
        if content_changed {
            let content = Content {
                title: title.trim(),
                body: &body,
                kind: &kind,
                audience: &audience,
                category_id: category,
                tags: &tags,
            };
            let note = edit.note.as_deref().unwrap_or("");
            match kb::update_content(&mut c, r.id, r.version, &content, actor.id.0, now, note).await {
                Err(StoreError::Stale) => {
                    return Err(AppError::Conflict("the article was changed by someone else; reload it".into()));
                }
                other => other?,
            };
        }
        if owner_id != r.owner_id || review_by != r.review_by {
            kb::set_workflow(&mut c, r.id, &r.state, owner_id, review_by, now).await?;
            if owner_id != r.owner_id {
                kb::add_event(&mut c, r.id, now, Some(actor.id.0), "owner changed", "").await?;
            }
        }
        let row = kb::get(&mut c, r.id).await?;
        let att = kb::attachments(&mut c, r.id).await?;
        self.commit(tx).await?;
        Ok(article_of(row, att, now))
    }

    /// Moves an article through its workflow: draft -> review -> published -> retired.
    pub async fn transition_article(&self, actor: &Actor, number: &str, t: ArticleTransition) -> AppResult<Article> {
        staff(actor)?;
        let now = self.clock.now().as_millis();
        let mut errs = FieldErrors::new();
        let review_by =
            t.review_by.as_deref().filter(|s| !s.trim().is_empty()).and_then(|d| parse_day(&mut errs, "review_by", d));
        errs.into_result()?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let r = load_readable(&mut c, actor, number).await?;
        let to = match (t.action.as_str(), r.state.as_str()) {
            ("submit", "draft") => "review",
            ("publish", "draft" | "review") => {
                lead(actor, "publish")?;
                "published"
            }
            ("reject", "review") => {
                lead(actor, "send back")?;
                if t.note.trim().is_empty() {
                    return Err(invalid("note", "say what needs to change"));
                }
                "draft"
            }
            ("retire", "published" | "draft" | "review") => {
                lead(actor, "retire")?;
                "retired"
            }
            ("restore", "retired") => "draft",
            ("submit" | "publish" | "reject" | "retire" | "restore", from) => {
                return Err(AppError::Conflict(format!("cannot {} an article that is {from}", t.action)));
            }
            _ => return Err(invalid("action", "expected submit, publish, reject, retire or restore")),
        };
        let review_by = if to == "published" {
            review_by.or(r.review_by.filter(|d| *d > now)).or(Some(now + DEFAULT_REVIEW_DAYS * DAY_MS))
        } else {
            r.review_by
        };
        kb::set_workflow(&mut c, r.id, to, r.owner_id, review_by, now).await?;
        let action = match to {
            "review" => "submitted for review",
            "published" => "published",
            "retired" => "retired",
            _ if t.action == "reject" => "sent back to draft",
            _ => "restored to draft",
        };
        kb::add_event(&mut c, r.id, now, Some(actor.id.0), action, t.note.trim()).await?;
        let row = kb::get(&mut c, r.id).await?;
        let att = kb::attachments(&mut c, r.id).await?;
        self.commit(tx).await?;
        Ok(article_of(row, att, now))
    }
}
