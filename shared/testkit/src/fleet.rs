//! The [`BridgeFleet`](voxdial_domain::BridgeFleet) contract, one function
//! per case; [`fleet_contract!`](crate::fleet_contract) turns each into a
//! test.
//!
//! Decisions the port's doc leaves open, fixed here: a report expiring
//! exactly at `now` no longer counts; a report is returned as it was
//! written (live calls over capacity included: summing is the domain's
//! [`FleetCapacity`](voxdial_domain::FleetCapacity)).

use std::sync::Arc;

use voxdial_domain::{BridgeLoad, BridgeTaskId, CallId, FleetCapacity, holder_of};

use crate::FleetSubject;
use crate::fixtures::{at, t0};

fn load(task: &str, live: u32, capacity: u32, expires_secs: i64) -> BridgeLoad {
    BridgeLoad {
        task: BridgeTaskId::parse(task).expect("a valid task id"),
        live,
        capacity,
        expires_at: at(expires_secs),
        peer: None,
        calls: Vec::new(),
    }
}

/// Every report counts, by task id, until its expiry; then it is gone.
pub async fn reports_count_until_they_expire(subject: FleetSubject) {
    let fleet = subject.fleet();
    assert!(fleet.bridge_loads(t0()).await.unwrap().is_empty());
    let a = load("task-a", 3, 20, 60);
    let b = load("task-b", 25, 20, 30);
    fleet.report_bridge_load(&b).await.unwrap();
    fleet.report_bridge_load(&a).await.unwrap();
    let now = fleet.bridge_loads(t0()).await.unwrap();
    assert_eq!(now, vec![a.clone(), b.clone()]);
    assert_eq!(
        FleetCapacity::of(&now),
        FleetCapacity {
            tasks: 2,
            live: 28,
            free: 17
        }
    );
    assert_eq!(
        fleet.bridge_loads(at(29)).await.unwrap(),
        vec![a.clone(), b]
    );
    assert_eq!(fleet.bridge_loads(at(30)).await.unwrap(), vec![a]);
    assert!(fleet.bridge_loads(at(60)).await.unwrap().is_empty());
}

/// A task's new report replaces its last one: its load changes, and a
/// renewal keeps it counting past the old expiry.
pub async fn a_new_report_replaces_the_task_s_last(subject: FleetSubject) {
    let fleet = subject.fleet();
    fleet
        .report_bridge_load(&load("task-a", 1, 20, 30))
        .await
        .unwrap();
    let renewed = load("task-a", 20, 20, 90);
    fleet.report_bridge_load(&renewed).await.unwrap();
    assert_eq!(
        fleet.bridge_loads(t0()).await.unwrap(),
        vec![renewed.clone()]
    );
    assert_eq!(fleet.bridge_loads(at(60)).await.unwrap(), vec![renewed]);
    let draining = load("task-a", 4, 0, 120);
    fleet.report_bridge_load(&draining).await.unwrap();
    let now = fleet.bridge_loads(at(60)).await.unwrap();
    assert_eq!(now, vec![draining]);
    assert_eq!(FleetCapacity::of(&now).free, 0);
}

/// Tasks reporting at once never lose each other's reports.
pub async fn concurrent_reports_of_many_tasks_are_all_kept(subject: FleetSubject) {
    let fleet = subject.fleet();
    let writers = (0..8u32).map(|i| {
        let fleet = Arc::clone(&fleet);
        tokio::spawn(async move {
            fleet
                .report_bridge_load(&load(&format!("task-{i}"), i, 10, 60))
                .await
                .unwrap();
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.expect("a writer");
    }
    let now = fleet.bridge_loads(t0()).await.unwrap();
    assert_eq!(now.len(), 8);
    assert_eq!(
        FleetCapacity::of(&now).free,
        (0..8u32).map(|i| 10 - i).sum::<u32>()
    );
}

/// A report keeps the calls its task holds and the address it is reached
/// at, so another task finds the holder of a call; a report that no
/// longer lists a call no longer leads to it.
pub async fn a_report_says_which_calls_its_task_holds_and_where(subject: FleetSubject) {
    let fleet = subject.fleet();
    let call = CallId::parse("call_listened").expect("a call id");
    let holding = BridgeLoad {
        peer: Some("10.0.4.2:8080".parse().expect("an address")),
        calls: vec![
            CallId::parse("call_other").expect("a call id"),
            call.clone(),
        ],
        ..load("task-a", 2, 20, 60)
    };
    fleet.report_bridge_load(&holding).await.unwrap();
    fleet
        .report_bridge_load(&load("task-b", 0, 20, 60))
        .await
        .unwrap();
    let now = fleet.bridge_loads(t0()).await.unwrap();
    assert_eq!(now[0], holding);
    assert_eq!(holder_of(&now, &call), holding.peer);
    let ended = BridgeLoad {
        calls: vec![CallId::parse("call_other").expect("a call id")],
        ..holding
    };
    fleet.report_bridge_load(&ended).await.unwrap();
    assert_eq!(
        holder_of(&fleet.bridge_loads(t0()).await.unwrap(), &call),
        None
    );
}
