//! JSON logs for CloudWatch: one object per line, the span's fields
//! (`campaign_id`, `call_id`, `provider`, ...) included, level from
//! `RUST_LOG` (default `info`). Phone numbers are masked by `E164`'s
//! `Display`; secrets never reach a log call.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber (once; later calls do nothing).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        // Lambda stamps every line itself.
        .without_time()
        .try_init();
}
