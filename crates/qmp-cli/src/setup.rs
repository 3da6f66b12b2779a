//! What every run of `qmp` sets up before its command: diagnostics on
//! stderr (`tracing`, chosen by `-v` or `RUST_LOG`) and the descriptor
//! limit.

use tracing_subscriber::EnvFilter;

/// Sends `tracing` output to stderr: `RUST_LOG` when it is set (any
/// `tracing_subscriber` filter, such as `qmp_server=debug`), else warnings,
/// and with `-v`, `-vv`, `-vvv` info, debug or trace.
pub fn logging(verbosity: u8) {
    let level = match verbosity {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if verbosity == 0 && !spec.is_empty() => EnvFilter::new(spec),
        _ => EnvFilter::new(level),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Raises the soft limit on open descriptors to the hard limit, as servers
/// commonly do: every client is one descriptor, and the default soft limit
/// (1,024 on many systems) is far below what the kernel allows.
pub fn raise_descriptor_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::debug!("cannot raise the descriptor limit: {e}");
        }
    }
}
