//! The message queue contract: what every [`MessageQueue`] adapter must
//! do, whatever it carries (dispatch messages, post-call jobs), one generic
//! function per case. [`queue_contract!`](crate::queue_contract),
//! [`job_queue_contract!`](crate::job_queue_contract) and
//! [`durable_queue_contract!`](crate::durable_queue_contract) turn each
//! into a test.
//!
//! The queue under test must dead-letter a message on the receive after its
//! [`QUEUE_MAX_RECEIVES`]th delivery, and make an unacknowledged message
//! visible again [`QueueSubject::visibility`] after it was received, on the
//! clock [`QueueSubject::time`] moves. Message order is not part of the
//! contract (SQS standard queues do not keep it); receipts are opaque and
//! differ between deliveries of one message; acknowledging twice is not an
//! error.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use voxdial_domain::{
    CallId, CampaignId, Delivery, DispatchMessage, Job, LeadId, MessageQueue, QueueMessage,
};

use crate::{QueueSubject, QueueTime};

/// Deliveries of one message before the next receive dead-letters it.
pub const QUEUE_MAX_RECEIVES: u32 = 3;

/// How long the suite lets a receive long-poll when it expects nothing.
const SHORT_WAIT: Duration = Duration::from_millis(50);

/// The `n`-th message of the suite: attempt 1 of lead `camp-q-L{n}`.
pub fn message(n: usize) -> DispatchMessage {
    DispatchMessage {
        campaign_id: CampaignId::parse("camp-q").expect("valid id"),
        lead_id: LeadId::parse(format!("camp-q-L{n:04}")).expect("valid id"),
        attempt: 1,
    }
}

/// The `n`-th job of the suite: the three kinds in turn.
pub fn job(n: usize) -> Job {
    let call_id = CallId::parse(format!("ld_jobs{n}.1")).expect("valid id");
    match n % 3 {
        0 => Job::FetchRecording { call_id },
        1 => Job::Process { call_id },
        _ => Job::Deliver { call_id },
    }
}

/// A message the suite can make: distinct for every `n`.
pub trait SuiteMessage: QueueMessage + PartialEq {
    /// The `n`-th message.
    fn nth(n: usize) -> Self;
}

impl SuiteMessage for DispatchMessage {
    fn nth(n: usize) -> Self {
        message(n)
    }
}

impl SuiteMessage for Job {
    fn nth(n: usize) -> Self {
        job(n)
    }
}

fn messages<M: SuiteMessage>(range: std::ops::Range<usize>) -> Vec<M> {
    range.map(M::nth).collect()
}

fn keys<M: SuiteMessage>(deliveries: &[Delivery<M>]) -> BTreeSet<String> {
    keys_of(deliveries.iter().map(|d| &d.message))
}

fn keys_of<'a, M: SuiteMessage>(messages: impl IntoIterator<Item = &'a M>) -> BTreeSet<String> {
    messages.into_iter().map(M::idempotency_key).collect()
}

/// Receives until exactly `n` deliveries arrived (a cloud queue may hand
/// out fewer than are visible per call); fails on more or on none for long.
async fn receive_exactly<M: SuiteMessage>(
    queue: &dyn MessageQueue<M>,
    n: usize,
) -> Vec<Delivery<M>> {
    let mut got = Vec::new();
    for _ in 0..20 {
        if got.len() >= n {
            break;
        }
        let batch = queue
            .receive(10, Duration::from_secs(1))
            .await
            .expect("receive");
        assert!(batch.len() <= 10, "receive(10) returned {}", batch.len());
        got.extend(batch);
    }
    assert_eq!(got.len(), n, "deliveries: {got:?}");
    got
}

async fn assert_nothing_visible<M: SuiteMessage>(queue: &dyn MessageQueue<M>, why: &str) {
    let got = queue.receive(10, SHORT_WAIT).await.expect("receive");
    assert!(got.is_empty(), "{why}: got {got:?}");
}

/// [`assert_nothing_visible`] when it can finish before `deadline` past
/// `since` (see [`QueueTime::still_before`]).
async fn assert_hidden_until<M: SuiteMessage>(
    queue: &dyn MessageQueue<M>,
    time: &QueueTime,
    since: Instant,
    deadline: Duration,
    why: &str,
) {
    if time.still_before(since, deadline) {
        assert_nothing_visible(queue, why).await;
    }
}

/// Sent messages are received once each (receive count 1, distinct
/// receipts, bodies intact); acknowledged ones never come back.
pub async fn send_receive_ack<M: SuiteMessage>(subject: QueueSubject<M>) {
    let queue = subject.queue();
    let sent = messages(0..3);
    queue.send(&sent, Duration::ZERO).await.expect("send");
    let got = receive_exactly(&*queue, 3).await;
    assert_eq!(keys(&got), keys_of(&sent));
    for d in &got {
        assert_eq!(d.receive_count, 1);
        assert!(sent.contains(&d.message), "body changed: {:?}", d.message);
    }
    let receipts: BTreeSet<&str> = got.iter().map(|d| d.receipt.0.as_str()).collect();
    assert_eq!(receipts.len(), 3, "receipts are distinct");
    for d in &got {
        queue.ack(&d.receipt).await.expect("ack");
    }
    subject
        .time()
        .advance(subject.visibility() + Duration::from_secs(1))
        .await;
    assert_nothing_visible(&*queue, "acknowledged messages").await;
}

/// At-least-once: a message not acknowledged stays invisible for the
/// visibility timeout, then is delivered again with `receive_count + 1` and
/// a new receipt.
pub async fn unacked_message_returns_after_visibility_timeout<M: SuiteMessage>(
    subject: QueueSubject<M>,
) {
    let queue = subject.queue();
    let time = subject.time();
    let visibility = subject.visibility();
    let margin = time.margin(visibility);
    queue.send(&[M::nth(1)], Duration::ZERO).await.unwrap();
    let first = receive_exactly(&*queue, 1).await.remove(0);
    let received = Instant::now();
    assert_eq!(first.receive_count, 1);
    assert_hidden_until(&*queue, time, received, visibility, "in flight").await;

    time.advance(visibility - margin).await;
    assert_hidden_until(
        &*queue,
        time,
        received,
        visibility,
        "just before the visibility timeout",
    )
    .await;
    time.advance(margin * 2).await;
    let second = receive_exactly(&*queue, 1).await.remove(0);
    assert_eq!(second.message, M::nth(1));
    assert_eq!(second.receive_count, 2);
    assert_ne!(second.receipt, first.receipt, "a new receipt per delivery");

    queue.ack(&second.receipt).await.unwrap();
    time.advance(visibility + Duration::from_secs(1)).await;
    assert_nothing_visible(&*queue, "acknowledged").await;
}

/// A message sent with a delay is invisible until the delay has passed;
/// one sent without delay beside it is visible at once.
pub async fn delayed_message_is_invisible_until_its_delay<M: SuiteMessage>(
    subject: QueueSubject<M>,
) {
    let queue = subject.queue();
    let time = subject.time();
    let delay = subject.visibility();
    let margin = time.margin(delay);
    let sent = Instant::now();
    queue.send(&[M::nth(1)], delay).await.unwrap();
    queue.send(&[M::nth(2)], Duration::ZERO).await.unwrap();
    let now = receive_exactly(&*queue, 1).await.remove(0);
    assert_eq!(now.message, M::nth(2));
    queue.ack(&now.receipt).await.unwrap();

    time.advance(delay - margin).await;
    assert_hidden_until(&*queue, time, sent, delay, "just before the delay").await;
    time.advance(margin * 2).await;
    let later = receive_exactly(&*queue, 1).await.remove(0);
    assert_eq!(later.message, M::nth(1));
    assert_eq!(later.receive_count, 1);
}

/// `retry_later` hides a received message for its own delay (shorter than
/// the visibility timeout here), after which it is delivered again; a zero
/// delay makes it visible at once.
pub async fn retry_later_hides_for_its_delay<M: SuiteMessage>(subject: QueueSubject<M>) {
    let queue = subject.queue();
    let time = subject.time();
    let delay = subject.visibility() / 2;
    let margin = time.margin(delay);
    queue.send(&[M::nth(1)], Duration::ZERO).await.unwrap();
    let first = receive_exactly(&*queue, 1).await.remove(0);
    let postponed = Instant::now();
    queue.retry_later(&first.receipt, delay).await.unwrap();
    assert_hidden_until(&*queue, time, postponed, delay, "retry_later just called").await;

    time.advance(delay - margin).await;
    assert_hidden_until(
        &*queue,
        time,
        postponed,
        delay,
        "just before the retry delay",
    )
    .await;
    time.advance(margin * 2).await;
    let second = receive_exactly(&*queue, 1).await.remove(0);
    assert_eq!(
        (second.message.clone(), second.receive_count),
        (M::nth(1), 2)
    );

    queue
        .retry_later(&second.receipt, Duration::ZERO)
        .await
        .unwrap();
    let third = receive_exactly(&*queue, 1).await.remove(0);
    assert_eq!(third.receive_count, 3);
    queue.ack(&third.receipt).await.unwrap();
}

/// `retry_later` for longer than the visibility timeout hides the message
/// for that whole delay: a queue that ignored the call would deliver it
/// again as soon as the timeout passed.
pub async fn retry_later_hides_past_the_visibility_timeout<M: SuiteMessage>(
    subject: QueueSubject<M>,
) {
    let queue = subject.queue();
    let time = subject.time();
    let visibility = subject.visibility();
    let delay = visibility * 2;
    let margin = time.margin(visibility);
    queue.send(&[M::nth(1)], Duration::ZERO).await.unwrap();
    let first = receive_exactly(&*queue, 1).await.remove(0);
    let postponed = Instant::now();
    queue.retry_later(&first.receipt, delay).await.unwrap();

    time.advance(visibility + margin).await;
    assert_hidden_until(
        &*queue,
        time,
        postponed,
        delay,
        "past the visibility timeout, before the retry delay",
    )
    .await;
    time.advance(delay - visibility).await;
    let second = receive_exactly(&*queue, 1).await.remove(0);
    assert_eq!(
        (second.message.clone(), second.receive_count),
        (M::nth(1), 2)
    );
    queue.ack(&second.receipt).await.unwrap();
}

/// `receive` on an empty queue waits up to `wait` and returns nothing.
pub async fn receive_on_empty_queue_returns_nothing<M: SuiteMessage>(subject: QueueSubject<M>) {
    let queue = subject.queue();
    assert_nothing_visible(&*queue, "an empty queue").await;
    let got = queue.receive(10, Duration::ZERO).await.unwrap();
    assert!(got.is_empty(), "an empty queue without waiting: {got:?}");
}

/// A receiver waiting on an empty queue gets a message sent meanwhile,
/// before its wait ends.
pub async fn waiting_receiver_gets_a_message_sent_meanwhile<M: SuiteMessage>(
    subject: QueueSubject<M>,
) {
    let queue = subject.queue();
    let wait = Duration::from_secs(10);
    let receiver = {
        let queue = queue.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let got = queue.receive(10, wait).await;
            (got, started.elapsed())
        })
    };
    // Let the receiver start waiting (the outcome must not depend on it).
    tokio::time::sleep(Duration::from_millis(20)).await;
    queue.send(&[M::nth(1)], Duration::ZERO).await.unwrap();
    let (got, elapsed) = receiver.await.expect("receiver");
    let got = got.expect("receive");
    assert_eq!(keys(&got), keys_of(&[M::nth(1)]));
    assert!(elapsed < wait, "woke after {elapsed:?}, not by the send");
}

/// `receive(max)` never returns more than `max`; a batch of 25 sent at once
/// is delivered whole, each message once.
pub async fn receive_returns_at_most_max<M: SuiteMessage>(subject: QueueSubject<M>) {
    let queue = subject.queue();
    let sent = messages(0..25);
    queue.send(&sent, Duration::ZERO).await.unwrap();
    let one = queue.receive(1, Duration::from_secs(1)).await.unwrap();
    assert_eq!(one.len(), 1, "receive(1) with 25 visible");
    let mut got = one;
    for _ in 0..30 {
        if got.len() >= sent.len() {
            break;
        }
        let batch = queue.receive(10, Duration::from_secs(1)).await.unwrap();
        assert!(batch.len() <= 10, "receive(10) returned {}", batch.len());
        got.extend(batch);
    }
    assert_eq!(got.len(), 25, "each message delivered once");
    assert_eq!(keys(&got), keys_of(&sent));
    assert_nothing_visible(&*queue, "all in flight").await;
}

/// A message received [`QUEUE_MAX_RECEIVES`] times without an ack leaves
/// the queue (dead letter); other messages are unaffected.
pub async fn dead_letter_after_max_receives<M: SuiteMessage>(subject: QueueSubject<M>) {
    let queue = subject.queue();
    let time = subject.time();
    let pause = subject.visibility() + Duration::from_secs(1);
    queue.send(&[M::nth(1)], Duration::ZERO).await.unwrap();
    for count in 1..=QUEUE_MAX_RECEIVES {
        let d = receive_exactly(&*queue, 1).await.remove(0);
        assert_eq!((d.message, d.receive_count), (M::nth(1), count));
        time.advance(pause).await;
    }
    assert_nothing_visible(&*queue, "dead-lettered").await;
    time.advance(pause).await;
    assert_nothing_visible(&*queue, "dead-lettered, later").await;

    queue.send(&[M::nth(2)], Duration::ZERO).await.unwrap();
    let fresh = receive_exactly(&*queue, 1).await.remove(0);
    assert_eq!((fresh.message, fresh.receive_count), (M::nth(2), 1));
}

/// Acknowledging a message twice is not an error and changes nothing.
pub async fn ack_twice_is_harmless<M: SuiteMessage>(subject: QueueSubject<M>) {
    let queue = subject.queue();
    queue.send(&messages(0..2), Duration::ZERO).await.unwrap();
    let got = receive_exactly(&*queue, 2).await;
    queue.ack(&got[0].receipt).await.unwrap();
    queue.ack(&got[0].receipt).await.expect("a second ack");
    subject
        .time()
        .advance(subject.visibility() + Duration::from_secs(1))
        .await;
    let back = receive_exactly(&*queue, 1).await.remove(0);
    assert_eq!(back.message, got[1].message, "only the other one returns");
    assert_eq!(back.receive_count, 2);
}

/// Durability: messages sent, received or not, survive dropping and
/// reopening the queue; acknowledged ones stay gone; in-flight ones keep
/// their receive count.
pub async fn messages_survive_reopen<M: SuiteMessage>(mut subject: QueueSubject<M>) {
    let queue = subject.queue();
    queue.send(&messages(0..3), Duration::ZERO).await.unwrap();
    let got = receive_exactly(&*queue, 3).await;
    let acked = got[0].message.clone();
    queue.ack(&got[0].receipt).await.unwrap();
    queue.send(&[M::nth(9)], Duration::ZERO).await.unwrap();
    drop(queue);

    let queue: Arc<dyn MessageQueue<M>> = subject.reopen().await;
    subject
        .time()
        .advance(subject.visibility() + Duration::from_secs(1))
        .await;
    let back = receive_exactly(&*queue, 3).await;
    let mut want: BTreeSet<String> = keys(&got[1..]);
    want.insert(M::nth(9).idempotency_key());
    assert_eq!(keys(&back), want);
    assert!(back.iter().all(|d| d.message != acked));
    for d in &back {
        let want = if d.message == M::nth(9) { 1 } else { 2 };
        assert_eq!(d.receive_count, want, "{:?}", d.message);
    }
}
