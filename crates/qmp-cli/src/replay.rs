//! `qmp replay`: a recorded conversation served as a fake QEMU (the
//! behaviour is `qmp_sim::replay`'s; this is its command line).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::Args;
use qmp_server::{Server, ServerConfig};
use qmp_sim::replay::{build_replay_server, Order, Recording, Replayer};

use crate::target::runtime;

/// `qmp replay`
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  qmp replay session.jsonl --listen /tmp/fake.sock
  qmp replay session.jsonl --listen /tmp/fake.sock --strict

Serves a recording made by qmp record (or any transcript of the conformance
kit) as a fake QEMU: the recorded greeting, each command answered with the
recorded reply of the same command with the same arguments (the id is the
client's), recorded events at their place. With a recorded query-qmp-schema
reply every command is checked against it with QEMU's texts, and (lenient
replay) a command never recorded gets the stand-in's answer. --strict wants
the recorded order: another command gets an error naming the expected one.
Ends when the recorded session's end (quit) has been replayed, or on SIGINT,
SIGTERM or SIGHUP; prints a report (matched, not recorded, out of order,
never sent) and exits 1 if --strict saw any deviation or unsent command.")]
pub struct ReplayArgs {
    /// The recording.
    recording: PathBuf,
    /// The unix socket to listen on (created with mode 0600).
    #[arg(long, value_name = "PATH")]
    listen: PathBuf,
    /// Commands must come in the recorded order.
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    faults: crate::faults::FaultArgs,
}

/// Runs `qmp replay`.
pub fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let recording = Recording::read_file(&args.recording)?;
    let order = if args.strict {
        Order::Strict
    } else {
        Order::Lenient
    };
    runtime()?.block_on(async move {
        let mut signals = qmp_sim::ending::HostSignals::catch().context("cannot catch signals")?;
        let replayer = Replayer::new(recording, order);
        let config = ServerConfig {
            faults: args.faults.faults()?,
            ..ServerConfig::qmp(Default::default())
        };
        let server = build_replay_server(&replayer, config).map_err(|e| anyhow!("{e}"))?;
        let listener = Server::bind_unix(&args.listen)
            .with_context(|| format!("cannot listen on {}", args.listen.display()))?;
        eprintln!(
            "qmp: replaying {} on {}",
            args.recording.display(),
            args.listen.display()
        );
        let serving = server.clone();
        let listening = tokio::spawn(async move { serving.serve_unix_listener(listener).await });
        tokio::select! {
            () = replayer.finished() => {}
            signal = signals.next() => eprintln!("qmp: terminating on signal {signal}"),
        }
        listening.abort();
        server.shutdown().await;
        let _ = std::fs::remove_file(&args.listen);
        let report = replayer.report();
        eprint!("{report}");
        Ok(if args.strict && !report.is_exact() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}
