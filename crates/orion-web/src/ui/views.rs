//! View models both the agent console and the portal show: a ticket's header and its timeline
//! entries.

use super::form::{when, words};
use orion_app::{Ticket, TimelineEntry};

/// The most timeline entries a ticket page shows.
pub(crate) const MAX_ENTRIES: usize = 2000;

/// A timeline entry as the page shows it.
pub(crate) struct EntryView {
    pub id: i64,
    pub at: String,
    pub who: String,
    pub label: String,
    pub internal: bool,
    pub body: String,
    pub details: Vec<(String, String)>,
    pub files: Vec<(i64, String)>,
}

pub(crate) fn entry_view(e: TimelineEntry, with_details: bool) -> EntryView {
    let label = match e.kind.as_str() {
        "created" => "logged the ticket",
        "comment" => "replied",
        "email" => "wrote by e-mail",
        "work_note" => "added a work note",
        "phone_call" => "logged a phone call",
        "state_changed" => "changed the state",
        "fields_changed" => "changed fields",
        "escalated" => "escalated",
        "resolved" => "resolved the ticket",
        "reopened" => "reopened the ticket",
        "closed" => "closed the ticket",
        "assigned" => "assigned",
        other => other,
    }
    .to_string();
    let mut details = Vec::new();
    let mut files = Vec::new();
    if let Some(obj) = e.data.as_object() {
        for f in obj.get("attachments").and_then(|a| a.as_array()).into_iter().flatten() {
            if let (Some(id), Some(name)) = (f["id"].as_i64(), f["filename"].as_str()) {
                files.push((id, name.to_string()));
            }
        }
        if with_details {
            for (k, v) in obj {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    _ => continue,
                };
                if matches!(k.as_str(), "html" | "html_quoted" | "quoted" | "message_id") || text.is_empty() {
                    continue;
                }
                details.push((words(k), words_if_code(&text)));
            }
        }
    }
    EntryView {
        id: e.id,
        at: when(&e.at),
        who: e.actor.unwrap_or_else(|| "Orion".into()),
        label,
        internal: e.visibility == "internal",
        body: e.body,
        details,
        files,
    }
}

/// `in_progress` → `in progress`, but free text stays as written.
fn words_if_code(s: &str) -> String {
    if s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') { words(s) } else { s.to_string() }
}

pub(crate) struct TicketView {
    pub number: String,
    pub title: String,
    pub description: String,
    pub kind: String,
    pub state: String,
    pub state_code: String,
    pub pending_reason: String,
    pub priority: String,
    pub impact: i64,
    pub urgency: i64,
    pub channel: String,
    pub category: String,
    pub requester: String,
    pub requester_email: String,
    pub group: String,
    pub tier: i64,
    pub assignee: String,
    pub assignee_email: String,
    pub created: String,
    pub updated: String,
    pub resolution: String,
    pub escalations: i64,
    pub version: i64,
    pub open: bool,
    pub resolved: bool,
    pub closed: bool,
}

pub(crate) fn ticket_view(t: Ticket) -> TicketView {
    TicketView {
        open: !matches!(t.state.as_str(), "resolved" | "closed"),
        resolved: t.state == "resolved",
        closed: t.state == "closed",
        state: words(&t.state),
        state_code: t.state,
        pending_reason: t.pending_reason.map(|r| words(&r)).unwrap_or_default(),
        number: t.number,
        title: t.title,
        description: t.description,
        kind: words(&t.kind),
        priority: t.priority,
        impact: t.impact,
        urgency: t.urgency,
        channel: words(&t.channel),
        category: t.category.unwrap_or_default(),
        requester: t.requester_name,
        requester_email: t.requester,
        group: t.assignment_group,
        tier: t.assignment_group_tier,
        assignee: t.assignee_name.unwrap_or_default(),
        assignee_email: t.assignee.unwrap_or_default(),
        created: when(&t.created_at),
        updated: when(&t.updated_at),
        resolution: match (t.resolution_code, t.resolution_notes) {
            (Some(c), Some(n)) => format!("{} — {n}", words(&c)),
            (Some(c), None) => words(&c),
            _ => String::new(),
        },
        escalations: t.escalation_count,
        version: t.version,
    }
}
