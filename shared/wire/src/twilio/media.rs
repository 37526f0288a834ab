//! Twilio Media Streams WebSocket messages (`reference/twilio.md` §3, from
//! <https://www.twilio.com/docs/voice/media-streams/websocket-messages>).
//!
//! A bridge handles about 50 inbound `media` messages per second per call, so
//! the audio path avoids copies: [`parse_inbound`] borrows the base64
//! payload and ids from the frame (`Cow::Borrowed` unless the JSON escapes
//! them), and [`write_media`], [`write_mark`] and [`write_clear`] append the
//! outbound JSON to a reusable `String` without serde. The simulated carrier
//! uses the mirror image: [`write_inbound_media`] and [`parse_outbound`].
//!
//! On the wire `sequenceNumber`, `chunk` and `timestamp` are **strings**
//! (`"4"`); `sampleRate` and `channels` are numbers. Both forms are accepted
//! on input; output matches Twilio.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::json::push_json_str;
use crate::serde_util::{borrow_opt_cow, opt_num_str};

/// A Media Streams message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Not JSON, or a field has the wrong type.
    #[error("invalid Media Streams JSON")]
    Json(#[source] serde_json::Error),
    /// The event lacks a field it cannot do without.
    #[error("{event} message without {field}")]
    Missing {
        /// The `event`.
        event: &'static str,
        /// The missing field.
        field: &'static str,
    },
}

/// A message Twilio sends us.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum InboundMessage<'a> {
    /// `connected`: first message on the socket.
    Connected(Connected),
    /// `start`: stream metadata, custom parameters.
    Start(Start),
    /// `media`: 20 ms of audio.
    Media(Media<'a>),
    /// `dtmf`: a key press (bidirectional streams).
    Dtmf(Dtmf),
    /// `mark`: a mark we sent has been played (or cleared).
    Mark(Mark),
    /// `stop`: the stream ended.
    Stop(Stop),
    /// An event this crate does not know; ignore it. Not serialisable.
    #[serde(skip)]
    Unknown {
        /// The `event` value.
        event: String,
    },
}

/// `connected`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Connected {
    /// `protocol`: `Call`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// `version`: `1.0.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `start`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Start {
    /// `sequenceNumber`.
    #[serde(
        rename = "sequenceNumber",
        with = "opt_num_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub sequence_number: Option<u64>,
    /// `start`: the metadata.
    pub start: StartMeta,
    /// `streamSid`.
    #[serde(rename = "streamSid")]
    pub stream_sid: String,
}

/// The `start` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartMeta {
    /// `accountSid`.
    pub account_sid: String,
    /// `streamSid`.
    pub stream_sid: String,
    /// `callSid`.
    pub call_sid: String,
    /// `tracks`, e.g. `["inbound"]`.
    #[serde(default)]
    pub tracks: Vec<String>,
    /// `mediaFormat`.
    pub media_format: MediaFormat,
    /// `customParameters`: the `<Parameter>`s of `<Stream>`.
    #[serde(default)]
    pub custom_parameters: BTreeMap<String, String>,
}

/// `mediaFormat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaFormat {
    /// `encoding`: `audio/x-mulaw`.
    pub encoding: String,
    /// `sampleRate`: 8000.
    pub sample_rate: u32,
    /// `channels`: 1.
    pub channels: u16,
}

/// `media`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Media<'a> {
    /// `sequenceNumber`.
    #[serde(
        rename = "sequenceNumber",
        with = "opt_num_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub sequence_number: Option<u64>,
    /// `media`: the audio.
    pub media: MediaPayload<'a>,
    /// `streamSid`.
    #[serde(rename = "streamSid")]
    pub stream_sid: Cow<'a, str>,
}

/// The `media` object of an inbound `media` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaPayload<'a> {
    /// `track`: `inbound` or `outbound`.
    #[serde(borrow, default)]
    pub track: Cow<'a, str>,
    /// `chunk`: counter from 1.
    #[serde(default, with = "opt_num_str", skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u64>,
    /// `timestamp`: ms since the stream started.
    #[serde(default, with = "opt_num_str", skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    /// `payload`: base64 μ-law 8 kHz, 160 bytes per 20 ms.
    #[serde(borrow)]
    pub payload: Cow<'a, str>,
}

/// `dtmf`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dtmf {
    /// `sequenceNumber`.
    #[serde(
        rename = "sequenceNumber",
        with = "opt_num_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub sequence_number: Option<u64>,
    /// `streamSid`.
    #[serde(rename = "streamSid")]
    pub stream_sid: String,
    /// `dtmf`.
    pub dtmf: DtmfDigit,
}

/// The `dtmf` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DtmfDigit {
    /// `track`: `inbound_track`.
    #[serde(default)]
    pub track: String,
    /// `digit`: `0`–`9`, `*`, `#`.
    pub digit: String,
}

/// `mark` (inbound: our mark came back).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mark {
    /// `sequenceNumber`.
    #[serde(
        rename = "sequenceNumber",
        with = "opt_num_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub sequence_number: Option<u64>,
    /// `streamSid`.
    #[serde(rename = "streamSid")]
    pub stream_sid: String,
    /// `mark`.
    pub mark: MarkName,
}

/// The `mark` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkName {
    /// `name`.
    pub name: String,
}

/// `stop`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stop {
    /// `sequenceNumber`.
    #[serde(
        rename = "sequenceNumber",
        with = "opt_num_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub sequence_number: Option<u64>,
    /// `stop`.
    pub stop: StopMeta,
    /// `streamSid`.
    #[serde(rename = "streamSid")]
    pub stream_sid: String,
}

/// The `stop` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopMeta {
    /// `accountSid`.
    #[serde(default)]
    pub account_sid: String,
    /// `callSid`.
    #[serde(default)]
    pub call_sid: String,
}

/// Every field any inbound message has, read in one pass.
#[derive(Deserialize)]
struct RawInbound<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(rename = "sequenceNumber", default, with = "opt_num_str")]
    sequence_number: Option<u64>,
    #[serde(
        rename = "streamSid",
        borrow,
        default,
        deserialize_with = "borrow_opt_cow"
    )]
    stream_sid: Option<Cow<'a, str>>,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    start: Option<StartMeta>,
    #[serde(borrow, default)]
    media: Option<MediaPayload<'a>>,
    #[serde(default)]
    dtmf: Option<DtmfDigit>,
    #[serde(default)]
    mark: Option<MarkName>,
    #[serde(default)]
    stop: Option<StopMeta>,
}

/// Parses a message from Twilio, borrowing the audio payload.
pub fn parse_inbound(text: &str) -> Result<InboundMessage<'_>, MediaError> {
    let raw: RawInbound<'_> = serde_json::from_str(text).map_err(MediaError::Json)?;
    let missing = |event, field| MediaError::Missing { event, field };
    let sid = |event| {
        raw.stream_sid.clone().ok_or(MediaError::Missing {
            event,
            field: "streamSid",
        })
    };
    Ok(match &*raw.event {
        "connected" => InboundMessage::Connected(Connected {
            protocol: raw.protocol,
            version: raw.version,
        }),
        "start" => {
            let start = raw.start.ok_or(missing("start", "start"))?;
            let stream_sid = raw
                .stream_sid
                .map_or_else(|| start.stream_sid.clone(), Cow::into_owned);
            InboundMessage::Start(Start {
                sequence_number: raw.sequence_number,
                start,
                stream_sid,
            })
        }
        "media" => InboundMessage::Media(Media {
            sequence_number: raw.sequence_number,
            stream_sid: sid("media")?,
            media: raw.media.ok_or(missing("media", "media"))?,
        }),
        "dtmf" => InboundMessage::Dtmf(Dtmf {
            sequence_number: raw.sequence_number,
            stream_sid: sid("dtmf")?.into_owned(),
            dtmf: raw.dtmf.ok_or(missing("dtmf", "dtmf"))?,
        }),
        "mark" => InboundMessage::Mark(Mark {
            sequence_number: raw.sequence_number,
            stream_sid: sid("mark")?.into_owned(),
            mark: raw.mark.ok_or(missing("mark", "mark"))?,
        }),
        "stop" => InboundMessage::Stop(Stop {
            sequence_number: raw.sequence_number,
            stream_sid: sid("stop")?.into_owned(),
            stop: raw.stop.unwrap_or(StopMeta {
                account_sid: String::new(),
                call_sid: String::new(),
            }),
        }),
        other => InboundMessage::Unknown {
            event: other.to_owned(),
        },
    })
}

/// A message we send Twilio (bidirectional `<Connect><Stream>` only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundMessage<'a> {
    /// `media`: audio to play, base64 μ-law 8 kHz, no file header; any size,
    /// buffered and played in order.
    Media {
        /// `streamSid`.
        stream_sid: Cow<'a, str>,
        /// `media.payload`.
        payload: Cow<'a, str>,
    },
    /// `mark`: Twilio echoes the name when the audio before it has played.
    Mark {
        /// `streamSid`.
        stream_sid: Cow<'a, str>,
        /// `mark.name`.
        name: Cow<'a, str>,
    },
    /// `clear`: drop buffered audio; pending marks are echoed at once.
    Clear {
        /// `streamSid`.
        stream_sid: Cow<'a, str>,
    },
}

impl OutboundMessage<'_> {
    /// Appends the JSON to `out`.
    pub fn write(&self, out: &mut String) {
        match self {
            Self::Media {
                stream_sid,
                payload,
            } => write_media(stream_sid, payload, out),
            Self::Mark { stream_sid, name } => write_mark(stream_sid, name, out),
            Self::Clear { stream_sid } => write_clear(stream_sid, out),
        }
    }

    /// The JSON text.
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

#[derive(Deserialize)]
struct RawOutbound<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(
        rename = "streamSid",
        borrow,
        default,
        deserialize_with = "borrow_opt_cow"
    )]
    stream_sid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    media: Option<RawOutMedia<'a>>,
    #[serde(borrow, default)]
    mark: Option<RawOutMark<'a>>,
}

#[derive(Deserialize)]
struct RawOutMedia<'a> {
    #[serde(borrow)]
    payload: Cow<'a, str>,
}

#[derive(Deserialize)]
struct RawOutMark<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

/// Parses a message sent to Twilio (what the simulated carrier receives).
/// Unknown events are an error here: Twilio closes the stream on them.
pub fn parse_outbound(text: &str) -> Result<OutboundMessage<'_>, MediaError> {
    let raw: RawOutbound<'_> = serde_json::from_str(text).map_err(MediaError::Json)?;
    let sid = |event| {
        raw.stream_sid.clone().ok_or(MediaError::Missing {
            event,
            field: "streamSid",
        })
    };
    Ok(match &*raw.event {
        "media" => OutboundMessage::Media {
            stream_sid: sid("media")?,
            payload: raw
                .media
                .ok_or(MediaError::Missing {
                    event: "media",
                    field: "media",
                })?
                .payload,
        },
        "mark" => OutboundMessage::Mark {
            stream_sid: sid("mark")?,
            name: raw
                .mark
                .ok_or(MediaError::Missing {
                    event: "mark",
                    field: "mark",
                })?
                .name,
        },
        "clear" => OutboundMessage::Clear {
            stream_sid: sid("clear")?,
        },
        _ => {
            return Err(MediaError::Missing {
                event: "outbound",
                field: "a known event (media, mark, clear)",
            });
        }
    })
}

/// Appends `{"event":"media","streamSid":…,"media":{"payload":…}}` to `out`.
pub fn write_media(stream_sid: &str, payload_b64: &str, out: &mut String) {
    out.reserve(48 + stream_sid.len() + payload_b64.len());
    out.push_str(r#"{"event":"media","streamSid":"#);
    push_json_str(out, stream_sid);
    out.push_str(r#","media":{"payload":"#);
    push_json_str(out, payload_b64);
    out.push_str("}}");
}

/// Appends `{"event":"mark","streamSid":…,"mark":{"name":…}}` to `out`.
pub fn write_mark(stream_sid: &str, name: &str, out: &mut String) {
    out.push_str(r#"{"event":"mark","streamSid":"#);
    push_json_str(out, stream_sid);
    out.push_str(r#","mark":{"name":"#);
    push_json_str(out, name);
    out.push_str("}}");
}

/// Appends `{"event":"clear","streamSid":…}` to `out`.
pub fn write_clear(stream_sid: &str, out: &mut String) {
    out.push_str(r#"{"event":"clear","streamSid":"#);
    push_json_str(out, stream_sid);
    out.push('}');
}

/// Appends an inbound `media` message as Twilio writes it (simulated
/// carrier): counters as strings, `streamSid` last.
pub fn write_inbound_media(
    stream_sid: &str,
    sequence_number: u64,
    track: &str,
    chunk: u64,
    timestamp_ms: u64,
    payload_b64: &str,
    out: &mut String,
) {
    use std::fmt::Write as _;
    out.reserve(120 + stream_sid.len() + payload_b64.len());
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        r#"{{"event":"media","sequenceNumber":"{sequence_number}","media":{{"track":"#
    );
    push_json_str(out, track);
    let _ = write!(
        out,
        r#","chunk":"{chunk}","timestamp":"{timestamp_ms}","payload":"#
    );
    push_json_str(out, payload_b64);
    out.push_str(r#"},"streamSid":"#);
    push_json_str(out, stream_sid);
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Verbatim from twilio.md §3.
    const CONNECTED: &str = r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#;
    const START: &str = r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC…","streamSid":"MZ…","callSid":"CA…",
  "tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},
  "customParameters":{"FirstName":"Jane","LastName":"Doe","RemoteParty":"Bob"}},"streamSid":"MZ…"}"#;
    const MEDIA: &str = r#"{"event":"media","sequenceNumber":"4","media":{"track":"inbound","chunk":"2","timestamp":"5","payload":"no+JhoaJjpzS..."},"streamSid":"MZ…"}"#;
    const DTMF: &str = r#"{"event":"dtmf","streamSid":"MZ…","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"1"}}"#;
    const MARK: &str =
        r#"{"event":"mark","sequenceNumber":"4","streamSid":"MZ…","mark":{"name":"my label"}}"#;
    const STOP: &str = r#"{"event":"stop","sequenceNumber":"5","stop":{"accountSid":"AC…","callSid":"CA…"},"streamSid":"MZ…"}"#;

    #[test]
    fn reference_examples() {
        assert_eq!(
            parse_inbound(CONNECTED).unwrap(),
            InboundMessage::Connected(Connected {
                protocol: Some("Call".into()),
                version: Some("1.0.0".into()),
            })
        );
        let InboundMessage::Start(s) = parse_inbound(START).unwrap() else {
            panic!("start")
        };
        assert_eq!(s.sequence_number, Some(1));
        assert_eq!(s.start.call_sid, "CA…");
        assert_eq!(s.start.media_format.sample_rate, 8000);
        assert_eq!(s.start.custom_parameters["RemoteParty"], "Bob");
        assert_eq!(s.stream_sid, "MZ…");

        let InboundMessage::Media(m) = parse_inbound(MEDIA).unwrap() else {
            panic!("media")
        };
        assert_eq!(m.sequence_number, Some(4));
        assert_eq!((m.media.chunk, m.media.timestamp), (Some(2), Some(5)));
        assert_eq!(m.media.payload, "no+JhoaJjpzS...");
        assert!(
            matches!(m.media.payload, Cow::Borrowed(_)),
            "payload is borrowed"
        );
        assert!(
            matches!(m.stream_sid, Cow::Borrowed(_)),
            "streamSid is borrowed"
        );

        let InboundMessage::Dtmf(d) = parse_inbound(DTMF).unwrap() else {
            panic!("dtmf")
        };
        assert_eq!(
            (d.dtmf.digit.as_str(), d.dtmf.track.as_str()),
            ("1", "inbound_track")
        );
        let InboundMessage::Mark(k) = parse_inbound(MARK).unwrap() else {
            panic!("mark")
        };
        assert_eq!(k.mark.name, "my label");
        let InboundMessage::Stop(p) = parse_inbound(STOP).unwrap() else {
            panic!("stop")
        };
        assert_eq!(p.stop.call_sid, "CA…");
    }

    #[test]
    fn serialised_inbound_matches_reference() {
        for text in [CONNECTED, START, MEDIA, DTMF, MARK, STOP] {
            let msg = parse_inbound(text).unwrap();
            let ours: serde_json::Value = serde_json::to_value(&msg).unwrap();
            let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
        }
        let mut s = String::new();
        write_inbound_media("MZ…", 4, "inbound", 2, 5, "no+JhoaJjpzS...", &mut s);
        assert_eq!(s, MEDIA);
    }

    #[test]
    fn outbound_writers_match_reference() {
        let mut s = String::new();
        write_media("MZ…", "////", &mut s);
        assert_eq!(
            s,
            r#"{"event":"media","streamSid":"MZ…","media":{"payload":"////"}}"#
        );
        s.clear();
        write_mark("MZ…", "resp-42", &mut s);
        assert_eq!(
            s,
            r#"{"event":"mark","streamSid":"MZ…","mark":{"name":"resp-42"}}"#
        );
        s.clear();
        write_clear("MZ…", &mut s);
        assert_eq!(s, r#"{"event":"clear","streamSid":"MZ…"}"#);
        for m in [
            OutboundMessage::Media {
                stream_sid: "MZ1".into(),
                payload: "//8=".into(),
            },
            OutboundMessage::Mark {
                stream_sid: "MZ1".into(),
                name: "a\"b".into(),
            },
            OutboundMessage::Clear {
                stream_sid: "MZ1".into(),
            },
        ] {
            assert_eq!(parse_outbound(&m.to_json()).unwrap(), m);
        }
    }

    #[test]
    fn tolerant_and_strict_where_it_matters() {
        // Numbers instead of strings, unknown fields, unknown events.
        let m = parse_inbound(r#"{"event":"media","sequenceNumber":4,"streamSid":"MZ1","extra":[1],"media":{"track":"inbound","chunk":2,"timestamp":5,"payload":"AA=="}}"#).unwrap();
        assert!(matches!(
            m,
            InboundMessage::Media(Media {
                sequence_number: Some(4),
                ..
            })
        ));
        assert_eq!(
            parse_inbound(r#"{"event":"future","x":1}"#).unwrap(),
            InboundMessage::Unknown {
                event: "future".into()
            }
        );
        assert!(matches!(
            parse_inbound(r#"{"event":"media","streamSid":"MZ1"}"#),
            Err(MediaError::Missing { field: "media", .. })
        ));
        assert!(parse_inbound("{}").is_err());
        assert!(parse_outbound(r#"{"event":"nope","streamSid":"x"}"#).is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in any::<String>()) {
            let _ = parse_inbound(&s);
            let _ = parse_outbound(&s);
        }

        #[test]
        fn media_round_trip(sid in any::<String>(), payload in "[A-Za-z0-9+/=]{0,300}", seq in any::<u64>(), chunk in any::<u64>(), ts in any::<u64>()) {
            let mut s = String::new();
            write_inbound_media(&sid, seq, "inbound", chunk, ts, &payload, &mut s);
            let InboundMessage::Media(m) = parse_inbound(&s).unwrap() else { panic!() };
            prop_assert_eq!(m.stream_sid, sid.as_str());
            prop_assert_eq!(m.media.payload, payload.as_str());
            prop_assert_eq!((m.sequence_number, m.media.chunk, m.media.timestamp), (Some(seq), Some(chunk), Some(ts)));
            s.clear();
            write_media(&sid, &payload, &mut s);
            prop_assert_eq!(parse_outbound(&s).unwrap(), OutboundMessage::Media { stream_sid: sid.as_str().into(), payload: payload.as_str().into() });
        }
    }
}
