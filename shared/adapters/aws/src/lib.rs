//! voxdial's AWS adapters: every store port on one DynamoDB table, the
//! dispatch queue on SQS, recordings and transcripts on S3. They pass the
//! same contract suites (`voxdial-testkit`) as the embedded adapters, run
//! against the moto AWS API emulator.
//!
//! # Layout
//!
//! - [`dynamo`]: [`DynamoStore`] and its table design (documented there);
//!   `dynamo::table` is the one module that maps domain types to
//!   DynamoDB items and expressions; [`dynamo::import`] the atomic import
//!   protocol.
//! - [`sqs`]: [`SqsQueue`], the dispatch queue, and the message body format
//!   the dispatcher Lambda reads.
//! - [`s3`]: [`S3BlobStore`], private and encrypted, with presigned GETs.
//! - [`config`]: SDK clients from the environment or for an emulator, and
//!   [`RequestCounter`], an interceptor counting AWS requests.
//! - [`error`]: [`SetupError`], what creating tables, queues and buckets
//!   can fail with.
//! - `testing` (feature `testing`): the moto emulator harness.
//!
//! # Invariants
//!
//! SDK types stay inside their adapter's module (`AttributeValue` inside
//! `dynamo::table`); SDK errors reach callers as the ports' `Unavailable`
//! variants with the SDK error as source, never flattened to text.

pub mod config;
pub mod dynamo;
pub mod error;
pub mod s3;
pub mod sqs;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use config::{Clients, RequestCounter};
pub use dynamo::{DynamoStore, TableSpec, create_table};
pub use error::SetupError;
pub use s3::{Encryption, S3BlobStore};
pub use sqs::{SqsJobQueue, SqsMessageQueue, SqsQueue};
