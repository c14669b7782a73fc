//! The provider contract ([`EnrichmentProvider`]) and what the waterfall hands it and gets back.
//! Real clients: [`super::hunter::Hunter`], [`super::apollo::Apollo`],
//! [`super::apollo_org::ApolloCompany`], [`super::numverify::Numverify`]; all speak their
//! documented wire formats over `state.operator_http` (base URLs `HUNTER_BASE_URL`,
//! `APOLLO_BASE_URL`, `NUMVERIFY_BASE_URL`). [`super::numverify::LocalPhone`] answers from the
//! numbering plan without a network or a key.

use std::{collections::BTreeMap, time::Duration};

use async_trait::async_trait;
use entity::lead;

use super::{
    apollo::Apollo,
    apollo_org::ApolloCompany,
    hunter::Hunter,
    numverify::{LocalPhone, Numverify},
};
use crate::{
    domains::enrichment::types::{EnrichmentField, EnrichmentProviderKind},
    platform::{
        contact::normalise_email,
        outbound::{OutboundClient, OutboundError, OutboundResponse},
    },
    state::AppState,
};

/// What the waterfall knows about a lead, as the providers' look-ups take it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subject {
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Email already known.
    pub email: Option<String>,
    /// Company name.
    pub company: Option<String>,
    /// The company's domain (from the website, else a non-free email's domain).
    pub domain: Option<String>,
    /// The lead's phone (E.164).
    pub phone: Option<String>,
    /// The lead's country (ISO 3166-1 alpha-2).
    pub country: Option<String>,
}

impl Subject {
    /// The look-up subject of `l`.
    pub fn of(l: &lead::Model) -> Subject {
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let from_site = l
            .website
            .as_deref()
            .and_then(|w| url::Url::parse(w).ok())
            .and_then(|u| {
                u.host_str()
                    .map(|h| h.trim_start_matches("www.").to_string())
            });
        let from_email = l
            .email
            .as_deref()
            .and_then(|e| normalise_email(e).ok())
            .map(|n| n.domain);
        Subject {
            first_name: text(&l.first_name),
            last_name: text(&l.last_name),
            email: text(&l.email),
            company: Some(l.company.trim().to_string()).filter(|c| !c.is_empty()),
            domain: from_site.or(from_email),
            phone: text(&l.phone),
            country: text(&l.country),
        }
    }
}

/// A provider's answer: a value (and its confidence 0–100) per field it knows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// Values by field.
    pub values: BTreeMap<EnrichmentField, (String, Option<i32>)>,
    /// The provider's reference for the answer (a person id, the endpoint).
    pub reference: String,
}

impl Found {
    /// Adds `value` for `field` when it is a non-blank string.
    pub fn put(&mut self, field: EnrichmentField, value: Option<&str>, confidence: Option<i32>) {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            self.values.insert(field, (v.to_string(), confidence));
        }
    }
}

/// Why a call gave nothing usable.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// HTTP 429; `Retry-After` when the provider sent one.
    RateLimited(Option<Duration>),
    /// The provider is down: a 5xx, a timeout or another transport error. Counts towards its
    /// circuit breaker ([`super::breaker`]); the next provider is tried.
    Unavailable(String),
    /// Anything else (refused key, unreadable answer): the next provider is tried.
    Failed(String),
}

/// An enrichment provider with a real HTTP API.
#[async_trait]
pub trait EnrichmentProvider: Send + Sync {
    /// Which one.
    fn kind(&self) -> EnrichmentProviderKind;
    /// It can return `field`.
    fn supports(&self, field: EnrichmentField) -> bool;
    /// It can look `s` up at all (Hunter's finder needs a name and a domain or company).
    fn can_look_up(&self, s: &Subject) -> bool;
    /// The base URL it calls (with the kind, its circuit breaker's key).
    fn base_url(&self) -> &str;
    /// One look-up with `key`.
    async fn look_up(
        &self,
        http: &OutboundClient,
        key: &str,
        s: &Subject,
    ) -> Result<Found, CallError>;
}

/// The client of `kind`, at the configured base URL.
pub fn client(state: &AppState, kind: EnrichmentProviderKind) -> Box<dyn EnrichmentProvider> {
    let s = &state.config.sources;
    match kind {
        EnrichmentProviderKind::Hunter => Box::new(Hunter {
            base_url: s.hunter_base_url.clone(),
        }),
        EnrichmentProviderKind::Apollo => Box::new(Apollo {
            base_url: s.apollo_base_url.clone(),
        }),
        EnrichmentProviderKind::ApolloCompany => Box::new(ApolloCompany {
            base_url: s.apollo_base_url.clone(),
        }),
        EnrichmentProviderKind::Numverify => Box::new(Numverify {
            base_url: s.numverify_base_url.clone(),
        }),
        EnrichmentProviderKind::Local => Box::new(LocalPhone),
    }
}

/// Sends `builder` and maps the transport and status errors every provider shares: 2xx gives the
/// JSON body, 429 [`CallError::RateLimited`], anything else [`CallError::Failed`].
pub async fn send_json(
    http: &OutboundClient,
    name: &str,
    builder: reqwest::RequestBuilder,
) -> Result<serde_json::Value, CallError> {
    let r: OutboundResponse = http
        .execute(builder)
        .await
        .map_err(|e: OutboundError| CallError::Unavailable(format!("{name}: {e}")))?;
    match r.status {
        200..=299 => serde_json::from_slice(&r.body)
            .map_err(|_| CallError::Failed(format!("{name}: the response is not JSON"))),
        429 => Err(CallError::RateLimited(
            crate::platform::backoff::retry_after(&r.headers),
        )),
        401 | 403 => Err(CallError::Failed(format!(
            "{name} refused the API key (HTTP {})",
            r.status
        ))),
        s @ 500..=599 => Err(CallError::Unavailable(format!("{name} answered HTTP {s}"))),
        s => Err(CallError::Failed(format!("{name} answered HTTP {s}"))),
    }
}

/// `url` with `query` appended (form-encoded).
pub fn with_query(url: &str, query: &[(&str, &str)]) -> Result<String, CallError> {
    let mut u = url::Url::parse(url).map_err(|e| CallError::Failed(format!("{url}: {e}")))?;
    u.query_pairs_mut().extend_pairs(query);
    Ok(u.to_string())
}
