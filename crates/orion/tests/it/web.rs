//! The web UI over HTTP (no browser): sign-in and session security, CSRF refusal, lockout,
//! password policy and reset, permissions and escaping, on SQLite and PostgreSQL. The real
//! browser flows are in `browser.rs`.

use orion_testkit::{Engine, TestApp, engine_tests};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

engine_tests!(
    sign_in_sets_a_safe_cookie_and_rotates_the_session,
    sessions_end_when_idle_when_old_and_everywhere,
    repeated_failures_lock_the_account_until_unlocked,
    cross_site_posts_are_refused_and_logged,
    passwords_follow_the_policy_and_reset_by_mail_once,
    pages_enforce_roles_and_escape_what_people_typed,
    agent_forms_keep_typed_text_when_refused,
    admins_manage_the_directory_from_their_pages,
    requesters_confirm_a_resolution_in_the_portal,
    knowledge_pages_write_publish_search_suggest_and_link,
    monitoring_pages_show_alerts_windows_and_the_backup_board,
    asset_pages_list_show_and_move_assets,
    problem_and_change_pages,
);

pub(crate) const PW: &str = "staple horse battery correct";

/// A cookie-carrying client that posts forms like a browser of this site (with `Origin`).
pub(crate) struct Web {
    base: String,
    http: reqwest::Client,
    pub cookie: Option<String>,
    /// Other cookies the site set (the two-factor sign-in's challenge), by name
    pub others: std::collections::BTreeMap<String, String>,
}

pub(crate) struct Resp {
    pub status: StatusCode,
    pub location: String,
    pub body: String,
    pub headers: HeaderMap,
}

impl Web {
    pub fn new(t: &TestApp) -> Web {
        Self::with_base(&t.base)
    }

    /// A browser that reaches the server at `base` (e.g. by the name `localhost`, as security
    /// keys need).
    pub fn with_base(base: &str) -> Web {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Web { base: base.to_string(), http, cookie: None, others: Default::default() }
    }

    async fn finish(&mut self, r: reqwest::Response) -> Resp {
        let status = r.status();
        let headers = r.headers().clone();
        for c in headers.get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            if let Some(v) = c.strip_prefix("orion_session=") {
                let v = v.split(';').next().unwrap();
                self.cookie = (!v.is_empty()).then(|| v.to_string());
            } else if let Some((name, rest)) = c.split_once('=') {
                let v = rest.split(';').next().unwrap();
                if v.is_empty() {
                    self.others.remove(name);
                } else {
                    self.others.insert(name.to_string(), v.to_string());
                }
            }
        }
        let location = headers.get(LOCATION).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        Resp { status, location, body: r.text().await.unwrap(), headers }
    }

    fn with_cookie(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let mut all: Vec<String> = self.others.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if let Some(c) = &self.cookie {
            all.push(format!("orion_session={c}"));
        }
        if all.is_empty() { rb } else { rb.header("cookie", all.join("; ")) }
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        let rb = self.with_cookie(self.http.get(format!("{}{path}", self.base)));
        let r = rb.send().await.unwrap();
        self.finish(r).await
    }

    /// A form post from this site (as a browser sends it: with `Sec-Fetch-Site: same-origin`).
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.post_from(path, form, Some("same-origin"), Some(&self.base.clone())).await
    }

    pub async fn post_from(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        site: Option<&str>,
        origin: Option<&str>,
    ) -> Resp {
        let mut rb = self.with_cookie(self.http.post(format!("{}{path}", self.base))).form(form);
        if let Some(s) = site {
            rb = rb.header("sec-fetch-site", s);
        }
        if let Some(o) = origin {
            rb = rb.header("origin", o);
        }
        let r = rb.send().await.unwrap();
        self.finish(r).await
    }

    /// A form post as htmx sends it (a part of the page is asked for).
    pub async fn post_htmx(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        let rb = self
            .with_cookie(self.http.post(format!("{}{path}", self.base)))
            .form(form)
            .header("sec-fetch-site", "same-origin")
            .header("origin", self.base.clone())
            .header("hx-request", "true");
        let r = rb.send().await.unwrap();
        self.finish(r).await
    }

    pub async fn login(&mut self, email: &str, password: &str) -> Resp {
        self.post("/login", &[("email", email), ("password", password)]).await
    }
}

/// An admin, an L1 and an L2 agent with passwords, and a requester.
async fn desk(engine: Engine) -> Option<(TestApp, String)> {
    let t = TestApp::spawn(engine).await?;
    let admin = t.bootstrap_admin("admin@example.com").await;
    for (name, tier, up) in [("Desktop Support", 2, None), ("Service Desk", 1, Some("Desktop Support"))] {
        let (s, b) = t.post(&admin, "/api/v1/groups", json!({"name": name, "tier": tier, "escalates_to": up})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await;
    t.user(&admin, "dev@example.com", "agent", &["Desktop Support"]).await;
    t.user(&admin, "alice@example.com", "requester", &[]).await;
    t.user(&admin, "bob@example.com", "requester", &[]).await;
    for who in ["admin@example.com", "sam@example.com", "dev@example.com", "alice@example.com", "bob@example.com"] {
        t.app.set_password(who, PW.into()).await.unwrap();
    }
    Some((t, admin))
}

async fn security_kinds(t: &TestApp, admin: &str) -> Vec<String> {
    let (s, log) = t.get(admin, "/api/v1/security/log?limit=200").await;
    assert_eq!(s, StatusCode::OK, "{log}");
    log["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

async fn sign_in_sets_a_safe_cookie_and_rotates_the_session(engine: Engine) {
    let Some((t, admin)) = desk(engine).await else { return };
    let mut w = Web::new(&t);
    // Pages need a session: to the sign-in page, and back afterwards.
    let r = w.get("/agent?queue=unassigned").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location, "/login?next=%2Fagent%3Fqueue%3Dunassigned");

    let r = w.login("sam@example.com", PW).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location, "/agent");
    let set = r.headers.get(SET_COOKIE).unwrap().to_str().unwrap().to_string();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"), "{set}");
    assert!(!set.contains("Secure"), "plain HTTP: no Secure flag");
    let first = w.cookie.clone().unwrap();
    assert_eq!(first.len(), 64);
    let r = w.get("/agent").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Assigned to me"), "{}", r.body);

    // Signing in again (another account on the same browser) replaces the session: the old id is dead.
    let r = w.login("dev@example.com", PW).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let second = w.cookie.clone().unwrap();
    assert_ne!(first, second, "the session id changes at sign-in");
    let mut old = Web::new(&t);
    old.cookie = Some(first);
    assert_eq!(old.get("/agent").await.status, StatusCode::SEE_OTHER, "the previous session no longer works");

    // Behind a TLS proxy the cookie is Secure.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = http
        .post(format!("{}/login", t.base))
        .header("x-forwarded-proto", "https")
        .header("sec-fetch-site", "same-origin")
        .form(&[("email", "alice@example.com"), ("password", PW)])
        .send()
        .await
        .unwrap();
    assert!(r.headers().get(SET_COOKIE).unwrap().to_str().unwrap().contains("; Secure"));
    // A requester lands in the portal, and the console sends them there.
    let mut req = Web::new(&t);
    let r = req.login("alice@example.com", PW).await;
    assert_eq!(r.location, "/portal");
    assert_eq!(req.get("/agent").await.location, "/portal");
    // `next` never leaves the site.
    let mut w3 = Web::new(&t);
    let r = w3.post("/login", &[("email", "sam@example.com"), ("password", PW), ("next", "//evil.example/x")]).await;
    assert_eq!(r.location, "/agent");
    let kinds = security_kinds(&t, &admin).await;
    assert!(kinds.iter().filter(|k| *k == "sign_in").count() >= 4, "{kinds:?}");
}

async fn sessions_end_when_idle_when_old_and_everywhere(engine: Engine) {
    let Some((t, admin)) = desk(engine).await else { return };
    let (s, b) = t
        .put(&admin, "/api/v1/settings/security", json!({"idle_timeout_minutes": 30, "absolute_timeout_hours": 2}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mut w = Web::new(&t);
    w.login("sam@example.com", PW).await;
    // Busy: a request every 20 minutes keeps it alive past the idle limit…
    for _ in 0..5 {
        t.clock.advance_minutes(20);
        assert_eq!(w.get("/agent").await.status, StatusCode::OK);
    }
    // …but not past the absolute limit (2 h after sign-in).
    t.clock.advance_minutes(25);
    assert_eq!(w.get("/agent").await.status, StatusCode::SEE_OTHER, "absolute timeout");

    w.login("sam@example.com", PW).await;
    t.clock.advance_minutes(31);
    assert_eq!(w.get("/agent").await.status, StatusCode::SEE_OTHER, "idle timeout");

    // Sign out everywhere ends every session of the user, not others'.
    let mut a = Web::new(&t);
    let mut b = Web::new(&t);
    let mut other = Web::new(&t);
    a.login("sam@example.com", PW).await;
    b.login("sam@example.com", PW).await;
    other.login("dev@example.com", PW).await;
    let r = a.post("/logout-everywhere", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get("/agent").await.status, StatusCode::SEE_OTHER, "the other browser is signed out too");
    assert_eq!(other.get("/agent").await.status, StatusCode::OK, "someone else's session stays");
    // Plain sign-out ends only this one.
    let r = other.post("/logout", &[]).await;
    assert_eq!(r.location, "/login?m=signed_out");
    assert_eq!(other.get("/agent").await.status, StatusCode::SEE_OTHER);
    let kinds = security_kinds(&t, &admin).await;
    for k in ["session_expired", "sign_out_everywhere", "sign_out"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
    // Deactivating a user ends their sessions at the next request.
    let mut d = Web::new(&t);
    d.login("dev@example.com", PW).await;
    let (_, users) = t.get(&admin, "/api/v1/users?q=dev@").await;
    let id = users["items"][0]["id"].as_i64().unwrap();
    let (s, _) = t.patch(&admin, &format!("/api/v1/users/{id}"), json!({"active": false})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d.get("/agent").await.status, StatusCode::SEE_OTHER);
}

async fn repeated_failures_lock_the_account_until_unlocked(engine: Engine) {
    let Some((t, admin)) = desk(engine).await else { return };
    let (s, b) = t
        .put(
            &admin,
            "/api/v1/settings/security",
            json!({"lockout_threshold": 3, "lockout_minutes": 0, "max_failures_per_address": 8}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mut w = Web::new(&t);
    for _ in 0..3 {
        let r = w.login("sam@example.com", "not the password at all").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.body.contains("Wrong e-mail or password"), "{}", r.body);
    }
    // Locked: the right password no longer works, and the answer does not say which it was.
    let r = w.login("sam@example.com", PW).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(w.cookie.is_none());
    // An unknown account gets the very same answer.
    let r2 = w.login("nobody@example.com", PW).await;
    assert_eq!(r2.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body, r2.body.replace("nobody@example.com", "sam@example.com"));
    // Agents may not unlock; admins may.
    let (_, users) = t.get(&admin, "/api/v1/users?q=sam@").await;
    let id = users["items"][0]["id"].as_i64().unwrap();
    let sam_token = t.app.create_token_for("sam@example.com", "t").await.unwrap().token;
    let (s, _) = t.post(&sam_token, &format!("/api/v1/users/{id}/unlock"), json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t.post(&admin, &format!("/api/v1/users/{id}/unlock"), json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let r = w.login("sam@example.com", PW).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "unlocked: {}", r.body);
    let kinds = security_kinds(&t, &admin).await;
    for k in ["account_locked", "account_unlocked", "sign_in_failed"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
    // Too many failures from one address: that address waits, whatever the account.
    for _ in 0..4 {
        w.login("bob@example.com", "wrong wrong wrong wrong").await;
    }
    let r = w.login("bob@example.com", PW).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("Too many failed sign-ins from your network"), "{}", r.body);
    assert!(security_kinds(&t, &admin).await.iter().any(|k| k == "sign_in_throttled"));
    // A time-limited lockout ends by itself.
    let (s, _) =
        t.put(&admin, "/api/v1/settings/security", json!({"lockout_threshold": 2, "lockout_minutes": 10})).await;
    assert_eq!(s, StatusCode::OK);
    let mut other = Web::new(&t);
    other.login("dev@example.com", "wrong wrong wrong wrong").await;
    other.login("dev@example.com", "wrong wrong wrong wrong").await;
    t.clock.advance_minutes(16); // past the lockout and the address window
    assert_eq!(other.login("dev@example.com", PW).await.status, StatusCode::SEE_OTHER);
}

async fn cross_site_posts_are_refused_and_logged(engine: Engine) {
    let Some((t, admin)) = desk(engine).await else { return };
    let sam = t.app.create_token_for("sam@example.com", "t").await.unwrap().token;
    let (s, inc) = t
        .post(
            &sam,
            "/api/v1/tickets",
            json!({"title": "VPN drops", "requester": "alice@example.com", "impact": 3, "urgency": 3}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let n = inc["number"].as_str().unwrap().to_string();
    let mut w = Web::new(&t);
    w.login("sam@example.com", PW).await;
    let path = format!("/agent/tickets/{n}/note");
    let note = [("body", "forged note")];
    for (site, origin) in [
        (Some("cross-site"), Some("https://evil.example")),
        (Some("same-site"), Some("http://127.0.0.1:1")),
        (None, Some("https://evil.example")),
        (None, None), // a cookie and no origin at all
    ] {
        let r = w.post_from(&path, &note, site, origin).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{site:?} {origin:?}");
        assert!(r.body.contains("cross_site_request"), "{}", r.body);
    }
    // Sign-in itself is protected (login CSRF).
    let mut fresh = Web::new(&t);
    let r =
        fresh.post_from("/login", &[("email", "sam@example.com"), ("password", PW)], Some("cross-site"), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(fresh.cookie.is_none());
    let (_, tl) = t.get(&sam, &format!("/api/v1/tickets/{n}/timeline")).await;
    assert!(!tl.to_string().contains("forged note"), "nothing was written");
    // The same request from the site itself works, by Fetch Metadata or by Origin.
    assert_eq!(w.post(&path, &note).await.status, StatusCode::SEE_OTHER);
    let base = t.base.clone();
    assert_eq!(w.post_from(&path, &[("body", "second")], None, Some(&base)).await.status, StatusCode::SEE_OTHER);
    // API clients with a token are not browsers riding on a cookie: unaffected.
    let (s, _) =
        t.post(&sam, &format!("/api/v1/tickets/{n}/comments"), json!({"body": "api", "visibility": "internal"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let kinds = security_kinds(&t, &admin).await;
    assert_eq!(kinds.iter().filter(|k| *k == "cross_site_refused").count(), 5, "{kinds:?}");
}

async fn passwords_follow_the_policy_and_reset_by_mail_once(engine: Engine) {
    let Some((t, admin)) = desk(engine).await else { return };
    let mut w = Web::new(&t);
    w.login("alice@example.com", PW).await;
    // NIST 800-63B: length and common passwords, no composition rules.
    for (bad, why) in
        [("short pw", "at least 15"), ("password12345678", "too common"), ("alice@example.com!", "name or e-mail")]
    {
        let r = w.post("/account/password", &[("current_password", PW), ("new_password", bad), ("confirm", bad)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(r.body.contains(why), "{bad}: {}", r.body);
    }
    let r = w.post("/account/password", &[("current_password", "wrong"), ("new_password", PW), ("confirm", PW)]).await;
    assert!(r.body.contains("is not your current password"));
    let mut elsewhere = Web::new(&t);
    elsewhere.login("alice@example.com", PW).await;
    let new = "my printer eats blue paper";
    let r = w.post("/account/password", &[("current_password", PW), ("new_password", new), ("confirm", new)]).await;
    assert_eq!(r.location, "/account?m=password", "{}", r.body);
    assert_eq!(w.get("/portal").await.status, StatusCode::OK, "this session stays");
    assert_eq!(elsewhere.get("/portal").await.status, StatusCode::SEE_OTHER, "other sessions end");

    // Reset by mail needs a sender and the portal's address; without them the page tells the
    // person what they can do, not what the admin has not configured.
    let mut anon = Web::new(&t);
    let r = anon.post("/password/forgot", &[("email", "alice@example.com")]).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.body.contains("Ask the service desk"), "{}", r.body);
    assert!(!r.body.contains("portal URL") && !r.body.contains("sender"), "{}", r.body);
    let (s, b) = t
        .put(&admin, "/api/v1/settings/mail", json!({"addresses": ["help@example.com"], "portal_url": t.base.clone()}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Known or unknown, the answer is the same.
    let r = anon.post("/password/forgot", &[("email", "nobody@example.com")]).await;
    assert_eq!(r.location, "/login?m=reset_sent");
    let r = anon.post("/password/forgot", &[("email", "alice@example.com")]).await;
    assert_eq!(r.location, "/login?m=reset_sent");
    let (_, out) = t.get(&admin, "/api/v1/mail/outbound").await;
    let items = out["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one message, to the known account only: {out}");
    assert_eq!(items[0]["template"], "password_reset");
    assert_eq!(items[0]["recipients"], json!(["alice@example.com"]));
    let id = items[0]["id"].as_i64().unwrap();
    // The message holds a secret: the outbox does not show it, not even to admins.
    let (s, _) = t.get(&admin, &format!("/api/v1/mail/outbound/{id}/raw")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let raw = {
        let mut r = t.app.db.read().await.unwrap();
        let sha = orion_store::outbox::get(&mut r.conn(), id).await.unwrap().raw_sha256;
        String::from_utf8(orion_store::mail::get_blob(&mut r.conn(), &sha).await.unwrap()).unwrap()
    };
    let unfolded = raw.replace("=\r\n", "").replace("=3D", "=");
    let start = unfolded.find("/password/reset/").expect("a reset link in the mail");
    let secret: String = unfolded[start + 16..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    assert_eq!(secret.len(), 64);
    let link = format!("/password/reset/{secret}");
    assert!(anon.get(&link).await.body.contains("Choose a new password"));
    // A refused password leaves the link usable; a good one uses it up.
    let r = anon.post(&link, &[("password", "qwertyuiopasdfgh"), ("confirm", "qwertyuiopasdfgh")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fresh = "lanterns glow over the quiet harbour";
    let r = anon.post(&link, &[("password", fresh), ("confirm", fresh)]).await;
    assert_eq!(r.location, "/login?m=reset_done", "{}", r.body);
    let r = anon
        .post(&link, &[("password", "another long passphrase here"), ("confirm", "another long passphrase here")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "the link works once");
    assert_eq!(w.get("/portal").await.status, StatusCode::SEE_OTHER, "a reset ends every session");
    assert_eq!(anon.login("alice@example.com", new).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anon.login("alice@example.com", fresh).await.status, StatusCode::SEE_OTHER);
    // Expired links do not work.
    anon.post("/password/forgot", &[("email", "bob@example.com")]).await;
    t.clock.advance_minutes(61);
    let (_, out) = t.get(&admin, "/api/v1/mail/outbound").await;
    assert_eq!(out["items"].as_array().unwrap().len(), 2);
    let kinds = security_kinds(&t, &admin).await;
    for k in ["password_changed", "password_reset_requested", "password_reset"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
}

/// Whether `text` appears HTML-escaped (named or numeric entities) in `html`.
fn shown_as_text(html: &str, text: &str) -> bool {
    let named = text.replace('<', "&lt;").replace('>', "&gt;");
    let numeric = text.replace('<', "&#60;").replace('>', "&#62;");
    html.contains(&named) || html.contains(&numeric)
}

async fn pages_enforce_roles_and_escape_what_people_typed(engine: Engine) {
    let Some((t, _admin)) = desk(engine).await else { return };
    let mut alice = Web::new(&t);
    alice.login("alice@example.com", PW).await;
    let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let r = alice.get("/portal/new").await;
    assert_eq!(r.status, StatusCode::OK);
    // The portal form is multipart; send it as a browser would.
    let form = reqwest::multipart::Form::new()
        .text("kind", "incident")
        .text("title", format!("Title {evil}"))
        .text("description", format!("Description {evil}"))
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"log line 1\n".to_vec())
                .file_name("vpn.log")
                .mime_str("text/plain")
                .unwrap(),
        );
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = http
        .post(format!("{}/portal/new", t.base))
        .header("cookie", format!("orion_session={}", alice.cookie.clone().unwrap()))
        .header("sec-fetch-site", "same-origin")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    assert_eq!(status, StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let loc = headers[LOCATION].to_str().unwrap().to_string();
    let n = loc.trim_start_matches("/portal/tickets/").split('?').next().unwrap().to_string();
    let page = alice.get(&format!("/portal/tickets/{n}")).await;
    assert!(shown_as_text(&page.body, "<script>alert(1)</script>"), "{}", page.body);
    assert!(!page.body.contains("<script>alert"), "never raw");
    assert!(!page.body.contains("<img src=x"), "never raw");
    assert!(page.body.contains("vpn.log"), "the attachment is listed");
    let csp = page.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    // The file downloads for its owner, never as a page of this site.
    let href = page.body.split("href=\"/attachments/").nth(1).unwrap().split('"').next().unwrap().to_string();
    let f = alice.get(&format!("/attachments/{href}")).await;
    assert_eq!(f.status, StatusCode::OK);
    assert_eq!(f.body, "log line 1\n");
    assert!(f.headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
    // Another requester sees neither the ticket nor its file.
    let mut bob = Web::new(&t);
    bob.login("bob@example.com", PW).await;
    assert_eq!(bob.get(&format!("/portal/tickets/{n}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(bob.get(&format!("/attachments/{href}")).await.status, StatusCode::NOT_FOUND);
    assert!(!bob.get("/portal?show=all").await.body.contains(&n));
    assert!(alice.get("/portal?show=all").await.body.contains(&n));
    // Agents see it escaped too; only admins open admin pages.
    let mut sam = Web::new(&t);
    sam.login("sam@example.com", PW).await;
    let page = sam.get(&format!("/agent/tickets/{n}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script>alert") && shown_as_text(&page.body, "<script>alert(1)</script>"));
    assert_eq!(sam.get("/admin/users").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        sam.post("/admin/users", &[("email", "x@example.com"), ("name", "X")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(alice.get("/admin/security").await.status, StatusCode::FORBIDDEN);
    assert_eq!(alice.get(&format!("/agent/tickets/{n}")).await.location, "/portal");
    let mut admin = Web::new(&t);
    admin.login("admin@example.com", PW).await;
    for p in [
        "/admin/users",
        "/admin/groups",
        "/admin/categories",
        "/admin/priority-matrix",
        "/admin/tokens",
        "/admin/security",
    ] {
        assert_eq!(admin.get(p).await.status, StatusCode::OK, "{p}");
    }
    // Static assets are embedded and cacheable.
    let js = admin.get("/static/htmx.min.js").await;
    assert_eq!(js.status, StatusCode::OK);
    let tag = js.headers["etag"].to_str().unwrap().to_string();
    let again = http.get(format!("{}/static/htmx.min.js", t.base)).header("if-none-match", &tag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

async fn agent_forms_keep_typed_text_when_refused(engine: Engine) {
    let Some((t, _admin)) = desk(engine).await else { return };
    let mut sam = Web::new(&t);
    sam.login("sam@example.com", PW).await;
    // The new-incident form: a missing title is named, and what was typed stays.
    let r = sam
        .post(
            "/agent/new",
            &[
                ("requester", "alice@example.com"),
                ("title", ""),
                ("description", "Typed with care"),
                ("impact", "2"),
                ("urgency", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Short description:"), "named by the form's label: {}", r.body);
    assert!(r.body.contains("Typed with care"));
    let r = sam
        .post("/agent/new", &[("requester", "not an address"), ("title", "x"), ("impact", "2"), ("urgency", "2")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Caller:") && !r.body.contains("requester:"), "{}", r.body);
    let r = sam
        .post(
            "/agent/new",
            &[
                ("requester", "alice@example.com"),
                ("title", "Laptop will not dock"),
                ("impact", "2"),
                ("urgency", "1"),
                ("mine", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let n = r.location.trim_start_matches("/agent/tickets/").split('?').next().unwrap().to_string();
    // Priority preview follows the matrix (impact 2, urgency 1 → P2 by default).
    let p = sam.get("/agent/priority?impact=2&urgency=1").await;
    assert!(p.body.contains("P2"), "{}", p.body);
    // Escalating without the troubleshooting done is refused, the reason typed is kept.
    let r = sam
        .post(&format!("/agent/tickets/{n}/escalate"), &[("reason", "Needs a new dock"), ("troubleshooting", "")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("troubleshooting"), "{}", r.body);
    assert!(r.body.contains("Needs a new dock"));
    let r = sam
        .post(
            &format!("/agent/tickets/{n}/escalate"),
            &[("reason", "Needs a new dock"), ("troubleshooting", "Swapped cable; reseated")],
        )
        .await;
    assert_eq!(r.location, format!("/agent/tickets/{n}?m=escalated"), "{}", r.body);
    let page = sam.get(&format!("/agent/tickets/{n}?m=escalated")).await;
    assert!(page.body.contains("Ticket escalated."));
    assert!(page.body.contains("Desktop Support"));
    // The live poll answers 204 while nothing changes, and the fresh timeline once something does.
    let version = page.body.split("live?v=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let last = page
        .body
        .split("&amp;e=")
        .nth(1)
        .or(page.body.split("&e=").nth(1))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let live = format!("/agent/tickets/{n}/live?v={version}&e={last}");
    assert_eq!(sam.get(&live).await.status, StatusCode::NO_CONTENT);
    let mut dev = Web::new(&t);
    dev.login("dev@example.com", PW).await;
    assert_eq!(
        dev.post(&format!("/agent/tickets/{n}/note"), &[("body", "Ordering a dock")]).await.status,
        StatusCode::SEE_OTHER
    );
    let r = sam.get(&live).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Ordering a dock"));
    // Search: a number opens the ticket, words search titles.
    assert_eq!(sam.get(&format!("/agent/search?q={}", n.to_lowercase())).await.location, format!("/agent/tickets/{n}"));
    let r = sam.get("/agent/search?q=will%20not").await;
    assert!(r.body.contains(&n), "{}", r.body);
    assert!(!sam.get("/agent/search?q=nothing%20like%20this").await.body.contains(&n));
    // Type-ahead finds the caller by name or address.
    assert!(sam.get("/agent/people?requester=ali").await.body.contains("alice@example.com"));
}

async fn admins_manage_the_directory_from_their_pages(engine: Engine) {
    let Some((t, admin)) = desk(engine).await else { return };
    let mut w = Web::new(&t);
    w.login("admin@example.com", PW).await;
    // A user with a role and groups; a bad address is named and what was typed stays.
    let r = w.post("/admin/users", &[("email", "not-an-address"), ("name", "Kim Lee"), ("role", "agent")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("email:") && r.body.contains("Kim Lee"), "{}", r.body);
    let r = w
        .post(
            "/admin/users",
            &[
                ("email", "kim@example.com"),
                ("name", "Kim Lee"),
                ("role", "agent"),
                ("groups", "Service Desk"),
                ("groups", "Desktop Support"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let user_page = r.location.split('?').next().unwrap().to_string();
    let (_, u) = t.get(&admin, "/api/v1/users?q=kim@").await;
    assert_eq!(u["items"][0]["groups"], json!(["Desktop Support", "Service Desk"]), "{u}");
    // Promote to lead, leave one group, then deactivate.
    let r = w
        .post(&user_page, &[("name", "Kim Lee"), ("role", "lead"), ("groups", "Desktop Support"), ("active", "on")])
        .await;
    assert_eq!(r.location, format!("{user_page}?m=user_saved"), "{}", r.body);
    let (_, u) = t.get(&admin, "/api/v1/users?q=kim@").await;
    assert_eq!(u["items"][0]["role"], "lead");
    assert_eq!(u["items"][0]["groups"], json!(["Desktop Support"]));
    w.post(&user_page, &[("name", "Kim Lee"), ("role", "lead"), ("groups", "Desktop Support")]).await;
    let (_, u) = t.get(&admin, "/api/v1/users?q=kim@").await;
    assert_eq!(u["items"][0]["active"], false);
    // An admin-set password follows the policy.
    let r = w.post(&format!("{user_page}/password"), &[("password", "password")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Groups, categories, the matrix.
    let r =
        w.post("/admin/groups", &[("name", "Network Ops"), ("tier", "3"), ("escalates_to", ""), ("lead", "")]).await;
    assert_eq!(r.location, "/admin/groups?m=group_saved", "{}", r.body);
    let (_, groups) = t.get(&admin, "/api/v1/groups").await;
    let ds = groups.as_array().unwrap().iter().find(|g| g["name"] == "Desktop Support").unwrap().clone();
    let r = w
        .post(
            &format!("/admin/groups/{}", ds["id"]),
            &[
                ("name", "Desktop Support"),
                ("tier", "2"),
                ("escalates_to", "Network Ops"),
                ("lead", "dev@example.com"),
                ("description", "L2"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, g) = t.get(&admin, &format!("/api/v1/groups/{}", ds["id"])).await;
    assert_eq!((g["escalates_to"].as_str(), g["lead"].as_str()), (Some("Network Ops"), Some("dev@example.com")), "{g}");
    assert_eq!(w.post("/admin/categories", &[("name", "Hardware")]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        w.post("/admin/categories", &[("name", "Printer"), ("parent", "Hardware")]).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(w.get("/admin/categories").await.body.contains("Hardware / Printer"));
    let mut cells: Vec<(String, String)> = Vec::new();
    for i in 1..=3 {
        for u in 1..=3 {
            cells.push((format!("p{i}{u}"), (i + u - 1).to_string()));
        }
    }
    cells[0].1 = "1".into();
    let refs: Vec<(&str, &str)> = cells.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = w.post("/admin/priority-matrix", &refs).await;
    assert_eq!(r.location, "/admin/priority-matrix?m=matrix_saved", "{}", r.body);
    let (_, m) = t.get(&admin, "/api/v1/settings/priority-matrix").await;
    assert_eq!(m["rows"], json!([[1, 2, 3], [2, 3, 4], [3, 4, 5]]));
    // Tokens: created on the account page (shown once), listed for admins with their owner, revoked.
    let mut sam = Web::new(&t);
    sam.login("sam@example.com", PW).await;
    let r = sam.post("/account/tokens", &[("name", "monitoring script")]).await;
    let token = r.body.split("id=\"new-token\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    assert!(token.starts_with("orion_"));
    assert_eq!(t.get(&token, "/api/v1/me").await.0, StatusCode::OK);
    assert!(!sam.get("/account").await.body.contains(&token), "shown once");
    let page = w.get("/admin/tokens").await;
    assert!(page.body.contains("monitoring script") && page.body.contains("sam@example.com"));
    let id = page.body.split("/admin/tokens/").nth(1).unwrap().split('/').next().unwrap().to_string();
    assert_eq!(w.post(&format!("/admin/tokens/{id}/revoke"), &[]).await.status, StatusCode::SEE_OTHER);
    // The revoking node forgets the token at once.
    assert_eq!(t.get(&token, "/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    // Security settings from the page, validated.
    let r = w.post("/admin/security", &[("lockout_threshold", "0")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("lockout threshold"), "{}", r.body);
    let r = w.post("/admin/security", &[("lockout_threshold", "7"), ("idle_timeout_minutes", "45")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let (_, s) = t.get(&admin, "/api/v1/settings/security").await;
    assert_eq!((s["lockout_threshold"].as_i64(), s["idle_timeout_minutes"].as_i64()), (Some(7), Some(45)));
    let kinds = security_kinds(&t, &admin).await;
    for k in ["token_created", "token_revoked", "settings_changed"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
}

async fn requesters_confirm_a_resolution_in_the_portal(engine: Engine) {
    let Some((t, _admin)) = desk(engine).await else { return };
    let sam = t.app.create_token_for("sam@example.com", "t").await.unwrap().token;
    let (_, inc) =
        t.post(&sam, "/api/v1/tickets", json!({"title": "Teams has no sound", "requester": "alice@example.com"})).await;
    let n = inc["number"].as_str().unwrap().to_string();
    let (s, _) = t
        .post(
            &sam,
            &format!("/api/v1/tickets/{n}/resolve"),
            json!({"resolution_code": "fixed", "resolution_notes": "Reset the audio device"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut alice = Web::new(&t);
    alice.login("alice@example.com", PW).await;
    let page = alice.get(&format!("/portal/tickets/{n}")).await;
    assert!(page.body.contains("Is your problem solved?") && page.body.contains("Reset the audio device"));
    // A reopen needs a reason; the page says so.
    let r = alice.post(&format!("/portal/tickets/{n}/reopen"), &[("reason", "")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = alice.post(&format!("/portal/tickets/{n}/confirm"), &[]).await;
    assert_eq!(r.location, format!("/portal/tickets/{n}?m=closed"), "{}", r.body);
    let (_, tk) = t.get(&sam, &format!("/api/v1/tickets/{n}")).await;
    assert_eq!(tk["state"], "closed");
    let page = alice.get(&format!("/portal/tickets/{n}")).await;
    assert!(page.body.contains("This request is closed") && !page.body.contains("Add a message"));
    // Mail links (/tickets/N) send each role to its own view.
    assert_eq!(alice.get(&format!("/tickets/{n}")).await.location, format!("/portal/tickets/{n}"));
    let mut agent = Web::new(&t);
    agent.login("sam@example.com", PW).await;
    assert_eq!(agent.get(&format!("/tickets/{n}")).await.location, format!("/agent/tickets/{n}"));
    // A file over the limit is refused before anything is written: no ticket, the text kept.
    let (_, before) = t.get(&sam, "/api/v1/tickets?requester=alice@example.com").await;
    let form = reqwest::multipart::Form::new()
        .text("kind", "incident")
        .text("title", "Scanner makes huge files")
        .part("files", reqwest::multipart::Part::bytes(vec![b'x'; 11 * 1024 * 1024]).file_name("scan.pdf"));
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = http
        .post(format!("{}/portal/new", t.base))
        .header("cookie", format!("orion_session={}", alice.cookie.clone().unwrap()))
        .header("sec-fetch-site", "same-origin")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(body.contains("scan.pdf is larger than 10 MiB") && body.contains("Scanner makes huge files"), "{body}");
    let (_, after) = t.get(&sam, "/api/v1/tickets?requester=alice@example.com").await;
    assert_eq!(before["items"].as_array().unwrap().len(), after["items"].as_array().unwrap().len());
}

async fn knowledge_pages_write_publish_search_suggest_and_link(engine: Engine) {
    let Some((t, admin)) = desk(engine).await else { return };
    t.user(&admin, "lee@example.com", "lead", &["Service Desk"]).await;
    t.app.set_password("lee@example.com", PW.into()).await.unwrap();
    let mut sam = Web::new(&t);
    sam.login("sam@example.com", PW).await;
    let mut lee = Web::new(&t);
    lee.login("lee@example.com", PW).await;
    let mut alice = Web::new(&t);
    alice.login("alice@example.com", PW).await;

    // An agent writes an article; a refused form keeps what was typed.
    assert_eq!(sam.get("/kb/new").await.status, StatusCode::OK);
    let r =
        sam.post("/kb/new", &[("title", ""), ("body", "Typed steps"), ("kind", "howto"), ("audience", "public")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("title: is required") && r.body.contains("Typed steps"), "{}", r.body);
    let body = "## Steps\n\n1. Quit the **GlobalProtect** client\n2. Start it again\n\n<script>alert('x')</script>";
    let form = [
        ("title", "VPN disconnects every few minutes"),
        ("body", body),
        ("kind", "howto"),
        ("audience", "public"),
        ("tags", "vpn, remote work"),
        ("version", "0"),
    ];
    let r = sam.post("/kb/new", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let path = r.location.split('?').next().unwrap().to_string();
    let number = path.trim_start_matches("/kb/").to_string();
    let page = sam.get(&path).await;
    assert!(page.body.contains("<strong>GlobalProtect</strong>"), "{}", page.body);
    assert!(!page.body.contains("<script>alert"), "article HTML is sanitised");
    assert!(
        page.body.contains("Submit for review") && !page.body.contains(">Publish<"),
        "agents submit, leads publish"
    );
    // A draft is not on the portal.
    assert_eq!(alice.get(&path).await.status, StatusCode::NOT_FOUND);
    assert!(!alice.get("/help?q=globalprotect").await.body.contains(&number));
    assert_eq!(alice.get("/kb/new").await.location, "/help");
    // The lead publishes; requesters find it.
    let r = lee.post(&format!("{path}/do/publish"), &[("note", "")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = alice.get("/help?q=globalprotect").await;
    assert!(r.body.contains(&number) && r.body.contains("<mark>GlobalProtect</mark>"), "{}", r.body);
    // Feedback from the portal.
    let r = alice.post(&format!("{path}/do/helpful"), &[("comment", "")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(alice.get(&path).await.body.contains("1 of 1 readers"));

    // Editing makes a version; the history page shows the change.
    let edit = sam.get(&format!("{path}/edit")).await;
    assert!(edit.body.contains("name=\"version\" value=\"1\""), "{}", edit.body);
    let body2 = "## Steps\n\n1. Quit the **GlobalProtect** client\n2. Check the date and time\n";
    let mut form2 = form.to_vec();
    form2.retain(|(k, _)| *k != "body" && *k != "version");
    form2.extend([("body", body2), ("version", "1"), ("note", "step 2 clearer")]);
    let r = sam.post(&format!("{path}/edit"), &form2).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = sam.post(&format!("{path}/edit"), &form2).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "a stale version is refused");
    assert!(r.body.contains("changed by someone else"), "{}", r.body);
    let h = sam.get(&format!("{path}/history")).await;
    assert!(h.body.contains("class=\"insert\">+ 2. Check the date and time"), "{}", h.body);
    assert!(h.body.contains("step 2 clearer"));

    // Suggestions while a requester writes a ticket, tied to the form for deflection.
    let form_page = alice.get("/portal/new").await;
    let key =
        form_page.body.split("name=\"draft_key\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert_eq!(key.len(), 24, "{}", form_page.body);
    let sug = alice.get(&format!("/kb/suggest?title=vpn%20disconnects&description=&draft_key={key}")).await;
    assert!(sug.body.contains(&format!("/kb/{number}?draft={key}")), "{}", sug.body);
    assert!(!sug.body.contains("Similar resolved tickets"), "requesters see articles only");
    assert_eq!(alice.get(&format!("/kb/{number}?draft={key}")).await.status, StatusCode::OK);
    t.clock.advance_minutes(31);
    let (_, rep) = t.get(&admin, "/api/v1/kb/deflections").await;
    assert_eq!((rep["opened"].as_i64(), rep["deflected"].as_i64()), (Some(1), Some(1)), "{rep}");

    // One search box for staff: tickets and articles, with the ticket's panel linking articles.
    let (s, inc) = t
        .post(
            &admin,
            "/api/v1/tickets",
            json!({"kind": "incident", "title": "VPN disconnects at home", "description": "GlobalProtect again",
                   "impact": 3, "urgency": 3, "requester": "alice@example.com", "channel": "phone"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let n = inc["number"].as_str().unwrap();
    let r = sam.get("/agent/search?q=globalprotect").await;
    assert!(r.body.contains(n) && r.body.contains(&number), "{}", r.body);
    let panel = sam.get(&format!("/agent/tickets/{n}/kb")).await;
    assert!(panel.body.contains("Related articles") && panel.body.contains(&number), "{}", panel.body);
    let r = sam.post(&format!("/agent/tickets/{n}/link_article"), &[("article", &number)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(sam.get(&format!("/agent/tickets/{n}/kb")).await.body.contains("Linked articles"));
    // The timeline says it in a sentence, not with the event's key.
    let page = sam.get(&format!("/agent/tickets/{n}")).await;
    assert!(page.body.contains(&format!("linked article {number}")), "{}", page.body);
    assert!(!page.body.contains("article_linked") && !page.body.contains("sla_started"), "{}", page.body);
    // The requester's page lists what the desk linked; an internal runbook linked too stays hidden.
    let (s, rb) = t
        .post(
            &admin,
            "/api/v1/articles",
            json!({"title": "GlobalProtect gateway runbook", "kind": "runbook", "audience": "internal",
                   "body": "Restart the gateway service."}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rb}");
    let runbook = rb["number"].as_str().unwrap().to_string();
    let (s, b) = t
        .post(&admin, &format!("/api/v1/articles/{runbook}/transition"), json!({"action": "publish", "note": "ok"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let r = sam.post(&format!("/agent/tickets/{n}/link_article"), &[("article", &runbook)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(sam.get(&format!("/agent/tickets/{n}/kb")).await.body.contains(&runbook));
    let portal = alice.get(&format!("/portal/tickets/{n}")).await;
    assert_eq!(portal.status, StatusCode::OK);
    let linked = portal.body.split("id=\"linked-articles\"").nth(1).expect("linked articles on the portal");
    let linked = linked.split("</ul>").next().unwrap();
    assert!(linked.contains(&format!("/kb/{number}")), "{}", portal.body);
    assert!(!portal.body.contains(&runbook), "internal articles never reach the portal: {}", portal.body);
    let r = sam.post(&format!("/agent/tickets/{n}/link_article"), &[("article", "KB7654321")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("no article KB7654321"), "{}", r.body);
    // After resolution, an article can be written from the ticket, prefilled.
    let (s, b) = t
        .post(
            &admin,
            &format!("/api/v1/tickets/{n}/resolve"),
            json!({"resolution_code": "fixed", "resolution_notes": "Reinstalled the VPN profile"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(sam.get(&format!("/agent/tickets/{n}/kb")).await.body.contains(&format!("/kb/new?from={n}")));
    let pre = sam.get(&format!("/kb/new?from={n}")).await;
    assert!(
        pre.body.contains("Reinstalled the VPN profile") && pre.body.contains(&format!("value=\"{n}\"")),
        "{}",
        pre.body
    );
}

/// The monitoring pages: alerts with their incident, a maintenance window started and ended from
/// the page (a bad matcher refused with the typed text kept), the alerts on the incident's page,
/// the backup board; requesters are sent to the portal.
async fn monitoring_pages_show_alerts_windows_and_the_backup_board(engine: Engine) {
    let Some((t, admin)) = desk(engine).await else { return };
    let (s, b) = t
        .post(
            &admin,
            "/api/v1/integrations",
            json!({"name": "prometheus", "kind": "webhook",
                                                      "assignment_group": "Desktop Support"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let token = b["token"].as_str().unwrap().to_string();
    let alert = json!({"source": "nagios", "dedup_key": "disk-fs01", "severity": "critical", "status": "firing",
                       "summary": "Disk <full> on fs01", "ci": "fs01", "details": "97% used"});
    let r = t
        .client
        .post(format!("{}/api/v1/integrations/webhook", t.base))
        .bearer_auth(&token)
        .json(&alert)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let report: Value = r.json().await.unwrap();
    let incident = report["alerts"][0]["incident"].as_str().unwrap().to_string();
    let (s, hb) = t
        .post(
            &admin,
            "/api/v1/heartbeats",
            json!({"name": "nightly-db-backup", "interval_seconds": 86400,
                                                    "assignment_group": "Desktop Support"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hb}");

    let mut alice = Web::new(&t);
    alice.login("alice@example.com", PW).await;
    for page in ["/agent/monitoring", "/agent/backups"] {
        let r = alice.get(page).await;
        assert_eq!((r.status, r.location.as_str()), (StatusCode::SEE_OTHER, "/portal"), "{page}");
    }
    let r = alice.post("/agent/monitoring/windows", &[("name", "x"), ("matchers", "ci=*"), ("minutes", "60")]).await;
    assert_eq!(r.location, "/portal", "a requester cannot start a window");
    assert_eq!(t.get(&admin, "/api/v1/maintenance-windows").await.1, json!([]));

    let mut sam = Web::new(&t);
    sam.login("sam@example.com", PW).await;
    let r = sam.get("/agent/monitoring").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Disk &#60;full&#62; on fs01"), "the summary, escaped: {}", r.body);
    assert!(!r.body.contains("Disk <full>"));
    assert!(r.body.contains(&format!("href=\"/agent/tickets/{incident}\"")), "links its incident");
    assert!(r.body.contains("No current or planned maintenance windows."));
    let r = sam.get("/agent/monitoring?status=resolved").await;
    assert!(r.body.contains("No alerts."), "the status filter applies");

    // A window with a bad matcher is refused naming it, keeping what was typed.
    let r = sam
        .post("/agent/monitoring/windows", &[("name", "fs01 disk swap"), ("matchers", "ci fs01"), ("minutes", "90")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("is not label=value") && r.body.contains("value=\"fs01 disk swap\""), "{}", r.body);
    let r = sam
        .post("/agent/monitoring/windows", &[("name", "fs01 disk swap"), ("matchers", "ci=fs0*"), ("minutes", "90")])
        .await;
    assert_eq!((r.status, r.location.as_str()), (StatusCode::SEE_OTHER, "/agent/monitoring?m=window_created"));
    let (_, windows) = t.get(&admin, "/api/v1/maintenance-windows").await;
    assert_eq!(windows[0]["matchers"], json!({"ci": "fs0*"}));
    assert_eq!(windows[0]["active"], true);
    let r = sam.get("/agent/monitoring").await;
    assert!(r.body.contains("fs01 disk swap") && r.body.contains("ci=fs0*"));
    // Inside the window a new alert for fs02 opens nothing and shows which window held it.
    let held = json!({"source": "nagios", "dedup_key": "disk-fs02", "severity": "critical", "status": "firing",
                      "summary": "Disk full on fs02", "ci": "fs02"});
    let r = t.client.post(format!("{}/api/v1/integrations/webhook", t.base)).bearer_auth(&token).json(&held);
    let report: Value = r.send().await.unwrap().json().await.unwrap();
    assert_eq!(report["alerts"][0]["action"], "suppressed");
    let r = sam.get("/agent/monitoring").await;
    assert!(r.body.contains("held back: fs01 disk swap"), "{}", r.body);
    let id = windows[0]["id"].as_i64().unwrap();
    let r = sam.post(&format!("/agent/monitoring/windows/{id}/end"), &[]).await;
    assert_eq!(r.location, "/agent/monitoring?m=window_ended");
    let (_, windows) = t.get(&admin, "/api/v1/maintenance-windows").await;
    assert!(windows.as_array().unwrap().iter().all(|w| w["active"] == false), "{windows}");
    // A window planned ahead: a start that is no date is refused by its label; then planned.
    let mut plan =
        vec![("name", "SAN firmware"), ("matchers", "service=storage"), ("starts_at", "saturday"), ("minutes", "120")];
    let r = sam.post("/agent/monitoring/windows", &plan).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Starts: a date and time") && r.body.contains("value=\"SAN firmware\""), "{}", r.body);
    plan[2].1 = "2026-12-19T22:00";
    assert_eq!(sam.post("/agent/monitoring/windows", &plan).await.location, "/agent/monitoring?m=window_created");
    let (_, windows) = t.get(&admin, "/api/v1/maintenance-windows").await;
    let planned = windows.as_array().unwrap().iter().find(|w| w["name"] == "SAN firmware").unwrap().clone();
    assert_eq!(
        (planned["starts_at"].as_str(), planned["ends_at"].as_str(), planned["active"].as_bool()),
        (Some("2026-12-19T22:00:00.000Z"), Some("2026-12-20T00:00:00.000Z"), Some(false)),
        "{planned}"
    );

    // The incident's page lists its alert; an ordinary ticket has no such section.
    let r = sam.get(&format!("/agent/tickets/{incident}")).await;
    assert!(r.body.contains("Monitoring alerts (1)") && r.body.contains("Disk &#60;full&#62; on fs01"));
    let (_, other) = t.post(&admin, "/api/v1/tickets", json!({"title": "Mouse broken"})).await;
    let r = sam.get(&format!("/agent/tickets/{}", other["number"].as_str().unwrap())).await;
    assert!(!r.body.contains("Monitoring alerts"));

    // The backup board: the monitor, waiting for its first run, with its schedule.
    let r = sam.get("/agent/backups").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("nightly-db-backup") && r.body.contains("every 24 h<"), "{}", r.body);
    assert!(r.body.contains(">waiting<"), "{}", r.body);
}

async fn asset_pages_list_show_and_move_assets(engine: Engine) {
    let Some((t, admin)) = desk(engine).await else { return };
    let make = |body: Value| {
        let admin = admin.clone();
        let t = &t;
        async move {
            let (s, b) = t.post(&admin, "/api/v1/assets", body).await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            b["id"].as_i64().unwrap()
        }
    };
    let laptop = make(json!({"type": "laptop", "name": "LT-<script>", "asset_tag": "PC-77", "model": "X1 Carbon",
                              "location": "Berlin HQ"}))
    .await;
    let server = make(json!({"type": "server", "name": "esx01"})).await;
    let service = make(json!({"type": "service", "name": "Payroll"})).await;
    let (s, _) = t
        .post(
            &admin,
            &format!("/api/v1/assets/{service}/relations"),
            json!({"kind": "depends_on", "target": server.to_string()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, tk) = t
        .post(
            &admin,
            "/api/v1/tickets",
            json!({"title": "esx01 down", "requester": "bob@example.com", "assets": [server.to_string()]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{tk}");
    let number = tk["number"].as_str().unwrap().to_string();

    let mut alice = Web::new(&t);
    alice.login("alice@example.com", PW).await;
    let r = alice.get("/agent/assets").await;
    assert_eq!((r.status, r.location.as_str()), (StatusCode::SEE_OTHER, "/portal"));
    let r = alice
        .post(&format!("/agent/assets/{laptop}/move"), &[("action", "checkout"), ("user", "alice@example.com")])
        .await;
    assert_eq!(r.location, "/portal", "a requester cannot move assets");

    let mut sam = Web::new(&t);
    sam.login("sam@example.com", PW).await;
    let r = sam.get("/agent/assets?type=laptop").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("LT-&#60;script&#62;") && !r.body.contains("LT-<script>"), "escaped: {}", r.body);
    assert!(!r.body.contains("esx01"), "filtered by type");
    let r = sam.get(&format!("/agent/assets/{laptop}")).await;
    assert!(r.body.contains("X1 Carbon") && r.body.contains("Check out"), "{}", r.body);

    // Check out from the page; a refused move keeps the page with the reason.
    let r = sam
        .post(
            &format!("/agent/assets/{laptop}/move"),
            &[("action", "checkout"), ("user", "alice@example.com"), ("due_back", "2027-01-31")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = sam.get(&format!("/agent/assets/{laptop}")).await;
    assert!(r.body.contains(r#"<strong id="asset-holder">alice@example.com</strong>"#), "{}", r.body);
    assert!(r.body.contains("Checked out to"), "history shown: {}", r.body);
    let r = sam.post(&format!("/agent/assets/{laptop}/move"), &[("action", "state"), ("state", "disposed")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("cannot move to disposed"), "{}", r.body);
    let r = sam
        .post(
            &format!("/agent/assets/{server}/move"),
            &[("action", "relate"), ("kind", "runs_on"), ("target", "nothing-here")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The server's page shows the impact; the ticket page shows the asset and the affected service.
    let r = sam.get(&format!("/agent/assets/{server}")).await;
    assert!(r.body.contains("1 dependent CI,") && r.body.contains(">Payroll</a>"), "{}", r.body);
    let r = sam.get(&format!("/agent/tickets/{number}")).await;
    assert!(r.body.contains("Affected assets") && r.body.contains(&format!("/agent/assets/{server}")), "{}", r.body);
    assert!(r.body.contains(">Payroll</a>"), "{}", r.body);

    // The agent links the laptop to the ticket by its tag, and unlinks it again; an unknown tag
    // is refused next to the form with what was typed kept.
    let r = sam.post(&format!("/agent/tickets/{number}/link_asset"), &[("asset", "PC-77")]).await;
    assert_eq!(r.location, format!("/agent/tickets/{number}?m=asset_linked"), "{}", r.body);
    let r = sam.get(&format!("/agent/tickets/{number}")).await;
    assert!(r.body.contains(&format!("/agent/assets/{laptop}")), "{}", r.body);
    assert!(r.body.contains("linked asset LT-&#60;script&#62;"), "the timeline says it: {}", r.body);
    let r = sam.post(&format!("/agent/tickets/{number}/link_asset"), &[("asset", "NO-SUCH-TAG")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"asset-error\"") && r.body.contains("value=\"NO-SUCH-TAG\""), "{}", r.body);
    let r = sam.post(&format!("/agent/tickets/{number}/unlink_asset"), &[("asset", &laptop.to_string())]).await;
    assert_eq!(r.location, format!("/agent/tickets/{number}?m=asset_unlinked"), "{}", r.body);
    let (_, linked) = t.get(&admin, &format!("/api/v1/tickets/{number}/assets")).await;
    assert_eq!(linked["assets"].as_array().map(Vec::len), Some(1), "only the server is left: {linked}");

    // Licences and patch status pages (staff only).
    let (s, _) =
        t.post(&admin, "/api/v1/licences", json!({"product": "Visio", "seats": 5, "expires_on": "2026-12-01"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let r = sam.get("/agent/licences").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Visio") && r.body.contains("compliant"), "{}", r.body);
    assert!(r.body.contains("Visio — 2026-12-01"), "expiring within 30 days: {}", r.body);
    let r = sam.get("/agent/patch-status").await;
    assert!(r.body.contains("0 inventoried assets"), "{}", r.body);
    assert_eq!(alice.get("/agent/licences").await.location, "/portal");

    // Alice now holds the laptop: the portal form offers it.
    let r = alice.get("/portal/new").await;
    assert!(
        r.body.contains(&format!(r#"<option value="{laptop}" >LT-&#60;script&#62; (PC-77) — laptop</option>"#)),
        "{}",
        r.body
    );
}

/// The value of a form's hidden `version` field in a page.
fn version_in(body: &str) -> String {
    let at = body.find(r#"name="version" value=""#).expect("a version field") + r#"name="version" value=""#.len();
    body[at..].split('"').next().unwrap().to_string()
}

/// The number in a redirect to a problem or change page (`/agent/changes/CHG0000003?m=…`).
fn number_in(location: &str, prefix: &str) -> String {
    let rest = location.strip_prefix(prefix).unwrap_or_else(|| panic!("{location} is not under {prefix}"));
    rest.split('?').next().unwrap().to_string()
}

async fn problem_and_change_pages(engine: Engine) {
    let Some((t, admin)) = desk(engine).await else { return };
    t.user(&admin, "lee@example.com", "lead", &["Service Desk"]).await;
    t.app.set_password("lee@example.com", PW.into()).await.unwrap();
    let (s, inc) = t
        .post(
            &admin,
            "/api/v1/tickets",
            json!({"title": "Outlook crashes on start", "requester": "bob@example.com",
                   "assignment_group": "Service Desk"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let inc = inc["number"].as_str().unwrap().to_string();

    // Requesters see neither the pages nor the links.
    let mut alice = Web::new(&t);
    alice.login("alice@example.com", PW).await;
    assert_eq!(alice.get("/agent/problems").await.location, "/portal");
    assert_eq!(alice.get("/agent/change-calendar").await.location, "/portal");
    assert!(!alice.get("/portal").await.body.contains(r#"href="/agent/problems""#));

    let mut sam = Web::new(&t);
    sam.login("sam@example.com", PW).await;
    let r = sam.get("/agent/problems").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains(r#"href="/agent/problems" aria-current="page">Problems</a>"#), "{}", r.body);
    assert!(r.body.contains(r#"href="/agent/approvals""#) && r.body.contains("No problems."), "{}", r.body);

    // New problem: a refused form keeps what was typed and says why; then it is logged.
    let mut form = vec![
        ("title", "Outlook <b>crashes</b>"),
        ("description", "Several users since Monday"),
        ("impact", "2"),
        ("urgency", "2"),
        ("assignment_group", "Service Desk"),
        ("incidents", "INC9999999"),
    ];
    let r = sam.post("/agent/problems", &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("no incident INC9999999") && r.body.contains("Several users since Monday"), "{}", r.body);
    form[5].1 = &inc;
    let r = sam.post("/agent/problems", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let prb = number_in(&r.location, "/agent/problems/");
    assert!(prb.starts_with("PRB"), "{prb}");
    let r = sam.get("/agent/problems").await;
    assert!(r.body.contains(&format!(r#"<a href="/agent/problems/{prb}">{prb}</a>"#)), "{}", r.body);
    assert!(r.body.contains("Outlook &#60;b&#62;crashes") && !r.body.contains("<b>crashes"), "escaped: {}", r.body);
    let page = format!("/agent/problems/{prb}");
    let r = sam.get(&page).await;
    assert!(r.body.contains(&format!(r#"<a href="/agent/tickets/{inc}">{inc}</a>"#)), "incident linked: {}", r.body);

    // Its assignee and priority are set on its page; an assignee outside the group is refused there.
    let assign = format!("{page}/assign");
    let form = [("group", "Service Desk"), ("assignee", "sam@example.com"), ("impact", "1"), ("urgency", "2")];
    let r = sam.post(&assign, &form).await;
    assert_eq!(r.location, format!("{page}?m=assigned"), "{}", r.body);
    let (_, p) = t.get(&admin, &format!("/api/v1/problems/{prb}")).await;
    assert_eq!(
        (p["ticket"]["assignee"].as_str(), p["ticket"]["impact"].as_i64()),
        (Some("sam@example.com"), Some(1)),
        "{p}"
    );
    let r = sam.post(&assign, &[("group", "Service Desk"), ("assignee", "dev@example.com")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains(r#"id="assign-error""#), "{}", r.body);

    // Investigate; a known error needs its workaround first.
    let r = sam.post(&format!("{page}/move"), &[("phase", "investigating"), ("note", "looking")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = sam.post(&format!("{page}/move"), &[("phase", "known_error")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains(r#"id="move-error""#) && r.body.contains("write the workaround"), "{}", r.body);
    let r = sam.get(&page).await;
    assert!(r.body.contains(r#"id="problem-phase"><strong>investigating</strong>"#), "{}", r.body);
    let version = version_in(&r.body);
    let workaround = "Start Outlook with /safe and turn off the PDF add-in";
    let r = sam
        .post(
            &format!("{page}/analysis"),
            &[
                ("version", &version),
                ("symptoms", "Outlook closes at start"),
                ("root_cause", "The PDF add-in 4.2 crashes on load"),
                ("analysis", "Why? The add-in. Why? Version 4.2."),
                ("workaround", workaround),
                ("fix_change", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = sam.post(&format!("{page}/move"), &[("phase", "known_error")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = sam.get(&page).await;
    assert!(r.body.contains(r#"id="problem-phase"><strong>known error</strong>"#), "{}", r.body);
    assert!(r.body.contains("Why? The add-in. Why? Version 4.2."), "{}", r.body);
    let r = sam.get("/agent/known-errors").await;
    assert!(r.body.contains(&format!(r#"<a href="/agent/problems/{prb}">{prb}</a>"#)), "{}", r.body);
    assert!(r.body.contains(workaround), "{}", r.body);

    // The incident shows the problem and its workaround, and is resolved with it.
    let r = sam.get(&format!("/agent/tickets/{inc}")).await;
    assert!(r.body.contains(&format!(r#"<a href="/agent/problems/{prb}">{prb}</a>"#)), "{}", r.body);
    assert!(r.body.contains(&format!(r#"<div class="text" id="workaround">{workaround}</div>"#)), "{}", r.body);
    assert!(r.body.contains("Resolve with workaround"), "{}", r.body);
    let r = sam.post(&format!("/agent/tickets/{inc}/workaround"), &[("note", "Told Bob")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location, format!("/agent/tickets/{inc}?m=workaround_applied"));
    let (_, tk) = t.get(&admin, &format!("/api/v1/tickets/{inc}")).await;
    assert_eq!(tk["state"], "resolved", "{tk}");
    assert_eq!(tk["resolution_code"], "workaround", "{tk}");
    assert!(tk["resolution_notes"].as_str().unwrap().contains(workaround), "{tk}");

    // A normal change through the form, approved by the lead.
    let r = sam
        .post(
            "/agent/changes",
            &[
                ("change_type", "normal"),
                ("template", ""),
                ("title", "Update the PDF add-in to 4.3"),
                ("reason", format!("Fixes {prb}").as_str()),
                ("implementation_plan", "Push 4.3 through the software centre"),
                ("backout_plan", "Push 4.2 back"),
                ("test_plan", "Open Outlook on three machines"),
                ("risk_impact", "2"),
                ("risk_complexity", "2"),
                ("risk_experience", "2"),
                ("risk_backout", "1"),
                ("risk", ""),
                ("planned_start", "2026-11-20T10:00"),
                ("planned_end", "2026-11-20T12:00"),
                ("impact", "3"),
                ("urgency", "3"),
                ("assignment_group", "Service Desk"),
                ("assignee", "sam@example.com"),
                ("implementer_group", ""),
                ("approvers", "lee@example.com"),
                ("cab_group", ""),
                ("approval_rule", "all"),
                ("assets", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let chg = number_in(&r.location, "/agent/changes/");
    assert!(chg.starts_with("CHG"), "{chg}");
    let page = format!("/agent/changes/{chg}");
    let r = sam.get(&page).await;
    assert!(r.body.contains(r#"id="change-risk">medium (from the questionnaire)"#), "{}", r.body);
    assert!(r.body.contains("2026-11-20 10:00 UTC – 2026-11-20 12:00 UTC"), "{}", r.body);
    assert!(
        r.body.contains(r#"<input id="e-start" name="planned_start" type="datetime-local" value="2026-11-20T10:00">"#)
    );
    assert!(r.body.contains(r#"value="lee@example.com""#), "nominated approver in the edit form: {}", r.body);
    // The change names the server it touches; its page lists it with what an outage affects.
    assert!(r.body.contains("No configuration item named yet"), "{}", r.body);
    let (s, srv) =
        t.post(&admin, "/api/v1/assets", json!({"type": "server", "name": "db-pay", "asset_tag": "SRV-9"})).await;
    assert_eq!(s, StatusCode::CREATED, "{srv}");
    let r = sam.post(&format!("{page}/link_asset"), &[("asset", "SRV-9")]).await;
    assert_eq!(r.location, format!("{page}?m=asset_linked"), "{}", r.body);
    let r = sam.get(&page).await;
    assert!(r.body.contains(&format!(r#"<a href="/agent/assets/{}">db-pay</a>"#, srv["id"])), "{}", r.body);
    assert!(r.body.contains(r#"id="change-impact""#), "{}", r.body);
    let r = sam.post(&format!("{page}/link_asset"), &[("asset", "SRV-404")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains(r#"id="asset-error""#), "{}", r.body);
    for phase in ["assessment", "approval"] {
        let r = sam.post(&format!("{page}/move"), &[("phase", phase)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{phase}: {}", r.body);
    }
    let r = sam.get(&page).await;
    assert!(r.body.contains(r#"id="change-phase"><strong>approval</strong>"#), "{}", r.body);
    assert!(!r.body.contains(r#"id="decide""#), "sam is no approver: {}", r.body);
    let r = sam.post(&format!("{page}/decide"), &[("decision", "approved")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("you are not an approver"), "{}", r.body);

    let mut lee = Web::new(&t);
    lee.login("lee@example.com", PW).await;
    let r = lee.get("/agent/approvals").await;
    assert!(r.body.contains(&format!(r#"<a href="/agent/changes/{chg}">{chg}</a>"#)), "{}", r.body);
    let r = lee.get(&page).await;
    assert!(r.body.contains(r#"id="decide""#), "{}", r.body);
    let r = lee.post(&format!("{page}/decide"), &[("decision", "approved"), ("comment", "Go ahead")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, c) = t.get(&admin, &format!("/api/v1/changes/{chg}")).await;
    assert_eq!(c["phase"], "scheduled", "{c}");
    assert!(lee.get("/agent/approvals").await.body.contains("Nothing waits for your decision."));

    // The calendar lists it on its day, this week (the clock stands at 2026-11-18) and not the next.
    let link = format!(r#"<a href="/agent/changes/{chg}">{chg}</a>"#);
    let r = sam.get("/agent/change-calendar?from=2026-11-16").await;
    assert_eq!(r.status, StatusCode::OK);
    let friday = r.body.find("Friday 2026-11-20").expect("the week's days");
    assert!(r.body[friday..].contains(&link) && !r.body[..friday].contains(&link), "{}", r.body);
    assert!(sam.get("/agent/change-calendar").await.body.contains(&link));
    let r = sam.get("/agent/change-calendar?from=2026-11-23").await;
    assert!(r.body.contains("Monday 2026-11-23") && !r.body.contains(&link), "{}", r.body);
    let r = sam.get("/agent/change-calendar?from=someday").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}
