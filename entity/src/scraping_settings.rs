//! `scraping_settings`: an organization's own API keys for the scraping sources (secrets; never
//! returned by the API, only whether each is set).

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scraping_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: Uuid,
    /// Brave Search API key (SEARCH).
    pub brave_api_key: Option<String>,
    /// Google Places API key (GOOGLE_MAPS).
    pub google_places_api_key: Option<String>,
    /// People-search provider key (SOCIAL).
    pub social_api_key: Option<String>,
    pub updated_by: Option<Uuid>,
    pub updated_at: DateTimeUtc,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |k: &Option<String>| k.as_ref().map(|_| "<redacted>");
        f.debug_struct("scraping_settings::Model")
            .field("org_id", &self.org_id)
            .field("brave_api_key", &set(&self.brave_api_key))
            .field("google_places_api_key", &set(&self.google_places_api_key))
            .field("social_api_key", &set(&self.social_api_key))
            .field("updated_by", &self.updated_by)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
