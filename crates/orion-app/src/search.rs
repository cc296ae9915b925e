//! One search over tickets and articles, suggestions while a ticket is being
//! written, articles linked to tickets, and the index rebuild.
//!
//! Permissions are part of the query itself: a requester's ticket search matches
//! only their own tickets' public text, and only published public articles.

use crate::kb::{ArticleInput, load_readable, markdown_text};
use crate::kernel::error::collect;
use crate::kernel::error::invalid;
use crate::tickets::load_visible;
use crate::{App, AppError, AppResult};
use orion_domain::search::{Hit as Mark, Query, highlight, snippet};
use orion_domain::{Actor, FieldErrors, Role, State, TicketKind, Timestamp};
use orion_store::search::{self, ArticleScope, ArticleSearchFilter, Hit, TicketScope, TicketSearchFilter};
use orion_store::{Conn, groups, kb, tickets};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// How many of the newest matches are ranked. A one-word query matching a tenth of a
/// million tickets costs the same as a rare one; the newest matches are the ones a
/// service desk is after. More specific words or a filter narrow further.
pub const CANDIDATES: i64 = 1000;
pub const SEARCH_LIMIT_DEFAULT: i64 = 20;
pub const SEARCH_LIMIT_MAX: i64 = 100;
const SNIPPET_WORDS: usize = 30;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Words, `"a phrase"`, `-exclude`, `a OR b`, `prefix*`
    #[param(min_length = 1, pattern = "\\w")]
    pub q: String,
    /// `ticket`, `article` or both (default)
    #[serde(rename = "type")]
    pub kind_of: Option<String>,
    /// Ticket kind: `incident` or `service_request`
    pub kind: Option<String>,
    /// Ticket states, comma-separated; `open` for every state before resolved
    pub state: Option<String>,
    /// Assignment group name
    pub group: Option<String>,
    /// Tickets created on or after (`YYYY-MM-DD` or RFC 3339)
    pub from: Option<String>,
    /// Tickets created before (`YYYY-MM-DD` or RFC 3339)
    pub to: Option<String>,
    /// Article type: `howto`, `faq`, `known_error`, `runbook`, `training`
    pub article_kind: Option<String>,
    /// Article states, comma-separated (staff; default every state but retired)
    pub article_state: Option<String>,
    /// `relevance` (default) or `newest`
    pub order: Option<String>,
    /// Skip this many results (relevance order; at most 1000 are ranked)
    #[param(minimum = 0, maximum = 999)]
    pub offset: Option<i64>,
    /// 1..100, default 20 (per type)
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// A matching ticket.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TicketHit {
    pub number: String,
    pub title: String,
    /// The title, HTML-escaped, matching words in `<mark>`
    pub title_html: String,
    /// The passage that matched, HTML-escaped, matching words in `<mark>`
    pub snippet_html: String,
    /// Where the snippet is from: `description`, `resolution`, `reply` or `internal note`
    pub snippet_from: String,
    pub kind: String,
    pub state: String,
    pub priority: String,
    pub assignment_group: String,
    pub requester_name: String,
    pub created_at: String,
    pub updated_at: String,
    pub score: f64,
}

/// A matching article.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ArticleHit {
    pub number: String,
    pub title: String,
    pub title_html: String,
    pub snippet_html: String,
    pub kind: String,
    pub audience: String,
    pub state: String,
    pub category: Option<String>,
    pub updated_at: String,
    pub helpful_yes: i64,
    pub helpful_no: i64,
    pub score: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct SearchResults {
    pub tickets: Vec<TicketHit>,
    pub articles: Vec<ArticleHit>,
    /// More tickets match than were returned
    pub tickets_more: bool,
    pub articles_more: bool,
}

/// What a person has typed so far in a new ticket.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct SuggestQuery {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Suggestions {
    /// Published articles (public ones for requesters)
    pub articles: Vec<ArticleHit>,
    /// Similar resolved tickets (staff only)
    pub tickets: Vec<TicketHit>,
}

/// Articles for a ticket: the ones an agent linked, and others that look related.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct TicketArticles {
    pub linked: Vec<ArticleHit>,
    pub related: Vec<ArticleHit>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkArticle {
    /// Article number, e.g. `KB0000042`
    pub article: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Deflection {
    pub article: String,
    pub title: String,
    /// New-ticket forms in which a requester opened the suggested article
    pub opened: i64,
    /// Of those, forms submitted anyway
    pub submitted: i64,
    /// Opened and not submitted: tickets the article answered
    pub deflected: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeflectionReport {
    pub from: String,
    pub to: String,
    pub opened: i64,
    pub deflected: i64,
    pub articles: Vec<Deflection>,
}

/// A fresh key for a new-ticket form, so openings of suggested articles can be tied to it.
pub fn new_draft_key() -> String {
    use rand::RngCore;
    let mut b = [0u8; 12];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A form left alone this long after a suggested article was opened counts as deflected.
pub const DEFLECTION_SETTLE_MS: i64 = 30 * 60 * 1000;

fn parse_query(q: &str, type_ahead: bool) -> AppResult<Query> {
    if q.chars().count() > 500 {
        return Err(invalid("q", "must be at most 500 characters"));
    }
    Query::parse(q, type_ahead).map_err(|e| invalid("q", e.0))
}

/// Best first: by relevance, newer first among equals.
fn rank(hits: &mut [Hit]) {
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.id.cmp(&a.id)));
}

fn priority_label(p: i64) -> String {
    format!("P{p}")
}

/// Builds ticket results for `hits` (in that order) with snippets from the text `internal` allows.
async fn ticket_results(conn: &mut Conn<'_>, hits: &[Hit], q: &Query, internal: bool) -> AppResult<Vec<TicketHit>> {
    let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
    let rows = tickets::get_many(conn, &ids).await?;
    let entries = search::entry_texts(conn, &ids, internal).await?;
    let marks = q.highlights();
    let mut out = Vec::with_capacity(hits.len());
    for h in hits {
        let Some(t) = rows.iter().find(|t| t.id == h.id) else { continue };
        let mut parts: Vec<(&str, &str)> = vec![("description", t.description.as_str())];
        if let Some(r) = &t.resolution_notes {
            parts.push(("resolution", r));
        }
        for (tid, vis, body) in &entries {
            if *tid == t.id {
                parts.push((if vis == "public" { "reply" } else { "internal note" }, body));
            }
        }
        let (from, snip) = best_snippet(&parts, &marks);
        out.push(TicketHit {
            number: t.number.clone(),
            title: t.title.clone(),
            title_html: highlight(&t.title, &marks),
            snippet_html: snip,
            snippet_from: from.to_string(),
            kind: t.kind.clone(),
            state: t.state.clone(),
            priority: priority_label(t.priority),
            assignment_group: t.assignment_group_name.clone(),
            requester_name: t.requester_name.clone(),
            created_at: Timestamp(t.created_at).to_rfc3339(),
            updated_at: Timestamp(t.updated_at).to_rfc3339(),
            score: h.score,
        });
    }
    Ok(out)
}

/// The passage with the most matching words among `parts`; the first part's opening when none matches
/// (the title matched).
fn best_snippet<'a>(parts: &[(&'a str, &str)], marks: &[Mark]) -> (&'a str, String) {
    let mut best: Option<(&str, String, usize)> = None;
    for (from, text) in parts {
        if let Some(s) = snippet(text, marks, SNIPPET_WORDS) {
            let n = s.matches("<mark>").count();
            if best.as_ref().is_none_or(|b| n > b.2) {
                best = Some((from, s, n));
            }
        }
    }
    match best {
        Some((from, s, _)) => (from, s),
        None => {
            let (from, text) = parts.first().copied().unwrap_or(("description", ""));
            (from, opening(text))
        }
    }
}

/// The first words of a text, escaped.
fn opening(text: &str) -> String {
    let words: Vec<(usize, usize)> = orion_domain::search::words(text).take(SNIPPET_WORDS + 1).collect();
    let end = if words.len() > SNIPPET_WORDS { words[SNIPPET_WORDS - 1].1 } else { text.len() };
    let mut out = String::new();
    orion_domain::search::escape_html(&text[..end], &mut out);
    if end < text.len() {
        out.push('…');
    }
    out.trim().to_string()
}

async fn article_results(conn: &mut Conn<'_>, hits: &[Hit], q: &Query) -> AppResult<Vec<ArticleHit>> {
    let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
    let rows = kb::get_many(conn, &ids).await?;
    let marks = q.highlights();
    let mut out = Vec::with_capacity(hits.len());
    for h in hits {
        let Some(a) = rows.iter().find(|a| a.id == h.id) else { continue };
        let text = markdown_text(&a.body);
        let snip = snippet(&text, &marks, SNIPPET_WORDS).unwrap_or_else(|| opening(&text));
        out.push(ArticleHit {
            number: a.number.clone(),
            title: a.title.clone(),
            title_html: highlight(&a.title, &marks),
            snippet_html: snip,
            kind: a.kind.clone(),
            audience: a.audience.clone(),
            state: a.state.clone(),
            category: a.category_path.clone(),
            updated_at: Timestamp(a.updated_at).to_rfc3339(),
            helpful_yes: a.helpful_yes,
            helpful_no: a.helpful_no,
            score: h.score,
        });
    }
    Ok(out)
}

fn ticket_scope(actor: &Actor) -> TicketScope {
    if actor.role.is_staff() { TicketScope::Staff } else { TicketScope::Requester(actor.id.0) }
}

fn article_scope(actor: &Actor) -> ArticleScope {
    if actor.role.is_staff() { ArticleScope::Staff } else { ArticleScope::Public }
}

/// Sorts, pages and trims hits: returns the page and whether more follow.
fn page(mut hits: Vec<Hit>, by_relevance: bool, offset: i64, limit: i64) -> (Vec<Hit>, bool) {
    if by_relevance {
        rank(&mut hits);
    } else {
        hits.sort_by_key(|h| std::cmp::Reverse(h.id));
    }
    let start = (offset as usize).min(hits.len());
    let end = (start + limit as usize).min(hits.len());
    let more = hits.len() > end;
    (hits[start..end].to_vec(), more)
}

impl App {
    /// Searches tickets and articles with one query.
    pub async fn search(&self, actor: &Actor, sq: SearchQuery) -> AppResult<SearchResults> {
        let mut errs = FieldErrors::new();
        let q = collect(&mut errs, parse_query(&sq.q, false))?;
        let (want_tickets, want_articles) = match sq.kind_of.as_deref() {
            None | Some("") | Some("all") => (true, true),
            Some("ticket") => (true, false),
            Some("article") => (false, true),
            Some(_) => {
                errs.push("type", "expected ticket, article or all");
                (false, false)
            }
        };
        let mut tf = TicketSearchFilter::default();
        if let Some(k) = sq.kind.as_deref().filter(|k| !k.is_empty()) {
            tf.kind = errs.check(TicketKind::parse("kind", k)).map(|k| k.as_str().to_string());
        }
        if let Some(s) = &sq.state {
            for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                if part == "open" {
                    tf.states.extend(State::ALL.iter().filter(|s| s.is_open()).map(|s| s.as_str().to_string()));
                } else if let Some(st) = errs.check(State::parse("state", part)) {
                    tf.states.push(st.as_str().to_string());
                }
            }
        }
        if let Some(f) = sq.from.as_deref().filter(|s| !s.is_empty()) {
            tf.created_from = errs.check(Timestamp::parse_day_or_instant("from", f)).map(|t| t.as_millis());
        }
        if let Some(t) = sq.to.as_deref().filter(|s| !s.is_empty()) {
            tf.created_to = errs.check(Timestamp::parse_day_or_instant("to", t)).map(|t| t.as_millis());
        }
        let mut af = ArticleSearchFilter::default();
        if let Some(k) = sq.article_kind.as_deref().filter(|k| !k.is_empty()) {
            if crate::kb::KINDS.iter().any(|(x, _)| *x == k) {
                af.kind = Some(k.to_string());
            } else {
                errs.push("article_kind", "expected howto, faq, known_error, runbook or training");
            }
        }
        match sq.article_state.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => {
                for part in s.split(',').map(str::trim) {
                    if crate::kb::STATES.contains(&part) {
                        af.states.push(part.to_string());
                    } else {
                        errs.push("article_state", "expected draft, review, published or retired");
                    }
                }
            }
            None => af.states = vec!["draft".into(), "review".into(), "published".into()],
        }
        let by_relevance = match sq.order.as_deref() {
            None | Some("") | Some("relevance") => true,
            Some("newest") => false,
            Some(_) => {
                errs.push("order", "expected relevance or newest");
                true
            }
        };
        let limit = match sq.limit {
            None => SEARCH_LIMIT_DEFAULT,
            Some(n) if (1..=SEARCH_LIMIT_MAX).contains(&n) => n,
            Some(_) => {
                errs.push("limit", format!("must be between 1 and {SEARCH_LIMIT_MAX}"));
                SEARCH_LIMIT_DEFAULT
            }
        };
        let offset = match sq.offset {
            None => 0,
            Some(n) if (0..CANDIDATES).contains(&n) => n,
            Some(_) => {
                errs.push("offset", format!("must be between 0 and {}", CANDIDATES - 1));
                0
            }
        };
        if let Some(g) = sq.group.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
            if !actor.role.is_staff() {
                errs.push("group", "only staff filter by group");
            } else {
                let mut r = self.db.read().await?;
                match groups::find_by_name(&mut r.conn(), g).await? {
                    Some(g) => tf.group_id = Some(g.id),
                    None => errs.push("group", format!("no group named {g:?}")),
                }
            }
        }
        errs.into_result()?;
        let Some(q) = q else { return Err(AppError::Internal("validated query missing".into())) };
        // Tickets and articles are searched at the same time, each on its own connection.
        let tickets = async {
            if !want_tickets {
                return Ok::<_, AppError>((Vec::new(), false));
            }
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let mut hits = search::ticket_hits(&mut c, &q, ticket_scope(actor), &tf, CANDIDATES).await?;
            // Restricted tickets the searcher may not see are no hits.
            crate::tickets::drop_hidden(&mut c, actor, &mut hits, |h| h.id).await?;
            let (hits, more) = page(hits, by_relevance, offset, limit);
            Ok((ticket_results(&mut c, &hits, &q, actor.role.is_staff()).await?, more))
        };
        let articles = async {
            if !want_articles {
                return Ok::<_, AppError>((Vec::new(), false));
            }
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let hits = search::article_hits(&mut c, &q, article_scope(actor), &af, CANDIDATES).await?;
            let (hits, more) = page(hits, by_relevance, offset, limit);
            Ok((article_results(&mut c, &hits, &q).await?, more))
        };
        let ((tickets, tickets_more), (articles, articles_more)) = tokio::try_join!(tickets, articles)?;
        let out = SearchResults { tickets, tickets_more, articles, articles_more };
        metrics::counter!("orion_searches_total").increment(1);
        Ok(out)
    }

    /// Articles (and, for staff, resolved tickets) that look like what someone is typing.
    pub async fn suggest(&self, actor: &Actor, s: SuggestQuery) -> AppResult<Suggestions> {
        let text = format!("{} {}", s.title, s.description.chars().take(2000).collect::<String>());
        // The most telling words: the title's, then the description's, at most a dozen.
        let words: Vec<String> = orion_domain::search::words(&text)
            .map(|(a, b)| text[a..b].to_string())
            .filter(|w| w.chars().count() > 2 && !STOP_WORDS.contains(&orion_domain::search::fold(w).as_str()))
            .take(12)
            .collect();
        if words.is_empty() {
            return Ok(Suggestions::default());
        }
        let type_ahead = s.description.trim().is_empty() && !s.title.ends_with(char::is_whitespace);
        let Ok(q) = Query::parse(&words.join(" "), type_ahead) else { return Ok(Suggestions::default()) };
        let q = q.any_of();
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let af = ArticleSearchFilter { states: vec!["published".into()], ..Default::default() };
        let hits = search::article_hits(&mut c, &q, article_scope(actor), &af, 200).await?;
        let (hits, _) = page(hits, true, 0, 5);
        let articles = article_results(&mut c, &hits, &q).await?;
        let tickets = if actor.role.is_staff() {
            let tf = TicketSearchFilter { states: vec!["resolved".into(), "closed".into()], ..Default::default() };
            let hits = search::ticket_hits(&mut c, &q, TicketScope::Staff, &tf, 300).await?;
            let (hits, _) = page(hits, true, 0, 5);
            ticket_results(&mut c, &hits, &q, true).await?
        } else {
            Vec::new()
        };
        Ok(Suggestions { articles, tickets })
    }

    /// The articles linked to a ticket and published ones related to its title and description.
    pub async fn ticket_articles(&self, actor: &Actor, number: &str) -> AppResult<TicketArticles> {
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = load_visible(&mut c, actor, number).await?;
        let linked_ids = kb::linked_articles(&mut c, t.id).await?;
        let rows = kb::get_many(&mut c, &linked_ids).await?;
        let visible: Vec<Hit> = linked_ids
            .iter()
            .filter(|id| rows.iter().any(|a| a.id == **id && crate::kb::may_read(actor, a)))
            .map(|id| Hit { id: *id, score: 0.0 })
            .collect();
        let empty = Query { all: vec![], none: vec![] };
        let linked = article_results(&mut c, &visible, &empty).await?;
        drop(r);
        let related = self
            .suggest(actor, SuggestQuery { title: format!("{} ", t.title), description: t.description.clone() })
            .await?
            .articles
            .into_iter()
            .filter(|a| !linked.iter().any(|l| l.number == a.number))
            .collect();
        Ok(TicketArticles { linked, related })
    }

    /// Links an article to a ticket (staff), noted on the ticket's timeline.
    pub async fn link_article(&self, actor: &Actor, number: &str, article: &str) -> AppResult<TicketArticles> {
        if !actor.role.is_staff() {
            return Err(AppError::Forbidden("only staff link articles to tickets".into()));
        }
        let now = self.clock.now().as_millis();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let t = load_visible(&mut c, actor, number).await?;
        let a = match load_readable(&mut c, actor, article).await {
            Err(AppError::NotFound(_)) => return Err(invalid("article", format!("no article {}", article.trim()))),
            other => other?,
        };
        if kb::link_ticket(&mut c, t.id, a.id, actor.id.0, now).await? {
            let data = serde_json::json!({ "article": a.number, "title": a.title }).to_string();
            crate::tickets::append(
                &mut c,
                &orion_store::timeline::NewEntry {
                    ticket_id: t.id,
                    at: now,
                    actor_id: Some(actor.id.0),
                    kind: "article_linked",
                    visibility: "internal",
                    body: "",
                    data: &data,
                },
            )
            .await?;
        }
        self.commit(tx).await?;
        self.ticket_articles(actor, number).await
    }

    pub async fn unlink_article(&self, actor: &Actor, number: &str, article: &str) -> AppResult<TicketArticles> {
        if !actor.role.is_staff() {
            return Err(AppError::Forbidden("only staff link articles to tickets".into()));
        }
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let t = load_visible(&mut c, actor, number).await?;
        let a = load_readable(&mut c, actor, article).await?;
        if !kb::unlink_ticket(&mut c, t.id, a.id).await? {
            return Err(AppError::NotFound("link"));
        }
        self.commit(tx).await?;
        self.ticket_articles(actor, number).await
    }

    /// A new article's fields prefilled from a resolved ticket: its title, the problem as
    /// described, and the resolution (staff; the article is not saved).
    pub async fn article_draft_from_ticket(&self, actor: &Actor, number: &str) -> AppResult<ArticleInput> {
        if !actor.role.is_staff() {
            return Err(AppError::Forbidden("only staff write articles".into()));
        }
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = load_visible(&mut c, actor, number).await?;
        if t.resolved_at.is_none() {
            return Err(AppError::Conflict(format!("{} is not resolved yet; write the article once it is", t.number)));
        }
        let mut body = String::new();
        body.push_str("## Symptoms\n\n");
        body.push_str(t.description.trim());
        body.push_str("\n\n## Resolution\n\n");
        body.push_str(t.resolution_notes.as_deref().unwrap_or("").trim());
        body.push('\n');
        let mut tags = Vec::new();
        if let Some(p) = &t.category_path {
            tags.extend(p.split('/').map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()));
        }
        Ok(ArticleInput {
            title: t.title.clone(),
            body,
            kind: Some(if t.kind == "incident" { "known_error" } else { "howto" }.to_string()),
            audience: Some("internal".into()),
            category: t.category_path.clone(),
            tags,
            review_by: None,
            owner: None,
            source_ticket: Some(t.number.clone()),
            note: Some(format!("written from {}", t.number)),
        })
    }

    /// A requester opened a suggested article while writing a ticket (the form's `draft_key`).
    pub async fn record_suggestion_open(&self, actor: &Actor, draft_key: &str, article: &str) -> AppResult<()> {
        let key = draft_key.trim();
        if key.is_empty() || key.len() > 64 || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(invalid("draft_key", "expected up to 64 letters, digits or dashes"));
        }
        let now = self.clock.now().as_millis();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let a = load_readable(&mut c, actor, article).await?;
        kb::record_open(&mut c, key, actor.id.0, a.id, now).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// The form `draft_key` was submitted as `ticket`: the articles opened in it did not deflect it.
    pub async fn record_suggestion_submitted(&self, actor: &Actor, draft_key: &str, ticket: &str) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let t = load_visible(&mut c, actor, ticket).await?;
        kb::record_submitted(&mut c, draft_key.trim(), actor.id.0, t.id).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Suggested articles opened in new-ticket forms, per article, and how many of those forms were
    /// never submitted (deflected tickets). Forms opened in the last 30 minutes are not counted yet.
    pub async fn deflection_report(&self, actor: &Actor, days: i64) -> AppResult<DeflectionReport> {
        if !matches!(actor.role, Role::Agent | Role::Lead | Role::Admin) {
            return Err(AppError::Forbidden("only staff read the deflection report".into()));
        }
        if !(1..=366).contains(&days) {
            return Err(invalid("days", "must be between 1 and 366"));
        }
        let now = self.clock.now().as_millis();
        let to = now - DEFLECTION_SETTLE_MS;
        let from = now - days * 86_400_000;
        let mut r = self.db.read().await?;
        let rows = kb::deflections(&mut r.conn(), from, to).await?;
        let articles: Vec<Deflection> = rows
            .into_iter()
            .map(|d| Deflection {
                article: d.number,
                title: d.title,
                opened: d.opened,
                submitted: d.submitted,
                deflected: d.opened - d.submitted,
            })
            .collect();
        Ok(DeflectionReport {
            from: Timestamp(from).to_rfc3339(),
            to: Timestamp(to).to_rfc3339(),
            opened: articles.iter().map(|a| a.opened).sum(),
            deflected: articles.iter().map(|a| a.deflected).sum(),
            articles,
        })
    }

    /// Rebuilds the search index of every ticket and article, a batch per transaction, while
    /// search keeps answering from the rows not yet rebuilt. `progress(done, total)` is called
    /// after each batch. Returns the number of tickets and articles indexed.
    pub async fn reindex(&self, batch: i64, mut progress: impl FnMut(i64, i64)) -> AppResult<(i64, i64)> {
        let batch = batch.max(1);
        let (max_ticket, max_article) = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            (search::max_ticket_id(&mut c).await?, kb::max_id(&mut c).await?)
        };
        let total = max_ticket + max_article;
        let (mut tickets_done, mut articles_done) = (0i64, 0i64);
        let mut from = 1;
        while from <= max_ticket {
            let to = (from + batch - 1).min(max_ticket);
            let mut tx = self.db.begin().await?;
            let mut c = tx.conn();
            let docs = search::ticket_docs(&mut c, from, to).await?;
            let n = docs.len() as i64;
            search::write_tickets(&mut c, docs).await?;
            self.commit(tx).await?;
            tickets_done += n;
            progress(to, total);
            from = to + 1;
        }
        let mut from = 1;
        while from <= max_article {
            let to = (from + batch - 1).min(max_article);
            let mut tx = self.db.begin().await?;
            let mut c = tx.conn();
            let docs = kb::docs(&mut c, from, to).await?;
            search::write_articles(&mut c, &docs).await?;
            self.commit(tx).await?;
            articles_done += docs.len() as i64;
            progress(max_ticket + to, total);
            from = to + 1;
        }
        let mut tx = self.db.begin().await?;
        orion_store::settings::put(&mut tx.conn(), "search.reindex_needed", "false", self.clock.now().as_millis())
            .await?;
        self.commit(tx).await?;
        Ok((tickets_done, articles_done))
    }

    /// Is a rebuild of the search index pending (after an upgrade that added it)?
    pub async fn reindex_needed(&self) -> AppResult<bool> {
        let mut r = self.db.read().await?;
        Ok(orion_store::settings::get(&mut r.conn(), "search.reindex_needed").await?.as_deref() == Some("true"))
    }
}

/// Words too common in tickets to say what one is about.
const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "not", "but", "with", "this", "that", "from", "have", "has", "had", "was", "were", "are",
    "you", "your", "our", "can", "cannot", "cant", "dont", "does", "did", "will", "would", "could", "should", "please",
    "help", "hello", "thanks", "thank", "since", "when", "what", "why", "how", "any", "all", "get", "got", "after",
    "before", "again", "still", "there", "they", "them", "then", "than", "some", "also", "just", "into", "onto", "out",
    "its", "it's", "today", "now", "working", "work", "issue", "problem", "need",
];
