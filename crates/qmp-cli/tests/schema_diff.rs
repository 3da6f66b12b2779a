//! `qmp schema diff` between QEMU 7.2's and 10.0's schemas: ten changes
//! confirmed by reading both schemas must be in the report, from the QAPI
//! sources and (where visible there) from the saved query-qmp-schema replies.

use std::process::Command;

const QMP: &str = env!("CARGO_BIN_EXE_qmp");

fn diff(old: &std::path::Path, new: &std::path::Path) -> String {
    let output = Command::new(QMP)
        .args(["schema", "diff"])
        .arg(old)
        .arg(new)
        .output()
        .expect("run qmp schema diff");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 report")
}

#[test]
fn qemu_7_2_to_10_0_from_the_qapi_schemas() {
    let (Some(old), Some(new)) = (
        qmp_test_support::shared_path("qemu/7.2/qapi/qapi-schema.json"),
        qmp_test_support::shared_path("qemu/10.0/qapi/qapi-schema.json"),
    ) else {
        return;
    };
    let report = diff(&old, &new);
    for line in [
        "removed: command 'x-query-profile'",
        "removed: event 'MEM_UNPLUG_ERROR'",
        "added: event 'HV_BALLOON_STATUS_REPORT'",
        "removed: command 'migrate' argument 'blk'",
        "changed: command 'migrate' argument 'uri' (now optional)",
        "added: command 'migrate' argument 'channels' (optional)",
        "deprecated: enum 'BlockdevDriver' value 'gluster'",
        "changed: type 'BlockJobInfo' member 'type' (type str -> enum JobType)",
        "added: event 'BLOCK_IO_ERROR' data 'qom-path' (mandatory)",
        "changed: command 'memsave' argument 'size' (type int -> size)",
        "deprecated: type 'ChardevSocket' member 'reconnect'",
    ] {
        assert!(
            report.lines().any(|l| l == line),
            "missing: {line}\n{report}"
        );
    }
    assert!(report
        .lines()
        .last()
        .is_some_and(|l| l.contains(" changes: ")));
}

#[test]
fn qemu_7_2_to_10_0_from_saved_replies() {
    let (Some(old), Some(new)) = (
        qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json"),
        qmp_test_support::shared_path("qemu/expected/10.0-x86_64-query-qmp-schema.json"),
    ) else {
        return;
    };
    let report = diff(&old, &new);
    for line in [
        "removed: command 'x-query-profile'",
        "changed: command 'migrate' argument 'uri' (now optional)",
        "added: event 'BLOCK_IO_ERROR' data 'qom-path' (mandatory)",
    ] {
        assert!(
            report.lines().any(|l| l == line),
            "missing: {line}\n{report}"
        );
    }
    // The JSON form carries the same report.
    let output = Command::new(QMP)
        .args(["schema", "diff", "--json"])
        .arg(&old)
        .arg(&new)
        .output()
        .expect("run qmp schema diff --json");
    let list = qmp_wire::from_slice(&output.stdout).expect("JSON report");
    let changes = list.as_array().expect("a list");
    assert_eq!(changes.len() + 1, report.lines().count());
    assert!(changes.iter().any(|c| {
        c.get("change").and_then(qmp_wire::Value::as_str) == Some("removed")
            && c.get("what").and_then(qmp_wire::Value::as_str) == Some("command 'x-query-profile'")
    }));
}
