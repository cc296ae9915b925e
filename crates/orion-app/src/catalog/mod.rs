//! The service catalog: what people can ask for, each item one versioned package (its form, where
//! requests go, the SLA, the texts); and requests made from it, whose answers are kept as data.
//!
//! Administrators edit an item's draft and publish it as a new version; a request keeps the
//! version it was submitted with, so a form changed later does not change what was asked. The
//! form's rules are checked on the server (`orion_domain::catalog`) both while it is filled in and
//! on submit, where answers to hidden questions are dropped.

use crate::kernel::access::require_admin;
use crate::kernel::error::{collect, found, invalid};
use crate::tickets::create::{Prepared, Preset, with_written};
use crate::{App, AppError, AppResult, NewTicketInput, Page, Ticket};
use orion_domain::catalog::{Form, QuestionKind, Value, answer_field};
use orion_domain::{Actor, FieldErrors, Role, Timestamp};
use orion_store::catalog::{self as store, AnswerRow, ItemFields, ItemRow};
use orion_store::{Conn, StoreError, users};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

mod approvals;
mod files;
mod io;
mod requests_csv;
pub(crate) mod tasks;
pub use approvals::{
    ApprovalDecision, ApprovalRequestView, ApprovalStep, Approver, ApproverView, Awaiting,
    CHECK_JOB as APPROVAL_CHECK_JOB, Delegation, DelegationInput, RequestApproval, StepPreview, StepView,
    plausible_link as plausible_approval_link,
};
pub(crate) use approvals::{Mailer, reply as approval_reply};
pub use io::{CatalogExport, CatalogImport, EXAMPLES};
pub use requests_csv::{AnswerBreakdown, AnswerCount, QuestionRef};
pub use tasks::{
    FULFIL_JOB, StartsWorkflow, TaskCompletion, TaskOfRequest, TaskOutput, TaskTemplate, TaskView, WORKFLOW_JOB,
};

/// The icons an item's tile can show: key and what it pictures.
pub const ICONS: [(&str, &str); 10] = [
    ("laptop", "Laptop"),
    ("monitor", "Screen and peripherals"),
    ("software", "Software"),
    ("key", "Access"),
    ("lock", "Password"),
    ("mail", "Mail"),
    ("phone", "Phone"),
    ("room", "Meeting room"),
    ("person", "Person"),
    ("box", "Other"),
];
crate::api_schema::one_of_values!(icons, icons_exact: &["laptop", "monitor", "software", "key", "lock", "mail", "phone", "room", "person", "box"]);

crate::api_schema::one_of_values!(catalog_orders, catalog_orders_exact: &["popular", "name"]);

/// The longest item name and category.
const NAME_MAX: usize = 100;
const CATEGORY_MAX: usize = 60;

/// Who may ask for an item: people with one of the roles, in one of the support groups (by name)
/// or in one of the departments (as the directory gives it, any case); all empty, everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Audience {
    /// `requester`, `agent`, `lead`, `admin`
    pub roles: Vec<String>,
    /// Support groups, by name
    pub groups: Vec<String>,
    /// Departments (`Finance`, `Engineering`)
    pub departments: Vec<String>,
}

/// Everything one item does, published as a whole: the form, where its requests go, the SLA
/// and the texts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Package {
    /// Sections of questions, with their rules (see the catalog guide for the format)
    #[schema(value_type = Object)]
    pub form: Form,
    /// The request's title; `{{question_key}}` is replaced by the answer. Empty: the item's name.
    pub title: String,
    /// The group requests go to (default: the service desk)
    pub assignment_group: Option<String>,
    /// The ticket category of its requests (a path: `Hardware/Laptop`)
    pub category: Option<String>,
    /// 1 (high) to 3 (low); default 3
    pub impact: Option<i64>,
    /// 1 (high) to 3 (low); default 3
    pub urgency: Option<i64>,
    /// The SLA policy its requests are timed by, by name (default: the one whose conditions match)
    pub sla_policy: Option<String>,
    /// What happens after a request is submitted, shown on the form and after submitting
    pub next_steps: String,
    /// The approval chain, in order (empty: no approval)
    pub approvals: Vec<ApprovalStep>,
    /// The fulfilment plan: task tickets opened once the request is approved (empty: the
    /// request's group fulfils it)
    pub tasks: Vec<TaskTemplate>,
    /// A joiner, mover or leaver each approved request starts (null: none); the request is
    /// fulfilled when it closes
    pub workflow: Option<StartsWorkflow>,
    /// The requester's closing message when the last task is done; `{{key}}` is replaced by an
    /// answer or a task's output (empty: "Your request … is fulfilled." and the outputs)
    pub closing_message: String,
}

/// A catalog item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CatalogItem {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// The tile it sits under on the portal
    pub category: String,
    #[schema(schema_with = icons_exact)]
    pub icon: String,
    pub audience: Audience,
    /// Offered on the portal (once published)
    pub active: bool,
    /// The version requests are made from now (0: never published)
    pub version: i64,
    /// The published package (what requesters fill in); null before the first publication
    pub package: Option<Package>,
    /// The package being edited (administrators only)
    pub draft: Option<Package>,
    /// The draft differs from the published package (administrators only)
    pub unpublished_changes: bool,
    /// Requests made from it
    pub requested: i64,
    /// The resolution target of its requests in minutes of business time, from the SLA policy
    /// they are timed by (null: none)
    pub delivery_minutes: Option<i64>,
    pub updated_at: String,
    /// Send it back with a change, so two administrators do not overwrite each other
    pub row_version: i64,
}

/// A new item, or the whole of an item's editable fields.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogItemInput {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[schema(min_length = 1, max_length = 60)]
    pub category: String,
    #[schema(schema_with = icons)]
    pub icon: Option<String>,
    pub audience: Option<Audience>,
    pub active: Option<bool>,
    /// The draft package (default: an empty form)
    pub package: Option<Package>,
    /// Publish the draft as the next version at once
    #[serde(default)]
    pub publish: bool,
    /// On a change: the `row_version` it was read at (required)
    pub row_version: Option<i64>,
}

/// Filters for the catalog list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CatalogQuery {
    /// Words in the name, description or category
    pub q: Option<String>,
    /// One tile's items
    pub category: Option<String>,
    /// `popular` (most requested first: the portal's order) or `name` (default)
    #[param(schema_with = catalog_orders_exact)]
    pub order: Option<String>,
    /// From the previous page's `next_cursor`
    #[param(pattern = "^([0-9a-f]{2}){0,400}$")]
    pub cursor: Option<String>,
    /// 1..200, default 50
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Answers to an item's form, by question key: text, a number, `true`/`false`, or a list of
/// choices for a multiple choice.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswersInput {
    #[serde(default)]
    #[schema(value_type = Object)]
    pub answers: BTreeMap<String, serde_json::Value>,
}

/// A request from the catalog.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogRequestInput {
    /// Answers by question key: text, a number, true or false, or a list; a file question's
    /// answer is the file, `{"filename", "content_type"?, "data_base64"}`
    #[serde(default)]
    #[schema(value_type = Object)]
    pub answers: BTreeMap<String, serde_json::Value>,
    /// Staff asking on someone's behalf: that person's e-mail address (they become the requester)
    pub requested_for: Option<String>,
    /// The version to submit against (default: the published one); a form filled in while the
    /// item was republished is refused rather than read against another form
    pub version: Option<i64>,
}

/// A form checked against answers: what shows and what is refused.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FormCheck {
    /// Per section, whether it shows
    pub sections: Vec<bool>,
    /// The keys of the questions that show
    pub visible: Vec<String>,
    /// The keys of the questions that must be answered
    pub required: Vec<String>,
    /// Per question key (as `answers.<key>`), why its answer is refused
    #[schema(value_type = Object)]
    pub errors: BTreeMap<String, String>,
}

/// One answer of a request, as shown on it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CatalogAnswer {
    pub key: String,
    /// The question as it was asked (in the version submitted)
    pub label: String,
    pub kind: String,
    /// The answer as data: text, a number, true/false, or a list of choices
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// The answer as a person reads it (choices by their labels)
    pub text: String,
    /// A file question's file: its attachment id (`GET /api/v1/attachments/{id}`)
    pub attachment: Option<i64>,
}

/// What a request was asked from the catalog.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CatalogRequest {
    pub item_id: i64,
    pub item: String,
    /// The item's version it was submitted with
    pub version: i64,
    /// E-mail address of the person it is for
    pub requested_for: String,
    pub answers: Vec<CatalogAnswer>,
    /// Where its approval stands (null: it needs none)
    pub approval: Option<RequestApproval>,
    /// Its fulfilment tasks, in plan order
    pub tasks: Vec<TaskView>,
    /// How many of them are done
    pub tasks_done: usize,
}

fn audience_json(a: &StoredAudience) -> String {
    serde_json::to_string(a).unwrap_or_else(|_| "{}".into())
}

/// Who may ask, as kept: roles, group ids and departments.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct StoredAudience {
    roles: Vec<String>,
    groups: Vec<i64>,
    departments: Vec<String>,
}

fn package_json(p: &Package) -> String {
    serde_json::to_string(p).unwrap_or_else(|_| "{}".into())
}

fn read_package(json: &str) -> AppResult<Package> {
    let mut p: Package =
        serde_json::from_str(json).map_err(|e| AppError::Internal(format!("stored catalog package: {e}")))?;
    approvals::spell_out_defaults(&mut p.approvals);
    Ok(p)
}

/// A page's cursor: the name key of its last item (by name), or its requests and name key (most
/// requested first), as hex.
fn item_cursor((requested, key): &(i64, String), popular: bool) -> String {
    let text = if popular { format!("{requested}\u{0}{key}") } else { key.clone() };
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn parse_item_cursor(c: &str, popular: bool) -> AppResult<(i64, String)> {
    let bad = || invalid("cursor", "not a cursor this list gave");
    if !c.len().is_multiple_of(2) || c.len() > 800 || !c.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let bytes: Option<Vec<u8>> = (0..c.len()).step_by(2).map(|i| u8::from_str_radix(&c[i..i + 2], 16).ok()).collect();
    let text = String::from_utf8(bytes.ok_or_else(bad)?).map_err(|_| bad())?;
    if !popular {
        return if text.contains('\u{0}') { Err(bad()) } else { Ok((0, text)) };
    }
    let (n, key) = text.split_once('\u{0}').ok_or_else(bad)?;
    Ok((n.parse().map_err(|_| bad())?, key.to_string()))
}

/// An answer given through the API as the text values the form engine reads.
fn raw_values(key: &str, v: &serde_json::Value, errs: &mut FieldErrors) -> Vec<String> {
    match v {
        serde_json::Value::Null => Vec::new(),
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Number(n) => vec![n.to_string()],
        serde_json::Value::Bool(b) => vec![if *b { "yes" } else { "no" }.to_string()],
        serde_json::Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    serde_json::Value::String(s) => out.push(s.clone()),
                    serde_json::Value::Number(n) => out.push(n.to_string()),
                    _ => {
                        errs.push(answer_field(key), "a list of answers holds texts or numbers");
                        return Vec::new();
                    }
                }
            }
            out
        }
        serde_json::Value::Object(_) => {
            errs.push(answer_field(key), "expected text, a number, true or false, or a list");
            Vec::new()
        }
    }
}

pub(crate) fn raw_answers(
    answers: &BTreeMap<String, serde_json::Value>,
    errs: &mut FieldErrors,
) -> BTreeMap<String, Vec<String>> {
    answers.iter().map(|(k, v)| (k.clone(), raw_values(k, v, errs))).collect()
}

/// `{{key}}` in `template` replaced by the answers' text (unknown keys by nothing).
pub(crate) fn fill(template: &str, answers: &BTreeMap<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let key = after[..end].trim();
                if let Some(v) = answers.get(key) {
                    out.push_str(&v.as_text());
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

impl App {
    /// Checks an item's fields and package (every error at once, named as the API names them).
    async fn item_fields(
        &self,
        c: &mut Conn<'_>,
        input: &CatalogItemInput,
        errs: &mut FieldErrors,
    ) -> AppResult<(StoredAudience, Package)> {
        // Counted as sent (what the API document bounds), not after trimming.
        if input.name.trim().is_empty() || input.name.chars().count() > NAME_MAX {
            errs.push("name", format!("an item needs a name of at most {NAME_MAX} characters"));
        }
        if input.category.trim().is_empty() || input.category.chars().count() > CATEGORY_MAX {
            errs.push("category", format!("an item sits under a category of at most {CATEGORY_MAX} characters"));
        }
        if input.description.chars().count() > crate::kernel::limits::TEXT_MAX {
            errs.push("description", "is too long");
        }
        if let Some(icon) = &input.icon
            && !ICONS.iter().any(|(k, _)| k == icon)
        {
            let names: Vec<&str> = ICONS.iter().map(|(k, _)| *k).collect();
            errs.push("icon", format!("must be one of {}", names.join(", ")));
        }
        let config = self.config(c).await?;
        let mut audience = StoredAudience::default();
        let a = input.audience.clone().unwrap_or_default();
        for (i, r) in a.roles.iter().enumerate() {
            match Role::parse(&format!("audience.roles[{i}]"), r.trim()) {
                Ok(role) => audience.roles.push(role.as_str().to_string()),
                Err(e) => errs.push(e.field, e.message),
            }
        }
        for (i, g) in a.groups.iter().enumerate() {
            match config.active_group(g) {
                Some(g) => audience.groups.push(g.id),
                None => errs.push(format!("audience.groups[{i}]"), format!("no active group called {g:?}")),
            }
        }
        for (i, d) in a.departments.iter().enumerate() {
            match d.trim() {
                "" => errs.push(format!("audience.departments[{i}]"), "a department has a name"),
                d if d.chars().count() > 100 => {
                    errs.push(format!("audience.departments[{i}]"), "at most 100 characters")
                }
                d => audience.departments.push(d.to_string()),
            }
        }
        let mut package = input.package.clone().unwrap_or_default();
        approvals::spell_out_defaults(&mut package.approvals);
        package.form.validate("package.form", errs);
        if package.title.chars().count() > crate::kernel::limits::TITLE_MAX {
            errs.push("package.title", "is too long");
        }
        if package.next_steps.chars().count() > crate::kernel::limits::TEXT_MAX {
            errs.push("package.next_steps", "is too long");
        }
        if let Some(g) = package.assignment_group.as_deref().filter(|g| !g.trim().is_empty())
            && config.active_group(g).is_none()
        {
            errs.push("package.assignment_group", format!("no active group called {g:?}"));
        }
        if let Some(p) = package.category.as_deref().filter(|p| !p.trim().is_empty()) {
            let _ =
                collect(errs, crate::tickets::category_by_path(c, p).await.map_err(|e| rename(e, "package.category")))?;
        }
        for (field, v) in [("package.impact", package.impact), ("package.urgency", package.urgency)] {
            if let Some(v) = v {
                errs.check(orion_domain::Level::parse(field, v));
            }
        }
        if let Some(name) = package.sla_policy.as_deref().filter(|n| !n.trim().is_empty())
            && config.policy(name).is_none()
        {
            errs.push("package.sla_policy", format!("no SLA policy called {name:?}"));
        }
        approvals::validate_steps(c, &config, &package.form, &package.approvals, errs).await?;
        tasks::validate_plan(&config, &package.form, &package.tasks, errs);
        if let Some(w) = &package.workflow {
            tasks::validate_workflow(&config, &package.form, w, errs);
        }
        if package.closing_message.chars().count() > crate::kernel::limits::TEXT_MAX {
            errs.push("package.closing_message", "is too long");
        }
        Ok((audience, package))
    }

    fn item_view(
        &self,
        config: &crate::settings::Config,
        row: ItemRow,
        published: Option<Package>,
        admin: bool,
    ) -> AppResult<CatalogItem> {
        let stored: StoredAudience = serde_json::from_str(&row.audience).unwrap_or_default();
        let draft = read_package(&row.draft)?;
        let audience = Audience {
            roles: stored.roles.clone(),
            departments: stored.departments.clone(),
            groups: stored
                .groups
                .iter()
                .filter_map(|id| config.groups.iter().find(|g| g.id == *id).map(|g| g.name.clone()))
                .collect(),
        };
        let delivery_minutes = published.as_ref().or(Some(&draft)).and_then(|p| delivery_minutes(config, p));
        Ok(CatalogItem {
            id: row.id,
            name: row.name,
            description: row.description,
            category: row.category,
            icon: row.icon,
            audience,
            active: row.active,
            version: row.version,
            unpublished_changes: admin && published.as_ref() != Some(&draft),
            package: published,
            draft: admin.then_some(draft),
            requested: row.requested,
            delivery_minutes,
            updated_at: Timestamp(row.updated_at).to_rfc3339(),
            row_version: row.row_version,
        })
    }

    /// May `actor` ask for the item? (Admins may always, to try it.)
    async fn may_request(&self, c: &mut Conn<'_>, actor: &Actor, row: &ItemRow) -> AppResult<bool> {
        if actor.can_administer() {
            return Ok(true);
        }
        if !row.active || row.version == 0 {
            return Ok(false);
        }
        let a: StoredAudience = serde_json::from_str(&row.audience).unwrap_or_default();
        if a.roles.is_empty() && a.groups.is_empty() && a.departments.is_empty() {
            return Ok(true);
        }
        if a.roles.iter().any(|r| r == actor.role.as_str()) {
            return Ok(true);
        }
        if !a.departments.is_empty() {
            let me = users::get(c, actor.id.0).await?;
            if me.department.as_deref().is_some_and(|d| a.departments.iter().any(|x| x.eq_ignore_ascii_case(d.trim())))
            {
                return Ok(true);
            }
        }
        if a.groups.is_empty() {
            return Ok(false);
        }
        let mine = orion_store::groups::group_ids_of(c, actor.id.0).await?;
        Ok(a.groups.iter().any(|g| mine.contains(g)))
    }

    /// An item `actor` may see: administrators any, everyone else one offered to them.
    async fn visible_item(&self, c: &mut Conn<'_>, actor: &Actor, id: i64) -> AppResult<ItemRow> {
        let row = found(store::get_item(c, id).await, "catalog item")?;
        if !self.may_request(c, actor, &row).await? {
            return Err(AppError::NotFound("catalog item"));
        }
        Ok(row)
    }

    /// The catalog: for administrators every item by name; for everyone else the items offered
    /// to them, by name or most requested first.
    pub async fn catalog_items(&self, actor: &Actor, q: &CatalogQuery) -> AppResult<Page<CatalogItem>> {
        let limit = crate::kernel::paging::parse_limit(q.limit)?;
        let popular = match q.order.as_deref() {
            None | Some("name") => false,
            Some("popular") => true,
            Some(_) => return Err(invalid("order", "must be popular or name")),
        };
        let after = q.cursor.as_deref().filter(|c| !c.is_empty()).map(|c| parse_item_cursor(c, popular)).transpose()?;
        let words: Vec<String> = q.q.as_deref().unwrap_or("").split_whitespace().take(8).map(str::to_string).collect();
        let admin = actor.can_administer();
        let filter = store::ItemFilter {
            offered: !admin,
            category: q.category.as_deref().map(str::trim).filter(|c| !c.is_empty()),
            words,
        };
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let config = self.config(&mut c).await?;
        let mut items = Vec::new();
        // Where the page starts: the requests and name key of the last item read before it.
        let mut pos = after;
        let mut next_cursor = None;
        // Items offered to others are skipped, so a page may take more than one read.
        'pages: for _ in 0..20 {
            let rows = if popular {
                let at = pos.as_ref().map(|(n, k)| (*n, k.as_str()));
                store::popular_items(&mut c, &filter, at, limit + 1).await?
            } else {
                store::list_items(&mut c, &filter, pos.as_ref().map(|(_, k)| k.as_str()), limit + 1).await?
            };
            let last_page = rows.len() as i64 <= limit;
            for row in rows {
                let here = (row.requested, store::name_key(&row.name));
                if !self.may_request(&mut c, actor, &row).await? {
                    pos = Some(here);
                    continue;
                }
                if items.len() as i64 == limit {
                    next_cursor = pos.as_ref().map(|p| item_cursor(p, popular));
                    break 'pages;
                }
                pos = Some(here);
                let published = published(&mut c, &row).await?;
                items.push(self.item_view(&config, row, published, admin)?);
            }
            if last_page {
                break;
            }
        }
        Ok(Page { items, next_cursor })
    }

    /// The categories with items offered, and how many each holds.
    pub async fn catalog_categories(&self, _actor: &Actor) -> AppResult<Vec<(String, i64)>> {
        let mut r = self.db.read().await?;
        Ok(store::categories(&mut r.conn()).await?)
    }

    pub async fn catalog_item(&self, actor: &Actor, id: i64) -> AppResult<CatalogItem> {
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let row = self.visible_item(&mut c, actor, id).await?;
        let config = self.config(&mut c).await?;
        let published = published(&mut c, &row).await?;
        self.item_view(&config, row, published, actor.can_administer())
    }

    /// Adds an item (administrators); with `publish`, offered at once as version 1.
    pub async fn create_catalog_item(&self, actor: &Actor, input: CatalogItemInput) -> AppResult<CatalogItem> {
        require_admin(actor, "build the service catalog")?;
        let mut errs = FieldErrors::new();
        if input.row_version.is_some() {
            errs.push("row_version", "a new item has no row version; leave it out");
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let (audience, package) = self.item_fields(&mut c, &input, &mut errs).await?;
        errs.into_result()?;
        let draft = package_json(&package);
        let fields = ItemFields {
            name: input.name.trim(),
            description: input.description.trim(),
            category: input.category.trim(),
            icon: input.icon.as_deref().unwrap_or("box"),
            audience: &audience_json(&audience),
            active: input.active.unwrap_or(true),
            draft: &draft,
        };
        let id = match store::insert_item(&mut c, &fields, now).await {
            Err(StoreError::Duplicate) => {
                return Err(invalid("name", format!("an item called {:?} exists", input.name.trim())));
            }
            other => other?,
        };
        if input.publish {
            publish_draft(&mut c, id, actor, now).await?;
        }
        self.commit(tx).await?;
        self.catalog_item(actor, id).await
    }

    /// Rewrites an item's fields and draft (administrators); refused if it changed since it was
    /// read at `row_version`.
    pub async fn update_catalog_item(&self, actor: &Actor, id: i64, input: CatalogItemInput) -> AppResult<CatalogItem> {
        require_admin(actor, "build the service catalog")?;
        let mut errs = FieldErrors::new();
        let Some(row_version) = input.row_version else {
            errs.push("row_version", "send back the row_version the item was read at");
            return Err(errs.into());
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let row = found(store::get_item(&mut c, id).await, "catalog item")?;
        let (audience, package) = self.item_fields(&mut c, &input, &mut errs).await?;
        errs.into_result()?;
        let draft = package_json(&package);
        let fields = ItemFields {
            name: input.name.trim(),
            description: input.description.trim(),
            category: input.category.trim(),
            icon: input.icon.as_deref().unwrap_or(&row.icon),
            audience: &audience_json(&audience),
            active: input.active.unwrap_or(row.active),
            draft: &draft,
        };
        match store::update_item(&mut c, id, row_version, &fields, now).await {
            Err(StoreError::Stale) => {
                return Err(AppError::Conflict(
                    "the item was changed by someone else since you opened it; reload it and make your change again"
                        .into(),
                ));
            }
            Err(StoreError::Duplicate) => {
                return Err(invalid("name", format!("an item called {:?} exists", input.name.trim())));
            }
            other => other?,
        }
        if input.publish {
            publish_draft(&mut c, id, actor, now).await?;
        }
        self.commit(tx).await?;
        self.catalog_item(actor, id).await
    }

    /// Publishes an item's draft as its next version (administrators). Publishing a draft equal
    /// to the published package makes no new version.
    pub async fn publish_catalog_item(&self, actor: &Actor, id: i64) -> AppResult<CatalogItem> {
        require_admin(actor, "publish catalog items")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        found(store::get_item(&mut c, id).await, "catalog item")?;
        publish_draft(&mut c, id, actor, now).await?;
        self.commit(tx).await?;
        self.catalog_item(actor, id).await
    }

    /// Checks answers against an item's published form while it is filled in: which sections and
    /// questions show, which are required, which answers are refused (a missing required answer
    /// is not an error until submit).
    pub async fn check_catalog_form(&self, actor: &Actor, id: i64, input: &AnswersInput) -> AppResult<FormCheck> {
        let mut errs = FieldErrors::new();
        let raw = raw_answers(&input.answers, &mut errs);
        errs.into_result()?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let row = self.visible_item(&mut c, actor, id).await?;
        let package = self.offered_package(&mut c, &row, None).await?.1;
        let zone = crate::settings::sla::business_calendar(&mut c).await?;
        let checked = package.form.check(&raw, zone.zone(), false);
        Ok(form_check(&checked))
    }

    /// The package of the version requests are made from (or `version`, if it is that one).
    async fn offered_package(
        &self,
        c: &mut Conn<'_>,
        row: &ItemRow,
        version: Option<i64>,
    ) -> AppResult<(i64, Package)> {
        if row.version == 0 {
            return Err(AppError::Conflict(format!("{} is not published yet", row.name)));
        }
        if let Some(v) = version
            && v != row.version
        {
            return Err(invalid(
                "version",
                format!("the form changed while it was filled in (now version {}); open it again", row.version),
            ));
        }
        let package = published(c, row).await?.ok_or(AppError::NotFound("catalog item"))?;
        Ok((row.version, package))
    }

    /// Submits a request from the catalog: checks every answer against the published form (rules
    /// included; answers to hidden questions are dropped), looks up the people and assets named,
    /// and logs a service request with its answers in one transaction.
    pub async fn request_catalog_item(&self, actor: &Actor, id: i64, input: CatalogRequestInput) -> AppResult<Ticket> {
        self.request_catalog_item_with_files(actor, id, input, Vec::new()).await
    }

    /// [`App::request_catalog_item`] with the files that answer its attachment questions (the
    /// portal's multipart form), each with its question's key; files sent in the JSON answers
    /// join them.
    pub async fn request_catalog_item_with_files(
        &self,
        actor: &Actor,
        id: i64,
        mut input: CatalogRequestInput,
        mut files: Vec<(String, crate::kernel::uploads::Upload)>,
    ) -> AppResult<Ticket> {
        let mut errs = FieldErrors::new();
        files::take_json_files(&mut input.answers, &mut files, &mut errs);
        let mut raw = raw_answers(&input.answers, &mut errs);
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let row = self.visible_item(&mut c, actor, id).await?;
        let (version, package) = self.offered_package(&mut c, &row, input.version).await?;
        let uploads = files::match_files(&package.form, &mut raw, files, &mut errs);
        let cal = crate::settings::sla::business_calendar(&mut c).await?;
        let checked = package.form.check(&raw, cal.zone(), true);
        for e in checked.errors.iter() {
            errs.push(e.field.clone(), e.message.clone());
        }
        // Who it is for: the caller, or (staff only) someone they ask on behalf of.
        let requested_for = match input.requested_for.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(_) if !actor.can_create_for_others() => {
                errs.push("requested_for", "you can ask only for yourself; leave it out");
                None
            }
            Some(email) => match users::find_by_email(&mut c, &email.to_lowercase()).await? {
                Some(u) if u.active => Some(u),
                _ => {
                    errs.push("requested_for", format!("no active person with the address {email:?}"));
                    None
                }
            },
            None => Some(users::get(&mut c, actor.id.0).await?),
        };
        // The people and assets the answers name.
        let mut rows: Vec<AnswerRow> = Vec::new();
        for q in package.form.questions() {
            let Some(v) = checked.answers.get(&q.key) else { continue };
            let field = answer_field(&q.key);
            let mut ref_id = None;
            match q.kind {
                QuestionKind::User => match users::find_by_email(&mut c, &v.as_text()).await? {
                    Some(u) if u.active => ref_id = Some(u.id),
                    _ => errs.push(field.clone(), format!("{}: no active person with that address", q.label)),
                },
                QuestionKind::MyDevice | QuestionKind::Asset => {
                    match crate::tickets::resolve_ref(&mut c, &field, &v.as_text()).await {
                        Ok(ci) => {
                            let owner = requested_for.as_ref().map(|u| u.id);
                            if q.kind == QuestionKind::MyDevice && ci.owner_id != owner {
                                errs.push(field.clone(), format!("{}: not a device checked out to you", q.label));
                            } else if q.kind == QuestionKind::Asset
                                && !q.model.as_deref().is_some_and(|m| m.trim().eq_ignore_ascii_case(ci.model.trim()))
                            {
                                errs.push(
                                    field.clone(),
                                    format!("{}: must be a {}", q.label, q.model.as_deref().unwrap_or("")),
                                );
                            } else {
                                ref_id = Some(ci.id);
                            }
                        }
                        Err(AppError::Validation(_)) => {
                            errs.push(field.clone(), format!("{}: no asset with that tag", q.label));
                        }
                        Err(e) => return Err(e),
                    }
                }
                _ => {}
            }
            let values: Vec<String> = match v {
                Value::List(l) => l.clone(),
                other => vec![other.as_text()],
            };
            for (n, text) in values.into_iter().enumerate() {
                rows.push(AnswerRow {
                    question_key: q.key.clone(),
                    n: n as i64,
                    text_value: text,
                    number_value: if let Value::Number(x) = v { Some(*x) } else { None },
                    ref_id,
                });
            }
        }
        // Every step that applies must have someone to ask, or the request is refused now.
        if let Some(who) = requested_for.as_ref().filter(|_| errs.is_empty()) {
            let config = self.config(&mut c).await?;
            let now = self.now();
            approvals::check_chain(&mut c, &config, &package, &checked.answers, (who, &rows), now, &mut errs).await?;
        }
        drop(r);
        errs.into_result()?;
        let Some(requested_for) = requested_for else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };

        // The request as a service request, through the one creation path.
        let title = match fill(&package.title, &checked.answers).trim() {
            "" => row.name.clone(),
            t => t.chars().take(crate::kernel::limits::TITLE_MAX).collect(),
        };
        let description = if row.description.trim().is_empty() {
            format!("Requested from the service catalog: {}.", row.name)
        } else {
            format!("Requested from the service catalog: {}.\n\n{}", row.name, row.description.trim())
        };
        let ticket = NewTicketInput {
            kind: Some("service_request".into()),
            title: Some(title),
            description: Some(description),
            urgency: package.urgency,
            requester: (requested_for.id != actor.id.0).then(|| requested_for.email.clone()),
            category: package.category.clone(),
            ..Default::default()
        };
        // The item's group and impact hold whoever asks (the portal lets requesters set neither),
        // so routing, the timeline and the reports see them from the start.
        let preset = Preset {
            group: package.assignment_group.as_deref().map(str::trim).filter(|g| !g.is_empty()),
            impact: package.impact,
            sla_policy: package.sla_policy.as_deref().filter(|n| !n.trim().is_empty()),
            task: false,
        };
        let Prepared { planned, view } = self.prepare_ticket_with(actor, ticket, preset).await?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let written = crate::tickets::open(&mut c, &planned).await?;
        store::insert_request(&mut c, written.id, (row.id, version), requested_for.id).await?;
        for a in &mut rows {
            // A file answer refers to its stored file (a hidden question's file has no row: dropped).
            if let Some(f) = uploads.get(&a.question_key) {
                a.ref_id = Some(files::store(&mut c, written.id, f, self.now()).await?);
            }
        }
        store::insert_answers(&mut c, written.id, &rows).await?;
        // Found by search like the rest of what the requester wrote: the answers, as the index
        // rebuilds them from their rows (`search::ticket_docs`), replace the document written
        // with the ticket (no read: the last document of a ticket in a transaction wins).
        if rows.iter().any(|a| !a.text_value.is_empty()) {
            let doc = orion_store::search::TicketDoc::build(
                written.id,
                written.requester_id,
                &planned.title,
                &planned.description,
                "",
                rows.iter().filter(|a| !a.text_value.is_empty()).map(|a| ("public", a.text_value.as_str())),
            );
            orion_store::search::write_tickets(&mut c, vec![doc]).await?;
        }
        let config = self.config(&mut c).await?;
        let asked = approvals::start(&mut c, &self.mailer(&config), written.id, actor, self.now()).await?;
        if !asked {
            tasks::plan(&mut c, written.id, &package, self.now()).await?;
        }
        store::count_request(&mut c, row.id).await?;
        self.commit(tx).await?;
        if asked {
            // On hold for approval: the ticket as it stands now.
            return self.get_ticket(actor, &written.number).await;
        }
        Ok(with_written(view, written).into())
    }

    /// What a request was asked from the catalog (whoever may see the ticket); `None` for a
    /// ticket not requested from it.
    pub async fn catalog_request(&self, actor: &Actor, number: &str) -> AppResult<Option<CatalogRequest>> {
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        let Some(req) = store::request_of(&mut c, t.id).await? else { return Ok(None) };
        let package = read_package(&req.package)?;
        let rows = store::answers_of(&mut c, t.id).await?;
        let who = users::get(&mut c, req.requested_for_id).await?;
        let answers = answers_in_order(&package, &rows);
        let approval = approvals::approval_view(&mut c, &req).await?;
        let tasks = tasks::tasks_view(&mut c, t.id, &package).await?;
        Ok(Some(CatalogRequest {
            tasks_done: tasks.iter().filter(|k| k.state == "done").count(),
            tasks,
            item_id: req.item_id,
            item: req.item_name,
            version: req.version,
            requested_for: who.email,
            answers,
            approval,
        }))
    }
}

/// A dry run of an item's form: the answers as a given person would send them.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRunInput {
    /// The person filling it in, by e-mail address
    pub as_user: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub answers: BTreeMap<String, serde_json::Value>,
    /// Try the published version instead of the draft
    #[serde(default)]
    pub published: bool,
}

/// What a request with these answers would produce; nothing is written.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DryRun {
    /// The answers the form would refuse, by `answers.<key>`
    pub errors: BTreeMap<String, String>,
    pub title: String,
    pub group: String,
    pub approvals: Vec<StepPreview>,
    /// The tasks, in plan order, as they would open (titles filled from the answers)
    pub tasks: Vec<TaskPreview>,
    /// The mail it would send when submitted
    pub notifications: Vec<String>,
    /// The joiner, mover or leaver it would start once approved, in a sentence
    pub workflow: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskPreview {
    pub key: String,
    pub title: String,
    pub group: String,
    pub after: Vec<String>,
}

impl App {
    /// Fills an item's form as someone would (administrators designing it) and says what the
    /// request would produce — refused answers, title, group, approvers, tasks, mail — without
    /// writing anything.
    pub async fn dry_run_catalog_item(&self, actor: &Actor, id: i64, input: &DryRunInput) -> AppResult<DryRun> {
        require_admin(actor, "try catalog items")?;
        let mut errs = FieldErrors::new();
        let raw = raw_answers(&input.answers, &mut errs);
        errs.into_result()?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let row = found(store::get_item(&mut c, id).await, "catalog item")?;
        let package = if input.published {
            published(&mut c, &row).await?.ok_or_else(|| invalid("published", "the item is not published yet"))?
        } else {
            read_package(&row.draft)?
        };
        let who = match users::find_by_email(&mut c, &input.as_user.trim().to_lowercase()).await? {
            Some(u) if u.active => u,
            _ => {
                return Err(invalid(
                    "as_user",
                    format!("no active person with the address {:?}", input.as_user.trim()),
                ));
            }
        };
        let config = self.config(&mut c).await?;
        let cal = crate::settings::sla::business_calendar(&mut c).await?;
        let checked = package.form.check(&raw, cal.zone(), true);
        let mut rows = Vec::new();
        for q in package.form.questions().filter(|q| q.kind == QuestionKind::User) {
            if let Some(v) = checked.answers.get(&q.key)
                && let Some(u) = users::find_by_email(&mut c, &v.as_text()).await?
            {
                rows.push(AnswerRow {
                    question_key: q.key.clone(),
                    n: 0,
                    text_value: u.email.clone(),
                    number_value: None,
                    ref_id: Some(u.id),
                });
            }
        }
        let now = self.now();
        let approvals =
            approvals::preview_chain(&mut c, &config, &package, &checked.answers, (&who, &rows), now).await?;
        let group = package
            .assignment_group
            .as_deref()
            .and_then(|g| config.active_group(g))
            .map(|g| g.name.clone())
            .unwrap_or_else(|| "the service desk (or where routing sends it)".into());
        let tasks = package
            .tasks
            .iter()
            .map(|t| TaskPreview {
                key: t.key.clone(),
                title: fill(&t.title, &checked.answers),
                group: t.group.clone().filter(|g| !g.trim().is_empty()).unwrap_or_else(|| group.clone()),
                after: t.after.clone(),
            })
            .collect();
        let mail = config.mail.sender().is_some() && config.mail.portal_url.is_some();
        let mut notifications = Vec::new();
        if let Some(first) = approvals.iter().find(|s| s.applies) {
            for a in &first.approvers {
                let to = a.split(' ').next().unwrap_or(a);
                notifications.push(if mail {
                    format!("An approval mail to {to} (step “{}”) with one-time links", first.name)
                } else {
                    format!("No approval mail to {to}: the mail settings have no sender or portal address")
                });
            }
        }
        notifications.push(format!("“We received your request” to {} (as the mail settings send it)", who.email));
        let title = match fill(&package.title, &checked.answers).trim() {
            "" => row.name.clone(),
            t => t.to_string(),
        };
        let workflow = package.workflow.as_ref().map(|w| {
            let answer = |k: &str| {
                checked
                    .answers
                    .get(k.trim())
                    .map(|v| v.as_text())
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| "(no answer)".into())
            };
            let (what, day) = match w.kind.as_str() {
                "joiner" => ("a joiner", "start day"),
                "mover" => ("a move", "move day"),
                _ => ("a leaver", "last day"),
            };
            let to = w.group.clone().filter(|g| !g.trim().is_empty()).unwrap_or_else(|| group.clone());
            format!(
                "Once approved: starts {what} for {}, {day} {}, its tasks going to {to}.",
                answer(&w.person),
                answer(&w.date)
            )
        });
        Ok(DryRun {
            errors: checked.errors.iter().map(|e| (e.field.clone(), e.message.clone())).collect(),
            title,
            group,
            approvals,
            tasks,
            notifications,
            workflow,
        })
    }
}

/// The package of the item's published version (`None` before the first publication).
async fn published(c: &mut Conn<'_>, row: &ItemRow) -> AppResult<Option<Package>> {
    if row.version == 0 {
        return Ok(None);
    }
    Ok(Some(read_package(&store::version(c, row.id, row.version).await?.package)?))
}

/// Publishes an item's draft as its next version, unless it equals the published package.
async fn publish_draft(c: &mut Conn<'_>, id: i64, actor: &Actor, now: i64) -> AppResult<()> {
    let row = store::get_item(c, id).await?;
    let unchanged = row.version > 0 && store::version(c, id, row.version).await?.package == row.draft;
    if !unchanged {
        store::publish(c, id, &row.draft, actor.id.0, now).await?;
    }
    Ok(())
}

fn rename(e: AppError, field: &str) -> AppError {
    match e {
        AppError::Validation(errs) => {
            let mut out = FieldErrors::new();
            for f in errs.iter() {
                out.push(field, f.message.clone());
            }
            AppError::Validation(out)
        }
        other => other,
    }
}

/// A request's answers in the form's order; a key the version does not know (none should be) at
/// the end.
fn answers_in_order(package: &Package, rows: &[AnswerRow]) -> Vec<CatalogAnswer> {
    let mut answers = Vec::new();
    let mut by_key: BTreeMap<&str, Vec<&AnswerRow>> = BTreeMap::new();
    for a in rows {
        by_key.entry(a.question_key.as_str()).or_default().push(a);
    }
    for q in package.form.questions() {
        let Some(vals) = by_key.remove(q.key.as_str()) else { continue };
        answers.push(answer_view(Some(q), &q.key, &vals));
    }
    for (k, vals) in by_key {
        answers.push(answer_view(None, k, &vals));
    }
    answers
}

fn answer_view(q: Option<&orion_domain::catalog::Question>, key: &str, vals: &[&AnswerRow]) -> CatalogAnswer {
    let kind = q.map(|q| q.kind).unwrap_or(QuestionKind::ShortText);
    let label_of = |v: &str| -> String {
        q.and_then(|q| q.choices.iter().find(|c| c.value == v))
            .map(|c| c.label.clone())
            .unwrap_or_else(|| v.to_string())
    };
    let value = match kind {
        QuestionKind::MultiChoice => {
            serde_json::Value::Array(vals.iter().map(|a| a.text_value.clone().into()).collect())
        }
        QuestionKind::Number => vals
            .first()
            .and_then(|a| a.number_value)
            .and_then(serde_json::Number::from_f64)
            .map(serde_json::Value::Number)
            .unwrap_or_default(),
        QuestionKind::YesNo => vals.first().is_some_and(|a| a.text_value == "yes").into(),
        _ => vals.first().map(|a| a.text_value.clone()).unwrap_or_default().into(),
    };
    let text = match kind {
        QuestionKind::Choice | QuestionKind::MultiChoice => {
            vals.iter().map(|a| label_of(&a.text_value)).collect::<Vec<_>>().join(", ")
        }
        _ => vals.iter().map(|a| a.text_value.clone()).collect::<Vec<_>>().join(", "),
    };
    CatalogAnswer {
        key: key.to_string(),
        label: q.map(|q| q.label.clone()).unwrap_or_else(|| key.to_string()),
        kind: kind.as_str().to_string(),
        value,
        text,
        attachment: if kind == QuestionKind::Attachment { vals.first().and_then(|a| a.ref_id) } else { None },
    }
}

fn form_check(c: &orion_domain::catalog::Checked) -> FormCheck {
    FormCheck {
        sections: c.sections.clone(),
        visible: c.questions.iter().filter(|(_, s)| s.visible).map(|(k, _)| k.clone()).collect(),
        required: c.questions.iter().filter(|(_, s)| s.required).map(|(k, _)| k.clone()).collect(),
        errors: c.errors.iter().map(|e| (e.field.clone(), e.message.clone())).collect(),
    }
}

/// The resolution target in business minutes of the SLA policy an item's requests are timed by.
fn delivery_minutes(config: &crate::settings::Config, p: &Package) -> Option<i64> {
    let policy = match p.sla_policy.as_deref() {
        Some(n) => config.policy(n)?,
        None => return None,
    };
    policy.target_ms(orion_domain::sla_policy::TargetKind::Resolution).map(|ms| ms / 60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_filled_from_the_answers() {
        let answers: BTreeMap<String, Value> =
            [("ram_gb".to_string(), Value::Number(32.0)), ("model".to_string(), Value::Text("X1".into()))]
                .into_iter()
                .collect();
        assert_eq!(fill("Laptop {{model}} with {{ ram_gb }} GB", &answers), "Laptop X1 with 32 GB");
        assert_eq!(fill("Unknown {{nope}} and {{open", &answers), "Unknown  and {{open");
    }

    #[test]
    fn item_cursors_go_both_ways() {
        for name in ["new laptop", "Zugang für Ännchen", ""] {
            let by_name = (0, name.to_string());
            assert_eq!(parse_item_cursor(&item_cursor(&by_name, false), false).unwrap(), by_name);
            let popular = (17, name.to_string());
            assert_eq!(parse_item_cursor(&item_cursor(&popular, true), true).unwrap(), popular);
            // A cursor of one order is refused by the other.
            assert!(parse_item_cursor(&item_cursor(&popular, true), false).is_err());
            assert!(parse_item_cursor(&item_cursor(&by_name, false), true).is_err());
        }
        assert!(parse_item_cursor("zz", false).is_err());
        assert!(parse_item_cursor("éé", true).is_err(), "a multi-byte character is refused, not sliced");
        assert!(parse_item_cursor("abc", false).is_err());
    }

    #[test]
    fn api_answers_become_the_values_the_form_reads() {
        let mut errs = FieldErrors::new();
        let given: BTreeMap<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
            "ram": 32, "vip": true, "extras": ["dock", "mouse"], "note": "x", "none": null, "bad": {"a": 1}
        }))
        .unwrap();
        let raw = raw_answers(&given, &mut errs);
        assert_eq!(raw["ram"], vec!["32"]);
        assert_eq!(raw["vip"], vec!["yes"]);
        assert_eq!(raw["extras"], vec!["dock", "mouse"]);
        assert!(raw["none"].is_empty());
        assert_eq!(errs.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), vec!["answers.bad"]);
    }
}
