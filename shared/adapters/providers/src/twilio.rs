//! The Twilio adapter: Calls REST (create, fetch, update, list), webhook
//! signature checks, status and answer webhooks, and TwiML rendering.
//!
//! # Errors
//!
//! Every REST failure becomes a [`ProviderError`] the dispatcher acts on:
//!
//! | Twilio answer | error | dispatcher |
//! |---|---|---|
//! | 429, code 20429 | `RateLimited` (with `Retry-After`, seconds or HTTP date) | backs off with jitter, retries |
//! | 5xx, 408, connection refused | `Transient` | retries, then falls over |
//! | 401/403, code 20003 (bad credentials) | `Transient` | falls over: the account, not the call, is at fault |
//! | timeout after the request was sent | looks the call up (`To`, created since the request); found: placed, else `Transient` | no second dial of a call Twilio did create |
//! | other 4xx (21211 invalid number, 21215 geo permission, 21210 caller ID) | `Permanent` with the code | fails the attempt, no fallback |
//! | 404, code 20404 | `NotFound` | |
//!
//! Webhooks are verified by [`voxdial_wire::twilio::signature`]: the
//! form-encoded `X-Twilio-Signature`, the port quirk, the JSON `bodySHA256`
//! variant and the HMAC-SHA256 SharedKey variant, compared in constant
//! time. The URL checked is [`WebhookRequest::public_url`], which the host
//! rebuilds from its configured public base URL (behind API Gateway or a
//! proxy) and whose body it has base64-decoded already. A body that is not
//! a form must carry the `bodySHA256` its signature covers. A request that
//! fails, or whose `AccountSid` is not the configured account, is refused
//! with [`WebhookError::Forbidden`] (HTTP 403) before anything is changed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::{Client, StatusCode};
use tracing::{debug, warn};
use voxdial_domain::{
    AmdMode, AnswerInstruction, AnswerRequest, AnsweredBy, CallEvent, CallEventKind, CallId, Clock,
    E164, Money, PlaceCall, PlacedCall, ProviderCall, ProviderCallSid, ProviderError, ProviderId,
    ProviderRecording, RecordingEvent, RecordingEventKind, RecordingFile, TelephonyProvider,
    Timestamp, TransferTarget, WebhookError, WebhookRequest, WebhookResponse,
};

use crate::WallClock;
use voxdial_wire::twilio::forms::{self, AmdCallback, CallStatus, StatusCallback};
use voxdial_wire::twilio::rest::{
    self, CallResource, CallsPage, CreateCallParams, ErrorClass, HttpMethod, ListCallsQuery,
    MachineDetection, RecordingChannels, RecordingStatusCallbackEvent, StatusCallbackEvent,
    TwilioErrorBody, UpdateCallParams, UpdateCallStatus,
};
use voxdial_wire::twilio::signature::{
    SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER, SignedRequest, SigningKeys, validate_request,
};
use voxdial_wire::twilio::twiml::{self, Conference, Dial, Stream, Verb};

/// How long a warm transfer's agent leg rings before it counts as not
/// answered.
const AGENT_RING_SECS: u32 = 30;

/// Longest whisper said to a warm transfer's agent (Twilio takes at most
/// 4,000 characters of inline TwiML).
const WHISPER_CHARS: usize = 1_500;

/// A warm transfer's conference: started by the agent, ended by whoever
/// leaves first.
fn room(name: &str, starts: bool) -> Conference {
    let mut room = Conference::new(name);
    room.start_conference_on_enter = Some(starts);
    room.end_conference_on_exit = Some(true);
    room.beep = Some("false".into());
    room
}

/// The agent leg of a warm transfer: a call whose TwiML says the whisper
/// to the agent, then joins the conference (so the caller never hears the
/// whisper, and the agent hears it before joining).
fn agent_leg(
    conference: &str,
    to: &E164,
    caller_id: &E164,
    whisper: &str,
    status_url: Option<&str>,
) -> CreateCallParams {
    let whisper: String = whisper.chars().take(WHISPER_CHARS).collect();
    let join = Dial {
        nouns: vec![room(conference, true).into()],
        ..Dial::default()
    };
    let mut response = twiml::Response::new();
    if !whisper.trim().is_empty() {
        response = response.push(twiml::Say::new(whisper));
    }
    CreateCallParams {
        to: to.as_str().to_string(),
        from: caller_id.as_str().to_string(),
        twiml: Some(response.push(join).to_xml()),
        status_callback: status_url.map(str::to_string),
        status_callback_event: vec![
            StatusCallbackEvent::Answered,
            StatusCallbackEvent::Completed,
        ],
        timeout: Some(AGENT_RING_SECS),
        ..CreateCallParams::default()
    }
}

/// How to reach one Twilio account.
#[derive(Clone)]
pub struct TwilioConfig {
    /// The id voxdial knows this account by (`twilio`).
    pub id: ProviderId,
    /// `AC…`.
    pub account_sid: String,
    /// The Auth Token: signs webhooks, and authenticates REST calls unless
    /// an API key is given.
    pub auth_token: String,
    /// An API key (`SK…`, secret) for REST calls instead of the Auth Token.
    pub api_key: Option<(String, String)>,
    /// A SharedKey (id, secret) for HMAC-SHA256 webhook signatures.
    pub shared_key: Option<(String, String)>,
    /// The REST base URL: `https://api.twilio.com`, a regional edge such as
    /// `https://api.dublin.ie1.twilio.com`, or the simulator.
    pub api_base: String,
    /// Timeout of one REST request.
    pub request_timeout: Duration,
    /// Ask for `DetectMessageEnd` (the verdict waits for the beep) rather than
    /// `Enable` when machine detection is on.
    pub detect_message_end: bool,
    /// Machine-detection tuning; `None` fields keep Twilio's defaults.
    pub amd_thresholds: AmdThresholds,
    /// The clock that dates a create request, to find the call after a
    /// timeout (the simulator's clock in simulations).
    pub clock: Arc<dyn Clock>,
}

/// Answering-machine detection tuning (Twilio's `MachineDetection*`
/// parameters). Every field is optional; Twilio's defaults apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmdThresholds {
    /// `MachineDetectionTimeout`: seconds before giving up with
    /// `AnsweredBy=unknown` (3–59, default 30).
    pub timeout_secs: Option<u32>,
    /// `MachineDetectionSpeechThreshold`: milliseconds of speech that make
    /// a machine (1000–6000, default 2400).
    pub speech_threshold_ms: Option<u32>,
    /// `MachineDetectionSpeechEndThreshold`: milliseconds of silence that end
    /// a greeting (500–5000, default 1200).
    pub speech_end_threshold_ms: Option<u32>,
    /// `MachineDetectionSilenceTimeout`: milliseconds of initial silence
    /// before `unknown` (2000–10000, default 5000).
    pub silence_timeout_ms: Option<u32>,
}

impl AmdThresholds {
    /// Checks each value against Twilio's documented range; the error names
    /// the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let checks = [
            ("timeout_secs", self.timeout_secs, 3, 59),
            ("speech_threshold_ms", self.speech_threshold_ms, 1000, 6000),
            (
                "speech_end_threshold_ms",
                self.speech_end_threshold_ms,
                500,
                5000,
            ),
            ("silence_timeout_ms", self.silence_timeout_ms, 2000, 10_000),
        ];
        for (field, value, lo, hi) in checks {
            if let Some(v) = value
                && !(lo..=hi).contains(&v)
            {
                return Err((field, format!("{v} is not between {lo} and {hi}")));
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("id", &self.id)
            .field("account_sid", &self.account_sid)
            .field("api_base", &self.api_base)
            .field("auth_token", &"<redacted>")
            .field("amd_thresholds", &self.amd_thresholds)
            .finish_non_exhaustive()
    }
}

impl TwilioConfig {
    /// A configuration for `account_sid` with Twilio's public API and defaults.
    pub fn new(
        id: ProviderId,
        account_sid: impl Into<String>,
        auth_token: impl Into<String>,
    ) -> Self {
        TwilioConfig {
            id,
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            api_key: None,
            shared_key: None,
            api_base: rest::API_BASE.to_string(),
            request_timeout: Duration::from_secs(10),
            detect_message_end: false,
            amd_thresholds: AmdThresholds::default(),
            clock: Arc::new(WallClock),
        }
    }
}

/// A Twilio account as a telephony provider.
pub struct TwilioProvider {
    config: TwilioConfig,
    keys: SigningKeys,
    http: Client,
}

impl TwilioProvider {
    /// A provider over `config`, with its own HTTP client.
    pub fn new(config: TwilioConfig) -> Result<TwilioProvider, reqwest::Error> {
        let http = Client::builder()
            .timeout(config.request_timeout)
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(Self::with_client(config, http))
    }

    /// A provider over `config` that shares `http`.
    pub fn with_client(config: TwilioConfig, http: Client) -> TwilioProvider {
        let mut keys = SigningKeys::auth_token(&config.auth_token);
        if let Some((id, secret)) = &config.shared_key {
            keys = keys.with_shared_key(id.clone(), secret);
        }
        TwilioProvider { config, keys, http }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.api_base.trim_end_matches('/'), path)
    }

    fn auth(&self) -> (&str, &str) {
        match &self.config.api_key {
            Some((sid, secret)) => (sid, secret),
            None => (&self.config.account_sid, &self.config.auth_token),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, ProviderError> {
        self.send_request(request)
            .await
            .map_err(SendError::into_error)
    }

    /// Sends a request; tells a failure before the request left (safe to
    /// repeat) from one after (Twilio may have acted on it).
    async fn send_request(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, SendError> {
        let (user, pass) = self.auth();
        let response = request
            .basic_auth(user, Some(pass))
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() || e.is_builder() {
                    SendError::NotSent(transient("cannot reach Twilio", e))
                } else {
                    SendError::Unknown(transient("no answer from Twilio", e))
                }
            })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, self.config.clock.now()));
        let body = response
            .bytes()
            .await
            .map_err(|e| SendError::Unknown(transient("reading Twilio's answer failed", e)))?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        Err(SendError::Refused(error_from_response(
            status,
            &body,
            retry_after,
        )))
    }

    fn form_request(&self, path: &str, pairs: &[(String, String)]) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(forms::encode_form(pairs))
    }

    async fn post_form(
        &self,
        path: &str,
        pairs: &[(String, String)],
    ) -> Result<Vec<u8>, ProviderError> {
        self.send(self.form_request(path, pairs)).await
    }

    /// After a create request whose answer never came: the newest call to
    /// `to` created since shortly before the request, if Twilio has one.
    async fn created_since(
        &self,
        to: &E164,
        since: Timestamp,
    ) -> Result<Option<CallResource>, ProviderError> {
        let page = self.list_calls(to).await?;
        Ok(page
            .calls
            .into_iter()
            .filter(|c| c.date_created.is_some_and(|created| created >= since))
            .max_by_key(|c| c.date_created))
    }

    /// The latest calls to `to`, newest first. No `StartTime` filter: a
    /// call Twilio queued behind the account's CPS has not started, and a
    /// search that missed it would take it for a call never placed.
    async fn list_calls(&self, to: &E164) -> Result<CallsPage, ProviderError> {
        let query = ListCallsQuery {
            to: Some(to.as_str().to_string()),
            page_size: Some(50),
            ..Default::default()
        };
        let url = format!(
            "{}?{}",
            self.url(&rest::calls_path(&self.config.account_sid)),
            query.to_form()
        );
        let body = self.send(self.http.get(url)).await?;
        CallsPage::from_json(&body).map_err(|e| transient("unreadable call list", e))
    }

    async fn update(
        &self,
        sid: &ProviderCallSid,
        params: &UpdateCallParams,
    ) -> Result<CallResource, ProviderError> {
        let body = self
            .post_form(
                &rest::call_path(&self.config.account_sid, sid.as_str()),
                &params.to_pairs(),
            )
            .await?;
        CallResource::from_json(&body).map_err(|e| transient("unreadable call resource", e))
    }

    fn verify(&self, request: &WebhookRequest) -> Result<Vec<(String, String)>, WebhookError> {
        let signed = SignedRequest {
            url: &request.public_url,
            method: &request.method,
            content_type: request.header("content-type"),
            body: &request.body,
            signature: request.header(SIGNATURE_HEADER),
            signature_settings: request.header(SIGNATURE_SETTINGS_HEADER),
        };
        validate_request(&signed, &self.keys).map_err(|error| {
            debug!(provider = %self.config.id, %error, "webhook signature refused");
            WebhookError::Forbidden
        })?;
        let pairs = forms::parse_form(&request.body)
            .map_err(|e| WebhookError::BadRequest(e.to_string()))?;
        // A webhook of another account (a signature made with its own
        // token, or a shared key reused across accounts) is not ours.
        let Some((_, account)) = pairs.iter().find(|(k, _)| k == "AccountSid") else {
            return Err(WebhookError::BadRequest(
                "the webhook has no AccountSid".into(),
            ));
        };
        if *account != self.config.account_sid {
            debug!(provider = %self.config.id, "webhook of another account refused");
            return Err(WebhookError::Forbidden);
        }
        Ok(pairs)
    }

    fn create_params(&self, request: &PlaceCall) -> CreateCallParams {
        let thresholds = self.config.amd_thresholds;
        let (machine_detection, async_amd, amd_callback) = match request.amd {
            AmdMode::Off => (None, None, None),
            AmdMode::Sync => (Some(self.detection_mode()), None, None),
            AmdMode::Async => (
                Some(self.detection_mode()),
                Some(true),
                request.amd_status_url.clone(),
            ),
        };
        CreateCallParams {
            to: request.to.as_str().to_string(),
            from: request.from.as_str().to_string(),
            url: Some(request.answer_url.clone()),
            method: Some(HttpMethod::Post),
            status_callback: Some(request.status_url.clone()),
            status_callback_method: Some(HttpMethod::Post),
            status_callback_event: vec![
                StatusCallbackEvent::Initiated,
                StatusCallbackEvent::Ringing,
                StatusCallbackEvent::Answered,
                StatusCallbackEvent::Completed,
            ],
            timeout: Some(request.ring_timeout_secs),
            time_limit: Some(request.time_limit_secs),
            machine_detection_timeout: machine_detection.as_ref().and(thresholds.timeout_secs),
            machine_detection_speech_threshold: machine_detection
                .as_ref()
                .and(thresholds.speech_threshold_ms),
            machine_detection_speech_end_threshold: machine_detection
                .as_ref()
                .and(thresholds.speech_end_threshold_ms),
            machine_detection_silence_timeout: machine_detection
                .as_ref()
                .and(thresholds.silence_timeout_ms),
            machine_detection,
            async_amd,
            async_amd_status_callback_method: amd_callback.as_ref().map(|_| HttpMethod::Post),
            async_amd_status_callback: amd_callback,
            record: request.record.then_some(true),
            recording_channels: request.record.then_some(RecordingChannels::Dual),
            recording_status_callback: request
                .recording_status_url
                .clone()
                .filter(|_| request.record),
            recording_status_callback_event: if request.record
                && request.recording_status_url.is_some()
            {
                vec![
                    RecordingStatusCallbackEvent::Completed,
                    RecordingStatusCallbackEvent::Absent,
                ]
            } else {
                Vec::new()
            },
            ..CreateCallParams::default()
        }
    }

    fn detection_mode(&self) -> MachineDetection {
        if self.config.detect_message_end {
            MachineDetection::DetectMessageEnd
        } else {
            MachineDetection::Enable
        }
    }
}

/// How a request failed.
enum SendError {
    /// It never left (connection refused): repeating it is safe.
    NotSent(ProviderError),
    /// It left, and no answer came: Twilio may have acted on it.
    Unknown(ProviderError),
    /// Twilio answered with an error.
    Refused(ProviderError),
}

impl SendError {
    fn into_error(self) -> ProviderError {
        match self {
            SendError::NotSent(e) | SendError::Unknown(e) | SendError::Refused(e) => e,
        }
    }
}

/// A `Retry-After` value: delta seconds or an HTTP date.
fn retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&Utc) - now).to_std().unwrap_or_default())
}

fn transient(
    message: &str,
    error: impl std::error::Error + Send + Sync + 'static,
) -> ProviderError {
    ProviderError::Transient {
        message: format!("{message}: {error}"),
        source: Some(Box::new(error)),
    }
}

fn error_from_response(
    status: StatusCode,
    body: &[u8],
    retry_after: Option<Duration>,
) -> ProviderError {
    let parsed = TwilioErrorBody::parse(body);
    let message = parsed
        .as_ref()
        .and_then(|b| b.message.clone())
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    let code = parsed.as_ref().and_then(|b| b.code);
    if matches!(status.as_u16(), 401 | 403) && code.is_none_or(|c| c == rest::codes::AUTHENTICATE) {
        // The account's credentials are wrong: not this call's fault, so
        // another provider may take it.
        return ProviderError::Transient {
            message: format!(
                "Twilio refused the credentials (HTTP {}): {message}",
                status.as_u16()
            ),
            source: None,
        };
    }
    match rest::classify_error(status.as_u16(), parsed.as_ref()) {
        ErrorClass::RateLimited => ProviderError::RateLimited { retry_after },
        ErrorClass::Transient => ProviderError::Transient {
            message: format!("HTTP {}: {message}", status.as_u16()),
            source: None,
        },
        ErrorClass::Permanent { code } => {
            if status == StatusCode::NOT_FOUND || code == Some(20404) {
                return ProviderError::NotFound;
            }
            ProviderError::Permanent {
                code: code.map_or_else(|| status.as_u16().to_string(), |c| c.to_string()),
                message,
            }
        }
    }
}

fn event_kind(status: &CallStatus) -> Option<CallEventKind> {
    Some(match status {
        CallStatus::Queued => CallEventKind::Queued,
        CallStatus::Initiated => CallEventKind::Initiated,
        CallStatus::Ringing => CallEventKind::Ringing,
        CallStatus::InProgress => CallEventKind::Answered,
        CallStatus::Completed => CallEventKind::Completed,
        CallStatus::Busy => CallEventKind::Busy,
        CallStatus::Failed => CallEventKind::Failed,
        CallStatus::NoAnswer => CallEventKind::NoAnswer,
        CallStatus::Canceled => CallEventKind::Canceled,
        CallStatus::Other(_) => return None,
    })
}

fn answered_by(verdict: &forms::AnsweredBy) -> Option<AnsweredBy> {
    use forms::AnsweredBy as W;
    Some(match verdict {
        W::Human => AnsweredBy::Human,
        W::MachineStart => AnsweredBy::MachineStart,
        W::MachineEndBeep => AnsweredBy::MachineEndBeep,
        W::MachineEndSilence => AnsweredBy::MachineEndSilence,
        W::MachineEndOther => AnsweredBy::MachineEndOther,
        W::Fax => AnsweredBy::Fax,
        W::Unknown => AnsweredBy::Unknown,
        W::Other(_) => return None,
    })
}

fn call_id_of(request: &WebhookRequest) -> Result<CallId, WebhookError> {
    let raw = request
        .query_param("call_id")
        .ok_or_else(|| WebhookError::BadRequest("the webhook URL has no call_id".into()))?;
    CallId::parse(raw).map_err(|e| WebhookError::BadRequest(e.to_string()))
}

fn sid(raw: &str) -> Result<ProviderCallSid, WebhookError> {
    ProviderCallSid::parse(raw).map_err(|e| WebhookError::BadRequest(e.to_string()))
}

fn provider_call(resource: CallResource) -> Result<ProviderCall, ProviderError> {
    let status = event_kind(&resource.status).ok_or_else(|| ProviderError::Transient {
        message: format!("unknown call status {:?}", resource.status),
        source: None,
    })?;
    Ok(ProviderCall {
        sid: ProviderCallSid::parse(&resource.sid).map_err(|e| transient("bad call sid", e))?,
        status,
        duration_secs: resource.duration,
        answered_by: resource.answered_by.as_ref().and_then(answered_by),
        price: resource.price_micros().map(|m| Money(m.abs())),
        ended_at: resource.end_time,
    })
}

#[async_trait]
impl TelephonyProvider for TwilioProvider {
    fn sends_async_amd(&self) -> bool {
        true
    }

    fn finds_calls(&self) -> bool {
        true
    }

    fn id(&self) -> &ProviderId {
        &self.config.id
    }

    async fn place_call(&self, request: &PlaceCall) -> Result<PlacedCall, ProviderError> {
        let params = self.create_params(request);
        params.check().map_err(|e| ProviderError::Permanent {
            code: "request".into(),
            message: e.to_string(),
        })?;
        // Twilio dates calls by its own clock: allow for some skew.
        let asked_at = self.config.clock.now() - chrono::Duration::seconds(30);
        let create = self.form_request(
            &rest::calls_path(&self.config.account_sid),
            &params.to_pairs(),
        );
        let resource = match self.send_request(create).await {
            Ok(body) => CallResource::from_json(&body)
                .map_err(|e| transient("unreadable call resource", e))?,
            Err(SendError::Unknown(error)) => {
                // The call may exist: look before anyone sends it again.
                warn!(provider = %self.config.id, call_id = %request.call_id, %error,
                    "no answer to a create request; looking the call up");
                match self.created_since(&request.to, asked_at).await? {
                    Some(found) => found,
                    None => return Err(error),
                }
            }
            Err(other) => return Err(other.into_error()),
        };
        let sid =
            ProviderCallSid::parse(&resource.sid).map_err(|e| transient("bad call sid", e))?;
        Ok(PlacedCall { sid })
    }

    async fn hangup(&self, sid: &ProviderCallSid) -> Result<(), ProviderError> {
        let completed = UpdateCallParams {
            status: Some(UpdateCallStatus::Completed),
            ..Default::default()
        };
        match self.update(sid, &completed).await {
            Ok(_) | Err(ProviderError::NotFound) => Ok(()),
            // A call not yet answered cannot be completed: cancel it instead.
            Err(ProviderError::Permanent { .. }) => {
                let canceled = UpdateCallParams {
                    status: Some(UpdateCallStatus::Canceled),
                    ..Default::default()
                };
                match self.update(sid, &canceled).await {
                    // 21220: the call is not live any more, which is the aim.
                    Ok(_) | Err(ProviderError::NotFound) => Ok(()),
                    Err(ProviderError::Permanent { code, .. }) if code == "21220" => Ok(()),
                    Err(other) => Err(other),
                }
            }
            Err(other) => Err(other),
        }
    }

    async fn fetch_call(&self, sid: &ProviderCallSid) -> Result<ProviderCall, ProviderError> {
        let request = self
            .http
            .get(self.url(&rest::call_path(&self.config.account_sid, sid.as_str())));
        let body = self.send(request).await?;
        provider_call(
            CallResource::from_json(&body).map_err(|e| transient("unreadable call resource", e))?,
        )
    }

    async fn find_call(
        &self,
        _call_id: &CallId,
        to: &E164,
        since: Timestamp,
    ) -> Result<Option<ProviderCall>, ProviderError> {
        let page = self.list_calls(to).await?;
        // Twilio cannot search by voxdial's id: take the first call to this
        // number created at or after the dial decision.
        let candidate = page
            .calls
            .into_iter()
            .filter(|c| {
                c.date_created
                    .is_none_or(|created| created >= since - chrono::Duration::seconds(1))
            })
            .min_by_key(|c| c.date_created.unwrap_or(DateTime::<Utc>::MAX_UTC));
        candidate.map(provider_call).transpose()
    }

    async fn redirect(
        &self,
        sid: &ProviderCallSid,
        instruction: &AnswerInstruction,
    ) -> Result<(), ProviderError> {
        let params = UpdateCallParams {
            twiml: Some(answer_twiml(instruction)),
            ..Default::default()
        };
        self.update(sid, &params).await.map(|_| ())
    }

    async fn transfer(
        &self,
        sid: &ProviderCallSid,
        target: &TransferTarget,
    ) -> Result<(), ProviderError> {
        match target {
            TransferTarget::Cold { to, caller_id } => {
                let mut dial = Dial::number(to.as_str());
                dial.caller_id = Some(caller_id.as_str().to_string());
                let twiml = twiml::Response::new().push(dial).to_xml();
                let params = UpdateCallParams {
                    twiml: Some(twiml),
                    ..Default::default()
                };
                self.update(sid, &params).await.map(|_| ())
            }
            TransferTarget::Warm {
                conference,
                to,
                caller_id,
                whisper,
                status_url,
            } => {
                // The caller waits (hold music) until the agent starts the
                // conference; either one leaving ends it.
                let dial = Dial {
                    nouns: vec![room(conference, false).into()],
                    ..Dial::default()
                };
                let params = UpdateCallParams {
                    twiml: Some(twiml::Response::new().push(dial).to_xml()),
                    ..Default::default()
                };
                self.update(sid, &params).await?;
                let leg = agent_leg(conference, to, caller_id, whisper, status_url.as_deref());
                self.post_form(&rest::calls_path(&self.config.account_sid), &leg.to_pairs())
                    .await
                    .map(|_| ())
            }
        }
    }

    fn parse_status_webhook(&self, request: &WebhookRequest) -> Result<CallEvent, WebhookError> {
        let pairs = self.verify(request)?;
        let call_id = Some(call_id_of(request)?);
        if !pairs.iter().any(|(k, _)| k == "CallStatus") {
            let amd = AmdCallback::from_pairs(&pairs)
                .map_err(|e| WebhookError::BadRequest(e.to_string()))?;
            let mut event = CallEvent::new(
                self.config.id.clone(),
                call_id,
                CallEventKind::MachineDetection,
            );
            event.provider_sid = Some(sid(&amd.call_sid)?);
            event.answered_by = answered_by(&amd.answered_by);
            return Ok(event);
        }
        let form = StatusCallback::from_pairs(&pairs)
            .map_err(|e| WebhookError::BadRequest(e.to_string()))?;
        let kind = event_kind(&form.call_status).ok_or_else(|| {
            WebhookError::BadRequest(format!("unknown CallStatus {:?}", form.call_status))
        })?;
        let mut event = CallEvent::new(self.config.id.clone(), call_id, kind);
        event.provider_sid = Some(sid(&form.call_sid)?);
        event.sequence = form.sequence_number;
        event.timestamp = form.timestamp;
        event.duration_secs = form.call_duration;
        event.answered_by = form.answered_by.as_ref().and_then(answered_by);
        event.sip_response_code = form.sip_response_code;
        Ok(event)
    }

    fn parse_answer_webhook(
        &self,
        request: &WebhookRequest,
    ) -> Result<AnswerRequest, WebhookError> {
        let pairs = self.verify(request)?;
        let form = forms::AnswerRequest::from_pairs(&pairs)
            .map_err(|e| WebhookError::BadRequest(e.to_string()))?;
        Ok(AnswerRequest {
            call_id: call_id_of(request)?,
            provider_sid: Some(sid(&form.call_sid)?),
            answered_by: form.answered_by.as_ref().and_then(answered_by),
        })
    }

    fn render_answer(&self, instruction: &AnswerInstruction) -> WebhookResponse {
        WebhookResponse {
            status: 200,
            content_type: "text/xml; charset=utf-8".into(),
            body: answer_twiml(instruction).into_bytes(),
        }
    }

    fn parse_recording_webhook(
        &self,
        request: &WebhookRequest,
    ) -> Result<RecordingEvent, WebhookError> {
        let pairs = self.verify(request)?;
        let form = forms::RecordingStatusCallback::from_pairs(&pairs)
            .map_err(|e| WebhookError::BadRequest(e.to_string()))?;
        let kind = match form.recording_status {
            forms::RecordingStatus::InProgress => RecordingEventKind::InProgress,
            forms::RecordingStatus::Completed => RecordingEventKind::Completed,
            forms::RecordingStatus::Absent => RecordingEventKind::Absent,
            forms::RecordingStatus::Failed => RecordingEventKind::Failed,
            forms::RecordingStatus::Other(other) => {
                return Err(WebhookError::BadRequest(format!(
                    "unknown RecordingStatus {other:?}"
                )));
            }
        };
        recording_sid(&form.recording_sid)?;
        Ok(RecordingEvent {
            call_id: call_id_of(request)?,
            provider_sid: Some(sid(&form.call_sid)?),
            kind,
            recording: ProviderRecording {
                provider: self.config.id.clone(),
                sid: form.recording_sid,
                url: form.recording_url,
                channels: form.recording_channels,
                duration_secs: form.recording_duration,
                started_at: form.recording_start_time,
            },
            error: form.error_code.filter(|c| *c != 0).map(|c| c.to_string()),
        })
    }

    /// Downloads `<api_base>/2010-04-01/Accounts/<AC>/Recordings/<RE>.wav`.
    /// The URL is built from the configured API base and the recording's
    /// id, never taken from the webhook, so the account's credentials go
    /// to Twilio only.
    async fn fetch_recording(
        &self,
        recording: &ProviderRecording,
    ) -> Result<RecordingFile, ProviderError> {
        recording_sid(&recording.sid).map_err(|e| ProviderError::Permanent {
            code: "request".into(),
            message: e.to_string(),
        })?;
        let url = self.url(&format!(
            "/2010-04-01/Accounts/{}/Recordings/{}.wav",
            self.config.account_sid, recording.sid
        ));
        let (user, pass) = self.auth();
        let response = self
            .http
            .get(url)
            .basic_auth(user, Some(pass))
            .send()
            .await
            .map_err(|e| transient("cannot download the recording", e))?;
        let status = response.status();
        let declared_len = response.content_length();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("audio/wav")
            .to_string();
        let body = response
            .bytes()
            .await
            .map_err(|e| transient("the recording download broke off", e))?;
        if !status.is_success() {
            return Err(error_from_response(status, &body, None));
        }
        Ok(RecordingFile {
            data: body.to_vec(),
            content_type,
            declared_len,
        })
    }

    async fn delete_recording(&self, recording: &ProviderRecording) -> Result<(), ProviderError> {
        recording_sid(&recording.sid).map_err(|e| ProviderError::Permanent {
            code: "request".into(),
            message: e.to_string(),
        })?;
        let url = self.url(&format!(
            "/2010-04-01/Accounts/{}/Recordings/{}.json",
            self.config.account_sid, recording.sid
        ));
        match self.send(self.http.delete(url)).await {
            Ok(_) | Err(ProviderError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn start_recording(
        &self,
        sid: &ProviderCallSid,
        status_url: &str,
    ) -> Result<Option<String>, ProviderError> {
        let path = format!(
            "/2010-04-01/Accounts/{}/Calls/{}/Recordings.json",
            self.config.account_sid,
            sid.as_str()
        );
        let pairs = vec![
            ("RecordingChannels".to_string(), "dual".to_string()),
            ("RecordingTrack".to_string(), "both".to_string()),
            (
                "RecordingStatusCallback".to_string(),
                status_url.to_string(),
            ),
            (
                "RecordingStatusCallbackMethod".to_string(),
                "POST".to_string(),
            ),
            (
                "RecordingStatusCallbackEvent".to_string(),
                "completed".to_string(),
            ),
            (
                "RecordingStatusCallbackEvent".to_string(),
                "absent".to_string(),
            ),
        ];
        let body = self.post_form(&path, &pairs).await?;
        let created: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| transient("unreadable recording", e))?;
        Ok(created["sid"].as_str().map(str::to_string))
    }

    async fn stop_recording(
        &self,
        sid: &ProviderCallSid,
        recording_sid: Option<&str>,
    ) -> Result<(), ProviderError> {
        let path = format!(
            "/2010-04-01/Accounts/{}/Calls/{}/Recordings/{}.json",
            self.config.account_sid,
            sid.as_str(),
            recording_sid.unwrap_or("Twilio.CURRENT")
        );
        let pairs = vec![("Status".to_string(), "stopped".to_string())];
        self.post_form(&path, &pairs).await.map(drop)
    }
}

/// A recording id as Twilio makes them (`RE` and hex), refused otherwise:
/// it goes into a URL path.
fn recording_sid(raw: &str) -> Result<(), WebhookError> {
    let ok = raw.len() <= 64
        && raw.starts_with("RE")
        && raw[2..].bytes().all(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(WebhookError::BadRequest(format!(
            "not a recording sid: {:?}",
            raw.chars().take(70).collect::<String>()
        )))
    }
}

/// The TwiML for an answer instruction.
pub fn answer_twiml(instruction: &AnswerInstruction) -> String {
    let response = twiml::Response::new();
    let response = match instruction {
        AnswerInstruction::ConnectMedia { url, parameters } => {
            let stream = parameters
                .iter()
                .fold(Stream::new(url.clone()), |stream, (name, value)| {
                    stream.parameter(name.clone(), value.clone())
                });
            response.push(twiml::Connect::stream(stream))
        }
        AnswerInstruction::Voicemail {
            wait_for_beep,
            audio_url,
            text,
        } => {
            let response = if *wait_for_beep {
                response.push(twiml::Pause { length: Some(2) })
            } else {
                response
            };
            let response = match audio_url {
                Some(url) => response.push(twiml::Play::url(url.clone())),
                None => response.push(twiml::Say::new(text.clone())),
            };
            response.push(Verb::Hangup)
        }
        AnswerInstruction::Say { text } => response
            .push(twiml::Say::new(text.clone()))
            .push(twiml::Pause { length: Some(600) }),
        AnswerInstruction::Hangup => response.push(Verb::Hangup),
    };
    response.to_xml()
}
