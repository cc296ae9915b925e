//! `/api/v1/mail`, `/api/v1/settings/mail`, `/api/v1/attachments`

use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::routes::tickets::PageQuery;
use crate::{AppState, ErrorBody};

use super::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use orion_app::Page;
use orion_app::mail::{InboundMail, MailSettings};
use orion_app::mailbox::{Mailbox, MailboxInput, PollReport};
use orion_app::outbox::OutboundMail;
use serde::Deserialize;
use utoipa_axum::routes;

pub(crate) fn routes(r: super::ApiRoutes) -> super::ApiRoutes {
    r.routes(routes!(get_settings, put_settings))
        .routes(routes!(inbound_log))
        .routes(routes!(quarantine))
        .routes(routes!(raw))
        .routes(routes!(reprocess))
        .routes(routes!(discard))
        .routes(routes!(attachment))
        .routes(routes!(list_mailboxes, create_mailbox))
        .routes(routes!(update_mailbox, delete_mailbox))
        .routes(routes!(poll_mailbox))
        .routes(routes!(outbound_log))
        .routes(routes!(outbound_raw))
        .routes(routes!(retry_outbound))
        .routes(routes!(test_relay))
        .routes(routes!(list_templates))
        .routes(routes!(put_template, reset_template))
        .routes(routes!(preview_template))
}

/// Every mail template with the text in use (admins).
#[utoipa::path(get, path = "/api/v1/settings/mail-templates", tag = "mail", security(("bearer" = [])),
    responses((status = 200, body = Vec<orion_app::mail_templates::MailTemplate>), (status = 403, body = ErrorBody)))]
async fn list_templates(
    State(s): State<AppState>,
    Auth(actor): Auth,
) -> ApiResult<Json<Vec<orion_app::mail_templates::MailTemplate>>> {
    Ok(Json(s.app.mail_templates(&actor).await?))
}

/// Saves an edited template for every node, after trying it with sample data (admins).
#[utoipa::path(put, path = "/api/v1/settings/mail-templates/{name}", tag = "mail",
    params(("name" = String, Path, description = "received, public_reply, state_changed, resolved, password_reset")),
    request_body = orion_app::mail_templates::MailTemplateInput, security(("bearer" = [])),
    responses((status = 200, body = orion_app::mail_templates::MailTemplate), (status = 403, body = ErrorBody),
               (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_template(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<orion_app::mail_templates::MailTemplateInput>,
) -> ApiResult<Json<orion_app::mail_templates::MailTemplate>> {
    Ok(Json(s.app.put_mail_template(&actor, &name, &body.source).await?))
}

/// Goes back to the node's file or the built-in text (admins).
#[utoipa::path(delete, path = "/api/v1/settings/mail-templates/{name}", tag = "mail",
    params(("name" = String, Path, description = "received, public_reply, state_changed, resolved, password_reset")),
    security(("bearer" = [])),
    responses((status = 200, body = orion_app::mail_templates::MailTemplate), (status = 403, body = ErrorBody),
               (status = 404, body = ErrorBody)))]
async fn reset_template(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<orion_app::mail_templates::MailTemplate>> {
    Ok(Json(s.app.reset_mail_template(&actor, &name).await?))
}

/// What a template text would send, with sample data; writes nothing (admins).
#[utoipa::path(post, path = "/api/v1/settings/mail-templates/{name}/preview", tag = "mail",
    params(("name" = String, Path, description = "received, public_reply, state_changed, resolved, password_reset")),
    request_body = orion_app::mail_templates::MailTemplateInput, security(("bearer" = [])),
    responses((status = 200, body = orion_app::mail_templates::MailPreview), (status = 403, body = ErrorBody),
               (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn preview_template(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<orion_app::mail_templates::MailTemplateInput>,
) -> ApiResult<Json<orion_app::mail_templates::MailPreview>> {
    Ok(Json(s.app.preview_mail_template(&actor, &name, &body.source).await?))
}

/// Sends a test message through this node's SMTP relay at once and says what it answered (admins).
#[utoipa::path(post, path = "/api/v1/mail/test", tag = "mail", request_body = orion_app::mail::RelayTestInput,
    security(("bearer" = [])),
    responses((status = 200, body = orion_app::mail::RelayTest), (status = 403, body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn test_relay(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<orion_app::mail::RelayTestInput>,
) -> ApiResult<Json<orion_app::mail::RelayTest>> {
    Ok(Json(s.app.send_test_mail(&actor, &body).await?))
}

fn eml(bytes: Vec<u8>, name: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "message/rfc822".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.eml\"")),
        ],
        bytes,
    )
        .into_response()
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
async fn raw(State(s): State<AppState>, Auth(actor): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<Response> {
    Ok(eml(s.app.inbound_mail_raw(&actor, id).await?, format!("message-{id}")))
}

/// Process a quarantined message again, past the check that held it (admins).
#[utoipa::path(post, path = "/api/v1/mail/quarantine/{id}/reprocess", tag = "mail", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = InboundMail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, body = ErrorBody)))]
async fn reprocess(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<InboundMail>> {
    Ok(Json(s.app.reprocess_mail(&actor, id).await?))
}

/// Discard a quarantined message; it stays in the log, marked discarded (admins).
#[utoipa::path(post, path = "/api/v1/mail/quarantine/{id}/discard", tag = "mail", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = InboundMail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, body = ErrorBody)))]
async fn discard(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<InboundMail>> {
    Ok(Json(s.app.discard_mail(&actor, id).await?))
}

/// An attachment of a ticket the caller may see. Images are shown inline, everything else is a
/// download, always sandboxed.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "tickets", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<u8>), (status = 404, body = ErrorBody)))]
async fn attachment(State(s): State<AppState>, Auth(actor): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<Response> {
    Ok(crate::file_response(s.app.attachment(&actor, id).await?))
}

/// The IMAP mailboxes Orion polls, with how polling goes; secrets are never shown (admins).
#[utoipa::path(get, path = "/api/v1/mail/mailboxes", tag = "mail", security(("bearer" = [])),
    responses((status = 200, body = Vec<Mailbox>), (status = 403, body = ErrorBody)))]
async fn list_mailboxes(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<Mailbox>>> {
    Ok(Json(s.app.list_mailboxes(&actor).await?))
}

/// Add a mailbox to poll (admins).
#[utoipa::path(post, path = "/api/v1/mail/mailboxes", tag = "mail", request_body = MailboxInput,
    security(("bearer" = [])),
    responses((status = 201, body = Mailbox), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_mailbox(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<MailboxInput>,
) -> ApiResult<(axum::http::StatusCode, Json<Mailbox>)> {
    Ok((axum::http::StatusCode::CREATED, Json(s.app.create_mailbox(&actor, body).await?)))
}

/// Replace a mailbox's settings; leave out `secret` to keep the stored one (admins).
#[utoipa::path(put, path = "/api/v1/mail/mailboxes/{id}", tag = "mail", params(("id" = i64, Path)),
    request_body = MailboxInput, security(("bearer" = [])),
    responses((status = 200, body = Mailbox), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 422, body = ErrorBody)))]
async fn update_mailbox(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<MailboxInput>,
) -> ApiResult<Json<Mailbox>> {
    Ok(Json(s.app.update_mailbox(&actor, id, body).await?))
}

/// Stop polling a mailbox and forget it; the mail taken from it stays (admins).
#[utoipa::path(delete, path = "/api/v1/mail/mailboxes/{id}", tag = "mail", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_mailbox(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<axum::http::StatusCode> {
    s.app.delete_mailbox(&actor, id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Poll a mailbox now and report what happened: a connection test, or not waiting for the next
/// poll (admins). `polled: false` means another node is polling it at this moment.
#[utoipa::path(post, path = "/api/v1/mail/mailboxes/{id}/poll", tag = "mail", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = PollReport), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn poll_mailbox(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PollReport>> {
    Ok(Json(s.app.poll_mailbox_now(&actor, id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct OutboxQuery {
    /// Only mail not sent yet: queued (waiting or retrying) and failed
    #[serde(default)]
    unsent: bool,
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// Mail Orion sent or is sending, newest first (admins).
#[utoipa::path(get, path = "/api/v1/mail/outbound", tag = "mail", params(OutboxQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<OutboundMail>), (status = 403, body = ErrorBody)))]
async fn outbound_log(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> ApiResult<Json<Page<OutboundMail>>> {
    Ok(Json(s.app.list_outbound_mail(&actor, q.unsent, q.cursor.as_deref(), q.limit).await?))
}

/// A sent message exactly as handed to the relay, as `message/rfc822` (admins).
#[utoipa::path(get, path = "/api/v1/mail/outbound/{id}/raw", tag = "mail", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, content_type = "message/rfc822", body = Vec<u8>), (status = 403, body = ErrorBody),
               (status = 404, body = ErrorBody)))]
async fn outbound_raw(State(s): State<AppState>, Auth(actor): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<Response> {
    Ok(eml(s.app.outbound_mail_raw(&actor, id).await?, format!("sent-{id}")))
}

/// Queue a failed message again (admins).
#[utoipa::path(post, path = "/api/v1/mail/outbound/{id}/retry", tag = "mail", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = OutboundMail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, body = ErrorBody)))]
async fn retry_outbound(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<OutboundMail>> {
    Ok(Json(s.app.retry_outbound_mail(&actor, id).await?))
}
