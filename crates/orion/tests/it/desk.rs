//! Issue 26: the agent's desk — caller lookup, the caller on the ticket page, the bell, routing
//! rules, tags, restricted tickets, macros, notifications as each agent chose, following and the
//! "someone else is replying" hint — over HTTP like the console and the API use it, on
//! SQLite and PostgreSQL.

use crate::web::{PW, Web};
use orion_testkit::{Engine, TestApp, engine_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};

engine_tests!(
    a_surname_a_phone_number_or_a_department_finds_the_caller,
    people_from_before_the_upgrade_are_found,
    the_ticket_page_shows_who_is_calling_and_the_queue_filters_by_caller,
    the_bell_shows_an_sla_warning_live_and_it_is_marked_read,
    a_mailed_phishing_report_is_routed_to_security_and_hidden_from_l1_by_every_route,
    rules_are_checked_in_order_kept_valid_and_never_override_what_staff_chose,
    admins_keep_routing_rules_in_the_console_and_agents_tag_and_restrict_tickets,
    a_macro_applies_its_reply_and_field_changes_in_one_step,
    agents_hear_of_what_concerns_them_as_they_chose,
    followers_hear_of_changes_and_colleagues_see_who_is_replying,
    a_rule_answers_the_requester_in_place_of_the_received_mail,
    rules_marked_so_act_again_when_a_person_changes_the_ticket,
);

/// The e-mail addresses `q` finds over the API, in the order given.
async fn found(t: &TestApp, token: &str, q: &str) -> Vec<String> {
    let (s, page) = t.get(token, &format!("/api/v1/users?q={}", urlencode(q))).await;
    assert_eq!(s, StatusCode::OK, "{q}: {page}");
    page["items"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_string()).collect()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn callers(t: &TestApp, admin: &str) {
    for (email, name, phone, department) in [
        (
            "anna.mueller@example.com",
            "Anna Müller-Lüdenscheidt",
            Some("+49 30 1234-5678"),
            Some("Finance & Controlling"),
        ),
        ("sean@example.com", "Seán O'Brien", Some("030 9876 5432"), Some("Sales")),
        ("zoe@example.com", "Zoë Smith", None, Some("Human Resources")),
        ("muller.b@example.com", "Bernd Muller", None, None),
    ] {
        let (s, u) = t
            .post(
                admin,
                "/api/v1/users",
                json!({"email": email, "name": name, "role": "requester", "phone": phone, "department": department}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
    }
}

async fn a_surname_a_phone_number_or_a_department_finds_the_caller(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    let sam = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    callers(&t, &admin).await;
    let anna = "anna.mueller@example.com";
    let sean = "sean@example.com";
    let zoe = "zoe@example.com";
    let bernd = "muller.b@example.com";

    // A surname (with or without its accent), a first name, any part of the address.
    assert_eq!(found(&t, &sam, "Müller").await, [anna, bernd]);
    assert_eq!(found(&t, &sam, "muller").await, [anna, bernd]);
    assert_eq!(found(&t, &sam, "lüdensch").await, [anna]);
    assert_eq!(found(&t, &sam, "ANNA mül").await, [anna]);
    assert_eq!(found(&t, &sam, "smith").await, [zoe]);
    assert_eq!(found(&t, &sam, "zoe").await, [zoe]);
    assert_eq!(found(&t, &sam, "obrien").await, [sean]);
    assert_eq!(found(&t, &sam, "o'brien").await, [sean]);
    assert_eq!(found(&t, &sam, "anna.mue").await, [anna]);
    // The phone number as it is written, or its last digits; a national number without its 0.
    assert_eq!(found(&t, &sam, "5678").await, [anna]);
    assert_eq!(found(&t, &sam, "+49 30 1234").await, [anna]);
    assert_eq!(found(&t, &sam, "30 9876").await, [sean]);
    // The department.
    assert_eq!(found(&t, &sam, "human res").await, [zoe]);
    assert_eq!(found(&t, &sam, "controlling").await, [anna]);
    // Nothing that is not the start of a word.
    assert!(found(&t, &sam, "ller").await.is_empty());
    assert!(found(&t, &sam, "anna smith").await.is_empty());

    // A change of name is found at once, the old name no more.
    let (_, page) = t.get(&admin, "/api/v1/users?q=zoe").await;
    let id = page["items"][0]["id"].as_i64().unwrap();
    let (s, _) = t.patch(&admin, &format!("/api/v1/users/{id}"), json!({"name": "Zoë Jones"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(found(&t, &sam, "jones").await, [zoe]);
    assert!(found(&t, &sam, "smith").await.is_empty());

    // The console's caller field offers them with their department and phone.
    t.app.set_password("sam@example.com", PW.into()).await.unwrap();
    let mut w = Web::new(&t);
    w.login("sam@example.com", PW).await;
    let r = w.get("/agent/people?requester=muller").await;
    assert!(r.body.contains("value=\"anna.mueller@example.com\""), "{}", r.body);
    assert!(r.body.contains("Finance &amp; Controlling") && r.body.contains("+49 30 1234-5678"), "{}", r.body);
    assert!(r.body.contains("value=\"muller.b@example.com\""), "{}", r.body);

    // Requesters cannot look people up.
    t.app.set_password("zoe@example.com", PW.into()).await.unwrap();
    let zoe_token = t.app.create_token_for("zoe@example.com", "t").await.unwrap().token;
    let (s, _): (StatusCode, Value) = t.get(&zoe_token, "/api/v1/users?q=anna").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// People who were there before the lookup index existed are indexed at the next start.
async fn people_from_before_the_upgrade_are_found(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    callers(&t, &admin).await;
    {
        use orion_store::sql::Sql;
        let mut tx = t.app.db.begin().await.unwrap();
        orion_store::execute_sql!(&mut tx.conn(), &Sql::new("DELETE FROM user_term")).unwrap();
        orion_store::execute_sql!(
            &mut tx.conn(),
            &Sql::new("INSERT INTO setting (key, value, updated_at) VALUES ('people.lookup_index_needed', 'true', 0)")
        )
        .unwrap();
        tx.commit().await.unwrap();
    }
    assert!(found(&t, &admin, "muller").await.is_empty(), "the index is empty");
    let t = t.restart().await;
    assert_eq!(found(&t, &admin, "muller").await, ["anna.mueller@example.com", "muller.b@example.com"]);
    assert_eq!(t.app.index_people_if_needed().await.unwrap(), 0, "done once");
}

/// The ticket page says who is calling (phone, department, VIP), their other open and last
/// tickets and their devices; the queue lists one caller's tickets, picked by name.
async fn the_ticket_page_shows_who_is_calling_and_the_queue_filters_by_caller(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    let sam = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    callers(&t, &admin).await;
    let anna = "anna.mueller@example.com";
    let (_, page) = t.get(&admin, "/api/v1/users?q=anna").await;
    let id = page["items"][0]["id"].as_i64().unwrap();
    assert_eq!(page["items"][0]["vip"], false);
    let (s, u) = t.patch(&admin, &format!("/api/v1/users/{id}"), json!({"vip": true, "location": "Berlin HQ"})).await;
    assert_eq!((s, u["vip"].as_bool()), (StatusCode::OK, Some(true)), "{u}");
    let mut numbers = Vec::new();
    for i in 1..=8 {
        let (s, tk) =
            t.post(&sam, "/api/v1/tickets", json!({"title": format!("Printer jam {i}"), "requester": anna})).await;
        assert_eq!(s, StatusCode::CREATED, "{tk}");
        numbers.push(tk["number"].as_str().unwrap().to_string());
    }
    let (_, other) =
        t.post(&sam, "/api/v1/tickets", json!({"title": "Not Anna's", "requester": "zoe@example.com"})).await;
    let (_, lt) = t.post(&admin, "/api/v1/assets", json!({"type": "laptop", "name": "LT-ANNA"})).await;
    let (s, b) = t.post(&sam, &format!("/api/v1/assets/{}/checkout", lt["id"]), json!({"user": anna})).await;
    assert!(s.is_success(), "{b}");

    t.app.set_password("sam@example.com", PW.into()).await.unwrap();
    let mut w = Web::new(&t);
    w.login("sam@example.com", PW).await;
    let last = numbers.last().unwrap();
    let page = w.get(&format!("/agent/tickets/{last}")).await.body;
    let card = page.split("id=\"caller-panel\"").nth(1).expect("a caller card").split("</section>").next().unwrap();
    assert!(card.contains("Caller: Anna Müller-Lüdenscheidt") && card.contains("id=\"caller-vip\">VIP<"), "{card}");
    assert!(card.contains("href=\"tel:+49 30 1234-5678\"") && card.contains("Finance &#38; Controlling"), "{card}");
    assert!(card.contains("Berlin HQ") && card.contains(">LT-ANNA</a>"), "{card}");
    let open = card.split("id=\"caller-open\"").nth(1).unwrap().split("</ul>").next().unwrap();
    assert_eq!(open.matches("<li>").count(), 5, "five other open tickets listed: {open}");
    assert!(!open.contains(&format!(">{last}<")), "not the ticket itself: {open}");
    assert!(!card.contains(other["number"].as_str().unwrap()), "another caller's ticket shown");
    assert!(card.contains("All their open tickets"), "{card}");

    // The queue of one caller: picked by a name that finds one person; one that finds several asks.
    let r = w.get("/agent?requester=ludenscheidt").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("called in by anna.mueller@example.com"), "{}", r.body);
    for n in &numbers {
        assert!(r.body.contains(n.as_str()), "{n} missing from the caller's queue");
    }
    assert!(!r.body.contains(other["number"].as_str().unwrap()));
    let r = w.get("/agent?requester=muller").await;
    assert!(r.body.contains("Caller: several people are found by"), "{}", r.body);
    assert!(!r.body.contains(numbers[0].as_str()), "nothing listed until one is picked");

    // The search box finds the caller by name, with their newest tickets.
    let r = w.get("/agent/search?q=L%C3%BCdenscheidt").await;
    let found = r.body.split("id=\"callers\"").nth(1).expect("a callers section").split("</section>").next().unwrap();
    assert!(found.contains("Anna Müller-Lüdenscheidt") && found.contains(last.as_str()), "{found}");
    assert!(found.contains("All their tickets"), "{found}");
    assert!(
        !w.get("/agent/search?q=%22printer+jam%22").await.body.contains("id=\"callers\""),
        "a phrase is not a name"
    );
}

/// An SLA warning on Sam's ticket lights the bell in an open console page without a reload
/// (Chromium); the notifications page lists it; marking all read empties the bell.
async fn the_bell_shows_an_sla_warning_live_and_it_is_marked_read(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    let sam = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    t.app.set_password("sam@example.com", PW.into()).await.unwrap();
    // Sessions last the working day here: the warning comes two hours into it.
    let (_, mut security) = t.get(&admin, "/api/v1/settings/security").await;
    security["idle_timeout_minutes"] = json!(600);
    security.as_object_mut().unwrap().remove("two_factor_required_since");
    let (st, b) = t.put(&admin, "/api/v1/settings/security", security).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let at = |s: &str| orion_domain::Timestamp::parse_day_or_instant("at", s).unwrap();
    t.clock.set(at("2026-11-23T09:00:00Z")); // a Monday morning
    let (_, inc) = t
        .post(
            &sam,
            "/api/v1/tickets",
            json!({"title": "VPN down for sales", "impact": 2, "urgency": 2, "assignee": "sam@example.com"}),
        )
        .await;
    let number = inc["number"].as_str().unwrap().to_string();
    let mut w = Web::new(&t);
    w.login("sam@example.com", PW).await;
    let page = w.get("/agent").await.body;
    assert!(page.contains("id=\"bell-count\" class=\"count none\" hx-get=\"/agent/notifications/bell\""), "{page}");
    assert_eq!(t.get(&sam, "/api/v1/me/notifications/unread").await.1, json!({"unread": 0}));

    let browser = crate::browser::Browser::start(&t).await;
    if let Some(b) = &browser {
        b.sign_in("sam@example.com", PW).await;
        b.goto("/agent").await;
        b.find("main").await;
    }
    // Half of the first-response target gone: the warning is Sam's.
    t.clock.set(at("2026-11-23T11:05:00Z"));
    crate::webhooks::run_jobs(&t).await;
    assert_eq!(t.get(&sam, "/api/v1/me/notifications/unread").await.1, json!({"unread": 1}));
    if let Some(b) = &browser {
        let shown = b.wait_text("#bell-count", "1").await;
        assert!(shown.starts_with('1'), "the bell in the open page: {shown:?}");
    }
    let bell = w.get("/agent/notifications/bell").await.body;
    assert!(bell.contains(">1<span class=\"sr\"> unread</span>"), "{bell}");
    let list = w.get("/agent/notifications").await.body;
    let row = list.split("class=\"unread\"").nth(1).expect("an unread row").split("</tr>").next().unwrap();
    assert!(row.contains("SLA warning") && row.contains(&format!(">{number}</a>")), "{row}");

    let r = w.post("/agent/notifications/read", &[]).await;
    assert_eq!(r.location, "/agent/notifications?m=notifications_read");
    assert!(w.get("/agent/notifications/bell").await.body.contains("class=\"count none\""));
    assert!(!w.get("/agent/notifications").await.body.contains("class=\"unread\""));
    assert_eq!(t.get(&sam, "/api/v1/me/notifications/unread").await.1, json!({"unread": 0}));
}

/// A phishing report with an attachment, as Outlook's "Report message" forwards it.
fn phishing_mail() -> Vec<u8> {
    "From: Anna Example <anna@example.com>\r\nTo: help@example.com\r\nSubject: Suspicious mail - phishing?\r\n\
     Message-ID: <phish-1@example.com>\r\nMIME-Version: 1.0\r\n\
     Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
     This came in asking me to confirm my password with a suspicious link. Code: PHISH-7731.\r\n--b1\r\n\
     Content-Type: text/plain; name=\"original.txt\"\r\nContent-Disposition: attachment; filename=\"original.txt\"\r\n\r\n\
     Dear user, confirm your password at http://evil.example/login\r\n--b1--\r\n"
        .as_bytes()
        .to_vec()
}

/// The tickets (numbers) of every delivery a webhook has queued.
async fn delivered(t: &TestApp, admin: &str, hook: i64) -> Vec<(String, String)> {
    let (s, log) = t.get(admin, &format!("/api/v1/webhooks/{hook}/deliveries?limit=200")).await;
    assert_eq!(s, StatusCode::OK, "{log}");
    log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["ticket"].as_str().unwrap_or("").to_string(), d["request_body"].as_str().unwrap_or("").to_string()))
        .collect()
}

async fn a_mailed_phishing_report_is_routed_to_security_and_hidden_from_l1_by_every_route(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Security", "tier": 2})).await;
    let sam = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    let sec = t.user(&admin, "sec@example.com", "agent", &["Security"]).await;
    let anna = t.user(&admin, "anna@example.com", "requester", &[]).await;
    let hook = |name: &str, groups: Value| json!({"name": name, "url": "http://127.0.0.1:9/hook", "events": ["*"], "assignment_groups": groups});
    let (s, general) = t.post(&admin, "/api/v1/webhooks", hook("Team chat", json!([]))).await;
    assert_eq!(s, StatusCode::CREATED, "{general}");
    let (_, security_hook) = t.post(&admin, "/api/v1/webhooks", hook("Security channel", json!(["Security"]))).await;

    // The rule, with what a bad one is told.
    let rule = json!({
        "name": "Phishing to Security",
        "conditions": {"channels": ["email"], "words": ["phishing", "suspicious link"]},
        "actions": {"group": "Security", "restrict_to": "Security", "tags": ["Phishing"], "impact": 2, "urgency": 1,
                    "work_note": "Do not open the link; the original is attached.", "notify": ["sec@example.com"]},
        "stop": true,
    });
    let (s, b) = t.post(&sam, "/api/v1/routing-rules", rule.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "agents do not write rules: {b}");
    let mut bad = rule.clone();
    bad["actions"]["group"] = json!("Securty");
    bad["conditions"]["priorities"] = json!([7]);
    let (s, b) = t.post(&admin, "/api/v1/routing-rules", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let fields = &b["error"]["fields"];
    assert!(fields["actions.group"].is_string() && fields["conditions.priorities[0]"].is_string(), "{b}");
    let (s, created) = t.post(&admin, "/api/v1/routing-rules", rule).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["actions"]["tags"], json!(["phishing"]), "tags are folded");
    assert!(created["summary"].as_str().unwrap().starts_with("When it came by email and the subject or body says"));

    // The test run says what would happen to a pasted mail, and writes nothing.
    let sample = json!({"requester": "anna@example.com", "subject": "Is this PHISHING?", "body": "see below"});
    let (s, run) = t.post(&admin, "/api/v1/routing-rules/test", sample).await;
    assert_eq!(s, StatusCode::OK, "{run}");
    assert_eq!(run["fired"][0]["rule"], "Phishing to Security");
    assert_eq!((run["assignment_group"].as_str(), run["restricted_to"].as_str()), (Some("Security"), Some("Security")));
    assert_eq!((run["priority"].as_str(), run["tags"].clone()), (Some("P2"), json!(["phishing"])));
    let (_, quiet) = t.post(&admin, "/api/v1/routing-rules/test", json!({"subject": "Printer jam"})).await;
    assert_eq!((quiet["fired"].clone(), quiet["assignment_group"].as_str()), (json!([]), Some("Service Desk")));

    // The report arrives by mail: routed, restricted, tagged, noted, the Security agent told.
    let mail = t.app.ingest_mail(&phishing_mail(), "pipe").await.expect("kept");
    assert_eq!(mail.status, "ticket_created", "{mail:?}");
    let number = mail.ticket.unwrap();
    let (s, tk) = t.get(&sec, &format!("/api/v1/tickets/{number}")).await;
    assert_eq!(s, StatusCode::OK, "{tk}");
    assert_eq!((tk["assignment_group"].as_str(), tk["restricted_to"].as_str()), (Some("Security"), Some("Security")));
    assert_eq!((tk["priority"].as_str(), tk["tags"].clone()), (Some("P2"), json!(["phishing"])));
    let (_, tl) = t.get(&sec, &format!("/api/v1/tickets/{number}/timeline?limit=200")).await;
    let items = tl["items"].as_array().unwrap();
    let fired = items.iter().find(|e| e["kind"] == "rule_fired").expect("the firing is on the timeline");
    assert_eq!(fired["data"]["rule"], "Phishing to Security");
    let did = fired["data"]["did"].to_string();
    assert!(did.contains("set group Security") && did.contains("restricted it to Security"), "{did}");
    assert!(items.iter().any(|e| e["kind"] == "work_note" && e["body"].as_str().unwrap().contains("Do not open")));
    let attachment =
        items.iter().find_map(|e| e["data"]["attachments"][0]["id"].as_i64()).expect("the original is attached");
    let (_, told) = t.get(&sec, "/api/v1/me/notifications").await;
    assert!(told["items"].to_string().contains(&number), "{told}");
    let (_, listed) = t.get(&sec, "/api/v1/tickets?tag=phishing").await;
    assert_eq!(listed["items"][0]["number"].as_str(), Some(number.as_str()), "{listed}");
    let (_, hits) = t.get(&sec, "/api/v1/search?q=PHISH-7731&type=ticket").await;
    assert!(hits["tickets"].to_string().contains(&number), "{hits}");
    // The requester still follows their own report.
    assert_eq!(t.get(&anna, &format!("/api/v1/tickets/{number}")).await.0, StatusCode::OK);
    // Written to the security log.
    let (_, log) = t.get(&admin, "/api/v1/security/log").await;
    let restricted = log["items"].as_array().unwrap().iter().find(|e| e["kind"] == "ticket_restricted").unwrap();
    assert!(restricted["detail"].as_str().unwrap().contains(&format!("{number} restricted to Security")), "{log}");

    // An L1 agent reaches it by no route: the API, lists, tag, search, attachment, actions.
    for path in [format!("/api/v1/tickets/{number}"), format!("/api/v1/tickets/{number}/timeline")] {
        assert_eq!(t.get(&sam, &path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    for path in ["/api/v1/tickets", "/api/v1/tickets?assignment_group=Security", "/api/v1/tickets?tag=phishing"] {
        let (s, page) = t.get(&sam, path).await;
        assert_eq!(s, StatusCode::OK);
        assert!(!page.to_string().contains(&number), "{path}: {page}");
    }
    let (_, hits) = t.get(&sam, "/api/v1/search?q=PHISH-7731").await;
    assert!(!hits.to_string().contains(&number) && !hits.to_string().contains("Suspicious"), "{hits}");
    let url = format!("{}/api/v1/attachments/{attachment}", t.base);
    let resp = t.client.get(&url).bearer_auth(&sam).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "the attachment URL");
    let resp = t.client.get(&url).bearer_auth(&sec).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "Security reads the original");
    let note = json!({"body": "looking", "visibility": "internal"});
    assert_eq!(t.post(&sam, &format!("/api/v1/tickets/{number}/comments"), note).await.0, StatusCode::NOT_FOUND);
    // Nor by linking it to a problem: the number names no incident they know.
    let wave = json!({"title": "Phishing wave", "incidents": [number]});
    let (s, b) = t.post(&sam, "/api/v1/problems", wave).await;
    assert_eq!((s, b["error"]["fields"]["incidents[0]"].is_string()), (StatusCode::UNPROCESSABLE_ENTITY, true), "{b}");
    let lift = json!({"group": null});
    assert_eq!(
        t.put(&sam, &format!("/api/v1/tickets/{number}/restriction"), lift.clone()).await.0,
        StatusCode::NOT_FOUND
    );
    // The console: not in any queue, no page, no attachment link.
    t.app.set_password("sam@example.com", PW.into()).await.unwrap();
    let mut w = Web::new(&t);
    w.login("sam@example.com", PW).await;
    for path in ["/agent?queue=all", "/agent?tag=phishing", "/agent/search?q=PHISH-7731"] {
        let r = w.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(!r.body.contains(&number), "{path} shows the restricted ticket");
    }
    assert_eq!(w.get(&format!("/agent/tickets/{number}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(w.get(&format!("/attachments/{attachment}")).await.status, StatusCode::NOT_FOUND);
    // Webhooks: the team chat hears nothing of it; the Security channel does.
    assert!(
        delivered(&t, &admin, general["webhook"]["id"].as_i64().unwrap())
            .await
            .iter()
            .all(|(n, body)| n != &number && !body.contains("Suspicious"))
    );
    let sec_log = delivered(&t, &admin, security_hook["webhook"]["id"].as_i64().unwrap()).await;
    assert!(sec_log.iter().any(|(n, body)| n == &number && body.contains("ticket.created")), "{sec_log:?}");

    // Security lifts the restriction: the desk sees it again, and the log says who.
    let (s, b) = t.put(&sec, &format!("/api/v1/tickets/{number}/restriction"), lift).await;
    assert_eq!((s, b["restricted_to"].clone()), (StatusCode::OK, Value::Null), "{b}");
    assert_eq!(t.get(&sam, &format!("/api/v1/tickets/{number}")).await.0, StatusCode::OK);
    let (_, log) = t.get(&admin, "/api/v1/security/log").await;
    assert!(log["items"].as_array().unwrap().iter().any(|e| e["kind"] == "ticket_unrestricted"), "{log}");

    // An agent hands a ticket over to Security from the console: it leaves their view.
    let (_, hr) = t
        .post(&sam, "/api/v1/tickets", json!({"title": "Colleague shares passwords", "requester": "anna@example.com"}))
        .await;
    let hr_no = hr["number"].as_str().unwrap();
    let r = w.post(&format!("/agent/tickets/{hr_no}/restrict"), &[("group", "Security")]).await;
    assert_eq!((r.status, r.location.as_str()), (StatusCode::SEE_OTHER, "/agent?m=restricted_away"), "{}", r.body);
    assert_eq!(t.get(&sam, &format!("/api/v1/tickets/{hr_no}")).await.0, StatusCode::NOT_FOUND);
    let (_, seen) = t.get(&sec, &format!("/api/v1/tickets/{hr_no}/timeline")).await;
    assert!(
        seen["items"].as_array().unwrap().iter().any(|e| e["kind"] == "restricted" && e["data"]["to"] == "Security")
    );
}

async fn rules_are_checked_in_order_kept_valid_and_never_override_what_staff_chose(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Network", "tier": 2})).await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Executive Support", "tier": 2})).await;
    let sam = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    t.user(&admin, "nina@example.com", "agent", &["Network"]).await;
    let (s, b) = t
        .post(&admin, "/api/v1/users", json!({"email": "ceo@example.com", "name": "Carla Boss", "role": "requester"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = t.patch(&admin, &format!("/api/v1/users/{}", b["id"]), json!({"vip": true})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let rule = |name: &str, conditions: Value, actions: Value| json!({"name": name, "conditions": conditions, "actions": actions});
    let (_, vip) = t
        .post(
            &admin,
            "/api/v1/routing-rules",
            rule(
                "VIPs first",
                json!({"vip": true}),
                json!({"group": "Executive Support", "urgency": 1, "tags": ["vip"]}),
            ),
        )
        .await;
    let (_, vpn) = t
        .post(
            &admin,
            "/api/v1/routing-rules",
            rule(
                "VPN to Network",
                json!({"words": ["vpn"]}),
                json!({"group": "Network", "assignee": "nina@example.com", "tags": ["vpn"]}),
            ),
        )
        .await;
    let (s, b) =
        t.post(&admin, "/api/v1/routing-rules", rule("VPN to Network", json!({}), json!({"tags": ["x"]}))).await;
    assert_eq!((s, b["error"]["fields"]["name"].is_string()), (StatusCode::UNPROCESSABLE_ENTITY, true), "{b}");
    let (s, b) = t.post(&admin, "/api/v1/routing-rules", rule("Does nothing", json!({}), json!({}))).await;
    assert_eq!((s, b["error"]["fields"]["actions"].is_string()), (StatusCode::UNPROCESSABLE_ENTITY, true), "{b}");
    let (s, b) = t.post(&admin, "/api/v1/routing-rules", json!({"name": "x", "actions": {"colour": "red"}})).await;
    assert!(s.is_client_error() && b.to_string().contains("colour"), "{s} {b}");

    // Both fire, in order: the later rule's group wins, tags add up.
    let (s, tk) = t.post(&sam, "/api/v1/tickets", json!({"title": "VPN drops", "requester": "ceo@example.com"})).await;
    assert_eq!(s, StatusCode::CREATED, "{tk}");
    assert_eq!((tk["assignment_group"].as_str(), tk["assignee"].as_str()), (Some("Network"), Some("nina@example.com")));
    assert_eq!((tk["tags"].clone(), tk["state"].as_str()), (json!(["vip", "vpn"]), Some("assigned")));
    let (_, tl) = t.get(&sam, &format!("/api/v1/tickets/{}/timeline", tk["number"].as_str().unwrap())).await;
    let fired: Vec<&str> = tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "rule_fired")
        .map(|e| e["data"]["rule"].as_str().unwrap())
        .collect();
    assert_eq!(fired, ["VIPs first", "VPN to Network"]);

    // Reordered with "stop" on the VIP rule: only it fires.
    let ids = json!({"ids": [vpn["id"], vip["id"]]});
    let (s, order) = t.put(&admin, "/api/v1/routing-rules/order", ids).await;
    assert_eq!((s, order[0]["name"].as_str()), (StatusCode::OK, Some("VPN to Network")), "{order}");
    let (s, b) = t.put(&admin, "/api/v1/routing-rules/order", json!({"ids": [vpn["id"]]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "every rule must be named: {b}");
    t.put(&admin, &format!("/api/v1/routing-rules/{}", vpn["id"]), json!({"stop": true})).await;
    let (_, tk) = t.post(&sam, "/api/v1/tickets", json!({"title": "VPN again", "requester": "ceo@example.com"})).await;
    assert_eq!((tk["assignment_group"].as_str(), tk["tags"].clone()), (Some("Network"), json!(["vpn"])));

    // What the agent chose stays; a disabled rule fires no more; a deleted one is gone.
    let chosen =
        json!({"title": "VPN for the new office", "assignment_group": "Service Desk", "requester": "ceo@example.com"});
    let (_, tk) = t.post(&sam, "/api/v1/tickets", chosen).await;
    assert_eq!((tk["assignment_group"].as_str(), tk["assignee"].clone()), (Some("Service Desk"), Value::Null), "{tk}");
    assert_eq!(tk["tags"], json!(["vpn"]));
    t.put(&admin, &format!("/api/v1/routing-rules/{}", vpn["id"]), json!({"active": false})).await;
    let (_, tk) =
        t.post(&sam, "/api/v1/tickets", json!({"title": "VPN once more", "requester": "sam@example.com"})).await;
    assert_eq!((tk["assignment_group"].as_str(), tk["tags"].clone()), (Some("Service Desk"), json!([])));
    assert_eq!(t.delete(&admin, &format!("/api/v1/routing-rules/{}", vip["id"])).await.0, StatusCode::NO_CONTENT);
    let (_, all) = t.get(&admin, "/api/v1/routing-rules").await;
    assert_eq!(all.as_array().unwrap().len(), 1);

    // Tags by hand: added, listed, filtered on, removed; a bad one is refused by name.
    let n = tk["number"].as_str().unwrap();
    let (s, tags) = t.post(&sam, &format!("/api/v1/tickets/{n}/tags"), json!({"tags": ["Printer", "floor-3"]})).await;
    assert_eq!((s, tags), (StatusCode::OK, json!(["floor-3", "printer"])));
    let (s, b) = t.post(&sam, &format!("/api/v1/tickets/{n}/tags"), json!({"tags": ["two words"]})).await;
    assert_eq!((s, b["error"]["fields"]["tags[0]"].is_string()), (StatusCode::UNPROCESSABLE_ENTITY, true), "{b}");
    let (_, page) = t.get(&sam, "/api/v1/tickets?tag=PRINTER").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (s, tags) = t.delete(&sam, &format!("/api/v1/tickets/{n}/tags/printer")).await;
    assert_eq!((s, tags), (StatusCode::OK, json!(["floor-3"])));
    let (_, page) = t.get(&sam, "/api/v1/tickets?tag=printer").await;
    assert!(page["items"].as_array().unwrap().is_empty());
}

async fn admins_keep_routing_rules_in_the_console_and_agents_tag_and_restrict_tickets(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Security", "tier": 2})).await;
    t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    t.app.set_password("admin@example.com", PW.into()).await.unwrap();
    t.app.set_password("sam@example.com", PW.into()).await.unwrap();
    let mut w = Web::new(&t);
    w.login("admin@example.com", PW).await;
    let page = w.get("/admin/routing").await;
    assert!(page.body.contains("id=\"no-rules\"") && page.body.contains(">Routing rules</a>"), "{}", page.body);

    // A rule missing its action is refused with the typed text kept.
    let bad = [("name", "Phishing to Security"), ("active", "on"), ("channels", "email"), ("words", "phishing")];
    let r = w.post("/admin/routing", &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("Actions: a rule must do something") && r.body.contains("value=\"phishing\""),
        "{}",
        r.body
    );
    let mut good = bad.to_vec();
    good.extend([("group", "Security"), ("restrict_to", "Security"), ("tags", "phishing, security"), ("stop", "on")]);
    let r = w.post("/admin/routing", &good).await;
    assert_eq!(r.location, "/admin/routing?m=rule_saved", "{}", r.body);
    let second = [("name", "Everything else tagged"), ("active", "on"), ("tags", "triage")];
    assert_eq!(w.post("/admin/routing", &second).await.location, "/admin/routing?m=rule_saved");
    let (_, rules) = t.get(&admin, "/api/v1/routing-rules").await;
    let (first_id, second_id) = (rules[0]["id"].as_i64().unwrap(), rules[1]["id"].as_i64().unwrap());
    assert_eq!(rules[0]["actions"]["tags"], json!(["phishing", "security"]));
    let list = w.get("/admin/routing?m=rule_saved").await.body;
    assert!(
        list.contains("Routing rule saved.") && list.contains("When it came by email and the subject or body says"),
        "{list}"
    );

    // The test run on a pasted mail says what would happen.
    let r =
        w.post("/admin/routing/test", &[("channel", "email"), ("subject", "Phishing attempt?"), ("body", "see")]).await;
    let result = r.body.split("id=\"try-result\"").nth(1).expect("a result").split("</section>").next().unwrap();
    assert!(
        result.contains("Rule “Phishing to Security”: set group Security")
            && result.contains("visible to Security only"),
        "{result}"
    );
    assert!(!result.contains("Everything else"), "the first rule stops the check: {result}");
    let r = w.post("/admin/routing/test", &[("channel", "email"), ("subject", "Printer")]).await;
    assert!(r.body.contains("Rule “Everything else tagged”: tagged it triage"), "{}", r.body);

    // Reorder, switch off, change, remove.
    assert_eq!(
        w.post(&format!("/admin/routing/{second_id}/move"), &[("dir", "up")]).await.location,
        "/admin/routing?m=rule_moved"
    );
    let (_, rules) = t.get(&admin, "/api/v1/routing-rules").await;
    assert_eq!(rules[0]["id"].as_i64(), Some(second_id));
    assert_eq!(w.post(&format!("/admin/routing/{second_id}/active"), &[]).await.location, "/admin/routing?m=rule_off");
    let form = w.get(&format!("/admin/routing/{first_id}")).await.body;
    assert!(form.contains("value=\"Phishing to Security\"") && form.contains("value=\"phishing, security\""), "{form}");
    let mut changed = good.clone();
    changed.retain(|(k, _)| *k != "tags");
    let r = w.post(&format!("/admin/routing/{first_id}"), &changed).await;
    assert_eq!(r.location, "/admin/routing?m=rule_saved", "{}", r.body);
    let (_, rule) = t.get(&admin, &format!("/api/v1/routing-rules/{first_id}")).await;
    assert_eq!((rule["actions"].get("tags"), rule["stop"].clone()), (None, json!(true)), "no tags: left out");
    assert_eq!(
        w.post(&format!("/admin/routing/{second_id}/delete"), &[]).await.location,
        "/admin/routing?m=rule_deleted"
    );
    let mut sam = Web::new(&t);
    sam.login("sam@example.com", PW).await;
    assert_eq!(sam.get("/admin/routing").await.status, StatusCode::FORBIDDEN);

    // An agent tags a ticket on its page; the tag links to the queue of that tag.
    let token = t.user(&admin, "lee@example.com", "agent", &["Service Desk"]).await;
    let (_, tk) =
        t.post(&token, "/api/v1/tickets", json!({"title": "Printer on floor 3", "requester": "lee@example.com"})).await;
    let n = tk["number"].as_str().unwrap();
    let r = sam.post(&format!("/agent/tickets/{n}/tag"), &[("tags", "printer floor-3")]).await;
    assert_eq!(r.location, format!("/agent/tickets/{n}?m=tagged"), "{}", r.body);
    let page = sam.get(&format!("/agent/tickets/{n}")).await.body;
    let tags = page.split("id=\"ticket-tags\"").nth(1).unwrap().split("</dd>").next().unwrap();
    assert!(tags.contains("href=\"/agent?tag=printer\"") && tags.contains(">floor-3<"), "{tags}");
    assert!(
        page.contains("tagged it floor-3, printer") || page.contains("tagged it printer, floor-3"),
        "on the timeline"
    );
    let queue = sam.get("/agent?tag=printer").await.body;
    assert!(queue.contains(n) && queue.contains("tagged printer"), "{queue}");
    let r = sam.post(&format!("/agent/tickets/{n}/tag"), &[("tags", "no!")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("a tag holds letters, digits"), "{}", r.body);
    assert_eq!(
        sam.post(&format!("/agent/tickets/{n}/untag"), &[("tag", "printer")]).await.location,
        format!("/agent/tickets/{n}?m=untagged")
    );
    // Restricting to their own group keeps it in sight, with the badge.
    let r = sam.post(&format!("/agent/tickets/{n}/restrict"), &[("group", "Service Desk")]).await;
    assert_eq!(r.location, format!("/agent/tickets/{n}?m=restricted"), "{}", r.body);
    let page = sam.get(&format!("/agent/tickets/{n}?m=restricted")).await.body;
    assert!(page.contains("id=\"ticket-restricted\"") && page.contains("Service Desk only"), "{page}");
    assert!(page.contains("restricted the ticket to Service Desk"), "on the timeline");
    let r = sam.post(&format!("/agent/tickets/{n}/restrict"), &[("group", "")]).await;
    assert_eq!(r.location, format!("/agent/tickets/{n}?m=unrestricted"), "{}", r.body);
}

/// The kinds of `token`'s unread notifications, newest first, with their messages.
async fn unread(t: &TestApp, token: &str) -> Vec<(String, String)> {
    let (s, page) = t.get(token, "/api/v1/me/notifications?unread=true").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["kind"].as_str().unwrap().to_string(), n["message"].as_str().unwrap().to_string()))
        .collect()
}

async fn timeline(t: &TestApp, token: &str, number: &str) -> Vec<Value> {
    let (_, tl) = t.get(token, &format!("/api/v1/tickets/{number}/timeline?limit=200")).await;
    tl["items"].as_array().unwrap().clone()
}

async fn a_macro_applies_its_reply_and_field_changes_in_one_step(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Network", "tier": 2})).await;
    t.post(&admin, "/api/v1/categories", json!({"name": "Network"})).await;
    t.post(&admin, "/api/v1/categories", json!({"name": "VPN", "parent": "Network"})).await;
    t.post(&admin, "/api/v1/categories", json!({"name": "Printing"})).await;
    let sam = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    let lee = t.user(&admin, "lee@example.com", "agent", &["Service Desk"]).await;
    t.post(&admin, "/api/v1/users", json!({"email": "ada@example.com", "name": "Ada Lovelace", "role": "requester"}))
        .await;
    let (s, tk) = t
        .post(
            &sam,
            "/api/v1/tickets",
            json!({"title": "VPN drops every hour", "requester": "ada@example.com", "category": "Network / VPN"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{tk}");
    let n = tk["number"].as_str().unwrap().to_string();

    // Mistakes are named by field and nothing is saved.
    let (s, b) = t
        .post(
            &sam,
            "/api/v1/macros",
            json!({"name": "Bad", "reply": "Hi {{requester.surname}}, see {{kb:KB0000999}}",
                   "changes": {"state": "closed", "tags": ["no way"]}, "scope": "everyone"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let f = &b["error"]["fields"];
    assert!(f["reply"].as_str().unwrap().contains("requester.surname"), "{b}");
    assert!(f["changes.state"].is_string() && f["changes.tags[0]"].is_string(), "{b}");
    assert!(f["scope"].as_str().unwrap().contains("only admins"), "{b}");
    let (s, b) = t.post(&sam, "/api/v1/macros", json!({"name": "Empty"})).await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["reply"].is_string(), "{b}");
    let (s, b) = t.post(&sam, "/api/v1/macros", json!({"name": "x", "reply": "{{kb:KB0000999}}"})).await;
    assert!(
        s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["reply"] == "there is no article KB0000999",
        "{b}"
    );
    assert_eq!(t.get(&sam, "/api/v1/macros").await.1, json!([]));

    // Sam's own macro: a reply with placeholders, pending on the requester, a tag; for VPN tickets.
    let (s, m) = t
        .post(
            &sam,
            "/api/v1/macros",
            json!({"name": "Need VPN logs",
                   "reply": "Hello {{ requester.first_name }}, please send the VPN client log for {{ticket.number}}. {{agent.first_name}}",
                   "category": "Network",
                   "changes": {"state": "pending", "pending_reason": "user", "tags": ["VPN-Logs"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!((m["scope"].as_str(), m["may_edit"].as_bool()), (Some("personal"), Some(true)));
    assert_eq!(
        m["does"],
        json!(["reply to the requester", "set pending (waiting for user)", "tag vpn-logs"]),
        "tags are folded: {m}"
    );
    let (_, dup) = t.post(&sam, "/api/v1/macros", json!({"name": "need vpn logs", "reply": "x"})).await;
    assert!(dup["error"]["fields"]["name"].as_str().unwrap().contains("already"), "{dup}");
    let (s, other) = t
        .post(
            &sam,
            "/api/v1/macros",
            json!({"name": "Printer checklist", "category": "Printing", "reply": "Is it switched on?"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{other}");

    // On the ticket: the VPN macro comes first, its reply filled in for this ticket.
    let (_, offered) = t.get(&sam, &format!("/api/v1/tickets/{n}/macros")).await;
    assert_eq!(offered[0]["name"], "Need VPN logs", "{offered}");
    assert_eq!(offered[0]["suggested"], json!(true));
    assert_eq!(offered[1]["suggested"], json!(false));
    let filled = format!("Hello Ada, please send the VPN client log for {n}. sam@example.com");
    assert_eq!(offered[0]["reply"], json!(filled));
    // Lee does not get Sam's personal macro.
    let (_, lees) = t.get(&lee, &format!("/api/v1/tickets/{n}/macros")).await;
    assert_eq!(lees, json!([]));
    let id = m["id"].as_i64().unwrap();
    let (s, b) = t.post(&lee, &format!("/api/v1/tickets/{n}/apply-macro"), json!({"macro_id": id})).await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["macro_id"].is_string(), "{b}");

    // Applying it: the reply (public, as Sam), the state, the reason and the tag, in one step.
    let before = timeline(&t, &sam, &n).await.len();
    let (s, after) = t.post(&sam, &format!("/api/v1/tickets/{n}/apply-macro"), json!({"macro_id": id})).await;
    assert_eq!(s, StatusCode::OK, "{after}");
    assert_eq!((after["state"].as_str(), after["pending_reason"].as_str()), (Some("pending"), Some("user")));
    assert_eq!(after["tags"], json!(["vpn-logs"]));
    let tl = timeline(&t, &sam, &n).await;
    let reply = tl.iter().find(|e| e["kind"] == "comment").expect("the reply");
    assert_eq!((reply["body"].as_str(), reply["visibility"].as_str()), (Some(filled.as_str()), Some("public")));
    assert!(tl.iter().any(|e| e["kind"] == "tagged"));
    assert!(tl.len() >= before + 3, "reply, state change and tag: {tl:?}");
    let (_, m) = t.get(&sam, &format!("/api/v1/macros/{id}")).await;
    assert_eq!(m["use_count"], json!(1));

    // A macro that cannot be applied writes nothing, not even its reply: moving up a tier is an
    // escalation, which needs the troubleshooting done.
    let (_, up) = t
        .post(
            &sam,
            "/api/v1/macros",
            json!({"name": "To network team", "reply": "Passing this on.", "changes": {"assignment_group": "Network"}}),
        )
        .await;
    let before = timeline(&t, &sam, &n).await.len();
    let (s, b) = t
        .post(&sam, &format!("/api/v1/tickets/{n}/apply-macro"), json!({"macro_id": up["id"].as_i64().unwrap()}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b["error"]["fields"]["assignment_group"]
            .as_str()
            .unwrap()
            .contains("the macro “To network team” cannot be applied"),
        "{b}"
    );
    assert_eq!(timeline(&t, &sam, &n).await.len(), before, "nothing half-written");

    // A resolving macro, applied from the ticket page with the reply edited first.
    let (s, fix) = t
        .post(
            &sam,
            "/api/v1/macros",
            json!({"name": "Fixed by reconnect", "reply": "Reconnecting fixed it, {{requester.name}}.",
                   "changes": {"state": "resolved", "resolution_code": "fixed"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{fix}");
    let fix_id = fix["id"].as_i64().unwrap().to_string();
    t.app.set_password("sam@example.com", PW.into()).await.unwrap();
    let mut w = Web::new(&t);
    w.login("sam@example.com", PW).await;
    let page = w.get(&format!("/agent/tickets/{n}")).await.body;
    let box_ = page.split("id=\"macro-box\"").nth(1).expect("the macro card").split("</details>").next().unwrap();
    assert!(
        box_.contains("Need VPN logs (suggested for this category)") && box_.contains(&format!("value=\"{fix_id}\"")),
        "{box_}"
    );
    let preview = w.get(&format!("/agent/tickets/{n}/macro-preview?macro={fix_id}")).await.body;
    assert!(
        preview.contains("Reconnecting fixed it, Ada Lovelace.") && preview.contains("resolve (fixed)"),
        "{preview}"
    );
    let r = w
        .post(
            &format!("/agent/tickets/{n}/macro"),
            &[("macro", &fix_id), ("reply", "Reconnecting fixed it, Ada. Thanks!")],
        )
        .await;
    assert_eq!(r.location, format!("/agent/tickets/{n}?m=macro_applied"), "{}", r.body);
    let (_, tk) = t.get(&sam, &format!("/api/v1/tickets/{n}")).await;
    assert_eq!(
        (tk["state"].as_str(), tk["resolution_code"].as_str(), tk["resolution_notes"].as_str()),
        (Some("resolved"), Some("fixed"), Some("Reconnecting fixed it, Ada. Thanks!")),
        "{tk}"
    );
    // A closed or resolved ticket takes no macro.
    let (s, _) = t.post(&sam, &format!("/api/v1/tickets/{n}/apply-macro"), json!({"macro_id": id})).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // The macros page: a new macro from the console, refused with the typed text kept, then saved.
    let list = w.get("/agent/macros").await.body;
    assert!(list.contains("Need VPN logs") && list.contains("reply to the requester, set pending"), "{list}");
    let bad = [("name", "Shared"), ("scope", "group"), ("group", "Service Desk"), ("reply", "Hi {{nope}}")];
    let r = w.post("/agent/macros", &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Reply: {{nope}} is not a placeholder") && r.body.contains("Hi {{nope}}"), "{}", r.body);
    assert!(r.body.contains("only the group&#39;s lead or an admin"), "Sam does not lead the group: {}", r.body);
    let good = [
        ("name", "Printer offline"),
        ("scope", "personal"),
        ("reply", ""),
        ("state", "in_progress"),
        ("assign_to_me", "on"),
        ("tags", "printer"),
    ];
    let r = w.post("/agent/macros", &good).await;
    assert_eq!(r.location, "/agent/macros?m=macro_saved", "{}", r.body);
    let (_, all) = t.get(&sam, "/api/v1/macros").await;
    let saved = all.as_array().unwrap().iter().find(|m| m["name"] == "Printer offline").unwrap().clone();
    assert_eq!(saved["changes"], json!({"state": "in_progress", "assign_to_me": true, "tags": ["printer"]}));
    let r = w.post(&format!("/agent/macros/{}/delete", saved["id"]), &[]).await;
    assert_eq!(r.location, "/agent/macros?m=macro_removed");
    assert_eq!(t.get(&sam, &format!("/api/v1/macros/{}", saved["id"])).await.0, StatusCode::NOT_FOUND);
    // The lead shares a macro with the group; its members use it, they cannot change it.
    let (_, groups) = t.get(&admin, "/api/v1/groups").await;
    let sd = groups.as_array().unwrap().iter().find(|g| g["name"] == "Service Desk").unwrap()["id"].clone();
    t.patch(&admin, &format!("/api/v1/groups/{sd}"), json!({"lead": "lee@example.com"})).await;
    let (s, shared) = t
        .post(
            &lee,
            "/api/v1/macros",
            json!({"name": "Shared hello", "scope": "group", "group": "Service Desk", "reply": "Hello"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{shared}");
    let (_, mine) = t.get(&sam, &format!("/api/v1/macros/{}", shared["id"])).await;
    assert_eq!((mine["group"].as_str(), mine["may_edit"].as_bool()), (Some("Service Desk"), Some(false)));
    let (s, _) = t.put(&sam, &format!("/api/v1/macros/{}", shared["id"]), json!({"reply": "Bye"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn agents_hear_of_what_concerns_them_as_they_chose(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Security", "tier": 2})).await;
    t.put(&admin, "/api/v1/settings/mail", json!({"addresses": ["help@example.com"], "portal_url": t.base.clone()}))
        .await;
    let sam = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    let lee = t.user(&admin, "lee@example.com", "agent", &["Service Desk"]).await;
    let ada = t.user(&admin, "ada@example.com", "requester", &[]).await;
    let (_, tk) = t.post(&ada, "/api/v1/tickets", json!({"title": "Cannot print payslips"})).await;
    let n = tk["number"].as_str().unwrap().to_string();
    assert!(unread(&t, &sam).await.is_empty(), "a new ticket in the group tells nobody by default");

    // Lee assigns it to Sam: Sam is told, Lee (who did it) is not.
    let (s, b) = t.patch(&lee, &format!("/api/v1/tickets/{n}"), json!({"assignee": "sam@example.com"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let got = unread(&t, &sam).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "assigned");
    assert!(got[0].1.contains(&n) && got[0].1.contains("assigned") && got[0].1.contains("to you"), "{got:?}");
    assert!(unread(&t, &lee).await.is_empty());

    // The requester replies: the assignee hears of it.
    t.post(&ada, &format!("/api/v1/tickets/{n}/comments"), json!({"body": "It is the HR printer."})).await;
    let got = unread(&t, &sam).await;
    assert_eq!(got[0].0, "reply", "{got:?}");

    // Mentioned in a work note: in the console and by mail (the default for mentions).
    let (s, b) = t
        .post(
            &lee,
            &format!("/api/v1/tickets/{n}/comments"),
            json!({"body": "@sam can you check the queue?", "visibility": "internal"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let got = unread(&t, &sam).await;
    assert_eq!(got[0].0, "mention", "{got:?}");
    assert!(got[0].1.contains("lee@example.com mentioned you"), "{got:?}");
    crate::webhooks::run_jobs(&t).await;
    let (_, out) = t.get(&admin, "/api/v1/mail/outbound").await;
    let mail =
        out["items"].as_array().unwrap().iter().find(|m| m["template"] == "agent_notice").expect("a mail to Sam");
    assert_eq!(mail["recipients"], json!(["sam@example.com"]));
    assert!(mail["subject"].as_str().unwrap().contains(&format!("[{n}]")), "{mail}");

    // Sam turns requester replies off and asks for new tickets in his groups.
    let (s, b) =
        t.put(&sam, "/api/v1/me/notification-preferences", json!({"bogus": "console", "digest": "console"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b["error"]["fields"]["bogus"].is_string() && b["error"]["fields"]["digest"].is_string(), "{b}");
    let (s, prefs) =
        t.put(&sam, "/api/v1/me/notification-preferences", json!({"reply": "none", "group": "console"})).await;
    assert_eq!(s, StatusCode::OK, "{prefs}");
    let reply = prefs.as_array().unwrap().iter().find(|p| p["kind"] == "reply").unwrap();
    assert_eq!((reply["delivery"].as_str(), reply["default"].as_bool()), (Some("none"), Some(false)));
    let before = unread(&t, &sam).await.len();
    t.post(&ada, &format!("/api/v1/tickets/{n}/comments"), json!({"body": "Any news?"})).await;
    assert_eq!(unread(&t, &sam).await.len(), before, "replies are off for Sam");
    t.post(&ada, "/api/v1/tickets", json!({"title": "Monitor flickers"})).await;
    let got = unread(&t, &sam).await;
    assert_eq!(got[0].0, "group", "{got:?}");
    assert!(got[0].1.contains("is new in Service Desk"), "{got:?}");
    assert!(unread(&t, &lee).await.is_empty(), "Lee did not ask for group notices");

    // Nobody hears of a ticket they may not see: restricted to Security, a mention of Sam is silent.
    let (_, secret) = t.post(&ada, "/api/v1/tickets", json!({"title": "Odd login from abroad"})).await;
    let sn = secret["number"].as_str().unwrap();
    t.put(&admin, &format!("/api/v1/tickets/{sn}/restriction"), json!({"group": "Security"})).await;
    let before = unread(&t, &sam).await.len();
    t.post(
        &admin,
        &format!("/api/v1/tickets/{sn}/comments"),
        json!({"body": "@sam do not look", "visibility": "internal"}),
    )
    .await;
    assert_eq!(unread(&t, &sam).await.len(), before);

    // The morning summary, for those who ask for it.
    t.put(&sam, "/api/v1/me/notification-preferences", json!({"digest": "mail"})).await;
    assert_eq!(t.app.send_digests().await.unwrap(), 1);
    let (_, out) = t.get(&admin, "/api/v1/mail/outbound").await;
    let digest = out["items"].as_array().unwrap().iter().find(|m| m["template"] == "digest").expect("the digest");
    assert_eq!(digest["recipients"], json!(["sam@example.com"]));
    assert!(digest["subject"].as_str().unwrap().contains("1 open tickets"), "{digest}");

    // The settings page in the console.
    t.app.set_password("lee@example.com", PW.into()).await.unwrap();
    let mut w = Web::new(&t);
    w.login("lee@example.com", PW).await;
    let page = w.get("/agent/notifications/settings").await.body;
    assert!(page.contains("Someone mentions me (@) in a work note") && page.contains("id=\"pref-group\""), "{page}");
    let r = w.post("/agent/notifications/settings", &[("assigned", "both"), ("group", "console")]).await;
    assert_eq!(r.location, "/agent/notifications/settings?m=preferences_saved", "{}", r.body);
    let (_, prefs) = t.get(&lee, "/api/v1/me/notification-preferences").await;
    let assigned = prefs.as_array().unwrap().iter().find(|p| p["kind"] == "assigned").unwrap();
    assert_eq!(assigned["delivery"], "both");
    t.post(&ada, "/api/v1/tickets", json!({"title": "Keyboard sticky"})).await;
    let list = w.get("/agent/notifications").await.body;
    assert!(list.contains("In your group"), "{list}");
}

async fn followers_hear_of_changes_and_colleagues_see_who_is_replying(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    let sam = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    let lee = t.user(&admin, "lee@example.com", "agent", &["Service Desk"]).await;
    let ada = t.user(&admin, "ada@example.com", "requester", &[]).await;
    let (_, tk) = t.post(&ada, "/api/v1/tickets", json!({"title": "Laptop will not boot"})).await;
    let n = tk["number"].as_str().unwrap().to_string();
    assert_eq!(t.get(&lee, &format!("/api/v1/tickets/{n}/follow")).await.1, json!({"following": false}));
    let (s, f) = t.put(&lee, &format!("/api/v1/tickets/{n}/follow"), json!({})).await;
    assert_eq!((s, f), (StatusCode::OK, json!({"following": true})));
    assert_eq!(t.put(&ada, &format!("/api/v1/tickets/{n}/follow"), json!({})).await.0, StatusCode::FORBIDDEN);

    // Sam takes it and replies: Lee hears of both; Sam hears of nothing he did himself.
    t.patch(&sam, &format!("/api/v1/tickets/{n}"), json!({"assignee": "sam@example.com", "state": "in_progress"}))
        .await;
    t.post(&sam, &format!("/api/v1/tickets/{n}/comments"), json!({"body": "Try holding the power button."})).await;
    let got = unread(&t, &lee).await;
    assert!(got.iter().all(|(k, _)| k == "followed"), "{got:?}");
    assert!(got.iter().any(|(_, m)| m.contains("sam@example.com replied")), "{got:?}");
    assert!(got.iter().any(|(_, m)| m.contains("the state is now in progress")), "{got:?}");
    assert!(unread(&t, &sam).await.is_empty());
    t.send(&lee, reqwest::Method::DELETE, &format!("/api/v1/tickets/{n}/follow"), None).await;
    let before = unread(&t, &lee).await.len();
    t.post(&sam, &format!("/api/v1/tickets/{n}/comments"), json!({"body": "Any luck?"})).await;
    assert_eq!(unread(&t, &lee).await.len(), before, "no longer following");

    // Who else is writing: Sam types, Lee's page sees him; when Sam is done, nobody.
    let (s, p) = t.post(&sam, &format!("/api/v1/tickets/{n}/replying"), json!({"writing": true})).await;
    assert_eq!((s, p), (StatusCode::OK, json!({"replying": []})));
    let (_, p) = t.post(&lee, &format!("/api/v1/tickets/{n}/replying"), json!({})).await;
    assert_eq!(p, json!({"replying": ["sam@example.com"]}));
    t.app.set_password("lee@example.com", PW.into()).await.unwrap();
    let mut w = Web::new(&t);
    w.login("lee@example.com", PW).await;
    let line = w.post(&format!("/agent/tickets/{n}/replying"), &[]).await.body;
    assert!(line.contains("<strong>sam@example.com</strong> is writing on this ticket right now."), "{line}");
    // A minute later without typing, the hint is gone.
    t.clock.advance_minutes(1);
    assert_eq!(t.post(&lee, &format!("/api/v1/tickets/{n}/replying"), json!({})).await.1, json!({"replying": []}));
    t.post(&sam, &format!("/api/v1/tickets/{n}/replying"), json!({"writing": true})).await;
    t.post(&sam, &format!("/api/v1/tickets/{n}/replying"), json!({"writing": false})).await;
    assert_eq!(t.post(&lee, &format!("/api/v1/tickets/{n}/replying"), json!({})).await.1, json!({"replying": []}));

    // The follow button on the ticket page.
    let page = w.get(&format!("/agent/tickets/{n}")).await.body;
    assert!(page.contains("id=\"follow-button\">Follow this ticket<") && page.contains("id=\"replying\""), "{page}");
    let r = w.post(&format!("/agent/tickets/{n}/follow"), &[]).await;
    assert_eq!(r.location, format!("/agent/tickets/{n}?m=following"));
    let page = w.get(&format!("/agent/tickets/{n}?m=following")).await.body;
    assert!(page.contains(">Stop following<") && page.contains("You follow this ticket now"), "{page}");
}

async fn a_rule_answers_the_requester_in_place_of_the_received_mail(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    t.put(&admin, "/api/v1/settings/mail", json!({"addresses": ["help@example.com"]})).await;
    let (s, b) = t
        .post(&admin, "/api/v1/routing-rules", json!({"name": "Bad", "actions": {"auto_reply": "Hi {{agent.name}}"}}))
        .await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && b["error"]["fields"]["actions.auto_reply"].is_string(), "{b}");
    let (s, rule) = t
        .post(
            &admin,
            "/api/v1/routing-rules",
            json!({"name": "Password resets answer themselves",
                   "conditions": {"words": ["password"]},
                   "actions": {"auto_reply": "Hello {{requester.first_name}}, reset it yourself at https://id.example.com. Your ticket is {{ticket.number}}.",
                               "tags": ["password"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rule}");
    assert!(rule["summary"].as_str().unwrap().contains("answer the requester"), "{rule}");
    t.post(&admin, "/api/v1/users", json!({"email": "ada@example.com", "name": "Ada Lovelace", "role": "requester"}))
        .await;
    let ada = t.app.create_token_for("ada@example.com", "test").await.unwrap().token;
    let (_, tk) = t.post(&ada, "/api/v1/tickets", json!({"title": "Forgot my password"})).await;
    let n = tk["number"].as_str().unwrap().to_string();
    let (_, other) = t.post(&ada, "/api/v1/tickets", json!({"title": "Printer jam"})).await;
    crate::webhooks::run_jobs(&t).await;
    let (_, out) = t.get(&admin, "/api/v1/mail/outbound").await;
    let mails: Vec<(String, String)> = out["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["ticket"].as_str().unwrap_or_default().to_string(), m["template"].as_str().unwrap().to_string()))
        .collect();
    assert!(mails.contains(&(n.clone(), "public_reply".into())), "{mails:?}");
    assert!(!mails.contains(&(n.clone(), "received".into())), "the reply takes the received mail's place: {mails:?}");
    assert!(mails.contains(&(other["number"].as_str().unwrap().to_string(), "received".into())), "{mails:?}");
    // The requester sees the answer in the portal; it is no response for the SLA.
    let tl = timeline(&t, &ada, &n).await;
    let reply = tl.iter().find(|e| e["kind"] == "comment").expect("the answer");
    assert_eq!(
        reply["body"],
        json!(format!("Hello Ada, reset it yourself at https://id.example.com. Your ticket is {n}."))
    );
    let (_, sla) = t.get(&admin, &format!("/api/v1/tickets/{n}/sla")).await;
    let first = sla.as_array().unwrap().iter().find(|x| x["target"] == "first_response").expect("first response");
    assert_ne!(first["state"], "met", "{sla}");
}

async fn rules_marked_so_act_again_when_a_person_changes_the_ticket(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Security", "tier": 2})).await;
    let sam = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    let sec = t.user(&admin, "sec@example.com", "agent", &["Security"]).await;
    let ada = t.user(&admin, "ada@example.com", "requester", &[]).await;
    // One rule for changes too, one only for new tickets.
    let (s, r) = t
        .post(
            &admin,
            "/api/v1/routing-rules",
            json!({"name": "Phished after all", "on_update": true,
                   "conditions": {"words": ["clicked the link"]},
                   "actions": {"group": "Security", "restrict_to": "Security", "urgency": 1, "tags": ["phishing"],
                               "notify": ["sec@example.com"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["on_update"], json!(true));
    assert!(r["summary"].as_str().unwrap().ends_with("Also when a ticket changes."), "{r}");
    t.post(
        &admin,
        "/api/v1/routing-rules",
        json!({"name": "New only", "conditions": {"words": ["printer"]}, "actions": {"tags": ["printing"]}}),
    )
    .await;
    let (_, tk) = t.post(&ada, "/api/v1/tickets", json!({"title": "Strange mail about my printer"})).await;
    let n = tk["number"].as_str().unwrap().to_string();
    assert_eq!(tk["tags"], json!(["printing"]));
    t.patch(&sam, &format!("/api/v1/tickets/{n}"), json!({"assignee": "sam@example.com"})).await;
    crate::webhooks::run_jobs(&t).await;
    let (_, same) = t.get(&sam, &format!("/api/v1/tickets/{n}")).await;
    assert_eq!((same["assignment_group"].as_str(), same["tags"].clone()), (Some("Service Desk"), json!(["printing"])));

    // The requester's reply says it: the rule moves the ticket to Security, restricts it, raises
    // the urgency, tags it and tells Security's agent; Sam no longer sees it.
    let (s, b) = t
        .post(
            &ada,
            &format!("/api/v1/tickets/{n}/comments"),
            json!({"body": "Sorry, I clicked the link before I saw it."}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    crate::webhooks::run_jobs(&t).await;
    let (_, moved) = t.get(&sec, &format!("/api/v1/tickets/{n}")).await;
    assert_eq!(
        (moved["assignment_group"].as_str(), moved["restricted_to"].as_str(), moved["urgency"].as_i64()),
        (Some("Security"), Some("Security"), Some(1)),
        "{moved}"
    );
    assert_eq!(moved["tags"], json!(["phishing", "printing"]));
    assert_eq!(
        (moved["assignee"].clone(), moved["state"].as_str()),
        (Value::Null, Some("new")),
        "the assignee stays with the old group"
    );
    assert_eq!(t.get(&sam, &format!("/api/v1/tickets/{n}")).await.0, StatusCode::NOT_FOUND);
    let got = unread(&t, &sec).await;
    assert!(got.iter().any(|(k, m)| k == "rule" && m.contains(&n)), "{got:?}");
    let tl = timeline(&t, &admin, &n).await;
    let fired: Vec<&Value> = tl.iter().filter(|e| e["kind"] == "rule_fired").collect();
    assert_eq!(fired.len(), 2, "New only at creation, Phished after all on the reply: {fired:?}");
    assert_eq!(fired[1]["data"]["rule"], "Phished after all");
    assert!(fired[1]["actor"].is_null(), "Orion's doing");

    // Another reply saying the same changes nothing more: nothing written again.
    let before = timeline(&t, &admin, &n).await.len();
    t.post(&ada, &format!("/api/v1/tickets/{n}/comments"), json!({"body": "I clicked the link, yes."})).await;
    crate::webhooks::run_jobs(&t).await;
    assert_eq!(timeline(&t, &admin, &n).await.len(), before + 1, "only the reply itself");

    // Tickets by tag: the restricted ticket counts for Security's agent and admins, not for Sam.
    let (s, rep) = t.get(&sec, "/api/v1/reports/tags").await;
    assert_eq!(s, StatusCode::OK, "{rep}");
    let count = |r: &Value, tag: &str| {
        r["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["tag"] == tag)
            .map(|x| (x["tickets"].as_i64(), x["open"].as_i64()))
    };
    assert_eq!(count(&rep, "phishing"), Some((Some(1), Some(1))), "{rep}");
    let (_, rep) = t.get(&sam, "/api/v1/reports/tags").await;
    assert_eq!(count(&rep, "phishing"), None, "Sam may not see it: {rep}");
    let (s, bad) = t.get(&sam, "/api/v1/reports/tags?from=2026-12-31&to=2026-01-01").await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && bad["error"]["fields"]["from"].is_string(), "{bad}");
    assert_eq!(t.get(&ada, "/api/v1/reports/tags").await.0, StatusCode::FORBIDDEN);
    t.app.set_password("sec@example.com", PW.into()).await.unwrap();
    let mut w = Web::new(&t);
    w.login("sec@example.com", PW).await;
    let page = w.get("/agent/tags").await.body;
    let row = page.split("id=\"tag-counts\"").nth(1).expect("the table").split("</table>").next().unwrap();
    assert!(row.contains("href=\"/agent?tag=phishing&amp;state=all\">phishing</a>"), "{row}");

    // The OLA report counts the restricted ticket only for those who may see it.
    let (s, b) = t
        .post(
            &sec,
            &format!("/api/v1/tickets/{n}/resolve"),
            json!({"resolution_code": "fixed", "resolution_notes": "Password changed."}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let ola_groups = |r: &Value| -> Vec<String> {
        r["groups"].as_array().unwrap().iter().map(|g| g["group"].as_str().unwrap_or_default().to_string()).collect()
    };
    let (_, theirs) = t.get(&sec, "/api/v1/reports/ola?from=2026-01-01&to=2027-01-01").await;
    assert!(ola_groups(&theirs).contains(&"Security".to_string()), "{theirs}");
    let (_, his) = t.get(&sam, "/api/v1/reports/ola?from=2026-01-01&to=2027-01-01").await;
    assert!(ola_groups(&his).is_empty(), "Sam's report counts no restricted ticket: {his}");
}
