//! The async QMP client: connecting, executing commands (by name or typed),
//! out-of-band calls, descriptor passing and event helpers.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qmp_wire::{Command, Event, EventData, Greeting, Map, Value};
use tokio::net::{ToSocketAddrs, UnixStream};

use crate::child::ChildGuard;
use crate::config::{CallOptions, ClientConfig};
use crate::connect::{establish, TaskGuard};
use crate::diagnostics::DiagnosticStream;
use crate::events::{EventFilter, EventStream, TypedEventStream};
use crate::fdpass::MAX_FDS_PER_MESSAGE;
use crate::session::Shared;
use crate::transport::{ByteStream, Transport};
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

    /// Connects to a QMP unix socket with the default configuration.
    pub async fn connect_unix(path: impl AsRef<Path>) -> Result<Client> {
        Client::connect_unix_with(path, ClientConfig::default()).await
    }

    /// Connects to a QMP unix socket.
    pub async fn connect_unix_with(path: impl AsRef<Path>, config: ClientConfig) -> Result<Client> {
        establish(Transport::unix(path.as_ref()).await?, config, None).await
    }

    /// Connects to a QMP unix socket that may not be ready yet (QEMU still
    /// starting, its socket not created, or created but not yet
    /// greeting), trying again until `within` has passed. Each try uses a
    /// fresh socket and waits at most
    /// [`READY_TRY_TIMEOUT`](crate::READY_TRY_TIMEOUT) for the greeting.
    pub async fn connect_unix_when_ready(
        path: impl AsRef<Path>,
        config: ClientConfig,
        within: Duration,
    ) -> Result<Client> {
        let path = path.as_ref();
        crate::ready::until_ready(within, |limit| {
            let attempt = ClientConfig {
                greeting_timeout: config.greeting_timeout.min(limit),
                ..config.clone()
            };
            Client::connect_unix_with(path, attempt)
        })
        .await
    }

    /// Connects to a QMP TCP socket.
    pub async fn connect_tcp(
        addr: impl ToSocketAddrs + std::fmt::Debug,
        config: ClientConfig,
    ) -> Result<Client> {
        establish(Transport::tcp(addr).await?, config, None).await
    }

    /// Runs over a connected unix socket (descriptors can be passed).
    pub async fn from_unix_stream(stream: UnixStream, config: ClientConfig) -> Result<Client> {
        establish(Transport::from_unix(stream), config, None).await
    }

    /// Runs over any connected byte stream (no descriptor passing).
    pub async fn from_stream<S: ByteStream>(stream: S, config: ClientConfig) -> Result<Client> {
        establish(Transport::from_stream(stream), config, None).await
    }

    pub(crate) async fn from_unix_child(
        stream: UnixStream,
        config: ClientConfig,
        child: ChildGuard,
    ) -> Result<Client> {
        establish(Transport::from_unix(stream), config, Some(child)).await
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
    /// `return` value; a QMP error reply is [`Error::Qmp`].
    pub async fn execute(&self, command: &str, arguments: impl Into<Arguments>) -> Result<Value> {
        self.execute_with(command, arguments, CallOptions::default())
            .await
    }

    /// Executes `command` out of band (`exec-oob`).
    pub async fn exec_oob(&self, command: &str, arguments: impl Into<Arguments>) -> Result<Value> {
        self.execute_with(command, arguments, CallOptions::default().out_of_band())
            .await
    }

    /// Executes `command` with per-call options (timeout, out of band).
    /// When the call times out or its future is dropped, a reply that comes
    /// later is dropped.
    pub async fn execute_with(
        &self,
        command: &str,
        arguments: impl Into<Arguments>,
        options: CallOptions,
    ) -> Result<Value> {
        let arguments = arguments.into().into_map()?;
        self.call_raw(command, arguments, options, Vec::new()).await
    }

    /// Executes `command` with descriptors passed along (SCM_RIGHTS; at
    /// most 16, QEMU's limit). Works with or without `oob`.
    pub async fn execute_with_fds(
        &self,
        command: &str,
        arguments: impl Into<Arguments>,
        fds: Vec<OwnedFd>,
    ) -> Result<Value> {
        if !self.inner.can_pass_fds {
            return Err(Error::FdPassingUnsupported);
        }
        if fds.len() > MAX_FDS_PER_MESSAGE {
            return Err(Error::InvalidArguments(format!(
                "{} descriptors, QEMU takes at most {MAX_FDS_PER_MESSAGE} per message",
                fds.len()
            )));
        }
        let arguments = arguments.into().into_map()?;
        self.call_raw(command, arguments, CallOptions::default(), fds)
            .await
    }

    /// Executes a typed command; `C::Returns` is decoded from the reply.
    pub async fn call<C: Command>(&self, command: &C) -> Result<C::Returns> {
        self.call_with(command, CallOptions::default()).await
    }

    /// Executes a typed command with per-call options.
    pub async fn call_with<C: Command>(
        &self,
        command: &C,
        options: CallOptions,
    ) -> Result<C::Returns> {
        let arguments = command.arguments()?;
        if !C::SUCCESS_RESPONSE {
            let bytes = crate::request::encode(
                &qmp_wire::Encoder::REQUEST,
                C::NAME,
                arguments,
                None,
                options.oob,
            );
            self.inner.shared.send_raw(bytes)?;
            return crate::error::decode(Value::Object(Map::new()), || {
                format!("the reply to {}", C::NAME)
            });
        }
        let value = self
            .call_raw(C::NAME, arguments, options, Vec::new())
            .await?;
        crate::error::decode(value, || format!("the reply to {}", C::NAME))
    }

    async fn call_raw(
        &self,
        command: &str,
        arguments: Option<Map>,
        options: CallOptions,
        fds: Vec<OwnedFd>,
    ) -> Result<Value> {
        if options.oob && !self.oob_enabled() {
            return Err(Error::OobNotEnabled);
        }
        let shared = &self.inner.shared;
        let call = async {
            shared
                .send(command, arguments, options.oob, fds)
                .await?
                .reply()
                .await
        };
        match self.inner.config.deadline_for(command, options.timeout) {
            Some(limit) => tokio::time::timeout(limit, call)
                .await
                .map_err(|_| Error::reply_timeout(command, limit))?,
            None => call.await,
        }
    }

    /// Passes `fd` to QEMU under `fdname` (`getfd`).
    pub async fn getfd(&self, fdname: &str, fd: OwnedFd) -> Result<()> {
        let mut args = Map::new();
        args.insert("fdname", fdname);
        self.execute_with_fds("getfd", args, vec![fd]).await?;
        Ok(())
    }

    /// Closes a descriptor passed with [`Client::getfd`] (`closefd`).
    pub async fn closefd(&self, fdname: &str) -> Result<()> {
        let mut args = Map::new();
        args.insert("fdname", fdname);
        self.execute("closefd", args).await?;
        Ok(())
    }

    /// Adds `fd` to an fd set (`add-fd`); returns QEMU's `AddfdInfo`
    /// (`{"fdset-id": N, "fd": M}`).
    pub async fn add_fd(
        &self,
        fd: OwnedFd,
        fdset_id: Option<i64>,
        opaque: Option<&str>,
    ) -> Result<Value> {
        let mut args = Map::new();
        if let Some(id) = fdset_id {
            args.insert("fdset-id", id);
        }
        if let Some(opaque) = opaque {
            args.insert("opaque", opaque);
        }
        self.execute_with_fds("add-fd", args, vec![fd]).await
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

    /// `device_del` then the matching `DEVICE_DELETED` event.
    pub async fn device_del(&self, id: &str, timeout: Duration) -> Result<Event> {
        let mut args = Map::new();
        args.insert("id", id);
        let filter = EventFilter::name("DEVICE_DELETED").with_member("device", id);
        Ok(self
            .execute_and_wait("device_del", args, filter, timeout)
            .await?
            .1)
    }

    /// `quit`, then its `SHUTDOWN` event, then the server closing the
    /// connection (and, for a launched QEMU, the process exiting), all
    /// within `timeout`. Returns the `SHUTDOWN` event.
    pub async fn quit(&self, timeout: Duration) -> Result<Event> {
        let mut shutdown = self.subscribe("SHUTDOWN");
        let steps = async {
            match self.execute("quit", ()).await {
                Ok(_) => {}
                // QEMU may close before the reply is read; the event says it quit.
                Err(Error::Disconnected(_)) => {}
                Err(e) => return Err(e),
            }
            let event = shutdown
                .next_event()
                .await
                .ok_or_else(|| Error::disconnected("closed without a SHUTDOWN event"))?;
            self.closed().await;
            Ok(event)
        };
        let event = tokio::time::timeout(timeout, steps)
            .await
            .map_err(|_| Error::timeout(timeout))??;
        let child = self.inner.child.lock().ok().and_then(|mut c| c.take());
        if let Some(mut child) = child {
            if child.wait_exit(timeout).await.is_none() {
                child.kill_and_reap();
                return Err(Error::timeout(timeout));
            }
        }
        Ok(event)
    }

    /// Waits until the connection closes; returns why.
    pub async fn closed(&self) -> Arc<str> {
        self.inner.shared.wait_closed().await
    }

    /// Why the connection closed, or `None` while it is open.
    pub fn closed_reason(&self) -> Option<Arc<str>> {
        self.inner.shared.closed_reason()
    }

    /// The subscription [`ClientConfig::early_events`] asked for, made
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

    /// Closes the connection now; a launched QEMU is killed and reaped.
    pub fn close(&self) {
        self.inner.shared.close("closed by the client");
        if let Some(mut child) = self.inner.child.lock().ok().and_then(|mut c| c.take()) {
            child.kill_and_reap();
        }
    }
}
