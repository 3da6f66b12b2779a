//! Sending file descriptors over a unix socket (SCM_RIGHTS), as clients
//! of `getfd` and `add-fd` do.

use std::io::IoSlice;
use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;

/// Sends `bytes` with `fds` attached, in one `sendmsg`.
pub fn send_with_fds(
    stream: &UnixStream,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
) -> std::io::Result<()> {
    let mut space =
        vec![std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
    let mut control = rustix::net::SendAncillaryBuffer::new(&mut space);
    if !control.push(rustix::net::SendAncillaryMessage::ScmRights(fds)) {
        return Err(std::io::Error::other(
            "too many descriptors for one message",
        ));
    }
    rustix::net::sendmsg(
        stream,
        &[IoSlice::new(bytes)],
        &mut control,
        rustix::net::SendFlags::empty(),
    )?;
    Ok(())
}
