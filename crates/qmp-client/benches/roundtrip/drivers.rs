//! The clients the round-trip bench compares, each measuring `n`
//! sequential round trips and then `n` pipelined ones (8 in flight, QEMU's
//! in-band limit): a raw blocking socket loop, this client, and Python's
//! qemu.qmp.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use qmp_client::blocking::BlockingClient;
use qmp_client::{Client, ClientConfig};

/// The command every round trip executes.
pub const COMMAND: &str = "query-name";
/// In-band requests kept in flight by the pipelined loops (QEMU's limit).
pub const WINDOW: usize = 8;
/// Tasks sharing this client's connection in the pipelined measurement.
const TASKS: usize = 64;

const PYTHON: &str = r#"
import asyncio, sys, time
from qemu.qmp import QMPClient
sock, n, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
async def main():
    c = QMPClient("bench")
    await c.connect(sock)
    t = time.perf_counter()
    for _ in range(n):
        await c.execute(cmd)
    seq = time.perf_counter() - t
    t = time.perf_counter()
    await asyncio.gather(*[c.execute(cmd) for _ in range(n)])
    pipe = time.perf_counter() - t
    await c.disconnect()
    print(seq, pipe)
asyncio.run(main())
"#;

/// Sequential and pipelined durations for `n` round trips each.
pub type Timing = (Duration, Duration);

/// Raw blocking loop: sequential, then a sliding window of 8 in flight.
pub fn raw(socket: &Path, n: usize) -> Timing {
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

/// A runtime for this client: `0` workers means current-thread.
fn runtime(workers: usize) -> tokio::runtime::Runtime {
    let mut builder = if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(workers);
        b
    };
    builder.enable_all().build().expect("client runtime")
}

/// This client's settings: the default, or with busy-polling off.
pub fn config(busy_poll: bool) -> ClientConfig {
    let mut config = ClientConfig::default();
    if !busy_poll {
        config.busy_poll = Duration::ZERO;
    }
    config
}

/// This client on a fresh runtime with `workers` threads (`0`:
/// current-thread), run as a spawned task as applications do: sequential
/// from one task, then 64 tasks sharing the connection (the client keeps 8
/// in flight). The runtime goes with the measurement, and with it the
/// connection.
pub fn ours(workers: usize, config: ClientConfig, socket: &Path, n: usize) -> Timing {
    let rt = runtime(workers);
    let socket = socket.to_owned();
    rt.block_on(async move {
        let client = Client::builder()
            .config(config)
            .connect_unix(socket)
            .await
            .expect("connect");
        let sequential = {
            let client = client.clone();
            tokio::spawn(async move {
                let start = Instant::now();
                for _ in 0..n {
                    client.execute(COMMAND, ()).await.expect("call");
                }
                start.elapsed()
            })
            .await
            .expect("task")
        };
        let start = Instant::now();
        let handles: Vec<_> = (0..TASKS)
            .map(|t| {
                let client = client.clone();
                let count = n / TASKS + usize::from(t < n % TASKS);
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

/// The blocking facade: sequential calls from this thread, then 8 threads
/// sharing the client.
pub fn blocking(config: ClientConfig, socket: &Path, n: usize) -> Timing {
    let client = BlockingClient::builder()
        .config(config)
        .connect_unix(socket)
        .expect("connect");
    let start = Instant::now();
    for _ in 0..n {
        client.execute(COMMAND, ()).expect("call");
    }
    let sequential = start.elapsed();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..WINDOW {
            let client = &client;
            let count = n / WINDOW + usize::from(t < n % WINDOW);
            scope.spawn(move || {
                for _ in 0..count {
                    client.execute(COMMAND, ()).expect("call");
                }
            });
        }
    });
    (sequential, start.elapsed())
}

/// Python's qemu.qmp: sequential awaits, then `n` calls gathered at once.
pub fn python(python: &Path, socket: &Path, n: usize) -> Timing {
    let out = Command::new(python)
        .args(["-c", PYTHON])
        .arg(socket)
        .arg(n.to_string())
        .arg(COMMAND)
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
