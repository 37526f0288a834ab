//! The SansPBX personality of the simulated carrier.
//!
//! It speaks the SansPBX REST API as `voxdial_wire::sanspbx` assumes it
//! (no vendor documentation exists; see that module's table):
//!
//! - `POST /pbxadmin/sanpbxapi/gentoken` with header `Accesstoken` and body
//!   `{"access_key":…}` issues an `Apitoken` valid for
//!   [`SansPbxConfig::token_ttl_secs`] simulated seconds
//!   (`{"Apitoken":…,"expiry_time":"YYYY-MM-DD HH:MM:SS"}`, Indian time);
//! - `POST …/dialcall` (header `Apitoken`, body
//!   `{"appid","call_to","caller_id","custom_field",…}`) places a call and
//!   answers `{"status":"success","data":{"callid":…}}`;
//! - `POST …/calldisconnect` (`{"callid"}`) hangs it up;
//! - `POST …/callstatus` (`{"callid"}`, an endpoint voxdial only uses when
//!   configured to: its existence is an assumption too) reports its status.
//!
//! An expired or unknown token gets HTTP 401. Each call plays out like a
//! Twilio one — the outcome, the ring and talk times and the faults come from
//! the shared [`Carrier`] core, which also counts simultaneous calls per
//! campaign and dials per attempt across both personalities — and its
//! progress is posted as JSON status webhooks (`ringing`, `answered`, then
//! `completed`, `busy`, `noanswer`, `failed` or `canceled`) to the URL the
//! dial request named in its `status_callback` field, or else to the URL
//! configured "on the PBX side". No public signature scheme exists, so the
//! webhook carries nothing but what the URL holds, plus a shared-secret
//! header when one is configured. SansPBX has no machine detection: a
//! machine's answer looks like a person's.
//!
//! Numbers: `call_to` may be `0XXXXXXXXXX` (a national number of the
//! configured country), `00<country><number>`, `+<country><number>`, or
//! `<country code><national number>`; anything else is refused with 400.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{Duration, FixedOffset};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tracing::warn;
use voxdial_domain::Timestamp;
use voxdial_wire::sanspbx::{
    ACCESS_TOKEN_HEADER, API_TOKEN_HEADER, DialRequest, DisconnectRequest, TokenRequest,
};
use voxdial_wire::twilio::forms::{CallDirection, CallStatus};
use voxdial_wire::twilio::rest::CallResource;

use crate::carrier::{
    Admission, Carrier, CarrierStats, CreateFault, Fate, Outage, Plan, Refusal, mix, price_with,
    query_param,
};

/// The personality's name in [`CarrierStats::by_provider`].
pub const PERSONALITY: &str = "sanspbx";

/// The REST paths the simulated PBX serves.
#[derive(Clone, Debug, Serialize)]
pub struct Paths {
    /// Token.
    pub token: String,
    /// Dial.
    pub dial: String,
    /// Hangup.
    pub disconnect: String,
    /// Status lookup (assumed endpoint).
    pub status: String,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            token: "/pbxadmin/sanpbxapi/gentoken".into(),
            dial: "/pbxadmin/sanpbxapi/dialcall".into(),
            disconnect: "/pbxadmin/sanpbxapi/calldisconnect".into(),
            status: "/pbxadmin/sanpbxapi/callstatus".into(),
        }
    }
}

/// The simulated PBX's settings.
#[derive(Clone, Debug)]
pub struct SansPbxConfig {
    /// The static token clients send as `Accesstoken` to get an API token.
    pub access_token: String,
    /// The `access_key` of the token request body.
    pub access_key: String,
    /// The application id dial requests must name.
    pub appid: u64,
    /// How long an issued API token lives, simulated seconds.
    pub token_ttl_secs: i64,
    /// A header and shared secret added to every status webhook, as an
    /// operator would configure on the PBX side (none by default).
    pub webhook_header: Option<(String, String)>,
    /// Where status webhooks go when a dial request names no URL.
    pub status_url: Option<String>,
    /// The dial body's field holding a per-call status URL.
    pub status_url_field: String,
    /// The country of `0`-prefixed national numbers (`"91"`).
    pub country_code: String,
    /// Seconds to ring before giving up (the dial request has no timeout).
    pub ring_timeout_secs: f64,
    /// Windows in which this personality refuses calls (HTTP 503).
    pub outages: Vec<Outage>,
    /// Price per minute in micro-dollars by `+`-prefix of the callee.
    pub rates: Vec<(String, i64)>,
    /// The REST paths.
    pub paths: Paths,
}

impl SansPbxConfig {
    /// A PBX with the given credentials, application 1, one-hour tokens and
    /// demo rates (cheap in India, dearer abroad).
    pub fn new(access_token: impl Into<String>, access_key: impl Into<String>) -> Self {
        SansPbxConfig {
            access_token: access_token.into(),
            access_key: access_key.into(),
            appid: 1,
            token_ttl_secs: 3600,
            webhook_header: None,
            status_url: None,
            status_url_field: "status_callback".into(),
            country_code: "91".into(),
            ring_timeout_secs: 45.0,
            outages: Vec::new(),
            rates: vec![
                ("+91".into(), 6_500),
                ("+1".into(), 20_000),
                ("+44".into(), 25_000),
            ],
            paths: Paths::default(),
        }
    }
}

/// What the PBX personality saw besides the shared figures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SansPbxStats {
    /// API tokens issued.
    pub tokens_issued: u64,
    /// Requests refused for a missing, unknown or expired token (401).
    pub unauthorized: u64,
    /// Dial requests received.
    pub dial_requests: u64,
    /// Hangup requests received.
    pub disconnect_requests: u64,
    /// Status lookups received.
    pub status_requests: u64,
}

struct Pbx {
    carrier: Carrier,
    config: SansPbxConfig,
    tokens: Mutex<HashMap<String, Timestamp>>,
    stats: Mutex<SansPbxStats>,
}

/// The SansPBX API of a simulated [`Carrier`]. Cheap to clone.
#[derive(Clone)]
pub struct SansPbx {
    inner: Arc<Pbx>,
}

/// India Standard Time, in which the PBX writes its times.
fn ist() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 1800).expect("a valid offset")
}

fn ist_text(t: Timestamp) -> String {
    t.with_timezone(&ist())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "status": "error", "message": message })),
    )
        .into_response()
}

impl SansPbx {
    /// The SansPBX personality of `carrier`: same outcomes, faults, ledger
    /// and figures, its own API, tokens, rates and outages.
    pub fn new(carrier: &Carrier, config: SansPbxConfig) -> SansPbx {
        SansPbx {
            inner: Arc::new(Pbx {
                carrier: carrier.clone(),
                config,
                tokens: Mutex::new(HashMap::new()),
                stats: Mutex::new(SansPbxStats::default()),
            }),
        }
    }

    /// The REST API as an axum router, plus `GET /sim/stats`.
    pub fn router(&self) -> Router {
        let paths = &self.inner.config.paths;
        Router::new()
            .route(
                "/sim/stats",
                get(|State(pbx): State<SansPbx>| async move {
                    axum::Json(json!({ "carrier": pbx.carrier_stats(), "pbx": pbx.stats() }))
                }),
            )
            .route(&paths.token, post(gentoken))
            .route(&paths.dial, post(dialcall))
            .route(&paths.disconnect, post(calldisconnect))
            .route(&paths.status, post(callstatus))
            .with_state(self.clone())
    }

    /// Serves the API on `listener` until the returned task is aborted.
    pub fn serve(&self, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
        let router = self.router();
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                warn!(%error, "simulated SansPBX stopped");
            }
        })
    }

    /// What this personality saw (tokens, requests).
    pub fn stats(&self) -> SansPbxStats {
        self.inner.stats.lock().expect("pbx stats lock").clone()
    }

    /// The shared carrier's figures (both personalities).
    pub fn carrier_stats(&self) -> CarrierStats {
        self.inner.carrier.stats()
    }

    /// Makes the next dial requests fail (or stall) as listed, one fault per
    /// request, before any random fault is drawn.
    pub fn script_dial_faults(&self, faults: impl IntoIterator<Item = CreateFault>) {
        self.inner.carrier.script(PERSONALITY, faults);
    }

    /// Forgets every issued API token, as a PBX restart would: the next
    /// request with one gets 401.
    pub fn revoke_tokens(&self) {
        self.inner.tokens.lock().expect("token lock").clear();
    }

    fn count(&self, update: impl FnOnce(&mut SansPbxStats)) {
        update(&mut self.inner.stats.lock().expect("pbx stats lock"));
    }

    /// Whether the request carries a live API token.
    fn authorised(&self, headers: &HeaderMap) -> bool {
        let now = self.inner.carrier.time().now();
        let ok = headers
            .get(API_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|token| {
                self.inner
                    .tokens
                    .lock()
                    .expect("token lock")
                    .get(token.trim())
                    .is_some_and(|expiry| now < *expiry)
            });
        if !ok {
            self.count(|s| s.unauthorized += 1);
        }
        ok
    }

    /// `call_to` as E.164, per the module doc's rules.
    fn e164(&self, call_to: &str) -> Option<String> {
        let cc = &self.inner.config.country_code;
        let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let e164 = if let Some(rest) = call_to.strip_prefix('+') {
            format!("+{rest}")
        } else if let Some(rest) = call_to.strip_prefix("00") {
            format!("+{rest}")
        } else if let Some(rest) = call_to.strip_prefix('0') {
            format!("+{cc}{rest}")
        } else if call_to.starts_with(cc.as_str()) && call_to.len() > cc.len() + 6 {
            format!("+{call_to}")
        } else {
            return None;
        };
        let digits = &e164[1..];
        (digits_only(digits) && (8..=15).contains(&digits.len())).then_some(e164)
    }

    fn refusal(&self, refusal: Refusal) -> Response {
        match refusal {
            Refusal::Outage | Refusal::Unavailable => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service temporarily unavailable",
            ),
            Refusal::RateLimited => error(StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
            Refusal::ServerError => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
            Refusal::InvalidNumber => error(StatusCode::BAD_REQUEST, "Invalid call_to number"),
            Refusal::GeoPermission => error(
                StatusCode::BAD_REQUEST,
                "International calling is not enabled for this account",
            ),
        }
    }

    async fn run_call(self, sid: String, call: CallSetup, plan: Plan, hangup: Arc<Notify>) {
        let time = self.inner.carrier.time().clone();
        let mut seq = 0u64;
        time.sleep(0.3).await;
        if let Fate::Failed { .. } = plan.fate {
            return self.end(&sid, &call, CallStatus::Failed, 0, &mut seq);
        }
        self.inner.carrier.set_status(&sid, CallStatus::Ringing);
        self.webhook(&sid, &call, "ringing", None, &mut seq);
        let ring = match plan.fate {
            Fate::Busy => plan.ring_secs.min(3.0),
            Fate::NoAnswer => self.inner.config.ring_timeout_secs,
            _ => plan.ring_secs.min(self.inner.config.ring_timeout_secs),
        };
        let hung_up = tokio::select! {
            _ = time.sleep(ring) => false,
            _ = hangup.notified() => true,
        };
        if hung_up {
            return self.end(&sid, &call, CallStatus::Canceled, 0, &mut seq);
        }
        match plan.fate {
            Fate::Busy => return self.end(&sid, &call, CallStatus::Busy, 0, &mut seq),
            Fate::NoAnswer => return self.end(&sid, &call, CallStatus::NoAnswer, 0, &mut seq),
            _ => {}
        }
        let answered_at = time.now();
        self.inner.carrier.set_status(&sid, CallStatus::InProgress);
        self.webhook(&sid, &call, "answered", None, &mut seq);
        // No machine detection and no media here: a person talks for the
        // conversation's length and reports its disposition; a machine
        // records for a while after its greeting.
        let length = if plan.fate == Fate::Machine {
            plan.greeting_secs + 10.0
        } else {
            self.inner.carrier.report_disposition(&sid, &plan).await;
            plan.talk_secs
        };
        tokio::select! {
            _ = time.sleep(length) => {}
            _ = hangup.notified() => {}
        }
        let duration = (time.now() - answered_at).num_seconds().max(1) as u32;
        self.end(&sid, &call, CallStatus::Completed, duration, &mut seq);
    }

    fn end(&self, sid: &str, call: &CallSetup, status: CallStatus, duration: u32, seq: &mut u64) {
        let price = price_with(&self.inner.config.rates, &call.to, duration);
        if !self
            .inner
            .carrier
            .settle(PERSONALITY, sid, status.clone(), duration, price)
        {
            return;
        }
        let word = match status {
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::NoAnswer => "noanswer",
            CallStatus::Canceled => "canceled",
            _ => "failed",
        };
        self.webhook(sid, call, word, Some(duration), seq);
    }

    /// Posts a JSON status webhook in the background, with the carrier's
    /// callback faults.
    fn webhook(
        &self,
        sid: &str,
        call: &CallSetup,
        status: &str,
        duration: Option<u32>,
        seq: &mut u64,
    ) {
        let Some(url) = call.status_url.clone() else {
            return;
        };
        let mut body = json!({
            "callid": sid,
            "status": status,
            "timestamp": ist_text(self.inner.carrier.time().now()),
            "seq": *seq,
            "custom_field": call.custom_field,
        });
        *seq += 1;
        if let Some(duration) = duration {
            body["duration"] = json!(duration);
            if duration > 0 {
                body["rec_path"] = json!(format!("recordings/{sid}.wav"));
            }
        }
        let header = self.inner.config.webhook_header.clone();
        self.inner.carrier.deliver_with(move |carrier| {
            let (url, body, header) = (url.clone(), body.clone(), header.clone());
            async move {
                let mut request = carrier.http().post(&url).json(&body);
                if let Some((name, secret)) = &header {
                    request = request.header(name.as_str(), secret.as_str());
                }
                match request.send().await {
                    Ok(response) => response.status().is_success(),
                    Err(_) => false,
                }
            }
        });
    }
}

/// What a dial request asked for.
struct CallSetup {
    to: String,
    status_url: Option<String>,
    custom_field: BTreeMap<String, String>,
}

async fn gentoken(State(pbx): State<SansPbx>, headers: HeaderMap, body: Bytes) -> Response {
    let config = &pbx.inner.config;
    let header_ok = headers
        .get(ACCESS_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == config.access_token);
    let key_ok = serde_json::from_slice::<TokenRequest>(&body)
        .is_ok_and(|request| request.access_key == config.access_key);
    if !(header_ok && key_ok) {
        pbx.count(|s| s.unauthorized += 1);
        return error(StatusCode::UNAUTHORIZED, "Invalid access token or key");
    }
    let now = pbx.inner.carrier.time().now();
    let n = pbx.inner.carrier.next_call_number();
    let token = format!(
        "{:016x}{:016x}",
        mix(pbx.inner.carrier.seed() ^ 0x70CE),
        mix(n)
    );
    let expiry = now + Duration::seconds(config.token_ttl_secs);
    pbx.inner
        .tokens
        .lock()
        .expect("token lock")
        .insert(token.clone(), expiry);
    pbx.count(|s| s.tokens_issued += 1);
    axum::Json(json!({ "Apitoken": token, "expiry_time": ist_text(expiry) })).into_response()
}

async fn dialcall(State(pbx): State<SansPbx>, headers: HeaderMap, body: Bytes) -> Response {
    pbx.count(|s| s.dial_requests += 1);
    if !pbx.authorised(&headers) {
        return error(StatusCode::UNAUTHORIZED, "Invalid or expired token");
    }
    let config = &pbx.inner.config;
    let invalid = |message: &str| {
        pbx.inner.carrier.count_for(PERSONALITY, |s, p| {
            s.invalid_requests += 1;
            p.invalid_requests += 1;
        });
        error(StatusCode::BAD_REQUEST, message)
    };
    let (Ok(request), Ok(raw)) = (
        serde_json::from_slice::<DialRequest>(&body),
        serde_json::from_slice::<Value>(&body),
    ) else {
        return invalid("Invalid request body");
    };
    if request.appid != config.appid {
        return invalid("Invalid appid");
    }
    let Some(to) = pbx.e164(request.call_to.trim()) else {
        return invalid("Invalid call_to number");
    };
    if request.caller_id.trim().is_empty() {
        return invalid("caller_id is required");
    }
    let stall = match pbx.inner.carrier.admit_create(PERSONALITY, &config.outages) {
        Admission::Create => None,
        Admission::CreateSlowly(millis) => Some(millis),
        Admission::Refuse(refusal) => return pbx.refusal(refusal),
    };
    let status_url = raw
        .get(&config.status_url_field)
        .and_then(Value::as_str)
        .filter(|url| !url.is_empty())
        .map(str::to_string)
        .or_else(|| config.status_url.clone());
    let field = |name: &str| {
        request
            .custom_field
            .get(name)
            .cloned()
            .or_else(|| status_url.as_deref().and_then(|u| query_param(u, name)))
    };
    let (campaign, attempt) = (field("campaign_id"), field("call_id"));

    let carrier = &pbx.inner.carrier;
    let now = carrier.time().now();
    let sid = format!("{}", 7_000_000_000 + carrier.next_call_number());
    let resource = CallResource {
        sid: sid.clone(),
        account_sid: None,
        parent_call_sid: None,
        date_created: Some(now),
        date_updated: Some(now),
        to: Some(to.clone()),
        to_formatted: Some(request.call_to.clone()),
        from: Some(request.caller_id.clone()),
        from_formatted: Some(request.caller_id.clone()),
        phone_number_sid: None,
        status: CallStatus::Queued,
        start_time: None,
        end_time: None,
        duration: None,
        price: None,
        price_unit: Some("USD".into()),
        direction: Some(CallDirection::OutboundApi),
        answered_by: None,
        api_version: None,
        forwarded_from: None,
        group_sid: None,
        caller_name: None,
        queue_time: Some(0),
        stir_verstat: None,
        trunk_sid: None,
        uri: None,
        subresource_uris: None,
    };
    let hangup = carrier.register_call(PERSONALITY, resource, campaign, attempt);
    let plan = carrier.plan(&to);
    let setup = CallSetup {
        to,
        status_url,
        custom_field: request.custom_field.clone(),
    };
    let runner = pbx.clone();
    let call_sid = sid.clone();
    tokio::spawn(async move { runner.run_call(call_sid, setup, plan, hangup).await });
    if let Some(millis) = stall {
        tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
    }
    axum::Json(json!({
        "status": "success",
        "message": "Call initiated",
        "data": { "callid": sid },
    }))
    .into_response()
}

async fn calldisconnect(State(pbx): State<SansPbx>, headers: HeaderMap, body: Bytes) -> Response {
    pbx.count(|s| s.disconnect_requests += 1);
    if !pbx.authorised(&headers) {
        return error(StatusCode::UNAUTHORIZED, "Invalid or expired token");
    }
    let Ok(request) = serde_json::from_slice::<DisconnectRequest>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Invalid request body");
    };
    match pbx.inner.carrier.request_hangup(&request.callid) {
        Some(true) => axum::Json(json!({ "status": "success", "message": "Call disconnected" }))
            .into_response(),
        Some(false) | None => error(StatusCode::NOT_FOUND, "Call not found or not active"),
    }
}

async fn callstatus(State(pbx): State<SansPbx>, headers: HeaderMap, body: Bytes) -> Response {
    pbx.count(|s| s.status_requests += 1);
    if !pbx.authorised(&headers) {
        return error(StatusCode::UNAUTHORIZED, "Invalid or expired token");
    }
    let Ok(request) = serde_json::from_slice::<DisconnectRequest>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Invalid request body");
    };
    let Some(resource) = pbx.inner.carrier.resource(&request.callid) else {
        return error(StatusCode::NOT_FOUND, "Call not found");
    };
    let status = match resource.status {
        CallStatus::Queued | CallStatus::Initiated => "initiated",
        CallStatus::Ringing => "ringing",
        CallStatus::InProgress => "answered",
        CallStatus::Completed => "completed",
        CallStatus::Busy => "busy",
        CallStatus::NoAnswer => "noanswer",
        CallStatus::Canceled => "canceled",
        _ => "failed",
    };
    let mut data = json!({ "callid": resource.sid, "status": status });
    if let Some(duration) = resource.duration {
        data["duration"] = json!(duration);
    }
    if let Some(end) = resource.end_time {
        data["end_time"] = json!(ist_text(end));
    }
    axum::Json(json!({ "status": "success", "data": data })).into_response()
}
