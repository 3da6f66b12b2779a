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
    /// No reply (or no event) within the time allowed.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// A reply was larger than the configured size limit; it was skipped.
    #[error("reply larger than the limit of {limit} bytes")]
    ReplyTooLarge {
        /// The limit in force (`ClientConfig::max_reply_bytes`).
        limit: usize,
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
    /// Arguments could not be serialized, or a return value or event data
    /// did not match the expected type.
    #[error("(de)serialization failed: {0}")]
    Serde(Arc<serde_json::Error>),
    /// The caller's arguments are not a JSON object.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
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
            other => std::io::Error::other(other),
        }
    }
}

impl Error {
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

/// Bytes from the peer as safe text for a message: printable ASCII as it
/// is, everything else (control characters, terminal escapes, invalid
/// UTF-8) escaped, so that a hostile server cannot write to the terminal.
pub(crate) fn printable(bytes: &[u8]) -> String {
    format!("\"{}\"", bytes.escape_ascii())
}

/// A `Result` with the client's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
