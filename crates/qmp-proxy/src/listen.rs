//! Where the proxy listens: `unix:PATH` (mode 0600) or `tcp:[HOST:]PORT`
//! (loopback unless a host is given), parsed and bound.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use tokio::net::{TcpListener, UnixListener};

use crate::error::{Error, Result};

/// A downstream address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ListenAddress {
    /// A unix socket, created with mode 0600.
    Unix(PathBuf),
    /// A TCP address.
    Tcp(SocketAddr),
}

impl FromStr for ListenAddress {
    type Err = Error;

    /// `unix:PATH`, `tcp:HOST:PORT`, `tcp:PORT` or `tcp::PORT` (loopback),
    /// or a bare path.
    fn from_str(text: &str) -> Result<ListenAddress> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(Error::Address(format!("'{text}': no socket path")));
            }
            return Ok(ListenAddress::Unix(path.into()));
        }
        if let Some(rest) = text.strip_prefix("tcp:") {
            let rest = rest.strip_prefix(':').unwrap_or(rest);
            let with_host = if rest.contains(':') {
                rest.to_string()
            } else {
                format!("127.0.0.1:{rest}")
            };
            return with_host.parse().map(ListenAddress::Tcp).map_err(|_| {
                Error::Address(format!(
                    "'{text}': expected tcp:[HOST:]PORT with a numeric host"
                ))
            });
        }
        if text.is_empty() {
            return Err(Error::Address("an empty listen address".into()));
        }
        Ok(ListenAddress::Unix(text.into()))
    }
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddress::Unix(path) => write!(f, "unix:{}", path.display()),
            ListenAddress::Tcp(addr) => write!(f, "tcp:{addr}"),
        }
    }
}

/// A bound listener.
#[derive(Debug)]
pub(crate) enum Listener {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
}

impl Listener {
    /// Binds `address` (a stale unix socket file is replaced only when
    /// nothing listens on it).
    pub(crate) async fn bind(address: &ListenAddress) -> Result<Listener> {
        match address {
            ListenAddress::Unix(path) => qmp_server::Server::bind_unix(path)
                .map(|l| Listener::Unix(l, path.clone()))
                .map_err(|e| Error::Bind(address.clone(), e)),
            ListenAddress::Tcp(addr) => TcpListener::bind(addr)
                .await
                .map(Listener::Tcp)
                .map_err(|e| Error::Bind(address.clone(), e)),
        }
    }

    /// The next connection.
    pub(crate) async fn accept(&self) -> std::io::Result<Accepted> {
        match self {
            Listener::Unix(l, _) => l.accept().await.map(|(s, _)| Accepted::Unix(s)),
            Listener::Tcp(l) => l.accept().await.map(|(s, _)| Accepted::Tcp(s)),
        }
    }

    /// The address actually bound (the port chosen for `tcp:...:0`).
    pub(crate) fn local_address(&self) -> Option<ListenAddress> {
        match self {
            Listener::Unix(_, path) => Some(ListenAddress::Unix(path.clone())),
            Listener::Tcp(l) => l.local_addr().ok().map(ListenAddress::Tcp),
        }
    }
}

/// An accepted connection.
pub(crate) enum Accepted {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses() {
        assert_eq!(
            "unix:/tmp/a.sock".parse::<ListenAddress>().ok(),
            Some(ListenAddress::Unix("/tmp/a.sock".into()))
        );
        assert_eq!(
            "tcp:4444".parse::<ListenAddress>().ok(),
            Some(ListenAddress::Tcp("127.0.0.1:4444".parse().unwrap()))
        );
        assert_eq!(
            "tcp::0"
                .parse::<ListenAddress>()
                .map(|a| a.to_string())
                .ok(),
            Some("tcp:127.0.0.1:0".to_string())
        );
        assert_eq!(
            "tcp:0.0.0.0:5"
                .parse::<ListenAddress>()
                .map(|a| a.to_string())
                .ok(),
            Some("tcp:0.0.0.0:5".to_string())
        );
        assert!("tcp:host.example:5".parse::<ListenAddress>().is_err());
        assert!("unix:".parse::<ListenAddress>().is_err());
    }
}
