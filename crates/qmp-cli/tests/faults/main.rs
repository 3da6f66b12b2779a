//! The fault suite: hostile clients, hostile servers and host events
//! against `qmp serve`, `qmp fake-qemu` and the `qmp` client commands,
//! each case asserting what must hold (bounded descriptors and memory, no
//! peer denying service to another, nothing lost without saying so), and
//! the cases QEMU defines compared with a real QEMU 7.2.
//!
//! Longer runs (fuzzing, soaks) are documented commands, not tests: see
//! `fuzz/README.md`.

mod clients;
mod fds;
mod hostile_servers;
mod parse_errors;
mod sessions;
mod signals;

use std::io::{BufRead, BufReader, Write};
use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use qmp_test_support::{TestProcess, QEMU_HEADLESS, QEMU_NO_MACHINE};

/// The `qmp` binary under test.
pub const QMP: &str = env!("CARGO_BIN_EXE_qmp");

/// How long any one step may take before a case fails.
pub const STEP: Duration = Duration::from_secs(10);

/// The saved `query-qmp-schema` reply of QEMU 7.2 the stand-in serves.
fn qemu_7_2_reply() -> Option<PathBuf> {
    qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json")
}

/// `qmp fake-qemu` with the 7.2 API and QEMU's test options, its monitor on
/// a fresh socket.
pub fn fake_qemu() -> Option<TestProcess> {
    let reply = qemu_7_2_reply()?;
    let mut command = Command::new(QMP);
    command
        .arg("fake-qemu")
        .arg("--introspection")
        .arg(reply)
        .args(QEMU_NO_MACHINE)
        .args(QEMU_HEADLESS)
        .stderr(std::process::Stdio::null());
    Some(TestProcess::monitor(command).expect("start qmp fake-qemu"))
}

/// A real QEMU, or `None` after reporting it missing.
pub fn real_qemu() -> Option<TestProcess> {
    let binary = qmp_test_support::qemu_system()?;
    let mut command = qmp_test_support::qemu_command(&binary);
    command.stderr(std::process::Stdio::null());
    Some(TestProcess::monitor(command).expect("start QEMU"))
}

/// A blocking line client on a monitor socket.
pub struct Line {
    pub stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Line {
    /// Connected, greeting read.
    pub fn connect(socket: &Path) -> Line {
        let stream = UnixStream::connect(socket).expect("connect");
        stream.set_read_timeout(Some(STEP)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = Line { stream, reader };
        let greeting = line.line();
        assert!(greeting.starts_with("{\"QMP\""), "greeting: {greeting}");
        line
    }

    /// Connected and past negotiation.
    pub fn negotiated(socket: &Path) -> Line {
        let mut line = Line::connect(socket);
        assert_eq!(
            line.ask(r#"{"execute": "qmp_capabilities"}"#),
            "{\"return\": {}}\r\n"
        );
        line
    }

    pub fn send(&mut self, text: &str) {
        self.stream.write_all(text.as_bytes()).unwrap();
    }

    /// The next line (with its line ending), or "" at the end.
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read a line");
        line
    }

    /// Sends `text` and reads one line back.
    pub fn ask(&mut self, text: &str) -> String {
        self.send(text);
        self.line()
    }

    /// Sends `bytes` with `count` copies of `fd` (SCM_RIGHTS).
    pub fn send_fds(&self, bytes: &[u8], fd: BorrowedFd<'_>, count: usize) {
        qmp_test_support::send_with_fds(&self.stream, bytes, &vec![fd; count]).expect("sendmsg");
    }
}

/// Open descriptors of process `pid`.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| dir.count())
        .unwrap_or(0)
}

/// Resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Polls `done` until it holds or [`STEP`] passes; returns whether it held.
pub fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + STEP;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

/// A reply line with its timestamp (events) blanked, for comparing two
/// servers.
pub fn without_timestamp(line: &str) -> String {
    match (line.find("\"timestamp\": {"), line.find("}, \"event\"")) {
        (Some(at), Some(end)) if at < end => format!("{}{}", &line[..at], &line[end + 3..]),
        _ => line.to_owned(),
    }
}
