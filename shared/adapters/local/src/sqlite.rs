//! What the SQLite store, queues and small blobs share: opening a connection
//! with the pragmas local mode needs, versioned migrations, the one
//! connection per file and its group commits ([`Db`]), and instants as
//! integers.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Savepoint, Transaction, TransactionBehavior};
use tokio::sync::{Mutex, MutexGuard, watch};
use voxdial_domain::Timestamp;

use crate::OpenError;

/// How long a connection waits for another writer (another process on the
/// same file) before reporting `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;

/// Opens (creating if needed) a database file in WAL mode with
/// `synchronous = NORMAL` and foreign keys on.
pub(crate) fn open(path: &Path) -> Result<Connection, OpenError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let sqlite = |source| OpenError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sqlite)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpenError::NoWal {
            path: path.to_path_buf(),
            mode,
        });
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sqlite)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(sqlite)?;
    // 16 MiB of page cache per connection (SQLite's default is 2 MiB): the
    // indexes of a 100,000-lead campaign stay in memory instead of being
    // read back from the OS on every lookup.
    conn.pragma_update(None, "cache_size", -16_384)
        .map_err(sqlite)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Brings the schema up to `migrations.len()`: migration `i` (0-based) takes
/// `user_version` from `i` to `i + 1`, each in its own `BEGIN IMMEDIATE`
/// transaction, so a crash leaves a whole version or none.
///
/// `application_id` tells the kinds of file apart (a store is not a queue):
/// a new file gets it, a file with another one is refused.
pub(crate) fn migrate(
    conn: &mut Connection,
    path: &Path,
    application_id: i32,
    migrations: &[&str],
) -> Result<(), OpenError> {
    let sqlite = |source| OpenError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let supported = migrations.len() as i64;
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        let found: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(sqlite)?;
        let kind: i32 = tx
            .pragma_query_value(None, "application_id", |row| row.get(0))
            .map_err(sqlite)?;
        if kind != application_id && !(kind == 0 && found == 0) {
            return Err(OpenError::WrongKind {
                path: path.to_path_buf(),
                found: kind,
                expected: application_id,
            });
        }
        if kind == 0 {
            tx.pragma_update(None, "application_id", application_id)
                .map_err(sqlite)?;
        }
        if found > supported {
            return Err(OpenError::SchemaTooNew {
                path: path.to_path_buf(),
                found,
                supported,
            });
        }
        if found == supported {
            return Ok(());
        }
        tx.execute_batch(migrations[found as usize])
            .map_err(sqlite)?;
        tx.pragma_update(None, "user_version", found + 1)
            .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        tracing::info!(path = %path.display(), version = found + 1, "migrated the database");
    }
}

/// One SQLite file: one connection behind an async mutex, for reads and
/// writes alike.
///
/// Invariant: every write goes through `conn` (so in this process writes
/// are serialised by the mutex, never by `SQLITE_BUSY`).
///
/// One connection, not a writer and a reader: in WAL mode a connection
/// throws its whole page cache away whenever another connection has
/// committed since its last read, so a reader beside a busy writer emptied
/// and refilled its cache (truncation and `pread`s of every page again) on
/// nearly every read: a tenth of the engine's CPU when measured. Reads are
/// prepared statements on indexes, as short as the writes; another process
/// on the same file still reads beside this one, as WAL allows.
///
/// The work runs inline on the calling task while it holds the mutex: each
/// operation is a few prepared statements on a local file, microseconds of
/// work, far less than handing it to a blocking thread and back (which cost
/// a third of the engine's CPU in thread wake-ups when measured). Callers
/// waiting for a connection yield to the runtime instead of parking threads.
/// A write can block its thread for longer only while another process holds
/// the file's write lock (up to the 5 s busy timeout).
///
/// # Group commits
///
/// A batched file (the store, the queues) commits the operations of
/// concurrent callers together. An operation that finds no batch open
/// begins one (`BEGIN IMMEDIATE`); its own transaction is a savepoint in it
/// ([`begin`]), so it still commits or rolls back whole. When it is done
/// and no other caller waits for the connection, it commits the batch at
/// once; otherwise it lets the next caller run in the same batch and waits
/// until the batch is committed, or takes the connection back (after those
/// queued before it) and commits it itself. So no caller returns before
/// what it wrote, or read, is committed: a result is never built on a write
/// a crash could still take back. The file's locks, the commit's log frames
/// and its index updates are paid once per batch instead of once per
/// operation; a caller alone pays one `SAVEPOINT` and one `RELEASE` more.
/// A batch that fails to commit fails every operation in it.
pub(crate) struct Db {
    pub(crate) path: PathBuf,
    state: Mutex<State>,
    /// Callers waiting for `state`.
    queued: AtomicUsize,
    /// The batches committed (or failed) so far.
    settled: watch::Sender<Settled>,
    /// Whether operations are grouped into batches.
    batched: bool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The connection and its open batch.
struct State {
    conn: Connection,
    /// The number of the open batch, if one is.
    open: Option<u64>,
    /// The number of the last batch begun.
    last: u64,
}

/// How far the batches are settled.
#[derive(Clone, Debug, Default)]
struct Settled {
    /// Every batch up to this number is committed or failed.
    through: u64,
    /// The last batches that failed, with why (a few suffice: a caller
    /// looks its batch up right after it settles).
    failed: VecDeque<(u64, String)>,
}

/// How many failed batches [`Settled`] remembers.
const FAILURES_KEPT: usize = 64;

/// An error type an operation can fail with when its batch fails to commit.
pub(crate) trait BatchError {
    /// The operation's batch was not committed: `why`.
    fn batch_failed(why: String) -> Self;
}

/// Why a batch failed, as an error's source.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BatchFailed(String);

impl BatchError for voxdial_domain::StoreError {
    fn batch_failed(why: String) -> Self {
        voxdial_domain::StoreError::unavailable("cannot commit a write", BatchFailed(why))
    }
}

impl BatchError for voxdial_domain::QueueError {
    fn batch_failed(why: String) -> Self {
        voxdial_domain::QueueError::Unavailable {
            message: "cannot commit a queue operation".into(),
            source: Box::new(BatchFailed(why)),
        }
    }
}

impl BatchError for voxdial_domain::BlobError {
    fn batch_failed(why: String) -> Self {
        voxdial_domain::BlobError::Unavailable {
            message: "cannot commit a blob".into(),
            source: Box::new(BatchFailed(why)),
        }
    }
}

/// A transaction of one operation: the file's own (`BEGIN`) outside a
/// batch, a savepoint inside one. Either commits or rolls back whole;
/// dropped without [`Tx::commit`], it rolls back.
pub(crate) enum Tx<'c> {
    /// A transaction of its own.
    Top(Transaction<'c>),
    /// A savepoint in the open batch.
    Nested(Savepoint<'c>),
}

impl Tx<'_> {
    /// Commits the transaction (releases the savepoint).
    pub(crate) fn commit(self) -> rusqlite::Result<()> {
        match self {
            Tx::Top(tx) => tx.commit(),
            Tx::Nested(sp) => sp.commit(),
        }
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            Tx::Top(tx) => tx,
            Tx::Nested(sp) => sp,
        }
    }
}

/// Begins an operation's transaction: `BEGIN` with `behavior` outside a
/// batch, a savepoint inside one (whose batch holds the write lock).
pub(crate) fn begin(
    conn: &mut Connection,
    behavior: TransactionBehavior,
) -> rusqlite::Result<Tx<'_>> {
    if conn.is_autocommit() {
        conn.transaction_with_behavior(behavior).map(Tx::Top)
    } else {
        conn.savepoint().map(Tx::Nested)
    }
}

impl Db {
    /// Opens the file and migrates it; operations are batched.
    pub(crate) fn open(
        path: &Path,
        application_id: i32,
        migrations: &[&str],
    ) -> Result<Arc<Db>, OpenError> {
        Db::open_with(path, application_id, migrations, true, false)
    }

    /// [`Db::open`], with operations batched or not, and with `PRAGMA
    /// secure_delete` on when `zero_deleted`: what a delete or an overwrite
    /// frees is overwritten with zeros, not left in free pages.
    pub(crate) fn open_with(
        path: &Path,
        application_id: i32,
        migrations: &[&str],
        batched: bool,
        zero_deleted: bool,
    ) -> Result<Arc<Db>, OpenError> {
        let mut conn = open(path)?;
        if zero_deleted {
            conn.pragma_update(None, "secure_delete", "ON")
                .map_err(|source| OpenError::Sqlite {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
        migrate(&mut conn, path, application_id, migrations)?;
        Ok(Arc::new(Db {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                conn,
                open: None,
                last: 0,
            }),
            queued: AtomicUsize::new(0),
            settled: watch::Sender::new(Settled::default()),
            batched,
        }))
    }

    /// The connection, counted in `queued` while waiting for it.
    async fn lock(&self) -> MutexGuard<'_, State> {
        struct Queued<'a>(&'a AtomicUsize);
        impl Drop for Queued<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.queued.fetch_add(1, Ordering::SeqCst);
        let _queued = Queued(&self.queued);
        self.state.lock().await
    }

    /// Runs `work`, which may write, with the connection, in the open batch
    /// (beginning one if none is); returns once the batch is committed.
    pub(crate) async fn write<T, E: BatchError>(
        self: &Arc<Self>,
        work: impl FnOnce(&mut Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run(work, true).await
    }

    /// Runs `work`, which only reads, with the connection: in the open batch
    /// if one is (and returns once it is committed, since `work` may have
    /// read what it holds), else on its own.
    pub(crate) async fn read<T, E: BatchError>(
        self: &Arc<Self>,
        work: impl FnOnce(&mut Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run(work, false).await
    }

    /// Runs `work` outside any batch (committing the open one first), for
    /// what cannot run in a transaction (a checkpoint).
    pub(crate) async fn write_alone<T, E: BatchError>(
        self: &Arc<Self>,
        work: impl FnOnce(&mut Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut state = self.lock().await;
        if let Some(batch) = state.open {
            self.commit(&mut state, batch);
        }
        work(&mut state.conn)
    }

    /// [`Db::write`] of an unbatched file from a thread that may block (a
    /// `spawn_blocking` task), never from an async task.
    pub(crate) fn write_blocking<R>(&self, work: impl FnOnce(&mut Connection) -> R) -> R {
        debug_assert!(!self.batched, "a batched file is written from async tasks");
        work(&mut self.state.blocking_lock().conn)
    }

    async fn run<T, E: BatchError>(
        self: &Arc<Self>,
        work: impl FnOnce(&mut Connection) -> Result<T, E>,
        writes: bool,
    ) -> Result<T, E> {
        let mut state = self.lock().await;
        if !self.batched || (!writes && state.open.is_none()) {
            return work(&mut state.conn);
        }
        let batch = match state.open {
            Some(batch) => batch,
            None => {
                state
                    .conn
                    .execute_batch("BEGIN IMMEDIATE")
                    .map_err(|e| E::batch_failed(format!("cannot begin a batch: {e}")))?;
                state.last += 1;
                state.open = Some(state.last);
                state.last
            }
        };
        let result = work(&mut state.conn);
        if state.conn.is_autocommit() {
            // SQLite rolled the whole batch back (an I/O error, a full
            // disk): every operation in it failed.
            state.open = None;
            self.settle(batch, Some("the batch was rolled back".into()));
        } else if self.queued.load(Ordering::SeqCst) == 0 {
            self.commit(&mut state, batch);
        } else {
            drop(state);
            self.wait_for(batch).await;
        }
        let failure = self
            .settled
            .borrow()
            .failed
            .iter()
            .find(|(failed, _)| *failed == batch)
            .map(|(_, why)| why.clone());
        match failure {
            Some(why) => result.and_then(|_| Err(E::batch_failed(why))),
            None => result,
        }
    }

    /// Waits until `batch` is settled, committing it if this caller gets
    /// the connection back first. Cancelled, it leaves a task to commit it.
    async fn wait_for(self: &Arc<Self>, batch: u64) {
        struct Pending<'a>(&'a Arc<Db>, u64);
        impl Drop for Pending<'_> {
            fn drop(&mut self) {
                let (db, batch) = (self.0.clone(), self.1);
                if db.settled.borrow().through >= batch {
                    return;
                }
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        let mut state = db.lock().await;
                        if state.open == Some(batch) {
                            db.commit(&mut state, batch);
                        }
                    });
                }
            }
        }
        let _pending = Pending(self, batch);
        let mut settled = self.settled.subscribe();
        tokio::select! {
            biased;
            _ = settled.wait_for(|s| s.through >= batch) => {}
            mut state = self.lock() => {
                if state.open == Some(batch) {
                    self.commit(&mut state, batch);
                }
            }
        }
    }

    /// Commits the open batch `batch`, rolling it back if that fails.
    fn commit(&self, state: &mut State, batch: u64) {
        let failure = state.conn.execute_batch("COMMIT").err().map(|e| {
            if !state.conn.is_autocommit() {
                let _ = state.conn.execute_batch("ROLLBACK");
            }
            format!("cannot commit a batch: {e}")
        });
        state.open = None;
        self.settle(batch, failure);
    }

    /// Records that `batch` is committed, or failed with `failure`.
    fn settle(&self, batch: u64, failure: Option<String>) {
        self.settled.send_modify(|settled| {
            settled.through = batch;
            if let Some(why) = failure {
                tracing::error!(batch, %why, "a batch of writes failed");
                settled.failed.push_back((batch, why));
                if settled.failed.len() > FAILURES_KEPT {
                    settled.failed.pop_front();
                }
            }
        });
    }
}

/// An instant as nanoseconds since the Unix epoch, saturating outside
/// 1677–2262 (order is kept, which is all the columns are used for).
pub(crate) fn nanos(at: Timestamp) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(if at.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// The instant of a nanosecond column.
pub(crate) fn from_nanos(nanos: i64) -> Timestamp {
    chrono::DateTime::from_timestamp_nanos(nanos)
}

/// A duration in nanoseconds, saturating.
pub(crate) fn duration_nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instant(text: &str) -> Timestamp {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    use voxdial_domain::StoreError;

    const ROWS: &[&str] = &["CREATE TABLE rows (n INTEGER PRIMARY KEY) STRICT;"];

    fn insert(n: i64) -> impl FnOnce(&mut Connection) -> Result<(), StoreError> {
        move |conn| {
            let tx = begin(conn, TransactionBehavior::Immediate)
                .map_err(|e| StoreError::unavailable("begin", e))?;
            tx.execute("INSERT INTO rows (n) VALUES (?1)", [n])
                .map_err(|e| StoreError::unavailable("insert", e))?;
            tx.commit()
                .map_err(|e| StoreError::unavailable("commit", e))
        }
    }

    /// The rows another connection sees: what is committed.
    fn committed(path: &Path) -> Vec<i64> {
        let other = Connection::open(path).unwrap();
        let mut stmt = other.prepare("SELECT n FROM rows ORDER BY n").unwrap();
        stmt.query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// An operation of the tests, to spawn.
    type Work = Box<dyn FnOnce(&mut Connection) -> Result<(), StoreError> + Send>;

    /// A batched file with the table `rows`, in a temporary directory.
    fn rows() -> (tempfile::TempDir, PathBuf, Arc<Db>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let db = Db::open(&path, 1, ROWS).unwrap();
        (dir, path, db)
    }

    async fn until(what: impl Fn() -> bool) {
        while !what() {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn concurrent_writes_commit_in_one_batch_and_return_only_once_committed() {
        let (_dir, path, db) = rows();
        // GIVEN 20 writers queued behind a holder of the connection
        let held = db.lock().await;
        let writers: Vec<_> = (0..20)
            .map(|n| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.write(insert(n)).await.unwrap();
                    // THEN each returns only once its row is committed
                    assert!(committed(&db.path).contains(&n), "{n} returned uncommitted");
                })
            })
            .collect();
        until(|| db.queued.load(Ordering::SeqCst) == 20).await;
        // WHEN the connection is free
        drop(held);
        for writer in writers {
            writer.await.unwrap();
        }
        // THEN all 20 are committed, in one batch
        assert_eq!(committed(&path), (0..20).collect::<Vec<_>>());
        assert_eq!(db.settled.borrow().through, 1);
        // AND a writer alone commits at once, in a batch of its own
        db.write(insert(20)).await.unwrap();
        assert_eq!(db.settled.borrow().through, 2);
        assert!(committed(&path).contains(&20));
    }

    #[tokio::test]
    async fn a_failed_operation_rolls_back_alone_and_its_batch_commits_the_rest() {
        let (_dir, path, db) = rows();
        let held = db.lock().await;
        let spawn = |work: Work| {
            let db = db.clone();
            tokio::spawn(async move { db.write(work).await })
        };
        let first = spawn(Box::new(insert(1)));
        // Inserts 2, then fails: its savepoint rolls back.
        let failing = spawn(Box::new(|conn: &mut Connection| {
            let tx = begin(conn, TransactionBehavior::Immediate).unwrap();
            tx.execute("INSERT INTO rows (n) VALUES (2)", []).unwrap();
            Err(StoreError::Invalid("refused".into()))
        }));
        let last = spawn(Box::new(insert(3)));
        until(|| db.queued.load(Ordering::SeqCst) == 3).await;
        drop(held);
        assert!(first.await.unwrap().is_ok());
        assert!(matches!(
            failing.await.unwrap(),
            Err(StoreError::Invalid(_))
        ));
        assert!(last.await.unwrap().is_ok());
        assert_eq!(committed(&path), vec![1, 3]);
        assert_eq!(db.settled.borrow().through, 1);
    }

    #[tokio::test]
    async fn a_writer_cancelled_while_waiting_for_its_batch_still_gets_it_committed() {
        let (_dir, path, db) = rows();
        let held = db.lock().await;
        let writer = {
            let db = db.clone();
            tokio::spawn(async move { db.write(insert(7)).await })
        };
        until(|| db.queued.load(Ordering::SeqCst) == 1).await;
        // GIVEN another caller that takes the connection after the writer
        // and keeps it, so the writer leaves its batch open and waits
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let other = {
            let db = db.clone();
            tokio::spawn(async move {
                let _state = db.lock().await;
                let _ = released.await;
            })
        };
        until(|| db.queued.load(Ordering::SeqCst) == 2).await;
        drop(held);
        until(|| db.state.try_lock().is_err() && db.queued.load(Ordering::SeqCst) == 1).await;
        assert_eq!(committed(&path), Vec::<i64>::new(), "the batch is open");
        // WHEN the writer is cancelled while it waits
        writer.abort();
        assert!(writer.await.unwrap_err().is_cancelled());
        release.send(()).unwrap();
        other.await.unwrap();
        // THEN its batch is committed all the same
        until(|| db.settled.borrow().through == 1).await;
        assert_eq!(committed(&path), vec![7]);
    }

    #[test]
    fn instants_outside_the_nanosecond_range_saturate_in_order() {
        assert_eq!(nanos(instant("1500-01-01T00:00:00Z")), i64::MIN);
        assert_eq!(nanos(instant("2500-01-01T00:00:00Z")), i64::MAX);
        let inside = instant("2026-12-07T12:00:00.000000001Z");
        assert_eq!(from_nanos(nanos(inside)), inside);
    }
}
