//! Replays the decoder-level scenarios recorded from a real QEMU 7.2 (the
//! JSON and framing transcripts in `conformance/transcripts`) through the
//! decoder, the request framing and the encoder, and compares every reply
//! with QEMU's bytes, step by step: a reply must appear after the same
//! write as it did from QEMU (this checks QEMU's one-byte lookahead).
//!
//! Commands that pass framing are answered by a small test double that
//! knows the four commands these scenarios use; what is under test is the
//! wire layer around it. Each transcript runs four ways: with the recorded
//! write sizes, one write per step, one byte per write, and reading only up
//! to the end of each message (as a QEMU monitor does); all must agree.

use std::path::{Path, PathBuf};

use base64::Engine;
mod common;

use common::Monitor;
use qmp_wire::{Encoder, Greeting, QemuVersion, VersionInfo};

/// The transcripts this test covers: everything the wire layer decides.
fn covered(name: &str) -> bool {
    name.starts_with("json_")
        || name.starts_with("framing_")
        || matches!(
            name,
            "whitespace_and_layout"
                | "split_writes_bytewise"
                | "pipelined_one_write"
                | "output_pretty_monitor"
        )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Feeding {
    Recorded,
    WholeSteps,
    Bytewise,
    MessageAtATime,
}

/// A recorded step and the replies QEMU sent after it.
struct Step {
    bytes: Vec<u8>,
    chunk: Option<usize>,
    replies: Vec<Expected>,
}

struct Expected {
    raw: String,
    unparseable: bool,
}

struct Transcript {
    name: String,
    pretty: bool,
    greeting: Option<Expected>,
    steps: Vec<Step>,
}

fn load(path: &Path) -> Transcript {
    let text = std::fs::read_to_string(path).expect("transcript readable");
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: serde_json::Value = serde_json::from_str(lines.next().expect("header")).unwrap();
    let argv = header["argv"].as_array().expect("argv");
    let pretty = argv
        .iter()
        .any(|a| a.as_str().is_some_and(|s| s.contains("pretty=on")));
    let mut transcript = Transcript {
        name: header["scenario"].as_str().unwrap().to_string(),
        pretty,
        greeting: None,
        steps: Vec::new(),
    };
    for line in lines {
        let item: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            item.get("conn").is_none_or(|c| c == "A"),
            "{}: only connection A is expected in decoder-level transcripts",
            transcript.name
        );
        let bytes = if let Some(s) = item.get("send").and_then(|s| s.as_str()) {
            Some(s.as_bytes().to_vec())
        } else if let Some(b) = item.get("send_b64").and_then(|s| s.as_str()) {
            Some(base64::engine::general_purpose::STANDARD.decode(b).unwrap())
        } else if let Some(parts) = item.get("send_gen").and_then(|s| s.as_array()) {
            let mut out = Vec::new();
            for part in parts {
                let text = part[0].as_str().expect("send_gen text");
                let count = part[1].as_u64().expect("send_gen count") as usize;
                out.extend(text.as_bytes().repeat(count));
            }
            Some(out)
        } else {
            None
        };
        if let Some(bytes) = bytes {
            let chunk = item
                .get("chunk")
                .and_then(|c| c.as_u64())
                .map(|c| c as usize);
            transcript.steps.push(Step {
                bytes,
                chunk,
                replies: Vec::new(),
            });
        } else if let Some(raw) = item.get("raw").and_then(|r| r.as_str()) {
            let expected = Expected {
                raw: raw.to_string(),
                unparseable: item.get("unparseable").is_some(),
            };
            match transcript.steps.last_mut() {
                Some(step) => step.replies.push(expected),
                None => transcript.greeting = Some(expected),
            }
        } else {
            panic!("{}: unexpected line {line}", transcript.name);
        }
    }
    transcript
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// QEMU 7.2.22's greeting as recorded.
fn greeting() -> Vec<u8> {
    let greeting = Greeting {
        version: VersionInfo {
            qemu: QemuVersion {
                major: 7,
                minor: 2,
                micro: 22,
            },
            package: "Debian 1:7.2+dfsg-7+deb12u18+b3".into(),
        },
        capabilities: vec!["oob".into()],
    };
    Encoder::QMP
        .with_order(qmp_wire::MemberOrder::Qemu)
        .message_bytes(&greeting.to_value())
}

/// Feeds one step's bytes and returns the replies it produced.
fn feed_step(monitor: &mut Monitor, step: &Step, feeding: Feeding) -> Vec<Vec<u8>> {
    let mut replies = Vec::new();
    let chunk = match feeding {
        Feeding::Recorded => step.chunk.unwrap_or(usize::MAX),
        Feeding::WholeSteps | Feeding::MessageAtATime => usize::MAX,
        Feeding::Bytewise => 1,
    };
    for piece in step.bytes.chunks(chunk.min(step.bytes.len().max(1))) {
        if feeding == Feeding::MessageAtATime {
            let mut rest = piece;
            while !rest.is_empty() {
                let used = monitor.decoder.feed_until_message(rest);
                rest = &rest[used..];
                while let Some(item) = monitor.decoder.next() {
                    replies.push(monitor.reply(item));
                }
            }
        } else {
            monitor.decoder.feed(piece);
            while let Some(item) = monitor.decoder.next() {
                replies.push(monitor.reply(item));
            }
        }
    }
    replies
}

fn check(transcript: &Transcript, feeding: Feeding) -> usize {
    if let (Some(expected), false) = (&transcript.greeting, transcript.pretty) {
        assert_eq!(
            latin1(&greeting()),
            expected.raw,
            "{}: greeting",
            transcript.name
        );
    }
    let mut monitor = Monitor::new(transcript.pretty);
    let mut compared = 0;
    for (index, step) in transcript.steps.iter().enumerate() {
        let got = feed_step(&mut monitor, step, feeding);
        let got: Vec<String> = got.iter().map(|r| latin1(r)).collect();
        let want: Vec<String> = step
            .replies
            .iter()
            .map(|e| {
                if e.unparseable {
                    // QEMU writes bare inf (invalid JSON); we write 1e999.
                    e.raw.replace("-inf", "-1e999").replace("inf", "1e999")
                } else {
                    e.raw.clone()
                }
            })
            .collect();
        let shorten = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|s| s.chars().take(300).collect::<String>())
                .collect()
        };
        assert_eq!(
            shorten(&got),
            shorten(&want),
            "{}: step {index} ({feeding:?})",
            transcript.name
        );
        assert_eq!(got, want, "{}: step {index} ({feeding:?})", transcript.name);
        compared += want.len();
    }
    compared
}

fn transcripts() -> Option<Vec<PathBuf>> {
    let dir = qmp_test_support::shared_path("conformance/transcripts")?;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("transcripts folder readable")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "jsonl")
                && p.file_stem().and_then(|s| s.to_str()).is_some_and(covered)
        })
        .collect();
    paths.sort();
    Some(paths)
}

#[test]
fn decoder_level_transcripts_reproduce_qemus_replies() {
    let Some(paths) = transcripts() else {
        return;
    };
    assert!(
        paths.len() >= 25,
        "expected the JSON and framing transcripts"
    );
    let mut replies = 0;
    for path in &paths {
        let transcript = load(path);
        let recorded = check(&transcript, Feeding::Recorded);
        for feeding in [
            Feeding::WholeSteps,
            Feeding::Bytewise,
            Feeding::MessageAtATime,
        ] {
            if feeding == Feeding::Bytewise
                && transcript.steps.iter().any(|s| s.bytes.len() > 1 << 20)
            {
                // One byte per write over megabytes proves nothing new and is slow in debug builds.
                continue;
            }
            assert_eq!(check(&transcript, feeding), recorded);
        }
        replies += recorded;
    }
    println!(
        "{} transcripts, {replies} replies reproduced byte for byte",
        paths.len()
    );
}
