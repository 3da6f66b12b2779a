//! The `qmp` command line. Today it holds the schema tools (`qmp qapi
//! check|dump`); the shell, exec, events, serve and proxy subcommands come
//! later. It owns argument parsing and output, not the behaviour behind it.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod qapi;
mod sim;

/// The qmp command line.
#[derive(Debug, Parser)]
#[command(name = "qmp", version, about = "QEMU Machine Protocol tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Top-level subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// QAPI schema tools.
    Qapi(QapiArgs),
    /// A QEMU stand-in that takes QEMU's command-line options.
    ///
    /// `qmp fake-qemu --introspection REPLY.json -machine none -S -qmp unix:PATH,server=on,wait=off`
    /// serves every command of the saved `query-qmp-schema` reply with QEMU's
    /// argument validation (or of `--schema FILE [--conditions FILE]
    /// [--relaxed-docs]`). Accepted QEMU options: -machine none, -S,
    /// -nodefaults, -display none, --preconfig, -name, -qmp unix:..., -chardev
    /// socket,id=..,path=..,server=on,wait=off[,mux=on], -mon
    /// chardev=..,mode=control[,pretty=on]. Exits after `quit`.
    #[command(name = "fake-qemu")]
    FakeQemu {
        /// Options, as for QEMU.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// A qemu-ga stand-in that takes qemu-ga's command-line options.
    ///
    /// `qmp fake-qga [--schema QGA-SCHEMA] -m unix-listen -p PATH [-t DIR] [-f PIDFILE]`
    #[command(name = "fake-qga")]
    FakeQga {
        /// Options, as for qemu-ga.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
}

/// `qmp qapi ...`
#[derive(Debug, Args)]
struct QapiArgs {
    #[command(subcommand)]
    command: qapi::QapiCommand,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Qapi(args) => qapi::run(args.command),
        Command::FakeQemu { args } => sim::fake_qemu(&args),
        Command::FakeQga { args } => sim::fake_qga(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "qmp: {err:#}");
            ExitCode::FAILURE
        }
    }
}
