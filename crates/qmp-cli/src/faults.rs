//! The fault-injection flags of `qmp serve` and `qmp replay` (the faults
//! themselves are `qmp_server::Faults`).

use std::time::Duration;

use clap::Args;
use qmp_server::Faults;

/// Faults to inject, for testing clients.
#[derive(Debug, Args, Clone, Default)]
pub struct FaultArgs {
    /// Write output in pieces of N bytes (1: a byte at a time).
    #[arg(long, value_name = "N", help_heading = "Fault injection")]
    chunk: Option<usize>,
    /// Hold each reply back MS milliseconds (a reply after a deadline).
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 0,
        help_heading = "Fault injection"
    )]
    delay: u64,
    /// Hold each reply back up to MS milliseconds more, from --seed.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 0,
        help_heading = "Fault injection"
    )]
    jitter: u64,
    /// The seed of --jitter (the same seed, the same delays).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        help_heading = "Fault injection"
    )]
    seed: u64,
    /// Drop each connection after N messages to it (greeting included).
    #[arg(long, value_name = "N", help_heading = "Fault injection")]
    disconnect_after: Option<usize>,
    /// Send an RTC_CHANGE event just before every reply.
    #[arg(long, help_heading = "Fault injection")]
    interleave_events: bool,
    /// Send every Nth reply malformed (not JSON) instead.
    #[arg(long, value_name = "N", help_heading = "Fault injection")]
    malformed_every: Option<usize>,
}

impl FaultArgs {
    /// The faults asked for.
    pub fn faults(&self) -> anyhow::Result<Faults> {
        if self.chunk == Some(0) || self.malformed_every == Some(0) {
            anyhow::bail!("--chunk and --malformed-every must be at least 1");
        }
        Ok(Faults {
            chunk: self.chunk,
            delay: Duration::from_millis(self.delay),
            jitter: Duration::from_millis(self.jitter),
            seed: self.seed,
            disconnect_after: self.disconnect_after,
            interleave_events: self.interleave_events,
            malformed_every: self.malformed_every,
        })
    }
}
