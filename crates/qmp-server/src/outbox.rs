//! A session's output: messages queue here, a writer task sends them. The
//! backlog is bounded; a client that stops reading is dropped once its
//! backlog passes the limit, so it cannot hold memory or stall others.

use std::sync::Mutex;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

/// Output a session may have waiting for a slow client before it is
/// dropped (bytes). QEMU itself buffers without a limit.
pub const MAX_OUTPUT_BACKLOG: usize = 8 << 20;

#[derive(Default)]
struct State {
    buffer: Vec<u8>,
    closed: bool,
    overflowed: bool,
}

/// The queue between a session and its writer task.
#[derive(Default)]
pub(crate) struct Outbox {
    state: Mutex<State>,
    wake_writer: Notify,
    closed: Notify,
}

impl Outbox {
    /// Appends encoded output; false when the session is closed or just
    /// overflowed (and is now closed).
    pub(crate) fn push(&self, bytes: &[u8]) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        if state.closed {
            return false;
        }
        if state.buffer.len() + bytes.len() > MAX_OUTPUT_BACKLOG {
            state.closed = true;
            state.overflowed = true;
            drop(state);
            self.wake_writer.notify_one();
            self.closed.notify_waiters();
            return false;
        }
        state.buffer.extend_from_slice(bytes);
        drop(state);
        self.wake_writer.notify_one();
        true
    }

    /// Stops accepting output; the writer sends what is queued, then ends.
    pub(crate) fn close(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.closed = true;
        }
        self.wake_writer.notify_one();
        self.closed.notify_waiters();
    }

    /// True once closed (by the session, an overflow or a write error).
    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().map_or(true, |s| s.closed)
    }

    /// True when the client was dropped for not reading.
    pub(crate) fn overflowed(&self) -> bool {
        self.state.lock().is_ok_and(|s| s.overflowed)
    }

    /// Resolves when the outbox closes.
    pub(crate) async fn wait_closed(&self) {
        loop {
            let notified = self.closed.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// The writer task: sends queued output until the outbox closes and is
    /// drained, or writing fails. An overflowed outbox is not drained.
    pub(crate) async fn write_to<W: AsyncWrite + Unpin>(&self, mut writer: W) {
        let mut sending = Vec::new();
        loop {
            let notified = self.wake_writer.notified();
            let (closed, overflowed) = match self.state.lock() {
                Ok(mut state) => {
                    std::mem::swap(&mut sending, &mut state.buffer);
                    (state.closed, state.overflowed)
                }
                Err(_) => (true, true),
            };
            if overflowed {
                break;
            }
            if !sending.is_empty() {
                if writer.write_all(&sending).await.is_err() || writer.flush().await.is_err() {
                    break;
                }
                sending.clear();
                continue;
            }
            if closed {
                break;
            }
            notified.await;
        }
        self.close();
        let _ = writer.shutdown().await;
    }
}
