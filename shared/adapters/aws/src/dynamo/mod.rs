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
//! | do-not-call entry | `D#G#<e164>` or `D#C:<campaign>#<e164>` | `D` | `added` |
//! | import journal | `I#<import>` | `J#<part>` | `cid`, `ids`, `phones` (removed once published); `expires_at` once published |
//! | erasure tombstone | `T#<lead>` | `T` | `rec` (no personal data) |
//! | suppression digest | `S#G#<digest>` or `S#C:<campaign>#<digest>` | `S` | `added` |
//! | retention entry | `R#<hash(call) % 4>` | due`#`call | `call` |
//! | API key | `A#<key>` | `A` | `rec` (a digest, never the key), `ver` |
//! | audit entry | `U#<org>` | at`#`entry | `rec` |
//! | lead import (progress of an uploaded file) | `F#<import>` | `F` | `rec`, `ver` |
//!
//! Global secondary indexes (all `ALL` projection, all sparse: an item is
//! in an index only while it has the index's key attributes):
//!
//! | index | partition key | sort key | holds | serves |
//! |---|---|---|---|---|
//! | `by_parent` | `g1pk`: `CAMPAIGNS`, `C#<c>#L`, `C#<c>#K`, `KEYS` | `g1sk`: created`#`id, lead id, created`#`id, org`#`key | campaigns, published leads, calls, API keys | `campaigns`, `leads` (id order), `calls` (newest first), `api_keys` |
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
//! - **Optimistic versions.** Campaigns, leads and calls are written over
//!   the version read (`ver`); counters beside the campaign record are
//!   changed with `ADD`, so they never conflict with a record update.
//! - **Counters.** `progress()` reads the campaign item (counters), one
//!   `due` query (limit 1) and the campaign's live calls: three requests,
//!   whatever the campaign's size. Every transition of a lead between
//!   pending (and waiting for its window), active and final changes the
//!   counters in the transaction that moves the lead.
//! - **Atomic imports** of any size: see [`import`].
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
//!   entries, the number's do-not-call entries (global and the campaign's)
//!   replaced by suppression digests, and the tombstone. The import
//!   journal kept after publishing has its `phones` removed when it is
//!   closed, so no number outlives an erased lead there.
//!
//! The adapter reads the wall clock only for import lock leases.

pub mod import;
mod keys;
mod lead_imports;
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
