//! The blocking facade against the real QEMU and qemu-ga, from plain threads.

use std::time::Duration;

use qmp_client::blocking::{BlockingAgent, BlockingClient};
use qmp_client::{AgentConfig, ClientConfig, EventFilter, QemuLauncher, Value};

const STEP: Duration = Duration::from_secs(10);

#[test]
fn blocking_client_against_qemu() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    let launcher =
        QemuLauncher::new(qemu).args(["-machine", "none", "-S", "-nodefaults", "-display", "none"]);
    let client = BlockingClient::launch(&launcher, ClientConfig::default()).expect("launch");
    let version = client.execute("query-version", ()).expect("query-version");
    assert_eq!(
        version
            .get("qemu")
            .and_then(|q| q.get("major"))
            .and_then(Value::as_i64),
        Some(client.greeting().version.qemu.major)
    );
    let mut events = client.subscribe(EventFilter::names(["STOP", "RESUME"]));
    client.execute("cont", ()).expect("cont");
    client.execute("stop", ()).expect("stop");
    assert_eq!(events.next_timeout(STEP).expect("RESUME").name, "RESUME");
    assert_eq!(events.next().expect("STOP").name, "STOP");
    let err = client
        .exec_oob("migrate-pause", ())
        .expect_err("QEMU's error");
    assert!(err.as_qmp().is_some());
    // Threads share one blocking client.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..25 {
                    client.execute("query-status", ()).expect("query-status");
                }
            });
        }
    });
    let shutdown = client.quit(STEP).expect("quit");
    assert_eq!(shutdown.name, "SHUTDOWN");
    assert!(
        events.next().is_none(),
        "the subscription ends with the connection"
    );
}

#[test]
fn blocking_agent_against_qemu_ga() {
    let Some(qga) = qmp_test_support::qemu_ga() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("qga.sock");
    let mut child = std::process::Command::new(qga)
        .args(["-m", "unix-listen", "-p"])
        .arg(&socket)
        .arg("-t")
        .arg(dir.path())
        .spawn()
        .expect("spawn qemu-ga");
    let mut tries = 0;
    while !socket.exists() && tries < 500 {
        std::thread::sleep(Duration::from_millis(10));
        tries += 1;
    }
    let result = std::panic::catch_unwind(|| {
        let agent = BlockingAgent::connect_unix(&socket, AgentConfig::default()).expect("connect");
        let info = agent.execute("guest-info", ()).expect("guest-info");
        assert!(info.get("version").is_some());
        assert!(agent
            .execute("guest-get-time", ())
            .expect("time")
            .as_i64()
            .is_some());
    });
    let _ = child.kill();
    let _ = child.wait();
    result.expect("agent checks");
}
