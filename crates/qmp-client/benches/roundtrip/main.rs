//! Round trips (`query-name`) against one server, measured in one run for
//! this client, Python's qemu.qmp and a raw blocking socket loop, each
//! sequential and pipelined; prints rates and the same-run ratios.
//!
//! The main server is qmp-server in this process (on its own one-worker
//! runtime and thread, with its default settings, busy-polling included):
//! it answers fast enough that the clients' own costs show. This client
//! runs in several settings: on a current-thread runtime, on a two-worker
//! runtime, through the blocking facade, and with busy-polling off (see
//! `ClientConfig::busy_poll`), so what polling buys is measured in the same
//! run. A real QEMU reads its monitor one byte per read, which bounds every
//! client (the raw loop is only about 2x qemu.qmp there); its rows follow
//! as extra information when QEMU is installed.
//!
//! `cargo bench -p qmp-client --bench roundtrip`. Environment:
//! `QMP_BENCH_N` round trips per measurement (default 20000; QEMU gets a
//! tenth), `QMP_BENCH_ROUNDS` rounds (default 3, best round kept for each
//! cell), `QMP_BENCH_ONLY=client` runs only this client against qmp-server
//! (for profiling under callgrind or perf), on a current-thread runtime or
//! on `QMP_BENCH_WORKERS` workers.

mod drivers;
mod servers;

use std::path::Path;
use std::time::Duration;

use drivers::{Timing, COMMAND};
use servers::Target;

/// One client of the comparison.
enum Driver<'a> {
    /// A raw blocking socket loop.
    Raw,
    /// This client on a runtime with that many workers (0: current-thread),
    /// with busy-polling on (the default) or off.
    Ours {
        workers: usize,
        busy_poll: bool,
        name: &'static str,
    },
    /// The blocking facade, busy-polling on or off.
    Blocking { busy_poll: bool, name: &'static str },
    /// qemu.qmp under this Python.
    Python(&'a Path),
}

impl Driver<'_> {
    fn name(&self) -> &str {
        match self {
            Driver::Raw => "raw blocking socket loop",
            Driver::Ours { name, .. } | Driver::Blocking { name, .. } => name,
            Driver::Python(_) => "Python qemu.qmp",
        }
    }

    fn run(&self, socket: &Path, n: usize) -> Timing {
        match self {
            Driver::Raw => drivers::raw(socket, n),
            Driver::Ours {
                workers, busy_poll, ..
            } => drivers::ours(*workers, drivers::config(*busy_poll), socket, n),
            Driver::Blocking { busy_poll, .. } => {
                drivers::blocking(drivers::config(*busy_poll), socket, n)
            }
            Driver::Python(py) => drivers::python(py, socket, n),
        }
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n = env_usize("QMP_BENCH_N", 20_000);
    let rounds = env_usize("QMP_BENCH_ROUNDS", 3);
    let dir = tempfile::tempdir().expect("temp dir");
    let server = servers::qmp_server(dir.path(), COMMAND);
    if std::env::var("QMP_BENCH_ONLY").is_ok_and(|v| v == "client") {
        let workers = env_usize("QMP_BENCH_WORKERS", 0);
        let (s, p) = drivers::ours(workers, drivers::config(true), &server.socket, n);
        println!(
            "qmp-client: {:.0}/s sequential, {:.0}/s pipelined",
            rate(n, s),
            rate(n, p)
        );
        return;
    }
    let python = qmp_test_support::python_with_qemu_qmp();
    let mut clients = vec![
        Driver::Raw,
        Driver::Ours {
            workers: 0,
            busy_poll: true,
            name: "qmp-client (current-thread)",
        },
        Driver::Ours {
            workers: 2,
            busy_poll: true,
            name: "qmp-client (2 workers)",
        },
        Driver::Blocking {
            busy_poll: true,
            name: "qmp-client (blocking facade)",
        },
        Driver::Ours {
            workers: 0,
            busy_poll: false,
            name: "qmp-client (current, no poll)",
        },
        Driver::Ours {
            workers: 2,
            busy_poll: false,
            name: "qmp-client (2 workers, no poll)",
        },
    ];
    if let Some(py) = &python {
        clients.push(Driver::Python(py));
    }
    measure(&server, &clients, n, rounds);
    if let Some(qemu) = qmp_test_support::qemu_system() {
        let qemu = servers::qemu(&qemu);
        measure(&qemu, &clients, (n / 10).max(1), rounds);
    }
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// One comparison against one server; prints the table and the ratios.
fn measure(target: &Target, clients: &[Driver<'_>], n: usize, rounds: usize) {
    let mut best = vec![(Duration::MAX, Duration::MAX); clients.len()];
    for round in 0..rounds {
        for (client, best) in clients.iter().zip(best.iter_mut()) {
            let (s, p) = client.run(&target.socket, n);
            *best = (best.0.min(s), best.1.min(p));
            target.between_clients();
        }
        eprintln!("{}: round {} of {rounds} done", target.label, round + 1);
    }
    let rates: Vec<(f64, f64)> = best
        .iter()
        .map(|&(s, p)| (rate(n, s), rate(n, p)))
        .collect();
    println!(
        "{}: {COMMAND} round trips, {n} per measurement, best of {rounds} rounds:",
        target.label
    );
    println!(
        "  {:<30} {:>10} {:>12}",
        "client", "sequential", "pipelined"
    );
    for (client, (s, p)) in clients.iter().zip(&rates) {
        println!("  {:<30} {s:>8.0}/s {p:>10.0}/s", client.name());
    }
    let find = |want: fn(&Driver<'_>) -> bool| {
        clients
            .iter()
            .position(want)
            .and_then(|i| rates.get(i).copied())
    };
    let raw = find(|c| matches!(c, Driver::Raw));
    let python = find(|c| matches!(c, Driver::Python(_)));
    for (client, ours) in clients.iter().zip(&rates) {
        if matches!(client, Driver::Raw | Driver::Python(_)) {
            continue;
        }
        let name = client.name();
        if let Some(py) = python {
            println!(
                "  {name} / qemu.qmp, sequential: {:.2}x (target 10x)",
                ours.0 / py.0
            );
        }
        if let Some(raw) = raw {
            println!(
                "  {name} / raw loop, pipelined:  {:.2} (target 0.80)",
                ours.1 / raw.1
            );
            println!("  {name} / raw loop, sequential: {:.2}", ours.0 / raw.0);
        }
    }
    if let (Some(raw), Some(py)) = (raw, python) {
        println!(
            "  raw loop / qemu.qmp, sequential: {:.2}x (what a client that sleeps on its socket can gain)",
            raw.0 / py.0
        );
    }
}
