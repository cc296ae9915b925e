//! `/api/v1/search`, `/api/v1/articles`, `/api/v1/tickets/{number}/articles`, `/api/v1/kb/…`

use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::{ApiError, AppState, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use orion_app::Page;
use orion_app::kb::{
    Article, ArticleDiff, ArticleEdit, ArticleEvent, ArticleInput, ArticleQuery, ArticleSummary, ArticleTransition,
    ArticleVersion, FeedbackComment, FeedbackInput, FeedbackTotals,
};
use orion_app::kernel::uploads::{MAX_FILE_BYTES, Upload};
use orion_app::search::{
    DeflectionReport, LinkArticle, SearchQuery, SearchResults, SuggestQuery, Suggestions, TicketArticles,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::UtoipaMethodRouterExt;
use utoipa_axum::routes;

use super::ApiResult;

pub(crate) fn routes(r: super::ApiRoutes) -> super::ApiRoutes {
    r.routes(routes!(search))
        .routes(routes!(suggest))
        .routes(routes!(list_articles, create_article))
        .routes(routes!(get_article, edit_article))
        .routes(routes!(transition))
        .routes(routes!(history))
        .routes(routes!(diff))
        .routes(routes!(feedback, feedback_comments))
        .routes(routes!(upload).layer(DefaultBodyLimit::max(MAX_FILE_BYTES + 64 * 1024)))
        .routes(routes!(ticket_articles, link))
        .routes(routes!(unlink))
        .routes(routes!(draft_from_ticket))
        .routes(routes!(deflections))
        .routes(routes!(suggestion_open))
        .routes(routes!(download))
}

/// Search tickets and articles: words, `"a phrase"`, `-exclude`, `a OR b`, `prefix*`. Requesters
/// find only their own tickets' public text and published public articles.
#[utoipa::path(get, path = "/api/v1/search", tag = "knowledge", params(SearchQuery), security(("bearer" = [])),
    responses((status = 200, body = SearchResults), (status = 422, body = ErrorBody)))]
async fn search(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<Json<SearchResults>> {
    Ok(Json(s.app.search(&a, q).await?))
}

/// Articles (and, for staff, resolved tickets) like the ticket being written.
#[utoipa::path(get, path = "/api/v1/search/suggest", tag = "knowledge", params(SuggestQuery), security(("bearer" = [])),
    responses((status = 200, body = Suggestions)))]
async fn suggest(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<SuggestQuery>,
) -> ApiResult<Json<Suggestions>> {
    Ok(Json(s.app.suggest(&a, q).await?))
}

/// Articles, newest first (requesters: published public ones).
#[utoipa::path(get, path = "/api/v1/articles", tag = "knowledge", params(ArticleQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<ArticleSummary>), (status = 422, body = ErrorBody)))]
async fn list_articles(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<ArticleQuery>,
) -> ApiResult<Json<Page<ArticleSummary>>> {
    Ok(Json(s.app.list_articles(&a, q).await?))
}

/// Write an article; it starts as a draft (staff).
#[utoipa::path(post, path = "/api/v1/articles", tag = "knowledge", request_body = ArticleInput,
    security(("bearer" = [])),
    responses((status = 201, body = Article), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_article(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(body): ApiJson<ArticleInput>,
) -> ApiResult<(StatusCode, Json<Article>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_article(&a, body).await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ViewQuery {
    /// `true` counts this read as a view
    view: Option<bool>,
}

/// One article with its rendered body and attachments.
#[utoipa::path(get, path = "/api/v1/articles/{number}", tag = "knowledge", params(("number" = String, Path), ViewQuery),
    security(("bearer" = [])), responses((status = 200, body = Article), (status = 404, body = ErrorBody)))]
async fn get_article(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiQuery(q): ApiQuery<ViewQuery>,
) -> ApiResult<Json<Article>> {
    Ok(Json(s.app.get_article(&a, &number, q.view.unwrap_or(false)).await?))
}

/// Save new content as the next version; `version` must be the one edited (409 otherwise).
#[utoipa::path(patch, path = "/api/v1/articles/{number}", tag = "knowledge", params(("number" = String, Path)),
    request_body = ArticleEdit, security(("bearer" = [])),
    responses((status = 200, body = Article), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn edit_article(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<ArticleEdit>,
) -> ApiResult<Json<Article>> {
    Ok(Json(s.app.edit_article(&a, &number, body).await?))
}

/// Workflow: `submit` for review, `publish` / `reject` / `retire` (leads and admins), `restore`.
#[utoipa::path(post, path = "/api/v1/articles/{number}/transition", tag = "knowledge",
    params(("number" = String, Path)), request_body = ArticleTransition, security(("bearer" = [])),
    responses((status = 200, body = Article), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn transition(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<ArticleTransition>,
) -> ApiResult<Json<Article>> {
    Ok(Json(s.app.transition_article(&a, &number, body).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct History {
    versions: Vec<ArticleVersion>,
    events: Vec<ArticleEvent>,
}

/// Every version (newest first) and workflow event of an article (staff).
#[utoipa::path(get, path = "/api/v1/articles/{number}/versions", tag = "knowledge", params(("number" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = History), (status = 404, body = ErrorBody)))]
async fn history(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<History>> {
    let (versions, events) = s.app.article_history(&a, &number).await?;
    Ok(Json(History { versions, events }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiffQuery {
    /// Default: the version before `to`
    from: Option<i64>,
    /// Default: the current version
    to: Option<i64>,
}

/// What changed between two versions (staff).
#[utoipa::path(get, path = "/api/v1/articles/{number}/diff", tag = "knowledge",
    params(("number" = String, Path), DiffQuery), security(("bearer" = [])),
    responses((status = 200, body = ArticleDiff), (status = 422, body = ErrorBody)))]
async fn diff(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiQuery(q): ApiQuery<DiffQuery>,
) -> ApiResult<Json<ArticleDiff>> {
    Ok(Json(s.app.article_diff(&a, &number, q.from, q.to).await?))
}

/// "Was this helpful?" One answer per person; answering again replaces it.
#[utoipa::path(post, path = "/api/v1/articles/{number}/feedback", tag = "knowledge", params(("number" = String, Path)),
    request_body = FeedbackInput, security(("bearer" = [])),
    responses((status = 200, body = FeedbackTotals), (status = 404, body = ErrorBody),
               (status = 409, description = "Only published articles take feedback", body = ErrorBody)))]
async fn feedback(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<FeedbackInput>,
) -> ApiResult<Json<FeedbackTotals>> {
    Ok(Json(s.app.article_feedback(&a, &number, body).await?))
}

/// The latest feedback that came with a comment (staff).
#[utoipa::path(get, path = "/api/v1/articles/{number}/feedback", tag = "knowledge", params(("number" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<FeedbackComment>)))]
async fn feedback_comments(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<Vec<FeedbackComment>>> {
    Ok(Json(s.app.article_feedback_comments(&a, &number).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadQuery {
    /// The file's name
    filename: String,
}

/// Attach a file to an article (staff): the request body is the file, its `Content-Type` the file's.
#[utoipa::path(post, path = "/api/v1/articles/{number}/attachments", tag = "knowledge",
    params(("number" = String, Path), UploadQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("bearer" = [])),
    responses((status = 201, body = Article), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn upload(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Article>)> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or("application/octet-stream")
        .to_string();
    let file = Upload { filename: q.filename, content_type, bytes: body.to_vec() };
    Ok((StatusCode::CREATED, Json(s.app.attach_to_article(&a, &number, vec![file]).await?)))
}

/// Articles linked to a ticket and published ones that look related.
#[utoipa::path(get, path = "/api/v1/tickets/{number}/articles", tag = "knowledge", params(("number" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = TicketArticles), (status = 404, body = ErrorBody)))]
async fn ticket_articles(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<TicketArticles>> {
    Ok(Json(s.app.ticket_articles(&a, &number).await?))
}

/// Link an article to a ticket (staff); noted on the ticket's timeline.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/articles", tag = "knowledge", params(("number" = String, Path)),
    request_body = LinkArticle, security(("bearer" = [])),
    responses((status = 200, body = TicketArticles), (status = 422, body = ErrorBody)))]
async fn link(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<LinkArticle>,
) -> ApiResult<Json<TicketArticles>> {
    Ok(Json(s.app.link_article(&a, &number, &body.article).await?))
}

/// Remove an article's link to a ticket (staff).
#[utoipa::path(delete, path = "/api/v1/tickets/{number}/articles/{article}", tag = "knowledge",
    params(("number" = String, Path), ("article" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = TicketArticles), (status = 404, body = ErrorBody)))]
async fn unlink(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath((number, article)): ApiPath<(String, String)>,
) -> ApiResult<Json<TicketArticles>> {
    Ok(Json(s.app.unlink_article(&a, &number, &article).await?))
}

/// A new article's fields prefilled from a resolved ticket (not saved; POST it to `/api/v1/articles`).
#[utoipa::path(get, path = "/api/v1/tickets/{number}/article-draft", tag = "knowledge",
    params(("number" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ArticleInput), (status = 409, body = ErrorBody)))]
async fn draft_from_ticket(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<ArticleInput>> {
    Ok(Json(s.app.article_draft_from_ticket(&a, &number).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DaysQuery {
    /// 1..366, default 30
    #[param(minimum = 1, maximum = 366)]
    days: Option<i64>,
}

/// Suggested articles opened while writing a ticket, and the tickets they deflected (staff).
#[utoipa::path(get, path = "/api/v1/kb/deflections", tag = "knowledge", params(DaysQuery), security(("bearer" = [])),
    responses((status = 200, body = DeflectionReport)))]
async fn deflections(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<DaysQuery>,
) -> ApiResult<Json<DeflectionReport>> {
    Ok(Json(s.app.deflection_report(&a, q.days.unwrap_or(30)).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuggestionOpen {
    /// A key the form chose when it was opened (letters, digits, dashes)
    #[schema(pattern = "^[A-Za-z0-9-]{1,64}$")]
    draft_key: String,
    article: String,
    /// Set when the form was submitted: the ticket it became
    ticket: Option<String>,
}

/// Record that a suggested article was opened in a new-ticket form (`ticket` absent), or that
/// the form was submitted as a ticket after all (`ticket` set). Portals other than Orion's own use this.
#[utoipa::path(post, path = "/api/v1/kb/suggestion-opens", tag = "knowledge", request_body = SuggestionOpen,
    security(("bearer" = [])),
    responses((status = 204), (status = 404, description = "No such article or ticket", body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn suggestion_open(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(body): ApiJson<SuggestionOpen>,
) -> ApiResult<StatusCode> {
    match &body.ticket {
        None => s.app.record_suggestion_open(&a, &body.draft_key, &body.article).await?,
        Some(t) => s.app.record_suggestion_submitted(&a, &body.draft_key, t).await?,
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Download an article's attachment (whoever may read the article).
#[utoipa::path(get, path = "/api/v1/kb/attachments/{id}", tag = "knowledge", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<u8>), (status = 404, body = ErrorBody)))]
async fn download(State(s): State<AppState>, Auth(a): Auth, ApiPath(raw): ApiPath<String>) -> ApiResult<Response> {
    let id = raw.parse::<i64>().ok().filter(|n| *n > 0).ok_or(ApiError::NotFound)?;
    Ok(crate::file_response(s.app.article_attachment(&a, id).await?))
}
