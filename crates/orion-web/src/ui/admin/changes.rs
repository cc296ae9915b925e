//! Admin page for change and problem management settings: standard-change templates (the
//! pre-approved changes agents log from a template), freeze periods (when changes may not be
//! scheduled), and the recurring-incident detector that proposes problems.

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
use orion_app::itsm::changes::{FreezeInput, TemplateInput};
use orion_app::itsm::detect::DetectionSettings;
use orion_domain::FieldErrors;
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/changes", get(page_get))
        .route("/admin/changes/templates", post(add_template))
        .route("/admin/changes/templates/{name}/active", post(switch_template))
        .route("/admin/changes/freezes", post(add_freeze))
        .route("/admin/changes/freezes/{id}/remove", post(remove_freeze))
        .route("/admin/changes/detection", post(save_detection))
}

const LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("title", "Title of the change"),
    ("implementation_plan", "How it is done"),
    ("backout_plan", "How it is undone"),
    ("test_plan", "How it is tested"),
    ("risk", "Risk"),
    ("implementer_group", "Done by the group"),
    ("reason", "Why"),
    ("starts_at", "From"),
    ("ends_at", "Until"),
    ("every_minutes", "Look every (minutes)"),
    ("window_days", "Read incidents of the last (days)"),
    ("ci_count", "Incidents on one asset or service"),
    ("ci_days", "within (days)"),
    ("similar_count", "Alike incidents anywhere"),
    ("similarity", "Alike from a similarity of"),
];

struct TemplateRow {
    name: String,
    title: String,
    risk: String,
    group: String,
    active: bool,
}

struct FreezeRow {
    id: i64,
    name: String,
    reason: String,
    from: String,
    until: String,
}

/// What the forms hold: typed values kept after a refusal, the error by form.
#[derive(Default)]
struct Typed {
    template: HashMap<String, String>,
    freeze: HashMap<String, String>,
    detection: Option<HashMap<String, String>>,
    error: Option<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "admin/changes.html")]
struct ChangesPage {
    l: Layout,
    templates: Vec<TemplateRow>,
    freezes: Vec<FreezeRow>,
    groups: Vec<String>,
    risks: &'static [&'static str],
    d: HashMap<String, String>,
    typed: Typed,
}

impl ChangesPage {
    fn t(&self, k: &str) -> String {
        self.typed.template.get(k).cloned().unwrap_or_default()
    }
    fn f(&self, k: &str) -> String {
        self.typed.freeze.get(k).cloned().unwrap_or_default()
    }
    fn dv(&self, k: &str) -> String {
        self.d.get(k).cloned().unwrap_or_default()
    }
    fn error_for(&self, form: &str) -> Option<String> {
        self.typed.error.as_ref().filter(|(f, _)| *f == form).map(|(_, e)| e.clone())
    }
}

fn detection_fields(d: &DetectionSettings) -> HashMap<String, String> {
    [
        ("enabled", if d.enabled { "on".to_string() } else { String::new() }),
        ("every_minutes", d.every_minutes.to_string()),
        ("window_days", d.window_days.to_string()),
        ("ci_count", d.ci_count.to_string()),
        ("ci_days", d.ci_days.to_string()),
        ("similar_count", d.similar_count.to_string()),
        ("similarity", d.similarity.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

async fn page(s: &AppState, user: &WebUser, flash_key: Option<&str>, typed: Typed) -> Response {
    if let Some(r) = admin_only(user) {
        return r;
    }
    let loaded = async {
        Ok::<_, AppError>((
            s.app.change_templates(&user.actor).await?,
            s.app.freeze_periods(&user.actor).await?,
            s.app.detection_settings(&user.actor).await?,
        ))
    };
    let (templates, freezes, detection) = match loaded.await {
        Ok(x) => x,
        Err(e) => return error_page(Some(user), &e),
    };
    let groups = s.app.list_groups(&user.actor).await.unwrap_or_default().into_iter().map(|g| g.name).collect();
    let d = typed.detection.clone().unwrap_or_else(|| detection_fields(&detection));
    let p = ChangesPage {
        l: Layout::new(Some(user), "Changes and problems", "admin", flash_key),
        templates: templates
            .into_iter()
            .map(|t| TemplateRow {
                name: t.name,
                title: t.title,
                risk: t.risk,
                group: t.implementer_group.unwrap_or_default(),
                active: t.active,
            })
            .collect(),
        freezes: freezes
            .into_iter()
            .map(|f| FreezeRow {
                id: f.id,
                name: f.name,
                reason: f.reason,
                from: when(&f.starts_at),
                until: when(&f.ends_at),
            })
            .collect(),
        groups,
        risks: orion_domain::change::RISKS,
        d,
        typed,
    };
    let err = p.typed.error.as_ref().map(|(_, e)| e.clone());
    with_status(render(&p), &err)
}

async fn page_get(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    page(&s, &user, flash(&q), Typed::default()).await
}

fn typed_of(f: &Fields) -> HashMap<String, String> {
    f.0.iter().cloned().collect()
}

async fn add_template(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let t = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
    let opt = |k: &str| Some(t(k)).filter(|v| !v.is_empty());
    let input = TemplateInput {
        name: t("name"),
        title: t("title"),
        description: opt("description"),
        implementation_plan: t("implementation_plan"),
        backout_plan: t("backout_plan"),
        test_plan: opt("test_plan"),
        risk: opt("risk"),
        implementer_group: opt("implementer_group"),
    };
    match s.app.create_change_template(&user.actor, input).await {
        Ok(_) => done("/admin/changes", "template_added"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            let typed =
                Typed { template: typed_of(&f), error: Some(("template", explain_as(&e, LABELS))), ..Typed::default() };
            page(&s, &user, None, typed).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn switch_template(State(s): State<AppState>, user: WebUser, Path(name): Path<String>, f: Fields) -> Response {
    match s.app.set_change_template_active(&user.actor, &name, f.get("active") == Some("on")).await {
        Ok(_) => done("/admin/changes", "template_saved"),
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn add_freeze(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let t = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
    // A date-and-time field sends `2026-12-20T18:00`: read as UTC, like the API's dates.
    let instant = |v: String| if v.len() == 16 && v.contains('T') { format!("{v}:00Z") } else { v };
    let input = FreezeInput {
        name: t("name"),
        reason: Some(t("reason")).filter(|v| !v.is_empty()),
        starts_at: instant(t("starts_at")),
        ends_at: instant(t("ends_at")),
    };
    match s.app.create_freeze(&user.actor, input).await {
        Ok(_) => done("/admin/changes", "freeze_added"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            let typed =
                Typed { freeze: typed_of(&f), error: Some(("freeze", explain_as(&e, LABELS))), ..Typed::default() };
            page(&s, &user, None, typed).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn remove_freeze(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.delete_freeze(&user.actor, id).await {
        Ok(()) => done("/admin/changes", "freeze_removed"),
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn save_detection(State(s): State<AppState>, user: WebUser, f: Fields) -> Response {
    let mut errs = FieldErrors::new();
    let t = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
    let int = |k: &str, errs: &mut FieldErrors| -> i64 {
        t(k).parse().unwrap_or_else(|_| {
            errs.push(k, format!("{:?} is not a whole number", t(k)));
            0
        })
    };
    let settings = DetectionSettings {
        enabled: f.checked("enabled"),
        every_minutes: int("every_minutes", &mut errs),
        window_days: int("window_days", &mut errs),
        ci_count: usize::try_from(int("ci_count", &mut errs)).unwrap_or(0),
        ci_days: int("ci_days", &mut errs),
        similar_count: usize::try_from(int("similar_count", &mut errs)).unwrap_or(0),
        similarity: t("similarity").replace(',', ".").parse().unwrap_or_else(|_| {
            errs.push("similarity", format!("{:?} is not a number such as 0.6", t("similarity")));
            0.0
        }),
    };
    let result = match errs.into_result() {
        Ok(()) => s.app.set_detection_settings(&user.actor, settings).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => done("/admin/changes", "settings_saved"),
        Err(e @ AppError::Validation(_)) => {
            let mut d = typed_of(&f);
            if !f.checked("enabled") {
                d.remove("enabled");
            }
            let typed =
                Typed { detection: Some(d), error: Some(("detection", explain_as(&e, LABELS))), ..Typed::default() };
            page(&s, &user, None, typed).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}
