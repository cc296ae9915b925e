//! Assets and the CMDB over HTTP, on SQLite and PostgreSQL: the lifecycle and allocation of
//! devices with their history, relationships and impact, tickets and alerts naming assets,
//! licences and compliance, inventories (captured FusionInventory XML and the real agent from
//! Debian) and the patch report.

use orion_app::cmdb::inventory::zlib;
use orion_testkit::{Engine, TestApp, engine_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};

engine_tests!(
    assets_move_through_their_lifecycle_with_a_full_history,
    relations_give_the_impact_on_services_and_tickets,
    inventories_create_match_and_record_changes,
    licences_are_checked_against_installations,
    spreadsheets_import_all_or_nothing_and_export_safely,
    real_fusioninventory_agent_inventories_this_machine
);

const FULL: &str = include_str!("fixtures/fusion_inventory_full.xml");
const PROLOG: &str = include_str!("fixtures/fusion_prolog_request.xml");

struct Desk {
    t: TestApp,
    admin: String,
    agent: String,
    ann: String,
}

async fn desk(engine: Engine) -> Option<Desk> {
    let t = TestApp::spawn(engine).await?;
    let admin = t.bootstrap_admin("admin@example.com").await;
    for (name, tier) in [("Service Desk", 1), ("Infrastructure", 2)] {
        let (s, b) = t.post(&admin, "/api/v1/groups", json!({"name": name, "tier": tier})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let agent = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    let ann = t.user(&admin, "ann@example.com", "requester", &[]).await;
    t.user(&admin, "bob@example.com", "requester", &[]).await;
    Some(Desk { t, admin, agent, ann })
}

async fn create(t: &TestApp, token: &str, body: Value) -> Value {
    let (s, b) = t.post(token, "/api/v1/assets", body).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

async fn history_kinds(t: &TestApp, token: &str, asset: i64) -> Vec<String> {
    let (s, b) = t.get(token, &format!("/api/v1/assets/{asset}/history?limit=200")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mut kinds: Vec<String> =
        b["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect();
    kinds.reverse();
    kinds
}

async fn assets_move_through_their_lifecycle_with_a_full_history(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;

    // Bad input names every field and writes nothing; requesters cannot register assets.
    let bad = json!({"type": "toaster", "name": "", "purchase_date": "2026-02-30", "cost_cents": -5,
                     "attributes": [1], "support_group": "Nowhere"});
    let (s, b) = t.post(&d.agent, "/api/v1/assets", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    for f in ["type", "name", "purchase_date", "cost_cents", "attributes", "support_group"] {
        assert!(b["error"]["fields"][f].is_string(), "{f} named in {b}");
    }
    assert_eq!(t.get(&d.agent, "/api/v1/assets").await.1["items"], json!([]));
    let laptop = json!({"type": "laptop", "name": "LT-ANN", "asset_tag": "PC-0042", "serial": "5CG1234XYZ",
        "model": "EliteBook 840 G9", "manufacturer": "HP", "vendor": "Bechtle", "location": "Berlin HQ",
        "department": "Finance", "cost_cents": 129_950, "purchase_date": "2025-03-01", "warranty_end": "2028-02-29",
        "attributes": {"memory_mb": 16384, "cpu": "i5-1245U"}, "support_group": "Service Desk"});
    assert_eq!(t.post(&d.ann, "/api/v1/assets", laptop.clone()).await.0, StatusCode::FORBIDDEN);
    let a = create(t, &d.agent, laptop.clone()).await;
    let lt = id(&a);
    assert_eq!((a["state"].as_str(), a["under_warranty"].as_bool()), (Some("in_stock"), Some(true)));
    assert_eq!(a["next_states"], json!(["deployed", "in_repair", "retired"]));
    assert_eq!(a["attributes"]["memory_mb"], 16384);
    let (s, b) =
        t.post(&d.agent, "/api/v1/assets", json!({"type": "laptop", "name": "dup", "asset_tag": "PC-0042"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "asset tags are unique: {b}");
    assert!(b["error"]["fields"]["asset_tag"].is_string());

    // A few more to filter and page through.
    let mut printers = Vec::new();
    for i in 0..5 {
        let p =
            create(t, &d.agent, json!({"type": "printer", "name": format!("PRN-{i}"), "location": "Berlin HQ"})).await;
        printers.push(id(&p));
    }
    let (_, b) = t.get(&d.agent, "/api/v1/assets?type=printer&limit=2").await;
    let first: Vec<i64> = b["items"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(first, vec![printers[4], printers[3]]);
    let cursor = b["next_cursor"].as_str().unwrap().to_string();
    let (_, b) = t.get(&d.agent, &format!("/api/v1/assets?type=printer&limit=2&cursor={cursor}")).await;
    assert_eq!(b["items"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), vec![printers[2], printers[1]]);
    let (_, b) = t.get(&d.agent, "/api/v1/assets?q=PC-0042").await;
    assert_eq!(b["items"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), vec![lt], "by asset tag");
    let (_, b) = t.get(&d.agent, "/api/v1/assets?q=prn-").await;
    assert_eq!(b["items"].as_array().unwrap().len(), 5, "by name prefix, any case");
    // A name search pages in name order.
    let names = |b: &Value| {
        b["items"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let (_, b) = t.get(&d.agent, "/api/v1/assets?q=PRN-&limit=2").await;
    assert_eq!(names(&b), ["PRN-0", "PRN-1"]);
    let (_, b) =
        t.get(&d.agent, &format!("/api/v1/assets?q=PRN-&limit=2&cursor={}", b["next_cursor"].as_str().unwrap())).await;
    assert_eq!(names(&b), ["PRN-2", "PRN-3"]);
    let (s, b) = t.get(&d.agent, "/api/v1/assets?state=lost").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["error"]["fields"]["state"].is_string());

    // Check out to Ann: she sees it as her device, and nothing else.
    let (s, b) = t
        .post(
            &d.agent,
            &format!("/api/v1/assets/{lt}/checkout"),
            json!({"user": "ann@example.com", "due_back": "2027-01-31"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!((b["state"].as_str(), b["holder"]["email"].as_str()), (Some("deployed"), Some("ann@example.com")));
    let (s, b) = t.post(&d.agent, &format!("/api/v1/assets/{lt}/checkout"), json!({"user": "bob@example.com"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "already out: {b}");
    let (_, mine) = t.get(&d.ann, "/api/v1/me/devices").await;
    assert_eq!(mine.as_array().unwrap().iter().map(id).collect::<Vec<_>>(), vec![lt]);
    let (_, listed) = t.get(&d.ann, "/api/v1/assets?type=printer").await;
    assert_eq!(
        listed["items"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(),
        Vec::<i64>::new(),
        "a requester lists only their own"
    );
    assert_eq!(t.get(&d.ann, &format!("/api/v1/assets/{}", printers[0])).await.0, StatusCode::NOT_FOUND);
    assert_eq!(t.get(&d.ann, &format!("/api/v1/assets/{lt}")).await.0, StatusCode::OK);
    assert_eq!(t.get(&d.ann, &format!("/api/v1/assets/{lt}/history")).await.0, StatusCode::FORBIDDEN);
    let (_, b) = t.get(&d.agent, "/api/v1/assets?holder=ann@example.com").await;
    assert_eq!(b["items"].as_array().unwrap().len(), 1);

    // The screen breaks: it goes to the vendor and comes back to Ann.
    let (s, b) = t
        .post(
            &d.agent,
            &format!("/api/v1/assets/{lt}/repair"),
            json!({"vendor": "HP Service", "reference": "RMA-7781", "expected_back": "2026-12-05"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!((b["state"].as_str(), b["holder"]["email"].as_str()), (Some("in_repair"), Some("ann@example.com")));
    let (s, b) = t
        .post(
            &d.agent,
            &format!("/api/v1/assets/{lt}/repair/return"),
            json!({"outcome": "replaced", "new_serial": "5CG9999AAA"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!((b["state"].as_str(), b["serial"].as_str()), (Some("deployed"), Some("5CG9999AAA")));
    assert_eq!(b["holder"]["email"], "ann@example.com");

    // She hands it back damaged; it cannot skip to disposal.
    let (s, b) = t.post(&d.agent, &format!("/api/v1/assets/{lt}/checkin"), json!({"condition": "shiny"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["error"]["fields"]["condition"].is_string());
    let (s, b) = t
        .post(
            &d.agent,
            &format!("/api/v1/assets/{lt}/checkin"),
            json!({"condition": "damaged", "note": "hinge cracked"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!((b["state"].as_str(), b["holder"].is_null()), (Some("in_stock"), true));
    assert_eq!(t.get(&d.ann, "/api/v1/me/devices").await.1, json!([]));
    let (s, b) = t.post(&d.agent, &format!("/api/v1/assets/{lt}/state"), json!({"state": "disposed"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("deployed, in_repair, retired"), "{b}");
    for st in ["retired", "disposed"] {
        let (s, b) =
            t.post(&d.agent, &format!("/api/v1/assets/{lt}/state"), json!({"state": st, "note": "end of life"})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    assert_eq!(
        t.post(&d.agent, &format!("/api/v1/assets/{lt}/state"), json!({"state": "in_stock"})).await.0,
        StatusCode::CONFLICT
    );

    // A change made meanwhile is refused; a real one is recorded with its fields.
    let (_, cur) = t.get(&d.agent, &format!("/api/v1/assets/{}", printers[0])).await;
    let v = cur["version"].as_i64().unwrap();
    let (s, b) =
        t.put(&d.agent, &format!("/api/v1/assets/{}", printers[0]), json!({"location": "Hamburg", "version": v})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["location"], "Hamburg");
    assert_eq!(
        t.put(&d.agent, &format!("/api/v1/assets/{}", printers[0]), json!({"location": "Munich", "version": v}))
            .await
            .0,
        StatusCode::CONFLICT
    );

    assert_eq!(
        history_kinds(t, &d.agent, lt).await,
        [
            "created",
            "checked_out",
            "sent_to_repair",
            "returned_from_repair",
            "checked_in",
            "state_changed",
            "state_changed"
        ]
    );
    let (_, h) = t.get(&d.agent, &format!("/api/v1/assets/{lt}/history")).await;
    let texts: Vec<&str> = h["items"].as_array().unwrap().iter().map(|e| e["summary"].as_str().unwrap()).collect();
    assert!(texts.iter().any(|s| s.contains("Checked in from ann@example.com, condition damaged")), "{texts:?}");
    assert!(texts.iter().any(|s| s.contains("Sent to HP Service for repair (RMA-7781)")), "{texts:?}");
    let (_, h) = t.get(&d.agent, &format!("/api/v1/assets/{}/history", printers[0])).await;
    assert_eq!(h["items"][0]["data"]["changes"][0], json!({"field": "location", "from": "Berlin HQ", "to": "Hamburg"}));

    // Deleting: admins only, and not what tickets refer to.
    assert_eq!(
        t.send(&d.agent, reqwest::Method::DELETE, &format!("/api/v1/assets/{}", printers[1]), None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        t.send(&d.admin, reqwest::Method::DELETE, &format!("/api/v1/assets/{}", printers[1]), None).await.0,
        StatusCode::NO_CONTENT
    );
    let (s, _) = t
        .post(
            &d.agent,
            "/api/v1/tickets",
            json!({"title": "Printer jams", "requester": "bob@example.com", "assets": [printers[2].to_string()]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        t.send(&d.admin, reqwest::Method::DELETE, &format!("/api/v1/assets/{}", printers[2]), None).await.0,
        StatusCode::CONFLICT
    );
}

async fn relations_give_the_impact_on_services_and_tickets(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let host =
        id(&create(t, &d.agent, json!({"type": "server", "name": "esx01.example.com", "asset_tag": "SRV-1"})).await);
    let vm = id(&create(t, &d.agent, json!({"type": "virtual_machine", "name": "db1"})).await);
    let app = id(&create(t, &d.agent, json!({"type": "software", "name": "PostgreSQL 15"})).await);
    let erp = id(&create(t, &d.agent, json!({"type": "service", "name": "ERP"})).await);
    let mail = id(&create(t, &d.agent, json!({"type": "service", "name": "Payroll"})).await);
    let desk_pc = id(&create(t, &d.agent, json!({"type": "desktop", "name": "PC-ANN", "asset_tag": "PC-7"})).await);
    let other = id(&create(t, &d.agent, json!({"type": "desktop", "name": "PC-BOB", "asset_tag": "PC-8"})).await);
    let (s, _) =
        t.post(&d.agent, &format!("/api/v1/assets/{desk_pc}/checkout"), json!({"user": "ann@example.com"})).await;
    assert_eq!(s, StatusCode::OK);

    let agent = d.agent.as_str();
    let rel = |src: i64, kind: &str, target: String| {
        let body = json!({"kind": kind, "target": target});
        async move { t.post(agent, &format!("/api/v1/assets/{src}/relations"), body).await }
    };
    assert_eq!(rel(vm, "runs_on", "SRV-1".into()).await.0, StatusCode::CREATED, "by asset tag");
    assert_eq!(rel(app, "installed_on", vm.to_string()).await.0, StatusCode::CREATED);
    assert_eq!(rel(erp, "depends_on", app.to_string()).await.0, StatusCode::CREATED);
    assert_eq!(rel(mail, "depends_on", erp.to_string()).await.0, StatusCode::CREATED);
    assert_eq!(rel(desk_pc, "depends_on", erp.to_string()).await.0, StatusCode::CREATED);
    // A cycle (the host "depends on" the payroll service) must not loop the walk.
    assert_eq!(rel(host, "depends_on", mail.to_string()).await.0, StatusCode::CREATED);
    let (s, b) = rel(vm, "runs_on", host.to_string()).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let (s, b) = rel(vm, "eats", host.to_string()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["error"]["fields"]["kind"].is_string());
    assert_eq!(rel(vm, "runs_on", vm.to_string()).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(rel(vm, "runs_on", "NOPE-1".into()).await.0, StatusCode::UNPROCESSABLE_ENTITY);

    let (s, b) = t.get(&d.agent, &format!("/api/v1/assets/{host}/impact")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let depth = |name: &str| {
        b["affected"].as_array().unwrap().iter().find(|a| a["name"] == name).map(|a| a["depth"].as_i64().unwrap())
    };
    assert_eq!(
        (depth("db1"), depth("PostgreSQL 15"), depth("ERP"), depth("Payroll"), depth("PC-ANN")),
        (Some(1), Some(2), Some(3), Some(4), Some(4))
    );
    assert_eq!(depth("PC-BOB"), None);
    assert_eq!(depth("esx01.example.com"), None, "the root is not its own dependant");
    let services: Vec<&str> = b["services"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(services, ["ERP", "Payroll"]);
    assert_eq!(
        b["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect::<Vec<_>>(),
        ["ann@example.com"]
    );
    let (_, r) = t.get(&d.agent, &format!("/api/v1/assets/{vm}/relations")).await;
    assert_eq!(r.as_array().unwrap().len(), 2, "both directions: {r}");

    // A ticket naming the host shows what its outage affects.
    let (s, tk) = t
        .post(
            &d.agent,
            "/api/v1/tickets",
            json!({"title": "esx01 unreachable", "requester": "bob@example.com", "assets": ["SRV-1"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{tk}");
    let number = tk["number"].as_str().unwrap().to_string();
    let (_, ta) = t.get(&d.agent, &format!("/api/v1/tickets/{number}/assets")).await;
    assert_eq!(ta["assets"][0]["name"], "esx01.example.com");
    assert_eq!(ta["affected_services"].as_array().unwrap().len(), 2);
    assert_eq!((ta["affected_users"].as_i64(), ta["affected_cis"].as_i64()), (Some(1), Some(5)));
    let (_, tl) = t.get(&d.agent, &format!("/api/v1/tickets/{number}/timeline")).await;
    assert!(tl["items"].as_array().unwrap().iter().any(|e| e["kind"] == "asset_linked"), "{tl}");
    let (_, at) = t.get(&d.agent, &format!("/api/v1/assets/{host}/tickets")).await;
    assert_eq!(at["items"][0]["number"], number.as_str());

    // A requester names only their own device, on create or later.
    let (s, b) = t.post(&d.ann, "/api/v1/tickets", json!({"title": "PC slow", "assets": ["PC-8"]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["error"]["fields"]["assets[0]"].is_string(), "{b}");
    let (s, b) = t.post(&d.ann, "/api/v1/tickets", json!({"title": "PC slow", "assets": ["PC-7"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let mine = b["number"].as_str().unwrap().to_string();
    let (s, b) = t.get(&d.ann, &format!("/api/v1/tickets/{mine}/assets")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (b["assets"][0]["id"].as_i64(), b["affected_cis"].as_i64()),
        (Some(desk_pc), Some(0)),
        "no impact for requesters"
    );
    assert_eq!(
        t.post(&d.ann, &format!("/api/v1/tickets/{mine}/assets"), json!({"asset": other.to_string()})).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        t.get(&d.ann, &format!("/api/v1/tickets/{number}/assets")).await.0,
        StatusCode::NOT_FOUND,
        "not her ticket"
    );
    let (s, b) = t.post(&d.agent, &format!("/api/v1/tickets/{mine}/assets"), json!({"asset": "PC-8"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["assets"].as_array().unwrap().len(), 2);
    let del = t.send(&d.agent, reqwest::Method::DELETE, &format!("/api/v1/tickets/{mine}/assets/{other}"), None).await;
    assert_eq!(del.0, StatusCode::NO_CONTENT);
    assert_eq!(
        t.get(&d.agent, &format!("/api/v1/tickets/{mine}/assets")).await.1["assets"].as_array().unwrap().len(),
        1
    );

    // An alert naming the VM's host name links its incident to the CI; a window for it shows on the CI.
    let (s, b) = t
        .post(
            &d.admin,
            "/api/v1/integrations",
            json!({"name": "Prometheus", "kind": "alertmanager", "assignment_group": "Infrastructure"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let token = b["token"].as_str().unwrap().to_string();
    let alert = json!({"version": "4", "groupKey": "{}:{alertname=\"PostgresDown\"}", "status": "firing", "receiver": "orion",
        "alerts": [{"status": "firing", "labels": {"alertname": "PostgresDown", "instance": "db1.example.com:9187", "severity": "critical"},
                    "annotations": {"summary": "PostgreSQL down on db1"}, "startsAt": "2026-11-18T11:00:00Z", "fingerprint": "pg1"}]});
    let resp = t
        .client
        .post(format!("{}/api/v1/integrations/alertmanager?token={token}", t.base))
        .json(&alert)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, alerts) = t.get(&d.agent, &format!("/api/v1/assets/{vm}/alerts")).await;
    assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts}");
    let incident = alerts[0]["incident"].as_str().unwrap().to_string();
    let (_, ta) = t.get(&d.agent, &format!("/api/v1/tickets/{incident}/assets")).await;
    assert_eq!(ta["assets"][0]["name"], "db1", "matched by short host name: {ta}");
    assert_eq!(ta["affected_services"].as_array().unwrap().len(), 2, "{ta}");
    let (s, b) = t.post(&d.agent, "/api/v1/maintenance-windows", json!({"name": "db1 patching", "matchers": {"ci": "DB1"}, "starts_at": "2026-11-18T12:00:00Z", "ends_at": "2026-11-18T14:00:00Z"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, w) = t.get(&d.agent, &format!("/api/v1/assets/{vm}/windows")).await;
    assert_eq!(w.as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect::<Vec<_>>(), ["db1 patching"]);
    assert_eq!(t.get(&d.agent, &format!("/api/v1/assets/{host}/windows")).await.1, json!([]));
}

/// Posts an agent request, plain or zlib-compressed; returns the status and the decoded reply.
async fn agent_post(t: &TestApp, query: &str, xml: &str, compress: bool) -> (StatusCode, String) {
    let body = if compress { zlib(xml) } else { xml.as_bytes().to_vec() };
    let resp = t.client.post(format!("{}/api/v1/inventory{query}", t.base)).body(body).send().await.unwrap();
    let status = resp.status();
    let bytes = resp.bytes().await.unwrap();
    if compress && status == StatusCode::OK {
        assert_eq!(&bytes[..2], &[0x78, 0x9c], "a compressed request gets a zlib reply at the default level");
        let (text, _) = orion_app::cmdb::inventory::decode_body(&bytes).unwrap();
        (status, text)
    } else {
        (status, String::from_utf8_lossy(&bytes).to_string())
    }
}

async fn inventories_create_match_and_record_changes(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    assert_eq!(t.post(&d.agent, "/api/v1/inventory/tokens", json!({"name": "hq"})).await.0, StatusCode::FORBIDDEN);
    let (s, b) = t.post(&d.admin, "/api/v1/inventory/tokens", json!({"name": "hq"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let token = b["token"].as_str().unwrap().to_string();
    let q = format!("?token={token}");

    // PROLOG: told to send every 24 h, compressed as asked; bad tokens and bodies are refused.
    let (s, reply) = agent_post(t, &q, PROLOG, true).await;
    assert_eq!(s, StatusCode::OK, "{reply}");
    assert!(reply.contains("<REPLY><PROLOG_FREQ>24</PROLOG_FREQ><RESPONSE>SEND</RESPONSE></REPLY>"), "{reply}");
    let (s, reply) = agent_post(t, &q, PROLOG, false).await;
    assert_eq!(s, StatusCode::OK);
    assert!(reply.contains("<RESPONSE>SEND</RESPONSE>"));
    assert_eq!(agent_post(t, "?token=oinv_wrong", PROLOG, true).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(agent_post(t, "", PROLOG, true).await.0, StatusCode::UNAUTHORIZED);
    let (s, b) = agent_post(t, &q, "<REQUEST><QUERY>PROLOG", false).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let resp = t
        .client
        .post(format!("{}/api/v1/inventory", t.base))
        .header("X-Orion-Token", &token)
        .body(PROLOG)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the token header works too");

    // The first inventory creates the asset with its OS, hardware and every package.
    let (s, reply) = agent_post(t, &q, FULL, true).await;
    assert_eq!(s, StatusCode::OK, "{reply}");
    let (_, b) = t.get(&d.agent, "/api/v1/assets").await;
    let items = b["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{b}");
    let a = &items[0];
    let asset = id(a);
    assert_eq!(
        (a["name"].as_str(), a["type"].as_str(), a["state"].as_str()),
        (Some("vm"), Some("virtual_machine"), Some("deployed"))
    );
    assert_eq!(
        (a["os_name"].as_str(), a["os_version"].as_str(), a["kernel"].as_str()),
        (Some("Debian GNU/Linux 12 (bookworm)"), Some("12.11"), Some("6.18.44-fc-v769"))
    );
    assert_eq!(a["hardware"]["memory_mb"], 24105);
    assert_eq!(a["hardware"]["cpus"][0]["name"], "AMD EPYC");
    let packages = FULL.matches("<SOFTWARES>").count();
    let (_, sw) = t.get(&d.agent, &format!("/api/v1/assets/{asset}/software")).await;
    assert_eq!(sw.as_array().unwrap().len(), packages);
    assert!(sw.as_array().unwrap().iter().any(|s| s["name"] == "adduser" && s["version"] == "3.134"));

    // The same inventory again: the same asset, nothing changed.
    assert_eq!(agent_post(t, &q, FULL, false).await.0, StatusCode::OK);
    let (_, b) = t.get(&d.agent, "/api/v1/assets").await;
    assert_eq!(b["items"].as_array().unwrap().len(), 1);

    // A renamed machine with a new kernel, one package removed, one added, one upgraded: matched
    // by its MAC addresses, and every change in its history.
    let changed = FULL
        .replacen("<NAME>vm</NAME>", "<NAME>vm-renamed</NAME>", 1)
        .replace("6.18.44-fc-v769", "6.18.50-fc-v800")
        .replacen("<NAME>adduser</NAME>", "<NAME>adduser-gone</NAME>", 1)
        .replacen("<VERSION>3.134</VERSION>", "<VERSION>3.135</VERSION>", 1)
        .replace("<DEVICEID>", "<DEVICEID>new-");
    assert!(changed.contains("vm-renamed") && changed.contains("6.18.50"));
    t.clock.advance_minutes(60);
    assert_eq!(agent_post(t, &q, &changed, true).await.0, StatusCode::OK);
    let (_, b) = t.get(&d.agent, "/api/v1/assets").await;
    assert_eq!(b["items"].as_array().unwrap().len(), 1, "matched, not duplicated: {b}");
    assert_eq!(b["items"][0]["kernel"], "6.18.50-fc-v800");
    let (_, h) = t.get(&d.agent, &format!("/api/v1/assets/{asset}/history")).await;
    let last = &h["items"][0];
    assert_eq!(last["kind"], "inventoried");
    assert_eq!(last["data"]["matched_by"], "mac");
    assert_eq!(last["data"]["kernel"], json!({"from": "6.18.44-fc-v769", "to": "6.18.50-fc-v800"}));
    let sw = &last["data"]["software"];
    assert_eq!(sw["counts"], json!({"added": 1, "removed": 1, "changed": 0}), "{last}");
    assert_eq!(sw["added"][0]["name"], "adduser-gone");
    assert_eq!(h["items"][1]["summary"], "Inventory: no changes");
    assert!(h["items"][2]["summary"].as_str().unwrap().starts_with("First inventory: Debian GNU/Linux 12"), "{h}");

    // Patch status: a baseline the kernel is behind, then staleness after the agent goes quiet.
    let baseline = json!({"baselines": [{"os": "Debian GNU/Linux 12", "min_version": "12.11", "min_kernel": "6.18.60"}], "stale_days": 30});
    assert_eq!(t.put(&d.agent, "/api/v1/settings/inventory", baseline.clone()).await.0, StatusCode::FORBIDDEN);
    let (s, b) =
        t.put(&d.admin, "/api/v1/settings/inventory", json!({"baselines": [{"os": ""}], "prolog_freq_hours": 0})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for f in ["baselines[0].os", "baselines[0]", "prolog_freq_hours"] {
        assert!(b["error"]["fields"][f].is_string(), "{f}: {b}");
    }
    let (s, b) = t.put(&d.admin, "/api/v1/settings/inventory", baseline).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, p) = t.get(&d.agent, "/api/v1/reports/patch-status").await;
    assert_eq!((p["assets"].as_i64(), p["behind"].as_i64(), p["stale"].as_i64()), (Some(1), Some(1), Some(0)), "{p}");
    assert_eq!(p["builds"][0]["min_kernel"], "6.18.60");
    let (_, p) = t.get(&d.agent, "/api/v1/reports/patch-status/assets?status=behind").await;
    assert_eq!(p["items"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), vec![asset]);
    assert_eq!(t.get(&d.agent, "/api/v1/reports/patch-status/assets?status=ok").await.1["items"], json!([]));
    t.clock.advance_minutes(31 * 24 * 60);
    let (_, p) = t.get(&d.agent, "/api/v1/reports/patch-status/assets?status=stale").await;
    assert_eq!(p["items"].as_array().unwrap().len(), 1);
    assert_eq!(t.get(&d.ann, "/api/v1/reports/patch-status").await.0, StatusCode::FORBIDDEN);

    // Tokens in the URL can be turned off; the header still works.
    let (s, _) = t.put(&d.admin, "/api/v1/settings/inventory", json!({"token_in_url": false})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(agent_post(t, &q, PROLOG, true).await.0, StatusCode::FORBIDDEN);
    let resp = t
        .client
        .post(format!("{}/api/v1/inventory", t.base))
        .bearer_auth(&token)
        .body(zlib(PROLOG))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, tokens) = t.get(&d.admin, "/api/v1/inventory/tokens").await;
    assert!(tokens[0]["received"].as_i64().unwrap() >= 6, "{tokens}");
}

async fn licences_are_checked_against_installations(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let (_, b) = t.post(&d.admin, "/api/v1/inventory/tokens", json!({"name": "hq"})).await;
    let q = format!("?token={}", b["token"].as_str().unwrap());
    // Two machines with the same packages (the second with other names, MACs and device id).
    assert_eq!(agent_post(t, &q, FULL, true).await.0, StatusCode::OK);
    let second = FULL
        .replacen("<NAME>vm</NAME>", "<NAME>vm2</NAME>", 1)
        .replace("<MACADDR>", "<MACADDR>02")
        .replace("<DEVICEID>", "<DEVICEID>two-");
    let second = second.replace("<MACADDR>0200:00:00:00:00:00", "<MACADDR>00:00:00:00:00:00");
    assert_eq!(agent_post(t, &q, &second, true).await.0, StatusCode::OK);
    assert_eq!(t.get(&d.agent, "/api/v1/assets").await.1["items"].as_array().unwrap().len(), 2);

    let (s, b) =
        t.post(&d.agent, "/api/v1/licences", json!({"product": "", "type": "per_seat", "expires_on": "soon"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for f in ["product", "type", "expires_on"] {
        assert!(b["error"]["fields"][f].is_string(), "{f}: {b}");
    }
    let (s, b) = t.post(&d.agent, "/api/v1/licences", json!({"product": "curl", "seats": null})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "per-device needs seats: {b}");
    // One seat of curl for two installations: over-deployed by one.
    let (s, curl) = t
        .post(
            &d.agent,
            "/api/v1/licences",
            json!({"product": "curl", "vendor": "Daniel Stenberg", "seats": 1, "expires_on": "2026-12-01"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{curl}");
    let curl_id = id(&curl);
    // Fifty seats of anything "libsqlite%": compliant with unused seats.
    let (s, sqlite) = t
        .post(&d.agent, "/api/v1/licences", json!({"product": "SQLite", "software_match": "libsqlite3%", "seats": 50}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // A site licence, and an expired one.
    t.post(&d.agent, "/api/v1/licences", json!({"product": "bash", "type": "site"})).await;
    t.post(&d.agent, "/api/v1/licences", json!({"product": "perl", "seats": 10, "expires_on": "2025-01-01"})).await;

    let (s, r) = t.get(&d.agent, "/api/v1/licences/compliance?expiring_within_days=30").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let row = |p: &str| r["products"].as_array().unwrap().iter().find(|x| x["product"] == p).cloned().unwrap();
    let c = row("curl");
    assert_eq!(
        (c["installed_devices"].as_i64(), c["entitled"].as_i64(), c["status"].as_str(), c["shortfall"].as_i64()),
        (Some(2), Some(1), Some("over_deployed"), Some(1))
    );
    let s3 = row("SQLite");
    assert_eq!(
        (s3["installed_devices"].as_i64(), s3["status"].as_str(), s3["unused"].as_i64()),
        (Some(2), Some("compliant"), Some(48))
    );
    let b3 = row("bash");
    assert_eq!((b3["entitled"].is_null(), b3["status"].as_str()), (true, Some("compliant")));
    assert_eq!(row("perl")["status"], "unlicensed");
    assert_eq!(
        r["expiring"].as_array().unwrap().iter().map(|l| l["product"].as_str().unwrap()).collect::<Vec<_>>(),
        ["curl"]
    );
    assert_eq!(
        r["expired"].as_array().unwrap().iter().map(|l| l["product"].as_str().unwrap()).collect::<Vec<_>>(),
        ["perl"]
    );

    // Seats: one device takes curl's only seat; a second is refused.
    let (s, a) = t.post(&d.agent, &format!("/api/v1/licences/{curl_id}/assignments"), json!({"asset": "1"})).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(
        t.post(&d.agent, &format!("/api/v1/licences/{curl_id}/assignments"), json!({"asset": "2"})).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(t.get(&d.agent, &format!("/api/v1/licences/{curl_id}")).await.1["assigned"], 1);
    let (s, b) =
        t.put(&d.agent, &format!("/api/v1/licences/{}", id(&sqlite)), json!({"seats": 60, "notes": "renewed"})).await;
    assert_eq!((s, b["seats"].as_i64(), b["notes"].as_str()), (StatusCode::OK, Some(60), Some("renewed")));
    assert_eq!(t.get(&d.ann, "/api/v1/licences").await.0, StatusCode::FORBIDDEN);
    let (_, all) = t.get(&d.agent, "/api/v1/licences?limit=2").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    assert!(all["next_cursor"].is_string());
}

/// The real FusionInventory agent (Debian `fusioninventory-agent`) inventories this machine
/// into the test server, twice: one asset, two inventories in its history.
async fn real_fusioninventory_agent_inventories_this_machine(engine: Engine) {
    let bin = "/usr/bin/fusioninventory-agent";
    if !std::path::Path::new(bin).exists() {
        assert!(!orion_testkit::in_ci(), "fusioninventory-agent is missing under CI=true");
        eprintln!(
            "\n*** SKIPPED: fusioninventory-agent is not installed (apt-get install fusioninventory-agent) ***\n"
        );
        return;
    }
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let (_, b) = t.post(&d.admin, "/api/v1/inventory/tokens", json!({"name": "agents"})).await;
    let server = format!("{}/api/v1/inventory?token={}", t.base, b["token"].as_str().unwrap());
    // The agent keeps its device id under /var/lib/fusioninventory-agent: one run at a time.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _guard = ONE_AT_A_TIME.lock().await;
    for run in 0..2 {
        let out = tokio::process::Command::new(bin)
            .args(["--server", &server, "--tasks", "inventory", "--force", "--no-httpd", "--logger", "stderr"])
            .output()
            .await
            .expect("run fusioninventory-agent");
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "agent run {run} failed: {log}");
        t.clock.advance_minutes(60);
    }
    let (_, b) = t.get(&d.agent, "/api/v1/assets").await;
    let items = b["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{b}");
    let a = &items[0];
    assert!(!a["os_name"].as_str().unwrap().is_empty(), "{a}");
    assert!(!a["kernel"].as_str().unwrap().is_empty(), "{a}");
    let (_, sw) = t.get(&d.agent, &format!("/api/v1/assets/{}/software", id(a))).await;
    assert!(sw.as_array().unwrap().len() > 50, "installed packages listed: {}", sw.as_array().unwrap().len());
    let kinds = history_kinds(t, &d.agent, id(a)).await;
    assert_eq!(kinds, ["created", "inventoried", "inventoried"]);
}

async fn spreadsheets_import_all_or_nothing_and_export_safely(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let import = |kind: &str, query: &str, token: &str, csv: &str| {
        let req =
            t.client.post(format!("{}/api/v1/import/{kind}{query}", t.base)).bearer_auth(token).body(csv.to_string());
        async move {
            let resp = req.send().await.unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let map = "?map=Tag=asset_tag,Serial%20No=serial,Kind=type";
    // A file with three bad lines: nothing written, each line named.
    let bad = "Tag,Serial No,Kind,name,purchase_date,holder,Colour\n\
               PC-1,S1,laptop,Laptop one,2025-01-02,ann@example.com,red\n\
               PC-2,S2,toaster,Broken type,2025-01-02,,\n\
               PC-1,S3,laptop,Same tag again,2025-01-02,,\n\
               PC-4,S4,desktop,Bad date,2025-13-01,,\n\
               PC-5,S5,desktop,Nobody holds it,,zed@example.com,\n";
    let (s, r) = import("assets", map, &d.agent, bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    let errs: Vec<(i64, String)> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_i64().unwrap(), e["field"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        errs,
        [(3, "type".to_string()), (4, "asset_tag".into()), (5, "purchase_date".into()), (6, "holder".into())]
    );
    assert_eq!((r["written"].as_bool(), r["ignored_columns"].clone()), (Some(false), json!(["Colour"])));
    assert_eq!(t.get(&d.agent, "/api/v1/assets").await.1["items"], json!([]), "nothing half-written");

    // The fixed file: a dry run writes nothing, the real run creates three, a second run changes nothing.
    let good = "Tag,Serial No,Kind,name,purchase_date,holder,cost,notes\n\
                PC-1,S1,laptop,Laptop one,2025-01-02,ann@example.com,\"1,299.00\",\n\
                PC-2,S2,desktop,Desktop two,2025-01-02,,,\"=HYPERLINK(\"\"http://evil\"\")\"\n\
                ,S9,printer,Printer by serial,,,,\n";
    let (s, r) = import("assets", &format!("{map}&dry_run=true"), &d.agent, good).await;
    assert_eq!((s, r["created"].as_i64(), r["written"].as_bool()), (StatusCode::OK, Some(3), Some(false)), "{r}");
    assert_eq!(t.get(&d.agent, "/api/v1/assets").await.1["items"], json!([]));
    let (s, r) = import("assets", map, &d.agent, good).await;
    assert_eq!((s, r["created"].as_i64(), r["written"].as_bool()), (StatusCode::OK, Some(3), Some(true)), "{r}");
    let (_, mine) = t.get(&d.ann, "/api/v1/me/devices").await;
    assert_eq!((mine[0]["asset_tag"].as_str(), mine[0]["cost_cents"].as_i64()), (Some("PC-1"), Some(129_900)));
    let (s, r) = import("assets", map, &d.agent, good).await;
    assert_eq!((s, r["unchanged"].as_i64(), r["created"].as_i64()), (StatusCode::OK, Some(3), Some(0)), "{r}");
    let moved = good.replace("Desktop two,2025-01-02", "Desktop two,2025-02-03");
    let (_, r) = import("assets", map, &d.agent, &moved).await;
    assert_eq!(r["updated"], 1, "{r}");

    // Export: the header, every asset, and the formula neutralised.
    let resp = t.client.get(format!("{}/api/v1/export/assets", t.base)).bearer_auth(&d.agent).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = resp.text().await.unwrap();
    assert!(csv.starts_with("asset_tag,serial,type,name,state,holder,"), "{csv}");
    assert_eq!(csv.lines().count(), 4);
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""), "{csv}");
    assert!(csv.contains("PC-1,S1,laptop,Laptop one,deployed,ann@example.com"), "{csv}");

    // Users: admins only; groups by name; an agent in a group.
    let users = "email,name,role,groups,department\nnew.agent@example.com,New Agent,agent,Service Desk,IT\nann@example.com,Ann Smith,,,Finance\n";
    assert_eq!(import("users", "", &d.agent, users).await.0, StatusCode::FORBIDDEN);
    let (s, r) = import("users", "", &d.admin, users).await;
    assert_eq!((s, r["created"].as_i64(), r["updated"].as_i64()), (StatusCode::OK, Some(1), Some(1)), "{r}");
    let (_, u) = t.get(&d.admin, "/api/v1/users?q=new.agent").await;
    assert_eq!(u["items"][0]["groups"], json!(["Service Desk"]), "{u}");
    let resp = t.client.get(format!("{}/api/v1/export/users", t.base)).bearer_auth(&d.admin).send().await.unwrap();
    let users_csv = resp.text().await.unwrap();
    assert!(users_csv.contains("new.agent@example.com,New Agent,agent,,IT,Service Desk,true,"), "{users_csv}");
    assert!(users_csv.contains("sam@example.com,sam@example.com,agent,,,Service Desk,true,"), "{users_csv}");
    let (s, r) = import("users", "", &d.admin, "email,role,groups\nx@example.com,requester,Service Desk\n").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r["errors"][0]["field"], "groups");

    // Licences.
    let lic = "product,vendor,type,seats,expires_on,reference\nMicrosoft 365 E3,Microsoft,per_user,250,2027-06-30,EA-1\nAdobe Acrobat,Adobe,per_device,x,,\n";
    let (s, r) = import("licences", "", &d.agent, lic).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!((r["errors"][0]["line"].as_i64(), r["errors"][0]["field"].as_str()), (Some(3), Some("seats")));
    let (s, r) = import("licences", "", &d.agent, &lic.replace(",x,", ",10,")).await;
    assert_eq!((s, r["created"].as_i64()), (StatusCode::OK, Some(2)), "{r}");
    let (s, r) = import("licences", "", &d.agent, &lic.replace(",x,", ",10,")).await;
    assert_eq!(
        (s, r["unchanged"].as_i64(), r["created"].as_i64()),
        (StatusCode::OK, Some(2), Some(0)),
        "matched by product and reference: {r}"
    );
    let (s, r) = import("licences", "", &d.agent, &lic.replace(",x,", ",12,")).await;
    assert_eq!((s, r["updated"].as_i64()), (StatusCode::OK, Some(1)), "{r}");
}
