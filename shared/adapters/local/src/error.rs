//! Errors of opening the embedded adapters (the ports' own error types
//! cover everything after that).

use std::path::PathBuf;

/// An embedded adapter could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// SQLite refused to open or prepare the file.
    #[error("cannot open the database {}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer voxdial.
    #[error(
        "the database {} has schema version {found}, newer than this build's {supported}",
        path.display()
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The file belongs to another adapter (a queue opened as a store).
    #[error(
        "the database {} is not of this kind (application id {found:#x}, expected {expected:#x})",
        path.display()
    )]
    WrongKind {
        /// The database file.
        path: PathBuf,
        /// Its `application_id`.
        found: i32,
        /// The one this adapter writes.
        expected: i32,
    },
    /// The file system cannot hold WAL mode's side files (a network mount).
    #[error("the database {} cannot use WAL mode (journal mode {mode})", path.display())]
    NoWal {
        /// The database file.
        path: PathBuf,
        /// The journal mode SQLite kept.
        mode: String,
    },
    /// A directory could not be created or read.
    #[error("cannot prepare the directory {}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
}
