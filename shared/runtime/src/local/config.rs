//! The local backend's typed settings: `voxdial serve`'s optional TOML
//! file, then `VOXDIAL_*` environment variables, then flags (each
//! overrides the one before; the variables and flags are the command's).
//!
//! ```toml
//! data_dir = "voxdial-data"          # SQLite files and recordings
//! listen = "127.0.0.1:8080"
//! public_url = "https://hooks.example.com"  # what providers call back
//! media_url = "wss://media.example.com/media/twilio"
//! secrets_file = "secrets.toml"      # { secret = "key" } credentials (a TOML table)
//!
//! [engine]
//! dispatch_lease_secs = 300          # a queued lead's slot lease
//! call_lease_margin_secs = 120       # added to ring time + longest call
//! sweep_interval_ms = 1000
//! dispatch_parallelism = 32
//! model_prices = "0.5,3,2,12"        # voice model, USD per 1M tokens: text in, audio in, text out, audio out
//! media_max_live_calls = 20          # the hosted bridge's capacity: beyond it, answered
//!                                    # calls hear the voicemail message and get a callback
//!
//! [twilio]                           # one Twilio account, tried alone ...
//! account_sid = "AC..."
//! auth_token = "..."                 # better: VOXDIAL_TWILIO_AUTH_TOKEN
//! api_base = "https://api.twilio.com"
//! caller_id = "+14155550100"
//!
//! # ... or several provider accounts (see the voxdial-providers README)
//! # and the routing engine choosing among them per call. Credentials come
//! # from the environment or from `secrets_file` (above).
//! [[providers]]
//! id = "twilio"
//! kind = "twilio"
//! account_sid = { env = "VOXDIAL_TWILIO_ACCOUNT_SID" }
//! auth_token = { env = "VOXDIAL_TWILIO_AUTH_TOKEN" }
//!
//! [[providers]]
//! id = "sanspbx"
//! kind = "sanspbx"
//! api_base = "https://clouduat28.sansoftwares.com"
//! appid = 12
//! access_token = { secret = "sanspbx.access_token" }
//! access_key = { secret = "sanspbx.access_key" }
//! webhook_secret = { secret = "sanspbx.webhook_secret" }
//!
//! [routing]                          # voxdial_routing::RoutingConfig
//! max_chain_len = 2
//! [[routing.providers]]
//! id = "twilio"
//! kind = "twilio"
//! rates_csv = "1,0.014"
//! pool = { dids = [{ number = "+14155550100" }] }
//! [[routing.providers]]
//! id = "sanspbx"
//! kind = "sanspbx"
//! rates_csv = "91,0.0065"
//! pool = { dids = [{ number = "+912240001234" }] }
//!
//! [agent_providers]                  # the `agent_assigned` strategy
//! default = "sanspbx"
//!
//! [simulator]                        # `--simulate`: run the simulated carrier in-process
//! seed = 7
//! faults = false
//! model_go_away = 0.2                # shares of the simulated voice model's connections sent
//! model_drop = 0.1                   # goAway / dropped mid-call (the bridge resumes them); default 0
//!
//! [time]                             # simulations only: run faster than real time
//! scale = 1.0
//!
//! [consent]                          # recorded campaigns: a notice opens the call
//! countries = ["GB", "DE", "CA"]     # ISO codes (default: EU/EEA, UK, CH, CA, AU)
//! us_states = ["CA", "FL", "WA"]     # two-party-consent states (default: all 13)
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use anyhow::{Context, bail};
use serde::Deserialize;
use voxdial_app::routing::check_accounts;
use voxdial_domain::{AgentId, Clock, ProviderId};
use voxdial_providers::{LocalSecrets, ProvidersConfig};

use super::Routes;

/// The TOML file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// SQLite files and recordings.
    pub data_dir: Option<PathBuf>,
    /// The HTTP server's address.
    pub listen: Option<SocketAddr>,
    /// What providers call back.
    pub public_url: Option<String>,
    /// A media bridge running elsewhere.
    pub media_url: Option<String>,
    /// `[engine]`: leases and workers.
    pub engine: EngineSection,
    /// `[twilio]`: one Twilio account, tried alone.
    pub twilio: Option<TwilioSection>,
    /// A TOML secrets file for `{ secret = "key" }` credentials.
    pub secrets_file: Option<PathBuf>,
    /// `[[providers]]`: provider accounts.
    pub providers: Vec<voxdial_providers::config::AccountConfig>,
    /// `[routing]`: rates, caller IDs, strategies, breakers.
    pub routing: Option<voxdial_routing::RoutingConfig>,
    /// `[agent_providers]`: AI agent id → provider id.
    pub agent_providers: HashMap<String, String>,
    /// `[simulator]`: `--simulate`'s carrier.
    pub simulator: SimulatorSection,
    /// `[time]`: simulations faster than real time.
    pub time: TimeSection,
    /// `[consent]`: where callees hear that the call is recorded.
    pub consent: voxdial_domain::ConsentRules,
}

/// `[engine]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSection {
    /// A queued lead's slot lease, seconds.
    pub dispatch_lease_secs: Option<u32>,
    /// Added to ring time and the longest call for a live call's lease.
    pub call_lease_margin_secs: Option<u32>,
    /// How often the sweeper runs, milliseconds.
    pub sweep_interval_ms: Option<u64>,
    /// Dispatch messages handled at once.
    pub dispatch_parallelism: Option<usize>,
    /// The voice model's prices, USD per million tokens: text in, audio
    /// in, text out, audio out ([`voxdial_domain::ModelPrices::parse`]).
    pub model_prices: Option<String>,
    /// The hosted media bridge's capacity (no limit without).
    pub media_max_live_calls: Option<u32>,
}

/// `[twilio]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwilioSection {
    /// The account SID.
    pub account_sid: Option<String>,
    /// The Auth Token.
    pub auth_token: Option<String>,
    /// Twilio's REST API base URL.
    pub api_base: Option<String>,
    /// The number calls present.
    pub caller_id: Option<String>,
}

/// `[simulator]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulatorSection {
    /// The simulated carrier's seed.
    pub seed: Option<u64>,
    /// Whether the carrier injects faults.
    pub faults: Option<bool>,
    /// The share of the simulated voice model's connections sent `goAway`
    /// mid-call (0 to 1; none without).
    pub model_go_away: Option<f64>,
    /// The share of the simulated voice model's connections dropped
    /// mid-call, with no `goAway` (0 to 1; none without).
    pub model_drop: Option<f64>,
}

/// `[time]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeSection {
    /// How many times faster than real time the clock runs.
    pub scale: Option<f64>,
}

impl FileConfig {
    /// Reads the file at `path`; a missing path given explicitly is an error.
    pub fn load(path: Option<&Path>) -> anyhow::Result<FileConfig> {
        let Some(path) = path else {
            return Ok(FileConfig::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// The routes of `[[providers]]` and `[routing]` (`None` without
    /// accounts: the single-account setup applies): credentials resolved
    /// from the environment and the secrets file, routing validated, and
    /// each checked against the other.
    pub fn routes(&self, clock: Arc<dyn Clock>) -> anyhow::Result<Option<Routes>> {
        let file = self;
        if file.providers.is_empty() {
            if file.routing.is_some() {
                bail!("the config file has [routing] but no [[providers]] accounts");
            }
            return Ok(None);
        }
        let Some(routing) = file.routing.clone() else {
            bail!("the config file has [[providers]] but no [routing] (rates and caller IDs)");
        };
        let accounts = ProvidersConfig {
            providers: file.providers.clone(),
        };
        let secrets = match &file.secrets_file {
            Some(path) => LocalSecrets::with_file(path)?,
            None => LocalSecrets::from_env(),
        };
        let providers = accounts.build(&secrets, clock)?;
        let mut agents = HashMap::new();
        for (agent, provider) in &file.agent_providers {
            let agent = AgentId::parse(agent.clone())
                .with_context(|| format!("[agent_providers]: bad agent id {agent:?}"))?;
            let provider = ProviderId::parse(provider.clone())
                .with_context(|| format!("[agent_providers]: bad provider id {provider:?}"))?;
            agents.insert(agent, provider);
        }
        for (id, kind) in accounts.ids() {
            if let Some(routed) = routing.providers.iter().find(|p| p.id == id)
                && routed.kind.to_string() != kind
            {
                bail!(
                    "provider `{id}` is a {kind} account but [routing] calls it {}",
                    routed.kind
                );
            }
        }
        let set = providers
            .iter()
            .fold(voxdial_app::router::Providers::new(), |set, p| {
                set.with(p.clone())
            });
        check_accounts(&routing, &set).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Some(Routes {
            providers,
            routing,
            agents,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("config.rs");
        let example: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| format!("{}\n", l.trim_start_matches("//!").trim_start()))
            .collect();
        let config: FileConfig = toml::from_str(&example).unwrap();
        assert_eq!(config.engine.dispatch_parallelism, Some(32));
        assert_eq!(config.engine.media_max_live_calls, Some(20));
        assert_eq!(config.providers.len(), 2);
        assert_eq!(config.routing.as_ref().unwrap().providers.len(), 2);
        assert_eq!(config.agent_providers["default"], "sanspbx");
        assert_eq!(config.simulator.model_go_away, Some(0.2));
        assert_eq!(config.simulator.model_drop, Some(0.1));
        assert_eq!(config.consent.us_states, ["CA", "FL", "WA"]);
        // Without a [consent] section, the default lists.
        let bare: FileConfig = toml::from_str("").unwrap();
        assert_eq!(bare.consent, voxdial_domain::ConsentRules::default());
        assert_eq!(
            config.twilio.unwrap().caller_id.as_deref(),
            Some("+14155550100")
        );
    }

    fn file(text: &str) -> FileConfig {
        toml::from_str(text).unwrap()
    }

    const ACCOUNTS: &str = r#"
        [[providers]]
        id = "twilio"
        kind = "twilio"
        account_sid = "AC0001"
        auth_token = { env = "VOXDIAL_TEST_NEVER_SET_TOKEN" }
        [[providers]]
        id = "sanspbx"
        kind = "sanspbx"
        api_base = "https://pbx.example.com"
        appid = 3
        access_token = "a"
        access_key = "b"
        webhook_secret = "0123456789abcdef0123"
    "#;

    const ROUTING: &str = r#"
        [routing]
        [[routing.providers]]
        id = "twilio"
        kind = "twilio"
        rates_csv = "1,0.014"
        pool = { dids = [{ number = "+14155550100" }] }
        [[routing.providers]]
        id = "sanspbx"
        kind = "sanspbx"
        rates_csv = "91,0.0065"
        pool = { dids = [{ number = "+912240001234" }] }
    "#;

    #[test]
    fn configured_routes_are_checked_before_use() {
        let clock: Arc<dyn Clock> = Arc::new(voxdial_app::clock::SystemClock);
        // No [[providers]]: the single-account setup applies.
        assert!(file("").routes(clock.clone()).unwrap().is_none());
        // A credential from a variable that is not set is named.
        let error = file(&format!("{ACCOUNTS}{ROUTING}"))
            .routes(clock.clone())
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            error,
            "provider `twilio`: auth_token: environment variable VOXDIAL_TEST_NEVER_SET_TOKEN is not set"
        );
        let accounts = ACCOUNTS.replace(
            r#"{ env = "VOXDIAL_TEST_NEVER_SET_TOKEN" }"#,
            r#""literal-token""#,
        );
        let routes = file(&format!("{accounts}{ROUTING}"))
            .routes(clock.clone())
            .unwrap()
            .unwrap();
        assert_eq!(routes.providers.len(), 2);
        // Accounts and routing must agree.
        let cases = [
            (accounts.clone(), "no [routing]"),
            (ROUTING.to_string(), "no [[providers]]"),
            (
                format!(
                    "{accounts}{}",
                    ROUTING.replace("id = \"sanspbx\"", "id = \"plivo\"")
                ),
                "routing names providers with no account: plivo",
            ),
            (
                format!(
                    "{accounts}{}",
                    ROUTING.replacen("kind = \"twilio\"", "kind = \"sanspbx\"", 1)
                ),
                "is a twilio account but [routing] calls it sanspbx",
            ),
        ];
        for (text, expected) in cases {
            let error = file(&text)
                .routes(clock.clone())
                .err()
                .unwrap_or_else(|| panic!("accepted: {text}"))
                .to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<FileConfig>("lisen = \"x\"").is_err());
        assert!(toml::from_str::<FileConfig>("[engine]\nsweep = 1").is_err());
    }
}
