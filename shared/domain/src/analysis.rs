//! Post-call analysis: the disposition, the campaign's structured fields,
//! sentiment per speaker, a summary and the conversation principles scored
//! pass or fail with the evidence line; and the analyser port.
//!
//! # Which disposition wins
//!
//! During the call the agent may already record a disposition (its
//! `record_outcome` tool, a transfer, a callback); the analysis reads the
//! whole transcript afterwards. [`final_disposition`] decides:
//!
//! 1. A call that reached an answering machine is `voicemail`.
//! 2. With no recorded disposition, the analysis decides.
//! 3. A recorded disposition stays authoritative unless the analysis is
//!    *strictly more informative*: only `opted_out` overrides it, because
//!    it is the one finding that carries a legal duty the recorded one
//!    would drop (the number must be suppressed); every other difference
//!    keeps the recorded disposition and is visible in the analysis record
//!    (`analysed_disposition`).
//! 4. Details the recording of the disposition lacked (the callback time)
//!    are taken from the analysis when the dispositions agree.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{CallAttempt, Campaign, Disposition, Timestamp, Transcript};

/// What a call came to, as the analysis sees it: the conversation's
/// dispositions plus what a call without a conversation ends as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisDisposition {
    /// Wants the offer or a follow-up.
    Interested,
    /// Declined.
    NotInterested,
    /// Asked to be called back (with a time when one was given).
    CallbackRequested,
    /// Handed over to a human agent.
    Transferred,
    /// The person is not the lead.
    WrongNumber,
    /// Asked not to be called again.
    OptedOut,
    /// An answering machine took the call.
    Voicemail,
    /// Nobody said anything the analysis could use (silence).
    NoConversation,
}

impl AnalysisDisposition {
    /// Every value, in display order.
    pub const ALL: [AnalysisDisposition; 8] = [
        AnalysisDisposition::Interested,
        AnalysisDisposition::NotInterested,
        AnalysisDisposition::CallbackRequested,
        AnalysisDisposition::Transferred,
        AnalysisDisposition::WrongNumber,
        AnalysisDisposition::OptedOut,
        AnalysisDisposition::Voicemail,
        AnalysisDisposition::NoConversation,
    ];

    /// The snake_case label.
    pub fn label(self) -> &'static str {
        match self {
            AnalysisDisposition::Interested => "interested",
            AnalysisDisposition::NotInterested => "not_interested",
            AnalysisDisposition::CallbackRequested => "callback_requested",
            AnalysisDisposition::Transferred => "transferred",
            AnalysisDisposition::WrongNumber => "wrong_number",
            AnalysisDisposition::OptedOut => "opted_out",
            AnalysisDisposition::Voicemail => "voicemail",
            AnalysisDisposition::NoConversation => "no_conversation",
        }
    }

    /// Parses a label.
    pub fn from_label(label: &str) -> Option<AnalysisDisposition> {
        Self::ALL.into_iter().find(|d| d.label() == label)
    }

    /// The conversation disposition it corresponds to, if any.
    pub fn disposition(self) -> Option<Disposition> {
        Some(match self {
            AnalysisDisposition::Interested => Disposition::Interested,
            AnalysisDisposition::NotInterested => Disposition::NotInterested,
            AnalysisDisposition::CallbackRequested => Disposition::CallbackRequested,
            AnalysisDisposition::Transferred => Disposition::Transferred,
            AnalysisDisposition::WrongNumber => Disposition::WrongNumber,
            AnalysisDisposition::OptedOut => Disposition::OptedOut,
            AnalysisDisposition::Voicemail | AnalysisDisposition::NoConversation => return None,
        })
    }
}

impl From<Disposition> for AnalysisDisposition {
    fn from(d: Disposition) -> Self {
        match d {
            Disposition::Interested => AnalysisDisposition::Interested,
            Disposition::NotInterested => AnalysisDisposition::NotInterested,
            Disposition::CallbackRequested => AnalysisDisposition::CallbackRequested,
            Disposition::Transferred => AnalysisDisposition::Transferred,
            Disposition::WrongNumber => AnalysisDisposition::WrongNumber,
            Disposition::OptedOut => AnalysisDisposition::OptedOut,
        }
    }
}

/// Sentiment on a scale from -1 (negative) to 1 (positive).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    /// The score.
    pub score: f64,
    /// `positive`, `neutral` or `negative`.
    pub label: SentimentLabel,
}

/// A sentiment's label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SentimentLabel {
    /// Above 0.2.
    Positive,
    /// Between -0.2 and 0.2.
    Neutral,
    /// Below -0.2.
    Negative,
}

impl Sentiment {
    /// A score (clamped to -1..=1) with its label.
    pub fn of(score: f64) -> Sentiment {
        let score = if score.is_finite() {
            score.clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let label = if score > 0.2 {
            SentimentLabel::Positive
        } else if score < -0.2 {
            SentimentLabel::Negative
        } else {
            SentimentLabel::Neutral
        };
        Sentiment { score, label }
    }
}

/// Sentiment per speaker and overall.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sentiments {
    /// The caller's.
    pub caller: Sentiment,
    /// The agent's.
    pub agent: Sentiment,
    /// The conversation's.
    pub overall: Sentiment,
}

/// How a principle was scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Kept.
    Pass,
    /// Broken.
    Fail,
    /// The conversation gave no occasion to keep or break it.
    NotApplicable,
}

/// One conversation principle, scored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipleScore {
    /// The principle as the campaign states it.
    pub principle: String,
    /// Kept or broken.
    pub verdict: Verdict,
    /// The transcript line that shows it (`agent: …`), when there is one.
    pub evidence: Option<String>,
}

/// The type of one structured field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum FieldKind {
    /// Free text.
    #[default]
    Text,
    /// A number (amounts: digits, `$`, `k`).
    Number,
    /// A date and time (RFC 3339 in the result).
    Datetime,
    /// Yes or no.
    Boolean,
    /// One of a list of values.
    Enum {
        /// The allowed values.
        values: Vec<String>,
    },
}

/// One structured field a campaign wants from each call (its `type` sits
/// beside its name: `{"name": "budget", "type": "number"}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// The field's name in the result (`appointment_time`).
    pub name: String,
    /// Its type.
    #[serde(flatten)]
    pub kind: FieldKind,
    /// What it means (given to a model; shown to people).
    #[serde(default)]
    pub description: String,
    /// Words that introduce the value in the conversation (the local
    /// analyser's cue; default: the name's words).
    #[serde(default)]
    pub keywords: Vec<String>,
}

impl FieldSpec {
    /// The cue words: the configured keywords, else the name's words.
    pub fn cues(&self) -> Vec<String> {
        if !self.keywords.is_empty() {
            return self.keywords.iter().map(|k| k.to_lowercase()).collect();
        }
        self.name
            .split(['_', '-', ' '])
            .filter(|w| w.len() > 2 && !matches!(*w, "time" | "date" | "the"))
            .map(str::to_lowercase)
            .collect()
    }
}

/// The default principles (the default agent's, in words a reviewer scores).
pub fn default_principles() -> Vec<String> {
    vec![
        "Say early that you are an AI assistant.".into(),
        "Never pressure the caller; accept a no at once.".into(),
        "If the caller asks not to be called again, record the opt-out.".into(),
        "When the conversation has a result, record it.".into(),
    ]
}

/// What a campaign asks of the analysis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalysisSettings {
    /// The conversation principles scored on every call.
    pub principles: Vec<String>,
    /// Structured fields to extract.
    pub fields: Vec<FieldSpec>,
    /// What the campaign is about, for a model's prompt (the fixed part,
    /// cached where the API allows).
    pub context: String,
    /// The conversation's language (BCP-47), for transcribers.
    pub language: Option<String>,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        AnalysisSettings {
            principles: default_principles(),
            fields: Vec::new(),
            context: String::new(),
            language: None,
        }
    }
}

impl AnalysisSettings {
    /// Checks field names and counts.
    pub fn validate(&self) -> Result<(), String> {
        if self.principles.len() > 50 || self.fields.len() > 50 {
            return Err("at most 50 principles and 50 fields".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for f in &self.fields {
            let ok = !f.name.is_empty()
                && f.name.len() <= 64
                && f.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Err(format!(
                    "field name {:?}: 1 to 64 of a-z 0-9 _",
                    f.name.chars().take(70).collect::<String>()
                ));
            }
            if !names.insert(f.name.clone()) {
                return Err(format!("field {} is defined twice", f.name));
            }
            if let FieldKind::Enum { values } = &f.kind
                && values.is_empty()
            {
                return Err(format!("field {}: an enum needs values", f.name));
            }
        }
        Ok(())
    }
}

/// A call's full analysis (stored as JSON; the call record keeps a digest).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The engine (`local`, `gemini`).
    pub engine: String,
    /// The disposition after [`final_disposition`].
    pub disposition: AnalysisDisposition,
    /// What the analysis alone found.
    pub analysed_disposition: AnalysisDisposition,
    /// The disposition the conversation recorded, if any.
    pub recorded_disposition: Option<Disposition>,
    /// The callback time the caller asked for.
    pub callback_at: Option<Timestamp>,
    /// The campaign's fields; `null` when not found.
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Sentiment.
    pub sentiment: Sentiments,
    /// A short summary.
    pub summary: String,
    /// The principles, scored.
    pub principles: Vec<PrincipleScore>,
}

/// What the analysis of one call reads.
#[derive(Clone, Debug)]
pub struct AnalysisRequest {
    /// The call (state, recorded disposition, transfer, callback, verdict).
    pub call: CallAttempt,
    /// Its campaign (principles, fields, context).
    pub campaign: Campaign,
    /// The transcript, when there is one.
    pub transcript: Option<Transcript>,
    /// The callee's time zone, to read times like "tomorrow at 3".
    pub time_zone: Option<chrono_tz::Tz>,
}

/// An analysis failed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyseError {
    /// Trying again later may work.
    #[error("analysis failed for now: {message}")]
    Transient {
        /// What failed.
        message: String,
        /// How long the service asked to wait, when it said.
        retry_after: Option<std::time::Duration>,
    },
    /// The request cannot succeed.
    #[error("analysis failed: {0}")]
    Permanent(String),
}

/// Analyses one call.
#[async_trait]
pub trait Analyser: Send + Sync {
    /// The engine's name.
    fn name(&self) -> &str;

    /// Analyses one call (one model request, or none for a local analyser).
    async fn analyse(&self, request: &AnalysisRequest) -> Result<Analysis, AnalyseError>;
}

/// The disposition of a call: see the module doc for the rule.
pub fn final_disposition(
    machine: bool,
    recorded: Option<Disposition>,
    analysed: AnalysisDisposition,
) -> AnalysisDisposition {
    if machine {
        return AnalysisDisposition::Voicemail;
    }
    match recorded {
        None => analysed,
        Some(_) if analysed == AnalysisDisposition::OptedOut => AnalysisDisposition::OptedOut,
        Some(recorded) => recorded.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AnalysisDisposition as A;

    #[test]
    fn recorded_dispositions_stay_unless_the_analysis_finds_an_opt_out() {
        assert_eq!(final_disposition(false, None, A::Interested), A::Interested);
        assert_eq!(
            final_disposition(false, Some(Disposition::Interested), A::NotInterested),
            A::Interested
        );
        assert_eq!(
            final_disposition(false, Some(Disposition::Interested), A::OptedOut),
            A::OptedOut
        );
        assert_eq!(
            final_disposition(true, Some(Disposition::Interested), A::Interested),
            A::Voicemail
        );
        assert_eq!(
            final_disposition(false, Some(Disposition::OptedOut), A::Interested),
            A::OptedOut
        );
    }

    #[test]
    fn labels_round_trip_and_sentiment_labels() {
        for d in A::ALL {
            assert_eq!(A::from_label(d.label()), Some(d));
        }
        assert_eq!(Sentiment::of(0.5).label, SentimentLabel::Positive);
        assert_eq!(Sentiment::of(-3.0).score, -1.0);
        assert_eq!(Sentiment::of(f64::NAN).label, SentimentLabel::Neutral);
    }

    #[test]
    fn field_specs_parse_flat_and_validate() {
        let s: AnalysisSettings = serde_json::from_str(
            r#"{"fields":[{"name":"budget","type":"number"},{"name":"plan","type":"enum","values":["basic","pro"]}]}"#,
        )
        .unwrap();
        assert_eq!(s.fields[0].kind, FieldKind::Number);
        assert!(s.validate().is_ok());
        assert_eq!(s.principles, default_principles());
        let bad: AnalysisSettings =
            serde_json::from_str(r#"{"fields":[{"name":"Bad Name","type":"text"}]}"#).unwrap();
        assert!(bad.validate().is_err());
        let spec: FieldSpec =
            serde_json::from_str(r#"{"name":"appointment_time","type":"datetime"}"#).unwrap();
        assert_eq!(spec.cues(), vec!["appointment"]);
    }

    #[test]
    fn each_analysis_disposition_maps_to_its_conversation_disposition() {
        for d in A::ALL {
            let mapped = d.disposition();
            match d {
                A::Voicemail | A::NoConversation => assert_eq!(mapped, None),
                _ => assert_eq!(mapped.map(|m| m.label()), Some(d.label()), "{d:?}"),
            }
        }
    }

    #[test]
    fn sentiment_labels_change_beyond_a_fifth_either_way() {
        let label = |score| Sentiment::of(score).label;
        assert_eq!(label(0.2), SentimentLabel::Neutral);
        assert_eq!(label(0.21), SentimentLabel::Positive);
        assert_eq!(label(-0.2), SentimentLabel::Neutral);
        assert_eq!(label(-0.21), SentimentLabel::Negative);
        assert_eq!(label(-0.7), SentimentLabel::Negative);
        assert_eq!(label(0.0), SentimentLabel::Neutral);
        assert_eq!(Sentiment::of(f64::NAN).score, 0.0);
        assert_eq!(Sentiment::of(-3.0).score, -1.0);
    }

    #[test]
    fn cue_words_are_the_name_s_words_of_three_letters_or_more() {
        let spec = FieldSpec {
            name: "call_on_day".into(),
            kind: FieldKind::Text,
            description: String::new(),
            keywords: Vec::new(),
        };
        assert_eq!(spec.cues(), vec!["call", "day"]);
    }

    #[test]
    fn the_default_principles_start_with_the_ai_disclosure() {
        let principles = default_principles();
        assert_eq!(principles.len(), 4);
        assert!(principles[0].contains("AI assistant"));
        assert_eq!(AnalysisSettings::default().principles, principles);
    }

    #[test]
    fn settings_allow_fifty_principles_and_fifty_fields() {
        let field = |i: usize| FieldSpec {
            name: format!("field_{i}"),
            kind: FieldKind::Text,
            description: String::new(),
            keywords: Vec::new(),
        };
        let settings = |principles: usize, fields: usize| AnalysisSettings {
            principles: vec!["Be kind.".into(); principles],
            fields: (0..fields).map(field).collect(),
            ..AnalysisSettings::default()
        };
        assert_eq!(settings(50, 50).validate(), Ok(()));
        assert!(settings(51, 0).validate().is_err());
        assert!(settings(0, 51).validate().is_err());
        assert!(settings(51, 51).validate().is_err());
    }
}
