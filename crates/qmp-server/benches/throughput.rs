//! qmp-server side by side with a real QEMU 7.2 (`-machine none`) and a raw
//! unix-socket line echo server (the floor any QMP server could reach),
//! driven by one load generator in one run:
//! * sequential round trips per second (`query-version`),
//! * pipelined throughput with 8 requests in flight on an oob session,
//! * `query-qmp-schema` replies per second,
//! * memory per idle session at 10,000 sessions (qmp-server only).
//!
//! `cargo bench -p qmp-server --bench throughput [-- --seconds N] [--spin]`
//! (`--spin`: the load generator polls instead of sleeping, which keeps idle
//! CPU states out of the sequential round-trip figures)

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use qmp_server::{Server, ServerConfig};
use qmp_wire::{QemuVersion, VersionInfo};

struct Target {
    name: &'static str,
    socket: PathBuf,
    qmp: bool,
}

/// A blocking client over a unix socket.
struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    line: Vec<u8>,
}

impl Conn {
    fn open(path: &Path, qmp: bool, oob: bool) -> Conn {
        let stream = UnixStream::connect(path).expect("connect");
        let mut conn = Conn {
            reader: BufReader::with_capacity(1 << 20, stream.try_clone().expect("clone")),
            writer: stream,
            line: Vec::with_capacity(1 << 20),
        };
        if SPIN.load(std::sync::atomic::Ordering::Relaxed) {
            conn.writer.set_nonblocking(true).expect("non-blocking");
        }
        if qmp {
            conn.read_line();
            let caps: &[u8] = if oob {
                br#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}"#
            } else {
                br#"{"execute": "qmp_capabilities"}"#
            };
            conn.send(caps);
            conn.read_line();
        }
        conn
    }

    fn send(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.writer.write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::hint::spin_loop(),
                Err(e) => panic!("write: {e}"),
            }
        }
    }

    /// Reads one line; with `--spin` the socket is non-blocking and the
    /// load generator polls instead of sleeping (the same for every server).
    fn read_line(&mut self) -> usize {
        self.line.clear();
        loop {
            match self.reader.read_until(b'\n', &mut self.line) {
                Ok(0) if self.line.is_empty() => panic!("server closed the connection"),
                Ok(_) if self.line.ends_with(b"\n") => return self.line.len(),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::hint::spin_loop(),
                Err(e) => panic!("read: {e}"),
            }
        }
    }
}

/// `--spin`: the load generator polls its sockets instead of sleeping.
static SPIN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

const QUERY: &[u8] = b"{\"execute\": \"query-version\", \"id\": 1}\n";
const SCHEMA: &[u8] = b"{\"execute\": \"query-qmp-schema\", \"id\": 2}\n";

fn sequential(target: &Target, request: &[u8], duration: Duration) -> f64 {
    let mut conn = Conn::open(&target.socket, target.qmp, false);
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed() < duration {
        for _ in 0..64 {
            conn.send(request);
            conn.read_line();
        }
        done += 64;
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn pipelined(target: &Target, depth: usize, duration: Duration) -> f64 {
    let mut conn = Conn::open(&target.socket, target.qmp, true);
    for _ in 0..depth {
        conn.send(QUERY);
    }
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed() < duration {
        for _ in 0..256 {
            conn.read_line();
            conn.send(QUERY);
        }
        done += 256;
    }
    let rate = done as f64 / start.elapsed().as_secs_f64();
    for _ in 0..depth {
        conn.read_line();
    }
    rate
}

/// The floor: a thread per connection that writes back every line it reads.
fn start_echo(path: &Path) {
    let listener = UnixListener::bind(path).expect("bind echo");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut writer = stream;
                let mut buf = vec![0u8; 65536];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if writer.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
}

fn start_qmp_server(path: &Path, schema: Option<qmp_wire::Value>) -> tokio::runtime::Runtime {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let path = path.to_path_buf();
    runtime.spawn(async move {
        let version = VersionInfo {
            qemu: QemuVersion {
                major: 7,
                minor: 2,
                micro: 22,
            },
            package: "qmp-rs".into(),
        };
        let server = Server::builder(ServerConfig {
            schema,
            ..ServerConfig::qmp(version)
        })
        .build();
        server.serve_unix(&path).await.expect("serve");
    });
    runtime
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn raise_fd_limit(want: u64) -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    let soft = want.min(hard);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(soft),
            maximum: limit.maximum,
        },
    );
    getrlimit(Resource::Nofile).current.unwrap_or(0)
}

/// Opens `sessions` idle sessions from a child process (so that this
/// process holds only the server's descriptors) and returns the growth of
/// this process's resident memory per session.
fn idle_session_memory(path: &Path, sessions: usize) -> Option<f64> {
    if raise_fd_limit(sessions as u64 + 1024) < sessions as u64 + 256 {
        eprintln!("idle-session memory skipped: cannot raise the open-file limit");
        return None;
    }
    let before = rss_bytes();
    let mut holder = Command::new(std::env::current_exe().ok()?)
        .arg("--hold-clients")
        .arg(sessions.to_string())
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut ready = String::new();
    BufReader::new(holder.stdout.take()?)
        .read_line(&mut ready)
        .ok()?;
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_bytes();
    drop(holder.stdin.take());
    let _ = holder.wait();
    if ready.trim() != "ready" {
        eprintln!("idle-session memory skipped: the client holder failed ({ready:?})");
        return None;
    }
    Some(after.saturating_sub(before) as f64 / sessions as f64)
}

/// The child side of [`idle_session_memory`]: connects, negotiates, says
/// `ready`, and holds the sessions until its standard input closes.
fn hold_clients(count: usize, path: &Path) {
    raise_fd_limit(count as u64 + 256);
    // One descriptor per session: read the greeting, negotiate, read the reply.
    let open = || -> std::io::Result<UnixStream> {
        let mut stream = UnixStream::connect(path)?;
        let mut lines = 0;
        let mut byte = [0u8; 1];
        while lines < 2 {
            stream.read_exact(&mut byte)?;
            if byte[0] == b'\n' {
                lines += 1;
                if lines == 1 {
                    stream.write_all(br#"{"execute": "qmp_capabilities"}"#)?;
                }
            }
        }
        Ok(stream)
    };
    let conns: Vec<UnixStream> = match (0..count).map(|_| open()).collect() {
        Ok(conns) => conns,
        Err(e) => {
            println!("failed: {e}");
            return;
        }
    };
    println!("ready");
    let _ = std::io::stdout().flush();
    let _ = std::io::stdin().read(&mut [0u8; 1]);
    drop(conns);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--hold-clients") {
        let count = args.get(at + 1).and_then(|n| n.parse().ok()).unwrap_or(0);
        let path = args.get(at + 2).map(PathBuf::from).unwrap_or_default();
        return hold_clients(count, &path);
    }
    let seconds: f64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let duration = Duration::from_secs_f64(seconds);
    if args.iter().any(|a| a == "--spin") {
        SPIN.store(true, std::sync::atomic::Ordering::Relaxed);
        println!("load generator: polling (--spin)");
    }
    let folder = qmp_test_support::temp_dir();
    let dir = folder.path();

    let schema = qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json")
        .map(|p| {
            qmp_wire::from_slice(&std::fs::read(p).expect("read schema")).expect("schema json")
        });
    let ours = dir.join("qmp-server.sock");
    let _runtime = start_qmp_server(&ours, schema);
    let echo = dir.join("echo.sock");
    start_echo(&echo);
    let qemu = qmp_test_support::qemu_system()
        .map(|b| qmp_test_support::TestProcess::qemu(&b, &[]).expect("start QEMU"));
    while UnixStream::connect(&ours).is_err() {
        std::thread::sleep(Duration::from_millis(10));
    }

    let mut targets = vec![
        Target {
            name: "qmp-server",
            socket: ours.clone(),
            qmp: true,
        },
        Target {
            name: "raw echo",
            socket: echo,
            qmp: false,
        },
    ];
    if let Some(qemu) = &qemu {
        targets.push(Target {
            name: "QEMU 7.2",
            socket: qemu.socket().to_path_buf(),
            qmp: true,
        });
    }

    println!(
        "{:<12} {:>14} {:>16} {:>16}",
        "server", "sequential/s", "pipelined(8)/s", "schema replies/s"
    );
    let mut results = Vec::new();
    for target in &targets {
        let seq = sequential(target, QUERY, duration);
        let pipe = pipelined(target, 8, duration);
        let schema = if target.qmp {
            sequential(target, SCHEMA, duration)
        } else {
            f64::NAN
        };
        println!(
            "{:<12} {seq:>14.0} {pipe:>16.0} {schema:>16.0}",
            target.name
        );
        results.push((target.name, seq, pipe, schema));
    }
    let get = |name: &str| results.iter().find(|r| r.0 == name).copied();
    if let (Some(ours), Some(raw)) = (get("qmp-server"), get("raw echo")) {
        println!(
            "\nqmp-server / raw echo: sequential {:.2}, pipelined {:.2}",
            ours.1 / raw.1,
            ours.2 / raw.2
        );
        if let Some(qemu) = get("QEMU 7.2") {
            println!(
                "qmp-server / QEMU 7.2: sequential {:.1}x, pipelined {:.1}x, query-qmp-schema {:.1}x",
                ours.1 / qemu.1,
                ours.2 / qemu.2,
                ours.3 / qemu.3
            );
        }
    }
    if let Some(per_session) = idle_session_memory(&ours, 10_000) {
        println!(
            "memory per idle session at 10,000 sessions: {:.1} KiB",
            per_session / 1024.0
        );
    }
    drop(qemu);
    drop(folder);
}
