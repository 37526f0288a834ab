//! Call statistics per provider and per destination prefix.
//!
//! The engine keeps one row per (provider, longest matching rate prefix);
//! a provider's totals are the sum of its rows, so they add up by
//! construction. Calls to numbers outside the provider's rate table are
//! counted under the empty prefix `""`.

use serde::{Deserialize, Serialize};
use voxdial_domain::{Money, ProviderId};

/// Counters of one provider or one (provider, prefix).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Setup results reported (accepted or failed).
    pub attempts: u64,
    /// Setups that failed.
    pub setup_failures: u64,
    /// Call ends reported.
    pub ended: u64,
    /// Call ends that were answered.
    pub answers: u64,
    /// Seconds of answered calls.
    pub answered_secs: u64,
    /// Cost of the ended calls.
    pub total_cost: Money,
}

impl Stats {
    /// Answer-seizure ratio: answers per attempt (none before any attempt).
    pub fn answer_seizure_ratio(&self) -> Option<f64> {
        (self.attempts > 0).then(|| self.answers as f64 / self.attempts as f64)
    }

    /// Mean duration of answered calls in seconds (none before any answer).
    pub fn average_answered_secs(&self) -> Option<f64> {
        (self.answers > 0).then(|| self.answered_secs as f64 / self.answers as f64)
    }

    /// Adds another row's counters.
    pub(crate) fn absorb(&mut self, other: &Stats) {
        self.attempts += other.attempts;
        self.setup_failures += other.setup_failures;
        self.ended += other.ended;
        self.answers += other.answers;
        self.answered_secs += other.answered_secs;
        self.total_cost = self.total_cost + other.total_cost;
    }
}

/// One provider's statistics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderStats {
    /// The provider.
    pub provider: ProviderId,
    /// The sum of the prefix rows.
    pub total: Stats,
    /// One row per destination prefix that saw a call, ordered by prefix.
    pub prefixes: Vec<PrefixStats>,
}

/// Statistics of one destination prefix of one provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixStats {
    /// The longest rate-table prefix of the called numbers (`""`: none).
    pub prefix: String,
    /// The counters.
    pub stats: Stats,
}

/// Every provider's statistics, in rank order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsReport {
    /// One entry per configured provider.
    pub providers: Vec<ProviderStats>,
}

impl StatsReport {
    /// The sum over every provider.
    pub fn total(&self) -> Stats {
        let mut total = Stats::default();
        for p in &self.providers {
            total.absorb(&p.total);
        }
        total
    }
}
