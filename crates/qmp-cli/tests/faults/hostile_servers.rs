//! Servers that misbehave, against `qmp exec` and `qmp events`: each
//! command ends within its deadline with a clear message and exit status 2,
//! never hangs, never grows without bound, and never lets server text act
//! on the terminal; an event burst is printed in full or the loss reported.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use qmp_wire::{Decoder, Value};

use super::{rss_kib, QMP};

const GREETING: &[u8] = b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n";

/// A server that accepts one client and runs `behaviour` on it.
struct Hostile {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Hostile {
    fn start(behaviour: impl FnOnce(UnixStream, &mut Requests) + Send + 'static) -> Hostile {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("hostile.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        std::thread::spawn(move || {
            if let Ok((stream, _)) = listener.accept() {
                let mut requests = Requests {
                    stream: stream.try_clone().unwrap(),
                    decoder: Decoder::new(),
                };
                behaviour(stream, &mut requests);
            }
        });
        Hostile { socket, _dir: dir }
    }

    fn path(&self) -> &str {
        self.socket.to_str().unwrap()
    }
}

/// The client's requests, one at a time.
struct Requests {
    stream: UnixStream,
    decoder: Decoder,
}

impl Requests {
    /// The next request, or `None` once the client has gone.
    fn next(&mut self) -> Option<Value> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(item) = self.decoder.next() {
                return item.ok();
            }
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.decoder.feed(&buf[..n]),
            }
        }
    }

    /// The next request's id as JSON text.
    fn next_id(&mut self) -> Option<String> {
        Some(self.next()?.get("id")?.to_string())
    }

    /// Greets and answers `qmp_capabilities`.
    fn negotiate(&mut self, stream: &mut UnixStream) -> Option<()> {
        stream.write_all(GREETING).ok()?;
        let id = self.next_id()?;
        stream
            .write_all(format!("{{\"return\": {{}}, \"id\": {id}}}\r\n").as_bytes())
            .ok()
    }
}

/// Keeps the connection open until the client leaves.
fn hold(requests: &mut Requests) {
    while requests.next().is_some() {}
}

/// Runs `qmp ARGS`, failing the test if it takes longer than `limit`;
/// returns its output and the largest RSS seen while it ran.
fn run_within(args: &[&str], limit: Duration) -> (Output, u64) {
    let mut child = Command::new(QMP)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        peak = peak.max(rss_kib(child.id()));
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("qmp {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        Output {
            status,
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        },
        peak,
    )
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `qmp exec` against `behaviour`, with `--connect-timeout 1 --timeout 1`:
/// exit status 2 within a few seconds, and its stderr.
fn exec_fails(behaviour: impl FnOnce(UnixStream, &mut Requests) + Send + 'static) -> String {
    let server = Hostile::start(behaviour);
    let args = [
        "exec",
        "--connect-timeout",
        "1",
        "--timeout",
        "1",
        server.path(),
        "query-status",
    ];
    let (output, peak) = run_within(&args, Duration::from_secs(8));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(peak < 100 * 1024, "client RSS {peak} KiB");
    let text = stderr(&output);
    assert!(
        !text.contains('\x1b'),
        "raw escape on the terminal: {text:?}"
    );
    text
}

#[test]
fn exec_against_a_server_that_never_greets() {
    let text = exec_fails(|_, requests| hold(requests));
    assert!(text.contains("timed out after 1s"), "{text}");
}

#[test]
fn exec_against_a_server_silent_after_negotiation() {
    let text = exec_fails(|mut stream, requests| {
        requests.negotiate(&mut stream);
        hold(requests);
    });
    assert!(text.contains("no reply to query-status"), "{text}");
}

#[test]
fn exec_against_a_server_answering_unknown_ids_only() {
    let text = exec_fails(|mut stream, requests| {
        requests.negotiate(&mut stream);
        while requests.next().is_some() {
            for id in [999_999, -1] {
                let reply = format!("{{\"return\": {{}}, \"id\": {id}}}\r\n");
                let _ = stream.write_all(reply.as_bytes());
            }
        }
    });
    assert!(text.contains("no reply to query-status"), "{text}");
}

#[test]
fn exec_against_a_server_sending_invalid_json() {
    let text = exec_fails(|mut stream, requests| {
        requests.negotiate(&mut stream);
        requests.next();
        let _ = stream.write_all(b"{\"return\": {]}\r\n");
        hold(requests);
    });
    assert!(text.contains("invalid JSON"), "{text}");
}

#[test]
fn exec_against_an_endless_reply_line() {
    let text = exec_fails(|mut stream, requests| {
        requests.negotiate(&mut stream);
        requests.next();
        let _ = stream.write_all(b"{\"return\": \"");
        let chunk = vec![b'a'; 64 * 1024];
        while stream.write_all(&chunk).is_ok() {}
    });
    assert!(text.contains("no reply to query-status"), "{text}");
}

#[test]
fn exec_against_a_reply_nested_too_deep() {
    let text = exec_fails(|mut stream, requests| {
        requests.negotiate(&mut stream);
        let id = requests.next_id().unwrap_or_default();
        let reply = format!(
            "{{\"return\": {}{}, \"id\": {id}}}\r\n",
            "[".repeat(5000),
            "]".repeat(5000)
        );
        let _ = stream.write_all(reply.as_bytes());
        hold(requests);
    });
    assert!(text.contains("nesting depth limit"), "{text}");
}

#[test]
fn exec_shows_an_error_text_full_of_escapes_escaped() {
    let server = Hostile::start(|mut stream, requests| {
        requests.negotiate(&mut stream);
        let id = requests.next_id().unwrap_or_default();
        let reply = format!(
            "{{\"error\": {{\"class\": \"GenericError\", \"desc\": \"\\u001b[2J\\u001b]0;owned\\u0007 gone\"}}, \"id\": {id}}}\r\n"
        );
        let _ = stream.write_all(reply.as_bytes());
        hold(requests);
    });
    let (output, _) = run_within(
        &["exec", server.path(), "query-status"],
        Duration::from_secs(8),
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "GenericError: \\u{1b}[2J\\u{1b}]0;owned\\u{7} gone\n"
    );
}

#[test]
fn events_against_a_server_that_never_greets_or_sends_invalid_json() {
    let silent = Hostile::start(|_, requests| hold(requests));
    let (output, _) = run_within(
        &["events", "--connect-timeout", "1", silent.path()],
        Duration::from_secs(8),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let garbage = Hostile::start(|mut stream, requests| {
        requests.negotiate(&mut stream);
        // qmp events subscribes once negotiation is over.
        std::thread::sleep(Duration::from_millis(300));
        let _ = stream.write_all(b"{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n{\"event\": ]\r\n");
        hold(requests);
    });
    let (output, _) = run_within(&["events", garbage.path()], Duration::from_secs(8));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("\"STOP\""));
    assert!(
        stderr(&output).contains("invalid JSON"),
        "{}",
        stderr(&output)
    );
}

/// A server that sends `count` events at once after negotiation, then
/// closes.
fn event_burst(count: usize) -> Hostile {
    Hostile::start(move |mut stream, requests| {
        requests.negotiate(&mut stream);
        let mut batch = Vec::with_capacity(1 << 20);
        for i in 0..count {
            batch.extend_from_slice(
                format!("{{\"timestamp\": {{\"seconds\": {i}, \"microseconds\": 0}}, \"event\": \"BURST\"}}\r\n")
                    .as_bytes(),
            );
            if batch.len() > (1 << 20) - 128 {
                let _ = stream.write_all(&batch);
                batch.clear();
            }
        }
        let _ = stream.write_all(&batch);
    })
}

/// The missed counts `qmp events` reported on stderr.
fn reported_missed(text: &str) -> u64 {
    text.lines()
        .filter_map(|l| {
            l.strip_prefix("qmp: ")?
                .split(" events missed:")
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[test]
fn an_event_burst_is_printed_whole_or_its_loss_reported() {
    const BURST: usize = 200_000;
    // A reader that does not keep up: stdout is a pipe read only later.
    let server = event_burst(BURST);
    let mut child = Command::new(QMP)
        .args(["events", server.path()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut errors = child.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = errors.read_to_string(&mut text);
        text
    });
    std::thread::sleep(Duration::from_secs(2));
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let text = stderr_reader.join().unwrap();
    let status = child.wait().unwrap();
    let printed = stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64;
    let missed = reported_missed(&text);
    assert_eq!(
        printed + missed,
        BURST as u64,
        "nothing lost unreported: {text}"
    );
    assert_eq!(
        status.code(),
        Some(if missed > 0 { 3 } else { 0 }),
        "{text}"
    );
    // A reader that keeps up (a file) gets them all, or hears of the loss.
    let server = event_burst(BURST);
    let out = tempfile::tempfile().unwrap();
    let (status, text) = {
        let child = Command::new(QMP)
            .args(["events", server.path()])
            .stdout(out.try_clone().unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = child.wait_with_output().unwrap();
        (output.status, stderr(&output))
    };
    let mut written = String::new();
    let mut file = out;
    std::io::Seek::rewind(&mut file).unwrap();
    file.read_to_string(&mut written).unwrap();
    let missed = reported_missed(&text);
    assert_eq!(
        written.lines().count() as u64 + missed,
        BURST as u64,
        "{text}"
    );
    assert_eq!(
        status.code(),
        Some(if missed > 0 { 3 } else { 0 }),
        "{text}"
    );
    // --ignore-missed: exit 0 whatever was missed.
    let server = event_burst(1000);
    let (output, _) = run_within(
        &["events", "--ignore-missed", server.path()],
        Duration::from_secs(8),
    );
    assert_eq!(output.status.code(), Some(0));
}
