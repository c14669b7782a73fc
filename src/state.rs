//! Application state shared by every request, connection and worker (cheap to clone).

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::{
    auth::{passwords::Passwords, sessions::SessionChecks, tokens::TokenKeys},
    config::Config,
    db::StatementLog,
    events::EventBus,
    platform::{
        cache::Cache, mailer::Mailer, outbound::OutboundClient, ratelimit::RateLimiter,
        secrets_box::SecretsBox,
    },
};

/// Everything a handler may need.
#[derive(Clone)]
pub struct AppState {
    /// Configuration.
    pub config: Arc<Config>,
    /// Database pool.
    pub db: DatabaseConnection,
    /// Executed SQL, when `RECORD_SQL` is on.
    pub sql_log: StatementLog,
    /// Event bus (memory or Redis).
    pub bus: Arc<dyn EventBus>,
    /// Outgoing mail.
    pub mailer: Mailer,
    /// SSRF-guarded client for user-supplied URLs.
    pub http: OutboundClient,
    /// The same guard, except that the endpoints the operator configured (`OPENAI_BASE_URL`,
    /// the scraping APIs' base URLs) are trusted even on private addresses. Only for calls to
    /// those endpoints, never for a URL a user supplied.
    pub operator_http: OutboundClient,
    /// Rate limiter (memory or Redis).
    pub limiter: Arc<dyn RateLimiter>,
    /// Response cache for external APIs (memory or Redis).
    pub cache: Arc<dyn Cache>,
    /// Password hashing (bounded blocking pool).
    pub passwords: Passwords,
    /// Encrypts and decrypts the secrets stored in the database (`SECRETS_KEY`).
    pub secrets: Arc<SecretsBox>,
    /// Access-token keys.
    pub tokens: Arc<TokenKeys>,
    /// Live-session and API-key checks, cached briefly (`auth::sessions`).
    pub sessions: Arc<SessionChecks>,
    /// Wakes the outbox relay after a commit.
    pub outbox_notify: Arc<Notify>,
    /// Wakes idle job runners after an enqueue.
    pub job_notify: Arc<Notify>,
    /// Compiled read plans of recent requests (`graphql::compiled`).
    pub plans: Arc<crate::graphql::compiled::PlanCache>,
    /// Object storage for files (`platform::storage`: local directory or S3-compatible).
    pub storage: crate::platform::storage::Storage,
}

/// What a committed unit of work made work for: whom [`AppState::commit`] wakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wakes {
    /// It recorded events: the outbox relay publishes them now, not at its next poll.
    Events,
    /// It enqueued jobs (and maybe recorded events): idle job runners and the relay.
    Jobs,
}

impl AppState {
    /// Commits `txn` and then wakes whom it made work for: one unit of work, so no change is
    /// committed without its wake-up or woken before its commit.
    pub async fn commit(
        &self,
        txn: sea_orm::DatabaseTransaction,
        wakes: Wakes,
    ) -> Result<(), sea_orm::DbErr> {
        txn.commit().await?;
        match wakes {
            Wakes::Events => self.events_committed(),
            Wakes::Jobs => self.jobs_enqueued(),
        }
        Ok(())
    }

    /// Call after committing a transaction that recorded events: the relay publishes them now
    /// instead of at its next poll.
    pub fn events_committed(&self) {
        self.outbox_notify.notify_one();
    }

    /// Call after committing a transaction that enqueued jobs.
    pub fn jobs_enqueued(&self) {
        self.job_notify.notify_one();
        self.outbox_notify.notify_one();
    }
}
