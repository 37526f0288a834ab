//! The sweeper function: one sweep per EventBridge schedule event.
//! A thin composition root over `voxdial-lambda`.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use voxdial_lambda::{Deps, LambdaConfig, logs, sweep};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logs::init();
    let deps = Deps::init(LambdaConfig::from_env()?).await?;
    let deps = &deps;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| async move {
            let report = sweep::handle(&deps.engine, event.payload).await?;
            Ok::<_, Error>(serde_json::to_value(report)?)
        },
    ))
    .await
}
