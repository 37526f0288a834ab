//! The outbound webhook: once a call's analysis is ready, it is POSTed to
//! the campaign's URL.
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! Voxdial-Event: call.analysis.ready
//! Voxdial-Idempotency-Key: <call id>           (the same on every retry)
//! Voxdial-Delivery-Attempt: <n>
//! Voxdial-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//! ```
//!
//! The receiver recomputes the HMAC over the timestamp, a dot and the raw
//! body, compares in constant time, and refuses timestamps older than its
//! tolerance (replays) — [`verify_signature`] does all three. A 2xx answer
//! delivers; `410 Gone` gives up at once; anything else (or no answer) is
//! retried with exponential backoff up to the configured attempts, then the
//! call record says why it failed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;
use tracing::{info, warn};
use voxdial_domain::{Analysis, CallAttempt, CallId, StageStatus};

use crate::postcall::JobOutcome;
use crate::{AppError, Engine};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "Voxdial-Signature";
/// The idempotency key header (the call id).
pub const IDEMPOTENCY_HEADER: &str = "Voxdial-Idempotency-Key";

/// The body POSTed for one call.
#[derive(Clone, Debug, Serialize)]
pub struct AnalysisEvent<'a> {
    /// `call.analysis.ready`.
    pub event: &'static str,
    /// The call.
    pub call_id: &'a CallId,
    /// Its campaign.
    pub campaign_id: &'a voxdial_domain::CampaignId,
    /// Its lead.
    pub lead_id: &'a voxdial_domain::LeadId,
    /// The attempt number.
    pub attempt: u32,
    /// When the call ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Talk time.
    pub duration_secs: Option<u32>,
    /// The call's outcome label.
    pub outcome: Option<&'static str>,
    /// The analysis.
    pub analysis: &'a Analysis,
}

/// The signature header's value for `body` at `at` (unix seconds).
pub fn sign(secret: &[u8], at: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(at.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={at},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature header against `body`: the HMAC matches (constant
/// time) and the timestamp is within `tolerance` of `now`.
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> bool {
    let mut at = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => at = t.parse::<i64>().ok(),
            Some(("v1", sig)) => v1 = hex::decode(sig).ok(),
            _ => {}
        }
    }
    let (Some(at), Some(v1)) = (at, v1) else {
        return false;
    };
    if (now.timestamp() - at).unsigned_abs() > tolerance.as_secs() {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(at.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&v1).is_ok()
}

impl Engine {
    /// The call's stored analysis.
    pub async fn analysis(&self, call_id: &CallId) -> Result<Analysis, AppError> {
        let call = self.call(call_id).await?;
        let key = call
            .post_call
            .analysis
            .as_ref()
            .and_then(|a| a.key.clone())
            .ok_or_else(|| AppError::NotFound(format!("analysis of call {call_id}")))?;
        let blobs = self
            .blobs
            .as_ref()
            .ok_or_else(|| AppError::Conflict("no blob store is configured".into()))?;
        let bytes = blobs
            .get(&key)
            .await
            .map_err(|e| AppError::Conflict(format!("cannot read {key}: {e}")))?
            .ok_or_else(|| AppError::NotFound(format!("analysis of call {call_id}")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| AppError::Conflict(format!("unreadable analysis {key}: {e}")))
    }

    /// The `Deliver` job: one POST.
    pub(crate) async fn deliver_job(&self, call_id: &CallId) -> Result<JobOutcome, AppError> {
        let post = self.post()?.clone();
        let Some(call) = self.store.call(call_id).await? else {
            return Ok(JobOutcome::Done);
        };
        let Some(delivery) = call.post_call.delivery.clone() else {
            return Ok(JobOutcome::Done);
        };
        if delivery.status != StageStatus::Pending {
            return Ok(JobOutcome::Done);
        }
        let campaign = self.campaign(&call.campaign_id).await?;
        let (Some(webhook), Some(poster)) = (&campaign.settings.webhook, &post.poster) else {
            return self
                .delivery_ends(&call, StageStatus::Skipped, None, None, 0)
                .await;
        };
        let analysis = match self.analysis(call_id).await {
            Ok(analysis) => analysis,
            Err(AppError::NotFound(_)) => return Ok(JobOutcome::Done),
            Err(e) => return Err(e),
        };
        let body = serde_json::to_vec(&AnalysisEvent {
            event: "call.analysis.ready",
            call_id: &call.id,
            campaign_id: &call.campaign_id,
            lead_id: &call.lead_id,
            attempt: call.attempt,
            ended_at: call.ended_at,
            duration_secs: call.duration_secs,
            outcome: call.outcome.as_ref().map(|o| o.label()),
            analysis: &analysis,
        })
        .map_err(|e| AppError::Invalid(format!("cannot encode a webhook: {e}")))?;
        let attempt = delivery.attempts + 1;
        let secret = webhook.secret.clone().unwrap_or_default();
        let headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            (
                "Voxdial-Event".to_string(),
                "call.analysis.ready".to_string(),
            ),
            (IDEMPOTENCY_HEADER.to_string(), call.id.to_string()),
            ("Voxdial-Delivery-Attempt".to_string(), attempt.to_string()),
            (
                SIGNATURE_HEADER.to_string(),
                sign(secret.as_bytes(), self.clock.now().timestamp(), &body),
            ),
        ];
        let answer = poster.post(&webhook.url, &headers, &body).await;
        let (status, failure) = match answer {
            Ok(code) if (200..300).contains(&code) => {
                info!(call_id = %call_id, attempt, "analysis delivered");
                return self
                    .delivery_ends(&call, StageStatus::Done, Some(code), None, attempt)
                    .await;
            }
            Ok(code) => (Some(code), format!("the receiver answered HTTP {code}")),
            Err(error) => (None, error.to_string()),
        };
        let last = status == Some(410) || attempt >= post.config.delivery_attempts;
        warn!(call_id = %call_id, attempt, %failure, last, "webhook delivery failed");
        if last {
            return self
                .delivery_ends(&call, StageStatus::Failed, status, Some(failure), attempt)
                .await;
        }
        self.modify_call(call_id, |c| {
            if let Some(d) = c.post_call.delivery.as_mut()
                && d.status == StageStatus::Pending
            {
                d.attempts = d.attempts.max(attempt);
                d.last_status = status;
                d.failure = Some(failure.clone());
            }
            Ok(())
        })
        .await?;
        Ok(JobOutcome::RetryAfter(post.config.backoff(
            attempt,
            post.config.backoff_base.saturating_mul(15),
        )))
    }

    async fn delivery_ends(
        &self,
        call: &CallAttempt,
        status: StageStatus,
        last_status: Option<u16>,
        failure: Option<String>,
        attempts: u32,
    ) -> Result<JobOutcome, AppError> {
        let now = self.clock.now();
        self.modify_call(&call.id, |c| {
            if let Some(d) = c.post_call.delivery.as_mut()
                && d.status == StageStatus::Pending
            {
                d.status = status;
                d.attempts = d.attempts.max(attempts);
                d.last_status = last_status.or(d.last_status);
                d.failure = failure.clone();
                if status == StageStatus::Done {
                    d.delivered_at = Some(now);
                }
            }
            Ok(())
        })
        .await?;
        Ok(JobOutcome::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_signature_matches_a_known_answer() {
        // Python: hmac.new(b"0123456789abcdef", b"1780315200." + body,
        // hashlib.sha256).hexdigest()
        let body = br#"{"event":"call.analysis.ready"}"#;
        assert_eq!(
            sign(b"0123456789abcdef", 1_780_315_200, body),
            "t=1780315200,v1=21534bcb8ef3b9c750b16d98766ced8c79f8f14ae116052fba8afc12c0bb05cf"
        );
    }

    #[test]
    fn signatures_verify_and_refuse_tampering_and_replays() {
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let body = br#"{"event":"call.analysis.ready"}"#;
        let header = sign(b"0123456789abcdef", now.timestamp(), body);
        let tolerance = Duration::from_secs(300);
        assert!(verify_signature(
            b"0123456789abcdef",
            &header,
            body,
            now,
            tolerance
        ));
        assert!(!verify_signature(
            b"another-secret!!",
            &header,
            body,
            now,
            tolerance
        ));
        assert!(!verify_signature(
            b"0123456789abcdef",
            &header,
            b"{}",
            now,
            tolerance
        ));
        let later = now + chrono::Duration::seconds(301);
        assert!(!verify_signature(
            b"0123456789abcdef",
            &header,
            body,
            later,
            tolerance
        ));
        assert!(!verify_signature(
            b"0123456789abcdef",
            "v1=00",
            body,
            now,
            tolerance
        ));
    }
}
