//! The `transcriber` function's SQS handler (partial batch failures); the
//! pipeline itself is wired by `voxdial_runtime::aws::postcall`.
//!
//! A job is settled as everywhere ([`voxdial_app::delivery`]); a body that
//! is not a job is reported failed: the dead-letter queue takes it.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use tracing::{Instrument, error, info_span};
use voxdial_app::Engine;
use voxdial_app::delivery::{Deleter, Settlement, settle};
use voxdial_aws::sqs::decode_message;
use voxdial_domain::{Job, JobQueue, Receipt};

/// Whether one job message succeeded.
async fn one(engine: &Engine, queue: &dyn JobQueue, record: &SqsMessage) -> bool {
    let body = record.body.as_deref().unwrap_or_default();
    let job: Job = match decode_message(body) {
        Ok(job) => job,
        Err(e) => {
            error!(error = %e, message_id = record.message_id.as_deref().unwrap_or("?"), "not a post-call job");
            return false;
        }
    };
    let receive_count: u32 = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let span = info_span!(
        "job",
        job = job.kind(),
        subject = job.subject(),
        receive_count
    );
    async {
        let result = engine.handle_job(&job, receive_count).await;
        let receipt = record.receipt_handle.clone().map(Receipt);
        settle(
            queue,
            &job,
            receipt.as_ref(),
            Settlement::of(&result),
            Deleter::Host,
        )
        .await
    }
    .instrument(span)
    .await
}

/// Handles a batch of post-call jobs; the failed ones are reported by id.
pub async fn handle_jobs(
    engine: &Engine,
    queue: &dyn JobQueue,
    event: SqsEvent,
) -> SqsBatchResponse {
    crate::dispatch::each_record(&event, |record| one(engine, queue, record)).await
}
