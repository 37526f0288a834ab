//! [`LocalBlobStore`]: blobs as files under a root directory, and presigned
//! URLs for the local HTTP server.
//!
//! Layout under the root: a blob of at most [`SMALL_BLOB`] bytes written
//! with `put` is a row of `small.sqlite3`; any other blob is the file
//! `objects/{key}`; `tmp/` holds file writes in progress.
//!
//! A file write goes to a temporary file, is flushed to disk (`fsync`), then
//! renamed over the blob's path and the directory flushed: readers see the
//! old bytes or the new ones, never a mix, also after a crash (leftover
//! temporary files are removed at open).
//!
//! A small blob is one SQLite commit (WAL, `synchronous = NORMAL`, as in
//! the store): it survives the process being killed, and an OS crash or a
//! power loss may lose the last ones, as it may the store's last commits.
//! Analyses, transcripts and recordings of a few seconds so cost no file
//! creation and no `fsync`: as files they were a sixth of `voxdial serve`'s
//! CPU under status-callback load.
//!
//! A key is in one place at a time. Every write and delete holds the
//! small-blob database's one connection, so the changes of one key are
//! ordered whatever their sizes: a small write commits its row, then
//! removes the key's file; a large write renames its file into place in
//! the transaction that deletes the key's row; a delete removes both in
//! one transaction. A crash between the two steps of a small write leaves
//! the row beside an older file, and a row is read before a file, so a
//! reader sees the old blob or the new one, never none. A read looks for a
//! row, then a file, then a row again, so a blob made small between the
//! first two looks is still found.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::Sha256;
use voxdial_domain::{BlobError, BlobStore, Clock, Timestamp};

use crate::OpenError;
use crate::sqlite::Db;

/// Blobs `put` with at most this many bytes are rows of `small.sqlite3`
/// instead of files.
pub const SMALL_BLOB: usize = 128 * 1024;

/// `PRAGMA application_id` of the small-blob file ("vxdb").
const SMALL_APPLICATION_ID: i32 = 0x7678_6462;

/// Schema versions of the small-blob file.
const SMALL_MIGRATIONS: &[&str] = &["
CREATE TABLE small_blobs (
    key  TEXT PRIMARY KEY NOT NULL, -- a valid key (validate_key)
    data BLOB NOT NULL
) STRICT;
"];

/// The longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Checks a blob key: 1 to [`MAX_KEY_LEN`] bytes of `A-Z a-z 0-9 - _ . ~ =
/// , @ : +` in `/`-separated segments, none empty, `.` or `..` (so no
/// leading or trailing `/` and no `//`). Such a key is safe as a relative
/// path and in a URL path without escaping.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key.bytes().all(key_byte)
        && key
            .split('/')
            .all(|segment| !matches!(segment, "" | "." | ".."));
    if ok {
        Ok(())
    } else {
        Err(BlobError::InvalidKey(key.chars().take(200).collect()))
    }
}

fn key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.~=,@:+/".contains(&b)
}

/// A list prefix: empty, or a key prefix whose complete segments are valid.
fn validate_prefix(prefix: &str) -> Result<(), BlobError> {
    let (dirs, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
    let ok = prefix.len() <= MAX_KEY_LEN
        && prefix.bytes().all(key_byte)
        && (!prefix.contains('/') || dirs.split('/').all(|s| !matches!(s, "" | "." | "..")));
    if ok {
        Ok(())
    } else {
        Err(BlobError::InvalidKey(prefix.chars().take(200).collect()))
    }
}

/// `Unavailable` with `message`, from a file system or SQLite error.
fn unavailable<E: std::error::Error + Send + Sync + 'static>(
    message: &'static str,
) -> impl FnOnce(E) -> BlobError {
    move |source| BlobError::Unavailable {
        message: message.into(),
        source: Box::new(source),
    }
}

/// Runs `work` in one `BEGIN IMMEDIATE` transaction of the small-blob
/// file: committed if it succeeds, rolled back if it fails.
fn in_transaction<R>(
    conn: &mut Connection,
    message: &'static str,
    work: impl FnOnce(&Connection) -> Result<R, BlobError>,
) -> Result<R, BlobError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(unavailable(message))?;
    let result = work(&tx)?;
    tx.commit().map_err(unavailable(message))?;
    Ok(result)
}

/// The small blob at `key`, if there is one.
fn small_blob(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
    conn.prepare_cached("SELECT data FROM small_blobs WHERE key = ?1")
        .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional())
        .map_err(unavailable("cannot read a blob"))
}

/// Deletes the small blob at `key`; whether there was one.
fn delete_small_blob(conn: &Connection, key: &str) -> Result<bool, BlobError> {
    conn.prepare_cached("DELETE FROM small_blobs WHERE key = ?1")
        .and_then(|mut stmt| stmt.execute([key]))
        .map(|deleted| deleted > 0)
        .map_err(unavailable("cannot delete a blob"))
}

/// The keys of small blobs under `prefix`, sorted.
fn small_keys(conn: &Connection, prefix: &str) -> Result<Vec<String>, BlobError> {
    // Valid keys are ASCII below DEL, so the keys under `prefix` sort from
    // `prefix` to just before `prefix` followed by DEL.
    let mut stmt = conn
        .prepare_cached("SELECT key FROM small_blobs WHERE key >= ?1 AND key < ?2 ORDER BY key")
        .map_err(unavailable("cannot list blobs"))?;
    let keys = stmt
        .query_map(params![prefix, format!("{prefix}\u{7f}")], |row| row.get(0))
        .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
        .map_err(unavailable("cannot list blobs"))?;
    Ok(keys)
}

/// At most `len` bytes of `data` from byte `start`, as a file read gives them.
fn range_of(data: &[u8], start: u64, len: u64) -> Vec<u8> {
    let start = usize::try_from(start).unwrap_or(usize::MAX).min(data.len());
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    data[start..][..len.min(data.len() - start)].to_vec()
}

/// Whether an error means "no blob at this key" (the path, or a directory on
/// the way, is missing or is of the wrong kind).
fn is_absent(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::NotFound | ErrorKind::IsADirectory | ErrorKind::NotADirectory
    )
}

/// The embedded blob store. Clones share it.
#[derive(Clone)]
pub struct LocalBlobStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// `{root}/small.sqlite3`: the blobs of at most [`SMALL_BLOB`] bytes.
    small: Arc<Db>,
    /// `{root}/objects`: every other blob lives under it, at its key.
    objects: PathBuf,
    /// `{root}/tmp`: on the same file system, so a rename is atomic.
    tmp: PathBuf,
    /// Where the local HTTP server serves `/blobs/{key}`, without a trailing `/`.
    base_url: String,
    /// The HMAC key of presigned URLs.
    secret: Vec<u8>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LocalBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBlobStore")
            .field("objects", &self.inner.objects)
            .field("base_url", &self.inner.base_url)
            .finish_non_exhaustive()
    }
}

impl LocalBlobStore {
    /// Opens (creating it if needed) the blob store under `root`. Presigned
    /// URLs point at `{base_url}/blobs/{key}` and are signed with `secret`;
    /// their expiry is read on `clock`.
    pub fn open(
        root: impl AsRef<Path>,
        base_url: impl Into<String>,
        secret: impl Into<Vec<u8>>,
        clock: Arc<dyn Clock>,
    ) -> Result<LocalBlobStore, OpenError> {
        let root = root.as_ref();
        let objects = root.join("objects");
        let tmp = root.join("tmp");
        for dir in [&objects, &tmp] {
            std::fs::create_dir_all(dir).map_err(|source| OpenError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        // Writes a crash interrupted: never renamed, so never visible.
        let leftovers = std::fs::read_dir(&tmp).map_err(|source| OpenError::Io {
            path: tmp.clone(),
            source,
        })?;
        for entry in leftovers.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        let small = Db::open_with(
            &root.join("small.sqlite3"),
            SMALL_APPLICATION_ID,
            SMALL_MIGRATIONS,
            false,
            true,
        )?;
        let mut base_url = base_url.into();
        while base_url.ends_with('/') {
            base_url.pop();
        }
        Ok(LocalBlobStore {
            inner: Arc::new(Inner {
                small,
                objects,
                tmp,
                base_url,
                secret: secret.into(),
                clock,
            }),
        })
    }

    /// The signature of `key` until `expires`: for reading (GET) or for
    /// writing (PUT, whose input starts with `PUT\n`; a key holds no
    /// newline, so neither signature is ever the other's).
    fn mac(&self, method: Method, key: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.inner.secret)
            .expect("HMAC takes a key of any length");
        if method == Method::Put {
            mac.update(b"PUT\n");
        }
        mac.update(key.as_bytes());
        mac.update(b"|");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// Whether `sig` (hex) is this store's signature for reading `key`
    /// until `expires` (Unix seconds) and `now` is not past `expires`. The
    /// signature is compared in constant time.
    pub fn verify_presigned(&self, key: &str, expires: i64, sig: &str, now: Timestamp) -> bool {
        self.verify(Method::Get, key, expires, sig, now)
    }

    /// The same for writing `key` (a URL from `presign_put`); a read URL
    /// never verifies as a write URL, nor the reverse.
    pub fn verify_presigned_put(&self, key: &str, expires: i64, sig: &str, now: Timestamp) -> bool {
        self.verify(Method::Put, key, expires, sig, now)
    }

    fn verify(&self, method: Method, key: &str, expires: i64, sig: &str, now: Timestamp) -> bool {
        if validate_key(key).is_err() || now.timestamp() > expires {
            return false;
        }
        let Ok(sig) = hex::decode(sig) else {
            return false;
        };
        self.mac(method, key, expires).verify_slice(&sig).is_ok()
    }

    fn presign(&self, method: Method, key: &str, ttl: Duration) -> Result<String, BlobError> {
        validate_key(key)?;
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let expires = self.inner.clock.now().timestamp().saturating_add(ttl);
        let sig = hex::encode(self.mac(method, key, expires).finalize().into_bytes());
        Ok(format!(
            "{}/blobs/{key}?expires={expires}&sig={sig}",
            self.inner.base_url
        ))
    }

    /// Starts writing `key` from a stream of chunks (an upload to a
    /// presigned URL): the bytes go to a temporary file and become the
    /// blob only on [`Upload::commit`], so memory stays flat whatever the
    /// size and a broken upload leaves nothing.
    pub fn upload(&self, key: &str) -> Result<Upload, BlobError> {
        validate_key(key)?;
        let tmp = self
            .inner
            .tmp
            .join(uuid::Uuid::new_v4().simple().to_string());
        let file = std::fs::File::create(&tmp).map_err(unavailable("cannot start an upload"))?;
        Ok(Upload {
            store: self.clone(),
            key: key.to_string(),
            file: Some(file),
            tmp,
            bytes: 0,
        })
    }

    async fn blocking<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<R, BlobError> + Send + 'static,
    ) -> Result<R, BlobError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|source| BlobError::Unavailable {
                message: "the blob store's worker thread failed".into(),
                source: Box::new(source),
            })?
    }
}

/// What a presigned URL allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    /// Reading the blob.
    Get,
    /// Writing the blob.
    Put,
}

/// A blob being written from chunks; see [`LocalBlobStore::upload`].
/// Dropped without a commit, it leaves nothing.
pub struct Upload {
    store: LocalBlobStore,
    key: String,
    file: Option<std::fs::File>,
    tmp: PathBuf,
    bytes: u64,
}

impl Upload {
    /// Appends a chunk.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        let file = self.file.as_mut().ok_or_else(|| BlobError::Unavailable {
            message: "the upload is closed".into(),
            source: "closed".into(),
        })?;
        file.write_all(chunk)
            .map_err(unavailable("cannot write an upload"))?;
        self.bytes += chunk.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Makes the bytes written the blob (atomically, like `put`).
    pub async fn commit(mut self) -> Result<(), BlobError> {
        let file = self.file.take();
        let (key, tmp) = (self.key.clone(), self.tmp.clone());
        self.store
            .blocking(move |inner| {
                let synced = file.map_or(Ok(()), |f| f.sync_all());
                synced.map_err(unavailable("cannot write an upload"))?;
                inner.commit(&tmp, &key)
            })
            .await
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl Inner {
    /// Copies `path` into a temporary file (by the kernel, no buffer of
    /// ours), flushes it, then commits it like `put`.
    fn put_file(&self, key: &str, path: &Path) -> Result<(), BlobError> {
        let tmp = self.tmp.join(uuid::Uuid::new_v4().simple().to_string());
        let written = std::fs::copy(path, &tmp).and_then(|_| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&tmp)?
                .sync_all()
        });
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(unavailable("cannot copy a file into a blob"))?;
        self.commit(&tmp, key)
    }

    fn put(&self, key: &str, data: &[u8]) -> Result<(), BlobError> {
        let tmp = self.tmp.join(uuid::Uuid::new_v4().simple().to_string());
        let written = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(data)?;
            file.sync_all()
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(unavailable("cannot write a blob"))?;
        self.commit(&tmp, key)
    }

    /// Renames a flushed temporary file over the blob's path and deletes
    /// the key's small blob, in one transaction of the small-blob file.
    fn commit(&self, tmp: &Path, key: &str) -> Result<(), BlobError> {
        let path = self.objects.join(key);
        let dir = path.parent().unwrap_or(&self.objects).to_path_buf();
        let renamed = std::fs::create_dir_all(&dir)
            .map_err(unavailable("cannot write a blob"))
            .and_then(|()| {
                self.small.write_blocking(|conn| {
                    in_transaction(conn, "cannot write a blob", |tx| {
                        delete_small_blob(tx, key)?;
                        std::fs::rename(tmp, &path).map_err(unavailable("cannot write a blob"))
                    })
                })
            })
            .and_then(|()| {
                std::fs::File::open(&dir)
                    .and_then(|dir| dir.sync_all())
                    .map_err(unavailable("cannot write a blob"))
            });
        if renamed.is_err() {
            let _ = std::fs::remove_file(tmp);
        }
        renamed
    }

    /// Removes the file of `key`; whether there was one.
    fn remove_file(&self, key: &str, message: &'static str) -> Result<bool, BlobError> {
        match std::fs::remove_file(self.objects.join(key)) {
            Ok(()) => Ok(true),
            Err(e) if is_absent(&e) => Ok(false),
            Err(e) => Err(unavailable(message)(e)),
        }
    }

    /// Removes the directories that removing the file of `key` left empty
    /// (a failure just stops it).
    fn prune(&self, key: &str) {
        let path = self.objects.join(key);
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| *d != self.objects) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }

    fn get_range(&self, key: &str, start: u64, len: u64) -> Result<Option<Vec<u8>>, BlobError> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = match std::fs::File::open(self.objects.join(key)) {
            Ok(file) => file,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(unavailable("cannot read a blob")(e)),
        };
        let mut data = Vec::new();
        file.seek(SeekFrom::Start(start))
            .map_err(unavailable("cannot read a blob"))?;
        file.take(len)
            .read_to_end(&mut data)
            .map_err(unavailable("cannot read a blob"))?;
        Ok(Some(data))
    }

    /// Deletes the small blob and the file of `key` in one transaction of
    /// the small-blob file; whether there was either. A deleted row leaves
    /// no copy: its pages are zeroed (`secure_delete`) and the log, which
    /// holds the images of the pages it was written to, is emptied.
    fn delete(&self, key: &str) -> Result<bool, BlobError> {
        let (row, file) = self.small.write_blocking(|conn| {
            let deleted = in_transaction(conn, "cannot delete a blob", |tx| {
                let row = delete_small_blob(tx, key)?;
                Ok((row, self.remove_file(key, "cannot delete a blob")?))
            })?;
            if deleted.0 {
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                    .map_err(unavailable("cannot empty the log after a delete"))?;
            }
            Ok::<_, BlobError>(deleted)
        })?;
        if file {
            self.prune(key);
        }
        Ok(row || file)
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let start = match prefix.rsplit_once('/') {
            Some((dirs, _)) => self.objects.join(dirs),
            None => self.objects.clone(),
        };
        let mut keys = Vec::new();
        let mut pending = vec![start];
        while let Some(dir) = pending.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if is_absent(&e) => continue,
                Err(e) => return Err(unavailable("cannot list blobs")(e)),
            };
            for entry in entries {
                let entry = entry.map_err(unavailable("cannot list blobs"))?;
                let kind = entry
                    .file_type()
                    .map_err(unavailable("cannot list blobs"))?;
                let path = entry.path();
                if kind.is_dir() {
                    pending.push(path);
                } else if kind.is_file()
                    && let Some(key) = self.key_of(&path)
                    && key.starts_with(prefix)
                {
                    keys.push(key);
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// The key of a file under `objects`, if it is a valid one.
    fn key_of(&self, path: &Path) -> Option<String> {
        let relative = path.strip_prefix(&self.objects).ok()?;
        let parts: Vec<&str> = relative
            .components()
            .map(|c| c.as_os_str().to_str())
            .collect::<Option<_>>()?;
        let key = parts.join("/");
        validate_key(&key).ok().map(|()| key)
    }
}

impl LocalBlobStore {
    /// Commits the small blob at `key`, then removes the key's file (an
    /// `unlink` that finds none unless the key held a large blob), both on
    /// the calling task.
    async fn put_small(&self, key: &str, data: &[u8]) -> Result<(), BlobError> {
        let inner = &self.inner;
        let removed = inner
            .small
            .write(|conn| {
                conn.prepare_cached(
                    "INSERT INTO small_blobs (key, data) VALUES (?1, ?2) \
                     ON CONFLICT (key) DO UPDATE SET data = excluded.data",
                )
                .and_then(|mut stmt| stmt.execute(params![key, data]))
                .map_err(unavailable("cannot write a blob"))?;
                inner.remove_file(key, "cannot write a blob")
            })
            .await?;
        if removed {
            inner.prune(key);
        }
        Ok(())
    }

    /// The small blob at `key`, if there is one.
    async fn get_small(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        self.inner.small.read(|conn| small_blob(conn, key)).await
    }

    /// At most `len` bytes of the blob at `key` from byte `start`: from its
    /// row, else its file, else its row again (made small between the two
    /// looks).
    async fn read_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Option<Vec<u8>>, BlobError> {
        if let Some(data) = self.get_small(key).await? {
            return Ok(Some(range_of(&data, start, len)));
        }
        let file_key = key.to_string();
        match self
            .blocking(move |inner| inner.get_range(&file_key, start, len))
            .await?
        {
            Some(data) => Ok(Some(data)),
            None => Ok(self
                .get_small(key)
                .await?
                .map(|data| range_of(&data, start, len))),
        }
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, key: &str, data: Vec<u8>, content_type: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        tracing::debug!(key, bytes = data.len(), content_type, "storing a blob");
        if data.len() <= SMALL_BLOB {
            return self.put_small(key, &data).await;
        }
        let key = key.to_string();
        self.blocking(move |inner| inner.put(&key, &data)).await
    }

    async fn put_file(&self, key: &str, path: &Path, content_type: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        tracing::debug!(key, content_type, "storing a file as a blob");
        let (key, path) = (key.to_string(), path.to_path_buf());
        self.blocking(move |inner| inner.put_file(&key, &path))
            .await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        validate_key(key)?;
        self.read_range(key, 0, u64::MAX).await
    }

    async fn delete(&self, key: &str) -> Result<bool, BlobError> {
        validate_key(key)?;
        let key = key.to_string();
        self.blocking(move |inner| inner.delete(&key)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        validate_prefix(prefix)?;
        let mut keys = self
            .inner
            .small
            .read(|conn| small_keys(conn, prefix))
            .await?;
        let file_prefix = prefix.to_string();
        keys.extend(self.blocking(move |inner| inner.list(&file_prefix)).await?);
        keys.sort();
        // A file a crash left beside the row that replaced it.
        keys.dedup();
        Ok(keys)
    }

    async fn presign_get(&self, key: &str, ttl: Duration) -> Result<String, BlobError> {
        self.presign(Method::Get, key, ttl)
    }

    async fn presign_put(&self, key: &str, ttl: Duration) -> Result<String, BlobError> {
        self.presign(Method::Put, key, ttl)
    }

    async fn get_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Option<Vec<u8>>, BlobError> {
        validate_key(key)?;
        self.read_range(key, start, len).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_segment_by_segment() {
        for good in [
            "a",
            "rec/c-1/call_1.wav",
            "a.b/c~d=e,f@g:h+i",
            "..a/b..",
            "x/.y",
        ] {
            assert!(validate_key(good).is_ok(), "{good:?}");
        }
        let long = "k".repeat(MAX_KEY_LEN + 1);
        for bad in [
            "", "/abs", "a/", "a//b", "../x", "a/../b", "a/./b", ".", "a b", "a?b", "a\\b", "é",
            &long,
        ] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("calls/c1").is_ok());
        assert!(validate_prefix("calls/").is_ok());
        assert!(validate_prefix("../").is_err());
        assert!(validate_prefix("/x").is_err());
    }
}
