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

/// A duration in minutes as people say it: `45 min`, `2 h`, `1 h 30 min`, `3 days 2 h`.
fn minutes(m: i64) -> String {
    let (d, h, min) = (m / 1440, m % 1440 / 60, m % 60);
    match (d, h, min) {
        (0, 0, min) => format!("{min} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, min) => format!("{h} h {min} min"),
        (1, 0, _) => "1 day".into(),
        (d, 0, _) => format!("{d} days"),
        (d, h, _) => format!("{d} day{} {h} h", if d == 1 { "" } else { "s" }),
    }
}

/// An SLA target's name: `first_response` → `First response`.
fn target_name(t: &str) -> String {
    match t {
        "first_response" => "First response".into(),
        "resolution" => "Resolution".into(),
        "update" => "Update interval".into(),
        other => {
            let w = words(other);
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        }
    }
}

/// What a timeline entry says happened, as the end of a sentence that starts with who did it.
fn entry_label(kind: &str, d: &serde_json::Value) -> String {
    let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
    let num = |k: &str| d[k].as_i64();
    let titled = |n: String, t: String| if t.is_empty() { n } else { format!("{n} \u{201c}{t}\u{201d}") };
    let target = target_name(&s("target"));
    match kind {
        "created" => "logged the ticket".into(),
        "comment" => "replied".into(),
        "email" => "wrote by e-mail".into(),
        "work_note" => "added a work note".into(),
        "phone_call" => "logged a phone call".into(),
        "state_changed" => "changed the state".into(),
        "fields_changed" => "changed fields".into(),
        "escalated" => "escalated".into(),
        "resolved" => "resolved the ticket".into(),
        "reopened" => "reopened the ticket".into(),
        "closed" => "closed the ticket".into(),
        "assigned" => "assigned".into(),
        "article_linked" => format!("linked article {}", titled(s("article"), s("title"))),
        "article_unlinked" => format!("unlinked article {}", s("article")),
        "asset_linked" => format!("linked asset {}", s("name")),
        "rule_fired" => {
            let did: Vec<String> =
                d["did"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect();
            format!("applied the rule \u{201c}{}\u{201d}: {}", s("rule"), did.join(", "))
        }
        "restricted" => format!("restricted the ticket to {}", s("to")),
        "unrestricted" => format!("lifted the restriction to {}", s("from")),
        "tagged" | "untagged" => {
            let tags: Vec<String> =
                d["tags"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect();
            format!("{} {}", if kind == "tagged" { "tagged it" } else { "removed the tag" }, tags.join(", "))
        }
        "asset_unlinked" => format!("unlinked asset {}", s("name")),
        "problem_linked" => format!("linked this to problem {}", titled(s("problem"), s("title"))),
        "problem_unlinked" => format!("unlinked this from problem {}", s("problem")),
        "incident_linked" => format!("linked incident {}", s("incident")),
        "incident_unlinked" => format!("unlinked incident {}", s("incident")),
        "ticket_linked" => format!("linked ticket {}", s("ticket")),
        "ticket_unlinked" => format!("unlinked ticket {}", s("ticket")),
        "phase_changed" if !s("to").is_empty() => format!("moved it to {}", words(&s("to"))),
        "task_added" => format!("added the task \u{201c}{}\u{201d}", s("title")),
        "task_done" => format!("completed the task \u{201c}{}\u{201d}", s("title")),
        "workflow_replanned" if !s("message").is_empty() => format!("re-planned the task: {}", s("message")),
        "workflow_started" if !s("message").is_empty() => s("message"),
        "approval_completed" if !s("approval").is_empty() => {
            format!("recorded the approval: {}", words(&s("approval")))
        }
        "analysis_updated" => "updated the analysis".into(),
        "survey_answered" => match num("score") {
            Some(n) => format!("rated the support {n} of 5 stars"),
            None => "answered the satisfaction survey".into(),
        },
        "change_updated" => "updated the change".into(),
        "sla_started" => match num("target_minutes") {
            Some(m) => format!("started the {} clock: due within {}", target.to_lowercase(), minutes(m)),
            None => format!("started the {} clock", target.to_lowercase()),
        },
        "sla_met" => match num("elapsed_minutes") {
            Some(m) => format!("recorded: {target} met after {}", minutes(m)),
            None => format!("recorded: {target} met"),
        },
        "sla_breached" => match num("elapsed_minutes") {
            Some(m) => format!("recorded: {target} breached after {}", minutes(m)),
            None => format!("recorded: {target} breached"),
        },
        "sla_warning" => match num("percent") {
            Some(p) => format!("warned: {target} due soon, {p} % of the time used"),
            None => format!("warned: {target} due soon"),
        },
        "sla_paused" => format!("paused the {} clock", target.to_lowercase()),
        "sla_resumed" => format!("resumed the {} clock", target.to_lowercase()),
        "sla_restarted" => format!("restarted the {} clock", target.to_lowercase()),
        "sla_retargeted" => match num("to_minutes") {
            Some(m) => format!("changed the {} target to {}", target.to_lowercase(), minutes(m)),
            None => format!("changed the {} target", target.to_lowercase()),
        },
        other => words(other),
    }
}

pub(crate) fn entry_view(e: TimelineEntry, with_details: bool) -> EntryView {
    let label = entry_label(&e.kind, &e.data);
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
    /// The group the ticket is restricted to (empty: not restricted)
    pub restricted_to: String,
    pub tags: Vec<String>,
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
        restricted_to: t.restricted_to.unwrap_or_default(),
        tags: t.tags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timeline_entries_read_as_sentences() {
        assert_eq!(minutes(45), "45 min");
        assert_eq!(minutes(60), "1 h");
        assert_eq!(minutes(90), "1 h 30 min");
        assert_eq!(minutes(3 * 1440 + 120), "3 days 2 h");
        let l = entry_label("sla_met", &json!({"target": "first_response", "elapsed_minutes": 12}));
        assert_eq!(l, "recorded: First response met after 12 min");
        let l = entry_label("article_linked", &json!({"article": "KB0000002", "title": "VPN keeps disconnecting"}));
        assert_eq!(l, "linked article KB0000002 \u{201c}VPN keeps disconnecting\u{201d}");
        assert_eq!(
            entry_label("problem_unlinked", &json!({"problem": "PRB0000001"})),
            "unlinked this from problem PRB0000001"
        );
        assert_eq!(entry_label("something_new", &json!({})), "something new", "an unknown kind still reads as words");
        for kind in ["sla_met", "sla_breached", "sla_warning", "sla_paused", "sla_started", "asset_linked", "task_done"]
        {
            assert!(!entry_label(kind, &json!({})).contains('_'), "{kind}");
        }
    }
}
