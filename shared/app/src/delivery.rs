//! What becomes of a delivered message once it was handled: one rule for
//! the in-process workers of the local runtime and for the SQS batch
//! handlers of the Lambda functions.
//!
//! | the handler's result | [`Settlement`] | the message |
//! |---|---|---|
//! | done, skipped, screened out… | [`Ack`](Settlement::Ack) | deleted |
//! | must wait (a rate limit, a post-call stage not ready) | [`Wait`](Settlement::Wait) | sent again as a new message delayed by the wait (its receive count starts over, so waiting never dead-letters it), then deleted; a wait beyond the queue's longest delay, or a failed send, hides it for the wait instead |
//! | a retryable error (store or queue unavailable, write conflict) | [`Redeliver`](Settlement::Redeliver) | left to reappear after its visibility timeout; the dead-letter queue takes it after too many deliveries |
//! | a non-retryable error | [`Ack`](Settlement::Ack), logged | deleted: redelivery cannot help, and the records say what failed (the lead's lease lets the sweeper reconcile it) |

use std::time::Duration;

use tracing::{error, warn};
use voxdial_domain::{MessageQueue, QueueMessage, Receipt};

use crate::{AppError, DispatchOutcome, JobOutcome};

/// What to do with one delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// Delete it.
    Ack,
    /// Deliver it again after this delay, as a new message.
    Wait(Duration),
    /// Leave it to be delivered again after its visibility timeout.
    Redeliver,
}

/// A handler's success that may ask to run again later.
pub trait Waits {
    /// How long to wait before running the message again, if it must.
    fn wait(&self) -> Option<Duration>;
}

impl Waits for DispatchOutcome {
    fn wait(&self) -> Option<Duration> {
        match self {
            DispatchOutcome::RetryAfter(wait) => Some(*wait),
            _ => None,
        }
    }
}

impl Waits for JobOutcome {
    fn wait(&self) -> Option<Duration> {
        match self {
            JobOutcome::RetryAfter(wait) => Some(*wait),
            JobOutcome::Done => None,
        }
    }
}

impl Settlement {
    /// The settlement of a handler's result (errors are logged here).
    pub fn of<T: Waits>(result: &Result<T, AppError>) -> Settlement {
        match result {
            Ok(outcome) => outcome.wait().map_or(Settlement::Ack, Settlement::Wait),
            Err(e) if e.is_retryable() => {
                warn!(error = %e, "handling failed; the message will be delivered again");
                Settlement::Redeliver
            }
            Err(e) => {
                error!(error = %e, "handling failed for good; the message is dropped");
                Settlement::Ack
            }
        }
    }
}

/// Who deletes a message whose delivery succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleter {
    /// The caller (an in-process worker): [`settle`] acknowledges it.
    Settle,
    /// The host (a Lambda event source mapping deletes the records not
    /// reported as failures).
    Host,
}

/// Applies `settlement` to the delivery of `message` (its `receipt`, when
/// it has one). Returns whether the delivery succeeded: `false` leaves it
/// to be delivered again (a Lambda reports it as a batch item failure).
pub async fn settle<M: QueueMessage>(
    queue: &dyn MessageQueue<M>,
    message: &M,
    receipt: Option<&Receipt>,
    settlement: Settlement,
    deleter: Deleter,
) -> bool {
    let ack = || async {
        if let (Deleter::Settle, Some(receipt)) = (deleter, receipt)
            && let Err(error) = queue.ack(receipt).await
        {
            warn!(%error, "could not acknowledge a handled message; it will be delivered again and skipped");
        }
    };
    match settlement {
        Settlement::Ack => {
            ack().await;
            true
        }
        Settlement::Redeliver => false,
        Settlement::Wait(wait) => {
            if queue.max_delay().is_none_or(|max| wait <= max) {
                // A crash between the send and the ack leaves a duplicate,
                // which the handlers ignore.
                match queue.send(std::slice::from_ref(message), wait).await {
                    Ok(()) => {
                        ack().await;
                        return true;
                    }
                    Err(error) => {
                        warn!(%error, "could not requeue a waiting message; hiding it instead");
                    }
                }
            }
            if let Some(receipt) = receipt
                && let Err(error) = queue.retry_later(receipt, wait).await
            {
                warn!(%error, "could not hide a waiting message; it returns after its visibility timeout");
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use voxdial_domain::{CallId, Delivery, Job, QueueError, StoreError};

    use super::*;

    /// A queue that records what was asked of it.
    #[derive(Default)]
    struct Recorder {
        max_delay: Option<Duration>,
        refuse_sends: bool,
        log: Mutex<Vec<String>>,
    }

    impl Recorder {
        fn log(&self) -> Vec<String> {
            self.log.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl MessageQueue<Job> for Recorder {
        async fn send(&self, messages: &[Job], delay: Duration) -> Result<(), QueueError> {
            if self.refuse_sends {
                return Err(QueueError::Malformed("refused".into()));
            }
            let line = format!("send {} after {}s", messages[0].kind(), delay.as_secs());
            self.log.lock().unwrap().push(line);
            Ok(())
        }
        async fn receive(&self, _: usize, _: Duration) -> Result<Vec<Delivery<Job>>, QueueError> {
            Ok(Vec::new())
        }
        async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError> {
            self.log.lock().unwrap().push(format!("ack {}", receipt.0));
            Ok(())
        }
        async fn retry_later(&self, receipt: &Receipt, delay: Duration) -> Result<(), QueueError> {
            let line = format!("hide {} for {}s", receipt.0, delay.as_secs());
            self.log.lock().unwrap().push(line);
            Ok(())
        }
        fn max_delay(&self) -> Option<Duration> {
            self.max_delay
        }
    }

    fn job() -> Job {
        Job::Process {
            call_id: CallId::parse("ld_1.1").unwrap(),
        }
    }

    async fn run(queue: &Recorder, settlement: Settlement, deleter: Deleter) -> bool {
        let receipt = Receipt("r1".into());
        settle(queue, &job(), Some(&receipt), settlement, deleter).await
    }

    #[tokio::test]
    async fn a_handled_message_is_acknowledged_by_whoever_deletes() {
        let queue = Recorder::default();
        assert!(run(&queue, Settlement::Ack, Deleter::Settle).await);
        assert_eq!(queue.log(), ["ack r1"]);
        let queue = Recorder::default();
        assert!(run(&queue, Settlement::Ack, Deleter::Host).await);
        assert!(queue.log().is_empty(), "the host deletes it");
    }

    #[tokio::test]
    async fn a_waiting_message_goes_back_as_a_new_one() {
        let queue = Recorder::default();
        let wait = Settlement::Wait(Duration::from_secs(30));
        assert!(run(&queue, wait, Deleter::Settle).await);
        assert_eq!(queue.log(), ["send process after 30s", "ack r1"]);
    }

    #[tokio::test]
    async fn a_wait_the_queue_cannot_hold_or_a_failed_send_hides_the_delivery() {
        let queue = Recorder {
            max_delay: Some(Duration::from_secs(900)),
            ..Recorder::default()
        };
        let long = Settlement::Wait(Duration::from_secs(3600));
        assert!(!run(&queue, long, Deleter::Host).await);
        assert_eq!(queue.log(), ["hide r1 for 3600s"]);
        let queue = Recorder {
            refuse_sends: true,
            ..Recorder::default()
        };
        let short = Settlement::Wait(Duration::from_secs(5));
        assert!(!run(&queue, short, Deleter::Settle).await);
        assert_eq!(queue.log(), ["hide r1 for 5s"]);
    }

    #[tokio::test]
    async fn a_redelivery_touches_nothing() {
        let queue = Recorder::default();
        assert!(!run(&queue, Settlement::Redeliver, Deleter::Settle).await);
        assert!(queue.log().is_empty());
    }

    #[test]
    fn results_settle_the_same_way_on_every_host() {
        let wait = Duration::from_secs(7);
        assert_eq!(
            Settlement::of(&Ok::<_, AppError>(JobOutcome::Done)),
            Settlement::Ack
        );
        assert_eq!(
            Settlement::of(&Ok::<_, AppError>(DispatchOutcome::RetryAfter(wait))),
            Settlement::Wait(wait)
        );
        let conflict = AppError::Store(StoreError::Conflict("busy".into()));
        assert_eq!(
            Settlement::of::<JobOutcome>(&Err(conflict)),
            Settlement::Redeliver
        );
        // A record that outlasted the read-modify-write retries is
        // contention too: a later delivery can get past it.
        let contended = AppError::contended("call c-1");
        assert_eq!(contended.http_status(), 409);
        assert_eq!(
            contended.to_string(),
            "call c-1 (each of 8 tries) was changed concurrently"
        );
        assert_eq!(
            Settlement::of::<DispatchOutcome>(&Err(contended)),
            Settlement::Redeliver
        );
        // Redelivering cannot help: dropped (and logged), on Lambda and
        // locally alike.
        let invalid = AppError::Store(StoreError::Invalid("bad".into()));
        assert_eq!(
            Settlement::of::<DispatchOutcome>(&Err(invalid)),
            Settlement::Ack
        );
    }
}
