//! Identity against a real directory: OpenLDAP's slapd from Debian, started in a temp dir on a
//! free port and seeded from LDIF, changed between runs with ldap-utils as an admin would —
//! create, rename (same entryUUID), move out of the base, group changes, nested groups, managers,
//! a locked account, and runs the circuit breaker must refuse.

use orion_testkit::{Engine, TestApp, engine_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

engine_tests!(
    directory_sync_from_openldap_is_keyed_reviewed_and_guarded,
    ldaps_verifies_the_directory_certificate,
    active_directory_sync_reads_pages_nesting_and_disabled_accounts,
    two_factor_sign_in_with_an_authenticator_app,
    the_cli_adds_previews_runs_and_lists_a_source,
    single_sign_on_with_openid_connect,
    approving_a_change_can_ask_for_the_second_factor,
    a_deactivated_users_tokens_stop_at_once_on_every_node,
    security_keys_are_a_second_factor
);

pub(crate) const SUFFIX: &str = "dc=orion,dc=test";
pub(crate) const ROOT_DN: &str = "cn=admin,dc=orion,dc=test";
pub(crate) const ROOT_PW: &str = "s3cret-bind";

/// Says whether slapd is here; under CI its absence fails the test.
pub(crate) fn have_slapd() -> bool {
    let found = Command::new("sh")
        .args(["-c", "command -v slapd && command -v ldapmodify"])
        .output()
        .is_ok_and(|o| o.status.success())
        || std::path::Path::new("/usr/sbin/slapd").exists();
    if !found {
        assert!(
            !orion_testkit::in_ci(),
            "slapd is required under CI=true (scripts/test installs slapd and ldap-utils)"
        );
        eprintln!("\n*** slapd missing (Debian slapd, ldap-utils): test SKIPPED ***\n");
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A slapd of its own: mdb database in a temp dir, the ppolicy overlay (account locks).
pub(crate) struct Slapd {
    child: Child,
    _dir: tempfile::TempDir,
    pub(crate) url: String,
    /// With TLS: the CA that signed the server's certificate (PEM)
    ca_pem: Option<String>,
    /// With TLS: a plain listener as well, for StartTLS
    plain_url: Option<String>,
}

impl Slapd {
    pub(crate) fn start(seed: &str) -> Slapd {
        Self::start_with(seed, false)
    }

    /// `ldaps`: listen on ldaps:// with a certificate for 127.0.0.1 signed by a test CA.
    fn start_with(seed: &str, ldaps: bool) -> Slapd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("db")).unwrap();
        let mut tls = String::new();
        let mut ca_pem = None;
        if ldaps {
            let (ca, cert, key) = crate::mail_servers::certificate(d);
            tls = format!("TLSCertificateFile {}\nTLSCertificateKeyFile {}\n", cert.display(), key.display());
            ca_pem = Some(std::fs::read_to_string(ca).unwrap());
        }
        let conf = d.join("slapd.conf");
        std::fs::write(
            &conf,
            format!(
                "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
                 include /etc/ldap/schema/inetorgperson.schema\ninclude /etc/ldap/schema/nis.schema\n\
                 pidfile {p}/slapd.pid\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\nmoduleload ppolicy\n{tls}\
                 database mdb\nsuffix \"{SUFFIX}\"\nrootdn \"{ROOT_DN}\"\nrootpw {ROOT_PW}\ndirectory {p}/db\n\
                 overlay ppolicy\n",
                p = d.display()
            ),
        )
        .unwrap();
        std::fs::write(d.join("seed.ldif"), seed).unwrap();
        let out = Command::new("slapadd").arg("-f").arg(&conf).arg("-l").arg(d.join("seed.ldif")).output().unwrap();
        assert!(out.status.success(), "slapadd: {}", String::from_utf8_lossy(&out.stderr));
        let port = free_port();
        let scheme = if ldaps { "ldaps" } else { "ldap" };
        let url = format!("{scheme}://127.0.0.1:{port}");
        let plain_url = ldaps.then(|| format!("ldap://127.0.0.1:{}", free_port()));
        let listen = match &plain_url {
            Some(p) => format!("{url} {p}"),
            None => url.clone(),
        };
        let child = Command::new("slapd")
            .args(["-h", &listen, "-f"])
            .arg(&conf)
            .args(["-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Dropped on every path from here: Drop kills and waits for slapd.
        let slapd = Slapd { child, _dir: dir, url, ca_pem, plain_url };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return slapd;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("slapd did not start on {}", slapd.url);
    }

    /// Applies an LDIF change (add, modify, modrdn, delete) as the directory's admin.
    pub(crate) fn modify(&self, ldif: &str) {
        let (ok, err) = ldapmodify(&self.url, ROOT_DN, ROOT_PW, ldif);
        assert!(ok, "ldapmodify {ldif}: {err}");
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn person(uid: &str, name: &str, extra: &str) -> String {
    let sn = name.rsplit(' ').next().unwrap();
    format!(
        "dn: uid={uid},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {name}\nsn: {sn}\n\
         displayName: {name}\nmail: {uid}@orion.test\n{extra}\n"
    )
}

fn seed() -> String {
    let mut s = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Orion\ndc: orion\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: ou=former,{SUFFIX}\nobjectClass: organizationalUnit\nou: former\n\n"
    );
    s += &person("ceo", "Cleo Chief", "title: Chief executive\n");
    s += &person("boss", "Bea Boss", &format!("title: Head of IT\nmanager: uid=ceo,ou=people,{SUFFIX}\n"));
    s += &person(
        "ana",
        "Ana Lima",
        &format!(
            "title: Service desk analyst\ntelephoneNumber: +351 21 000 0001\ndepartmentNumber: IT\nl: Lisbon\n\
             manager: uid=boss,ou=people,{SUFFIX}\nuserPassword: ana-directory-pw\n"
        ),
    );
    for (uid, name) in [("bruno", "Bruno Alves"), ("carla", "Carla Dias"), ("dan", "Dan Reis"), ("eve", "Eve Admin")] {
        s += &person(uid, name, "");
    }
    for n in 1..=6 {
        s += &person(&format!("f{n}"), &format!("Filler Person{n}"), "");
    }
    // helpdesk holds ana and, nested, the l2 group with bruno.
    s += &format!(
        "dn: cn=l2,ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: l2\nmember: uid=bruno,ou=people,{SUFFIX}\n\n\
         dn: cn=helpdesk,ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: helpdesk\n\
         member: uid=ana,ou=people,{SUFFIX}\nmember: cn=l2,ou=groups,{SUFFIX}\n\n\
         dn: cn=admins,ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: admins\nmember: uid=eve,ou=people,{SUFFIX}\n\n"
    );
    s
}

pub(crate) async fn user_by_email(app: &TestApp, token: &str, email: &str) -> Option<Value> {
    let (s, b) = app.get(token, &format!("/api/v1/users?q={email}")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["items"].as_array().unwrap().iter().find(|u| u["email"] == email).cloned()
}

pub(crate) async fn sync(app: &TestApp, token: &str, id: i64, body: Value) -> Value {
    let (s, b) = app.post(token, &format!("/api/v1/directory/sources/{id}/sync"), body).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

async fn directory_sync_from_openldap_is_keyed_reviewed_and_guarded(engine: Engine) {
    if !have_slapd() {
        return;
    }
    let Some(app) = TestApp::spawn(engine).await else { return };
    let ldap = Slapd::start(&seed());
    let admin = app.bootstrap_admin("root@orion.test").await;
    let (s, b) = app.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let requester = app.user(&admin, "req@orion.test", "requester", &[]).await;
    // The bootstrap admin is the break-glass account; carla exists by hand before the sync (she
    // is adopted); f1's address belongs to a local break-glass account (left alone).
    let root = user_by_email(&app, &admin, "root@orion.test").await.unwrap();
    let (s, b) = app.patch(&admin, &format!("/api/v1/users/{}", root["id"]), json!({"break_glass": true})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.user(&admin, "carla@orion.test", "requester", &[]).await;
    let carla_id = user_by_email(&app, &admin, "carla@orion.test").await.unwrap()["id"].as_i64().unwrap();
    app.user(&admin, "f1@orion.test", "requester", &[]).await;
    let f1 = user_by_email(&app, &admin, "f1@orion.test").await.unwrap();
    app.patch(&admin, &format!("/api/v1/users/{}", f1["id"]), json!({"break_glass": true})).await;

    // Bad input is refused field by field, and only admins see sources.
    let (s, b) = app
        .post(&admin, "/api/v1/directory/sources", json!({"name": "x", "url": "http://ldap", "base_dn": "ou=people"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.to_string().contains("url"), "{b}");
    let rules = json!([
        {"group_dn": format!("cn=helpdesk,ou=groups,{SUFFIX}"), "role": "agent", "group": "Service Desk"},
        {"group_dn": format!("cn=admins,ou=groups,{SUFFIX}"), "role": "admin"}
    ]);
    let source = json!({
        "name": "Head office LDAP", "url": ldap.url, "bind_dn": ROOT_DN, "secret": ROOT_PW,
        "base_dn": format!("ou=people,{SUFFIX}"), "group_rules": rules, "sync_minutes": 0
    });
    let mut bad = source.clone();
    bad["group_rules"][0]["group"] = json!("No Such Team");
    let (s, b) = app.post(&admin, "/api/v1/directory/sources", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.to_string().contains("group_rules[0].group"), "{b}");
    let (s, b) = app.get(&requester, "/api/v1/directory/sources").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let (s, src) = app.post(&admin, "/api/v1/directory/sources", source).await;
    assert_eq!(s, StatusCode::CREATED, "{src}");
    assert_eq!(src["has_secret"], true);
    assert!(!src.to_string().contains(ROOT_PW), "the bind secret is never shown: {src}");
    assert_eq!(src["attributes"]["id"], "entryUUID");
    let id = src["id"].as_i64().unwrap();

    // A dry run reports and writes nothing.
    let run = sync(&app, &admin, id, json!({"dry_run": true})).await;
    assert_eq!(run["outcome"], "previewed", "{run}");
    assert_eq!(run["diff"]["entries"], 13, "{run}");
    assert_eq!(run["diff"]["create"]["count"], 11, "{run}");
    assert_eq!(run["diff"]["update"]["count"], 1, "carla is adopted: {run}");
    assert_eq!(run["diff"]["skipped"]["count"], 1, "f1 is break-glass: {run}");
    assert!(run["diff"]["skipped"]["samples"][0]["details"][0].as_str().unwrap().contains("break-glass"), "{run}");
    assert!(user_by_email(&app, &admin, "ana@orion.test").await.is_none(), "a dry run created a user");

    // The real run.
    let run = sync(&app, &admin, id, json!({})).await;
    assert_eq!(run["outcome"], "applied", "{run}");
    assert_eq!(run["diff"]["create"]["count"], 11, "{run}");
    let ana = user_by_email(&app, &admin, "ana@orion.test").await.unwrap();
    assert_eq!(ana["role"], "agent", "{ana}");
    assert_eq!(ana["groups"], json!(["Service Desk"]), "{ana}");
    assert_eq!(ana["manager"], "boss@orion.test", "{ana}");
    assert_eq!(ana["title"], "Service desk analyst");
    assert_eq!(ana["location"], "Lisbon");
    assert_eq!(ana["department"], "IT");
    assert_eq!(ana["phone"], "+351 21 000 0001");
    assert_eq!(ana["login"], "ana");
    assert_eq!(ana["directory_source"], "Head office LDAP");
    let bruno = user_by_email(&app, &admin, "bruno@orion.test").await.unwrap();
    assert_eq!(bruno["role"], "agent", "bruno is in helpdesk through the nested l2 group: {bruno}");
    assert_eq!(user_by_email(&app, &admin, "eve@orion.test").await.unwrap()["role"], "admin");
    assert_eq!(user_by_email(&app, &admin, "dan@orion.test").await.unwrap()["role"], "requester");
    let carla = user_by_email(&app, &admin, "carla@orion.test").await.unwrap();
    assert_eq!(carla["id"], carla_id, "carla's own account was adopted, not duplicated");
    assert_eq!(carla["directory_source"], "Head office LDAP");
    assert!(user_by_email(&app, &admin, "f1@orion.test").await.unwrap()["directory_source"].is_null());
    // The manager chain, nearest first.
    let (s, chain) = app.get(&admin, &format!("/api/v1/users/{}/managers", ana["id"])).await;
    assert_eq!(s, StatusCode::OK, "{chain}");
    let emails: Vec<&str> = chain.as_array().unwrap().iter().map(|m| m["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["boss@orion.test", "ceo@orion.test"]);
    let (s, _) = app.get(&requester, &format!("/api/v1/users/{}/managers", ana["id"])).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Bruno holds an open ticket and an API token; then he leaves the base DN.
    let (s, t) = app
        .post(
            &admin,
            "/api/v1/tickets",
            json!({"title": "VPN drops every hour", "requester": "dan@orion.test", "assignee": "bruno@orion.test",
                   "assignment_group": "Service Desk"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let bruno_token = app.app.create_token_for("bruno@orion.test", "laptop").await.unwrap().token;
    assert_eq!(app.get(&bruno_token, "/api/v1/me").await.0, StatusCode::OK);
    ldap.modify(&format!(
        "dn: uid=bruno,ou=people,{SUFFIX}\nchangetype: modrdn\nnewrdn: uid=bruno\ndeleteoldrdn: 1\nnewsuperior: ou=former,{SUFFIX}\n"
    ));
    let run = sync(&app, &admin, id, json!({})).await;
    assert_eq!(run["outcome"], "applied", "{run}");
    assert_eq!(run["diff"]["disable"]["count"], 1, "{run}");
    let bruno = user_by_email(&app, &admin, "bruno@orion.test").await.expect("deactivated, never deleted");
    assert_eq!(bruno["active"], false);
    assert!(bruno["deactivated_reason"].as_str().unwrap().contains("no longer in the directory"), "{bruno}");
    assert_eq!(app.get(&bruno_token, "/api/v1/me").await.0, StatusCode::UNAUTHORIZED, "the token must end at once");
    let (_, list) = app.get(&admin, "/api/v1/tickets?title=Hand%20over").await;
    let handover = list["items"].as_array().unwrap().iter().find(|t| t["title"] == "Hand over the work of Bruno Alves");
    let handover = handover.unwrap_or_else(|| panic!("no hand-over task: {list}"));
    let (_, full) = app.get(&admin, &format!("/api/v1/tickets/{}", handover["number"].as_str().unwrap())).await;
    assert!(full["description"].as_str().unwrap().contains(t["number"].as_str().unwrap()), "{full}");

    // A rename keeps the account (same entryUUID); a group change takes the role away.
    ldap.modify(&format!(
        "dn: uid=dan,ou=people,{SUFFIX}\nchangetype: modrdn\nnewrdn: uid=daniel\ndeleteoldrdn: 1\n\n\
         dn: uid=daniel,ou=people,{SUFFIX}\nchangetype: modify\nreplace: mail\nmail: daniel@orion.test\n\n\
         dn: cn=helpdesk,ou=groups,{SUFFIX}\nchangetype: modify\ndelete: member\nmember: uid=ana,ou=people,{SUFFIX}\n"
    ));
    let dan_id = user_by_email(&app, &admin, "dan@orion.test").await.unwrap()["id"].clone();
    let run = sync(&app, &admin, id, json!({})).await;
    assert_eq!(run["diff"]["create"]["count"], 0, "{run}");
    let daniel = user_by_email(&app, &admin, "daniel@orion.test").await.unwrap();
    assert_eq!(daniel["id"], dan_id, "renamed, same account: {daniel}");
    assert_eq!(daniel["login"], "daniel");
    let ana = user_by_email(&app, &admin, "ana@orion.test").await.unwrap();
    assert_eq!(ana["role"], "requester", "{ana}");
    assert_eq!(ana["groups"], json!([]), "{ana}");

    // Bruno comes back: re-enabled, role and group again.
    ldap.modify(&format!(
        "dn: uid=bruno,ou=former,{SUFFIX}\nchangetype: modrdn\nnewrdn: uid=bruno\ndeleteoldrdn: 1\nnewsuperior: ou=people,{SUFFIX}\n"
    ));
    let run = sync(&app, &admin, id, json!({})).await;
    assert_eq!(run["diff"]["reenable"]["count"], 1, "{run}");
    let bruno = user_by_email(&app, &admin, "bruno@orion.test").await.unwrap();
    assert_eq!((bruno["active"].clone(), bruno["role"].clone()), (json!(true), json!("agent")), "{bruno}");
    assert!(bruno["deactivated_reason"].is_null());

    // The breaker: two of twelve (17 %) is more than the 10 % allowed; nothing changes until an
    // admin confirms.
    ldap.modify(&format!(
        "dn: uid=f2,ou=people,{SUFFIX}\nchangetype: delete\n\ndn: uid=f3,ou=people,{SUFFIX}\nchangetype: delete\n"
    ));
    let run = sync(&app, &admin, id, json!({})).await;
    assert_eq!(run["outcome"], "refused", "{run}");
    assert!(run["message"].as_str().unwrap().contains("2 of 12"), "{run}");
    assert_eq!(user_by_email(&app, &admin, "f2@orion.test").await.unwrap()["active"], true);
    let (_, s_now) = app.get(&admin, &format!("/api/v1/directory/sources/{id}")).await;
    assert!(s_now["last_error"].as_str().unwrap().contains("Refused"), "{s_now}");
    let run = sync(&app, &admin, id, json!({"confirm_mass_deactivation": true})).await;
    assert_eq!(run["outcome"], "applied", "{run}");
    assert_eq!(user_by_email(&app, &admin, "f2@orion.test").await.unwrap()["active"], false);

    // An admin is never demoted or deactivated by a sync, confirmed or not.
    ldap.modify(&format!(
        "dn: cn=admins,ou=groups,{SUFFIX}\nchangetype: modify\nreplace: member\nmember: uid=ceo,ou=people,{SUFFIX}\n"
    ));
    let run = sync(&app, &admin, id, json!({"confirm_mass_deactivation": true})).await;
    assert_eq!(run["outcome"], "refused", "{run}");
    assert!(run["message"].as_str().unwrap().contains("eve@orion.test would lose the admin role"), "{run}");
    assert_eq!(user_by_email(&app, &admin, "eve@orion.test").await.unwrap()["role"], "admin");
    ldap.modify(&format!(
        "dn: cn=admins,ou=groups,{SUFFIX}\nchangetype: modify\nreplace: member\nmember: uid=eve,ou=people,{SUFFIX}\n"
    ));

    // Settings change without the secret (kept); a locked account is deactivated with the reason.
    let (s, b) = app.put(&admin, &format!("/api/v1/directory/sources/{id}"), json!({"max_disable_percent": 25})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["has_secret"], true);
    ldap.modify(&format!("dn: uid=f4,ou=people,{SUFFIX}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n"));
    let run = sync(&app, &admin, id, json!({})).await;
    assert_eq!(run["outcome"], "applied", "{run}");
    let f4 = user_by_email(&app, &admin, "f4@orion.test").await.unwrap();
    assert_eq!(f4["active"], false);
    assert!(f4["deactivated_reason"].as_str().unwrap().contains("locked in the directory"), "{f4}");

    // A wrong bind password fails the run, says why, and changes nothing.
    app.put(&admin, &format!("/api/v1/directory/sources/{id}"), json!({"secret": "wrong"})).await;
    let run = sync(&app, &admin, id, json!({})).await;
    assert_eq!(run["outcome"], "failed", "{run}");
    assert!(run["message"].as_str().unwrap().contains("refused the bind"), "{run}");
    assert_eq!(user_by_email(&app, &admin, "ana@orion.test").await.unwrap()["active"], true);

    // Every run is logged, newest first; the break-glass admin was never touched.
    let (s, runs) = app.get(&admin, &format!("/api/v1/directory/sources/{id}/runs?limit=3")).await;
    assert_eq!(s, StatusCode::OK, "{runs}");
    assert_eq!(runs["items"][0]["outcome"], "failed");
    assert!(runs["next_cursor"].is_string(), "{runs}");
    let root = user_by_email(&app, &admin, "root@orion.test").await.unwrap();
    assert_eq!((root["active"].clone(), root["role"].clone()), (json!(true), json!("admin")));
    assert!(root["directory_source"].is_null());

    // The console: the source's row, a preview from its page, the run's changes.
    app.app.set_password("root@orion.test", "staple horse battery correct".into()).await.unwrap();
    let mut w = crate::web::Web::new(&app);
    w.login("root@orion.test", "staple horse battery correct").await;
    let r = w.get("/admin/directory").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Head office LDAP") && r.body.contains("By hand only"), "{}", r.body);
    let r = w
        .post(
            "/admin/directory",
            &[("name", "Branch"), ("kind", "openldap"), ("url", "http://nope"), ("base_dn", "ou=x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("url") && r.body.contains("Branch"), "the error is named and the typed name kept");
    app.put(&admin, &format!("/api/v1/directory/sources/{id}"), json!({"secret": ROOT_PW})).await;
    ldap.modify(&format!("dn: uid=ceo,ou=people,{SUFFIX}\nchangetype: modify\nreplace: title\ntitle: Chair\n"));
    let r = w.post(&format!("/admin/directory/{id}/sync"), &[("mode", "preview")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.location.starts_with("/admin/directory/runs/"), "{}", r.location);
    let page = w.get(&r.location).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Preview of a sync") && page.body.contains("title: Chief executive → Chair"),
        "{}",
        page.body
    );
    let page = w.get(&format!("/admin/directory/{id}")).await;
    assert!(page.body.contains("Preview (nothing written)"), "{}", page.body);
    assert_eq!(user_by_email(&app, &admin, "ceo@orion.test").await.unwrap()["title"], "Chief executive");

    // A directory user signs in with their directory password (a bind as them); a wrong one, or
    // an empty one (an anonymous bind to LDAP), is refused.
    let mut ana_web = crate::web::Web::new(&app);
    let r = ana_web.login("ana@orion.test", "wrong").await;
    assert!(ana_web.cookie.is_none(), "a wrong directory password signed in: {}", r.body);
    let r = ana_web.login("ana@orion.test", "").await;
    assert!(ana_web.cookie.is_none(), "an empty password signed in: {}", r.body);
    let r = ana_web.login("ana@orion.test", "ana-directory-pw").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(ana_web.cookie.is_some(), "the directory password did not sign in");
}

/// LDAPS checks the directory's certificate: refused without the CA that signed it, accepted
/// with it (pasted as PEM, as an admin would), and a CA field that holds no certificate is named.
async fn ldaps_verifies_the_directory_certificate(engine: Engine) {
    if !have_slapd() {
        return;
    }
    let Some(app) = TestApp::spawn(engine).await else { return };
    let ldap = Slapd::start_with(&seed(), true);
    let admin = app.bootstrap_admin("root@orion.test").await;
    let source = json!({
        "name": "Secure", "url": ldap.url, "bind_dn": ROOT_DN, "secret": ROOT_PW,
        "base_dn": format!("ou=people,{SUFFIX}"), "sync_minutes": 0
    });
    let (s, src) = app.post(&admin, "/api/v1/directory/sources", source).await;
    assert_eq!(s, StatusCode::CREATED, "{src}");
    let id = src["id"].as_i64().unwrap();
    let run = sync(&app, &admin, id, json!({"dry_run": true})).await;
    assert_eq!(run["outcome"], "failed", "an unknown CA must not be trusted: {run}");
    assert!(run["message"].as_str().unwrap().to_lowercase().contains("certificate"), "{run}");
    let (s, b) =
        app.put(&admin, &format!("/api/v1/directory/sources/{id}"), json!({"ca_pem": "not a certificate"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.to_string().contains("ca_pem"), "{b}");
    let (s, b) = app
        .put(&admin, &format!("/api/v1/directory/sources/{id}"), json!({"ca_pem": ldap.ca_pem.clone().unwrap()}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["has_ca"], true);
    let run = sync(&app, &admin, id, json!({})).await;
    assert_eq!(run["outcome"], "applied", "{run}");
    assert_eq!(run["diff"]["create"]["count"], 13, "{run}");
    // StartTLS on the plain port: verified the same way.
    let plain = ldap.plain_url.clone().unwrap();
    let (s, b) =
        app.put(&admin, &format!("/api/v1/directory/sources/{id}"), json!({"url": plain, "starttls": true})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let run = sync(&app, &admin, id, json!({"dry_run": true})).await;
    assert_eq!(run["outcome"], "previewed", "{run}");
    app.put(&admin, &format!("/api/v1/directory/sources/{id}"), json!({"ca_pem": ""})).await;
    let run = sync(&app, &admin, id, json!({"dry_run": true})).await;
    assert_eq!(run["outcome"], "failed", "StartTLS without the CA must fail: {run}");
}

/// A real Active Directory: a Samba AD DC from Debian, provisioned once per test binary in a
/// temp dir (a few seconds) and listening on 127.0.0.1:389. Each engine's test works in its own
/// OU, so the two run side by side.
struct SambaAd {
    _dir: tempfile::TempDir,
    child: Child,
    _watcher: Child,
}

const AD_BASE: &str = "DC=orion,DC=test";
const AD_ADMIN: &str = "Administrator@orion.test";
const AD_PW: &str = "Passw0rd!orion";

static SAMBA: std::sync::OnceLock<Option<SambaAd>> = std::sync::OnceLock::new();

fn have_samba() -> bool {
    let found = Command::new("sh")
        .args(["-c", "command -v samba-tool && command -v samba"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(!orion_testkit::in_ci(), "samba is required under CI=true (scripts/test installs samba)");
        eprintln!("\n*** samba missing (Debian samba, an AD domain controller): test SKIPPED ***\n");
    }
    found
}

fn samba() -> bool {
    SAMBA
        .get_or_init(|| {
            if !have_samba() {
                return None;
            }
            if std::net::TcpStream::connect(("127.0.0.1", 389)).is_ok() {
                panic!("port 389 is taken (a system slapd or samba?); the Active Directory test needs it");
            }
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            let started = std::time::Instant::now();
            let out = Command::new("samba-tool")
                .args(["domain", "provision", "--server-role=dc", "--use-rfc2307", "--dns-backend=NONE"])
                .args(["--realm=ORION.TEST", "--domain=ORION", &format!("--adminpass={AD_PW}")])
                .arg(format!("--targetdir={}", d.display()))
                .args(["--host-ip=127.0.0.1", "--option=interfaces=lo", "--option=bind interfaces only=yes"])
                .output()
                .unwrap();
            assert!(out.status.success(), "samba-tool provision: {}", String::from_utf8_lossy(&out.stderr));
            eprintln!("Samba AD provisioned in {:.1} s", started.elapsed().as_secs_f64());
            let conf = d.join("etc/smb.conf");
            // Simple binds over plain LDAP on loopback (a real site would use LDAPS).
            let text = std::fs::read_to_string(&conf).unwrap();
            let text = text.replacen("[global]\n", "[global]\n\tldap server require strong auth = no\n", 1);
            std::fs::write(&conf, text).unwrap();
            // The DC lives as long as this test process: a watcher ends it when the process is gone
            // (the static holding it is never dropped).
            let log = std::fs::File::create(d.join("samba.log")).unwrap();
            let samba = Command::new("samba")
                .args(["-i", "-M", "single", "-s"])
                .arg(&conf)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            let watch = format!(
                "while kill -0 {} 2>/dev/null; do sleep 1; done; kill {} 2>/dev/null",
                std::process::id(),
                samba.id()
            );
            let watcher = Command::new("sh").args(["-c", &watch]).spawn().unwrap();
            let mut ad = SambaAd { _dir: dir, child: samba, _watcher: watcher };
            // A loaded machine (the whole suite on two cores) can take minutes to start it.
            for _ in 0..1800 {
                if ad_modify(
                    "dn: CN=Users,DC=orion,DC=test\nchangetype: modify\nreplace: description\ndescription: ready\n",
                    true,
                ) {
                    eprintln!("Samba AD answering after {:.1} s", started.elapsed().as_secs_f64());
                    return Some(ad);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = ad.child.kill();
            let _ = ad.child.wait();
            let log = std::fs::read_to_string(ad._dir.path().join("samba.log")).unwrap_or_default();
            panic!("samba did not answer LDAP on 127.0.0.1:389 within 3 minutes; its log:\n{log}");
        })
        .is_some()
}

/// Runs ldapmodify (`-a`: entries without a changetype are added) as `dn`: (succeeded, stderr).
fn ldapmodify(url: &str, dn: &str, pw: &str, ldif: &str) -> (bool, String) {
    let mut c = Command::new("ldapmodify")
        .args(["-x", "-a", "-H", url, "-D", dn, "-w", pw])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Before the server answers, ldapmodify exits without reading its input: a broken pipe here
    // is that failure, which its exit status reports.
    let _ = c.stdin.take().unwrap().write_all(ldif.as_bytes());
    let o = c.wait_with_output().unwrap();
    (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Applies LDIF to the AD as its administrator; `quiet` returns false on failure instead of panicking.
fn ad_modify(ldif: &str, quiet: bool) -> bool {
    let (ok, err) = ldapmodify("ldap://127.0.0.1:389", AD_ADMIN, AD_PW, ldif);
    assert!(ok || quiet, "ldapmodify: {err}");
    ok
}

fn ad_user(ou: &str, tag: &str, cn: &str, login: &str, extra: &str) -> String {
    format!(
        "dn: CN={cn},{ou}\nobjectClass: user\nsAMAccountName: {tag}-{login}\ndisplayName: {cn}\n\
         mail: {login}@{tag}.orion.test\nuserAccountControl: 544\n{extra}\n"
    )
}

async fn active_directory_sync_reads_pages_nesting_and_disabled_accounts(engine: Engine) {
    if !have_slapd() || !tokio::task::spawn_blocking(samba).await.unwrap() {
        return;
    }
    let Some(app) = TestApp::spawn(engine).await else { return };
    let tag = if engine == Engine::Sqlite { "sq" } else { "pg" };
    let ou = format!("OU=orion-{tag},{AD_BASE}");
    let mut ldif = format!("dn: {ou}\nobjectClass: organizationalUnit\n\n");
    ldif += &ad_user(&ou, tag, "Bob Boss", "bob", "");
    ldif += &ad_user(&ou, tag, "Alice Agent", "alice", &format!("manager: CN=Bob Boss,{ou}\n"));
    ldif += &ad_user(&ou, tag, "Erin Expert", "erin", "");
    // Disabled (ACCOUNTDISABLE, bit 2) and expired (accountExpires in 2022) accounts.
    ldif += &ad_user(&ou, tag, "Carol Gone", "carol", "").replace("userAccountControl: 544", "userAccountControl: 546");
    ldif += &ad_user(&ou, tag, "Dave Expired", "dave", "accountExpires: 133000000000000000\n");
    // More than AD's 1,000-entry page: only a paged search reads them all.
    for i in 1..=1100 {
        ldif += &ad_user(&ou, tag, &format!("Bulk Person{i}"), &format!("bulk{i}"), "");
    }
    // Nesting: G-Helpdesk holds G-L2, which holds Erin; Alice is a direct member.
    ldif += &format!(
        "dn: CN=G-L2-{tag},{ou}\nobjectClass: group\nsAMAccountName: g-l2-{tag}\nmember: CN=Erin Expert,{ou}\n\n\
         dn: CN=G-Helpdesk-{tag},{ou}\nobjectClass: group\nsAMAccountName: g-helpdesk-{tag}\n\
         member: CN=G-L2-{tag},{ou}\nmember: CN=Alice Agent,{ou}\n\n"
    );
    tokio::task::spawn_blocking(move || ad_modify(&ldif, false)).await.unwrap();

    let admin = app.bootstrap_admin("root@orion.test").await;
    app.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    let source = json!({
        "name": "Active Directory", "kind": "active_directory", "url": "ldap://127.0.0.1:389",
        "bind_dn": AD_ADMIN, "secret": AD_PW, "base_dn": ou, "page_size": 400, "sync_minutes": 0,
        "group_rules": [{"group_dn": format!("CN=G-Helpdesk-{tag},{ou}"), "role": "agent", "group": "Service Desk"}]
    });
    let (s, src) = app.post(&admin, "/api/v1/directory/sources", source).await;
    assert_eq!(s, StatusCode::CREATED, "{src}");
    assert_eq!(src["attributes"]["id"], "objectGUID");
    assert_eq!(src["attributes"]["login"], "sAMAccountName");
    let id = src["id"].as_i64().unwrap();
    let run = sync(&app, &admin, id, json!({})).await;
    assert_eq!(run["outcome"], "applied", "{run}");
    assert_eq!(run["diff"]["entries"], 1105, "every user, past the 1,000-entry page: {run}");
    assert_eq!(run["diff"]["create"]["count"], 1103, "{run}");
    let skipped = run["diff"]["skipped"].to_string();
    assert!(skipped.contains("disabled in Active Directory") && skipped.contains("expired"), "{skipped}");
    let alice = user_by_email(&app, &admin, &format!("alice@{tag}.orion.test")).await.unwrap();
    assert_eq!((alice["role"].clone(), alice["groups"].clone()), (json!("agent"), json!(["Service Desk"])), "{alice}");
    assert_eq!(alice["manager"], format!("bob@{tag}.orion.test"));
    assert_eq!(alice["login"], format!("{tag}-alice"));
    let erin = user_by_email(&app, &admin, &format!("erin@{tag}.orion.test")).await.unwrap();
    assert_eq!(erin["role"], "agent", "nested through G-L2 (the in-chain rule): {erin}");
    assert!(user_by_email(&app, &admin, &format!("carol@{tag}.orion.test")).await.is_none());

    // Renamed in AD (login and mail): the same account, found by objectGUID. Then disabled.
    let (alice_cn, ou2) = (format!("CN=Alice Agent,{ou}"), ou.clone());
    tokio::task::spawn_blocking(move || {
        ad_modify(
            &format!(
                "dn: {alice_cn}\nchangetype: modify\nreplace: sAMAccountName\nsAMAccountName: {tag}-alice.agent\n-\n\
                 replace: mail\nmail: alice.agent@{tag}.orion.test\n"
            ),
            false,
        );
        let _ = ou2;
    })
    .await
    .unwrap();
    let run = sync(&app, &admin, id, json!({})).await;
    assert_eq!(run["diff"]["create"]["count"], 0, "{run}");
    let renamed = user_by_email(&app, &admin, &format!("alice.agent@{tag}.orion.test")).await.unwrap();
    assert_eq!(renamed["id"], alice["id"], "{renamed}");
    let alice_cn = format!("CN=Alice Agent,{ou}");
    tokio::task::spawn_blocking(move || {
        ad_modify(
            &format!("dn: {alice_cn}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 546\n"),
            false,
        )
    })
    .await
    .unwrap();
    let run = sync(&app, &admin, id, json!({})).await;
    assert_eq!(run["outcome"], "applied", "{run}");
    assert_eq!(run["diff"]["disable"]["count"], 1, "{run}");
    let gone = user_by_email(&app, &admin, &format!("alice.agent@{tag}.orion.test")).await.unwrap();
    assert_eq!(gone["active"], false);
    assert!(gone["deactivated_reason"].as_str().unwrap().contains("disabled in Active Directory"), "{gone}");
    // An unchanged re-run changes nothing.
    let run = sync(&app, &admin, id, json!({})).await;
    assert_eq!(run["diff"]["update"]["count"], 0, "{run}");
    assert_eq!(run["diff"]["unchanged"], 1103, "{run}");
}

/// The code an authenticator app shows for `secret` at the server's clock, from Debian's oathtool
/// (an implementation that is not Orion's).
fn oathtool(app: &TestApp, secret: &str) -> String {
    use orion_app::Clock;
    let at = app.clock.now().0 / 1000;
    let o = Command::new("oathtool").args(["--totp", "-b", &format!("--now=@{at}"), secret]).output().unwrap();
    assert!(o.status.success(), "oathtool: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

fn next_step(app: &TestApp) {
    use orion_app::Clock;
    app.clock.set(orion_domain::Timestamp(app.clock.now().0 + 30_000));
}

fn between<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let i = body.find(start).unwrap_or_else(|| panic!("{start:?} not in {body}")) + start.len();
    &body[i..i + body[i..].find(end).unwrap()]
}

async fn two_factor_sign_in_with_an_authenticator_app(engine: Engine) {
    let found = Command::new("sh").args(["-c", "command -v oathtool"]).output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(!orion_testkit::in_ci(), "oathtool is required under CI=true (scripts/test installs oathtool)");
        eprintln!("\n*** oathtool missing: test SKIPPED ***\n");
        return;
    }
    let Some(app) = TestApp::spawn(engine).await else { return };
    const PW: &str = "staple horse battery correct";
    let admin = app.bootstrap_admin("root@orion.test").await;
    app.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;
    let tina_token = app.user(&admin, "tina@orion.test", "agent", &["Service Desk"]).await;
    for who in ["tina@orion.test", "ulla@orion.test", "root@orion.test"] {
        if who == "ulla@orion.test" {
            app.user(&admin, who, "agent", &["Service Desk"]).await;
        }
        app.app.set_password(who, PW.into()).await.unwrap();
    }

    // Tina turns it on from her account page: a wrong first code is refused, the right one (as
    // oathtool computes it) turns it on and shows ten recovery codes once.
    let mut tina = crate::web::Web::new(&app);
    let r = tina.login("tina@orion.test", PW).await;
    assert_eq!(r.location, "/agent", "no second factor yet: {}", r.body);
    let page = tina.get("/account/two-factor").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<svg"), "the QR code is inline SVG");
    let secret = between(&page.body, "id=\"totp-secret\">", "<").to_string();
    assert_eq!(secret.len(), 32, "160-bit secret in base32: {secret}");
    let r = tina.post("/account/two-factor", &[("code", "000000")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A wrong first code starts over with a new secret.
    let secret = between(&r.body, "id=\"totp-secret\">", "<").to_string();
    let r = tina.post("/account/two-factor", &[("code", &oathtool(&app, &secret))]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let codes: Vec<String> =
        r.body.split("<li><code>").skip(1).map(|c| c.split('<').next().unwrap().to_string()).collect();
    assert_eq!(codes.len(), 10, "{}", r.body);
    let (_, st) = app.get(&tina_token, "/api/v1/me/two-factor").await;
    assert_eq!((st["enabled"].clone(), st["recovery_codes_left"].clone()), (json!(true), json!(10)), "{st}");

    // Signing in now asks for the code; the code of the step just used is not taken twice.
    let mut b = crate::web::Web::new(&app);
    let r = b.login("tina@orion.test", PW).await;
    assert_eq!(r.location, "/login/two-factor", "{}", r.body);
    assert!(b.cookie.is_none(), "no session before the second factor");
    let r = b.post("/login/two-factor", &[("code", &oathtool(&app, &secret))]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a replayed code was accepted");
    next_step(&app);
    let r = b.post("/login/two-factor", &[("code", &oathtool(&app, &secret))]).await;
    assert_eq!(r.location, "/agent", "{}", r.body);
    assert!(b.cookie.is_some());
    assert!(b.others.is_empty(), "the challenge cookie is cleared: {:?}", b.others);

    // A recovery code works once, typed loosely.
    let mut b = crate::web::Web::new(&app);
    b.login("tina@orion.test", PW).await;
    let loose = codes[0].to_uppercase().replace('-', " ");
    let r = b.post("/login/two-factor", &[("code", &loose)]).await;
    assert_eq!(r.location, "/agent", "{}", r.body);
    let mut b = crate::web::Web::new(&app);
    b.login("tina@orion.test", PW).await;
    let r = b.post("/login/two-factor", &[("code", &codes[0])]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a used recovery code was accepted");

    // Guessing is limited: five wrong codes end the attempt (and count towards the lockout).
    for _ in 0..4 {
        b.post("/login/two-factor", &[("code", "123456")]).await;
    }
    let r = b.post("/login/two-factor", &[("code", &codes[1])]).await;
    assert!(r.location.starts_with("/login?m=second_factor_expired"), "{} {}", r.location, r.body);
    assert!(b.cookie.is_none());
    let (_, st) = app
        .get(
            &admin,
            &format!(
                "/api/v1/users/{}/two-factor",
                user_by_email(&app, &admin, "tina@orion.test").await.unwrap()["id"]
            ),
        )
        .await;
    assert_eq!(st["recovery_codes_left"], 9, "{st}");
    let tina_id = user_by_email(&app, &admin, "tina@orion.test").await.unwrap()["id"].clone();
    let (_, log) = app.get(&admin, "/api/v1/security/log?limit=50").await;
    let locked = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "account_locked" && e["email"] == "tina@orion.test");
    assert!(locked, "wrong second factors lock the account like wrong passwords: {log}");
    let (s, b) = app.post(&admin, &format!("/api/v1/users/{tina_id}/unlock"), json!({})).await;
    assert!(s.is_success(), "{s} {b}");
    // The API token works throughout: tokens are a separate credential.
    assert_eq!(app.get(&tina_token, "/api/v1/me").await.0, StatusCode::OK);

    // Agents must use it, with no grace: Ulla sets it up at sign-in before she gets in.
    let mut root = crate::web::Web::new(&app);
    root.login("root@orion.test", PW).await;
    let r = root
        .post(
            "/admin/security",
            &[
                ("lockout_threshold", "20"),
                ("lockout_minutes", "15"),
                ("max_failures_per_address", "100"),
                ("idle_timeout_minutes", "60"),
                ("absolute_timeout_hours", "12"),
                ("min_password_length", "15"),
                ("two_factor_roles", "agent"),
                ("two_factor_grace_days", "0"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let mut ulla = crate::web::Web::new(&app);
    let r = ulla.login("ulla@orion.test", PW).await;
    assert_eq!(r.location, "/login/two-factor/setup", "{}", r.body);
    let page = ulla.get("/login/two-factor/setup").await;
    let useful = between(&page.body, "id=\"totp-secret\">", "<").to_string();
    let r = ulla.post("/login/two-factor/setup", &[("code", &oathtool(&app, &useful))]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("recovery-codes") && ulla.cookie.is_some(), "signed in with her codes shown");
    assert_eq!(ulla.get("/agent").await.status, StatusCode::OK);

    // Tina lost her phone: an admin resets it (logged, her sessions end); as an agent she must set
    // it up again at her next sign-in. She cannot turn it off herself while her role requires it.
    let r = tina.post("/account/two-factor/off", &[("code", &oathtool(&app, &secret))]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = root.post(&format!("/admin/users/{tina_id}/two-factor/reset"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(tina.get("/agent").await.status, StatusCode::SEE_OTHER, "her session ended");
    let r = tina.login("tina@orion.test", PW).await;
    assert_eq!(r.location, "/login/two-factor/setup", "{}", r.body);
    let (_, log) = app.get(&admin, "/api/v1/security/log?limit=200").await;
    let kinds: Vec<&str> = log["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for k in ["two_factor_enabled", "two_factor_reset", "sign_in_password_ok"] {
        assert!(kinds.contains(&k), "{k} not logged: {kinds:?}");
    }

    // Step-up: an admin with two-factor on is asked for a fresh code before a sensitive change
    // once the last one is older than 15 minutes; the change goes through after it.
    let page = root.get("/account/two-factor").await;
    let root_secret = between(&page.body, "id=\"totp-secret\">", "<").to_string();
    next_step(&app);
    let r = root.post("/account/two-factor", &[("code", &oathtool(&app, &root_secret))]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let settings = [
        ("lockout_threshold", "20"),
        ("lockout_minutes", "15"),
        ("max_failures_per_address", "100"),
        ("idle_timeout_minutes", "600"),
        ("absolute_timeout_hours", "12"),
        ("min_password_length", "15"),
        ("two_factor_roles", "agent"),
        ("two_factor_grace_days", "3"),
        ("step_up_minutes", "15"),
    ];
    app.clock.advance_minutes(20);
    let r = root.post("/admin/security", &settings).await;
    assert!(r.location.starts_with("/account/confirm?next=%2Fadmin%2Fsecurity"), "{} {}", r.location, r.body);
    let (_, st) = app.get(&admin, "/api/v1/settings/security").await;
    assert_eq!(st["two_factor_grace_days"], 0, "nothing saved before the code: {st}");
    let r = root.post("/account/confirm", &[("code", "111111"), ("next", "/admin/security")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r =
        root.post("/account/confirm", &[("code", &oathtool(&app, &root_secret)), ("next", "/admin/security")]).await;
    assert_eq!(r.location, "/admin/security", "{}", r.body);
    let r = root.post("/admin/security", &settings).await;
    assert_eq!(r.location, "/admin/security?m=settings_saved", "{}", r.body);
    let (_, st) = app.get(&admin, "/api/v1/settings/security").await;
    assert_eq!(st["two_factor_grace_days"], 3, "{st}");
}

/// `orion directory` as an operator scripts it: add from a JSON file with the password on
/// standard input, a dry run, a real run, the run log; a file with a wrong field is named.
async fn the_cli_adds_previews_runs_and_lists_a_source(engine: Engine) {
    if !have_slapd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = orion_testkit::fresh_database(engine, dir.path()).await else { return };
    let ldap = Slapd::start(&seed());
    let run = |args: &[&str], stdin: Option<&str>| crate::cli::orion(&db, args, stdin);
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    assert!(run(&["migrate"], None).status.success());
    let file = dir.path().join("source.json");
    std::fs::write(&file, json!({"name": "HQ", "url": ldap.url, "bind_dn": ROOT_DN, "base_dn": format!("ou=people,{SUFFIX}"), "sync_minutes": 0, "colour": "blue"}).to_string()).unwrap();
    let o = run(&["directory", "add", "--file", file.to_str().unwrap(), "--secret-stdin"], Some(ROOT_PW));
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("colour"), "the unknown field is named: {}", text(&o.stderr));
    std::fs::write(&file, json!({"name": "HQ", "url": ldap.url, "bind_dn": ROOT_DN, "base_dn": format!("ou=people,{SUFFIX}"), "sync_minutes": 0}).to_string()).unwrap();
    let o = run(&["directory", "add", "--file", file.to_str().unwrap(), "--secret-stdin"], Some(ROOT_PW));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("HQ") && text(&o.stdout).contains("by hand only"), "{}", text(&o.stdout));
    let o = run(&["directory", "sync", "--id", "1", "--dry-run"], None);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("Would create 13 users") && out.contains("create     ana@orion.test"), "{out}");
    let o = run(&["directory", "sync", "--id", "1"], None);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("Created 13 users"), "{}", text(&o.stdout));
    let o = run(&["directory", "runs", "--id", "1", "--json"], None);
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let outcomes: Vec<&str> = runs.as_array().unwrap().iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["applied", "previewed"]);
    let o = run(&["directory", "list", "--json"], None);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(list[0]["users"], 13, "{list}");
    assert!(!text(&o.stdout).contains(ROOT_PW), "the secret is never printed");
}

/// A local OpenID provider: `oidc-provider-mock` from PyPI (installed by scripts/test), launched
/// by fixtures/oidc_provider.py with authlib's PKCE check switched on, on a free port; nonces
/// required. Stopped when dropped.
pub(crate) struct OpenIdProvider {
    child: Child,
    pub url: String,
    http: reqwest::Client,
}

impl Drop for OpenIdProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OpenIdProvider {
    /// The provider, or `None` (loudly) when the package is missing outside CI.
    pub async fn start() -> Option<OpenIdProvider> {
        let have = Command::new("python3")
            .args(["-c", "import oidc_provider_mock"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !have {
            assert!(
                !orion_testkit::in_ci(),
                "oidc-provider-mock is required under CI=true (scripts/test installs it with pip)"
            );
            eprintln!("\n*** oidc-provider-mock missing (pip install oidc-provider-mock): test SKIPPED ***\n");
            return None;
        }
        let port = free_port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures/oidc_provider.py");
        let child = Command::new("python3")
            .args(["-W", "ignore", script, "--port", &port.to_string(), "--require-nonce"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the OpenID provider");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let op = OpenIdProvider { child, url, http };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let r = op.http.get(format!("{}/.well-known/openid-configuration", op.url)).send().await;
            if r.is_ok_and(|r| r.status().is_success()) {
                return Some(op);
            }
            assert!(std::time::Instant::now() < deadline, "the OpenID provider did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sets the claims the provider gives `sub` (any claim, even `aud` or `nonce`).
    pub async fn set_user(&self, sub: &str, claims: Value) {
        let r = self.http.put(format!("{}/users/{sub}", self.url)).json(&claims).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }

    /// Signs `sub` in on the provider's form at `authorize_url`: where the provider sends the
    /// browser back to.
    async fn authorize(&self, authorize_url: &str, sub: &str) -> String {
        let r = self.http.post(authorize_url).form(&[("sub", sub)]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FOUND, "{}", r.text().await.unwrap());
        r.headers()["location"].to_str().unwrap().to_string()
    }
}

/// One sign-in through the provider, as the browser makes it: Orion's start page, the provider's
/// form (`tamper` may change the authorisation URL first), back to Orion's callback.
async fn sso_sign_in(
    web: &mut crate::web::Web,
    app: &TestApp,
    op: &OpenIdProvider,
    provider: i64,
    sub: &str,
    tamper: impl Fn(String) -> String,
) -> crate::web::Resp {
    let r = web.get(&format!("/login/sso/{provider}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.location.starts_with(&format!("{}/oauth2/authorize?", op.url)), "{}", r.location);
    for part in ["code_challenge_method=S256", "code_challenge=", "nonce=", "state=", "scope=openid"] {
        assert!(r.location.contains(part), "{part} missing from {}", r.location);
    }
    let back = op.authorize(&tamper(r.location), sub).await;
    let path = back.strip_prefix(&app.base).unwrap_or_else(|| panic!("back to {back}, not {}", app.base));
    assert!(path.starts_with("/login/sso/callback?"), "{path}");
    web.get(path).await
}

async fn security_log(app: &TestApp, admin: &str) -> Vec<Value> {
    let (_, log) = app.get(admin, "/api/v1/security/log?limit=100").await;
    log["items"].as_array().cloned().unwrap_or_default()
}

async fn single_sign_on_with_openid_connect(engine: Engine) {
    let Some(op) = OpenIdProvider::start().await else { return };
    let Some(app) = TestApp::spawn(engine).await else { return };
    const PW: &str = "staple horse battery correct";
    let admin = app.bootstrap_admin("root@orion.test").await;
    app.post(&admin, "/api/v1/groups", json!({"name": "Service Desk", "tier": 1})).await;

    // An admin adds the provider; a plain-HTTP issuer elsewhere than this machine is refused.
    let (st, b) = app
        .post(
            &admin,
            "/api/v1/sso/providers",
            json!({"name": "x", "issuer_url": "http://idp.example.org", "client_id": "o"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.to_string().contains("issuer_url"), "{b}");
    let (st, p) = app
        .post(
            &admin,
            "/api/v1/sso/providers",
            json!({
                "name": "Staff account", "issuer_url": op.url, "client_id": "orion-test", "client_secret": "s3cret",
                "group_rules": [{"group": "it-desk", "role": "agent", "orion_group": "Service Desk"},
                                {"group": "it-leads", "role": "lead"}],
            }),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let pid = p["id"].as_i64().unwrap();
    assert_eq!(p["has_secret"], json!(true));
    assert!(p.get("client_secret").is_none(), "the secret is never shown: {p}");

    // The sign-in page offers it.
    let mut web = crate::web::Web::new(&app);
    let page = web.get("/login").await;
    assert!(page.body.contains("Sign in with Staff account"), "{}", page.body);

    // First sign-in of someone Orion does not know: an agent account, in the Service Desk group.
    op.set_user(
        "alice-sub",
        json!({"email": "Alice@orion.test", "email_verified": true, "name": "Alice Agent",
        "groups": ["it-desk"]}),
    )
    .await;
    let r = sso_sign_in(&mut web, &app, &op, pid, "alice-sub", |u| u).await;
    assert_eq!(r.location, "/agent", "{}", r.body);
    assert!(web.cookie.is_some(), "signed in");
    assert!(!web.others.contains_key("orion_sso"), "the state cookie is cleared: {:?}", web.others);
    let alice = user_by_email(&app, &admin, "alice@orion.test").await.expect("account created");
    assert_eq!((alice["role"].as_str(), alice["name"].as_str()), (Some("agent"), Some("Alice Agent")), "{alice}");
    assert!(alice["groups"].to_string().contains("Service Desk"), "{alice}");
    let log = security_log(&app, &admin).await;
    assert!(
        log.iter()
            .any(|e| e["kind"] == "sign_in" && e["detail"].as_str().unwrap_or("").contains("through Staff account")),
        "{log:?}"
    );

    // The same answer twice: the state works once.
    let again = web.get("/login/sso/callback?state=used&code=x").await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "no state cookie for it: {}", again.body);

    // Someone already known by e-mail (a local account) is linked, not duplicated; later the
    // provider's subject finds them even after the address changes there. A group change at
    // the provider changes the role at the next sign-in.
    let (_, bob) = app.post(&admin, "/api/v1/users", json!({"email": "bob@orion.test", "name": "Bob"})).await;
    op.set_user("bob-sub", json!({"email": "bob@orion.test", "groups": ["it-leads"]})).await;
    let mut bw = crate::web::Web::new(&app);
    let r = sso_sign_in(&mut bw, &app, &op, pid, "bob-sub", |u| u).await;
    assert_eq!(r.location, "/agent", "{}", r.body);
    let b2 = user_by_email(&app, &admin, "bob@orion.test").await.unwrap();
    assert_eq!((b2["id"].clone(), b2["role"].as_str()), (bob["id"].clone(), Some("lead")), "{b2}");
    op.set_user("bob-sub", json!({"email": "robert@orion.test", "groups": []})).await;
    let mut bw = crate::web::Web::new(&app);
    let r = sso_sign_in(&mut bw, &app, &op, pid, "bob-sub", |u| u).await;
    assert_eq!(r.location, "/portal", "a requester now: {}", r.body);
    assert!(user_by_email(&app, &admin, "robert@orion.test").await.is_none(), "no second account");
    let b3 = user_by_email(&app, &admin, "bob@orion.test").await.unwrap();
    assert_eq!(b3["role"].as_str(), Some("requester"), "{b3}");

    // Tokens Orion must refuse: a nonce that is not this sign-in's, and an audience that is not
    // Orion (the provider signs both; only the checks stop them). Nothing is created.
    for (sub, claims) in [
        ("mallory", json!({"email": "mallory@orion.test", "nonce": "not-the-one-orion-sent"})),
        ("eve", json!({"email": "eve@orion.test", "aud": "some-other-app"})),
    ] {
        op.set_user(sub, claims).await;
        let mut w = crate::web::Web::new(&app);
        let r = sso_sign_in(&mut w, &app, &op, pid, sub, |u| u).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{sub}: {}", r.body);
        assert!(
            r.body.contains("did not pass Orion&#x27;s checks") || r.body.contains("did not pass Orion"),
            "{}",
            r.body
        );
        assert!(w.cookie.is_none(), "{sub} got a session");
        assert!(user_by_email(&app, &admin, &format!("{sub}@orion.test")).await.is_none());
    }
    let log = security_log(&app, &admin).await;
    let failed: Vec<&str> =
        log.iter().filter(|e| e["kind"] == "sso_sign_in_failed").filter_map(|e| e["detail"].as_str()).collect();
    assert!(failed.iter().any(|d| d.contains("nonce")), "{failed:?}");
    assert!(failed.iter().any(|d| d.to_lowercase().contains("audience")), "{failed:?}");

    // PKCE: a code obtained with another challenge (an attacker's interception) is refused by
    // the provider at the token exchange.
    op.set_user("pkce-sub", json!({"email": "pkce@orion.test"})).await;
    let mut w = crate::web::Web::new(&app);
    let swap = |u: String| {
        let i = u.find("code_challenge=").unwrap() + "code_challenge=".len();
        let end = u[i..].find('&').map_or(u.len(), |e| i + e);
        format!("{}{}{}", &u[..i], "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", &u[end..])
    };
    let r = sso_sign_in(&mut w, &app, &op, pid, "pkce-sub", swap).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert!(w.cookie.is_none());

    // A provider that may not create accounts turns strangers away, by name.
    let (st, b) = app.put(&admin, &format!("/api/v1/sso/providers/{pid}"), json!({"create_users": false})).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["has_secret"], json!(true), "a left-out secret is kept");
    op.set_user("carol-sub", json!({"email": "carol@orion.test"})).await;
    let mut w = crate::web::Web::new(&app);
    let r = sso_sign_in(&mut w, &app, &op, pid, "carol-sub", |u| u).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("no Orion account for carol@orion.test"), "{}", r.body);

    // Password sign-in off for agents and admins: a password no longer signs them in (with a
    // sentence saying why), except a break-glass admin's. The last provider cannot go then.
    app.user(&admin, "tina@orion.test", "agent", &["Service Desk"]).await;
    app.user(&admin, "otto@orion.test", "admin", &[]).await;
    for who in ["tina@orion.test", "otto@orion.test", "root@orion.test"] {
        app.app.set_password(who, PW.into()).await.unwrap();
    }
    let (_, root) = app.get(&admin, "/api/v1/me").await;
    let (st, b) = app.patch(&admin, &format!("/api/v1/users/{}", root["id"]), json!({"break_glass": true})).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let (_, mut sec) = app.get(&admin, "/api/v1/settings/security").await;
    sec["password_sign_in_off"] = json!(["agent", "admin"]);
    sec.as_object_mut().unwrap().remove("two_factor_required_since");
    let (st, b) = app.put(&admin, "/api/v1/settings/security", sec).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    for who in ["tina@orion.test", "otto@orion.test"] {
        let mut w = crate::web::Web::new(&app);
        let r = w.login(who, PW).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{who}");
        assert!(r.body.contains("signs you in with single sign-on"), "{}", r.body);
    }
    let mut w = crate::web::Web::new(&app);
    let r = w.login("root@orion.test", PW).await;
    assert_eq!(r.location, "/agent", "the break-glass admin keeps the password: {}", r.body);
    let (st, b) = app.delete(&admin, &format!("/api/v1/sso/providers/{pid}")).await;
    assert_eq!(st, StatusCode::CONFLICT, "{b}");

    // Signing out ends the Orion session and sends the browser to the provider's end-session
    // endpoint with the ID token as hint, and back to Orion's sign-in page.
    let r = web.post("/logout", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let to = between(&r.body, "id=\"continue-sign-out\" href=\"", "\"").replace("&amp;", "&");
    assert!(to.starts_with(&format!("{}/oauth2/end_session?", op.url)), "{to}");
    assert!(to.contains("id_token_hint=ey"), "{to}");
    assert!(to.contains("post_logout_redirect_uri="), "{to}");
    assert!(r.body.contains("http-equiv=\"refresh\""), "{}", r.body);
    assert!(web.cookie.is_none(), "the session cookie is cleared");
    assert_eq!(web.get("/agent").await.status, StatusCode::SEE_OTHER, "the session is over");
}

/// Turns two-factor sign-in on for the user signed in as `web` (its secret back).
async fn enrol_totp(web: &mut crate::web::Web, app: &TestApp) -> String {
    let page = web.get("/account/two-factor").await;
    let secret = between(&page.body, "id=\"totp-secret\">", "<").to_string();
    let r = web.post("/account/two-factor", &[("code", &oathtool(app, &secret))]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    secret
}

async fn approving_a_change_can_ask_for_the_second_factor(engine: Engine) {
    let found = Command::new("sh").args(["-c", "command -v oathtool"]).output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(!orion_testkit::in_ci(), "oathtool is required under CI=true (scripts/test installs oathtool)");
        eprintln!("\n*** oathtool missing: test SKIPPED ***\n");
        return;
    }
    let Some(app) = TestApp::spawn(engine).await else { return };
    const PW: &str = "staple horse battery correct";
    let admin = app.bootstrap_admin("root@orion.test").await;
    app.post(&admin, "/api/v1/groups", json!({"name": "Infrastructure", "tier": 2})).await;
    let sam = app.user(&admin, "sam@orion.test", "agent", &["Infrastructure"]).await;
    let lea = app.user(&admin, "lea@orion.test", "lead", &["Infrastructure"]).await;
    app.user(&admin, "max@orion.test", "agent", &["Infrastructure"]).await;
    for who in ["lea@orion.test", "max@orion.test"] {
        app.app.set_password(who, PW.into()).await.unwrap();
    }
    let (st, c) = app
        .post(
            &sam,
            "/api/v1/changes",
            json!({"title": "Patch db-pay", "implementation_plan": "apt upgrade; reboot",
                "backout_plan": "Restore the snapshot", "test_plan": "Run the payroll export",
                "risk_impact": 2, "risk_complexity": 2, "risk_experience": 2, "risk_backout": 1,
                "planned_start": "2026-11-20T10:00:00Z", "planned_end": "2026-11-20T12:00:00Z",
                "assignment_group": "Infrastructure", "approvers": ["lea@orion.test", "max@orion.test"],
                "approval_rule": "any"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    let n = c["ticket"]["number"].as_str().unwrap().to_string();
    for to in ["assessment", "approval"] {
        let (st, b) = app.post(&sam, &format!("/api/v1/changes/{n}/phase"), json!({"phase": to})).await;
        assert_eq!(st, StatusCode::OK, "{b}");
    }

    let mut lw = crate::web::Web::new(&app);
    lw.login("lea@orion.test", PW).await;
    let secret = enrol_totp(&mut lw, &app).await;
    let mut mw = crate::web::Web::new(&app);
    mw.login("max@orion.test", PW).await;

    let (_, mut sec) = app.get(&admin, "/api/v1/settings/security").await;
    sec["step_up_for_change_approval"] = json!(true);
    sec.as_object_mut().unwrap().remove("two_factor_required_since");
    let (st, b) = app.put(&admin, "/api/v1/settings/security", sec).await;
    assert_eq!(st, StatusCode::OK, "{b}");

    // An API token cannot decide: it has no second factor to confirm.
    let (st, b) = app.post(&lea, &format!("/api/v1/changes/{n}/approvals"), json!({"decision": "approved"})).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{b}");
    // Max has no second factor: the page says what to do, and nothing is decided.
    let r = mw.post(&format!("/agent/changes/{n}/decide"), &[("decision", "approved")]).await;
    assert!(r.body.contains("approving changes needs two-factor sign-in"), "{} {}", r.status, r.body);
    // Lea's last code is older than the settings allow: the confirmation page first, then the
    // decision goes through.
    use orion_app::Clock;
    app.clock.set(orion_domain::Timestamp(app.clock.now().0 + 20 * 60_000));
    let r = lw.post(&format!("/agent/changes/{n}/decide"), &[("decision", "approved")]).await;
    assert!(r.location.starts_with("/account/confirm?next="), "{} {}", r.status, r.location);
    let (_, c) = app.get(&sam, &format!("/api/v1/changes/{n}")).await;
    assert_eq!(c["approval"], json!("pending"), "not decided before the code: {c}");
    let r = lw
        .post("/account/confirm", &[("code", &oathtool(&app, &secret)), ("next", &format!("/agent/changes/{n}"))])
        .await;
    assert_eq!(r.location, format!("/agent/changes/{n}"), "{}", r.body);
    let r = lw.post(&format!("/agent/changes/{n}/decide"), &[("decision", "approved")]).await;
    assert_eq!(r.location, format!("/agent/changes/{n}?m=decided"), "{}", r.body);
    let (_, c) = app.get(&sam, &format!("/api/v1/changes/{n}")).await;
    assert_eq!(c["approval"], json!("approved"), "{c}");
}

async fn a_deactivated_users_tokens_stop_at_once_on_every_node(engine: Engine) {
    use orion_app::Clock;
    let Some(app) = TestApp::spawn(engine).await else { return };
    let admin = app.bootstrap_admin("root@orion.test").await;
    let tina = app.user(&admin, "tina@orion.test", "agent", &[]).await;
    let tina_id = app.get(&tina, "/api/v1/me").await.1["id"].as_i64().unwrap();
    // A second node on the same database. Its clock stands still, so its token cache never ages
    // out by itself: only the word from the first node can empty it.
    let node2 = match engine {
        Engine::Postgres => {
            let db = orion_store::Db::connect(app.database_url(), &orion_store::DbOptions::default()).await.unwrap();
            let clock = std::sync::Arc::new(orion_app::ManualClock::new(app.clock.now()));
            let node = orion_app::App::new(db, clock);
            let stop = std::sync::Arc::new(tokio::sync::Notify::new());
            let s = stop.clone();
            let task =
                tokio::spawn(orion_app::auth::run_auth_listener(node.clone(), async move { s.notified().await }));
            Some((node, stop, task))
        }
        Engine::Sqlite => None,
    };
    assert_eq!(app.get(&tina, "/api/v1/me").await.0, StatusCode::OK);
    if let Some((node, _, _)) = &node2 {
        let actor = node.authenticate(&tina).await.expect("node 2 knows the token");
        assert_eq!(actor.id.0, tina_id);
        // The listener may still be connecting; give it a moment (it empties the cache then too).
        tokio::time::sleep(Duration::from_millis(300)).await;
        node.authenticate(&tina).await.expect("cached on node 2");
    }

    // Deactivated on the first node: refused there at once, and on the second within moments.
    let (st, b) = app.patch(&admin, &format!("/api/v1/users/{tina_id}"), json!({"active": false})).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(app.get(&tina, "/api/v1/me").await.0, StatusCode::UNAUTHORIZED, "node 1 still took the token");
    if let Some((node, stop, task)) = node2 {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while node.authenticate(&tina).await.is_ok() {
            assert!(std::time::Instant::now() < deadline, "node 2 still takes a deactivated user's token");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A revoked token of an active user, the same way.
        let (st, b) = app.patch(&admin, &format!("/api/v1/users/{tina_id}"), json!({"active": true})).await;
        assert_eq!(st, StatusCode::OK, "{b}");
        let fresh = app.app.create_token_for("tina@orion.test", "second").await.unwrap();
        node.authenticate(&fresh.token).await.expect("node 2 takes the new token");
        let (st, b) = app.delete(&fresh.token, &format!("/api/v1/me/tokens/{}", fresh.id)).await;
        assert!(st.is_success(), "{st} {b}");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while node.authenticate(&fresh.token).await.is_ok() {
            assert!(std::time::Instant::now() < deadline, "node 2 still takes a revoked token");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.notify_one();
        task.await.unwrap();
    }
}

/// A software security key (webauthn-authenticator-rs's `SoftPasskey`) answering Orion's options
/// as a browser at `base` would.
struct SoftKey {
    key: webauthn_authenticator_rs::softpasskey::SoftPasskey,
    origin: webauthn_authenticator_rs::prelude::Url,
}

impl SoftKey {
    fn new(base: &str) -> SoftKey {
        SoftKey {
            key: webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true),
            origin: webauthn_authenticator_rs::prelude::Url::parse(base).unwrap(),
        }
    }

    fn register(&mut self, options: &str) -> String {
        use webauthn_authenticator_rs::WebauthnAuthenticator;
        let o = serde_json::from_str(options).unwrap_or_else(|e| panic!("{e}: {options}"));
        let r = self.key.do_registration(self.origin.clone(), o).unwrap_or_else(|e| panic!("{e:?}: {options}"));
        serde_json::to_string(&r).unwrap()
    }

    fn sign(&mut self, options: &str, origin: Option<&str>) -> String {
        use webauthn_authenticator_rs::WebauthnAuthenticator;
        let o = serde_json::from_str(options).unwrap_or_else(|e| panic!("{e}: {options}"));
        let origin = origin.map_or(self.origin.clone(), |o| webauthn_authenticator_rs::prelude::Url::parse(o).unwrap());
        let r = self.key.do_authentication(origin, o).unwrap_or_else(|e| panic!("{e:?}: {options}"));
        serde_json::to_string(&r).unwrap()
    }
}

async fn security_keys_are_a_second_factor(engine: Engine) {
    let Some(app) = TestApp::spawn(engine).await else { return };
    const PW: &str = "staple horse battery correct";
    let admin = app.bootstrap_admin("root@orion.test").await;
    let tina_token = app.user(&admin, "tina@orion.test", "agent", &[]).await;
    app.app.set_password("tina@orion.test", PW.into()).await.unwrap();
    // WebAuthn needs Orion to be reached by a name: the browser's origin is http://localhost:PORT.
    let base = app.base.replace("127.0.0.1", "localhost");
    let mut key = SoftKey::new(&base);

    // Reached by its IP address, Orion says why keys cannot work there.
    let mut by_ip = crate::web::Web::new(&app);
    by_ip.login("tina@orion.test", PW).await;
    let r = by_ip.post("/account/security-keys/options", &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("by a name"), "{}", r.body);

    // Tina adds a key on her account page: the first second factor comes with recovery codes.
    let mut w = crate::web::Web::with_base(&base);
    assert_eq!(w.login("tina@orion.test", PW).await.location, "/agent");
    let page = w.get("/account").await;
    assert!(page.body.contains("id=\"add-key\""), "{}", page.body);
    let r = w.post("/account/security-keys/options", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let answer = key.register(&r.body);
    let r = w.post("/account/security-keys", &[("name", "Soft key"), ("credential", &answer)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let codes: Vec<String> =
        r.body.split("<li><code>").skip(1).map(|c| c.split('<').next().unwrap().to_string()).collect();
    assert_eq!(codes.len(), 10, "{}", r.body);
    // The same answer again (a replay) is refused: its challenge was used.
    let r = w.post("/account/security-keys", &[("name", "Again"), ("credential", &answer)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let (_, st) = app.get(&tina_token, "/api/v1/me/two-factor").await;
    assert_eq!((st["enabled"].clone(), st["security_keys"].clone()), (json!(true), json!(1)), "{st}");

    // Signing in now asks for the key after the password; the key's signature signs her in.
    let mut b = crate::web::Web::with_base(&base);
    let r = b.login("tina@orion.test", PW).await;
    assert_eq!(r.location, "/login/two-factor", "{}", r.body);
    let page = b.get("/login/two-factor").await;
    assert!(page.body.contains("Use your security key"), "{}", page.body);
    let r = b.post("/login/two-factor/key-options", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let signed = key.sign(&r.body, None);
    let r = b.post("/login/two-factor/key", &[("credential", &signed)]).await;
    assert_eq!(r.location, "/agent", "{}", r.body);
    assert!(b.cookie.is_some());

    // Refused: the same signature again, and one made for another site.
    let mut b = crate::web::Web::with_base(&base);
    b.login("tina@orion.test", PW).await;
    b.post("/login/two-factor/key-options", &[]).await;
    let r = b.post("/login/two-factor/key", &[("credential", &signed)]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a replayed signature signed in");
    let r = b.post("/login/two-factor/key-options", &[]).await;
    // Another site on the same machine (another port): its page could ask the key, not for Orion.
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    let phished = key.sign(&r.body, Some(&format!("http://localhost:{}", port + 1)));
    let r = b.post("/login/two-factor/key", &[("credential", &phished)]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a signature for another origin signed in");
    assert!(b.cookie.is_none());
    // A recovery code still works instead of the key.
    let r = b.post("/login/two-factor", &[("code", &codes[0])]).await;
    assert_eq!(r.location, "/agent", "{}", r.body);

    // Before a sensitive change, the key confirms it is her.
    use orion_app::Clock;
    app.clock.set(orion_domain::Timestamp(app.clock.now().0 + 20 * 60_000));
    let mut b = crate::web::Web::with_base(&base);
    b.login("tina@orion.test", PW).await;
    let r = b.post("/login/two-factor/key-options", &[]).await;
    let r = b.post("/login/two-factor/key", &[("credential", &key.sign(&r.body, None))]).await;
    assert_eq!(r.location, "/agent");
    app.clock.set(orion_domain::Timestamp(app.clock.now().0 + 20 * 60_000));
    let (_, keys) = app.get(&tina_token, "/api/v1/me/two-factor").await;
    assert_eq!(keys["security_keys"], json!(1));
    let page = b.get("/account").await;
    let id = between(&page.body, "/account/security-keys/", "/remove").to_string();
    let r = b.post(&format!("/account/security-keys/{id}/remove"), &[]).await;
    assert!(r.location.starts_with("/account/confirm?next="), "{} {}", r.status, r.location);
    let page = b.get(&r.location.clone()).await;
    assert!(page.body.contains("Use your security key"), "{}", page.body);
    let o = b.post("/account/confirm/key-options", &[]).await;
    let r = b.post("/account/confirm/key", &[("credential", &key.sign(&o.body, None)), ("next", "/account")]).await;
    assert_eq!(r.location, "/account", "{}", r.body);
    let r = b.post(&format!("/account/security-keys/{id}/remove"), &[]).await;
    assert_eq!(r.location, "/account?m=key_removed", "{}", r.body);
    let (_, st) = app.get(&tina_token, "/api/v1/me/two-factor").await;
    assert_eq!((st["enabled"].clone(), st["recovery_codes_left"].clone()), (json!(false), json!(0)), "{st}");
}
