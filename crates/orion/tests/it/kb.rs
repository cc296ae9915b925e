//! Knowledge base and full-text search over HTTP, on SQLite and PostgreSQL.

use orion_testkit::{Engine, TestApp, engine_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};

engine_tests!(
    search_finds_tickets_only_where_permissions_allow,
    search_syntax_filters_and_reindexed_edits,
    articles_are_written_reviewed_published_and_versioned,
    suggestions_links_drafts_and_deflections,
    reindex_rebuilds_a_lost_index_while_search_answers,
);

struct Desk {
    t: TestApp,
    admin: String,
    lead: String,
    agent: String,
    alice: String,
    bob: String,
}

async fn desk(engine: Engine) -> Option<Desk> {
    let t = TestApp::spawn(engine).await?;
    let admin = t.bootstrap_admin("admin@example.com").await;
    let (s, b) = t.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    for (name, parent) in [("Network", None), ("VPN", Some("Network"))] {
        let (s, b) = t.post(&admin, "/api/v1/categories", json!({"name": name, "parent": parent})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let agent = t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    let lead = t.user(&admin, "lee@example.com", "lead", &["Service Desk"]).await;
    let alice = t.user(&admin, "alice@example.com", "requester", &[]).await;
    let bob = t.user(&admin, "bob@example.com", "requester", &[]).await;
    Some(Desk { t, admin, lead, agent, alice, bob })
}

async fn ticket(d: &Desk, requester: &str, title: &str, description: &str) -> String {
    let (s, b) =
        d.t.post(
            &d.agent,
            "/api/v1/tickets",
            json!({"kind": "incident", "title": title, "description": description, "impact": 3, "urgency": 3,
                   "requester": requester, "channel": "phone"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["number"].as_str().unwrap().to_string()
}

async fn search(t: &TestApp, token: &str, query: &str) -> Value {
    let path = format!("/api/v1/search?{}", serde_urlencoded(&[("q", query)]));
    let (s, b) = t.get(token, &path).await;
    assert_eq!(s, StatusCode::OK, "{query}: {b}");
    b
}

fn serde_urlencoded(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={}", url_escape(v))).collect::<Vec<_>>().join("&")
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn numbers(v: &Value, key: &str) -> Vec<String> {
    v[key].as_array().unwrap().iter().map(|x| x["number"].as_str().unwrap().to_string()).collect()
}

async fn search_finds_tickets_only_where_permissions_allow(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let a = ticket(&d, "alice@example.com", "VPN drops every ten minutes", "GlobalProtect disconnects at home").await;
    let b = ticket(&d, "bob@example.com", "VPN will not connect", "Error 809 from the hotel").await;
    let path = format!("/api/v1/tickets/{a}/comments");
    let (s, r) = t
        .post(&d.agent, &path, json!({"body": "Gateway log: certificate zebracode expired", "visibility": "internal"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, r) =
        t.post(&d.agent, &path, json!({"body": "Please try the quokka profile", "visibility": "public"})).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");

    // Staff find internal notes, and see where the match was.
    let r = search(t, &d.agent, "zebracode").await;
    assert_eq!(numbers(&r, "tickets"), vec![a.clone()]);
    assert_eq!(r["tickets"][0]["snippet_from"], "internal note");
    assert!(r["tickets"][0]["snippet_html"].as_str().unwrap().contains("<mark>zebracode</mark>"), "{r}");
    // An internal note never reaches a requester, not even their own ticket's.
    for who in [&d.alice, &d.bob] {
        let r = search(t, who, "zebracode").await;
        assert!(r["tickets"].as_array().unwrap().is_empty(), "{r}");
    }
    // A requester finds the public text of their own tickets only.
    let r = search(t, &d.alice, "quokka").await;
    assert_eq!(numbers(&r, "tickets"), vec![a.clone()]);
    assert_eq!(r["tickets"][0]["snippet_from"], "reply");
    assert!(search(t, &d.bob, "quokka").await["tickets"].as_array().unwrap().is_empty());
    let r = search(t, &d.alice, "vpn").await;
    assert_eq!(numbers(&r, "tickets"), vec![a.clone()]);
    let r = search(t, &d.bob, "vpn").await;
    assert_eq!(numbers(&r, "tickets"), vec![b.clone()]);
    let r = search(t, &d.agent, "vpn").await;
    let mut both = numbers(&r, "tickets");
    both.sort();
    assert_eq!(both, vec![a.clone(), b.clone()]);
    // Requesters cannot filter by group (that is staff knowledge) — a clear 422.
    let (s, e) = t.get(&d.alice, "/api/v1/search?q=vpn&group=Service%20Desk").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["group"].is_string(), "{e}");
    // Without a token: 401.
    let (s, _) = t.get("", "/api/v1/search?q=vpn").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

async fn search_syntax_filters_and_reindexed_edits(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let cafe = ticket(&d, "alice@example.com", "Printer in the Café prints blank pages", "Toner is new").await;
    let jam = ticket(&d, "alice@example.com", "Printers on 3rd floor: paper jam", "Tray 2 jams").await;
    let outlook = ticket(&d, "bob@example.com", "Outlook asks for password", "Every ten minutes").await;

    // Diacritics folded, plural folded, prefix, phrase, exclusion, OR.
    assert_eq!(numbers(&search(t, &d.agent, "cafe").await, "tickets"), vec![cafe.clone()]);
    let r = search(t, &d.agent, "printer").await;
    assert_eq!(numbers(&r, "tickets").len(), 2, "printer finds 'Printers' too: {r}");
    assert_eq!(numbers(&search(t, &d.agent, "outl*").await, "tickets"), vec![outlook.clone()]);
    assert_eq!(numbers(&search(t, &d.agent, "\"paper jam\"").await, "tickets"), vec![jam.clone()]);
    assert!(numbers(&search(t, &d.agent, "\"jam paper\"").await, "tickets").is_empty());
    assert_eq!(numbers(&search(t, &d.agent, "printer -blank").await, "tickets"), vec![jam.clone()]);
    let mut r = numbers(&search(t, &d.agent, "outlook OR cafe").await, "tickets");
    r.sort();
    let mut want = vec![cafe.clone(), outlook.clone()];
    want.sort();
    assert_eq!(r, want);
    // Title words are marked in the title.
    let r = search(t, &d.agent, "blank").await;
    assert!(r["tickets"][0]["title_html"].as_str().unwrap().contains("<mark>blank</mark>"), "{r}");

    // Filters run inside the query.
    let (s, r) = t.get(&d.agent, "/api/v1/search?q=printer&state=resolved").await;
    assert_eq!(s, StatusCode::OK);
    assert!(r["tickets"].as_array().unwrap().is_empty(), "{r}");
    let (_, r) = t.get(&d.agent, "/api/v1/search?q=printer&state=new&kind=incident&group=Service%20Desk").await;
    assert_eq!(r["tickets"].as_array().unwrap().len(), 2, "{r}");
    let (_, r) = t.get(&d.agent, "/api/v1/search?q=printer&to=2000-01-01").await;
    assert!(r["tickets"].as_array().unwrap().is_empty(), "{r}");
    let (_, r) = t.get(&d.agent, "/api/v1/search?q=printer&type=article").await;
    assert!(r["tickets"].as_array().unwrap().is_empty());
    let (_, r) = t.get(&d.agent, "/api/v1/search?q=printer&limit=1").await;
    assert_eq!(r["tickets"].as_array().unwrap().len(), 1);
    assert_eq!(r["tickets_more"], true);
    let (_, r) = t.get(&d.agent, "/api/v1/search?q=printer&order=newest").await;
    assert_eq!(numbers(&r, "tickets"), vec![jam.clone(), cafe.clone()]);

    // Bad queries are refused with the field named.
    for (q, field) in [("-printer", "q"), ("%20%20", "q")] {
        let (s, e) = t.get(&d.agent, &format!("/api/v1/search?q={q}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {e}");
        assert!(e["error"]["fields"][field].is_string(), "{e}");
    }
    let (s, e) = t.get(&d.agent, "/api/v1/search?q=x&type=everything&limit=0").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["type"].is_string() && e["error"]["fields"]["limit"].is_string(), "{e}");
    // Query syntax of either engine is just text.
    let r = search(t, &d.agent, "title: NEAR( \"unbalanced").await;
    assert!(r["tickets"].as_array().unwrap().is_empty());

    // Edits are indexed in the same transaction: the new title is found, the old one is not.
    let (s, b) = t
        .patch(&d.agent, &format!("/api/v1/tickets/{outlook}"), json!({"title": "Thunderbird asks for password"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(numbers(&search(t, &d.agent, "thunderbird").await, "tickets"), vec![outlook.clone()]);
    assert!(numbers(&search(t, &d.agent, "outlook").await, "tickets").is_empty());
    // Resolution notes are searchable (and public).
    let (s, b) = t
        .post(
            &d.agent,
            &format!("/api/v1/tickets/{jam}/resolve"),
            json!({"resolution_code": "fixed", "resolution_notes": "Replaced the pickup roller"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let r = search(t, &d.alice, "roller").await;
    assert_eq!(numbers(&r, "tickets"), vec![jam.clone()]);
    assert_eq!(r["tickets"][0]["snippet_from"], "resolution");
}

async fn create_article(t: &TestApp, token: &str, body: Value) -> Value {
    let (s, a) = t.post(token, "/api/v1/articles", body).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    a
}

async fn transition(t: &TestApp, token: &str, number: &str, action: &str) -> (StatusCode, Value) {
    t.post(token, &format!("/api/v1/articles/{number}/transition"), json!({"action": action, "note": "ok"})).await
}

async fn articles_are_written_reviewed_published_and_versioned(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let a = create_article(
        t,
        &d.agent,
        json!({"title": "VPN keeps disconnecting", "kind": "howto", "audience": "public", "category": "Network / VPN",
               "tags": ["VPN", "remote work", "vpn"],
               "body": "## Steps\n\n1. Restart the **GlobalProtect** client\n2. Check the clock\n\n<script>alert(1)</script><a href=\"javascript:alert(2)\">x</a>"}),
    )
    .await;
    let n = a["number"].as_str().unwrap().to_string();
    assert!(n.starts_with("KB"), "{a}");
    assert_eq!(a["state"], "draft");
    assert_eq!(a["version"], 1);
    assert_eq!(a["tags"], json!(["vpn", "remote work"]));
    let html = a["body_html"].as_str().unwrap();
    assert!(html.contains("<strong>GlobalProtect</strong>") && html.contains("<h2>"), "{html}");
    assert!(!html.contains("<script") && !html.contains("javascript:"), "sanitised: {html}");

    // A draft is invisible to requesters, by number and in search.
    let (s, _) = t.get(&d.alice, &format!("/api/v1/articles/{n}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(search(t, &d.alice, "globalprotect").await["articles"].as_array().unwrap().is_empty());
    assert_eq!(numbers(&search(t, &d.agent, "globalprotect").await, "articles"), vec![n.clone()]);

    // Requesters do not write articles; agents submit, leads publish.
    let (s, _) = t.post(&d.alice, "/api/v1/articles", json!({"title": "x", "body": "y"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = transition(t, &d.agent, &n, "publish").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let (s, b) = transition(t, &d.agent, &n, "submit").await;
    assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("review")), "{b}");
    let (s, b) = transition(t, &d.agent, &n, "submit").await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let (s, b) = transition(t, &d.lead, &n, "publish").await;
    assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("published")), "{b}");
    assert!(b["review_by"].as_str().is_some(), "publishing sets a review date: {b}");
    let (s, b) = t.get(&d.alice, &format!("/api/v1/articles/{n}?view=true")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["views"], 1);
    assert_eq!(numbers(&search(t, &d.alice, "globalprotect").await, "articles"), vec![n.clone()]);

    // Internal articles stay with staff even when published.
    let i = create_article(
        t,
        &d.lead,
        json!({"title": "Runbook: VPN gateway failover", "kind": "runbook", "body": "Fail over the gateway pair"}),
    )
    .await;
    let inum = i["number"].as_str().unwrap().to_string();
    let (s, _) = transition(t, &d.lead, &inum, "publish").await;
    assert_eq!(s, StatusCode::OK);
    assert!(search(t, &d.alice, "gateway").await["articles"].as_array().unwrap().is_empty());
    let (s, _) = t.get(&d.alice, &format!("/api/v1/articles/{inum}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = t.get(&d.alice, "/api/v1/articles").await;
    assert_eq!(numbers(&list, "items"), vec![n.clone()]);

    // Editing saves a version; a stale version is refused; the diff shows what changed.
    let path = format!("/api/v1/articles/{n}");
    let body2 = "## Steps\n\n1. Restart the **GlobalProtect** client\n2. Check the date and time\n";
    let (s, b) = t.patch(&d.agent, &path, json!({"version": 1, "body": body2, "note": "clearer step 2"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!((b["version"].as_i64(), b["state"].as_str()), (Some(2), Some("published")));
    let (s, b) = t.patch(&d.agent, &path, json!({"version": 1, "title": "Lost update"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let (s, b) = t.patch(&d.agent, &path, json!({"version": 2, "kind": "novel", "title": ""})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (_, diff) = t.get(&d.agent, &format!("{path}/diff")).await;
    assert_eq!((diff["from"].as_i64(), diff["to"].as_i64()), (Some(1), Some(2)), "{diff}");
    let lines = diff["lines"].as_array().unwrap();
    assert!(lines.iter().any(|l| l["op"] == "insert" && l["text"] == "2. Check the date and time"), "{diff}");
    assert!(lines.iter().any(|l| l["op"] == "delete" && l["text"] == "2. Check the clock"), "{diff}");
    assert!(diff["unified"].as_str().unwrap().contains("+2. Check the date and time"));
    let (_, h) = t.get(&d.agent, &format!("{path}/versions")).await;
    assert_eq!(h["versions"].as_array().unwrap().len(), 2, "{h}");
    assert_eq!(h["versions"][0]["note"], "clearer step 2");
    let actions: Vec<&str> = h["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["created", "submitted for review", "published"]);
    let (s, _) = t.get(&d.alice, &format!("{path}/versions")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Search follows the new text.
    assert!(numbers(&search(t, &d.agent, "clock").await, "articles").is_empty());

    // Was this helpful? One answer per person, changeable.
    let (s, f) =
        t.post(&d.alice, &format!("{path}/feedback"), json!({"helpful": false, "comment": "step 1 fails"})).await;
    assert_eq!(s, StatusCode::OK, "{f}");
    let (_, f) = t.post(&d.alice, &format!("{path}/feedback"), json!({"helpful": true})).await;
    assert_eq!((f["helpful_yes"].as_i64(), f["helpful_no"].as_i64()), (Some(1), Some(0)), "{f}");
    let (_, f) = t.post(&d.bob, &format!("{path}/feedback"), json!({"helpful": false, "comment": "no"})).await;
    assert_eq!((f["helpful_yes"].as_i64(), f["helpful_no"].as_i64()), (Some(1), Some(1)));

    // Attachments: staff upload, readers download, size checked.
    let up = t
        .client
        .post(format!("{}{path}/attachments?filename=vpn-settings.txt", t.base))
        .bearer_auth(&d.agent)
        .header("content-type", "text/plain")
        .body("gateway = vpn.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), StatusCode::CREATED);
    let art: Value = up.json().await.unwrap();
    let id = art["attachments"][0]["id"].as_i64().unwrap();
    let got =
        t.client.get(format!("{}/api/v1/kb/attachments/{id}", t.base)).bearer_auth(&d.alice).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.text().await.unwrap(), "gateway = vpn.example.com");
    let up = t
        .client
        .post(format!("{}{path}/attachments?filename=x.txt", t.base))
        .bearer_auth(&d.alice)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), StatusCode::FORBIDDEN);

    // Review dates: a published article past its date is listed as stale.
    let (s, b) = t.patch(&d.agent, &path, json!({"version": 2, "review_by": "2001-01-01"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, stale) = t.get(&d.agent, "/api/v1/articles?stale=true").await;
    assert_eq!(numbers(&stale, "items"), vec![n.clone()]);
    assert_eq!(stale["items"][0]["stale"], true);

    // Retired articles leave the portal and search; restoring makes a draft.
    let (s, _) = transition(t, &d.lead, &n, "retire").await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t.get(&d.alice, &path).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(search(t, &d.alice, "globalprotect").await["articles"].as_array().unwrap().is_empty());
    let (s, b) = t.patch(&d.agent, &path, json!({"version": 2, "title": "x"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let (s, b) = transition(t, &d.agent, &n, "restore").await;
    assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("draft")));
    let _ = &d.admin;
}

async fn suggestions_links_drafts_and_deflections(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let a = create_article(
        t,
        &d.lead,
        json!({"title": "VPN keeps disconnecting", "audience": "public", "body": "Restart the VPN client and check the certificate."}),
    )
    .await;
    let kb = a["number"].as_str().unwrap().to_string();
    transition(t, &d.lead, &kb, "publish").await;
    let draft =
        create_article(t, &d.lead, json!({"title": "VPN draft notes", "audience": "public", "body": "vpn draft"}))
            .await;
    let old = ticket(&d, "bob@example.com", "VPN disconnects in the hotel", "Certificate expired on the laptop").await;
    let (s, b) = t
        .post(
            &d.agent,
            &format!("/api/v1/tickets/{old}/resolve"),
            json!({"resolution_code": "fixed", "resolution_notes": "Renewed the machine certificate"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // While typing: published articles (for everyone) and similar resolved tickets (staff only).
    let (s, sug) = t.get(&d.alice, "/api/v1/search/suggest?title=my%20vpn%20disconn").await;
    assert_eq!(s, StatusCode::OK, "{sug}");
    assert_eq!(numbers(&sug, "articles"), vec![kb.clone()], "drafts are never suggested: {sug}");
    assert!(sug["tickets"].as_array().unwrap().is_empty(), "requesters are not shown others' tickets");
    let (_, sug) = t.get(&d.agent, "/api/v1/search/suggest?title=vpn%20keeps%20dropping&description=certificate").await;
    assert_eq!(numbers(&sug, "articles")[0], kb);
    assert_eq!(numbers(&sug, "tickets"), vec![old.clone()]);
    let (_, sug) = t.get(&d.agent, "/api/v1/search/suggest?title=&description=").await;
    assert!(sug["articles"].as_array().unwrap().is_empty());

    // A ticket shows related articles; an agent links one (noted on the timeline).
    let new = ticket(&d, "alice@example.com", "VPN disconnecting again", "").await;
    let (_, ta) = t.get(&d.agent, &format!("/api/v1/tickets/{new}/articles")).await;
    assert_eq!(numbers(&ta, "related"), vec![kb.clone()], "{ta}");
    let (s, ta) = t.post(&d.agent, &format!("/api/v1/tickets/{new}/articles"), json!({"article": kb})).await;
    assert_eq!(s, StatusCode::OK, "{ta}");
    assert_eq!(numbers(&ta, "linked"), vec![kb.clone()]);
    assert!(numbers(&ta, "related").is_empty());
    let (_, tl) = t.get(&d.agent, &format!("/api/v1/tickets/{new}/timeline")).await;
    assert!(tl["items"].as_array().unwrap().iter().any(|e| e["kind"] == "article_linked"), "{tl}");
    let (s, _) = t.post(&d.alice, &format!("/api/v1/tickets/{new}/articles"), json!({"article": kb})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = t.post(&d.agent, &format!("/api/v1/tickets/{new}/articles"), json!({"article": "KB9999999"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    // The requester sees the linked public article on their ticket.
    let (_, ta) = t.get(&d.alice, &format!("/api/v1/tickets/{new}/articles")).await;
    assert_eq!(numbers(&ta, "linked"), vec![kb.clone()]);
    let (s, ta) =
        t.send(&d.agent, reqwest::Method::DELETE, &format!("/api/v1/tickets/{new}/articles/{kb}"), None).await;
    assert_eq!(s, StatusCode::OK, "{ta}");
    assert!(numbers(&ta, "linked").is_empty());

    // An article from a resolved ticket, prefilled from its resolution.
    let (s, e) = t.get(&d.agent, &format!("/api/v1/tickets/{new}/article-draft")).await;
    assert_eq!(s, StatusCode::CONFLICT, "not resolved yet: {e}");
    let (s, pre) = t.get(&d.agent, &format!("/api/v1/tickets/{old}/article-draft")).await;
    assert_eq!(s, StatusCode::OK, "{pre}");
    assert_eq!(pre["title"], "VPN disconnects in the hotel");
    assert!(pre["body"].as_str().unwrap().contains("Renewed the machine certificate"), "{pre}");
    assert_eq!(pre["source_ticket"], old.as_str());
    let made = create_article(t, &d.agent, pre).await;
    assert_eq!(made["source_ticket"], old.as_str());
    assert_eq!(made["kind"], "known_error");

    // Deflection: a form in which a suggested article was opened and that was never submitted.
    let open = |key: &'static str| json!({"draft_key": key, "article": kb});
    for key in ["form-1", "form-2"] {
        let (s, b) = t.post(&d.alice, "/api/v1/kb/suggestion-opens", open(key)).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    }
    let (s, _) = t.post(&d.alice, "/api/v1/kb/suggestion-opens", json!({"draft_key": "x y", "article": kb})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let draft_n = draft["number"].as_str().unwrap();
    let (s, _) = t.post(&d.alice, "/api/v1/kb/suggestion-opens", json!({"draft_key": "f3", "article": draft_n})).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a requester cannot open a draft");
    let submitted = ticket(&d, "alice@example.com", "VPN still drops", "").await;
    let (s, b) = t
        .post(
            &d.alice,
            "/api/v1/kb/suggestion-opens",
            json!({"draft_key": "form-2", "article": kb, "ticket": submitted}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (_, rep) = t.get(&d.agent, "/api/v1/kb/deflections").await;
    assert_eq!(rep["opened"], 0, "forms still being written are not counted yet: {rep}");
    t.clock.advance_minutes(31);
    let (_, rep) = t.get(&d.agent, "/api/v1/kb/deflections?days=7").await;
    assert_eq!((rep["opened"].as_i64(), rep["deflected"].as_i64()), (Some(2), Some(1)), "{rep}");
    assert_eq!(rep["articles"][0]["article"], kb.as_str());
    let (s, _) = t.get(&d.alice, "/api/v1/kb/deflections").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn reindex_rebuilds_a_lost_index_while_search_answers(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(6);
    for _ in 0..60 {
        let g = orion_app::demo::textgen::ticket(&mut rng);
        ticket(&d, "alice@example.com", &g.title, &g.description).await;
    }
    let count = |r: &Value| r["tickets"].as_array().unwrap().len();
    let (_, before) = t.get(&d.agent, "/api/v1/search?q=printer&limit=100&type=ticket").await;
    let found = count(&before);
    assert!(found > 0, "{before}");
    // Lose the index (as after a restore from a file-level copy of only the tables).
    let wipe = match engine {
        Engine::Sqlite => "DELETE FROM fts_ticket",
        Engine::Postgres => "DELETE FROM fts_ticket",
    };
    t.app.db.execute_admin(wipe).await.unwrap();
    let (_, gone) = t.get(&d.agent, "/api/v1/search?q=printer&limit=100&type=ticket").await;
    assert_eq!(count(&gone), 0);
    // Rebuild in small batches while searching between them.
    let mut calls = Vec::new();
    let (tickets, _) = t.app.reindex(7, |done, total| calls.push((done, total))).await.unwrap();
    assert_eq!(tickets, 60);
    assert!(calls.len() >= 9, "one progress call per batch: {calls:?}");
    assert_eq!(calls.last().map(|c| c.0), calls.last().map(|c| c.1));
    let (_, after) = t.get(&d.agent, "/api/v1/search?q=printer&limit=100&type=ticket").await;
    assert_eq!(count(&after), found);
    assert!(!t.app.reindex_needed().await.unwrap());
}
