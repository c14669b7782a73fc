//! Email deliverability: does the email's domain accept mail? One MX lookup per domain with
//! `hickory-resolver`, bounded by a timeout (`EMAIL_MX_TIMEOUT_MS`, 2 s), against the system's
//! nameservers or `DNS_NAMESERVER`. The answer goes on the lead as `customFields.mx`
//! (`valid` | `none` | `unknown`, and the tag `no-mx` for `none`, put there by scraping); it
//! never rejects an email: a timeout or a server failure is `unknown`.
//!
//! - `valid`: at least one MX record, or no MX but an A/AAAA record (RFC 5321 §5.1 implicit MX).
//! - `none`: NXDOMAIN, no MX and no address, or a "null MX" (`MX 0 .`, RFC 7505).
//! - `unknown`: timeout, SERVFAIL/REFUSED, network error, or the check is off.
//!
//! Caching: one resolver per nameserver setting for the whole process (its response cache is
//! bounded to [`CACHE_ENTRIES`] answers, positive TTLs capped at 1 h, negative at 5 min), plus a
//! bounded per-process map of `unknown` answers kept for [`UNKNOWN_TTL`] so an unreachable DNS
//! costs one timeout per domain, not one per email.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use hickory_resolver::{
    config::{NameServerConfig, ResolverConfig, ResolverOpts},
    net::runtime::TokioRuntimeProvider,
    proto::rr::RData,
    TokioResolver,
};

use super::sources_config::SourcesConfig;

/// Responses the resolver cache keeps at most.
pub const CACHE_ENTRIES: u64 = 4096;
/// How long an `unknown` answer is reused.
pub const UNKNOWN_TTL: Duration = Duration::from_secs(60);
/// `unknown` answers remembered at most.
const UNKNOWN_ENTRIES: usize = 4096;
/// Tag put on leads whose email domain accepts no mail.
pub const NO_MX_TAG: &str = "no-mx";

/// What DNS says about an email domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MxStatus {
    /// Mail can be delivered (MX, or an address as implicit MX).
    Valid,
    /// The domain does not exist or accepts no mail.
    None,
    /// Not known (timeout, DNS failure, check off).
    Unknown,
}

// The `customFields.mx` values.
crate::wire_enum!(MxStatus { Valid => "valid", None => "none", Unknown => "unknown" });

/// Resolvers by (nameserver, cached).
type Resolvers = Mutex<HashMap<(Option<SocketAddr>, bool), Arc<TokioResolver>>>;
type Unknowns = Mutex<HashMap<(Option<SocketAddr>, String), Instant>>;

fn resolvers() -> &'static Resolvers {
    static R: OnceLock<Resolvers> = OnceLock::new();
    R.get_or_init(Default::default)
}

fn unknowns() -> &'static Unknowns {
    static U: OnceLock<Unknowns> = OnceLock::new();
    U.get_or_init(Default::default)
}

fn options(timeout: Duration, cached: bool) -> ResolverOpts {
    let mut o = ResolverOpts::default();
    o.timeout = timeout;
    o.attempts = 1;
    if cached {
        o.cache_size = CACHE_ENTRIES;
        o.positive_max_ttl = Some(Duration::from_secs(3600));
        o.negative_max_ttl = Some(Duration::from_secs(300));
    } else {
        o.cache_size = 0;
        o.positive_max_ttl = Some(Duration::ZERO);
        o.negative_max_ttl = Some(Duration::ZERO);
    }
    // Email domains are absolute names: never try search domains.
    o.ndots = 0;
    o
}

/// The resolver for `nameserver` (built once per process and setting). `cached = false` for
/// answers that must be fresh (a sending domain's TXT record the user just published).
fn resolver(
    nameserver: Option<SocketAddr>,
    timeout: Duration,
    cached: bool,
) -> Option<Arc<TokioResolver>> {
    let mut map = resolvers().lock().ok()?;
    if let Some(r) = map.get(&(nameserver, cached)) {
        return Some(r.clone());
    }
    let built = match nameserver {
        Some(addr) => {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for c in &mut ns.connections {
                c.port = addr.port();
            }
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            )
            .with_options(options(timeout, cached))
            .build()
        }
        None => match TokioResolver::builder_tokio() {
            Ok(b) => b.with_options(options(timeout, cached)).build(),
            Err(e) => Err(e),
        },
    };
    match built {
        Ok(r) => {
            let r = Arc::new(r);
            map.insert((nameserver, cached), r.clone());
            Some(r)
        }
        Err(e) => {
            tracing::warn!(error = %e, "MX check: no usable DNS configuration");
            None
        }
    }
}

fn remembered_unknown(key: &(Option<SocketAddr>, String)) -> bool {
    unknowns()
        .lock()
        .ok()
        .and_then(|m| m.get(key).copied())
        .is_some_and(|at| at.elapsed() < UNKNOWN_TTL)
}

fn remember_unknown(key: (Option<SocketAddr>, String)) {
    if let Ok(mut m) = unknowns().lock() {
        if m.len() >= UNKNOWN_ENTRIES {
            m.retain(|_, at| at.elapsed() < UNKNOWN_TTL);
            if m.len() >= UNKNOWN_ENTRIES {
                m.clear();
            }
        }
        m.insert(key, Instant::now());
    }
}

/// What DNS says about an email domain, in detail (the reasons of a validation verdict).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxAnswer {
    /// MX hosts, most preferred first.
    Hosts(Vec<String>),
    /// No MX but an address record: the domain is its own mail host (RFC 5321 §5.1).
    Implicit,
    /// A null MX (`MX 0 .`, RFC 7505): the domain says it accepts no mail.
    NullMx,
    /// The domain exists but has neither MX nor address records.
    NoMail,
    /// NXDOMAIN.
    NoDomain,
    /// Not known (timeout, DNS failure, check off).
    Unknown,
}

impl MxAnswer {
    /// The summary scraping stores.
    pub fn status(&self) -> MxStatus {
        match self {
            MxAnswer::Hosts(_) | MxAnswer::Implicit => MxStatus::Valid,
            MxAnswer::NullMx | MxAnswer::NoMail | MxAnswer::NoDomain => MxStatus::None,
            MxAnswer::Unknown => MxStatus::Unknown,
        }
    }
}

/// Looks up `domain` (lowercase, no trailing dot) with the configured resolver.
pub async fn check_domain(cfg: &SourcesConfig, domain: &str) -> MxStatus {
    inspect_domain(cfg, domain, true).await.status()
}

/// Looks up `domain` (lowercase ASCII, no trailing dot) in detail. `cached = false` skips the
/// process's resolver cache, for callers that keep their own (enrichment's validation cache).
/// `Unknown` when the check is off (`EMAIL_MX_CHECK`).
pub async fn inspect_domain(cfg: &SourcesConfig, domain: &str, cached: bool) -> MxAnswer {
    if !cfg.mx_check {
        return MxAnswer::Unknown;
    }
    let key = (cfg.dns_nameserver, domain.to_string());
    if remembered_unknown(&key) {
        return MxAnswer::Unknown;
    }
    let Some(r) = resolver(cfg.dns_nameserver, cfg.mx_timeout, cached) else {
        return MxAnswer::Unknown;
    };
    let fqdn = format!("{}.", domain.trim_end_matches('.'));
    // The resolver has its own timeout; this one bounds the whole check (MX then A).
    let answer = tokio::time::timeout(cfg.mx_timeout * 2, lookup(&r, &fqdn))
        .await
        .unwrap_or(MxAnswer::Unknown);
    if answer == MxAnswer::Unknown {
        remember_unknown(key);
    }
    answer
}

async fn lookup(r: &TokioResolver, fqdn: &str) -> MxAnswer {
    match r.mx_lookup(fqdn).await {
        Ok(l) => {
            let mut exchanges: Vec<(u16, String)> = l
                .answers()
                .iter()
                .filter_map(|rec| match &rec.data {
                    RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii())),
                    _ => None,
                })
                .collect();
            exchanges.sort();
            if exchanges.is_empty() {
                implicit(r, fqdn).await
            } else if exchanges.iter().all(|(_, e)| e == "." || e.is_empty()) {
                // RFC 7505 null MX: the domain explicitly accepts no mail.
                MxAnswer::NullMx
            } else {
                MxAnswer::Hosts(
                    exchanges
                        .into_iter()
                        .map(|(_, e)| e.trim_end_matches('.').to_string())
                        .filter(|e| !e.is_empty())
                        .collect(),
                )
            }
        }
        Err(e) if e.is_nx_domain() => MxAnswer::NoDomain,
        Err(e) if e.is_no_records_found() => implicit(r, fqdn).await,
        Err(e) => {
            tracing::debug!(error = %e, domain = fqdn, "MX lookup failed");
            MxAnswer::Unknown
        }
    }
}

/// The TXT strings at `name` (each record's character-strings joined, RFC 7208 §3.3), asked
/// through the MX check's nameserver setting (`DNS_NAMESERVER`) and timeout but never from a
/// cache, so a record published a moment ago is seen. No record or no such name is an empty list;
/// a failure (timeout, SERVFAIL, no DNS configuration) is `Err` with a reason for the user.
/// Used by sending-domain verification (independent of `EMAIL_MX_CHECK`).
pub async fn txt_records(cfg: &SourcesConfig, name: &str) -> Result<Vec<String>, String> {
    let Some(r) = resolver(cfg.dns_nameserver, cfg.mx_timeout, false) else {
        return Err("no usable DNS configuration".into());
    };
    let fqdn = format!("{}.", name.trim_end_matches('.'));
    match tokio::time::timeout(cfg.mx_timeout * 2, r.txt_lookup(fqdn.as_str())).await {
        Err(_) => Err("the DNS lookup timed out".into()),
        Ok(Ok(l)) => Ok(l
            .answers()
            .iter()
            .filter_map(|rec| match &rec.data {
                RData::TXT(t) => Some(t.to_string()),
                _ => None,
            })
            .collect()),
        Ok(Err(e)) if e.is_nx_domain() || e.is_no_records_found() => Ok(Vec::new()),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, name = fqdn, "TXT lookup failed");
            Err("the DNS lookup failed".into())
        }
    }
}

/// No MX: an address record makes the domain its own mail host (RFC 5321 §5.1).
async fn implicit(r: &TokioResolver, fqdn: &str) -> MxAnswer {
    match r.lookup_ip(fqdn).await {
        Ok(ips) if ips.iter().next().is_some() => MxAnswer::Implicit,
        Ok(_) => MxAnswer::NoMail,
        Err(e) if e.is_nx_domain() => MxAnswer::NoDomain,
        Err(e) if e.is_no_records_found() => MxAnswer::NoMail,
        Err(_) => MxAnswer::Unknown,
    }
}
