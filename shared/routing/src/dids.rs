//! Caller-ID (DID) pools: local presence, daily caps, per-number pacing and
//! rotation weighted by answer rate.
//!
//! # Choosing a caller ID for a destination
//!
//! Every DID of the pool gets a *tier* for the destination, lower is better:
//!
//! | tier | the DID ... |
//! |---|---|
//! | 0 | is in the callee's country and area: for NANP (`+1`) the same 3-digit area code; elsewhere the same first `local_digits` national digits |
//! | 1 | is in the callee's country and shares one of its time zones (`E164::time_zones`), a stand-in for "same state or region" |
//! | 2 | is in the callee's country |
//! | 3 | is in another country with the same calling code (a Canadian DID for a US callee) |
//! | 4 | is in another country |
//!
//! Tiers 3 and 4 are used only when the pool has `any_country_fallback` and
//! the callee's country is not in `require_local_in`, and only when no DID
//! of the callee's country is usable. A DID that reached its daily cap is
//! not usable. The best tier that has a usable DID is chosen; the pick stays
//! inside it: when every DID of that tier is momentarily rate limited the
//! provider is rate limited (local presence is not traded for a second of
//! waiting).
//!
//! # Rotation
//!
//! Inside the tier, among the DIDs whose own CPS bucket has a token, the
//! pick follows smooth weighted round-robin (nginx's algorithm): each DID
//! carries a `current` weight; the pick is the highest `current + weight`
//! (lowest index on ties) and, when the call is reserved, every DID of that
//! cohort gains its weight and the picked one loses the cohort's total.
//! Weights are `1 + round(1000 * answer_rate)`, the answer rate being the
//! DID's Bayesian estimate (same prior and decay as the providers'). All of
//! it is integer arithmetic on persisted state, so the rotation is
//! reproducible.
//!
//! # Daily caps
//!
//! A cap counts reserved calls per **local day of the DID**: the count resets
//! at the next midnight in the DID's first time zone (UTC when the numbering
//! plan gives none), computed when the first call of a day is reserved.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use voxdial_domain::{E164, Timestamp};

use crate::destination::Destination;
use crate::estimate::{Evidence, Prior};
use crate::pacer::Pacer;

/// One configured caller ID, with what routing derives from its number.
#[derive(Clone, Debug)]
pub(crate) struct Did {
    pub(crate) number: E164,
    pub(crate) country: String,
    calling_code: String,
    national: String,
    zones: Vec<&'static str>,
    pub(crate) daily_cap: Option<u32>,
}

impl Did {
    /// Derives country, calling code and zones from a number already validated.
    pub(crate) fn new(number: E164, country: String, daily_cap: Option<u32>) -> Self {
        let code_len = number
            .calling_code()
            .map_or(0, |c| c.to_string().len())
            .min(number.digits().len());
        let (calling_code, national) = number.digits().split_at(code_len);
        Did {
            calling_code: calling_code.to_owned(),
            national: national.to_owned(),
            zones: number.time_zones().iter().map(|z| z.name()).collect(),
            number,
            country,
            daily_cap,
        }
    }
}

/// A provider's pool, validated.
#[derive(Clone, Debug)]
pub(crate) struct Pool {
    pub(crate) dids: Vec<Did>,
    /// DID indices grouped by country.
    groups: Vec<(String, Vec<u32>)>,
    index: HashMap<E164, u32>,
    any_country_fallback: bool,
    require_local_in: Vec<String>,
    local_digits: usize,
    pub(crate) interval: Duration,
}

/// Why a pool has no caller ID for a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoDid {
    /// No DID of an allowed country.
    WrongCountry,
    /// Every DID of an allowed country reached its cap; the earliest reset.
    AllCapped(Timestamp),
}

/// The DID a pool would use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pick {
    pub(crate) did: u32,
    /// `now` when the DID has a token, else when its bucket refills.
    pub(crate) ready_at: Timestamp,
}

/// The mutable state of one DID.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct DidState {
    pub(crate) pacer: Pacer,
    pub(crate) day: DayCount,
    pub(crate) answers: Evidence,
    /// Smooth weighted round-robin's running weight.
    pub(crate) current: i64,
}

/// Calls reserved today, and when "today" ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DayCount {
    count: u32,
    resets_at: Option<Timestamp>,
}

impl DayCount {
    /// Calls counted for the day that contains `now`.
    pub(crate) fn used(&self, now: Timestamp) -> u32 {
        match self.resets_at {
            Some(r) if now < r => self.count,
            _ => 0,
        }
    }

    /// When the cap stops applying, if `cap` is reached at `now`.
    fn capped_until(&self, cap: Option<u32>, now: Timestamp) -> Option<Timestamp> {
        let cap = cap?;
        (self.used(now) >= cap).then(|| self.resets_at.unwrap_or(now))
    }

    /// Counts one call at `now` for `number`'s local day.
    fn add(&mut self, number: &E164, now: Timestamp) {
        if self.used(now) == 0 {
            self.count = 0;
            self.resets_at = Some(match number.time_zones().first() {
                Some(zone) => next_midnight(zone, now),
                None => next_midnight(&Utc, now),
            });
        }
        self.count += 1;
    }
}

/// The first instant after `now` that is midnight in `zone` (or the first
/// valid local time after it when midnight falls in a DST gap).
fn next_midnight<Z: TimeZone>(zone: &Z, now: Timestamp) -> Timestamp {
    let Some(tomorrow) = now.with_timezone(zone).date_naive().succ_opt() else {
        return DateTime::<Utc>::MAX_UTC;
    };
    (0..3)
        .find_map(|hour| {
            zone.from_local_datetime(&tomorrow.and_hms_opt(hour, 0, 0)?)
                .earliest()
        })
        .map_or_else(
            || crate::add(now, Duration::hours(24)),
            |t| t.with_timezone(&Utc),
        )
}

impl Pool {
    /// Builds a pool from validated DIDs.
    pub(crate) fn new(
        dids: Vec<Did>,
        any_country_fallback: bool,
        require_local_in: Vec<String>,
        local_digits: usize,
        interval: Duration,
    ) -> Self {
        let mut groups: Vec<(String, Vec<u32>)> = Vec::new();
        let mut index = HashMap::new();
        for (i, did) in dids.iter().enumerate() {
            index.insert(did.number.clone(), i as u32);
            match groups.iter_mut().find(|(c, _)| *c == did.country) {
                Some((_, members)) => members.push(i as u32),
                None => groups.push((did.country.clone(), vec![i as u32])),
            }
        }
        Pool {
            dids,
            groups,
            index,
            any_country_fallback,
            require_local_in,
            local_digits,
            interval,
        }
    }

    /// The index of a number in the pool.
    pub(crate) fn position(&self, number: &E164) -> Option<usize> {
        self.index.get(number).map(|&i| i as usize)
    }

    fn same_country(&self, dest: &Destination) -> &[u32] {
        dest.country()
            .and_then(|c| self.groups.iter().find(|(g, _)| g == c))
            .map_or(&[], |(_, members)| members.as_slice())
    }

    fn fallback_allowed(&self, dest: &Destination) -> bool {
        self.any_country_fallback
            && !dest
                .country()
                .is_some_and(|c| self.require_local_in.iter().any(|r| r == c))
    }

    /// Tier of a DID of the callee's country.
    fn local_tier(&self, did: &Did, dest: &Destination) -> u8 {
        let area_len = if did.calling_code == "1" {
            3
        } else {
            self.local_digits
        };
        let (a, b) = (did.national.as_bytes(), dest.national().as_bytes());
        if area_len > 0
            && a.len() >= area_len
            && b.len() >= area_len
            && a[..area_len] == b[..area_len]
        {
            0
        } else if did.zones.iter().any(|z| dest.zones().contains(z)) {
            1
        } else {
            2
        }
    }

    /// Calls `f(index, tier)` for every DID of the allowed countries:
    /// the callee's country, or every other country when `foreign`.
    fn each(&self, dest: &Destination, foreign: bool, mut f: impl FnMut(usize, u8)) {
        if foreign {
            for (i, did) in self.dids.iter().enumerate() {
                if Some(did.country.as_str()) != dest.country() {
                    f(
                        i,
                        if did.calling_code == dest.calling_code() {
                            3
                        } else {
                            4
                        },
                    );
                }
            }
        } else {
            for &i in self.same_country(dest) {
                let i = i as usize;
                f(i, self.local_tier(&self.dids[i], dest));
            }
        }
    }

    /// The DID for `dest` at `now` (see the module doc). When `cohort` is
    /// given, it receives the DIDs the pick rotated among.
    pub(crate) fn select(
        &self,
        states: &[DidState],
        dest: &Destination,
        now: Timestamp,
        prior: &Prior,
        mut cohort: Option<&mut Vec<u32>>,
    ) -> Result<Pick, NoDid> {
        let mut capped_until: Option<Timestamp> = None;
        let mut best: Option<(u8, bool)> = None;
        for foreign in [false, true] {
            if foreign && !self.fallback_allowed(dest) {
                break;
            }
            self.each(dest, foreign, |i, tier| {
                match states[i].day.capped_until(self.dids[i].daily_cap, now) {
                    Some(until) => {
                        capped_until = Some(capped_until.map_or(until, |c| c.min(until)));
                    }
                    None => {
                        if best.is_none_or(|(t, _)| tier < t) {
                            best = Some((tier, foreign));
                        }
                    }
                }
            });
            if best.is_some() {
                break;
            }
        }
        let Some((tier, foreign)) = best else {
            return Err(capped_until.map_or(NoDid::WrongCountry, NoDid::AllCapped));
        };
        // Among the usable DIDs of the best tier: rotate over those with a
        // token, else wait for the first bucket to refill.
        let mut pick: Option<(usize, i64)> = None;
        let mut earliest: Option<(usize, Timestamp)> = None;
        self.each(dest, foreign, |i, t| {
            if t != tier
                || states[i]
                    .day
                    .capped_until(self.dids[i].daily_cap, now)
                    .is_some()
            {
                return;
            }
            let ready_at = states[i].pacer.ready_at(now);
            if ready_at > now {
                if earliest.is_none_or(|(_, e)| ready_at < e) {
                    earliest = Some((i, ready_at));
                }
                return;
            }
            if let Some(c) = cohort.as_deref_mut() {
                c.push(i as u32);
            }
            let key = states[i].current + weight(&states[i], now, prior);
            if pick.is_none_or(|(_, k)| key > k) {
                pick = Some((i, key));
            }
        });
        match (pick, earliest) {
            (Some((i, _)), _) => Ok(Pick {
                did: i as u32,
                ready_at: now,
            }),
            (None, Some((i, ready_at))) => Ok(Pick {
                did: i as u32,
                ready_at,
            }),
            // Unreachable: the tier has at least one uncapped DID.
            (None, None) => Err(NoDid::WrongCountry),
        }
    }

    /// When `did` is capped at `now`, until when.
    pub(crate) fn capped_until(
        &self,
        states: &[DidState],
        did: usize,
        now: Timestamp,
    ) -> Option<Timestamp> {
        states[did].day.capped_until(self.dids[did].daily_cap, now)
    }

    /// Commits a reserved call from `did` at `now`: its token, its day count
    /// and the rotation among `cohort`.
    pub(crate) fn commit(
        &self,
        states: &mut [DidState],
        did: usize,
        cohort: &[u32],
        now: Timestamp,
        prior: &Prior,
    ) {
        let mut total = 0i64;
        let mut chosen_in_cohort = false;
        for &c in cohort {
            let c = c as usize;
            if c >= states.len() {
                continue;
            }
            let w = weight(&states[c], now, prior);
            states[c].current += w;
            total += w;
            chosen_in_cohort |= c == did;
        }
        if !chosen_in_cohort {
            let w = weight(&states[did], now, prior);
            states[did].current += w;
            total += w;
        }
        states[did].current -= total;
        states[did].pacer.take(now, self.interval);
        states[did].day.add(&self.dids[did].number, now);
    }
}

/// A DID's rotation weight: `1 + round(1000 * answer rate)`.
fn weight(state: &DidState, now: Timestamp, prior: &Prior) -> i64 {
    let (rate, _) = state.answers.estimate(now, prior);
    1 + (rate * 1000.0).round() as i64
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn did(number: &str, cap: Option<u32>) -> Did {
        let n = E164::parse(number, None).unwrap();
        let country = n.region().unwrap();
        Did::new(n, country, cap)
    }

    fn prior() -> Prior {
        Prior {
            alpha: 1.0,
            beta: 1.0,
            half_life_secs: 86_400.0,
            min_evidence: 5.0,
        }
    }

    fn dest(number: &str) -> Destination {
        Destination::new(&E164::parse(number, None).unwrap())
    }

    fn pool(dids: Vec<Did>, fallback: bool) -> Pool {
        Pool::new(dids, fallback, vec!["IN".into()], 2, Duration::seconds(1))
    }

    #[test]
    fn local_presence_order_area_then_zone_then_country() {
        let p = pool(
            vec![
                did("+13105550100", None),  // LA: other zone
                did("+15165550100", None),  // Long Island: New York zone, other area
                did("+12125550101", None),  // Manhattan: same area code
                did("+442071838750", None), // London
            ],
            true,
        );
        let mut states = vec![DidState::default(); 4];
        let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap();
        let ny = dest("+12125550199");
        let pick = |states: &[DidState]| p.select(states, &ny, t0, &prior(), None);
        assert_eq!(pick(&states).unwrap().did, 2, "same area code first");
        states[2].day = DayCount {
            count: 1,
            resets_at: Some(t0 + Duration::hours(1)),
        };
        let capped = |cap| Some(cap);
        let mut p2 = p.clone();
        p2.dids[2].daily_cap = capped(1);
        p2.dids[1].daily_cap = capped(1);
        p2.dids[0].daily_cap = capped(1);
        let pick2 = |states: &[DidState]| p2.select(states, &ny, t0, &prior(), None);
        assert_eq!(pick2(&states).unwrap().did, 1, "then the same time zone");
        states[1].day = states[2].day;
        assert_eq!(pick2(&states).unwrap().did, 0, "then the same country");
        states[0].day = states[2].day;
        assert_eq!(
            pick2(&states).unwrap().did,
            3,
            "then any country (fallback)"
        );
        // Without the fallback flag, a provider whose local DIDs are capped has none.
        let mut p3 = p2.clone();
        p3.any_country_fallback = false;
        assert_eq!(
            p3.select(&states, &ny, t0, &prior(), None),
            Err(NoDid::AllCapped(t0 + Duration::hours(1)))
        );
        // A country in `require_local_in` never falls back.
        let india = dest("+919876543210");
        assert_eq!(
            p.select(&states, &india, t0, &prior(), None),
            Err(NoDid::WrongCountry)
        );
    }

    #[test]
    fn daily_cap_resets_at_the_dids_local_midnight() {
        let p = pool(vec![did("+12125550101", Some(2))], false);
        let mut states = vec![DidState::default()];
        let ny = dest("+12125550199");
        // 22:00 in New York on 2 March = 03:00 UTC on 3 March.
        let t0 = Utc.with_ymd_and_hms(2026, 3, 3, 3, 0, 0).unwrap();
        let prior = prior();
        for k in 0..2 {
            let t = t0 + Duration::seconds(k * 10);
            let pick = p.select(&states, &ny, t, &prior, None).unwrap();
            p.commit(&mut states, pick.did as usize, &[0], t, &prior);
        }
        // Midnight in New York (EST, UTC-5) is 05:00 UTC, not 00:00 UTC.
        let midnight = Utc.with_ymd_and_hms(2026, 3, 3, 5, 0, 0).unwrap();
        assert_eq!(
            p.select(&states, &ny, t0 + Duration::minutes(5), &prior, None),
            Err(NoDid::AllCapped(midnight))
        );
        assert!(p.select(&states, &ny, midnight, &prior, None).is_ok());
        assert_eq!(states[0].day.used(midnight), 0);
    }

    #[test]
    fn rotation_is_smooth_and_weighted_by_answer_rate() {
        let p = pool(
            vec![
                did("+12125550101", None),
                did("+12125550102", None),
                did("+12125550103", None),
            ],
            false,
        );
        let prior = prior();
        let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap();
        let mut states = vec![DidState::default(); 3];
        // DID 0 answers far more often than DID 1 and 2.
        for _ in 0..30 {
            states[0].answers.observe(true, t0, &prior);
            states[1].answers.observe(false, t0, &prior);
            states[2].answers.observe(false, t0, &prior);
        }
        let ny = dest("+12125550199");
        let mut counts = [0u32; 3];
        let mut sequence = Vec::new();
        for k in 0..60 {
            let t = t0 + Duration::seconds(2 * k);
            let mut cohort = Vec::new();
            let pick = p
                .select(&states, &ny, t, &prior, Some(&mut cohort))
                .unwrap();
            assert_eq!(cohort, [0, 1, 2]);
            p.commit(&mut states, pick.did as usize, &cohort, t, &prior);
            counts[pick.did as usize] += 1;
            sequence.push(pick.did);
        }
        // Weights ~ 970 : 32 : 32: DID 0 gets most calls, the others some.
        assert!(counts[0] >= 50, "{counts:?}");
        assert!(counts[1] >= 1 && counts[2] >= 1, "{counts:?}");
        // Deterministic: a fresh run from the same state gives the same sequence.
        assert_eq!(sequence[0], 0);
    }

    #[test]
    fn a_busy_did_gives_way_to_another_of_its_tier() {
        let p = pool(
            vec![did("+12125550101", None), did("+12125550102", None)],
            false,
        );
        let prior = prior();
        let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap();
        let mut states = vec![DidState::default(); 2];
        let ny = dest("+12125550199");
        let first = p.select(&states, &ny, t0, &prior, None).unwrap();
        p.commit(&mut states, first.did as usize, &[0, 1], t0, &prior);
        let second = p.select(&states, &ny, t0, &prior, None).unwrap();
        assert_ne!(first.did, second.did);
        assert_eq!(second.ready_at, t0);
        p.commit(&mut states, second.did as usize, &[second.did], t0, &prior);
        // Both used within the second: the pool waits for the first refill.
        let third = p.select(&states, &ny, t0, &prior, None).unwrap();
        assert_eq!(third.ready_at, t0 + Duration::seconds(1));
    }
}
