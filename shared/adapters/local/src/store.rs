//! [`LocalStore`]: every store port on one SQLite file.
//!
//! Each row keeps the full domain record as JSON plus the columns derived
//! from it that the queries filter, order and count on (see
//! `store_schema.sql`). Every operation that touches several rows, or reads
//! before it writes, runs in one transaction on the file's one connection
//! (a savepoint in a `BEGIN IMMEDIATE` group commit, see `sqlite::Db`);
//! since that connection is shared behind a mutex and the batch holds the
//! file's write lock, the check and the write of `claim_due`, `release` and
//! `finish_call` can never interleave with another writer, in this process
//! or another.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use voxdial_domain::{
    AgentStatus, CallAttempt, CallId, CallStore, Campaign, CampaignId, CampaignProgress,
    CampaignStore, Claimed, CreateCall, Disposition, DncHit, DncScope, DncStore, E164, HumanAgent,
    HumanAgentId, HumanAgentStore, ImportCounts, Lead, LeadId, LeadOutcome, LeadRelease, LeadState,
    LeadStore, OrgId, PendingReason, PrivacyStore, PurgeDue, StoreError, SuppressionDigest,
    Timestamp, Tombstone,
};

use crate::OpenError;
use crate::sqlite::{Db, Tx, begin, from_nanos, nanos};

mod aggregates;
mod ai_agents;
mod fleet;
mod imports;
mod keys;
mod routing;

/// The schema migrations, in order; `user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    include_str!("store_schema.sql"),
    include_str!("store_agents.sql"),
    include_str!("store_privacy.sql"),
    include_str!("store_keys.sql"),
    include_str!("store_dnc_orgs.sql"),
    include_str!("store_ai_agents.sql"),
    include_str!("store_aggregates.sql"),
    include_str!("store_routing.sql"),
    include_str!("store_imports.sql"),
    include_str!("store_fleet.sql"),
];

/// `PRAGMA application_id` of a store file ("vxds").
const APPLICATION_ID: i32 = 0x7678_6473;

/// The embedded store: campaigns, leads, calls and do-not-call lists in one
/// SQLite file (WAL, `synchronous = NORMAL`).
///
/// Durability: a committed operation survives the process being killed at
/// any point (`kill -9` included), since WAL with `synchronous = NORMAL`
/// only loses commits on an operating-system crash or power loss, and then
/// only the last ones, never a part of one. That is what local mode needs.
///
/// Concurrency: one connection behind a mutex takes every read and write
/// of this process (see `sqlite::Db` for why not a second one for reads).
/// Clones share it.
#[derive(Clone, Debug)]
pub struct LocalStore {
    db: Arc<Db>,
}

impl LocalStore {
    /// Opens (creating it and its directory if needed) the store at `path`
    /// and migrates its schema.
    pub fn open(path: impl AsRef<Path>) -> Result<LocalStore, OpenError> {
        Ok(LocalStore {
            db: Db::open(path.as_ref(), APPLICATION_ID, MIGRATIONS)?,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.db.path
    }

    /// The schema version this build writes.
    pub fn schema_version() -> u32 {
        MIGRATIONS.len() as u32
    }

    async fn write<R>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.db.write(work).await
    }

    async fn read<R>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.db.read(work).await
    }
}

// ------------------------------------------------------------------ helpers

/// Maps SQLite errors to `StoreError::Unavailable`, naming the operation.
trait Sql<T> {
    fn sql(self, what: &'static str) -> Result<T, StoreError>;
}

impl<T> Sql<T> for rusqlite::Result<T> {
    fn sql(self, what: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::unavailable(what, e))
    }
}

fn encode<T: serde::Serialize>(what: &'static str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::unavailable(what, e))
}

fn decode<T: serde::de::DeserializeOwned>(
    kind: &str,
    id: &str,
    record: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(record).map_err(|e| StoreError::Corrupt(format!("{kind} {id}: {e}")))
}

/// A `u64` counter as an SQLite integer (saturating: versions never get there).
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A count read back from SQLite.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn is_constraint(e: &rusqlite::Error, extended: std::ffi::c_int) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == extended)
}

fn immediate(conn: &mut Connection) -> Result<Tx<'_>, StoreError> {
    begin(conn, TransactionBehavior::Immediate).sql("cannot begin a write transaction")
}

/// A list's `scope` column: `org:<organisation>` or the campaign's id
/// (campaign ids have no `:`).
fn scope_key(scope: &DncScope) -> String {
    match scope {
        DncScope::Organisation(org) => format!("{ORG_SCOPE}{org}"),
        DncScope::Campaign(id) => id.to_string(),
    }
}

/// The prefix of an organisation's list in `scope` columns.
const ORG_SCOPE: &str = "org:";

/// The indexed columns of a lead, derived from its state.
struct LeadColumns {
    state: &'static str,
    due_at: Option<i64>,
    waiting_window: i64,
    active_attempt: Option<i64>,
    lease_until: Option<i64>,
    final_label: Option<&'static str>,
}

impl LeadColumns {
    fn of(state: &LeadState) -> LeadColumns {
        let mut columns = LeadColumns {
            state: state.label(),
            due_at: None,
            waiting_window: 0,
            active_attempt: None,
            lease_until: None,
            final_label: None,
        };
        match state {
            LeadState::Pending { due_at, reason } => {
                columns.due_at = Some(nanos(*due_at));
                columns.waiting_window = i64::from(*reason == PendingReason::CallingWindow);
            }
            LeadState::Active {
                attempt,
                lease_until,
            } => {
                columns.active_attempt = Some(i64::from(*attempt));
                columns.lease_until = Some(nanos(*lease_until));
            }
            LeadState::Final { outcome, .. } => columns.final_label = Some(outcome.label()),
        }
        columns
    }
}

const UPDATE_LEAD: &str = "UPDATE leads SET state = ?2, due_at = ?3, waiting_window = ?4, \
     active_attempt = ?5, lease_until = ?6, final_label = ?7, attempts = ?8, version = ?9, \
     record = ?10 WHERE id = ?1";

/// Reads a campaign.
fn read_campaign(conn: &Connection, id: &CampaignId) -> Result<Option<Campaign>, StoreError> {
    let record: Option<String> = conn
        .prepare_cached("SELECT record FROM campaigns WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([id.as_str()], |row| row.get(0)).optional())
        .sql("cannot read a campaign")?;
    record
        .map(|r| decode("campaign", id.as_str(), &r))
        .transpose()
}

/// Reads a lead.
fn read_lead(conn: &Connection, id: &LeadId) -> Result<Option<Lead>, StoreError> {
    let record: Option<String> = conn
        .prepare_cached("SELECT record FROM leads WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([id.as_str()], |row| row.get(0)).optional())
        .sql("cannot read a lead")?;
    record.map(|r| decode("lead", id.as_str(), &r)).transpose()
}

/// Writes a changed lead over its row.
fn write_lead(conn: &Connection, lead: &Lead) -> Result<(), StoreError> {
    let record = encode("cannot encode a lead", lead)?;
    let c = LeadColumns::of(&lead.state);
    conn.prepare_cached(UPDATE_LEAD)
        .and_then(|mut stmt| {
            stmt.execute(params![
                lead.id.as_str(),
                c.state,
                c.due_at,
                c.waiting_window,
                c.active_attempt,
                c.lease_until,
                c.final_label,
                i64::from(lead.attempts),
                int(lead.version),
                record,
            ])
        })
        .sql("cannot update a lead")?;
    Ok(())
}

/// Reads `(id, record)` rows and decodes the leads.
fn query_leads(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Lead>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).sql("cannot read leads")?;
    let rows = stmt
        .query_map(params, |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .sql("cannot read leads")?;
    let mut leads = Vec::new();
    for row in rows {
        let (id, record) = row.sql("cannot read leads")?;
        leads.push(decode("lead", &id, &record)?);
    }
    Ok(leads)
}

fn query_calls(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<CallAttempt>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).sql("cannot read calls")?;
    let rows = stmt
        .query_map(params, |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .sql("cannot read calls")?;
    let mut calls = Vec::new();
    for row in rows {
        let (id, record) = row.sql("cannot read calls")?;
        calls.push(decode("call", &id, &record)?);
    }
    Ok(calls)
}

/// Applies a release inside the caller's transaction: true if the lead was
/// active for the attempt (and is now released), false otherwise.
fn release_in(conn: &Connection, release: &LeadRelease) -> Result<bool, StoreError> {
    let record: Option<String> = conn
        .prepare_cached(
            "SELECT record FROM leads WHERE id = ?1 AND state = 'active' AND active_attempt = ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_row(
                params![release.lead_id.as_str(), i64::from(release.attempt)],
                |row| row.get(0),
            )
            .optional()
        })
        .sql("cannot read a lead to release")?;
    let Some(record) = record else {
        return Ok(false);
    };
    let lead: Lead = decode("lead", release.lead_id.as_str(), &record)?;
    if lead.state.active_attempt() != Some(release.attempt) {
        return Err(StoreError::Corrupt(format!(
            "lead {}: its record and its columns disagree on the active attempt",
            lead.id
        )));
    }
    write_lead(conn, &release.apply(&lead))?;
    Ok(true)
}

// ------------------------------------------------------------------ campaigns

#[async_trait]
impl CampaignStore for LocalStore {
    async fn insert_campaign(&self, campaign: &Campaign) -> Result<(), StoreError> {
        let record = encode("cannot encode a campaign", campaign)?;
        let id = campaign.id.clone();
        let (created_at, version) = (nanos(campaign.created_at), int(campaign.version));
        self.write(move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO campaigns (id, created_at, version, record) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![id.as_str(), created_at, version, record])
                })
                .sql("cannot insert a campaign")?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists(format!("campaign {id}")));
            }
            Ok(())
        })
        .await
    }

    async fn campaign(&self, id: &CampaignId) -> Result<Option<Campaign>, StoreError> {
        let id = id.clone();
        self.read(move |conn| read_campaign(conn, &id)).await
    }

    async fn update_campaign(&self, campaign: &Campaign) -> Result<Campaign, StoreError> {
        let mut next = campaign.clone();
        next.version += 1;
        let record = encode("cannot encode a campaign", &next)?;
        let id = campaign.id.clone();
        let (read, created_at) = (int(campaign.version), nanos(campaign.created_at));
        let written = int(next.version);
        self.write(move |conn| {
            let updated = conn
                .prepare_cached(
                    "UPDATE campaigns SET version = ?3, created_at = ?4, record = ?5 \
                     WHERE id = ?1 AND version = ?2",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![id.as_str(), read, written, created_at, record])
                })
                .sql("cannot update a campaign")?;
            if updated == 1 {
                return Ok(());
            }
            let exists = conn
                .prepare_cached("SELECT 1 FROM campaigns WHERE id = ?1")
                .and_then(|mut stmt| stmt.exists([id.as_str()]))
                .sql("cannot read a campaign")?;
            Err(if exists {
                StoreError::Conflict(format!("campaign {id}"))
            } else {
                StoreError::NotFound(format!("campaign {id}"))
            })
        })
        .await?;
        Ok(next)
    }

    async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, record FROM campaigns ORDER BY created_at DESC, id DESC",
                )
                .sql("cannot list campaigns")?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .sql("cannot list campaigns")?;
            let mut campaigns = Vec::new();
            for row in rows {
                let (id, record) = row.sql("cannot list campaigns")?;
                campaigns.push(decode("campaign", &id, &record)?);
            }
            Ok(campaigns)
        })
        .await
    }

    async fn has_open_leads(&self, id: &CampaignId) -> Result<bool, StoreError> {
        let id = id.clone();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT EXISTS(SELECT 1 FROM leads WHERE campaign_id = ?1 \
                     AND state IN ('pending', 'active'))",
                )
                .sql("cannot look for open leads")?;
            stmt.query_row([id.as_str()], |row| row.get::<_, bool>(0))
                .sql("cannot look for open leads")
        })
        .await
    }

    async fn progress(&self, id: &CampaignId) -> Result<CampaignProgress, StoreError> {
        let id = id.clone();
        self.read(move |conn| {
            // One read transaction: both counts see the same snapshot.
            let tx = begin(conn, TransactionBehavior::Deferred).sql("cannot begin a read")?;
            let mut progress = CampaignProgress::default();
            {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT state, waiting_window, final_label, COUNT(*), MIN(due_at) \
                         FROM leads WHERE campaign_id = ?1 \
                         GROUP BY state, waiting_window, final_label",
                    )
                    .sql("cannot count leads")?;
                let mut rows = stmt.query([id.as_str()]).sql("cannot count leads")?;
                while let Some(row) = rows.next().sql("cannot count leads")? {
                    let state: String = row.get(0).sql("cannot count leads")?;
                    let window: i64 = row.get(1).sql("cannot count leads")?;
                    let label: Option<String> = row.get(2).sql("cannot count leads")?;
                    let n = count(row.get(3).sql("cannot count leads")?);
                    let due: Option<i64> = row.get(4).sql("cannot count leads")?;
                    progress.total += n;
                    match (state.as_str(), label) {
                        ("pending", _) => {
                            progress.pending += n;
                            if window == 1 {
                                progress.waiting_window += n;
                            }
                            let due = due.map(from_nanos);
                            progress.next_due_at = match (progress.next_due_at, due) {
                                (Some(a), Some(b)) => Some(a.min(b)),
                                (a, b) => a.or(b),
                            };
                        }
                        ("active", _) => progress.active += n,
                        ("final", Some(label)) => *progress.finals.entry(label).or_default() += n,
                        (other, _) => {
                            return Err(StoreError::Corrupt(format!(
                                "campaign {id}: a lead row in state {other:?}"
                            )));
                        }
                    }
                }
            }
            {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT state, COUNT(*) FROM calls \
                         WHERE campaign_id = ?1 AND terminal = 0 GROUP BY state",
                    )
                    .sql("cannot count calls")?;
                let rows = stmt
                    .query_map([id.as_str()], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                    })
                    .sql("cannot count calls")?;
                for row in rows {
                    let (state, n) = row.sql("cannot count calls")?;
                    progress.live_calls.insert(state, count(n));
                }
            }
            Ok(progress)
        })
        .await
    }
}

// ------------------------------------------------------------------ leads

#[async_trait]
impl LeadStore for LocalStore {
    #[tracing::instrument(level = "debug", skip_all, fields(campaign_id = %campaign, leads = leads.len()))]
    async fn import_leads(
        &self,
        campaign: &CampaignId,
        leads: Vec<Lead>,
    ) -> Result<ImportCounts, StoreError> {
        if let Some(stray) = leads.iter().find(|l| l.campaign_id != *campaign) {
            return Err(StoreError::Invalid(format!(
                "lead {} belongs to campaign {}, not {campaign}",
                stray.id, stray.campaign_id
            )));
        }
        // Encode before taking the writer: the lock is held for SQL only.
        let rows = leads
            .iter()
            .map(|lead| Ok((lead, encode("cannot encode a lead", lead)?)))
            .collect::<Result<Vec<_>, StoreError>>()?
            .into_iter()
            .map(|(lead, record)| {
                let c = LeadColumns::of(&lead.state);
                (
                    lead.id.clone(),
                    lead.phone.as_str().to_string(),
                    c,
                    i64::from(lead.attempts),
                    int(lead.version),
                    record,
                )
            })
            .collect::<Vec<_>>();
        let campaign = campaign.clone();
        let counts = self
            .write(move |conn| {
                let tx = immediate(conn)?;
                let exists = tx
                    .prepare_cached("SELECT 1 FROM campaigns WHERE id = ?1")
                    .and_then(|mut stmt| stmt.exists([campaign.as_str()]))
                    .sql("cannot read a campaign")?;
                if !exists {
                    return Err(StoreError::NotFound(format!("campaign {campaign}")));
                }
                let mut counts = ImportCounts::default();
                let mut known = tx
                    .prepare_cached("SELECT 1 FROM leads WHERE campaign_id = ?1 AND phone = ?2")
                    .sql("cannot import leads")?;
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO leads (id, campaign_id, phone, state, due_at, waiting_window, \
                         active_attempt, lease_until, final_label, attempts, version, record) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                    )
                    .sql("cannot import leads")?;
                for (id, phone, c, attempts, version, record) in &rows {
                    if known
                        .exists(params![campaign.as_str(), phone])
                        .sql("cannot import leads")?
                    {
                        counts.merged += 1;
                        continue;
                    }
                    let inserted = insert.execute(params![
                        id.as_str(),
                        campaign.as_str(),
                        phone,
                        c.state,
                        c.due_at,
                        c.waiting_window,
                        c.active_attempt,
                        c.lease_until,
                        c.final_label,
                        attempts,
                        version,
                        record,
                    ]);
                    match inserted {
                        Ok(_) => counts.inserted += 1,
                        Err(e)
                            if is_constraint(&e, rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY) =>
                        {
                            return Err(StoreError::AlreadyExists(format!("lead {id}")));
                        }
                        Err(e) => return Err(StoreError::unavailable("cannot import leads", e)),
                    }
                }
                drop((known, insert));
                tx.commit().sql("cannot commit an import")?;
                Ok(counts)
            })
            .await?;
        tracing::debug!(
            inserted = counts.inserted,
            merged = counts.merged,
            "imported leads"
        );
        Ok(counts)
    }

    async fn lead(&self, id: &LeadId) -> Result<Option<Lead>, StoreError> {
        let id = id.clone();
        self.read(move |conn| read_lead(conn, &id)).await
    }

    async fn lead_and_campaign(
        &self,
        lead: &LeadId,
        campaign: &CampaignId,
    ) -> Result<(Option<Lead>, Option<Campaign>), StoreError> {
        let (lead, campaign) = (lead.clone(), campaign.clone());
        self.read(move |conn| Ok((read_lead(conn, &lead)?, read_campaign(conn, &campaign)?)))
            .await
    }

    async fn leads(
        &self,
        campaign: &CampaignId,
        after: Option<&LeadId>,
        limit_to: usize,
    ) -> Result<Vec<Lead>, StoreError> {
        let campaign = campaign.clone();
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        self.read(move |conn| {
            query_leads(
                conn,
                "SELECT id, record FROM leads WHERE campaign_id = ?1 AND id > ?2 \
                 ORDER BY id LIMIT ?3",
                params![campaign.as_str(), after, limit(limit_to)],
            )
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(campaign_id = %campaign, max_active, limit = limit_to))]
    async fn claim_due_or_open(
        &self,
        campaign: &CampaignId,
        max_active: u32,
        now: Timestamp,
        lease_until: Timestamp,
        limit_to: usize,
    ) -> Result<Claimed, StoreError> {
        if limit_to == 0 {
            return Ok(Claimed::default());
        }
        let campaign = campaign.clone();
        let (claimed, active) = self
            .write(move |conn| {
                let tx = immediate(conn)?;
                let active: i64 = tx
                    .prepare_cached(
                        "SELECT COUNT(*) FROM leads WHERE campaign_id = ?1 AND state = 'active'",
                    )
                    .and_then(|mut stmt| stmt.query_row([campaign.as_str()], |row| row.get(0)))
                    .sql("cannot count active leads")?;
                let room = i64::from(max_active) - active;
                if room <= 0 {
                    return Ok((Vec::new(), active));
                }
                let mut leads = query_leads(
                    &tx,
                    "SELECT id, record FROM leads \
                     WHERE campaign_id = ?1 AND state = 'pending' AND due_at <= ?2 \
                     ORDER BY due_at, id LIMIT ?3",
                    params![campaign.as_str(), nanos(now), room.min(limit(limit_to))],
                )?;
                for lead in &mut leads {
                    lead.state = LeadState::Active {
                        attempt: lead.attempts.saturating_add(1),
                        lease_until,
                    };
                    lead.version += 1;
                    lead.updated_at = now;
                    write_lead(&tx, lead)?;
                }
                tx.commit().sql("cannot commit a claim")?;
                Ok((leads, active))
            })
            .await?;
        tracing::debug!(claimed = claimed.len(), "claimed due leads");
        Ok(Claimed {
            known_open: claimed.is_empty() && active > 0,
            leads: claimed,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(lead_id = %release.lead_id, attempt = release.attempt))]
    async fn release(&self, release: &LeadRelease) -> Result<bool, StoreError> {
        release.check()?;
        let release = release.clone();
        self.write(move |conn| {
            let tx = immediate(conn)?;
            if !release.dialed {
                // An undialled release never takes the slot of a call that
                // was created for this attempt (a duplicated message).
                let call = CallId::for_attempt(&release.lead_id, release.attempt);
                let exists: bool = tx
                    .prepare_cached("SELECT EXISTS(SELECT 1 FROM calls WHERE id = ?1)")
                    .and_then(|mut stmt| stmt.query_row([call.as_str()], |row| row.get(0)))
                    .sql("cannot look for a call")?;
                if exists {
                    return Ok(false);
                }
            }
            let released = release_in(&tx, &release)?;
            if released {
                tx.commit().sql("cannot commit a release")?;
            }
            Ok(released)
        })
        .await
    }

    async fn amend_outcome(
        &self,
        lead: &LeadId,
        attempt: u32,
        disposition: Disposition,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let id = lead.clone();
        self.write(move |conn| {
            let tx = immediate(conn)?;
            let Some(next) = read_lead(&tx, &id)?
                .and_then(|lead| lead.with_analysed_disposition(attempt, disposition, now))
            else {
                return Ok(false);
            };
            // The outcome counts are read from the leads' columns, which
            // write_lead derives from the record.
            write_lead(&tx, &next)?;
            tx.commit().sql("cannot commit an outcome")?;
            Ok(true)
        })
        .await
    }

    async fn extend_lease(
        &self,
        lead: &Lead,
        attempt: u32,
        lease_until: Timestamp,
    ) -> Result<Option<Lead>, StoreError> {
        let id = lead.id.clone();
        self.write(move |conn| {
            let tx = immediate(conn)?;
            let record: Option<String> = tx
                .prepare_cached(
                    "SELECT record FROM leads \
                     WHERE id = ?1 AND state = 'active' AND active_attempt = ?2",
                )
                .and_then(|mut stmt| {
                    stmt.query_row(params![id.as_str(), i64::from(attempt)], |row| row.get(0))
                        .optional()
                })
                .sql("cannot read a lead")?;
            let Some(record) = record else {
                return Ok(None);
            };
            let mut lead: Lead = decode("lead", id.as_str(), &record)?;
            lead.state = LeadState::Active {
                attempt,
                lease_until,
            };
            lead.version += 1;
            write_lead(&tx, &lead)?;
            tx.commit().sql("cannot commit a lease")?;
            Ok(Some(lead))
        })
        .await
    }

    async fn expired_leases(
        &self,
        now: Timestamp,
        limit_to: usize,
    ) -> Result<Vec<Lead>, StoreError> {
        self.read(move |conn| {
            query_leads(
                conn,
                "SELECT id, record FROM leads WHERE state = 'active' AND lease_until < ?1 \
                 ORDER BY lease_until, id LIMIT ?2",
                params![nanos(now), limit(limit_to)],
            )
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(campaign_id = %campaign))]
    async fn cancel_pending(
        &self,
        campaign: &CampaignId,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let campaign = campaign.clone();
        self.write(move |conn| {
            let tx = immediate(conn)?;
            let leads = query_leads(
                &tx,
                "SELECT id, record FROM leads WHERE campaign_id = ?1 AND state = 'pending'",
                [campaign.as_str()],
            )?;
            let canceled = leads.len() as u64;
            for mut lead in leads {
                lead.state = LeadState::Final {
                    outcome: LeadOutcome::Canceled,
                    at: now,
                };
                lead.updated_at = now;
                lead.version += 1;
                write_lead(&tx, &lead)?;
            }
            tx.commit().sql("cannot commit a cancel")?;
            Ok(canceled)
        })
        .await
    }
}

// ------------------------------------------------------------------ calls

const UPDATE_CALL: &str = "UPDATE calls SET state = ?3, terminal = ?4, version = ?5, record = ?6 \
     WHERE id = ?1 AND version = ?2 \
     AND (CASE WHEN terminal = 0 THEN ?4 = 0 ELSE state = ?3 END)";

/// Why a conditional call update matched nothing.
fn call_miss(conn: &Connection, id: &CallId, call: &CallAttempt) -> StoreError {
    let stored: rusqlite::Result<Option<(i64, String)>> = conn
        .prepare_cached("SELECT version, state FROM calls WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([id.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        });
    match stored {
        Err(e) => StoreError::unavailable("cannot read a call", e),
        Ok(None) => StoreError::NotFound(format!("call {id}")),
        Ok(Some((version, state))) if version == int(call.version) => StoreError::Invalid(format!(
            "call {id} is {state}: it cannot become {}",
            call.state.label()
        )),
        Ok(Some((version, _))) => StoreError::Conflict(format!(
            "call {id} is at version {version}, not {}",
            call.version
        )),
    }
}

#[async_trait]
impl CallStore for LocalStore {
    async fn create_call(&self, call: &CallAttempt) -> Result<CreateCall, StoreError> {
        let record = encode("cannot encode a call", call)?;
        let id = call.id.clone();
        let row = (
            call.campaign_id.clone(),
            call.lead_id.clone(),
            call.state.label(),
            i64::from(call.state.is_terminal()),
            nanos(call.created_at),
            int(call.version),
        );
        self.write(move |conn| {
            let (campaign, lead, state, terminal, created_at, version) = row;
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO calls (id, campaign_id, lead_id, state, terminal, created_at, \
                     version, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        id.as_str(),
                        campaign.as_str(),
                        lead.as_str(),
                        state,
                        terminal,
                        created_at,
                        version,
                        record
                    ])
                });
            match inserted {
                Ok(1) => return Ok(CreateCall::Created),
                Ok(_) => {}
                Err(e) if is_constraint(&e, rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => {
                    return Err(StoreError::NotFound(format!(
                        "campaign {campaign} or lead {lead} of call {id}"
                    )));
                }
                Err(e) => return Err(StoreError::unavailable("cannot insert a call", e)),
            }
            let stored: String = conn
                .prepare_cached("SELECT record FROM calls WHERE id = ?1")
                .and_then(|mut stmt| stmt.query_row([id.as_str()], |row| row.get(0)))
                .sql("cannot read a call")?;
            Ok(CreateCall::Exists(Box::new(decode(
                "call",
                id.as_str(),
                &stored,
            )?)))
        })
        .await
    }

    async fn call(&self, id: &CallId) -> Result<Option<CallAttempt>, StoreError> {
        let id = id.clone();
        self.read(move |conn| {
            let record: Option<String> = conn
                .prepare_cached("SELECT record FROM calls WHERE id = ?1")
                .and_then(|mut stmt| stmt.query_row([id.as_str()], |row| row.get(0)).optional())
                .sql("cannot read a call")?;
            record.map(|r| decode("call", id.as_str(), &r)).transpose()
        })
        .await
    }

    async fn update_call(&self, call: &CallAttempt) -> Result<CallAttempt, StoreError> {
        let mut next = call.clone();
        next.version += 1;
        let record = encode("cannot encode a call", &next)?;
        let read = call.clone();
        self.write(move |conn| {
            let updated = conn
                .prepare_cached(UPDATE_CALL)
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        read.id.as_str(),
                        int(read.version),
                        read.state.label(),
                        i64::from(read.state.is_terminal()),
                        int(read.version + 1),
                        record,
                    ])
                })
                .sql("cannot update a call")?;
            if updated == 1 {
                Ok(())
            } else {
                Err(call_miss(conn, &read.id, &read))
            }
        })
        .await?;
        Ok(next)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(call_id = %call.id, state = call.state.label()))]
    async fn finish_call(
        &self,
        call: &CallAttempt,
        release: &LeadRelease,
    ) -> Result<bool, StoreError> {
        release.check_finish(call)?;
        let mut next = call.clone();
        next.version += 1;
        let record = encode("cannot encode a call", &next)?;
        let (id, read, state) = (call.id.clone(), int(call.version), call.state.label());
        let release = release.clone();
        let released = self
            .write(move |conn| {
                let tx = immediate(conn)?;
                let stored: Option<(i64, i64)> = tx
                    .prepare_cached("SELECT version, terminal FROM calls WHERE id = ?1")
                    .and_then(|mut stmt| {
                        stmt.query_row([id.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
                            .optional()
                    })
                    .sql("cannot read a call")?;
                match stored {
                    None => return Err(StoreError::NotFound(format!("call {id}"))),
                    Some((version, _)) if version != read => {
                        return Err(StoreError::Conflict(format!(
                            "call {id} is at version {version}, not {read}"
                        )));
                    }
                    // Finished already: nothing to write, nothing to release.
                    Some((_, 1)) => return Ok(false),
                    Some(_) => {}
                }
                tx.prepare_cached(
                    "UPDATE calls SET state = ?2, terminal = 1, version = ?3, record = ?4 \
                     WHERE id = ?1",
                )
                .and_then(|mut stmt| stmt.execute(params![id.as_str(), state, read + 1, record]))
                .sql("cannot finish a call")?;
                let released = release_in(&tx, &release)?;
                tx.commit().sql("cannot commit a finished call")?;
                Ok(released)
            })
            .await?;
        tracing::debug!(released, "finished call");
        Ok(released)
    }

    async fn live_calls(
        &self,
        campaign: Option<&CampaignId>,
    ) -> Result<Vec<CallAttempt>, StoreError> {
        let campaign = campaign.cloned();
        // Both queries read only the small partial index of live calls.
        let mut calls = self
            .read(move |conn| match campaign {
                Some(c) => query_calls(
                    conn,
                    "SELECT id, record FROM calls INDEXED BY calls_live \
                     WHERE campaign_id = ?1 AND terminal = 0",
                    [c.as_str()],
                ),
                None => query_calls(
                    conn,
                    "SELECT id, record FROM calls INDEXED BY calls_live WHERE terminal = 0",
                    [],
                ),
            })
            .await?;
        calls.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(calls)
    }

    async fn calls(
        &self,
        campaign: &CampaignId,
        before: Option<&CallId>,
        limit_to: usize,
    ) -> Result<Vec<CallAttempt>, StoreError> {
        let campaign = campaign.clone();
        let before = before.cloned();
        self.read(move |conn| {
            let cursor = match &before {
                None => None,
                Some(id) => {
                    let at: Option<i64> = conn
                        .prepare_cached("SELECT created_at FROM calls WHERE id = ?1")
                        .and_then(|mut stmt| {
                            stmt.query_row([id.as_str()], |row| row.get(0)).optional()
                        })
                        .sql("cannot read a call")?;
                    let at = at.ok_or_else(|| StoreError::NotFound(format!("call {id}")))?;
                    Some((at, id.to_string()))
                }
            };
            match cursor {
                None => query_calls(
                    conn,
                    "SELECT id, record FROM calls WHERE campaign_id = ?1 \
                     ORDER BY created_at DESC, id DESC LIMIT ?2",
                    params![campaign.as_str(), limit(limit_to)],
                ),
                Some((at, id)) => query_calls(
                    conn,
                    "SELECT id, record FROM calls WHERE campaign_id = ?1 \
                     AND (created_at, id) < (?2, ?3) \
                     ORDER BY created_at DESC, id DESC LIMIT ?4",
                    params![campaign.as_str(), at, id, limit(limit_to)],
                ),
            }
        })
        .await
    }
}

// ------------------------------------------------------------------ DNC

#[async_trait]
impl DncStore for LocalStore {
    async fn add_dnc(
        &self,
        scope: &DncScope,
        numbers: &[E164],
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let scope = scope_key(scope);
        let numbers: Vec<String> = numbers.iter().map(|n| n.as_str().to_string()).collect();
        self.write(move |conn| {
            let tx = immediate(conn)?;
            let mut added = 0;
            {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO dnc (scope, number, added_at) VALUES (?1, ?2, ?3) \
                         ON CONFLICT DO NOTHING",
                    )
                    .sql("cannot add to a do-not-call list")?;
                for number in &numbers {
                    added += insert
                        .execute(params![scope, number, nanos(now)])
                        .sql("cannot add to a do-not-call list")?
                        as u64;
                }
            }
            tx.commit().sql("cannot commit a do-not-call list")?;
            Ok(added)
        })
        .await
    }

    async fn remove_dnc(&self, scope: &DncScope, number: &E164) -> Result<bool, StoreError> {
        let scope = scope_key(scope);
        let number = number.as_str().to_string();
        self.write(move |conn| {
            let removed = conn
                .prepare_cached("DELETE FROM dnc WHERE scope = ?1 AND number = ?2")
                .and_then(|mut stmt| stmt.execute(params![scope, number]))
                .sql("cannot remove from a do-not-call list")?;
            Ok(removed > 0)
        })
        .await
    }

    async fn dnc_hit(
        &self,
        org: &OrgId,
        campaign: &CampaignId,
        number: &E164,
    ) -> Result<DncHit, StoreError> {
        let org = scope_key(&DncScope::Organisation(org.clone()));
        let campaign = campaign.to_string();
        let number = number.as_str().to_string();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT scope FROM dnc WHERE number = ?1 AND scope IN (?2, ?3)")
                .sql("cannot read the do-not-call lists")?;
            let scopes = stmt
                .query_map(params![number, org, campaign], |row| {
                    row.get::<_, String>(0)
                })
                .sql("cannot read the do-not-call lists")?;
            let mut hit = DncHit::default();
            for scope in scopes {
                if scope
                    .sql("cannot read the do-not-call lists")?
                    .starts_with(ORG_SCOPE)
                {
                    hit.global = true;
                } else {
                    hit.campaign = true;
                }
            }
            Ok(hit)
        })
        .await
    }
}

fn status_key(status: AgentStatus) -> &'static str {
    match status {
        AgentStatus::Available => "available",
        AgentStatus::Busy => "busy",
        AgentStatus::Offline => "offline",
        AgentStatus::WrapUp => "wrap_up",
    }
}

fn write_agent(conn: &Connection, agent: &HumanAgent) -> Result<(), StoreError> {
    let record = encode("human agent", agent)?;
    conn.prepare_cached(
        "INSERT INTO human_agents (id, status, since, record) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (id) DO UPDATE SET status = ?2, since = ?3, record = ?4",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            agent.id.as_str(),
            status_key(agent.status),
            nanos(agent.since),
            record
        ])
    })
    .sql("cannot store a human agent")?;
    Ok(())
}

fn read_agent(conn: &Connection, id: &str) -> Result<Option<HumanAgent>, StoreError> {
    conn.prepare_cached("SELECT record FROM human_agents WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([id], |row| row.get::<_, String>(0))
                .optional()
        })
        .sql("cannot read a human agent")?
        .map(|record| decode("human agent", id, &record))
        .transpose()
}

#[async_trait]
impl HumanAgentStore for LocalStore {
    async fn put_agent(&self, agent: &HumanAgent) -> Result<(), StoreError> {
        let agent = agent.clone();
        self.write(move |conn| write_agent(conn, &agent)).await
    }

    async fn agents(&self) -> Result<Vec<HumanAgent>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT id, record FROM human_agents ORDER BY id")
                .sql("cannot list human agents")?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .sql("cannot list human agents")?;
            rows.map(|row| {
                let (id, record) = row.sql("cannot list human agents")?;
                decode("human agent", &id, &record)
            })
            .collect()
        })
        .await
    }

    async fn set_agent_status(
        &self,
        id: &HumanAgentId,
        status: AgentStatus,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.change_agent(id, move |agent| {
            agent.set_status(status, now);
            true
        })
        .await
    }

    async fn reserve_agent(
        &self,
        org: &OrgId,
        skills: &[String],
        call: &CallId,
        now: Timestamp,
    ) -> Result<Option<HumanAgent>, StoreError> {
        let (org, skills, call) = (org.clone(), skills.to_vec(), call.clone());
        self.write(move |conn| {
            let tx = immediate(conn)?;
            let chosen = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT id, record FROM human_agents \
                         WHERE status = 'available' ORDER BY since, id",
                    )
                    .sql("cannot look for a human agent")?;
                let rows = stmt
                    .query_map([], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                    })
                    .sql("cannot look for a human agent")?;
                let mut chosen = None;
                for row in rows {
                    let (id, record) = row.sql("cannot look for a human agent")?;
                    let agent: HumanAgent = decode("human agent", &id, &record)?;
                    if agent.fits(&org, &skills) {
                        chosen = Some(agent);
                        break;
                    }
                }
                chosen
            };
            let Some(mut agent) = chosen else {
                return Ok(None);
            };
            agent.reserve(&call, now);
            write_agent(&tx, &agent)?;
            tx.commit().sql("cannot commit a human agent")?;
            Ok(Some(agent))
        })
        .await
    }

    async fn take_agent(
        &self,
        id: &HumanAgentId,
        call: &CallId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let call = call.clone();
        self.change_agent(id, move |agent| agent.take(&call, now))
            .await
    }

    async fn release_agent(
        &self,
        id: &HumanAgentId,
        call: &CallId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let call = call.clone();
        self.change_agent(id, move |agent| agent.release(&call, now))
            .await
    }
}

impl LocalStore {
    /// Reads an agent, applies `change` and writes it back when it says
    /// so, in one transaction; false when there is no such agent or the
    /// change declined.
    async fn change_agent(
        &self,
        id: &HumanAgentId,
        change: impl FnOnce(&mut HumanAgent) -> bool + Send + 'static,
    ) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.write(move |conn| {
            let tx = immediate(conn)?;
            let Some(mut agent) = read_agent(&tx, &id)? else {
                return Ok(false);
            };
            if !change(&mut agent) {
                return Ok(false);
            }
            write_agent(&tx, &agent)?;
            tx.commit().sql("cannot commit a human agent")?;
            Ok(true)
        })
        .await
    }
}

// ------------------------------------------------------------------ privacy

#[async_trait]
impl PrivacyStore for LocalStore {
    async fn erase_lead(
        &self,
        lead: &LeadId,
        digest: &SuppressionDigest,
        tombstone: &Tombstone,
    ) -> Result<Option<Tombstone>, StoreError> {
        let (lead_id, digest, mut tombstone) = (lead.clone(), digest.0.clone(), tombstone.clone());
        // Alone: the checkpoint below cannot run inside a batch.
        self.db.write_alone(move |conn| {
            // Deleted rows are overwritten with zeros, not left in free
            // pages, and the log is truncated below: the file keeps no copy.
            conn.pragma_update(None, "secure_delete", "ON")
                .sql("cannot turn on secure delete")?;
            let tx = immediate(conn)?;
            let record: Option<String> = tx
                .prepare_cached("SELECT record FROM leads WHERE id = ?1")
                .and_then(|mut stmt| {
                    stmt.query_row([lead_id.as_str()], |row| row.get(0)).optional()
                })
                .sql("cannot read a lead")?;
            let Some(record) = record else {
                return Ok(None);
            };
            let found: Lead = decode("lead", lead_id.as_str(), &record)?;
            if matches!(found.state, LeadState::Active { .. }) {
                return Err(StoreError::Conflict(format!(
                    "lead {lead_id} is in a call: erase it once the call has ended"
                )));
            }
            let campaign = found.campaign_id.to_string();
            let org = {
                let record: Option<String> = tx
                    .prepare_cached("SELECT record FROM campaigns WHERE id = ?1")
                    .and_then(|mut stmt| stmt.query_row([&campaign], |row| row.get(0)).optional())
                    .sql("cannot read a campaign")?;
                let org = match record {
                    Some(record) => decode::<Campaign>("campaign", &campaign, &record)?.org_id,
                    None => OrgId::default(),
                };
                scope_key(&DncScope::Organisation(org))
            };
            let number = found.phone.as_str().to_string();
            let calls: Vec<String> = {
                let mut stmt = tx
                    .prepare_cached("SELECT id FROM calls WHERE lead_id = ?1")
                    .sql("cannot list a lead's calls")?;
                let rows = stmt
                    .query_map([lead_id.as_str()], |row| row.get::<_, String>(0))
                    .sql("cannot list a lead's calls")?;
                rows.collect::<Result<_, _>>()
                    .sql("cannot list a lead's calls")?
            };
            for call in &calls {
                tx.prepare_cached("DELETE FROM purges WHERE call_id = ?1")
                    .and_then(|mut stmt| stmt.execute([call]))
                    .sql("cannot delete a retention entry")?;
            }
            tx.prepare_cached("DELETE FROM calls WHERE lead_id = ?1")
                .and_then(|mut stmt| stmt.execute([lead_id.as_str()]))
                .sql("cannot delete a lead's calls")?;
            let scopes: Vec<String> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT scope FROM dnc WHERE number = ?1 AND scope IN (?2, ?3)",
                    )
                    .sql("cannot read the do-not-call lists")?;
                let rows = stmt
                    .query_map(params![number, org, campaign], |row| row.get::<_, String>(0))
                    .sql("cannot read the do-not-call lists")?;
                rows.collect::<Result<_, _>>()
                    .sql("cannot read the do-not-call lists")?
            };
            for scope in &scopes {
                tx.prepare_cached(
                    "INSERT INTO suppressions (scope, digest, added_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT DO NOTHING",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![scope, digest, nanos(tombstone.erased_at)])
                })
                .sql("cannot keep a suppression")?;
                tx.prepare_cached("DELETE FROM dnc WHERE number = ?1 AND scope = ?2")
                    .and_then(|mut stmt| stmt.execute(params![number, scope]))
                    .sql("cannot delete a do-not-call entry")?;
            }
            tx.prepare_cached("DELETE FROM leads WHERE id = ?1")
                .and_then(|mut stmt| stmt.execute([lead_id.as_str()]))
                .sql("cannot delete a lead")?;
            tombstone.calls_erased = u32::try_from(calls.len()).unwrap_or(u32::MAX);
            tombstone.suppressions_kept = u32::try_from(scopes.len()).unwrap_or(u32::MAX);
            tombstone.lead_state = found.state.label().to_string();
            let record = encode("cannot encode a tombstone", &tombstone)?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO tombstones (lead_id, erased_at, record) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![lead_id.as_str(), nanos(tombstone.erased_at), record])
            })
            .sql("cannot store a tombstone")?;
            tx.commit().sql("cannot commit an erasure")?;
            // Copy the zeroed pages into the file and empty the log, where
            // the old page images would otherwise stay until reused.
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .sql("cannot checkpoint after an erasure")?;
            Ok(Some(tombstone))
        })
        .await
    }

    async fn tombstone(&self, lead: &LeadId) -> Result<Option<Tombstone>, StoreError> {
        let lead = lead.clone();
        self.read(move |conn| {
            conn.prepare_cached("SELECT record FROM tombstones WHERE lead_id = ?1")
                .and_then(|mut stmt| {
                    stmt.query_row([lead.as_str()], |row| row.get::<_, String>(0))
                        .optional()
                })
                .sql("cannot read a tombstone")?
                .map(|record| decode("tombstone", lead.as_str(), &record))
                .transpose()
        })
        .await
    }

    async fn suppressed(
        &self,
        org: &OrgId,
        campaign: &CampaignId,
        digest: &SuppressionDigest,
    ) -> Result<DncHit, StoreError> {
        let org = scope_key(&DncScope::Organisation(org.clone()));
        let (campaign, digest) = (campaign.to_string(), digest.0.clone());
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT scope FROM suppressions WHERE digest = ?1 AND scope IN (?2, ?3)",
                )
                .sql("cannot read the suppressions")?;
            let scopes = stmt
                .query_map(params![digest, org, campaign], |row| {
                    row.get::<_, String>(0)
                })
                .sql("cannot read the suppressions")?;
            let mut hit = DncHit::default();
            for scope in scopes {
                if scope
                    .sql("cannot read the suppressions")?
                    .starts_with(ORG_SCOPE)
                {
                    hit.global = true;
                } else {
                    hit.campaign = true;
                }
            }
            Ok(hit)
        })
        .await
    }

    async fn schedule_purge(&self, call: &CallId, due_at: Timestamp) -> Result<(), StoreError> {
        let call = call.to_string();
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO purges (call_id, due_at) VALUES (?1, ?2) \
                 ON CONFLICT (call_id) DO UPDATE SET due_at = excluded.due_at",
            )
            .and_then(|mut stmt| stmt.execute(params![call, nanos(due_at)]))
            .sql("cannot schedule a purge")?;
            Ok(())
        })
        .await
    }

    async fn due_purges(
        &self,
        now: Timestamp,
        limit_to: usize,
    ) -> Result<Vec<PurgeDue>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT call_id, due_at FROM purges WHERE due_at < ?1 \
                     ORDER BY due_at, call_id LIMIT ?2",
                )
                .sql("cannot read the purges")?;
            let rows = stmt
                .query_map(params![nanos(now), limit(limit_to)], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })
                .sql("cannot read the purges")?;
            let mut due = Vec::new();
            for row in rows {
                let (id, at) = row.sql("cannot read the purges")?;
                let call_id = CallId::parse(&id)
                    .map_err(|e| StoreError::Corrupt(format!("purge {id}: {e}")))?;
                due.push(PurgeDue {
                    call_id,
                    due_at: from_nanos(at),
                });
            }
            Ok(due)
        })
        .await
    }

    async fn clear_purge(&self, purge: &PurgeDue) -> Result<(), StoreError> {
        let call = purge.call_id.to_string();
        self.write(move |conn| {
            conn.prepare_cached("DELETE FROM purges WHERE call_id = ?1")
                .and_then(|mut stmt| stmt.execute([call]))
                .sql("cannot clear a purge")?;
            Ok(())
        })
        .await
    }
}
