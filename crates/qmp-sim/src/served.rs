//! A server on a fresh unix socket in a private folder, for the library
//! types tests start ([`Simulator`](crate::Simulator),
//! [`Replay`](crate::replay::Replay)).

use std::path::{Path, PathBuf};

use qmp_server::Server;

use crate::api::ApiError;

/// A server listening on its own socket until stopped or dropped.
pub(crate) struct Served {
    server: Server,
    socket: PathBuf,
    _dir: tempfile::TempDir,
    listener: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    /// Serves `server` on `qmp.sock` in a new folder named after `prefix`
    /// (inside a tokio runtime).
    pub(crate) fn start(server: Server, prefix: &str) -> Result<Served, ApiError> {
        let io = |error: std::io::Error| ApiError::Read {
            path: format!("the socket of {prefix}"),
            error,
        };
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .map_err(io)?;
        let socket = dir.path().join("qmp.sock");
        let listener = Server::bind_unix(&socket).map_err(io)?;
        let serving = server.clone();
        let listener = tokio::spawn(async move { serving.serve_unix_listener(listener).await });
        Ok(Served {
            server,
            socket,
            _dir: dir,
            listener,
        })
    }

    pub(crate) fn socket(&self) -> &Path {
        &self.socket
    }

    pub(crate) fn server(&self) -> &Server {
        &self.server
    }

    /// Stops listening and shuts the server down (clients are
    /// disconnected after their running commands finish).
    pub(crate) async fn stop(self) {
        self.listener.abort();
        self.server.shutdown().await;
    }
}
