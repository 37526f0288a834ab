//! The `Process` job: readiness, transcription, analysis and what follows
//! it (a lead that ended as a bare answer takes the analysed disposition,
//! an opt-out the conversation missed goes on the do-not-call list,
//! the `selective` policy keeps or deletes the recording, the call's files
//! get their retention date, the webhook delivery is queued).

use std::time::Duration;

use chrono::Duration as Span;
use tracing::{info, warn};
use voxdial_domain::{
    AnalyseError, AnalysisDisposition, AnalysisRecord, AnalysisRequest, CallAttempt, CallId,
    CallState, DeliveryRecord, Disposition, Job, RecordingPolicy, RecordingSource, RecordingStatus,
    RetentionRecord, StageStatus,
};

use crate::postcall::JobOutcome;
use crate::recordings::call_blob_key;
use crate::transcription::{CLAIM, Transcribed, stage_taken};
use crate::{AppError, Engine};

impl Engine {
    /// Why the call is not ready to process yet, if it is not.
    fn not_ready(&self, call: &CallAttempt) -> Option<&'static str> {
        let post = self.post.as_ref()?;
        if !call.state.is_terminal() {
            return Some("the call is live");
        }
        let now = self.clock.now();
        let since_end = call
            .ended_at
            .map(|end| (now - end).to_std().unwrap_or_default())
            .unwrap_or(Duration::MAX);
        let recording_pending = call.post_call.recording.as_ref().is_some_and(|r| {
            matches!(
                r.status,
                RecordingStatus::Recording | RecordingStatus::Available
            )
        });
        if recording_pending && since_end < post.config.recording_wait {
            return Some("the provider's recording is not stored yet");
        }
        let bridge_pending = post.config.bridge
            && call.state == CallState::Completed
            && !call.answered_by.is_some_and(|a| a.is_machine())
            && !call
                .conversation
                .as_ref()
                .is_some_and(|c| c.end_reason.is_some() || c.duration_ms > 0);
        if bridge_pending && since_end < post.config.bridge_wait {
            return Some("the media bridge has not reported the conversation");
        }
        None
    }

    /// The `Process` job.
    pub(crate) async fn process_job(
        &self,
        call_id: &CallId,
        _receive_count: u32,
    ) -> Result<JobOutcome, AppError> {
        let post = self.post()?.clone();
        let Some(call) = self.store.call(call_id).await? else {
            return Ok(JobOutcome::Done);
        };
        if call
            .post_call
            .analysis
            .as_ref()
            .is_some_and(|a| a.status != StageStatus::Pending)
        {
            self.count_stored_analysis(&call).await?;
            return Ok(JobOutcome::Done);
        }
        if let Some(why) = self.not_ready(&call) {
            tracing::debug!(call_id = %call_id, why, "not ready to process");
            return Ok(JobOutcome::RetryAfter(post.config.readiness_poll));
        }
        // Outside requests: each download attempt, the provider copy's
        // deletion (when configured), then the transcriber and analyser.
        let mut calls = call
            .post_call
            .analysis
            .as_ref()
            .map_or(0, |a| a.external_calls)
            + call.post_call.recording.as_ref().map_or(0, |r| {
                r.fetch_attempts
                    + u32::from(
                        post.config.delete_provider_copy
                            && r.source == RecordingSource::Provider
                            && r.status == RecordingStatus::Stored,
                    )
            });
        let transcript = match self.transcribe_stage(&call, &mut calls).await? {
            Transcribed::Settled(t) => t,
            Transcribed::Retry(wait) => return Ok(JobOutcome::RetryAfter(wait)),
        };
        let call = self.call(call_id).await?;
        let campaign = self.campaign(&call.campaign_id).await?;
        let lead = self.store.lead(&call.lead_id).await?;
        let time_zone = lead.as_ref().and_then(|l| l.time_zone);
        let request = AnalysisRequest {
            call: call.clone(),
            campaign: campaign.clone(),
            transcript,
            time_zone,
        };
        let now = self.clock.now();
        // Claim the stage, as the transcription does.
        let mut claimed = None;
        self.modify_call(call_id, |c| {
            claimed = None;
            if let Some(a) = &c.post_call.analysis
                && stage_taken(a.status, &a.engine, a.at, now)
            {
                return Ok(());
            }
            let attempts = c.post_call.analysis.as_ref().map_or(0, |a| a.attempts) + 1;
            c.post_call.analysis = Some(unfinished(
                StageStatus::Pending,
                CLAIM,
                attempts,
                None,
                calls,
                now,
            ));
            claimed = Some(attempts);
            Ok(())
        })
        .await?;
        let Some(attempts) = claimed else {
            let fresh = self.call(call_id).await?;
            let settled = fresh
                .post_call
                .analysis
                .as_ref()
                .is_some_and(|a| a.status != StageStatus::Pending);
            return Ok(if settled {
                JobOutcome::Done
            } else {
                JobOutcome::RetryAfter(post.config.readiness_poll)
            });
        };
        if post.analyser.name() != crate::analysis::LOCAL_ENGINE {
            calls += 1;
        }
        let mut analysis =
            match post.analyser.analyse(&request).await {
                Ok(analysis) => analysis,
                Err(error) => {
                    let retry_after = match &error {
                        AnalyseError::Transient { retry_after, .. } => Some(*retry_after),
                        AnalyseError::Permanent(_) => None,
                    };
                    let last = retry_after.is_none() || attempts >= post.config.process_attempts;
                    warn!(call_id = %call_id, attempts, %error, last, "analysis failed");
                    let status = if last {
                        StageStatus::Failed
                    } else {
                        StageStatus::Pending
                    };
                    let record = unfinished(
                        status,
                        post.analyser.name(),
                        attempts,
                        Some(error.to_string()),
                        calls,
                        now,
                    );
                    self.modify_call(call_id, |c| {
                        if c.post_call.analysis.as_ref().is_some_and(|a| {
                            a.status == StageStatus::Pending && a.attempts == attempts
                        }) {
                            c.post_call.analysis = Some(record.clone());
                        }
                        Ok(())
                    })
                    .await?;
                    if last {
                        return Ok(JobOutcome::Done);
                    }
                    return Ok(JobOutcome::RetryAfter(
                        post.config
                            .backoff(attempts, post.config.backoff_base)
                            .max(retry_after.flatten().unwrap_or_default()),
                    ));
                }
            };
        // The disposition rule is applied here, whatever the engine did.
        let machine =
            call.state == CallState::Voicemail || call.answered_by.is_some_and(|a| a.is_machine());
        analysis.recorded_disposition = call.disposition;
        analysis.disposition = voxdial_domain::final_disposition(
            machine,
            call.disposition,
            analysis.analysed_disposition,
        );
        let key = call_blob_key(&call, "analyses", "json");
        let json = serde_json::to_vec(&analysis)
            .map_err(|e| AppError::Invalid(format!("cannot encode an analysis: {e}")))?;
        let blobs = self
            .blobs
            .as_ref()
            .ok_or_else(|| AppError::Conflict("no blob store is configured".into()))?;
        blobs
            .put(&key, json, "application/json")
            .await
            .map_err(|e| AppError::Conflict(format!("cannot store {key}: {e}")))?;
        let passed = analysis
            .principles
            .iter()
            .filter(|p| p.verdict == voxdial_domain::Verdict::Pass)
            .count() as u32;
        let failed = analysis
            .principles
            .iter()
            .filter(|p| p.verdict == voxdial_domain::Verdict::Fail)
            .count() as u32;
        let latency_ms = call
            .ended_at
            .and_then(|end| (now - end).to_std().ok())
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let record = AnalysisRecord {
            status: StageStatus::Done,
            engine: analysis.engine.clone(),
            key: Some(key),
            disposition: Some(analysis.disposition),
            callback_at: analysis.callback_at,
            sentiment: Some(analysis.sentiment.overall.label),
            principles_passed: passed,
            principles_failed: failed,
            summary: Some(analysis.summary.clone()),
            attempts,
            failure: None,
            latency_ms,
            external_calls: calls,
            at: now,
        };
        let webhook = campaign.settings.webhook.is_some() && post.poster.is_some();
        let retention_days = campaign
            .settings
            .retention_days
            .unwrap_or(post.config.retention_days);
        let purge_at = call.ended_at.unwrap_or(now) + Span::days(i64::from(retention_days));
        let mut won = false;
        self.modify_call(call_id, |c| {
            won = false;
            // Only the claim's holder writes the result.
            if c.post_call
                .analysis
                .as_ref()
                .is_none_or(|a| a.status != StageStatus::Pending || a.attempts != attempts)
            {
                return Ok(());
            }
            c.post_call.analysis = Some(record.clone());
            c.post_call.delivery = Some(DeliveryRecord {
                status: if webhook {
                    StageStatus::Pending
                } else {
                    StageStatus::Skipped
                },
                attempts: 0,
                last_status: None,
                failure: None,
                delivered_at: None,
            });
            if c.post_call.retention.is_none() {
                c.post_call.retention = Some(RetentionRecord {
                    purge_at,
                    purged_at: None,
                });
            }
            won = true;
            Ok(())
        })
        .await?;
        if !won {
            return Ok(JobOutcome::Done);
        }
        self.amend_lead_outcome(&call, analysis.disposition).await?;
        info!(
            call_id = %call_id,
            disposition = analysis.disposition.label(),
            latency_ms = latency_ms.unwrap_or(0),
            "analysis ready"
        );
        self.store.schedule_purge(call_id, purge_at).await?;
        self.after_analysis(&call, &campaign, analysis.disposition)
            .await?;
        if webhook {
            self.enqueue(
                &[Job::Deliver {
                    call_id: call_id.clone(),
                }],
                Duration::ZERO,
            )
            .await?;
        }
        self.count_analysis(&call, &campaign, &analysis).await?;
        Ok(JobOutcome::Done)
    }

    /// A lead whose conversation ended without a disposition takes the
    /// analysis's (the store amends only a bare answer of this attempt).
    async fn amend_lead_outcome(
        &self,
        call: &CallAttempt,
        disposition: AnalysisDisposition,
    ) -> Result<(), AppError> {
        let Some(disposition) = disposition.disposition() else {
            return Ok(());
        };
        let amended = self
            .store
            .amend_outcome(&call.lead_id, call.attempt, disposition, self.clock.now())
            .await?;
        if amended {
            info!(call_id = %call.id, disposition = disposition.label(), "lead outcome taken from the analysis");
        }
        Ok(())
    }

    /// What an analysis decides beyond itself.
    async fn after_analysis(
        &self,
        call: &CallAttempt,
        campaign: &voxdial_domain::Campaign,
        disposition: AnalysisDisposition,
    ) -> Result<(), AppError> {
        if disposition == AnalysisDisposition::OptedOut
            && call.disposition != Some(Disposition::OptedOut)
        {
            // An opt-out the conversation did not record: suppress now.
            self.record_disposition(&call.id, Disposition::OptedOut)
                .await?;
        }
        if campaign.settings.recording == RecordingPolicy::Selective {
            let jurisdictions = voxdial_domain::consent::jurisdictions(&call.to);
            let keep = campaign
                .settings
                .selective
                .keeps(&jurisdictions, Some(disposition.label()));
            if !keep {
                self.discard_recording(&call.id).await?;
            }
        }
        Ok(())
    }

    /// Deletes a call's stored recording (the `selective` policy did not
    /// select it).
    async fn discard_recording(&self, call_id: &CallId) -> Result<(), AppError> {
        let call = self.call(call_id).await?;
        let Some(record) = call.post_call.recording.clone() else {
            return Ok(());
        };
        let mut keys: Vec<String> = record.key.iter().cloned().collect();
        if let Some(c) = &call.conversation
            && let Some(k) = &c.recording
        {
            keys.push(k.clone());
        }
        if let Some(blobs) = &self.blobs {
            for key in &keys {
                blobs
                    .delete(key)
                    .await
                    .map_err(|e| AppError::Conflict(format!("cannot delete {key}: {e}")))?;
            }
        }
        if let (Some(p), false) = (&record.provider_recording, record.provider_copy_deleted)
            && let Some(provider) = self.providers.get(&p.provider)
            && let Err(error) = provider.delete_recording(p).await
        {
            warn!(call_id = %call_id, %error, "could not delete the provider's copy");
        }
        let now = self.clock.now();
        self.modify_call(call_id, |c| {
            if let Some(r) = c.post_call.recording.as_mut() {
                r.status = RecordingStatus::Discarded;
                r.key = None;
                r.updated_at = now;
            }
            if let Some(conv) = c.conversation.as_mut() {
                conv.recording = None;
            }
            Ok(())
        })
        .await?;
        info!(call_id = %call_id, "recording discarded: no selective rule keeps it");
        Ok(())
    }
}

/// An analysis record without a result: claimed, waiting for a retry, or
/// failed.
fn unfinished(
    status: StageStatus,
    engine: &str,
    attempts: u32,
    failure: Option<String>,
    external_calls: u32,
    at: voxdial_domain::Timestamp,
) -> AnalysisRecord {
    AnalysisRecord {
        status,
        engine: engine.to_string(),
        key: None,
        disposition: None,
        callback_at: None,
        sentiment: None,
        principles_passed: 0,
        principles_failed: 0,
        summary: None,
        attempts,
        failure,
        latency_ms: None,
        external_calls,
        at,
    }
}
