//! The answer function: `POST /webhooks/{provider}/answer`.
//! A thin composition root over `voxdial-lambda`: settings and the
//! engine built once per execution environment, one handler per event.

use std::convert::Infallible;

use lambda_http::{Error, Request, service_fn};
use voxdial_lambda::{Deps, LambdaConfig, WebhookKind, logs, webhook};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logs::init();
    let deps = Deps::init(LambdaConfig::from_env()?).await?;
    let deps = &deps;
    lambda_http::run(service_fn(move |request: Request| async move {
        let base = deps.config.public_base_url.as_deref();
        let response = webhook::handle(&deps.engine, base, WebhookKind::Answer, request).await;
        Ok::<_, Infallible>(response)
    }))
    .await
}
