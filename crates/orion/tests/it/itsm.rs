//! Problem and change management over HTTP, on SQLite and PostgreSQL: the problem lifecycle
//! with known errors and workarounds; change approvals (all, any, majority, rejection, emergency
//! after the fact), tasks and review; the change calendar's conflicts; and the recurring-incident
//! detector on a generated month with planted recurring issues.

use orion_testkit::{Engine, TestApp, engine_tests};
use rand::SeedableRng;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;

engine_tests!(
    problems_go_from_incidents_to_known_error_and_fix,
    changes_are_approved_by_rule_and_reviewed,
    the_change_calendar_flags_conflicts,
    the_detector_proposes_the_planted_recurring_issues
);

struct Desk {
    t: TestApp,
    admin: String,
    sam: String,
    lea: String,
    max: String,
    ann: String,
}

async fn desk(engine: Engine) -> Option<Desk> {
    let t = TestApp::spawn(engine).await?;
    let admin = t.bootstrap_admin("admin@example.com").await;
    for (name, tier) in [("Service Desk", 1), ("Infrastructure", 2), ("CAB", 3)] {
        let (s, b) = t.post(&admin, "/api/v1/groups", json!({"name": name, "tier": tier})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let sam = t.user(&admin, "sam@example.com", "agent", &["Service Desk", "Infrastructure"]).await;
    let lea = t.user(&admin, "lea@example.com", "lead", &["Infrastructure", "CAB"]).await;
    let max = t.user(&admin, "max@example.com", "agent", &["Infrastructure", "CAB"]).await;
    let ann = t.user(&admin, "ann@example.com", "requester", &[]).await;
    Some(Desk { t, admin, sam, lea, max, ann })
}

async fn ok(t: &TestApp, token: &str, method: Method, path: &str, body: Value) -> Value {
    let (s, b) = t.send(token, method, path, Some(body)).await;
    assert!(s.is_success(), "{path}: {s} {b}");
    b
}

async fn incident(t: &TestApp, token: &str, title: &str) -> String {
    let b = ok(t, token, Method::POST, "/api/v1/tickets", json!({"title": title, "description": "It broke."})).await;
    b["number"].as_str().unwrap().to_string()
}

fn fields(b: &Value) -> Vec<String> {
    b["error"]["fields"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

async fn problems_go_from_incidents_to_known_error_and_fix(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let inc1 = incident(t, &d.ann, "Payroll export times out").await;
    let inc2 = incident(t, &d.ann, "Payroll export hangs again").await;
    let inc3 = incident(t, &d.sam, "Payroll report empty").await;
    let req = ok(t, &d.sam, Method::POST, "/api/v1/tickets", json!({"title": "New laptop", "kind": "service_request"}))
        .await["number"]
        .as_str()
        .unwrap()
        .to_string();
    ok(t, &d.sam, Method::POST, "/api/v1/assets", json!({"type": "server", "name": "db-pay", "asset_tag": "SRV-7"}))
        .await;

    // Bad input names each field and writes nothing; requesters have no access.
    let (s, b) = t
        .post(&d.sam, "/api/v1/problems", json!({"title": " ", "incidents": ["INC0999999", req], "assets": ["nope"]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    for f in ["title", "incidents[0]", "incidents[1]", "assets[0]"] {
        assert!(fields(&b).contains(&f.to_string()), "{f} in {b}");
    }
    assert!(b["error"]["fields"]["incidents[1]"].as_str().unwrap().contains("service request"), "{b}");
    assert_eq!(t.get(&d.sam, "/api/v1/problems").await.1["items"], json!([]));
    assert_eq!(t.post(&d.ann, "/api/v1/problems", json!({"title": "x"})).await.0, StatusCode::FORBIDDEN);
    let (s, b) = t.post(&d.sam, "/api/v1/tickets", json!({"title": "x", "kind": "problem"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "problems are not logged as tickets: {b}");

    let p = ok(
        t,
        &d.sam,
        Method::POST,
        "/api/v1/problems",
        json!({"title": "Payroll exports fail", "description": "Three reports this week",
               "incidents": [inc1, inc2], "assets": ["SRV-7"], "symptoms": "Exports time out after 30 s"}),
    )
    .await;
    let prb = p["ticket"]["number"].as_str().unwrap().to_string();
    assert!(prb.starts_with("PRB"), "{p}");
    assert_eq!(p["ticket"]["kind"], "problem");
    assert_eq!(p["phase"], "new");
    assert_eq!(p["incidents"].as_array().unwrap().len(), 2);
    assert_eq!(t.get(&d.ann, &format!("/api/v1/problems/{prb}")).await.0, StatusCode::FORBIDDEN);
    let assets = t.get(&d.sam, &format!("/api/v1/tickets/{prb}/assets")).await.1;
    assert_eq!(assets["assets"][0]["name"], "db-pay", "{assets}");

    // The incident state machine does not move a problem; the phases do, in order.
    let (s, b) = t
        .post(
            &d.sam,
            &format!("/api/v1/tickets/{prb}/resolve"),
            json!({"resolution_code": "fixed", "resolution_notes": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let (s, b) = t.post(&d.sam, &format!("/api/v1/problems/{prb}/phase"), json!({"phase": "known_error"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "new cannot jump to known_error: {b}");
    let p =
        ok(t, &d.sam, Method::POST, &format!("/api/v1/problems/{prb}/phase"), json!({"phase": "investigating"})).await;
    assert_eq!(p["ticket"]["state"], "in_progress");
    assert_eq!(p["ticket"]["assignee"], "sam@example.com", "whoever starts the investigation owns it");
    let (s, b) = t.post(&d.sam, &format!("/api/v1/problems/{prb}/phase"), json!({"phase": "known_error"})).await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["workaround".to_string()]), "{b}");

    // The analysis; a stale version is refused.
    let v = p["version"].as_i64().unwrap();
    let p = ok(
        t,
        &d.sam,
        Method::PATCH,
        &format!("/api/v1/problems/{prb}"),
        json!({"version": v, "workaround": "Run the export for one cost centre at a time.",
               "timeline": "Mon 09:00 first report", "analysis": "Why? The query scans all cost centres."}),
    )
    .await;
    assert_eq!(p["workaround"], "Run the export for one cost centre at a time.");
    let (s, _) = t.patch(&d.sam, &format!("/api/v1/problems/{prb}"), json!({"version": v, "symptoms": "x"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let p =
        ok(t, &d.sam, Method::POST, &format!("/api/v1/problems/{prb}/phase"), json!({"phase": "known_error"})).await;
    assert_eq!((p["phase"].as_str(), p["ticket"]["state"].as_str()), (Some("known_error"), Some("pending")));
    assert!(p["known_error_at"].is_string());

    // Agents see the workaround on the incident and resolve with it in one action.
    let rel = t.get(&d.sam, &format!("/api/v1/tickets/{inc1}/related")).await.1;
    assert_eq!(rel["problem"]["number"], prb.as_str(), "{rel}");
    assert_eq!(rel["problem"]["workaround"], "Run the export for one cost centre at a time.");
    let r = ok(t, &d.sam, Method::POST, &format!("/api/v1/tickets/{inc1}/resolve-with-workaround"), json!({})).await;
    assert_eq!((r["state"].as_str(), r["resolution_code"].as_str()), (Some("resolved"), Some("workaround")));
    assert!(r["resolution_notes"].as_str().unwrap().contains("one cost centre at a time"), "{r}");
    let (s, _) = t.post(&d.sam, &format!("/api/v1/tickets/{inc3}/resolve-with-workaround"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "an incident in no problem has no workaround");
    let timeline = t.get(&d.sam, &format!("/api/v1/tickets/{inc2}/timeline")).await.1;
    assert!(timeline.to_string().contains("problem_linked"), "{timeline}");

    // An incident belongs to one problem.
    let other = ok(t, &d.sam, Method::POST, "/api/v1/problems", json!({"title": "Other"})).await;
    let other = other["ticket"]["number"].as_str().unwrap().to_string();
    let (s, b) = t.post(&d.sam, &format!("/api/v1/problems/{other}/incidents"), json!({"incident": inc1})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains(&prb), "{b}");
    ok(t, &d.sam, Method::POST, &format!("/api/v1/problems/{prb}/incidents"), json!({"incident": inc3})).await;
    let p = ok(t, &d.sam, Method::DELETE, &format!("/api/v1/problems/{prb}/incidents/{inc3}"), json!(null)).await;
    assert_eq!(p["incidents"].as_array().unwrap().len(), 2);

    // Known errors are listed and searchable; a known-error article is drafted from it.
    let ke = t.get(&d.sam, "/api/v1/known-errors").await.1;
    assert_eq!(ke["items"][0]["number"], prb.as_str(), "{ke}");
    let ke = t.get(&d.sam, "/api/v1/known-errors?q=payroll%20exports").await.1;
    assert_eq!(ke["items"].as_array().unwrap().len(), 1, "{ke}");
    let ke = t.get(&d.sam, "/api/v1/known-errors?q=printer").await.1;
    assert_eq!(ke["items"], json!([]), "{ke}");
    let (s, a) = t.post(&d.sam, &format!("/api/v1/problems/{prb}/article"), json!(null)).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(a["kind"], "known_error");
    assert!(a["body"].as_str().unwrap().contains("one cost centre at a time"), "{a}");

    // Resolving needs the root cause; it can resolve the open incidents and tell their requesters.
    let (s, b) = t.post(&d.sam, &format!("/api/v1/problems/{prb}/phase"), json!({"phase": "resolved"})).await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["root_cause".to_string()]), "{b}");
    let chg = ok(t, &d.sam, Method::POST, "/api/v1/changes", json!({"title": "Index cost centre column"})).await;
    let chg = chg["ticket"]["number"].as_str().unwrap().to_string();
    let p = ok(
        t,
        &d.sam,
        Method::PATCH,
        &format!("/api/v1/problems/{prb}"),
        json!({"root_cause": "Missing index on cost_centre", "fix_change": chg}),
    )
    .await;
    assert_eq!(p["fix_change"], chg.as_str());
    let p = ok(
        t,
        &d.sam,
        Method::POST,
        &format!("/api/v1/problems/{prb}/phase"),
        json!({"phase": "resolved", "resolve_incidents": true}),
    )
    .await;
    assert_eq!(p["ticket"]["state"], "resolved");
    let i2 = t.get(&d.sam, &format!("/api/v1/tickets/{inc2}")).await.1;
    assert_eq!((i2["state"].as_str(), i2["resolution_code"].as_str()), (Some("resolved"), Some("fixed")), "{i2}");
    assert!(i2["resolution_notes"].as_str().unwrap().contains(&prb), "{i2}");
    let i1 = t.get(&d.sam, &format!("/api/v1/tickets/{inc1}")).await.1;
    assert_eq!(i1["resolution_code"], "workaround", "an incident already resolved keeps its resolution");
    ok(t, &d.sam, Method::POST, &format!("/api/v1/problems/{prb}/phase"), json!({"phase": "closed"})).await;
    let (s, _) = t.patch(&d.sam, &format!("/api/v1/problems/{prb}"), json!({"symptoms": "late"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "a closed problem no longer changes");
    let listed = t.get(&d.sam, "/api/v1/problems?phase=closed").await.1;
    assert_eq!(listed["items"][0]["number"], prb.as_str(), "{listed}");
    let _ = (&d.admin, &d.lea, &d.max);
}

async fn change(t: &TestApp, token: &str, body: Value) -> String {
    let b = ok(t, token, Method::POST, "/api/v1/changes", body).await;
    b["ticket"]["number"].as_str().unwrap().to_string()
}

async fn phase(t: &TestApp, token: &str, n: &str, to: &str) -> Value {
    ok(t, token, Method::POST, &format!("/api/v1/changes/{n}/phase"), json!({"phase": to})).await
}

async fn decide(t: &TestApp, token: &str, n: &str, decision: &str) -> Value {
    ok(
        t,
        token,
        Method::POST,
        &format!("/api/v1/changes/{n}/approvals"),
        json!({"decision": decision, "comment": "ok"}),
    )
    .await
}

fn planned(body: Value) -> Value {
    let mut b = json!({"title": "Patch db-pay", "implementation_plan": "apt upgrade; reboot",
        "backout_plan": "Restore the snapshot", "test_plan": "Run the payroll export",
        "risk_impact": 2, "risk_complexity": 2, "risk_experience": 2, "risk_backout": 1,
        "planned_start": "2026-11-20T10:00:00Z", "planned_end": "2026-11-20T12:00:00Z",
        "assignment_group": "Infrastructure", "assignee": "max@example.com"});
    for (k, v) in body.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

async fn changes_are_approved_by_rule_and_reviewed(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;

    // Bad input.
    let (s, b) = t
        .post(
            &d.sam,
            "/api/v1/changes",
            json!({"change_type": "urgent", "title": "x", "planned_start": "2026-11-20T10:00:00Z",
                   "planned_end": "2026-11-19T10:00:00Z", "approvers": ["nobody@example.com"], "risk_impact": 4,
                   "approval_rule": "most"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    for f in ["change_type", "planned_end", "approvers[0]", "risk_impact", "approval_rule"] {
        assert!(fields(&b).contains(&f.to_string()), "{f} in {b}");
    }
    let (s, b) = t.post(&d.sam, "/api/v1/changes", planned(json!({"risk": "low"}))).await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["risk_override_reason".to_string()]), "{b}");
    assert_eq!(t.post(&d.ann, "/api/v1/changes", json!({"title": "x"})).await.0, StatusCode::FORBIDDEN);

    // A draft lacking plans cannot go to approval; every missing field is named.
    let bare = change(t, &d.sam, json!({"title": "Bare"})).await;
    phase(t, &d.sam, &bare, "assessment").await;
    let (s, b) = t.post(&d.sam, &format!("/api/v1/changes/{bare}/phase"), json!({"phase": "approval"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    for f in ["planned_start", "planned_end", "implementation_plan", "backout_plan", "risk"] {
        assert!(fields(&b).contains(&f.to_string()), "{f} in {b}");
    }

    // Normal change, every approver must approve; a rejection sends it back to assessment.
    let n = change(t, &d.sam, planned(json!({"approvers": ["lea@example.com", "max@example.com"]}))).await;
    let c = t.get(&d.sam, &format!("/api/v1/changes/{n}")).await.1;
    assert_eq!(
        (c["phase"].as_str(), c["risk"].as_str(), c["risk_computed"].as_str()),
        (Some("draft"), Some("medium"), Some("medium"))
    );
    assert_eq!(c["approval_rule"], "all");
    let (s, b) = t.post(&d.sam, &format!("/api/v1/changes/{n}/phase"), json!({"phase": "approval"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "draft goes to assessment first: {b}");
    // The risk overridden with a reason, alone in an edit, is kept; back to computed with "".
    let c = ok(
        t,
        &d.sam,
        Method::PATCH,
        &format!("/api/v1/changes/{n}"),
        json!({"risk": "high", "risk_override_reason": "payroll week"}),
    )
    .await;
    assert_eq!((c["risk"].as_str(), c["risk_override_reason"].as_str()), (Some("high"), Some("payroll week")));
    let c = ok(t, &d.sam, Method::PATCH, &format!("/api/v1/changes/{n}"), json!({"risk": ""})).await;
    assert_eq!((c["risk"].as_str(), c["risk_override_reason"].as_str()), (Some("medium"), None));
    phase(t, &d.sam, &n, "assessment").await;
    let c = phase(t, &d.sam, &n, "approval").await;
    assert_eq!((c["approval"].as_str(), c["ticket"]["state"].as_str()), (Some("pending"), Some("pending")));
    assert_eq!(c["approvals"].as_array().unwrap().iter().filter(|a| a["round"] == 1).count(), 2);
    let mine = t.get(&d.lea, "/api/v1/me/approvals").await.1;
    assert_eq!(mine[0]["number"], n.as_str(), "{mine}");
    // Each approver is told in the console (and by mail, the default for approvals; issue 26).
    let (_, inbox) = t.get(&d.lea, "/api/v1/me/notifications?unread=true").await;
    assert!(
        inbox["items"].as_array().unwrap().iter().any(|x| x["kind"] == "approval" && x["ticket"] == n.as_str()),
        "{inbox}"
    );
    assert_eq!(t.get(&d.sam, "/api/v1/me/approvals").await.1, json!([]));
    let (s, _) = t.post(&d.sam, &format!("/api/v1/changes/{n}/approvals"), json!({"decision": "approved"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "not an approver");
    let (s, b) = t.post(&d.lea, &format!("/api/v1/changes/{n}/approvals"), json!({"decision": "rejected"})).await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["comment".to_string()]));
    let c = decide(t, &d.lea, &n, "approved").await;
    assert_eq!((c["phase"].as_str(), c["approval"].as_str()), (Some("approval"), Some("pending")), "one of two");
    let (s, _) = t.post(&d.lea, &format!("/api/v1/changes/{n}/approvals"), json!({"decision": "approved"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no second vote");
    let c = decide(t, &d.max, &n, "rejected").await;
    assert_eq!((c["phase"].as_str(), c["approval"].as_str()), (Some("assessment"), Some("rejected")));
    // Revised and asked again: a new round.
    ok(t, &d.sam, Method::PATCH, &format!("/api/v1/changes/{n}"), json!({"backout_plan": "Restore snapshot; verify"}))
        .await;
    phase(t, &d.sam, &n, "approval").await;
    decide(t, &d.max, &n, "approved").await;
    let c = decide(t, &d.lea, &n, "approved").await;
    assert_eq!((c["phase"].as_str(), c["approval_round"].as_i64()), (Some("scheduled"), Some(2)));
    assert_eq!(t.get(&d.lea, "/api/v1/me/approvals").await.1, json!([]));
    let (s, _) = t.patch(&d.sam, &format!("/api/v1/changes/{n}"), json!({"reason": "late edit"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "a scheduled change is replanned through assessment");

    // Implementation, verification task, review.
    let c = phase(t, &d.max, &n, "implementing").await;
    assert!(c["actual_start"].is_string());
    let c = phase(t, &d.max, &n, "review").await;
    let task = &c["tasks"][0];
    assert_eq!(
        (task["title"].as_str(), task["assignee"].as_str()),
        (Some("Verify in production"), Some("max@example.com"))
    );
    let (s, b) = t.post(&d.max, &format!("/api/v1/changes/{n}/review"), json!({"outcome": "successful"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "open verification task: {b}");
    let task_id = task["id"].as_i64().unwrap();
    let (s, _) = t.post(&d.sam, &format!("/api/v1/changes/{n}/tasks/{task_id}/done"), json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only its assignee or a lead");
    ok(t, &d.max, Method::POST, &format!("/api/v1/changes/{n}/tasks/{task_id}/done"), json!({"notes": "exports fine"}))
        .await;
    let (s, b) = t.post(&d.max, &format!("/api/v1/changes/{n}/review"), json!({"outcome": "backed_out"})).await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["notes".to_string()]));
    let c = ok(t, &d.max, Method::POST, &format!("/api/v1/changes/{n}/review"), json!({"outcome": "successful"})).await;
    assert_eq!((c["phase"].as_str(), c["ticket"]["state"].as_str()), (Some("closed"), Some("closed")));
    let (s, _) = t.post(&d.sam, &format!("/api/v1/tickets/{n}/close"), json!({"reason": "x"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "the ticket state machine does not move changes");

    // Any: the CAB group is asked, the first approval schedules it.
    let any = change(t, &d.sam, planned(json!({"cab_group": "CAB", "approval_rule": "any"}))).await;
    phase(t, &d.sam, &any, "assessment").await;
    let c = phase(t, &d.sam, &any, "approval").await;
    let asked: Vec<&str> = c["approvals"].as_array().unwrap().iter().map(|a| a["approver"].as_str().unwrap()).collect();
    assert_eq!(asked, vec!["lea@example.com", "max@example.com"], "the CAB's members");
    assert_eq!(decide(t, &d.max, &any, "approved").await["phase"], "scheduled");

    // Majority of three: one yes and one no is undecided; the second yes decides.
    let maj = change(
        t,
        &d.sam,
        planned(json!({"approvers": ["lea@example.com", "max@example.com", "sam@example.com"],
                       "approval_rule": "majority"})),
    )
    .await;
    phase(t, &d.sam, &maj, "assessment").await;
    phase(t, &d.sam, &maj, "approval").await;
    decide(t, &d.lea, &maj, "rejected").await;
    assert_eq!(decide(t, &d.max, &maj, "approved").await["phase"], "approval");
    assert_eq!(decide(t, &d.sam, &maj, "approved").await["phase"], "scheduled");
    let maj2 = change(
        t,
        &d.sam,
        planned(json!({"approvers": ["lea@example.com", "max@example.com", "sam@example.com"],
                       "approval_rule": "majority"})),
    )
    .await;
    phase(t, &d.sam, &maj2, "assessment").await;
    phase(t, &d.sam, &maj2, "approval").await;
    decide(t, &d.lea, &maj2, "rejected").await;
    assert_eq!(decide(t, &d.max, &maj2, "rejected").await["phase"], "assessment", "a majority can no longer approve");

    // Emergency: implemented at once, approved after the fact; the review waits for it.
    let em = change(t, &d.sam, planned(json!({"change_type": "emergency", "approvers": ["lea@example.com"]}))).await;
    phase(t, &d.sam, &em, "assessment").await;
    let c = phase(t, &d.max, &em, "implementing").await;
    assert_eq!((c["phase"].as_str(), c["approval"].as_str()), (Some("implementing"), Some("pending")));
    let c = phase(t, &d.max, &em, "review").await;
    let task_id = c["tasks"][0]["id"].as_i64().unwrap();
    ok(t, &d.max, Method::POST, &format!("/api/v1/changes/{em}/tasks/{task_id}/done"), json!({})).await;
    let (s, b) = t
        .post(&d.max, &format!("/api/v1/changes/{em}/review"), json!({"outcome": "backed_out", "notes": "reverted"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "after-the-fact approval pending: {b}");
    let c = decide(t, &d.lea, &em, "approved").await;
    assert_eq!((c["phase"].as_str(), c["approval"].as_str()), (Some("review"), Some("approved")));
    let c = ok(
        t,
        &d.max,
        Method::POST,
        &format!("/api/v1/changes/{em}/review"),
        json!({"outcome": "backed_out", "notes": "Service did not start; reverted"}),
    )
    .await;
    assert_eq!((c["phase"].as_str(), c["outcome"].as_str()), (Some("failed"), Some("backed_out")));

    // Standard: from a lead's template, pre-approved, scheduled without approvals.
    let tpl = json!({"name": "Restart print spooler", "title": "Restart the print spooler",
        "implementation_plan": "Restart-Service Spooler", "backout_plan": "None needed", "risk": "low"});
    assert_eq!(t.post(&d.sam, "/api/v1/change-templates", tpl.clone()).await.0, StatusCode::FORBIDDEN);
    ok(t, &d.lea, Method::POST, "/api/v1/change-templates", tpl.clone()).await;
    let (s, b) = t.post(&d.lea, "/api/v1/change-templates", tpl).await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["name".to_string()]));
    let (s, b) = t.post(&d.sam, "/api/v1/changes", json!({"change_type": "standard"})).await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["template".to_string(), "title".to_string()]));
    let std = ok(
        t,
        &d.sam,
        Method::POST,
        "/api/v1/changes",
        json!({"change_type": "standard", "template": "Restart print spooler",
               "planned_start": "2026-11-21T07:00:00Z", "planned_end": "2026-11-21T07:15:00Z"}),
    )
    .await;
    assert_eq!((std["phase"].as_str(), std["risk"].as_str()), (Some("assessment"), Some("low")));
    assert_eq!(std["ticket"]["title"], "Restart the print spooler");
    assert_eq!(std["next_phases"], json!(["scheduled", "cancelled"]));
    let n_std = std["ticket"]["number"].as_str().unwrap();
    let c = phase(t, &d.sam, n_std, "scheduled").await;
    assert_eq!((c["phase"].as_str(), c["approval"].as_str()), (Some("scheduled"), None));

    // An incident caused by a change points back at it.
    let inc = incident(t, &d.ann, "Printing stopped after the spooler restart").await;
    let c = ok(t, &d.sam, Method::POST, &format!("/api/v1/changes/{n_std}/incidents"), json!({"incident": inc})).await;
    assert_eq!(c["caused_incidents"][0]["number"], inc.as_str());
    let rel = t.get(&d.sam, &format!("/api/v1/tickets/{inc}/related")).await.1;
    assert_eq!(rel["caused_by"][0]["number"], n_std, "{rel}");
    let listed = t.get(&d.sam, "/api/v1/changes?phase=failed").await.1;
    assert_eq!(listed["items"][0]["number"], em.as_str(), "{listed}");
    let _ = &d.admin;
}

async fn asset(t: &TestApp, token: &str, name: &str) -> i64 {
    let b =
        ok(t, token, Method::POST, "/api/v1/assets", json!({"type": "server", "name": name, "asset_tag": name})).await;
    b["id"].as_i64().unwrap()
}

async fn scheduled(t: &TestApp, d: &Desk, asset: &str, start: &str, end: &str) -> String {
    let n = change(
        t,
        &d.sam,
        planned(json!({"change_type": "emergency", "assets": [asset], "approvers": ["lea@example.com"],
                       "planned_start": start, "planned_end": end, "title": format!("Work on {asset}")})),
    )
    .await;
    phase(t, &d.sam, &n, "assessment").await;
    phase(t, &d.sam, &n, "scheduled").await;
    n
}

async fn the_change_calendar_flags_conflicts(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let db = asset(t, &d.sam, "db1").await;
    let app = asset(t, &d.sam, "app1").await;
    asset(t, &d.sam, "web1").await;
    asset(t, &d.sam, "mail1").await;
    ok(
        t,
        &d.sam,
        Method::POST,
        &format!("/api/v1/assets/{app}/relations"),
        json!({"kind": "depends_on", "target": db.to_string()}),
    )
    .await;
    ok(
        t,
        &d.admin,
        Method::POST,
        "/api/v1/maintenance-windows",
        json!({"name": "web1 patch night", "matchers": {"ci": "web1"},
               "starts_at": "2026-11-21T02:00:00Z", "ends_at": "2026-11-21T04:00:00Z"}),
    )
    .await;
    // Freezes: leads only, and sane.
    let freeze = json!({"name": "Month-end close", "starts_at": "2026-11-27", "ends_at": "2026-12-01"});
    assert_eq!(t.post(&d.sam, "/api/v1/freeze-periods", freeze.clone()).await.0, StatusCode::FORBIDDEN);
    let (s, b) = t
        .post(
            &d.lea,
            "/api/v1/freeze-periods",
            json!({"name": "x", "starts_at": "2026-12-02", "ends_at": "2026-12-01"}),
        )
        .await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["ends_at".to_string()]));
    ok(t, &d.lea, Method::POST, "/api/v1/freeze-periods", freeze).await;

    let a = scheduled(t, &d, "db1", "2026-11-20T10:00:00Z", "2026-11-20T12:00:00Z").await;
    let b = scheduled(t, &d, "app1", "2026-11-20T11:00:00Z", "2026-11-20T13:00:00Z").await;
    let c = scheduled(t, &d, "web1", "2026-11-20T11:00:00Z", "2026-11-20T12:00:00Z").await;
    let w = scheduled(t, &d, "web1", "2026-11-21T02:30:00Z", "2026-11-21T03:30:00Z").await;
    let f = scheduled(t, &d, "mail1", "2026-11-28T08:00:00Z", "2026-11-28T09:00:00Z").await;
    let later = scheduled(t, &d, "db1", "2026-11-20T12:00:00Z", "2026-11-20T13:00:00Z").await;
    phase(t, &d.sam, &later, "cancelled").await;

    let cal = t.get(&d.sam, "/api/v1/change-calendar?from=2026-11-16&to=2026-11-30").await.1;
    let by: HashMap<String, &Value> =
        cal["changes"].as_array().unwrap().iter().map(|c| (c["number"].as_str().unwrap().to_string(), c)).collect();
    assert!(!by.contains_key(&later), "a cancelled change leaves the calendar");
    let kinds = |n: &str| -> Vec<(String, Option<String>)> {
        by[n]["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["kind"].as_str().unwrap().to_string(), c["other"].as_str().map(String::from)))
            .collect()
    };
    assert_eq!(kinds(&a), vec![("overlap".to_string(), Some(b.clone()))], "app1 depends on db1: {cal}");
    assert_eq!(kinds(&b), vec![("overlap".to_string(), Some(a.clone()))]);
    let message = |n: &str| by[n]["conflicts"][0]["message"].as_str().unwrap().to_string();
    assert_eq!(message(&a), format!("{b} changes app1, which depends on this change's CIs, at the same time"));
    assert_eq!(message(&b), format!("{a} changes a CI that app1 depends on, at the same time"));
    assert_eq!(kinds(&c), vec![("maintenance_window".to_string(), None)], "web1 outside its window, no shared CI");
    assert_eq!(kinds(&w), vec![], "inside web1's window");
    assert_eq!(kinds(&f), vec![("freeze".to_string(), None)]);
    assert_eq!(by[&a]["assets"], json!(["db1"]));
    assert_eq!(cal["freezes"][0]["name"], "Month-end close");
    let one = t.get(&d.sam, &format!("/api/v1/changes/{c}")).await.1;
    assert!(one["conflicts"][0]["message"].as_str().unwrap().contains("web1"), "{one}");
    let (s, _) = t.get(&d.sam, "/api/v1/change-calendar?from=2026-01-01&to=2026-12-31").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let week = t.get(&d.sam, "/api/v1/change-calendar?from=2026-11-27&to=2026-11-30").await.1;
    let numbers: Vec<&str> =
        week["changes"].as_array().unwrap().iter().map(|c| c["number"].as_str().unwrap()).collect();
    assert_eq!(numbers, vec![f.as_str()]);
}

async fn the_detector_proposes_the_planted_recurring_issues(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let month = orion_app::demo::textgen::incident_month(&mut rng, 40);
    // The categories the month uses, as the desk would have them.
    let mut paths: HashMap<&str, String> = HashMap::new();
    for inc in &month.incidents {
        if paths.contains_key(inc.category) {
            continue;
        }
        let (parent, child) = inc.category.split_once(" / ").unwrap();
        let _ = t.post(&d.admin, "/api/v1/categories", json!({"name": parent})).await;
        let (s, b) = t.post(&d.admin, "/api/v1/categories", json!({"name": child, "parent": parent})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        paths.insert(inc.category, b["path"].as_str().unwrap().to_string());
    }
    let mut named: Vec<&str> = month.incidents.iter().filter_map(|i| i.ci.as_deref()).collect();
    named.sort_unstable();
    named.dedup();
    for ci in named {
        asset(t, &d.sam, ci).await;
    }
    // Log the month as it happened.
    let start = orion_domain::Timestamp(1_793_000_000_000 - 31 * 86_400_000);
    let mut number_of: Vec<String> = Vec::new();
    for inc in &month.incidents {
        t.clock.set(start.plus_minutes(inc.minute));
        let mut body = json!({"title": inc.title, "description": inc.description, "category": paths[inc.category]});
        if let Some(ci) = &inc.ci {
            body["assets"] = json!([ci]);
        }
        number_of
            .push(ok(t, &d.sam, Method::POST, "/api/v1/tickets", body).await["number"].as_str().unwrap().to_string());
    }
    t.clock.set(start.plus_minutes(30 * 24 * 60 + 60));
    assert_eq!(t.post(&d.sam, "/api/v1/problem-proposals/detect", json!(null)).await.0, StatusCode::FORBIDDEN);
    let report = ok(t, &d.lea, Method::POST, "/api/v1/problem-proposals/detect", json!(null)).await;
    assert_eq!(report["incidents"], month.incidents.len(), "{report}");

    let proposals = t.get(&d.sam, "/api/v1/problem-proposals?limit=200").await.1;
    let proposals = proposals["items"].as_array().unwrap().clone();
    let planted_of: HashMap<&str, Option<usize>> =
        number_of.iter().map(String::as_str).zip(month.incidents.iter().map(|i| i.planted)).collect();
    let mut found = vec![0usize; month.planted];
    let (mut one_offs, mut proposed) = (0, 0);
    for p in &proposals {
        let members: Vec<Option<usize>> =
            p["incidents"].as_array().unwrap().iter().map(|i| planted_of[i["number"].as_str().unwrap()]).collect();
        let stray = members.iter().filter(|m| m.is_none()).count();
        assert!(stray * 2 < members.len(), "a proposal of mostly one-offs: {p:#?}");
        one_offs += stray;
        proposed += members.len();
        for m in members.into_iter().flatten() {
            found[m] += 1;
        }
        assert!(!p["reason"].as_str().unwrap().is_empty());
    }
    for (k, n) in found.iter().enumerate() {
        let size = month.incidents.iter().filter(|i| i.planted == Some(k)).count();
        assert!(*n * 10 >= size * 6, "planted issue {k}: {n} of {size} proposed: {proposals:#?}");
    }
    // The occasional one-off that reads like a planted issue may join its proposal (the benchmark
    // measures how often); one-offs are never proposed on their own and stay rare.
    assert!(one_offs * 10 <= proposed, "{one_offs} one-offs among {proposed} proposed incidents: {proposals:#?}");
    let one_off_count = month.incidents.iter().filter(|i| i.planted.is_none()).count();
    assert!(one_off_count >= 30, "the month has one-offs to leave alone");

    // A lead accepts one (the problem gets the incidents and the CI) and dismisses another.
    let by_ci = proposals.iter().find(|p| p["basis"] == "ci").expect("a CI burst was proposed");
    let id = by_ci["id"].as_i64().unwrap();
    let (s, prb) = t.post(&d.lea, &format!("/api/v1/problem-proposals/{id}/accept"), json!({})).await;
    assert_eq!(s, StatusCode::CREATED, "{prb}");
    assert_eq!(prb["incidents"].as_array().unwrap().len(), by_ci["incidents"].as_array().unwrap().len());
    assert!(prb["ticket"]["title"].as_str().unwrap().starts_with("Recurring incidents on "), "{prb}");
    let (s, _) = t.post(&d.lea, &format!("/api/v1/problem-proposals/{id}/accept"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "accepted once");
    let other = proposals.iter().find(|p| p["id"] != id).expect("a second proposal");
    let oid = other["id"].as_i64().unwrap();
    ok(t, &d.lea, Method::POST, &format!("/api/v1/problem-proposals/{oid}/dismiss"), json!(null)).await;

    // Run again: nothing new; the accepted incidents are in a problem, the dismissed set is remembered.
    let again = ok(t, &d.lea, Method::POST, "/api/v1/problem-proposals/detect", json!(null)).await;
    assert_eq!(again["proposed"], 0, "{again}");
    assert_eq!(again["incidents"], month.incidents.len() - by_ci["incidents"].as_array().unwrap().len());
    let open = t.get(&d.sam, "/api/v1/problem-proposals?limit=200").await.1;
    assert_eq!(open["items"].as_array().unwrap().len(), proposals.len() - 2, "{open}");
    let dismissed = t.get(&d.sam, "/api/v1/problem-proposals?state=dismissed").await.1;
    assert_eq!(dismissed["items"][0]["id"], oid);

    // The scheduled job runs the detector through the worker: a fresh burst on one server is
    // proposed at the next slot without anyone asking.
    ok(t, &d.admin, Method::PUT, "/api/v1/settings/problem-detection", json!({"every_minutes": 60})).await;
    asset(t, &d.sam, "nas9").await;
    for title in ["NAS share unreachable", "Backups to nas9 failed", "Scanner cannot save to the share"] {
        ok(t, &d.sam, Method::POST, "/api/v1/tickets", json!({"title": title, "assets": ["nas9"]})).await;
    }
    t.clock.advance_minutes(61);
    let ran = orion_app::jobs::standard_worker(t.app.clone(), "test").run_due().await.unwrap();
    assert!(ran.completed >= 1, "the detection job ran");
    let open = t.get(&d.sam, "/api/v1/problem-proposals?limit=200").await.1;
    let newest = &open["items"][0];
    assert_eq!(newest["incidents"].as_array().unwrap().len(), 3, "{open}");
    assert!(newest["reason"].as_str().unwrap().contains("nas9"), "{newest}");
    let (s, b) = t.put(&d.admin, "/api/v1/settings/problem-detection", json!({"similarity": 2.0})).await;
    assert_eq!((s, fields(&b)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["similarity".to_string()]));
}
