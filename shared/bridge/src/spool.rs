//! Call recordings spooled to files on the task's storage as they are
//! captured, so a live call holds a few KiB of its recording in memory
//! instead of all of it.
//!
//! The conversation core hands out the recording's final bytes as the call
//! goes (`Conversation::take_recording`, a bounded window held); the driver
//! appends them to the call's [`Spool`], which writes them to its file in
//! chunks of [`CHUNK`] bytes. The file is the finished WAV: a header for an
//! unknown length first, then the data, then the header rewritten with the
//! length when the call ends. The host uploads it by streaming from the
//! file (`BridgeHost::save_recording` takes its path).
//!
//! PCM16 stereo at 8 kHz is 32 kB/s of disk, ~19 MB for a ten-minute call:
//! task storage (20 GiB on Fargate) holds hundreds of such calls, and the
//! file is byte for byte the WAV the whole-call recorder built in memory.
//!
//! # No file outlives its call
//!
//! A [`Spool`] removes its file when dropped: after the upload, after an
//! error, and when the call's task is cancelled. Each [`SpoolDir`] (one per
//! bridge) is its own directory under the configured root, holding an
//! exclusive lock on its `.lock` file while the bridge lives and removed
//! when the bridge is dropped. A process that dies leaves its directory
//! behind with the lock released by the OS: [`SpoolDir::open`] removes
//! every such directory under the root (a lock it can take belongs to no
//! live bridge), so a restart sweeps what a crash left.

use std::fs::TryLockError;
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{info, warn};
use voxdial_media::wav::WavSpec;

/// Bytes gathered before a write: half a second of PCM16 stereo at 8 kHz.
pub(crate) const CHUNK: usize = 16 * 1024;

/// The lock file of a live bridge's directory.
const LOCK: &str = ".lock";

/// One bridge's spool directory (see the module doc).
#[derive(Debug)]
pub(crate) struct SpoolDir {
    dir: PathBuf,
    /// Held (locked) for the bridge's life.
    _lock: std::fs::File,
    seq: AtomicU64,
}

impl SpoolDir {
    /// Removes what dead bridges left under `root`, then makes this
    /// bridge's own locked directory there.
    pub(crate) fn open(root: &Path) -> io::Result<SpoolDir> {
        std::fs::create_dir_all(root)?;
        sweep(root);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = root.join(format!("bridge-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let lock = std::fs::File::create(dir.join(LOCK))?;
        lock.lock()?;
        Ok(SpoolDir {
            dir,
            _lock: lock,
            seq: AtomicU64::new(0),
        })
    }

    /// A new call's spool, its file started.
    pub(crate) async fn spool(&self, spec: WavSpec) -> io::Result<Spool> {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        Spool::create(self.dir.join(format!("call-{n}.wav")), spec).await
    }
}

impl Drop for SpoolDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Removes every directory under `root` whose lock no live bridge holds.
fn sweep(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        // No lock file: not a spool directory, or one still starting (a
        // bridge that died there had no call yet), left alone.
        let orphan = std::fs::File::open(dir.join(LOCK))
            .is_ok_and(|lock| !matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
        if orphan {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => info!(dir = %dir.display(), "removed a dead bridge's spooled recordings"),
                Err(e) => {
                    warn!(dir = %dir.display(), error = %e, "cannot remove a dead bridge's spool")
                }
            }
        }
    }
}

/// One call's recording file, written as the call goes (see the module
/// doc). Dropping it removes the file.
///
/// Writes go to the blocking pool with the bytes they write (no copy into
/// a second buffer, as `tokio::fs::File` makes), and the buffer goes with
/// them: between writes a call holds only what it gathered since the last
/// one, not a chunk-sized buffer (at thousands of calls, the difference
/// is tens of KiB per call).
#[derive(Debug)]
pub(crate) struct Spool {
    /// `None` while a write is away on the blocking pool, and for good if
    /// that write's task was cancelled.
    file: Option<std::fs::File>,
    path: PathBuf,
    spec: WavSpec,
    /// Bytes not yet written (under [`CHUNK`] between writes).
    buf: Vec<u8>,
    /// Sample bytes written to the file.
    data_len: u64,
}

impl Spool {
    async fn create(path: PathBuf, spec: WavSpec) -> io::Result<Spool> {
        let file = tokio::fs::File::create(&path).await?.into_std().await;
        // From here on, the file goes when the spool does (an error below
        // included).
        let mut spool = Spool {
            file: Some(file),
            path,
            spec,
            buf: Vec::new(),
            data_len: 0,
        };
        let header = spec.header(0);
        spool.blocking(move |f| f.write_all(&header)).await?;
        Ok(spool)
    }

    /// Where the core appends the recording's next bytes.
    pub(crate) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Writes the bytes gathered once they fill a chunk.
    pub(crate) async fn write_if_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.write_buffer().await?;
        }
        Ok(())
    }

    /// Writes the bytes gathered and lets their buffer go.
    async fn write_buffer(&mut self) -> io::Result<()> {
        let bytes = std::mem::take(&mut self.buf);
        let len = bytes.len() as u64;
        self.blocking(move |f| f.write_all(&bytes)).await?;
        self.data_len += len;
        Ok(())
    }

    /// Writes the rest and the final header: the file is the complete
    /// WAV; returns its path (valid until the spool is dropped).
    pub(crate) async fn finish(&mut self) -> io::Result<&Path> {
        self.write_buffer().await?;
        let header = self.spec.header(self.data_len);
        self.blocking(move |f| {
            f.seek(io::SeekFrom::Start(0))?;
            f.write_all(&header)
        })
        .await?;
        Ok(&self.path)
    }

    /// Runs `op` on the file on the blocking pool.
    async fn blocking(
        &mut self,
        op: impl FnOnce(&mut std::fs::File) -> io::Result<()> + Send + 'static,
    ) -> io::Result<()> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("an earlier write of the recording was cancelled"))?;
        let (file, result) = tokio::task::spawn_blocking(move || {
            let result = op(&mut file);
            (file, result)
        })
        .await
        .map_err(io::Error::other)?;
        self.file = Some(file);
        result
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[tokio::test]
    async fn a_spool_is_the_finished_wav_and_goes_when_dropped() {
        let root = tempfile::tempdir().unwrap();
        let dir = SpoolDir::open(root.path()).unwrap();
        let spec = WavSpec::pcm16_stereo(8000);
        let mut spool = dir.spool(spec).await.unwrap();
        let data: Vec<u8> = (0..CHUNK * 2 + 100).map(|i| (i % 251) as u8).collect();
        let mut writes = 0;
        for piece in data.chunks(1000) {
            spool.buffer().extend_from_slice(piece);
            spool.write_if_full().await.unwrap();
            assert!(spool.buffer().len() < CHUNK + 1000);
            if spool.buffer().is_empty() {
                // a write lets its buffer go: a call holds what it
                // gathered since, not a chunk-sized buffer
                assert_eq!(spool.buffer().capacity(), 0);
                writes += 1;
            }
        }
        assert!(writes > 0);
        let path = spool.finish().await.unwrap().to_path_buf();
        let mut want = spec.header(data.len() as u64);
        want.extend_from_slice(&data);
        assert_eq!(std::fs::read(&path).unwrap(), want);
        drop(spool);
        assert!(!path.exists());
        assert_eq!(files(&dir.dir), vec![LOCK.to_string()]);
    }

    #[tokio::test]
    async fn a_restart_sweeps_what_a_dead_bridge_left_and_spares_a_live_one() {
        let root = tempfile::tempdir().unwrap();
        // GIVEN a live bridge with a call being spooled
        let live = SpoolDir::open(root.path()).unwrap();
        let spool = live.spool(WavSpec::pcm16_stereo(8000)).await.unwrap();
        // AND what a crashed bridge left: its directory, its (released)
        // lock and a half-written call
        let dead = root.path().join("bridge-1-1");
        std::fs::create_dir_all(&dead).unwrap();
        std::fs::write(dead.join(LOCK), b"").unwrap();
        std::fs::write(dead.join("call-0.wav"), b"RIFF").unwrap();
        // AND a directory that is not a spool
        let other = root.path().join("keep");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("notes.txt"), b"mine").unwrap();
        // WHEN another bridge starts
        let next = SpoolDir::open(root.path()).unwrap();
        // THEN the dead bridge's files are gone, the live one's and the
        // stranger's are kept
        assert!(!dead.exists());
        assert!(spool.path.exists());
        assert!(other.join("notes.txt").exists());
        // AND a bridge that stops takes its directory with it
        let (live_dir, next_dir) = (live.dir.clone(), next.dir.clone());
        drop(spool);
        drop(live);
        drop(next);
        assert!(!live_dir.exists() && !next_dir.exists());
        assert_eq!(files(root.path()), vec!["keep".to_string()]);
    }
}
