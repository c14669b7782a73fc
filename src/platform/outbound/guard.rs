//! The SSRF guard's three layers (see the module doc of `platform::outbound`): the address
//! policy ([`is_forbidden_ip`]), the URL check before a request and on every redirect hop, and
//! the filtering DNS resolver ([`GuardedResolver`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::LazyLock;

use ipnet::{Ipv4Net, Ipv6Net};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use super::{allow::is_allowed_host, AllowedHost, OutboundError};

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

pub(super) fn check_redirect_hop_allowing(
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
pub(super) fn filter_resolved(
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
