//! The leads CSV import: `parse_leads_csv`, the entry point of
//! `POST /v1/campaigns/{id}/leads`.
//!
//! The first byte picks the default region (none, `US`, `IN`), the rest is
//! the file. Properties: no panic; every data row is accounted for exactly
//! once (a lead, a duplicate merged into an earlier row, or a reported error).
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxdial_app::csv_import::{MAX_REPORTED_ERRORS, parse_leads_csv};

fuzz_target!(
    // phonenumber loads its metadata on first use, seconds under ASan: not
    // the first input's time (`-timeout`).
    init: {
        let _ = voxdial_domain::E164::parse("+12125550100", None);
    },
    |input: &[u8]| {
        let Some((&selector, file)) = input.split_first() else {
            return;
        };
        let region = [None, Some("US"), Some("IN")][usize::from(selector % 3)];
        let Ok(parsed) = parse_leads_csv(file, region) else {
            return;
        };
        if parsed.errors.len() < MAX_REPORTED_ERRORS {
            let accounted =
                parsed.leads.len() as u64 + parsed.duplicates_in_file + parsed.errors.len() as u64;
            assert_eq!(accounted, parsed.rows, "rows not accounted for: {parsed:?}");
        }
    }
);
