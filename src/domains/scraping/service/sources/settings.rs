//! Organization-level provider keys for the sources (Brave, Google Places, the SOCIAL people-
//! search provider): `updateScrapingSettings` (ADMIN+) stores them, `scrapingSettings` says only
//! which are set (never a secret). A source uses the organization's key, else the server's env
//! key ([`Keys::load`]).
//!
//! The keys are stored encrypted (AES-256-GCM under `SECRETS_KEY`, bound to the organization and
//! column; `platform::secrets_box`); rows written before that are read as plain text until
//! `leadgraph rotate-secrets` or the next save encrypts them.

use chrono::Utc;
use entity::scraping_settings;
use sea_orm::{
    sea_query::OnConflict, ActiveValue::Set, ConnectionTrait, EntityTrait, TransactionTrait,
};
use uuid::Uuid;

use crate::{
    auth::{Permission, Viewer},
    config::Config,
    domains::scraping::types::{ScrapingSettings, UpdateScrapingSettingsInput},
    error::{AppError, AppResult, FieldError},
    platform::secrets_box::{self, SecretsBox},
    state::AppState,
};

/// The encryption context of one key column of an organization's row.
pub fn key_context(column: &str, org: Uuid) -> String {
    secrets_box::context("scraping_settings", column, org)
}

/// The row with its keys decrypted.
fn open_row(
    row: scraping_settings::Model,
    secrets: &SecretsBox,
) -> Result<scraping_settings::Model, sea_orm::DbErr> {
    let org = row.org_id;
    let open = |column: &str, v: Option<String>| {
        secrets
            .open_opt(v.as_deref(), &key_context(column, org))
            .map_err(|e| {
                sea_orm::DbErr::Custom(format!("scraping_settings.{column} of {org}: {e}"))
            })
    };
    Ok(scraping_settings::Model {
        brave_api_key: open("brave_api_key", row.brave_api_key)?,
        google_places_api_key: open("google_places_api_key", row.google_places_api_key)?,
        social_api_key: open("social_api_key", row.social_api_key)?,
        ..row
    })
}

/// Where a key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// The organization's settings.
    Organization,
    /// The server's environment.
    Server,
}

/// The provider keys a job of one organization uses.
#[derive(Clone, Default)]
pub struct Keys {
    /// Brave Search.
    pub brave: Option<(String, KeyOrigin)>,
    /// Google Places.
    pub places: Option<(String, KeyOrigin)>,
    /// People-search provider.
    pub social: Option<(String, KeyOrigin)>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let origin = |k: &Option<(String, KeyOrigin)>| k.as_ref().map(|(_, o)| *o);
        f.debug_struct("Keys")
            .field("brave", &origin(&self.brave))
            .field("places", &origin(&self.places))
            .field("social", &origin(&self.social))
            .finish()
    }
}

fn pick(org: Option<&String>, env: Option<&String>) -> Option<(String, KeyOrigin)> {
    org.map(|k| (k.clone(), KeyOrigin::Organization))
        .or_else(|| env.map(|k| (k.clone(), KeyOrigin::Server)))
}

impl Keys {
    /// Env keys only.
    pub fn from_config(config: &Config) -> Self {
        Self::merge(None, config)
    }

    fn merge(row: Option<&scraping_settings::Model>, config: &Config) -> Self {
        Keys {
            brave: pick(
                row.and_then(|r| r.brave_api_key.as_ref()),
                config.brave_api_key.as_ref(),
            ),
            places: pick(
                row.and_then(|r| r.google_places_api_key.as_ref()),
                config.google_places_api_key.as_ref(),
            ),
            social: pick(
                row.and_then(|r| r.social_api_key.as_ref()),
                config.sources.social_api_key.as_ref(),
            ),
        }
    }

    /// [`Keys::load`] on a task of its own, for sources: the run's `until_stopped` stops
    /// polling the seed while it ticks, and the tick needs a database connection. A query
    /// paused in the middle would keep SQLite's only pooled connection from the tick until the
    /// pool's acquire timeout; on its own task the query finishes and gives the connection back.
    pub async fn load_detached(state: &AppState, org_id: Option<Uuid>) -> Result<Self, String> {
        let (db, config, secrets) = (
            state.db.clone(),
            state.config.clone(),
            state.secrets.clone(),
        );
        tokio::spawn(async move { Keys::load(&db, org_id, &config, &secrets).await })
            .await
            .map_err(|e| format!("key lookup: {e}"))?
            .map_err(|e| format!("database: {e}"))
    }

    /// The organization's keys (decrypted), each falling back to the env key.
    pub async fn load(
        conn: &impl ConnectionTrait,
        org_id: Option<Uuid>,
        config: &Config,
        secrets: &SecretsBox,
    ) -> Result<Self, sea_orm::DbErr> {
        let row = match org_id {
            Some(id) => scraping_settings::Entity::find_by_id(id).one(conn).await?,
            None => None,
        };
        let row = row.map(|r| open_row(r, secrets)).transpose()?;
        Ok(Self::merge(row.as_ref(), config))
    }
}

fn view(row: Option<&scraping_settings::Model>, config: &Config) -> ScrapingSettings {
    let keys = Keys::merge(row, config);
    ScrapingSettings {
        has_brave_api_key: row.is_some_and(|r| r.brave_api_key.is_some()),
        has_google_places_api_key: row.is_some_and(|r| r.google_places_api_key.is_some()),
        has_social_api_key: row.is_some_and(|r| r.social_api_key.is_some()),
        search_available: keys.brave.is_some(),
        google_maps_available: keys.places.is_some(),
        social_available: keys.social.is_some(),
        updated_at: row.map(|r| r.updated_at),
    }
}

/// The organization's settings.
pub async fn get(state: &AppState, viewer: &Viewer) -> AppResult<ScrapingSettings> {
    viewer.require(Permission::ReadScrapeJobs)?;
    let row = scraping_settings::Entity::find_by_id(viewer.org_id)
        .one(&state.db)
        .await?;
    Ok(view(row.as_ref(), &state.config))
}

/// Checks one key: printable ASCII without spaces, 8–512 characters. Returns the value to store:
/// a new key sealed with `seal`, or `current` (as stored) when unchanged.
fn key_value(
    errors: &mut Vec<FieldError>,
    field: &str,
    v: &async_graphql::MaybeUndefined<String>,
    current: Option<String>,
    seal: impl Fn(&str) -> String,
) -> Option<String> {
    match v {
        async_graphql::MaybeUndefined::Undefined => current,
        async_graphql::MaybeUndefined::Null => None,
        async_graphql::MaybeUndefined::Value(s) => {
            let s = s.trim();
            if s.is_empty() {
                return None;
            }
            if !(8..=512).contains(&s.len()) || !s.chars().all(|c| c.is_ascii_graphic()) {
                errors.push(FieldError {
                    field: field.into(),
                    message: "must be 8–512 printable characters without spaces".into(),
                });
                return current;
            }
            Some(seal(s))
        }
    }
}

/// Stores the organization's keys (ADMIN+).
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    input: &UpdateScrapingSettingsInput,
) -> AppResult<ScrapingSettings> {
    viewer.require(Permission::UpdateOrganization)?;
    let txn = state.db.begin().await?;
    let current = scraping_settings::Entity::find_by_id(viewer.org_id)
        .one(&txn)
        .await?;
    let mut errors = Vec::new();
    let org = viewer.org_id;
    let sealer = |column: &'static str| {
        let secrets = state.secrets.clone();
        move |plain: &str| secrets.seal(plain, &key_context(column, org))
    };
    let brave = key_value(
        &mut errors,
        "input.braveApiKey",
        &input.brave_api_key,
        current.as_ref().and_then(|c| c.brave_api_key.clone()),
        sealer("brave_api_key"),
    );
    let places = key_value(
        &mut errors,
        "input.googlePlacesApiKey",
        &input.google_places_api_key,
        current
            .as_ref()
            .and_then(|c| c.google_places_api_key.clone()),
        sealer("google_places_api_key"),
    );
    let social = key_value(
        &mut errors,
        "input.socialApiKey",
        &input.social_api_key,
        current.as_ref().and_then(|c| c.social_api_key.clone()),
        sealer("social_api_key"),
    );
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    let row = scraping_settings::ActiveModel {
        org_id: Set(viewer.org_id),
        brave_api_key: Set(brave),
        google_places_api_key: Set(places),
        social_api_key: Set(social),
        updated_by: Set(Some(viewer.user_id)),
        updated_at: Set(Utc::now()),
    };
    scraping_settings::Entity::insert(row)
        .on_conflict(
            OnConflict::column(scraping_settings::Column::OrgId)
                .update_columns([
                    scraping_settings::Column::BraveApiKey,
                    scraping_settings::Column::GooglePlacesApiKey,
                    scraping_settings::Column::SocialApiKey,
                    scraping_settings::Column::UpdatedBy,
                    scraping_settings::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    let saved = scraping_settings::Entity::find_by_id(viewer.org_id)
        .one(&txn)
        .await?;
    txn.commit().await?;
    Ok(view(saved.as_ref(), &state.config))
}
