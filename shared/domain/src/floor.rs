//! The legal floor: the calling hours and consent rule the law sets for a
//! callee's jurisdiction. A campaign may narrow the floor, never widen it:
//! its windows are checked against it when it is created, and screening
//! dials only inside both (the campaign's window and the floor's hours).
//!
//! Jurisdiction: the country from the number (or the lead); in the US, the
//! state from the lead's `state` column when given, else from the number's
//! area code (`data/us_area_codes.txt`). A US number whose area code is not
//! in that table gets [`US_UNKNOWN_STATE`], the strictest of the state rules.
//!
//! Sources (checked December 2026; the hours are the callee's local time):
//! - US federal: TCPA, 47 CFR 64.1200(c)(1): no telephone solicitation
//!   before 8:00 or after 21:00
//!   (<https://www.leadgen-economy.com/blog/telemarketing-calling-hours-by-state>).
//! - Florida: Fla. Stat. 501.616(6)(a) (Telephone Solicitation Act as
//!   amended by SB 1120, 2021): 8:00–20:00
//!   (<https://blog.clickpointsoftware.com/telemarketing-calling-hours-by-state>).
//! - Oklahoma: Telephone Solicitation Act of 2022, 15 O.S. 775C.4: 8:00–20:00
//!   (<https://dnc.dreamhosters.com/?p=1309>); and 15 O.S. 755.1(C)(2):
//!   automatic dial announcing devices (an AI voice agent is one) not before
//!   9:00 or after 21:00 (<https://lexace.ai/us/statute/oklahoma/15-755.1>).
//!   Both apply: 9:00–20:00.
//! - Washington: RCW 80.36.390(6): no solicitation before 8:00 or after 20:00
//!   (<https://instalawyer.io/laws/revised-code-of-washington/8036390-telephone-solicitation>).
//! - Texas: Tex. Bus. & Com. Code 301.051: 9:00–21:00 Monday to Saturday,
//!   12:00–21:00 on Sunday
//!   (<https://blog.clickpointsoftware.com/telemarketing-calling-hours-by-state>).
//! - India: TRAI Telecom Commercial Communications Customer Preference
//!   Regulations 2018: commercial calls 9:00–21:00.
//! - United Kingdom: no statutory hours; Ofcom's persistent-misuse policy
//!   and the DMA code keep calls within 8:00–21:00.
//! - Elsewhere: a conservative 9:00–20:00 on weekdays.
//!
//! Consent: every rule here requires the callee's prior consent for an
//! AI-voice call (the TCPA's "artificial or prerecorded voice" rule, 47 USC
//! 227(b)(1); Oklahoma's and Florida's written consent for automated
//! systems; TRAI's preference registry; PECR reg. 19 in the UK). A campaign
//! turns the consent check off only through an audited admin waiver.
//!
//! Not modelled: state legal holidays (Alabama, Louisiana, Mississippi, …
//! forbid calls on some), per-day call caps (Florida and Oklahoma: three per
//! 24 hours), and states whose stricter hours are not verified above; the
//! table is one `const` per rule, so adding one is a line and a source.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDateTime, NaiveTime, Weekday};

use crate::{CallingHours, CallingWindow, Lead};

/// One jurisdiction's floor: allowed local hours per weekday, and whether
/// consent is required.
#[derive(Debug, PartialEq, Eq)]
pub struct FloorRule {
    /// The jurisdiction (`US`, `US-TX`, `IN`, `*` for the default).
    pub id: &'static str,
    /// The rule's short name (`TCPA`, `Tex. Bus. & Com. Code 301.051`).
    pub law: &'static str,
    /// Allowed local hours `[open, close)` per weekday, Monday first, in
    /// whole hours; `None`: no calls that day.
    hours: [Option<(u32, u32)>; 7],
    /// Whether the callee's prior consent is required.
    pub consent: bool,
}

const fn every_day(open: u32, close: u32) -> [Option<(u32, u32)>; 7] {
    [Some((open, close)); 7]
}

/// US federal: TCPA, 47 CFR 64.1200(c)(1).
pub const US_FEDERAL: FloorRule = FloorRule {
    id: "US",
    law: "TCPA",
    hours: every_day(8, 21),
    consent: true,
};

/// Florida: Fla. Stat. 501.616(6)(a).
const US_FL: FloorRule = FloorRule {
    id: "US-FL",
    law: "Fla. Stat. 501.616",
    hours: every_day(8, 20),
    consent: true,
};

/// Oklahoma: 15 O.S. 775C.4 (8–20) with 755.1 for automatic dialers (9–21).
const US_OK: FloorRule = FloorRule {
    id: "US-OK",
    law: "15 O.S. 775C.4 and 755.1",
    hours: every_day(9, 20),
    consent: true,
};

/// Washington: RCW 80.36.390.
const US_WA: FloorRule = FloorRule {
    id: "US-WA",
    law: "RCW 80.36.390",
    hours: every_day(8, 20),
    consent: true,
};

/// Texas: Tex. Bus. & Com. Code 301.051.
const US_TX: FloorRule = FloorRule {
    id: "US-TX",
    law: "Tex. Bus. & Com. Code 301.051",
    hours: [
        Some((9, 21)),
        Some((9, 21)),
        Some((9, 21)),
        Some((9, 21)),
        Some((9, 21)),
        Some((9, 21)),
        Some((12, 21)),
    ],
    consent: true,
};

/// A US number of no known state: every state rule above at once.
pub const US_UNKNOWN_STATE: FloorRule = FloorRule {
    id: "US-??",
    law: "strictest state rule (state unknown)",
    hours: [
        Some((9, 20)),
        Some((9, 20)),
        Some((9, 20)),
        Some((9, 20)),
        Some((9, 20)),
        Some((9, 20)),
        Some((12, 20)),
    ],
    consent: true,
};

/// India: TRAI TCCCPR 2018.
const IN: FloorRule = FloorRule {
    id: "IN",
    law: "TRAI TCCCPR 2018",
    hours: every_day(9, 21),
    consent: true,
};

/// United Kingdom: Ofcom persistent misuse policy, DMA code.
const GB: FloorRule = FloorRule {
    id: "GB",
    law: "Ofcom/DMA",
    hours: every_day(8, 21),
    consent: true,
};

/// Every other country: weekdays 9:00–20:00.
pub const DEFAULT_FLOOR: FloorRule = FloorRule {
    id: "*",
    law: "voxdial default",
    hours: [
        Some((9, 20)),
        Some((9, 20)),
        Some((9, 20)),
        Some((9, 20)),
        Some((9, 20)),
        None,
        None,
    ],
    consent: true,
};

/// The US states with rules stricter than the TCPA.
const US_STATES: [&FloorRule; 4] = [&US_FL, &US_OK, &US_WA, &US_TX];

fn hm(hour: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour, 0, 0).expect("an hour of the day")
}

impl FloorRule {
    /// The allowed `[open, close)` local times on `day`, if any.
    pub fn hours_on(&self, day: Weekday) -> Option<(NaiveTime, NaiveTime)> {
        self.hours[day.num_days_from_monday() as usize].map(|(o, c)| (hm(o), hm(c)))
    }

    /// Whether a call at `local` (the callee's wall clock) is allowed.
    pub fn allows(&self, local: NaiveDateTime) -> bool {
        self.hours_on(local.weekday())
            .is_some_and(|(open, close)| local.time() >= open && local.time() < close)
    }

    /// Why `window` is wider than this floor, or `None` when it fits.
    pub fn widened_by(&self, window: &CallingWindow) -> Option<String> {
        window
            .days
            .iter()
            .find_map(|&day| match self.hours_on(day) {
                None => Some(format!("{self} allows no calls on {day}")),
                Some((open, close)) if window.start < open || window.end > close => Some(format!(
                    "{window} is wider than the legal floor {self} on {day}"
                )),
                Some(_) => None,
            })
    }

    /// The floor's hours as text: `08:00-21:00`, or by runs of days when
    /// they differ (`Mon-Sat 09:00-21:00, Sun 12:00-21:00`).
    fn hours_text(&self) -> String {
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let text = |h: Option<(u32, u32)>| match h {
            Some((o, c)) => format!("{o:02}:00-{c:02}:00"),
            None => "closed".into(),
        };
        if self.hours.iter().all(|h| *h == self.hours[0]) {
            return text(self.hours[0]);
        }
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for day in 0..7 {
            match runs.last_mut() {
                Some((_, last)) if self.hours[*last] == self.hours[day] => *last = day,
                _ => runs.push((day, day)),
            }
        }
        runs.iter()
            .map(|&(first, last)| {
                let days = if first == last {
                    DAYS[first].to_string()
                } else {
                    format!("{}-{}", DAYS[first], DAYS[last])
                };
                format!("{days} {}", text(self.hours[first]))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The compliance record's name of this rule for a callee in `place`
    /// (`US-NY: TCPA 08:00-21:00`).
    pub fn label(&self, place: &str) -> String {
        format!("{place}: {} {}", self.law, self.hours_text())
    }
}

impl fmt::Display for FloorRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}) {}", self.id, self.law, self.hours_text())
    }
}

/// The floor of a country (`US` is the federal rule).
pub fn country_floor(country: &str) -> &'static FloorRule {
    match country {
        "US" => &US_FEDERAL,
        "IN" => &IN,
        "GB" => &GB,
        _ => &DEFAULT_FLOOR,
    }
}

/// The floor of a US state (two letters); the federal rule when the state
/// has no stricter one.
pub fn us_state_floor(state: &str) -> &'static FloorRule {
    let id = format!("US-{state}");
    US_STATES
        .iter()
        .find(|r| r.id == id)
        .copied()
        .unwrap_or(&US_FEDERAL)
}

fn area_codes() -> &'static HashMap<u16, &'static str> {
    static TABLE: OnceLock<HashMap<u16, &'static str>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut map = HashMap::new();
        for line in include_str!("../data/us_area_codes.txt").lines() {
            let mut words = line.split_whitespace();
            let Some(state) = words.next().filter(|s| !s.starts_with('#')) else {
                continue;
            };
            for code in words.filter_map(|w| w.parse().ok()) {
                map.insert(code, state);
            }
        }
        map
    })
}

/// The US state (two letters) of a `+1` number's area code, if known.
pub fn us_state_of_number(e164: &str) -> Option<&'static str> {
    let code: u16 = e164.strip_prefix("+1")?.get(..3)?.parse().ok()?;
    area_codes().get(&code).copied()
}

/// Whether `state` is a US state code of the area code table.
fn known_state(state: &str) -> bool {
    area_codes().values().any(|s| *s == state)
}

/// A callee's jurisdiction and its floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jurisdiction {
    /// Where the callee is (`US-NY`, `IN`, `US-??`, or `*` elsewhere).
    pub place: String,
    /// The rule that applies there.
    pub rule: &'static FloorRule,
}

impl Jurisdiction {
    /// The name the compliance record gives the rule.
    pub fn label(&self) -> String {
        self.rule.label(&self.place)
    }
}

/// The jurisdiction of `lead` in `region` (its country): a US lead's state
/// from its `state` column, else from its number's area code.
pub fn jurisdiction(lead: &Lead, region: Option<&str>) -> Jurisdiction {
    let Some(country) = region else {
        return Jurisdiction {
            place: DEFAULT_FLOOR.id.into(),
            rule: &DEFAULT_FLOOR,
        };
    };
    if country != "US" {
        return Jurisdiction {
            place: country.into(),
            rule: country_floor(country),
        };
    }
    let column = lead
        .custom
        .get("state")
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| known_state(s));
    match column.or_else(|| us_state_of_number(lead.phone.as_str()).map(str::to_owned)) {
        Some(state) => Jurisdiction {
            rule: us_state_floor(&state),
            place: format!("US-{state}"),
        },
        None => Jurisdiction {
            place: US_UNKNOWN_STATE.id.into(),
            rule: &US_UNKNOWN_STATE,
        },
    }
}

/// Why `hours` widen the floor, naming the rule, or `Ok`: each country's
/// window must fit that country's floor, and the default window the
/// default floor (the strictest "elsewhere" rule).
pub fn check_hours(hours: &CallingHours) -> Result<(), String> {
    if let Some(why) = DEFAULT_FLOOR.widened_by(&hours.default) {
        return Err(format!("default: {why}"));
    }
    for (country, window) in &hours.countries {
        if let Some(why) = country_floor(country).widened_by(window) {
            return Err(format!("{country}: {why}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_codes_name_their_state() {
        assert_eq!(us_state_of_number("+12125550100"), Some("NY"));
        assert_eq!(us_state_of_number("+17135550100"), Some("TX"));
        assert_eq!(us_state_of_number("+19995550100"), None);
        assert_eq!(us_state_of_number("+442079460000"), None);
        // every state of the table parses, one line each
        assert_eq!(
            area_codes()
                .values()
                .collect::<std::collections::HashSet<_>>()
                .len(),
            51
        );
    }

    #[test]
    fn rules_read_as_their_law_and_hours() {
        assert_eq!(US_FEDERAL.label("US-NY"), "US-NY: TCPA 08:00-21:00");
        assert_eq!(
            US_TX.to_string(),
            "US-TX (Tex. Bus. & Com. Code 301.051) Mon-Sat 09:00-21:00, Sun 12:00-21:00"
        );
        assert_eq!(
            DEFAULT_FLOOR.to_string(),
            "* (voxdial default) Mon-Fri 09:00-20:00, Sat-Sun closed"
        );
        assert_eq!(us_state_floor("NY"), &US_FEDERAL);
        assert_eq!(us_state_floor("FL").id, "US-FL");
    }

    #[test]
    fn hours_open_at_their_start_and_close_at_their_end() {
        let at = |h, m| {
            chrono::NaiveDate::from_ymd_opt(2026, 1, 6)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap()
        };
        assert!(!US_FEDERAL.allows(at(7, 59)));
        assert!(US_FEDERAL.allows(at(8, 0)));
        assert!(US_FEDERAL.allows(at(20, 59)));
        assert!(!US_FEDERAL.allows(at(21, 0)));
    }

    #[test]
    fn a_us_lead_s_state_column_wins_over_its_area_code_when_it_names_a_state() {
        let mut lead = crate::lead::tests::new_lead(chrono::DateTime::UNIX_EPOCH);
        assert_eq!(jurisdiction(&lead, Some("US")).place, "US-NY");
        lead.custom.insert("state".into(), " tx ".into());
        assert_eq!(jurisdiction(&lead, Some("US")).place, "US-TX");
        lead.custom.insert("state".into(), "ZZ".into());
        assert_eq!(
            jurisdiction(&lead, Some("US")).place,
            "US-NY",
            "not a state"
        );
    }
}
