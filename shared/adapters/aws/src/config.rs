//! Building the SDK clients: from the environment (Lambda: the function's
//! role and region), or against an emulator's endpoint; and counting the
//! AWS requests clients make.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// Loads the SDK configuration from the environment (region, credentials,
/// retries); with `endpoint`, every client talks to it instead of AWS (an
/// emulator such as moto).
pub async fn load(endpoint: Option<&str>) -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest());
    match endpoint {
        Some(url) => loader.endpoint_url(url).load().await,
        None => loader.load().await,
    }
}

/// The clients the adapters need, built once from one configuration.
#[derive(Clone, Debug)]
pub struct Clients {
    /// DynamoDB.
    pub dynamo: aws_sdk_dynamodb::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// S3 (path-style addressing when an endpoint is overridden).
    pub s3: aws_sdk_s3::Client,
    /// Amazon Transcribe (the post-call transcriber, when configured).
    pub transcribe: aws_sdk_transcribe::Client,
}

impl Clients {
    /// Clients from `sdk`; with `counter`, each counts its requests there.
    pub fn new(sdk: &SdkConfig, counter: Option<&RequestCounter>) -> Clients {
        let path_style = sdk.endpoint_url().is_some();
        let mut dynamo = aws_sdk_dynamodb::config::Builder::from(sdk);
        let mut sqs = aws_sdk_sqs::config::Builder::from(sdk);
        let mut s3 = aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style);
        if let Some(counter) = counter {
            dynamo = dynamo.interceptor(counter.clone());
            sqs = sqs.interceptor(counter.clone());
            s3 = s3.interceptor(counter.clone());
        }
        let transcribe = aws_sdk_transcribe::config::Builder::from(sdk);
        Clients {
            transcribe: aws_sdk_transcribe::Client::from_conf(transcribe.build()),
            dynamo: aws_sdk_dynamodb::Client::from_conf(dynamo.build()),
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
        }
    }
}

/// Counts AWS requests by `Service.Operation` (an operation counts once,
/// however many times the SDK retries it), and DynamoDB requests also by
/// the kinds of item they name ([`RequestCounter::by_item`]).
#[derive(Clone, Debug, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
    by_item: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl RequestCounter {
    /// A counter at zero.
    pub fn new() -> RequestCounter {
        RequestCounter::default()
    }

    /// The counts so far.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// DynamoDB requests by operation and the key prefixes of the items
    /// they name (`GetItem K` reads a call, `TransactWriteItems K+L` writes
    /// a call and a lead; a write also names what its index attributes
    /// point at, such as a call's campaign, `C`): where the requests go.
    pub fn by_item(&self) -> BTreeMap<String, u64> {
        self.by_item
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every request so far.
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }

    /// Sets every count back to zero.
    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.by_item
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// The key prefixes a DynamoDB request's JSON body names, sorted and
/// joined with `+`: each string value that starts like one of the table's
/// keys (upper-case letters, then `#` or the end: `K#call_…`, `RT`,
/// `LIVE#3`). Records, labels and sort-key timestamps do not.
fn key_prefixes(body: &[u8]) -> String {
    const VALUE: &[u8] = br#"{"S":""#;
    let mut kinds = std::collections::BTreeSet::new();
    let mut rest = body;
    while let Some(at) = rest.windows(VALUE.len()).position(|w| w == VALUE) {
        rest = &rest[at + VALUE.len()..];
        let head = rest.iter().take_while(|b| b.is_ascii_uppercase()).count();
        if (1..=9).contains(&head) && matches!(rest.get(head), Some(b'#' | b'"')) {
            kinds.insert(String::from_utf8_lossy(&rest[..head]).into_owned());
        }
    }
    kinds.into_iter().collect::<Vec<_>>().join("+")
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "voxdial.RequestCounter"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg.load::<Metadata>().map_or_else(
            || "unknown".to_string(),
            |m| format!("{}.{}", m.service(), m.name()),
        );
        *self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(name)
            .or_default() += 1;
        Ok(())
    }

    fn read_after_serialization(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        if metadata.service() != "DynamoDB" {
            return Ok(());
        }
        let kinds = context.request().body().bytes().map(key_prefixes);
        *self
            .by_item
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(format!("{} {}", metadata.name(), kinds.unwrap_or_default()))
            .or_default() += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::key_prefixes;

    #[test]
    fn key_prefixes_name_the_items_a_request_touches() {
        let get = br#"{"TableName":"t","Key":{"pk":{"S":"K#call_1"},"sk":{"S":"K"}}}"#;
        assert_eq!(key_prefixes(get), "K");
        let query = br#"{"ExpressionAttributeValues":{":pk":{"S":"RT"},":s":{"S":"pending"}}}"#;
        assert_eq!(key_prefixes(query), "RT");
        let tx = br#"[{"pk":{"S":"L#ld_1"}},{"pk":{"S":"K#c"}},{"rec":{"S":"{\"a\":1}"}},{"pk":{"S":"LIVE#3"}}]"#;
        assert_eq!(key_prefixes(tx), "K+L+LIVE");
    }
}
