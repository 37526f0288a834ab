//! Provider accounts from TOML, with credentials from the environment or a
//! local secrets file, validated before anything is dialled.
//!
//! ```toml
//! [[providers]]
//! id = "twilio"
//! kind = "twilio"
//! api_base = "https://api.twilio.com"          # or a regional edge, or the simulator
//! account_sid = { env = "VOXDIAL_TWILIO_ACCOUNT_SID" }
//! auth_token = { env = "VOXDIAL_TWILIO_AUTH_TOKEN" }
//! # api_key = { sid = { env = "TWILIO_API_KEY" }, secret = { secret = "twilio.api_secret" } }
//! # shared_key = { id = "KS…", secret = { secret = "twilio.shared_key" } }
//! detect_message_end = false
//! amd = { speech_threshold_ms = 2400, silence_timeout_ms = 5000 }
//!
//! [[providers]]
//! id = "sanspbx"
//! kind = "sanspbx"
//! api_base = "https://clouduat28.sansoftwares.com"
//! appid = 12
//! access_token = { secret = "sanspbx.access_token" }
//! access_key = { secret = "sanspbx.access_key" }
//! webhook_secret = { env = "VOXDIAL_SANSPBX_WEBHOOK_SECRET" }
//! webhook_auth = { mode = "signed_url" }        # or { mode = "header", name = "X-Voxdial-Secret" }
//! numbers = { country_code = "91", domestic = "trunk_zero", international = "reject", caller_id_digits = 7 }
//! token = { default_ttl_secs = 3600, refresh_margin_secs = 60, utc_offset = "+05:30" }
//! api = { status_path = "/pbxadmin/sanpbxapi/callstatus" }   # any path, header or field name
//! ```
//!
//! A credential is written `{ env = "NAME" }` (an environment variable),
//! `{ secret = "section.key" }` (a key of the local secrets file, a TOML
//! table of strings; dots walk into sub-tables), or `{ value = "…" }` / a
//! plain string (in the file itself: for simulators and ids, not for real
//! secrets). [`SecretSource`] is the seam where AWS Secrets Manager plugs in.
//!
//! [`ProvidersConfig::from_toml`] checks the shape and every value that
//! needs no secret; [`ProvidersConfig::build`] resolves the credentials and
//! builds the adapters. Errors name the provider and the field.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use voxdial_domain::{Clock, ProviderId, TelephonyProvider};

use crate::sanspbx::{
    NumberRules, SansPbxApi, SansPbxConfig, SansPbxProvider, TokenPolicy, WebhookAuth,
};
use crate::twilio::{AmdThresholds, TwilioConfig, TwilioProvider};

/// A provider configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The text is not TOML of the expected shape.
    #[error("provider configuration: {0}")]
    Toml(#[from] toml::de::Error),
    /// A value is wrong or a credential cannot be found.
    #[error("provider `{provider}`: {field}: {reason}")]
    Invalid {
        /// The provider's id (`*` for the list itself).
        provider: String,
        /// The field's path.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The secrets file cannot be read.
    #[error("secrets file {}: {reason}", path.display())]
    SecretsFile {
        /// Its path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An adapter's HTTP client cannot be built.
    #[error("provider `{provider}`: cannot build its HTTP client")]
    Http {
        /// The provider's id.
        provider: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
}

fn invalid(provider: &ProviderId, field: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        provider: provider.to_string(),
        field: field.into(),
        reason: reason.into(),
    }
}

/// Where a credential comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable.
    Env(String),
    /// A key of the secrets file.
    File(String),
    /// Written in the configuration itself.
    Literal(String),
}

impl std::fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env:{name}"),
            SecretRef::File(key) => write!(f, "secret:{key}"),
            SecretRef::Literal(_) => f.write_str("<literal>"),
        }
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            env: Option<String>,
            secret: Option<String>,
            value: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Table(Table),
        }
        let raw = Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "a credential is a string, { env = \"NAME\" }, { secret = \"key\" } or { value = \"…\" }",
            )
        })?;
        match raw {
            Raw::Text(text) => Ok(SecretRef::Literal(text)),
            Raw::Table(Table {
                env: Some(name),
                secret: None,
                value: None,
            }) => Ok(SecretRef::Env(name)),
            Raw::Table(Table {
                env: None,
                secret: Some(key),
                value: None,
            }) => Ok(SecretRef::File(key)),
            Raw::Table(Table {
                env: None,
                secret: None,
                value: Some(text),
            }) => Ok(SecretRef::Literal(text)),
            Raw::Table(_) => Err(serde::de::Error::custom(
                "a credential names exactly one of env, secret or value",
            )),
        }
    }
}

/// Resolves credentials. Locally: the environment and a secrets file
/// ([`LocalSecrets`]); in AWS, Secrets Manager behind the same trait.
pub trait SecretSource: Send + Sync {
    /// The value of environment variable `name`.
    fn env(&self, name: &str) -> Option<String>;
    /// The value of `key` in the secret store.
    fn secret(&self, key: &str) -> Option<String>;
}

/// Credentials from the process environment and an optional TOML secrets
/// file (a table of strings; `a.b` names key `b` of table `a`).
#[derive(Default)]
pub struct LocalSecrets {
    file: Option<(PathBuf, toml::Table)>,
    overrides: HashMap<String, String>,
}

impl LocalSecrets {
    /// The environment only.
    pub fn from_env() -> LocalSecrets {
        LocalSecrets::default()
    }

    /// The environment and the secrets file at `path`.
    pub fn with_file(path: impl AsRef<Path>) -> Result<LocalSecrets, ConfigError> {
        let path = path.as_ref().to_path_buf();
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::SecretsFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::SecretsFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Ok(LocalSecrets {
            file: Some((path, table)),
            overrides: HashMap::new(),
        })
    }

    /// Variables that take precedence over the environment (tests, CLIs).
    pub fn with_vars(mut self, vars: impl IntoIterator<Item = (String, String)>) -> LocalSecrets {
        self.overrides.extend(vars);
        self
    }
}

impl SecretSource for LocalSecrets {
    fn env(&self, name: &str) -> Option<String> {
        self.overrides
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    }

    fn secret(&self, key: &str) -> Option<String> {
        let (_, table) = self.file.as_ref()?;
        if let Some(toml::Value::String(s)) = table.get(key) {
            return Some(s.clone());
        }
        let mut parts = key.split('.');
        let mut value = table.get(parts.next()?)?;
        for part in parts {
            value = value.as_table()?.get(part)?;
        }
        value.as_str().map(str::to_string)
    }
}

/// Every provider account.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidersConfig {
    /// The accounts, in any order (routing decides the order of use).
    #[serde(default)]
    pub providers: Vec<AccountConfig>,
}

/// One provider account, by backend.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccountConfig {
    /// A Twilio account (or the simulated carrier speaking as one).
    Twilio(Box<TwilioAccount>),
    /// A SansPBX account (or its simulated personality).
    Sanspbx(Box<SansPbxAccount>),
}

/// `kind = "twilio"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioAccount {
    /// The provider id (used by routing and in webhook URLs).
    pub id: ProviderId,
    /// `AC…`.
    pub account_sid: SecretRef,
    /// The Auth Token (signs webhooks; REST password unless `api_key`).
    pub auth_token: SecretRef,
    /// An API key for REST calls instead of the Auth Token.
    #[serde(default)]
    pub api_key: Option<ApiKeyRef>,
    /// A Webhooks SharedKey for HMAC-SHA256 signatures.
    #[serde(default)]
    pub shared_key: Option<SharedKeyRef>,
    /// REST base URL (default `https://api.twilio.com`).
    #[serde(default)]
    pub api_base: Option<String>,
    /// Timeout of one REST request (default 10 000 ms).
    #[serde(default)]
    pub request_timeout_ms: Option<u64>,
    /// Ask for `DetectMessageEnd` rather than `Enable`.
    #[serde(default)]
    pub detect_message_end: bool,
    /// Machine-detection tuning.
    #[serde(default)]
    pub amd: AmdThresholds,
}

/// A Twilio API key.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyRef {
    /// `SK…`.
    pub sid: SecretRef,
    /// Its secret.
    pub secret: SecretRef,
}

/// A Twilio Webhooks SharedKey.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedKeyRef {
    /// The key's id, as the settings header names it.
    pub id: String,
    /// Its secret.
    pub secret: SecretRef,
}

/// `kind = "sanspbx"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SansPbxAccount {
    /// The provider id.
    pub id: ProviderId,
    /// Scheme and host of the PBX.
    pub api_base: String,
    /// The PBX application bridging calls to the media stream.
    pub appid: u64,
    /// The static token of the token request.
    pub access_token: SecretRef,
    /// The access key of the token request.
    pub access_key: SecretRef,
    /// The status webhooks' shared secret (at least 16 characters).
    pub webhook_secret: SecretRef,
    /// How the secret is checked (default: signed status URLs).
    #[serde(default)]
    pub webhook_auth: WebhookAuth,
    /// Path, header and field name overrides.
    #[serde(default)]
    pub api: SansPbxApi,
    /// Number formats.
    #[serde(default)]
    pub numbers: NumberRules,
    /// Token lifetime handling.
    #[serde(default)]
    pub token: TokenPolicy,
    /// Timeout of one REST request (default 10 000 ms).
    #[serde(default)]
    pub request_timeout_ms: Option<u64>,
}

impl AccountConfig {
    /// The account's provider id.
    pub fn id(&self) -> &ProviderId {
        match self {
            AccountConfig::Twilio(a) => &a.id,
            AccountConfig::Sanspbx(a) => &a.id,
        }
    }

    /// The backend's name (`twilio`, `sanspbx`), as routing spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            AccountConfig::Twilio(_) => "twilio",
            AccountConfig::Sanspbx(_) => "sanspbx",
        }
    }
}

fn timeout(id: &ProviderId, ms: Option<u64>) -> Result<Duration, ConfigError> {
    match ms {
        None => Ok(Duration::from_secs(10)),
        Some(ms) if (100..=120_000).contains(&ms) => Ok(Duration::from_millis(ms)),
        Some(ms) => Err(invalid(
            id,
            "request_timeout_ms",
            format!("{ms} is not between 100 and 120000"),
        )),
    }
}

fn http_url(id: &ProviderId, field: &str, url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => Err(invalid(id, field, format!("{url:?} is not an http(s) URL"))),
    }
}

fn resolve(
    secrets: &dyn SecretSource,
    id: &ProviderId,
    field: &str,
    reference: &SecretRef,
) -> Result<String, ConfigError> {
    let value = match reference {
        SecretRef::Literal(text) => Some(text.clone()),
        SecretRef::Env(name) => Some(secrets.env(name).ok_or_else(|| {
            invalid(id, field, format!("environment variable {name} is not set"))
        })?),
        SecretRef::File(key) => Some(secrets.secret(key).ok_or_else(|| {
            invalid(id, field, format!("key {key:?} is not in the secrets file"))
        })?),
    };
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(invalid(id, field, "is empty")),
    }
}

impl ProvidersConfig {
    /// Parses a `[[providers]]` list and checks it.
    pub fn from_toml(text: &str) -> Result<ProvidersConfig, ConfigError> {
        let config: ProvidersConfig = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks everything that needs no credential: unique ids, URLs,
    /// ranges, number rules, API paths.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = HashSet::new();
        for account in &self.providers {
            let id = account.id();
            if !seen.insert(id.clone()) {
                return Err(invalid(id, "id", "declared twice"));
            }
            match account {
                AccountConfig::Twilio(a) => {
                    if let Some(base) = &a.api_base {
                        http_url(id, "api_base", base)?;
                    }
                    timeout(id, a.request_timeout_ms)?;
                    a.amd
                        .validate()
                        .map_err(|(field, reason)| invalid(id, &format!("amd.{field}"), reason))?;
                }
                AccountConfig::Sanspbx(a) => {
                    http_url(id, "api_base", &a.api_base)?;
                    timeout(id, a.request_timeout_ms)?;
                    // Everything but the credentials, checked with stand-ins.
                    let probe = a.runtime_config(
                        "access-token".into(),
                        "access-key".into(),
                        "0123456789abcdef".into(),
                        Arc::new(crate::WallClock),
                    )?;
                    probe
                        .validate()
                        .map_err(|(field, reason)| invalid(id, field, reason))?;
                }
            }
        }
        Ok(())
    }

    /// The accounts' ids and kinds.
    pub fn ids(&self) -> Vec<(ProviderId, &'static str)> {
        self.providers
            .iter()
            .map(|a| (a.id().clone(), a.kind()))
            .collect()
    }

    /// Resolves the credentials and builds one adapter per account; `clock`
    /// dates requests and token expiries (the simulator's clock in
    /// simulations).
    pub fn build(
        &self,
        secrets: &dyn SecretSource,
        clock: Arc<dyn Clock>,
    ) -> Result<Vec<Arc<dyn TelephonyProvider>>, ConfigError> {
        self.validate()?;
        let mut out: Vec<Arc<dyn TelephonyProvider>> = Vec::with_capacity(self.providers.len());
        for account in &self.providers {
            let id = account.id();
            let http_error = |source| ConfigError::Http {
                provider: id.to_string(),
                source,
            };
            match account {
                AccountConfig::Twilio(a) => {
                    let config = a.runtime_config(secrets, clock.clone())?;
                    out.push(Arc::new(TwilioProvider::new(config).map_err(http_error)?));
                }
                AccountConfig::Sanspbx(a) => {
                    let config = a.runtime_config(
                        resolve(secrets, id, "access_token", &a.access_token)?,
                        resolve(secrets, id, "access_key", &a.access_key)?,
                        resolve(secrets, id, "webhook_secret", &a.webhook_secret)?,
                        clock.clone(),
                    )?;
                    config
                        .validate()
                        .map_err(|(field, reason)| invalid(id, field, reason))?;
                    out.push(Arc::new(SansPbxProvider::new(config).map_err(http_error)?));
                }
            }
        }
        Ok(out)
    }
}

impl TwilioAccount {
    /// The adapter's configuration, credentials resolved.
    pub fn runtime_config(
        &self,
        secrets: &dyn SecretSource,
        clock: Arc<dyn Clock>,
    ) -> Result<TwilioConfig, ConfigError> {
        let id = &self.id;
        let account_sid = resolve(secrets, id, "account_sid", &self.account_sid)?;
        if !account_sid.starts_with("AC") {
            return Err(invalid(
                id,
                "account_sid",
                "a Twilio account SID starts with AC",
            ));
        }
        let mut config = TwilioConfig::new(
            id.clone(),
            account_sid,
            resolve(secrets, id, "auth_token", &self.auth_token)?,
        );
        if let Some(key) = &self.api_key {
            config.api_key = Some((
                resolve(secrets, id, "api_key.sid", &key.sid)?,
                resolve(secrets, id, "api_key.secret", &key.secret)?,
            ));
        }
        if let Some(key) = &self.shared_key {
            config.shared_key = Some((
                key.id.clone(),
                resolve(secrets, id, "shared_key.secret", &key.secret)?,
            ));
        }
        if let Some(base) = &self.api_base {
            config.api_base = base.trim_end_matches('/').to_string();
        }
        config.request_timeout = timeout(id, self.request_timeout_ms)?;
        config.detect_message_end = self.detect_message_end;
        config.amd_thresholds = self.amd;
        config.clock = clock;
        Ok(config)
    }
}

impl SansPbxAccount {
    /// The adapter's configuration with the given credentials.
    pub fn runtime_config(
        &self,
        access_token: String,
        access_key: String,
        webhook_secret: String,
        clock: Arc<dyn Clock>,
    ) -> Result<SansPbxConfig, ConfigError> {
        let mut config = SansPbxConfig::new(
            self.id.clone(),
            self.api_base.trim_end_matches('/'),
            access_token,
            access_key,
            self.appid,
            webhook_secret,
        );
        config.webhook_auth = self.webhook_auth.clone();
        config.api = self.api.clone();
        config.numbers = self.numbers.clone();
        config.token = self.token.clone();
        config.request_timeout = timeout(&self.id, self.request_timeout_ms)?;
        config.clock = clock;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module doc's example, uncommented.
    fn example() -> String {
        include_str!("config.rs")
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| format!("{}\n", l.trim_start_matches("//!").trim_start()))
            .collect()
    }

    fn secrets() -> LocalSecrets {
        LocalSecrets::default().with_vars([
            (
                "VOXDIAL_TWILIO_ACCOUNT_SID".to_string(),
                "AC0123".to_string(),
            ),
            ("VOXDIAL_TWILIO_AUTH_TOKEN".to_string(), "tok".to_string()),
            (
                "VOXDIAL_SANSPBX_WEBHOOK_SECRET".to_string(),
                "a-long-enough-secret".to_string(),
            ),
        ])
    }

    #[test]
    fn the_documented_example_parses_and_names_missing_secrets() {
        let config = ProvidersConfig::from_toml(&example()).unwrap();
        assert_eq!(
            config.ids(),
            [
                (ProviderId::parse("twilio").unwrap(), "twilio"),
                (ProviderId::parse("sanspbx").unwrap(), "sanspbx")
            ]
        );
        let AccountConfig::Sanspbx(s) = &config.providers[1] else {
            panic!()
        };
        assert_eq!(
            s.api.status_path.as_deref(),
            Some("/pbxadmin/sanpbxapi/callstatus")
        );
        assert_eq!(s.api.dial_path, "/pbxadmin/sanpbxapi/dialcall");
        // No secrets file: the SansPBX keys are missing, by name.
        let error = config
            .build(&secrets(), Arc::new(crate::WallClock))
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            error,
            "provider `sanspbx`: access_token: key \"sanspbx.access_token\" is not in the secrets file"
        );
    }

    #[test]
    fn secrets_come_from_a_file() {
        let dir = std::env::temp_dir().join(format!("voxdial-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secrets.toml");
        std::fs::write(
            &path,
            "\"flat.key\" = \"v\"\n[sanspbx]\naccess_token = \"at\"\naccess_key = \"ak\"\n",
        )
        .unwrap();
        let file = LocalSecrets::with_file(&path)
            .unwrap()
            .with_vars(secrets().overrides.into_iter().collect::<Vec<_>>());
        assert_eq!(file.secret("sanspbx.access_key").as_deref(), Some("ak"));
        assert_eq!(file.secret("flat.key").as_deref(), Some("v"));
        assert_eq!(file.secret("sanspbx.nope"), None);
        let config = ProvidersConfig::from_toml(&example()).unwrap();
        let built = config.build(&file, Arc::new(crate::WallClock)).unwrap();
        assert_eq!(built.len(), 2);
        assert_eq!(built[1].id().as_str(), "sanspbx");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (
                "[[providers]]\nid = \"t\"\nkind = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"x\"\napi_base = \"ftp://x\"",
                "provider `t`: api_base: \"ftp://x\" is not an http(s) URL",
            ),
            (
                "[[providers]]\nid = \"t\"\nkind = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"x\"\namd = { speech_threshold_ms = 99 }",
                "provider `t`: amd.speech_threshold_ms: 99 is not between 1000 and 6000",
            ),
            (
                "[[providers]]\nid = \"s\"\nkind = \"sanspbx\"\napi_base = \"https://pbx\"\nappid = 0\naccess_token = \"a\"\naccess_key = \"b\"\nwebhook_secret = \"c\"",
                "provider `s`: appid: must be the PBX application's id (above 0)",
            ),
            (
                "[[providers]]\nid = \"s\"\nkind = \"sanspbx\"\napi_base = \"https://pbx\"\nappid = 1\naccess_token = \"a\"\naccess_key = \"b\"\nwebhook_secret = \"c\"\nnumbers = { country_code = \"+91\" }",
                "provider `s`: numbers.country_code: \"+91\" is not a calling code such as \"91\"",
            ),
            (
                "[[providers]]\nid = \"t\"\nkind = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"x\"\n[[providers]]\nid = \"t\"\nkind = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"x\"",
                "provider `t`: id: declared twice",
            ),
        ];
        for (text, expected) in cases {
            let error = ProvidersConfig::from_toml(text).err().unwrap().to_string();
            assert_eq!(error, expected, "{text}");
        }
        // Shape errors come from TOML with the key's place.
        for text in [
            "[[providers]]\nid = \"t\"\nkind = \"nexmo\"",
            "[[providers]]\nid = \"t\"\nkind = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"x\"\nauth_tokn = \"y\"",
            "[[providers]]\nid = \"t\"\nkind = \"twilio\"\naccount_sid = { env = \"A\", value = \"b\" }\nauth_token = \"x\"",
        ] {
            assert!(
                matches!(ProvidersConfig::from_toml(text), Err(ConfigError::Toml(_))),
                "{text}"
            );
        }
        // A short webhook secret is refused once resolved.
        let short = ProvidersConfig::from_toml(
            "[[providers]]\nid = \"s\"\nkind = \"sanspbx\"\napi_base = \"https://pbx\"\nappid = 1\naccess_token = \"a\"\naccess_key = \"b\"\nwebhook_secret = \"short\"",
        )
        .unwrap();
        assert_eq!(
            short
                .build(&LocalSecrets::default(), Arc::new(crate::WallClock))
                .err()
                .unwrap()
                .to_string(),
            "provider `s`: webhook_secret: must be at least 16 characters (it authenticates status webhooks)"
        );
    }

    #[test]
    fn secret_refs_never_print_literals() {
        assert_eq!(
            format!("{:?}", SecretRef::Literal("hunter2".into())),
            "<literal>"
        );
    }
}
