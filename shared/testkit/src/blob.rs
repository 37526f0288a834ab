//! The blob store contract: what every [`BlobStore`](voxdial_domain::BlobStore)
//! adapter must do, one function per case.
//! [`blob_contract!`](crate::blob_contract) turns each into a test.
//!
//! Keys are `/`-separated; an adapter rejects with `InvalidKey` at least the
//! empty key, absolute keys, empty segments and `.`/`..` segments, for every
//! operation. `list` takes a plain string prefix (not only whole segments)
//! and returns full keys, sorted.

use std::time::Duration;

use voxdial_domain::BlobError;

use crate::BlobSubject;

/// Keys every adapter must refuse.
pub const INVALID_KEYS: [&str; 7] = ["", "../x", "/abs", "a//b", "a/../b", "a/./b", "a/"];

/// `put` then `get` returns the bytes; `put` again replaces them; `delete`
/// removes the blob (true), after which `get` is `None` and `delete` false.
pub async fn put_get_overwrite_delete(subject: BlobSubject) {
    let blobs = subject.blobs();
    let key = "recordings/camp-a/call-1.wav";
    blobs
        .put(key, b"RIFF first".to_vec(), "audio/wav")
        .await
        .expect("put");
    assert_eq!(blobs.get(key).await.unwrap(), Some(b"RIFF first".to_vec()));
    blobs
        .put(key, b"second".to_vec(), "audio/wav")
        .await
        .expect("overwrite");
    assert_eq!(blobs.get(key).await.unwrap(), Some(b"second".to_vec()));
    assert!(blobs.delete(key).await.unwrap());
    assert_eq!(blobs.get(key).await.unwrap(), None);
    assert!(!blobs.delete(key).await.unwrap());
}

/// Overwrites from a few bytes to a few hundred KiB and back (an adapter
/// may keep small blobs apart from large ones) read, range and list the
/// last write; a delete then removes the key whatever it held.
pub async fn overwrites_across_sizes_read_the_last(subject: BlobSubject) {
    let blobs = subject.blobs();
    let key = "analyses/camp-a/call-1.json";
    let large: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    for data in [
        b"{}".to_vec(),
        large.clone(),
        b"{\"v\":3}".to_vec(),
        large.clone(),
    ] {
        blobs
            .put(key, data.clone(), "application/json")
            .await
            .expect("put");
        assert_eq!(blobs.get(key).await.unwrap(), Some(data.clone()));
        assert_eq!(
            blobs.get_range(key, 1, 4).await.unwrap(),
            Some(data[1..5.min(data.len())].to_vec())
        );
        assert_eq!(
            blobs.list("analyses/").await.unwrap(),
            vec![key.to_string()]
        );
    }
    assert!(blobs.delete(key).await.unwrap());
    assert_eq!(blobs.get(key).await.unwrap(), None);
    assert_eq!(blobs.list("").await.unwrap(), Vec::<String>::new());
}

/// Reading or deleting a key never written is `None` / false, not an error.
pub async fn missing_blobs_are_none(subject: BlobSubject) {
    let blobs = subject.blobs();
    assert_eq!(blobs.get("nothing/here.txt").await.unwrap(), None);
    assert!(!blobs.delete("nothing/here.txt").await.unwrap());
    assert_eq!(blobs.list("nothing/").await.unwrap(), Vec::<String>::new());
}

/// Any bytes round-trip, the empty blob included.
pub async fn binary_data_round_trips(subject: BlobSubject) {
    let blobs = subject.blobs();
    let every_byte: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    blobs
        .put("bin/all", every_byte.clone(), "application/octet-stream")
        .await
        .unwrap();
    blobs
        .put("bin/empty", Vec::new(), "application/octet-stream")
        .await
        .unwrap();
    assert_eq!(blobs.get("bin/all").await.unwrap(), Some(every_byte));
    assert_eq!(blobs.get("bin/empty").await.unwrap(), Some(Vec::new()));
}

/// `list(prefix)` returns exactly the keys starting with `prefix`, sorted,
/// whether the prefix ends at a `/` or inside a segment.
pub async fn list_by_prefix_sorted(subject: BlobSubject) {
    let blobs = subject.blobs();
    for key in [
        "calls/c1/b.wav",
        "calls/c10/y.json",
        "calls/c1/a.wav",
        "calls/c2/x.json",
        "calls/c1/deep/z.txt",
        "other/z",
    ] {
        blobs
            .put(key, key.as_bytes().to_vec(), "text/plain")
            .await
            .unwrap();
    }
    let list = |prefix: &'static str| {
        let blobs = blobs.clone();
        async move { blobs.list(prefix).await.unwrap() }
    };
    assert_eq!(
        list("calls/c1/").await,
        ["calls/c1/a.wav", "calls/c1/b.wav", "calls/c1/deep/z.txt"]
    );
    assert_eq!(
        list("calls/c1").await,
        [
            "calls/c1/a.wav",
            "calls/c1/b.wav",
            "calls/c1/deep/z.txt",
            "calls/c10/y.json"
        ]
    );
    assert_eq!(
        list("").await,
        [
            "calls/c1/a.wav",
            "calls/c1/b.wav",
            "calls/c1/deep/z.txt",
            "calls/c10/y.json",
            "calls/c2/x.json",
            "other/z"
        ]
    );
    assert_eq!(list("nope/").await, Vec::<String>::new());
    assert!(blobs.delete("calls/c1/deep/z.txt").await.unwrap());
    assert_eq!(
        list("calls/c1/").await,
        ["calls/c1/a.wav", "calls/c1/b.wav"]
    );
}

/// Every operation refuses the keys of [`INVALID_KEYS`] with `InvalidKey`,
/// and nothing is written.
pub async fn invalid_keys_are_rejected(subject: BlobSubject) {
    let blobs = subject.blobs();
    for key in INVALID_KEYS {
        let put = blobs.put(key, b"x".to_vec(), "text/plain").await;
        assert!(
            matches!(put, Err(BlobError::InvalidKey(_))),
            "put {key:?}: {put:?}"
        );
        let get = blobs.get(key).await;
        assert!(
            matches!(get, Err(BlobError::InvalidKey(_))),
            "get {key:?}: {get:?}"
        );
        let delete = blobs.delete(key).await;
        assert!(
            matches!(delete, Err(BlobError::InvalidKey(_))),
            "delete {key:?}: {delete:?}"
        );
        let url = blobs.presign_get(key, Duration::from_secs(60)).await;
        assert!(
            matches!(url, Err(BlobError::InvalidKey(_))),
            "presign {key:?}: {url:?}"
        );
    }
    assert_eq!(blobs.list("").await.unwrap(), Vec::<String>::new());
}

/// `put_file` stores a local file's bytes (a few chunks' worth, so a
/// streamed upload shows its seams) and replaces what the key held; a file
/// that cannot be read is `Unavailable` and leaves the key as it was; an
/// invalid key is refused before the file is read.
pub async fn put_file_stores_the_file_bytes(subject: BlobSubject) {
    let blobs = subject.blobs();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("call.wav");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &bytes).expect("a file");
    let key = "recordings/camp-a/call-1.wav";
    blobs
        .put(key, b"older".to_vec(), "audio/wav")
        .await
        .expect("put");
    blobs
        .put_file(key, &path, "audio/wav")
        .await
        .expect("put_file");
    assert_eq!(blobs.get(key).await.unwrap(), Some(bytes.clone()));
    let missing = blobs
        .put_file(key, &dir.path().join("gone.wav"), "audio/wav")
        .await;
    assert!(
        matches!(missing, Err(BlobError::Unavailable { .. })),
        "{missing:?}"
    );
    assert_eq!(blobs.get(key).await.unwrap(), Some(bytes));
    for bad in INVALID_KEYS {
        let put = blobs.put_file(bad, &path, "audio/wav").await;
        assert!(
            matches!(put, Err(BlobError::InvalidKey(_))),
            "{bad:?}: {put:?}"
        );
    }
}

/// `presign_get` returns an http(s) URL whose path contains the key.
pub async fn presign_get_names_the_key(subject: BlobSubject) {
    let blobs = subject.blobs();
    let key = "recordings/camp-a/call-1.wav";
    blobs.put(key, b"RIFF".to_vec(), "audio/wav").await.unwrap();
    let url = blobs
        .presign_get(key, Duration::from_secs(300))
        .await
        .expect("presign");
    assert!(
        url.starts_with("http://") || url.starts_with("https://"),
        "{url}"
    );
    let path = url.split('?').next().unwrap_or_default();
    assert!(path.ends_with(key), "{url} does not name {key}");
}

/// `presign_put` returns an http(s) URL whose path contains the key.
pub async fn presign_put_names_the_key(subject: BlobSubject) {
    let blobs = subject.blobs();
    let key = "imports/camp-a/im_1.csv";
    let url = blobs
        .presign_put(key, Duration::from_secs(300))
        .await
        .expect("presign");
    assert!(
        url.starts_with("http://") || url.starts_with("https://"),
        "{url}"
    );
    let path = url.split('?').next().unwrap_or_default();
    assert!(path.ends_with(key), "{url} does not name {key}");
    for bad in INVALID_KEYS {
        assert!(matches!(
            blobs.presign_put(bad, Duration::from_secs(300)).await,
            Err(BlobError::InvalidKey(_))
        ));
    }
}

/// `get_range` reads bounded chunks: the bytes from `start`, at most
/// `len`, fewer at the end, none past it; `None` for a missing blob.
pub async fn get_range_reads_bounded_chunks(subject: BlobSubject) {
    let blobs = subject.blobs();
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    blobs
        .put("big/file", data.clone(), "text/csv")
        .await
        .unwrap();
    let mut read = Vec::new();
    let mut start = 0;
    loop {
        let chunk = blobs
            .get_range("big/file", start, 4096)
            .await
            .unwrap()
            .expect("the blob exists");
        assert!(chunk.len() <= 4096);
        if chunk.is_empty() {
            break;
        }
        start += chunk.len() as u64;
        read.extend(chunk);
    }
    assert_eq!(read, data);
    assert_eq!(
        blobs.get_range("big/file", 9_998, 100).await.unwrap(),
        Some(data[9_998..].to_vec())
    );
    assert_eq!(
        blobs.get_range("big/file", 20_000, 10).await.unwrap(),
        Some(Vec::new())
    );
    assert_eq!(blobs.get_range("no/file", 0, 10).await.unwrap(), None);
}
