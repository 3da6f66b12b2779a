//! The client against the simulator (qmp-sim, built on qmp-server, in
//! process): the scenarios of `common/scenarios.rs` that hold for QEMU,
//! with qmp-server speaking. Scenarios the simulator cannot play say why
//! they are skipped.

mod common;

use common::sim::Simulator;
use common::{scenarios, Launcher, Machine};
use qmp_client::{ClientConfig, QemuExt};

shared_scenarios!(Simulator);

#[test]
fn sigkill_fails_pending_calls() {
    Simulator::skip(
        "sigkill_fails_pending_calls",
        "the simulator runs in this process: there is no server process to SIGSTOP and SIGKILL",
    );
}

/// The built-in machine, served in process, and a client on it.
async fn builtin() -> (qmp_sim::Simulator, qmp_client::Client) {
    let sim = qmp_sim::Simulator::start().await.expect("simulator");
    let client = qmp_client::Client::connect_unix(sim.socket())
        .await
        .expect("connect");
    (sim, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_waited_to_its_end_and_dismissed() {
    let (_sim, client) = builtin().await;
    common::add_null_node(&client, "disk0").await;
    let mut stream = qmp_client::Map::new();
    stream.insert("device", "disk0");
    stream.insert("job-id", "job0");
    stream.insert("auto-dismiss", false);
    let outcome = client
        .run_job(
            "block-stream",
            stream,
            "job0",
            std::time::Duration::from_secs(20),
        )
        .await
        .expect("the job concludes");
    assert_eq!(outcome.id, "job0");
    assert_eq!(outcome.error, None);
    common::assert_no_jobs(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_is_waited_to_completed_with_the_final_query_migrate() {
    let (_sim, client) = builtin().await;
    common::assert_migration_completes(
        &client,
        "tcp:127.0.0.1:4444",
        std::time::Duration::from_secs(20),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_del_is_waited_to_its_device_deleted() {
    let (_sim, client) = builtin().await;
    let mut device = qmp_client::Map::new();
    device.insert("driver", "virtio-net-pci");
    device.insert("id", "net0");
    client
        .execute("device_add", device)
        .await
        .expect("device_add");
    let event = client
        .device_del("net0", std::time::Duration::from_secs(10))
        .await
        .expect("deleted")
        .expect("seen by its event");
    let data = event.data.expect("data");
    assert_eq!(
        data.get("device").and_then(qmp_client::Value::as_str),
        Some("net0")
    );
    let gone = client
        .device_del("net0", std::time::Duration::from_secs(10))
        .await
        .expect_err("no such device any more");
    assert_eq!(
        gone.as_qmp().map(|e| e.class.clone()),
        Some(qmp_wire::ErrorClass::DeviceNotFound)
    );
}
