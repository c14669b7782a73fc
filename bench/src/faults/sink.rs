//! An SMTP sink whose answers the scenarios switch at runtime, and that records every message it
//! accepted (its recipients and `Message-ID`), so duplicates can be counted. A message counts as
//! delivered as soon as its final `.` arrives, before the reply (a real server that commits the
//! message and then answers slowly behaves the same: the client may give up, the mail is there).
//! "Down" is not a sink mode: put a [`crate::proxy::Proxy`] in front and set it `down`.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// How the sink answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkMode {
    /// Accept everything.
    Ok,
    /// `421` at the greeting, then close (service not available).
    Greet421,
    /// `451` after the message data (the message is not kept).
    Data451,
    /// Keep the message, answer `250` only after this many seconds.
    SlowData(u64),
}

/// One accepted message.
#[derive(Clone, Debug)]
pub struct Received {
    pub rcpt: Vec<String>,
    pub message_id: Option<String>,
}

/// A running sink.
#[derive(Clone)]
pub struct Sink {
    mode: watch::Sender<SinkMode>,
    received: Arc<Mutex<Vec<Received>>>,
    pub addr: std::net::SocketAddr,
}

impl Sink {
    pub async fn start() -> anyhow::Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let sink = Sink {
            mode: watch::channel(SinkMode::Ok).0,
            received: Arc::default(),
            addr: listener.local_addr()?,
        };
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(stream).await;
                });
            }
        });
        Ok(sink)
    }

    pub fn set(&self, mode: SinkMode) {
        self.mode.send_replace(mode);
    }

    /// Every message accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|g| g.clone()).unwrap_or_default()
    }

    async fn session(&self, stream: TcpStream) -> std::io::Result<()> {
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        if *self.mode.borrow() == SinkMode::Greet421 {
            w.write_all(b"421 4.3.2 faults sink: try again later\r\n")
                .await?;
            return Ok(());
        }
        w.write_all(b"220 faults sink ESMTP\r\n").await?;
        let mut rcpt = Vec::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line).await? == 0 {
                return Ok(());
            }
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            let upper = text.to_ascii_uppercase();
            if upper.starts_with("EHLO") {
                w.write_all(b"250-faults sink\r\n250 8BITMIME\r\n").await?;
            } else if upper.starts_with("MAIL FROM") {
                rcpt.clear();
                w.write_all(b"250 OK\r\n").await?;
            } else if upper.starts_with("RCPT TO") {
                let addr = text
                    .split_once(':')
                    .map(|(_, a)| a.trim().trim_matches(['<', '>']).to_ascii_lowercase())
                    .unwrap_or_default();
                rcpt.push(addr);
                w.write_all(b"250 OK\r\n").await?;
            } else if upper == "DATA" {
                w.write_all(b"354 go ahead\r\n").await?;
                let mut message_id = None;
                let mut in_headers = true;
                loop {
                    line.clear();
                    if r.read_until(b'\n', &mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    if in_headers {
                        let l = String::from_utf8_lossy(&line);
                        if l.trim().is_empty() {
                            in_headers = false;
                        } else if l.to_ascii_lowercase().starts_with("message-id:") {
                            message_id = Some(l[11..].trim().to_string());
                        }
                    }
                }
                let mode = *self.mode.borrow();
                if mode == SinkMode::Data451 {
                    w.write_all(b"451 4.3.0 faults sink: local error, try again\r\n")
                        .await?;
                    continue;
                }
                if let Ok(mut g) = self.received.lock() {
                    g.push(Received {
                        rcpt: std::mem::take(&mut rcpt),
                        message_id,
                    });
                }
                if let SinkMode::SlowData(secs) = mode {
                    tokio::time::sleep(Duration::from_secs(secs)).await;
                }
                w.write_all(b"250 OK queued\r\n").await?;
            } else if upper == "QUIT" {
                w.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                w.write_all(b"250 OK\r\n").await?;
            }
        }
    }
}
