//! [`DynamoStore`]: every store port on one DynamoDB table.
//!
//! # Table design
//!
//! One table, keys `pk` (S) and `sk` (S), on-demand, TTL on `expires_at`.
//! Each entity item keeps the full domain record as JSON (`rec`) plus the
//! attributes derived from it that keys, indexes and conditions use; every
//! write rewrites them from the record (the mapping is in `table.rs`).
//!
//! | item | `pk` | `sk` | attributes |
//! |---|---|---|---|
//! | campaign | `C#<campaign>` | `C` | `rec`, `ver`; counters `n_total`, `n_pending`, `n_window`, `n_active`, `f_<outcome label>`; import lock `imp_id`, `imp_at`, `imp_state` |
//! | lead | `L#<lead>` | `L` | `rec`, `ver`, `cid`, `st` (pending/active/final), `att` (attempt holding the slot); `imp` while staged by an import |
//! | (campaign, number) | `P#<campaign>#<e164>` | `P` | `lead`; `imp` while staged |
//! | call attempt | `K#<call>` | `K` | `rec`, `ver`, `cid`, `lead`, `st`, `term` |
//! | do-not-call entry | `D#O:<org>#<e164>` (the default organisation: `D#G#<e164>`) or `D#C:<campaign>#<e164>` | `D` | `added` |
//! | import journal | `I#<import>` | `J#<part>` | `cid`, `ids`, `phones` (removed once published); `expires_at` once published |
//! | erasure tombstone | `T#<lead>` | `T` | `rec` (no personal data) |
//! | suppression digest | `S#O:<org>#<digest>` (the default organisation: `S#G#<digest>`) or `S#C:<campaign>#<digest>` | `S` | `added` |
//! | retention entry | `R#<hash(call) % 4>` | due`#`call | `call` |
//! | API key | `A#<key>` | `A` | `rec` (a digest, never the key), `ver` |
//! | audit entry | `U#<org>` | at`#`entry | `rec` |
//! | human agent | `HUMANS` | agent id | `rec`, `ver` |
//! | AI agent, latest version | `G#<agent>` | `H` | `rec`, `ver`, `org` |
//! | AI agent version | `G#<agent>` | `V#<version, 10 digits>` | `rec` (immutable) |
//! | aggregate bucket | `B#<org>#<dimension>#<hour\|day>` | start | `start` (epoch seconds), `v:<counter>` per counter (`ADD`ed) |
//! | aggregate event marker | `E#<call>` | `call_ended` or `analysed` | (none: its existence counts the event once) |
//! | routing counters | `RT` | `C#<routing key>` | `c_<name>` (N, changed with `ADD`) |
//! | routing record | `RT` | `R#<routing key>` | `rv` (the engine's JSON), `ver` (written on condition of the version read) |
//! | lead import (progress of an uploaded file) | `F#<import>` | `F` | `rec`, `ver` |
//! | media-bridge task's load | `BRIDGE_FLEET` | task id | `rec` (the report), `expires_at` (TTL: a dead task's item goes by itself) |
//!
//! Global secondary indexes (all `ALL` projection, all sparse: an item is
//! in an index only while it has the index's key attributes):
//!
//! | index | partition key | sort key | holds | serves |
//! |---|---|---|---|---|
//! | `by_parent` | `g1pk`: `CAMPAIGNS`, `C#<c>#L`, `C#<c>#K`, `KEYS`, `AIAGENTS` | `g1sk`: created`#`id, lead id, created`#`id, org`#`key, org`#`agent | campaigns, published leads, calls, API keys, AI agents' latest versions | `campaigns`, `leads` (id order), `calls` (newest first), `api_keys`, `ai_agents` |
//! | `due` | `g2pk`: `C#<c>` | `g2sk`: due_at`#`lead | pending leads | `claim_due` ("next pending leads of a campaign"), `cancel_pending`, `progress.next_due_at` |
//! | `live` | `g3pk`: `LIVE#<hash(c) % 4>` | `g3sk`: `<c>#`created`#`call | non-terminal calls | `live_calls`, `progress.live_calls` |
//! | `lease` | `g4pk`: `LEASE#<hash(lead) % 4>` | `g4sk`: lease_until`#`lead | active leads | `expired_leases` (the sweeper) |
//!
//! Times in sort keys are nanoseconds since the epoch shifted to unsigned
//! and zero-padded to 20 digits, so byte order is time order. The two
//! cross-campaign indexes are sharded four ways so that no index partition
//! takes every write.
//!
//! # Invariants and how the writes keep them
//!
//! - **The cap.** `claim_due` reads the campaign's `n_active`, takes due
//!   leads from `due`, and commits one `TransactWriteItems`: the campaign
//!   item `ADD n_active :k` on condition `n_active <= :max - :k`, and each
//!   lead `pending → active` on condition of its version. A lost race cancels
//!   the transaction and the claim tries again with fresh reads.
//! - **Exactly-once release.** `release` and `finish_call` move the lead out
//!   of `active` on condition `ver = :v AND st = active AND att = :attempt`,
//!   in the same transaction as `n_active - 1` (and, for `finish_call`, as
//!   the call's terminal write on condition `ver = :v AND term = false`).
//!   The first terminal event commits; every duplicate finds the condition
//!   false.
//! - **No double dial.** `create_call` is a put on condition
//!   `attribute_not_exists(pk)` on the deterministic call id.
//! - **AI agent versions.** Version `n` is one transaction: its own item
//!   on condition `attribute_not_exists(pk)`, and the head item on
//!   condition `ver = n - 1 AND org = :org` (absent, for version 1). Two
//!   writers of the same next version never both commit.
//! - **Optimistic versions.** Campaigns, leads and calls are written over
//!   the version read (`ver`); counters beside the campaign record are
//!   changed with `ADD`, so they never conflict with a record update.
//! - **Counters.** `progress()` reads the campaign item (counters), one
//!   `due` query (limit 1) and the campaign's live calls: three requests,
//!   whatever the campaign's size. Every transition of a lead between
//!   pending (and waiting for its window), active and final changes the
//!   counters in the transaction that moves the lead.
//! - **Atomic imports** of any size: see [`import`].
//! - **Aggregates counted once.** An aggregate event is one transaction:
//!   its marker on condition `attribute_not_exists(pk)` and an `ADD` to each
//!   of its buckets; a duplicate delivery cancels on the marker.
//!
//! Listings (`leads`, `calls`, `campaigns`, `live_calls`,
//! `expired_leases`) read indexes, which DynamoDB updates asynchronously
//! (typically within a second); every decision that matters re-checks the
//! item itself with a condition.
//!
//! - **Erasure** (`erase_lead`) is one transaction: the lead (on condition
//!   of its version and of holding no slot), the campaign's counters, the
//!   (campaign, number) item, every call attempt (ids `{lead}.{n}` for the
//!   lead's attempts, each on condition of its version), their retention
//!   entries, the number's do-not-call entries (its organisation's and the campaign's)
//!   replaced by suppression digests, and the tombstone. The import
//!   journal kept after publishing has its `phones` removed when it is
//!   closed, so no number outlives an erased lead there.
//!
//! - **Human agents** are changed over the version read (`ver`): of two
//!   reservations racing for one agent, one write succeeds and the other
//!   reads again (`humans.rs`).
//!
//! The adapter reads the wall clock only for import lock leases.

mod aggregates;
mod ai_agents;
mod fleet;
mod humans;
pub mod import;
mod keys;
mod lead_imports;
mod recount;
mod routing;
mod schema;
mod store;
mod table;

pub use schema::{TableSpec, create_table};

use aws_sdk_dynamodb::Client;

use table::Table;

/// Every store port on one DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    table: Table,
}

impl DynamoStore {
    /// A store on the table `table_name` (created by the SAM template, or
    /// by [`create_table`] in tests).
    pub fn new(client: Client, table_name: impl Into<String>) -> DynamoStore {
        DynamoStore {
            table: Table::new(client, table_name.into()),
        }
    }
}
