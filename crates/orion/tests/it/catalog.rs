//! The service catalog over HTTP, on SQLite and PostgreSQL: items built, checked, published and
//! versioned; who may ask for what; requests whose answers are checked by the form's rules on the
//! server and kept as typed data with the version they were made from; an item as one file.

use crate::web::Web;
use orion_testkit::{Engine, TestApp, engine_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};

engine_tests!(
    an_item_is_checked_published_and_versioned,
    a_request_keeps_typed_answers_and_the_version_it_was_made_from,
    an_item_travels_as_one_file,
    a_requester_asks_from_the_portal_with_or_without_javascript,
    the_shipped_examples_import,
    an_admin_builds_and_publishes_an_item_in_the_console
);

struct Desk {
    t: TestApp,
    admin: String,
    sam: String,
    ann: String,
    bob: String,
    dev: String,
}

async fn desk(engine: Engine) -> Option<Desk> {
    let t = TestApp::spawn(engine).await?;
    let admin = t.bootstrap_admin("admin@example.com").await;
    for (name, tier) in [("Service Desk", 1), ("Desktop Support", 2)] {
        let (s, b) = t.post(&admin, "/api/v1/groups", json!({"name": name, "tier": tier})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let sam = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    let ann = t.user(&admin, "ann@example.com", "requester", &[]).await;
    let bob = t.user(&admin, "bob@example.com", "requester", &[]).await;
    let (s, b) = t
        .post(
            &admin,
            "/api/v1/users",
            json!({"email": "dev@example.com", "name": "Dev", "role": "requester", "department": "Engineering"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let dev = t.app.create_token_for("dev@example.com", "test").await.unwrap().token;
    Some(Desk { t, admin, sam, ann, bob, dev })
}

fn fields(b: &Value) -> Vec<String> {
    b["error"]["fields"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

/// A laptop form: a role; for developers a section asking how much memory, with a reason
/// required above 16 GB; extras to pick; an employee number of a fixed shape.
fn laptop_package() -> Value {
    json!({
        "title": "New laptop ({{role}})",
        "assignment_group": "Desktop Support",
        "next_steps": "Your manager approves, then Desktop Support prepares the laptop.",
        "form": {"sections": [
            {"title": "About you", "questions": [
                {"key": "role", "label": "What do you do", "kind": "choice", "required": true,
                 "choices": [{"value": "office", "label": "Office work"}, {"value": "developer", "label": "Software development"}]},
                {"key": "employee_number", "label": "Employee number", "kind": "short_text", "required": true,
                 "pattern": "E[0-9]{5}", "pattern_hint": "an employee number like E12345"},
                {"key": "extras", "label": "Extras", "kind": "multi_choice",
                 "choices": [{"value": "dock", "label": "Docking station"}, {"value": "mouse", "label": "Mouse"}, {"value": "headset", "label": "Headset"}]},
                {"key": "needed_by", "label": "Needed by", "kind": "date"}
            ]},
            {"title": "Developer kit", "show_when": {"conditions": [{"question": "role", "op": "equals", "value": "developer"}]},
             "questions": [
                {"key": "ram_gb", "label": "Memory (GB)", "kind": "number", "required": true, "min": 8, "max": 64},
                {"key": "justification", "label": "Why that much memory", "kind": "long_text",
                 "require_when": {"conditions": [{"question": "ram_gb", "op": "greater", "value": "16"}]}}
            ]}
        ]}
    })
}

async fn create_laptop(d: &Desk) -> i64 {
    let (s, b) =
        d.t.post(
            &d.admin,
            "/api/v1/catalog/items",
            json!({"name": "New laptop", "description": "A laptop for work.", "category": "Hardware",
                   "icon": "laptop", "package": laptop_package(), "publish": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["id"].as_i64().unwrap()
}

async fn an_item_is_checked_published_and_versioned(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    // A broken definition is refused as a whole, every mistake named.
    let mut bad = laptop_package();
    bad["form"]["sections"][0]["questions"][0]["show_when"] =
        json!({"conditions": [{"question": "ram_gb", "op": "greater", "value": "8"}]});
    bad["form"]["sections"][0]["questions"][1]["pattern"] = json!("E[0-9");
    bad["assignment_group"] = json!("Nobody");
    let (s, b) = t
        .post(&d.admin, "/api/v1/catalog/items", json!({"name": "Broken", "category": "Hardware", "package": bad}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let named = fields(&b);
    for want in [
        "package.form.sections[0].questions[0].show_when.conditions[0].question",
        "package.form.sections[0].questions[1].pattern",
        "package.assignment_group",
    ] {
        assert!(named.iter().any(|f| f == want), "{want} in {named:?}");
    }
    let (_, all) = t.get(&d.admin, "/api/v1/catalog/items").await;
    assert_eq!(all["items"], json!([]), "nothing half-written");
    // Only administrators build the catalog.
    let (s, _) =
        t.post(&d.sam, "/api/v1/catalog/items", json!({"name": "X", "category": "Hardware", "package": {}})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let laptop = create_laptop(&d).await;
    let (s, b) = t.post(&d.admin, "/api/v1/catalog/items", json!({"name": "new LAPTOP", "category": "Hardware"})).await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["name".to_string()]), "names are unique");
    // An item for developers only, and one never published.
    let (s, b) = t
        .post(
            &d.admin,
            "/api/v1/catalog/items",
            json!({"name": "GPU workstation", "category": "Hardware", "audience": {"departments": ["engineering"]},
                   "package": {"form": {"sections": []}}, "publish": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let gpu = b["id"].as_i64().unwrap();
    let (s, _) = t.post(&d.admin, "/api/v1/catalog/items", json!({"name": "Coming soon", "category": "Access"})).await;
    assert_eq!(s, StatusCode::CREATED);

    let names = |b: &Value| -> Vec<String> {
        b["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_string()).collect()
    };
    let (_, mine) = t.get(&d.ann, "/api/v1/catalog/items").await;
    assert_eq!(names(&mine), vec!["New laptop"], "{mine}");
    assert!(mine["items"][0]["draft"].is_null(), "requesters do not see drafts");
    let (_, theirs) = t.get(&d.dev, "/api/v1/catalog/items").await;
    assert_eq!(names(&theirs), vec!["GPU workstation", "New laptop"]);
    let (s, _) = t.get(&d.ann, &format!("/api/v1/catalog/items/{gpu}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "an item not offered to you does not exist for you");
    let (_, admins) = t.get(&d.admin, "/api/v1/catalog/items?limit=2").await;
    assert_eq!(names(&admins), vec!["Coming soon", "GPU workstation"]);
    let cursor = admins["next_cursor"].as_str().unwrap();
    let (_, rest) = t.get(&d.admin, &format!("/api/v1/catalog/items?limit=2&cursor={cursor}")).await;
    assert_eq!(names(&rest), vec!["New laptop"]);
    assert!(rest["next_cursor"].is_null());
    let (_, found) = t.get(&d.ann, "/api/v1/catalog/items?q=laptop%20work").await;
    assert_eq!(names(&found), vec!["New laptop"]);

    // Editing changes the draft only; publishing makes version 2.
    let (_, item) = t.get(&d.admin, &format!("/api/v1/catalog/items/{laptop}")).await;
    assert_eq!((item["version"].as_i64(), item["unpublished_changes"].as_bool()), (Some(1), Some(false)));
    let mut pkg = laptop_package();
    pkg["form"]["sections"][0]["questions"][0]["label"] = json!("Your job");
    let edit = json!({"name": "New laptop", "category": "Hardware", "package": pkg,
                      "row_version": item["row_version"]});
    let (s, b) = t.put(&d.admin, &format!("/api/v1/catalog/items/{laptop}"), edit.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!((b["version"].as_i64(), b["unpublished_changes"].as_bool()), (Some(1), Some(true)));
    let (s, _) = t.put(&d.admin, &format!("/api/v1/catalog/items/{laptop}"), edit).await;
    assert_eq!(s, StatusCode::CONFLICT, "a change made on an old copy is refused");
    let (_, seen) = t.get(&d.ann, &format!("/api/v1/catalog/items/{laptop}")).await;
    assert_eq!(seen["package"]["form"]["sections"][0]["questions"][0]["label"], "What do you do");
    let (s, b) = t.post(&d.admin, &format!("/api/v1/catalog/items/{laptop}/publish"), json!({})).await;
    assert_eq!((s, b["version"].as_i64()), (StatusCode::OK, Some(2)), "{b}");
    let (_, b) = t.post(&d.admin, &format!("/api/v1/catalog/items/{laptop}/publish"), json!({})).await;
    assert_eq!(b["version"], 2, "publishing an unchanged draft makes no new version");
    let (_, seen) = t.get(&d.ann, &format!("/api/v1/catalog/items/{laptop}")).await;
    assert_eq!(seen["package"]["form"]["sections"][0]["questions"][0]["label"], "Your job");
}

async fn a_request_keeps_typed_answers_and_the_version_it_was_made_from(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let laptop = create_laptop(&d).await;
    let path = format!("/api/v1/catalog/items/{laptop}");

    // While filling in: the developer section shows once "developer" is picked.
    let (s, c) = t.post(&d.ann, &format!("{path}/check"), json!({"answers": {"role": "office"}})).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["sections"], json!([true, false]));
    assert!(!c["visible"].as_array().unwrap().contains(&json!("ram_gb")));
    let (_, c) =
        t.post(&d.ann, &format!("{path}/check"), json!({"answers": {"role": "developer", "ram_gb": 32}})).await;
    assert_eq!(c["sections"], json!([true, true]));
    assert!(c["required"].as_array().unwrap().contains(&json!("justification")), "{c}");
    assert_eq!(c["errors"], json!({}), "nothing missing is an error while filling in");

    // Bad answers are refused, each question named; nothing is logged.
    let (s, b) = t
        .post(
            &d.ann,
            &format!("{path}/requests"),
            json!({"answers": {"role": "developer", "employee_number": "12345", "ram_gb": 128, "extras": ["tablet"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(fields(&b), vec!["answers.employee_number", "answers.extras", "answers.ram_gb"]);
    assert_eq!(
        b["error"]["fields"]["answers.employee_number"],
        "Employee number: expected an employee number like E12345"
    );
    let (_, tickets) = t.get(&d.ann, "/api/v1/tickets").await;
    assert_eq!(tickets["items"], json!([]));

    // A good one: a service request for Desktop Support, its answers typed.
    let answers = json!({"role": "developer", "employee_number": "E12345", "ram_gb": 32,
                         "justification": "Builds of the mobile app", "extras": ["mouse", "dock"],
                         "needed_by": "2027-01-15"});
    let (s, req) = t.post(&d.ann, &format!("{path}/requests"), json!({"answers": answers})).await;
    assert_eq!(s, StatusCode::CREATED, "{req}");
    assert_eq!(req["kind"], "service_request");
    assert!(req["number"].as_str().unwrap().starts_with("REQ"), "{req}");
    assert_eq!(req["title"], "New laptop (developer)");
    assert_eq!(req["assignment_group"], "Desktop Support", "{req}");
    let number = req["number"].as_str().unwrap().to_string();
    // Logged with the item's group from the start: the timeline (and the reports reading it) say so.
    let (_, timeline) = t.get(&d.sam, &format!("/api/v1/tickets/{number}/timeline")).await;
    let created = timeline["items"].as_array().or(timeline.as_array()).unwrap()[0].clone();
    assert_eq!(
        (created["kind"].as_str(), created["data"]["assignment_group"].as_str()),
        (Some("created"), Some("Desktop Support")),
        "{created}"
    );
    let (s, asked) = t.get(&d.ann, &format!("/api/v1/tickets/{number}/catalog")).await;
    assert_eq!(s, StatusCode::OK, "{asked}");
    assert_eq!((asked["item"].as_str(), asked["version"].as_i64()), (Some("New laptop"), Some(1)));
    assert_eq!(asked["requested_for"], "ann@example.com");
    let by_key = |key: &str| asked["answers"].as_array().unwrap().iter().find(|a| a["key"] == key).cloned();
    assert_eq!(by_key("ram_gb").unwrap()["value"], json!(32.0));
    assert_eq!(by_key("extras").unwrap()["value"], json!(["dock", "mouse"]), "in the form's order");
    assert_eq!(by_key("extras").unwrap()["text"], "Docking station, Mouse");
    assert_eq!(by_key("role").unwrap()["text"], "Software development");
    let keys: Vec<&str> = asked["answers"].as_array().unwrap().iter().map(|a| a["key"].as_str().unwrap()).collect();
    assert_eq!(keys, vec!["role", "employee_number", "extras", "needed_by", "ram_gb", "justification"]);
    // Another requester sees neither the ticket nor its answers.
    let (s, _) = t.get(&d.bob, &format!("/api/v1/tickets/{number}/catalog")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Answers to hidden questions are dropped, whatever was sent.
    let (s, office) = t
        .post(
            &d.bob,
            &format!("{path}/requests"),
            json!({"answers": {"role": "office", "employee_number": "E54321", "ram_gb": 64}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{office}");
    let (_, asked) = t.get(&d.bob, &format!("/api/v1/tickets/{}/catalog", office["number"].as_str().unwrap())).await;
    let keys: Vec<&str> = asked["answers"].as_array().unwrap().iter().map(|a| a["key"].as_str().unwrap()).collect();
    assert_eq!(keys, vec!["role", "employee_number"]);

    // Republished with another label: the first request still reads as it was asked.
    let (_, item) = t.get(&d.admin, &path).await;
    let mut pkg = laptop_package();
    pkg["form"]["sections"][1]["questions"][0]["label"] = json!("RAM");
    let (s, b) = t
        .put(
            &d.admin,
            &path,
            json!({"name": "New laptop", "category": "Hardware", "package": pkg, "publish": true,
                   "row_version": item["row_version"]}),
        )
        .await;
    assert_eq!((s, b["version"].as_i64()), (StatusCode::OK, Some(2)), "{b}");
    let (_, asked) = t.get(&d.sam, &format!("/api/v1/tickets/{number}/catalog")).await;
    assert_eq!(asked["version"], 1);
    let ram = asked["answers"].as_array().unwrap().iter().find(|a| a["key"] == "ram_gb").unwrap().clone();
    assert_eq!(ram["label"], "Memory (GB)");
    // A form filled in against version 1 is not read against version 2.
    let (s, b) = t
        .post(
            &d.ann,
            &format!("{path}/requests"),
            json!({"answers": {"role": "office", "employee_number": "E1"}, "version": 1}),
        )
        .await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["version".to_string()]));

    // Staff ask on someone's behalf; requesters only for themselves.
    let (s, b) = t
        .post(
            &d.sam,
            &format!("{path}/requests"),
            json!({"answers": {"role": "office", "employee_number": "E00007"}, "requested_for": "bob@example.com"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["requester"], "bob@example.com", "{b}");
    let (s, b) = t
        .post(
            &d.ann,
            &format!("{path}/requests"),
            json!({"answers": {"role": "office", "employee_number": "E00007"}, "requested_for": "bob@example.com"}),
        )
        .await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["requested_for".to_string()]));
    // The item counts its requests (the portal lists the most requested first).
    let (_, item) = t.get(&d.admin, &path).await;
    assert_eq!(item["requested"], 3);
    // Answers are list filters: every laptop request with 32 GB, with a dock, for office work.
    let sam = &d.sam;
    let listed = |q: &'static str| async move {
        let (s, b) = t.get(sam, &format!("/api/v1/tickets?answer={q}")).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let mut n: Vec<String> =
            b["items"].as_array().unwrap().iter().map(|i| i["number"].as_str().unwrap().to_string()).collect();
        n.sort();
        n
    };
    assert_eq!(listed("ram_gb:32").await, vec![number.clone()]);
    assert_eq!(listed("ram_gb:32.0").await, vec![number.clone()], "a number as written");
    assert_eq!(listed("extras:dock").await, vec![number.clone()]);
    assert_eq!(listed("ram_gb:64").await, Vec::<String>::new(), "a dropped answer is not there to find");
    assert_eq!(listed("role:office").await.len(), 2);
    let (_, own) = t.get(&d.ann, "/api/v1/tickets?answer=role:office").await;
    assert_eq!(own["items"], json!([]), "requesters filter their own requests only");
    let (s, b) = t.get(&d.sam, "/api/v1/tickets?answer=ram_gb").await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["answer".to_string()]));
    // A ticket not asked from the catalog has no answers.
    let (_, inc) = t.post(&d.ann, "/api/v1/tickets", json!({"title": "Printer", "description": "Jammed"})).await;
    let (s, _) = t.get(&d.ann, &format!("/api/v1/tickets/{}/catalog", inc["number"].as_str().unwrap())).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn an_item_travels_as_one_file(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let laptop = create_laptop(&d).await;
    let (s, file) = t.get(&d.admin, &format!("/api/v1/catalog/items/{laptop}/export")).await;
    assert_eq!(s, StatusCode::OK, "{file}");
    assert_eq!(file["format"], "orion.catalog-item");
    assert_eq!(file["package"]["assignment_group"], "Desktop Support");
    let (s, _) = t.get(&d.sam, &format!("/api/v1/catalog/items/{laptop}/export")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Imported under another name: a new item, published.
    let mut copy = file.clone();
    copy["name"] = json!("Developer laptop");
    let (s, _) = t.post(&d.admin, "/api/v1/catalog/import?dry_run=true", copy.clone()).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, all) = t.get(&d.admin, "/api/v1/catalog/items").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1, "a dry run changes nothing");
    let (s, b) = t.post(&d.admin, "/api/v1/catalog/import", copy.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!((b["name"].as_str(), b["version"].as_i64()), (Some("Developer laptop"), Some(1)));
    assert_eq!(b["package"], file["package"], "the form travels whole");
    // The same file again changes nothing; an edited one makes the next version.
    let (_, b) = t.post(&d.admin, "/api/v1/catalog/import", copy.clone()).await;
    assert_eq!(b["version"], 1);
    copy["package"]["next_steps"] = json!("Collect it at the IT desk.");
    let (_, b) = t.post(&d.admin, "/api/v1/catalog/import", copy.clone()).await;
    assert_eq!(
        (b["version"].as_i64(), b["package"]["next_steps"].as_str()),
        (Some(2), Some("Collect it at the IT desk."))
    );
    // Not an item file, or a broken form: refused with the field named.
    let (s, b) = t
        .post(
            &d.admin,
            "/api/v1/catalog/import",
            json!({"format": "x", "format_version": 1, "name": "A", "category": "B", "icon": "box", "package": {}}),
        )
        .await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["format".to_string()]));
    copy["package"]["form"]["sections"][0]["questions"][0]["kind"] = json!("choice");
    copy["package"]["form"]["sections"][0]["questions"][0]["choices"] = json!([]);
    let (s, b) = t.post(&d.admin, "/api/v1/catalog/import", copy).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // The rule comparing with a choice that is gone is named too.
    assert_eq!(
        fields(&b),
        vec!["package.form.sections[0].questions[0].choices", "package.form.sections[1].show_when.conditions[0].value"]
    );
}

async fn a_requester_asks_from_the_portal_with_or_without_javascript(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let laptop = create_laptop(&d).await;
    t.app.set_password("ann@example.com", "correct horse battery".into()).await.unwrap();
    let mut w = Web::new(t);
    assert!(w.login("ann@example.com", "correct horse battery").await.status.is_redirection());
    let home = w.get("/portal").await;
    assert!(home.body.contains("href=\"/portal/catalog\""), "Ask for something opens the catalog");
    let page = w.get("/portal/catalog?q=laptop").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&format!("href=\"/portal/catalog/{laptop}\"")) && page.body.contains("New laptop"));
    let form = w.get(&format!("/portal/catalog/{laptop}")).await;
    assert!(form.body.contains("What do you do") && !form.body.contains("Developer kit"), "{}", form.body);
    assert!(form.body.contains("Desktop Support prepares the laptop"), "what happens next is shown");

    // Without JavaScript: "Update the form" shows the developer section once developer is picked.
    let path = format!("/portal/catalog/{laptop}");
    let updated = w.post(&path, &[("version", "1"), ("a.role", "developer"), ("update", "1")]).await;
    assert_eq!(updated.status, StatusCode::OK);
    assert!(updated.body.contains("Developer kit") && updated.body.contains("id=\"a-ram_gb\""), "{}", updated.body);
    // With htmx: the same, as the form's part alone.
    let part = w.post_htmx(&path, &[("version", "1"), ("a.role", "developer")]).await;
    assert!(part.body.starts_with("<div id=\"catalog-fields\""), "{}", part.body);
    assert!(part.body.contains("id=\"a-ram_gb\"") && !part.body.contains("<html"));

    // A bad answer is refused at its question, with what was typed kept.
    let sent = [
        ("version", "1"),
        ("a.role", "developer"),
        ("a.employee_number", "12345"),
        ("a.ram_gb", "24"),
        ("a.extras", "dock"),
        ("a.extras", "headset"),
        ("send", "1"),
    ];
    let refused = w.post(&path, &sent).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("id=\"err-employee_number\""), "{}", refused.body);
    assert!(refused.body.contains("expected an employee number like E12345"));
    assert!(refused.body.contains("id=\"err-justification\""), "more than 16 GB needs a reason");
    assert!(refused.body.contains("value=\"24\""), "the typed answer is kept");
    let (_, mine) = t.get(&d.ann, "/api/v1/tickets").await;
    assert_eq!(mine["items"], json!([]), "nothing was logged");

    let mut good = sent.to_vec();
    good[2] = ("a.employee_number", "E12345");
    good.push(("a.justification", "Mobile builds"));
    let done = w.post(&path, &good).await;
    assert!(done.status.is_redirection(), "{} {}", done.status, done.body);
    assert!(done.location.starts_with("/portal/tickets/REQ"), "{}", done.location);
    let ticket = w.get(&done.location).await;
    assert!(ticket.body.contains("id=\"catalog-answers\""), "{}", ticket.body);
    assert!(ticket.body.contains("Docking station, Headset") && ticket.body.contains("Mobile builds"));
    // The desk sees the same answers on its ticket page.
    t.app.set_password("sam@example.com", "correct horse battery".into()).await.unwrap();
    let mut desk_web = Web::new(t);
    assert!(desk_web.login("sam@example.com", "correct horse battery").await.status.is_redirection());
    let number = done.location.trim_start_matches("/portal/tickets/");
    let agent_page = desk_web.get(&format!("/agent/tickets/{number}")).await;
    assert!(agent_page.body.contains("id=\"catalog-answers\"") && agent_page.body.contains("Software development"));
}

async fn the_shipped_examples_import(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    for name in ["Systems & Network"] {
        let (s, b) = t.post(&d.admin, "/api/v1/groups", json!({"name": name, "tier": 3})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    for (parent, child) in [
        ("Hardware", Some("Laptop")),
        ("Software", Some("Business Apps")),
        ("Software", Some("Email & Calendar")),
        ("Access", Some("Password Reset")),
    ] {
        let _ = t.post(&d.admin, "/api/v1/categories", json!({"name": parent})).await;
        if let Some(c) = child {
            let (s, b) = t.post(&d.admin, "/api/v1/categories", json!({"name": c, "parent": parent})).await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
        }
    }
    for (file, text) in orion_app::catalog::EXAMPLES {
        let item: Value = serde_json::from_str(text).unwrap();
        let (s, b) = t.post(&d.admin, "/api/v1/catalog/import", item).await;
        assert_eq!(s, StatusCode::OK, "{file}: {b}");
        assert_eq!(b["version"], 1, "{file}");
    }
    let (_, all) = t.get(&d.ann, "/api/v1/catalog/items?order=popular").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 6);
}

async fn an_admin_builds_and_publishes_an_item_in_the_console(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    t.app.set_password("admin@example.com", "correct horse battery".into()).await.unwrap();
    let mut w = Web::new(t);
    assert!(w.login("admin@example.com", "correct horse battery").await.status.is_redirection());
    let page = w.get("/admin/catalog").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("The catalog is empty"));
    let added = w.post("/admin/catalog", &[("name", "New laptop"), ("category", "Hardware"), ("icon", "laptop")]).await;
    assert!(added.status.is_redirection(), "{}", added.body);
    let item_path = added.location.split('?').next().unwrap().to_string();
    let item = w.get(&item_path).await;
    assert!(item.body.contains("Not published yet") && item.body.contains("The form asks nothing yet"));
    let version =
        item.body.split("name=\"row_version\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    // A package that is not JSON, then one with a mistake: refused, the typed text kept.
    let bad = w
        .post(
            &item_path,
            &[
                ("row_version", &version),
                ("name", "New laptop"),
                ("category", "Hardware"),
                ("active", "on"),
                ("package", "{not json"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("not a package the catalog reads") && bad.body.contains("{not json"));
    let mut broken = laptop_package();
    broken["assignment_group"] = json!("Nobody");
    let bad = w
        .post(
            &item_path,
            &[
                ("row_version", &version),
                ("name", "New laptop"),
                ("category", "Hardware"),
                ("active", "on"),
                ("package", &broken.to_string()),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("no active group called"), "{}", bad.body);
    let saved = w
        .post(
            &item_path,
            &[
                ("row_version", &version),
                ("name", "New laptop"),
                ("category", "Hardware"),
                ("active", "on"),
                ("departments", "Engineering"),
                ("package", &laptop_package().to_string()),
                ("publish", "1"),
            ],
        )
        .await;
    assert!(saved.status.is_redirection(), "{}", saved.body);
    let item = w.get(&item_path).await;
    assert!(item.body.contains("Version 1 is offered"), "{}", item.body);
    assert!(
        item.body.contains("Shown when “What do you do” is “Software development”"),
        "the outline reads the rules in words: {}",
        item.body
    );
    assert!(item.body.contains("required when “Memory (GB)” is more than “16”"));
    // Offered to Engineering only now.
    let (_, mine) = t.get(&d.ann, "/api/v1/catalog/items").await;
    assert_eq!(mine["items"], json!([]));
    let (_, theirs) = t.get(&d.dev, "/api/v1/catalog/items").await;
    assert_eq!(theirs["items"].as_array().unwrap().len(), 1);
    let file = w.get(&format!("{item_path}/export")).await;
    assert!(file.headers.get("content-disposition").unwrap().to_str().unwrap().contains("new-laptop.json"));
    let parsed: Value = serde_json::from_str(&file.body).unwrap();
    assert_eq!(parsed["format"], "orion.catalog-item");
}
