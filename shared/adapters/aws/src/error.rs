//! Errors of setting up the AWS adapters (the ports' own error types cover
//! every operation after that).

/// Creating a table, queue or bucket, or connecting, failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// An AWS request failed.
    #[error("{message}")]
    Aws {
        /// What failed.
        message: String,
        /// The SDK's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A request could not be built (a required field is missing).
    #[error("cannot build an AWS request")]
    Build(#[source] aws_sdk_dynamodb::error::BuildError),
    /// The AWS API emulator could not be started.
    #[error("cannot start the AWS API emulator: {0}")]
    Emulator(String),
}

impl SetupError {
    pub(crate) fn aws(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> SetupError {
        SetupError::Aws {
            message: message.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn build(e: aws_sdk_dynamodb::error::BuildError) -> SetupError {
        SetupError::Build(e)
    }
}
