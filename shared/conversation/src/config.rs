//! The AI agent's configuration ([`AgentConfig`]) and what the host knows
//! about one call ([`CallContext`]).
//!
//! Everything is serde with defaults on every field, so a stored agent
//! written by an older version still loads. [`AgentConfig::default`] is the
//! documented default agent ("Ava", a polite outbound caller).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use voxdial_domain::{AnsweredBy, CampaignId, VoicemailPolicy};

/// A tool the model may call. Each is exposed to the model as a function
/// declaration (see `voxdial-gemini`) and handled by the conversation core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// `transfer_call(reason, skills?)`: hand the caller to a human agent.
    TransferCall,
    /// `record_outcome(disposition, note?)`: the conversation's result.
    RecordOutcome,
    /// `schedule_callback(at?)`: the caller wants to be called later.
    ScheduleCallback,
    /// `end_call(reason?)`: say goodbye and hang up after the current turn.
    EndCall,
    /// `collect_digits(max_digits?, terminator?, timeout_s?)`: read keypad
    /// digits; the result comes back as the tool response.
    CollectDigits,
}

impl ToolKind {
    /// Every tool, in declaration order.
    pub const ALL: [ToolKind; 5] = [
        ToolKind::TransferCall,
        ToolKind::RecordOutcome,
        ToolKind::ScheduleCallback,
        ToolKind::EndCall,
        ToolKind::CollectDigits,
    ];

    /// The function name the model sees.
    pub fn function_name(self) -> &'static str {
        match self {
            ToolKind::TransferCall => "transfer_call",
            ToolKind::RecordOutcome => "record_outcome",
            ToolKind::ScheduleCallback => "schedule_callback",
            ToolKind::EndCall => "end_call",
            ToolKind::CollectDigits => "collect_digits",
        }
    }

    /// The tool of a function name.
    pub fn from_function_name(name: &str) -> Option<ToolKind> {
        Self::ALL.into_iter().find(|t| t.function_name() == name)
    }
}

/// What pressing a key does when no digit collection is running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum IvrAction {
    /// Transfer to a human agent with these skills.
    HumanAgent {
        /// Skills the human must have (empty: anyone).
        #[serde(default)]
        skills: Vec<String>,
    },
    /// Schedule a callback (time left to the model to agree on).
    Callback,
    /// Put the number on the do-not-call list at once and end the call.
    OptOut,
    /// Tell the model, as text (e.g. "The caller pressed 3: repeat the offer").
    Model {
        /// The text sent to the model.
        text: String,
    },
}

/// One IVR menu entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IvrOption {
    /// The key, `0`-`9`, `*` or `#`.
    pub digit: char,
    /// What it does.
    #[serde(flatten)]
    pub action: IvrAction,
    /// How the option is announced ("press 1 to talk to a person").
    #[serde(default)]
    pub label: String,
}

/// Digit collection defaults (the `collect_digits` tool may override them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DigitCollection {
    /// Key that ends the input early (`#`).
    pub terminator: Option<char>,
    /// Most digits read.
    pub max_digits: u32,
    /// Time allowed between two presses (and before the first), ms.
    pub inter_digit_timeout_ms: u64,
}

impl Default for DigitCollection {
    fn default() -> Self {
        Self {
            terminator: Some('#'),
            max_digits: 16,
            inter_digit_timeout_ms: 5000,
        }
    }
}

/// The agent's IVR menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IvrMenu {
    /// Options by key.
    pub options: Vec<IvrOption>,
    /// Digit collection defaults.
    pub collection: DigitCollection,
}

impl Default for IvrMenu {
    /// 1 = human agent, 2 = callback, 9 = opt out.
    fn default() -> Self {
        Self {
            options: vec![
                IvrOption {
                    digit: '1',
                    action: IvrAction::HumanAgent { skills: Vec::new() },
                    label: "press 1 to speak with a person".into(),
                },
                IvrOption {
                    digit: '2',
                    action: IvrAction::Callback,
                    label: "press 2 to be called back".into(),
                },
                IvrOption {
                    digit: '9',
                    action: IvrAction::OptOut,
                    label: "press 9 to stop receiving calls".into(),
                },
            ],
            collection: DigitCollection::default(),
        }
    }
}

impl IvrMenu {
    /// The action of `digit`, if the menu has one.
    pub fn action(&self, digit: char) -> Option<&IvrAction> {
        self.options
            .iter()
            .find(|o| o.digit == digit)
            .map(|o| &o.action)
    }
}

/// Latency masking: fillers while the model is late.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HedgeConfig {
    /// Play fillers at all.
    pub enabled: bool,
    /// How late the model's first audio after the caller's turn may be
    /// before a filler plays, ms (default 700).
    pub threshold_ms: u64,
    /// Filler clip ids (bundled clips of `voxdial_media::assets`); empty
    /// means every bundled filler.
    pub fillers: Vec<String>,
    /// At most this many fillers per caller turn.
    pub max_per_turn: u32,
}

impl Default for HedgeConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold_ms: 700,
            fillers: Vec::new(),
            max_per_turn: 1,
        }
    }
}

/// Silence handling while the agent waits for the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SilenceConfig {
    /// Silence after the agent's turn before a re-prompt, ms.
    pub reprompt_after_ms: u64,
    /// Re-prompts before the call is ended politely.
    pub max_reprompts: u32,
    /// Text sent to the model to make it re-prompt.
    pub reprompt_text: String,
    /// Text sent to the model to make it say goodbye.
    pub goodbye_text: String,
}

impl Default for SilenceConfig {
    fn default() -> Self {
        Self {
            reprompt_after_ms: 7000,
            max_reprompts: 2,
            reprompt_text: "The caller has been silent for a while. Briefly check whether they are still there.".into(),
            goodbye_text: "The caller is not responding. Say a short, polite goodbye now; the call will end after it.".into(),
        }
    }
}

/// Start/end-of-speech sensitivity of the model's activity detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Default of the model.
    #[default]
    Default,
    /// Reacts sooner.
    High,
    /// Reacts later.
    Low,
}

/// The model's automatic activity detection (server VAD).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActivityDetection {
    /// Switch server VAD off (the bridge then sends activity signals).
    pub disabled: bool,
    /// Start-of-speech sensitivity.
    pub start_sensitivity: Sensitivity,
    /// End-of-speech sensitivity.
    pub end_sensitivity: Sensitivity,
    /// Speech kept before the detected start, ms.
    pub prefix_padding_ms: u32,
    /// Silence that ends a turn, ms.
    pub silence_duration_ms: u32,
}

impl Default for ActivityDetection {
    fn default() -> Self {
        Self {
            disabled: false,
            start_sensitivity: Sensitivity::High,
            end_sensitivity: Sensitivity::Low,
            prefix_padding_ms: 20,
            silence_duration_ms: 500,
        }
    }
}

/// Model session options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionOptions {
    /// Ask for input (caller) transcription.
    pub input_transcription: bool,
    /// Ask for output (agent) transcription.
    pub output_transcription: bool,
    /// Context window compression: trigger, tokens (0 = off).
    pub compression_trigger_tokens: u64,
    /// Context window compression: sliding window target, tokens.
    pub compression_target_tokens: u64,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            input_transcription: true,
            output_transcription: true,
            compression_trigger_tokens: 25_600,
            compression_target_tokens: 12_800,
        }
    }
}

/// How a transfer to a human is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TransferMode {
    /// Connect the caller straight to the human.
    Cold,
    /// Conference: the human hears a short summary first.
    #[default]
    Warm,
}

/// Transfer options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TransferConfig {
    /// Cold or warm.
    pub mode: TransferMode,
    /// Skills asked for when the model names none.
    pub default_skills: Vec<String>,
    /// How long to wait for the host's answer (agent pick, transfer), ms.
    pub timeout_ms: u64,
}

impl Default for TransferConfig {
    fn default() -> Self {
        Self {
            mode: TransferMode::Warm,
            default_skills: Vec::new(),
            timeout_ms: 8000,
        }
    }
}

/// Answering-machine handling on the bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AmdOptions {
    /// Classify the first seconds of callee audio when the provider has no
    /// verdict (and to confirm one).
    pub local_detection: bool,
    /// The agent's opening is held at most this long waiting for a verdict
    /// or a short "hello", ms.
    pub max_hold_ms: u64,
    /// After a machine verdict, wait at most this long for the beep before
    /// leaving the message anyway, ms.
    pub beep_timeout_ms: u64,
}

impl Default for AmdOptions {
    fn default() -> Self {
        Self {
            local_detection: true,
            max_hold_ms: 3500,
            beep_timeout_ms: 20_000,
        }
    }
}

/// The voicemail message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VoicemailMessage {
    /// A bundled clip id (`voicemail_default`).
    pub clip_id: String,
    /// The words (for the transcript).
    pub text: String,
}

impl Default for VoicemailMessage {
    fn default() -> Self {
        let clip = voxdial_media::assets::voicemail_default();
        Self {
            clip_id: clip.id.to_owned(),
            text: clip.text.to_owned(),
        }
    }
}

/// An AI agent: prompt, voice, language, tools, IVR menu, fillers, timing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentConfig {
    /// Display name ("Ava").
    pub name: String,
    /// The system prompt.
    pub system_prompt: String,
    /// Principles appended to the system prompt, one rule each.
    pub principles: Vec<String>,
    /// Prebuilt voice name (`Kore`, `Puck`, …).
    pub voice: String,
    /// BCP-47 language code (`en-IN`).
    pub language: String,
    /// Tools exposed to the model.
    pub tools: Vec<ToolKind>,
    /// The IVR menu.
    pub ivr: IvrMenu,
    /// Detect keypad tones in the audio (providers without DTMF events).
    pub inband_dtmf: bool,
    /// Latency masking.
    pub hedge: HedgeConfig,
    /// Silence re-prompts.
    pub silence: SilenceConfig,
    /// Text that makes the model open the call (sent on answer).
    pub opening_instruction: String,
    /// The voicemail message.
    pub voicemail: VoicemailMessage,
    /// Transfer options.
    pub transfer: TransferConfig,
    /// Answering-machine handling.
    pub amd: AmdOptions,
    /// Server VAD.
    pub activity_detection: ActivityDetection,
    /// Session options.
    pub session: SessionOptions,
    /// Longest call, ms; the agent says goodbye then.
    pub max_call_ms: u64,
}

impl Default for AgentConfig {
    /// "Ava": a polite outbound caller with every tool, the default IVR
    /// menu (1 human, 2 callback, 9 opt out), every bundled filler after
    /// 700 ms, two silence re-prompts 7 s apart, warm transfers, local AMD
    /// holding the opening at most 3.5 s, the default voicemail clip.
    fn default() -> Self {
        Self {
            name: "Ava".into(),
            system_prompt: "You are Ava, a friendly and concise outbound calling agent for voxdial. \
                 Speak naturally, one or two sentences at a time, and let the caller talk."
                .into(),
            principles: vec![
                "Say early that you are an AI assistant.".into(),
                "Never pressure the caller; accept a no at once.".into(),
                "If the caller asks not to be called again, call record_outcome with opted_out.".into(),
                "When the conversation has a result, call record_outcome.".into(),
            ],
            voice: "Kore".into(),
            language: "en-IN".into(),
            tools: ToolKind::ALL.to_vec(),
            ivr: IvrMenu::default(),
            inband_dtmf: false,
            hedge: HedgeConfig::default(),
            silence: SilenceConfig::default(),
            opening_instruction:
                "The call has been answered. Greet the caller by name, say who you are and why you are calling."
                    .into(),
            voicemail: VoicemailMessage::default(),
            transfer: TransferConfig::default(),
            amd: AmdOptions::default(),
            activity_detection: ActivityDetection::default(),
            session: SessionOptions::default(),
            max_call_ms: 10 * 60 * 1000,
        }
    }
}

impl AgentConfig {
    /// The full system instruction: prompt, principles, and the lead's
    /// details from `ctx`.
    pub fn system_instruction(&self, ctx: &CallContext) -> String {
        let mut s = self.system_prompt.clone();
        if !self.principles.is_empty() {
            s.push_str("\n\nPrinciples:");
            for p in &self.principles {
                s.push_str("\n- ");
                s.push_str(p);
            }
        }
        if let Some(name) = &ctx.lead_name {
            s.push_str("\n\nYou are calling ");
            s.push_str(name);
            s.push('.');
        }
        if !ctx.custom_fields.is_empty() {
            s.push_str("\nWhat we know about them:");
            for (k, v) in &ctx.custom_fields {
                s.push_str("\n- ");
                s.push_str(k);
                s.push_str(": ");
                s.push_str(v);
            }
        }
        if !self.ivr.options.is_empty() {
            s.push_str("\n\nThe caller may use the keypad:");
            for o in &self.ivr.options {
                if !o.label.is_empty() {
                    s.push_str("\n- ");
                    s.push_str(&o.label);
                }
            }
        }
        s
    }
}

/// What the host knows about a call when its media stream starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallContext {
    /// The campaign.
    pub campaign_id: CampaignId,
    /// The lead's name, if known.
    pub lead_name: Option<String>,
    /// The lead's custom fields (shown to the model).
    pub custom_fields: BTreeMap<String, String>,
    /// The AI agent.
    pub agent: AgentConfig,
    /// What to do on an answering machine.
    pub voicemail: VoicemailPolicy,
    /// Record both channels.
    pub record: bool,
    /// Play a recording / AI notice before the greeting (two-party-consent
    /// jurisdictions).
    pub consent_notice: bool,
    /// The provider's answering-machine verdict so far, if any.
    pub answered_by: Option<AnsweredBy>,
    /// Whether the provider's verdict is still to come (asynchronous
    /// detection asked of a provider that has it): the bridge then asks
    /// the host for it until it comes, since on AWS it reaches another
    /// process (the status-callback function).
    #[serde(default)]
    pub provider_verdict_due: bool,
}

impl CallContext {
    /// A context with the default agent and nothing known (tests, demos).
    pub fn with_agent(campaign_id: CampaignId, agent: AgentConfig) -> Self {
        Self {
            campaign_id,
            lead_name: None,
            custom_fields: BTreeMap::new(),
            agent,
            voicemail: VoicemailPolicy::LeaveMessage,
            record: false,
            consent_notice: false,
            answered_by: None,
            provider_verdict_due: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_agent_round_trips_and_partial_json_loads() {
        let a = AgentConfig::default();
        let json = serde_json::to_string(&a).unwrap();
        let back: AgentConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(a, back);
        let partial: AgentConfig =
            serde_json::from_str(r#"{"name":"Raj","hedge":{"threshold_ms":500}}"#).unwrap();
        assert_eq!(partial.name, "Raj");
        assert_eq!(partial.hedge.threshold_ms, 500);
        assert!(partial.hedge.enabled);
        assert_eq!(partial.ivr.action('9'), Some(&IvrAction::OptOut));
    }

    #[test]
    fn tool_names_round_trip() {
        for t in ToolKind::ALL {
            assert_eq!(ToolKind::from_function_name(t.function_name()), Some(t));
        }
    }
}
