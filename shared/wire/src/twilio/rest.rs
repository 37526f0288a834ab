//! Twilio REST: the Calls API, Conference Participants, list queries, JSON
//! resources, error bodies and their retry classification.
//!
//! Request parameters are form pairs (`to_pairs`, `to_form`), with list
//! parameters as repeated names (`StatusCallbackEvent=initiated&
//! StatusCallbackEvent=ringing`). They parse back with `from_pairs`, which is
//! what the simulated carrier does with the body our client sends. Wire names
//! are twilio-python 9.13's (`rest/api/v2010/account/call/__init__.py`,
//! `conference/participant.py`).
//!
//! Responses are JSON with snake_case names, RFC 2822 dates, and numbers as
//! strings (`duration`, `queue_time`, `price` such as `"-0.01500"`); fields
//! Twilio may return as `null` are `Option`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::forms::{AnsweredBy, CallDirection, CallStatus, FormError, form_struct};
use crate::serde_util::{opt_num_str, opt_rfc2822, wire_enum};

/// The REST API host.
pub const API_BASE: &str = "https://api.twilio.com";

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// Form parameters could not be read.
    #[error("invalid form parameters")]
    Form(#[from] FormError),
    /// A JSON body could not be read.
    #[error("invalid JSON body")]
    Json(#[source] serde_json::Error),
    /// Parameters that Twilio would reject (the message says why).
    #[error("invalid request: {0}")]
    Invalid(&'static str),
}

/// Well-known Twilio error codes.
pub mod codes {
    /// Authentication failed (HTTP 401).
    pub const AUTHENTICATE: u32 = 20003;
    /// Resource not found, e.g. updating a call that already ended (HTTP 404).
    pub const NOT_FOUND: u32 = 20404;
    /// Too many concurrent requests (HTTP 429): safe to retry after backoff.
    pub const TOO_MANY_REQUESTS: u32 = 20429;
    /// `From` is not a verified caller id or a Twilio number.
    pub const FROM_NOT_VERIFIED: u32 = 21210;
    /// Invalid `To` number.
    pub const INVALID_TO: u32 = 21211;
    /// `To` cannot be reached.
    pub const TO_UNREACHABLE: u32 = 21214;
    /// Geographic permissions do not allow calling `To`.
    pub const GEO_PERMISSION: u32 = 21215;
    /// `To` does not look like a valid phone number.
    pub const TO_NOT_VALID: u32 = 21217;
}

/// Path of the Calls collection: `POST` to create, `GET` to list.
pub fn calls_path(account_sid: &str) -> String {
    format!(
        "/2010-04-01/Accounts/{}/Calls.json",
        path_segment(account_sid)
    )
}

/// Path of one Call: `GET` to fetch, `POST` to update.
pub fn call_path(account_sid: &str, call_sid: &str) -> String {
    format!(
        "/2010-04-01/Accounts/{}/Calls/{}.json",
        path_segment(account_sid),
        path_segment(call_sid)
    )
}

/// Path of a conference's Participants; the conference may be its sid or its
/// friendly name (percent-encoded here).
pub fn participants_path(account_sid: &str, conference: &str) -> String {
    format!(
        "/2010-04-01/Accounts/{}/Conferences/{}/Participants.json",
        path_segment(account_sid),
        path_segment(conference)
    )
}

fn path_segment(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

wire_enum! {
    /// HTTP method for a callback or TwiML URL.
    pub enum HttpMethod {
        /// `GET`.
        Get => "GET",
        /// `POST` (Twilio's default).
        Post => "POST",
    }
}

wire_enum! {
    /// `StatusCallbackEvent` values for calls and participants.
    pub enum StatusCallbackEvent {
        /// Dialling started.
        Initiated => "initiated",
        /// The far end is ringing.
        Ringing => "ringing",
        /// Answered (reported as `CallStatus=in-progress`).
        Answered => "answered",
        /// The call ended (the only default event).
        Completed => "completed",
    }
}

wire_enum! {
    /// `MachineDetection` mode.
    pub enum MachineDetection {
        /// Verdict as soon as human or machine is known.
        Enable => "Enable",
        /// On a machine, wait for the end of the greeting.
        DetectMessageEnd => "DetectMessageEnd",
    }
}

wire_enum! {
    /// `RecordingChannels`.
    pub enum RecordingChannels {
        /// Both parties mixed in one channel (default).
        Mono => "mono",
        /// One channel per party.
        Dual => "dual",
    }
}

wire_enum! {
    /// `RecordingTrack`.
    pub enum RecordingTrack {
        /// Audio received by Twilio (the callee).
        Inbound => "inbound",
        /// Audio sent by Twilio (our side).
        Outbound => "outbound",
        /// Both.
        Both => "both",
    }
}

wire_enum! {
    /// `RecordingStatusCallbackEvent` values.
    pub enum RecordingStatusCallbackEvent {
        /// Recording started.
        InProgress => "in-progress",
        /// Recording available (default).
        Completed => "completed",
        /// No audio recorded.
        Absent => "absent",
    }
}

wire_enum! {
    /// `Status` of a call update.
    pub enum UpdateCallStatus {
        /// Hang up a call in progress.
        Completed => "completed",
        /// Cancel a queued or ringing call.
        Canceled => "canceled",
    }
}

/// Parameters of `POST /Accounts/{AccountSid}/Calls.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CreateCallParams {
    /// `To`: the number to call (required).
    #[serde(rename = "To")]
    pub to: String,
    /// `From`: a Twilio number or verified caller id (required).
    #[serde(rename = "From")]
    pub from: String,
    /// `Url`: where to fetch the answer TwiML.
    #[serde(rename = "Url", default)]
    pub url: Option<String>,
    /// `Method` for `Url` (default `POST`).
    #[serde(rename = "Method", default)]
    pub method: Option<HttpMethod>,
    /// `Twiml`: inline TwiML (max 4,000 characters), ignored if `Url` is set.
    #[serde(rename = "Twiml", default)]
    pub twiml: Option<String>,
    /// `ApplicationSid`: a TwiML App instead of `Url`/`Twiml`.
    #[serde(rename = "ApplicationSid", default)]
    pub application_sid: Option<String>,
    /// `StatusCallback` URL.
    #[serde(rename = "StatusCallback", default)]
    pub status_callback: Option<String>,
    /// `StatusCallbackMethod` (default `POST`).
    #[serde(rename = "StatusCallbackMethod", default)]
    pub status_callback_method: Option<HttpMethod>,
    /// `StatusCallbackEvent`, repeated; only `completed` when empty.
    #[serde(rename = "StatusCallbackEvent", default)]
    pub status_callback_event: Vec<StatusCallbackEvent>,
    /// `Timeout`: seconds to ring (default 60, max 600).
    #[serde(rename = "Timeout", default)]
    pub timeout: Option<u32>,
    /// `TimeLimit`: maximum call length in seconds.
    #[serde(rename = "TimeLimit", default)]
    pub time_limit: Option<u32>,
    /// `MachineDetection`; ignored when `SendDigits` is set.
    #[serde(rename = "MachineDetection", default)]
    pub machine_detection: Option<MachineDetection>,
    /// `MachineDetectionTimeout`: seconds (default 30).
    #[serde(rename = "MachineDetectionTimeout", default)]
    pub machine_detection_timeout: Option<u32>,
    /// `MachineDetectionSpeechThreshold`: ms, 1000–6000 (default 2400).
    #[serde(rename = "MachineDetectionSpeechThreshold", default)]
    pub machine_detection_speech_threshold: Option<u32>,
    /// `MachineDetectionSpeechEndThreshold`: ms, 500–5000 (default 1200).
    #[serde(rename = "MachineDetectionSpeechEndThreshold", default)]
    pub machine_detection_speech_end_threshold: Option<u32>,
    /// `MachineDetectionSilenceTimeout`: ms, 2000–10000 (default 5000).
    #[serde(rename = "MachineDetectionSilenceTimeout", default)]
    pub machine_detection_silence_timeout: Option<u32>,
    /// `AsyncAmd`: connect at once and report AMD by callback.
    #[serde(rename = "AsyncAmd", default)]
    pub async_amd: Option<bool>,
    /// `AsyncAmdStatusCallback` URL.
    #[serde(rename = "AsyncAmdStatusCallback", default)]
    pub async_amd_status_callback: Option<String>,
    /// `AsyncAmdStatusCallbackMethod`.
    #[serde(rename = "AsyncAmdStatusCallbackMethod", default)]
    pub async_amd_status_callback_method: Option<HttpMethod>,
    /// `Record` the call.
    #[serde(rename = "Record", default)]
    pub record: Option<bool>,
    /// `RecordingChannels`.
    #[serde(rename = "RecordingChannels", default)]
    pub recording_channels: Option<RecordingChannels>,
    /// `RecordingTrack`.
    #[serde(rename = "RecordingTrack", default)]
    pub recording_track: Option<RecordingTrack>,
    /// `RecordingStatusCallback` URL.
    #[serde(rename = "RecordingStatusCallback", default)]
    pub recording_status_callback: Option<String>,
    /// `RecordingStatusCallbackEvent`, repeated.
    #[serde(rename = "RecordingStatusCallbackEvent", default)]
    pub recording_status_callback_event: Vec<RecordingStatusCallbackEvent>,
    /// `RecordingStatusCallbackMethod`.
    #[serde(rename = "RecordingStatusCallbackMethod", default)]
    pub recording_status_callback_method: Option<HttpMethod>,
    /// `CallerId` (SIP calls).
    #[serde(rename = "CallerId", default)]
    pub caller_id: Option<String>,
    /// `SendDigits`: DTMF to play once answered (disables AMD).
    #[serde(rename = "SendDigits", default)]
    pub send_digits: Option<String>,
}
form_struct!(CreateCallParams);

impl CreateCallParams {
    /// Rejects what Twilio would reject before dialling: empty `To`/`From`,
    /// no `Url`/`Twiml`/`ApplicationSid`, `Twiml` over 4,000 characters,
    /// `Timeout` over 600.
    pub fn check(&self) -> Result<(), RestError> {
        if self.to.trim().is_empty() {
            return Err(RestError::Invalid("To is required"));
        }
        if self.from.trim().is_empty() {
            return Err(RestError::Invalid("From is required"));
        }
        if self.url.is_none() && self.twiml.is_none() && self.application_sid.is_none() {
            return Err(RestError::Invalid(
                "one of Url, Twiml or ApplicationSid is required",
            ));
        }
        if self
            .twiml
            .as_ref()
            .is_some_and(|t| t.chars().count() > 4000)
        {
            return Err(RestError::Invalid("Twiml is longer than 4000 characters"));
        }
        if self.timeout.is_some_and(|t| t > 600) {
            return Err(RestError::Invalid("Timeout is over 600 seconds"));
        }
        Ok(())
    }
}

/// Parameters of `POST /Accounts/{AccountSid}/Calls/{CallSid}.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UpdateCallParams {
    /// `Twiml`: replace the running TwiML (ends a `<Connect><Stream>`).
    #[serde(rename = "Twiml", default)]
    pub twiml: Option<String>,
    /// `Url`: fetch new TwiML from here.
    #[serde(rename = "Url", default)]
    pub url: Option<String>,
    /// `Method` for `Url`.
    #[serde(rename = "Method", default)]
    pub method: Option<HttpMethod>,
    /// `Status`: `completed` hangs up, `canceled` cancels a queued/ringing call.
    #[serde(rename = "Status", default)]
    pub status: Option<UpdateCallStatus>,
}
form_struct!(UpdateCallParams);

/// Parameters of `POST /Accounts/{AccountSid}/Conferences/{Name}/Participants.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CreateParticipantParams {
    /// `From` (required).
    #[serde(rename = "From")]
    pub from: String,
    /// `To` (required): the participant to dial.
    #[serde(rename = "To")]
    pub to: String,
    /// `Label`: a name for the participant within the conference.
    #[serde(rename = "Label", default)]
    pub label: Option<String>,
    /// `EarlyMedia`: hear ringback.
    #[serde(rename = "EarlyMedia", default)]
    pub early_media: Option<bool>,
    /// `Beep`: `true`, `false`, `onEnter` or `onExit`.
    #[serde(rename = "Beep", default)]
    pub beep: Option<String>,
    /// `StatusCallback` URL.
    #[serde(rename = "StatusCallback", default)]
    pub status_callback: Option<String>,
    /// `StatusCallbackMethod`.
    #[serde(rename = "StatusCallbackMethod", default)]
    pub status_callback_method: Option<HttpMethod>,
    /// `StatusCallbackEvent`, repeated.
    #[serde(rename = "StatusCallbackEvent", default)]
    pub status_callback_event: Vec<StatusCallbackEvent>,
    /// `Coaching`: the participant is heard only by `CallSidToCoach` (whisper).
    #[serde(rename = "Coaching", default)]
    pub coaching: Option<bool>,
    /// `CallSidToCoach`.
    #[serde(rename = "CallSidToCoach", default)]
    pub call_sid_to_coach: Option<String>,
    /// `Timeout`: seconds to ring.
    #[serde(rename = "Timeout", default)]
    pub timeout: Option<u32>,
    /// `StartConferenceOnEnter`.
    #[serde(rename = "StartConferenceOnEnter", default)]
    pub start_conference_on_enter: Option<bool>,
    /// `EndConferenceOnExit`.
    #[serde(rename = "EndConferenceOnExit", default)]
    pub end_conference_on_exit: Option<bool>,
    /// `MachineDetection`.
    #[serde(rename = "MachineDetection", default)]
    pub machine_detection: Option<MachineDetection>,
}
form_struct!(CreateParticipantParams);

/// `YYYY-MM-DDTHH:MM:SSZ`, as twilio-python's `iso8601_datetime` writes;
/// a bare `YYYY-MM-DD` is read as midnight UTC.
mod iso_datetime {
    use super::*;

    pub(super) fn serialize<S: Serializer>(
        v: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.collect_str(&d.format("%Y-%m-%dT%H:%M:%SZ")),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let Some(s) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        let t = s.trim();
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return Ok(Some(dt.with_timezone(&Utc)));
        }
        if let Ok(ndt) = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%SZ") {
            return Ok(Some(ndt.and_utc()));
        }
        NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|ndt| Some(ndt.and_utc()))
            .ok_or_else(|| serde::de::Error::custom(format_args!("{s:?} is not a date")))
    }
}

/// Query of `GET /Accounts/{AccountSid}/Calls.json` (sweeper reconciliation).
///
/// The `StartTime>=` filter of the docs is the name `StartTime>` with the
/// value after `=`: that is how twilio-python sends it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ListCallsQuery {
    /// `To`.
    #[serde(rename = "To", default)]
    pub to: Option<String>,
    /// `From`.
    #[serde(rename = "From", default)]
    pub from: Option<String>,
    /// `Status`.
    #[serde(rename = "Status", default)]
    pub status: Option<CallStatus>,
    /// `StartTime>`: calls started on or after.
    #[serde(
        rename = "StartTime>",
        default,
        with = "iso_datetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time_after: Option<DateTime<Utc>>,
    /// `StartTime<`: calls started on or before.
    #[serde(
        rename = "StartTime<",
        default,
        with = "iso_datetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time_before: Option<DateTime<Utc>>,
    /// `PageSize` (Twilio's maximum is 1000).
    #[serde(rename = "PageSize", default)]
    pub page_size: Option<u32>,
    /// `PageToken`, from a `next_page_uri`.
    #[serde(rename = "PageToken", default)]
    pub page_token: Option<String>,
    /// `Page` number, from a `next_page_uri`.
    #[serde(rename = "Page", default)]
    pub page: Option<u32>,
}
form_struct!(ListCallsQuery);

/// A Call resource (create, fetch, update and list responses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallResource {
    /// `sid` (`CA…`).
    pub sid: String,
    /// `account_sid`.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// `parent_call_sid`.
    #[serde(default)]
    pub parent_call_sid: Option<String>,
    /// `date_created`.
    #[serde(default, with = "opt_rfc2822")]
    pub date_created: Option<DateTime<Utc>>,
    /// `date_updated`.
    #[serde(default, with = "opt_rfc2822")]
    pub date_updated: Option<DateTime<Utc>>,
    /// `to`.
    #[serde(default)]
    pub to: Option<String>,
    /// `to_formatted`.
    #[serde(default)]
    pub to_formatted: Option<String>,
    /// `from`.
    #[serde(default)]
    pub from: Option<String>,
    /// `from_formatted`.
    #[serde(default)]
    pub from_formatted: Option<String>,
    /// `phone_number_sid`.
    #[serde(default)]
    pub phone_number_sid: Option<String>,
    /// `status` (`queued` at creation).
    pub status: CallStatus,
    /// `start_time`: when answered; `null` until then.
    #[serde(default, with = "opt_rfc2822")]
    pub start_time: Option<DateTime<Utc>>,
    /// `end_time`.
    #[serde(default, with = "opt_rfc2822")]
    pub end_time: Option<DateTime<Utc>>,
    /// `duration` in seconds (a string on the wire).
    #[serde(default, with = "opt_num_str")]
    pub duration: Option<u32>,
    /// `price`: a signed decimal string such as `"-0.01500"`; see
    /// [`CallResource::price_micros`].
    #[serde(default)]
    pub price: Option<String>,
    /// `price_unit`: ISO 4217 currency, e.g. `USD`.
    #[serde(default)]
    pub price_unit: Option<String>,
    /// `direction` (`outbound-api` for calls we create).
    #[serde(default)]
    pub direction: Option<CallDirection>,
    /// `answered_by`.
    #[serde(default)]
    pub answered_by: Option<AnsweredBy>,
    /// `api_version`.
    #[serde(default)]
    pub api_version: Option<String>,
    /// `forwarded_from`.
    #[serde(default)]
    pub forwarded_from: Option<String>,
    /// `group_sid`.
    #[serde(default)]
    pub group_sid: Option<String>,
    /// `caller_name`.
    #[serde(default)]
    pub caller_name: Option<String>,
    /// `queue_time`: ms the call waited in the CPS queue (a string on the wire).
    #[serde(default, with = "opt_num_str")]
    pub queue_time: Option<u64>,
    /// `stir_verstat`.
    #[serde(default)]
    pub stir_verstat: Option<String>,
    /// `trunk_sid`.
    #[serde(default)]
    pub trunk_sid: Option<String>,
    /// `uri`.
    #[serde(default)]
    pub uri: Option<String>,
    /// `subresource_uris`.
    #[serde(default)]
    pub subresource_uris: Option<BTreeMap<String, String>>,
}

impl CallResource {
    /// Parses a JSON body.
    pub fn from_json(body: &[u8]) -> Result<Self, RestError> {
        serde_json::from_slice(body).map_err(RestError::Json)
    }

    /// `price` in millionths of `price_unit` (`"-0.01500"` → `-15000`);
    /// `None` when absent or not a decimal. Digits past the sixth decimal are
    /// dropped.
    pub fn price_micros(&self) -> Option<i64> {
        parse_decimal_micros(self.price.as_deref()?)
    }
}

/// Parses a decimal string into millionths, without floating point.
pub fn parse_decimal_micros(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut micros: i64 = if int.is_empty() {
        0
    } else {
        int.parse::<i64>().ok()?
    };
    micros = micros.checked_mul(1_000_000)?;
    let mut scale = 100_000;
    for b in frac.bytes().take(6) {
        micros = micros.checked_add(i64::from(b - b'0') * scale)?;
        scale /= 10;
    }
    Some(if neg { -micros } else { micros })
}

/// One page of `GET …/Calls.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallsPage {
    /// `calls`.
    pub calls: Vec<CallResource>,
    /// `next_page_uri`: path of the next page, `null` on the last.
    #[serde(default)]
    pub next_page_uri: Option<String>,
    /// `previous_page_uri`.
    #[serde(default)]
    pub previous_page_uri: Option<String>,
    /// `first_page_uri`.
    #[serde(default)]
    pub first_page_uri: Option<String>,
    /// `uri` of this page.
    #[serde(default)]
    pub uri: Option<String>,
    /// `page` number, from 0.
    #[serde(default)]
    pub page: Option<u64>,
    /// `page_size`.
    #[serde(default)]
    pub page_size: Option<u64>,
    /// `start` index.
    #[serde(default)]
    pub start: Option<u64>,
    /// `end` index.
    #[serde(default)]
    pub end: Option<u64>,
}

impl CallsPage {
    /// Parses a JSON body.
    pub fn from_json(body: &[u8]) -> Result<Self, RestError> {
        serde_json::from_slice(body).map_err(RestError::Json)
    }
}

/// A Twilio error body: `{"code":20429,"message":"Too Many Requests",
/// "more_info":"https://www.twilio.com/docs/errors/20429","status":429}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TwilioErrorBody {
    /// `code`: the Twilio error code.
    #[serde(default)]
    pub code: Option<u32>,
    /// `message`.
    #[serde(default)]
    pub message: Option<String>,
    /// `more_info`: documentation URL.
    #[serde(default)]
    pub more_info: Option<String>,
    /// `status`: the HTTP status again.
    #[serde(default)]
    pub status: Option<u16>,
}

impl TwilioErrorBody {
    /// Parses an error body; `None` if it is not one (HTML from a proxy, …).
    pub fn parse(body: &[u8]) -> Option<Self> {
        serde_json::from_slice(body).ok()
    }
}

/// What to do about a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// HTTP 429 / code 20429: not processed, retry after backing off.
    RateLimited,
    /// 5xx, 408, or no usable status: retry may succeed.
    Transient,
    /// Any other 4xx: retrying the same request fails again.
    Permanent {
        /// The Twilio error code, when the body had one.
        code: Option<u32>,
    },
}

/// Classifies a failed response by HTTP status and (if parsed) body.
pub fn classify_error(http_status: u16, body: Option<&TwilioErrorBody>) -> ErrorClass {
    let code = body.and_then(|b| b.code);
    if http_status == 429 || code == Some(codes::TOO_MANY_REQUESTS) {
        ErrorClass::RateLimited
    } else if http_status == 408 || !(400..500).contains(&http_status) {
        ErrorClass::Transient
    } else {
        ErrorClass::Permanent { code }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample_create() -> CreateCallParams {
        CreateCallParams {
            to: "+919876543210".into(),
            from: "+14155550100".into(),
            url: Some("https://hooks.example.com/twilio/answer".into()),
            method: Some(HttpMethod::Post),
            status_callback: Some("https://hooks.example.com/twilio/status".into()),
            status_callback_event: vec![
                StatusCallbackEvent::Initiated,
                StatusCallbackEvent::Ringing,
                StatusCallbackEvent::Answered,
                StatusCallbackEvent::Completed,
            ],
            timeout: Some(30),
            machine_detection: Some(MachineDetection::DetectMessageEnd),
            async_amd: Some(true),
            async_amd_status_callback: Some("https://hooks.example.com/twilio/amd".into()),
            record: Some(true),
            recording_channels: Some(RecordingChannels::Dual),
            recording_status_callback_event: vec![
                RecordingStatusCallbackEvent::Completed,
                RecordingStatusCallbackEvent::Absent,
            ],
            ..Default::default()
        }
    }

    #[test]
    fn create_params_as_form() {
        let p = sample_create();
        p.check().unwrap();
        let form = p.to_form();
        assert_eq!(
            form,
            "To=%2B919876543210&From=%2B14155550100&Url=https%3A%2F%2Fhooks.example.com%2Ftwilio%2Fanswer\
             &Method=POST&StatusCallback=https%3A%2F%2Fhooks.example.com%2Ftwilio%2Fstatus\
             &StatusCallbackEvent=initiated&StatusCallbackEvent=ringing&StatusCallbackEvent=answered\
             &StatusCallbackEvent=completed&Timeout=30&MachineDetection=DetectMessageEnd&AsyncAmd=true\
             &AsyncAmdStatusCallback=https%3A%2F%2Fhooks.example.com%2Ftwilio%2Famd&Record=true\
             &RecordingChannels=dual&RecordingStatusCallbackEvent=completed&RecordingStatusCallbackEvent=absent"
        );
        assert_eq!(CreateCallParams::from_form(form.as_bytes()).unwrap(), p);
    }

    #[test]
    fn create_params_check() {
        let mut p = sample_create();
        p.url = None;
        assert!(p.check().is_err());
        p.twiml = Some("<Response/>".into());
        assert!(p.check().is_ok());
        p.to = " ".into();
        assert!(p.check().is_err());
    }

    #[test]
    fn update_and_participant() {
        let u = UpdateCallParams {
            status: Some(UpdateCallStatus::Completed),
            ..Default::default()
        };
        assert_eq!(u.to_form(), "Status=completed");
        let p = CreateParticipantParams {
            from: "+14155550100".into(),
            to: "+919876500000".into(),
            label: Some("agent".into()),
            early_media: Some(true),
            beep: Some("onEnter".into()),
            coaching: Some(true),
            call_sid_to_coach: Some("CA1".into()),
            status_callback_event: vec![
                StatusCallbackEvent::Answered,
                StatusCallbackEvent::Completed,
            ],
            ..Default::default()
        };
        let back = CreateParticipantParams::from_pairs(&p.to_pairs()).unwrap();
        assert_eq!(back, p);
        assert_eq!(
            participants_path("AC1", "xfer 42/a"),
            "/2010-04-01/Accounts/AC1/Conferences/xfer%2042%2Fa/Participants.json"
        );
        assert_eq!(
            call_path("AC1", "CA2"),
            "/2010-04-01/Accounts/AC1/Calls/CA2.json"
        );
        assert_eq!(calls_path("AC1"), "/2010-04-01/Accounts/AC1/Calls.json");
    }

    #[test]
    fn list_query() {
        let q = ListCallsQuery {
            to: Some("+919876543210".into()),
            status: Some(CallStatus::InProgress),
            start_time_after: DateTime::parse_from_rfc3339("2026-11-24T00:00:00Z")
                .ok()
                .map(|d| d.with_timezone(&Utc)),
            page_size: Some(50),
            ..Default::default()
        };
        assert_eq!(
            q.to_form(),
            "To=%2B919876543210&Status=in-progress&StartTime%3E=2026-11-24T00%3A00%3A00Z&PageSize=50"
        );
        assert_eq!(
            ListCallsQuery::from_form(q.to_form().as_bytes()).unwrap(),
            q
        );
        let d = ListCallsQuery::from_form(b"StartTime>=2009-07-06").unwrap();
        assert_eq!(
            d.start_time_after.map(|d| d.to_rfc3339()).as_deref(),
            Some("2009-07-06T00:00:00+00:00")
        );
    }

    #[test]
    fn call_resource_json() {
        let body = br#"{"account_sid":"AC1","annotation":null,"answered_by":null,"api_version":"2010-04-01",
            "caller_name":null,"date_created":"Tue, 24 Nov 2026 19:24:00 +0000","date_updated":"Tue, 24 Nov 2026 19:24:00 +0000",
            "direction":"outbound-api","duration":"42","end_time":"Tue, 24 Nov 2026 19:25:00 +0000","forwarded_from":null,
            "from":"+14155550100","from_formatted":"(415) 555-0100","group_sid":null,"parent_call_sid":null,
            "phone_number_sid":"PN1","price":"-0.01500","price_unit":"USD","sid":"CA1",
            "start_time":"Tue, 24 Nov 2026 19:24:18 +0000","status":"completed",
            "subresource_uris":{"notifications":"/2010-04-01/Accounts/AC1/Calls/CA1/Notifications.json"},
            "to":"+919876543210","to_formatted":"+919876543210","trunk_sid":null,"uri":"/2010-04-01/Accounts/AC1/Calls/CA1.json",
            "queue_time":"0","stir_verstat":null}"#;
        let c = CallResource::from_json(body).unwrap();
        assert_eq!(c.status, CallStatus::Completed);
        assert_eq!(c.duration, Some(42));
        assert_eq!(c.queue_time, Some(0));
        assert_eq!(c.price_micros(), Some(-15_000));
        assert_eq!(c.direction, Some(CallDirection::OutboundApi));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["duration"], "42");
        assert_eq!(json["date_created"], "Tue, 24 Nov 2026 19:24:00 +0000");
        assert!(json["answered_by"].is_null());
        let queued = CallResource::from_json(
            br#"{"sid":"CA2","status":"queued","duration":null,"price":null,"start_time":null}"#,
        )
        .unwrap();
        assert_eq!(queued.duration, None);
        assert_eq!(queued.price_micros(), None);
        let page = CallsPage::from_json(
            br#"{"calls":[],"next_page_uri":null,"page":0,"page_size":50,"start":0,"end":0,"uri":"/x","first_page_uri":"/x","previous_page_uri":null}"#,
        )
        .unwrap();
        assert!(page.calls.is_empty() && page.next_page_uri.is_none());
    }

    #[test]
    fn decimal_prices() {
        assert_eq!(parse_decimal_micros("-0.01500"), Some(-15_000));
        assert_eq!(parse_decimal_micros("1"), Some(1_000_000));
        assert_eq!(parse_decimal_micros(".5"), Some(500_000));
        assert_eq!(parse_decimal_micros("0.1234567"), Some(123_456));
        assert_eq!(parse_decimal_micros("abc"), None);
        assert_eq!(parse_decimal_micros("-"), None);
        assert_eq!(parse_decimal_micros("."), None);
    }

    #[test]
    fn error_classification() {
        let rate = TwilioErrorBody::parse(
            br#"{"code":20429,"message":"Too Many Requests","more_info":"https://www.twilio.com/docs/errors/20429","status":429}"#,
        )
        .unwrap();
        assert_eq!(classify_error(429, Some(&rate)), ErrorClass::RateLimited);
        assert_eq!(classify_error(429, None), ErrorClass::RateLimited);
        assert_eq!(classify_error(503, None), ErrorClass::Transient);
        assert_eq!(
            classify_error(500, Some(&TwilioErrorBody::default())),
            ErrorClass::Transient
        );
        let invalid_to = TwilioErrorBody {
            code: Some(codes::INVALID_TO),
            ..Default::default()
        };
        assert_eq!(
            classify_error(400, Some(&invalid_to)),
            ErrorClass::Permanent { code: Some(21211) }
        );
        assert_eq!(
            classify_error(404, None),
            ErrorClass::Permanent { code: None }
        );
        assert_eq!(classify_error(408, None), ErrorClass::Transient);
        assert_eq!(TwilioErrorBody::parse(b"<html>"), None);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(body in any::<Vec<u8>>()) {
            let _ = CreateCallParams::from_form(&body);
            let _ = UpdateCallParams::from_form(&body);
            let _ = CreateParticipantParams::from_form(&body);
            let _ = ListCallsQuery::from_form(&body);
            let _ = CallResource::from_json(&body);
            let _ = CallsPage::from_json(&body);
            let _ = TwilioErrorBody::parse(&body);
            if let Ok(s) = std::str::from_utf8(&body) { let _ = parse_decimal_micros(s); }
        }

        #[test]
        fn create_round_trip(to in "\\+[0-9]{8,15}", timeout in proptest::option::of(0u32..600),
                             twiml in proptest::option::of(any::<String>()), events in proptest::collection::vec(0usize..4, 0..4)) {
            let all = [StatusCallbackEvent::Initiated, StatusCallbackEvent::Ringing, StatusCallbackEvent::Answered, StatusCallbackEvent::Completed];
            let p = CreateCallParams {
                to, from: "+14155550100".into(), timeout,
                twiml: twiml.filter(|t| !t.is_empty()),
                status_callback_event: events.into_iter().map(|i| all[i].clone()).collect(),
                ..Default::default()
            };
            prop_assert_eq!(CreateCallParams::from_form(p.to_form().as_bytes()).unwrap(), p);
        }
    }
}
