//! The `qmp` command line. Today it holds the schema tools (`qmp qapi
//! check|dump`); the shell, exec, events, serve and proxy subcommands come
//! later. It owns argument parsing and output, not the behaviour behind it.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod qapi;

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
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "qmp: {err:#}");
            ExitCode::FAILURE
        }
    }
}
