//! `/api/v1/directory`: LDAP and Active Directory sources, their sync runs, and manager chains;
//! `/api/v1/sso/providers`: single sign-on (OpenID Connect) providers.

use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::routes::tickets::PageQuery;
use crate::{AppState, ErrorBody};

use super::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use orion_app::Page;
use orion_app::identity::config::DirectorySourceInput;
use orion_app::identity::sso::{SsoProvider, SsoProviderInput};
use orion_app::identity::{DirectoryRun, DirectorySource, ManagerLink, SyncRequest};
use utoipa_axum::routes;

pub(crate) fn routes(r: super::ApiRoutes) -> super::ApiRoutes {
    r.routes(routes!(list_sources, create_source))
        .routes(routes!(get_source, update_source, delete_source))
        .routes(routes!(sync_source))
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
        .routes(routes!(manager_chain))
        .routes(routes!(list_providers, create_provider))
        .routes(routes!(get_provider, update_provider, delete_provider))
}

/// The directory sources users are synchronised from, in order; secrets are never shown (admins).
#[utoipa::path(get, path = "/api/v1/directory/sources", tag = "directory", security(("bearer" = [])),
    responses((status = 200, body = Vec<DirectorySource>), (status = 403, body = ErrorBody)))]
async fn list_sources(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<DirectorySource>>> {
    Ok(Json(s.app.list_directory_sources(&actor).await?))
}

/// Add an LDAP or Active Directory source (admins). Nothing is synchronised until a run: preview
/// one first with `POST .../sync` and `dry_run: true`.
#[utoipa::path(post, path = "/api/v1/directory/sources", tag = "directory", request_body = DirectorySourceInput,
    security(("bearer" = [])),
    responses((status = 201, body = DirectorySource), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_source(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<DirectorySourceInput>,
) -> ApiResult<(StatusCode, Json<DirectorySource>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_directory_source(&actor, body).await?)))
}

/// One source (admins).
#[utoipa::path(get, path = "/api/v1/directory/sources/{id}", tag = "directory", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = DirectorySource), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_source(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DirectorySource>> {
    Ok(Json(s.app.get_directory_source(&actor, id).await?))
}

/// Change a source; settings left out keep their value, and a left-out `secret` keeps the stored
/// one (admins).
#[utoipa::path(put, path = "/api/v1/directory/sources/{id}", tag = "directory", params(("id" = i64, Path)),
    request_body = DirectorySourceInput, security(("bearer" = [])),
    responses((status = 200, body = DirectorySource), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn update_source(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<DirectorySourceInput>,
) -> ApiResult<Json<DirectorySource>> {
    Ok(Json(s.app.update_directory_source(&actor, id, body).await?))
}

/// Remove a source; its users stay, as local accounts (admins).
#[utoipa::path(delete, path = "/api/v1/directory/sources/{id}", tag = "directory", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_source(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    s.app.delete_directory_source(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Synchronise a source now, or preview what a run would change (`dry_run: true`). A run that
/// would deactivate more users than the source allows is refused unless
/// `confirm_mass_deactivation` is given; one that would deactivate or demote an admin is always
/// refused. The run is logged either way (admins).
#[utoipa::path(post, path = "/api/v1/directory/sources/{id}/sync", tag = "directory", params(("id" = i64, Path)),
    request_body = SyncRequest, security(("bearer" = [])),
    responses((status = 200, body = DirectoryRun), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn sync_source(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<DirectoryRun>> {
    // Every field is optional, and serde would read a JSON array into such a struct: only an
    // object is a request.
    if !body.is_object() {
        return Err(crate::ApiError::Field("body".into(), "must be a JSON object".into()));
    }
    let body: SyncRequest = serde_path_to_error::deserialize(body)
        .map_err(|e| crate::ApiError::Field(e.path().to_string(), e.into_inner().to_string()))?;
    Ok(Json(s.app.sync_directory_now(&actor, id, body).await?))
}

/// The runs of a source, newest first (admins).
#[utoipa::path(get, path = "/api/v1/directory/sources/{id}/runs", tag = "directory",
    params(("id" = i64, Path), PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<DirectoryRun>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_runs(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<DirectoryRun>>> {
    Ok(Json(s.app.list_directory_runs(&actor, id, q.cursor.as_deref(), q.limit).await?))
}

/// One run with its changes (admins).
#[utoipa::path(get, path = "/api/v1/directory/runs/{id}", tag = "directory", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = DirectoryRun), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_run(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DirectoryRun>> {
    Ok(Json(s.app.get_directory_run(&actor, id).await?))
}

/// A user's managers, nearest first: the chain approvals follow (staff; a requester their own).
#[utoipa::path(get, path = "/api/v1/users/{id}/managers", tag = "directory", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ManagerLink>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn manager_chain(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<ManagerLink>>> {
    Ok(Json(s.app.manager_chain(&actor, id).await?))
}

/// The single sign-on (OpenID Connect) providers the sign-in page offers, in order; client
/// secrets are never shown (admins).
#[utoipa::path(get, path = "/api/v1/sso/providers", tag = "directory", security(("bearer" = [])),
    responses((status = 200, body = Vec<SsoProvider>), (status = 403, body = ErrorBody)))]
async fn list_providers(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<SsoProvider>>> {
    Ok(Json(s.app.list_sso_providers(&actor).await?))
}

/// Add an OpenID Connect provider (admins). Register Orion at the provider with the redirect URI
/// `<Orion's address>/login/sso/callback`.
#[utoipa::path(post, path = "/api/v1/sso/providers", tag = "directory", request_body = SsoProviderInput,
    security(("bearer" = [])),
    responses((status = 201, body = SsoProvider), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_provider(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<SsoProviderInput>,
) -> ApiResult<(StatusCode, Json<SsoProvider>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_sso_provider(&actor, body).await?)))
}

/// One provider (admins).
#[utoipa::path(get, path = "/api/v1/sso/providers/{id}", tag = "directory", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = SsoProvider), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_provider(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<SsoProvider>> {
    Ok(Json(s.app.get_sso_provider(&actor, id).await?))
}

/// Change a provider; settings left out keep their value, and a left-out `client_secret` keeps
/// the stored one (admins).
#[utoipa::path(put, path = "/api/v1/sso/providers/{id}", tag = "directory", params(("id" = i64, Path)),
    request_body = SsoProviderInput, security(("bearer" = [])),
    responses((status = 200, body = SsoProvider), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_provider(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SsoProviderInput>,
) -> ApiResult<Json<SsoProvider>> {
    Ok(Json(s.app.update_sso_provider(&actor, id, body).await?))
}

/// Remove a provider; its users stay, with their other ways to sign in (admins). Refused while
/// password sign-in is off for a role and this is the last enabled provider.
#[utoipa::path(delete, path = "/api/v1/sso/providers/{id}", tag = "directory", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, body = ErrorBody)))]
async fn delete_provider(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    s.app.delete_sso_provider(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
