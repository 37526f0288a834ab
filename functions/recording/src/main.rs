//! The recording function: `POST /webhooks/{provider}/recording` (Twilio's
//! signed `RecordingStatusCallback`). It checks the signature, records the
//! recording on its call once (duplicates and reordered events change
//! nothing) and queues the download on the post-call job queue, which the
//! transcriber function drains. A thin composition root over
//! `voxdial-lambda`.

use std::convert::Infallible;

use lambda_http::{Error, Request, service_fn};
use voxdial_lambda::{Deps, LambdaConfig, logs, webhook};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logs::init();
    let deps = Deps::init(LambdaConfig::from_env()?).await?;
    let router = webhook::router(deps.engine.clone(), deps.config.public_base_url.clone());
    lambda_http::run(service_fn(move |request: Request| {
        let router = router.clone();
        async move { Ok::<_, Infallible>(webhook::handle(router, request).await) }
    }))
    .await
}
