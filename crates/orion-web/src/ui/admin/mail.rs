//! Admin page for mail: the helpdesk addresses, who Orion's mail comes from, the portal address
//! for links, which mails requesters get, how unknown senders and strangers' replies are treated,
//! and a test of the outbound relay that says what it answered.

use super::{admin_only, flash, with_status};
use crate::AppState;
use crate::ui::form::{Fields, done};
use crate::ui::layout::{Layout, error_page, explain_as, render};
use crate::ui::session::WebUser;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::mail::{MailSettings, RelayTestInput};
use orion_domain::FieldErrors;
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/mail", get(mail).post(save))
        .route("/admin/mail/test", post(test))
        .route("/admin/mail/templates/{name}", get(template_page).post(template_save))
        .route("/admin/mail/templates/{name}/reset", post(template_reset))
}

const LABELS: &[(&str, &str)] = &[
    ("addresses", "Helpdesk addresses"),
    ("from_address", "Mail comes from"),
    ("from_name", "Sender name"),
    ("portal_url", "Portal address"),
    ("notify", "Requesters get a mail when"),
    ("unknown_senders", "Mail from someone Orion does not know"),
    ("non_participant_replies", "A reply from someone not on the ticket"),
    ("max_message_bytes", "Largest message (MB)"),
    ("auto_reply_limit_per_hour", "At most automatic mails per address and hour"),
    ("to", "Send a test message to"),
];

const NOTICES: &[(&str, &str)] = &[
    ("received", "their ticket is logged"),
    ("public_reply", "an agent replies"),
    ("state_changed", "its state changes"),
    ("resolved", "it is resolved"),
];

/// The form's values, as typed.
struct Form {
    addresses: String,
    from_address: String,
    from_name: String,
    portal_url: String,
    notify: Vec<String>,
    unknown_senders: String,
    non_participant_replies: String,
    max_mb: String,
    auto_limit: String,
}

impl Form {
    fn of(s: &MailSettings) -> Self {
        Form {
            addresses: s.addresses.join("\n"),
            from_address: s.from_address.clone().unwrap_or_default(),
            from_name: s.from_name.clone(),
            portal_url: s.portal_url.clone().unwrap_or_default(),
            notify: s.notify.clone(),
            unknown_senders: s.unknown_senders.clone(),
            non_participant_replies: s.non_participant_replies.clone(),
            max_mb: (s.max_message_bytes / (1024 * 1024)).to_string(),
            auto_limit: s.auto_reply_limit_per_hour.to_string(),
        }
    }

    fn read(f: &Fields, errs: &mut FieldErrors) -> (Self, MailSettings) {
        let t = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
        let form = Form {
            addresses: t("addresses"),
            from_address: t("from_address"),
            from_name: t("from_name"),
            portal_url: t("portal_url"),
            notify: f.all("notify"),
            unknown_senders: t("unknown_senders"),
            non_participant_replies: t("non_participant_replies"),
            max_mb: t("max_mb"),
            auto_limit: t("auto_limit"),
        };
        let number = |v: &str, field: &str, errs: &mut FieldErrors| -> i64 {
            v.parse().unwrap_or_else(|_| {
                errs.push(field, format!("{v:?} is not a whole number"));
                0
            })
        };
        let settings = MailSettings {
            addresses: form
                .addresses
                .split(['\n', ',', ' '])
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect(),
            unknown_senders: form.unknown_senders.clone(),
            non_participant_replies: form.non_participant_replies.clone(),
            max_message_bytes: number(&form.max_mb, "max_message_bytes", errs).saturating_mul(1024 * 1024),
            from_address: Some(form.from_address.clone()).filter(|v| !v.is_empty()),
            from_name: form.from_name.clone(),
            notify: form.notify.clone(),
            auto_reply_limit_per_hour: number(&form.auto_limit, "auto_reply_limit_per_hour", errs),
            portal_url: Some(form.portal_url.clone()).filter(|v| !v.is_empty()),
        };
        (form, settings)
    }

    fn sends(&self, n: &&str) -> bool {
        self.notify.iter().any(|x| x == *n)
    }
}

#[derive(Template)]
#[template(path = "admin/mail.html")]
struct MailPage {
    l: Layout,
    f: Form,
    notices: &'static [(&'static str, &'static str)],
    sender: Option<String>,
    templates: Vec<orion_app::mail_templates::MailTemplate>,
    test_to: String,
    report: Option<(bool, String)>,
    test_error: Option<String>,
    error: Option<String>,
}

struct Shown {
    form: Option<Form>,
    test_to: String,
    report: Option<(bool, String)>,
    test_error: Option<String>,
    error: Option<String>,
}

async fn page(s: &AppState, user: &WebUser, flash_key: Option<&str>, shown: Shown) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let settings = match s.app.get_mail_settings(&user.actor).await {
        Ok(m) => m,
        Err(e) => return error_page(Some(user), &e),
    };
    let templates = s.app.mail_templates(&user.actor).await.unwrap_or_default();
    let p = MailPage {
        l: Layout::new(Some(user), "Mail", "admin", flash_key),
        templates,
        f: shown.form.unwrap_or_else(|| Form::of(&settings)),
        notices: NOTICES,
        sender: settings.sender().map(str::to_string),
        test_to: if shown.test_to.is_empty() { user.me.email.clone() } else { shown.test_to },
        report: shown.report,
        test_error: shown.test_error,
        error: shown.error,
    };
    let err = p.error.clone().or(p.test_error.clone());
    with_status(render(&p), &err)
}

fn nothing() -> Shown {
    Shown { form: None, test_to: String::new(), report: None, test_error: None, error: None }
}

async fn mail(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    page(&s, &user, flash(&q), nothing()).await
}

async fn save(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let mut errs = FieldErrors::new();
    let (form, settings) = Form::read(&f, &mut errs);
    let result = match errs.into_result() {
        Ok(()) => s.app.set_mail_settings(&user.actor, settings).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => done("/admin/mail", "settings_saved"),
        Err(e @ AppError::Validation(_)) => {
            page(&s, &user, None, Shown { form: Some(form), error: Some(explain_as(&e, LABELS)), ..nothing() }).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// "Send a test message": the relay's answer, on the page.
async fn test(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let to = f.get("to").unwrap_or_default().trim().to_string();
    match s.app.send_test_mail(&user.actor, &RelayTestInput { to: to.clone() }).await {
        Ok(r) => page(&s, &user, None, Shown { test_to: to, report: Some((r.sent, r.message)), ..nothing() }).await,
        Err(e @ AppError::Validation(_)) => {
            page(&s, &user, None, Shown { test_to: to, test_error: Some(explain_as(&e, LABELS)), ..nothing() }).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Template)]
#[template(path = "admin/mail_template.html")]
struct TemplatePage {
    l: Layout,
    name: String,
    label: String,
    edited: bool,
    source: String,
    preview: Option<orion_app::mail_templates::MailPreview>,
    error: Option<String>,
}

async fn template_view(
    s: &AppState,
    user: &WebUser,
    name: &str,
    flash_key: Option<&str>,
    typed: Option<String>,
    (preview, error): (Option<orion_app::mail_templates::MailPreview>, Option<String>),
) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let t = match s.app.mail_templates(&user.actor).await {
        Ok(all) => match all.into_iter().find(|t| t.name == name) {
            Some(t) => t,
            None => return error_page(Some(user), &AppError::NotFound("mail template")),
        },
        Err(e) => return error_page(Some(user), &e),
    };
    let p = TemplatePage {
        l: Layout::new(Some(user), format!("Mail template: {}", t.label), "admin", flash_key),
        name: t.name,
        label: t.label,
        edited: t.edited,
        source: typed.unwrap_or(t.source),
        preview,
        error,
    };
    let err = p.error.clone();
    with_status(render(&p), &err)
}

async fn template_page(
    State(s): State<AppState>,
    user: WebUser,
    axum::extract::Path(name): axum::extract::Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    template_view(&s, &user, &name, flash(&q), None, (None, None)).await
}

/// One form, two buttons: "Preview" shows what the text would send; "Save" keeps it.
async fn template_save(
    State(s): State<AppState>,
    user: WebUser,
    axum::extract::Path(name): axum::extract::Path<String>,
    f: Fields,
) -> Response {
    let source = f.get("source").unwrap_or_default().to_string();
    let labels = [("source", "Template")];
    if f.get("do") == Some("preview") {
        return match s.app.preview_mail_template(&user.actor, &name, &source).await {
            Ok(p) => template_view(&s, &user, &name, None, Some(source), (Some(p), None)).await,
            Err(e @ AppError::Validation(_)) => {
                template_view(&s, &user, &name, None, Some(source), (None, Some(explain_as(&e, &labels)))).await
            }
            Err(e) => error_page(Some(&user), &e),
        };
    }
    match s.app.put_mail_template(&user.actor, &name, &source).await {
        Ok(_) => done(&format!("/admin/mail/templates/{name}"), "template_saved_mail"),
        Err(e @ AppError::Validation(_)) => {
            template_view(&s, &user, &name, None, Some(source), (None, Some(explain_as(&e, &labels)))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn template_reset(
    State(s): State<AppState>,
    user: WebUser,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    match s.app.reset_mail_template(&user.actor, &name).await {
        Ok(_) => done(&format!("/admin/mail/templates/{name}"), "template_reset_mail"),
        Err(e) => error_page(Some(&user), &e),
    }
}
