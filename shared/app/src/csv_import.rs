//! Reading leads from CSV.
//!
//! The first row is the header. Recognised columns (case and spaces
//! ignored): `phone` (also `phone_number`, `number`, `mobile`; required),
//! `name` (or `first_name` + `last_name`), `time_zone` (`timezone`, `tz`;
//! an IANA name such as `America/Chicago`), `consent` (`true/false`,
//! `yes/no`, `1/0`, `y/n`; empty means no). Every other column is kept as a
//! custom field for the AI agent. A bad row (invalid number, wrong number of
//! fields, unknown time zone, bad consent value) is reported with its line
//! number and reason; the good rows are still imported. A number that
//! appears twice in the file is merged into its first row.

use std::collections::{BTreeMap, HashSet};

use chrono_tz::Tz;
use serde::Serialize;
use voxdial_domain::{E164, NewLead};

/// The largest file accepted, in bytes.
pub const MAX_CSV_BYTES: usize = 64 * 1024 * 1024;

/// A problem with one row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The 1-based line number in the file.
    pub line: u64,
    /// What is wrong.
    pub reason: String,
}

/// A problem with the whole file: nothing is imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// No header row.
    #[error("the file is empty: expected a header row with a `phone` column")]
    Empty,
    /// The header lacks a phone column.
    #[error(
        "the header has no phone column (expected one of: phone, phone_number, number, mobile); found: {0}"
    )]
    NoPhoneColumn(String),
    /// The header repeats a column.
    #[error("the header repeats the column {0:?}")]
    DuplicateColumn(String),
    /// The file could not be read as CSV.
    #[error("line {line}: {reason}")]
    Malformed {
        /// The line.
        line: u64,
        /// Why.
        reason: String,
    },
    /// The file is too large.
    #[error("the file is larger than {MAX_CSV_BYTES} bytes")]
    TooLarge,
}

/// The leads read from a file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedLeads {
    /// The good rows, duplicates merged.
    pub leads: Vec<NewLead>,
    /// Data rows read (good, bad and duplicate).
    pub rows: u64,
    /// Rows merged into an earlier row with the same number.
    pub duplicates_in_file: u64,
    /// The bad rows.
    pub errors: Vec<RowError>,
}

#[derive(Clone, Copy)]
enum Column {
    Phone,
    Name,
    FirstName,
    LastName,
    TimeZone,
    Consent,
    Custom,
}

fn classify(normalised: &str) -> Column {
    match normalised {
        "phone" | "phone_number" | "number" | "mobile" | "phonenumber" => Column::Phone,
        "name" | "full_name" => Column::Name,
        "first_name" | "firstname" => Column::FirstName,
        "last_name" | "lastname" | "surname" => Column::LastName,
        "time_zone" | "timezone" | "tz" => Column::TimeZone,
        "consent" | "consented" | "opt_in" => Column::Consent,
        _ => Column::Custom,
    }
}

fn normalise(header: &str) -> String {
    header
        .trim()
        .trim_start_matches('\u{feff}')
        .to_ascii_lowercase()
        .replace([' ', '-'], "_")
}

fn parse_consent(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "no" | "n" | "0" => Ok(false),
        "true" | "yes" | "y" | "1" => Ok(true),
        other => Err(format!(
            "consent {other:?} is not one of true/false, yes/no, 1/0"
        )),
    }
}

/// Reads leads from CSV bytes. `default_region` (ISO alpha-2, e.g. `US`)
/// lets numbers be written in national form.
pub fn parse_leads_csv(
    bytes: &[u8],
    default_region: Option<&str>,
) -> Result<ParsedLeads, CsvError> {
    if bytes.len() > MAX_CSV_BYTES {
        return Err(CsvError::TooLarge);
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| CsvError::Malformed {
            line: 1,
            reason: e.to_string(),
        })?
        .clone();
    if headers.is_empty() || headers.iter().all(|h| h.trim().is_empty()) {
        return Err(CsvError::Empty);
    }
    let mut seen = HashSet::new();
    let mut columns = Vec::with_capacity(headers.len());
    for header in headers.iter() {
        let normalised = normalise(header);
        if !normalised.is_empty() && !seen.insert(normalised.clone()) {
            return Err(CsvError::DuplicateColumn(header.trim().to_string()));
        }
        columns.push((
            classify(&normalised),
            header.trim().trim_start_matches('\u{feff}').to_string(),
        ));
    }
    if !columns.iter().any(|(c, _)| matches!(c, Column::Phone)) {
        let found: Vec<&str> = headers.iter().collect();
        return Err(CsvError::NoPhoneColumn(found.join(", ")));
    }

    let mut parsed = ParsedLeads::default();
    let mut numbers = HashSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                parsed.rows += 1;
                parsed.errors.push(RowError {
                    line,
                    reason: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        parsed.rows += 1;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            parsed.rows -= 1; // blank lines are not rows
            continue;
        }
        if record.len() != columns.len() {
            parsed.errors.push(RowError {
                line,
                reason: format!("expected {} fields, found {}", columns.len(), record.len()),
            });
            continue;
        }
        match read_row(&columns, &record, default_region) {
            Ok(lead) => {
                if numbers.insert(lead.phone.clone()) {
                    parsed.leads.push(lead);
                } else {
                    parsed.duplicates_in_file += 1;
                }
            }
            Err(reason) => parsed.errors.push(RowError { line, reason }),
        }
    }
    Ok(parsed)
}

fn read_row(
    columns: &[(Column, String)],
    record: &csv::StringRecord,
    default_region: Option<&str>,
) -> Result<NewLead, String> {
    let mut phone = None;
    let mut name = String::new();
    let (mut first, mut last) = (String::new(), String::new());
    let mut time_zone = None;
    let mut consent = false;
    let mut custom = BTreeMap::new();
    for ((column, header), value) in columns.iter().zip(record.iter()) {
        let value = value.trim();
        match column {
            Column::Phone => {
                if value.is_empty() {
                    return Err("the phone number is missing".into());
                }
                let number = E164::parse(value, default_region)
                    .map_err(|e| format!("invalid phone number {value:?}: {e}"))?;
                phone = Some(number);
            }
            Column::Name => name = value.to_string(),
            Column::FirstName => first = value.to_string(),
            Column::LastName => last = value.to_string(),
            Column::TimeZone if value.is_empty() => {}
            Column::TimeZone => {
                let tz: Tz = value.parse().map_err(|_| {
                    format!("unknown time zone {value:?} (use an IANA name like America/Chicago)")
                })?;
                time_zone = Some(tz);
            }
            Column::Consent => consent = parse_consent(value)?,
            Column::Custom => {
                if !header.is_empty() && !value.is_empty() {
                    custom.insert(header.clone(), value.to_string());
                }
            }
        }
    }
    if name.is_empty() {
        name = [first, last]
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
    }
    Ok(NewLead {
        phone: phone.ok_or("the phone number is missing")?,
        name,
        time_zone,
        custom,
        consent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_rows_are_kept_and_bad_rows_reported_with_line_numbers() {
        let csv = "\
Phone,First Name,Last Name,Time Zone,Consent,Plan
+1 212 555 0100,Ada,Lovelace,America/New_York,yes,gold
not-a-number,Bob,,,,silver
+919876543210,Chitra,Rao,,1,
+13105550100,Dan,,Mars/Olympus,true,
+13105550101,Eve,,,maybe,
+13105550102,Fay
+44 20 7183 8750,Gus,,,no,bronze
";
        let parsed = parse_leads_csv(csv.as_bytes(), None).unwrap();
        assert_eq!(parsed.rows, 7);
        assert_eq!(parsed.leads.len(), 3);
        let lines: Vec<u64> = parsed.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 5, 6, 7]);
        assert!(parsed.errors[0].reason.contains("invalid phone number"));
        assert!(parsed.errors[1].reason.contains("unknown time zone"));
        assert!(parsed.errors[2].reason.contains("consent"));
        assert!(
            parsed.errors[3]
                .reason
                .contains("expected 6 fields, found 2")
        );
        let ada = &parsed.leads[0];
        assert_eq!(ada.phone.as_str(), "+12125550100");
        assert_eq!(ada.name, "Ada Lovelace");
        assert_eq!(ada.time_zone, Some(chrono_tz::America::New_York));
        assert!(ada.consent);
        assert_eq!(ada.custom.get("Plan").map(String::as_str), Some("gold"));
        assert!(!parsed.leads[2].consent);
    }

    #[test]
    fn duplicates_are_merged_into_the_first_row() {
        let csv = "phone,name\n+12125550100,A\n(212) 555-0100,B\n+12125550101,C\n";
        let parsed = parse_leads_csv(csv.as_bytes(), Some("US")).unwrap();
        assert_eq!(parsed.leads.len(), 2);
        assert_eq!(parsed.duplicates_in_file, 1);
        assert_eq!(parsed.leads[0].name, "A");
    }

    #[test]
    fn empty_and_headerless_files_are_refused() {
        assert_eq!(parse_leads_csv(b"", None), Err(CsvError::Empty));
        assert!(matches!(
            parse_leads_csv(b"name,email\nA,a@x\n", None),
            Err(CsvError::NoPhoneColumn(_))
        ));
        assert!(matches!(
            parse_leads_csv(b"phone,Phone\n", None),
            Err(CsvError::DuplicateColumn(_))
        ));
        let header_only = parse_leads_csv(b"phone,name\n", None).unwrap();
        assert_eq!((header_only.rows, header_only.leads.len()), (0, 0));
    }

    #[test]
    fn blank_lines_and_missing_numbers() {
        let csv = "phone,name\n\n+12125550100,A\n,B\n";
        let parsed = parse_leads_csv(csv.as_bytes(), None).unwrap();
        assert_eq!(parsed.leads.len(), 1);
        assert_eq!(
            parsed.errors,
            vec![RowError {
                line: 4,
                reason: "the phone number is missing".into()
            }]
        );
    }

    #[test]
    fn a_bom_and_quoted_fields_are_handled() {
        let csv = "\u{feff}phone,name,notes\n\"+1 212 555 0100\",\"Lovelace, Ada\",\"said \"\"call me\"\"\"\n";
        let parsed = parse_leads_csv(csv.as_bytes(), None).unwrap();
        assert_eq!(parsed.leads[0].name, "Lovelace, Ada");
        assert_eq!(parsed.leads[0].custom["notes"], "said \"call me\"");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = parse_leads_csv(&bytes, Some("US"));
        }
    }
}
