//! The media bridge's host on the engine.
//!
//! The bridge (`voxdial-bridge`) holds conversations and asks its
//! [`BridgeHost`] for everything that needs storage or a provider. This
//! crate answers with the engine's use cases (`voxdial_app::media`), so the
//! same host serves the local runtime (SQLite, files) and the AWS container
//! (DynamoDB, S3).
//!
//! # Layout
//!
//! - [`EngineHost`]: the [`BridgeHost`] over an [`Engine`]. A call talks
//!   with its campaign's AI agent, at the version the campaign pinned,
//!   read from the store (`voxdial_app::ai_agents`) and kept in memory
//!   (versions never change); a campaign of the built-in agent gets the
//!   built-in configuration ([`Agents`]).
//! - Each call's live feed goes into the engine's hub
//!   (`voxdial_app::live`): the console's event stream and listen-in
//!   read it there.
//! - [`BridgeObserver`]: the engine's [`CallObserver`] that opens a call's
//!   model session while the phone rings and hands the provider's
//!   machine-detection verdict to the live conversation.
//! - [`test_calls`]: the bridge's browser test calls for the HTTP route
//!   (`voxdial_http::test_call`), one per organisation at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tracing::warn;
use voxdial_app::events::CallObserver;
use voxdial_app::live::LiveCallFeed;
use voxdial_app::media::TransferMode as EngineTransferMode;
use voxdial_app::{AppError, Engine};
use voxdial_bridge::{Bridge, BridgeHost, HostError, LiveFeed};
use voxdial_conversation::types::{CallReport, HumanAgent, Speaker, TranscriptTurn, TransferPlan};
use voxdial_conversation::{AgentConfig, CallContext, LiveEvent, TransferMode};
use voxdial_domain::{
    AgentId, AgentStatus, AnsweredBy, CallAttempt, CallId, CallState, Campaign, Conversation,
    ConversationAgent, Disposition, HumanAgentId, Timestamp,
};
use voxdial_gemini::Connector;
use voxdial_http::test_call::{TestCallRun, TestCalls};

/// The AI agents' configurations by id, with a default for the others.
#[derive(Clone, Debug, Default)]
pub struct Agents {
    default: AgentConfig,
    by_id: HashMap<AgentId, AgentConfig>,
}

impl Agents {
    /// Every agent id gets `default` unless configured.
    pub fn new(default: AgentConfig) -> Agents {
        Agents {
            default,
            by_id: HashMap::new(),
        }
    }

    /// Configures one agent.
    pub fn with(mut self, id: AgentId, config: AgentConfig) -> Agents {
        self.by_id.insert(id, config);
        self
    }

    /// The configuration of `id`.
    pub fn get(&self, id: &AgentId) -> &AgentConfig {
        self.by_id.get(id).unwrap_or(&self.default)
    }
}

/// Stored agents' configurations by (agent, version): immutable, so
/// never stale.
type AgentCache = Mutex<HashMap<(AgentId, u32), Arc<AgentConfig>>>;

/// The agent each live call talks with, from its context to its report.
type HeldBy = Mutex<HashMap<CallId, ConversationAgent>>;

/// At most this many calls are remembered in [`HeldBy`]; past it (calls
/// that rang and never reported) the map starts again.
const HELD_BY_LIMIT: usize = 10_000;

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The bridge's host over the engine.
#[derive(Clone)]
pub struct EngineHost {
    engine: Engine,
    agents: Arc<Agents>,
    stored: Arc<AgentCache>,
    held_by: Arc<HeldBy>,
}

impl EngineHost {
    /// A host answering with `engine`'s use cases, the stored AI agents,
    /// and `agents`' configurations for the built-in agent.
    pub fn new(engine: Engine, agents: Agents) -> EngineHost {
        EngineHost {
            engine,
            agents: Arc::new(agents),
            stored: Arc::default(),
            held_by: Arc::default(),
        }
    }

    /// The agent a call of `campaign` talks with and its configuration:
    /// the campaign's pinned agent version (read once, then from memory),
    /// or the built-in agent.
    async fn agent(
        &self,
        campaign: &Campaign,
    ) -> Result<(ConversationAgent, AgentConfig), HostError> {
        let id = &campaign.settings.agent_id;
        let held = |version, config: &AgentConfig| ConversationAgent {
            id: id.clone(),
            version,
            name: config.name.clone(),
        };
        if id.is_built_in() {
            let config = self.agents.get(id).clone();
            return Ok((held(None, &config), config));
        }
        if let Some(version) = campaign.agent_version
            && let Some(config) = locked(&self.stored).get(&(id.clone(), version))
        {
            return Ok((held(Some(version), config), config.as_ref().clone()));
        }
        let agent = self
            .engine
            .campaign_agent(campaign)
            .await
            .map_err(host_error)?
            .ok_or_else(|| HostError(format!("campaign {} has no AI agent", campaign.id)))?;
        let config = voxdial_app::ai_agents::agent_config(&agent).map_err(host_error)?;
        locked(&self.stored).insert((agent.id, agent.version), Arc::new(config.clone()));
        Ok((held(Some(agent.version), &config), config))
    }

    /// Remembers the agent a call talks with until its report.
    fn remember(&self, call_id: &CallId, agent: ConversationAgent) {
        let mut held = locked(&self.held_by);
        if held.len() >= HELD_BY_LIMIT {
            held.clear();
        }
        held.insert(call_id.clone(), agent);
    }

    /// The agent that held a call's conversation: the one its context
    /// gave, else (a context from before a restart) its campaign's now.
    async fn held_by(&self, call_id: &CallId) -> Result<ConversationAgent, HostError> {
        if let Some(agent) = locked(&self.held_by).remove(call_id) {
            return Ok(agent);
        }
        let facts = self.engine.call_facts(call_id).await.map_err(host_error)?;
        Ok(self.agent(&facts.campaign).await?.0)
    }
}

fn host_error(error: AppError) -> HostError {
    HostError(error.to_string())
}

/// The first words of a transcript, speaker by speaker.
fn excerpt(turns: &[TranscriptTurn]) -> String {
    const LIMIT: usize = 240;
    let mut text = String::new();
    for turn in turns.iter().filter(|t| !t.text.trim().is_empty()) {
        let who = match turn.speaker {
            Speaker::Caller => "Caller",
            Speaker::Agent => "Agent",
        };
        text.push_str(&format!("{who}: {} ", turn.text.trim()));
        if text.chars().count() >= LIMIT {
            break;
        }
    }
    let mut cut: String = text.trim_end().chars().take(LIMIT).collect();
    if text.chars().count() > LIMIT {
        cut.push('…');
    }
    cut
}

/// A lower-case wire name of a serde enum value (`machine_end_beep`).
fn label<T: serde::Serialize>(value: &T) -> Option<String> {
    serde_json::to_value(value)
        .ok()?
        .as_str()
        .map(str::to_owned)
}

/// The bridge's report in the call record's terms.
fn conversation(report: &CallReport) -> Conversation {
    let ms = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    Conversation {
        amd_verdict: report.amd.as_ref().and_then(|a| label(&a.verdict)),
        amd_latency_ms: report.amd.as_ref().map(|a| ms(a.latency_ms)),
        first_audio_ms: report
            .metrics
            .turns
            .iter()
            .filter_map(|t| t.first_audio_ms)
            .map(ms)
            .collect(),
        model_latency_ms: report
            .metrics
            .turns
            .iter()
            .filter_map(|t| t.model_latency_ms)
            .map(ms)
            .collect(),
        fillers: report.metrics.fillers_played,
        barge_ins: report.metrics.barge_ins,
        talk_ratio: report.talk_ratio,
        duration_ms: report.duration_ms,
        end_reason: report.end_reason.as_ref().and_then(label),
        model_usage: (report.metrics.model_usage.reports > 0).then_some(report.metrics.model_usage),
        ..Conversation::default()
    }
}

#[async_trait]
impl BridgeHost for EngineHost {
    async fn call_context(&self, call_id: &CallId) -> Result<CallContext, HostError> {
        let facts = self.engine.call_facts(call_id).await.map_err(host_error)?;
        let settings = &facts.campaign.settings;
        let (held_by, agent) = self.agent(&facts.campaign).await?;
        self.remember(call_id, held_by);
        let name = facts.lead.name.trim();
        Ok(CallContext {
            campaign_id: facts.campaign.id.clone(),
            lead_name: (!name.is_empty()).then(|| name.to_string()),
            custom_fields: facts.lead.custom.clone(),
            agent,
            voicemail: settings.voicemail.clone(),
            record: settings.recording.records_every_call(),
            consent_notice: self.engine.consent_notice(&facts.campaign, &facts.call.to),
            answered_by: facts.call.answered_by,
            provider_verdict_due: self.engine.provider_verdict_due(&facts),
        })
    }

    async fn answered_by(&self, call_id: &CallId) -> Result<Option<AnsweredBy>, HostError> {
        let call = self.engine.call(call_id).await.map_err(host_error)?;
        Ok(call.answered_by)
    }

    async fn admit_stream(&self, call_id: &CallId, token: Option<&str>) -> Result<(), HostError> {
        self.engine
            .admit_media_stream(call_id, token)
            .await
            .map(drop)
            .map_err(host_error)
    }

    async fn record_disposition(&self, call_id: &CallId, d: Disposition) -> Result<(), HostError> {
        self.engine
            .record_disposition(call_id, d)
            .await
            .map(drop)
            .map_err(host_error)
    }

    async fn opt_out(&self, call_id: &CallId) -> Result<(), HostError> {
        self.record_disposition(call_id, Disposition::OptedOut)
            .await
    }

    async fn pick_human_agent(
        &self,
        call_id: &CallId,
        skills: &[String],
    ) -> Result<Option<HumanAgent>, HostError> {
        let agent = self
            .engine
            .reserve_human_agent(call_id, skills)
            .await
            .map_err(host_error)?;
        Ok(agent.map(|a| HumanAgent {
            id: a.id,
            number: a.number,
            name: a.name,
        }))
    }

    async fn release_human_agent(
        &self,
        call_id: &CallId,
        id: &HumanAgentId,
    ) -> Result<(), HostError> {
        self.engine
            .release_human_agent(call_id, id)
            .await
            .map(drop)
            .map_err(host_error)
    }

    async fn transfer(&self, call_id: &CallId, plan: TransferPlan) -> Result<(), HostError> {
        let agent = voxdial_domain::HumanAgent {
            id: plan.to.id.clone(),
            org_id: self.engine.call_org(call_id).await.map_err(host_error)?,
            name: plan.to.name.clone(),
            number: plan.to.number.clone(),
            skills: Vec::new(),
            status: AgentStatus::Busy,
            since: self.engine.clock().now(),
            call_id: Some(call_id.clone()),
        };
        let mode = match plan.mode {
            TransferMode::Cold => EngineTransferMode::Cold,
            TransferMode::Warm => EngineTransferMode::Warm,
        };
        self.engine
            .transfer_call(call_id, &agent, mode, &plan.summary, &plan.reason)
            .await
            .map(drop)
            .map_err(host_error)
    }

    async fn schedule_callback(
        &self,
        call_id: &CallId,
        at: Option<Timestamp>,
    ) -> Result<(), HostError> {
        self.engine
            .schedule_callback(call_id, at)
            .await
            .map(drop)
            .map_err(host_error)
    }

    async fn hang_up(&self, call_id: &CallId) -> Result<(), HostError> {
        self.engine.hang_up(call_id).await.map_err(host_error)
    }

    async fn voicemail_left(&self, call_id: &CallId) -> Result<(), HostError> {
        self.engine
            .record_voicemail_left(call_id)
            .await
            .map_err(host_error)?;
        self.hang_up(call_id).await
    }

    async fn save_recording(
        &self,
        call_id: &CallId,
        wav: &std::path::Path,
    ) -> Result<(), HostError> {
        self.engine
            .save_recording(call_id, wav)
            .await
            .map(drop)
            .map_err(host_error)
    }

    async fn save_transcript(
        &self,
        call_id: &CallId,
        turns: Vec<TranscriptTurn>,
    ) -> Result<(), HostError> {
        let json = serde_json::to_vec(&turns).map_err(|e| HostError(e.to_string()))?;
        self.engine
            .save_transcript(call_id, json, excerpt(&turns))
            .await
            .map(drop)
            .map_err(host_error)
    }

    fn live_feed(&self, call_id: &CallId, ctx: &CallContext) -> Option<Box<dyn LiveFeed>> {
        Some(Box::new(HubFeed(
            self.engine.live().open(call_id, &ctx.campaign_id),
        )))
    }

    async fn report(&self, call_id: &CallId, report: CallReport) -> Result<(), HostError> {
        if let Some(d) = report.disposition {
            // The last disposition wins (opted-out stays): the call may have
            // ended before a mid-call one was recorded.
            if let Err(error) = self.engine.record_disposition(call_id, d).await {
                warn!(call_id = %call_id, %error, "could not store the report's disposition");
            }
        }
        let mut record = conversation(&report);
        record.agent = match self.held_by(call_id).await {
            Ok(agent) => Some(agent),
            Err(error) => {
                warn!(call_id = %call_id, %error, "cannot tell which AI agent held the call");
                None
            }
        };
        self.engine
            .record_conversation(call_id, record)
            .await
            .map(drop)
            .map_err(host_error)
    }
}

/// A call's live feed into the engine's hub ([`voxdial_app::live`]).
struct HubFeed(LiveCallFeed);

impl LiveFeed for HubFeed {
    fn event(&self, event: LiveEvent) {
        self.0.publish(event);
    }
    fn wants_audio(&self) -> bool {
        self.0.wants_audio()
    }
    fn audio(&self, ulaw: &[u8]) {
        self.0.audio(ulaw);
    }
}

/// Opens a call's model session while its phone rings, and hands the
/// provider's machine-detection verdict to the live conversation.
pub struct BridgeObserver<H, C> {
    bridge: Bridge<H, C>,
}

impl<H, C> BridgeObserver<H, C> {
    /// An observer feeding `bridge`.
    pub fn new(bridge: Bridge<H, C>) -> BridgeObserver<H, C> {
        BridgeObserver { bridge }
    }
}

impl<H: BridgeHost, C: Connector + 'static> CallObserver for BridgeObserver<H, C> {
    fn call_progressed(&self, call: &CallAttempt) {
        if call.state == CallState::Ringing {
            let (bridge, id) = (self.bridge.clone(), call.id.clone());
            tokio::spawn(async move { bridge.prepare_call(&id).await });
        }
        if let Some(verdict) = call.answered_by {
            self.bridge.notify_answered_by(&call.id, verdict);
        }
    }
}

/// `bridge`'s test calls, for the test-call route: a place per
/// organisation ([`Bridge::reserve_test_call`]), the call run on the
/// browser's socket ([`Bridge::serve_test_call`]).
pub fn test_calls<H: BridgeHost, C: Connector>(bridge: &Bridge<H, C>) -> TestCalls {
    let bridge = bridge.clone();
    TestCalls::new(move |org| {
        let seat = bridge.reserve_test_call(org.as_str())?;
        let bridge = bridge.clone();
        let run: TestCallRun = Box::new(move |socket, ctx| {
            Box::pin(async move {
                bridge.serve_test_call(socket, seat, ctx).await;
            })
        });
        Some(run)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(speaker: Speaker, text: &str) -> TranscriptTurn {
        TranscriptTurn {
            speaker,
            text: text.into(),
            start_ms: 0,
            end_ms: 1,
            interrupted: false,
            heard_ms: None,
        }
    }

    #[test]
    fn the_excerpt_names_the_speakers_and_is_bounded() {
        let turns = vec![
            turn(Speaker::Agent, "Hello, this is Ava."),
            turn(Speaker::Caller, " "),
            turn(Speaker::Caller, "Hi!"),
        ];
        assert_eq!(excerpt(&turns), "Agent: Hello, this is Ava. Caller: Hi!");
        let long: Vec<_> = (0..100)
            .map(|_| turn(Speaker::Caller, "words words words"))
            .collect();
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), 241);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn agents_fall_back_to_the_default() {
        let special = AgentConfig {
            name: "Raj".into(),
            ..AgentConfig::default()
        };
        let agents =
            Agents::new(AgentConfig::default()).with(AgentId::parse("raj").unwrap(), special);
        assert_eq!(agents.get(&AgentId::parse("raj").unwrap()).name, "Raj");
        assert_eq!(
            agents.get(&AgentId::parse("other").unwrap()).name,
            AgentConfig::default().name
        );
    }
}
