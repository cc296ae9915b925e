//! Sending a delivery: one attempt per `webhook.deliver` job, signed with HMAC-SHA256 over the
//! timestamp and body, its outcome in the delivery log.

use super::*;
use crate::kernel::jobs::{Handled, SettleWork};
use std::future::Future;
use std::pin::Pin;

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

    /// Runs one `webhook.deliver` job: one attempt at sending its delivery. The attempt is
    /// written to the delivery log when the worker settles its claim.
    pub async fn run_delivery(&self, job: &JobRow) -> Handled {
        let payload: Value = match serde_json::from_str(&job.payload) {
            Ok(p) => p,
            Err(e) => return Handled::from(Err(e.to_string())),
        };
        let Some(id) = payload["delivery_id"].as_i64() else {
            return Handled::from(Err("webhook.deliver without delivery_id".into()));
        };
        let (d, w) = {
            let found = async {
                let mut r = self.db.read().await?;
                let mut c = r.conn();
                let d = store::get_delivery(&mut c, id).await?;
                let w = store::get(&mut c, d.webhook_id).await?;
                Ok::<_, orion_store::StoreError>((d, w))
            };
            match found.await {
                Ok(found) => found,
                // The webhook was removed with its log: nothing to send.
                Err(orion_store::StoreError::NotFound) => return Handled::from(Ok(())),
                Err(e) => return Handled::from(Err(e.to_string())),
            }
        };
        if d.status == "delivered" {
            return Handled::from(Ok(()));
        }
        if !w.enabled {
            let a = AttemptOutcome {
                id,
                status: "cancelled",
                response_code: None,
                response_body: None,
                error: Some("the webhook is disabled".into()),
                duration_ms: None,
                next_attempt_at: None,
                at: self.now(),
            };
            return Handled::with(Ok(()), a);
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
        let now = self.now();
        let next_attempt_at = (status == "retrying").then(|| now + retry_delay_ms(job.attempts));
        metrics::counter!("orion_webhook_deliveries_total", "result" => status).increment(1);
        let result = match &error {
            None => Ok(()),
            Some(e) => {
                tracing::warn!(webhook = %w.name, delivery = id, attempt = job.attempts, error = %e, "webhook delivery failed");
                Err(e.clone())
            }
        };
        let a = AttemptOutcome {
            id,
            status,
            response_code: code,
            response_body: answer,
            error,
            duration_ms,
            next_attempt_at,
            at: now,
        };
        Handled::with(result, a)
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

/// One attempt at a delivery, for the delivery log.
struct AttemptOutcome {
    id: i64,
    status: &'static str,
    response_code: Option<i64>,
    response_body: Option<String>,
    error: Option<String>,
    duration_ms: Option<i64>,
    next_attempt_at: Option<i64>,
    at: i64,
}

impl SettleWork for AttemptOutcome {
    fn apply<'a>(&'a self, c: &'a mut Conn<'_>) -> Pin<Box<dyn Future<Output = AppResult<()>> + Send + 'a>> {
        Box::pin(async move {
            let a = Attempt {
                status: self.status,
                response_code: self.response_code,
                response_body: self.response_body.as_deref(),
                error: self.error.as_deref(),
                duration_ms: self.duration_ms,
                next_attempt_at: self.next_attempt_at,
            };
            Ok(store::record_attempt(c, self.id, &a, self.at).await?)
        })
    }
}

/// What went wrong sending, in words an admin acts on (never the URL's query, which may hold a key).
pub(super) fn describe(e: &reqwest::Error) -> String {
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
