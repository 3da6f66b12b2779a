//! A session's output. Replies and events are written straight to the
//! socket when it takes them at once; otherwise they queue here and a writer
//! task sends them. The queue is bounded: a client that stops reading is
//! dropped once its backlog passes the limit, so it cannot hold memory or
//! stall others.

use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

use qmp_wire::io::SocketWriter;

use crate::conn::ConnWriter;

/// Output a session may have waiting for a slow client before it is
/// dropped (bytes). QEMU itself buffers without a limit.
pub const MAX_OUTPUT_BACKLOG: usize = 8 << 20;

#[derive(Default)]
struct State {
    buffer: Vec<u8>,
    /// The writer task is sending a batch taken from `buffer`.
    busy: bool,
    closed: bool,
    overflowed: bool,
}

/// The queue between a session and its writer task.
#[derive(Default)]
pub(crate) struct Outbox {
    state: Mutex<State>,
    /// The socket, for writing directly when nothing is queued.
    direct: Option<Arc<SocketWriter>>,
    wake_writer: Notify,
    closed: Notify,
    /// An injected fault: output written in pieces of this size.
    chunk: Option<usize>,
}

impl Outbox {
    /// An outbox for `writer`; returns it with the writer task's half.
    /// With `chunk`, everything goes through the writer task, in pieces.
    pub(crate) fn new(writer: ConnWriter, chunk: Option<usize>) -> (Outbox, WriterTask) {
        let chunk = chunk.filter(|&n| n > 0);
        match writer {
            ConnWriter::Socket(socket) => {
                let socket = Arc::new(socket);
                let outbox = Outbox {
                    direct: chunk.is_none().then(|| Arc::clone(&socket)),
                    chunk,
                    ..Outbox::default()
                };
                (outbox, WriterTask::Socket(socket))
            }
            ConnWriter::Stream(stream) => (
                Outbox {
                    chunk,
                    ..Outbox::default()
                },
                WriterTask::Stream(stream),
            ),
        }
    }

    /// Sends or queues encoded output; false when the session is closed or
    /// just overflowed (and is now closed).
    pub(crate) fn push(&self, mut bytes: &[u8]) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        if state.closed {
            return false;
        }
        if let (false, true, Some(socket)) = (state.busy, state.buffer.is_empty(), &self.direct) {
            while !bytes.is_empty() {
                match socket.try_write(bytes) {
                    Ok(n) if n > 0 => bytes = bytes.get(n..).unwrap_or_default(),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    _ => {
                        state.closed = true;
                        drop(state);
                        self.wake_writer.notify_one();
                        self.closed.notify_waiters();
                        return false;
                    }
                }
            }
            if bytes.is_empty() {
                return true;
            }
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

    /// Takes the queued output for the writer; `None` when the writer
    /// should stop (closed and drained, or overflowed).
    fn take_batch(&self, batch: &mut Vec<u8>) -> Option<bool> {
        let mut state = self.state.lock().ok()?;
        state.busy = false;
        if state.overflowed {
            return None;
        }
        if state.buffer.is_empty() {
            return if state.closed { None } else { Some(false) };
        }
        std::mem::swap(batch, &mut state.buffer);
        state.busy = true;
        Some(true)
    }

    /// The writer task: sends queued output until the outbox closes and is
    /// drained, or writing fails. An overflowed outbox is not drained.
    pub(crate) async fn run_writer(&self, mut writer: WriterTask) {
        let mut batch = Vec::new();
        loop {
            let notified = self.wake_writer.notified();
            match self.take_batch(&mut batch) {
                None => break,
                Some(false) => notified.await,
                Some(true) => {
                    if self.write_batch(&mut writer, &batch).await.is_err() {
                        break;
                    }
                    batch.clear();
                }
            }
        }
        self.close();
        writer.shutdown().await;
    }
}

impl Outbox {
    /// Writes one batch: whole, or in the injected fault's pieces.
    async fn write_batch(&self, writer: &mut WriterTask, batch: &[u8]) -> std::io::Result<()> {
        let Some(size) = self.chunk else {
            return writer.write_all(batch).await;
        };
        for piece in batch.chunks(size) {
            writer.write_all(piece).await?;
            tokio::task::yield_now().await;
        }
        Ok(())
    }
}

/// The writer task's side of the connection.
pub(crate) enum WriterTask {
    Socket(Arc<SocketWriter>),
    Stream(Box<dyn tokio::io::AsyncWrite + Unpin + Send>),
}

impl WriterTask {
    async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            WriterTask::Socket(socket) => socket.write_all(bytes).await,
            WriterTask::Stream(stream) => {
                stream.write_all(bytes).await?;
                stream.flush().await
            }
        }
    }

    async fn shutdown(&mut self) {
        if let WriterTask::Stream(stream) = self {
            let _ = stream.shutdown().await;
        }
    }
}
