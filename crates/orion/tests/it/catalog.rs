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
    an_admin_builds_and_publishes_an_item_in_the_console,
    an_admin_designs_a_form_in_sentences,
    an_approval_chain_is_decided_by_link_by_reply_and_by_timeout,
    an_approved_request_runs_its_tasks_in_order_and_the_closing_mail_names_their_outputs,
    a_laptop_is_asked_for_in_chromium_and_approved_by_the_mailed_link
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
                {"key": "needed_by", "label": "Needed by", "kind": "date"},
                {"key": "photo", "label": "A photo of your old laptop's label", "kind": "attachment"}
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
            json!({"answers": {"role": "developer", "employee_number": "12345", "ram_gb": 128, "extras": ["tablet"],
                               "photo": "label.png"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(fields(&b), vec!["answers.employee_number", "answers.extras", "answers.photo", "answers.ram_gb"]);
    assert!(b["error"]["fields"]["answers.photo"].as_str().unwrap().contains("attach the file itself"), "{b}");
    assert_eq!(
        b["error"]["fields"]["answers.employee_number"],
        "Employee number: expected an employee number like E12345"
    );
    // A file answers a file question only, and its content must be base64.
    use base64::Engine as _;
    let png = b"\x89PNG the label of laptop L-0042".to_vec();
    let file = json!({"filename": "label.png", "content_type": "image/png",
                      "data_base64": base64::engine::general_purpose::STANDARD.encode(&png)});
    let (s, b) = t
        .post(
            &d.ann,
            &format!("{path}/requests"),
            json!({"answers": {"role": "office", "employee_number": file.clone(),
                               "photo": {"filename": "label.png", "data_base64": "%%%"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(fields(&b), vec!["answers.employee_number", "answers.photo.data_base64"]);
    assert!(b["error"]["fields"]["answers.employee_number"].as_str().unwrap().contains("takes no file"), "{b}");
    let (_, tickets) = t.get(&d.ann, "/api/v1/tickets").await;
    assert_eq!(tickets["items"], json!([]));

    // A good one: a service request for Desktop Support, its answers typed.
    let answers = json!({"role": "developer", "employee_number": "E12345", "ram_gb": 32,
                         "justification": "Builds of the mobile app", "extras": ["mouse", "dock"],
                         "needed_by": "2027-01-15", "photo": file});
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
    assert_eq!(keys, vec!["role", "employee_number", "extras", "needed_by", "photo", "ram_gb", "justification"]);
    // Answers are found by search — the requester's own, and the desk's — and stay found once
    // the ticket changes (its index document is rebuilt from the stored answers).
    for (who, token) in [("ann", &d.ann), ("sam", &d.sam)] {
        let (_, hits) = t.get(token, "/api/v1/search?q=mobile&type=ticket").await;
        assert!(hits.to_string().contains(&number), "{who}: {hits}");
    }
    let (s, b) = t.post(&d.sam, &format!("/api/v1/tickets/{number}/comments"), json!({"body": "Ordering it."})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, hits) = t.get(&d.sam, "/api/v1/search?q=mobile%20ordering&type=ticket").await;
    assert!(hits.to_string().contains(&number), "{hits}");
    let (_, hits) = t.get(&d.bob, "/api/v1/search?q=mobile&type=ticket").await;
    assert!(!hits.to_string().contains(&number), "{hits}");
    // The file is kept with the request; its answer names it and links to it.
    let photo = by_key("photo").unwrap();
    assert_eq!(photo["text"], "label.png");
    let file_url = format!("{}/api/v1/attachments/{}", t.base, photo["attachment"].as_i64().expect("a file"));
    let got = t.client.get(&file_url).bearer_auth(&d.ann).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().to_vec(), png);
    // Another requester sees neither the ticket nor its answers, nor its file.
    let (s, _) = t.get(&d.bob, &format!("/api/v1/tickets/{number}/catalog")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(t.client.get(&file_url).bearer_auth(&d.bob).send().await.unwrap().status(), StatusCode::NOT_FOUND);

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

    // The item's requests as a table for a spreadsheet: a column per question of either version
    // (the newest's labels), choices by their labels, a would-be formula written as text.
    let formula = json!({"answers": {"role": "developer", "employee_number": "E00008", "ram_gb": 8,
                                     "justification": "=HYPERLINK(\"http://x\")"}});
    let (s, b) = t.post(&d.bob, &format!("{path}/requests"), formula).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let csv_url = format!("{}{path}/requests.csv", t.base);
    let got = t.client.get(&csv_url).bearer_auth(&d.sam).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert!(got.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = got.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "number,requested_at,state,version,requested_for,What do you do,Employee number,Extras,Needed by,\
         A photo of your old laptop's label,RAM,Why that much memory"
    );
    assert_eq!(lines.len(), 5, "a line per request: {csv}");
    let first = lines.iter().find(|l| l.starts_with(&format!("{number},"))).expect("the first request");
    assert!(
        first.ends_with(
            ",1,ann@example.com,Software development,E12345,\"Docking station, Mouse\",2027-01-15,label.png,32,\
             Builds of the mobile app"
        ),
        "{first}"
    );
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    let got = t.client.get(&csv_url).bearer_auth(&d.ann).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::FORBIDDEN, "requesters export nothing");

    // Answers as a report: how the requests of the period answered one question, most given
    // first, each by its label; a question asked only sometimes counts who answered it.
    let (s, r) = t.get(&d.sam, &format!("{path}/answers?question=role")).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!((r["requests"].as_i64(), r["answered"].as_i64()), (Some(4), Some(4)), "{r}");
    let counts: Vec<(String, String, i64)> = r["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (v["value"].as_str().unwrap().into(), v["text"].as_str().unwrap().into(), v["count"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(
        counts,
        vec![("developer".into(), "Software development".into(), 2), ("office".into(), "Office work".into(), 2)]
    );
    let (_, r) = t.get(&d.sam, &format!("{path}/answers?question=ram_gb")).await;
    assert_eq!(r["answered"], 2, "only developers are asked for memory: {r}");
    let values: Vec<&str> = r["values"].as_array().unwrap().iter().map(|v| v["value"].as_str().unwrap()).collect();
    assert_eq!(values, vec!["32", "8"]);
    let (_, r) = t.get(&d.sam, &format!("{path}/answers")).await;
    assert_eq!(r["question"], "role", "without a question: the form's first choice");
    assert!(r["questions"].as_array().unwrap().iter().any(|q| q["key"] == "justification"), "{r}");
    let (_, r) = t.get(&d.sam, &format!("{path}/answers?question=role&from=2099-01-01&to=2099-02-01")).await;
    assert_eq!((r["requests"].as_i64(), r["values"].clone()), (Some(0), json!([])), "another period: {r}");
    let (s, b) = t.get(&d.sam, &format!("{path}/answers?question=shoe_size")).await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["question".to_string()]));
    let (s, _) = t.get(&d.ann, &format!("{path}/answers?question=role")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "requesters see no report");
    // The same in the console, each answer opening its requests in the queue.
    t.app.set_password("sam@example.com", "correct horse battery".into()).await.unwrap();
    let mut w = Web::new(t);
    assert!(w.login("sam@example.com", "correct horse battery").await.status.is_redirection());
    let page = w.get(&format!("/agent/catalog/{laptop}/answers?question=extras")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"answer-counts\"") && page.body.contains("Docking station"), "{}", page.body);
    let queue = w.get("/agent?answer=extras%3Adock").await;
    assert!(queue.body.contains(&number), "the answer's requests in the queue: {}", queue.body);
    assert!(!queue.body.contains(&office["number"].as_str().unwrap().to_string()));
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

    // A big catalog is shown a page at a time, most requested first: the rest is one link away.
    for i in 0..60 {
        let (s, b) = t
            .post(
                &d.admin,
                "/api/v1/catalog/items",
                json!({"name": format!("Adapter {i:02}"), "category": "Hardware", "publish": true,
                       "package": {"form": {"sections": [{"title": "Which", "questions": [
                           {"key": "which", "label": "Which adapter", "kind": "short_text"}]}]}}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let first = w.get("/portal/catalog?category=Hardware").await;
    assert!(first.body.contains("New laptop"), "the requested item comes first");
    let tiles = |body: &str| body.matches("<li data-row class=\"card tile").count();
    assert_eq!(tiles(&first.body), 60, "one page");
    let at = first.body.find("/portal/catalog?cursor=").expect("a link to the next page");
    let next = first.body[at..].split('"').next().unwrap().replace("&amp;", "&");
    assert!(next.contains("category=Hardware"), "{next}");
    let second = w.get(&next).await;
    assert_eq!(tiles(&second.body), 1, "{}", second.body);
    assert!(!second.body.contains("/portal/catalog?cursor="), "the last page links no further");
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
    assert_eq!(all["items"].as_array().unwrap().len(), 8);
    let id_of = |name: &str| all["items"].as_array().unwrap().iter().find(|i| i["name"] == name).unwrap()["id"].clone();
    // A step that leaves its rule and timeout action out is shown with what they mean.
    let (_, item) = t.get(&d.admin, &format!("/api/v1/catalog/items/{}", id_of("New laptop"))).await;
    let step = &item["package"]["approvals"][1];
    assert_eq!((step["rule"].as_str(), step["on_timeout"].as_str()), (Some("any"), Some("remind")), "{item}");

    // They come with their chains and task plans: the laptop asks Ann's manager, and a dry run
    // of a meeting room (no chain) shows its two tasks in order.
    let (_, users) = t.get(&d.admin, "/api/v1/users?q=ann").await;
    let ann_id = users["items"][0]["id"].clone();
    let (s, b) = t.patch(&d.admin, &format!("/api/v1/users/{ann_id}"), json!({"manager": "sam@example.com"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let laptop = json!({"role": "office", "replaces": "no", "needed_by": "2027-01-11"});
    let (s, req) = t
        .post(&d.ann, &format!("/api/v1/catalog/items/{}/requests", id_of("New laptop")), json!({"answers": laptop}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{req}");
    assert_eq!(req["pending_reason"], "approval", "{req}");
    let (_, approval) = state_of(t, &d.ann, req["number"].as_str().unwrap()).await;
    let steps: Vec<&str> = approval["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(steps, vec!["Manager approval"], "{approval}");
    assert_eq!(approval["steps"][0]["approvers"][0]["email"], "sam@example.com");
    let (s, dry) = t
        .post(
            &d.admin,
            &format!("/api/v1/catalog/items/{}/dry-run", id_of("Meeting room or event equipment")),
            json!({"as_user": "ann@example.com", "published": true,
                   "answers": {"room": "Orion 2", "starts": "2027-01-12T09:00", "hours": 2, "people": 8, "equipment": ["projector"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{dry}");
    let tasks: Vec<&str> = dry["tasks"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(tasks, vec!["Set up equipment in Orion 2", "Collect the equipment from Orion 2"], "{dry}");
    // The joiner and leaver examples start their workflows from the answers.
    let (s, dry) = t
        .post(
            &d.admin,
            &format!("/api/v1/catalog/items/{}/dry-run", id_of("New joiner")),
            json!({"as_user": "ann@example.com", "published": true,
                   "answers": {"full_name": "Nia New", "email": "nia@example.com", "first_day": "2027-02-01",
                               "manager": "sam@example.com", "department": "Finance", "laptop": "standard"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{dry}");
    assert_eq!(dry["errors"], json!({}), "{dry}");
    assert_eq!(
        dry["workflow"],
        "Once approved: starts a joiner for nia@example.com, start day 2027-02-01, its tasks going to Service Desk."
    );
    assert_eq!(
        dry["approvals"][0]["approvers"][0].as_str().map(|a| a.starts_with("sam@example.com")),
        Some(true),
        "{dry}"
    );
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
    // Tried as someone from the item's page: what the request would be, nothing written.
    let tried = w
        .post(
            &format!("{item_path}/try"),
            &[("as_user", "dev@example.com"), ("answers", r#"{"role": "developer", "ram_gb": 128}"#)],
        )
        .await;
    assert_eq!(tried.status, StatusCode::OK, "{}", tried.body);
    assert!(tried.body.contains("id=\"try-result\""), "{}", tried.body);
    assert!(tried.body.contains("Request “New laptop (developer)” for Desktop Support"), "{}", tried.body);
    assert!(tried.body.contains("answers.ram_gb"), "the refused answer is named: {}", tried.body);
    let (_, tickets) = t.get(&d.admin, "/api/v1/tickets").await;
    assert_eq!(tickets["items"], json!([]), "a dry run logs nothing");
}

async fn draft_of(t: &TestApp, admin: &str, id: &str) -> Value {
    t.get(admin, &format!("/api/v1/catalog/items/{id}")).await.1["draft"].clone()
}

/// The item's row version as its page shows it (each designer page posts it back).
async fn row_version(w: &mut Web, item_path: &str) -> String {
    let page = w.get(item_path).await;
    page.body.split("name=\"row_version\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string()
}

/// The form designer: sections, questions with rules in sentences, approval steps, tasks and
/// routing built from labelled fields; refusals name the place in words and keep what was typed;
/// a stale page is refused; a renamed key is renamed in the rules that name it; the item so built
/// is asked for.
async fn an_admin_designs_a_form_in_sentences(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    t.app.set_password("admin@example.com", "correct horse battery".into()).await.unwrap();
    let mut w = Web::new(t);
    assert!(w.login("admin@example.com", "correct horse battery").await.status.is_redirection());
    let added = w.post("/admin/catalog", &[("name", "New laptop"), ("category", "Hardware"), ("icon", "laptop")]).await;
    let item = added.location.split('?').next().unwrap().split('#').next().unwrap().to_string();
    let id = item.rsplit('/').next().unwrap().to_string();

    let v = row_version(&mut w, &item).await;
    let r = w.post(&format!("{item}/sections/new"), &[("row_version", &v), ("title", "About you")]).await;
    assert!(r.status.is_redirection(), "{}", r.body);
    let stale = v;
    let v = row_version(&mut w, &item).await;
    let r = w
        .post(
            &format!("{item}/sections/0/questions/new"),
            &[
                ("row_version", &v),
                ("label", "What do you do"),
                ("kind", "choice"),
                ("section", "0"),
                ("required", "on"),
                ("choices", "developer = Software development\nOffice work"),
            ],
        )
        .await;
    assert!(r.status.is_redirection(), "{}", r.body);
    // A number that is not one: refused before anything is saved, what was typed kept.
    let v = row_version(&mut w, &item).await;
    let memory = |v: &str, max: &str| {
        vec![
            ("row_version".to_string(), v.to_string()),
            ("label".into(), "Memory (GB)".into()),
            ("kind".into(), "number".into()),
            ("section".into(), "0".into()),
            ("required".into(), "on".into()),
            ("min".into(), "8".into()),
            ("max".into(), max.to_string()),
            ("show_match".into(), "all".into()),
            ("show_q".into(), "what_do_you_do".into()),
            ("show_op".into(), "equals".into()),
            ("show_v".into(), "developer".into()),
            ("show_q".into(), "".into()),
            ("show_op".into(), "equals".into()),
            ("show_v".into(), "".into()),
        ]
    };
    let form = memory(&v, "lots");
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = w.post(&format!("{item}/sections/0/questions/new"), &pairs).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("Largest number: “lots” is not a number") && r.body.contains("value=\"lots\""),
        "{}",
        r.body
    );
    let form = memory(&v, "128");
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = w.post(&format!("{item}/sections/0/questions/new"), &pairs).await;
    assert!(r.status.is_redirection(), "{}", r.body);
    let p = draft_of(t, &d.admin, &id).await;
    let q = &p["form"]["sections"][0]["questions"];
    assert_eq!(q[0]["key"], "what_do_you_do");
    assert_eq!(
        q[0]["choices"],
        json!([{"value": "developer", "label": "Software development"}, {"value": "office_work", "label": "Office work"}])
    );
    assert_eq!((q[1]["key"].as_str(), q[1]["max"].as_f64()), (Some("memory_gb"), Some(128.0)));
    assert_eq!(
        q[1]["show_when"]["conditions"],
        json!([{"question": "what_do_you_do", "op": "equals", "value": "developer"}])
    );
    let page = w.get(&item).await;
    assert!(page.body.contains("shown when “What do you do” is “Software development”"), "{}", page.body);

    // A page read before the last change is refused, not written over it.
    let r = w.post(&format!("{item}/sections/new"), &[("row_version", &stale), ("title", "Late")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("changed meanwhile"), "{}", r.body);
    // A refusal of the whole draft names the place in words.
    let v = row_version(&mut w, &item).await;
    let r = w
        .post(
            &format!("{item}/sections/0/questions/new"),
            &[("row_version", &v), ("label", "Why"), ("key", "Bad Key"), ("kind", "long_text"), ("section", "0")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Section “About you”, question “Why”, key:"), "{}", r.body);
    // Renaming a key renames it in the rules that look at it.
    let page = w.get(&format!("{item}/sections/0/questions/0")).await;
    assert!(page.body.contains("value=\"what_do_you_do\""), "{}", page.body);
    let r = w
        .post(
            &format!("{item}/sections/0/questions/0"),
            &[
                ("row_version", &v),
                ("label", "What do you do"),
                ("key", "role"),
                ("kind", "choice"),
                ("section", "0"),
                ("required", "on"),
                ("choices", "developer = Software development\nOffice work"),
            ],
        )
        .await;
    assert!(r.status.is_redirection(), "{}", r.body);
    let p = draft_of(t, &d.admin, &id).await;
    assert_eq!(p["form"]["sections"][0]["questions"][1]["show_when"]["conditions"][0]["question"], "role");
    // Moving the memory question above the one its rule looks at is refused, in words.
    let v = row_version(&mut w, &item).await;
    let r = w
        .post(
            &format!("{item}/move"),
            &[("row_version", &v), ("what", "question"), ("section", "0"), ("at", "1"), ("dir", "up")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("question “Memory (GB)”, “shown when”, condition 1"), "{}", r.body);

    // An approval step, tasks and where requests go.
    let r = w
        .post(
            &format!("{item}/steps/new"),
            &[
                ("row_version", &v),
                ("name", "Manager approval"),
                ("manager", "on"),
                ("rule", "any"),
                ("remind_after_hours", "2"),
                ("timeout_hours", "8"),
                ("on_timeout", "escalate"),
            ],
        )
        .await;
    assert!(r.status.is_redirection(), "{}", r.body);
    let v = row_version(&mut w, &item).await;
    let r = w
        .post(
            &format!("{item}/tasks/new"),
            &[
                ("row_version", &v),
                ("title", "Create an account"),
                ("group", "Desktop Support"),
                ("out_label", "Account name"),
                ("out_key", ""),
                ("out_required", "0"),
                ("out_label", ""),
                ("out_key", ""),
            ],
        )
        .await;
    assert!(r.status.is_redirection(), "{}", r.body);
    let v = row_version(&mut w, &item).await;
    let r = w
        .post(
            &format!("{item}/tasks/new"),
            &[
                ("row_version", &v),
                ("title", "Grant access to {{account_name}}"),
                ("key", "grant"),
                ("after", "create_an_account"),
            ],
        )
        .await;
    assert!(r.status.is_redirection(), "{}", r.body);
    let v = row_version(&mut w, &item).await;
    let r = w
        .post(
            &format!("{item}/routing"),
            &[
                ("row_version", &v),
                ("title", "New laptop ({{role}})"),
                ("assignment_group", "Desktop Support"),
                ("impact", "2"),
                ("next_steps", "Your manager approves, then Desktop Support prepares it."),
            ],
        )
        .await;
    assert!(r.status.is_redirection(), "{}", r.body);
    let page = w.get(&item).await;
    for said in [
        "Requests are titled “New laptop ({{role}})” and go to Desktop Support.",
        "the requester&#39;s manager; any one of them approves; reminded after 2 business hours; after 8 business hours without a decision, their managers are asked too",
        "Desktop Support; opens when the request is approved; records Account name (required)",
        "once “Create an account” is done",
    ] {
        assert!(page.body.contains(said), "{said}: {}", page.body);
    }
    let p = draft_of(t, &d.admin, &id).await;
    assert_eq!(p["tasks"][0]["outputs"], json!([{"key": "account_name", "label": "Account name", "required": true}]));
    assert_eq!(p["tasks"][1]["after"], json!(["create_an_account"]));
    assert_eq!((p["impact"].as_i64(), p["approvals"][0]["on_timeout"].as_str()), (Some(2), Some("escalate")));

    // A section with questions goes only with them, when that is ticked.
    let v = row_version(&mut w, &item).await;
    let r = w.post(&format!("{item}/sections/new"), &[("row_version", &v), ("title", "Extras")]).await;
    assert!(r.status.is_redirection(), "{}", r.body);
    let v = row_version(&mut w, &item).await;
    let r =
        w.post(&format!("{item}/move"), &[("row_version", &v), ("what", "section"), ("at", "1"), ("dir", "up")]).await;
    assert!(r.status.is_redirection(), "{}", r.body);
    assert_eq!(draft_of(t, &d.admin, &id).await["form"]["sections"][0]["title"], "Extras");
    let v = row_version(&mut w, &item).await;
    let r = w.post(&format!("{item}/sections/1"), &[("row_version", &v), ("remove", "1")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("still asks 2 question(s)"), "{}", r.body);
    let r = w.post(&format!("{item}/sections/0"), &[("row_version", &v), ("remove", "1")]).await;
    assert!(r.status.is_redirection(), "{}", r.body);
    assert_eq!(draft_of(t, &d.admin, &id).await["form"]["sections"].as_array().map(Vec::len), Some(1));

    // Published, the designed form is what a requester is asked and what a request keeps.
    let r = w.post(&format!("{item}/publish"), &[]).await;
    assert!(r.status.is_redirection(), "{}", r.body);
    let (_, users) = t.get(&d.admin, "/api/v1/users?q=ann").await;
    let ann_id = users["items"][0]["id"].clone();
    let (s, b) = t.patch(&d.admin, &format!("/api/v1/users/{ann_id}"), json!({"manager": "sam@example.com"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = t
        .post(&d.ann, &format!("/api/v1/catalog/items/{id}/requests"), json!({"answers": {"role": "developer"}}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "memory is asked of developers: {b}");
    let (s, b) = t
        .post(&d.ann, &format!("/api/v1/catalog/items/{id}/requests"), json!({"answers": {"role": "office_work"}}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["title"], "New laptop (office_work)");
    let (_, asked) = t.get(&d.ann, &format!("/api/v1/tickets/{}/catalog", b["number"].as_str().unwrap())).await;
    assert_eq!(asked["approval"]["steps"][0]["name"], "Manager approval", "{asked}");
}

fn at(s: &str) -> orion_domain::Timestamp {
    let dt: jiff::civil::DateTime = s.parse().unwrap();
    orion_domain::Timestamp(dt.to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp().as_millisecond())
}

/// The approval mails the sink received for `to`, in order: (subject, approve link path, Message-ID).
fn approval_mails(sink: &crate::mail_servers::Sink, to: &str) -> Vec<(String, String, String)> {
    sink.received()
        .into_iter()
        .filter(|(env, m, _)| env["rcpt_to"] == json!([to]) && m.subject.contains("approval is needed"))
        .map(|(_, m, _)| {
            let at = m.text.find("https://help.example.com/approve/").expect("an approval link");
            let link = m.text[at..].split('?').next().unwrap().trim_start_matches("https://help.example.com");
            (m.subject.clone(), link.to_string(), m.message_id.clone().unwrap())
        })
        .collect()
}

async fn state_of(t: &TestApp, token: &str, number: &str) -> (String, Value) {
    let (s, tk) = t.get(token, &format!("/api/v1/tickets/{number}")).await;
    assert_eq!(s, StatusCode::OK, "{tk}");
    let (_, req) = t.get(token, &format!("/api/v1/tickets/{number}/catalog")).await;
    (
        format!("{}/{}", tk["state"].as_str().unwrap(), tk["pending_reason"].as_str().unwrap_or("")),
        req["approval"].clone(),
    )
}

/// A laptop chain: the requester's manager (reminded after 2 business hours, escalated to their
/// manager after 4), then — only for more than 16 GB — everyone in Desktop Support.
async fn approval_desk(engine: Engine) -> Option<(Desk, i64, String, String)> {
    let d = desk(engine).await?;
    let t = &d.t;
    t.clock.set(at("2026-12-07T09:00"));
    let (s, b) = t
        .put(&d.admin, "/api/v1/settings/mail",
             json!({"addresses": ["help@example.com"], "from_name": "Example IT", "portal_url": "https://help.example.com/"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let cleo = t.user(&d.admin, "cleo@example.com", "requester", &[]).await;
    let mia = t.user(&d.admin, "mia@example.com", "requester", &[]).await;
    let lea = t.user(&d.admin, "lea@example.com", "agent", &["Desktop Support"]).await;
    let (_, users) = t.get(&d.admin, "/api/v1/users?limit=100").await;
    let id_of =
        |email: &str| users["items"].as_array().unwrap().iter().find(|u| u["email"] == email).unwrap()["id"].clone();
    for (who, manager) in [
        ("mia@example.com", "cleo@example.com"),
        ("ann@example.com", "mia@example.com"),
        ("bob@example.com", "mia@example.com"),
    ] {
        let (s, b) = t.patch(&d.admin, &format!("/api/v1/users/{}", id_of(who)), json!({"manager": manager})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let _ = cleo;
    let mut package = laptop_package();
    package["approvals"] = json!([
        {"name": "Manager approval", "approvers": [{"kind": "manager"}], "remind_after_hours": 2, "timeout_hours": 4,
         "on_timeout": "escalate"},
        {"name": "Desktop Support", "rule": "all", "approvers": [{"kind": "group", "name": "Desktop Support"}],
         "when": {"conditions": [{"question": "ram_gb", "op": "greater", "value": "16"}]}}
    ]);
    // A chain's mistakes are named like the form's.
    let mut bad = package.clone();
    bad["approvals"][0]["rule"] = json!("quorum");
    bad["approvals"][1]["approvers"] =
        json!([{"kind": "group", "name": "Nobody"}, {"kind": "question", "key": "role"}]);
    let (s, b) = t
        .post(&d.admin, "/api/v1/catalog/items", json!({"name": "New laptop", "category": "Hardware", "package": bad}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        fields(&b),
        vec![
            "package.approvals[0].quorum",
            "package.approvals[1].approvers[0].name",
            "package.approvals[1].approvers[1].key"
        ]
    );
    let (s, b) = t
        .post(&d.admin, "/api/v1/catalog/items",
              json!({"name": "New laptop", "category": "Hardware", "icon": "laptop", "package": package, "publish": true}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    Some((d, b["id"].as_i64().unwrap(), mia, lea))
}

async fn an_approval_chain_is_decided_by_link_by_reply_and_by_timeout(engine: Engine) {
    if !crate::mail_servers::have_smtp_sink() {
        return;
    }
    let Some((d, laptop, mia, lea)) = approval_desk(engine).await else { return };
    let t = &d.t;
    let (sink, worker, _certs) = crate::mail_servers::relay(t);
    let path = format!("/api/v1/catalog/items/{laptop}/requests");
    let office = json!({"role": "office", "employee_number": "E12345"});

    // Someone without a manager cannot ask: nobody could approve, and nothing is logged.
    let (s, b) = t.post(&d.dev, &path, json!({"answers": office})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(fields(&b), vec!["approvals"]);
    assert!(b["error"]["fields"]["approvals"].as_str().unwrap().contains("Dev has no active manager"), "{b}");

    // Ann asks: the request waits for her manager, who is mailed a one-time link.
    let (s, req) = t.post(&d.ann, &path, json!({"answers": office})).await;
    assert_eq!(s, StatusCode::CREATED, "{req}");
    let first = req["number"].as_str().unwrap().to_string();
    assert_eq!((req["state"].as_str(), req["pending_reason"].as_str()), (Some("pending"), Some("approval")));
    worker.run_due().await.unwrap();
    let mails = approval_mails(&sink, "mia@example.com");
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].0.starts_with(&format!("[{first}]")), "{}", mails[0].0);
    let link = mails[0].1.clone();
    let (_, mine) = t.get(&mia, "/api/v1/me/awaiting-approval").await;
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(
        (mine[0]["number"].as_str(), mine[0]["step"].as_str()),
        (Some(first.as_str()), Some("Manager approval"))
    );
    // An agent cannot push it past its approval.
    let (s, b) = t.patch(&d.sam, &format!("/api/v1/tickets/{first}"), json!({"state": "in_progress"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(fields(&b).contains(&"state".to_string()), "{b}");

    // The link's page decides nothing by being opened; a rejection needs a reason.
    let mut w = Web::new(t);
    let page = w.get(&format!("{link}?decision=reject")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Manager approval") && page.body.contains("E12345"), "{}", page.body);
    assert_eq!(state_of(t, &d.ann, &first).await.0, "pending/approval");
    let r = w.post(&link, &[("decision", "reject"), ("comment", "  ")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("say why"), "{}", r.body);
    let r = w.post(&link, &[("decision", "approve"), ("comment", "")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (state, approval) = state_of(t, &d.ann, &first).await;
    assert_eq!(state, "new/", "approved: the request goes to its group's queue");
    assert_eq!(approval["state"], "approved");
    assert_eq!(approval["steps"].as_array().unwrap().len(), 1, "the memory step does not apply to office work");
    let decided = &approval["steps"][0]["approvers"][0];
    assert_eq!(
        (decided["email"].as_str(), decided["decision"].as_str(), decided["via"].as_str()),
        (Some("mia@example.com"), Some("approved"), Some("link"))
    );
    // The link works once.
    let r = w.post(&link, &[("decision", "reject"), ("comment", "changed my mind")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("This link was used"), "{}", r.body);
    assert_eq!(w.get("/approve/apv_0000").await.status, StatusCode::NOT_FOUND);

    // Bob asks for 32 GB: the manager approves in the API, then everyone in Desktop Support is
    // asked; Lea rejects by replying to her mail, and Bob is told why.
    let dev_kit = json!({"role": "developer", "employee_number": "E54321", "ram_gb": 32, "justification": "Builds"});
    // The designer's dry run says who would be asked, writing nothing.
    let requested_before = t.get(&d.admin, &format!("/api/v1/catalog/items/{laptop}")).await.1["requested"].clone();
    let (s, dry) = t
        .post(
            &d.admin,
            &format!("/api/v1/catalog/items/{laptop}/dry-run"),
            json!({"as_user": "bob@example.com", "answers": dev_kit, "published": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{dry}");
    assert_eq!(dry["errors"], json!({}), "{dry}");
    let dry_steps: Vec<(bool, Value)> = dry["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["applies"].as_bool().unwrap(), a["approvers"].clone()))
        .collect();
    assert_eq!(dry_steps, vec![(true, json!(["mia@example.com"])), (true, json!(["lea@example.com"]))]);
    assert!(dry["notifications"][0].as_str().unwrap().contains("mia@example.com"), "{dry}");
    assert_eq!(t.get(&d.admin, &format!("/api/v1/catalog/items/{laptop}")).await.1["requested"], requested_before);
    let (_, office_dry) = t
        .post(
            &d.admin,
            &format!("/api/v1/catalog/items/{laptop}/dry-run"),
            json!({"as_user": "bob@example.com", "answers": office, "published": true}),
        )
        .await;
    assert_eq!(office_dry["approvals"][1]["applies"], false, "{office_dry}");
    let (s, req) = t.post(&d.bob, &path, json!({"answers": dev_kit})).await;
    assert_eq!(s, StatusCode::CREATED, "{req}");
    let second = req["number"].as_str().unwrap().to_string();
    let (s, b) =
        t.post(&mia, &format!("/api/v1/catalog/requests/{second}/approval"), json!({"decision": "approve"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["approval"]["steps"][1]["name"], "Desktop Support", "{b}");
    // What the dry run said is what the submission asked.
    for (i, (_, want)) in dry_steps.iter().enumerate() {
        let asked: Vec<Value> =
            b["approval"]["steps"][i]["approvers"].as_array().unwrap().iter().map(|a| a["email"].clone()).collect();
        assert_eq!(&json!(asked), want, "step {i}");
    }
    assert_eq!(state_of(t, &d.bob, &second).await.0, "pending/approval", "the second step waits");
    let (s, _) =
        t.post(&mia, &format!("/api/v1/catalog/requests/{second}/approval"), json!({"decision": "approve"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "Mia is not asked at the second step");
    worker.run_due().await.unwrap();
    let lea_mail = approval_mails(&sink, "lea@example.com");
    assert_eq!(lea_mail.len(), 1, "{lea_mail:?}");
    let reply = format!(
        "From: Lea <lea@example.com>\r\nTo: help@example.com\r\nSubject: Re: {}\r\nMessage-ID: <lea-1@example.com>\r\n\
         In-Reply-To: <{}>\r\n\r\nReject\r\nNo budget for 32 GB this quarter.\r\n\r\nOn Monday Example IT wrote:\r\n> Approve: ...\r\n",
        lea_mail[0].0, lea_mail[0].2
    );
    let logged = t.app.ingest_mail(reply.as_bytes(), "pipe").await.unwrap();
    assert_eq!(
        (logged.status.as_str(), logged.ticket.as_deref()),
        ("reply_added", Some(second.as_str())),
        "{logged:?}"
    );
    let (state, approval) = state_of(t, &d.bob, &second).await;
    assert_eq!(state, "closed/");
    assert_eq!(approval["state"], "rejected");
    let lea_row = &approval["steps"][1]["approvers"][0];
    assert_eq!(
        (lea_row["via"].as_str(), lea_row["comment"].as_str()),
        (Some("mail"), Some("No budget for 32 GB this quarter."))
    );
    worker.run_due().await.unwrap();
    let told = sink
        .received()
        .into_iter()
        .find(|(env, m, _)| env["rcpt_to"] == json!(["bob@example.com"]) && m.text.contains("not approved"))
        .expect("Bob is told why");
    assert!(told.1.text.contains("No budget for 32 GB this quarter."), "{}", told.1.text);
    let _ = lea;

    // Mia is away: while she delegates to Cleo, Cleo is asked in her place.
    let (s, del) = t
        .post(
            &mia,
            "/api/v1/me/delegations",
            json!({"delegate": "cleo@example.com", "starts_at": "2026-12-07", "ends_at": "2026-12-09"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{del}");
    let (s, req) = t.post(&d.ann, &path, json!({"answers": office})).await;
    assert_eq!(s, StatusCode::CREATED, "{req}");
    let third = req["number"].as_str().unwrap().to_string();
    let (_, approval) = state_of(t, &d.ann, &third).await;
    let asked = &approval["steps"][0]["approvers"][0];
    assert_eq!(
        (asked["email"].as_str(), asked["on_behalf_of"].as_str()),
        (Some("cleo@example.com"), Some("mia@example.com"))
    );
    let (s, _) = t.delete(&mia, &format!("/api/v1/me/delegations/{}", del["id"])).await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // Nobody decides: a reminder after 2 business hours, and after 4 Mia's manager Cleo is asked too.
    let (s, req) = t.post(&d.bob, &path, json!({"answers": office})).await;
    assert_eq!(s, StatusCode::CREATED, "{req}");
    let fourth = req["number"].as_str().unwrap().to_string();
    worker.run_due().await.unwrap();
    let before = approval_mails(&sink, "mia@example.com").len();
    t.clock.set(at("2026-12-07T11:01"));
    worker.run_due().await.unwrap();
    let mia_mails = approval_mails(&sink, "mia@example.com");
    assert_eq!(mia_mails.len(), before + 1);
    assert!(mia_mails.last().unwrap().0.contains("Reminder"), "{mia_mails:?}");
    t.clock.set(at("2026-12-07T13:01"));
    worker.run_due().await.unwrap();
    let (state, approval) = state_of(t, &d.bob, &fourth).await;
    assert_eq!(state, "pending/approval");
    let names: Vec<(&str, Option<&str>)> = approval["steps"][0]["approvers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["email"].as_str().unwrap(), a["on_behalf_of"].as_str()))
        .collect();
    assert!(names.contains(&("cleo@example.com", Some("mia@example.com"))), "{names:?}");
    assert!(approval_mails(&sink, "cleo@example.com").iter().any(|m| m.0.contains(&fourth)));
    // The requester sees the progress on the portal.
    t.app.set_password("bob@example.com", "correct horse battery".into()).await.unwrap();
    let mut bob = Web::new(t);
    assert!(bob.login("bob@example.com", "correct horse battery").await.status.is_redirection());
    let page = bob.get(&format!("/portal/tickets/{fourth}")).await;
    assert!(page.body.contains("Manager approval") && page.body.contains("not decided yet"), "{}", page.body);
}

async fn an_approved_request_runs_its_tasks_in_order_and_the_closing_mail_names_their_outputs(engine: Engine) {
    if !crate::mail_servers::have_smtp_sink() {
        return;
    }
    let Some((d, _, mia, lea)) = approval_desk(engine).await else { return };
    let t = &d.t;
    let (sink, worker, _certs) = crate::mail_servers::relay(t);
    let package = json!({
        "title": "Access to {{share}}",
        "assignment_group": "Desktop Support",
        "closing_message": "Your access is ready: sign in as {{account_name}} and open {{share_path}}.",
        "form": {"sections": [{"title": "Access", "questions": [
            {"key": "share", "label": "Which drive", "kind": "short_text", "required": true}]}]},
        "approvals": [{"name": "Manager approval", "approvers": [{"kind": "manager"}]}],
        "tasks": [
            {"key": "create_account", "title": "Create an account for {{share}}", "group": "Desktop Support",
             "outputs": [{"key": "account_name", "label": "Account name", "required": true}]},
            {"key": "grant_access", "title": "Grant access to {{share}}", "after": ["create_account"],
             "description": "Give {{account_name}} access.", "outputs": [{"key": "share_path", "label": "Path"}]}
        ]
    });
    // A plan's mistakes are named by place: a task may only wait for an earlier one.
    let mut bad = package.clone();
    bad["tasks"][0]["after"] = json!(["grant_access"]);
    bad["tasks"][1]["outputs"][0]["key"] = json!("share");
    let (s, b) = t
        .post(&d.admin, "/api/v1/catalog/items", json!({"name": "Drive access", "category": "Access", "package": bad}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(fields(&b), vec!["package.tasks[0].after[0]", "package.tasks[1].outputs[0].key"]);
    let (s, item) = t
        .post(
            &d.admin,
            "/api/v1/catalog/items",
            json!({"name": "Drive access", "category": "Access", "icon": "key", "package": package, "publish": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{item}");

    let (s, req) = t
        .post(
            &d.ann,
            &format!("/api/v1/catalog/items/{}/requests", item["id"]),
            json!({"answers": {"share": "Finance"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{req}");
    let number = req["number"].as_str().unwrap().to_string();
    worker.run_due().await.unwrap();
    let (_, asked) = t.get(&d.ann, &format!("/api/v1/tickets/{number}/catalog")).await;
    assert_eq!(asked["tasks"], json!([]), "no task is planned before the approval");
    let (s, b) =
        t.post(&mia, &format!("/api/v1/catalog/requests/{number}/approval"), json!({"decision": "approve"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    worker.run_due().await.unwrap();
    let (_, asked) = t.get(&lea, &format!("/api/v1/tickets/{number}/catalog")).await;
    let tasks = asked["tasks"].as_array().unwrap().clone();
    assert_eq!((tasks[0]["state"].as_str(), tasks[1]["state"].as_str()), (Some("open"), Some("waiting")), "{asked}");
    let first = tasks[0]["number"].as_str().unwrap().to_string();
    assert!(first.starts_with("TSK"), "{first}");
    // A task is the desk's own work: the requester follows the request, and reaches the task by
    // no route — not by its number, the list, a kind filter or a search.
    assert_eq!(t.get(&d.ann, &format!("/api/v1/tickets/{first}")).await.0, StatusCode::NOT_FOUND);
    for path in ["/api/v1/tickets", "/api/v1/tickets?kind=task", "/api/v1/search?q=account%20finance"] {
        let (s, page) = t.get(&d.ann, path).await;
        assert_eq!(s, StatusCode::OK, "{path}: {page}");
        assert!(!page.to_string().contains("TSK"), "{path}: {page}");
    }
    let (_, mine) = t.get(&d.ann, "/api/v1/tickets").await;
    assert!(mine.to_string().contains(&number), "the request itself is listed: {mine}");
    let (_, hits) = t.get(&lea, "/api/v1/search?q=account%20finance&type=ticket").await;
    assert!(hits.to_string().contains(&first), "staff find the task: {hits}");
    let (_, tsk) = t.get(&lea, &format!("/api/v1/tickets/{first}")).await;
    assert_eq!(
        (tsk["title"].as_str(), tsk["assignment_group"].as_str()),
        (Some("Create an account for Finance"), Some("Desktop Support")),
        "{tsk}"
    );

    // A task is completed with its outputs, not resolved like a ticket.
    let (s, b) = t
        .post(
            &lea,
            &format!("/api/v1/tickets/{first}/resolve"),
            json!({"resolution_code": "fixed", "resolution_notes": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let complete = format!("/api/v1/catalog/tasks/{first}/complete");
    let (s, b) = t.post(&lea, &complete, json!({"outputs": {}})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(fields(&b), vec!["outputs.account_name"]);
    let (s, b) = t.post(&lea, &complete, json!({"outputs": {"account_name": "ann.b"}})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["recorded"]["account_name"], "ann.b");
    worker.run_due().await.unwrap();
    let (_, asked) = t.get(&lea, &format!("/api/v1/tickets/{number}/catalog")).await;
    let second =
        asked["tasks"][1]["number"].as_str().expect("the second task opened once the first was done").to_string();
    let (_, tsk2) = t.get(&lea, &format!("/api/v1/tickets/{second}")).await;
    assert!(tsk2["description"].as_str().unwrap().contains("Give ann.b access."), "{tsk2}");
    assert!(tsk2["description"].as_str().unwrap().contains("Account name: ann.b"), "{tsk2}");
    let (_, req_now) = t.get(&d.ann, &format!("/api/v1/tickets/{number}")).await;
    assert_ne!(req_now["state"], "resolved", "one task is left");

    // The last task done resolves the request; its closing mail names what the tasks recorded.
    let (s, b) = t
        .post(
            &lea,
            &format!("/api/v1/catalog/tasks/{second}/complete"),
            json!({"outputs": {"share_path": "\\\\files\\finance"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, req_now) = t.get(&d.ann, &format!("/api/v1/tickets/{number}")).await;
    assert_eq!(req_now["state"], "resolved");
    worker.run_due().await.unwrap();
    let to_ann: Vec<(String, String)> = sink
        .received()
        .into_iter()
        .filter(|(env, _, _)| env["rcpt_to"] == json!(["ann@example.com"]))
        .map(|(_, m, _)| (m.subject, m.text))
        .collect();
    let closing = to_ann.iter().find(|(s, _)| s.contains("Resolved")).expect("the closing mail");
    assert!(closing.1.contains("sign in as ann.b and open \\\\files\\finance"), "{}", closing.1);
    assert!(!to_ann.iter().any(|(s, _)| s.contains("TSK")), "no mail about the tasks: {to_ann:?}");
}

/// The requester's day in a real browser: the laptop form grows its developer section when
/// "Software development" is picked, refuses a bad answer at its question with everything typed
/// kept, and logs the request; the manager approves it from the link in the mail the real SMTP
/// sink received, signed out; the requester then sees who approved and who is asked next.
async fn a_laptop_is_asked_for_in_chromium_and_approved_by_the_mailed_link(engine: Engine) {
    if !crate::mail_servers::have_smtp_sink() {
        return;
    }
    let Some((d, laptop, _mia, _lea)) = approval_desk(engine).await else { return };
    let t = &d.t;
    let Some(b) = crate::browser::Browser::start(t).await else { return };
    let (sink, worker, _certs) = crate::mail_servers::relay(t);
    const PW: &str = "correct horse battery staple";
    t.app.set_password("ann@example.com", PW.into()).await.unwrap();

    b.sign_in("ann@example.com", PW).await;
    b.goto("/portal/catalog").await;
    b.click(&format!("a[href='/portal/catalog/{laptop}']")).await;
    b.find("#a-role-1").await;
    assert!(!b.exists("#a-ram_gb").await, "the developer section shows only for developers");
    // A photo of the old laptop's label is picked first.
    let photo = std::env::temp_dir().join(format!("orion-label-{}-{engine:?}.png", std::process::id()));
    std::fs::write(&photo, b"\x89PNG the label of laptop L-0042").unwrap();
    let photo_path = photo.to_str().unwrap().to_string();
    b.attach("#a-photo", &photo_path).await;
    // (The pick asked for the form again: a click while that answer replaces the fields would
    // land on a radio button no longer on the page.)
    b.settle().await;
    // Picking "Software development" asks the server for the form again: the section appears,
    // and the file picked stays picked.
    b.click("#a-role-2").await;
    b.find("#a-ram_gb").await;
    let files = "return document.getElementById('a-photo').files.length";
    assert_eq!(b.script(files).await, json!(1), "the picked file survives the form's re-render");
    b.fill_live("#a-employee_number", "12345").await;
    b.fill_live("#a-ram_gb", "32").await;
    b.click("button[name=send]").await;
    // Refused: the message sits at the question it is about, and what was typed is still there.
    let refused = b.wait_text("#q-employee_number", "E12345").await;
    assert!(refused.contains("Employee number"), "{refused}");
    assert!(b.exists("#err-employee_number").await);
    assert_eq!(b.script("return document.getElementById('a-employee_number').value").await, json!("12345"));
    assert_eq!(b.script("return document.getElementById('a-ram_gb').value").await, json!("32"));
    // More than 16 GB needs a reason, asked for at its own question.
    assert!(b.exists("#err-justification").await, "{}", b.source().await);
    let (_, mine) = t.get(&d.ann, "/api/v1/tickets?limit=10").await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 0, "nothing is logged while answers are refused");

    // A page sent back cannot keep a file: it says which one to pick again.
    assert!(b.text("#picked-photo").await.contains("label"), "{}", b.source().await);
    b.attach("#a-photo", &photo_path).await;
    b.fill_live("#a-employee_number", "E12345").await;
    b.fill_live("#a-justification", "Android builds need the memory").await;
    assert_eq!(b.script(files).await, json!(1));
    b.click("button[name=send]").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !b.url().await.contains("/portal/tickets/") {
        assert!(std::time::Instant::now() < deadline, "never logged: {}", b.source().await);
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    let number = b.url().await.rsplit('/').next().unwrap().split('?').next().unwrap().to_string();
    b.wait_text("#approval-steps", "Manager approval").await;
    assert_eq!(state_of(t, &d.ann, &number).await.0, "pending/approval");
    // The file came with the request, linked from its answer.
    let link = b.find("#catalog-answers dd[data-key=photo] a").await;
    assert!(!link.is_empty());
    let (_, asked) = t.get(&d.ann, &format!("/api/v1/tickets/{number}/catalog")).await;
    let answer = asked["answers"].as_array().unwrap().iter().find(|a| a["key"] == "photo").unwrap().clone();
    assert!(answer["text"].as_str().unwrap().ends_with(".png"), "{answer}");
    let url = format!("{}/api/v1/attachments/{}", t.base, answer["attachment"].as_i64().unwrap());
    let got = t.client.get(&url).bearer_auth(&d.ann).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(got.to_vec(), std::fs::read(&photo).unwrap());
    std::fs::remove_file(&photo).ok();

    // Mia approves from her mail, without signing in.
    worker.run_due().await.unwrap();
    let mails = approval_mails(&sink, "mia@example.com");
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].0.contains(&number), "{}", mails[0].0);
    b.sign_out().await;
    b.goto(&mails[0].1).await;
    let card = b.text("main").await;
    assert!(card.contains("E12345") && card.contains("Android builds need the memory"), "{card}");
    b.click("#decide button[value=approve]").await;
    b.wait_text("main", "approved").await;
    let (state, approval) = state_of(t, &d.ann, &number).await;
    assert_eq!(state, "pending/approval", "32 GB also needs Desktop Support");
    let first = &approval["steps"][0]["approvers"][0];
    assert_eq!(
        (first["email"].as_str(), first["decision"].as_str(), first["via"].as_str()),
        (Some("mia@example.com"), Some("approved"), Some("link"))
    );
    assert_eq!(approval["steps"][1]["approvers"][0]["email"], "lea@example.com");
    // Opening the used link again decides nothing.
    b.goto(&mails[0].1).await;
    b.wait_text("main", "used").await;
    assert!(!b.exists("#decide").await);

    // Ann sees it on the portal: approved by Mia by the mailed link, Desktop Support asked next.
    b.sign_in("ann@example.com", PW).await;
    b.goto(&format!("/portal/tickets/{number}")).await;
    let steps = b.wait_text("#approval-steps", "by the mailed link").await;
    assert!(steps.contains("Desktop Support") && steps.contains("not decided yet"), "{steps}");
}
