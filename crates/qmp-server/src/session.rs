//! One connection's session: greeting, negotiation state, reading with
//! QEMU's suspension rules, the in-band queue, out-of-band execution, the
//! descriptors received on the connection, and output.
//!
//! Reading follows QEMU's monitor exactly:
//! * without `oob`, one request at a time: after a request, nothing more is
//!   read (not even lexed) until it has been answered;
//! * with `oob`, up to [`MAX_QUEUED_REQUESTS`] in-band requests wait in the
//!   queue; when it is full, reading stops until one is taken out;
//! * input with `exec-oob` and no `execute` runs at once, as it is read, and
//!   can overtake a running in-band command; everything else (JSON errors
//!   included) is answered in order.
//!
//! Closing the connection drops queued requests; a command already running
//! finishes and its reply is discarded.

use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesOrdered, StreamExt};
use qmp_wire::io::BusyPoll;
use qmp_wire::{Decoded, Decoder, Encoder, Response, Value};

use crate::commands::Reply;
use crate::conn::Connection;
use crate::dispatch::{dispatch, is_out_of_band, Outgoing};
use crate::fds::{NamedFds, ReceivedFds};
use crate::outbox::Outbox;
use crate::server::ServerShared;
use crate::Mode;

/// QEMU's in-band queue length per monitor (`QMP_REQ_QUEUE_LEN_MAX`).
pub const MAX_QUEUED_REQUESTS: usize = 8;

/// Bytes read from the connection at a time.
const READ_CHUNK: usize = 4096;

/// How long a closing session waits for its last output to be read.
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The byte QEMU's guest agent writes before a `guest-sync-delimited` reply.
pub const QGA_SENTINEL: u8 = 0xFF;

/// What the sessions of one monitor (one listener, as one QEMU `-mon`)
/// share across reconnects.
#[derive(Debug, Default)]
pub(crate) struct MonitorState {
    /// Descriptors named by `getfd`.
    pub(crate) named_fds: NamedFds,
}

/// State shared between a session's task, its handlers and the event bus.
pub(crate) struct SessionShared {
    id: u64,
    encoder: Encoder,
    negotiated: AtomicBool,
    oob: AtomicBool,
    delimit_next: AtomicBool,
    close_requested: AtomicBool,
    received_fds: Mutex<ReceivedFds>,
    monitor: Arc<MonitorState>,
    pub(crate) outbox: Outbox,
    /// Messages left before an injected disconnect.
    messages_left: Option<std::sync::atomic::AtomicUsize>,
    /// An injected fault: an event before every reply.
    interleave_events: bool,
    /// An injected fault: every Nth reply malformed.
    malformed_every: Option<usize>,
    /// Replies sent (for `malformed_every`).
    replies: std::sync::atomic::AtomicUsize,
}

impl SessionShared {
    /// Sends one message now; false when the session is gone.
    fn push(&self, bytes: &[u8]) -> bool {
        self.count_message(self.outbox.push(bytes))
    }

    /// Queues one reply until the session next waits (see [`Outbox::hold`]).
    fn hold(&self, bytes: &[u8]) -> bool {
        self.count_message(self.outbox.hold(bytes))
    }

    /// After the last message an injected fault allows, the connection is
    /// dropped.
    fn count_message(&self, pushed: bool) -> bool {
        if let Some(left) = &self.messages_left {
            if left.fetch_sub(1, Ordering::SeqCst) <= 1 {
                tracing::info!(session = self.id, "injected fault: dropping the connection");
                self.outbox.close();
            }
        }
        pushed
    }

    /// Queues an event for this session; false when the session is gone.
    pub(crate) fn send_event(&self, event: &Value) -> bool {
        let mut bytes = Vec::with_capacity(128);
        self.encoder.write_message(event, &mut bytes);
        self.push(&bytes)
    }

    /// Queues a pre-encoded event as it is (re-encoded for a pretty session).
    pub(crate) fn send_encoded_event(&self, event: &crate::EncodedJson) -> bool {
        if self.encoder.pretty {
            return self.send_event(event.value());
        }
        let mut bytes = Vec::with_capacity(event.compact().len() + 2);
        bytes.extend_from_slice(event.compact());
        bytes.extend_from_slice(self.line_ending());
        self.push(&bytes)
    }

    fn line_ending(&self) -> &'static [u8] {
        match self.encoder.line_ending {
            qmp_wire::LineEnding::CrLf => b"\r\n",
            qmp_wire::LineEnding::Lf => b"\n",
        }
    }

    /// Holds the descriptors of the latest read in place of the earlier ones.
    fn hold_received_fds(&self, fds: Vec<OwnedFd>, server: &ServerShared) {
        let Ok(mut received) = self.received_fds.lock() else {
            return;
        };
        let refused = received.replace(fds, &server.fd_budget);
        if refused > 0 {
            tracing::warn!(
                session = self.id,
                refused,
                held = server.fd_budget.held(),
                "closed passed file descriptors: the server's budget of unclaimed descriptors is spent"
            );
        }
    }

    /// Queues the reply for one request (after an interleaved event, when
    /// that fault is injected), held until the session next waits.
    fn send_reply(&self, outgoing: Outgoing) {
        if self.interleave_events {
            self.send_event(&crate::faults::interleaved_event().to_value());
        }
        if let Some(every) = self.malformed_every {
            let n = self.replies.fetch_add(1, Ordering::SeqCst) + 1;
            if n % every == 0 {
                let mut bytes = crate::faults::MALFORMED_REPLY.to_vec();
                bytes.extend_from_slice(self.line_ending());
                self.hold(&bytes);
                return;
            }
        }
        let mut bytes = Vec::with_capacity(64);
        if self.delimit_next.swap(false, Ordering::SeqCst) && outgoing.result.is_ok() {
            bytes.push(QGA_SENTINEL);
        }
        match outgoing.result {
            Ok(Reply::Encoded(encoded)) if !self.encoder.pretty => {
                // {"return": <pre-encoded>, "id": ...} without re-encoding the value.
                bytes.extend_from_slice(b"{\"return\": ");
                bytes.extend_from_slice(encoded.compact());
                if let Some(id) = &outgoing.id {
                    bytes.extend_from_slice(b", \"id\": ");
                    self.encoder.write_value(id, &mut bytes);
                }
                bytes.push(b'}');
                bytes.extend_from_slice(self.line_ending());
            }
            result => {
                let result = result.map(|reply| match reply {
                    Reply::Value(value) => value,
                    Reply::Encoded(encoded) => encoded.value().clone(),
                    // Dispatch sends nothing for it; never reached.
                    Reply::Nothing => Value::Object(qmp_wire::Map::new()),
                });
                let response = Response {
                    result,
                    id: outgoing.id,
                };
                self.encoder.write_message(&response.to_value(), &mut bytes);
            }
        }
        self.hold(&bytes);
    }
}

/// A session as handlers see it.
#[derive(Clone)]
pub struct SessionHandle(pub(crate) Arc<SessionShared>);

impl SessionHandle {
    /// A number unique among the server's sessions.
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// True once capabilities negotiation is complete (always, for the guest agent).
    pub fn negotiated(&self) -> bool {
        self.0.negotiated.load(Ordering::SeqCst)
    }

    /// True when the session enabled out-of-band execution.
    pub fn oob_enabled(&self) -> bool {
        self.0.oob.load(Ordering::SeqCst)
    }

    pub(crate) fn complete_negotiation(&self, oob: bool) {
        self.0.oob.store(oob, Ordering::SeqCst);
        self.0.negotiated.store(true, Ordering::SeqCst);
    }

    pub(crate) fn shared(&self) -> &Arc<SessionShared> {
        &self.0
    }

    /// Takes the first file descriptor of the latest input that carried
    /// any, and closes the others that came with it (what QEMU's `getfd`
    /// and `add-fd` do). `None` when the connection holds none.
    pub fn take_received_fd(&self) -> Option<OwnedFd> {
        self.0.received_fds.lock().ok()?.claim()
    }

    /// Takes every descriptor of the latest input that carried any (a
    /// forwarding handler passes them on with the command).
    pub fn take_received_fds(&self) -> Vec<OwnedFd> {
        self.0
            .received_fds
            .lock()
            .map(|mut fds| fds.take_all())
            .unwrap_or_default()
    }

    /// Number of received, unclaimed descriptors (at most
    /// [`MAX_FDS_PER_READ`](crate::MAX_FDS_PER_READ)).
    pub fn received_fd_count(&self) -> usize {
        self.0.received_fds.lock().map_or(0, |f| f.len())
    }

    /// Stores `fd` under `name` in this session's monitor (as QEMU does, the
    /// name outlives the session: a client that reconnects finds it);
    /// returns the descriptor it replaces.
    pub fn set_named_fd(&self, name: &str, fd: OwnedFd) -> Option<OwnedFd> {
        self.0.monitor.named_fds.insert(name, fd)
    }

    /// Removes and returns the descriptor named `name`.
    pub fn take_named_fd(&self, name: &str) -> Option<OwnedFd> {
        self.0.monitor.named_fds.remove(name)
    }

    /// The names of the monitor's named descriptors.
    pub fn named_fds(&self) -> Vec<String> {
        self.0.monitor.named_fds.names()
    }

    /// Prefixes the next reply with the guest agent's 0xFF sentinel
    /// (what `guest-sync-delimited` does).
    pub fn delimit_next_reply(&self) {
        self.0.delimit_next.store(true, Ordering::SeqCst);
    }

    /// Closes the connection once the current reply is sent (`quit`).
    pub fn close_after_reply(&self) {
        self.0.close_requested.store(true, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

/// The in-band commands a session runs: one for QEMU, up to
/// [`ServerConfig::in_band_pipeline`](crate::ServerConfig::in_band_pipeline)
/// for a forwarding server. Started in request order, answered in request
/// order.
struct InBand {
    running: FuturesOrdered<BoxFuture<'static, Option<Outgoing>>>,
    limit: usize,
}

impl InBand {
    fn full(&self) -> bool {
        self.running.len() >= self.limit
    }

    /// The reply of a command that has finished (`None` inside when it
    /// sends none), without waiting; `None` when none has.
    async fn finished_now(&mut self) -> Option<Option<Outgoing>> {
        std::future::poll_fn(|cx| match self.running.poll_next_unpin(cx) {
            Poll::Ready(Some(done)) => Poll::Ready(Some(done)),
            Poll::Ready(None) | Poll::Pending => Poll::Ready(None),
        })
        .await
    }

    /// The next command's reply (`None` inside when it sends none); pending
    /// while nothing runs.
    async fn next_done(&mut self) -> Option<Outgoing> {
        match self.running.next().await {
            Some(outgoing) => outgoing,
            None => std::future::pending().await,
        }
    }
}

/// Whether QEMU would stop reading this session's input now.
fn suspended(oob: bool, queued: usize, in_band: &InBand) -> bool {
    if oob {
        queued >= MAX_QUEUED_REQUESTS
    } else {
        in_band.full() || queued > 0
    }
}

async fn run_in_band(
    server: Arc<ServerShared>,
    session: SessionHandle,
    item: Decoded,
) -> Option<Outgoing> {
    // QEMU runs in-band commands of all monitors one at a time in its main loop.
    let _main_loop = match server.config.serialize_in_band {
        true => Some(server.main_loop.lock().await),
        false => None,
    };
    let outgoing = dispatch(&server, &session, item).await;
    server.reply_delays.wait().await;
    outgoing
}

/// What the session loop goes on with.
enum Wake {
    /// An in-band command finished (`None` inside: it sends no reply).
    Done(Option<Outgoing>),
    /// Input arrived (0: the client left).
    Read(std::io::Result<usize>),
    /// The output side closed.
    Closed,
    /// The server is shutting down.
    Shutdown,
}

/// Reads input, busy-polling first when `poll` is given.
async fn read_polling(
    reader: &mut crate::conn::ConnReader,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    poll: Option<&mut BusyPoll>,
) -> std::io::Result<usize> {
    match poll {
        Some(poll) => poll.wait(reader.read(buf, fds)).await,
        None => reader.read(buf, fds).await,
    }
}

/// Takes in buffered `input` as far as QEMU would and starts the in-band
/// commands it queues; returns the bytes taken. A command started makes
/// room, so what is left is taken in again: a pipeline of buffered
/// requests all starts now, not one per reply. Out-of-band requests run
/// as they are read.
async fn take_in(
    server: &Arc<ServerShared>,
    session: &SessionHandle,
    decoder: &mut Decoder,
    input: &[u8],
    queue: &mut VecDeque<Decoded>,
    in_band: &mut InBand,
) -> usize {
    let shared = session.shared();
    let mut taken = 0;
    loop {
        while taken < input.len() && !suspended(session.oob_enabled(), queue.len(), in_band) {
            taken += decoder.feed_until_message(input.get(taken..).unwrap_or_default());
            while let Some(item) = decoder.next() {
                // Without oob QEMU reads nothing while a command runs, so
                // an exec-oob (refused) never overtakes one: in a pipeline
                // it must wait its turn.
                if is_out_of_band(&item) && (session.oob_enabled() || in_band.limit == 1) {
                    // What is held leaves first: this may wait.
                    shared.outbox.flush();
                    if let Some(outgoing) = dispatch(server, session, item).await {
                        server.reply_delays.wait().await;
                        shared.send_reply(outgoing);
                    }
                } else {
                    queue.push_back(item);
                }
            }
        }
        let mut started = false;
        while !in_band.full() {
            let Some(item) = queue.pop_front() else { break };
            let future = run_in_band(Arc::clone(server), session.clone(), item);
            in_band.running.push_back(Box::pin(future));
            started = true;
        }
        if !started || taken == input.len() {
            return taken;
        }
    }
}

/// Runs a session on `conn` until the client leaves, the session is closed
/// or the server shuts down.
pub(crate) async fn run(
    server: Arc<ServerShared>,
    monitor: Arc<MonitorState>,
    encoder: Encoder,
    conn: Connection,
) {
    let Connection { mut reader, writer } = conn;
    let (outbox, writer) = Outbox::new(writer, server.config.faults.chunk);
    let shared = Arc::new(SessionShared {
        id: server.next_session_id(),
        encoder,
        negotiated: AtomicBool::new(server.config.mode == Mode::GuestAgent),
        oob: AtomicBool::new(false),
        delimit_next: AtomicBool::new(false),
        close_requested: AtomicBool::new(false),
        received_fds: Mutex::new(ReceivedFds::default()),
        monitor,
        outbox,
        messages_left: server
            .config
            .faults
            .disconnect_after
            .map(std::sync::atomic::AtomicUsize::new),
        interleave_events: server.config.faults.interleave_events,
        malformed_every: server.config.faults.malformed_every.filter(|&n| n > 0),
        replies: std::sync::atomic::AtomicUsize::new(0),
    });
    let session = SessionHandle(Arc::clone(&shared));
    let writer_task = tokio::spawn({
        let shared = Arc::clone(&shared);
        async move { shared.outbox.run_writer(writer).await }
    });
    if server.config.mode == Mode::Qmp {
        shared.send_event(&server.greeting());
    }
    tracing::info!(session = shared.id, "session started");

    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; READ_CHUNK];
    let (mut start, mut end) = (0, 0);
    let mut fds = Vec::new();
    let mut queue: VecDeque<Decoded> = VecDeque::new();
    let mut in_band = InBand {
        running: FuturesOrdered::new(),
        limit: server.config.in_band_pipeline.max(1),
    };
    let mut draining = false;
    let mut shutdown = server.shutdown_signal();
    let mut busy_poll = BusyPoll::new(server.config.busy_poll);
    loop {
        start += take_in(
            &server,
            &session,
            &mut decoder,
            buf.get(start..end).unwrap_or_default(),
            &mut queue,
            &mut in_band,
        )
        .await;
        if draining && in_band.running.is_empty() && queue.is_empty() {
            break;
        }
        let can_read =
            !draining && start == end && !suspended(session.oob_enabled(), queue.len(), &in_band);
        // Replies ready together leave together: what is held is written
        // once nothing more can be done without waiting.
        let wake = match in_band.finished_now().await {
            Some(done) => Wake::Done(done),
            None => {
                shared.outbox.flush();
                // A session with commands running is woken by their
                // replies: it busy-polls its input only when idle.
                let poll = in_band.running.is_empty().then_some(&mut busy_poll);
                tokio::select! {
                    biased;
                    done = in_band.next_done(), if !in_band.running.is_empty() => Wake::Done(done),
                    read = read_polling(&mut reader, &mut buf, &mut fds, poll), if can_read => Wake::Read(read),
                    () = shared.outbox.wait_closed() => Wake::Closed,
                    _ = shutdown.changed(), if !draining => Wake::Shutdown,
                }
            }
        };
        match wake {
            Wake::Done(done) => {
                if let Some(outgoing) = done {
                    shared.send_reply(outgoing);
                }
                if shared.close_requested.load(Ordering::SeqCst) {
                    break;
                }
            }
            Wake::Read(Ok(0) | Err(_)) | Wake::Closed => break,
            Wake::Read(Ok(n)) => {
                start = 0;
                end = n;
                if !fds.is_empty() {
                    shared.hold_received_fds(std::mem::take(&mut fds), &server);
                }
            }
            Wake::Shutdown => draining = true,
        }
    }
    if !in_band.running.is_empty() {
        // Running commands finish; their replies go nowhere.
        tokio::spawn(in_band.running.for_each(|_| async {}));
    }
    shared.outbox.close();
    if shared.outbox.overflowed() {
        // The writer may be stuck writing to a client that does not read.
        writer_task.abort();
        tracing::warn!(
            session = shared.id,
            "client dropped: it stopped reading its replies"
        );
    } else if tokio::time::timeout(FLUSH_TIMEOUT, writer_task)
        .await
        .is_err()
    {
        tracing::warn!(
            session = shared.id,
            "client dropped: final output not read in time"
        );
    }
    tracing::info!(session = shared.id, "session ended");
}
