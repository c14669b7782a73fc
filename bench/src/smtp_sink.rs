//! A fast SMTP sink for the send benchmark (figure h): accepts every message (ESMTP with
//! PIPELINING-free, one command per line), counts them and writes `{count, first, last}` (UNIX
//! seconds of the first and the latest accepted message) to a status file every 100 ms, so the
//! driver can compute messages per second at the sink.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};

#[derive(Default)]
struct Counts {
    count: AtomicU64,
    times: Mutex<(f64, f64)>,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

async fn session(stream: TcpStream, counts: Arc<Counts>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 lg-bench sink ESMTP\r\n").await?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let upper = String::from_utf8_lossy(&line)
            .trim_end()
            .to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-lg-bench\r\n250 8BITMIME\r\n"
        } else if upper == "DATA" {
            w.write_all(b"354 go ahead\r\n").await?;
            loop {
                line.clear();
                if r.read_until(b'\n', &mut line).await? == 0 {
                    return Ok(());
                }
                if line == b".\r\n" || line == b".\n" {
                    break;
                }
            }
            let t = now();
            if counts.count.fetch_add(1, Ordering::SeqCst) == 0 {
                if let Ok(mut g) = counts.times.lock() {
                    g.0 = t;
                }
            }
            if let Ok(mut g) = counts.times.lock() {
                g.1 = g.1.max(t);
            }
            b"250 OK queued\r\n"
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"250 OK\r\n"
        };
        w.write_all(reply).await?;
    }
}

/// Runs the sink on `listen` until killed, writing the status to `status` (and resetting the
/// counters whenever `reset` exists, which it deletes).
pub async fn run(listen: &str, status: &str) -> anyhow::Result<serde_json::Value> {
    let listener = TcpListener::bind(listen).await?;
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    let status = status.to_string();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let reset = format!("{status}.reset");
            if std::path::Path::new(&reset).exists() {
                c.count.store(0, Ordering::SeqCst);
                if let Ok(mut g) = c.times.lock() {
                    *g = (0.0, 0.0);
                }
                let _ = std::fs::remove_file(&reset);
            }
            let (first, last) = c.times.lock().map(|g| *g).unwrap_or_default();
            let body = serde_json::json!({
                "count": c.count.load(Ordering::SeqCst), "first": first, "last": last
            });
            let tmp = format!("{status}.tmp");
            if std::fs::write(&tmp, body.to_string()).is_ok() {
                let _ = std::fs::rename(&tmp, &status);
            }
        }
    });
    loop {
        let (stream, _) = listener.accept().await?;
        let counts = counts.clone();
        tokio::spawn(async move {
            let _ = session(stream, counts).await;
        });
    }
}
