//! Round trips (`query-name`) straight to the simulator's server (what
//! `qmp serve` runs), through `qmp-proxy` in front of it, and through three
//! relays in front of it, measured side by side in one run, sequential
//! and pipelined (eight requests in flight); prints rates, the ratios (of
//! the best figures, and the median of each round's own pair) and the time
//! each adds to a sequential round trip.
//!
//! The relays apply no policy and keep no sessions: they show what the
//! extra hop costs on the machine, its syscalls and wake-ups, and what the
//! least work a proxy must do per message adds to it.
//! * The raw relay is tokio's `copy_bidirectional`, which sleeps whenever
//!   both sockets are empty.
//! * The polling relay never sleeps while its client is connected: it reads
//!   whichever socket is ready and, when neither is, gives its core to any
//!   other thread and yields to its runtime, the way a busy-polling reader
//!   waits. It passes the bytes on as they came.
//! * The renumbering relay polls the same way, but decodes every message,
//!   gives each request an id of its own (keeping the client's in a
//!   table), gives each reply the client's id back, and encodes everything
//!   again: what any proxy that lets clients share a monitor must do.
//!
//! The server, the proxy and the relays run in this process, each on a
//! one-worker runtime of its own (threads `bench-server`, `bench-proxy`,
//! `bench-relay`, `bench-pollrelay`, `bench-renumber`, for perf); the
//! client is a raw blocking socket loop on the main thread, the cheapest
//! client there is, so that the figures show the server's and the proxy's
//! costs. On a two-core machine the threads share the cores (through the
//! proxy every round trip wakes three of them).
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
//! `QMP_BENCH_VIA` (`direct`, `proxy`, `relay`, `polling-relay` or
//! `renumbering-relay`: one column only).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use qmp_proxy::{ListenAddress, ListenerConfig, Proxy, ProxyConfig, Upstream};
use qmp_sim::Simulator;
use qmp_wire::{Decoder, Encoder, Value};

const REQUEST: &[u8] = br#"{"execute":"query-name"}"#;
const DEPTH: usize = 8;
/// The rows: a label and the requests in flight.
const ROWS: [(&str, usize); 2] = [("sequential", 1), ("pipelined", DEPTH)];

/// One path measured: where it goes, its heading, how sentences name it,
/// and its name in `QMP_BENCH_VIA`.
struct Column {
    path: Via,
    heading: &'static str,
    named: &'static str,
    via: &'static str,
}

/// Where a path goes to reach the server.
#[derive(Clone, Copy)]
enum Via {
    Direct,
    Proxy,
    Relay(Relay),
}

/// The columns, in the order of the paths measured; ratios are to the first.
const COLUMNS: [Column; 5] = [
    Column {
        path: Via::Direct,
        heading: "direct",
        named: "going direct",
        via: "direct",
    },
    Column {
        path: Via::Proxy,
        heading: "via proxy",
        named: "the proxy",
        via: "proxy",
    },
    Column {
        path: Via::Relay(Relay::Copy),
        heading: "raw relay",
        named: "the raw relay",
        via: "relay",
    },
    Column {
        path: Via::Relay(Relay::Polling),
        heading: "polling relay",
        named: "the polling relay",
        via: "polling-relay",
    },
    Column {
        path: Via::Relay(Relay::Renumbering),
        heading: "renumbering",
        named: "the renumbering relay",
        via: "renumbering-relay",
    },
];

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
    // Each relay's runtime lives as long as the measurements do.
    let mut relay_runtimes = Vec::new();
    let paths: Vec<PathBuf> = COLUMNS
        .iter()
        .map(|column| match column.path {
            Via::Direct => direct.clone(),
            Via::Proxy => proxied.clone(),
            Via::Relay(relay) => {
                let relay_runtime = runtime(relay.thread());
                let path = dir.path().join(relay.socket());
                relay_runtime.block_on(start_relay(&path, &direct, relay));
                relay_runtimes.push(relay_runtime);
                path
            }
        })
        .collect();

    let only = match std::env::var("QMP_BENCH_ONLY").as_deref() {
        Ok("sequential") => Some(1),
        Ok("pipelined") => Some(DEPTH),
        _ => None,
    };
    let via = std::env::var("QMP_BENCH_VIA")
        .ok()
        .and_then(|name| COLUMNS.iter().position(|column| column.via == name));
    for (column, path) in paths.iter().enumerate() {
        if via.is_none_or(|via| via == column) {
            rate(path, n / 10, 1);
        }
    }
    let mut cells: Cells = Default::default();
    for _ in 0..rounds {
        for (row, (_, depth)) in ROWS.into_iter().enumerate() {
            if only.is_some_and(|only| only != depth) {
                continue;
            }
            for (column, path) in paths.iter().enumerate() {
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

/// Every measurement of every cell: rows are [`ROWS`], columns [`COLUMNS`].
type Cells = [[Vec<Measured>; COLUMNS.len()]; ROWS.len()];

/// Prints the rates, the ratios, the time added to a sequential round
/// trip, and what each thread used.
fn report(cells: &Cells, n: usize, rounds: usize) {
    let rate = |row: usize, column: usize| best(&cells[row][column]).map_or(0.0, |m| m.rate);
    let others = 1..COLUMNS.len();
    println!("round trips per second ({n} per measurement, best of {rounds}), raw client:");
    let mut header = format!("{:<22}{:>10}", "", COLUMNS[0].heading);
    for column in others.clone() {
        header += &format!("{:>15}{:>7}", COLUMNS[column].heading, "ratio");
    }
    println!("{header}");
    for (row, (label, depth)) in ROWS.into_iter().enumerate() {
        if cells[row].iter().all(Vec::is_empty) {
            continue;
        }
        let direct = rate(row, 0);
        let label = match depth {
            1 => label.to_string(),
            _ => format!("{label} (depth {depth})"),
        };
        let mut line = format!("{label:<22}{direct:>10.0}");
        for column in others.clone() {
            let via = rate(row, column);
            // Without the direct figure (QMP_BENCH_VIA) there is no ratio.
            let ratio = match direct > 0.0 {
                true => format!("{:.2}", via / direct),
                false => "-".into(),
            };
            line += &format!("{via:>15.0}{ratio:>7}");
        }
        println!("{line}");
    }
    // Best-of figures may come from different moments of a noisy machine:
    // the ratio of each round's own pair is steadier.
    for (row, (label, _)) in ROWS.into_iter().enumerate() {
        let direct = &cells[row][0];
        let paired: Vec<String> = others
            .clone()
            .filter(|&column| !direct.is_empty() && !cells[row][column].is_empty())
            .map(|column| {
                let ratio = median_ratio(&cells[row][column], direct);
                format!("{ratio:.2} via {}", COLUMNS[column].named)
            })
            .collect();
        if !paired.is_empty() {
            println!(
                "{label} ratios paired by round (median of {}): {}",
                direct.len(),
                paired.join(", ")
            );
        }
    }
    let direct = rate(0, 0);
    let added: Vec<String> = others
        .clone()
        .filter(|&column| direct > 0.0 && rate(0, column) > 0.0)
        .map(|column| {
            let us = (1.0 / rate(0, column) - 1.0 / direct) * 1e6;
            format!("{us:.1} us by {}", COLUMNS[column].named)
        })
        .collect();
    if !added.is_empty() {
        println!("added to each sequential round trip: {}", added.join(", "));
    }
    println!("per round trip, by thread (best measurement): CPU us / times it slept");
    for (row, (label, _)) in ROWS.into_iter().enumerate() {
        for (column, heading) in COLUMNS.iter().map(|c| c.heading).enumerate() {
            let Some(measured) = best(&cells[row][column]).filter(|m| !m.threads.is_empty()) else {
                continue;
            };
            let threads: Vec<String> = measured
                .threads
                .iter()
                .map(|t| format!("{} {:.1}/{:.2}", t.name, t.cpu_us, t.sleeps))
                .collect();
            println!("  {label:<11}{heading:<14}{}", threads.join("  "));
        }
    }
}

/// How a relay moves bytes.
#[derive(Clone, Copy)]
enum Relay {
    /// `copy_bidirectional`: sleeps whenever both sockets are empty.
    Copy,
    /// Never sleeps while its client is connected; bytes pass as they came.
    Polling,
    /// Polls too, and renumbers every request (see [`Renumber`]).
    Renumbering,
}

impl Relay {
    /// The name of the relay's thread, for perf.
    fn thread(self) -> &'static str {
        match self {
            Relay::Copy => "bench-relay",
            Relay::Polling => "bench-pollrelay",
            Relay::Renumbering => "bench-renumber",
        }
    }

    /// The file name of the socket the relay listens on.
    fn socket(self) -> &'static str {
        match self {
            Relay::Copy => "relay.sock",
            Relay::Polling => "polling-relay.sock",
            Relay::Renumbering => "renumbering-relay.sock",
        }
    }
}

/// A relay from `listen` to `upstream`: one upstream connection per
/// client, bytes moved both ways as they come.
async fn start_relay(listen: &Path, upstream: &Path, relay: Relay) {
    let listener = tokio::net::UnixListener::bind(listen).expect("bind the relay");
    let upstream = upstream.to_path_buf();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::UnixStream::connect(&upstream).await else {
                    return;
                };
                let _ = match relay {
                    Relay::Copy => tokio::io::copy_bidirectional(&mut client, &mut server)
                        .await
                        .map(drop),
                    Relay::Polling => poll_relay(&client, &server, None).await,
                    Relay::Renumbering => {
                        poll_relay(&client, &server, Some(Renumber::default())).await
                    }
                };
            });
        }
    });
}

/// Moves whatever either socket has to the other until one closes, through
/// `renumber` when given, without ever sleeping: when neither socket has
/// anything, the core goes to any other thread ready to run on it and the
/// runtime polls its I/O driver, as `qmp_wire::io::busy_poll` does between
/// tries.
async fn poll_relay(
    client: &tokio::net::UnixStream,
    server: &tokio::net::UnixStream,
    mut renumber: Option<Renumber>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    loop {
        let mut moved = false;
        for (from, to, upward) in [(client, server, true), (server, client, false)] {
            let n = match from.try_read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            };
            moved = true;
            let bytes = match &mut renumber {
                None => &buf[..n],
                Some(renumber) => {
                    out.clear();
                    renumber.pass(upward, &buf[..n], &mut out);
                    &out[..]
                }
            };
            write_all(to, bytes).await?;
        }
        if !moved {
            std::thread::yield_now();
            tokio::task::yield_now().await;
        }
    }
}

/// The least a proxy does to the messages it passes: each is decoded; a
/// request gets an id of its own (the client's, or its lack of one, is kept
/// by that number); a reply carrying one of those numbers gets the client's
/// id back; everything is encoded again. Messages without an id (the
/// greeting, events) pass as decoded; bytes that do not decode are dropped.
#[derive(Default)]
struct Renumber {
    requests: Decoder,
    replies: Decoder,
    /// The client's id of each request in flight, by its number upstream.
    ids: HashMap<i64, Option<Value>>,
    last: i64,
}

impl Renumber {
    /// Passes `input`, from the client when `upward`, into `out`.
    fn pass(&mut self, upward: bool, input: &[u8], out: &mut Vec<u8>) {
        let decoder = match upward {
            true => &mut self.requests,
            false => &mut self.replies,
        };
        decoder.feed(input);
        while let Some(decoded) = decoder.next() {
            let Ok(Value::Object(mut message)) = decoded else {
                continue;
            };
            if upward {
                self.last += 1;
                self.ids.insert(self.last, message.remove("id"));
                message.insert("id", self.last);
                Encoder::REQUEST.write_message(&Value::Object(message), out);
            } else {
                if let Some(Value::Int(number)) = message.get("id") {
                    match self.ids.remove(number) {
                        Some(Some(client_id)) => {
                            message.insert("id", client_id);
                        }
                        Some(None) => {
                            message.remove("id");
                        }
                        None => {}
                    }
                }
                Encoder::QMP.write_message(&Value::Object(message), out);
            }
        }
    }
}

/// Writes all of `bytes` to a shared socket.
async fn write_all(socket: &tokio::net::UnixStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match socket.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => socket.writable().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
