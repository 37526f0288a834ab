//! Test support (feature `testing`): the moto AWS API emulator, started on
//! 127.0.0.1 once per test process, and fresh tables, queues and buckets
//! with unique names on it.
//!
//! Where moto comes from, first match wins:
//! 1. `VOXDIAL_MOTO_ENDPOINT`: a server already running (CI may start one
//!    for every test process). Start it through `moto_serial.py`
//!    (`python -c "$(cat shared/adapters/aws/src/moto_serial.py)" 127.0.0.1 PORT`
//!    with moto's Python): a plain `moto_server` lets two conditional
//!    writes interleave, which breaks the store's invariants in ways
//!    DynamoDB never does (seen: campaign counters off by one, so a
//!    campaign that the counters alone judged would never end);
//! 2. `VOXDIAL_MOTO_SERVER`: the `moto_server` executable to start;
//! 3. `~/.cache/voxdial-venv/bin/moto_server` (what `scripts/aws-test-env.sh`
//!    installs);
//! 4. `moto_server` on `PATH`.
//!
//! The server runs through `moto_serial.py`, which applies DynamoDB
//! requests one at a time as DynamoDB does (moto's own server does not).
//!
//! [`Emulator::slowed`] puts a proxy in front of it that holds every
//! request for a random time, for the slow-backend runs.
//!
//! Without moto, [`Emulator::get`] panics with a message saying how to
//! install it (with `CI` set, that is the point: the suites must not be
//! skipped there); [`Emulator::available`] lets a caller skip instead.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::config::{Clients, RequestCounter};
use crate::{DynamoStore, S3BlobStore, SetupError, SqsQueue, create_table};

/// The moto server of this process (or a slowed view of it).
pub struct Emulator {
    endpoint: String,
    /// Keeps the server's supervisor alive: when this process exits, the
    /// pipe closes and the supervisor stops the server.
    _supervisor: Option<Mutex<(Child, ChildStdin)>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

static EMULATOR: OnceLock<Result<Emulator, String>> = OnceLock::new();

/// How to install moto, for error messages.
pub const INSTALL_HINT: &str = "install it with `bash scripts/aws-test-env.sh` \
     (python3 -m venv ~/.cache/voxdial-venv && ~/.cache/voxdial-venv/bin/pip install 'moto[server]'), \
     or point VOXDIAL_MOTO_SERVER at moto_server, or VOXDIAL_MOTO_ENDPOINT at a running server";

/// The launcher: moto's server with DynamoDB requests serialised (see the
/// file's docstring).
const LAUNCHER: &str = include_str!("moto_serial.py");

/// The Python that has moto: `VOXDIAL_MOTO_PYTHON`, else the `python`
/// beside `moto_server` (a venv's or pyenv's `bin`), else `python3`.
fn moto_python(server: &std::path::Path) -> PathBuf {
    if let Some(path) = std::env::var_os("VOXDIAL_MOTO_PYTHON") {
        return PathBuf::from(path);
    }
    server
        .parent()
        .map(|bin| bin.join("python"))
        .filter(|python| python.is_file())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

fn moto_server() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("VOXDIAL_MOTO_SERVER") {
        return Some(PathBuf::from(path));
    }
    if let Some(home) = std::env::var_os("HOME") {
        let venv = PathBuf::from(home).join(".cache/voxdial-venv/bin/moto_server");
        if venv.is_file() {
            return Some(venv);
        }
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|candidate| candidate.is_file())
    })
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn start() -> Result<Emulator, String> {
    if let Ok(endpoint) = std::env::var("VOXDIAL_MOTO_ENDPOINT") {
        return Ok(Emulator {
            endpoint,
            _supervisor: None,
        });
    }
    let server = moto_server().ok_or_else(|| format!("moto_server not found: {INSTALL_HINT}"))?;
    let port = free_port()?;
    // A shell supervises the server: it waits on its stdin (our pipe) and
    // stops the server when the pipe closes, i.e. when this process ends.
    let script = "\"$0\" -c \"$1\" 127.0.0.1 \"$2\" >/dev/null 2>&1 & pid=$!; \
                  read _ignored; kill $pid 2>/dev/null; wait $pid 2>/dev/null";
    let python = moto_python(&server);
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(&python)
        .arg(LAUNCHER)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
    let stdin = child.stdin.take().ok_or("no stdin pipe")?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            return Err(format!(
                "moto ({}) did not listen on {addr} within 30 s",
                python.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Emulator {
        endpoint: format!("http://{addr}"),
        _supervisor: Some(Mutex::new((child, stdin))),
    })
}

impl Emulator {
    /// Whether moto is available (an endpoint, or a server to start).
    pub fn available() -> bool {
        std::env::var_os("VOXDIAL_MOTO_ENDPOINT").is_some() || moto_server().is_some()
    }

    /// This process's emulator, started on first use. Panics if moto cannot
    /// be found or started.
    pub fn get() -> &'static Emulator {
        match EMULATOR.get_or_init(start) {
            Ok(emulator) => emulator,
            Err(why) => panic!("the AWS suites need the moto emulator: {why}"),
        }
    }

    /// The same emulator behind a proxy on 127.0.0.1 that holds each chunk
    /// a client sends for a random time in `latency` (seeded by `seed`)
    /// before passing it on: every DynamoDB, SQS and S3 request is that
    /// much slower, so concurrent requests overlap as on a loaded service.
    pub fn slowed(&self, latency: RangeInclusive<Duration>, seed: u64) -> Result<Emulator, String> {
        let upstream: SocketAddr = self
            .endpoint
            .trim_start_matches("http://")
            .parse()
            .map_err(|e| {
                format!(
                    "the emulator's endpoint {} is not an address: {e}",
                    self.endpoint
                )
            })?;
        let proxy = slow_proxy(upstream, latency, seed)
            .map_err(|e| format!("cannot start the slow proxy: {e}"))?;
        Ok(Emulator {
            endpoint: format!("http://{proxy}"),
            _supervisor: None,
        })
    }

    /// The emulator's URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// An SDK configuration for the emulator: static test credentials and
    /// a fixed region, nothing read from the environment.
    pub fn sdk_config(&self) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                Credentials::new("testing", "testing", None, None, "voxdial-tests"),
            ))
            .endpoint_url(&self.endpoint)
            .build()
    }

    /// Clients for the emulator, counting requests in `counter` if given.
    pub fn clients(&self, counter: Option<&RequestCounter>) -> Clients {
        Clients::new(&self.sdk_config(), counter)
    }

    /// A fresh voxdial table; returns the store and the table's name.
    pub async fn store(&self, clients: &Clients) -> Result<(DynamoStore, String), SetupError> {
        let name = unique("voxdial");
        create_table(&clients.dynamo, &name).await?;
        Ok((DynamoStore::new(clients.dynamo.clone(), &name), name))
    }

    /// A fresh dispatch queue with a dead-letter queue after `max_receives`
    /// receives and the given visibility timeout (whole seconds).
    pub async fn queue(
        &self,
        clients: &Clients,
        visibility: Duration,
        max_receives: u32,
    ) -> Result<SqsQueue, SetupError> {
        let url = self
            .queue_url(clients, "dispatch", visibility, max_receives)
            .await?;
        Ok(SqsQueue::new(clients.sqs.clone(), url))
    }

    /// A fresh post-call job queue, like [`Emulator::queue`].
    pub async fn job_queue(
        &self,
        clients: &Clients,
        visibility: Duration,
        max_receives: u32,
    ) -> Result<crate::SqsJobQueue, SetupError> {
        let url = self
            .queue_url(clients, "jobs", visibility, max_receives)
            .await?;
        Ok(crate::SqsJobQueue::new(clients.sqs.clone(), url))
    }

    /// Creates a queue named after `prefix` with its dead-letter queue;
    /// returns its URL.
    async fn queue_url(
        &self,
        clients: &Clients,
        prefix: &str,
        visibility: Duration,
        max_receives: u32,
    ) -> Result<String, SetupError> {
        let sqs = &clients.sqs;
        let name = unique(prefix);
        let dlq = sqs
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .send()
            .await
            .map_err(|e| SetupError::aws("cannot create a dead-letter queue", e))?;
        let dlq_url = dlq.queue_url().unwrap_or_default();
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| SetupError::aws("cannot read a queue's ARN", e))?;
        let dlq_arn = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .unwrap_or_default();
        let redrive =
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receives}"}}"#);
        let queue = sqs
            .create_queue()
            .queue_name(&name)
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                visibility.as_secs().to_string(),
            )
            .attributes(QueueAttributeName::RedrivePolicy, redrive)
            .send()
            .await
            .map_err(|e| SetupError::aws("cannot create a queue", e))?;
        Ok(queue.queue_url().unwrap_or_default().to_string())
    }

    /// A fresh private bucket.
    pub async fn blobs(&self, clients: &Clients) -> Result<S3BlobStore, SetupError> {
        let name = self.bucket(clients).await?;
        Ok(S3BlobStore::new(clients.s3.clone(), name))
    }

    /// A fresh private bucket's name (`VOXDIAL_RECORDINGS_BUCKET`).
    pub async fn bucket(&self, clients: &Clients) -> Result<String, SetupError> {
        let name = unique("recordings");
        clients
            .s3
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .map_err(|e| SetupError::aws("cannot create a bucket", e))?;
        Ok(name)
    }
}

/// Starts the proxy of [`Emulator::slowed`] on its own thread (it outlives
/// any one test's runtime); answers its address.
fn slow_proxy(
    upstream: SocketAddr,
    latency: RangeInclusive<Duration>,
    seed: u64,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("slow-moto".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let mut connections = seed;
                while let Ok((client, _)) = listener.accept().await {
                    connections = splitmix(connections);
                    tokio::spawn(relay(client, upstream, latency.clone(), connections));
                }
            });
        })?;
    Ok(address)
}

/// Relays one connection: what the client sends waits a random time in
/// `latency` per chunk; the answers flow back at once.
async fn relay(
    client: tokio::net::TcpStream,
    upstream: SocketAddr,
    latency: RangeInclusive<Duration>,
    mut random: u64,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_in, mut client_out) = client.into_split();
    let (mut server_in, mut server_out) = server.into_split();
    let (low, high) = (*latency.start(), *latency.end());
    let span = high.saturating_sub(low).as_micros() as u64 + 1;
    let requests = async {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = client_in.read(&mut buffer).await {
            random = splitmix(random);
            tokio::time::sleep(low + Duration::from_micros(random % span)).await;
            if server_out.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_out.shutdown().await;
    };
    let answers = async {
        let _ = tokio::io::copy(&mut server_in, &mut client_out).await;
        let _ = client_out.shutdown().await;
    };
    tokio::join!(requests, answers);
}

/// SplitMix64: the next pseudo-random number after `state`.
fn splitmix(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A name no other test of any run uses: `prefix-<run>-<pid>-<n>`, lower case.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // The process id and a counter are unique within a run; the start time
    // keeps runs apart on a long-lived emulator (pids are reused).
    static RUN: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64 % 1_000_000_000)
    });
    format!(
        "{prefix}-{}-{}-{}",
        *RUN,
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
