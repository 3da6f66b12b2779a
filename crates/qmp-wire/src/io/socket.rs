//! The write half of a unix or TCP socket. Every method takes `&self`, so a
//! task can try a write straight from where it is while another waits for
//! the socket to drain.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use tokio::net::{tcp, unix, TcpStream, UnixStream};

/// See the module documentation.
#[derive(Debug)]
pub enum SocketWriter {
    /// A unix socket (descriptors can be passed through it).
    Unix(unix::OwnedWriteHalf),
    /// A TCP socket.
    Tcp(tcp::OwnedWriteHalf),
}

impl SocketWriter {
    /// Writes what the socket takes now, without waiting; `WouldBlock`
    /// when it takes nothing.
    pub fn try_write(&self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            SocketWriter::Unix(w) => w.try_write(bytes),
            SocketWriter::Tcp(w) => w.try_write(bytes),
        }
    }

    /// Waits until the socket may take more.
    pub async fn writable(&self) -> io::Result<()> {
        match self {
            SocketWriter::Unix(w) => w.writable().await,
            SocketWriter::Tcp(w) => w.writable().await,
        }
    }

    /// Writes all of `bytes`, waiting for room as needed.
    pub async fn write_all(&self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            self.writable().await?;
            match self.try_write(bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The unix socket, when this is one.
    pub fn unix(&self) -> Option<&UnixStream> {
        match self {
            SocketWriter::Unix(w) => Some(w.as_ref()),
            SocketWriter::Tcp(_) => None,
        }
    }
}

impl AsFd for SocketWriter {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            SocketWriter::Unix(w) => AsRef::<UnixStream>::as_ref(w).as_fd(),
            SocketWriter::Tcp(w) => AsRef::<TcpStream>::as_ref(w).as_fd(),
        }
    }
}
