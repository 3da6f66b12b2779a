//! The guest agent client against the real qemu-ga (7.2 in CI), run as an
//! unprivileged child listening on a unix socket, and against a scripted
//! agent that does not echo ids.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use qmp_client::{AgentConfig, Error, GuestAgent, Value};
use qmp_test_support::TestProcess;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// Starts a real qemu-ga (demoted to nobody when run as root), or reports
/// it missing.
fn start_agent() -> Option<TestProcess> {
    let program = qmp_test_support::qemu_ga()?;
    Some(TestProcess::qga(&program).expect("start qemu-ga"))
}

#[tokio::test]
async fn resync_after_garbage_and_unread_replies() {
    let Some(agent) = start_agent() else {
        return;
    };
    let mut stream = UnixStream::connect(agent.socket()).await.expect("connect");
    // A previous client's leftovers: replies nobody reads (one of them a
    // stale 0xFF-delimited sync reply) and a half-sent command.
    stream
        .write_all(
            b"{\"execute\": \"guest-ping\", \"id\": \"stale-1\"}\n\
              {\"execute\": \"guest-sync-delimited\", \"arguments\": {\"id\": 5}}\n\
              {\"execute\": \"guest-sync\", \"arguments\": {\"id\": 77}}\n\
              {\"execute\": \"guest-info\", \"arguments\": {\"x\": [1, ",
        )
        .await
        .expect("write garbage");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ga = GuestAgent::from_unix_stream(stream, AgentConfig::default()).expect("agent");
    let info = ga.execute("guest-info", ()).await.expect("guest-info");
    assert!(
        info.get("version").and_then(Value::as_str).is_some(),
        "{info}"
    );
    let commands = info
        .get("supported_commands")
        .and_then(Value::as_array)
        .expect("commands");
    assert!(commands
        .iter()
        .any(|c| c.get("name").and_then(Value::as_str) == Some("guest-sync-delimited")));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let time = ga
        .execute("guest-get-time", ())
        .await
        .expect("guest-get-time");
    let time = time.as_i64().expect("nanoseconds");
    assert!(
        (time - now).abs() < 60_000_000_000,
        "agent time {time}, ours {now}"
    );
    // Errors are typed; the agent stays in sync after them.
    let err = ga
        .execute("no-such-command", ())
        .await
        .expect_err("unknown");
    assert_eq!(
        err.as_qmp().map(|e| e.desc.as_str()),
        Some("The command no-such-command has not been found")
    );
    ga.execute("guest-ping", ()).await.expect("guest-ping");
}

#[tokio::test]
async fn fire_and_forget_guest_shutdown_as_unprivileged_child() {
    if !rustix::process::geteuid().is_root() {
        // Without root the agent runs as the test user, who might be able
        // to shut the machine down; only run it where it can be demoted.
        qmp_test_support::skip(
            "guest-shutdown is only sent to an agent demoted to nobody (run as root)",
        );
        return;
    }
    let Some(mut agent) = start_agent() else {
        return;
    };
    let ga = GuestAgent::connect_unix(agent.socket(), AgentConfig::default())
        .await
        .expect("connect");
    ga.execute("guest-ping", ()).await.expect("guest-ping");
    let sent = std::time::Instant::now();
    ga.execute_no_reply("guest-shutdown", serde_json::json!({"mode": "powerdown"}))
        .await
        .expect("sent");
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "did not wait for a reply"
    );
    // The agent (unprivileged) fails to shut down and may send an error;
    // the next command resynchronises past it.
    let info = ga
        .execute("guest-info", ())
        .await
        .expect("guest-info after");
    assert!(info.get("version").is_some());
    assert!(agent.is_running(), "the agent still runs");
}

#[tokio::test]
async fn timeout_then_resync_skips_the_late_reply() {
    let Some(agent) = start_agent() else {
        return;
    };
    let ga = GuestAgent::connect_unix(agent.socket(), AgentConfig::default())
        .await
        .expect("connect");
    ga.execute("guest-ping", ()).await.expect("in sync");
    // Freeze the agent so the next command times out; its reply comes late.
    let pid = rustix::process::Pid::from_raw(agent.pid() as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).expect("SIGSTOP");
    let result = ga
        .execute_with_timeout("guest-info", (), Some(Duration::from_millis(200)))
        .await;
    rustix::process::kill_process(pid, rustix::process::Signal::CONT).expect("SIGCONT");
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    // The late guest-info reply is skipped by the resync; this gets its own.
    let time = ga.execute("guest-get-time", ()).await.expect("resynced");
    assert!(time.as_i64().is_some(), "{time}");
}

/// A scripted agent that does not echo ids and leaves junk in the channel.
#[tokio::test]
async fn agent_without_id_echo() {
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    let ga = GuestAgent::from_unix_stream(ours, AgentConfig::default()).unwrap();
    let agent = tokio::spawn(async move {
        let mut input = Vec::new();
        let mut buf = [0u8; 1024];
        while !input.windows(2).any(|w| w == b"}}") {
            let n = theirs.read(&mut buf).await.unwrap();
            input.extend_from_slice(&buf[..n]);
        }
        assert_eq!(input[0], 0xFF, "the parser reset comes first");
        let text = String::from_utf8_lossy(&input[1..]).to_string();
        let sync = qmp_wire::from_str(text.trim()).unwrap();
        assert_eq!(
            sync.get("execute").and_then(Value::as_str),
            Some("guest-sync-delimited")
        );
        let token = sync
            .get("arguments")
            .and_then(|a| a.get("id"))
            .unwrap()
            .to_string();
        let mut out = Vec::new();
        out.extend_from_slice(b"{\"return\": {\"stale\": true}}\n garbage ]]\n");
        out.extend_from_slice(b"\xff{\"return\": 12345}\n{\"return\": 9}\n");
        out.extend_from_slice(b"\0\0\n");
        out.push(0xFF);
        out.extend_from_slice(format!("{{\"return\": {token}}}\n").as_bytes());
        theirs.write_all(&out).await.unwrap();
        let mut input = Vec::new();
        while !input.ends_with(b"\n") {
            let n = theirs.read(&mut buf).await.unwrap();
            input.extend_from_slice(&buf[..n]);
        }
        let request = qmp_wire::from_slice(&input).unwrap();
        assert_eq!(
            request.get("execute").and_then(Value::as_str),
            Some("guest-get-time")
        );
        theirs
            .write_all(b"{\"return\": 1700000000000000000}\n")
            .await
            .unwrap();
        theirs
    });
    let time = ga.execute("guest-get-time", ()).await.unwrap();
    assert_eq!(time, Value::from(1_700_000_000_000_000_000_i64));
    drop(agent.await.unwrap());
    let err = ga.execute("guest-ping", ()).await.unwrap_err();
    assert!(err.is_disconnected(), "{err:?}");
}

#[tokio::test]
async fn guest_exec_returns_the_exit_status_and_the_output() {
    let Some(agent) = start_agent() else {
        return;
    };
    let ga = GuestAgent::connect_unix(agent.socket(), AgentConfig::default())
        .await
        .expect("connect");
    let echo = qmp_client::GuestProgram::new("/bin/echo", ["hello", "guest"]);
    let out = ga
        .guest_exec(&echo, Duration::from_secs(20))
        .await
        .expect("echo");
    assert_eq!(out.exit_code, Some(0));
    assert_eq!(out.stdout, b"hello guest\n");
    let shell = qmp_client::GuestProgram {
        path: "/bin/sh".into(),
        args: vec!["-c".into(), "cat; echo \"$GREETING\" >&2; exit 3".into()],
        env: vec!["GREETING=from env".into()],
        input: Some(b"from stdin".to_vec()),
    };
    let out = ga
        .guest_exec(&shell, Duration::from_secs(20))
        .await
        .expect("sh");
    assert_eq!(out.exit_code, Some(3));
    assert_eq!(out.stdout, b"from stdin");
    assert_eq!(out.stderr, b"from env\n");
    assert!(!out.stdout_truncated);
}

#[tokio::test]
async fn files_are_written_and_read_back_in_chunks() {
    let Some(agent) = start_agent() else {
        return;
    };
    let ga = GuestAgent::connect_unix(agent.socket(), AgentConfig::default())
        .await
        .expect("connect");
    // The agent may run as nobody: a file in a world-writable folder.
    let dir = qmp_test_support::temp_dir();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let path = dir.path().join("blob");
    let path = path.to_str().unwrap();
    let data: Vec<u8> = (0..3 * qmp_client::FILE_CHUNK + 123)
        .map(|i| (i % 251) as u8)
        .collect();
    ga.write_file(path, &data).await.expect("write");
    assert_eq!(std::fs::read(path).unwrap(), data);
    let back = ga.read_file(path, data.len()).await.expect("read");
    assert_eq!(back, data);
    let too_big = ga.read_file(path, 1000).await.unwrap_err();
    assert!(
        too_big.to_string().contains("more than 1000 bytes"),
        "{too_big}"
    );
}

/// The client starts first; the agent comes up later at the same path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_when_ready_waits_for_an_agent_started_later() {
    let Some(program) = qmp_test_support::qemu_ga() else {
        return;
    };
    let dir = qmp_test_support::temp_dir();
    let socket = dir.path().join("late-qga.sock");
    let connecting = tokio::spawn({
        let socket = socket.clone();
        async move {
            GuestAgent::connect_unix_when_ready(
                &socket,
                AgentConfig::default(),
                Duration::from_secs(20),
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!connecting.is_finished(), "no agent yet");
    let _agent = TestProcess::qga_at(&program, &socket).expect("start qemu-ga");
    let ga = connecting
        .await
        .unwrap()
        .expect("connected once the agent was up");
    ga.execute("guest-ping", ()).await.expect("guest-ping");
}
