//! Hunter API v2 email finder: `GET /v2/email-finder?domain=…&first_name=…&last_name=…` (or
//! `company=…` without a domain), the key in the `X-API-KEY` header. The answer is
//! `{"data": {"email", "score", "position", "phone_number", "company", "domain", …}, "meta": …}`;
//! `data.email` is null when Hunter found no address.

use async_trait::async_trait;

use super::provider::{send_json, with_query, CallError, EnrichmentProvider, Found, Subject};
use crate::{
    domains::enrichment::types::{EnrichmentField, EnrichmentProviderKind},
    platform::outbound::OutboundClient,
};

/// The Hunter client.
pub struct Hunter {
    /// `HUNTER_BASE_URL`.
    pub base_url: String,
}

#[async_trait]
impl EnrichmentProvider for Hunter {
    fn kind(&self) -> EnrichmentProviderKind {
        EnrichmentProviderKind::Hunter
    }

    fn supports(&self, field: EnrichmentField) -> bool {
        matches!(
            field,
            EnrichmentField::Email
                | EnrichmentField::Title
                | EnrichmentField::Phone
                | EnrichmentField::Company
        )
    }

    fn can_look_up(&self, s: &Subject) -> bool {
        s.first_name.is_some()
            && s.last_name.is_some()
            && (s.domain.is_some() || s.company.is_some())
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
        match (&s.domain, &s.company) {
            (Some(d), _) => query.push(("domain", d)),
            (None, Some(c)) => query.push(("company", c)),
            (None, None) => return Err(CallError::Failed("hunter: no domain or company".into())),
        }
        if let (Some(f), Some(l)) = (&s.first_name, &s.last_name) {
            query.push(("first_name", f));
            query.push(("last_name", l));
        }
        let url = format!("{}/v2/email-finder", self.base_url);
        let builder = http
            .request(reqwest::Method::GET, &with_query(&url, &query)?)
            .map_err(|e| CallError::Failed(format!("hunter: {e}")))?
            .header("X-API-KEY", key)
            .header(http::header::ACCEPT, "application/json");
        let body = send_json(http, "hunter", builder).await?;
        let d = &body["data"];
        let score = d["score"].as_i64().and_then(|v| i32::try_from(v).ok());
        let mut found = Found {
            reference: format!("email-finder {}", d["domain"].as_str().unwrap_or_default()),
            ..Found::default()
        };
        found.put(EnrichmentField::Email, d["email"].as_str(), score);
        found.put(EnrichmentField::Title, d["position"].as_str(), None);
        found.put(EnrichmentField::Phone, d["phone_number"].as_str(), None);
        found.put(EnrichmentField::Company, d["company"].as_str(), None);
        Ok(found)
    }
}
