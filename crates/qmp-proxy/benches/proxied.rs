//! Round trips (`query-name`) straight to the simulator's server (what
//! `qmp serve` runs) and through `qmp-proxy` in front of it, measured side
//! by side in one run, sequential and pipelined (eight requests in
//! flight); prints rates, the ratio and the time the proxy adds to each
//! sequential round trip.
//!
//! The server and the proxy run in this process, each on a one-worker
//! runtime of its own; the client is a raw blocking socket loop on the
//! main thread, the cheapest client there is, so that the figures show the
//! server's and the proxy's costs. On a two-core machine the three threads
//! share the cores (through the proxy every round trip wakes all three).
//!
//! `cargo bench -p qmp-proxy --bench proxied`. Environment: `QMP_BENCH_N`
//! round trips per measurement (default 20000), `QMP_BENCH_ROUNDS`
//! (default 3; the best round of each cell is kept),
//! `QMP_BENCH_BUSY_POLL_US` and `QMP_BENCH_UPSTREAM_BUSY_POLL_US` (the
//! proxy's polling windows, downstream and upstream).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use qmp_proxy::{ListenAddress, ListenerConfig, Proxy, ProxyConfig, Upstream};
use qmp_sim::Simulator;

const REQUEST: &[u8] = br#"{"execute":"query-name"}"#;
const DEPTH: usize = 8;

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

/// A runtime with one worker, on its own thread.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
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
    let server_runtime = runtime();
    let sim = server_runtime
        .block_on(Simulator::start())
        .expect("the simulator");
    let dir = tempfile::tempdir().expect("a folder");
    let proxied = dir.path().join("proxy.sock");
    let proxy_runtime = runtime();
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

    // Warm up both paths.
    rate(&direct, n / 10, 1);
    rate(&proxied, n / 10, 1);
    let mut best = [[0.0f64; 2]; 2];
    for _ in 0..rounds {
        for (row, depth) in [1, DEPTH].into_iter().enumerate() {
            for (column, path) in [&direct, &proxied].into_iter().enumerate() {
                let r = rate(path, n, depth);
                if r > best[row][column] {
                    best[row][column] = r;
                }
            }
        }
    }
    println!("round trips per second ({n} per measurement, best of {rounds}), raw client:");
    println!(
        "{:<22}{:>14}{:>14}{:>10}",
        "", "direct", "via proxy", "ratio"
    );
    for (row, label) in ["sequential", "pipelined (depth 8)"]
        .into_iter()
        .enumerate()
    {
        let [d, p] = best[row];
        println!("{label:<22}{d:>14.0}{p:>14.0}{:>10.2}", p / d);
    }
    let [d, p] = best[0];
    let added = Duration::from_secs_f64(1.0 / p - 1.0 / d);
    println!(
        "the proxy adds {:.1} us to each sequential round trip",
        added.as_secs_f64() * 1e6
    );
    proxy.stop();
    proxy_runtime.block_on(proxy.ended());
}
