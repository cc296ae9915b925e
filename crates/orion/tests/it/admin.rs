//! Issue 25: what an admin configures in the console (mailboxes, service levels, webhooks,
//! monitoring integrations), pages for browsers, and a product that speaks in words — over HTTP
//! like a browser posts forms, on SQLite and PostgreSQL. The real-browser walkthrough is in
//! `browser.rs`.

use crate::browser::Browser;
use crate::web::{PW, Web};
use orion_testkit::in_ci;
use orion_testkit::{Engine, TestApp, engine_tests};
use reqwest::StatusCode;
use serde_json::json;

/// A server with an admin (API token) signed in to the console.
async fn admin_signed_in(engine: Engine) -> Option<(TestApp, String, Web)> {
    let t = TestApp::spawn(engine).await?;
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.app.set_password("admin@example.com", PW.into()).await.unwrap();
    let mut w = Web::new(&t);
    w.login("admin@example.com", PW).await;
    Some((t, admin, w))
}

engine_tests!(
    browsers_get_pages_for_errors_and_the_api_gets_json,
    admins_set_up_mailboxes_in_the_console,
    admins_set_up_webhooks_in_the_console,
    admins_set_up_monitoring_integrations_in_the_console,
    admins_set_up_service_levels_in_the_console,
    agents_register_change_and_retire_assets_in_the_console,
    admins_set_up_heartbeats_and_inventory_agents_in_the_console,
    every_page_passes_axe_and_fits_a_phone,
    an_admin_sets_up_the_desk_in_the_browser,
    admins_set_up_mail_and_test_the_relay_in_the_console,
    agents_attach_files_to_replies_and_notes,
    agents_record_licences_and_give_seats_in_the_console,
    admins_set_up_change_templates_freezes_and_detection_in_the_console,
    admins_edit_mail_templates_with_a_preview,
    admins_choose_how_long_logs_are_kept,
);

async fn browsers_get_pages_for_errors_and_the_api_gets_json(engine: Engine) {
    let Some((t, admin, mut w)) = admin_signed_in(engine).await else { return };
    let cookie = format!("orion_session={}", w.cookie.clone().unwrap());
    let http = reqwest::Client::new();
    let page = |path: &str| {
        http.get(format!("{}{path}", t.base))
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .header("cookie", cookie.clone())
            .send()
    };
    // An address that leads nowhere, a part of it that is not a number, a page that is only posted.
    for (path, status, words) in [
        ("/no/such/page", StatusCode::NOT_FOUND, "There is no such page"),
        ("/agent/assets/abc", StatusCode::BAD_REQUEST, "part of it is not valid"),
        ("/logout", StatusCode::METHOD_NOT_ALLOWED, "cannot be opened this way"),
    ] {
        let r = page(path).await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains(words), "{path}: {body}");
        assert!(!body.contains("Cannot parse") && !body.trim_start().starts_with('{'), "{path}: {body}");
    }
    // The API keeps answering JSON, to a browser too.
    let r = http.get(format!("{}/api/v1/nothing-here", t.base)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let (s, b) = t.get(&admin, "/api/v1/tickets/NOPE").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    assert!(b["error"]["message"].is_string(), "{b}");

    // What only an admin can fix is said to admins, on their pages: password reset by mail is
    // off until mail is set up; an agent never sees it.
    let banner = "Password reset by e-mail is off";
    assert!(w.get("/admin/users").await.body.contains(banner));
    t.user(&admin, "sam@example.com", "agent", &[]).await;
    t.app.set_password("sam@example.com", PW.into()).await.unwrap();
    let mut sam = Web::new(&t);
    sam.login("sam@example.com", PW).await;
    assert!(!sam.get("/agent").await.body.contains(banner));
    let (s, b) = t
        .put(&admin, "/api/v1/settings/mail", json!({"addresses": ["help@example.com"], "portal_url": t.base.clone()}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(!w.get("/admin/users").await.body.contains(banner), "set up now");
}

async fn admins_set_up_mailboxes_in_the_console(engine: Engine) {
    let Some((t, admin, mut w)) = admin_signed_in(engine).await else { return };
    let page = w.get("/admin/mailboxes").await;
    assert!(page.body.contains("No mailbox yet"), "{}", page.body);

    // A form without its server is refused, naming the field by its label and keeping the text.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let port = closed.to_string();
    let mut form = vec![
        ("name", "Desk inbox"),
        ("host", ""),
        ("port", port.as_str()),
        ("security", "none"),
        ("username", "desk"),
        ("auth", "password"),
        ("secret", "s3cret-imap"),
        ("folder", "INBOX"),
        ("after_fetch", "flag"),
        ("poll_seconds", "60"),
        ("enabled", "on"),
    ];
    let r = w.post("/admin/mailboxes", &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Server:") && r.body.contains("value=\"Desk inbox\""), "{}", r.body);
    form[1].1 = "127.0.0.1";
    let r = w.post("/admin/mailboxes", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.location.ends_with("?m=mailbox_added"), "{}", r.location);
    let page_url = r.location.split('?').next().unwrap().to_string();
    let page = w.get(&page_url).await;
    assert!(page.body.contains("Desk inbox") && page.body.contains("stored — leave blank to keep it"), "{}", page.body);
    assert!(!page.body.contains("s3cret-imap"), "the password is never shown");

    // "Check now" against a port nobody listens on says why it failed, on the page and in the list.
    let r = w.post(&format!("{page_url}/poll"), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"poll-report\">The check failed:"), "{}", r.body);
    let list = w.get("/admin/mailboxes").await;
    assert!(list.body.contains("class=\"alarm\""), "{}", list.body);
    // Failing for over a quarter of an hour: every admin page says so.
    use orion_app::Clock;
    t.clock.set(orion_domain::Timestamp(t.clock.now().0 + 16 * 60_000));
    w.login("admin@example.com", PW).await;
    let r = w.get("/admin/users").await;
    assert!(r.body.contains("Mailbox \u{201c}Desk inbox\u{201d} has not been read for"), "{}", r.body);

    // Changed with the password left blank: the stored one is kept. Then removed.
    let r = w
        .post(
            &page_url,
            &[
                ("name", "Desk inbox"),
                ("host", "127.0.0.1"),
                ("port", "1143"),
                ("security", "none"),
                ("username", "desk"),
                ("auth", "password"),
                ("poll_seconds", "120"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, boxes) = t.get(&admin, "/api/v1/mail/mailboxes").await;
    assert_eq!(
        (boxes[0]["port"].as_i64(), boxes[0]["has_secret"].as_bool(), boxes[0]["enabled"].as_bool()),
        (Some(1143), Some(true), Some(false)),
        "{boxes}"
    );
    let r = w.post(&format!("{page_url}/remove"), &[]).await;
    assert_eq!(r.location, "/admin/mailboxes?m=mailbox_removed");
    let (_, boxes) = t.get(&admin, "/api/v1/mail/mailboxes").await;
    assert_eq!(boxes, json!([]));
}

async fn admins_set_up_webhooks_in_the_console(engine: Engine) {
    let Some((t, admin, mut w)) = admin_signed_in(engine).await else { return };
    let r = w.post("/admin/webhooks", &[("name", "Chat"), ("url", "not a url"), ("events", "ticket.created")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Address:") && r.body.contains("value=\"Chat\""), "{}", r.body);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let form = [
        ("name", "Chat"),
        ("url", url.as_str()),
        ("events", "ticket.created"),
        ("events", "sla.breached"),
        ("format", "slack"),
        ("enabled", "on"),
    ];
    let r = w.post("/admin/webhooks", &form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let secret = r.body.split("id=\"webhook-secret\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let (_, hooks) = t.get(&admin, "/api/v1/webhooks").await;
    let id = hooks[0]["id"].as_i64().unwrap();
    assert_eq!(hooks[0]["events"], json!(["ticket.created", "sla.breached"]), "{hooks}");
    let page = format!("/admin/webhooks/{id}");

    // A test event shows in the log; a new secret replaces the old.
    let r = w.post(&format!("{page}/ping"), &[]).await;
    assert_eq!(r.location, format!("{page}?m=webhook_pinged"), "{}", r.body);
    let r = w.get(&page).await;
    assert!(r.body.contains("test event"), "{}", r.body);
    let r = w.post(&format!("{page}/secret"), &[]).await;
    let again = r.body.split("id=\"webhook-secret\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    assert!(again.starts_with("whsec_") && again != secret, "{again}");

    // Changed on its page, then removed.
    let r = w
        .post(&page, &[("name", "Team chat"), ("url", url.as_str()), ("events", "ticket.resolved"), ("format", "json")])
        .await;
    assert_eq!(r.location, format!("{page}?m=webhook_saved"), "{}", r.body);
    let (_, h) = t.get(&admin, &format!("/api/v1/webhooks/{id}")).await;
    assert_eq!((h["name"].as_str(), h["enabled"].as_bool()), (Some("Team chat"), Some(false)), "{h}");
    assert_eq!(h["events"], json!(["ticket.resolved"]));
    let r = w.post(&format!("{page}/remove"), &[]).await;
    assert_eq!(r.location, "/admin/webhooks?m=webhook_removed");
}

async fn admins_set_up_monitoring_integrations_in_the_console(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.app.set_password("admin@example.com", PW.into()).await.unwrap();
    t.post(&admin, "/api/v1/groups", json!({"name": "Operations", "tier": 2})).await;
    let mut w = Web::new(&t);
    w.login("admin@example.com", PW).await;
    let r =
        w.post("/admin/integrations", &[("name", "Prod AM"), ("kind", "alertmanager"), ("group", "Operations")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let grab = |body: &str, id: &str| {
        body.split(&format!("id=\"{id}\">")).nth(1).unwrap().split('<').next().unwrap().to_string()
    };
    let token = grab(&r.body, "integration-token");
    let address = grab(&r.body, "integration-address");
    assert!(address.ends_with("/api/v1/integrations/alertmanager"), "{address}");
    let alert = json!({"version": "4", "status": "firing", "receiver": "orion", "groupKey": "{}:{alertname=\"DiskFull\"}",
        "groupLabels": {"alertname": "DiskFull"}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
        "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull", "instance": "db1"},
                    "annotations": {"summary": "Disk full on db1"}, "startsAt": "2026-11-18T11:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom", "fingerprint": "f00d"}]});
    let send = |tok: String| t.client.post(&address).bearer_auth(tok).json(&alert).send();
    let r = send(token.clone()).await.unwrap();
    assert!(r.status().is_success(), "the shown token works: {}", r.status());
    let (_, list) = t.get(&admin, "/api/v1/integrations").await;
    assert_eq!(list[0]["assignment_group"], json!("Operations"), "{list}");
    let id = list[0]["id"].as_i64().unwrap();

    // Its page sets how alerts become incidents: a reopen window out of range is refused by its
    // label with the typed text kept; then warnings become P1 and a new severity is added.
    let page = format!("/admin/integrations/{id}");
    let r = w.get(&page).await;
    assert!(r.body.contains("value=\"warning\"") && r.body.contains("Any other"), "{}", r.body);
    let mut form = vec![
        ("name", "Prod AM"),
        ("group", "Operations"),
        ("requester", list[0]["requester"].as_str().unwrap()),
        ("category", ""),
        ("group_window_minutes", "30"),
        ("reopen_hours", "999"),
        ("on_all_resolved", "note"),
        ("sev_name", "critical"),
        ("sev_impact", "1"),
        ("sev_urgency", "1"),
        ("sev_name", "warning"),
        ("sev_impact", "1"),
        ("sev_urgency", "1"),
        ("sev_name", "*"),
        ("sev_impact", "3"),
        ("sev_urgency", "3"),
        ("sev_name", "Disk"),
        ("sev_impact", "2"),
        ("sev_urgency", "1"),
        ("sev_name", ""),
        ("sev_impact", "2"),
        ("sev_urgency", "2"),
    ];
    let r = w.post(&page, &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("A repeat reopens the incident within (hours): must be 0 to 720"), "{}", r.body);
    assert!(r.body.contains("value=\"999\"") && r.body.contains("value=\"disk\""), "typed text kept");
    form[5].1 = "2";
    let r = w.post(&page, &form).await;
    assert_eq!(r.location, format!("{page}?m=integration_saved"), "{}", r.body);
    let (_, list) = t.get(&admin, "/api/v1/integrations").await;
    let set = &list[0]["settings"];
    assert_eq!(
        set,
        &json!({"severity_map": {"critical": [1, 1], "warning": [1, 1], "disk": [2, 1], "*": [3, 3]},
                "group_window_minutes": 30, "reopen_hours": 2, "on_all_resolved": "note", "category": null}),
        "{list}"
    );
    // A warning now opens a P1 incident.
    let warn = json!({"version": "4", "status": "firing", "receiver": "orion", "groupKey": "{}:{alertname=\"Swap\"}",
        "groupLabels": {"alertname": "Swap"}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
        "alerts": [{"status": "firing", "labels": {"alertname": "Swap", "instance": "app7", "severity": "warning"},
                    "annotations": {"summary": "Swapping on app7"}, "startsAt": "2026-11-18T11:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom", "fingerprint": "beef"}]});
    let r = t.client.post(&address).bearer_auth(&token).json(&warn).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let (_, tickets) = t.get(&admin, "/api/v1/tickets?limit=50").await;
    let swap = tickets["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["title"].as_str().unwrap_or("").contains("Swapping on app7"));
    assert_eq!(swap.map(|x| x["priority"].clone()), Some(json!("P1")), "{tickets}");

    // A new token replaces the old; switched off, alerts are refused so the sender keeps them.
    let r = w.post(&format!("/admin/integrations/{id}/token"), &[]).await;
    let fresh = grab(&r.body, "integration-token");
    assert_ne!(fresh, token);
    assert_eq!(send(token).await.unwrap().status(), StatusCode::UNAUTHORIZED, "the old token still works");
    let r = w.post(&format!("/admin/integrations/{id}/switch"), &[("enabled", "off")]).await;
    assert_eq!(r.location, "/admin/integrations?m=integration_saved", "{}", r.body);
    assert_eq!(send(fresh).await.unwrap().status(), StatusCode::FORBIDDEN);
    let (_, list) = t.get(&admin, "/api/v1/integrations").await;
    assert_eq!((list[0]["name"].as_str(), list[0]["enabled"].as_bool()), (Some("Prod AM"), Some(false)), "{list}");
}

async fn admins_set_up_service_levels_in_the_console(engine: Engine) {
    let Some((t, admin, mut w)) = admin_signed_in(engine).await else { return };
    let r = w.get("/admin/sla").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Business hours") && r.body.contains("Mon–Fri"), "{}", r.body);

    // A calendar: an unknown time zone is refused by its label with the typed text kept.
    let r = w.post("/admin/sla", &[("name", "Berlin office"), ("time_zone", "Mars/Olympus")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Time zone:") && r.body.contains("value=\"Mars/Olympus\""), "{}", r.body);
    let r = w.post("/admin/sla", &[("name", "Berlin office"), ("time_zone", "Europe/Berlin")]).await;
    assert_eq!(r.location, "/admin/sla/calendars/Berlin%20office?m=calendar_added", "{}", r.body);
    let cal = "/admin/sla/calendars/Berlin%20office";
    let mut hours = vec![
        ("time_zone", "Europe/Berlin"),
        ("day_0", "nine to five"),
        ("day_1", "08:00-16:00"),
        ("day_2", "08:00-16:00"),
        ("day_3", "08:00-16:00"),
        ("day_4", "08:00-12:00, 13:00-16:00"),
        ("day_5", ""),
        ("day_6", ""),
        ("holidays", "2026-12-07 staff party"),
        ("yearly", ""),
    ];
    let r = w.post(cal, &hours).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Working hours: Monday: write hours as 09:00-17:00"), "{}", r.body);
    assert!(r.body.contains("value=\"nine to five\""), "{}", r.body);
    hours[1].1 = "08:00-16:00";
    let r = w.post(cal, &hours).await;
    assert_eq!(r.location, format!("{cal}?m=calendar_saved"), "{}", r.body);
    // Holidays from an .ics file, as a browser uploads it.
    let ics = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20261225\nRRULE:FREQ=YEARLY\nSUMMARY:Christmas\nEND:VEVENT\nEND:VCALENDAR\n";
    let form = reqwest::multipart::Form::new().part("file", file("holidays.ics", ics.as_bytes()));
    let (s, _, body) = post_files(&t, &w, &format!("{cal}/import"), form).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let (_, cals) = t.get(&admin, "/api/v1/sla/calendars").await;
    let berlin = cals.as_array().unwrap().iter().find(|c| c["name"] == "Berlin office").unwrap().clone();
    assert_eq!(berlin["week"][4], json!([[480, 720], [780, 960]]), "{berlin}");
    assert_eq!(
        (berlin["holidays"].clone(), berlin["yearly_holidays"].clone()),
        (json!(["2026-12-07"]), json!([[12, 25]]))
    );

    // A policy: without a target it is refused by the form's labels, the typed name kept.
    let mut policy = vec![
        ("name", "Berlin incidents"),
        ("position", "5"),
        ("kinds", "incident"),
        ("priorities", "P2"),
        ("department", "Berlin"),
        ("calendar", "Berlin office"),
        ("first_response", ""),
        ("resolution", ""),
        ("pause_on", "user"),
        ("warnings", "80"),
        ("on_priority_change", "retarget"),
        ("rule_count", "1"),
        ("rule_on_0", "breach"),
        ("rule_target_0", "resolution"),
        ("rule_actions_0", "escalate"),
        ("rule_actions_0", "notify_lead"),
        ("active", "on"),
    ];
    let r = w.post("/admin/sla/new-policy", &policy).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Resolve within: a policy needs at least one target"), "{}", r.body);
    assert!(r.body.contains("value=\"Berlin incidents\""), "{}", r.body);
    policy[6].1 = "60";
    policy[7].1 = "240";
    let r = w.post("/admin/sla/new-policy", &policy).await;
    assert_eq!(r.location, "/admin/sla/policies/Berlin%20incidents?m=policy_saved", "{}", r.body);
    let (_, all) = t.get(&admin, "/api/v1/sla/policies").await;
    let p = all.as_array().unwrap().iter().find(|p| p["name"] == "Berlin incidents").unwrap().clone();
    assert_eq!(
        (
            p["calendar"].as_str(),
            p["first_response_minutes"].as_i64(),
            p["pause_on"].clone(),
            p["warnings_percent"].clone()
        ),
        (Some("Berlin office"), Some(60), json!(["user"]), json!([80])),
        "{p}"
    );
    let rules = p["escalation_rules"].as_array().unwrap();
    assert_eq!((rules.len(), &rules[0]["on"], &rules[0]["target"]), (1, &json!("breach"), &json!("resolution")), "{p}");
    let actions = rules[0]["actions"].as_array().unwrap();
    assert!(actions.contains(&json!("escalate")) && actions.contains(&json!("notify_lead")), "{p}");
    let list = w.get("/admin/sla").await.body;
    assert!(
        list.contains("Incidents at P2 from Berlin") && list.contains("First response 1 h, resolution 4 h"),
        "{list}"
    );

    // The what-if: logged on the calendar's holiday at 10:00 Berlin time, due the next working morning.
    let q = "/admin/sla?try=1&kind=incident&priority=P2&category=&department=Berlin&logged_at=2026-12-07T10%3A00";
    let r = w.get(q).await;
    assert!(r.body.contains("Policy <strong>Berlin incidents</strong>"), "{}", r.body);
    assert!(r.body.contains("First response within 1 h of working time: due Tue 2026-12-08 09:00"), "{}", r.body);
    assert!(r.body.contains("Resolution within 4 h of working time: due Tue 2026-12-08 12:00"), "{}", r.body);
    let r = w.get("/admin/sla?try=1&kind=incident&priority=P9").await;
    assert!(r.body.contains("id=\"what-if-error\">Priority:"), "{}", r.body);

    // A real ticket from a Berlin caller runs on it.
    t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    let (s, b) = t
        .post(
            &admin,
            "/api/v1/users",
            json!({"email": "kai@example.com", "name": "Kai", "role": "requester", "department": "Berlin"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, inc) = t
        .post(
            &admin,
            "/api/v1/tickets",
            json!({"kind": "incident", "title": "VPN down", "impact": 2, "urgency": 1, "requester": "kai@example.com"}),
        )
        .await;
    assert_eq!((s, inc["priority"].as_str()), (StatusCode::CREATED, Some("P2")), "{inc}");
    let (_, sla) = t.get(&admin, &format!("/api/v1/tickets/{}/sla", inc["number"].as_str().unwrap())).await;
    assert!(
        sla.as_array().unwrap().iter().all(|c| c["policy"] == "Berlin incidents" && c["calendar"] == "Berlin office"),
        "{sla}"
    );

    // Switched off: listed as such, and new tickets fall to the next policy.
    policy.retain(|(k, _)| *k != "active" && *k != "name");
    let r = w.post("/admin/sla/policies/Berlin%20incidents", &policy).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(w.get("/admin/sla").await.body.contains("Switched off"));
    let (_, active) = t.get(&admin, "/api/v1/sla/policies").await;
    assert!(active.as_array().unwrap().iter().all(|p| p["name"] != "Berlin incidents"), "{active}");
    let (_, all) = t.get(&admin, "/api/v1/sla/policies?all=true").await;
    assert!(all.as_array().unwrap().iter().any(|p| p["name"] == "Berlin incidents" && p["active"] == false), "{all}");
    let r = w.get(q).await;
    assert!(!r.body.contains("Policy <strong>Berlin incidents</strong>"), "{}", r.body);
    // An agent may not open the page.
    t.user(&admin, "sam@example.com", "agent", &[]).await;
    t.app.set_password("sam@example.com", PW.into()).await.unwrap();
    let mut sam = Web::new(&t);
    sam.login("sam@example.com", PW).await;
    assert_eq!(sam.get("/admin/sla").await.status, StatusCode::FORBIDDEN);
}

async fn agents_register_change_and_retire_assets_in_the_console(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Desktop Support", "tier": 2})).await;
    t.user(&admin, "sam@example.com", "agent", &["Desktop Support"]).await;
    t.app.set_password("sam@example.com", PW.into()).await.unwrap();
    let mut sam = Web::new(&t);
    sam.login("sam@example.com", PW).await;
    assert!(sam.get("/agent/assets").await.body.contains("href=\"/agent/assets/new\""));
    // The form offers the details people record for the type.
    let r = sam.get("/agent/assets/new?type=server").await;
    assert!(r.body.contains("IP address: ") && r.body.contains("<option value=\"server\" selected"), "{}", r.body);

    let mut form = vec![
        ("type", "laptop"),
        ("state", "in_stock"),
        ("name", "LT-0042"),
        ("asset_tag", "PC-0042"),
        ("serial", "5CG1234"),
        ("manufacturer", "Lenovo"),
        ("model", "T14"),
        ("support_group", "Desktop Support"),
        ("cost", "12,99x"),
        ("purchase_date", "2026-01-15"),
        ("warranty_end", "2029-01-15"),
        ("attributes", "Memory: 16 GB\nDisk:\n"),
        ("notes", ""),
    ];
    let r = sam.post("/agent/assets/new", &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Cost: ") && r.body.contains("value=\"LT-0042\""), "{}", r.body);
    form[8].1 = "1299.50";
    let r = sam.post("/agent/assets/new", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.location.ends_with("?m=asset_registered"), "{}", r.location);
    let page = r.location.split('?').next().unwrap().to_string();
    let id: i64 = page.rsplit('/').next().unwrap().parse().unwrap();
    let (_, a) = t.get(&admin, &format!("/api/v1/assets/{id}")).await;
    assert_eq!(
        (a["cost_cents"].as_i64(), a["state"].as_str(), a["support_group"].as_str(), a["attributes"].clone()),
        (Some(129_950), Some("in_stock"), Some("Desktop Support"), json!({"Memory": "16 GB"})),
        "{a}"
    );
    // A second asset with the same tag is refused by the field's label.
    form[2].1 = "LT-0043";
    let r = sam.post("/agent/assets/new", &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Asset tag: asset tag &#34;PC-0042&#34; is on another asset"), "{}", r.body);

    // Changed on its own page: a cleared serial is cleared, the change is in the history.
    let edit = sam.get(&format!("{page}/edit")).await;
    assert!(edit.body.contains("value=\"5CG1234\"") && edit.body.contains("Memory: 16 GB"), "{}", edit.body);
    let version = edit.body.split("name=\"version\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let change = |v: &str| {
        vec![
            ("version", v.to_string()),
            ("name", "LT-0042".to_string()),
            ("asset_tag", "PC-0042".to_string()),
            ("serial", String::new()),
            ("manufacturer", "Lenovo".to_string()),
            ("model", "T14 Gen 3".to_string()),
            ("location", "Berlin, 3rd floor".to_string()),
            ("support_group", "Desktop Support".to_string()),
            ("cost", "1299.50".to_string()),
            ("attributes", "Memory: 32 GB".to_string()),
        ]
    };
    let owned = change(&version);
    let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = sam.post(&format!("{page}/edit"), &pairs).await;
    assert_eq!(r.location, format!("{page}?m=asset_saved"), "{}", r.body);
    let (_, a) = t.get(&admin, &format!("/api/v1/assets/{id}")).await;
    assert_eq!(
        (a["serial"].clone(), a["model"].as_str(), a["location"].as_str(), a["attributes"].clone()),
        (json!(null), Some("T14 Gen 3"), Some("Berlin, 3rd floor"), json!({"Memory": "32 GB"})),
        "{a}"
    );
    let shown = sam.get(&page).await.body;
    assert!(shown.contains("Berlin, 3rd floor") && shown.contains("Changed "), "{shown}");
    // The same form sent again from the stale page is refused, not applied over the newer change.
    let r = sam.post(&format!("{page}/edit"), &pairs).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("changed since"), "{}", r.body);

    // Retired from its page.
    let r =
        sam.post(&format!("{page}/move"), &[("action", "state"), ("state", "retired"), ("note", "end of life")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, a) = t.get(&admin, &format!("/api/v1/assets/{id}")).await;
    assert_eq!(a["state"], "retired", "{a}");
    // A requester cannot open the form.
    t.user(&admin, "alice@example.com", "requester", &[]).await;
    t.app.set_password("alice@example.com", PW.into()).await.unwrap();
    let mut alice = Web::new(&t);
    alice.login("alice@example.com", PW).await;
    assert_ne!(alice.get("/agent/assets/new").await.status, StatusCode::OK);
}

async fn admins_set_up_heartbeats_and_inventory_agents_in_the_console(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.app.set_password("admin@example.com", PW.into()).await.unwrap();
    t.post(&admin, "/api/v1/groups", json!({"name": "Operations", "tier": 2})).await;
    let mut w = Web::new(&t);
    w.login("admin@example.com", PW).await;
    let grab = |body: &str, id: &str| {
        body.split(&format!("id=\"{id}\">")).nth(1).unwrap().split('<').next().unwrap().to_string()
    };

    // A heartbeat every hour: without the interval it is refused by the label, the name kept.
    let mut form = vec![
        ("name", "Nightly ERP backup"),
        ("kind", "backup"),
        ("group", "Operations"),
        ("schedule", "every"),
        ("every_minutes", ""),
        ("cron", ""),
        ("timezone", "UTC"),
        ("enabled", "on"),
    ];
    let r = w.post("/admin/heartbeats", &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Expect a run every (minutes): is required"), "{}", r.body);
    assert!(r.body.contains("value=\"Nightly ERP backup\""), "{}", r.body);
    form[4].1 = "60";
    let r = w.post("/admin/heartbeats", &form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ok = grab(&r.body, "heartbeat-ok");
    let ok_url = ok.strip_prefix("curl -fsS -X POST ").unwrap().to_string();
    assert!(ok_url.starts_with(&t.base) && ok_url.ends_with("/ok"), "{ok_url}");
    let r = t.client.post(&ok_url).send().await.unwrap();
    assert!(r.status().is_success(), "the shown address takes a run: {}", r.status());
    let (_, list) = t.get(&admin, "/api/v1/heartbeats").await;
    let hb = list.as_array().unwrap()[0].clone();
    assert_eq!(
        (hb["status"].as_str(), hb["interval_seconds"].as_i64(), hb["assignment_group"].as_str()),
        (Some("ok"), Some(3600), Some("Operations")),
        "{hb}"
    );
    assert!(w.get("/admin/heartbeats").await.body.contains("Last run succeeded"));
    let page = format!("/admin/heartbeats/{}", hb["id"]);

    // Moved to set times in Berlin: a wrong zone is refused by its label; then saved.
    let mut change = vec![
        ("name", "Nightly ERP backup"),
        ("kind", "backup"),
        ("group", "Operations"),
        ("schedule", "at"),
        ("cron", "0 3 * * *"),
        ("timezone", "Berlin"),
        ("enabled", "on"),
    ];
    let r = w.post(&page, &change).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Time zone of those times: unknown time zone"), "{}", r.body);
    change[5].1 = "Europe/Berlin";
    let r = w.post(&page, &change).await;
    assert_eq!(r.location, format!("{page}?m=heartbeat_saved"), "{}", r.body);
    let (_, list) = t.get(&admin, "/api/v1/heartbeats").await;
    assert_eq!((list[0]["cron"].as_str(), list[0]["interval_seconds"].clone()), (Some("0 3 * * *"), json!(null)));
    // A new token: the old address stops working.
    let r = w.post(&format!("{page}/token"), &[]).await;
    let fresh = grab(&r.body, "heartbeat-ok");
    assert_ne!(fresh, ok);
    assert!(!t.client.post(&ok_url).send().await.unwrap().status().is_success(), "the old address still works");

    // An inventory token, with the server address the agent is given.
    let r = w.post("/admin/inventory/tokens", &[("name", "Office PCs")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let server = grab(&r.body, "inventory-server");
    assert!(server.starts_with(&format!("{}/api/v1/inventory?token=", t.base)), "{server}");
    let prolog = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<REQUEST>\n  <DEVICEID>pc-1</DEVICEID>\n  <QUERY>PROLOG</QUERY>\n</REQUEST>\n";
    let send = || t.client.post(&server).header("content-type", "application/xml").body(prolog).send();
    let r = send().await.unwrap();
    assert!(r.status().is_success(), "the shown address takes an agent: {}", r.status());
    // Settings: a baseline line without a minimum is refused by its label; then saved.
    let mut settings = vec![
        ("hours", "12"),
        ("new_state", "in_stock"),
        ("stale_days", "45"),
        ("token_header", "X-Orion-Token"),
        ("token_in_url", "on"),
        ("baselines", "Debian GNU/Linux"),
    ];
    let r = w.post("/admin/inventory", &settings).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Operating-system baselines: line 1"), "{}", r.body);
    settings[5].1 = "Debian GNU/Linux | 12.11 |";
    let r = w.post("/admin/inventory", &settings).await;
    assert_eq!(r.location, "/admin/inventory?m=settings_saved", "{}", r.body);
    let (_, st) = t.get(&admin, "/api/v1/settings/inventory").await;
    assert_eq!(
        (st["prolog_freq_hours"].as_i64(), st["new_asset_state"].as_str(), st["baselines"][0]["min_version"].as_str()),
        (Some(12), Some("in_stock"), Some("12.11")),
        "{st}"
    );
    // Removed: the agent is refused.
    let (_, tokens) = t.get(&admin, "/api/v1/inventory/tokens").await;
    let r = w.post(&format!("/admin/inventory/tokens/{}/remove", tokens[0]["id"]), &[]).await;
    assert_eq!(r.location, "/admin/inventory?m=inventory_token_removed");
    assert!(!send().await.unwrap().status().is_success(), "a removed token still works");
}

/// axe-core, installed by scripts/test (`npm install -g axe-core`).
const AXE: &str = "/usr/lib/node_modules/axe-core/axe.min.js";

/// The serious and critical axe-core violations on the page open in the browser, as lines.
async fn axe_violations(b: &Browser, axe: &str, page: &str) -> Vec<String> {
    let js = format!(
        "{axe}\n;const done = arguments[arguments.length - 1];\n\
         axe.run(document, {{resultTypes: ['violations']}}).then(r => done(r.violations\n\
           .filter(v => v.impact === 'serious' || v.impact === 'critical')\n\
           .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))))\n\
           .catch(e => done(['axe failed: ' + e]));"
    );
    let v = b.script_async(&js).await;
    v.as_array()
        .unwrap_or_else(|| panic!("axe gave no answer on {page}: {v}"))
        .iter()
        .map(|x| format!("{page}: {}", x.as_str().unwrap_or_default()))
        .collect()
}

/// Pages wider than the window scroll sideways: the width they need beyond it, in pixels, and
/// the innermost elements that stick out.
async fn overflow(b: &Browser) -> (i64, String) {
    let px = b.script("return document.documentElement.scrollWidth - document.documentElement.clientWidth").await;
    let culprits = b
        .script(
            "const w = document.documentElement.clientWidth; return Array.from(document.querySelectorAll('body *'))\
             .filter(e => e.getBoundingClientRect().right > w + 1 && !Array.from(e.children).some(c => c.getBoundingClientRect().right > w + 1))\
             .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '')).join(', ')",
        )
        .await;
    (px.as_i64().unwrap(), culprits.as_str().unwrap_or_default().to_string())
}

async fn every_page_passes_axe_and_fits_a_phone(engine: Engine) {
    let Ok(axe) = std::fs::read_to_string(AXE) else {
        assert!(!in_ci(), "axe-core is required under CI=true (scripts/test installs it)");
        eprintln!("\n*** SKIPPED: {AXE} missing; npm install -g axe-core ***\n");
        return;
    };
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    t.post(&admin, "/api/v1/categories", json!({"name": "Network"})).await;
    let sam = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    t.user(&admin, "alice@example.com", "requester", &[]).await;
    for who in ["admin@example.com", "sam@example.com", "alice@example.com"] {
        t.app.set_password(who, PW.into()).await.unwrap();
    }
    let (_, inc) = t
        .post(
            &sam,
            "/api/v1/tickets",
            json!({"kind": "incident", "title": "VPN drops every hour", "description": "Since Monday",
                   "impact": 2, "urgency": 2, "requester": "alice@example.com", "category": "Network"}),
        )
        .await;
    let inc = inc["number"].as_str().unwrap().to_string();
    t.post(
        &sam,
        &format!("/api/v1/tickets/{inc}/comments"),
        json!({"body": "Looking into it", "visibility": "public"}),
    )
    .await;
    let (_, chg) = t.post(&sam, "/api/v1/changes", json!({"title": "Replace the VPN concentrator"})).await;
    let chg = chg["ticket"]["number"].as_str().unwrap().to_string();
    let (_, prb) =
        t.post(&sam, "/api/v1/problems", json!({"title": "VPN tunnels drop", "incidents": [inc.clone()]})).await;
    let prb = prb["ticket"]["number"].as_str().or(prb["number"].as_str()).unwrap().to_string();
    let (_, asset) = t.post(&sam, "/api/v1/assets", json!({"type": "network_device", "name": "vpn-1"})).await;
    let asset = asset["id"].as_i64().unwrap();
    let (_, art) =
        t.post(&sam, "/api/v1/articles", json!({"title": "VPN drops", "body": "Renew the certificate."})).await;
    let art = art["number"].as_str().unwrap().to_string();
    let (_, hb) = t.post(&admin, "/api/v1/heartbeats", json!({"name": "ERP backup", "interval_seconds": 3600})).await;
    let hb = hb["heartbeat"]["id"].as_i64().unwrap();
    let (_, mb) = t
        .post(
            &admin,
            "/api/v1/mail/mailboxes",
            json!({"name": "Desk", "host": "127.0.0.1", "port": 1143, "security": "none", "username": "desk", "secret": "x"}),
        )
        .await;
    let mb = mb["id"].as_i64().unwrap();
    let (_, wh) = t
        .post(
            &admin,
            "/api/v1/webhooks",
            json!({"name": "Chat", "url": "http://127.0.0.1:9/hook", "events": ["ticket.created"]}),
        )
        .await;
    let wh = wh["webhook"]["id"].as_i64().unwrap();
    let (_, int) = t.post(&admin, "/api/v1/integrations", json!({"name": "Prod AM", "kind": "alertmanager"})).await;
    let int = int["integration"]["id"].as_i64().unwrap();
    let (_, users) = t.get(&admin, "/api/v1/users?q=sam").await;
    let sam_id = users["items"][0]["id"].as_i64().unwrap();

    let Some(b) = Browser::start(&t).await else { return };
    // axe itself works: a page with an unlabelled image and field fails.
    b.goto("data:text/html,<html><body><main><img src=x><input></main></body></html>").await;
    let bad = axe_violations(&b, &axe, "a broken page").await;
    assert!(bad.iter().any(|v| v.contains("image-alt")), "axe found nothing on a broken page: {bad:?}");
    let mut found = Vec::new();
    for page in ["/login", "/password/forgot"] {
        b.goto(page).await;
        b.find("main").await;
        found.extend(axe_violations(&b, &axe, page).await);
    }
    b.sign_in("admin@example.com", PW).await;
    let pages = [
        "/agent".to_string(),
        "/agent/new".into(),
        format!("/agent/tickets/{inc}"),
        "/agent/search?q=VPN".into(),
        "/agent/problems".into(),
        format!("/agent/problems/{prb}"),
        "/agent/known-errors".into(),
        "/agent/changes".into(),
        format!("/agent/changes/{chg}"),
        "/agent/change-calendar".into(),
        "/agent/approvals".into(),
        "/agent/assets".into(),
        "/agent/assets/new".into(),
        format!("/agent/assets/{asset}"),
        format!("/agent/assets/{asset}/edit"),
        "/agent/licences".into(),
        "/agent/licences/new".into(),
        "/agent/patch-status".into(),
        "/agent/monitoring".into(),
        "/agent/backups".into(),
        "/agent/notifications".into(),
        "/agent/notifications/settings".into(),
        "/agent/macros".into(),
        "/agent/macros/new".into(),
        "/agent/tags".into(),
        "/agent/reports?by=group".into(),
        "/agent/reports/tickets?metric=created".into(),
        "/agent/reports/schedules?by=tier".into(),
        "/kb".into(),
        format!("/kb/{art}"),
        "/kb/new".into(),
        "/account".into(),
        "/admin/users".into(),
        format!("/admin/users/{sam_id}"),
        "/admin/directory".into(),
        "/admin/sso".into(),
        "/admin/mail".into(),
        "/admin/mail/templates/received".into(),
        "/admin/mailboxes".into(),
        format!("/admin/mailboxes/{mb}"),
        "/admin/webhooks".into(),
        format!("/admin/webhooks/{wh}"),
        "/admin/integrations".into(),
        format!("/admin/integrations/{int}"),
        "/admin/heartbeats".into(),
        format!("/admin/heartbeats/{hb}"),
        "/admin/inventory".into(),
        "/admin/sla?try=1&kind=incident&priority=P2".into(),
        "/admin/sla/new-policy".into(),
        "/admin/sla/calendars/Business%20hours".into(),
        "/admin/changes".into(),
        "/admin/catalog".into(),
        "/admin/groups".into(),
        "/admin/categories".into(),
        "/admin/priority-matrix".into(),
        "/admin/surveys".into(),
        "/admin/tokens".into(),
        "/admin/security".into(),
        "/admin/retention".into(),
        "/admin/routing".into(),
        "/admin/routing/new".into(),
        "/no/such/page".into(),
    ];
    for page in &pages {
        b.goto(page).await;
        b.find("main").await;
        found.extend(axe_violations(&b, &axe, page).await);
    }
    // On a phone: the header, the queue, the monitoring table and a change fit without sideways scrolling.
    b.resize(390, 844).await;
    let mut wide = Vec::new();
    for page in [
        "/agent".to_string(),
        "/agent/monitoring".into(),
        format!("/agent/changes/{chg}"),
        format!("/agent/tickets/{inc}"),
        "/admin/sla".into(),
    ] {
        b.goto(&page).await;
        b.find("main").await;
        let (px, culprits) = overflow(&b).await;
        if px > 0 {
            wide.push(format!("{page}: {px} px too wide ({culprits})"));
        }
        b.shot(&format!("phone{}", page.replace('/', "-"))).await;
    }
    b.resize(1360, 900).await;
    b.sign_out().await;
    b.sign_in("alice@example.com", PW).await;
    for page in [
        "/portal".to_string(),
        "/portal/new".into(),
        "/portal/catalog".into(),
        "/portal/approvals".into(),
        format!("/portal/tickets/{inc}"),
        "/kb".into(),
        "/account".into(),
    ] {
        b.goto(&page).await;
        b.find("main").await;
        found.extend(axe_violations(&b, &axe, &page).await);
    }
    b.resize(390, 844).await;
    for page in ["/portal".to_string(), format!("/portal/tickets/{inc}")] {
        b.goto(&page).await;
        b.find("main").await;
        let (px, culprits) = overflow(&b).await;
        if px > 0 {
            wide.push(format!("{page}: {px} px too wide ({culprits})"));
        }
    }
    assert!(found.is_empty(), "{} serious or critical accessibility violations:\n{}", found.len(), found.join("\n"));
    assert!(wide.is_empty(), "pages that scroll sideways on a 390 px phone:\n{}", wide.join("\n"));
}

/// Sets a form field's value the way a person picks it (selects, radio buttons, checkboxes).
async fn pick(b: &Browser, css: &str, value: &str) {
    b.find(css).await;
    let js = format!(
        "const e = document.querySelector({css:?}); e.value = {value:?}; e.dispatchEvent(new Event('change'));"
    );
    b.script(&js).await;
}

async fn tick(b: &Browser, css: &str) {
    b.find(css).await;
    b.script(&format!("document.querySelector({css:?}).checked = true;")).await;
}

/// Waits until the browser is on a page whose address contains `part`.
async fn wait_url(b: &Browser, part: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let u = b.url().await;
        if u.contains(part) {
            return u;
        }
        assert!(std::time::Instant::now() < deadline, "never reached {part}; on {u}:\n{}", b.source().await);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The walkthrough of a new admin: a mailbox against a real Dovecot, a calendar and an SLA policy,
/// a webhook and an Alertmanager integration, all through the pages — then each is seen working;
/// and an asset registered, changed and linked to a ticket in the browser.
async fn an_admin_sets_up_the_desk_in_the_browser(engine: Engine) {
    use crate::mail_servers::{Dovecot, have};
    use crate::webhooks::{Receiver, check_signature, run_jobs};
    if !have("dovecot", "dovecot-imapd") || !have("openssl", "openssl") {
        return;
    }
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    t.app.set_password("admin@example.com", PW.into()).await.unwrap();
    let (s, b) = t
        .post(
            &admin,
            "/api/v1/users",
            json!({"email": "fay@example.com", "name": "Fay", "role": "requester", "department": "Finance"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let dovecot = Dovecot::start();
    let Some(b) = Browser::start(&t).await else { return };
    b.sign_in("admin@example.com", PW).await;

    // A mailbox on the IMAP server, checked from its page: the waiting message becomes a ticket.
    b.goto("/admin/mailboxes").await;
    b.fill("#m-name", "Desk inbox").await;
    b.fill("#m-host", "127.0.0.1").await;
    b.fill("#m-port", &dovecot.imap.to_string()).await;
    pick(&b, "#m-security", "none").await;
    b.fill("#m-user", "helpdesk").await;
    b.fill("#m-secret", "secret").await;
    b.click("#add-mailbox button[type=submit]").await;
    wait_url(&b, "m=mailbox_added").await;
    dovecot.deliver(
        "helpdesk",
        "INBOX",
        b"From: Fay <fay@example.com>\r\nTo: help@example.com\r\nSubject: Printer on 3rd floor jams\r\n\
          Message-ID: <browser-1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nEvery page jams.\r\n",
    );
    b.click("#poll-now").await;
    b.wait_text("#poll-report", "took 1 new message").await;
    b.shot("admin-mailbox").await;
    // Times show in the reader's zone: the list's "last checked" read in New York is not the UTC text.
    b.time_zone("America/New_York").await;
    b.goto("/admin/mailboxes").await;
    let shown = b
        .script("const t = document.querySelector('#mailboxes time'); return t ? [t.title, t.textContent, t.getAttribute('datetime')] : null")
        .await;
    let (utc, local) = (shown[0].as_str().unwrap_or_default(), shown[1].as_str().unwrap_or_default());
    assert!(utc.ends_with(" UTC") && !local.contains("UTC") && !local.is_empty(), "{shown}");
    let utc_hour: i64 = utc[11..13].parse().unwrap();
    let local_hour = b
        .script("return new Date(document.querySelector('#mailboxes time').getAttribute('datetime')).getHours()")
        .await
        .as_i64()
        .unwrap();
    assert_ne!(utc_hour, local_hour, "New York is not on UTC: {shown}");
    b.time_zone("UTC").await;
    let (_, list) = t.get(&admin, "/api/v1/tickets?limit=50").await;
    assert!(list["items"].as_array().unwrap().iter().any(|x| x["title"] == "Printer on 3rd floor jams"), "{list}");

    // A calendar and a policy for Finance on it.
    b.goto("/admin/sla").await;
    b.fill("#c-name", "Berlin office").await;
    b.fill("#c-zone", "Europe/Berlin").await;
    b.click("#add-calendar button[type=submit]").await;
    wait_url(&b, "m=calendar_added").await;
    for day in 0..5 {
        b.fill(&format!("#day-{day}"), "08:00-16:00").await;
    }
    b.fill("#c-holidays", "2026-12-24").await;
    b.click("#calendar-form button[type=submit]").await;
    wait_url(&b, "m=calendar_saved").await;
    b.goto("/admin/sla/new-policy").await;
    b.fill("#p-name", "Finance").await;
    b.fill("#p-order", "1").await;
    b.fill("#p-department", "Finance").await;
    pick(&b, "#p-calendar", "Berlin office").await;
    b.fill("#p-first", "30").await;
    b.fill("#p-resolve", "120").await;
    b.click("#policy-form button[type=submit]").await;
    wait_url(&b, "m=policy_saved").await;
    b.goto("/admin/sla?try=1&kind=incident&priority=P3&department=Finance&logged_at=2026-12-24T10:00").await;
    let answer = b.text("#what-if-answer").await;
    assert!(answer.contains("Policy Finance") && answer.contains("due Fri 2026-12-25 08:30"), "{answer}");
    b.shot("admin-sla").await;

    // A webhook for new tickets, and an Alertmanager integration.
    let (rx, hooks) = Receiver::start().await;
    b.goto("/admin/webhooks").await;
    b.fill("#w-name", "Chat").await;
    b.fill("#w-url", &format!("{hooks}/hook")).await;
    tick(&b, "input[name=events][value='ticket.created']").await;
    b.click("#add-webhook button[type=submit]").await;
    let secret = b.text("#webhook-secret").await;
    b.goto("/admin/integrations").await;
    b.fill("#i-name", "Prod AM").await;
    pick(&b, "#i-kind", "alertmanager").await;
    b.click("#add-integration button[type=submit]").await;
    let token = b.text("#integration-token").await;
    let address = b.text("#integration-address").await;

    // Each works: a ticket from a Finance caller runs on the policy and is announced, signed;
    // an alert opens an incident.
    let (s, inc) = t
        .post(
            &admin,
            "/api/v1/tickets",
            json!({"kind": "incident", "title": "Payroll export fails", "requester": "fay@example.com"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let inc = inc["number"].as_str().unwrap().to_string();
    let (_, sla) = t.get(&admin, &format!("/api/v1/tickets/{inc}/sla")).await;
    assert!(
        sla.as_array().unwrap().iter().all(|c| c["policy"] == "Finance" && c["calendar"] == "Berlin office"),
        "{sla}"
    );
    run_jobs(&t).await;
    let got = rx.take();
    let created = got.iter().find(|g| g.event == "ticket.created").expect("ticket.created delivered");
    check_signature(created, &secret);
    b.goto("/admin/webhooks").await;
    b.click("#webhooks a").await;
    b.wait_text("main", "Deliveries").await;
    b.shot("admin-webhook").await;
    let alert = json!({"version": "4", "status": "firing", "receiver": "orion", "groupKey": "{}:{alertname=\"DiskFull\"}",
        "groupLabels": {"alertname": "DiskFull"}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
        "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull", "instance": "db1"},
                    "annotations": {"summary": "Disk full on db1"}, "startsAt": "2026-11-18T11:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom", "fingerprint": "f00d"}]});
    let r = t.client.post(&address).bearer_auth(&token).json(&alert).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let (_, list) = t.get(&admin, "/api/v1/tickets?limit=50").await;
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["title"].as_str().unwrap_or("").contains("Disk full on db1")),
        "{list}"
    );

    // An asset registered, changed and linked to the ticket, in the browser.
    b.goto("/agent/assets/new").await;
    pick(&b, "#a-type", "laptop").await;
    b.fill("#a-name", "LT-0042").await;
    b.fill("#a-tag", "PC-0042").await;
    b.click("#asset-form button[type=submit]").await;
    wait_url(&b, "m=asset_registered").await;
    b.click("#edit-asset").await;
    b.fill("#a-location", "Berlin, 3rd floor").await;
    b.click("#asset-form button[type=submit]").await;
    wait_url(&b, "m=asset_saved").await;
    assert!(b.source().await.contains("Berlin, 3rd floor"));
    b.goto(&format!("/agent/tickets/{inc}")).await;
    b.fill("#link-asset", "PC-0042").await;
    b.click("#assets-panel form.row button[type=submit]").await;
    b.wait_text("#assets-panel", "LT-0042").await;
    let (_, linked) = t.get(&admin, &format!("/api/v1/tickets/{inc}/assets")).await;
    assert!(linked.to_string().contains("PC-0042"), "{linked}");

    // Retention: old entries removed from the page, the last run shown.
    b.goto("/admin/retention").await;
    b.click("#purge-now button").await;
    wait_url(&b, "m=purged").await;
    b.wait_text("#last-run", "started by hand").await;
    b.shot("admin-retention").await;
}

async fn admins_set_up_mail_and_test_the_relay_in_the_console(engine: Engine) {
    let Some((t, admin, mut w)) = admin_signed_in(engine).await else { return };
    let r = w.get("/admin/mail").await;
    assert!(r.body.contains("Orion sends no mail yet"), "{}", r.body);
    // Without a sender the test says what to set, by the label.
    let r = w.post("/admin/mail/test", &[("to", "ops@example.com")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Mail comes from: set a sender address"), "{}", r.body);

    let mut form = vec![
        ("addresses", "help@example.com\nnot an address"),
        ("from_address", ""),
        ("from_name", "Example IT"),
        ("portal_url", "https://help.example.com"),
        ("notify", "received"),
        ("notify", "resolved"),
        ("unknown_senders", "quarantine"),
        ("non_participant_replies", "internal_note"),
        ("max_mb", "10"),
        ("auto_limit", "5"),
    ];
    let r = w.post("/admin/mail", &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Helpdesk addresses: "), "{}", r.body);
    assert!(r.body.contains("not an address") && r.body.contains("value=\"Example IT\""), "{}", r.body);
    form[0].1 = "help@example.com";
    let r = w.post("/admin/mail", &form).await;
    assert_eq!(r.location, "/admin/mail?m=settings_saved", "{}", r.body);
    let (_, m) = t.get(&admin, "/api/v1/settings/mail").await;
    assert_eq!(
        (m["addresses"].clone(), m["notify"].clone(), m["unknown_senders"].as_str(), m["max_message_bytes"].as_i64()),
        (json!(["help@example.com"]), json!(["received", "resolved"]), Some("quarantine"), Some(10 * 1024 * 1024)),
        "{m}"
    );
    let r = w.get("/admin/mail").await;
    assert!(r.body.contains("Orion sends its mail as <strong>help@example.com</strong>"), "{}", r.body);
    // The admins' banner about password reset is gone now that mail is set up.
    assert!(!r.body.contains("Password reset by e-mail is off"), "{}", r.body);
    // This node has no relay: the test says so instead of queueing anything.
    let r = w.post("/admin/mail/test", &[("to", "ops@example.com")]).await;
    assert!(r.body.contains("id=\"relay-report\">No SMTP relay is configured on this node"), "{}", r.body);
    let (_, out) = t.get(&admin, "/api/v1/mail/outbound").await;
    assert_eq!(out["items"], json!([]), "a test is not queued");
    let (s, b) = t.post(&admin, "/api/v1/mail/test", json!({"to": "nobody"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b["error"]["fields"]["to"].is_string(), "{b}");
}

/// Posts a multipart form as the browser of `w` does.
async fn post_files(t: &TestApp, w: &Web, path: &str, form: reqwest::multipart::Form) -> (StatusCode, String, String) {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = http
        .post(format!("{}{path}", t.base))
        .header("cookie", format!("orion_session={}", w.cookie.clone().unwrap()))
        .header("sec-fetch-site", "same-origin")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

fn file(name: &str, bytes: &[u8]) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name(name.to_string())
        .mime_str("application/octet-stream")
        .unwrap()
}

async fn agents_attach_files_to_replies_and_notes(engine: Engine) {
    use base64::Engine as _;
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    let sam = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    let alice = t.user(&admin, "alice@example.com", "requester", &[]).await;
    for who in ["sam@example.com", "alice@example.com"] {
        t.app.set_password(who, PW.into()).await.unwrap();
    }
    let (_, inc) = t.post(&alice, "/api/v1/tickets", json!({"title": "Printer prints blank pages"})).await;
    let n = inc["number"].as_str().unwrap().to_string();
    let mut w = Web::new(&t);
    w.login("sam@example.com", PW).await;
    let page = w.get(&format!("/agent/tickets/{n}")).await.body;
    assert!(page.contains("id=\"reply-files\"") && page.contains("enctype=\"multipart/form-data\""), "{page}");

    // A public reply with a file, and a work note that is only a file.
    let form = reqwest::multipart::Form::new()
        .text("body", "Please try this driver")
        .part("files", file("driver-setup.txt", b"driver 4.2"));
    let (s, loc, body) = post_files(&t, &w, &format!("/agent/tickets/{n}/reply"), form).await;
    assert_eq!((s, loc.as_str()), (StatusCode::SEE_OTHER, format!("/agent/tickets/{n}?m=replied").as_str()), "{body}");
    let form = reqwest::multipart::Form::new()
        .text("body", "")
        .part("files", file("spooler.log", b"spooler crashed at 10:02"));
    let (s, _, body) = post_files(&t, &w, &format!("/agent/tickets/{n}/note"), form).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    // Too large: refused with the reason, nothing written.
    let big = vec![b'x'; 10 * 1024 * 1024 + 1];
    let form = reqwest::multipart::Form::new().text("body", "huge").part("files", file("dump.bin", &big));
    let (s, _, body) = post_files(&t, &w, &format!("/agent/tickets/{n}/note"), form).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("dump.bin is larger than 10 MiB"), "{body}");

    // Over the API, in base64; bad base64 is named by its field.
    let (s, b) = t
        .post(&sam, &format!("/api/v1/tickets/{n}/comments"),
              json!({"body": "Trace attached", "visibility": "internal",
                     "attachments": [{"filename": "trace.txt", "content_type": "text/plain", "data_base64": "not base64!"}]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b["error"]["fields"]["attachments[0].data_base64"].is_string(), "{b}");
    let data = base64::engine::general_purpose::STANDARD.encode(b"trace line");
    let (s, b) = t
        .post(
            &sam,
            &format!("/api/v1/tickets/{n}/comments"),
            json!({"body": "Trace attached", "visibility": "internal",
                     "attachments": [{"filename": "trace.txt", "content_type": "text/plain", "data_base64": data}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let trace_id = b["data"]["attachments"][0]["id"].as_i64().unwrap();

    // Staff see every file; the requester only the public reply's, and a note's file is not theirs to fetch.
    let (_, timeline) = t.get(&sam, &format!("/api/v1/tickets/{n}/timeline?limit=50")).await;
    let names: Vec<String> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["data"]["attachments"].as_array().cloned().unwrap_or_default())
        .map(|a| a["filename"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 3, "{timeline}");
    for f in ["driver-setup.txt", "spooler.log", "trace.txt"] {
        assert!(names.contains(&f.to_string()), "{f} in {names:?}");
    }
    assert!(timeline.to_string().contains("Attached: spooler.log"), "a note of only a file names it");
    let mut a = Web::new(&t);
    a.login("alice@example.com", PW).await;
    let portal = a.get(&format!("/portal/tickets/{n}")).await.body;
    assert!(
        portal.contains("driver-setup.txt") && !portal.contains("spooler.log") && !portal.contains("trace.txt"),
        "{portal}"
    );
    let driver = portal.split("/attachments/").nth(1).unwrap().split('"').next().unwrap().to_string();
    let r = a.get(&format!("/attachments/{driver}")).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "driver 4.2"));
    assert_eq!(a.get(&format!("/attachments/{trace_id}")).await.status, StatusCode::NOT_FOUND);
}

async fn agents_record_licences_and_give_seats_in_the_console(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    let sam = t.user(&admin, "sam@example.com", "agent", &[]).await;
    t.app.set_password("sam@example.com", PW.into()).await.unwrap();
    for tag in ["PC-1", "PC-2", "PC-3"] {
        let (s, b) = t.post(&sam, "/api/v1/assets", json!({"type": "desktop", "name": tag, "asset_tag": tag})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let mut w = Web::new(&t);
    w.login("sam@example.com", PW).await;
    assert!(w.get("/agent/licences").await.body.contains("href=\"/agent/licences/new\""));
    let mut form = vec![
        ("product", "Visio Professional"),
        ("vendor", "Microsoft"),
        ("type", "per_device"),
        ("seats", "two"),
        ("software_match", "Microsoft Visio%"),
        ("purchase_date", "2026-01-10"),
        ("expires_on", ""),
        ("cost", "1200.00"),
        ("reference", "PO-4711"),
        ("notes", ""),
    ];
    let r = w.post("/agent/licences/new", &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Seats: ") && r.body.contains("value=\"Visio Professional\""), "{}", r.body);
    form[3].1 = "2";
    let r = w.post("/agent/licences/new", &form).await;
    assert!(r.location.ends_with("?m=licence_recorded"), "{} {}", r.location, r.body);
    let page = r.location.split('?').next().unwrap().to_string();
    let id = page.rsplit('/').next().unwrap().to_string();
    let (_, l) = t.get(&sam, &format!("/api/v1/licences/{id}")).await;
    assert_eq!(
        (l["seats"].as_i64(), l["cost_cents"].as_i64(), l["expires_on"].clone(), l["reference"].as_str()),
        (Some(2), Some(120_000), json!(null), Some("PO-4711")),
        "{l}"
    );

    // Seats to devices by tag; an unknown tag and a third seat are refused with the reason.
    for tag in ["PC-1", "PC-2"] {
        let r = w.post(&format!("{page}/assign"), &[("to", tag)]).await;
        assert_eq!(r.location, format!("{page}?m=seat_given"), "{}", r.body);
    }
    let r = w.post(&format!("{page}/assign"), &[("to", "PC-3")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("all 2 seats of Visio Professional are assigned") && r.body.contains("value=\"PC-3\""),
        "{}",
        r.body
    );
    let shown = w.get(&page).await.body;
    assert!(shown.contains("2 of 2 seats given") && shown.contains(">PC-1</a>"), "{shown}");
    // One taken back frees a seat for the third device.
    let (_, seats) = t.get(&sam, &format!("/api/v1/licences/{id}/assignments")).await;
    let first = seats[0]["id"].as_i64().unwrap();
    let r = w.post(&format!("{page}/assignments/{first}/remove"), &[]).await;
    assert_eq!(r.location, format!("{page}?m=seat_taken_back"));
    let r = w.post(&format!("{page}/assign"), &[("to", "PC-3")]).await;
    assert_eq!(r.location, format!("{page}?m=seat_given"), "{}", r.body);
    let r = w.post(&format!("{page}/assign"), &[("to", "PC-404")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    // Changed (now expiring), then removed.
    form[6].1 = "2027-01-10";
    let r = w.post(&page, &form).await;
    assert_eq!(r.location, format!("{page}?m=licence_saved"), "{}", r.body);
    let (_, l) = t.get(&sam, &format!("/api/v1/licences/{id}")).await;
    assert_eq!(l["expires_on"], "2027-01-10", "{l}");
    let r = w.post(&format!("{page}/remove"), &[]).await;
    assert_eq!(r.location, "/agent/licences?m=licence_removed", "{}", r.body);
    let (s, _) = t.get(&sam, &format!("/api/v1/licences/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn admins_set_up_change_templates_freezes_and_detection_in_the_console(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.app.set_password("admin@example.com", PW.into()).await.unwrap();
    t.post(&admin, "/api/v1/groups", json!({"name": "Server Team", "tier": 3})).await;
    let mut w = Web::new(&t);
    w.login("admin@example.com", PW).await;
    let r = w.get("/admin/changes").await;
    assert!(r.body.contains("No standard-change template yet") && r.body.contains("No freeze."), "{}", r.body);

    // A standard-change template: without a back-out plan it is refused by the label.
    let mut tpl = vec![
        ("name", "Monthly patching"),
        ("title", "Apply the monthly Windows updates"),
        ("risk", "low"),
        ("implementer_group", "Server Team"),
        ("description", ""),
        ("implementation_plan", "WSUS approve, reboot in the window"),
        ("backout_plan", ""),
        ("test_plan", "Check the services come back"),
    ];
    let r = w.post("/admin/changes/templates", &tpl).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"template-error\">How it is undone: "), "{}", r.body);
    assert!(r.body.contains("value=\"Monthly patching\""), "{}", r.body);
    tpl[6].1 = "Uninstall the update";
    let r = w.post("/admin/changes/templates", &tpl).await;
    assert_eq!(r.location, "/admin/changes?m=template_added", "{}", r.body);
    let (_, list) = t.get(&admin, "/api/v1/change-templates").await;
    assert_eq!((list[0]["implementer_group"].as_str(), list[0]["active"].as_bool()), (Some("Server Team"), Some(true)));
    let r = w.post("/admin/changes/templates/Monthly%20patching/active", &[("active", "off")]).await;
    assert_eq!(r.location, "/admin/changes?m=template_saved", "{}", r.body);
    let (_, list) = t.get(&admin, "/api/v1/change-templates").await;
    assert_eq!(list[0]["active"], false, "{list}");

    // A freeze: ending before it starts is refused by the label; then added and removed.
    let mut freeze = vec![
        ("name", "Year-end"),
        ("reason", "Closing"),
        ("starts_at", "2026-12-20T18:00"),
        ("ends_at", "2026-12-19T08:00"),
    ];
    let r = w.post("/admin/changes/freezes", &freeze).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Until: must be after the start"), "{}", r.body);
    freeze[3].1 = "2027-01-04T08:00";
    let r = w.post("/admin/changes/freezes", &freeze).await;
    assert_eq!(r.location, "/admin/changes?m=freeze_added", "{}", r.body);
    let (_, fz) = t.get(&admin, "/api/v1/freeze-periods").await;
    assert_eq!(fz[0]["starts_at"].as_str().map(|s| &s[..16]), Some("2026-12-20T18:00"), "{fz}");
    assert!(w.get("/admin/changes").await.body.contains("2026-12-20 18:00 UTC"));
    let r = w.post(&format!("/admin/changes/freezes/{}/remove", fz[0]["id"]), &[]).await;
    assert_eq!(r.location, "/admin/changes?m=freeze_removed");
    assert_eq!(t.get(&admin, "/api/v1/freeze-periods").await.1, json!([]));

    // The detector: a similarity out of range is refused by its label; then saved.
    let mut det = vec![
        ("enabled", "on"),
        ("every_minutes", "30"),
        ("window_days", "14"),
        ("ci_count", "4"),
        ("ci_days", "7"),
        ("similar_count", "5"),
        ("similarity", "2"),
    ];
    let r = w.post("/admin/changes/detection", &det).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Alike from a similarity of: "), "{}", r.body);
    det[6].1 = "0,7";
    let r = w.post("/admin/changes/detection", &det).await;
    assert_eq!(r.location, "/admin/changes?m=settings_saved", "{}", r.body);
    let (_, d) = t.get(&admin, "/api/v1/settings/problem-detection").await;
    assert_eq!(
        (d["every_minutes"].as_i64(), d["ci_count"].as_i64(), d["similarity"].as_f64()),
        (Some(30), Some(4), Some(0.7))
    );
}

async fn admins_edit_mail_templates_with_a_preview(engine: Engine) {
    let Some(t) = TestApp::spawn(engine).await else { return };
    let admin = t.bootstrap_admin("admin@example.com").await;
    t.app.set_password("admin@example.com", PW.into()).await.unwrap();
    t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    let alice = t.user(&admin, "alice@example.com", "requester", &[]).await;
    t.put(&admin, "/api/v1/settings/mail", json!({"addresses": ["help@example.com"]})).await;
    let mut w = Web::new(&t);
    w.login("admin@example.com", PW).await;
    let r = w.get("/admin/mail").await;
    assert!(r.body.contains("href=\"/admin/mail/templates/received\">Ticket received</a>"), "{}", r.body);
    let page = "/admin/mail/templates/received";
    assert!(w.get(page).await.body.contains("Subject: "));

    // A broken template is refused with its line, the typed text kept; nothing is saved.
    let broken = "Subject: Got it {{ ticket.number\n\nHello";
    let r = w.post(page, &[("source", broken), ("do", "preview")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Template: the template, line 3: syntax error"), "{}", r.body);
    assert!(r.body.contains("Got it {{ ticket.number"), "{}", r.body);
    let r = w.post(page, &[("source", "Hello without a subject"), ("do", "save")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("the first line must be"), "{}", r.body);
    // The preview fills in sample data; saving keeps it for every mail of that kind.
    let good = "Subject: Got it: {{ ticket.title }}\n\nHello {{ requester.name }}, we have {{ ticket.number }}.";
    let r = w.post(page, &[("source", good), ("do", "preview")]).await;
    assert!(r.body.contains("id=\"preview-subject\">Got it: Printer on floor 3 prints blank pages<"), "{}", r.body);
    assert!(r.body.contains("Hello Anna Berg, we have INC0000001."), "{}", r.body);
    let r = w.post(page, &[("source", good), ("do", "save")]).await;
    assert_eq!(r.location, format!("{page}?m=template_saved_mail"), "{}", r.body);
    let (_, list) = t.get(&admin, "/api/v1/settings/mail-templates").await;
    let received = list.as_array().unwrap().iter().find(|x| x["name"] == "received").unwrap().clone();
    assert_eq!(received["edited"], true, "{received}");

    // The next ticket's mail says it.
    let (_, inc) = t.post(&alice, "/api/v1/tickets", json!({"title": "Laptop will not start"})).await;
    crate::webhooks::run_jobs(&t).await;
    let (_, out) = t.get(&admin, "/api/v1/mail/outbound").await;
    let subject = out["items"][0]["subject"].as_str().unwrap_or_default().to_string();
    assert_eq!(subject, format!("[{}] Got it: Laptop will not start", inc["number"].as_str().unwrap()), "{out}");

    // Back to the standard text.
    let r = w.post(&format!("{page}/reset"), &[]).await;
    assert_eq!(r.location, format!("{page}?m=template_reset_mail"));
    let (_, list) = t.get(&admin, "/api/v1/settings/mail-templates").await;
    let received = list.as_array().unwrap().iter().find(|x| x["name"] == "received").unwrap().clone();
    assert_eq!(received["edited"], false, "{received}");
    assert!(!received["source"].as_str().unwrap().contains("Got it"), "{received}");
    let (s, _) = t.put(&admin, "/api/v1/settings/mail-templates/nosuch", json!({"source": good})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// Retention: the limits are set on their page (refused by the log's label, the typed text
/// kept), the change lands in the security log, and removing old entries now takes exactly the
/// entries older than each limit — heartbeat runs and sign-ins made through the real paths.
async fn admins_choose_how_long_logs_are_kept(engine: Engine) {
    let Some((t, admin, mut w)) = admin_signed_in(engine).await else { return };
    let r = w.get("/admin/retention").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Nothing removed yet.") && r.body.contains("id=\"d-heartbeat_runs\""), "{}", r.body);
    assert!(
        r.body.contains("name=\"security_log\" type=\"number\" min=\"0\" max=\"3650\" value=\"365\""),
        "{}",
        r.body
    );

    let mut form = vec![
        ("webhook_deliveries", "30"),
        ("heartbeat_runs", "10"),
        ("resolved_alerts", "180"),
        ("rejected_mail", "90"),
        ("sent_mail", ""),
        ("directory_runs", "180"),
        ("security_log", "7"),
        ("notifications", "90"),
        ("failed_jobs", "30"),
    ];
    let r = w.post("/admin/retention", &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Security log: must be kept at least 30 days"), "{}", r.body);
    assert!(
        r.body.contains("name=\"security_log\" type=\"number\" min=\"0\" max=\"3650\" value=\"7\""),
        "typed text kept"
    );
    form[6].1 = "45";
    let r = w.post("/admin/retention", &form).await;
    assert_eq!(r.location, "/admin/retention?m=retention_saved", "{}", r.body);
    let (_, s) = t.get(&admin, "/api/v1/settings/retention").await;
    assert_eq!(
        (s["heartbeat_runs"].as_i64(), s["sent_mail"].as_i64(), s["security_log"].as_i64()),
        (Some(10), Some(0), Some(45))
    );
    let (_, log) = t.get(&admin, "/api/v1/security/log").await;
    let changed = log["items"].as_array().unwrap().iter().find(|e| e["kind"] == "retention_changed").cloned();
    assert!(changed.is_some_and(|e| e["detail"].as_str().unwrap().contains("heartbeat_runs 30 → 10 days")), "{log}");
    assert!(w.get("/admin/security").await.body.contains("How long logs are kept changed"));

    // A heartbeat run and sign-ins now; 50 days later another run and a sign-in.
    t.post(&admin, "/api/v1/groups", json!({"name": "Operations", "tier": 2})).await;
    let (st, hb) = t
        .post(
            &admin,
            "/api/v1/heartbeats",
            json!({"name": "Nightly backup", "assignment_group": "Operations", "interval_seconds": 86400}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{hb}");
    let ok_url = format!("{}{}", t.base, hb["ok_url"].as_str().unwrap());
    assert!(t.client.post(&ok_url).body("first").send().await.unwrap().status().is_success());
    t.clock.advance_minutes(50 * 24 * 60);
    assert!(t.client.post(&ok_url).body("second").send().await.unwrap().status().is_success());
    let mut w = Web::new(&t);
    w.login("admin@example.com", PW).await;
    let (_, before) = t.get(&admin, "/api/v1/security/log?limit=200").await;
    let old_events = before["items"].as_array().unwrap().len() - 1;
    assert!(old_events >= 2, "{before}");

    let r = w.post("/admin/retention/purge", &[]).await;
    assert_eq!(r.location, "/admin/retention?m=purged", "{}", r.body);
    let runs = t.get(&admin, &format!("/api/v1/heartbeats/{}/runs", hb["heartbeat"]["id"])).await.1;
    let logs: Vec<_> =
        runs["items"].as_array().unwrap().iter().map(|r| r["log"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(logs, ["second"], "{runs}");
    let (_, after) = t.get(&admin, "/api/v1/security/log?limit=200").await;
    let kinds: Vec<_> =
        after["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, ["sign_in"], "only the sign-in of today stays: {after}");
    let (_, status) = t.get(&admin, "/api/v1/retention").await;
    let removed = |key: &str| {
        status["last_run"]["logs"].as_array().unwrap().iter().find(|l| l["log"] == key).unwrap()["entries"].as_u64()
    };
    assert_eq!((removed("heartbeat_runs"), removed("security_log")), (Some(1), Some(old_events as u64)), "{status}");
    assert_eq!(status["last_run"]["started_by"], "manual");
    let page = w.get("/admin/retention?m=purged").await.body;
    assert!(page.contains("Old entries removed") && page.contains("(started by hand)"), "{page}");
    let row = page.split("id=\"log-heartbeat_runs\"").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(row.contains("1 entry removed"), "{row}");
    let row = page.split("id=\"log-sent_mail\"").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(row.contains("Kept for good") && row.contains("value=\"\""), "{row}");

    // The API: agents are refused; a bad value names its field.
    let agent = t.user(&admin, "agent@example.com", "agent", &[]).await;
    assert_eq!(t.get(&agent, "/api/v1/retention").await.0, StatusCode::FORBIDDEN);
    assert_eq!(t.post(&agent, "/api/v1/retention/purge", json!({})).await.0, StatusCode::FORBIDDEN);
    let (st, body) = t.put(&admin, "/api/v1/settings/retention", json!({"failed_jobs": 9000})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("failed_jobs"), "{body}");
    let (st, body) = t.put(&admin, "/api/v1/settings/retention", json!({"tickets": 5})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}
