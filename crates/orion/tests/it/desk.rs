//! Issue 26: the agent's desk — caller lookup, the caller on the ticket page and the bell so far — over HTTP like the console and the API
//! use it, on SQLite and PostgreSQL.

use crate::web::{PW, Web};
use orion_testkit::{Engine, TestApp, engine_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};

engine_tests!(
    a_surname_a_phone_number_or_a_department_finds_the_caller,
    people_from_before_the_upgrade_are_found,
    the_ticket_page_shows_who_is_calling_and_the_queue_filters_by_caller,
    the_bell_shows_an_sla_warning_live_and_it_is_marked_read,
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
