//! Mailbox probe: asks a domain's mail exchanger whether it would accept mail for addresses,
//! with `RCPT TO` and never `DATA` (nothing is sent). One connection per domain checks a random
//! address first (accepted = the domain is catch-all: any mailbox "exists") and then each
//! address. The connection goes straight from this server to the MX host on
//! `SMTP_PROBE_PORT` (never through the campaign relay, so the sending reputation is never
//! spent on it), to an address the outbound guard allows ([`OutboundClient::resolve_checked`]:
//! public addresses only, or a host opened with `OUTBOUND_ALLOW_HOSTS`), each reply bounded by
//! the timeout. Off unless `SMTP_PROBE_ENABLED` and the organization opted in.

use std::time::Duration;

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

use super::outbound::OutboundClient;

/// Longest reply line read.
const MAX_LINE: usize = 1024;
/// Most reply lines of one reply.
const MAX_LINES: usize = 32;

/// How the probe connects.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    /// Port of the mail exchangers (25; tests point it at a fake).
    pub port: u16,
    /// Name sent with EHLO.
    pub helo: String,
    /// Bound of the connection and of each reply.
    pub timeout: Duration,
    /// Probes of one domain allowed per minute (all instances, through the rate limiter).
    pub per_domain_per_minute: u32,
}

/// What the server said to one `RCPT TO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rcpt {
    /// 2xx.
    Accepted,
    /// 5xx: the mailbox does not exist (or is refused for good).
    Rejected(String),
    /// 4xx or no answer: try later.
    Deferred(String),
}

/// The probe's findings on one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// A random address was accepted (`Some(true)`), refused (`Some(false)`), or deferred.
    pub catch_all: Option<bool>,
    /// One answer per local part, in order.
    pub answers: Vec<Rcpt>,
}

/// Probes `locals` at `domain` through the first reachable host of `mx_hosts` (most preferred
/// first; at most two are tried). `Err` names why no conversation took place.
pub async fn probe(
    http: &OutboundClient,
    settings: &ProbeSettings,
    mx_hosts: &[String],
    domain: &str,
    locals: &[String],
) -> Result<ProbeReport, String> {
    let mut last = "no mail exchanger".to_string();
    for host in mx_hosts.iter().take(2) {
        let addrs = match http
            .resolve_checked(host, settings.port, settings.timeout)
            .await
        {
            Ok(a) => a,
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        for addr in addrs.iter().take(2) {
            let connect = tokio::time::timeout(settings.timeout, TcpStream::connect(addr)).await;
            match connect {
                Ok(Ok(stream)) => return conversation(stream, settings, domain, locals).await,
                Ok(Err(_)) => last = format!("could not connect to {host}"),
                Err(_) => last = format!("{host} did not answer in time"),
            }
        }
    }
    Err(last)
}

/// A reply: its code and text (lines joined).
async fn reply(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    timeout: Duration,
) -> Result<(u16, String), String> {
    let mut text = String::new();
    for _ in 0..MAX_LINES {
        let mut line = String::new();
        let n = tokio::time::timeout(timeout, r.read_line(&mut line))
            .await
            .map_err(|_| "the server did not answer in time".to_string())?
            .map_err(|_| "the connection failed".to_string())?;
        if n == 0 || line.len() > MAX_LINE {
            return Err("the server closed the connection".into());
        }
        let line = line.trim_end();
        let code: u16 = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| "not an SMTP reply".to_string())?;
        text.push_str(line.get(4..).unwrap_or_default());
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, text));
        }
        text.push(' ');
    }
    Err("reply too long".into())
}

async fn conversation(
    stream: TcpStream,
    settings: &ProbeSettings,
    domain: &str,
    locals: &[String],
) -> Result<ProbeReport, String> {
    let t = settings.timeout;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let (code, text) = reply(&mut r, t).await?;
    if code / 100 != 2 {
        return Err(format!("greeting refused: {code} {text}"));
    }
    for cmd in [
        format!("EHLO {}", settings.helo),
        "MAIL FROM:<>".to_string(),
    ] {
        w.write_all(format!("{cmd}\r\n").as_bytes())
            .await
            .map_err(|_| "the connection failed".to_string())?;
        let (code, text) = reply(&mut r, t).await?;
        if code / 100 != 2 {
            return Err(format!("{code} {text}"));
        }
    }
    let random = format!("lg-probe-{}@{domain}", uuid::Uuid::now_v7().simple());
    let mut answers = Vec::with_capacity(locals.len());
    let mut catch_all = None;
    for (i, address) in std::iter::once(random)
        .chain(locals.iter().map(|l| format!("{l}@{domain}")))
        .enumerate()
    {
        w.write_all(format!("RCPT TO:<{address}>\r\n").as_bytes())
            .await
            .map_err(|_| "the connection failed".to_string())?;
        let answer = match reply(&mut r, t).await {
            Ok((code, _)) if code / 100 == 2 => Rcpt::Accepted,
            Ok((code, text)) if code / 100 == 5 => Rcpt::Rejected(format!("{code} {text}")),
            Ok((code, text)) => Rcpt::Deferred(format!("{code} {text}")),
            Err(e) => Rcpt::Deferred(e),
        };
        if i == 0 {
            catch_all = match answer {
                Rcpt::Accepted => Some(true),
                Rcpt::Rejected(_) => Some(false),
                Rcpt::Deferred(_) => None,
            };
        } else {
            answers.push(answer);
        }
    }
    let _ = w.write_all(b"QUIT\r\n").await;
    Ok(ProbeReport { catch_all, answers })
}
