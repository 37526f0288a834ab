//! The in-process workers of the local runtime: a dispatcher that drains
//! the dispatch queue, and a sweeper on a timer. In AWS, SQS invokes the
//! dispatcher Lambda and EventBridge the sweeper instead; both call the
//! same [`Engine`] methods.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{Instrument, debug, warn};
use voxdial_domain::{Delivery, DispatchQueue, QueueError};

use crate::Engine;
use crate::delivery::{Deleter, Settlement, settle};

/// Drains the dispatch queue until `shutdown` turns true, handling up to
/// `parallel` messages at once. A message is acknowledged once handled; on
/// an error it is left to reappear after its visibility timeout.
pub async fn run_dispatcher(
    engine: Engine,
    queue: Arc<dyn DispatchQueue>,
    parallel: usize,
    shutdown: watch::Receiver<bool>,
) {
    let q = &queue;
    drain_queue(
        "dispatch",
        parallel,
        shutdown,
        move |max| q.receive(max, Duration::from_millis(500)),
        |delivery| {
            let (engine, queue) = (engine.clone(), queue.clone());
            async move { handle_delivery(&engine, queue.as_ref(), delivery).await }
        },
    )
    .await;
}

/// Drains a queue until `shutdown` turns true: `receive(max)` asks it for
/// up to `max` deliveries, `handle` makes the work of one, and up to
/// `parallel` run at once. A failed receive is logged and tried again.
pub(crate) async fn drain_queue<M, R, H, W>(
    queue_name: &'static str,
    parallel: usize,
    mut shutdown: watch::Receiver<bool>,
    receive: impl Fn(usize) -> R,
    handle: H,
) where
    R: Future<Output = Result<Vec<Delivery<M>>, QueueError>>,
    H: Fn(Delivery<M>) -> W,
    W: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(parallel.max(1)));
    let mut tasks = JoinSet::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let free = permits.available_permits().max(1);
        let deliveries = tokio::select! {
            received = receive(free.min(10)) => received,
            _ = shutdown.changed() => break,
        };
        let deliveries = match deliveries {
            Ok(deliveries) => deliveries,
            Err(error) => {
                warn!(%error, queue = queue_name, "queue receive failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        for delivery in deliveries {
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore is never closed");
            let work = handle(delivery);
            tasks.spawn(async move {
                work.await;
                drop(permit);
            });
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// Handles one received message and settles it as the outcome says
/// ([`crate::delivery`]).
pub async fn handle_delivery(engine: &Engine, queue: &dyn DispatchQueue, delivery: Delivery) {
    let span = tracing::info_span!(
        "dispatch",
        campaign_id = %delivery.message.campaign_id,
        lead_id = %delivery.message.lead_id,
        attempt = delivery.message.attempt,
        receive_count = delivery.receive_count,
    );
    async {
        let result = engine.dispatch(&delivery.message).await;
        if let Ok(outcome) = &result {
            debug!(?outcome, "dispatched");
        }
        settle(
            queue,
            &delivery.message,
            Some(&delivery.receipt),
            Settlement::of(&result),
            Deleter::Settle,
        )
        .await;
    }
    .instrument(span)
    .await
}

/// Runs the sweeper every `every` until `shutdown` turns true.
pub async fn run_sweeper(engine: Engine, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
        if let Err(error) = engine.sweep().await {
            warn!(%error, "sweep failed");
        }
    }
}
