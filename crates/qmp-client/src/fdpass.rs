//! File descriptor passing over unix sockets (SCM_RIGHTS).
//!
//! QEMU's socket chardev keeps the descriptors that arrive with a message
//! and hands them to the command it is reading (`getfd`, `add-fd`), so they
//! travel attached to the first byte of that command. This has nothing to do
//! with the `oob` capability.

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};

/// QEMU's limit on descriptors received with one message (`TCP_MAX_FDS`).
pub const MAX_FDS_PER_MESSAGE: usize = 16;

/// Sends (a prefix of) `bytes` with `fds` attached; returns the bytes sent.
/// Non-blocking sockets report `WouldBlock` as usual.
pub(crate) fn send_with_fds(
    socket: BorrowedFd<'_>,
    bytes: &[u8],
    fds: &[OwnedFd],
) -> io::Result<usize> {
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
    let mut space =
        vec![MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(borrowed.len()))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&borrowed)) {
        return Err(io::Error::other(
            "descriptors do not fit the control buffer",
        ));
    }
    Ok(sendmsg(
        socket,
        &[IoSlice::new(bytes)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?)
}
