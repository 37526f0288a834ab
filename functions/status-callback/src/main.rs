//! The status-callback function: `POST /webhooks/{provider}/status`.
//! A thin composition root over `voxdial-lambda`: settings and the
//! engine built once per execution environment, one handler per event.

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
