//! The running node: `Server::build` opens everything `orion serve` needs and binds its
//! listeners, `run_until_stopped` serves until SIGINT or SIGTERM and then shuts down in order.

use crate::config::{self, DatabaseConfig, MailConfig};
use anyhow::{Context, Result};
use orion_app::{App, Clock, SystemClock};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// What a node serves and where.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The HTTP address (port 0: any free port, see [`Server::port`])
    pub listen: String,
    pub database: DatabaseConfig,
    pub mail: MailConfig,
    /// Also take mail by SMTP/LMTP on this address
    pub smtp_listen: Option<String>,
    /// Seed the demo organisation (once)
    pub demo: bool,
    /// Run the background work: the job worker, the mailbox poller, the recurring-incident
    /// detector's schedule, a search reindex after an upgrade and the SQLite WAL checkpoints.
    /// Off only where a test steps the worker itself on a manual clock.
    pub background: bool,
}

impl ServerConfig {
    /// A node on `listen` over `database`, with the default mail setup, no SMTP listener, no
    /// demo, and its background work running.
    pub fn new(listen: impl Into<String>, database: DatabaseConfig) -> Self {
        Self {
            listen: listen.into(),
            database,
            mail: MailConfig::default(),
            smtp_listen: None,
            demo: false,
            background: true,
        }
    }
}

/// A node whose database is open and migrated and whose listeners are bound; nothing is
/// answered until [`Server::run_until_stopped`].
pub struct Server {
    app: App,
    router: axum::Router,
    listener: TcpListener,
    addr: SocketAddr,
    smtp_addr: Option<SocketAddr>,
    tasks: Tasks,
}

impl Server {
    /// Builds the node on the wall clock.
    pub async fn build(config: ServerConfig) -> Result<Server> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Builds the node on `clock` (tests pass a manual one): opens and migrates the database,
    /// seeds the demo if asked, binds the HTTP listener and builds the router, binds the SMTP
    /// listener and starts the background work.
    pub async fn build_with_clock(config: ServerConfig, clock: Arc<dyn Clock>) -> Result<Server> {
        let app = config::open_with_mail(&config.database, &config.mail, clock).await?;
        if config.demo {
            eprintln!("seeding the demo organisation (first start only)…");
            if app.seed_demo(350).await? {
                eprintln!("demo organisation seeded");
            }
        }
        // People who existed before caller lookup had its index (an upgrade): a few seconds at
        // 100,000 users, before the first lookup can miss them.
        let indexed = app.index_people_if_needed().await.context("indexing people for caller lookup")?;
        if indexed > 0 {
            tracing::info!(people = indexed, "caller lookup index built");
        }
        let listen = &config.listen;
        let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let router = orion_web::router(app.clone());
        let mut tasks = Tasks::default();
        if config.background && app.reindex_needed().await? {
            // Tickets logged before the search index existed (an upgrade): index them in the
            // background; everything written from now on indexes itself.
            let app = app.clone();
            tokio::spawn(async move {
                tracing::info!("building the search index of existing tickets and articles");
                match app.reindex(2000, |_, _| {}).await {
                    Ok((t, a)) => tracing::info!(tickets = t, articles = a, "search index built"),
                    Err(e) => tracing::error!(error = %e, "building the search index failed; run `orion reindex`"),
                }
            });
        }
        let smtp_addr = match &config.smtp_listen {
            Some(addr) => {
                let l = TcpListener::bind(addr).await.with_context(|| format!("cannot listen for SMTP on {addr}"))?;
                let local = l.local_addr()?;
                let smtp = Arc::new(orion_mail::smtp::Config { hostname: config::hostname(), ..Default::default() });
                let stop = tasks.stop_smtp.clone();
                tasks.smtp = Some(tokio::spawn(orion_mail::smtp::serve(
                    l,
                    smtp,
                    Arc::new(SmtpIntake(app.clone())),
                    async move { stop.notified().await },
                )));
                Some(local)
            }
            None => None,
        };
        if config.background {
            tasks.start_background(&app).await?;
        }
        Ok(Server { app, router, listener, addr, smtp_addr, tasks })
    }

    /// The HTTP port (the one chosen when the address asked for port 0).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address HTTP is served on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address SMTP/LMTP is taken on, when it is.
    pub fn smtp_addr(&self) -> Option<SocketAddr> {
        self.smtp_addr
    }

    /// The application the node serves (shares the database with it).
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Serves until SIGINT or SIGTERM, then shuts down cleanly.
    pub async fn run_until_stopped(self) -> Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` resolves: in-flight requests finish, then the SMTP listener, the
    /// mailbox poller and the job worker stop, and the database is closed (SQLite checkpoints
    /// its WAL).
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let Server { app, router, listener, tasks, .. } = self;
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(stop)
            .await
            .context("serving HTTP")?;
        tasks.stop().await;
        tracing::info!("stopped accepting requests; closing the database");
        app.db.close().await;
        tracing::info!("shut down cleanly");
        Ok(())
    }
}

/// The node's tasks beside HTTP, each with its way to stop.
#[derive(Default)]
struct Tasks {
    maintenance: Option<JoinHandle<()>>,
    smtp: Option<JoinHandle<()>>,
    stop_smtp: Arc<Notify>,
    poller: Option<JoinHandle<()>>,
    stop_poller: Arc<Notify>,
    directory: Option<JoinHandle<()>>,
    stop_directory: Arc<Notify>,
    auth_listener: Option<JoinHandle<()>>,
    stop_auth_listener: Arc<Notify>,
    worker: Option<JoinHandle<()>>,
    stop_worker: Arc<Notify>,
}

impl Tasks {
    /// WAL checkpoints, the detector's schedule, the job worker, the mailbox poller and the
    /// directory sync schedule.
    async fn start_background(&mut self, app: &App) -> Result<()> {
        self.maintenance = Some(tokio::spawn({
            let db = app.db.clone();
            async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
                loop {
                    tick.tick().await;
                    if let Err(e) = db.checkpoint().await {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                    }
                }
            }
        }));
        app.schedule_detection().await.context("scheduling the recurring-incident detector")?;
        app.schedule_purge().await.context("scheduling the daily removal of old log entries")?;
        app.schedule_digest().await.context("scheduling the agents' morning summary mail")?;
        app.schedule_reports_backfill().await.context("scheduling the reports' catch-up of earlier resolutions")?;
        app.schedule_backlog_snapshot().await.context("scheduling the nightly backlog snapshot")?;
        let stop = self.stop_worker.clone();
        self.worker = Some(tokio::spawn(
            orion_app::jobs::standard_worker(app.clone(), config::node_name())
                .run(async move { stop.notified().await }),
        ));
        let stop = self.stop_poller.clone();
        self.poller =
            Some(tokio::spawn(orion_app::mailbox::run_poller(app.clone(), async move { stop.notified().await })));
        let stop = self.stop_directory.clone();
        self.directory =
            Some(tokio::spawn(orion_app::identity::run_scheduler(app.clone(), async move { stop.notified().await })));
        let stop = self.stop_auth_listener.clone();
        self.auth_listener =
            Some(tokio::spawn(orion_app::auth::run_auth_listener(app.clone(), async move { stop.notified().await })));
        Ok(())
    }

    /// Stops them in order: intake first, the worker last (it may send what intake queued).
    async fn stop(self) {
        if let Some(m) = self.maintenance {
            m.abort();
        }
        self.stop_smtp.notify_one();
        if let Some(s) = self.smtp {
            let _ = s.await;
        }
        self.stop_poller.notify_one();
        if let Some(p) = self.poller {
            let _ = p.await;
        }
        self.stop_directory.notify_one();
        if let Some(d) = self.directory {
            let _ = d.await;
        }
        self.stop_auth_listener.notify_one();
        if let Some(a) = self.auth_listener {
            let _ = a.await;
        }
        self.stop_worker.notify_one();
        if let Some(w) = self.worker {
            let _ = w.await;
        }
    }
}

/// The SMTP/LMTP listener's way into Orion.
struct SmtpIntake(App);

impl orion_mail::smtp::Handler for SmtpIntake {
    async fn accepts(&self, rcpt: &str) -> bool {
        match self.0.mail_settings().await {
            Ok(s) => s.accepts(rcpt),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the mail settings");
                false
            }
        }
    }

    async fn deliver(&self, e: orion_mail::smtp::Envelope) -> Result<(), orion_mail::smtp::Reject> {
        match self.0.ingest_mail(&e.data, "smtp").await {
            Ok(m) => {
                tracing::info!(id = m.id, status = %m.status, peer = %e.peer, "mail received by SMTP");
                Ok(())
            }
            Err(err) => {
                tracing::warn!(error = %err, peer = %e.peer, "mail not kept; the sender will retry");
                Err(orion_mail::smtp::Reject::Temporary("cannot store the message now, try again later".into()))
            }
        }
    }
}

/// Resolves on SIGINT or SIGTERM; in-flight requests then finish before exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}
