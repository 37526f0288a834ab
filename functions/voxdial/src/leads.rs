//! Lead lists for the demo: the bundled sample, or a generated list.

use std::collections::HashSet;
use std::fmt::Write;

use voxdial_domain::E164;

/// The bundled sample: US numbers in six time zones, Indian numbers, a
/// duplicate, two leads without consent, and four bad rows. Its `persona`
/// column says which simulated callee answers (demo data: the simulated
/// caller and the simulated model both read it).
pub(crate) fn sample_csv() -> &'static [u8] {
    include_bytes!("../assets/sample_leads.csv")
}

/// `n` distinct valid leads, drawn deterministically from `seed`: two thirds
/// US numbers across time zones, one third Indian mobile numbers, each with
/// a simulated callee persona.
pub(crate) fn generated_csv(n: usize, seed: u64) -> String {
    const US_AREAS: [&str; 12] = [
        "212", "617", "305", "312", "713", "214", "303", "602", "415", "206", "702", "808",
    ];
    let mut csv = String::with_capacity(n * 40);
    const PERSONAS: [&str; 8] = [
        "interested",
        "not_interested",
        "callback",
        "transfer",
        "wrong_number",
        "opt_out",
        "barge_in",
        "interested",
    ];
    csv.push_str("phone,name,consent,persona\n");
    let mut state = seed ^ 0x5DEE_CE66;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let mut seen = HashSet::with_capacity(n);
    while seen.len() < n {
        let i = seen.len();
        let number = if i % 3 == 2 {
            format!("+919{:09}", next() % 1_000_000_000)
        } else {
            let area = US_AREAS[(next() as usize) % US_AREAS.len()];
            format!("+1{area}{:03}{:04}", 200 + next() % 800, next() % 10_000)
        };
        if E164::parse(&number, None).is_ok() && seen.insert(number.clone()) {
            let persona = PERSONAS[(next() as usize) % PERSONAS.len()];
            let _ = writeln!(csv, "{number},Lead {i},yes,{persona}");
        }
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_lists_are_valid_distinct_and_deterministic() {
        let csv = generated_csv(300, 7);
        assert_eq!(csv, generated_csv(300, 7));
        let parsed = voxdial_app::csv_import::parse_leads_csv(csv.as_bytes(), None).unwrap();
        assert_eq!(parsed.leads.len(), 300);
        assert!(parsed.errors.is_empty());
        assert_eq!(parsed.duplicates_in_file, 0);
    }

    #[test]
    fn the_sample_has_good_and_bad_rows() {
        let parsed = voxdial_app::csv_import::parse_leads_csv(sample_csv(), Some("US")).unwrap();
        assert!(parsed.leads.len() >= 100, "{}", parsed.leads.len());
        assert_eq!(parsed.errors.len(), 4, "{:?}", parsed.errors);
        assert_eq!(parsed.duplicates_in_file, 1);
    }
}
