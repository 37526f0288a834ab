//! Helpers to run `voxdial` processes in tests.

#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `voxdial` binary built for these tests.
pub fn voxdial() -> Command {
    Command::new(env!("CARGO_BIN_EXE_voxdial"))
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped.
pub struct Process(pub Child);

impl Process {
    pub fn spawn(mut command: Command) -> Process {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .env("VOXDIAL_LOG", "warn")
            .spawn()
            .expect("voxdial starts");
        Process(child)
    }

    /// Sends SIGKILL and waits for the process to be gone.
    pub fn kill9(&mut self) {
        self.0.kill().expect("SIGKILL delivered");
        self.0.wait().expect("the process is reaped");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `check` every 100 ms until it returns `Some`, or panics after `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
