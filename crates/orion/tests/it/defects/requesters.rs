//! A panic on non-ASCII passwords, a PostgreSQL search that let requesters probe internal text,
//! fields that are the desk's to set, and token errors that did not say which token.

use orion_testkit::{Engine, TestApp, engine_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};

engine_tests!(
    passwords_in_any_script_are_judged_not_panicked_on,
    a_requester_cannot_probe_internal_text_with_any_search_operator,
    requesters_set_only_what_is_theirs_to_set,
    integration_and_inventory_endpoints_say_which_token_they_take,
);

struct Desk {
    t: TestApp,
    admin: String,
    agent: String,
    alice: String,
}

async fn desk(engine: Engine) -> Option<Desk> {
    let t = TestApp::spawn(engine).await?;
    let admin = t.bootstrap_admin("admin@example.com").await;
    let (s, b) = t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let agent = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    let alice = t.user(&admin, "alice@example.com", "requester", &[]).await;
    Some(Desk { t, admin, agent, alice })
}

async fn passwords_in_any_script_are_judged_not_panicked_on(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    // The 8th byte of each falls inside a character; the first one used to drop the connection.
    for (i, password) in
        ["abcdefgé horse battery staple", "我的打印机总是卡纸了怎么办呢朋友们", "パスワードは長い文章がいいです"]
            .iter()
            .enumerate()
    {
        let body =
            json!({"email": format!("p{i}@example.com"), "name": "P Q", "role": "requester", "password": password});
        let (s, b) = d.t.post(&d.admin, "/api/v1/users", body).await;
        assert_eq!(s, StatusCode::CREATED, "{password}: {b}");
    }
    // A weak one in another script is refused like any other, naming the field.
    let body = json!({"email": "p9@example.com", "name": "P Q", "role": "requester", "password": "éééééééééééééééé"});
    let (s, b) = d.t.post(&d.admin, "/api/v1/users", body).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b["error"]["fields"]["password"].is_string(), "{b}");
}

fn escape(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The ticket numbers a search finds for `token`.
async fn found(t: &TestApp, token: &str, q: &str) -> Vec<String> {
    let (s, b) = t.get(token, &format!("/api/v1/search?type=ticket&q={}", escape(q))).await;
    assert_eq!(s, StatusCode::OK, "{q}: {b}");
    b["tickets"].as_array().unwrap().iter().map(|h| h["number"].as_str().unwrap().to_string()).collect::<Vec<_>>()
}

async fn a_requester_cannot_probe_internal_text_with_any_search_operator(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let (s, b) = t
        .post(&d.alice, "/api/v1/tickets", json!({"title": "Zebraonefoo printer jams", "description": "Tray two"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let n = b["number"].as_str().unwrap().to_string();
    let path = format!("/api/v1/tickets/{n}");
    // Internal text of three kinds: a work note, a move's note and a resolution's internal notes.
    let (s, b) = t
        .post(
            &d.agent,
            &format!("{path}/comments"),
            json!({"body": "Admin password hunter2 swordfish", "visibility": "internal"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = t.patch(&d.agent, &path, json!({"assignee": "sam@example.com"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = t
        .post(
            &d.agent,
            &format!("{path}/comments"),
            json!({"body": "Vendor case quagmirex opened", "visibility": "internal"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let mine = vec![n.clone()];
    let none: Vec<String> = Vec::new();

    // Staff find the internal words; the requester finds their ticket by its public words.
    assert_eq!(found(t, &d.agent, "hunter2").await, mine);
    assert_eq!(found(t, &d.alice, "zebraonefoo").await, mine);
    // AND, OR, phrase and prefix: internal words never match for the requester.
    for q in ["zebraonefoo hunter2", "hunter2", "hunter2 OR quagmirex", "\"hunter2 swordfish\"", "hunte*", "quagmire*"]
    {
        assert_eq!(found(t, &d.alice, q).await, none, "requester, {q}");
        assert!(!found(t, &d.agent, q).await.is_empty(), "staff, {q}");
    }
    // OR with a public word matches for the public word, whatever the internal one.
    assert_eq!(found(t, &d.alice, "zebraonefoo OR hunter2").await, mine);
    // NOT: excluding a word that is only in internal text must not hide the ticket (it did on
    // PostgreSQL: `-hunter2` hid it, `-hunter3` did not, which told the requester the note's words).
    for q in [
        "zebraonefoo -hunter2",
        "zebraonefoo -hunter3",
        "zebraonefoo -\"hunter2 swordfish\"",
        "zebraonefoo -hunt*",
        "zebraonefoo -quagmirex",
    ] {
        assert_eq!(found(t, &d.alice, q).await, mine, "requester, {q}");
    }
    // Excluding a public word still works.
    assert_eq!(found(t, &d.alice, "zebraonefoo -tray").await, none);
    assert_eq!(found(t, &d.agent, "zebraonefoo -hunter2").await, none, "staff exclusions see all the text");
}

async fn requesters_set_only_what_is_theirs_to_set(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    // Impact is the desk's assessment; a requester naming it is told so, and nothing is written.
    let (s, b) =
        t.post(&d.alice, "/api/v1/tickets", json!({"title": "Everything is down", "impact": 1, "urgency": 1})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b["error"]["fields"]["impact"].as_str().unwrap().contains("service desk"), "{b}");
    // The channel is the one they use.
    for channel in ["phone", "walk_in", "monitoring", "email"] {
        let (s, b) = t.post(&d.alice, "/api/v1/tickets", json!({"title": "Phone?", "channel": channel})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{channel}: {b}");
        assert!(b["error"]["fields"]["channel"].is_string(), "{b}");
    }
    let (_, list) = t.get(&d.agent, "/api/v1/tickets").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "refused requests wrote nothing: {list}");
    // Urgency is theirs; the channel defaults to the API here and may be given as portal.
    let (s, b) = t.post(&d.alice, "/api/v1/tickets", json!({"title": "Need it today", "urgency": 1})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!((b["impact"].as_i64(), b["urgency"].as_i64(), b["channel"].as_str()), (Some(3), Some(1), Some("api")));
    let (s, b) = t.post(&d.alice, "/api/v1/tickets", json!({"title": "From the portal", "channel": "portal"})).await;
    assert_eq!((s, b["channel"].as_str()), (StatusCode::CREATED, Some("portal")), "{b}");
    // The desk still sets both for a caller.
    let (s, b) = t
        .post(
            &d.agent,
            "/api/v1/tickets",
            json!({"title": "Payroll down", "impact": 1, "urgency": 1, "channel": "phone", "requester": "alice@example.com"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!((b["priority"].as_str(), b["channel"].as_str()), (Some("P1"), Some("phone")), "{b}");
}

async fn integration_and_inventory_endpoints_say_which_token_they_take(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let post = |path: &str, token: Option<&str>, body: &'static str| {
        let mut r = t.client.post(format!("{}{path}", t.base)).body(body);
        if let Some(tok) = token {
            r = r.bearer_auth(tok);
        }
        async move {
            let resp = r.send().await.unwrap();
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    let alert = r#"{"version":"4","status":"firing","alerts":[]}"#;
    for token in [Some(d.admin.as_str()), None, Some("orion_mon_0000")] {
        let (s, b) = post("/api/v1/integrations/alertmanager", token, alert).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
        let m = b["error"]["message"].as_str().unwrap();
        assert!(m.contains("integration token") && m.contains("POST /api/v1/integrations"), "{m}");
        assert!(!m.contains("send a valid API token"), "{m}");
    }
    let prolog = "<?xml version=\"1.0\"?><REQUEST><DEVICEID>pc-1</DEVICEID><QUERY>PROLOG</QUERY></REQUEST>";
    for token in [Some(d.admin.as_str()), None] {
        let (s, b) = post("/api/v1/inventory", token, prolog).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
        let m = b["error"]["message"].as_str().unwrap();
        assert!(m.contains("inventory token") && m.contains("POST /api/v1/inventory/tokens"), "{m}");
    }
    // An ordinary endpoint still asks for an API token.
    let (s, b) = t.get("", "/api/v1/tickets").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(b["error"]["message"].as_str().unwrap().contains("API token"), "{b}");
}
