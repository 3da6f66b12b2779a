//! Many sessions, and what a server shows of itself: memory given back
//! after 10,000 sessions close, the socket's mode from its first moment,
//! the bound port, and a log line when a client is dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::clients::serve;
use super::{eventually, rss_kib, Line, QMP};

/// Opens `count` sessions on `socket` and reads each greeting.
fn open_sessions(socket: &std::path::Path, count: usize) -> Vec<UnixStream> {
    let streams: Vec<UnixStream> = (0..count)
        .map(|_| UnixStream::connect(socket).expect("connect"))
        .collect();
    for stream in &streams {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut byte = [0u8; 1];
        let mut stream = stream;
        while stream.read(&mut byte).is_ok_and(|n| n == 1) && byte[0] != b'\n' {}
    }
    streams
}

#[test]
fn ten_thousand_sessions_opened_and_closed_leave_memory_bounded() {
    let sessions = 10_000;
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let wanted = (sessions as u64) + 1000;
    if limit.maximum.is_some_and(|max| max < wanted) {
        qmp_test_support::skip(&format!("the descriptor limit is below {wanted}"));
        return;
    }
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    );
    let served = serve(&[]);
    let mut after = Vec::new();
    let mut peaks = Vec::new();
    for _ in 0..4 {
        let open = open_sessions(served.socket(), sessions);
        peaks.push(rss_kib(served.pid()));
        drop(open);
        let server = &served;
        eventually(|| {
            let mut client = Line::negotiated(server.socket());
            client.ask(r#"{"execute": "query-status"}"#);
            std::thread::sleep(Duration::from_millis(100));
            rss_kib(server.pid()) < peaks[0] / 4
        });
        after.push(rss_kib(served.pid()));
    }
    // Every round gives most of its peak back; and a leak would grow from
    // round to round, so the last round ends near the first. (One round in
    // between may keep a few more MiB the allocator has not returned yet.)
    let first = after[0];
    let last = after[after.len() - 1];
    assert!(
        after.iter().all(|&a| a < peaks[0] / 3) && last < first + 8 * 1024,
        "RSS at peak {peaks:?} KiB, after closing {after:?} KiB"
    );
}

#[test]
fn the_unix_socket_is_0600_from_its_first_moment_whatever_the_umask() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("qmp.sock");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask 000; exec {QMP} serve --unix {}",
                socket.display()
            ))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mode = loop {
            if let Ok(meta) = std::fs::symlink_metadata(&socket) {
                break meta.permissions().mode() & 0o777;
            }
            std::thread::yield_now();
        };
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(mode, 0o600, "mode {mode:o}");
    }
}

#[test]
fn serve_on_port_zero_prints_the_port_it_bound() {
    let mut child = Command::new(QMP)
        .args(["serve", "--tcp", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let port: u16 = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    assert!(line.starts_with("qmp: serving on 127.0.0.1:"), "{line}");
    assert_ne!(port, 0, "{line}");
}

#[test]
fn a_dropped_client_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("qmp.sock");
    let mut child = Command::new(QMP)
        .arg("-v")
        .args(["serve", "--unix"])
        .arg(&socket)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(eventually(|| socket.exists()));
    let hog = Line::negotiated(&socket);
    let mut writer = hog.stream.try_clone().unwrap();
    writer
        .set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let request = br#"{"execute": "query-qmp-schema"}"#.repeat(64);
    for _ in 0..400 {
        if let Err(e) = writer.write_all(&request) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                break;
            }
        }
    }
    drop(writer);
    drop(hog);
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let _ = child.wait();
    assert!(log.contains("client dropped"), "{log}");
    assert!(log.contains("session started"), "-v shows sessions: {log}");
}
