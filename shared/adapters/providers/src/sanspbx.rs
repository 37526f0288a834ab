//! The SansPBX adapter: token, dial, disconnect and (optionally) status
//! lookup over REST, and the JSON status webhook with a shared-secret check.
//!
//! **SansPBX publishes no API documentation.** The shapes come from
//! community code (`reference/sanspbx.md`, `voxdial_wire::sanspbx`); every
//! path, header and field name is a setting of [`SansPbxApi`], every number
//! rule one of [`NumberRules`], so a deployment can follow what the vendor
//! confirms without a code change. The crate README lists each assumption.
//!
//! # Tokens
//!
//! Dial, disconnect and status requests carry an API token obtained from
//! the token endpoint with the static access token and access key. The token
//! is cached and fetched again [`TokenPolicy::refresh_margin_secs`] before
//! the expiry the PBX announced (or [`TokenPolicy::default_ttl_secs`] after
//! it was issued, when the expiry cannot be read). Only one refresh runs at a
//! time. A request refused with 401 (or a 200 whose message speaks of the
//! token) drops the token, fetches a new one and is sent once more.
//!
//! # Errors
//!
//! | PBX answer | error |
//! |---|---|
//! | 429 | `RateLimited` (with `Retry-After` when given) |
//! | 5xx, 408, connection refused | `Transient` |
//! | 401 twice (after a fresh token) | `Transient`: the account is at fault, another provider may work |
//! | a dial with no answer (timeout after sending) | `Permanent` (`ambiguous`): the PBX may have placed the call and cannot be asked, so neither a retry nor a fallback may dial the person a second time |
//! | 404 | `NotFound` |
//! | other 4xx, or 2xx without a `callid` | `Permanent` with the message |
//!
//! # Webhook authentication
//!
//! No signature scheme is known, so the status webhook is authenticated with
//! a shared secret ([`WebhookAuth`]): by default every status URL handed to
//! the PBX is signed (`…&sig=<hex HMAC-SHA256(secret, URL)>`), so the secret
//! itself never travels; or the PBX is configured to send the secret in a
//! header. Comparisons are constant-time; a request that fails is refused
//! with [`WebhookError::Forbidden`] (HTTP 403) before its body is read.
//!
//! Neither way signs the body: what it says is bounded instead. A body
//! naming another voxdial call than the signed URL is refused (403), and
//! the engine refuses a `callid` other than the one the dial returned
//! (403), so a captured URL cannot move any other call. A body changed in
//! transit for the same call (e.g. `completed` turned `busy`) cannot be
//! told from a genuine one until the PBX signs its bodies; TLS to the
//! public URL is what protects it.
//!
//! # What SansPBX cannot do (as far as is known)
//!
//! No answer webhook (the PBX connects its media stream to the URL set up on
//! its side), no machine detection, no REST transfer or live-call update
//! (`transfer`/`redirect` other than hang-up return a `Permanent`
//! "not supported" error; the media stream's `transfer-call-response` event
//! suggests transfers go through the stream), no call search (`find_call`
//! finds nothing). Without a status endpoint, `fetch_call` — which the
//! sweeper only uses once a call's lease has run out — hangs the call up and
//! reports it failed, so that a call whose last webhook was lost still ends.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Client, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;
use tracing::{debug, warn};
use voxdial_domain::{
    AnswerInstruction, AnswerRequest, CallEvent, CallEventKind, CallId, Clock, E164, PlaceCall,
    PlacedCall, ProviderCall, ProviderCallSid, ProviderError, ProviderId, TelephonyProvider,
    Timestamp, TransferTarget, WebhookError, WebhookRequest, WebhookResponse,
};
use voxdial_wire::media_token::TOKEN_PARAMETER;
use voxdial_wire::sanspbx::{self as wire, DialResponse, NumberStyle, SansCallStatus};

use crate::WallClock;

/// Every path, header and field name of the SansPBX API, with the observed
/// (assumed) defaults. Parsers also accept the other spellings seen in the
/// wild (see `voxdial_wire::sanspbx`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SansPbxApi {
    /// Token endpoint, relative to the base URL.
    pub token_path: String,
    /// Dial endpoint.
    pub dial_path: String,
    /// Hangup endpoint.
    pub disconnect_path: String,
    /// A call-status endpoint (`{"callid"}` in, the webhook's fields out),
    /// when the PBX has one. None is known: off by default.
    pub status_path: Option<String>,
    /// Header of the static access token on the token request.
    pub access_token_header: String,
    /// Header of the API token on the other requests.
    pub api_token_header: String,
    /// Token request: the access key's field.
    pub access_key_field: String,
    /// Token response: the token's field.
    pub token_field: String,
    /// Token response: the expiry's field.
    pub expiry_field: String,
    /// Dial request: the application id's field.
    pub appid_field: String,
    /// Dial request: the callee's field.
    pub call_to_field: String,
    /// Dial request: the caller ID's field.
    pub caller_id_field: String,
    /// Dial request: the field echoed back in webhooks and the stream.
    pub custom_field: String,
    /// Dial request: the field naming this call's status webhook URL; empty
    /// when the PBX only has a webhook URL configured on its side.
    pub status_callback_field: String,
    /// The call id's field (dial response, hangup request, webhook).
    pub callid_field: String,
    /// Webhook: the status's field.
    pub status_field: String,
    /// Webhook: the duration's field (seconds).
    pub duration_field: String,
    /// Webhook: the timestamp's field.
    pub timestamp_field: String,
    /// Webhook: the sequence number's field.
    pub sequence_field: String,
    /// Key of voxdial's call id inside the custom field.
    pub custom_call_id_key: String,
    /// Key of voxdial's campaign id inside the custom field.
    pub custom_campaign_id_key: String,
}

impl Default for SansPbxApi {
    fn default() -> Self {
        let endpoints = wire::Endpoints::new("");
        SansPbxApi {
            token_path: endpoints.token_path,
            dial_path: endpoints.dial_path,
            disconnect_path: endpoints.disconnect_path,
            status_path: None,
            access_token_header: wire::ACCESS_TOKEN_HEADER.into(),
            api_token_header: wire::API_TOKEN_HEADER.into(),
            access_key_field: "access_key".into(),
            token_field: "Apitoken".into(),
            expiry_field: "expiry_time".into(),
            appid_field: "appid".into(),
            call_to_field: "call_to".into(),
            caller_id_field: "caller_id".into(),
            custom_field: "custom_field".into(),
            status_callback_field: "status_callback".into(),
            callid_field: "callid".into(),
            status_field: "status".into(),
            duration_field: "duration".into(),
            timestamp_field: "timestamp".into(),
            sequence_field: "seq".into(),
            custom_call_id_key: "call_id".into(),
            custom_campaign_id_key: "campaign_id".into(),
        }
    }
}

/// How the callee's number is written in `call_to` when it is in the PBX's
/// own country.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DomesticFormat {
    /// `0` and the national number: `09876543210` (the default).
    #[default]
    TrunkZero,
    /// Country code and national number: `919876543210`.
    CountryCode,
    /// The national number: `9876543210`.
    National,
    /// E.164: `+919876543210`.
    E164,
}

/// How a number of another country is written, if at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InternationalFormat {
    /// Not dialled: the call fails with a `Permanent` error (the default).
    #[default]
    Reject,
    /// `00`, country code, number: `0014155550100`.
    Prefix00,
    /// E.164: `+14155550100`.
    E164,
    /// Digits only: `14155550100`.
    Digits,
}

/// Number formatting rules (implementations differ: see the README).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NumberRules {
    /// The PBX's own country calling code (`"91"`).
    pub country_code: String,
    /// Callees in that country.
    pub domestic: DomesticFormat,
    /// Callees elsewhere.
    pub international: InternationalFormat,
    /// Send only the last digits of the caller ID (observed: 7); `None`
    /// sends it formatted like a domestic callee.
    pub caller_id_digits: Option<usize>,
}

impl Default for NumberRules {
    fn default() -> Self {
        NumberRules {
            country_code: "91".into(),
            domestic: DomesticFormat::TrunkZero,
            international: InternationalFormat::Reject,
            caller_id_digits: Some(7),
        }
    }
}

impl NumberRules {
    /// The callee as `call_to`, or why it cannot be dialled.
    pub fn format_callee(&self, to: &E164) -> Result<String, String> {
        let digits = to.digits();
        if digits.starts_with(&self.country_code) {
            let style = match self.domestic {
                DomesticFormat::TrunkZero => NumberStyle::TrunkZero,
                DomesticFormat::CountryCode => NumberStyle::CountryCode,
                DomesticFormat::National => NumberStyle::National,
                DomesticFormat::E164 => NumberStyle::E164,
            };
            return wire::format_number(to.as_str(), &self.country_code, style)
                .map_err(|e| e.to_string());
        }
        match self.international {
            InternationalFormat::Reject => Err(format!(
                "SansPBX is configured for +{} numbers only; {} is abroad",
                self.country_code,
                to.masked()
            )),
            InternationalFormat::Prefix00 => Ok(format!("00{digits}")),
            InternationalFormat::E164 => Ok(to.as_str().to_string()),
            InternationalFormat::Digits => Ok(digits.to_string()),
        }
    }

    /// The caller ID as `caller_id`.
    pub fn format_caller_id(&self, from: &E164) -> Result<String, String> {
        match self.caller_id_digits {
            Some(n) => Ok(wire::did_last_digits(from.as_str(), n)),
            None => self.format_callee(from),
        }
    }

    fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.country_code.is_empty()
            || self.country_code.len() > 3
            || !self.country_code.bytes().all(|b| b.is_ascii_digit())
        {
            return Err((
                "numbers.country_code",
                format!(
                    "{:?} is not a calling code such as \"91\"",
                    self.country_code
                ),
            ));
        }
        if let Some(n) = self.caller_id_digits
            && !(1..=15).contains(&n)
        {
            return Err((
                "numbers.caller_id_digits",
                format!("{n} is not between 1 and 15"),
            ));
        }
        Ok(())
    }
}

/// How long tokens are trusted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenPolicy {
    /// Lifetime assumed when the PBX's expiry cannot be read (default 3600 s).
    pub default_ttl_secs: u64,
    /// Fetch a new token this long before the old one expires (default 60 s).
    pub refresh_margin_secs: u64,
    /// UTC offset of expiry and webhook times written without a zone
    /// (default `+05:30`, India).
    pub utc_offset: String,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        TokenPolicy {
            default_ttl_secs: 3600,
            refresh_margin_secs: 60,
            utc_offset: "+05:30".into(),
        }
    }
}

fn parse_offset(text: &str) -> Option<FixedOffset> {
    let text = text.trim();
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => (1, text),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// How status webhooks prove they come from the PBX.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum WebhookAuth {
    /// Each status URL handed to the PBX carries `param` =
    /// hex(HMAC-SHA256(secret, the URL without it)).
    SignedUrl {
        /// The query parameter (default `sig`).
        #[serde(default = "default_sig_param")]
        param: String,
    },
    /// The PBX sends the secret itself in this header (set up on its side).
    Header {
        /// The header name (default `X-Voxdial-Secret`).
        #[serde(default = "default_secret_header")]
        name: String,
    },
}

fn default_sig_param() -> String {
    "sig".into()
}

fn default_secret_header() -> String {
    "X-Voxdial-Secret".into()
}

impl Default for WebhookAuth {
    fn default() -> Self {
        WebhookAuth::SignedUrl {
            param: default_sig_param(),
        }
    }
}

/// How to reach one SansPBX account.
#[derive(Clone)]
pub struct SansPbxConfig {
    /// The id voxdial knows this account by (`sanspbx`).
    pub id: ProviderId,
    /// Scheme and host of the PBX, e.g. `https://clouduat28.sansoftwares.com`.
    pub api_base: String,
    /// The static token sent as `Accesstoken` to get API tokens.
    pub access_token: String,
    /// The `access_key` of the token request.
    pub access_key: String,
    /// The PBX application that bridges calls to voxdial's media stream.
    pub appid: u64,
    /// The secret status webhooks are checked with.
    pub webhook_secret: String,
    /// How the secret is checked.
    pub webhook_auth: WebhookAuth,
    /// Paths, headers and field names.
    pub api: SansPbxApi,
    /// Number formats.
    pub numbers: NumberRules,
    /// Token lifetime handling.
    pub token: TokenPolicy,
    /// Timeout of one REST request.
    pub request_timeout: Duration,
    /// The clock token expiries are compared with.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SansPbxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SansPbxConfig")
            .field("id", &self.id)
            .field("api_base", &self.api_base)
            .field("appid", &self.appid)
            .field("access_token", &"<redacted>")
            .field("access_key", &"<redacted>")
            .field("webhook_secret", &"<redacted>")
            .field("webhook_auth", &self.webhook_auth)
            .field("api", &self.api)
            .field("numbers", &self.numbers)
            .finish_non_exhaustive()
    }
}

impl SansPbxConfig {
    /// A configuration with the assumed API, Indian number rules and a
    /// signed-URL webhook check.
    pub fn new(
        id: ProviderId,
        api_base: impl Into<String>,
        access_token: impl Into<String>,
        access_key: impl Into<String>,
        appid: u64,
        webhook_secret: impl Into<String>,
    ) -> Self {
        SansPbxConfig {
            id,
            api_base: api_base.into(),
            access_token: access_token.into(),
            access_key: access_key.into(),
            appid,
            webhook_secret: webhook_secret.into(),
            webhook_auth: WebhookAuth::default(),
            api: SansPbxApi::default(),
            numbers: NumberRules::default(),
            token: TokenPolicy::default(),
            request_timeout: Duration::from_secs(10),
            clock: Arc::new(WallClock),
        }
    }

    /// Checks the values a typo would break; the error names the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(self.api_base.starts_with("https://") || self.api_base.starts_with("http://")) {
            return Err((
                "api_base",
                format!("{:?} is not an http(s) URL", self.api_base),
            ));
        }
        if self.appid == 0 {
            return Err(("appid", "must be the PBX application's id (above 0)".into()));
        }
        if self.webhook_secret.len() < 16 {
            return Err((
                "webhook_secret",
                "must be at least 16 characters (it authenticates status webhooks)".into(),
            ));
        }
        if self.access_token.is_empty() || self.access_key.is_empty() {
            return Err((
                "access_token",
                "the access token and access key are required".into(),
            ));
        }
        if parse_offset(&self.token.utc_offset).is_none() {
            return Err((
                "token.utc_offset",
                format!(
                    "{:?} is not an offset such as \"+05:30\"",
                    self.token.utc_offset
                ),
            ));
        }
        for (field, path) in [
            ("api.token_path", &self.api.token_path),
            ("api.dial_path", &self.api.dial_path),
            ("api.disconnect_path", &self.api.disconnect_path),
        ] {
            if !path.starts_with('/') {
                return Err((field, format!("{path:?} must start with /")));
            }
        }
        self.numbers.validate()
    }
}

/// A cached API token.
#[derive(Clone)]
struct Token {
    value: String,
    /// When to fetch a new one.
    refresh_at: Timestamp,
}

/// A SansPBX account as a telephony provider.
pub struct SansPbxProvider {
    config: SansPbxConfig,
    offset: FixedOffset,
    http: Client,
    token: Mutex<Option<Token>>,
}

/// How one REST exchange ended.
enum Answer {
    /// A 2xx with its JSON body (`Null` when empty or not JSON).
    Ok(Value),
    /// The token was refused.
    TokenRefused,
    /// Any other failure.
    Failed(ProviderError),
    /// The request left and no answer came.
    Unanswered(ProviderError),
}

impl SansPbxProvider {
    /// A provider over `config`, with its own HTTP client.
    pub fn new(config: SansPbxConfig) -> Result<SansPbxProvider, reqwest::Error> {
        let http = Client::builder()
            .timeout(config.request_timeout)
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(Self::with_client(config, http))
    }

    /// A provider over `config` that shares `http`.
    pub fn with_client(config: SansPbxConfig, http: Client) -> SansPbxProvider {
        let offset = parse_offset(&config.token.utc_offset)
            .unwrap_or_else(|| FixedOffset::east_opt(19_800).expect("IST"));
        SansPbxProvider {
            config,
            offset,
            http,
            token: Mutex::new(None),
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.config.api_base.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }

    /// The cached token, or a new one when it is missing or due.
    async fn token(&self) -> Result<String, ProviderError> {
        let mut cached = self.token.lock().await;
        let now = self.config.clock.now();
        if let Some(token) = cached.as_ref().filter(|t| now < t.refresh_at) {
            return Ok(token.value.clone());
        }
        let fresh = self.fetch_token(now).await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    /// Forgets `used` if it is still the cached token.
    async fn drop_token(&self, used: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == used) {
            *cached = None;
        }
    }

    async fn fetch_token(&self, now: Timestamp) -> Result<Token, ProviderError> {
        let api = &self.config.api;
        let mut body = Map::new();
        body.insert(
            api.access_key_field.clone(),
            Value::String(self.config.access_key.clone()),
        );
        let request = self
            .http
            .post(self.url(&api.token_path))
            .header(api.access_token_header.as_str(), &self.config.access_token)
            .json(&body);
        let value = match self.exchange(request).await {
            Answer::Ok(value) => value,
            Answer::TokenRefused => {
                return Err(ProviderError::Transient {
                    message: "SansPBX refused the access token or key".into(),
                    source: None,
                });
            }
            Answer::Failed(e) | Answer::Unanswered(e) => return Err(e),
        };
        let token = field_text(&value, &api.token_field)
            .or_else(|| {
                serde_json::from_value::<wire::TokenResponse>(value.clone())
                    .ok()
                    .map(|t| t.api_token)
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ProviderError::Transient {
                message: format!(
                    "the SansPBX token response has no {:?}: {}",
                    api.token_field,
                    message_of(&value).unwrap_or_default()
                ),
                source: None,
            })?;
        let expiry = field_text(&value, &api.expiry_field).and_then(|t| self.expiry(&t, now));
        let default = chrono::Duration::seconds(self.config.token.default_ttl_secs as i64);
        let expires_at = expiry.unwrap_or(now + default);
        let margin = chrono::Duration::seconds(self.config.token.refresh_margin_secs as i64);
        debug!(provider = %self.config.id, %expires_at, "SansPBX token issued");
        Ok(Token {
            value: token,
            // A token always gets a little use, even if it is short-lived.
            refresh_at: (expires_at - margin).max(now + chrono::Duration::seconds(1)),
        })
    }

    /// Reads an expiry: epoch seconds, seconds to live, RFC 3339, or a local
    /// `YYYY-MM-DD HH:MM:SS` at the configured offset.
    fn expiry(&self, text: &str, now: Timestamp) -> Option<Timestamp> {
        let text = text.trim();
        if let Ok(n) = text.parse::<i64>() {
            return if n > 1_000_000_000 {
                Utc.timestamp_opt(n, 0).single()
            } else {
                Some(now + chrono::Duration::seconds(n))
            };
        }
        self.time(text)
    }

    fn time(&self, text: &str) -> Option<Timestamp> {
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Some(t.with_timezone(&Utc));
        }
        let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok()?;
        self.offset
            .from_local_datetime(&naive)
            .single()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Sends one request and classifies the answer.
    async fn exchange(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) if e.is_connect() || e.is_builder() => {
                return Answer::Failed(transient("cannot reach SansPBX", e));
            }
            Err(e) => return Answer::Unanswered(transient("no answer from SansPBX", e)),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => return Answer::Unanswered(transient("reading SansPBX's answer failed", e)),
        };
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let message = message_of(&value)
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
        match status {
            s if s.is_success() => {
                if status_says_error(&value) && mentions_token(&message) {
                    Answer::TokenRefused
                } else {
                    Answer::Ok(value)
                }
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Answer::TokenRefused,
            StatusCode::TOO_MANY_REQUESTS => {
                Answer::Failed(ProviderError::RateLimited { retry_after })
            }
            StatusCode::NOT_FOUND => Answer::Failed(ProviderError::NotFound),
            s if s == StatusCode::REQUEST_TIMEOUT || !s.is_client_error() => {
                Answer::Failed(ProviderError::Transient {
                    message: format!("SansPBX HTTP {}: {message}", s.as_u16()),
                    source: None,
                })
            }
            s => Answer::Failed(ProviderError::Permanent {
                code: format!("http-{}", s.as_u16()),
                message,
            }),
        }
    }

    /// POSTs `body` to `path` with the API token, renewing the token once if
    /// it is refused.
    async fn call_api(&self, path: &str, body: &Map<String, Value>) -> Answer {
        let mut renewed = false;
        loop {
            let token = match self.token().await {
                Ok(token) => token,
                Err(e) => return Answer::Failed(e),
            };
            let request = self
                .http
                .post(self.url(path))
                .header(self.config.api.api_token_header.as_str(), &token)
                .json(body);
            match self.exchange(request).await {
                Answer::TokenRefused if !renewed => {
                    debug!(provider = %self.config.id, "SansPBX token refused; renewing it");
                    self.drop_token(&token).await;
                    renewed = true;
                }
                Answer::TokenRefused => {
                    return Answer::Failed(ProviderError::Transient {
                        message: "SansPBX refused a freshly issued token".into(),
                        source: None,
                    });
                }
                other => return other,
            }
        }
    }

    fn callid_body(&self, sid: &ProviderCallSid) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert(
            self.config.api.callid_field.clone(),
            Value::String(sid.as_str().to_string()),
        );
        body
    }

    /// The status URL handed to the PBX: signed when the webhook check
    /// uses signed URLs.
    fn status_url(&self, url: &str) -> String {
        match &self.config.webhook_auth {
            WebhookAuth::SignedUrl { param } => {
                let separator = if url.contains('?') { '&' } else { '?' };
                let sig = sign(self.config.webhook_secret.as_bytes(), url);
                format!("{url}{separator}{param}={sig}")
            }
            WebhookAuth::Header { .. } => url.to_string(),
        }
    }

    /// Checks a webhook's shared secret, in constant time.
    fn verify(&self, request: &WebhookRequest) -> Result<(), WebhookError> {
        let ok = match &self.config.webhook_auth {
            WebhookAuth::SignedUrl { param } => split_signed(&request.public_url, param)
                .is_some_and(|(unsigned, sig)| {
                    let expected = sign(self.config.webhook_secret.as_bytes(), &unsigned);
                    bool::from(expected.as_bytes().ct_eq(sig.as_bytes()))
                }),
            WebhookAuth::Header { name } => request.header(name).is_some_and(|given| {
                bool::from(
                    given
                        .trim()
                        .as_bytes()
                        .ct_eq(self.config.webhook_secret.as_bytes()),
                )
            }),
        };
        if ok {
            Ok(())
        } else {
            debug!(provider = %self.config.id, "SansPBX webhook secret missing or wrong");
            Err(WebhookError::Forbidden)
        }
    }

    /// The webhook (or status response) object with configured field names
    /// copied to the names the wire parser reads.
    fn normalise(&self, object: &Map<String, Value>) -> Map<String, Value> {
        let api = &self.config.api;
        let mut out = object.clone();
        for (configured, canonical) in [
            (&api.callid_field, "callid"),
            (&api.status_field, "status"),
            (&api.duration_field, "duration"),
            (&api.timestamp_field, "timestamp"),
            (&api.sequence_field, "seq"),
        ] {
            if configured != canonical
                && let Some(v) = object.get(configured.as_str())
            {
                out.insert(canonical.to_string(), v.clone());
            }
        }
        out
    }

    /// Turns a status object (webhook or lookup) into an event.
    fn event(
        &self,
        object: &Map<String, Value>,
        call_id: Option<CallId>,
    ) -> Result<CallEvent, String> {
        let raw_status = object
            .get(self.config.api.status_field.as_str())
            .or_else(|| object.get("status"))
            .and_then(scalar_text)
            .unwrap_or_default();
        let parsed = wire::StatusWebhook::parse(
            serde_json::to_vec(&Value::Object(self.normalise(object)))
                .map_err(|e| e.to_string())?
                .as_slice(),
        )
        .map_err(|e| e.to_string())?;
        let kind = event_kind(&raw_status, &parsed)?;
        let mut event = CallEvent::new(self.config.id.clone(), call_id, kind);
        event.provider_sid =
            Some(ProviderCallSid::parse(parsed.callid.clone()).map_err(|e| e.to_string())?);
        event.sequence = parsed.seq;
        event.timestamp = parsed.timestamp.as_deref().and_then(|t| self.time(t));
        event.duration_secs = parsed.duration;
        Ok(event)
    }
}

/// The event kind of a status; `raw` is the status as sent (to tell a
/// cancel from other failures).
fn event_kind(raw: &str, parsed: &wire::StatusWebhook) -> Result<CallEventKind, String> {
    let norm: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    if norm.starts_with("cancel") {
        return Ok(CallEventKind::Canceled);
    }
    Ok(match &parsed.status {
        SansCallStatus::Ringing => CallEventKind::Ringing,
        SansCallStatus::Answered => CallEventKind::Answered,
        // A hang-up without any talk time was never answered.
        SansCallStatus::Completed if parsed.duration == Some(0) => CallEventKind::NoAnswer,
        SansCallStatus::Completed => CallEventKind::Completed,
        SansCallStatus::Busy => CallEventKind::Busy,
        SansCallStatus::NoAnswer => CallEventKind::NoAnswer,
        SansCallStatus::Failed => CallEventKind::Failed,
        SansCallStatus::Other(_)
            if matches!(
                norm.as_str(),
                "initiated" | "queued" | "dialing" | "originate"
            ) =>
        {
            CallEventKind::Initiated
        }
        SansCallStatus::Other(other) => return Err(format!("unknown SansPBX status {other:?}")),
    })
}

fn sign(secret: &[u8], url: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Splits `…?a=1&sig=XX&b=2` into (`…?a=1&b=2`, `XX`); the parameter must
/// appear exactly once.
fn split_signed(url: &str, param: &str) -> Option<(String, String)> {
    let (base, query) = url.split_once('?')?;
    let query = query.split('#').next().unwrap_or(query);
    let mut sig = None;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some((k, v)) if k == param => {
                if sig.replace(v.to_string()).is_some() {
                    return None;
                }
            }
            _ => rest.push(pair),
        }
    }
    let sig = sig?;
    let unsigned = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Some((unsigned, sig))
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

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `name` at the top level or under `data` (an object or a one-element array).
fn field_text(value: &Value, name: &str) -> Option<String> {
    let data = value.get("data").and_then(|d| match d {
        Value::Array(a) => a.first(),
        other => Some(other),
    });
    [Some(value), data]
        .into_iter()
        .flatten()
        .find_map(|o| o.get(name).and_then(scalar_text))
}

fn message_of(value: &Value) -> Option<String> {
    ["message", "msg", "Message", "error"]
        .iter()
        .find_map(|k| field_text(value, k))
}

fn status_says_error(value: &Value) -> bool {
    value.get("status").and_then(scalar_text).is_some_and(|s| {
        matches!(
            s.to_ascii_lowercase().as_str(),
            "error" | "failed" | "failure" | "false" | "0"
        )
    })
}

fn mentions_token(message: &str) -> bool {
    message.to_ascii_lowercase().contains("token")
}

/// The status object of a lookup answer: `data` when present, else the top.
fn status_object(value: &Value) -> Option<&Map<String, Value>> {
    match value.get("data") {
        Some(Value::Object(o)) => Some(o),
        Some(Value::Array(a)) => a.first().and_then(Value::as_object),
        _ => value.as_object(),
    }
}

#[async_trait]
impl TelephonyProvider for SansPbxProvider {
    fn id(&self) -> &ProviderId {
        &self.config.id
    }

    async fn place_call(&self, request: &PlaceCall) -> Result<PlacedCall, ProviderError> {
        let api = &self.config.api;
        let refuse = |message: String| ProviderError::Permanent {
            code: "number".into(),
            message,
        };
        let call_to = self
            .config
            .numbers
            .format_callee(&request.to)
            .map_err(refuse)?;
        let caller_id = self
            .config
            .numbers
            .format_caller_id(&request.from)
            .map_err(refuse)?;
        let mut custom = BTreeMap::new();
        custom.insert(api.custom_call_id_key.clone(), request.call_id.to_string());
        custom.insert(
            api.custom_campaign_id_key.clone(),
            request.campaign_id.to_string(),
        );
        // Echoed in the media stream's `start`: the bridge admits the
        // stream only with this call's token.
        if let Some(token) = &request.media_token {
            custom.insert(TOKEN_PARAMETER.to_owned(), token.clone());
        }
        let mut body = Map::new();
        body.insert(api.appid_field.clone(), Value::from(self.config.appid));
        body.insert(api.call_to_field.clone(), Value::String(call_to));
        body.insert(api.caller_id_field.clone(), Value::String(caller_id));
        body.insert(
            api.custom_field.clone(),
            serde_json::to_value(custom).expect("a string map is JSON"),
        );
        if !api.status_callback_field.is_empty() {
            body.insert(
                api.status_callback_field.clone(),
                Value::String(self.status_url(&request.status_url)),
            );
        }
        match self.call_api(&api.dial_path, &body).await {
            Answer::Ok(value) => {
                let callid = field_text(&value, &api.callid_field)
                    .or_else(|| {
                        serde_json::to_vec(&value)
                            .ok()
                            .and_then(|b| DialResponse::parse(&b).ok())
                            .and_then(|r| r.call_id)
                    })
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| ProviderError::Permanent {
                        code: "refused".into(),
                        message: message_of(&value)
                            .unwrap_or_else(|| "SansPBX answered without a callid".into()),
                    })?;
                let sid = ProviderCallSid::parse(callid).map_err(|e| ProviderError::Transient {
                    message: format!("SansPBX answered a bad callid: {e}"),
                    source: None,
                })?;
                Ok(PlacedCall { sid })
            }
            Answer::Unanswered(error) => {
                warn!(provider = %self.config.id, call_id = %request.call_id, %error,
                    "no answer to a dial request; not retried, the call may exist");
                Err(ProviderError::Permanent {
                    code: "ambiguous".into(),
                    message: format!(
                        "{error}; SansPBX may have placed the call and cannot be asked, so it is not dialled again"
                    ),
                })
            }
            Answer::Failed(error) => Err(error),
            Answer::TokenRefused => unreachable!("call_api resolves token refusals"),
        }
    }

    async fn hangup(&self, sid: &ProviderCallSid) -> Result<(), ProviderError> {
        let body = self.callid_body(sid);
        match self.call_api(&self.config.api.disconnect_path, &body).await {
            Answer::Ok(_) | Answer::Failed(ProviderError::NotFound) => Ok(()),
            Answer::Failed(e) | Answer::Unanswered(e) => Err(e),
            Answer::TokenRefused => unreachable!("call_api resolves token refusals"),
        }
    }

    async fn fetch_call(&self, sid: &ProviderCallSid) -> Result<ProviderCall, ProviderError> {
        let Some(path) = self.config.api.status_path.clone() else {
            // No way to ask: the lease ran out, so end the call for sure and
            // report it failed (see the module doc).
            self.hangup(sid).await?;
            return Ok(ProviderCall {
                sid: sid.clone(),
                status: CallEventKind::Failed,
                duration_secs: None,
                answered_by: None,
                price: None,
                ended_at: None,
            });
        };
        let value = match self.call_api(&path, &self.callid_body(sid)).await {
            Answer::Ok(value) => value,
            Answer::Failed(e) | Answer::Unanswered(e) => return Err(e),
            Answer::TokenRefused => unreachable!("call_api resolves token refusals"),
        };
        let object = status_object(&value).ok_or_else(|| ProviderError::Transient {
            message: "unreadable SansPBX call status".into(),
            source: None,
        })?;
        let mut object = object.clone();
        object
            .entry(self.config.api.callid_field.clone())
            .or_insert_with(|| Value::String(sid.as_str().to_string()));
        let event = self
            .event(&object, None)
            .map_err(|message| ProviderError::Transient {
                message,
                source: None,
            })?;
        Ok(ProviderCall {
            sid: sid.clone(),
            status: event.kind,
            duration_secs: event.duration_secs,
            answered_by: None,
            price: None,
            ended_at: event
                .kind
                .is_terminal()
                .then_some(event.timestamp)
                .flatten(),
        })
    }

    async fn find_call(
        &self,
        _call_id: &CallId,
        _to: &E164,
        _since: Timestamp,
    ) -> Result<Option<ProviderCall>, ProviderError> {
        // No call search is known.
        Ok(None)
    }

    async fn redirect(
        &self,
        sid: &ProviderCallSid,
        instruction: &AnswerInstruction,
    ) -> Result<(), ProviderError> {
        match instruction {
            AnswerInstruction::Hangup => self.hangup(sid).await,
            _ => Err(not_supported(
                "changing what a live call does is not supported by SansPBX (no known endpoint); the media stream handles it",
            )),
        }
    }

    async fn transfer(
        &self,
        _sid: &ProviderCallSid,
        _target: &TransferTarget,
    ) -> Result<(), ProviderError> {
        Err(not_supported(
            "transfer is not supported by the SansPBX REST API as known; use the media stream's transfer event",
        ))
    }

    fn parse_status_webhook(&self, request: &WebhookRequest) -> Result<CallEvent, WebhookError> {
        self.verify(request)?;
        let bad = |e: String| WebhookError::BadRequest(e);
        let value: Value = match serde_json::from_slice(&request.body) {
            Ok(value @ Value::Object(_)) => value,
            _ => {
                // A form body: the same fields, as text.
                let pairs = voxdial_wire::twilio::forms::parse_form(&request.body)
                    .map_err(|e| bad(format!("the body is neither JSON nor a form: {e}")))?;
                Value::Object(
                    pairs
                        .into_iter()
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect(),
                )
            }
        };
        let object = value.as_object().expect("built as an object");
        let api = &self.config.api;
        let custom_call_id = object
            .get(api.custom_field.as_str())
            .and_then(|c| c.get(api.custom_call_id_key.as_str()))
            .and_then(scalar_text);
        let url_call_id = request.query_param("call_id");
        // The body is not signed: it may not move another call than the
        // signed URL names.
        if let (Some(url), Some(body)) = (&url_call_id, &custom_call_id)
            && url != body
        {
            debug!(provider = %self.config.id, "SansPBX webhook body names another call");
            return Err(WebhookError::Forbidden);
        }
        let call_id = url_call_id
            .or(custom_call_id)
            .ok_or_else(|| bad("the webhook names no voxdial call id".into()))?;
        let call_id = CallId::parse(call_id).map_err(|e| bad(e.to_string()))?;
        self.event(object, Some(call_id)).map_err(bad)
    }

    fn parse_answer_webhook(
        &self,
        _request: &WebhookRequest,
    ) -> Result<AnswerRequest, WebhookError> {
        Err(WebhookError::BadRequest(
            "SansPBX has no answer webhook: the PBX connects its media stream itself".into(),
        ))
    }

    fn render_answer(&self, _instruction: &AnswerInstruction) -> WebhookResponse {
        WebhookResponse::text(404, "SansPBX has no answer webhook")
    }
}

fn not_supported(message: &str) -> ProviderError {
    ProviderError::Permanent {
        code: "not-supported".into(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(text: &str) -> E164 {
        E164::parse(text, None).unwrap()
    }

    #[test]
    fn numbers_follow_the_rules() {
        let rules = NumberRules::default();
        let mumbai = number("+919876543210");
        assert_eq!(rules.format_callee(&mumbai).unwrap(), "09876543210");
        assert!(rules.format_callee(&number("+14155550100")).is_err());
        assert_eq!(
            rules.format_caller_id(&number("+912240001234")).unwrap(),
            "0001234"
        );
        let abroad = NumberRules {
            international: InternationalFormat::Prefix00,
            domestic: DomesticFormat::CountryCode,
            caller_id_digits: None,
            ..NumberRules::default()
        };
        assert_eq!(
            abroad.format_callee(&number("+14155550100")).unwrap(),
            "0014155550100"
        );
        assert_eq!(abroad.format_callee(&mumbai).unwrap(), "919876543210");
        assert_eq!(
            abroad.format_caller_id(&number("+912240001234")).unwrap(),
            "912240001234"
        );
    }

    #[test]
    fn signed_urls_split_and_verify() {
        let url = "https://h.test/webhooks/sanspbx/status?campaign_id=c1&call_id=l1.1";
        let signed = format!("{url}&sig={}", sign(b"secret", url));
        let (unsigned, sig) = split_signed(&signed, "sig").unwrap();
        assert_eq!(unsigned, url);
        assert_eq!(sig, sign(b"secret", url));
        let front = "https://h.test/x?sig=ab&a=1";
        assert_eq!(
            split_signed(front, "sig").unwrap(),
            ("https://h.test/x?a=1".to_string(), "ab".to_string())
        );
        assert_eq!(split_signed("https://h.test/x?a=1", "sig"), None);
        assert_eq!(split_signed("https://h.test/x?sig=a&sig=b", "sig"), None);
    }

    #[test]
    fn statuses_map_to_events() {
        let parse = |json: &str| wire::StatusWebhook::parse(json.as_bytes()).unwrap();
        let kind = |raw: &str, json: &str| event_kind(raw, &parse(json)).unwrap();
        assert_eq!(
            kind("canceled", r#"{"callid":"1","status":"canceled"}"#),
            CallEventKind::Canceled
        );
        assert_eq!(
            kind(
                "completed",
                r#"{"callid":"1","status":"completed","duration":0}"#
            ),
            CallEventKind::NoAnswer
        );
        assert_eq!(
            kind(
                "ANSWER",
                r#"{"callid":"1","status":"ANSWER","duration":"12"}"#
            ),
            CallEventKind::Answered
        );
        assert_eq!(
            kind("initiated", r#"{"callid":"1","status":"initiated"}"#),
            CallEventKind::Initiated
        );
        assert!(event_kind("weird", &parse(r#"{"callid":"1","status":"weird"}"#)).is_err());
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("+05:30").unwrap().local_minus_utc(), 19_800);
        assert_eq!(parse_offset("-03:00").unwrap().local_minus_utc(), -10_800);
        assert!(parse_offset("IST").is_none());
    }
}
