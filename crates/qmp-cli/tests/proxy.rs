//! `qmp proxy` in front of a real QEMU 7.2: QEMU's recorded transcripts
//! replayed through it, Python's qemu.qmp (QMPClient with oob, an
//! EventListener, send_fd_scm then getfd) and qmp-shell through it, and
//! its command line's errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use qmp_test_support::TestProcess;

const QMP: &str = env!("CARGO_BIN_EXE_qmp");

/// Transcripts that cannot apply to a proxy, and why.
const NOT_FOR_A_PROXY: [(&str, &str); 1] = [(
    "second_client_waits",
    "QEMU's socket serves one client at a time and a second one waits; \
     serving several at once is what the proxy is for",
)];

/// A stand-in for `qemu-system-x86_64` taking a transcript's QEMU argv:
/// it starts the real QEMU with its (first) monitor socket moved aside and
/// `qmp proxy` listening at the monitor's path.
const WRAPPER: &str = r#"#!/bin/bash
args=(); sock=""
while [ $# -gt 0 ]; do
  if [ -z "$sock" ] && [ "$1" = "-qmp" ]; then
    sock=${2#unix:}; sock=${sock%%,*}; args+=("-qmp" "${2/$sock/$sock.upstream}"); shift 2; continue
  fi
  if [ -z "$sock" ] && [ "$1" = "-chardev" ] && [[ "$2" == *path=* ]]; then
    sock=${2#*path=}; sock=${sock%%,*}; args+=("-chardev" "${2/$sock/$sock.upstream}"); shift 2; continue
  fi
  args+=("$1"); shift
done
"$QEMU" "${args[@]}" & qemu=$!
trap 'kill $qemu $proxy 2>/dev/null' EXIT TERM INT
for _ in $(seq 200); do [ -S "$sock.upstream" ] && break; sleep 0.05; done
"$QMP" proxy "$sock.upstream" --listen "unix:$sock" & proxy=$!
wait $proxy
"#;

fn qemu_transcripts(conformance: &Path) -> Vec<PathBuf> {
    qmp_test_support::checkers::transcripts(conformance)
        .into_iter()
        .filter(|p| {
            let header = std::fs::read_to_string(p).unwrap_or_default();
            header
                .lines()
                .next()
                .unwrap_or_default()
                .contains(r#""kind": "qmp""#)
        })
        .filter(|p| {
            let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            !NOT_FOR_A_PROXY.iter().any(|(skip, _)| *skip == name)
        })
        .collect()
}

#[test]
fn qemus_transcripts_pass_through_the_proxy() {
    let (Some(conformance), Some(qemu), Some(python)) = (
        qmp_test_support::shared_path("conformance"),
        qmp_test_support::qemu_system(),
        qmp_test_support::program("python3", "install Python 3"),
    ) else {
        return;
    };
    let dir = qmp_test_support::temp_dir();
    let wrapper = dir.path().join("qemu-behind-proxy");
    std::fs::write(&wrapper, WRAPPER).expect("write the wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let transcripts = qemu_transcripts(&conformance);
    for (name, why) in NOT_FOR_A_PROXY {
        println!("not replayed through the proxy: {name}: {why}");
    }
    let args = ["--qemu".as_ref(), wrapper.as_os_str()];
    let env = [("QMP", QMP.as_ref()), ("QEMU", qemu.as_os_str())];
    qmp_test_support::checkers::compare_all(&python, &conformance, &transcripts, &args, &env);
}

/// A real QEMU started with -S, and the proxy in front of it.
fn qemu_behind_proxy() -> Option<(TestProcess, TestProcess)> {
    let qemu = qmp_test_support::qemu_system()?;
    let qemu = TestProcess::qemu(&qemu, &["-S"]).expect("start QEMU");
    let proxy = TestProcess::proxy(QMP.as_ref(), qemu.socket(), &[]).expect("start the proxy");
    Some((qemu, proxy))
}

#[test]
fn python_qemu_qmp_through_the_proxy() {
    let Some(python) = qmp_test_support::python_with_qemu_qmp() else {
        return;
    };
    let Some((_qemu, proxy)) = qemu_behind_proxy() else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/qemu_qmp_client.py");
    let stdout = qmp_test_support::checkers::run_python_script(&python, &script, proxy.socket());
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok: ")).count(),
        6,
        "{stdout}"
    );
}

#[test]
fn qmp_shell_through_the_proxy() {
    let Some(_) = qmp_test_support::python_with_qemu_qmp() else {
        return;
    };
    let Some(shell) = qmp_test_support::program("qmp-shell", "python3 -m pip install qemu.qmp")
    else {
        return;
    };
    let Some((_qemu, proxy)) = qemu_behind_proxy() else {
        return;
    };
    // A second client watches at the same time.
    let watcher = Command::new(QMP)
        .args([
            "events",
            "--name",
            "RESUME",
            "--count",
            "1",
            "--timeout",
            "30",
        ])
        .arg(proxy.socket())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qmp events");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let stdout = qmp_test_support::checkers::run_qmp_shell(
        &shell,
        proxy.socket(),
        "query-status\ncont\nquery-status\nqom-get path=/machine property=type\n",
    );
    assert!(stdout.contains("Connected to QEMU 7.2"), "{stdout}");
    assert!(stdout.contains("\"status\": \"prelaunch\""), "{stdout}");
    assert!(stdout.contains("\"status\": \"running\""), "{stdout}");
    assert!(
        stdout.contains("{\"return\": \"none-machine\"}"),
        "{stdout}"
    );
    let watched = watcher.wait_with_output().expect("qmp events output");
    let events = String::from_utf8_lossy(&watched.stdout);
    assert!(watched.status.success(), "{events}");
    assert!(events.contains("\"event\": \"RESUME\""), "{events}");
}

#[test]
fn proxy_command_line_errors_are_clear() {
    for (args, message) in [
        (
            vec![
                "proxy",
                "/nonexistent/qmp.sock",
                "--listen",
                "unix:/tmp/x.sock",
            ],
            "/nonexistent/qmp.sock",
        ),
        (vec!["proxy", "/tmp/q.sock"], "give at least one --listen"),
        (
            vec!["proxy", "/tmp/q.sock", "--listen", "tcp:name.example:1"],
            "numeric host",
        ),
        (
            vec!["proxy", "--launch", "--listen", "unix:/tmp/x.sock"],
            "--launch needs",
        ),
    ] {
        let output = Command::new(QMP)
            .args(&args)
            .output()
            .expect("run qmp proxy");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
