//! What a ticket event sends: the events a timeline entry stands for, the webhooks subscribed
//! to them, and the delivery each gets in the event's transaction, with its body fixed then.

use super::*;
use orion_store::timeline::Written;

/// The events a timeline entry of `kind` (with its JSON `data`) stands for.
pub(crate) fn events_for(kind: &str, data: &str) -> Vec<&'static str> {
    match kind {
        "created" => vec!["ticket.created"],
        "fields_changed" => {
            let data: Value = serde_json::from_str(data).unwrap_or_default();
            let assigned = data["changes"].as_array().is_some_and(|changes| {
                changes.iter().any(|c| matches!(c["field"].as_str(), Some("assignee" | "assignment_group")))
            });
            if assigned { vec!["ticket.updated", "ticket.assigned"] } else { vec!["ticket.updated"] }
        }
        "state_changed" | "article_linked" => vec!["ticket.updated"],
        "escalated" => vec!["ticket.escalated"],
        "comment" | "work_note" | "phone_call" | "email" => vec!["ticket.commented"],
        "resolved" => vec!["ticket.resolved"],
        "closed" => vec!["ticket.closed"],
        "reopened" => vec!["ticket.reopened"],
        "sla_warning" => vec!["sla.warning"],
        // A clock stopped after its breach was announced is no new breach.
        "sla_breached" if serde_json::from_str::<Value>(data).is_ok_and(|d| d["announced"] == true) => Vec::new(),
        "sla_breached" => vec!["sla.breached"],
        _ => Vec::new(),
    }
}

/// The webhooks' subscriber to ticket events: every timeline entry written is offered to the
/// enabled webhooks (`hooks`, from the settings cache: no query unless one subscribes).
pub(crate) async fn react(c: &mut Conn<'_>, hooks: &[WebhookRow], portal: Option<&str>, r: &Recorded) -> AppResult<()> {
    let Some(e) = &r.entry else { return Ok(()) };
    if hooks.is_empty() {
        return Ok(());
    }
    let events = events_for(&e.kind, &e.data);
    if events.is_empty() {
        return Ok(());
    }
    if !hooks.iter().any(|h| events.iter().any(|ev| subscribed(h, ev))) {
        return Ok(());
    }
    let ticket = orion_store::tickets::get(c, r.ticket_id).await?;
    let actor = match e.actor_id {
        Some(id) => Some(users::get(c, id).await?),
        None => None,
    };
    for event in events {
        let doc = event_document(event, (r.at, e), &ticket, actor.as_ref(), portal);
        for h in hooks.iter().filter(|h| subscribed(h, event) && wants_ticket(h, &ticket)) {
            let body = render(&h.format, &doc, &ticket, portal);
            queue(c, h.id, event, Some(ticket.id), &body, None, r.at).await?;
            metrics::counter!("orion_webhook_events_total", "event" => event).increment(1);
        }
    }
    Ok(())
}

pub(super) fn subscribed(h: &WebhookRow, event: &str) -> bool {
    serde_json::from_str::<Vec<String>>(&h.events).unwrap_or_default().iter().any(|e| e == event || e == "*")
}

/// Does the webhook take events of `t`? A restricted ticket goes only to webhooks limited to
/// its group (a Security team's own channel), never to a general one.
pub(super) fn wants_ticket(h: &WebhookRow, t: &TicketView) -> bool {
    let groups: Vec<i64> = serde_json::from_str(&h.group_ids).unwrap_or_default();
    let priorities: Vec<i64> = serde_json::from_str(&h.priorities).unwrap_or_default();
    let restricted_ok = t.visibility_group_id.is_none_or(|g| groups.contains(&g));
    restricted_ok
        && (groups.is_empty() || groups.contains(&t.assignment_group_id))
        && (priorities.is_empty() || priorities.contains(&t.priority))
}

pub(super) async fn queue(
    c: &mut Conn<'_>,
    webhook_id: i64,
    event: &str,
    ticket_id: Option<i64>,
    body: &str,
    redelivery_of: Option<i64>,
    now: i64,
) -> AppResult<i64> {
    let d = NewDelivery { webhook_id, event, ticket_id, body, redelivery_of };
    let id = store::insert_delivery(c, &d, now).await?;
    // The ticket keeps its deliveries in order among the job worker's concurrent work.
    let payload = match ticket_id {
        Some(t) => json!({ "delivery_id": id, "ticket_id": t }),
        None => json!({ "delivery_id": id }),
    }
    .to_string();
    let job =
        NewJob { kind: DELIVER_JOB, payload: &payload, run_at: now, dedupe_key: None, max_attempts: MAX_ATTEMPTS };
    orion_store::jobs::enqueue(c, &job, now).await?;
    Ok(id)
}

/// A link to the ticket, when the portal address is set.
pub(super) fn ticket_url(portal: Option<&str>, number: &str) -> Option<String> {
    portal.map(|p| format!("{p}/tickets/{number}"))
}

/// The event in Orion's own JSON shape (the `json` format's body).
pub(super) fn event_document(
    event: &str,
    (at, e): (i64, &Written),
    t: &TicketView,
    actor: Option<&users::UserRow>,
    portal: Option<&str>,
) -> Value {
    let ts = |ms: Option<i64>| ms.map(|m| Timestamp(m).to_rfc3339());
    let mut doc = json!({
        "event": event,
        "occurred_at": Timestamp(at).to_rfc3339(),
        "ticket": {
            "number": t.number, "kind": t.kind, "title": t.title, "state": t.state,
            "pending_reason": t.pending_reason, "priority": format!("P{}", t.priority),
            "impact": t.impact, "urgency": t.urgency, "channel": t.channel, "category": t.category_path,
            "assignment_group": t.assignment_group_name, "assignee": t.assignee_email,
            "assignee_name": t.assignee_name, "requester": t.requester_email, "requester_name": t.requester_name,
            "escalation_count": t.escalation_count, "reopen_count": t.reopen_count,
            "resolution_code": t.resolution_code,
            "created_at": Timestamp(t.created_at).to_rfc3339(), "updated_at": Timestamp(t.updated_at).to_rfc3339(),
            "resolved_at": ts(t.resolved_at), "url": ticket_url(portal, &t.number),
        },
        "actor": actor.map(|a| json!({"name": a.name, "email": a.email})),
        "change": serde_json::from_str::<Value>(&e.data).unwrap_or(Value::Null),
    });
    if event == "ticket.commented" {
        // Internal notes are announced without their text, and a comment's entry data (mail
        // headers, HTML, quoted text) stays home: a webhook may feed a chat channel.
        let body = (e.visibility == "public").then_some(e.body.as_str());
        doc["comment"] = json!({"kind": e.kind, "visibility": e.visibility, "body": body});
        doc["change"] = Value::Null;
    }
    doc
}

/// One line a person reads in a chat channel.
pub(super) fn headline(doc: &Value) -> String {
    let t = &doc["ticket"];
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let number = s(&t["number"]);
    let by = doc["actor"]["name"].as_str().map(|n| format!(" by {n}")).unwrap_or_default();
    let change = &doc["change"];
    match doc["event"].as_str().unwrap_or("") {
        "ticket.created" => {
            format!("New {} {number} ({}) for {}", s(&t["kind"]), s(&t["priority"]), s(&t["assignment_group"]))
        }
        "ticket.assigned" => {
            let who = t["assignee_name"].as_str().map(|n| format!("{n}, ")).unwrap_or_default();
            format!("{number} assigned to {who}{}{by}", s(&t["assignment_group"]))
        }
        "ticket.escalated" => format!("{number} escalated to {}{by}", s(&t["assignment_group"])),
        "ticket.commented" => {
            let what = if doc["comment"]["visibility"] == "public" { "commented on" } else { "added a note to" };
            let who = doc["actor"]["name"].as_str().unwrap_or("Orion");
            format!("{who} {what} {number}")
        }
        "ticket.resolved" => format!("{number} resolved ({}){by}", s(&t["resolution_code"])),
        "ticket.closed" => format!("{number} closed"),
        "ticket.reopened" => format!("{number} reopened{by}"),
        "sla.warning" => format!(
            "{number}: {} SLA at {}%, due {}",
            s(&change["target"]),
            change["percent"].as_i64().unwrap_or(0),
            s(&change["due"])
        ),
        "sla.breached" => format!("{number}: {} SLA breached (was due {})", s(&change["target"]), s(&change["due"])),
        _ => format!("{number} updated{by} ({})", s(&t["state"])),
    }
}

/// The body sent for `doc` in a webhook's `format`.
pub(super) fn render(format: &str, doc: &Value, t: &TicketView, portal: Option<&str>) -> String {
    let title = format!("P{} · {}", t.priority, t.title);
    let url = ticket_url(portal, &t.number);
    chat_body(format, doc, &headline(doc), &title, url.as_deref())
}

pub(super) fn chat_body(format: &str, doc: &Value, headline: &str, detail: &str, url: Option<&str>) -> String {
    match format {
        "slack" => {
            let number = doc["ticket"]["number"].as_str().unwrap_or("");
            let head = match url {
                Some(u) if !number.is_empty() => headline.replacen(number, &format!("<{u}|{number}>"), 1),
                _ => headline.to_string(),
            };
            json!({ "text": format!("{head}\n{detail}") }).to_string()
        }
        "teams" => {
            let mut card = json!({
                "type": "AdaptiveCard",
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": headline, "weight": "Bolder", "wrap": true},
                    {"type": "TextBlock", "text": detail, "wrap": true},
                ],
            });
            if let Some(u) = url {
                card["actions"] = json!([{"type": "Action.OpenUrl", "title": "Open in Orion", "url": u}]);
            }
            json!({
                "type": "message",
                "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card}],
            })
            .to_string()
        }
        _ => doc.to_string(),
    }
}
