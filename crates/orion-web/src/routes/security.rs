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
    r.routes(routes!(get_settings, put_settings))
        .routes(routes!(log))
        .routes(routes!(unlock))
        .routes(routes!(my_two_factor, begin_two_factor))
        .routes(routes!(confirm_two_factor))
        .routes(routes!(user_two_factor, reset_two_factor))
}

/// Your two-factor sign-in: whether an authenticator app is set up, recovery codes left, and
/// whether your role requires it (and until when you may still sign in without it).
#[utoipa::path(get, path = "/api/v1/me/two-factor", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = orion_app::mfa::TwoFactorStatus), (status = 401, body = ErrorBody)))]
async fn my_two_factor(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<orion_app::mfa::TwoFactorStatus>> {
    Ok(Json(s.app.two_factor_status(&a).await?))
}

/// Start setting up an authenticator app: a new secret (as text, an `otpauth://` address and a QR
/// code in SVG), in force once confirmed with a code. 409 if one is set up already.
#[utoipa::path(post, path = "/api/v1/me/two-factor", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = orion_app::mfa::Enrolment), (status = 409, body = ErrorBody)))]
async fn begin_two_factor(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<orion_app::mfa::Enrolment>> {
    Ok(Json(s.app.begin_two_factor(&a).await?))
}

/// `POST /api/v1/me/two-factor/confirm`
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CodeInput {
    /// The 6-digit code the app shows
    code: String,
}

/// The ten recovery codes, shown once.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

/// Confirm the authenticator app with its current code: two-factor sign-in is on from now, and the
/// answer holds the ten single-use recovery codes, shown this once.
#[utoipa::path(post, path = "/api/v1/me/two-factor/confirm", tag = "me", request_body = CodeInput,
    security(("bearer" = [])),
    responses((status = 200, body = RecoveryCodes), (status = 422, body = ErrorBody)))]
async fn confirm_two_factor(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(body): ApiJson<CodeInput>,
) -> ApiResult<Json<RecoveryCodes>> {
    Ok(Json(RecoveryCodes { recovery_codes: s.app.confirm_two_factor(&a, &body.code).await? }))
}

/// A user's two-factor sign-in (admins).
#[utoipa::path(get, path = "/api/v1/users/{id}/two-factor", tag = "directory", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = orion_app::mfa::TwoFactorStatus), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn user_two_factor(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<orion_app::mfa::TwoFactorStatus>> {
    Ok(Json(s.app.user_two_factor(&a, id).await?))
}

/// Reset a user's two-factor sign-in (a lost phone): their authenticator app and recovery codes
/// are removed and their sessions end; logged (admins).
#[utoipa::path(delete, path = "/api/v1/users/{id}/two-factor", tag = "directory", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn reset_two_factor(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    s.app.reset_two_factor(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
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
    responses((status = 200, body = SecuritySettings), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
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
