//! voxdial's HTTP surface as axum routers over the use cases of
//! `voxdial-app`. The local runtime serves them with hyper; the Lambda
//! functions hand the same routers to `lambda_http`.
//!
//! # Layout
//!
//! - [`api`]: the campaign API under `/v1` (JSON; CSV for lead import) and
//!   its table of routes and the roles they need.
//! - `analytics`: the handlers of `/v1/analytics` and `/v1/analytics.csv`.
//! - [`auth`]: the guard of every `/v1` route (API keys, roles, the audit
//!   trail) and the masking of personal fields.
//! - [`events`]: live updates, a server-sent event stream per campaign.
//! - [`listen`]: listen-in, a WebSocket of a live call's mixed audio
//!   (and [`listen::router`], the route alone for the media-bridge container).
//! - [`live`]: a WebSocket of a live call's events (transcript lines,
//!   state, AMD verdict, fillers, barge-ins), and [`live::router`] for the
//!   media-bridge container.
//! - [`openapi`]: the OpenAPI document of the API, served at `/openapi.json`.
//! - [`session`]: the console's sign-in (an API key exchanged for a
//!   signed session cookie) and its CSRF rule.
//! - [`ticket`]: media tickets, which open one socket where the console's
//!   cookie does not reach (the media domain on AWS).
//! - [`test_call`]: test calls from the browser, a WebSocket to an AI
//!   agent through the media bridge of this process (and
//!   [`test_call::router`], the route alone for the media-bridge container).
//! - [`webhooks`]: provider webhooks under `/webhooks/{provider}/{status,answer}`.
//!
//! Webhook signatures are computed by providers over the public URL they
//! called, so the webhook router rebuilds it from the configured public base
//! URL plus the request's path and query (behind API Gateway or a proxy the
//! host seen by the server is not the one the provider used).

mod analytics;
pub mod api;
pub mod auth;
pub mod events;
pub mod forward;
pub mod listen;
pub mod live;
pub mod openapi;
pub mod session;
pub mod test_call;
pub mod ticket;
pub mod webhooks;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use voxdial_app::AppError;

/// An error answered as JSON: `{"error": "...", "status": 404}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error with a status and a message.
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message: message.into(),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> ApiError {
        ApiError::new(error.http_status(), error.to_string())
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    status: u16,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
            status: self.status.as_u16(),
        };
        (self.status, Json(body)).into_response()
    }
}
