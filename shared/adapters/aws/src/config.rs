//! Building the SDK clients: from the environment (Lambda: the function's
//! role and region), or against an emulator's endpoint; and counting the
//! AWS requests clients make.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
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
/// however many times the SDK retries it).
#[derive(Clone, Debug, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
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
    }
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
}
