//! How a simulated QEMU ends: a client's `quit`, or a host signal (SIGINT,
//! SIGTERM, SIGHUP) answered as QEMU answers one: a `SHUTDOWN` event with
//! `"guest": false, "reason": "host-signal"` to every client, then a clean
//! stop (QEMU exits 0 and removes its socket files; the caller does that).

use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::machine::Machine;

/// Why the machine ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// A client sent `quit`.
    Quit,
    /// The process got this signal (its number).
    Signal(i32),
}

/// The host signals that end a machine, caught from the moment this is
/// made (make it before the sockets exist, so that no signal can kill the
/// process before it can answer).
#[derive(Debug)]
pub struct HostSignals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl HostSignals {
    /// Catches SIGINT, SIGTERM and SIGHUP (inside a tokio runtime).
    pub fn catch() -> std::io::Result<HostSignals> {
        Ok(HostSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits until `machine` is told to quit or one of the signals comes;
    /// on a signal, emits QEMU's `SHUTDOWN` event first. The caller then
    /// shuts its server down, which sends the event to every client before
    /// closing.
    pub async fn until_quit(&mut self, machine: &Machine) -> Ending {
        let mut quit = machine.quit_requested();
        let signal = tokio::select! {
            _ = quit.wait_for(|q| *q) => return Ending::Quit,
            signal = self.next() => signal,
        };
        machine.host_signal();
        Ending::Signal(signal)
    }

    /// The next of the signals to come (its number).
    pub async fn next(&mut self) -> i32 {
        let signal = tokio::select! {
            _ = self.interrupt.recv() => SignalKind::interrupt(),
            _ = self.terminate.recv() => SignalKind::terminate(),
            _ = self.hangup.recv() => SignalKind::hangup(),
        };
        signal.as_raw_value()
    }
}
