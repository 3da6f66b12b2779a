//! Differential test against the real `qemu-system-x86_64`: tricky inputs
//! (grammar corner cases, numbers, escapes, raw bytes, framing, member
//! order) go to a live QEMU and to the wire layer with a test double for
//! the commands; the replies must be identical byte for byte.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::{Monitor, FRAGMENTS};

struct Qemu {
    _process: qmp_test_support::TestProcess,
    stream: UnixStream,
    pending: Vec<u8>,
}

impl Qemu {
    fn start(binary: &std::path::Path) -> Qemu {
        let process = qmp_test_support::TestProcess::qemu(binary, &[]).expect("start qemu");
        let stream = UnixStream::connect(process.socket()).expect("connect to QEMU");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Qemu {
            _process: process,
            stream,
            pending: Vec::new(),
        }
    }

    /// Reads replies until one contains `marker`; returns them all.
    fn read_until(&mut self, marker: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            while let Some(end) = self.pending.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.pending.drain(..end + 2).collect();
                let line: String = line.iter().map(|&b| char::from(b)).collect();
                let done = line.contains(marker);
                lines.push(line);
                if done {
                    return lines;
                }
            }
            let mut buf = [0u8; 65536];
            let n = self.stream.read(&mut buf).expect("read from QEMU");
            assert!(n > 0, "QEMU closed the connection");
            self.pending.extend_from_slice(&buf[..n]);
        }
    }
}

/// Inputs whose handling the wire layer decides, each sent to both sides.
fn cases() -> Vec<Vec<u8>> {
    let mut cases: Vec<Vec<u8>> = [
        // grammar
        "{[}]", "{[1}: 2]", "{[1]: 2}", "{foo: 2}", "{true: 2}", "{\"a\": 1, \"a\": {\"b\" 1}}",
        "[{\"a\": 1, \"a\": 2}]", "[\"\\x\", \"\\uD800\"]", "[1 2]", "{\"a\": 1 \"b\": 2}",
        "{\"a\" : }", "[,]", "{,}", "[1,,2]", "{\"a\":1,}", "}]", "[[[]]]]", "{]", "[}",
        "nul ", "truex ", "True", "%d", "[1, %s]",
        // framing
        "{\"execute\": \"query-name\", \"exec-oob\": 1, \"id\": 1}",
        "{\"exec-oob\": \"query-name\"}",
        "{\"arguments\": {}, \"execute\": 7, \"id\": {\"b\": 1, \"a\": [2, {\"d\": 1, \"c\": 0}]}}",
        "{\"execute\": \"query-name\", \"id\": {\"\\u0000k\": 1, \"\\u00e9\": 2, \"z\": 3, \"zz\": 4}}",
        "{\"execute\": \"no-such\", \"x\": 1, \"y\": 2, \"id\": null}",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    // numbers, echoed as ids
    for number in [
        "0e5",
        "01",
        "-0",
        "-0.0",
        "1.",
        "1.5e",
        "1e+",
        "-",
        "--1",
        ".5",
        "1E5",
        "1e-5",
        "0.1",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "1e-400",
        "123456.789",
        "5e-324",
        "1.7976931348623157e308",
        "2.5",
        "100.0",
        "1e16",
        "1e17",
        "12345678901234567890123",
        "0.000123456789012345678",
        "-1.5E+300",
    ] {
        cases.push(format!("{{\"execute\": \"query-name\", \"id\": {number}}}").into_bytes());
    }
    // strings, echoed as ids
    for string in [
        "'a\"b'",
        "\"it\\'s\"",
        "\"\\u00e9\\u20AC\\uD83D\\uDE00\"",
        "\"\\uDBFF\\uDFFF\"",
        "\"\\u12G4\"",
        "\"\\u12\"",
        "\"\\u\"",
        "\"\\uD800\\u\"",
        "\"\\uD83D\\uDE0\"",
        "\"\\/\\b\\f\"",
        "\"\\uFDD0\"",
        "\"\\uFFFE\"",
        "\"\\u0000\"",
        "\"\\u001f\\u007f\"",
    ] {
        cases.push(format!("{{\"execute\": \"query-name\", \"id\": {string}}}").into_bytes());
    }
    // raw bytes inside and outside strings
    for raw in [
        &b"\"\xc3\xa9\""[..],
        b"\"\xc0\x80\"",
        b"\"\xf8\x88\x80\x80\x80\"",
        b"\"\xef\xb7\x90\"",
        b"\"\xc3\x01",
        b"\"\xe2\x82\x01",
        b"\"\xf0\x9f\x98\x80\x7f\"",
        b"\"\xc3\"",
        b"\xc3\xa9",
        b"\"a\x00b\"",
        b"\x1b",
        b"\"\x7f\"",
        b"\"\\\xc3\xa9\"",
        b"\"\\\x01\"",
    ] {
        let mut case = b"{\"execute\": \"query-name\", \"id\": ".to_vec();
        case.extend_from_slice(raw);
        case.extend_from_slice(b"}");
        cases.push(case);
    }
    cases
}

#[test]
fn wire_layer_matches_live_qemu() {
    let Some(mut pair) = Pair::start() else {
        return;
    };
    let cases = cases();
    for (n, case) in cases.iter().enumerate() {
        pair.compare(case, &format!("case-{n}"));
    }
    println!(
        "{} cases identical to {}",
        cases.len(),
        pair.greeting.trim_end()
    );
}

#[test]
fn random_streams_match_live_qemu() {
    let Some(mut pair) = Pair::start() else {
        return;
    };
    // A fixed xorshift sequence: the same streams every run.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let streams = 400;
    for n in 0..streams {
        let mut bytes = Vec::new();
        for _ in 0..(next() % 30 + 1) {
            bytes.extend_from_slice(FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize]);
        }
        pair.compare(&bytes, &format!("stream-{n}"));
    }
    println!("{streams} random streams identical to QEMU");
}

/// A live QEMU and the test double, both past negotiation.
struct Pair {
    qemu: Qemu,
    ours: Monitor,
    greeting: String,
}

impl Pair {
    fn start() -> Option<Pair> {
        let binary = qmp_test_support::qemu_system()?;
        let mut qemu = Qemu::start(&binary);
        let greeting = qemu.read_until("\"QMP\"").concat();
        let mut ours = Monitor::new(false);
        let setup = b"{\"execute\": \"qmp_capabilities\", \"id\": \"setup\"}";
        qemu.stream.write_all(setup).unwrap();
        assert_eq!(qemu.read_until("\"setup\""), latin1_lines(ours.feed(setup)));
        Some(Pair {
            qemu,
            ours,
            greeting,
        })
    }

    /// Sends `case` to both sides, then a control byte (which resets any
    /// partial state) and a marked request; the replies up to the marked
    /// one must be identical.
    fn compare(&mut self, case: &[u8], marker: &str) {
        let mut bytes = case.to_vec();
        bytes.extend_from_slice(
            format!("\x01{{\"execute\": \"query-name\", \"id\": \"{marker}\"}}").as_bytes(),
        );
        self.qemu.stream.write_all(&bytes).unwrap();
        let theirs = self.qemu.read_until(marker);
        let mine = latin1_lines(self.ours.feed(&bytes));
        assert_eq!(
            mine,
            theirs,
            "{marker}: {:?}",
            String::from_utf8_lossy(case)
        );
    }
}

fn latin1_lines(replies: Vec<Vec<u8>>) -> Vec<String> {
    replies
        .iter()
        .map(|r| r.iter().map(|&b| char::from(b)).collect())
        .collect()
}
