//! The routing configuration: what a host writes in TOML, and its
//! validation into the compiled form the engine uses.
//!
//! Every setting has a default except the providers themselves, their rates
//! and their DID pools. See [`crate::EXAMPLE_CONFIG`] for a commented file.

use std::collections::HashMap;
use std::fmt;

use chrono::Duration;
use serde::{Deserialize, Serialize};
use voxdial_domain::{E164, Money, ProviderId};

use crate::breaker::BreakerParams;
use crate::dids::{Did, Pool};
use crate::error::RoutingError;
use crate::estimate::Prior;
use crate::pacer;
use crate::rates::{Increments, MAX_DIGITS, Rate, RateTable};

/// The whole routing configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// The most providers a plan offers, primary included (default 3).
    #[serde(default = "default_chain_len")]
    pub max_chain_len: usize,
    /// Provider order for `agent_assigned` fallback and for ties under the
    /// other strategies. Providers left out follow in declaration order.
    #[serde(default)]
    pub priority: Vec<ProviderId>,
    /// The `hybrid` strategy's weights.
    #[serde(default)]
    pub hybrid: HybridWeights,
    /// The success estimator's prior and decay.
    #[serde(default)]
    pub estimates: EstimatorConfig,
    /// The provider accounts.
    pub providers: Vec<ProviderConfig>,
}

fn default_chain_len() -> usize {
    3
}

/// Weights of the `hybrid` strategy. A provider's score is
/// `(quality * success + cost * cheapest / expected_cost) / (quality + cost)`:
/// both terms lie in 0..=1, the cheapest candidate's cost term being 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HybridWeights {
    /// Weight of the cost term (default 0.4).
    pub cost: f64,
    /// Weight of the success-rate term (default 0.6).
    pub quality: f64,
    /// The answered-call length at which costs are compared, so that billing
    /// increments and setup fees count (default 60 seconds).
    pub expected_call_secs: u32,
}

impl Default for HybridWeights {
    fn default() -> Self {
        HybridWeights {
            cost: 0.4,
            quality: 0.6,
            expected_call_secs: 60,
        }
    }
}

/// The Bayesian success estimator (a Beta prior and exponential decay).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EstimatorConfig {
    /// The success rate assumed without evidence, strictly between 0 and 1
    /// (default 0.5).
    pub prior_success_rate: f64,
    /// How many observations the prior is worth (default 4).
    pub prior_weight: f64,
    /// Seconds after which evidence counts half (default 7 days).
    pub half_life_secs: f64,
    /// Decayed observations a destination prefix needs before its own
    /// estimate is used instead of a shorter prefix's (default 10).
    pub min_evidence: f64,
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        EstimatorConfig {
            prior_success_rate: 0.5,
            prior_weight: 4.0,
            half_life_secs: 7.0 * 86_400.0,
            min_evidence: 10.0,
        }
    }
}

/// The telephony backend of a provider account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ProviderKind {
    /// Twilio (default 1 call per second for API-created calls).
    Twilio,
    /// SansPBX (rate limit undocumented: configure `cps`).
    Sanspbx,
    /// Any other backend, by name.
    Other(String),
}

impl From<String> for ProviderKind {
    fn from(name: String) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "twilio" => ProviderKind::Twilio,
            "sanspbx" => ProviderKind::Sanspbx,
            _ => ProviderKind::Other(name),
        }
    }
}

impl From<ProviderKind> for String {
    fn from(kind: ProviderKind) -> String {
        kind.to_string()
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProviderKind::Twilio => f.write_str("twilio"),
            ProviderKind::Sanspbx => f.write_str("sanspbx"),
            ProviderKind::Other(name) => f.write_str(name),
        }
    }
}

impl ProviderKind {
    /// Calls per second when the config does not say: Twilio's documented
    /// default of 1 for API-created calls, and 1 (the safe guess) for others.
    pub fn default_cps(&self) -> f64 {
        1.0
    }
}

/// One provider account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// The provider id used everywhere else (`twilio`, `sanspbx-mumbai`).
    pub id: ProviderId,
    /// The backend.
    pub kind: ProviderKind,
    /// The account's calls-per-second limit (default: the kind's default).
    #[serde(default)]
    pub cps: Option<f64>,
    /// Billing increments of rate rows that give none (default `"60/60"`).
    #[serde(default)]
    pub default_increment: Option<String>,
    /// The circuit breaker.
    #[serde(default)]
    pub breaker: BreakerConfig,
    /// Rate rows written inline.
    #[serde(default)]
    pub rates: Vec<RateRow>,
    /// Rate rows as CSV: `prefix,rate_per_min_usd[,increment[,setup_fee_usd]]`
    /// per line, an optional header line starting with `prefix`, `#` comments.
    #[serde(default)]
    pub rates_csv: Option<String>,
    /// The caller IDs (a provider without any is refused).
    #[serde(default)]
    pub pool: PoolConfig,
}

/// Circuit breaker settings (see the `breaker` module doc for the policy).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive transient setup failures that open the circuit (default 5).
    pub failure_threshold: u32,
    /// Seconds the circuit stays open (default 30).
    pub cooldown_secs: f64,
    /// Probe calls admitted at a time while half-open (default 1).
    pub half_open_probes: u32,
    /// Seconds after which a probe with no result frees its place (default 60).
    pub probe_timeout_secs: f64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            cooldown_secs: 30.0,
            half_open_probes: 1,
            probe_timeout_secs: 60.0,
        }
    }
}

/// One rate table row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateRow {
    /// E.164 digit prefix, country code first, 1 to 15 digits.
    pub prefix: String,
    /// Price per billed minute in US dollars, above zero.
    pub rate_per_min_usd: f64,
    /// Billing increments, `"first/next"` seconds (default: the provider's).
    #[serde(default)]
    pub increment: Option<String>,
    /// Fee per answered call in US dollars (default 0).
    #[serde(default)]
    pub setup_fee_usd: Option<f64>,
}

/// A provider's caller-ID pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// Use a DID of another country when none of the callee's country is
    /// usable (default false).
    #[serde(default)]
    pub any_country_fallback: bool,
    /// Countries (ISO alpha-2) that always need a local caller ID, whatever
    /// `any_country_fallback` says (India's rules, for example).
    #[serde(default)]
    pub require_local_in: Vec<String>,
    /// Calls per second per caller ID (default 1).
    #[serde(default = "one")]
    pub caller_id_cps: f64,
    /// Calls per local day per DID, unless the DID sets its own (default: no cap).
    #[serde(default)]
    pub daily_cap: Option<u32>,
    /// Outside NANP, how many leading national digits make an "area"
    /// (default 2; 0 turns area matching off). NANP always uses the area code.
    #[serde(default = "two")]
    pub local_digits: usize,
    /// The numbers (at least one).
    #[serde(default)]
    pub dids: Vec<DidConfig>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            any_country_fallback: false,
            require_local_in: Vec::new(),
            caller_id_cps: one(),
            daily_cap: None,
            local_digits: two(),
            dids: Vec::new(),
        }
    }
}

fn one() -> f64 {
    1.0
}

fn two() -> usize {
    2
}

/// One caller ID.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DidConfig {
    /// The number, in international form; its country comes from it.
    pub number: String,
    /// Free labels (`"ny"`, `"sales"`), kept for the host.
    #[serde(default)]
    pub labels: Vec<String>,
    /// This DID's daily cap, overriding the pool's.
    #[serde(default)]
    pub daily_cap: Option<u32>,
}

impl RoutingConfig {
    /// Parses and validates a TOML configuration.
    pub fn from_toml(text: &str) -> Result<RoutingConfig, RoutingError> {
        let config: RoutingConfig = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value; the error names the provider and the field.
    pub fn validate(&self) -> Result<(), RoutingError> {
        Compiled::new(self).map(|_| ())
    }
}

/// The validated configuration, in the shape the engine reads.
#[derive(Clone, Debug)]
pub(crate) struct Compiled {
    /// Providers in rank order (priority list first, then declaration order).
    pub(crate) providers: Vec<CompiledProvider>,
    pub(crate) by_id: HashMap<ProviderId, usize>,
    pub(crate) max_chain_len: usize,
    pub(crate) prior: Prior,
    pub(crate) cost_weight: f64,
    pub(crate) quality_weight: f64,
    pub(crate) expected_call_secs: u32,
}

/// One validated provider.
#[derive(Clone, Debug)]
pub(crate) struct CompiledProvider {
    pub(crate) id: ProviderId,
    pub(crate) interval: Duration,
    pub(crate) breaker: BreakerParams,
    pub(crate) table: RateTable,
    pub(crate) pool: Pool,
}

fn global(field: &str, reason: impl Into<String>) -> RoutingError {
    RoutingError::config(None, field, reason)
}

fn positive(value: f64) -> bool {
    value.is_finite() && value > 0.0
}

fn seconds(value: f64) -> Duration {
    Duration::milliseconds((value * 1000.0).round() as i64)
}

/// US dollars to micro-dollars, for finite non-negative amounts below $1M.
fn usd(value: f64) -> Option<Money> {
    (value.is_finite() && (0.0..1e6).contains(&value)).then(|| Money((value * 1e6).round() as i64))
}

impl Compiled {
    pub(crate) fn new(config: &RoutingConfig) -> Result<Compiled, RoutingError> {
        if config.max_chain_len == 0 {
            return Err(global("max_chain_len", "must be at least 1"));
        }
        if config.providers.is_empty() {
            return Err(global("providers", "at least one provider is needed"));
        }
        let h = &config.hybrid;
        if !(h.cost.is_finite() && h.cost >= 0.0 && h.quality.is_finite() && h.quality >= 0.0)
            || h.cost + h.quality <= 0.0
        {
            return Err(global(
                "hybrid",
                "cost and quality weights must be non-negative and not both zero",
            ));
        }
        let e = &config.estimates;
        if !(e.prior_success_rate > 0.0 && e.prior_success_rate < 1.0) {
            return Err(global(
                "estimates.prior_success_rate",
                "must be strictly between 0 and 1",
            ));
        }
        if !positive(e.prior_weight) {
            return Err(global("estimates.prior_weight", "must be above 0"));
        }
        if !positive(e.half_life_secs) {
            return Err(global("estimates.half_life_secs", "must be above 0"));
        }
        if !(e.min_evidence.is_finite() && e.min_evidence >= 0.0) {
            return Err(global("estimates.min_evidence", "must be 0 or more"));
        }
        let prior = Prior {
            alpha: e.prior_success_rate * e.prior_weight,
            beta: (1.0 - e.prior_success_rate) * e.prior_weight,
            half_life_secs: e.half_life_secs,
            min_evidence: e.min_evidence,
        };

        let mut declared: HashMap<&ProviderId, usize> = HashMap::new();
        for (i, p) in config.providers.iter().enumerate() {
            if declared.insert(&p.id, i).is_some() {
                return Err(RoutingError::config(Some(&p.id), "id", "declared twice"));
            }
        }
        let mut order: Vec<usize> = Vec::with_capacity(config.providers.len());
        for (k, id) in config.priority.iter().enumerate() {
            let Some(&i) = declared.get(id) else {
                return Err(global(
                    &format!("priority[{k}]"),
                    format!("unknown provider `{id}`"),
                ));
            };
            if order.contains(&i) {
                return Err(global(
                    &format!("priority[{k}]"),
                    format!("provider `{id}` listed twice"),
                ));
            }
            order.push(i);
        }
        order.extend((0..config.providers.len()).filter(|i| {
            !config
                .priority
                .iter()
                .any(|id| *id == config.providers[*i].id)
        }));

        let mut numbers: HashMap<E164, ProviderId> = HashMap::new();
        let mut providers = Vec::with_capacity(order.len());
        for i in order {
            providers.push(compile_provider(&config.providers[i], &mut numbers)?);
        }
        let by_id = providers
            .iter()
            .enumerate()
            .map(|(rank, p)| (p.id.clone(), rank))
            .collect();
        Ok(Compiled {
            providers,
            by_id,
            max_chain_len: config.max_chain_len,
            prior,
            cost_weight: h.cost,
            quality_weight: h.quality,
            expected_call_secs: h.expected_call_secs,
        })
    }
}

fn compile_provider(
    p: &ProviderConfig,
    numbers: &mut HashMap<E164, ProviderId>,
) -> Result<CompiledProvider, RoutingError> {
    let err = |field: &str, reason: String| RoutingError::config(Some(&p.id), field, reason);
    let cps = p.cps.unwrap_or_else(|| p.kind.default_cps());
    if !(positive(cps) && cps <= 10_000.0) {
        return Err(err("cps", format!("{cps} is not in 0 < cps <= 10000")));
    }
    let b = &p.breaker;
    if b.failure_threshold == 0 {
        return Err(err(
            "breaker.failure_threshold",
            "must be at least 1".into(),
        ));
    }
    if !(b.cooldown_secs.is_finite() && b.cooldown_secs >= 0.0) {
        return Err(err("breaker.cooldown_secs", "must be 0 or more".into()));
    }
    if b.half_open_probes == 0 {
        return Err(err("breaker.half_open_probes", "must be at least 1".into()));
    }
    if !positive(b.probe_timeout_secs) {
        return Err(err("breaker.probe_timeout_secs", "must be above 0".into()));
    }
    let default_increment = match &p.default_increment {
        None => Increments::PER_MINUTE,
        Some(text) => Increments::parse(text).ok_or_else(|| {
            err(
                "default_increment",
                format!("{text:?} is not `first/next` seconds, both above 0"),
            )
        })?,
    };

    let mut rows: Vec<(String, RateRow)> = p
        .rates
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("rates[{i}]"), r.clone()))
        .collect();
    if let Some(csv) = &p.rates_csv {
        rows.extend(
            parse_csv(csv)
                .map_err(|(line, reason)| err(&format!("rates_csv line {line}"), reason))?,
        );
    }
    if rows.is_empty() {
        return Err(err(
            "rates",
            "no rate rows: the provider could route nothing".into(),
        ));
    }
    let mut seen: HashMap<&str, &str> = HashMap::new();
    let mut rates = Vec::with_capacity(rows.len());
    for (place, row) in &rows {
        let prefix = row.prefix.trim();
        if prefix.is_empty()
            || prefix.len() > MAX_DIGITS
            || !prefix.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(err(
                &format!("{place}.prefix"),
                format!("{prefix:?} is not 1 to 15 digits"),
            ));
        }
        if let Some(first) = seen.insert(prefix, place) {
            return Err(err(
                &format!("{place}.prefix"),
                format!("duplicate prefix {prefix} (also at {first})"),
            ));
        }
        let per_minute = usd(row.rate_per_min_usd)
            .filter(|m| m.0 > 0)
            .ok_or_else(|| {
                err(
                    &format!("{place}.rate_per_min_usd"),
                    format!(
                        "{} is not a price above 0 (at least 0.000001)",
                        row.rate_per_min_usd
                    ),
                )
            })?;
        let setup_fee = match row.setup_fee_usd {
            None => Money::ZERO,
            Some(fee) => usd(fee).ok_or_else(|| {
                err(
                    &format!("{place}.setup_fee_usd"),
                    format!("{fee} is not a price of 0 or more"),
                )
            })?,
        };
        let increments = match &row.increment {
            None => default_increment,
            Some(text) => Increments::parse(text).ok_or_else(|| {
                err(
                    &format!("{place}.increment"),
                    format!("{text:?} is not `first/next` seconds, both above 0"),
                )
            })?,
        };
        rates.push(Rate {
            prefix: prefix.to_owned(),
            per_minute,
            increments,
            setup_fee,
        });
    }

    let pool = &p.pool;
    if pool.dids.is_empty() {
        return Err(err(
            "pool.dids",
            "empty pool: no caller ID to call from".into(),
        ));
    }
    if !(positive(pool.caller_id_cps) && pool.caller_id_cps <= 10_000.0) {
        return Err(err(
            "pool.caller_id_cps",
            format!("{} is not in 0 < cps <= 10000", pool.caller_id_cps),
        ));
    }
    if pool.daily_cap == Some(0) {
        return Err(err(
            "pool.daily_cap",
            "must be at least 1 (leave it out for no cap)".into(),
        ));
    }
    if pool.local_digits > MAX_DIGITS {
        return Err(err("pool.local_digits", "must be at most 15".into()));
    }
    for (i, c) in pool.require_local_in.iter().enumerate() {
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(err(
                &format!("pool.require_local_in[{i}]"),
                format!("{c:?} is not an ISO 3166 alpha-2 code such as \"IN\""),
            ));
        }
    }
    let mut dids = Vec::with_capacity(pool.dids.len());
    for (i, d) in pool.dids.iter().enumerate() {
        let field = format!("pool.dids[{i}].number");
        let number = E164::parse(&d.number, None)
            .map_err(|e| err(&field, format!("{:?}: {e}", mask(&d.number))))?;
        let Some(country) = number.region() else {
            return Err(err(
                &field,
                format!("{}: no country for this number", number.masked()),
            ));
        };
        if let Some(other) = numbers.insert(number.clone(), p.id.clone()) {
            return Err(err(
                &field,
                format!("{} is already in the pool of `{other}`", number.masked()),
            ));
        }
        if d.daily_cap == Some(0) {
            return Err(err(
                &format!("pool.dids[{i}].daily_cap"),
                "must be at least 1 (leave it out for no cap)".into(),
            ));
        }
        dids.push(Did::new(number, country, d.daily_cap.or(pool.daily_cap)));
    }
    Ok(CompiledProvider {
        id: p.id.clone(),
        interval: pacer::interval(cps),
        breaker: BreakerParams {
            failure_threshold: b.failure_threshold,
            cooldown: seconds(b.cooldown_secs),
            half_open_probes: b.half_open_probes,
            probe_timeout: seconds(b.probe_timeout_secs),
        },
        table: RateTable::new(rates),
        pool: Pool::new(
            dids,
            pool.any_country_fallback,
            pool.require_local_in.clone(),
            pool.local_digits,
            pacer::interval(pool.caller_id_cps),
        ),
    })
}

/// Masks a number-like string for error messages.
fn mask(text: &str) -> String {
    let keep = text.len().min(4);
    let head: String = text.chars().take(keep).collect();
    format!(
        "{head}{}",
        "*".repeat(text.chars().count().saturating_sub(keep))
    )
}

/// Parses CSV rate rows; errors carry the 1-based line number.
fn parse_csv(text: &str) -> Result<Vec<(String, RateRow)>, (usize, String)> {
    let mut rows = Vec::new();
    let mut first = true;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if std::mem::take(&mut first) && fields[0].eq_ignore_ascii_case("prefix") {
            continue;
        }
        if !(2..=4).contains(&fields.len()) {
            return Err((
                n + 1,
                format!(
                    "{} fields; expected prefix,rate_per_min_usd[,increment[,setup_fee_usd]]",
                    fields.len()
                ),
            ));
        }
        let number = |text: &str, what: &str| {
            text.parse::<f64>()
                .map_err(|_| (n + 1, format!("{what} {text:?} is not a number")))
        };
        let rate = number(fields[1], "rate")?;
        let increment = fields
            .get(2)
            .filter(|f| !f.is_empty())
            .map(|f| f.to_string());
        let setup_fee_usd = match fields.get(3).filter(|f| !f.is_empty()) {
            Some(f) => Some(number(f, "setup fee")?),
            None => None,
        };
        rows.push((
            format!("rates_csv line {}", n + 1),
            RateRow {
                prefix: fields[0].to_owned(),
                rate_per_min_usd: rate,
                increment,
                setup_fee_usd,
            },
        ));
    }
    Ok(rows)
}
