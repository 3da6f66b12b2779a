//! Host signals end the stand-ins as they end QEMU: SHUTDOWN with reason
//! host-signal to the client, exit status 0, no socket file left.

use std::io::Read;
use std::process::Command;

use qmp_test_support::TestProcess;

use super::{fake_qemu, real_qemu, without_timestamp, Line, QMP};

/// Signals `server` with `signal` while a client is connected; returns what
/// the client read until the end, the exit status and whether the socket
/// file is left.
fn end_by(mut server: TestProcess, signal: rustix::process::Signal) -> (String, Option<i32>, bool) {
    let mut client = Line::negotiated(server.socket());
    let pid = rustix::process::Pid::from_raw(server.pid() as i32).unwrap();
    rustix::process::kill_process(pid, signal).unwrap();
    let mut rest = String::new();
    client.stream.read_to_string(&mut rest).unwrap();
    let status = server.child().wait().unwrap();
    (
        without_timestamp(&rest),
        status.code(),
        server.socket().exists(),
    )
}

const SHUTDOWN: &str =
    "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false, \"reason\": \"host-signal\"}}\r\n";

#[test]
fn fake_qemu_ends_on_sigint_sigterm_and_sighup_as_qemu_does() {
    use rustix::process::Signal;
    for signal in [Signal::INT, Signal::TERM, Signal::HUP] {
        let Some(fake) = fake_qemu() else { return };
        let ours = end_by(fake, signal);
        assert_eq!(ours, (SHUTDOWN.to_owned(), Some(0), false), "{signal:?}");
        let Some(qemu) = real_qemu() else { return };
        assert_eq!(end_by(qemu, signal), ours, "QEMU 7.2 differs on {signal:?}");
    }
}

#[test]
fn qmp_serve_ends_on_sigterm_and_sighup_and_removes_its_socket() {
    use rustix::process::Signal;
    for signal in [Signal::TERM, Signal::HUP, Signal::INT] {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("qmp.sock");
        let mut child = Command::new(QMP)
            .arg("serve")
            .arg("--unix")
            .arg(&socket)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        assert!(super::eventually(|| socket.exists()));
        let mut client = Line::negotiated(&socket);
        let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        rustix::process::kill_process(pid, signal).unwrap();
        let mut rest = String::new();
        client.stream.read_to_string(&mut rest).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(without_timestamp(&rest), SHUTDOWN, "{signal:?}");
        assert_eq!(status.code(), Some(0), "{signal:?}");
        assert!(!socket.exists(), "{signal:?}: socket left");
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(
            stderr.contains(&format!("terminating on signal {}", signal.as_raw())),
            "{stderr}"
        );
    }
}
