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
mod lifecycle;
pub mod patch;
mod relations;
mod ticket_links;

use crate::kernel::access::require_staff;
use crate::kernel::error::{found, invalid};
use crate::kernel::paging::{keyset_cursor, parse_cursor, parse_limit};
use crate::tickets::resolve_ref;
use crate::{App, AppError, AppResult, Page};
use orion_domain::asset::{self, CI_TYPES};
use orion_domain::{Actor, FieldErrors, Timestamp};
use orion_store::cmdb::{self as store, CiEventRow, CiFields, CiFilter, CiRow};
use orion_store::{Conn, groups, users};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

pub use lifecycle::{CheckinInput, CheckoutInput, RepairInput, RepairReturnInput, StateInput};
pub(crate) use relations::walk_impact;
pub use relations::{AssetRef, Impact, ImpactedCi, RELATION_KINDS, Relation, RelationInput};
pub(crate) use ticket_links::react;
pub use ticket_links::{AssetTicket, TicketAssetInput, TicketAssets};

pub(super) const NAME_MAX: usize = 200;
pub(super) const TEXT_MAX: usize = 20_000;

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

/// Installed software on an asset, as its last inventory listed it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Software {
    pub name: String,
    pub version: String,
    pub publisher: String,
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
}

pub(super) fn fields_of(r: &CiRow) -> CiFields {
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
