//! Phone look-ups. [`Numverify`]: `GET /validate?access_key=<key>&number=<digits>` at
//! `NUMVERIFY_BASE_URL` (the key travels in the query, as the API documents it, so no error
//! text made here carries the URL). The answer is `{"valid", "number", "local_format",
//! "international_format", "country_prefix", "country_code", "country_name", "location",
//! "carrier", "line_type"}`; an API error is HTTP 200 with `{"success": false, "error": {"code",
//! "type", "info"}}` (106 `rate_limit_reached` is treated like a 429). It fills the lead's phone
//! type (its `line_type` mapped onto `Lead.phoneType`'s words), carrier and country.
//!
//! [`LocalPhone`] (`LOCAL`): no network, no key, the numbering plan's answer (`phonenumber`)
//! for the line type and country; no carrier.

use async_trait::async_trait;

use super::provider::{send_json, with_query, CallError, EnrichmentProvider, Found, Subject};
use crate::{
    domains::enrichment::types::{EnrichmentField, EnrichmentProviderKind},
    platform::{contact::phone_details, outbound::OutboundClient},
};

/// The Numverify client.
pub struct Numverify {
    /// `NUMVERIFY_BASE_URL`.
    pub base_url: String,
}

/// `Lead.phoneType`'s word for Numverify's `line_type` (`None` when it gave none).
pub fn line_type(v: &str) -> Option<&'static str> {
    Some(match v.trim().to_ascii_lowercase().as_str() {
        "" => return None,
        "mobile" => "MOBILE",
        "landline" => "FIXED_LINE",
        "voip" => "VOIP",
        "toll_free" => "TOLL_FREE",
        "premium_rate" => "PREMIUM_RATE",
        "satellite" => "SATELLITE",
        "paging" => "PAGING",
        "special_services" => "SPECIAL_SERVICES",
        _ => "OTHER",
    })
}

fn phone_fields(field: EnrichmentField) -> bool {
    matches!(
        field,
        EnrichmentField::PhoneType | EnrichmentField::PhoneCarrier | EnrichmentField::PhoneCountry
    )
}

/// An API error in Numverify's 200 envelope, as a call error (code and type only: the `info`
/// text is the provider's and stays out of the history).
fn api_error(body: &serde_json::Value) -> Option<CallError> {
    if body["success"].as_bool() != Some(false) {
        return None;
    }
    let e = &body["error"];
    let code = e["code"].as_i64().unwrap_or_default();
    let kind = e["type"].as_str().unwrap_or("unknown").chars().take(60);
    let kind: String = kind.collect();
    Some(match code {
        106 => CallError::RateLimited(None),
        101 => CallError::Failed(format!("numverify refused the API key ({code} {kind})")),
        _ => CallError::Failed(format!("numverify error {code} {kind}")),
    })
}

#[async_trait]
impl EnrichmentProvider for Numverify {
    fn kind(&self) -> EnrichmentProviderKind {
        EnrichmentProviderKind::Numverify
    }

    fn supports(&self, field: EnrichmentField) -> bool {
        phone_fields(field)
    }

    fn can_look_up(&self, s: &Subject) -> bool {
        s.phone.is_some()
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
        let Some(phone) = s.phone.as_deref() else {
            return Ok(Found::default());
        };
        // The lead's phone is E.164; the API takes its digits.
        let number: String = phone.chars().filter(char::is_ascii_digit).collect();
        let url = format!("{}/validate", self.base_url);
        let url = with_query(&url, &[("access_key", key), ("number", &number)])?;
        let builder = http
            .request(reqwest::Method::GET, &url)
            .map_err(|_| CallError::Failed("numverify: the base URL is not usable".into()))?
            .header(http::header::ACCEPT, "application/json");
        let body = send_json(http, "numverify", builder).await?;
        if let Some(e) = api_error(&body) {
            return Err(e);
        }
        let mut found = Found {
            reference: format!("validate +{number}"),
            ..Found::default()
        };
        if body["valid"].as_bool() != Some(true) {
            return Ok(found);
        }
        let kind = body["line_type"].as_str().and_then(line_type);
        found.put(EnrichmentField::PhoneType, kind, None);
        found.put(
            EnrichmentField::PhoneCarrier,
            body["carrier"].as_str(),
            None,
        );
        found.put(
            EnrichmentField::PhoneCountry,
            body["country_code"].as_str(),
            None,
        );
        Ok(found)
    }
}

/// The local phone provider: the numbering plan, no network, no key.
pub struct LocalPhone;

#[async_trait]
impl EnrichmentProvider for LocalPhone {
    fn kind(&self) -> EnrichmentProviderKind {
        EnrichmentProviderKind::Local
    }

    fn supports(&self, field: EnrichmentField) -> bool {
        matches!(
            field,
            EnrichmentField::PhoneType | EnrichmentField::PhoneCountry
        )
    }

    fn can_look_up(&self, s: &Subject) -> bool {
        s.phone.is_some()
    }

    fn base_url(&self) -> &str {
        "local"
    }

    async fn look_up(
        &self,
        _http: &OutboundClient,
        _key: &str,
        s: &Subject,
    ) -> Result<Found, CallError> {
        let Some(phone) = s.phone.as_deref() else {
            return Ok(Found::default());
        };
        let mut found = Found {
            reference: "numbering plan".into(),
            ..Found::default()
        };
        if let Some(d) = phone_details(phone, s.country.as_deref()) {
            found.put(EnrichmentField::PhoneType, Some(d.kind), None);
            found.put(EnrichmentField::PhoneCountry, d.region.as_deref(), None);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_types_map_onto_the_leads_words() {
        assert_eq!(line_type("mobile"), Some("MOBILE"));
        assert_eq!(line_type("landline"), Some("FIXED_LINE"));
        assert_eq!(line_type("toll_free"), Some("TOLL_FREE"));
        assert_eq!(line_type("something_new"), Some("OTHER"));
        assert_eq!(line_type(""), None);
    }

    #[test]
    fn the_error_envelope_is_an_error_and_106_a_rate_limit() {
        let e = serde_json::json!({"success": false, "error": {"code": 106, "type": "rate_limit_reached", "info": "x"}});
        assert_eq!(api_error(&e), Some(CallError::RateLimited(None)));
        let e = serde_json::json!({"success": false, "error": {"code": 101, "type": "invalid_access_key", "info": "x"}});
        assert!(matches!(api_error(&e), Some(CallError::Failed(m)) if m.contains("101")));
        assert_eq!(api_error(&serde_json::json!({"valid": false})), None);
    }
}
