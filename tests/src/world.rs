//! A test world: the real engine on the embedded store (or another) and queue, a manual
//! clock, and model carriers; plus the random driver of the property tests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::task::JoinSet;
use voxdial_app::router::{Providers, RouteStep, Router, StaticRouter};
use voxdial_app::workers::handle_delivery;
use voxdial_app::{Engine, EngineConfig, EventOutcome};
use voxdial_domain::{
    CallId, CampaignAction, CampaignId, CampaignSettings, CampaignStatus, Clock, E164,
    MessageQueue, NewLead, RetryPolicy, Store, TelephonyProvider,
};
use voxdial_local::{LocalQueue, LocalStore, QueueConfig};
use voxdial_testkit::ManualClock;
use voxdial_testkit::fixtures::{phone, t0};

use crate::model::{ModelCarrier, ModelFaults};

/// The engine and everything around it.
pub struct World {
    /// The engine.
    pub engine: Engine,
    /// The dispatch queue.
    pub queue: Arc<LocalQueue>,
    /// The model carrier (the first provider).
    pub carrier: Arc<ModelCarrier>,
    /// The clock.
    pub clock: Arc<ManualClock>,
    /// The campaign under test.
    pub campaign: CampaignId,
    /// Its current cap.
    pub cap: u32,
    /// Slot releases seen per call, from delivered events.
    pub releases: HashMap<CallId, u32>,
    rng: ChaCha8Rng,
    _dir: tempfile::TempDir,
}

/// What to build.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// The seed of every random choice.
    pub seed: u64,
    /// The campaign's cap.
    pub cap: u32,
    /// How many leads.
    pub leads: usize,
    /// Whether the carrier injects faults.
    pub faults: bool,
}

impl Scenario {
    fn model_faults(&self) -> ModelFaults {
        if self.faults {
            ModelFaults::chaos()
        } else {
            ModelFaults::default()
        }
    }
}

/// `n` consenting fixture leads.
fn fixture_leads(n: usize) -> Vec<NewLead> {
    (0..n)
        .map(|n| NewLead {
            phone: phone(n),
            name: format!("Lead {n}"),
            time_zone: None,
            custom: Default::default(),
            consent: true,
        })
        .collect()
}

impl World {
    /// Builds the world with `s.leads` fixture leads and one model carrier,
    /// and starts the campaign.
    pub async fn new(s: Scenario) -> World {
        World::build(s, fixture_leads(s.leads), &[("model", s.model_faults())]).await
    }

    /// [`World::new`] on another store (DynamoDB on moto, say).
    pub async fn on_store(s: Scenario, store: Arc<dyn Store>) -> World {
        let dir = tempfile::tempdir().unwrap();
        let carriers = [("model", s.model_faults())];
        let route = |router| -> Arc<dyn Router> { Arc::new(router) };
        World::assemble(s, fixture_leads(s.leads), &carriers, route, store, dir).await
    }

    /// Builds the world with `leads` and one model carrier per `(id,
    /// faults)`, tried in that order, and starts the campaign.
    pub async fn build(
        s: Scenario,
        leads: Vec<NewLead>,
        carriers: &[(&str, ModelFaults)],
    ) -> World {
        World::build_routed(s, leads, carriers, |router| Arc::new(router)).await
    }

    /// [`World::build`] with the static router wrapped by `route` (a
    /// throttling router, for instance).
    pub async fn build_routed(
        s: Scenario,
        leads: Vec<NewLead>,
        carriers: &[(&str, ModelFaults)],
        route: impl FnOnce(StaticRouter) -> Arc<dyn Router>,
    ) -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path().join("store.sqlite")).unwrap();
        World::assemble(s, leads, carriers, route, Arc::new(store), dir).await
    }

    async fn assemble(
        s: Scenario,
        leads: Vec<NewLead>,
        carriers: &[(&str, ModelFaults)],
        route: impl FnOnce(StaticRouter) -> Arc<dyn Router>,
        store: Arc<dyn Store>,
        dir: tempfile::TempDir,
    ) -> World {
        let clock = ManualClock::shared(t0());
        let clock_port: Arc<dyn Clock> = clock.clone();
        let queue = Arc::new(
            LocalQueue::open(
                dir.path().join("queue.sqlite"),
                QueueConfig {
                    visibility_timeout: Duration::from_secs(60),
                    max_receives: 50,
                },
                clock_port.clone(),
            )
            .unwrap(),
        );
        let models: Vec<Arc<ModelCarrier>> = carriers
            .iter()
            .enumerate()
            .map(|(i, (id, faults))| {
                Arc::new(ModelCarrier::named(
                    id,
                    s.seed ^ i as u64,
                    *faults,
                    clock_port.clone(),
                ))
            })
            .collect();
        let caller_id = E164::parse("+14155550100", None).unwrap();
        let router = StaticRouter::new(
            models
                .iter()
                .map(|m| RouteStep {
                    provider: TelephonyProvider::id(m.as_ref()).clone(),
                    caller_id: caller_id.clone(),
                })
                .collect(),
        );
        let providers = models
            .iter()
            .fold(Providers::new(), |p, m| p.with(m.clone()));
        let engine = Engine::new(
            store,
            queue.clone(),
            providers,
            route(router),
            clock_port,
            EngineConfig {
                backoff_base: Duration::from_millis(1),
                ..EngineConfig::default()
            },
        );
        let settings = CampaignSettings {
            max_concurrency: s.cap,
            retry: RetryPolicy {
                max_attempts: 3,
                busy_delay_secs: 60,
                no_answer_delay_secs: 120,
                failed_delay_secs: 60,
                voicemail_delay_secs: None,
            },
            ..CampaignSettings::default()
        };
        let campaign = engine
            .create_campaign(&voxdial_domain::OrgId::default(), settings)
            .await
            .unwrap();
        engine.import_leads(&campaign.id, leads).await.unwrap();
        engine
            .act(&campaign.id, CampaignAction::Start)
            .await
            .unwrap();
        World {
            engine,
            queue,
            carrier: models[0].clone(),
            clock,
            campaign: campaign.id,
            cap: s.cap,
            releases: HashMap::new(),
            rng: ChaCha8Rng::seed_from_u64(s.seed ^ 0xD15EA5E),
            _dir: dir,
        }
    }

    /// Ends every live call of `carrier` and delivers every event, in order.
    pub async fn end_calls(&mut self, carrier: &ModelCarrier) {
        for sid in carrier.live_calls() {
            while carrier.step_call(&sid) {}
        }
        while let Some(event) = carrier.take_delivery() {
            let call = event.call_id.clone().unwrap();
            if let Ok(EventOutcome::Ended { released: true }) =
                self.engine.apply_event(&event).await
            {
                *self.releases.entry(call).or_insert(0) += 1;
            }
        }
    }

    /// Receives up to `k` queue messages, duplicates some, and dispatches them all at once.
    pub async fn dispatch(&mut self, k: usize) {
        let deliveries = self.queue.receive(k, Duration::ZERO).await.unwrap();
        let mut tasks = JoinSet::new();
        for delivery in deliveries {
            if self.rng.random::<f64>() < 0.2 {
                // SQS may deliver a message twice.
                self.queue
                    .send(std::slice::from_ref(&delivery.message), Duration::ZERO)
                    .await
                    .unwrap();
            }
            let (engine, queue) = (self.engine.clone(), self.queue.clone());
            tasks.spawn(async move { handle_delivery(&engine, queue.as_ref(), delivery).await });
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Delivers one pending carrier event, chosen at random; false when none is pending.
    pub async fn deliver_one(&mut self) -> bool {
        let Some(event) = self.carrier.take_delivery() else {
            return false;
        };
        let call = event.call_id.clone().unwrap();
        if let Ok(EventOutcome::Ended { released: true }) = self.engine.apply_event(&event).await {
            *self.releases.entry(call).or_insert(0) += 1;
        }
        true
    }

    /// Moves a random live call on by one event.
    pub fn step_random_call(&mut self) {
        let live = self.carrier.live_calls();
        if !live.is_empty() {
            let sid = &live[self.rng.random_range(0..live.len())];
            self.carrier.step_call(sid);
        }
    }

    /// Advances the clock and runs the sweeper.
    pub async fn tick(&mut self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
        self.engine.sweep().await.unwrap();
    }

    /// The campaign's status.
    pub async fn status(&self) -> CampaignStatus {
        self.engine.campaign(&self.campaign).await.unwrap().status
    }

    /// Panics if the carrier ever saw more live calls than the cap or an attempt dialled twice.
    pub fn check_carrier(&self) {
        let stats = self.carrier.stats();
        assert!(
            stats.live <= self.cap,
            "carrier sees {} live calls, cap {}",
            stats.live,
            self.cap
        );
        assert!(
            stats.max_dials <= 1,
            "an attempt was dialled {} times",
            stats.max_dials
        );
        // Caps only rise in these runs, so the current one bounds the peak.
        assert!(
            stats.max_live <= self.cap,
            "the carrier saw {} calls at once, cap {}",
            stats.max_live,
            self.cap
        );
    }

    /// Random interleaving, then a drain until the campaign completes.
    pub async fn run(&mut self) {
        let mut paused = false;
        for _ in 0..400 {
            match self.rng.random_range(0..100) {
                0..=24 => {
                    let k = self.rng.random_range(1..5);
                    self.dispatch(k).await;
                }
                25..=54 => self.step_random_call(),
                55..=84 => {
                    self.deliver_one().await;
                }
                85..=94 => {
                    let secs = self.rng.random_range(1..240);
                    self.tick(secs).await;
                }
                95..=97 => {
                    let action = if paused {
                        CampaignAction::Resume
                    } else {
                        CampaignAction::Pause
                    };
                    if self.engine.act(&self.campaign, action).await.is_ok() {
                        paused = !paused;
                    }
                }
                _ => {
                    // Raising the cap never lets the carrier exceed the new cap.
                    if self.cap < 8
                        && self
                            .engine
                            .set_max_concurrency(&self.campaign, self.cap + 1)
                            .await
                            .is_ok()
                    {
                        self.cap += 1;
                    }
                }
            }
            self.check_carrier();
            if self.status().await.is_finished() {
                return;
            }
        }
        if paused {
            self.engine
                .act(&self.campaign, CampaignAction::Resume)
                .await
                .unwrap();
        }
        for _ in 0..300 {
            for sid in self.carrier.live_calls() {
                self.carrier.step_call(&sid);
            }
            while self.deliver_one().await {}
            self.dispatch(16).await;
            self.check_carrier();
            if self.status().await.is_finished() {
                return;
            }
            self.tick(600).await;
        }
    }

    /// Panics unless every invariant holds at the end.
    pub async fn assert_invariants(&self) {
        assert_eq!(
            self.status().await,
            CampaignStatus::Completed,
            "the campaign must complete"
        );
        let view = self.engine.campaign_view(&self.campaign).await.unwrap();
        assert_eq!(
            view.progress.open(),
            0,
            "every lead final: {:?}",
            view.progress
        );
        assert_eq!(view.progress.active, 0, "no slot held: {:?}", view.progress);
        self.check_carrier();
        for (call, n) in &self.releases {
            assert_eq!(*n, 1, "call {call} released its slot {n} times");
        }
        // A slot released twice for one call would count two attempts for it.
        let calls = self
            .engine
            .calls_page(&self.campaign, None, 10_000)
            .await
            .unwrap();
        let leads = self
            .engine
            .leads_page(&self.campaign, None, 10_000)
            .await
            .unwrap();
        for lead in &leads {
            let made = calls.iter().filter(|c| c.lead_id == lead.id).count() as u32;
            assert_eq!(lead.attempts, made, "lead {} attempts vs calls", lead.id);
            assert!(lead.attempts <= 3, "attempt limit");
        }
        assert!(
            calls.iter().all(|c| c.state.is_terminal()),
            "every call ended"
        );
    }
}
