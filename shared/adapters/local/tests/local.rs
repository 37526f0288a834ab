//! Behaviour of the embedded adapters beyond the port contracts: stale
//! receipts, dead letters, stats, corrupt rows, schema versions, file kinds
//! and presigned URLs.

use std::sync::Arc;
use std::time::Duration;

use voxdial_domain::{
    BlobError, BlobStore, CampaignStore, Clock, DispatchMessage, LeadStore, MessageQueue,
    StoreError,
};
use voxdial_local::{
    LocalBlobStore, LocalQueue, LocalStore, OpenError, QueueConfig, QueueStats, SMALL_BLOB,
};
use voxdial_testkit::{ManualClock, fixtures, queue::message};

fn queue(dir: &std::path::Path, clock: Arc<ManualClock>, max_receives: u32) -> LocalQueue {
    let config = QueueConfig {
        visibility_timeout: Duration::from_secs(30),
        max_receives,
    };
    LocalQueue::open(dir.join("queue.sqlite3"), config, clock).expect("open")
}

/// Writes, behind the queue's back, a body no receiver can read, visible
/// first (at time 0).
fn insert_unreadable_body(dir: &std::path::Path) {
    let conn = rusqlite::Connection::open(dir.join("queue.sqlite3")).unwrap();
    conn.execute(
        "INSERT INTO messages (body, visible_at, receive_count, sent_at) VALUES ('{oops', 0, 0, 0)",
        [],
    )
    .unwrap();
}

#[tokio::test]
async fn a_stale_receipt_neither_acks_nor_postpones_a_redelivered_message() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::shared(fixtures::t0());
    let q = queue(dir.path(), clock.clone(), 5);
    q.send(&[message(1)], Duration::ZERO).await.unwrap();
    let first = q.receive(10, Duration::ZERO).await.unwrap().remove(0);
    clock.advance(Duration::from_secs(31));
    let second = q.receive(10, Duration::ZERO).await.unwrap().remove(0);
    assert_ne!(first.receipt, second.receipt);

    // WHEN the first delivery's handler finishes late
    q.ack(&first.receipt).await.unwrap();
    q.retry_later(&first.receipt, Duration::from_secs(3_600))
        .await
        .unwrap();
    // THEN the message is still owned by the second delivery
    assert_eq!(
        q.stats().await.unwrap(),
        QueueStats {
            visible: 0,
            hidden: 1,
            dead: 0
        }
    );
    clock.advance(Duration::from_secs(31));
    let third = q.receive(10, Duration::ZERO).await.unwrap().remove(0);
    assert_eq!(third.receive_count, 3);
    q.ack(&third.receipt).await.unwrap();
    assert_eq!(q.stats().await.unwrap(), QueueStats::default());

    let garbage = voxdial_domain::Receipt("not-a-receipt".into());
    assert!(matches!(
        q.ack(&garbage).await,
        Err(voxdial_domain::QueueError::Malformed(_))
    ));
}

#[tokio::test]
async fn the_backlog_counts_queued_delayed_and_in_flight_messages_not_dead_ones() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::shared(fixtures::t0());
    let q = queue(dir.path(), clock.clone(), 1);
    assert_eq!(q.backlog().await.unwrap(), Some(0));
    q.send(&[message(1), message(2)], Duration::ZERO)
        .await
        .unwrap();
    q.send(&[message(3)], Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(q.backlog().await.unwrap(), Some(3));
    let received = q.receive(1, Duration::ZERO).await.unwrap();
    // In flight, still owed work.
    assert_eq!(q.backlog().await.unwrap(), Some(3));
    q.ack(&received[0].receipt).await.unwrap();
    assert_eq!(q.backlog().await.unwrap(), Some(2));
    // The other one is received once and never acknowledged: with one
    // receive allowed it goes to the dead letters, out of the backlog.
    q.receive(1, Duration::ZERO).await.unwrap();
    clock.advance(Duration::from_secs(31));
    assert!(q.receive(1, Duration::ZERO).await.unwrap().is_empty());
    assert_eq!(q.backlog().await.unwrap(), Some(1));
    assert_eq!(q.stats().await.unwrap().dead, 1);
}

#[tokio::test]
async fn dead_letters_keep_the_message_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::shared(fixtures::t0());
    let q = queue(dir.path(), clock.clone(), 2);
    q.send(&[message(7)], Duration::ZERO).await.unwrap();
    for _ in 0..2 {
        assert_eq!(q.receive(10, Duration::ZERO).await.unwrap().len(), 1);
        clock.advance(Duration::from_secs(31));
    }
    insert_unreadable_body(dir.path());
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());

    let dead = q.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 2);
    let buried = dead
        .iter()
        .find(|d| d.message.is_some())
        .expect("message 7");
    assert_eq!(buried.message, Some(message(7)));
    assert_eq!(buried.receive_count, 2);
    assert_eq!(buried.dead_at, clock.now());
    let torn = dead
        .iter()
        .find(|d| d.message.is_none())
        .expect("the bad body");
    assert!(torn.reason.starts_with("malformed body"), "{}", torn.reason);
    assert_eq!(q.stats().await.unwrap().dead, 2);
}

#[tokio::test]
async fn a_receive_filled_past_dead_letters_still_returns_max() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::shared(fixtures::t0());
    let q = queue(dir.path(), clock.clone(), 1);
    q.send(&[message(1), message(2)], Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(q.receive(10, Duration::ZERO).await.unwrap().len(), 2);
    clock.advance(Duration::from_secs(31));
    let fresh: Vec<DispatchMessage> = (3..8).map(message).collect();
    q.send(&fresh, Duration::ZERO).await.unwrap();
    // The two exhausted messages come first in visibility order; the
    // receive fills up past them to max, and not beyond.
    let got = q.receive(3, Duration::ZERO).await.unwrap();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|d| fresh.contains(&d.message)));
    let rest = q.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(rest.len(), 2);
}

#[tokio::test]
async fn a_receive_filled_past_a_malformed_body_still_returns_max() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::shared(fixtures::t0());
    let q = queue(dir.path(), clock.clone(), 5);
    q.send(&[message(1), message(2)], Duration::ZERO)
        .await
        .unwrap();
    insert_unreadable_body(dir.path());
    let got = q.receive(2, Duration::ZERO).await.unwrap();
    assert_eq!(
        got.iter().map(|d| d.message.clone()).collect::<Vec<_>>(),
        vec![message(1), message(2)]
    );
    assert_eq!(q.stats().await.unwrap().dead, 1);
}

#[tokio::test]
async fn a_corrupt_row_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    let store = LocalStore::open(&path).unwrap();
    let c = fixtures::campaign("camp-a", fixtures::t0());
    store.insert_campaign(&c).await.unwrap();
    let leads = fixtures::leads(&c.id, 0..2, fixtures::t0());
    store.import_leads(&c.id, leads.clone()).await.unwrap();

    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE leads SET record = '{\"id\": 3}' WHERE id = ?1",
        [leads[0].id.as_str()],
    )
    .unwrap();
    conn.execute("UPDATE campaigns SET record = 'null'", [])
        .unwrap();

    assert!(matches!(
        store.lead(&leads[0].id).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store
            .claim_due(&c.id, 5, fixtures::t0(), fixtures::at(60), 5)
            .await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store.campaigns().await,
        Err(StoreError::Corrupt(_))
    ));
    // The failed claim rolled back: the healthy lead is still pending.
    let healthy = store.lead(&leads[1].id).await.unwrap().unwrap();
    assert_eq!(healthy, leads[1]);
}

#[test]
fn schema_versions_and_file_kinds_are_checked_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dirs/store.sqlite3");
    drop(LocalStore::open(&path).expect("creates its directory"));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, i64::from(LocalStore::schema_version()));
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(LocalStore::open(&path).expect("reopens"));

    let clock: Arc<dyn Clock> = ManualClock::shared(fixtures::t0());
    let wrong = LocalQueue::open(&path, QueueConfig::default(), clock.clone());
    assert!(
        matches!(wrong, Err(OpenError::WrongKind { .. })),
        "{wrong:?}"
    );

    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    let newer = LocalStore::open(&path);
    assert!(
        matches!(newer, Err(OpenError::SchemaTooNew { found: 99, .. })),
        "{newer:?}"
    );
}

#[test]
fn files_of_other_programs_are_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    // GIVEN a database of another program, marked with its own application
    // id but no schema version yet
    let marked = dir.path().join("marked.sqlite3");
    rusqlite::Connection::open(&marked)
        .unwrap()
        .execute_batch("PRAGMA application_id = 1234")
        .unwrap();
    // AND one that versions its schema but sets no application id
    let versioned = dir.path().join("versioned.sqlite3");
    rusqlite::Connection::open(&versioned)
        .unwrap()
        .execute_batch("PRAGMA user_version = 3")
        .unwrap();
    // THEN the store opens neither (and migrates neither)
    for path in [&marked, &versioned] {
        let opened = LocalStore::open(path);
        assert!(
            matches!(opened, Err(OpenError::WrongKind { .. })),
            "{}: {opened:?}",
            path.display()
        );
    }
}

#[tokio::test]
async fn presigned_urls_verify_only_untampered_and_unexpired() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::shared(fixtures::t0());
    let blobs = LocalBlobStore::open(
        dir.path(),
        "http://127.0.0.1:9000",
        b"s3cret".to_vec(),
        clock.clone(),
    )
    .unwrap();
    let key = "recordings/camp-a/call-1.wav";
    let url = blobs
        .presign_get(key, Duration::from_secs(600))
        .await
        .unwrap();
    let expires = fixtures::t0().timestamp() + 600;
    let prefix = format!("http://127.0.0.1:9000/blobs/{key}?expires={expires}&sig=");
    assert!(url.starts_with(&prefix), "{url}");
    let sig = &url[prefix.len()..];
    assert_eq!(sig.len(), 64);

    let now = fixtures::t0();
    assert!(blobs.verify_presigned(key, expires, sig, now));
    assert!(blobs.verify_presigned(key, expires, sig, fixtures::at(600)));
    assert!(
        !blobs.verify_presigned(key, expires, sig, fixtures::at(601)),
        "expired"
    );
    assert!(!blobs.verify_presigned("recordings/camp-a/call-2.wav", expires, sig, now));
    assert!(
        !blobs.verify_presigned(key, expires + 3_600, sig, now),
        "extended"
    );
    let mut flipped = sig.to_string();
    flipped.replace_range(0..1, if sig.starts_with('0') { "1" } else { "0" });
    assert!(!blobs.verify_presigned(key, expires, &flipped, now));
    assert!(!blobs.verify_presigned(key, expires, "zz", now));
    assert!(!blobs.verify_presigned("../etc/passwd", expires, sig, now));

    let other = LocalBlobStore::open(dir.path(), "http://x", b"other".to_vec(), clock).unwrap();
    assert!(
        !other.verify_presigned(key, expires, sig, now),
        "another secret"
    );
}

#[tokio::test]
async fn upload_urls_write_only_and_uploads_commit_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::shared(fixtures::t0());
    let blobs =
        LocalBlobStore::open(dir.path(), "http://127.0.0.1:9000", b"k".to_vec(), clock).unwrap();
    let key = "imports/c1/im_1.csv";
    let put = blobs
        .presign_put(key, Duration::from_secs(600))
        .await
        .unwrap();
    let get = blobs
        .presign_get(key, Duration::from_secs(600))
        .await
        .unwrap();
    let sig = |url: &str| url.rsplit_once("sig=").unwrap().1.to_string();
    let (expires, now) = (fixtures::t0().timestamp() + 600, fixtures::t0());
    // A write URL writes and does not read; a read URL reads and does not write.
    assert!(blobs.verify_presigned_put(key, expires, &sig(&put), now));
    assert!(!blobs.verify_presigned(key, expires, &sig(&put), now));
    assert!(!blobs.verify_presigned_put(key, expires, &sig(&get), now));
    assert!(!blobs.verify_presigned_put(key, expires, &sig(&put), fixtures::at(601)));

    // An upload dropped half-way leaves nothing; a committed one is the blob.
    let mut broken = blobs.upload(key).unwrap();
    broken.write(b"phone\n+1212").unwrap();
    drop(broken);
    assert_eq!(blobs.get(key).await.unwrap(), None);
    assert!(
        std::fs::read_dir(dir.path().join("tmp"))
            .unwrap()
            .next()
            .is_none()
    );
    let mut upload = blobs.upload(key).unwrap();
    upload.write(b"phone\n").unwrap();
    upload.write(b"+12125550100\n").unwrap();
    assert_eq!(upload.bytes(), 19);
    upload.commit().await.unwrap();
    assert_eq!(
        blobs.get(key).await.unwrap().as_deref(),
        Some(&b"phone\n+12125550100\n"[..])
    );
}

#[tokio::test]
async fn blob_writes_leave_no_temporary_files_and_stale_ones_are_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = ManualClock::shared(fixtures::t0());
    let blobs = LocalBlobStore::open(dir.path(), "http://h", b"k".to_vec(), clock.clone()).unwrap();
    let large = SMALL_BLOB + 1;
    for round in 0..5u8 {
        blobs
            .put("a/b.bin", vec![round; large], "application/octet-stream")
            .await
            .unwrap();
    }
    assert_eq!(blobs.get("a/b.bin").await.unwrap(), Some(vec![4u8; large]));
    let tmp = dir.path().join("tmp");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    assert_eq!(
        std::fs::read(dir.path().join("objects/a/b.bin")).unwrap(),
        vec![4u8; large]
    );

    // GIVEN a write a crash interrupted
    std::fs::write(tmp.join("interrupted"), b"half").unwrap();
    // WHEN the store is opened again THEN it is gone and never listed
    let blobs = LocalBlobStore::open(dir.path(), "http://h", b"k".to_vec(), clock).unwrap();
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    assert_eq!(blobs.list("").await.unwrap(), vec!["a/b.bin".to_string()]);
    assert!(blobs.delete("a/b.bin").await.unwrap());
    assert!(
        !dir.path().join("objects/a").exists(),
        "empty directories are pruned"
    );
}

#[tokio::test]
async fn small_blobs_are_rows_and_a_key_lives_in_one_place_whatever_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = ManualClock::shared(fixtures::t0());
    let open = || LocalBlobStore::open(dir.path(), "http://h", b"k".to_vec(), clock.clone());
    let blobs = open().unwrap();
    let (key, file) = (
        "analyses/c1/call.json",
        dir.path().join("objects/analyses/c1/call.json"),
    );
    let small = vec![1u8; SMALL_BLOB];
    let large = vec![2u8; SMALL_BLOB + 1];

    // GIVEN a blob of SMALL_BLOB bytes THEN it is no file, and it is kept
    blobs
        .put(key, small.clone(), "application/json")
        .await
        .unwrap();
    assert!(!file.exists());
    let blobs = open().unwrap();
    assert_eq!(blobs.get(key).await.unwrap(), Some(small.clone()));
    assert_eq!(
        blobs
            .get_range(key, SMALL_BLOB as u64 - 2, 10)
            .await
            .unwrap(),
        Some(vec![1u8; 2])
    );
    assert_eq!(
        blobs
            .get_range(key, SMALL_BLOB as u64 + 5, 10)
            .await
            .unwrap(),
        Some(vec![])
    );

    // WHEN it grows THEN it is a file and the row is gone; WHEN it shrinks
    // THEN the file is gone (and its emptied folders with it)
    blobs
        .put(key, large.clone(), "application/json")
        .await
        .unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), large);
    assert_eq!(blobs.get(key).await.unwrap(), Some(large));
    blobs
        .put(key, b"{}".to_vec(), "application/json")
        .await
        .unwrap();
    assert!(!dir.path().join("objects/analyses").exists());
    assert_eq!(blobs.get(key).await.unwrap(), Some(b"{}".to_vec()));
    assert_eq!(
        blobs.list("analyses/").await.unwrap(),
        vec![key.to_string()]
    );

    // GIVEN a file a crash left beside the row that replaced it
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, b"stale").unwrap();
    // THEN the row is the blob, listed once, and a delete removes both
    assert_eq!(blobs.get(key).await.unwrap(), Some(b"{}".to_vec()));
    assert_eq!(blobs.list("").await.unwrap(), vec![key.to_string()]);
    assert!(blobs.delete(key).await.unwrap());
    assert!(!file.exists());
    assert_eq!(blobs.get(key).await.unwrap(), None);
    assert!(!blobs.delete(key).await.unwrap());

    // Prefixes bound the rows listed, not only whole segments.
    for k in ["a/b", "a/bc", "a/c", "ab"] {
        blobs.put(k, b"x".to_vec(), "text/plain").await.unwrap();
    }
    assert_eq!(blobs.list("a/b").await.unwrap(), vec!["a/b", "a/bc"]);
    assert_eq!(
        blobs.list("a").await.unwrap(),
        vec!["a/b", "a/bc", "a/c", "ab"]
    );
}

fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, BlobError>) {
    assert!(
        matches!(result, Err(BlobError::Unavailable { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_folder_that_cannot_be_read_fails_reads_instead_of_looking_empty() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = ManualClock::shared(fixtures::t0());
    let blobs = LocalBlobStore::open(dir.path(), "http://h", b"k".to_vec(), clock).unwrap();
    blobs
        .put("a/b.json", b"{}".to_vec(), "application/json")
        .await
        .unwrap();
    // GIVEN a folder that cannot be read: a symbolic link to itself
    std::os::unix::fs::symlink("loop", dir.path().join("objects/loop")).unwrap();
    // THEN listing, reading and deleting under it fail, where a missing
    // folder or blob is simply not there
    assert_unavailable(blobs.list("loop/").await);
    assert_unavailable(blobs.get("loop/x").await);
    assert_unavailable(blobs.get_range("loop/x", 0, 4).await);
    assert_unavailable(blobs.delete("loop/x").await);
    assert_eq!(blobs.list("missing/").await.unwrap(), Vec::<String>::new());
    assert_eq!(blobs.get_range("missing/x", 0, 4).await.unwrap(), None);
    assert!(!blobs.delete("missing/x").await.unwrap());
    assert_eq!(blobs.list("").await.unwrap(), vec!["a/b.json".to_string()]);
}

#[tokio::test]
async fn a_long_poll_wakes_when_a_delayed_message_becomes_visible() {
    let dir = tempfile::tempdir().unwrap();
    let config = QueueConfig::default();
    let q = LocalQueue::open(
        dir.path().join("queue.sqlite3"),
        config,
        Arc::new(voxdial_app::clock::SystemClock),
    )
    .unwrap();
    q.send(&[message(1)], Duration::from_millis(100))
        .await
        .unwrap();
    // No send wakes this receive: it must re-check when the delay ends.
    let started = std::time::Instant::now();
    let got = q.receive(10, Duration::from_secs(5)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_queue_configured_for_no_receive_delivers_each_message_once() {
    // GIVEN a queue configured with no receive at all (read as one)
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::shared(fixtures::t0());
    let q = queue(dir.path(), clock.clone(), 0);
    assert_eq!(q.config().max_receives, 1);
    // WHEN a message is sent, THEN it is delivered once, then dead-lettered
    q.send(&[message(1)], Duration::ZERO).await.unwrap();
    assert_eq!(q.receive(10, Duration::ZERO).await.unwrap().len(), 1);
    clock.advance(Duration::from_secs(31));
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
    assert_eq!(q.stats().await.unwrap().dead, 1);
}
