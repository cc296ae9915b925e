//! Joiners, movers and leavers over HTTP, on SQLite and PostgreSQL: a joiner's tasks dated in
//! working days from the start day and planned again when it moves, the laptop checked out to
//! them; a mover's access computed from the old and new department; a leaver that closes only
//! when the directory (slapd) shows the account disabled and the groups left and the asset
//! register shows every asset back — or a lead records why.

use crate::identity::{ROOT_DN, ROOT_PW, SUFFIX, Slapd, have_slapd, person, sync, user_by_email};
use crate::web::Web;
use jiff::civil::{Date, Weekday};
use orion_testkit::{Engine, TestApp, engine_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};

engine_tests!(
    a_joiner_is_planned_in_working_days_and_replanned_when_the_start_moves,
    a_movers_access_is_the_difference_of_the_profiles,
    a_leaver_closes_only_on_what_the_directory_and_the_register_show,
    the_desk_starts_and_works_a_joiner_in_the_console,
    a_catalog_request_starts_a_joiner_that_the_requester_and_manager_follow,
    the_directory_starts_joiners_and_leavers_and_moves_their_days
);

struct Desk {
    t: TestApp,
    admin: String,
    sam: String,
    lead: String,
}

async fn desk(engine: Engine) -> Option<Desk> {
    let t = TestApp::spawn(engine).await?;
    let admin = t.bootstrap_admin("admin@example.com").await;
    for (name, tier) in [("Service Desk", 1), ("Desktop Support", 2)] {
        let (s, b) = t.post(&admin, "/api/v1/groups", json!({"name": name, "tier": tier})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let sam = t.user(&admin, "sam@example.com", "agent", &["Service Desk", "Desktop Support"]).await;
    let lead = t.user(&admin, "lea@example.com", "lead", &["Service Desk"]).await;
    Some(Desk { t, admin, sam, lead })
}

fn fields(b: &Value) -> Vec<String> {
    b["error"]["fields"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

/// Today on the test's clock, as the server's Business hours calendar sees it (UTC).
fn today(t: &TestApp) -> Date {
    use orion_app::Clock;
    jiff::Timestamp::from_millisecond(t.clock.now().0).unwrap().to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// Steps `n` weekdays from `d` (back for a negative `n`), `d` not counted: the default Business
/// hours calendar works Monday to Friday.
fn weekdays_from(d: Date, n: i32) -> Date {
    let mut d = d;
    let mut left = n.abs();
    while left > 0 {
        d = if n > 0 { d.tomorrow().unwrap() } else { d.yesterday().unwrap() };
        if !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) {
            left -= 1;
        }
    }
    d
}

/// The first Monday at least `days` calendar days from today.
fn monday_after(t: &TestApp, days: i64) -> Date {
    let mut d = today(t).checked_add(jiff::Span::new().days(days)).unwrap();
    while d.weekday() != Weekday::Monday {
        d = d.tomorrow().unwrap();
    }
    d
}

fn task<'a>(w: &'a Value, key: &str) -> &'a Value {
    w["tasks"].as_array().unwrap().iter().find(|t| t["key"] == key).unwrap_or_else(|| panic!("no task {key}: {w}"))
}

async fn complete(t: &TestApp, token: &str, number: &str, body: Value) -> (StatusCode, Value) {
    t.post(token, &format!("/api/v1/workflows/tasks/{number}/complete"), body).await
}

/// Completes every task of a joiner as it opens (the hand-out with `asset_tag`); returns the
/// workflow as the last completion left it.
async fn work_through(t: &TestApp, token: &str, id: i64, asset_tag: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..10 {
        let (_, w) = t.get(token, &format!("/api/v1/workflows/{id}")).await;
        let open: Vec<Value> =
            w["tasks"].as_array().unwrap().iter().filter(|k| k["state"] == "open").cloned().collect();
        if open.is_empty() {
            return w;
        }
        for k in open {
            let body = if k["action"] == "hands_out" { json!({"asset": asset_tag}) } else { json!({}) };
            let (s, b) = complete(t, token, k["number"].as_str().unwrap(), body).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            last = b;
        }
    }
    last
}

fn worker(t: &TestApp) -> orion_app::jobs::Worker {
    orion_app::jobs::standard_worker(t.app.clone(), "test")
}

async fn a_joiner_is_planned_in_working_days_and_replanned_when_the_start_moves(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let (_, mgr) = t
        .post(
            &d.admin,
            "/api/v1/users",
            json!({"email": "mia@example.com", "name": "Mia Manager", "role": "requester"}),
        )
        .await;
    assert!(mgr["id"].is_i64(), "{mgr}");
    // Refusals name the field and write nothing.
    let start = monday_after(t, 21);
    let (s, b) = t
        .post(
            &d.sam,
            "/api/v1/workflows",
            json!({"kind": "arrival", "person": "new@example.com", "date": "next monday", "group": "Nope"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let mut f = fields(&b);
    f.sort();
    assert_eq!(f, vec!["date", "group", "kind"], "{b}");
    let (_, none) = t.get(&d.sam, "/api/v1/workflows").await;
    assert_eq!(none["items"], json!([]));
    let (s, _) = t.get(&t.user(&d.admin, "req@example.com", "requester", &[]).await, "/api/v1/workflows").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "requesters see no workflows");

    // A joiner starting on a Monday three weeks out: each task due in working days from it.
    let (s, w) = t
        .post(
            &d.sam,
            "/api/v1/workflows",
            json!({"kind": "joiner", "person": "jo@example.com", "name": "Jo Newman", "manager": "mia@example.com",
                   "department": "Finance", "job_title": "Accountant", "location": "Berlin", "date": start.to_string(),
                   "group": "Desktop Support", "note": "Prefers a 14-inch laptop"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let id = w["id"].as_i64().unwrap();
    assert_eq!(
        (w["person"]["name"].as_str(), w["manager"]["email"].as_str()),
        (Some("Jo Newman"), Some("mia@example.com"))
    );
    assert_eq!(w["date_name"], "start day");
    assert_eq!(task(&w, "account")["due"], weekdays_from(start, -10).to_string());
    assert_eq!(task(&w, "account")["when"], "10 working days before the start day");
    assert_eq!(task(&w, "laptop")["due"], weekdays_from(start, -3).to_string());
    assert_eq!(task(&w, "induction")["due"], start.to_string());
    assert_eq!(task(&w, "account")["group"], "Desktop Support");
    // Tasks that wait for nothing are open as task tickets; the others wait.
    assert_eq!(task(&w, "account")["state"], "open", "{w}");
    assert_eq!(task(&w, "badge")["state"], "open");
    assert_eq!(task(&w, "laptop")["state"], "waiting");
    assert!(task(&w, "laptop")["number"].is_null());
    let account = task(&w, "account")["number"].as_str().unwrap().to_string();
    let (_, ticket) = t.get(&d.sam, &format!("/api/v1/tickets/{account}")).await;
    assert_eq!(ticket["kind"], "task", "{ticket}");
    assert_eq!(ticket["assignment_group"], "Desktop Support");
    let text = ticket["description"].as_str().unwrap();
    assert!(text.contains("Jo Newman") && text.contains(&weekdays_from(start, -10).to_string()), "{text}");
    assert!(text.contains("Prefers a 14-inch laptop"), "{text}");
    // The person exists now, as a requester, and does not see the tasks.
    let jo = user_by_email(t, &d.admin, "jo@example.com").await.expect("the joiner's account");
    assert_eq!(jo["role"], "requester");
    let (s, _) = t
        .get(&t.app.create_token_for("jo@example.com", "t").await.unwrap().token, &format!("/api/v1/tickets/{account}"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Not ready, not urgent (three weeks out).
    assert_eq!((w["ready"].as_bool(), w["urgent"].as_bool()), (Some(false), Some(false)));

    // Someone works on the account task; then HR moves the start a week later.
    let (s, b) = t.patch(&d.sam, &format!("/api/v1/tickets/{account}"), json!({"assignee": "sam@example.com"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let badge = task(&w, "badge")["number"].as_str().unwrap().to_string();
    let (s, w2) = complete(t, &d.sam, &badge, json!({"notes": "Facilities asked"})).await;
    assert_eq!(s, StatusCode::OK, "{w2}");
    let later = start.checked_add(jiff::Span::new().days(7)).unwrap();
    let (s, b) = t
        .post(&d.lead, &format!("/api/v1/workflows/{id}/date"), json!({"date": later.to_string(), "row_version": 0}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "a stale read is refused: {b}");
    let (s, moved) = t
        .post(
            &d.lead,
            &format!("/api/v1/workflows/{id}/date"),
            json!({"date": later.to_string(), "row_version": w2["row_version"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    assert_eq!(moved["date"], later.to_string());
    assert_eq!(task(&moved, "account")["due"], weekdays_from(later, -10).to_string());
    assert_eq!(task(&moved, "induction")["due"], later.to_string());
    assert_eq!(task(&moved, "badge")["due"], task(&w, "badge")["due"], "a done task keeps its date");
    // The assignee is told, and the ticket's timeline says so.
    let (_, notes) = t.get(&d.sam, "/api/v1/me/notifications").await;
    let told = notes["items"].as_array().unwrap().iter().any(|n| {
        n["kind"] == "workflow" && n["message"].as_str().unwrap().contains(&weekdays_from(later, -10).to_string())
    });
    assert!(told, "{notes}");

    // The laptop: complete the account task, then the laptop task checks an asset out to Jo.
    let (s, b) = t
        .post(
            &d.sam,
            "/api/v1/assets",
            json!({"type": "laptop", "name": "LT-JO", "asset_tag": "PC-0100", "support_group": "Desktop Support"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let asset = b["id"].as_i64().unwrap();
    let (s, w3) = complete(t, &d.sam, &account, json!({"notes": "jo.newman created"})).await;
    assert_eq!(s, StatusCode::OK, "{w3}");
    let laptop = task(&w3, "laptop")["number"].as_str().expect("opened once the account is done").to_string();
    assert_eq!(task(&w3, "laptop")["action"], "hands_out");
    let (s, b) = complete(t, &d.sam, &laptop, json!({})).await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["asset".to_string()]));
    let (s, b) = complete(t, &d.sam, &laptop, json!({"asset": "PC-9999"})).await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["asset".to_string()]));
    // The laptop is reserved for Jo: nobody else can have it meanwhile, and the task hands it out.
    let (s, b) = t.post(&d.sam, &format!("/api/v1/workflows/{id}/reserve"), json!({"asset": "PC-9999"})).await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["asset".to_string()]), "{b}");
    let (s, b) = t.post(&d.sam, &format!("/api/v1/workflows/{id}/reserve"), json!({"asset": "PC-0100"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(task(&b, "laptop")["asset"]["asset_tag"], "PC-0100", "{b}");
    let (s, b) = t.post(&d.sam, &format!("/api/v1/assets/{asset}/checkout"), json!({"user": "sam@example.com"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("reserved for Jo Newman"), "{b}");
    let (s, w4) = complete(t, &d.sam, &laptop, json!({"notes": "Imaged and encrypted"})).await;
    assert_eq!(s, StatusCode::OK, "{w4}");
    let (_, a) = t.get(&d.sam, &format!("/api/v1/assets/{asset}")).await;
    assert_eq!((a["state"].as_str(), a["holder"]["email"].as_str()), (Some("deployed"), Some("jo@example.com")), "{a}");
    assert!(task(&w4, "laptop")["outcome"].as_str().unwrap().contains("PC-0100"), "{w4}");
    let (_, tk) = t.get(&d.sam, &format!("/api/v1/tickets/{laptop}")).await;
    assert_eq!(tk["state"], "resolved", "{tk}");
    let (s, _) = complete(t, &d.sam, &laptop, json!({"asset": "PC-0100"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "done once");

    // The dashboard: open workflows by day, with what is not ready yet.
    let (_, list) = t.get(&d.sam, "/api/v1/workflows").await;
    let row = &list["items"][0];
    assert_eq!((row["id"].as_i64(), row["ready"].as_bool()), (Some(id), Some(false)), "{list}");
    let not_ready: Vec<&str> = row["not_ready"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(not_ready.contains(&"Prepare the phone") && !not_ready.contains(&"Create the account"), "{list}");
    // Every pre-start task done: ready.
    for key in ["groups", "licences", "phone"] {
        let (_, cur) = t.get(&d.sam, &format!("/api/v1/workflows/{id}")).await;
        let n = task(&cur, key)["number"].as_str().unwrap_or_else(|| panic!("{key} open: {cur}")).to_string();
        let (s, b) = complete(t, &d.sam, &n, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (_, cur) = t.get(&d.sam, &format!("/api/v1/workflows/{id}")).await;
    assert_eq!((cur["ready"].as_bool(), cur["state"].as_str()), (Some(true), Some("open")), "{cur}");
    let induction = task(&cur, "induction")["number"].as_str().unwrap().to_string();
    let (_, done) = complete(t, &d.sam, &induction, json!({"notes": "VPN, mail and intranet shown"})).await;
    assert_eq!(done["state"], "closed", "the last task closes a joiner: {done}");
    assert_eq!(done["tasks_done"], 7);
}

async fn a_movers_access_is_the_difference_of_the_profiles(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    for (name, access) in [
        ("Finance", json!(["All staff", "Finance share", "SAP users"])),
        ("Sales", json!(["All staff", "CRM users", "Sales share"])),
        ("Team lead", json!(["Managers"])),
    ] {
        let (s, b) = t.put(&d.admin, "/api/v1/access-profiles", json!({"name": name, "access": access})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, _) = t.put(&d.sam, "/api/v1/access-profiles", json!({"name": "X", "access": []})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only admins change profiles");
    let (_, b) = t
        .post(
            &d.admin,
            "/api/v1/users",
            json!({"email": "max@example.com", "name": "Max Mover", "role": "requester", "department": "Finance"}),
        )
        .await;
    assert!(b["id"].is_i64(), "{b}");
    let (s, b) = t
        .post(
            &d.sam,
            "/api/v1/workflows",
            json!({"kind": "mover", "person": "max@example.com", "date": monday_after(t, 7).to_string(), "group": "Service Desk"}),
        )
        .await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["new_department".to_string()]));
    let (s, w) = t
        .post(
            &d.sam,
            "/api/v1/workflows",
            json!({"kind": "mover", "person": "max@example.com", "new_department": "Sales", "new_job_title": "Team lead",
                   "date": monday_after(t, 7).to_string(), "group": "Service Desk"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    assert_eq!(w["department"], "Finance", "the person's department by default");
    assert_eq!(w["access_add"], json!(["CRM users", "Managers", "Sales share"]), "{w}");
    assert_eq!(w["access_revoke"], json!(["Finance share", "SAP users"]), "{w}");
    // The tasks say what to add and what to revoke.
    let add = task(&w, "add_access")["number"].as_str().unwrap();
    let (_, tk) = t.get(&d.sam, &format!("/api/v1/tickets/{add}")).await;
    assert!(tk["description"].as_str().unwrap().contains("Add: CRM users, Managers, Sales share"), "{tk}");
    let revoke = task(&w, "revoke_access")["number"].as_str().unwrap();
    let (_, tk) = t.get(&d.sam, &format!("/api/v1/tickets/{revoke}")).await;
    assert!(tk["description"].as_str().unwrap().contains("Revoke: Finance share, SAP users"), "{tk}");

    // Plans are the administrators' to change; a bad one is refused by place.
    let (_, plans) = t.get(&d.sam, "/api/v1/workflow-plans").await;
    assert_eq!(plans.as_array().unwrap().len(), 3);
    assert!(plans.as_array().unwrap().iter().all(|p| p["standard"] == true), "{plans}");
    let bad = json!({"tasks": [{"key": "a", "title": "A", "offset_days": -100, "after": ["b"]}]});
    let (s, b) = t.put(&d.admin, "/api/v1/workflow-plans/mover", bad).await;
    let mut f = fields(&b);
    f.sort();
    assert_eq!(
        (s, f),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["tasks[0].after[0]".into(), "tasks[0].offset_days".into()])
    );
    let plan = json!({"tasks": [{"key": "access", "title": "Change the access", "offset_days": 0, "group": "Desktop Support"}]});
    let (s, b) = t.put(&d.sam, "/api/v1/workflow-plans/mover", plan.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let (s, b) = t.put(&d.admin, "/api/v1/workflow-plans/mover", plan).await;
    assert_eq!((s, b["standard"].as_bool()), (StatusCode::OK, Some(false)), "{b}");
    let (s, w2) = t
        .post(
            &d.sam,
            "/api/v1/workflows",
            json!({"kind": "mover", "person": "max@example.com", "new_department": "Sales",
                   "date": monday_after(t, 14).to_string(), "group": "Service Desk"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w2}");
    assert_eq!(w2["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(task(&w2, "access")["group"], "Desktop Support");
    let (_, w) = t.get(&d.sam, &format!("/api/v1/workflows/{}", w["id"])).await;
    assert_eq!(w["tasks"].as_array().unwrap().len(), 3, "a started workflow keeps its plan");
}

async fn a_leaver_closes_only_on_what_the_directory_and_the_register_show(engine: Engine) {
    if !have_slapd() {
        return;
    }
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let mut seed = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Orion\ndc: orion\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: ou=former,{SUFFIX}\nobjectClass: organizationalUnit\nou: former\n\n"
    );
    seed += &person("lou", "Lou Leaver", "departmentNumber: IT\n");
    seed += &person("kim", "Kim Stays", "");
    // Enough colleagues that one leaving is no mass deactivation the sync would refuse.
    for n in 1..=9 {
        seed += &person(&format!("p{n}"), &format!("Pat Person{n}"), "");
    }
    seed += &format!(
        "dn: cn=helpdesk,ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: helpdesk\n\
         member: uid=lou,ou=people,{SUFFIX}\nmember: uid=kim,ou=people,{SUFFIX}\n\n"
    );
    let ldap = Slapd::start(&seed);
    let rules =
        json!([{"group_dn": format!("cn=helpdesk,ou=groups,{SUFFIX}"), "role": "agent", "group": "Service Desk"}]);
    let (s, src) = t
        .post(
            &d.admin,
            "/api/v1/directory/sources",
            json!({"name": "LDAP", "url": ldap.url, "bind_dn": ROOT_DN, "secret": ROOT_PW,
                   "base_dn": format!("ou=people,{SUFFIX}"), "group_rules": rules, "sync_minutes": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{src}");
    let source = src["id"].as_i64().unwrap();
    assert_eq!(sync(t, &d.admin, source, json!({})).await["outcome"], "applied");
    let lou = user_by_email(t, &d.admin, "lou@orion.test").await.unwrap();
    assert_eq!(lou["groups"], json!(["Service Desk"]), "{lou}");

    // Lou holds two assets.
    let mut tags = Vec::new();
    for (name, tag) in [("LT-LOU", "PC-0200"), ("PH-LOU", "PH-0201")] {
        let (s, a) = t
            .post(
                &d.sam,
                "/api/v1/assets",
                json!({"type": "laptop", "name": name, "asset_tag": tag, "support_group": "Service Desk"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        let (s, b) =
            t.post(&d.sam, &format!("/api/v1/assets/{}/checkout", a["id"]), json!({"user": "lou@orion.test"})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        tags.push((a["id"].as_i64().unwrap(), tag));
    }
    let last_day = weekdays_from(today(t), 2);
    let (s, w) = t
        .post(
            &d.sam,
            "/api/v1/workflows",
            json!({"kind": "leaver", "person": "lou@orion.test", "date": last_day.to_string(), "group": "Service Desk"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let id = w["id"].as_i64().unwrap();
    // One check-in line per asset held, each its own task ticket.
    let lines: Vec<&Value> = w["tasks"].as_array().unwrap().iter().filter(|t| t["action"] == "check_in").collect();
    assert_eq!(lines.len(), 2, "{w}");
    let tags_on_lines: Vec<&str> = lines.iter().map(|l| l["asset"]["asset_tag"].as_str().unwrap()).collect();
    assert_eq!(tags_on_lines, vec!["PC-0200", "PH-0201"]);
    assert!(lines[0]["title"].as_str().unwrap().contains("PC-0200"), "{w}");
    assert!(w["urgent"].as_bool().unwrap(), "two working days out and not ready: {w}");
    assert_eq!(w["date_name"], "last day");

    // It cannot close: the account is active, the group kept, both assets held, tasks open.
    let (s, b) = t.post(&d.sam, &format!("/api/v1/workflows/{id}/close"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let why = b["error"]["message"].as_str().unwrap();
    assert!(why.contains("not disabled") && why.contains("Service Desk") && why.contains("PC-0200, PH-0201"), "{why}");
    // An agent may not close it anyway; that is a lead's call, with a reason.
    let (s, _) = t.post(&d.sam, &format!("/api/v1/workflows/{id}/close"), json!({"exception": "HR said so"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The assets come back, each with its condition.
    let (s, b) = complete(t, &d.sam, lines[0]["number"].as_str().unwrap(), json!({})).await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["condition".to_string()]));
    let (s, b) = complete(t, &d.sam, lines[0]["number"].as_str().unwrap(), json!({"condition": "shiny"})).await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["condition".to_string()]), "{b}");
    let (s, b) = complete(t, &d.sam, lines[0]["number"].as_str().unwrap(), json!({"condition": "good"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = complete(
        t,
        &d.sam,
        lines[1]["number"].as_str().unwrap(),
        json!({"condition": "damaged", "to_state": "in_repair"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for (asset, _) in &tags {
        let (_, a) = t.get(&d.sam, &format!("/api/v1/assets/{asset}")).await;
        assert!(a["holder"].is_null(), "checked in: {a}");
    }
    // The other tasks done; the directory still shows Lou: it still cannot close.
    for key in ["backup", "mailbox", "disable", "licences"] {
        let (_, cur) = t.get(&d.sam, &format!("/api/v1/workflows/{id}")).await;
        let n = task(&cur, key)["number"].as_str().unwrap_or_else(|| panic!("{key} open: {cur}")).to_string();
        let (s, b) = complete(t, &d.sam, &n, json!({"notes": "done"})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (_, cur) = t.get(&d.sam, &format!("/api/v1/workflows/{id}")).await;
    assert_eq!(cur["state"], "open", "every task done, but the directory has not caught up: {cur}");
    let blockers: Vec<&str> = cur["blockers"].as_array().unwrap().iter().map(|b| b.as_str().unwrap()).collect();
    assert_eq!(blockers, vec!["The account is not disabled yet.", "Still a member of Service Desk."], "{cur}");

    // The directory: Lou leaves the group and the base; the next sync disables the account.
    ldap.modify(&format!(
        "dn: cn=helpdesk,ou=groups,{SUFFIX}\nchangetype: modify\ndelete: member\nmember: uid=lou,ou=people,{SUFFIX}\n\n\
         dn: uid=lou,ou=people,{SUFFIX}\nchangetype: modrdn\nnewrdn: uid=lou\ndeleteoldrdn: 1\nnewsuperior: ou=former,{SUFFIX}\n"
    ));
    assert_eq!(sync(t, &d.admin, source, json!({})).await["outcome"], "applied");
    let (s, closed) = t.post(&d.sam, &format!("/api/v1/workflows/{id}/close"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{closed}");
    assert_eq!((closed["state"].as_str(), closed["exception_reason"].clone()), (Some("closed"), Value::Null));
    // The record for an audit: who did what and when, what Orion saw, who closed it.
    let (s, audit) = t.get(&d.sam, &format!("/api/v1/workflows/{id}/audit")).await;
    assert_eq!(s, StatusCode::OK, "{audit}");
    let whats: Vec<&str> = audit["lines"].as_array().unwrap().iter().map(|l| l["what"].as_str().unwrap()).collect();
    assert!(whats[0].starts_with("started the leaver of Lou Leaver"), "{whats:?}");
    assert!(whats.contains(&"completed “Check in: LT-LOU (PC-0200)”: Checked in, condition good"), "{whats:?}");
    assert!(whats.iter().any(|w| w.starts_with("saw the account of Lou Leaver disabled")), "{whats:?}");
    assert_eq!(whats.last(), Some(&"closed it: everything seen done"), "{whats:?}");
    assert!(
        audit["lines"].as_array().unwrap().iter().any(|l| l["who"] == "sam@example.com <sam@example.com>"),
        "{audit}"
    );
    assert_eq!(
        audit["evidence"],
        json!(["The account is disabled.", "A member of no group.", "Holds no asset.", "Has no licence seat."])
    );
    let csv =
        t.client.get(format!("{}/api/v1/workflows/{id}/audit.csv", t.base)).bearer_auth(&d.sam).send().await.unwrap();
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("at,who,what,ticket\n") && csv.contains("Checked in, condition damaged"), "{csv}");

    // Another leaver whose laptop cannot be found: a lead closes it with the reason on record.
    let (_, b) = t
        .post(&d.admin, "/api/v1/users", json!({"email": "ned@example.com", "name": "Ned Gone", "role": "requester"}))
        .await;
    assert!(b["id"].is_i64(), "{b}");
    let (_, a) = t
        .post(
            &d.sam,
            "/api/v1/assets",
            json!({"type": "laptop", "name": "LT-NED", "asset_tag": "PC-0300", "support_group": "Service Desk"}),
        )
        .await;
    t.post(&d.sam, &format!("/api/v1/assets/{}/checkout", a["id"]), json!({"user": "ned@example.com"})).await;
    let (_, w) = t
        .post(
            &d.sam,
            "/api/v1/workflows",
            json!({"kind": "leaver", "person": "ned@example.com", "date": last_day.to_string(), "group": "Service Desk"}),
        )
        .await;
    let ned = w["id"].as_i64().unwrap();
    // A phone handed to Ned after planning gets its own check-in line when someone tries to close.
    let (_, phone) = t
        .post(
            &d.sam,
            "/api/v1/assets",
            json!({"type": "phone", "name": "PH-NED", "asset_tag": "PH-0301", "support_group": "Service Desk"}),
        )
        .await;
    t.post(&d.sam, &format!("/api/v1/assets/{}/checkout", phone["id"]), json!({"user": "ned@example.com"})).await;
    let (s, b) = t.post(&d.sam, &format!("/api/v1/workflows/{ned}/close"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("PC-0300, PH-0301"), "{b}");
    let (_, w) = t.get(&d.sam, &format!("/api/v1/workflows/{ned}")).await;
    let lines: Vec<&str> = w["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["action"] == "check_in")
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(lines, vec!["Check in: LT-NED (PC-0300)", "Check in: PH-NED (PH-0301)"], "{w}");
    let phone_line = w["tasks"].as_array().unwrap().iter().find(|t| t["asset"]["asset_tag"] == "PH-0301").unwrap();
    assert!(phone_line["number"].is_string(), "the new line opens as a task ticket: {w}");
    let (s, b) = t
        .post(
            &d.lead,
            &format!("/api/v1/workflows/{ned}/close"),
            json!({"exception": "Laptop stolen, police report 4711"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let reason = b["exception_reason"].as_str().unwrap();
    assert!(
        reason.contains("police report 4711") && reason.contains("PC-0300"),
        "the reason and what stood open: {reason}"
    );
    assert!(b["tasks"].as_array().unwrap().iter().all(|t| t["state"] == "cancelled"), "{b}");
    let (_, closed) = t.get(&d.sam, "/api/v1/workflows?state=closed").await;
    assert_eq!(closed["items"].as_array().unwrap().len(), 2, "{closed}");
}

async fn the_desk_starts_and_works_a_joiner_in_the_console(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    t.app.set_password("lea@example.com", "correct horse battery".into()).await.unwrap();
    let mut w = Web::new(t);
    assert!(w.login("lea@example.com", "correct horse battery").await.status.is_redirection());
    let list = w.get("/agent/workflows").await;
    assert!(
        list.body.contains("Start a joiner, mover or leaver") && list.body.contains("Nobody here"),
        "{}",
        list.body
    );
    let start = monday_after(t, 14).to_string();
    // A refusal names the field in words and keeps what was typed.
    let form = [
        ("kind", "joiner"),
        ("person", "zoe@example.com"),
        ("name", "Zoe Start"),
        ("date", start.as_str()),
        ("group", ""),
    ];
    let r = w.post("/agent/workflows", &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Group the tasks go to") && r.body.contains("Zoe Start"), "{}", r.body);
    let form = [
        ("kind", "joiner"),
        ("person", "zoe@example.com"),
        ("name", "Zoe Start"),
        ("date", start.as_str()),
        ("group", "Desktop Support"),
        ("department", "Sales"),
    ];
    let r = w.post("/agent/workflows", &form).await;
    assert!(r.location.starts_with("/agent/workflows/") && r.location.ends_with("m=workflow_started"), "{}", r.body);
    let page_path = r.location.split('?').next().unwrap().to_string();
    let page = w.get(&page_path).await;
    assert!(page.body.contains("Joiner: Zoe Start") && page.body.contains("Create the account"), "{}", page.body);
    assert!(page.body.contains("10 working days before the start day") && page.body.contains("Move the day"));
    let list = w.get("/agent/workflows").await;
    assert!(
        list.body.contains("Zoe Start") && list.body.contains("Prepare the phone"),
        "not ready lists: {}",
        list.body
    );

    // The account task is completed on its ticket; the laptop task then asks for the asset tag.
    let id: i64 = page_path.rsplit('/').next().unwrap().parse().unwrap();
    let (_, wf) = t.get(&d.sam, &format!("/api/v1/workflows/{id}")).await;
    let account = task(&wf, "account")["number"].as_str().unwrap().to_string();
    let ticket = w.get(&format!("/agent/tickets/{account}")).await;
    assert!(
        ticket.body.contains("id=\"workflow-task-panel\"") && ticket.body.contains("Joiner: Zoe Start"),
        "{}",
        ticket.body
    );
    let r =
        w.post(&format!("/agent/tickets/{account}/complete_workflow_task"), &[("notes", "zoe.start created")]).await;
    assert!(r.location.contains("m=workflow_task_done"), "{} {}", r.status, r.body);
    let (_, wf) = t.get(&d.sam, &format!("/api/v1/workflows/{id}")).await;
    let laptop = task(&wf, "laptop")["number"].as_str().expect("the laptop task opened").to_string();
    let (s, a) = t
        .post(
            &d.sam,
            "/api/v1/assets",
            json!({"type": "laptop", "name": "LT-ZOE", "asset_tag": "PC-0500", "support_group": "Desktop Support"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let ticket = w.get(&format!("/agent/tickets/{laptop}")).await;
    assert!(ticket.body.contains("id=\"wtask-asset\""), "{}", ticket.body);
    let r = w.post(&format!("/agent/tickets/{laptop}/complete_workflow_task"), &[("asset", "PC-9999")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "an unknown tag is refused: {}", r.body);
    assert!(r.body.contains("PC-9999"), "{}", r.body);
    let r = w.post(&format!("/agent/tickets/{laptop}/complete_workflow_task"), &[("asset", "PC-0500")]).await;
    assert!(r.location.contains("m=workflow_task_done"), "{} {}", r.status, r.body);
    let (_, a) = t.get(&d.sam, &format!("/api/v1/assets/{}", a["id"])).await;
    assert_eq!(a["holder"]["email"], "zoe@example.com", "{a}");

    // HR moves the start: the page's form plans again.
    let later = monday_after(t, 21).to_string();
    let version = wf["row_version"].to_string();
    let r = w
        .post(&format!("/agent/workflows/{id}/date"), &[("date", later.as_str()), ("row_version", version.as_str())])
        .await;
    assert!(r.location.contains("m=workflow_replanned"), "{} {}", r.status, r.body);
    let page = w.get(&page_path).await;
    assert!(page.body.contains(&later), "{}", page.body);
    // Closing while tasks are open: a lead may close with a reason.
    let r = w.post(&format!("/agent/workflows/{id}/close"), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("cannot close yet"), "{}", r.body);
    let r = w.post(&format!("/agent/workflows/{id}/close"), &[("exception", "The hire was withdrawn")]).await;
    assert!(r.location.contains("m=workflow_closed"), "{} {}", r.status, r.body);
    let page = w.get(&page_path).await;
    assert!(page.body.contains("Closed by exception: The hire was withdrawn"), "{}", page.body);
    let audit = w.get(&format!("{page_path}/audit")).await;
    assert!(
        audit.body.contains("id=\"audit-lines\"")
            && audit.body.contains("closed it by exception: The hire was withdrawn"),
        "{}",
        audit.body
    );

    // The administrator's page: plans in sentences, changed as JSON; access by department.
    t.app.set_password("admin@example.com", "correct horse battery".into()).await.unwrap();
    let mut admin = Web::new(t);
    assert!(admin.login("admin@example.com", "correct horse battery").await.status.is_redirection());
    let page = admin.get("/admin/workflows").await;
    assert!(page.body.contains("Create the account — 10 working days before the start day"), "{}", page.body);
    assert_eq!(w.get("/admin/workflows").await.status, StatusCode::FORBIDDEN, "leads do not change plans");
    let r = admin.post("/admin/workflows/plans/leaver", &[("tasks", "[{\"key\": \"x\"}]")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("tasks[0].title"), "the mistake by place: {}", r.body);
    let plan = r#"[{"key": "return", "title": "Take everything back", "offset_days": 0, "per_asset": true}]"#;
    let r = admin.post("/admin/workflows/plans/leaver", &[("tasks", plan)]).await;
    assert!(r.location.contains("m=plan_saved"), "{} {}", r.status, r.body);
    let page = admin.get("/admin/workflows").await;
    assert!(page.body.contains("Take everything back — on the last day; one line per asset"), "{}", page.body);
    let r = admin.post("/admin/workflows/plans/leaver", &[("standard", "1")]).await;
    assert!(r.location.contains("m=plan_saved"), "{} {}", r.status, r.body);
    let r = admin.post("/admin/workflows/access", &[("name", "Sales"), ("access", "CRM users\nSales share\n")]).await;
    assert!(r.location.contains("m=profile_saved"), "{} {}", r.status, r.body);
    let (_, profiles) = t.get(&d.sam, "/api/v1/access-profiles").await;
    assert_eq!(profiles, json!([{"name": "Sales", "access": ["CRM users", "Sales share"]}]));
    let (_, plans) = t.get(&d.sam, "/api/v1/workflow-plans").await;
    assert!(plans.as_array().unwrap().iter().all(|p| p["standard"] == true), "Orion's leaver plan is back: {plans}");
}

async fn a_catalog_request_starts_a_joiner_that_the_requester_and_manager_follow(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let hr = t.user(&d.admin, "hana@example.com", "requester", &[]).await;
    let mia = t.user(&d.admin, "mia@example.com", "requester", &[]).await;
    let other = t.user(&d.admin, "otto@example.com", "requester", &[]).await;
    let form = json!({"sections": [{"title": "The new joiner", "questions": [
        {"key": "who", "label": "Their e-mail address", "kind": "email", "required": true},
        {"key": "full_name", "label": "Their name", "kind": "short_text"},
        {"key": "first_day", "label": "First day", "kind": "date", "required": true},
        {"key": "boss", "label": "Their manager", "kind": "email"},
        {"key": "team", "label": "Department", "kind": "short_text"}]}]});
    let starts = json!({"kind": "joiner", "person": "who", "name": "full_name", "date": "first_day",
                        "manager": "boss", "department": "team", "group": "Desktop Support"});
    // The mapping is checked against the form: a day must come from a date question.
    let mut bad = starts.clone();
    bad["date"] = json!("team");
    bad["name"] = json!("nope");
    let (s, b) = t
        .post(
            &d.admin,
            "/api/v1/catalog/items",
            json!({"name": "New joiner", "category": "People", "package": {"form": form, "workflow": bad}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let mut f = fields(&b);
    f.sort();
    assert_eq!(f, vec!["package.workflow.date", "package.workflow.name"], "{b}");
    let (s, item) = t
        .post(
            &d.admin,
            "/api/v1/catalog/items",
            json!({"name": "New joiner", "category": "People", "publish": true,
                   "package": {"form": form, "workflow": starts, "assignment_group": "Service Desk"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{item}");
    let start = monday_after(t, 21);
    // The dry run says what a request would start.
    let (s, dry) = t
        .post(
            &d.admin,
            &format!("/api/v1/catalog/items/{}/dry-run", item["id"]),
            json!({"as_user": "hana@example.com", "answers": {"who": "nina@example.com", "first_day": start.to_string()}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{dry}");
    assert_eq!(
        dry["workflow"],
        format!(
            "Once approved: starts a joiner for nina@example.com, start day {start}, its tasks going to Desktop Support."
        )
    );
    let ask = |answers: Value| {
        let path = format!("/api/v1/catalog/items/{}/requests", item["id"]);
        let hr = hr.clone();
        async move { t.post(&hr, &path, json!({"answers": answers})).await }
    };
    let (s, req) = ask(json!({"who": "nina@example.com", "full_name": "Nina Newbie", "first_day": start.to_string(),
                                "boss": "mia@example.com", "team": "Finance"}))
    .await;
    assert_eq!(s, StatusCode::CREATED, "{req}");
    let number = req["number"].as_str().unwrap().to_string();
    // Not before the job runs: then the joiner is planned from the answers, once.
    assert_eq!(t.get(&hr, &format!("/api/v1/tickets/{number}/workflow")).await.0, StatusCode::NOT_FOUND);
    worker(t).run_due().await.unwrap();
    worker(t).run_due().await.unwrap();
    let (_, list) = t.get(&d.sam, "/api/v1/workflows?person=nina@example.com").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let id = list["items"][0]["id"].as_i64().unwrap();
    let (_, w) = t.get(&d.sam, &format!("/api/v1/workflows/{id}")).await;
    assert_eq!(
        (w["origin"].as_str(), w["date"].as_str(), w["department"].as_str(), w["group"].as_str()),
        (Some("catalog"), Some(start.to_string().as_str()), Some("Finance"), Some("Desktop Support")),
        "{w}"
    );
    assert_eq!(
        (w["person"]["name"].as_str(), w["manager"]["email"].as_str()),
        (Some("Nina Newbie"), Some("mia@example.com"))
    );
    assert!(w["note"].as_str().unwrap().contains(&number), "{w}");
    assert_eq!(w["request"], number.as_str());
    assert!(
        w["answers"].as_array().unwrap().iter().any(|a| a["question"] == "Department" && a["answer"] == "Finance"),
        "{w}"
    );
    assert_eq!(task(&w, "account")["due"], weekdays_from(start, -10).to_string());

    // The requester follows it on the request; the manager on their team's page; nobody else.
    let (s, p) = t.get(&hr, &format!("/api/v1/tickets/{number}/workflow")).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        (p["kind_label"].as_str(), p["person"].as_str(), p["tasks_done"].as_i64()),
        (Some("Joiner"), Some("Nina Newbie"), Some(0))
    );
    assert!(p["tasks"].as_array().unwrap().iter().any(|k| k["title"] == "Create the account"), "{p}");
    assert!(!p.to_string().contains("TSK"), "no task numbers for requesters: {p}");
    assert_eq!(t.get(&other, &format!("/api/v1/tickets/{number}/workflow")).await.0, StatusCode::NOT_FOUND);
    let (_, team) = t.get(&mia, "/api/v1/workflows/team").await;
    assert_eq!(team["items"][0]["person"], "Nina Newbie", "{team}");
    let (_, none) = t.get(&other, "/api/v1/workflows/team").await;
    assert_eq!(none["items"], json!([]));
    t.app.set_password("mia@example.com", "correct horse battery".into()).await.unwrap();
    let mut web = Web::new(t);
    assert!(web.login("mia@example.com", "correct horse battery").await.status.is_redirection());
    assert!(web.get("/portal").await.body.contains("id=\"team-link\""));
    let page = web.get("/portal/team").await;
    assert!(page.body.contains("Joiner of Nina Newbie") && page.body.contains("Create the account"), "{}", page.body);
    t.app.set_password("hana@example.com", "correct horse battery".into()).await.unwrap();
    let mut web = Web::new(t);
    assert!(web.login("hana@example.com", "correct horse battery").await.status.is_redirection());
    let page = web.get(&format!("/portal/tickets/{number}")).await;
    assert!(page.body.contains("id=\"workflow-progress\"") && page.body.contains("0 of 7 tasks done"), "{}", page.body);

    // The joiner done: the request is fulfilled with it.
    let (s, b) = t
        .post(
            &d.sam,
            "/api/v1/assets",
            json!({"type": "laptop", "name": "LT-NINA", "asset_tag": "PC-0700", "support_group": "Desktop Support"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let done = work_through(t, &d.sam, id, "PC-0700").await;
    assert_eq!(done["state"], "closed", "{done}");
    let (_, r) = t.get(&hr, &format!("/api/v1/tickets/{number}")).await;
    assert_eq!(r["state"], "resolved", "{r}");
    assert!(r["resolution_notes"].to_string().contains("joiner of Nina Newbie is done"), "{r}");
    let (_, p) = t.get(&hr, &format!("/api/v1/tickets/{number}/workflow")).await;
    assert_eq!((p["state"].as_str(), p["tasks_done"].as_i64()), (Some("closed"), Some(7)), "{p}");
    // Nina's page: the laptop she holds, the joiner done, her manager.
    let (s, nina) = t.get(&d.sam, "/api/v1/people?email=nina@example.com").await;
    assert_eq!(s, StatusCode::OK, "{nina}");
    assert_eq!(nina["assets"][0]["asset_tag"], "PC-0700", "{nina}");
    assert_eq!(
        (nina["workflows"][0]["kind"].as_str(), nina["workflows"][0]["state"].as_str()),
        (Some("joiner"), Some("closed"))
    );
    assert_eq!(nina["manager"]["email"], "mia@example.com");
    assert_eq!(t.get(&hr, "/api/v1/people?email=nina@example.com").await.0, StatusCode::FORBIDDEN);
    assert_eq!(t.get(&d.sam, "/api/v1/people?email=nobody@example.com").await.0, StatusCode::NOT_FOUND);
    t.app.set_password("sam@example.com", "correct horse battery".into()).await.unwrap();
    let mut desk_web = Web::new(t);
    assert!(desk_web.login("sam@example.com", "correct horse battery").await.status.is_redirection());
    let page = desk_web.get("/agent/person?email=nina%40example.com").await;
    assert!(
        page.body.contains("id=\"person-assets\"")
            && page.body.contains("PC-0700")
            && page.body.contains("Joiner, start day"),
        "{}",
        page.body
    );
    let page = desk_web.get(&format!("/agent/workflows/{id}")).await;
    assert!(page.body.contains("id=\"person-link\"") && page.body.contains("id=\"workflow-answers\""), "{}", page.body);

    // A request Orion cannot start from (a stranger without a name) says why and stays open.
    let (s, req) = ask(json!({"who": "ghost@example.com", "first_day": start.to_string()})).await;
    assert_eq!(s, StatusCode::CREATED, "{req}");
    let ghost = req["number"].as_str().unwrap().to_string();
    worker(t).run_due().await.unwrap();
    assert_eq!(t.get(&hr, &format!("/api/v1/tickets/{ghost}/workflow")).await.0, StatusCode::NOT_FOUND);
    let (_, r) = t.get(&d.sam, &format!("/api/v1/tickets/{ghost}")).await;
    assert_ne!(r["state"], "resolved", "{r}");
    let (_, timeline) = t.get(&d.sam, &format!("/api/v1/tickets/{ghost}/timeline")).await;
    assert!(
        timeline.to_string().contains("could not start the joiner") && timeline.to_string().contains("give their name"),
        "{timeline}"
    );
}

async fn the_directory_starts_joiners_and_leavers_and_moves_their_days(engine: Engine) {
    if !have_slapd() {
        return;
    }
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let start = monday_after(t, 21);
    let last = weekdays_from(today(t), 5);
    let compact = |d: Date| d.to_string().replace('-', "");
    let mut seed = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Orion\ndc: orion\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=former,{SUFFIX}\nobjectClass: organizationalUnit\nou: former\n\n"
    );
    // A start years ago is no joiner; a start ahead is.
    seed += &person("nia", "Nia New", &format!("carLicense: {}\n", compact(start)));
    seed += &person("old", "Olga Old", "carLicense: 20190107\n");
    // A start more than 60 days out waits for a later sync.
    let far = today(t).checked_add(jiff::Span::new().days(200)).unwrap();
    seed += &person("far", "Fay Far", &format!("carLicense: {far}\n"));
    seed += &person("lou", "Lou Leaving", &format!("roomNumber: {last}\n"));
    seed += &person("kim", "Kim Gone", "");
    for n in 1..=12 {
        seed += &person(&format!("p{n}"), &format!("Pat Person{n}"), "");
    }
    let ldap = Slapd::start(&seed);
    let (s, src) = t
        .post(
            &d.admin,
            "/api/v1/directory/sources",
            json!({"name": "LDAP", "url": ldap.url, "bind_dn": ROOT_DN, "secret": ROOT_PW,
                   "base_dn": format!("ou=people,{SUFFIX}"), "sync_minutes": 0, "workflow_group": "Nope",
                   "attributes": {"start_date": "carLicense", "end_date": "roomNumber"}}),
        )
        .await;
    assert_eq!((s, fields(&src)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["workflow_group".to_string()]), "{src}");
    let (s, src) = t
        .post(
            &d.admin,
            "/api/v1/directory/sources",
            json!({"name": "LDAP", "url": ldap.url, "bind_dn": ROOT_DN, "secret": ROOT_PW,
                   "base_dn": format!("ou=people,{SUFFIX}"), "sync_minutes": 0, "workflow_group": "Service Desk",
                   "attributes": {"start_date": "carLicense", "end_date": "roomNumber"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{src}");
    assert_eq!(src["workflow_group"], "Service Desk");
    let source = src["id"].as_i64().unwrap();
    let all = || async {
        let (_, list) = t.get(&d.sam, "/api/v1/workflows?state=all").await;
        let mut v: Vec<(String, String, String, String)> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                let s = |k: &str| w[k].as_str().unwrap().to_string();
                (w["person"]["email"].as_str().unwrap().to_string(), s("kind"), s("date"), s("state"))
            })
            .collect();
        v.sort();
        v
    };
    for _ in 0..2 {
        // Twice: a second sync starts nothing again.
        assert_eq!(sync(t, &d.admin, source, json!({})).await["outcome"], "applied");
        worker(t).run_due().await.unwrap();
        let want = |who: &str, kind: &str, day: Date| {
            (format!("{who}@orion.test"), kind.to_string(), day.to_string(), "open".to_string())
        };
        assert_eq!(all().await, vec![want("lou", "leaver", last), want("nia", "joiner", start)]);
    }
    let (_, list) = t.get(&d.sam, "/api/v1/workflows?person=nia@orion.test").await;
    let nia = list["items"][0]["id"].as_i64().unwrap();
    let (_, w) = t.get(&d.sam, &format!("/api/v1/workflows/{nia}")).await;
    assert_eq!(w["origin"], "directory", "{w}");
    assert_eq!(task(&w, "account")["state"], "open", "tasks open although nobody started it by hand: {w}");
    let (_, audit) = t.get(&d.sam, &format!("/api/v1/workflows/{nia}/audit")).await;
    assert_eq!(audit["lines"][0]["who"], "Orion", "{audit}");

    // HR moves Nia's start a week in the directory: the tasks move with it. Kim, who holds a
    // laptop, leaves the directory: the account is disabled and a leaver starts today.
    let (s, a) = t
        .post(
            &d.sam,
            "/api/v1/assets",
            json!({"type": "laptop", "name": "LT-KIM", "asset_tag": "PC-0800", "support_group": "Service Desk"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let (s, b) =
        t.post(&d.sam, &format!("/api/v1/assets/{}/checkout", a["id"]), json!({"user": "kim@orion.test"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, visio) =
        t.post(&d.sam, "/api/v1/licences", json!({"product": "Visio", "type": "per_user", "seats": 5})).await;
    assert_eq!(s, StatusCode::CREATED, "{visio}");
    let (s, seat) = t
        .post(&d.sam, &format!("/api/v1/licences/{}/assignments", visio["id"]), json!({"user": "kim@orion.test"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{seat}");
    let later = start.checked_add(jiff::Span::new().days(7)).unwrap();
    ldap.modify(&format!(
        "dn: uid=nia,ou=people,{SUFFIX}\nchangetype: modify\nreplace: carLicense\ncarLicense: {later}\n\n\
         dn: uid=kim,ou=people,{SUFFIX}\nchangetype: modrdn\nnewrdn: uid=kim\ndeleteoldrdn: 1\nnewsuperior: ou=former,{SUFFIX}\n"
    ));
    assert_eq!(sync(t, &d.admin, source, json!({})).await["outcome"], "applied");
    worker(t).run_due().await.unwrap();
    let (_, w) = t.get(&d.sam, &format!("/api/v1/workflows/{nia}")).await;
    assert_eq!(w["date"], later.to_string(), "{w}");
    assert_eq!(task(&w, "account")["due"], weekdays_from(later, -10).to_string());
    let (_, ticket) =
        t.get(&d.sam, &format!("/api/v1/tickets/{}/timeline", task(&w, "account")["number"].as_str().unwrap())).await;
    assert!(ticket.to_string().contains(&format!("moved from {start} to {later}")), "{ticket}");
    let now = all().await;
    assert!(now.contains(&("kim@orion.test".into(), "leaver".into(), today(t).to_string(), "open".into())), "{now:?}");
    assert_eq!(now.len(), 3, "{now:?}");
    let (_, list) = t.get(&d.sam, "/api/v1/workflows?person=kim@orion.test").await;
    let (_, kim) = t.get(&d.sam, &format!("/api/v1/workflows/{}", list["items"][0]["id"])).await;
    assert!(
        kim["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["action"] == "check_in" && k["asset"]["asset_tag"] == "PC-0800"),
        "{kim}"
    );
    // Her licence seat stands between the leaver and closing until it is taken back.
    assert!(kim["blockers"].to_string().contains("Still has a licence seat of Visio"), "{kim}");
    let (s, _) = t.delete(&d.sam, &format!("/api/v1/licences/{}/assignments/{}", visio["id"], seat["id"])).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, kim) = t.get(&d.sam, &format!("/api/v1/workflows/{}", kim["id"])).await;
    assert!(!kim["blockers"].to_string().contains("licence"), "{kim}");
    // The leaver takes over from the hand-over request a disabled account would otherwise get.
    let (_, tickets) = t.get(&d.sam, "/api/v1/tickets?limit=200").await;
    assert!(!tickets.to_string().contains("Hand over the work of Kim Gone"), "{tickets}");
}
