//! What the container tests and the scenario suite share: the container
//! binary as ECS starts it, and free ports for it.

// Each test binary uses what it needs.
#![allow(dead_code)]

use std::process::{Command, Stdio};

/// A free port on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The container binary with the AWS SDK's test credentials, the region,
/// and `vars` (the deployment's variables); no stdin.
pub(crate) fn container(vars: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_media-bridge"));
    for name in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "VOXDIAL_TABLE"] {
        command.env_remove(name);
    }
    command
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "warn")
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null());
    command
}
