//! The provider webhooks behind API Gateway (HTTP API, payload 2.0):
//! `POST …/webhooks/{provider}/status` and `…/answer`.
//!
//! Providers sign the exact URL they called, so the handler rebuilds it:
//! the configured public base URL (the API's URL or its custom domain, with
//! any base path) followed by the route path from `/webhooks/` on and the
//! raw query string as received; a stage prefix in the event's path
//! (`/dev/webhooks/…`) or a base path mapping does not change it. Without a
//! configured base URL, it is the event's own: `https://` + the request
//! context's domain name + the raw path and query. The body
//! arrives base64-encoded from API Gateway (`isBase64Encoded`);
//! `lambda_http` decodes it before the signature is checked.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use tracing::{Instrument, info_span, warn};
use voxdial_app::Engine;
use voxdial_domain::{ProviderId, WebhookRequest, WebhookResponse};

/// Which webhook a function serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookKind {
    /// Call progress and asynchronous machine detection.
    Status,
    /// What an answered call does next.
    Answer,
    /// A provider's recording status (the `recording` function).
    Recording,
}

impl WebhookKind {
    fn segment(self) -> &'static str {
        match self {
            WebhookKind::Status => "status",
            WebhookKind::Answer => "answer",
            WebhookKind::Recording => "recording",
        }
    }
}

/// The largest webhook body accepted.
const MAX_BODY: usize = 256 * 1024;

/// The route part of a request path: from `/webhooks/` on.
fn route_path(path: &str) -> Option<&str> {
    path.find("/webhooks/").map(|at| &path[at..])
}

/// The URL the provider called: `public_base_url` + route path + query.
pub fn public_url(public_base_url: &str, path: &str, query: Option<&str>) -> Option<String> {
    let route = route_path(path)?;
    let mut url = format!("{}{route}", public_base_url.trim_end_matches('/'));
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        url.push('?');
        url.push_str(query);
    }
    Some(url)
}

fn respond(response: WebhookResponse) -> Response<Body> {
    let body = match String::from_utf8(response.body) {
        Ok(text) => Body::Text(text),
        Err(bytes) => Body::Binary(bytes.into_bytes()),
    };
    Response::builder()
        .status(response.status)
        .header(http::header::CONTENT_TYPE, response.content_type)
        .body(body)
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

/// The URL API Gateway was called at, from the event: `https://` + its
/// domain name + the raw path (stage included) + the raw query.
fn event_url(request: &Request) -> Option<String> {
    let RequestContext::ApiGatewayV2(ctx) = request.request_context_ref()? else {
        return None;
    };
    let domain = ctx.domain_name.as_deref()?;
    let path = request.raw_http_path();
    let path = if path.is_empty() {
        request.uri().path()
    } else {
        path
    };
    let mut url = format!("https://{domain}{path}");
    if let Some(query) = request.uri().query().filter(|q| !q.is_empty()) {
        url.push('?');
        url.push_str(query);
    }
    Some(url)
}

/// Handles one webhook event for the function that serves `kind`, with
/// the public base URL when one is configured.
pub async fn handle(
    engine: &Engine,
    public_base_url: Option<&str>,
    kind: WebhookKind,
    request: Request,
) -> Response<Body> {
    let from_event = event_url(&request);
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let url = match public_base_url {
        Some(base) => public_url(base, path, parts.uri.query()),
        None => route_path(path).and(from_event),
    };
    let Some(url) = url else {
        return respond(WebhookResponse::text(404, "not a webhook path"));
    };
    let mut segments = route_path(path).unwrap_or_default().split('/').skip(2);
    let (Some(provider), Some(segment), None) = (segments.next(), segments.next(), segments.next())
    else {
        return respond(WebhookResponse::text(404, "not a webhook path"));
    };
    if segment != kind.segment() {
        return respond(WebhookResponse::text(
            404,
            format!("this function serves {} webhooks", kind.segment()),
        ));
    }
    let Ok(provider) = ProviderId::parse(provider) else {
        return respond(WebhookResponse::text(404, "unknown provider"));
    };
    if parts.method != http::Method::POST {
        return respond(WebhookResponse::text(405, "webhooks are POSTed"));
    }
    let body = body.to_vec();
    if body.len() > MAX_BODY {
        return respond(WebhookResponse::text(413, "the body is too large"));
    }
    let request = WebhookRequest {
        method: parts.method.as_str().to_string(),
        public_url: url,
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().ok()?.to_string(),
                ))
            })
            .collect(),
        body,
    };
    let span = info_span!("webhook", provider = %provider, kind = kind.segment());
    let response = async {
        match kind {
            WebhookKind::Status => engine.handle_status_webhook(&provider, &request).await,
            WebhookKind::Answer => engine.handle_answer_webhook(&provider, &request).await,
            WebhookKind::Recording => engine.handle_recording_webhook(&provider, &request).await,
        }
    }
    .instrument(span)
    .await;
    if response.status >= 500 {
        warn!(
            status = response.status,
            "webhook failed; the provider will retry"
        );
    }
    respond(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_url_keeps_the_route_and_raw_query() {
        let base = "https://abc.execute-api.ap-south-1.amazonaws.com/dev/";
        assert_eq!(
            public_url(
                base,
                "/dev/webhooks/twilio/status",
                Some("campaign_id=c&call_id=l.1")
            )
            .as_deref(),
            Some(
                "https://abc.execute-api.ap-south-1.amazonaws.com/dev/webhooks/twilio/status?campaign_id=c&call_id=l.1"
            )
        );
        assert_eq!(
            public_url("https://hooks.example.com", "/webhooks/twilio/answer", None).as_deref(),
            Some("https://hooks.example.com/webhooks/twilio/answer")
        );
        assert_eq!(public_url("https://h", "/v1/campaigns", None), None);
    }
}
