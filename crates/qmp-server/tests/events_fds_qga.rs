//! Events (delivery, order, throttling under tokio's paused clock), file
//! descriptor passing, the guest agent mode, and connect-out mode.

mod common;

use std::io::{BufRead, Read, Seek, Write};
use std::os::fd::AsFd;
use std::time::Duration;

use common::{empty_command, qmp_config, start, version, Client};
use qmp_server::{CommandEntry, Reply, Server, ServerConfig, ThrottleTable};
use qmp_test_support::send_with_fds;
use qmp_wire::{Event, Map, QmpError, Timestamp, Value};

fn event_name(line: &str) -> Option<String> {
    let value = qmp_wire::from_str(line.trim_end()).ok()?;
    value
        .get("event")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_go_to_command_mode_sessions_before_the_reply_that_caused_them() {
    let running = start(
        Server::builder(qmp_config())
            .command(CommandEntry::new("stop", |call| async move {
                call.events.emit("STOP", None);
                Ok(Reply::Value(Value::Object(Map::new())))
            }))
            .build(),
    )
    .await;
    let mut negotiating = Client::connect(&running.socket).await;
    negotiating.line().await;
    let mut a = Client::negotiated(&running.socket, false).await;
    let mut b = Client::negotiated(&running.socket, true).await;
    a.send(r#"{"execute": "stop", "id": 1}"#).await;
    let event = a.line().await;
    assert!(
        event.starts_with("{\"timestamp\": {\"seconds\": "),
        "{event}"
    );
    assert!(event.ends_with("}, \"event\": \"STOP\"}\r\n"), "{event}");
    assert_eq!(a.line().await, "{\"return\": {}, \"id\": 1}\r\n");
    assert_eq!(event_name(&b.line().await).as_deref(), Some("STOP"));
    assert!(
        negotiating.quiet_for(Duration::from_millis(200)).await,
        "no events before negotiation"
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_keeps_one_per_second_and_the_last_state() {
    let running = start(
        Server::builder(qmp_config())
            .configure(|c| c.throttle = ThrottleTable::qemu_10_0())
            .build(),
    )
    .await;
    let mut c = Client::negotiated(&running.socket, false).await;
    let emitter = running.server.emitter();
    let vserport = |id: &str, open: bool| {
        let mut data = Map::new();
        data.insert("id", id);
        data.insert("open", open);
        Some(data)
    };
    // A burst: the first goes out at once, the rest collapse into the last.
    emitter.emit("RTC_CHANGE", Some([("offset", 1)].into_iter().collect()));
    emitter.emit("RTC_CHANGE", Some([("offset", 2)].into_iter().collect()));
    emitter.emit("RTC_CHANGE", Some([("offset", 3)].into_iter().collect()));
    // Keyed by data member: two ids are throttled separately.
    emitter.emit("VSERPORT_CHANGE", vserport("a", true));
    emitter.emit("VSERPORT_CHANGE", vserport("b", true));
    emitter.emit("VSERPORT_CHANGE", vserport("a", false));
    // Not throttled at all.
    emitter.emit("STOP", None);
    emitter.emit("STOP", None);
    // BLOCK_IO_ERROR with action stop is exempt in 10.0.
    let io_error = |action: &str| {
        let mut data = Map::new();
        data.insert("qom-path", "/d");
        data.insert("action", action);
        Some(data)
    };
    emitter.emit("BLOCK_IO_ERROR", io_error("stop"));
    emitter.emit("BLOCK_IO_ERROR", io_error("stop"));
    emitter.emit("BLOCK_IO_ERROR", io_error("report"));
    emitter.emit("BLOCK_IO_ERROR", io_error("report"));

    let mut now = Vec::new();
    for _ in 0..8 {
        now.push(c.line().await);
    }
    let names: Vec<_> = now.iter().filter_map(|l| event_name(l)).collect();
    assert_eq!(
        names,
        [
            "RTC_CHANGE",
            "VSERPORT_CHANGE",
            "VSERPORT_CHANGE",
            "STOP",
            "STOP",
            "BLOCK_IO_ERROR",
            "BLOCK_IO_ERROR",
            "BLOCK_IO_ERROR"
        ]
    );
    assert!(now[0].contains("\"offset\": 1"));
    // Then, after the window: the kept events, with their last data.
    let mut later = Vec::new();
    for _ in 0..3 {
        later.push(c.line().await);
    }
    let later = later.concat();
    assert!(
        later.contains("\"offset\": 3") && !later.contains("\"offset\": 2"),
        "{later}"
    );
    assert!(
        later.contains("\"id\": \"a\"") && later.contains("\"open\": false"),
        "{later}"
    );
    assert!(later.contains("\"action\": \"report\""), "{later}");
    // The windows reopened when the kept events went out and close quietly.
    let extra = tokio::time::timeout(Duration::from_secs(5), c.line()).await;
    assert!(extra.is_err(), "unexpected: {extra:?} after {later}");
    emitter.emit("RTC_CHANGE", Some([("offset", 4)].into_iter().collect()));
    assert!(
        c.line().await.contains("\"offset\": 4"),
        "a closed window sends at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_back_events_keep_their_timestamp() {
    let running = start(Server::builder(qmp_config()).build()).await;
    let mut c = Client::negotiated(&running.socket, false).await;
    let emitter = running.server.emitter();
    emitter.emit("WATCHDOG", None);
    let mut held = Event::new("WATCHDOG", None);
    held.timestamp = Timestamp {
        seconds: 12,
        microseconds: 345,
    };
    emitter.emit_event(held);
    c.line().await;
    assert_eq!(
        c.line().await,
        "{\"timestamp\": {\"seconds\": 12, \"microseconds\": 345}, \"event\": \"WATCHDOG\"}\r\n"
    );
}

/// A blocking (std) connection past negotiation, for sendmsg with fds.
fn blocking_negotiated(
    socket: &std::path::Path,
) -> (
    std::os::unix::net::UnixStream,
    std::io::BufReader<std::os::unix::net::UnixStream>,
) {
    let stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    (&stream)
        .write_all(br#"{"execute": "qmp_capabilities"}"#)
        .unwrap();
    reader.read_line(&mut line).unwrap();
    (stream, reader)
}

/// Sends `request` with `fd` attached (SCM_RIGHTS).
fn send_with_fd(
    stream: &std::os::unix::net::UnixStream,
    request: &[u8],
    fd: std::os::fd::BorrowedFd<'_>,
) {
    send_with_fds(stream, request, &[fd]).unwrap();
}

/// `getfd`-like command: takes the passed fd, reads what is in the file.
fn read_passed_fd() -> CommandEntry {
    CommandEntry::new("read-fd", |call| async move {
        let Some(fd) = call.session.take_received_fd() else {
            return Err(QmpError::generic(
                "No file descriptor supplied via SCM_RIGHTS",
            ));
        };
        let mut file = std::fs::File::from(fd);
        let mut text = String::new();
        file.rewind()
            .map_err(|e| QmpError::generic(e.to_string()))?;
        file.read_to_string(&mut text)
            .map_err(|e| QmpError::generic(e.to_string()))?;
        Ok(Reply::Value(Value::String(text)))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_descriptors_reach_the_handler() {
    let running = start(
        Server::builder(qmp_config())
            .command(read_passed_fd())
            .build(),
    )
    .await;
    let dir = common::TempDir::new();
    let path = dir.path("payload");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(b"hello through SCM_RIGHTS")
        .unwrap();
    let file = std::fs::File::open(&path).unwrap();

    let (stream, mut reader) = blocking_negotiated(&running.socket);
    let mut line = String::new();

    send_with_fd(&stream, br#"{"execute": "read-fd", "id": 1}"#, file.as_fd());
    reader.read_line(&mut line).unwrap();
    assert_eq!(
        line,
        "{\"return\": \"hello through SCM_RIGHTS\", \"id\": 1}\r\n"
    );

    (&stream)
        .write_all(br#"{"execute": "read-fd", "id": 2}"#)
        .unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert!(
        line.contains("No file descriptor supplied via SCM_RIGHTS"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_agent_mode() {
    let running = start(
        Server::builder(ServerConfig::guest_agent(version()))
            .command(empty_command("guest-ping"))
            .build(),
    )
    .await;
    let mut c = Client::connect(&running.socket).await;
    c.send(r#"{"execute": "guest-ping", "id": 1}"#).await;
    assert_eq!(
        c.line().await,
        "{\"return\": {}, \"id\": 1}\n",
        "no greeting, LF"
    );
    c.send(r#"{"execute": "guest-sync-delimited", "arguments": {"id": 42}}"#)
        .await;
    assert_eq!(c.raw_line().await, b"\xff{\"return\": 42}\n");
    c.send(r#"{"execute": "guest-sync", "arguments": {"id": 43}}"#)
        .await;
    assert_eq!(c.line().await, "{\"return\": 43}\n");
    c.send(r#"{"execute": "guest-sync-delimited", "arguments": {"id": "bad"}}"#)
        .await;
    assert_eq!(c.raw_line().await, b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"Invalid parameter type for 'id', expected: integer\"}}\n");
    c.send(r#"{"execute": "qmp_capabilities"}"#).await;
    assert_eq!(c.line().await, "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command qmp_capabilities has not been found\"}}\n");
    c.send(r#"{"exec-oob": "guest-ping", "id": 2}"#).await;
    assert_eq!(c.line().await, "{\"id\": 2, \"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input member 'exec-oob' is unexpected\"}}\n");
    // 0xFF resets the parser: one error, then a clean parser.
    c.send_bytes(b"{\"execute\": \xff{\"execute\": \"guest-ping\", \"id\": 3}")
        .await;
    assert_eq!(c.line().await, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}\n");
    assert_eq!(c.line().await, "{\"return\": {}, \"id\": 3}\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_out_dials_a_listening_client_and_reconnects() {
    let dir = common::TempDir::new();
    let path = dir.path("client.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let server = Server::builder(qmp_config()).build();
    let dialer = server.clone();
    let target = qmp_server::ConnectTarget::Unix(path.clone());
    tokio::spawn(async move {
        dialer
            .connect_out(target, Some(Duration::from_millis(50)))
            .await
    });
    for round in 0..2 {
        let (stream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
            .await
            .unwrap()
            .unwrap();
        let mut reader = tokio::io::BufReader::new(stream);
        let mut line = String::new();
        use tokio::io::AsyncBufReadExt;
        reader.read_line(&mut line).await.unwrap();
        assert!(line.contains("\"QMP\""), "round {round}: {line}");
        drop(reader);
    }
    server.shutdown().await;
}

/// How many descriptors of this process refer to the same pipe as `fd`
/// (other tests in this binary open their own, so counting all would not do).
fn copies_of(fd: std::os::fd::BorrowedFd<'_>) -> usize {
    use std::os::fd::AsRawFd;
    let target = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|link| *link == target)
        .count()
}

/// Sends `bytes` with `count` copies of `fd`.
fn send_copies(
    stream: &std::os::unix::net::UnixStream,
    bytes: &[u8],
    fd: std::os::fd::BorrowedFd<'_>,
    count: usize,
) {
    send_with_fds(stream, bytes, &vec![fd; count]).unwrap();
}

async fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_descriptor_flood_holds_only_the_latest_read_and_denies_no_one() {
    let running = start(Server::builder(qmp_config()).build()).await;
    let (read_end, _write_end) = rustix::pipe::pipe().unwrap();
    let ours = copies_of(read_end.as_fd());
    let (stream, mut reader) = blocking_negotiated(&running.socket);
    // 100 messages of 20 descriptors with nothing but whitespace: QEMU keeps
    // at most 16 (SOCKET_MAX_FDS), and only those of the latest read.
    for _ in 0..100 {
        send_copies(&stream, b" ", read_end.as_fd(), 20);
    }
    assert!(
        wait_until(|| copies_of(read_end.as_fd()) == ours + qmp_server::MAX_FDS_PER_READ).await,
        "held: {}",
        copies_of(read_end.as_fd()) - ours
    );
    // Another client is served as usual.
    let mut other = Client::negotiated(&running.socket, false).await;
    other
        .send(r#"{"execute": "query-commands", "id": 1}"#)
        .await;
    assert!(other.line().await.contains("\"id\": 1"));
    // A read with fewer replaces the earlier ones.
    send_copies(&stream, b" ", read_end.as_fd(), 3);
    assert!(wait_until(|| copies_of(read_end.as_fd()) == ours + 3).await);
    // getfd takes the first and closes the rest; a second getfd has none.
    assert_eq!(
        ask(
            &stream,
            &mut reader,
            br#"{"execute": "getfd", "arguments": {"fdname": "a"}, "id": 2}"#
        ),
        "{\"return\": {}, \"id\": 2}\r\n"
    );
    assert_eq!(copies_of(read_end.as_fd()), ours + 1);
    let second = br#"{"execute": "getfd", "arguments": {"fdname": "b"}, "id": 3}"#;
    assert_eq!(
        ask(&stream, &mut reader, second),
        "{\"id\": 3, \"error\": {\"class\": \"GenericError\", \"desc\": \"No file descriptor supplied via SCM_RIGHTS\"}}\r\n"
    );
    // Unclaimed descriptors go with the connection.
    send_copies(&stream, b" ", read_end.as_fd(), 5);
    assert!(wait_until(|| copies_of(read_end.as_fd()) == ours + 1 + 5).await);
    drop(reader);
    drop(stream);
    assert!(wait_until(|| copies_of(read_end.as_fd()) == ours + 1).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unclaimed_descriptors_of_all_sessions_stay_within_the_budget() {
    let running = start(
        Server::builder(qmp_config())
            .configure(|c| c.max_unclaimed_fds = 20)
            .build(),
    )
    .await;
    let (read_end, _write_end) = rustix::pipe::pipe().unwrap();
    let ours = copies_of(read_end.as_fd());
    let mut sessions = Vec::new();
    for _ in 0..5 {
        let (stream, reader) = blocking_negotiated(&running.socket);
        send_copies(&stream, b" ", read_end.as_fd(), 16);
        sessions.push((stream, reader));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(copies_of(read_end.as_fd()), ours + 20);
    drop(sessions);
    assert!(wait_until(|| copies_of(read_end.as_fd()) == ours).await);
}

/// Sends `request` on a blocking connection and reads the reply line.
fn ask(
    stream: &std::os::unix::net::UnixStream,
    reader: &mut std::io::BufReader<std::os::unix::net::UnixStream>,
    request: &[u8],
) -> String {
    let mut line = String::new();
    (&*stream).write_all(request).unwrap();
    reader.read_line(&mut line).unwrap();
    line
}

/// Names a pipe's read end `pipe` with getfd on a client that then leaves;
/// returns the write end (writing to it fails once the server closes the
/// read end).
fn name_a_pipe(socket: &std::path::Path) -> std::os::fd::OwnedFd {
    let (read_end, write_end) = rustix::pipe::pipe().unwrap();
    let (stream, mut reader) = blocking_negotiated(socket);
    let mut line = String::new();
    let request = br#"{"execute": "getfd", "arguments": {"fdname": "pipe"}, "id": 1}"#;
    send_with_fd(&stream, request, read_end.as_fd());
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "{\"return\": {}, \"id\": 1}\r\n");
    write_end
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_fds_belong_to_the_monitor_and_outlive_the_session() {
    let running = start(Server::builder(qmp_config()).build()).await;
    let write_end = name_a_pipe(&running.socket);
    assert!(wait_until(|| running.server.active_sessions() == 0).await);
    // As in QEMU, the name is the monitor's: the session is gone, the pipe
    // still has its reader, and a new client can close it by name.
    assert!(rustix::io::write(&write_end, b"x").is_ok());
    let (stream, mut reader) = blocking_negotiated(&running.socket);
    assert_eq!(
        ask(
            &stream,
            &mut reader,
            br#"{"execute": "closefd", "arguments": {"fdname": "pipe"}, "id": 2}"#
        ),
        "{\"return\": {}, \"id\": 2}\r\n"
    );
    assert_eq!(
        rustix::io::write(&write_end, b"x"),
        Err(rustix::io::Errno::PIPE)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_fds_are_closed_when_the_monitor_ends() {
    let running = start(Server::builder(qmp_config()).build()).await;
    let write_end = name_a_pipe(&running.socket);
    running.server.shutdown().await;
    assert!(
        wait_until(|| rustix::io::write(&write_end, b"x") == Err(rustix::io::Errno::PIPE)).await,
        "the listener ended; its named descriptor must be closed"
    );
}
