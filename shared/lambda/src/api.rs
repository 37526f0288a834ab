//! The campaign API behind API Gateway: the `voxdial-http` router, with a
//! named stage's prefix taken off the path (`/dev/v1/campaigns` is routed
//! as `/v1/campaigns`; the `$default` stage has none). Every `/v1` route is
//! behind the router's own API-key guard (`voxdial_http::auth`), exactly
//! as on the local server.

use axum::Router;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use tower::ServiceExt;
use voxdial_app::Engine;

/// The path without the stage prefix the request came through.
pub fn strip_stage(request: &Request) -> Option<String> {
    let stage = match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.stage.clone()?,
        _ => return None,
    };
    if stage == "$default" {
        return None;
    }
    let path = request.uri().path();
    let rest = path.strip_prefix(&format!("/{stage}"))?;
    (rest.is_empty() || rest.starts_with('/')).then(|| {
        let rest = if rest.is_empty() { "/" } else { rest };
        match request.uri().query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_string(),
        }
    })
}

/// Routes one API event.
pub async fn handle(router: Router, request: Request) -> http::Response<axum::body::Body> {
    let mut request = request;
    if let Some(path) = strip_stage(&request)
        && let Ok(uri) = path.parse()
    {
        *request.uri_mut() = uri;
    }
    let request = request.map(|body: Body| axum::body::Body::from(body.to_vec()));
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The API router over `engine`.
pub fn router(engine: Engine) -> Router {
    voxdial_http::api::router(engine)
}
