//! Licences in the console: record one, change it, give its seats to devices or people and take
//! them back, remove it. The same service and checks as the API; a refused form names the field
//! by its label and keeps what was typed.

use crate::AppState;
use crate::ui::form::{Fields, done};
use crate::ui::layout::{Layout, error_page, explain_as, render};
use crate::ui::session::{StaffUser, WebUser};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::cmdb::licences::{Assignment, AssignmentInput, Licence, LicenceInput};
use orion_domain::FieldErrors;
use orion_domain::asset::{format_cents, parse_cents};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/licences/new", get(new_page).post(create))
        .route("/agent/licences/{id}", get(page).post(save))
        .route("/agent/licences/{id}/assign", post(assign))
        .route("/agent/licences/{id}/assignments/{assignment}/remove", post(unassign))
        .route("/agent/licences/{id}/remove", post(remove))
}

const LABELS: &[(&str, &str)] = &[
    ("product", "Product"),
    ("vendor", "Vendor"),
    ("type", "Licensed"),
    ("licence_type", "Licensed"),
    ("seats", "Seats"),
    ("software_match", "Covers installed software named"),
    ("purchase_date", "Bought on"),
    ("expires_on", "Expires on"),
    ("cost_cents", "Cost"),
    ("reference", "Contract or order number"),
    ("asset", "Device (asset tag or number)"),
    ("user", "Person (e-mail)"),
];

/// The form's values, as typed.
struct Form {
    product: String,
    vendor: String,
    licence_type: String,
    seats: String,
    software_match: String,
    purchase_date: String,
    expires_on: String,
    cost: String,
    reference: String,
    notes: String,
}

impl Form {
    fn blank() -> Self {
        Form {
            product: String::new(),
            vendor: String::new(),
            licence_type: "per_device".into(),
            seats: String::new(),
            software_match: String::new(),
            purchase_date: String::new(),
            expires_on: String::new(),
            cost: String::new(),
            reference: String::new(),
            notes: String::new(),
        }
    }

    fn of(l: &Licence) -> Self {
        Form {
            product: l.product.clone(),
            vendor: l.vendor.clone(),
            licence_type: l.licence_type.clone(),
            seats: l.seats.map(|n| n.to_string()).unwrap_or_default(),
            software_match: l.software_match.clone(),
            purchase_date: l.purchase_date.clone().unwrap_or_default(),
            expires_on: l.expires_on.clone().unwrap_or_default(),
            cost: l.cost_cents.map(format_cents).unwrap_or_default(),
            reference: l.reference.clone(),
            notes: l.notes.clone(),
        }
    }

    fn read(f: &Fields, errs: &mut FieldErrors) -> (Self, LicenceInput) {
        let t = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
        let form = Form {
            product: t("product"),
            vendor: t("vendor"),
            licence_type: t("type"),
            seats: t("seats"),
            software_match: t("software_match"),
            purchase_date: t("purchase_date"),
            expires_on: t("expires_on"),
            cost: t("cost"),
            reference: t("reference"),
            notes: f.get("notes").unwrap_or_default().trim().to_string(),
        };
        let seats = match form.seats.as_str() {
            "" => None,
            v => v.parse::<i64>().map_err(|_| errs.push("seats", format!("{v:?} is not a whole number"))).ok(),
        };
        let cost_cents = match form.cost.as_str() {
            "" => None,
            c => errs.check(parse_cents("cost_cents", c)),
        };
        let input = LicenceInput {
            product: Some(form.product.clone()),
            vendor: Some(form.vendor.clone()),
            licence_type: Some(form.licence_type.clone()).filter(|v| !v.is_empty()),
            seats,
            software_match: Some(form.software_match.clone()).filter(|v| !v.is_empty()),
            purchase_date: Some(form.purchase_date.clone()).filter(|v| !v.is_empty()),
            // Blank: never expires (the API's empty string).
            expires_on: Some(form.expires_on.clone()),
            cost_cents,
            reference: Some(form.reference.clone()),
            notes: Some(form.notes.clone()),
        };
        (form, input)
    }
}

#[derive(Template)]
#[template(path = "agent/licence.html")]
struct LicencePage {
    l: Layout,
    /// `None`: a licence being recorded
    lic: Option<Licence>,
    f: Form,
    assignments: Vec<Assignment>,
    seat_value: String,
    error: Option<String>,
    seat_error: Option<String>,
}

struct Shown {
    form: Option<Form>,
    seat_value: String,
    error: Option<String>,
    seat_error: Option<String>,
}

fn nothing() -> Shown {
    Shown { form: None, seat_value: String::new(), error: None, seat_error: None }
}

async fn show(s: &AppState, user: &WebUser, id: Option<i64>, flash: Option<&str>, shown: Shown) -> Response {
    let (lic, assignments) = match id {
        None => (None, Vec::new()),
        Some(id) => {
            match (s.app.get_licence(&user.actor, id).await, s.app.licence_assignments(&user.actor, id).await) {
                (Ok(l), Ok(a)) => (Some(l), a),
                (Err(e), _) | (_, Err(e)) => return error_page(Some(user), &e),
            }
        }
    };
    let title = lic.as_ref().map_or_else(|| "Record a licence".to_string(), |l| format!("Licence {}", l.product));
    let f = shown.form.unwrap_or_else(|| lic.as_ref().map_or_else(Form::blank, Form::of));
    let p = LicencePage {
        l: Layout::new(Some(user), title, "assets", flash),
        lic,
        f,
        assignments,
        seat_value: shown.seat_value,
        error: shown.error,
        seat_error: shown.seat_error,
    };
    let failed = p.error.is_some() || p.seat_error.is_some();
    let mut resp = render(&p);
    if failed {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

async fn new_page(State(s): State<AppState>, StaffUser { user, .. }: StaffUser) -> Response {
    show(&s, &user, None, None, nothing()).await
}

async fn page(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    show(&s, &user, Some(id), q.get("m").map(String::as_str), nothing()).await
}

async fn create(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, f: Fields) -> Response {
    let mut errs = FieldErrors::new();
    let (form, mut input) = Form::read(&f, &mut errs);
    if input.expires_on.as_deref() == Some("") {
        input.expires_on = None;
    }
    let result = match errs.into_result() {
        Ok(()) => s.app.create_licence(&user.actor, input).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(l) => done(&format!("/agent/licences/{}", l.id), "licence_recorded"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            show(&s, &user, None, None, Shown { form: Some(form), error: Some(explain_as(&e, LABELS)), ..nothing() })
                .await
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
    let mut errs = FieldErrors::new();
    let (form, input) = Form::read(&f, &mut errs);
    let result = match errs.into_result() {
        Ok(()) => s.app.update_licence(&user.actor, id, input).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => done(&format!("/agent/licences/{id}"), "licence_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            show(
                &s,
                &user,
                Some(id),
                None,
                Shown { form: Some(form), error: Some(explain_as(&e, LABELS)), ..nothing() },
            )
            .await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// Gives a seat to a device (per-device licences) or a person (per-user ones).
async fn assign(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(id): Path<i64>,
    f: Fields,
) -> Response {
    let to = f.get("to").unwrap_or_default().trim().to_string();
    let lic = match s.app.get_licence(&user.actor, id).await {
        Ok(l) => l,
        Err(e) => return error_page(Some(&user), &e),
    };
    let input = if lic.licence_type == "per_user" {
        AssignmentInput { user: Some(to.clone()), asset: None }
    } else {
        AssignmentInput { asset: Some(to.clone()), user: None }
    };
    match s.app.assign_licence(&user.actor, id, input).await {
        Ok(_) => done(&format!("/agent/licences/{id}"), "seat_given"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::NotFound(_))) => {
            let shown = Shown { seat_value: to, seat_error: Some(explain_as(&e, LABELS)), ..nothing() };
            show(&s, &user, Some(id), None, shown).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn unassign(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path((id, assignment)): Path<(i64, i64)>,
) -> Response {
    match s.app.unassign_licence(&user.actor, id, assignment).await {
        Ok(()) => done(&format!("/agent/licences/{id}"), "seat_taken_back"),
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn remove(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, Path(id): Path<i64>) -> Response {
    match s.app.delete_licence(&user.actor, id).await {
        Ok(()) => done("/agent/licences", "licence_removed"),
        Err(e @ AppError::Conflict(_)) => {
            show(&s, &user, Some(id), None, Shown { error: Some(explain_as(&e, LABELS)), ..nothing() }).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}
