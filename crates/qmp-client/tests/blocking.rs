//! The blocking facade from plain threads: against the real QEMU and
//! qemu-ga, the simulator (on its own runtime thread) and a scripted peer.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use qmp_client::blocking::{BlockingAgent, BlockingClient};
use qmp_client::{AgentConfig, CallOptions, EventFilter, QemuExt, QemuLauncher, Value};
use qmp_test_support::{QEMU_HEADLESS, QEMU_NO_MACHINE};

mod common;

use common::events::{DeviceDeleted, Resume};

const STEP: Duration = Duration::from_secs(10);

/// `getfd`, `closefd` (twice: QEMU's error), `add-fd` and the set listed.
fn fd_round(client: &BlockingClient) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    client
        .run(|c| c.getfd("blk-fd", OwnedFd::from(a)))
        .expect("getfd");
    client.run(|c| c.closefd("blk-fd")).expect("closefd");
    let err = client
        .run(|c| c.closefd("blk-fd"))
        .expect_err("closed twice");
    assert_eq!(
        err.as_qmp().map(|e| e.desc.as_str()),
        Some("File descriptor named 'blk-fd' not found")
    );
    let info = client
        .run(|c| c.add_fd(OwnedFd::from(b), Some(3), Some("blocking")))
        .expect("add-fd");
    assert_eq!(info.get("fdset-id").and_then(Value::as_i64), Some(3));
    let sets = client.execute("query-fdsets", ()).expect("query-fdsets");
    let set = sets.as_array().and_then(|s| s.first()).expect("one set");
    assert_eq!(
        set.get("fds")
            .and_then(Value::as_array)
            .and_then(|f| f.first())
            .and_then(|f| f.get("opaque"))
            .and_then(Value::as_str),
        Some("blocking")
    );
}

#[test]
fn blocking_client_against_qemu() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    let launcher = QemuLauncher::new(qemu)
        .args(QEMU_NO_MACHINE)
        .args(QEMU_HEADLESS)
        .arg("-S");
    let client = BlockingClient::builder()
        .call_timeout(STEP)
        .launch(&launcher)
        .expect("launch");
    let version = client.execute("query-version", ()).expect("query-version");
    assert_eq!(
        version
            .get("qemu")
            .and_then(|q| q.get("major"))
            .and_then(Value::as_i64),
        client.greeting().map(|g| g.version.qemu.major)
    );
    let mut events = client.subscribe(EventFilter::names(["STOP", "RESUME"]));
    let mut resumed = client.subscribe_typed::<Resume>();
    client.execute("cont", ()).expect("cont");
    resumed.next_timeout(STEP).expect("typed RESUME");
    fd_round(&client);
    client.execute("stop", ()).expect("stop");
    assert_eq!(events.next_timeout(STEP).expect("RESUME").name, "RESUME");
    assert_eq!(events.next().expect("STOP").name, "STOP");
    let err = client
        .execute_with("migrate-pause", (), CallOptions::new().out_of_band())
        .expect_err("QEMU's error");
    assert!(err.as_qmp().is_some());
    // Typed, out of band, with a deadline, through the facade.
    let options = CallOptions::new().out_of_band().timeout(STEP);
    let typed = client
        .call_with(&common::scenarios::MigratePause {}, options)
        .expect_err("QEMU's error");
    assert_eq!(typed.as_qmp(), err.as_qmp());
    let typed = client
        .call_oob(&common::scenarios::MigratePause {})
        .expect_err("QEMU's error");
    assert_eq!(typed.as_qmp(), err.as_qmp());
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
    let shutdown = client.run(|c| c.quit(STEP)).expect("quit");
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

/// A USB keyboard on a stopped PC: USB unplug needs no guest, so
/// `device_del` gets its `DEVICE_DELETED` at once.
#[test]
fn blocking_device_del_against_qemu() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    let launcher = QemuLauncher::new(qemu).args(QEMU_HEADLESS).args([
        "-M",
        "pc",
        "-S",
        "-accel",
        "tcg",
        "-device",
        "qemu-xhci,id=xhci",
        "-device",
        "usb-kbd,id=kbd0,bus=xhci.0",
    ]);
    let client = BlockingClient::builder().launch(&launcher).expect("launch");
    let mut typed = client.subscribe_typed::<DeviceDeleted>();
    let event = client
        .run(|c| c.device_del("kbd0", STEP))
        .expect("device_del");
    assert_eq!(event.map(|e| e.name).as_deref(), Some("DEVICE_DELETED"));
    let deleted = typed.next_timeout(STEP).expect("typed event");
    assert_eq!(deleted.device.as_deref(), Some("kbd0"));
    let err = client
        .run(|c| c.device_del("kbd0", STEP))
        .expect_err("gone");
    assert_eq!(
        err.as_qmp().map(|e| e.desc.as_str()),
        Some("Device 'kbd0' not found")
    );
    client.run(|c| c.quit(STEP)).expect("quit");
}

/// The facade against the simulator, served from its own runtime thread.
#[test]
fn blocking_client_against_the_simulator() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (ours, theirs) = UnixStream::pair().expect("socketpair");
    let launched = runtime.block_on(async {
        let theirs = tokio::net::UnixStream::from_std({
            theirs.set_nonblocking(true).expect("nonblocking");
            theirs
        })
        .expect("tokio stream");
        common::sim::Simulator::serve(common::Machine::NoneStopped, theirs)
    });
    if launched.is_none() {
        return;
    }
    let client = BlockingClient::builder()
        .from_unix_stream(ours)
        .expect("connect");
    let mut resumed = client.subscribe_typed::<Resume>();
    client.execute("cont", ()).expect("cont");
    resumed.next_timeout(STEP).expect("typed RESUME");
    assert!(resumed.try_next().is_none());
    fd_round(&client);
    let err = client
        .run(|c| c.device_del("nothing", STEP))
        .expect_err("no device");
    assert_eq!(
        err.as_qmp().map(|e| e.desc.as_str()),
        Some("Device 'nothing' not found")
    );
    client.run(|c| c.quit(STEP)).expect("quit");
}

/// A peer scripted on a plain thread: `device_del` returns once its own
/// `DEVICE_DELETED` arrives; typed subscriptions decode, iterate, and
/// report data that does not fit as an error item.
#[test]
fn blocking_device_del_and_typed_events_against_a_script() {
    let (ours, mut theirs) = UnixStream::pair().expect("socketpair");
    let peer = std::thread::spawn(move || {
        let mut decoder = qmp_wire::Decoder::new();
        let mut next = |stream: &mut UnixStream| loop {
            if let Some(item) = decoder.next() {
                let request = item.expect("JSON");
                return request.get("id").expect("an id").to_string();
            }
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).expect("read");
            assert!(n > 0, "client closed");
            decoder.feed(&buf[..n]);
        };
        let send = |stream: &mut UnixStream, text: &str| {
            stream.write_all(text.as_bytes()).expect("write");
            stream.write_all(b"\r\n").expect("write");
        };
        send(
            &mut theirs,
            r#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}"#,
        );
        let id = next(&mut theirs);
        send(&mut theirs, &format!(r#"{{"return": {{}}, "id": {id}}}"#));
        let id = next(&mut theirs);
        send(
            &mut theirs,
            r#"{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "DEVICE_DELETED", "data": {"device": "other", "path": "/o"}}"#,
        );
        send(&mut theirs, &format!(r#"{{"return": {{}}, "id": {id}}}"#));
        send(
            &mut theirs,
            r#"{"timestamp": {"seconds": 1, "microseconds": 1}, "event": "DEVICE_DELETED", "data": {"path": 7}}"#,
        );
        send(
            &mut theirs,
            r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "DEVICE_DELETED", "data": {"device": "disk0", "path": "/d"}}"#,
        );
    });
    let client = BlockingClient::builder()
        .from_unix_stream(ours)
        .expect("connect");
    let typed = client.subscribe_typed::<DeviceDeleted>();
    let event = client
        .run(|c| c.device_del("disk0", STEP))
        .expect("device_del");
    assert_eq!(
        event
            .and_then(|e| e.data)
            .and_then(|d| d.get("path").cloned()),
        Some(Value::from("/d"))
    );
    peer.join().expect("peer");
    let items: Vec<_> = typed.collect();
    assert_eq!(items.len(), 3, "the stream ends with the connection");
    assert_eq!(items[0].as_ref().ok().map(|d| d.path.as_str()), Some("/o"));
    assert!(items[1].is_err(), "a path that is not a string");
    assert_eq!(
        items[2].as_ref().ok().and_then(|d| d.device.as_deref()),
        Some("disk0")
    );
}
