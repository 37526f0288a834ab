//! E.164 phone numbers, validated with libphonenumber's metadata (the
//! `phonenumber` crate), with the callee's country and candidate time zones.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A phone number could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// The text is not a phone number at all.
    #[error("not a phone number: {0}")]
    Unparseable(String),
    /// It parses, but no numbering plan allows it (wrong length, unused range).
    #[error("not a valid number in its country's numbering plan")]
    Invalid,
    /// A number a spreadsheet rewrote in scientific notation (`2.1255501E9`):
    /// its last digits are lost, so no number can be read from it.
    #[error("written in scientific notation (a spreadsheet rounded it; export the column as text)")]
    ScientificNotation,
    /// Letters in the number (`1-800-FLOWERS`, `212555010O`): they would be
    /// read as keypad digits, dialling a number nobody wrote.
    #[error("contains letters")]
    Letters,
    /// An extension (`x123`, `ext. 123`, `;ext=123`, `#123`, `,123`): it cannot be
    /// dialled after the call connects, so the lead would reach the wrong person.
    #[error("has an extension, which cannot be dialled")]
    Extension,
}

/// What kind of line a number is, by libphonenumber's numbering plans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberType {
    /// A fixed line.
    FixedLine,
    /// A mobile.
    Mobile,
    /// A fixed line or a mobile (the plan cannot tell, e.g. in the US).
    FixedLineOrMobile,
    /// A freephone line.
    TollFree,
    /// A premium-rate line (the caller pays a surcharge).
    PremiumRate,
    /// A shared-cost line.
    SharedCost,
    /// A personal number that forwards elsewhere.
    PersonalNumber,
    /// A VoIP number.
    Voip,
    /// A pager.
    Pager,
    /// A universal access (company) number.
    Uan,
    /// A voicemail access number.
    Voicemail,
    /// Any other type (emergency, short code, carrier) or none known.
    Unknown,
}

impl NumberType {
    /// The types dialled without a campaign's explicit allowance: lines a
    /// person answers at the standard rate.
    pub const CALLABLE: [NumberType; 5] = [
        NumberType::FixedLine,
        NumberType::Mobile,
        NumberType::FixedLineOrMobile,
        NumberType::TollFree,
        NumberType::Voip,
    ];

    /// The name used in settings and error messages (`premium_rate`).
    pub fn label(self) -> &'static str {
        match self {
            NumberType::FixedLine => "fixed_line",
            NumberType::Mobile => "mobile",
            NumberType::FixedLineOrMobile => "fixed_line_or_mobile",
            NumberType::TollFree => "toll_free",
            NumberType::PremiumRate => "premium_rate",
            NumberType::SharedCost => "shared_cost",
            NumberType::PersonalNumber => "personal_number",
            NumberType::Voip => "voip",
            NumberType::Pager => "pager",
            NumberType::Uan => "uan",
            NumberType::Voicemail => "voicemail",
            NumberType::Unknown => "unknown",
        }
    }

    /// Whether a campaign that also allows `allowed` may dial this type.
    pub fn is_allowed(self, allowed: &[NumberType]) -> bool {
        Self::CALLABLE.contains(&self) || allowed.contains(&self)
    }
}

impl From<phonenumber::Type> for NumberType {
    fn from(kind: phonenumber::Type) -> NumberType {
        use phonenumber::Type as T;
        match kind {
            T::FixedLine => NumberType::FixedLine,
            T::Mobile => NumberType::Mobile,
            T::FixedLineOrMobile => NumberType::FixedLineOrMobile,
            T::TollFree => NumberType::TollFree,
            T::PremiumRate => NumberType::PremiumRate,
            T::SharedCost => NumberType::SharedCost,
            T::PersonalNumber => NumberType::PersonalNumber,
            T::Voip => NumberType::Voip,
            T::Pager => NumberType::Pager,
            T::Uan => NumberType::Uan,
            T::Voicemail => NumberType::Voicemail,
            _ => NumberType::Unknown,
        }
    }
}

/// Refuses what libphonenumber would silently reinterpret: scientific
/// notation, letters (keypad digits) and extension markers.
fn check_characters(text: &str) -> Result<(), PhoneError> {
    let scientific = text.split_once(['e', 'E']).is_some_and(|(mantissa, exp)| {
        let exp = exp.trim_start_matches(['+', '-']);
        !mantissa.is_empty()
            && mantissa
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
            && !exp.is_empty()
            && exp.bytes().all(|b| b.is_ascii_digit())
    });
    if scientific {
        return Err(PhoneError::ScientificNotation);
    }
    let lower = text.to_ascii_lowercase();
    // `x`, `ext`, `;ext=`, `#` and the dialler's pause `,` all mean digits
    // to send after the call connects.
    if lower.contains("ext") || lower.contains('x') || text.contains(['#', ';', ',']) {
        return Err(PhoneError::Extension);
    }
    if text.chars().any(char::is_alphabetic) {
        return Err(PhoneError::Letters);
    }
    Ok(())
}

/// A phone number in E.164 form (`+` and up to 15 digits), checked against
/// libphonenumber's numbering plans when parsed from outside input.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

impl TryFrom<String> for E164 {
    type Error = PhoneError;
    fn try_from(value: String) -> Result<Self, PhoneError> {
        Self::from_trusted(value)
    }
}

impl From<E164> for String {
    fn from(number: E164) -> String {
        number.0
    }
}

impl E164 {
    /// Parses a number written in international form (`+91 98765 43210`,
    /// `+1 (212) 555-0100`), or in national form when `default_region` (an ISO
    /// 3166 alpha-2 code such as `US`) is given.
    pub fn parse(input: &str, default_region: Option<&str>) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Unparseable("empty".into()));
        }
        check_characters(trimmed)?;
        let region = default_region.and_then(|r| r.to_ascii_uppercase().parse().ok());
        let number = phonenumber::parse(region, trimmed)
            .map_err(|e| PhoneError::Unparseable(e.to_string()))?;
        if number.extension().is_some() {
            return Err(PhoneError::Extension);
        }
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::Invalid);
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// Wraps a string already known to be E.164 (read back from storage).
    /// Only the shape is checked, not the numbering plan.
    pub fn from_trusted(value: impl Into<String>) -> Result<Self, PhoneError> {
        let value = value.into();
        let digits = value.strip_prefix('+').unwrap_or("");
        if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::Unparseable(mask(&value)));
        }
        Ok(Self(value))
    }

    /// The number with its leading `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without the `+`, country code first.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// The ISO 3166 alpha-2 region of the number (`US`, `IN`, `GB`), when the
    /// numbering plan tells it.
    pub fn region(&self) -> Option<String> {
        let number = phonenumber::parse(None, &self.0).ok()?;
        number.country().id().map(|id| format!("{id:?}"))
    }

    /// The country calling code (`1`, `91`, `44`).
    pub fn calling_code(&self) -> Option<u16> {
        let number = phonenumber::parse(None, &self.0).ok()?;
        Some(number.country().code())
    }

    /// The kind of line, by libphonenumber's numbering plans.
    pub fn number_type(&self) -> NumberType {
        phonenumber::parse(None, &self.0).map_or(NumberType::Unknown, |number| {
            number.number_type(&phonenumber::metadata::DATABASE).into()
        })
    }

    /// The IANA time zones the number may ring in, from libphonenumber's
    /// prefix map (longest prefix wins). Empty when unknown.
    pub fn time_zones(&self) -> &'static [Tz] {
        zones_for_digits(self.digits())
    }

    /// The number for logs: country code kept, all but the last two digits hidden.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 5 {
        return "*".repeat(chars.len());
    }
    let keep_head = 3.min(chars.len());
    let keep_tail = 2;
    let hidden = chars.len() - keep_head - keep_tail;
    let mut out: String = chars[..keep_head].iter().collect();
    out.push_str(&"*".repeat(hidden));
    out.extend(&chars[chars.len() - keep_tail..]);
    out
}

impl fmt::Display for E164 {
    /// Displays the masked form: phone numbers never reach logs in full.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E164({})", self.masked())
    }
}

/// The prefix → zones map generated from libphonenumber (see
/// `tools/gen_tz_prefixes.py`).
const TZ_PREFIXES: &str = include_str!("../data/tz_prefixes.tsv");

fn prefix_map() -> &'static HashMap<&'static str, Vec<Tz>> {
    static MAP: OnceLock<HashMap<&'static str, Vec<Tz>>> = OnceLock::new();
    MAP.get_or_init(|| {
        TZ_PREFIXES
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|line| {
                let (prefix, zones) = line.split_once('\t')?;
                let zones: Vec<Tz> = zones.split(',').filter_map(|z| z.parse().ok()).collect();
                (!zones.is_empty()).then_some((prefix, zones))
            })
            .collect()
    })
}

fn zones_for_digits(digits: &str) -> &'static [Tz] {
    let map = prefix_map();
    (1..=digits.len().min(12))
        .rev()
        .find_map(|len| map.get(&digits[..len]))
        .map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_international_and_national_forms() {
        let n = E164::parse("+1 (212) 555-0100", None).unwrap();
        assert_eq!(n.as_str(), "+12125550100");
        assert_eq!(n.region().as_deref(), Some("US"));
        assert_eq!(n.calling_code(), Some(1));
        let n = E164::parse("098765 43210", Some("in")).unwrap();
        assert_eq!(n.as_str(), "+919876543210");
        assert_eq!(n.region().as_deref(), Some("IN"));
    }

    #[test]
    fn rejects_junk_and_invalid_numbers() {
        assert!(matches!(
            E164::parse("", None),
            Err(PhoneError::Unparseable(_))
        ));
        assert_eq!(E164::parse("hello", None), Err(PhoneError::Letters));
        assert!(matches!(
            E164::parse("--", None),
            Err(PhoneError::Unparseable(_))
        ));
        assert!(E164::parse("+1 212 555", None).is_err());
        assert_eq!(E164::parse("+91 12345", None), Err(PhoneError::Invalid));
    }

    #[test]
    fn spreadsheet_damage_letters_and_extensions_are_refused_with_the_reason() {
        // Today's parser reads `E` as the keypad digit 3: +12125550139.
        for sci in ["2.1255501E9", "2.1255501e+9", "9.19876543E11", "1E10"] {
            assert_eq!(
                E164::parse(sci, Some("US")),
                Err(PhoneError::ScientificNotation),
                "{sci}"
            );
        }
        for letters in ["1-800-FLOWERS", "+1 212 555 O1OO", "212555010l"] {
            assert_eq!(
                E164::parse(letters, Some("US")),
                Err(PhoneError::Letters),
                "{letters}"
            );
        }
        for ext in [
            "+1 212 555 0100 x123",
            "+1 212 555 0100 ext. 123",
            "+12125550100;ext=123",
            "+1 212 555 0100 #123",
            "+12125550100,,123",
        ] {
            assert_eq!(
                E164::parse(ext, Some("US")),
                Err(PhoneError::Extension),
                "{ext}"
            );
        }
        assert!(E164::parse("+1 (212) 555-0100", None).is_ok());
        assert!(E164::parse("212.555.0100", Some("US")).is_ok());
    }

    #[test]
    fn number_types_come_from_the_numbering_plan() {
        let kind = |n: &str| E164::parse(n, None).unwrap().number_type();
        assert_eq!(kind("+19005550123"), NumberType::PremiumRate);
        assert_eq!(kind("+18005550123"), NumberType::TollFree);
        assert_eq!(kind("+12125550100"), NumberType::FixedLineOrMobile);
        assert_eq!(kind("+447911123456"), NumberType::Mobile);
        assert_eq!(kind("+447012345678"), NumberType::PersonalNumber);
        assert_eq!(kind("+447640123456"), NumberType::Pager);
        assert_eq!(kind("+445512345678"), NumberType::Uan);
        assert_eq!(kind("+445612345678"), NumberType::Voip);
        assert_eq!(kind("+448431234567"), NumberType::PremiumRate);
        assert_eq!(kind("+33810123456"), NumberType::SharedCost);
        assert!(!NumberType::PremiumRate.is_allowed(&[]));
        assert!(NumberType::PremiumRate.is_allowed(&[NumberType::PremiumRate]));
        assert!(NumberType::Mobile.is_allowed(&[]));
    }

    #[test]
    fn time_zones_follow_the_longest_prefix() {
        let ny = E164::parse("+12125550100", None).unwrap();
        assert_eq!(ny.time_zones(), &[chrono_tz::America::New_York]);
        let la = E164::parse("+13105550100", None).unwrap();
        assert_eq!(la.time_zones(), &[chrono_tz::America::Los_Angeles]);
        let india = E164::parse("+919876543210", None).unwrap();
        assert_eq!(india.time_zones().len(), 1);
        assert_eq!(india.time_zones()[0].name(), "Asia/Calcutta");
    }

    #[test]
    fn masking_hides_the_subscriber_number() {
        let n = E164::parse("+919876543210", None).unwrap();
        assert_eq!(n.masked(), "+91********10");
        assert_eq!(format!("{n}"), "+91********10");
        assert!(!format!("{n:?}").contains("98765"));
    }

    #[test]
    fn trusted_form_checks_the_shape() {
        assert!(E164::from_trusted("+14155550100").is_ok());
        assert!(E164::from_trusted("14155550100").is_err());
        assert!(E164::from_trusted("+1415555010012345").is_err());
    }

    #[test]
    fn only_digits_before_an_exponent_make_scientific_notation() {
        for not_scientific in ["12-34E5", "2.5EQ", "E5"] {
            assert_eq!(
                E164::parse(not_scientific, Some("US")),
                Err(PhoneError::Letters),
                "{not_scientific}"
            );
        }
    }

    #[test]
    fn every_plan_type_maps_to_its_own_label() {
        use phonenumber::Type as T;
        let mapped = [
            T::FixedLine,
            T::Mobile,
            T::FixedLineOrMobile,
            T::TollFree,
            T::PremiumRate,
            T::SharedCost,
            T::PersonalNumber,
            T::Voip,
            T::Pager,
            T::Uan,
            T::Voicemail,
            T::Unknown,
        ]
        .map(|t| NumberType::from(t).label());
        assert_eq!(
            mapped,
            [
                "fixed_line",
                "mobile",
                "fixed_line_or_mobile",
                "toll_free",
                "premium_rate",
                "shared_cost",
                "personal_number",
                "voip",
                "pager",
                "uan",
                "voicemail",
                "unknown"
            ]
        );
    }

    #[test]
    fn stored_numbers_keep_up_to_fifteen_digits() {
        let longest = E164::from_trusted("+123456789012345").unwrap();
        assert_eq!(String::from(longest), "+123456789012345");
        assert!(E164::from_trusted("+1234567890123456").is_err());
        assert_eq!(
            E164::parse("+919876543210", None).unwrap().calling_code(),
            Some(91)
        );
    }
}
