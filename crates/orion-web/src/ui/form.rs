//! Form helpers: the fields of a submitted form, multipart forms with files, the redirect after a
//! successful form, and the small text helpers every page uses.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use orion_app::kernel::uploads::Upload;

/// The fields of a submitted form, in order (repeated names kept: multi-selects, checkboxes).
pub(crate) struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The field's text, or `None` when missing or blank.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v == "on" || v == "true" || v == "1")
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(|v| v.trim().parse().ok())
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| (StatusCode::PAYLOAD_TOO_LARGE, e.body_text()).into_response())?;
        Ok(Fields(form_urlencoded::parse(&bytes).into_owned().collect()))
    }
}

/// A submitted form in either encoding: its fields, and its files when it was sent as
/// `multipart/form-data` (forms with a file input), none otherwise.
pub(crate) struct FormWithFiles(pub Fields, pub Vec<Upload>);

impl<S: Send + Sync> FromRequest<S> for FormWithFiles {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let FormWithNamedFiles(fields, files) = FormWithNamedFiles::from_request(req, state).await?;
        Ok(FormWithFiles(fields, files.into_iter().map(|(_, f)| f).collect()))
    }
}

/// [`FormWithFiles`] with each file's field name (a form with several file inputs).
pub(crate) struct FormWithNamedFiles(pub Fields, pub Vec<(String, Upload)>);

impl<S: Send + Sync> FromRequest<S> for FormWithNamedFiles {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let multipart = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            return Ok(FormWithNamedFiles(Fields::from_request(req, state).await?, Vec::new()));
        }
        let m = Multipart::from_request(req, state).await.map_err(IntoResponse::into_response)?;
        let (fields, files) =
            read_named_multipart(m).await.map_err(|e| (StatusCode::PAYLOAD_TOO_LARGE, e).into_response())?;
        Ok(FormWithNamedFiles(fields, files))
    }
}

/// Reads a multipart form: its text fields and its files (empty file inputs skipped).
pub(crate) async fn read_multipart(m: Multipart) -> Result<(Fields, Vec<Upload>), String> {
    let (fields, files) = read_named_multipart(m).await?;
    Ok((fields, files.into_iter().map(|(_, f)| f).collect()))
}

/// [`read_multipart`] with each file's field name.
async fn read_named_multipart(mut m: Multipart) -> Result<(Fields, Vec<(String, Upload)>), String> {
    let mut fields = Vec::new();
    let mut files = Vec::new();
    loop {
        let field = match m.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(format!("the form could not be read ({e}); files may be too large")),
        };
        let name = field.name().unwrap_or_default().to_string();
        match field.file_name().map(str::to_string) {
            Some(filename) => {
                let content_type = field.content_type().unwrap_or("application/octet-stream").to_string();
                let bytes = field.bytes().await.map_err(|e| format!("{filename} could not be read ({e})"))?;
                if filename.is_empty() && bytes.is_empty() {
                    continue;
                }
                let filename = filename.rsplit(['/', '\\']).next().unwrap_or("file").to_string();
                files.push((name, Upload { filename, content_type, bytes: bytes.to_vec() }));
            }
            None => {
                let text = field.text().await.map_err(|e| format!("field {name} could not be read ({e})"))?;
                fields.push((name, text));
            }
        }
    }
    Ok((Fields(fields), files))
}

pub(crate) fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// One segment of a path (`Berlin office` → `Berlin%20office`): unlike a query value, a `+` in a
/// path is not a space.
pub(crate) fn encode_segment(s: &str) -> String {
    encode(s).replace('+', "%20")
}

/// Readable time for pages: `2026-11-22 14:03 UTC` (the browser shows it in local time).
pub(crate) fn when(rfc3339: &str) -> String {
    let t = rfc3339.replace('T', " ");
    let t = t.split('.').next().unwrap_or(&t).trim_end_matches('Z');
    let t = t.get(..16).unwrap_or(t);
    format!("{t} UTC")
}

/// Human words for a machine value (`in_progress` → `in progress`).
pub(crate) fn words(s: &str) -> String {
    s.replace('_', " ")
}

/// A redirect after a successful form (POST → GET), with a message key.
pub(crate) fn done(path: &str, message: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{sep}m={message}")).into_response()
}
