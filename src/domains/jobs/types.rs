//! GraphQL types for jobs.

use async_graphql::{InputObject, Json, SimpleObject, ID};
use chrono::{DateTime, TimeZone, Utc};
use entity::job;

use crate::jobs::JobState;

/// A unit of background work (a scrape, a campaign send, a webhook delivery...).
#[derive(SimpleObject, Debug, Clone)]
pub struct Job {
    /// Job id.
    pub id: ID,
    /// Handler kind, e.g. `scrape.website`.
    pub kind: String,
    /// Lifecycle state.
    pub state: JobState,
    /// Attempts started so far.
    pub attempts: i32,
    /// Attempts allowed before the job fails.
    pub max_attempts: i32,
    /// Latest progress report (handler-specific JSON).
    pub progress: Option<Json<serde_json::Value>>,
    /// Result of a successful run.
    pub result: Option<Json<serde_json::Value>>,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// Earliest time of the next attempt.
    pub run_at: DateTime<Utc>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it reached a final state.
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<job::Model> for Job {
    fn from(m: job::Model) -> Self {
        Job {
            id: ID(m.id.to_string()),
            state: JobState::parse(&m.state).unwrap_or(JobState::Failed),
            kind: m.kind,
            attempts: m.attempts,
            max_attempts: m.max_attempts,
            progress: m.progress.map(Json),
            result: m.result.map(Json),
            last_error: m.last_error,
            run_at: Utc
                .timestamp_millis_opt(m.run_at_ms)
                .single()
                .unwrap_or(m.created_at),
            created_at: m.created_at,
            updated_at: m.updated_at,
            finished_at: m.finished_at,
        }
    }
}

/// Filters for `jobs`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct JobFilter {
    /// Only jobs in any of these states.
    pub states: Option<Vec<JobState>>,
    /// Only jobs of this kind.
    pub kind: Option<String>,
}
