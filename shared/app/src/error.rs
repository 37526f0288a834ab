//! The use cases' error type.

use voxdial_domain::{CampaignError, QueueError, StoreError, WebhookError};

/// A use case failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// A campaign rule refused the request.
    #[error(transparent)]
    Campaign(#[from] CampaignError),
    /// The blob store failed.
    #[error(transparent)]
    Blob(#[from] voxdial_domain::BlobError),
    /// A webhook was refused.
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request is invalid; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with the current state (e.g. the call already ended).
    #[error("{0}")]
    Conflict(String),
    /// No valid API key came with the request.
    #[error("{0}")]
    Unauthorized(String),
    /// The key's role may not do this.
    #[error("{0}")]
    Forbidden(String),
}

impl AppError {
    /// A record that kept changing under a read-modify-write until the
    /// retries ran out: contention, which a later attempt can get past (a
    /// queued message is delivered again; the API answers 409).
    pub fn contended(what: impl std::fmt::Display) -> AppError {
        let tries = crate::engine::CONFLICT_RETRIES;
        AppError::Store(StoreError::Conflict(format!(
            "{what} (each of {tries} tries)"
        )))
    }

    /// The HTTP status a caller should get for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            AppError::NotFound(_) | AppError::Store(StoreError::NotFound(_)) => 404,
            AppError::Invalid(_) | AppError::Campaign(CampaignError::InvalidSetting { .. }) => 400,
            AppError::Webhook(WebhookError::BadRequest(_)) => 400,
            AppError::Webhook(WebhookError::Forbidden) | AppError::Forbidden(_) => 403,
            AppError::Unauthorized(_) => 401,
            AppError::Conflict(_)
            | AppError::Campaign(CampaignError::InvalidTransition { .. })
            | AppError::Store(StoreError::Conflict(_) | StoreError::AlreadyExists(_)) => 409,
            AppError::Store(StoreError::Invalid(_) | StoreError::Corrupt(_)) => 500,
            AppError::Blob(voxdial_domain::BlobError::InvalidKey(_)) => 500,
            AppError::Store(_) | AppError::Queue(_) | AppError::Blob(_) => 503,
        }
    }

    /// Whether retrying the same request later can succeed (an SQS message
    /// should be redelivered).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            AppError::Store(StoreError::Unavailable { .. } | StoreError::Conflict(_))
                | AppError::Queue(QueueError::Unavailable { .. })
                | AppError::Blob(voxdial_domain::BlobError::Unavailable { .. })
        )
    }
}
