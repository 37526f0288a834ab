//! The transcriber function: SQS batches of post-call jobs (download a
//! provider's recording, transcribe and analyse a call, POST its analysis),
//! reporting partial batch failures. A thin composition root over
//! `voxdial-lambda`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use voxdial_lambda::{Deps, LambdaConfig, logs, postcall};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logs::init();
    let deps = Deps::init(LambdaConfig::from_env()?).await?;
    let jobs = deps
        .jobs
        .clone()
        .ok_or("VOXDIAL_JOB_QUEUE_URL is not set: the transcriber has no queue")?;
    let (deps, jobs) = (&deps, &jobs);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let response: SqsBatchResponse =
            postcall::handle_jobs(&deps.engine, jobs.as_ref(), event.payload).await;
        Ok::<_, Error>(response)
    }))
    .await
}
