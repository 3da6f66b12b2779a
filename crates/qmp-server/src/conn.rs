//! Connections as sessions see them: a byte reader that, on a unix socket,
//! also receives file descriptors (SCM_RIGHTS), and a byte writer.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;

use qmp_wire::io::SocketWriter;

use crate::fds::MAX_FDS_PER_READ;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{unix, TcpStream, UnixStream};

/// The read side of a connection.
pub(crate) enum ConnReader {
    /// A unix socket: bytes and passed file descriptors.
    Unix(unix::OwnedReadHalf),
    /// Any other byte stream.
    Stream(Box<dyn AsyncRead + Unpin + Send>),
}

/// The write side of a connection.
pub(crate) enum ConnWriter {
    /// A socket, writable without `&mut` (so a session can write directly).
    Socket(SocketWriter),
    /// Any other byte stream.
    Stream(Box<dyn AsyncWrite + Unpin + Send>),
}

/// A connection, split for a session.
pub(crate) struct Connection {
    pub(crate) reader: ConnReader,
    pub(crate) writer: ConnWriter,
}

impl Connection {
    /// A unix socket connection (with fd passing).
    pub(crate) fn unix(stream: UnixStream) -> Connection {
        let (read, write) = stream.into_split();
        Connection {
            reader: ConnReader::Unix(read),
            writer: ConnWriter::Socket(SocketWriter::Unix(write)),
        }
    }

    /// A TCP connection.
    pub(crate) fn tcp(stream: TcpStream) -> Connection {
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        Connection {
            reader: ConnReader::Stream(Box::new(read)),
            writer: ConnWriter::Socket(SocketWriter::Tcp(write)),
        }
    }

    /// Any stream (no fd passing).
    pub(crate) fn stream<S>(stream: S) -> Connection
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (read, write) = tokio::io::split(stream);
        Connection {
            reader: ConnReader::Stream(Box::new(read)),
            writer: ConnWriter::Stream(Box::new(write)),
        }
    }

    /// Separate reader and writer streams (stdin and stdout).
    pub(crate) fn pair<R, W>(read: R, write: W) -> Connection
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        Connection {
            reader: ConnReader::Stream(Box::new(read)),
            writer: ConnWriter::Stream(Box::new(write)),
        }
    }
}

impl ConnReader {
    /// Reads bytes into `buf`; passed descriptors are appended to `fds`.
    /// Returns 0 at end of stream.
    pub(crate) async fn read(
        &mut self,
        buf: &mut [u8],
        fds: &mut Vec<OwnedFd>,
    ) -> io::Result<usize> {
        match self {
            ConnReader::Stream(stream) => stream.read(buf).await,
            ConnReader::Unix(half) => {
                let stream: &UnixStream = half.as_ref();
                // Polled as `qmp_wire::io::read` polls a read.
                std::future::poll_fn(|cx| {
                    qmp_wire::io::read::poll_read(stream, cx, || receive(stream, buf, fds))
                })
                .await
            }
        }
    }
}

/// One `recvmsg` with room for [`MAX_FDS_PER_READ`] descriptors, as QEMU's
/// socket channel has; the kernel closes any more that came with it.
fn receive(stream: &UnixStream, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> io::Result<usize> {
    use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_PER_READ))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [io::IoSliceMut::new(buf)];
    let received = recvmsg(
        stream,
        &mut iov,
        &mut control,
        RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT,
    )
    .map_err(io::Error::from)?;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(passed) = message {
            fds.extend(passed);
        }
    }
    Ok(received.bytes)
}
