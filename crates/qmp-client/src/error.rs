//! The client's error type: everything a call can fail with.

use std::sync::Arc;
use std::time::Duration;

use qmp_wire::QmpError;

/// Why a client call failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a QMP error reply (class and description).
    #[error("QMP error reply: {0}")]
    Qmp(#[from] QmpError),
    /// The connection is gone; every pending call fails with this at once.
    #[error("connection closed: {0}")]
    Disconnected(Arc<str>),
    /// No reply (or no event, greeting, connection) within the time
    /// allowed. A command that timed out may still have been carried out:
    /// its id stays reserved, and its late reply is reported as a
    /// [`Diagnostic::LateReply`](crate::Diagnostic::LateReply).
    #[error("{}", timeout_text(command.as_deref(), *after))]
    Timeout {
        /// The command whose reply did not come, when the wait was for one.
        command: Option<Arc<str>>,
        /// How long was waited.
        after: Duration,
    },
    /// A reply was larger than the configured size limit; it was skipped.
    #[error("reply larger than the limit of {limit} bytes")]
    ReplyTooLarge {
        /// The limit in force (`ClientConfig::max_reply_bytes`).
        limit: usize,
    },
    /// Connecting failed (no socket there, nothing listening, refused).
    #[error("cannot connect to {address}: {cause}")]
    Connect {
        /// The socket path or TCP address.
        address: String,
        /// Why (shown in the message, so not also a `source()`).
        cause: Arc<std::io::Error>,
    },
    /// Opening or using the transport failed.
    #[error("I/O error: {0}")]
    Io(Arc<std::io::Error>),
    /// The server broke the protocol (bad greeting, malformed reply).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Capabilities negotiation failed.
    #[error("capabilities negotiation failed: {0}")]
    Negotiation(QmpError),
    /// `exec-oob` was asked for but the `oob` capability is not enabled.
    #[error("out-of-band execution is not enabled on this connection")]
    OobNotEnabled,
    /// The transport cannot carry file descriptors (only unix sockets can).
    #[error("file descriptors can only be passed over a unix socket")]
    FdPassingUnsupported,
    /// Arguments could not be serialized.
    #[error("(de)serialization failed: {0}")]
    Serde(Arc<serde_json::Error>),
    /// A return value or event data did not match the expected type.
    #[error("{context} does not match its type at {path}: {cause}")]
    Decode {
        /// What was decoded: `the reply to query-status`, `the data of
        /// event STOP`.
        context: String,
        /// Where in it the mismatch is (`.` for the whole, `status`,
        /// `[0].thread-id`).
        path: String,
        /// What did not match.
        cause: Arc<serde_json::Error>,
    },
    /// The caller's arguments are not a JSON object.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// A launched QEMU ended (by itself or by a signal) before `when`.
    #[error(
        "{program} {}{}{}",
        crate::child::describe_status(status),
        when_text(when),
        stderr_text(stderr)
    )]
    ChildExited {
        /// The program.
        program: String,
        /// How it ended.
        status: std::process::ExitStatus,
        /// What it ended before (`the greeting`).
        when: &'static str,
        /// The last lines it wrote to its standard error.
        stderr: Vec<String>,
    },
    /// A job waited for ended with an error.
    #[error("job {id} failed: {error}")]
    JobFailed {
        /// The job's id.
        id: String,
        /// Its error, as `query-jobs` reported it.
        error: String,
    },
    /// A migration waited for failed or was cancelled.
    #[error("migration {status}: {info}")]
    MigrationFailed {
        /// `failed` or `cancelled`.
        status: String,
        /// The final `query-migrate`.
        info: qmp_wire::Value,
    },
    /// Starting or controlling a child process failed.
    #[error("launching {program} failed: {source}")]
    Launch {
        /// The program that was started.
        program: String,
        /// The underlying error.
        source: Arc<std::io::Error>,
    },
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(Arc::new(e))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::Serde(Arc::new(e))
    }
}

/// For callers that work in `std::io` terms.
impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        match e {
            Error::Io(io) => std::io::Error::new(io.kind(), io.to_string()),
            Error::Connect { ref cause, .. } => std::io::Error::new(cause.kind(), e.to_string()),
            other => std::io::Error::other(other),
        }
    }
}

fn when_text(when: &str) -> String {
    if when.is_empty() {
        String::new()
    } else {
        format!(" before {when}")
    }
}

fn stderr_text(lines: &[String]) -> String {
    match lines {
        [] => String::new(),
        lines => format!("; its last output: {}", lines.join(" | ")),
    }
}

fn timeout_text(command: Option<&str>, after: Duration) -> String {
    match command {
        Some(command) => format!("no reply to {command} within {after:?}"),
        None => format!("timed out after {after:?}"),
    }
}

impl Error {
    /// Connecting to `address` failed.
    pub(crate) fn connect(address: impl std::fmt::Display, source: std::io::Error) -> Error {
        Error::Connect {
            address: address.to_string(),
            cause: Arc::new(source),
        }
    }

    /// A wait for something other than a command's reply ran out.
    pub(crate) fn timeout(after: Duration) -> Error {
        Error::Timeout {
            command: None,
            after,
        }
    }

    /// `command`'s reply did not come within `after`.
    pub(crate) fn reply_timeout(command: &str, after: Duration) -> Error {
        Error::Timeout {
            command: Some(command.into()),
            after,
        }
    }

    /// True when a deadline ran out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// The QMP error reply, if this is one.
    pub fn as_qmp(&self) -> Option<&QmpError> {
        match self {
            Error::Qmp(e) => Some(e),
            _ => None,
        }
    }

    /// True when the connection is gone.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, Error::Disconnected(_))
    }

    pub(crate) fn disconnected(reason: impl Into<Arc<str>>) -> Error {
        Error::Disconnected(reason.into())
    }
}

/// Decodes `value` as `T`; a mismatch names `context` and the path to it.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    value: qmp_wire::Value,
    context: impl FnOnce() -> String,
) -> Result<T> {
    serde_path_to_error::deserialize(serde_json::Value::from(value)).map_err(|e| Error::Decode {
        context: context(),
        path: e.path().to_string(),
        cause: Arc::new(e.into_inner()),
    })
}

/// Bytes from the peer as safe text for a message: printable ASCII as it
/// is, everything else (control characters, terminal escapes, invalid
/// UTF-8) escaped, so that a hostile server cannot write to the terminal.
pub(crate) fn printable(bytes: &[u8]) -> String {
    format!("\"{}\"", bytes.escape_ascii())
}

/// A `Result` with the client's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
