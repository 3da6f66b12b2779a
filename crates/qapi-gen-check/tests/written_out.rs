//! The impls qapi-gen writes out instead of deriving (`Debug`,
//! `Serialize`, `Deserialize`) behave as the derives did: the same
//! `Debug` text, members by their wire names, unknown members ignored,
//! and serde's texts for a missing or mistyped member.

#![cfg(qapi_generated)]

use qapi_gen_check::qmp::{self, commands, BlockdevOptions, QType};
use serde_json::json;

#[test]
fn debug_reads_as_derived() {
    let del = commands::BlockdevDel::new("disk0");
    assert_eq!(format!("{del:?}"), r#"BlockdevDel { node_name: "disk0" }"#);
    assert_eq!(format!("{:?}", QType::Qdict), "Qdict");
    assert_eq!(format!("{:?}", QType::from_name("new")), r#"Other("new")"#);
    let info: qmp::NameInfo = serde_json::from_value(json!({"name": "vm"})).unwrap();
    assert_eq!(format!("{info:?}"), r#"NameInfo { name: Some("vm") }"#);
}

#[test]
fn members_go_by_their_wire_names() {
    let active = commands::BlockdevSetActive::new(true).with_node_name("disk0");
    assert_eq!(
        serde_json::to_value(&active).unwrap(),
        json!({"node-name": "disk0", "active": true})
    );
    let null = BlockdevOptions::null_co(Default::default()).with_node_name("n0");
    assert_eq!(
        serde_json::to_value(&null).unwrap(),
        json!({"node-name": "n0", "driver": "null-co"})
    );
    let back: BlockdevOptions =
        serde_json::from_value(json!({"driver": "null-co", "node-name": "n0", "size": 512}))
            .unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap()["size"], json!(512));
}

#[test]
fn reading_fails_with_serdes_texts_and_ignores_the_unknown() {
    let missing = serde_json::from_value::<qmp::StatusInfo>(json!({"running": true})).unwrap_err();
    assert_eq!(missing.to_string(), "missing field `status`");
    let wrong =
        serde_json::from_value::<qmp::StatusInfo>(json!({"running": 1, "status": "running"}))
            .unwrap_err();
    assert!(
        wrong
            .to_string()
            .starts_with("member `running`: invalid type: integer `1`, expected a boolean"),
        "{wrong}"
    );
    let extra: qmp::StatusInfo = serde_json::from_value(
        json!({"running": true, "status": "running", "singlestep": false, "new-member": 1}),
    )
    .unwrap();
    assert!(extra.running);
    // QEMU's uint64 tolerance: -1 reads as u64::MAX.
    let null =
        serde_json::from_value::<qmp::BlockdevOptionsNull>(json!({"latency-ns": -1})).unwrap();
    assert_eq!(null.latency_ns, Some(u64::MAX));
}

#[test]
fn a_client_of_some_modules_has_their_commands_and_no_others() {
    let code = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/qmp_some_modules.rs")).unwrap();
    assert!(code.contains("pub struct BlockdevAdd("), "block");
    assert!(
        !code.contains("pub struct Screendump"),
        "the ui module is left out"
    );
    assert!(
        !code.contains("pub struct GuestSyncDelimited"),
        "no guest agent"
    );
    use qapi_gen_check::qmp_some_modules::commands;
    let add = commands::BlockdevAdd::from(
        qapi_gen_check::qmp_some_modules::BlockdevOptions::null_co(Default::default()),
    );
    assert_eq!(
        <commands::BlockdevAdd as qmp_wire::Command>::NAME,
        "blockdev-add"
    );
    assert_eq!(
        serde_json::to_value(&add).unwrap()["driver"],
        json!("null-co")
    );
    assert_eq!(
        <commands::QueryMigrate as qmp_wire::Command>::NAME,
        "query-migrate"
    );
    assert_eq!(
        <commands::QueryCpusFast as qmp_wire::Command>::NAME,
        "query-cpus-fast"
    );
}
