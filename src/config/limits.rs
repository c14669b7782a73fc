//! Limits: GraphQL execution limits and the rate-limit budgets (defaults from the seeds).

use super::{read::Vars, ConfigError};

/// GraphQL execution limits.
#[derive(Debug, Clone)]
pub struct GraphqlLimits {
    /// Maximum selection depth.
    pub max_depth: usize,
    /// Maximum computed complexity.
    pub max_complexity: usize,
    /// Maximum number of aliased fields in one document.
    pub max_aliases: usize,
    /// Maximum operations in one batch request.
    pub max_batch_size: usize,
    /// Maximum HTTP request body in bytes.
    pub max_body_bytes: usize,
    /// Maximum size of one uploaded file (multipart requests).
    pub max_upload_bytes: usize,
    /// Maximum files in one multipart request.
    pub max_upload_files: usize,
    /// How often a live dashboard may push: `dashboardUpdates` gathers events this long before
    /// one KPI refresh per organization and range (`DASHBOARD_UPDATE_WINDOW_MS`, default 2000).
    pub dashboard_update_window: std::time::Duration,
}

/// Rate-limit budgets (defaults from the seeds).
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// `login` per client IP per minute.
    pub login_per_minute: u32,
    /// `login` attempts per account (normalised email) per hour, from any IP.
    pub login_per_account_per_hour: u32,
    /// `register` per client IP per hour.
    pub register_per_hour: u32,
    /// `verifyEmail` per token/email per hour.
    pub verify_email_per_hour: u32,
    /// `requestPasswordReset` per email per hour.
    pub password_reset_per_hour: u32,
    /// Every GraphQL request per user or API key per minute.
    pub viewer_per_minute: u32,
}

impl GraphqlLimits {
    /// `MAX_QUERY_DEPTH`, `MAX_QUERY_COMPLEXITY`, `MAX_ALIASES`, `MAX_BATCH_SIZE`,
    /// `MAX_BODY_BYTES`, `MAX_UPLOAD_BYTES`, `MAX_UPLOAD_FILES`, `DASHBOARD_UPDATE_WINDOW_MS`.
    pub(super) fn read(v: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(GraphqlLimits {
            max_depth: v.or("MAX_QUERY_DEPTH", 15)?,
            max_complexity: v.or(
                "MAX_QUERY_COMPLEXITY",
                crate::graphql::schema::DEFAULT_MAX_COMPLEXITY,
            )?,
            max_aliases: v.or("MAX_ALIASES", 30)?,
            max_batch_size: v.or("MAX_BATCH_SIZE", 10)?,
            max_body_bytes: v.or("MAX_BODY_BYTES", 1024 * 1024)?,
            max_upload_bytes: v.or("MAX_UPLOAD_BYTES", 50 * 1024 * 1024)?,
            max_upload_files: v.or("MAX_UPLOAD_FILES", 5)?,
            dashboard_update_window: v.millis("DASHBOARD_UPDATE_WINDOW_MS", 2000)?,
        })
    }
}

impl RateLimits {
    /// The `RATE_LIMIT_*` budgets.
    pub(super) fn read(v: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(RateLimits {
            login_per_minute: v.or("RATE_LIMIT_LOGIN_PER_MINUTE", 20)?,
            login_per_account_per_hour: v.or("RATE_LIMIT_LOGIN_PER_ACCOUNT_PER_HOUR", 30)?,
            register_per_hour: v.or("RATE_LIMIT_REGISTER_PER_HOUR", 10)?,
            verify_email_per_hour: v.or("RATE_LIMIT_VERIFY_EMAIL_PER_HOUR", 10)?,
            password_reset_per_hour: v.or("RATE_LIMIT_PASSWORD_RESET_PER_HOUR", 5)?,
            viewer_per_minute: v.or("RATE_LIMIT_VIEWER_PER_MINUTE", 1200)?,
        })
    }
}
