//! A campaign, its policies and its lifecycle:
//! `Draft → Running ⇄ Paused → Completed | Canceled`.
//!
//! Pausing stops new dispatches; calls already live finish normally and their
//! leads return to pending if they need a retry. Cancelling stops new
//! dispatches and finalises every lead not yet dialled. Changing
//! `max_concurrency` takes effect at the next slot claim; lowering it never
//! interrupts a live call, the campaign simply claims no new slot until it is
//! under the new cap.

use serde::{Deserialize, Serialize};

use crate::{AgentId, CallingHours, CampaignId, E164, OrgId, RetryPolicy, Timestamp};

/// The default number of calls in flight per campaign.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 5;
/// The largest `max_concurrency` accepted.
pub const MAX_CONCURRENCY_LIMIT: u32 = 1_000;

/// A campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    /// The campaign's id.
    pub id: CampaignId,
    /// The organisation it belongs to, and with it its leads, calls,
    /// recordings and analyses (records from before organisations belong
    /// to the default one).
    #[serde(default)]
    pub org_id: OrgId,
    /// Where it is in its lifecycle.
    pub status: CampaignStatus,
    /// Its settings.
    pub settings: CampaignSettings,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was first started.
    pub started_at: Option<Timestamp>,
    /// When it completed or was canceled.
    pub finished_at: Option<Timestamp>,
    /// The admin waiver of the legal floor's consent rule, when one was
    /// given: who, when and why (the audit entry). Without it the floor's
    /// consent rule holds whatever `settings.require_consent` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_waiver: Option<ConsentWaiver>,
    /// The version of `settings.agent_id` its calls use: pinned when the
    /// campaign starts (or when an operator moves it to an agent version),
    /// so later versions of the agent leave a running campaign alone.
    /// `None` for the built-in agent and before the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<u32>,
    /// Optimistic-concurrency version, bumped by every write.
    pub version: u64,
}

/// An admin's waiver of the consent rule for one campaign: the audit entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentWaiver {
    /// Who waived it (the admin's name or key id).
    pub by: String,
    /// Why (e.g. the legal basis: existing customers, a non-marketing call).
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

/// The lifecycle state of a campaign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Created; leads may be imported; nothing is dialled.
    Draft,
    /// Dialling.
    Running,
    /// No new dials; live calls finish.
    Paused,
    /// Every lead is final.
    Completed,
    /// Stopped for good by an operator.
    Canceled,
}

impl CampaignStatus {
    /// The snake_case label.
    pub fn label(self) -> &'static str {
        match self {
            CampaignStatus::Draft => "draft",
            CampaignStatus::Running => "running",
            CampaignStatus::Paused => "paused",
            CampaignStatus::Completed => "completed",
            CampaignStatus::Canceled => "canceled",
        }
    }

    /// Whether the campaign can never run again.
    pub fn is_finished(self) -> bool {
        matches!(self, CampaignStatus::Completed | CampaignStatus::Canceled)
    }
}

/// An operator action on a campaign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignAction {
    /// Draft → Running.
    Start,
    /// Running → Paused.
    Pause,
    /// Paused → Running.
    Resume,
    /// Any unfinished state → Canceled.
    Cancel,
}

/// A lifecycle action is not allowed in the campaign's current state, or a
/// setting is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CampaignError {
    /// The action does not apply in this state.
    #[error("cannot {action:?} a campaign that is {from:?}")]
    InvalidTransition {
        /// The current state.
        from: CampaignStatus,
        /// The refused action.
        action: CampaignAction,
    },
    /// A setting is invalid.
    #[error("invalid campaign setting `{field}`: {reason}")]
    InvalidSetting {
        /// The setting's name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Everything an operator chooses for a campaign. Every field has a default,
/// so `{}` is a valid campaign definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CampaignSettings {
    /// A human name for the campaign.
    pub name: String,
    /// The AI agent that holds the conversations.
    pub agent_id: AgentId,
    /// At most this many calls in flight at once (default 5).
    pub max_concurrency: u32,
    /// Calling hours per country, checked in the callee's local time.
    pub calling_hours: CallingHours,
    /// Retries after busy, no answer and failures.
    pub retry: RetryPolicy,
    /// Require the lead's consent flag before dialling (default true: an AI
    /// voice call needs prior express consent in most jurisdictions).
    pub require_consent: bool,
    /// What to do when an answering machine picks up.
    pub voicemail: VoicemailPolicy,
    /// What to record.
    pub recording: RecordingPolicy,
    /// How to choose the telephony provider.
    pub provider_strategy: ProviderStrategy,
    /// The caller ID to present, when the provider's number pool does not choose one.
    pub caller_id: Option<E164>,
    /// Answering-machine detection.
    pub amd: AmdMode,
    /// Seconds to let the phone ring (default 30).
    pub ring_timeout_secs: u32,
    /// Longest call in seconds (default 600).
    pub max_call_secs: u32,
    /// The `selective` recording policy's rules (which calls' recordings
    /// are kept after analysis).
    pub selective: crate::SelectiveRecording,
    /// What the post-call analysis extracts and scores.
    pub analysis: crate::AnalysisSettings,
    /// Where each call's analysis is POSTed (signed), when set.
    pub webhook: Option<crate::OutboundWebhook>,
    /// Days a call's recording, transcripts and analysis are kept; the
    /// engine's default when unset.
    pub retention_days: Option<u32>,
    /// Number types this campaign may dial beyond the standard-rate ones
    /// ([`crate::NumberType::CALLABLE`]), e.g. `["premium_rate"]`; leads of
    /// any other type are refused at import.
    pub allow_number_types: Vec<crate::NumberType>,
}

impl Default for CampaignSettings {
    fn default() -> Self {
        Self {
            name: "campaign".into(),
            agent_id: AgentId::parse("default").expect("static id"),
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            calling_hours: CallingHours::default(),
            retry: RetryPolicy::default(),
            require_consent: true,
            voicemail: VoicemailPolicy::default(),
            recording: RecordingPolicy::default(),
            provider_strategy: ProviderStrategy::default(),
            caller_id: None,
            amd: AmdMode::default(),
            ring_timeout_secs: 30,
            max_call_secs: 600,
            selective: crate::SelectiveRecording::default(),
            analysis: crate::AnalysisSettings::default(),
            webhook: None,
            retention_days: None,
            allow_number_types: Vec::new(),
        }
    }
}

impl CampaignSettings {
    /// Checks every setting and says which one is wrong.
    pub fn validate(&self) -> Result<(), CampaignError> {
        let invalid = |field, reason: &str| {
            Err(CampaignError::InvalidSetting {
                field,
                reason: reason.into(),
            })
        };
        if self.name.trim().is_empty() || self.name.len() > 200 {
            return invalid("name", "must be 1 to 200 characters");
        }
        validate_max_concurrency(self.max_concurrency)?;
        if !(5..=600).contains(&self.ring_timeout_secs) {
            return invalid("ring_timeout_secs", "must be between 5 and 600");
        }
        if !(10..=14_400).contains(&self.max_call_secs) {
            return invalid("max_call_secs", "must be between 10 and 14400");
        }
        self.calling_hours
            .validate()
            .map_err(|reason| CampaignError::InvalidSetting {
                field: "calling_hours",
                reason,
            })?;
        self.retry
            .validate()
            .map_err(|reason| CampaignError::InvalidSetting {
                field: "retry",
                reason,
            })?;
        self.analysis
            .validate()
            .map_err(|reason| CampaignError::InvalidSetting {
                field: "analysis",
                reason,
            })?;
        if let Some(webhook) = &self.webhook {
            webhook
                .validate()
                .map_err(|reason| CampaignError::InvalidSetting {
                    field: "webhook",
                    reason,
                })?;
        }
        if self
            .retention_days
            .is_some_and(|d| !(1..=3650).contains(&d))
        {
            return invalid("retention_days", "must be between 1 and 3650");
        }
        Ok(())
    }

    /// The settings as the API shows them: secrets left out.
    pub fn redacted(&self) -> CampaignSettings {
        CampaignSettings {
            webhook: self.webhook.as_ref().map(crate::OutboundWebhook::redacted),
            ..self.clone()
        }
    }
}

fn validate_max_concurrency(n: u32) -> Result<(), CampaignError> {
    if n == 0 || n > MAX_CONCURRENCY_LIMIT {
        return Err(CampaignError::InvalidSetting {
            field: "max_concurrency",
            reason: format!("must be between 1 and {MAX_CONCURRENCY_LIMIT}"),
        });
    }
    Ok(())
}

/// What to do when an answering machine answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum VoicemailPolicy {
    /// Wait for the beep, play the message, hang up.
    #[default]
    LeaveMessage,
    /// Hang up at once.
    HangUp,
}

/// What to record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingPolicy {
    /// Record every answered call, both channels.
    All,
    /// Record only calls for which recording is switched on through the API.
    OnDemand,
    /// Record, then keep only what the campaign's rules select.
    Selective,
    /// Never record.
    #[default]
    Off,
}

impl RecordingPolicy {
    /// Whether every answered call is recorded from its start (`all`, and
    /// `selective`, which decides what to keep after the analysis).
    pub fn records_every_call(&self) -> bool {
        matches!(self, RecordingPolicy::All | RecordingPolicy::Selective)
    }
}

impl Campaign {
    /// The campaign as the API shows it: secrets left out.
    pub fn redacted(&self) -> Campaign {
        Campaign {
            settings: self.settings.redacted(),
            ..self.clone()
        }
    }
}

/// How to choose the telephony provider for a call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum ProviderStrategy {
    /// The cheapest rate for the destination.
    Cost,
    /// The best estimated success rate for the destination.
    Quality,
    /// A weighted mix of cost and quality (the default).
    #[default]
    Hybrid,
    /// The provider named by the AI agent's configuration.
    AgentAssigned,
}

/// Answering-machine detection mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmdMode {
    /// No detection: every answer is treated as a person.
    Off,
    /// The provider detects before connecting the call (adds answer latency).
    Sync,
    /// The call connects at once and the verdict arrives in a callback (default).
    #[default]
    Async,
}

impl Campaign {
    /// A new draft campaign.
    pub fn new(
        id: CampaignId,
        settings: CampaignSettings,
        now: Timestamp,
    ) -> Result<Campaign, CampaignError> {
        settings.validate()?;
        if !settings.require_consent {
            return Err(CampaignError::InvalidSetting {
                field: "require_consent",
                reason: "the legal floor requires the callee's consent (TCPA 47 USC 227(b)(1) \
                         for AI-voice calls, and every rule of voxdial_domain::floor); only an \
                         audited admin waiver turns it off for a campaign"
                    .into(),
            });
        }
        Ok(Campaign {
            id,
            org_id: OrgId::default(),
            status: CampaignStatus::Draft,
            settings,
            created_at: now,
            started_at: None,
            finished_at: None,
            consent_waiver: None,
            agent_version: None,
            version: 0,
        })
    }

    /// Waives the floor's consent rule for this campaign: an admin's
    /// decision, kept on the campaign as its audit entry (who, why, when).
    pub fn waive_consent(&mut self, waiver: ConsentWaiver) -> Result<(), CampaignError> {
        let blank = |field, what: &str| CampaignError::InvalidSetting {
            field,
            reason: format!("a consent waiver needs {what}"),
        };
        if waiver.by.trim().is_empty() {
            return Err(blank("consent_waiver.by", "the admin who gives it"));
        }
        if waiver.reason.trim().is_empty() {
            return Err(blank("consent_waiver.reason", "its legal basis"));
        }
        self.settings.require_consent = false;
        self.consent_waiver = Some(waiver);
        Ok(())
    }

    /// Applies an operator action.
    pub fn apply(&mut self, action: CampaignAction, now: Timestamp) -> Result<(), CampaignError> {
        use CampaignStatus::*;
        let next = match (self.status, action) {
            (Draft, CampaignAction::Start) => Running,
            (Running, CampaignAction::Pause) => Paused,
            (Paused, CampaignAction::Resume) => Running,
            (Draft | Running | Paused, CampaignAction::Cancel) => Canceled,
            (from, action) => return Err(CampaignError::InvalidTransition { from, action }),
        };
        if next == Running && self.started_at.is_none() {
            self.started_at = Some(now);
        }
        if next == Canceled {
            self.finished_at = Some(now);
        }
        self.status = next;
        Ok(())
    }

    /// Marks the campaign completed once every lead is final. Returns false
    /// (and changes nothing) when it is not running or paused.
    pub fn complete(&mut self, now: Timestamp) -> bool {
        if matches!(
            self.status,
            CampaignStatus::Running | CampaignStatus::Paused
        ) {
            self.status = CampaignStatus::Completed;
            self.finished_at = Some(now);
            true
        } else {
            false
        }
    }

    /// Changes the concurrency cap of a campaign that is not finished.
    pub fn set_max_concurrency(&mut self, max: u32) -> Result<(), CampaignError> {
        validate_max_concurrency(max)?;
        if self.status.is_finished() {
            return Err(CampaignError::InvalidSetting {
                field: "max_concurrency",
                reason: format!("the campaign is {}", self.status.label()),
            });
        }
        self.settings.max_concurrency = max;
        Ok(())
    }

    /// Whether new calls may be dispatched.
    pub fn is_dialling(&self) -> bool {
        self.status == CampaignStatus::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 1, 5, 15, 0, 0).unwrap()
    }

    fn campaign() -> Campaign {
        Campaign::new(
            CampaignId::parse("c1").unwrap(),
            CampaignSettings::default(),
            now(),
        )
        .unwrap()
    }

    #[test]
    fn a_campaign_stored_before_organisations_belongs_to_the_default_one() {
        let mut stored = serde_json::to_value(campaign()).unwrap();
        stored.as_object_mut().unwrap().remove("org_id");
        let read: Campaign = serde_json::from_value(stored).unwrap();
        assert_eq!(read.org_id.as_str(), OrgId::DEFAULT);
    }

    #[test]
    fn lifecycle_allows_only_the_documented_transitions() {
        let mut c = campaign();
        assert!(c.apply(CampaignAction::Pause, now()).is_err());
        assert!(c.apply(CampaignAction::Resume, now()).is_err());
        c.apply(CampaignAction::Start, now()).unwrap();
        assert_eq!(c.status, CampaignStatus::Running);
        assert!(c.apply(CampaignAction::Start, now()).is_err());
        c.apply(CampaignAction::Pause, now()).unwrap();
        c.apply(CampaignAction::Resume, now()).unwrap();
        assert!(c.complete(now()));
        assert_eq!(c.status, CampaignStatus::Completed);
        assert!(c.apply(CampaignAction::Cancel, now()).is_err());
        assert!(!c.complete(now()));
    }

    #[test]
    fn cancel_is_final() {
        let mut c = campaign();
        c.apply(CampaignAction::Start, now()).unwrap();
        c.apply(CampaignAction::Cancel, now()).unwrap();
        assert_eq!(c.finished_at, Some(now()));
        assert!(c.apply(CampaignAction::Resume, now()).is_err());
        assert!(c.set_max_concurrency(3).is_err());
    }

    #[test]
    fn max_concurrency_is_bounded_and_changeable_while_running() {
        let mut c = campaign();
        c.apply(CampaignAction::Start, now()).unwrap();
        c.set_max_concurrency(12).unwrap();
        assert_eq!(c.settings.max_concurrency, 12);
        assert!(c.set_max_concurrency(0).is_err());
        assert!(c.set_max_concurrency(MAX_CONCURRENCY_LIMIT + 1).is_err());
    }

    #[test]
    fn settings_default_from_empty_json_and_reject_unknown_fields() {
        let s: CampaignSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(s.max_concurrency, 5);
        assert!(s.require_consent);
        assert!(serde_json::from_str::<CampaignSettings>(r#"{"max_concurency": 3}"#).is_err());
        let bad = CampaignSettings {
            ring_timeout_secs: 1,
            ..Default::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(CampaignError::InvalidSetting {
                field: "ring_timeout_secs",
                ..
            })
        ));
    }

    #[test]
    fn status_labels_and_dialling() {
        use CampaignStatus::*;
        let labels = [Draft, Running, Paused, Completed, Canceled].map(CampaignStatus::label);
        assert_eq!(
            labels,
            ["draft", "running", "paused", "completed", "canceled"]
        );
        let mut c = campaign();
        assert!(!c.is_dialling());
        c.apply(CampaignAction::Start, now()).unwrap();
        assert!(c.is_dialling());
        c.apply(CampaignAction::Pause, now()).unwrap();
        assert!(!c.is_dialling());
    }

    #[test]
    fn start_sets_started_at_once_and_only_cancel_sets_finished_at() {
        let later = now() + chrono::Duration::hours(1);
        let mut c = campaign();
        c.apply(CampaignAction::Start, now()).unwrap();
        assert_eq!(c.started_at, Some(now()));
        c.apply(CampaignAction::Pause, later).unwrap();
        c.apply(CampaignAction::Resume, later).unwrap();
        assert_eq!(c.started_at, Some(now()), "a resume is not a start");
        assert_eq!(c.finished_at, None);
        let mut draft = campaign();
        draft.apply(CampaignAction::Cancel, later).unwrap();
        assert_eq!((draft.started_at, draft.finished_at), (None, Some(later)));
    }

    #[test]
    fn settings_bounds_are_inclusive() {
        let valid = |s: &CampaignSettings| s.validate().is_ok();
        let with = |f: &dyn Fn(&mut CampaignSettings)| {
            let mut s = CampaignSettings::default();
            f(&mut s);
            s
        };
        assert!(valid(&with(&|s| s.name = "n".repeat(200))));
        assert!(!valid(&with(&|s| s.name = "n".repeat(201))));
        assert!(!valid(&with(&|s| s.name = "   ".into())));
        assert!(valid(&with(&|s| s.max_concurrency = MAX_CONCURRENCY_LIMIT)));
        assert!(valid(&with(&|s| s.retention_days = Some(30))));
        assert!(!valid(&with(&|s| s.retention_days = Some(0))));
        assert!(!valid(&with(&|s| s.retention_days = Some(3651))));
    }

    #[test]
    fn the_shown_campaign_keeps_its_settings_but_not_the_webhook_secret() {
        let mut c = campaign();
        c.settings.name = "spring".into();
        c.settings.webhook = Some(crate::OutboundWebhook {
            url: "https://example.com/hook".into(),
            secret: Some("s".repeat(16)),
        });
        let shown = c.redacted();
        assert_eq!(shown.settings.name, "spring");
        let webhook = shown.settings.webhook.expect("the URL is shown");
        assert_eq!(
            (webhook.url.as_str(), webhook.secret),
            ("https://example.com/hook", None)
        );
    }

    #[test]
    fn all_and_selective_record_every_call() {
        use RecordingPolicy::*;
        let every = [All, OnDemand, Selective, Off].map(|p| p.records_every_call());
        assert_eq!(every, [true, false, true, false]);
    }
}
