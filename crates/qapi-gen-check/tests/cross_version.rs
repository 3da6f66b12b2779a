//! A client generated from QEMU 10.0's schema reads what QEMU 7.2.22 sent:
//! its whole `query-qmp-schema` reply and every event and reply in the
//! recorded transcripts.

#![cfg(qapi_generated)]

use qapi_gen_check::qmp;
use qmp_wire::Value;

#[test]
fn qemu_7_2_schema_reply_reads_as_10_0_types() {
    let Some(path) =
        qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json")
    else {
        return;
    };
    let reply = qmp_wire::from_slice(&std::fs::read(path).expect("read")).expect("json");
    let list = reply.get("return").cloned().expect("return");
    let infos: Vec<qmp::SchemaInfo> = list.clone().deserialize_into().expect("reads");
    assert_eq!(infos.len(), 1051);
    let back = Value::from_serialize(&infos).expect("writes");
    assert!(back == list, "7.2's list changed through the 10.0 types");
}

#[test]
fn qemu_7_2_events_and_status_decode() {
    let Some(dir) = qmp_test_support::shared_path("conformance/transcripts") else {
        return;
    };
    let mut events = 0;
    for entry in std::fs::read_dir(dir).expect("list") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        for line in text.lines() {
            let line = qmp_wire::from_str(line).expect("transcript line");
            let Some(recv) = line.get("recv") else {
                continue;
            };
            if let Some(Value::String(name)) = recv.get("event") {
                let data = recv.get("data").and_then(Value::as_object).cloned();
                let event = qmp::Event::decode(name, data)
                    .unwrap_or_else(|e| panic!("{}: {name}: {e}", path.display()));
                assert!(!matches!(event, qmp::Event::Other { .. }), "{name} unknown");
                events += 1;
            }
            let status = recv.get("return").filter(|r| r.get("running").is_some());
            if let Some(status) = status {
                let _: qmp::StatusInfo = status.clone().deserialize_into().expect("status reads");
            }
        }
    }
    assert!(events > 0, "no events in the transcripts");
}
