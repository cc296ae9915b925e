use crate::sqlite_conns::{ReaderGuard, SqliteConns, WriteTx};
use crate::timeline::Recorded;
use crate::{Result, StoreError};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, PgPool, Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// The two engines Orion runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Pool and durability settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Connections for PostgreSQL, or SQLite readers (SQLite always has one writer).
    pub max_connections: u32,
    /// SQLite `synchronous=FULL` instead of `NORMAL`: survives power loss, slower commits.
    pub sqlite_synchronous_full: bool,
    /// How long to wait for a connection (PostgreSQL down, SQLite writer busy) before failing.
    pub acquire_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self { max_connections: 8, sqlite_synchronous_full: false, acquire_timeout: Duration::from_secs(30) }
    }
}

#[derive(Clone)]
enum Pools {
    /// One writer connection serialises writes without SQLITE_BUSY storms; readers run in parallel (WAL).
    Sqlite(SqliteConns),
    Postgres(PgPool),
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pools: Pools,
}

/// A write transaction, with the ticket events recorded in it so far and whether it queued a job
/// that is due at once. Dropped without `commit`, it rolls back (and its record with it).
pub struct Tx {
    pub(crate) link: TxLink,
    log: Log,
}

/// What a write transaction noted besides its rows, for the application to act on at commit.
#[derive(Default)]
pub(crate) struct Log {
    events: Vec<Recorded>,
    jobs_due: bool,
    /// Search documents to write just before the commit (`search::write_tickets_now`).
    search: Vec<crate::search::TicketDoc>,
}

pub(crate) enum TxLink {
    Sqlite(WriteTx),
    Postgres(Transaction<'static, Postgres>),
}

/// A pooled connection for reads outside a transaction.
pub enum ReadConn {
    Sqlite(ReaderGuard),
    Postgres(PoolConnection<Postgres>),
}

/// A borrowed connection of either engine; repositories take `&mut Conn`. Borrowed from a
/// write transaction, it also carries the transaction's record of ticket events and queued jobs.
pub struct Conn<'a> {
    pub link: Link<'a>,
    log: Option<&'a mut Log>,
}

/// The connection behind a [`Conn`], by engine.
pub enum Link<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

/// Runs `$body` with `$c` bound to the concrete `&mut SqliteConnection` or
/// `&mut PgConnection` behind a `&mut Conn`. The body is compiled once per engine,
/// so one SQL text and one set of binds serve both.
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match &mut ($conn).link {
            $crate::Link::Sqlite($c) => {
                let $c: &mut $crate::sqlx::SqliteConnection = &mut **$c;
                $body
            }
            $crate::Link::Postgres($c) => {
                let $c: &mut $crate::sqlx::PgConnection = &mut **$c;
                $body
            }
        }
    };
}

impl Db {
    /// Opens the database named by `url`: `sqlite://PATH` (created if missing) or
    /// `postgres://…`. Any other scheme is an error, never a silent new file.
    pub async fn connect(url: &str, opts: &DbOptions) -> Result<Db> {
        let pools = if url.starts_with("sqlite:") {
            let base = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::Url(e.to_string()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .synchronous(if opts.sqlite_synchronous_full {
                    SqliteSynchronous::Full
                } else {
                    SqliteSynchronous::Normal
                })
                .pragma("cache_size", "-32768")
                .pragma("temp_store", "memory");
            // The writer checkpoints only as a safety net (40 MB of WAL); `checkpoint` runs
            // on a reader in the background so commits do not stall on it.
            //
            // Each reader keeps 4 MiB of pages, the writer 32 MiB: with 8 readers that bounds
            // SQLite's caches to 64 MiB, and the server's memory with them (32 MiB per reader
            // took the server past 300 MiB at a million tickets, 8 MiB to 230 MiB under mixed
            // load). Pages beyond that come from the operating system's file cache, shared by all
            // connections: a list reads a few dozen pages, a pread each when not cached. Each
            // reader also keeps at most 40 prepared statements (sqlx's default is 100): a list's
            // statement, one branch per state, is tens of kilobytes, and the filters make many.
            let conns = SqliteConns::open(
                &base.clone().pragma("wal_autocheckpoint", "10000"),
                base.pragma("cache_size", "-4096").statement_cache_capacity(40),
                opts.max_connections.max(2) as usize,
                opts.acquire_timeout,
            )
            .await?;
            Pools::Sqlite(conns)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let o = PgConnectOptions::from_str(url).map_err(|e| StoreError::Url(e.to_string()))?;
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections)
                .acquire_timeout(opts.acquire_timeout)
                .connect_with(o)
                .await?;
            Pools::Postgres(pool)
        } else {
            let scheme = url.split(':').next().unwrap_or("");
            return Err(StoreError::Url(format!(
                "unsupported scheme {scheme:?}: use sqlite://PATH or postgres://USER@HOST/DB"
            )));
        };
        Ok(Db { pools })
    }

    pub fn engine(&self) -> Engine {
        match self.pools {
            Pools::Sqlite(_) => Engine::Sqlite,
            Pools::Postgres(_) => Engine::Postgres,
        }
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE` on SQLite, so a writer never
    /// has to upgrade a read lock).
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match &self.pools {
            Pools::Sqlite(s) => Tx { link: TxLink::Sqlite(s.begin().await?), log: Log::default() },
            Pools::Postgres(p) => Tx { link: TxLink::Postgres(p.begin().await?), log: Log::default() },
        })
    }

    /// Starts a write transaction for background work (the job worker): on SQLite it lets
    /// people's writes that are waiting for the single writer go first (for at most a quarter of
    /// a second); on PostgreSQL it is [`Db::begin`].
    pub async fn begin_background(&self) -> Result<Tx> {
        Ok(match &self.pools {
            Pools::Sqlite(s) => Tx { link: TxLink::Sqlite(s.begin_background().await?), log: Log::default() },
            Pools::Postgres(_) => self.begin().await?,
        })
    }

    /// A connection for reads.
    pub async fn read(&self) -> Result<ReadConn> {
        Ok(match &self.pools {
            Pools::Sqlite(s) => ReadConn::Sqlite(s.reader().await?),
            Pools::Postgres(p) => ReadConn::Postgres(p.acquire().await?),
        })
    }

    /// Tells the nodes listening on `channel` (PostgreSQL `NOTIFY`, on a connection of its own, so
    /// call it after the change committed). Nothing on SQLite: one process holds that database.
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<()> {
        if let Pools::Postgres(p) = &self.pools {
            sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(payload).execute(p).await?;
        }
        Ok(())
    }

    /// Listens for what other nodes say on `channel` (PostgreSQL `LISTEN`); `None` on SQLite.
    pub async fn listen(&self, channel: &str) -> Result<Option<sqlx::postgres::PgListener>> {
        match &self.pools {
            Pools::Sqlite(_) => Ok(None),
            Pools::Postgres(p) => {
                let mut l = sqlx::postgres::PgListener::connect_with(p).await?;
                l.listen(channel).await?;
                Ok(Some(l))
            }
        }
    }

    /// Is the database answering? Used by `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        let mut c = self.read().await?;
        match &mut c {
            ReadConn::Sqlite(c) => c.ping().await?,
            ReadConn::Postgres(c) => c.ping().await?,
        }
        Ok(())
    }

    /// Copies committed WAL frames into the SQLite database file without blocking
    /// writers (`PRAGMA wal_checkpoint(PASSIVE)`); a no-op on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<()> {
        if let Pools::Sqlite(s) = &self.pools {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut *s.reader().await?).await?;
        }
        Ok(())
    }

    /// Closes every pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        match &self.pools {
            // Leaves the WAL folded into the main file on a clean shutdown.
            Pools::Sqlite(s) => s.close().await,
            Pools::Postgres(p) => p.close().await,
        }
    }

    /// Applies pending migrations; see [`crate::MIGRATIONS`].
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        crate::migrate::run(self, None).await
    }

    /// Applies pending migrations up to and including `version` (upgrade tests).
    pub async fn migrate_to(&self, version: i64) -> Result<Vec<i64>> {
        crate::migrate::run(self, Some(version)).await
    }

    /// Runs one administrative statement outside a transaction (`CREATE DATABASE` in tests and tools).
    pub async fn execute_admin(&self, sql: &str) -> Result<()> {
        match &self.pools {
            Pools::Sqlite(s) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut *s.writer().await?).await?;
            }
            Pools::Postgres(p) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(p).await?;
            }
        }
        Ok(())
    }

    /// Copies a consistent snapshot of an SQLite database to `path` (`VACUUM INTO`).
    pub async fn backup_sqlite(&self, path: &str) -> Result<()> {
        match &self.pools {
            Pools::Sqlite(s) => {
                sqlx::query("VACUUM INTO $1").bind(path).execute(&mut *s.reader().await?).await?;
                Ok(())
            }
            Pools::Postgres(_) => Err(StoreError::Schema("use pg_dump to back up PostgreSQL".to_string())),
        }
    }
}

impl Tx {
    pub fn conn(&mut self) -> Conn<'_> {
        let link = match &mut self.link {
            TxLink::Sqlite(t) => Link::Sqlite(t),
            TxLink::Postgres(t) => Link::Postgres(t),
        };
        Conn { link, log: Some(&mut self.log) }
    }

    /// The ticket events recorded since the last call, oldest first; the application's
    /// subscribers run over them before the transaction commits.
    pub fn take_events(&mut self) -> Vec<Recorded> {
        std::mem::take(&mut self.log.events)
    }

    /// Whether this transaction queued a job that is due at once: after the commit, the job
    /// worker should be woken instead of finding it at its next look.
    pub fn queued_due_jobs(&self) -> bool {
        self.log.jobs_due
    }

    /// Commits. Events still recorded mean a caller skipped the application's subscribers (its
    /// `commit`): that is a bug, refused in debug builds and logged in release builds.
    pub async fn commit(mut self) -> Result<()> {
        if !self.log.events.is_empty() {
            let kinds: Vec<String> = self.log.events.iter().map(|e| format!("{:?}", e.event)).collect();
            debug_assert!(false, "a transaction committed with undispatched ticket events: {kinds:?}");
            tracing::error!(events = ?kinds, "a transaction committed with undispatched ticket events");
        }
        let docs = std::mem::take(&mut self.log.search);
        if !docs.is_empty() {
            crate::search::write_tickets_now(&mut self.conn(), docs).await?;
        }
        match self.link {
            TxLink::Sqlite(t) => t.commit().await?,
            TxLink::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

impl ReadConn {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            ReadConn::Sqlite(c) => Conn { link: Link::Sqlite(c), log: None },
            ReadConn::Postgres(c) => Conn { link: Link::Postgres(c), log: None },
        }
    }
}

impl Conn<'_> {
    pub fn engine(&self) -> Engine {
        match &self.link {
            Link::Sqlite(_) => Engine::Sqlite,
            Link::Postgres(_) => Engine::Postgres,
        }
    }

    /// Records a ticket event in the write transaction this connection belongs to. On a read
    /// connection (which writes nothing) there is nothing to react to, and it is dropped.
    pub fn record(&mut self, r: Recorded) {
        if let Some(log) = self.log.as_mut() {
            log.events.push(r);
        }
    }

    /// Keeps search documents for the commit of the write transaction this connection belongs
    /// to; on a connection outside one, gives them back to be written at once.
    pub(crate) fn defer_search(
        &mut self,
        docs: Vec<crate::search::TicketDoc>,
    ) -> Option<Vec<crate::search::TicketDoc>> {
        match self.log.as_mut() {
            Some(log) => {
                log.search.extend(docs);
                None
            }
            None => Some(docs),
        }
    }

    /// Notes that a job was queued in this transaction, due at once or later.
    pub(crate) fn queued_job(&mut self, due_now: bool) {
        if let Some(log) = self.log.as_mut() {
            log.jobs_due |= due_now;
        }
    }
}
