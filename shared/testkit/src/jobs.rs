//! The job queue contract: what every [`JobQueue`] adapter must do (the
//! dispatch queue's semantics, carrying post-call jobs), one function per
//! case. [`job_queue_contract!`](crate::job_queue_contract) turns each into
//! a test.

use std::sync::Arc;
use std::time::Duration;

use voxdial_domain::{CallId, Delivery, Job, JobQueue};

use crate::QueueTime;
use crate::queue::QUEUE_MAX_RECEIVES;

/// A job queue under test, built with [`QUEUE_MAX_RECEIVES`] receives
/// before dead-lettering and the visibility timeout given here.
pub struct JobQueueSubject {
    queue: Arc<dyn JobQueue>,
    visibility: Duration,
    time: QueueTime,
    _guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl JobQueueSubject {
    /// Wraps a fresh, empty job queue.
    pub fn new(
        queue: impl JobQueue + 'static,
        visibility: Duration,
        time: QueueTime,
    ) -> JobQueueSubject {
        JobQueueSubject {
            queue: Arc::new(queue),
            visibility,
            time,
            _guard: None,
        }
    }

    /// Keeps `guard` alive until the queue is dropped.
    pub fn with_guard(mut self, guard: impl std::any::Any + Send + Sync) -> JobQueueSubject {
        self._guard = Some(Box::new(guard));
        self
    }
}

fn job(n: usize) -> Job {
    let call_id = CallId::parse(format!("ld_jobs{n}.1")).expect("valid id");
    match n % 3 {
        0 => Job::FetchRecording { call_id },
        1 => Job::Process { call_id },
        _ => Job::Deliver { call_id },
    }
}

async fn receive_exactly(queue: &dyn JobQueue, n: usize) -> Vec<Delivery<Job>> {
    let mut got = Vec::new();
    for _ in 0..20 {
        if got.len() >= n {
            break;
        }
        got.extend(
            queue
                .receive(10, Duration::from_secs(1))
                .await
                .expect("receive"),
        );
    }
    assert_eq!(got.len(), n, "deliveries: {got:?}");
    got
}

async fn nothing_visible(queue: &dyn JobQueue, why: &str) {
    let got = queue
        .receive(10, Duration::from_millis(50))
        .await
        .expect("receive");
    assert!(got.is_empty(), "{why}: got {got:?}");
}

/// Every kind of job is received once, intact; acknowledged ones never
/// come back.
pub async fn jobs_round_trip_and_ack(subject: JobQueueSubject) {
    let queue = subject.queue.clone();
    let sent: Vec<Job> = (0..3).map(job).collect();
    queue.send(&sent, Duration::ZERO).await.expect("send");
    let got = receive_exactly(&*queue, 3).await;
    let kinds: std::collections::HashSet<Job> = got.iter().map(|d| d.message.clone()).collect();
    assert_eq!(kinds, sent.iter().cloned().collect());
    assert!(got.iter().all(|d| d.receive_count == 1));
    for d in &got {
        queue.ack(&d.receipt).await.expect("ack");
    }
    subject.time.advance(subject.visibility * 2).await;
    nothing_visible(&*queue, "acknowledged jobs").await;
}

/// An unacknowledged job comes back after the visibility timeout, counted;
/// `retry_later` hides one for its delay; after the receive limit it goes
/// to the dead letters.
pub async fn unacked_jobs_return_then_dead_letter(subject: JobQueueSubject) {
    let queue = subject.queue.clone();
    queue.send(&[job(1)], Duration::ZERO).await.expect("send");
    let first = receive_exactly(&*queue, 1).await;
    if subject
        .time
        .still_before(std::time::Instant::now(), subject.visibility)
    {
        nothing_visible(&*queue, "a received job is hidden").await;
    }
    subject.time.advance(subject.visibility).await;
    subject.time.advance(Duration::from_millis(1)).await;
    let second = receive_exactly(&*queue, 1).await;
    assert_eq!(second[0].message, first[0].message);
    assert_eq!(second[0].receive_count, 2);
    let postponed = std::time::Instant::now();
    queue
        .retry_later(&second[0].receipt, subject.visibility / 2)
        .await
        .expect("retry_later");
    if subject.time.still_before(postponed, subject.visibility / 2) {
        nothing_visible(&*queue, "postponed").await;
    }
    subject.time.advance(subject.visibility / 2).await;
    subject.time.advance(Duration::from_millis(1)).await;
    let mut count = receive_exactly(&*queue, 1).await[0].receive_count;
    while count < QUEUE_MAX_RECEIVES {
        subject.time.advance(subject.visibility).await;
        subject.time.advance(Duration::from_millis(1)).await;
        count = receive_exactly(&*queue, 1).await[0].receive_count;
    }
    subject.time.advance(subject.visibility).await;
    subject.time.advance(Duration::from_millis(1)).await;
    nothing_visible(&*queue, "dead-lettered after the receive limit").await;
}
