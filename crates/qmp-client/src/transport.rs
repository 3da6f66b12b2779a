//! Transports: a connected unix or TCP socket, or any byte stream, split
//! into the halves the reader and writer own. Only unix sockets carry
//! file descriptors.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, Interest};
use tokio::net::{unix, TcpStream, ToSocketAddrs, UnixStream};

use crate::fdpass;

/// The reading half of a transport.
pub(crate) type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;

/// The writing half of a transport.
pub(crate) enum WriteHalf {
    /// A unix socket: can pass descriptors.
    Unix(unix::OwnedWriteHalf),
    /// Anything else.
    Other(Box<dyn AsyncWrite + Send + Unpin>),
}

/// Any stream a client can run over.
pub trait Stream: AsyncRead + AsyncWrite + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + 'static> Stream for T {}

/// A connected transport, split.
pub(crate) struct Transport {
    pub(crate) read: ReadHalf,
    pub(crate) write: WriteHalf,
}

impl Transport {
    /// Connects to a unix socket.
    pub(crate) async fn unix(path: &Path) -> io::Result<Transport> {
        Ok(Transport::from_unix(UnixStream::connect(path).await?))
    }

    /// Connects over TCP.
    pub(crate) async fn tcp(addr: impl ToSocketAddrs) -> io::Result<Transport> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Transport::from_stream(stream))
    }

    /// A connected unix socket (descriptors can be passed).
    pub(crate) fn from_unix(stream: UnixStream) -> Transport {
        let (read, write) = stream.into_split();
        Transport {
            read: Box::new(read),
            write: WriteHalf::Unix(write),
        }
    }

    /// Any stream (no descriptor passing).
    pub(crate) fn from_stream<S: Stream>(stream: S) -> Transport {
        let (read, write) = tokio::io::split(stream);
        Transport {
            read: Box::new(read),
            write: WriteHalf::Other(Box::new(write)),
        }
    }
}

impl WriteHalf {
    /// True when descriptors can be passed.
    pub(crate) fn can_pass_fds(&self) -> bool {
        matches!(self, WriteHalf::Unix(_))
    }

    /// Writes all of `bytes`.
    pub(crate) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            WriteHalf::Unix(w) => w.write_all(bytes).await,
            WriteHalf::Other(w) => {
                w.write_all(bytes).await?;
                w.flush().await
            }
        }
    }

    /// Writes all of `bytes` with `fds` attached to the first part.
    pub(crate) async fn write_with_fds(&mut self, bytes: &[u8], fds: &[OwnedFd]) -> io::Result<()> {
        if fds.is_empty() {
            return self.write_all(bytes).await;
        }
        let WriteHalf::Unix(half) = self else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "file descriptors need a unix socket",
            ));
        };
        let stream: &UnixStream = half.as_ref();
        let sent = stream
            .async_io(Interest::WRITABLE, || {
                fdpass::send_with_fds(stream.as_fd(), bytes, fds)
            })
            .await?;
        half.write_all(bytes.get(sent..).unwrap_or_default()).await
    }

    /// Shuts the writing side down (best effort).
    pub(crate) async fn shutdown(&mut self) {
        let _ = match self {
            WriteHalf::Unix(w) => w.shutdown().await,
            WriteHalf::Other(w) => w.shutdown().await,
        };
    }
}
