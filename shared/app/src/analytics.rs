//! Analytics: counting calls into the aggregates as they end and as their
//! analyses land, and reading series of buckets back with the derived
//! figures (answer rate, average handle time, costs per call, minute and
//! qualified outcome, quality) as JSON or CSV.
//!
//! # When the aggregates change
//!
//! - [`Engine::count_call_end`] runs after the write that made a call
//!   terminal ([`Engine::finish`]), and again whenever a terminal event of
//!   an already ended call is delivered again: a lost aggregate write is
//!   repaired by the provider's retry, and the marker of
//!   [`AggregateStore::record_aggregate`](voxdial_domain::AggregateStore::record_aggregate)
//!   keeps every repeat from counting twice. A failure is logged, never
//!   fails the call's end (the slot, the retry and the refill matter more).
//! - [`Engine::count_analysis`] runs after the analysis is stored, and
//!   again when the `Process` job finds the analysis already done (a
//!   redelivered job); a failure fails the job, which is redelivered.
//!
//! # Reading
//!
//! [`Engine::analytics`] reads the buckets of one dimension and width over
//! a range: every bucket that overlaps `[from, to)`, zeros where nothing
//! was counted, and their totals. Ratios whose denominator is zero are 0.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tracing::warn;
use voxdial_domain::{
    AgentId, AggregateEvent, Analysis, Bucket, CallAttempt, Campaign, CampaignId, Dimension,
    Granularity, IdError, OrgId, PrincipleTally, ProviderId, StageStatus, Tally, Timestamp,
};

use crate::{AppError, Engine};

/// The longest range of hour buckets one query may ask for.
pub const MAX_HOUR_RANGE_DAYS: i64 = 366;
/// The longest range of day buckets one query may ask for.
pub const MAX_DAY_RANGE_DAYS: i64 = 3660;

/// What an analytics query asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalyticsQuery {
    /// The start of the range (the bucket holding it is the first).
    pub from: Timestamp,
    /// The end of the range (excluded).
    pub to: Timestamp,
    /// The bucket width.
    pub bucket: Granularity,
    /// Which calls.
    pub dimension: Dimension,
}

impl AnalyticsQuery {
    /// Checks the range: `from` before `to`, at most
    /// [`MAX_HOUR_RANGE_DAYS`] of hours or [`MAX_DAY_RANGE_DAYS`] of days.
    pub fn check(&self) -> Result<(), AppError> {
        if self.from >= self.to {
            return Err(AppError::Invalid(format!(
                "from ({}) must be before to ({})",
                self.from.to_rfc3339(),
                self.to.to_rfc3339()
            )));
        }
        let max = match self.bucket {
            Granularity::Hour => MAX_HOUR_RANGE_DAYS,
            Granularity::Day => MAX_DAY_RANGE_DAYS,
        };
        if self.to - self.from > chrono::Duration::days(max) {
            return Err(AppError::Invalid(format!(
                "a range of {} buckets spans at most {max} days",
                self.bucket.label()
            )));
        }
        Ok(())
    }
}

/// The query string of an analytics request, as given (empty values are
/// absent): `from` and `to` in RFC 3339 (default: the 7 days before now),
/// `bucket` `hour` or `day` (default `day`), and at most one of
/// `campaign_id`, `agent`, `provider` (default: every call).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AnalyticsParams {
    /// The range's start.
    pub from: Option<String>,
    /// The range's end.
    pub to: Option<String>,
    /// `hour` or `day`.
    pub bucket: Option<String>,
    /// One campaign's calls.
    pub campaign_id: Option<String>,
    /// One AI agent's calls.
    pub agent: Option<String>,
    /// One provider's calls.
    pub provider: Option<String>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn instant(name: &str, value: &str) -> Result<Timestamp, AppError> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| AppError::Invalid(format!("{name}: {value:?} is not an RFC 3339 time: {e}")))
}

fn id<T>(name: &str, value: &str, parse: fn(&str) -> Result<T, IdError>) -> Result<T, AppError> {
    parse(value).map_err(|e| AppError::Invalid(format!("{name}: {e}")))
}

impl AnalyticsParams {
    /// The checked query (see [`AnalyticsQuery::check`]); `now` ends the
    /// default range.
    pub fn query(&self, now: Timestamp) -> Result<AnalyticsQuery, AppError> {
        let to = given(&self.to).map_or(Ok(now), |v| instant("to", v))?;
        let from =
            given(&self.from).map_or(Ok(to - chrono::Duration::days(7)), |v| instant("from", v))?;
        let bucket = match given(&self.bucket) {
            None => Granularity::Day,
            Some(label) => Granularity::from_label(label).ok_or_else(|| {
                AppError::Invalid(format!("bucket: {label:?} is neither hour nor day"))
            })?,
        };
        let mut dimensions = Vec::new();
        if let Some(v) = given(&self.campaign_id) {
            dimensions.push(Dimension::Campaign(id("campaign_id", v, |v| {
                CampaignId::parse(v)
            })?));
        }
        if let Some(v) = given(&self.agent) {
            dimensions.push(Dimension::Agent(id("agent", v, |v| AgentId::parse(v))?));
        }
        if let Some(v) = given(&self.provider) {
            dimensions.push(Dimension::Provider(id("provider", v, |v| {
                ProviderId::parse(v)
            })?));
        }
        if dimensions.len() > 1 {
            return Err(AppError::Invalid(
                "filter by at most one of campaign_id, agent and provider".into(),
            ));
        }
        let query = AnalyticsQuery {
            from,
            to,
            bucket,
            dimension: dimensions.pop().unwrap_or(Dimension::All),
        };
        query.check()?;
        Ok(query)
    }
}

/// The figures of one bucket or of the totals.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Calls ended.
    pub calls: i64,
    /// Calls picked up (by a person or a machine).
    pub answered: i64,
    /// `answered / calls`.
    pub answer_rate: f64,
    /// Handle seconds (dial decision to end) per call.
    pub avg_handle_secs: f64,
    /// Talk seconds (the provider's duration).
    pub talk_secs: i64,
    /// Handle seconds.
    pub handle_secs: i64,
    /// Cost in millionths of a US dollar.
    pub cost_micros: i64,
    /// Cost per call.
    pub cost_per_call_micros: f64,
    /// Cost per minute of talk.
    pub cost_per_minute_micros: f64,
    /// Cost per qualified outcome (interested, callback requested, transferred).
    pub cost_per_qualified_micros: f64,
    /// Calls with a qualified outcome.
    pub qualified: i64,
    /// The mean quality score (0 to 100) of the scored calls.
    pub quality_avg: f64,
    /// Calls with a quality score.
    pub quality_count: i64,
    /// Calls by outcome label.
    pub outcomes: BTreeMap<String, i64>,
    /// Analysed calls by overall sentiment (always the three labels).
    pub sentiment: BTreeMap<String, i64>,
    /// Principles passed and applicable, by the campaign's wording.
    pub principles: BTreeMap<String, PrincipleTally>,
}

fn ratio(numerator: f64, denominator: i64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator / denominator as f64
    }
}

impl From<&Tally> for Figures {
    fn from(t: &Tally) -> Figures {
        let mut sentiment: BTreeMap<String, i64> = ["positive", "neutral", "negative"]
            .into_iter()
            .map(|label| (label.to_string(), 0))
            .collect();
        sentiment.extend(t.sentiment.clone());
        let cost = t.cost_micros as f64;
        let per_minute = if t.talk_secs == 0 {
            0.0
        } else {
            cost * 60.0 / t.talk_secs as f64
        };
        Figures {
            calls: t.calls,
            answered: t.answered,
            answer_rate: ratio(t.answered as f64, t.calls),
            avg_handle_secs: ratio(t.handle_secs as f64, t.calls),
            talk_secs: t.talk_secs,
            handle_secs: t.handle_secs,
            cost_micros: t.cost_micros,
            cost_per_call_micros: ratio(cost, t.calls),
            cost_per_minute_micros: per_minute,
            cost_per_qualified_micros: ratio(cost, t.qualified),
            qualified: t.qualified,
            quality_avg: ratio(t.quality_milli as f64 / 1000.0, t.quality_count),
            quality_count: t.quality_count,
            outcomes: t.outcomes.clone(),
            sentiment,
            principles: t.principles.clone(),
        }
    }
}

/// One bucket of a series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// The bucket's start.
    pub start: Timestamp,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// The answer of an analytics query.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnalyticsReport {
    /// The range's start, as asked.
    pub from: Timestamp,
    /// The range's end, as asked.
    pub to: Timestamp,
    /// The bucket width.
    pub bucket: Granularity,
    /// Every bucket overlapping the range, oldest first.
    pub series: Vec<Point>,
    /// The whole range.
    pub totals: Figures,
}

/// A cell a spreadsheet would not run as a formula: text starting with
/// `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`.
pub fn csv_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

impl AnalyticsReport {
    /// The report as CSV: a header, one row per bucket and a `total` row;
    /// a column per outcome (`outcome:<label>`) and two per principle
    /// (`<principle> (passed)`, `<principle> (total)`) seen in the range;
    /// every cell formula-safe ([`csv_cell`]).
    pub fn to_csv(&self) -> Result<String, AppError> {
        let outcomes: Vec<&String> = self.totals.outcomes.keys().collect();
        let principles: Vec<&String> = self.totals.principles.keys().collect();
        let mut header: Vec<String> = [
            "start",
            "calls",
            "answered",
            "answer_rate",
            "avg_handle_secs",
            "talk_secs",
            "handle_secs",
            "cost_micros",
            "cost_per_call_micros",
            "cost_per_minute_micros",
            "cost_per_qualified_micros",
            "qualified",
            "quality_avg",
            "sentiment_positive",
            "sentiment_neutral",
            "sentiment_negative",
        ]
        .map(String::from)
        .to_vec();
        header.extend(outcomes.iter().map(|o| format!("outcome:{o}")));
        for p in &principles {
            header.push(format!("{p} (passed)"));
            header.push(format!("{p} (total)"));
        }
        let row = |label: String, f: &Figures| -> Vec<String> {
            let mut cells = vec![
                label,
                f.calls.to_string(),
                f.answered.to_string(),
                f.answer_rate.to_string(),
                f.avg_handle_secs.to_string(),
                f.talk_secs.to_string(),
                f.handle_secs.to_string(),
                f.cost_micros.to_string(),
                f.cost_per_call_micros.to_string(),
                f.cost_per_minute_micros.to_string(),
                f.cost_per_qualified_micros.to_string(),
                f.qualified.to_string(),
                f.quality_avg.to_string(),
            ];
            for label in ["positive", "neutral", "negative"] {
                cells.push(f.sentiment.get(label).copied().unwrap_or(0).to_string());
            }
            cells.extend(
                outcomes
                    .iter()
                    .map(|o| f.outcomes.get(*o).copied().unwrap_or(0).to_string()),
            );
            for p in &principles {
                let tally = f.principles.get(*p).copied().unwrap_or_default();
                cells.push(tally.passed.to_string());
                cells.push(tally.total.to_string());
            }
            cells
        };
        let mut out = csv::Writer::from_writer(Vec::new());
        let mut write = |cells: Vec<String>| {
            out.write_record(cells.iter().map(|c| csv_cell(c)))
                .map_err(|e| AppError::Invalid(format!("cannot write CSV: {e}")))
        };
        write(header)?;
        for point in &self.series {
            write(row(
                point
                    .start
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                &point.figures,
            ))?;
        }
        write(row("total".into(), &self.totals))?;
        let bytes = out
            .into_inner()
            .map_err(|e| AppError::Invalid(format!("cannot write CSV: {e}")))?;
        String::from_utf8(bytes).map_err(|e| AppError::Invalid(format!("cannot write CSV: {e}")))
    }
}

/// Every bucket start of `width` from the one holding `from` up to `to`
/// (excluded), paired with its counters (zero where none were stored).
fn fill(buckets: Vec<Bucket>, width: Granularity, from: Timestamp, to: Timestamp) -> Vec<Bucket> {
    let mut stored = buckets.into_iter().peekable();
    let mut out = Vec::new();
    let mut start = width.start_of(from);
    while start < to {
        let tally = match stored.peek() {
            Some(b) if b.start == start => stored.next().map(|b| b.tally).unwrap_or_default(),
            _ => Tally::default(),
        };
        out.push(Bucket { start, tally });
        start = width.next(start);
    }
    out
}

impl Engine {
    /// Counts a terminal call's end (see the module doc); failures are logged.
    pub(crate) async fn count_call_end(&self, call: &CallAttempt, campaign: &Campaign) {
        let agent = Some(&campaign.settings.agent_id);
        let Some(event) = AggregateEvent::call_ended(&campaign.org_id, call, agent) else {
            return;
        };
        if let Err(error) = self.store.record_aggregate(&event).await {
            warn!(call_id = %call.id, %error, "the call's end was not counted in the aggregates");
        }
        self.count_model_usage(call, campaign).await;
    }

    /// Adds the price of the call's model tokens to its cost, once the call
    /// has ended and the bridge has reported (called after each; whichever
    /// write came last sees both, and the marker counts it once).
    pub(crate) async fn count_model_usage(&self, call: &CallAttempt, campaign: &Campaign) {
        let agent = Some(&campaign.settings.agent_id);
        let Some(event) = AggregateEvent::model_used(&campaign.org_id, call, agent) else {
            return;
        };
        if let Err(error) = self.store.record_aggregate(&event).await {
            warn!(call_id = %call.id, %error, "the model's cost was not counted in the aggregates");
        }
    }

    /// Counts the end of an already ended call again (a repeated terminal
    /// event): the marker makes it count at most once.
    pub(crate) async fn recount_call_end(&self, call: &CallAttempt) {
        match self.campaign(&call.campaign_id).await {
            Ok(campaign) => self.count_call_end(call, &campaign).await,
            Err(error) => warn!(call_id = %call.id, %error, "no campaign to count the call's end"),
        }
    }

    /// Counts a call's analysis (see the module doc).
    pub(crate) async fn count_analysis(
        &self,
        call: &CallAttempt,
        campaign: &Campaign,
        analysis: &Analysis,
    ) -> Result<(), AppError> {
        let agent = Some(&campaign.settings.agent_id);
        if let Some(event) = AggregateEvent::analysed(&campaign.org_id, call, agent, analysis) {
            self.store.record_aggregate(&event).await?;
        }
        Ok(())
    }

    /// Counts the stored analysis of a call whose analysis is done (a
    /// redelivered `Process` job repairs a count its first run missed).
    pub(crate) async fn count_stored_analysis(&self, call: &CallAttempt) -> Result<(), AppError> {
        let done = call
            .post_call
            .analysis
            .as_ref()
            .is_some_and(|a| a.status == StageStatus::Done && a.key.is_some());
        if !done {
            return Ok(());
        }
        let analysis = self.analysis(&call.id).await?;
        let campaign = self.campaign(&call.campaign_id).await?;
        self.count_analysis(call, &campaign, &analysis).await
    }

    /// A series of `org`'s aggregates (see the module doc); a campaign of
    /// another organisation is `NotFound`.
    pub async fn analytics(
        &self,
        org: &OrgId,
        query: &AnalyticsQuery,
    ) -> Result<AnalyticsReport, AppError> {
        query.check()?;
        if let Dimension::Campaign(id) = &query.dimension {
            self.campaign_in(org, id).await?;
        }
        let first = query.bucket.start_of(query.from);
        let stored = self
            .store
            .aggregate_buckets(org, &query.dimension, query.bucket, first, query.to)
            .await?;
        let buckets = fill(stored, query.bucket, query.from, query.to);
        let mut total = Tally::default();
        let series = buckets
            .iter()
            .map(|b| {
                total.add(&b.tally);
                Point {
                    start: b.start,
                    figures: Figures::from(&b.tally),
                }
            })
            .collect();
        Ok(AnalyticsReport {
            from: query.from,
            to: query.to,
            bucket: query.bucket,
            series,
            totals: Figures::from(&total),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn figures_derive_rates_and_costs_and_zero_denominators_give_zero() {
        let mut t = Tally {
            calls: 4,
            answered: 3,
            talk_secs: 120,
            handle_secs: 200,
            cost_micros: 80_000,
            qualified: 2,
            quality_milli: 150_000,
            quality_count: 2,
            ..Tally::default()
        };
        t.add_counter("sentiment:positive", 2);
        let f = Figures::from(&t);
        assert_eq!(f.answer_rate, 0.75);
        assert_eq!(f.avg_handle_secs, 50.0);
        assert_eq!(f.cost_per_call_micros, 20_000.0);
        assert_eq!(f.cost_per_minute_micros, 40_000.0);
        assert_eq!(f.cost_per_qualified_micros, 40_000.0);
        assert_eq!(f.quality_avg, 75.0);
        assert_eq!(f.sentiment["positive"], 2);
        assert_eq!(f.sentiment["negative"], 0);
        let zero = Figures::from(&Tally::default());
        assert_eq!(
            (
                zero.answer_rate,
                zero.cost_per_minute_micros,
                zero.quality_avg
            ),
            (0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn ranges_are_checked() {
        let q = |from: &str, to: &str, bucket| AnalyticsQuery {
            from: ts(from),
            to: ts(to),
            bucket,
            dimension: Dimension::All,
        };
        let h = Granularity::Hour;
        assert!(
            q("2026-01-01T00:00:00Z", "2027-01-02T00:00:00Z", h)
                .check()
                .is_ok()
        );
        assert!(
            q("2026-01-01T00:00:00Z", "2027-01-02T00:00:01Z", h)
                .check()
                .is_err()
        );
        assert!(
            q("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z", h)
                .check()
                .is_err()
        );
        assert!(
            q("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", h)
                .check()
                .is_err()
        );
        let d = Granularity::Day;
        assert!(
            q("2020-01-01T00:00:00Z", "2026-01-01T00:00:00Z", d)
                .check()
                .is_ok()
        );
    }

    #[test]
    fn params_default_parse_and_refuse_clearly() {
        let now = ts("2026-06-01T12:00:00Z");
        let p = |pairs: &[(&str, &str)]| -> Result<AnalyticsQuery, String> {
            let query = pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&");
            let params: AnalyticsParams = serde_json::from_value(serde_json::Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
                    .collect(),
            ))
            .map_err(|e| format!("{query}: {e}"))?;
            params.query(now).map_err(|e| e.to_string())
        };
        let q = p(&[("campaign_id", ""), ("provider", ""), ("agent", "")]).unwrap();
        assert_eq!(
            (q.from, q.to, q.bucket, q.dimension),
            (
                ts("2026-05-25T12:00:00Z"),
                now,
                Granularity::Day,
                Dimension::All
            )
        );
        let q = p(&[
            ("from", "2026-05-01T00:00:00+05:30"),
            ("to", "2026-05-02T00:00:00Z"),
            ("bucket", "hour"),
            ("provider", "twilio"),
        ])
        .unwrap();
        assert_eq!(q.from, ts("2026-04-30T18:30:00Z"));
        assert_eq!(
            q.dimension,
            Dimension::Provider(ProviderId::parse("twilio").unwrap())
        );
        for (pairs, why) in [
            (vec![("bucket", "week")], "neither hour nor day"),
            (vec![("from", "yesterday")], "not an RFC 3339"),
            (
                vec![
                    ("from", "2026-05-02T00:00:00Z"),
                    ("to", "2026-05-01T00:00:00Z"),
                ],
                "must be before",
            ),
            (
                vec![("from", "2024-01-01T00:00:00Z"), ("bucket", "hour")],
                "at most 366 days",
            ),
            (vec![("campaign_id", "a b")], "campaign_id"),
            (vec![("campaign_id", "c1"), ("agent", "a1")], "at most one"),
        ] {
            let error = p(&pairs).unwrap_err();
            assert!(error.contains(why), "{pairs:?}: {error}");
        }
    }

    #[test]
    fn series_are_filled_from_the_bucket_holding_from() {
        let stored = vec![Bucket {
            start: ts("2026-01-01T11:00:00Z"),
            tally: Tally {
                calls: 2,
                ..Tally::default()
            },
        }];
        let filled = fill(
            stored,
            Granularity::Hour,
            ts("2026-01-01T10:30:00Z"),
            ts("2026-01-01T12:00:00Z"),
        );
        let calls: Vec<(Timestamp, i64)> =
            filled.iter().map(|b| (b.start, b.tally.calls)).collect();
        assert_eq!(
            calls,
            [
                (ts("2026-01-01T10:00:00Z"), 0),
                (ts("2026-01-01T11:00:00Z"), 2)
            ]
        );
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        for bad in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(csv_cell(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(csv_cell("interested"), "interested");
        let mut t = Tally {
            calls: 1,
            ..Tally::default()
        };
        t.add_counter("total:=HYPERLINK(\"http://x\")", 1);
        t.add_counter("outcome:interested", 1);
        let report = AnalyticsReport {
            from: ts("2026-01-01T00:00:00Z"),
            to: ts("2026-01-02T00:00:00Z"),
            bucket: Granularity::Day,
            series: vec![Point {
                start: ts("2026-01-01T00:00:00Z"),
                figures: Figures::from(&t),
            }],
            totals: Figures::from(&t),
        };
        let csv = report.to_csv().unwrap();
        let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(csv.as_bytes())
            .records()
            .collect::<Result<_, _>>()
            .unwrap();
        let header = csv::Reader::from_reader(csv.as_bytes())
            .headers()
            .unwrap()
            .clone();
        assert!(
            header.iter().any(|h| h == "outcome:interested"),
            "{header:?}"
        );
        assert!(
            header
                .iter()
                .any(|h| h == "'=HYPERLINK(\"http://x\") (total)"),
            "{header:?}"
        );
        assert!(header.iter().all(|h| !h.starts_with('=')));
        assert_eq!(&rows[0][0], "2026-01-01T00:00:00Z");
        assert_eq!((&rows[1][0], &rows[1][1]), ("total", "1"));
    }
}
