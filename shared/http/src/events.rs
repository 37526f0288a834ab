//! Live updates for the console: `GET /v1/campaigns/{id}/events`, a
//! server-sent event stream of one campaign's picture.
//!
//! Each `snapshot` event carries `{"campaign": …, "progress": …, "calls":
//! [the newest calls, live ones included]}`, the same shapes as `GET
//! /v1/campaigns/{id}` and `GET /v1/campaigns/{id}/calls`, personal fields
//! masked by role. The first is sent at once; then the server reads the
//! campaign every [`POLL`] and sends a snapshot only when something
//! changed, so a change reaches the page within [`POLL`] plus a render.
//! The reads cost the store two queries per watcher per tick, whatever the
//! number of calls (the counts are the store's `progress` aggregate, the
//! calls one bounded page): it scales with watchers, and costs nothing when
//! nobody watches.
//!
//! Between snapshots come `live` events, pushed as they happen by the
//! media bridge of this process (`voxdial_app::live`): `{"call_id": …,
//! "type": "line" | "state" | "amd" | "filler" | "barge_in", …}`, a
//! transcript line's text masked for viewers. A new stream first gets
//! what the campaign's live calls have shown so far. Where no bridge runs
//! in the API's process (AWS), no `live` event comes.
//!
//! A stream ends after [`MAX_STREAM`] (the browser's `EventSource`
//! reconnects by itself), so no connection is held for ever. Where the API
//! cannot stream (a Lambda function behind an HTTP API buffers whole
//! answers), the console polls the same two routes every second instead.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::{Extension, Json};
use futures_util::Stream;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;
use voxdial_app::live::LiveMessage;
use voxdial_app::{Caller, Engine};
use voxdial_domain::{CallAttempt, Campaign, CampaignId, CampaignProgress};

use crate::ApiError;
use crate::api::own_campaign;
use crate::auth::mask_personal;

/// How often a stream reads the campaign.
pub const POLL: Duration = Duration::from_millis(200);

/// How long one stream lasts before the client reconnects.
pub const MAX_STREAM: Duration = Duration::from_secs(300);

/// How many of the newest calls a snapshot carries.
pub const SNAPSHOT_CALLS: usize = 50;

/// One picture of a campaign.
#[derive(Serialize)]
struct Snapshot {
    campaign: Campaign,
    progress: CampaignProgress,
    calls: Vec<CallAttempt>,
}

/// The campaign's picture as the caller may see it.
async fn snapshot(engine: &Engine, caller: &Caller, id: &CampaignId) -> Result<Value, ApiError> {
    let view = engine.campaign_view(id).await?;
    let snapshot = Snapshot {
        campaign: view.campaign.redacted(),
        progress: view.progress,
        calls: engine.calls_page(id, None, SNAPSHOT_CALLS).await?,
    };
    let value = serde_json::to_value(&snapshot)
        .map_err(|e| ApiError::new(500, format!("cannot encode the snapshot: {e}")))?;
    Ok(mask_personal(caller.role, value))
}

/// What the stream remembers between ticks.
struct Watch {
    engine: Engine,
    caller: Caller,
    id: CampaignId,
    last: Option<Value>,
    ends_at: Instant,
    next_poll: Instant,
    /// Every live call's events (`None` once the hub is gone).
    live: Option<broadcast::Receiver<Arc<LiveMessage>>>,
    /// Live events to send before waiting again (what the campaign's
    /// live calls showed before this stream started, or while it lagged).
    pending: VecDeque<Event>,
}

impl Watch {
    /// The next event: a snapshot that differs from the last one sent, or
    /// a live event of one of the campaign's calls; `None` when the
    /// stream's time is up.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Watch)> {
        loop {
            if self.last.is_some() {
                if let Some(event) = self.pending.pop_front() {
                    return Some((Ok(event), self));
                }
                if Instant::now() >= self.ends_at {
                    return None;
                }
                if let Some(event) = self.wait().await {
                    return Some((Ok(event), self));
                }
            }
            self.next_poll = Instant::now() + POLL;
            let event = match snapshot(&self.engine, &self.caller, &self.id).await {
                Ok(value) if self.last.as_ref() == Some(&value) => continue,
                Ok(value) => {
                    let event = Event::default().event("snapshot").data(value.to_string());
                    self.last = Some(value);
                    event
                }
                // A store outage: say so and try again at the next tick.
                Err(_) => {
                    self.last.get_or_insert(Value::Null);
                    let body = r#"{"error": "the store did not answer; trying again"}"#;
                    Event::default().event("problem").data(body)
                }
            };
            return Some((Ok(event), self));
        }
    }

    /// Waits for the next poll; a live event of the campaign that comes
    /// first is returned instead.
    async fn wait(&mut self) -> Option<Event> {
        loop {
            let Some(live) = self.live.as_mut() else {
                tokio::time::sleep_until(self.next_poll).await;
                return None;
            };
            tokio::select! {
                () = tokio::time::sleep_until(self.next_poll) => return None,
                message = live.recv() => match message {
                    Ok(m) if m.campaign_id == self.id => return Some(live_event(&self.caller, &m)),
                    Ok(_) => {}
                    // Events were lost: send the calls' pictures again.
                    Err(RecvError::Lagged(_)) => {
                        self.pending = backlog(&self.engine, &self.caller, &self.id);
                        if let Some(event) = self.pending.pop_front() {
                            return Some(event);
                        }
                    }
                    Err(RecvError::Closed) => self.live = None,
                },
            }
        }
    }
}

/// A `live` event: one call's transcript line, state, verdict, filler or
/// barge-in (`{"call_id": …, "type": "line", …}`), masked by role.
fn live_event(caller: &Caller, message: &LiveMessage) -> Event {
    let value = serde_json::to_value(message).unwrap_or(Value::Null);
    Event::default()
        .event("live")
        .data(mask_personal(caller.role, value).to_string())
}

/// What the campaign's live calls have shown so far, as `live` events.
fn backlog(engine: &Engine, caller: &Caller, id: &CampaignId) -> VecDeque<Event> {
    engine
        .live()
        .backlog(id)
        .iter()
        .map(|m| live_event(caller, m))
        .collect()
}

/// `GET /v1/campaigns/{id}/events` (see the module doc).
pub(crate) async fn campaign_events(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let campaign = own_campaign(&engine, &caller, &id).await?;
    // Subscribed before the backlog is read: nothing falls between them
    // (a line sent twice replaces itself).
    let live = engine.live().subscribe();
    let pending = backlog(&engine, &caller, &campaign.id);
    let now = Instant::now();
    let watch = Watch {
        engine,
        caller,
        id: campaign.id,
        last: None,
        ends_at: now + MAX_STREAM,
        next_poll: now,
        live: Some(live),
        pending,
    };
    let stream = futures_util::stream::unfold(watch, Watch::next);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// `GET /v1/campaigns/{id}/snapshot`: one snapshot, for clients that poll.
pub(crate) async fn campaign_snapshot(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let campaign = own_campaign(&engine, &caller, &id).await?;
    Ok(Json(snapshot(&engine, &caller, &campaign.id).await?))
}
