//! The proxy: listeners bound once, one upstream session at a time, and
//! for each upstream session one QMP server per listener (its policy, its
//! in-flight limit) whose unknown commands go upstream. A lost upstream
//! ends every downstream session, as QEMU's close does; the proxy then
//! ends, or with `reconnect` waits for the upstream to come back.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use qmp_client::{Client, EventSink};
use qmp_server::{Emitter, EncodedJson, Server, ServerConfig, ThrottleTable};
use qmp_wire::{Event, MemberOrder};
use tokio::sync::watch;

use crate::audit::{AuditLog, Direction, RedactRule};
use crate::config::ListenerConfig;
use crate::error::{Error, Result};
use crate::forward::Forwarder;
use crate::listen::{Accepted, ListenAddress, Listener};
use crate::record::Recorder;
use crate::upstream::{Upstream, UpstreamOptions};

/// How long an accept loop pauses after a failed accept (out of fds).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// The suffix `takeover` gives the QEMU socket it moves aside.
pub const TAKEOVER_SUFFIX: &str = ".upstream";

/// Everything a proxy needs.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// The QEMU monitor.
    pub upstream: Upstream,
    /// Where clients connect, each with its policy.
    pub listeners: Vec<ListenerConfig>,
    /// The audit log, if any.
    pub audit: Option<PathBuf>,
    /// Secret arguments the audit log redacts.
    pub redact: Vec<RedactRule>,
    /// After a lost upstream, wait for it to come back, trying at this
    /// interval, instead of ending.
    pub reconnect: Option<Duration>,
    /// The upstream is a unix socket whose path the proxy takes over: it
    /// connects, moves QEMU's socket to `PATH.upstream` and listens at
    /// `PATH` itself (with the first listener's policy when none is
    /// given), so that existing tools keep their path. QEMU's socket is
    /// moved back when the proxy ends.
    pub takeover: bool,
    /// The longest a downstream session busy-polls its socket before it
    /// sleeps (see `qmp_wire::io::busy_poll`); zero turns polling off.
    pub busy_poll: Duration,
    /// The same for the upstream session's reader. A downstream session
    /// polls only while it has no command upstream; from then on, this
    /// reader's polling is what catches QEMU's reply without a wake-up.
    pub upstream_busy_poll: Duration,
    /// Record the upstream conversation to this file (QEMU's transcript
    /// format; see [`Recorder`](crate::Recorder)).
    pub record: Option<PathBuf>,
}

impl ProxyConfig {
    /// A proxy of `upstream` for `listeners`, no audit, default redaction.
    pub fn new(upstream: Upstream, listeners: Vec<ListenerConfig>) -> ProxyConfig {
        ProxyConfig {
            upstream,
            listeners,
            audit: None,
            redact: RedactRule::defaults(),
            reconnect: None,
            takeover: false,
            busy_poll: qmp_wire::io::busy_poll::DEFAULT_MAX_WINDOW,
            upstream_busy_poll: qmp_wire::io::busy_poll::DEFAULT_MAX_WINDOW,
            record: None,
        }
    }
}

/// Why a proxy ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The upstream session ended (QEMU quit, or the connection was lost).
    UpstreamClosed(String),
    /// [`Proxy::stop`] was called.
    Stopped,
}

/// A running proxy.
#[derive(Debug)]
pub struct Proxy {
    addresses: Vec<ListenAddress>,
    stop: watch::Sender<bool>,
    ended: watch::Receiver<Option<Ended>>,
}

/// Servers of the current upstream session, one per listener.
type Current = watch::Sender<Option<Arc<Vec<Server>>>>;

impl Proxy {
    /// Connects to the upstream, binds the listeners and starts serving.
    pub async fn start(mut config: ProxyConfig) -> Result<Proxy> {
        let audit = match &config.audit {
            Some(path) => Some(Arc::new(AuditLog::open(path)?)),
            None => None,
        };
        let recorder = match &config.record {
            Some(path) => {
                let argv = match &config.upstream {
                    Upstream::Launch(argv) => Some(argv.as_slice()),
                    _ => None,
                };
                Some(Recorder::create(path, argv, config.redact.clone())?)
            }
            None => None,
        };
        let transcript = recorder.as_ref().map(Recorder::sink);
        let relay = Arc::new(OnceLock::new());
        let options = UpstreamOptions {
            events: sink(&relay),
            busy_poll: config.upstream_busy_poll,
            transcript,
        };
        let client = config.upstream.connect(&options).await?;
        let takeover = match config.takeover {
            true => Some(Takeover::begin(&mut config)?),
            false => None,
        };
        if config.listeners.is_empty() {
            return Err(Error::NoListener);
        }
        let mut listeners = Vec::new();
        for listener in &config.listeners {
            listeners.push(Listener::bind(&listener.address).await?);
        }
        let addresses = listeners
            .iter()
            .filter_map(Listener::local_address)
            .collect();
        let (stop, _) = watch::channel(false);
        let (ended_tx, ended) = watch::channel(None);
        let current: Current = watch::channel(None).0;
        let session = Generation {
            config: Arc::new(config),
            audit,
            recorder,
        };
        let servers = session.servers(&client);
        session.attach_relay(&relay, &servers);
        current.send_replace(Some(Arc::new(servers)));
        let mut accept_tasks = Vec::new();
        for (index, listener) in listeners.into_iter().enumerate() {
            accept_tasks.push(tokio::spawn(accept_loop(
                listener,
                index,
                current.subscribe(),
                stop.subscribe(),
            )));
        }
        let supervisor = session.supervise(client, current, stop.subscribe());
        tokio::spawn(async move {
            let end = supervisor.await;
            for task in accept_tasks {
                task.abort();
                let _ = task.await;
            }
            drop(takeover);
            ended_tx.send_replace(Some(end));
        });
        Ok(Proxy {
            addresses,
            stop,
            ended,
        })
    }

    /// The addresses listened on (with the port chosen for `tcp:...:0`).
    pub fn addresses(&self) -> &[ListenAddress] {
        &self.addresses
    }

    /// Ends every session and the proxy.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Waits until the proxy has ended (its listeners closed, their socket
    /// files removed).
    pub async fn ended(&self) -> Ended {
        let mut ended = self.ended.clone();
        loop {
            if let Some(end) = ended.borrow_and_update().clone() {
                return end;
            }
            if ended.changed().await.is_err() {
                return Ended::Stopped;
            }
        }
    }
}

/// The relay of one upstream session's events: to every listener's
/// sessions (as QEMU wrote them) and to the audit log.
struct Relay {
    emitters: Vec<Emitter>,
    audit: Option<Arc<AuditLog>>,
}

/// The event sink of an upstream session, relaying once `relay` is set.
fn sink(relay: &Arc<OnceLock<Relay>>) -> EventSink {
    let relay = Arc::clone(relay);
    EventSink::new(move |event: &Event| {
        let Some(relay) = relay.get() else { return };
        let value = event.to_value();
        if let Some(audit) = &relay.audit {
            audit.record("upstream", None, Direction::Event, value.clone(), &[]);
        }
        let encoded = EncodedJson::new(value, MemberOrder::Insertion);
        for emitter in &relay.emitters {
            emitter.relay_encoded(&encoded);
        }
    })
}

/// What every upstream session of a proxy shares.
struct Generation {
    config: Arc<ProxyConfig>,
    audit: Option<Arc<AuditLog>>,
    recorder: Option<Arc<Recorder>>,
}

impl Generation {
    /// One server per listener, greeting as `client`'s QEMU greeted.
    fn servers(&self, client: &Client) -> Vec<Server> {
        let version = client
            .greeting()
            .map(|g| g.version.clone())
            .unwrap_or_default();
        let redact = Arc::new(self.config.redact.clone());
        self.config
            .listeners
            .iter()
            .map(|listener| {
                let mut config = ServerConfig::qmp(version.clone());
                config.offer_oob = client.oob_enabled();
                config.throttle = ThrottleTable::none();
                config.serialize_in_band = false;
                config.in_band_pipeline = listener.policy.max_in_flight;
                config.busy_poll = self.config.busy_poll;
                let forwarder = Arc::new(Forwarder {
                    upstream: client.clone(),
                    listener: listener.address.to_string(),
                    policy: listener.policy.clone(),
                    audit: self.audit.clone(),
                    redact: Arc::clone(&redact),
                });
                Server::builder(config)
                    .forward_unknown(move |call| Arc::clone(&forwarder).forward(call))
                    .build()
            })
            .collect()
    }

    fn attach_relay(&self, relay: &OnceLock<Relay>, servers: &[Server]) {
        let _ = relay.set(Relay {
            emitters: servers.iter().map(Server::emitter).collect(),
            audit: self.audit.clone(),
        });
    }

    /// Runs upstream sessions until the proxy ends.
    async fn supervise(
        mut self,
        mut client: Client,
        current: Current,
        mut stop: watch::Receiver<bool>,
    ) -> Ended {
        loop {
            let end = tokio::select! {
                reason = client.closed() => Ended::UpstreamClosed(reason.to_string()),
                _ = stop.wait_for(|stopped| *stopped) => Ended::Stopped,
            };
            tracing::info!("upstream session ended: {end:?}");
            if let (Some(recorder), true) = (self.recorder.take(), client.ended_by_server()) {
                recorder.record_eof();
            }
            let servers = current.send_replace(None);
            for server in servers.iter().flat_map(|s| s.iter()) {
                server.shutdown().await;
            }
            client.close();
            let interval = match (&end, self.config.reconnect) {
                (Ended::UpstreamClosed(_), Some(interval))
                    if self.config.upstream.can_reconnect() =>
                {
                    interval
                }
                _ => return end,
            };
            let relay = Arc::new(OnceLock::new());
            // A recording holds one upstream session: a new one goes unrecorded.
            let options = UpstreamOptions {
                events: sink(&relay),
                busy_poll: self.config.upstream_busy_poll,
                transcript: None,
            };
            client = tokio::select! {
                client = self.config.upstream.connect_retrying(&options, interval) => client,
                _ = stop.wait_for(|stopped| *stopped) => return Ended::Stopped,
            };
            tracing::info!("upstream back");
            let servers = self.servers(&client);
            self.attach_relay(&relay, &servers);
            current.send_replace(Some(Arc::new(servers)));
        }
    }
}

/// Accepts clients on one listener and serves each with the listener's
/// server of the current upstream session (waiting while there is none).
async fn accept_loop(
    listener: Listener,
    index: usize,
    current: watch::Receiver<Option<Arc<Vec<Server>>>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stopped| *stopped) => return,
        };
        let stream = match accepted {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let mut current = current.clone();
        tokio::spawn(async move {
            let server = loop {
                let server = current
                    .borrow_and_update()
                    .as_ref()
                    .and_then(|servers| servers.get(index).cloned());
                if let Some(server) = server {
                    break server;
                }
                if current.changed().await.is_err() {
                    return;
                }
            };
            match stream {
                Accepted::Unix(stream) => server.serve_unix_stream(stream).await,
                Accepted::Tcp(stream) => server.serve_stream(stream).await,
            }
        });
    }
}

/// A taken-over QEMU socket, moved back when dropped.
#[derive(Debug)]
struct Takeover {
    path: PathBuf,
    moved: PathBuf,
}

impl Takeover {
    /// Moves the upstream socket aside and puts a listener at its path.
    fn begin(config: &mut ProxyConfig) -> Result<Takeover> {
        let Upstream::Unix(path) = config.upstream.clone() else {
            return Err(Error::Takeover {
                path: PathBuf::new(),
                message: "the upstream must be a unix socket".into(),
            });
        };
        let moved = suffixed(&path, TAKEOVER_SUFFIX);
        std::fs::rename(&path, &moved).map_err(|e| Error::Takeover {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let policy = config
            .listeners
            .first()
            .map(|l| l.policy.clone())
            .unwrap_or_default();
        config.listeners.insert(
            0,
            ListenerConfig {
                address: ListenAddress::Unix(path.clone()),
                policy,
            },
        );
        config.upstream = Upstream::Unix(moved.clone());
        Ok(Takeover { path, moved })
    }
}

impl Drop for Takeover {
    fn drop(&mut self) {
        // The listener at `path` is gone by now; give QEMU its path back.
        if let Err(e) = std::fs::rename(&self.moved, &self.path) {
            tracing::warn!(
                "could not move {} back to {}: {e}",
                self.moved.display(),
                self.path.display()
            );
        }
    }
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
