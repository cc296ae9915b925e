//! `/api/v1/users`, `/groups`, `/categories`, `/settings`, `/me`

use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::{ApiError, AppState, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use orion_app::{
    Category, CategoryInput, Group, GroupInput, NewToken, NewUserInput, Page, PriorityMatrixDoc, User, UserPatch,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

pub(crate) fn routes(r: super::ApiRoutes) -> super::ApiRoutes {
    r.routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, update_group))
        .routes(routes!(add_member, remove_member))
        .routes(routes!(list_categories, create_category))
        .routes(routes!(update_category))
        .routes(routes!(get_matrix, put_matrix))
        .routes(routes!(me))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(my_notifications))
        .routes(routes!(read_notification))
        .routes(routes!(read_all_notifications))
        .routes(routes!(unread_count))
}

/// How many of my notifications are unread (counted up to 100).
#[utoipa::path(get, path = "/api/v1/me/notifications/unread", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = UnreadCount)))]
async fn unread_count(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<UnreadCount>> {
    Ok(Json(UnreadCount { unread: s.app.unread_notifications(&a).await? }))
}

/// Mark all my notifications read.
#[utoipa::path(post, path = "/api/v1/me/notifications/read", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = UnreadCount)))]
async fn read_all_notifications(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<UnreadCount>> {
    s.app.mark_all_notifications_read(&a).await?;
    Ok(Json(UnreadCount { unread: 0 }))
}

/// Unread notifications.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct UnreadCount {
    /// Up to 100
    unread: i64,
}

use super::ApiResult;

/// Ids in paths: anything that is not a positive number is simply not found.
fn id(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>().ok().filter(|n| *n > 0).ok_or(ApiError::NotFound)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct UserQuery {
    /// `requester`, `agent`, `lead`, `admin`
    #[param(schema_with = orion_app::api_schema::roles_exact)]
    role: Option<String>,
    /// Start of an e-mail or name (type-ahead)
    q: Option<String>,
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    cursor: Option<String>,
    /// 1..200, default 50
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// List users (staff).
#[utoipa::path(get, path = "/api/v1/users", tag = "directory", params(UserQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<User>), (status = 403, body = ErrorBody)))]
async fn list_users(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> ApiResult<Json<Page<User>>> {
    Ok(Json(s.app.list_users(&a, q.role.as_deref(), q.q.as_deref(), q.cursor.as_deref(), q.limit).await?))
}

/// Create a user (admins).
#[utoipa::path(post, path = "/api/v1/users", tag = "directory", request_body = NewUserInput, security(("bearer" = [])),
    responses((status = 201, body = User), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_user(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<NewUserInput>,
) -> ApiResult<(StatusCode, Json<User>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_user(&a, input).await?)))
}

/// One user (staff, or yourself).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "directory", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
async fn get_user(State(s): State<AppState>, Auth(a): Auth, ApiPath(raw): ApiPath<String>) -> ApiResult<Json<User>> {
    Ok(Json(s.app.get_user(&a, id(&raw)?).await?))
}

/// Change a user's name, role, phone, groups, or deactivate them (admins).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "directory", params(("id" = i64, Path)), request_body = UserPatch,
    security(("bearer" = [])),
    responses((status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn update_user(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(raw): ApiPath<String>,
    ApiJson(p): ApiJson<UserPatch>,
) -> ApiResult<Json<User>> {
    Ok(Json(s.app.update_user(&a, id(&raw)?, p).await?))
}

/// Every group, by tier (staff).
#[utoipa::path(get, path = "/api/v1/groups", tag = "directory", security(("bearer" = [])),
    responses((status = 200, body = Vec<Group>), (status = 403, body = ErrorBody)))]
async fn list_groups(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<Group>>> {
    Ok(Json(s.app.list_groups(&a).await?))
}

/// Create a group (admins).
#[utoipa::path(post, path = "/api/v1/groups", tag = "directory", request_body = GroupInput, security(("bearer" = [])),
    responses((status = 201, body = Group), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_group(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<GroupInput>,
) -> ApiResult<(StatusCode, Json<Group>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_group(&a, input).await?)))
}

/// One group (staff).
#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "directory", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Group), (status = 404, body = ErrorBody)))]
async fn get_group(State(s): State<AppState>, Auth(a): Auth, ApiPath(raw): ApiPath<String>) -> ApiResult<Json<Group>> {
    Ok(Json(s.app.get_group(&a, id(&raw)?).await?))
}

/// Change a group (admins).
#[utoipa::path(patch, path = "/api/v1/groups/{id}", tag = "directory", params(("id" = i64, Path)), request_body = GroupInput,
    security(("bearer" = [])),
    responses((status = 200, body = Group), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn update_group(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(raw): ApiPath<String>,
    ApiJson(input): ApiJson<GroupInput>,
) -> ApiResult<Json<Group>> {
    Ok(Json(s.app.update_group(&a, id(&raw)?, input).await?))
}

/// Add a staff member to a group (admins).
#[utoipa::path(put, path = "/api/v1/groups/{id}/members/{user_id}", tag = "directory",
    params(("id" = i64, Path), ("user_id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Group), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn add_member(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath((g, u)): ApiPath<(String, String)>,
) -> ApiResult<Json<Group>> {
    Ok(Json(s.app.set_membership(&a, id(&g)?, id(&u)?, true).await?))
}

/// Remove a member from a group (admins).
#[utoipa::path(delete, path = "/api/v1/groups/{id}/members/{user_id}", tag = "directory",
    params(("id" = i64, Path), ("user_id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Group), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_member(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath((g, u)): ApiPath<(String, String)>,
) -> ApiResult<Json<Group>> {
    Ok(Json(s.app.set_membership(&a, id(&g)?, id(&u)?, false).await?))
}

/// The category tree in path order (everyone signed in).
#[utoipa::path(get, path = "/api/v1/categories", tag = "directory", security(("bearer" = [])),
    responses((status = 200, body = Vec<Category>)))]
async fn list_categories(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<Category>>> {
    Ok(Json(s.app.list_categories(&a).await?))
}

/// Create a category under an optional parent path (admins).
#[utoipa::path(post, path = "/api/v1/categories", tag = "directory", request_body = CategoryInput, security(("bearer" = [])),
    responses((status = 201, body = Category), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_category(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<CategoryInput>,
) -> ApiResult<(StatusCode, Json<Category>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_category(&a, input).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CategoryPatch {
    /// false retires the category for new tickets
    active: bool,
}

/// Retire or revive a category (admins).
#[utoipa::path(patch, path = "/api/v1/categories/{id}", tag = "directory", params(("id" = i64, Path)),
    request_body = CategoryPatch, security(("bearer" = [])),
    responses((status = 200, body = Category), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_category(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(raw): ApiPath<String>,
    ApiJson(p): ApiJson<CategoryPatch>,
) -> ApiResult<Json<Category>> {
    Ok(Json(s.app.set_category_active(&a, id(&raw)?, p.active).await?))
}

/// The priority matrix (staff).
#[utoipa::path(get, path = "/api/v1/settings/priority-matrix", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = PriorityMatrixDoc), (status = 403, body = ErrorBody)))]
async fn get_matrix(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<PriorityMatrixDoc>> {
    Ok(Json(s.app.get_priority_matrix(&a).await?))
}

/// Replace the priority matrix (admins).
#[utoipa::path(put, path = "/api/v1/settings/priority-matrix", tag = "settings", request_body = PriorityMatrixDoc,
    security(("bearer" = [])),
    responses((status = 200, body = PriorityMatrixDoc), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_matrix(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(doc): ApiJson<PriorityMatrixDoc>,
) -> ApiResult<Json<PriorityMatrixDoc>> {
    Ok(Json(s.app.set_priority_matrix(&a, doc).await?))
}

/// Who am I?
#[utoipa::path(get, path = "/api/v1/me", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
async fn me(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<User>> {
    Ok(Json(s.app.get_user(&a, a.id.0).await?))
}

/// My API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>)))]
async fn list_tokens(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<serde_json::Value>>> {
    Ok(Json(s.app.list_own_tokens(&a).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ApiTokenInput {
    #[schema(min_length = 1, pattern = "\\S")]
    name: String,
}

/// Create an API token for myself; the secret is shown only in this response.
#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "me", request_body = ApiTokenInput, security(("bearer" = [])),
    responses((status = 201, body = NewToken), (status = 422, body = ErrorBody)))]
async fn create_token(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(t): ApiJson<ApiTokenInput>,
) -> ApiResult<(StatusCode, Json<NewToken>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_own_token(&a, &t.name).await?)))
}

/// Revoke one of my tokens.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "me", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<StatusCode> {
    s.app.revoke_own_token(&a, id(&raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct NotificationQuery {
    /// Only unread ones
    unread: Option<bool>,
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    cursor: Option<String>,
    /// 1..200, default 50
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// My notifications, newest first (SLA warnings and breaches of my tickets and my groups).
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "me", params(NotificationQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<orion_app::notifications::Notification>)))]
async fn my_notifications(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<NotificationQuery>,
) -> ApiResult<Json<Page<orion_app::notifications::Notification>>> {
    Ok(Json(s.app.my_notifications(&a, q.unread.unwrap_or(false), q.cursor.as_deref(), q.limit).await?))
}

/// Mark one of my notifications read.
#[utoipa::path(post, path = "/api/v1/me/notifications/{id}/read", tag = "me", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn read_notification(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<StatusCode> {
    s.app.mark_notification_read(&a, id(&raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
