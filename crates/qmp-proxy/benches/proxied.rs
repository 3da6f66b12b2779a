//! Round trips (`query-name`) straight to the simulator's server (what
//! `qmp serve` runs), through `qmp-proxy` in front of it, and through a raw
//! byte relay in front of it, measured side by side in one run, sequential
//! and pipelined (eight requests in flight); prints rates, the ratios (of
//! the best figures, and the median of each round's own pair) and the time
//! each adds to a sequential round trip.
//!
//! The raw relay (tokio's `copy_bidirectional`, no parsing, no policy) is
//! the floor of what any proxy costs on the machine: the extra hop's
//! syscalls and wake-ups, which on a virtual machine with few cores weigh
//! more than all the proxy's own work.
//!
//! The server, the proxy and the relay run in this process, each on a
//! one-worker runtime of its own (threads `bench-server`, `bench-proxy`,
//! `bench-relay`, for perf); the client is a raw blocking socket loop on the
//! main thread, the cheapest client there is, so that the figures show the
//! server's and the proxy's costs. On a two-core machine the threads share
//! the cores (through the proxy every round trip wakes three of them).
//!
//! For each cell it also prints what each thread used per round trip: CPU
//! time, and how often it went to sleep (a sleeper costs a wake-up, which
//! on a virtual machine is often the largest cost of a round trip).
//!
//! `cargo bench -p qmp-proxy --bench proxied`. Environment: `QMP_BENCH_N`
//! round trips per measurement (default 20000), `QMP_BENCH_ROUNDS`
//! (default 3; the best round of each cell is kept),
//! `QMP_BENCH_BUSY_POLL_US` and `QMP_BENCH_UPSTREAM_BUSY_POLL_US` (the
//! proxy's polling windows, downstream and upstream), `QMP_BENCH_ONLY`
//! (`sequential` or `pipelined`: one row only, for perf or strace) and
//! `QMP_BENCH_VIA` (`direct`, `proxy` or `relay`: one column only).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use qmp_proxy::{ListenAddress, ListenerConfig, Proxy, ProxyConfig, Upstream};
use qmp_sim::Simulator;

const REQUEST: &[u8] = br#"{"execute":"query-name"}"#;
const DEPTH: usize = 8;
/// The rows: a label and the requests in flight.
const ROWS: [(&str, usize); 2] = [("sequential", 1), ("pipelined", DEPTH)];
/// The columns, in the order of the paths measured.
const COLUMNS: [&str; 3] = ["direct", "via proxy", "raw relay"];

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A duration in microseconds from the environment, if set.
fn env_micros(name: &str) -> Option<Duration> {
    let us: u64 = std::env::var(name).ok()?.parse().ok()?;
    Some(Duration::from_micros(us))
}

/// A runtime with one worker, on its own thread named `name` (for perf).
fn runtime(name: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Connects and negotiates.
fn connect(path: &Path) -> (UnixStream, BufReader<UnixStream>) {
    let stream = UnixStream::connect(path).expect("connect");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("greeting");
    (&stream)
        .write_all(br#"{"execute":"qmp_capabilities"}"#)
        .expect("write");
    line.clear();
    reader.read_line(&mut line).expect("negotiated");
    (stream, reader)
}

/// One thread of this process, as `/proc/self/task` shows it: its name
/// (the main thread is `main`), its time run on a CPU and the times it
/// went to sleep (voluntary context switches).
struct ThreadUse {
    tid: std::ffi::OsString,
    name: String,
    cpu: Duration,
    sleeps: u64,
}

/// What one thread used per round trip of a measurement.
struct ThreadCost {
    name: String,
    cpu_us: f64,
    sleeps: f64,
}

/// Every thread of this process; empty where `/proc` cannot be read.
fn thread_use() -> Vec<ThreadUse> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let own = std::process::id().to_string();
    let mut threads = Vec::new();
    for task in tasks.flatten() {
        let dir = task.path();
        let read = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        // The first field of schedstat: nanoseconds run on a CPU.
        let ran_ns = read("schedstat")
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse().ok())
            .unwrap_or(0);
        let sleeps = read("status")
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let tid = task.file_name();
        let name = if tid.to_string_lossy() == own {
            "main".to_string()
        } else {
            read("comm").trim().to_string()
        };
        threads.push(ThreadUse {
            tid,
            name,
            cpu: Duration::from_nanos(ran_ns),
            sleeps,
        });
    }
    threads
}

/// What each thread used per round trip between two snapshots, `n`
/// round trips apart; threads that took no part (the other columns'
/// runtimes) are left out.
fn cost_per_round_trip(before: &[ThreadUse], after: &[ThreadUse], n: usize) -> Vec<ThreadCost> {
    let per_round_trip = n as f64;
    after
        .iter()
        .map(|end| {
            let start = before.iter().find(|b| b.tid == end.tid);
            let cpu = end
                .cpu
                .saturating_sub(start.map_or(Duration::ZERO, |s| s.cpu));
            let sleeps = end.sleeps.saturating_sub(start.map_or(0, |s| s.sleeps));
            ThreadCost {
                name: end.name.clone(),
                cpu_us: cpu.as_secs_f64() * 1e6 / per_round_trip,
                sleeps: sleeps as f64 / per_round_trip,
            }
        })
        .filter(|cost| cost.cpu_us >= 0.05 || cost.sleeps >= 0.005)
        .collect()
}

/// One measurement: round trips per second, and what each thread used.
struct Measured {
    rate: f64,
    threads: Vec<ThreadCost>,
}

/// Measures `n` round trips with `depth` in flight.
fn measure(path: &Path, n: usize, depth: usize) -> Measured {
    let before = thread_use();
    let rate = rate(path, n, depth);
    let threads = cost_per_round_trip(&before, &thread_use(), n);
    Measured { rate, threads }
}

/// The fastest of a cell's measurements.
fn best(cell: &[Measured]) -> Option<&Measured> {
    cell.iter().max_by(|a, b| a.rate.total_cmp(&b.rate))
}

/// The median of `via[i] / direct[i]`, round by round.
fn median_ratio(via: &[Measured], direct: &[Measured]) -> f64 {
    let mut ratios: Vec<f64> = via
        .iter()
        .zip(direct)
        .map(|(v, d)| v.rate / d.rate)
        .collect();
    ratios.sort_by(f64::total_cmp);
    match ratios.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => ratios[n / 2],
        n => (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0,
    }
}

/// Round trips per second with `depth` requests in flight.
fn rate(path: &Path, n: usize, depth: usize) -> f64 {
    let (stream, mut reader) = connect(path);
    let mut line = String::new();
    let started = Instant::now();
    let mut sent = 0;
    for _ in 0..depth.min(n) {
        (&stream).write_all(REQUEST).expect("write");
        sent += 1;
    }
    for _ in 0..n {
        line.clear();
        reader.read_line(&mut line).expect("reply");
        if sent < n {
            (&stream).write_all(REQUEST).expect("write");
            sent += 1;
        }
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let n = env_number("QMP_BENCH_N", 20_000);
    let rounds = env_number("QMP_BENCH_ROUNDS", 3).max(1);
    let server_runtime = runtime("bench-server");
    let sim = server_runtime
        .block_on(Simulator::start())
        .expect("the simulator");
    let dir = tempfile::tempdir().expect("a folder");
    let proxied = dir.path().join("proxy.sock");
    let proxy_runtime = runtime("bench-proxy");
    let mut config = ProxyConfig::new(
        Upstream::Unix(sim.socket().to_path_buf()),
        vec![ListenerConfig::new(ListenAddress::Unix(proxied.clone()))],
    );
    if let Some(window) = env_micros("QMP_BENCH_BUSY_POLL_US") {
        config.busy_poll = window;
    }
    if let Some(window) = env_micros("QMP_BENCH_UPSTREAM_BUSY_POLL_US") {
        config.upstream_busy_poll = window;
    }
    let proxy = proxy_runtime
        .block_on(Proxy::start(config))
        .expect("the proxy");
    let direct: PathBuf = sim.socket().to_path_buf();
    let relay_runtime = runtime("bench-relay");
    let relayed = dir.path().join("relay.sock");
    relay_runtime.block_on(start_relay(&relayed, &direct));

    let only = match std::env::var("QMP_BENCH_ONLY").as_deref() {
        Ok("sequential") => Some(1),
        Ok("pipelined") => Some(DEPTH),
        _ => None,
    };
    let via = match std::env::var("QMP_BENCH_VIA").as_deref() {
        Ok("direct") => Some(0),
        Ok("proxy") => Some(1),
        Ok("relay") => Some(2),
        _ => None,
    };
    let paths = [&direct, &proxied, &relayed];
    for (column, path) in paths.into_iter().enumerate() {
        if via.is_none_or(|via| via == column) {
            rate(path, n / 10, 1);
        }
    }
    // Every measurement of every cell: rows are ROWS, columns COLUMNS.
    let mut cells: [[Vec<Measured>; 3]; 2] = Default::default();
    for _ in 0..rounds {
        for (row, (_, depth)) in ROWS.into_iter().enumerate() {
            if only.is_some_and(|only| only != depth) {
                continue;
            }
            for (column, path) in paths.into_iter().enumerate() {
                if via.is_none_or(|via| via == column) {
                    cells[row][column].push(measure(path, n, depth));
                }
            }
        }
    }
    report(&cells, n, rounds);
    proxy.stop();
    proxy_runtime.block_on(proxy.ended());
}

/// Prints the rates, the ratios, the time added to a sequential round
/// trip, and what each thread used.
fn report(cells: &[[Vec<Measured>; 3]; 2], n: usize, rounds: usize) {
    let rate = |row: usize, column: usize| best(&cells[row][column]).map_or(0.0, |m| m.rate);
    println!("round trips per second ({n} per measurement, best of {rounds}), raw client:");
    println!(
        "{:<22}{:>10}{:>12}{:>8}{:>12}{:>8}",
        "", "direct", "via proxy", "ratio", "raw relay", "ratio"
    );
    for (row, (label, depth)) in ROWS.into_iter().enumerate() {
        let [d, p, r] = [0, 1, 2].map(|column| rate(row, column));
        if d == 0.0 && p == 0.0 && r == 0.0 {
            continue;
        }
        // Without the direct figure (QMP_BENCH_VIA) there is no ratio.
        let ratio = |via: f64| match d > 0.0 {
            true => format!("{:.2}", via / d),
            false => "-".into(),
        };
        let label = match depth {
            1 => label.to_string(),
            _ => format!("{label} (depth {depth})"),
        };
        println!(
            "{label:<22}{d:>10.0}{p:>12.0}{:>8}{r:>12.0}{:>8}",
            ratio(p),
            ratio(r)
        );
    }
    // Best-of figures may come from different moments of a noisy machine:
    // the ratio of each round's own pair is steadier.
    for (row, (label, _)) in ROWS.into_iter().enumerate() {
        let [d, p, r] = &cells[row];
        if d.is_empty() || p.is_empty() || r.is_empty() {
            continue;
        }
        println!(
            "{label} ratios paired by round (median of {}): {:.2} via proxy, {:.2} via raw relay",
            d.len(),
            median_ratio(p, d),
            median_ratio(r, d)
        );
    }
    let [d, p, r] = [0, 1, 2].map(|column| rate(0, column));
    if d > 0.0 && p > 0.0 && r > 0.0 {
        let added = |via: f64| (1.0 / via - 1.0 / d) * 1e6;
        println!(
            "added to each sequential round trip: {:.1} us by the proxy, {:.1} us by the raw relay",
            added(p),
            added(r)
        );
    }
    println!("per round trip, by thread (best measurement): CPU us / times it slept");
    for (row, (label, _)) in ROWS.into_iter().enumerate() {
        for (column, via) in COLUMNS.into_iter().enumerate() {
            let Some(measured) = best(&cells[row][column]).filter(|m| !m.threads.is_empty()) else {
                continue;
            };
            let threads: Vec<String> = measured
                .threads
                .iter()
                .map(|t| format!("{} {:.1}/{:.2}", t.name, t.cpu_us, t.sleeps))
                .collect();
            println!("  {label:<11}{via:<11}{}", threads.join("  "));
        }
    }
}

/// A byte relay from `listen` to `upstream`: one upstream connection per
/// client, bytes copied both ways as they come.
async fn start_relay(listen: &Path, upstream: &Path) {
    let listener = tokio::net::UnixListener::bind(listen).expect("bind the relay");
    let upstream = upstream.to_path_buf();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::UnixStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
}
