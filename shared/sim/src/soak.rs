//! What a soak run needs on either backend: the simulated network of three
//! provider accounts, the seeded plan of disruptions, the generated leads,
//! and the verdict on the invariants.
//!
//! `voxdial soak` runs it against `voxdial serve` (SQLite, killed with
//! SIGKILL); `voxdial-tests`' moto soak runs it against the Lambda handlers
//! on DynamoDB and SQS (every function instance lost at once). Both judge
//! the same [`Figures`] with [`violations`].

use std::fmt::Write as _;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;
use voxdial_domain::CallState;

use crate::carrier::{Carrier, CarrierConfig, CreateFault};
use crate::sanspbx::{Paths, SansPbx, SansPbxConfig};
use crate::time::SimTime;

/// The simulated Twilio account both Twilio provider accounts use.
pub const ACCOUNT_SID: &str = "AC0000000000000000000000000soak";
/// A Monday, 8:30 in New York: twelve and a half hours of calling window
/// for the generated (Eastern) numbers.
pub const SIM_START: &str = "2026-06-01T12:30:00Z";
/// The persona every person who answers plays (the leads' `persona` field,
/// so the simulated model plays it too): a few exchanges, then an outcome.
pub const PERSONA: &str = "interested";
/// Eastern area codes of the generated leads.
const AREAS: [&str; 6] = ["212", "617", "305", "404", "215", "704"];

/// A provider personality of the simulated carrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Personality {
    /// The Twilio API (both Twilio accounts).
    Twilio,
    /// The SansPBX API.
    Sanspbx,
}

/// One disruption of the plan.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Disruption {
    /// Kill the server (or every function instance); start it again after
    /// `down_ms` real milliseconds.
    Kill {
        /// How long it stays down.
        down_ms: u64,
    },
    /// The personality refuses its next `requests` dials with 503.
    Outage {
        /// Who.
        provider: Personality,
        /// How many dial requests.
        requests: u32,
    },
    /// The personality refuses its next `requests` dials with 429.
    RateLimitStorm {
        /// Who.
        provider: Personality,
        /// How many dial requests.
        requests: u32,
    },
}

/// A disruption and when it happens: once this many leads are final.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Planned {
    /// Leads final when it happens.
    pub after_finals: u64,
    /// What happens.
    #[serde(flatten)]
    pub disruption: Disruption,
}

/// The seeded plan: `kills` kills spread over 5–85 % of the leads (one in
/// each equal stretch, so each restart has leads left to recover on), and
/// twice as many outages and 429 storms over 0–90 %, in order.
pub fn plan(seed: u64, leads: usize, kills: u32) -> Vec<Planned> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x50A6);
    let n = leads as f64;
    let mut plan = Vec::new();
    let stretch = 0.80 / f64::from(kills.max(1));
    for k in 0..kills {
        let from = 0.05 + stretch * f64::from(k);
        let at = from + stretch * rng.random::<f64>();
        plan.push(Planned {
            after_finals: ((at * n) as u64).max(1),
            disruption: Disruption::Kill {
                down_ms: rng.random_range(300..3_000),
            },
        });
    }
    for _ in 0..kills * 2 {
        let at = 0.9 * rng.random::<f64>();
        let provider = if rng.random::<bool>() {
            Personality::Twilio
        } else {
            Personality::Sanspbx
        };
        let requests = rng.random_range(5..30);
        let disruption = if rng.random::<bool>() {
            Disruption::Outage { provider, requests }
        } else {
            Disruption::RateLimitStorm { provider, requests }
        };
        plan.push(Planned {
            after_finals: (at * n) as u64,
            disruption,
        });
    }
    plan.sort_by_key(|p| p.after_finals);
    plan
}

/// Lead `i`'s number: New York, Boston, Miami, Atlanta, Philadelphia and
/// Charlotte numbers (one calling window).
pub fn lead_number(i: usize) -> String {
    let area = AREAS[i % AREAS.len()];
    format!("+1{area}{:03}{:04}", 200 + i / 10_000, i % 10_000)
}

/// Lead `i`'s name (what the model hears it is calling).
pub fn lead_name(i: usize) -> String {
    format!("Lead {i}")
}

/// `n` distinct leads, each playing [`PERSONA`].
pub fn leads_csv(n: usize) -> String {
    let mut csv = String::from("phone,name,consent,persona\n");
    for i in 0..n {
        let _ = writeln!(csv, "{},{},yes,{PERSONA}", lead_number(i), lead_name(i));
    }
    csv
}

/// The three provider accounts on the simulated network: the carrier's
/// Twilio API on two ports (accounts `twilio_a` and `twilio_b`, one
/// simulated account behind them) and its SansPBX personality on a third,
/// all on one ledger, so the cap and the dials per attempt are counted
/// across the three.
pub struct Accounts {
    /// The carrier (both Twilio accounts), and the ledger of every call.
    pub carrier: Carrier,
    /// Its SansPBX personality.
    pub pbx: SansPbx,
    /// The `[[providers]]` and `[routing]` sections that reach them: the
    /// same text for `voxdial serve`'s config file and the functions'
    /// `VOXDIAL_PROVIDERS`.
    pub providers_toml: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Accounts {
    /// Serves the carrier of `config` (its account must be
    /// [`ACCOUNT_SID`]) on 127.0.0.1.
    pub async fn start(config: CarrierConfig, time: SimTime) -> std::io::Result<Accounts> {
        let token = config.auth_token.clone();
        let carrier = Carrier::new(config, time);
        let (access_token, access_key) = (secret(), secret());
        let pbx = SansPbx::new(
            &carrier,
            SansPbxConfig::new(access_token.clone(), access_key.clone()),
        );
        let mut tasks = Vec::new();
        let mut bases = Vec::new();
        for n in 0..3 {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            bases.push(format!("http://{}", listener.local_addr()?));
            tasks.push(if n < 2 {
                carrier.serve(listener)
            } else {
                pbx.serve(listener)
            });
        }
        let providers_toml = providers_toml(
            &token,
            [&bases[0], &bases[1], &bases[2]],
            &access_token,
            &access_key,
        );
        Ok(Accounts {
            carrier,
            pbx,
            providers_toml,
            tasks,
        })
    }

    /// Carries out a provider disruption (a kill is the caller's).
    pub fn inject(&self, disruption: Disruption) {
        let (provider, fault, requests) = match disruption {
            Disruption::Kill { .. } => return,
            Disruption::Outage { provider, requests } => {
                (provider, CreateFault::Unavailable, requests)
            }
            Disruption::RateLimitStorm { provider, requests } => {
                (provider, CreateFault::RateLimited, requests)
            }
        };
        let faults = std::iter::repeat_n(fault, requests as usize);
        match provider {
            Personality::Twilio => self.carrier.script_create_faults(faults),
            Personality::Sanspbx => self.pbx.script_dial_faults(faults),
        }
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A random credential for the simulated SansPBX account.
fn secret() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Two Twilio accounts and one SansPBX account, routed by cost and quality
/// with a three-step chain.
pub fn providers_toml(
    token: &str,
    bases: [&str; 3],
    access_token: &str,
    access_key: &str,
) -> String {
    let webhook_secret = secret();
    let status = Paths::default().status;
    let mut text = String::new();
    for (id, base) in [("twilio_a", bases[0]), ("twilio_b", bases[1])] {
        let _ = writeln!(
            text,
            "[[providers]]\nid = \"{id}\"\nkind = \"twilio\"\napi_base = \"{base}\"\n\
             account_sid = \"{ACCOUNT_SID}\"\nauth_token = \"{token}\"\n"
        );
    }
    let _ = writeln!(
        text,
        "[[providers]]\nid = \"sanspbx\"\nkind = \"sanspbx\"\napi_base = \"{}\"\nappid = 1\n\
         access_token = \"{access_token}\"\naccess_key = \"{access_key}\"\n\
         webhook_secret = \"{webhook_secret}\"\nnumbers = {{ international = \"prefix00\" }}\n\
         api = {{ status_path = \"{status}\" }}\n",
        bases[2]
    );
    text.push_str("[routing]\nmax_chain_len = 3\n");
    for (id, kind, rate, did) in [
        ("twilio_a", "twilio", "0.014", "+14155550100"),
        ("twilio_b", "twilio", "0.015", "+12125550123"),
        ("sanspbx", "sanspbx", "0.016", "+912240001234"),
    ] {
        let _ = writeln!(
            text,
            "[[routing.providers]]\nid = \"{id}\"\nkind = \"{kind}\"\ncps = 5\n\
             rates_csv = \"1,{rate}\"\n\
             breaker = {{ failure_threshold = 5, cooldown_secs = 30 }}\n\
             pool = {{ any_country_fallback = true, caller_id_cps = 5, \
             dids = [{{ number = \"{did}\" }}] }}\n"
        );
    }
    text
}

/// Call setup over the campaign's attempt records.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Setup {
    /// Attempts that reached routing.
    pub dial_attempts: u64,
    /// Attempts some provider accepted.
    pub accepted: u64,
    /// `accepted / dial_attempts`.
    pub success_rate: Option<f64>,
}

impl Setup {
    /// Setup success from the campaign's attempt records (the API's call
    /// views).
    pub fn of(calls: &[Value]) -> Setup {
        let dial_attempts = calls.len() as u64;
        let accepted = calls
            .iter()
            .filter(|c| !c["provider_sid"].is_null())
            .count() as u64;
        Setup {
            dial_attempts,
            accepted,
            success_rate: (dial_attempts > 0).then(|| accepted as f64 / dial_attempts as f64),
        }
    }
}

/// The total of a campaign progress field that counts by kind (`finals`,
/// `live_calls`, in the API's campaign view); 0 when it is absent.
pub fn sum_of(progress: &Value, field: &str) -> u64 {
    progress[field]
        .as_object()
        .map_or(0, |m| m.values().filter_map(Value::as_u64).sum())
}

/// Whether an attempt record (an API call view) is in a terminal state.
pub fn is_terminal(call: &Value) -> bool {
    serde_json::from_value::<CallState>(call["state"].clone()).is_ok_and(CallState::is_terminal)
}

/// The figures the verdict is made of.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    /// The campaign's cap.
    pub cap: u32,
    /// The carrier's peak of simultaneous calls of the campaign.
    pub peak_concurrent: u32,
    /// The most dials the carrier saw for one attempt.
    pub max_dials_per_attempt: u32,
    /// Leads not final at the end.
    pub lost_leads: u64,
    /// Slots held in the store beyond the calls live at the carrier.
    pub leaked_slots: u64,
    /// Attempt records not in a terminal state at the end.
    pub calls_left_live: u64,
    /// Answered calls hit by a model fault that ended without an outcome.
    pub faulted_without_outcome: u64,
    /// Attempts a provider accepted / attempts routed.
    pub setup_success: Option<f64>,
    /// The lowest setup success that passes.
    pub min_setup_success: f64,
    /// Kills carried out.
    pub kills_done: u32,
    /// Kills planned.
    pub kills_planned: u32,
}

/// The broken invariants among `f`, in words.
pub fn violations(f: &Figures) -> Vec<String> {
    let mut broken = Vec::new();
    if f.peak_concurrent > f.cap {
        broken.push(format!(
            "cap breached: {} calls at once, cap {}",
            f.peak_concurrent, f.cap
        ));
    }
    if f.max_dials_per_attempt > 1 {
        broken.push(format!(
            "an attempt dialled {} times",
            f.max_dials_per_attempt
        ));
    }
    if f.lost_leads > 0 {
        broken.push(format!("{} leads not final", f.lost_leads));
    }
    if f.leaked_slots > 0 {
        broken.push(format!("{} slots held with no live call", f.leaked_slots));
    }
    if f.calls_left_live > 0 {
        broken.push(format!("{} calls left live", f.calls_left_live));
    }
    if f.faulted_without_outcome > 0 {
        broken.push(format!(
            "{} calls lost to a model fault ended without a final outcome",
            f.faulted_without_outcome
        ));
    }
    match f.setup_success {
        Some(rate) if rate < f.min_setup_success => broken.push(format!(
            "call setup success {:.2} % below {:.2} %",
            rate * 100.0,
            f.min_setup_success * 100.0
        )),
        None => broken.push("no call was dialled".into()),
        Some(_) => {}
    }
    if f.kills_done < f.kills_planned {
        broken.push(format!(
            "only {} of {} kills happened",
            f.kills_done, f.kills_planned
        ));
    }
    broken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_is_seeded_spread_and_complete() {
        let a = plan(3, 100, 5);
        assert_eq!(a, plan(3, 100, 5));
        assert_ne!(a, plan(4, 100, 5));
        let kills: Vec<u64> = a
            .iter()
            .filter(|p| matches!(p.disruption, Disruption::Kill { .. }))
            .map(|p| p.after_finals)
            .collect();
        assert_eq!(kills.len(), 5);
        // One kill in each sixth-ish stretch from 5 % to 85 %.
        for (k, at) in kills.iter().enumerate() {
            let (lo, hi) = (5 + 16 * k as u64, 5 + 16 * (k as u64 + 1));
            assert!((lo..=hi).contains(at), "kill {k} at {at}");
        }
        assert_eq!(a.len(), 15);
        assert!(a.windows(2).all(|w| w[0].after_finals <= w[1].after_finals));
        assert!(a.iter().all(|p| p.after_finals <= 90));
    }

    #[test]
    fn each_broken_invariant_is_named() {
        let good = Figures {
            cap: 5,
            peak_concurrent: 5,
            max_dials_per_attempt: 1,
            setup_success: Some(1.0),
            min_setup_success: 0.99,
            kills_done: 5,
            kills_planned: 5,
            ..Figures::default()
        };
        assert!(violations(&good).is_empty());
        let cases = [
            (
                Figures {
                    peak_concurrent: 6,
                    ..good.clone()
                },
                "cap breached",
            ),
            (
                Figures {
                    max_dials_per_attempt: 2,
                    ..good.clone()
                },
                "dialled 2 times",
            ),
            (
                Figures {
                    lost_leads: 1,
                    ..good.clone()
                },
                "1 leads not final",
            ),
            (
                Figures {
                    leaked_slots: 2,
                    ..good.clone()
                },
                "2 slots held",
            ),
            (
                Figures {
                    setup_success: Some(0.98),
                    ..good.clone()
                },
                "setup success",
            ),
            (
                Figures {
                    setup_success: None,
                    ..good.clone()
                },
                "no call",
            ),
            (
                Figures {
                    kills_done: 4,
                    ..good.clone()
                },
                "4 of 5 kills",
            ),
            (
                Figures {
                    calls_left_live: 3,
                    ..good.clone()
                },
                "3 calls left live",
            ),
            (
                Figures {
                    faulted_without_outcome: 1,
                    ..good.clone()
                },
                "1 calls lost to a model fault ended without a final outcome",
            ),
        ];
        for (figures, expected) in cases {
            let broken = violations(&figures);
            assert_eq!(broken.len(), 1, "{broken:?}");
            assert!(broken[0].contains(expected), "{broken:?}");
        }
    }
}
