//! Configuration of the CRAIGSLIST, JOB_BOARDS and SOCIAL sources and of the MX check, read with
//! the rest of [`crate::Config`] (field `sources`). Every base URL is configurable so tests point
//! the adapters at local fakes.

use std::{fmt, net::SocketAddr, path::Path, sync::Arc, time::Duration};

use super::{contact::DisposableDomains, smtp_probe::ProbeSettings};
use crate::config::ConfigError;

/// Source and email-check settings.
#[derive(Clone)]
pub struct SourcesConfig {
    /// Craigslist site, `{city}` replaced by the job's city (`CRAIGSLIST_BASE_URL`, default
    /// `https://{city}.craigslist.org`).
    pub craigslist_base_url: String,
    /// Greenhouse Job Board API (`GREENHOUSE_BASE_URL`, default
    /// `https://boards-api.greenhouse.io`).
    pub greenhouse_base_url: String,
    /// Lever Postings API (`LEVER_BASE_URL`, default `https://api.lever.co`).
    pub lever_base_url: String,
    /// People-search provider key (`SOCIAL_API_KEY`); an organization's own key wins.
    pub social_api_key: Option<String>,
    /// People-search provider (`SOCIAL_BASE_URL`, default `https://nubela.co/proxycurl`).
    pub social_base_url: String,
    /// Look up the MX records of found email domains (`EMAIL_MX_CHECK`; default on in
    /// production, off otherwise so development and tests never need DNS).
    pub mx_check: bool,
    /// Nameserver asked for MX records (`DNS_NAMESERVER=ip:port`); unset = the system's.
    pub dns_nameserver: Option<SocketAddr>,
    /// Per-lookup timeout (`EMAIL_MX_TIMEOUT_MS`, default 2000); a timeout is `mx: unknown`.
    pub mx_timeout: Duration,
    /// Disposable email domains: the shipped list plus `DISPOSABLE_DOMAINS_FILE` (one a line).
    pub disposable_domains: Arc<DisposableDomains>,
    /// How long a contact validation verdict is reused (`VALIDATION_CACHE_TTL_SECS`, default
    /// 86400); an UNKNOWN answer is kept at most 5 minutes.
    pub validation_ttl: Duration,
    /// The mailbox probe, when the operator allows it (`SMTP_PROBE_ENABLED`, default off; then
    /// `SMTP_PROBE_PORT` 25, `SMTP_PROBE_HELO`, `SMTP_PROBE_TIMEOUT_MS` 5000,
    /// `SMTP_PROBE_PER_DOMAIN_PER_MINUTE` 5). Organizations opt in on top.
    pub smtp_probe: Option<ProbeSettings>,
    /// Hunter API (`HUNTER_BASE_URL`, default `https://api.hunter.io`); keys are per organization.
    pub hunter_base_url: String,
    /// Apollo API (`APOLLO_BASE_URL`, default `https://api.apollo.io`); keys are per organization.
    pub apollo_base_url: String,
    /// Numverify phone look-up API (`NUMVERIFY_BASE_URL`, default `https://apilayer.net/api`);
    /// keys are per organization.
    pub numverify_base_url: String,
    /// Consecutive failures that open an enrichment provider's circuit
    /// (`ENRICHMENT_BREAKER_FAILURES`, default 5).
    pub enrichment_breaker_failures: u32,
    /// How long an open circuit skips the provider (`ENRICHMENT_BREAKER_COOLDOWN_MS`, default
    /// 60000).
    pub enrichment_breaker_cooldown: Duration,
}

impl fmt::Debug for SourcesConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourcesConfig")
            .field("craigslist_base_url", &self.craigslist_base_url)
            .field("greenhouse_base_url", &self.greenhouse_base_url)
            .field("lever_base_url", &self.lever_base_url)
            .field(
                "social_api_key",
                &self.social_api_key.as_ref().map(|_| "<redacted>"),
            )
            .field("social_base_url", &self.social_base_url)
            .field("mx_check", &self.mx_check)
            .field("dns_nameserver", &self.dns_nameserver)
            .field("mx_timeout", &self.mx_timeout)
            .field("disposable_domains", &self.disposable_domains.len())
            .field("validation_ttl", &self.validation_ttl)
            .field("smtp_probe", &self.smtp_probe)
            .field("hunter_base_url", &self.hunter_base_url)
            .field("apollo_base_url", &self.apollo_base_url)
            .field("numverify_base_url", &self.numverify_base_url)
            .field(
                "enrichment_breaker_failures",
                &self.enrichment_breaker_failures,
            )
            .field(
                "enrichment_breaker_cooldown",
                &self.enrichment_breaker_cooldown,
            )
            .finish()
    }
}

fn base(var: &impl Fn(&str) -> Option<String>, key: &str, default: &str) -> String {
    var(key)
        .unwrap_or_else(|| default.into())
        .trim()
        .trim_end_matches('/')
        .to_string()
}

impl SourcesConfig {
    /// Reads the settings; `var` returns non-blank values only.
    pub fn from_lookup(var: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let production = matches!(
            var("LEADGRAPH_ENV").as_deref(),
            Some("production") | Some("prod")
        );
        let mx_check = match var("EMAIL_MX_CHECK") {
            None => production,
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| ConfigError(format!("EMAIL_MX_CHECK: cannot parse {v:?}")))?,
        };
        let dns_nameserver = match var("DNS_NAMESERVER") {
            None => None,
            Some(v) => Some(v.trim().parse().map_err(|_| {
                ConfigError(format!(
                    "DNS_NAMESERVER: {v:?} is not an address such as 127.0.0.1:53"
                ))
            })?),
        };
        let mx_timeout =
            match var("EMAIL_MX_TIMEOUT_MS") {
                None => Duration::from_secs(2),
                Some(v) => Duration::from_millis(v.trim().parse().map_err(|_| {
                    ConfigError(format!("EMAIL_MX_TIMEOUT_MS: cannot parse {v:?}"))
                })?),
            };
        let disposable_domains =
            DisposableDomains::load(var("DISPOSABLE_DOMAINS_FILE").as_deref().map(Path::new))
                .map_err(|e| ConfigError(format!("DISPOSABLE_DOMAINS_FILE: {e}")))?;
        let validation_ttl = match var("VALIDATION_CACHE_TTL_SECS") {
            None => Duration::from_secs(86_400),
            Some(v) => Duration::from_secs(v.trim().parse().map_err(|_| {
                ConfigError(format!("VALIDATION_CACHE_TTL_SECS: cannot parse {v:?}"))
            })?),
        };
        let smtp_probe = probe_settings(var)?;
        Ok(SourcesConfig {
            craigslist_base_url: base(var, "CRAIGSLIST_BASE_URL", "https://{city}.craigslist.org"),
            greenhouse_base_url: base(
                var,
                "GREENHOUSE_BASE_URL",
                "https://boards-api.greenhouse.io",
            ),
            lever_base_url: base(var, "LEVER_BASE_URL", "https://api.lever.co"),
            social_api_key: var("SOCIAL_API_KEY"),
            social_base_url: base(var, "SOCIAL_BASE_URL", "https://nubela.co/proxycurl"),
            mx_check,
            dns_nameserver,
            mx_timeout,
            disposable_domains,
            validation_ttl,
            smtp_probe,
            hunter_base_url: base(var, "HUNTER_BASE_URL", "https://api.hunter.io"),
            apollo_base_url: base(var, "APOLLO_BASE_URL", "https://api.apollo.io"),
            numverify_base_url: base(var, "NUMVERIFY_BASE_URL", "https://apilayer.net/api"),
            enrichment_breaker_failures: parsed::<u32>(var, "ENRICHMENT_BREAKER_FAILURES", 5)?
                .max(1),
            enrichment_breaker_cooldown: Duration::from_millis(parsed(
                var,
                "ENRICHMENT_BREAKER_COOLDOWN_MS",
                60_000,
            )?),
        })
    }
}

fn parsed<T: std::str::FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: T,
) -> Result<T, ConfigError> {
    match var(key) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| ConfigError(format!("{key}: cannot parse {v:?}"))),
    }
}

/// The mailbox probe's settings, `None` unless `SMTP_PROBE_ENABLED=true`.
fn probe_settings(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Option<ProbeSettings>, ConfigError> {
    if !parsed(var, "SMTP_PROBE_ENABLED", false)? {
        return Ok(None);
    }
    Ok(Some(ProbeSettings {
        port: parsed(var, "SMTP_PROBE_PORT", 25)?,
        helo: var("SMTP_PROBE_HELO").unwrap_or_else(|| "localhost".into()),
        timeout: Duration::from_millis(parsed(var, "SMTP_PROBE_TIMEOUT_MS", 5000)?),
        per_domain_per_minute: parsed::<u32>(var, "SMTP_PROBE_PER_DOMAIN_PER_MINUTE", 5)?.max(1),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<SourcesConfig, ConfigError> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SourcesConfig::from_lookup(&|k: &str| map.get(k).cloned())
    }

    #[test]
    fn defaults_and_overrides() {
        let c = cfg(&[]).unwrap();
        assert!(!c.mx_check, "MX check is off outside production");
        assert_eq!(c.craigslist_base_url, "https://{city}.craigslist.org");
        assert_eq!(c.mx_timeout, Duration::from_secs(2));
        assert!(cfg(&[("LEADGRAPH_ENV", "production")]).unwrap().mx_check);
        let c = cfg(&[
            ("LEADGRAPH_ENV", "production"),
            ("EMAIL_MX_CHECK", "false"),
            ("DNS_NAMESERVER", "127.0.0.1:5353"),
            ("SOCIAL_API_KEY", "sekrit"),
            ("LEVER_BASE_URL", "http://127.0.0.1:9/"),
        ])
        .unwrap();
        assert!(!c.mx_check);
        assert_eq!(c.dns_nameserver, Some("127.0.0.1:5353".parse().unwrap()));
        assert_eq!(c.lever_base_url, "http://127.0.0.1:9");
        assert!(!format!("{c:?}").contains("sekrit"));
        assert!(cfg(&[("DNS_NAMESERVER", "localhost")]).is_err());
        assert!(cfg(&[("EMAIL_MX_CHECK", "maybe")]).is_err());
    }
}
