//! `qmp schema diff` between QEMU 7.2's and 10.0's schemas: ten changes
//! confirmed by reading both schemas must be in the report, from the QAPI
//! sources and (where visible there) from the saved query-qmp-schema replies,
//! each in its class for clients (breaking, compatible, renamed).

use std::process::Command;

const QMP: &str = env!("CARGO_BIN_EXE_qmp");

fn diff(old: &std::path::Path, new: &std::path::Path) -> String {
    let (code, report) = diff_with(&[old.as_os_str(), new.as_os_str()]);
    assert_eq!(code, Some(0), "{report}");
    report
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
    // Each change classified for clients.
    let breaking = section(&report, "breaking");
    all_in(
        &report,
        "breaking",
        &[
            "removed: command 'x-query-profile'",
            "removed: command 'migrate' argument 'blk'",
            "removed: enum 'MigrationCapability' value 'block'",
            "removed: type 'StatusInfo' member 'singlestep'",
            "changed: type 'BlockJobInfo' member 'type' (type str -> enum JobType)",
        ],
    );
    all_in(
        &report,
        "compatible",
        &[
            "changed: command 'migrate' argument 'uri' (now optional)",
            "added: command 'migrate' argument 'channels' (optional)",
            "added: event 'BLOCK_IO_ERROR' data 'qom-path' (mandatory)",
            "changed: command 'memsave' argument 'size' (type int -> size)",
            "added: enum 'QCryptoCipherAlgo' value 'sm4'",
        ],
    );
    // Type names are not on the wire: renames are no type change.
    all_in(
        &report,
        "renamed",
        &["renamed: enum 'QCryptoCipherAlgorithm' (now 'QCryptoCipherAlgo')"],
    );
    assert!(!report.contains("type enum QCryptoCipherAlgorithm -> enum QCryptoCipherAlgo"));
    assert!(!report.contains("removed: type 'QCryptoCipherAlgorithm'"));

    // --breaking: only those, and exit 1.
    let (code, only) = diff_with(&["--breaking".as_ref(), old.as_os_str(), new.as_os_str()]);
    assert_eq!(code, Some(1));
    let listed: Vec<&str> = only.lines().filter(|l| !l.starts_with("# ")).collect();
    assert_eq!(
        listed.split_last().map(|(_, l)| l.to_vec()),
        Some(breaking.clone())
    );
    // No change at all: exit 0.
    let (code, same) = diff_with(&["--breaking".as_ref(), new.as_os_str(), new.as_os_str()]);
    assert_eq!(code, Some(0), "{same}");
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
    let headings = report.lines().filter(|l| l.starts_with("# ")).count();
    assert_eq!(changes.len() + 1, report.lines().count() - headings);
    assert!(changes.iter().any(|c| {
        c.get("change").and_then(qmp_wire::Value::as_str) == Some("removed")
            && c.get("what").and_then(qmp_wire::Value::as_str) == Some("command 'x-query-profile'")
            && c.get("class").and_then(qmp_wire::Value::as_str) == Some("breaking")
    }));
}

/// `qmp schema diff ARGS...`: exit status and stdout.
fn diff_with(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let output = Command::new(QMP)
        .args(["schema", "diff"])
        .args(args)
        .output()
        .expect("run qmp schema diff");
    (
        output.status.code(),
        String::from_utf8(output.stdout).expect("UTF-8 report"),
    )
}

/// The report's lines under heading `class` (up to the next heading).
fn section<'r>(report: &'r str, class: &str) -> Vec<&'r str> {
    report
        .lines()
        .skip_while(|l| !l.starts_with(&format!("# {class}")))
        .skip(1)
        .take_while(|l| !l.starts_with("# ") && !l.contains(" changes: "))
        .collect()
}

/// Asserts that each of `lines` is under heading `class`.
fn all_in(report: &str, class: &str, lines: &[&str]) {
    let listed = section(report, class);
    for line in lines {
        assert!(listed.contains(line), "not {class}: {line}\n{report}");
    }
}
