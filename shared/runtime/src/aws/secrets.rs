//! Credentials and keys from AWS Secrets Manager, fetched once at cold
//! start: the function's secrets (`VOXDIAL_SECRET_IDS`, only those its
//! role may read), each a JSON object, nested objects naming keys with
//! dots (`{"twilio": {"auth_token": "…"}}` is `twilio.auth_token`), the
//! keys `{ secret = "…" }` credentials of the providers' TOML refer to.
//! The secrets' keys are one namespace: a key in two of them is refused,
//! so no secret silently overrides another. Values are never logged;
//! `Debug` shows the keys only.

use std::collections::BTreeMap;

use voxdial_providers::SecretSource;

/// A secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Secrets Manager failed.
    #[error("cannot read the secret {id}")]
    Fetch {
        /// The secret's id.
        id: String,
        /// The SDK's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The secret is not a JSON object of strings.
    #[error("the secret {id} is not a JSON object of strings: {reason}")]
    Shape {
        /// The secret's id.
        id: String,
        /// Why.
        reason: String,
    },
    /// Two of the function's secrets have the same key.
    #[error("the key {key} is in the secret {id} and in another of the function's secrets")]
    Duplicate {
        /// The secret read second.
        id: String,
        /// The key.
        key: String,
    },
}

/// Secret values by dotted key.
#[derive(Clone, Default)]
pub struct Secrets {
    values: BTreeMap<String, String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn flatten(
    prefix: &str,
    value: &serde_json::Value,
    out: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                let key = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&key, value, out)?;
            }
            Ok(())
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
            Ok(())
        }
        other => Err(format!("{prefix} is {other}, not a string")),
    }
}

impl Secrets {
    /// Reads a secret's JSON value.
    pub fn from_json(id: &str, json: &str) -> Result<Secrets, SecretsError> {
        let shape = |reason: String| SecretsError::Shape {
            id: id.to_string(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| shape(e.to_string()))?;
        if !value.is_object() {
            return Err(shape("not an object".into()));
        }
        let mut values = BTreeMap::new();
        flatten("", &value, &mut values).map_err(shape)?;
        Ok(Secrets { values })
    }

    /// Fetches the secret `id` (ARN or name).
    pub async fn fetch(
        client: &aws_sdk_secretsmanager::Client,
        id: &str,
    ) -> Result<Secrets, SecretsError> {
        let output = client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| SecretsError::Fetch {
                id: id.to_string(),
                source: Box::new(e),
            })?;
        let json = output.secret_string().ok_or_else(|| SecretsError::Shape {
            id: id.to_string(),
            reason: "the secret has no string value".into(),
        })?;
        Secrets::from_json(id, json)
    }
}

impl Secrets {
    /// Fetches every secret of `ids`, one namespace of keys (see the
    /// module doc).
    pub async fn fetch_all(
        client: &aws_sdk_secretsmanager::Client,
        ids: &[String],
    ) -> Result<Secrets, SecretsError> {
        let mut all = Secrets::default();
        for id in ids {
            all = all.merge(id, Secrets::fetch(client, id).await?)?;
        }
        Ok(all)
    }

    /// These values and those of the secret `id`; refused when a key is in both.
    pub fn merge(mut self, id: &str, other: Secrets) -> Result<Secrets, SecretsError> {
        for (key, value) in other.values {
            if self.values.contains_key(&key) {
                return Err(SecretsError::Duplicate {
                    id: id.to_string(),
                    key,
                });
            }
            self.values.insert(key, value);
        }
        Ok(self)
    }
}

impl SecretSource for Secrets {
    fn env(&self, name: &str) -> Option<String> {
        // Read while the providers are built, at cold start only.
        std::env::var(name).ok()
    }

    fn secret(&self, key: &str) -> Option<String> {
        self.values.get(key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_keys_are_dotted_and_values_hidden() {
        let secrets = Secrets::from_json(
            "s",
            r#"{"twilio": {"account_sid": "AC1", "auth_token": "tok"}, "top": "x"}"#,
        )
        .unwrap();
        assert_eq!(secrets.secret("twilio.auth_token").as_deref(), Some("tok"));
        assert_eq!(secrets.secret("top").as_deref(), Some("x"));
        assert_eq!(secrets.secret("twilio"), None);
        let debug = format!("{secrets:?}");
        assert!(
            debug.contains("twilio.auth_token") && !debug.contains("tok\""),
            "{debug}"
        );
    }

    #[test]
    fn secrets_merge_into_one_namespace_and_never_override_each_other() {
        let providers =
            Secrets::from_json("providers", r#"{"twilio": {"auth_token": "tok"}}"#).unwrap();
        let models = Secrets::from_json("models", r#"{"gemini": {"api_key": "g"}}"#).unwrap();
        let both = providers.clone().merge("models", models).unwrap();
        assert_eq!(both.secret("twilio.auth_token").as_deref(), Some("tok"));
        assert_eq!(both.secret("gemini.api_key").as_deref(), Some("g"));
        let clash = Secrets::from_json("keys", r#"{"twilio.auth_token": "s3cr3t-value"}"#).unwrap();
        let error = providers.merge("keys", clash).unwrap_err().to_string();
        assert!(
            error.contains("twilio.auth_token") && error.contains("keys"),
            "{error}"
        );
        assert!(!error.contains("s3cr3t"), "no value in the error: {error}");
    }

    #[test]
    fn other_shapes_are_refused() {
        assert!(Secrets::from_json("s", "[1]").is_err());
        assert!(Secrets::from_json("s", r#"{"n": 1}"#).is_err());
        assert!(Secrets::from_json("s", "not json").is_err());
    }
}
