//! Apollo Organization Enrichment: `GET /api/v1/organizations/enrich?domain=<domain>` (the
//! domain without scheme or `www.`), the key in the `x-api-key` header, at `APOLLO_BASE_URL`.
//! The answer is `{"organization": {"id", "name", "website_url", "primary_domain", "industry",
//! "estimated_num_employees", "city", "state", "country", "logo_url", "linkedin_url", …}}`;
//! `organization` is absent or empty when the domain is unknown. It fills the lead's company,
//! website and industry; the look-up needs the lead's domain (its website, else a company
//! email's domain).

use async_trait::async_trait;

use super::provider::{send_json, with_query, CallError, EnrichmentProvider, Found, Subject};
use crate::{
    domains::enrichment::types::{EnrichmentField, EnrichmentProviderKind},
    platform::outbound::OutboundClient,
};

/// The Apollo organization-enrichment client.
pub struct ApolloCompany {
    /// `APOLLO_BASE_URL`.
    pub base_url: String,
}

#[async_trait]
impl EnrichmentProvider for ApolloCompany {
    fn kind(&self) -> EnrichmentProviderKind {
        EnrichmentProviderKind::ApolloCompany
    }

    fn supports(&self, field: EnrichmentField) -> bool {
        matches!(
            field,
            EnrichmentField::Company | EnrichmentField::Website | EnrichmentField::Industry
        )
    }

    fn can_look_up(&self, s: &Subject) -> bool {
        s.domain.is_some()
    }

    fn base_url(&self) -> &str {
        &self.base_url
    }

    async fn look_up(
        &self,
        http: &OutboundClient,
        key: &str,
        s: &Subject,
    ) -> Result<Found, CallError> {
        let Some(domain) = s.domain.as_deref() else {
            return Ok(Found::default());
        };
        let url = format!("{}/api/v1/organizations/enrich", self.base_url);
        let builder = http
            .request(
                reqwest::Method::GET,
                &with_query(&url, &[("domain", domain)])?,
            )
            .map_err(|e| CallError::Failed(format!("apollo organization: {e}")))?
            .header("x-api-key", key)
            .header(http::header::ACCEPT, "application/json");
        let body = send_json(http, "apollo organization", builder).await?;
        let o = &body["organization"];
        let mut found = Found {
            reference: format!("organization {}", o["id"].as_str().unwrap_or("none")),
            ..Found::default()
        };
        if !o.is_object() {
            return Ok(found);
        }
        found.put(EnrichmentField::Company, o["name"].as_str(), None);
        let site = o["website_url"].as_str().or(o["primary_domain"].as_str());
        found.put(EnrichmentField::Website, site, None);
        found.put(EnrichmentField::Industry, o["industry"].as_str(), None);
        Ok(found)
    }
}
