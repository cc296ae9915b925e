//! The web UI in a real browser: Debian's headless Chromium driven over WebDriver by
//! chromedriver, against the real server, on SQLite and PostgreSQL. The WebDriver client is the
//! few W3C endpoints these tests need, spoken with reqwest.
//!
//! With `ORION_SCREENSHOTS=<dir>` the flows also save screenshots of the main pages there
//! (`scripts/screenshots` refreshes docs/screenshots/).

use orion_testkit::{Engine, TestApp, engine_tests, in_ci};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

engine_tests!(
    sign_in_and_lockout_in_the_browser,
    an_incident_goes_from_caller_to_l2_and_back_to_the_requester,
    cross_site_forms_and_injected_scripts_do_nothing,
    articles_are_suggested_searched_and_linked_in_the_browser,
    single_sign_on_set_up_and_used_in_the_browser,
    a_security_key_is_added_and_signs_in_in_the_browser,
);

const PW: &str = "staple horse battery correct";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Chromium outlives a killed chromedriver: end whatever still runs on this window's profile.
        let _ = Command::new("pkill")
            .args(["-9", "-f", &format!("--user-data-dir={}", self._profile.path().display())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Browser {
    /// Ends the WebDriver session, so chromedriver closes Chromium (a blocking request: `Drop`
    /// cannot wait on the async client).
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let addr = self._driver.url.trim_start_matches("http://").to_string();
        if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let req = format!("DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n", self.session);
            let _ = s.write_all(req.as_bytes());
            let mut answer = Vec::new();
            let _ = s.read_to_end(&mut answer);
        }
    }
}

/// One browser window (a WebDriver session).
pub(crate) struct Browser {
    http: reqwest::Client,
    session: String,
    base: String,
    _driver: Driver,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// A fresh headless Chromium, or `None` (loudly) when it is not installed outside CI.
    pub(crate) async fn start(t: &TestApp) -> Option<Browser> {
        if !std::path::Path::new(CHROMEDRIVER).exists() || !std::path::Path::new(CHROMIUM).exists() {
            assert!(!in_ci(), "Chromium and chromedriver are required under CI=true (scripts/test installs them)");
            eprintln!(
                "\n*** SKIPPED: {CHROMIUM} / {CHROMEDRIVER} missing; apt-get install chromium chromium-driver ***\n"
            );
            return None;
        }
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{url}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not answer");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--window-size=1360,900",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let driver = Driver { child, url: url.clone(), _profile: profile };
        let r: Value = http.post(format!("{url}/session")).json(&caps).send().await.unwrap().json().await.unwrap();
        let session = r["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {r}")).to_string();
        Some(Browser { http, session, base: t.base.clone(), _driver: driver })
    }

    pub(crate) async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self._driver.url, self.session);
        let mut rb = self.http.request(method, url);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let v: Value = rb.send().await.unwrap().json().await.unwrap();
        v["value"].clone()
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Value {
        self.cmd(reqwest::Method::POST, path, Some(body)).await
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        self.cmd(reqwest::Method::GET, path, None).await
    }

    pub(crate) async fn goto(&self, path: &str) {
        let url = if path.starts_with("http") || path.starts_with("data:") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        self.post("/url", json!({ "url": url })).await;
    }

    pub(crate) async fn url(&self) -> String {
        self.get("/url").await.as_str().unwrap_or_default().to_string()
    }

    /// The element for a CSS selector, waiting up to 15 s for it to exist.
    pub(crate) async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let v = self.post("/element", json!({"using": "css selector", "value": css})).await;
            if let Some(id) = v[ELEMENT].as_str() {
                return id.to_string();
            }
            assert!(Instant::now() < deadline, "no element {css} on {}:\n{}", self.url().await, self.source().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn exists(&self, css: &str) -> bool {
        let v = self.post("/elements", json!({"using": "css selector", "value": css})).await;
        v.as_array().is_some_and(|a| !a.is_empty())
    }

    pub(crate) async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    pub(crate) async fn fill(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/clear"), json!({})).await;
        self.post(&format!("/element/{id}/value"), json!({ "text": text })).await;
    }

    /// Picks the file at `path` (on this machine) in a file input.
    pub(crate) async fn attach(&self, css: &str, path: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/value"), json!({ "text": path })).await;
    }

    /// Waits until no htmx request is in flight (and whatever it swaps in is in place).
    pub(crate) async fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if self
                .script("return document.querySelectorAll('.htmx-request, .htmx-swapping, .htmx-settling').length")
                .await
                == json!(0)
            {
                return;
            }
            assert!(Instant::now() < deadline, "htmx never settled");
        }
    }

    /// Fills a field of a form the server re-renders as it changes (the catalog's): the field
    /// may be replaced between finding and typing, so it types again until the field holds it.
    pub(crate) async fn fill_live(&self, css: &str, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let check = format!("var e = document.querySelector({css:?}); return e ? e.value : null;");
        loop {
            self.fill(css, text).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            if self.script(&check).await == json!(text) {
                return;
            }
            assert!(Instant::now() < deadline, "{css} never kept {text:?}");
        }
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.get(&format!("/element/{id}/text")).await.as_str().unwrap_or_default().to_string()
    }

    pub(crate) async fn source(&self) -> String {
        self.get("/source").await.as_str().unwrap_or_default().to_string()
    }

    pub(crate) async fn script(&self, js: &str) -> Value {
        self.post("/execute/sync", json!({"script": js, "args": []})).await
    }

    /// Runs a script that finishes by calling its last argument (a callback) with the answer.
    pub(crate) async fn script_async(&self, js: &str) -> Value {
        self.post("/timeouts", json!({"script": 60_000})).await;
        self.post("/execute/async", json!({"script": js, "args": []})).await
    }

    /// Makes the browser live in another time zone (as a reader elsewhere would).
    pub(crate) async fn time_zone(&self, zone: &str) {
        let v = self
            .post("/goog/cdp/execute", json!({"cmd": "Emulation.setTimezoneOverride", "params": {"timezoneId": zone}}))
            .await;
        assert!(v.get("error").is_none(), "time zone {zone}: {v}");
    }

    /// Sets the window's size (a phone's screen, a desktop's).
    pub(crate) async fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height})).await;
    }

    /// Presses keys outside any field (keyboard shortcuts).
    pub(crate) async fn keys(&self, keys: &str) {
        let mut actions = Vec::new();
        for k in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": k.to_string()}));
            actions.push(json!({"type": "keyUp", "value": k.to_string()}));
        }
        self.post("/actions", json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})).await;
    }

    /// Presses a shortcut until the field it opens has the focus (a key pressed while the page is
    /// still settling may be lost on a loaded machine); fails if it never does.
    pub(crate) async fn shortcut(&self, key: &str, field: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let check = format!("return document.activeElement && document.activeElement.id === '{field}'");
        loop {
            self.keys(key).await;
            if self.script(&check).await == json!(true) {
                return;
            }
            assert!(Instant::now() < deadline, "the {key} shortcut never focused #{field}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Waits until the element's text contains `needle`.
    pub(crate) async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let t = self.text(css).await;
            if t.contains(needle) {
                return t;
            }
            assert!(Instant::now() < deadline, "{css} never showed {needle:?}; it shows {t:?}");
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Signs in and waits for the answer: a page of the UI, or the sign-in page with an error.
    pub(crate) async fn sign_in(&self, email: &str, password: &str) {
        self.goto("/login").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("button[type=submit].primary").await;
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.exists("header .who, #login-error").await {
            assert!(Instant::now() < deadline, "sign-in never answered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn sign_out(&self) {
        self.click("header .who button").await;
        self.find("#email").await;
    }

    /// Saves a screenshot as `<ORION_SCREENSHOTS>/<name>.png` when asked to.
    pub(crate) async fn shot(&self, name: &str) {
        let Ok(dir) = std::env::var("ORION_SCREENSHOTS") else { return };
        use base64::Engine as _;
        let png = self.get("/screenshot").await;
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/{name}.png"), bytes).unwrap();
    }
}

/// The desk of the browser flows: an admin, L1 and L2 agents with passwords, a requester,
/// categories, and (for the queue screenshot) a few tickets.
async fn desk(engine: Engine) -> Option<(TestApp, String)> {
    let t = TestApp::spawn(engine).await?;
    let admin = t.bootstrap_admin("admin@example.com").await;
    for (name, tier, up) in [("Desktop Support", 2, None), ("Service Desk", 1, Some("Desktop Support"))] {
        let (s, b) = t.post(&admin, "/api/v1/groups", json!({"name": name, "tier": tier, "escalates_to": up})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    for c in ["Hardware", "Network", "Software"] {
        let (s, _) = t.post(&admin, "/api/v1/categories", json!({"name": c})).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (s, _) = t.post(&admin, "/api/v1/categories", json!({"name": "Docking station", "parent": "Hardware"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, b) = t
        .post(
            &admin,
            "/api/v1/users",
            json!({"email": "sam@example.com", "name": "Sam Okafor", "role": "agent", "groups": ["Service Desk"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, _) = t
        .post(
            &admin,
            "/api/v1/users",
            json!({"email": "dev@example.com", "name": "Dana Vogel", "role": "agent", "groups": ["Desktop Support"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = t
        .post(
            &admin,
            "/api/v1/users",
            json!({"email": "alice@example.com", "name": "Alice Martin", "role": "requester", "department": "Finance"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    for who in ["admin@example.com", "sam@example.com", "dev@example.com", "alice@example.com"] {
        t.app.set_password(who, PW.into()).await.unwrap();
    }
    let sam = t.app.create_token_for("sam@example.com", "seed").await.unwrap().token;
    for (title, i, u) in [
        ("Outlook asks for the password every hour", 3, 2),
        ("Printer on floor 3 prints blank pages", 2, 2),
        ("VPN disconnects every few minutes", 2, 1),
    ] {
        let (s, b) = t
            .post(&sam, "/api/v1/tickets", json!({"title": title, "requester": "alice@example.com", "impact": i, "urgency": u, "assignee": "sam@example.com"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    Some((t, admin))
}

async fn sign_in_and_lockout_in_the_browser(engine: Engine) {
    let Some((t, admin)) = desk(engine).await else { return };
    let Some(b) = Browser::start(&t).await else { return };
    let (s, _) =
        t.put(&admin, "/api/v1/settings/security", json!({"lockout_threshold": 3, "lockout_minutes": 0})).await;
    assert_eq!(s, StatusCode::OK);
    // A page asks for sign-in and returns there after it.
    b.goto("/agent?queue=unassigned").await;
    b.find("#email").await;
    b.shot("sign-in").await;
    b.fill("#email", "sam@example.com").await;
    b.fill("#password", PW).await;
    b.click("button[type=submit].primary").await;
    b.wait_text("h1", "Unassigned").await;
    assert!(b.url().await.ends_with("/agent?queue=unassigned"));
    b.goto("/agent").await;
    b.wait_text("h1", "Assigned to me").await;
    assert!(b.text("table.queue").await.contains("VPN disconnects"));
    // j/k select rows, Enter opens, ? shows the help.
    b.keys("jj").await;
    assert_eq!(b.script("return document.querySelectorAll('tr.sel').length").await, json!(1));
    b.keys("?").await;
    assert_eq!(b.script("return document.getElementById('help').open").await, json!(true));
    b.script("document.getElementById('help').close()").await;
    b.shot("agent-queue").await;
    b.sign_out().await;

    // Three wrong passwords lock the account; then the right one fails too.
    for _ in 0..3 {
        b.sign_in("dev@example.com", "not my password at all").await;
        b.wait_text("#login-error", "Wrong e-mail or password").await;
    }
    b.sign_in("dev@example.com", PW).await;
    assert!(b.exists("#login-error").await, "locked: the right password is refused too");
    assert!(b.url().await.contains("/login"));
    // The admin sees it on the user's page and unlocks it.
    b.sign_in("admin@example.com", PW).await;
    b.find("header nav").await;
    b.goto("/admin/security").await;
    b.wait_text("table.log", "Account locked").await;
    b.shot("admin-security").await;
    b.goto("/admin/users?q=dev").await;
    b.click("table a[href^='/admin/users/']").await;
    b.wait_text(".card.alarm", "Locked out").await;
    b.click("#unlock").await;
    b.wait_text(".flash", "Account unlocked").await;
    b.goto("/admin/users").await;
    b.find("#new-user").await;
    b.shot("admin-users").await;
    b.sign_out().await;
    b.sign_in("dev@example.com", PW).await;
    b.wait_text("h1", "Assigned to me").await;
}

async fn an_incident_goes_from_caller_to_l2_and_back_to_the_requester(engine: Engine) {
    let Some((t, _admin)) = desk(engine).await else { return };
    let Some(b) = Browser::start(&t).await else { return };
    // L1 takes a call: a new incident for a caller, found by type-ahead.
    b.sign_in("sam@example.com", PW).await;
    b.wait_text("h1", "Assigned to me").await;
    b.goto("/agent/new").await;
    let requester = b.find("#requester").await;
    b.post(&format!("/element/{requester}/value"), json!({"text": "Alice"})).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !b.exists("#people option[value='alice@example.com']").await {
        assert!(Instant::now() < deadline, "the type-ahead never offered Alice");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.fill("#requester", "alice@example.com").await;
    b.fill("#title", "Docking station does not charge the laptop").await;
    b.fill("#description", "Since Monday the dock in room 2.14 neither charges nor shows the screens.").await;
    b.click("#category option[value='Hardware / Docking station']").await;
    b.click("#impact option[value='2']").await;
    b.click("#urgency option[value='1']").await;
    // The priority follows impact and urgency without leaving the form.
    b.wait_text("#priority", "P2").await;
    b.shot("agent-new-incident").await;
    b.click("#new-ticket button[type=submit]").await;
    b.wait_text(".flash", "Ticket logged").await;
    let number = b.text(".summary .num").await;
    assert!(number.starts_with("INC"), "{number}");
    assert!(b.text("#ticket-assignee").await.contains("Sam Okafor"));

    // Escalation to L2 needs the troubleshooting done so far.
    b.shortcut("e", "escalate-reason").await;
    b.fill("#escalate-reason", "Hardware fault, needs a replacement dock").await;
    b.fill("#troubleshooting", "Reseated the USB-C cable, tried a second laptop, updated the dock firmware.").await;
    b.click("#escalate-box button[type=submit]").await;
    b.wait_text(".flash", "escalated").await;
    b.wait_text("#ticket-group", "Desktop Support").await;
    b.sign_out().await;

    // L2 finds it in their group's queue, takes it and resolves it.
    b.sign_in("dev@example.com", PW).await;
    b.wait_text("h1", "Assigned to me").await;
    b.click(".queues a[href^='/agent?queue=g']").await;
    b.wait_text("h1", "Desktop Support").await;
    b.click(&format!("a[href='/agent/tickets/{number}']")).await;
    b.wait_text("#ticket-title", "Docking station").await;
    assert!(b.text("#timeline").await.contains("updated the dock firmware"), "the troubleshooting travels with it");
    b.click("details:has(#assignee) > summary").await;
    b.click("button[name=me]").await;
    b.wait_text("#ticket-assignee", "Dana Vogel").await;
    b.shortcut("r", "reply").await;
    b.fill("#reply", "A new dock is on its way to room 2.14.").await;
    b.click("#reply-box button[type=submit]").await;
    b.wait_text(".flash", "Reply sent").await;
    b.shot("agent-ticket").await;
    b.click("details:has(#code) > summary").await;
    b.click("#code option[value='fixed']").await;
    b.fill("#notes", "Replaced the docking station; charging and both screens work.").await;
    b.click("details:has(#code) button[type=submit]").await;
    b.wait_text("#ticket-state", "resolved").await;
    b.sign_out().await;

    // The requester sees the resolution in the portal and says it is not solved.
    b.sign_in("alice@example.com", PW).await;
    b.wait_text("h1", "My requests").await;
    b.click("a[href='/portal?show=resolved']").await;
    b.wait_text(".mine", &number).await;
    assert!(b.text(".mine").await.contains("Resolved — please confirm"));
    b.shot("portal-home").await;
    b.click(&format!("a[href='/portal/tickets/{number}']")).await;
    b.wait_text(".notice", "Replaced the docking station").await;
    assert_eq!(b.text("#ticket-state").await, "Resolved — please confirm", "the page says what the list says");
    let conversation = b.text("#timeline").await;
    assert!(conversation.contains("A new dock is on its way"));
    assert!(!conversation.contains("updated the dock firmware"), "internal troubleshooting is not shown to requesters");
    b.shot("portal-ticket").await;
    b.fill("#reopen-reason", "The left screen still stays black.").await;
    b.click(".confirm form.stack button[type=submit]").await;
    b.wait_text(".flash", "reopened").await;
    assert!(!b.text("#ticket-state").await.contains("Resolved"));
    let sam = t.app.create_token_for("dev@example.com", "check").await.unwrap().token;
    let (_, tk) = t.get(&sam, &format!("/api/v1/tickets/{number}")).await;
    assert_eq!(tk["reopen_count"], 1, "{tk}");
    assert_eq!(tk["assignment_group"], "Desktop Support");

    // The L2 agent's open page shows the reopening by itself (live refresh).
    b.sign_out().await;
    b.sign_in("dev@example.com", PW).await;
    b.goto(&format!("/agent/tickets/{number}")).await;
    b.wait_text("#ticket-title", "Docking station").await;
    let (s, _) = t
        .post(
            &sam,
            &format!("/api/v1/tickets/{number}/comments"),
            json!({"body": "Colleague: checking the cable", "visibility": "internal"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    b.wait_text("#timeline", "Colleague: checking the cable").await;
}

async fn cross_site_forms_and_injected_scripts_do_nothing(engine: Engine) {
    let Some((t, admin)) = desk(engine).await else { return };
    let Some(b) = Browser::start(&t).await else { return };
    // A requester reports a problem whose title and description carry scripts.
    b.sign_in("alice@example.com", PW).await;
    b.wait_text("h1", "My requests").await;
    b.click("a.button.primary[href='/portal/new']").await;
    let evil = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">";
    b.fill("#title", &format!("Laptop {evil}")).await;
    b.fill("#description", &format!("It broke {evil}")).await;
    b.shot("portal-new").await;
    b.click("#report button[type=submit]").await;
    b.wait_text(".flash", "Ticket logged").await;
    let number = b.text(".summary .num").await;
    assert!(b.text("#ticket-title").await.contains("<script>window.__pwned=1</script>"), "shown as text");
    assert_eq!(b.script("return window.__pwned === undefined").await, json!(true));
    b.sign_out().await;
    b.sign_in("sam@example.com", PW).await;
    b.goto(&format!("/agent/tickets/{number}")).await;
    b.wait_text("#ticket-title", "<img src=x").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b.script("return window.__pwned === undefined").await, json!(true), "never run");

    // A page on another origin posts a form at Orion while Sam is signed in: refused.
    let target = format!("{}/agent/tickets/{number}/note", t.base);
    let attack = format!(
        "data:text/html,<form id=f method=post action='{target}'><input name=body value='forged by another site'></form>\
         <script>document.getElementById('f').submit()</script>"
    );
    b.goto(&attack).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !b.source().await.contains("cross_site_request") {
        assert!(Instant::now() < deadline, "the forged post was not refused: {}", b.source().await);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let (_, tl) = t.get(&admin, &format!("/api/v1/tickets/{number}/timeline")).await;
    assert!(!tl.to_string().contains("forged by another site"), "nothing was written");
    let (_, log) = t.get(&admin, "/api/v1/security/log").await;
    assert!(log.to_string().contains("cross_site_refused"), "{log}");
    // The same form from Orion's own page works.
    b.goto(&format!("/agent/tickets/{number}")).await;
    b.shortcut("n", "note").await;
    b.fill("#note", "Checked from our own page").await;
    b.click("#note-box button[type=submit]").await;
    b.wait_text(".flash", "Work note added").await;
}

async fn articles_are_suggested_searched_and_linked_in_the_browser(engine: Engine) {
    let Some((t, admin)) = desk(engine).await else { return };
    let (s, a) = t
        .post(
            &admin,
            "/api/v1/articles",
            json!({"title": "VPN keeps disconnecting", "audience": "public", "kind": "howto", "tags": ["vpn"],
                   "body": "## Steps\n\n1. Quit the **GlobalProtect** client\n2. Check the date and time\n3. Connect again"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let kb = a["number"].as_str().unwrap().to_string();
    let (s, b) = t.post(&admin, &format!("/api/v1/articles/{kb}/transition"), json!({"action": "publish"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let Some(b) = Browser::start(&t).await else { return };

    // A requester starts writing; the article appears under the form as they type.
    b.sign_in("alice@example.com", PW).await;
    b.goto("/portal/new").await;
    let title = b.find("#title").await;
    b.post(&format!("/element/{title}/value"), json!({"text": "my vpn disconnects"})).await;
    b.wait_text("#suggestions", "VPN keeps disconnecting").await;
    b.shot("portal-suggestions").await;
    let href = b.script("return document.querySelector('#suggestions a').getAttribute('href')").await;
    let href = href.as_str().unwrap().to_string();
    assert!(href.starts_with(&format!("/kb/{kb}?draft=")), "{href}");
    // Reading it (the link opens a new tab; here, the same one) and finding it helpful.
    b.goto(&href).await;
    b.wait_text("article h1", "VPN keeps disconnecting").await;
    assert_eq!(b.text("article .body strong").await, "GlobalProtect");
    b.click("button[formaction$='/do/helpful']").await;
    b.wait_text(".flash", "Thank you").await;
    b.sign_out().await;
    t.clock.advance_minutes(31);
    let (_, rep) = t.get(&admin, "/api/v1/kb/deflections").await;
    assert_eq!(rep["deflected"], 1, "{rep}");

    // An agent searches from the top box and links the article to a ticket.
    b.sign_in("sam@example.com", PW).await;
    b.shortcut("/", "q").await;
    b.keys("globalprotect\u{E007}").await;
    b.wait_text("#h-articles + ol", "VPN keeps disconnecting").await;
    assert_eq!(b.text("#h-articles + ol mark").await, "GlobalProtect");
    b.shot("agent-search").await;
    b.shortcut("/", "q").await;
    b.keys("vpn disconnects\u{E007}").await;
    b.wait_text("#h-tickets + ol", "VPN disconnects every few minutes").await;
    b.click("#h-tickets + ol a").await;
    b.wait_text("#kb-panel", "Related articles").await;
    b.click("#kb-panel form.inline button").await;
    b.wait_text(".flash", "Article linked").await;
    b.wait_text("#kb-panel", "Linked articles").await;
}

/// An admin adds an OpenID Connect provider in the console; someone new signs in with its button
/// on the real sign-in page, through the provider's own form (oidc-provider-mock), and lands on
/// the agent desk with the role their group gives; signing out goes through the provider.
async fn single_sign_on_set_up_and_used_in_the_browser(engine: Engine) {
    let Some(op) = crate::identity::OpenIdProvider::start().await else { return };
    let Some((t, admin)) = desk(engine).await else { return };
    let Some(b) = Browser::start(&t).await else { return };
    b.sign_in("admin@example.com", PW).await;
    b.goto("/admin/sso").await;
    b.wait_text("#callback-url", "/login/sso/callback").await;
    b.fill("#p-name", "Staff account").await;
    b.fill("#p-issuer", &op.url).await;
    b.fill("#p-client", "orion-web").await;
    b.fill("#p-secret", "s3cret-client").await;
    b.fill("input[name=rule_group]", "it-desk").await;
    b.script("document.querySelector('select[name=rule_role]').value = 'agent'").await;
    b.script("document.querySelector('select[name=rule_orion_group]').value = 'Service Desk'").await;
    b.click("#add-provider button[type=submit]").await;
    b.wait_text(".flash", "Provider added").await;
    b.shot("admin-sso").await;
    b.sign_out().await;

    op.set_user("dana", json!({"email": "dana@example.com", "name": "Dana Desk", "groups": ["it-desk"]})).await;
    b.goto("/login").await;
    b.wait_text("a.button.sso", "Sign in with Staff account").await;
    b.shot("sign-in-sso").await;
    b.click("a.button.sso").await;
    // The provider's own sign-in form.
    b.fill("input[name=sub]", "dana").await;
    assert!(b.url().await.starts_with(&op.url), "at the provider: {}", b.url().await);
    b.script("document.querySelector('input[name=sub]').form.submit()").await;
    b.wait_text("header .who", "Dana Desk").await;
    assert!(b.url().await.ends_with("/agent"), "on the desk: {}", b.url().await);
    b.wait_text("h1", "Assigned to me").await;
    let (_, users) = t.get(&admin, "/api/v1/users?q=dana").await;
    let dana = users["items"].as_array().unwrap().iter().find(|u| u["email"] == "dana@example.com").expect("created");
    assert_eq!(dana["role"], json!("agent"), "{users}");
    assert!(dana["groups"].to_string().contains("Service Desk"), "{users}");

    // Signing out ends the Orion session and goes on to the provider's end-session page.
    b.click("header .who button").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !b.url().await.contains("/oauth2/end_session") {
        assert!(Instant::now() < deadline, "never reached the provider's sign-out: {}", b.url().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.goto("/agent").await;
    b.find("#email").await;

    // A token the provider signed for another application, or with another sign-in's nonce, is
    // refused on the sign-in page with a sentence, and nobody is signed in.
    for (sub, claims) in [
        ("mallory", json!({"email": "mallory@example.com", "aud": "another-app"})),
        ("oscar", json!({"email": "oscar@example.com", "nonce": "someone-elses"})),
    ] {
        op.set_user(sub, claims).await;
        b.goto("/login").await;
        b.click("a.button.sso").await;
        b.fill("input[name=sub]", sub).await;
        b.script("document.querySelector('input[name=sub]').form.submit()").await;
        b.wait_text("#login-error", "did not pass Orion's checks").await;
        assert!(!b.exists("header .who").await, "{sub} was signed in");
    }
}

/// Chromium's virtual authenticator (WebDriver's WebAuthn extension) stands in for a USB
/// security key: an agent adds it on the account page, and the next sign-in asks for it.
async fn a_security_key_is_added_and_signs_in_in_the_browser(engine: Engine) {
    let Some((t, _admin)) = desk(engine).await else { return };
    let Some(mut b) = Browser::start(&t).await else { return };
    // Security keys need Orion to be reached by a name.
    b.base = t.base.replace("127.0.0.1", "localhost");
    let id = b
        .post(
            "/webauthn/authenticator",
            json!({"protocol": "ctap2", "transport": "usb", "hasResidentKey": false,
                   "hasUserVerification": true, "isUserVerified": true}),
        )
        .await;
    assert!(id.is_string(), "virtual authenticator: {id}");
    b.sign_in("sam@example.com", PW).await;
    b.goto("/account").await;
    b.fill("#key-name", "Desk key").await;
    b.click("#add-key").await;
    b.wait_text("h1", "recovery codes").await;
    b.goto("/account").await;
    b.wait_text("#security-keys", "Desk key").await;
    b.shot("account-security-keys").await;
    b.sign_out().await;

    b.goto("/login").await;
    b.fill("#email", "sam@example.com").await;
    b.fill("#password", PW).await;
    b.click("button[type=submit].primary").await;
    b.wait_text("h1", "Two-factor sign-in").await;
    b.shot("sign-in-security-key").await;
    b.click("#use-key").await;
    b.wait_text("h1", "Assigned to me").await;
    assert!(b.url().await.ends_with("/agent"), "{}", b.url().await);
}
