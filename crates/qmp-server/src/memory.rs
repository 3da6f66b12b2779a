//! Giving memory back once many sessions have closed. glibc's allocator
//! keeps what ten thousand closed sessions freed in its arenas, so the
//! process would stay at its peak size; once a batch of sessions has ended
//! (and their tasks have finished) the server asks it to return the free
//! pages to the system.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Sessions that must end before memory is given back (so that churn of a
/// few sessions never costs a walk over the allocator's arenas).
const SESSIONS_PER_TRIM: usize = 64;

/// How long after the batch the memory is given back: the sessions ending
/// together all join one request, after their tasks have freed their
/// memory.
const TRIM_DELAY: Duration = Duration::from_millis(250);

/// Counts ended sessions and gives freed memory back now and then.
#[derive(Debug, Default)]
pub(crate) struct Trimmer {
    ended: AtomicUsize,
    scheduled: AtomicBool,
}

impl Trimmer {
    /// A session ended: after [`SESSIONS_PER_TRIM`] of them, memory is
    /// given back [`TRIM_DELAY`] later (at most once per delay).
    pub(crate) fn session_ended(self: &Arc<Self>) {
        let ended = self.ended.fetch_add(1, Ordering::Relaxed) + 1;
        if ended < SESSIONS_PER_TRIM || self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let trimmer = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(TRIM_DELAY).await;
            trimmer.ended.store(0, Ordering::Relaxed);
            trimmer.scheduled.store(false, Ordering::Release);
            give_back_free_memory();
        });
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
