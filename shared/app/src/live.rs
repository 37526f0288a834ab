//! Live calls as they happen: the in-process fan-out between the media
//! bridge and the console's watchers and listeners.
//!
//! The bridge opens a [`LiveCallFeed`] for each call it holds
//! ([`LiveHub::open`]) and publishes the call's [`LiveEvent`]s (transcript
//! lines as they grow, state, AMD verdict, fillers, barge-ins) and, while
//! someone listens, its mixed μ-law audio. Watchers subscribe to every
//! event ([`LiveHub::subscribe`]: the campaign's event stream keeps its
//! campaign's) and get, when they start, what a live call has shown so far
//! ([`LiveHub::backlog`]); listeners take one call's audio
//! ([`LiveHub::listen`]).
//!
//! Every channel is a bounded `broadcast`: a publisher never waits, and a
//! watcher or listener that falls behind loses the oldest items
//! (`Lagged`), never slowing the call. A call's audio channel has no
//! receiver while nobody listens, and the bridge mixes nothing then
//! ([`LiveCallFeed::wants_audio`]). The hub is per process: the API of a
//! process that runs no bridge (a Lambda function) sees no live call.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tokio::sync::{broadcast, watch};
use voxdial_conversation::LiveEvent;
use voxdial_domain::{CallId, CampaignId};

/// Events a watcher may fall behind by before it loses the oldest.
pub const EVENT_BACKLOG: usize = 1024;

/// Audio frames (20 ms each) a listener may fall behind by: 320 ms, the
/// most a listener lags before frames are dropped (a power of two, as
/// `broadcast` rounds its capacity up to one).
pub const AUDIO_FRAMES: usize = 16;

/// Transcript lines a late watcher is shown of a live call (the latest).
pub const BACKLOG_LINES: usize = 200;

/// One event of one call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LiveMessage {
    /// The call.
    pub call_id: CallId,
    /// Its campaign (for routing to watchers; not sent).
    #[serde(skip)]
    pub campaign_id: CampaignId,
    /// What happened.
    #[serde(flatten)]
    pub event: LiveEvent,
}

/// What a live call has shown so far: its latest state, verdict, filler
/// and barge-in counts, and its latest transcript lines.
struct LiveCall {
    campaign_id: CampaignId,
    audio: broadcast::Sender<Arc<[u8]>>,
    /// Dropped with the call: its watchers' receivers see it end.
    ended: watch::Sender<()>,
    lines: BTreeMap<usize, LiveEvent>,
    latest: HashMap<&'static str, LiveEvent>,
}

impl LiveCall {
    /// What the call has shown so far, as messages.
    fn shown<'a>(&'a self, call_id: &'a CallId) -> impl Iterator<Item = LiveMessage> + 'a {
        let events = self.latest.values().chain(self.lines.values());
        events.map(move |event| LiveMessage {
            call_id: call_id.clone(),
            campaign_id: self.campaign_id.clone(),
            event: event.clone(),
        })
    }

    fn remember(&mut self, event: &LiveEvent) {
        let kind = match event {
            LiveEvent::Line { index, .. } => {
                self.lines.insert(*index, event.clone());
                if self.lines.len() > BACKLOG_LINES {
                    self.lines.pop_first();
                }
                return;
            }
            LiveEvent::State { .. } => "state",
            LiveEvent::Amd { .. } => "amd",
            LiveEvent::Filler { .. } => "filler",
            LiveEvent::BargeIn { .. } => "barge_in",
        };
        self.latest.insert(kind, event.clone());
    }
}

#[derive(Default)]
struct Calls(Mutex<HashMap<CallId, LiveCall>>);

impl Calls {
    fn lock(&self) -> MutexGuard<'_, HashMap<CallId, LiveCall>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The fan-out (see the module doc). Cheap to clone.
#[derive(Clone)]
pub struct LiveHub {
    events: broadcast::Sender<Arc<LiveMessage>>,
    calls: Arc<Calls>,
}

impl Default for LiveHub {
    fn default() -> Self {
        LiveHub {
            events: broadcast::channel(EVENT_BACKLOG).0,
            calls: Arc::default(),
        }
    }
}

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHub")
            .field("calls", &self.calls.lock().len())
            .finish()
    }
}

impl LiveHub {
    /// Registers `call_id` as live here until the feed is dropped.
    pub fn open(&self, call_id: &CallId, campaign_id: &CampaignId) -> LiveCallFeed {
        let audio = broadcast::channel(AUDIO_FRAMES).0;
        self.calls.lock().insert(
            call_id.clone(),
            LiveCall {
                campaign_id: campaign_id.clone(),
                audio: audio.clone(),
                ended: watch::channel(()).0,
                lines: BTreeMap::new(),
                latest: HashMap::new(),
            },
        );
        LiveCallFeed {
            hub: self.clone(),
            call_id: call_id.clone(),
            campaign_id: campaign_id.clone(),
            audio,
        }
    }

    /// The calls live here, sorted.
    pub fn calls(&self) -> Vec<CallId> {
        let mut calls: Vec<CallId> = self.calls.lock().keys().cloned().collect();
        calls.sort();
        calls
    }

    /// Every call's events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveMessage>> {
        self.events.subscribe()
    }

    /// What the live calls of `campaign_id` have shown so far.
    pub fn backlog(&self, campaign_id: &CampaignId) -> Vec<LiveMessage> {
        let calls = self.calls.lock();
        let mut out = Vec::new();
        for (call_id, call) in calls.iter().filter(|(_, c)| &c.campaign_id == campaign_id) {
            out.extend(call.shown(call_id));
        }
        out
    }

    /// One call's watch: what it has shown so far and a receiver that
    /// sees it end (`changed()` fails once the call has left the hub);
    /// `None` when the call is not live in this process. Subscribe
    /// ([`LiveHub::subscribe`]) first, so nothing falls between the two.
    pub fn watch(&self, call_id: &CallId) -> Option<CallWatch> {
        let calls = self.calls.lock();
        let call = calls.get(call_id)?;
        Some(CallWatch {
            backlog: call.shown(call_id).collect(),
            ended: call.ended.subscribe(),
        })
    }

    /// The mixed audio of `call_id` from now on, 20 ms of μ-law per item;
    /// `None` when the call is not live in this process.
    pub fn listen(&self, call_id: &CallId) -> Option<broadcast::Receiver<Arc<[u8]>>> {
        self.calls
            .lock()
            .get(call_id)
            .map(|call| call.audio.subscribe())
    }

    /// The live transcript of `call_id` so far, a line per turn
    /// (`Caller: …`); empty when the call is not live in this process.
    pub fn transcript(&self, call_id: &CallId) -> Vec<String> {
        let calls = self.calls.lock();
        let Some(call) = calls.get(call_id) else {
            return Vec::new();
        };
        call.lines
            .values()
            .filter_map(|line| match line {
                LiveEvent::Line {
                    speaker,
                    transcript,
                    ..
                } => Some(format!("{speaker:?}: {transcript}")),
                _ => None,
            })
            .collect()
    }
}

/// One live call as a watcher starts following it ([`LiveHub::watch`]).
#[derive(Debug)]
pub struct CallWatch {
    /// What the call has shown so far.
    pub backlog: Vec<LiveMessage>,
    /// Fails `changed()` once the call has ended.
    pub ended: watch::Receiver<()>,
}

/// One live call's publisher; the call leaves the hub when it is dropped.
pub struct LiveCallFeed {
    hub: LiveHub,
    call_id: CallId,
    campaign_id: CampaignId,
    audio: broadcast::Sender<Arc<[u8]>>,
}

impl LiveCallFeed {
    /// Publishes an event of the call (kept for late watchers).
    pub fn publish(&self, event: LiveEvent) {
        if let Some(call) = self.hub.calls.lock().get_mut(&self.call_id) {
            call.remember(&event);
        }
        // No watcher: nobody to tell.
        let _ = self.hub.events.send(Arc::new(LiveMessage {
            call_id: self.call_id.clone(),
            campaign_id: self.campaign_id.clone(),
            event,
        }));
    }

    /// Whether anyone listens to the call.
    pub fn wants_audio(&self) -> bool {
        self.audio.receiver_count() > 0
    }

    /// Publishes 20 ms of the call's mixed μ-law audio.
    pub fn audio(&self, ulaw: &[u8]) {
        let _ = self.audio.send(Arc::from(ulaw));
    }
}

impl Drop for LiveCallFeed {
    fn drop(&mut self) {
        self.hub.calls.lock().remove(&self.call_id);
    }
}

#[cfg(test)]
mod tests {
    use voxdial_conversation::Speaker;

    use super::*;

    fn line(index: usize, text: &str) -> LiveEvent {
        LiveEvent::Line {
            index,
            speaker: Speaker::Agent,
            at_ms: 0,
            transcript: text.into(),
        }
    }

    fn ids(call: &str, campaign: &str) -> (CallId, CampaignId) {
        (
            CallId::parse(call).unwrap(),
            CampaignId::parse(campaign).unwrap(),
        )
    }

    #[test]
    fn watchers_get_events_and_late_ones_the_latest_picture() {
        let hub = LiveHub::default();
        let mut watcher = hub.subscribe();
        let (call, campaign) = ids("c1", "k1");
        let feed = hub.open(&call, &campaign);
        feed.publish(line(0, "Hel"));
        feed.publish(line(0, "Hello"));
        feed.publish(LiveEvent::BargeIn { count: 1 });
        assert_eq!(watcher.try_recv().unwrap().event, line(0, "Hel"));
        // A late watcher sees each line once, as it is now.
        let backlog = hub.backlog(&campaign);
        assert_eq!(backlog.len(), 2);
        assert!(backlog.iter().any(|m| m.event == line(0, "Hello")));
        assert!(hub.backlog(&CampaignId::parse("other").unwrap()).is_empty());
        // The call leaves with its feed.
        drop(feed);
        assert!(hub.backlog(&campaign).is_empty());
        assert!(hub.listen(&call).is_none());
    }

    #[tokio::test]
    async fn a_call_s_watch_has_its_picture_and_sees_it_end() {
        let hub = LiveHub::default();
        let (call, campaign) = ids("c1", "k1");
        assert!(hub.watch(&call).is_none(), "not live here");
        let feed = hub.open(&call, &campaign);
        let (other, _) = ids("c2", "k1");
        let other_feed = hub.open(&other, &campaign);
        assert_eq!(hub.calls(), [call.clone(), other.clone()]);
        feed.publish(line(0, "Hello"));
        other_feed.publish(line(0, "Not this one"));
        let mut watch = hub.watch(&call).unwrap();
        assert_eq!(watch.backlog.len(), 1);
        assert_eq!(watch.backlog[0].event, line(0, "Hello"));
        drop(other_feed);
        assert_eq!(hub.calls(), std::slice::from_ref(&call));
        assert!(
            watch.ended.has_changed().is_ok(),
            "another call's end is not this one's"
        );
        drop(feed);
        assert!(watch.ended.changed().await.is_err(), "the call ended");
    }

    #[test]
    fn audio_is_wanted_only_while_someone_listens_and_a_slow_listener_loses_the_oldest() {
        let hub = LiveHub::default();
        let (call, campaign) = ids("c1", "k1");
        let feed = hub.open(&call, &campaign);
        assert!(!feed.wants_audio());
        let mut listener = hub.listen(&call).unwrap();
        assert!(feed.wants_audio());
        for i in 0..AUDIO_FRAMES + 5 {
            feed.audio(&[i as u8; 160]);
        }
        assert!(matches!(
            listener.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(5))
        ));
        assert_eq!(listener.try_recv().unwrap()[0], 5);
        drop(listener);
        assert!(!feed.wants_audio());
    }
}
