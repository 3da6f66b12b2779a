//! One non-blocking read of a tokio socket, polled so that a busy-polling
//! reader sees input the moment it arrives and a parked one costs a single
//! failed read per wait.
//!
//! When the runtime already reports the socket readable, the read goes
//! through tokio (`try_io`), so that a read that finds nothing clears that
//! readiness. When it does not, the read is tried on the socket itself
//! anyway: on a multi-thread runtime the I/O driver may be held by a parked
//! worker that would report readiness only after it woke up. Either way the
//! waker is registered before the last read, so input that comes after it
//! wakes the reader.

use std::io;
use std::task::{Context, Poll};

use tokio::io::Interest;
use tokio::net::{TcpStream, UnixStream};

/// A socket whose read readiness tokio tracks.
pub trait ReadReadiness {
    /// See `UnixStream::poll_read_ready`.
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// See `UnixStream::try_io`.
    fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R>;
}

impl ReadReadiness for UnixStream {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        UnixStream::poll_read_ready(self, cx)
    }

    fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        UnixStream::try_io(self, interest, f)
    }
}

impl ReadReadiness for TcpStream {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        TcpStream::poll_read_ready(self, cx)
    }

    fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        TcpStream::try_io(self, interest, f)
    }
}

/// Polls `receive`, a non-blocking read of `socket` (see the module
/// documentation); `Pending` after one read that found nothing.
pub fn poll_read<S, R>(
    socket: &S,
    cx: &mut Context<'_>,
    mut receive: impl FnMut() -> io::Result<R>,
) -> Poll<io::Result<R>>
where
    S: ReadReadiness,
{
    let mut tried = false;
    loop {
        match socket.poll_read_ready(cx) {
            Poll::Ready(Ok(())) => match socket.try_io(Interest::READABLE, &mut receive) {
                // The readiness was stale and is now cleared: poll again,
                // to register the waker.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => tried = true,
                done => return Poll::Ready(done),
            },
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending if tried => return Poll::Pending,
            Poll::Pending => {
                return match receive() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
                    done => Poll::Ready(done),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// One read of `stream` as `poll_read` polls it.
    async fn read(stream: &UnixStream, buf: &mut [u8]) -> usize {
        std::future::poll_fn(|cx| poll_read(stream, cx, || stream.try_read(buf)))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn reads_what_is_there_and_waits_for_what_comes() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let a = UnixStream::from_std(a).unwrap();
        let mut b = b;
        b.write_all(b"one").unwrap();
        let mut buf = [0u8; 16];
        let n = read(&a, &mut buf).await;
        assert_eq!(&buf[..n], b"one");
        let writer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            b.write_all(b"two").unwrap();
            b
        });
        let n = read(&a, &mut buf).await;
        assert_eq!(&buf[..n], b"two");
        drop(writer.join().unwrap());
        let n = read(&a, &mut buf).await;
        assert_eq!(n, 0, "the end of the stream");
    }
}
