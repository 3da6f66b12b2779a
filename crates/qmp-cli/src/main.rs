//! The `qmp` command line: the shell, exec, events, serve, the schema tools
//! (`qmp qapi check|dump`), the QEMU stand-ins and the proxy.
//! It owns argument parsing and output, not the behaviour behind it.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod bench;
mod exec;
mod faults;
mod input;
mod profile;
mod proxy;
mod qapi;
mod replay;
mod schema;
mod serve;
mod setup;
mod shell;
mod sim;
mod target;
mod terminal;

/// The qmp command line.
#[derive(Debug, Parser)]
#[command(name = "qmp", version, about = "QEMU Machine Protocol tools")]
struct Cli {
    /// Diagnostics on stderr: -v info, -vv debug, -vvv trace (default:
    /// warnings; or a filter in RUST_LOG, such as RUST_LOG=qmp_server=debug).
    #[arg(short, action = clap::ArgAction::Count)]
    verbose: u8,
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
    /// `qmp fake-qemu [--profile FILE] [--introspection REPLY.json | --schema FILE
    /// [--conditions FILE]] [--script FILE] QEMU-OPTIONS...` answers as the binary
    /// its machine profile was recorded from (default: Debian's QEMU 7.2.22
    /// x86_64), with a modelled machine behind QEMU's options as libvirt
    /// writes them (-machine, -accel, -cpu, -m, -smp, -object, -device,
    /// -chardev socket with path= or fd=, -mon, -qmp, -daemonize, -pidfile,
    /// -no-shutdown, ...). Exits after `quit`, a host signal, or the guest's
    /// shutdown.
    #[command(name = "fake-qemu")]
    FakeQemu {
        /// Options, as for QEMU.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// An interactive QMP shell (qmp-shell's syntax, completion from the
    /// schema, history, events as they arrive), or HMP with -H.
    Shell(shell::ShellArgs),
    /// Execute one command and print its result as JSON.
    Exec(exec::ExecArgs),
    /// Print events as JSON lines.
    Events(exec::EventsArgs),
    /// Schema tools for running servers and API change reports.
    Schema {
        #[command(subcommand)]
        command: schema::SchemaCommand,
    },
    /// Measure round trips against a QMP server.
    Bench(bench::BenchArgs),
    /// Serve the simulator (or any schema's API) over QMP.
    Serve(serve::ServeArgs),
    /// Share one QEMU monitor among many clients, with policy and an audit log.
    Proxy(proxy::ProxyArgs),
    /// A proxy that records QEMU's conversation as a replayable transcript.
    Record(proxy::RecordArgs),
    /// Serve a recorded conversation as a fake QEMU.
    Replay(replay::ReplayArgs),
    /// Machine profiles for fake-qemu, recorded from a real QEMU binary.
    Profile {
        #[command(subcommand)]
        command: profile::ProfileCommand,
    },
    /// Print a completion script for a shell.
    #[command(after_help = "Example:\n  qmp completions bash > /etc/bash_completion.d/qmp")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
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

/// Exit code for bad usage, bad input, or a server that cannot be reached.
const EXIT_FAILURE: u8 = 2;

/// The default of `--busy-poll` (serve and bench): the library default, in
/// microseconds.
const DEFAULT_BUSY_POLL_US: u64 = qmp_wire::io::busy_poll::DEFAULT_MAX_WINDOW.as_micros() as u64;

fn main() -> ExitCode {
    let cli = Cli::parse();
    setup::logging(cli.verbose);
    setup::raise_descriptor_limit();
    let result = match cli.command {
        Command::Qapi(args) => qapi::run(args.command),
        Command::FakeQemu { args } => sim::fake_qemu(&args),
        Command::Shell(args) => shell::shell(args),
        Command::Exec(args) => exec::exec(args),
        Command::Events(args) => exec::events(args),
        Command::Serve(args) => serve::serve(args),
        Command::Proxy(args) => proxy::proxy(args),
        Command::Record(args) => proxy::record(args),
        Command::Replay(args) => replay::replay(args),
        Command::Profile { command } => profile::run(command),
        Command::Bench(args) => bench::bench(args),
        Command::Schema { command } => schema::run(command),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "qmp", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::FakeQga { args } => sim::fake_qga(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            let text = format!("{err:#}");
            let _ = writeln!(std::io::stderr(), "qmp: {}", terminal::safe(&text));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
