//! The media-bridge container's settings, read once from its environment
//! and checked before anything starts: its own ([`BridgeSettings`], the
//! variables are listed in the `media-bridge` crate's documentation) and
//! the engine's ([`LambdaConfig`], as for every function).

use std::time::Duration;

use voxdial_bridge::BridgeConfig;
use voxdial_conversation::AgentConfig;
use voxdial_wire::gemini::LiveEndpoint;
use voxdial_wire::twilio::signature::SigningKeys;

use crate::aws::config::ConfigError;
use crate::aws::{InitError, LambdaConfig, configures_kind};

/// The container's settings are wrong.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// A variable is missing or wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `VOXDIAL_PROVIDERS` is wrong.
    #[error(transparent)]
    Providers(#[from] InitError),
    /// A SansPBX account is configured and its streams' token is not.
    #[error("SANSPBX_TOKEN is required when a SansPBX account is configured")]
    SansPbxToken,
}

/// Everything the container reads from its environment.
#[derive(Clone, Debug)]
pub struct ContainerSettings {
    /// The bridge's own settings.
    pub bridge: BridgeSettings,
    /// The engine's settings, as for every function.
    pub engine: LambdaConfig,
}

impl ContainerSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<ContainerSettings, ContainerError> {
        ContainerSettings::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads variables from `var` (the environment, or a test's map): a
    /// SansPBX account needs the token its streams carry.
    pub fn from_vars(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<ContainerSettings, ContainerError> {
        let bridge = BridgeSettings::from_vars(&var)?;
        let engine = LambdaConfig::from_vars(&var)?;
        if configures_kind(&engine.providers, "sanspbx")? && bridge.sanspbx_token.is_none() {
            return Err(ContainerError::SansPbxToken);
        }
        Ok(ContainerSettings { bridge, engine })
    }
}

/// What the container needs besides the engine.
#[derive(Clone, Debug)]
pub struct BridgeSettings {
    /// Where the bridge listens for media streams.
    pub bind_addr: String,
    /// Where `/metrics` is served (not the load balancer's port).
    pub metrics_addr: String,
    /// The public `wss://` base Twilio signs its upgrade for.
    pub public_wss_base: String,
    /// The Auth Token that verifies Twilio's upgrade signature.
    pub twilio_auth_token: Option<String>,
    /// The `?token=` SansPBX streams must carry.
    pub sanspbx_token: Option<String>,
    /// The Gemini Live endpoint.
    pub gemini: LiveEndpoint,
    /// The Gemini API key.
    pub gemini_api_key: Option<String>,
    /// The model, when not the bridge's default.
    pub model: Option<String>,
    /// The longest call: the agent ends a call then.
    pub max_call: Duration,
    /// Streams beyond this many live calls are refused (503).
    pub max_live: usize,
    /// How long SIGTERM waits for live calls to end by themselves.
    pub drain: Duration,
    /// ECS's agent endpoint (task scale-in protection).
    pub ecs_agent_uri: Option<String>,
    /// Where the other tasks reach this one (`PEER_ADDR`), when set.
    pub peer_addr: Option<std::net::SocketAddr>,
    /// ECS's container metadata endpoint (the task's private address when
    /// `PEER_ADDR` is not set).
    pub ecs_metadata_uri: Option<String>,
    /// The `ServiceName` of the `LiveCalls` EMF metric.
    pub emf_service: Option<String>,
    /// Where recorded calls are spooled while they last.
    pub recording_dir: Option<std::path::PathBuf>,
}

impl BridgeSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<BridgeSettings, ConfigError> {
        BridgeSettings::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads variables from `var` (the environment, or a test's map).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<BridgeSettings, ConfigError> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let flag = |name: &str| get(name).as_deref() == Some("1");
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            get(name).map_or(Ok(default), |v| {
                v.trim().parse().map_err(|_| ConfigError::Invalid {
                    name,
                    reason: format!("expected a whole number, not {v:?}"),
                })
            })
        };
        let twilio_auth_token = get("TWILIO_AUTH_TOKEN");
        if twilio_auth_token.is_none() && !flag("BRIDGE_INSECURE") {
            return Err(ConfigError::Invalid {
                name: "TWILIO_AUTH_TOKEN",
                reason:
                    "required to verify Twilio's signature (or BRIDGE_INSECURE=1 for local tests)"
                        .into(),
            });
        }
        let defaults = LiveEndpoint::default();
        let max_live = number("MAX_LIVE_CALLS", 20)?;
        Ok(BridgeSettings {
            bind_addr: get("BIND_ADDR").unwrap_or_else(|| "0.0.0.0:8080".into()),
            metrics_addr: get("METRICS_ADDR").unwrap_or_else(|| "0.0.0.0:9090".into()),
            public_wss_base: get("PUBLIC_WSS_BASE")
                .ok_or(ConfigError::Missing("PUBLIC_WSS_BASE"))?,
            twilio_auth_token,
            sanspbx_token: get("SANSPBX_TOKEN"),
            gemini: LiveEndpoint {
                host: get("GEMINI_HOST").unwrap_or(defaults.host.clone()),
                api_version: get("GEMINI_API_VERSION").unwrap_or(defaults.api_version.clone()),
                insecure: flag("GEMINI_INSECURE"),
                ..defaults
            },
            gemini_api_key: get("GEMINI_API_KEY"),
            model: get("GEMINI_MODEL"),
            max_call: Duration::from_secs(number("MAX_CALL_SECS", 600)?),
            max_live: usize::try_from(max_live).map_err(|e| ConfigError::Invalid {
                name: "MAX_LIVE_CALLS",
                reason: e.to_string(),
            })?,
            drain: Duration::from_secs(number("DRAIN_SECS", 60)?),
            ecs_agent_uri: get("ECS_AGENT_URI"),
            peer_addr: get("PEER_ADDR")
                .map(|v| {
                    v.trim().parse().map_err(|_| ConfigError::Invalid {
                        name: "PEER_ADDR",
                        reason: format!("expected an IP address and port, not {v:?}"),
                    })
                })
                .transpose()?,
            ecs_metadata_uri: get("ECS_CONTAINER_METADATA_URI_V4"),
            emf_service: get("EMF_SERVICE_NAME"),
            recording_dir: get("RECORDING_DIR").map(Into::into),
        })
    }

    /// The AI agents' configuration: calls end at the longest call.
    pub fn agent_config(&self) -> Result<AgentConfig, std::num::TryFromIntError> {
        Ok(AgentConfig {
            max_call_ms: u64::try_from(self.max_call.as_millis())?,
            ..AgentConfig::default()
        })
    }

    /// The bridge's configuration.
    pub fn bridge_config(&self) -> BridgeConfig {
        let mut config = BridgeConfig {
            public_wss_base: self.public_wss_base.clone(),
            twilio_keys: self
                .twilio_auth_token
                .as_deref()
                .map(SigningKeys::auth_token),
            sanspbx_token: self.sanspbx_token.clone(),
            ..BridgeConfig::default()
        };
        if let Some(model) = &self.model {
            config.model = model.clone();
        }
        if let Some(dir) = &self.recording_dir {
            config.recording_dir = dir.clone();
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<BridgeSettings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        BridgeSettings::from_vars(move |name| map.get(name).cloned())
    }

    const BASE: [(&str, &str); 2] = [
        ("PUBLIC_WSS_BASE", "wss://media.example.com"),
        ("TWILIO_AUTH_TOKEN", "token"),
    ];

    #[test]
    fn defaults_fill_what_the_template_leaves_out() {
        let settings = read(&BASE).unwrap();
        assert_eq!(settings.bind_addr, "0.0.0.0:8080");
        assert_eq!(settings.metrics_addr, "0.0.0.0:9090");
        assert_eq!(settings.max_call, Duration::from_secs(600));
        assert_eq!(settings.max_live, 20);
        assert_eq!(settings.drain, Duration::from_secs(60));
        assert_eq!(settings.gemini.host, LiveEndpoint::default().host);
        let config = settings.bridge_config();
        assert!(config.twilio_keys.is_some());
        assert_eq!(config.model, BridgeConfig::default().model);
    }

    #[test]
    fn a_wrong_or_missing_setting_is_named() {
        let missing = read(&BASE[1..]).unwrap_err().to_string();
        assert!(missing.contains("PUBLIC_WSS_BASE"), "{missing}");
        let unsigned = read(&BASE[..1]).unwrap_err().to_string();
        assert!(unsigned.contains("TWILIO_AUTH_TOKEN"), "{unsigned}");
        let mut bad = BASE.to_vec();
        bad.push(("MAX_LIVE_CALLS", "many"));
        let bad = read(&bad).unwrap_err().to_string();
        assert!(bad.contains("MAX_LIVE_CALLS"), "{bad}");
        let mut peer = BASE.to_vec();
        peer.push(("PEER_ADDR", "bridge.internal:8080"));
        let peer = read(&peer).unwrap_err().to_string();
        assert!(peer.contains("PEER_ADDR"), "{peer}");
    }

    #[test]
    fn the_peer_address_is_an_ip_and_port() {
        let mut vars = BASE.to_vec();
        vars.push(("PEER_ADDR", " 10.0.1.5:8080 "));
        let settings = read(&vars).unwrap();
        assert_eq!(settings.peer_addr, Some("10.0.1.5:8080".parse().unwrap()));
        assert_eq!(read(&BASE).unwrap().peer_addr, None);
    }

    fn container(pairs: &[(&str, &str)]) -> Result<ContainerSettings, ContainerError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ContainerSettings::from_vars(move |name| map.get(name).cloned())
    }

    const ENGINE: [(&str, &str); 3] = [
        ("VOXDIAL_TABLE", "voxdial-dev"),
        (
            "VOXDIAL_DISPATCH_QUEUE_URL",
            "https://sqs.ap-south-1.amazonaws.com/1/d",
        ),
        ("VOXDIAL_CALLER_ID", "+14155550100"),
    ];

    const SANSPBX: &str = r#"
[[providers]]
id = "sanspbx"
kind = "sanspbx"
api_base = "https://clouduat28.sansoftwares.com"
appid = 12
access_token = { secret = "sanspbx.access_token" }
access_key = { secret = "sanspbx.access_key" }
webhook_secret = { secret = "sanspbx.webhook_secret" }
"#;

    #[test]
    fn the_container_reads_its_settings_and_the_engines() {
        let settings = container(&[&BASE[..], &ENGINE[..]].concat()).unwrap();
        assert_eq!(settings.bridge.public_wss_base, "wss://media.example.com");
        assert_eq!(settings.engine.table, "voxdial-dev");
        let agent = settings.bridge.agent_config().unwrap();
        assert_eq!(agent.max_call_ms, 600_000);
        let missing = container(&[&BASE[..], &ENGINE[1..]].concat())
            .unwrap_err()
            .to_string();
        assert!(missing.contains("VOXDIAL_TABLE"), "{missing}");
    }

    #[test]
    fn a_sanspbx_account_needs_the_token_its_streams_carry() {
        let mut vars = [&BASE[..], &ENGINE[..]].concat();
        vars.push(("VOXDIAL_PROVIDERS", SANSPBX));
        let err = container(&vars).unwrap_err().to_string();
        assert!(err.contains("SANSPBX_TOKEN"), "{err}");
        vars.push(("SANSPBX_TOKEN", "t"));
        let settings = container(&vars).unwrap();
        assert_eq!(settings.bridge.sanspbx_token.as_deref(), Some("t"));
    }

    #[test]
    fn local_tests_may_run_without_a_twilio_token() {
        let settings = read(&[BASE[0], ("BRIDGE_INSECURE", "1"), ("GEMINI_MODEL", "m")]).unwrap();
        let config = settings.bridge_config();
        assert!(config.twilio_keys.is_none());
        assert_eq!(config.model, "m");
    }
}
