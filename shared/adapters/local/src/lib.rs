//! voxdial's embedded adapters, the local mode's default: every store port
//! on one SQLite file, a durable in-process dispatch queue on another, and
//! blobs as files (the small ones as rows of a third). They pass the same contract suites
//! (`voxdial-testkit`) as the AWS adapters.
//!
//! # Layout
//!
//! - [`store`]: [`LocalStore`], the campaign, lead, call and do-not-call
//!   stores on SQLite (schema in `store_schema.sql`).
//! - [`queue`]: [`SqliteQueue`], an at-least-once queue with visibility
//!   timeouts, delays and dead letters, like SQS, on its own SQLite file:
//!   [`LocalQueue`] for dispatch messages, [`LocalJobQueue`] for post-call
//!   jobs.
//! - [`blob`]: [`LocalBlobStore`], files under a directory with atomic
//!   writes (blobs up to [`SMALL_BLOB`] bytes as rows of a SQLite file) and
//!   HMAC-signed URLs for the local HTTP server.
//! - `sqlite`: what the store, the queue and the small blobs share (pragmas,
//!   migrations, the one connection per file and its group commits, instants
//!   as integers).
//! - [`error`]: [`OpenError`], what opening an adapter can fail with.
//!
//! # Invariants
//!
//! - Every store write that reads before it writes or touches several rows
//!   (`claim_due`, `release`, `finish_call`, `import_leads`, ...) is one
//!   transaction on the file's one connection (a savepoint in a `BEGIN
//!   IMMEDIATE` group commit), so the concurrency cap and exactly-once
//!   release hold under any number of concurrent callers, in this process
//!   or another on the same file.
//! - The store and the queues commit concurrent operations together
//!   (`sqlite::Db`, "Group commits"); no operation returns before its batch
//!   is committed.
//! - In each lead and call row, the indexed columns (`state`, `due_at`,
//!   `active_attempt`, `lease_until`, `final_label`, `terminal`, ...) are
//!   derived from the JSON `record` in the same statement that writes it.
//! - Files are in WAL mode with `synchronous = NORMAL`: a committed write
//!   survives the process being killed (`kill -9` included); an OS crash or
//!   power loss may lose the last commits, never a part of one.
//! - Each file carries `PRAGMA application_id` (store, queue or small blobs) and a
//!   `PRAGMA user_version` schema version; migrations run at open, one
//!   transaction each, and a file from a newer build is refused.

pub mod blob;
pub mod error;
pub mod queue;
mod sqlite;
pub mod store;

pub use blob::{LocalBlobStore, SMALL_BLOB, validate_key};
pub use error::OpenError;
pub use queue::{DeadLetter, LocalJobQueue, LocalQueue, QueueConfig, QueueStats, SqliteQueue};
pub use store::LocalStore;
