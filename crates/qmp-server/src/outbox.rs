//! A session's output. Events are written straight to the socket when it
//! takes them at once; replies are held until the session is about to wait,
//! so that replies ready together leave in one write (one wake-up of the
//! client instead of one per reply). Whatever the socket does not take at
//! once queues here and a writer task sends it. The queue is bounded: a
//! client that stops reading is dropped once its backlog passes the limit,
//! so it cannot hold memory or stall others.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

use qmp_wire::io::SocketWriter;

use crate::conn::ConnWriter;

/// Output a session may have waiting for a slow client before it is
/// dropped (bytes). QEMU itself buffers without a limit.
pub const MAX_OUTPUT_BACKLOG: usize = 8 << 20;

/// Held output is flushed at once when it grows past this (bytes).
const MAX_HELD: usize = 64 << 10;

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
    pub(crate) fn push(&self, bytes: &[u8]) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        if state.closed {
            return false;
        }
        let mut bytes = bytes;
        if !state.busy && state.buffer.is_empty() {
            match self.write_direct(bytes) {
                Ok(written) => bytes = bytes.get(written..).unwrap_or_default(),
                Err(()) => return self.fail(&mut state),
            }
            if bytes.is_empty() {
                return true;
            }
        }
        if !self.append(&mut state, bytes) {
            return false;
        }
        drop(state);
        self.wake_writer.notify_one();
        true
    }

    /// Queues encoded output to be written at the next [`flush`](Self::flush)
    /// (or earlier: with output pushed meanwhile, by a writer task already
    /// at work, or at once when much is held); false when the session is
    /// closed or just overflowed.
    pub(crate) fn hold(&self, bytes: &[u8]) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        if state.closed || !self.append(&mut state, bytes) {
            return false;
        }
        if state.buffer.len() >= MAX_HELD {
            return self.flush_locked(state);
        }
        true
    }

    /// Writes held output: straight to the socket when the writer task is
    /// idle, else through it.
    pub(crate) fn flush(&self) {
        if let Ok(state) = self.state.lock() {
            self.flush_locked(state);
        }
    }

    fn flush_locked(&self, mut state: MutexGuard<'_, State>) -> bool {
        if state.closed || state.busy || state.buffer.is_empty() {
            // A busy writer takes the buffer after its current batch.
            return !state.closed;
        }
        let Ok(written) = self.write_direct(&state.buffer) else {
            return self.fail(&mut state);
        };
        state.buffer.drain(..written);
        if !state.buffer.is_empty() {
            drop(state);
            self.wake_writer.notify_one();
        }
        true
    }

    /// Writes what the socket takes at once, when it can be written
    /// without the writer task; `Err` when the connection failed.
    fn write_direct(&self, mut bytes: &[u8]) -> Result<usize, ()> {
        let Some(socket) = &self.direct else {
            return Ok(0);
        };
        let total = bytes.len();
        while !bytes.is_empty() {
            match socket.try_write(bytes) {
                Ok(n) if n > 0 => bytes = bytes.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                _ => return Err(()),
            }
        }
        Ok(total - bytes.len())
    }

    /// Adds `bytes` to the queue; false (and closed) past the backlog limit.
    fn append(&self, state: &mut State, bytes: &[u8]) -> bool {
        if state.buffer.len() + bytes.len() > MAX_OUTPUT_BACKLOG {
            state.overflowed = true;
            return self.fail(state);
        }
        state.buffer.extend_from_slice(bytes);
        true
    }

    /// Closes after a failed write or an overflow; always false.
    fn fail(&self, state: &mut State) -> bool {
        state.closed = true;
        self.wake_writer.notify_one();
        self.closed.notify_waiters();
        false
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixStream as StdUnixStream;
    use std::time::Duration;

    /// An outbox writing to one end of a socket pair, its writer task
    /// running on a worker thread, and the other end (blocking).
    fn outbox() -> (Arc<Outbox>, StdUnixStream) {
        let (ours, theirs) = StdUnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let (_, write) = tokio::net::UnixStream::from_std(ours).unwrap().into_split();
        let (outbox, writer) = Outbox::new(ConnWriter::Socket(SocketWriter::Unix(write)), None);
        let outbox = Arc::new(outbox);
        let running = Arc::clone(&outbox);
        tokio::spawn(async move { running.run_writer(writer).await });
        (outbox, theirs)
    }

    /// What the peer reads within `wait` (one read).
    fn read_within(peer: &mut StdUnixStream, wait: Duration) -> Vec<u8> {
        peer.set_read_timeout(Some(wait)).unwrap();
        let mut buf = vec![0u8; 128 << 10];
        match peer.read(&mut buf) {
            Ok(n) => buf[..n].to_vec(),
            Err(_) => Vec::new(),
        }
    }

    /// What the peer reads until `len` bytes came (or a read times out).
    fn read_len(peer: &mut StdUnixStream, len: usize) -> Vec<u8> {
        let mut got = Vec::new();
        while got.len() < len {
            let more = read_within(peer, Duration::from_secs(5));
            if more.is_empty() {
                break;
            }
            got.extend(more);
        }
        got
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn held_output_waits_for_the_flush() {
        let (outbox, mut peer) = outbox();
        // The writer task has started and found nothing to do.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(outbox.hold(b"one\n"));
        assert!(outbox.hold(b"two\n"));
        assert_eq!(
            read_within(&mut peer, Duration::from_millis(200)),
            b"",
            "nothing is written before the flush"
        );
        outbox.flush();
        assert_eq!(read_len(&mut peer, 8), b"one\ntwo\n");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn pushed_output_follows_what_is_held() {
        let (outbox, mut peer) = outbox();
        assert!(outbox.hold(b"reply\n"));
        assert!(outbox.push(b"event\n"));
        assert_eq!(read_len(&mut peer, 12), b"reply\nevent\n");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn much_held_output_leaves_without_a_flush() {
        let (outbox, mut peer) = outbox();
        let line = [b'x'; 1024];
        for _ in 0..MAX_HELD / line.len() {
            assert!(outbox.hold(&line));
        }
        assert_eq!(read_len(&mut peer, MAX_HELD).len(), MAX_HELD);
    }
}
