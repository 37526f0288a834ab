//! Erasure, suppression, retention and the recording notice.
//!
//! - [`Engine::erase_lead`]: deletes a lead's files (recordings, the live
//!   and engine transcripts, analyses; by the keys its calls name and by
//!   the calls' key prefixes), the provider's copies of its recordings,
//!   then, in one store write, the lead, its calls and its plaintext
//!   do-not-call entries (kept as keyed hashes), leaving a tombstone.
//!   Files go first: a crash in between leaves a lead to erase again,
//!   never audio without a record. Queued post-call jobs of its calls find
//!   no call and end.
//! - Suppression: [`suppression_digest`] is HMAC-SHA256 of the E.164
//!   number under the configured key; screening checks it beside the
//!   plaintext list ([`Engine::do_not_call`]).
//! - Retention: the sweeper deletes the files of calls whose retention
//!   ended ([`Engine::purge_due`]) and notes it on the call record.
//! - [`Engine::consent_notice`]: whether a call starts with the recording
//!   notice.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tracing::{info, warn};
use voxdial_domain::{
    CallAttempt, CallId, Campaign, DncHit, E164, LeadId, PurgeDue, RecordingStatus,
    SuppressionDigest, Tombstone,
};

use crate::recordings::call_blob_prefixes;
use crate::{AppError, Engine, PostCallConfig};

/// How many due purges one sweep handles.
const PURGE_BATCH: usize = 200;

/// The suppression digest of a number under `key`.
pub fn suppression_digest(key: &[u8], number: &E164) -> SuppressionDigest {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(number.as_str().as_bytes());
    SuppressionDigest(hex::encode(mac.finalize().into_bytes()))
}

/// The blob keys a call names.
fn named_keys(call: &CallAttempt) -> Vec<String> {
    let mut keys = Vec::new();
    let p = &call.post_call;
    keys.extend(p.recording.as_ref().and_then(|r| r.key.clone()));
    keys.extend(p.transcript.as_ref().and_then(|t| t.key.clone()));
    keys.extend(p.analysis.as_ref().and_then(|a| a.key.clone()));
    if let Some(c) = &call.conversation {
        keys.extend(c.recording.clone());
        keys.extend(c.transcript.clone());
    }
    keys
}

impl Engine {
    fn suppression_key(&self) -> Option<Vec<u8>> {
        self.post
            .as_ref()
            .map(|p| p.config.suppression_key.clone())
            .filter(|k| !k.is_empty())
    }

    /// The do-not-call verdict for a number: the plaintext lists and the
    /// digests of erased numbers.
    pub async fn do_not_call(
        &self,
        campaign: &Campaign,
        number: &E164,
    ) -> Result<DncHit, AppError> {
        let (org, id) = (&campaign.org_id, &campaign.id);
        let mut hit = self.store.dnc_hit(org, id, number).await?;
        if let Some(key) = self.suppression_key() {
            let kept = self
                .store
                .suppressed(org, id, &suppression_digest(&key, number))
                .await?;
            hit.global |= kept.global;
            hit.campaign |= kept.campaign;
        }
        Ok(hit)
    }

    /// Deletes every file of a call; returns how many existed.
    async fn delete_call_files(&self, call: &CallAttempt) -> Result<u32, AppError> {
        let Some(blobs) = &self.blobs else {
            return Ok(0);
        };
        let mut keys = named_keys(call);
        for prefix in call_blob_prefixes(call) {
            keys.extend(
                blobs
                    .list(&prefix)
                    .await
                    .map_err(|e| AppError::Conflict(format!("cannot list {prefix}: {e}")))?,
            );
        }
        keys.sort();
        keys.dedup();
        let mut deleted = 0;
        for key in keys {
            if blobs
                .delete(&key)
                .await
                .map_err(|e| AppError::Conflict(format!("cannot delete {key}: {e}")))?
            {
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Erases a lead everywhere (see the module doc). An erased lead
    /// answers its tombstone again.
    pub async fn erase_lead(&self, lead_id: &LeadId, via: &str) -> Result<Tombstone, AppError> {
        let Some(lead) = self.store.lead(lead_id).await? else {
            return self
                .store
                .tombstone(lead_id)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("lead {lead_id}")));
        };
        if lead.state.active_attempt().is_some() {
            return Err(AppError::Conflict(format!(
                "lead {lead_id} is in a call: erase it once the call has ended"
            )));
        }
        let key = self.suppression_key().ok_or_else(|| {
            AppError::Conflict("no suppression key is configured: erasure is off".into())
        })?;
        let mut blobs_erased = 0;
        let mut provider_copies = 0;
        for attempt in 1..=lead.attempts.saturating_add(1) {
            let id = CallId::for_attempt(&lead.id, attempt);
            let Some(call) = self.store.call(&id).await? else {
                continue;
            };
            blobs_erased += self.delete_call_files(&call).await?;
            if let Some(r) = &call.post_call.recording
                && let Some(p) = &r.provider_recording
                && !r.provider_copy_deleted
                && let Some(provider) = self.providers.get(&p.provider)
            {
                match provider.delete_recording(p).await {
                    Ok(()) => provider_copies += 1,
                    Err(error) => {
                        return Err(AppError::Conflict(format!(
                            "the provider's copy of a recording could not be deleted ({error}); try again"
                        )));
                    }
                }
            }
        }
        let stone = Tombstone {
            lead_id: lead.id.clone(),
            campaign_id: lead.campaign_id.clone(),
            erased_at: self.clock.now(),
            requested_via: via.chars().take(32).collect(),
            calls_erased: 0,
            blobs_erased,
            provider_recordings_erased: provider_copies,
            suppressions_kept: 0,
            lead_state: String::new(),
        };
        let digest = suppression_digest(&key, &lead.phone);
        let stone = match self.store.erase_lead(&lead.id, &digest, &stone).await? {
            Some(stone) => stone,
            None => self
                .store
                .tombstone(lead_id)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("lead {lead_id}")))?,
        };
        info!(lead_id = %lead_id, calls = stone.calls_erased, files = stone.blobs_erased, "lead erased");
        Ok(stone)
    }

    /// The tombstone of an erased lead.
    pub async fn tombstone(&self, lead_id: &LeadId) -> Result<Tombstone, AppError> {
        self.store
            .tombstone(lead_id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("erasure of lead {lead_id}")))
    }

    /// Deletes the files of calls whose retention ended; returns how many
    /// calls were purged.
    pub async fn purge_due(&self) -> Result<u64, AppError> {
        let now = self.clock.now();
        let mut purged = 0;
        for due in self.store.due_purges(now, PURGE_BATCH).await? {
            match self.purge(&due).await {
                Ok(()) => purged += 1,
                Err(error) => {
                    warn!(call_id = %due.call_id, %error, "purge failed; the next sweep retries")
                }
            }
        }
        Ok(purged)
    }

    async fn purge(&self, due: &PurgeDue) -> Result<(), AppError> {
        let Some(call) = self.store.call(&due.call_id).await? else {
            return Ok(self.store.clear_purge(due).await?);
        };
        self.delete_call_files(&call).await?;
        let now = self.clock.now();
        self.modify_call(&call.id, |c| {
            let p = &mut c.post_call;
            if let Some(r) = p.recording.as_mut() {
                if r.status == RecordingStatus::Stored {
                    r.status = RecordingStatus::Purged;
                }
                r.key = None;
            }
            if let Some(t) = p.transcript.as_mut() {
                t.key = None;
                t.excerpt = None;
            }
            if let Some(a) = p.analysis.as_mut() {
                a.key = None;
                a.summary = None;
            }
            if let Some(conv) = c.conversation.as_mut() {
                conv.recording = None;
                conv.transcript = None;
                conv.excerpt = None;
            }
            if let Some(r) = c.post_call.retention.as_mut() {
                r.purged_at.get_or_insert(now);
            }
            Ok(())
        })
        .await?;
        self.store.clear_purge(due).await?;
        info!(call_id = %call.id, "retention ended: files deleted");
        Ok(())
    }

    /// Whether a call of `campaign` to `to` must start with the recording
    /// notice: the campaign may record it and the callee's jurisdiction
    /// requires a notice (the configured
    /// [`ConsentRules`](voxdial_domain::ConsentRules)). The media bridge's
    /// host asks this when it builds the call's context.
    pub fn consent_notice(&self, campaign: &Campaign, to: &E164) -> bool {
        let policy = &campaign.settings.recording;
        match &self.post {
            Some(post) => post.config.consent.consent_notice(policy, to),
            None => PostCallConfig::default().consent.consent_notice(policy, to),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_keyed_and_stable() {
        let n = E164::parse("+14155550100", None).unwrap();
        let a = suppression_digest(b"key-one", &n);
        assert_eq!(a, suppression_digest(b"key-one", &n));
        assert_ne!(a, suppression_digest(b"key-two", &n));
        assert_eq!(a.0.len(), 64);
        assert!(!a.0.contains("4155550100"));
    }
}
