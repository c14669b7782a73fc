//! Why a scrape run stopped early, and how the errors it meets map onto that.

use sea_orm::DbErr;

use crate::{domains::scraping::service::sources::SourceError, error::AppError};

/// Why a run stopped early.
#[derive(Debug)]
pub enum Stop {
    /// Cancelled, deleted, or taken over by a newer attempt: write nothing more.
    Cancelled,
    /// Failed; `retryable` when another attempt may succeed.
    Failed {
        /// What went wrong.
        message: String,
        /// Another attempt may succeed.
        retryable: bool,
    },
}

impl From<DbErr> for Stop {
    fn from(e: DbErr) -> Self {
        Stop::Failed {
            message: format!("database: {e}"),
            retryable: true,
        }
    }
}

impl From<AppError> for Stop {
    fn from(e: AppError) -> Self {
        let message = match &e {
            AppError::Internal(d) => d.clone(),
            other => other.public_message(),
        };
        Stop::Failed {
            message,
            retryable: true,
        }
    }
}

impl From<SourceError> for Stop {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Retryable(message) => Stop::Failed {
                message,
                retryable: true,
            },
            SourceError::Permanent(message) => Stop::Failed {
                message,
                retryable: false,
            },
        }
    }
}

/// A poisoned in-memory lock: retry the run.
pub fn poisoned() -> Stop {
    Stop::Failed {
        message: "internal lock poisoned".into(),
        retryable: true,
    }
}
