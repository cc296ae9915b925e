//! Assets and the CMDB: configuration items (devices, software, services) with their lifecycle,
//! who holds them, their relationships and what an outage of one affects, the tickets about
//! them, and their full history.
//!
//! Support staff read and change assets; a requester sees only the devices checked out to them
//! ("my devices") and may name one of those on a ticket. Every change writes a history event in
//! the same transaction, so an asset's history is complete.

pub mod csv_io;
pub mod inventory;
pub mod licences;
pub mod patch;

use crate::kernel::access::require_staff;
use crate::kernel::error::{found, invalid};
use crate::kernel::paging::{keyset_cursor, parse_cursor, parse_limit};
use crate::tickets::resolve_ref;
use crate::{App, AppError, AppResult, Page};
use orion_domain::asset::{self, CI_TYPES};
use orion_domain::{Actor, FieldErrors, Role, TicketEvent, Timestamp};
use orion_store::cmdb::{self as store, CiEventRow, CiFields, CiFilter, CiRow, RelationRow};
use orion_store::{Conn, groups, users};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use utoipa::{IntoParams, ToSchema};

crate::api_schema::one_of_values!(relation_kinds, relation_kinds_exact: RELATION_KINDS);

const NAME_MAX: usize = 200;
const TEXT_MAX: usize = 20_000;
/// An impact walk stops after this many CIs (a CMDB where everything depends on everything).
const IMPACT_MAX: usize = 5_000;

/// A person an asset is checked out to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Holder {
    pub id: i64,
    pub email: String,
    pub name: String,
}

/// A configuration item: a device, a piece of software or a service.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Asset {
    pub id: i64,
    /// One of desktop, laptop, server, virtual_machine, printer, network_device, phone,
    /// peripheral, room_equipment, software, service
    #[serde(rename = "type")]
    pub ci_type: String,
    pub name: String,
    pub asset_tag: Option<String>,
    pub serial: Option<String>,
    pub model: String,
    pub manufacturer: String,
    pub vendor: String,
    pub location: String,
    pub department: String,
    pub cost_cents: Option<i64>,
    /// `YYYY-MM-DD`
    pub purchase_date: Option<String>,
    /// `YYYY-MM-DD`
    pub warranty_end: Option<String>,
    pub under_warranty: Option<bool>,
    pub notes: String,
    /// ordered, in_stock, deployed, in_repair, retired, disposed
    pub state: String,
    /// The states it may move to next
    pub next_states: Vec<String>,
    /// The type's own attributes (free-form JSON object)
    #[schema(value_type = Object)]
    pub attributes: Value,
    /// Who it is checked out to
    pub holder: Option<Holder>,
    /// When a checked-out asset is expected back (`YYYY-MM-DD`)
    pub due_back: Option<String>,
    pub overdue: bool,
    /// The group that supports it
    pub support_group: Option<String>,
    pub os_name: String,
    pub os_version: String,
    pub kernel: String,
    /// The last inventory's hardware summary: cpus, memory_mb, disks, networks, software_count
    #[schema(value_type = Object)]
    pub hardware: Value,
    pub last_inventory_at: Option<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// Refuses a lifecycle move the asset's state does not allow, naming the ones it does.
pub(crate) fn check_move(from: &str, to: &str) -> AppResult<()> {
    if asset::can_move(from, to) {
        return Ok(());
    }
    Err(AppError::Conflict(format!(
        "a {from} asset cannot move to {to}; it can move to {}",
        asset::next_states(from).join(", ")
    )))
}

/// The day (`YYYY-MM-DD`, UTC) `now` falls on.
pub(crate) fn today(now: i64) -> String {
    Timestamp(now).to_rfc3339()[..10].to_string()
}

pub(crate) fn view(r: CiRow, now: i64) -> Asset {
    let today = today(now);
    let holder = match (r.owner_id, r.owner_email, r.owner_name) {
        (Some(id), Some(email), Some(name)) => Some(Holder { id, email, name }),
        _ => None,
    };
    Asset {
        id: r.id,
        next_states: asset::next_states(&r.state).iter().map(|s| s.to_string()).collect(),
        under_warranty: r.warranty_end.as_ref().map(|w| w.as_str() >= today.as_str()),
        overdue: r.state == "deployed" && r.due_back.as_ref().is_some_and(|d| d.as_str() < today.as_str()),
        ci_type: r.ci_type,
        name: r.name,
        asset_tag: r.asset_tag,
        serial: r.serial,
        model: r.model,
        manufacturer: r.manufacturer,
        vendor: r.vendor,
        location: r.location,
        department: r.department,
        cost_cents: r.cost_cents,
        purchase_date: r.purchase_date,
        warranty_end: r.warranty_end,
        notes: r.notes,
        state: r.state,
        attributes: serde_json::from_str(&r.attributes).unwrap_or(json!({})),
        holder,
        due_back: r.due_back,
        support_group: r.group_name,
        os_name: r.os_name,
        os_version: r.os_version,
        kernel: r.kernel,
        hardware: serde_json::from_str(&r.hardware).unwrap_or(json!({})),
        last_inventory_at: r.last_inventory_at.map(|t| Timestamp(t).to_rfc3339()),
        version: r.version,
        created_at: Timestamp(r.created_at).to_rfc3339(),
        updated_at: Timestamp(r.updated_at).to_rfc3339(),
    }
}

/// `PUT /api/v1/assets/{id}`, and what `POST /api/v1/assets` comes to in the service: on a
/// change, fields left out keep their value and an empty string clears an optional one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetInput {
    /// Required on create
    #[serde(rename = "type")]
    #[schema(schema_with = crate::api_schema::ci_types)]
    pub ci_type: Option<String>,
    /// Required on create
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: Option<String>,
    /// Unique
    pub asset_tag: Option<String>,
    pub serial: Option<String>,
    pub model: Option<String>,
    pub manufacturer: Option<String>,
    pub vendor: Option<String>,
    pub location: Option<String>,
    pub department: Option<String>,
    pub cost_cents: Option<i64>,
    /// `YYYY-MM-DD`
    pub purchase_date: Option<String>,
    /// `YYYY-MM-DD`
    pub warranty_end: Option<String>,
    pub notes: Option<String>,
    /// A JSON object; on a change it replaces the stored one
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Value>,
    /// Group name
    pub support_group: Option<String>,
    /// Create only: the first state (default `in_stock`; `ordered` for assets not yet received).
    /// Not in the document's `PUT` body: a change of state goes through its own endpoints (state,
    /// checkout, checkin, repair), and a `PUT` naming one is refused with 422 saying so.
    #[schema(ignore)]
    pub state: Option<String>,
    /// Change only: the version you read; a change made since gives 409
    pub version: Option<i64>,
}

/// `POST /api/v1/assets`: [`AssetInput`] without `version`, which only a change can carry (there
/// is no version to compare before the asset exists). Its own type so the API's document does not
/// offer a field the server refuses.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAssetInput {
    #[serde(rename = "type")]
    #[schema(schema_with = crate::api_schema::ci_types_exact, required = true)]
    pub ci_type: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: Option<String>,
    /// Unique
    pub asset_tag: Option<String>,
    pub serial: Option<String>,
    pub model: Option<String>,
    pub manufacturer: Option<String>,
    pub vendor: Option<String>,
    pub location: Option<String>,
    pub department: Option<String>,
    pub cost_cents: Option<i64>,
    /// `YYYY-MM-DD`
    pub purchase_date: Option<String>,
    /// `YYYY-MM-DD`
    pub warranty_end: Option<String>,
    pub notes: Option<String>,
    /// A JSON object
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Value>,
    /// Group name
    pub support_group: Option<String>,
    /// The first state (default `in_stock`; `ordered` for assets not yet received)
    pub state: Option<String>,
}

impl From<NewAssetInput> for AssetInput {
    fn from(n: NewAssetInput) -> Self {
        AssetInput {
            ci_type: n.ci_type,
            name: n.name,
            asset_tag: n.asset_tag,
            serial: n.serial,
            model: n.model,
            manufacturer: n.manufacturer,
            vendor: n.vendor,
            location: n.location,
            department: n.department,
            cost_cents: n.cost_cents,
            purchase_date: n.purchase_date,
            warranty_end: n.warranty_end,
            notes: n.notes,
            attributes: n.attributes,
            support_group: n.support_group,
            state: n.state,
            version: None,
        }
    }
}

/// Filters for `GET /api/v1/assets`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AssetQuery {
    #[serde(rename = "type")]
    #[param(rename = "type", schema_with = crate::api_schema::ci_types_exact)]
    pub ci_type: Option<String>,
    #[param(schema_with = crate::api_schema::asset_states_exact)]
    pub state: Option<String>,
    /// Holder's e-mail, or `me`
    pub holder: Option<String>,
    /// Exact location
    pub location: Option<String>,
    /// Name prefix, or an exact asset tag or serial
    pub q: Option<String>,
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    pub cursor: Option<String>,
    /// 1..200, default 50
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

fn opt_text(v: Option<&String>, current: Option<&Option<String>>) -> Option<String> {
    match v {
        Some(s) if s.trim().is_empty() => None,
        Some(s) => Some(s.trim().to_string()),
        None => current.cloned().flatten(),
    }
}

fn text(v: Option<&String>, current: Option<&String>) -> String {
    v.map(|s| s.trim().to_string()).or_else(|| current.cloned()).unwrap_or_default()
}

/// Checks an input against the current row (None on create) and gives the fields to write.
async fn validate(c: &mut Conn<'_>, input: &AssetInput, cur: Option<&CiRow>) -> AppResult<CiFields> {
    let mut errs = FieldErrors::new();
    let ci_type = match (&input.ci_type, cur) {
        (Some(t), _) => errs.check(asset::parse_type("type", t)).unwrap_or_default().to_string(),
        (None, Some(r)) => r.ci_type.clone(),
        (None, None) => {
            errs.push("type", format!("is required: one of {}", CI_TYPES.join(", ")));
            String::new()
        }
    };
    let name = text(input.name.as_ref(), cur.map(|r| &r.name));
    if name.is_empty() || name.chars().count() > NAME_MAX {
        errs.push("name", format!("is required, at most {NAME_MAX} characters"));
    }
    let asset_tag = opt_text(input.asset_tag.as_ref(), cur.map(|r| &r.asset_tag));
    let serial = opt_text(input.serial.as_ref(), cur.map(|r| &r.serial));
    for (field, v) in [("asset_tag", &asset_tag), ("serial", &serial)] {
        if v.as_ref().is_some_and(|v| v.chars().count() > 100) {
            errs.push(field, "must be at most 100 characters");
        }
    }
    let mut date = |field: &str, v: Option<&String>, cur: Option<&Option<String>>| match v {
        Some(s) if s.trim().is_empty() => None,
        Some(s) => errs.check(asset::parse_date(field, s)),
        None => cur.cloned().flatten(),
    };
    let purchase_date = date("purchase_date", input.purchase_date.as_ref(), cur.map(|r| &r.purchase_date));
    let warranty_end = date("warranty_end", input.warranty_end.as_ref(), cur.map(|r| &r.warranty_end));
    let cost_cents = input.cost_cents.or(cur.and_then(|r| r.cost_cents));
    if cost_cents.is_some_and(|c| c < 0) {
        errs.push("cost_cents", "must not be negative");
    }
    let notes = text(input.notes.as_ref(), cur.map(|r| &r.notes));
    if notes.len() > TEXT_MAX {
        errs.push("notes", format!("must be at most {TEXT_MAX} bytes"));
    }
    let attributes = match (&input.attributes, cur) {
        (Some(Value::Object(m)), _) => Value::Object(m.clone()).to_string(),
        (Some(Value::Null), _) => "{}".into(),
        (Some(_), _) => {
            errs.push("attributes", "must be a JSON object");
            String::new()
        }
        (None, Some(r)) => r.attributes.clone(),
        (None, None) => "{}".into(),
    };
    let group_id = match &input.support_group {
        Some(g) if g.trim().is_empty() => None,
        Some(g) => {
            let all = groups::list(c).await?;
            match all.iter().find(|x| x.name.eq_ignore_ascii_case(g.trim())) {
                Some(x) => Some(x.id),
                None => {
                    errs.push("support_group", format!("no group named {g:?}"));
                    None
                }
            }
        }
        None => cur.and_then(|r| r.group_id),
    };
    let fields = CiFields {
        ci_type,
        name,
        asset_tag,
        serial,
        model: text(input.model.as_ref(), cur.map(|r| &r.model)),
        manufacturer: text(input.manufacturer.as_ref(), cur.map(|r| &r.manufacturer)),
        vendor: text(input.vendor.as_ref(), cur.map(|r| &r.vendor)),
        location: text(input.location.as_ref(), cur.map(|r| &r.location)),
        department: text(input.department.as_ref(), cur.map(|r| &r.department)),
        cost_cents,
        purchase_date,
        warranty_end,
        notes,
        attributes,
        group_id,
    };
    for (field, v) in [
        ("model", &fields.model),
        ("manufacturer", &fields.manufacturer),
        ("vendor", &fields.vendor),
        ("location", &fields.location),
        ("department", &fields.department),
    ] {
        if v.chars().count() > NAME_MAX {
            errs.push(field, format!("must be at most {NAME_MAX} characters"));
        }
    }
    errs.into_result()?;
    Ok(fields)
}

/// The fields that differ between two versions, for the history.
fn changes(before: &CiRow, after: &CiFields) -> Vec<Value> {
    let mut out = Vec::new();
    let mut diff = |field: &str, a: String, b: String| {
        if a != b {
            out.push(json!({"field": field, "from": a, "to": b}));
        }
    };
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let cents = |v: Option<i64>| v.map(asset::format_cents).unwrap_or_default();
    diff("type", before.ci_type.clone(), after.ci_type.clone());
    diff("name", before.name.clone(), after.name.clone());
    diff("asset_tag", o(&before.asset_tag), o(&after.asset_tag));
    diff("serial", o(&before.serial), o(&after.serial));
    diff("model", before.model.clone(), after.model.clone());
    diff("manufacturer", before.manufacturer.clone(), after.manufacturer.clone());
    diff("vendor", before.vendor.clone(), after.vendor.clone());
    diff("location", before.location.clone(), after.location.clone());
    diff("department", before.department.clone(), after.department.clone());
    diff("cost", cents(before.cost_cents), cents(after.cost_cents));
    diff("purchase_date", o(&before.purchase_date), o(&after.purchase_date));
    diff("warranty_end", o(&before.warranty_end), o(&after.warranty_end));
    diff("notes", before.notes.clone(), after.notes.clone());
    diff("attributes", before.attributes.clone(), after.attributes.clone());
    diff(
        "support_group",
        before.group_id.map(|g| g.to_string()).unwrap_or_default(),
        after.group_id.map(|g| g.to_string()).unwrap_or_default(),
    );
    out
}

/// Writes a history event.
pub(crate) async fn event(
    c: &mut Conn<'_>,
    ci_id: i64,
    now: i64,
    actor: Option<&Actor>,
    kind: &str,
    summary: &str,
    data: Value,
) -> AppResult<()> {
    store::insert_event(c, ci_id, now, actor.map(|a| a.id.0), kind, summary, &data.to_string()).await?;
    Ok(())
}

fn duplicate_tag(e: orion_store::StoreError, tag: &Option<String>) -> AppError {
    match e {
        orion_store::StoreError::Duplicate => {
            invalid("asset_tag", format!("asset tag {:?} is on another asset", tag.clone().unwrap_or_default()))
        }
        e => e.into(),
    }
}

/// One entry of an asset's history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AssetEvent {
    pub id: i64,
    pub at: String,
    /// Who did it (none: Orion itself, e.g. an inventory)
    pub actor: Option<String>,
    /// created, updated, state_changed, checked_out, checked_in, sent_to_repair, returned_from_repair,
    /// related, unrelated, ticket_linked, ticket_unlinked, inventoried, licence_assigned, imported
    pub kind: String,
    pub summary: String,
    #[schema(value_type = Object)]
    pub data: Value,
}

impl From<CiEventRow> for AssetEvent {
    fn from(e: CiEventRow) -> Self {
        AssetEvent {
            id: e.id,
            at: Timestamp(e.at).to_rfc3339(),
            actor: e.actor_name,
            kind: e.kind,
            summary: e.summary,
            data: serde_json::from_str(&e.data).unwrap_or(Value::Null),
        }
    }
}

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

/// A relation as listed on an asset: `asset <kind> other`, from this asset's point of view.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Relation {
    pub id: i64,
    pub source: AssetRef,
    /// runs_on, depends_on, connected_to, installed_on
    pub kind: String,
    pub target: AssetRef,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AssetRef {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub ci_type: String,
}

impl From<RelationRow> for Relation {
    fn from(r: RelationRow) -> Self {
        Relation {
            id: r.id,
            source: AssetRef { id: r.source_id, name: r.source_name, ci_type: r.source_type },
            kind: r.kind,
            target: AssetRef { id: r.target_id, name: r.target_name, ci_type: r.target_type },
            created_at: Timestamp(r.created_at).to_rfc3339(),
        }
    }
}

/// The relation kinds: `source <kind> target`, and an outage of the target affects the source.
pub const RELATION_KINDS: &[&str] = &["runs_on", "depends_on", "connected_to", "installed_on"];

/// `POST /api/v1/assets/{id}/relations`: this asset `<kind>` the target.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelationInput {
    /// runs_on (VM -> server), depends_on (service -> server, database), connected_to (device ->
    /// switch), installed_on (software -> device)
    #[schema(schema_with = relation_kinds_exact)]
    pub kind: String,
    /// The other asset: its id, or its asset tag
    #[schema(min_length = 1, pattern = "\\S")]
    pub target: String,
}

/// What an outage of an asset affects: every CI that runs on, depends on, is connected to or is
/// installed on it, transitively, the services among them, and the people holding them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Impact {
    pub asset: AssetRef,
    /// Every affected CI with how far it is from the asset (1: directly) and the path's last step
    pub affected: Vec<ImpactedCi>,
    /// The affected services (type `service`), the asset itself included if it is one
    pub services: Vec<AssetRef>,
    /// The people holding an affected device, or the asset itself
    pub users: Vec<Holder>,
    /// True when the walk stopped at its limit (5,000 CIs)
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImpactedCi {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub ci_type: String,
    pub depth: i64,
    /// How it depends on the CI one step closer: `<this> <kind> <via>`
    pub kind: String,
    pub via: i64,
}

/// A ticket that names an asset.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AssetTicket {
    pub number: String,
    pub title: String,
    pub state: String,
    pub priority: String,
    pub created_at: String,
}

/// Installed software on an asset, as its last inventory listed it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Software {
    pub name: String,
    pub version: String,
    pub publisher: String,
}

/// The assets a ticket names, and what an outage of them affects.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TicketAssets {
    pub assets: Vec<Asset>,
    /// Services affected through any of them
    pub affected_services: Vec<AssetRef>,
    /// How many people hold an affected device
    pub affected_users: usize,
    /// How many CIs are affected in all
    pub affected_cis: usize,
}

/// `POST /api/v1/tickets/{number}/assets`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketAssetInput {
    /// The asset's id or asset tag
    pub asset: String,
}

/// Walks the relation graph from `root` towards everything that depends on it. Safe against
/// cycles (each CI is visited once) and bounded by [`IMPACT_MAX`].
pub(crate) async fn walk_impact(c: &mut Conn<'_>, roots: &[i64]) -> AppResult<(Vec<(i64, i64, String, i64)>, bool)> {
    let mut seen: HashSet<i64> = roots.iter().copied().collect();
    let mut found = Vec::new();
    let mut frontier: Vec<i64> = roots.to_vec();
    let mut depth = 0;
    let mut truncated = false;
    while !frontier.is_empty() {
        depth += 1;
        let edges = store::sources_of(c, &frontier).await?;
        let mut next = Vec::new();
        for (source, kind, target) in edges {
            if seen.insert(source) {
                if found.len() >= IMPACT_MAX {
                    truncated = true;
                    break;
                }
                found.push((source, depth, kind, target));
                next.push(source);
            }
        }
        if truncated {
            break;
        }
        frontier = next;
    }
    Ok((found, truncated))
}

impl App {
    /// Registers an asset (staff).
    pub async fn create_asset(&self, actor: &Actor, input: AssetInput) -> AppResult<Asset> {
        require_staff(actor, "register assets")?;
        let state = match &input.state {
            Some(s) => match asset::parse_state("state", s).map_err(|e| invalid(&e.field, e.message))? {
                s @ ("ordered" | "in_stock" | "deployed") => s,
                _ => return Err(invalid("state", "a new asset starts ordered, in_stock or deployed")),
            },
            None => "in_stock",
        };
        if input.version.is_some() {
            return Err(invalid("version", "is only for changes"));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let f = validate(&mut c, &input, None).await?;
        let id = store::insert(&mut c, &f, state, now).await.map_err(|e| duplicate_tag(e, &f.asset_tag))?;
        event(
            &mut c,
            id,
            now,
            Some(actor),
            "created",
            &format!("Registered {} ({})", f.name, state),
            json!({"state": state}),
        )
        .await?;
        let row = store::get(&mut c, id).await?;
        self.commit(tx).await?;
        metrics::counter!("orion_assets_created_total").increment(1);
        Ok(view(row, now))
    }

    /// Changes an asset's fields (staff); its state and holder change through their own calls.
    pub async fn update_asset(&self, actor: &Actor, id: i64, input: AssetInput) -> AppResult<Asset> {
        require_staff(actor, "change assets")?;
        if input.state.is_some() {
            return Err(invalid("state", "use POST /assets/{id}/state, checkout, checkin or repair"));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let cur = found(store::get(&mut c, id).await, "asset")?;
        if input.version.is_some_and(|v| v != cur.version) {
            return Err(AppError::Conflict(format!(
                "the asset changed since version {}; reload it",
                input.version.unwrap_or(0)
            )));
        }
        let f = validate(&mut c, &input, Some(&cur)).await?;
        let diff = changes(&cur, &f);
        if !diff.is_empty() {
            if !store::update(&mut c, id, cur.version, &f, now).await.map_err(|e| duplicate_tag(e, &f.asset_tag))? {
                return Err(AppError::Conflict("the asset changed meanwhile; reload it".into()));
            }
            let names: Vec<&str> = diff.iter().filter_map(|d| d["field"].as_str()).collect();
            event(
                &mut c,
                id,
                now,
                Some(actor),
                "updated",
                &format!("Changed {}", names.join(", ")),
                json!({"changes": diff}),
            )
            .await?;
        }
        let row = store::get(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(view(row, now))
    }

    /// One asset: staff see any, a requester only one checked out to them.
    pub async fn get_asset(&self, actor: &Actor, id: i64) -> AppResult<Asset> {
        let mut r = self.db.read().await?;
        let row = found(store::get(&mut r.conn(), id).await, "asset")?;
        if !actor.can_work_tickets() && row.owner_id != Some(actor.id.0) {
            return Err(AppError::NotFound("asset"));
        }
        Ok(view(row, self.now()))
    }

    /// Assets newest first (staff; a requester's list is their own devices whatever the filter).
    pub async fn list_assets(&self, actor: &Actor, q: AssetQuery) -> AppResult<Page<Asset>> {
        let limit = parse_limit(q.limit)?;
        let before = parse_cursor(q.cursor.as_deref())?;
        let mut errs = FieldErrors::new();
        let mut f = CiFilter {
            ci_type: q.ci_type.as_deref().and_then(|t| errs.check(asset::parse_type("type", t))).map(str::to_string),
            state: q.state.as_deref().and_then(|s| errs.check(asset::parse_state("state", s))).map(str::to_string),
            location: q.location.clone().filter(|l| !l.trim().is_empty()),
            ..CiFilter::default()
        };
        if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            // An asset tag or serial is matched exactly; anything else is a name prefix.
            f.name_prefix = Some(text.to_lowercase());
            f.tag_or_serial = Some(text.to_string());
        }
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        match (actor.can_work_tickets(), q.holder.as_deref().map(str::trim)) {
            (false, _) | (true, Some("me")) => f.owner_id = Some(actor.id.0),
            (true, Some(email)) if !email.is_empty() => {
                match users::find_by_email(&mut c, &email.to_lowercase()).await? {
                    Some(u) => f.owner_id = Some(u.id),
                    None => errs.push("holder", format!("no user {email:?}")),
                }
            }
            _ => {}
        }
        errs.into_result()?;
        let mut rows = if let (Some(prefix), Some(exact)) = (f.name_prefix.take(), f.tag_or_serial.take()) {
            // Tag or serial first; a name prefix when nothing has that tag or serial.
            let exact_filter = CiFilter { tag_or_serial: Some(exact), ..f.clone() };
            let hits = store::list(&mut c, &exact_filter, before, limit + 1).await?;
            if hits.is_empty() {
                store::list(&mut c, &CiFilter { name_prefix: Some(prefix), ..f }, before, limit + 1).await?
            } else {
                hits
            }
        } else {
            store::list(&mut c, &f, before, limit + 1).await?
        };
        let next_cursor = keyset_cursor(&mut rows, limit, |r| r.id);
        let now = self.now();
        Ok(Page { items: rows.into_iter().map(|r| view(r, now)).collect(), next_cursor })
    }

    /// The devices checked out to the caller: what a requester picks from when reporting a problem.
    pub async fn my_devices(&self, actor: &Actor) -> AppResult<Vec<Asset>> {
        let mut r = self.db.read().await?;
        let f = CiFilter { owner_id: Some(actor.id.0), ..CiFilter::default() };
        let rows = store::list(&mut r.conn(), &f, None, 200).await?;
        let now = self.now();
        Ok(rows.into_iter().map(|r| view(r, now)).collect())
    }

    /// Removes an asset that was registered by mistake (admins). Anything with tickets or licence
    /// seats is retired and disposed of instead, so its history stays.
    pub async fn delete_asset(&self, actor: &Actor, id: i64) -> AppResult<()> {
        crate::kernel::access::require_admin(actor, "delete assets")?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        found(store::get(&mut c, id).await, "asset")?;
        if store::is_referenced(&mut c, id).await? {
            return Err(AppError::Conflict(
                "tickets or licence seats refer to this asset; retire and dispose of it instead".into(),
            ));
        }
        store::delete(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// An asset's history, newest first (staff).
    pub async fn asset_history(
        &self,
        actor: &Actor,
        id: i64,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<AssetEvent>> {
        require_staff(actor, "read asset history")?;
        let limit = parse_limit(limit)?;
        let before = parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        found(store::get(&mut c, id).await, "asset")?;
        let mut rows = store::events(&mut c, id, before, limit + 1).await?;
        let next_cursor = keyset_cursor(&mut rows, limit, |e| e.id);
        Ok(Page { items: rows.into_iter().map(Into::into).collect(), next_cursor })
    }

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

    /// An asset's relations, both directions (staff).
    pub async fn asset_relations(&self, actor: &Actor, id: i64) -> AppResult<Vec<Relation>> {
        require_staff(actor, "read the CMDB")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        found(store::get(&mut c, id).await, "asset")?;
        Ok(store::relations_of(&mut c, id).await?.into_iter().map(Into::into).collect())
    }

    /// Records `asset <kind> target` (staff).
    pub async fn relate_asset(&self, actor: &Actor, id: i64, input: RelationInput) -> AppResult<Relation> {
        require_staff(actor, "change the CMDB")?;
        let kind = input.kind.trim().to_lowercase();
        if !RELATION_KINDS.contains(&kind.as_str()) {
            return Err(invalid("kind", format!("must be one of {}", RELATION_KINDS.join(", "))));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let source = found(store::get(&mut c, id).await, "asset")?;
        let target = resolve_ref(&mut c, "target", &input.target).await?;
        if target.id == source.id {
            return Err(invalid("target", "an asset cannot relate to itself"));
        }
        let rid = match store::insert_relation(&mut c, id, &kind, target.id, actor.id.0, now).await {
            Err(orion_store::StoreError::Duplicate) => {
                return Err(AppError::Conflict(format!("{} already {kind} {}", source.name, target.name)));
            }
            other => other?,
        };
        let summary = format!("{} {} {}", source.name, kind.replace('_', " "), target.name);
        let data = json!({"relation": rid, "source": source.id, "kind": kind, "target": target.id});
        event(&mut c, source.id, now, Some(actor), "related", &summary, data.clone()).await?;
        event(&mut c, target.id, now, Some(actor), "related", &summary, data).await?;
        let rel = store::get_relation(&mut c, rid).await?;
        self.commit(tx).await?;
        Ok(rel.into())
    }

    /// Removes a relation of this asset (staff).
    pub async fn unrelate_asset(&self, actor: &Actor, id: i64, relation: i64) -> AppResult<()> {
        require_staff(actor, "change the CMDB")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let rel = found(store::get_relation(&mut c, relation).await, "relation")?;
        if rel.source_id != id && rel.target_id != id {
            return Err(AppError::NotFound("relation"));
        }
        store::delete_relation(&mut c, relation).await?;
        let summary = format!("No longer: {} {} {}", rel.source_name, rel.kind.replace('_', " "), rel.target_name);
        let data = json!({"relation": rel.id, "source": rel.source_id, "kind": rel.kind, "target": rel.target_id});
        event(&mut c, rel.source_id, now, Some(actor), "unrelated", &summary, data.clone()).await?;
        event(&mut c, rel.target_id, now, Some(actor), "unrelated", &summary, data).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// What an outage of this asset affects (staff).
    pub async fn asset_impact(&self, actor: &Actor, id: i64) -> AppResult<Impact> {
        require_staff(actor, "read the CMDB")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let root = found(store::get(&mut c, id).await, "asset")?;
        let (walk, truncated) = walk_impact(&mut c, &[id]).await?;
        let ids: Vec<i64> = walk.iter().map(|w| w.0).collect();
        let rows: HashMap<i64, CiRow> = store::get_many(&mut c, &ids).await?.into_iter().map(|r| (r.id, r)).collect();
        let mut affected = Vec::new();
        for (cid, depth, kind, via) in walk {
            if let Some(row) = rows.get(&cid) {
                affected.push(ImpactedCi {
                    id: cid,
                    name: row.name.clone(),
                    ci_type: row.ci_type.clone(),
                    depth,
                    kind,
                    via,
                });
            }
        }
        let all: Vec<&CiRow> = std::iter::once(&root).chain(ids.iter().filter_map(|i| rows.get(i))).collect();
        let (services, users) = services_and_users(&all);
        Ok(Impact {
            asset: AssetRef { id: root.id, name: root.name, ci_type: root.ci_type },
            affected,
            services,
            users,
            truncated,
        })
    }

    /// The tickets that name an asset, newest first (staff).
    pub async fn asset_tickets(
        &self,
        actor: &Actor,
        id: i64,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<AssetTicket>> {
        require_staff(actor, "read asset tickets")?;
        let limit = parse_limit(limit)?;
        let before = parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        found(store::get(&mut c, id).await, "asset")?;
        let mut rows = store::tickets_of_ci(&mut c, id, before, limit + 1).await?;
        let next_cursor = keyset_cursor(&mut rows, limit, |t| t.id);
        let items = rows
            .into_iter()
            .map(|t| AssetTicket {
                number: t.number,
                title: t.title,
                state: t.state,
                priority: format!("P{}", t.priority),
                created_at: Timestamp(t.created_at).to_rfc3339(),
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    /// The software an asset's last inventory listed (staff).
    pub async fn asset_software(&self, actor: &Actor, id: i64) -> AppResult<Vec<Software>> {
        require_staff(actor, "read installed software")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        found(store::get(&mut c, id).await, "asset")?;
        Ok(store::software(&mut c, id)
            .await?
            .into_iter()
            .map(|s| Software { name: s.name, version: s.version, publisher: s.publisher })
            .collect())
    }

    /// The assets a ticket names, with the services and people an outage of them affects.
    /// A requester sees the devices on their own tickets (not the impact beyond them).
    pub async fn ticket_assets(&self, actor: &Actor, number: &str) -> AppResult<TicketAssets> {
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        let rows = store::cis_of_ticket(&mut c, t.id).await?;
        let now = self.now();
        if !actor.can_work_tickets() {
            let assets = rows.into_iter().map(|r| view(r, now)).collect();
            return Ok(TicketAssets { assets, affected_services: Vec::new(), affected_users: 0, affected_cis: 0 });
        }
        let roots: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let (walk, _) = walk_impact(&mut c, &roots).await?;
        let ids: Vec<i64> = walk.iter().map(|w| w.0).collect();
        let more = store::get_many(&mut c, &ids).await?;
        let all: Vec<&CiRow> = rows.iter().chain(more.iter()).collect();
        let (services, users) = services_and_users(&all);
        Ok(TicketAssets {
            affected_services: services,
            affected_users: users.len(),
            affected_cis: ids.len(),
            assets: rows.into_iter().map(|r| view(r, now)).collect(),
        })
    }

    /// Names an asset on a ticket. Staff may name any asset; a requester only a device of
    /// their own on their own ticket.
    pub async fn link_ticket_asset(
        &self,
        actor: &Actor,
        number: &str,
        input: TicketAssetInput,
    ) -> AppResult<TicketAssets> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        let ci = resolve_ref(&mut c, "asset", &input.asset).await?;
        if actor.role == Role::Requester && ci.owner_id != Some(actor.id.0) {
            return Err(invalid("asset", "you can name only a device checked out to you"));
        }
        crate::tickets::link_asset(&mut c, (t.id, &t.number), (ci.id, &ci.name), Some(actor.id.0), now).await?;
        self.commit(tx).await?;
        self.ticket_assets(actor, number).await
    }

    /// Removes an asset from a ticket (staff).
    pub async fn unlink_ticket_asset(&self, actor: &Actor, number: &str, asset_id: i64) -> AppResult<()> {
        require_staff(actor, "change a ticket's assets")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        found(store::unlink_ticket(&mut c, t.id, asset_id).await, "asset on this ticket")?;
        let ci = store::get(&mut c, asset_id).await?;
        let event = TicketEvent::AssetLinked { asset_id: ci.id, ticket_number: t.number.clone(), linked: false };
        let data = json!({"asset": ci.id, "name": ci.name});
        crate::tickets::record_entry(&mut c, t.id, now, Some(actor), ("asset_unlinked", event), &data).await?;
        self.commit(tx).await?;
        Ok(())
    }
}

/// The history entry an asset gets when it is named on a ticket or no longer is (a subscriber
/// to [`TicketEvent::AssetLinked`]).
pub(crate) async fn react(c: &mut Conn<'_>, r: &orion_store::timeline::Recorded) -> AppResult<()> {
    if let orion_domain::TicketEvent::AssetLinked { asset_id, ticket_number, linked } = &r.event {
        let (kind, body) = if *linked {
            ("ticket_linked", format!("Named on {ticket_number}"))
        } else {
            ("ticket_unlinked", format!("No longer on {ticket_number}"))
        };
        let data = json!({"ticket": ticket_number}).to_string();
        let actor_id = r.entry.as_ref().and_then(|e| e.actor_id);
        store::insert_event(c, *asset_id, r.at, actor_id, kind, &body, &data).await?;
    }
    Ok(())
}

fn services_and_users(all: &[&CiRow]) -> (Vec<AssetRef>, Vec<Holder>) {
    let mut services: Vec<AssetRef> = all
        .iter()
        .filter(|r| r.ci_type == "service")
        .map(|r| AssetRef { id: r.id, name: r.name.clone(), ci_type: r.ci_type.clone() })
        .collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    services.dedup_by_key(|s| s.id);
    let mut users: BTreeMap<String, Holder> = BTreeMap::new();
    for r in all {
        if let (Some(id), Some(email), Some(name)) = (r.owner_id, &r.owner_email, &r.owner_name) {
            users.insert(email.clone(), Holder { id, email: email.clone(), name: name.clone() });
        }
    }
    (services, users.into_values().collect())
}

fn fields_of(r: &CiRow) -> CiFields {
    CiFields {
        ci_type: r.ci_type.clone(),
        name: r.name.clone(),
        asset_tag: r.asset_tag.clone(),
        serial: r.serial.clone(),
        model: r.model.clone(),
        manufacturer: r.manufacturer.clone(),
        vendor: r.vendor.clone(),
        location: r.location.clone(),
        department: r.department.clone(),
        cost_cents: r.cost_cents,
        purchase_date: r.purchase_date.clone(),
        warranty_end: r.warranty_end.clone(),
        notes: r.notes.clone(),
        attributes: r.attributes.clone(),
        group_id: r.group_id,
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
