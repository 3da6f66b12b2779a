//! The simulator, given the real QEMU 7.2's `query-qmp-schema` reply,
//! refuses malformed calls with the same error class and text as the real
//! `qemu-system-x86_64` 7.2, compared side by side against the live binary.
//!
//! A `query-qmp-schema` reply folds every integer type into `int` and masks
//! type names, so the texts that name an integer width (`expects uint64`,
//! `expects uint8_t`) or an alternate (`expected: BlockdevRef`) need the
//! QAPI schema itself: those calls are checked against a simulator built
//! from QEMU 7.2's schema and conditions.

use std::path::Path;
use std::time::{Duration, Instant};

use qapi_schema::introspect::ApiSource;
use qmp_server::{Server, ServerConfig};
use qmp_sim::machine::{Machine, MachineOptions};
use qmp_sim::qemu::{build_server, default_version};
use qmp_sim::SimApi;
use qmp_wire::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// Calls QEMU refuses: missing, unexpected and mistyped arguments, bad enum
/// values, nested paths, union branches, alternates, lists and integers.
const MALFORMED: &[&str] = &[
    r#"{"execute": "qom-list"}"#,
    r#"{"execute": "qom-list", "arguments": {"path": 1}}"#,
    r#"{"execute": "qom-list", "arguments": {"bogus": 1}}"#,
    r#"{"execute": "qom-get", "arguments": {"path": "/machine"}}"#,
    r#"{"execute": "qom-get", "arguments": {"property": "type"}}"#,
    r#"{"execute": "qom-set", "arguments": {"path": "/machine", "property": "x"}}"#,
    r#"{"execute": "human-monitor-command"}"#,
    r#"{"execute": "human-monitor-command", "arguments": {"command-line": ["info"]}}"#,
    r#"{"execute": "human-monitor-command", "arguments": {"command-line": "info", "cpu-index": "0"}}"#,
    r#"{"execute": "human-monitor-command", "arguments": {"command-line": "info", "cpu-index": 1.5}}"#,
    r#"{"execute": "human-monitor-command", "arguments": {"command-line": "info", "cpu-index": 9223372036854775808}}"#,
    r#"{"execute": "device_del"}"#,
    r#"{"execute": "device_del", "arguments": {"id": null}}"#,
    r#"{"execute": "device_add", "arguments": {"id": "x"}}"#,
    r#"{"execute": "device_add", "arguments": {"bus": "pci.0"}}"#,
    r#"{"execute": "set_link", "arguments": {"name": "n"}}"#,
    r#"{"execute": "set_link", "arguments": {"name": "n", "up": "yes"}}"#,
    r#"{"execute": "eject", "arguments": {"force": 1}}"#,
    r#"{"execute": "stop", "arguments": {"now": true}}"#,
    r#"{"execute": "system_reset", "arguments": {"x": 1}}"#,
    r#"{"execute": "query-status", "arguments": {"verbose": true}}"#,
    r#"{"execute": "migrate"}"#,
    r#"{"execute": "migrate", "arguments": {"uri": 5}}"#,
    r#"{"execute": "migrate", "arguments": {"uri": "tcp:0:0", "blk": "no"}}"#,
    r#"{"execute": "migrate-set-capabilities"}"#,
    r#"{"execute": "migrate-set-capabilities", "arguments": {"capabilities": {}}}"#,
    r#"{"execute": "migrate-set-capabilities", "arguments": {"capabilities": [1]}}"#,
    r#"{"execute": "migrate-set-capabilities", "arguments": {"capabilities": [{"capability": "xbzrle"}]}}"#,
    r#"{"execute": "migrate-set-capabilities", "arguments": {"capabilities": [{"capability": "nope", "state": true}]}}"#,
    r#"{"execute": "migrate-set-capabilities", "arguments": {"capabilities": [{"capability": "xbzrle", "state": true}, {"capability": "events"}]}}"#,
    r#"{"execute": "migrate-set-capabilities", "arguments": {"capabilities": [{"capability": "xbzrle", "state": true, "foo": 1}]}}"#,
    r#"{"execute": "migrate-set-parameters", "arguments": {"block-incremental": 1}}"#,
    r#"{"execute": "migrate-set-parameters", "arguments": {"multifd-compression": "bogus"}}"#,
    r#"{"execute": "migrate-set-parameters", "arguments": {"nope": 1}}"#,
    r#"{"execute": "blockdev-add"}"#,
    r#"{"execute": "blockdev-add", "arguments": {"driver": "nope"}}"#,
    r#"{"execute": "blockdev-add", "arguments": {"driver": "file"}}"#,
    r#"{"execute": "blockdev-add", "arguments": {"driver": "file", "filename": 1}}"#,
    r#"{"execute": "blockdev-add", "arguments": {"driver": "qcow2", "node-name": "q"}}"#,
    r#"{"execute": "blockdev-add", "arguments": {"driver": "qcow2", "file": {"driver": "file", "filename": "/x", "bogus": 1}}}"#,
    r#"{"execute": "blockdev-add", "arguments": {"driver": "qcow2", "file": {"driver": "file"}}}"#,
    r#"{"execute": "blockdev-add", "arguments": {"driver": "null-co", "size": "big"}}"#,
    r#"{"execute": "blockdev-add", "arguments": {"driver": "null-co", "read-only": 1}}"#,
    r#"{"execute": "block_resize", "arguments": {"size": 1}}"#,
    r#"{"execute": "block_resize", "arguments": {"node-name": "n", "size": "1G"}}"#,
    r#"{"execute": "query-block-jobs", "arguments": {"all": true}}"#,
    r#"{"execute": "object-add", "arguments": {"qom-type": "memory-backend-ram"}}"#,
    r#"{"execute": "object-add", "arguments": {"id": "m"}}"#,
    r#"{"execute": "netdev_add", "arguments": {"type": "user"}}"#,
    r#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}"#,
];

async fn connect(
    path: &Path,
) -> (
    BufReader<tokio::net::unix::OwnedReadHalf>,
    tokio::net::unix::OwnedWriteHalf,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let stream = loop {
        match UnixStream::connect(path).await {
            Ok(stream) => break stream,
            Err(e) if Instant::now() > deadline => panic!("{}: {e}", path.display()),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let (read, write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut greeting = String::new();
    reader.read_line(&mut greeting).await.unwrap();
    (reader, write)
}

/// Calls whose error texts need the QAPI schema (integer widths, type names).
const NEEDS_SCHEMA: &[&str] = &[
    r#"{"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": "fast"}}"#,
    r#"{"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 1.5}}"#,
    r#"{"execute": "migrate-set-parameters", "arguments": {"downtime-limit": true}}"#,
    r#"{"execute": "migrate-set-parameters", "arguments": {"compress-level": 256}}"#,
    r#"{"execute": "migrate-set-parameters", "arguments": {"compress-level": -1}}"#,
    r#"{"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 18446744073709551616}}"#,
    r#"{"execute": "blockdev-add", "arguments": {"driver": "qcow2", "file": 1}}"#,
];

/// Sends each call and returns the error (class: desc) of each reply.
async fn errors(path: &Path, calls: &[&str]) -> Vec<String> {
    let (mut reader, mut writer) = connect(path).await;
    writer
        .write_all(br#"{"execute": "qmp_capabilities"}"#)
        .await
        .unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    let mut out = Vec::new();
    for call in calls {
        writer.write_all(call.as_bytes()).await.unwrap();
        line.clear();
        tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line))
            .await
            .expect("a reply")
            .unwrap();
        let reply = qmp_wire::from_str(line.trim_end()).unwrap();
        let error = reply.get("error");
        let field = |k: &str| {
            error
                .and_then(|e| e.get(k))
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_string()
        };
        out.push(format!("{}: {}", field("class"), field("desc")));
    }
    out
}

/// Runs `calls` against the live QEMU 7.2 and a simulator serving `api`;
/// every reply must be an error, the same on both sides.
async fn compare(api: &SimApi, calls: &[&str]) {
    let Some(binary) = qmp_test_support::qemu_system() else {
        return;
    };
    let qemu = qmp_test_support::TestProcess::qemu(&binary, &["-S"]).expect("start QEMU");
    let dir = tempfile::tempdir().unwrap();
    let machine = Machine::new(&MachineOptions {
        start_stopped: true,
        ..MachineOptions::default()
    });
    let sim_socket = dir.path().join("sim.sock");
    let server = build_server(api, &machine, ServerConfig::qmp(default_version()));
    let listener = Server::bind_unix(&sim_socket).unwrap();
    let serving = server.clone();
    tokio::spawn(async move { serving.serve_unix_listener(listener).await });

    let theirs = errors(qemu.socket(), calls).await;
    let ours = errors(&sim_socket, calls).await;
    let mut differences = Vec::new();
    for ((call, q), s) in calls.iter().zip(&theirs).zip(&ours) {
        assert_ne!(q, "-: -", "QEMU accepted {call}; the case is not malformed");
        if q != s {
            differences.push(format!("{call}\n  QEMU: {q}\n  sim:  {s}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} differ:\n{}",
        differences.len(),
        calls.len(),
        differences.join("\n")
    );
    println!(
        "{} calls refused identically by QEMU 7.2 and the simulator",
        calls.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_malformed_calls_are_refused_as_qemu_refuses_them() {
    assert_eq!(MALFORMED.len(), 50);
    let Some(reply) =
        qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json")
    else {
        return;
    };
    let api = SimApi::from_introspection_file(&reply).unwrap();
    compare(&api, MALFORMED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn width_and_type_name_texts_come_from_the_qapi_schema() {
    let (Some(schema), Some(conditions)) = (
        qmp_test_support::shared_path("qemu/7.2/qapi/qapi-schema.json"),
        qmp_test_support::shared_path("qemu/expected/7.2-x86_64-conditions.txt"),
    ) else {
        return;
    };
    let source = ApiSource::Schema {
        path: schema,
        conditions: Some(conditions),
    };
    let api = SimApi::load(&source).unwrap();
    compare(&api, NEEDS_SCHEMA).await;
}
