//! The telephony provider port and its provider-neutral request and response
//! types. Adapters: Twilio (and the simulated carrier, which speaks Twilio's
//! wire format), SansPBX.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{
    AmdMode, AnsweredBy, CallEvent, CallEventKind, CallId, CampaignId, E164, Money,
    ProviderCallSid, ProviderId, Timestamp,
};

/// An HTTP request as a webhook handler sees it, whatever the host (axum
/// locally, API Gateway in AWS). The URL is the *public* one the provider
/// used, rebuilt from the configured public base URL, because signatures are
/// computed over it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The full public URL, query included.
    pub public_url: String,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    /// The raw body (already base64-decoded when the host encoded it).
    pub body: Vec<u8>,
}

impl WebhookRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of query parameter `name` in the public URL.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.public_url.split_once('?')?.1;
        let query = query.split('#').next().unwrap_or(query);
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| percent_decode(v))
        })
    }
}

/// Decodes `%XX` and `+` in a query component; invalid escapes stay as they are.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let escaped = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
                if let Some(b) = escaped {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A webhook could not be accepted.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The signature is missing or wrong: answer 403 and change nothing.
    #[error("webhook signature missing or invalid")]
    Forbidden,
    /// The request is malformed: answer 400 with the reason.
    #[error("bad webhook request: {0}")]
    BadRequest(String),
}

/// An HTTP response a webhook handler returns, whatever the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookResponse {
    /// HTTP status code.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
}

impl WebhookResponse {
    /// A plain-text response.
    pub fn text(status: u16, body: impl Into<String>) -> WebhookResponse {
        WebhookResponse {
            status,
            content_type: "text/plain; charset=utf-8".into(),
            body: body.into().into_bytes(),
        }
    }

    /// The response for a webhook error: 403 or 400 with the reason.
    pub fn from_error(error: &WebhookError) -> WebhookResponse {
        match error {
            WebhookError::Forbidden => {
                WebhookResponse::text(403, "forbidden: bad or missing signature")
            }
            WebhookError::BadRequest(reason) => WebhookResponse::text(400, reason.clone()),
        }
    }
}

/// The provider asks what to do with a call that was just answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerRequest {
    /// voxdial's id of the attempt, carried in the answer URL.
    pub call_id: CallId,
    /// The provider's id of the call.
    pub provider_sid: Option<ProviderCallSid>,
    /// The machine-detection verdict, when detection ran synchronously.
    pub answered_by: Option<AnsweredBy>,
}

/// What an answered call does next, in provider-neutral terms; each provider
/// renders it in its own format (TwiML for Twilio).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerInstruction {
    /// Connect the call's audio to the media bridge over a WebSocket.
    ConnectMedia {
        /// The bridge's `wss://` URL (no query string).
        url: String,
        /// Parameters handed to the bridge in the stream's start message.
        parameters: Vec<(String, String)>,
    },
    /// Leave a voicemail: optionally wait for the beep, play, hang up.
    Voicemail {
        /// Wait for the end of the greeting (the beep) before playing.
        wait_for_beep: bool,
        /// A URL of the recorded message, when there is one.
        audio_url: Option<String>,
        /// The message as text (spoken by the provider when there is no audio).
        text: String,
    },
    /// Speak a line, then keep the line open (used when no media bridge runs).
    Say {
        /// What to say.
        text: String,
    },
    /// Hang up at once.
    Hangup,
}

/// Everything needed to place one outbound call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceCall {
    /// voxdial's id of the attempt.
    pub call_id: CallId,
    /// The campaign (carried in callback URLs for correlation).
    pub campaign_id: CampaignId,
    /// The callee.
    pub to: E164,
    /// The caller ID to present.
    pub from: E164,
    /// Where the provider asks what to do when the call is answered.
    pub answer_url: String,
    /// Where the provider posts status events.
    pub status_url: String,
    /// Where the provider posts recording events, when recording.
    pub recording_status_url: Option<String>,
    /// Answering-machine detection.
    pub amd: AmdMode,
    /// Where async machine-detection verdicts go.
    pub amd_status_url: Option<String>,
    /// Record the call (both channels).
    pub record: bool,
    /// Seconds to ring.
    pub ring_timeout_secs: u32,
    /// Longest call in seconds.
    pub time_limit_secs: u32,
    /// The per-call media stream token, for a provider whose media stream
    /// is set up at dial time (SansPBX echoes it in the stream's `start`);
    /// `None` when no media bridge runs.
    #[serde(default)]
    pub media_token: Option<String>,
}

/// The provider accepted a call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedCall {
    /// The provider's id of the call.
    pub sid: ProviderCallSid,
}

/// A call as the provider reports it when asked (for reconciliation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderCall {
    /// The provider's id of the call.
    pub sid: ProviderCallSid,
    /// Its status, in event terms.
    pub status: CallEventKind,
    /// Talk time in seconds, once ended.
    pub duration_secs: Option<u32>,
    /// The machine-detection verdict.
    pub answered_by: Option<AnsweredBy>,
    /// The price, once known.
    pub price: Option<Money>,
    /// When it ended.
    pub ended_at: Option<Timestamp>,
}

/// Where to transfer a live call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum TransferTarget {
    /// Cold: connect the caller straight to this number.
    Cold {
        /// The human agent's number.
        to: E164,
        /// Caller ID for the new leg.
        caller_id: E164,
    },
    /// Warm: move the caller into a conference (waiting there), dial the
    /// human on a leg of their own that hears `whisper` first and then
    /// joins the conference.
    Warm {
        /// The conference name.
        conference: String,
        /// The human agent's number.
        to: E164,
        /// Caller ID for the agent leg.
        caller_id: E164,
        /// Said to the human before they join (the conversation's summary);
        /// the caller does not hear it.
        whisper: String,
        /// Where the agent leg's status events go (it may not answer); the
        /// engine's status webhook with `leg=agent`.
        status_url: Option<String>,
    },
}

/// A provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Too many requests: back off and retry the same provider.
    #[error("rate limited by the provider")]
    RateLimited {
        /// How long the provider asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// A server error or timeout: retry, then fall over to another provider.
    #[error("provider unavailable: {message}")]
    Transient {
        /// What went wrong.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The provider refused the request for good (invalid number, no
    /// permission): fail the attempt, no fallback.
    #[error("provider refused the call: {code}: {message}")]
    Permanent {
        /// The provider's error code (Twilio `21211`, HTTP status otherwise).
        code: String,
        /// The provider's message.
        message: String,
    },
    /// The provider does not know this call.
    #[error("call not found at the provider")]
    NotFound,
}

impl ProviderError {
    /// Whether another provider might succeed where this one failed.
    pub fn allows_fallback(&self) -> bool {
        matches!(
            self,
            ProviderError::Transient { .. } | ProviderError::RateLimited { .. }
        )
    }
}

/// A telephony provider account.
#[async_trait]
pub trait TelephonyProvider: Send + Sync {
    /// The configured id of this provider account.
    fn id(&self) -> &ProviderId;

    /// Whether a call placed with [`AmdMode::Async`] gets a machine-detection
    /// verdict by webhook while it is live (SansPBX has no detection).
    fn sends_async_amd(&self) -> bool {
        false
    }

    /// Places an outbound call.
    async fn place_call(&self, request: &PlaceCall) -> Result<PlacedCall, ProviderError>;

    /// Hangs up a live call (cancels it if it has not been answered).
    async fn hangup(&self, sid: &ProviderCallSid) -> Result<(), ProviderError>;

    /// Fetches the provider's view of a call.
    async fn fetch_call(&self, sid: &ProviderCallSid) -> Result<ProviderCall, ProviderError>;

    /// Whether [`TelephonyProvider::find_call`] searches the provider's
    /// calls, so that `None` from it means the provider never got the
    /// create request (SansPBX has no search: it cannot tell).
    fn finds_calls(&self) -> bool {
        false
    }

    /// Looks for the call of attempt `call_id` placed to `to` since `since`,
    /// when voxdial crashed before learning the provider's id.
    async fn find_call(
        &self,
        call_id: &CallId,
        to: &E164,
        since: Timestamp,
    ) -> Result<Option<ProviderCall>, ProviderError>;

    /// Replaces what a live call is doing with `instruction` (e.g. play the
    /// voicemail message once an asynchronous machine verdict arrives).
    async fn redirect(
        &self,
        sid: &ProviderCallSid,
        instruction: &AnswerInstruction,
    ) -> Result<(), ProviderError>;

    /// Transfers a live call.
    async fn transfer(
        &self,
        sid: &ProviderCallSid,
        target: &TransferTarget,
    ) -> Result<(), ProviderError>;

    /// Verifies and parses a status webhook (including asynchronous
    /// machine-detection callbacks) into an event.
    fn parse_status_webhook(&self, request: &WebhookRequest) -> Result<CallEvent, WebhookError>;

    /// Verifies and parses the answer webhook.
    fn parse_answer_webhook(&self, request: &WebhookRequest)
    -> Result<AnswerRequest, WebhookError>;

    /// Renders an answer instruction in the provider's format.
    fn render_answer(&self, instruction: &AnswerInstruction) -> WebhookResponse;

    /// Verifies and parses a recording webhook (Twilio
    /// `RecordingStatusCallback`). Providers without recordings refuse it.
    fn parse_recording_webhook(
        &self,
        _request: &WebhookRequest,
    ) -> Result<crate::RecordingEvent, WebhookError> {
        Err(WebhookError::BadRequest(format!(
            "provider {} sends no recording webhooks",
            self.id()
        )))
    }

    /// Downloads a recording with the provider's credentials.
    async fn fetch_recording(
        &self,
        _recording: &crate::ProviderRecording,
    ) -> Result<crate::RecordingFile, ProviderError> {
        Err(unsupported("recordings"))
    }

    /// Deletes the provider's copy of a recording (done already: `Ok`).
    async fn delete_recording(
        &self,
        _recording: &crate::ProviderRecording,
    ) -> Result<(), ProviderError> {
        Err(unsupported("recordings"))
    }

    /// Starts recording a live call (both channels), announcing the
    /// recording at `status_url`; returns the provider's recording id.
    async fn start_recording(
        &self,
        _sid: &ProviderCallSid,
        _status_url: &str,
    ) -> Result<Option<String>, ProviderError> {
        Err(unsupported("on-demand recording"))
    }

    /// Stops the recording of a live call.
    async fn stop_recording(
        &self,
        _sid: &ProviderCallSid,
        _recording_sid: Option<&str>,
    ) -> Result<(), ProviderError> {
        Err(unsupported("on-demand recording"))
    }
}

fn unsupported(what: &str) -> ProviderError {
    ProviderError::Permanent {
        code: "unsupported".into(),
        message: format!("this provider does not support {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        let req = WebhookRequest {
            public_url: "https://x.test/cb?call_id=L1.2&name=a%20b+c&bad=%zz&cut=%4".into(),
            ..Default::default()
        };
        assert_eq!(req.query_param("call_id").as_deref(), Some("L1.2"));
        assert_eq!(req.query_param("name").as_deref(), Some("a b c"));
        assert_eq!(req.query_param("bad").as_deref(), Some("%zz"));
        assert_eq!(req.query_param("cut").as_deref(), Some("%4"));
        assert_eq!(req.query_param("missing"), None);
    }

    #[test]
    fn headers_are_found_by_any_case_first_value_first() {
        let req = WebhookRequest {
            headers: vec![
                ("x-twilio-signature".into(), "abc".into()),
                ("X-Twilio-Signature".into(), "second".into()),
            ],
            ..Default::default()
        };
        assert_eq!(req.header("X-TWILIO-SIGNATURE"), Some("abc"));
        assert_eq!(req.header("content-type"), None);
    }

    #[test]
    fn only_transient_failures_and_rate_limits_fall_back() {
        let transient = ProviderError::Transient {
            message: "timeout".into(),
            source: None,
        };
        assert!(transient.allows_fallback());
        assert!(ProviderError::RateLimited { retry_after: None }.allows_fallback());
        assert!(!unsupported("x").allows_fallback());
        assert!(!ProviderError::NotFound.allows_fallback());
    }

    /// A provider with only what every provider must have.
    struct Bare(ProviderId);

    #[async_trait]
    impl TelephonyProvider for Bare {
        fn id(&self) -> &ProviderId {
            &self.0
        }
        async fn place_call(&self, _: &PlaceCall) -> Result<PlacedCall, ProviderError> {
            unreachable!()
        }
        async fn hangup(&self, _: &ProviderCallSid) -> Result<(), ProviderError> {
            unreachable!()
        }
        async fn fetch_call(&self, _: &ProviderCallSid) -> Result<ProviderCall, ProviderError> {
            unreachable!()
        }
        async fn find_call(
            &self,
            _: &CallId,
            _: &E164,
            _: Timestamp,
        ) -> Result<Option<ProviderCall>, ProviderError> {
            unreachable!()
        }
        async fn redirect(
            &self,
            _: &ProviderCallSid,
            _: &AnswerInstruction,
        ) -> Result<(), ProviderError> {
            unreachable!()
        }
        async fn transfer(
            &self,
            _: &ProviderCallSid,
            _: &TransferTarget,
        ) -> Result<(), ProviderError> {
            unreachable!()
        }
        fn parse_status_webhook(&self, _: &WebhookRequest) -> Result<CallEvent, WebhookError> {
            unreachable!()
        }
        fn parse_answer_webhook(&self, _: &WebhookRequest) -> Result<AnswerRequest, WebhookError> {
            unreachable!()
        }
        fn render_answer(&self, _: &AnswerInstruction) -> WebhookResponse {
            unreachable!()
        }
    }

    #[test]
    fn a_provider_claims_no_optional_capability_it_does_not_implement() {
        let bare = Bare(ProviderId::parse("bare").unwrap());
        assert!(!bare.sends_async_amd());
        assert!(!bare.finds_calls());
        let sid = ProviderCallSid::parse("CA1").unwrap();
        let recording = crate::ProviderRecording {
            provider: bare.0.clone(),
            sid: "RE1".into(),
            url: None,
            channels: None,
            duration_secs: None,
            started_at: None,
        };
        let unsupported = |result: Result<(), ProviderError>| matches!(result, Err(ProviderError::Permanent { code, .. }) if code == "unsupported");
        assert!(unsupported(crate::ready(bare.delete_recording(&recording))));
        assert!(unsupported(crate::ready(bare.stop_recording(&sid, None))));
        assert!(unsupported(
            crate::ready(bare.start_recording(&sid, "https://x.test/r")).map(drop)
        ));
        assert!(unsupported(
            crate::ready(bare.fetch_recording(&recording)).map(drop)
        ));
        assert!(
            bare.parse_recording_webhook(&WebhookRequest::default())
                .is_err()
        );
    }
}
