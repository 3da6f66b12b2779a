//! What the client notices about the server's timing that no call returns:
//! replies that came after their call gave up (the command may well have
//! been carried out) and replies slower than the configured warning
//! threshold. Each is logged with `tracing` and sent to every
//! [`DiagnosticStream`].

use std::sync::Arc;
use std::time::Duration;

use qmp_wire::QmpError;
use tokio::sync::broadcast;

/// Diagnostics kept for a stream that has not read them yet; older ones are
/// skipped (and counted) when a stream falls further behind.
const BACKLOG: usize = 256;

/// One thing the client noticed.
#[derive(Clone, Debug, PartialEq)]
pub enum Diagnostic {
    /// A reply to a call that had timed out or been cancelled: the command
    /// ran (successfully unless `error` is set) although its caller saw a
    /// failure. Its id was never given to another call.
    LateReply {
        /// The command.
        command: Arc<str>,
        /// The request id.
        id: i64,
        /// How long after the caller gave up it came.
        late_by: Duration,
        /// The error reply, when the command failed after all.
        error: Option<QmpError>,
    },
    /// A reply that took longer than
    /// [`ClientConfig::slow_command_warning`](crate::ClientConfig::slow_command_warning).
    SlowReply {
        /// The command.
        command: Arc<str>,
        /// The request id.
        id: i64,
        /// How long it took.
        took: Duration,
    },
}

/// The sending side, owned by the connection.
#[derive(Debug)]
pub(crate) struct Diagnostics {
    tx: broadcast::Sender<Diagnostic>,
}

impl Default for Diagnostics {
    fn default() -> Diagnostics {
        Diagnostics {
            tx: broadcast::Sender::new(BACKLOG),
        }
    }
}

impl Diagnostics {
    /// Logs `diagnostic` and hands it to every stream.
    pub(crate) fn report(&self, diagnostic: Diagnostic) {
        match &diagnostic {
            Diagnostic::LateReply {
                command,
                id,
                late_by,
                error,
            } => tracing::warn!(
                %command,
                id,
                ?late_by,
                failed = error.is_some(),
                "a reply came after its call gave up: the command was carried out"
            ),
            Diagnostic::SlowReply { command, id, took } => {
                tracing::warn!(%command, id, ?took, "slow reply")
            }
        }
        let _ = self.tx.send(diagnostic);
    }

    /// A new stream of the diagnostics reported from now on.
    pub(crate) fn subscribe(&self) -> DiagnosticStream {
        DiagnosticStream {
            rx: self.tx.subscribe(),
            skipped: 0,
        }
    }
}

/// Diagnostics as they are reported (see [`Client::diagnostics`](crate::Client::diagnostics)).
#[derive(Debug)]
pub struct DiagnosticStream {
    rx: broadcast::Receiver<Diagnostic>,
    skipped: u64,
}

impl DiagnosticStream {
    /// The next diagnostic; `None` once the connection is gone.
    pub async fn next(&mut self) -> Option<Diagnostic> {
        loop {
            match self.rx.recv().await {
                Ok(diagnostic) => return Some(diagnostic),
                Err(broadcast::error::RecvError::Lagged(n)) => self.skipped += n,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// The next diagnostic if one is waiting (never waits).
    pub fn try_next(&mut self) -> Option<Diagnostic> {
        loop {
            match self.rx.try_recv() {
                Ok(diagnostic) => return Some(diagnostic),
                Err(broadcast::error::TryRecvError::Lagged(n)) => self.skipped += n,
                Err(_) => return None,
            }
        }
    }

    /// Diagnostics skipped because this stream fell more than 256 behind.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}
