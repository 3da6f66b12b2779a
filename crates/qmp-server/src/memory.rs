//! Giving memory back once many sessions have closed. glibc's allocator
//! keeps what ten thousand closed sessions freed in its arenas, so the
//! process would stay at its peak size; after a batch of sessions ends the
//! server asks it to return the free pages to the system.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Sessions that end between two requests to give memory back (so that
/// the request, which walks the allocator's arenas, stays rare).
const SESSIONS_PER_TRIM: usize = 1024;

/// Counts ended sessions and gives freed memory back now and then.
#[derive(Debug, Default)]
pub(crate) struct Trimmer {
    ended: AtomicUsize,
}

impl Trimmer {
    /// A session ended; `active` are still running. Memory is given back
    /// after every [`SESSIONS_PER_TRIM`] ended sessions, and when the last
    /// session of a busy period ends.
    pub(crate) fn session_ended(&self, active: usize) {
        let ended = self.ended.fetch_add(1, Ordering::Relaxed) + 1;
        if ended >= SESSIONS_PER_TRIM || (active == 0 && ended >= SESSIONS_PER_TRIM / 16) {
            self.ended.store(0, Ordering::Relaxed);
            give_back_free_memory();
        }
    }
}

/// Returns the allocator's free pages to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn give_back_free_memory() {
    // SAFETY: malloc_trim takes no pointers and may be called at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back_free_memory() {}
