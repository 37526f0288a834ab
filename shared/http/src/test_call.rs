//! Test calls: `GET /v1/ai-agents/{id}/test-call`, a WebSocket on which the
//! browser talks with an AI agent (its latest version) through the media
//! bridge's driver and conversation core, with no phone call.
//!
//! The guard checks the key, ticket (`crate::ticket`) or session cookie
//! and the operator role like any route; the handler scopes the agent to the caller's organisation
//! (another's is 404), refuses a signed-in browser whose `Origin` is not
//! this site, answers 503 where no media bridge runs in the process (the
//! API function on AWS: the media-bridge container serves the route) and
//! 409 while the organisation has a test call live or the bridge has its
//! fill of them, and audits the call before it starts.
//!
//! The socket speaks `voxdial_bridge::browser`'s protocol: binary messages
//! of 16-bit little-endian PCM at 8 kHz from the microphone, the agent's
//! voice back in the same format, and the state machine's states and the
//! transcript as JSON text messages. Nothing of the call is stored: no
//! lead, no call record, no provider call, no campaign counter; a human is
//! on the line, so no answering-machine detection.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router, middleware};
use futures_util::future::BoxFuture;
use tracing::{error, info};
use voxdial_app::{Caller, Engine};
use voxdial_conversation::CallContext;
use voxdial_domain::{AgentId, CampaignId, OrgId};

use crate::ApiError;
use crate::auth::{Credential, guard};

/// The route's path.
pub const PATH: &str = "/v1/ai-agents/{id}/test-call";

/// The largest message the browser may send (64 KiB: two seconds of audio).
const MAX_MESSAGE: usize = 64 * 1024;

/// A test call that has its place: run it on the browser's socket with
/// the agent's context.
pub type TestCallRun = Box<dyn FnOnce(WebSocket, CallContext) -> BoxFuture<'static, ()> + Send>;

/// Takes a test call's place for an organisation, or `None` when it may
/// not start one now.
type Reserve = dyn Fn(&OrgId) -> Option<TestCallRun> + Send + Sync;

/// Where this process runs test calls (its media bridge), as a request
/// extension of the router: without it the route answers 503.
#[derive(Clone)]
pub struct TestCalls(Arc<Reserve>);

impl TestCalls {
    /// Test calls run by `reserve`: a call's place for an organisation,
    /// or `None` when it may not start one now.
    pub fn new(reserve: impl Fn(&OrgId) -> Option<TestCallRun> + Send + Sync + 'static) -> Self {
        Self(Arc::new(reserve))
    }
}

/// The test-call route alone, behind the guard, for the media-bridge
/// container (the local server has it in [`crate::api::router`] and adds
/// [`TestCalls`] as an extension).
pub fn router(engine: Engine, calls: TestCalls) -> Router {
    Router::new()
        .route(PATH, get(test_call))
        .route_layer(middleware::from_fn_with_state(engine.clone(), guard))
        .layer(Extension(calls))
        .with_state(engine)
}

/// `GET /v1/ai-agents/{id}/test-call` (see the module doc).
pub(crate) async fn test_call(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Extension(credential): Extension<Credential>,
    calls: Option<Extension<TestCalls>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let id = AgentId::parse(id).map_err(|e| ApiError::new(400, e.to_string()))?;
    // The organisation first: another's agent is 404 whatever the request.
    let agent = engine.ai_agent_in(&caller.org_id, &id, None).await?;
    let config = voxdial_app::ai_agents::agent_config(&agent)?;
    if credential.cross_site(&headers) {
        return Err(ApiError::new(
            403,
            "a test call with a session needs this site's Origin",
        ));
    }
    let ws =
        ws.map_err(|rejection| ApiError::new(rejection.status().as_u16(), rejection.body_text()))?;
    let Some(Extension(calls)) = calls else {
        return Err(ApiError::new(
            503,
            "test calls are served where the media bridge runs (on AWS: the media domain)",
        ));
    };
    let run = (calls.0)(&caller.org_id).ok_or_else(|| {
        ApiError::new(
            409,
            "this organisation has a test call live, or the media bridge has its fill of them",
        )
    })?;
    engine
        .record_audit(&caller, "GET", PATH, Some(id.to_string()), 101)
        .await
        .map_err(|e| {
            error!(error = %e, agent_id = %id, "cannot audit a test call: refused");
            ApiError::from(e)
        })?;
    info!(agent_id = %id, version = agent.version, key_id = %caller.key_id, "test call started");
    let campaign = CampaignId::parse("test-call").expect("a valid id");
    let ctx = CallContext::with_agent(campaign, config);
    Ok(ws
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| run(socket, ctx)))
}
