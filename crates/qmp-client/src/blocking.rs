//! The blocking facade: the same client and guest agent client for
//! programs that are not async. Each facade owns a small tokio runtime
//! (one worker thread) that runs the reader and writer; calls block the
//! calling thread. Do not call these from inside an async runtime.
//!
//! [`BlockingClient`] wraps the async [`Client`] call for call: the same
//! builder ([`BlockingClient::builder`], transports of the same names),
//! the same request path (`execute_with` / `call_with` with
//! [`CallOptions`], `call_oob`), and anything else of the async client,
//! QEMU's helpers ([`QemuExt`](crate::QemuExt)) included, through
//! [`BlockingClient::run`]:
//!
//! ```no_run
//! # fn demo() -> qmp_client::Result<()> {
//! use std::time::Duration;
//! use qmp_client::blocking::BlockingClient;
//! use qmp_client::QemuExt;
//! let client = BlockingClient::connect_unix("/run/qemu/qmp.sock")?;
//! let deleted = client.run(|c| c.device_del("net0", Duration::from_secs(10)))?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use qmp_wire::{Command, Event, EventData, Greeting, OobCommand, Value};
use tokio::runtime::Runtime;

use crate::{
    decode_event, AgentConfig, Arguments, Async, Band, ByteStream, CallOptions, CallableIn, Client,
    ClientBuilder, EventFilter, EventStream, GuestAgent, QemuLauncher, QmpListener, Result,
    TlsOptions,
};

fn runtime() -> Result<Arc<Runtime>> {
    Ok(Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("qmp-client")
            .enable_all()
            .build()?,
    ))
}

/// A blocking QMP client; see [`Client`] for what each call does.
pub struct BlockingClient {
    client: Client,
    rt: Arc<Runtime>,
}

/// Marks a builder whose transports block (from [`BlockingClient::builder`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Blocking;

/// The builder of a [`BlockingClient`]: the same settings as
/// [`Client::builder`], and transports of the same names that block.
pub type BlockingClientBuilder = ClientBuilder<Blocking>;

impl BlockingClient {
    /// A builder with the default configuration.
    ///
    /// ```no_run
    /// # fn demo() -> qmp_client::Result<()> {
    /// use std::time::Duration;
    /// use qmp_client::blocking::BlockingClient;
    /// let client = BlockingClient::builder()
    ///     .call_timeout(Duration::from_secs(5))
    ///     .connect_unix("/run/qemu/qmp.sock")?;
    /// client.execute("query-status", ())?;
    /// # Ok(()) }
    /// ```
    pub fn builder() -> BlockingClientBuilder {
        ClientBuilder::new()
    }

    /// Connects to a QMP unix socket with the default configuration
    /// (shorthand for `BlockingClient::builder().connect_unix(path)`).
    pub fn connect_unix(path: impl AsRef<Path>) -> Result<BlockingClient> {
        BlockingClient::builder().connect_unix(path)
    }

    /// The async client underneath (usable from this facade's runtime).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs `work` on the async client to its end, blocking: any ability
    /// of the async client through the facade (`client.run(|c|
    /// c.quit(timeout))` with [`QemuExt`](crate::QemuExt) in scope).
    pub fn run<'a, F, Fut>(&'a self, work: F) -> Fut::Output
    where
        F: FnOnce(&'a Client) -> Fut,
        Fut: Future,
    {
        self.rt.block_on(work(&self.client))
    }

    /// The server's greeting.
    pub fn greeting(&self) -> Option<&Greeting> {
        self.client.greeting()
    }

    /// The capabilities enabled by negotiation.
    pub fn capabilities(&self) -> &[String] {
        self.client.capabilities()
    }

    /// Executes `command` with `arguments` (`()` for none).
    pub fn execute(&self, command: &str, arguments: impl Into<Arguments>) -> Result<Value> {
        self.rt.block_on(self.client.execute(command, arguments))
    }

    /// Executes `command` with per-call options (deadline, descriptors,
    /// out of band).
    pub fn execute_with<B: Band>(
        &self,
        command: &str,
        arguments: impl Into<Arguments>,
        options: CallOptions<B>,
    ) -> Result<Value> {
        self.rt
            .block_on(self.client.execute_with(command, arguments, options))
    }

    /// Executes a typed command.
    pub fn call<C: Command>(&self, command: &C) -> Result<C::Returns> {
        self.rt.block_on(self.client.call(command))
    }

    /// Executes a typed command out of band (an [`OobCommand`] only).
    pub fn call_oob<C: OobCommand>(&self, command: &C) -> Result<C::Returns> {
        self.rt.block_on(self.client.call_oob(command))
    }

    /// Executes a typed command with per-call options.
    pub fn call_with<C, B>(&self, command: &C, options: CallOptions<B>) -> Result<C::Returns>
    where
        C: CallableIn<B>,
        B: Band,
    {
        self.rt.block_on(self.client.call_with(command, options))
    }

    /// A new subscription, read by blocking.
    pub fn subscribe(&self, filter: impl Into<EventFilter>) -> BlockingEvents {
        BlockingEvents {
            stream: self.client.subscribe(filter),
            rt: self.rt.clone(),
        }
    }

    /// A new subscription to events of type `E`, decoded, read by blocking.
    pub fn subscribe_typed<E: EventData>(&self) -> BlockingTypedEvents<E> {
        self.subscribe(EventFilter::name(E::NAME)).typed()
    }

    /// Waits up to `timeout` for the next event that passes `filter`.
    pub fn wait_for_event(
        &self,
        filter: impl Into<EventFilter>,
        timeout: Duration,
    ) -> Result<Event> {
        self.rt
            .block_on(self.client.wait_for_event(filter, timeout))
    }

    /// Executes `command` and waits for an event, subscribed beforehand.
    pub fn execute_and_wait(
        &self,
        command: &str,
        arguments: impl Into<Arguments>,
        filter: impl Into<EventFilter>,
        timeout: Duration,
    ) -> Result<(Value, Event)> {
        self.rt.block_on(
            self.client
                .execute_and_wait(command, arguments, filter, timeout),
        )
    }

    /// Closes the connection now; a launched QEMU is killed and reaped.
    pub fn close(&self) {
        self.client.close();
    }
}

impl ClientBuilder<Blocking> {
    /// Runs `connect` on a new facade runtime.
    fn block<'a, F, Fut>(self, connect: F) -> Result<BlockingClient>
    where
        F: FnOnce(ClientBuilder<Async>) -> Fut + 'a,
        Fut: Future<Output = Result<Client>> + 'a,
    {
        let rt = runtime()?;
        let client = rt.block_on(connect(self.into_mode()))?;
        Ok(BlockingClient { client, rt })
    }

    /// Connects to a QMP unix socket.
    pub fn connect_unix(self, path: impl AsRef<Path>) -> Result<BlockingClient> {
        self.block(|b| b.connect_unix(path))
    }

    /// Connects to a QMP TCP socket (`host:port`).
    pub fn connect_tcp(self, addr: &str) -> Result<BlockingClient> {
        self.block(|b| b.connect_tcp(addr))
    }

    /// Connects to `address` (`HOST:PORT`) over TCP, secured with TLS.
    pub fn connect_tls(self, address: &str, tls: &TlsOptions) -> Result<BlockingClient> {
        self.block(|b| b.connect_tls(address, tls))
    }

    /// Launches QEMU with its monitor on a socketpair.
    pub fn launch(self, launcher: &QemuLauncher) -> Result<BlockingClient> {
        self.block(|b| b.launch(launcher))
    }

    /// Runs over any byte stream that can be made outside a runtime (a
    /// `tokio::io::duplex`, say); for a socket use `from_unix_stream`.
    pub fn from_stream<S: ByteStream>(self, stream: S) -> Result<BlockingClient> {
        self.block(|b| b.from_stream(stream))
    }

    /// Runs over a connected unix socket (descriptors can be passed).
    pub fn from_unix_stream(
        self,
        stream: std::os::unix::net::UnixStream,
    ) -> Result<BlockingClient> {
        stream.set_nonblocking(true)?;
        self.block(|b| async move {
            let stream = tokio::net::UnixStream::from_std(stream)?;
            b.from_unix_stream(stream).await
        })
    }

    /// Waits up to `within` for QEMU to connect to `listener`.
    pub fn accept(self, listener: &QmpListener, within: Duration) -> Result<BlockingClient> {
        self.block(|b| b.accept(listener, within))
    }
}

/// A subscription read by blocking; iterating ends when the connection
/// closes.
pub struct BlockingEvents {
    stream: EventStream,
    rt: Arc<Runtime>,
}

impl BlockingEvents {
    /// The next event, or `None` once the connection has closed (as the
    /// iterator's `next`).
    pub fn next_event(&mut self) -> Option<Event> {
        self.rt.block_on(self.stream.next_event())
    }

    /// The next event within `timeout`.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Event> {
        self.rt.block_on(self.stream.next_timeout(timeout))
    }

    /// The next event if one is already buffered.
    pub fn try_next(&mut self) -> Option<Event> {
        self.stream.try_next()
    }

    /// Events this subscriber missed because its buffer was full.
    pub fn missed(&self) -> u64 {
        self.stream.missed()
    }

    /// The same subscription, with each event's data decoded as `E`.
    pub fn typed<E: EventData>(self) -> BlockingTypedEvents<E> {
        BlockingTypedEvents {
            events: self,
            _marker: PhantomData,
        }
    }
}

/// A subscription yielding event data decoded as `E`, read by blocking;
/// an item is an error when the data does not fit `E`. Iterating ends when
/// the connection closes.
pub struct BlockingTypedEvents<E> {
    events: BlockingEvents,
    _marker: PhantomData<fn() -> E>,
}

impl<E: EventData> BlockingTypedEvents<E> {
    /// The next event's data, or `None` once the connection has closed.
    pub fn next_event(&mut self) -> Option<Result<E>> {
        self.events.next_event().map(|e| decode_event(&e))
    }

    /// The next event's data within `timeout`.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<E> {
        decode_event(&self.events.next_timeout(timeout)?)
    }

    /// The next event's data if one is already buffered.
    pub fn try_next(&mut self) -> Option<Result<E>> {
        self.events.try_next().map(|e| decode_event(&e))
    }
}

impl<E: EventData> Iterator for BlockingTypedEvents<E> {
    type Item = Result<E>;

    fn next(&mut self) -> Option<Result<E>> {
        self.next_event()
    }
}

impl Iterator for BlockingEvents {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.next_event()
    }
}

/// A blocking guest agent client; see [`GuestAgent`].
pub struct BlockingAgent {
    agent: GuestAgent,
    rt: Arc<Runtime>,
}

impl BlockingAgent {
    /// Connects to the agent's unix socket.
    pub fn connect_unix(path: impl AsRef<Path>, config: AgentConfig) -> Result<BlockingAgent> {
        let rt = runtime()?;
        let agent = rt.block_on(GuestAgent::connect_unix(path, config))?;
        Ok(BlockingAgent { agent, rt })
    }

    /// Resynchronises now.
    pub fn sync(&self) -> Result<()> {
        self.rt.block_on(self.agent.sync())
    }

    /// Executes `command`.
    pub fn execute(&self, command: &str, arguments: impl Into<Arguments>) -> Result<Value> {
        self.rt.block_on(self.agent.execute(command, arguments))
    }

    /// Executes `command` with a timeout.
    pub fn execute_with_timeout(
        &self,
        command: &str,
        arguments: impl Into<Arguments>,
        timeout: Option<Duration>,
    ) -> Result<Value> {
        self.rt
            .block_on(self.agent.execute_with_timeout(command, arguments, timeout))
    }

    /// Sends a command that never replies.
    pub fn execute_no_reply(&self, command: &str, arguments: impl Into<Arguments>) -> Result<()> {
        self.rt
            .block_on(self.agent.execute_no_reply(command, arguments))
    }
}
