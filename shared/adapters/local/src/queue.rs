//! [`SqliteQueue`]: a durable at-least-once queue in its own SQLite file,
//! with SQS's semantics: visibility timeouts, delays, receive counts and a
//! dead-letter table. It carries one kind of message: [`LocalQueue`] the
//! dispatch messages, [`LocalJobQueue`] the post-call jobs (each on its own
//! file).
//!
//! A message row holds its body, the instant it becomes visible and how
//! often it was received. A receive takes visible rows in one transaction,
//! bumps their count and hides them for the visibility timeout; its receipt
//! `{id}.{count}` names that one delivery, so a receipt of an earlier
//! delivery can neither acknowledge nor postpone the message. Visibility is
//! measured on the queue's [`Clock`]; only the long-poll `wait` is real time.

use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::Notify;
use tokio::time::Instant;
use voxdial_domain::{
    Clock, Delivery, DispatchMessage, Job, MessageQueue, QueueError, QueueMessage, Receipt,
    Timestamp,
};

use crate::OpenError;
use crate::sqlite::{Db, begin, duration_nanos, from_nanos, nanos};

const MIGRATIONS: &[&str] = &["
CREATE TABLE messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused
    body          TEXT NOT NULL,                     -- JSON message
    visible_at    INTEGER NOT NULL,                  -- clock nanoseconds
    receive_count INTEGER NOT NULL,
    sent_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX messages_visible ON messages (visible_at, id);
CREATE TABLE dead_letters (
    id            INTEGER PRIMARY KEY,               -- the message's id
    body          TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    sent_at       INTEGER NOT NULL,
    dead_at       INTEGER NOT NULL,
    reason        TEXT NOT NULL
) STRICT;
"];

/// `PRAGMA application_id` of a queue file ("vxdq").
const APPLICATION_ID: i32 = 0x7678_6471;

/// A waiting receive re-reads the table at least this often, in case the
/// clock jumped or another process wrote to the file.
const POLL_CAP: Duration = Duration::from_secs(1);

/// Settings of a [`LocalQueue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// How long a received message stays hidden before it is delivered
    /// again (default 30 s, as SQS).
    pub visibility_timeout: Duration,
    /// Deliveries of one message before the next receive moves it to the
    /// dead letters instead (default 5; at least 1).
    pub max_receives: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            visibility_timeout: Duration::from_secs(30),
            max_receives: 5,
        }
    }
}

/// A message that was received too often, or whose body could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter<M = DispatchMessage> {
    /// The message's id in the queue.
    pub id: i64,
    /// The message, when its body could be read.
    pub message: Option<M>,
    /// The raw body.
    pub body: String,
    /// Deliveries before it was dead-lettered.
    pub receive_count: u32,
    /// When it was sent.
    pub sent_at: Timestamp,
    /// When it was dead-lettered.
    pub dead_at: Timestamp,
    /// Why.
    pub reason: String,
}

/// How many messages a queue holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Visible now.
    pub visible: u64,
    /// Delayed, or received and not yet acknowledged.
    pub hidden: u64,
    /// In the dead letters.
    pub dead: u64,
}

/// The embedded queue of messages `M`. Clones share the queue.
///
/// Invariants: message ids are never reused (`AUTOINCREMENT`), so a receipt
/// names one delivery of one message forever; a message is in `messages` or
/// in `dead_letters`, never both (moved in one transaction); every
/// `receive_count` is at most `max_receives`.
pub struct SqliteQueue<M> {
    inner: Arc<Inner>,
    _message: PhantomData<fn() -> M>,
}

impl<M> Clone for SqliteQueue<M> {
    fn clone(&self) -> Self {
        SqliteQueue {
            inner: self.inner.clone(),
            _message: PhantomData,
        }
    }
}

/// The embedded dispatch queue.
pub type LocalQueue = SqliteQueue<DispatchMessage>;

/// The embedded post-call job queue.
pub type LocalJobQueue = SqliteQueue<Job>;

struct Inner {
    db: Arc<Db>,
    clock: Arc<dyn Clock>,
    config: QueueConfig,
    /// Woken on every send and `retry_later`, so waiting receives re-check.
    arrivals: Notify,
}

impl<M> std::fmt::Debug for SqliteQueue<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue")
            .field("path", &self.inner.db.path)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

fn unavailable(message: &'static str) -> impl FnOnce(rusqlite::Error) -> QueueError {
    move |source| QueueError::Unavailable {
        message: message.into(),
        source: Box::new(source),
    }
}

fn parse_receipt(receipt: &Receipt) -> Result<(i64, i64), QueueError> {
    receipt
        .0
        .split_once('.')
        .and_then(|(id, count)| Some((id.parse().ok()?, count.parse().ok()?)))
        .ok_or_else(|| {
            QueueError::Malformed(format!("not a receipt of this queue: {:?}", receipt.0))
        })
}

impl<M: QueueMessage> SqliteQueue<M> {
    /// Opens (creating it if needed) the queue at `path`, a file of its own.
    pub fn open(
        path: impl AsRef<Path>,
        config: QueueConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<SqliteQueue<M>, OpenError> {
        let config = QueueConfig {
            max_receives: config.max_receives.max(1),
            ..config
        };
        Ok(SqliteQueue {
            inner: Arc::new(Inner {
                db: Db::open(path.as_ref(), APPLICATION_ID, MIGRATIONS)?,
                clock,
                config,
                arrivals: Notify::new(),
            }),
            _message: PhantomData,
        })
    }

    /// The queue's settings.
    pub fn config(&self) -> QueueConfig {
        self.inner.config
    }

    /// The dead letters, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter<M>>, QueueError> {
        self.inner
            .db
            .read(|conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT id, body, receive_count, sent_at, dead_at, reason \
                             FROM dead_letters ORDER BY dead_at, id",
                    )
                    .map_err(unavailable("cannot read the dead letters"))?;
                let rows = stmt
                    .query_map([], |row| {
                        let body: String = row.get(1)?;
                        Ok(DeadLetter {
                            id: row.get(0)?,
                            message: serde_json::from_str(&body).ok(),
                            body,
                            receive_count: row.get(2)?,
                            sent_at: from_nanos(row.get(3)?),
                            dead_at: from_nanos(row.get(4)?),
                            reason: row.get(5)?,
                        })
                    })
                    .map_err(unavailable("cannot read the dead letters"))?;
                rows.collect::<Result<Vec<_>, _>>()
                    .map_err(unavailable("cannot read the dead letters"))
            })
            .await
    }

    /// How many messages are visible, hidden and dead now.
    pub async fn stats(&self) -> Result<QueueStats, QueueError> {
        let now = nanos(self.inner.clock.now());

        self.inner
            .db
            .read(move |conn| {
                let (visible, hidden): (i64, i64) = conn
                    .prepare_cached(
                        "SELECT COALESCE(SUM(visible_at <= ?1), 0), \
                             COALESCE(SUM(visible_at > ?1), 0) FROM messages",
                    )
                    .and_then(|mut stmt| {
                        stmt.query_row([now], |row| Ok((row.get(0)?, row.get(1)?)))
                    })
                    .map_err(unavailable("cannot count messages"))?;
                let dead: i64 = conn
                    .prepare_cached("SELECT COUNT(*) FROM dead_letters")
                    .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
                    .map_err(unavailable("cannot count dead letters"))?;
                let n = |v: i64| u64::try_from(v).unwrap_or(0);
                Ok(QueueStats {
                    visible: n(visible),
                    hidden: n(hidden),
                    dead: n(dead),
                })
            })
            .await
    }

    /// One receive attempt: the deliveries, and when the next hidden message
    /// becomes visible (on the queue's clock).
    async fn receive_now(&self, max: usize) -> Result<(Vec<Delivery<M>>, Option<i64>), QueueError> {
        let now = nanos(self.inner.clock.now());
        let config = self.inner.config;

        self.inner
            .db
            .write(move |conn| receive_in(conn, now, config, max))
            .await
    }
}

/// Moves a message to the dead letters, inside the caller's transaction.
fn bury(
    conn: &Connection,
    id: i64,
    body: &str,
    count: i64,
    sent_at: i64,
    now: i64,
    reason: &str,
) -> Result<(), QueueError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO dead_letters (id, body, receive_count, sent_at, dead_at, reason) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut stmt| stmt.execute(params![id, body, count, sent_at, now, reason]))
    .map_err(unavailable("cannot dead-letter a message"))?;
    conn.prepare_cached("DELETE FROM messages WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute([id]))
        .map_err(unavailable("cannot dead-letter a message"))?;
    tracing::warn!(
        message_id = id,
        receive_count = count,
        reason,
        "dead-lettered a message"
    );
    Ok(())
}

fn receive_in<M: QueueMessage>(
    conn: &mut Connection,
    now: i64,
    config: QueueConfig,
    max: usize,
) -> Result<(Vec<Delivery<M>>, Option<i64>), QueueError> {
    let tx = begin(conn, TransactionBehavior::Immediate)
        .map_err(unavailable("cannot begin a receive"))?;
    let hide_until = now.saturating_add(duration_nanos(config.visibility_timeout));
    let mut deliveries = Vec::new();
    loop {
        let want = max - deliveries.len();
        let rows: Vec<(i64, String, i64, i64)> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT id, body, receive_count, sent_at FROM messages \
                     WHERE visible_at <= ?1 ORDER BY visible_at, id LIMIT ?2",
                )
                .map_err(unavailable("cannot receive"))?;
            let rows = stmt
                .query_map(
                    params![now, i64::try_from(want).unwrap_or(i64::MAX)],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )
                .map_err(unavailable("cannot receive"))?;
            rows.collect::<Result<_, _>>()
                .map_err(unavailable("cannot receive"))?
        };
        let fetched = rows.len();
        let mut buried = 0;
        for (id, body, count, sent_at) in rows {
            if count >= i64::from(config.max_receives) {
                bury(
                    &tx,
                    id,
                    &body,
                    count,
                    sent_at,
                    now,
                    "received max_receives times",
                )?;
                buried += 1;
                continue;
            }
            let message: M = match serde_json::from_str(&body) {
                Ok(message) => message,
                Err(e) => {
                    bury(
                        &tx,
                        id,
                        &body,
                        count,
                        sent_at,
                        now,
                        &format!("malformed body: {e}"),
                    )?;
                    buried += 1;
                    continue;
                }
            };
            tx.prepare_cached(
                "UPDATE messages SET receive_count = receive_count + 1, visible_at = ?2 \
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![id, hide_until]))
            .map_err(unavailable("cannot receive"))?;
            deliveries.push(Delivery {
                message,
                receipt: Receipt(format!("{id}.{}", count + 1)),
                receive_count: u32::try_from(count + 1).unwrap_or(u32::MAX),
            });
        }
        // Only dead-lettering can leave room that more visible rows may fill.
        if buried == 0 || fetched < want || deliveries.len() == max {
            break;
        }
    }
    let next_visible: Option<i64> = tx
        .prepare_cached("SELECT MIN(visible_at) FROM messages")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)).optional())
        .map_err(unavailable("cannot receive"))?
        .flatten();
    tx.commit()
        .map_err(unavailable("cannot commit a receive"))?;
    Ok((deliveries, next_visible))
}

impl<M: QueueMessage> SqliteQueue<M> {
    async fn send_messages(&self, messages: &[M], delay: Duration) -> Result<(), QueueError> {
        if messages.is_empty() {
            return Ok(());
        }
        let bodies = messages
            .iter()
            .map(|m| {
                serde_json::to_string(m).map_err(|e| QueueError::Unavailable {
                    message: "cannot encode a message".into(),
                    source: Box::new(e),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let now = nanos(self.inner.clock.now());
        let visible_at = now.saturating_add(duration_nanos(delay));

        self.inner
            .db
            .write(move |conn| {
                let tx = begin(conn, TransactionBehavior::Immediate)
                    .map_err(unavailable("cannot begin a send"))?;
                {
                    let mut insert = tx
                        .prepare_cached(
                            "INSERT INTO messages (body, visible_at, receive_count, sent_at) \
                                 VALUES (?1, ?2, 0, ?3)",
                        )
                        .map_err(unavailable("cannot send"))?;
                    for body in &bodies {
                        insert
                            .execute(params![body, visible_at, now])
                            .map_err(unavailable("cannot send"))?;
                    }
                }
                tx.commit().map_err(unavailable("cannot commit a send"))
            })
            .await?;
        self.inner.arrivals.notify_waiters();
        Ok(())
    }

    async fn receive_messages(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery<M>>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let deadline = Instant::now() + wait;
        loop {
            // Registered before looking, so a send in between still wakes us.
            let arrival = self.inner.arrivals.notified();
            tokio::pin!(arrival);
            arrival.as_mut().enable();

            let (deliveries, next_visible) = self.receive_now(max).await?;
            let now = Instant::now();
            if !deliveries.is_empty() || now >= deadline {
                return Ok(deliveries);
            }
            let mut until = deadline.min(now + POLL_CAP);
            if let Some(at) = next_visible {
                let in_clock = at.saturating_sub(nanos(self.inner.clock.now()));
                let in_clock = Duration::from_nanos(u64::try_from(in_clock).unwrap_or(0));
                until = until.min(now + in_clock.max(Duration::from_millis(1)));
            }
            tokio::select! {
                () = &mut arrival => {}
                () = tokio::time::sleep_until(until) => {}
            }
        }
    }

    async fn ack_receipt(&self, receipt: &Receipt) -> Result<(), QueueError> {
        let (id, count) = parse_receipt(receipt)?;

        self.inner
            .db
            .write(move |conn| {
                conn.prepare_cached("DELETE FROM messages WHERE id = ?1 AND receive_count = ?2")
                    .and_then(|mut stmt| stmt.execute(params![id, count]))
                    .map_err(unavailable("cannot acknowledge"))?;
                Ok(())
            })
            .await
    }

    async fn postpone(&self, receipt: &Receipt, delay: Duration) -> Result<(), QueueError> {
        let (id, count) = parse_receipt(receipt)?;
        let visible_at = nanos(self.inner.clock.now()).saturating_add(duration_nanos(delay));

        self.inner
            .db
            .write(move |conn| {
                conn.prepare_cached(
                    "UPDATE messages SET visible_at = ?3 WHERE id = ?1 AND receive_count = ?2",
                )
                .and_then(|mut stmt| stmt.execute(params![id, count, visible_at]))
                .map_err(unavailable("cannot postpone"))?;
                Ok(())
            })
            .await?;
        self.inner.arrivals.notify_waiters();
        Ok(())
    }
}

#[async_trait]
impl<M: QueueMessage> MessageQueue<M> for SqliteQueue<M> {
    async fn send(&self, messages: &[M], delay: Duration) -> Result<(), QueueError> {
        self.send_messages(messages, delay).await
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery<M>>, QueueError> {
        self.receive_messages(max, wait).await
    }

    async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError> {
        self.ack_receipt(receipt).await
    }

    async fn retry_later(&self, receipt: &Receipt, delay: Duration) -> Result<(), QueueError> {
        self.postpone(receipt, delay).await
    }

    async fn backlog(&self) -> Result<Option<u64>, QueueError> {
        let stats = self.stats().await?;
        Ok(Some(stats.visible + stats.hidden))
    }
}
