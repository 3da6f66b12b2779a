//! The proxy's one upstream session: where the QEMU monitor is (a unix
//! socket, TCP, or a QEMU the proxy launches), connected with `oob` when
//! offered, no reply deadline, and events relayed in arrival order.

use std::path::PathBuf;
use std::time::Duration;

use qmp_client::{Client, ClientConfig, EventSink, QemuLauncher};

use crate::error::{Error, Result};

/// How the upstream session runs.
pub(crate) struct UpstreamOptions {
    /// Where its events go.
    pub(crate) events: EventSink,
    /// Its reader's busy-poll window.
    pub(crate) busy_poll: Duration,
    /// Where its messages are recorded, if anywhere.
    pub(crate) transcript: Option<qmp_client::TranscriptSink>,
}

/// Where the QEMU monitor is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upstream {
    /// A unix socket path.
    Unix(PathBuf),
    /// `HOST:PORT`.
    Tcp(String),
    /// A QEMU to launch (program and arguments), its monitor on a
    /// socketpair.
    Launch(Vec<String>),
}

impl Upstream {
    /// `tcp:HOST:PORT`, `unix:PATH` or a path.
    pub fn parse(text: &str) -> Result<Upstream> {
        if let Some(addr) = text.strip_prefix("tcp:") {
            if !addr.contains(':') {
                return Err(Error::Address(format!("'{text}': expected tcp:HOST:PORT")));
            }
            return Ok(Upstream::Tcp(addr.into()));
        }
        let path = text.strip_prefix("unix:").unwrap_or(text);
        if path.is_empty() {
            return Err(Error::Address("an empty upstream address".into()));
        }
        Ok(Upstream::Unix(path.into()))
    }

    /// True when the upstream can come back after it is lost.
    pub(crate) fn can_reconnect(&self) -> bool {
        !matches!(self, Upstream::Launch(_))
    }

    /// One attempt to connect and negotiate.
    pub(crate) async fn connect(&self, options: &UpstreamOptions) -> Result<Client> {
        let config = ClientConfig {
            busy_poll: options.busy_poll,
            call_timeout: None,
            event_sink: Some(options.events.clone()),
            transcript_sink: options.transcript.clone(),
            in_band_ids: false,
            ..ClientConfig::default()
        };
        let builder = Client::builder().config(config);
        let client = match self {
            Upstream::Unix(path) => builder.connect_unix(path).await?,
            Upstream::Tcp(addr) => builder.connect_tcp(addr.as_str()).await?,
            Upstream::Launch(command) => {
                let Some((program, args)) = command.split_first() else {
                    return Err(Error::Address("--launch needs a program".into()));
                };
                builder
                    .launch(&QemuLauncher::new(program).args(args))
                    .await?
            }
        };
        Ok(client)
    }

    /// Connects, retrying every `interval` until it succeeds (for
    /// `--reconnect`, as QEMU's `reconnect-ms` does).
    pub(crate) async fn connect_retrying(
        &self,
        options: &UpstreamOptions,
        interval: Duration,
    ) -> Client {
        loop {
            match self.connect(options).await {
                Ok(client) => return client,
                Err(e) => {
                    tracing::debug!("upstream not back yet: {e}");
                    tokio::time::sleep(interval).await;
                }
            }
        }
    }
}
