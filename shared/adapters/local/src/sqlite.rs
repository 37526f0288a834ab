//! What the SQLite store and queue share: opening a connection with the
//! pragmas local mode needs, versioned migrations, running blocking work off
//! the async threads, and instants as integers.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::Mutex;
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
#[derive(Debug)]
pub(crate) struct Db {
    pub(crate) path: PathBuf,
    conn: Mutex<Connection>,
}

impl Db {
    /// Opens the file and migrates it.
    pub(crate) fn open(
        path: &Path,
        application_id: i32,
        migrations: &[&str],
    ) -> Result<Arc<Db>, OpenError> {
        Db::open_with(path, application_id, migrations, false)
    }

    /// [`Db::open`] with `PRAGMA secure_delete` on when `zero_deleted`:
    /// what a delete or an overwrite frees is overwritten with zeros, not
    /// left in free pages.
    pub(crate) fn open_with(
        path: &Path,
        application_id: i32,
        migrations: &[&str],
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
            conn: Mutex::new(conn),
        }))
    }

    /// Runs `work`, which may write, with the connection.
    pub(crate) async fn write<R>(&self, work: impl FnOnce(&mut Connection) -> R) -> R {
        let mut conn = self.conn.lock().await;
        work(&mut conn)
    }

    /// [`Db::write`] from a thread that may block (a `spawn_blocking` task),
    /// never from an async task.
    pub(crate) fn write_blocking<R>(&self, work: impl FnOnce(&mut Connection) -> R) -> R {
        let mut conn = self.conn.blocking_lock();
        work(&mut conn)
    }

    /// Runs `work`, which only reads, with the connection.
    pub(crate) async fn read<R>(&self, work: impl FnOnce(&mut Connection) -> R) -> R {
        let mut conn = self.conn.lock().await;
        work(&mut conn)
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

    #[test]
    fn instants_outside_the_nanosecond_range_saturate_in_order() {
        assert_eq!(nanos(instant("1500-01-01T00:00:00Z")), i64::MIN);
        assert_eq!(nanos(instant("2500-01-01T00:00:00Z")), i64::MAX);
        let inside = instant("2026-12-07T12:00:00.000000001Z");
        assert_eq!(from_nanos(nanos(inside)), inside);
    }
}
