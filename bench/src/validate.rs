//! Contact validation at volume (issue 27): `validateContacts` of `addresses` emails spread
//! round-robin over `domains` domains, against a fake DNS server this process runs, compared
//! with a bare loop of the same MX lookups against the same fake (`hickory-resolver`, the
//! server's resolver crate, with no cache: one query per address).
//!
//! The fake (UDP, `hickory-proto`) answers an MX query for any name under `.bench.test` with
//! `mail.<name>` and counts every query it receives. The server must run with
//! `DNS_NAMESERVER=<dns_listen>` and `EMAIL_MX_CHECK=true`. Domain names carry a per-run nonce,
//! so the server's validation cache (kept in its database) starts cold in every run: the
//! queries the fake sees during the GraphQL phase are the server's misses, which should be
//! exactly one per domain.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{bail, Context};
use hickory_proto::{
    op::{Message, MessageType, OpCode},
    rr::{rdata::MX, Name, RData, Record, RecordType},
};
use hickory_resolver::{
    config::{NameServerConfig, ResolverConfig, ResolverOpts},
    net::runtime::TokioRuntimeProvider,
    TokioResolver,
};
use serde_json::{json, Value};

use crate::gql::Gql;

/// What to run.
pub struct Run {
    /// Server base URL.
    pub url: String,
    /// A bearer token of a MEMBER or above.
    pub token: String,
    /// Where the fake DNS listens (the server's `DNS_NAMESERVER`).
    pub dns_listen: String,
    pub addresses: usize,
    pub domains: usize,
    /// Contacts per `validateContacts` call (the API's limit is 200).
    pub batch: usize,
}

const VALIDATE: &str =
    "mutation($i: [ContactInput!]!) { validateContacts(inputs: $i) { email { mxFound } } }";

/// Starts the fake DNS on `listen`; returns its query counter.
async fn fake_dns(listen: &str) -> anyhow::Result<Arc<AtomicUsize>> {
    let sock = tokio::net::UdpSocket::bind(listen)
        .await
        .with_context(|| format!("bind the fake DNS on {listen}"))?;
    let queries = Arc::new(AtomicUsize::new(0));
    let count = queries.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let Ok(req) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            count.fetch_add(1, Ordering::Relaxed);
            let Some(q) = req.queries.first().cloned() else {
                continue;
            };
            let name = q.name().to_ascii().to_lowercase();
            let mut resp = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
            resp.metadata.recursion_desired = req.metadata.recursion_desired;
            resp.metadata.recursion_available = true;
            resp.metadata.authoritative = true;
            resp.add_query(q.clone());
            if q.query_type() == RecordType::MX && name.ends_with(".bench.test.") {
                if let Ok(host) = Name::from_ascii(format!("mail.{name}")) {
                    let mx = RData::MX(MX::new(10, host));
                    resp.add_answer(Record::from_rdata(q.name().clone(), 300, mx));
                }
            }
            if let Ok(bytes) = resp.to_vec() {
                let _ = sock.send_to(&bytes, from).await;
            }
        }
    });
    Ok(queries)
}

/// A resolver of the fake with no cache: every lookup is a query.
fn bare_resolver(addr: SocketAddr) -> anyhow::Result<TokioResolver> {
    let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
    for c in &mut ns.connections {
        c.port = addr.port();
    }
    let mut o = ResolverOpts::default();
    o.timeout = Duration::from_secs(2);
    o.attempts = 1;
    o.cache_size = 0;
    o.positive_max_ttl = Some(Duration::ZERO);
    o.negative_max_ttl = Some(Duration::ZERO);
    o.ndots = 0;
    Ok(TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![ns]),
        TokioRuntimeProvider::default(),
    )
    .with_options(o)
    .build()?)
}

pub async fn run(r: Run) -> anyhow::Result<Value> {
    if r.domains == 0 || r.addresses < r.domains || !(1..=200).contains(&r.batch) {
        bail!("need addresses ≥ domains ≥ 1 and a batch of 1–200");
    }
    let queries = fake_dns(&r.dns_listen).await?;
    let nonce = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() % 1_000_000_000;
    let domain = |i: usize| format!("d{}.n{nonce}.bench.test", i % r.domains);
    let emails: Vec<String> = (0..r.addresses)
        .map(|i| format!("user{i}@{}", domain(i)))
        .collect();

    // The bare loop: one MX lookup per address, in order, nothing else.
    let resolver = bare_resolver(r.dns_listen.parse()?)?;
    let before = queries.load(Ordering::Relaxed);
    let start = Instant::now();
    let mut bare_found = 0;
    for i in 0..r.addresses {
        let l = resolver.mx_lookup(format!("{}.", domain(i))).await?;
        bare_found += usize::from(!l.answers().is_empty());
    }
    let bare_secs = start.elapsed().as_secs_f64();
    let bare_queries = queries.load(Ordering::Relaxed) - before;

    // The server: validateContacts in batches, one call at a time.
    let g = Gql::new(&r.url)?.with_token(&r.token);
    let before = queries.load(Ordering::Relaxed);
    let start = Instant::now();
    let mut found = 0;
    for chunk in emails.chunks(r.batch) {
        let inputs: Vec<Value> = chunk.iter().map(|e| json!({"email": e})).collect();
        let data = g.run(VALIDATE, json!({"i": inputs})).await?;
        let results = data["validateContacts"].as_array().context("no results")?;
        found += results
            .iter()
            .filter(|v| v["email"]["mxFound"] == true)
            .count();
    }
    let secs = start.elapsed().as_secs_f64();
    let dns_queries = queries.load(Ordering::Relaxed) - before;
    let bare_rate = r.addresses as f64 / bare_secs;
    let rate = r.addresses as f64 / secs;
    Ok(json!({
        "addresses": r.addresses, "domains": r.domains, "batch": r.batch,
        "bare_per_sec": bare_rate, "bare_found": bare_found, "bare_queries": bare_queries,
        "graphql_per_sec": rate, "mx_found": found, "dns_queries": dns_queries,
        "ratio": rate / bare_rate,
    }))
}
