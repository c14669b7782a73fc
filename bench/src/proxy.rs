//! A TCP fault proxy (toxiproxy is a Go binary neither apt nor npm ships): it forwards one local
//! port to one upstream address and can, at runtime, add latency, cap the bandwidth, reset every
//! open connection, refuse new ones, or black-hole the traffic.
//!
//! Modes ([`Mode`]):
//! - `pass` — forward bytes as they come;
//! - `latency` — every chunk is delivered `ms` later, in order, in both directions;
//! - `bandwidth` — at most `bytes_per_sec` per direction and connection;
//! - `blackhole` — packets dropped, not refused: connections stay open (no FIN, no RST) and every
//!   byte of a connection open during it, or accepted during it, is thrown away for the rest of
//!   that connection's life, as when a firewall, NAT or load balancer loses the flow: the peers
//!   must find the connection dead by their own timeouts. Connections opened after it ends pass;
//! - `stall` — a short partition that heals: nothing passes either way while it lasts, then
//!   every held byte is delivered (what TCP retransmission does after a partition shorter than
//!   its timeout); new connections reach the upstream only after healing;
//! - `down` — the listener is closed (new connections are refused, ECONNREFUSED) and every open
//!   connection is reset (RST), as when the dependency's process is killed.
//!
//! `reset` is an action, not a mode: it resets (RST) every open connection once.
//!
//! In-process use: [`Proxy::start`] then [`Proxy::set`] / [`Proxy::reset`]. Standalone
//! (`lg-bench proxy`): the mode is read from a control port, one line per TCP connection, e.g.
//! `echo 'latency 500' | nc 127.0.0.1 <control>`; answers `ok <mode>`.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{
        tcp::{OwnedReadHalf, OwnedWriteHalf},
        TcpListener, TcpStream,
    },
    sync::{mpsc, watch},
};

/// What the proxy does to the traffic (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Latency(u64),
    Bandwidth(u64),
    Stall,
    Blackhole,
    Down,
}

impl Mode {
    /// Parses `pass`, `latency MS`, `bandwidth BYTES_PER_SEC`, `stall`, `blackhole`, `down`.
    pub fn parse(s: &str) -> anyhow::Result<Mode> {
        let mut words = s.split_whitespace();
        let name = words.next().unwrap_or_default();
        let arg = |w: Option<&str>| -> anyhow::Result<u64> {
            w.context("missing number")?.parse().context("not a number")
        };
        Ok(match name {
            "pass" => Mode::Pass,
            "latency" => Mode::Latency(arg(words.next())?),
            "bandwidth" => Mode::Bandwidth(arg(words.next())?.max(1)),
            "stall" => Mode::Stall,
            "blackhole" => Mode::Blackhole,
            "down" => Mode::Down,
            other => bail!("unknown mode {other:?}"),
        })
    }
}

struct Shared {
    upstream: String,
    mode: watch::Sender<Mode>,
    /// Bumped by every reset (and by `down`): connections older than it close with RST.
    kill: watch::Sender<u64>,
    /// Connections accepted so far.
    accepted: AtomicU64,
}

/// A running proxy; cheap to clone, stops when the runtime does.
#[derive(Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
    listen: SocketAddr,
}

impl Proxy {
    /// Listens on `listen` (port 0 picks a free port) and forwards to `upstream` (host:port).
    pub async fn start(listen: &str, upstream: &str) -> anyhow::Result<Proxy> {
        let listener = TcpListener::bind(listen).await.context("proxy bind")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            mode: watch::channel(Mode::Pass).0,
            kill: watch::channel(0).0,
            accepted: AtomicU64::new(0),
        });
        tokio::spawn(accept_loop(listener, addr, shared.clone()));
        Ok(Proxy {
            shared,
            listen: addr,
        })
    }

    /// The local address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.listen
    }

    /// Switches the mode; `down` also resets every open connection.
    pub fn set(&self, mode: Mode) {
        self.shared.mode.send_replace(mode);
        if mode == Mode::Down {
            self.reset();
        }
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        *self.shared.mode.borrow()
    }

    /// Resets (RST) every open connection once; the mode stays.
    pub fn reset(&self) {
        self.shared.kill.send_modify(|k| *k += 1);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }
}

async fn accept_loop(listener: TcpListener, addr: SocketAddr, shared: Arc<Shared>) {
    let mut mode = shared.mode.subscribe();
    let mut listener = Some(listener);
    loop {
        let Some(l) = listener.as_ref() else {
            // Down: the port is closed until the mode changes, then bound again.
            if mode.changed().await.is_err() {
                return;
            }
            let up = *mode.borrow() != Mode::Down;
            if up {
                listener = rebind(addr, &mut mode).await;
            }
            continue;
        };
        tokio::select! {
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
                if *mode.borrow() == Mode::Down {
                    listener = None;
                }
            }
            accepted = l.accept() => {
                if let Ok((client, _)) = accepted {
                    shared.accepted.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(connection(client, shared.clone()));
                }
            }
        }
    }
}

/// Binds `addr` again after `down` (retrying while the kernel still holds the port).
async fn rebind(addr: SocketAddr, mode: &mut watch::Receiver<Mode>) -> Option<TcpListener> {
    loop {
        let down = *mode.borrow() == Mode::Down;
        if down {
            return None;
        }
        match TcpListener::bind(addr).await {
            Ok(l) => return Some(l),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Waits while the mode is `stall`.
async fn while_stalled(mode: &mut watch::Receiver<Mode>) {
    loop {
        let now = *mode.borrow_and_update();
        if now != Mode::Stall {
            return;
        }
        if mode.changed().await.is_err() {
            return;
        }
    }
}

async fn connection(client: TcpStream, shared: Arc<Shared>) {
    let mut kill = shared.kill.subscribe();
    kill.borrow_and_update();
    let mut mode = shared.mode.subscribe();
    let _ = client.set_nodelay(true);
    // A partition: the client's connection is open, but nothing reaches the upstream yet.
    let upstream = tokio::select! {
        _ = kill.changed() => None,
        up = async {
            while_stalled(&mut mode).await;
            let dropping = *mode.borrow() == Mode::Blackhole;
            if dropping {
                return None;
            }
            TcpStream::connect(&shared.upstream).await.ok()
        } => up,
    };
    let Some(upstream) = upstream else {
        let dropping = *mode.borrow() == Mode::Blackhole;
        if dropping {
            swallow(client, &mut kill).await;
        } else {
            let _ = client.set_zero_linger();
        }
        return;
    };
    let _ = upstream.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    // Once a blackhole has seen this connection, its bytes are lost for good, both ways.
    let poisoned = AtomicBool::new(false);
    let watch_poison = async {
        loop {
            let now = *mode.borrow_and_update();
            if now == Mode::Blackhole {
                poisoned.store(true, Ordering::Relaxed);
            }
            if mode.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    let killed = tokio::select! {
        _ = kill.changed() => true,
        _ = watch_poison => false,
        _ = async {
            tokio::join!(
                pipe(&mut cr, &mut uw, &shared, &poisoned),
                pipe(&mut ur, &mut cw, &shared, &poisoned)
            )
        } => false,
    };
    if killed {
        let _ = cw.as_ref().set_zero_linger();
        let _ = uw.as_ref().set_zero_linger();
    }
}

/// Reads and discards everything until the peer closes or a reset.
async fn swallow(mut s: TcpStream, kill: &mut watch::Receiver<u64>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            _ = kill.changed() => {
                let _ = s.set_zero_linger();
                return;
            }
            n = s.read(&mut buf) => {
                if !matches!(n, Ok(n) if n > 0) {
                    return;
                }
            }
        }
    }
}

/// One direction: a reader that stamps each chunk with its delivery time, a writer that holds
/// it until then (and while black-holed), paced by the bandwidth cap.
async fn pipe(
    r: &mut OwnedReadHalf,
    w: &mut OwnedWriteHalf,
    shared: &Shared,
    poisoned: &AtomicBool,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(64);
    let mut mode_r = shared.mode.subscribe();
    let mut mode_w = shared.mode.subscribe();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mode = *mode_r.borrow_and_update();
            if mode == Mode::Blackhole {
                poisoned.store(true, Ordering::Relaxed);
            }
            if poisoned.load(Ordering::Relaxed) {
                continue;
            }
            let delay = match mode {
                Mode::Latency(ms) => Duration::from_millis(ms),
                _ => Duration::ZERO,
            };
            if tx
                .send((Instant::now() + delay, buf[..n].to_vec()))
                .await
                .is_err()
            {
                break;
            }
        }
        // Dropping `tx` ends the writer, which forwards the EOF.
    };
    let writer = async move {
        while let Some((at, bytes)) = rx.recv().await {
            tokio::time::sleep_until(at.into()).await;
            while_stalled(&mut mode_w).await;
            let now = *mode_w.borrow();
            if now == Mode::Blackhole || poisoned.load(Ordering::Relaxed) {
                continue;
            }
            // Under a bandwidth cap, slices of 1/20 s worth of bytes, each after its time.
            let slice = match now {
                Mode::Bandwidth(bps) => (bps as usize / 20).max(1),
                _ => bytes.len().max(1),
            };
            for part in bytes.chunks(slice) {
                if let Mode::Bandwidth(bps) = now {
                    let secs = part.len() as f64 / bps as f64;
                    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
                }
                if w.write_all(part).await.is_err() {
                    return;
                }
            }
        }
        let _ = w.shutdown().await;
    };
    tokio::join!(reader, writer);
}

/// `lg-bench proxy`: one proxy with a line-based control port; runs until killed.
pub async fn run(listen: &str, upstream: &str, control: &str) -> anyhow::Result<()> {
    let proxy = Proxy::start(listen, upstream).await?;
    let control = TcpListener::bind(control).await.context("control bind")?;
    eprintln!(
        "proxy {} -> {upstream}, control on {}",
        proxy.addr(),
        control.local_addr()?
    );
    loop {
        let (s, _) = control.accept().await?;
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let (r, mut w) = s.into_split();
            let mut line = String::new();
            if BufReader::new(r).read_line(&mut line).await.is_err() {
                return;
            }
            let cmd = line.trim();
            let answer = if cmd == "reset" {
                proxy.reset();
                format!("ok reset {:?}\n", proxy.mode())
            } else if cmd == "status" || cmd.is_empty() {
                format!("ok {:?} accepted={}\n", proxy.mode(), proxy.accepted())
            } else {
                match Mode::parse(cmd) {
                    Ok(m) => {
                        proxy.set(m);
                        format!("ok {m:?}\n")
                    }
                    Err(e) => format!("error {e}\n"),
                }
            };
            let _ = w.write_all(answer.as_bytes()).await;
        });
    }
}
