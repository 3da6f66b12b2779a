//! `qmp schema query TARGET PATH...`: libvirt-style schema paths answered
//! from a running QEMU 7.2 (socket), its saved reply and the QAPI schemas,
//! with the exit status a start-up script tests: 0 every path exists, 1
//! one does not, 2 malformed path or unreachable target.

use std::process::{Command, Output};

use qmp_test_support::{shared_path, TestProcess};

fn query(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qmp"))
        .args(["schema", "query"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run qmp: {e}"))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Exit status and stdout of `qmp schema query TARGET PATHS...`.
fn ask(target: &std::path::Path, paths: &[&str]) -> (Option<i32>, String) {
    let mut args = vec![target.as_os_str()];
    args.extend(paths.iter().map(std::ffi::OsStr::new));
    let output = query(&args);
    (output.status.code(), stdout(&output))
}

const IO_URING: &str = "blockdev-add/arg-type/+file/aio/^io_uring";
const CHANNELS: &str = "migrate/arg-type/channels";

#[test]
fn a_saved_reply_and_the_schemas_answer() {
    let (Some(reply), Some(old), Some(new)) = (
        shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json"),
        shared_path("qemu/7.2/qapi/qapi-schema.json"),
        shared_path("qemu/10.0/qapi/qapi-schema.json"),
    ) else {
        return;
    };
    assert_eq!(
        ask(&reply, &[IO_URING]),
        (Some(0), format!("yes {IO_URING}\n"))
    );
    // 'channels' came with QEMU 8.2: one missing path makes the answer 1.
    assert_eq!(
        ask(&reply, &[IO_URING, CHANNELS]),
        (Some(1), format!("yes {IO_URING}\nno {CHANNELS}\n"))
    );
    assert_eq!(ask(&old, &[CHANNELS]).0, Some(1));
    assert_eq!(ask(&new, &[CHANNELS, "migrate/arg-type/*uri"]).0, Some(0));
    // Malformed: refused before anything is read, with the reason.
    let output = query(&[reply.as_os_str(), "migrate//uri".as_ref()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("malformed schema path 'migrate//uri': component 2 is empty"));
    assert!(output.stdout.is_empty());
}

#[test]
fn a_running_qemu_answers_and_an_absent_one_is_exit_2() {
    let Some(binary) = qmp_test_support::qemu_system() else {
        return;
    };
    let qemu = TestProcess::qemu(&binary, &[]).unwrap_or_else(|e| panic!("start QEMU: {e}"));
    assert_eq!(
        ask(
            qemu.socket(),
            &[IO_URING, "query-status/ret-type/status/^running"]
        ),
        (
            Some(0),
            format!("yes {IO_URING}\nyes query-status/ret-type/status/^running\n")
        )
    );
    assert_eq!(ask(qemu.socket(), &[CHANNELS]).0, Some(1));
    let dir = qmp_test_support::temp_dir();
    let absent = dir.path().join("no-qemu.sock");
    let output = query(&[absent.as_os_str(), IO_URING.as_ref()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot connect"));
}

#[test]
fn the_simulator_is_a_target_by_flag() {
    let output = query(&[
        "--sim".as_ref(),
        "query-status".as_ref(),
        "no-such-command".as_ref(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "yes query-status\nno no-such-command\n");
}
