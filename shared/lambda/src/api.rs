//! The campaign API behind API Gateway: the `voxdial-http` router, with a
//! named stage's prefix taken off the path (`/dev/v1/campaigns` is routed
//! as `/v1/campaigns`; the `$default` stage has none). Every `/v1` route is
//! behind the router's own API-key guard (`voxdial_http::auth`), exactly
//! as on the local server, and the operations console's page is served
//! from the same binary (`voxdial_console`, embedded as in `voxdial serve`).
//! The one difference: no live event stream (a buffered answer cannot
//! stream), see [`router`]. The page's media sockets (listen-in, live call
//! events, test calls) go to the media domain with a ticket, which its
//! content security policy allows.

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

/// The API router over `engine`, with the console's page and assets. A
/// Lambda behind an HTTP API cannot stream, so the live event stream
/// answers 501 and the console polls `GET /v1/campaigns/{id}/snapshot`
/// instead (one read of the campaign per watcher per second: nothing when
/// nobody watches).
pub fn router(engine: Engine) -> Router {
    // The page opens its media sockets at the media domain.
    let media = engine.config().media_socket_base.clone();
    voxdial_http::api::router(engine)
        .merge(voxdial_console::router(media.as_deref()))
        .layer(axum::middleware::from_fn(no_event_streams))
}

async fn no_event_streams(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = request.uri().path();
    if path.starts_with("/v1/campaigns/") && path.ends_with("/events") {
        let body = voxdial_http::ApiError::new(
            501,
            "live event streams need the local server; poll /v1/campaigns/{id}/snapshot",
        );
        return body.into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn event_streams_answer_501_and_other_routes_pass() {
        let app = Router::new()
            .route(
                "/v1/campaigns/{id}/events",
                axum::routing::get(|| async { "stream" }),
            )
            .route(
                "/v1/campaigns/{id}/snapshot",
                axum::routing::get(|| async { "snapshot" }),
            )
            .layer(axum::middleware::from_fn(no_event_streams));
        for (path, status) in [
            ("/v1/campaigns/c1/events", 501),
            ("/v1/campaigns/c1/snapshot", 200),
        ] {
            let request = http::Request::builder()
                .uri(path)
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status().as_u16(), status, "{path}");
        }
    }
}
