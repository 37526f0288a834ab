//! The DynamoDB mapping: the one place that knows item layouts, key
//! formats, expressions and the SDK's request and error types. Everything
//! above it ([`super::store`], [`super::import`]) speaks domain types, the
//! typed rows and [`Write`]s defined here; no `AttributeValue` leaves this
//! module.
//!
//! The layout is documented on the [`super`] module.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, PutRequest, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update, WriteRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use voxdial_domain::{
    AgentId, AiAgent, ApiKey, ApiKeyId, AuditEntry, CallAttempt, CallId, Campaign, CampaignId,
    DncHit, DncScope, E164, Granularity, ImportId, Lead, LeadId, LeadImport, LeadState, OrgId,
    PendingReason, PurgeDue, StoreError, SuppressionDigest, Timestamp, Tombstone,
};

pub(crate) mod humans;

/// An item as the SDK sees it.
type Item = HashMap<String, AttributeValue>;

// ------------------------------------------------------------------ names

/// The table's partition key.
pub(crate) const PK: &str = "pk";
/// The table's sort key.
pub(crate) const SK: &str = "sk";
/// The domain record, as JSON.
const REC: &str = "rec";
/// The record's optimistic-concurrency version.
const VER: &str = "ver";
/// The campaign a lead or call belongs to.
const CID: &str = "cid";
/// A lead's state label (`pending`, `active`, `final`) or a call's state label.
const ST: &str = "st";
/// The attempt an active lead holds its slot for.
const ATT: &str = "att";
/// Whether a call is terminal.
const TERM: &str = "term";
/// The import that staged a lead or phone item (absent once published).
const IMP: &str = "imp";
/// The lead a phone item points at.
const LEAD: &str = "lead";
/// When a do-not-call entry was added (nanoseconds).
const ADDED: &str = "added";
/// The call a retention entry is for.
const CALL: &str = "call";
/// The DynamoDB TTL attribute (epoch seconds).
pub(crate) const TTL: &str = "expires_at";
/// Journal: the lead ids and numbers of an import part.
const J_IDS: &str = "ids";
const J_PHONES: &str = "phones";
/// Campaign counters.
const N_TOTAL: &str = "n_total";
const N_PENDING: &str = "n_pending";
const N_WINDOW: &str = "n_window";
const N_ACTIVE: &str = "n_active";
/// Prefix of the final-lead counters, one attribute per outcome label.
const F_PREFIX: &str = "f_";
/// The import lock on a campaign item.
const IMP_ID: &str = "imp_id";
const IMP_AT: &str = "imp_at";
const IMP_STATE: &str = "imp_state";
const STAGING: &str = "staging";
const COMMITTED: &str = "committed";

/// Global secondary indexes: name and key attributes.
pub(crate) mod index {
    /// Children of a parent, in order: campaigns by creation, a campaign's
    /// leads by id, a campaign's calls by creation.
    pub(crate) const BY_PARENT: (&str, &str, &str) = ("by_parent", "g1pk", "g1sk");
    /// Pending leads of a campaign by due time (sparse).
    pub(crate) const DUE: (&str, &str, &str) = ("due", "g2pk", "g2sk");
    /// Live (non-terminal) calls, sharded, by campaign and creation (sparse).
    pub(crate) const LIVE: (&str, &str, &str) = ("live", "g3pk", "g3sk");
    /// Active leads by lease end, sharded (sparse).
    pub(crate) const LEASE: (&str, &str, &str) = ("lease", "g4pk", "g4sk");
    /// Every index.
    pub(crate) const ALL: [(&str, &str, &str); 4] = [BY_PARENT, DUE, LIVE, LEASE];
}

/// Partitions of the cross-campaign indexes (`live`, `lease`): their
/// partition key carries `hash % SHARDS`, so no single index partition
/// takes every write; a cross-campaign read queries every shard.
pub(crate) const SHARDS: u64 = 4;

// ------------------------------------------------------------------ encoding

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Nanoseconds since the epoch, saturating outside chrono's range.
pub(crate) fn nanos(t: Timestamp) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// A timestamp as a fixed-width string whose byte order is time order.
pub(crate) fn sortable(t: Timestamp) -> String {
    let shifted = (i128::from(nanos(t)) - i128::from(i64::MIN)) as u64;
    format!("{shifted:020}")
}

/// FNV-1a: a stable hash for shard numbers (not `DefaultHasher`, whose
/// output may change between Rust releases).
fn shard(id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash % SHARDS
}

fn campaign_pk(id: &CampaignId) -> String {
    format!("C#{id}")
}
fn lead_pk(id: &LeadId) -> String {
    format!("L#{id}")
}
fn call_pk(id: &CallId) -> String {
    format!("K#{id}")
}
fn phone_pk(campaign: &CampaignId, phone: &E164) -> String {
    format!("P#{campaign}#{}", phone.as_str())
}
/// A list's part of `D#…` and `S#…` keys: `O:<organisation>` or
/// `C:<campaign>`; the default organisation keeps `G`, the key of the one
/// shared list of the days before organisations, so its entries stay its.
fn list_part(scope: &DncScope) -> String {
    match scope {
        DncScope::Organisation(org) if org.as_str() == OrgId::DEFAULT => "G".into(),
        DncScope::Organisation(org) => format!("O:{org}"),
        DncScope::Campaign(id) => format!("C:{id}"),
    }
}
fn dnc_pk(scope: &DncScope, number: &E164) -> String {
    format!("D#{}#{}", list_part(scope), number.as_str())
}
fn journal_pk(import: &str) -> String {
    format!("I#{import}")
}
fn tombstone_key(lead: &LeadId) -> Item {
    key(format!("T#{lead}"), "T")
}
fn suppression_key(scope: &DncScope, digest: &SuppressionDigest) -> Item {
    key(format!("S#{}#{}", list_part(scope), digest.0), "S")
}
/// Retention entries: one per call, sharded, sorted by due time.
fn purge_key(call: &CallId, due_at: Timestamp) -> Item {
    key(
        format!("R#{}", shard(call.as_str())),
        &format!("{}#{call}", sortable(due_at)),
    )
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}
fn campaign_key(id: &CampaignId) -> Item {
    key(campaign_pk(id), "C")
}
fn lead_key(id: &LeadId) -> Item {
    key(lead_pk(id), "L")
}
fn call_key(id: &CallId) -> Item {
    key(call_pk(id), "K")
}
fn phone_key(campaign: &CampaignId, phone: &E164) -> Item {
    key(phone_pk(campaign, phone), "P")
}
fn dnc_key(scope: &DncScope, number: &E164) -> Item {
    key(dnc_pk(scope, number), "D")
}

const CAMPAIGNS: &str = "CAMPAIGNS";
/// The `by_parent` partition of every API key (sort key `<org>#<key>`).
const KEYS: &str = "KEYS";

fn api_key_key(id: &ApiKeyId) -> Item {
    key(format!("A#{id}"), "A")
}
fn api_key_item(api_key: &ApiKey) -> Result<Item, StoreError> {
    let mut item = api_key_key(&api_key.id);
    item.insert(REC.into(), encode("API key", api_key)?);
    item.insert(VER.into(), n(api_key.version));
    item.insert(index::BY_PARENT.1.into(), s(KEYS));
    item.insert(
        index::BY_PARENT.2.into(),
        s(format!("{}#{}", api_key.org_id, api_key.id)),
    );
    Ok(item)
}
/// The `by_parent` partition of every AI agent's head item (sort key
/// `<org>#<agent>`).
const AI_AGENTS: &str = "AIAGENTS";
/// The organisation attribute of an AI agent's head item.
const ORG: &str = "org";

fn ai_agent_pk(id: &AgentId) -> String {
    format!("G#{id}")
}
/// The head item of an agent: its latest version.
fn ai_agent_head_key(id: &AgentId) -> Item {
    key(ai_agent_pk(id), "H")
}
/// One version's item; zero-padded so that sort order is version order.
fn ai_agent_version_key(id: &AgentId, version: u32) -> Item {
    key(ai_agent_pk(id), &format!("V#{version:010}"))
}
fn ai_agent_head_item(agent: &AiAgent) -> Result<Item, StoreError> {
    let mut item = ai_agent_head_key(&agent.id);
    item.insert(REC.into(), encode("AI agent", agent)?);
    item.insert(VER.into(), n(agent.version));
    item.insert(ORG.into(), s(agent.org_id.as_str()));
    item.insert(index::BY_PARENT.1.into(), s(AI_AGENTS));
    item.insert(
        index::BY_PARENT.2.into(),
        s(format!("{}#{}", agent.org_id, agent.id)),
    );
    Ok(item)
}
fn ai_agent_version_item(agent: &AiAgent) -> Result<Item, StoreError> {
    let mut item = ai_agent_version_key(&agent.id, agent.version);
    item.insert(REC.into(), encode("AI agent", agent)?);
    Ok(item)
}
fn lead_import_key(id: &ImportId) -> Item {
    key(format!("F#{id}"), "F")
}
fn lead_import_item(import: &LeadImport) -> Result<Item, StoreError> {
    let mut item = lead_import_key(&import.id);
    item.insert(REC.into(), encode("import", import)?);
    item.insert(VER.into(), n(import.version));
    Ok(item)
}
fn audit_pk(org: &OrgId) -> String {
    format!("U#{org}")
}
fn audit_item(entry: &AuditEntry) -> Result<Item, StoreError> {
    let sort = format!("{}#{}", sortable(entry.at), entry.id);
    let mut item = key(audit_pk(&entry.org_id), &sort);
    item.insert(REC.into(), encode("audit entry", entry)?);
    Ok(item)
}
/// Prefix of the counter attributes of an aggregate bucket (one per
/// `Tally::counters` name).
const AGG_PREFIX: &str = "v:";
/// An aggregate bucket's start (epoch seconds).
const AGG_START: &str = "start";

/// The partition of one series: organisation, dimension and width.
fn aggregate_pk(org: &OrgId, dimension: &str, width: Granularity) -> String {
    format!("B#{org}#{dimension}#{}", width.label())
}
fn aggregate_key(org: &OrgId, dimension: &str, width: Granularity, start: Timestamp) -> Item {
    key(aggregate_pk(org, dimension, width), &sortable(start))
}
/// The marker that an event of `kind` was counted for `call`.
fn aggregate_marker_key(call: &CallId, kind: &str) -> Item {
    key(format!("E#{call}"), kind)
}

fn leads_parent(campaign: &CampaignId) -> String {
    format!("C#{campaign}#L")
}
fn calls_parent(campaign: &CampaignId) -> String {
    format!("C#{campaign}#K")
}
fn live_pk(campaign: &CampaignId) -> String {
    format!("LIVE#{}", shard(campaign.as_str()))
}
fn lease_pk(lead: &LeadId) -> String {
    format!("LEASE#{}", shard(lead.as_str()))
}

fn encode<T: Serialize>(kind: &str, value: &T) -> Result<AttributeValue, StoreError> {
    serde_json::to_string(value)
        .map(AttributeValue::S)
        .map_err(|e| StoreError::unavailable(format!("cannot encode a {kind}"), e))
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn number<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn strings(item: &Item, name: &str) -> Vec<String> {
    item.get(name)
        .and_then(|v| v.as_l().ok())
        .map(|list| list.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        .unwrap_or_default()
}

fn decode<T: DeserializeOwned>(kind: &str, item: &Item) -> Result<T, StoreError> {
    let id = text(item, PK).unwrap_or("?");
    let record = text(item, REC)
        .ok_or_else(|| StoreError::Corrupt(format!("{kind} {id}: no record attribute")))?;
    serde_json::from_str(record).map_err(|e| StoreError::Corrupt(format!("{kind} {id}: {e}")))
}

// ------------------------------------------------------------------ rows

/// A campaign item: the record plus the counters kept beside it.
#[derive(Clone, Debug)]
pub(crate) struct CampaignRow {
    pub(crate) campaign: Campaign,
    pub(crate) counters: Counters,
    pub(crate) import: Option<ImportLock>,
}

/// The lead counts of a campaign, maintained in the transactions that move
/// leads between states.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) total: i64,
    pub(crate) pending: i64,
    pub(crate) window: i64,
    pub(crate) active: i64,
    /// Final leads by outcome label.
    pub(crate) finals: BTreeMap<String, i64>,
}

impl Counters {
    /// The change of moving one lead from `from` (none: a new lead) to `to`.
    pub(crate) fn transition(from: Option<&LeadState>, to: &LeadState) -> Counters {
        let mut delta = Counters::default();
        match from {
            Some(old) => delta.bucket(old, -1),
            None => delta.total += 1,
        }
        delta.bucket(to, 1);
        delta
    }

    /// The change of deleting one lead in `state` (an erasure).
    pub(crate) fn removal(state: &LeadState) -> Counters {
        let mut delta = Counters {
            total: -1,
            ..Counters::default()
        };
        delta.bucket(state, -1);
        delta
    }

    fn bucket(&mut self, state: &LeadState, by: i64) {
        match state {
            LeadState::Pending { reason, .. } => {
                self.pending += by;
                if *reason == PendingReason::CallingWindow {
                    self.window += by;
                }
            }
            LeadState::Active { .. } => self.active += by,
            LeadState::Final { outcome, .. } => {
                *self.finals.entry(outcome.label().to_string()).or_default() += by;
            }
        }
    }

    /// The change that turns `from` into `self`.
    pub(crate) fn minus(&self, from: &Counters) -> Counters {
        let mut delta = self.clone();
        let mut negated = Counters {
            total: -from.total,
            pending: -from.pending,
            window: -from.window,
            active: -from.active,
            finals: BTreeMap::new(),
        };
        for (label, n) in &from.finals {
            negated.finals.insert(label.clone(), -n);
        }
        delta.add(&negated);
        delta.finals.retain(|_, n| *n != 0);
        delta
    }

    /// Adds another change to this one.
    pub(crate) fn add(&mut self, other: &Counters) {
        self.total += other.total;
        self.pending += other.pending;
        self.window += other.window;
        self.active += other.active;
        for (label, by) in &other.finals {
            *self.finals.entry(label.clone()).or_default() += by;
        }
    }
}

/// The import holding a campaign's import lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ImportLock {
    pub(crate) id: String,
    /// When it was taken (nanoseconds).
    pub(crate) since: i64,
    /// Whether the import's commit point has passed (its leads must be
    /// published, never rolled back).
    pub(crate) committed: bool,
}

/// A lead item: the lead, and the import that staged it while unpublished.
#[derive(Clone, Debug)]
pub(crate) struct LeadRow {
    pub(crate) lead: Lead,
    pub(crate) staged: Option<String>,
}

/// One part of an import's journal: the leads it stages.
#[derive(Clone, Debug, Default)]
pub(crate) struct JournalPart {
    pub(crate) leads: Vec<(LeadId, E164)>,
}

fn campaign_row(item: &Item) -> Result<CampaignRow, StoreError> {
    let campaign: Campaign = decode("campaign", item)?;
    let mut counters = Counters {
        total: number(item, N_TOTAL).unwrap_or(0),
        pending: number(item, N_PENDING).unwrap_or(0),
        window: number(item, N_WINDOW).unwrap_or(0),
        active: number(item, N_ACTIVE).unwrap_or(0),
        finals: BTreeMap::new(),
    };
    for (name, value) in item {
        if let Some(label) = name.strip_prefix(F_PREFIX)
            && let Ok(count) = value.as_n().map(|v| v.parse::<i64>())
        {
            let count = count.map_err(|e| {
                StoreError::Corrupt(format!("campaign {}: counter {name}: {e}", campaign.id))
            })?;
            counters.finals.insert(label.to_string(), count);
        }
    }
    let import = text(item, IMP_ID).map(|id| ImportLock {
        id: id.to_string(),
        since: number(item, IMP_AT).unwrap_or(0),
        committed: text(item, IMP_STATE) == Some(COMMITTED),
    });
    Ok(CampaignRow {
        campaign,
        counters,
        import,
    })
}

fn lead_row(item: &Item) -> Result<LeadRow, StoreError> {
    Ok(LeadRow {
        lead: decode("lead", item)?,
        staged: text(item, IMP).map(str::to_string),
    })
}

// ------------------------------------------------------------------ items

fn campaign_item(campaign: &Campaign) -> Result<Item, StoreError> {
    let mut item = campaign_key(&campaign.id);
    item.insert(REC.into(), encode("campaign", campaign)?);
    item.insert(VER.into(), n(campaign.version));
    item.insert(index::BY_PARENT.1.into(), s(CAMPAIGNS));
    item.insert(index::BY_PARENT.2.into(), s(campaign_sort(campaign)));
    for counter in [N_TOTAL, N_PENDING, N_WINDOW, N_ACTIVE] {
        item.insert(counter.into(), n(0));
    }
    Ok(item)
}

fn campaign_sort(campaign: &Campaign) -> String {
    format!("{}#{}", sortable(campaign.created_at), campaign.id)
}

/// The attributes of a lead every item form carries.
fn lead_base(lead: &Lead) -> Result<Item, StoreError> {
    let mut item = lead_key(&lead.id);
    item.insert(REC.into(), encode("lead", lead)?);
    item.insert(VER.into(), n(lead.version));
    item.insert(CID.into(), s(lead.campaign_id.as_str()));
    item.insert(ST.into(), s(lead.state.label()));
    if let Some(attempt) = lead.state.active_attempt() {
        item.insert(ATT.into(), n(attempt));
    }
    Ok(item)
}

/// A published lead: in the campaign's listing, and in the `due` or
/// `lease` index by state.
fn lead_item(lead: &Lead) -> Result<Item, StoreError> {
    let mut item = lead_base(lead)?;
    item.insert(
        index::BY_PARENT.1.into(),
        s(leads_parent(&lead.campaign_id)),
    );
    item.insert(index::BY_PARENT.2.into(), s(lead.id.as_str()));
    match &lead.state {
        LeadState::Pending { due_at, .. } => {
            item.insert(index::DUE.1.into(), s(campaign_pk(&lead.campaign_id)));
            item.insert(
                index::DUE.2.into(),
                s(format!("{}#{}", sortable(*due_at), lead.id)),
            );
        }
        LeadState::Active { lease_until, .. } => {
            item.insert(index::LEASE.1.into(), s(lease_pk(&lead.id)));
            item.insert(
                index::LEASE.2.into(),
                s(format!("{}#{}", sortable(*lease_until), lead.id)),
            );
        }
        LeadState::Final { .. } => {}
    }
    Ok(item)
}

/// A staged lead: in no index, marked with its import.
fn staged_lead_item(lead: &Lead, import: &str) -> Result<Item, StoreError> {
    let mut item = lead_base(lead)?;
    item.insert(IMP.into(), s(import));
    Ok(item)
}

fn call_sort(call: &CallAttempt) -> String {
    format!("{}#{}", sortable(call.created_at), call.id)
}

fn call_item(call: &CallAttempt) -> Result<Item, StoreError> {
    let mut item = call_key(&call.id);
    item.insert(REC.into(), encode("call", call)?);
    item.insert(VER.into(), n(call.version));
    item.insert(CID.into(), s(call.campaign_id.as_str()));
    item.insert(LEAD.into(), s(call.lead_id.as_str()));
    item.insert(ST.into(), s(call.state.label()));
    item.insert(TERM.into(), AttributeValue::Bool(call.state.is_terminal()));
    item.insert(
        index::BY_PARENT.1.into(),
        s(calls_parent(&call.campaign_id)),
    );
    item.insert(index::BY_PARENT.2.into(), s(call_sort(call)));
    if !call.state.is_terminal() {
        item.insert(index::LIVE.1.into(), s(live_pk(&call.campaign_id)));
        item.insert(
            index::LIVE.2.into(),
            s(format!("{}#{}", call.campaign_id, call_sort(call))),
        );
    }
    Ok(item)
}

// ------------------------------------------------------------------ expressions

/// An expression with its placeholders.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: Item,
}

impl Expr {
    /// A placeholder for an attribute name (every name goes through one, so
    /// no reserved word can bite).
    fn name(&mut self, attribute: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| *a == attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#a{}", self.names.len());
        self.names
            .insert(placeholder.clone(), attribute.to_string());
        placeholder
    }

    /// A placeholder for a value.
    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<Item> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

// ------------------------------------------------------------------ writes

/// What a conditional lead write expects to find.
#[derive(Clone, Debug)]
pub(crate) enum LeadExpect {
    /// A published lead at `version` in state `state` (and holding the slot
    /// for `attempt`, when given).
    Published {
        version: u64,
        state: &'static str,
        attempt: Option<u32>,
    },
    /// A lead staged by `import` at `version` (publishing it).
    Staged { import: String, version: u64 },
}

/// What a conditional call write expects to find.
#[derive(Clone, Debug)]
pub(crate) enum CallExpect {
    /// No call with this id.
    Absent,
    /// A live call at `version`.
    Live { version: u64 },
    /// A terminal call at `version` in state `state`.
    Terminal { version: u64, state: &'static str },
}

/// One conditional write, alone or inside a transaction.
// Writes live for one request each; boxing the records would only add
// allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(crate) enum Write {
    /// A new campaign, with zero counters.
    InsertCampaign(Campaign),
    /// The campaign record (counters untouched), over `from_version`.
    UpdateCampaign {
        campaign: Campaign,
        from_version: u64,
    },
    /// Changes a campaign's counters. With `cap`, only while the active
    /// count stays at or below it after the change (the concurrency cap);
    /// with `commit_import`, only while that import holds the lock, which
    /// it marks committed.
    Counters {
        campaign: CampaignId,
        delta: Counters,
        cap: Option<u32>,
        commit_import: Option<String>,
    },
    /// Frees a campaign's import lock held by `import`.
    /// Corrects a campaign's counters by `delta`, only while they still
    /// hold what was `read` (total, pending, active).
    RepairCounters {
        campaign: CampaignId,
        read: Counters,
        delta: Counters,
    },
    UnlockImport {
        campaign: CampaignId,
        import: String,
    },
    /// A lead written whole (published) over what `expect` says.
    PutLead { lead: Lead, expect: LeadExpect },
    /// A new lead, staged by `import`, if the id is free.
    StageLead { lead: Lead, import: String },
    /// A new (campaign, number) uniqueness item, staged by `import`.
    StagePhone {
        campaign: CampaignId,
        phone: E164,
        lead: LeadId,
        import: String,
    },
    /// Publishes a phone item staged by `import`.
    PublishPhone {
        campaign: CampaignId,
        phone: E164,
        import: String,
    },
    /// Deletes a lead staged by `import`.
    UnstageLead { lead: LeadId, import: String },
    /// Deletes a phone item staged by `import`.
    UnstagePhone {
        campaign: CampaignId,
        phone: E164,
        import: String,
    },
    /// A call written whole over what `expect` says.
    PutCall {
        call: CallAttempt,
        expect: CallExpect,
    },
    /// Only a check, in a transaction: no call attempt record has this id.
    NoCall(CallId),
    /// A do-not-call entry, if absent.
    AddDnc {
        scope: DncScope,
        number: E164,
        now: Timestamp,
    },
    /// Deletes a published lead at `version` that holds no slot.
    DeleteLead { lead: LeadId, version: u64 },
    /// Deletes a call at `version`.
    DeleteCall { call: CallId, version: u64 },
    /// Deletes a (campaign, number) uniqueness item.
    DeletePhone { campaign: CampaignId, phone: E164 },
    /// Deletes a do-not-call entry.
    DeleteDnc { scope: DncScope, number: E164 },
    /// A suppression digest (idempotent).
    PutSuppression {
        scope: DncScope,
        digest: SuppressionDigest,
        now: Timestamp,
    },
    /// An erasure's tombstone.
    PutTombstone(Tombstone),
    /// An API key: new (`from_version: None`) or over the version read.
    PutApiKey {
        key: ApiKey,
        from_version: Option<u64>,
    },
    /// An audit entry.
    PutAudit(AuditEntry),
    /// An AI agent version's item, if absent.
    PutAiAgentVersion(AiAgent),
    /// An AI agent's head item: new for version 1, else over the previous
    /// version of the same organisation.
    PutAiAgentHead(AiAgent),
    /// A lead import's record: new (`from_version: None`) or over the
    /// version read.
    PutLeadImport {
        import: Box<LeadImport>,
        from_version: Option<u64>,
    },
    /// A retention entry.
    PutPurge { call: CallId, due_at: Timestamp },
    /// Deletes a retention entry.
    DeletePurge { call: CallId, due_at: Timestamp },
    /// The marker of an aggregate event, if absent.
    MarkAggregate { call: CallId, kind: &'static str },
    /// Adds counters to one aggregate bucket (creating it).
    AddAggregate {
        org: OrgId,
        dimension: String,
        width: Granularity,
        start: Timestamp,
        counters: Vec<(String, i64)>,
    },
}

enum Action {
    Check { key: Item },
    Put(Item),
    Update { key: Item, update: String },
    Delete { key: Item },
}

/// A write rendered for the SDK.
struct Op {
    action: Action,
    condition: Option<String>,
    expr: Expr,
}

/// `name :value` pairs adding `delta` to a campaign's counters.
fn counter_adds(e: &mut Expr, delta: &Counters) -> Vec<String> {
    let mut adds = Vec::new();
    for (attribute, by) in [
        (N_TOTAL, delta.total),
        (N_PENDING, delta.pending),
        (N_WINDOW, delta.window),
        (N_ACTIVE, delta.active),
    ] {
        if by != 0 {
            adds.push(format!("{} {}", e.name(attribute), e.value(n(by))));
        }
    }
    for (label, by) in &delta.finals {
        if *by != 0 {
            let attribute = format!("{F_PREFIX}{label}");
            adds.push(format!("{} {}", e.name(&attribute), e.value(n(*by))));
        }
    }
    adds
}

fn render(write: &Write) -> Result<Op, StoreError> {
    let mut e = Expr::default();
    let (action, condition) = match write {
        Write::InsertCampaign(campaign) => {
            let cond = format!("attribute_not_exists({})", e.name(PK));
            (Action::Put(campaign_item(campaign)?), Some(cond))
        }
        Write::UpdateCampaign {
            campaign,
            from_version,
        } => {
            let update = format!(
                "SET {} = {}, {} = {}, {} = {}",
                e.name(REC),
                e.value(encode("campaign", campaign)?),
                e.name(VER),
                e.value(n(campaign.version)),
                e.name(index::BY_PARENT.2),
                e.value(s(campaign_sort(campaign))),
            );
            let cond = format!(
                "attribute_exists({}) AND {} = {}",
                e.name(PK),
                e.name(VER),
                e.value(n(*from_version))
            );
            let key = campaign_key(&campaign.id);
            (Action::Update { key, update }, Some(cond))
        }
        Write::Counters {
            campaign,
            delta,
            cap,
            commit_import,
        } => {
            let adds = counter_adds(&mut e, delta);
            let mut clauses = Vec::new();
            if !adds.is_empty() {
                clauses.push(format!("ADD {}", adds.join(", ")));
            }
            let mut conds = vec![format!("attribute_exists({})", e.name(PK))];
            if let Some(cap) = cap {
                // active + delta.active <= cap, written without arithmetic.
                let ceiling = i64::from(*cap) - delta.active;
                conds.push(format!("{} <= {}", e.name(N_ACTIVE), e.value(n(ceiling))));
            }
            if let Some(import) = commit_import {
                conds.push(format!("{} = {}", e.name(IMP_ID), e.value(s(import))));
                clauses.push(format!(
                    "SET {} = {}",
                    e.name(IMP_STATE),
                    e.value(s(COMMITTED))
                ));
            }
            if clauses.is_empty() {
                return Err(StoreError::Invalid(
                    "a counter write that changes nothing".into(),
                ));
            }
            let key = campaign_key(campaign);
            (
                Action::Update {
                    key,
                    update: clauses.join(" "),
                },
                Some(conds.join(" AND ")),
            )
        }
        Write::RepairCounters {
            campaign,
            read,
            delta,
        } => {
            let adds = counter_adds(&mut e, delta);
            if adds.is_empty() {
                return Err(StoreError::Invalid(
                    "a counter repair that changes nothing".into(),
                ));
            }
            let mut conds = vec![format!("attribute_exists({})", e.name(PK))];
            for (attribute, value) in [
                (N_TOTAL, read.total),
                (N_PENDING, read.pending),
                (N_ACTIVE, read.active),
            ] {
                let name = e.name(attribute);
                let equal = format!("{name} = {}", e.value(n(value)));
                // An attribute never added to reads as zero.
                conds.push(if value == 0 {
                    format!("(attribute_not_exists({name}) OR {equal})")
                } else {
                    equal
                });
            }
            let key = campaign_key(campaign);
            let update = format!("ADD {}", adds.join(", "));
            (Action::Update { key, update }, Some(conds.join(" AND ")))
        }
        Write::UnlockImport { campaign, import } => {
            let update = format!(
                "REMOVE {}, {}, {}",
                e.name(IMP_ID),
                e.name(IMP_AT),
                e.name(IMP_STATE)
            );
            let cond = format!("{} = {}", e.name(IMP_ID), e.value(s(import)));
            let key = campaign_key(campaign);
            (Action::Update { key, update }, Some(cond))
        }
        Write::PutLead { lead, expect } => {
            let cond = match expect {
                LeadExpect::Published {
                    version,
                    state,
                    attempt,
                } => {
                    let mut cond = format!(
                        "{} = {} AND {} = {} AND attribute_not_exists({})",
                        e.name(VER),
                        e.value(n(*version)),
                        e.name(ST),
                        e.value(s(*state)),
                        e.name(IMP)
                    );
                    if let Some(attempt) = attempt {
                        cond.push_str(&format!(" AND {} = {}", e.name(ATT), e.value(n(*attempt))));
                    }
                    cond
                }
                LeadExpect::Staged { import, version } => format!(
                    "{} = {} AND {} = {}",
                    e.name(IMP),
                    e.value(s(import)),
                    e.name(VER),
                    e.value(n(*version))
                ),
            };
            (Action::Put(lead_item(lead)?), Some(cond))
        }
        Write::StageLead { lead, import } => {
            let cond = format!("attribute_not_exists({})", e.name(PK));
            (Action::Put(staged_lead_item(lead, import)?), Some(cond))
        }
        Write::StagePhone {
            campaign,
            phone,
            lead,
            import,
        } => {
            let mut item = phone_key(campaign, phone);
            item.insert(LEAD.into(), s(lead.as_str()));
            item.insert(IMP.into(), s(import));
            let cond = format!("attribute_not_exists({})", e.name(PK));
            (Action::Put(item), Some(cond))
        }
        Write::PublishPhone {
            campaign,
            phone,
            import,
        } => {
            let update = format!("REMOVE {}", e.name(IMP));
            let cond = format!("{} = {}", e.name(IMP), e.value(s(import)));
            let key = phone_key(campaign, phone);
            (Action::Update { key, update }, Some(cond))
        }
        Write::UnstageLead { lead, import } => {
            let cond = format!("{} = {}", e.name(IMP), e.value(s(import)));
            (
                Action::Delete {
                    key: lead_key(lead),
                },
                Some(cond),
            )
        }
        Write::UnstagePhone {
            campaign,
            phone,
            import,
        } => {
            let cond = format!("{} = {}", e.name(IMP), e.value(s(import)));
            let key = phone_key(campaign, phone);
            (Action::Delete { key }, Some(cond))
        }
        Write::PutCall { call, expect } => {
            let cond = match expect {
                CallExpect::Absent => format!("attribute_not_exists({})", e.name(PK)),
                CallExpect::Live { version } => format!(
                    "{} = {} AND {} = {}",
                    e.name(VER),
                    e.value(n(*version)),
                    e.name(TERM),
                    e.value(AttributeValue::Bool(false))
                ),
                CallExpect::Terminal { version, state } => format!(
                    "{} = {} AND {} = {} AND {} = {}",
                    e.name(VER),
                    e.value(n(*version)),
                    e.name(TERM),
                    e.value(AttributeValue::Bool(true)),
                    e.name(ST),
                    e.value(s(*state))
                ),
            };
            (Action::Put(call_item(call)?), Some(cond))
        }
        Write::NoCall(id) => {
            let cond = format!("attribute_not_exists({})", e.name(PK));
            (Action::Check { key: call_key(id) }, Some(cond))
        }
        Write::AddDnc { scope, number, now } => {
            let mut item = dnc_key(scope, number);
            item.insert(ADDED.into(), n(nanos(*now)));
            let cond = format!("attribute_not_exists({})", e.name(PK));
            (Action::Put(item), Some(cond))
        }
        Write::DeleteLead { lead, version } => {
            let cond = format!(
                "{} = {} AND {} <> {} AND attribute_not_exists({})",
                e.name(VER),
                e.value(n(*version)),
                e.name(ST),
                e.value(s("active")),
                e.name(IMP)
            );
            (
                Action::Delete {
                    key: lead_key(lead),
                },
                Some(cond),
            )
        }
        Write::DeleteCall { call, version } => {
            let cond = format!("{} = {}", e.name(VER), e.value(n(*version)));
            (
                Action::Delete {
                    key: call_key(call),
                },
                Some(cond),
            )
        }
        Write::DeletePhone { campaign, phone } => (
            Action::Delete {
                key: phone_key(campaign, phone),
            },
            None,
        ),
        Write::DeleteDnc { scope, number } => (
            Action::Delete {
                key: dnc_key(scope, number),
            },
            None,
        ),
        Write::PutSuppression { scope, digest, now } => {
            let mut item = suppression_key(scope, digest);
            item.insert(ADDED.into(), n(nanos(*now)));
            (Action::Put(item), None)
        }
        Write::PutTombstone(tombstone) => {
            let mut item = tombstone_key(&tombstone.lead_id);
            item.insert(REC.into(), encode("tombstone", tombstone)?);
            (Action::Put(item), None)
        }
        Write::PutApiKey { key, from_version } => {
            let cond = match from_version {
                None => format!("attribute_not_exists({})", e.name(PK)),
                Some(version) => format!(
                    "attribute_exists({}) AND {} = {}",
                    e.name(PK),
                    e.name(VER),
                    e.value(n(*version))
                ),
            };
            (Action::Put(api_key_item(key)?), Some(cond))
        }
        Write::PutAudit(entry) => (Action::Put(audit_item(entry)?), None),
        Write::PutAiAgentVersion(agent) => {
            let cond = format!("attribute_not_exists({})", e.name(PK));
            (Action::Put(ai_agent_version_item(agent)?), Some(cond))
        }
        Write::PutAiAgentHead(agent) => {
            let cond = match agent.version.checked_sub(1).filter(|v| *v > 0) {
                None => format!("attribute_not_exists({})", e.name(PK)),
                Some(previous) => format!(
                    "{} = {} AND {} = {}",
                    e.name(VER),
                    e.value(n(previous)),
                    e.name(ORG),
                    e.value(s(agent.org_id.as_str()))
                ),
            };
            (Action::Put(ai_agent_head_item(agent)?), Some(cond))
        }
        Write::PutLeadImport {
            import,
            from_version,
        } => {
            let cond = match from_version {
                None => format!("attribute_not_exists({})", e.name(PK)),
                Some(version) => format!(
                    "attribute_exists({}) AND {} = {}",
                    e.name(PK),
                    e.name(VER),
                    e.value(n(*version))
                ),
            };
            (Action::Put(lead_import_item(import)?), Some(cond))
        }
        Write::PutPurge { call, due_at } => {
            let mut item = purge_key(call, *due_at);
            item.insert(CALL.into(), s(call.as_str()));
            (Action::Put(item), None)
        }
        Write::DeletePurge { call, due_at } => (
            Action::Delete {
                key: purge_key(call, *due_at),
            },
            None,
        ),
        Write::MarkAggregate { call, kind } => {
            let cond = format!("attribute_not_exists({})", e.name(PK));
            (Action::Put(aggregate_marker_key(call, kind)), Some(cond))
        }
        Write::AddAggregate {
            org,
            dimension,
            width,
            start,
            counters,
        } => {
            let mut update = format!(
                "SET {} = {}",
                e.name(AGG_START),
                e.value(n(start.timestamp()))
            );
            let adds: Vec<String> = counters
                .iter()
                .map(|(name, by)| {
                    let attribute = format!("{AGG_PREFIX}{name}");
                    format!("{} {}", e.name(&attribute), e.value(n(*by)))
                })
                .collect();
            if !adds.is_empty() {
                update.push_str(&format!(" ADD {}", adds.join(", ")));
            }
            let key = aggregate_key(org, dimension, *width, *start);
            (Action::Update { key, update }, None)
        }
    };
    Ok(Op {
        action,
        condition,
        expr: e,
    })
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::unavailable("cannot build a DynamoDB request", e)
}

impl Op {
    fn into_transact(self, table: &str) -> Result<TransactWriteItem, StoreError> {
        let names = self.expr.names();
        let values = self.expr.values();
        let item = match self.action {
            Action::Check { key } => TransactWriteItem::builder().condition_check(
                ConditionCheck::builder()
                    .table_name(table)
                    .set_key(Some(key))
                    .set_condition_expression(self.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(build_error)?,
            ),
            Action::Put(item) => TransactWriteItem::builder().put(
                Put::builder()
                    .table_name(table)
                    .set_item(Some(item))
                    .set_condition_expression(self.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(build_error)?,
            ),
            Action::Update { key, update } => TransactWriteItem::builder().update(
                Update::builder()
                    .table_name(table)
                    .set_key(Some(key))
                    .update_expression(update)
                    .set_condition_expression(self.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(build_error)?,
            ),
            Action::Delete { key } => TransactWriteItem::builder().delete(
                Delete::builder()
                    .table_name(table)
                    .set_key(Some(key))
                    .set_condition_expression(self.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(build_error)?,
            ),
        };
        Ok(item.build())
    }
}

/// Why one write of a canceled transaction did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cancel {
    /// Nothing wrong with this write (another one failed).
    None,
    /// Its condition was false.
    Condition,
    /// Another transaction was writing the same item.
    Conflict,
    /// Throttling, validation or another reason.
    Other,
}

/// A transaction that did not commit.
#[derive(Debug)]
pub(crate) enum TxError {
    /// Canceled, with one reason per write, in order.
    Canceled(Vec<Cancel>),
    /// The request failed.
    Store(StoreError),
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Store(e)
    }
}

/// How many times a single write is retried when it collides with a
/// transaction on the same item.
const BUSY_RETRIES: u32 = 8;

/// A short random pause that grows with `round` (collisions and throttling).
pub(crate) async fn backoff(round: u32) {
    use rand::RngExt;
    let ceiling = 5u64 << round.min(6);
    let millis = rand::rng().random_range(1..=ceiling.min(200));
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

// ------------------------------------------------------------------ the table

/// The voxdial table: the client and the table's name.
#[derive(Clone, Debug)]
pub(crate) struct Table {
    client: Client,
    name: String,
}

fn sdk<E, R>(what: &'static str) -> impl FnOnce(SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    move |e| StoreError::unavailable(what, e)
}

impl Table {
    pub(crate) fn new(client: Client, name: String) -> Table {
        Table { client, name }
    }

    /// The client and the table's name, for the routing state's own
    /// requests (`super::routing`).
    pub(crate) fn parts(&self) -> (&Client, &str) {
        (&self.client, &self.name)
    }

    /// Runs one conditional write: true if it happened, false if its
    /// condition was false.
    pub(crate) async fn write(&self, write: &Write) -> Result<bool, StoreError> {
        Ok(self.write_or_current(write).await?.is_ok())
    }

    /// [`Table::write`]; a put its condition refused returns the item as it
    /// stood then (`ReturnValuesOnConditionCheckFailure`, which consumes no
    /// read capacity: no read after the write), `None` when there was none
    /// (and for the other writes, which no caller needs it of).
    async fn write_or_current(
        &self,
        write: &Write,
    ) -> Result<Result<(), Option<Item>>, StoreError> {
        const ALL_OLD: ReturnValuesOnConditionCheckFailure =
            ReturnValuesOnConditionCheckFailure::AllOld;
        for round in 0.. {
            let op = render(write)?;
            let names = op.expr.names();
            let values = op.expr.values();
            // The item a refused condition saw.
            let mut current: Option<Item> = None;
            let result: Result<(), WriteFailure> = match op.action {
                Action::Check { .. } => {
                    return Err(StoreError::Invalid(
                        "a condition check only runs inside a transaction".into(),
                    ));
                }
                Action::Put(item) => self
                    .client
                    .put_item()
                    .table_name(&self.name)
                    .set_item(Some(item))
                    .set_condition_expression(op.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .return_values_on_condition_check_failure(ALL_OLD)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| {
                        let e = e.into_service_error();
                        if let PutItemError::ConditionalCheckFailedException(refused) = &e {
                            current = refused.item().cloned();
                        }
                        e.into()
                    }),
                Action::Update { key, update } => self
                    .client
                    .update_item()
                    .table_name(&self.name)
                    .set_key(Some(key))
                    .update_expression(update)
                    .set_condition_expression(op.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| e.into_service_error().into()),
                Action::Delete { key } => self
                    .client
                    .delete_item()
                    .table_name(&self.name)
                    .set_key(Some(key))
                    .set_condition_expression(op.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| e.into_service_error().into()),
            };
            match result {
                Ok(()) => return Ok(Ok(())),
                Err(e) => match classify(&e) {
                    Failure::Condition => return Ok(Err(current)),
                    Failure::Busy if round < BUSY_RETRIES => backoff(round).await,
                    _ => return Err(StoreError::unavailable("a DynamoDB write failed", e)),
                },
            }
        }
        unreachable!("the loop returns")
    }

    /// A conditional write of a call ([`Write::PutCall`]); refused, it
    /// returns the call as stored then (`None`: no call has its id).
    pub(crate) async fn write_call(
        &self,
        write: &Write,
    ) -> Result<Result<(), Option<CallAttempt>>, StoreError> {
        Ok(match self.write_or_current(write).await? {
            Ok(()) => Ok(()),
            Err(current) => Err(current.map(|item| decode("call", &item)).transpose()?),
        })
    }

    /// Runs writes as one transaction (at most 100).
    pub(crate) async fn transact(&self, writes: &[Write]) -> Result<(), TxError> {
        let items = writes
            .iter()
            .map(|w| render(w).and_then(|op| op.into_transact(&self.name)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match e.into_service_error() {
                TransactWriteItemsError::TransactionCanceledException(canceled) => {
                    let mut reasons: Vec<Cancel> = canceled
                        .cancellation_reasons()
                        .iter()
                        .map(|r| match r.code() {
                            None | Some("None") => Cancel::None,
                            Some("ConditionalCheckFailed") => Cancel::Condition,
                            Some("TransactionConflict") => Cancel::Conflict,
                            Some(_) => Cancel::Other,
                        })
                        .collect();
                    reasons.resize(writes.len(), Cancel::Other);
                    Err(TxError::Canceled(reasons))
                }
                other => Err(TxError::Store(StoreError::unavailable(
                    "a DynamoDB transaction failed",
                    other,
                ))),
            },
        }
    }

    // -------------------------------------------------------------- campaigns

    pub(crate) async fn campaign(
        &self,
        id: &CampaignId,
    ) -> Result<Option<CampaignRow>, StoreError> {
        self.get(campaign_key(id), "cannot read a campaign")
            .await?
            .map(|item| campaign_row(&item))
            .transpose()
    }

    pub(crate) async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        let (name, pk, _) = index::BY_PARENT;
        let items = self
            .query(Query::new(name, pk, s(CAMPAIGNS)).backward(), usize::MAX)
            .await?;
        items.iter().map(|item| decode("campaign", item)).collect()
    }

    /// Takes the campaign's import lock for `import` if it is free or was
    /// taken before `stale_before` (a crashed import). Returns `None` if the
    /// campaign does not exist or a live import holds the lock, else the
    /// lock it replaced (if any), which the caller must recover.
    pub(crate) async fn lock_import(
        &self,
        campaign: &CampaignId,
        import: &str,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<Option<Option<ImportLock>>, StoreError> {
        let mut e = Expr::default();
        let update = format!(
            "SET {} = {}, {} = {}, {} = {}",
            e.name(IMP_ID),
            e.value(s(import)),
            e.name(IMP_AT),
            e.value(n(nanos(now))),
            e.name(IMP_STATE),
            e.value(s(STAGING)),
        );
        let cond = format!(
            "attribute_exists({}) AND (attribute_not_exists({}) OR {} < {})",
            e.name(PK),
            e.name(IMP_ID),
            e.name(IMP_AT),
            e.value(n(nanos(stale_before)))
        );
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .set_key(Some(campaign_key(campaign)))
            .update_expression(update)
            .condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let old = output.attributes().and_then(|item| {
                    text(item, IMP_ID).map(|id| ImportLock {
                        id: id.to_string(),
                        since: number(item, IMP_AT).unwrap_or(0),
                        committed: text(item, IMP_STATE) == Some(COMMITTED),
                    })
                });
                Ok(Some(old))
            }
            Err(e) => {
                let e = e.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    Ok(None)
                } else {
                    Err(StoreError::unavailable("cannot take an import lock", e))
                }
            }
        }
    }

    // -------------------------------------------------------------- leads

    pub(crate) async fn lead(&self, id: &LeadId) -> Result<Option<LeadRow>, StoreError> {
        self.get(lead_key(id), "cannot read a lead")
            .await?
            .map(|item| lead_row(&item))
            .transpose()
    }

    /// A lead and a campaign in one strongly consistent `BatchGetItem`.
    pub(crate) async fn lead_and_campaign(
        &self,
        lead: &LeadId,
        campaign: &CampaignId,
    ) -> Result<(Option<LeadRow>, Option<CampaignRow>), StoreError> {
        let keys = vec![lead_key(lead), campaign_key(campaign)];
        let (mut lead, mut campaign) = (None, None);
        for item in self
            .batch_get(keys, "cannot read a lead and its campaign")
            .await?
        {
            if text(&item, SK) == Some("L") {
                lead = Some(lead_row(&item)?);
            } else {
                campaign = Some(campaign_row(&item)?);
            }
        }
        Ok((lead, campaign))
    }

    /// Reads leads by id (any order; missing ones are left out).
    pub(crate) async fn leads_by_id(&self, ids: &[LeadId]) -> Result<Vec<LeadRow>, StoreError> {
        let keys = ids.iter().map(lead_key).collect();
        self.batch_get(keys, "cannot read leads")
            .await?
            .iter()
            .map(lead_row)
            .collect()
    }

    /// A campaign's published leads in id order, after `after`.
    pub(crate) async fn campaign_leads(
        &self,
        campaign: &CampaignId,
        after: Option<&LeadId>,
        limit: usize,
    ) -> Result<Vec<Lead>, StoreError> {
        let (name, pk, sk) = index::BY_PARENT;
        let mut query = Query::new(name, pk, s(leads_parent(campaign)));
        if let Some(after) = after {
            query = query.sort(sk, ">", s(after.as_str()));
        }
        let items = self.query(query, limit).await?;
        items.iter().map(|item| decode("lead", item)).collect()
    }

    /// A campaign's pending leads, earliest due first; only those due by
    /// `due_by` when given.
    pub(crate) async fn due_leads(
        &self,
        campaign: &CampaignId,
        due_by: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<Lead>, StoreError> {
        let (name, pk, sk) = index::DUE;
        let mut query = Query::new(name, pk, s(campaign_pk(campaign)));
        if let Some(due_by) = due_by {
            // `~` sorts after every id character: every lead due at `due_by`.
            query = query.sort(sk, "<=", s(format!("{}#~", sortable(due_by))));
        }
        let items = self.query(query, limit).await?;
        items.iter().map(|item| decode("lead", item)).collect()
    }

    /// Active leads whose lease ended before `now`, earliest first, across
    /// every shard.
    pub(crate) async fn expired_leases(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Lead>, StoreError> {
        let (name, pk, sk) = index::LEASE;
        let mut sorted = Vec::new();
        for shard in 0..SHARDS {
            let query =
                Query::new(name, pk, s(format!("LEASE#{shard}"))).sort(sk, "<", s(sortable(now)));
            for item in self.query(query, limit).await? {
                let order = text(&item, sk).unwrap_or_default().to_string();
                sorted.push((order, decode::<Lead>("lead", &item)?));
            }
        }
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(sorted.into_iter().take(limit).map(|(_, l)| l).collect())
    }

    /// Which of `phones` the campaign has a lead for; the staging import
    /// of each unpublished one.
    pub(crate) async fn phones(
        &self,
        campaign: &CampaignId,
        phones: &[E164],
    ) -> Result<HashMap<E164, Option<String>>, StoreError> {
        let keys = phones.iter().map(|p| phone_key(campaign, p)).collect();
        let items = self.batch_get(keys, "cannot read lead numbers").await?;
        let prefix = format!("P#{campaign}#");
        let mut found = HashMap::new();
        for item in items {
            let number = text(&item, PK)
                .and_then(|pk| pk.strip_prefix(&prefix))
                .and_then(|raw| E164::parse(raw, None).ok())
                .ok_or_else(|| StoreError::Corrupt("a phone item with a bad key".into()))?;
            found.insert(number, text(&item, IMP).map(str::to_string));
        }
        Ok(found)
    }

    // -------------------------------------------------------------- import journal

    /// Writes an import's journal (the leads it will stage), in parts.
    pub(crate) async fn put_journal(
        &self,
        import: &str,
        campaign: &CampaignId,
        parts: &[JournalPart],
    ) -> Result<(), StoreError> {
        let mut requests = Vec::new();
        for (n_part, part) in parts.iter().enumerate() {
            let mut item = key(journal_pk(import), &format!("J#{n_part:05}"));
            item.insert(CID.into(), s(campaign.as_str()));
            item.insert(
                J_IDS.into(),
                AttributeValue::L(part.leads.iter().map(|(id, _)| s(id.as_str())).collect()),
            );
            item.insert(
                J_PHONES.into(),
                AttributeValue::L(part.leads.iter().map(|(_, p)| s(p.as_str())).collect()),
            );
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(build_error)?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        self.batch_write(requests).await
    }

    /// Reads an import's journal.
    pub(crate) async fn journal(&self, import: &str) -> Result<Vec<JournalPart>, StoreError> {
        let query = Query::table(PK, s(journal_pk(import)));
        let items = self.query(query, usize::MAX).await?;
        items
            .iter()
            .map(|item| {
                let ids = strings(item, J_IDS);
                let phones = strings(item, J_PHONES);
                if !item.contains_key(J_PHONES) {
                    // Closed after publishing (numbers removed): nothing
                    // left to publish or roll back.
                    return Ok(JournalPart::default());
                }
                if ids.len() != phones.len() {
                    return Err(StoreError::Corrupt(format!(
                        "import {import}: a bad journal part"
                    )));
                }
                let leads = ids
                    .into_iter()
                    .zip(phones)
                    .map(|(id, phone)| {
                        let id = LeadId::parse(id)
                            .map_err(|e| StoreError::Corrupt(format!("import {import}: {e}")))?;
                        let phone = E164::parse(&phone, None)
                            .map_err(|e| StoreError::Corrupt(format!("import {import}: {e}")))?;
                        Ok((id, phone))
                    })
                    .collect::<Result<_, StoreError>>()?;
                Ok(JournalPart { leads })
            })
            .collect()
    }

    /// Ends an import's journal: deleted when the import was rolled back,
    /// kept `keep` (a DynamoDB TTL) as a record of a published import.
    pub(crate) async fn close_journal(
        &self,
        import: &str,
        keep: Option<(Timestamp, Duration)>,
    ) -> Result<(), StoreError> {
        let query = Query::table(PK, s(journal_pk(import)));
        let items = self.query(query, usize::MAX).await?;
        match keep {
            None => {
                let mut requests = Vec::new();
                for item in items {
                    let key: Item = item
                        .into_iter()
                        .filter(|(name, _)| name == PK || name == SK)
                        .collect();
                    let delete = aws_sdk_dynamodb::types::DeleteRequest::builder()
                        .set_key(Some(key))
                        .build()
                        .map_err(build_error)?;
                    requests.push(WriteRequest::builder().delete_request(delete).build());
                }
                self.batch_write(requests).await
            }
            Some((now, keep)) => {
                let expires = now.timestamp().saturating_add(keep.as_secs() as i64);
                for item in items {
                    let key: Item = item
                        .into_iter()
                        .filter(|(name, _)| name == PK || name == SK)
                        .collect();
                    let mut e = Expr::default();
                    // The kept record names the leads, not their numbers:
                    // an erased lead's number must not outlive it here.
                    let update = format!(
                        "SET {} = {} REMOVE {}",
                        e.name(TTL),
                        e.value(n(expires)),
                        e.name(J_PHONES)
                    );
                    self.client
                        .update_item()
                        .table_name(&self.name)
                        .set_key(Some(key))
                        .update_expression(update)
                        .set_expression_attribute_names(e.names())
                        .set_expression_attribute_values(e.values())
                        .send()
                        .await
                        .map_err(sdk("cannot close an import journal"))?;
                }
                Ok(())
            }
        }
    }

    // -------------------------------------------------------------- calls

    pub(crate) async fn call(&self, id: &CallId) -> Result<Option<CallAttempt>, StoreError> {
        self.get(call_key(id), "cannot read a call")
            .await?
            .map(|item| decode("call", &item))
            .transpose()
    }

    /// A campaign's calls, newest first, older than the call `before`
    /// (created at `before.0`) when given.
    pub(crate) async fn campaign_calls(
        &self,
        campaign: &CampaignId,
        before: Option<&CallAttempt>,
        limit: usize,
    ) -> Result<Vec<CallAttempt>, StoreError> {
        let (name, pk, sk) = index::BY_PARENT;
        let mut query = Query::new(name, pk, s(calls_parent(campaign))).backward();
        if let Some(before) = before {
            query = query.sort(sk, "<", s(call_sort(before)));
        }
        let items = self.query(query, limit).await?;
        items.iter().map(|item| decode("call", item)).collect()
    }

    /// Live calls of one campaign, or of all (every shard), oldest first.
    pub(crate) async fn live_calls(
        &self,
        campaign: Option<&CampaignId>,
    ) -> Result<Vec<CallAttempt>, StoreError> {
        let (name, pk, sk) = index::LIVE;
        let queries: Vec<Query> = match campaign {
            Some(c) => {
                vec![Query::new(name, pk, s(live_pk(c))).begins_with(sk, s(format!("{c}#")))]
            }
            None => (0..SHARDS)
                .map(|shard| Query::new(name, pk, s(format!("LIVE#{shard}"))))
                .collect(),
        };
        let mut calls = Vec::new();
        for query in queries {
            for item in self.query(query, usize::MAX).await? {
                calls.push(decode::<CallAttempt>("call", &item)?);
            }
        }
        calls.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(calls)
    }

    // -------------------------------------------------------------- privacy

    /// Reads calls by id (missing ones are left out).
    pub(crate) async fn calls_by_id(&self, ids: &[CallId]) -> Result<Vec<CallAttempt>, StoreError> {
        let keys = ids.iter().map(call_key).collect();
        self.batch_get(keys, "cannot read calls")
            .await?
            .iter()
            .map(|item| decode("call", item))
            .collect()
    }

    /// Which of the organisation's list and `campaign`'s list hold `number`.
    pub(crate) async fn dnc_scopes(
        &self,
        org: &OrgId,
        campaign: &CampaignId,
        number: &E164,
    ) -> Result<Vec<DncScope>, StoreError> {
        let hit = self.dnc_hit(org, campaign, number).await?;
        let mut scopes = Vec::new();
        if hit.global {
            scopes.push(DncScope::Organisation(org.clone()));
        }
        if hit.campaign {
            scopes.push(DncScope::Campaign(campaign.clone()));
        }
        Ok(scopes)
    }

    // ----------------------------------------------------------- imports

    pub(crate) async fn lead_import(
        &self,
        id: &ImportId,
    ) -> Result<Option<LeadImport>, StoreError> {
        self.get(lead_import_key(id), "cannot read an import")
            .await?
            .map(|item| decode("import", &item))
            .transpose()
    }

    // -------------------------------------------------------------- keys

    pub(crate) async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        self.get(api_key_key(id), "cannot read an API key")
            .await?
            .map(|item| decode("API key", &item))
            .transpose()
    }

    /// The keys of `org` (every key when `None`), by id, up to `limit`.
    pub(crate) async fn api_keys(
        &self,
        org: Option<&OrgId>,
        limit: usize,
    ) -> Result<Vec<ApiKey>, StoreError> {
        let (name, pk, sk) = index::BY_PARENT;
        let mut query = Query::new(name, pk, s(KEYS));
        if let Some(org) = org {
            query = query.begins_with(sk, s(format!("{org}#")));
        }
        let items = self.query(query, limit).await?;
        items.iter().map(|item| decode("API key", item)).collect()
    }

    /// The newest `limit` audit entries of `org`.
    pub(crate) async fn audit(
        &self,
        org: &OrgId,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let query = Query::table(PK, s(audit_pk(org))).backward();
        let items = self.query(query, limit).await?;
        items
            .iter()
            .map(|item| decode("audit entry", item))
            .collect()
    }

    // -------------------------------------------------------------- AI agents

    /// One version of an agent, or its latest (the head item).
    pub(crate) async fn ai_agent(
        &self,
        id: &AgentId,
        version: Option<u32>,
    ) -> Result<Option<AiAgent>, StoreError> {
        let key = match version {
            None => ai_agent_head_key(id),
            Some(version) => ai_agent_version_key(id, version),
        };
        self.get(key, "cannot read an AI agent")
            .await?
            .map(|item| decode("AI agent", &item))
            .transpose()
    }

    /// The latest version of every agent of `org`, by id.
    pub(crate) async fn ai_agents(&self, org: &OrgId) -> Result<Vec<AiAgent>, StoreError> {
        let (name, pk, sk) = index::BY_PARENT;
        let query = Query::new(name, pk, s(AI_AGENTS)).begins_with(sk, s(format!("{org}#")));
        let items = self.query(query, usize::MAX).await?;
        items.iter().map(|item| decode("AI agent", item)).collect()
    }

    pub(crate) async fn tombstone(&self, lead: &LeadId) -> Result<Option<Tombstone>, StoreError> {
        self.get(tombstone_key(lead), "cannot read a tombstone")
            .await?
            .map(|item| decode("tombstone", &item))
            .transpose()
    }

    pub(crate) async fn suppressed(
        &self,
        org: &OrgId,
        campaign: &CampaignId,
        digest: &SuppressionDigest,
    ) -> Result<DncHit, StoreError> {
        let global = suppression_key(&DncScope::Organisation(org.clone()), digest);
        let global_pk = text(&global, PK).unwrap_or_default().to_string();
        let keys = vec![
            global,
            suppression_key(&DncScope::Campaign(campaign.clone()), digest),
        ];
        let items = self.batch_get(keys, "cannot read the suppressions").await?;
        let mut hit = DncHit::default();
        for item in items {
            if text(&item, PK) == Some(global_pk.as_str()) {
                hit.global = true;
            } else {
                hit.campaign = true;
            }
        }
        Ok(hit)
    }

    /// Retention entries due before `now`, earliest first, across shards.
    pub(crate) async fn due_purges(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<PurgeDue>, StoreError> {
        let mut due = Vec::new();
        for shard in 0..SHARDS {
            let query = Query::table(PK, s(format!("R#{shard}"))).sort(SK, "<", s(sortable(now)));
            for item in self.query(query, limit).await? {
                let order = text(&item, SK).unwrap_or_default().to_string();
                let call = text(&item, CALL)
                    .and_then(|c| CallId::parse(c).ok())
                    .ok_or_else(|| {
                        StoreError::Corrupt("a retention entry without a call".into())
                    })?;
                let nanos: i128 = order
                    .split('#')
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .map(|n| i128::from(n) + i128::from(i64::MIN))
                    .ok_or_else(|| {
                        StoreError::Corrupt("a retention entry without a time".into())
                    })?;
                let at = chrono::DateTime::from_timestamp_nanos(
                    i64::try_from(nanos).unwrap_or(i64::MAX),
                );
                due.push((
                    order,
                    PurgeDue {
                        call_id: call,
                        due_at: at,
                    },
                ));
            }
        }
        due.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(due.into_iter().take(limit).map(|(_, p)| p).collect())
    }

    // -------------------------------------------------------------- aggregates

    /// The buckets of one series whose start lies in `[from, to)`, oldest
    /// first, as (start, counters).
    pub(crate) async fn aggregate_buckets(
        &self,
        org: &OrgId,
        dimension: &str,
        width: Granularity,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(Timestamp, Vec<(String, i64)>)>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let last = to - chrono::Duration::nanoseconds(1);
        let query = Query::table(PK, s(aggregate_pk(org, dimension, width))).between(
            SK,
            s(sortable(from)),
            s(sortable(last)),
        );
        let items = self.query(query, usize::MAX).await?;
        items
            .iter()
            .map(|item| {
                let start = number::<i64>(item, AGG_START)
                    .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
                    .ok_or_else(|| {
                        StoreError::Corrupt("an aggregate bucket without a start".into())
                    })?;
                let mut counters = Vec::new();
                for (name, value) in item {
                    if let Some(counter) = name.strip_prefix(AGG_PREFIX) {
                        let value = value
                            .as_n()
                            .ok()
                            .and_then(|v| v.parse::<i64>().ok())
                            .ok_or_else(|| {
                                StoreError::Corrupt(format!("aggregate counter {counter:?}"))
                            })?;
                        counters.push((counter.to_string(), value));
                    }
                }
                Ok((start, counters))
            })
            .collect()
    }

    // -------------------------------------------------------------- DNC

    pub(crate) async fn remove_dnc(
        &self,
        scope: &DncScope,
        number: &E164,
    ) -> Result<bool, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.name)
            .set_key(Some(dnc_key(scope, number)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk("cannot remove from a do-not-call list"))?;
        Ok(output.attributes().is_some_and(|a| !a.is_empty()))
    }

    pub(crate) async fn dnc_hit(
        &self,
        org: &OrgId,
        campaign: &CampaignId,
        number: &E164,
    ) -> Result<DncHit, StoreError> {
        let org = DncScope::Organisation(org.clone());
        let global = dnc_pk(&org, number);
        let keys = vec![
            dnc_key(&org, number),
            dnc_key(&DncScope::Campaign(campaign.clone()), number),
        ];
        let items = self
            .batch_get(keys, "cannot read the do-not-call lists")
            .await?;
        let mut hit = DncHit::default();
        for item in items {
            if text(&item, PK) == Some(global.as_str()) {
                hit.global = true;
            } else {
                hit.campaign = true;
            }
        }
        Ok(hit)
    }

    // -------------------------------------------------------------- plumbing

    async fn get(&self, key: Item, what: &'static str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk(what))?;
        Ok(output.item().cloned())
    }

    /// Strongly consistent reads of many keys (duplicates allowed).
    async fn batch_get(
        &self,
        keys: Vec<Item>,
        what: &'static str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut unique: Vec<Item> = Vec::new();
        let mut seen = BTreeSet::new();
        for key in keys {
            let id = (
                text(&key, PK).map(str::to_string),
                text(&key, SK).map(str::to_string),
            );
            if seen.insert(id) {
                unique.push(key);
            }
        }
        let mut found = Vec::new();
        for chunk in unique.chunks(100) {
            let mut pending = chunk.to_vec();
            let mut round = 0;
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .consistent_read(true)
                    .build()
                    .map_err(build_error)?;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.name, request)
                    .send()
                    .await
                    .map_err(sdk(what))?;
                if let Some(items) = output.responses().and_then(|r| r.get(&self.name)) {
                    found.extend(items.iter().cloned());
                }
                pending = output
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.name))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
                if !pending.is_empty() {
                    backoff(round).await;
                    round += 1;
                }
            }
        }
        Ok(found)
    }

    /// Writes whole aggregate buckets, each replacing its item (test
    /// support: one `BatchWriteItem` per 25 buckets, where recording the
    /// events that sum to them costs one transaction per event).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) async fn put_aggregate_buckets(
        &self,
        org: &OrgId,
        buckets: impl IntoIterator<Item = (String, Granularity, Timestamp, Vec<(String, i64)>)>,
    ) -> Result<(), StoreError> {
        let mut requests = Vec::new();
        for (dimension, width, start, counters) in buckets {
            let mut item = aggregate_key(org, &dimension, width, start);
            item.insert(AGG_START.into(), n(start.timestamp()));
            for (name, value) in counters {
                item.insert(format!("{AGG_PREFIX}{name}"), n(value));
            }
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(build_error)?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        self.batch_write(requests).await
    }

    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            let mut round = 0;
            while !pending.is_empty() {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.name, pending)
                    .send()
                    .await
                    .map_err(sdk("a DynamoDB batch write failed"))?;
                pending = output
                    .unprocessed_items()
                    .and_then(|u| u.get(&self.name))
                    .cloned()
                    .unwrap_or_default();
                if !pending.is_empty() {
                    backoff(round).await;
                    round += 1;
                }
            }
        }
        Ok(())
    }

    /// Runs a query to the end or until `limit` items.
    async fn query(&self, query: Query, limit: usize) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        if limit == 0 {
            return Ok(items);
        }
        loop {
            let mut e = Expr::default();
            let mut condition =
                format!("{} = {}", e.name(query.pk), e.value(query.pk_value.clone()));
            if let Some((sk, op, value)) = &query.sort {
                let name = e.name(sk);
                match (*op, value) {
                    ("BETWEEN", AttributeValue::L(bounds)) if bounds.len() == 2 => {
                        let low = e.value(bounds[0].clone());
                        let high = e.value(bounds[1].clone());
                        condition.push_str(&format!(" AND {name} BETWEEN {low} AND {high}"));
                    }
                    ("begins_with", _) => {
                        let value = e.value(value.clone());
                        condition.push_str(&format!(" AND begins_with({name}, {value})"));
                    }
                    _ => {
                        let value = e.value(value.clone());
                        condition.push_str(&format!(" AND {name} {op} {value}"));
                    }
                }
            }
            let page = i32::try_from(limit.saturating_sub(items.len()))
                .unwrap_or(i32::MAX)
                .min(1000);
            let output = self
                .client
                .query()
                .table_name(&self.name)
                .set_index_name(query.index.map(str::to_string))
                .key_condition_expression(condition)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .scan_index_forward(query.forward)
                .consistent_read(query.index.is_none())
                .limit(page)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk("a DynamoDB query failed"))?;
            items.extend(output.items().iter().cloned());
            match output.last_evaluated_key() {
                Some(key) if items.len() < limit => start = Some(key.clone()),
                _ => break,
            }
        }
        items.truncate(limit);
        Ok(items)
    }
}

/// A key condition on the table or an index.
struct Query {
    index: Option<&'static str>,
    pk: &'static str,
    pk_value: AttributeValue,
    sort: Option<(&'static str, &'static str, AttributeValue)>,
    forward: bool,
}

impl Query {
    fn new(index: &'static str, pk: &'static str, value: AttributeValue) -> Query {
        Query {
            index: Some(index),
            pk,
            pk_value: value,
            sort: None,
            forward: true,
        }
    }

    fn table(pk: &'static str, value: AttributeValue) -> Query {
        Query {
            index: None,
            ..Query::new("", pk, value)
        }
    }

    fn sort(mut self, sk: &'static str, op: &'static str, value: AttributeValue) -> Query {
        self.sort = Some((sk, op, value));
        self
    }

    fn begins_with(self, sk: &'static str, value: AttributeValue) -> Query {
        self.sort(sk, "begins_with", value)
    }

    /// Sort keys from `low` to `high`, both included (the two bounds ride
    /// as a list until the condition is rendered).
    fn between(self, sk: &'static str, low: AttributeValue, high: AttributeValue) -> Query {
        self.sort(sk, "BETWEEN", AttributeValue::L(vec![low, high]))
    }

    fn backward(mut self) -> Query {
        self.forward = false;
        self
    }
}

/// How a single write failed.
enum Failure {
    Condition,
    Busy,
    Other,
}

/// The service errors of the single-item writes, by code.
fn classify<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(e: &E) -> Failure {
    match e.code() {
        Some("ConditionalCheckFailedException") => Failure::Condition,
        Some("TransactionConflictException") => Failure::Busy,
        _ => Failure::Other,
    }
}

/// A write's service error, whatever the operation.
#[derive(Debug)]
struct WriteFailure(Box<dyn ServiceError>);

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for WriteFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

trait ServiceError:
    std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static
{
}
impl<T> ServiceError for T where
    T: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static
{
}

impl aws_sdk_dynamodb::error::ProvideErrorMetadata for WriteFailure {
    fn meta(&self) -> &aws_sdk_dynamodb::error::ErrorMetadata {
        self.0.meta()
    }
}

macro_rules! write_failure_from {
    ($($error:ty),+) => {$(
        impl From<$error> for WriteFailure {
            fn from(e: $error) -> Self {
                WriteFailure(Box::new(e))
            }
        }
    )+};
}

write_failure_from!(
    aws_sdk_dynamodb::operation::put_item::PutItemError,
    aws_sdk_dynamodb::operation::update_item::UpdateItemError,
    aws_sdk_dynamodb::operation::delete_item::DeleteItemError
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sortable_timestamps_sort_like_time() {
        let t0 = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let earlier = t0 - chrono::Duration::nanoseconds(1);
        let before_epoch = chrono::DateTime::from_timestamp(-5, 0).unwrap();
        assert!(sortable(earlier) < sortable(t0));
        assert!(sortable(before_epoch) < sortable(earlier));
        assert_eq!(sortable(t0).len(), 20);
        assert_eq!(sortable(before_epoch).len(), 20);
    }

    #[test]
    fn shards_are_stable_and_in_range() {
        assert_eq!(shard("camp-a"), shard("camp-a"));
        assert!((0..100).all(|i| shard(&format!("c{i}")) < SHARDS));
        let used: BTreeSet<u64> = (0..100).map(|i| shard(&format!("c{i}"))).collect();
        assert_eq!(used.len() as u64, SHARDS, "every shard gets used");
    }

    #[test]
    fn counters_follow_transitions() {
        let now = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let pending = LeadState::Pending {
            due_at: now,
            reason: PendingReason::CallingWindow,
        };
        let active = LeadState::Active {
            attempt: 1,
            lease_until: now,
        };
        let mut total = Counters::transition(None, &pending);
        total.add(&Counters::transition(Some(&pending), &active));
        assert_eq!(
            total,
            Counters {
                total: 1,
                active: 1,
                finals: BTreeMap::new(),
                ..Counters::default()
            }
        );
    }
}
