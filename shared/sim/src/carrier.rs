//! A simulated carrier speaking Twilio's wire formats.
//!
//! It serves the Calls API under `/2010-04-01/Accounts/{AccountSid}/…`
//! (create, fetch, update, list; Basic auth with the account's SID and Auth
//! Token) and plays each created call out in simulated time: `initiated`,
//! `ringing`, then an answer (a person or a machine), busy, no answer or a
//! failure. Status callbacks are signed form POSTs to the call's
//! `StatusCallback` URL, exactly as Twilio sends them; an answered call
//! fetches its TwiML from `Url` (or takes the inline `Twiml`) and follows
//! it (`<Connect><Stream>`, `<Say>`, `<Play>`, `<Pause>`, `<Hangup>`,
//! `<Dial>`).
//!
//! Warm transfers: a call whose `StatusCallback` carries `leg=agent` is the
//! human agent's leg; it counts neither as a campaign call nor as a dial of
//! the attempt, answers at once (or rings out, [`Carrier::agents_answer`]),
//! and what it heard said before joining a conference is kept
//! ([`Carrier::whispers`]).
//!
//! The carrier also keeps the figures a real carrier could report: the
//! highest number of simultaneous calls per campaign (a call counts from its
//! creation until it ends) and the number of times each attempt was dialled
//! (campaign and attempt are read from the `campaign_id` and `call_id` query
//! parameters voxdial puts in its callback URLs).
//!
//! Recordings: a call created with `Record=true` (or recorded through the
//! Call Recordings API while live) gets a two-channel WAV when it ends,
//! announced by a signed `RecordingStatusCallback` (through the same fault
//! injection as status callbacks: duplicated, reordered, delayed, dropped)
//! and served at `GET …/Recordings/{RecordingSid}.wav` with Basic auth;
//! `DELETE …/Recordings/{RecordingSid}.json` deletes it. A simulated
//! recording is at most three seconds long whatever the call's length (the
//! announced `RecordingDuration` matches the file), and the next downloads
//! can be made to fail ([`Carrier::script_recording_failures`]).
//!
//! The same simulated network can also be reached through other providers'
//! APIs ([`crate::sanspbx`]): every personality shares this carrier's
//! outcome planning, fault injection, ledger and figures, so the
//! concurrency and double-dial counts hold across providers, and
//! [`CarrierStats::by_provider`] splits the rest per personality.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokio::sync::Notify;
use tracing::{debug, warn};
use voxdial_domain::{Disposition, Timestamp};
use voxdial_wire::twilio::forms::{self, AnsweredBy, CallStatus};
use voxdial_wire::twilio::rest::{
    CallResource, CallsPage, CreateCallParams, CreateParticipantParams, ListCallsQuery,
    MachineDetection, StatusCallbackEvent, TwilioErrorBody, UpdateCallParams, UpdateCallStatus,
};
use voxdial_wire::twilio::signature::{SIGNATURE_HEADER, SignatureAlgorithm, compute_signature};
use voxdial_wire::twilio::twiml::{self, ConnectNoun, Verb};

use crate::time::SimTime;

/// How calls turn out: probabilities per attempt and durations in
/// simulated seconds.
#[derive(Clone, Debug, Serialize)]
pub struct CallProfile {
    /// A person answers.
    pub human: f64,
    /// An answering machine answers.
    pub machine: f64,
    /// Busy.
    pub busy: f64,
    /// The call fails to connect.
    pub failed: f64,
    /// Of failures, the share that are permanent (SIP 404: no such number).
    pub failed_permanent: f64,
    // The rest rings out unanswered.
    /// Ring time before an answer, seconds (uniform range).
    pub ring_secs: (f64, f64),
    /// Conversation length with a person, seconds.
    pub talk_secs: (f64, f64),
    /// Length of a machine's greeting, seconds.
    pub greeting_secs: (f64, f64),
    /// Dispositions of conversations with weights.
    pub dispositions: Vec<(Disposition, f64)>,
}

impl Default for CallProfile {
    fn default() -> Self {
        CallProfile {
            human: 0.42,
            machine: 0.18,
            busy: 0.10,
            failed: 0.06,
            failed_permanent: 0.3,
            ring_secs: (4.0, 20.0),
            talk_secs: (25.0, 180.0),
            greeting_secs: (4.0, 12.0),
            dispositions: vec![
                (Disposition::Interested, 0.25),
                (Disposition::NotInterested, 0.35),
                (Disposition::CallbackRequested, 0.15),
                (Disposition::Transferred, 0.10),
                (Disposition::WrongNumber, 0.08),
                (Disposition::OptedOut, 0.07),
            ],
        }
    }
}

/// Faults to inject, as probabilities per callback or per REST request.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Faults {
    /// A callback is delivered twice.
    pub duplicate: f64,
    /// A callback is held back so the next one overtakes it.
    pub reorder: f64,
    /// A callback is delayed by up to `max_delay_secs`.
    pub delay: f64,
    /// The longest injected delay, simulated seconds.
    pub max_delay_secs: f64,
    /// A callback is never delivered.
    pub drop: f64,
    /// A create request gets HTTP 429 (code 20429).
    pub rate_limit: f64,
    /// A create request gets HTTP 500 or 503.
    pub server_error: f64,
}

impl Faults {
    /// No faults.
    pub fn none() -> Faults {
        Faults::default()
    }

    /// The fault mix of `voxdial demo --faults`.
    pub fn chaos() -> Faults {
        Faults {
            duplicate: 0.15,
            reorder: 0.15,
            delay: 0.10,
            max_delay_secs: 20.0,
            drop: 0.05,
            rate_limit: 0.05,
            server_error: 0.03,
        }
    }
}

/// A time window in which the carrier refuses every new call (HTTP 503).
#[derive(Clone, Debug, Serialize)]
pub struct Outage {
    /// Start.
    pub from: Timestamp,
    /// End (exclusive).
    pub until: Timestamp,
}

/// Runs a `<Connect><Stream>` media session for an answered call; resolves
/// when the stream ends. The carrier hands it what Twilio would put in the
/// stream's `start` message.
pub type StreamHook =
    Arc<dyn Fn(StreamRequest) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// What a media session needs to know about its call.
#[derive(Clone, Debug)]
pub struct StreamRequest {
    /// The `<Stream url>`.
    pub url: String,
    /// The `<Parameter>`s.
    pub parameters: Vec<(String, String)>,
    /// The account.
    pub account_sid: String,
    /// The call.
    pub call_sid: String,
    /// Whether a machine answered.
    pub machine: bool,
    /// The conversation's planned length, simulated seconds.
    pub talk_secs: f64,
    /// The disposition the simulated callee is heading for.
    pub disposition: Disposition,
    /// A seed for the call's simulated audio.
    pub seed: u64,
    /// Notified when the carrier ends the call (hangup requested).
    pub hangup: Arc<Notify>,
}

/// The carrier's settings.
#[derive(Clone)]
pub struct CarrierConfig {
    /// The account SID clients must use.
    pub account_sid: String,
    /// The Auth Token: REST password and webhook signing key.
    pub auth_token: String,
    /// The seed of every random choice.
    pub seed: u64,
    /// How calls turn out.
    pub profile: CallProfile,
    /// Faults to inject.
    pub faults: Faults,
    /// Windows in which the carrier refuses calls.
    pub outages: Vec<Outage>,
    /// voxdial's API base URL: the simulated callee reports the
    /// conversation's disposition there when no media stream runs.
    pub disposition_api: Option<String>,
    /// The API key sent with dispositions (`Authorization: Bearer`).
    pub disposition_key: Option<String>,
    /// Runs media sessions for `<Connect><Stream>`; without it a stream is
    /// simulated as silence of the conversation's length.
    pub stream_hook: Option<StreamHook>,
    /// Price per minute in micro-dollars by calling-code prefix of `To`.
    pub rates: Vec<(String, i64)>,
}

impl CarrierConfig {
    /// A carrier with the default profile, no faults and demo rates.
    pub fn new(account_sid: impl Into<String>, auth_token: impl Into<String>, seed: u64) -> Self {
        CarrierConfig {
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            seed,
            profile: CallProfile::default(),
            faults: Faults::none(),
            outages: Vec::new(),
            disposition_api: None,
            disposition_key: None,
            stream_hook: None,
            rates: vec![
                ("+1".into(), 14_000),
                ("+91".into(), 43_500),
                ("+44".into(), 15_800),
            ],
        }
    }
}

/// What the carrier saw.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CarrierStats {
    /// Calls created.
    pub calls_created: u64,
    /// Create requests refused with 429.
    pub rate_limited: u64,
    /// Create requests refused with 5xx.
    pub server_errors: u64,
    /// Create requests refused during an outage.
    pub outage_refusals: u64,
    /// Create requests refused as invalid (bad auth, bad number, bad form).
    pub invalid_requests: u64,
    /// The most simultaneous calls of each campaign.
    pub max_concurrent_by_campaign: BTreeMap<String, u32>,
    /// For each campaign, when (milliseconds of real time after the last
    /// `POST /sim/mark`, or after its first call) its simultaneous
    /// calls first reached each count: how soon a campaign got back to its
    /// cap, seen by the carrier rather than by sampling.
    pub reached_since_mark: BTreeMap<String, BTreeMap<u32, u64>>,
    /// The most times one attempt (`call_id`) was dialled.
    pub max_dials_per_attempt: u32,
    /// Attempts dialled more than once.
    pub attempts_dialled_twice: u64,
    /// Callbacks sent (duplicates included).
    pub callbacks_sent: u64,
    /// Extra deliveries of a callback.
    pub callbacks_duplicated: u64,
    /// Callbacks held back so that a later one overtook them.
    pub callbacks_reordered: u64,
    /// Callbacks delayed.
    pub callbacks_delayed: u64,
    /// Callbacks never delivered.
    pub callbacks_dropped: u64,
    /// Callbacks answered with a non-2xx status or not delivered.
    pub callback_failures: u64,
    /// Answer webhooks fetched.
    pub answer_requests: u64,
    /// Calls ended by a REST hangup.
    pub hangups: u64,
    /// Live calls given new TwiML (voicemail, transfer).
    pub redirects: u64,
    /// Transfers (`<Dial>`) followed.
    pub transfers: u64,
    /// Participants dialled into conferences (warm transfers).
    pub conference_participants: u64,
    /// Agent legs of warm transfers created (calls whose status URL says
    /// `leg=agent`); they count neither as campaign calls nor as attempts.
    pub agent_legs: u64,
    /// Calls by final status.
    pub outcomes: BTreeMap<String, u64>,
    /// Sum of call prices, micro-dollars.
    pub total_price_micros: i64,
    /// The part of it billed for warm transfers' agent legs.
    pub agent_leg_price_micros: i64,
    /// Calls live now.
    pub live_calls: u64,
    /// Figures per provider personality (`twilio`, `sanspbx`).
    pub by_provider: BTreeMap<String, PersonalityStats>,
    /// Recordings made.
    pub recordings_created: u64,
    /// Recording downloads served (failed ones included).
    pub recording_downloads: u64,
    /// Recording downloads answered with an error (scripted failures).
    pub recording_download_failures: u64,
    /// Recordings deleted through the API.
    pub recordings_deleted: u64,
}

/// What one provider personality of the carrier saw.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PersonalityStats {
    /// Calls created through this personality's API.
    pub calls_created: u64,
    /// Create requests refused with 429.
    pub rate_limited: u64,
    /// Create requests refused with 5xx.
    pub server_errors: u64,
    /// Create requests refused during an outage.
    pub outage_refusals: u64,
    /// Create requests refused as invalid.
    pub invalid_requests: u64,
    /// Sum of call prices, micro-dollars.
    pub total_price_micros: i64,
    /// Calls by final status.
    pub outcomes: BTreeMap<String, u64>,
}

/// A scripted answer to the next create (dial) request, injected by tests
/// with [`Carrier::script_create_faults`]; scripted faults are used before
/// the random ones, one per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateFault {
    /// HTTP 429 (Twilio code 20429), with `Retry-After: 1`.
    RateLimited,
    /// HTTP 500.
    ServerError,
    /// HTTP 503, as during an outage.
    Unavailable,
    /// HTTP 400: the number is invalid (Twilio code 21211).
    InvalidNumber,
    /// HTTP 400: no permission to call the country (Twilio code 21215).
    GeoPermission,
    /// The call is created, but the answer comes only after this many real
    /// milliseconds (longer than a client's timeout: an ambiguous outcome).
    Stall {
        /// Real milliseconds before the response.
        millis: u64,
    },
}

/// Why a create request is refused before a call exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Outage,
    RateLimited,
    ServerError,
    Unavailable,
    InvalidNumber,
    GeoPermission,
}

/// What the admission step decided for a create request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Create the call and answer at once.
    Create,
    /// Create the call, answer after this many real milliseconds.
    CreateSlowly(u64),
    /// Refuse it.
    Refuse(Refusal),
}

/// The personality name of the Twilio API.
pub(crate) const TWILIO: &str = "twilio";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    Human,
    Machine,
    Busy,
    NoAnswer,
    Failed { permanent: bool },
}

pub(crate) struct Plan {
    pub(crate) fate: Fate,
    pub(crate) ring_secs: f64,
    pub(crate) talk_secs: f64,
    pub(crate) greeting_secs: f64,
    pub(crate) amd_secs: f64,
    pub(crate) disposition: Disposition,
    pub(crate) seed: u64,
}

/// How playing a TwiML document ended.
enum Played {
    /// The call is over.
    Ended,
    /// New TwiML replaced it.
    Redirected,
}

struct CallRecord {
    resource: CallResource,
    /// TwiML sent by an update of the live call, not yet picked up.
    redirect: Option<twiml::Response>,
    /// Notified when `redirect` is set.
    redirected: Arc<Notify>,
    campaign: Option<String>,
    attempt: Option<String>,
    hangup: Arc<Notify>,
    /// Where to announce a recording started through the Calls Recordings
    /// API while the call was live.
    recording_callback: Option<String>,
}

/// What the carrier keeps of an ended call: enough to answer fetch and
/// list requests, about a tenth of a live record.
struct EndedCall {
    to: String,
    from: String,
    status: CallStatus,
    created: Timestamp,
    started: Option<Timestamp>,
    ended: Timestamp,
    duration: u32,
    price_micros: i64,
    answered_by: Option<AnsweredBy>,
}

impl EndedCall {
    fn resource(&self, sid: &str, account: &str) -> CallResource {
        CallResource {
            sid: sid.to_string(),
            account_sid: Some(account.to_string()),
            parent_call_sid: None,
            date_created: Some(self.created),
            date_updated: Some(self.ended),
            to: Some(self.to.clone()),
            to_formatted: Some(self.to.clone()),
            from: Some(self.from.clone()),
            from_formatted: Some(self.from.clone()),
            phone_number_sid: None,
            status: self.status.clone(),
            start_time: self.started,
            end_time: Some(self.ended),
            duration: Some(self.duration),
            price: Some(format!(
                "-{}.{:06}",
                self.price_micros / 1_000_000,
                self.price_micros % 1_000_000
            )),
            price_unit: Some("USD".into()),
            direction: Some(forms::CallDirection::OutboundApi),
            answered_by: self.answered_by.clone(),
            api_version: Some("2010-04-01".into()),
            forwarded_from: None,
            group_sid: None,
            caller_name: None,
            queue_time: Some(0),
            stir_verstat: None,
            trunk_sid: None,
            uri: Some(format!("/2010-04-01/Accounts/{account}/Calls/{sid}.json")),
            subresource_uris: None,
        }
    }
}

#[derive(Default)]
struct Ledger {
    /// When `reached_since_mark` started counting (`None`: at the first call).
    mark: Option<std::time::Instant>,
    /// Live calls.
    calls: HashMap<String, CallRecord>,
    /// Ended calls, compacted: a campaign of 100,000 calls must not keep
    /// 100,000 full records.
    ended: HashMap<String, EndedCall>,
    by_number: HashMap<String, u32>,
    active: HashMap<String, u32>,
    dials: HashMap<String, u32>,
    stats: CarrierStats,
    /// Recordings by `RecordingSid`: the WAV.
    recordings: HashMap<String, SimRecording>,
    /// Downloads to refuse with 503 before serving again.
    failing_downloads: u32,
    /// Live calls that are warm transfers' agent legs.
    agent_legs: std::collections::HashSet<String>,
    /// Whether agent legs go unanswered (see [`Carrier::agents_answer`]).
    agents_away: bool,
    /// What each call heard said (`<Say>`) before it joined a conference.
    whispers: Vec<Whisper>,
}

/// Words a call heard before it joined a conference: a warm transfer's
/// whisper to the human agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Whisper {
    /// The number the call was placed to.
    pub to: String,
    /// The conference it joined.
    pub conference: String,
    /// What was said, in order.
    pub said: Vec<String>,
}

struct Inner {
    config: CarrierConfig,
    time: SimTime,
    http: reqwest::Client,
    state: Mutex<Ledger>,
    faults_rng: Mutex<ChaCha8Rng>,
    next_sid: std::sync::atomic::AtomicU64,
    /// Scripted create faults per personality, used before random ones.
    scripted: Mutex<HashMap<String, VecDeque<CreateFault>>>,
    /// The base URL the API is served at (set by [`Carrier::serve`]), for
    /// the `RecordingUrl`s it announces.
    base_url: std::sync::OnceLock<String>,
}

/// The simulated carrier. Cheap to clone.
#[derive(Clone)]
pub struct Carrier {
    inner: Arc<Inner>,
}

pub(crate) fn mix(mut x: u64) -> u64 {
    // splitmix64
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn hash_str(seed: u64, text: &str) -> u64 {
    text.bytes().fold(mix(seed), |h, b| mix(h ^ u64::from(b)))
}

pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| v.to_string())
    })
}

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = TwilioErrorBody {
        code: Some(code),
        message: Some(message.into()),
        more_info: Some(format!("https://www.twilio.com/docs/errors/{code}")),
        status: Some(status.as_u16()),
    };
    (status, axum::Json(body)).into_response()
}

impl Carrier {
    /// A carrier running on simulated time `time`.
    pub fn new(config: CarrierConfig, time: SimTime) -> Carrier {
        let faults_rng = ChaCha8Rng::seed_from_u64(mix(config.seed ^ 0xFA17));
        Carrier {
            inner: Arc::new(Inner {
                config,
                time,
                http: reqwest::Client::builder()
                    .pool_max_idle_per_host(64)
                    .build()
                    .expect("a plain HTTP client builds"),
                state: Mutex::new(Ledger::default()),
                faults_rng: Mutex::new(faults_rng),
                next_sid: std::sync::atomic::AtomicU64::new(1),
                scripted: Mutex::new(HashMap::new()),
                base_url: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The REST API as an axum router, plus `GET /sim/stats` (the figures
    /// of [`Carrier::stats`] as JSON) and `POST /sim/mark` ([`Carrier::mark`]).
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/sim/stats",
                get(|State(carrier): State<Carrier>| async move { axum::Json(carrier.stats()) }),
            )
            .route(
                "/sim/mark",
                post(|State(carrier): State<Carrier>| async move { carrier.mark() }),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Calls.json",
                post(create_call).get(list_calls),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Calls/{sid}",
                get(fetch_call).post(update_call),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Conferences/{name}/Participants.json",
                post(add_participant),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Calls/{sid}/Recordings.json",
                post(start_recording),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Calls/{sid}/Recordings/{rec}",
                post(update_recording),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Recordings/{rec}",
                get(download_recording).delete(delete_recording),
            )
            .with_state(self.clone())
    }

    /// Serves the API on `listener` until the returned task is aborted.
    pub fn serve(&self, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
        if let Ok(addr) = listener.local_addr() {
            let _ = self.inner.base_url.set(format!("http://{addr}"));
        }
        let router = self.router();
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                warn!(%error, "simulated carrier stopped");
            }
        })
    }

    /// Starts `reached_since_mark` again from now (a test marks the moment
    /// it restarts the server under test).
    pub fn mark(&self) {
        let mut state = self.inner.state.lock().expect("carrier state lock");
        state.mark = Some(std::time::Instant::now());
        state.stats.reached_since_mark.clear();
    }

    /// What the carrier saw so far.
    pub fn stats(&self) -> CarrierStats {
        let state = self.inner.state.lock().expect("carrier state lock");
        let mut stats = state.stats.clone();
        stats.live_calls = state.active.values().map(|&n| u64::from(n)).sum();
        stats
    }

    fn authorised(&self, account: &str, headers: &HeaderMap) -> bool {
        let config = &self.inner.config;
        let expected = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", config.account_sid, config.auth_token));
        account == config.account_sid
            && headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Basic "))
                .is_some_and(|v| v.trim() == expected)
    }

    /// Whether warm transfers' agent legs answer (the default) or ring out
    /// unanswered.
    pub fn agents_answer(&self, answer: bool) {
        self.inner
            .state
            .lock()
            .expect("carrier state lock")
            .agents_away = !answer;
    }

    /// What calls heard said before they joined a conference, in the
    /// order they joined.
    pub fn whispers(&self) -> Vec<Whisper> {
        self.inner
            .state
            .lock()
            .expect("carrier state lock")
            .whispers
            .clone()
    }

    /// Makes the next `n` recording downloads fail with HTTP 503.
    pub fn script_recording_failures(&self, n: u32) {
        self.inner
            .state
            .lock()
            .expect("carrier state lock")
            .failing_downloads = n;
    }

    /// The recordings the carrier still holds (not deleted).
    pub fn recordings_held(&self) -> usize {
        self.inner
            .state
            .lock()
            .expect("carrier state lock")
            .recordings
            .len()
    }

    /// Makes the next create requests of the Twilio API fail (or stall) as
    /// listed, one fault per request, before any random fault is drawn.
    pub fn script_create_faults(&self, faults: impl IntoIterator<Item = CreateFault>) {
        self.script(TWILIO, faults);
    }

    pub(crate) fn script(&self, personality: &str, faults: impl IntoIterator<Item = CreateFault>) {
        self.inner
            .scripted
            .lock()
            .expect("script lock")
            .entry(personality.to_string())
            .or_default()
            .extend(faults);
    }

    /// Decides a create request's fate before any call exists: an outage,
    /// a scripted fault, then the random rate-limit and server-error
    /// faults. Counts refusals for `personality`.
    pub(crate) fn admit_create(&self, personality: &str, outages: &[Outage]) -> Admission {
        let now = self.inner.time.now();
        if outages.iter().any(|o| o.from <= now && now < o.until) {
            self.count_for(personality, |s, p| {
                s.outage_refusals += 1;
                p.outage_refusals += 1;
            });
            return Admission::Refuse(Refusal::Outage);
        }
        let scripted = self
            .inner
            .scripted
            .lock()
            .expect("script lock")
            .get_mut(personality)
            .and_then(VecDeque::pop_front);
        let refusal = match scripted {
            Some(CreateFault::Stall { millis }) => return Admission::CreateSlowly(millis),
            Some(CreateFault::RateLimited) => Some(Refusal::RateLimited),
            Some(CreateFault::ServerError) => Some(Refusal::ServerError),
            Some(CreateFault::Unavailable) => Some(Refusal::Unavailable),
            Some(CreateFault::InvalidNumber) => Some(Refusal::InvalidNumber),
            Some(CreateFault::GeoPermission) => Some(Refusal::GeoPermission),
            None if self.fault(self.inner.config.faults.rate_limit) => Some(Refusal::RateLimited),
            None if self.fault(self.inner.config.faults.server_error) => Some(Refusal::ServerError),
            None => None,
        };
        match refusal {
            None => Admission::Create,
            Some(refusal) => {
                self.count_for(personality, |s, p| match refusal {
                    Refusal::RateLimited => {
                        s.rate_limited += 1;
                        p.rate_limited += 1;
                    }
                    Refusal::ServerError | Refusal::Unavailable => {
                        s.server_errors += 1;
                        p.server_errors += 1;
                    }
                    Refusal::InvalidNumber | Refusal::GeoPermission => {
                        s.invalid_requests += 1;
                        p.invalid_requests += 1;
                    }
                    Refusal::Outage => {}
                });
                Admission::Refuse(refusal)
            }
        }
    }

    /// Updates the carrier's figures and those of `personality` together.
    pub(crate) fn count_for(
        &self,
        personality: &str,
        update: impl FnOnce(&mut CarrierStats, &mut PersonalityStats),
    ) {
        let mut state = self.inner.state.lock().expect("carrier state lock");
        let mut mine = state
            .stats
            .by_provider
            .remove(personality)
            .unwrap_or_default();
        update(&mut state.stats, &mut mine);
        state
            .stats
            .by_provider
            .insert(personality.to_string(), mine);
    }

    /// Records a created call in the ledger: counts it for `personality`,
    /// its campaign's simultaneous calls and its attempt's dials. Returns
    /// the notifier a hangup request wakes.
    pub(crate) fn register_call(
        &self,
        personality: &str,
        resource: CallResource,
        campaign: Option<String>,
        attempt: Option<String>,
    ) -> Arc<Notify> {
        let hangup = Arc::new(Notify::new());
        let mut state = self.inner.state.lock().expect("carrier state lock");
        state.stats.calls_created += 1;
        state
            .stats
            .by_provider
            .entry(personality.to_string())
            .or_default()
            .calls_created += 1;
        if let Some(attempt) = &attempt {
            let dials = state.dials.entry(attempt.clone()).or_insert(0);
            *dials += 1;
            let dials = *dials;
            if dials == 2 {
                state.stats.attempts_dialled_twice += 1;
            }
            state.stats.max_dials_per_attempt = state.stats.max_dials_per_attempt.max(dials);
        }
        if let Some(campaign) = &campaign {
            let active = state.active.entry(campaign.clone()).or_insert(0);
            *active += 1;
            let active = *active;
            let max = state
                .stats
                .max_concurrent_by_campaign
                .entry(campaign.clone())
                .or_insert(0);
            *max = (*max).max(active);
            let since = state
                .mark
                .get_or_insert_with(std::time::Instant::now)
                .elapsed();
            state
                .stats
                .reached_since_mark
                .entry(campaign.clone())
                .or_default()
                .entry(active)
                .or_insert(u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
        }
        state.calls.insert(
            resource.sid.clone(),
            CallRecord {
                resource,
                redirect: None,
                redirected: Arc::new(Notify::new()),
                campaign,
                attempt,
                hangup: hangup.clone(),
                recording_callback: None,
            },
        );
        hangup
    }

    /// Ends a call in the ledger: status, end time, duration, price; frees
    /// its campaign's count. False (and nothing changes) if it had ended.
    pub(crate) fn settle(
        &self,
        personality: &str,
        sid: &str,
        status: CallStatus,
        duration: u32,
        price: i64,
    ) -> bool {
        let now = self.inner.time.now();
        let mut state = self.inner.state.lock().expect("carrier state lock");
        let Some(record) = state.calls.remove(sid) else {
            return false;
        };
        let agent_leg = state.agent_legs.remove(sid);
        let resource = record.resource;
        state.ended.insert(
            sid.to_string(),
            EndedCall {
                to: resource.to.unwrap_or_default(),
                from: resource.from.unwrap_or_default(),
                status: status.clone(),
                created: resource.date_created.unwrap_or(now),
                started: resource.start_time,
                ended: now,
                duration,
                price_micros: price,
                answered_by: resource.answered_by,
            },
        );
        let campaign = record.campaign.clone();
        if let Some(campaign) = campaign
            && let Some(active) = state.active.get_mut(&campaign)
        {
            *active = active.saturating_sub(1);
        }
        state.stats.total_price_micros += price;
        *state
            .stats
            .outcomes
            .entry(status.as_str().to_string())
            .or_insert(0) += 1;
        if agent_leg {
            // Billed to the account, but no campaign call: kept apart from
            // the provider's figures, which voxdial's own costs match.
            state.stats.agent_leg_price_micros += price;
            return true;
        }
        let mine = state
            .stats
            .by_provider
            .entry(personality.to_string())
            .or_default();
        mine.total_price_micros += price;
        *mine
            .outcomes
            .entry(status.as_str().to_string())
            .or_insert(0) += 1;
        true
    }

    /// A copy of a call's record as the REST API shows it.
    pub(crate) fn resource(&self, sid: &str) -> Option<CallResource> {
        let state = self.inner.state.lock().expect("carrier state lock");
        match state.calls.get(sid) {
            Some(record) => Some(record.resource.clone()),
            None => state
                .ended
                .get(sid)
                .map(|e| e.resource(sid, &self.inner.config.account_sid)),
        }
    }

    /// Asks a live call to end. `None` if there is no such call, `Some(false)`
    /// if it had already ended.
    pub(crate) fn request_hangup(&self, sid: &str) -> Option<bool> {
        let mut state = self.inner.state.lock().expect("carrier state lock");
        if state.ended.contains_key(sid) {
            return Some(false);
        }
        let record = state.calls.get_mut(sid)?;
        record.hangup.notify_one();
        state.stats.hangups += 1;
        Some(true)
    }

    /// A fresh number for a call id.
    pub(crate) fn next_call_number(&self) -> u64 {
        self.inner
            .next_sid
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    }

    /// The seed of every random choice.
    pub(crate) fn seed(&self) -> u64 {
        self.inner.config.seed
    }

    /// Simulated time.
    pub(crate) fn time(&self) -> &SimTime {
        &self.inner.time
    }

    /// The HTTP client callbacks are sent with.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    fn fault(&self, probability: f64) -> bool {
        probability > 0.0
            && self
                .inner
                .faults_rng
                .lock()
                .expect("rng lock")
                .random::<f64>()
                < probability
    }

    fn count(&self, update: impl FnOnce(&mut CarrierStats)) {
        update(&mut self.inner.state.lock().expect("carrier state lock").stats);
    }

    /// An agent leg's plan: it answers at once and stays until the
    /// conference ends, unless agents were made to not answer.
    fn agent_leg_plan(&self, sid: &str) -> Plan {
        let mut state = self.inner.state.lock().expect("carrier state lock");
        state.stats.agent_legs += 1;
        state.agent_legs.insert(sid.to_string());
        Plan {
            fate: if state.agents_away {
                Fate::NoAnswer
            } else {
                Fate::Human
            },
            ring_secs: 2.0,
            talk_secs: 600.0,
            greeting_secs: 0.0,
            amd_secs: 0.0,
            disposition: Disposition::Transferred,
            seed: mix(sid.len() as u64),
        }
    }

    pub(crate) fn plan(&self, to: &str) -> Plan {
        let profile = &self.inner.config.profile;
        let ordinal = {
            let mut state = self.inner.state.lock().expect("carrier state lock");
            let n = state.by_number.entry(to.to_string()).or_insert(0);
            *n += 1;
            *n
        };
        let seed = hash_str(self.inner.config.seed, &format!("{to}#{ordinal}"));
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let roll: f64 = rng.random();
        let fate = if roll < profile.human {
            Fate::Human
        } else if roll < profile.human + profile.machine {
            Fate::Machine
        } else if roll < profile.human + profile.machine + profile.busy {
            Fate::Busy
        } else if roll < profile.human + profile.machine + profile.busy + profile.failed {
            Fate::Failed {
                permanent: rng.random::<f64>() < profile.failed_permanent,
            }
        } else {
            Fate::NoAnswer
        };
        let uniform =
            |rng: &mut ChaCha8Rng, (lo, hi): (f64, f64)| lo + (hi - lo) * rng.random::<f64>();
        let total: f64 = profile.dispositions.iter().map(|(_, w)| w).sum();
        let mut pick = rng.random::<f64>() * total;
        let disposition = profile
            .dispositions
            .iter()
            .find(|(_, w)| {
                pick -= w;
                pick <= 0.0
            })
            .map_or(Disposition::NotInterested, |(d, _)| *d);
        Plan {
            fate,
            ring_secs: uniform(&mut rng, profile.ring_secs),
            talk_secs: uniform(&mut rng, profile.talk_secs),
            greeting_secs: uniform(&mut rng, profile.greeting_secs),
            amd_secs: uniform(&mut rng, (1.5, 3.5)),
            disposition,
            seed: rng.next_u64(),
        }
    }

    fn price(&self, to: &str, duration_secs: u32) -> i64 {
        price_with(&self.inner.config.rates, to, duration_secs)
    }
}

/// The price of a call of `duration_secs` to `to` on a per-minute rate table
/// keyed by `+`-prefix (longest match; 0.01 USD a minute when none matches).
pub(crate) fn price_with(rates: &[(String, i64)], to: &str, duration_secs: u32) -> i64 {
    {
        let rate = rates
            .iter()
            .filter(|(prefix, _)| to.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map_or(10_000, |(_, rate)| *rate);
        i64::from(duration_secs.div_ceil(60)) * rate
    }
}

async fn create_call(
    State(carrier): State<Carrier>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !carrier.authorised(&account, &headers) {
        carrier.count(|s| s.invalid_requests += 1);
        return unauthorised();
    }
    let params = match CreateCallParams::from_form(&body) {
        Ok(params) => params,
        Err(error) => {
            carrier.count(|s| s.invalid_requests += 1);
            return twilio_error(StatusCode::BAD_REQUEST, 21205, &error.to_string());
        }
    };
    if let Err(error) = params.check() {
        carrier.count(|s| s.invalid_requests += 1);
        return twilio_error(StatusCode::BAD_REQUEST, 21205, &error.to_string());
    }
    let to_ok = params
        .to
        .strip_prefix('+')
        .is_some_and(|d| !d.is_empty() && d.len() <= 15 && d.bytes().all(|b| b.is_ascii_digit()));
    if !to_ok {
        carrier.count_for(TWILIO, |s, p| {
            s.invalid_requests += 1;
            p.invalid_requests += 1;
        });
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21211,
            "The 'To' number is not a valid phone number.",
        );
    }
    let now = carrier.inner.time.now();
    let stall = match carrier.admit_create(TWILIO, &carrier.inner.config.outages) {
        Admission::Create => None,
        Admission::CreateSlowly(millis) => Some(millis),
        Admission::Refuse(refusal) => return twilio_refusal(refusal),
    };

    let n = carrier.next_call_number();
    let sid = format!("CA{:016x}{:016x}", mix(carrier.inner.config.seed), mix(n));
    let status_url = params.status_callback.clone().unwrap_or_default();
    // An agent leg of a warm transfer belongs to the transferred attempt,
    // but is neither a campaign call nor a dial of that attempt.
    let agent_leg = query_param(&status_url, "leg").as_deref() == Some("agent");
    let campaign = query_param(&status_url, "campaign_id").filter(|_| !agent_leg);
    let attempt = query_param(&status_url, "call_id").filter(|_| !agent_leg);
    let resource = CallResource {
        sid: sid.clone(),
        account_sid: Some(account.clone()),
        parent_call_sid: None,
        date_created: Some(now),
        date_updated: Some(now),
        to: Some(params.to.clone()),
        to_formatted: Some(params.to.clone()),
        from: Some(params.from.clone()),
        from_formatted: Some(params.from.clone()),
        phone_number_sid: None,
        status: CallStatus::Queued,
        start_time: None,
        end_time: None,
        duration: None,
        price: None,
        price_unit: Some("USD".into()),
        direction: Some(forms::CallDirection::OutboundApi),
        answered_by: None,
        api_version: Some("2010-04-01".into()),
        forwarded_from: None,
        group_sid: None,
        caller_name: None,
        queue_time: Some(0),
        stir_verstat: None,
        trunk_sid: None,
        uri: Some(format!("/2010-04-01/Accounts/{account}/Calls/{sid}.json")),
        subresource_uris: None,
    };
    let hangup = carrier.register_call(TWILIO, resource.clone(), campaign, attempt);
    let plan = if agent_leg {
        carrier.agent_leg_plan(&sid)
    } else {
        carrier.plan(&params.to)
    };
    let runner = carrier.clone();
    tokio::spawn(async move { runner.run_call(sid, params, plan, hangup).await });
    if let Some(millis) = stall {
        tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
    }
    (StatusCode::CREATED, axum::Json(resource)).into_response()
}

/// Twilio's answer to a refused create request.
fn twilio_refusal(refusal: Refusal) -> Response {
    match refusal {
        Refusal::Outage | Refusal::Unavailable => twilio_error(
            StatusCode::SERVICE_UNAVAILABLE,
            20503,
            "Service Unavailable",
        ),
        Refusal::RateLimited => {
            let mut response =
                twilio_error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            response
        }
        Refusal::ServerError => twilio_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            20500,
            "Internal Server Error",
        ),
        Refusal::InvalidNumber => twilio_error(
            StatusCode::BAD_REQUEST,
            21211,
            "The 'To' number is not a valid phone number.",
        ),
        Refusal::GeoPermission => twilio_error(
            StatusCode::BAD_REQUEST,
            21215,
            "Account not authorized to call this number: geo permissions.",
        ),
    }
}

/// Twilio's answer to wrong credentials.
fn unauthorised() -> Response {
    twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate")
}

/// Twilio's answer for an unknown call or recording.
fn not_found() -> Response {
    twilio_error(
        StatusCode::NOT_FOUND,
        20404,
        "The requested resource was not found",
    )
}

async fn fetch_call(
    State(carrier): State<Carrier>,
    Path((account, sid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !carrier.authorised(&account, &headers) {
        return unauthorised();
    }
    let sid = sid.trim_end_matches(".json");
    match carrier.resource(sid) {
        Some(resource) => axum::Json(resource).into_response(),
        None => not_found(),
    }
}

async fn update_call(
    State(carrier): State<Carrier>,
    Path((account, sid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !carrier.authorised(&account, &headers) {
        return unauthorised();
    }
    let sid = sid.trim_end_matches(".json").to_string();
    let Ok(params) = UpdateCallParams::from_form(&body) else {
        return twilio_error(StatusCode::BAD_REQUEST, 21205, "invalid parameters");
    };
    let mut state = carrier.inner.state.lock().expect("carrier state lock");
    if state.ended.contains_key(&sid) {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21220,
            "Call is not in-progress. Cannot redirect.",
        );
    }
    let Some(record) = state.calls.get_mut(&sid) else {
        return not_found();
    };
    let answered = record.resource.status == CallStatus::InProgress;
    match params.status {
        Some(UpdateCallStatus::Completed) if !answered => {
            return twilio_error(StatusCode::BAD_REQUEST, 21220, "Call is not in-progress.");
        }
        Some(_) => {
            record.hangup.notify_one();
            state.stats.hangups += 1;
        }
        None => {
            let Some(xml) = &params.twiml else {
                return twilio_error(
                    StatusCode::BAD_REQUEST,
                    21205,
                    "Twiml, Url or Status is required",
                );
            };
            let Ok(document) = twiml::Response::parse(xml) else {
                return twilio_error(StatusCode::BAD_REQUEST, 12100, "Document parse failure");
            };
            record.redirect = Some(document);
            record.redirected.notify_one();
            state.stats.redirects += 1;
        }
    }
    let resource = state.calls[&sid].resource.clone();
    axum::Json(resource).into_response()
}

/// `POST .../Conferences/{name}/Participants.json`: dials a participant
/// (the human agent of a warm transfer) into a conference. The simulated
/// agent always answers; the callee's leg, already redirected into the
/// room, carries the rest of the call.
async fn add_participant(
    State(carrier): State<Carrier>,
    Path((account, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !carrier.authorised(&account, &headers) {
        return unauthorised();
    }
    let Ok(params) = CreateParticipantParams::from_form(&body) else {
        return twilio_error(StatusCode::BAD_REQUEST, 21205, "invalid parameters");
    };
    if params.to.is_empty() || params.from.is_empty() {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' and a 'From' are required",
        );
    }
    let n = {
        let mut state = carrier.inner.state.lock().expect("carrier state lock");
        state.stats.conference_participants += 1;
        state.stats.conference_participants
    };
    let seed = mix(carrier.inner.config.seed);
    let body = serde_json::json!({
        "account_sid": account,
        "call_sid": format!("CA{:016x}{:016x}", seed, mix(n ^ 0x5eed)),
        "conference_sid": format!("CF{:016x}{:016x}", seed, mix(name.len() as u64 ^ n)),
        "label": params.label,
        "status": "queued",
        "hold": false,
        "muted": false,
        "coaching": params.coaching.unwrap_or(false),
        "start_conference_on_enter": params.start_conference_on_enter.unwrap_or(true),
        "end_conference_on_exit": params.end_conference_on_exit.unwrap_or(false),
    });
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

async fn list_calls(
    State(carrier): State<Carrier>,
    Path(account): Path<String>,
    headers: HeaderMap,
    Query(raw): Query<Vec<(String, String)>>,
) -> Response {
    if !carrier.authorised(&account, &headers) {
        return unauthorised();
    }
    let query = ListCallsQuery::from_pairs(&raw).unwrap_or_default();
    let state = carrier.inner.state.lock().expect("carrier state lock");
    let account = &carrier.inner.config.account_sid;
    let mut calls: Vec<CallResource> = state
        .calls
        .values()
        .map(|r| r.resource.clone())
        .chain(state.ended.iter().map(|(sid, e)| e.resource(sid, account)))
        .filter(|c| query.to.as_ref().is_none_or(|to| c.to.as_ref() == Some(to)))
        .filter(|c| {
            query
                .start_time_after
                .is_none_or(|after| c.date_created.is_some_and(|d| d >= after))
        })
        .collect();
    // Newest first, as Twilio lists them.
    calls.sort_by_key(|c| std::cmp::Reverse(c.date_created));
    calls.truncate(query.page_size.unwrap_or(50) as usize);
    axum::Json(CallsPage {
        calls,
        next_page_uri: None,
        previous_page_uri: None,
        first_page_uri: None,
        uri: None,
        page: Some(0),
        page_size: query.page_size.map(u64::from),
        start: Some(0),
        end: None,
    })
    .into_response()
}

impl Carrier {
    async fn run_call(
        self,
        sid: String,
        params: CreateCallParams,
        plan: Plan,
        hangup: Arc<Notify>,
    ) {
        let time = self.inner.time.clone();
        let events = &params.status_callback_event;
        let subscribed = |e: StatusCallbackEvent| events.contains(&e);
        let mut seq = 0u64;
        time.sleep(0.3).await;
        if let Fate::Failed { permanent } = plan.fate {
            let sip = if permanent { 404 } else { 503 };
            return self
                .end(&sid, &params, CallStatus::Failed, 0, Some(sip), &mut seq)
                .await;
        }
        self.set_status(&sid, CallStatus::Initiated);
        if subscribed(StatusCallbackEvent::Initiated) {
            self.status_callback(&sid, &params, CallStatus::Initiated, &mut seq, |_| {});
        }
        time.sleep(1.0).await;
        self.set_status(&sid, CallStatus::Ringing);
        if subscribed(StatusCallbackEvent::Ringing) {
            self.status_callback(&sid, &params, CallStatus::Ringing, &mut seq, |_| {});
        }
        let ring_limit = f64::from(params.timeout.unwrap_or(60));
        let ring = match plan.fate {
            Fate::Busy => plan.ring_secs.min(3.0),
            Fate::NoAnswer => ring_limit,
            _ => plan.ring_secs.min(ring_limit),
        };
        let hung_up = tokio::select! {
            _ = time.sleep(ring) => false,
            _ = hangup.notified() => true,
        };
        if hung_up {
            return self
                .end(&sid, &params, CallStatus::Canceled, 0, Some(487), &mut seq)
                .await;
        }
        match plan.fate {
            Fate::Busy => {
                return self
                    .end(&sid, &params, CallStatus::Busy, 0, Some(486), &mut seq)
                    .await;
            }
            Fate::NoAnswer => {
                return self
                    .end(&sid, &params, CallStatus::NoAnswer, 0, Some(480), &mut seq)
                    .await;
            }
            _ => {}
        }
        self.answer(&sid, &params, plan, hangup, &mut seq).await;
    }

    async fn answer(
        &self,
        sid: &str,
        params: &CreateCallParams,
        plan: Plan,
        hangup: Arc<Notify>,
        seq: &mut u64,
    ) {
        let time = self.inner.time.clone();
        let machine = plan.fate == Fate::Machine;
        let verdict = if machine {
            if params.machine_detection == Some(MachineDetection::DetectMessageEnd) {
                AnsweredBy::MachineEndBeep
            } else {
                AnsweredBy::MachineStart
            }
        } else {
            AnsweredBy::Human
        };
        let amd_on = params.machine_detection.is_some();
        let async_amd = amd_on && params.async_amd == Some(true);
        let sync_verdict = (amd_on && !async_amd).then(|| verdict.clone());
        let answered_at = time.now();
        {
            let mut state = self.inner.state.lock().expect("carrier state lock");
            if let Some(record) = state.calls.get_mut(sid) {
                record.resource.status = CallStatus::InProgress;
                record.resource.start_time = Some(answered_at);
                record.resource.answered_by = sync_verdict.clone();
            }
        }
        if params
            .status_callback_event
            .contains(&StatusCallbackEvent::Answered)
        {
            let verdict = sync_verdict.clone();
            self.status_callback(sid, params, CallStatus::InProgress, seq, move |form| {
                form.answered_by = verdict
            });
        }
        if async_amd && let Some(url) = params.async_amd_status_callback.clone() {
            let carrier = self.clone();
            let (sid, verdict, secs) = (sid.to_string(), verdict.clone(), plan.amd_secs);
            tokio::spawn(async move {
                carrier.inner.time.sleep(secs).await;
                let form = forms::AmdCallback {
                    account_sid: carrier.inner.config.account_sid.clone(),
                    call_sid: sid,
                    answered_by: verdict,
                    machine_detection_duration: Some((secs * 1000.0) as u32),
                };
                carrier.deliver(url, form.to_pairs());
            });
        }
        let twiml = match &params.twiml {
            Some(xml) => twiml::Response::parse(xml).ok(),
            None => self.fetch_twiml(sid, params, sync_verdict).await,
        };
        self.follow_twiml(sid, twiml, &plan, hangup.clone()).await;
        let duration = (time.now() - answered_at).num_seconds().max(0) as u32;
        let live_recording = {
            let state = self.inner.state.lock().expect("carrier state lock");
            state
                .calls
                .get(sid)
                .and_then(|r| r.recording_callback.clone())
        };
        self.end(
            sid,
            params,
            CallStatus::Completed,
            duration.max(1),
            Some(200),
            seq,
        )
        .await;
        let callback = if params.record == Some(true) {
            params.recording_status_callback.clone()
        } else {
            live_recording
        };
        if let Some(url) = callback {
            self.make_recording(sid, url, duration.max(1), plan.seed);
        }
    }

    /// Makes a call's recording and announces it. Only its length and seed
    /// are kept: the file is rendered when it is downloaded, so a campaign of
    /// 100,000 recorded calls holds no audio in memory.
    fn make_recording(&self, call_sid: &str, url: String, duration: u32, seed: u64) {
        let secs = duration.clamp(1, 3);
        let rec = format!(
            "RE{:016x}{:016x}",
            mix(seed ^ 0x5EC0),
            mix(self.next_call_number())
        );
        {
            let mut state = self.inner.state.lock().expect("carrier state lock");
            state
                .recordings
                .insert(rec.clone(), SimRecording { secs, seed });
            state.stats.recordings_created += 1;
        }
        let account = &self.inner.config.account_sid;
        let base = self
            .inner
            .base_url
            .get()
            .cloned()
            .unwrap_or_else(|| "https://api.twilio.com".into());
        let form = forms::RecordingStatusCallback {
            account_sid: account.clone(),
            call_sid: call_sid.to_string(),
            recording_sid: rec.clone(),
            recording_url: Some(format!(
                "{base}/2010-04-01/Accounts/{account}/Recordings/{rec}"
            )),
            recording_status: forms::RecordingStatus::Completed,
            recording_duration: Some(secs),
            recording_channels: Some(2),
            recording_start_time: Some(self.inner.time.now()),
            recording_source: Some("OutboundAPI".into()),
            recording_track: Some("both".into()),
            error_code: Some(0),
        };
        self.deliver(url, form.to_pairs());
    }

    async fn fetch_twiml(
        &self,
        sid: &str,
        params: &CreateCallParams,
        verdict: Option<AnsweredBy>,
    ) -> Option<twiml::Response> {
        let url = params.url.clone()?;
        self.count(|s| s.answer_requests += 1);
        let form = forms::AnswerRequest {
            account_sid: self.inner.config.account_sid.clone(),
            call_sid: sid.to_string(),
            parent_call_sid: None,
            from: Some(params.from.clone()),
            to: Some(params.to.clone()),
            caller: Some(params.from.clone()),
            called: Some(params.to.clone()),
            call_status: CallStatus::InProgress,
            direction: Some(forms::CallDirection::OutboundApi),
            api_version: Some("2010-04-01".into()),
            forwarded_from: None,
            caller_name: None,
            from_country: None,
            to_country: None,
            stir_verstat: None,
            answered_by: verdict,
            machine_detection_duration: None,
        };
        let response = self.signed_post(&url, &form.to_pairs()).await.ok()?;
        if !response.status().is_success() {
            warn!(status = %response.status(), "answer webhook refused");
            return None;
        }
        let body = response.text().await.ok()?;
        twiml::Response::parse(&body).ok()
    }

    /// Plays the TwiML out; returns once the call should end.
    /// Plays the TwiML out, following redirects (a TwiML update of the
    /// live call); returns once the call should end.
    async fn follow_twiml(
        &self,
        sid: &str,
        twiml: Option<twiml::Response>,
        plan: &Plan,
        hangup: Arc<Notify>,
    ) {
        let redirected = {
            let state = self.inner.state.lock().expect("carrier state lock");
            match state.calls.get(sid) {
                Some(record) => record.redirected.clone(),
                None => return,
            }
        };
        // A person hangs up when the conversation is over; a machine records
        // until its message ends, two minutes at most.
        let budget = if plan.fate == Fate::Machine {
            plan.greeting_secs + 120.0
        } else {
            plan.talk_secs
        };
        let mut elapsed = 0.0;
        let mut current = twiml;
        while let Some(twiml) = current.take() {
            match self
                .play(
                    sid,
                    &twiml,
                    plan,
                    &hangup,
                    &redirected,
                    budget,
                    &mut elapsed,
                )
                .await
            {
                Played::Ended => return,
                Played::Redirected => {
                    let mut state = self.inner.state.lock().expect("carrier state lock");
                    current = state.calls.get_mut(sid).and_then(|r| r.redirect.take());
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn play(
        &self,
        sid: &str,
        twiml: &twiml::Response,
        plan: &Plan,
        hangup: &Arc<Notify>,
        redirected: &Notify,
        budget: f64,
        elapsed: &mut f64,
    ) -> Played {
        let time = self.inner.time.clone();
        let human = plan.fate == Fate::Human;
        let mut said = Vec::new();
        for verb in &twiml.verbs {
            match verb {
                Verb::Say(say) => said.push(say.text.clone()),
                Verb::Dial(dial) => self.note_joined(sid, dial, std::mem::take(&mut said)),
                _ => {}
            }
            let step: f64 = match verb {
                Verb::Hangup | Verb::Reject(_) => return Played::Ended,
                Verb::Pause(pause) => f64::from(pause.length.unwrap_or(1)),
                Verb::Say(say) => say.text.split_whitespace().count() as f64 * 0.4,
                Verb::Play(_) => 8.0,
                // A transfer: the callee talks with the human agent (an
                // agent leg joining its conference is no new transfer).
                Verb::Dial(_) => {
                    if !self.is_agent_leg(sid) {
                        self.count(|s| s.transfers += 1);
                    }
                    budget.max(*elapsed + 30.0) - *elapsed
                }
                Verb::Connect(connect) => {
                    let Some(ConnectNoun::Stream(stream)) = connect.nouns.first() else {
                        return Played::Ended;
                    };
                    // New TwiML ends the stream (Twilio closes the socket) and
                    // the call goes on with it: a transfer, a voicemail.
                    tokio::select! {
                        () = self.stream(sid, stream, plan, hangup) => return Played::Ended,
                        () = redirected.notified() => return Played::Redirected,
                    }
                }
                _ => 1.0,
            };
            let left = budget - *elapsed;
            let last = left <= step;
            if last && human {
                self.report_disposition(sid, plan).await;
            }
            tokio::select! {
                _ = time.sleep(step.min(left.max(0.0))) => {}
                _ = hangup.notified() => return Played::Ended,
                _ = redirected.notified() => return Played::Redirected,
            }
            if last {
                return Played::Ended;
            }
            *elapsed += step;
        }
        Played::Ended
    }

    fn is_agent_leg(&self, sid: &str) -> bool {
        let state = self.inner.state.lock().expect("carrier state lock");
        state.agent_legs.contains(sid)
    }

    /// Keeps what a call heard before joining a conference.
    fn note_joined(&self, sid: &str, dial: &twiml::Dial, said: Vec<String>) {
        let Some(twiml::DialNoun::Conference(room)) = dial.nouns.first() else {
            return;
        };
        let mut state = self.inner.state.lock().expect("carrier state lock");
        let to = state
            .calls
            .get(sid)
            .and_then(|r| r.resource.to.clone())
            .unwrap_or_default();
        state.whispers.push(Whisper {
            to,
            conference: room.name.clone(),
            said,
        });
    }

    async fn stream(&self, sid: &str, stream: &twiml::Stream, plan: &Plan, hangup: &Arc<Notify>) {
        let machine = plan.fate == Fate::Machine;
        if let (Some(hook), Some(url)) = (&self.inner.config.stream_hook, &stream.url) {
            let request = StreamRequest {
                url: url.clone(),
                parameters: stream
                    .parameters
                    .iter()
                    .map(|p| (p.name.clone(), p.value.clone()))
                    .collect(),
                account_sid: self.inner.config.account_sid.clone(),
                call_sid: sid.to_string(),
                machine,
                talk_secs: plan.talk_secs,
                disposition: plan.disposition,
                seed: plan.seed,
                hangup: hangup.clone(),
            };
            hook(request).await;
            return;
        }
        // No media simulator: the conversation is silence of its length.
        let length = if machine {
            plan.greeting_secs + 10.0
        } else {
            plan.talk_secs
        };
        if !machine {
            self.report_disposition(sid, plan).await;
        }
        tokio::select! { _ = self.inner.time.sleep(length) => (), _ = hangup.notified() => () }
    }

    pub(crate) async fn report_disposition(&self, sid: &str, plan: &Plan) {
        let Some(api) = &self.inner.config.disposition_api else {
            return;
        };
        let attempt = {
            let state = self.inner.state.lock().expect("carrier state lock");
            state.calls.get(sid).and_then(|r| r.attempt.clone())
        };
        let Some(attempt) = attempt else { return };
        let url = format!(
            "{}/v1/calls/{attempt}/disposition",
            api.trim_end_matches('/')
        );
        let body = serde_json::json!({ "disposition": plan.disposition });
        let mut request = self.inner.http.post(url).json(&body);
        if let Some(key) = &self.inner.config.disposition_key {
            request = request.bearer_auth(key);
        }
        if let Err(error) = request.send().await {
            debug!(%error, "disposition report failed");
        }
    }

    pub(crate) fn set_status(&self, sid: &str, status: CallStatus) {
        let mut state = self.inner.state.lock().expect("carrier state lock");
        if let Some(record) = state.calls.get_mut(sid) {
            record.resource.status = status;
            record.resource.date_updated = Some(self.inner.time.now());
        }
    }

    /// Ends a call: updates the record, frees the campaign's count, and
    /// sends the `completed` callback (which carries every final status).
    async fn end(
        &self,
        sid: &str,
        params: &CreateCallParams,
        status: CallStatus,
        duration: u32,
        sip: Option<u16>,
        seq: &mut u64,
    ) {
        let price = self.price(&params.to, duration);
        if !self.settle(TWILIO, sid, status.clone(), duration, price) {
            return;
        }
        if params.status_callback.is_some() {
            self.status_callback(sid, params, status, seq, move |form| {
                form.call_duration = Some(duration);
                form.duration = Some(duration.div_ceil(60));
                form.sip_response_code = sip;
            });
        }
    }

    fn status_callback(
        &self,
        sid: &str,
        params: &CreateCallParams,
        status: CallStatus,
        seq: &mut u64,
        extra: impl FnOnce(&mut forms::StatusCallback),
    ) {
        let Some(url) = params.status_callback.clone() else {
            return;
        };
        let mut form = forms::StatusCallback {
            account_sid: self.inner.config.account_sid.clone(),
            call_sid: sid.to_string(),
            parent_call_sid: None,
            from: Some(params.from.clone()),
            to: Some(params.to.clone()),
            caller: Some(params.from.clone()),
            called: Some(params.to.clone()),
            direction: Some(forms::CallDirection::OutboundApi),
            api_version: Some("2010-04-01".into()),
            call_status: status,
            forwarded_from: None,
            caller_name: None,
            from_city: None,
            from_state: None,
            from_zip: None,
            from_country: None,
            to_city: None,
            to_state: None,
            to_zip: None,
            to_country: None,
            caller_city: None,
            caller_state: None,
            caller_zip: None,
            caller_country: None,
            called_city: None,
            called_state: None,
            called_zip: None,
            called_country: None,
            stir_verstat: None,
            call_duration: None,
            duration: None,
            sip_response_code: None,
            answered_by: None,
            machine_detection_duration: None,
            recording_url: None,
            recording_sid: None,
            recording_duration: None,
            timestamp: Some(self.inner.time.now()),
            callback_source: Some("call-progress-events".into()),
            sequence_number: Some(*seq),
        };
        *seq += 1;
        extra(&mut form);
        self.deliver(url, form.to_pairs());
    }

    /// Sends a callback in the background, with the configured faults.
    fn deliver(&self, url: String, pairs: Vec<(String, String)>) {
        self.deliver_with(move |carrier| {
            let (url, pairs) = (url.clone(), pairs.clone());
            async move {
                match carrier.signed_post(&url, &pairs).await {
                    Ok(response) => response.status().is_success(),
                    Err(_) => false,
                }
            }
        });
    }

    /// Sends a callback in the background with the configured faults
    /// (dropped, delayed, held back, duplicated): `send` posts one copy and
    /// says whether the receiver accepted it.
    pub(crate) fn deliver_with<F, Fut>(&self, send: F)
    where
        F: Fn(Carrier) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        let faults = self.inner.config.faults.clone();
        if self.fault(faults.drop) {
            self.count(|s| s.callbacks_dropped += 1);
            return;
        }
        let mut delay = 0.05;
        if self.fault(faults.delay) {
            delay += faults.max_delay_secs
                * self
                    .inner
                    .faults_rng
                    .lock()
                    .expect("rng lock")
                    .random::<f64>();
            self.count(|s| s.callbacks_delayed += 1);
        }
        if self.fault(faults.reorder) {
            // Held back past the next event (events are ≥ 1 s apart).
            delay += 1.5;
            self.count(|s| s.callbacks_reordered += 1);
        }
        let copies = if self.fault(faults.duplicate) {
            self.count(|s| s.callbacks_duplicated += 1);
            2
        } else {
            1
        };
        for copy in 0..copies {
            let carrier = self.clone();
            let send = send.clone();
            let wait = delay + f64::from(copy) * 0.2;
            tokio::spawn(async move {
                carrier.inner.time.sleep(wait).await;
                carrier.count(|s| s.callbacks_sent += 1);
                let ok = send(carrier.clone()).await;
                if !ok {
                    carrier.count(|s| s.callback_failures += 1);
                }
            });
        }
    }

    async fn signed_post(
        &self,
        url: &str,
        pairs: &[(String, String)],
    ) -> Result<reqwest::Response, reqwest::Error> {
        let signature = compute_signature(
            self.inner.config.auth_token.as_bytes(),
            SignatureAlgorithm::HmacSha1,
            url,
            pairs,
        );
        self.inner
            .http
            .post(url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(SIGNATURE_HEADER, signature)
            .body(forms::encode_form(pairs))
            .send()
            .await
    }
}

async fn start_recording(
    State(carrier): State<Carrier>,
    Path((account, sid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !carrier.authorised(&account, &headers) {
        return unauthorised();
    }
    let Ok(pairs) = forms::parse_form(&body) else {
        return twilio_error(StatusCode::BAD_REQUEST, 21205, "invalid parameters");
    };
    let callback = pairs
        .iter()
        .find(|(k, _)| k == "RecordingStatusCallback")
        .map(|(_, v)| v.clone());
    let mut state = carrier.inner.state.lock().expect("carrier state lock");
    let Some(record) = state.calls.get_mut(&sid) else {
        return not_found();
    };
    if record.resource.status != CallStatus::InProgress {
        return twilio_error(StatusCode::BAD_REQUEST, 21220, "Call is not in-progress.");
    }
    record.recording_callback = callback.or_else(|| Some(String::new()));
    let rec = format!("RE{:016x}", mix(sid.len() as u64 ^ 0x5EC1));
    let body = serde_json::json!({
        "sid": rec, "call_sid": sid, "account_sid": account, "status": "in-progress",
        "channels": 2, "source": "StartCallRecordingAPI", "track": "both"
    });
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

async fn update_recording(
    State(carrier): State<Carrier>,
    Path((account, sid, rec)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if !carrier.authorised(&account, &headers) {
        return unauthorised();
    }
    let rec = rec.trim_end_matches(".json").to_string();
    let state = carrier.inner.state.lock().expect("carrier state lock");
    if !state.calls.contains_key(&sid) {
        return not_found();
    }
    axum::Json(serde_json::json!({"sid": rec, "call_sid": sid, "status": "stopped"}))
        .into_response()
}

/// A recording the carrier holds: rendered on download.
#[derive(Clone, Copy, Debug)]
struct SimRecording {
    secs: u32,
    seed: u64,
}

impl SimRecording {
    /// Two channels of 8 kHz PCM16: a tone per speaker (the caller's pitch
    /// from the call's seed).
    fn wav(self) -> Vec<u8> {
        let frames = 8000 * self.secs as usize;
        let mut samples = Vec::with_capacity(frames * 2);
        for i in 0..frames {
            let t = i as f64 / 8000.0;
            let pitch = 300.0 + (self.seed % 200) as f64;
            let caller = (t * 2.0 * std::f64::consts::PI * pitch).sin();
            let agent = (t * 2.0 * std::f64::consts::PI * 440.0).sin();
            samples.push((caller * 2000.0) as i16);
            samples.push((agent * 2000.0) as i16);
        }
        voxdial_media::wav::encode_pcm16(8000, 2, &samples)
    }
}

async fn download_recording(
    State(carrier): State<Carrier>,
    Path((account, rec)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !carrier.authorised(&account, &headers) {
        return unauthorised();
    }
    let rec = rec.trim_end_matches(".wav");
    let mut state = carrier.inner.state.lock().expect("carrier state lock");
    state.stats.recording_downloads += 1;
    if state.failing_downloads > 0 {
        state.failing_downloads -= 1;
        state.stats.recording_download_failures += 1;
        return twilio_error(
            StatusCode::SERVICE_UNAVAILABLE,
            20503,
            "Service Unavailable",
        );
    }
    match state.recordings.get(rec).copied() {
        Some(recording) => {
            drop(state);
            ([(header::CONTENT_TYPE, "audio/x-wav")], recording.wav()).into_response()
        }
        None => not_found(),
    }
}

async fn delete_recording(
    State(carrier): State<Carrier>,
    Path((account, rec)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !carrier.authorised(&account, &headers) {
        return unauthorised();
    }
    let rec = rec.trim_end_matches(".json");
    let mut state = carrier.inner.state.lock().expect("carrier state lock");
    match state.recordings.remove(rec) {
        Some(_) => {
            state.stats.recordings_deleted += 1;
            StatusCode::NO_CONTENT.into_response()
        }
        None => not_found(),
    }
}
