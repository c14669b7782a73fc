//! The organization's enrichment settings (`enrichmentSettings`, `updateEnrichmentSettings`):
//! one row per organization, absent = defaults (the probe off, no enrichment budget, no validation on write).

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        LazyLock, RwLock,
    },
    time::{Duration, Instant},
};

use async_graphql::MaybeUndefined;
use chrono::Utc;
use entity::enrichment_setting;
use sea_orm::{sea_query::OnConflict, ActiveValue::Set, ConnectionTrait, EntityTrait};
use uuid::Uuid;

use crate::{
    auth::{Permission, Viewer},
    domains::enrichment::types::{EnrichmentSettings, UpdateEnrichmentSettingsInput},
    error::{AppError, AppResult},
    state::AppState,
};

/// Highest monthly enrichment budget, in cents.
pub const MAX_BUDGET_CENTS: i32 = 100_000_000;

fn object(
    state: &AppState,
    row: Option<enrichment_setting::Model>,
    spent: i64,
) -> EnrichmentSettings {
    let cents = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
    EnrichmentSettings {
        smtp_probe: row.as_ref().is_some_and(|r| r.smtp_probe),
        smtp_probe_available: state.config.sources.smtp_probe.is_some(),
        monthly_budget_cents: row.as_ref().and_then(|r| r.monthly_budget_cents).map(cents),
        spent_this_month_cents: cents(spent),
        validate_on_write: row.as_ref().is_some_and(|r| r.validate_on_write),
        updated_at: row.map(|r| r.updated_at),
    }
}

/// The viewer's organization's settings (MEMBER+).
pub async fn get(state: &AppState, viewer: &Viewer) -> AppResult<EnrichmentSettings> {
    viewer.require(Permission::ValidateContacts)?;
    let row = enrichment_setting::Entity::find_by_id(viewer.org_id)
        .one(&state.db)
        .await?;
    let spent = super::budget::spent(&state.db, viewer.org_id).await?;
    Ok(object(state, row, spent))
}

/// Changes the settings (ADMIN+, like the organization's other settings).
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    input: UpdateEnrichmentSettingsInput,
) -> AppResult<EnrichmentSettings> {
    viewer.require(Permission::UpdateOrganization)?;
    let budget = match input.monthly_budget_cents {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) if (0..=MAX_BUDGET_CENTS).contains(&v) => Some(Some(i64::from(v))),
        MaybeUndefined::Value(_) => {
            return Err(AppError::invalid(
                "input.monthlyBudgetCents",
                format!("must be 0–{MAX_BUDGET_CENTS}"),
            ))
        }
    };
    let mut columns = vec![
        enrichment_setting::Column::SmtpProbe,
        enrichment_setting::Column::UpdatedBy,
        enrichment_setting::Column::UpdatedAt,
    ];
    if budget.is_some() {
        columns.push(enrichment_setting::Column::MonthlyBudgetCents);
    }
    if input.validate_on_write.is_some() {
        columns.push(enrichment_setting::Column::ValidateOnWrite);
    }
    let row = enrichment_setting::ActiveModel {
        org_id: Set(viewer.org_id),
        smtp_probe: Set(input.smtp_probe),
        updated_by: Set(Some(viewer.user_id)),
        updated_at: Set(Utc::now()),
        monthly_budget_cents: Set(budget.flatten()),
        validate_on_write: Set(input.validate_on_write.unwrap_or(false)),
    };
    enrichment_setting::Entity::insert(row)
        .on_conflict(
            OnConflict::column(enrichment_setting::Column::OrgId)
                .update_columns(columns)
                .to_owned(),
        )
        .exec_without_returning(&state.db)
        .await?;
    forget_on_write(viewer.org_id);
    get(state, viewer).await
}

/// The probe runs for `org`: the server allows it and the organization opted in.
pub async fn probe_enabled(
    conn: &impl ConnectionTrait,
    state: &AppState,
    org: Uuid,
) -> AppResult<bool> {
    if state.config.sources.smtp_probe.is_none() {
        return Ok(false);
    }
    Ok(enrichment_setting::Entity::find_by_id(org)
        .one(conn)
        .await?
        .is_some_and(|r| r.smtp_probe))
}

/// How long an instance trusts its cached `validateOnWrite` of an organization. The instance
/// that runs `updateEnrichmentSettings` forgets its entry at once; other instances see the
/// change within this bound.
pub const ON_WRITE_CACHE_TTL: Duration = Duration::from_secs(30);

/// Entries kept before expired ones are swept (one bool per organization).
const ON_WRITE_CACHE_SWEEP: usize = 10_000;

/// `validateOnWrite` per organization, as last read, with the read's time.
static ON_WRITE: LazyLock<RwLock<HashMap<Uuid, (bool, Instant)>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// Bumped by every [`forget_on_write`], so a read that raced an update is not cached.
static ON_WRITE_GENERATION: AtomicU64 = AtomicU64::new(0);

/// `org`'s `validateOnWrite` as cached by this instance, if read less than
/// [`ON_WRITE_CACHE_TTL`] ago (no query: the lead-event handler asks this for every lead).
pub fn cached_validates_on_write(org: Uuid) -> Option<bool> {
    let cache = ON_WRITE.read().unwrap_or_else(|e| e.into_inner());
    cache
        .get(&org)
        .filter(|(_, at)| at.elapsed() < ON_WRITE_CACHE_TTL)
        .map(|(on, _)| *on)
}

/// Drops this instance's cached `validateOnWrite` of `org` (after the setting changed).
pub fn forget_on_write(org: Uuid) {
    let mut cache = ON_WRITE.write().unwrap_or_else(|e| e.into_inner());
    ON_WRITE_GENERATION.fetch_add(1, Ordering::SeqCst);
    cache.remove(&org);
}

/// `org` validates leads' emails on write: the cached answer, else one read (in the writer's
/// transaction) that fills the cache, so a batch of created leads costs one read per
/// organization and [`ON_WRITE_CACHE_TTL`], not one per lead.
pub async fn validates_on_write(conn: &impl ConnectionTrait, org: Uuid) -> AppResult<bool> {
    if let Some(on) = cached_validates_on_write(org) {
        return Ok(on);
    }
    let generation = ON_WRITE_GENERATION.load(Ordering::SeqCst);
    let on = enrichment_setting::Entity::find_by_id(org)
        .one(conn)
        .await?
        .is_some_and(|r| r.validate_on_write);
    let mut cache = ON_WRITE.write().unwrap_or_else(|e| e.into_inner());
    // An update since the read began may have changed the setting: answer, but do not cache.
    if ON_WRITE_GENERATION.load(Ordering::SeqCst) == generation {
        if cache.len() >= ON_WRITE_CACHE_SWEEP {
            cache.retain(|_, (_, at)| at.elapsed() < ON_WRITE_CACHE_TTL);
        }
        cache.insert(org, (on, Instant::now()));
    }
    Ok(on)
}
