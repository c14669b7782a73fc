//! Recording: resolvers add notes (resource, changes) to the request's [`AuditTrail`]; the
//! [`AuditExtension`] writes one row per top-level mutation field once it has run, with the
//! viewer, IP, user agent, request id and outcome (`success` or the error code). Inputs are never
//! stored (they can hold passwords and tokens).
//!
//! The row is written right after the mutation's own transaction, not inside it: a crash in
//! between loses that audit row (the change itself is logged by tracing with the request id).

use std::sync::{Arc, Mutex};

use async_graphql::{
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextResolve, ResolveInfo,
    },
    Context, Request, ServerResult, Value,
};
use chrono::Utc;
use entity::audit_log;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    auth::{Viewer, ViewerVia},
    graphql::RequestMeta,
    state::AppState,
};

/// What a resolver tells the audit log about its mutation.
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    /// Organization of the change; the viewer's when `None`.
    pub org_id: Option<Uuid>,
    /// Acting user when the request is anonymous (e.g. `login`, `register`).
    pub actor_user_id: Option<Uuid>,
    /// Kind of object (`api_key`, `team`, ...).
    pub resource_type: &'static str,
    /// Its id.
    pub resource_id: String,
    /// `{field: {from, to}}` for updates.
    pub changes: Option<serde_json::Value>,
}

/// Per-request collector of notes.
#[derive(Default, Clone)]
pub struct AuditTrail(Arc<Mutex<Vec<AuditNote>>>);

impl AuditTrail {
    fn take(&self) -> Vec<AuditNote> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// Adds a note for the mutation being resolved.
pub fn note(ctx: &Context<'_>, note: AuditNote) {
    if let Some(trail) = ctx.data_opt::<AuditTrail>() {
        if let Ok(mut v) = trail.0.lock() {
            v.push(note);
        }
    }
}

/// Notes that the mutation being resolved touched `resource_type` `id` (no field changes).
pub fn note_ref(ctx: &Context<'_>, resource_type: &'static str, id: impl ToString) {
    note(
        ctx,
        AuditNote {
            resource_type,
            resource_id: id.to_string(),
            ..Default::default()
        },
    );
}

/// `{field: {from, to}}` for the fields that differ between two serializable snapshots.
pub fn diff(before: &impl Serialize, after: &impl Serialize) -> Option<serde_json::Value> {
    let (Ok(serde_json::Value::Object(b)), Ok(serde_json::Value::Object(a))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return None;
    };
    let mut out = serde_json::Map::new();
    for (k, av) in &a {
        let bv = b.get(k).cloned().unwrap_or(serde_json::Value::Null);
        if &bv != av {
            out.insert(k.clone(), serde_json::json!({"from": bv, "to": av}));
        }
    }
    (!out.is_empty()).then_some(serde_json::Value::Object(out))
}

/// Schema extension writing audit rows.
pub struct AuditExtension;

impl ExtensionFactory for AuditExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AuditExt)
    }
}

struct AuditExt;

#[async_trait::async_trait]
impl Extension for AuditExt {
    /// Every request gets its own trail (the spine's `prepare_request` names no domain).
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        next.run(ctx, request.data(AuditTrail::default())).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.parent_type != "Mutation" {
            return next.run(ctx, info).await;
        }
        let action = info.name.to_string();
        let result = next.run(ctx, info).await;
        let outcome = match &result {
            Ok(_) => "success".to_string(),
            Err(e) => e
                .extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .and_then(|c| match c {
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| "ERROR".into()),
        };
        let notes = ctx
            .data_opt::<AuditTrail>()
            .map(|t| t.take())
            .unwrap_or_default();
        if let Some(state) = ctx.data_opt::<AppState>() {
            write(
                state,
                ctx.data_opt::<Viewer>(),
                ctx.data_opt::<RequestMeta>(),
                &action,
                &outcome,
                notes,
            )
            .await;
        }
        result
    }
}

async fn write(
    state: &AppState,
    viewer: Option<&Viewer>,
    meta: Option<&RequestMeta>,
    action: &str,
    outcome: &str,
    notes: Vec<AuditNote>,
) {
    // A mutation without notes is still recorded for an authenticated viewer.
    let notes = if notes.is_empty() && viewer.is_some() {
        vec![AuditNote::default()]
    } else {
        notes
    };
    for n in notes {
        let Some(org_id) = n.org_id.or(viewer.map(|v| v.org_id)) else {
            continue;
        };
        let (user, key) = match viewer {
            Some(v) if v.via == ViewerVia::ApiKey => (Some(v.user_id), v.session_id),
            Some(v) => (Some(v.user_id), None),
            None => (n.actor_user_id, None),
        };
        let clip = |s: &Option<String>, n: usize| {
            s.as_ref().map(|v| v.chars().take(n).collect::<String>())
        };
        let row = audit_log::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org_id),
            actor_user_id: Set(user),
            actor_api_key_id: Set(key),
            action: Set(action.to_string()),
            resource_type: Set((!n.resource_type.is_empty()).then(|| n.resource_type.to_string())),
            resource_id: Set((!n.resource_id.is_empty()).then(|| n.resource_id.clone())),
            outcome: Set(outcome.chars().take(32).collect()),
            ip: Set(clip(&meta.and_then(|m| m.ip.clone()), 128)),
            user_agent: Set(clip(&meta.and_then(|m| m.user_agent.clone()), 512)),
            request_id: Set(clip(&meta.map(|m| m.request_id.clone()), 64)),
            changes: Set(n.changes),
            created_at: Set(Utc::now()),
        };
        if let Err(e) = row.insert(&state.db).await {
            tracing::error!(error = %e, action, "writing the audit log failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn diff_lists_changed_fields_only() {
        let d = super::diff(&json!({"a": 1, "b": "x"}), &json!({"a": 2, "b": "x"})).unwrap();
        assert_eq!(d, json!({"a": {"from": 1, "to": 2}}));
        assert!(super::diff(&json!({"a": 1}), &json!({"a": 1})).is_none());
    }
}
