//! `/api/v1/mail`, `/api/v1/settings/mail`, `/api/v1/attachments`

use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::routes::tickets::PageQuery;
use crate::{AppState, ErrorBody};

use super::ApiResult;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use orion_app::Page;
use orion_app::mail::{InboundMail, MailSettings};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(crate) fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(get_settings, put_settings))
        .routes(routes!(inbound_log))
        .routes(routes!(quarantine))
        .routes(routes!(raw))
        .routes(routes!(reprocess))
        .routes(routes!(discard))
        .routes(routes!(attachment))
}

/// How inbound mail is treated (admins).
#[utoipa::path(get, path = "/api/v1/settings/mail", tag = "mail", security(("bearer" = [])),
    responses((status = 200, body = MailSettings), (status = 403, body = ErrorBody)))]
async fn get_settings(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<MailSettings>> {
    Ok(Json(s.app.get_mail_settings(&actor).await?))
}

/// Replace the mail settings (admins).
#[utoipa::path(put, path = "/api/v1/settings/mail", tag = "mail", request_body = MailSettings,
    security(("bearer" = [])),
    responses((status = 200, body = MailSettings), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_settings(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<MailSettings>,
) -> ApiResult<Json<MailSettings>> {
    Ok(Json(s.app.set_mail_settings(&actor, body).await?))
}

/// Every message received and what became of it, newest first (admins).
#[utoipa::path(get, path = "/api/v1/mail/inbound", tag = "mail", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<InboundMail>), (status = 403, body = ErrorBody)))]
async fn inbound_log(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<InboundMail>>> {
    Ok(Json(s.app.list_inbound_mail(&actor, false, q.cursor.as_deref(), q.limit).await?))
}

/// Messages that could not be processed, with the reason, newest first (admins).
#[utoipa::path(get, path = "/api/v1/mail/quarantine", tag = "mail", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<InboundMail>), (status = 403, body = ErrorBody)))]
async fn quarantine(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<InboundMail>>> {
    Ok(Json(s.app.list_inbound_mail(&actor, true, q.cursor.as_deref(), q.limit).await?))
}

/// The message exactly as received, as `message/rfc822` (admins).
#[utoipa::path(get, path = "/api/v1/mail/inbound/{id}/raw", tag = "mail", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, content_type = "message/rfc822", body = Vec<u8>), (status = 403, body = ErrorBody),
               (status = 404, body = ErrorBody)))]
async fn raw(State(s): State<AppState>, Auth(actor): Auth, Path(id): Path<i64>) -> ApiResult<Response> {
    let bytes = s.app.inbound_mail_raw(&actor, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "message/rfc822".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"message-{id}.eml\"")),
        ],
        bytes,
    )
        .into_response())
}

/// Process a quarantined message again, past the check that held it (admins).
#[utoipa::path(post, path = "/api/v1/mail/quarantine/{id}/reprocess", tag = "mail", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = InboundMail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, body = ErrorBody)))]
async fn reprocess(State(s): State<AppState>, Auth(actor): Auth, Path(id): Path<i64>) -> ApiResult<Json<InboundMail>> {
    Ok(Json(s.app.reprocess_mail(&actor, id).await?))
}

/// Discard a quarantined message; it stays in the log, marked discarded (admins).
#[utoipa::path(post, path = "/api/v1/mail/quarantine/{id}/discard", tag = "mail", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = InboundMail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, body = ErrorBody)))]
async fn discard(State(s): State<AppState>, Auth(actor): Auth, Path(id): Path<i64>) -> ApiResult<Json<InboundMail>> {
    Ok(Json(s.app.discard_mail(&actor, id).await?))
}

/// An attachment of a ticket the caller may see. Images are shown inline, everything else is a
/// download, always sandboxed.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "tickets", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<u8>), (status = 404, body = ErrorBody)))]
async fn attachment(State(s): State<AppState>, Auth(actor): Auth, Path(id): Path<i64>) -> ApiResult<Response> {
    let f = s.app.attachment(&actor, id).await?;
    let inline = matches!(f.content_type.as_str(), "image/png" | "image/jpeg" | "image/gif" | "image/webp");
    let name: String =
        f.filename.chars().map(|c| if c == '"' || c == '\\' || !c.is_ascii() { '_' } else { c }).collect();
    let encoded: String = f
        .filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect();
    let disposition =
        format!("{}; filename=\"{name}\"; filename*=UTF-8''{encoded}", if inline { "inline" } else { "attachment" });
    let content_type = if inline { f.content_type } else { "application/octet-stream".into() };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
            (header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'".into()),
        ],
        f.bytes,
    )
        .into_response())
}
