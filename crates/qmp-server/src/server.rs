//! The server: its configuration, shared state, and the ways to serve
//! (unix and TCP listeners, stdio, an open fd or stream, connect-out with
//! reconnect), plus graceful shutdown.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use qmp_wire::{Encoder, Greeting, LineEnding, MemberOrder, Request, Value, VersionInfo};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{watch, Notify};

use crate::commands::{Call, CommandEntry, CommandResult, CommandSet, Handler};
use crate::conn::Connection;
use crate::events::{Emitter, EventBus, ThrottleTable};
use crate::fds::FdBudget;
use crate::session::{self, MonitorState};
use crate::Mode;

/// How a server behaves.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// QMP monitor or guest agent.
    pub mode: Mode,
    /// The version in the greeting and `query-version`.
    pub version: VersionInfo,
    /// Offer the `oob` capability.
    pub offer_oob: bool,
    /// QEMU's `pretty=on` output layout.
    pub pretty: bool,
    /// Member order of output objects; QEMU's hash order by default, for
    /// byte-exact output.
    pub member_order: MemberOrder,
    /// Which events are throttled.
    pub throttle: ThrottleTable,
    /// Run in-band commands of all sessions one at a time, as QEMU's main
    /// loop does (default). Off, each session runs its own in parallel.
    pub serialize_in_band: bool,
    /// Serve one client at a time per listener, as QEMU's socket chardev
    /// does; the next connection waits until the current one leaves.
    pub one_client_at_a_time: bool,
    /// The `query-qmp-schema` reply, sent pre-encoded.
    pub schema: Option<Value>,
    /// The longest a session polls its socket for the next request before
    /// it lets the runtime park. The window adapts between zero and this
    /// (see [`qmp_wire::io::busy_poll`]), like QEMU's `poll-max-ns`: it stays
    /// open for a client that sends its next request at once, which saves
    /// a wake-up per request, and closes for a slow or idle one.
    /// `Duration::ZERO` turns polling off.
    pub busy_poll: Duration,
    /// The most file descriptors, passed with SCM_RIGHTS and not yet
    /// claimed by a command, that all sessions together may hold; any
    /// beyond this are closed as they arrive (and a warning is logged).
    /// Each session holds at most [`MAX_FDS_PER_READ`](crate::MAX_FDS_PER_READ)
    /// anyway, as QEMU does; this bounds many sessions together.
    pub max_unclaimed_fds: usize,
    /// In-band commands of one session that may run at once, their replies
    /// sent in request order. QEMU runs one (the default, `1`); a server
    /// that forwards commands to a QEMU (a proxy) runs several, so that a
    /// client's pipelined requests reach the QEMU pipelined. Handlers are
    /// started in request order.
    pub in_band_pipeline: usize,
    /// Faults to inject, for testing clients (none by default).
    pub faults: crate::Faults,
}

impl ServerConfig {
    /// A QMP monitor with QEMU's defaults.
    pub fn qmp(version: VersionInfo) -> ServerConfig {
        ServerConfig {
            mode: Mode::Qmp,
            version,
            offer_oob: true,
            pretty: false,
            member_order: MemberOrder::Qemu,
            throttle: ThrottleTable::qemu_10_0(),
            serialize_in_band: true,
            one_client_at_a_time: false,
            schema: None,
            busy_poll: qmp_wire::io::busy_poll::DEFAULT_MAX_WINDOW,
            max_unclaimed_fds: crate::fds::default_unclaimed_fd_budget(),
            in_band_pipeline: 1,
            faults: crate::Faults::default(),
        }
    }

    /// A guest agent.
    pub fn guest_agent(version: VersionInfo) -> ServerConfig {
        ServerConfig {
            mode: Mode::GuestAgent,
            offer_oob: false,
            throttle: ThrottleTable::none(),
            ..ServerConfig::qmp(version)
        }
    }
}

/// State shared by a server's listeners and sessions.
pub(crate) struct ServerShared {
    pub(crate) config: ServerConfig,
    pub(crate) commands: CommandSet,
    pub(crate) forward: Option<Handler>,
    pub(crate) reply_delays: crate::faults::ReplyDelays,
    pub(crate) main_loop: tokio::sync::Mutex<()>,
    pub(crate) fd_budget: Arc<FdBudget>,
    trimmer: Arc<crate::memory::Trimmer>,
    bus: Arc<EventBus>,
    preconfig: AtomicBool,
    next_id: AtomicU64,
    shutdown: watch::Sender<bool>,
    active: AtomicUsize,
    idle: Notify,
    greeting: Value,
    observer: Option<RequestObserver>,
}

/// Sees every well-framed request before it is dispatched.
pub type RequestObserver = Arc<dyn Fn(&Request) + Send + Sync>;

impl ServerShared {
    /// Tells the observer (if any) about a request.
    pub(crate) fn observe(&self, request: &Request) {
        if let Some(observer) = &self.observer {
            observer(request);
        }
    }

    pub(crate) fn encoder(&self) -> Encoder {
        let base = match self.config.mode {
            Mode::Qmp => Encoder::QMP,
            Mode::GuestAgent => Encoder {
                line_ending: LineEnding::Lf,
                ..Encoder::QMP
            },
        };
        base.with_order(self.config.member_order)
    }

    pub(crate) fn next_session_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn in_preconfig(&self) -> bool {
        self.preconfig.load(Ordering::SeqCst)
    }

    pub(crate) fn emitter(&self) -> Emitter {
        Emitter::new(Arc::clone(&self.bus))
    }

    pub(crate) fn greeting(&self) -> Value {
        self.greeting.clone()
    }

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// Builds a [`Server`].
pub struct ServerBuilder {
    config: ServerConfig,
    commands: CommandSet,
    forward: Option<Handler>,
    observer: Option<RequestObserver>,
}

impl ServerBuilder {
    /// Adds a command (a caller's command replaces a built-in of the same name).
    pub fn command(mut self, entry: CommandEntry) -> ServerBuilder {
        self.commands.add(entry);
        self
    }

    /// Adds every command of `set`.
    pub fn commands(mut self, set: &CommandSet) -> ServerBuilder {
        for entry in set.iter() {
            self.commands.add((**entry).clone());
        }
        self
    }

    /// Hands every command the server does not know, after negotiation, to
    /// `handler`, unchecked: no `allow_oob` or argument check (the handler
    /// sees [`Call::out_of_band`](crate::Call::out_of_band) and answers as
    /// the peer it forwards to answers). Only `qmp_capabilities` stays
    /// built in; `query-version`, `query-commands` and the descriptor
    /// commands go to the handler too. For a proxy in front of a QEMU.
    pub fn forward_unknown<F, Fut>(mut self, handler: F) -> ServerBuilder
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = CommandResult> + Send + 'static,
    {
        self.forward = Some(Arc::new(move |call| Box::pin(handler(call))));
        self
    }

    /// Calls `observer` with every well-framed request, before dispatch
    /// (for recording what clients sent).
    pub fn observe(mut self, observer: impl Fn(&Request) + Send + Sync + 'static) -> ServerBuilder {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Changes the configuration.
    pub fn configure(mut self, change: impl FnOnce(&mut ServerConfig)) -> ServerBuilder {
        change(&mut self.config);
        self
    }

    /// The server, with the built-in commands added. Call inside a tokio
    /// runtime (event throttling runs its timers there).
    pub fn build(self) -> Server {
        let ServerBuilder {
            config,
            mut commands,
            forward,
            observer,
        } = self;
        crate::builtin::install(&mut commands, &config, forward.is_some());
        let capabilities = if config.offer_oob {
            vec!["oob".to_string()]
        } else {
            Vec::new()
        };
        let greeting = Greeting {
            version: config.version.clone(),
            capabilities,
        }
        .to_value();
        let (shutdown, _) = watch::channel(false);
        let reply_delays = crate::faults::ReplyDelays::new(&config.faults);
        Server {
            pretty: config.pretty,
            shared: Arc::new(ServerShared {
                bus: EventBus::new(config.throttle.clone()),
                fd_budget: FdBudget::new(config.max_unclaimed_fds),
                trimmer: Arc::default(),
                config,
                commands,
                forward,
                reply_delays,
                main_loop: tokio::sync::Mutex::new(()),
                preconfig: AtomicBool::new(false),
                next_id: AtomicU64::new(1),
                shutdown,
                active: AtomicUsize::new(0),
                idle: Notify::new(),
                greeting,
                observer,
            }),
        }
    }
}

/// A QMP (or guest agent) server. Cheap to clone; all clones serve the same
/// commands and share one event bus and one main loop.
#[derive(Clone)]
pub struct Server {
    shared: Arc<ServerShared>,
    /// This handle's output layout (listeners of one server may differ,
    /// as QEMU's monitors do).
    pretty: bool,
}

/// A handle to a [`Server`] that does not keep it alive: for state the
/// server's own handlers hold (which would otherwise make a cycle, and the
/// server would never be freed).
#[derive(Clone)]
pub struct WeakServer {
    shared: std::sync::Weak<ServerShared>,
    pretty: bool,
}

impl WeakServer {
    /// The server, if it still exists.
    pub fn upgrade(&self) -> Option<Server> {
        Some(Server {
            shared: self.shared.upgrade()?,
            pretty: self.pretty,
        })
    }
}

impl std::fmt::Debug for WeakServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeakServer").finish_non_exhaustive()
    }
}

impl Server {
    /// A handle that does not keep this server alive.
    pub fn downgrade(&self) -> WeakServer {
        WeakServer {
            shared: Arc::downgrade(&self.shared),
            pretty: self.pretty,
        }
    }

    /// Starts building a server from a configuration.
    pub fn builder(config: ServerConfig) -> ServerBuilder {
        ServerBuilder {
            config,
            commands: CommandSet::new(),
            forward: None,
            observer: None,
        }
    }

    /// The same server (commands, events, main loop) with sessions started
    /// through the returned handle using QEMU's `pretty=on` layout or not.
    pub fn with_pretty(&self, pretty: bool) -> Server {
        Server {
            shared: Arc::clone(&self.shared),
            pretty,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    /// A handle to emit events to every session.
    pub fn emitter(&self) -> Emitter {
        self.shared.emitter()
    }

    /// Enters or leaves the preconfig phase (commands without
    /// `allow_preconfig` are refused while in it).
    pub fn set_preconfig(&self, preconfig: bool) {
        self.shared.preconfig.store(preconfig, Ordering::SeqCst);
    }

    /// True while in the preconfig phase.
    pub fn in_preconfig(&self) -> bool {
        self.shared.in_preconfig()
    }

    /// Number of sessions running now.
    pub fn active_sessions(&self) -> usize {
        self.shared.active.load(Ordering::SeqCst)
    }

    /// Serves one session on a connected unix socket (with fd passing), as
    /// a monitor of its own.
    pub async fn serve_unix_stream(&self, stream: UnixStream) {
        self.session(Connection::unix(stream), &Arc::default())
            .await;
    }

    /// Serves one session on any byte stream (no fd passing).
    pub async fn serve_stream<S>(&self, stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        self.session(Connection::stream(stream), &Arc::default())
            .await;
    }

    /// Serves one session on standard input and output.
    pub async fn serve_stdio(&self) {
        let stdio = Connection::pair(tokio::io::stdin(), tokio::io::stdout());
        self.session(stdio, &Arc::default()).await;
    }

    /// Runs one session of `monitor` (the sessions of one listener share
    /// one monitor, as the clients of one QEMU `-mon` do).
    async fn session(&self, conn: Connection, monitor: &Arc<MonitorState>) {
        self.shared.active.fetch_add(1, Ordering::SeqCst);
        let encoder = self.shared.encoder().with_pretty(self.pretty);
        session::run(Arc::clone(&self.shared), Arc::clone(monitor), encoder, conn).await;
        if self.shared.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.shared.idle.notify_waiters();
        }
        self.shared.trimmer.session_ended();
    }

    /// Binds a unix socket at `path` with mode 0600 from the moment it
    /// exists (the mode is set on the socket before it is bound, so the
    /// umask never shows). A stale socket file is replaced only when nothing
    /// listens on it.
    pub fn bind_unix(path: &Path) -> io::Result<UnixListener> {
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("a server is already listening on {}", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
        let socket = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )?;
        // On Linux a unix socket's file takes the socket's mode (less the
        // umask) when it is bound.
        rustix::fs::fchmod(&socket, rustix::fs::Mode::from_raw_mode(0o600))?;
        rustix::net::bind(&socket, &SocketAddrUnix::new(path)?)?;
        rustix::net::listen(&socket, UNIX_BACKLOG)?;
        // Elsewhere (or if the umask took bits the mode needs) set it now.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        UnixListener::from_std(std::os::unix::net::UnixListener::from(socket))
    }

    /// Binds `path` and serves until shutdown.
    pub async fn serve_unix(&self, path: &Path) -> io::Result<()> {
        let listener = Server::bind_unix(path)?;
        self.serve_unix_listener(listener).await
    }

    /// Accepts sessions on a unix listener until shutdown.
    pub async fn serve_unix_listener(&self, listener: UnixListener) -> io::Result<()> {
        self.accept_loop(|| async {
            let (stream, _) = listener.accept().await?;
            Ok(Connection::unix(stream))
        })
        .await
    }

    /// Accepts sessions on a TCP listener until shutdown.
    pub async fn serve_tcp_listener(&self, listener: TcpListener) -> io::Result<()> {
        self.accept_loop(|| async {
            let (stream, _) = listener.accept().await?;
            Ok(Connection::tcp(stream))
        })
        .await
    }

    /// Runs `accept` until shutdown, starting a session for each connection
    /// and riding out transient accept errors.
    pub(crate) async fn accept_loop<F, Fut>(&self, mut accept: F) -> io::Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = io::Result<Connection>>,
    {
        let mut shutdown = self.shared.shutdown_signal();
        let monitor = Arc::default();
        loop {
            let accepted = tokio::select! {
                accepted = accept() => accepted,
                _ = shutdown.changed() => return Ok(()),
            };
            match accepted {
                Ok(conn) => self.start(conn, &monitor).await,
                Err(e) if transient(&e) => tokio::time::sleep(ACCEPT_BACKOFF).await,
                Err(e) => return Err(e),
            }
        }
    }

    /// Binds a TCP address (use 127.0.0.1 unless you mean otherwise) and serves.
    pub async fn serve_tcp(&self, addr: SocketAddr) -> io::Result<()> {
        let listener = TcpListener::bind(addr).await?;
        self.serve_tcp_listener(listener).await
    }

    /// Serves on an already open file descriptor: a listening socket (unix
    /// or TCP) is accepted on; a connected socket is one session.
    ///
    /// # Safety
    /// `fd` must be an open socket that nothing else owns or closes.
    pub async unsafe fn serve_fd(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: the caller hands over ownership of an open socket.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let listening = rustix::net::sockopt::socket_acceptconn(&owned).map_err(io::Error::from)?;
        let domain = rustix::net::getsockname(&owned).map_err(io::Error::from)?;
        let unix = domain.address_family() == rustix::net::AddressFamily::UNIX;
        match (listening, unix) {
            (true, true) => {
                let std = std::os::unix::net::UnixListener::from(owned);
                std.set_nonblocking(true)?;
                self.serve_unix_listener(UnixListener::from_std(std)?).await
            }
            (true, false) => {
                let std = std::net::TcpListener::from(owned);
                std.set_nonblocking(true)?;
                self.serve_tcp_listener(TcpListener::from_std(std)?).await
            }
            (false, true) => {
                let std = std::os::unix::net::UnixStream::from(owned);
                std.set_nonblocking(true)?;
                self.serve_unix_stream(UnixStream::from_std(std)?).await;
                Ok(())
            }
            (false, false) => {
                let std = std::net::TcpStream::from(owned);
                std.set_nonblocking(true)?;
                let conn = Connection::tcp(TcpStream::from_std(std)?);
                self.session(conn, &Arc::default()).await;
                Ok(())
            }
        }
    }

    /// Connect-out mode (QEMU's `server=off`): dials a client that listens
    /// on `target` and serves it; with `reconnect`, dials again that long
    /// after each disconnect or failed attempt, until shutdown.
    pub async fn connect_out(
        &self,
        target: ConnectTarget,
        reconnect: Option<Duration>,
    ) -> io::Result<()> {
        let mut shutdown = self.shared.shutdown_signal();
        let monitor = Arc::default();
        loop {
            let connected = match &target {
                ConnectTarget::Unix(path) => UnixStream::connect(path).await.map(Connection::unix),
                ConnectTarget::Tcp(addr) => TcpStream::connect(addr).await.map(Connection::tcp),
            };
            match (connected, reconnect) {
                (Ok(conn), _) => self.session(conn, &monitor).await,
                (Err(e), None) => return Err(e),
                (Err(e), Some(_)) => tracing::debug!("connect-out failed: {e}"),
            }
            let Some(delay) = reconnect else {
                return Ok(());
            };
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    async fn start(&self, conn: Connection, monitor: &Arc<MonitorState>) {
        if self.shared.config.one_client_at_a_time {
            self.session(conn, monitor).await;
        } else {
            let server = self.clone();
            let monitor = Arc::clone(monitor);
            tokio::spawn(async move { server.session(conn, &monitor).await });
        }
    }

    /// Graceful shutdown: listeners stop accepting, sessions stop reading,
    /// finish the commands they have, flush and close. Resolves when every
    /// session has ended.
    pub async fn shutdown(&self) {
        let _ = self.shared.shutdown.send(true);
        loop {
            let idle = self.shared.idle.notified();
            if self.shared.active.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// Where connect-out mode dials.
#[derive(Clone, Debug)]
pub enum ConnectTarget {
    /// A unix socket path.
    Unix(std::path::PathBuf),
    /// A TCP address.
    Tcp(SocketAddr),
}

/// The listen backlog of unix sockets (the kernel caps it at
/// `somaxconn`).
const UNIX_BACKLOG: i32 = 1024;

/// Pause after an accept error that does not end the listener (so running
/// out of descriptors does not spin).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// Accept errors that do not end a listener (out of descriptors, a client
/// that left before it was accepted).
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) || e.raw_os_error() == Some(rustix::io::Errno::MFILE.raw_os_error())
        || e.raw_os_error() == Some(rustix::io::Errno::NFILE.raw_os_error())
}
