//! Test harness: the real Orion server on 127.0.0.1:0 against a fresh database,
//! SQLite in a temp directory or a database in a throwaway PostgreSQL cluster.
//!
//! PostgreSQL comes from `ORION_TEST_PG_URL` (scripts/test starts one cluster
//! for the whole run) or, failing that, from a cluster this process starts from
//! the installed Debian binaries. Without PostgreSQL a test skips loudly,
//! unless `CI=true`, where it fails.

mod pg;

pub use pg::pg_base_url;

use orion::{DatabaseConfig, Server, ServerConfig};
use orion_app::{App, ManualClock};
use orion_domain::Timestamp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per engine for each named `async fn(Engine)`.
#[macro_export]
macro_rules! engine_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::Engine::Sqlite).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::Engine::Postgres).await }
            )*
        }
    };
}

/// Is this a CI run, where a missing peer is a failure?
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A database URL for a fresh, empty database of `engine`, or `None` (after a loud
/// message) when PostgreSQL is unavailable outside CI.
pub async fn fresh_database(engine: Engine, dir: &std::path::Path) -> Option<String> {
    match engine {
        Engine::Sqlite => Some(format!("sqlite://{}", dir.join("orion.db").display())),
        Engine::Postgres => {
            let Some(base) = pg_base_url() else {
                if in_ci() {
                    panic!("PostgreSQL is required under CI=true but could not be started; see the messages above");
                }
                eprintln!(
                    "\n*** SKIPPED: PostgreSQL is not available (install postgresql or set ORION_TEST_PG_URL) ***\n"
                );
                return None;
            };
            Some(pg::create_database(&base).await)
        }
    }
}

/// A running Orion server and a client for it.
pub struct TestApp {
    pub engine: Engine,
    pub base: String,
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    url: String,
    dir: Arc<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    /// Starts Orion on a fresh database; `None` when the engine is unavailable locally.
    pub async fn spawn(engine: Engine) -> Option<TestApp> {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let url = fresh_database(engine, dir.path()).await?;
        let clock = Arc::new(ManualClock::new(Timestamp(1_795_000_000_000)));
        Some(Self::start(engine, url, dir, clock).await)
    }

    /// Builds the node as `orion serve` does (`orion::Server`), on the test's clock and database,
    /// without its background work: tests step the job worker themselves.
    async fn start(engine: Engine, url: String, dir: Arc<tempfile::TempDir>, clock: Arc<ManualClock>) -> TestApp {
        let config = ServerConfig {
            background: false,
            ..ServerConfig::new("127.0.0.1:0", DatabaseConfig::new(dir.path(), Some(url.clone())))
        };
        let server = Server::build_with_clock(config, clock.clone()).await.expect("build the server");
        let base = format!("http://{}", server.local_addr());
        let app = server.app().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            server
                .run_until(async {
                    let _ = rx.await;
                })
                .await
                .expect("server");
        });
        TestApp {
            engine,
            base,
            app,
            clock,
            client: reqwest::Client::new(),
            url,
            dir,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// Stops the server, closes the database, and starts a new server on the same data.
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        Self::start(self.engine, self.url.clone(), self.dir.clone(), self.clock.clone()).await
    }

    async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
        self.app.db.close().await;
    }

    /// The database URL (for a second server on the same data).
    pub fn database_url(&self) -> &str {
        &self.url
    }

    /// A token for a user created straight through the service layer (the bootstrap admin).
    pub async fn bootstrap_admin(&self, email: &str) -> String {
        let root = orion_domain::Actor { id: orion_domain::UserId(0), role: orion_domain::Role::Admin };
        self.app
            .create_user(
                &root,
                orion_app::NewUserInput {
                    email: Some(email.into()),
                    name: Some("Admin".into()),
                    role: Some("admin".into()),
                    ..Default::default()
                },
            )
            .await
            .expect("admin");
        self.app.create_token_for(email, "test").await.expect("token").token
    }

    /// Creates a user through the API (as `admin`) and returns a token for them.
    pub async fn user(&self, admin: &str, email: &str, role: &str, groups: &[&str]) -> String {
        let (s, b) = self
            .send(
                admin,
                reqwest::Method::POST,
                "/api/v1/users",
                Some(json!({"email": email, "name": email, "role": role, "groups": groups})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "create user {email}: {b}");
        self.app.create_token_for(email, "test").await.expect("token").token
    }

    /// Sends a request with a bearer token and an optional JSON body.
    pub async fn send(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.send(token, reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(token, reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(token, reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(token, reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.send(token, reqwest::Method::DELETE, path, None).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
