//! The optional transcript: every message in and out, timestamped, to a
//! file, or handed to a callback (a recorder) as it goes by.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageDirection {
    /// Sent by the client (the request's bytes).
    Sent,
    /// Received from the server (re-encoded from the decoded value, in the
    /// server's member order, without the line ending).
    Received,
}

/// A callback given every message as it is written (in the order written)
/// or read (in the order read), from the task that does so; it must not
/// block. For recording a conversation.
#[derive(Clone)]
pub struct TranscriptSink(Arc<SinkFn>);

type SinkFn = dyn Fn(MessageDirection, &[u8]) + Send + Sync;

impl TranscriptSink {
    /// A sink calling `f`.
    pub fn new(f: impl Fn(MessageDirection, &[u8]) + Send + Sync + 'static) -> TranscriptSink {
        TranscriptSink(Arc::new(f))
    }
}

impl std::fmt::Debug for TranscriptSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TranscriptSink")
    }
}

/// Where the transcript goes. A file's lines are
/// `SECONDS.MICROSECONDS -> TEXT` (sent) or `... <- TEXT` (received).
pub(crate) enum Transcript {
    File(Mutex<File>),
    Sink(TranscriptSink),
}

impl std::fmt::Debug for Transcript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transcript")
    }
}

impl Transcript {
    /// Appends one message; write errors are logged, not returned, so a
    /// full disk never breaks the connection.
    pub(crate) fn record(&self, direction: MessageDirection, message: &[u8]) {
        let file = match self {
            Transcript::Sink(sink) => return (sink.0)(direction, message),
            Transcript::File(file) => file,
        };
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let arrow = match direction {
            MessageDirection::Sent => "->",
            MessageDirection::Received => "<-",
        };
        let text = String::from_utf8_lossy(message);
        let line = format!(
            "{}.{:06} {arrow} {}\n",
            since.as_secs(),
            since.subsec_micros(),
            text.trim_end_matches(['\r', '\n'])
        );
        let Ok(mut file) = file.lock() else {
            return;
        };
        if let Err(e) = file.write_all(line.as_bytes()) {
            tracing::warn!("transcript write failed: {e}");
        }
    }
}

/// The configured transcript, if any: the sink, else the file (created or
/// truncated).
pub(crate) fn open(
    path: Option<&Path>,
    sink: Option<&TranscriptSink>,
) -> std::io::Result<Option<Arc<Transcript>>> {
    if let Some(sink) = sink {
        return Ok(Some(Arc::new(Transcript::Sink(sink.clone()))));
    }
    path.map(|p| Ok(Arc::new(Transcript::File(Mutex::new(File::create(p)?)))))
        .transpose()
}
