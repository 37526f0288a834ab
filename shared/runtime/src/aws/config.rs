//! The function's settings, read once at cold start from its environment
//! (set by the SAM template).
//!
//! | variable | meaning |
//! |---|---|
//! | `VOXDIAL_TABLE` | the DynamoDB table |
//! | `VOXDIAL_DISPATCH_QUEUE_URL` | the dispatch queue |
//! | `VOXDIAL_RECORDINGS_BUCKET` | the recordings bucket (optional) |
//! | `VOXDIAL_PUBLIC_BASE_URL` | what providers call back: the HTTP API's URL or its custom domain (with any base path); required by the dispatcher, which puts it in every call's callback URLs; the webhook functions rebuild the URL from the event when it is not set |
//! | `VOXDIAL_MEDIA_URL` | the media bridge's `wss://` URL (optional) |
//! | `VOXDIAL_CALLER_ID` | the caller ID (E.164) of a provider account that has none of its own, when `VOXDIAL_PROVIDERS` has no `[routing]` |
//! | `VOXDIAL_CALLER_IDS` | per provider account: `twilio=+14155550100,sanspbx=+912240001234` (provider ids of `VOXDIAL_PROVIDERS`); an account not listed presents `VOXDIAL_CALLER_ID` (optional; without `[routing]`, each account's one-number DID pool) |
//! | `VOXDIAL_PROVIDERS` | the provider accounts as TOML (`voxdial-providers` format; credentials written `{ secret = "twilio.auth_token" }`), optionally with the local config file's `[routing]` (rates, DID pools, breakers, CPS: `voxdial_routing::RoutingConfig`) and `[agent_providers]` sections |
//! | `VOXDIAL_SECRET_IDS` | the Secrets Manager secrets (ARNs or names, comma-separated) this function reads, and only those: the template grants each function's role exactly these (optional) |
//! | `VOXDIAL_DISPATCH_LEASE_SECS`, `VOXDIAL_CALL_LEASE_MARGIN_SECS` | the engine's leases (optional) |
//! | `VOXDIAL_MAX_CALL_SECS` | the media bridge's longest call (the template's `MaxCallSecs`): campaigns asking for longer calls are refused (optional) |
//! | `VOXDIAL_JOB_QUEUE_URL` | the post-call job queue (optional: no post-call pipeline without it) |
//! | `VOXDIAL_TRANSCRIBER` | `live` (default: the bridge's live transcript), `google`, `aws-transcribe`, `gemini` |
//! | `VOXDIAL_ANALYSER` | `local` (default) or `gemini` |
//! | `VOXDIAL_GEMINI_MODEL` | the Gemini model of the transcriber and analyser (default `gemini-2.5-flash`) |
//! | `VOXDIAL_RETENTION_DAYS` | days a call's files are kept when its campaign does not say (default 90) |
//! | `VOXDIAL_DELETE_PROVIDER_RECORDINGS` | `false` keeps the provider's copy after a verified copy (default `true`) |
//! | `VOXDIAL_CONSENT_COUNTRIES`, `VOXDIAL_CONSENT_US_STATES` | comma lists of where recorded calls open with a notice (defaults: `voxdial_domain::ConsentRules`) |
//! | `VOXDIAL_MODEL_PRICES` | the voice model's prices in USD per million tokens: text in, audio in, text out, audio out (default `0.5,3,2,12`, Gemini 2.5 Flash native audio's published rates) |
//!
//! The secrets' keys are one namespace (a key in two of a function's
//! secrets stops it at cold start). The template keeps three secrets, so
//! that IAM can give each function only the keys it uses: the providers'
//! credentials (every function), the models' (`gemini.api_key`,
//! `google.speech_api_key`: the transcriber and the media bridge), and
//! voxdial's own keys (the answer, API and dispatcher functions and the
//! media bridge). Post-call credentials are `gemini.api_key`,
//! `google.speech_api_key`, and `voxdial.suppression_key` (the key of the
//! keyed hashes that keep erased numbers suppressed; erasure is refused
//! without it). `voxdial.media_token_key` (or the variable
//! `VOXDIAL_MEDIA_TOKEN_KEY`) signs each call's media stream token: the
//! answer function and the dispatcher issue it, the media-bridge container
//! checks it and refuses to start without it. `voxdial.session_key` (or
//! `VOXDIAL_SESSION_KEY`) signs the console's sessions (the API function;
//! without it the console signs in with nothing but API keys).
//!
//! | `VOXDIAL_AWS_ENDPOINT` | an AWS API emulator's URL (tests only) |

use voxdial_domain::E164;

/// The providers when `VOXDIAL_PROVIDERS` is not set: one Twilio account
/// whose SID and token are keys of the secret.
pub const DEFAULT_PROVIDERS: &str = r#"
[[providers]]
id = "twilio"
kind = "twilio"
account_sid = { secret = "twilio.account_sid" }
auth_token = { secret = "twilio.auth_token" }
"#;

/// A setting is missing or wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("the environment variable {0} is not set")]
    Missing(&'static str),
    /// A variable's value is wrong.
    #[error("the environment variable {name} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Why.
        reason: String,
    },
}

/// The settings of every voxdial function.
#[derive(Clone, Debug)]
pub struct LambdaConfig {
    /// The DynamoDB table.
    pub table: String,
    /// The dispatch queue's URL.
    pub queue_url: String,
    /// The recordings bucket.
    pub recordings_bucket: Option<String>,
    /// The public base URL of the webhooks.
    pub public_base_url: Option<String>,
    /// The media bridge's URL.
    pub media_url: Option<String>,
    /// The caller ID of a provider account that has none of its own.
    pub caller_id: E164,
    /// Caller IDs by provider account id (`VOXDIAL_CALLER_IDS`).
    pub caller_ids: Vec<(String, E164)>,
    /// The provider accounts (TOML).
    pub providers: String,
    /// The secrets this function reads (credentials and keys).
    pub secret_ids: Vec<String>,
    /// A queued lead's slot lease, in seconds.
    pub dispatch_lease_secs: Option<u32>,
    /// Added to ring time and the longest call for a live call's lease.
    pub call_lease_margin_secs: Option<u32>,
    /// The media bridge's longest call, seconds.
    pub max_call_secs: Option<u32>,
    /// An AWS API emulator's URL.
    pub aws_endpoint: Option<String>,
    /// The post-call job queue's URL.
    pub job_queue_url: Option<String>,
    /// The transcriber: `live`, `google`, `aws-transcribe`, `gemini`.
    pub transcriber: String,
    /// The analyser: `local` or `gemini`.
    pub analyser: String,
    /// The Gemini model.
    pub gemini_model: Option<String>,
    /// Default retention of call files, days.
    pub retention_days: Option<u32>,
    /// Delete the provider's copy of a recording after a verified copy.
    pub delete_provider_recordings: bool,
    /// Where recorded calls open with a notice.
    pub consent: voxdial_domain::ConsentRules,
    /// The voice model's prices (`VOXDIAL_MODEL_PRICES`).
    pub model_prices: voxdial_domain::ModelPrices,
}

impl LambdaConfig {
    /// The caller ID the provider account `provider` presents.
    pub fn caller_id_for(&self, provider: &str) -> &E164 {
        self.caller_ids
            .iter()
            .find(|(id, _)| id == provider)
            .map_or(&self.caller_id, |(_, number)| number)
    }

    /// The public base URL, for a function that builds callback URLs.
    pub fn require_public_base_url(&self) -> Result<&str, ConfigError> {
        self.public_base_url
            .as_deref()
            .ok_or(ConfigError::Missing("VOXDIAL_PUBLIC_BASE_URL"))
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<LambdaConfig, ConfigError> {
        LambdaConfig::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads variables from `var` (the environment, or a test's map).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<LambdaConfig, ConfigError> {
        let get = |name| var(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let number = |name: &'static str| -> Result<Option<u32>, ConfigError> {
            get(name)
                .map(|v| {
                    v.parse()
                        .map_err(|e: std::num::ParseIntError| ConfigError::Invalid {
                            name,
                            reason: e.to_string(),
                        })
                })
                .transpose()
        };
        let url = |name: &'static str, value: String, schemes: &[&str]| {
            if schemes.iter().any(|s| value.starts_with(s)) {
                Ok(value)
            } else {
                Err(ConfigError::Invalid {
                    name,
                    reason: format!("expected a URL starting with {}", schemes.join(" or ")),
                })
            }
        };
        let caller_id = required("VOXDIAL_CALLER_ID")?;
        // The shape only: a full numbering-plan check would load
        // libphonenumber's metadata (about 55 ms) at every cold start, and no
        // webhook needs it. `sam deploy` validates the parameter's pattern.
        let caller_id = E164::from_trusted(caller_id).map_err(|e| ConfigError::Invalid {
            name: "VOXDIAL_CALLER_ID",
            reason: e.to_string(),
        })?;
        let caller_ids = get("VOXDIAL_CALLER_IDS")
            .map_or(Ok(Vec::new()), |v| caller_ids(&v))
            .map_err(|reason| ConfigError::Invalid {
                name: "VOXDIAL_CALLER_IDS",
                reason,
            })?;
        let list = |name: &'static str| -> Option<Vec<String>> {
            get(name).map(|v| {
                v.split(',')
                    .map(|code| code.trim().to_ascii_uppercase())
                    .filter(|code| !code.is_empty())
                    .collect()
            })
        };
        let defaults = voxdial_domain::ConsentRules::default();
        let consent = voxdial_domain::ConsentRules {
            countries: list("VOXDIAL_CONSENT_COUNTRIES").unwrap_or(defaults.countries),
            us_states: list("VOXDIAL_CONSENT_US_STATES").unwrap_or(defaults.us_states),
        };
        let model_prices = get("VOXDIAL_MODEL_PRICES")
            .map(|v| voxdial_domain::ModelPrices::parse(&v))
            .transpose()
            .map_err(|reason| ConfigError::Invalid {
                name: "VOXDIAL_MODEL_PRICES",
                reason,
            })?
            .unwrap_or_default();
        Ok(LambdaConfig {
            consent,
            model_prices,
            table: required("VOXDIAL_TABLE")?,
            queue_url: required("VOXDIAL_DISPATCH_QUEUE_URL")?,
            recordings_bucket: get("VOXDIAL_RECORDINGS_BUCKET"),
            public_base_url: get("VOXDIAL_PUBLIC_BASE_URL")
                .map(|v| url("VOXDIAL_PUBLIC_BASE_URL", v, &["https://", "http://"]))
                .transpose()?,
            media_url: get("VOXDIAL_MEDIA_URL")
                .map(|v| url("VOXDIAL_MEDIA_URL", v, &["wss://", "ws://"]))
                .transpose()?,
            caller_id,
            caller_ids,
            providers: get("VOXDIAL_PROVIDERS").unwrap_or_else(|| DEFAULT_PROVIDERS.to_string()),
            secret_ids: get("VOXDIAL_SECRET_IDS")
                .map(|ids| {
                    ids.split(',')
                        .map(str::trim)
                        .filter(|id| !id.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            dispatch_lease_secs: number("VOXDIAL_DISPATCH_LEASE_SECS")?,
            call_lease_margin_secs: number("VOXDIAL_CALL_LEASE_MARGIN_SECS")?,
            max_call_secs: number("VOXDIAL_MAX_CALL_SECS")?,
            aws_endpoint: get("VOXDIAL_AWS_ENDPOINT"),
            job_queue_url: get("VOXDIAL_JOB_QUEUE_URL"),
            transcriber: get("VOXDIAL_TRANSCRIBER").unwrap_or_else(|| "live".into()),
            analyser: get("VOXDIAL_ANALYSER").unwrap_or_else(|| "local".into()),
            gemini_model: get("VOXDIAL_GEMINI_MODEL"),
            retention_days: number("VOXDIAL_RETENTION_DAYS")?,
            delete_provider_recordings: get("VOXDIAL_DELETE_PROVIDER_RECORDINGS")
                .is_none_or(|v| v != "false"),
        })
    }
}

/// `id=+E164` pairs, comma-separated.
fn caller_ids(list: &str) -> Result<Vec<(String, E164)>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (id, number) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not provider=+number"))?;
            let number = E164::from_trusted(number.trim()).map_err(|e| e.to_string())?;
            Ok((id.trim().to_string(), number))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const BASE: [(&str, &str); 4] = [
        ("VOXDIAL_TABLE", "voxdial-dev"),
        (
            "VOXDIAL_DISPATCH_QUEUE_URL",
            "https://sqs.ap-south-1.amazonaws.com/1/d",
        ),
        ("VOXDIAL_PUBLIC_BASE_URL", "https://hooks.example.com"),
        ("VOXDIAL_CALLER_ID", "+14155550100"),
    ];

    #[test]
    fn reads_the_template_variables_with_defaults() {
        let config = LambdaConfig::from_vars(vars(&BASE)).unwrap();
        assert_eq!(config.table, "voxdial-dev");
        assert_eq!(config.providers, DEFAULT_PROVIDERS);
        assert_eq!(config.media_url, None);
        assert_eq!(config.dispatch_lease_secs, None);
        assert_eq!(config.max_call_secs, None);
        assert_eq!(config.consent, voxdial_domain::ConsentRules::default());
        assert_eq!(config.model_prices, voxdial_domain::ModelPrices::default());
    }

    #[test]
    fn model_prices_are_four_usd_amounts_per_million_tokens() {
        let mut with = BASE.to_vec();
        with.push(("VOXDIAL_MODEL_PRICES", "0.35,2.1,1.5,8.5"));
        let config = LambdaConfig::from_vars(vars(&with)).unwrap();
        assert_eq!(
            config.model_prices.audio_output,
            voxdial_domain::Money(8_500_000)
        );
        let mut bad = BASE.to_vec();
        bad.push(("VOXDIAL_MODEL_PRICES", "cheap"));
        let err = LambdaConfig::from_vars(vars(&bad)).unwrap_err();
        assert!(err.to_string().contains("VOXDIAL_MODEL_PRICES"), "{err}");
    }

    #[test]
    fn a_function_reads_the_secrets_it_lists() {
        assert!(
            LambdaConfig::from_vars(vars(&BASE))
                .unwrap()
                .secret_ids
                .is_empty()
        );
        let mut with = BASE.to_vec();
        with.push((
            "VOXDIAL_SECRET_IDS",
            "voxdial/dev/providers, voxdial/dev/keys,",
        ));
        let config = LambdaConfig::from_vars(vars(&with)).unwrap();
        assert_eq!(
            config.secret_ids,
            ["voxdial/dev/providers", "voxdial/dev/keys"]
        );
    }

    #[test]
    fn consent_lists_are_comma_separated_codes() {
        let mut with = BASE.to_vec();
        with.push(("VOXDIAL_CONSENT_COUNTRIES", "gb, de,"));
        with.push(("VOXDIAL_CONSENT_US_STATES", "CA"));
        let config = LambdaConfig::from_vars(vars(&with)).unwrap();
        assert_eq!(config.consent.countries, ["GB", "DE"]);
        assert_eq!(config.consent.us_states, ["CA"]);
    }

    #[test]
    fn each_provider_account_presents_its_own_caller_id() {
        let mut with = BASE.to_vec();
        with.push((
            "VOXDIAL_CALLER_IDS",
            "twilio=+14155550199, sanspbx=+912240001234",
        ));
        let config = LambdaConfig::from_vars(vars(&with)).unwrap();
        assert_eq!(config.caller_id_for("sanspbx").as_str(), "+912240001234");
        assert_eq!(config.caller_id_for("twilio").as_str(), "+14155550199");
        assert_eq!(config.caller_id_for("other").as_str(), "+14155550100");
        let mut bad = BASE.to_vec();
        bad.push(("VOXDIAL_CALLER_IDS", "sanspbx:+912240001234"));
        let err = LambdaConfig::from_vars(vars(&bad)).unwrap_err();
        assert!(err.to_string().contains("VOXDIAL_CALLER_IDS"), "{err}");
    }

    #[test]
    fn names_the_variable_that_is_wrong() {
        let missing = LambdaConfig::from_vars(vars(&BASE[..3])).unwrap_err();
        assert!(
            missing.to_string().contains("VOXDIAL_CALLER_ID"),
            "{missing}"
        );
        let no_url = LambdaConfig::from_vars(vars(&[BASE[0], BASE[1], BASE[3]])).unwrap();
        let err = no_url.require_public_base_url().unwrap_err();
        assert!(err.to_string().contains("VOXDIAL_PUBLIC_BASE_URL"), "{err}");
        let mut bad = BASE.to_vec();
        bad.push(("VOXDIAL_MEDIA_URL", "https://not-a-socket"));
        let err = LambdaConfig::from_vars(vars(&bad)).unwrap_err();
        assert!(err.to_string().contains("VOXDIAL_MEDIA_URL"), "{err}");
        let mut bad = BASE.to_vec();
        bad.push(("VOXDIAL_DISPATCH_LEASE_SECS", "soon"));
        assert!(LambdaConfig::from_vars(vars(&bad)).is_err());
    }
}
