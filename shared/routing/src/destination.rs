//! A destination number prepared once for routing.

use voxdial_domain::E164;

/// A callee's number with what routing derives from it (digits, country,
/// calling code, time zones), computed once. Deriving the country and zones
/// parses the number with libphonenumber's metadata, which costs more than a
/// whole routing decision, so a host builds this once per lead and reuses it
/// for every plan, reserve and report of that lead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    number: E164,
    /// Digit values 0..=9, country code first.
    digits: Vec<u8>,
    country: Option<String>,
    /// How many leading digits are the country calling code.
    calling_code_len: usize,
    zones: Vec<&'static str>,
}

impl Destination {
    /// Prepares `number` for routing.
    pub fn new(number: &E164) -> Self {
        let digits = number.digits().bytes().map(|b| b - b'0').collect();
        let calling_code_len = number
            .calling_code()
            .map_or(0, |c| c.to_string().len())
            .min(number.digits().len());
        Destination {
            number: number.clone(),
            digits,
            country: number.region(),
            calling_code_len,
            zones: number.time_zones().iter().map(|z| z.name()).collect(),
        }
    }

    /// The number.
    pub fn number(&self) -> &E164 {
        &self.number
    }

    /// The ISO 3166 alpha-2 country, when the numbering plan tells it.
    pub fn country(&self) -> Option<&str> {
        self.country.as_deref()
    }

    /// Digit values, country code first.
    pub(crate) fn digit_values(&self) -> &[u8] {
        &self.digits
    }

    /// The digits of the country calling code (`"1"`, `"91"`).
    pub(crate) fn calling_code(&self) -> &str {
        &self.number.digits()[..self.calling_code_len]
    }

    /// The national significant digits (after the calling code).
    pub(crate) fn national(&self) -> &str {
        &self.number.digits()[self.calling_code_len..]
    }

    /// IANA names of the zones the number may ring in.
    pub(crate) fn zones(&self) -> &[&'static str] {
        &self.zones
    }
}

impl From<&E164> for Destination {
    fn from(number: &E164) -> Self {
        Destination::new(number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_country_code_and_zones() {
        let d = Destination::new(&E164::parse("+12125550100", None).unwrap());
        assert_eq!(d.country(), Some("US"));
        assert_eq!(d.calling_code(), "1");
        assert_eq!(d.national(), "2125550100");
        assert_eq!(d.zones(), ["America/New_York"]);
        let d = Destination::new(&E164::parse("+919876543210", None).unwrap());
        assert_eq!(d.country(), Some("IN"));
        assert_eq!(d.calling_code(), "91");
        assert_eq!(d.digit_values()[..2], [9, 1]);
    }
}
