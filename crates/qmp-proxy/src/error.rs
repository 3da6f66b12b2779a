//! The proxy's errors: bad configuration, addresses that cannot be bound,
//! an upstream that cannot be reached.

use std::path::PathBuf;

use crate::listen::ListenAddress;

/// What can go wrong starting or running a proxy.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A malformed listen or upstream address.
    #[error("bad address: {0}")]
    Address(String),
    /// A listener could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(ListenAddress, #[source] std::io::Error),
    /// The configuration file could not be read or is malformed.
    #[error("{}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the place in the file.
        message: String,
    },
    /// The audit log could not be opened or written.
    #[error("audit log {}: {source}", path.display())]
    Audit {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The recording could not be created.
    #[error("recording {}: {source}", path.display())]
    Record {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `--takeover` found nothing to take over.
    #[error("cannot take over {}: {message}", path.display())]
    Takeover {
        /// The socket path.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The upstream monitor could not be reached or negotiated with.
    #[error("upstream: {0}")]
    Upstream(#[from] qmp_client::Error),
    /// No listener was given.
    #[error("no listener: give at least one --listen (or a listener in the configuration)")]
    NoListener,
}

/// A proxy result.
pub type Result<T> = std::result::Result<T, Error>;
