//! Recording consent: which callees must hear a notice that the call is
//! recorded before the greeting (all-party-consent jurisdictions), and the
//! callee's jurisdiction from the number: the country, and for US numbers
//! the state of the area code.
//!
//! The lists are configuration ([`ConsentRules`]); the defaults name the US
//! states whose laws require every party's consent to record a phone call
//! (California, Connecticut, Delaware, Florida, Illinois, Maryland,
//! Massachusetts, Michigan, Montana, Nevada, New Hampshire, Pennsylvania,
//! Washington) and countries where a business must tell callers it records
//! them (the EU/EEA under the GDPR's transparency rules, the UK,
//! Switzerland, Canada, Australia). An area code says where a number was
//! issued, not where the person is: mobile numbers travel. The rule errs on
//! the side of the notice: a notice is played when the number's state *or*
//! country is listed.

use serde::{Deserialize, Serialize};

use crate::{E164, RecordingPolicy};

/// Where a notice that the call is recorded is required.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsentRules {
    /// ISO 3166 country codes (`DE`).
    pub countries: Vec<String>,
    /// US states by postal code (`CA`).
    pub us_states: Vec<String>,
}

impl Default for ConsentRules {
    fn default() -> Self {
        let countries = [
            "AT", "AU", "BE", "BG", "CA", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR",
            "GB", "GR", "HR", "HU", "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO",
            "PL", "PT", "RO", "SE", "SI", "SK",
        ];
        let states = [
            "CA", "CT", "DE", "FL", "IL", "MD", "MA", "MI", "MT", "NV", "NH", "PA", "WA",
        ];
        ConsentRules {
            countries: countries.iter().map(|c| c.to_string()).collect(),
            us_states: states.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl ConsentRules {
    /// Whether the callee at `number` must hear the recording notice.
    pub fn requires_notice(&self, number: &E164) -> bool {
        let region = number.region();
        let country = region
            .as_deref()
            .is_some_and(|r| self.countries.iter().any(|c| c.eq_ignore_ascii_case(r)));
        let state = us_state(number)
            .is_some_and(|s| self.us_states.iter().any(|x| x.eq_ignore_ascii_case(s)));
        country || state
    }

    /// Whether a call of a campaign recording under `policy` to `number`
    /// starts with the recording notice: when the call may be recorded at
    /// all and the jurisdiction needs it. (`on_demand` counts: recording
    /// may start mid-call, after the greeting.)
    pub fn consent_notice(&self, policy: &RecordingPolicy, number: &E164) -> bool {
        *policy != RecordingPolicy::Off && self.requires_notice(number)
    }
}

/// The callee's jurisdictions, most specific first: `US-CA` and `US` for a
/// Californian number, `IN` for an Indian one.
pub fn jurisdictions(number: &E164) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(state) = us_state(number) {
        out.push(format!("US-{state}"));
    }
    if let Some(region) = number.region() {
        out.push(region);
    }
    out
}

/// The US state (postal code) of a US number's area code.
pub fn us_state(number: &E164) -> Option<&'static str> {
    if number.region().as_deref() != Some("US") {
        return None;
    }
    let digits = number.as_str().strip_prefix("+1")?;
    let area: u16 = digits.get(..3)?.parse().ok()?;
    US_AREA_CODES
        .iter()
        .find(|(_, codes)| codes.contains(&area))
        .map(|(state, _)| *state)
}

/// US area codes by state (NANPA assignments in service, overlays included).
const US_AREA_CODES: &[(&str, &[u16])] = &[
    ("AL", &[205, 251, 256, 334, 483, 659, 938]),
    ("AK", &[907]),
    ("AZ", &[480, 520, 602, 623, 928]),
    ("AR", &[327, 479, 501, 870]),
    (
        "CA",
        &[
            209, 213, 279, 310, 323, 341, 350, 357, 369, 408, 415, 424, 442, 510, 530, 559, 562,
            619, 626, 628, 650, 657, 661, 669, 707, 714, 738, 747, 760, 805, 818, 820, 831, 840,
            858, 909, 916, 925, 949, 951,
        ],
    ),
    ("CO", &[303, 719, 720, 748, 970, 983]),
    ("CT", &[203, 475, 860, 959]),
    ("DE", &[302]),
    ("DC", &[202, 771]),
    (
        "FL",
        &[
            239, 305, 321, 324, 352, 386, 407, 448, 561, 645, 656, 689, 727, 728, 754, 772, 786,
            813, 850, 863, 904, 941, 954,
        ],
    ),
    ("GA", &[229, 404, 470, 478, 678, 706, 762, 770, 912, 943]),
    ("HI", &[808]),
    ("ID", &[208, 986]),
    (
        "IL",
        &[
            217, 224, 309, 312, 331, 447, 464, 618, 630, 708, 730, 773, 779, 815, 847, 861, 872,
        ],
    ),
    ("IN", &[219, 260, 317, 463, 574, 765, 812, 930]),
    ("IA", &[319, 515, 563, 641, 712]),
    ("KS", &[316, 620, 785, 913]),
    ("KY", &[270, 364, 502, 606, 859]),
    ("LA", &[225, 318, 337, 457, 504, 985]),
    ("ME", &[207]),
    ("MD", &[227, 240, 301, 410, 443, 667]),
    ("MA", &[339, 351, 413, 508, 617, 774, 781, 857, 978]),
    (
        "MI",
        &[
            231, 248, 269, 313, 517, 586, 616, 679, 734, 810, 906, 947, 989,
        ],
    ),
    ("MN", &[218, 320, 507, 612, 651, 763, 924, 952]),
    ("MS", &[228, 601, 662, 769]),
    ("MO", &[235, 314, 417, 557, 573, 636, 660, 816, 975]),
    ("MT", &[406]),
    ("NE", &[308, 402, 531]),
    ("NV", &[702, 725, 775]),
    ("NH", &[603]),
    ("NJ", &[201, 551, 609, 640, 732, 848, 856, 862, 908, 973]),
    ("NM", &[505, 575]),
    (
        "NY",
        &[
            212, 315, 329, 332, 347, 363, 516, 518, 585, 607, 624, 631, 646, 680, 716, 718, 838,
            845, 914, 917, 929, 934,
        ],
    ),
    ("NC", &[252, 336, 472, 704, 743, 828, 910, 919, 980, 984]),
    ("ND", &[701]),
    (
        "OH",
        &[
            216, 220, 234, 283, 326, 330, 380, 419, 436, 440, 513, 567, 614, 740, 937,
        ],
    ),
    ("OK", &[405, 539, 572, 580, 918]),
    ("OR", &[458, 503, 541, 971]),
    (
        "PA",
        &[
            215, 223, 267, 272, 412, 445, 484, 570, 582, 610, 717, 724, 814, 835, 878,
        ],
    ),
    ("RI", &[401]),
    ("SC", &[803, 821, 839, 843, 854, 864]),
    ("SD", &[605]),
    ("TN", &[423, 615, 629, 731, 865, 901, 931]),
    (
        "TX",
        &[
            210, 214, 254, 281, 325, 346, 361, 409, 430, 432, 469, 512, 682, 713, 726, 737, 806,
            817, 830, 832, 903, 915, 936, 940, 945, 956, 972, 979,
        ],
    ),
    ("UT", &[385, 435, 801]),
    ("VT", &[802]),
    ("VA", &[276, 434, 540, 571, 686, 703, 757, 804, 826, 948]),
    ("WA", &[206, 253, 360, 425, 509, 564]),
    ("WV", &[304, 681]),
    ("WI", &[262, 274, 353, 414, 534, 608, 715, 920]),
    ("WY", &[307]),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> E164 {
        E164::parse(s, None).unwrap()
    }

    #[test]
    fn area_codes_map_to_one_state_each() {
        let mut seen = std::collections::BTreeMap::new();
        for (state, codes) in US_AREA_CODES {
            for code in *codes {
                assert!(
                    seen.insert(*code, *state).is_none(),
                    "area code {code} is listed twice"
                );
            }
        }
        assert_eq!(us_state(&n("+14155550100")), Some("CA"));
        assert_eq!(us_state(&n("+12125550100")), Some("NY"));
        assert_eq!(us_state(&n("+13125550100")), Some("IL"));
        assert_eq!(us_state(&n("+919876543210")), None);
    }

    #[test]
    fn notice_where_the_state_or_country_requires_it_and_only_when_recording() {
        let rules = ConsentRules::default();
        assert!(rules.requires_notice(&n("+14155550100")), "California");
        assert!(!rules.requires_notice(&n("+12125550100")), "New York");
        assert!(!rules.requires_notice(&n("+919876543210")), "India");
        assert!(rules.requires_notice(&n("+4930123456789")), "Germany");
        assert!(rules.consent_notice(&RecordingPolicy::All, &n("+14155550100")));
        assert!(rules.consent_notice(&RecordingPolicy::OnDemand, &n("+14155550100")));
        assert!(!rules.consent_notice(&RecordingPolicy::Off, &n("+14155550100")));
        let custom = ConsentRules {
            countries: vec!["IN".into()],
            us_states: vec!["NY".into()],
        };
        assert!(custom.requires_notice(&n("+12125550100")));
        assert!(custom.requires_notice(&n("+919876543210")));
        assert!(!custom.requires_notice(&n("+14155550100")));
        assert_eq!(jurisdictions(&n("+14155550100")), vec!["US-CA", "US"]);
    }
}
