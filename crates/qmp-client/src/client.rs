//! The async QMP client: executing commands (by name or typed, with a
//! deadline, descriptors and out of band in any combination) and events.
//! Connecting is the builder's job (`builder.rs`); helpers that know
//! QEMU's commands are [`QemuExt`](crate::QemuExt)'s.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qmp_wire::{Command, Event, EventData, Greeting, Map, OobCommand, Value};

use crate::call::{Band, CallOptions, CallableIn};
use crate::child::ChildGuard;
use crate::config::ClientConfig;
use crate::connect::TaskGuard;
use crate::diagnostics::DiagnosticStream;
use crate::events::{EventFilter, EventStream, TypedEventStream};
use crate::fdpass::MAX_FDS_PER_MESSAGE;
use crate::session::Shared;
use crate::{Arguments, Error, Result};

/// A QMP connection. Cheap to clone; all clones share the connection, and
/// any number of tasks may call it at once. The connection (and a launched
/// QEMU) goes away with the last clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// What the clones of a [`Client`] share.
pub(crate) struct Inner {
    pub(crate) shared: Arc<Shared>,
    pub(crate) greeting: Option<Greeting>,
    pub(crate) enabled: Vec<String>,
    pub(crate) can_pass_fds: bool,
    pub(crate) config: ClientConfig,
    pub(crate) child: crate::child::SharedChild,
    /// The subscription made before negotiation ([`ClientConfig::early_events`]).
    pub(crate) early_events: Mutex<Option<EventStream>>,
    pub(crate) _reader: TaskGuard,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.close("the client was dropped");
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("greeting", &self.inner.greeting)
            .field("enabled", &self.inner.enabled)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn from_inner(inner: Inner) -> Client {
        Client {
            inner: Arc::new(inner),
        }
    }

    /// The server's greeting (`None` when the connection was set up with
    /// [`Handshake::Skip`](crate::Handshake::Skip)).
    pub fn greeting(&self) -> Option<&Greeting> {
        self.inner.greeting.as_ref()
    }

    /// The capabilities enabled by negotiation.
    pub fn capabilities(&self) -> &[String] {
        &self.inner.enabled
    }

    /// True when `exec-oob` may be used.
    pub fn oob_enabled(&self) -> bool {
        self.inner.enabled.iter().any(|c| c == "oob")
    }

    /// Executes `command` with `arguments` (`()` for none) and returns its
    /// `return` value; a QMP error reply is [`Error::Qmp`]. Shorthand for
    /// [`execute_with`](Client::execute_with) with default options.
    pub async fn execute(&self, command: &str, arguments: impl Into<Arguments>) -> Result<Value> {
        // The request path itself, without building options to take apart.
        let arguments = arguments.into().into_map()?;
        self.request(command, arguments, false, None, Vec::new())
            .await
    }

    /// Executes `command` with `arguments` and per-call options: a
    /// deadline, descriptors to pass, out of band, in any combination.
    /// When the call times out or its future is dropped, a reply that
    /// comes later is dropped (and reported on [`Client::diagnostics`]).
    pub async fn execute_with<B: Band>(
        &self,
        command: &str,
        arguments: impl Into<Arguments>,
        options: CallOptions<B>,
    ) -> Result<Value> {
        let arguments = arguments.into().into_map()?;
        self.request(
            command,
            arguments,
            B::OUT_OF_BAND,
            options.timeout,
            options.fds,
        )
        .await
    }

    /// Executes a typed command; `C::Returns` is decoded from the reply.
    /// Shorthand for [`call_with`](Client::call_with) with default options.
    pub async fn call<C: Command>(&self, command: &C) -> Result<C::Returns> {
        self.call_with(command, CallOptions::new()).await
    }

    /// Executes a typed command out of band; compiles only for a command
    /// whose type allows it ([`OobCommand`]).
    pub async fn call_oob<C: OobCommand>(&self, command: &C) -> Result<C::Returns> {
        self.call_with(command, CallOptions::new().out_of_band())
            .await
    }

    /// Executes a typed command with per-call options; out of band only
    /// for an [`OobCommand`]. A command without a success response
    /// (`success-response: false`) is sent without waiting, and
    /// `C::Returns` is read from `{}`.
    pub async fn call_with<C, B>(&self, command: &C, options: CallOptions<B>) -> Result<C::Returns>
    where
        C: CallableIn<B>,
        B: Band,
    {
        let arguments = command.arguments()?;
        let context = || format!("the reply to {}", C::NAME);
        if !C::SUCCESS_RESPONSE {
            if !options.fds.is_empty() {
                return Err(Error::InvalidArguments(format!(
                    "{} sends no reply, so it cannot carry descriptors",
                    C::NAME
                )));
            }
            self.check_band(B::OUT_OF_BAND)?;
            let bytes = crate::request::encode(
                &qmp_wire::Encoder::REQUEST,
                C::NAME,
                arguments,
                None,
                B::OUT_OF_BAND,
            );
            self.inner.shared.send_raw(bytes)?;
            return crate::error::decode(Value::Object(Map::new()), context);
        }
        let value = self
            .request(
                C::NAME,
                arguments,
                B::OUT_OF_BAND,
                options.timeout,
                options.fds,
            )
            .await?;
        crate::error::decode(value, context)
    }

    /// Fails a call out of band on a connection without `oob`.
    fn check_band(&self, oob: bool) -> Result<()> {
        if oob && !self.oob_enabled() {
            return Err(Error::OobNotEnabled);
        }
        Ok(())
    }

    /// The one request path: every call, typed or not, comes here.
    async fn request(
        &self,
        command: &str,
        arguments: Option<Map>,
        oob: bool,
        timeout: Option<Duration>,
        fds: Vec<OwnedFd>,
    ) -> Result<Value> {
        self.check_band(oob)?;
        if !fds.is_empty() {
            if !self.inner.can_pass_fds {
                return Err(Error::FdPassingUnsupported);
            }
            if fds.len() > MAX_FDS_PER_MESSAGE {
                return Err(Error::InvalidArguments(format!(
                    "{} descriptors, QEMU takes at most {MAX_FDS_PER_MESSAGE} per message",
                    fds.len()
                )));
            }
        }
        let shared = &self.inner.shared;
        let call = async {
            shared
                .send(command, arguments, oob, fds)
                .await?
                .reply()
                .await
        };
        match self.inner.config.deadline_for(command, timeout) {
            Some(limit) => tokio::time::timeout(limit, call)
                .await
                .map_err(|_| Error::reply_timeout(command, limit))?,
            None => call.await,
        }
    }

    /// What the client notices from now on that no call returns: replies
    /// that came after their call timed out (so the command was carried
    /// out), and slow replies.
    pub fn diagnostics(&self) -> DiagnosticStream {
        self.inner.shared.diagnostics.subscribe()
    }

    /// A new subscription to the events that pass `filter`.
    pub fn subscribe(&self, filter: impl Into<EventFilter>) -> EventStream {
        self.inner.shared.events.subscribe(filter.into())
    }

    /// A new subscription to events of type `E`, decoded.
    pub fn subscribe_typed<E: EventData>(&self) -> TypedEventStream<E> {
        self.subscribe(EventFilter::name(E::NAME)).typed()
    }

    /// Waits up to `timeout` for the next event that passes `filter`
    /// (events before this call are not seen).
    pub async fn wait_for_event(
        &self,
        filter: impl Into<EventFilter>,
        timeout: Duration,
    ) -> Result<Event> {
        self.subscribe(filter).next_timeout(timeout).await
    }

    /// Executes `command` and waits for an event that passes `filter`,
    /// subscribing before sending so the event cannot be missed. The
    /// timeout covers the reply and the event together.
    pub async fn execute_and_wait(
        &self,
        command: &str,
        arguments: impl Into<Arguments>,
        filter: impl Into<EventFilter>,
        timeout: Duration,
    ) -> Result<(Value, Event)> {
        let mut events = self.subscribe(filter);
        let both = async {
            let value = self.execute(command, arguments).await?;
            let event = events.next_event().await.ok_or_else(|| {
                Error::disconnected("connection closed while waiting for an event")
            })?;
            Ok((value, event))
        };
        tokio::time::timeout(timeout, both)
            .await
            .map_err(|_| Error::timeout(timeout))?
    }

    /// Waits until the connection closes; returns why.
    pub async fn closed(&self) -> Arc<str> {
        self.inner.shared.wait_closed().await
    }

    /// Why the connection closed, or `None` while it is open.
    pub fn closed_reason(&self) -> Option<Arc<str>> {
        self.inner.shared.closed_reason()
    }

    /// The subscription [`ClientConfig::early_events`](crate::ClientConfig::early_events) asked for, made
    /// before negotiation so that it holds every event the server sent
    /// after it; `None` when not asked for or already taken.
    pub fn take_early_events(&self) -> Option<EventStream> {
        self.inner.early_events.lock().ok()?.take()
    }

    /// True when the connection ended because the server closed it in good
    /// order (after `quit`, say), not because of an error.
    pub fn ended_by_server(&self) -> bool {
        self.inner.shared.ended_by_server()
    }

    /// The process id of the QEMU this client launched, if any.
    pub fn child_pid(&self) -> Option<u32> {
        let child = self.inner.child.lock().ok()?;
        child.as_ref().map(ChildGuard::pid)
    }

    /// The launched QEMU, taken over by the caller (to wait for its exit).
    pub(crate) fn take_child(&self) -> Option<ChildGuard> {
        self.inner.child.lock().ok().and_then(|mut c| c.take())
    }

    /// Closes the connection now; a launched QEMU is killed and reaped.
    pub fn close(&self) {
        self.inner.shared.close("closed by the client");
        if let Some(mut child) = self.take_child() {
            child.kill_and_reap();
        }
    }
}
