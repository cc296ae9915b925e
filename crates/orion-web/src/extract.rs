//! Extractors that turn bad input into the same error shape as everything else.

use crate::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{StatusCode, header, request::Parts};
use orion_domain::Actor;
use serde::de::DeserializeOwned;

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
}

/// The authenticated caller, from `Authorization: Bearer <token>`.
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or(ApiError::App(orion_app::AppError::Unauthorized))?;
        Ok(Auth(state.app.authenticate(token).await?))
    }
}

/// Names the field behind a serde error: the path, or the name in backticks.
fn field_of(path: &str, message: &str) -> String {
    if !path.is_empty() && path != "." {
        return path.to_string();
    }
    message.split('`').nth(1).map(str::to_string).unwrap_or_else(|| "body".to_string())
}

fn short(message: &str) -> String {
    // serde appends ", expected one of …" and positions; keep the first clause.
    let m = message.split(" at line ").next().unwrap_or(message);
    m.to_string()
}

/// A JSON body; malformed JSON is 400, a wrong field is 422 naming it, too big is 413.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .is_some_and(|ct| ct == "application/json" || ct.ends_with("+json"));
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        // Refuse a declared oversize body before reading any of it.
        let declared =
            req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > crate::MAX_BODY_BYTES as u64) {
            return Err(ApiError::PayloadTooLarge);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(e.body_text())
            }
        })?;
        let mut json: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::Malformed(format!("the body is not valid JSON: {e}")))?;
        if let Some(field) = field_with_nul(&json, "") {
            return Err(ApiError::Field(field, NUL_REFUSED.into()));
        }
        whole_numbers_as_integers(&mut json);
        let value = serde_path_to_error::deserialize(json).map_err(|e| {
            let path = e.path().to_string();
            let msg = e.into_inner().to_string();
            ApiError::Field(field_of(&path, &msg), short(&msg))
        })?;
        Ok(ApiJson(value))
    }
}

/// PostgreSQL text cannot hold U+0000 and no field of Orion's means one; refused on both engines
/// alike (it was a 500 on PostgreSQL where a lookup took it).
const NUL_REFUSED: &str = "must not contain the NUL character (U+0000)";

/// The first field (as `a.b[2]`) whose text holds U+0000.
fn field_with_nul(v: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::String(s) if s.contains('\0') => Some(if at.is_empty() { "body".into() } else { at.into() }),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, x)| field_with_nul(x, &format!("{at}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(k, x)| {
            if k.contains('\0') {
                return Some(k.replace('\0', "\\0"));
            }
            field_with_nul(x, &if at.is_empty() { k.clone() } else { format!("{at}.{k}") })
        }),
        _ => None,
    }
}

/// JSON has one number type: `2.0` is the integer 2 (JSON Schema says so too, and clients that
/// hold every number as a double send it so). Rewrites whole numbers that fit an `i64` as integers,
/// so integer fields take them; fractions stay and are refused by integer fields as before.
fn whole_numbers_as_integers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64())
                && f.fract() == 0.0
                && f.abs() <= 9_007_199_254_740_992.0
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// Path parameters. One that does not parse (an id that is not a number) names no resource: 404
/// with the error envelope, like an id that parses but is unknown.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // No record's name or number holds U+0000 (PostgreSQL text cannot).
        if parts.uri.path().contains("%00") {
            return Err(ApiError::NotFound);
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(_) => Err(ApiError::NotFound),
        }
    }
}

/// Query parameters; a wrong or unknown one is 422 naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        if let Some((name, _)) =
            form_urlencoded::parse(q.as_bytes()).find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(ApiError::Field(name.replace('\0', "\\0"), NUL_REFUSED.into()));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let path = e.path().to_string();
            let msg = e.into_inner().to_string();
            ApiError::Field(field_of(&path, &msg), short(&msg))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{field_with_nul, whole_numbers_as_integers};
    use serde_json::json;

    #[test]
    fn whole_numbers_become_integers_and_fractions_stay() {
        let mut v = json!({"seats": 2.0, "cost": -3516931.0, "similarity": 0.4, "rows": [[1.0, 2]], "huge": 1e300});
        whole_numbers_as_integers(&mut v);
        assert_eq!(v, json!({"seats": 2, "cost": -3516931, "similarity": 0.4, "rows": [[1, 2]], "huge": 1e300}));
    }

    #[test]
    fn text_holding_nul_is_named_by_its_path() {
        assert_eq!(field_with_nul(&json!({"title": "fine", "cc": ["a", "b\u{0}"]}), ""), Some("cc[1]".into()));
        assert_eq!(field_with_nul(&json!({"settings": {"x": "\u{0}"}}), ""), Some("settings.x".into()));
        assert_eq!(field_with_nul(&json!({"title": "fine"}), ""), None);
    }
}
