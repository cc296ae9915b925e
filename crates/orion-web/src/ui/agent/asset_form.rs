//! Registering an asset and changing its details in the console: the same service and checks as
//! the API, each refused field named by its label, what was typed kept. Retiring and other moves
//! are on the asset's page (its lifecycle actions).

use crate::AppState;
use crate::ui::form::{Fields, done};
use crate::ui::layout::{Layout, error_page, explain_as, render};
use crate::ui::session::{StaffUser, WebUser};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use orion_app::AppError;
use orion_app::cmdb::{Asset, AssetInput};
use orion_domain::FieldErrors;
use orion_domain::asset::{CI_TYPES, format_cents, parse_cents};
use serde_json::{Map, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/assets/new", get(new_page).post(create))
        .route("/agent/assets/{id}/edit", get(edit_page).post(save))
}

const LABELS: &[(&str, &str)] = &[
    ("type", "Type"),
    ("ci_type", "Type"),
    ("name", "Name"),
    ("asset_tag", "Asset tag"),
    ("serial", "Serial number"),
    ("manufacturer", "Manufacturer"),
    ("model", "Model"),
    ("vendor", "Bought from"),
    ("location", "Location"),
    ("department", "Department"),
    ("support_group", "Support group"),
    ("cost_cents", "Cost"),
    ("purchase_date", "Purchased on"),
    ("warranty_end", "Warranty until"),
    ("attributes", "Other details"),
    ("notes", "Notes"),
    ("state", "It is"),
];

/// The details people usually record for a type, offered as lines to fill in.
fn suggested(ci_type: &str) -> &'static [&'static str] {
    match ci_type {
        "desktop" | "laptop" => &["Memory", "Disk", "MAC address", "Operating system"],
        "server" | "virtual_machine" => &["IP address", "Host name", "Rack", "Operating system"],
        "printer" => &["IP address", "Toner", "Floor"],
        "network_device" => &["IP address", "Firmware", "Ports"],
        "phone" => &["Number", "IMEI", "Carrier"],
        "software" => &["Version", "Licence key reference"],
        "service" => &["Owner", "Hours of service"],
        _ => &[],
    }
}

/// The form's values, as typed.
struct Form {
    ci_type: String,
    name: String,
    asset_tag: String,
    serial: String,
    manufacturer: String,
    model: String,
    vendor: String,
    location: String,
    department: String,
    support_group: String,
    cost: String,
    purchase_date: String,
    warranty_end: String,
    attributes: String,
    notes: String,
    state: String,
    version: i64,
}

impl Form {
    fn blank(ci_type: &str) -> Self {
        Form {
            ci_type: ci_type.into(),
            name: String::new(),
            asset_tag: String::new(),
            serial: String::new(),
            manufacturer: String::new(),
            model: String::new(),
            vendor: String::new(),
            location: String::new(),
            department: String::new(),
            support_group: String::new(),
            cost: String::new(),
            purchase_date: String::new(),
            warranty_end: String::new(),
            attributes: String::new(),
            notes: String::new(),
            state: "in_stock".into(),
            version: 0,
        }
    }

    fn of(a: &Asset) -> Self {
        let attributes = a
            .attributes
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}: {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        Form {
            ci_type: a.ci_type.clone(),
            name: a.name.clone(),
            asset_tag: a.asset_tag.clone().unwrap_or_default(),
            serial: a.serial.clone().unwrap_or_default(),
            manufacturer: a.manufacturer.clone(),
            model: a.model.clone(),
            vendor: a.vendor.clone(),
            location: a.location.clone(),
            department: a.department.clone(),
            support_group: a.support_group.clone().unwrap_or_default(),
            cost: a.cost_cents.map(format_cents).unwrap_or_default(),
            purchase_date: a.purchase_date.clone().unwrap_or_default(),
            warranty_end: a.warranty_end.clone().unwrap_or_default(),
            attributes,
            notes: a.notes.clone(),
            state: a.state.clone(),
            version: a.version,
        }
    }

    /// What was posted, and the service's input; what cannot be read at all is named in `errs`.
    fn read(f: &Fields, errs: &mut FieldErrors) -> (Self, AssetInput) {
        let t = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
        let form = Form {
            ci_type: t("type"),
            name: t("name"),
            asset_tag: t("asset_tag"),
            serial: t("serial"),
            manufacturer: t("manufacturer"),
            model: t("model"),
            vendor: t("vendor"),
            location: t("location"),
            department: t("department"),
            support_group: t("support_group"),
            cost: t("cost"),
            purchase_date: t("purchase_date"),
            warranty_end: t("warranty_end"),
            attributes: f.get("attributes").unwrap_or_default().trim().to_string(),
            notes: f.get("notes").unwrap_or_default().trim().to_string(),
            state: t("state"),
            version: f.int("version").unwrap_or(0),
        };
        let cost_cents = match form.cost.as_str() {
            "" => None,
            c => errs.check(parse_cents("cost_cents", c)),
        };
        let mut attributes = Map::new();
        for (i, line) in form.attributes.lines().map(str::trim).enumerate().filter(|(_, l)| !l.is_empty()) {
            match line.split_once(':') {
                Some((k, v)) if !k.trim().is_empty() => {
                    if !v.trim().is_empty() {
                        attributes.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
                    }
                }
                _ => errs.push("attributes", format!("line {}: write it as Name: value", i + 1)),
            }
        }
        // Blank optional fields clear them on a change; on create they are simply absent.
        let text = |v: &str| Some(v.to_string());
        let input = AssetInput {
            ci_type: Some(form.ci_type.clone()).filter(|v| !v.is_empty()),
            name: text(&form.name),
            asset_tag: text(&form.asset_tag),
            serial: text(&form.serial),
            model: text(&form.model),
            manufacturer: text(&form.manufacturer),
            vendor: text(&form.vendor),
            location: text(&form.location),
            department: text(&form.department),
            cost_cents,
            purchase_date: text(&form.purchase_date),
            warranty_end: text(&form.warranty_end),
            notes: text(&form.notes),
            attributes: Some(Value::Object(attributes)),
            support_group: text(&form.support_group),
            state: None,
            version: None,
        };
        (form, input)
    }

    fn hint(&self) -> String {
        let s = suggested(&self.ci_type);
        if s.is_empty() {
            "One per line, as Name: value.".into()
        } else {
            format!("One per line, as Name: value — for example {}.", s.join(", "))
        }
    }
}

#[derive(Template)]
#[template(path = "agent/asset_form.html")]
struct FormPage {
    l: Layout,
    /// `None`: a new asset
    id: Option<i64>,
    f: Form,
    types: &'static [&'static str],
    groups: Vec<String>,
    error: Option<String>,
}

async fn form_page(s: &AppState, user: &WebUser, id: Option<i64>, f: Form, error: Option<String>) -> Response {
    let groups = s.app.list_groups(&user.actor).await.unwrap_or_default().into_iter().map(|g| g.name).collect();
    let title = match id {
        None => "Register an asset".to_string(),
        Some(_) => format!("Change {}", f.name),
    };
    let mut resp = render(&FormPage {
        l: Layout::new(Some(user), title, "assets", None),
        id,
        f,
        types: CI_TYPES,
        groups,
        error: error.clone(),
    });
    if error.is_some() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

async fn new_page(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let ci_type = q.get("type").map(String::as_str).filter(|t| CI_TYPES.contains(t)).unwrap_or("laptop");
    let mut f = Form::blank(ci_type);
    f.attributes = suggested(ci_type).iter().map(|k| format!("{k}: ")).collect::<Vec<_>>().join("\n");
    form_page(&s, &user, None, f, None).await
}

async fn create(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, f: Fields) -> Response {
    let mut errs = FieldErrors::new();
    let (form, mut input) = Form::read(&f, &mut errs);
    // On create a blank optional field is absent, not "cleared".
    for v in [
        &mut input.asset_tag,
        &mut input.serial,
        &mut input.purchase_date,
        &mut input.warranty_end,
        &mut input.support_group,
    ] {
        if v.as_deref() == Some("") {
            *v = None;
        }
    }
    input.state = Some(form.state.clone()).filter(|v| !v.is_empty());
    let result = match errs.into_result() {
        Ok(()) => s.app.create_asset(&user.actor, input).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(a) => done(&format!("/agent/assets/{}", a.id), "asset_registered"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            form_page(&s, &user, None, form, Some(explain_as(&e, LABELS))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn edit_page(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, Path(id): Path<i64>) -> Response {
    match s.app.get_asset(&user.actor, id).await {
        Ok(a) => form_page(&s, &user, Some(id), Form::of(&a), None).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn save(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(id): Path<i64>,
    f: Fields,
) -> Response {
    let current = match s.app.get_asset(&user.actor, id).await {
        Ok(a) => a,
        Err(e) => return error_page(Some(&user), &e),
    };
    let mut errs = FieldErrors::new();
    let (mut form, mut input) = Form::read(&f, &mut errs);
    form.ci_type = current.ci_type.clone();
    form.state = current.state.clone();
    input.ci_type = None;
    input.version = Some(form.version);
    let result = match errs.into_result() {
        Ok(()) => s.app.update_asset(&user.actor, id, input).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => done(&format!("/agent/assets/{id}"), "asset_saved"),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            form_page(&s, &user, Some(id), form, Some(explain_as(&e, LABELS))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}
