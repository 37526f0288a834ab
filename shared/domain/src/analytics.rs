//! Analytics aggregates: counters per organisation, dimension and time
//! bucket, kept up to date as calls end and as their analyses land, so
//! that analytics over any period read a few buckets and never scan calls.
//!
//! # What is counted
//!
//! Three events per call change the aggregates, each counted once however
//! many times it is delivered ([`AggregateStore::record_aggregate`] keeps a
//! marker per (call, [`EventKind`]) written atomically with the counters):
//!
//! - **the call ended** ([`AggregateEvent::call_ended`]): one call, answered
//!   or not, its talk and handle seconds, its cost, its outcome label and
//!   whether that outcome is qualified ([`QUALIFIED`]);
//! - **its analysis landed** ([`AggregateEvent::analysed`]): the overall
//!   sentiment, the principles that applied (passed and total, by the
//!   campaign's wording), the [`quality_score`], and, for a call answered
//!   by a person, the outcome moved from the label the call ended with
//!   (`answered` when nothing was recorded) to the analysis's disposition
//!   when they differ, so that the outcome counts always add up to the
//!   calls;
//! - **the voice model's tokens are known** ([`AggregateEvent::model_used`]):
//!   their price is added to the call's cost, so every cost figure (per
//!   call, per minute, per qualified outcome) includes the model. It is
//!   counted once the call has ended and the bridge has reported, whichever
//!   comes last.
//!
//! Every event counts in the bucket of the call's end, in every
//! [`Dimension`] the call belongs to (the organisation's total, its
//! campaign, its AI agent, its provider), in hour and day buckets (UTC).
//!
//! # The quality score
//!
//! A call answered by a person and analysed gets a score from 0 to 100:
//! the weighted mean of the components below that the call has data for
//! (the weights of the missing ones are left out, and the rest scaled up):
//!
//! | component | weight | value from 0 to 1 |
//! |---|---|---|
//! | principles | 0.40 | passed ÷ (passed + failed); principles not applicable to the call are left out |
//! | sentiment | 0.20 | (overall sentiment + 1) ÷ 2 |
//! | outcome | 0.20 | 1 for interested, callback requested, transferred; 0.5 for not interested, wrong number; 0.25 for opted out; 0 for no conversation |
//! | silence | 0.10 | the mean time from the end of a caller's turn to the agent's first audio: 1 up to 1 s, 0 from 4 s, linear between (needs the media bridge's figures) |
//! | barge-ins | 0.10 | 1 − barge-ins ÷ 5, at least 0 (needs the media bridge's figures) |
//!
//! Voicemail is not scored (there was no conversation to judge).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{
    AgentId, Analysis, AnalysisDisposition, CallAttempt, CallId, CallOutcome, CampaignId, OrgId,
    ProviderId, SentimentLabel, StoreError, Timestamp, Verdict,
};

/// Outcome labels that count as qualified (the denominator of the cost
/// per qualified outcome).
pub const QUALIFIED: [&str; 3] = ["interested", "callback_requested", "transferred"];

/// The width of a time bucket. Buckets are aligned in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// One hour.
    Hour,
    /// One UTC day.
    Day,
}

impl Granularity {
    /// Both widths: every event updates one bucket of each.
    pub const ALL: [Granularity; 2] = [Granularity::Hour, Granularity::Day];

    /// `hour` or `day`.
    pub fn label(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        }
    }

    /// Parses [`Granularity::label`].
    pub fn from_label(label: &str) -> Option<Granularity> {
        Self::ALL.into_iter().find(|g| g.label() == label)
    }

    /// The bucket's length in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Granularity::Hour => 3_600,
            Granularity::Day => 86_400,
        }
    }

    /// The start of the bucket holding `at`.
    pub fn start_of(self, at: Timestamp) -> Timestamp {
        let secs = at.timestamp();
        let start = secs - secs.rem_euclid(self.seconds());
        chrono::DateTime::from_timestamp(start, 0).unwrap_or(at)
    }

    /// The start of the bucket after the one starting at `start`.
    pub fn next(self, start: Timestamp) -> Timestamp {
        start + chrono::Duration::seconds(self.seconds())
    }
}

/// Which of an organisation's calls a series counts.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    /// Every call of the organisation.
    All,
    /// The calls of one campaign.
    Campaign(CampaignId),
    /// The calls one AI agent held.
    Agent(AgentId),
    /// The calls one provider placed.
    Provider(ProviderId),
}

impl Dimension {
    /// A stable key for storage (`all`, `c#<campaign>`, `a#<agent>`,
    /// `p#<provider>`; ids never contain `#`).
    pub fn key(&self) -> String {
        match self {
            Dimension::All => "all".to_string(),
            Dimension::Campaign(id) => format!("c#{id}"),
            Dimension::Agent(id) => format!("a#{id}"),
            Dimension::Provider(id) => format!("p#{id}"),
        }
    }
}

/// What happened to a call that changes the aggregates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The call ended (its first terminal event).
    CallEnded,
    /// Its post-call analysis was stored.
    Analysed,
    /// Its voice model's tokens were priced.
    ModelUsed,
}

impl EventKind {
    /// `call_ended`, `analysed` or `model_used`.
    pub fn label(self) -> &'static str {
        match self {
            EventKind::CallEnded => "call_ended",
            EventKind::Analysed => "analysed",
            EventKind::ModelUsed => "model_used",
        }
    }
}

/// Principles kept and scored, for one principle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipleTally {
    /// Calls that kept it.
    pub passed: i64,
    /// Calls it applied to (kept or broken).
    pub total: i64,
}

/// The counters of one bucket, or the change one event makes to them
/// (an analysis moving an outcome makes one label's count negative).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Calls ended.
    pub calls: i64,
    /// Calls picked up (by a person or a machine).
    pub answered: i64,
    /// Talk seconds (the provider's duration).
    pub talk_secs: i64,
    /// Handle seconds: from the dial decision to the end (ringing
    /// included: the time the call held a slot).
    pub handle_secs: i64,
    /// Cost in millionths of a US dollar.
    pub cost_micros: i64,
    /// Calls whose outcome is in [`QUALIFIED`].
    pub qualified: i64,
    /// The sum of the quality scores, in thousandths of a point.
    pub quality_milli: i64,
    /// Calls with a quality score.
    pub quality_count: i64,
    /// Calls by outcome label.
    pub outcomes: BTreeMap<String, i64>,
    /// Analysed calls by overall sentiment (`positive`, `neutral`, `negative`).
    pub sentiment: BTreeMap<String, i64>,
    /// Principles by the campaign's wording.
    pub principles: BTreeMap<String, PrincipleTally>,
}

impl Tally {
    /// The scalar counters by storage name.
    fn scalars(&self) -> [(&'static str, i64); 8] {
        [
            ("calls", self.calls),
            ("answered", self.answered),
            ("talk_secs", self.talk_secs),
            ("handle_secs", self.handle_secs),
            ("cost_micros", self.cost_micros),
            ("qualified", self.qualified),
            ("quality_milli", self.quality_milli),
            ("quality_count", self.quality_count),
        ]
    }

    fn scalar(&mut self, name: &str) -> Option<&mut i64> {
        Some(match name {
            "calls" => &mut self.calls,
            "answered" => &mut self.answered,
            "talk_secs" => &mut self.talk_secs,
            "handle_secs" => &mut self.handle_secs,
            "cost_micros" => &mut self.cost_micros,
            "qualified" => &mut self.qualified,
            "quality_milli" => &mut self.quality_milli,
            "quality_count" => &mut self.quality_count,
            _ => return None,
        })
    }

    /// Adds one named counter (as [`Tally::counters`] names them); `false`
    /// when the name is not a counter.
    pub fn add_counter(&mut self, name: &str, by: i64) -> bool {
        if let Some(field) = self.scalar(name) {
            *field += by;
            return true;
        }
        let Some((kind, label)) = name.split_once(':') else {
            return false;
        };
        match kind {
            "outcome" => *self.outcomes.entry(label.to_string()).or_default() += by,
            "sentiment" => *self.sentiment.entry(label.to_string()).or_default() += by,
            "passed" => self.principles.entry(label.to_string()).or_default().passed += by,
            "total" => self.principles.entry(label.to_string()).or_default().total += by,
            _ => return false,
        }
        true
    }

    /// The non-zero counters by storage name: the scalars by field name,
    /// `outcome:<label>`, `sentiment:<label>`, `passed:<principle>` and
    /// `total:<principle>`. Adapters store these and add them up.
    pub fn counters(&self) -> Vec<(String, i64)> {
        let mut out: Vec<(String, i64)> = self
            .scalars()
            .iter()
            .map(|(name, value)| (name.to_string(), *value))
            .collect();
        out.extend(
            self.outcomes
                .iter()
                .map(|(k, v)| (format!("outcome:{k}"), *v)),
        );
        out.extend(
            self.sentiment
                .iter()
                .map(|(k, v)| (format!("sentiment:{k}"), *v)),
        );
        for (name, p) in &self.principles {
            out.push((format!("passed:{name}"), p.passed));
            out.push((format!("total:{name}"), p.total));
        }
        out.retain(|(_, v)| *v != 0);
        out
    }

    /// A tally from stored counters; `Corrupt` on a name that is not one.
    pub fn from_counters(
        counters: impl IntoIterator<Item = (String, i64)>,
    ) -> Result<Tally, StoreError> {
        let mut tally = Tally::default();
        for (name, value) in counters {
            if !tally.add_counter(&name, value) {
                return Err(StoreError::Corrupt(format!(
                    "aggregate counter {name:?} is not one"
                )));
            }
        }
        // Counts that came back to zero (an outcome an analysis moved away).
        tally.outcomes.retain(|_, n| *n != 0);
        tally.sentiment.retain(|_, n| *n != 0);
        tally
            .principles
            .retain(|_, p| *p != PrincipleTally::default());
        Ok(tally)
    }

    /// Adds another tally to this one.
    pub fn add(&mut self, other: &Tally) {
        for (name, value) in other.counters() {
            self.add_counter(&name, value);
        }
    }
}

/// One bucket of a series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// Its start.
    pub start: Timestamp,
    /// Its counters.
    pub tally: Tally,
}

/// One change to the aggregates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregateEvent {
    /// The organisation.
    pub org: OrgId,
    /// The call: with `kind`, the event's idempotency key.
    pub call_id: CallId,
    /// What happened.
    pub kind: EventKind,
    /// When the call ended: the buckets it counts in.
    pub at: Timestamp,
    /// The dimensions it counts in ([`Dimension::All`] among them).
    pub dimensions: Vec<Dimension>,
    /// The change.
    pub delta: Tally,
}

/// The dimensions of a call: all, its campaign, its agent, its provider.
fn dimensions(call: &CallAttempt, agent: Option<&AgentId>) -> Vec<Dimension> {
    let mut dims = vec![
        Dimension::All,
        Dimension::Campaign(call.campaign_id.clone()),
    ];
    dims.extend(agent.cloned().map(Dimension::Agent));
    dims.extend(call.provider.clone().map(Dimension::Provider));
    dims
}

fn qualified(label: &str) -> i64 {
    i64::from(QUALIFIED.contains(&label))
}

fn sentiment_label(label: SentimentLabel) -> &'static str {
    match label {
        SentimentLabel::Positive => "positive",
        SentimentLabel::Neutral => "neutral",
        SentimentLabel::Negative => "negative",
    }
}

impl AggregateEvent {
    /// The end of a terminal call of `org`, held by `agent`; `None` while
    /// the call is live.
    pub fn call_ended(
        org: &OrgId,
        call: &CallAttempt,
        agent: Option<&AgentId>,
    ) -> Option<AggregateEvent> {
        let label = call.outcome.as_ref()?.label();
        let at = call.ended_at?;
        let delta = Tally {
            calls: 1,
            answered: i64::from(call.answered_at.is_some()),
            talk_secs: i64::from(call.duration_secs.unwrap_or(0)),
            handle_secs: (at - call.created_at).num_seconds().max(0),
            cost_micros: call.cost.map_or(0, |c| c.0),
            qualified: qualified(label),
            outcomes: BTreeMap::from([(label.to_string(), 1)]),
            ..Tally::default()
        };
        Some(AggregateEvent {
            org: org.clone(),
            call_id: call.id.clone(),
            kind: EventKind::CallEnded,
            at,
            dimensions: dimensions(call, agent),
            delta,
        })
    }

    /// The price of the voice model's tokens on a terminal call of `org`,
    /// held by `agent`: `None` while the call is live or before the bridge
    /// reported its usage.
    pub fn model_used(
        org: &OrgId,
        call: &CallAttempt,
        agent: Option<&AgentId>,
    ) -> Option<AggregateEvent> {
        let at = call.ended_at?;
        let cost = call.conversation.as_ref()?.model_usage?.cost?;
        Some(AggregateEvent {
            org: org.clone(),
            call_id: call.id.clone(),
            kind: EventKind::ModelUsed,
            at,
            dimensions: dimensions(call, agent),
            delta: Tally {
                cost_micros: cost.0,
                ..Tally::default()
            },
        })
    }

    /// The analysis of a terminal call of `org`, held by `agent`; `None`
    /// while the call is live. See the module doc for what it counts.
    pub fn analysed(
        org: &OrgId,
        call: &CallAttempt,
        agent: Option<&AgentId>,
        analysis: &Analysis,
    ) -> Option<AggregateEvent> {
        let at = call.ended_at?;
        let mut delta = Tally {
            sentiment: BTreeMap::from([(
                sentiment_label(analysis.sentiment.overall.label).to_string(),
                1,
            )]),
            ..Tally::default()
        };
        for p in &analysis.principles {
            if p.verdict == Verdict::NotApplicable {
                continue;
            }
            let entry = delta.principles.entry(p.principle.clone()).or_default();
            entry.total += 1;
            entry.passed += i64::from(p.verdict == Verdict::Pass);
        }
        if let Some(score) = quality_score(call, analysis) {
            delta.quality_milli = (score * 1000.0).round() as i64;
            delta.quality_count = 1;
        }
        if let Some(outcome @ CallOutcome::Human { .. }) = &call.outcome {
            let (from, to) = (outcome.label(), analysis.disposition.label());
            if from != to {
                delta.add_counter(&format!("outcome:{from}"), -1);
                delta.add_counter(&format!("outcome:{to}"), 1);
                delta.qualified = qualified(to) - qualified(from);
            }
        }
        Some(AggregateEvent {
            org: org.clone(),
            call_id: call.id.clone(),
            kind: EventKind::Analysed,
            at,
            dimensions: dimensions(call, agent),
            delta,
        })
    }

    /// Every bucket the event changes: (dimension key, width, start), each
    /// once.
    pub fn buckets(&self) -> Vec<(String, Granularity, Timestamp)> {
        let mut keys: Vec<String> = self.dimensions.iter().map(Dimension::key).collect();
        if !keys.iter().any(|k| k == "all") {
            keys.push(Dimension::All.key());
        }
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .flat_map(|key| Granularity::ALL.map(|g| (key.clone(), g, g.start_of(self.at))))
            .collect()
    }
}

/// The quality score of an analysed call, 0 to 100; `None` for voicemail.
/// See the module doc for the formula.
pub fn quality_score(call: &CallAttempt, analysis: &Analysis) -> Option<f64> {
    let outcome = match analysis.disposition {
        AnalysisDisposition::Voicemail => return None,
        AnalysisDisposition::Interested
        | AnalysisDisposition::CallbackRequested
        | AnalysisDisposition::Transferred => 1.0,
        AnalysisDisposition::NotInterested | AnalysisDisposition::WrongNumber => 0.5,
        AnalysisDisposition::OptedOut => 0.25,
        AnalysisDisposition::NoConversation => 0.0,
    };
    let mut parts = vec![
        (
            0.2,
            (analysis.sentiment.overall.score.clamp(-1.0, 1.0) + 1.0) / 2.0,
        ),
        (0.2, outcome),
    ];
    let passed = analysis
        .principles
        .iter()
        .filter(|p| p.verdict == Verdict::Pass)
        .count();
    let scored = analysis
        .principles
        .iter()
        .filter(|p| p.verdict != Verdict::NotApplicable)
        .count();
    if scored > 0 {
        parts.push((0.4, passed as f64 / scored as f64));
    }
    if let Some(conversation) = &call.conversation {
        if !conversation.first_audio_ms.is_empty() {
            let mean = conversation
                .first_audio_ms
                .iter()
                .map(|&ms| f64::from(ms))
                .sum::<f64>()
                / conversation.first_audio_ms.len() as f64;
            parts.push((0.1, ((4000.0 - mean) / 3000.0).clamp(0.0, 1.0)));
        }
        parts.push((
            0.1,
            (1.0 - f64::from(conversation.barge_ins) / 5.0).max(0.0),
        ));
    }
    let weight: f64 = parts.iter().map(|(w, _)| w).sum();
    let sum: f64 = parts.iter().map(|(w, v)| w * v).sum();
    Some((100.0 * sum / weight).clamp(0.0, 100.0))
}

/// The aggregates: counters per organisation, dimension and bucket.
#[async_trait]
pub trait AggregateStore: Send + Sync {
    /// Adds the event's change to the hour and day buckets of each of its
    /// dimensions, atomically with a marker for (call, kind): true the
    /// first time, false (and no change) for every later delivery of the
    /// same (call, kind), also under concurrent deliveries.
    async fn record_aggregate(&self, event: &AggregateEvent) -> Result<bool, StoreError>;

    /// The buckets of `granularity` of one dimension of `org` whose start
    /// lies in `[from, to)`, oldest first; buckets nothing was counted in
    /// are left out.
    async fn aggregate_buckets(
        &self,
        org: &OrgId,
        dimension: &Dimension,
        granularity: Granularity,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Bucket>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Conversation, PrincipleScore, Sentiment, Sentiments};

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn analysis(disposition: AnalysisDisposition, score: f64, verdicts: &[Verdict]) -> Analysis {
        let s = Sentiment::of(score);
        Analysis {
            engine: "local".into(),
            disposition,
            analysed_disposition: disposition,
            recorded_disposition: None,
            callback_at: None,
            fields: Default::default(),
            sentiment: Sentiments {
                caller: s,
                agent: s,
                overall: s,
            },
            summary: String::new(),
            principles: verdicts
                .iter()
                .enumerate()
                .map(|(i, v)| PrincipleScore {
                    principle: format!("p{i}"),
                    verdict: *v,
                    evidence: None,
                })
                .collect(),
        }
    }

    fn call() -> CallAttempt {
        let compliance = crate::ComplianceRecord {
            rules: "test".into(),
            checked_at: at("2026-01-01T09:59:00Z"),
            attempt: 1,
            max_attempts: 3,
            region: None,
            window: String::new(),
            local_times: BTreeMap::new(),
            zone_source: String::new(),
            dnc_global_clear: true,
            dnc_campaign_clear: true,
            consent_required: false,
            consent: true,
            floor: String::new(),
        };
        let mut c = CallAttempt::new(
            CampaignId::parse("c1").unwrap(),
            crate::LeadId::parse("l1").unwrap(),
            1,
            crate::E164::parse("+12125550100", None).unwrap(),
            compliance,
            at("2026-01-01T09:59:00Z"),
        );
        c.provider = Some(ProviderId::parse("twilio").unwrap());
        c.state = crate::CallState::Completed;
        c.answered_at = Some(at("2026-01-01T09:59:20Z"));
        c.ended_at = Some(at("2026-01-01T10:01:00Z"));
        c.duration_secs = Some(100);
        c.cost = Some(crate::Money(20_000));
        c.outcome = Some(CallOutcome::Human { disposition: None });
        c
    }

    #[test]
    fn buckets_align_to_utc_hours_and_days() {
        let h = Granularity::Hour;
        assert_eq!(
            h.start_of(at("2026-01-01T10:00:00Z")),
            at("2026-01-01T10:00:00Z")
        );
        assert_eq!(
            h.start_of(at("2026-01-01T09:59:59.999Z")),
            at("2026-01-01T09:00:00Z")
        );
        assert_eq!(
            Granularity::Day.start_of(at("2026-01-01T23:59:59Z")),
            at("2026-01-01T00:00:00Z")
        );
        assert_eq!(
            Granularity::Day.start_of(at("1969-12-31T23:00:00Z")),
            at("1969-12-31T00:00:00Z")
        );
        assert_eq!(Granularity::from_label("day"), Some(Granularity::Day));
        assert_eq!(Granularity::from_label("week"), None);
    }

    #[test]
    fn counters_round_trip_and_names_with_colons_survive() {
        let mut t = Tally {
            calls: 2,
            cost_micros: 5,
            ..Tally::default()
        };
        t.add_counter("outcome:interested", 1);
        t.add_counter("passed:Say: I am an AI.", 1);
        t.add_counter("total:Say: I am an AI.", 2);
        let back = Tally::from_counters(t.counters()).unwrap();
        assert_eq!(back, t);
        assert!(Tally::from_counters([("bogus".to_string(), 1)]).is_err());
        let mut sum = t.clone();
        sum.add(&t);
        assert_eq!(sum.principles["Say: I am an AI."].total, 4);
    }

    #[test]
    fn a_call_end_counts_one_call_in_the_hour_it_ended() {
        let c = call();
        let org = OrgId::default();
        let agent = AgentId::parse("agent-1").unwrap();
        let e = AggregateEvent::call_ended(&org, &c, Some(&agent)).unwrap();
        assert_eq!(e.delta.calls, 1);
        assert_eq!(e.delta.answered, 1);
        assert_eq!(e.delta.talk_secs, 100);
        assert_eq!(e.delta.handle_secs, 120);
        assert_eq!(e.delta.cost_micros, 20_000);
        assert_eq!(e.delta.outcomes, BTreeMap::from([("answered".into(), 1)]));
        let buckets = e.buckets();
        assert_eq!(buckets.len(), 8, "4 dimensions × hour and day");
        assert!(buckets.contains(&(
            "a#agent-1".into(),
            Granularity::Hour,
            at("2026-01-01T10:00:00Z")
        )));
        assert!(buckets.contains(&(
            "p#twilio".into(),
            Granularity::Day,
            at("2026-01-01T00:00:00Z")
        )));
        let mut live = c.clone();
        live.outcome = None;
        assert!(AggregateEvent::call_ended(&org, &live, None).is_none());
    }

    #[test]
    fn an_analysis_moves_the_outcome_and_counts_principles_and_sentiment() {
        let c = call();
        let a = analysis(
            AnalysisDisposition::Interested,
            0.6,
            &[Verdict::Pass, Verdict::Fail, Verdict::NotApplicable],
        );
        let e = AggregateEvent::analysed(&OrgId::default(), &c, None, &a).unwrap();
        assert_eq!(e.delta.outcomes["answered"], -1);
        assert_eq!(e.delta.outcomes["interested"], 1);
        assert_eq!(e.delta.qualified, 1);
        assert_eq!(e.delta.calls, 0);
        assert_eq!(e.delta.sentiment["positive"], 1);
        assert_eq!(
            e.delta.principles["p0"],
            PrincipleTally {
                passed: 1,
                total: 1
            }
        );
        assert_eq!(
            e.delta.principles["p1"],
            PrincipleTally {
                passed: 0,
                total: 1
            }
        );
        assert!(!e.delta.principles.contains_key("p2"));
        assert_eq!(e.delta.quality_count, 1);
    }

    #[test]
    fn the_model_cost_counts_once_the_call_ended_and_its_usage_is_priced() {
        let mut c = call();
        c.ended_at = None;
        let usage = |cost| crate::ModelUsage {
            prompt_tokens: 10,
            reports: 1,
            cost,
            ..crate::ModelUsage::default()
        };
        c.conversation = Some(Conversation {
            model_usage: Some(usage(Some(crate::Money(7_225)))),
            ..Conversation::default()
        });
        let org = OrgId::default();
        assert_eq!(AggregateEvent::model_used(&org, &c, None), None, "live");
        c.ended_at = Some(at("2026-01-01T10:01:00Z"));
        let e = AggregateEvent::model_used(&org, &c, None).unwrap();
        assert_eq!(e.kind, EventKind::ModelUsed);
        assert_eq!(e.at, at("2026-01-01T10:01:00Z"));
        assert_eq!(e.delta.cost_micros, 7_225);
        assert_eq!(e.delta.calls, 0, "the call is counted by its end");
        c.conversation.as_mut().unwrap().model_usage = Some(usage(None));
        assert_eq!(
            AggregateEvent::model_used(&org, &c, None),
            None,
            "not priced"
        );
    }

    #[test]
    fn quality_follows_the_documented_formula() {
        let mut c = call();
        // Principles 1/2, sentiment 0.6 -> 0.8, outcome interested -> 1.
        let a = analysis(
            AnalysisDisposition::Interested,
            0.6,
            &[Verdict::Pass, Verdict::Fail],
        );
        let q = quality_score(&c, &a).unwrap();
        let expected = 100.0 * (0.4 * 0.5 + 0.2 * 0.8 + 0.2 * 1.0) / 0.8;
        assert!((q - expected).abs() < 1e-9, "{q} vs {expected}");
        // With the bridge's figures: 2.5 s mean silence -> 0.5, 1 barge-in -> 0.8.
        c.conversation = Some(Conversation {
            first_audio_ms: vec![2000, 3000],
            barge_ins: 1,
            ..Conversation::default()
        });
        let q = quality_score(&c, &a).unwrap();
        let expected = 100.0 * (0.4 * 0.5 + 0.2 * 0.8 + 0.2 * 1.0 + 0.1 * 0.5 + 0.1 * 0.8);
        assert!((q - expected).abs() < 1e-9, "{q} vs {expected}");
        let vm = analysis(AnalysisDisposition::Voicemail, 0.0, &[]);
        assert_eq!(quality_score(&c, &vm), None);
        let worst = analysis(AnalysisDisposition::NoConversation, -1.0, &[Verdict::Fail]);
        c.conversation = Some(Conversation {
            first_audio_ms: vec![9000],
            barge_ins: 9,
            ..Conversation::default()
        });
        assert_eq!(quality_score(&c, &worst), Some(0.0));
    }

    #[test]
    fn every_counter_round_trips_and_adds() {
        let mut t = Tally {
            calls: 1,
            answered: 2,
            talk_secs: 3,
            handle_secs: 4,
            cost_micros: 5,
            qualified: 6,
            quality_milli: 7,
            quality_count: 8,
            ..Tally::default()
        };
        for name in [
            "outcome:busy",
            "sentiment:neutral",
            "passed:Be kind.",
            "total:Be kind.",
        ] {
            assert!(t.add_counter(name, 3), "{name}");
        }
        assert!(!t.add_counter("colour:red", 1));
        assert_eq!(t.sentiment["neutral"], 3);
        assert_eq!(
            t.principles["Be kind."],
            PrincipleTally {
                passed: 3,
                total: 3
            }
        );
        let back = Tally::from_counters(t.counters()).unwrap();
        assert_eq!(back, t);
        let mut sum = t.clone();
        sum.add(&t);
        assert_eq!(
            sum.counters(),
            t.counters()
                .into_iter()
                .map(|(k, v)| (k, 2 * v))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn counts_that_come_back_to_zero_are_dropped() {
        let counters = [
            ("outcome:answered", 1),
            ("outcome:answered", -1),
            ("outcome:interested", 2),
        ]
        .map(|(k, v)| (k.to_string(), v));
        let t = Tally::from_counters(counters).unwrap();
        assert_eq!(t.outcomes, BTreeMap::from([("interested".into(), 2)]));
    }

    #[test]
    fn labels_and_the_next_bucket() {
        assert_eq!(EventKind::CallEnded.label(), "call_ended");
        assert_eq!(EventKind::Analysed.label(), "analysed");
        assert_eq!(EventKind::ModelUsed.label(), "model_used");
        let start = at("2026-01-01T10:00:00Z");
        assert_eq!(Granularity::Hour.next(start), at("2026-01-01T11:00:00Z"));
        assert_eq!(Granularity::Day.next(start), at("2026-01-02T10:00:00Z"));
    }

    #[test]
    fn a_qualified_end_counts_and_an_analysis_can_take_it_back() {
        let mut c = call();
        c.outcome = Some(CallOutcome::Human {
            disposition: Some(crate::Disposition::Interested),
        });
        let org = OrgId::default();
        assert_eq!(
            AggregateEvent::call_ended(&org, &c, None)
                .unwrap()
                .delta
                .qualified,
            1
        );
        let a = analysis(AnalysisDisposition::NotInterested, -0.5, &[Verdict::Pass]);
        let e = AggregateEvent::analysed(&org, &c, None, &a).unwrap();
        assert_eq!(e.delta.qualified, -1);
        assert_eq!(e.delta.outcomes["interested"], -1);
        let q = quality_score(&c, &a).unwrap();
        assert_eq!(e.delta.quality_milli, (q * 1000.0).round() as i64);
        assert!(e.delta.quality_milli > 1000, "{q}");
    }

    #[test]
    fn the_all_dimension_is_always_counted_once() {
        let c = call();
        let mut e = AggregateEvent::call_ended(&OrgId::default(), &c, None).unwrap();
        e.dimensions = vec![Dimension::Campaign(c.campaign_id.clone())];
        let keys: Vec<String> = e.buckets().into_iter().map(|(k, _, _)| k).collect();
        assert_eq!(keys, ["all", "all", "c#c1", "c#c1"]);
        e.dimensions.push(Dimension::All);
        assert_eq!(e.buckets().len(), 4);
    }

    #[test]
    fn quality_without_scored_principles_weighs_sentiment_and_outcome() {
        let a = analysis(
            AnalysisDisposition::NotInterested,
            0.0,
            &[Verdict::NotApplicable],
        );
        let q = quality_score(&call(), &a).unwrap();
        assert!(
            (q - 100.0 * (0.2 * 0.5 + 0.2 * 0.5) / 0.4).abs() < 1e-9,
            "{q}"
        );
    }
}
