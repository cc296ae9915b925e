//! CSV import and export of assets, licences and users: the spreadsheet every site starts from.
//!
//! An import maps the file's column names to Orion's fields (the same names by default, any case,
//! spaces as `_`; or an explicit `Column Name=field` mapping), then checks and writes every line
//! in one transaction: with any bad line, or in a dry run, nothing is written and the report lists
//! every bad line with its number, the field and the reason. Assets are matched by asset tag,
//! else serial; users by e-mail; licences by product and reference.
//!
//! Exports page through the table by key and neutralise cells a spreadsheet would run as a
//! formula (`= + - @`, tab, carriage return).

use super::{AssetInput, event, validate};
use crate::kernel::error::invalid;
use crate::{App, AppError, AppResult};
use orion_domain::asset::{self, format_cents, spreadsheet_safe};
use orion_domain::{Actor, Email, Role, Timestamp};
use orion_store::cmdb::{self as store, CiFilter, MatchKey};
use orion_store::{Conn, groups, users};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use utoipa::ToSchema;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum CsvKind {
    Assets,
    Licences,
    Users,
}

impl CsvKind {
    pub fn parse(s: &str) -> AppResult<CsvKind> {
        match s {
            "assets" => Ok(CsvKind::Assets),
            "licences" | "licenses" => Ok(CsvKind::Licences),
            "users" => Ok(CsvKind::Users),
            _ => Err(invalid("kind", "must be assets, licences or users")),
        }
    }

    /// The columns an import understands and an export writes, in order.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            CsvKind::Assets => &[
                "asset_tag",
                "serial",
                "type",
                "name",
                "state",
                "holder",
                "due_back",
                "model",
                "manufacturer",
                "vendor",
                "location",
                "department",
                "cost",
                "purchase_date",
                "warranty_end",
                "support_group",
                "notes",
            ],
            CsvKind::Licences => &[
                "product",
                "vendor",
                "type",
                "seats",
                "software_match",
                "purchase_date",
                "expires_on",
                "cost",
                "reference",
                "notes",
            ],
            CsvKind::Users => &["email", "name", "role", "phone", "department", "groups", "active"],
        }
    }

    /// Export-only columns after the importable ones.
    fn extra_fields(self) -> &'static [&'static str] {
        match self {
            CsvKind::Assets => &["id", "os_name", "os_version", "kernel", "last_inventory_at"],
            CsvKind::Licences => &["id", "assigned"],
            CsvKind::Users => &["id"],
        }
    }
}

/// One bad line.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct LineError {
    /// 1-based, the header being line 1
    pub line: usize,
    pub field: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Columns of the file no field was mapped to
    pub ignored_columns: Vec<String>,
    pub errors: Vec<LineError>,
    pub dry_run: bool,
    /// Whether anything was written (no errors, not a dry run)
    pub written: bool,
}

/// Parses `Column Name=field,Other=field2` into a mapping.
pub fn parse_mapping(s: &str) -> AppResult<BTreeMap<String, String>> {
    let mut m = BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((col, field)) = part.split_once('=') else {
            return Err(invalid("map", format!("{part:?} is not Column=field")));
        };
        m.insert(col.trim().to_string(), field.trim().to_string());
    }
    Ok(m)
}

fn norm(s: &str) -> String {
    s.trim().trim_start_matches('\u{feff}').to_lowercase().replace([' ', '-'], "_")
}

/// Which field each column of the header feeds (None: ignored).
fn map_header(
    kind: CsvKind,
    header: &csv::StringRecord,
    mapping: &BTreeMap<String, String>,
) -> AppResult<(Vec<Option<&'static str>>, Vec<String>)> {
    let fields = kind.fields();
    let explicit: HashMap<String, String> = mapping.iter().map(|(k, v)| (norm(k), norm(v))).collect();
    for (col, f) in mapping {
        if !fields.contains(&norm(f).as_str()) {
            return Err(invalid("map", format!("{col}={f}: no field {f:?}; one of {}", fields.join(", "))));
        }
    }
    let mut out = Vec::new();
    let mut ignored = Vec::new();
    for col in header {
        let want = explicit.get(&norm(col)).cloned().unwrap_or_else(|| norm(col));
        match fields.iter().find(|f| **f == want) {
            Some(f) if !out.contains(&Some(*f)) => out.push(Some(*f)),
            Some(f) => return Err(invalid("header", format!("two columns feed {f}"))),
            None => {
                ignored.push(col.to_string());
                out.push(None);
            }
        }
    }
    Ok((out, ignored))
}

type Row = BTreeMap<&'static str, String>;

fn opt(row: &Row, f: &str) -> Option<String> {
    row.get(f).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// What one line did.
enum Outcome {
    Created,
    Updated,
    Unchanged,
}

impl App {
    /// Imports a CSV file (staff for assets and licences, admins for users). `progress` is
    /// called with (lines done, lines in all).
    pub async fn import_csv(
        &self,
        actor: &Actor,
        kind: CsvKind,
        data: &[u8],
        mapping: &BTreeMap<String, String>,
        dry_run: bool,
        mut progress: impl FnMut(usize, usize),
    ) -> AppResult<ImportReport> {
        match kind {
            CsvKind::Users => crate::kernel::access::require_admin(actor, "import users")?,
            _ => crate::kernel::access::require_staff(actor, "import assets and licences")?,
        }
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(data);
        let header = reader.headers().map_err(|e| invalid("file", format!("line 1: {e}")))?.clone();
        let (columns, ignored_columns) = map_header(kind, &header, mapping)?;
        let key = match kind {
            CsvKind::Assets => "asset_tag or serial",
            CsvKind::Licences => "product",
            CsvKind::Users => "email",
        };
        let has = |f: &str| columns.contains(&Some(f));
        if !(has("asset_tag") || has("serial") || kind != CsvKind::Assets) || (kind != CsvKind::Assets && !has(key)) {
            return Err(invalid("header", format!("the file needs a column for {key}")));
        }
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        for (i, rec) in reader.records().enumerate() {
            let line = i + 2;
            match rec {
                Ok(r) => {
                    if r.iter().all(|c| c.trim().is_empty()) {
                        continue;
                    }
                    let row: Row =
                        columns.iter().zip(r.iter()).filter_map(|(f, v)| f.map(|f| (f, v.to_string()))).collect();
                    rows.push((line, row));
                }
                Err(e) => errors.push(LineError { line, field: String::new(), reason: e.to_string() }),
            }
        }
        let total = rows.len();
        let mut report = ImportReport {
            rows: total,
            created: 0,
            updated: 0,
            unchanged: 0,
            ignored_columns,
            errors,
            dry_run,
            written: false,
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (n, (line, row)) in rows.iter().enumerate() {
            let keyval = match kind {
                CsvKind::Assets => opt(row, "asset_tag").or_else(|| opt(row, "serial").map(|s| format!("serial:{s}"))),
                CsvKind::Licences => opt(row, "product")
                    .map(|p| format!("{}|{}", p.to_lowercase(), opt(row, "reference").unwrap_or_default())),
                CsvKind::Users => opt(row, "email").map(|e| e.to_lowercase()),
            };
            if let Some(k) = &keyval
                && let Some(first) = seen.insert(k.clone(), *line)
            {
                let field = key.split(' ').next().unwrap_or(key).to_string();
                report.errors.push(LineError {
                    line: *line,
                    field,
                    reason: format!("the same record as line {first}"),
                });
                continue;
            }
            let r = match kind {
                CsvKind::Assets => import_asset(&mut c, actor, row, now).await,
                CsvKind::Licences => import_licence(&mut c, row, now).await,
                CsvKind::Users => import_user(&mut c, row, now).await,
            };
            match r {
                Ok(Outcome::Created) => report.created += 1,
                Ok(Outcome::Updated) => report.updated += 1,
                Ok(Outcome::Unchanged) => report.unchanged += 1,
                Err(AppError::Validation(errs)) => report.errors.extend(errs.iter().map(|e| LineError {
                    line: *line,
                    field: e.field.clone(),
                    reason: e.message.clone(),
                })),
                Err(AppError::Conflict(m)) => {
                    report.errors.push(LineError { line: *line, field: "state".into(), reason: m })
                }
                Err(e) => return Err(e),
            }
            if n % 100 == 99 || n + 1 == total {
                progress(n + 1, total);
            }
        }
        report.errors.sort_by_key(|e| e.line);
        if report.errors.is_empty() && !dry_run {
            self.commit(tx).await?;
            report.written = true;
        }
        Ok(report)
    }

    /// Writes every asset, licence or user as CSV to `out`, a page at a time (staff; users:
    /// admins). `progress` is called with the rows written so far.
    pub async fn export_csv(
        &self,
        actor: &Actor,
        kind: CsvKind,
        out: &mut (dyn std::io::Write + Send),
        mut progress: impl FnMut(usize),
    ) -> AppResult<usize> {
        match kind {
            CsvKind::Users => crate::kernel::access::require_admin(actor, "export users")?,
            _ => crate::kernel::access::require_staff(actor, "export assets and licences")?,
        }
        let mut w = csv::Writer::from_writer(out);
        let io = |e: csv::Error| AppError::Internal(format!("writing CSV: {e}"));
        let header: Vec<&str> = kind.fields().iter().chain(kind.extra_fields()).copied().collect();
        w.write_record(&header).map_err(io)?;
        let mut written = 0;
        let mut before = None;
        loop {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let mut records: Vec<Vec<String>> = Vec::new();
            let last = match kind {
                CsvKind::Assets => {
                    let rows = store::list(&mut c, &CiFilter::default(), before, 1000).await?;
                    let last = rows.last().map(|r| r.id);
                    for a in rows {
                        let cost = a.cost_cents.map(format_cents).unwrap_or_default();
                        let inv = a.last_inventory_at.map(|t| Timestamp(t).to_rfc3339()).unwrap_or_default();
                        records.push(vec![
                            a.asset_tag.unwrap_or_default(),
                            a.serial.unwrap_or_default(),
                            a.ci_type,
                            a.name,
                            a.state,
                            a.owner_email.unwrap_or_default(),
                            a.due_back.unwrap_or_default(),
                            a.model,
                            a.manufacturer,
                            a.vendor,
                            a.location,
                            a.department,
                            cost,
                            a.purchase_date.unwrap_or_default(),
                            a.warranty_end.unwrap_or_default(),
                            a.group_name.unwrap_or_default(),
                            a.notes,
                            a.id.to_string(),
                            a.os_name,
                            a.os_version,
                            a.kernel,
                            inv,
                        ]);
                    }
                    last
                }
                CsvKind::Licences => {
                    let rows = store::list_licences(&mut c, before, 1000).await?;
                    let last = rows.last().map(|r| r.id);
                    for l in rows {
                        records.push(vec![
                            l.product,
                            l.vendor,
                            l.licence_type,
                            l.seats.map(|s| s.to_string()).unwrap_or_default(),
                            l.software_match,
                            l.purchase_date.unwrap_or_default(),
                            l.expires_on.unwrap_or_default(),
                            l.cost_cents.map(format_cents).unwrap_or_default(),
                            l.reference,
                            l.notes,
                            l.id.to_string(),
                            l.assigned.to_string(),
                        ]);
                    }
                    last
                }
                CsvKind::Users => {
                    // Users page upwards by id; `before` carries the last id seen.
                    let rows = users::list(&mut c, None, None, before, 1000).await?;
                    let last = rows.last().map(|r| r.id);
                    let all = groups::list(&mut c).await?;
                    let ids: Vec<i64> = rows.iter().map(|u| u.id).collect();
                    let member_of = users::memberships(&mut c, &ids).await?;
                    for u in rows {
                        let names: Vec<String> = member_of
                            .iter()
                            .filter(|(user, _)| *user == u.id)
                            .filter_map(|(_, g)| all.iter().find(|x| x.id == *g).map(|x| x.name.clone()))
                            .collect();
                        records.push(vec![
                            u.email,
                            u.name,
                            u.role,
                            u.phone.unwrap_or_default(),
                            u.department.unwrap_or_default(),
                            names.join(";"),
                            u.active.to_string(),
                            u.id.to_string(),
                        ]);
                    }
                    last
                }
            };
            drop(r);
            for rec in &records {
                w.write_record(rec.iter().map(|c| spreadsheet_safe(c).into_owned())).map_err(io)?;
            }
            written += records.len();
            progress(written);
            match last {
                Some(l) if records.len() == 1000 => before = Some(l),
                _ => break,
            }
        }
        w.flush().map_err(|e| AppError::Internal(format!("writing CSV: {e}")))?;
        Ok(written)
    }
}

async fn import_asset(c: &mut Conn<'_>, actor: &Actor, row: &Row, now: i64) -> AppResult<Outcome> {
    let tag = opt(row, "asset_tag");
    let serial = opt(row, "serial");
    let cur = match (&tag, &serial) {
        (Some(t), _) => store::find_by_tag(c, t).await?,
        (None, Some(s)) => match store::find_by(c, MatchKey::Serial, s).await?.as_slice() {
            [] => None,
            [one] => Some(store::get(c, *one).await?),
            _ => return Err(invalid("serial", format!("{s} is on several assets; give the asset tag"))),
        },
        (None, None) => return Err(invalid("asset_tag", "give an asset tag or a serial")),
    };
    let mut errs = orion_domain::FieldErrors::new();
    let cost_cents = opt(row, "cost").and_then(|v| errs.check(asset::parse_cents("cost", &v)));
    let state = opt(row, "state").and_then(|v| errs.check(asset::parse_state("state", &v)));
    let due_back = opt(row, "due_back").and_then(|v| errs.check(asset::parse_date("due_back", &v)));
    let holder = match opt(row, "holder") {
        Some(email) => match users::find_by_email(c, &email.to_lowercase()).await? {
            Some(u) if u.active => Some(u),
            _ => {
                errs.push("holder", format!("no active user {email:?}"));
                None
            }
        },
        None => None,
    };
    let input = AssetInput {
        ci_type: opt(row, "type"),
        name: opt(row, "name"),
        asset_tag: tag.clone(),
        serial: serial.clone(),
        model: row.get("model").cloned(),
        manufacturer: row.get("manufacturer").cloned(),
        vendor: row.get("vendor").cloned(),
        location: row.get("location").cloned(),
        department: row.get("department").cloned(),
        cost_cents,
        purchase_date: row.get("purchase_date").cloned(),
        warranty_end: row.get("warranty_end").cloned(),
        notes: row.get("notes").cloned(),
        support_group: row.get("support_group").cloned(),
        ..AssetInput::default()
    };
    let fields = match validate(c, &input, cur.as_ref()).await {
        Ok(f) => Some(f),
        Err(AppError::Validation(e)) => {
            e.iter().for_each(|f| errs.push(f.field.clone(), f.message.clone()));
            None
        }
        Err(e) => return Err(e),
    };
    errs.into_result()?;
    let Some(fields) = fields else { return Err(AppError::Internal("validated input incomplete".into())) };
    match cur {
        None => {
            let st = state.unwrap_or(if holder.is_some() { "deployed" } else { "in_stock" });
            if holder.is_some() && st != "deployed" {
                return Err(invalid("state", "an asset with a holder is deployed"));
            }
            let id =
                store::insert(c, &fields, st, now).await.map_err(|e| super::duplicate_tag(e, &fields.asset_tag))?;
            if holder.is_some() || due_back.is_some() {
                let row = store::get(c, id).await?;
                store::set_state(c, id, row.version, st, holder.as_ref().map(|u| u.id), due_back.as_deref(), now)
                    .await?;
            }
            let who = holder.as_ref().map(|u| format!(", held by {}", u.email)).unwrap_or_default();
            event(c, id, now, Some(actor), "imported", &format!("Imported from CSV ({st}{who})"), json!({"state": st}))
                .await?;
            Ok(Outcome::Created)
        }
        Some(cur) => {
            let diff = super::changes(&cur, &fields);
            let mut changed = false;
            if !diff.is_empty() {
                store::update(c, cur.id, cur.version, &fields, now)
                    .await
                    .map_err(|e| super::duplicate_tag(e, &fields.asset_tag))?;
                let names: Vec<&str> = diff.iter().filter_map(|d| d["field"].as_str()).collect();
                event(
                    c,
                    cur.id,
                    now,
                    Some(actor),
                    "imported",
                    &format!("Import changed {}", names.join(", ")),
                    json!({"changes": diff}),
                )
                .await?;
                changed = true;
            }
            let want_state = state.unwrap_or(&cur.state);
            let want_holder = match (&holder, row.contains_key("holder")) {
                (Some(u), _) => Some(u.id),
                (None, true) => None,
                (None, false) => cur.owner_id,
            };
            if want_state != cur.state || want_holder != cur.owner_id {
                if want_state != cur.state {
                    super::check_move(&cur.state, want_state)?;
                }
                if want_holder.is_some() && want_state != "deployed" {
                    return Err(invalid("state", "an asset with a holder is deployed"));
                }
                let row_now = store::get(c, cur.id).await?;
                store::set_state(c, cur.id, row_now.version, want_state, want_holder, due_back.as_deref(), now).await?;
                let who = holder.as_ref().map(|u| format!(", held by {}", u.email)).unwrap_or_default();
                event(
                    c,
                    cur.id,
                    now,
                    Some(actor),
                    "imported",
                    &format!("Import: {} → {want_state}{who}", cur.state),
                    json!({"from": cur.state, "to": want_state}),
                )
                .await?;
                changed = true;
            }
            Ok(if changed { Outcome::Updated } else { Outcome::Unchanged })
        }
    }
}

async fn import_licence(c: &mut Conn<'_>, row: &Row, now: i64) -> AppResult<Outcome> {
    let mut errs = orion_domain::FieldErrors::new();
    let cost_cents = opt(row, "cost").and_then(|v| errs.check(asset::parse_cents("cost", &v)));
    let seats = match opt(row, "seats") {
        Some(s) => match s.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errs.push("seats", format!("{s:?} is not a whole number"));
                None
            }
        },
        None => None,
    };
    errs.into_result()?;
    let input = super::licences::LicenceInput {
        product: opt(row, "product"),
        vendor: row.get("vendor").cloned(),
        licence_type: opt(row, "type"),
        seats,
        software_match: opt(row, "software_match"),
        purchase_date: row.get("purchase_date").cloned(),
        expires_on: row.get("expires_on").cloned(),
        cost_cents,
        reference: row.get("reference").cloned(),
        notes: row.get("notes").cloned(),
    };
    let product = opt(row, "product").unwrap_or_default();
    let reference = opt(row, "reference").unwrap_or_default();
    let existing = store::find_licence(c, &product, &reference).await?;
    let v = super::licences::validate(&input, existing.as_ref())?;
    match existing {
        None => {
            store::insert_licence(c, &v.fields(), now).await?;
            Ok(Outcome::Created)
        }
        Some(l) => {
            let same = l.vendor == v.vendor
                && l.licence_type == v.licence_type
                && l.seats == v.seats
                && l.software_match == v.software_match
                && l.purchase_date == v.purchase_date
                && l.expires_on == v.expires_on
                && l.cost_cents == v.cost_cents
                && l.notes == v.notes;
            if same {
                return Ok(Outcome::Unchanged);
            }
            store::update_licence(c, l.id, &v.fields(), now).await?;
            Ok(Outcome::Updated)
        }
    }
}

async fn import_user(c: &mut Conn<'_>, row: &Row, now: i64) -> AppResult<Outcome> {
    let mut errs = orion_domain::FieldErrors::new();
    let email = errs.check(Email::parse("email", &opt(row, "email").unwrap_or_default()));
    let role = opt(row, "role").and_then(|r| errs.check(Role::parse("role", &r)));
    let active = match opt(row, "active").map(|a| a.to_lowercase()) {
        None => None,
        Some(a) if ["true", "yes", "1", "y"].contains(&a.as_str()) => Some(true),
        Some(a) if ["false", "no", "0", "n"].contains(&a.as_str()) => Some(false),
        Some(a) => {
            errs.push("active", format!("{a:?} is not yes or no"));
            None
        }
    };
    let all = groups::list(c).await?;
    let mut member_of = Vec::new();
    for g in opt(row, "groups").unwrap_or_default().split(';').map(str::trim).filter(|g| !g.is_empty()) {
        match all.iter().find(|x| x.name.eq_ignore_ascii_case(g)) {
            Some(x) => member_of.push(x.id),
            None => errs.push("groups", format!("no group named {g:?}")),
        }
    }
    let name = opt(row, "name");
    if name.as_ref().is_some_and(|n| n.chars().count() > 200) {
        errs.push("name", "must be at most 200 characters");
    }
    errs.into_result()?;
    let Some(email) = email else { return Err(AppError::Internal("validated input incomplete".into())) };
    let existing = users::find_by_email(c, email.as_str()).await?;
    let effective_role = role
        .map(|r| r.as_str().to_string())
        .or(existing.as_ref().map(|u| u.role.clone()))
        .unwrap_or_else(|| "requester".into());
    if effective_role == "requester" && !member_of.is_empty() {
        return Err(invalid("groups", "requesters do not belong to support groups"));
    }
    let phone = opt(row, "phone");
    let department = opt(row, "department");
    match existing {
        None => {
            let name = name.unwrap_or_else(|| email.local_part().to_string());
            let id = users::insert(
                c,
                &users::NewUser {
                    email: email.as_str(),
                    name: &name,
                    role: &effective_role,
                    phone: phone.as_deref(),
                    department: department.as_deref(),
                    password_hash: None,
                    now,
                },
            )
            .await?;
            if active == Some(false) {
                users::update(c, id, users::UserChange { active: Some(false), ..Default::default() }, now).await?;
            }
            for g in member_of {
                groups::add_member(c, g, id).await?;
            }
            Ok(Outcome::Created)
        }
        Some(u) => {
            let ids = users::group_ids(c, u.id).await?;
            let new_groups: Vec<i64> = member_of.into_iter().filter(|g| !ids.contains(g)).collect();
            let same = name.as_ref().is_none_or(|n| *n == u.name)
                && role.is_none_or(|r| r.as_str() == u.role)
                && active.is_none_or(|a| a == u.active)
                && phone.as_ref().is_none_or(|p| Some(p) == u.phone.as_ref())
                && department.as_ref().is_none_or(|d| Some(d) == u.department.as_ref())
                && new_groups.is_empty();
            if same {
                return Ok(Outcome::Unchanged);
            }
            let change = users::UserChange {
                name: name.as_deref(),
                role: role.map(|r| r.as_str()),
                active,
                phone: phone.as_deref(),
                department: department.as_deref(),
                ..Default::default()
            };
            users::update(c, u.id, change, now).await?;
            for g in new_groups {
                groups::add_member(c, g, u.id).await?;
            }
            Ok(Outcome::Updated)
        }
    }
}
