//! Form-encoded webhooks Twilio sends: the voice `StatusCallback`, the
//! `RecordingStatusCallback`, the async AMD callback, the answer webhook and
//! the `<Gather>` action.
//!
//! Read a body with [`parse_form`] (the pairs are also what the signature
//! covers), then the typed struct with `from_pairs`. Unknown fields are
//! ignored, an empty value reads as `None`, and a repeated scalar field takes
//! its first value. The simulated carrier goes the other way with `to_pairs`
//! and [`encode_form`].
//!
//! Field names are Twilio's, from `reference/twilio.md` ("StatusCallback
//! POST", "RecordingStatusCallback fields", "Answering Machine Detection").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::pairs::PairError;
use crate::serde_util::{opt_rfc2822, wire_enum};

/// A form body or its pairs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// A name or value is not UTF-8 once percent-decoded.
    #[error("form body is not UTF-8 once percent-decoded")]
    InvalidUtf8(#[source] std::string::FromUtf8Error),
    /// A field is missing or does not parse (the message names it).
    #[error("invalid form: {message}")]
    Invalid {
        /// What is wrong, naming the field.
        message: String,
    },
}

impl From<PairError> for FormError {
    fn from(e: PairError) -> Self {
        FormError::Invalid { message: e.0 }
    }
}

/// Splits an `application/x-www-form-urlencoded` body into decoded pairs, in
/// order, repeated names kept.
///
/// Like Python's `parse_qsl(keep_blank_values=True)`: `+` is a space, `%XX`
/// is a byte, a malformed `%` stays literal, empty segments are skipped and a
/// segment without `=` is a name with an empty value.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let mut out = Vec::new();
    for segment in body.split(|&b| b == b'&') {
        if segment.is_empty() {
            continue;
        }
        let (name, value) = match segment.iter().position(|&b| b == b'=') {
            Some(i) => (&segment[..i], &segment[i + 1..]),
            None => (segment, &b""[..]),
        };
        out.push((decode_component(name)?, decode_component(value)?));
    }
    Ok(out)
}

fn decode_component(raw: &[u8]) -> Result<String, FormError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' if i + 2 < raw.len() => match (hex_val(raw[i + 1]), hex_val(raw[i + 2])) {
                (Some(h), Some(l)) => {
                    bytes.push(h << 4 | l);
                    i += 2;
                }
                _ => bytes.push(b'%'),
            },
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes).map_err(FormError::InvalidUtf8)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Encodes pairs as a form body: unreserved characters (`A-Z a-z 0-9 - . _
/// ~`) as is, space as `+`, every other byte as `%XX`.
pub fn encode_form<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_component(&mut out, k.as_ref());
        out.push('=');
        encode_component(&mut out, v.as_ref());
    }
    out
}

fn encode_component(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
    }
}

/// Adds `from_pairs`, `from_form`, `to_pairs` and `to_form` to a form struct.
macro_rules! form_struct {
    ($ty:ident) => {
        impl $ty {
            /// Reads the struct from decoded form pairs (see
            /// [`parse_form`](crate::twilio::forms::parse_form)).
            pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
                pairs: &[(K, V)],
            ) -> Result<Self, $crate::twilio::forms::FormError> {
                Ok($crate::twilio::pairs::from_pairs(pairs)?)
            }

            /// Reads the struct from a raw form body.
            pub fn from_form(body: &[u8]) -> Result<Self, $crate::twilio::forms::FormError> {
                Self::from_pairs(&$crate::twilio::forms::parse_form(body)?)
            }

            /// The form pairs, in field order; `None` fields are left out and
            /// list fields repeat their name.
            pub fn to_pairs(&self) -> Vec<(String, String)> {
                // Every field of this struct has a form encoding, so this
                // cannot fail; an empty list would be the visible symptom.
                $crate::twilio::pairs::to_pairs(self).unwrap_or_default()
            }

            /// The encoded form body.
            pub fn to_form(&self) -> String {
                $crate::twilio::forms::encode_form(&self.to_pairs())
            }
        }
    };
}
pub(crate) use form_struct;

wire_enum! {
    /// `CallStatus` in callbacks and `status` in the Call resource.
    ///
    /// `initiated` only appears in status callbacks; `in-progress` is what the
    /// `answered` event reports.
    pub enum CallStatus {
        /// Waiting to be dialled (CPS queue).
        Queued => "queued",
        /// Dialling started (callback only).
        Initiated => "initiated",
        /// The far end is ringing.
        Ringing => "ringing",
        /// Answered and connected.
        InProgress => "in-progress",
        /// Ended normally after being answered.
        Completed => "completed",
        /// The far end was busy.
        Busy => "busy",
        /// The call could not be placed.
        Failed => "failed",
        /// Nobody answered within `Timeout`.
        NoAnswer => "no-answer",
        /// Cancelled while queued or ringing.
        Canceled => "canceled",
    }
}

impl CallStatus {
    /// Whether Twilio sends nothing after this status for the call.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Busy | Self::Failed | Self::NoAnswer | Self::Canceled
        )
    }
}

wire_enum! {
    /// `AnsweredBy`: the answering machine detection verdict.
    pub enum AnsweredBy {
        /// A person answered.
        Human => "human",
        /// A machine answered (`MachineDetection=Enable`).
        MachineStart => "machine_start",
        /// Machine, greeting ended with a beep (`DetectMessageEnd`).
        MachineEndBeep => "machine_end_beep",
        /// Machine, greeting ended with silence (`DetectMessageEnd`).
        MachineEndSilence => "machine_end_silence",
        /// Machine, greeting end not classified (`DetectMessageEnd`).
        MachineEndOther => "machine_end_other",
        /// A fax machine.
        Fax => "fax",
        /// No verdict before `MachineDetectionTimeout`.
        Unknown => "unknown",
    }
}

wire_enum! {
    /// `Direction` of a call.
    pub enum CallDirection {
        /// Call into a Twilio number.
        Inbound => "inbound",
        /// Call created with the REST API.
        OutboundApi => "outbound-api",
        /// Child leg created by `<Dial>`.
        OutboundDial => "outbound-dial",
        /// Elastic SIP trunking, towards the PSTN.
        TrunkingTerminating => "trunking-terminating",
        /// Elastic SIP trunking, from the PSTN.
        TrunkingOriginating => "trunking-originating",
    }
}

wire_enum! {
    /// `RecordingStatus` in a recording callback.
    pub enum RecordingStatus {
        /// Recording started.
        InProgress => "in-progress",
        /// Recording finished and is available.
        Completed => "completed",
        /// No audio was recorded.
        Absent => "absent",
        /// Recording failed.
        Failed => "failed",
    }
}

/// The voice `StatusCallback` POST (call progress events).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusCallback {
    /// `AccountSid`.
    #[serde(rename = "AccountSid")]
    pub account_sid: String,
    /// `CallSid`.
    #[serde(rename = "CallSid")]
    pub call_sid: String,
    /// `ParentCallSid`, for child legs.
    #[serde(rename = "ParentCallSid", default)]
    pub parent_call_sid: Option<String>,
    /// `From`.
    #[serde(rename = "From", default)]
    pub from: Option<String>,
    /// `To`.
    #[serde(rename = "To", default)]
    pub to: Option<String>,
    /// `Caller`.
    #[serde(rename = "Caller", default)]
    pub caller: Option<String>,
    /// `Called`.
    #[serde(rename = "Called", default)]
    pub called: Option<String>,
    /// `Direction`.
    #[serde(rename = "Direction", default)]
    pub direction: Option<CallDirection>,
    /// `ApiVersion`.
    #[serde(rename = "ApiVersion", default)]
    pub api_version: Option<String>,
    /// `CallStatus`.
    #[serde(rename = "CallStatus")]
    pub call_status: CallStatus,
    /// `ForwardedFrom`.
    #[serde(rename = "ForwardedFrom", default)]
    pub forwarded_from: Option<String>,
    /// `CallerName` (CNAM lookups only).
    #[serde(rename = "CallerName", default)]
    pub caller_name: Option<String>,
    /// `FromCity`.
    #[serde(rename = "FromCity", default)]
    pub from_city: Option<String>,
    /// `FromState`.
    #[serde(rename = "FromState", default)]
    pub from_state: Option<String>,
    /// `FromZip`.
    #[serde(rename = "FromZip", default)]
    pub from_zip: Option<String>,
    /// `FromCountry`.
    #[serde(rename = "FromCountry", default)]
    pub from_country: Option<String>,
    /// `ToCity`.
    #[serde(rename = "ToCity", default)]
    pub to_city: Option<String>,
    /// `ToState`.
    #[serde(rename = "ToState", default)]
    pub to_state: Option<String>,
    /// `ToZip`.
    #[serde(rename = "ToZip", default)]
    pub to_zip: Option<String>,
    /// `ToCountry`.
    #[serde(rename = "ToCountry", default)]
    pub to_country: Option<String>,
    /// `CallerCity`.
    #[serde(rename = "CallerCity", default)]
    pub caller_city: Option<String>,
    /// `CallerState`.
    #[serde(rename = "CallerState", default)]
    pub caller_state: Option<String>,
    /// `CallerZip`.
    #[serde(rename = "CallerZip", default)]
    pub caller_zip: Option<String>,
    /// `CallerCountry`.
    #[serde(rename = "CallerCountry", default)]
    pub caller_country: Option<String>,
    /// `CalledCity`.
    #[serde(rename = "CalledCity", default)]
    pub called_city: Option<String>,
    /// `CalledState`.
    #[serde(rename = "CalledState", default)]
    pub called_state: Option<String>,
    /// `CalledZip`.
    #[serde(rename = "CalledZip", default)]
    pub called_zip: Option<String>,
    /// `CalledCountry`.
    #[serde(rename = "CalledCountry", default)]
    pub called_country: Option<String>,
    /// `StirVerstat` (SHAKEN/STIR attestation, inbound).
    #[serde(rename = "StirVerstat", default)]
    pub stir_verstat: Option<String>,
    /// `CallDuration`: seconds, on `completed` only.
    #[serde(rename = "CallDuration", default)]
    pub call_duration: Option<u32>,
    /// `Duration`: billed minutes rounded up, on `completed` only.
    #[serde(rename = "Duration", default)]
    pub duration: Option<u32>,
    /// `SipResponseCode` of the final response.
    #[serde(rename = "SipResponseCode", default)]
    pub sip_response_code: Option<u16>,
    /// `AnsweredBy`, when AMD is on.
    #[serde(rename = "AnsweredBy", default)]
    pub answered_by: Option<AnsweredBy>,
    /// `MachineDetectionDuration`: milliseconds AMD took.
    #[serde(rename = "MachineDetectionDuration", default)]
    pub machine_detection_duration: Option<u32>,
    /// `RecordingUrl` (`<Dial record>` only).
    #[serde(rename = "RecordingUrl", default)]
    pub recording_url: Option<String>,
    /// `RecordingSid` (`<Dial record>` only).
    #[serde(rename = "RecordingSid", default)]
    pub recording_sid: Option<String>,
    /// `RecordingDuration` in seconds (`<Dial record>` only).
    #[serde(rename = "RecordingDuration", default)]
    pub recording_duration: Option<u32>,
    /// `Timestamp` of the event (RFC 2822 on the wire).
    #[serde(
        rename = "Timestamp",
        default,
        with = "opt_rfc2822",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp: Option<DateTime<Utc>>,
    /// `CallbackSource`: always `call-progress-events`.
    #[serde(rename = "CallbackSource", default)]
    pub callback_source: Option<String>,
    /// `SequenceNumber`: event order from 0; deliveries may still reorder.
    #[serde(rename = "SequenceNumber", default)]
    pub sequence_number: Option<u64>,
}
form_struct!(StatusCallback);

/// The `RecordingStatusCallback` POST.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingStatusCallback {
    /// `AccountSid`.
    #[serde(rename = "AccountSid")]
    pub account_sid: String,
    /// `CallSid`.
    #[serde(rename = "CallSid")]
    pub call_sid: String,
    /// `RecordingSid`.
    #[serde(rename = "RecordingSid")]
    pub recording_sid: String,
    /// `RecordingUrl`, without extension: append `.wav` or `.mp3`.
    #[serde(rename = "RecordingUrl", default)]
    pub recording_url: Option<String>,
    /// `RecordingStatus`.
    #[serde(rename = "RecordingStatus")]
    pub recording_status: RecordingStatus,
    /// `RecordingDuration` in seconds.
    #[serde(rename = "RecordingDuration", default)]
    pub recording_duration: Option<u32>,
    /// `RecordingChannels`: 1 or 2.
    #[serde(rename = "RecordingChannels", default)]
    pub recording_channels: Option<u8>,
    /// `RecordingStartTime` (RFC 2822 on the wire).
    #[serde(
        rename = "RecordingStartTime",
        default,
        with = "opt_rfc2822",
        skip_serializing_if = "Option::is_none"
    )]
    pub recording_start_time: Option<DateTime<Utc>>,
    /// `RecordingSource`, e.g. `OutboundAPI` for `Record=true` on create.
    #[serde(rename = "RecordingSource", default)]
    pub recording_source: Option<String>,
    /// `RecordingTrack`: `inbound`, `outbound` or `both`.
    #[serde(rename = "RecordingTrack", default)]
    pub recording_track: Option<String>,
    /// `ErrorCode`, when the recording failed.
    #[serde(rename = "ErrorCode", default)]
    pub error_code: Option<u32>,
}
form_struct!(RecordingStatusCallback);

/// The async AMD callback (`AsyncAmdStatusCallback`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AmdCallback {
    /// `AccountSid`.
    #[serde(rename = "AccountSid")]
    pub account_sid: String,
    /// `CallSid`.
    #[serde(rename = "CallSid")]
    pub call_sid: String,
    /// `AnsweredBy`.
    #[serde(rename = "AnsweredBy")]
    pub answered_by: AnsweredBy,
    /// `MachineDetectionDuration` in milliseconds.
    #[serde(rename = "MachineDetectionDuration", default)]
    pub machine_detection_duration: Option<u32>,
}
form_struct!(AmdCallback);

/// The answer webhook: Twilio's voice request asking for TwiML (`Url` on
/// create). Carries `AnsweredBy` when synchronous AMD is on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerRequest {
    /// `AccountSid`.
    #[serde(rename = "AccountSid")]
    pub account_sid: String,
    /// `CallSid`.
    #[serde(rename = "CallSid")]
    pub call_sid: String,
    /// `ParentCallSid`, for child legs.
    #[serde(rename = "ParentCallSid", default)]
    pub parent_call_sid: Option<String>,
    /// `From`.
    #[serde(rename = "From", default)]
    pub from: Option<String>,
    /// `To`.
    #[serde(rename = "To", default)]
    pub to: Option<String>,
    /// `Caller`.
    #[serde(rename = "Caller", default)]
    pub caller: Option<String>,
    /// `Called`.
    #[serde(rename = "Called", default)]
    pub called: Option<String>,
    /// `CallStatus` (`in-progress` when answered).
    #[serde(rename = "CallStatus")]
    pub call_status: CallStatus,
    /// `Direction`.
    #[serde(rename = "Direction", default)]
    pub direction: Option<CallDirection>,
    /// `ApiVersion`.
    #[serde(rename = "ApiVersion", default)]
    pub api_version: Option<String>,
    /// `ForwardedFrom`.
    #[serde(rename = "ForwardedFrom", default)]
    pub forwarded_from: Option<String>,
    /// `CallerName`.
    #[serde(rename = "CallerName", default)]
    pub caller_name: Option<String>,
    /// `FromCountry`.
    #[serde(rename = "FromCountry", default)]
    pub from_country: Option<String>,
    /// `ToCountry`.
    #[serde(rename = "ToCountry", default)]
    pub to_country: Option<String>,
    /// `StirVerstat`.
    #[serde(rename = "StirVerstat", default)]
    pub stir_verstat: Option<String>,
    /// `AnsweredBy` (synchronous AMD only).
    #[serde(rename = "AnsweredBy", default)]
    pub answered_by: Option<AnsweredBy>,
    /// `MachineDetectionDuration` in milliseconds (synchronous AMD only).
    #[serde(rename = "MachineDetectionDuration", default)]
    pub machine_detection_duration: Option<u32>,
}
form_struct!(AnswerRequest);

/// The `<Gather action>` callback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatherCallback {
    /// `AccountSid`.
    #[serde(rename = "AccountSid")]
    pub account_sid: String,
    /// `CallSid`.
    #[serde(rename = "CallSid")]
    pub call_sid: String,
    /// `From`.
    #[serde(rename = "From", default)]
    pub from: Option<String>,
    /// `To`.
    #[serde(rename = "To", default)]
    pub to: Option<String>,
    /// `CallStatus`.
    #[serde(rename = "CallStatus", default)]
    pub call_status: Option<CallStatus>,
    /// `Direction`.
    #[serde(rename = "Direction", default)]
    pub direction: Option<CallDirection>,
    /// `Digits` pressed (without the finish key).
    #[serde(rename = "Digits", default)]
    pub digits: Option<String>,
    /// `FinishedOnKey`: the key that ended input, empty if none.
    #[serde(rename = "FinishedOnKey", default)]
    pub finished_on_key: Option<String>,
    /// `SpeechResult` (speech input).
    #[serde(rename = "SpeechResult", default)]
    pub speech_result: Option<String>,
    /// `Confidence` of `SpeechResult`, 0.0 to 1.0.
    #[serde(rename = "Confidence", default)]
    pub confidence: Option<f64>,
}
form_struct!(GatherCallback);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_form_like_python() {
        let pairs = parse_form(b"a=1&&b=x+y%20z&c=&d&e=%zz%4&f=%E2%82%AC").unwrap();
        let want: Vec<(String, String)> = [
            ("a", "1"),
            ("b", "x y z"),
            ("c", ""),
            ("d", ""),
            ("e", "%zz%4"),
            ("f", "€"),
        ]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
        assert_eq!(pairs, want);
        assert!(matches!(
            parse_form(b"a=%FF"),
            Err(FormError::InvalidUtf8(_))
        ));
    }

    #[test]
    fn status_callback_from_twilio_body() {
        let body = "Called=%2B919876543210&ToState=&CallerCountry=US&Direction=outbound-api\
            &Timestamp=Tue%2C+24+Nov+2026+19%3A24%3A00+%2B0000&CallbackSource=call-progress-events\
            &SipResponseCode=200&CallerState=CA&ToZip=&SequenceNumber=3&CallSid=CA123\
            &To=%2B919876543210&CallerZip=&ToCountry=IN&CalledZip=&ApiVersion=2010-04-01\
            &CalledCity=&CallStatus=completed&Duration=1&From=%2B14155550100&CallDuration=42\
            &AccountSid=AC123&CalledCountry=IN&CallerCity=&ToCity=&FromCountry=US&Caller=%2B14155550100\
            &FromCity=&CalledState=&FromZip=&AnsweredBy=machine_end_beep&FromState=CA&NewField=x";
        let cb = StatusCallback::from_form(body.as_bytes()).unwrap();
        assert_eq!(cb.call_sid, "CA123");
        assert_eq!(cb.call_status, CallStatus::Completed);
        assert!(cb.call_status.is_terminal());
        assert_eq!(cb.call_duration, Some(42));
        assert_eq!(cb.sequence_number, Some(3));
        assert_eq!(cb.answered_by, Some(AnsweredBy::MachineEndBeep));
        assert_eq!(cb.direction, Some(CallDirection::OutboundApi));
        assert_eq!(cb.to_city, None, "empty means absent");
        assert_eq!(
            cb.timestamp.map(|t| t.to_rfc3339()),
            Some("2026-11-24T19:24:00+00:00".to_owned())
        );
        let again = StatusCallback::from_pairs(&cb.to_pairs()).unwrap();
        assert_eq!(again, cb);
        assert!(
            cb.to_form()
                .contains("Timestamp=Tue%2C+24+Nov+2026+19%3A24%3A00+%2B0000")
        );
    }

    #[test]
    fn unknown_enum_values_are_kept() {
        let cb = AmdCallback::from_form(b"AccountSid=AC1&CallSid=CA1&AnsweredBy=robot").unwrap();
        assert_eq!(cb.answered_by, AnsweredBy::Other("robot".into()));
        assert_eq!(cb.answered_by.as_str(), "robot");
    }

    #[test]
    fn missing_required_field() {
        let err = StatusCallback::from_form(b"AccountSid=AC1&CallSid=CA1").unwrap_err();
        assert!(err.to_string().contains("CallStatus"), "{err}");
    }

    #[test]
    fn a_repeated_field_reads_its_first_value_even_when_empty() {
        // Found by fuzzing (fuzz/fuzz_targets/twilio_forms.rs): the first,
        // empty value made the callback a 400 or came back as `Some("")`.
        let body = b"AccountSid=AC1&CallSid=CA1&CallStatus=ringing\
            &SequenceNumber=&SequenceNumber=3&CalledCity=&CalledCity=Pune";
        let s = StatusCallback::from_form(body).unwrap();
        assert_eq!((s.sequence_number, s.called_city.as_deref()), (None, None));
        assert_eq!(
            StatusCallback::from_form(s.to_form().as_bytes()).unwrap(),
            s
        );
    }

    #[test]
    fn recording_and_gather() {
        let r = RecordingStatusCallback::from_form(
            b"AccountSid=AC1&CallSid=CA1&RecordingSid=RE1&RecordingUrl=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC1%2FRecordings%2FRE1\
              &RecordingStatus=completed&RecordingDuration=12&RecordingChannels=2\
              &RecordingStartTime=Tue%2C+24+Nov+2026+19%3A24%3A00+%2B0000&RecordingSource=OutboundAPI&RecordingTrack=both&ErrorCode=0",
        )
        .unwrap();
        assert_eq!(r.recording_status, RecordingStatus::Completed);
        assert_eq!(r.recording_channels, Some(2));
        let g = GatherCallback::from_form(
            b"AccountSid=AC1&CallSid=CA1&Digits=1234&FinishedOnKey=%23&msg=Gather+End",
        )
        .unwrap();
        assert_eq!(g.digits.as_deref(), Some("1234"));
        assert_eq!(g.finished_on_key.as_deref(), Some("#"));
    }

    proptest! {
        #[test]
        fn parsers_never_panic(body in any::<Vec<u8>>()) {
            let _ = parse_form(&body);
            let _ = StatusCallback::from_form(&body);
            let _ = RecordingStatusCallback::from_form(&body);
            let _ = AmdCallback::from_form(&body);
            let _ = AnswerRequest::from_form(&body);
            let _ = GatherCallback::from_form(&body);
        }

        #[test]
        fn encode_parse_round_trip(pairs in proptest::collection::vec((any::<String>(), any::<String>()), 0..6)) {
            let body = encode_form(&pairs);
            prop_assert_eq!(parse_form(body.as_bytes()).unwrap(), pairs);
        }

        #[test]
        fn status_fields_survive(seq in any::<u64>(), dur in any::<u32>(), city in "[^\u{0}]{1,20}") {
            let body = encode_form(&[
                ("AccountSid", "AC1".to_owned()), ("CallSid", "CA1".to_owned()),
                ("CallStatus", "ringing".to_owned()), ("SequenceNumber", seq.to_string()),
                ("CallDuration", dur.to_string()), ("FromCity", city.clone()),
            ]);
            let cb = StatusCallback::from_form(body.as_bytes()).unwrap();
            prop_assert_eq!(cb.sequence_number, Some(seq));
            prop_assert_eq!(cb.call_duration, Some(dur));
            prop_assert_eq!(cb.from_city, Some(city));
        }
    }
}
