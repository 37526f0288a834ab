//! Provider webhooks: `POST /webhooks/{provider}/status` (call progress and
//! asynchronous machine detection), `POST /webhooks/{provider}/answer` and
//! `POST /webhooks/{provider}/recording` (recording status).

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use voxdial_app::Engine;
use voxdial_domain::{ProviderId, WebhookRequest, WebhookResponse};

/// The largest webhook body accepted.
const MAX_WEBHOOK_BYTES: usize = 256 * 1024;

#[derive(Clone)]
struct Hooks {
    engine: Engine,
    public_base_url: Option<String>,
}

/// The scheme and host (and any base path) one request came through, for
/// a host that learns it per request (the Lambda adapter, from the API
/// Gateway event). Used when the router has no configured base URL.
#[derive(Clone, Debug)]
pub struct RequestBase(pub String);

/// The webhook router, the same on every host. `public_base_url` is the
/// scheme and host (and any path prefix) providers call, e.g.
/// `https://hooks.example.com`; without one, each request's
/// [`RequestBase`] extension says it, and a request without either is
/// refused (404).
pub fn router(engine: Engine, public_base_url: Option<String>) -> Router {
    Router::new()
        .route("/webhooks/{provider}/{kind}", post(webhook))
        .layer(DefaultBodyLimit::max(MAX_WEBHOOK_BYTES))
        .with_state(Hooks {
            engine,
            public_base_url,
        })
}

/// Rebuilds the URL a provider called from the configured public base URL
/// and the request's path and query.
pub fn public_url(public_base_url: &str, uri: &Uri) -> String {
    let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
    format!(
        "{}{}",
        public_base_url.trim_end_matches('/'),
        path_and_query
    )
}

/// Turns an axum request into the host-neutral webhook request.
pub fn webhook_request(
    public_base_url: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> WebhookRequest {
    WebhookRequest {
        method: method.as_str().to_string(),
        public_url: public_url(public_base_url, uri),
        headers: headers
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().ok()?.to_string(),
                ))
            })
            .collect(),
        body: body.to_vec(),
    }
}

/// Converts a host-neutral response into an axum one.
pub fn into_response(response: WebhookResponse) -> Response {
    let status = axum::http::StatusCode::from_u16(response.status)
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(axum::http::header::CONTENT_TYPE, response.content_type)],
        response.body,
    )
        .into_response()
}

async fn webhook(
    State(hooks): State<Hooks>,
    base: Option<Extension<RequestBase>>,
    Path((provider, kind)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(provider) = ProviderId::parse(provider) else {
        return into_response(WebhookResponse::text(404, "unknown provider"));
    };
    let Some(base) = hooks
        .public_base_url
        .clone()
        .or_else(|| base.map(|Extension(RequestBase(base))| base))
    else {
        return into_response(WebhookResponse::text(404, "no public base URL is known"));
    };
    let request = webhook_request(&base, &method, &uri, &headers, body);
    let response = match kind.as_str() {
        "status" => {
            hooks
                .engine
                .handle_status_webhook(&provider, &request)
                .await
        }
        "answer" => {
            hooks
                .engine
                .handle_answer_webhook(&provider, &request)
                .await
        }
        "recording" => {
            hooks
                .engine
                .handle_recording_webhook(&provider, &request)
                .await
        }
        other => WebhookResponse::text(404, format!("unknown webhook {other:?}")),
    };
    into_response(response)
}
