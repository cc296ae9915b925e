//! Monitoring alerts to incidents and heartbeats, over HTTP, on SQLite and PostgreSQL; and the real
//! Prometheus Alertmanager from Debian sending to the test server.

use orion_testkit::{Engine, TestApp, engine_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};

engine_tests!(
    alertmanager_alerts_dedupe_group_resolve_and_reopen,
    storms_windows_and_other_sources,
    heartbeats_open_incidents_for_failures_and_missed_runs,
    real_alertmanager_fires_repeats_groups_and_resolves,
);

struct Ops {
    t: TestApp,
    admin: String,
    agent: String,
}

async fn ops(engine: Engine) -> Option<Ops> {
    let t = TestApp::spawn(engine).await?;
    let admin = t.bootstrap_admin("admin@example.com").await;
    for (name, tier) in [("Service Desk", 1), ("Infrastructure", 2)] {
        let (s, b) = t.post(&admin, "/api/v1/groups", json!({"name": name, "tier": tier})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let agent = t.user(&admin, "ops@example.com", "agent", &["Infrastructure"]).await;
    Some(Ops { t, admin, agent })
}

async fn integration(o: &Ops, name: &str, kind: &str, settings: Option<Value>) -> String {
    let mut body = json!({"name": name, "kind": kind, "assignment_group": "Infrastructure"});
    if let Some(s) = settings {
        body["settings"] = s;
    }
    let (s, b) = o.t.post(&o.admin, "/api/v1/integrations", body).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["integration"]["endpoint"], format!("/api/v1/integrations/{kind}"));
    b["token"].as_str().unwrap().to_string()
}

/// Posts a payload as a monitoring system would: bearer token, raw JSON.
async fn send(t: &TestApp, kind: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    let resp = t
        .client
        .post(format!("{}/api/v1/integrations/{kind}", t.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let s = resp.status();
    (s, resp.json().await.unwrap_or(Value::Null))
}

fn am_alert(name: &str, instance: &str, status: &str, severity: &str) -> Value {
    json!({
        "status": status,
        "labels": {"alertname": name, "instance": instance, "job": "node", "severity": severity},
        "annotations": {"summary": format!("{name} on {instance}"), "description": "details here"},
        "startsAt": "2026-11-22T13:09:53.793628464Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph",
        "fingerprint": format!("{name}-{instance}"),
    })
}

fn am_payload(group: &str, alerts: Vec<Value>) -> Value {
    json!({"receiver": "orion", "status": "firing", "alerts": alerts, "groupLabels": {}, "commonLabels": {},
           "commonAnnotations": {}, "externalURL": "http://am", "version": "4",
           "groupKey": format!("{{}}:{{alertname=\"{group}\"}}"), "truncatedAlerts": 0})
}

fn actions(b: &Value) -> Vec<String> {
    b["alerts"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap().to_string()).collect()
}

async fn ticket(o: &Ops, number: &str) -> Value {
    let (s, b) = o.t.get(&o.agent, &format!("/api/v1/tickets/{number}")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

async fn alerts_of(o: &Ops, number: &str) -> Vec<Value> {
    let (s, b) = o.t.get(&o.agent, &format!("/api/v1/tickets/{number}/alerts")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b.as_array().unwrap().clone()
}

async fn alertmanager_alerts_dedupe_group_resolve_and_reopen(engine: Engine) {
    let Some(o) = ops(engine).await else { return };
    let token = integration(&o, "Prometheus prod", "alertmanager", None).await;

    // Authentication and validation.
    let p = am_payload("DiskFull", vec![am_alert("DiskFull", "web1:9100", "firing", "critical")]);
    assert_eq!(send(&o.t, "alertmanager", "orion_mon_wrong", &p).await.0, StatusCode::UNAUTHORIZED);
    let (s, b) = send(&o.t, "alertmanager", &token, &json!({"version": "4", "alerts": [{"status": "odd"}]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b["error"]["fields"]["alerts[0].status"].is_string(), "{b}");
    let (s, b) = send(&o.t, "zabbix", &token, &p).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["error"]["fields"]["token"].as_str().unwrap().contains("alertmanager"));

    // First firing opens an incident for the owning group, priority from severity.
    let (s, b) = send(&o.t, "alertmanager", &token, &p).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(actions(&b), ["opened"]);
    let inc = b["alerts"][0]["incident"].as_str().unwrap().to_string();
    let t = ticket(&o, &inc).await;
    assert_eq!(t["channel"], "monitoring");
    assert_eq!(t["assignment_group"], "Infrastructure", "{t}");
    assert_eq!(t["priority"], "P1", "critical maps to impact 1, urgency 1: {t}");
    assert_eq!(t["title"], "DiskFull on web1:9100");
    assert!(t["description"].as_str().unwrap().contains("CI / host: web1"));

    // Repeats and retries (the same payload again, also via ?token=) change nothing.
    for _ in 0..3 {
        let (s, b) = send(&o.t, "alertmanager", &token, &p).await;
        assert_eq!((s, actions(&b)), (StatusCode::OK, vec!["deduplicated".to_string()]));
    }
    let resp =
        o.t.client
            .post(format!("{}/api/v1/integrations/alertmanager?token={token}", o.t.base))
            .header("content-type", "application/json")
            .body(p.to_string())
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let a = alerts_of(&o, &inc).await;
    assert_eq!(a.len(), 1);
    assert_eq!((a[0]["received"].as_i64(), a[0]["fired"].as_i64()), (Some(5), Some(1)));

    // A second alert of the same group joins the incident, in one payload with the first.
    let p2 = am_payload(
        "DiskFull",
        vec![
            am_alert("DiskFull", "web1:9100", "firing", "critical"),
            am_alert("DiskFull", "web2:9100", "firing", "warning"),
        ],
    );
    let (_, b) = send(&o.t, "alertmanager", &token, &p2).await;
    assert_eq!(actions(&b), ["deduplicated", "joined"]);
    assert_eq!(b["alerts"][1]["incident"], inc.as_str());

    // One alert resolves: a note, the incident stays open.
    let p3 = am_payload("DiskFull", vec![am_alert("DiskFull", "web2:9100", "resolved", "warning")]);
    let (_, b) = send(&o.t, "alertmanager", &token, &p3).await;
    assert_eq!(actions(&b), ["resolved"]);
    assert_eq!(ticket(&o, &inc).await["state"], "new");
    // The repeat of the resolution is idempotent.
    let (_, b) = send(&o.t, "alertmanager", &token, &p3).await;
    assert_eq!(actions(&b), ["deduplicated"]);

    // The last alert resolves: the incident is resolved automatically.
    let p4 = am_payload("DiskFull", vec![am_alert("DiskFull", "web1:9100", "resolved", "critical")]);
    let (_, b) = send(&o.t, "alertmanager", &token, &p4).await;
    assert_eq!(actions(&b), ["resolved"]);
    let t = ticket(&o, &inc).await;
    assert_eq!((t["state"].as_str(), t["resolution_code"].as_str()), (Some("resolved"), Some("fixed")), "{t}");
    let (_, tl) = o.t.get(&o.agent, &format!("/api/v1/tickets/{inc}/timeline")).await;
    let kinds: Vec<&str> = tl["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"alert") && kinds.contains(&"resolved"), "{kinds:?}");

    // A re-fire within the reopen window (4 h) reopens the same incident (flapping).
    o.t.clock.advance_minutes(60);
    let (_, b) = send(&o.t, "alertmanager", &token, &p).await;
    assert_eq!(actions(&b), ["reopened"]);
    assert_eq!(b["alerts"][0]["incident"], inc.as_str());
    let t = ticket(&o, &inc).await;
    assert_eq!((t["state"].as_str(), t["reopen_count"].as_i64()), (Some("new"), Some(1)));
    let a = alerts_of(&o, &inc).await;
    assert_eq!(a.iter().find(|x| x["fingerprint"] == "DiskFull-web1:9100").unwrap()["fired"], 2);

    // Resolved again, and a re-fire after the window opens a new incident.
    send(&o.t, "alertmanager", &token, &p4).await;
    assert_eq!(ticket(&o, &inc).await["state"], "resolved");
    o.t.clock.advance_minutes(5 * 60);
    let (_, b) = send(&o.t, "alertmanager", &token, &p).await;
    assert_eq!(actions(&b), ["opened"]);
    let inc2 = b["alerts"][0]["incident"].as_str().unwrap().to_string();
    assert_ne!(inc2, inc);

    // The alert list, newest first, by status; requesters see none of it.
    let (s, b) = o.t.get(&o.agent, "/api/v1/alerts?status=firing").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let items = b["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["incident"], inc2.as_str());
    let requester = o.t.user(&o.admin, "rita@example.com", "requester", &[]).await;
    assert_eq!(o.t.get(&requester, "/api/v1/alerts").await.0, StatusCode::FORBIDDEN);
    let (_, b) = o.t.get(&o.admin, "/api/v1/integrations").await;
    assert_eq!(b[0]["received"], 13, "{b}");

    // A disabled integration refuses (the sender keeps its alerts and retries).
    let id = b[0]["id"].as_i64().unwrap();
    let (s, _) = o.t.put(&o.admin, &format!("/api/v1/integrations/{id}"), json!({"enabled": false})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(send(&o.t, "alertmanager", &token, &p).await.0, StatusCode::FORBIDDEN);
    // A replaced token: the old one stops working.
    let (_, b) = o.t.post(&o.admin, &format!("/api/v1/integrations/{id}/token"), json!({})).await;
    o.t.put(&o.admin, &format!("/api/v1/integrations/{id}"), json!({"enabled": true})).await;
    assert_eq!(send(&o.t, "alertmanager", &token, &p).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&o.t, "alertmanager", b["token"].as_str().unwrap(), &p).await.0, StatusCode::OK);
}

async fn storms_windows_and_other_sources(engine: Engine) {
    let Some(o) = ops(engine).await else { return };
    let hook =
        integration(&o, "Generic", "webhook", Some(json!({"on_all_resolved": "note", "group_window_minutes": 10})))
            .await;

    // A storm: 1,000 alerts for one CI in one payload and then 200 more in separate payloads
    // give one incident.
    let storm: Vec<Value> = (0..1000)
        .map(|i| {
            json!({"dedup_key": format!("db1-check-{i}"), "summary": format!("Check {i} failing on db1"),
                        "severity": "warning", "ci": "DB1:5432", "source": "nagios"})
        })
        .collect();
    let (s, b) = send(&o.t, "webhook", &hook, &Value::Array(storm)).await;
    assert_eq!(s, StatusCode::OK);
    let acts = actions(&b);
    assert_eq!((acts[0].as_str(), acts.iter().filter(|a| *a == "joined").count()), ("opened", 999));
    let inc = b["alerts"][0]["incident"].as_str().unwrap().to_string();
    for i in 1000..1200 {
        let (_, b) = send(
            &o.t,
            "webhook",
            &hook,
            &json!({"dedup_key": format!("db1-check-{i}"), "summary": "more", "ci": "db1"}),
        )
        .await;
        assert_eq!(b["alerts"][0]["incident"], inc.as_str());
    }
    assert_eq!(alerts_of(&o, &inc).await.len(), 1000, "the alerts of an incident are listed up to 1,000");
    let (_, b) = o.t.get(&o.agent, "/api/v1/tickets?kind=incident").await;
    assert_eq!(b["items"].as_array().unwrap().len(), 1, "one incident for the whole storm: {b}");
    // Storm resolution with on_all_resolved = note: the incident stays open with a note.
    let all: Vec<Value> =
        (0..1200).map(|i| json!({"dedup_key": format!("db1-check-{i}"), "status": "resolved"})).collect();
    let (_, b) = send(&o.t, "webhook", &hook, &Value::Array(all)).await;
    assert!(actions(&b).iter().all(|a| a == "resolved"));
    assert_eq!(ticket(&o, &inc).await["state"], "new");

    // Bad generic events name the field by index.
    let (s, b) =
        send(&o.t, "webhook", &hook, &json!([{"dedup_key": "a", "summary": "ok"}, {"summary": "no key"}])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["error"]["fields"]["[1].dedup_key"].is_string(), "{b}");

    // Maintenance window: alerts for web* are recorded and open nothing; after it ends, the next
    // report of a still-firing alert opens an incident.
    let (s, w) =
        o.t.post(
            &o.agent,
            "/api/v1/maintenance-windows",
            json!({"name": "Patch night", "matchers": {"ci": "web*"}, "ends_at": "2030-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    assert_eq!(w["active"], true);
    let e = json!({"dedup_key": "web3-http", "summary": "HTTP down on web3", "ci": "web3", "severity": "critical"});
    let (_, b) = send(&o.t, "webhook", &hook, &e).await;
    assert_eq!((actions(&b), b["alerts"][0]["incident"].clone()), (vec!["suppressed".to_string()], Value::Null));
    let (_, list) = o.t.get(&o.agent, "/api/v1/alerts?status=firing").await;
    assert_eq!(list["items"][0]["maintenance_window"], "Patch night");
    let (s, b) = o
        .t
        .post(&o.agent, "/api/v1/maintenance-windows", json!({"name": "x", "matchers": {}, "ends_at": "2020-01-01"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["error"]["fields"]["matchers"].is_string() && b["error"]["fields"]["ends_at"].is_string(), "{b}");
    let (s, _) = o.t.post(&o.agent, &format!("/api/v1/maintenance-windows/{}/end", w["id"]), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (_, b) = send(&o.t, "webhook", &hook, &e).await;
    assert_eq!(actions(&b), ["opened"]);

    // Grafana, told apart by orgId, through its own endpoint with an Alertmanager-shaped body.
    let graf = integration(&o, "Grafana", "grafana", None).await;
    let g = json!({"receiver": "orion", "status": "firing", "orgId": 1, "version": "1", "title": "[FIRING:1] High CPU",
        "message": "CPU above 90%", "groupKey": "{}:{alertname=\"High CPU\"}",
        "alerts": [{"status": "firing", "labels": {"alertname": "High CPU", "instance": "app7:9100", "severity": "high"},
                    "annotations": {}, "fingerprint": "g1", "valueString": "[ var='A' value=97 ]",
                    "dashboardURL": "https://grafana.local/d/1"}]});
    let (s, b) = send(&o.t, "grafana", &graf, &g).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let t = ticket(&o, b["alerts"][0]["incident"].as_str().unwrap()).await;
    assert_eq!((t["priority"].as_str(), t["title"].as_str()), (Some("P2"), Some("High CPU")));
    assert!(t["description"].as_str().unwrap().contains("value=97"));

    // Zabbix: problem, acknowledgement (an update), recovery; the answer names the incident.
    let zbx = integration(&o, "Zabbix", "zabbix", None).await;
    let z = |value: &str, update: &str| {
        json!({"event_id": "88231", "event_value": value, "event_update_status": update,
        "event_name": "Free disk space is less than 5% on /", "event_severity": "Disaster", "host": "files01",
        "trigger_id": "20144", "event_tags": "service:fileshare,scope:capacity", "event_url": "https://zabbix.local/tr_events.php?eventid=88231"})
    };
    let (_, b) = send(&o.t, "zabbix", &zbx, &z("1", "0")).await;
    assert_eq!(actions(&b), ["opened"]);
    let zinc = b["alerts"][0]["incident"].as_str().unwrap().to_string();
    assert_eq!(ticket(&o, &zinc).await["priority"], "P1");
    let (_, b) = send(&o.t, "zabbix", &zbx, &z("1", "1")).await;
    assert_eq!(actions(&b), ["deduplicated"]);
    let (_, b) = send(&o.t, "zabbix", &zbx, &z("0", "0")).await;
    assert_eq!(actions(&b), ["resolved"]);
    assert_eq!(ticket(&o, &zinc).await["state"], "resolved");
}

async fn heartbeats_open_incidents_for_failures_and_missed_runs(engine: Engine) {
    let Some(o) = ops(engine).await else { return };
    let lead = o.t.user(&o.admin, "lead@example.com", "lead", &["Infrastructure"]).await;
    let worker = orion_app::jobs::standard_worker(o.t.app.clone(), "test");
    let (s, b) =
        o.t.post(&o.agent, "/api/v1/heartbeats", json!({"name": "nightly-db", "interval_seconds": 86400})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "agents do not add heartbeats: {b}");
    let (s, b) =
        o.t.post(
            &lead,
            "/api/v1/heartbeats",
            json!({"name": "x", "interval_seconds": 5, "cron": "0 2 * * *", "timezone": "Mars/Base"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for f in ["cron", "timezone"] {
        assert!(b["error"]["fields"][f].is_string(), "{f}: {b}");
    }
    let (s, hb) = o.t.post(&lead, "/api/v1/heartbeats",
        json!({"name": "nightly-db", "kind": "backup", "assignment_group": "Infrastructure", "interval_seconds": 86400,
               "grace_seconds": 3600})).await;
    assert_eq!(s, StatusCode::CREATED, "{hb}");
    let ok_url = hb["ok_url"].as_str().unwrap().to_string();
    let fail_url = hb["fail_url"].as_str().unwrap().to_string();
    let start_url = hb["start_url"].as_str().unwrap().to_string();
    let ping = |url: String, body: &'static str| {
        let c = o.t.client.clone();
        let base = o.t.base.clone();
        async move {
            let r = c.post(format!("{base}{url}")).body(body).send().await.unwrap();
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // A run: start, then ok 30 minutes later; the board shows the result and the duration.
    let (s, _) = ping(start_url.clone(), "").await;
    assert_eq!(s, StatusCode::OK);
    o.t.clock.advance_minutes(30);
    let (s, b) = ping(ok_url.clone(), "dumped 12 GB").await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("ok")), "{b}");
    let (_, board) = o.t.get(&o.agent, "/api/v1/heartbeats").await;
    assert_eq!(board[0]["last_duration_ms"], 30 * 60_000);
    assert_eq!(board[0]["status"], "ok");
    assert_eq!(
        o.t.client.get(format!("{}/api/v1/heartbeats/orion_hb_nope/ok", o.t.base)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // A reported failure opens an incident with the log attached.
    let (_, b) = ping(fail_url.clone(), "pg_dump: error: connection to server failed").await;
    let inc = b["incident"].as_str().unwrap().to_string();
    let t = ticket(&o, &inc).await;
    assert_eq!(t["title"], "Backup failed: nightly-db");
    assert_eq!(t["channel"], "monitoring");
    let (_, tl) = o.t.get(&o.agent, &format!("/api/v1/tickets/{inc}/timeline")).await;
    let file = tl["items"].as_array().unwrap().iter().find_map(|e| e["data"]["attachments"][0]["id"].as_i64());
    let file = file.expect("the log is attached to the timeline");
    let resp =
        o.t.client.get(format!("{}/api/v1/attachments/{file}", o.t.base)).bearer_auth(&o.agent).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "pg_dump: error: connection to server failed");
    // A second failure adds to the same open incident.
    let (_, b) = ping(fail_url.clone(), "again").await;
    assert_eq!(b["incident"], inc.as_str());
    // Success: a recovery note on it.
    let (_, _) = ping(ok_url.clone(), "").await;
    let (_, tl) = o.t.get(&o.agent, &format!("/api/v1/tickets/{inc}/timeline")).await;
    assert!(tl.to_string().contains("Recovered: nightly-db"), "{tl}");

    // Silence: the check job after due + grace opens a "did not run" incident (a new one, the
    // first is resolved by an agent in the meantime).
    o.t.post(
        &o.agent,
        &format!("/api/v1/tickets/{inc}/resolve"),
        json!({"resolution_code": "fixed", "resolution_notes": "DB restarted"}),
    )
    .await;
    o.t.clock.advance_minutes(24 * 60 + 30);
    worker.run_due().await.unwrap();
    let (_, board) = o.t.get(&o.agent, "/api/v1/heartbeats").await;
    assert_eq!(board[0]["status"], "ok", "not missed before the grace is over");
    o.t.clock.advance_minutes(31);
    worker.run_due().await.unwrap();
    let (_, board) = o.t.get(&o.agent, "/api/v1/heartbeats").await;
    assert_eq!(board[0]["status"], "missed", "{board}");
    let missed = board[0]["incident"].as_str().unwrap().to_string();
    assert_ne!(missed, inc);
    assert_eq!(ticket(&o, &missed).await["title"], "Backup did not run: nightly-db");
    let (_, runs) = o.t.get(&o.agent, &format!("/api/v1/heartbeats/{}/runs", hb["heartbeat"]["id"])).await;
    let outcomes: Vec<&str> =
        runs["items"].as_array().unwrap().iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["missed", "ok", "fail", "fail", "ok", "start"]);
    // A ping after that moves the deadline; the old check does nothing more.
    ping(ok_url, "").await;
    o.t.clock.advance_minutes(60);
    worker.run_due().await.unwrap();
    let (_, board) = o.t.get(&o.agent, "/api/v1/heartbeats").await;
    assert_eq!(board[0]["status"], "ok");
}

/// The real Alertmanager (Debian `prometheus-alertmanager`) routes alerts posted with amtool to
/// its webhook receiver, pointed at the test server; the incidents are checked through the API.
async fn real_alertmanager_fires_repeats_groups_and_resolves(engine: Engine) {
    let Some(bin) = ["/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        assert!(!orion_testkit::in_ci(), "prometheus-alertmanager is missing under CI=true");
        eprintln!(
            "\n*** SKIPPED: prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager) ***\n"
        );
        return;
    };
    let Some(o) = ops(engine).await else { return };
    let token = integration(&o, "Alertmanager", "alertmanager", None).await;
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = format!(
        "route:\n  receiver: orion\n  group_by: ['alertname']\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 2s\n\
         receivers:\n  - name: orion\n    webhook_configs:\n      - url: '{}/api/v1/integrations/alertmanager'\n        send_resolved: true\n\
         \x20       http_config:\n          authorization:\n            credentials: '{token}'\n",
        o.t.base
    );
    std::fs::write(dir.path().join("am.yml"), config).unwrap();
    let mut am = tokio::process::Command::new(bin)
        .arg(format!("--config.file={}", dir.path().join("am.yml").display()))
        .arg(format!("--storage.path={}", dir.path().display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=warn")
        .kill_on_drop(true)
        .spawn()
        .expect("start alertmanager");
    let am_url = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if reqwest::get(format!("{am_url}/-/ready")).await.is_ok_and(|r| r.status().is_success()) {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "alertmanager did not become ready");
    let amtool = |args: Vec<String>| {
        let url = am_url.clone();
        async move {
            let out = tokio::process::Command::new("amtool")
                .arg(format!("--alertmanager.url={url}"))
                .args(args)
                .output()
                .await
                .expect("amtool");
            assert!(out.status.success(), "amtool: {}", String::from_utf8_lossy(&out.stderr));
        }
    };
    let fire = |instance: &str, end: Option<&str>| {
        let mut v = vec![
            "alert".to_string(),
            "add".to_string(),
            "alertname=DiskFull".to_string(),
            format!("instance={instance}"),
            "severity=critical".to_string(),
            format!("--annotation=summary=Disk almost full on {instance}"),
        ];
        if let Some(e) = end {
            v.push(format!("--end={e}"));
        }
        v
    };
    // Two alerts of one group: one incident with both.
    amtool(fire("web1:9100", None)).await;
    amtool(fire("web2:9100", None)).await;
    let firing = wait_for(&o, |items| items.iter().filter(|a| a["status"] == "firing").count() == 2).await;
    let incidents: std::collections::BTreeSet<_> =
        firing.iter().map(|a| a["incident"].as_str().unwrap().to_string()).collect();
    assert_eq!(incidents.len(), 1, "one incident for the group: {firing:?}");
    let inc = incidents.into_iter().next().unwrap();
    // Repeats arrive (repeat_interval 2 s) and are counted, not opened again.
    wait_for(&o, |items| items.iter().all(|a| a["received"].as_i64().unwrap_or(0) >= 2)).await;
    let (_, b) = o.t.get(&o.agent, "/api/v1/tickets?kind=incident").await;
    assert_eq!(b["items"].as_array().unwrap().len(), 1);
    // Resolve both (an end time in the past): the incident resolves itself.
    let past = "2000-01-01T00:00:00Z";
    amtool(fire("web1:9100", Some(past))).await;
    amtool(fire("web2:9100", Some(past))).await;
    wait_for(&o, |items| items.iter().all(|a| a["status"] == "resolved")).await;
    assert_eq!(ticket(&o, &inc).await["state"], "resolved");
    // Fire again: the same incident reopens.
    amtool(fire("web1:9100", None)).await;
    wait_for(&o, |items| items.iter().any(|a| a["status"] == "firing")).await;
    let t = ticket(&o, &inc).await;
    assert_eq!((t["state"].as_str(), t["reopen_count"].as_i64()), (Some("new"), Some(1)), "{t}");
    am.kill().await.ok();
}

/// Polls the alert list until `done` holds (at most 30 s); returns the alerts.
async fn wait_for(o: &Ops, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut last = Vec::new();
    for _ in 0..300 {
        let (_, b) = o.t.get(&o.agent, "/api/v1/alerts").await;
        last = b["items"].as_array().cloned().unwrap_or_default();
        if !last.is_empty() && done(&last) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("alerts never reached the expected state: {last:?}");
}
