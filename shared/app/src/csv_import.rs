//! Reading leads from CSV, in bounded batches.
//!
//! The first row is the header. Recognised columns (case and spaces
//! ignored): `phone` (also `phone_number`, `number`, `mobile`; required),
//! `name` (or `first_name` + `last_name`), `time_zone` (`timezone`, `tz`;
//! an IANA name such as `America/Chicago`), `consent` (`true/false`,
//! `yes/no`, `1/0`, `y/n`; empty means no). Every other column is kept as a
//! custom field for the AI agent. A bad row (invalid number, a number in
//! scientific notation, with letters or an extension, a number type the
//! campaign does not dial, wrong number of fields, unknown time zone, bad
//! consent value) is reported with its line number and reason; the good
//! rows are still imported. A number that appears twice in a batch is
//! merged into its first row (the store merges repeats across batches).
//!
//! # Memory
//!
//! [`LeadBatches`] reads the file twice without keeping its rows: a first
//! pass checks the shape (at most [`MAX_COLUMNS`] fields per row, fields of
//! at most [`MAX_FIELD_BYTES`], at most [`MAX_ROWS`] rows) so that a file
//! refused as a whole is refused before anything is stored; the second
//! pass hands out at most [`BATCH_ROWS`] leads at a time, and keeps the
//! first [`MAX_REPORTED_ERRORS`] row errors (and a count of all).

use std::collections::{BTreeMap, HashSet};
use std::io::{BufReader, Read, Seek, SeekFrom};

use chrono_tz::Tz;
use voxdial_domain::{E164, ImportCursor, NewLead, NumberType};

pub use voxdial_domain::RowError;

/// The largest file accepted, in bytes.
pub const MAX_CSV_BYTES: usize = 64 * 1024 * 1024;
/// The largest file the direct route (`POST /v1/campaigns/{id}/leads`)
/// takes in its body: under the Lambda payload limit (6 MB, base64
/// included) and the HTTP API's 10 MB. Larger files go by upload
/// ([`crate::imports`]).
pub const MAX_DIRECT_CSV_BYTES: usize = 4 * 1024 * 1024;
/// The most fields a row may have.
pub const MAX_COLUMNS: usize = 64;
/// The longest field, in bytes.
pub const MAX_FIELD_BYTES: usize = 1024;
/// The most data rows a file may have.
pub const MAX_ROWS: u64 = 1_000_000;
/// The most leads handed out (and stored) at once.
pub const BATCH_ROWS: usize = 1000;
/// The most row errors kept for the report.
pub const MAX_REPORTED_ERRORS: usize = 1000;

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
    /// A row has more fields than any lead needs.
    #[error("line {line}: {found} fields; at most {MAX_COLUMNS} are accepted")]
    TooManyColumns {
        /// The line.
        line: u64,
        /// Its field count.
        found: usize,
    },
    /// A field is longer than any lead's value needs.
    #[error("line {line}, field {field}: longer than {MAX_FIELD_BYTES} bytes")]
    FieldTooLong {
        /// The line.
        line: u64,
        /// The 1-based field number.
        field: usize,
    },
    /// The file has more rows than one import takes.
    #[error("more than {MAX_ROWS} rows: split the file")]
    TooManyRows,
}

/// The leads read from a (small) file, collected from its batches.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedLeads {
    /// The good rows, duplicates within a batch merged.
    pub leads: Vec<NewLead>,
    /// Data rows read (good, bad and duplicate).
    pub rows: u64,
    /// Rows merged into an earlier row of their batch with the same number.
    pub duplicates_in_file: u64,
    /// The bad rows (the first [`MAX_REPORTED_ERRORS`]).
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

fn reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(input)
}

/// The first pass: refuses a file whose rows or fields are beyond the caps,
/// keeping one row in memory at a time.
fn check_shape<R: Read>(input: R) -> Result<(), CsvError> {
    let mut reader = reader(input);
    let mut record = csv::ByteRecord::new();
    let mut rows: u64 = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            // Unreadable rows are reported one by one in the second pass.
            Err(_) => continue,
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.len() > MAX_COLUMNS {
            return Err(CsvError::TooManyColumns {
                line,
                found: record.len(),
            });
        }
        if let Some(i) = record.iter().position(|f| f.len() > MAX_FIELD_BYTES) {
            return Err(CsvError::FieldTooLong { line, field: i + 1 });
        }
        rows += 1;
        // The header is not a data row.
        if rows > MAX_ROWS + 1 {
            return Err(CsvError::TooManyRows);
        }
    }
}

/// Reads the header: each column's meaning and name.
fn read_header<R: Read>(reader: &mut csv::Reader<R>) -> Result<Vec<(Column, String)>, CsvError> {
    let mut headers = csv::StringRecord::new();
    let read = reader
        .read_record(&mut headers)
        .map_err(|e| CsvError::Malformed {
            line: 1,
            reason: e.to_string(),
        })?;
    if !read || headers.is_empty() || headers.iter().all(|h| h.trim().is_empty()) {
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
    Ok(columns)
}

/// A CSV file read as batches of leads (see the module doc): from bytes in
/// memory, or from a file ([`LeadBatches::from_file`]) that can be read
/// again from a [`LeadBatches::cursor`].
pub struct LeadBatches<'a, R: Read = &'a [u8]> {
    reader: csv::Reader<R>,
    columns: Vec<(Column, String)>,
    default_region: Option<&'a str>,
    allowed_types: &'a [NumberType],
    record: csv::StringRecord,
    batch_rows: usize,
    done: bool,
    rows: u64,
    duplicates: u64,
    rejected: u64,
    errors: Vec<RowError>,
}

impl<'a> LeadBatches<'a> {
    /// Checks the file's size, shape and header. `default_region` (ISO
    /// alpha-2, e.g. `US`) lets numbers be written in national form;
    /// `allowed_types` are the number types dialled beyond
    /// [`NumberType::CALLABLE`].
    pub fn new(
        bytes: &'a [u8],
        default_region: Option<&'a str>,
        allowed_types: &'a [NumberType],
    ) -> Result<LeadBatches<'a>, CsvError> {
        if bytes.len() > MAX_CSV_BYTES {
            return Err(CsvError::TooLarge);
        }
        check_shape(bytes)?;
        let mut reader = reader(bytes);
        let columns = read_header(&mut reader)?;
        Ok(LeadBatches::over(
            reader,
            columns,
            default_region,
            allowed_types,
        ))
    }
}

impl<'a> LeadBatches<'a, BufReader<std::fs::File>> {
    /// The same checks on a file, read through a small buffer (memory stays
    /// flat whatever its size); reading starts at `resume` (a
    /// [`cursor`](LeadBatches::cursor) of an earlier read of the same file)
    /// or after the header.
    pub fn from_file(
        mut file: std::fs::File,
        default_region: Option<&'a str>,
        allowed_types: &'a [NumberType],
        resume: Option<ImportCursor>,
    ) -> Result<Self, FileError> {
        if file.metadata()?.len() > MAX_CSV_BYTES as u64 {
            return Err(CsvError::TooLarge.into());
        }
        file.seek(SeekFrom::Start(0))?;
        check_shape(BufReader::new(&file))?;
        file.seek(SeekFrom::Start(0))?;
        let mut reader = reader(BufReader::new(file));
        let columns = read_header(&mut reader)?;
        if let Some(cursor) = resume {
            let mut position = csv::Position::new();
            position
                .set_byte(cursor.byte)
                .set_line(cursor.line)
                .set_record(cursor.record);
            reader.seek(position).map_err(|e| CsvError::Malformed {
                line: cursor.line,
                reason: format!("cannot resume reading here: {e}"),
            })?;
        }
        Ok(LeadBatches::over(
            reader,
            columns,
            default_region,
            allowed_types,
        ))
    }
}

/// A file could not be read, or was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Refused as a whole.
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// The file system failed.
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
}

impl<'a, R: Read> LeadBatches<'a, R> {
    fn over(
        reader: csv::Reader<R>,
        columns: Vec<(Column, String)>,
        default_region: Option<&'a str>,
        allowed_types: &'a [NumberType],
    ) -> Self {
        LeadBatches {
            reader,
            columns,
            default_region,
            allowed_types,
            record: csv::StringRecord::new(),
            batch_rows: BATCH_ROWS,
            done: false,
            rows: 0,
            duplicates: 0,
            rejected: 0,
            errors: Vec::new(),
        }
    }

    /// Hands out at most `rows` leads at a time (at least one) instead of
    /// [`BATCH_ROWS`].
    pub fn with_batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows.max(1);
        self
    }

    /// Where the next unread row starts: read again from here, the file
    /// gives the rows after the last batch handed out.
    pub fn cursor(&self) -> ImportCursor {
        let p = self.reader.position();
        ImportCursor {
            byte: p.byte(),
            line: p.line(),
            record: p.record(),
        }
    }

    /// The row errors kept since the last call (at most
    /// [`MAX_REPORTED_ERRORS`] between two calls).
    pub fn take_errors(&mut self) -> Vec<RowError> {
        std::mem::take(&mut self.errors)
    }

    /// The next at most [`BATCH_ROWS`] (or the chosen number of) good
    /// leads, duplicates within the
    /// batch merged; `None` once the file is read.
    pub fn next_batch(&mut self) -> Option<Vec<NewLead>> {
        if self.done {
            return None;
        }
        let mut leads = Vec::with_capacity(self.batch_rows.min(64));
        let mut numbers = HashSet::new();
        while leads.len() < self.batch_rows {
            let line = match self.reader.read_record(&mut self.record) {
                Ok(false) => {
                    self.done = true;
                    break;
                }
                Ok(true) => self.record.position().map_or(0, |p| p.line()),
                Err(e) => {
                    self.rows += 1;
                    let line = e.position().map_or(0, |p| p.line());
                    self.reject(line, format!("unreadable row: {e}"));
                    continue;
                }
            };
            if self.record.iter().all(|f| f.trim().is_empty()) {
                continue; // blank lines are not rows
            }
            self.rows += 1;
            if self.record.len() != self.columns.len() {
                let reason = format!(
                    "expected {} fields, found {}",
                    self.columns.len(),
                    self.record.len()
                );
                self.reject(line, reason);
                continue;
            }
            match read_row(&self.columns, &self.record, self.default_region)
                .and_then(|lead| self.check_type(lead))
            {
                Ok(lead) if numbers.insert(lead.phone.clone()) => leads.push(lead),
                Ok(_) => self.duplicates += 1,
                Err(reason) => self.reject(line, reason),
            }
        }
        (!leads.is_empty() || !self.done).then_some(leads)
    }

    fn check_type(&self, lead: NewLead) -> Result<NewLead, String> {
        let kind = lead.phone.number_type();
        if kind.is_allowed(self.allowed_types) {
            Ok(lead)
        } else {
            Err(format!(
                "the number is a {} line, which this campaign does not dial \
                 (allow it with the campaign setting allow_number_types)",
                kind.label()
            ))
        }
    }

    fn reject(&mut self, line: u64, reason: String) {
        self.rejected += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(RowError { line, reason });
        }
    }

    /// Whether the whole file was read.
    pub fn finished(&self) -> bool {
        self.done
    }

    /// Data rows read so far (good, bad and duplicate).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Rows merged into an earlier row of their batch.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Rows refused so far.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// The first [`MAX_REPORTED_ERRORS`] row errors.
    pub fn into_errors(self) -> Vec<RowError> {
        self.errors
    }
}

/// Reads every lead of a file into memory: for small files (the CLI's
/// samples, tests); the engine imports with [`LeadBatches`].
pub fn parse_leads_csv(
    bytes: &[u8],
    default_region: Option<&str>,
) -> Result<ParsedLeads, CsvError> {
    let mut batches = LeadBatches::new(bytes, default_region, &[])?;
    let mut leads = Vec::new();
    while let Some(batch) = batches.next_batch() {
        leads.extend(batch);
    }
    Ok(ParsedLeads {
        leads,
        rows: batches.rows(),
        duplicates_in_file: batches.duplicates(),
        errors: batches.into_errors(),
    })
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

    #[test]
    fn mangled_numbers_extensions_and_premium_lines_are_refused_by_line() {
        // GIVEN a file with a number Excel turned into scientific notation,
        // one with letters, one with an extension and a premium-rate line.
        let csv = "\
phone,name
2.1255501E9,Sci
+1 212 555 0100,Good
1-800-FLOWERS,Vanity
+1 212 555 0101 ext. 12,Ext
+1 900 555 0123,Premium
";
        // WHEN it is read for a campaign that allows nothing extra
        let parsed = parse_leads_csv(csv.as_bytes(), Some("US")).unwrap();
        // THEN only the plain number is kept, and each refusal names its line
        // and reason; nothing is dialled that the file does not say.
        let phones: Vec<&str> = parsed.leads.iter().map(|l| l.phone.as_str()).collect();
        assert_eq!(phones, vec!["+12125550100"]);
        let got: Vec<(u64, bool)> = parsed
            .errors
            .iter()
            .map(|e| (e.line, e.reason.contains("invalid phone number")))
            .collect();
        assert_eq!(got, vec![(2, true), (4, true), (5, true), (6, false)]);
        assert!(parsed.errors[0].reason.contains("scientific notation"));
        assert!(parsed.errors[1].reason.contains("letters"));
        assert!(parsed.errors[2].reason.contains("extension"));
        assert!(parsed.errors[3].reason.contains("premium_rate"));
        assert!(parsed.errors[3].reason.contains("allow_number_types"));
    }

    #[test]
    fn a_campaign_may_allow_other_number_types() {
        let csv = "phone\n+1 900 555 0123\n+447012345678\n";
        let mut batches =
            LeadBatches::new(csv.as_bytes(), None, &[NumberType::PremiumRate]).unwrap();
        let batch = batches.next_batch().unwrap();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].phone.as_str(), "+19005550123");
        let errors = batches.into_errors();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].reason.contains("personal_number"), "{errors:?}");
    }

    #[test]
    fn column_counts_and_field_lengths_are_capped_before_anything_is_read() {
        let wide = format!(
            "phone{}\n+12125550100{}\n",
            ",c".repeat(70),
            ",x".repeat(70)
        );
        assert_eq!(
            LeadBatches::new(wide.as_bytes(), None, &[]).err(),
            Some(CsvError::TooManyColumns { line: 1, found: 71 })
        );
        // The long field is on the last line: the refusal comes before any batch.
        let mut long = String::from("phone,notes\n");
        for i in 0..1500 {
            long.push_str(&format!("+1212555{:04},n\n", i));
        }
        long.push_str(&format!(
            "+12125559999,{}\n",
            "a".repeat(MAX_FIELD_BYTES + 1)
        ));
        assert_eq!(
            LeadBatches::new(long.as_bytes(), None, &[]).err(),
            Some(CsvError::FieldTooLong {
                line: 1502,
                field: 2
            })
        );
    }

    #[test]
    fn leads_come_in_bounded_batches_and_errors_are_capped() {
        let mut csv = String::from("phone\n");
        for i in 0..2500 {
            csv.push_str(&format!("+1212555{:04}\n", i));
        }
        for _ in 0..(MAX_REPORTED_ERRORS + 10) {
            csv.push_str("nope\n");
        }
        let mut batches = LeadBatches::new(csv.as_bytes(), None, &[]).unwrap();
        let mut sizes = Vec::new();
        while let Some(batch) = batches.next_batch() {
            sizes.push(batch.len());
        }
        assert_eq!(sizes, vec![1000, 1000, 500]);
        assert_eq!(batches.rows(), 2500 + MAX_REPORTED_ERRORS as u64 + 10);
        assert_eq!(batches.rejected(), MAX_REPORTED_ERRORS as u64 + 10);
        assert_eq!(batches.into_errors().len(), MAX_REPORTED_ERRORS);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = parse_leads_csv(&bytes, Some("US"));
        }
    }
}
