//! The dispatcher: SQS batches from the dispatch queue's event source
//! mapping (with `ReportBatchItemFailures`), one span per message.
//!
//! A message is settled as everywhere ([`voxdial_app::delivery`]); a body
//! that is not a dispatch message is reported failed, so the redrive
//! policy moves it to the dead-letter queue, whose alarm fires.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use tracing::{Instrument, error, info_span};
use voxdial_app::Engine;
use voxdial_app::delivery::{Deleter, Settlement, settle};
use voxdial_aws::sqs::decode_body;
use voxdial_domain::{DispatchQueue, Receipt};

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
        let result = engine.dispatch(&message).await;
        let receipt = record.receipt_handle.clone().map(Receipt);
        settle(
            queue,
            &message,
            receipt.as_ref(),
            Settlement::of(&result),
            Deleter::Host,
        )
        .await
    }
    .instrument(span)
    .await
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
