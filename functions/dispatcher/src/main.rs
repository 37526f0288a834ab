//! The dispatcher function: SQS batches of dispatch messages, reporting
//! partial batch failures. A thin composition root over `voxdial-lambda`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use voxdial_lambda::{Deps, LambdaConfig, dispatch, logs};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logs::init();
    let config = LambdaConfig::from_env()?;
    // Every call's callback URLs start with it.
    config.require_public_base_url()?;
    let deps = Deps::init(config).await?;
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let response: SqsBatchResponse =
            dispatch::handle_batch(&deps.engine, deps.queue.as_ref(), event.payload).await;
        Ok::<_, Error>(response)
    }))
    .await
}
