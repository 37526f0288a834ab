//! Post-call jobs and the job queue port.
//!
//! Everything that happens to a call after it ended (downloading the
//! provider's recording, transcribing, analysing, posting the analysis to
//! the campaign's webhook) runs as a [`Job`] on a [`JobQueue`]: at-least-once
//! delivery with a visibility timeout, like SQS. Every post-call job names
//! one call and its handler is idempotent on the call's record (each stage
//! writes its result there with a versioned update, and a stage already
//! done is skipped), so a redelivered or duplicated job never stores,
//! transcribes or posts twice. The same queue carries the reading of an
//! uploaded lead file ([`Job::ImportLeads`]), idempotent on its import
//! record (see [`crate::imports`]).

use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{CallId, Delivery, DispatchMessage, ImportId, QueueError, Receipt};

/// A message body a queue can carry: JSON, with an idempotency key.
pub trait QueueMessage:
    Serialize + DeserializeOwned + Clone + std::fmt::Debug + Send + Sync + 'static
{
    /// The key a handler is idempotent on (SQS message attribute
    /// `idempotency_key`).
    fn idempotency_key(&self) -> String;
}

impl QueueMessage for DispatchMessage {
    fn idempotency_key(&self) -> String {
        self.call_id().to_string()
    }
}

/// One post-call job of one call.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// Download the provider's recording named on the call record into the
    /// blob store (then queue [`Job::Process`]).
    FetchRecording {
        /// The call.
        call_id: CallId,
    },
    /// Transcribe and analyse the call (then queue [`Job::Deliver`]).
    Process {
        /// The call.
        call_id: CallId,
    },
    /// POST the call's analysis to the campaign's webhook.
    Deliver {
        /// The call.
        call_id: CallId,
    },
    /// Read the next batches of an uploaded lead file into its campaign.
    ImportLeads {
        /// The import.
        import_id: ImportId,
    },
}

impl Job {
    /// The id of what the job is about: a call, or an import.
    pub fn subject(&self) -> &str {
        match self {
            Job::FetchRecording { call_id }
            | Job::Process { call_id }
            | Job::Deliver { call_id } => call_id.as_str(),
            Job::ImportLeads { import_id } => import_id.as_str(),
        }
    }

    /// `fetch_recording`, `process`, `deliver` or `import_leads`.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::FetchRecording { .. } => "fetch_recording",
            Job::Process { .. } => "process",
            Job::Deliver { .. } => "deliver",
            Job::ImportLeads { .. } => "import_leads",
        }
    }
}

impl QueueMessage for Job {
    fn idempotency_key(&self) -> String {
        format!("{}:{}", self.kind(), self.subject())
    }
}

/// A queue of messages `M`: at-least-once delivery with a visibility
/// timeout, like SQS. A message not acknowledged within the timeout is
/// delivered again; after too many deliveries it goes to a dead-letter
/// queue. One port for every kind of message (dispatch, post-call jobs).
#[async_trait]
pub trait MessageQueue<M: QueueMessage>: Send + Sync {
    /// Enqueues messages, visible after `delay`.
    async fn send(&self, messages: &[M], delay: Duration) -> Result<(), QueueError>;

    /// Receives up to `max` visible messages, waiting up to `wait` for one.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery<M>>, QueueError>;

    /// Deletes a handled message.
    async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError>;

    /// Makes a received message visible again after `delay`.
    async fn retry_later(&self, receipt: &Receipt, delay: Duration) -> Result<(), QueueError>;

    /// The longest `delay` [`send`](MessageQueue::send) honours (SQS: 15
    /// minutes); `None` when any delay is.
    fn max_delay(&self) -> Option<Duration> {
        None
    }

    /// How many messages are queued, delayed or in flight, where the queue
    /// counts them exactly (the local queue); `None` where it cannot (SQS
    /// counts only approximately).
    async fn backlog(&self) -> Result<Option<u64>, QueueError> {
        Ok(None)
    }
}

/// The post-call job queue: a [`MessageQueue`] of [`Job`]s.
pub trait JobQueue: MessageQueue<Job> {}

impl<T: MessageQueue<Job> + ?Sized> JobQueue for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_as_tagged_json() {
        let job = Job::Process {
            call_id: CallId::parse("ld_1.2").unwrap(),
        };
        let json = serde_json::to_string(&job).unwrap();
        assert_eq!(json, r#"{"job":"process","call_id":"ld_1.2"}"#);
        assert_eq!(serde_json::from_str::<Job>(&json).unwrap(), job);
        assert_eq!(job.idempotency_key(), "process:ld_1.2");
        let import = Job::ImportLeads {
            import_id: ImportId::parse("im_7").unwrap(),
        };
        let json = serde_json::to_string(&import).unwrap();
        assert_eq!(json, r#"{"job":"import_leads","import_id":"im_7"}"#);
        assert_eq!(import.idempotency_key(), "import_leads:im_7");
    }

    #[test]
    fn a_dispatch_is_idempotent_on_its_call() {
        let message = DispatchMessage {
            campaign_id: crate::CampaignId::parse("c1").unwrap(),
            lead_id: crate::LeadId::parse("ld_1").unwrap(),
            attempt: 2,
        };
        assert_eq!(message.idempotency_key(), "ld_1.2");
    }

    /// A queue that only answers `max_delay`.
    struct Unbounded;

    #[async_trait]
    impl MessageQueue<Job> for Unbounded {
        async fn send(&self, _: &[Job], _: Duration) -> Result<(), QueueError> {
            unreachable!()
        }
        async fn receive(&self, _: usize, _: Duration) -> Result<Vec<Delivery<Job>>, QueueError> {
            unreachable!()
        }
        async fn ack(&self, _: &Receipt) -> Result<(), QueueError> {
            unreachable!()
        }
        async fn retry_later(&self, _: &Receipt, _: Duration) -> Result<(), QueueError> {
            unreachable!()
        }
    }

    #[test]
    fn a_queue_honours_any_delay_unless_it_says_otherwise() {
        assert_eq!(Unbounded.max_delay(), None);
    }
}
