//! TwiML: a typed tree for the voice verbs voxdial uses, an exact XML writer
//! and a parser back to the same tree (the simulated carrier interprets the
//! TwiML it receives).
//!
//! # Covered
//!
//! `<Response>` with `<Say>`, `<Play>`, `<Pause>`, `<Gather>` (nesting
//! `<Say>`/`<Play>`/`<Pause>`), `<Dial>` (a number as text, or `<Number>`,
//! `<Conference>`, `<Sip>` nouns), `<Connect>` with `<Stream>` and its
//! `<Parameter>`s, `<Hangup>`, `<Redirect>` and `<Reject>`. Attribute names
//! are twilio-python 9.13's (`twilio/twiml/voice_response.py`, snake_case
//! arguments turned lowerCamelCase).
//!
//! # Output
//!
//! The writer produces what twilio-python's `VoiceResponse.to_xml()` produces:
//! the declaration `<?xml version="1.0" encoding="UTF-8"?>`, attributes sorted
//! by name, booleans as `true`/`false`, empty elements as `<Hangup />`. Two
//! deliberate differences, both still equivalent XML: `'` is escaped as
//! `&apos;` everywhere and `"` as `&quot;` in text too, and a `\r` in text is
//! written `&#13;` so it survives parsing. Characters XML 1.0 cannot carry
//! (C0 controls other than tab, LF, CR; U+FFFE; U+FFFF) are written as
//! U+FFFD. `fixtures/gen_twiml.py` checks the output against the library.
//!
//! # Parsing
//!
//! [`Response::parse`] accepts exactly the elements and attributes above and
//! names the offender otherwise ([`TwimlError`]): a simulated carrier should
//! fail loudly on TwiML it would not honour. Whitespace between elements is
//! ignored; text content is kept as is. An empty text (`<Play />`,
//! `<Dial></Dial>`) reads as absent. `<!DOCTYPE>` is refused, and nesting is
//! capped at 16 levels.

mod parse;
mod write;

use crate::serde_util::wire_enum;

pub use super::rest::HttpMethod;
pub use parse::TwimlError;

/// `<Response>`: the root.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    /// The verbs, executed in order.
    pub verbs: Vec<Verb>,
}

impl Response {
    /// An empty response.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a verb.
    pub fn push(mut self, verb: impl Into<Verb>) -> Self {
        self.verbs.push(verb.into());
        self
    }

    /// The XML document, declaration included.
    pub fn to_xml(&self) -> String {
        write::response(self)
    }

    /// Parses a TwiML document.
    pub fn parse(xml: &str) -> Result<Self, TwimlError> {
        parse::response(xml)
    }
}

/// A top-level verb.
#[derive(Debug, Clone, PartialEq)]
pub enum Verb {
    /// `<Say>`.
    Say(Say),
    /// `<Play>`.
    Play(Play),
    /// `<Pause>`.
    Pause(Pause),
    /// `<Gather>`.
    Gather(Gather),
    /// `<Dial>`.
    Dial(Dial),
    /// `<Connect>`.
    Connect(Connect),
    /// `<Hangup />`.
    Hangup,
    /// `<Redirect>`.
    Redirect(Redirect),
    /// `<Reject>`.
    Reject(Reject),
}

macro_rules! into_enum {
    ($enum:ident: $($ty:ident),+) => {
        $(impl From<$ty> for $enum {
            fn from(v: $ty) -> Self {
                $enum::$ty(v)
            }
        })+
    };
}
into_enum!(Verb: Say, Play, Pause, Gather, Dial, Connect, Redirect, Reject);

/// `<Say>`: text to speech.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Say {
    /// The text (element content).
    pub text: String,
    /// `voice`, e.g. `Polly.Aditi` or `Google.en-IN-Wavenet-A`.
    pub voice: Option<String>,
    /// `language`, e.g. `en-IN`.
    pub language: Option<String>,
    /// `loop`: repetitions, 0 = until the call ends.
    pub loop_count: Option<u32>,
}

impl Say {
    /// `<Say>text</Say>`.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
}

/// `<Play>`: an audio URL, or DTMF `digits`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Play {
    /// The media URL (element content).
    pub url: Option<String>,
    /// `loop`: repetitions, 0 = until the call ends.
    pub loop_count: Option<u32>,
    /// `digits`: DTMF to play (`w` waits half a second).
    pub digits: Option<String>,
}

impl Play {
    /// `<Play>url</Play>`.
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            url: Some(url.into()),
            ..Self::default()
        }
    }
}

/// `<Pause>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pause {
    /// `length` in seconds (Twilio's default is 1).
    pub length: Option<u32>,
}

wire_enum! {
    /// `<Gather input>`.
    pub enum GatherInput {
        /// Keypad only (the default).
        Dtmf => "dtmf",
        /// Speech only.
        Speech => "speech",
        /// Either.
        DtmfSpeech => "dtmf speech",
    }
}

/// `<Gather>`: collect digits or speech.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Gather {
    /// `input`.
    pub input: Option<GatherInput>,
    /// `numDigits`: stop after this many digits.
    pub num_digits: Option<u32>,
    /// `finishOnKey`: `#` by default; empty disables.
    pub finish_on_key: Option<String>,
    /// `timeout`: seconds of silence before submitting.
    pub timeout: Option<u32>,
    /// `speechTimeout`: seconds, or `auto`.
    pub speech_timeout: Option<String>,
    /// `language` for speech recognition.
    pub language: Option<String>,
    /// `hints` for speech recognition, comma-separated.
    pub hints: Option<String>,
    /// `action`: where to POST the result.
    pub action: Option<String>,
    /// `method` for `action`.
    pub method: Option<HttpMethod>,
    /// `actionOnEmptyResult`: call `action` even without input.
    pub action_on_empty_result: Option<bool>,
    /// Prompts played while gathering.
    pub prompts: Vec<Prompt>,
}

/// A prompt nested in `<Gather>`.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// `<Say>`.
    Say(Say),
    /// `<Play>`.
    Play(Play),
    /// `<Pause>`.
    Pause(Pause),
}
into_enum!(Prompt: Say, Play, Pause);

/// `<Dial>`: connect the call to another party.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dial {
    /// A number as the element's text (`<Dial>+91…</Dial>`); use `nouns`
    /// for anything richer.
    pub number: Option<String>,
    /// `callerId`.
    pub caller_id: Option<String>,
    /// `timeout`: seconds to ring.
    pub timeout: Option<u32>,
    /// `timeLimit`: maximum seconds of the bridged call.
    pub time_limit: Option<u32>,
    /// `action`: requested when the dialled call ends.
    pub action: Option<String>,
    /// `method` for `action`.
    pub method: Option<HttpMethod>,
    /// `record`: `do-not-record`, `record-from-answer`, `record-from-ringing`,
    /// `record-from-answer-dual`, `record-from-ringing-dual`.
    pub record: Option<String>,
    /// `recordingStatusCallback`.
    pub recording_status_callback: Option<String>,
    /// `answerOnBridge`: keep the caller ringing until the callee answers.
    pub answer_on_bridge: Option<bool>,
    /// `hangupOnStar`.
    pub hangup_on_star: Option<bool>,
    /// `ringTone`: country code of the ringback tone.
    pub ring_tone: Option<String>,
    /// The nouns to dial.
    pub nouns: Vec<DialNoun>,
}

impl Dial {
    /// `<Dial>number</Dial>`.
    pub fn number(number: impl Into<String>) -> Self {
        Self {
            number: Some(number.into()),
            ..Self::default()
        }
    }
}

/// A noun nested in `<Dial>`.
#[derive(Debug, Clone, PartialEq)]
pub enum DialNoun {
    /// `<Number>`.
    Number(Number),
    /// `<Conference>`.
    Conference(Conference),
    /// `<Sip>`.
    Sip(Sip),
}
into_enum!(DialNoun: Number, Conference, Sip);

/// `<Number>` in `<Dial>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Number {
    /// The phone number (element content).
    pub number: String,
    /// `sendDigits`: DTMF after the callee answers.
    pub send_digits: Option<String>,
    /// `url`: TwiML run on the callee's leg before bridging (a whisper).
    pub url: Option<String>,
    /// `method` for `url`.
    pub method: Option<HttpMethod>,
    /// `statusCallback`.
    pub status_callback: Option<String>,
    /// `statusCallbackEvent`: space-separated events.
    pub status_callback_event: Option<String>,
    /// `statusCallbackMethod`.
    pub status_callback_method: Option<HttpMethod>,
}

impl Number {
    /// `<Number>number</Number>`.
    pub fn new(number: impl Into<String>) -> Self {
        Self {
            number: number.into(),
            ..Self::default()
        }
    }
}

/// `<Conference>` in `<Dial>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Conference {
    /// The conference's friendly name (element content).
    pub name: String,
    /// `startConferenceOnEnter`.
    pub start_conference_on_enter: Option<bool>,
    /// `endConferenceOnExit`.
    pub end_conference_on_exit: Option<bool>,
    /// `beep`: `true`, `false`, `onEnter` or `onExit`.
    pub beep: Option<String>,
    /// `muted`.
    pub muted: Option<bool>,
    /// `waitUrl`: hold music TwiML; empty for silence.
    pub wait_url: Option<String>,
    /// `waitMethod`.
    pub wait_method: Option<HttpMethod>,
    /// `maxParticipants`.
    pub max_participants: Option<u32>,
    /// `record`: `do-not-record` or `record-from-start`.
    pub record: Option<String>,
    /// `coach`: the call sid this participant coaches.
    pub coach: Option<String>,
    /// `statusCallback`.
    pub status_callback: Option<String>,
    /// `statusCallbackEvent`: space-separated events.
    pub status_callback_event: Option<String>,
    /// `statusCallbackMethod`.
    pub status_callback_method: Option<HttpMethod>,
    /// `participantLabel`.
    pub participant_label: Option<String>,
}

impl Conference {
    /// `<Conference>name</Conference>`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

/// `<Sip>` in `<Dial>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sip {
    /// The SIP URI (element content).
    pub uri: String,
    /// `username` for digest auth.
    pub username: Option<String>,
    /// `password` for digest auth.
    pub password: Option<String>,
    /// `url`: TwiML run on the called leg.
    pub url: Option<String>,
    /// `method` for `url`.
    pub method: Option<HttpMethod>,
}

/// `<Connect>`: hand the call to a service; subsequent verbs run only after
/// the service (our WebSocket) closes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Connect {
    /// `action`: requested when the connection ends.
    pub action: Option<String>,
    /// `method` for `action`.
    pub method: Option<HttpMethod>,
    /// The nouns (one `<Stream>` in practice).
    pub nouns: Vec<ConnectNoun>,
}

impl Connect {
    /// `<Connect><Stream …/></Connect>`.
    pub fn stream(stream: Stream) -> Self {
        Self {
            nouns: vec![ConnectNoun::Stream(stream)],
            ..Self::default()
        }
    }
}

/// A noun nested in `<Connect>`.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectNoun {
    /// `<Stream>`: a bidirectional Media Stream.
    Stream(Stream),
}
into_enum!(ConnectNoun: Stream);

wire_enum! {
    /// `<Stream track>`.
    pub enum StreamTrack {
        /// The callee's audio (the only choice for `<Connect><Stream>`).
        InboundTrack => "inbound_track",
        /// Our audio.
        OutboundTrack => "outbound_track",
        /// Both.
        BothTracks => "both_tracks",
    }
}

/// `<Stream>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stream {
    /// `url`: a `wss://` URL without a query string (use parameters).
    pub url: Option<String>,
    /// `name`: unique per call, to stop the stream by name.
    pub name: Option<String>,
    /// `track`.
    pub track: Option<StreamTrack>,
    /// `statusCallback`.
    pub status_callback: Option<String>,
    /// `statusCallbackMethod`.
    pub status_callback_method: Option<HttpMethod>,
    /// `<Parameter>`s, echoed in the `start` message's `customParameters`.
    pub parameters: Vec<Parameter>,
}

impl Stream {
    /// `<Stream url="…"/>`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: Some(url.into()),
            ..Self::default()
        }
    }

    /// Adds a `<Parameter name value/>`.
    pub fn parameter(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parameters.push(Parameter {
            name: name.into(),
            value: value.into(),
        });
        self
    }
}

/// `<Parameter>` in `<Stream>`; name and value together are limited to about
/// 500 characters by Twilio.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parameter {
    /// `name`.
    pub name: String,
    /// `value`.
    pub value: String,
}

/// `<Redirect>`: continue with TwiML from another URL.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Redirect {
    /// The URL (element content).
    pub url: String,
    /// `method`.
    pub method: Option<HttpMethod>,
}

/// `<Reject>`: refuse an incoming call without billing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reject {
    /// `reason`: `rejected` (default) or `busy`.
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests;
