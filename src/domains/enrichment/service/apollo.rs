//! Apollo People Enrichment: `POST /api/v1/people/match` with the look-up as query parameters
//! (`first_name`, `last_name`, `email`, `domain`, `organization_name`), the key in the
//! `x-api-key` header. The answer is `{"person": {"id", "email", "title", "phone_numbers":
//! [{"sanitized_number"}], "organization": {"name", "primary_domain", "website_url", "industry"}}}`;
//! `person` is null when nobody matched.

use async_trait::async_trait;

use super::provider::{send_json, with_query, CallError, EnrichmentProvider, Found, Subject};
use crate::{
    domains::enrichment::types::{EnrichmentField, EnrichmentProviderKind},
    platform::outbound::OutboundClient,
};

/// The Apollo client.
pub struct Apollo {
    /// `APOLLO_BASE_URL`.
    pub base_url: String,
}

#[async_trait]
impl EnrichmentProvider for Apollo {
    fn kind(&self) -> EnrichmentProviderKind {
        EnrichmentProviderKind::Apollo
    }

    fn supports(&self, _field: EnrichmentField) -> bool {
        true
    }

    fn can_look_up(&self, s: &Subject) -> bool {
        s.email.is_some()
            || (s.first_name.is_some()
                && s.last_name.is_some()
                && (s.domain.is_some() || s.company.is_some()))
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
        let mut query: Vec<(&str, &str)> = Vec::new();
        let pairs = [
            ("first_name", &s.first_name),
            ("last_name", &s.last_name),
            ("email", &s.email),
            ("domain", &s.domain),
            ("organization_name", &s.company),
        ];
        for (k, v) in &pairs {
            if let Some(v) = v {
                query.push((k, v));
            }
        }
        let url = format!("{}/api/v1/people/match", self.base_url);
        let builder = http
            .request(reqwest::Method::POST, &with_query(&url, &query)?)
            .map_err(|e| CallError::Failed(format!("apollo: {e}")))?
            .header("x-api-key", key)
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body("{}");
        let body = send_json(http, "apollo", builder).await?;
        let p = &body["person"];
        let mut found = Found {
            reference: format!("person {}", p["id"].as_str().unwrap_or("none")),
            ..Found::default()
        };
        if p.is_null() {
            return Ok(found);
        }
        let org = &p["organization"];
        found.put(EnrichmentField::Email, p["email"].as_str(), None);
        found.put(EnrichmentField::Title, p["title"].as_str(), None);
        let phone = p["phone_numbers"][0]["sanitized_number"].as_str();
        found.put(EnrichmentField::Phone, phone, None);
        found.put(EnrichmentField::Company, org["name"].as_str(), None);
        let site = org["website_url"]
            .as_str()
            .or(org["primary_domain"].as_str());
        found.put(EnrichmentField::Website, site, None);
        found.put(EnrichmentField::Industry, org["industry"].as_str(), None);
        Ok(found)
    }
}
