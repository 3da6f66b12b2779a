//! The optional transcript: every message in and out, timestamped, to a file.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// The direction of a logged message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Sent by the client.
    Out,
    /// Received from the server (re-encoded from the decoded value).
    In,
}

/// An open transcript file. Each line is
/// `SECONDS.MICROSECONDS -> TEXT` (sent) or `... <- TEXT` (received).
#[derive(Debug)]
pub(crate) struct Transcript {
    file: Mutex<File>,
}

impl Transcript {
    /// Creates (or truncates) the file.
    pub(crate) fn create(path: &Path) -> std::io::Result<Transcript> {
        Ok(Transcript {
            file: Mutex::new(File::create(path)?),
        })
    }

    /// Appends one message; write errors are logged, not returned, so a
    /// full disk never breaks the connection.
    pub(crate) fn record(&self, direction: Direction, message: &[u8]) {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let arrow = match direction {
            Direction::Out => "->",
            Direction::In => "<-",
        };
        let text = String::from_utf8_lossy(message);
        let line = format!(
            "{}.{:06} {arrow} {}\n",
            since.as_secs(),
            since.subsec_micros(),
            text.trim_end_matches(['\r', '\n'])
        );
        let Ok(mut file) = self.file.lock() else {
            return;
        };
        if let Err(e) = file.write_all(line.as_bytes()) {
            tracing::warn!("transcript write failed: {e}");
        }
    }
}

/// Opens the configured transcript, if any.
pub(crate) fn open(path: Option<&Path>) -> std::io::Result<Option<std::sync::Arc<Transcript>>> {
    path.map(|p| Transcript::create(p).map(std::sync::Arc::new))
        .transpose()
}
