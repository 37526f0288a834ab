//! Screening: may this lead be dialled now?
//!
//! The rules, in order: the organisation's and the campaign's do-not-call lists, the
//! lead's consent (when the campaign requires it), the attempt limit, and the
//! calling window in the callee's local time. The window is checked in every
//! time zone the callee may be in (the lead's own zone when the import gave
//! one, else the zones of the number's prefix), so a number whose prefix spans
//! several zones is only called when it is allowed in all of them. A lead
//! outside its window is rescheduled to the window's next opening, not
//! dropped. The window is always intersected with the legal floor of the
//! callee's jurisdiction ([`crate::floor`]), which also requires consent
//! unless an admin waived it for the campaign. Every dial carries the
//! [`ComplianceRecord`] that allowed it, naming the floor rule.
//!
//! Pure: the do-not-call lookups are done by the caller and passed in as
//! [`DncHit`]; time is the `now` argument.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Datelike, Duration, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::floor::{FloorRule, jurisdiction};
use crate::{Campaign, Lead, ScreenReason, Timestamp};

/// The version of these rules, written into every compliance record.
pub const RULES_VERSION: &str = "voxdial-screening/1";

/// A daily calling window in the callee's local time: `[start, end)` on the
/// allowed weekdays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallingWindow {
    /// Local opening time, e.g. `08:00`.
    #[serde(with = "hhmm")]
    pub start: NaiveTime,
    /// Local closing time (exclusive), e.g. `21:00`.
    #[serde(with = "hhmm")]
    pub end: NaiveTime,
    /// The weekdays calls are allowed on (default: every day).
    #[serde(default = "all_days")]
    pub days: Vec<Weekday>,
}

fn all_days() -> Vec<Weekday> {
    vec![
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ]
}

mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(d)?;
        NaiveTime::parse_from_str(&text, "%H:%M")
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a time like 08:30")))
    }
}

impl CallingWindow {
    /// A window open every day from `start` to `end` (hours and minutes).
    pub fn daily(start: (u32, u32), end: (u32, u32)) -> CallingWindow {
        CallingWindow {
            start: NaiveTime::from_hms_opt(start.0, start.1, 0).expect("valid time"),
            end: NaiveTime::from_hms_opt(end.0, end.1, 0).expect("valid time"),
            days: all_days(),
        }
    }

    fn contains_local(&self, local: chrono::NaiveDateTime) -> bool {
        let time = local.time();
        self.days.contains(&local.weekday()) && time >= self.start && time < self.end
    }

    fn validate(&self) -> Result<(), String> {
        if self.start >= self.end {
            return Err(format!("window {self} opens after it closes"));
        }
        if self.days.is_empty() {
            return Err("a window needs at least one weekday".into());
        }
        Ok(())
    }
}

impl fmt::Display for CallingWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )?;
        if self.days.len() < 7 {
            let days: Vec<String> = self.days.iter().map(|d| d.to_string()).collect();
            write!(f, " {}", days.join(","))?;
        }
        Ok(())
    }
}

/// Calling windows per country, with a default for countries not listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallingHours {
    /// The window for countries without their own entry.
    pub default: CallingWindow,
    /// Windows by ISO 3166 alpha-2 country code (`US`, `IN`).
    pub countries: BTreeMap<String, CallingWindow>,
}

impl Default for CallingHours {
    /// The legal floor's own hours ([`crate::floor`]): US 08:00–21:00
    /// (TCPA; state rules narrow it at screening), India 09:00–21:00 (TRAI),
    /// the UK 08:00–21:00, elsewhere 09:00–20:00 on weekdays.
    fn default() -> Self {
        let mut countries = BTreeMap::new();
        countries.insert("US".into(), CallingWindow::daily((8, 0), (21, 0)));
        countries.insert("IN".into(), CallingWindow::daily((9, 0), (21, 0)));
        countries.insert("GB".into(), CallingWindow::daily((8, 0), (21, 0)));
        let mut default = CallingWindow::daily((9, 0), (20, 0));
        default
            .days
            .retain(|d| !matches!(d, Weekday::Sat | Weekday::Sun));
        Self { default, countries }
    }
}

impl CallingHours {
    /// The window that applies to a callee in `region`.
    pub fn window_for(&self, region: Option<&str>) -> &CallingWindow {
        region
            .and_then(|r| self.countries.get(r))
            .unwrap_or(&self.default)
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        self.default.validate()?;
        for (country, window) in &self.countries {
            if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(format!(
                    "{country:?} is not an ISO 3166 alpha-2 code like US"
                ));
            }
            window.validate().map_err(|e| format!("{country}: {e}"))?;
        }
        crate::floor::check_hours(self)
    }
}

/// Whether `now` is inside both `window` and the legal `floor` in every
/// zone of `zones`.
pub fn window_open(
    window: &CallingWindow,
    floor: &FloorRule,
    zones: &[Tz],
    now: Timestamp,
) -> bool {
    !zones.is_empty()
        && zones.iter().all(|tz| {
            let local = now.with_timezone(tz).naive_local();
            window.contains_local(local) && floor.allows(local)
        })
}

/// The first instant at or after `now` when `window` and `floor` are open
/// in every zone, looking at most eight days ahead; `None` when they never
/// overlap.
pub fn next_opening(
    window: &CallingWindow,
    floor: &FloorRule,
    zones: &[Tz],
    now: Timestamp,
) -> Option<Timestamp> {
    if window_open(window, floor, zones, now) {
        return Some(now);
    }
    // The intersection of the open intervals starts at one zone's opening
    // of the window or of the floor.
    let mut candidates: Vec<Timestamp> = Vec::new();
    for tz in zones {
        let today = now.with_timezone(tz).date_naive();
        for offset in 0..=8 {
            let date = today + Duration::days(offset);
            let floor_open = floor.hours_on(date.weekday()).map(|(open, _)| open);
            for start in std::iter::once(window.start).chain(floor_open) {
                if let Some(at) = local_to_utc(tz, date.and_time(start))
                    && at >= now
                {
                    candidates.push(at);
                }
            }
        }
    }
    candidates.sort();
    candidates
        .into_iter()
        .find(|&at| window_open(window, floor, zones, at))
}

/// A local time in `tz` as UTC: ambiguous times take the earlier instant, and
/// times skipped by a DST jump move forward to the first valid minute.
fn local_to_utc(tz: &Tz, local: chrono::NaiveDateTime) -> Option<Timestamp> {
    (0..=180).find_map(|minutes| {
        tz.from_local_datetime(&(local + Duration::minutes(minutes)))
            .earliest()
            .map(|t| t.with_timezone(&chrono::Utc))
    })
}

/// What the do-not-call lists say about a number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DncHit {
    /// On the organisation's list (every campaign of the organisation;
    /// `global` in records and screen reasons, as in the API).
    pub global: bool,
    /// On the campaign's list.
    pub campaign: bool,
}

/// Screening's verdict.
#[derive(Clone, Debug, PartialEq)]
pub enum ScreenDecision {
    /// Dial now; keep the record with the call.
    Allow(ComplianceRecord),
    /// Not now: try again at `at` (the callee's window opens then).
    Reschedule {
        /// The window's next opening.
        at: Timestamp,
    },
    /// Never: finalise the lead as screened out.
    Reject(ScreenReason),
}

/// Why a dial was allowed: written with every call attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceRecord {
    /// The rules version that decided.
    pub rules: String,
    /// When the check ran.
    pub checked_at: Timestamp,
    /// The attempt number being allowed.
    pub attempt: u32,
    /// The campaign's attempt limit.
    pub max_attempts: u32,
    /// The callee's country, from the number.
    pub region: Option<String>,
    /// The window applied, e.g. `08:00-21:00`.
    pub window: String,
    /// The callee's local time in each candidate zone at `checked_at`.
    pub local_times: BTreeMap<String, String>,
    /// Whether the zone came from the lead (`lead`) or the number (`number`).
    pub zone_source: String,
    /// The organisation's do-not-call list (`global`: every campaign of the
    /// organisation) was checked and did not list the number.
    pub dnc_global_clear: bool,
    /// The campaign's do-not-call list was checked and did not list the number.
    pub dnc_campaign_clear: bool,
    /// Whether the campaign required consent.
    pub consent_required: bool,
    /// The lead's consent flag.
    pub consent: bool,
    /// The legal floor that allowed the dial, e.g. `US-NY: TCPA
    /// 08:00-21:00` (empty in records written before the floor existed).
    #[serde(default)]
    pub floor: String,
}

/// The time zones a lead may be in: its own when known, else its number's.
pub fn lead_zones(lead: &Lead) -> (Vec<Tz>, &'static str) {
    match lead.time_zone {
        Some(tz) => (vec![tz], "lead"),
        None => (lead.phone.time_zones().to_vec(), "number"),
    }
}

/// Screens `lead` for attempt `attempt` of `campaign` at `now`.
pub fn screen(
    lead: &Lead,
    campaign: &Campaign,
    attempt: u32,
    dnc: DncHit,
    now: Timestamp,
) -> ScreenDecision {
    let settings = &campaign.settings;
    if dnc.global {
        return ScreenDecision::Reject(ScreenReason::DoNotCallGlobal);
    }
    if dnc.campaign {
        return ScreenDecision::Reject(ScreenReason::DoNotCallCampaign);
    }
    let region = lead.region.clone().or_else(|| lead.phone.region());
    let place = jurisdiction(lead, region.as_deref());
    // The floor's consent rule holds unless an admin waived it, audited.
    let consent_required =
        settings.require_consent || (place.rule.consent && campaign.consent_waiver.is_none());
    if consent_required && !lead.consent {
        return ScreenDecision::Reject(ScreenReason::NoConsent);
    }
    if attempt > settings.retry.max_attempts {
        return ScreenDecision::Reject(ScreenReason::AttemptLimit);
    }
    let window = settings.calling_hours.window_for(region.as_deref());
    let (zones, zone_source) = lead_zones(lead);
    if !window_open(window, place.rule, &zones, now) {
        return match next_opening(window, place.rule, &zones, now) {
            Some(at) => ScreenDecision::Reschedule { at },
            None => ScreenDecision::Reject(ScreenReason::NoCallingWindow),
        };
    }
    let local_times = zones
        .iter()
        .map(|tz| {
            let local = now.with_timezone(tz);
            (
                tz.name().to_string(),
                local.format("%Y-%m-%dT%H:%M:%S%:z %a").to_string(),
            )
        })
        .collect();
    ScreenDecision::Allow(ComplianceRecord {
        rules: RULES_VERSION.into(),
        checked_at: now,
        attempt,
        max_attempts: settings.retry.max_attempts,
        region,
        window: window.to_string(),
        local_times,
        zone_source: zone_source.into(),
        dnc_global_clear: true,
        dnc_campaign_clear: true,
        consent_required,
        consent: lead.consent,
        floor: place.label(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::floor::US_FEDERAL;
    use crate::{CampaignId, CampaignSettings, LeadId, NewLead};
    use chrono::Utc;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Timestamp {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn lead(number: &str, tz: Option<Tz>, consent: bool) -> Lead {
        NewLead {
            phone: crate::E164::parse(number, None).unwrap(),
            name: "Ada".into(),
            time_zone: tz,
            custom: BTreeMap::new(),
            consent,
        }
        .into_lead(
            LeadId::parse("l1").unwrap(),
            CampaignId::parse("c1").unwrap(),
            at(2026, 1, 1, 0, 0),
        )
    }

    fn campaign() -> Campaign {
        Campaign::new(
            CampaignId::parse("c1").unwrap(),
            CampaignSettings::default(),
            at(2026, 1, 1, 0, 0),
        )
        .unwrap()
    }

    const NEW_YORK: &str = "+12125550100";
    const LOS_ANGELES: &str = "+13105550100";
    const MUMBAI: &str = "+919876543210";

    #[test]
    fn us_window_follows_dst_in_new_york() {
        // GIVEN a New York number and the US window 08:00-21:00
        let ny = lead(NEW_YORK, None, true);
        let c = campaign();
        // WHEN it is 12:30 UTC the day before the spring-forward change (07:30 EST)
        let before = screen(&ny, &c, 1, DncHit::default(), at(2026, 3, 7, 12, 30));
        // THEN the call waits for 08:00 EST = 13:00 UTC
        assert_eq!(
            before,
            ScreenDecision::Reschedule {
                at: at(2026, 3, 7, 13, 0)
            }
        );
        // WHEN it is 12:30 UTC the day after (08:30 EDT) THEN it is allowed
        assert!(matches!(
            screen(&ny, &c, 1, DncHit::default(), at(2026, 3, 9, 12, 30)),
            ScreenDecision::Allow(_)
        ));
        // AND the night of the fall-back change, 00:30 UTC is 20:30 EDT (open)
        // while one week later it is 19:30 EST (also open), and 01:30 UTC is
        // 21:30 EDT before the change (closed) and 20:30 EST after (open).
        let open = |t| {
            matches!(
                screen(&ny, &c, 1, DncHit::default(), t),
                ScreenDecision::Allow(_)
            )
        };
        assert!(open(at(2026, 10, 31, 0, 30)));
        assert!(!open(at(2026, 10, 31, 1, 30)));
        assert!(open(at(2026, 11, 3, 1, 30)));
    }

    #[test]
    fn next_opening_across_the_spring_forward_night() {
        // 21:30 EST on Sat 7 March 2026 = 02:30 UTC on the 8th; DST starts at 02:00 local
        // on the 8th, so the next 08:00 is EDT = 12:00 UTC.
        let ny = lead(NEW_YORK, None, true);
        let decision = screen(
            &ny,
            &campaign(),
            1,
            DncHit::default(),
            at(2026, 3, 8, 2, 30),
        );
        assert_eq!(
            decision,
            ScreenDecision::Reschedule {
                at: at(2026, 3, 8, 12, 0)
            }
        );
    }

    #[test]
    fn india_uses_its_own_window_in_a_half_hour_zone() {
        // India is UTC+05:30 with a 09:00-21:00 window: 03:30-15:30 UTC.
        let mumbai = lead(MUMBAI, None, true);
        let c = campaign();
        let open = |t| {
            matches!(
                screen(&mumbai, &c, 1, DncHit::default(), t),
                ScreenDecision::Allow(_)
            )
        };
        assert!(!open(at(2026, 6, 1, 3, 29)));
        assert!(open(at(2026, 6, 1, 3, 30)));
        assert!(open(at(2026, 6, 1, 15, 29)));
        assert!(!open(at(2026, 6, 1, 15, 30)));
        assert_eq!(
            screen(&mumbai, &c, 1, DncHit::default(), at(2026, 6, 1, 16, 0)),
            ScreenDecision::Reschedule {
                at: at(2026, 6, 2, 3, 30)
            }
        );
    }

    #[test]
    fn lead_time_zone_overrides_the_number() {
        // A New York number whose lead lives in Kathmandu (UTC+05:45), US rules apply.
        let lead = lead(NEW_YORK, Some(chrono_tz::Asia::Kathmandu), true);
        let decision = screen(
            &lead,
            &campaign(),
            1,
            DncHit::default(),
            at(2026, 6, 1, 2, 0),
        );
        // 02:00 UTC = 07:45 in Kathmandu: opens at 08:00 local = 02:15 UTC.
        assert_eq!(
            decision,
            ScreenDecision::Reschedule {
                at: at(2026, 6, 1, 2, 15)
            }
        );
    }

    #[test]
    fn a_number_spanning_zones_must_be_open_in_all_of_them() {
        let zones = [
            chrono_tz::America::New_York,
            chrono_tz::America::Los_Angeles,
        ];
        let w = CallingWindow::daily((8, 0), (21, 0));
        // 14:00 UTC in June: 10:00 New York, 07:00 Los Angeles -> closed.
        assert!(!window_open(&w, &US_FEDERAL, &zones, at(2026, 6, 1, 14, 0)));
        assert_eq!(
            next_opening(&w, &US_FEDERAL, &zones, at(2026, 6, 1, 14, 0)),
            Some(at(2026, 6, 1, 15, 0))
        );
        // Zones that never overlap: no opening.
        let far = [chrono_tz::America::New_York, chrono_tz::Asia::Tokyo];
        let short = CallingWindow::daily((9, 0), (10, 0));
        assert_eq!(
            next_opening(&short, &US_FEDERAL, &far, at(2026, 6, 1, 14, 0)),
            None
        );
        assert!(!window_open(&w, &US_FEDERAL, &[], at(2026, 6, 1, 14, 0)));
    }

    #[test]
    fn weekday_restrictions_skip_to_the_next_allowed_day() {
        let mut w = CallingWindow::daily((9, 0), (17, 0));
        w.days = vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ];
        let la = [chrono_tz::America::Los_Angeles];
        // Saturday 6 June 2026, noon in LA -> Monday 09:00 PDT = 16:00 UTC.
        assert_eq!(
            next_opening(&w, &US_FEDERAL, &la, at(2026, 6, 6, 19, 0)),
            Some(at(2026, 6, 8, 16, 0))
        );
    }

    #[test]
    fn dnc_consent_and_attempt_limit_reject() {
        let c = campaign();
        let now = at(2026, 6, 1, 18, 0);
        let ok = lead(LOS_ANGELES, None, true);
        let hit = |global, campaign| DncHit { global, campaign };
        assert_eq!(
            screen(&ok, &c, 1, hit(true, false), now),
            ScreenDecision::Reject(ScreenReason::DoNotCallGlobal)
        );
        assert_eq!(
            screen(&ok, &c, 1, hit(false, true), now),
            ScreenDecision::Reject(ScreenReason::DoNotCallCampaign)
        );
        assert_eq!(
            screen(
                &lead(LOS_ANGELES, None, false),
                &c,
                1,
                DncHit::default(),
                now
            ),
            ScreenDecision::Reject(ScreenReason::NoConsent)
        );
        assert_eq!(
            screen(&ok, &c, 4, DncHit::default(), now),
            ScreenDecision::Reject(ScreenReason::AttemptLimit)
        );
        // DNC wins even outside the window.
        assert_eq!(
            screen(&ok, &c, 1, hit(true, false), at(2026, 6, 1, 5, 0)),
            ScreenDecision::Reject(ScreenReason::DoNotCallGlobal)
        );
    }

    #[test]
    fn the_compliance_record_says_why() {
        let decision = screen(
            &lead(MUMBAI, None, true),
            &campaign(),
            2,
            DncHit::default(),
            at(2026, 6, 1, 6, 0),
        );
        let ScreenDecision::Allow(record) = decision else {
            panic!("{decision:?}")
        };
        assert_eq!(record.rules, RULES_VERSION);
        assert_eq!(record.attempt, 2);
        assert_eq!(record.max_attempts, 3);
        assert_eq!(record.region.as_deref(), Some("IN"));
        assert_eq!(record.window, "09:00-21:00");
        assert_eq!(record.zone_source, "number");
        assert_eq!(
            record.local_times["Asia/Calcutta"],
            "2026-06-01T11:30:00+05:30 Mon"
        );
        assert!(record.dnc_global_clear && record.dnc_campaign_clear && record.consent);
    }

    #[test]
    fn a_window_opens_at_its_start_and_closes_at_its_end() {
        let window = CallingWindow::daily((8, 0), (21, 0));
        let day = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let open = |h, m, s| window.contains_local(day.and_hms_opt(h, m, s).unwrap());
        assert!(!open(7, 59, 59));
        assert!(open(8, 0, 0));
        assert!(open(20, 59, 59));
        assert!(!open(21, 0, 0));
    }

    #[test]
    fn a_window_that_is_never_open_is_refused() {
        // Windows inside every floor, so only the window's own check refuses them.
        for (json, why) in [
            (
                r#"{"default":{"start":"10:00","end":"10:00"}}"#,
                "opens after it closes",
            ),
            (
                r#"{"default":{"start":"10:00","end":"18:00","days":[]}}"#,
                "at least one weekday",
            ),
            (
                r#"{"countries":{"US":{"start":"10:00","end":"18:00","days":[]}}}"#,
                "US: a window needs at least one weekday",
            ),
        ] {
            let hours: CallingHours = serde_json::from_str(json).unwrap();
            let error = hours.validate().unwrap_err();
            assert!(error.contains(why), "{json}: {error}");
        }
    }

    #[test]
    fn calling_hours_name_countries_by_their_iso_code() {
        for country in ["us", "USA", "U"] {
            let json = format!(
                r#"{{"countries":{{"{country}":{{"start":"10:00","end":"18:00","days":["Mon"]}}}}}}"#
            );
            let hours: CallingHours = serde_json::from_str(&json).unwrap();
            let error = hours.validate().unwrap_err();
            assert!(error.contains("ISO 3166"), "{country}: {error}");
        }
    }

    #[test]
    fn a_local_time_skipped_by_dst_moves_forward() {
        // 02:30 does not exist in New York on the spring-forward night.
        let new_york: Tz = "America/New_York".parse().unwrap();
        let skipped = chrono::NaiveDate::from_ymd_opt(2026, 3, 8)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(
            local_to_utc(&new_york, skipped),
            Some(at(2026, 3, 8, 7, 0)) // 03:00 EDT
        );
    }

    #[test]
    fn the_last_attempt_within_the_limit_is_allowed() {
        let c = campaign();
        let last = c.settings.retry.max_attempts;
        let ok = lead(LOS_ANGELES, None, true);
        let now = at(2026, 6, 1, 18, 0);
        let decision = screen(&ok, &c, last, DncHit::default(), now);
        assert!(matches!(decision, ScreenDecision::Allow(_)), "{decision:?}");
        assert_eq!(
            screen(&ok, &c, last + 1, DncHit::default(), now),
            ScreenDecision::Reject(ScreenReason::AttemptLimit)
        );
    }

    #[test]
    fn calling_hours_are_configurable_and_validated() {
        let json = r#"{"default":{"start":"10:00","end":"18:00","days":["Mon","Tue","Wed","Thu","Fri"]},"countries":{"GB":{"start":"09:00","end":"20:00","days":["Mon","Tue"]}}}"#;
        let hours: CallingHours = serde_json::from_str(json).unwrap();
        assert_eq!(
            hours.window_for(Some("GB")).to_string(),
            "09:00-20:00 Mon,Tue"
        );
        assert_eq!(
            hours.window_for(Some("US")).to_string(),
            "10:00-18:00 Mon,Tue,Wed,Thu,Fri"
        );
        assert!(hours.validate().is_ok());
        let bad: CallingHours =
            serde_json::from_str(r#"{"default":{"start":"18:00","end":"10:00"}}"#).unwrap();
        assert!(bad.validate().is_err());
        assert!(
            serde_json::from_str::<CallingHours>(r#"{"default":{"start":"25:00","end":"10:00"}}"#)
                .is_err()
        );
        let lower: CallingHours =
            serde_json::from_str(r#"{"countries":{"us":{"start":"08:00","end":"09:00"}}}"#)
                .unwrap();
        assert!(lower.validate().is_err());
    }

    fn lead_in(number: &str, state: Option<&str>, consent: bool) -> Lead {
        let mut l = lead(number, None, consent);
        if let Some(state) = state {
            l.custom.insert("state".into(), state.into());
        }
        l
    }

    /// Whether `lead` may be dialled at `t` by the default campaign; the
    /// record's floor when it may.
    fn allowed(lead: &Lead, t: Timestamp) -> Option<String> {
        match screen(lead, &campaign(), 1, DncHit::default(), t) {
            ScreenDecision::Allow(record) => Some(record.floor),
            _ => None,
        }
    }

    const MIAMI: &str = "+13055550100";
    const OKLAHOMA_CITY: &str = "+14055550100";
    const SEATTLE: &str = "+12065550100";
    const HOUSTON: &str = "+17135550100";

    #[test]
    fn the_0157_finding_a_wide_open_campaign_cannot_dial_new_york_at_night() {
        // GIVEN the finding's campaign: no consent required, 00:00-23:59
        let mut settings = CampaignSettings {
            require_consent: false,
            ..CampaignSettings::default()
        };
        settings
            .calling_hours
            .countries
            .insert("US".into(), CallingWindow::daily((0, 0), (23, 59)));
        // THEN it cannot be created (the floor is named)...
        let refused = Campaign::new(
            CampaignId::parse("c1").unwrap(),
            settings.clone(),
            at(2026, 1, 1, 0, 0),
        )
        .unwrap_err()
        .to_string();
        assert!(refused.contains("US (TCPA) 08:00-21:00"), "{refused}");
        // AND a campaign stored before the floor existed with those settings
        let mut stored = campaign();
        stored.settings = settings;
        stored.settings.calling_hours.default = CallingWindow::daily((0, 0), (23, 59));
        // WHEN a consent=no New York lead comes up at 01:57 EST (06:57 UTC)
        let t = at(2026, 1, 15, 6, 57);
        let no = lead(NEW_YORK, None, false);
        // THEN it is refused for lack of consent
        assert_eq!(
            screen(&no, &stored, 1, DncHit::default(), t),
            ScreenDecision::Reject(ScreenReason::NoConsent)
        );
        // AND a consenting lead waits for 08:00 EST (13:00 UTC)
        let yes = lead(NEW_YORK, None, true);
        assert_eq!(
            screen(&yes, &stored, 1, DncHit::default(), t),
            ScreenDecision::Reschedule {
                at: at(2026, 1, 15, 13, 0)
            }
        );
    }

    #[test]
    fn state_rules_narrow_the_federal_window() {
        // Thursday 15 January 2026, 20:30 local (EST = UTC-5, CST = UTC-6, PST = UTC-8)
        let ny_2030 = at(2026, 1, 16, 1, 30);
        assert_eq!(
            allowed(&lead(NEW_YORK, None, true), ny_2030).as_deref(),
            Some("US-NY: TCPA 08:00-21:00")
        );
        // Florida and Washington close at 20:00
        assert_eq!(allowed(&lead(MIAMI, None, true), ny_2030), None);
        assert_eq!(
            allowed(&lead(MIAMI, None, true), at(2026, 1, 16, 0, 30)).as_deref(),
            Some("US-FL: Fla. Stat. 501.616 08:00-20:00")
        );
        assert_eq!(
            allowed(&lead(SEATTLE, None, true), at(2026, 1, 16, 4, 30)),
            None
        );
        assert!(allowed(&lead(SEATTLE, None, true), at(2026, 1, 16, 3, 30)).is_some());
        // Oklahoma opens at 09:00 (automatic dialers) and closes at 20:00
        let ok = lead(OKLAHOMA_CITY, None, true);
        assert_eq!(allowed(&ok, at(2026, 1, 15, 14, 30)), None); // 08:30 CST
        assert_eq!(
            screen(
                &ok,
                &campaign(),
                1,
                DncHit::default(),
                at(2026, 1, 15, 14, 30)
            ),
            ScreenDecision::Reschedule {
                at: at(2026, 1, 15, 15, 0)
            }
        );
        // Texas: 09:00 on Saturday, noon on Sunday
        let tx = lead(HOUSTON, None, true);
        assert!(allowed(&tx, at(2026, 1, 17, 15, 30)).is_some()); // Sat 09:30 CST
        assert_eq!(allowed(&tx, at(2026, 1, 18, 16, 0)), None); // Sun 10:00 CST
        assert_eq!(
            screen(
                &tx,
                &campaign(),
                1,
                DncHit::default(),
                at(2026, 1, 18, 16, 0)
            ),
            ScreenDecision::Reschedule {
                at: at(2026, 1, 18, 18, 0)
            }
        );
        // the lead's state column wins over the area code
        assert_eq!(allowed(&lead_in(NEW_YORK, Some("fl"), true), ny_2030), None);
        assert!(allowed(&lead_in(NEW_YORK, Some("ny"), true), ny_2030).is_some());
    }

    #[test]
    fn a_state_rule_follows_dst() {
        // Florida's 20:00 close is 01:00 UTC in winter (EST) and 00:00 UTC
        // in summer (EDT); the spring-forward day is 8 March 2026.
        let miami = lead(MIAMI, None, true);
        assert!(allowed(&miami, at(2026, 3, 8, 0, 30)).is_some()); // Sat 19:30 EST
        assert!(allowed(&miami, at(2026, 3, 8, 23, 30)).is_some()); // Sun 19:30 EDT
        assert_eq!(allowed(&miami, at(2026, 3, 9, 0, 30)), None); // Sun 20:30 EDT
    }

    #[test]
    fn india_and_the_uk_have_their_floors_and_elsewhere_is_conservative() {
        let mumbai = lead(MUMBAI, None, true);
        assert_eq!(
            allowed(&mumbai, at(2026, 6, 1, 4, 0)).as_deref(),
            Some("IN: TRAI TCCCPR 2018 09:00-21:00")
        );
        let london = lead("+442079460000", None, true);
        assert_eq!(allowed(&london, at(2026, 1, 15, 7, 30)), None); // 07:30 GMT
        assert!(allowed(&london, at(2026, 1, 15, 8, 30)).is_some());
        // Germany: the default floor, weekdays only
        let berlin = lead("+4930901820", None, true);
        assert!(allowed(&berlin, at(2026, 1, 15, 10, 0)).is_some()); // Thu 11:00 CET
        assert_eq!(allowed(&berlin, at(2026, 1, 17, 10, 0)), None); // Sat
    }

    #[test]
    fn a_campaign_may_narrow_the_floor_but_not_widen_it() {
        let hours = |json: &str| {
            serde_json::from_str::<CallingHours>(json)
                .unwrap()
                .validate()
        };
        // narrower: fine
        assert!(hours(r#"{"countries":{"US":{"start":"10:00","end":"18:00"}}}"#).is_ok());
        // earlier than the TCPA
        let err = hours(r#"{"countries":{"US":{"start":"07:00","end":"21:00"}}}"#).unwrap_err();
        assert!(err.contains("US (TCPA) 08:00-21:00"), "{err}");
        // later than TRAI
        let err = hours(r#"{"countries":{"IN":{"start":"09:00","end":"21:30"}}}"#).unwrap_err();
        assert!(err.contains("IN (TRAI TCCCPR 2018)"), "{err}");
        // weekends elsewhere
        let err = hours(r#"{"default":{"start":"10:00","end":"18:00"}}"#).unwrap_err();
        assert!(err.contains("no calls on Sat"), "{err}");
    }

    #[test]
    fn only_an_admin_waiver_turns_the_consent_rule_off() {
        let no = lead(NEW_YORK, None, false);
        let noon = at(2026, 1, 15, 17, 0);
        let mut c = campaign();
        assert_eq!(
            screen(&no, &c, 1, DncHit::default(), noon),
            ScreenDecision::Reject(ScreenReason::NoConsent)
        );
        // a settings flag alone changes nothing
        c.settings.require_consent = false;
        assert_eq!(
            screen(&no, &c, 1, DncHit::default(), noon),
            ScreenDecision::Reject(ScreenReason::NoConsent)
        );
        // a waiver needs who and why
        let waiver = |by: &str, reason: &str| crate::ConsentWaiver {
            by: by.into(),
            reason: reason.into(),
            at: noon,
        };
        assert!(c.waive_consent(waiver(" ", "existing customers")).is_err());
        assert!(c.waive_consent(waiver("admin-1", "")).is_err());
        c.waive_consent(waiver("admin-1", "existing customers, service call"))
            .unwrap();
        let ScreenDecision::Allow(record) = screen(&no, &c, 1, DncHit::default(), noon) else {
            panic!("a waived campaign dials without consent");
        };
        assert!(!record.consent_required && !record.consent);
        assert_eq!(c.consent_waiver.unwrap().by, "admin-1");
    }
}
