//! The WebSocket connection's writer: one task per connection sends the queued messages, and a
//! close can jump a full queue (a client too slow to read).

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::SinkExt;
use tokio::sync::{mpsc, watch};

/// How long a close frame may take to go out before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Sends a close frame and closes, giving a client that does not read [`CLOSE_GRACE`].
async fn close_sink(
    sink: &mut futures::stream::SplitSink<WebSocket, Message>,
    code: u16,
    reason: String,
) {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        let _ = sink.send(frame).await;
        let _ = sink.close().await;
    })
    .await;
}

/// A message for the writer.
pub(super) enum Out {
    /// A text frame.
    Text(String),
    /// A close frame (code, reason).
    Close(u16, String),
}

/// The connection's writer task: sends queued messages; a close from `kill_rx` jumps the queue
/// (a client too slow to read).
pub(super) async fn write_loop(
    mut sink: futures::stream::SplitSink<WebSocket, Message>,
    mut out_rx: mpsc::Receiver<Out>,
    mut kill_rx: watch::Receiver<Option<(u16, String)>>,
) {
    loop {
        let out = tokio::select! {
            biased;
            Ok(()) = kill_rx.changed() => {
                let kill = kill_rx.borrow_and_update().clone();
                match kill {
                    Some((code, reason)) => Out::Close(code, reason),
                    None => continue,
                }
            }
            out = out_rx.recv() => match out { Some(out) => out, None => break },
        };
        match out {
            Out::Text(t) => tokio::select! {
                res = sink.send(Message::Text(t.into())) => if res.is_err() { break },
                Ok(()) = kill_rx.changed() => {
                    let kill = kill_rx.borrow_and_update().clone();
                    if let Some((code, reason)) = kill {
                        close_sink(&mut sink, code, reason).await;
                    }
                    break;
                }
            },
            Out::Close(code, reason) => {
                close_sink(&mut sink, code, reason).await;
                break;
            }
        }
    }
}

/// Sends the close frame after what is queued (first, when the queue is full) and waits a
/// moment for the writer to finish.
pub(super) async fn close_connection(
    closing: Option<(u16, String)>,
    out_tx: mpsc::Sender<Out>,
    kill_tx: watch::Sender<Option<(u16, String)>>,
    mut writer: tokio::task::JoinHandle<()>,
) {
    // The close frame follows what is queued, unless the queue is full: then it goes first.
    if let Some((code, reason)) = closing {
        if let Err(mpsc::error::TrySendError::Full(Out::Close(code, reason))) =
            out_tx.try_send(Out::Close(code, reason))
        {
            let _ = kill_tx.send(Some((code, reason)));
        }
    }
    drop(out_tx);
    if tokio::time::timeout(CLOSE_GRACE * 2, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}
