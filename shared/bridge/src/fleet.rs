//! The bridge's part in the fleet's capacity: it reports its load (calls
//! live, calls it takes) to the [`BridgeFleet`] the answer webhook reads,
//! so a full fleet answers calls with the voicemail-or-callback path
//! instead of a stream nobody takes.
//!
//! [`report_load`] looks at the load every [`CHECK_EVERY`] and writes it
//! when it changed (a burst of calls starting is one write, not one per
//! call) and at least every [`FleetReporting::heartbeat`], each report
//! valid for [`FleetReporting::ttl`] on the engine's clock: a task that
//! dies stops counting at most one TTL later. A write that fails is
//! logged and tried again at the next check.
//!
//! Each report also lists the task's live calls and the address the other
//! tasks reach it at ([`FleetReporting::peer`]): a socket for one of them
//! that lands on another task is relayed here
//! (`voxdial_domain::holder_of`). A call that starts or ends is a change.
//!
//! The webhook's view is at most one check old, and a stream is admitted
//! when it arrives: two calls answered in the same second may both see
//! the last free place, and the bridge's own admission (503 at capacity)
//! is what still holds the limit then.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, warn};
use voxdial_domain::{BridgeFleet, BridgeLoad, BridgeTaskId, CallId, Clock};

/// How often the load is looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Where and how a bridge task reports its load.
#[derive(Clone)]
pub struct FleetReporting {
    /// The fleet the answer webhook reads.
    pub fleet: Arc<dyn BridgeFleet>,
    /// The engine's clock (the webhook compares expiries with it).
    pub clock: Arc<dyn Clock>,
    /// This task.
    pub task: BridgeTaskId,
    /// Where the other tasks reach this one, when it knows.
    pub peer: Option<SocketAddr>,
    /// A report is written at least this often (real time).
    pub heartbeat: Duration,
    /// How long a report counts, on `clock` (a few heartbeats).
    pub ttl: chrono::Duration,
}

/// What a task holds and takes, as [`report_load`] samples it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Load {
    /// Calls live.
    pub live: u32,
    /// The most calls the task takes now (zero while it drains).
    pub capacity: u32,
    /// The calls live here that can be watched (sorted).
    pub calls: Vec<CallId>,
}

/// Reports `load()` until the process ends (see the module doc).
pub async fn report_load(reporting: FleetReporting, load: impl Fn() -> Load) {
    let mut checks = tokio::time::interval(CHECK_EVERY);
    checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reported: Option<(Load, Instant)> = None;
    loop {
        let now = checks.tick().await;
        let current = load();
        let due = reported.as_ref().is_none_or(|(last, at)| {
            *last != current || now.duration_since(*at) >= reporting.heartbeat
        });
        if !due {
            continue;
        }
        let report = BridgeLoad {
            task: reporting.task.clone(),
            live: current.live,
            capacity: current.capacity,
            expires_at: reporting.clock.now() + reporting.ttl,
            peer: reporting.peer,
            calls: current.calls.clone(),
        };
        match reporting.fleet.report_bridge_load(&report).await {
            Ok(()) => {
                debug!(
                    live = current.live,
                    capacity = current.capacity,
                    "bridge load reported"
                );
                reported = Some((current, now));
            }
            Err(error) => warn!(%error, "cannot report the bridge's load; trying again"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

    use async_trait::async_trait;
    use voxdial_domain::{StoreError, Timestamp};

    use super::*;

    /// Keeps every report; fails the first `failures` writes.
    #[derive(Default)]
    struct Recorder {
        reports: Mutex<Vec<BridgeLoad>>,
        failures: AtomicUsize,
    }

    #[async_trait]
    impl BridgeFleet for Recorder {
        async fn report_bridge_load(&self, load: &BridgeLoad) -> Result<(), StoreError> {
            if self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(StoreError::Conflict("a test failure".into()));
            }
            self.reports.lock().unwrap().push(load.clone());
            Ok(())
        }

        async fn bridge_loads(&self, _now: Timestamp) -> Result<Vec<BridgeLoad>, StoreError> {
            Ok(self.reports.lock().unwrap().clone())
        }
    }

    struct FixedClock;

    impl Clock for FixedClock {
        fn now(&self) -> Timestamp {
            chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()
        }
    }

    fn reporting(fleet: Arc<Recorder>) -> FleetReporting {
        FleetReporting {
            fleet,
            clock: Arc::new(FixedClock),
            task: BridgeTaskId::parse("task-1").unwrap(),
            peer: Some("10.0.3.4:8080".parse().unwrap()),
            heartbeat: Duration::from_secs(10),
            ttl: chrono::Duration::seconds(30),
        }
    }

    fn lives(fleet: &Recorder) -> Vec<(u32, u32)> {
        let reports = fleet.reports.lock().unwrap();
        reports.iter().map(|r| (r.live, r.capacity)).collect()
    }

    /// Lets the reporter run `secs` seconds of paused tokio time.
    async fn run_for(secs: u64) {
        for _ in 0..secs {
            tokio::time::sleep(CHECK_EVERY).await;
        }
        tokio::task::yield_now().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_is_reported_once_and_an_unchanged_load_on_the_heartbeat() {
        // GIVEN a task holding 2 calls of 20
        let fleet = Arc::new(Recorder::default());
        let live = Arc::new(AtomicU32::new(2));
        let capacity = Arc::new(AtomicU32::new(20));
        let (l, c) = (live.clone(), capacity.clone());
        let task = tokio::spawn(report_load(reporting(fleet.clone()), move || Load {
            live: l.load(Ordering::SeqCst),
            capacity: c.load(Ordering::SeqCst),
            calls: Vec::new(),
        }));
        // THEN it reports at once, with an expiry a TTL ahead of the clock
        tokio::task::yield_now().await;
        assert_eq!(lives(&fleet), [(2, 20)]);
        assert_eq!(
            fleet.reports.lock().unwrap()[0].expires_at,
            FixedClock.now() + chrono::Duration::seconds(30)
        );
        // WHEN nothing changes for 5 s: nothing more
        run_for(5).await;
        assert_eq!(lives(&fleet).len(), 1);
        // WHEN calls start and end within one check: one report of the result
        live.store(5, Ordering::SeqCst);
        live.store(7, Ordering::SeqCst);
        run_for(1).await;
        assert_eq!(lives(&fleet), [(2, 20), (7, 20)]);
        // WHEN the task drains: its capacity goes to zero at once
        capacity.store(0, Ordering::SeqCst);
        run_for(1).await;
        assert_eq!(lives(&fleet).last(), Some(&(7, 0)));
        // AND an unchanged load is reported again on the heartbeat only
        let before = lives(&fleet).len();
        run_for(9).await;
        assert_eq!(lives(&fleet).len(), before);
        run_for(1).await;
        assert_eq!(lives(&fleet).len(), before + 1);
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_write_is_tried_again_at_the_next_check() {
        let fleet = Arc::new(Recorder {
            failures: AtomicUsize::new(2),
            ..Recorder::default()
        });
        let task = tokio::spawn(report_load(reporting(fleet.clone()), || Load {
            live: 1,
            capacity: 20,
            calls: Vec::new(),
        }));
        tokio::task::yield_now().await;
        assert!(lives(&fleet).is_empty());
        run_for(2).await;
        assert_eq!(lives(&fleet), [(1, 20)]);
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_starts_or_ends_is_reported_with_where_the_task_is_reached() {
        // GIVEN a task holding one call
        let fleet = Arc::new(Recorder::default());
        let calls = Arc::new(Mutex::new(vec![CallId::parse("call_a").unwrap()]));
        let held = calls.clone();
        let task = tokio::spawn(report_load(reporting(fleet.clone()), move || {
            let calls = held.lock().unwrap().clone();
            Load {
                live: u32::try_from(calls.len()).unwrap(),
                capacity: 20,
                calls,
            }
        }));
        tokio::task::yield_now().await;
        // WHEN that call ends and another starts within one check (the
        // count stays 1)
        *calls.lock().unwrap() = vec![CallId::parse("call_b").unwrap()];
        run_for(1).await;
        // THEN both reports went out, each naming its call and the task's
        // address
        let reports = fleet.reports.lock().unwrap().clone();
        let named: Vec<_> = reports.iter().map(|r| r.calls[0].to_string()).collect();
        assert_eq!(named, ["call_a", "call_b"]);
        assert!(
            reports
                .iter()
                .all(|r| r.peer == Some("10.0.3.4:8080".parse().unwrap()))
        );
        task.abort();
    }
}
