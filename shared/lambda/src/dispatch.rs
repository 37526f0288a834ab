//! The dispatcher: SQS batches from the dispatch queue's event source
//! mapping (with `ReportBatchItemFailures`), one span per message.
//!
//! | outcome | the message |
//! |---|---|
//! | dispatched, screened out, rescheduled, returned, skipped | succeeds (Lambda deletes it) |
//! | every provider rate limited | sent again as a new message delayed by the wait (its receive count starts over, so waiting never dead-letters it); this one succeeds |
//! | a retryable error (store or queue unavailable, write conflict) | reported failed: redelivered after the visibility timeout |
//! | a non-retryable error | succeeds, logged: redelivery cannot help, and the lead's lease lets the sweeper reconcile it |
//! | a body that is not a dispatch message | reported failed: the redrive policy moves it to the dead-letter queue, whose alarm fires |

use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use tracing::{Instrument, error, info_span, warn};
use voxdial_app::{DispatchOutcome, Engine};

use voxdial_aws::sqs::{MAX_DELAY, decode_body};
use voxdial_domain::{DispatchQueue, QueueError, Receipt};

/// Whether one message succeeded.
async fn one(engine: &Engine, queue: &dyn DispatchQueue, record: &SqsMessage) -> bool {
    let body = record.body.as_deref().unwrap_or_default();
    let message = match decode_body(body) {
        Ok(message) => message,
        Err(e) => {
            error!(error = %e, message_id = record.message_id.as_deref().unwrap_or("?"), "not a dispatch message");
            return false;
        }
    };
    let span = info_span!(
        "dispatch",
        campaign_id = %message.campaign_id,
        lead_id = %message.lead_id,
        attempt = message.attempt,
        receive_count = record.attributes.get("ApproximateReceiveCount").map(String::as_str).unwrap_or("?"),
    );
    async {
        match engine.dispatch(&message).await {
            Ok(DispatchOutcome::RetryAfter(wait)) => {
                let receipt = record.receipt_handle.clone().map(Receipt);
                wait_then_retry(
                    wait,
                    queue.send(std::slice::from_ref(&message), wait),
                    async {
                        match &receipt {
                            Some(receipt) => queue.retry_later(receipt, wait).await,
                            None => Ok(()),
                        }
                    },
                )
                .await
            }
            Ok(_) => true,
            Err(e) if e.is_retryable() => {
                warn!(error = %e, "dispatch failed; SQS will redeliver");
                false
            }
            Err(e) => {
                error!(error = %e, "dispatch failed for good; the sweeper reconciles the lead");
                true
            }
        }
    }
    .instrument(span)
    .await
}

/// A message that must wait (a rate limit, a post-call stage not ready):
/// when SQS can delay a message that long, it is sent again as a new one
/// (its receive count starts over, so waiting never dead-letters it) and
/// this record succeeds, so Lambda deletes it. Otherwise, or if the send
/// fails, the record is hidden for the wait (`hide`) and reported failed.
pub(crate) async fn wait_then_retry(
    wait: Duration,
    send: impl Future<Output = Result<(), QueueError>>,
    hide: impl Future<Output = Result<(), QueueError>>,
) -> bool {
    if wait <= MAX_DELAY {
        match send.await {
            Ok(()) => return true,
            Err(e) => warn!(error = %e, "could not requeue a waiting message; hiding it instead"),
        }
    }
    if let Err(e) = hide.await {
        warn!(error = %e, "could not hide a waiting message; it returns after the visibility timeout");
    }
    false
}

/// Handles a batch; the failed messages are reported by id.
pub async fn handle_batch(
    engine: &Engine,
    queue: &dyn DispatchQueue,
    event: SqsEvent,
) -> SqsBatchResponse {
    each_record(&event, |record| one(engine, queue, record)).await
}

/// Runs `one` on every record of a batch at once; the records it failed
/// are reported by message id (partial batch failures).
pub(crate) async fn each_record<'a, F>(
    event: &'a SqsEvent,
    one: impl Fn(&'a SqsMessage) -> F,
) -> SqsBatchResponse
where
    F: Future<Output = bool>,
{
    let results = join_all(event.records.iter().map(one)).await;
    let mut response = SqsBatchResponse::default();
    for (record, ok) in event.records.iter().zip(results) {
        if !ok {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}
