//! The host port: everything the bridge needs from storage and providers.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use voxdial_conversation::{
    CallContext, CallReport, HumanAgent, LiveEvent, TranscriptTurn, TransferPlan,
};
use voxdial_domain::{AnsweredBy, CallId, Disposition, HumanAgentId, Timestamp};

use crate::live::LiveFeed;

/// A host call failed. The bridge logs it and carries on (the call keeps
/// going; answers that were awaited come back as failures).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("host error: {0}")]
pub struct HostError(pub String);

/// What the bridge asks of the rest of voxdial. The lead implements it on
/// the engine; [`MemoryHost`] is the in-memory one used by tests.
///
/// Every method is called from the call's own task (or a task it spawns),
/// may be slow, and must be safe to call again for the same call.
#[async_trait]
pub trait BridgeHost: Send + Sync + 'static {
    /// The call's context when its media stream starts (or early, while it
    /// rings): campaign, lead, agent configuration, voicemail and
    /// recording policy, consent notice, AMD verdict so far.
    async fn call_context(&self, call_id: &CallId) -> Result<CallContext, HostError>;
    /// Admits the call's one media stream, or refuses it (`Err` says why):
    /// `token` (the stream's `token` parameter) must be this call's
    /// unexpired token, and the call answered, not ended and never streamed
    /// before. Called once per stream, before anything else of the call.
    async fn admit_stream(&self, call_id: &CallId, token: Option<&str>) -> Result<(), HostError>;
    /// The provider's machine-detection verdict on the call so far. Asked
    /// while [`CallContext::provider_verdict_due`] and none has come.
    async fn answered_by(&self, call_id: &CallId) -> Result<Option<AnsweredBy>, HostError>;
    /// Stores the conversation's disposition (may be called more than once;
    /// the last one wins, except that opted-out is final).
    async fn record_disposition(&self, call_id: &CallId, d: Disposition) -> Result<(), HostError>;
    /// Puts the call's number on the do-not-call list at once.
    async fn opt_out(&self, call_id: &CallId) -> Result<(), HostError>;
    /// Picks and reserves an available human agent of the call's
    /// organisation with these skills (status available → busy), or `None`.
    async fn pick_human_agent(
        &self,
        call_id: &CallId,
        skills: &[String],
    ) -> Result<Option<HumanAgent>, HostError>;
    /// Gives back an agent reserved for `call_id` by
    /// [`Self::pick_human_agent`] when the transfer did not happen.
    async fn release_human_agent(
        &self,
        call_id: &CallId,
        id: &HumanAgentId,
    ) -> Result<(), HostError>;
    /// Carries out a transfer at the provider (cold: update with a `<Dial>`;
    /// warm: conference, whisper `plan.summary`, then join). The call
    /// record keeps the plan.
    async fn transfer(&self, call_id: &CallId, plan: TransferPlan) -> Result<(), HostError>;
    /// Schedules a callback (at the caller's time, or per retry policy).
    async fn schedule_callback(
        &self,
        call_id: &CallId,
        at: Option<Timestamp>,
    ) -> Result<(), HostError>;
    /// Ends the call at the provider.
    async fn hang_up(&self, call_id: &CallId) -> Result<(), HostError>;
    /// Records that the voicemail message played to its end, then ends the
    /// call at the provider.
    async fn voicemail_left(&self, call_id: &CallId) -> Result<(), HostError>;
    /// Stores the stereo WAV file at `wav` (caller left, agent right) in
    /// the blob store, streaming it (a long call's file is tens of MB).
    /// The bridge removes the file once this returns.
    async fn save_recording(&self, call_id: &CallId, wav: &Path) -> Result<(), HostError>;
    /// Stores the transcript, per turn with times.
    async fn save_transcript(
        &self,
        call_id: &CallId,
        turns: Vec<TranscriptTurn>,
    ) -> Result<(), HostError>;
    /// Stores the call's report (metrics, AMD verdict and latency,
    /// disposition, end reason). Called once, at the end.
    async fn report(&self, call_id: &CallId, report: CallReport) -> Result<(), HostError>;
    /// Where the call's live events and mixed audio go while it is live
    /// (the feed is dropped when the call ends); `None`, the default:
    /// nobody can watch or listen.
    fn live_feed(&self, _call_id: &CallId, _ctx: &CallContext) -> Option<Box<dyn LiveFeed>> {
        None
    }
}

/// What [`MemoryHost`]'s live feeds saw of one call.
#[derive(Debug, Clone, Default)]
pub struct MemoryLive {
    /// The events, in order.
    pub events: Vec<LiveEvent>,
    /// Mixed audio published (μ-law bytes).
    pub audio_bytes: usize,
}

/// Calls' live feeds, and whether someone listens.
#[derive(Debug, Default)]
struct MemoryWatch {
    calls: Mutex<HashMap<CallId, MemoryLive>>,
    listening: AtomicBool,
}

/// One call's feed into [`MemoryWatch`].
struct MemoryFeed {
    watch: Arc<MemoryWatch>,
    call_id: CallId,
}

impl LiveFeed for MemoryFeed {
    fn event(&self, event: LiveEvent) {
        let mut calls = self.watch.calls.lock().expect("lock");
        calls
            .entry(self.call_id.clone())
            .or_default()
            .events
            .push(event);
    }
    fn wants_audio(&self) -> bool {
        self.watch.listening.load(Ordering::Relaxed)
    }
    fn audio(&self, ulaw: &[u8]) {
        let mut calls = self.watch.calls.lock().expect("lock");
        calls.entry(self.call_id.clone()).or_default().audio_bytes += ulaw.len();
    }
}

/// What [`MemoryHost`] recorded for one call.
#[derive(Debug, Clone, Default)]
pub struct MemoryCall {
    /// Dispositions recorded, in order.
    pub dispositions: Vec<Disposition>,
    /// Opted out.
    pub opted_out: bool,
    /// Transfers carried out.
    pub transfers: Vec<TransferPlan>,
    /// Callbacks scheduled.
    pub callbacks: Vec<Option<Timestamp>>,
    /// Hung up by the bridge.
    pub hung_up: bool,
    /// The voicemail message played to its end.
    pub voicemail_left: bool,
    /// The recording.
    pub recording: Option<Vec<u8>>,
    /// The transcript.
    pub transcript: Vec<TranscriptTurn>,
    /// The report.
    pub report: Option<CallReport>,
    /// The token its admitted media stream carried.
    pub admitted_with: Option<Option<String>>,
}

/// An in-memory host: a context per call (or a default), a pool of human
/// agents, and everything the bridge stored. It admits one stream per call,
/// whatever its token (which it records), except for calls marked ended.
#[derive(Debug)]
pub struct MemoryHost {
    default_context: CallContext,
    contexts: Mutex<HashMap<CallId, CallContext>>,
    agents: Mutex<Vec<(HumanAgent, Vec<String>, bool)>>,
    calls: Mutex<HashMap<CallId, MemoryCall>>,
    ended: Mutex<Vec<CallId>>,
    verdicts: Mutex<HashMap<CallId, AnsweredBy>>,
    watch: Arc<MemoryWatch>,
}

impl MemoryHost {
    /// A host giving `default_context` to every call.
    pub fn new(default_context: CallContext) -> Self {
        Self {
            default_context,
            contexts: Mutex::new(HashMap::new()),
            agents: Mutex::new(Vec::new()),
            calls: Mutex::new(HashMap::new()),
            ended: Mutex::new(Vec::new()),
            verdicts: Mutex::new(HashMap::new()),
            watch: Arc::default(),
        }
    }

    /// Stores the provider's machine-detection verdict on a call (what a
    /// status callback does), for [`BridgeHost::answered_by`] to find.
    pub fn set_answered_by(&self, call_id: CallId, verdict: AnsweredBy) {
        self.verdicts.lock().expect("lock").insert(call_id, verdict);
    }

    /// Makes every call's feed say someone listens (or nobody).
    pub fn set_listening(&self, listening: bool) {
        self.watch.listening.store(listening, Ordering::Relaxed);
    }

    /// What a call's live feed saw.
    pub fn live(&self, call_id: &CallId) -> MemoryLive {
        let calls = self.watch.calls.lock().expect("lock");
        calls.get(call_id).cloned().unwrap_or_default()
    }

    /// Marks a call ended: its streams are refused.
    pub fn end_call(&self, call_id: CallId) {
        self.ended.lock().expect("lock").push(call_id);
    }

    /// Sets one call's context.
    pub fn set_context(&self, call_id: CallId, ctx: CallContext) {
        self.contexts.lock().expect("lock").insert(call_id, ctx);
    }

    /// Adds an available human agent with skills.
    pub fn add_agent(&self, agent: HumanAgent, skills: Vec<String>) {
        self.agents
            .lock()
            .expect("lock")
            .push((agent, skills, true));
    }

    /// What was recorded for a call.
    pub fn call(&self, call_id: &CallId) -> MemoryCall {
        self.calls
            .lock()
            .expect("lock")
            .get(call_id)
            .cloned()
            .unwrap_or_default()
    }

    fn with(&self, call_id: &CallId, f: impl FnOnce(&mut MemoryCall)) {
        f(self
            .calls
            .lock()
            .expect("lock")
            .entry(call_id.clone())
            .or_default());
    }
}

#[async_trait]
impl BridgeHost for MemoryHost {
    async fn call_context(&self, call_id: &CallId) -> Result<CallContext, HostError> {
        Ok(self
            .contexts
            .lock()
            .expect("lock")
            .get(call_id)
            .cloned()
            .unwrap_or_else(|| self.default_context.clone()))
    }
    async fn admit_stream(&self, call_id: &CallId, token: Option<&str>) -> Result<(), HostError> {
        if self.ended.lock().expect("lock").contains(call_id) {
            return Err(HostError(format!("call {call_id} has ended")));
        }
        let mut calls = self.calls.lock().expect("lock");
        let call = calls.entry(call_id.clone()).or_default();
        if call.admitted_with.is_some() {
            return Err(HostError(format!("call {call_id} already streamed")));
        }
        call.admitted_with = Some(token.map(str::to_owned));
        Ok(())
    }
    async fn answered_by(&self, call_id: &CallId) -> Result<Option<AnsweredBy>, HostError> {
        Ok(self.verdicts.lock().expect("lock").get(call_id).copied())
    }
    async fn record_disposition(&self, call_id: &CallId, d: Disposition) -> Result<(), HostError> {
        self.with(call_id, |c| c.dispositions.push(d));
        Ok(())
    }
    async fn opt_out(&self, call_id: &CallId) -> Result<(), HostError> {
        self.with(call_id, |c| c.opted_out = true);
        Ok(())
    }
    async fn pick_human_agent(
        &self,
        _call_id: &CallId,
        skills: &[String],
    ) -> Result<Option<HumanAgent>, HostError> {
        let mut agents = self.agents.lock().expect("lock");
        Ok(agents
            .iter_mut()
            .find(|(_, s, free)| *free && skills.iter().all(|k| s.contains(k)))
            .map(|(a, _, free)| {
                *free = false;
                a.clone()
            }))
    }
    async fn release_human_agent(
        &self,
        _call_id: &CallId,
        id: &HumanAgentId,
    ) -> Result<(), HostError> {
        for (a, _, free) in self.agents.lock().expect("lock").iter_mut() {
            if &a.id == id {
                *free = true;
            }
        }
        Ok(())
    }
    async fn transfer(&self, call_id: &CallId, plan: TransferPlan) -> Result<(), HostError> {
        self.with(call_id, |c| c.transfers.push(plan));
        Ok(())
    }
    async fn schedule_callback(
        &self,
        call_id: &CallId,
        at: Option<Timestamp>,
    ) -> Result<(), HostError> {
        self.with(call_id, |c| c.callbacks.push(at));
        Ok(())
    }
    async fn hang_up(&self, call_id: &CallId) -> Result<(), HostError> {
        self.with(call_id, |c| c.hung_up = true);
        Ok(())
    }
    async fn voicemail_left(&self, call_id: &CallId) -> Result<(), HostError> {
        self.with(call_id, |c| {
            c.voicemail_left = true;
            c.hung_up = true;
        });
        Ok(())
    }
    async fn save_recording(&self, call_id: &CallId, wav: &Path) -> Result<(), HostError> {
        let wav = tokio::fs::read(wav)
            .await
            .map_err(|e| HostError(format!("cannot read the recording: {e}")))?;
        self.with(call_id, |c| c.recording = Some(wav));
        Ok(())
    }
    async fn save_transcript(
        &self,
        call_id: &CallId,
        turns: Vec<TranscriptTurn>,
    ) -> Result<(), HostError> {
        self.with(call_id, |c| c.transcript = turns);
        Ok(())
    }
    async fn report(&self, call_id: &CallId, report: CallReport) -> Result<(), HostError> {
        self.with(call_id, |c| c.report = Some(report));
        Ok(())
    }
    fn live_feed(&self, call_id: &CallId, _ctx: &CallContext) -> Option<Box<dyn LiveFeed>> {
        Some(Box::new(MemoryFeed {
            watch: self.watch.clone(),
            call_id: call_id.clone(),
        }))
    }
}
