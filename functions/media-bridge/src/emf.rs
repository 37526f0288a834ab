//! The `LiveCalls` metric the service scales on, as CloudWatch embedded
//! metric format (EMF) lines on stdout: the `awslogs` log driver ships
//! them to the task's log group and CloudWatch extracts the metric
//! (namespace [`NAMESPACE`], dimension `ServiceName`). Every task writes
//! one data point per [`EVERY`]; the `Average` over the service is the
//! live calls per task that target tracking holds at its target.

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The metrics' namespace (the template's scaling policy and dashboard use it).
pub(crate) const NAMESPACE: &str = "voxdial/MediaBridge";

/// One data point per task this often.
pub(crate) const EVERY: Duration = Duration::from_secs(60);

/// One EMF line: `live` calls and the task's `capacity`, at `at_ms`
/// (milliseconds since the epoch), for `service`.
pub(crate) fn line(service: &str, live: usize, capacity: usize, at_ms: u128) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": at_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["ServiceName"]],
                "Metrics": [
                    { "Name": "LiveCalls", "Unit": "Count" },
                    { "Name": "CallCapacity", "Unit": "Count" }
                ]
            }]
        },
        "ServiceName": service,
        "LiveCalls": live,
        "CallCapacity": capacity,
    })
    .to_string()
}

/// Writes a line every [`EVERY`] until the process ends.
pub(crate) async fn run(service: String, capacity: usize, live: impl Fn() -> usize) {
    let mut ticks = tokio::time::interval(EVERY);
    loop {
        ticks.tick().await;
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let mut out = std::io::stdout().lock();
        // A lost data point is harmless (the next comes a minute later).
        let _ = writeln!(out, "{}", line(&service, live(), capacity, at_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_the_metric_cloudwatch_extracts() {
        let v: serde_json::Value =
            serde_json::from_str(&line("voxdial-dev-media-bridge", 7, 20, 1_700_000_000_000))
                .expect("JSON");
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["ServiceName"]])
        );
        assert_eq!(directive["Metrics"][0]["Name"], "LiveCalls");
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000_u64);
        // Every declared dimension and metric is a member of the root.
        assert_eq!(v["ServiceName"], "voxdial-dev-media-bridge");
        assert_eq!(v["LiveCalls"], 7);
        assert_eq!(v["CallCapacity"], 20);
    }
}
