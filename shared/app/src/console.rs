//! Reads the console needs beside the API's records: a short-lived URL
//! to play a call's recording, and the call's transcript.

use std::time::Duration;

use voxdial_domain::CallId;

use crate::{AppError, Engine};

/// How long a recording URL handed to the console stays valid.
pub const RECORDING_URL_TTL: Duration = Duration::from_secs(15 * 60);

impl Engine {
    /// A URL that plays the call's stored recording for
    /// [`RECORDING_URL_TTL`]; `NotFound` while there is none.
    pub async fn recording_url(&self, call_id: &CallId) -> Result<String, AppError> {
        let call = self.call(call_id).await?;
        let key = call
            .post_call
            .recording
            .and_then(|r| r.key)
            .ok_or_else(|| AppError::NotFound(format!("recording of call {call_id}")))?;
        self.blob_store()?
            .presign_get(&key, RECORDING_URL_TTL)
            .await
            .map_err(|e| AppError::Conflict(format!("cannot sign a URL for {key}: {e}")))
    }

    /// The call's stored transcript (its turns, speakers and times);
    /// `NotFound` while there is none.
    pub async fn transcript(&self, call_id: &CallId) -> Result<serde_json::Value, AppError> {
        let call = self.call(call_id).await?;
        let missing = || AppError::NotFound(format!("transcript of call {call_id}"));
        let key = call
            .post_call
            .transcript
            .and_then(|t| t.key)
            .ok_or_else(missing)?;
        let bytes = self
            .blob_store()?
            .get(&key)
            .await
            .map_err(|e| AppError::Conflict(format!("cannot read {key}: {e}")))?
            .ok_or_else(missing)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| AppError::Conflict(format!("unreadable transcript {key}: {e}")))
    }
}
