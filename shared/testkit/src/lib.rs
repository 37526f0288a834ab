//! voxdial's test kit: one contract suite per port, run against every
//! adapter (the embedded ones in `voxdial-local`, the AWS ones on the moto
//! emulator), a manual clock and fixtures.
//!
//! # Layout
//!
//! - [`store`]: the [`Store`](voxdial_domain::Store) contract, one `pub async
//!   fn` per case; its module doc fixes what the port's doc leaves open.
//! - [`queue`]: the [`MessageQueue`](voxdial_domain::MessageQueue)
//!   contract, generic over what the queue carries (run for dispatch
//!   messages and for post-call jobs), plus the durability case.
//! - [`blob`]: the [`BlobStore`](voxdial_domain::BlobStore) contract.
//! - [`agents`]: the [`HumanAgentStore`](voxdial_domain::HumanAgentStore)
//!   contract.
//! - [`privacy`]: the [`PrivacyStore`](voxdial_domain::PrivacyStore)
//!   contract (erasure, suppression digests, retention), on store subjects.
//! - [`keys`]: the [`KeyStore`](voxdial_domain::KeyStore) contract (API
//!   keys and the audit trail), on store subjects.
//! - [`ai_agents`]: the [`AiAgentStore`](voxdial_domain::AiAgentStore)
//!   contract (versioned AI agents), on store subjects.
//! - [`aggregates`]: the [`AggregateStore`](voxdial_domain::AggregateStore)
//!   contract (duplicates, concurrency, bucket boundaries, organisation
//!   scope), on store subjects.
//! - [`routing`]: the [`RoutingStateStore`](voxdial_domain::RoutingStateStore)
//!   contract, concurrent writers included.
//! - [`imports`]: the [`ImportStore`](voxdial_domain::ImportStore)
//!   contract (lead import records), on store subjects.
//! - [`speech`]: the [`Transcriber`](voxdial_domain::Transcriber) and
//!   [`Analyser`](voxdial_domain::Analyser) contracts, with the service
//!   cases (rate limit, outage, refusal, a hung service) for engines behind
//!   a service.
//! - [`webhook`]: the [`WebhookPoster`](voxdial_domain::WebhookPoster)
//!   contract, against a bare HTTP receiver on 127.0.0.1.
//! - [`fleet`]: the [`BridgeFleet`](voxdial_domain::BridgeFleet) contract
//!   (media-bridge load reports and their expiry).
//! - [`subject`]: what an adapter's factory returns to a suite
//!   ([`StoreSubject`], [`QueueSubject`], [`BlobSubject`], [`FleetSubject`], ...).
//! - [`clock`]: [`ManualClock`], a clock tests set and advance.
//! - [`fixtures`]: campaigns, leads with fictional numbers, calls,
//!   compliance records and releases.
//!
//! # Running a suite against an adapter
//!
//! Each macro expands, in a module named after the suite, into one `#[test]`
//! per contract case. Every test builds a multi-threaded tokio runtime (so
//! the concurrency cases really run in parallel), evaluates the factory
//! expression afresh and `.await`s it: each case gets a new, empty adapter.
//! The factory is pasted inside that module, which `use`s the caller's
//! module (`use super::*`), so it may call the caller's private helpers.
//!
//! ```ignore
//! async fn store() -> voxdial_testkit::StoreSubject {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = LocalStore::open(dir.path().join("voxdial.db")).unwrap();
//!     voxdial_testkit::StoreSubject::new(store).with_guard(dir)
//! }
//! voxdial_testkit::store_contract!(store());
//! voxdial_testkit::queue_contract!(async { queue_subject().await });
//! voxdial_testkit::durable_queue_contract!(queue_subject_with_reopen());
//! voxdial_testkit::blob_contract!(blobs());
//! ```
//!
//! # Invariants of the suites
//!
//! The suites see adapters only through the port traits. No case sleeps to
//! make time pass on a queue with a [`QueueTime::Manual`] clock; the only
//! real waits are a receive's bounded `wait` on an empty queue and a 20 ms
//! pause before a send that must wake a waiting receiver.

pub mod agents;
pub mod aggregates;
pub mod ai_agents;
pub mod blob;
pub mod clock;
pub mod fixtures;
pub mod fleet;
pub mod imports;
pub mod keys;
pub mod privacy;
pub mod queue;
pub mod routing;
pub mod speech;
pub mod store;
pub mod subject;
pub mod webhook;

pub use clock::ManualClock;
pub use subject::{
    AgentSubject, BlobSubject, FleetSubject, QueueSubject, QueueTime, Reopen, RoutingSubject,
    StoreSubject,
};

/// Support for the macros; not part of the API.
#[doc(hidden)]
pub mod __private {
    use std::future::Future;

    /// Runs a contract case on a fresh multi-threaded runtime.
    pub fn run<F: Future<Output = ()>>(case: F) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(case);
    }
}

/// Expands into a module of tests, one per listed case of a suite.
#[doc(hidden)]
#[macro_export]
macro_rules! __contract_tests {
    ($module:ident, $suite:ident, $factory:expr; $($case:ident),+ $(,)?) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $case() {
                    $crate::__private::run(async {
                        let subject = $factory.await;
                        $crate::$suite::$case(subject).await;
                    });
                }
            )+
        }
    };
}

/// The store contract against an adapter: `store_contract!(factory)` where
/// `factory` is an expression evaluating to a future of a fresh, empty
/// [`StoreSubject`] (evaluated once per case). Expands into the module
/// `store_contract`.
#[macro_export]
macro_rules! store_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(store_contract, store, $factory;
            campaign_insert_and_get,
            campaigns_newest_first,
            update_campaign_is_versioned,
            import_stores_leads,
            import_merges_by_campaign_and_phone,
            import_is_all_or_nothing,
            concurrent_imports_into_one_campaign_each_land_whole,
            leads_page_in_id_order,
            claim_due_takes_due_leads_earliest_first,
            claim_due_respects_limit,
            claim_due_respects_limit_and_cap_across_batches,
            claim_due_never_exceeds_max_active,
            claim_due_is_per_campaign,
            concurrent_claims_never_exceed_max_active,
            release_is_exactly_once,
            release_without_dial_keeps_attempts,
            an_undialled_release_never_frees_a_created_call,
            release_to_final_counts_in_progress,
            amend_outcome_replaces_only_a_bare_answer,
            concurrent_duplicate_releases_release_once,
            a_release_racing_lease_extensions_still_releases,
            extend_lease_only_for_the_active_attempt,
            expired_leases_across_campaigns,
            cancel_pending_finalises_only_pending,
            create_call_is_put_if_absent,
            update_call_is_versioned,
            update_call_or_current_returns_the_stored_call,
            lead_and_campaign_reads_both,
            update_call_never_ends_or_reopens_a_call,
            finish_call_stores_call_and_releases_lead,
            finish_call_twice_never_releases_twice,
            finish_call_after_sweeper_release_stores_the_call,
            finish_call_checks_the_stored_call,
            concurrent_finish_call_releases_once,
            live_calls_lists_only_non_terminal_calls,
            calls_page_newest_first,
            progress_counts_leads_and_live_calls,
            has_open_leads_until_every_lead_is_final,
            claim_due_or_open_never_calls_a_finished_campaign_open,
            dnc_lists_are_scoped,
            random_interleavings_keep_the_invariants,
        );
    };
}

/// The dispatch queue contract against an adapter: `queue_contract!(factory)`
/// where `factory` is an expression evaluating to a future of a fresh, empty
/// [`QueueSubject`] whose queue dead-letters after
/// [`queue::QUEUE_MAX_RECEIVES`] receives. Expands into the module
/// `queue_contract`.
#[macro_export]
macro_rules! queue_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(queue_contract, queue, $factory;
            send_receive_ack,
            unacked_message_returns_after_visibility_timeout,
            delayed_message_is_invisible_until_its_delay,
            retry_later_hides_for_its_delay,
            retry_later_hides_past_the_visibility_timeout,
            receive_on_empty_queue_returns_nothing,
            waiting_receiver_gets_a_message_sent_meanwhile,
            receive_returns_at_most_max,
            dead_letter_after_max_receives,
            ack_twice_is_harmless,
        );
    };
}

/// The durability case of the queue contract, for adapters that persist:
/// `durable_queue_contract!(factory)` where the factory's [`QueueSubject`]
/// has a [`QueueSubject::with_reopen`] function. Expands into the module
/// `durable_queue_contract`.
#[macro_export]
macro_rules! durable_queue_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(durable_queue_contract, queue, $factory;
            messages_survive_reopen,
        );
    };
}

/// The privacy store contract against a store adapter:
/// `privacy_contract!(factory)` with the same factory as
/// [`store_contract!`]. Expands into the module `privacy_contract`.
#[macro_export]
macro_rules! privacy_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(privacy_contract, privacy, $factory;
            erase_lead_deletes_everything_and_keeps_a_tombstone,
            erase_refuses_a_lead_in_a_call,
            purges_come_due_in_order_and_clear,
        );
    };
}

/// The key store contract against a store adapter: `key_contract!(factory)`
/// with the same factory as [`store_contract!`]. Expands into the module
/// `key_contract`.
#[macro_export]
macro_rules! key_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(key_contract, keys, $factory;
            keys_are_stored_once_and_listed_per_organisation,
            update_api_key_is_versioned,
            audit_reads_newest_first_per_organisation,
        );
    };
}

/// The AI agent store contract against a store adapter:
/// `ai_agent_contract!(factory)` with the same factory as
/// [`store_contract!`]. Expands into the module `ai_agent_contract`.
#[macro_export]
macro_rules! ai_agent_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(ai_agent_contract, ai_agents, $factory;
            versions_are_immutable_and_read_back,
            a_version_must_follow_the_latest,
            concurrent_writers_of_one_version_never_both_win,
            agents_are_listed_per_organisation_at_their_latest,
        );
    };
}

/// The import store contract against a store adapter:
/// `import_contract!(factory)` with the same factory as [`store_contract!`].
/// Expands into the module `import_contract`.
#[macro_export]
macro_rules! import_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(import_contract, imports, $factory;
            imports_are_stored_once_and_read_back,
            update_import_is_versioned,
        );
    };
}

/// The queue contract for the post-call job queue:
/// `job_queue_contract!(factory)` where `factory` evaluates to a future of a
/// fresh, empty `QueueSubject<Job>` whose queue dead-letters after
/// [`queue::QUEUE_MAX_RECEIVES`] receives: every case of
/// [`queue_contract!`], carrying jobs. Expands into the module
/// `job_queue_contract`.
#[macro_export]
macro_rules! job_queue_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(job_queue_contract, queue, $factory;
            send_receive_ack,
            unacked_message_returns_after_visibility_timeout,
            delayed_message_is_invisible_until_its_delay,
            retry_later_hides_for_its_delay,
            retry_later_hides_past_the_visibility_timeout,
            receive_on_empty_queue_returns_nothing,
            waiting_receiver_gets_a_message_sent_meanwhile,
            receive_returns_at_most_max,
            dead_letter_after_max_receives,
            ack_twice_is_harmless,
        );
    };
}

/// The human-agent store contract against an adapter:
/// `agent_contract!(factory)` where `factory` evaluates to a future of a
/// fresh, empty [`AgentSubject`]. Expands into the module `agent_contract`.
#[macro_export]
macro_rules! agent_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(agent_contract, agents, $factory;
            agents_are_stored_listed_and_updated,
            reserve_takes_the_longest_idle_skilled_available_agent,
            concurrent_reservations_never_share_an_agent,
            release_frees_only_the_agent_busy_on_that_call,
            take_reserves_the_named_agent_only_when_available,
        );
    };
}

/// The routing-state store contract against an adapter:
/// `routing_contract!(factory)` where `factory` evaluates to a future of a
/// fresh, empty [`RoutingSubject`]. Expands into the module
/// `routing_contract`.
#[macro_export]
macro_rules! routing_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(routing_contract, routing, $factory;
            counters_add_up_and_records_are_versioned,
            record_writes_are_all_or_nothing,
            counters_with_records_are_added_all_or_nothing,
            concurrent_counter_adds_are_never_lost,
            concurrent_conditional_updates_are_never_lost,
        );
    };
}

/// The blob store contract against an adapter: `blob_contract!(factory)`
/// where `factory` is an expression evaluating to a future of a fresh, empty
/// [`BlobSubject`]. Expands into the module `blob_contract`.
#[macro_export]
macro_rules! blob_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(blob_contract, blob, $factory;
            put_get_overwrite_delete,
            overwrites_across_sizes_read_the_last,
            missing_blobs_are_none,
            binary_data_round_trips,
            list_by_prefix_sorted,
            invalid_keys_are_rejected,
            presign_get_names_the_key,
            presign_put_names_the_key,
            get_range_reads_bounded_chunks,
            put_file_stores_the_file_bytes,
        );
    };
}

/// The aggregate store contract against a store adapter:
/// `aggregate_contract!(factory)` with the same factory as
/// [`store_contract!`]. Expands into the module `aggregate_contract`.
#[macro_export]
macro_rules! aggregate_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(aggregate_contract, aggregates, $factory;
            duplicate_events_count_once,
            concurrent_deliveries_count_each_event_once,
            events_fall_in_their_hour_and_day,
            series_are_scoped_to_organisation_and_dimension,
            every_counter_round_trips,
        );
    };
}

/// The transcriber contract against an engine:
/// `transcriber_contract!(factory)` where `factory` evaluates to a future
/// of a [`speech::TranscriberSubject`]. Expands into the module
/// `transcriber_contract`.
#[macro_export]
macro_rules! transcriber_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(transcriber_contract, speech, $factory;
            transcribes_the_conversation,
            without_its_input_there_is_nothing_to_transcribe,
        );
    };
}

/// The service cases of the transcriber contract, for an engine behind a
/// service: `service_transcriber_contract!(factory)`, the subject also a
/// [`speech::FaultySubject`]. Expands into the module
/// `service_transcriber_contract`.
#[macro_export]
macro_rules! service_transcriber_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(service_transcriber_contract, speech, $factory;
            transcriber_rate_limit_is_transient,
            transcriber_outage_is_transient,
            transcriber_refusal_is_permanent,
            transcriber_hang_is_transient,
        );
    };
}

/// The analyser contract against an engine: `analyser_contract!(factory)`
/// where `factory` evaluates to a future of a [`speech::AnalyserSubject`].
/// Expands into the module `analyser_contract`.
#[macro_export]
macro_rules! analyser_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(analyser_contract, speech, $factory;
            analyses_a_transcribed_call,
            analyses_a_call_without_a_transcript,
        );
    };
}

/// The service cases of the analyser contract, for an engine behind a
/// service: `service_analyser_contract!(factory)`, the subject also a
/// [`speech::FaultySubject`]. Expands into the module
/// `service_analyser_contract`.
#[macro_export]
macro_rules! service_analyser_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(service_analyser_contract, speech, $factory;
            analyser_rate_limit_is_transient,
            analyser_outage_is_transient,
            analyser_refusal_is_permanent,
            analyser_hang_is_transient,
        );
    };
}

/// The webhook poster contract: `webhook_contract!(factory)` where
/// `factory` evaluates to a future of a [`webhook::WebhookSubject`].
/// Expands into the module `webhook_contract`.
#[macro_export]
macro_rules! webhook_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(webhook_contract, webhook, $factory;
            delivers_the_body_and_headers,
            error_statuses_are_answers,
            redirects_are_not_followed,
            no_answer_is_an_error,
            nobody_listening_is_an_error,
            metadata_addresses_are_refused,
        );
    };
}

/// The bridge fleet contract against an adapter: `fleet_contract!(factory)`
/// where `factory` evaluates to a future of a fresh, empty
/// [`FleetSubject`]. Expands into the module `fleet_contract`.
#[macro_export]
macro_rules! fleet_contract {
    ($factory:expr) => {
        $crate::__contract_tests!(fleet_contract, fleet, $factory;
            reports_count_until_they_expire,
            a_new_report_replaces_the_task_s_last,
            concurrent_reports_of_many_tasks_are_all_kept,
            a_report_says_which_calls_its_task_holds_and_where,
        );
    };
}
