//! GraphQL types of the organization's source settings (provider keys).

use async_graphql::{InputObject, SimpleObject};
use chrono::{DateTime, Utc};

/// Which provider keys are configured for the organization (never the keys themselves).
#[derive(SimpleObject, Debug, Clone)]
pub struct ScrapingSettings {
    /// The organization has its own Brave Search API key (SEARCH).
    pub has_brave_api_key: bool,
    /// The organization has its own Google Places API key (GOOGLE_MAPS).
    pub has_google_places_api_key: bool,
    /// The organization has its own people-search provider key (SOCIAL).
    pub has_social_api_key: bool,
    /// SEARCH jobs can run (the organization's key or the server's).
    pub search_available: bool,
    /// GOOGLE_MAPS jobs can run (the organization's key or the server's).
    pub google_maps_available: bool,
    /// SOCIAL jobs can run (the organization's key or the server's).
    pub social_available: bool,
    /// Last change of the organization's keys.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Input of `updateScrapingSettings`. For each key: omitted = unchanged, `null` or `""` =
/// removed (the server's key is used again), a value = replaced.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateScrapingSettingsInput {
    /// Brave Search API key (`X-Subscription-Token`).
    pub brave_api_key: async_graphql::MaybeUndefined<String>,
    /// Google Places API (New) key (`X-Goog-Api-Key`).
    pub google_places_api_key: async_graphql::MaybeUndefined<String>,
    /// People-search provider key (`Authorization: Bearer`).
    pub social_api_key: async_graphql::MaybeUndefined<String>,
}
