//! `qmp exec`, `qmp events`, `qmp serve`, `qmp bench` and `qmp completions`
//! as a user runs them: exit codes, output, and a served simulator used by
//! the other commands.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use qmp_test_support::{TestProcess, QEMU_HEADLESS, QEMU_NO_MACHINE};

const QMP: &str = env!("CARGO_BIN_EXE_qmp");

fn qmp(args: &[&str]) -> Output {
    Command::new(QMP).args(args).output().expect("run qmp")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn exec_prints_results_and_reports_errors_with_exit_codes() {
    let ok = qmp(&["exec", "--sim", "--compact", "query-status"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert_eq!(
        text(&ok.stdout),
        "{\"status\": \"running\", \"singlestep\": false, \"running\": true}\n"
    );
    let pretty = qmp(&[
        "exec",
        "sim",
        "qom-get",
        r#"{"path": "/machine", "property": "type"}"#,
    ]);
    assert_eq!(text(&pretty.stdout), "\"none-machine\"\n");
    let error = qmp(&["exec", "sim", "device_del", "id=nope"]);
    assert_eq!(error.status.code(), Some(1));
    assert_eq!(
        text(&error.stderr),
        "DeviceNotFound: Device 'nope' not found\n"
    );
    let invalid = qmp(&["exec", "sim", "query-status", "bogus=1"]);
    assert_eq!(invalid.status.code(), Some(1));
    assert_eq!(
        text(&invalid.stderr),
        "GenericError: Parameter 'bogus' is unexpected\n"
    );
    let unreachable = qmp(&["exec", "/nonexistent/qmp.sock", "query-status"]);
    assert_eq!(unreachable.status.code(), Some(2));
    let bad_input = qmp(&["exec", "sim", "query-status", "novalue"]);
    assert_eq!(bad_input.status.code(), Some(2));
    assert!(text(&bad_input.stderr).contains("Expected a key=value pair, got 'novalue'"));
}

fn serve(extra: &[&str]) -> TestProcess {
    TestProcess::serve(QMP.as_ref(), extra).expect("start qmp serve")
}

#[test]
fn serve_events_and_exec_work_together() {
    let mut served = serve(&["-S"]);
    let socket = served.socket().to_str().unwrap().to_owned();
    let status = qmp(&["exec", &socket, "--compact", "query-status"]);
    assert!(
        text(&status.stdout).contains("\"prelaunch\""),
        "{}",
        text(&status.stdout)
    );
    let events = Command::new(QMP)
        .args([
            "events",
            &socket,
            "--name",
            "RESUME",
            "--count",
            "1",
            "--timeout",
            "20",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start qmp events");
    // Give the listener time to subscribe, then cause the event.
    std::thread::sleep(Duration::from_millis(500));
    assert!(qmp(&["exec", &socket, "cont"]).status.success());
    let output = events.wait_with_output().expect("events output");
    assert!(output.status.success());
    let line = text(&output.stdout);
    assert!(
        line.starts_with("{\"timestamp\": {\"seconds\": ")
            && line.contains("\"event\": \"RESUME\""),
        "{line}"
    );
    let none = qmp(&["events", &socket, "--count", "1", "--timeout", "0.3"]);
    assert_eq!(
        none.status.code(),
        Some(1),
        "timed out before --count events"
    );
    assert!(qmp(&["exec", &socket, "quit"]).status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = served.child().try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "qmp serve did not exit after quit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bench_reports_rates_as_json() {
    let output = qmp(&[
        "bench",
        "--sim",
        "--seconds",
        "0.3",
        "--depth",
        "4",
        "--json",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report = qmp_wire::from_slice(&output.stdout).expect("JSON");
    for run in ["sequential", "pipelined"] {
        let rate = report
            .get(run)
            .and_then(|r| r.get("per_second"))
            .and_then(qmp_wire::Value::as_f64);
        assert!(rate.is_some_and(|r| r > 0.0), "{run}: {report}");
        assert!(report.get(run).and_then(|r| r.get("p99_us")).is_some());
    }
}

#[test]
fn exec_launches_real_qemu() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    let qemu = qemu.to_str().unwrap().to_owned();
    let command = ["exec", "--launch", "--compact", "query-status", "--", &qemu];
    let output = qmp(&[&command[..], &QEMU_NO_MACHINE, &QEMU_HEADLESS, &["-S"]].concat());
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("\"status\": \"prelaunch\""));
}

#[test]
fn completions_are_generated() {
    let output = qmp(&["completions", "bash"]);
    assert!(output.status.success());
    assert!(text(&output.stdout).contains("qmp"));
}

/// `qmp serve --tcp --tls-cert --tls-key` and `qmp exec --tls-ca`: the
/// simulator over TLS, and the shell's one-shot command trusting its CA.
#[test]
fn serve_and_exec_over_tls() {
    let certs = qmp_test_support::temp_dir();
    if qmp_test_support::tls_certificates(certs.path()).is_none() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let address = format!("127.0.0.1:{port}");
    let file = |name: &str| certs.path().join(name).to_string_lossy().into_owned();
    let child = Command::new(QMP)
        .args(["serve", "--tcp", &address])
        .args(["--tls-cert", &file("server-cert.pem")])
        .args(["--tls-key", &file("server-key.pem")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start qmp serve");
    let _served = TestProcess::adopt(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(&address).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let target = format!("tcp:{address}");
    let ca = file("ca-cert.pem");
    let ok = qmp(&[
        "exec",
        "--tls-ca",
        &ca,
        "--compact",
        &target,
        "query-status",
    ]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).contains("\"running\": true"),
        "{}",
        text(&ok.stdout)
    );
    let untrusted = qmp(&[
        "exec",
        "--tls-ca",
        &file("server-cert.pem"),
        &target,
        "query-status",
    ]);
    assert_eq!(
        untrusted.status.code(),
        Some(2),
        "{}",
        text(&untrusted.stderr)
    );
    assert!(
        text(&untrusted.stderr).contains("TLS"),
        "{}",
        text(&untrusted.stderr)
    );
}
