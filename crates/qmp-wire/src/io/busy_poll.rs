//! Adaptive busy-polling before a read parks, for the client's reader and
//! the server's sessions alike.
//!
//! A reader that parks as soon as its socket is empty pays a full
//! scheduler wake-up when the next message comes, which on a virtual
//! machine can cost more than the whole round trip. [`BusyPoll::wait`]
//! keeps polling the read (yielding to the runtime between tries, so other
//! tasks still run) for up to a *window* before letting the runtime park.
//! The window adapts the way QEMU's `poll-max-ns` and KVM's halt polling
//! do: it grows (up to the configured maximum) when a parked wait turns out
//! to have been shorter than the maximum, and shrinks (down to zero) when a
//! parked wait was longer. Against a slow peer, or an idle one, polling
//! therefore stops after a few waits and costs nothing; against a fast one
//! it stays on and saves the wake-up.
//!
//! Between tries the poller first offers its core to any other thread
//! ready to run there (`sched_yield`): on a machine with fewer cores than
//! busy threads, the peer whose reply it waits for may need that very core,
//! and a poller that kept it would delay the reply it is polling for. Then
//! it yields with `tokio::task::yield_now`, which tokio
//! treats specially: the runtime polls its I/O driver without blocking
//! before it runs the task again, so readiness is seen at once (a plain
//! self-wake would only poll the driver every few dozen tasks).

use std::future::Future;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::{Duration, Instant};

/// The default maximum window.
pub const DEFAULT_MAX_WINDOW: Duration = Duration::from_micros(100);

/// The window a parked wait grows from when polling was off.
const GROW_START: Duration = Duration::from_micros(10);

/// The adaptive polling window of one reader; see the module documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusyPoll {
    max: Duration,
    window: Duration,
}

impl Default for BusyPoll {
    fn default() -> BusyPoll {
        BusyPoll::new(DEFAULT_MAX_WINDOW)
    }
}

impl BusyPoll {
    /// A window that adapts between zero and `max` (zero turns polling
    /// off). It starts at `max`.
    pub fn new(max: Duration) -> BusyPoll {
        BusyPoll { max, window: max }
    }

    /// Polling turned off: every wait parks at once.
    pub fn off() -> BusyPoll {
        BusyPoll::new(Duration::ZERO)
    }

    /// How long the next wait will poll before it parks.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The largest window.
    pub fn max_window(&self) -> Duration {
        self.max
    }

    /// Awaits `future`, polling it for up to the current window before
    /// leaving it to the waker alone, and adapts the window to how long the
    /// wait took. Dropping the returned future drops `future` and leaves
    /// the window as it was.
    pub async fn wait<F: Future>(&mut self, future: F) -> F::Output {
        let mut future = pin!(future);
        if let Poll::Ready(output) = poll_once(future.as_mut()).await {
            return output;
        }
        if self.max.is_zero() {
            return future.await;
        }
        let started = Instant::now();
        while started.elapsed() < self.window {
            // The core goes to any other thread ready to run on it first:
            // polling must not delay the peer it is waiting for.
            std::thread::yield_now();
            tokio::task::yield_now().await;
            if let Poll::Ready(output) = poll_once(future.as_mut()).await {
                return output;
            }
        }
        let output = future.await;
        self.adapt(started.elapsed());
        output
    }

    /// Adapts the window after a wait that parked and took `waited`.
    fn adapt(&mut self, waited: Duration) {
        self.window = if waited <= self.max {
            (self.window * 2).max(GROW_START).min(self.max)
        } else if self.window / 2 < GROW_START {
            Duration::ZERO
        } else {
            self.window / 2
        };
    }
}

/// Polls `future` once, without waiting.
async fn poll_once<F: Future>(mut future: Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(us: u64) -> Duration {
        Duration::from_micros(us)
    }

    #[test]
    fn short_parked_waits_grow_the_window_up_to_the_maximum() {
        let mut poll = BusyPoll::new(micros(100));
        poll.window = Duration::ZERO;
        poll.adapt(micros(60));
        assert_eq!(poll.window(), GROW_START);
        for _ in 0..10 {
            poll.adapt(micros(60));
        }
        assert_eq!(poll.window(), micros(100));
    }

    #[test]
    fn long_parked_waits_shrink_the_window_to_zero() {
        let mut poll = BusyPoll::new(micros(100));
        poll.adapt(micros(5_000));
        assert_eq!(poll.window(), micros(50));
        for _ in 0..4 {
            poll.adapt(micros(5_000));
        }
        assert_eq!(poll.window(), Duration::ZERO);
    }

    #[test]
    fn off_never_polls() {
        let mut poll = BusyPoll::off();
        poll.adapt(Duration::ZERO);
        assert_eq!(poll.window(), Duration::ZERO);
    }
}

#[cfg(test)]
mod runtime_tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime")
    }

    #[test]
    fn a_ready_future_is_returned_without_touching_the_window() {
        let mut poll = BusyPoll::new(Duration::from_micros(100));
        let out = runtime().block_on(poll.wait(async { 7 }));
        assert_eq!(out, 7);
        assert_eq!(poll.window(), Duration::from_micros(100));
    }

    #[test]
    fn other_tasks_run_while_it_polls_and_their_answer_is_caught() {
        let mut poll = BusyPoll::new(Duration::from_secs(5));
        let rt = runtime();
        let started = Instant::now();
        let out = rt.block_on(async {
            let (tx, rx) = tokio::sync::oneshot::channel();
            // A task on the same thread: it only runs if polling yields.
            tokio::spawn(async move { tx.send(42).ok() });
            poll.wait(rx).await
        });
        assert_eq!(out, Ok(42));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(
            poll.window(),
            Duration::from_secs(5),
            "caught while polling"
        );
    }

    #[test]
    fn a_wait_longer_than_the_maximum_shrinks_the_window() {
        let mut poll = BusyPoll::new(Duration::from_micros(100));
        runtime().block_on(async {
            poll.wait(tokio::time::sleep(Duration::from_millis(5)))
                .await;
        });
        assert_eq!(poll.window(), Duration::from_micros(50));
    }
}
