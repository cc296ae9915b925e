//! The `orion` binary itself: exit codes, scripting output, serve and shut down.

use orion_testkit::{Engine, fresh_database};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_orion");

/// Runs `orion` against a database, feeding `stdin`.
pub(crate) fn orion(db: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("ORION_DATABASE_URL", db)
        .env("ORION_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run orion");
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

async fn scripts_can_set_up_a_desk_and_log_tickets(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = fresh_database(engine, dir.path()).await else { return };
    let ok = |args: &[&str], stdin: Option<&str>| {
        let o = orion(&db, args, stdin);
        assert!(o.status.success(), "orion {args:?} failed: {}", text(&o.stderr));
        text(&o.stdout)
    };
    ok(&["migrate"], None);
    ok(&["group", "create", "--name", "Desktop Support", "--tier", "2"], None);
    ok(&["group", "create", "--name", "Service Desk", "--tier", "1", "--escalates-to", "Desktop Support"], None);
    ok(
        &[
            "user",
            "create",
            "--email",
            "lead@example.com",
            "--name",
            "Lena",
            "--role",
            "lead",
            "--group",
            "Service Desk",
            "--password-stdin",
        ],
        Some("a long enough password\n"),
    );
    let groups = ok(&["group", "list", "--json"], None);
    let groups: serde_json::Value = serde_json::from_str(&groups).unwrap();
    assert_eq!(groups[0]["name"], "Service Desk");
    assert_eq!(groups[0]["members"], serde_json::json!(["lead@example.com"]));

    // `token create` prints the token and nothing else, so `$(orion token create …)` works.
    let token = ok(&["token", "create", "--user", "lead@example.com"], None);
    let token = token.strip_suffix('\n').unwrap();
    assert!(token.starts_with("orion_") && token.len() == 70 && !token.contains(char::is_whitespace), "{token:?}");

    let number = ok(
        &[
            "ticket",
            "create",
            "--as",
            "lead@example.com",
            "--title",
            "Projector in room 4 is dead",
            "--impact",
            "2",
            "--urgency",
            "2",
            "--requester",
            "caller@example.com",
        ],
        None,
    );
    assert_eq!(number.trim(), "INC0000001");
    let list = ok(&["ticket", "list", "--as", "lead@example.com", "--json"], None);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["items"][0]["priority"], "P3");
    assert_eq!(list["items"][0]["requester"], "caller@example.com");
    let show = ok(&["ticket", "show", "INC0000001", "--as", "lead@example.com"], None);
    assert!(show.contains("Projector in room 4 is dead") && show.contains("created"), "{show}");

    // Calendars: hours, days and zone from the command line; holidays from an .ics file.
    ok(
        &[
            "calendar",
            "set",
            "--name",
            "Business hours",
            "--time-zone",
            "Europe/Berlin",
            "--hours",
            "08:00-12:00",
            "--hours",
            "13:00-17:00",
            "--days",
            "mon-fri",
        ],
        None,
    );
    let ics = dir.path().join("holidays.ics");
    std::fs::write(&ics, "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20261225\nRRULE:FREQ=YEARLY\nSUMMARY:Christmas\nEND:VEVENT\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20260403\nSUMMARY:Good Friday\nEND:VEVENT\nEND:VCALENDAR\n").unwrap();
    let out = ok(&["calendar", "import-holidays", "--name", "Business hours", "--file", ics.to_str().unwrap()], None);
    assert!(out.starts_with("2 holidays added"), "{out}");
    let cals: serde_json::Value = serde_json::from_str(&ok(&["calendar", "list", "--json"], None)).unwrap();
    let bh = cals.as_array().unwrap().iter().find(|c| c["name"] == "Business hours").unwrap();
    assert_eq!(
        (bh["time_zone"].as_str(), bh["week"][0].clone(), bh["week"][5].clone()),
        (Some("Europe/Berlin"), serde_json::json!([[480, 720], [780, 1020]]), serde_json::json!([]))
    );
    assert_eq!(
        (bh["holidays"].clone(), bh["yearly_holidays"].clone()),
        (serde_json::json!(["2026-04-03"]), serde_json::json!([[12, 25]]))
    );
    let o = orion(&db, &["calendar", "set", "--name", "X", "--time-zone", "UTC", "--hours", "9-17"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("--hours"), "{}", text(&o.stderr));

    // SLA policies from the command line.
    ok(
        &[
            "sla-policy",
            "set",
            "--name",
            "VIP",
            "--position",
            "1",
            "--priorities",
            "P1,P2",
            "--calendar",
            "24x7",
            "--first-response",
            "10",
            "--resolution",
            "120",
            "--update-interval",
            "30",
            "--on-priority-change",
            "restart",
            "--rules",
            r#"[{"on":"breach","actions":["notify_lead","raise_priority"]}]"#,
        ],
        None,
    );
    let ps: serde_json::Value = serde_json::from_str(&ok(&["sla-policy", "list", "--json"], None)).unwrap();
    assert_eq!((ps[0]["name"].as_str(), ps[0]["priorities"].clone()), (Some("VIP"), serde_json::json!(["P1", "P2"])));
    assert_eq!(
        (ps[0]["update_interval_minutes"].as_i64(), ps[0]["on_priority_change"].as_str()),
        (Some(30), Some("restart"))
    );
    assert_eq!(ps[0]["escalation_rules"][0]["actions"], serde_json::json!(["notify_lead", "raise_priority"]));
    let o = orion(
        &db,
        &["sla-policy", "set", "--name", "Bad", "--resolution", "5", "--rules", "[{\"on\":\"lunch\"}]"],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("--rules"), "{}", text(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&ok(&["report", "ola", "--from", "2020-01-01", "--json"], None)).unwrap();
    assert!(report["tiers"].is_array() && report["from"] == "2020-01-01T00:00:00.000Z", "{report}");
    // The leads' KPIs: JSON and CSV say the same; a filter's mistake names it.
    let kpis: serde_json::Value = serde_json::from_str(&ok(&["report", "kpis", "--json"], None)).unwrap();
    let created = kpis["summary"]["created"].as_i64().unwrap();
    assert!(created > 0, "{kpis}");
    let summary = ok(&["report", "kpis", "--csv", "summary"], None);
    assert!(summary.contains(&format!("Tickets created,{created},")), "{summary}");
    let listed = ok(&["report", "tickets", "--metric", "created", "--csv"], None);
    assert_eq!(listed.lines().count() as i64, created + 1, "{listed}");
    let o = orion(&db, &["report", "kpis", "--tier", "9"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("tier"), "{}", text(&o.stderr));
    let o = orion(&db, &["report", "ola", "--from", "someday"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("from"), "{}", text(&o.stderr));
    let o = orion(&db, &["sla-policy", "set", "--name", "Bad", "--calendar", "Nope", "--resolution", "5"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("calendar"), "{}", text(&o.stderr));

    // Failures name the field and exit 1; usage errors exit 2.
    let o = orion(&db, &["ticket", "create", "--as", "lead@example.com", "--title", "x", "--impact", "7"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("impact"), "{}", text(&o.stderr));
    let o = orion(
        &db,
        &["user", "create", "--email", "short@example.com", "--name", "S", "--password-stdin"],
        Some("short"),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("password"), "{}", text(&o.stderr));
    let o = orion(&db, &["group", "create", "--name", "X"], None);
    assert_eq!(o.status.code(), Some(2), "missing --tier is a usage error");
    let o = orion(&db, &["frobnicate"], None);
    assert_eq!(o.status.code(), Some(2));
    let o = orion(&db, &["token", "create", "--user", "nobody@example.com"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty(), "no token on failure");

    // Mailboxes: the secret from standard input, never printed back; bad settings named.
    ok(
        &["mailbox", "add", "--name", "helpdesk", "--host", "imap.example.com", "--username", "help@example.com"]
            .into_iter()
            .chain(["--secret-stdin"])
            .collect::<Vec<_>>(),
        Some("s3cret-Passw0rd\n"),
    );
    let boxes = ok(&["mailbox", "list", "--json"], None);
    assert!(!boxes.contains("s3cret"), "{boxes}");
    let boxes: serde_json::Value = serde_json::from_str(&boxes).unwrap();
    assert_eq!((boxes[0]["port"].as_i64(), boxes[0]["has_secret"].as_bool()), (Some(993), Some(true)), "{boxes}");
    let o = orion(&db, &["mailbox", "add", "--name", "x", "--host", "h", "--username", "u", "--security", "ssl"], None);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("security") && err.contains("secret"), "{err}");
    let o = orion(&db, &["mail", "outbox", "--json"], None);
    assert!(o.status.success() && text(&o.stdout).trim() == "[]", "{}", text(&o.stderr));

    // A spreadsheet of assets: a bad line is reported by file and line and nothing is written;
    // the fixed file is imported with a progress report, and exported back.
    let csv = dir.path().join("assets.csv");
    std::fs::write(&csv, "Asset Tag,type,name\nPC-1,laptop,One\nPC-2,fridge,Two\n").unwrap();
    let path = csv.to_str().unwrap();
    let o = orion(&db, &["import", "assets", path, "--map", "Asset Tag=asset_tag", "--as", "lead@example.com"], None);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains(&format!("{path}:3: type:")), "{err}");
    std::fs::write(&csv, "Asset Tag,type,name\nPC-1,laptop,One\nPC-2,desktop,Two\n").unwrap();
    let out = ok(&["import", "assets", path, "--map", "Asset Tag=asset_tag", "--as", "lead@example.com"], None);
    assert!(out.contains("2 lines: 2 new, 0 changed, 0 unchanged, 0 errors — written"), "{out}");
    let out = ok(&["export", "assets", "--as", "lead@example.com"], None);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.contains("PC-2,,desktop,Two,in_stock"), "{out}");

    // Problems and changes from scripts: a problem from a JSON body, a change approved by its
    // approver, and the calendar showing it; a bad body names the file.
    let body = dir.path().join("problem.json");
    std::fs::write(&body, r#"{"title": "Docking stations drop USB", "assets": ["PC-1"]}"#).unwrap();
    let out = ok(&["problem", "create", body.to_str().unwrap(), "--as", "lead@example.com"], None);
    let prb = out.split_whitespace().next().unwrap().to_string();
    assert!(prb.starts_with("PRB") && out.contains("new"), "{out}");
    let out = ok(&["problem", "move", &prb, "investigating", "--as", "lead@example.com"], None);
    assert!(out.contains("investigating"), "{out}");
    let listed = ok(&["problem", "list", "--json", "--as", "lead@example.com"], None);
    assert!(listed.contains(&prb), "{listed}");
    let out = ok(&["problem", "detect", "--as", "lead@example.com"], None);
    assert!(out.contains("incidents read"), "{out}");
    let change = serde_json::json!({"title": "Firmware for PC-1", "assets": ["PC-1"], "approvers": ["lead@example.com"],
        "implementation_plan": "Flash", "backout_plan": "Flash the old image", "risk_impact": 1, "risk_complexity": 1,
        "risk_experience": 1, "risk_backout": 1, "planned_start": "2026-11-25T08:00:00Z",
        "planned_end": "2026-11-25T09:00:00Z"});
    std::fs::write(&body, change.to_string()).unwrap();
    let out = ok(&["change", "create", body.to_str().unwrap(), "--as", "lead@example.com"], None);
    let chg = out.split_whitespace().next().unwrap().to_string();
    ok(&["change", "move", &chg, "assessment", "--as", "lead@example.com"], None);
    ok(&["change", "move", &chg, "approval", "--as", "lead@example.com"], None);
    let waiting = ok(&["change", "approvals", "--as", "lead@example.com"], None);
    assert!(waiting.contains(&chg), "{waiting}");
    let out = ok(&["change", "approve", &chg, "--comment", "go", "--as", "lead@example.com"], None);
    assert!(out.contains("scheduled"), "{out}");
    let cal =
        ok(&["change", "calendar", "--from", "2026-11-23", "--to", "2026-11-30", "--as", "lead@example.com"], None);
    assert!(cal.contains(&chg) && cal.contains("2026-11-25T08:00"), "{cal}");
    std::fs::write(&body, "{not json").unwrap();
    let o = orion(&db, &["change", "create", body.to_str().unwrap(), "--as", "lead@example.com"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("problem.json"), "{}", text(&o.stderr));
}

orion_testkit::engine_tests!(scripts_can_set_up_a_desk_and_log_tickets);

#[test]
fn a_typo_in_the_database_url_is_an_error_not_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = orion(&format!("sqlite3://{}/x.db", dir.path().display()), &["migrate"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("unsupported scheme"), "{}", text(&o.stderr));
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[test]
fn help_lists_every_command() {
    let o = Command::new(BIN).arg("--help").output().unwrap();
    let help = text(&o.stdout);
    for cmd in [
        "serve",
        "migrate",
        "user",
        "group",
        "token",
        "ticket",
        "calendar",
        "sla-policy",
        "report",
        "backup",
        "openapi",
        "problem",
        "change",
    ] {
        assert!(help.contains(cmd), "{cmd} missing from --help");
    }
}

/// `serve --demo` seeds once, answers, and stops cleanly on SIGTERM with its data intact.
#[test]
fn serve_demo_then_sigterm_shuts_down_cleanly_sqlite() {
    serve_demo_then_sigterm(Engine::Sqlite);
}

#[test]
fn serve_demo_then_sigterm_shuts_down_cleanly_postgres() {
    serve_demo_then_sigterm(Engine::Postgres);
}

fn serve_demo_then_sigterm(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // SQLite: the default data directory; PostgreSQL: a fresh database by URL.
    let url = match engine {
        Engine::Sqlite => None,
        Engine::Postgres => match rt.block_on(fresh_database(engine, dir.path())) {
            Some(u) => Some(u),
            None => return,
        },
    };
    let start = || {
        let mut c = Command::new(BIN);
        c.args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env("ORION_LOG", "info")
            .env_remove("ORION_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(u) = &url {
            c.env("ORION_DATABASE_URL", u);
        }
        c.spawn().unwrap()
    };
    let read_banner = |child: &mut std::process::Child| {
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (mut url, mut token) = (String::new(), String::new());
        let mut line = String::new();
        while out.read_line(&mut line).unwrap() > 0 {
            if let Some(u) = line.trim().strip_prefix("Orion demo is running: open ") {
                url = u.split_whitespace().next().unwrap().trim_end_matches('/').to_string();
            }
            let last = line.split_whitespace().last().unwrap_or_default();
            if line.contains("L1 agent") && last.starts_with("orion_") {
                token = last.to_string();
            }
            if line.starts_with("API description") {
                break;
            }
            line.clear();
        }
        (url, token)
    };
    let mut child = start();
    let (url, token) = read_banner(&mut child);
    assert!(url.starts_with("http://127.0.0.1:"), "no banner");
    let count_tickets = |url: &str, token: &str| -> (usize, std::collections::BTreeSet<String>) {
        rt.block_on(async {
            let c = reqwest::Client::new();
            let mut states = std::collections::BTreeSet::new();
            let mut n = 0;
            let mut cursor = String::new();
            loop {
                let page: serde_json::Value = c
                    .get(format!("{url}/api/v1/tickets?limit=200{cursor}"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                for t in page["items"].as_array().unwrap() {
                    n += 1;
                    states.insert(t["state"].as_str().unwrap().to_string());
                }
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = format!("&cursor={c}"),
                    None => break,
                }
            }
            (n, states)
        })
    };
    let (n, states) = count_tickets(&url, &token);
    assert!(n >= 300, "a few hundred demo tickets, got {n}");
    for s in ["new", "assigned", "in_progress", "pending", "resolved", "closed"] {
        assert!(states.contains(s), "no demo ticket in state {s}: {states:?}");
    }
    let term = |child: &mut std::process::Child| {
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        let status = child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        (status, err)
    };
    let (status, err) = term(&mut child);
    assert!(status.success(), "exit status {status:?}: {err}");
    assert!(err.contains("shut down cleanly"), "{err}");
    let wal = dir.path().join("orion.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0, "the WAL is checkpointed on shutdown");

    // A second start keeps the data and does not seed again.
    let mut child = start();
    let (url, token) = read_banner(&mut child);
    let (n2, _) = count_tickets(&url, &token);
    assert_eq!(n2, n, "the demo is seeded once");
    let (status, _) = term(&mut child);
    assert!(status.success());
}

#[test]
fn the_committed_openapi_document_is_current() {
    let o = Command::new(BIN).arg("openapi").output().unwrap();
    assert!(o.status.success());
    let generated = text(&o.stdout);
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json"))
        .expect("docs/openapi.json");
    assert!(
        generated.trim() == committed.trim(),
        "docs/openapi.json is stale: run `cargo run -- openapi > docs/openapi.json`"
    );
}
