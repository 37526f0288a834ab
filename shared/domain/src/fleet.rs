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

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{BridgeTaskId, StoreError, Timestamp};

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
}
