//! The blocking facade: the same client and guest agent client for
//! programs that are not async. Each facade owns a small tokio runtime
//! (one worker thread) that runs the reader and writer; calls block the
//! calling thread. Do not call these from inside an async runtime.

use std::marker::PhantomData;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use qmp_wire::{Command, Event, EventData, Greeting, Value};
use tokio::runtime::Runtime;

use crate::{
    decode_event, AgentConfig, Arguments, CallOptions, Client, ClientConfig, EventFilter,
    EventStream, GuestAgent, QemuLauncher, Result,
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

impl BlockingClient {
    /// Connects to a QMP unix socket.
    pub fn connect_unix(path: impl AsRef<Path>, config: ClientConfig) -> Result<BlockingClient> {
        let rt = runtime()?;
        let client = rt.block_on(Client::connect_unix_with(path, config))?;
        Ok(BlockingClient { client, rt })
    }

    /// Connects to a QMP TCP socket (`host:port`).
    pub fn connect_tcp(addr: &str, config: ClientConfig) -> Result<BlockingClient> {
        let rt = runtime()?;
        let client = rt.block_on(Client::connect_tcp(addr, config))?;
        Ok(BlockingClient { client, rt })
    }

    /// Runs over a connected unix socket (descriptors can be passed).
    pub fn from_unix_stream(
        stream: std::os::unix::net::UnixStream,
        config: ClientConfig,
    ) -> Result<BlockingClient> {
        let rt = runtime()?;
        stream.set_nonblocking(true)?;
        let client = rt.block_on(async {
            let stream = tokio::net::UnixStream::from_std(stream)?;
            Client::from_unix_stream(stream, config).await
        })?;
        Ok(BlockingClient { client, rt })
    }

    /// Launches QEMU with its monitor on a socketpair.
    pub fn launch(launcher: &QemuLauncher, config: ClientConfig) -> Result<BlockingClient> {
        let rt = runtime()?;
        let client = rt.block_on(launcher.launch(config))?;
        Ok(BlockingClient { client, rt })
    }

    /// The async client underneath (usable from this facade's runtime).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The server's greeting.
    pub fn greeting(&self) -> Option<&Greeting> {
        self.client.greeting()
    }

    /// Executes `command` with `arguments` (`()` for none).
    pub fn execute(&self, command: &str, arguments: impl Into<Arguments>) -> Result<Value> {
        self.rt.block_on(self.client.execute(command, arguments))
    }

    /// Executes `command` with per-call options.
    pub fn execute_with(
        &self,
        command: &str,
        arguments: impl Into<Arguments>,
        options: CallOptions,
    ) -> Result<Value> {
        self.rt
            .block_on(self.client.execute_with(command, arguments, options))
    }

    /// Executes `command` out of band.
    pub fn exec_oob(&self, command: &str, arguments: impl Into<Arguments>) -> Result<Value> {
        self.rt.block_on(self.client.exec_oob(command, arguments))
    }

    /// Executes a typed command.
    pub fn call<C: Command>(&self, command: &C) -> Result<C::Returns> {
        self.rt.block_on(self.client.call(command))
    }

    /// Executes `command` with descriptors passed along.
    pub fn execute_with_fds(
        &self,
        command: &str,
        arguments: impl Into<Arguments>,
        fds: Vec<OwnedFd>,
    ) -> Result<Value> {
        self.rt
            .block_on(self.client.execute_with_fds(command, arguments, fds))
    }

    /// Passes `fd` to QEMU under `fdname` (`getfd`).
    pub fn getfd(&self, fdname: &str, fd: OwnedFd) -> Result<()> {
        self.rt.block_on(self.client.getfd(fdname, fd))
    }

    /// Closes a descriptor passed with [`BlockingClient::getfd`] (`closefd`).
    pub fn closefd(&self, fdname: &str) -> Result<()> {
        self.rt.block_on(self.client.closefd(fdname))
    }

    /// Adds `fd` to an fd set (`add-fd`); returns QEMU's `AddfdInfo`.
    pub fn add_fd(
        &self,
        fd: OwnedFd,
        fdset_id: Option<i64>,
        opaque: Option<&str>,
    ) -> Result<Value> {
        self.rt.block_on(self.client.add_fd(fd, fdset_id, opaque))
    }

    /// `device_del` then the matching `DEVICE_DELETED` event.
    pub fn device_del(&self, id: &str, timeout: Duration) -> Result<Event> {
        self.rt.block_on(self.client.device_del(id, timeout))
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

    /// `quit`, its `SHUTDOWN` event and the close.
    pub fn quit(&self, timeout: Duration) -> Result<Event> {
        self.rt.block_on(self.client.quit(timeout))
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
