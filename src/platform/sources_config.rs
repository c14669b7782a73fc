//! Configuration of the CRAIGSLIST, JOB_BOARDS and SOCIAL sources and of the MX check, read with
//! the rest of [`crate::Config`] (field `sources`). Every base URL is configurable so tests point
//! the adapters at local fakes.

use std::{fmt, net::SocketAddr, time::Duration};

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
        })
    }
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
