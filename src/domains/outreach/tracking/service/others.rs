//! Other senders' tracked mail: a domain above outreach that sends through the delivery path
//! with its own message rows (a sequence step: `delivery::send_single` signs the tokens for the
//! id it is given) implements [`TrackedMessages`] and registers it at start-up, so the same
//! signed pixel, click and unsubscribe endpoints work for its mail without outreach naming it.
//! [`super::record::record`] asks the registered senders when a token names no campaign
//! recipient; a token nobody knows stays a 404.
//!
//! Registration is process-wide (tests build many applications in one process) and idempotent
//! by name.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use uuid::Uuid;

use super::record::Activity;
use crate::{error::AppResult, state::AppState};

/// A domain that keeps the rows of mail it sent through outreach's delivery path.
#[async_trait]
pub trait TrackedMessages: Send + Sync + 'static {
    /// The organization of sent message `id`, when it is one of this sender's.
    async fn org_of(&self, state: &AppState, id: Uuid) -> AppResult<Option<Uuid>>;
    /// Applies `activity` to sent message `id` (an open, a click, an unsubscribe: suppress the
    /// address as outreach does); false when the id is not one of this sender's sent messages.
    async fn record(&self, state: &AppState, id: Uuid, activity: &Activity) -> AppResult<bool>;
}

type Registered = (&'static str, Arc<dyn TrackedMessages>);

static SENDERS: RwLock<Vec<Registered>> = RwLock::new(Vec::new());

/// Registers `sender` under `name`; a second registration of a name is ignored.
pub fn register_tracked_messages(name: &'static str, sender: impl TrackedMessages) {
    let mut senders = SENDERS.write().unwrap_or_else(|e| e.into_inner());
    if senders.iter().all(|(n, _)| *n != name) {
        senders.push((name, Arc::new(sender)));
    }
}

fn senders() -> Vec<Arc<dyn TrackedMessages>> {
    let senders = SENDERS.read().unwrap_or_else(|e| e.into_inner());
    senders.iter().map(|(_, s)| s.clone()).collect()
}

/// The organization of another sender's message `id`, if one knows it.
pub async fn org_of(state: &AppState, id: Uuid) -> AppResult<Option<Uuid>> {
    for s in senders() {
        if let Some(org) = s.org_of(state, id).await? {
            return Ok(Some(org));
        }
    }
    Ok(None)
}

/// Applies `activity` to another sender's message `id`; false when no sender knows it.
pub async fn record(state: &AppState, id: Uuid, activity: &Activity) -> AppResult<bool> {
    for s in senders() {
        if s.record(state, id, activity).await? {
            return Ok(true);
        }
    }
    Ok(false)
}
