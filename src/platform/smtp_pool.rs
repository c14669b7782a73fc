//! A pool of SMTP connections whose sockets have `TCP_NODELAY` set.
//!
//! lettre's own pooled transport connects with a plain `TcpStream` and never disables Nagle's
//! algorithm. It writes a message body and then the `\r\n.\r\n` terminator as two writes without
//! reading in between, so the terminator waits for the ACK of the body, which the receiving
//! kernel delays (~40 ms on Linux). That capped every connection at ~20–25 messages/s whatever the
//! CPU or the server could do (docs/BENCHMARKS.md, figure h). Here we open the TCP connection
//! ourselves, set `TCP_NODELAY`, and hand the socket to lettre's SMTP client
//! (`AsyncSmtpConnection::connect_with_transport`), which still does the protocol, STARTTLS and
//! AUTH. Implicit TLS (`smtps://`, port 465) cannot be layered on a socket we own through lettre's
//! public API, so it connects through lettre as before (with Nagle on).
//!
//! Connections are reused: an idle connection goes back to the pool after a send that left it
//! healthy; one idle for longer than [`CHECK_AFTER`] is checked with `NOOP` before reuse and
//! dropped after [`IDLE_TIMEOUT`]. A failed send is never retried here: the caller decides, since
//! a connection that broke after `DATA` may or may not have delivered the message.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use std::net::SocketAddr;

use lettre::{
    address::Envelope,
    transport::smtp::{
        authentication::{Credentials, Mechanism},
        client::{AsyncSmtpConnection, TlsParameters},
        extension::ClientId,
        Error as SmtpError,
    },
};

/// A failed send.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// What lettre reported: a reply from the server, or a protocol/network failure.
    #[error("{0}")]
    Smtp(#[from] SmtpError),
    /// The TLS handshake (implicit TLS or STARTTLS) failed, or the server offers no STARTTLS.
    #[error("{0}")]
    Tls(SmtpError),
    /// AUTH failed (refused credentials, or no mechanism both sides support).
    #[error("{0}")]
    Auth(SmtpError),
    /// The server could not be reached, or stopped answering (no reply to blame).
    #[error("{0}")]
    Connect(String),
}

impl SendError {
    fn smtp(&self) -> Option<&SmtpError> {
        match self {
            SendError::Smtp(e) | SendError::Tls(e) | SendError::Auth(e) => Some(e),
            SendError::Connect(_) => None,
        }
    }

    /// A 5xx reply: retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        self.smtp().is_some_and(SmtpError::is_permanent)
    }

    /// A 4xx reply: try again later.
    pub fn is_transient(&self) -> bool {
        self.smtp().is_some_and(SmtpError::is_transient)
    }
}
use tokio::sync::Semaphore;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain text (development sinks, relays on a trusted network).
    None,
    /// `STARTTLS`, required: the server must offer it.
    Starttls,
    /// `STARTTLS` when the server offers it, plain text otherwise.
    Opportunistic,
    /// Implicit TLS (SMTPS).
    Tls,
}

/// Where and how to connect.
#[derive(Clone)]
pub struct SmtpTarget {
    /// Host name or address (also the TLS server name).
    pub host: String,
    /// Addresses to connect to, resolved and checked once by the caller (the SSRF guard for
    /// user-supplied hosts): the connection never resolves `host` again, so DNS cannot change
    /// the answer between the check and the connect. Empty = resolve `host` (operator-configured
    /// `SMTP_URL`).
    pub addrs: Vec<SocketAddr>,
    /// TCP port.
    pub port: u16,
    /// Transport security.
    pub security: Security,
    /// AUTH credentials.
    pub credentials: Option<Credentials>,
    /// Connect and per-command timeout.
    pub timeout: Duration,
    /// EHLO name.
    pub hello: ClientId,
}

impl std::fmt::Debug for SmtpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTarget")
            .field("host", &self.host)
            .field("addrs", &self.addrs)
            .field("port", &self.port)
            .field("security", &self.security)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Default connect/command timeout.
pub const TIMEOUT: Duration = Duration::from_secs(30);

impl SmtpTarget {
    /// Parses an `SMTP_URL` with lettre's conventions: `smtp://host[:port]` (plain, port 25),
    /// `smtp://host?tls=required` / `?tls=opportunistic` (STARTTLS, port 587), `smtps://host`
    /// (implicit TLS, port 465); `user:password@` for AUTH (percent-decoded); a path sets the EHLO
    /// name.
    pub fn from_url(raw: &str) -> Result<SmtpTarget, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("SMTP URL: {e}"))?;
        let host = url
            .host_str()
            .ok_or_else(|| "SMTP URL: no host".to_string())?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.to_string());
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::None, 25),
            ("smtp", Some("required")) => (Security::Starttls, 587),
            ("smtp", Some("opportunistic")) => (Security::Opportunistic, 587),
            ("smtps", _) => (Security::Tls, 465),
            (scheme, tls) => {
                return Err(format!(
                    "SMTP URL: unknown scheme {scheme:?} or tls parameter {tls:?}"
                ))
            }
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = (!url.username().is_empty() || url.password().is_some()).then(|| {
            Credentials::new(decode(url.username()), decode(url.password().unwrap_or("")))
        });
        let path = url.path().trim_matches('/');
        let hello = if path.is_empty() {
            ClientId::default()
        } else {
            ClientId::Domain(path.to_string())
        };
        Ok(SmtpTarget {
            host,
            addrs: Vec::new(),
            port: url.port().unwrap_or(default_port),
            security,
            credentials,
            timeout: TIMEOUT,
            hello,
        })
    }
}

/// A connection idle longer than this is checked with `NOOP` before it is reused.
pub const CHECK_AFTER: Duration = Duration::from_secs(2);
/// A connection idle longer than this is closed instead of reused.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Connections to one server.
#[derive(Clone)]
pub struct SmtpPool(Arc<Inner>);

struct Inner {
    target: SmtpTarget,
    /// Idle connections with the time they went idle (most recent last).
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    /// Bounds the connections open at once.
    open: Semaphore,
}

impl std::fmt::Debug for SmtpPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpPool")
            .field("target", &self.0.target)
            .finish()
    }
}

impl SmtpPool {
    /// A pool of at most `max_connections` open connections to `target`.
    pub fn new(target: SmtpTarget, max_connections: usize) -> SmtpPool {
        SmtpPool(Arc::new(Inner {
            target,
            idle: Mutex::new(Vec::new()),
            open: Semaphore::new(max_connections.max(1)),
        }))
    }

    /// The target.
    pub fn target(&self) -> &SmtpTarget {
        &self.0.target
    }

    /// Sends `message` (already formatted) to the envelope's recipients.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        let _permit = self
            .0
            .open
            .acquire()
            .await
            .map_err(|_| connection_error("the SMTP pool is closed"))?;
        let mut conn = match self.reuse().await {
            Some(c) => c,
            None => self.connect().await?,
        };
        let timeout = self.0.target.timeout;
        // The whole transaction is bounded: a server that stops answering mid-message must not
        // hold a sending lane forever.
        let result = match tokio::time::timeout(timeout * 2, conn.send(envelope, message)).await {
            Ok(r) => r.map(|_| ()).map_err(SendError::from),
            Err(_) => {
                // Dropped, not aborted: `abort` sends QUIT, which a stuck server would not
                // answer either. Closing the socket is enough.
                drop(conn);
                return Err(connection_error("the SMTP server timed out"));
            }
        };
        // lettre ends the session (QUIT) on any failed command, a rejected recipient included,
        // and marks the connection broken; only healthy connections go back to the pool.
        if !conn.has_broken() {
            self.0
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((conn, Instant::now()));
        }
        result
    }

    /// Connects as a send would (TLS and AUTH as configured), checks the session with `NOOP`
    /// and closes it (`testSmtpSettings`).
    pub async fn check(&self) -> Result<(), SendError> {
        let mut conn = self.connect().await?;
        let alive = tokio::time::timeout(self.0.target.timeout, conn.test_connected())
            .await
            .unwrap_or(false);
        let _ = tokio::time::timeout(self.0.target.timeout, conn.quit()).await;
        if alive {
            Ok(())
        } else {
            Err(SendError::Connect(
                "the server did not answer the greeting".into(),
            ))
        }
    }

    /// The most recently used idle connection that is still alive, if any.
    async fn reuse(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let (mut conn, since) = self
                .0
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()?;
            let idle = since.elapsed();
            if idle > IDLE_TIMEOUT {
                // Quit politely in the background; the server may already have hung up.
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(TIMEOUT, conn.quit()).await;
                });
                continue;
            }
            if idle <= CHECK_AFTER {
                return Some(conn);
            }
            let alive = tokio::time::timeout(self.0.target.timeout, conn.test_connected())
                .await
                .unwrap_or(false);
            if alive {
                return Some(conn);
            }
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let t = &self.0.target;
        let mut conn = match t.security {
            Security::Tls => {
                // lettre connects the socket itself here; it is given the checked addresses
                // (never the name) and the name only for SNI and certificate verification.
                let tls = tls_parameters(&t.host).map_err(SendError::Tls)?;
                let connected = if t.addrs.is_empty() {
                    AsyncSmtpConnection::connect_tokio1(
                        (t.host.as_str(), t.port),
                        Some(t.timeout),
                        &t.hello,
                        Some(tls),
                        None,
                    )
                    .await
                } else {
                    AsyncSmtpConnection::connect_tokio1(
                        &t.addrs[..],
                        Some(t.timeout),
                        &t.hello,
                        Some(tls),
                        None,
                    )
                    .await
                };
                connected.map_err(|e| {
                    if e.is_tls() {
                        SendError::Tls(e)
                    } else if e.is_response() || e.is_permanent() || e.is_transient() {
                        SendError::Smtp(e)
                    } else {
                        connection_error(e)
                    }
                })?
            }
            _ => {
                let tcp = tokio::time::timeout(t.timeout, connect_tcp(&t.host, t.port, &t.addrs))
                    .await
                    .map_err(|_| connection_error("connecting to the SMTP server timed out"))?
                    .map_err(connection_error)?;
                let _ = tcp.set_nodelay(true);
                let mut conn = tokio::time::timeout(
                    t.timeout,
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &t.hello),
                )
                .await
                .map_err(|_| connection_error("the SMTP greeting timed out"))??;
                let starttls = match t.security {
                    Security::Starttls => true,
                    Security::Opportunistic => conn.can_starttls(),
                    _ => false,
                };
                if starttls {
                    // lettre refuses (a client error) when the server offers no STARTTLS.
                    let tls = tls_parameters(&t.host).map_err(SendError::Tls)?;
                    conn.starttls(tls, &t.hello).await.map_err(SendError::Tls)?;
                }
                conn
            }
        };
        if let Some(c) = &t.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], c)
                .await
                .map_err(SendError::Auth)?;
        }
        Ok(conn)
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters, SmtpError> {
    TlsParameters::new(host.to_string())
}

/// Connects to the first of `addrs` that answers, or (none given) the first address of `host`.
async fn connect_tcp(
    host: &str,
    port: u16,
    addrs: &[SocketAddr],
) -> std::io::Result<tokio::net::TcpStream> {
    let mut last = None;
    let resolved: Vec<SocketAddr> = if addrs.is_empty() {
        tokio::net::lookup_host((host, port)).await?.collect()
    } else {
        addrs.to_vec()
    };
    for addr in resolved {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{host} resolves to no address"),
        )
    }))
}

fn connection_error(e: impl std::fmt::Display) -> SendError {
    SendError::Connect(e.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    use super::*;

    /// A minimal SMTP server: counts connections and accepted messages; RCPT to an address
    /// starting with `reject` gets 550.
    async fn fake_server() -> (u16, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (conns, msgs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (c, m) = (conns.clone(), msgs.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let m = m.clone();
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut lines = BufReader::new(r).lines();
                    w.write_all(b"220 fake ESMTP\r\n").await.unwrap();
                    let mut data = false;
                    while let Ok(Some(line)) = lines.next_line().await {
                        let reply: &[u8] = if data {
                            if line == "." {
                                data = false;
                                m.fetch_add(1, Ordering::SeqCst);
                                b"250 queued\r\n"
                            } else {
                                continue;
                            }
                        } else if line.starts_with("EHLO") {
                            b"250-fake\r\n250 8BITMIME\r\n"
                        } else if line.starts_with("RCPT TO:<reject") {
                            b"550 no such user\r\n"
                        } else if line == "DATA" {
                            data = true;
                            b"354 go ahead\r\n"
                        } else if line == "QUIT" {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 ok\r\n"
                        };
                        if w.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (port, conns, msgs)
    }

    fn message(to: &str) -> lettre::Message {
        lettre::Message::builder()
            .from("a@example.com".parse().unwrap())
            .to(to.parse().unwrap())
            .subject("hi")
            .body("hello".to_string())
            .unwrap()
    }

    #[tokio::test]
    async fn sequential_sends_reuse_one_connection_and_a_rejection_replaces_it() {
        let (port, conns, msgs) = fake_server().await;
        let pool = SmtpPool::new(
            SmtpTarget::from_url(&format!("smtp://127.0.0.1:{port}")).unwrap(),
            4,
        );
        for i in 0..5 {
            let m = message(&format!("user{i}@example.com"));
            pool.send(m.envelope(), &m.formatted()).await.unwrap();
        }
        let m = message("reject@example.com");
        let err = pool.send(m.envelope(), &m.formatted()).await.unwrap_err();
        assert!(err.is_permanent(), "{err}");
        let m = message("after@example.com");
        pool.send(m.envelope(), &m.formatted()).await.unwrap();
        assert_eq!(msgs.load(Ordering::SeqCst), 6);
        assert_eq!(
            conns.load(Ordering::SeqCst),
            2,
            "one for the first five, one after the 550"
        );

        // Concurrent sends open more connections, never more than the limit.
        let sends = (0..16).map(|i| {
            let pool = pool.clone();
            async move {
                let m = message(&format!("c{i}@example.com"));
                pool.send(m.envelope(), &m.formatted()).await
            }
        });
        for r in futures::future::join_all(sends).await {
            r.unwrap();
        }
        assert_eq!(msgs.load(Ordering::SeqCst), 22);
        // One idle connection reused, at most three more opened (four at once).
        assert!(conns.load(Ordering::SeqCst) <= 5);
    }

    #[tokio::test]
    async fn a_server_that_stops_answering_mid_message_times_out() {
        // Greets and accepts the envelope, then never answers the end of the message.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut lines = BufReader::new(r).lines();
                    w.write_all(b"220 slow ESMTP\r\n").await.unwrap();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let reply: &[u8] = if line.starts_with("EHLO") {
                            b"250 slow\r\n"
                        } else if line == "DATA" {
                            b"354 go ahead\r\n"
                        } else if line.starts_with("MAIL") || line.starts_with("RCPT") {
                            b"250 ok\r\n"
                        } else {
                            continue; // the message and its end: silence
                        };
                        let _ = w.write_all(reply).await;
                    }
                });
            }
        });
        let mut target = SmtpTarget::from_url(&format!("smtp://127.0.0.1:{port}")).unwrap();
        target.timeout = Duration::from_millis(200);
        let pool = SmtpPool::new(target, 1);
        let m = message("a@example.com");
        let started = Instant::now();
        let err = pool.send(m.envelope(), &m.formatted()).await.unwrap_err();
        assert!(matches!(err, SendError::Connect(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            pool.0.idle.lock().unwrap().is_empty(),
            "the stuck connection is not reused"
        );
    }

    #[tokio::test]
    async fn an_unreachable_server_is_neither_transient_nor_permanent() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let pool = SmtpPool::new(
            SmtpTarget::from_url(&format!("smtp://127.0.0.1:{port}")).unwrap(),
            1,
        );
        let m = message("a@example.com");
        let err = pool.send(m.envelope(), &m.formatted()).await.unwrap_err();
        assert!(!err.is_permanent() && !err.is_transient(), "{err}");
    }

    #[test]
    fn urls_follow_lettre_conventions() {
        let t = SmtpTarget::from_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.security),
            ("127.0.0.1", 2525, Security::None)
        );
        assert!(t.credentials.is_none());
        let t = SmtpTarget::from_url("smtp://u%40x:p%3Aw@mail.example.com?tls=required").unwrap();
        assert_eq!((t.port, t.security), (587, Security::Starttls));
        assert!(t.credentials.is_some());
        assert!(
            !format!("{t:?}").contains("p:w"),
            "credentials are redacted"
        );
        let t = SmtpTarget::from_url("smtp://mail.example.com?tls=opportunistic").unwrap();
        assert_eq!(t.security, Security::Opportunistic);
        let t = SmtpTarget::from_url("smtps://mail.example.com/client.example").unwrap();
        assert_eq!((t.port, t.security), (465, Security::Tls));
        assert!(matches!(t.hello, ClientId::Domain(ref d) if d == "client.example"));
        assert!(SmtpTarget::from_url("http://mail.example.com").is_err());
        assert!(SmtpTarget::from_url("smtp://mail.example.com?tls=maybe").is_err());
        assert!(SmtpTarget::from_url("not a url").is_err());
    }
}
