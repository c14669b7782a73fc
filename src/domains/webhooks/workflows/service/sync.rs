//! `syncWorkflows`: pull every workflow from n8n; insert the new ones, update the changed ones,
//! mark the ones n8n no longer has REMOVED — one transaction with a `workflow.changed` per row
//! that changed.

use std::collections::HashMap;

use chrono::Utc;
use entity::workflow;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, TransactionTrait};
use serde_json::Value;
use uuid::Uuid;

use super::{
    client::N8n,
    definition,
    registry::{record_changed, scoped},
};
use crate::{
    auth::{Permission, Viewer},
    domains::webhooks::{
        integrations::n8n_connection,
        workflows::types::{WorkflowStatus, WorkflowSyncResult},
    },
    error::AppResult,
    state::{AppState, Wakes},
};

/// What a remote workflow would store: (name, definition, active, webhook path).
type Fields = (String, Value, bool, Option<String>);

fn fields_of(w: &Value) -> Fields {
    let d = definition::of_remote(w);
    let path = definition::webhook(&d).map(|(p, _)| p);
    (
        w["name"].as_str().unwrap_or("(unnamed)").to_string(),
        d,
        w["active"].as_bool().unwrap_or(false),
        path,
    )
}

fn same(row: &workflow::Model, f: &Fields) -> bool {
    row.status == WorkflowStatus::Synced.as_str()
        && row.name == f.0
        && row.definition == f.1
        && row.active == f.2
        && row.webhook_path == f.3
}

fn set_fields(a: &mut workflow::ActiveModel, f: Fields) {
    let now = Utc::now();
    a.name = Set(f.0);
    a.definition = Set(f.1);
    a.active = Set(f.2);
    a.webhook_path = Set(f.3);
    a.status = Set(WorkflowStatus::Synced.as_str().into());
    a.synced_at = Set(Some(now));
    a.updated_at = Set(now);
}

/// Pulls the organization's workflows from n8n into the registry (ADMIN+).
pub async fn sync(state: &AppState, viewer: &Viewer) -> AppResult<WorkflowSyncResult> {
    viewer.require(Permission::ManageWorkflows)?;
    let client = N8n {
        state,
        conn: n8n_connection(state, viewer).await?,
    };
    let remote: HashMap<String, Fields> = client
        .all()
        .await?
        .iter()
        .filter_map(|w| definition::remote_id(w).map(|id| (id, fields_of(w))))
        .collect();
    let txn = state.db.begin().await?;
    let local = scoped(viewer).all(&txn).await?;
    let mut result = WorkflowSyncResult::default();
    let user = Some(viewer.user_id);
    let mut known = std::collections::HashSet::new();
    for row in local {
        known.insert(row.remote_id.clone());
        let (action, next) = match remote.get(&row.remote_id) {
            Some(f) if same(&row, f) => {
                result.unchanged += 1;
                continue;
            }
            Some(f) => {
                result.updated += 1;
                let mut a: workflow::ActiveModel = row.into();
                set_fields(&mut a, f.clone());
                ("updated", a)
            }
            None if row.status == WorkflowStatus::Removed.as_str() => continue,
            None => {
                result.removed += 1;
                let mut a: workflow::ActiveModel = row.into();
                a.status = Set(WorkflowStatus::Removed.as_str().into());
                a.active = Set(false);
                a.updated_at = Set(Utc::now());
                ("removed", a)
            }
        };
        let saved = next.update(&txn).await?;
        record_changed(&txn, viewer.org_id, user, &saved, action).await?;
    }
    for (remote_id, f) in remote.into_iter().filter(|(id, _)| !known.contains(id)) {
        result.created += 1;
        let mut a = workflow::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(viewer.org_id),
            remote_id: Set(remote_id),
            created_by: Set(None),
            created_at: Set(Utc::now()),
            ..Default::default()
        };
        set_fields(&mut a, f);
        let saved = a.insert(&txn).await?;
        record_changed(&txn, viewer.org_id, user, &saved, "synced").await?;
    }
    state.commit(txn, Wakes::Events).await?;
    Ok(result)
}
