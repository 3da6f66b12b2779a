//! Transports: a connected unix or TCP socket, or any byte stream, split
//! into the halves the reader and writer own. Only unix sockets carry
//! file descriptors.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut, BytesMut};
use qmp_wire::io::read::poll_read;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, Interest};
use tokio::net::{tcp, unix, TcpStream, ToSocketAddrs, UnixStream};
use tokio_util::io::poll_read_buf;

pub(crate) use qmp_wire::io::SocketWriter;

use crate::fdpass;

/// The room a read makes in its buffer before reading.
const READ_CHUNK: usize = 16 * 1024;

/// The reading half of a transport.
pub(crate) enum ReadHalf {
    /// A unix socket.
    Unix(unix::OwnedReadHalf),
    /// A TCP socket.
    Tcp(tcp::OwnedReadHalf),
    /// Anything else.
    Other(Box<dyn AsyncRead + Send + Unpin>),
}

/// The writing half of a transport.
pub(crate) enum WriteHalf {
    /// A unix or TCP socket: writable without a task (see [`SocketWriter`]).
    Socket(SocketWriter),
    /// Anything else.
    Other(Box<dyn AsyncWrite + Send + Unpin>),
}

/// Any byte stream a client can run over (a socket, a pipe pair, an
/// in-memory duplex); not to be confused with an [`EventStream`](crate::EventStream),
/// which is a `futures` stream of events.
pub trait ByteStream: AsyncRead + AsyncWrite + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + 'static> ByteStream for T {}

/// A connected transport, split.
pub(crate) struct Transport {
    pub(crate) read: ReadHalf,
    pub(crate) write: WriteHalf,
}

impl ReadHalf {
    /// Reads what is available into `buf`, first making room for at
    /// least [`READ_CHUNK`] bytes; returns 0 at the end of the stream.
    /// A socket is read as [`qmp_wire::io::read`] polls a read, so that a
    /// reader that busy-polls sees a reply the moment it arrives.
    pub(crate) async fn read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        buf.reserve(READ_CHUNK);
        std::future::poll_fn(|cx| self.poll_read_buf(cx, buf)).await
    }

    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        match self {
            ReadHalf::Unix(half) => {
                let socket: &UnixStream = half.as_ref();
                poll_read(socket, cx, || receive_now(socket, buf))
            }
            ReadHalf::Tcp(half) => {
                let socket: &TcpStream = half.as_ref();
                poll_read(socket, cx, || receive_now(socket, buf))
            }
            ReadHalf::Other(stream) => poll_read_buf(Pin::new(stream), cx, buf),
        }
    }
}

/// One non-blocking `recv` into the spare capacity of `buf`.
fn receive_now(socket: impl AsFd, buf: &mut BytesMut) -> io::Result<usize> {
    let ((received, _), _) = rustix::net::recv(
        socket,
        buf.spare_capacity_mut(),
        rustix::net::RecvFlags::DONTWAIT,
    )?;
    let n = received.len();
    // SAFETY: `recv` initialised the first `n` bytes of the spare capacity.
    unsafe { buf.advance_mut(n) };
    Ok(n)
}

impl Transport {
    /// Connects to a unix socket; a failure names the path.
    pub(crate) async fn unix(path: &Path) -> crate::Result<Transport> {
        match UnixStream::connect(path).await {
            Ok(stream) => Ok(Transport::from_unix(stream)),
            Err(e) => Err(crate::Error::connect(path.display(), e)),
        }
    }

    /// Connects over TCP; a failure names the address.
    pub(crate) async fn tcp(
        addr: impl ToSocketAddrs + std::fmt::Debug,
    ) -> crate::Result<Transport> {
        let described = format!("{addr:?}");
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| crate::Error::connect(described.trim_matches('"'), e))?;
        Transport::from_tcp(stream)
    }

    /// A connected TCP socket (Nagle off).
    pub(crate) fn from_tcp(stream: TcpStream) -> crate::Result<Transport> {
        stream.set_nodelay(true)?;
        let (read, write) = stream.into_split();
        Ok(Transport {
            read: ReadHalf::Tcp(read),
            write: WriteHalf::Socket(SocketWriter::Tcp(write)),
        })
    }

    /// A connected unix socket (descriptors can be passed).
    pub(crate) fn from_unix(stream: UnixStream) -> Transport {
        let (read, write) = stream.into_split();
        Transport {
            read: ReadHalf::Unix(read),
            write: WriteHalf::Socket(SocketWriter::Unix(write)),
        }
    }

    /// Any stream (no descriptor passing).
    pub(crate) fn from_stream<S: ByteStream>(stream: S) -> Transport {
        let (read, write) = tokio::io::split(stream);
        Transport {
            read: ReadHalf::Other(Box::new(read)),
            write: WriteHalf::Other(Box::new(write)),
        }
    }
}

impl WriteHalf {
    /// True when descriptors can be passed.
    pub(crate) fn can_pass_fds(&self) -> bool {
        matches!(self, WriteHalf::Socket(SocketWriter::Unix(_)))
    }

    /// Writes all of `bytes`.
    pub(crate) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            WriteHalf::Socket(s) => s.write_all(bytes).await,
            WriteHalf::Other(w) => {
                w.write_all(bytes).await?;
                w.flush().await
            }
        }
    }

    /// Writes all of `bytes` with `fds` attached to the first part.
    pub(crate) async fn write_with_fds(&mut self, bytes: &[u8], fds: &[OwnedFd]) -> io::Result<()> {
        match self {
            WriteHalf::Socket(s) => write_with_fds(s, bytes, fds).await,
            WriteHalf::Other(_) if fds.is_empty() => self.write_all(bytes).await,
            WriteHalf::Other(_) => Err(no_fd_passing()),
        }
    }

    /// Shuts the writing side down (best effort).
    pub(crate) async fn shutdown(&mut self) {
        match self {
            WriteHalf::Socket(s) => shutdown(s),
            WriteHalf::Other(w) => {
                let _ = w.shutdown().await;
            }
        }
    }
}

fn no_fd_passing() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "file descriptors need a unix socket",
    )
}

/// Writes all of `bytes` through `socket` with `fds` attached to the first
/// part (a unix socket only).
pub(crate) async fn write_with_fds(
    socket: &SocketWriter,
    bytes: &[u8],
    fds: &[OwnedFd],
) -> io::Result<()> {
    if fds.is_empty() {
        return socket.write_all(bytes).await;
    }
    let stream = socket.unix().ok_or_else(no_fd_passing)?;
    let sent = stream
        .async_io(Interest::WRITABLE, || {
            fdpass::send_with_fds(stream.as_fd(), bytes, fds)
        })
        .await?;
    socket
        .write_all(bytes.get(sent..).unwrap_or_default())
        .await
}

/// Shuts the writing direction of `socket` down (best effort).
pub(crate) fn shutdown(socket: &SocketWriter) {
    let _ = rustix::net::shutdown(socket, rustix::net::Shutdown::Write);
}
