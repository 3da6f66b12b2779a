//! The state one connection shares between callers, the reader and the
//! writer: pending calls by id, the in-band limit, the event bus, and
//! closing (which fails every pending call at once).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qmp_wire::{Encoder, Map, Response, Value};
use tokio::sync::{oneshot, watch, OwnedSemaphorePermit, Semaphore};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::events::EventBus;
use crate::writer::{Outbox, Outgoing, Route};
use crate::{request, Error, Result};

type Reply = Result<Value>;

/// A call waiting for its reply. `waiter` is `None` once the caller gave
/// up (timeout or cancellation, at `abandoned`): the late reply is then
/// reported, never handed to anyone. The id stays reserved, and the in-band
/// permit is held until the reply arrives either way, since the request
/// still occupies QEMU's queue.
struct Pending {
    waiter: Option<oneshot::Sender<Reply>>,
    command: Arc<str>,
    sent: Instant,
    abandoned: Option<Instant>,
    _permit: Option<OwnedSemaphorePermit>,
}

/// Hashes the ids this client hands out (a counter): one multiplication
/// spreads consecutive ids, where SipHash would cost more than the lookup.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_i64(&mut self, id: i64) {
        self.0 = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[derive(Default)]
struct State {
    pending: HashMap<i64, Pending, BuildHasherDefault<IdHasher>>,
    /// Without in-band ids: the in-band calls in the order they were
    /// written, which is the order QEMU answers them in.
    in_band_order: VecDeque<i64>,
    closed: Option<Arc<str>>,
    /// The server ended the stream (rather than an error ending it).
    ended_by_server: bool,
}

/// See the module documentation.
pub(crate) struct Shared {
    outbox: Arc<Outbox>,
    state: Mutex<State>,
    next_id: AtomicI64,
    inband: Arc<Semaphore>,
    pub(crate) events: EventBus,
    closed: watch::Sender<Option<Arc<str>>>,
    encoder: Encoder,
    pub(crate) diagnostics: Diagnostics,
    /// Replies slower than this are reported.
    slow_warning: Option<Duration>,
    /// Send in-band requests with ids (see [`ClientConfig::in_band_ids`](crate::ClientConfig::in_band_ids)).
    in_band_ids: bool,
}

/// A request registered and sent; await [`Call::reply`].
pub(crate) struct Call {
    shared: Arc<Shared>,
    id: i64,
    rx: Option<oneshot::Receiver<Reply>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.outbox.close();
    }
}

impl Shared {
    /// New shared state sending through `outbox`.
    pub(crate) fn new(
        outbox: Arc<Outbox>,
        encoder: Encoder,
        inband_limit: usize,
        event_buffer: usize,
        slow_warning: Option<Duration>,
        in_band_ids: bool,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            outbox,
            state: Mutex::default(),
            next_id: AtomicI64::new(1),
            inband: Arc::new(Semaphore::new(inband_limit.max(1))),
            events: EventBus::new(event_buffer),
            closed: watch::Sender::new(None),
            encoder,
            diagnostics: Diagnostics::default(),
            slow_warning,
            in_band_ids,
        })
    }

    /// Registers and sends a request with a fresh id. In-band requests
    /// first wait for room under the in-band limit. Nothing is awaited
    /// after the request is registered: it is written or queued whole
    /// before the caller can be cancelled. A request that finds no other
    /// call in flight is written from this task; one sent while others are
    /// in flight goes to the writer task, to be batched with them.
    pub(crate) async fn send(
        self: &Arc<Self>,
        command: &str,
        arguments: Option<Map>,
        oob: bool,
        fds: Vec<OwnedFd>,
    ) -> Result<Call> {
        let permit = if oob {
            None
        } else {
            Some(
                self.inband
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| self.closed_error())?,
            )
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let by_order = !oob && !self.in_band_ids;
        let wire_id = (!by_order).then_some(id);
        let bytes = request::encode(&self.encoder, command, arguments, wire_id, oob);
        let (tx, rx) = oneshot::channel();
        let mut state = self.lock();
        let route = {
            if let Some(reason) = &state.closed {
                return Err(Error::Disconnected(reason.clone()));
            }
            let route = if state.pending.is_empty() {
                Route::Direct
            } else {
                Route::Queued
            };
            state.pending.insert(
                id,
                Pending {
                    waiter: Some(tx),
                    command: command.into(),
                    sent: Instant::now(),
                    abandoned: None,
                    _permit: permit,
                },
            );
            route
        };
        let call = Call {
            shared: self.clone(),
            id,
            rx: Some(rx),
        };
        if by_order {
            // Registered and written under one lock, so that the order of
            // `in_band_order` is the order on the wire.
            state.in_band_order.push_back(id);
            let submitted = self.outbox.submit(Outgoing { bytes, fds }, route);
            drop(state);
            self.after_submit(submitted)?;
        } else {
            drop(state);
            self.submit(Outgoing { bytes, fds }, route)?;
        }
        Ok(call)
    }

    /// Sends raw bytes (no reply expected).
    pub(crate) fn send_raw(&self, bytes: Vec<u8>) -> Result<()> {
        self.submit(
            Outgoing {
                bytes,
                fds: Vec::new(),
            },
            Route::Direct,
        )
    }

    /// Hands `message` to the outbox; a failed write closes the session.
    fn submit(&self, message: Outgoing, route: Route) -> Result<()> {
        self.after_submit(self.outbox.submit(message, route))
    }

    /// Closes the session when a write failed.
    fn after_submit(&self, submitted: std::io::Result<()>) -> Result<()> {
        if let Err(e) = submitted {
            if e.kind() != std::io::ErrorKind::NotConnected {
                tracing::debug!("write failed: {e}");
                self.close(&format!("write failed: {e}"));
            }
            return Err(self.closed_error());
        }
        Ok(())
    }

    /// Hands a reply to the call waiting for it. Replies without an id, or
    /// with an id no call is waiting for, are logged and dropped (the
    /// spec's rule), never given to another caller.
    pub(crate) fn route(&self, response: Response) {
        let id = match &response.id {
            None if !self.in_band_ids => self.lock().in_band_order.pop_front(),
            id => id.as_ref().and_then(Value::as_i64),
        };
        let Some(id) = id else {
            match &response.result {
                Err(e) => tracing::warn!("dropped an error reply without a known id: {e}"),
                Ok(v) => {
                    tracing::warn!(id = ?response.id, "dropped a reply without a known id: {v}")
                }
            }
            return;
        };
        let entry = self.lock().pending.remove(&id);
        let Some(pending) = entry else {
            tracing::warn!(id, "dropped a reply with an unknown id");
            return;
        };
        match (pending.waiter, pending.abandoned) {
            (Some(tx), _) => {
                let took = pending.sent.elapsed();
                if self.slow_warning.is_some_and(|limit| took > limit) {
                    self.diagnostics.report(Diagnostic::SlowReply {
                        command: pending.command,
                        id,
                        took,
                    });
                }
                let _ = tx.send(response.result.map_err(Error::Qmp));
            }
            (None, abandoned) => self.diagnostics.report(Diagnostic::LateReply {
                command: pending.command,
                id,
                late_by: abandoned.map(|at| at.elapsed()).unwrap_or_default(),
                error: response.result.err(),
            }),
        }
    }

    /// Fails the call `id` with `error` (a reply that could not be read).
    pub(crate) fn fail(&self, id: i64, error: Error) -> bool {
        let entry = self.lock().pending.remove(&id);
        match entry {
            Some(Pending {
                waiter: Some(tx), ..
            }) => {
                let _ = tx.send(Err(error));
                true
            }
            Some(_) => true,
            None => false,
        }
    }

    /// Closes the session: every pending call fails at once with
    /// [`Error::Disconnected`], subscriptions end, later calls fail.
    pub(crate) fn close(&self, reason: &str) {
        let reason: Arc<str> = reason.into();
        let pending = {
            let mut state = self.lock();
            if state.closed.is_some() {
                return;
            }
            state.closed = Some(reason.clone());
            std::mem::take(&mut state.pending)
        };
        self.inband.close();
        self.outbox.close();
        for (_, entry) in pending {
            if let Some(tx) = entry.waiter {
                let _ = tx.send(Err(Error::Disconnected(reason.clone())));
            }
        }
        self.events.close();
        self.closed.send_replace(Some(reason));
    }

    /// Closes the session because the server ended the stream.
    pub(crate) fn close_at_end(&self) {
        self.lock().ended_by_server = true;
        self.close(crate::reader::END_OF_STREAM);
    }

    /// True when the server ended the stream (not an error or the client).
    pub(crate) fn ended_by_server(&self) -> bool {
        let state = self.lock();
        state.closed.is_some() && state.ended_by_server
    }

    /// Why the session closed, if it has.
    pub(crate) fn closed_reason(&self) -> Option<Arc<str>> {
        self.lock().closed.clone()
    }

    /// Waits until the session closes; returns why.
    pub(crate) async fn wait_closed(&self) -> Arc<str> {
        let mut rx = self.closed.subscribe();
        loop {
            if let Some(reason) = rx.borrow_and_update().clone() {
                return reason;
            }
            if rx.changed().await.is_err() {
                return "session dropped".into();
            }
        }
    }

    fn closed_error(&self) -> Error {
        Error::Disconnected(
            self.closed_reason()
                .unwrap_or_else(|| "connection closed".into()),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave it inconsistent
        // (every update is a single map operation), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks call `id` abandoned: its reply will be dropped when it comes.
    fn abandon(&self, id: i64) {
        if let Some(entry) = self.lock().pending.get_mut(&id) {
            entry.waiter = None;
            entry.abandoned = Some(Instant::now());
        }
    }
}

impl Call {
    /// Waits for the reply.
    pub(crate) async fn reply(mut self) -> Result<Value> {
        let Some(rx) = self.rx.as_mut() else {
            return Err(self.shared.closed_error());
        };
        let result = rx.await;
        self.rx = None;
        match result {
            Ok(reply) => reply,
            Err(_) => Err(self.shared.closed_error()),
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if self.rx.is_some() {
            self.shared.abandon(self.id);
        }
    }
}
