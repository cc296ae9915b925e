//! Admin pages for the IMAP mailboxes mail is taken from: add, change, poll now, remove, with
//! each mailbox's last poll and last error in sight.

use super::{admin_only, flash, with_status};
use crate::AppState;
use crate::ui::form::{Fields, done, when};
use crate::ui::layout::{Layout, error_page, explain_as, render};
use crate::ui::session::WebUser;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::mailbox::{Mailbox, MailboxInput};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/mailboxes", get(mailboxes).post(create))
        .route("/admin/mailboxes/{id}", get(mailbox_page).post(save))
        .route("/admin/mailboxes/{id}/poll", post(poll))
        .route("/admin/mailboxes/{id}/remove", post(remove))
}

/// The form's labels for the service's field names.
const LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("host", "Server"),
    ("port", "Port"),
    ("security", "Encryption"),
    ("username", "User name"),
    ("auth", "Sign-in method"),
    ("secret", "Password or token"),
    ("folder", "Folder"),
    ("after_fetch", "After a message is taken"),
    ("move_to", "Move to folder"),
    ("poll_seconds", "Check every (seconds)"),
];

/// The form's values: a mailbox being added or changed.
struct Form {
    name: String,
    host: String,
    port: String,
    security: String,
    username: String,
    auth: String,
    has_secret: bool,
    folder: String,
    after_fetch: String,
    move_to: String,
    poll_seconds: String,
    enabled: bool,
}

impl Form {
    fn blank() -> Self {
        Form {
            name: String::new(),
            host: String::new(),
            port: String::new(),
            security: "tls".into(),
            username: String::new(),
            auth: "password".into(),
            has_secret: false,
            folder: "INBOX".into(),
            after_fetch: "flag".into(),
            move_to: String::new(),
            poll_seconds: "60".into(),
            enabled: true,
        }
    }

    fn of(m: &Mailbox) -> Self {
        Form {
            name: m.name.clone(),
            host: m.host.clone(),
            port: m.port.to_string(),
            security: m.security.clone(),
            username: m.username.clone(),
            auth: m.auth.clone(),
            has_secret: m.has_secret,
            folder: m.folder.clone(),
            after_fetch: m.after_fetch.clone(),
            move_to: m.move_to.clone().unwrap_or_default(),
            poll_seconds: m.poll_seconds.to_string(),
            enabled: m.enabled,
        }
    }

    /// What the form posted, as the service takes it (a blank password keeps the stored one).
    fn read(f: &Fields) -> (Self, MailboxInput) {
        let t = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
        let form = Form {
            name: t("name"),
            host: t("host"),
            port: t("port"),
            security: t("security"),
            username: t("username"),
            auth: t("auth"),
            has_secret: false,
            folder: t("folder"),
            after_fetch: t("after_fetch"),
            move_to: t("move_to"),
            poll_seconds: t("poll_seconds"),
            enabled: f.checked("enabled"),
        };
        let some = |v: &str| Some(v.to_string()).filter(|v| !v.is_empty());
        let input = MailboxInput {
            name: Some(form.name.clone()),
            host: Some(form.host.clone()),
            port: f.int("port"),
            security: some(&form.security),
            username: Some(form.username.clone()),
            auth: some(&form.auth),
            secret: f.get("secret").filter(|s| !s.is_empty()).map(str::to_string),
            secret_file: None,
            folder: some(&form.folder),
            after_fetch: some(&form.after_fetch),
            move_to: some(&form.move_to),
            poll_seconds: f.int("poll_seconds"),
            enabled: Some(form.enabled),
        };
        (form, input)
    }
}

struct Row {
    id: i64,
    name: String,
    server: String,
    fetched: i64,
    last: String,
    error: Option<String>,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "admin/mailboxes.html")]
struct MailboxesPage {
    l: Layout,
    rows: Vec<Row>,
    f: Form,
    error: Option<String>,
}

async fn list_page(
    s: &AppState,
    user: &WebUser,
    flash_key: Option<&str>,
    form: Option<Form>,
    error: Option<String>,
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let list = match s.app.list_mailboxes(&user.actor).await {
        Ok(l) => l,
        Err(e) => return error_page(Some(user), &e),
    };
    let rows = list
        .iter()
        .map(|m| Row {
            id: m.id,
            name: m.name.clone(),
            server: format!("{}:{} ({})", m.host, m.port, m.username),
            fetched: m.fetched,
            last: m.last_polled_at.as_deref().map(when).unwrap_or_else(|| "not yet".into()),
            error: m.last_error.clone(),
            state: if m.enabled { "Checked" } else { "Switched off" },
        })
        .collect();
    let p = MailboxesPage {
        l: Layout::new(Some(user), "Mailboxes", "admin", flash_key),
        rows,
        f: form.unwrap_or_else(Form::blank),
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn mailboxes(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    list_page(&s, &user, flash(&q), None, None).await
}

async fn create(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let (form, input) = Form::read(&f);
    match s.app.create_mailbox(&user.actor, input).await {
        Ok(m) => done(&format!("/admin/mailboxes/{}", m.id), "mailbox_added"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            list_page(&s, &user, None, Some(form), Some(explain_as(&e, LABELS))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Template)]
#[template(path = "admin/mailbox.html")]
struct MailboxPage {
    l: Layout,
    id: i64,
    m: Mailbox,
    last_polled: String,
    last_ok: String,
    f: Form,
    /// What "Poll now" found
    report: Option<String>,
    error: Option<String>,
}

async fn one_page(
    s: &AppState,
    user: &WebUser,
    id: i64,
    flash_key: Option<&str>,
    form: Option<Form>,
    (report, error): (Option<String>, Option<String>),
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let m = match s.app.list_mailboxes(&user.actor).await {
        Ok(l) => match l.into_iter().find(|m| m.id == id) {
            Some(m) => m,
            None => return error_page(Some(user), &AppError::NotFound("mailbox")),
        },
        Err(e) => return error_page(Some(user), &e),
    };
    let mut f = form.unwrap_or_else(|| Form::of(&m));
    f.has_secret = m.has_secret;
    let p = MailboxPage {
        l: Layout::new(Some(user), format!("Mailbox {}", m.name), "admin", flash_key),
        id,
        last_polled: m.last_polled_at.as_deref().map(when).unwrap_or_else(|| "not yet".into()),
        last_ok: m.last_ok_at.as_deref().map(when).unwrap_or_else(|| "never".into()),
        m,
        f,
        report,
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn mailbox_page(
    State(s): State<AppState>,
    user: WebUser,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    one_page(&s, &user, id, flash(&q), None, (None, None)).await
}

async fn save(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>, f: Fields) -> Response {
    let (form, input) = Form::read(&f);
    match s.app.update_mailbox(&user.actor, id, input).await {
        Ok(_) => done(&format!("/admin/mailboxes/{id}"), "mailbox_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            one_page(&s, &user, id, None, Some(form), (None, Some(explain_as(&e, LABELS)))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// "Check now": polls at once and says what happened on the page.
async fn poll(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    let report = match s.app.poll_mailbox_now(&user.actor, id).await {
        Ok(r) if !r.polled => "Another node is reading this mailbox right now; try again in a moment.".to_string(),
        Ok(r) => match r.error {
            Some(e) => format!("The check failed: {e}"),
            None if r.fetched == 0 => "Connected and signed in; no new messages.".to_string(),
            None => format!(
                "Connected and signed in; took {} new message{} ({} seen before).",
                r.fetched,
                if r.fetched == 1 { "" } else { "s" },
                r.duplicates
            ),
        },
        Err(e) => return error_page(Some(&user), &e),
    };
    one_page(&s, &user, id, None, None, (Some(report), None)).await
}

async fn remove(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.delete_mailbox(&user.actor, id).await {
        Ok(()) => done("/admin/mailboxes", "mailbox_removed"),
        Err(e) => error_page(Some(&user), &e),
    }
}
