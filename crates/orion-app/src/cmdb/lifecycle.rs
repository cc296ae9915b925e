//! An asset's lifecycle: received, put into service, checked out and back in, sent to repair and
//! returned, retired and disposed of. Every move is checked against the states the asset may move
//! to and writes a history event in the same transaction.

use super::{Asset, NAME_MAX, TEXT_MAX, check_move, event, fields_of, view};
use crate::kernel::access::require_staff;
use crate::kernel::error::{found, invalid};
use crate::{App, AppError, AppResult};
use orion_domain::asset;
use orion_domain::{Actor, FieldErrors};
use orion_store::cmdb::{self as store, CiFields, CiRow};
use orion_store::users;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

/// `POST /api/v1/assets/{id}/state`: a lifecycle move that is not a check-out, check-in or repair.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateInput {
    #[schema(schema_with = crate::api_schema::asset_states_exact)]
    pub state: String,
    pub note: Option<String>,
}

/// `POST /api/v1/assets/{id}/checkout`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutInput {
    /// The person's e-mail
    #[schema(min_length = 1, pattern = "\\S")]
    pub user: String,
    /// Expected return date (`YYYY-MM-DD`); none for a permanent allocation
    #[schema(schema_with = crate::api_schema::date)]
    pub due_back: Option<String>,
    pub note: Option<String>,
}

/// `POST /api/v1/assets/{id}/checkin`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinInput {
    /// good, worn, damaged, faulty, incomplete
    #[schema(schema_with = crate::api_schema::asset_conditions_exact)]
    pub condition: String,
    /// Where it goes: in_stock (default), in_repair, retired
    #[schema(schema_with = crate::api_schema::checkin_states)]
    pub to_state: Option<String>,
    pub note: Option<String>,
}

/// `POST /api/v1/assets/{id}/repair`: send to a vendor.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepairInput {
    /// The repairer
    #[schema(min_length = 1, pattern = "\\S")]
    pub vendor: String,
    /// Their case or RMA number
    pub reference: Option<String>,
    /// `YYYY-MM-DD`
    #[schema(schema_with = crate::api_schema::date)]
    pub expected_back: Option<String>,
    pub note: Option<String>,
}

/// `POST /api/v1/assets/{id}/repair/return`: received back from the vendor.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepairReturnInput {
    /// repaired, replaced, beyond_repair
    #[schema(schema_with = crate::api_schema::repair_outcomes_exact)]
    pub outcome: String,
    /// The replacement's serial, when the vendor swapped the unit
    pub new_serial: Option<String>,
    pub note: Option<String>,
}

const CONDITIONS: &[&str] = &["good", "worn", "damaged", "faulty", "incomplete"];

fn note_of(n: &Option<String>) -> AppResult<String> {
    let n = n.as_deref().unwrap_or("").trim().to_string();
    if n.len() > TEXT_MAX {
        return Err(invalid("note", format!("must be at most {TEXT_MAX} bytes")));
    }
    Ok(n)
}

impl App {
    async fn move_asset(
        &self,
        actor: &Actor,
        id: i64,
        what: &str,
        plan: impl FnOnce(&CiRow) -> AppResult<Move>,
    ) -> AppResult<Asset> {
        require_staff(actor, what)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let cur = found(store::get(&mut c, id).await, "asset")?;
        let m = plan(&cur)?;
        if m.state != cur.state {
            check_move(&cur.state, m.state)?;
        }
        if !store::set_state(&mut c, id, cur.version, m.state, m.owner_id, m.due_back.as_deref(), now).await? {
            return Err(AppError::Conflict("the asset changed meanwhile; try again".into()));
        }
        if let Some(serial) = &m.new_serial {
            let row = store::get(&mut c, id).await?;
            let f = CiFields { serial: Some(serial.clone()), ..fields_of(&row) };
            store::update(&mut c, id, row.version, &f, now).await?;
        }
        let mut data = m.data;
        data["from"] = json!(cur.state);
        data["to"] = json!(m.state);
        event(&mut c, id, now, Some(actor), m.kind, &m.summary, data).await?;
        let row = store::get(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(view(row, now))
    }

    /// A lifecycle move (staff): received, retired, disposed of, reinstated, put into service.
    pub async fn set_asset_state(&self, actor: &Actor, id: i64, input: StateInput) -> AppResult<Asset> {
        let to = asset::parse_state("state", &input.state).map_err(|e| invalid(&e.field, e.message))?;
        let note = note_of(&input.note)?;
        self.move_asset(actor, id, "change asset states", move |cur| {
            {
                if to == cur.state {
                    return Err(AppError::Conflict(format!("the asset is already {to}")));
                }
                // Leaving "deployed" for stock, retirement or disposal ends the allocation.
                let keeps_holder = matches!(to, "deployed" | "in_repair");
                Ok(Move {
                    state: to,
                    owner_id: if keeps_holder { cur.owner_id } else { None },
                    due_back: if keeps_holder { cur.due_back.clone() } else { None },
                    kind: "state_changed",
                    summary: format!(
                        "{} → {}{}",
                        cur.state,
                        to,
                        if note.is_empty() { String::new() } else { format!(": {note}") }
                    ),
                    data: json!({"note": note}),
                    new_serial: None,
                })
            }
        })
        .await
    }

    /// Checks an asset out to a person (staff), from stock or straight from an order.
    pub async fn checkout_asset(&self, actor: &Actor, id: i64, input: CheckoutInput) -> AppResult<Asset> {
        let note = note_of(&input.note)?;
        let mut errs = FieldErrors::new();
        let due = input
            .due_back
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .and_then(|d| errs.check(asset::parse_date("due_back", d)));
        errs.into_result()?;
        let email = input.user.trim().to_lowercase();
        let u = {
            let mut r = self.db.read().await?;
            match users::find_by_email(&mut r.conn(), &email).await? {
                Some(u) if u.active => u,
                Some(_) => return Err(invalid("user", format!("{email} is deactivated"))),
                None => return Err(invalid("user", format!("no user {email:?}"))),
            }
        };
        // A joiner's hand-out task may have reserved it for their first day.
        {
            let mut r = self.db.read().await?;
            if let Some((person, name, day)) = orion_store::workflows::reservation_of(&mut r.conn(), id).await?
                && person != u.id
            {
                return Err(AppError::Conflict(format!("the asset is reserved for {name}, who starts on {day}")));
            }
        }
        self.move_asset(actor, id, "check assets out", move |cur| {
            if cur.state == "deployed" {
                let who = cur.owner_email.clone().unwrap_or_else(|| "service".into());
                return Err(AppError::Conflict(format!("the asset is deployed ({who}); check it in first")));
            }
            if !matches!(cur.state.as_str(), "in_stock" | "ordered") {
                return Err(AppError::Conflict(format!(
                    "a {} asset cannot be checked out; it must be in stock",
                    cur.state
                )));
            }
            let back = due.clone().map(|d| format!(", due back {d}")).unwrap_or_default();
            Ok(Move {
                state: "deployed",
                owner_id: Some(u.id),
                due_back: due.clone(),
                kind: "checked_out",
                summary: format!("Checked out to {} <{}>{back}", u.name, u.email),
                data: json!({"user": u.email, "due_back": due, "note": note}),
                new_serial: None,
            })
        })
        .await
    }

    /// Takes a checked-out asset back (staff), noting its condition.
    pub async fn checkin_asset(&self, actor: &Actor, id: i64, input: CheckinInput) -> AppResult<Asset> {
        let note = note_of(&input.note)?;
        let condition = input.condition.trim().to_lowercase();
        if !CONDITIONS.contains(&condition.as_str()) {
            return Err(invalid("condition", format!("must be one of {}", CONDITIONS.join(", "))));
        }
        let to = match input.to_state.as_deref().map(str::trim) {
            None | Some("") => "in_stock",
            Some(s) => match asset::parse_state("to_state", s).map_err(|e| invalid(&e.field, e.message))? {
                s @ ("in_stock" | "in_repair" | "retired") => s,
                _ => return Err(invalid("to_state", "must be in_stock, in_repair or retired")),
            },
        };
        self.move_asset(actor, id, "check assets in", move |cur| {
            if cur.state != "deployed" || cur.owner_id.is_none() {
                return Err(AppError::Conflict("the asset is not checked out to anyone".into()));
            }
            let who = cur.owner_email.clone().unwrap_or_default();
            Ok(Move {
                state: to,
                owner_id: None,
                due_back: None,
                kind: "checked_in",
                summary: format!(
                    "Checked in from {who}, condition {condition}{}",
                    if to == "in_stock" { String::new() } else { format!(", to {to}") }
                ),
                data: json!({"user": who, "condition": condition, "note": note}),
                new_serial: None,
            })
        })
        .await
    }

    /// Sends an asset to a vendor for repair (staff); a checked-out asset keeps its holder.
    pub async fn send_to_repair(&self, actor: &Actor, id: i64, input: RepairInput) -> AppResult<Asset> {
        let note = note_of(&input.note)?;
        let vendor = input.vendor.trim().to_string();
        let mut errs = FieldErrors::new();
        if vendor.is_empty() || vendor.chars().count() > NAME_MAX {
            errs.push("vendor", "is required: who repairs it");
        }
        let back = input
            .expected_back
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .and_then(|d| errs.check(asset::parse_date("expected_back", d)));
        errs.into_result()?;
        let reference = input.reference.unwrap_or_default().trim().to_string();
        self.move_asset(actor, id, "send assets to repair", move |cur| {
            {
                Ok(Move {
                    state: "in_repair",
                    owner_id: cur.owner_id,
                    due_back: back.clone().or(cur.due_back.clone()),
                    kind: "sent_to_repair",
                    summary: format!(
                        "Sent to {vendor} for repair{}",
                        if reference.is_empty() { String::new() } else { format!(" ({reference})") }
                    ),
                    data: json!({"vendor": vendor, "reference": reference, "expected_back": back, "note": note}),
                    new_serial: None,
                })
            }
        })
        .await
    }

    /// Receives an asset back from repair (staff): to its holder if it had one, else to stock;
    /// beyond repair, it is retired.
    pub async fn return_from_repair(&self, actor: &Actor, id: i64, input: RepairReturnInput) -> AppResult<Asset> {
        let note = note_of(&input.note)?;
        let outcome = input.outcome.trim().to_lowercase();
        if !matches!(outcome.as_str(), "repaired" | "replaced" | "beyond_repair") {
            return Err(invalid("outcome", "must be repaired, replaced or beyond_repair"));
        }
        let new_serial = input.new_serial.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        if new_serial.is_some() && outcome != "replaced" {
            return Err(invalid("new_serial", "only a replaced unit has a new serial"));
        }
        self.move_asset(actor, id, "receive assets from repair", move |cur| {
            if cur.state != "in_repair" {
                return Err(AppError::Conflict(format!("the asset is {}, not in repair", cur.state)));
            }
            let (state, owner) = match (outcome.as_str(), cur.owner_id) {
                ("beyond_repair", _) => ("retired", None),
                (_, Some(o)) => ("deployed", Some(o)),
                (_, None) => ("in_stock", None),
            };
            Ok(Move {
                state,
                owner_id: owner,
                due_back: if owner.is_some() { cur.due_back.clone() } else { None },
                kind: "returned_from_repair",
                summary: format!("Back from repair: {}", outcome.replace('_', " ")),
                data: json!({"outcome": outcome, "old_serial": cur.serial, "new_serial": new_serial, "note": note}),
                new_serial: new_serial.clone(),
            })
        })
        .await
    }
}

/// A planned lifecycle move.
pub(crate) struct Move {
    state: &'static str,
    owner_id: Option<i64>,
    due_back: Option<String>,
    kind: &'static str,
    summary: String,
    data: Value,
    new_serial: Option<String>,
}
