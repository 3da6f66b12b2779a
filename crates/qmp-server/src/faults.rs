//! Faults a server can inject to test its clients: output cut into small
//! writes, replies held back by a delay and a seeded jitter, events
//! interleaved before replies, malformed replies, and the connection
//! dropped after some messages. Off by default; `qmp serve` and
//! `qmp replay` expose each as a flag.

use std::sync::Mutex;
use std::time::Duration;

/// Which faults to inject.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Write output in pieces of this many bytes, one write each (yielding
    /// between them), so that messages arrive split.
    pub chunk: Option<usize>,
    /// Hold each reply back this long (a reply after a client's deadline).
    pub delay: Duration,
    /// Hold each reply back up to this much more, chosen from `seed`.
    pub jitter: Duration,
    /// The seed of the jitter: the same seed gives the same delays.
    pub seed: u64,
    /// Drop the connection after this many messages to it (the greeting,
    /// replies and events all count).
    pub disconnect_after: Option<usize>,
    /// Send an event just before every reply (`RTC_CHANGE` with offset 0,
    /// an event every QEMU has), as a busy QEMU interleaves them.
    pub interleave_events: bool,
    /// Send every Nth reply malformed (`{"return"}`, not JSON) instead of
    /// the reply.
    pub malformed_every: Option<usize>,
}

/// What [`Faults::malformed_every`] sends in place of a reply.
pub(crate) const MALFORMED_REPLY: &[u8] = b"{\"return\"}";

/// The event [`Faults::interleave_events`] sends.
pub(crate) fn interleaved_event() -> qmp_wire::Event {
    let mut data = qmp_wire::Map::new();
    data.insert("offset", 0);
    qmp_wire::Event::new("RTC_CHANGE", Some(data))
}

impl Faults {
    /// True when no fault is injected.
    pub fn is_none(&self) -> bool {
        *self == Faults::default()
    }
}

/// The delays of one server: `delay` plus a jitter drawn from a
/// SplitMix64 sequence started at the seed.
#[derive(Debug)]
pub(crate) struct ReplyDelays {
    delay: Duration,
    jitter: Duration,
    state: Mutex<u64>,
}

impl ReplyDelays {
    pub(crate) fn new(faults: &Faults) -> ReplyDelays {
        ReplyDelays {
            delay: faults.delay,
            jitter: faults.jitter,
            state: Mutex::new(faults.seed),
        }
    }

    /// The next reply's delay.
    pub(crate) fn next(&self) -> Duration {
        if self.jitter.is_zero() {
            return self.delay;
        }
        let Ok(mut state) = self.state.lock() else {
            return self.delay;
        };
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let jitter_us = u64::try_from(self.jitter.as_micros()).unwrap_or(u64::MAX);
        self.delay + Duration::from_micros(z % jitter_us.saturating_add(1))
    }

    /// Sleeps for the next delay, if any.
    pub(crate) async fn wait(&self) {
        let delay = self.next();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_reproducible_from_the_seed() {
        let faults = Faults {
            delay: Duration::from_millis(5),
            jitter: Duration::from_millis(10),
            seed: 42,
            ..Faults::default()
        };
        let a: Vec<Duration> = {
            let d = ReplyDelays::new(&faults);
            (0..20).map(|_| d.next()).collect()
        };
        let b: Vec<Duration> = {
            let d = ReplyDelays::new(&faults);
            (0..20).map(|_| d.next()).collect()
        };
        assert_eq!(a, b);
        assert!(a
            .iter()
            .all(|d| *d >= faults.delay && *d <= faults.delay + faults.jitter));
        assert!(a.windows(2).any(|w| w[0] != w[1]), "the jitter varies");
        let other = ReplyDelays::new(&Faults { seed: 7, ..faults });
        assert_ne!(a, (0..20).map(|_| other.next()).collect::<Vec<_>>());
    }
}
