//! [`SqsQueue`]: the dispatch queue on an SQS standard queue, and
//! [`SqsJobQueue`], the post-call job queue, the same code over another
//! queue and message type ([`SqsMessageQueue`]).
//!
//! - One message per (lead, attempt): the body is the
//!   [`DispatchMessage`] as JSON, and the message attribute
//!   `idempotency_key` carries the attempt's call id, the key the dispatcher
//!   makes idempotent (the attempt record is created with "put if absent"
//!   before any provider is asked). Standard, not FIFO: FIFO queues refuse
//!   per-message delays, and deduplicating in the queue would not remove the
//!   need for the store's guard (a message is delivered at least once).
//! - Delays: SQS holds a message at most 15 minutes ([`MAX_DELAY`]); a
//!   longer `send` delay is cut to that, and `retry_later` beyond 12 hours
//!   to 12 hours. Longer waits (retries after hours, calling windows) are not
//!   queue delays: the lead waits in the store as pending with its `due_at`,
//!   and slot filling or the sweeper queues it when it is due.
//! - Dead letters: the queue's redrive policy moves a message received
//!   `maxReceiveCount` times to the dead-letter queue (the template sets 5
//!   and alarms on the DLQ's depth).
//! - Visibility timeout: the template sets it to 6 times the dispatcher's
//!   timeout, as AWS advises for Lambda event sources, so a message is not
//!   delivered twice while a slow dispatch (backoffs, provider fallbacks) is
//!   still running.
//!
//! In Lambda the event source mapping receives and deletes messages; the
//! dispatcher only uses [`decode_body`], `retry_later` (to delay a rate
//! limited message) and `send` (slot filling).

use std::marker::PhantomData;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use tracing::warn;
use voxdial_domain::{
    Delivery, DispatchMessage, Job, MessageQueue, QueueError, QueueMessage, Receipt,
};

/// The longest delay SQS holds a message for.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// The longest visibility timeout SQS accepts.
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);

/// The message attribute that carries the idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency_key";

/// A queue of messages `M` on SQS.
pub struct SqsMessageQueue<M> {
    client: Client,
    queue_url: String,
    _message: PhantomData<fn() -> M>,
}

impl<M> Clone for SqsMessageQueue<M> {
    fn clone(&self) -> Self {
        SqsMessageQueue {
            client: self.client.clone(),
            queue_url: self.queue_url.clone(),
            _message: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for SqsMessageQueue<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsMessageQueue")
            .field("queue_url", &self.queue_url)
            .finish_non_exhaustive()
    }
}

/// The dispatch queue on SQS.
pub type SqsQueue = SqsMessageQueue<DispatchMessage>;

/// The post-call job queue on SQS.
pub type SqsJobQueue = SqsMessageQueue<Job>;

/// Some messages of a batch were refused.
#[derive(Debug, thiserror::Error)]
#[error("SQS refused {} of the batch: {}", .failed.len(), .failed.join("; "))]
pub struct PartialSend {
    /// `message: code` for each refused message.
    pub failed: Vec<String>,
}

fn unavailable(
    message: &str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> QueueError {
    QueueError::Unavailable {
        message: message.to_string(),
        source: Box::new(source),
    }
}

/// The body of a message.
pub fn encode_body<M: QueueMessage>(message: &M) -> Result<String, QueueError> {
    serde_json::to_string(message).map_err(|e| unavailable("cannot encode a message", e))
}

/// Reads a dispatch message's body.
pub fn decode_body(body: &str) -> Result<DispatchMessage, QueueError> {
    decode_message(body)
}

/// Reads a message's body.
pub fn decode_message<M: QueueMessage>(body: &str) -> Result<M, QueueError> {
    serde_json::from_str(body).map_err(|e| QueueError::Malformed(e.to_string()))
}

/// Whole seconds, rounded up, capped.
fn seconds(d: Duration, cap: Duration) -> i32 {
    let d = d.min(cap);
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs).unwrap_or(i32::MAX)
}

impl<M: QueueMessage> SqsMessageQueue<M> {
    /// The queue at `queue_url`.
    pub fn new(client: Client, queue_url: impl Into<String>) -> SqsMessageQueue<M> {
        SqsMessageQueue {
            client,
            queue_url: queue_url.into(),
            _message: PhantomData,
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.queue_url
    }
}

impl<M: QueueMessage> SqsMessageQueue<M> {
    async fn send_messages(&self, messages: &[M], delay: Duration) -> Result<(), QueueError> {
        let delay = seconds(delay, MAX_DELAY);
        for chunk in messages.chunks(10) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (n, message) in chunk.iter().enumerate() {
                let key = MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(message.idempotency_key())
                    .build()
                    .map_err(|e| unavailable("cannot build a message", e))?;
                entries.push(
                    SendMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .message_body(encode_body(message)?)
                        .delay_seconds(delay)
                        .message_attributes(IDEMPOTENCY_KEY, key)
                        .build()
                        .map_err(|e| unavailable("cannot build a message", e))?,
                );
            }
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| unavailable("cannot send to the queue", e))?;
            if !output.failed().is_empty() {
                let failed = output
                    .failed()
                    .iter()
                    .map(|f| {
                        let n: usize = f.id().parse().unwrap_or(0);
                        let key = chunk
                            .get(n)
                            .map_or_else(|| "?".into(), |m| m.idempotency_key());
                        format!("{key}: {}", f.code())
                    })
                    .collect();
                return Err(unavailable(
                    "the queue refused messages",
                    PartialSend { failed },
                ));
            }
        }
        Ok(())
    }

    async fn receive_messages(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery<M>>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        // Under a second: a short poll. SQS waits in whole seconds, 20 at most.
        let wait_secs = i32::try_from(wait.as_secs().min(20)).unwrap_or(20);
        let output = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(i32::try_from(max.min(10)).unwrap_or(10))
            .wait_time_seconds(wait_secs)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| unavailable("cannot receive from the queue", e))?;
        let mut deliveries = Vec::new();
        for message in output.messages() {
            let Some(receipt) = message.receipt_handle() else {
                continue;
            };
            let receive_count = message
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            match decode_message::<M>(message.body().unwrap_or_default()) {
                Ok(body) => deliveries.push(Delivery {
                    message: body,
                    receipt: Receipt(receipt.to_string()),
                    receive_count,
                }),
                // Left alone: redelivered until the redrive policy moves it
                // to the dead-letter queue, where the alarm sees it.
                Err(error) => {
                    warn!(%error, "a malformed message; leaving it to the dead-letter queue")
                }
            }
        }
        Ok(deliveries)
    }

    async fn ack_receipt(&self, receipt: &Receipt) -> Result<(), QueueError> {
        match self
            .client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(&receipt.0)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = e.into_service_error();
                // Deleted already (a second ack), or its receipt expired.
                if e.is_receipt_handle_is_invalid() {
                    Ok(())
                } else {
                    Err(unavailable("cannot delete a message", e))
                }
            }
        }
    }

    async fn postpone(&self, receipt: &Receipt, delay: Duration) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(&receipt.0)
            .visibility_timeout(seconds(delay, MAX_VISIBILITY))
            .send()
            .await
            .map_err(|e| unavailable("cannot delay a message", e))?;
        Ok(())
    }
}

#[async_trait]
impl<M: QueueMessage> MessageQueue<M> for SqsMessageQueue<M> {
    async fn send(&self, messages: &[M], delay: Duration) -> Result<(), QueueError> {
        self.send_messages(messages, delay).await
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery<M>>, QueueError> {
        self.receive_messages(max, wait).await
    }

    async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError> {
        self.ack_receipt(receipt).await
    }

    async fn retry_later(&self, receipt: &Receipt, delay: Duration) -> Result<(), QueueError> {
        self.postpone(receipt, delay).await
    }

    fn max_delay(&self) -> Option<Duration> {
        Some(MAX_DELAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voxdial_domain::{CampaignId, LeadId};

    #[test]
    fn bodies_round_trip_and_bad_ones_are_malformed() {
        let message = DispatchMessage {
            campaign_id: CampaignId::parse("c1").unwrap(),
            lead_id: LeadId::parse("l1").unwrap(),
            attempt: 2,
        };
        let body = encode_body(&message).unwrap();
        assert_eq!(decode_body(&body).unwrap(), message);
        assert!(matches!(decode_body("{}"), Err(QueueError::Malformed(_))));
    }

    #[test]
    fn delays_round_up_to_whole_seconds_and_cap() {
        assert_eq!(seconds(Duration::ZERO, MAX_DELAY), 0);
        assert_eq!(seconds(Duration::from_millis(1), MAX_DELAY), 1);
        assert_eq!(seconds(Duration::from_secs(2), MAX_DELAY), 2);
        assert_eq!(seconds(Duration::from_secs(3600), MAX_DELAY), 900);
        assert_eq!(seconds(Duration::from_secs(86_400), MAX_VISIBILITY), 43_200);
    }

    #[test]
    fn the_queue_says_how_long_sqs_holds_a_delayed_message() {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .build();
        let queue = SqsMessageQueue::<Job>::new(Client::from_conf(config), "http://127.0.0.1/q");
        assert_eq!(queue.max_delay(), Some(Duration::from_secs(15 * 60)));
    }
}
