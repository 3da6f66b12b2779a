//! The one way in: [`Client::builder`] gathers the configuration, then one
//! of its transports connects (`connect_unix`, `connect_tcp`,
//! `connect_tls`, `launch`, `from_stream`, `from_unix_stream`, `accept`).
//! [`BlockingClient::builder`](crate::blocking::BlockingClient::builder)
//! gives the same builder with the same transport names, each blocking.

use std::future::Future;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::{ToSocketAddrs, UnixStream};

use crate::config::{Capabilities, ClientConfig, Handshake};
use crate::connect::establish;
use crate::transport::{ByteStream, Transport};
use crate::{Client, EventFilter, EventSink, QemuLauncher, QmpListener, Result, TlsOptions};

/// Setters that store their argument (wrapped in `Some` where the field
/// is optional) in the [`ClientConfig`] field of the same name.
macro_rules! config_setters {
    ($($(#[doc = $doc:literal])* $field:ident: $ty:ty $(=> $wrap:ident)?;)*) => {
        $(
            $(#[doc = $doc])*
            pub fn $field(mut self, value: $ty) -> Self {
                self.config.$field = $($wrap)?(value);
                self
            }
        )*
    };
}

/// Marks a builder whose transports are async (from [`Client::builder`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Async;

/// Configuration for a connection, then the transport that makes it. The
/// setters change [`ClientConfig`]'s fields of the same name.
///
/// ```no_run
/// # async fn demo() -> qmp_client::Result<()> {
/// use std::time::Duration;
/// let client = qmp_client::Client::builder()
///     .call_timeout(Duration::from_secs(5))
///     .command_timeout("device_add", Duration::from_secs(30))
///     .ready_within(Duration::from_secs(10))
///     .connect_unix("/run/qemu/qmp.sock")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ClientBuilder<M = Async> {
    pub(crate) config: ClientConfig,
    pub(crate) ready_within: Option<Duration>,
    mode: PhantomData<M>,
}

impl Client {
    /// A builder with the default configuration.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// Connects to a QMP unix socket with the default configuration
    /// (shorthand for `Client::builder().connect_unix(path)`).
    pub async fn connect_unix(path: impl AsRef<Path>) -> Result<Client> {
        Client::builder().connect_unix(path).await
    }
}

impl<M> ClientBuilder<M> {
    pub(crate) fn new() -> ClientBuilder<M> {
        ClientBuilder {
            config: ClientConfig::default(),
            ready_within: None,
            mode: PhantomData,
        }
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    config_setters! {
        /// Time allowed for the greeting (and for negotiation).
        greeting_timeout: Duration;
        /// Whether to wait for the greeting and negotiate.
        handshake: Handshake;
        /// The capabilities to enable.
        capabilities: Capabilities;
        /// The largest reply or event accepted.
        max_reply_bytes: usize;
        /// The deadline of every call without one of its own.
        call_timeout: Duration => Some;
        /// Reports replies slower than this.
        slow_command_warning: Duration => Some;
        /// In-band requests allowed in flight at once.
        inband_limit: usize;
        /// Events buffered per subscriber.
        event_buffer: usize;
        /// The reader's longest busy-poll window (`Duration::ZERO`: off).
        busy_poll: Duration;
        /// Calls this with every event as the reader decodes it.
        event_sink: EventSink => Some;
        /// Whether in-band requests carry ids (see
        /// [`ClientConfig::in_band_ids`]).
        in_band_ids: bool;
    }

    /// The deadline of every call of `command` (overrides `call_timeout`).
    pub fn command_timeout(mut self, command: impl Into<String>, timeout: Duration) -> Self {
        self.config.command_timeouts.insert(command.into(), timeout);
        self
    }

    /// Logs every message in and out to `path`.
    pub fn transcript(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.transcript = Some(path.into());
        self
    }

    /// Subscribes to these events before negotiation (see
    /// [`Client::take_early_events`]).
    pub fn early_events(mut self, filter: impl Into<EventFilter>) -> Self {
        self.config.early_events = Some(filter.into());
        self
    }

    /// Tries again, with a fresh socket each time, while the peer is not
    /// ready yet (no socket, nothing listening, no greeting), until
    /// `within` has passed; each try waits at most
    /// [`READY_TRY_TIMEOUT`](crate::READY_TRY_TIMEOUT) for the greeting.
    /// Applies to `connect_unix`, `connect_tcp` and `connect_tls`.
    pub fn ready_within(mut self, within: Duration) -> Self {
        self.ready_within = Some(within);
        self
    }

    /// The same settings, for transports of another kind.
    pub(crate) fn into_mode<N>(self) -> ClientBuilder<N> {
        ClientBuilder {
            config: self.config,
            ready_within: self.ready_within,
            mode: PhantomData,
        }
    }

    /// The configuration gathered so far.
    pub fn configuration(&self) -> &ClientConfig {
        &self.config
    }

    /// Runs `attempt` once, or until the peer is ready when
    /// [`ready_within`](Self::ready_within) was given.
    pub(crate) async fn connecting<F, Fut>(self, mut attempt: F) -> Result<Client>
    where
        F: FnMut(ClientConfig) -> Fut,
        Fut: Future<Output = Result<Client>>,
    {
        let Some(within) = self.ready_within else {
            return attempt(self.config).await;
        };
        let config = self.config;
        crate::ready::until_ready(within, |limit| {
            attempt(ClientConfig {
                greeting_timeout: config.greeting_timeout.min(limit),
                ..config.clone()
            })
        })
        .await
    }
}

impl Default for ClientBuilder {
    fn default() -> ClientBuilder {
        ClientBuilder::new()
    }
}

impl ClientBuilder<Async> {
    /// Connects to a QMP unix socket.
    pub async fn connect_unix(self, path: impl AsRef<Path>) -> Result<Client> {
        let path = path.as_ref();
        self.connecting(|config| async move {
            establish(Transport::unix(path).await?, config, None).await
        })
        .await
    }

    /// Connects to a QMP TCP socket (`"host:port"`, a `SocketAddr`, ...).
    pub async fn connect_tcp(
        self,
        addr: impl ToSocketAddrs + std::fmt::Debug + Clone,
    ) -> Result<Client> {
        self.connecting(|config| {
            let addr = addr.clone();
            async move { establish(Transport::tcp(addr).await?, config, None).await }
        })
        .await
    }

    /// Connects to `address` (`HOST:PORT`) over TCP, secured with TLS.
    pub async fn connect_tls(self, address: &str, tls: &TlsOptions) -> Result<Client> {
        self.connecting(|config| async move {
            let stream = crate::tls::connect(address, tls).await?;
            establish(Transport::from_stream(stream), config, None).await
        })
        .await
    }

    /// Launches QEMU with its monitor on a socketpair, and connects.
    pub async fn launch(self, launcher: &QemuLauncher) -> Result<Client> {
        launcher.spawn(self.config).await
    }

    /// Runs over any connected byte stream (no descriptor passing).
    pub async fn from_stream<S: ByteStream>(self, stream: S) -> Result<Client> {
        establish(Transport::from_stream(stream), self.config, None).await
    }

    /// Runs over a connected unix socket (descriptors can be passed).
    pub async fn from_unix_stream(self, stream: UnixStream) -> Result<Client> {
        establish(Transport::from_unix(stream), self.config, None).await
    }

    /// Waits up to `within` for QEMU to connect to `listener`, then greets
    /// and negotiates.
    pub async fn accept(self, listener: &QmpListener, within: Duration) -> Result<Client> {
        listener.accept_within(self.config, within).await
    }
}
