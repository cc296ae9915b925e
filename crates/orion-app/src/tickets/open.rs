//! The one creation path for tickets.

use crate::AppResult;
use orion_domain::{CommentKind, PlannedClock, TicketEvent, TicketKind};
use orion_store::tickets::{self, NewTicket};
use orion_store::{Conn, timeline, users};

/// Who the ticket is for: a known user, or a caller to create as a requester.
pub(crate) enum Requester {
    Known(i64),
    New { email: String, name: String },
}

/// A validated ticket, ready to be numbered and written.
pub(crate) struct Planned {
    pub requester: Requester,
    pub prefix: &'static str,
    pub kind: &'static str,
    pub title: String,
    pub description: String,
    pub channel: &'static str,
    pub category_id: Option<i64>,
    pub impact: i64,
    pub urgency: i64,
    pub priority: i64,
    pub state: &'static str,
    /// Why a ticket that starts pending waits (problems and changes may be created pending)
    pub pending_reason: Option<&'static str>,
    pub assignment_group_id: i64,
    pub assignee_id: Option<i64>,
    pub max_tier: i64,
    pub created_by: i64,
    pub now: i64,
    pub entry_data: String,
    /// The SLA clocks to start with the ticket.
    pub clocks: Vec<PlannedClock>,
    /// Tell the requester by mail that the ticket was logged.
    pub notify: bool,
    /// The assets (CI id, name) the ticket is about
    pub assets: Vec<(i64, String)>,
    /// What the routing rules decided besides the fields above
    pub routed: Routed,
}

/// What the routing rules add to a new ticket: a restriction, tags, their firings for the
/// timeline, work notes and agents to tell.
#[derive(Default)]
pub(crate) struct Routed {
    pub restrict: Option<(i64, String)>,
    pub tags: Vec<String>,
    pub fired: Vec<crate::routing::Firing>,
    pub notes: Vec<(String, String)>,
    pub notify: Vec<i64>,
    /// The reply a rule sends the requester instead of the "received" mail: (rule, text)
    pub auto_reply: Option<(String, String)>,
}

impl Routed {
    /// Takes the rules' outcome out of a draft.
    pub(crate) fn from_draft(d: &mut crate::routing::Draft) -> Self {
        Routed {
            restrict: d.restrict.as_ref().map(|g| (g.id, g.name.clone())),
            tags: std::mem::take(&mut d.tags),
            fired: std::mem::take(&mut d.fired),
            notes: std::mem::take(&mut d.notes),
            notify: std::mem::take(&mut d.notify),
            auto_reply: d.auto_reply.take(),
        }
    }
}

/// What was written: the ticket's id and number, and the requester's id.
pub(crate) struct Written {
    pub id: i64,
    pub number: String,
    pub requester_id: i64,
}

/// Logs a ticket in the caller's transaction: the one way every channel creates tickets (the API
/// and portal through the ticket writer's group commit; mail, monitoring, problems and changes in
/// their own transactions). Writes the row, its `created` entry and its asset links, and records
/// [`TicketEvent::Created`]: subscribers start its SLA clocks, mail the requester and call webhooks.
pub(crate) async fn open(c: &mut Conn<'_>, p: &Planned) -> AppResult<Written> {
    let requester_id = match &p.requester {
        Requester::Known(id) => *id,
        Requester::New { email, name } => users::insert_requester(c, email, name, p.now).await?,
    };
    let (id, number) = tickets::create(
        c,
        &NewTicket {
            prefix: p.prefix,
            kind: p.kind,
            title: &p.title,
            description: &p.description,
            requester_id,
            channel: p.channel,
            category_id: p.category_id,
            impact: p.impact,
            urgency: p.urgency,
            priority: p.priority,
            state: p.state,
            pending_reason: p.pending_reason,
            assignment_group_id: p.assignment_group_id,
            assignee_id: p.assignee_id,
            max_tier: p.max_tier,
            created_by: p.created_by,
            now: p.now,
            entry_visibility: "public",
            entry_data: &p.entry_data,
            visibility_group_id: p.routed.restrict.as_ref().map(|(id, _)| *id),
        },
    )
    .await?;
    let entry = timeline::NewEntry {
        ticket_id: id,
        at: p.now,
        actor_id: Some(p.created_by),
        kind: "created",
        visibility: "public",
        body: "",
        data: &p.entry_data,
    };
    let kind = TicketKind::parse("kind", p.kind)?;
    // A rule's automatic reply takes the place of the "received" mail.
    let notify_requester = p.notify && p.routed.auto_reply.is_none();
    let event = TicketEvent::Created { kind, clocks: p.clocks.clone(), notify_requester };
    timeline::record_created(c, &entry, None, event);
    for (ci, name) in &p.assets {
        link_asset(c, (id, &number), (*ci, name), Some(p.created_by), p.now).await?;
    }
    if p.routed.fired.is_empty() {
        return Ok(Written { id, number, requester_id });
    }
    write_routing(c, (id, &number), p).await?;
    Ok(Written { id, number, requester_id })
}

/// Writes what the routing rules decided for a new ticket: its tags, what
/// [`write_rule_outcome`] writes, and a rule's automatic reply.
async fn write_routing(c: &mut Conn<'_>, (id, number): (i64, &str), p: &Planned) -> AppResult<()> {
    let r = &p.routed;
    tickets::add_tags(c, id, &r.tags).await?;
    write_rule_outcome(c, (id, number, &p.title), r, p.now).await?;
    if let Some((rule, text)) = r.auto_reply.as_ref().filter(|_| p.notify) {
        let t = tickets::get(c, id).await?;
        let body = crate::routing::fill_auto_reply(text, number, &p.title, &t.requester_name);
        let data = serde_json::json!({"rule": rule}).to_string();
        let e = timeline::NewEntry {
            ticket_id: id,
            at: p.now,
            actor_id: None,
            kind: "comment",
            visibility: "public",
            body: &body,
            data: &data,
        };
        // Orion's reply: mailed like an agent's, but no response for the SLA (no one answered yet).
        let event = TicketEvent::Commented { kind: CommentKind::Comment, public: true, by_staff: true };
        timeline::append_event(c, &e, None, event, Some(&t)).await?;
    }
    Ok(())
}

/// Writes what rules did to a ticket `(id, number, title)`: one internal entry per rule that fired
/// ("Rule 'Phishing to Security' set group Security, …"), their work notes, a restriction in the
/// security log, and the agents to tell (those who may see the ticket, as each chose).
pub(crate) async fn write_rule_outcome(
    c: &mut Conn<'_>,
    (id, number, title): (i64, &str, &str),
    r: &Routed,
    now: i64,
) -> AppResult<()> {
    for f in &r.fired {
        let data = serde_json::json!({"rule": f.rule, "did": f.did}).to_string();
        let e = timeline::NewEntry {
            ticket_id: id,
            at: now,
            actor_id: None,
            kind: "rule_fired",
            visibility: "internal",
            body: "",
            data: &data,
        };
        timeline::append_event(c, &e, None, TicketEvent::Noted, None).await?;
    }
    for (rule, note) in &r.notes {
        let data = serde_json::json!({"rule": rule}).to_string();
        let e = timeline::NewEntry {
            ticket_id: id,
            at: now,
            actor_id: None,
            kind: "work_note",
            visibility: "internal",
            body: note,
            data: &data,
        };
        timeline::append_event(c, &e, None, TicketEvent::Noted, None).await?;
    }
    if let Some((_, group)) = &r.restrict {
        let rule = r
            .fired
            .iter()
            .rev()
            .find(|f| f.did.iter().any(|d| d.starts_with("restricted it to")))
            .map(|f| f.rule.as_str());
        let detail = format!("{number} restricted to {group} by routing rule {:?}", rule.unwrap_or(""));
        let e = orion_store::web::NewEvent {
            kind: "ticket_restricted",
            user_id: None,
            email: None,
            ip: None,
            detail: &detail,
        };
        orion_store::web::log_event(c, &e, now).await?;
    }
    if !r.notify.is_empty() {
        let t = tickets::get(c, id).await?;
        let msg = format!("{number} {title}: picked out by a routing rule");
        for user in &r.notify {
            super::notify_user(c, &t, *user, "rule", &msg, now).await?;
        }
    }
    Ok(())
}

/// Links a ticket `(id, number)` to a CI `(id, name)` with an internal timeline entry; the CMDB
/// subscriber adds the asset's history event. Nothing happens if it already was linked.
pub(crate) async fn link_asset(
    c: &mut Conn<'_>,
    (ticket_id, number): (i64, &str),
    (ci, name): (i64, &str),
    actor_id: Option<i64>,
    now: i64,
) -> AppResult<bool> {
    if !orion_store::cmdb::link_ticket(c, ticket_id, ci, actor_id, now).await? {
        return Ok(false);
    }
    let data = serde_json::json!({"asset": ci, "name": name}).to_string();
    let entry = timeline::NewEntry {
        ticket_id,
        at: now,
        actor_id,
        kind: "asset_linked",
        visibility: "internal",
        body: "",
        data: &data,
    };
    let event = TicketEvent::AssetLinked { asset_id: ci, ticket_number: number.to_string(), linked: true };
    timeline::append_event(c, &entry, None, event, None).await?;
    Ok(true)
}

/// An asset by id (digits) or asset tag.
pub(crate) async fn resolve_ref(c: &mut Conn<'_>, field: &str, r: &str) -> AppResult<orion_store::cmdb::CiRow> {
    let r = r.trim();
    if let Ok(id) = r.parse::<i64>() {
        match orion_store::cmdb::get(c, id).await {
            Ok(row) => return Ok(row),
            Err(orion_store::StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    match orion_store::cmdb::find_by_tag(c, r).await? {
        Some(row) => Ok(row),
        None => Err(crate::kernel::error::invalid(field, format!("no asset with id or asset tag {r:?}"))),
    }
}
