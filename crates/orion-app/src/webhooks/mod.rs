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
use crate::kernel::jobs::retry_delay_ms;
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

mod delivery;
mod events;

pub use delivery::{hmac_sha256, signature};
pub(crate) use events::react;
use events::*;

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
