//! ECS task scale-in protection while calls are live.
//!
//! A task with live calls asks its ECS agent
//! (`PUT $ECS_AGENT_URI/task-protection/v1/state`) not to be chosen by a
//! scale-in or stopped by a deployment; protection lasts the longest call
//! plus a margin and is renewed while calls go on, then released when the
//! task is idle. ECS then replaces idle tasks first, and waits for busy ones.
//! A task that never goes idle (a steady stream of calls) would hold a
//! deploy back for ever: one stretch of protection is renewed for at most
//! one lease, then left to lapse for [`REST`] before the task protects
//! itself again, which gives ECS its window.
//! Protection is an optimisation on top of the load balancer's drain (its
//! deregistration delay covers the longest call too): a call on a task
//! stopped while unprotected (in that window, or starting between two
//! checks) is still never cut.
//!
//! [`Protection`] decides (no IO, no clock); [`run`] drives it on a timer
//! and talks to the agent.

use std::time::Duration;

use tokio::time::Instant;

/// How often [`run`] looks at the live calls.
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(15);

/// How long a lapsed protection stays off while calls go on.
pub(crate) const REST: Duration = Duration::from_secs(120);

/// The longest protection ECS accepts (48 hours).
const MAX_MINUTES: u64 = 2880;

/// What to ask the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ask {
    /// Protect the task for this many minutes (from now).
    Protect {
        /// `ExpiresInMinutes`.
        minutes: u64,
    },
    /// Make the task eligible for scale-in again.
    Release,
}

/// The protection state the agent last confirmed.
#[derive(Debug)]
pub(crate) struct Protection {
    lease: Duration,
    /// When the current stretch of protection began.
    since: Option<Instant>,
    /// When the last confirmed protection ends (or ended).
    until: Option<Instant>,
}

impl Protection {
    /// Protection for calls of at most `max_call`: each lease covers the
    /// longest call plus a minute, in whole minutes (1 to 2880).
    pub(crate) fn new(max_call: Duration) -> Self {
        let minutes = (max_call.as_secs() + 60).div_ceil(60).clamp(1, MAX_MINUTES);
        Self {
            lease: Duration::from_secs(minutes * 60),
            since: None,
            until: None,
        }
    }

    fn protected(&self, now: Instant) -> bool {
        self.until.is_some_and(|until| now < until)
    }

    fn protect(&self) -> Ask {
        Ask::Protect {
            minutes: self.lease.as_secs() / 60,
        }
    }

    /// What to ask, given the live calls at `now`: protect while any call
    /// is live, renewing past half the lease during the stretch's first
    /// lease; once a stretch lapsed, nothing for [`REST`]; release once no
    /// call is live.
    pub(crate) fn next(&self, live: usize, now: Instant) -> Option<Ask> {
        if live == 0 {
            return self.protected(now).then_some(Ask::Release);
        }
        match (self.since, self.until) {
            (Some(since), Some(until)) if now < until => {
                let due = until.saturating_duration_since(now) <= self.lease / 2;
                let stretch_left = now.saturating_duration_since(since) < self.lease;
                (due && stretch_left).then(|| self.protect())
            }
            (_, Some(lapsed)) if now < lapsed + REST => None,
            _ => Some(self.protect()),
        }
    }

    /// The agent confirmed `ask` at `now`.
    pub(crate) fn confirmed(&mut self, ask: Ask, now: Instant) {
        match ask {
            Ask::Protect { .. } => {
                if !self.protected(now) {
                    self.since = Some(now);
                }
                self.until = Some(now + self.lease);
            }
            Ask::Release => (self.since, self.until) = (None, None),
        }
    }
}

/// The agent refused or could not be reached.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AgentError {
    /// No answer.
    #[error("the ECS agent cannot be reached")]
    Unreachable(#[from] reqwest::Error),
    /// An answer other than 200.
    #[error("the ECS agent answered {status}: {body}")]
    Refused {
        /// The HTTP status.
        status: reqwest::StatusCode,
        /// What it said (e.g. a missing `ecs:UpdateTaskProtection` permission).
        body: String,
    },
}

/// The task's ECS agent (`ECS_AGENT_URI`).
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    state_url: String,
    http: reqwest::Client,
}

impl Agent {
    /// The agent at `agent_uri` (ECS sets `ECS_AGENT_URI` in every task).
    pub(crate) fn new(agent_uri: &str) -> Self {
        Self {
            state_url: format!(
                "{}/task-protection/v1/state",
                agent_uri.trim_end_matches('/')
            ),
            http: reqwest::Client::new(),
        }
    }

    /// Sends `ask`.
    pub(crate) async fn send(&self, ask: Ask) -> Result<(), AgentError> {
        let body = match ask {
            Ask::Protect { minutes } => {
                serde_json::json!({ "ProtectionEnabled": true, "ExpiresInMinutes": minutes })
            }
            Ask::Release => serde_json::json!({ "ProtectionEnabled": false }),
        };
        let response = self
            .http
            .put(&self.state_url)
            .json(&body)
            .timeout(Duration::from_secs(5))
            .send()
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(AgentError::Refused { status, body })
    }
}

/// Keeps the task protected while `live()` is above zero, until the
/// process ends. A failed request is logged and retried at the next check.
pub(crate) async fn run(agent: Agent, max_call: Duration, live: impl Fn() -> usize) {
    let mut protection = Protection::new(max_call);
    let mut ticks = tokio::time::interval(CHECK_EVERY);
    loop {
        let now = ticks.tick().await;
        let Some(ask) = protection.next(live(), now) else {
            continue;
        };
        match agent.send(ask).await {
            Ok(()) => {
                tracing::info!(?ask, "task scale-in protection");
                protection.confirmed(ask, now);
            }
            Err(error) => tracing::warn!(%error, ?ask, "task scale-in protection failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Json;
    use axum::extract::State;
    use axum::routing::put;

    use super::*;

    const TEN_MINUTES: Duration = Duration::from_secs(600);

    #[test]
    fn a_lease_covers_the_longest_call_and_a_minute() {
        let p = Protection::new(TEN_MINUTES);
        assert_eq!(
            p.next(1, Instant::now()),
            Some(Ask::Protect { minutes: 11 })
        );
        let capped = Protection::new(Duration::from_secs(10 * 24 * 3600));
        assert_eq!(
            capped.next(1, Instant::now()),
            Some(Ask::Protect { minutes: 2880 })
        );
    }

    #[test]
    fn protected_while_calls_are_live_renewed_and_released_when_idle() {
        let mut p = Protection::new(TEN_MINUTES);
        let t0 = Instant::now();
        // GIVEN an idle task: nothing to ask
        assert_eq!(p.next(0, t0), None);
        // WHEN a call goes live: protect it
        let ask = p.next(1, t0).expect("protect");
        p.confirmed(ask, t0);
        // THEN no request while more than half the lease is left
        assert_eq!(p.next(3, t0 + Duration::from_secs(300)), None);
        // AND a renewal past half the lease
        let later = t0 + Duration::from_secs(340);
        assert_eq!(p.next(1, later), Some(Ask::Protect { minutes: 11 }));
        p.confirmed(Ask::Protect { minutes: 11 }, later);
        // AND a release once the last call ended, then silence
        assert_eq!(p.next(0, later), Some(Ask::Release));
        p.confirmed(Ask::Release, later);
        assert_eq!(p.next(0, later + Duration::from_secs(1)), None);
        // AND protection again for the next call
        assert!(p.next(1, later + Duration::from_secs(2)).is_some());
    }

    #[test]
    fn a_task_that_is_never_idle_still_leaves_ecs_a_window() {
        // GIVEN a task protected at t0 (a lease of 11 minutes) whose calls
        // never stop
        let mut p = Protection::new(TEN_MINUTES);
        let t0 = Instant::now();
        let secs = |s: u64| t0 + Duration::from_secs(s);
        p.confirmed(p.next(1, t0).expect("protect"), t0);
        // WHEN half the lease is left, it is renewed once
        assert!(p.next(1, secs(330)).is_some());
        p.confirmed(Ask::Protect { minutes: 11 }, secs(330));
        // THEN after a whole lease of protection it is not renewed again
        assert_eq!(p.next(1, secs(660)), None);
        assert_eq!(p.next(1, secs(989)), None);
        // AND once it lapsed (at 990 s) it stays off for REST
        assert_eq!(p.next(1, secs(990)), None);
        assert_eq!(p.next(1, secs(990) + REST - Duration::from_secs(1)), None);
        // AND then protects the task again
        let again = secs(990) + REST;
        assert_eq!(p.next(1, again), Some(Ask::Protect { minutes: 11 }));
        p.confirmed(Ask::Protect { minutes: 11 }, again);
        assert!(
            p.next(1, again + Duration::from_secs(330)).is_some(),
            "a new stretch"
        );
    }

    #[test]
    fn an_unconfirmed_request_is_asked_again() {
        let p = Protection::new(TEN_MINUTES);
        let now = Instant::now();
        assert_eq!(p.next(1, now), p.next(1, now + CHECK_EVERY));
    }

    type Seen = Arc<Mutex<Vec<serde_json::Value>>>;

    #[tokio::test]
    async fn the_agent_gets_the_documented_request() {
        // GIVEN a stand-in for the ECS agent on loopback
        let seen: Seen = Arc::default();
        let app = axum::Router::new()
            .route(
                "/api/task-protection/v1/state",
                put(
                    |State(seen): State<Seen>, Json(body): Json<serde_json::Value>| async move {
                        seen.lock().expect("lock").push(body);
                        "{}"
                    },
                ),
            )
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/api", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        // WHEN the bridge protects, then releases its task
        let agent = Agent::new(&uri);
        agent.send(Ask::Protect { minutes: 11 }).await.unwrap();
        agent.send(Ask::Release).await.unwrap();
        // THEN the agent saw ECS's documented bodies
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                serde_json::json!({ "ProtectionEnabled": true, "ExpiresInMinutes": 11 }),
                serde_json::json!({ "ProtectionEnabled": false }),
            ]
        );
        server.abort();
    }

    #[tokio::test]
    async fn a_refusal_is_an_error_with_the_agent_s_reason() {
        let app = axum::Router::new().route(
            "/task-protection/v1/state",
            put(|| async { (axum::http::StatusCode::BAD_REQUEST, "AccessDeniedException") }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let error = Agent::new(&uri).send(Ask::Release).await.unwrap_err();
        assert!(
            error.to_string().contains("AccessDeniedException"),
            "{error}"
        );
        server.abort();
    }
}
