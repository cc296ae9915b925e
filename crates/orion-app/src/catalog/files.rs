//! Files that answer a form's attachment questions ("a screenshot of the error", "the signed
//! form"): one file per question, sent with the request — a multipart form on the portal, or in
//! the API's JSON as the answer `{"filename", "content_type"?, "data_base64"}`, the shape a
//! comment's attachments take. They are checked with the other answers before anything is
//! written, stored with the request in its transaction, and each answer links to its file.

use crate::AppResult;
use crate::kernel::uploads::{MAX_FILES_TOTAL, Upload, push_upload_errors};
use crate::views::AttachmentInput;
use orion_domain::FieldErrors;
use orion_domain::catalog::{Form, QuestionKind, answer_field};
use orion_store::Conn;
use std::collections::BTreeMap;

/// Takes the files sent in JSON out of `answers` (an object with `data_base64` is a file) and
/// adds them to `files`, by question key.
pub(super) fn take_json_files(
    answers: &mut BTreeMap<String, serde_json::Value>,
    files: &mut Vec<(String, Upload)>,
    errs: &mut FieldErrors,
) {
    let keys: Vec<String> = answers
        .iter()
        .filter(|(_, v)| v.as_object().is_some_and(|o| o.contains_key("data_base64")))
        .map(|(k, _)| k.clone())
        .collect();
    for key in keys {
        let Some(v) = answers.remove(&key) else { continue };
        let field = answer_field(&key);
        let a: AttachmentInput = match serde_json::from_value(v) {
            Ok(a) => a,
            Err(e) => {
                errs.push(field, format!("a file is {{\"filename\", \"content_type\", \"data_base64\"}} ({e})"));
                continue;
            }
        };
        match a.into_upload() {
            Some(f) => files.push((key, f)),
            None => errs.push(format!("{field}.data_base64"), "is not valid base64"),
        }
    }
}

/// Matches the files to the form's attachment questions: each file's name becomes its question's
/// answer in `raw` (so a required file question is answered by its file), and a file question
/// answered with text alone is refused. The files kept, by question key.
pub(super) fn match_files(
    form: &Form,
    raw: &mut BTreeMap<String, Vec<String>>,
    files: Vec<(String, Upload)>,
    errs: &mut FieldErrors,
) -> BTreeMap<String, Upload> {
    let mut kept: BTreeMap<String, Upload> = BTreeMap::new();
    let mut total = 0usize;
    for (key, f) in files {
        let field = answer_field(&key);
        match form.question(&key) {
            Some(q) if q.kind == QuestionKind::Attachment => {}
            Some(q) => {
                errs.push(field, format!("{}: takes no file", q.label));
                continue;
            }
            None => {
                errs.push(field, "the form has no such question");
                continue;
            }
        }
        let mut own = FieldErrors::new();
        push_upload_errors(&mut own, std::slice::from_ref(&f));
        for e in own.iter() {
            errs.push(field.clone(), e.message.clone());
        }
        total += f.bytes.len();
        if kept.contains_key(&key) {
            errs.push(field, "one file per question");
            continue;
        }
        kept.insert(key, f);
    }
    if total > MAX_FILES_TOTAL {
        errs.push("answers", format!("the files come to more than {} MiB in all", MAX_FILES_TOTAL >> 20));
    }
    for q in form.questions().filter(|q| q.kind == QuestionKind::Attachment) {
        match kept.get(&q.key) {
            Some(f) => {
                raw.insert(q.key.clone(), vec![f.filename.clone()]);
            }
            None => {
                if raw.remove(&q.key).is_some_and(|v| v.iter().any(|t| !t.trim().is_empty())) {
                    errs.push(
                        answer_field(&q.key),
                        format!(
                            "{}: attach the file itself (the portal's form, or {{\"filename\", \"data_base64\"}})",
                            q.label
                        ),
                    );
                }
            }
        }
    }
    kept
}

/// Stores a file answering a question of request `ticket_id`, in the caller's transaction: the
/// attachment's id, which its answer row refers to.
pub(super) async fn store(c: &mut Conn<'_>, ticket_id: i64, f: &Upload, now: i64) -> AppResult<i64> {
    let sha = orion_mail::sha256_hex(&f.bytes);
    orion_store::mail::put_blob(c, &sha, &f.bytes, now).await?;
    let a = orion_store::mail::NewAttachment {
        ticket_id,
        entry_id: None,
        filename: &f.filename,
        content_type: &f.content_type,
        size: f.bytes.len() as i64,
        sha256: &sha,
        content_id: None,
        inline: false,
    };
    Ok(orion_store::mail::add_attachment(c, &a, now).await?)
}
