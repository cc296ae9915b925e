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

engine_tests!(directory_sync_from_openldap_is_keyed_reviewed_and_guarded);

const SUFFIX: &str = "dc=orion,dc=test";
const ROOT_DN: &str = "cn=admin,dc=orion,dc=test";
const ROOT_PW: &str = "s3cret-bind";

/// Says whether slapd is here; under CI its absence fails the test.
fn have_slapd() -> bool {
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
struct Slapd {
    child: Child,
    _dir: tempfile::TempDir,
    url: String,
}

impl Slapd {
    fn start(seed: &str) -> Slapd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("db")).unwrap();
        let conf = d.join("slapd.conf");
        std::fs::write(
            &conf,
            format!(
                "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
                 include /etc/ldap/schema/inetorgperson.schema\ninclude /etc/ldap/schema/nis.schema\n\
                 pidfile {p}/slapd.pid\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\nmoduleload ppolicy\n\
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
        let url = format!("ldap://127.0.0.1:{port}");
        let child = Command::new("slapd")
            .args(["-h", &url, "-f"])
            .arg(&conf)
            .args(["-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Dropped on every path from here: Drop kills and waits for slapd.
        let slapd = Slapd { child, _dir: dir, url };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return slapd;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("slapd did not start on {}", slapd.url);
    }

    /// Applies an LDIF change (add, modify, modrdn, delete) as the directory's admin.
    fn modify(&self, ldif: &str) {
        let mut c = Command::new("ldapmodify")
            .args(["-x", "-H", &self.url, "-D", ROOT_DN, "-w", ROOT_PW])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(ldif.as_bytes()).unwrap();
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "ldapmodify {ldif}: {}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn person(uid: &str, name: &str, extra: &str) -> String {
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

async fn user_by_email(app: &TestApp, token: &str, email: &str) -> Option<Value> {
    let (s, b) = app.get(token, &format!("/api/v1/users?q={email}")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["items"].as_array().unwrap().iter().find(|u| u["email"] == email).cloned()
}

async fn sync(app: &TestApp, token: &str, id: i64, body: Value) -> Value {
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
