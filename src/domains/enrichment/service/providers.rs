//! The organization's providers (`enrichmentProviders`, `configureEnrichmentProvider`,
//! `removeEnrichmentProvider`): one row per provider with its API key sealed under
//! `SECRETS_KEY` (context `enrichment_providers.api_key` of the row id), its place in the
//! waterfall and its cost per call. No query returns a key: the GraphQL object only says
//! whether one is stored. The `LOCAL` provider (no network) is configured without a key.

use chrono::Utc;
use entity::enrichment_provider;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

use super::provider::{client, EnrichmentProvider};
use crate::{
    auth::{Permission, Viewer},
    domains::enrichment::types::{
        ConfigureEnrichmentProviderInput, EnrichmentProviderConfig, EnrichmentProviderKind,
    },
    error::{AppError, AppResult, FieldError},
    platform::secrets_box,
    state::AppState,
};

/// Longest API key accepted.
pub const MAX_KEY_LEN: usize = 500;
/// Highest cost per call, in cents.
pub const MAX_COST_CENTS: i32 = 100_000;

/// The encryption context of a provider row's key.
pub fn key_context(id: Uuid) -> String {
    secrets_box::context("enrichment_providers", "api_key", id)
}

/// A provider ready for the waterfall: its client, opened key and cost.
pub struct Ready {
    /// The client.
    pub client: Box<dyn EnrichmentProvider>,
    /// The opened API key (never leaves the process but in the provider's header).
    pub key: String,
    /// Cost per call in cents.
    pub cost_cents: i64,
}

/// The organization's enabled providers in waterfall order, keys opened. A key that cannot be
/// opened leaves its provider out (logged).
pub async fn ready(
    conn: &impl ConnectionTrait,
    state: &AppState,
    org: Uuid,
) -> AppResult<Vec<Ready>> {
    let rows = enrichment_provider::Entity::find()
        .filter(enrichment_provider::Column::OrgId.eq(org))
        .filter(enrichment_provider::Column::Enabled.eq(true))
        .order_by_asc(enrichment_provider::Column::Position)
        .order_by_asc(enrichment_provider::Column::Provider)
        .all(conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(kind) = EnrichmentProviderKind::parse(&r.provider) else {
            continue;
        };
        if kind == EnrichmentProviderKind::Local {
            // No network, no key: whatever was stored is not opened.
            out.push(Ready {
                client: client(state, kind),
                key: String::new(),
                cost_cents: r.cost_cents,
            });
            continue;
        }
        match state.secrets.open(&r.api_key, &key_context(r.id)) {
            Ok(key) if !key.is_empty() => out.push(Ready {
                client: client(state, kind),
                key,
                cost_cents: r.cost_cents,
            }),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(provider = %r.provider, error = %e, "enrichment key unreadable")
            }
        }
    }
    Ok(out)
}

/// The organization's providers in waterfall order (MEMBER+), without keys.
pub async fn list(state: &AppState, viewer: &Viewer) -> AppResult<Vec<EnrichmentProviderConfig>> {
    viewer.require(Permission::EnrichLeads)?;
    let rows = enrichment_provider::Entity::find()
        .filter(enrichment_provider::Column::OrgId.eq(viewer.org_id))
        .order_by_asc(enrichment_provider::Column::Position)
        .order_by_asc(enrichment_provider::Column::Provider)
        .all(&state.db)
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

fn check(input: &ConfigureEnrichmentProviderInput, first: bool) -> AppResult<Option<String>> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: &str| {
        errors.push(FieldError {
            field: format!("input.{field}"),
            message: message.into(),
        })
    };
    let key = input.api_key.as_deref().map(str::trim);
    match key {
        Some("") => fail("apiKey", "must not be blank"),
        Some(k) if k.chars().count() > MAX_KEY_LEN => fail(
            "apiKey",
            &format!("must be at most {MAX_KEY_LEN} characters"),
        ),
        None if first && input.provider != EnrichmentProviderKind::Local => fail(
            "apiKey",
            "is required the first time a provider is configured",
        ),
        _ => {}
    }
    if !(0..=100).contains(&input.position) {
        fail("position", "must be 0–100");
    }
    if !(0..=MAX_COST_CENTS).contains(&input.cost_cents) {
        fail("costCents", &format!("must be 0–{MAX_COST_CENTS}"));
    }
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    Ok(key.map(str::to_string))
}

/// Adds or changes a provider (ADMIN+); the key is sealed before it is stored.
pub async fn configure(
    state: &AppState,
    viewer: &Viewer,
    input: ConfigureEnrichmentProviderInput,
) -> AppResult<EnrichmentProviderConfig> {
    viewer.require(Permission::UpdateOrganization)?;
    let current = enrichment_provider::Entity::find()
        .filter(enrichment_provider::Column::OrgId.eq(viewer.org_id))
        .filter(enrichment_provider::Column::Provider.eq(input.provider.as_str()))
        .one(&state.db)
        .await?;
    let key = check(&input, current.is_none())?;
    let now = Utc::now();
    let saved = match current {
        Some(row) => {
            let id = row.id;
            let mut a: enrichment_provider::ActiveModel = row.into();
            if let Some(k) = key {
                a.api_key = Set(state.secrets.seal(&k, &key_context(id)));
            }
            a.position = Set(input.position);
            a.cost_cents = Set(i64::from(input.cost_cents));
            if let Some(e) = input.enabled {
                a.enabled = Set(e);
            }
            a.updated_by = Set(Some(viewer.user_id));
            a.updated_at = Set(now);
            a.update(&state.db).await?
        }
        None => {
            let id = Uuid::now_v7();
            // No key (the local provider's case) is stored as nothing: `keyConfigured` false.
            let sealed = key
                .map(|k| state.secrets.seal(&k, &key_context(id)))
                .unwrap_or_default();
            enrichment_provider::ActiveModel {
                id: Set(id),
                org_id: Set(viewer.org_id),
                provider: Set(input.provider.as_str().into()),
                api_key: Set(sealed),
                position: Set(input.position),
                cost_cents: Set(i64::from(input.cost_cents)),
                enabled: Set(input.enabled.unwrap_or(true)),
                updated_by: Set(Some(viewer.user_id)),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&state.db)
            .await?
        }
    };
    Ok(saved.into())
}

/// Removes a provider and its key (ADMIN+); false when it was not configured.
pub async fn remove(
    state: &AppState,
    viewer: &Viewer,
    provider: EnrichmentProviderKind,
) -> AppResult<bool> {
    viewer.require(Permission::UpdateOrganization)?;
    let done = enrichment_provider::Entity::delete_many()
        .filter(enrichment_provider::Column::OrgId.eq(viewer.org_id))
        .filter(enrichment_provider::Column::Provider.eq(provider.as_str()))
        .exec(&state.db)
        .await?;
    Ok(done.rows_affected > 0)
}
