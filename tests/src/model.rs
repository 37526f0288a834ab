//! A model carrier for property tests of the engine.
//!
//! Placing a call creates it at the carrier (unless a failure is injected:
//! rate limit, outage or refusal, none of which creates a call). The test
//! then decides when each call moves on ([`ModelCarrier::step_call`]); each
//! step emits the call's next status event into a pool of deliveries, where
//! it may be duplicated or dropped. The test delivers the pool in any order.
//! The carrier counts, as a real one could: simultaneous live calls per
//! campaign (a call is live from creation until its last event is emitted)
//! and creations per attempt (`call_id`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::Semaphore;
use voxdial_domain::{
    AnswerInstruction, AnswerRequest, AnsweredBy, CallEvent, CallEventKind, CallId, CampaignId,
    Clock, E164, PlaceCall, PlacedCall, ProviderCall, ProviderCallSid, ProviderError, ProviderId,
    TelephonyProvider, Timestamp, TransferTarget, WebhookError, WebhookRequest, WebhookResponse,
};

/// Fault rates of the model carrier.
#[derive(Clone, Copy, Debug, Default)]
pub struct ModelFaults {
    /// A create request is rate limited (nothing created).
    pub rate_limit: f64,
    /// A create request fails transiently (nothing created).
    pub transient: f64,
    /// A create request is refused for good (nothing created).
    pub permanent: f64,
    /// An emitted event is delivered twice.
    pub duplicate: f64,
    /// An emitted event is never delivered.
    pub drop: f64,
}

impl ModelFaults {
    /// The fault mix of the property tests.
    pub fn chaos() -> ModelFaults {
        ModelFaults {
            rate_limit: 0.1,
            transient: 0.05,
            permanent: 0.03,
            duplicate: 0.2,
            drop: 0.1,
        }
    }
}

struct ModelCall {
    call_id: CallId,
    campaign: CampaignId,
    script: Vec<CallEventKind>,
    emitted: usize,
    answered_by: Option<AnsweredBy>,
}

impl ModelCall {
    fn ended(&self) -> bool {
        self.emitted == self.script.len()
    }

    fn status(&self) -> CallEventKind {
        match self.emitted {
            0 => CallEventKind::Queued,
            n => self.script[n - 1],
        }
    }
}

#[derive(Default)]
struct Books {
    calls: HashMap<String, ModelCall>,
    by_attempt: HashMap<CallId, String>,
    live: HashMap<CampaignId, u32>,
    max_live: HashMap<CampaignId, u32>,
    dials: HashMap<CallId, u32>,
    deliveries: Vec<CallEvent>,
    next_sid: u64,
}

/// What the model carrier saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelStats {
    /// Calls created.
    pub created: u64,
    /// The most simultaneous live calls of any campaign.
    pub max_live: u32,
    /// The most creations of one attempt.
    pub max_dials: u32,
    /// Calls still live.
    pub live: u32,
}

/// The model carrier. See the module doc.
pub struct ModelCarrier {
    id: ProviderId,
    clock: std::sync::Arc<dyn Clock>,
    faults: ModelFaults,
    rng: Mutex<ChaCha8Rng>,
    books: Mutex<Books>,
    /// Whether create responses wait for [`ModelCarrier::release_responses`].
    holding: AtomicBool,
    responses: Semaphore,
    /// Whether create requests wait (before the carrier sees them) for
    /// [`ModelCarrier::release_requests`].
    holding_requests: AtomicBool,
    requests: Semaphore,
}

impl ModelCarrier {
    /// A carrier named `model` drawing every choice from `seed`.
    pub fn new(seed: u64, faults: ModelFaults, clock: std::sync::Arc<dyn Clock>) -> ModelCarrier {
        ModelCarrier::named("model", seed, faults, clock)
    }

    /// A carrier with provider id `id`.
    pub fn named(
        id: &str,
        seed: u64,
        faults: ModelFaults,
        clock: std::sync::Arc<dyn Clock>,
    ) -> ModelCarrier {
        ModelCarrier {
            id: ProviderId::parse(id).expect("a valid provider id"),
            clock,
            faults,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            books: Mutex::new(Books::default()),
            holding: AtomicBool::new(false),
            responses: Semaphore::new(0),
            holding_requests: AtomicBool::new(false),
            requests: Semaphore::new(0),
        }
    }

    /// From now on, each create response waits for
    /// [`ModelCarrier::release_responses`]: the call exists at the carrier,
    /// and can ring, be answered and end, before the dispatcher hears that
    /// it was accepted (on a loaded machine a short call can end before the
    /// create response arrives).
    pub fn hold_responses(&self) {
        self.holding.store(true, Ordering::SeqCst);
    }

    /// Lets `n` held create responses go.
    pub fn release_responses(&self, n: usize) {
        self.responses.add_permits(n);
    }

    /// From now on, each create request is held on its way, before the
    /// carrier sees it, until [`ModelCarrier::release_requests`]: a
    /// dispatcher that dies meanwhile never placed its call.
    pub fn hold_requests(&self) {
        self.holding_requests.store(true, Ordering::SeqCst);
    }

    /// Lets `n` held create requests through.
    pub fn release_requests(&self, n: usize) {
        self.requests.add_permits(n);
    }

    fn roll(&self, p: f64) -> bool {
        p > 0.0 && self.rng.lock().expect("rng").random::<f64>() < p
    }

    fn pick(&self, n: usize) -> usize {
        self.rng.lock().expect("rng").random_range(0..n)
    }

    /// Sids of calls still live.
    pub fn live_calls(&self) -> Vec<String> {
        let books = self.books.lock().expect("books");
        let mut sids: Vec<String> = books
            .calls
            .iter()
            .filter(|(_, c)| !c.ended())
            .map(|(s, _)| s.clone())
            .collect();
        sids.sort();
        sids
    }

    /// Moves a live call on by one event; false if it had ended.
    pub fn step_call(&self, sid: &str) -> bool {
        let mut books = self.books.lock().expect("books");
        let Some(call) = books.calls.get_mut(sid) else {
            return false;
        };
        if call.ended() {
            return false;
        }
        let kind = call.script[call.emitted];
        call.emitted += 1;
        let mut event = CallEvent::new(self.id.clone(), Some(call.call_id.clone()), kind);
        event.provider_sid = Some(ProviderCallSid::parse(sid).expect("model sid"));
        event.sequence = Some(call.emitted as u64);
        event.timestamp = Some(self.clock.now());
        if kind == CallEventKind::Answered || kind.is_terminal() {
            event.answered_by = call.answered_by;
        }
        if kind.is_terminal() {
            event.duration_secs = Some(if kind == CallEventKind::Completed {
                60
            } else {
                0
            });
            let campaign = call.campaign.clone();
            if let Some(live) = books.live.get_mut(&campaign) {
                *live -= 1;
            }
        }
        drop(books);
        if self.roll(self.faults.drop) {
            return true;
        }
        let copies = if self.roll(self.faults.duplicate) {
            2
        } else {
            1
        };
        let mut books = self.books.lock().expect("books");
        for _ in 0..copies {
            books.deliveries.push(event.clone());
        }
        true
    }

    /// Takes one pending delivery, chosen at random (so deliveries reorder).
    pub fn take_delivery(&self) -> Option<CallEvent> {
        let n = self.books.lock().expect("books").deliveries.len();
        if n == 0 {
            return None;
        }
        let i = self.pick(n);
        let mut books = self.books.lock().expect("books");
        (i < books.deliveries.len()).then(|| books.deliveries.swap_remove(i))
    }

    /// What the carrier saw.
    pub fn stats(&self) -> ModelStats {
        let books = self.books.lock().expect("books");
        ModelStats {
            created: books.calls.len() as u64,
            max_live: books.max_live.values().copied().max().unwrap_or(0),
            max_dials: books.dials.values().copied().max().unwrap_or(0),
            live: books.live.values().sum(),
        }
    }

    /// Creates a call at the carrier: its sid.
    fn create(
        &self,
        request: &PlaceCall,
        script: Vec<CallEventKind>,
        answered_by: Option<AnsweredBy>,
    ) -> String {
        let mut books = self.books.lock().expect("books");
        books.next_sid += 1;
        let sid = format!("CA{:08}", books.next_sid);
        *books.dials.entry(request.call_id.clone()).or_insert(0) += 1;
        let live = books.live.entry(request.campaign_id.clone()).or_insert(0);
        *live += 1;
        let live = *live;
        let max = books
            .max_live
            .entry(request.campaign_id.clone())
            .or_insert(0);
        *max = (*max).max(live);
        books
            .by_attempt
            .insert(request.call_id.clone(), sid.clone());
        books.calls.insert(
            sid.clone(),
            ModelCall {
                call_id: request.call_id.clone(),
                campaign: request.campaign_id.clone(),
                script,
                emitted: 0,
                answered_by,
            },
        );
        sid
    }

    fn view(&self, sid: &str, call: &ModelCall) -> ProviderCall {
        let status = call.status();
        ProviderCall {
            sid: ProviderCallSid::parse(sid).expect("model sid"),
            status,
            duration_secs: status.is_terminal().then_some(60),
            answered_by: call.answered_by,
            price: None,
            ended_at: None,
        }
    }
}

#[async_trait]
impl TelephonyProvider for ModelCarrier {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    fn finds_calls(&self) -> bool {
        true
    }

    async fn place_call(&self, request: &PlaceCall) -> Result<PlacedCall, ProviderError> {
        if self.holding_requests.load(Ordering::SeqCst) {
            self.requests
                .acquire()
                .await
                .expect("the gate is never closed")
                .forget();
        }
        if self.roll(self.faults.rate_limit) {
            return Err(ProviderError::RateLimited { retry_after: None });
        }
        if self.roll(self.faults.transient) {
            return Err(ProviderError::Transient {
                message: "model outage".into(),
                source: None,
            });
        }
        if self.roll(self.faults.permanent) {
            return Err(ProviderError::Permanent {
                code: "21211".into(),
                message: "invalid number".into(),
            });
        }
        use CallEventKind::*;
        let (script, answered_by) = match self.pick(6) {
            0 | 1 => (
                vec![Initiated, Ringing, Answered, Completed],
                Some(AnsweredBy::Human),
            ),
            2 => (
                vec![Initiated, Ringing, Answered, Completed],
                Some(AnsweredBy::MachineEndBeep),
            ),
            3 => (vec![Initiated, Ringing, Busy], None),
            4 => (vec![Initiated, Ringing, NoAnswer], None),
            _ => (vec![Initiated, Failed], None),
        };
        let sid = self.create(request, script, answered_by);
        if self.holding.load(Ordering::SeqCst) {
            self.responses
                .acquire()
                .await
                .expect("the gate is never closed")
                .forget();
        }
        Ok(PlacedCall {
            sid: ProviderCallSid::parse(sid).expect("model sid"),
        })
    }

    async fn hangup(&self, sid: &ProviderCallSid) -> Result<(), ProviderError> {
        while self.step_call(sid.as_str()) {}
        Ok(())
    }

    async fn fetch_call(&self, sid: &ProviderCallSid) -> Result<ProviderCall, ProviderError> {
        let books = self.books.lock().expect("books");
        let call = books
            .calls
            .get(sid.as_str())
            .ok_or(ProviderError::NotFound)?;
        Ok(self.view(sid.as_str(), call))
    }

    async fn find_call(
        &self,
        call_id: &CallId,
        _to: &E164,
        _since: Timestamp,
    ) -> Result<Option<ProviderCall>, ProviderError> {
        let books = self.books.lock().expect("books");
        Ok(books
            .by_attempt
            .get(call_id)
            .and_then(|sid| books.calls.get(sid).map(|call| self.view(sid, call))))
    }

    async fn redirect(
        &self,
        _sid: &ProviderCallSid,
        _instruction: &AnswerInstruction,
    ) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn transfer(
        &self,
        _sid: &ProviderCallSid,
        _target: &TransferTarget,
    ) -> Result<(), ProviderError> {
        Ok(())
    }

    fn parse_status_webhook(&self, _request: &WebhookRequest) -> Result<CallEvent, WebhookError> {
        Err(WebhookError::BadRequest(
            "the model carrier delivers events in-process".into(),
        ))
    }

    fn parse_answer_webhook(
        &self,
        _request: &WebhookRequest,
    ) -> Result<AnswerRequest, WebhookError> {
        Err(WebhookError::BadRequest(
            "the model carrier delivers events in-process".into(),
        ))
    }

    fn render_answer(&self, _instruction: &AnswerInstruction) -> WebhookResponse {
        WebhookResponse::text(200, "")
    }
}
