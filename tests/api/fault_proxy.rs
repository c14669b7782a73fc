//! A TCP proxy for fault tests: passes bytes through, or black-holes every connection open at
//! that moment — bytes are read and dropped and nothing is closed, as when a peer vanishes
//! without a FIN (a dead host, a dropped NAT entry, a partitioned network). A process that only
//! watches for EOF never notices; the black-holed connections stay dead after
//! [`FaultProxy::heal`], and only new connections get through again.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

pub struct FaultProxy {
    pub port: u16,
    /// Connections accepted before this generation are black-holed.
    cutoff: Arc<AtomicU64>,
    /// Generation of the next accepted connection.
    generation: Arc<AtomicU64>,
    /// While set, new connections are black-holed as well.
    down: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy on a free loopback port forwarding to `127.0.0.1:upstream`.
    pub async fn start(upstream: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cutoff = Arc::new(AtomicU64::new(0));
        let generation = Arc::new(AtomicU64::new(0));
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (c, g, d) = (cutoff.clone(), generation.clone(), down.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let id = g.fetch_add(1, Ordering::SeqCst);
                let (c, d) = (c.clone(), d.clone());
                tokio::spawn(async move {
                    let dead = move || d.load(Ordering::SeqCst) || id < c.load(Ordering::SeqCst);
                    if dead() {
                        return swallow(client).await;
                    }
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let dead2 = dead.clone();
                    tokio::join!(pipe(cr, sw, dead), pipe(sr, cw, dead2));
                });
            }
        });
        FaultProxy {
            port,
            cutoff,
            generation,
            down,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Every open connection and every new one goes silent.
    pub fn blackhole(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.cutoff
            .store(self.generation.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// New connections pass again; the black-holed ones stay dead.
    pub fn heal(&self) {
        self.cutoff
            .store(self.generation.load(Ordering::SeqCst), Ordering::SeqCst);
        self.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to` until either side ends; once `dead()` holds, reads and drops.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    dead: impl Fn() -> bool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                if dead() {
                    // Never close a black-holed connection: the peer must not see a FIN.
                    std::future::pending::<()>().await;
                }
                return;
            }
            Ok(n) => n,
        };
        if dead() {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Reads and drops everything, never answers, never closes.
async fn swallow(mut s: TcpStream) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 {
            std::future::pending::<()>().await;
        }
    }
}
