//! Round trips against one real QEMU (`query-name`), measured in one run
//! for this client, Python's qemu.qmp and a raw blocking socket loop, each
//! sequential and pipelined; prints rates and the same-run ratios.
//!
//! QEMU reads its monitor one byte per read, so QEMU itself bounds every
//! client; the same measurements are repeated against a stub server in
//! this process (answers `{"return": {}}` at once) to show what the
//! clients themselves cost.
//!
//! `cargo bench -p qmp-client --bench roundtrip`; `QMP_BENCH_N` sets the
//! commands per measurement (default 2000), `QMP_BENCH_ROUNDS` the rounds
//! (default 3, best round kept for each).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use qmp_client::{Client, ClientConfig};

const COMMAND: &str = "query-name";
/// In-band requests kept in flight by the pipelined loops (QEMU's limit).
const WINDOW: usize = 8;

const PYTHON: &str = r#"
import asyncio, sys, time
from qemu.qmp import QMPClient
sock, n = sys.argv[1], int(sys.argv[2])
async def main():
    c = QMPClient("bench")
    await c.connect(sock)
    t = time.perf_counter()
    for _ in range(n):
        await c.execute("query-name")
    seq = time.perf_counter() - t
    t = time.perf_counter()
    await asyncio.gather(*[c.execute("query-name") for _ in range(n)])
    pipe = time.perf_counter() - t
    await c.disconnect()
    print(seq, pipe)
asyncio.run(main())
"#;

struct Qemu {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A stub QMP server on a unix socket: greets, then answers every request
/// with `{"return": {}, "id": ID}` as soon as it is decoded.
fn start_stub(dir: &Path) -> PathBuf {
    let socket = dir.join("stub.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind stub");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let greeting = br#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}"#;
            if stream
                .write_all(&[&greeting[..], b"\r\n"].concat())
                .is_err()
            {
                continue;
            }
            let mut decoder = qmp_wire::Decoder::new();
            let mut buf = vec![0u8; 65536];
            let mut out = Vec::new();
            loop {
                let n = match std::io::Read::read(&mut stream, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                decoder.feed(&buf[..n]);
                out.clear();
                while let Some(item) = decoder.next() {
                    let Ok(request) = item else { continue };
                    out.extend_from_slice(b"{\"return\": {}");
                    if let Some(id) = request.get("id") {
                        out.extend_from_slice(format!(", \"id\": {id}").as_bytes());
                    }
                    out.extend_from_slice(b"}\r\n");
                }
                if stream.write_all(&out).is_err() {
                    break;
                }
            }
        }
    });
    socket
}

fn start_qemu(program: &Path) -> Qemu {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("qmp.sock");
    let child = Command::new(program)
        .args([
            "-machine",
            "none",
            "-nodefaults",
            "-display",
            "none",
            "-qmp",
        ])
        .arg(format!("unix:{},server=on,wait=off", socket.display()))
        .spawn()
        .expect("spawn QEMU");
    for _ in 0..500 {
        if UnixStream::connect(&socket).is_ok() {
            // That probe connection counts as a client; let QEMU see it go.
            std::thread::sleep(Duration::from_millis(100));
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Qemu {
        child,
        socket,
        _dir: dir,
    }
}

/// Gives QEMU time to notice the previous client left before the next one
/// connects (QEMU 7.2 can miss the greeting otherwise).
fn between_clients() {
    std::thread::sleep(Duration::from_millis(150));
}

/// Raw blocking loop: sequential, then a sliding window of 8 in flight.
fn raw(socket: &Path, n: usize) -> (Duration, Duration) {
    let mut stream = UnixStream::connect(socket).expect("connect");
    let mut lines = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    lines.read_line(&mut line).expect("greeting");
    stream
        .write_all(br#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}"#)
        .expect("write");
    lines.read_line(&mut line).expect("negotiation");
    let request = |i: usize| format!(r#"{{"execute": "{COMMAND}", "id": {i}}}"#);
    let start = Instant::now();
    for i in 0..n {
        stream.write_all(request(i).as_bytes()).expect("write");
        line.clear();
        lines.read_line(&mut line).expect("reply");
    }
    let sequential = start.elapsed();
    let start = Instant::now();
    let first: String = (0..WINDOW.min(n)).map(request).collect();
    stream.write_all(first.as_bytes()).expect("write");
    for i in 0..n {
        line.clear();
        lines.read_line(&mut line).expect("reply");
        if i + WINDOW < n {
            stream
                .write_all(request(i + WINDOW).as_bytes())
                .expect("write");
        }
    }
    (sequential, start.elapsed())
}

/// This client: sequential from one task, then 64 tasks sharing the
/// connection (the client keeps 8 in flight).
fn ours(rt: &tokio::runtime::Runtime, socket: &Path, n: usize) -> (Duration, Duration) {
    rt.block_on(async {
        let client = Client::connect_unix_with(socket, ClientConfig::default())
            .await
            .expect("connect");
        let start = Instant::now();
        for _ in 0..n {
            client.execute(COMMAND, ()).await.expect("call");
        }
        let sequential = start.elapsed();
        let tasks = 64;
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let client = client.clone();
                let count = n / tasks + usize::from(t < n % tasks);
                tokio::spawn(async move {
                    for _ in 0..count {
                        client.execute(COMMAND, ()).await.expect("call");
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("task");
        }
        (sequential, start.elapsed())
    })
}

fn python(python: &Path, socket: &Path, n: usize) -> (Duration, Duration) {
    let out = Command::new(python)
        .args(["-c", PYTHON])
        .arg(socket)
        .arg(n.to_string())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text
        .split_whitespace()
        .map(|p| p.parse::<f64>().expect("seconds"));
    let mut next = || Duration::from_secs_f64(parts.next().expect("two numbers"));
    (next(), next())
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
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
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    let Some(py) = qmp_test_support::python_with_qemu_qmp() else {
        return;
    };
    let n = env_usize("QMP_BENCH_N", 2000);
    let rounds = env_usize("QMP_BENCH_ROUNDS", 3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = start_qemu(&qemu);
    let stub = start_stub(server._dir.path());
    measure("QEMU", &server.socket, &rt, &py, n, rounds, true);
    measure("stub server", &stub, &rt, &py, n * 5, rounds, false);
}

/// One comparison against one server; prints the table and the ratios.
fn measure(
    label: &str,
    socket: &Path,
    rt: &tokio::runtime::Runtime,
    py: &Path,
    n: usize,
    rounds: usize,
    pause: bool,
) {
    let wait = || {
        if pause {
            between_clients();
        }
    };
    let mut best = [Duration::MAX; 6];
    for round in 0..rounds {
        let mut keep = |slot: usize, d: Duration| best[slot] = best[slot].min(d);
        let (s, p) = raw(socket, n);
        keep(0, s);
        keep(1, p);
        wait();
        let (s, p) = ours(rt, socket, n);
        keep(2, s);
        keep(3, p);
        wait();
        let (s, p) = python(py, socket, n);
        keep(4, s);
        keep(5, p);
        wait();
        eprintln!("{label}: round {} of {rounds} done", round + 1);
    }
    let [raw_seq, raw_pipe, our_seq, our_pipe, py_seq, py_pipe] = best.map(|d| rate(n, d));
    println!("{label}: {COMMAND} round trips, {n} per measurement, best of {rounds} rounds:");
    println!(
        "  {:<28} {:>10} {:>12}",
        "client", "sequential", "pipelined"
    );
    for (name, s, p) in [
        ("raw blocking socket loop", raw_seq, raw_pipe),
        ("qmp-client (async)", our_seq, our_pipe),
        ("Python qemu.qmp", py_seq, py_pipe),
    ] {
        println!("  {name:<28} {s:>8.0}/s {p:>10.0}/s");
    }
    println!(
        "  ratio qmp-client / qemu.qmp, sequential: {:.2}x (target 10x)",
        our_seq / py_seq
    );
    println!(
        "  ratio qmp-client / raw loop, pipelined:  {:.2} (target 0.80)",
        our_pipe / raw_pipe
    );
    println!("  ratio raw loop / qemu.qmp, sequential:   {:.2}x (the most any client can gain over qemu.qmp here)", raw_seq / py_seq);
    println!(
        "  ratio qmp-client / raw loop, sequential: {:.2}",
        our_seq / raw_seq
    );
}
