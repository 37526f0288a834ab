//! The sweeper on an EventBridge schedule: one sweep per event.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use tracing::{Instrument, info, info_span};
use voxdial_app::{AppError, Engine, SweepReport};

/// Runs one sweep; an error fails the invocation (the next minute's sweep
/// starts over, so the schedule does not retry it).
pub async fn handle(
    engine: &Engine,
    event: EventBridgeEvent<serde_json::Value>,
) -> Result<SweepReport, AppError> {
    let span = info_span!("sweep", event_id = event.id.as_deref().unwrap_or("?"));
    async {
        let report = engine.sweep().await?;
        info!(?report, "swept");
        Ok(report)
    }
    .instrument(span)
    .await
}
