//! Admission in front of the bridge's router: which requests the public
//! listener (the load balancer's target) and the metrics listener take.
//!
//! - A new media stream is refused (503) once the task drains or holds
//!   `MAX_LIVE_CALLS` live calls; the calls already live are never touched
//!   here, so a drain lets them run to their natural end.
//! - `/healthz` answers 503 while draining, so the load balancer stops
//!   sending new streams even before ECS deregisters the task.
//! - `/metrics` is only on the metrics listener (a port the load balancer
//!   never forwards to); the public listener answers 404 for it.
//!
//! The capacity is checked when the upgrade arrives, and a stream counts
//! as live once its `start` message arrives: a burst of simultaneous
//! upgrades can overshoot the limit by the streams still in their first
//! frame, never by more.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// How many calls are live on this task (the bridge's own count).
pub(crate) type LiveCalls = Arc<dyn Fn() -> usize + Send + Sync>;

/// The admission state shared by both listeners and the drain.
#[derive(Clone)]
pub(crate) struct Gate {
    draining: Arc<AtomicBool>,
    max_live: usize,
    live: LiveCalls,
}

impl Gate {
    /// A gate taking at most `max_live` live calls.
    pub(crate) fn new(max_live: usize, live: LiveCalls) -> Self {
        Self {
            draining: Arc::new(AtomicBool::new(false)),
            max_live,
            live,
        }
    }

    /// Stops admitting new streams (live calls go on).
    pub(crate) fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Calls live now.
    pub(crate) fn live(&self) -> usize {
        (self.live)()
    }

    /// The calls this task takes now: its capacity, or none while it
    /// drains (what it reports to the fleet).
    pub(crate) fn capacity(&self) -> usize {
        if self.draining() { 0 } else { self.max_live }
    }

    fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Why a new media stream is refused now, if it is.
    fn refusal(&self) -> Option<&'static str> {
        if self.draining() {
            Some("draining")
        } else if self.live() >= self.max_live {
            Some("at capacity")
        } else {
            None
        }
    }
}

fn is_metrics(path: &str) -> bool {
    path == "/metrics" || path == "/media/metrics"
}

/// The public listener's middleware: streams within capacity while not
/// draining, health that turns 503 on drain, no metrics.
pub(crate) async fn public(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if is_metrics(path) {
        return StatusCode::NOT_FOUND.into_response();
    }
    if path == "/healthz" && gate.draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response();
    }
    if path.starts_with("/media/")
        && let Some(reason) = gate.refusal()
    {
        tracing::warn!(reason, live = gate.live(), "media stream refused");
        return (StatusCode::SERVICE_UNAVAILABLE, reason).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    fn app(gate: &Gate) -> Router {
        Router::new()
            .route("/media/twilio", get(|| async { "stream" }))
            .route("/healthz", get(|| async { "ok" }))
            .route("/metrics", get(|| async { "metrics" }))
            .layer(axum::middleware::from_fn_with_state(gate.clone(), public))
    }

    async fn status(app: &Router, path: &str) -> StatusCode {
        let request = Request::get(path).body(Body::empty()).expect("a request");
        app.clone()
            .oneshot(request)
            .await
            .expect("a response")
            .status()
    }

    fn gate(max: usize) -> (Gate, Arc<AtomicUsize>) {
        let live = Arc::new(AtomicUsize::new(0));
        let count = live.clone();
        (
            Gate::new(max, Arc::new(move || count.load(Ordering::SeqCst))),
            live,
        )
    }

    #[tokio::test]
    async fn streams_are_refused_at_capacity_and_taken_again_below_it() {
        let (gate, live) = gate(2);
        assert_eq!(gate.capacity(), 2);
        let app = app(&gate);
        live.store(1, Ordering::SeqCst);
        assert_eq!(status(&app, "/media/twilio").await, StatusCode::OK);
        live.store(2, Ordering::SeqCst);
        assert_eq!(
            status(&app, "/media/twilio").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(&app, "/healthz").await,
            StatusCode::OK,
            "full, not sick"
        );
        live.store(1, Ordering::SeqCst);
        assert_eq!(status(&app, "/media/twilio").await, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_draining_task_refuses_streams_and_fails_its_health_check() {
        let (gate, _) = gate(10);
        let app = app(&gate);
        gate.drain();
        assert_eq!(
            status(&app, "/media/twilio").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(&app, "/healthz").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(gate.capacity(), 0, "it reports no room to the fleet");
    }

    #[tokio::test]
    async fn the_public_listener_never_serves_metrics() {
        // The bridge serves them on its own listener (`metrics_router`);
        // the public one refuses the path even if a router had it.
        let (gate, _) = gate(10);
        assert_eq!(status(&app(&gate), "/metrics").await, StatusCode::NOT_FOUND);
    }
}
