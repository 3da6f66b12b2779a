//! The simulator as a QEMU stand-in: QEMU's recorded transcripts replayed by
//! the conformance checker against `qmp fake-qemu` / `qmp fake-qga`, and
//! Python's qemu.qmp (QMPClient and qmp-shell) driving it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use qmp_test_support::{TestProcess, QEMU_HEADLESS, QEMU_NO_MACHINE};

const QMP: &str = env!("CARGO_BIN_EXE_qmp");

/// `qmp fake-qemu` (QEMU's command line) or `qmp serve`, both stopped (-S),
/// on a fresh socket, killed on drop.
fn stand_in(introspection: &Path, serve: bool) -> TestProcess {
    let started = if serve {
        let path = introspection.to_str().expect("a UTF-8 path");
        TestProcess::serve(QMP.as_ref(), &["-S", "--introspection", path])
    } else {
        let mut command = Command::new(QMP);
        command
            .arg("fake-qemu")
            .arg("--introspection")
            .arg(introspection)
            .args(QEMU_NO_MACHINE)
            .args(QEMU_HEADLESS)
            .arg("-S")
            .stderr(Stdio::null());
        TestProcess::monitor(command)
    };
    started.expect("start the simulator")
}

fn introspection() -> Option<PathBuf> {
    qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json")
}

#[test]
fn fake_qemu_passes_qemus_transcripts() {
    let (Some(conformance), Some(reply), Some(python)) = (
        qmp_test_support::shared_path("conformance"),
        introspection(),
        qmp_test_support::program("python3", "install Python 3"),
    ) else {
        return;
    };
    let transcripts = qmp_test_support::checkers::transcripts(&conformance);
    let qemu = format!("{QMP} fake-qemu --introspection {}", reply.display());
    let qga = format!("{QMP} fake-qga");
    let args = [
        "--qemu".as_ref(),
        qemu.as_ref(),
        "--qga".as_ref(),
        qga.as_ref(),
    ];
    qmp_test_support::checkers::compare_all(&python, &conformance, &transcripts, &args, &[]);
}

#[test]
fn python_qemu_qmp_client_works_against_the_simulator() {
    let (Some(reply), Some(python)) = (introspection(), qmp_test_support::python_with_qemu_qmp())
    else {
        return;
    };
    for (tag, serve) in [("pyclient", false), ("pyclient-serve", true)] {
        let qemu = stand_in(&reply, serve);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/qemu_qmp_client.py");
        let stdout = qmp_test_support::checkers::run_python_script(&python, &script, qemu.socket());
        assert_eq!(
            stdout.lines().filter(|l| l.starts_with("ok: ")).count(),
            6,
            "{tag}: {stdout}"
        );
    }
}

#[test]
fn python_qmp_shell_works_against_the_simulator() {
    let (Some(reply), Some(_)) = (introspection(), qmp_test_support::python_with_qemu_qmp()) else {
        return;
    };
    let Some(shell) = qmp_test_support::program("qmp-shell", "python3 -m pip install qemu.qmp")
    else {
        return;
    };
    for (tag, serve) in [("pyshell", false), ("pyshell-serve", true)] {
        let qemu = stand_in(&reply, serve);
        let stdout = qmp_test_support::checkers::run_qmp_shell(
            &shell,
            qemu.socket(),
            "query-status\ncont\nquery-status\nqom-get path=/machine property=type\nhuman-monitor-command command-line=nosuchcmd\n",
        );
        assert!(
            stdout.contains("Connected to QEMU 7.2.22"),
            "{tag}: {stdout}"
        );
        assert!(
            stdout.contains("\"status\": \"prelaunch\""),
            "{tag}: {stdout}"
        );
        assert!(
            stdout.contains("\"status\": \"running\""),
            "{tag}: {stdout}"
        );
        assert!(
            stdout.contains("{\"return\": \"none-machine\"}"),
            "{tag}: {stdout}"
        );
        assert!(
            stdout.contains("unknown command: 'nosuchcmd'"),
            "{tag}: {stdout}"
        );
    }
}
