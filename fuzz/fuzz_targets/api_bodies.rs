//! The HTTP API's JSON bodies: the domain types `shared/http/src/api.rs`
//! deserialises from request bodies, and the checks it runs on them.
//!
//! The first byte picks the body type, the rest is the body. Properties: no
//! panic; campaign settings that parse serialise to JSON that parses to the
//! same settings, and validating them never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxdial_domain::{AgentStatus, CampaignSettings, Disposition, E164, Role};

fuzz_target!(
    // phonenumber loads its metadata on first use, seconds under ASan: not
    // the first input's time (`-timeout`).
    init: {
        let _ = E164::parse("+12125550100", None);
    },
    |input: &[u8]| {
        let Some((&selector, body)) = input.split_first() else {
            return;
        };
        match selector % 5 {
            // POST /v1/campaigns
            0 => {
                if let Ok(settings) = serde_json::from_slice::<CampaignSettings>(body) {
                    let _ = settings.validate();
                    let _ = settings.redacted();
                    let json = serde_json::to_vec(&settings).expect("settings serialise");
                    let again: CampaignSettings =
                        serde_json::from_slice(&json).expect("their JSON parses");
                    assert_eq!(again, settings, "campaign settings round trip");
                }
            }
            // POST /v1/calls/{id}/disposition
            1 => {
                let _ = serde_json::from_slice::<Disposition>(body);
            }
            // PUT /v1/agents/{id}, POST /v1/agents/{id}/status
            2 => {
                let _ = serde_json::from_slice::<AgentStatus>(body);
            }
            // POST /v1/keys
            3 => {
                let _ = serde_json::from_slice::<Role>(body);
            }
            // the numbers of POST /v1/dnc and PUT /v1/agents/{id}
            _ => {
                if let Ok(numbers) = serde_json::from_slice::<Vec<String>>(body) {
                    for number in &numbers {
                        let _ = E164::parse(number, None);
                        let _ = E164::parse(number, Some("US"));
                    }
                }
            }
        }
    }
);
