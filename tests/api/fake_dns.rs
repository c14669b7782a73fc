//! A DNS server on loopback UDP for MX checks (scraping's MX annotation, contact validation):
//!
//! - `mx-ok.test`, any name under `.mx-ok.test`, and `mailinator.com`: an MX record
//!   (`mail.<name>`), no other records;
//! - any name under `.probe.test`: an MX record naming `127.0.0.1` (a loopback SMTP fake for
//!   the mailbox probe);
//! - `nullmx.test`: a null MX (`MX 0 .`, RFC 7505);
//! - `nomx.test`: exists, but no records of any type (NOERROR, empty answer);
//! - `nx.test`: NXDOMAIN;
//! - anything else: silence (the client times out).
//!
//! Counts the queries it received, in total and per name.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use hickory_proto::{
    op::{Message, MessageType, OpCode, ResponseCode},
    rr::{
        rdata::{MX, SOA},
        Name, RData, Record, RecordType,
    },
};

pub struct FakeDns {
    pub addr: std::net::SocketAddr,
    pub queries: Arc<AtomicUsize>,
    /// Queries by lowercase name (with the trailing dot).
    pub by_name: Arc<Mutex<HashMap<String, usize>>>,
}

fn soa() -> Record {
    // The SOA lets a resolver cache a negative answer (RFC 2308).
    Record::from_rdata(
        Name::from_ascii("test.").unwrap(),
        300,
        RData::SOA(SOA::new(
            Name::from_ascii("ns.test.").unwrap(),
            Name::from_ascii("admin.test.").unwrap(),
            1,
            3600,
            600,
            86400,
            300,
        )),
    )
}

fn has_mx(name: &str) -> bool {
    name == "mx-ok.test." || name.ends_with(".mx-ok.test.") || name == "mailinator.com."
}

impl FakeDns {
    pub async fn start() -> FakeDns {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let queries = Arc::new(AtomicUsize::new(0));
        let by_name: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (q, names) = (queries.clone(), by_name.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(req) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                q.fetch_add(1, Ordering::SeqCst);
                let Some(query) = req.queries.first().cloned() else {
                    continue;
                };
                let name = query.name().to_ascii().to_lowercase();
                *names.lock().unwrap().entry(name.clone()).or_default() += 1;
                let mut resp = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
                resp.metadata.recursion_desired = req.metadata.recursion_desired;
                resp.metadata.recursion_available = true;
                resp.metadata.authoritative = true;
                resp.add_query(query.clone());
                let is_mx = query.query_type() == RecordType::MX;
                match name.as_str() {
                    n if n.ends_with(".probe.test.") && is_mx => {
                        let host = Name::from_ascii("127.0.0.1.").unwrap();
                        resp.add_answer(Record::from_rdata(
                            query.name().clone(),
                            300,
                            RData::MX(MX::new(10, host)),
                        ));
                    }
                    n if has_mx(n) && is_mx => {
                        let host = Name::from_ascii(format!("mail.{n}")).unwrap();
                        resp.add_answer(Record::from_rdata(
                            query.name().clone(),
                            300,
                            RData::MX(MX::new(10, host)),
                        ));
                    }
                    "nullmx.test." if is_mx => {
                        resp.add_answer(Record::from_rdata(
                            query.name().clone(),
                            300,
                            RData::MX(MX::new(0, Name::root())),
                        ));
                    }
                    n if has_mx(n) || n == "nullmx.test." || n == "nomx.test." => {
                        resp.authorities.push(soa());
                    }
                    "nx.test." => {
                        resp.metadata.response_code = ResponseCode::NXDomain;
                        resp.authorities.push(soa());
                    }
                    _ => continue, // no answer: the client times out
                }
                let _ = sock.send_to(&resp.to_vec().unwrap(), from).await;
            }
        });
        FakeDns {
            addr,
            queries,
            by_name,
        }
    }

    /// Queries received for `name` (lowercase, without the trailing dot), any type.
    pub fn queries_for(&self, name: &str) -> usize {
        let key = format!("{name}.");
        self.by_name.lock().unwrap().get(&key).copied().unwrap_or(0)
    }
}
