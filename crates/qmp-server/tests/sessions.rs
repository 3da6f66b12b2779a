//! Session behaviour: greeting, negotiation, framing and dispatch errors,
//! out-of-band execution, QEMU's queue limits, disconnects, slow clients,
//! many clients, one client at a time, shutdown.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{empty_command, qmp_config, start, Client};
use qmp_server::{CommandEntry, Reply, Server, ServerConfig, MAX_QUEUED_REQUESTS};
use qmp_wire::{Map, Response, Value};
use tokio::sync::Notify;

/// A command that blocks until `release` is notified.
fn blocking(name: &str, release: Arc<Notify>, started: Arc<AtomicUsize>) -> CommandEntry {
    CommandEntry::new(name, move |_| {
        let release = Arc::clone(&release);
        let started = Arc::clone(&started);
        async move {
            started.fetch_add(1, Ordering::SeqCst);
            release.notified().await;
            Ok(Reply::Value(Value::Object(Map::new())))
        }
    })
}

/// A server with `block` (waits for `release`), `query-name` and the
/// out-of-band `migrate-pause`.
async fn blocking_server() -> (common::Running, Arc<Notify>, Arc<AtomicUsize>) {
    blocking_server_configured(|_| {}).await
}

/// [`blocking_server`], its configuration changed by `configure`.
async fn blocking_server_configured(
    configure: impl FnOnce(&mut ServerConfig),
) -> (common::Running, Arc<Notify>, Arc<AtomicUsize>) {
    let release = Arc::new(Notify::new());
    let started = Arc::new(AtomicUsize::new(0));
    let running = start(
        Server::builder(qmp_config())
            .configure(configure)
            .command(blocking(
                "block",
                Arc::clone(&release),
                Arc::clone(&started),
            ))
            .command(empty_command("query-name"))
            .command(oob_command("migrate-pause"))
            .build(),
    )
    .await;
    (running, release, started)
}

fn oob_command(name: &str) -> CommandEntry {
    empty_command(name).allow_oob(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greeting_and_negotiation_texts() {
    let running = start(
        Server::builder(qmp_config())
            .command(empty_command("query-name"))
            .build(),
    )
    .await;
    let mut c = Client::connect(&running.socket).await;
    assert_eq!(
        c.line().await,
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"qmp-rs test\"}, \"capabilities\": [\"oob\"]}}\r\n"
    );
    c.send(r#"{"execute": "query-name", "id": 1}"#).await;
    assert_eq!(c.line().await, "{\"id\": 1, \"error\": {\"class\": \"CommandNotFound\", \"desc\": \"Expecting capabilities negotiation with 'qmp_capabilities'\"}}\r\n");
    c.send(r#"{"execute": "nope"}"#).await;
    assert_eq!(c.line().await, "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"Expecting capabilities negotiation with 'qmp_capabilities'\"}}\r\n");
    for (args, desc) in [
        (
            r#"{"enable": "oob"}"#,
            "Invalid parameter type for 'enable', expected: array",
        ),
        (
            r#"{"enable": [1]}"#,
            "Invalid parameter type for 'enable[0]', expected: string",
        ),
        (
            r#"{"enable": ["nope"]}"#,
            "Parameter 'null' does not accept value 'nope'",
        ),
        (r#"{"extra": 1}"#, "Parameter 'extra' is unexpected"),
    ] {
        c.send(&format!(
            r#"{{"execute": "qmp_capabilities", "arguments": {args}}}"#
        ))
        .await;
        assert_eq!(
            c.line().await,
            format!("{{\"error\": {{\"class\": \"GenericError\", \"desc\": \"{desc}\"}}}}\r\n")
        );
    }
    c.send(r#"{"exec-oob": "qmp_capabilities"}"#).await;
    assert!(c
        .line()
        .await
        .contains("QMP input member 'exec-oob' is unexpected"));
    c.send(r#"{"execute": "qmp_capabilities", "arguments": {"enable": []}}"#)
        .await;
    assert_eq!(c.line().await, "{\"return\": {}}\r\n");
    c.send(r#"{"execute": "qmp_capabilities"}"#).await;
    assert_eq!(c.line().await, "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"Capabilities negotiation is already complete, command ignored\"}}\r\n");
    c.send(
        r#"{"execute": "query-name", "id": "x"} {"execute": "query-name", "arguments": {"a": 1}}"#,
    )
    .await;
    assert_eq!(c.line().await, "{\"return\": {}, \"id\": \"x\"}\r\n");
    assert_eq!(
        c.line().await,
        "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Parameter 'a' is unexpected\"}}\r\n"
    );
    c.send(r#"{"execute": "query-version"}"#).await;
    assert_eq!(c.line().await, "{\"return\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"qmp-rs test\"}}\r\n");
    c.send(r#"{"execute": "query-commands"}"#).await;
    let commands = c.line().await;
    for name in [
        "query-name",
        "qmp_capabilities",
        "query-version",
        "query-commands",
    ] {
        assert!(
            commands.contains(&format!("{{\"name\": \"{name}\"}}")),
            "{commands}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capability_not_offered_is_refused() {
    let running = start(
        Server::builder(qmp_config())
            .configure(|c| c.offer_oob = false)
            .build(),
    )
    .await;
    let mut c = Client::connect(&running.socket).await;
    assert!(c.line().await.contains("\"capabilities\": []"));
    c.send(r#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}"#)
        .await;
    assert_eq!(c.line().await, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Capability oob not available\"}}\r\n");
    c.send(r#"{"execute": "qmp_capabilities"}"#).await;
    assert_eq!(c.line().await, "{\"return\": {}}\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oob_command_answers_while_in_band_command_blocks() {
    let (running, release, _) = blocking_server().await;
    let mut c = Client::negotiated(&running.socket, true).await;
    c.send(r#"{"execute": "block", "id": "b"}{"execute": "query-name", "id": "q"}"#)
        .await;
    c.send(r#"{"exec-oob": "migrate-pause", "id": "o"}"#).await;
    assert_eq!(c.line().await, "{\"return\": {}, \"id\": \"o\"}\r\n");
    c.send(r#"{"exec-oob": "query-name", "id": "o2"}"#).await;
    assert_eq!(c.line().await, "{\"id\": \"o2\", \"error\": {\"class\": \"GenericError\", \"desc\": \"The command query-name does not support OOB\"}}\r\n");
    c.send(r#"{"exec-oob": "migrate-pause", "id": "o3", "bogus": 1}"#)
        .await;
    assert_eq!(c.line().await, "{\"id\": \"o3\", \"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input member 'bogus' is unexpected\"}}\r\n");
    release.notify_one();
    assert_eq!(c.line().await, "{\"return\": {}, \"id\": \"b\"}\r\n");
    assert_eq!(c.line().await, "{\"return\": {}, \"id\": \"q\"}\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_stops_at_eight_queued_and_resumes() {
    let (running, release, started) = blocking_server().await;
    let mut c = Client::negotiated(&running.socket, true).await;
    // One running, eight queued: the ninth in-band request is not read, nor
    // is the oob request behind it.
    c.send(r#"{"execute": "block", "id": "b"}"#).await;
    for i in 0..MAX_QUEUED_REQUESTS {
        c.send(&format!(r#"{{"execute": "query-name", "id": {i}}}"#))
            .await;
    }
    c.send(r#"{"exec-oob": "migrate-pause", "id": "late"}"#)
        .await;
    assert!(
        c.quiet_for(Duration::from_millis(300)).await,
        "oob must wait while the queue is full"
    );
    assert_eq!(started.load(Ordering::SeqCst), 1);
    release.notify_one();
    let mut lines = Vec::new();
    for _ in 0..MAX_QUEUED_REQUESTS + 2 {
        lines.push(c.line().await);
    }
    assert_eq!(lines[0], "{\"return\": {}, \"id\": \"b\"}\r\n");
    // The oob reply comes once reading resumed, before or among the queued replies.
    assert!(lines.contains(&"{\"return\": {}, \"id\": \"late\"}\r\n".to_string()));
    let in_band: Vec<_> = lines
        .iter()
        .filter(|l| !l.contains("late"))
        .skip(1)
        .cloned()
        .collect();
    let want: Vec<_> = (0..MAX_QUEUED_REQUESTS)
        .map(|i| format!("{{\"return\": {{}}, \"id\": {i}}}\r\n"))
        .collect();
    assert_eq!(in_band, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_oob_one_request_at_a_time() {
    let (running, release, _) = blocking_server().await;
    let mut c = Client::negotiated(&running.socket, false).await;
    c.send(r#"{"execute": "block", "id": "b"}{"exec-oob": "migrate-pause", "id": "o"}{"execute": "query-name", "id": "q"}"#).await;
    assert!(c.quiet_for(Duration::from_millis(300)).await);
    release.notify_one();
    assert_eq!(c.line().await, "{\"return\": {}, \"id\": \"b\"}\r\n");
    assert_eq!(c.line().await, "{\"id\": \"o\", \"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input member 'exec-oob' is unexpected\"}}\r\n");
    assert_eq!(c.line().await, "{\"return\": {}, \"id\": \"q\"}\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipelining_server_starts_every_buffered_request_at_once() {
    // A forwarding server (a proxy) runs up to `in_band_pipeline` in-band
    // commands at a time: requests that arrive in one read all start
    // before any of them is answered, without oob as with it.
    for oob in [false, true] {
        let (running, release, started) = blocking_server_configured(|config| {
            config.in_band_pipeline = 8;
            config.serialize_in_band = false;
        })
        .await;
        let mut c = Client::negotiated(&running.socket, oob).await;
        let batch: String = (0..5)
            .map(|i| format!(r#"{{"execute": "block", "id": {i}}}"#))
            .collect();
        c.send(&batch).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while started.load(Ordering::SeqCst) < 5 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            started.load(Ordering::SeqCst),
            5,
            "all five run together (oob: {oob})"
        );
        for i in 0..5 {
            release.notify_one();
            assert_eq!(
                c.line().await,
                format!("{{\"return\": {{}}, \"id\": {i}}}\r\n")
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_band_commands_of_all_sessions_share_one_main_loop() {
    let (running, release, started) = blocking_server().await;
    let mut a = Client::negotiated(&running.socket, true).await;
    let mut b = Client::negotiated(&running.socket, true).await;
    a.send(r#"{"execute": "block", "id": "a"}"#).await;
    while started.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    b.send(r#"{"execute": "query-name", "id": "b"}{"exec-oob": "migrate-pause", "id": "bo"}"#)
        .await;
    assert_eq!(b.line().await, "{\"return\": {}, \"id\": \"bo\"}\r\n");
    assert!(b.quiet_for(Duration::from_millis(200)).await);
    release.notify_one();
    assert_eq!(a.line().await, "{\"return\": {}, \"id\": \"a\"}\r\n");
    assert_eq!(b.line().await, "{\"return\": {}, \"id\": \"b\"}\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_each_get_their_own_replies() {
    let running = start(
        Server::builder(qmp_config())
            .command(CommandEntry::new("echo", |call| async move {
                Ok(Reply::Value(Value::Object(call.arguments)))
            }))
            .build(),
    )
    .await;
    let clients = 1000;
    let commands = 100;
    let mut tasks = Vec::new();
    for n in 0..clients {
        let socket = running.socket.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Client::negotiated(&socket, n % 2 == 0).await;
            // Pipeline a batch, then check every reply is ours and in order.
            let mut batch = String::new();
            for i in 0..commands {
                batch.push_str(&format!(
                    r#"{{"execute": "echo", "arguments": {{"client": {n}, "i": {i}}}, "id": {i}}}"#
                ));
            }
            c.send(&batch).await;
            for i in 0..commands {
                let mut echoed = Map::new();
                echoed.insert("client", n);
                echoed.insert("i", i);
                let want = Response::ok(echoed, Some(Value::from(i))).to_value();
                assert_eq!(c.line().await, want.to_string_qemu() + "\r\n");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Compact encoding in QEMU's member order, as the server writes.
trait QemuText {
    fn to_string_qemu(&self) -> String;
}

impl QemuText for Value {
    fn to_string_qemu(&self) -> String {
        let bytes = qmp_wire::Encoder::QMP
            .with_order(qmp_wire::MemberOrder::Qemu)
            .message_bytes(self);
        String::from_utf8(bytes).unwrap().trim_end().to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_mid_command_lets_the_handler_finish() {
    let release = Arc::new(Notify::new());
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let done = Arc::clone(&finished);
    let gate = Arc::clone(&release);
    let begun = Arc::clone(&started);
    let running = start(
        Server::builder(qmp_config())
            .command(CommandEntry::new("slow", move |_| {
                let (gate, begun, done) =
                    (Arc::clone(&gate), Arc::clone(&begun), Arc::clone(&done));
                async move {
                    begun.fetch_add(1, Ordering::SeqCst);
                    gate.notified().await;
                    done.fetch_add(1, Ordering::SeqCst);
                    Ok(Reply::Value(Value::Object(Map::new())))
                }
            }))
            .build(),
    )
    .await;
    let mut c = Client::negotiated(&running.socket, true).await;
    c.send(r#"{"execute": "slow"}{"execute": "slow"}"#).await;
    while started.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    drop(c);
    tokio::time::sleep(Duration::from_millis(100)).await;
    release.notify_one();
    for _ in 0..100 {
        if running.server.active_sessions() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(running.server.active_sessions(), 0);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "the running command finished"
    );
    assert_eq!(
        started.load(Ordering::SeqCst),
        1,
        "the queued one was dropped"
    );
    // The server still serves.
    let mut c = Client::negotiated(&running.socket, false).await;
    c.send(r#"{"execute": "query-version", "id": 1}"#).await;
    assert!(c.line().await.contains("\"id\": 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped_and_others_go_on() {
    let running = start(
        Server::builder(qmp_config())
            .command(CommandEntry::new("big", |_| async {
                Ok(Reply::Value(Value::String("x".repeat(256 * 1024))))
            }))
            .build(),
    )
    .await;
    let mut lazy = Client::negotiated(&running.socket, true).await;
    let mut other = Client::negotiated(&running.socket, true).await;
    // 60 replies of 256 KiB: far more than the backlog limit (8 MiB).
    for _ in 0..6 {
        let batch: String = (0..10).map(|_| r#"{"execute": "big"}"#).collect();
        lazy.send(&batch).await;
    }
    for i in 0..20 {
        other
            .send(&format!(r#"{{"execute": "query-version", "id": {i}}}"#))
            .await;
        assert!(other.line().await.contains(&format!("\"id\": {i}")));
    }
    for _ in 0..200 {
        if running.server.active_sessions() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        running.server.active_sessions(),
        1,
        "the lazy client was dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_at_a_time_like_qemus_chardev() {
    let running = start(
        Server::builder(qmp_config())
            .configure(|c| c.one_client_at_a_time = true)
            .command(empty_command("query-name"))
            .build(),
    )
    .await;
    let mut a = Client::negotiated(&running.socket, false).await;
    let mut b = Client::connect(&running.socket).await;
    b.send(r#"{"execute": "query-name", "id": "B1"}"#).await;
    assert!(
        b.quiet_for(Duration::from_millis(300)).await,
        "no greeting while A is connected"
    );
    a.send(r#"{"execute": "query-name", "id": "A1"}"#).await;
    assert_eq!(a.line().await, "{\"return\": {}, \"id\": \"A1\"}\r\n");
    drop(a);
    assert!(b.line().await.contains("\"QMP\""));
    assert!(b
        .line()
        .await
        .contains("Expecting capabilities negotiation"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_running_commands() {
    let (running, release, started) = blocking_server().await;
    let mut c = Client::negotiated(&running.socket, false).await;
    c.send(r#"{"execute": "block", "id": 1}"#).await;
    while started.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    let server = running.server.clone();
    let shutdown = tokio::spawn(async move { server.shutdown().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!shutdown.is_finished());
    release.notify_one();
    assert_eq!(c.line().await, "{\"return\": {}, \"id\": 1}\r\n");
    assert!(c.closed().await);
    tokio::time::timeout(Duration::from_secs(5), shutdown)
        .await
        .unwrap()
        .unwrap();
    assert!(
        std::os::unix::net::UnixStream::connect(&running.socket).is_err()
            || running.server.active_sessions() == 0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_is_private_and_stale_files_are_replaced() {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::TempDir::new();
    let path = dir.path("s.sock");
    std::fs::write(&path, b"stale").unwrap();
    let listener = Server::bind_unix(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let err = Server::bind_unix(&path).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_stream_and_an_open_fd_can_carry_a_session() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let server = Server::builder(qmp_config()).build();
    // A byte stream (what stdio uses too).
    let (client, served) = tokio::io::duplex(4096);
    let serving = server.clone();
    tokio::spawn(async move { serving.serve_stream(served).await });
    let (read, mut write) = tokio::io::split(client);
    let mut lines = BufReader::new(read).lines();
    assert!(lines
        .next_line()
        .await
        .unwrap()
        .unwrap()
        .contains("\"QMP\""));
    write
        .write_all(br#"{"execute": "qmp_capabilities", "id": 1}"#)
        .await
        .unwrap();
    assert_eq!(
        lines.next_line().await.unwrap().unwrap(),
        "{\"return\": {}, \"id\": 1}"
    );
    // An already open, connected socket handed over as a raw fd.
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = std::os::fd::IntoRawFd::into_raw_fd(theirs);
    let serving = server.clone();
    // SAFETY: the fd is a connected socket that nothing else owns.
    tokio::spawn(async move { unsafe { serving.serve_fd(fd).await } });
    let stream = tokio::net::UnixStream::from_std({
        ours.set_nonblocking(true).unwrap();
        ours
    })
    .unwrap();
    let mut lines = BufReader::new(stream).lines();
    assert!(lines
        .next_line()
        .await
        .unwrap()
        .unwrap()
        .contains("\"QMP\""));
}
