//! Scenarios that hold for any QMP server that behaves like QEMU 7.2.
//! Each takes a connected client; the launcher decides what server that is.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use qmp_client::{
    CallOptions, Client, Command, Error, EventFilter, Map, OobCommand, QemuExt, Value,
};
use qmp_wire::ErrorClass;

/// Generous bound for one step of a scenario.
pub const STEP: Duration = Duration::from_secs(10);

fn args(members: &[(&str, Value)]) -> Map {
    members
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// `query-version` matches the greeting's version; oob was negotiated.
pub async fn query_version(client: &Client) {
    let version = client
        .execute("query-version", ())
        .await
        .expect("query-version");
    let greeting = client.greeting().expect("a greeting");
    let part = |k: &str| {
        version
            .get("qemu")
            .and_then(|q| q.get(k))
            .and_then(Value::as_i64)
    };
    assert_eq!(part("major"), Some(greeting.version.qemu.major));
    assert_eq!(part("minor"), Some(greeting.version.qemu.minor));
    assert_eq!(part("micro"), Some(greeting.version.qemu.micro));
    assert!(
        client.oob_enabled(),
        "oob is offered on a socket monitor and enabled"
    );
}

/// `query-qmp-schema` as a plain value: it lists query-version as a command
/// and migrate-pause with allow-oob.
pub async fn query_qmp_schema(client: &Client) {
    let schema = client
        .execute("query-qmp-schema", ())
        .await
        .expect("query-qmp-schema");
    let entries = schema.as_array().expect("schema is an array");
    assert!(entries.len() > 100, "only {} entries", entries.len());
    let find = |name: &str| {
        entries
            .iter()
            .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
            .unwrap_or_else(|| panic!("{name} not in the schema"))
    };
    assert_eq!(
        find("query-version")
            .get("meta-type")
            .and_then(Value::as_str),
        Some("command")
    );
    assert_eq!(
        find("migrate-pause")
            .get("allow-oob")
            .and_then(Value::as_bool),
        Some(true)
    );
}

/// On a stopped machine: `cont` then `stop`, with RESUME and STOP seen
/// through a subscription, in that order, each before its reply.
pub async fn stop_cont_events(client: &Client) {
    let mut events = client.subscribe(EventFilter::names(["STOP", "RESUME"]));
    let status = client
        .execute("query-status", ())
        .await
        .expect("query-status");
    assert_eq!(status.get("running").and_then(Value::as_bool), Some(false));
    client.execute("cont", ()).await.expect("cont");
    // Events that a command causes precede its reply, so it is buffered now.
    let resume = events.try_next().expect("RESUME arrived before the reply");
    assert_eq!(resume.name, "RESUME");
    client.execute("stop", ()).await.expect("stop");
    let stop = events.next_timeout(STEP).await.expect("STOP");
    assert_eq!(stop.name, "STOP");
    assert!(stop.timestamp >= resume.timestamp);
    // A second, independent subscriber sees the same events.
    let mut other = client.subscribe("RESUME");
    let (_, event) = client
        .execute_and_wait("cont", (), "RESUME", STEP)
        .await
        .expect("cont and RESUME");
    assert_eq!(event.name, "RESUME");
    assert_eq!(
        other
            .next_timeout(STEP)
            .await
            .expect("second subscriber")
            .name,
        "RESUME"
    );
    assert!(events.try_next().is_some_and(|e| e.name == "RESUME"));
}

/// `getfd` with a real descriptor, then `closefd`; a second `closefd`
/// fails with QEMU's error; `add-fd` returns an fd set.
pub async fn getfd_closefd(client: &Client) {
    let (read, write) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    client
        .getfd("test-fd", OwnedFd::from(read))
        .await
        .expect("getfd");
    client.closefd("test-fd").await.expect("closefd");
    let again = client.closefd("test-fd").await.expect_err("closed twice");
    let qmp = again.as_qmp().expect("a QMP error");
    assert_eq!(qmp.class, ErrorClass::GenericError);
    assert_eq!(qmp.desc, "File descriptor named 'test-fd' not found");
    let info = client
        .add_fd(OwnedFd::from(write), None, Some("test"))
        .await
        .expect("add-fd");
    let fdset = info
        .get("fdset-id")
        .and_then(Value::as_i64)
        .expect("fdset-id");
    let fdsets = client
        .execute("query-fdsets", ())
        .await
        .expect("query-fdsets");
    let listed = fdsets.as_array().expect("a list");
    assert!(listed
        .iter()
        .any(|s| s.get("fdset-id").and_then(Value::as_i64) == Some(fdset)));
    client
        .execute("remove-fd", args(&[("fdset-id", fdset.into())]))
        .await
        .expect("remove-fd");
}

/// `exec-oob` of `migrate-pause` gets QEMU's error (no migration runs).
pub async fn oob_migrate_pause(client: &Client) {
    let oob = || CallOptions::new().out_of_band();
    let err = client
        .execute_with("migrate-pause", (), oob())
        .await
        .expect_err("not in postcopy");
    let qmp = err.as_qmp().expect("a QMP error");
    assert_eq!(qmp.class, ErrorClass::GenericError);
    assert_eq!(
        qmp.desc,
        "migrate-pause is currently only supported during postcopy-active state"
    );
    // Typed, out of band, with a deadline: the same reply.
    let typed = client
        .call_with(&MigratePause {}, oob().timeout(STEP))
        .await
        .expect_err("not in postcopy");
    assert_eq!(typed.as_qmp(), Some(qmp));
    let shorthand = client.call_oob(&MigratePause {}).await.expect_err("same");
    assert_eq!(shorthand.as_qmp(), Some(qmp));
    let err = client
        .execute_with("query-name", (), oob())
        .await
        .expect_err("not oob");
    assert_eq!(
        err.as_qmp().map(|e| e.desc.as_str()),
        Some("The command query-name does not support OOB")
    );
}

/// `migrate-pause`, typed by hand as generated bindings type it: it may
/// run out of band.
#[derive(serde::Serialize)]
pub struct MigratePause {}

impl Command for MigratePause {
    const NAME: &'static str = "migrate-pause";
    const ALLOW_OOB: bool = true;
    type Returns = qmp_client::Empty;
}

impl OobCommand for MigratePause {}

/// `getfd`, typed by hand.
#[derive(serde::Serialize)]
pub struct Getfd {
    /// The name QEMU keeps the descriptor under.
    pub fdname: String,
}

impl Command for Getfd {
    const NAME: &'static str = "getfd";
    type Returns = qmp_client::Empty;
}

/// A typed call with a descriptor and a deadline together, then the
/// descriptor closed by name.
pub async fn typed_call_with_fd_and_deadline(client: &Client) {
    let (read, _write) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    let getfd = Getfd {
        fdname: "typed-fd".into(),
    };
    let options = CallOptions::new().fd(OwnedFd::from(read)).timeout(STEP);
    client
        .call_with(&getfd, options)
        .await
        .expect("getfd with a descriptor");
    client.closefd("typed-fd").await.expect("closefd");
}

/// `tasks` tasks each send `per_task` commands on one connection; every
/// reply reaches its own caller (errors name the caller's own id).
pub async fn many_tasks(client: &Client, tasks: usize, per_task: usize) {
    let mut handles = Vec::new();
    for task in 0..tasks {
        let client = client.clone();
        handles.push(tokio::spawn(async move {
            for n in 0..per_task {
                if n % 2 == 0 {
                    let id = format!("dev-{task}-{n}");
                    let err = client
                        .execute("device_del", args(&[("id", id.as_str().into())]))
                        .await
                        .expect_err("no such device");
                    let qmp = err.as_qmp().expect("a QMP error");
                    assert_eq!(qmp.class, ErrorClass::DeviceNotFound);
                    assert_eq!(qmp.desc, format!("Device '{id}' not found"));
                } else {
                    let status = client
                        .execute("query-status", ())
                        .await
                        .expect("query-status");
                    assert!(status.get("status").and_then(Value::as_str).is_some());
                }
            }
        }));
    }
    for handle in handles {
        handle.await.expect("task");
    }
}

/// `quit`: the SHUTDOWN event, then a clean close.
pub async fn quit(client: &Client) {
    let event = client.quit(STEP).await.expect("quit");
    assert_eq!(event.name, "SHUTDOWN");
    assert_eq!(
        event
            .data
            .as_ref()
            .and_then(|d| d.get("reason"))
            .and_then(Value::as_str),
        Some("host-qmp-quit")
    );
    let reason = client.closed_reason().expect("closed");
    assert!(reason.contains("closed the connection"), "{reason}");
    let err = client.execute("query-name", ()).await.expect_err("closed");
    assert!(err.is_disconnected(), "{err}");
}

/// The server process is frozen with a call pending, then killed with
/// SIGKILL: the call fails at once with a disconnect, as do the others.
pub async fn killed_mid_call(client: &Client) {
    let pid = client.child_pid().expect("a launched server") as i32;
    let pid = rustix::process::Pid::from_raw(pid).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).expect("SIGSTOP");
    let pending: Vec<_> = (0..3)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.execute("query-status", ()).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let killed = Instant::now();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("SIGKILL");
    for call in pending {
        let result = tokio::time::timeout(STEP, call)
            .await
            .expect("failed in time")
            .expect("task");
        assert!(matches!(result, Err(Error::Disconnected(_))), "{result:?}");
    }
    assert!(
        killed.elapsed() < Duration::from_secs(2),
        "took {:?}",
        killed.elapsed()
    );
    let closed: Arc<str> = client.closed().await;
    assert!(
        closed.contains("closed") || closed.contains("failed"),
        "{closed}"
    );
    // The client launched it, so it says what happened to it.
    assert!(
        closed.contains("was killed by signal 9 (SIGKILL)"),
        "{closed}"
    );
}

/// A command that blocks QEMU's main loop (blockdev-add of a blkdebug node
/// whose config is a FIFO nobody writes) with 20 more in-band commands
/// behind it: the client keeps at most 8 in flight, so QEMU keeps reading
/// and an `exec-oob` still answers. Opening the FIFO releases everything.
pub async fn oob_passes_blocked_inband(client: &Client) {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("blkdebug.conf");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let blockdev = args(&[
        ("driver", "blkdebug".into()),
        ("node-name", "blocker".into()),
        ("config", fifo.to_str().expect("utf-8 path").into()),
        (
            "image",
            Value::Object(args(&[
                ("driver", "null-co".into()),
                ("read-zeroes", true.into()),
            ])),
        ),
    ]);
    let blocker = {
        let client = client.clone();
        tokio::spawn(async move { client.execute("blockdev-add", blockdev).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let queued: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.execute("query-status", ()).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let options = CallOptions::new()
        .timeout(Duration::from_secs(5))
        .out_of_band();
    let err = client
        .execute_with("migrate-pause", (), options)
        .await
        .expect_err("QEMU's error, out of band");
    assert!(err.as_qmp().is_some(), "{err}");
    assert!(!blocker.is_finished() && queued.iter().all(|q| !q.is_finished()));
    let fifo = fifo.to_owned();
    tokio::task::spawn_blocking(move || drop(std::fs::OpenOptions::new().write(true).open(fifo)))
        .await
        .expect("unblock");
    blocker.await.expect("task").expect("blockdev-add");
    for q in queued {
        q.await.expect("task").expect("query-status");
    }
    client
        .execute("blockdev-del", args(&[("node-name", "blocker".into())]))
        .await
        .expect("blockdev-del");
}
