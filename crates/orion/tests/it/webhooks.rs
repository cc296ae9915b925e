//! Outbound webhooks over HTTP, on SQLite and PostgreSQL: ticket events delivered to a local HTTP
//! receiver (a stand-in for a chat service or an automation endpoint), signed, filtered, retried,
//! logged and redelivered.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode as AxStatus};
use orion_testkit::{Engine, TestApp, engine_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

engine_tests!(ticket_events_are_signed_filtered_and_delivered, failed_deliveries_retry_give_up_and_redeliver);

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Got {
    path: String,
    pub event: String,
    delivery: String,
    timestamp: i64,
    signature: String,
    body: Value,
    raw: String,
}

/// A local HTTP endpoint that records what it is sent and answers with scripted status codes
/// (200 once the script is used up).
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    pub(crate) async fn start() -> (Receiver, String) {
        let r = Receiver::default();
        let app = axum::Router::new().route("/{*path}", axum::routing::post(receive)).with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, base)
    }

    pub(crate) fn take(&self) -> Vec<Got> {
        std::mem::take(&mut *self.got.lock().unwrap())
    }

    fn answer(&self, codes: &[u16]) {
        self.answers.lock().unwrap().extend(codes);
    }
}

async fn receive(State(r): State<Receiver>, Path(path): Path<String>, headers: HeaderMap, body: String) -> AxStatus {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    r.got.lock().unwrap().push(Got {
        path,
        event: h("x-orion-event"),
        delivery: h("x-orion-delivery"),
        timestamp: h("x-orion-timestamp").parse().unwrap_or(0),
        signature: h("x-orion-signature"),
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        raw: body,
    });
    let code = r.answers.lock().unwrap().pop_front().unwrap_or(200);
    AxStatus::from_u16(code).unwrap()
}

struct Desk {
    t: TestApp,
    admin: String,
    l1: String,
}

async fn desk(engine: Engine) -> Option<Desk> {
    let t = TestApp::spawn(engine).await?;
    let admin = t.bootstrap_admin("admin@example.com").await;
    for (name, tier) in [("Service Desk", 1), ("Network", 2)] {
        let (s, b) = t.post(&admin, "/api/v1/groups", json!({"name": name, "tier": tier})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let l1 = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    t.user(&admin, "nina@example.com", "agent", &["Network"]).await;
    let (s, b) = t
        .put(
            &admin,
            "/api/v1/settings/mail",
            json!({"addresses": ["help@example.com"], "portal_url": "https://help.example.com"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    Some(Desk { t, admin, l1 })
}

/// Runs due jobs (deliveries among them) until nothing is left due now.
pub(crate) async fn run_jobs(t: &TestApp) {
    orion_app::jobs::standard_worker(t.app.clone(), "test").run_due().await.unwrap();
}

pub(crate) fn check_signature(g: &Got, secret: &str) {
    assert_eq!(g.signature, orion_app::webhooks::signature(secret, g.timestamp, &g.raw), "signature of {}", g.event);
    assert_ne!(g.signature, orion_app::webhooks::signature("another secret 123", g.timestamp, &g.raw));
}

async fn ticket_events_are_signed_filtered_and_delivered(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let (rx, base) = Receiver::start().await;

    // Only admins manage webhooks; bad settings are refused naming each field, and nothing is written.
    let hook = json!({"name": "automation", "url": format!("{base}/json"), "events": ["*"]});
    assert_eq!(t.post(&d.l1, "/api/v1/webhooks", hook.clone()).await.0, StatusCode::FORBIDDEN);
    let bad = json!({"name": "bad", "url": "ftp://files.example.com/", "events": ["ticket.created", "ticket.exploded"],
                     "priorities": ["P9"], "format": "xml", "assignment_groups": ["Nowhere"], "secret": "short"});
    let (s, b) = t.post(&d.admin, "/api/v1/webhooks", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let fields = &b["error"]["fields"];
    for f in ["url", "events[1]", "priorities[0]", "format", "assignment_groups[0]", "secret"] {
        assert!(fields[f].is_string(), "{f} named in {b}");
    }
    assert_eq!(t.get(&d.admin, "/api/v1/webhooks").await.1, json!([]));

    let (s, b) = t.post(&d.admin, "/api/v1/webhooks", hook.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let secret = b["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{b}");
    let json_id = b["webhook"]["id"].as_i64().unwrap();
    assert_eq!(
        t.post(&d.admin, "/api/v1/webhooks", hook).await.0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "names are unique"
    );
    let slack = json!({"name": "major incidents", "url": format!("{base}/slack"), "format": "slack",
                       "events": ["ticket.created", "ticket.escalated", "sla.breached"], "priorities": ["P1"]});
    let (s, b) = t.post(&d.admin, "/api/v1/webhooks", slack).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let slack_secret = b["secret"].as_str().unwrap().to_string();
    let off = json!({"name": "off", "url": format!("{base}/off"), "events": ["*"], "enabled": false});
    assert_eq!(t.post(&d.admin, "/api/v1/webhooks", off).await.0, StatusCode::CREATED);
    let network_only = json!({"name": "network team", "url": format!("{base}/teams"), "format": "teams",
                              "events": ["ticket.assigned", "ticket.escalated"], "assignment_groups": ["Network"]});
    assert_eq!(t.post(&d.admin, "/api/v1/webhooks", network_only).await.0, StatusCode::CREATED);
    let (_, list) = t.get(&d.admin, "/api/v1/webhooks").await;
    assert_eq!(list.as_array().unwrap().len(), 4);
    assert!(!list.to_string().contains(&secret), "the secret is never shown again");
    assert_eq!(list[0]["name"], "automation");
    assert_eq!(list[1]["priorities"], json!(["P1"]));
    assert_eq!(list[2]["assignment_groups"], json!(["Network"]));

    // A P1 incident lives its life; a P3 one is logged too.
    let (s, inc) = t
        .post(
            &d.l1,
            "/api/v1/tickets",
            json!({"title": "Core switch down", "impact": 1, "urgency": 1,
                                                "requester": "alice@example.com"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let number = inc["number"].as_str().unwrap().to_string();
    let p = format!("/api/v1/tickets/{number}");
    let (_, p3) = t.post(&d.l1, "/api/v1/tickets", json!({"title": "Mouse squeaks", "impact": 3, "urgency": 3})).await;
    assert_ne!(p3["priority"], "P1");
    assert_eq!(t.patch(&d.l1, &p, json!({"assignee": "sam@example.com"})).await.0, StatusCode::OK);
    let (s, b) =
        t.post(&d.l1, &format!("{p}/comments"), json!({"body": "We are on it.", "visibility": "public"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let note = json!({"body": "Password for the switch is in the vault", "visibility": "internal"});
    assert_eq!(t.post(&d.l1, &format!("{p}/comments"), note).await.0, StatusCode::CREATED);
    let (s, b) = t
        .post(
            &d.l1,
            &format!("{p}/escalate"),
            json!({"to_group": "Network", "reason": "Hardware fault", "troubleshooting": "Power-cycled, no link"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(rx.take().is_empty(), "nothing is sent before the worker runs");

    run_jobs(t).await;
    let got = rx.take();
    let to = |path: &str| got.iter().filter(|g| g.path == path).cloned().collect::<Vec<_>>();
    assert!(to("off").is_empty(), "a disabled webhook gets nothing");

    // Different tickets' deliveries go out side by side, one ticket's in order: take each
    // ticket's in the order they arrived, the second ticket's one event where it happened (second).
    let (mut all, second): (Vec<_>, Vec<_>) =
        to("json").into_iter().partition(|g| g.body["ticket"]["number"].as_str() == Some(number.as_str()));
    for (i, g) in second.into_iter().enumerate() {
        all.insert(1 + i, g);
    }
    let events: Vec<(&str, &str)> =
        all.iter().map(|g| (g.event.as_str(), g.body["ticket"]["number"].as_str().unwrap())).collect();
    let p3n = p3["number"].as_str().unwrap();
    assert_eq!(
        events,
        [
            ("ticket.created", number.as_str()),
            ("ticket.created", p3n),
            ("ticket.updated", number.as_str()),
            ("ticket.assigned", number.as_str()),
            ("ticket.updated", number.as_str()),
            ("ticket.commented", number.as_str()),
            ("ticket.commented", number.as_str()),
            ("ticket.escalated", number.as_str()),
        ],
        "every event of both tickets, each ticket's in order"
    );
    for g in &all {
        check_signature(g, &secret);
        assert_eq!(g.body["event"], g.event.as_str());
        assert!(!g.delivery.is_empty());
    }
    let created = &all[0].body;
    assert_eq!(created["ticket"]["priority"], "P1");
    assert_eq!(created["ticket"]["assignment_group"], "Service Desk");
    assert_eq!(created["ticket"]["requester"], "alice@example.com");
    assert_eq!(created["ticket"]["url"], format!("https://help.example.com/tickets/{number}"));
    assert_eq!(created["actor"]["email"], "sam@example.com");
    assert_eq!(all[3].body["ticket"]["assignee"], "sam@example.com");
    assert_eq!(all[4].body["change"], json!({"from": "new", "to": "assigned", "pending_reason": null}));
    assert_eq!(all[5].body["comment"], json!({"kind": "comment", "visibility": "public", "body": "We are on it."}));
    assert_eq!(all[6].body["comment"]["visibility"], "internal");
    assert_eq!(all[6].body["comment"]["body"], Value::Null, "internal note text never leaves Orion");
    assert!(!all[6].raw.contains("vault"));
    assert_eq!(all[6].body["change"], Value::Null, "a comment's entry data stays home");
    assert_eq!(all[7].body["ticket"]["assignment_group"], "Network");

    // The Slack webhook: P1 only, its three events only, a chat message with a link.
    let slack = to("slack");
    assert_eq!(slack.iter().map(|g| g.event.as_str()).collect::<Vec<_>>(), ["ticket.created", "ticket.escalated"]);
    let text = slack[1].body["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!("<https://help.example.com/tickets/{number}|{number}> escalated to Network")),
        "{text}"
    );
    assert!(text.contains("P1 · Core switch down"), "{text}");
    check_signature(&slack[0], &slack_secret);
    // The Teams webhook: only tickets in Network, so only the escalation (assignment happened in Service Desk).
    let teams = to("teams");
    assert_eq!(teams.iter().map(|g| g.event.as_str()).collect::<Vec<_>>(), ["ticket.escalated"]);
    let card = &teams[0].body["attachments"][0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["actions"][0]["url"], format!("https://help.example.com/tickets/{number}"));

    // SLA: nobody answered the P1 in 15 minutes; the breach reaches Slack, the warning the automation.
    let (_, inc2) =
        t.post(&d.l1, "/api/v1/tickets", json!({"title": "WAN link flapping", "impact": 1, "urgency": 1})).await;
    let n2 = inc2["number"].as_str().unwrap().to_string();
    for _ in 0..4 {
        t.clock.advance_minutes(5);
        run_jobs(t).await;
    }
    let got = rx.take();
    let sla: Vec<(&str, &str)> =
        got.iter().filter(|g| g.event.starts_with("sla.")).map(|g| (g.path.as_str(), g.event.as_str())).collect();
    assert!(sla.contains(&("json", "sla.warning")), "{sla:?}");
    assert!(sla.contains(&("json", "sla.breached")), "{sla:?}");
    assert!(sla.contains(&("slack", "sla.breached")), "{sla:?}");
    assert!(!sla.contains(&("slack", "sla.warning")), "not subscribed: {sla:?}");
    let breach = got.iter().find(|g| g.path == "slack" && g.event == "sla.breached").unwrap();
    let text = breach.body["text"].as_str().unwrap();
    assert!(text.contains(&format!("|{n2}>: first_response SLA breached")), "{text}");

    // Resolving: delivered, and logged for the admins.
    let (s, b) = t
        .post(
            &d.l1,
            &format!("/api/v1/tickets/{n2}/resolve"),
            json!({"resolution_code": "fixed", "resolution_notes": "Replaced the SFP module"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    run_jobs(t).await;
    let got = rx.take();
    let resolved: Vec<&Got> = got.iter().filter(|g| g.event == "ticket.resolved").collect();
    assert_eq!(resolved.len(), 1);
    assert!(got.iter().all(|g| g.event != "sla.breached"), "stopping a breached clock announces no second breach");
    assert_eq!(resolved[0].body["ticket"]["resolution_code"], "fixed");
    let (s, log) = t.get(&d.admin, &format!("/api/v1/webhooks/{json_id}/deliveries?limit=2")).await;
    assert_eq!(s, StatusCode::OK, "{log}");
    assert_eq!(log["items"][0]["event"], "ticket.resolved");
    assert_eq!(log["items"][0]["status"], "delivered");
    assert_eq!(log["items"][0]["attempts"], 1);
    assert_eq!(log["items"][0]["response_code"], 200);
    assert_eq!(log["items"][0]["ticket"], n2.as_str());
    let cursor = log["next_cursor"].as_str().expect("more pages");
    let (_, older) = t.get(&d.admin, &format!("/api/v1/webhooks/{json_id}/deliveries?limit=2&cursor={cursor}")).await;
    assert!(older["items"][0]["id"].as_i64() < log["items"][1]["id"].as_i64());
    assert_eq!(t.get(&d.l1, &format!("/api/v1/webhooks/{json_id}/deliveries")).await.0, StatusCode::FORBIDDEN);

    // Disabling stops deliveries; a new secret signs from then on.
    let (s, b) = t.put(&d.admin, &format!("/api/v1/webhooks/{json_id}"), json!({"enabled": false})).await;
    assert_eq!(
        (s, b["enabled"].as_bool(), b["url"].as_str()),
        (StatusCode::OK, Some(false), Some(&*format!("{base}/json")))
    );
    t.post(&d.l1, &format!("{p}/comments"), json!({"body": "Still on it.", "visibility": "public"})).await;
    run_jobs(t).await;
    assert!(rx.take().iter().all(|g| g.path != "json"));
    t.put(&d.admin, &format!("/api/v1/webhooks/{json_id}"), json!({"enabled": true})).await;
    let (s, b) = t.post(&d.admin, &format!("/api/v1/webhooks/{json_id}/secret"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let new_secret = b["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    let (s, ping) = t.post(&d.admin, &format!("/api/v1/webhooks/{json_id}/ping"), json!({})).await;
    assert_eq!((s, ping["status"].as_str()), (StatusCode::ACCEPTED, Some("pending")), "{ping}");
    run_jobs(t).await;
    let got = rx.take();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].event.as_str(), got[0].body["webhook"].as_str()), ("ping", Some("automation")));
    check_signature(&got[0], &new_secret);
    assert_ne!(got[0].signature, orion_app::webhooks::signature(&secret, got[0].timestamp, &got[0].raw));

    // Removing a webhook removes its log.
    let (s, _) = t.send(&d.admin, reqwest::Method::DELETE, &format!("/api/v1/webhooks/{json_id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(t.get(&d.admin, &format!("/api/v1/webhooks/{json_id}/deliveries")).await.0, StatusCode::NOT_FOUND);
}

async fn failed_deliveries_retry_give_up_and_redeliver(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let (rx, base) = Receiver::start().await;
    let (_, b) = t
        .post(
            &d.admin,
            "/api/v1/webhooks",
            json!({"name": "flaky", "url": format!("{base}/flaky"),
                                                    "events": ["ticket.created"], "secret": "a shared secret of ours"}),
        )
        .await;
    let id = b["webhook"]["id"].as_i64().unwrap();
    // Nothing listens on port 9 of this machine: every attempt fails to connect.
    let (_, b) = t
        .post(
            &d.admin,
            "/api/v1/webhooks",
            json!({"name": "gone", "url": "http://127.0.0.1:9/hook",
                                                    "events": ["ticket.created"]}),
        )
        .await;
    let gone = b["webhook"]["id"].as_i64().unwrap();

    rx.answer(&[503, 500]);
    let (_, inc) = t.post(&d.l1, "/api/v1/tickets", json!({"title": "Printer jam on 3rd floor"})).await;
    run_jobs(t).await;
    let (_, log) = t.get(&d.admin, &format!("/api/v1/webhooks/{id}/deliveries")).await;
    let first = &log["items"][0];
    assert_eq!((first["status"].as_str(), first["attempts"].as_i64()), (Some("retrying"), Some(1)), "{log}");
    assert_eq!(first["response_code"], 503);
    assert!(first["error"].as_str().unwrap().contains("HTTP 503"), "{first}");
    assert!(first["next_attempt_at"].is_string(), "{first}");
    let (_, failing) = t.get(&d.admin, &format!("/api/v1/webhooks/{id}/deliveries?failing=true")).await;
    assert_eq!(failing["items"].as_array().unwrap().len(), 1);

    // Backoff: not again before 30 s; then 500 (retrying), then delivered on the third try.
    run_jobs(t).await;
    assert_eq!(rx.take().len(), 1, "the retry waits for its backoff");
    t.clock.advance_minutes(1);
    run_jobs(t).await;
    t.clock.advance_minutes(2);
    run_jobs(t).await;
    let got = rx.take();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].raw, got[1].raw, "every attempt sends the same body");
    assert_eq!(got[0].delivery, got[1].delivery);
    check_signature(&got[1], "a shared secret of ours");
    let delivery_id = first["id"].as_i64().unwrap();
    let (_, one) = t.get(&d.admin, &format!("/api/v1/webhooks/{id}/deliveries/{delivery_id}")).await;
    assert_eq!((one["status"].as_str(), one["attempts"].as_i64()), (Some("delivered"), Some(3)), "{one}");
    assert_eq!((one["response_code"].as_i64(), one["error"].as_str()), (Some(200), None));
    assert!(one["delivered_at"].is_string() && one["next_attempt_at"].is_null(), "{one}");
    let (_, failing) = t.get(&d.admin, &format!("/api/v1/webhooks/{id}/deliveries?failing=true")).await;
    assert_eq!(failing["items"], json!([]));

    // The unreachable receiver: 16 tries with growing pauses (about nine hours), then failed for good.
    for _ in 0..18 {
        t.clock.advance_minutes(61);
        run_jobs(t).await;
    }
    let (_, log) = t.get(&d.admin, &format!("/api/v1/webhooks/{gone}/deliveries")).await;
    let dead = &log["items"][0];
    assert_eq!((dead["status"].as_str(), dead["attempts"].as_i64()), (Some("failed"), Some(16)), "{dead}");
    assert!(dead["error"].as_str().unwrap().starts_with("could not connect"), "{dead}");
    assert_eq!(dead["response_code"], Value::Null);

    // Redeliver: a new delivery of the same body, linked to the first; a wrong pair is 404.
    let (s, re) =
        t.post(&d.admin, &format!("/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver"), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{re}");
    assert_eq!(re["redelivery_of"], delivery_id);
    assert_eq!(re["ticket"], inc["number"]);
    run_jobs(t).await;
    let again = rx.take();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].raw, got[1].raw);
    assert_ne!(again[0].delivery, got[1].delivery);
    let wrong = format!("/api/v1/webhooks/{gone}/deliveries/{delivery_id}/redeliver");
    assert_eq!(t.post(&d.admin, &wrong, json!({})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(t.post(&d.l1, &format!("/api/v1/webhooks/{id}/ping"), json!({})).await.0, StatusCode::FORBIDDEN);
}
