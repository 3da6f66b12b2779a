//! `qmp record` in front of a real QEMU 7.2 and `qmp replay` of what it
//! wrote: the same scenario gives the same results against both; the
//! recording passes compare.py against the real QEMU and fake-qemu; a
//! client that strays fails strict replay with a report; Python's qemu.qmp
//! passes against a replay of its own recorded session.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use qmp_client::Client;
use qmp_test_support::TestProcess;

const QMP: &str = env!("CARGO_BIN_EXE_qmp");

/// QEMU's command line for the recordings: stopped, no machine.
const QEMU_ARGS: [&str; 6] = ["-machine", "none", "-nodefaults", "-display", "none", "-S"];

fn wait_for_socket(child: &mut Child, path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "exited before listening"
        );
        assert!(Instant::now() < deadline, "no socket at {}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `qmp record --launch` of a fresh QEMU, listening at `listen`.
fn record(qemu: &Path, listen: &Path, output: &Path) -> TestProcess {
    let mut child = Command::new(QMP)
        .arg("record")
        .arg("--listen")
        .arg(format!("unix:{}", listen.display()))
        .arg("-o")
        .arg(output)
        .arg("--launch")
        .arg("--")
        .arg(qemu)
        .args(QEMU_ARGS)
        .stderr(Stdio::null())
        .spawn()
        .expect("start qmp record");
    wait_for_socket(&mut child, listen);
    TestProcess::adopt(child)
}

/// `qmp replay`, listening at `listen`.
fn replay(recording: &Path, listen: &Path, strict: bool) -> Child {
    replay_with(recording, listen, strict, &[])
}

/// `qmp replay` with extra options (fault injection).
fn replay_with(recording: &Path, listen: &Path, strict: bool, extra: &[&str]) -> Child {
    let mut command = Command::new(QMP);
    command
        .arg("replay")
        .arg(recording)
        .arg("--listen")
        .arg(listen)
        .args(extra);
    if strict {
        command.arg("--strict");
    }
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qmp replay");
    wait_for_socket(&mut child, listen);
    child
}

/// The client's scenario: commands and their arguments.
fn steps() -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::json;
    vec![
        ("query-status", json!({})),
        ("query-name", json!({})),
        ("cont", json!({})),
        ("query-status", json!({})),
        ("stop", json!({})),
        (
            "blockdev-add",
            json!({"driver": "null-co", "node-name": "n0", "size": 1048576}),
        ),
        ("blockdev-del", json!({"node-name": "n0"})),
        ("qom-get", json!({"path": "/machine", "property": "type"})),
        ("device_del", json!({"id": "nothing"})),
        (
            "human-monitor-command",
            json!({"command-line": "info status"}),
        ),
        ("quit", json!({})),
    ]
}

/// The client's scenario; what each step gave, as text, then the events.
async fn scenario(socket: &Path) -> Vec<String> {
    let client = Client::connect_unix(socket).await.expect("connect");
    let mut events = client.subscribe(qmp_client::EventFilter::any());
    let mut results = Vec::new();
    for (command, arguments) in steps() {
        results.push(match client.execute(command, arguments).await {
            Ok(value) => value.to_string(),
            Err(e) => format!("error: {e}"),
        });
    }
    let mut names = Vec::new();
    while let Some(event) = events.next_event().await {
        names.push(event.name);
    }
    results.push(format!("events: {names:?}"));
    results
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn compare(
    python: &Path,
    conformance: &Path,
    qemu_option: Option<&str>,
    recording: &Path,
) -> String {
    let mut command = Command::new(python);
    command.arg(conformance.join("compare.py"));
    if let Some(qemu) = qemu_option {
        command.arg("--qemu").arg(qemu);
    }
    let output = command.arg(recording).output().expect("run compare.py");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn a_recorded_session_replays_to_the_same_results() {
    let (Some(qemu), Some(conformance), Some(python), Some(reply)) = (
        qmp_test_support::qemu_system(),
        qmp_test_support::shared_path("conformance"),
        qmp_test_support::program("python3", "install Python 3"),
        qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json"),
    ) else {
        return;
    };
    let dir = qmp_test_support::temp_dir();
    let recording = dir.path().join("session.jsonl");
    let recorder = record(&qemu, &dir.path().join("rec.sock"), &recording);
    let recorded = runtime().block_on(scenario(&dir.path().join("rec.sock")));
    drop(recorder);
    assert!(
        recorded.iter().any(|r| r.contains("\"running\"")),
        "{recorded:?}"
    );
    assert!(
        recorded
            .iter()
            .any(|r| r.contains("Device 'nothing' not found")),
        "{recorded:?}"
    );

    // The same client against the replay: the same results, nothing astray.
    let listen = dir.path().join("replay.sock");
    let replaying = replay(&recording, &listen, true);
    let replayed = runtime().block_on(scenario(&listen));
    let output = replaying.wait_with_output().expect("replay output");
    let report = String::from_utf8_lossy(&output.stderr);
    assert_eq!(replayed, recorded);
    assert!(output.status.success(), "{report}");
    assert!(
        report.contains("replay: 11 commands matched the recording"),
        "{report}"
    );
    assert!(report.contains("replay: 0 out of order"), "{report}");
    assert!(
        report.contains("replay: 0 recorded but never sent"),
        "{report}"
    );

    // The same again under each injected fault that a client must ride out.
    for faults in [
        &["--chunk", "1"][..],
        &["--delay", "20"],
        &["--jitter", "15", "--seed", "3"],
        &[
            "--chunk", "7", "--delay", "5", "--jitter", "5", "--seed", "9",
        ],
    ] {
        let listen = dir.path().join("faults.sock");
        let replaying = replay_with(&recording, &listen, true, faults);
        let replayed = runtime().block_on(scenario(&listen));
        let output = replaying.wait_with_output().expect("replay output");
        let mut replayed = replayed;
        if faults.contains(&"--interleave-events") {
            // Each reply came after an RTC_CHANGE, which the client passed on.
            let events = replayed.pop().unwrap_or_default();
            assert!(events.matches("RTC_CHANGE").count() >= 11, "{events}");
            replayed.push(events.replace("\"RTC_CHANGE\", ", ""));
        }
        assert_eq!(replayed, recorded, "{faults:?}");
        assert!(
            output.status.success(),
            "{faults:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // A connection dropped after the greeting and two replies: the client
    // sees a clean disconnect, not a hang.
    let listen = dir.path().join("dropped.sock");
    let mut replaying = replay_with(&recording, &listen, false, &["--disconnect-after", "3"]);
    let dropped = runtime()
        .block_on(async { tokio::time::timeout(Duration::from_secs(20), scenario(&listen)).await });
    let _ = replaying.kill();
    let _ = replaying.wait();
    let dropped = dropped.expect("no hang after an injected disconnect");
    assert_eq!(dropped.get(..1), recorded.get(..1), "{dropped:?}");
    assert!(
        dropped.get(1).is_some_and(|r| r.starts_with("error: ")),
        "{dropped:?}"
    );

    // A malformed second reply (after negotiation's): the client reports
    // it and gives up on the connection, as qemu.qmp does.
    let listen = dir.path().join("malformed.sock");
    let mut replaying = replay_with(&recording, &listen, false, &["--malformed-every", "2"]);
    let malformed = runtime()
        .block_on(async { tokio::time::timeout(Duration::from_secs(20), scenario(&listen)).await });
    let _ = replaying.kill();
    let _ = replaying.wait();
    let malformed = malformed.expect("no hang after a malformed reply");
    assert!(
        malformed.first().is_some_and(|r| r.starts_with("error: ")),
        "{malformed:?}"
    );

    // compare.py: the recording against the real QEMU and against fake-qemu.
    let against_qemu = compare(&python, &conformance, None, &recording);
    assert!(
        against_qemu.contains("1 passed, 0 failed"),
        "{against_qemu}"
    );
    let fake = format!("{QMP} fake-qemu --introspection {}", reply.display());
    let against_fake = compare(&python, &conformance, Some(&fake), &recording);
    assert!(
        against_fake.contains("1 passed, 0 failed"),
        "{against_fake}"
    );

    // A client that strays from the recording fails strict replay.
    let listen = dir.path().join("strict.sock");
    let replaying = replay(&recording, &listen, true);
    let strayed = runtime().block_on(async {
        let client = Client::connect_unix(&listen).await.expect("connect");
        let first = client.execute("query-version", ()).await;
        let _ = client.execute("query-status", ()).await;
        first
    });
    let error = strayed.expect_err("out of order").to_string();
    assert!(
        error.contains(
            "qmp replay: expected 'query-status' (recorded command 1), got 'query-version'"
        ),
        "{error}"
    );
    let mut replaying = replaying;
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_raw(replaying.id() as i32).expect("pid"),
        rustix::process::Signal::TERM,
    );
    let status = replaying.wait().expect("replay exit");
    let mut report = String::new();
    use std::io::Read;
    replaying
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut report)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{report}");
    assert!(
        report.contains("replay: 1 out of order\n  query-version"),
        "{report}"
    );
    assert!(
        report.contains("replay: 10 recorded but never sent"),
        "{report}"
    );
}

#[test]
fn python_qemu_qmp_against_a_replay_of_its_own_session() {
    let (Some(qemu), Some(python)) = (
        qmp_test_support::qemu_system(),
        qmp_test_support::python_with_qemu_qmp(),
    ) else {
        return;
    };
    let script: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/qemu_qmp_client.py");
    let run =
        |socket: &Path| qmp_test_support::checkers::run_python_script(&python, &script, socket);
    let dir = qmp_test_support::temp_dir();
    let recording = dir.path().join("python.jsonl");
    let recorder = record(&qemu, &dir.path().join("rec.sock"), &recording);
    let live = run(&dir.path().join("rec.sock"));
    drop(recorder);
    let listen = dir.path().join("replay.sock");
    let mut replaying = replay(&recording, &listen, false);
    let replayed = run(&listen);
    let _ = replaying.kill();
    let _ = replaying.wait();
    assert_eq!(replayed, live);
    assert_eq!(
        replayed.lines().filter(|l| l.starts_with("ok: ")).count(),
        6,
        "{replayed}"
    );
}
