//! The client against the simulator (qmp-sim, built on qmp-server, in
//! process): the scenarios of `common/scenarios.rs` that hold for QEMU,
//! with qmp-server speaking. Scenarios the simulator cannot play say why
//! they are skipped.

mod common;

use common::sim::Simulator;
use common::{scenarios, Launcher, Machine};
use qmp_client::ClientConfig;

macro_rules! sim_test {
    ($($test:tt)*) => {
        launcher_test!(Simulator, $($test)*);
    };
}

sim_test!(query_version, Machine::None, |c| scenarios::query_version(
    &c
));
sim_test!(query_qmp_schema, Machine::None, |c| {
    scenarios::query_qmp_schema(&c)
});
sim_test!(stop_cont_events, Machine::NoneStopped, |c| {
    scenarios::stop_cont_events(&c)
});
sim_test!(getfd_closefd, Machine::None, |c| scenarios::getfd_closefd(
    &c
));
sim_test!(oob_migrate_pause, Machine::None, |c| {
    scenarios::oob_migrate_pause(&c)
});
sim_test!(hundred_tasks_hundred_commands, Machine::None, |c| {
    scenarios::many_tasks(&c, 100, 100)
});
sim_test!(quit_with_shutdown, Machine::None, |c| scenarios::quit(&c));

#[test]
fn sigkill_fails_pending_calls() {
    Simulator::skip(
        "sigkill_fails_pending_calls",
        "the simulator runs in this process: there is no server process to SIGSTOP and SIGKILL",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oob_passes_blocked_inband_queue() {
    let Some(client) = Simulator
        .launch(Machine::None, ClientConfig::default())
        .await
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("blkdebug.conf");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    scenarios::oob_passes_blocked_inband(&client, &fifo).await;
}
