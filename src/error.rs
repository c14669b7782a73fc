//! Error policy.
//!
//! Every failure a client can see is an [`AppError`] with a stable [`ErrorCode`], rendered into
//! GraphQL as `extensions.code` (plus `fields` for input errors and `retryAfter` for rate limits).
//! Internal failures (database, I/O, bugs) are logged with their details where they happen and
//! reach the client only as `INTERNAL` with the request id, never with the underlying message.
//! A row of another organization is reported exactly like a missing one (`NOT_FOUND`), so ids
//! cannot be probed across tenants.

use std::fmt;

use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, SqlErr};

/// Result alias used by services and resolvers.
pub type AppResult<T> = Result<T, AppError>;

/// Stable, documented error codes (`extensions.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// No or invalid credentials.
    Unauthenticated,
    /// Authenticated, but the role may not do this.
    Forbidden,
    /// The object does not exist in the viewer's organization.
    NotFound,
    /// Input failed validation; `extensions.fields` lists the offending fields.
    BadUserInput,
    /// The change conflicts with existing state (duplicate, wrong state).
    Conflict,
    /// Too many requests; `extensions.retryAfter` says how many seconds to wait.
    RateLimited,
    /// The request itself is malformed at the transport level (bad JSON, batch too large).
    BadRequest,
    /// Something failed on our side; `extensions.requestId` identifies it in the logs.
    Internal,
    /// A dependency (database, bus) is not available right now.
    Unavailable,
    /// The organization's monthly AI token budget is used up (`AI_MONTHLY_TOKEN_BUDGET`).
    AiBudgetExceeded,
    /// The organization's storage quota would be exceeded (`STORAGE_QUOTA_BYTES` or its own
    /// limit); `extensions.used` and `extensions.limit` give its bytes.
    QuotaExceeded,
    /// The request ran longer than `REQUEST_TIMEOUT_MS` (or a bounded piece of work, such as a
    /// template render, exceeded its own time limit) and was stopped.
    Timeout,
}

impl ErrorCode {
    /// The wire form of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::Unavailable => "SERVICE_UNAVAILABLE",
            ErrorCode::AiBudgetExceeded => "AI_BUDGET_EXCEEDED",
            ErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorCode::Timeout => "TIMEOUT",
        }
    }
}

/// One invalid input field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Path of the field in the input, e.g. `input.email`.
    pub field: String,
    /// Human-readable reason.
    pub message: String,
}

/// The application error. Not `Display` on purpose: converting it into a GraphQL error must go
/// through [`From<AppError> for async_graphql::Error`], which keeps the code.
#[derive(Debug, Clone)]
pub enum AppError {
    /// See [`ErrorCode::Unauthenticated`].
    Unauthenticated(String),
    /// See [`ErrorCode::Forbidden`]; `reason` becomes `extensions.reason` when set.
    Forbidden {
        message: String,
        reason: Option<&'static str>,
    },
    /// See [`ErrorCode::NotFound`]; the payload names the kind of object.
    NotFound(&'static str),
    /// See [`ErrorCode::BadUserInput`].
    BadUserInput {
        message: String,
        fields: Vec<FieldError>,
    },
    /// See [`ErrorCode::Conflict`].
    Conflict(String),
    /// See [`ErrorCode::RateLimited`].
    RateLimited { retry_after_secs: u64 },
    /// See [`ErrorCode::BadRequest`].
    BadRequest(String),
    /// See [`ErrorCode::Unavailable`].
    Unavailable(String),
    /// See [`ErrorCode::AiBudgetExceeded`].
    AiBudgetExceeded(String),
    /// See [`ErrorCode::QuotaExceeded`]: bytes stored and the limit, as the client sees them.
    QuotaExceeded {
        message: String,
        used: i64,
        limit: i64,
    },
    /// See [`ErrorCode::Timeout`].
    Timeout(String),
    /// See [`ErrorCode::Internal`]; the detail is logged, never returned.
    Internal(String),
}

impl AppError {
    /// An internal error; the detail is logged at the point of conversion.
    pub fn internal(detail: impl fmt::Display) -> Self {
        AppError::Internal(detail.to_string())
    }

    /// A single-field input error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        AppError::BadUserInput {
            message: format!("{field}: {message}"),
            fields: vec![FieldError { field, message }],
        }
    }

    /// An input error over several fields.
    pub fn invalid_fields(fields: Vec<FieldError>) -> Self {
        let message = fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; ");
        AppError::BadUserInput { message, fields }
    }

    /// FORBIDDEN with a generic message.
    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::Forbidden {
            message: message.into(),
            reason: None,
        }
    }

    /// The error's code.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            AppError::Forbidden { .. } => ErrorCode::Forbidden,
            AppError::NotFound(_) => ErrorCode::NotFound,
            AppError::BadUserInput { .. } => ErrorCode::BadUserInput,
            AppError::Conflict(_) => ErrorCode::Conflict,
            AppError::RateLimited { .. } => ErrorCode::RateLimited,
            AppError::BadRequest(_) => ErrorCode::BadRequest,
            AppError::Unavailable(_) => ErrorCode::Unavailable,
            AppError::AiBudgetExceeded(_) => ErrorCode::AiBudgetExceeded,
            AppError::QuotaExceeded { .. } => ErrorCode::QuotaExceeded,
            AppError::Timeout(_) => ErrorCode::Timeout,
            AppError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The message a client may see.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Unauthenticated(m)
            | AppError::Conflict(m)
            | AppError::BadRequest(m)
            | AppError::Unavailable(m)
            | AppError::AiBudgetExceeded(m)
            | AppError::Timeout(m) => m.clone(),
            AppError::Forbidden { message, .. } | AppError::QuotaExceeded { message, .. } => {
                message.clone()
            }
            AppError::NotFound(what) => format!("{what} not found"),
            AppError::BadUserInput { message, .. } => message.clone(),
            AppError::RateLimited { retry_after_secs } => {
                format!("too many requests; retry after {retry_after_secs} s")
            }
            AppError::Internal(_) => "internal error".to_string(),
        }
    }
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        if let AppError::Internal(detail) = self {
            tracing::error!(error = %detail, "internal error");
        }
        async_graphql::Error::new(self.public_message()).extend_with(|_, e| {
            e.set("code", self.code().as_str());
            match self {
                AppError::BadUserInput { fields, .. } => {
                    let list: Vec<async_graphql::Value> = fields
                        .iter()
                        .map(|f| {
                            let mut m = async_graphql::indexmap::IndexMap::new();
                            m.insert(
                                async_graphql::Name::new("field"),
                                async_graphql::Value::from(f.field.clone()),
                            );
                            m.insert(
                                async_graphql::Name::new("message"),
                                async_graphql::Value::from(f.message.clone()),
                            );
                            async_graphql::Value::Object(m)
                        })
                        .collect();
                    e.set("fields", async_graphql::Value::List(list));
                }
                AppError::RateLimited { retry_after_secs } => {
                    e.set("retryAfter", *retry_after_secs);
                }
                AppError::QuotaExceeded { used, limit, .. } => {
                    e.set("used", *used);
                    e.set("limit", *limit);
                }
                AppError::Forbidden {
                    reason: Some(reason),
                    ..
                } => {
                    e.set("reason", *reason);
                }
                _ => {}
            }
        })
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        err.extend()
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                AppError::Conflict("a record with the same unique value already exists".into())
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                AppError::Conflict("the change refers to a record that does not exist".into())
            }
            _ => match &err {
                DbErr::RecordNotFound(_) => AppError::NotFound("record"),
                // No connection could be had (pool acquire timed out, the server refused or
                // vanished): the request is fine, the database is not; retrying later works.
                _ if is_connection_loss(&err) => {
                    tracing::warn!(error = %err, "database unavailable");
                    AppError::Unavailable("the database is unavailable; retry shortly".into())
                }
                _ => AppError::Internal(format!("database: {err}")),
            },
        }
    }
}

/// Whether `err` says the database could not be reached (no connection could be had, or the one
/// in use was lost mid-statement) rather than that the statement was wrong.
pub fn is_connection_loss(err: &DbErr) -> bool {
    use sea_orm::{sqlx::Error as Sqlx, RuntimeErr};
    let runtime = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(r) | DbErr::Query(r) => r,
        _ => return false,
    };
    matches!(runtime, RuntimeErr::SqlxError(e)
        if matches!(**e, Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed))
}

impl From<serde_json::Error> for AppError {
    fn from(err: serde_json::Error) -> Self {
        AppError::Internal(format!("json: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sea_orm::{sqlx, DbErr, RuntimeErr};

    use super::{AppError, ErrorCode};

    fn code(err: DbErr) -> ErrorCode {
        AppError::from(err).code()
    }

    #[test]
    fn a_connection_lost_mid_statement_is_unavailable_and_a_bad_statement_is_internal() {
        let io = || {
            RuntimeErr::SqlxError(Arc::new(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "expected to read 5 bytes, got 0 bytes at EOF",
            ))))
        };
        assert!(matches!(code(DbErr::Query(io())), ErrorCode::Unavailable));
        assert!(matches!(code(DbErr::Exec(io())), ErrorCode::Unavailable));
        let timed_out = RuntimeErr::SqlxError(Arc::new(sqlx::Error::PoolTimedOut));
        assert!(matches!(
            code(DbErr::Query(timed_out)),
            ErrorCode::Unavailable
        ));
        let syntax = RuntimeErr::Internal("syntax error at or near \"SELEC\"".into());
        assert!(matches!(code(DbErr::Query(syntax)), ErrorCode::Internal));
    }
}
