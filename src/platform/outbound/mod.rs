//! Outbound HTTP with an SSRF guard.
//!
//! Every request to a user-supplied URL (scraper, webhooks, workflow targets) goes through
//! [`OutboundClient`]. The guard has three layers, and all three are needed:
//!
//! 1. [`check_url`] runs before a request: http/https only, a host is required, no credentials
//!    in the URL, and an IP-literal host must be publicly routable ([`is_forbidden_ip`]).
//!    reqwest (hyper-util) connects to IP literals directly without calling any resolver, so
//!    literals can only be checked here.
//! 2. [`GuardedResolver`] is the client's DNS resolver: it drops every forbidden address a name
//!    resolves to and fails when none is left. Because the connector only ever sees the filtered
//!    list, DNS rebinding between "check" and "connect" is impossible.
//! 3. The redirect policy re-runs the URL check on every hop (`check_redirect_hop`) and stops
//!    after `max_redirects`; host names on later hops go through the resolver again.
//!
//! The client never uses a proxy (a proxy would make the resolver see only the proxy's name),
//! never sends `Referer`, and reads bodies with a hard size cap.
//!
//! Setting [`OutboundConfig::allow_private_networks`] turns layers 1–3 off for addresses (schemes
//! and credentials are still checked). It must stay off in production (the config refuses it).
//!
//! [`OutboundConfig::allowed_hosts`] is the narrow alternative: exactly the listed `host[:port]`
//! entries skip the address check, everything else stays guarded. It serves two purposes:
//! endpoints the operator configured (`OPENAI_BASE_URL`, the scraping APIs' base URLs) are
//! trusted by the client those integrations use (`AppState::operator_http`), and tests open
//! their loopback fixture servers with `OUTBOUND_ALLOW_HOSTS` (refused in production).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::LazyLock;
use std::time::Duration;

use ipnet::{Ipv4Net, Ipv6Net};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;
use url::{Host, Url};

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
fn is_allowed_host(url: &Url, allowed: &[AllowedHost]) -> bool {
    allowed.iter().any(|a| a.matches(url))
}

/// Settings of the outbound HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundConfig {
    /// Allow loopback, private, link-local and other non-public addresses. Tests only.
    pub allow_private_networks: bool,
    /// Hosts (optionally with a port) that skip the address check; everything else stays
    /// guarded.
    pub allowed_hosts: Vec<AllowedHost>,
    /// Total time for one request: connect, redirects, headers and body.
    pub timeout: Duration,
    /// Time allowed for establishing a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Largest response body that is read; larger bodies fail with [`OutboundError::BodyTooLarge`].
    pub max_body_bytes: usize,
    /// Largest number of redirects followed for one request.
    pub max_redirects: usize,
    /// `User-Agent` header sent with every request.
    pub user_agent: String,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            allow_private_networks: false,
            allowed_hosts: Vec::new(),
            timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(5),
            max_body_bytes: 5 * 1024 * 1024,
            max_redirects: 5,
            user_agent: "Leadgraph/0.1 (+https://leadgraph.dev/bot)".to_owned(),
        }
    }
}

/// Why an outbound request was refused or failed.
///
/// The `Display` messages are safe to show to users: they name at most the URL's host, never a
/// resolved address or an internal error chain (those stay available through the fields and
/// [`std::error::Error::source`] for logs).
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The URL could not be parsed or lacks a host.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The URL's scheme is not http or https.
    #[error("unsupported URL scheme `{0}`: only http and https are allowed")]
    UnsupportedScheme(String),
    /// The URL carries a user name or password.
    #[error("URLs with embedded credentials are not allowed")]
    CredentialsNotAllowed,
    /// The host is, or only resolves to, a non-public address. `addr` is for logs only and is
    /// deliberately left out of the message (it would reveal internal DNS to the user).
    #[error("refusing to connect to {host}: it is a private or reserved network address")]
    ForbiddenAddress {
        /// The host as written in the URL.
        host: String,
        /// The (first) forbidden address it is or resolved to.
        addr: IpAddr,
    },
    /// The host name did not resolve to any address.
    #[error("could not resolve host {host}")]
    Unresolvable {
        /// The host as written in the URL.
        host: String,
    },
    /// More redirects than `max_redirects`.
    #[error("too many redirects")]
    TooManyRedirects,
    /// The response body is larger than `max_body_bytes`.
    #[error("response body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The request did not complete within the configured timeout.
    #[error("request timed out")]
    Timeout,
    /// Any other transport or protocol failure (connection refused, TLS, malformed response…).
    #[error("outbound request failed: {}", http_error_summary(.0))]
    Http(#[source] reqwest::Error),
}

impl OutboundError {
    /// A copy of a refusal produced inside reqwest callbacks (resolver, redirect policy), so it
    /// can be returned to the caller in place of the wrapping `reqwest::Error`.
    fn duplicate_refusal(&self) -> Option<Self> {
        Some(match self {
            Self::InvalidUrl(msg) => Self::InvalidUrl(msg.clone()),
            Self::UnsupportedScheme(scheme) => Self::UnsupportedScheme(scheme.clone()),
            Self::CredentialsNotAllowed => Self::CredentialsNotAllowed,
            Self::ForbiddenAddress { host, addr } => Self::ForbiddenAddress {
                host: host.clone(),
                addr: *addr,
            },
            Self::Unresolvable { host } => Self::Unresolvable { host: host.clone() },
            Self::TooManyRedirects => Self::TooManyRedirects,
            Self::BodyTooLarge { limit } => Self::BodyTooLarge { limit: *limit },
            Self::Timeout => Self::Timeout,
            Self::Http(_) => return None,
        })
    }
}

/// A user-safe one-line description of a reqwest error (no addresses, no source chain).
fn http_error_summary(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_redirect() {
        "invalid redirect"
    } else if err.is_body() || err.is_decode() {
        "invalid response body"
    } else if err.is_builder() {
        "invalid request"
    } else {
        "request error"
    }
}

/// Turns a reqwest error into an [`OutboundError`], surfacing refusals raised by our resolver or
/// redirect policy (reqwest wraps them several layers deep).
fn map_reqwest_error(err: reqwest::Error) -> OutboundError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(current) = source {
        if let Some(refusal) = current
            .downcast_ref::<OutboundError>()
            .and_then(OutboundError::duplicate_refusal)
        {
            return refusal;
        }
        source = current.source();
    }
    if err.is_timeout() {
        OutboundError::Timeout
    } else {
        OutboundError::Http(err)
    }
}

fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Option<Ipv4Net> {
    Ipv4Net::new(Ipv4Addr::new(a, b, c, d), len).ok()
}

fn v6(segments: [u16; 8], len: u8) -> Option<Ipv6Net> {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new(Ipv6Addr::new(a, b, c, d, e, f, g, h), len).ok()
}

/// IPv4 ranges that are never fetched: the IANA special-purpose registry entries that are not
/// globally reachable, plus multicast and the reserved 240/4 (which includes broadcast).
static FORBIDDEN_V4: LazyLock<Vec<Ipv4Net>> = LazyLock::new(|| {
    [
        v4(0, 0, 0, 0, 8),       // "this network", includes 0.0.0.0 (unspecified)
        v4(10, 0, 0, 0, 8),      // private
        v4(100, 64, 0, 0, 10),   // CGNAT shared address space
        v4(127, 0, 0, 0, 8),     // loopback
        v4(169, 254, 0, 0, 16),  // link-local, includes 169.254.169.254 cloud metadata
        v4(172, 16, 0, 0, 12),   // private
        v4(192, 0, 0, 0, 24),    // IETF protocol assignments (incl. 192.0.0.192 Oracle metadata)
        v4(192, 0, 2, 0, 24),    // TEST-NET-1 documentation
        v4(192, 88, 99, 0, 24),  // deprecated 6to4 relay anycast
        v4(192, 168, 0, 0, 16),  // private
        v4(198, 18, 0, 0, 15),   // benchmarking
        v4(198, 51, 100, 0, 24), // TEST-NET-2 documentation
        v4(203, 0, 113, 0, 24),  // TEST-NET-3 documentation
        v4(224, 0, 0, 0, 4),     // multicast
        v4(240, 0, 0, 0, 4),     // reserved, includes 255.255.255.255 broadcast
    ]
    .into_iter()
    .flatten()
    .collect()
});

/// IPv6 ranges inside 2000::/3 that are never fetched. Everything outside 2000::/3 (other than
/// the IPv4-embedding forms decided by their IPv4 address) is refused wholesale, which covers
/// ::/128, ::1/128, 100::/64 discard, 5f00::/16 SRv6, fc00::/7 unique-local (incl. the AWS
/// metadata address fd00:ec2::254), fec0::/10 site-local, fe80::/10 link-local and ff00::/8
/// multicast; they are listed again here so the table reads as the whole policy.
static FORBIDDEN_V6: LazyLock<Vec<Ipv6Net>> = LazyLock::new(|| {
    [
        v6([0, 0, 0, 0, 0, 0, 0, 0], 128),         // unspecified
        v6([0, 0, 0, 0, 0, 0, 0, 1], 128),         // loopback
        v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),  // local-use NAT64 (RFC 8215)
        v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),      // discard-only
        v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32), // Teredo: refused as a whole (see `embedded_ipv4`)
        v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48), // benchmarking
        v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28), // ORCHID (deprecated)
        v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28), // ORCHIDv2
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), // documentation (RFC 9637)
        v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16), // SRv6 SIDs
        v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),  // unique-local
        v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), // link-local
        v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), // site-local (deprecated)
        v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),  // multicast
    ]
    .into_iter()
    .flatten()
    .collect()
});

/// IPv6 global unicast space; addresses outside it are not publicly routable.
static GLOBAL_UNICAST_V6: LazyLock<Option<Ipv6Net>> =
    LazyLock::new(|| v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3));

/// The IPv4 address an IPv6 address stands for, when it is one of the forms that embed one:
/// IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d` and 6to4 `2002:aabb:ccdd::/48`.
///
/// Teredo (2001::/32) also embeds IPv4 addresses (server and obfuscated client), but the
/// protocol is obsolete, so the whole range is refused in `FORBIDDEN_V6` instead of decoded.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let o = ip.octets();
    let tail = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match ip.segments() {
        // IPv4-mapped ::ffff:a.b.c.d
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        // IPv4-translated ::ffff:0:a.b.c.d (SIIT)
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(tail),
        // IPv4-compatible ::a.b.c.d (deprecated); also covers :: and ::1 (0.0.0.0, 0.0.0.1)
        [0, 0, 0, 0, 0, 0, _, _] => Some(tail),
        // NAT64 well-known prefix 64:ff9b::/96
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        // 6to4 2002:AABB:CCDD::/48 carries AA.BB.CC.DD in bits 16..48
        [0x2002, ..] => Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])),
        _ => None,
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    FORBIDDEN_V4.iter().any(|net| net.contains(&ip))
}

/// Whether `ip` must never be connected to: anything that is not a publicly routable unicast
/// address (loopback, private, link-local and cloud metadata, CGNAT, documentation,
/// benchmarking, multicast, broadcast, reserved, IPv6 unique/site/link-local), including IPv6
/// addresses that embed such an IPv4 address.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_forbidden_v4(ip),
        IpAddr::V6(ip) => {
            if let Some(embedded) = embedded_ipv4(ip) {
                return is_forbidden_v4(embedded);
            }
            let global = GLOBAL_UNICAST_V6
                .as_ref()
                .is_some_and(|net| net.contains(&ip));
            !global || FORBIDDEN_V6.iter().any(|net| net.contains(&ip))
        }
    }
}

/// Parses and vets a user-supplied URL before any connection is made.
///
/// WHATWG parsing normalizes IPv4 spellings (`http://2130706433/`, `http://0x7f.1/`,
/// `http://0177.0.0.1/` all become `127.0.0.1`), so an IP-literal host is checked in its
/// canonical form. Host names are checked later, by [`GuardedResolver`], on the addresses they
/// resolve to. With `allow_private` the address check is skipped (scheme and credentials are
/// still enforced).
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, OutboundError> {
    let url = Url::parse(raw.trim()).map_err(|e| OutboundError::InvalidUrl(e.to_string()))?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(OutboundError::UnsupportedScheme(other.to_owned())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(OutboundError::CredentialsNotAllowed);
    }
    let addr = match url.host() {
        None => return Err(OutboundError::InvalidUrl("the URL has no host".to_owned())),
        Some(Host::Domain(_)) => None,
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
    };
    if let Some(addr) = addr {
        if !allow_private && is_forbidden_ip(addr) {
            return Err(OutboundError::ForbiddenAddress {
                host: url.host_str().unwrap_or_default().to_owned(),
                addr,
            });
        }
    }
    Ok(url)
}

/// [`check_url`], except that a URL whose host and port are in `allowed` skips the address
/// check. A listed host *name* passes the resolver unfiltered, so its port is enforced here: the
/// name on a port no entry lists is refused.
pub fn check_url_allowing(
    raw: &str,
    allow_private: bool,
    allowed: &[AllowedHost],
) -> Result<Url, OutboundError> {
    match check_url(raw, allow_private) {
        Err(OutboundError::ForbiddenAddress { host, addr }) => {
            let url = check_url(raw, true)?;
            if is_allowed_host(&url, allowed) {
                Ok(url)
            } else {
                Err(OutboundError::ForbiddenAddress { host, addr })
            }
        }
        Ok(url) if !allow_private => {
            let listed_name = matches!(url.host(), Some(Host::Domain(_)))
                && AllowedHost::of_url(&url)
                    .is_some_and(|h| allowed.iter().any(|a| a.host == h.host));
            if listed_name && !is_allowed_host(&url, allowed) {
                return Err(OutboundError::ForbiddenAddress {
                    host: url.host_str().unwrap_or_default().to_owned(),
                    addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                });
            }
            Ok(url)
        }
        other => other,
    }
}

/// The check applied to every redirect: `hops` is the number of this redirect (1 for the first
/// one), refused past `max`; the target must pass [`check_url`].
#[cfg(test)]
pub(crate) fn check_redirect_hop(
    url: &Url,
    allow_private: bool,
    hops: usize,
    max: usize,
) -> Result<(), OutboundError> {
    check_redirect_hop_allowing(url, allow_private, &[], hops, max)
}

fn check_redirect_hop_allowing(
    url: &Url,
    allow_private: bool,
    allowed: &[AllowedHost],
    hops: usize,
    max: usize,
) -> Result<(), OutboundError> {
    if hops > max {
        return Err(OutboundError::TooManyRedirects);
    }
    check_url_allowing(url.as_str(), allow_private, allowed).map(|_| ())
}

/// Keeps the allowed addresses of a resolved host; fails if nothing is left.
fn filter_resolved(
    host: &str,
    resolved: Vec<SocketAddr>,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, OutboundError> {
    let Some(first) = resolved.first().map(SocketAddr::ip) else {
        return Err(OutboundError::Unresolvable {
            host: host.to_owned(),
        });
    };
    if allow_private {
        return Ok(resolved);
    }
    let allowed: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|addr| !is_forbidden_ip(addr.ip()))
        .collect();
    if allowed.is_empty() {
        return Err(OutboundError::ForbiddenAddress {
            host: host.to_owned(),
            addr: first,
        });
    }
    Ok(allowed)
}

/// DNS resolver for the outbound client: resolves with the system resolver
/// (`tokio::net::lookup_host`) and hands reqwest only the addresses that pass
/// [`is_forbidden_ip`], failing with [`OutboundError::ForbiddenAddress`] when none does.
///
/// reqwest does not call a resolver for IP-literal hosts; those are checked by [`check_url`]
/// and the redirect policy.
#[derive(Debug, Clone, Default)]
pub struct GuardedResolver {
    /// Pass every resolved address through unfiltered (tests only).
    pub allow_private: bool,
    /// Names whose addresses pass unfiltered (the allowed hosts; their ports were checked by
    /// [`check_url_allowing`] before the request).
    pub allowed_names: std::sync::Arc<[String]>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allow_private = self.allow_private
            || self
                .allowed_names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&host));
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = match tokio::net::lookup_host((host.as_str(), 0)).await
            {
                Ok(addrs) => addrs.collect(),
                Err(_) => Vec::new(),
            };
            let allowed = filter_resolved(&host, resolved, allow_private)?;
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// A fully read response.
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    /// HTTP status code.
    pub status: u16,
    /// URL of the last hop, after redirects.
    pub final_url: Url,
    /// Response headers of the last hop.
    pub headers: http::HeaderMap,
    /// The body, at most `max_body_bytes` long.
    pub body: Vec<u8>,
}

impl OutboundResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The `Content-Type` header, if present and valid text.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
    }

    /// The body decoded as UTF-8, with invalid sequences replaced.
    pub fn text_lossy(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The one HTTP client for user-supplied URLs. Cheap to clone (shares the connection pool).
#[derive(Debug, Clone)]
pub struct OutboundClient {
    client: reqwest::Client,
    allow_private: bool,
    allowed_hosts: std::sync::Arc<[AllowedHost]>,
    max_body_bytes: usize,
}

impl OutboundClient {
    /// Builds the client: guarded resolver (unless `allow_private_networks`), timeouts, user
    /// agent, no proxy, no `Referer`, and a redirect policy that re-checks every hop.
    pub fn new(cfg: OutboundConfig) -> Result<Self, OutboundError> {
        Self::build(cfg, &[])
    }

    /// `new` plus fixed name-to-address overrides (which bypass the resolver). Only tests use
    /// overrides, to point a "public" name at a local fixture server.
    fn build(cfg: OutboundConfig, overrides: &[(&str, SocketAddr)]) -> Result<Self, OutboundError> {
        let allow_private = cfg.allow_private_networks;
        let allowed_hosts: std::sync::Arc<[AllowedHost]> = cfg.allowed_hosts.into();
        let max_redirects = cfg.max_redirects;
        let in_policy = allowed_hosts.clone();
        let policy = redirect::Policy::custom(move |attempt| {
            let hops = attempt.previous().len();
            match check_redirect_hop_allowing(
                attempt.url(),
                allow_private,
                &in_policy,
                hops,
                max_redirects,
            ) {
                Ok(()) => attempt.follow(),
                Err(refusal) => attempt.error(refusal),
            }
        });
        let mut builder = reqwest::Client::builder()
            .user_agent(cfg.user_agent)
            .timeout(cfg.timeout)
            .connect_timeout(cfg.connect_timeout)
            .redirect(policy)
            .referer(false)
            // A proxy would receive the target name and resolve it itself, bypassing the guard.
            .no_proxy();
        if !allow_private {
            builder = builder.dns_resolver(GuardedResolver {
                allow_private: false,
                allowed_names: allowed_hosts.iter().map(|a| a.host.clone()).collect(),
            });
        }
        for (name, addr) in overrides {
            builder = builder.resolve(name, *addr);
        }
        let client = builder.build().map_err(OutboundError::Http)?;
        Ok(Self {
            client,
            allow_private,
            allowed_hosts,
            max_body_bytes: cfg.max_body_bytes,
        })
    }

    /// [`Self::new`] with fixed name overrides, for tests of other modules that need a
    /// "public" name pointing at a local fixture.
    #[cfg(test)]
    pub(crate) fn with_overrides(
        cfg: OutboundConfig,
        overrides: &[(&str, SocketAddr)],
    ) -> Result<Self, OutboundError> {
        Self::build(cfg, overrides)
    }

    /// Whether private and reserved addresses are allowed (tests only).
    pub fn allow_private_networks(&self) -> bool {
        self.allow_private
    }

    /// [`check_url`] with this client's policy (private networks, allowed hosts): what a
    /// request to `raw` would be refused for, before any connection.
    pub fn check_url(&self, raw: &str) -> Result<Url, OutboundError> {
        check_url_allowing(raw, self.allow_private, &self.allowed_hosts)
    }

    /// Whether `host:port` may be connected to although it resolves to a forbidden address
    /// (private networks allowed, or the host is allowed).
    pub fn allows_host(&self, host: &str, port: u16) -> bool {
        self.allow_private
            || self.allowed_hosts.iter().any(|a| {
                a.host.eq_ignore_ascii_case(host.trim_matches(['[', ']']))
                    && a.port.is_none_or(|p| p == port)
            })
    }

    /// Resolves a user-supplied `host` (a name or an IP literal) once for a non-HTTP connection
    /// (an organization's SMTP server) and returns the addresses the guard allows, to connect to
    /// exactly those: the caller must never resolve the name again (no DNS-rebinding window).
    /// Forbidden addresses are dropped as [`GuardedResolver`] drops them; none left is
    /// [`OutboundError::ForbiddenAddress`]. An allowed `host:port` ([`Self::allows_host`]) keeps
    /// every address.
    pub async fn resolve_checked(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<Vec<SocketAddr>, OutboundError> {
        let host = host.trim_matches(['[', ']']);
        let resolved: Vec<SocketAddr> =
            match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
                Ok(Ok(addrs)) => addrs.collect(),
                Ok(Err(_)) => Vec::new(),
                Err(_) => return Err(OutboundError::Timeout),
            };
        filter_resolved(host, resolved, self.allows_host(host, port))
    }

    /// The body size limit in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The underlying reqwest client. Requests sent on it directly skip [`check_url`], so an
    /// IP-literal URL would not be checked: prefer [`Self::request`] and [`Self::execute`].
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    /// Starts a request to a checked URL; add headers or a body, then pass it to
    /// [`Self::execute`].
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, OutboundError> {
        let url = self.check_url(url)?;
        Ok(self.client.request(method, url))
    }

    /// Fetches `url` with GET and reads the body (capped).
    pub async fn get(&self, url: &str) -> Result<OutboundResponse, OutboundError> {
        let builder = self.request(reqwest::Method::GET, url)?;
        self.execute(builder).await
    }

    /// Sends a request on this client (the URL is checked again, whichever client built it) and
    /// reads the body, failing with [`OutboundError::BodyTooLarge`] past `max_body_bytes`.
    pub async fn execute(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<OutboundResponse, OutboundError> {
        let request = builder.build().map_err(map_reqwest_error)?;
        self.check_url(request.url().as_str())?;
        let response = self
            .client
            .execute(request)
            .await
            .map_err(map_reqwest_error)?;
        self.read_capped(response).await
    }

    /// Like [`Self::execute`], but `accept` sees the final status and headers first: when it
    /// returns false the body is not read at all (the response comes back with an empty body and
    /// `false`). The crawler uses this to skip non-HTML responses without downloading them.
    pub async fn execute_if(
        &self,
        builder: reqwest::RequestBuilder,
        accept: impl FnOnce(u16, &http::HeaderMap) -> bool,
    ) -> Result<(OutboundResponse, bool), OutboundError> {
        let request = builder.build().map_err(map_reqwest_error)?;
        self.check_url(request.url().as_str())?;
        let response = self
            .client
            .execute(request)
            .await
            .map_err(map_reqwest_error)?;
        if !accept(response.status().as_u16(), response.headers()) {
            return Ok((
                OutboundResponse {
                    status: response.status().as_u16(),
                    final_url: response.url().clone(),
                    headers: response.headers().clone(),
                    body: Vec::new(),
                },
                false,
            ));
        }
        Ok((self.read_capped(response).await?, true))
    }

    async fn read_capped(
        &self,
        mut response: reqwest::Response,
    ) -> Result<OutboundResponse, OutboundError> {
        let limit = self.max_body_bytes;
        let too_large = OutboundError::BodyTooLarge { limit };
        let mut body = Vec::new();
        if let Some(declared) = response.content_length() {
            match usize::try_from(declared) {
                Ok(declared) if declared <= limit => body.reserve(declared),
                _ => return Err(too_large),
            }
        }
        while let Some(chunk) = response.chunk().await.map_err(map_reqwest_error)? {
            if body.len().saturating_add(chunk.len()) > limit {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse {
            status: response.status().as_u16(),
            final_url: response.url().clone(),
            headers: response.headers().clone(),
            body,
        })
    }
}

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod tests;
