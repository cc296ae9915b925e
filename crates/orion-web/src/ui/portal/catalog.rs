//! The portal's catalog: tiles by category with search, most requested first; an item's form,
//! re-rendered by the server as answers change (htmx on each change, or the "Update the form"
//! button without JavaScript); submitting it, with refused answers shown at their questions and
//! everything typed kept.

use crate::AppState;
use crate::ui::form::{Fields, FormWithNamedFiles, done, encode};
use crate::ui::layout::{Layout, error_page, render};
use crate::ui::session::WebUser;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use orion_app::AppError;
use orion_app::catalog::{AnswersInput, CatalogItem, CatalogQuery, CatalogRequestInput, FormCheck};
use orion_app::kernel::uploads::MAX_FILES_TOTAL;
use orion_domain::catalog::{Question, QuestionKind, format_number};
use std::collections::{BTreeMap, HashMap};

pub(super) fn routes() -> Router<AppState> {
    // The form carries the files that answer its attachment questions.
    let uploads = axum::extract::DefaultBodyLimit::max(MAX_FILES_TOTAL + 1024 * 1024);
    Router::new()
        .route("/portal/catalog", get(catalog))
        .route("/portal/catalog/{id}", get(item_page).post(item_post).layer(uploads))
}

pub(super) struct Tile {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub icon: String,
    pub category: String,
    pub delivery: String,
}

#[derive(Template)]
#[template(path = "portal/catalog.html")]
struct CatalogPage {
    l: Layout,
    q: String,
    category: String,
    categories: Vec<(String, i64)>,
    tiles: Vec<Tile>,
    /// The next page's cursor, when there are more items than one page shows.
    next: Option<String>,
}

/// "Usually within 16 business hours", from the SLA's resolution target.
fn delivery(item: &CatalogItem) -> String {
    match item.delivery_minutes {
        Some(m) if m >= 60 => format!("Usually within {} business hours", (m + 59) / 60),
        Some(m) if m > 0 => format!("Usually within {m} business minutes"),
        _ => String::new(),
    }
}

async fn catalog(State(s): State<AppState>, user: WebUser, Query(q): Query<HashMap<String, String>>) -> Response {
    let text = q.get("q").map(|v| v.trim().to_string()).unwrap_or_default();
    let category = q.get("category").map(|v| v.trim().to_string()).unwrap_or_default();
    let query = CatalogQuery {
        q: (!text.is_empty()).then(|| text.clone()),
        category: (!category.is_empty()).then(|| category.clone()),
        order: Some("popular".into()),
        cursor: q.get("cursor").filter(|c| !c.is_empty()).cloned(),
        limit: Some(60),
    };
    let (items, next) = match s.app.catalog_items(&user.actor, &query).await {
        Ok(p) => (p.items, p.next_cursor),
        Err(e) => return error_page(Some(&user), &e),
    };
    let categories = s.app.catalog_categories(&user.actor).await.unwrap_or_default();
    let tiles = items
        .into_iter()
        // Administrators see every item in the API; the portal shows what is offered.
        .filter(|i| i.active && i.version > 0)
        .map(|i| Tile {
            id: i.id,
            delivery: delivery(&i),
            name: i.name,
            description: i.description,
            icon: i.icon,
            category: i.category,
        })
        .collect();
    render(&CatalogPage {
        l: Layout::new(Some(&user), "Ask for something", "portal", q.get("m").map(String::as_str)),
        q: text,
        category,
        categories,
        tiles,
        next,
    })
}

pub(super) struct ChoiceView {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

pub(super) struct QuestionView {
    pub key: String,
    pub label: String,
    /// `text`, `textarea`, `number`, `email`, `date`, `datetime-local`, `radio`, `checkbox`,
    /// `yes_no`, `device`, `file`, `explanation`
    pub input: &'static str,
    pub help: String,
    pub required: bool,
    pub value: String,
    pub choices: Vec<ChoiceView>,
    pub error: Option<String>,
    pub min: String,
    pub max: String,
    pub maxlength: String,
}

pub(super) struct SectionView {
    pub title: String,
    pub description: String,
    pub questions: Vec<QuestionView>,
}

#[derive(Template)]
#[template(path = "portal/catalog_item.html")]
struct ItemPage {
    l: Layout,
    item_id: i64,
    name: String,
    description: String,
    next_steps: String,
    delivery: String,
    version: i64,
    sections: Vec<SectionView>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/catalog_form.html")]
struct FormPart {
    version: i64,
    sections: Vec<SectionView>,
    error: Option<String>,
}

/// The answers of a submitted form: fields named `a.<key>`, each with its values.
fn answers_of(f: &Fields) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in &f.0 {
        if let Some(key) = k.strip_prefix("a.") {
            out.entry(key.to_string()).or_default().push(v.clone());
        }
    }
    out
}

fn as_json(raw: &BTreeMap<String, Vec<String>>) -> BTreeMap<String, serde_json::Value> {
    raw.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone()))).collect()
}

/// The form's sections and questions that show, with what was typed and why it was refused.
fn sections_of(
    item: &CatalogItem,
    raw: &BTreeMap<String, Vec<String>>,
    check: &FormCheck,
    errors: &BTreeMap<String, String>,
    devices: &[(String, String)],
) -> Vec<SectionView> {
    let Some(p) = &item.package else { return Vec::new() };
    let mut out = Vec::new();
    for (i, s) in p.form.sections.iter().enumerate() {
        if !check.sections.get(i).copied().unwrap_or(false) {
            continue;
        }
        let questions = s
            .questions
            .iter()
            .filter(|q| check.visible.contains(&q.key))
            .map(|q| question_view(q, raw, check, errors, devices))
            .collect();
        out.push(SectionView { title: s.title.clone(), description: s.description.clone(), questions });
    }
    out
}

fn question_view(
    q: &Question,
    raw: &BTreeMap<String, Vec<String>>,
    check: &FormCheck,
    errors: &BTreeMap<String, String>,
    devices: &[(String, String)],
) -> QuestionView {
    let given: Vec<String> = raw.get(&q.key).cloned().unwrap_or_default();
    let first = given.first().cloned().unwrap_or_default();
    let picked = |v: &str| given.iter().flat_map(|g| g.split(',')).any(|g| g.trim() == v);
    let input = match q.kind {
        QuestionKind::ShortText | QuestionKind::Asset => "text",
        QuestionKind::LongText => "textarea",
        QuestionKind::Number => "number",
        QuestionKind::Email | QuestionKind::User => "email",
        QuestionKind::Date => "date",
        QuestionKind::DateTime => "datetime-local",
        QuestionKind::Choice => "radio",
        QuestionKind::MultiChoice => "checkbox",
        QuestionKind::YesNo => "yes_no",
        QuestionKind::MyDevice => "device",
        QuestionKind::Attachment => "file",
        QuestionKind::Explanation => "explanation",
    };
    let choices = match q.kind {
        QuestionKind::Choice | QuestionKind::MultiChoice => q
            .choices
            .iter()
            .map(|c| ChoiceView { value: c.value.clone(), label: c.label.clone(), checked: picked(&c.value) })
            .collect(),
        QuestionKind::YesNo => [("yes", "Yes"), ("no", "No")]
            .iter()
            .map(|(v, l)| ChoiceView { value: v.to_string(), label: l.to_string(), checked: first == *v })
            .collect(),
        QuestionKind::MyDevice => devices
            .iter()
            .map(|(v, l)| ChoiceView { value: v.clone(), label: l.clone(), checked: first == *v })
            .collect(),
        _ => Vec::new(),
    };
    QuestionView {
        key: q.key.clone(),
        label: q.label.clone(),
        input,
        help: q.help.clone(),
        required: check.required.contains(&q.key),
        value: first,
        choices,
        error: errors.get(&format!("answers.{}", q.key)).cloned(),
        min: q.min.map(format_number).unwrap_or_default(),
        max: q.max.map(format_number).unwrap_or_default(),
        maxlength: q.max_length.map(|m| m.to_string()).unwrap_or_default(),
    }
}

/// Renders the item's form for `raw` answers: the whole page, or (htmx) the form alone.
async fn show(
    s: &AppState,
    user: &WebUser,
    id: i64,
    raw: BTreeMap<String, Vec<String>>,
    refused: Option<&AppError>,
    fragment: bool,
) -> Response {
    let item = match s.app.catalog_item(&user.actor, id).await {
        Ok(i) if i.package.is_some() => i,
        Ok(_) => return error_page(Some(user), &AppError::NotFound("catalog item")),
        Err(e) => return error_page(Some(user), &e),
    };
    let check = match s.app.check_catalog_form(&user.actor, id, &AnswersInput { answers: as_json(&raw) }).await {
        Ok(c) => c,
        Err(e) => return error_page(Some(user), &e),
    };
    // Errors while filling in: bad values only. On a refused submit: everything it said.
    let mut errors = check.errors.clone();
    let mut general = None;
    if let Some(AppError::Validation(errs)) = refused {
        for e in errs.iter() {
            if e.field.starts_with("answers.") {
                errors.insert(e.field.clone(), e.message.clone());
            } else {
                general = Some(e.message.clone());
            }
        }
    } else if let Some(e) = refused {
        general = Some(crate::ui::layout::explain(e));
    }
    if general.is_none() && refused.is_some() {
        general = Some("Some answers need another look; they are marked below.".into());
    }
    let devices: Vec<(String, String)> = s
        .app
        .my_devices(&user.actor)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|d| match d.asset_tag {
            Some(tag) => (tag.clone(), format!("{} ({tag})", d.name)),
            None => (d.id.to_string(), d.name),
        })
        .collect();
    let mut sections = sections_of(&item, &raw, &check, &errors, &devices);
    if fragment {
        // The browser keeps the picked files in place (hx-preserve): no "pick it again" there.
        for q in sections.iter_mut().flat_map(|s| s.questions.iter_mut()).filter(|q| q.input == "file") {
            q.value.clear();
        }
    }
    let status = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let mut resp = if fragment {
        render(&FormPart { version: item.version, sections, error: general })
    } else {
        let p = item.package.clone().unwrap_or_default();
        render(&ItemPage {
            l: Layout::new(Some(user), item.name.clone(), "portal", None),
            item_id: id,
            delivery: delivery(&item),
            name: item.name,
            description: item.description,
            next_steps: p.next_steps,
            version: item.version,
            sections,
            error: general,
        })
    };
    *resp.status_mut() = status;
    resp
}

async fn item_page(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    let defaults = match s.app.catalog_item(&user.actor, id).await {
        Ok(i) => i.package.map(|p| p.form.defaults()).unwrap_or_default(),
        Err(e) => return error_page(Some(&user), &e),
    };
    show(&s, &user, id, defaults, None, false).await
}

async fn item_post(
    State(s): State<AppState>,
    user: WebUser,
    Path(id): Path<i64>,
    headers: HeaderMap,
    FormWithNamedFiles(f, files): FormWithNamedFiles,
) -> Response {
    let mut raw = answers_of(&f);
    // Files answer their questions (`a.<key>`); their names stand for them in the form's check.
    let files: Vec<(String, orion_app::kernel::uploads::Upload)> =
        files.into_iter().filter_map(|(n, file)| n.strip_prefix("a.").map(|k| (k.to_string(), file))).collect();
    for (k, file) in &files {
        raw.insert(k.clone(), vec![file.filename.clone()]);
    }
    let htmx = headers.contains_key("hx-request");
    // A change of answer (htmx) or "Update the form" re-renders; "Send the request" submits.
    if htmx || f.get("update").is_some() {
        return show(&s, &user, id, raw, None, htmx).await;
    }
    let input = CatalogRequestInput { answers: as_json(&raw), requested_for: None, version: f.int("version") };
    match s.app.request_catalog_item_with_files(&user.actor, id, input, files).await {
        Ok(t) => done(&format!("/portal/tickets/{}", encode(&t.number)), "created"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => show(&s, &user, id, raw, Some(&e), false).await,
        Err(e) => error_page(Some(&user), &e),
    }
}
