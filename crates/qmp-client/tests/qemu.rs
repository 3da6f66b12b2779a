//! The client against the real qemu-system-x86_64 (7.2 in CI): the
//! scenarios of `common/scenarios.rs` with QEMU as the server.

mod common;

use common::{scenarios, Launcher, Machine, RealQemu};
use qmp_client::ClientConfig;

macro_rules! qemu_test {
    ($($test:tt)*) => {
        launcher_test!(RealQemu, $($test)*);
    };
}

qemu_test!(query_version, Machine::None, |c| scenarios::query_version(
    &c
));
qemu_test!(query_qmp_schema, Machine::None, |c| {
    scenarios::query_qmp_schema(&c)
});
qemu_test!(stop_cont_events, Machine::NoneStopped, |c| {
    scenarios::stop_cont_events(&c)
});
qemu_test!(getfd_closefd, Machine::None, |c| scenarios::getfd_closefd(
    &c
));
qemu_test!(oob_migrate_pause, Machine::None, |c| {
    scenarios::oob_migrate_pause(&c)
});
qemu_test!(hundred_tasks_hundred_commands, Machine::None, |c| {
    scenarios::many_tasks(&c, 100, 100)
});
qemu_test!(quit_with_shutdown, Machine::None, |c| scenarios::quit(&c));
qemu_test!(sigkill_fails_pending_calls, Machine::None, |c| {
    scenarios::killed_mid_call(&c)
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oob_passes_blocked_inband_queue() {
    let Some(client) = RealQemu
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

/// QEMU listening on a unix socket (`server=on`), the client connecting.
#[tokio::test]
async fn connect_to_unix_socket() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    let process = qmp_test_support::QemuProcess::start(&qemu, &[]).expect("start QEMU");
    let client = qmp_client::Client::connect_unix(process.socket())
        .await
        .expect("connect");
    scenarios::query_version(&client).await;
    scenarios::quit(&client).await;
}

/// Accept mode: the client listens and QEMU connects in (`server=off`).
#[tokio::test]
async fn accept_qemu_connecting_in() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("listen.sock");
    let listener = qmp_client::QmpListener::bind_unix(&sock).expect("bind");
    let child = qmp_test_support::qemu_command(&qemu)
        .arg("-qmp")
        .arg(format!("unix:{},server=off", sock.display()))
        .spawn()
        .expect("spawn QEMU");
    let _guard = common::KillOnDrop(child);
    let client = listener
        .accept(ClientConfig::default(), scenarios::STEP)
        .await
        .expect("QEMU connects in");
    scenarios::query_version(&client).await;
    scenarios::quit(&client).await;
}
