//! Bindings generated from the real QEMU 7.2's saved `query-qmp-schema`
//! reply alone drive that QEMU: typed commands go out, typed replies and
//! errors come back.

#![cfg(qapi_generated)]

use qapi_gen_check::qmp_7_2_reply as qmp;
use qmp_client::blocking::BlockingClient;
use qmp_test_support::TestProcess;

#[test]
fn bindings_from_the_7_2_reply_drive_the_real_qemu_7_2() {
    let Some(binary) = qmp_test_support::qemu_system() else {
        return;
    };
    let qemu = TestProcess::qemu(&binary, &["-S"]).unwrap_or_else(|e| panic!("start QEMU: {e}"));
    let client =
        BlockingClient::connect_unix(qemu.socket()).unwrap_or_else(|e| panic!("connect: {e}"));
    // A return type whose name QEMU masks: named after its command.
    let status: qmp::QueryStatusRet = client
        .call(&qmp::commands::QueryStatus {})
        .unwrap_or_else(|e| panic!("query-status: {e}"));
    assert!(!status.running);
    assert_eq!(status.status.as_str(), "prelaunch");
    // A union argument built through its branch constructor.
    let add = qmp::commands::BlockdevAdd::from(
        qmp::BlockdevAddArg::null_co(qmp::BlockdevAddArgNullAio::default().with_size(1 << 20))
            .with_node_name("n0"),
    );
    client
        .call(&add)
        .unwrap_or_else(|e| panic!("blockdev-add: {e}"));
    let nodes = client
        .call(&qmp::commands::QueryNamedBlockNodes::default())
        .unwrap_or_else(|e| panic!("query-named-block-nodes: {e}"));
    let node = nodes.iter().find(|n| n.node_name.as_deref() == Some("n0"));
    assert_eq!(
        node.map(|n| (n.drv.as_str(), n.image.virtual_size)),
        Some(("null-co", 1 << 20))
    );
    // QEMU's own refusal comes back as an error.
    let again = client
        .call(&add)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        again.contains("Duplicate nodes with node-name='n0'"),
        "{again}"
    );
}
