//! A throwaway PostgreSQL cluster for tests (recipe in shared/STACK.md).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// `postgres://…/postgres` of a cluster to create test databases in, if one can be had.
pub fn pg_base_url() -> Option<String> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(u) = std::env::var("ORION_TEST_PG_URL")
            && !u.is_empty()
        {
            return Some(u);
        }
        match start_cluster() {
            Ok(u) => Some(u),
            Err(e) => {
                eprintln!("*** cannot start a throwaway PostgreSQL: {e} ***");
                None
            }
        }
    })
    .clone()
}

fn pg_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("postgres").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Starts a cluster owned by this process: a watchdog stops it when the test process exits.
fn start_cluster() -> Result<String, String> {
    let bin = pg_bin().ok_or("no PostgreSQL server binaries under /usr/lib/postgresql")?;
    let dir = tempfile::Builder::new().prefix("orion-pg-").tempdir().map_err(|e| e.to_string())?.keep();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        l.local_addr().map_err(|e| e.to_string())?.port()
    };
    let root = is_root();
    let as_pg = |args: &[&str]| -> Command {
        if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).args(args);
            c
        } else {
            let mut c = Command::new(args[0]);
            c.args(&args[1..]);
            c
        }
    };
    if root {
        Command::new("chown").args(["-R", "postgres"]).arg(&dir).status().map_err(|e| e.to_string())?;
    }
    let data = dir.join("data");
    let initdb = bin.join("initdb");
    let out = as_pg(&[
        initdb.to_str().unwrap_or("initdb"),
        "-D",
        data.to_str().unwrap_or(""),
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--no-sync",
    ])
    .output()
    .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    // The watchdog shell runs postgres and stops it (and removes the data) once this process is gone.
    let postgres = bin.join("postgres");
    let script = format!(
        "{pg} -D {data} -k {dir} -h 127.0.0.1 -p {port} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 >{dir}/log 2>&1 & pid=$!; \
         while [ -d /proc/{parent} ]; do sleep 1; done; kill -INT $pid; wait $pid; rm -rf {dir}",
        pg = postgres.display(),
        data = data.display(),
        dir = dir.display(),
        parent = std::process::id(),
    );
    let mut watchdog = as_pg(&["sh", "-c", &script]);
    watchdog.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    watchdog.spawn().map_err(|e| format!("starting postgres: {e}"))?;
    let ready = bin.join("pg_isready");
    for _ in 0..200 {
        let ok = Command::new(&ready)
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p", &port.to_string(), "-q"])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(format!("PostgreSQL did not become ready; see {}/log", dir.display()))
}

/// Creates an empty database in the cluster and returns its URL.
pub(crate) async fn create_database(base: &str) -> String {
    use rand::Rng;
    let name = format!("orion_t{:016x}", rand::rng().random::<u64>());
    let db = orion_store::Db::connect(base, &orion_store::DbOptions { max_connections: 1, ..Default::default() })
        .await
        .expect("connect to the test cluster");
    db.execute_admin(&format!("CREATE DATABASE {name}")).await.expect("create database");
    db.close().await;
    match base.rfind('/') {
        Some(i) => format!("{}/{name}", &base[..i]),
        None => panic!("unexpected PostgreSQL URL {base}"),
    }
}
