//! The macros page: the saved replies and changes an agent may apply (their own, their groups',
//! everyone's), a form to add or change one, and removing one. Applying is on the ticket page.

use crate::AppState;
use crate::ui::form::{Fields, done, words};
use crate::ui::layout::{Layout, error_page, explain_as, render};
use crate::ui::session::{StaffUser, WebUser};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::macros::{Macro, MacroInput};
use orion_domain::ResolutionCode;
use orion_domain::macros::{Changes, PLACEHOLDERS};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/macros", get(list).post(create))
        .route("/agent/macros/new", get(new_form))
        .route("/agent/macros/{id}", get(edit_form).post(save))
        .route("/agent/macros/{id}/delete", post(delete))
}

/// The labels of the form's fields, for error messages.
const LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("scope", "Who may use it"),
    ("group", "Group"),
    ("category", "Suggest on category"),
    ("reply", "Reply"),
    ("reply_visibility", "Sent as"),
    ("changes.state", "Set the state"),
    ("changes.pending_reason", "Waiting for"),
    ("changes.resolution_code", "Resolution code"),
    ("changes.assignment_group", "Move to group"),
    ("changes.category", "Set category"),
    ("changes.tags", "Add tags"),
];

#[derive(Template)]
#[template(path = "agent/macros.html")]
struct ListPage {
    l: Layout,
    macros: Vec<Macro>,
    admin: bool,
}

#[derive(Template)]
#[template(path = "agent/macro_form.html")]
struct FormPage {
    l: Layout,
    /// `None`: a new macro
    id: Option<i64>,
    /// The form's values as typed (or as saved)
    v: HashMap<String, String>,
    groups: Vec<String>,
    categories: Vec<String>,
    codes: Vec<(&'static str, String)>,
    placeholders: &'static [(&'static str, &'static str)],
    admin: bool,
    error: Option<String>,
}

impl FormPage {
    fn val(&self, k: &str) -> String {
        self.v.get(k).cloned().unwrap_or_default()
    }
    fn is(&self, k: &str, v: &str) -> bool {
        self.v.get(k).is_some_and(|x| x == v)
    }
}

async fn list(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match s.app.list_macros(&user.actor).await {
        Ok(macros) => render(&ListPage {
            l: Layout::new(Some(&user), "Macros", "macros", q.get("m").map(String::as_str)),
            macros,
            admin: user.actor.can_administer(),
        }),
        Err(e) => error_page(Some(&user), &e),
    }
}

/// The form's values from a saved macro.
fn values(m: &Macro) -> HashMap<String, String> {
    let c = &m.changes;
    let mut v = HashMap::new();
    let mut put = |k: &str, x: Option<&str>| {
        if let Some(x) = x {
            v.insert(k.to_string(), x.to_string());
        }
    };
    put("name", Some(&m.name));
    put("scope", Some(&m.scope));
    put("group", m.group.as_deref());
    put("category", m.category.as_deref());
    put("reply", Some(&m.reply));
    put("reply_visibility", Some(&m.reply_visibility));
    put("state", c.state.as_deref());
    put("pending_reason", c.pending_reason.as_deref());
    put("resolution_code", c.resolution_code.as_deref());
    put("move_group", c.assignment_group.as_deref());
    put("set_category", c.category.as_deref());
    let tags = c.tags.join(", ");
    put("tags", Some(&tags));
    if c.assign_to_me {
        put("assign_to_me", Some("on"));
    }
    v
}

async fn form_page(
    s: &AppState,
    user: &WebUser,
    id: Option<i64>,
    v: HashMap<String, String>,
    error: Option<String>,
) -> Response {
    let groups = s.app.list_groups(&user.actor).await.unwrap_or_default();
    let groups = groups.into_iter().filter(|g| g.active).map(|g| g.name).collect();
    let categories = s.app.list_categories(&user.actor).await.unwrap_or_default();
    let categories = categories.into_iter().filter(|c| c.active).map(|c| c.path).collect();
    let title = if id.is_some() { "Change macro" } else { "New macro" };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = FormPage {
        l: Layout::new(Some(user), title, "macros", None),
        id,
        v,
        groups,
        categories,
        codes: ResolutionCode::ALL.iter().map(|c| (c.as_str(), words(c.as_str()))).collect(),
        placeholders: PLACEHOLDERS,
        admin: user.actor.can_administer(),
        error,
    };
    let mut resp = render(&page);
    *resp.status_mut() = status;
    resp
}

async fn new_form(State(s): State<AppState>, StaffUser { user, .. }: StaffUser) -> Response {
    let v =
        HashMap::from([("scope".to_string(), "personal".to_string()), ("reply_visibility".into(), "public".into())]);
    form_page(&s, &user, None, v, None).await
}

async fn edit_form(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, Path(id): Path<i64>) -> Response {
    match s.app.get_macro(&user.actor, id).await {
        Ok(m) => form_page(&s, &user, Some(id), values(&m), None).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

/// The macro the form describes.
fn input(f: &Fields) -> MacroInput {
    let text = |k: &str| f.get(k).map(str::trim).unwrap_or_default().to_string();
    let scope = text("scope");
    let changes = Changes {
        state: f.text("state"),
        pending_reason: if f.text("state").as_deref() == Some("pending") { f.text("pending_reason") } else { None },
        resolution_code: if f.text("state").as_deref() == Some("resolved") { f.text("resolution_code") } else { None },
        assignment_group: f.text("move_group"),
        assign_to_me: f.checked("assign_to_me"),
        category: f.text("set_category"),
        tags: text("tags").split([',', ' ', ';']).filter(|t| !t.is_empty()).map(str::to_string).collect(),
    };
    MacroInput {
        name: Some(text("name")),
        group: if scope == "group" { f.text("group") } else { None },
        scope: Some(scope),
        category: Some(text("category")),
        reply: Some(f.get("reply").unwrap_or_default().to_string()),
        reply_visibility: f.text("reply_visibility"),
        changes: Some(changes),
    }
}

fn typed(f: &Fields) -> HashMap<String, String> {
    f.0.iter().cloned().collect()
}

async fn create(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, f: Fields) -> Response {
    match s.app.create_macro(&user.actor, input(&f)).await {
        Ok(_) => done("/agent/macros", "macro_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Forbidden(_))) => {
            form_page(&s, &user, None, typed(&f), Some(explain_as(&e, LABELS))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn save(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(id): Path<i64>,
    f: Fields,
) -> Response {
    match s.app.update_macro(&user.actor, id, input(&f)).await {
        Ok(_) => done("/agent/macros", "macro_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Forbidden(_))) => {
            form_page(&s, &user, Some(id), typed(&f), Some(explain_as(&e, LABELS))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn delete(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, Path(id): Path<i64>) -> Response {
    match s.app.delete_macro(&user.actor, id).await {
        Ok(()) => done("/agent/macros", "macro_removed"),
        Err(e) => error_page(Some(&user), &e),
    }
}
