//! `/api/v1/settings/security`, `/api/v1/security/log`, `/api/v1/users/{id}/unlock`

use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::routes::tickets::PageQuery;
use crate::{ApiError, AppState, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use orion_app::Page;
use orion_app::signin::{SecurityEvent, SecuritySettings};
use utoipa_axum::routes;

use super::ApiResult;

pub(crate) fn routes(r: super::ApiRoutes) -> super::ApiRoutes {
    r.routes(routes!(get_settings, put_settings)).routes(routes!(log)).routes(routes!(unlock))
}

/// Sign-in, lockout, session and password rules (admins).
#[utoipa::path(get, path = "/api/v1/settings/security", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = SecuritySettings), (status = 403, body = ErrorBody)))]
async fn get_settings(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<SecuritySettings>> {
    Ok(Json(s.app.get_security_settings(&a).await?))
}

/// Change the sign-in, lockout, session and password rules (admins).
#[utoipa::path(put, path = "/api/v1/settings/security", tag = "settings", request_body = SecuritySettings,
    security(("bearer" = [])),
    responses((status = 200, body = SecuritySettings), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_settings(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(body): ApiJson<SecuritySettings>,
) -> ApiResult<Json<SecuritySettings>> {
    Ok(Json(s.app.set_security_settings(&a, body).await?))
}

/// The security log, newest first: sign-ins, failures, lockouts, sign-outs, password and token
/// changes, refused cross-site requests (admins).
#[utoipa::path(get, path = "/api/v1/security/log", tag = "settings", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<SecurityEvent>), (status = 403, body = ErrorBody)))]
async fn log(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<SecurityEvent>>> {
    Ok(Json(s.app.security_log(&a, q.cursor.as_deref(), q.limit).await?))
}

/// Lift a user's lockout after failed sign-ins (admins).
#[utoipa::path(post, path = "/api/v1/users/{id}/unlock", tag = "directory", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unlock(State(s): State<AppState>, Auth(a): Auth, ApiPath(raw): ApiPath<String>) -> ApiResult<StatusCode> {
    let id = raw.parse::<i64>().ok().filter(|n| *n > 0).ok_or(ApiError::NotFound)?;
    s.app.unlock_user(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
