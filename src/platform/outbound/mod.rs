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

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::redirect;
use url::Url;

mod allow;
mod guard;

pub use allow::AllowedHost;
#[cfg(test)]
pub(crate) use guard::check_redirect_hop;
use guard::{check_redirect_hop_allowing, filter_resolved};
pub use guard::{check_url, check_url_allowing, is_forbidden_ip, GuardedResolver};

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
        let (response, _) = self.execute_if(builder, |_, _| true).await?;
        Ok(response)
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
