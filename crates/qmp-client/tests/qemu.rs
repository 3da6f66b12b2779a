//! The client against the real qemu-system-x86_64 (7.2 in CI): the
//! scenarios of `common/scenarios.rs` with QEMU as the server.

mod common;

use common::{scenarios, Launcher, Machine, RealQemu};
use qmp_client::ClientConfig;

shared_scenarios!(RealQemu);
launcher_test!(RealQemu, sigkill_fails_pending_calls, Machine::None, |c| {
    scenarios::killed_mid_call(&c)
});

/// QEMU listening on a unix socket (`server=on`), the client connecting.
#[tokio::test]
async fn connect_to_unix_socket() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    let process = qmp_test_support::TestProcess::qemu(&qemu, &[]).expect("start QEMU");
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
    let _guard = qmp_test_support::TestProcess::adopt(child);
    let client = listener
        .accept(ClientConfig::default(), scenarios::STEP)
        .await
        .expect("QEMU connects in");
    scenarios::query_version(&client).await;
    scenarios::quit(&client).await;
}
