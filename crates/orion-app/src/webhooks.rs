//! Outbound webhooks: ticket events sent to URLs that subscribed to them.
//!
//! Every ticket change writes a timeline entry; the entry's kind names the event
//! (`ticket.created`, `ticket.assigned`, `sla.breached`, …, see [`EVENTS`]). In the same
//! transaction as the change, each enabled webhook that subscribed to the event (and whose
//! group and priority filters the ticket passes) gets a delivery row with its body fixed then,
//! and a durable `webhook.deliver` job: a change that rolls back sends nothing, one that
//! commits is delivered even if the node stops a moment later. The job POSTs the body signed
//! with HMAC-SHA256 and retries failures with the job queue's backoff (30 s doubling, at most
//! an hour between tries, 16 tries over about nine hours); every attempt is in the delivery log, and an admin can
//! send any delivery again.

use crate::kernel::error::{found, invalid};
use crate::kernel::jobs::{JobResult, retry_delay_ms};
use crate::{App, AppError, AppResult, Page};
use orion_domain::{Actor, FieldErrors, Timestamp};
use orion_store::jobs::{JobRow, NewJob};
use orion_store::timeline::Recorded;
use orion_store::webhooks::{self as store, Attempt, DeliveryRow, NewDelivery, NewWebhook, WebhookRow};
use orion_store::{Conn, groups, tickets::TicketView, users};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};
use utoipa::ToSchema;

crate::api_schema::one_of_values!(webhook_events, webhook_events_exact: EVENTS);

/// The job that sends one delivery.
pub const DELIVER_JOB: &str = "webhook.deliver";
/// Generated signing secrets start with this.
pub const SECRET_PREFIX: &str = "whsec_";
/// Every event a webhook can subscribe to.
pub const EVENTS: &[&str] = &[
    "ticket.created",
    "ticket.updated",
    "ticket.assigned",
    "ticket.escalated",
    "ticket.commented",
    "ticket.resolved",
    "ticket.closed",
    "ticket.reopened",
    "sla.warning",
    "sla.breached",
];
/// Tries per delivery before it is marked failed: the pauses 30 s, 1, 2, … 32 min, then an hour
/// each, add up to about nine hours — a receiver down for a night's maintenance loses nothing.
const MAX_ATTEMPTS: i64 = 16;
/// How long one attempt may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a response body the log keeps.
const RESPONSE_KEEP: usize = 2000;

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

/// A timeline entry just written, as the webhooks see it.
pub(crate) struct EntryEvent<'a> {
    pub ticket_id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    /// The timeline entry's kind
    pub kind: &'a str,
    pub visibility: &'a str,
    pub body: &'a str,
    /// The timeline entry's data (JSON text)
    pub data: &'a str,
}

/// The webhooks' subscriber to ticket events: every timeline entry written is offered to the
/// enabled webhooks (`hooks`, from the settings cache: no query unless one subscribes).
pub(crate) async fn react(c: &mut Conn<'_>, hooks: &[WebhookRow], portal: Option<&str>, r: &Recorded) -> AppResult<()> {
    let Some(w) = &r.entry else { return Ok(()) };
    if hooks.is_empty() {
        return Ok(());
    }
    let e = EntryEvent {
        ticket_id: r.ticket_id,
        at: r.at,
        actor_id: w.actor_id,
        kind: &w.kind,
        visibility: &w.visibility,
        body: &w.body,
        data: &w.data,
    };
    emit(c, hooks, portal, &e).await
}

/// Queues a delivery for every webhook of `hooks` that wants `e`, in the caller's transaction.
async fn emit(c: &mut Conn<'_>, hooks: &[WebhookRow], portal: Option<&str>, e: &EntryEvent<'_>) -> AppResult<()> {
    let events = events_for(e.kind, e.data);
    if events.is_empty() {
        return Ok(());
    }
    if !hooks.iter().any(|h| events.iter().any(|ev| subscribed(h, ev))) {
        return Ok(());
    }
    let ticket = orion_store::tickets::get(c, e.ticket_id).await?;
    let actor = match e.actor_id {
        Some(id) => Some(users::get(c, id).await?),
        None => None,
    };
    for event in events {
        let doc = event_document(event, e, &ticket, actor.as_ref(), portal);
        for h in hooks.iter().filter(|h| subscribed(h, event) && wants_ticket(h, &ticket)) {
            let body = render(&h.format, &doc, &ticket, portal);
            queue(c, h.id, event, Some(ticket.id), &body, None, e.at).await?;
            metrics::counter!("orion_webhook_events_total", "event" => event).increment(1);
        }
    }
    Ok(())
}

fn subscribed(h: &WebhookRow, event: &str) -> bool {
    serde_json::from_str::<Vec<String>>(&h.events).unwrap_or_default().iter().any(|e| e == event || e == "*")
}

fn wants_ticket(h: &WebhookRow, t: &TicketView) -> bool {
    let groups: Vec<i64> = serde_json::from_str(&h.group_ids).unwrap_or_default();
    let priorities: Vec<i64> = serde_json::from_str(&h.priorities).unwrap_or_default();
    (groups.is_empty() || groups.contains(&t.assignment_group_id))
        && (priorities.is_empty() || priorities.contains(&t.priority))
}

async fn queue(
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
    let payload = json!({ "delivery_id": id }).to_string();
    let job =
        NewJob { kind: DELIVER_JOB, payload: &payload, run_at: now, dedupe_key: None, max_attempts: MAX_ATTEMPTS };
    orion_store::jobs::enqueue(c, &job, now).await?;
    Ok(id)
}

/// A link to the ticket, when the portal address is set.
fn ticket_url(portal: Option<&str>, number: &str) -> Option<String> {
    portal.map(|p| format!("{p}/tickets/{number}"))
}

/// The event in Orion's own JSON shape (the `json` format's body).
fn event_document(
    event: &str,
    e: &EntryEvent<'_>,
    t: &TicketView,
    actor: Option<&users::UserRow>,
    portal: Option<&str>,
) -> Value {
    let ts = |ms: Option<i64>| ms.map(|m| Timestamp(m).to_rfc3339());
    let mut doc = json!({
        "event": event,
        "occurred_at": Timestamp(e.at).to_rfc3339(),
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
        "change": serde_json::from_str::<Value>(e.data).unwrap_or(Value::Null),
    });
    if event == "ticket.commented" {
        // Internal notes are announced without their text, and a comment's entry data (mail
        // headers, HTML, quoted text) stays home: a webhook may feed a chat channel.
        let body = (e.visibility == "public").then_some(e.body);
        doc["comment"] = json!({"kind": e.kind, "visibility": e.visibility, "body": body});
        doc["change"] = Value::Null;
    }
    doc
}

/// One line a person reads in a chat channel.
fn headline(doc: &Value) -> String {
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
fn render(format: &str, doc: &Value, t: &TicketView, portal: Option<&str>) -> String {
    let title = format!("P{} · {}", t.priority, t.title);
    let url = ticket_url(portal, &t.number);
    chat_body(format, doc, &headline(doc), &title, url.as_deref())
}

fn chat_body(format: &str, doc: &Value, headline: &str, detail: &str, url: Option<&str>) -> String {
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

/// HMAC-SHA256 (RFC 2104) of `msg` under `key`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The `X-Orion-Signature` value for a body sent at `timestamp` (Unix seconds):
/// `sha256=` and the hex HMAC-SHA256 of `"{timestamp}.{body}"` under the webhook's secret.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mac = hmac_sha256(secret.as_bytes(), format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", mac.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// `POST /api/v1/webhooks`, `PUT /api/v1/webhooks/{id}`
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: Option<String>,
    /// `https://…` (or `http://…`) that receives a POST per event
    #[schema(min_length = 1, pattern = "\\S")]
    pub url: Option<String>,
    /// Event names (see the list in the docs), or `["*"]` for all
    pub events: Option<Vec<String>>,
    /// Only tickets in these groups (empty or left out: every group)
    pub assignment_groups: Option<Vec<String>>,
    /// Only tickets of these priorities, `P1`…`P5` (empty or left out: every priority)
    pub priorities: Option<Vec<String>>,
    /// `json` (default: Orion's event document), `slack` (`{"text": …}`, also Mattermost and
    /// Rocket.Chat) or `teams` (an Adaptive Card message for a Teams workflow)
    pub format: Option<String>,
    /// The signing secret; left out on creation, Orion makes one. Write-only.
    pub secret: Option<String>,
    /// Default true
    pub enabled: Option<bool>,
}

/// A webhook as admins see it (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub assignment_groups: Vec<String>,
    pub priorities: Vec<String>,
    pub format: String,
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A webhook with its signing secret: shown once, at creation and when the secret is replaced.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookWithSecret {
    pub webhook: Webhook,
    pub secret: String,
}

/// One delivery in the log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    pub event: String,
    pub ticket: Option<String>,
    /// `pending`, `retrying`, `delivered`, `failed` (gave up) or `cancelled` (webhook disabled)
    pub status: String,
    pub attempts: i64,
    pub response_code: Option<i64>,
    /// The start of the receiver's answer
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub duration_ms: Option<i64>,
    /// The delivery this one sends again
    pub redelivery_of: Option<i64>,
    /// What is sent
    pub request_body: String,
    pub created_at: String,
    pub last_attempt_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
}

impl From<DeliveryRow> for Delivery {
    fn from(d: DeliveryRow) -> Self {
        let ts = |ms: Option<i64>| ms.map(|m| Timestamp(m).to_rfc3339());
        let waiting = matches!(d.status.as_str(), "pending" | "retrying");
        Self {
            id: d.id,
            webhook_id: d.webhook_id,
            event: d.event,
            ticket: d.ticket_number,
            status: d.status,
            attempts: d.attempts,
            response_code: d.response_code,
            response_body: d.response_body,
            error: d.error,
            duration_ms: d.duration_ms,
            redelivery_of: d.redelivery_of,
            request_body: d.body,
            created_at: Timestamp(d.created_at).to_rfc3339(),
            last_attempt_at: ts(d.last_attempt_at),
            next_attempt_at: if waiting { ts(d.next_attempt_at) } else { None },
            delivered_at: ts(d.delivered_at),
        }
    }
}

/// A webhook's settings, checked.
struct Valid {
    name: String,
    url: String,
    events: Vec<String>,
    group_ids: Vec<i64>,
    priorities: Vec<i64>,
    format: String,
    secret: Option<String>,
    enabled: bool,
}

fn check_url(errs: &mut FieldErrors, url: &str) {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            if !u.username().is_empty() || u.password().is_some() {
                errs.push("url", "must not hold a user name or password; the signature authenticates Orion");
            }
        }
        Ok(_) => errs.push("url", "must be an http:// or https:// address with a host"),
        Err(e) => errs.push("url", format!("is not a URL: {e}")),
    }
}

async fn validate(c: &mut Conn<'_>, input: &WebhookInput, current: Option<&WebhookRow>) -> AppResult<Valid> {
    let mut errs = FieldErrors::new();
    let name = input.name.clone().or_else(|| current.map(|w| w.name.clone())).unwrap_or_default().trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        errs.push("name", "is required, at most 100 characters");
    }
    let url = input.url.clone().or_else(|| current.map(|w| w.url.clone())).unwrap_or_default().trim().to_string();
    if url.is_empty() {
        errs.push("url", "is required");
    } else {
        check_url(&mut errs, &url);
    }
    let events = match (&input.events, current) {
        (Some(e), _) => e.iter().map(|s| s.trim().to_string()).collect(),
        (None, Some(w)) => serde_json::from_str(&w.events).unwrap_or_default(),
        (None, None) => Vec::new(),
    };
    if events.is_empty() {
        errs.push("events", format!("name at least one of {} (or \"*\")", EVENTS.join(", ")));
    }
    for (i, e) in events.iter().enumerate() {
        if e != "*" && !EVENTS.contains(&e.as_str()) {
            errs.push(format!("events[{i}]"), format!("unknown event {e:?}; one of {}", EVENTS.join(", ")));
        }
    }
    let mut group_ids = Vec::new();
    match &input.assignment_groups {
        Some(names) => {
            let all = groups::list(c).await?;
            for (i, n) in names.iter().enumerate() {
                match all.iter().find(|g| g.name.eq_ignore_ascii_case(n.trim())) {
                    Some(g) => group_ids.push(g.id),
                    None => errs.push(format!("assignment_groups[{i}]"), format!("no group named {n:?}")),
                }
            }
        }
        None => group_ids = current.map(|w| serde_json::from_str(&w.group_ids).unwrap_or_default()).unwrap_or_default(),
    }
    let mut priorities = Vec::new();
    match &input.priorities {
        Some(ps) => {
            for (i, p) in ps.iter().enumerate() {
                let n = p.trim().trim_start_matches(['P', 'p']).parse::<i64>().ok().filter(|n| (1..=5).contains(n));
                match n {
                    Some(n) => priorities.push(n),
                    None => errs.push(format!("priorities[{i}]"), format!("{p:?} is not one of P1…P5")),
                }
            }
        }
        None => {
            priorities = current.map(|w| serde_json::from_str(&w.priorities).unwrap_or_default()).unwrap_or_default()
        }
    }
    let format = input.format.clone().or_else(|| current.map(|w| w.format.clone())).unwrap_or_else(|| "json".into());
    if !matches!(format.as_str(), "json" | "slack" | "teams") {
        errs.push("format", "must be json, slack or teams");
    }
    let secret = input.secret.as_ref().map(|s| s.trim().to_string());
    if secret.as_ref().is_some_and(|s| s.len() < 16 || s.len() > 200) {
        errs.push("secret", "must be 16 to 200 characters");
    }
    errs.into_result()?;
    let enabled = input.enabled.or(current.map(|w| w.enabled)).unwrap_or(true);
    Ok(Valid { name, url, events, group_ids, priorities, format, secret, enabled })
}

impl App {
    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(TIMEOUT)
                .connect_timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("Orion-Webhook/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default()
        })
    }
}

async fn view_by_id(c: &mut Conn<'_>, id: i64) -> AppResult<Webhook> {
    let w = found(store::get(c, id).await, "webhook")?;
    Ok(view(&groups::list(c).await?, w))
}

/// A webhook as shown, its group filter by name (`all`: every group).
fn view(all: &[groups::GroupRow], w: WebhookRow) -> Webhook {
    let ids: Vec<i64> = serde_json::from_str(&w.group_ids).unwrap_or_default();
    let assignment_groups = ids.iter().filter_map(|id| all.iter().find(|g| g.id == *id)).map(|g| g.name.clone());
    let priorities: Vec<i64> = serde_json::from_str(&w.priorities).unwrap_or_default();
    Webhook {
        id: w.id,
        name: w.name,
        url: w.url,
        events: serde_json::from_str(&w.events).unwrap_or_default(),
        assignment_groups: assignment_groups.collect(),
        priorities: priorities.iter().map(|p| format!("P{p}")).collect(),
        format: w.format,
        enabled: w.enabled,
        created_at: Timestamp(w.created_at).to_rfc3339(),
        updated_at: Timestamp(w.updated_at).to_rfc3339(),
    }
}

impl App {
    /// Subscribes a URL to ticket events (admins); the signing secret is in the answer, once.
    pub async fn create_webhook(&self, actor: &Actor, input: WebhookInput) -> AppResult<WebhookWithSecret> {
        crate::kernel::access::require_admin(actor, "add webhooks")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let v = validate(&mut c, &input, None).await?;
        let secret = v.secret.clone().unwrap_or_else(|| crate::auth::new_token(SECRET_PREFIX));
        let id = self.write_webhook(&mut c, None, &v, &secret, actor.id.0, now).await?;
        let webhook = view_by_id(&mut c, id).await?;
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(WebhookWithSecret { webhook, secret })
    }

    /// Changes a webhook (admins); fields left out keep their value, the secret included.
    pub async fn update_webhook(&self, actor: &Actor, id: i64, input: WebhookInput) -> AppResult<Webhook> {
        crate::kernel::access::require_admin(actor, "change webhooks")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let current = found(store::get(&mut c, id).await, "webhook")?;
        let v = validate(&mut c, &input, Some(&current)).await?;
        let secret = v.secret.clone().unwrap_or_else(|| current.secret.clone());
        self.write_webhook(&mut c, Some(id), &v, &secret, actor.id.0, now).await?;
        let webhook = view_by_id(&mut c, id).await?;
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(webhook)
    }

    async fn write_webhook(
        &self,
        c: &mut Conn<'_>,
        id: Option<i64>,
        v: &Valid,
        secret: &str,
        by: i64,
        now: i64,
    ) -> AppResult<i64> {
        let (events, group_ids, priorities) = (json!(v.events), json!(v.group_ids), json!(v.priorities));
        let (events, group_ids, priorities) = (events.to_string(), group_ids.to_string(), priorities.to_string());
        let w = NewWebhook {
            name: &v.name,
            url: &v.url,
            secret,
            events: &events,
            group_ids: &group_ids,
            priorities: &priorities,
            format: &v.format,
            enabled: v.enabled,
        };
        let written = match id {
            None => store::insert(c, &w, by, now).await,
            Some(id) => store::update(c, id, &w, now).await.map(|()| id),
        };
        match written {
            Err(orion_store::StoreError::Duplicate) => {
                Err(invalid("name", format!("a webhook named {:?} exists", v.name)))
            }
            other => Ok(other?),
        }
    }

    /// Replaces a webhook's signing secret with a new one (admins); the old one stops at once.
    pub async fn rotate_webhook_secret(&self, actor: &Actor, id: i64) -> AppResult<WebhookWithSecret> {
        crate::kernel::access::require_admin(actor, "replace webhook secrets")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let secret = crate::auth::new_token(SECRET_PREFIX);
        found(store::set_secret(&mut c, id, &secret, now).await, "webhook")?;
        let webhook = view_by_id(&mut c, id).await?;
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(WebhookWithSecret { webhook, secret })
    }

    /// Removes a webhook and its delivery log (admins); queued deliveries are dropped.
    pub async fn delete_webhook(&self, actor: &Actor, id: i64) -> AppResult<()> {
        crate::kernel::access::require_admin(actor, "remove webhooks")?;
        let mut tx = self.db.begin().await?;
        found(store::delete(&mut tx.conn(), id).await, "webhook")?;
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(())
    }

    pub async fn list_webhooks(&self, actor: &Actor) -> AppResult<Vec<Webhook>> {
        crate::kernel::access::require_admin(actor, "see webhooks")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let all = groups::list(&mut c).await?;
        Ok(store::list(&mut c).await?.into_iter().map(|w| view(&all, w)).collect())
    }

    pub async fn get_webhook(&self, actor: &Actor, id: i64) -> AppResult<Webhook> {
        crate::kernel::access::require_admin(actor, "see webhooks")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        view_by_id(&mut c, id).await
    }

    /// A webhook's delivery log, newest first (admins); `failing`: only retrying and failed ones.
    pub async fn webhook_deliveries(
        &self,
        actor: &Actor,
        id: i64,
        failing: bool,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<Delivery>> {
        crate::kernel::access::require_admin(actor, "see webhook deliveries")?;
        let limit = crate::kernel::paging::parse_limit(limit)?;
        let before = crate::kernel::paging::parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        found(store::get(&mut c, id).await, "webhook")?;
        let mut rows = store::list_deliveries(&mut c, id, failing, before, limit + 1).await?;
        let next_cursor = crate::kernel::paging::keyset_cursor(&mut rows, limit, |d| d.id);
        Ok(Page { items: rows.into_iter().map(Into::into).collect(), next_cursor })
    }

    pub async fn webhook_delivery(&self, actor: &Actor, id: i64, delivery: i64) -> AppResult<Delivery> {
        crate::kernel::access::require_admin(actor, "see webhook deliveries")?;
        let mut r = self.db.read().await?;
        let d = found(store::get_delivery(&mut r.conn(), delivery).await, "delivery")?;
        if d.webhook_id != id {
            return Err(AppError::NotFound("delivery"));
        }
        Ok(d.into())
    }

    /// Sends a delivery's body again as a new delivery (admins), whatever became of the first.
    pub async fn redeliver(&self, actor: &Actor, id: i64, delivery: i64) -> AppResult<Delivery> {
        crate::kernel::access::require_admin(actor, "redeliver webhooks")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let d = found(store::get_delivery(&mut c, delivery).await, "delivery")?;
        if d.webhook_id != id {
            return Err(AppError::NotFound("delivery"));
        }
        let w = store::get(&mut c, id).await?;
        if !w.enabled {
            return Err(AppError::Conflict(format!("webhook {:?} is disabled; enable it first", w.name)));
        }
        let new = queue(&mut c, id, &d.event, d.ticket_id, &d.body, Some(d.id), now).await?;
        let row = store::get_delivery(&mut c, new).await?;
        self.commit(tx).await?;
        self.job_wake.notify_one();
        Ok(row.into())
    }

    /// Queues a `ping` event to a webhook (admins), to check the receiver and its signature check.
    pub async fn ping_webhook(&self, actor: &Actor, id: i64) -> AppResult<Delivery> {
        crate::kernel::access::require_admin(actor, "test webhooks")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let w = found(store::get(&mut c, id).await, "webhook")?;
        let doc = json!({"event": "ping", "occurred_at": Timestamp(now).to_rfc3339(), "webhook": w.name});
        let line = format!("Orion webhook \"{}\" is connected", w.name);
        let body = chat_body(&w.format, &doc, &line, "Ticket events will arrive here.", None);
        let new = queue(&mut c, id, "ping", None, &body, None, now).await?;
        let row = store::get_delivery(&mut c, new).await?;
        self.commit(tx).await?;
        self.job_wake.notify_one();
        Ok(row.into())
    }

    /// Runs one `webhook.deliver` job: one attempt at sending its delivery.
    pub async fn run_delivery(&self, job: &JobRow) -> JobResult {
        let payload: Value = serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
        let id = payload["delivery_id"].as_i64().ok_or("webhook.deliver without delivery_id")?;
        let (d, w) = {
            let mut r = self.db.read().await.map_err(|e| e.to_string())?;
            let mut c = r.conn();
            match store::get_delivery(&mut c, id).await {
                Ok(d) => {
                    let w = store::get(&mut c, d.webhook_id).await.map_err(|e| e.to_string())?;
                    (d, w)
                }
                // The webhook was removed with its log: nothing to send.
                Err(orion_store::StoreError::NotFound) => return Ok(()),
                Err(e) => return Err(e.to_string()),
            }
        };
        if d.status == "delivered" {
            return Ok(());
        }
        if !w.enabled {
            let a = Attempt {
                status: "cancelled",
                response_code: None,
                response_body: None,
                error: Some("the webhook is disabled"),
                duration_ms: None,
                next_attempt_at: None,
            };
            return self.record_attempt(id, &a).await;
        }
        let sent_at = self.now();
        let started = Instant::now();
        let outcome = self.send(&w, &d, sent_at / 1000).await;
        let duration_ms = Some(started.elapsed().as_millis() as i64);
        let (code, answer, error) = match outcome {
            Ok((code, answer)) if (200..300).contains(&code) => (Some(code), Some(answer), None),
            Ok((code, answer)) => (Some(code), Some(answer), Some(format!("the receiver answered HTTP {code}"))),
            Err(e) => (None, None, Some(e)),
        };
        let last = job.attempts >= job.max_attempts;
        let status = match (&error, last) {
            (None, _) => "delivered",
            (Some(_), false) => "retrying",
            (Some(_), true) => "failed",
        };
        let next_attempt_at = (status == "retrying").then(|| self.now() + retry_delay_ms(job.attempts));
        let a = Attempt {
            status,
            response_code: code,
            response_body: answer.as_deref(),
            error: error.as_deref(),
            duration_ms,
            next_attempt_at,
        };
        self.record_attempt(id, &a).await?;
        let result = match status {
            "delivered" => "delivered",
            "retrying" => "retrying",
            _ => "failed",
        };
        metrics::counter!("orion_webhook_deliveries_total", "result" => result).increment(1);
        match error {
            None => Ok(()),
            Some(e) => {
                tracing::warn!(webhook = %w.name, delivery = id, attempt = job.attempts, error = %e, "webhook delivery failed");
                Err(e)
            }
        }
    }

    async fn record_attempt(&self, id: i64, a: &Attempt<'_>) -> JobResult {
        let now = self.now();
        let mut tx = self.db.begin().await.map_err(|e| e.to_string())?;
        store::record_attempt(&mut tx.conn(), id, a, now).await.map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())
    }

    /// POSTs a delivery; the status code and the start of the answer, or why nothing came back.
    async fn send(&self, w: &WebhookRow, d: &DeliveryRow, timestamp: i64) -> Result<(i64, String), String> {
        let response = self
            .http()
            .post(&w.url)
            .header("content-type", "application/json")
            .header("x-orion-event", &d.event)
            .header("x-orion-delivery", d.id.to_string())
            .header("x-orion-timestamp", timestamp.to_string())
            .header("x-orion-signature", signature(&w.secret, timestamp, &d.body))
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let code = i64::from(response.status().as_u16());
        let text = response.text().await.unwrap_or_default();
        Ok((code, crate::kernel::limits::truncate(&text, RESPONSE_KEEP).to_string()))
    }
}

/// What went wrong sending, in words an admin acts on (never the URL's query, which may hold a key).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_request() {
        "the request failed"
    } else {
        "failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() { what.to_string() } else { format!("{what}: {detail}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test cases 1, 2 and 6 of RFC 4231 (a key longer than the block is hashed first).
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn signature_covers_timestamp_and_body() {
        let s = signature("whsec_test", 1_700_000_000, "{}");
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64);
        assert_ne!(s, signature("whsec_test", 1_700_000_001, "{}"));
        assert_ne!(s, signature("whsec_test", 1_700_000_000, "{ }"));
        assert_ne!(s, signature("whsec_other", 1_700_000_000, "{}"));
    }

    #[test]
    fn timeline_kinds_map_to_events() {
        assert_eq!(events_for("created", "{}"), ["ticket.created"]);
        let moved = r#"{"changes":[{"field":"assignment_group","from":"Service Desk","to":"Network"}]}"#;
        assert_eq!(events_for("fields_changed", moved), ["ticket.updated", "ticket.assigned"]);
        let retitled = r#"{"changes":[{"field":"title","from":"a","to":"b"}]}"#;
        assert_eq!(events_for("fields_changed", retitled), ["ticket.updated"]);
        assert_eq!(events_for("work_note", "{}"), ["ticket.commented"]);
        assert_eq!(events_for("sla_warning", "{}"), ["sla.warning"]);
        assert_eq!(events_for("sla_breached", "{}"), ["sla.breached"]);
        assert_eq!(events_for("sla_breached", r#"{"announced":false}"#), ["sla.breached"]);
        assert!(events_for("sla_breached", r#"{"target":"resolution","announced":true}"#).is_empty());
        assert_eq!(events_for("escalated", "{}"), ["ticket.escalated"]);
        assert!(events_for("sla_started", "{}").is_empty(), "bookkeeping entries send nothing");
        for kind in ["created", "fields_changed", "escalated", "comment", "resolved", "closed", "reopened"] {
            for e in events_for(kind, moved) {
                assert!(EVENTS.contains(&e), "{e} is a documented event");
            }
        }
    }

    #[test]
    fn chat_formats() {
        let doc = json!({"event": "ticket.escalated", "ticket": {"number": "INC0000007", "assignment_group": "Network"},
                         "actor": {"name": "Ana"}});
        let line = headline(&doc);
        assert_eq!(line, "INC0000007 escalated to Network by Ana");
        let slack: Value = serde_json::from_str(&chat_body(
            "slack",
            &doc,
            &line,
            "P2 · VPN down",
            Some("https://h/tickets/INC0000007"),
        ))
        .unwrap();
        assert_eq!(
            slack["text"],
            "<https://h/tickets/INC0000007|INC0000007> escalated to Network by Ana\nP2 · VPN down"
        );
        let teams: Value =
            serde_json::from_str(&chat_body("teams", &doc, &line, "P2 · VPN down", Some("https://h/t"))).unwrap();
        let card = &teams["attachments"][0]["content"];
        assert_eq!(teams["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(
            (card["type"].as_str(), card["body"][0]["text"].as_str()),
            (Some("AdaptiveCard"), Some(line.as_str()))
        );
        assert_eq!(card["actions"][0]["url"], "https://h/t");
    }
}
