//! The allow-list: `host[:port]` entries that skip the SSRF guard's address check (endpoints the
//! operator configured, tests' fixture servers).

use url::Url;

/// One `host[:port]` entry that skips the address check (an operator-configured endpoint, or a
/// test fixture). Without a port, every port of the host is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    /// Lower-case host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// The port, or `None` for any.
    pub port: Option<u16>,
}

impl AllowedHost {
    /// Parses `host`, `host:port`, `[v6]:port` or a URL (`http://host:port/path`, whose explicit
    /// or default port is used).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.contains("://") {
            let url = Url::parse(raw).map_err(|e| format!("{raw}: {e}"))?;
            return Self::of_url(&url).ok_or_else(|| format!("{raw}: the URL has no host"));
        }
        let url = Url::parse(&format!("http://{raw}/")).map_err(|e| format!("{raw}: {e}"))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("{raw}: no host"))?;
        let explicit_port = raw
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.contains(']') && !p.is_empty());
        Ok(Self {
            host: host.trim_matches(['[', ']']).to_ascii_lowercase(),
            port: if explicit_port {
                Some(url.port().unwrap_or(80))
            } else {
                None
            },
        })
    }

    /// The host and port (explicit or the scheme's default) of `url`.
    pub fn of_url(url: &Url) -> Option<Self> {
        let host = url.host_str().filter(|h| !h.is_empty())?;
        Some(Self {
            host: host.trim_matches(['[', ']']).to_ascii_lowercase(),
            port: url.port_or_known_default(),
        })
    }

    /// Parses a comma-separated list.
    pub fn parse_list(raw: &str) -> Result<Vec<Self>, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Self::parse)
            .collect()
    }

    fn matches(&self, url: &Url) -> bool {
        let Some(other) = Self::of_url(url) else {
            return false;
        };
        other.host == self.host && self.port.is_none_or(|p| Some(p) == other.port)
    }
}

/// Whether `url`'s host and port are in `allowed`.
pub(super) fn is_allowed_host(url: &Url, allowed: &[AllowedHost]) -> bool {
    allowed.iter().any(|a| a.matches(url))
}
