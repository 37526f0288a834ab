//! Which telephony providers a run uses and how calls are routed among
//! them: the simulated network of `voxdial demo` and `serve --simulate`
//! (the simulated carrier with its Twilio and SansPBX personalities, the
//! adapters pointed at it, a demo routing table). The configured accounts
//! and routing of `voxdial serve` are the runtime's (`FileConfig::routes`).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, Duration as Span, Utc};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use voxdial_domain::{Clock, ProviderId, TelephonyProvider};
use voxdial_providers::sanspbx::{InternationalFormat, NumberRules};
use voxdial_providers::{SansPbxConfig, SansPbxProvider, TwilioConfig, TwilioProvider};
use voxdial_routing::RoutingConfig;
use voxdial_sim::carrier::{Carrier, CarrierConfig, Faults, Outage, StreamHook};
use voxdial_sim::sanspbx::{SansPbx, SansPbxConfig as SimPbxConfig};
use voxdial_sim::time::SimTime;

use crate::runtime::Routes;

/// A provider backend the simulated network can play.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Twilio,
    SansPbx,
}

impl Kind {
    pub(crate) fn id(self) -> &'static str {
        match self {
            Kind::Twilio => "twilio",
            Kind::SansPbx => "sanspbx",
        }
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Kind, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "twilio" => Ok(Kind::Twilio),
            "sanspbx" => Ok(Kind::SansPbx),
            other => Err(format!(
                "unknown provider {other:?} (the simulator plays twilio and sanspbx)"
            )),
        }
    }
}

/// `--outage PROVIDER[:START-END]`: the provider refuses every call from
/// START to END simulated minutes after the campaign starts, or for the
/// whole campaign.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct OutageSpec {
    pub(crate) kind: Kind,
    /// Minutes after the start; `None`: the whole campaign.
    pub(crate) window: Option<(f64, f64)>,
}

impl FromStr for OutageSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<OutageSpec, String> {
        let (kind, window) = match s.split_once(':') {
            None => (s, None),
            Some((kind, window)) => {
                let (a, b) = window.split_once('-').ok_or_else(|| {
                    format!("{window:?} is not START-END in simulated minutes, e.g. 30-90")
                })?;
                let minutes = |t: &str| {
                    t.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|m| m.is_finite() && *m >= 0.0)
                        .ok_or_else(|| format!("{t:?} is not a number of minutes"))
                };
                let (a, b) = (minutes(a)?, minutes(b)?);
                if b <= a {
                    return Err(format!("the outage {a}-{b} ends before it starts"));
                }
                (kind, Some((a, b)))
            }
        };
        Ok(OutageSpec {
            kind: kind.parse()?,
            window,
        })
    }
}

impl OutageSpec {
    /// The window as instants, for a campaign starting at `start`.
    pub(crate) fn outage(&self, start: DateTime<Utc>) -> Outage {
        match self.window {
            None => Outage {
                from: start - Span::days(1),
                until: start + Span::days(3650),
            },
            Some((a, b)) => Outage {
                from: start + Span::milliseconds((a * 60_000.0) as i64),
                until: start + Span::milliseconds((b * 60_000.0) as i64),
            },
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self.window {
            None => format!("{} down for the whole campaign", self.kind.id()),
            Some((a, b)) => format!("{} down from minute {a} to minute {b}", self.kind.id()),
        }
    }
}

/// The simulated network's settings.
pub(crate) struct SimOptions {
    pub(crate) kinds: Vec<Kind>,
    pub(crate) seed: u64,
    pub(crate) faults: bool,
    pub(crate) outages: Vec<OutageSpec>,
    pub(crate) start: DateTime<Utc>,
    /// voxdial's API, where simulated callees report dispositions.
    pub(crate) disposition_api: String,
    /// The API key callees report dispositions with.
    pub(crate) disposition_key: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) time_scale: f64,
    /// Runs the media session of a call the carrier connects to a stream.
    pub(crate) stream_hook: Option<StreamHook>,
}

/// The simulated carrier serving the asked personalities, and the adapters
/// and router pointed at it.
pub(crate) struct SimNetwork {
    pub(crate) carrier: Carrier,
    pub(crate) routes: Routes,
    /// The simulated Twilio account's Auth Token (it signs callbacks and
    /// media stream upgrades).
    pub(crate) twilio_auth_token: String,
    tasks: Vec<JoinHandle<()>>,
}

const ACCOUNT_SID: &str = "AC00000000000000000000000000demo";

/// The demo's routing: Twilio cheaper for North America and the UK,
/// SansPBX cheaper for India; each can call both (so either can stand in
/// for the other). Rates are per minute in US dollars.
const DEMO_ROUTING: &str = r#"
max_chain_len = 2

[hybrid]
cost = 0.4
quality = 0.6

[[providers]]
id = "twilio"
kind = "twilio"
cps = 5
default_increment = "60/60"
rates_csv = """
1,0.014
44,0.0158
91,0.0435
"""
[providers.breaker]
failure_threshold = 5
cooldown_secs = 30
[providers.pool]
any_country_fallback = true
caller_id_cps = 5
[[providers.pool.dids]]
number = "+14155550100"
[[providers.pool.dids]]
number = "+12125550123"

[[providers]]
id = "sanspbx"
kind = "sanspbx"
cps = 5
default_increment = "60/60"
rates_csv = """
91,0.0065
1,0.02
44,0.025
"""
[providers.breaker]
failure_threshold = 3
cooldown_secs = 60
[providers.pool]
any_country_fallback = true
caller_id_cps = 5
[[providers.pool.dids]]
number = "+912240001234"
[[providers.pool.dids]]
number = "+918040001234"
"#;

/// The demo routing table restricted to `kinds`.
pub(crate) fn demo_routing(kinds: &[Kind]) -> RoutingConfig {
    let mut config = RoutingConfig::from_toml(DEMO_ROUTING).expect("the demo routing is valid");
    config
        .providers
        .retain(|p| kinds.iter().any(|k| k.id() == p.id.as_str()));
    config
}

impl SimNetwork {
    /// Starts the simulated carrier on loopback with the personalities of
    /// `options.kinds`, and builds their adapters and the demo routing.
    pub(crate) async fn start(options: SimOptions) -> anyhow::Result<SimNetwork> {
        if options.kinds.is_empty() {
            bail!("at least one provider is needed");
        }
        let outages = |kind: Kind| -> Vec<Outage> {
            options
                .outages
                .iter()
                .filter(|o| o.kind == kind)
                .map(|o| o.outage(options.start))
                .collect()
        };
        for outage in &options.outages {
            if !options.kinds.contains(&outage.kind) {
                bail!(
                    "--outage {}: that provider is not in --providers",
                    outage.kind.id()
                );
            }
        }
        let auth_token = uuid::Uuid::new_v4().simple().to_string();
        let mut config = CarrierConfig::new(ACCOUNT_SID, auth_token.clone(), options.seed);
        config.faults = if options.faults {
            Faults::chaos()
        } else {
            Faults::none()
        };
        config.outages = outages(Kind::Twilio);
        config.disposition_api = Some(options.disposition_api.clone());
        config.disposition_key = Some(options.disposition_key.clone());
        config.stream_hook = options.stream_hook.clone();
        let time = SimTime::new(options.clock.clone(), options.time_scale);
        let carrier = Carrier::new(config, time);

        let mut tasks = Vec::new();
        let mut providers: Vec<Arc<dyn TelephonyProvider>> = Vec::new();
        for kind in &options.kinds {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let base = format!("http://{}", listener.local_addr()?);
            let id = ProviderId::parse(kind.id()).expect("static id");
            match kind {
                Kind::Twilio => {
                    tasks.push(carrier.serve(listener));
                    let mut twilio = TwilioConfig::new(id, ACCOUNT_SID, auth_token.clone());
                    twilio.api_base = base;
                    twilio.clock = options.clock.clone();
                    providers.push(Arc::new(
                        TwilioProvider::new(twilio).context("cannot build an HTTP client")?,
                    ));
                }
                Kind::SansPbx => {
                    let access_token = uuid::Uuid::new_v4().simple().to_string();
                    let access_key = uuid::Uuid::new_v4().simple().to_string();
                    let mut pbx = SimPbxConfig::new(access_token.clone(), access_key.clone());
                    pbx.outages = outages(Kind::SansPbx);
                    let pbx = SansPbx::new(&carrier, pbx);
                    tasks.push(pbx.serve(listener));
                    let mut sans = SansPbxConfig::new(
                        id,
                        base,
                        access_token,
                        access_key,
                        1,
                        uuid::Uuid::new_v4().simple().to_string(),
                    );
                    // The demo's PBX also dials abroad, so it can stand in
                    // for Twilio.
                    sans.numbers = NumberRules {
                        international: InternationalFormat::Prefix00,
                        ..NumberRules::default()
                    };
                    // The simulator implements the assumed status lookup,
                    // so the sweeper learns the real end of a call whose
                    // last webhook was lost (off by default: unconfirmed).
                    sans.api.status_path = Some(voxdial_sim::sanspbx::Paths::default().status);
                    sans.clock = options.clock.clone();
                    providers.push(Arc::new(
                        SansPbxProvider::new(sans).context("cannot build an HTTP client")?,
                    ));
                }
            }
        }
        Ok(SimNetwork {
            carrier,
            routes: Routes {
                providers,
                routing: demo_routing(&options.kinds),
                agents: HashMap::new(),
            },
            twilio_auth_token: auth_token,
            tasks,
        })
    }

    /// Stops serving.
    pub(crate) fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outage_specs_parse() {
        let whole: OutageSpec = "twilio".parse().unwrap();
        assert_eq!(whole.kind, Kind::Twilio);
        assert_eq!(whole.window, None);
        let start = DateTime::<Utc>::UNIX_EPOCH + Span::days(100);
        let w = whole.outage(start);
        assert!(w.from < start && w.until > start + Span::days(365));
        let part: OutageSpec = "sanspbx:30-90".parse().unwrap();
        assert_eq!(part.window, Some((30.0, 90.0)));
        let w = part.outage(start);
        assert_eq!(w.from, start + Span::minutes(30));
        assert_eq!(w.until, start + Span::minutes(90));
        for bad in ["plivo", "twilio:90-30", "twilio:x-3", "twilio:30"] {
            assert!(bad.parse::<OutageSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_demo_routing_is_valid_for_every_subset() {
        for kinds in [
            vec![Kind::Twilio],
            vec![Kind::SansPbx],
            vec![Kind::Twilio, Kind::SansPbx],
        ] {
            let config = demo_routing(&kinds);
            assert_eq!(config.providers.len(), kinds.len());
            config.validate().unwrap();
        }
    }
}
