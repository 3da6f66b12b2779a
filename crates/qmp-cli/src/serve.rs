//! `qmp serve`: the simulator as a QMP server on a unix socket or TCP
//! (plain or TLS).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use qapi_schema::introspect::ApiSource;
use qmp_server::{Server, ServerConfig, TlsConfig};
use qmp_sim::machine::MachineOptions;
use qmp_sim::qemu::{default_version, Assembled, Assembly};
use qmp_sim::SimApi;

use crate::target::runtime;

/// `qmp serve`
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  qmp serve --unix /tmp/qmp.sock
  qmp serve --introspection reply.json --unix /tmp/qmp.sock -S
  qmp serve --schema qapi/qapi-schema.json --tcp 127.0.0.1:4444
  qmp serve --tcp 127.0.0.1:4444 --tls-cert server-cert.pem --tls-key server-key.pem
  qmp serve --unix /tmp/qmp.sock --script replies.json

A schema may use QEMU 10.0's or QEMU 7.2's doc comment syntax. Serves until
a client sends quit, or until SIGINT, SIGTERM or SIGHUP (which,
as in QEMU, send every client a SHUTDOWN event with reason host-signal);
either way it exits 0 and removes its socket file. Without --schema or
--introspection it serves the simulator's built-in API.")]
pub struct ServeArgs {
    /// Serve the commands of this QAPI schema.
    #[arg(long, value_name = "FILE", conflicts_with = "introspection")]
    schema: Option<PathBuf>,
    /// With --schema: the `if` symbols that hold (default: all).
    #[arg(long, value_name = "FILE", requires = "schema")]
    conditions: Option<PathBuf>,
    /// Accepted for old command lines; changes nothing (QEMU 7.2's doc
    /// comment syntax is always accepted).
    #[arg(long, requires = "schema", hide = true)]
    relaxed_docs: bool,
    /// Serve the commands of this saved query-qmp-schema reply.
    #[arg(long, value_name = "FILE")]
    introspection: Option<PathBuf>,
    /// Listen on this unix socket (created with mode 0600).
    #[arg(long, value_name = "PATH", conflicts_with = "tcp")]
    unix: Option<PathBuf>,
    /// Listen on this TCP address.
    #[arg(long, value_name = "ADDR")]
    tcp: Option<SocketAddr>,
    /// With --tcp: secure every connection with TLS, presenting this
    /// certificate chain (PEM; QEMU's server-cert.pem).
    #[arg(long, value_name = "FILE", requires_all = ["tcp", "tls_key"])]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM; QEMU's server-key.pem).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// With --tls-cert: require client certificates signed by this CA
    /// (PEM), as QEMU's verify-peer=on.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_verify_clients: Option<PathBuf>,
    /// Scripted replies (a JSON list of rules).
    #[arg(long, value_name = "FILE")]
    script: Option<PathBuf>,
    /// Start with the guest stopped, as QEMU's -S.
    #[arg(short = 'S')]
    stopped: bool,
    /// QEMU's pretty=on output layout.
    #[arg(long)]
    pretty: bool,
    /// The longest a session polls for the next request before it sleeps,
    /// in microseconds; the window adapts below this (0: never poll).
    #[arg(long, value_name = "MICROSECONDS", default_value_t = crate::DEFAULT_BUSY_POLL_US)]
    busy_poll: u64,
    #[command(flatten)]
    faults: crate::faults::FaultArgs,
}

/// Runs `qmp serve`.
pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.unix.is_none() && args.tcp.is_none() {
        bail!("give --unix PATH or --tcp ADDR");
    }
    let source = match (&args.schema, &args.introspection) {
        (Some(path), _) => Some(ApiSource::Schema {
            path: path.clone(),
            conditions: args.conditions.clone(),
        }),
        (None, Some(reply)) => Some(ApiSource::Introspection(reply.clone())),
        (None, None) => None,
    };
    let api = match &source {
        Some(source) => SimApi::load(source)?,
        None => SimApi::builtin()?,
    };
    let tls = tls_config(&args)?;
    runtime()?.block_on(async move {
        let mut signals = qmp_sim::ending::HostSignals::catch().context("cannot catch signals")?;
        let config = ServerConfig {
            pretty: args.pretty,
            busy_poll: Duration::from_micros(args.busy_poll),
            faults: args.faults.faults()?,
            ..ServerConfig::qmp(default_version())
        };
        let mut assembly = Assembly::new(api)
            .machine(MachineOptions {
                start_stopped: args.stopped,
                ..MachineOptions::default()
            })
            .config(config);
        if let Some(path) = &args.script {
            assembly = assembly.script_file(path)?;
        }
        let Assembled {
            server, machine, ..
        } = assembly.build().map_err(anyhow::Error::msg)?;
        let serving = server.clone();
        let listening = match (&args.unix, args.tcp) {
            (Some(path), _) => {
                let listener = Server::bind_unix(path)
                    .with_context(|| format!("cannot listen on {}", path.display()))?;
                eprintln!("qmp: serving on {}", path.display());
                tokio::spawn(async move { serving.serve_unix_listener(listener).await })
            }
            (None, Some(addr)) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr}"))?;
                // The bound address: with port 0 the system chose the port.
                let bound = listener.local_addr().unwrap_or(addr);
                match tls {
                    Some(tls) => {
                        eprintln!("qmp: serving on {bound} (TLS)");
                        tokio::spawn(async move { serving.serve_tls_listener(listener, tls).await })
                    }
                    None => {
                        eprintln!("qmp: serving on {bound}");
                        tokio::spawn(async move { serving.serve_tcp_listener(listener).await })
                    }
                }
            }
            (None, None) => bail!("give --unix PATH or --tcp ADDR"),
        };
        let ending = tokio::select! {
            ending = signals.until_quit(&machine) => ending,
            result = listening => { result??; qmp_sim::ending::Ending::Quit }
        };
        server.shutdown().await;
        if let Some(path) = &args.unix {
            let _ = std::fs::remove_file(path);
        }
        crate::sim::report(ending);
        Ok(ExitCode::SUCCESS)
    })
}

/// The TLS settings `--tls-cert`, `--tls-key` and `--tls-verify-clients` ask for.
fn tls_config(args: &ServeArgs) -> anyhow::Result<Option<TlsConfig>> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let tls = match &args.tls_verify_clients {
        None => TlsConfig::from_pem_files(cert, key),
        Some(ca) => TlsConfig::from_pem_files_verifying_clients(cert, key, ca),
    };
    Ok(Some(tls.context("cannot set up TLS")?))
}
