//! Every failure leaves as `{"error": {"code", "message", "fields"}}` with a fitting status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orion_app::AppError;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `validation_failed`, `malformed_json`, `not_found`, …
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// Invalid fields and why, for `validation_failed`.
    pub fields: BTreeMap<String, String>,
}

/// An error a handler or extractor returns.
#[derive(Debug)]
pub enum ApiError {
    App(AppError),
    /// 400: the body is not JSON at all.
    Malformed(String),
    /// 400: something else about the request is off.
    BadRequest(String),
    /// 422 for one named field (a wrong JSON type, an unknown field).
    Field(String, String),
    PayloadTooLarge,
    UnsupportedMediaType,
    NotFound,
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError::App(e)
    }
}

fn body(status: StatusCode, code: &'static str, message: String, fields: BTreeMap<String, String>) -> Response {
    let mut r = (status, Json(ErrorBody { error: ErrorDetail { code, message, fields } })).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let none = BTreeMap::new;
        match self {
            ApiError::Malformed(m) => body(StatusCode::BAD_REQUEST, "malformed_json", m, none()),
            ApiError::BadRequest(m) => body(StatusCode::BAD_REQUEST, "bad_request", m, none()),
            ApiError::Field(f, m) => {
                let message = format!("{f}: {m}");
                body(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", message, BTreeMap::from([(f, m)]))
            }
            ApiError::PayloadTooLarge => body(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the request body is larger than {} bytes", crate::MAX_BODY_BYTES),
                none(),
            ),
            ApiError::UnsupportedMediaType => body(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as Content-Type: application/json".into(),
                none(),
            ),
            ApiError::NotFound => body(StatusCode::NOT_FOUND, "not_found", "no such resource".into(), none()),
            ApiError::App(e) => match e {
                AppError::Unauthorized => body(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "send a valid API token as Authorization: Bearer <token>".into(),
                    none(),
                ),
                AppError::TokenRefused(m) => body(StatusCode::UNAUTHORIZED, "unauthorized", m, none()),
                AppError::Forbidden(m) => body(StatusCode::FORBIDDEN, "forbidden", m, none()),
                AppError::NotFound(what) => {
                    body(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"), none())
                }
                AppError::Validation(errs) => {
                    let fields: BTreeMap<String, String> = errs.iter().fold(BTreeMap::new(), |mut m, f| {
                        m.entry(f.field.clone()).or_insert_with(|| f.message.clone());
                        m
                    });
                    body(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", errs.to_string(), fields)
                }
                AppError::Conflict(m) => body(StatusCode::CONFLICT, "conflict", m, none()),
                AppError::InvalidTransition(t) => {
                    body(StatusCode::CONFLICT, "invalid_transition", t.to_string(), none())
                }
                AppError::Store(_) | AppError::Internal(_) => {
                    tracing::error!(error = %e, "request failed");
                    body(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "internal error; see the server log".into(),
                        none(),
                    )
                }
            },
        }
    }
}

/// The answer to a request whose handler panicked: the panic's message goes to the log (never to
/// the client), the client gets the internal-error envelope.
pub(crate) fn panic_response(cause: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = cause
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| cause.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = what, "a request handler panicked");
    metrics::counter!("orion_http_panics_total").increment(1);
    body(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log".into(), BTreeMap::new())
}
