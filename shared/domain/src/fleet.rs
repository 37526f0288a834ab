//! The media-bridge fleet's load: each bridge task reports how many calls
//! it holds and how many it takes ([`BridgeLoad`]), valid until an expiry
//! it renews by reporting again; the answer webhook reads the reports
//! still valid ([`BridgeFleet::bridge_loads`]) and connects a media stream
//! only when the fleet has a free place ([`FleetCapacity::free`]).
//!
//! A task that dies stops renewing, and its report stops counting at its
//! expiry: the fleet is the tasks heard from recently. A task that drains
//! reports a capacity of zero, so it takes no new call while its live ones
//! go on.
//!
//! A report also says which calls the task holds and where the other tasks
//! reach it ([`BridgeLoad::peer`]), so a listener or watcher whose socket
//! the load balancer sent to another task is relayed to the one holding
//! the call ([`holder_of`]).

use std::net::{IpAddr, SocketAddr};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{BridgeTaskId, CallId, StoreError, Timestamp};

/// One bridge task's load, as it reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeLoad {
    /// The task.
    pub task: BridgeTaskId,
    /// Calls live on it.
    pub live: u32,
    /// The most calls it takes (zero while it drains).
    pub capacity: u32,
    /// When the report stops counting unless the task reports again.
    pub expires_at: Timestamp,
    /// Where the other tasks reach this one (its private address and
    /// port), when it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<SocketAddr>,
    /// The calls live on it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<CallId>,
}

impl BridgeLoad {
    /// New calls this task can take.
    pub fn free(&self) -> u32 {
        self.capacity.saturating_sub(self.live)
    }
}

/// The fleet's load, summed over the tasks whose report is valid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FleetCapacity {
    /// Tasks heard from.
    pub tasks: u32,
    /// Calls live on them.
    pub live: u32,
    /// New calls they can take: each task's free places, added up (a task
    /// over its capacity takes nothing from the others').
    pub free: u32,
}

impl FleetCapacity {
    /// The capacity of the tasks that reported `loads`.
    pub fn of(loads: &[BridgeLoad]) -> FleetCapacity {
        loads
            .iter()
            .fold(FleetCapacity::default(), |sum, load| FleetCapacity {
                tasks: sum.tasks + 1,
                live: sum.live.saturating_add(load.live),
                free: sum.free.saturating_add(load.free()),
            })
    }
}

/// The address of the task that holds `call`, among `loads`: `None` when
/// no task reports it, or the one that does gave no address another task
/// may be sent to (only loopback and private addresses are: a report is
/// the table's, never a caller's, but a relayed socket carries the
/// caller's credential and must not leave the deployment's network).
pub fn holder_of(loads: &[BridgeLoad], call: &CallId) -> Option<SocketAddr> {
    loads
        .iter()
        .find(|load| load.calls.contains(call))
        .and_then(|load| load.peer)
        .filter(|peer| is_internal(peer.ip()))
}

/// Loopback, IPv4 private (10/8, 172.16/12, 192.168/16) or IPv6 unique
/// local (fc00::/7).
fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// Where bridge tasks report their load and the answer webhook reads it.
#[async_trait]
pub trait BridgeFleet: Send + Sync {
    /// Stores `load` as its task's report, replacing the task's previous one.
    async fn report_bridge_load(&self, load: &BridgeLoad) -> Result<(), StoreError>;

    /// The reports not expired at `now` (expiring after `now`), by task id.
    async fn bridge_loads(&self, now: Timestamp) -> Result<Vec<BridgeLoad>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(task: &str, live: u32, capacity: u32) -> BridgeLoad {
        BridgeLoad {
            task: BridgeTaskId::parse(task).unwrap(),
            live,
            capacity,
            expires_at: Timestamp::default(),
            peer: None,
            calls: Vec::new(),
        }
    }

    #[test]
    fn free_places_are_added_per_task() {
        let fleet = FleetCapacity::of(&[load("a", 3, 20), load("b", 25, 20), load("c", 0, 0)]);
        assert_eq!(
            fleet,
            FleetCapacity {
                tasks: 3,
                live: 28,
                free: 17
            }
        );
        assert_eq!(FleetCapacity::of(&[]).free, 0);
    }

    fn holding(peer: &str, calls: &[&str]) -> BridgeLoad {
        BridgeLoad {
            peer: Some(peer.parse().unwrap()),
            calls: calls.iter().map(|c| CallId::parse(*c).unwrap()).collect(),
            ..load("t", 1, 20)
        }
    }

    #[test]
    fn a_call_s_holder_is_the_task_that_reports_it_at_an_internal_address() {
        let call = CallId::parse("call_b").unwrap();
        let fleet = [
            holding("10.0.1.7:8080", &["call_a", "call_c"]),
            holding("10.0.2.9:8080", &["call_b", "call_d"]),
        ];
        assert_eq!(
            holder_of(&fleet, &call),
            Some("10.0.2.9:8080".parse().unwrap())
        );
        assert_eq!(holder_of(&fleet, &CallId::parse("call_z").unwrap()), None);
        // a task that gave no address cannot be relayed to
        let silent = [BridgeLoad {
            peer: None,
            ..holding("10.0.2.9:8080", &["call_b"])
        }];
        assert_eq!(holder_of(&silent, &call), None);
        for internal in [
            "127.0.0.1:1",
            "172.16.0.1:1",
            "192.168.1.1:1",
            "[::1]:1",
            "[fd00::1]:1",
        ] {
            assert!(
                holder_of(&[holding(internal, &["call_b"])], &call).is_some(),
                "{internal}"
            );
        }
        for outside in [
            "8.8.8.8:443",
            "169.254.170.2:80",
            "172.32.0.1:1",
            "[2001:db8::1]:1",
            "0.0.0.0:80",
        ] {
            assert_eq!(
                holder_of(&[holding(outside, &["call_b"])], &call),
                None,
                "{outside}"
            );
        }
    }

    #[test]
    fn a_report_without_peer_or_calls_reads_as_before_them() {
        let old = r#"{"task":"t","live":1,"capacity":20,"expires_at":"2026-01-01T00:00:00Z"}"#;
        let load: BridgeLoad = serde_json::from_str(old).unwrap();
        assert_eq!((load.peer, load.calls.len()), (None, 0));
        assert_eq!(serde_json::to_string(&load).unwrap(), old);
    }
}
