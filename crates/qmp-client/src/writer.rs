//! The outgoing side. A caller whose request finds nothing queued writes it
//! straight to the socket from its own task (no hand-off); whatever the
//! socket does not take at once, messages with descriptors, messages sent
//! while others are in flight, and everything on a transport that cannot
//! be written without a task go to a queue the writer task drains, batching
//! what is ready into one write. One lock orders both paths, and a message
//! is either written or queued before its caller can await anything, so a
//! cancelled call never leaves half a request behind.

use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::Notify;

use crate::session::Shared;
use crate::transcript::{MessageDirection, Transcript};
use crate::transport::{self, SocketWriter, WriteHalf};

/// Bytes gathered into one write at most.
const BATCH_BYTES: usize = 64 * 1024;

/// A message to send: its bytes and any descriptors to pass with it.
pub(crate) struct Outgoing {
    pub(crate) bytes: Vec<u8>,
    pub(crate) fds: Vec<OwnedFd>,
}

/// How a message may be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// Straight to the socket when nothing is queued.
    Direct,
    /// Through the writer task, to be batched with others.
    Queued,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Outgoing>,
    /// The writer task owns the socket: it has queued work or is writing.
    busy: bool,
    /// No more messages; the writer flushes the queue and shuts down.
    closed: bool,
}

/// What callers and the writer task share.
pub(crate) struct Outbox {
    /// The socket, when it can be written without a task.
    direct: Option<Arc<SocketWriter>>,
    queue: Mutex<Queue>,
    wake: Notify,
    transcript: Option<Arc<Transcript>>,
}

/// The writer task's end: run it with [`Writer::run`].
pub(crate) struct Writer {
    outbox: Arc<Outbox>,
    sink: Sink,
}

/// What the writer task does next.
enum Next {
    /// Write the plain messages gathered in the batch.
    Batch,
    /// Write one message with descriptors.
    WithFds(Outgoing),
    /// Nothing queued: wait.
    Idle,
    /// Nothing queued and closed: stop.
    Done,
}

enum Sink {
    Socket(Arc<SocketWriter>),
    Other(WriteHalf),
}

impl Outbox {
    /// An outbox over `half`, and the writer task's end.
    pub(crate) fn new(
        half: WriteHalf,
        transcript: Option<Arc<Transcript>>,
    ) -> (Arc<Outbox>, Writer) {
        let (direct, sink) = match half {
            WriteHalf::Socket(socket) => {
                let socket = Arc::new(socket);
                (Some(socket.clone()), Sink::Socket(socket))
            }
            other => (None, Sink::Other(other)),
        };
        let outbox = Arc::new(Outbox {
            direct,
            queue: Mutex::default(),
            wake: Notify::new(),
            transcript,
        });
        let writer = Writer {
            outbox: outbox.clone(),
            sink,
        };
        (outbox, writer)
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Every update is a single push, pop or flag: poisoning is harmless.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `message`: written now when `route` allows it and nothing is
    /// queued, else queued for the writer task. An error is a write that
    /// failed (the connection is then unusable) or a closed outbox.
    pub(crate) fn submit(&self, message: Outgoing, route: Route) -> io::Result<()> {
        let mut queue = self.lock();
        if queue.closed {
            return Err(io::ErrorKind::NotConnected.into());
        }
        if let Some(t) = &self.transcript {
            t.record(MessageDirection::Sent, &message.bytes);
        }
        let mut message = message;
        if let (Route::Direct, Some(socket), false, true) =
            (route, &self.direct, queue.busy, message.fds.is_empty())
        {
            match socket.try_write(&message.bytes) {
                Ok(n) if n == message.bytes.len() => return Ok(()),
                Ok(n) => {
                    message.bytes.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        queue.items.push_back(message);
        if !queue.busy {
            queue.busy = true;
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Accepts no more messages; the writer task sends what is queued,
    /// then shuts the socket's writing side down.
    pub(crate) fn close(&self) {
        let mut queue = self.lock();
        if !queue.closed {
            queue.closed = true;
            self.wake.notify_one();
        }
    }

    /// What the writer does next; plain messages are joined into `batch`.
    fn next(&self, batch: &mut Vec<u8>) -> Next {
        let mut queue = self.lock();
        batch.clear();
        while batch.len() < BATCH_BYTES {
            match queue.items.front() {
                Some(m) if m.fds.is_empty() => {
                    if let Some(m) = queue.items.pop_front() {
                        batch.extend_from_slice(&m.bytes);
                    }
                }
                Some(_) if batch.is_empty() => {
                    if let Some(m) = queue.items.pop_front() {
                        return Next::WithFds(m);
                    }
                }
                _ => break,
            }
        }
        if !batch.is_empty() {
            Next::Batch
        } else if queue.closed {
            Next::Done
        } else {
            queue.busy = false;
            Next::Idle
        }
    }
}

impl Writer {
    /// Runs until the outbox closes and its queue is sent, or a write fails
    /// (then the session closes).
    pub(crate) async fn run(mut self, shared: Weak<Shared>) {
        let mut batch = Vec::with_capacity(4096);
        loop {
            let result = match self.outbox.next(&mut batch) {
                Next::Idle => {
                    self.outbox.wake.notified().await;
                    continue;
                }
                Next::Done => break,
                Next::Batch => self.write(&batch, &[]).await,
                Next::WithFds(message) => self.write(&message.bytes, &message.fds).await,
            };
            if let Err(e) = result {
                tracing::debug!("write failed: {e}");
                self.outbox.close();
                if let Some(shared) = shared.upgrade() {
                    shared.close(&format!("write failed: {e}"));
                }
                return;
            }
        }
        match &mut self.sink {
            Sink::Socket(socket) => transport::shutdown(socket),
            Sink::Other(half) => half.shutdown().await,
        }
    }

    async fn write(&mut self, bytes: &[u8], fds: &[OwnedFd]) -> io::Result<()> {
        match &mut self.sink {
            Sink::Socket(socket) => transport::write_with_fds(socket, bytes, fds).await,
            Sink::Other(half) => half.write_with_fds(bytes, fds).await,
        }
    }
}
