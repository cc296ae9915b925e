//! The REST API, driven over HTTP against the real server, on SQLite and PostgreSQL.

use orion_testkit::{Engine, TestApp, engine_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};

engine_tests!(
    incident_flow_from_l1_to_l2_and_back,
    bad_input_is_refused_and_writes_nothing,
    requesters_see_only_their_own_and_never_internal_notes,
    invalid_state_transitions_are_refused,
    data_survives_a_restart,
    lists_filter_and_page_without_gaps,
    directory_is_managed_by_admins_only,
    moving_between_groups_follows_the_tiers,
    a_requester_reply_resumes_a_ticket_pending_on_them,
    concurrent_creates_get_unique_numbers,
    service_endpoints_answer,
    deactivated_users_lose_api_access,
    sla_clocks_follow_the_business_calendar_and_pauses,
    sla_timers_warn_then_breach_and_escalate,
    sla_timers_move_with_pauses,
    calendars_set_the_zone_and_hours_of_slas,
    time_with_each_tier_is_measured_against_olas,
    sla_policies_set_update_intervals_restarts_and_escalation_rules,
    an_automatic_escalation_moves_clocks_of_different_policies_with_the_state,
);

/// A service desk: three tiers, an L1 and an L2 agent, two requesters.
struct Desk {
    t: TestApp,
    admin: String,
    l1: String,
    l2: String,
    alice: String,
    bob: String,
}

async fn desk(engine: Engine) -> Option<Desk> {
    let t = TestApp::spawn(engine).await?;
    let admin = t.bootstrap_admin("admin@example.com").await;
    for (name, tier, up) in [
        ("Systems & Network", 3, None),
        ("Desktop Support", 2, Some("Systems & Network")),
        ("Service Desk", 1, Some("Desktop Support")),
    ] {
        let (s, b) = t.post(&admin, "/api/v1/groups", json!({"name": name, "tier": tier, "escalates_to": up})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (s, b) = t.post(&admin, "/api/v1/groups", json!({"name": "Infrastructure", "tier": 2})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let l1 = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    let l2 = t.user(&admin, "dev@example.com", "agent", &["Desktop Support"]).await;
    let alice = t.user(&admin, "alice@example.com", "requester", &[]).await;
    let bob = t.user(&admin, "bob@example.com", "requester", &[]).await;
    Some(Desk { t, admin, l1, l2, alice, bob })
}

/// Timeline entry kinds, without the SLA entries (their own test covers them).
fn kinds(timeline: &Value) -> Vec<String> {
    timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .filter(|k| !k.starts_with("sla_"))
        .collect()
}

async fn incident_flow_from_l1_to_l2_and_back(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let (s, inc) = t
        .post(
            &d.l1,
            "/api/v1/tickets",
            json!({"kind": "incident", "title": "Outlook asks for the password", "description": "Since this morning",
                   "impact": 2, "urgency": 1, "requester": "alice@example.com", "channel": "phone"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    assert_eq!(inc["number"], "INC0000001");
    assert_eq!(inc["priority"], "P2");
    assert_eq!(inc["state"], "new");
    assert_eq!(inc["assignment_group"], "Service Desk");
    assert_eq!(inc["requester"], "alice@example.com");
    assert_eq!(inc["channel"], "phone");
    let path = "/api/v1/tickets/INC0000001";

    let (s, b) = t.patch(&d.l1, path, json!({"assignee": "sam@example.com"})).await;
    assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("assigned")), "{b}");
    let (s, _) = t
        .post(&d.l1, &format!("{path}/comments"), json!({"body": "We are looking into it", "visibility": "public"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = t
        .post(
            &d.l1,
            &format!("{path}/comments"),
            json!({"body": "Credential manager has stale entries", "visibility": "internal"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    // Escalation needs the troubleshooting done so far.
    let (s, b) = t.post(&d.l1, &format!("{path}/escalate"), json!({"reason": "Needs L2"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["error"]["fields"]["troubleshooting"].is_string(), "{b}");
    let (s, b) = t
        .post(&d.l1, &format!("{path}/escalate"), json!({"reason": "Profile corruption suspected", "troubleshooting": "Cleared credentials, recreated profile, same result"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["assignment_group"], "Desktop Support");
    assert_eq!(b["state"], "new");
    assert_eq!(b["assignee"], Value::Null);
    assert_eq!(b["escalation_count"], 1);
    assert_eq!(b["highest_tier"], 2);

    // L2 takes it by setting it in progress, then resolves.
    let (s, b) = t.patch(&d.l2, path, json!({"state": "in_progress"})).await;
    assert_eq!((s, b["assignee"].as_str()), (StatusCode::OK, Some("dev@example.com")), "{b}");
    let (s, b) = t.post(&d.l2, &format!("{path}/resolve"), json!({"resolution_code": "fixed"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["error"]["fields"]["resolution_notes"].is_string(), "{b}");
    let (s, b) = t
        .post(
            &d.l2,
            &format!("{path}/resolve"),
            json!({"resolution_code": "fixed", "resolution_notes": "Rebuilt the mail profile"}),
        )
        .await;
    assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("resolved")), "{b}");
    assert!(b["resolved_at"].is_string());

    // The requester reopens: it goes back to its L2 owner.
    let (s, b) = t.post(&d.alice, &format!("{path}/reopen"), json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a reopen needs a reason: {b}");
    let (s, b) =
        t.post(&d.alice, &format!("{path}/reopen"), json!({"reason": "It happens again after a reboot"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["state"], "in_progress");
    assert_eq!(b["assignee"], "dev@example.com");
    assert_eq!(b["reopen_count"], 1);
    assert_eq!(b["resolution_code"], Value::Null);

    let (s, _) = t
        .post(
            &d.l2,
            &format!("{path}/resolve"),
            json!({"resolution_code": "fixed", "resolution_notes": "Removed the stale token cache"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = t.post(&d.alice, &format!("{path}/close"), json!({"reason": "Works now, thanks"})).await;
    assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("closed")), "{b}");
    let (s, b) = t.patch(&d.l2, path, json!({"title": "changed"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");

    // The whole story is on the timeline, in order, with before/after values.
    let (s, tl) = t.get(&d.l1, &format!("{path}/timeline")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        kinds(&tl),
        [
            "created",
            "fields_changed",
            "state_changed",
            "comment",
            "work_note",
            "escalated",
            "fields_changed",
            "state_changed",
            "resolved",
            "reopened",
            "resolved",
            "closed"
        ]
    );
    let items: Vec<&Value> =
        tl["items"].as_array().unwrap().iter().filter(|e| !e["kind"].as_str().unwrap().starts_with("sla_")).collect();
    assert_eq!(items[1]["data"]["changes"][0], json!({"field": "assignee", "from": null, "to": "sam@example.com"}));
    assert_eq!(items[2]["data"], json!({"from": "new", "to": "assigned", "pending_reason": null}));
    assert!(items[5]["body"].as_str().unwrap().contains("recreated profile"));
    assert_eq!(items[5]["data"]["from_tier"], 1);
    assert_eq!(items[5]["data"]["to_tier"], 2);
    assert_eq!(items[5]["visibility"], "internal");
}

async fn bad_input_is_refused_and_writes_nothing(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let ok = json!({"title": "Printer jam", "impact": 2, "urgency": 2, "requester": "alice@example.com"});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let cases = [
        (with("impact", json!(7)), "impact"),
        (with("urgency", json!(0)), "urgency"),
        (with("impact", json!("high")), "impact"),
        (with("assignment_group", json!("No Such Team")), "assignment_group"),
        (with("title", json!("   ")), "title"),
        (with("kind", json!("problem_report")), "kind"),
        (with("channel", json!("pigeon")), "channel"),
        (with("requester", json!("not-an-address")), "requester"),
        (with("category", json!("Nowhere")), "category"),
        (with("assignee", json!("dev@example.com")), "assignee"),
        (with("colour", json!("red")), "colour"),
    ];
    for (body, field) in cases {
        let (s, b) = t.post(&d.l1, "/api/v1/tickets", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
        assert_eq!(b["error"]["code"], "validation_failed");
        assert!(b["error"]["fields"][field].is_string(), "field {field} not named in {b}");
    }
    let mut missing = ok.clone();
    missing.as_object_mut().unwrap().remove("title");
    let (s, b) = t.post(&d.l1, "/api/v1/tickets", missing).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["error"]["fields"]["title"].is_string(), "{b}");

    // Several errors at once are all reported.
    let (_, b) = t.post(&d.l1, "/api/v1/tickets", json!({"impact": 9, "assignment_group": "Nope"})).await;
    let fields = b["error"]["fields"].as_object().unwrap();
    assert!(
        fields.contains_key("title") && fields.contains_key("impact") && fields.contains_key("assignment_group"),
        "{b}"
    );

    let raw = |body: Vec<u8>, ct: Option<&'static str>| {
        let mut r = t.client.post(format!("{}/api/v1/tickets", t.base)).bearer_auth(&d.l1).body(body);
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        r.send()
    };
    let r = raw(b"{\"title\": \"x\",".to_vec(), Some("application/json")).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "malformed_json");

    // A 10 MB body is refused from its Content-Length, before it is read. The server may
    // close the connection while a client still sends, so speak HTTP by hand and send only
    // the start of the body.
    let (status, body) = oversize_post(&t.base, &d.l1, 10 * 1024 * 1024).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("payload_too_large"), "{body}");
    let r = raw(serde_json::to_vec(&ok).unwrap(), Some("text/plain")).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Nothing of the above was written: no ticket, no requester created on the fly.
    let (_, list) = t.get(&d.l1, "/api/v1/tickets").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
    let (_, users) = t.get(&d.admin, "/api/v1/users?q=not-an").await;
    assert_eq!(users["items"].as_array().unwrap().len(), 0);

    // The well-formed request still works afterwards and gets the first number.
    let (s, b) = t.post(&d.l1, "/api/v1/tickets", ok).await;
    assert_eq!((s, b["number"].as_str()), (StatusCode::CREATED, Some("INC0000001")), "{b}");

    // Bad query parameters name the parameter too.
    let (s, b) = t.get(&d.l1, "/api/v1/tickets?limit=abc").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["error"]["fields"]["limit"].is_string(), "{b}");
    let (s, b) = t.get(&d.l1, "/api/v1/tickets?state=done").await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["state"].is_string(), "{b}");
}

async fn requesters_see_only_their_own_and_never_internal_notes(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let (s, mine) = t.post(&d.alice, "/api/v1/tickets", json!({"title": "My laptop is slow"})).await;
    assert_eq!(s, StatusCode::CREATED, "{mine}");
    assert_eq!(mine["requester"], "alice@example.com");
    // Through the API, the channel is the API (the portal passes its own).
    assert_eq!(mine["channel"], "api");
    let n = mine["number"].as_str().unwrap().to_string();
    let (s, b) = t.post(&d.alice, "/api/v1/tickets", json!({"title": "For Bob", "requester": "bob@example.com"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "requesters cannot log for others: {b}");
    let (_, bobs) =
        t.post(&d.l1, "/api/v1/tickets", json!({"title": "Bob's VPN", "requester": "bob@example.com"})).await;
    let bob_n = bobs["number"].as_str().unwrap().to_string();

    t.post(
        &d.l1,
        &format!("/api/v1/tickets/{n}/comments"),
        json!({"body": "User has 2 GB RAM, replace", "visibility": "internal"}),
    )
    .await;
    t.post(&d.l1, &format!("/api/v1/tickets/{n}/comments"), json!({"body": "We will replace your laptop"})).await;

    // Alice cannot see Bob's ticket in any way; it looks absent.
    for path in [format!("/api/v1/tickets/{bob_n}"), format!("/api/v1/tickets/{bob_n}/timeline")] {
        let (s, _) = t.get(&d.alice, &path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
    let (s, _) = t.post(&d.alice, &format!("/api/v1/tickets/{bob_n}/comments"), json!({"body": "hi"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = t.post(&d.alice, &format!("/api/v1/tickets/{bob_n}/reopen"), json!({"reason": "x"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = t.get(&d.alice, "/api/v1/tickets?requester=bob@example.com").await;
    let numbers: Vec<&str> = list["items"].as_array().unwrap().iter().map(|t| t["number"].as_str().unwrap()).collect();
    assert_eq!(numbers, [n.as_str()], "a requester lists only their own, whatever the filter");

    // Her own timeline shows public entries only.
    let (_, tl) = t.get(&d.alice, &format!("/api/v1/tickets/{n}/timeline")).await;
    assert!(tl["items"].as_array().unwrap().iter().all(|e| e["visibility"] == "public"), "{tl}");
    assert!(!tl.to_string().contains("2 GB RAM"));
    assert!(tl.to_string().contains("We will replace"));
    let (_, tl) = t.get(&d.l1, &format!("/api/v1/tickets/{n}/timeline")).await;
    assert!(tl.to_string().contains("2 GB RAM"), "staff see the work note");

    // Requesters cannot do staff work or read the directory.
    let (s, _) = t.patch(&d.alice, &format!("/api/v1/tickets/{n}"), json!({"impact": 1})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t
        .post(&d.alice, &format!("/api/v1/tickets/{n}/escalate"), json!({"reason": "a", "troubleshooting": "b"}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = t
        .post(&d.alice, &format!("/api/v1/tickets/{n}/comments"), json!({"body": "psst", "visibility": "internal"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, _) = t.get(&d.alice, "/api/v1/users").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t.get(&d.bob, &format!("/api/v1/tickets/{n}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // No token or a wrong one: 401 with the error envelope.
    let r = t.client.get(format!("{}/api/v1/tickets", t.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let (s, b) =
        t.get("orion_0000000000000000000000000000000000000000000000000000000000000000", "/api/v1/tickets").await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
}

async fn invalid_state_transitions_are_refused(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let (_, b) = t.post(&d.l1, "/api/v1/tickets", json!({"title": "Wi-Fi drops"})).await;
    let p = format!("/api/v1/tickets/{}", b["number"].as_str().unwrap());

    let (s, b) = t.post(&d.l1, &format!("{p}/close"), json!({})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("invalid_transition")), "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("allowed"), "{b}");
    let (s, _) = t.post(&d.l1, &format!("{p}/reopen"), json!({"reason": "x"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    for (state, field) in [
        ("resolved", "state"),
        ("closed", "state"),
        ("done", "state"),
        ("pending", "pending_reason"),
        ("assigned", "assignee"),
    ] {
        let (s, b) = t.patch(&d.l1, &p, json!({"state": state})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{state}: {b}");
        assert!(b["error"]["fields"][field].is_string(), "{state}: {b}");
    }
    let (s, b) = t
        .patch(&d.l1, &p, json!({"state": "pending", "pending_reason": "vendor", "assignee": "sam@example.com"}))
        .await;
    assert_eq!(
        (s, b["state"].as_str(), b["pending_reason"].as_str()),
        (StatusCode::OK, Some("pending"), Some("vendor")),
        "{b}"
    );
    let (s, b) = t.patch(&d.l1, &p, json!({"state": "in_progress"})).await;
    assert_eq!((s, b["pending_reason"].clone()), (StatusCode::OK, Value::Null), "{b}");
    t.post(
        &d.l1,
        &format!("{p}/resolve"),
        json!({"resolution_code": "workaround", "resolution_notes": "Moved the access point"}),
    )
    .await;
    let (s, _) =
        t.post(&d.l1, &format!("{p}/resolve"), json!({"resolution_code": "fixed", "resolution_notes": "again"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "resolving twice");
    let (s, b) = t.patch(&d.l1, &p, json!({"state": "in_progress"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a resolved ticket is reopened, not patched: {b}");
    let (s, _) = t.post(&d.l1, &format!("{p}/close"), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t.post(&d.l1, &format!("{p}/reopen"), json!({"reason": "x"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "closed is final");
    let (s, _) = t.post(&d.l1, &format!("{p}/comments"), json!({"body": "late"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = t.post(&d.l1, &format!("{p}/escalate"), json!({"reason": "a", "troubleshooting": "b"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
}

async fn data_survives_a_restart(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let (_, b) =
        d.t.post(&d.l1, "/api/v1/tickets", json!({"title": "Disk full on S:", "impact": 1, "urgency": 1})).await;
    assert_eq!(b["priority"], "P1");
    d.t.post(&d.l1, "/api/v1/tickets/INC0000001/comments", json!({"body": "Cleaning up old exports"})).await;
    let t = d.t.restart().await;
    let (s, b) = t.get(&d.l1, "/api/v1/tickets/INC0000001").await;
    assert_eq!(
        (s, b["title"].as_str(), b["priority"].as_str()),
        (StatusCode::OK, Some("Disk full on S:"), Some("P1")),
        "{b}"
    );
    let (_, tl) = t.get(&d.l1, "/api/v1/tickets/INC0000001/timeline").await;
    assert_eq!(kinds(&tl), ["created", "comment"]);
    let (_, b) = t.post(&d.l1, "/api/v1/tickets", json!({"title": "Second"})).await;
    assert_eq!(b["number"], "INC0000002", "numbering continues after a restart");
    let (_, b) = t.post(&d.l1, "/api/v1/tickets", json!({"kind": "service_request", "title": "New monitor"})).await;
    assert_eq!(b["number"], "REQ0000001", "each kind has its own sequence");
}

async fn lists_filter_and_page_without_gaps(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let mut made = Vec::new();
    for i in 0..7i64 {
        let kind = if i % 3 == 0 { "service_request" } else { "incident" };
        let (s, b) = t
            .post(&d.l1, "/api/v1/tickets", json!({"kind": kind, "title": format!("Ticket {i}"), "impact": i % 3 + 1, "urgency": 1, "requester": "bob@example.com"}))
            .await;
        assert_eq!(s, StatusCode::CREATED);
        made.push(b["number"].as_str().unwrap().to_string());
    }
    t.patch(&d.l1, &format!("/api/v1/tickets/{}", made[2]), json!({"assignee": "sam@example.com"})).await;
    t.post(&d.l1, &format!("/api/v1/tickets/{}/escalate", made[3]), json!({"reason": "r", "troubleshooting": "t"}))
        .await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor.as_ref().map_or(String::new(), |c| format!("&cursor={c}"));
        let (s, page) = t.get(&d.l1, &format!("/api/v1/tickets?limit=3{q}")).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|t| t["number"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut newest_first = made.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first, "pages cover every ticket once, newest first");

    let count = |q: &'static str| {
        let t = &d.t;
        let tok = d.l1.clone();
        async move {
            let (s, b) = t.get(&tok, &format!("/api/v1/tickets?{q}")).await;
            assert_eq!(s, StatusCode::OK, "{q}: {b}");
            b["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("kind=service_request").await, 3);
    assert_eq!(count("priority=P1").await, 3);
    assert_eq!(count("priority=P2").await, 2);
    assert_eq!(count("assignee=sam@example.com").await, 1);
    assert_eq!(count("assignee=none").await, 6);
    assert_eq!(count("state=assigned").await, 1);
    assert_eq!(count("state=new,assigned").await, 7);
    assert_eq!(count("state=open").await, 7);
    assert_eq!(count("assignment_group=Desktop%20Support").await, 1);
    assert_eq!(count("requester=bob@example.com").await, 7);
    assert_eq!(count("requester=alice@example.com").await, 0);
    let (s, b) = t.get(&d.l1, "/api/v1/tickets?cursor=xyz").await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["cursor"].is_string(), "{b}");
    let (s, _) = t.get(&d.l1, "/api/v1/tickets?limit=1000").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn directory_is_managed_by_admins_only(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let (s, _) = t.post(&d.l1, "/api/v1/users", json!({"email": "x@example.com", "name": "X"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t.post(&d.l1, "/api/v1/groups", json!({"name": "Shadow IT", "tier": 1})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = t.post(&d.admin, "/api/v1/users", json!({"email": "SAM@example.com", "name": "Sam again"})).await;
    assert!(
        s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["email"].is_string(),
        "duplicate e-mail: {b}"
    );
    let (s, b) =
        t.post(&d.admin, "/api/v1/groups", json!({"name": "Vendors", "tier": 3, "escalates_to": "Service Desk"})).await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["escalates_to"].is_string(), "{b}");
    let (s, b) = t.post(&d.admin, "/api/v1/groups", json!({"name": "Vendors", "tier": 4})).await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["tier"].is_string(), "{b}");

    // Agents may read the directory to route work.
    let (s, groups) = t.get(&d.l1, "/api/v1/groups").await;
    assert_eq!(s, StatusCode::OK);
    let sd = groups.as_array().unwrap().iter().find(|g| g["name"] == "Service Desk").unwrap().clone();
    assert_eq!(sd["tier"], 1);
    assert_eq!(sd["escalates_to"], "Desktop Support");
    assert_eq!(sd["members"], json!(["sam@example.com"]));

    // Categories: admins create, everyone reads, tickets use them by path.
    let (s, _) = t.post(&d.admin, "/api/v1/categories", json!({"name": "Hardware"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, c) = t.post(&d.admin, "/api/v1/categories", json!({"name": "Printer", "parent": "Hardware"})).await;
    assert_eq!((s, c["path"].as_str()), (StatusCode::CREATED, Some("Hardware / Printer")));
    let (s, _) = t.post(&d.l1, "/api/v1/categories", json!({"name": "Mine"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, cats) = t.get(&d.alice, "/api/v1/categories").await;
    assert_eq!((s, cats.as_array().unwrap().len()), (StatusCode::OK, 2));
    let (_, b) =
        t.post(&d.alice, "/api/v1/tickets", json!({"title": "Paper jam", "category": "hardware / printer"})).await;
    assert_eq!(b["category"], "Hardware / Printer", "{b}");
    let (s, _) = t.patch(&d.admin, &format!("/api/v1/categories/{}", c["id"]), json!({"active": false})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) =
        t.post(&d.alice, "/api/v1/tickets", json!({"title": "Paper jam", "category": "Hardware / Printer"})).await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["category"].is_string(), "retired: {b}");

    // The priority matrix is configurable by admins and applies to new tickets.
    let (s, m) = t.get(&d.l1, "/api/v1/settings/priority-matrix").await;
    assert_eq!((s, m["rows"].clone()), (StatusCode::OK, json!([[1, 2, 3], [2, 3, 4], [3, 4, 5]])));
    let strict = json!({"rows": [[1, 1, 2], [1, 2, 3], [2, 3, 4]]});
    let (s, _) = t.put(&d.l1, "/api/v1/settings/priority-matrix", strict.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) =
        t.put(&d.admin, "/api/v1/settings/priority-matrix", json!({"rows": [[5, 1, 1], [1, 1, 1], [1, 1, 1]]})).await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["rows"].is_string(), "{b}");
    let (s, _) = t.put(&d.admin, "/api/v1/settings/priority-matrix", strict).await;
    assert_eq!(s, StatusCode::OK);
    let (_, b) = t.post(&d.l1, "/api/v1/tickets", json!({"title": "x", "impact": 1, "urgency": 2})).await;
    assert_eq!(b["priority"], "P1");

    // Membership changes.
    let l2 = t.get(&d.admin, "/api/v1/users?q=dev@").await.1["items"][0].clone();
    let (s, g) = t
        .send(&d.admin, reqwest::Method::PUT, &format!("/api/v1/groups/{}/members/{}", sd["id"], l2["id"]), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert!(g["members"].as_array().unwrap().contains(&json!("dev@example.com")));
    let alice = t.get(&d.admin, "/api/v1/users?q=alice").await.1["items"][0].clone();
    let (s, _) = t
        .send(&d.admin, reqwest::Method::PUT, &format!("/api/v1/groups/{}/members/{}", sd["id"], alice["id"]), None)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "requesters are not group members");
    let (s, _) = t.get(&d.admin, "/api/v1/users/999999").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = t.get(&d.admin, "/api/v1/users/abc").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn moving_between_groups_follows_the_tiers(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let (_, b) =
        t.post(&d.l1, "/api/v1/tickets", json!({"title": "Server room too warm", "assignee": "sam@example.com"})).await;
    assert_eq!(b["state"], "assigned", "{b}");
    let p = format!("/api/v1/tickets/{}", b["number"].as_str().unwrap());

    let (s, b) = t.patch(&d.l1, &p, json!({"assignment_group": "Desktop Support", "note": "not ours"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "up a tier is an escalation: {b}");
    assert!(b["error"]["fields"]["assignment_group"].as_str().unwrap().contains("escalate"));
    let (s, b) = t.patch(&d.l1, &p, json!({"assignee": "dev@example.com"})).await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["assignee"].is_string(), "not a member: {b}");

    let (s, b) = t
        .post(
            &d.l1,
            &format!("{p}/escalate"),
            json!({"to_group": "Infrastructure", "reason": "HVAC", "troubleshooting": "Checked thermostat"}),
        )
        .await;
    assert_eq!((s, b["assignment_group"].as_str()), (StatusCode::OK, Some("Infrastructure")), "{b}");
    // Sideways (tier 2 -> tier 2) needs a note and clears the assignee.
    let (s, b) = t.patch(&d.l2, &p, json!({"assignment_group": "Desktop Support"})).await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["note"].is_string(), "{b}");
    let (s, b) = t
        .patch(
            &d.l2,
            &p,
            json!({"assignment_group": "Desktop Support", "note": "Facilities ticket, desktop team owns the sensors"}),
        )
        .await;
    assert_eq!((s, b["assignment_group"].as_str()), (StatusCode::OK, Some("Desktop Support")), "{b}");
    let (s, b) = t
        .post(
            &d.l2,
            &format!("{p}/escalate"),
            json!({"to_group": "Service Desk", "reason": "r", "troubleshooting": "t"}),
        )
        .await;
    assert!(
        s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["to_group"].is_string(),
        "escalating down: {b}"
    );
    // Down to tier 1 with a note is fine; the highest tier reached stays recorded.
    let (s, b) =
        t.patch(&d.l2, &p, json!({"assignment_group": "Service Desk", "note": "User needs a callback from L1"})).await;
    assert_eq!(
        (s, b["assignment_group"].as_str(), b["highest_tier"].as_i64()),
        (StatusCode::OK, Some("Service Desk"), Some(2)),
        "{b}"
    );
    let (_, b) = t
        .post(&d.l1, &format!("{p}/escalate"), json!({"reason": "still hot", "troubleshooting": "callback done"}))
        .await;
    assert_eq!(
        (b["assignment_group"].as_str(), b["escalation_count"].as_i64()),
        (Some("Desktop Support"), Some(2)),
        "{b}"
    );
    let (_, tl) = t.get(&d.l1, &format!("{p}/timeline")).await;
    assert!(tl.to_string().contains("User needs a callback from L1"), "the move's note is on the timeline");
}

async fn a_requester_reply_resumes_a_ticket_pending_on_them(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let (_, b) = t
        .post(
            &d.l1,
            "/api/v1/tickets",
            json!({"title": "Teams crashes", "requester": "alice@example.com", "assignee": "sam@example.com"}),
        )
        .await;
    let p = format!("/api/v1/tickets/{}", b["number"].as_str().unwrap());
    let (_, b) = t.patch(&d.l1, &p, json!({"state": "pending", "pending_reason": "user"})).await;
    assert_eq!(b["state"], "pending");
    let (s, _) = t.post(&d.alice, &format!("{p}/comments"), json!({"body": "Here is the crash log"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, b) = t.get(&d.l1, &p).await;
    assert_eq!((b["state"].as_str(), b["pending_reason"].clone()), (Some("in_progress"), Value::Null), "{b}");
    // A vendor wait is not ended by the requester.
    t.patch(&d.l1, &p, json!({"state": "pending", "pending_reason": "vendor"})).await;
    t.post(&d.alice, &format!("{p}/comments"), json!({"body": "Any news?"})).await;
    let (_, b) = t.get(&d.l1, &p).await;
    assert_eq!(b["state"], "pending");
}

async fn concurrent_creates_get_unique_numbers(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let mut handles = Vec::new();
    for i in 0..24 {
        let client = d.t.client.clone();
        let url = format!("{}/api/v1/tickets", d.t.base);
        let tok = d.l1.clone();
        handles.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(tok)
                .json(&json!({"title": format!("parallel {i}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            r.json::<Value>().await.unwrap()["number"].as_str().unwrap().to_string()
        }));
    }
    let mut numbers = Vec::new();
    for h in handles {
        numbers.push(h.await.unwrap());
    }
    numbers.sort();
    let expected: Vec<String> = (1..=24).map(|n| format!("INC{n:07}")).collect();
    assert_eq!(numbers, expected);
}

async fn service_endpoints_answer(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let r = t.client.get(format!("{}/healthz", t.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = t.client.get(format!("{}/readyz", t.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let spec: Value =
        t.client.get(format!("{}/api/v1/openapi.json", t.base)).send().await.unwrap().json().await.unwrap();
    for path in [
        "/api/v1/tickets",
        "/api/v1/tickets/{number}",
        "/api/v1/tickets/{number}/escalate",
        "/api/v1/tickets/{number}/timeline",
        "/api/v1/users",
        "/api/v1/groups",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    assert!(spec["components"]["schemas"]["Ticket"]["properties"]["priority"].is_object());
    t.post(&d.l1, "/api/v1/tickets", json!({"title": "metrics"})).await;
    let text = t.client.get(format!("{}/metrics", t.base)).send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains("orion_http_requests_total{method=\"POST\",route=\"/api/v1/tickets\",status=\"201\"}"),
        "{text}"
    );
    assert!(text.contains("orion_tickets_created_total"), "{text}");
    let (s, b) = t.get(&d.l1, "/api/v1/nothing-here").await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (s, me) = t.get(&d.l1, "/api/v1/me").await;
    assert_eq!(
        (s, me["email"].as_str(), me["groups"].clone()),
        (StatusCode::OK, Some("sam@example.com"), json!(["Service Desk"]))
    );
}

async fn deactivated_users_lose_api_access(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let (s, _) = t.get(&d.bob, "/api/v1/tickets").await;
    assert_eq!(s, StatusCode::OK);
    let bob = t.get(&d.admin, "/api/v1/users?q=bob").await.1["items"][0].clone();
    let (s, b) = t.patch(&d.admin, &format!("/api/v1/users/{}", bob["id"]), json!({"active": false})).await;
    assert_eq!((s, b["active"].as_bool()), (StatusCode::OK, Some(false)), "{b}");
    let (s, _) = t.get(&d.bob, "/api/v1/tickets").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Own tokens: create, use, revoke.
    let (s, tok) = t.post(&d.l1, "/api/v1/me/tokens", json!({"name": "script"})).await;
    assert_eq!(s, StatusCode::CREATED, "{tok}");
    let secret = tok["token"].as_str().unwrap().to_string();
    assert_eq!(t.get(&secret, "/api/v1/me").await.0, StatusCode::OK);
    let (_, list) = t.get(&d.l1, "/api/v1/me/tokens").await;
    assert!(!list.to_string().contains(&secret), "secrets are never listed");
    let (s, _) = t.send(&d.l1, reqwest::Method::DELETE, &format!("/api/v1/me/tokens/{}", tok["id"]), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(t.get(&secret, "/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    // Revoking it again changes nothing and is no mistake; a token that is not mine is not found.
    let (s, _) = t.send(&d.l1, reqwest::Method::DELETE, &format!("/api/v1/me/tokens/{}", tok["id"]), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, list) = t.get(&d.l1, "/api/v1/me/tokens").await;
    let mine = list.as_array().unwrap().iter().find(|x| x["id"] == tok["id"]).unwrap();
    assert_eq!(mine["revoked"], true, "{mine}");
    let (s, b) = t.send(&d.admin, reqwest::Method::DELETE, &format!("/api/v1/me/tokens/{}", tok["id"]), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
}

/// POSTs a JSON ticket declaring `len` bytes but sending only the first 64 KiB, and
/// returns the status code and body of the answer.
async fn oversize_post(base: &str, token: &str, len: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/tickets HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let _ = s.write_all(&vec![b' '; 64 * 1024]).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

/// Milliseconds of a UTC wall-clock time, e.g. "2026-11-20T16:00".
fn utc(s: &str) -> orion_domain::Timestamp {
    let dt: jiff::civil::DateTime = s.parse().unwrap();
    orion_domain::Timestamp(dt.to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp().as_millisecond())
}

fn target<'a>(sla: &'a Value, name: &str) -> &'a Value {
    sla.as_array().unwrap().iter().find(|t| t["target"] == name).unwrap_or_else(|| panic!("no {name} in {sla}"))
}

/// The default P3 policy counts on "Business hours" (Mon-Fri 09:00-17:00 UTC): 4 business hours
/// to the first response. Logged Friday 16:00 it is due Monday 12:00; pending on the user Monday
/// 10:00-11:00 moves it to 13:00; a public reply at 12:30 meets it; raising the priority to P1
/// (15 minutes round the clock, from the original start) shows what that would have meant.
async fn sla_clocks_follow_the_business_calendar_and_pauses(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    t.clock.set(utc("2026-11-20T16:00")); // a Friday
    let (_, inc) = t
        .post(&d.l1, "/api/v1/tickets", json!({"title": "Shared drive slow", "impact": 2, "urgency": 2, "requester": "alice@example.com", "assignee": "sam@example.com"}))
        .await;
    assert_eq!(inc["priority"], "P3");
    let p = format!("/api/v1/tickets/{}", inc["number"].as_str().unwrap());
    let (s, sla) = t.get(&d.l1, &format!("{p}/sla")).await;
    assert_eq!(s, StatusCode::OK, "{sla}");
    let fr = target(&sla, "first_response");
    assert_eq!((fr["policy"].as_str(), fr["calendar"].as_str()), (Some("P3 default"), Some("Business hours")));
    assert_eq!(fr["due_at"], utc("2026-11-23T12:00").to_rfc3339());
    assert_eq!(fr["state"], "running");
    assert_eq!(target(&sla, "resolution")["due_at"], utc("2026-11-25T16:00").to_rfc3339(), "3 business days of 8 h");
    let (s, _) = t.get(&d.alice, &format!("{p}/sla")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // What-if, Monday 09:30: as P2 (1 h, business hours) the first response would be due 09:00 Monday
    // (Friday 16:00 + 1 h), breached already; paused now, the due time moves with the pause.
    t.clock.set(utc("2026-11-23T09:30"));
    let (s, what_if) = t.post(&d.l1, &format!("{p}/sla/preview"), json!({"priority": "P2"})).await;
    assert_eq!(s, StatusCode::OK, "{what_if}");
    let fr = target(&what_if, "first_response");
    assert_eq!(
        (fr["policy"].as_str(), fr["state"].as_str(), fr["due_at"].clone()),
        (Some("P2 default"), Some("breached"), json!(utc("2026-11-20T17:00").to_rfc3339())),
        "{what_if}"
    );
    let (_, what_if) = t.post(&d.l1, &format!("{p}/sla/preview"), json!({"pause_now": true})).await;
    assert_eq!(target(&what_if, "first_response")["state"], "paused");
    let (s, b) = t.post(&d.l1, &format!("{p}/sla/preview"), json!({"priority": "P9"})).await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["priority"].is_string(), "{b}");
    let (_, sla) = t.get(&d.l1, &format!("{p}/sla")).await;
    assert_eq!(
        (target(&sla, "first_response")["policy"].as_str(), target(&sla, "first_response")["state"].as_str()),
        (Some("P3 default"), Some("running")),
        "a preview writes nothing"
    );

    // Monday: pending on the user 10:00-11:00.
    t.clock.set(utc("2026-11-23T10:00"));
    t.patch(&d.l1, &p, json!({"state": "pending", "pending_reason": "user"})).await;
    let (_, sla) = t.get(&d.l1, &format!("{p}/sla")).await;
    assert_eq!(target(&sla, "first_response")["state"], "paused");
    assert_eq!(target(&sla, "first_response")["elapsed_minutes"], 120);
    t.clock.set(utc("2026-11-23T11:00"));
    t.post(&d.alice, &format!("{p}/comments"), json!({"body": "Here are the details"})).await;
    let (_, sla) = t.get(&d.l1, &format!("{p}/sla")).await;
    let fr = target(&sla, "first_response");
    assert_eq!(
        (fr["state"].as_str(), fr["due_at"].clone()),
        (Some("running"), json!(utc("2026-11-23T13:00").to_rfc3339())),
        "{sla}"
    );
    assert_eq!(fr["paused"][0]["to"], utc("2026-11-23T11:00").to_rfc3339());
    let explanation = fr["explanation"].as_str().unwrap();
    assert!(explanation.contains("1 h on Fri 2026-11-20") && explanation.contains("paused 1 h"), "{explanation}");

    // A work note does not count as a response; a public reply does.
    t.clock.set(utc("2026-11-23T12:15"));
    t.post(&d.l1, &format!("{p}/comments"), json!({"body": "checking quotas", "visibility": "internal"})).await;
    assert_eq!(target(&t.get(&d.l1, &format!("{p}/sla")).await.1, "first_response")["state"], "running");
    t.clock.set(utc("2026-11-23T12:30"));
    t.post(&d.l1, &format!("{p}/comments"), json!({"body": "We found the cause"})).await;
    let (_, sla) = t.get(&d.l1, &format!("{p}/sla")).await;
    assert_eq!(target(&sla, "first_response")["state"], "met");
    assert_eq!(target(&sla, "resolution")["state"], "running");

    // Raised to P1 (24x7, 15 min / 4 h), measured from the original start: both breached in hindsight.
    t.patch(&d.l1, &p, json!({"impact": 1, "urgency": 1})).await;
    let (_, sla) = t.get(&d.l1, &format!("{p}/sla")).await;
    assert_eq!(
        (target(&sla, "resolution")["policy"].as_str(), target(&sla, "resolution")["state"].as_str()),
        (Some("P1 default"), Some("breached")),
        "{sla}"
    );
    assert_eq!(target(&sla, "first_response")["state"], "breached");

    // Resolving stops the resolution clock; reopening continues it.
    t.post(&d.l1, &format!("{p}/resolve"), json!({"resolution_code": "fixed", "resolution_notes": "Quota raised"}))
        .await;
    let (_, tl) = t.get(&d.l1, &format!("{p}/timeline")).await;
    let sla_kinds: Vec<&str> = tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .filter(|k| k.starts_with("sla_"))
        .collect();
    assert_eq!(
        sla_kinds,
        [
            "sla_paused",
            "sla_paused",
            "sla_resumed",
            "sla_resumed",
            "sla_met",
            "sla_retargeted",
            "sla_retargeted",
            "sla_breached"
        ]
    );
    let (_, tl) = t.get(&d.alice, &format!("{p}/timeline")).await;
    assert!(!tl.to_string().contains("sla_"), "SLA entries are internal");
    assert!(
        !tl.to_string().contains("P3 default") && !tl.to_string().contains("P1 default"),
        "no SLA details for requesters: {tl}"
    );
    let (_, staff_tl) = t.get(&d.l1, &format!("{p}/timeline")).await;
    assert_eq!(staff_tl["items"][0]["data"]["sla"][0]["policy"], "P3 default", "staff see the targets set at creation");
}

/// The SLA timer: a warning at 50 %, the breach with the assignee and the group's lead to notify, the
/// leads' breach queue, and a resolution breach that escalates to the next tier. Checks are idempotent.
async fn sla_timers_warn_then_breach_and_escalate(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let (_, groups) = t.get(&d.admin, "/api/v1/groups").await;
    let sd = groups.as_array().unwrap().iter().find(|g| g["name"] == "Service Desk").unwrap()["id"].clone();
    let (s, _) = t.patch(&d.admin, &format!("/api/v1/groups/{sd}"), json!({"lead": "sam@example.com"})).await;
    assert_eq!(s, StatusCode::OK);
    let worker = orion_app::jobs::standard_worker(t.app.clone(), "test-worker");
    t.clock.set(utc("2026-11-23T09:00")); // Monday
    let (_, inc) = t
        .post(
            &d.l1,
            "/api/v1/tickets",
            json!({"title": "VPN down for sales", "impact": 2, "urgency": 2, "assignee": "sam@example.com"}),
        )
        .await;
    let p = format!("/api/v1/tickets/{}", inc["number"].as_str().unwrap());
    let sla_entries = |tl: &Value| -> Vec<(String, Value)> {
        tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| matches!(e["kind"].as_str(), Some("sla_warning" | "sla_breached" | "escalated")))
            .map(|e| (e["kind"].as_str().unwrap().to_string(), e["data"].clone()))
            .collect()
    };

    assert_eq!(worker.run_due().await.unwrap().completed, 0, "nothing due at the start");
    t.clock.set(utc("2026-11-23T11:05"));
    assert_eq!(worker.run_due().await.unwrap().completed, 1);
    let (_, tl) = t.get(&d.l1, &format!("{p}/timeline")).await;
    let e = sla_entries(&tl);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(
        (e[0].0.as_str(), e[0].1["target"].as_str(), e[0].1["percent"].as_i64()),
        ("sla_warning", Some("first_response"), Some(50))
    );

    t.clock.set(utc("2026-11-23T13:30"));
    worker.run_due().await.unwrap();
    let (_, tl) = t.get(&d.l1, &format!("{p}/timeline")).await;
    let e = sla_entries(&tl);
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!((e[1].0.as_str(), e[1].1["target"].as_str()), ("sla_breached", Some("first_response")));
    assert_eq!(e[1].1["notify"], json!(["sam@example.com"]), "the assignee, who also leads the group");
    // Sam, assignee and lead, has both in the inbox (once each); marking one read filters it out.
    let (_, inbox) = t.get(&d.l1, "/api/v1/me/notifications").await;
    let kinds: Vec<&str> = inbox["items"].as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["sla_breached", "sla_warning"], "{inbox}");
    assert_eq!(inbox["items"][0]["ticket"], inc["number"]);
    let first = inbox["items"][0]["id"].clone();
    assert_eq!(
        t.send(&d.l2, reqwest::Method::POST, &format!("/api/v1/me/notifications/{first}/read"), None).await.0,
        StatusCode::NOT_FOUND,
        "not Dev's"
    );
    assert_eq!(
        t.send(&d.l1, reqwest::Method::POST, &format!("/api/v1/me/notifications/{first}/read"), None).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, unread) = t.get(&d.l1, "/api/v1/me/notifications?unread=true").await;
    assert_eq!(unread["items"].as_array().unwrap().len(), 1);
    let (s, queue) = t.get(&d.l1, "/api/v1/sla/breaches").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(queue["items"][0]["number"], inc["number"]);
    assert_eq!(t.get(&d.alice, "/api/v1/sla/breaches").await.0, StatusCode::FORBIDDEN);

    // Resolution: 3 business days of 8 h from Monday 09:00 ends Wednesday 17:00.
    t.clock.set(utc("2026-11-26T10:00"));
    worker.run_due().await.unwrap();
    worker.run_due().await.unwrap();
    let (_, tl) = t.get(&d.l1, &format!("{p}/timeline")).await;
    let e = sla_entries(&tl);
    let kinds: Vec<&str> = e.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["sla_warning", "sla_breached", "sla_breached", "escalated"], "{e:?}");
    assert_eq!(e[2].1["due"], utc("2026-11-25T17:00").to_rfc3339());
    assert_eq!(e[3].1["automatic"], true);
    let (_, now) = t.get(&d.l1, &p).await;
    assert_eq!(
        (now["assignment_group"].as_str(), now["state"].as_str(), now["escalation_count"].as_i64()),
        (Some("Desktop Support"), Some("new"), Some(1))
    );
    let (_, sla) = t.get(&d.l1, &format!("{p}/sla")).await;
    assert!(sla.as_array().unwrap().iter().all(|k| k["state"] == "breached"), "{sla}");

    // Resolved tickets leave the breach queue.
    t.post(&d.l2, &format!("{p}/resolve"), json!({"resolution_code": "fixed", "resolution_notes": "Tunnel reset"}))
        .await;
    let (_, queue) = t.get(&d.l1, "/api/v1/sla/breaches").await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 0);
}

/// An admin moves "Business hours" to Berlin time: a P3 logged Friday 16:00 Berlin is due for its
/// first response Monday 12:00 Berlin (11:00 UTC). Bad calendars are refused with the field named.
async fn calendars_set_the_zone_and_hours_of_slas(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let berlin = json!({"time_zone": "Europe/Berlin", "week": [[[540, 1020]], [[540, 1020]], [[540, 1020]], [[540, 1020]], [[540, 1020]], [], []]});
    let (s, _) = t.put(&d.l1, "/api/v1/sla/calendars/Business%20hours", berlin.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = t
        .put(
            &d.admin,
            "/api/v1/sla/calendars/Business%20hours",
            json!({"time_zone": "Europe/Atlantis", "week": berlin["week"]}),
        )
        .await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["time_zone"].is_string(), "{b}");
    let (s, b) = t
        .put(&d.admin, "/api/v1/sla/calendars/Business%20hours", json!({"time_zone": "UTC", "week": [[[600, 540]]]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = t.put(&d.admin, "/api/v1/sla/calendars/Business%20hours", berlin).await;
    assert_eq!((s, b["time_zone"].as_str()), (StatusCode::OK, Some("Europe/Berlin")), "{b}");

    t.clock.set(utc("2026-11-20T15:00")); // Friday 16:00 in Berlin
    let (_, inc) =
        t.post(&d.l1, "/api/v1/tickets", json!({"title": "Laptop will not dock", "impact": 2, "urgency": 2})).await;
    let (_, sla) = t.get(&d.l1, &format!("/api/v1/tickets/{}/sla", inc["number"].as_str().unwrap())).await;
    assert_eq!(target(&sla, "first_response")["due_at"], utc("2026-11-23T11:00").to_rfc3339(), "{sla}");
    assert!(target(&sla, "first_response")["explanation"].as_str().unwrap().contains("(Europe/Berlin)"));

    let (s, policies) = t.get(&d.l1, "/api/v1/sla/policies").await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = policies.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["P1 default", "P2 default", "P3 default", "P4 default", "P5 default"]);
    assert_eq!(policies[0]["calendar"], "24x7");
    assert_eq!(policies[4]["resolution_minutes"], Value::Null);

    // A specific policy before the defaults: service requests for Hardware get 2 h / 2 days.
    let hw = json!({"position": 5, "kinds": ["service_request"], "category": "Hardware", "calendar": "Business hours",
                    "first_response_minutes": 120, "resolution_minutes": 960});
    assert_eq!(t.put(&d.l1, "/api/v1/sla/policies/Hardware%20requests", hw.clone()).await.0, StatusCode::FORBIDDEN);
    let (s, b) = t
        .put(
            &d.admin,
            "/api/v1/sla/policies/Bad",
            json!({"priorities": ["P7"], "calendar": "Mars", "warnings_percent": [120]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    for f in ["priorities", "calendar", "warnings_percent", "resolution_minutes"] {
        assert!(b["error"]["fields"][f].is_string(), "{f} not named: {b}");
    }
    let (s, b) = t.put(&d.admin, "/api/v1/sla/policies/Hardware%20requests", hw).await;
    assert_eq!((s, b["position"].as_i64()), (StatusCode::OK, Some(5)), "{b}");
    t.post(&d.admin, "/api/v1/categories", json!({"name": "Hardware"})).await;
    t.post(&d.admin, "/api/v1/categories", json!({"name": "Monitor", "parent": "Hardware"})).await;
    let (_, req) = t
        .post(
            &d.l1,
            "/api/v1/tickets",
            json!({"kind": "service_request", "title": "Second monitor", "category": "Hardware / Monitor"}),
        )
        .await;
    let (_, sla) = t.get(&d.l1, &format!("/api/v1/tickets/{}/sla", req["number"].as_str().unwrap())).await;
    assert_eq!(
        (target(&sla, "resolution")["policy"].as_str(), target(&sla, "resolution")["target_minutes"].as_i64()),
        (Some("Hardware requests"), Some(960)),
        "{sla}"
    );

    // The requester's department: Finance gets a faster P4.
    let (s, b) = t
        .post(&d.admin, "/api/v1/users", json!({"email": "fin@example.com", "name": "Fin", "department": "Finance"}))
        .await;
    assert_eq!((s, b["department"].as_str()), (StatusCode::CREATED, Some("Finance")), "{b}");
    let fin = json!({"position": 6, "priorities": ["P4"], "department": "finance", "first_response_minutes": 30, "resolution_minutes": 480});
    assert_eq!(t.put(&d.admin, "/api/v1/sla/policies/Finance%20P4", fin).await.0, StatusCode::OK);
    let (_, a) = t
        .post(
            &d.l1,
            "/api/v1/tickets",
            json!({"title": "Excel add-in", "impact": 3, "urgency": 2, "requester": "fin@example.com"}),
        )
        .await;
    let (_, b) = t
        .post(
            &d.l1,
            "/api/v1/tickets",
            json!({"title": "Excel add-in", "impact": 3, "urgency": 2, "requester": "bob@example.com"}),
        )
        .await;
    let policy_of = |sla: &Value| target(sla, "first_response")["policy"].as_str().unwrap().to_string();
    let (_, sla_a) = t.get(&d.l1, &format!("/api/v1/tickets/{}/sla", a["number"].as_str().unwrap())).await;
    let (_, sla_b) = t.get(&d.l1, &format!("/api/v1/tickets/{}/sla", b["number"].as_str().unwrap())).await;
    assert_eq!((policy_of(&sla_a), policy_of(&sla_b)), ("Finance P4".to_string(), "P4 default".to_string()));
}

/// An hour with the service desk, two with desktop support; resolved time does not count; an admin
/// tightens the tier-2 OLA and the ticket is over it.
async fn time_with_each_tier_is_measured_against_olas(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    t.clock.set(utc("2026-11-23T09:00"));
    let (_, inc) = t.post(&d.l1, "/api/v1/tickets", json!({"title": "Printer offline"})).await;
    let p = format!("/api/v1/tickets/{}", inc["number"].as_str().unwrap());
    t.clock.set(utc("2026-11-23T10:00"));
    t.post(&d.l1, &format!("{p}/escalate"), json!({"reason": "driver", "troubleshooting": "power cycled"})).await;
    t.clock.set(utc("2026-11-23T12:00"));
    t.post(&d.l2, &format!("{p}/resolve"), json!({"resolution_code": "fixed", "resolution_notes": "New driver"})).await;
    t.clock.set(utc("2026-11-24T12:00"));
    let (s, ola) = t.get(&d.l1, &format!("{p}/ola")).await;
    assert_eq!(s, StatusCode::OK, "{ola}");
    assert_eq!(
        ola["tiers"],
        json!([
            {"tier": 1, "working_minutes": 60, "target_minutes": 60, "state": "within"},
            {"tier": 2, "working_minutes": 120, "target_minutes": 480, "state": "within"}
        ])
    );
    assert_eq!(ola["spans"][1]["group"], "Desktop Support");
    assert_eq!(ola["spans"][1]["to"], utc("2026-11-23T12:00").to_rfc3339());

    // Recorded at resolution for reports across tickets.
    let report = "/api/v1/reports/ola?from=2026-11-23&to=2026-11-24";
    let (s, r) = t.get(&d.l1, report).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let tier = |r: &Value, n: i64| r["tiers"].as_array().unwrap().iter().find(|x| x["tier"] == n).cloned().unwrap();
    assert_eq!(
        (tier(&r, 1)["tickets"].as_i64(), tier(&r, 1)["average_minutes"].as_i64(), tier(&r, 1)["over_target"].as_i64()),
        (Some(1), Some(60), Some(0))
    );
    assert_eq!(
        (tier(&r, 2)["average_minutes"].as_i64(), tier(&r, 2)["within_target_percent"].as_i64()),
        (Some(120), Some(100))
    );
    let groups: Vec<&str> = r["groups"].as_array().unwrap().iter().map(|g| g["group"].as_str().unwrap()).collect();
    assert_eq!(groups, ["Service Desk", "Desktop Support"]);
    let (_, one) = t.get(&d.l1, &format!("{report}&group=Desktop%20Support")).await;
    assert_eq!(one["groups"].as_array().unwrap().len(), 1, "{one}");
    let (_, later) = t.get(&d.l1, "/api/v1/reports/ola?from=2026-11-24&to=2026-11-25").await;
    assert_eq!(later["tiers"], json!([]), "resolved on the 23rd, not in this period");
    let (s, b) = t.get(&d.l1, "/api/v1/reports/ola?from=yesterday&group=Nobody").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["error"]["fields"]["from"].is_string() && b["error"]["fields"]["group"].is_string(), "{b}");
    assert_eq!(t.get(&d.alice, report).await.0, StatusCode::FORBIDDEN);
    // Reopened and resolved again: the ticket's rows are replaced, not added.
    t.clock.set(utc("2026-11-23T12:00"));
    let (s, b) = t.post(&d.l1, &format!("{p}/reopen"), json!({"reason": "still offline"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    t.clock.set(utc("2026-11-23T13:00"));
    let (s, b) =
        t.post(&d.l2, &format!("{p}/resolve"), json!({"resolution_code": "fixed", "resolution_notes": "Cable"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, r) = t.get(&d.l1, report).await;
    assert_eq!((tier(&r, 2)["tickets"].as_i64(), tier(&r, 2)["average_minutes"].as_i64()), (Some(1), Some(180)), "{r}");
    t.clock.set(utc("2026-11-24T12:00"));

    let tight = json!({"tier1_minutes": 30, "tier2_minutes": 90, "tier3_minutes": 960});
    assert_eq!(t.put(&d.l1, "/api/v1/settings/ola", tight.clone()).await.0, StatusCode::FORBIDDEN);
    let (s, b) = t
        .put(&d.admin, "/api/v1/settings/ola", json!({"tier1_minutes": 0, "tier2_minutes": 90, "tier3_minutes": 960}))
        .await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["tier1_minutes"].is_string(), "{b}");
    assert_eq!(t.put(&d.admin, "/api/v1/settings/ola", tight).await.0, StatusCode::OK);
    let (_, ola) = t.get(&d.l1, &format!("{p}/ola")).await;
    let states: Vec<&str> = ola["tiers"].as_array().unwrap().iter().map(|x| x["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["over", "over"]);
    assert_eq!(t.get(&d.alice, &format!("{p}/ola")).await.0, StatusCode::FORBIDDEN);
}

/// A pause moves the timer: paused 10:00-12:00 with 1 h used of a 4 h first-response target, the
/// 50 % warning falls at 13:00 and the breach at 15:00, not at 11:00 and 13:00.
async fn sla_timers_move_with_pauses(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let worker = orion_app::jobs::standard_worker(t.app.clone(), "test-worker");
    let timers = |tl: &Value| -> Vec<String> {
        tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["kind"].as_str())
            .filter(|k| *k == "sla_warning" || *k == "sla_breached")
            .map(str::to_string)
            .collect()
    };
    t.clock.set(utc("2026-11-23T09:00"));
    let (_, inc) = t
        .post(
            &d.l1,
            "/api/v1/tickets",
            json!({"title": "Scanner", "impact": 2, "urgency": 2, "assignee": "sam@example.com"}),
        )
        .await;
    let p = format!("/api/v1/tickets/{}", inc["number"].as_str().unwrap());
    t.clock.set(utc("2026-11-23T10:00"));
    t.patch(&d.l1, &p, json!({"state": "pending", "pending_reason": "user"})).await;
    t.clock.set(utc("2026-11-23T11:05"));
    worker.run_due().await.unwrap();
    t.clock.set(utc("2026-11-23T12:00"));
    t.patch(&d.l1, &p, json!({"state": "in_progress"})).await;
    assert!(timers(&t.get(&d.l1, &format!("{p}/timeline")).await.1).is_empty(), "nothing is due while paused");
    t.clock.set(utc("2026-11-23T12:55"));
    worker.run_due().await.unwrap();
    assert!(timers(&t.get(&d.l1, &format!("{p}/timeline")).await.1).is_empty(), "50 % is at 13:00 now");
    t.clock.set(utc("2026-11-23T13:05"));
    worker.run_due().await.unwrap();
    assert_eq!(timers(&t.get(&d.l1, &format!("{p}/timeline")).await.1), ["sla_warning"]);
    t.clock.set(utc("2026-11-23T15:05"));
    worker.run_due().await.unwrap();
    let (_, tl) = t.get(&d.l1, &format!("{p}/timeline")).await;
    assert_eq!(timers(&tl), ["sla_warning", "sla_breached"]);
    let breach = tl["items"].as_array().unwrap().iter().find(|e| e["kind"] == "sla_breached").unwrap();
    assert_eq!(
        (breach["data"]["target"].as_str(), breach["data"]["due"].clone()),
        (Some("first_response"), json!(utc("2026-11-23T15:00").to_rfc3339()))
    );
}

/// A policy with an update interval, restart on priority change and its own escalation rules:
/// every public reply or logged call starts the update clock again; a missed update notifies the
/// lead only; half the resolution target used raises the priority, which restarts the clocks.
async fn sla_policies_set_update_intervals_restarts_and_escalation_rules(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let lead = t.user(&d.admin, "lead@example.com", "agent", &["Service Desk"]).await;
    let (_, groups) = t.get(&d.admin, "/api/v1/groups").await;
    let sd = groups.as_array().unwrap().iter().find(|g| g["name"] == "Service Desk").unwrap()["id"].clone();
    t.patch(&d.admin, &format!("/api/v1/groups/{sd}"), json!({"lead": "lead@example.com"})).await;
    let policy = json!({
        "position": 1, "priorities": ["P2"], "calendar": "24x7",
        "first_response_minutes": 60, "resolution_minutes": 480, "update_interval_minutes": 120,
        "on_priority_change": "restart",
        "escalation_rules": [
            {"on": "warning", "target": "resolution", "percent": 50, "actions": ["raise_priority", "notify_lead"]},
            {"on": "breach", "target": "update", "actions": ["notify_lead"]}
        ]
    });
    let mut bad = policy.clone();
    bad["escalation_rules"][0]["percent"] = json!(60);
    bad["on_priority_change"] = json!("sometimes");
    let (s, b) = t.put(&d.admin, "/api/v1/sla/policies/Urgent%20updates", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let fields = &b["error"]["fields"];
    assert!(fields["escalation_rules[0].percent"].is_string() && fields["on_priority_change"].is_string(), "{b}");
    let (s, b) = t.put(&d.admin, "/api/v1/sla/policies/Urgent%20updates", policy).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!((b["update_interval_minutes"].as_i64(), b["on_priority_change"].as_str()), (Some(120), Some("restart")));
    assert_eq!(b["escalation_rules"][1]["target"], "update");

    let worker = orion_app::jobs::standard_worker(t.app.clone(), "test-worker");
    t.clock.set(utc("2026-11-23T09:00"));
    let (_, inc) = t
        .post(
            &d.l1,
            "/api/v1/tickets",
            json!({"title": "Payroll share unreachable", "impact": 1, "urgency": 2, "assignee": "sam@example.com",
                   "requester": "alice@example.com"}),
        )
        .await;
    assert_eq!(inc["priority"], "P2", "{inc}");
    let p = format!("/api/v1/tickets/{}", inc["number"].as_str().unwrap());
    let (_, sla) = t.get(&d.l1, &format!("{p}/sla")).await;
    assert_eq!(target(&sla, "update")["due_at"], utc("2026-11-23T11:00").to_rfc3339(), "{sla}");

    // A public reply meets the first response and restarts the update clock; so does a logged call,
    // even an internal one, which the requester never sees.
    t.clock.set(utc("2026-11-23T09:30"));
    t.post(&d.l1, &format!("{p}/comments"), json!({"body": "Looking into it."})).await;
    t.clock.set(utc("2026-11-23T10:00"));
    let (s, b) = t.post(&d.alice, &format!("{p}/comments"), json!({"body": "I called", "phone_call": true})).await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["phone_call"].is_string(), "{b}");
    let (s, call) = t
        .post(
            &d.l1,
            &format!("{p}/comments"),
            json!({"body": "Called Alice: share mapped by IP works", "visibility": "internal", "phone_call": true}),
        )
        .await;
    assert_eq!((s, call["kind"].as_str()), (StatusCode::CREATED, Some("phone_call")), "{call}");
    let (_, sla) = t.get(&d.l1, &format!("{p}/sla")).await;
    assert_eq!(target(&sla, "first_response")["state"], "met");
    let update = target(&sla, "update");
    assert_eq!((update["state"].as_str(), update["elapsed_minutes"].as_i64()), (Some("running"), Some(0)), "{sla}");
    assert_eq!(update["due_at"], utc("2026-11-23T12:00").to_rfc3339());
    let (_, seen) = t.get(&d.alice, &format!("{p}/timeline")).await;
    assert!(seen["items"].as_array().unwrap().iter().all(|e| e["kind"] != "phone_call"), "{seen}");

    // No update by 12:00: the lead is told, the assignee is not (the policy's rules replace the defaults).
    t.clock.set(utc("2026-11-23T12:05"));
    worker.run_due().await.unwrap();
    let (_, tl) = t.get(&d.l1, &format!("{p}/timeline")).await;
    let entries = tl["items"].as_array().unwrap();
    let breach = entries.iter().find(|e| e["kind"] == "sla_breached").expect("update breach");
    assert_eq!(
        (breach["data"]["target"].as_str(), &breach["data"]["notify"]),
        (Some("update"), &json!(["lead@example.com"]))
    );
    assert!(entries.iter().filter(|e| e["kind"] == "sla_restarted").count() >= 2, "reply and call restart it");
    let (_, lead_inbox) = t.get(&lead, "/api/v1/me/notifications").await;
    assert_eq!(lead_inbox["items"][0]["kind"], "sla_breached", "{lead_inbox}");
    let (_, sam_inbox) = t.get(&d.l1, "/api/v1/me/notifications").await;
    assert_eq!(sam_inbox["items"], json!([]), "no rule notifies the assignee: {sam_inbox}");
    let (_, queue) = t.get(&d.l1, "/api/v1/sla/breaches").await;
    assert_eq!(queue["items"][0]["number"], inc["number"], "a missed update puts it on the breach queue");

    // 13:00 is half of the 8 h resolution target: the priority goes up to P1 and, under `restart`,
    // the resolution clock starts again on P1's 4 h target; the met first response stays met.
    t.clock.set(utc("2026-11-23T13:01"));
    worker.run_due().await.unwrap();
    let (_, now) = t.get(&d.l1, &p).await;
    assert_eq!(now["priority"], "P1", "{now}");
    let (_, sla) = t.get(&d.l1, &format!("{p}/sla")).await;
    let resolution = target(&sla, "resolution");
    assert_eq!((resolution["policy"].as_str(), resolution["target_minutes"].as_i64()), (Some("P1 default"), Some(240)));
    assert_eq!(resolution["due_at"], utc("2026-11-23T17:01").to_rfc3339(), "{sla}");
    assert_eq!(target(&sla, "first_response")["state"], "met");
    let (_, tl) = t.get(&d.l1, &format!("{p}/timeline")).await;
    let raised = tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "fields_changed" && e["data"]["automatic"] == true);
    assert_eq!(raised.expect("automatic raise")["data"]["changes"][0]["to"], "P1");
    let retargeted: Vec<&Value> =
        tl["items"].as_array().unwrap().iter().filter(|e| e["kind"] == "sla_retargeted").collect();
    assert_eq!(retargeted[0]["data"]["mode"], "restart", "{retargeted:?}");
    // The update breach is over once someone updates the requester.
    t.post(&d.l1, &format!("{p}/comments"), json!({"body": "Fix under way."})).await;
    let (_, queue) = t.get(&d.l1, "/api/v1/sla/breaches").await;
    assert_eq!(queue["items"], json!([]), "{queue}");

    // A P5 has no resolution target; raised to P2 it gets the targets P5 lacked, counted from now.
    let (_, low) = t.post(&d.l1, "/api/v1/tickets", json!({"title": "Mouse squeaks", "impact": 3, "urgency": 3})).await;
    let q = format!("/api/v1/tickets/{}", low["number"].as_str().unwrap());
    let (_, sla) = t.get(&d.l1, &format!("{q}/sla")).await;
    assert_eq!(sla.as_array().unwrap().len(), 1, "{sla}");
    t.clock.set(utc("2026-11-23T14:31"));
    let (s, b) = t.patch(&d.l1, &q, json!({"impact": 1, "urgency": 2})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, sla) = t.get(&d.l1, &format!("{q}/sla")).await;
    let targets: Vec<&str> = sla.as_array().unwrap().iter().map(|k| k["target"].as_str().unwrap()).collect();
    assert_eq!(targets, ["first_response", "resolution", "update"]);
    assert_eq!(target(&sla, "resolution")["due_at"], utc("2026-11-23T22:31").to_rfc3339(), "{sla}");
    assert_eq!(target(&sla, "first_response")["state"], "breached", "90 of 60 min used: retargeted from 13:01");
}

/// Issue 22: an SLA rule's escalation goes through the ticket command an agent uses, so the clocks
/// follow the state it leaves. A ticket raised from P5 to P1 keeps its first-response clock under
/// the P5 policy (which pauses while waiting for the user) and runs its resolution clock under the
/// P1 policy (which never pauses and escalates on breach). Pending on the user, the resolution clock
/// breaches; the escalation puts the ticket back to new, and the paused first-response clock resumes.
async fn an_automatic_escalation_moves_clocks_of_different_policies_with_the_state(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    for (name, policy) in [
        (
            "Low, waits for users",
            json!({"position": 1, "priorities": ["P5"], "calendar": "24x7", "first_response_minutes": 240,
                   "resolution_minutes": 2400, "pause_on": ["user"]}),
        ),
        (
            "Critical, never waits",
            json!({"position": 1, "priorities": ["P1"], "calendar": "24x7", "resolution_minutes": 60,
                   "pause_on": [], "on_priority_change": "retarget",
                   "escalation_rules": [{"on": "breach", "target": "resolution", "actions": ["escalate"]}]}),
        ),
    ] {
        let (s, b) = t.put(&d.admin, &format!("/api/v1/sla/policies/{}", name.replace(' ', "%20")), policy).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let worker = orion_app::jobs::standard_worker(t.app.clone(), "test-worker");
    t.clock.set(utc("2026-11-23T09:00"));
    let (_, inc) = t
        .post(
            &d.l1,
            "/api/v1/tickets",
            json!({"title": "Label printer offline", "impact": 3, "urgency": 3,
                                                "assignee": "sam@example.com", "requester": "alice@example.com"}),
        )
        .await;
    assert_eq!(inc["priority"], "P5", "{inc}");
    let p = format!("/api/v1/tickets/{}", inc["number"].as_str().unwrap());
    let (s, b) = t.patch(&d.l1, &p, json!({"impact": 1, "urgency": 1})).await;
    assert_eq!((s, b["priority"].as_str()), (StatusCode::OK, Some("P1")), "{b}");
    let (_, sla) = t.get(&d.l1, &format!("{p}/sla")).await;
    assert_eq!(target(&sla, "first_response")["policy"], "Low, waits for users", "{sla}");
    assert_eq!(target(&sla, "resolution")["policy"], "Critical, never waits", "{sla}");

    t.clock.set(utc("2026-11-23T09:10"));
    let (s, b) = t.patch(&d.l1, &p, json!({"state": "pending", "pending_reason": "user"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, sla) = t.get(&d.l1, &format!("{p}/sla")).await;
    assert_eq!(target(&sla, "first_response")["state"], "paused", "{sla}");
    assert_eq!(target(&sla, "resolution")["state"], "running", "{sla}");

    t.clock.set(utc("2026-11-23T10:05"));
    worker.run_due().await.unwrap();
    worker.run_due().await.unwrap();
    let (_, now) = t.get(&d.l1, &p).await;
    assert_eq!(
        (now["assignment_group"].as_str(), now["state"].as_str()),
        (Some("Desktop Support"), Some("new")),
        "the breach escalated it: {now}"
    );
    let (_, sla) = t.get(&d.l1, &format!("{p}/sla")).await;
    assert_eq!(target(&sla, "first_response")["state"], "running", "no longer waiting for the user: {sla}");
    let (_, tl) = t.get(&d.l1, &format!("{p}/timeline")).await;
    let items = tl["items"].as_array().unwrap();
    let escalated = items.iter().position(|e| e["kind"] == "escalated" && e["data"]["automatic"] == true);
    let resumed = items.iter().position(|e| e["kind"] == "sla_resumed" && e["data"]["target"] == "first_response");
    assert!(escalated.is_some() && resumed > escalated, "the escalation, then the clock resuming: {tl}");
}
