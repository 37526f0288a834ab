//! SansPBX (San Software "SanIPPBX"): REST bodies, the media WebSocket, an
//! assumed status webhook, and number formatting.
//!
//! **No vendor documentation exists publicly.** Everything below is inferred
//! from independent community code (`reference/sanspbx.md`) and must be
//! confirmed with the vendor. Every path, header and field name lives in this
//! module; parsers accept the spellings seen in the wild and ignore unknown
//! fields.
//!
//! # Assumptions
//!
//! | What | Assumed | Tolerance |
//! |---|---|---|
//! | Token endpoint | `POST {base}/pbxadmin/sanpbxapi/gentoken`, header `Accesstoken: <static token>`, body `{"access_key":"…"}` ([`TokenRequest`]) | path configurable in [`Endpoints`] |
//! | Token response | `{"Apitoken":"…","expiry_time":"…"}` ([`TokenResponse`]) | also `apitoken`, `ApiToken`, `api_token`, `token`; `expiry_time` optional, kept as text |
//! | Dial | `POST …/sanpbxapi/dialcall`, header `Apitoken`, body `{"appid":<int>,"call_to":"…","caller_id":"…","custom_field":{…}}` ([`DialRequest`]) | `appid` written as a number, read from a number or string |
//! | Dial response | `callid` at the top level or under `data` ([`DialResponse`]) | also `call_id`/`callId`; a number or a string; `data` may be an object or a one-element array |
//! | Hangup | `POST …/sanpbxapi/calldisconnect`, header `Apitoken`, body `{"callid":"…"}` ([`DisconnectRequest`]) | |
//! | Numbers | `call_to` as `0XXXXXXXXXX` or `91XXXXXXXXXX`; the DID as its last 7 digits | [`format_number`] with a [`NumberStyle`]; [`did_last_digits`] |
//! | Media WebSocket | the PBX dials **our** `wss://` URL; JSON text frames with an `event` field ([`parse_stream_event`]) | fields read at the top level or nested under the event's name (`start`, `media`, `dtmf`) or `data`; camelCase or snake_case; ids as strings or numbers |
//! | Inbound events | `connected`, `start` (`streamId`, `callId`, `channelId`, `mediaFormat{encoding,sampleRate,channels}`, `callerId`, `callDirection`, `did`), `answer`, `media` (`payload`), `dtmf` (`digit`, `dtmfDurationMs`), `stop`, `transfer-call-response`, `hangup-call-response` | other events become [`StreamEvent::Unknown`] |
//! | Audio | LINEAR16 PCM, little-endian, 8 kHz mono, 20 ms = 320 bytes, base64 | `mediaFormat` is reported, not enforced here |
//! | Outbound audio | `{"event":"reverse-media","payload":…,"streamId":…,"channelId":…,"callId":…}` ([`write_outbound_media`]) | the event name is a parameter: implementations use `reverse-media` or `media` |
//! | Status webhook | **format unknown**; assumed JSON `{"callid","status","duration","rec_path","timestamp","seq"}` ([`StatusWebhook`]) | form-encoded bodies too; status spellings normalised (`NO-ANSWER`, `no_answer`, `noanswer`, `ANSWER`, `hangup`, …); `seq` optional |
//! | Recordings | `rec_path`: a path relative to the PBX host | kept as text |

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::json::push_json_str;
use crate::serde_util::{borrow_opt_cow, opt_num_lenient, opt_string_or_number, string_or_number};
use crate::twilio::forms::{FormError, parse_form};

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum SansPbxError {
    /// Not JSON, or a field of the wrong type.
    #[error("invalid SansPBX JSON")]
    Json(#[source] serde_json::Error),
    /// A form-encoded webhook body could not be read.
    #[error("invalid SansPBX form body")]
    Form(#[source] FormError),
    /// A field the message cannot do without.
    #[error("SansPBX message without {0}")]
    Missing(&'static str),
    /// A phone number that cannot be formatted as asked.
    #[error("cannot format {number:?}: {reason}")]
    Number {
        /// The input.
        number: String,
        /// Why.
        reason: &'static str,
    },
}

/// Header carrying the static access token on the token request.
pub const ACCESS_TOKEN_HEADER: &str = "Accesstoken";
/// Header carrying the API token on dial and hangup.
pub const API_TOKEN_HEADER: &str = "Apitoken";

/// The REST endpoints, relative to a configured base URL
/// (e.g. `https://clouduat28.sansoftwares.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Base URL, no trailing slash needed.
    pub base_url: String,
    /// Token path.
    pub token_path: String,
    /// Dial path.
    pub dial_path: String,
    /// Hangup path.
    pub disconnect_path: String,
}

impl Endpoints {
    /// The observed paths under `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            token_path: "/pbxadmin/sanpbxapi/gentoken".into(),
            dial_path: "/pbxadmin/sanpbxapi/dialcall".into(),
            disconnect_path: "/pbxadmin/sanpbxapi/calldisconnect".into(),
        }
    }

    fn join(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.base_url.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }

    /// URL of the token request.
    pub fn token_url(&self) -> String {
        self.join(&self.token_path)
    }

    /// URL of the dial request.
    pub fn dial_url(&self) -> String {
        self.join(&self.dial_path)
    }

    /// URL of the hangup request.
    pub fn disconnect_url(&self) -> String {
        self.join(&self.disconnect_path)
    }
}

/// Token request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRequest {
    /// `access_key`.
    pub access_key: String,
}

/// Token response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// `Apitoken`: send as the `Apitoken` header.
    #[serde(
        rename = "Apitoken",
        alias = "apitoken",
        alias = "ApiToken",
        alias = "api_token",
        alias = "token"
    )]
    pub api_token: String,
    /// `expiry_time`, format unknown: kept as text.
    #[serde(
        default,
        deserialize_with = "opt_string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiry_time: Option<String>,
}

impl TokenResponse {
    /// Parses a token response.
    pub fn parse(body: &[u8]) -> Result<Self, SansPbxError> {
        serde_json::from_slice(body).map_err(SansPbxError::Json)
    }
}

/// Dial request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialRequest {
    /// `appid`: the PBX application that bridges the call to our WebSocket.
    #[serde(deserialize_with = "u64_lenient")]
    pub appid: u64,
    /// `call_to`: the callee, formatted with [`format_number`].
    pub call_to: String,
    /// `caller_id`: the DID, often its last digits ([`did_last_digits`]).
    pub caller_id: String,
    /// `custom_field`: echoed back (we put our call id here).
    #[serde(default)]
    pub custom_field: BTreeMap<String, String>,
}

fn u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    opt_num_lenient::deserialize(d)?.ok_or_else(|| serde::de::Error::custom("expected an integer"))
}

/// What a dial response says, wherever it says it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DialResponse {
    /// `callid`, from the top level or `data`.
    pub call_id: Option<String>,
    /// `status`, as text (`"success"`, `true`, `1`, …).
    pub status: Option<String>,
    /// `message` or `msg`.
    pub message: Option<String>,
}

impl DialResponse {
    /// Parses a dial response, tolerating the shapes in the module table.
    pub fn parse(body: &[u8]) -> Result<Self, SansPbxError> {
        let v: serde_json::Value = serde_json::from_slice(body).map_err(SansPbxError::Json)?;
        let top = v.as_object();
        let data = top.and_then(|o| o.get("data")).and_then(|d| match d {
            serde_json::Value::Array(a) => a.first().and_then(serde_json::Value::as_object),
            other => other.as_object(),
        });
        let find = |keys: &[&str]| {
            [top, data]
                .into_iter()
                .flatten()
                .find_map(|o| keys.iter().find_map(|k| o.get(*k)).and_then(scalar_text))
        };
        Ok(Self {
            call_id: find(&["callid", "call_id", "callId", "CallId"]),
            status: find(&["status", "Status"]),
            message: find(&["message", "msg", "Message"]),
        })
    }

    /// The call id, or an error naming what is missing.
    pub fn require_call_id(&self) -> Result<&str, SansPbxError> {
        self.call_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or(SansPbxError::Missing("callid"))
    }
}

fn scalar_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Hangup request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisconnectRequest {
    /// `callid`.
    #[serde(deserialize_with = "string_or_number")]
    pub callid: String,
}

/// How `call_to` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberStyle {
    /// Trunk prefix and national number: `09876543210`.
    TrunkZero,
    /// Country code and national number, no plus: `919876543210`.
    CountryCode,
    /// National number only: `9876543210`.
    National,
    /// E.164 unchanged: `+919876543210`.
    E164,
}

/// Formats an E.164 number (`+919876543210`) for the PBX, given the country
/// calling code it must start with (`"91"`).
pub fn format_number(
    e164: &str,
    country_code: &str,
    style: NumberStyle,
) -> Result<String, SansPbxError> {
    let err = |reason| SansPbxError::Number {
        number: e164.to_owned(),
        reason,
    };
    let digits = e164
        .trim()
        .strip_prefix('+')
        .ok_or_else(|| err("not E.164 (no leading +)"))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("not E.164 (digits only after +)"));
    }
    if country_code.is_empty() || !country_code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("country code must be digits"));
    }
    let national = digits
        .strip_prefix(country_code)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| err("not in the expected country"))?;
    Ok(match style {
        NumberStyle::TrunkZero => format!("0{national}"),
        NumberStyle::CountryCode => format!("{country_code}{national}"),
        NumberStyle::National => national.to_owned(),
        NumberStyle::E164 => format!("+{digits}"),
    })
}

/// The last `n` digits of a DID (non-digits dropped; all digits if fewer).
pub fn did_last_digits(did: &str, n: usize) -> String {
    let digits: Vec<char> = did.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(n)..].iter().collect()
}

/// Ids that identify a media stream.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamIds {
    /// `streamId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
    /// `callId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// `channelId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
}

/// `mediaFormat` of a `start` event.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamMediaFormat {
    /// `encoding`, e.g. `LINEAR16` or `audio/x-l16`.
    #[serde(default)]
    pub encoding: Option<String>,
    /// `sampleRate`: 8000 observed.
    #[serde(alias = "sample_rate", default, with = "opt_num_lenient")]
    pub sample_rate: Option<u32>,
    /// `channels`: 1.
    #[serde(default, with = "opt_num_lenient")]
    pub channels: Option<u16>,
}

/// `start`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamStart {
    /// The stream's ids.
    pub ids: StreamIds,
    /// `mediaFormat`.
    pub media_format: Option<StreamMediaFormat>,
    /// `callerId`.
    pub caller_id: Option<String>,
    /// `callDirection`.
    pub call_direction: Option<String>,
    /// `did`.
    pub did: Option<String>,
    /// `custom_field` echoed from the dial request, when present.
    pub custom_field: BTreeMap<String, String>,
}

/// An event on the media WebSocket, from the PBX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// `connected`.
    Connected,
    /// `start`: stream metadata.
    Start(StreamStart),
    /// `answer`: the callee answered.
    Answer(StreamIds),
    /// `media`: base64 PCM16 LE 8 kHz, borrowed from the frame.
    Media {
        /// Ids, when the frame repeats them.
        ids: StreamIds,
        /// `payload`.
        payload: Cow<'a, str>,
    },
    /// `dtmf`.
    Dtmf {
        /// Ids.
        ids: StreamIds,
        /// `digit`.
        digit: String,
        /// `dtmfDurationMs`.
        duration_ms: Option<u32>,
    },
    /// `stop`: the stream ended.
    Stop(StreamIds),
    /// `transfer-call-response`, kept as JSON.
    TransferCallResponse(serde_json::Value),
    /// `hangup-call-response`, kept as JSON.
    HangupCallResponse(serde_json::Value),
    /// Anything else.
    Unknown {
        /// The `event`.
        event: String,
    },
}

/// Every field seen on any event, at one level; nested objects recurse.
#[derive(Debug, Default, Deserialize)]
struct RawFields<'a> {
    #[serde(borrow, default, deserialize_with = "borrow_opt_cow")]
    event: Option<Cow<'a, str>>,
    #[serde(
        rename = "streamId",
        alias = "stream_id",
        alias = "streamSid",
        default,
        deserialize_with = "opt_string_or_number"
    )]
    stream_id: Option<String>,
    #[serde(
        rename = "callId",
        alias = "call_id",
        alias = "callid",
        default,
        deserialize_with = "opt_string_or_number"
    )]
    call_id: Option<String>,
    #[serde(
        rename = "channelId",
        alias = "channel_id",
        default,
        deserialize_with = "opt_string_or_number"
    )]
    channel_id: Option<String>,
    #[serde(rename = "mediaFormat", alias = "media_format", default)]
    media_format: Option<StreamMediaFormat>,
    #[serde(
        rename = "callerId",
        alias = "caller_id",
        default,
        deserialize_with = "opt_string_or_number"
    )]
    caller_id: Option<String>,
    #[serde(rename = "callDirection", alias = "call_direction", default)]
    call_direction: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    did: Option<String>,
    #[serde(borrow, default, deserialize_with = "borrow_opt_cow")]
    payload: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    digit: Option<String>,
    #[serde(
        rename = "dtmfDurationMs",
        alias = "dtmf_duration_ms",
        default,
        with = "opt_num_lenient"
    )]
    dtmf_duration_ms: Option<u32>,
    #[serde(default)]
    custom_field: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(borrow, default)]
    start: Option<Box<RawFields<'a>>>,
    #[serde(borrow, default)]
    media: Option<Box<RawFields<'a>>>,
    #[serde(borrow, default)]
    dtmf: Option<Box<RawFields<'a>>>,
    #[serde(borrow, default)]
    data: Option<Box<RawFields<'a>>>,
}

/// Parses an event from the PBX, borrowing the audio payload.
pub fn parse_stream_event(text: &str) -> Result<StreamEvent<'_>, SansPbxError> {
    // `transfer-call-response` and `hangup-call-response` are kept whole.
    let head: RawFields<'_> = serde_json::from_str(text).map_err(SansPbxError::Json)?;
    let event = head.event.clone().ok_or(SansPbxError::Missing("event"))?;
    let mut raw = head;
    let nested = match &*event {
        "start" => raw.start.take(),
        "media" => raw.media.take(),
        "dtmf" => raw.dtmf.take(),
        _ => None,
    }
    .or_else(|| raw.data.take());
    let n = nested.map(|b| *b).unwrap_or_default();
    let ids = StreamIds {
        stream_id: n.stream_id.or(raw.stream_id),
        call_id: n.call_id.or(raw.call_id),
        channel_id: n.channel_id.or(raw.channel_id),
    };
    Ok(match &*event {
        "connected" => StreamEvent::Connected,
        "start" => StreamEvent::Start(StreamStart {
            ids,
            media_format: n.media_format.or(raw.media_format),
            caller_id: n.caller_id.or(raw.caller_id),
            call_direction: n.call_direction.or(raw.call_direction),
            did: n.did.or(raw.did),
            custom_field: n
                .custom_field
                .or(raw.custom_field)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| {
                    let text = scalar_text(&v).unwrap_or_else(|| v.to_string());
                    (k, text)
                })
                .collect(),
        }),
        "answer" => StreamEvent::Answer(ids),
        "media" => StreamEvent::Media {
            ids,
            payload: n
                .payload
                .or(raw.payload)
                .ok_or(SansPbxError::Missing("payload"))?,
        },
        "dtmf" => StreamEvent::Dtmf {
            ids,
            digit: n
                .digit
                .or(raw.digit)
                .ok_or(SansPbxError::Missing("digit"))?,
            duration_ms: n.dtmf_duration_ms.or(raw.dtmf_duration_ms),
        },
        "stop" => StreamEvent::Stop(ids),
        "transfer-call-response" => StreamEvent::TransferCallResponse(
            serde_json::from_str(text).map_err(SansPbxError::Json)?,
        ),
        "hangup-call-response" => {
            StreamEvent::HangupCallResponse(serde_json::from_str(text).map_err(SansPbxError::Json)?)
        }
        other => StreamEvent::Unknown {
            event: other.to_owned(),
        },
    })
}

/// The outbound event name most implementations use.
pub const REVERSE_MEDIA_EVENT: &str = "reverse-media";

/// Appends `{"event":<event>,"payload":…,"streamId":…,"channelId":…,"callId":…}`
/// to `out` (ids left out when `None`).
pub fn write_outbound_media(event: &str, payload_b64: &str, ids: &StreamIds, out: &mut String) {
    out.reserve(80 + payload_b64.len());
    out.push_str(r#"{"event":"#);
    push_json_str(out, event);
    out.push_str(r#","payload":"#);
    push_json_str(out, payload_b64);
    for (name, v) in [
        ("streamId", &ids.stream_id),
        ("channelId", &ids.channel_id),
        ("callId", &ids.call_id),
    ] {
        if let Some(v) = v {
            out.push_str(",\"");
            out.push_str(name);
            out.push_str("\":");
            push_json_str(out, v);
        }
    }
    out.push('}');
}

/// An outbound audio message as the simulated PBX reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMedia<'a> {
    /// `event` (`reverse-media`, `media`, …).
    pub event: Cow<'a, str>,
    /// `payload`.
    pub payload: Cow<'a, str>,
    /// Ids.
    pub ids: StreamIds,
}

/// Parses an outbound audio message (any event name with a `payload`).
pub fn parse_outbound_media(text: &str) -> Result<OutboundMedia<'_>, SansPbxError> {
    let raw: RawFields<'_> = serde_json::from_str(text).map_err(SansPbxError::Json)?;
    Ok(OutboundMedia {
        event: raw.event.ok_or(SansPbxError::Missing("event"))?,
        payload: raw.payload.ok_or(SansPbxError::Missing("payload"))?,
        ids: StreamIds {
            stream_id: raw.stream_id,
            call_id: raw.call_id,
            channel_id: raw.channel_id,
        },
    })
}

/// Call status in the (assumed) status webhook.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SansCallStatus {
    /// Ringing.
    Ringing,
    /// Answered / connected.
    Answered,
    /// Ended after an answer.
    Completed,
    /// Busy.
    Busy,
    /// Not answered.
    NoAnswer,
    /// Failed (invalid number, congestion, …).
    Failed,
    /// Anything else, verbatim.
    Other(String),
}

impl SansCallStatus {
    /// Reads a status, ignoring case, `-`, `_` and spaces.
    pub fn from_wire(s: &str) -> Self {
        let norm: String = s
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        match norm.as_str() {
            "ringing" | "ring" => Self::Ringing,
            "answered" | "answer" | "connected" | "inprogress" => Self::Answered,
            "completed" | "complete" | "hangup" | "disconnected" | "ended" => Self::Completed,
            "busy" => Self::Busy,
            "noanswer" | "notanswered" | "unanswered" => Self::NoAnswer,
            "failed" | "failure" | "congestion" | "cancel" | "canceled" | "cancelled" => {
                Self::Failed
            }
            _ => Self::Other(s.to_owned()),
        }
    }

    /// The spelling written by this crate (simulated PBX).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ringing => "ringing",
            Self::Answered => "answered",
            Self::Completed => "completed",
            Self::Busy => "busy",
            Self::NoAnswer => "noanswer",
            Self::Failed => "failed",
            Self::Other(s) => s,
        }
    }
}

impl Serialize for SansCallStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SansCallStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from_wire(&string_or_number(d)?))
    }
}

/// The status webhook. **Assumed shape** (no documentation): see the module
/// table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusWebhook {
    /// `callid`.
    #[serde(
        alias = "call_id",
        alias = "callId",
        alias = "CallId",
        deserialize_with = "string_or_number"
    )]
    pub callid: String,
    /// `status`.
    #[serde(alias = "Status", alias = "call_status", alias = "callStatus")]
    pub status: SansCallStatus,
    /// `duration` in seconds.
    #[serde(
        alias = "Duration",
        alias = "billsec",
        default,
        with = "opt_num_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<u32>,
    /// `rec_path`: recording path relative to the PBX.
    #[serde(
        alias = "recording_path",
        alias = "recPath",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub rec_path: Option<String>,
    /// `timestamp`, format unknown: kept as text.
    #[serde(
        default,
        deserialize_with = "opt_string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp: Option<String>,
    /// `seq`: event order, if the PBX sends one.
    #[serde(
        alias = "sequence",
        alias = "sequence_number",
        default,
        with = "opt_num_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub seq: Option<u64>,
}

impl StatusWebhook {
    /// Parses a JSON body, or a form-encoded one if the body is not a JSON
    /// object.
    pub fn parse(body: &[u8]) -> Result<Self, SansPbxError> {
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'{') {
            return serde_json::from_slice(body).map_err(SansPbxError::Json);
        }
        let pairs = parse_form(body).map_err(SansPbxError::Form)?;
        let obj: serde_json::Map<String, serde_json::Value> = pairs
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        serde_json::from_value(serde_json::Value::Object(obj)).map_err(SansPbxError::Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rest_bodies() {
        let e = Endpoints::new("https://clouduat28.sansoftwares.com/");
        assert_eq!(
            e.token_url(),
            "https://clouduat28.sansoftwares.com/pbxadmin/sanpbxapi/gentoken"
        );
        assert_eq!(
            e.dial_url(),
            "https://clouduat28.sansoftwares.com/pbxadmin/sanpbxapi/dialcall"
        );
        assert_eq!(
            e.disconnect_url(),
            "https://clouduat28.sansoftwares.com/pbxadmin/sanpbxapi/calldisconnect"
        );
        let t = TokenResponse::parse(br#"{"Apitoken":"abc","expiry_time":"2026-11-24 20:00:00"}"#)
            .unwrap();
        assert_eq!(t.api_token, "abc");
        assert_eq!(
            TokenResponse::parse(br#"{"token":"x","expiry_time":3600}"#)
                .unwrap()
                .expiry_time
                .as_deref(),
            Some("3600")
        );
        assert!(TokenResponse::parse(br#"{"status":"error"}"#).is_err());

        let mut custom = BTreeMap::new();
        custom.insert("call_id".to_owned(), "7f3c2a".to_owned());
        let d = DialRequest {
            appid: 12,
            call_to: "09876543210".into(),
            caller_id: "1234567".into(),
            custom_field: custom,
        };
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(
            json,
            r#"{"appid":12,"call_to":"09876543210","caller_id":"1234567","custom_field":{"call_id":"7f3c2a"}}"#
        );
        let back: DialRequest =
            serde_json::from_str(&json.replace(r#""appid":12"#, r#""appid":"12""#)).unwrap();
        assert_eq!(back, d);
        assert_eq!(
            serde_json::to_string(&DisconnectRequest {
                callid: "99".into()
            })
            .unwrap(),
            r#"{"callid":"99"}"#
        );
    }

    #[test]
    fn dial_response_shapes() {
        for body in [
            &br#"{"status":"success","callid":"C1"}"#[..],
            br#"{"status":true,"data":{"callid":"C1"}}"#,
            br#"{"status":1,"data":[{"call_id":"C1"}],"msg":"ok"}"#,
            br#"{"data":{"callId":"C1"}}"#,
        ] {
            assert_eq!(
                DialResponse::parse(body)
                    .unwrap()
                    .require_call_id()
                    .unwrap(),
                "C1"
            );
        }
        let numeric = DialResponse::parse(br#"{"callid":12345,"message":"queued"}"#).unwrap();
        assert_eq!(numeric.call_id.as_deref(), Some("12345"));
        assert_eq!(numeric.message.as_deref(), Some("queued"));
        let none = DialResponse::parse(br#"{"status":"error","message":"invalid token"}"#).unwrap();
        assert!(matches!(
            none.require_call_id(),
            Err(SansPbxError::Missing("callid"))
        ));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            format_number("+919876543210", "91", NumberStyle::TrunkZero).unwrap(),
            "09876543210"
        );
        assert_eq!(
            format_number("+919876543210", "91", NumberStyle::CountryCode).unwrap(),
            "919876543210"
        );
        assert_eq!(
            format_number("+919876543210", "91", NumberStyle::National).unwrap(),
            "9876543210"
        );
        assert_eq!(
            format_number("+919876543210", "91", NumberStyle::E164).unwrap(),
            "+919876543210"
        );
        assert!(format_number("919876543210", "91", NumberStyle::TrunkZero).is_err());
        assert!(format_number("+14155550100", "91", NumberStyle::TrunkZero).is_err());
        assert!(format_number("+91", "91", NumberStyle::TrunkZero).is_err());
        assert_eq!(did_last_digits("+91-80-4567-1234", 7), "5671234");
        assert_eq!(did_last_digits("123", 7), "123");
    }

    #[test]
    fn stream_events() {
        assert_eq!(
            parse_stream_event(r#"{"event":"connected"}"#).unwrap(),
            StreamEvent::Connected
        );
        let flat = parse_stream_event(
            r#"{"event":"start","streamId":"S1","callId":991,"channelId":"SIP/x-1","mediaFormat":{"encoding":"LINEAR16","sampleRate":"8000","channels":1},"callerId":"09876543210","callDirection":"outbound","did":"1234567","custom_field":{"call_id":"7f3c2a","n":5}}"#,
        )
        .unwrap();
        let nested = parse_stream_event(
            r#"{"event":"start","start":{"stream_id":"S1","call_id":"991","channel_id":"SIP/x-1","media_format":{"encoding":"LINEAR16","sample_rate":8000,"channels":"1"},"caller_id":"09876543210","call_direction":"outbound","did":1234567,"custom_field":{"call_id":"7f3c2a","n":"5"}}}"#,
        )
        .unwrap();
        assert_eq!(flat, nested);
        let StreamEvent::Start(s) = flat else {
            panic!()
        };
        assert_eq!(s.ids.call_id.as_deref(), Some("991"));
        assert_eq!(s.media_format.unwrap().sample_rate, Some(8000));
        assert_eq!(s.custom_field["call_id"], "7f3c2a");

        let m =
            parse_stream_event(r#"{"event":"media","streamId":"S1","payload":"AAAA"}"#).unwrap();
        let StreamEvent::Media { payload, ids } = m else {
            panic!()
        };
        assert!(matches!(payload, Cow::Borrowed("AAAA")));
        assert_eq!(ids.stream_id.as_deref(), Some("S1"));
        let m = parse_stream_event(r#"{"event":"media","media":{"payload":"BBBB"}}"#).unwrap();
        assert!(matches!(m, StreamEvent::Media { ref payload, .. } if payload == "BBBB"));

        let d =
            parse_stream_event(r#"{"event":"dtmf","digit":"5","dtmfDurationMs":"120"}"#).unwrap();
        assert_eq!(
            d,
            StreamEvent::Dtmf {
                ids: StreamIds::default(),
                digit: "5".into(),
                duration_ms: Some(120)
            }
        );
        assert!(matches!(
            parse_stream_event(r#"{"event":"answer","callId":"1"}"#).unwrap(),
            StreamEvent::Answer(_)
        ));
        assert!(matches!(
            parse_stream_event(r#"{"event":"stop"}"#).unwrap(),
            StreamEvent::Stop(_)
        ));
        assert!(matches!(
            parse_stream_event(r#"{"event":"hangup-call-response","status":"ok"}"#).unwrap(),
            StreamEvent::HangupCallResponse(v) if v["status"] == "ok"
        ));
        assert!(matches!(
            parse_stream_event(r#"{"event":"transfer-call-response","result":{"a":1}}"#).unwrap(),
            StreamEvent::TransferCallResponse(_)
        ));
        assert_eq!(
            parse_stream_event(r#"{"event":"mark"}"#).unwrap(),
            StreamEvent::Unknown {
                event: "mark".into()
            }
        );
        assert!(matches!(
            parse_stream_event(r#"{"event":"media"}"#),
            Err(SansPbxError::Missing("payload"))
        ));
        assert!(matches!(
            parse_stream_event(r#"{"x":1}"#),
            Err(SansPbxError::Missing("event"))
        ));
    }

    #[test]
    fn outbound_media() {
        let ids = StreamIds {
            stream_id: Some("S1".into()),
            call_id: Some("991".into()),
            channel_id: Some("SIP/x-1".into()),
        };
        let mut out = String::new();
        write_outbound_media(REVERSE_MEDIA_EVENT, "AAAA", &ids, &mut out);
        assert_eq!(
            out,
            r#"{"event":"reverse-media","payload":"AAAA","streamId":"S1","channelId":"SIP/x-1","callId":"991"}"#
        );
        let back = parse_outbound_media(&out).unwrap();
        assert_eq!(
            (back.event.as_ref(), back.payload.as_ref()),
            ("reverse-media", "AAAA")
        );
        assert_eq!(back.ids, ids);
        out.clear();
        write_outbound_media("media", "BBBB", &StreamIds::default(), &mut out);
        assert_eq!(out, r#"{"event":"media","payload":"BBBB"}"#);
    }

    #[test]
    fn status_webhook_assumed_shape() {
        let w = StatusWebhook::parse(
            br#"{"callid":"C1","status":"NO-ANSWER","duration":"0","rec_path":"rec/2026/11/C1.wav","timestamp":"2026-11-24 19:24:00","seq":3}"#,
        )
        .unwrap();
        assert_eq!(w.status, SansCallStatus::NoAnswer);
        assert_eq!((w.duration, w.seq), (Some(0), Some(3)));
        let f = StatusWebhook::parse(b"call_id=C2&Status=ANSWER&duration=").unwrap();
        assert_eq!(
            (f.callid.as_str(), &f.status, f.duration),
            ("C2", &SansCallStatus::Answered, None)
        );
        let odd = StatusWebhook::parse(br#"{"callid":5,"status":"weird"}"#).unwrap();
        assert_eq!(odd.status, SansCallStatus::Other("weird".into()));
        assert_eq!(odd.callid, "5");
        assert!(StatusWebhook::parse(br#"{"status":"busy"}"#).is_err());
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(StatusWebhook::parse(json.as_bytes()).unwrap(), w);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(body in any::<Vec<u8>>()) {
            let _ = TokenResponse::parse(&body);
            let _ = DialResponse::parse(&body);
            let _ = StatusWebhook::parse(&body);
            if let Ok(s) = std::str::from_utf8(&body) {
                let _ = parse_stream_event(s);
                let _ = parse_outbound_media(s);
                let _ = format_number(s, "91", NumberStyle::TrunkZero);
                let _ = did_last_digits(s, 7);
            }
        }

        #[test]
        fn number_round_trip(national in "[1-9][0-9]{9}") {
            let e164 = format!("+91{national}");
            prop_assert_eq!(format_number(&e164, "91", NumberStyle::TrunkZero).unwrap(), format!("0{national}"));
            prop_assert_eq!(format_number(&e164, "91", NumberStyle::CountryCode).unwrap(), format!("91{national}"));
        }
    }
}
