//! Software licences: what was bought (seats of a product, per device, per user or for the
//! site), who holds a seat, and compliance: entitled seats against the installations that
//! inventories found.

use super::{event, resolve_ref};
use crate::kernel::access::require_staff;
use crate::kernel::error::{found, invalid};
use crate::kernel::paging::{keyset_cursor, parse_cursor, parse_limit};
use crate::{App, AppError, AppResult, Page};
use orion_domain::asset;
use orion_domain::{Actor, FieldErrors, Timestamp};
use orion_store::cmdb::{self as store, AssignmentRow, LicenceFields, LicenceRow};
use orion_store::{Conn, users};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

crate::api_schema::one_of_values!(licence_types, licence_types_exact: LICENCE_TYPES);

pub const LICENCE_TYPES: &[&str] = &["per_device", "per_user", "site"];

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Licence {
    pub id: i64,
    pub product: String,
    pub vendor: String,
    /// per_device, per_user or site
    #[serde(rename = "type")]
    pub licence_type: String,
    /// None for a site licence
    pub seats: Option<i64>,
    /// The installed-software name it covers (`%` wildcard, any case)
    pub software_match: String,
    pub purchase_date: Option<String>,
    pub expires_on: Option<String>,
    pub expired: bool,
    pub cost_cents: Option<i64>,
    /// Contract or order number
    pub reference: String,
    pub notes: String,
    /// Seats given to devices or people
    pub assigned: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn view(r: LicenceRow, now: i64) -> Licence {
    let today = super::today(now);
    Licence {
        expired: r.expires_on.as_ref().is_some_and(|e| e.as_str() < today.as_str()),
        id: r.id,
        product: r.product,
        vendor: r.vendor,
        licence_type: r.licence_type,
        seats: r.seats,
        software_match: r.software_match,
        purchase_date: r.purchase_date,
        expires_on: r.expires_on,
        cost_cents: r.cost_cents,
        reference: r.reference,
        notes: r.notes,
        assigned: r.assigned,
        created_at: Timestamp(r.created_at).to_rfc3339(),
        updated_at: Timestamp(r.updated_at).to_rfc3339(),
    }
}

/// `POST /api/v1/licences`, `PUT /api/v1/licences/{id}` (fields left out keep their value).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LicenceInput {
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub product: Option<String>,
    pub vendor: Option<String>,
    /// per_device (default), per_user, site
    #[serde(rename = "type")]
    #[schema(schema_with = licence_types)]
    pub licence_type: Option<String>,
    /// Required unless the type is site
    #[schema(minimum = 1)]
    pub seats: Option<i64>,
    /// The installed-software name it covers; default: the product name. `%` is a wildcard.
    pub software_match: Option<String>,
    /// `YYYY-MM-DD`
    #[schema(schema_with = crate::api_schema::date)]
    pub purchase_date: Option<String>,
    /// `YYYY-MM-DD`; empty string: never expires
    #[schema(schema_with = crate::api_schema::date)]
    pub expires_on: Option<String>,
    pub cost_cents: Option<i64>,
    pub reference: Option<String>,
    pub notes: Option<String>,
}

pub(crate) struct ValidLicence {
    pub product: String,
    pub vendor: String,
    pub licence_type: String,
    pub seats: Option<i64>,
    pub software_match: String,
    pub purchase_date: Option<String>,
    pub expires_on: Option<String>,
    pub cost_cents: Option<i64>,
    pub reference: String,
    pub notes: String,
}

impl ValidLicence {
    pub(crate) fn fields(&self) -> LicenceFields<'_> {
        LicenceFields {
            product: &self.product,
            vendor: &self.vendor,
            licence_type: &self.licence_type,
            seats: self.seats,
            software_match: &self.software_match,
            purchase_date: self.purchase_date.as_deref(),
            expires_on: self.expires_on.as_deref(),
            cost_cents: self.cost_cents,
            reference: &self.reference,
            notes: &self.notes,
        }
    }
}

pub(crate) fn validate(input: &LicenceInput, cur: Option<&LicenceRow>) -> Result<ValidLicence, FieldErrors> {
    let mut errs = FieldErrors::new();
    let text = |v: &Option<String>, c: Option<&String>| {
        v.as_ref().map(|s| s.trim().to_string()).or(c.cloned()).unwrap_or_default()
    };
    let product = text(&input.product, cur.map(|c| &c.product));
    if product.is_empty() || product.chars().count() > 200 {
        errs.push("product", "is required, at most 200 characters");
    }
    let licence_type = text(&input.licence_type, cur.map(|c| &c.licence_type));
    let licence_type = if licence_type.is_empty() { "per_device".to_string() } else { licence_type.to_lowercase() };
    if !LICENCE_TYPES.contains(&licence_type.as_str()) {
        errs.push("type", format!("must be one of {}", LICENCE_TYPES.join(", ")));
    }
    let seats = if licence_type == "site" {
        if input.seats.is_some() {
            errs.push("seats", "a site licence has no seat count; leave it out");
        }
        None
    } else {
        let s = input.seats.or(cur.and_then(|c| c.seats));
        match s {
            Some(n) if n >= 1 => Some(n),
            Some(_) => {
                errs.push("seats", "must be at least 1");
                None
            }
            None => {
                errs.push("seats", "is required for per-device and per-user licences");
                None
            }
        }
    };
    let software_match = match (&input.software_match, cur) {
        (Some(m), _) if !m.trim().is_empty() => m.trim().to_string(),
        (None, Some(c)) => c.software_match.clone(),
        _ => product.clone(),
    };
    let mut date = |field: &str, v: &Option<String>, c: Option<&Option<String>>| match v {
        Some(s) if s.trim().is_empty() => None,
        Some(s) => errs.check(asset::parse_date(field, s)),
        None => c.cloned().flatten(),
    };
    let purchase_date = date("purchase_date", &input.purchase_date, cur.map(|c| &c.purchase_date));
    let expires_on = date("expires_on", &input.expires_on, cur.map(|c| &c.expires_on));
    let cost_cents = input.cost_cents.or(cur.and_then(|c| c.cost_cents));
    if cost_cents.is_some_and(|c| c < 0) {
        errs.push("cost_cents", "must not be negative");
    }
    errs.into_result()?;
    Ok(ValidLicence {
        vendor: text(&input.vendor, cur.map(|c| &c.vendor)),
        reference: text(&input.reference, cur.map(|c| &c.reference)),
        notes: text(&input.notes, cur.map(|c| &c.notes)),
        product,
        licence_type,
        seats,
        software_match,
        purchase_date,
        expires_on,
        cost_cents,
    })
}

/// `POST /api/v1/licences/{id}/assignments`: one of the two.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentInput {
    /// The device's id or asset tag (per-device licences)
    pub asset: Option<String>,
    /// The person's e-mail (per-user licences)
    pub user: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Assignment {
    pub id: i64,
    pub asset_id: Option<i64>,
    pub asset_name: Option<String>,
    pub user: Option<String>,
    pub created_at: String,
}

impl From<AssignmentRow> for Assignment {
    fn from(a: AssignmentRow) -> Self {
        Assignment {
            id: a.id,
            asset_id: a.ci_id,
            asset_name: a.ci_name,
            user: a.user_email,
            created_at: Timestamp(a.created_at).to_rfc3339(),
        }
    }
}

/// One product's standing: seats bought against installations found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ComplianceRow {
    pub product: String,
    pub software_match: String,
    /// per_device, per_user or site
    #[serde(rename = "type")]
    pub licence_type: String,
    /// The licences counted (expired ones are not)
    pub licences: Vec<i64>,
    /// Seats of unexpired licences; None: a site licence (unlimited)
    pub entitled: Option<i64>,
    /// Seats given to devices or people
    pub assigned: i64,
    /// Live devices the software is installed on
    pub installed_devices: i64,
    /// Distinct people holding those devices (an unheld device counts as one)
    pub installed_users: i64,
    /// What the licence type counts: devices, or people for per-user licences
    pub in_use: i64,
    /// `compliant`, `over_deployed` (in use beyond entitlement) or `unlicensed` (every licence expired)
    pub status: String,
    /// In use beyond the entitlement
    pub shortfall: i64,
    /// Entitled seats nobody uses
    pub unused: i64,
}

/// `GET /api/v1/licences/compliance`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ComplianceReport {
    pub products: Vec<ComplianceRow>,
    /// Licences expiring within `expiring_within_days` (and not yet expired)
    pub expiring: Vec<Licence>,
    pub expiring_within_days: i64,
    /// Already expired licences
    pub expired: Vec<Licence>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ComplianceQuery {
    /// Default 30
    #[param(minimum = 0, maximum = 3650)]
    pub expiring_within_days: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LicenceListQuery {
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    pub cursor: Option<String>,
    /// 1..200, default 50
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

async fn write(c: &mut Conn<'_>, id: Option<i64>, v: &ValidLicence, now: i64) -> AppResult<i64> {
    Ok(match id {
        None => store::insert_licence(c, &v.fields(), now).await?,
        Some(id) => {
            found(store::update_licence(c, id, &v.fields(), now).await, "licence")?;
            id
        }
    })
}

impl App {
    /// Records a licence purchase (staff).
    pub async fn create_licence(&self, actor: &Actor, input: LicenceInput) -> AppResult<Licence> {
        require_staff(actor, "record licences")?;
        let v = validate(&input, None)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let id = write(&mut c, None, &v, now).await?;
        let row = store::get_licence(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(view(row, now))
    }

    pub async fn update_licence(&self, actor: &Actor, id: i64, input: LicenceInput) -> AppResult<Licence> {
        require_staff(actor, "change licences")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let cur = found(store::get_licence(&mut c, id).await, "licence")?;
        let v = validate(&input, Some(&cur))?;
        if let Some(seats) = v.seats
            && seats < cur.assigned
        {
            return Err(invalid("seats", format!("{} seats are assigned; remove assignments first", cur.assigned)));
        }
        write(&mut c, Some(id), &v, now).await?;
        let row = store::get_licence(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(view(row, now))
    }

    pub async fn delete_licence(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require_staff(actor, "remove licences")?;
        let mut tx = self.db.begin().await?;
        found(store::delete_licence(&mut tx.conn(), id).await, "licence")?;
        self.commit(tx).await?;
        Ok(())
    }

    pub async fn get_licence(&self, actor: &Actor, id: i64) -> AppResult<Licence> {
        require_staff(actor, "read licences")?;
        let mut r = self.db.read().await?;
        Ok(view(found(store::get_licence(&mut r.conn(), id).await, "licence")?, self.now()))
    }

    pub async fn list_licences(&self, actor: &Actor, q: LicenceListQuery) -> AppResult<Page<Licence>> {
        require_staff(actor, "read licences")?;
        let limit = parse_limit(q.limit)?;
        let before = parse_cursor(q.cursor.as_deref())?;
        let mut r = self.db.read().await?;
        let mut rows = store::list_licences(&mut r.conn(), before, limit + 1).await?;
        let next_cursor = keyset_cursor(&mut rows, limit, |l| l.id);
        let now = self.now();
        Ok(Page { items: rows.into_iter().map(|l| view(l, now)).collect(), next_cursor })
    }

    pub async fn licence_assignments(&self, actor: &Actor, id: i64) -> AppResult<Vec<Assignment>> {
        require_staff(actor, "read licences")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        found(store::get_licence(&mut c, id).await, "licence")?;
        Ok(store::assignments(&mut c, id).await?.into_iter().map(Into::into).collect())
    }

    /// Gives a seat to a device or a person (staff); refused when every seat is taken.
    pub async fn assign_licence(&self, actor: &Actor, id: i64, input: AssignmentInput) -> AppResult<Assignment> {
        require_staff(actor, "assign licences")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let l = found(store::get_licence(&mut c, id).await, "licence")?;
        if l.seats.is_some_and(|s| l.assigned >= s) {
            return Err(AppError::Conflict(format!(
                "all {} seats of {} are assigned",
                l.seats.unwrap_or(0),
                l.product
            )));
        }
        let (ci, user) = match (&input.asset, &input.user) {
            (Some(a), None) => (Some(resolve_ref(&mut c, "asset", a).await?), None),
            (None, Some(u)) => match users::find_by_email(&mut c, &u.trim().to_lowercase()).await? {
                Some(u) => (None, Some(u)),
                None => return Err(invalid("user", format!("no user {u:?}"))),
            },
            _ => return Err(invalid("asset", "name either an asset or a user")),
        };
        let aid =
            match store::assign(&mut c, id, ci.as_ref().map(|x| x.id), user.as_ref().map(|u| u.id), actor.id.0, now)
                .await
            {
                Err(orion_store::StoreError::Duplicate) => {
                    return Err(AppError::Conflict("that seat is already assigned".into()));
                }
                other => other?,
            };
        if let Some(ci) = &ci {
            let summary = format!("Licence seat: {}", l.product);
            event(&mut c, ci.id, now, Some(actor), "licence_assigned", &summary, json!({"licence": l.id})).await?;
        }
        let row = store::assignments(&mut c, id).await?.into_iter().find(|a| a.id == aid);
        self.commit(tx).await?;
        row.map(Into::into).ok_or(AppError::NotFound("assignment"))
    }

    pub async fn unassign_licence(&self, actor: &Actor, id: i64, assignment: i64) -> AppResult<()> {
        require_staff(actor, "assign licences")?;
        let mut tx = self.db.begin().await?;
        found(store::unassign(&mut tx.conn(), id, assignment).await, "assignment")?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Entitled against installed, per product; over-deployed products, unused seats, licences
    /// expiring soon (staff).
    pub async fn licence_compliance(&self, actor: &Actor, q: ComplianceQuery) -> AppResult<ComplianceReport> {
        require_staff(actor, "read licence compliance")?;
        let within = q.expiring_within_days.unwrap_or(30);
        if !(0..=3650).contains(&within) {
            return Err(invalid("expiring_within_days", "must be 0 to 3650"));
        }
        let now = self.now();
        let today = super::today(now);
        let horizon = super::today(now + within * 86_400_000);
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let all = store::all_licences(&mut c).await?;
        let mut groups: BTreeMap<(String, String), Vec<&LicenceRow>> = BTreeMap::new();
        for l in &all {
            groups.entry((l.software_match.to_lowercase(), l.licence_type.clone())).or_default().push(l);
        }
        let mut products = Vec::new();
        for ((pattern, kind), ls) in groups {
            let live: Vec<&&LicenceRow> =
                ls.iter().filter(|l| l.expires_on.as_ref().is_none_or(|e| e.as_str() >= today.as_str())).collect();
            let (devices, people) = store::installed_counts(&mut c, &pattern).await?;
            let in_use = if kind == "per_user" { people } else { devices };
            let entitled = if kind == "site" { None } else { Some(live.iter().filter_map(|l| l.seats).sum::<i64>()) };
            let (status, shortfall, unused) = match entitled {
                _ if live.is_empty() => ("unlicensed", in_use, 0),
                None => ("compliant", 0, 0),
                Some(e) if in_use > e => ("over_deployed", in_use - e, 0),
                Some(e) => ("compliant", 0, e - in_use),
            };
            products.push(ComplianceRow {
                product: ls[0].product.clone(),
                software_match: ls[0].software_match.clone(),
                licence_type: kind,
                licences: live.iter().map(|l| l.id).collect(),
                entitled,
                assigned: live.iter().map(|l| l.assigned).sum(),
                installed_devices: devices,
                installed_users: people,
                in_use,
                status: status.into(),
                shortfall,
                unused,
            });
        }
        let expiring = all
            .iter()
            .filter(|l| {
                l.expires_on.as_ref().is_some_and(|e| e.as_str() >= today.as_str() && e.as_str() <= horizon.as_str())
            })
            .map(|l| view(l.clone(), now))
            .collect();
        let expired = all
            .iter()
            .filter(|l| l.expires_on.as_ref().is_some_and(|e| e.as_str() < today.as_str()))
            .map(|l| view(l.clone(), now))
            .collect();
        Ok(ComplianceReport { products, expiring, expiring_within_days: within, expired })
    }
}
