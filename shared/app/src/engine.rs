//! The engine: the ports wired together, and the campaign use cases.

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Span;
use serde::Serialize;
use tracing::{info, warn};
use voxdial_domain::{
    Campaign, CampaignAction, CampaignId, CampaignProgress, CampaignSettings, Clock, ConsentWaiver,
    DispatchMessage, DispatchQueue, DncScope, E164, ImportCounts, LeadId, NewLead, OrgId, Store,
    StoreError, Timestamp,
};

use crate::AppError;
use crate::csv_import::{LeadBatches, RowError};
use crate::router::{Providers, Router};

/// Settings of the engine itself (not of a campaign).
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The public base URL providers reach the webhooks at, e.g.
    /// `https://abc.execute-api.ap-south-1.amazonaws.com` or `http://127.0.0.1:8080`.
    pub public_base_url: String,
    /// The media bridge's `wss://` URL, when one runs.
    pub media_url: Option<String>,
    /// The secret shared with the media bridge that signs each call's
    /// media stream token. Without it no token is issued, and the bridge
    /// (which asks the engine to admit every stream) admits none.
    pub media_token_key: Option<voxdial_wire::media_token::MediaTokenKey>,
    /// Where the console's browser opens the media sockets (listen-in,
    /// live events, test calls) when another server than the API's serves
    /// them: the media domain's origin on AWS (`wss://media.example.com`).
    /// `None`: the API's own origin (the local server, which hosts them).
    pub media_socket_base: Option<String>,
    /// The secret that signs console sessions ([`crate::session`]). Without
    /// it only API keys (Bearer) are accepted.
    pub session_key: Option<crate::session::SessionKey>,
    /// How long a claimed lead may wait in the dispatch queue before the
    /// sweeper dispatches it again (simulated seconds when the clock is scaled).
    pub dispatch_lease_secs: u32,
    /// Added to ring time and the longest call to make a live call's lease.
    pub call_lease_margin_secs: u32,
    /// Tries per provider on rate limits and transient errors before falling over.
    pub tries_per_provider: u32,
    /// Setup rounds run again when every provider of the chain failed with
    /// a transient error (an outage, a timeout on a slow network): the chain
    /// is planned again after a backoff, so a provider that recovered or a
    /// fallback that was briefly at its rate limit takes the call before the
    /// attempt fails. Counted in `ProviderStatsView::setup_retries`.
    pub setup_retries: u32,
    /// No setup round starts once this much real time went into the
    /// attempt's setup, so a dispatcher (a Lambda with a 60 s timeout)
    /// never times out in the middle of one.
    pub setup_budget: Duration,
    /// The first backoff after a rate limit or transient error (real time; doubles, with jitter).
    pub backoff_base: Duration,
    /// The voicemail message when the campaign has none of its own.
    pub voicemail_text: String,
    /// How often the sweeper asks the providers about every live call that
    /// a provider accepted, without waiting for its lease (simulated seconds
    /// when the clock is scaled). Its first sweep always does, so a process
    /// that restarts after a crash learns at once which calls ended while it
    /// was down and frees their slots.
    pub reconcile_interval_secs: u32,
    /// The longest call this deployment's media bridge holds (it ends a
    /// call then, and drains for that long on deploys): campaigns may not
    /// ask for longer calls. `None`: no limit beyond the campaign's own.
    pub max_call_secs_limit: Option<u32>,
    /// The voice model's prices, for each call's token usage.
    pub model_prices: voxdial_domain::ModelPrices,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            public_base_url: "http://127.0.0.1:8080".into(),
            media_url: None,
            media_token_key: None,
            media_socket_base: None,
            session_key: None,
            dispatch_lease_secs: 300,
            call_lease_margin_secs: 120,
            tries_per_provider: 3,
            setup_retries: 3,
            setup_budget: Duration::from_secs(20),
            backoff_base: Duration::from_millis(100),
            voicemail_text: "Hello, this is an automated call from voxdial. We will try you again later. Goodbye.".into(),
            reconcile_interval_secs: 300,
            max_call_secs_limit: None,
            model_prices: voxdial_domain::ModelPrices::default(),
        }
    }
}

/// The ports every use case works on.
#[derive(Clone)]
pub struct Engine {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) queue: Arc<dyn DispatchQueue>,
    pub(crate) providers: Providers,
    pub(crate) router: Arc<dyn Router>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Shared: the engine is cloned for every request and job, and a
    /// clone must not copy the settings' strings and keys.
    pub(crate) config: Arc<EngineConfig>,
    pub(crate) blobs: Option<Arc<dyn voxdial_domain::BlobStore>>,
    pub(crate) agents: Option<Arc<dyn voxdial_domain::HumanAgentStore>>,
    pub(crate) post: Option<Arc<crate::postcall::PostCallDeps>>,
    pub(crate) observer: Option<Arc<dyn crate::events::CallObserver>>,
    /// The media bridges' load: with it, the answer webhook connects a
    /// stream only while a bridge has a free place (without it, it always
    /// does, and the bridge's own admission is the only limit).
    pub(crate) fleet: Option<Arc<dyn voxdial_domain::BridgeFleet>>,
    /// When this process last asked the providers about every live call
    /// (`None` until its first sweep: a restart reconciles at once).
    pub(crate) reconciled_at: Arc<std::sync::Mutex<Option<Timestamp>>>,
    /// The calls live in this process, for watchers and listeners.
    pub(crate) live: crate::live::LiveHub,
}

/// A campaign with its counts.
#[derive(Clone, Debug, Serialize)]
pub struct CampaignView {
    /// The campaign.
    pub campaign: Campaign,
    /// Its lead and call counts.
    pub progress: CampaignProgress,
}

/// What an import did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    /// Data rows in the file.
    pub rows: u64,
    /// New leads stored.
    pub inserted: u64,
    /// Rows whose number the campaign already had, or that repeated an
    /// earlier row of the file.
    pub merged: u64,
    /// The rows refused, with line numbers and reasons (the first
    /// [`crate::csv_import::MAX_REPORTED_ERRORS`]).
    pub rejected: Vec<RowError>,
    /// How many rows were refused in all.
    pub rejected_rows: u64,
}

/// How many times a conditional update is retried after a conflict.
pub(crate) const CONFLICT_RETRIES: usize = 8;

impl Engine {
    /// Wires the ports together.
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn DispatchQueue>,
        providers: Providers,
        router: Arc<dyn Router>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Engine {
        Engine {
            store,
            queue,
            providers,
            router,
            clock,
            config: Arc::new(config),
            blobs: None,
            agents: None,
            post: None,
            observer: None,
            fleet: None,
            reconciled_at: Arc::default(),
            live: crate::live::LiveHub::default(),
        }
    }

    /// Tells `observer` about calls that move on.
    pub fn with_observer(mut self, observer: Arc<dyn crate::events::CallObserver>) -> Engine {
        self.observer = Some(observer);
        self
    }

    /// Stores recordings and transcripts in `blobs`.
    pub fn with_blobs(mut self, blobs: Arc<dyn voxdial_domain::BlobStore>) -> Engine {
        self.blobs = Some(blobs);
        self
    }

    /// Answers calls with a media stream only while `fleet` has a free
    /// place (see [`Engine::handle_answer_webhook`]).
    pub fn with_bridge_fleet(mut self, fleet: Arc<dyn voxdial_domain::BridgeFleet>) -> Engine {
        self.fleet = Some(fleet);
        self
    }

    /// Transfers calls to the human agents of `agents`.
    pub fn with_agents(mut self, agents: Arc<dyn voxdial_domain::HumanAgentStore>) -> Engine {
        self.agents = Some(agents);
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The media bridges' load, when calls are answered by it.
    pub fn bridge_fleet(&self) -> Option<&Arc<dyn voxdial_domain::BridgeFleet>> {
        self.fleet.as_ref()
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The calls live in this process (see [`crate::live`]).
    pub fn live(&self) -> &crate::live::LiveHub {
        &self.live
    }

    /// Creates a draft campaign of `org`.
    pub async fn create_campaign(
        &self,
        org: &OrgId,
        settings: CampaignSettings,
    ) -> Result<Campaign, AppError> {
        if let Some(limit) = self.config.max_call_secs_limit
            && settings.max_call_secs > limit
        {
            return Err(AppError::Invalid(format!(
                "max_call_secs {} is longer than this deployment's longest call, {limit} s \
                 (the media bridge ends a call then; MaxCallSecs of the stack)",
                settings.max_call_secs
            )));
        }
        self.check_campaign_agent(org, &settings.agent_id).await?;
        let id = CampaignId::parse(new_id("cmp")).map_err(|e| AppError::Invalid(e.to_string()))?;
        let mut campaign = Campaign::new(id, settings, self.clock.now())?;
        campaign.org_id = org.clone();
        self.store.insert_campaign(&campaign).await?;
        info!(campaign_id = %campaign.id, name = %voxdial_domain::LogSafe(&campaign.settings.name), "campaign created");
        Ok(campaign)
    }

    /// Reads a campaign, or `NotFound`.
    pub async fn campaign(&self, id: &CampaignId) -> Result<Campaign, AppError> {
        self.store
            .campaign(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("campaign {id}")))
    }

    /// A page of a campaign's leads in id order.
    pub async fn leads_page(
        &self,
        id: &CampaignId,
        after: Option<&LeadId>,
        limit: usize,
    ) -> Result<Vec<voxdial_domain::Lead>, AppError> {
        self.campaign(id).await?;
        Ok(self.store.leads(id, after, limit).await?)
    }

    /// A page of a campaign's calls, newest first.
    pub async fn calls_page(
        &self,
        id: &CampaignId,
        before: Option<&voxdial_domain::CallId>,
        limit: usize,
    ) -> Result<Vec<voxdial_domain::CallAttempt>, AppError> {
        self.campaign(id).await?;
        Ok(self.store.calls(id, before, limit).await?)
    }

    /// A campaign and its counts.
    pub async fn campaign_view(&self, id: &CampaignId) -> Result<CampaignView, AppError> {
        let campaign = self.campaign(id).await?;
        let progress = self.store.progress(id).await?;
        Ok(CampaignView { campaign, progress })
    }

    /// Imports leads from a CSV file, streamed in batches of
    /// [`crate::csv_import::BATCH_ROWS`]: a file refused as a whole (size,
    /// shape, header) stores nothing; bad rows are reported; each batch of
    /// good rows is stored in one atomic write (a file imported again after
    /// a failure merges the leads already stored). A running campaign
    /// starts calling them once the file is read.
    pub async fn import_csv(
        &self,
        id: &CampaignId,
        csv: &[u8],
        default_region: Option<&str>,
    ) -> Result<ImportReport, AppError> {
        let campaign = self.open_campaign(id).await?;
        let allowed = &campaign.settings.allow_number_types;
        let mut batches = LeadBatches::new(csv, default_region, allowed)
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        let mut stored = ImportCounts::default();
        while let Some(batch) = batches.next_batch() {
            let counts = self.store_leads(id, batch).await?;
            stored.inserted += counts.inserted;
            stored.merged += counts.merged;
        }
        info!(campaign_id = %id, inserted = stored.inserted, merged = stored.merged, "leads imported");
        if campaign.is_dialling() {
            self.fill_slots(id).await?;
        }
        Ok(ImportReport {
            rows: batches.rows(),
            inserted: stored.inserted,
            merged: stored.merged + batches.duplicates(),
            rejected_rows: batches.rejected(),
            rejected: batches.into_errors(),
        })
    }

    /// Adds leads to a campaign that is not finished; a number of a type
    /// the campaign does not dial refuses the whole request.
    pub async fn import_leads(
        &self,
        id: &CampaignId,
        leads: Vec<NewLead>,
    ) -> Result<ImportCounts, AppError> {
        let campaign = self.open_campaign(id).await?;
        let allowed = &campaign.settings.allow_number_types;
        if let Some(lead) = leads
            .iter()
            .find(|l| !l.phone.number_type().is_allowed(allowed))
        {
            return Err(AppError::Invalid(format!(
                "{} is a {} line, which campaign {id} does not dial",
                lead.phone,
                lead.phone.number_type().label()
            )));
        }
        let counts = self.store_leads(id, leads).await?;
        info!(campaign_id = %id, inserted = counts.inserted, merged = counts.merged, "leads imported");
        if campaign.is_dialling() {
            self.fill_slots(id).await?;
        }
        Ok(counts)
    }

    /// The campaign, when it still takes leads.
    pub(crate) async fn open_campaign(&self, id: &CampaignId) -> Result<Campaign, AppError> {
        let campaign = self.campaign(id).await?;
        if campaign.status.is_finished() {
            return Err(AppError::Conflict(format!(
                "campaign {id} is {}: it takes no new leads",
                campaign.status.label()
            )));
        }
        Ok(campaign)
    }

    /// Stores one batch of leads atomically.
    pub(crate) async fn store_leads(
        &self,
        id: &CampaignId,
        leads: Vec<NewLead>,
    ) -> Result<ImportCounts, AppError> {
        let now = self.clock.now();
        let leads = leads
            .into_iter()
            .map(|lead| {
                let lead_id = LeadId::parse(new_id("ld")).expect("generated ids are valid");
                lead.into_lead(lead_id, id.clone(), now)
            })
            .collect();
        Ok(self.store.import_leads(id, leads).await?)
    }

    /// Applies an operator action (start, pause, resume, cancel); a start
    /// pins the version of the campaign's AI agent its calls will use.
    pub async fn act(&self, id: &CampaignId, action: CampaignAction) -> Result<Campaign, AppError> {
        let now = self.clock.now();
        let pin = match action {
            CampaignAction::Start => Some(self.version_to_pin(&self.campaign(id).await?).await?),
            _ => None,
        };
        let campaign = self
            .modify_campaign(id, |c| {
                c.apply(action, now)?;
                if let Some((agent, version)) = &pin
                    && &c.settings.agent_id == agent
                {
                    c.agent_version = *version;
                }
                Ok(())
            })
            .await?;
        info!(campaign_id = %id, ?action, status = campaign.status.label(), "campaign action");
        match action {
            CampaignAction::Start | CampaignAction::Resume => {
                self.fill_slots(id).await?;
            }
            CampaignAction::Cancel => {
                let canceled = self.store.cancel_pending(id, now).await?;
                info!(campaign_id = %id, canceled, "pending leads canceled");
            }
            CampaignAction::Pause => {}
        }
        self.complete_if_done(id).await?;
        self.campaign(id).await
    }

    /// Waives the legal floor's consent rule for one campaign: an admin
    /// action (the only way `require_consent` goes off), recorded on the
    /// campaign as its audit entry and in the log.
    pub async fn waive_consent(
        &self,
        id: &CampaignId,
        by: &str,
        reason: &str,
    ) -> Result<Campaign, AppError> {
        let at = self.clock.now();
        let waiver = ConsentWaiver {
            by: by.trim().to_string(),
            reason: reason.trim().to_string(),
            at,
        };
        let campaign = self
            .modify_campaign(id, |c| Ok(c.waive_consent(waiver.clone())?))
            .await?;
        warn!(campaign_id = %id, by = %waiver.by, reason = %waiver.reason, "AUDIT consent rule waived by an admin");
        Ok(campaign)
    }

    /// Changes the concurrency cap; a raised cap fills the new slots at once.
    pub async fn set_max_concurrency(
        &self,
        id: &CampaignId,
        max: u32,
    ) -> Result<Campaign, AppError> {
        let campaign = self
            .modify_campaign(id, |c| Ok(c.set_max_concurrency(max)?))
            .await?;
        self.fill_slots(id).await?;
        Ok(campaign)
    }

    /// Adds numbers to a do-not-call list.
    pub async fn add_dnc(&self, scope: &DncScope, numbers: &[E164]) -> Result<u64, AppError> {
        Ok(self.store.add_dnc(scope, numbers, self.clock.now()).await?)
    }

    /// Claims the campaign's free slots for due leads and queues their
    /// dispatch. Returns how many were queued.
    pub async fn fill_slots(&self, id: &CampaignId) -> Result<usize, AppError> {
        let Some(campaign) = self.store.campaign(id).await? else {
            return Ok(0);
        };
        Ok(self.fill_campaign_slots(&campaign).await?.0)
    }

    /// [`Engine::fill_slots`] with the campaign as its caller just read it
    /// (one read less per call end). A pause or cancel that landed since
    /// is safe: each dispatch reads the campaign again and hands the lead
    /// back, as it does for a pause after any fill. Returns how many leads
    /// were queued and, when none was, whether the claim saw the campaign
    /// still open ([`voxdial_domain::Claimed`]).
    pub(crate) async fn fill_campaign_slots(
        &self,
        campaign: &Campaign,
    ) -> Result<(usize, bool), AppError> {
        let id = &campaign.id;
        if !campaign.is_dialling() {
            return Ok((0, false));
        }
        let now = self.clock.now();
        let lease_until = now + Span::seconds(i64::from(self.config.dispatch_lease_secs));
        let max = campaign.settings.max_concurrency;
        let claimed = self
            .store
            .claim_due_or_open(id, max, now, lease_until, max as usize)
            .await?;
        if claimed.leads.is_empty() {
            return Ok((0, claimed.known_open));
        }
        let messages: Vec<DispatchMessage> = claimed
            .leads
            .iter()
            .filter_map(|lead| {
                Some(DispatchMessage {
                    campaign_id: id.clone(),
                    lead_id: lead.id.clone(),
                    attempt: lead.state.active_attempt()?,
                })
            })
            .collect();
        // If this send fails the leads keep their slots until their lease
        // ends; the sweeper then queues them again. Nothing is lost.
        if let Err(e) = self.queue.send(&messages, Duration::ZERO).await {
            warn!(campaign_id = %id, error = %e, "dispatch queue send failed; the sweeper will retry");
            return Err(e.into());
        }
        Ok((messages.len(), false))
    }

    /// Refills the slot a lead just gave back; when no lead can take it,
    /// completes the campaign if no lead is open any more (unless the
    /// claim's own read showed one).
    pub(crate) async fn refill_or_complete(&self, campaign: &Campaign) -> Result<(), AppError> {
        if let (0, false) = self.fill_campaign_slots(campaign).await? {
            self.complete_campaign_if_done(campaign).await?;
        }
        Ok(())
    }

    /// Marks the campaign completed when no lead is open any more.
    pub async fn complete_if_done(&self, id: &CampaignId) -> Result<bool, AppError> {
        self.complete_campaign_if_done(&self.campaign(id).await?)
            .await
    }

    /// [`Engine::complete_if_done`] with the campaign as its caller just
    /// read it: only the completion itself reads it again (a campaign
    /// finished since stays as it is).
    pub(crate) async fn complete_campaign_if_done(
        &self,
        campaign: &Campaign,
    ) -> Result<bool, AppError> {
        let id = &campaign.id;
        if !matches!(
            campaign.status,
            voxdial_domain::CampaignStatus::Running | voxdial_domain::CampaignStatus::Paused
        ) {
            return Ok(false);
        }
        if self.store.has_open_leads(id).await? {
            return Ok(false);
        }
        let now = self.clock.now();
        // True when this call completed it (the last round's change is the
        // one stored).
        let mut completed = false;
        self.modify_campaign(id, |c| {
            completed = c.complete(now);
            Ok(())
        })
        .await?;
        if completed {
            info!(campaign_id = %id, "campaign completed");
        }
        Ok(completed)
    }

    /// Reads, changes and writes a call, retrying on write conflicts. The
    /// change must not alter the call's state (that is `finish`'s job).
    pub(crate) async fn modify_call(
        &self,
        id: &voxdial_domain::CallId,
        mut change: impl FnMut(&mut voxdial_domain::CallAttempt) -> Result<(), AppError>,
    ) -> Result<voxdial_domain::CallAttempt, AppError> {
        let mut known = self.store.call(id).await?;
        for _ in 0..CONFLICT_RETRIES {
            let mut call = known
                .take()
                .ok_or_else(|| AppError::NotFound(format!("call {id}")))?;
            let before = call.clone();
            change(&mut call)?;
            if call == before {
                return Ok(call);
            }
            // Refused, the write says how the call stands now.
            match self.store.update_call_or_current(&call).await? {
                Ok(updated) => return Ok(updated),
                Err(stored) => known = stored,
            }
        }
        Err(AppError::contended(format_args!("call {id}")))
    }

    /// Reads, changes and writes a campaign, retrying on write conflicts.
    pub(crate) async fn modify_campaign(
        &self,
        id: &CampaignId,
        mut change: impl FnMut(&mut Campaign) -> Result<(), AppError>,
    ) -> Result<Campaign, AppError> {
        for _ in 0..CONFLICT_RETRIES {
            let mut campaign = self.campaign(id).await?;
            let before = campaign.clone();
            change(&mut campaign)?;
            if campaign == before {
                return Ok(campaign);
            }
            match self.store.update_campaign(&campaign).await {
                Ok(updated) => return Ok(updated),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::contended(format_args!("campaign {id}")))
    }

    /// The callback URL for `kind` (`status`, `answer`, `recording`) of a call.
    pub(crate) fn webhook_url(
        &self,
        provider: &voxdial_domain::ProviderId,
        kind: &str,
        campaign: &CampaignId,
        call: &voxdial_domain::CallId,
    ) -> String {
        format!(
            "{}/webhooks/{provider}/{kind}?campaign_id={campaign}&call_id={call}",
            self.config.public_base_url.trim_end_matches('/')
        )
    }
}

/// A new random id with a readable prefix: `cmp_3f9a…` (32 hex digits).
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}
