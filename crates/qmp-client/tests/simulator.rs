//! The client against the simulator (qmp-sim, built on qmp-server, in
//! process): the scenarios of `common/scenarios.rs` that hold for QEMU,
//! with qmp-server speaking. Scenarios the simulator cannot play say why
//! they are skipped.

mod common;

use common::sim::Simulator;
use common::{scenarios, Launcher, Machine};
use qmp_client::ClientConfig;

shared_scenarios!(Simulator);

#[test]
fn sigkill_fails_pending_calls() {
    Simulator::skip(
        "sigkill_fails_pending_calls",
        "the simulator runs in this process: there is no server process to SIGSTOP and SIGKILL",
    );
}
