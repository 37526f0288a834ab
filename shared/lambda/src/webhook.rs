//! The provider webhooks behind API Gateway (HTTP API, payload 2.0):
//! `POST …/webhooks/{provider}/status`, `…/answer` and `…/recording`,
//! served by the local server's router ([`voxdial_http::webhooks`]), so
//! both hosts check signatures and apply events through the same code.
//!
//! Providers sign the exact URL they called, which the router rebuilds as
//! the public base URL followed by the request's path and query. A named
//! stage's prefix is taken off the path first (as for the API), so with a
//! configured base URL (the API's URL with its stage, or a custom domain
//! with any base path) the URL is that base + `/webhooks/…` + the raw
//! query. Without one, the base is the event's own: `https://` + the
//! request context's domain name + the stage prefix. The body arrives
//! base64-encoded from API Gateway (`isBase64Encoded`); `lambda_http`
//! decodes it before the signature is checked.

use axum::Router;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use voxdial_app::Engine;
use voxdial_http::webhooks::RequestBase;

/// The webhook router over `engine`: with `public_base_url` when one is
/// configured, else each event's own base.
pub fn router(engine: Engine, public_base_url: Option<String>) -> Router {
    voxdial_http::webhooks::router(engine, public_base_url)
}

/// The base URL API Gateway was called at, from the event: `https://` +
/// its domain name + the stage prefix of a named stage.
fn event_base(request: &Request) -> Option<String> {
    let RequestContext::ApiGatewayV2(ctx) = request.request_context_ref()? else {
        return None;
    };
    let domain = ctx.domain_name.as_deref()?;
    let stage = ctx
        .stage
        .as_deref()
        .filter(|stage| *stage != "$default")
        .map(|stage| format!("/{stage}"))
        .filter(|prefix| request.uri().path().starts_with(&format!("{prefix}/")));
    Some(format!("https://{domain}{}", stage.unwrap_or_default()))
}

/// Routes one webhook event through `router`.
pub async fn handle(router: Router, request: Request) -> http::Response<axum::body::Body> {
    let mut request = request;
    if let Some(base) = event_base(&request) {
        request.extensions_mut().insert(RequestBase(base));
    }
    crate::api::handle(router, request).await
}
