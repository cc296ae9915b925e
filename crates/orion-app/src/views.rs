//! What the API and UI read and send: serialisable views and inputs.
//!
//! Input fields are optional at the serde level so that every missing or invalid
//! field is reported at once, by name, by the service that parses them.

use orion_domain::Timestamp;
use orion_store::{groups::GroupRow, tickets::TicketView, timeline::EntryRow, users::UserRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

fn ts(ms: i64) -> String {
    Timestamp(ms).to_rfc3339()
}

/// A ticket as agents and requesters see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Ticket {
    /// e.g. `INC0000042`
    pub number: String,
    /// `incident`, `service_request`, `problem` or `change`
    pub kind: String,
    pub title: String,
    pub description: String,
    /// `new`, `assigned`, `in_progress`, `pending`, `resolved`, `closed`
    pub state: String,
    /// Why the ticket is pending: `user`, `vendor`, `change`
    pub pending_reason: Option<String>,
    /// `P1` (critical) .. `P5` (planning), from impact x urgency
    pub priority: String,
    /// 1 (high) .. 3 (low)
    pub impact: i64,
    /// 1 (high) .. 3 (low)
    pub urgency: i64,
    pub channel: String,
    /// Category path, e.g. `Hardware / Printer`
    pub category: Option<String>,
    /// Requester's e-mail
    pub requester: String,
    pub requester_name: String,
    /// Name of the group that owns the ticket
    pub assignment_group: String,
    pub assignment_group_tier: i64,
    /// Assignee's e-mail
    pub assignee: Option<String>,
    pub assignee_name: Option<String>,
    pub escalation_count: i64,
    /// Highest support tier the ticket has reached
    pub highest_tier: i64,
    pub reopen_count: i64,
    pub resolution_code: Option<String>,
    pub resolution_notes: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    pub closed_at: Option<String>,
    /// Increases with every change
    pub version: i64,
    /// The group the ticket is restricted to: only its members, admins and the requester see it
    pub restricted_to: Option<String>,
    /// Tags, in alphabetical order
    #[serde(default)]
    pub tags: Vec<String>,
}

impl From<TicketView> for Ticket {
    fn from(t: TicketView) -> Self {
        let tags = t.tag_list();
        Ticket {
            number: t.number,
            kind: t.kind,
            title: t.title,
            description: t.description,
            state: t.state,
            pending_reason: t.pending_reason,
            priority: format!("P{}", t.priority),
            impact: t.impact,
            urgency: t.urgency,
            channel: t.channel,
            category: t.category_path,
            requester: t.requester_email,
            requester_name: t.requester_name,
            assignment_group: t.assignment_group_name,
            assignment_group_tier: t.assignment_group_tier,
            assignee: t.assignee_email,
            assignee_name: t.assignee_name,
            escalation_count: t.escalation_count,
            highest_tier: t.max_tier,
            reopen_count: t.reopen_count,
            resolution_code: t.resolution_code,
            resolution_notes: t.resolution_notes,
            created_at: ts(t.created_at),
            updated_at: ts(t.updated_at),
            resolved_at: t.resolved_at.map(ts),
            closed_at: t.closed_at.map(ts),
            version: t.version,
            tags,
            restricted_to: t.visibility_group_name,
        }
    }
}

/// One page of a list; pass `next_cursor` back as `cursor` for the next page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// One entry of a ticket's timeline (its audit trail).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    pub id: i64,
    pub at: String,
    /// `created`, `comment`, `work_note`, `state_changed`, `fields_changed`, `escalated`, `resolved`, `reopened`, `closed`
    pub kind: String,
    /// `public` (the requester sees it) or `internal`
    pub visibility: String,
    /// Who did it; null for Orion itself
    pub actor: Option<String>,
    pub body: String,
    /// Structured details: before/after values, groups, tiers
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<EntryRow> for TimelineEntry {
    fn from(e: EntryRow) -> Self {
        TimelineEntry {
            id: e.id,
            at: ts(e.at),
            kind: e.kind,
            visibility: e.visibility,
            actor: e.actor_name,
            body: e.body,
            data: serde_json::from_str(&e.data).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// A person known to Orion.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    /// `requester`, `agent`, `lead`, `admin`
    pub role: String,
    pub active: bool,
    pub phone: Option<String>,
    /// Department (SLA policies can match on the requester's department)
    pub department: Option<String>,
    /// Names of the groups the user belongs to
    pub groups: Vec<String>,
    pub created_at: String,
    pub title: Option<String>,
    pub location: Option<String>,
    /// The login name in the directory the user comes from
    pub login: Option<String>,
    /// The manager's e-mail
    pub manager: Option<String>,
    /// The directory source that owns this user (none for a local account)
    pub directory_source: Option<String>,
    /// A local emergency account, never changed by a directory sync
    pub break_glass: bool,
    pub deactivated_at: Option<String>,
    /// Why the user was deactivated (by an admin, or by a directory sync and why)
    pub deactivated_reason: Option<String>,
    /// A very important person: their tickets show a badge
    pub vip: bool,
}

impl User {
    /// The view with the manager's e-mail and the owning source's name resolved.
    pub(crate) fn with_links(u: UserRow, groups: Vec<String>, manager: Option<String>, source: Option<String>) -> Self {
        User {
            title: u.title,
            location: u.location,
            login: u.login,
            manager,
            directory_source: source,
            break_glass: u.break_glass,
            deactivated_at: u.deactivated_at.map(ts),
            deactivated_reason: u.deactivated_reason,
            vip: u.vip,
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            active: u.active,
            phone: u.phone,
            department: u.department,
            groups,
            created_at: ts(u.created_at),
        }
    }
}

/// A support team.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Group {
    pub id: i64,
    pub name: String,
    /// 1 service desk, 2 specialists, 3 experts
    pub tier: i64,
    /// Name of the group tickets escalate to
    pub escalates_to: Option<String>,
    /// Lead's e-mail
    pub lead: Option<String>,
    pub description: String,
    pub active: bool,
    /// Time must be logged on a ticket of the group before it is resolved
    pub time_required: bool,
    /// Members' e-mails
    pub members: Vec<String>,
}

impl Group {
    pub(crate) fn from_row(
        g: GroupRow,
        escalates_to: Option<String>,
        lead: Option<String>,
        members: Vec<String>,
    ) -> Self {
        Group {
            id: g.id,
            name: g.name,
            tier: g.tier,
            escalates_to,
            lead,
            description: g.description,
            active: g.active,
            time_required: g.time_required,
            members,
        }
    }
}

/// A node of the category tree.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Category {
    pub id: i64,
    pub name: String,
    /// Full path, e.g. `Hardware / Printer`
    pub path: String,
    pub parent_id: Option<i64>,
    pub active: bool,
}

/// `POST /api/v1/tickets`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicketInput {
    /// `incident` (default) or `service_request`
    #[schema(schema_with = crate::api_schema::ticket_kinds)]
    pub kind: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    pub title: Option<String>,
    pub description: Option<String>,
    /// 1 (high) .. 3 (low); default 3. Staff only: the desk assesses impact (a requester sets urgency)
    #[schema(minimum = 1, maximum = 3)]
    pub impact: Option<i64>,
    /// 1 (high) .. 3 (low); default 3
    #[schema(minimum = 1, maximum = 3)]
    pub urgency: Option<i64>,
    /// Requester's e-mail; staff only (requesters always log for themselves). Unknown addresses become requester accounts.
    pub requester: Option<String>,
    /// Display name for a requester created on the fly
    pub requester_name: Option<String>,
    /// `phone`, `email`, `portal`, `api` (default), `monitoring`, `walk_in`; a requester: `portal` or `api` only
    pub channel: Option<String>,
    /// Category path, e.g. `Hardware / Printer`
    pub category: Option<String>,
    /// Group name; default: the service desk (first tier-1 group)
    pub assignment_group: Option<String>,
    /// Agent's e-mail; must be a member of the assignment group
    pub assignee: Option<String>,
    /// The affected assets: ids or asset tags. A requester may name only devices checked out to them.
    pub assets: Option<Vec<String>>,
}

/// `PATCH /api/v1/tickets/{number}`: only the fields present change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketPatch {
    #[schema(min_length = 1, pattern = "\\S")]
    pub title: Option<String>,
    pub description: Option<String>,
    #[schema(minimum = 1, maximum = 3)]
    pub impact: Option<i64>,
    #[schema(minimum = 1, maximum = 3)]
    pub urgency: Option<i64>,
    /// Category path; empty string clears it
    pub category: Option<String>,
    /// Move to another group of the same or a lower tier (needs `note`); higher tiers use escalate
    pub assignment_group: Option<String>,
    /// Agent's e-mail; empty string unassigns
    pub assignee: Option<String>,
    /// `new`, `assigned`, `in_progress`, `pending` (resolve, reopen and close have their own endpoints)
    pub state: Option<String>,
    /// With `state: pending`: `user`, `vendor`, `change`
    #[schema(schema_with = crate::api_schema::pending_reasons)]
    pub pending_reason: Option<String>,
    /// Why the ticket was moved to another group
    pub note: Option<String>,
}

/// `POST /api/v1/tickets/{number}/comments`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentInput {
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    pub body: Option<String>,
    /// `public` (default; the requester sees it) or `internal` (work note, staff only)
    #[schema(schema_with = crate::api_schema::visibilities)]
    pub visibility: Option<String>,
    /// Staff: this records a phone call with the requester (timeline kind `phone_call`). A logged
    /// call counts as a response for the SLA (first response, update interval) whatever its visibility.
    #[serde(default)]
    pub phone_call: bool,
    /// Staff, public replies: more addresses that get the reply by mail besides the requester
    #[serde(default)]
    pub cc: Vec<String>,
    /// Files to attach (at most 10, 10 MiB each, 25 MiB in all); without a `body` the entry names them
    #[serde(default)]
    pub attachments: Vec<AttachmentInput>,
    /// Staff: minutes spent on this reply, note or call (0 to 1440; 0 or absent logs none)
    #[schema(minimum = 0, maximum = 1440)]
    pub time_spent_minutes: Option<i64>,
}

/// A file attached through the API, its content in base64.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentInput {
    #[schema(min_length = 1, max_length = 255)]
    pub filename: String,
    /// Default `application/octet-stream`
    pub content_type: Option<String>,
    /// The file's bytes, base64 (standard alphabet, padded)
    pub data_base64: String,
}

impl AttachmentInput {
    /// The file as the web forms hand it over: its name without a path, a content type that
    /// cannot break a header; `None` when `data_base64` is not base64.
    pub(crate) fn into_upload(self) -> Option<crate::kernel::uploads::Upload> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD.decode(self.data_base64.trim()).ok()?;
        Some(crate::kernel::uploads::Upload {
            filename: self.filename.rsplit(['/', '\\']).next().unwrap_or_default().trim().to_string(),
            content_type: self
                .content_type
                .filter(|c| !c.trim().is_empty() && !c.contains(['\r', '\n']))
                .unwrap_or_else(|| "application/octet-stream".into()),
            bytes,
        })
    }
}

/// `POST /api/v1/tickets/{number}/escalate`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateInput {
    /// Target group name; default: the current group's escalation target
    pub to_group: Option<String>,
    /// Why the next tier is needed
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    pub reason: Option<String>,
    /// What was checked and tried so far
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    pub troubleshooting: Option<String>,
}

/// `POST /api/v1/tickets/{number}/resolve`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveInput {
    /// `fixed`, `workaround`, `information_provided`, `request_fulfilled`, `not_reproducible`, `duplicate`, `cancelled`
    #[schema(schema_with = crate::api_schema::resolution_codes_exact, required = true)]
    pub resolution_code: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    pub resolution_notes: Option<String>,
    /// Minutes spent on the resolution (0 to 1440; 0 or absent logs none). A group can ask for
    /// time before its tickets are resolved: then this, or time logged before, is required
    #[schema(minimum = 0, maximum = 1440)]
    pub time_spent_minutes: Option<i64>,
}

/// `POST /api/v1/tickets/{number}/reopen` and `/close`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonInput {
    /// Required to reopen; optional to close
    #[schema(min_length = 1, pattern = "\\S")]
    pub reason: Option<String>,
}

/// `POST /api/v1/users`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserInput {
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    pub email: Option<String>,
    pub name: Option<String>,
    /// `requester` (default), `agent`, `lead`, `admin`
    #[schema(schema_with = crate::api_schema::roles)]
    pub role: Option<String>,
    pub phone: Option<String>,
    pub department: Option<String>,
    /// Group names to join
    #[serde(default)]
    pub groups: Vec<String>,
    /// Optional initial password (at least 12 characters)
    pub password: Option<String>,
    /// A very important person (default false)
    pub vip: Option<bool>,
}

/// `PATCH /api/v1/users/{id}`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub name: Option<String>,
    #[schema(schema_with = crate::api_schema::roles)]
    pub role: Option<String>,
    pub active: Option<bool>,
    pub phone: Option<String>,
    pub department: Option<String>,
    pub title: Option<String>,
    pub location: Option<String>,
    /// The manager's e-mail (approvals follow the manager chain); empty string clears it. A
    /// directory sync sets it for the users it owns
    pub manager: Option<String>,
    /// A local emergency account: never changed or deactivated by a directory sync
    pub break_glass: Option<bool>,
    /// Replaces the user's group memberships
    pub groups: Option<Vec<String>>,
    /// A very important person: their tickets show a badge
    pub vip: Option<bool>,
}

/// `POST /api/v1/groups` and `PATCH /api/v1/groups/{id}`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: Option<String>,
    /// 1, 2 or 3
    #[schema(minimum = 1, maximum = 3)]
    pub tier: Option<i64>,
    /// Name of the group to escalate to (same or higher tier); empty string clears it
    pub escalates_to: Option<String>,
    /// Lead's e-mail; empty string clears it
    pub lead: Option<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
    /// Ask for the time spent before a ticket of the group is resolved (default: no)
    pub time_required: Option<bool>,
}

/// `POST /api/v1/categories`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryInput {
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    pub name: Option<String>,
    /// Parent path, e.g. `Hardware`
    pub parent: Option<String>,
}

/// The priority matrix: `rows[impact-1][urgency-1]` is a priority number 1..5.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityMatrixDoc {
    pub rows: Vec<Vec<i64>>,
}

/// A new API token; the secret is shown once and never stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewToken {
    pub id: i64,
    pub name: String,
    pub token: String,
}
