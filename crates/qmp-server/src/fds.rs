//! File descriptors passed with SCM_RIGHTS, held as QEMU holds them: a
//! connection keeps only the descriptors of the latest read that carried
//! any (at most [`MAX_FDS_PER_READ`]), a claim takes the first of them and
//! closes the rest, names given by `getfd` belong to the monitor (they
//! outlive a client that reconnects), and a server-wide budget bounds how
//! many unclaimed descriptors all connections together may hold.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Most file descriptors taken from one read (QEMU's `SOCKET_MAX_FDS`);
/// the kernel closes any beyond these before they reach the process.
pub const MAX_FDS_PER_READ: usize = 16;

/// The default [`ServerConfig::max_unclaimed_fds`](crate::ServerConfig):
/// half of the process's descriptor limit, so that clients passing
/// descriptors they never claim cannot starve the listener of the
/// descriptors it needs to accept others.
pub fn default_unclaimed_fd_budget() -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    usize::try_from(limit / 2)
        .unwrap_or(usize::MAX)
        .max(MAX_FDS_PER_READ)
}

/// How many unclaimed descriptors the server holds, against its limit.
#[derive(Debug)]
pub(crate) struct FdBudget {
    held: AtomicUsize,
    limit: usize,
}

impl FdBudget {
    /// A budget of `limit` descriptors.
    pub(crate) fn new(limit: usize) -> Arc<FdBudget> {
        Arc::new(FdBudget {
            held: AtomicUsize::new(0),
            limit,
        })
    }

    /// Reserves room for one descriptor; false when the budget is spent.
    fn reserve(&self) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < self.limit).then_some(held + 1)
            })
            .is_ok()
    }

    fn release(&self) {
        self.held.fetch_sub(1, Ordering::AcqRel);
    }

    /// Unclaimed descriptors held now, by all connections.
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }
}

/// A received descriptor counted against the budget until it is claimed
/// or closed.
#[derive(Debug)]
struct HeldFd {
    fd: Option<OwnedFd>,
    budget: Arc<FdBudget>,
}

impl HeldFd {
    fn claim(mut self) -> Option<OwnedFd> {
        self.fd.take()
    }
}

impl Drop for HeldFd {
    fn drop(&mut self) {
        self.budget.release();
    }
}

/// The descriptors one connection received and has not claimed.
#[derive(Debug, Default)]
pub(crate) struct ReceivedFds {
    latest: Vec<HeldFd>,
}

impl ReceivedFds {
    /// Replaces what is held with the descriptors of a new read (the old
    /// ones are closed), as far as the budget allows; returns how many were
    /// closed at once for want of budget.
    pub(crate) fn replace(&mut self, fds: Vec<OwnedFd>, budget: &Arc<FdBudget>) -> usize {
        self.latest.clear();
        let mut refused = 0;
        for fd in fds.into_iter().take(MAX_FDS_PER_READ) {
            // QEMU makes received descriptors blocking: O_NONBLOCK travels
            // with the open file, and the sender may have set it.
            let _ = rustix::io::ioctl_fionbio(&fd, false);
            if budget.reserve() {
                self.latest.push(HeldFd {
                    fd: Some(fd),
                    budget: Arc::clone(budget),
                });
            } else {
                refused += 1;
            }
        }
        refused
    }

    /// Takes the first held descriptor and closes the others (QEMU's
    /// `qemu_chr_fe_get_msgfd`).
    pub(crate) fn claim(&mut self) -> Option<OwnedFd> {
        let mut held = std::mem::take(&mut self.latest).into_iter();
        held.next().and_then(HeldFd::claim)
    }

    /// Takes every held descriptor.
    pub(crate) fn take_all(&mut self) -> Vec<OwnedFd> {
        std::mem::take(&mut self.latest)
            .into_iter()
            .filter_map(HeldFd::claim)
            .collect()
    }

    /// How many are held.
    pub(crate) fn len(&self) -> usize {
        self.latest.len()
    }
}

/// The descriptors a monitor holds by name (`getfd`): shared by every
/// session of one listener, closed when the monitor goes away.
#[derive(Debug, Default)]
pub(crate) struct NamedFds {
    named: Mutex<BTreeMap<String, OwnedFd>>,
}

impl NamedFds {
    /// Stores `fd` under `name`; returns the descriptor it replaces.
    pub(crate) fn insert(&self, name: &str, fd: OwnedFd) -> Option<OwnedFd> {
        self.named.lock().ok()?.insert(name.to_owned(), fd)
    }

    /// Removes and returns the descriptor named `name`.
    pub(crate) fn remove(&self, name: &str) -> Option<OwnedFd> {
        self.named.lock().ok()?.remove(name)
    }

    /// The names in use.
    pub(crate) fn names(&self) -> Vec<String> {
        self.named
            .lock()
            .map(|n| n.keys().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe_fds(n: usize) -> Vec<OwnedFd> {
        (0..n)
            .flat_map(|_| {
                let (r, w) = rustix::pipe::pipe().unwrap();
                [r, w]
            })
            .take(n)
            .collect()
    }

    #[test]
    fn a_new_read_replaces_what_was_held_and_a_claim_closes_the_rest() {
        let budget = FdBudget::new(100);
        let mut received = ReceivedFds::default();
        assert_eq!(received.replace(pipe_fds(20), &budget), 0);
        assert_eq!(received.len(), MAX_FDS_PER_READ);
        assert_eq!(budget.held(), MAX_FDS_PER_READ);
        received.replace(pipe_fds(3), &budget);
        assert_eq!((received.len(), budget.held()), (3, 3));
        let claimed = received.claim();
        assert!(claimed.is_some());
        assert_eq!((received.len(), budget.held()), (0, 0));
        assert!(received.claim().is_none());
    }

    #[test]
    fn descriptors_beyond_the_budget_are_closed_at_once() {
        let budget = FdBudget::new(5);
        let mut first = ReceivedFds::default();
        let mut second = ReceivedFds::default();
        assert_eq!(first.replace(pipe_fds(4), &budget), 0);
        assert_eq!(second.replace(pipe_fds(4), &budget), 3);
        assert_eq!(budget.held(), 5);
        drop(first);
        assert_eq!(budget.held(), 1);
    }
}
