//! SQLite's connections, handed out without a general-purpose pool.
//!
//! An SQLite database is a local file: its connections do not drop, time out or need replacing
//! the way a server's do. sqlx's pool pays for that generality on every use: it returns a
//! connection from a spawned task, after a round trip to the connection's thread to test it
//! (`ping`). Measured on the ticket writer (issue 23) that was about 130 µs of every write
//! transaction and one more thread hand-off for every read. Here the one writer connection sits
//! behind a fair async mutex, and the readers in a stack behind a semaphore; both are handed
//! back the moment their guard is dropped.
//!
//! A write transaction dropped without commit starts its rollback at once (queued on the
//! connection's thread ahead of whatever its next holder sends); a reader dropped in the middle
//! of a statement is reset by the next statement it runs, as with sqlx's own pool.

use crate::Result;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteTransactionManager};
use sqlx::{Connection, SqlSafeStr};
use sqlx_core::transaction::TransactionManager;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

/// The longest background work waits for the writer while people's writes keep coming.
const BACKGROUND_MAX_WAIT: Duration = Duration::from_millis(250);

/// The writer and the readers of one SQLite database.
#[derive(Clone)]
pub(crate) struct SqliteConns {
    writer: Arc<tokio::sync::Mutex<Option<SqliteConnection>>>,
    /// Foreground writes waiting for the writer, and the signal that none is left.
    waiting: Arc<AtomicUsize>,
    none_waiting: Arc<Notify>,
    readers: Arc<Readers>,
    timeout: Duration,
}

/// Counts a foreground write as waiting until it has the writer (or gives up).
struct Waiting<'a>(&'a SqliteConns);

impl<'a> Waiting<'a> {
    fn new(c: &'a SqliteConns) -> Self {
        c.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(c)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.0.waiting.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.none_waiting.notify_waiters();
        }
    }
}

struct Readers {
    idle: Mutex<Vec<SqliteConnection>>,
    permits: Arc<Semaphore>,
    options: SqliteConnectOptions,
}

impl SqliteConns {
    /// Opens the writer now (so a bad path fails at start) and the readers as they are needed,
    /// at most `max_readers` of them.
    pub(crate) async fn open(
        writer: &SqliteConnectOptions,
        reader: SqliteConnectOptions,
        max_readers: usize,
        timeout: Duration,
    ) -> Result<Self> {
        let w = SqliteConnection::connect_with(writer).await?;
        Ok(SqliteConns {
            writer: Arc::new(tokio::sync::Mutex::new(Some(w))),
            waiting: Arc::new(AtomicUsize::new(0)),
            none_waiting: Arc::new(Notify::new()),
            readers: Arc::new(Readers {
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(max_readers)),
                options: reader,
            }),
            timeout,
        })
    }

    /// The writer, once every earlier holder has let go (first come, first served), or a
    /// timeout error after the acquire timeout.
    pub(crate) async fn writer(&self) -> Result<WriterGuard> {
        let guard = tokio::time::timeout(self.timeout, Arc::clone(&self.writer).lock_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?;
        if guard.is_none() {
            return Err(sqlx::Error::PoolClosed.into());
        }
        Ok(WriterGuard { guard })
    }

    /// Starts a write transaction with `BEGIN IMMEDIATE`: someone's request waits for it.
    pub(crate) async fn begin(&self) -> Result<WriteTx> {
        let w = {
            let _waiting = Waiting::new(self);
            self.writer().await?
        };
        Self::begin_on(w).await
    }

    /// Starts a write transaction for background work (the job worker): it lets foreground
    /// writes waiting for the writer go first, for at most [`BACKGROUND_MAX_WAIT`], so a burst
    /// of new tickets is not slowed by the deliveries it causes, and the deliveries still go out.
    pub(crate) async fn begin_background(&self) -> Result<WriteTx> {
        let deadline = tokio::time::Instant::now() + BACKGROUND_MAX_WAIT;
        let may_go = || self.waiting.load(Ordering::SeqCst) == 0 || tokio::time::Instant::now() >= deadline;
        loop {
            // Listening before looking, so a "none left" between the two is not missed.
            let none_left = self.none_waiting.notified();
            tokio::pin!(none_left);
            none_left.as_mut().enable();
            if !may_go() {
                let _ = tokio::time::timeout_at(deadline, none_left).await;
                continue;
            }
            let w = self.writer().await?;
            // Someone may have queued behind us meanwhile: then they go first.
            if may_go() {
                return Self::begin_on(w).await;
            }
        }
    }

    async fn begin_on(mut w: WriterGuard) -> Result<WriteTx> {
        SqliteTransactionManager::begin(&mut w, Some("BEGIN IMMEDIATE".into_sql_str())).await?;
        Ok(WriteTx { w, open: true })
    }

    /// A reader: an idle one, or a new one while fewer than the maximum are open.
    pub(crate) async fn reader(&self) -> Result<ReaderGuard> {
        let permit = tokio::time::timeout(self.timeout, Arc::clone(&self.readers.permits).acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.readers.idle.lock().map_err(|_| sqlx::Error::PoolClosed)?.pop();
        let conn = match idle {
            Some(c) => c,
            None => SqliteConnection::connect_with(&self.readers.options).await?,
        };
        Ok(ReaderGuard { conn: Some(conn), readers: Arc::clone(&self.readers), _permit: permit })
    }

    /// Closes the readers, then folds the WAL into the main file on the writer and closes it.
    /// Every later use fails.
    pub(crate) async fn close(&self) {
        self.readers.permits.close();
        let idle = std::mem::take(&mut *self.readers.idle.lock().unwrap_or_else(|p| p.into_inner()));
        for c in idle {
            let _ = c.close().await;
        }
        let mut w = self.writer.lock().await;
        if let Some(mut c) = w.take() {
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut c).await;
            let _ = c.close().await;
        }
    }
}

/// The writer connection, held until dropped.
pub(crate) struct WriterGuard {
    guard: OwnedMutexGuard<Option<SqliteConnection>>,
}

impl Deref for WriterGuard {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        self.guard.as_ref().expect("checked when acquired")
    }
}

impl DerefMut for WriterGuard {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.guard.as_mut().expect("checked when acquired")
    }
}

/// A write transaction on the writer; rolled back if dropped without [`WriteTx::commit`].
pub(crate) struct WriteTx {
    w: WriterGuard,
    open: bool,
}

impl WriteTx {
    pub(crate) async fn commit(mut self) -> Result<()> {
        SqliteTransactionManager::commit(&mut self.w).await?;
        self.open = false;
        Ok(())
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.w
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.w
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if self.open {
            // Queued on the connection's thread before anything the next holder sends.
            SqliteTransactionManager::start_rollback(&mut self.w);
        }
    }
}

/// A reader connection, back on the stack when dropped.
pub struct ReaderGuard {
    conn: Option<SqliteConnection>,
    readers: Arc<Readers>,
    _permit: OwnedSemaphorePermit,
}

impl Deref for ReaderGuard {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl DerefMut for ReaderGuard {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl Drop for ReaderGuard {
    fn drop(&mut self) {
        if let (Some(c), Ok(mut idle)) = (self.conn.take(), self.readers.idle.lock())
            && !self.readers.permits.is_closed()
        {
            idle.push(c);
        }
    }
}
