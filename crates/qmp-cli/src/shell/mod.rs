//! `qmp shell`: an interactive QMP shell in qmp-shell's syntax, with tab
//! completion and input checks from the server's schema, history, and
//! events shown as they arrive; or HMP through `human-monitor-command`.
//! Reads lines from a pipe too.

mod batch;
mod completion;
mod editor;
mod events;
mod help;
mod interactive;
mod render;
mod session;
mod types;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use qmp_client::{ClientConfig, Handshake};

use crate::target::{reply_deadline, runtime, TargetArgs};
use render::Renderer;
use session::{Mode, Options, Session};

/// History file name in the home folder.
const HOME_HISTORY: &str = ".qmp_history";

/// `qmp shell`
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  qmp shell                      the built-in simulator
  qmp shell /run/qemu/qmp.sock
  qmp shell tcp:127.0.0.1:4444
  qmp shell -H /run/qemu/qmp.sock     HMP commands
  qmp shell --launch -- qemu-system-x86_64 -machine none -nodefaults -display none -S
  echo query-status | qmp shell --compact /run/qemu/qmp.sock

Input: `COMMAND key=value ...` (values: integers, true/false, JSON, else
strings; dotted keys for nested objects: file.driver=file), a raw JSON
request, or `transaction( ACTION key=value ; ... )`, also over several lines
as qmp-shell reads it. Tab completes commands, argument names and enum
values; input the schema refuses is shown with QEMU's error text and not
sent (--no-check sends it anyway). `help` and `help COMMAND` describe the
syntax and a command's arguments. History: --history FILE, else
$XDG_STATE_HOME/qmp/history when XDG_STATE_HOME is set, else ~/.qmp_history.")]
pub struct ShellArgs {
    /// The target: a socket path, tcp:HOST:PORT or sim (default: the
    /// built-in simulator).
    #[arg(value_name = "TARGET")]
    target_word: Option<String>,
    #[command(flatten)]
    target: TargetArgs,
    /// HMP mode: lines are HMP commands, sent through human-monitor-command.
    #[arg(short = 'H', long = "hmp")]
    hmp: bool,
    /// Print replies and events on one line each.
    #[arg(long)]
    compact: bool,
    /// QEMU's pretty layout (the default; qmp-shell's -p).
    #[arg(short, long, conflicts_with = "compact")]
    pretty: bool,
    /// Print each request before sending it.
    #[arg(short, long)]
    verbose: bool,
    /// Send input even when the schema refuses it.
    #[arg(long)]
    no_check: bool,
    /// The history file.
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// Log every command sent, with its reply, to this file (qmp-shell's
    /// -l): one JSON object each, the request with the reply's `return` or
    /// `error` added.
    #[arg(short = 'l', long, value_name = "FILE")]
    logfile: Option<PathBuf>,
    /// Send commands at once, without waiting for a greeting or sending
    /// qmp_capabilities: for qemu-ga (no events, no schema), or to
    /// negotiate by hand (qmp-shell's -N).
    #[arg(short = 'N', long)]
    skip_negotiation: bool,
    /// Seconds to wait for each reply (0: as long as the connection lives).
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = crate::target::seconds)]
    timeout: std::time::Duration,
}

/// The history file: the option, `$XDG_STATE_HOME/qmp/history`, or
/// `~/.qmp_history` (none without a home).
fn history_path(option: Option<PathBuf>) -> Option<PathBuf> {
    let env = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    option
        .or_else(|| env("XDG_STATE_HOME").map(|d| PathBuf::from(d).join("qmp").join("history")))
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(HOME_HISTORY)))
}

/// The greeting lines, as qmp-shell prints them (without a greeting,
/// only "Connected").
fn banner(mode: Mode, version: Option<&qmp_wire::QemuVersion>) -> String {
    let welcome = match mode {
        Mode::Qmp => "Welcome to the QMP low-level shell!",
        Mode::Hmp => "Welcome to the HMP shell!",
    };
    match version {
        Some(v) => format!("{welcome}\nConnected to QEMU {v}\n"),
        None => format!("{welcome}\nConnected\n"),
    }
}

/// Runs `qmp shell`.
pub fn shell(args: ShellArgs) -> anyhow::Result<ExitCode> {
    let target = args.target.target(args.target_word.as_deref())?;
    let renderer = Renderer::new(args.compact);
    let mode = if args.hmp { Mode::Hmp } else { Mode::Qmp };
    let options = Options {
        mode,
        check: !args.no_check,
        verbose: args.verbose,
        renderer,
    };
    let log = args
        .logfile
        .as_ref()
        .map(|path| {
            std::fs::File::create(path)
                .with_context(|| format!("cannot create the log file {}", path.display()))
        })
        .transpose()?;
    let runtime = runtime()?;
    let config = ClientConfig {
        handshake: if args.skip_negotiation {
            Handshake::Skip
        } else {
            Handshake::Negotiate
        },
        call_timeout: reply_deadline(args.timeout),
        ..args.target.client_config()
    };
    let connection = runtime.block_on(target.connect(config))?;
    let client = connection.client.clone();
    let (mut session, notice) = Session::new(client, runtime.handle().clone(), options);
    if let Some(log) = log {
        session.log_to(log);
    }
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        println!(
            "{}",
            banner(mode, connection.client.greeting().map(|g| &g.version.qemu))
        );
    }
    if let Some(notice) = notice {
        eprint!("{notice}");
    }
    if interactive {
        let history = history_path(args.history);
        interactive::run(session, renderer, history.as_deref())?;
    } else {
        batch::run(session, renderer)?;
    }
    connection.client.close();
    drop(connection);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_file_from_option_or_environment() {
        let explicit = history_path(Some(PathBuf::from("/tmp/h")));
        assert_eq!(explicit, Some(PathBuf::from("/tmp/h")));
        let version = qmp_wire::QemuVersion {
            major: 7,
            minor: 2,
            micro: 22,
        };
        assert_eq!(
            banner(Mode::Qmp, Some(&version)),
            "Welcome to the QMP low-level shell!\nConnected to QEMU 7.2.22\n"
        );
        assert_eq!(
            banner(Mode::Hmp, None),
            "Welcome to the HMP shell!\nConnected\n"
        );
    }
}
