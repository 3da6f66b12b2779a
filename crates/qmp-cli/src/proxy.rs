//! `qmp proxy`: one QEMU monitor shared by many clients (the behaviour is
//! `qmp-proxy`'s; this is its command line).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use qmp_proxy::{Ended, FileConfig, ListenAddress, ListenerConfig, Proxy, ProxyConfig, Upstream};

use crate::target::{runtime, seconds};

/// `qmp proxy`
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  qmp proxy /run/vm1/qmp.sock --listen unix:/run/vm1/shared.sock
  qmp proxy tcp:127.0.0.1:4444 --listen unix:/tmp/a.sock --listen tcp:4445
  qmp proxy --takeover /run/vm1/qmp.sock --audit /var/log/vm1-qmp.jsonl
  qmp proxy /run/vm1/qmp.sock --config policy.json
  qmp proxy --listen unix:/tmp/qmp.sock --launch -- qemu-system-x86_64 -machine none -nodefaults -display none

Every client gets QEMU's greeting, negotiates for itself and may pipeline
with any ids; events reach every client in QEMU's order; exec-oob stays out
of band; descriptors passed with a command go to QEMU with it. The
configuration file (JSON) gives listeners with policies and the audit log:
  {\"listen\": [{\"address\": \"unix:/run/vm1/ro.sock\", \"read-only\": true},
              {\"address\": \"tcp:4445\", \"deny\": [\"quit\"], \"max-in-flight\": 4}],
   \"audit\": \"/var/log/vm1-qmp.jsonl\"}
Unix sockets are created 0600; tcp:PORT listens on 127.0.0.1. The proxy
ends when QEMU's session ends (after quit, or when the connection is lost;
with --reconnect it waits for QEMU to come back) and on SIGINT, SIGTERM or
SIGHUP; it exits 0 and removes its socket files.")]
pub struct ProxyArgs {
    /// QEMU's monitor: a unix socket path or tcp:HOST:PORT.
    #[arg(value_name = "UPSTREAM", required_unless_present_any = ["takeover", "launch"])]
    upstream: Option<String>,
    /// Where clients connect (unix:PATH, tcp:PORT or tcp:HOST:PORT); repeatable.
    #[arg(long, value_name = "ADDRESS")]
    listen: Vec<String>,
    /// Listeners with policies, the audit log and redaction rules (JSON).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Write an audit log (JSON lines, secrets redacted) to this file.
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// After QEMU's session ends, wait for it to come back, trying every
    /// SECONDS (default 1), instead of ending.
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "1", value_parser = seconds)]
    reconnect: Option<Duration>,
    /// Connect to QEMU's unix socket at PATH, move it to PATH.upstream and
    /// listen at PATH instead, so existing tools keep their path (QEMU's
    /// socket is moved back when the proxy ends).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["upstream", "launch"])]
    takeover: Option<PathBuf>,
    /// Launch QEMU with the arguments after `--` (monitor on a socketpair).
    #[arg(long)]
    launch: bool,
    /// QEMU's program and arguments, for --launch.
    #[arg(last = true, value_name = "QEMU-ARGS")]
    qemu: Vec<String>,
}

/// `qmp record`
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  qmp record /run/vm1/qmp.sock --listen unix:/tmp/rec.sock -o session.jsonl
  qmp record --listen unix:/tmp/rec.sock -o session.jsonl --launch -- qemu-system-x86_64 -machine none -nodefaults -display none

A proxy (see qmp help proxy) that writes QEMU's side of the conversation
(what QEMU received and sent, with timing) in the transcript format of the
conformance kit: compare.py replays it against any server, qmp replay serves
it as a fake QEMU. Secret arguments are redacted as in the audit log. With
--launch the header's argv is QEMU's command line; otherwise it is a guess
to edit.")]
pub struct RecordArgs {
    /// The transcript to write.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: PathBuf,
    #[command(flatten)]
    proxy: ProxyArgs,
}

/// Runs `qmp record`.
pub fn record(args: RecordArgs) -> anyhow::Result<ExitCode> {
    if args.proxy.reconnect.is_some() {
        bail!("a recording holds one upstream session: --reconnect does not apply");
    }
    let mut config = proxy_config(args.proxy)?;
    config.record = Some(args.output);
    run(config)
}

/// Runs `qmp proxy`.
pub fn proxy(args: ProxyArgs) -> anyhow::Result<ExitCode> {
    run(proxy_config(args)?)
}

fn run(config: ProxyConfig) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let mut signals = qmp_sim::ending::HostSignals::catch().context("cannot catch signals")?;
        let proxy = Proxy::start(config).await?;
        for address in proxy.addresses() {
            eprintln!("qmp: proxy listening on {address}");
        }
        let end = tokio::select! {
            end = proxy.ended() => end,
            signal = signals.next() => {
                eprintln!("qmp: terminating on signal {signal}");
                proxy.stop();
                proxy.ended().await
            }
        };
        if let Ended::UpstreamClosed(reason) = end {
            eprintln!(
                "qmp: upstream session ended: {}",
                crate::terminal::safe(&reason)
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn proxy_config(args: ProxyArgs) -> anyhow::Result<ProxyConfig> {
    let upstream = match (&args.takeover, args.launch, &args.upstream) {
        (Some(path), _, _) => Upstream::Unix(path.clone()),
        (None, true, None) => {
            if args.qemu.is_empty() {
                bail!("--launch needs QEMU's program and arguments after --");
            }
            Upstream::Launch(args.qemu.clone())
        }
        (None, false, Some(text)) => Upstream::parse(text)?,
        (None, true, Some(_)) => bail!("give UPSTREAM or --launch, not both"),
        (None, false, None) => bail!("give UPSTREAM, --takeover PATH or --launch"),
    };
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let mut listeners = Vec::new();
    for text in &args.listen {
        let address: ListenAddress = text.parse()?;
        listeners.push(ListenerConfig::new(address));
    }
    listeners.extend(file.listen);
    let mut config = ProxyConfig::new(upstream, listeners);
    config.audit = args.audit.or(file.audit);
    if let Some(rules) = file.redact {
        config.redact = rules;
    }
    config.reconnect = args.reconnect;
    config.takeover = args.takeover.is_some();
    if config.listeners.is_empty() && !config.takeover {
        bail!("give at least one --listen ADDRESS (or listeners in --config)");
    }
    Ok(config)
}
