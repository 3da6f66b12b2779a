//! Where a command connects: a unix socket, a TCP address, a QEMU launched
//! as a child (monitor on a socketpair), or the built-in simulator.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use qmp_client::{Client, ClientConfig, QemuLauncher};
use qmp_sim::Simulator;

/// The target options shared by the commands that talk to a server.
#[derive(Debug, Args, Clone)]
pub struct TargetArgs {
    /// Connect over TCP.
    #[arg(long, value_name = "HOST:PORT")]
    pub tcp: Option<String>,
    /// Start QEMU with the arguments after `--` (monitor on a socketpair,
    /// no socket file; QEMU is killed when qmp exits).
    #[arg(long)]
    pub launch: bool,
    /// Use the built-in simulator (no QEMU needed).
    #[arg(long)]
    pub sim: bool,
    /// QEMU's program and arguments, for --launch.
    #[arg(last = true, value_name = "QEMU-ARGS")]
    pub qemu: Vec<String>,
    /// With a TCP target: secure it with TLS, verifying the server against
    /// these CA certificates (PEM; QEMU's ca-cert.pem).
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// With --tls-ca: the name the server's certificate must carry
    /// (default: the host connected to).
    #[arg(long, value_name = "NAME", requires = "tls_ca")]
    pub tls_name: Option<String>,
    /// Seconds allowed for connecting, the greeting and negotiation.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = seconds)]
    pub connect_timeout: Duration,
}

impl Default for TargetArgs {
    fn default() -> TargetArgs {
        TargetArgs {
            tcp: None,
            launch: false,
            sim: false,
            qemu: Vec::new(),
            tls_ca: None,
            tls_name: None,
            connect_timeout: qmp_client::config::DEFAULT_GREETING_TIMEOUT,
        }
    }
}

/// The time a command waits for each reply unless told otherwise
/// (`--timeout`).
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// Parses a number of seconds (fractions allowed); 0 is zero.
pub fn seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.0..1e9).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!("'{text}' is not a number of seconds")),
    }
}

/// A reply deadline from `--timeout SECONDS`, where 0 means none.
pub fn reply_deadline(timeout: Duration) -> Option<Duration> {
    (!timeout.is_zero()).then_some(timeout)
}

/// A server to talk to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A unix socket path.
    Unix(PathBuf),
    /// `HOST:PORT`.
    Tcp(String),
    /// `HOST:PORT` over TLS: the CA file and the expected server name.
    Tls(String, PathBuf, Option<String>),
    /// QEMU's program and arguments.
    Launch(Vec<String>),
    /// The built-in simulator.
    Sim,
}

impl TargetArgs {
    /// The client settings these options give: the connect deadline, and
    /// [`DEFAULT_REPLY_TIMEOUT`] for each reply.
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            greeting_timeout: self.connect_timeout,
            call_timeout: Some(DEFAULT_REPLY_TIMEOUT),
            ..ClientConfig::default()
        }
    }

    /// True when a flag chose the target (so no positional TARGET is expected).
    pub fn chosen_by_flag(&self) -> bool {
        self.tcp.is_some() || self.launch || self.sim
    }

    /// The target from the flags, or from a positional `TARGET` word:
    /// a socket path, `unix:PATH`, `tcp:HOST:PORT` or `sim`.
    pub fn target(&self, positional: Option<&str>) -> anyhow::Result<Target> {
        let target = self.plain_target(positional)?;
        match (&self.tls_ca, target) {
            (None, target) => Ok(target),
            (Some(ca), Target::Tcp(addr)) => {
                Ok(Target::Tls(addr, ca.clone(), self.tls_name.clone()))
            }
            (Some(_), _) => bail!("--tls-ca needs a TCP target (tcp:HOST:PORT or --tcp)"),
        }
    }

    fn plain_target(&self, positional: Option<&str>) -> anyhow::Result<Target> {
        let chosen = [self.tcp.is_some(), self.launch, self.sim]
            .iter()
            .filter(|&&b| b)
            .count();
        if chosen > 1 {
            bail!("give only one of --tcp, --launch and --sim");
        }
        if !self.qemu.is_empty() && !self.launch {
            bail!("arguments after -- are QEMU's, for --launch");
        }
        if let Some(addr) = &self.tcp {
            return Ok(Target::Tcp(addr.clone()));
        }
        if self.launch {
            if self.qemu.is_empty() {
                bail!("--launch needs QEMU's program and arguments after --");
            }
            return Ok(Target::Launch(self.qemu.clone()));
        }
        if self.sim {
            return Ok(Target::Sim);
        }
        Ok(match positional {
            None | Some("sim") => Target::Sim,
            Some(word) => match word.strip_prefix("tcp:") {
                Some(addr) => Target::Tcp(addr.to_owned()),
                None => Target::Unix(PathBuf::from(word.strip_prefix("unix:").unwrap_or(word))),
            },
        })
    }
}

/// A connected client, and the simulator behind it when there is one.
pub struct Connection {
    /// The client.
    pub client: Client,
    /// The in-process simulator, when the target is `sim` (kept alive
    /// with the connection).
    pub _simulator: Option<Simulator>,
}

impl Target {
    /// Connects (starting QEMU or the simulator first when asked), within
    /// twice the greeting timeout (once to reach the socket or start the
    /// program, once for the greeting and negotiation).
    pub async fn connect(&self, config: ClientConfig) -> anyhow::Result<Connection> {
        let limit = config.greeting_timeout.saturating_mul(2);
        match tokio::time::timeout(limit, self.connect_unbounded(config)).await {
            Ok(connected) => connected,
            Err(_) => bail!("cannot connect to {self}: no answer within {limit:?}"),
        }
    }

    async fn connect_unbounded(&self, config: ClientConfig) -> anyhow::Result<Connection> {
        let builder = Client::builder().config(config);
        let (client, simulator) = match self {
            Target::Unix(path) => (self.connected(builder.connect_unix(path).await)?, None),
            Target::Tcp(addr) => (
                self.connected(builder.connect_tcp(addr.as_str()).await)?,
                None,
            ),
            Target::Tls(addr, ca, name) => {
                let tls = qmp_client::TlsOptions {
                    ca_file: ca.clone(),
                    server_name: name.clone(),
                    identity: None,
                };
                (self.connected(builder.connect_tls(addr, &tls).await)?, None)
            }
            Target::Launch(args) => {
                let (program, rest) = args
                    .split_first()
                    .context("--launch needs QEMU's program")?;
                let launcher = QemuLauncher::new(program).args(rest);
                let client = builder
                    .launch(&launcher)
                    .await
                    .with_context(|| format!("cannot launch {program}"))?;
                (client, None)
            }
            Target::Sim => {
                let simulator = Simulator::start()
                    .await
                    .context("cannot start the simulator")?;
                let client = builder
                    .connect_unix(simulator.socket())
                    .await
                    .context("cannot connect to the simulator")?;
                (client, Some(simulator))
            }
        };
        Ok(Connection {
            client,
            _simulator: simulator,
        })
    }

    /// The client, or the error saying which target could not be reached
    /// (a connect error names it already).
    fn connected(&self, result: qmp_client::Result<Client>) -> anyhow::Result<Client> {
        match result {
            Ok(client) => Ok(client),
            Err(error @ qmp_client::Error::Connect { .. }) => Err(error.into()),
            Err(error) => {
                Err(anyhow::Error::new(error).context(format!("cannot connect to {self}")))
            }
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Unix(path) => write!(f, "{}", path.display()),
            Target::Tcp(addr) => write!(f, "tcp:{addr}"),
            Target::Tls(addr, ..) => write!(f, "tcp:{addr} (TLS)"),
            Target::Launch(args) => write!(f, "{}", args.first().map_or("QEMU", String::as_str)),
            Target::Sim => f.write_str("the simulator"),
        }
    }
}

/// A runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_words_and_flags() {
        let none = TargetArgs::default();
        assert_eq!(none.target(None).unwrap(), Target::Sim);
        assert_eq!(
            none.target(Some("/tmp/q.sock")).unwrap(),
            Target::Unix("/tmp/q.sock".into())
        );
        assert_eq!(
            none.target(Some("unix:/tmp/q")).unwrap(),
            Target::Unix("/tmp/q".into())
        );
        assert_eq!(
            none.target(Some("tcp:127.0.0.1:4444")).unwrap(),
            Target::Tcp("127.0.0.1:4444".into())
        );
        let launch = TargetArgs {
            launch: true,
            qemu: vec!["qemu-system-x86_64".into(), "-S".into()],
            ..TargetArgs::default()
        };
        assert!(launch.chosen_by_flag());
        assert!(matches!(launch.target(None).unwrap(), Target::Launch(a) if a.len() == 2));
        let both = TargetArgs {
            sim: true,
            tcp: Some("x:1".into()),
            ..TargetArgs::default()
        };
        assert!(both.target(None).is_err());
    }
}
