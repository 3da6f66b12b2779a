//! Clients that stop reading, read slowly or send slowly cannot hold up
//! the others, nor make the server hold unbounded memory.

use std::io::Write;
use std::time::{Duration, Instant};

use qmp_test_support::TestProcess;

use super::{rss_kib, Line, QMP, STEP};

/// `qmp serve` on a fresh socket (extra options after `--unix PATH`).
pub fn serve(extra: &[&str]) -> TestProcess {
    TestProcess::serve(QMP.as_ref(), extra).expect("start qmp serve")
}

/// A round trip on a fresh client, timed.
fn round_trip(socket: &std::path::Path) -> Duration {
    let started = Instant::now();
    let mut client = Line::negotiated(socket);
    assert!(client
        .ask(r#"{"execute": "query-status", "id": 1}"#)
        .contains("\"id\": 1"));
    started.elapsed()
}

#[test]
fn a_client_that_never_reads_is_cut_off_and_holds_up_no_one() {
    let served = serve(&[]);
    let mut hog = Line::negotiated(served.socket());
    let request = br#"{"execute": "query-qmp-schema"}"#.repeat(64);
    let mut writer = hog.stream.try_clone().unwrap();
    writer
        .set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut cut_off = false;
    for _ in 0..400 {
        match writer.write_all(&request) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                cut_off = true;
                break;
            }
            // The server reads no faster than it answers.
            Err(_) => {}
        }
        assert!(round_trip(served.socket()) < STEP / 2, "others are served");
    }
    if !cut_off {
        // What was sent before the cut is still there to read; then the end.
        let mut sink = Vec::new();
        let read = std::io::Read::read_to_end(&mut hog.stream, &mut sink);
        assert!(read.is_ok(), "the hog was not dropped: {read:?}");
    }
    assert!(
        rss_kib(served.pid()) < 200 * 1024,
        "server RSS {} KiB",
        rss_kib(served.pid())
    );
    assert!(round_trip(served.socket()) < STEP / 2);
}

#[test]
fn a_client_sending_one_byte_at_a_time_holds_up_no_one() {
    let served = serve(&[]);
    let mut slow = Line::negotiated(served.socket());
    let request = br#"{"execute": "query-status", "id": "slow"}"#;
    let socket = served.socket().to_path_buf();
    let others = std::thread::spawn(move || {
        (0..20)
            .map(|_| round_trip(&socket))
            .max()
            .unwrap_or_default()
    });
    for byte in request {
        slow.stream.write_all(&[*byte]).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(slow.line().contains("\"id\": \"slow\""));
    assert!(others.join().unwrap() < Duration::from_secs(2));
}
