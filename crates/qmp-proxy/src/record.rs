//! Recording the upstream conversation as a transcript in the format of
//! QEMU's recorded conversations (`../shared/conformance`: a header line,
//! then `send` and `recv` lines with the exact bytes), so that `compare.py`
//! can replay it against any server and `qmp replay` can serve it. Each
//! line also carries `at_us`, microseconds since the recording started; secret
//! arguments are redacted as in the audit log.

use std::fs::File;
use std::io::{LineWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use qmp_client::{MessageDirection, TranscriptSink};
use qmp_wire::{Encoder, Map, Value};

use crate::audit::{redact, RedactRule};
use crate::error::{Error, Result};

/// The argv a recording's header gives when the proxy did not launch QEMU
/// itself (the transcript format needs one; edit it to match the QEMU
/// that was recorded).
const DEFAULT_ARGV: [&str; 8] = [
    "{qemu}",
    "-machine",
    "none",
    "-nodefaults",
    "-display",
    "none",
    "-qmp",
    "unix:{sock},server=on,wait=off",
];

/// Writes one upstream session's messages to a transcript file.
pub struct Recorder {
    path: PathBuf,
    state: Mutex<State>,
    redact: Vec<RedactRule>,
}

struct State {
    out: LineWriter<File>,
    started: Instant,
    header: Option<Map>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Creates (or truncates) `path`. `qemu_argv` is QEMU's command line
    /// when known (the proxy launched it): the header's `argv`, its program
    /// written `{qemu}` and a `-qmp unix:{sock},...` monitor added.
    pub fn create(
        path: &Path,
        qemu_argv: Option<&[String]>,
        redact: Vec<RedactRule>,
    ) -> Result<Arc<Recorder>> {
        let file = File::create(path).map_err(|source| Error::Record {
            path: path.into(),
            source,
        })?;
        let argv: Vec<Value> = match qemu_argv {
            Some([_, args @ ..]) => std::iter::once("{qemu}".to_string())
                .chain(args.iter().cloned())
                .chain([
                    "-qmp".to_string(),
                    "unix:{sock},server=on,wait=off".to_string(),
                ])
                .map(Value::from)
                .collect(),
            _ => DEFAULT_ARGV.iter().map(|a| Value::from(*a)).collect(),
        };
        let mut header = Map::new();
        let scenario = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "recording".into());
        header.insert("scenario", scenario);
        header.insert("qemu", "");
        header.insert("kind", "qmp");
        header.insert("argv", Value::Array(argv));
        header.insert(
            "notes",
            match qemu_argv {
                Some(_) => "recorded by qmp record",
                None => {
                    "recorded by qmp record; argv is a guess: edit it to match the QEMU recorded"
                }
            },
        );
        header.insert("mask", Value::Array(Vec::new()));
        header.insert("variable", Value::Array(vec!["timestamp".into()]));
        Ok(Arc::new(Recorder {
            path: path.into(),
            state: Mutex::new(State {
                out: LineWriter::new(file),
                started: Instant::now(),
                header: Some(header),
            }),
            redact,
        }))
    }

    /// The sink to give the upstream client.
    pub fn sink(self: &Arc<Self>) -> TranscriptSink {
        let recorder = Arc::clone(self);
        TranscriptSink::new(move |direction, bytes| recorder.record(direction, bytes))
    }

    fn record(&self, direction: MessageDirection, bytes: &[u8]) {
        let Ok(value) = qmp_wire::from_slice(bytes) else {
            tracing::warn!(
                "not recorded (not JSON): {}",
                String::from_utf8_lossy(bytes)
            );
            return;
        };
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let mut line = Map::new();
        match direction {
            MessageDirection::Sent => {
                let request = self.redacted(value);
                let text = Encoder::REQUEST.message_bytes(&request);
                let text = String::from_utf8_lossy(&text).trim_end().to_string();
                line.insert("send", text);
            }
            MessageDirection::Received => {
                if let Some(mut header) = state.header.take() {
                    let version = value
                        .get("QMP")
                        .and_then(|q| q.get("version"))
                        .and_then(|v| v.get("qemu"));
                    let part = |name: &str| {
                        version
                            .and_then(|v| v.get(name))
                            .and_then(Value::as_i64)
                            .unwrap_or(0)
                    };
                    header.insert(
                        "qemu",
                        format!("{}.{}.{}", part("major"), part("minor"), part("micro")),
                    );
                    let header = Encoder::QGA.message_bytes(&Value::Object(header));
                    self.write(&mut state, &header);
                }
                // The client hands over the message as QEMU's encoder
                // writes it, without the line ending.
                let raw = [bytes, b"\r\n"].concat();
                line.insert("recv", value);
                line.insert("raw", String::from_utf8_lossy(&raw).into_owned());
            }
        }
        let elapsed = u64::try_from(state.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        line.insert("at_us", elapsed);
        let bytes = Encoder::QGA.message_bytes(&Value::Object(line));
        self.write(&mut state, &bytes);
    }

    /// Records that QEMU closed the connection.
    pub fn record_eof(&self) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let mut line = Map::new();
        line.insert("eof", "A");
        let bytes = Encoder::QGA.message_bytes(&Value::Object(line));
        self.write(&mut state, &bytes);
    }

    /// The request with its secret arguments redacted.
    fn redacted(&self, mut request: Value) -> Value {
        let command = request
            .get("execute")
            .or_else(|| request.get("exec-oob"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if let (Some(command), Value::Object(map)) = (command, &mut request) {
            if let Some(Value::Object(arguments)) = map.get("arguments") {
                let arguments = redact(&self.redact, &command, arguments);
                map.insert("arguments", arguments);
            }
        }
        request
    }

    fn write(&self, state: &mut State, bytes: &[u8]) {
        if let Err(e) = state.out.write_all(bytes) {
            tracing::error!(path = %self.path.display(), "recording write failed: {e}");
        }
    }
}
