//! The proxy in front of the simulator: many clients with clashing ids,
//! events to everyone in order, a client that never reads, policy and the
//! audit log, descriptors, the upstream going away, reconnect, takeover.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use qmp_proxy::{Ended, FileConfig, ListenAddress, ListenerConfig, Proxy, ProxyConfig, Upstream};
use qmp_sim::Simulator;
use qmp_wire::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

/// A downstream client speaking raw QMP lines.
struct Raw {
    lines: tokio::io::Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
}

impl Raw {
    /// Connects and reads the greeting.
    async fn connect(path: &Path) -> (Raw, Value) {
        let stream = UnixStream::connect(path).await.unwrap();
        let (read, write) = stream.into_split();
        let mut raw = Raw {
            lines: BufReader::new(read).lines(),
            write,
        };
        let greeting = raw.next().await.expect("a greeting");
        (raw, greeting)
    }

    /// Connects and negotiates.
    async fn negotiated(path: &Path) -> Raw {
        let (mut raw, _) = Raw::connect(path).await;
        raw.send(r#"{"execute": "qmp_capabilities"}"#).await;
        assert_eq!(raw.next().await.unwrap().to_string(), r#"{"return": {}}"#);
        raw
    }

    async fn send(&mut self, text: &str) {
        self.write.write_all(text.as_bytes()).await.unwrap();
    }

    /// The next message; `None` at the end of the stream.
    async fn next(&mut self) -> Option<Value> {
        let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
            .await
            .expect("a message within 30 s")
            .ok()??;
        Some(qmp_wire::from_str(&line).unwrap())
    }

    /// The next message that is not an event.
    async fn reply(&mut self) -> Value {
        loop {
            let message = self.next().await.expect("a reply");
            if message.get("event").is_none() {
                return message;
            }
        }
    }
}

fn listener_in(dir: &Path, name: &str) -> ListenAddress {
    ListenAddress::Unix(dir.join(name))
}

async fn proxy_of(sim: &Simulator, listeners: Vec<ListenerConfig>) -> Proxy {
    let config = ProxyConfig::new(Upstream::Unix(sim.socket().into()), listeners);
    Proxy::start(config).await.unwrap()
}

/// The simulator, a folder, and a proxy of it with one unix listener
/// there (and its path).
async fn one_listener() -> (Simulator, tempfile::TempDir, Proxy, PathBuf) {
    let sim = Simulator::start().await.unwrap();
    let dir = qmp_test_support::temp_dir();
    let proxy = proxy_of(
        &sim,
        vec![ListenerConfig::new(listener_in(dir.path(), "p.sock"))],
    )
    .await;
    let path = path_of(&proxy.addresses()[0]);
    (sim, dir, proxy, path)
}

fn path_of(address: &ListenAddress) -> PathBuf {
    match address {
        ListenAddress::Unix(path) => path.clone(),
        ListenAddress::Tcp(_) => unreachable!("unix listeners only here"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_clients_with_clashing_ids_and_shared_events() {
    const CLIENTS: usize = 100;
    const COMMANDS: usize = 1000;
    let (_sim, _dir, proxy, path) = one_listener().await;
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the socket is private");

    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let mut raw = Raw::negotiated(&path).await;
            // Every client uses the same ids; every 100th request is one
            // only this client sends (its error names it).
            let mut batch = String::new();
            for k in 0..COMMANDS {
                if k % 100 == 99 {
                    batch.push_str(&format!(r#"{{"execute": "no-such-c{client}", "id": {k}}}"#));
                } else {
                    batch.push_str(&format!(r#"{{"execute": "query-status", "id": {k}}}"#));
                }
            }
            raw.send(&batch).await;
            for k in 0..COMMANDS {
                let reply = raw.reply().await;
                assert_eq!(
                    reply.get("id").and_then(Value::as_i64),
                    Some(k as i64),
                    "client {client}"
                );
                if k % 100 == 99 {
                    let desc = reply
                        .get("error")
                        .and_then(|e| e.get("desc"))
                        .and_then(Value::as_str);
                    assert_eq!(
                        desc,
                        Some(format!("The command no-such-c{client} has not been found").as_str())
                    );
                } else {
                    assert!(reply.get("return").is_some(), "{reply}");
                }
            }
            raw
        }));
    }
    let mut clients = Vec::new();
    for task in tasks {
        clients.push(task.await.unwrap());
    }

    // One client runs a stop/cont loop; every client sees every event, in order.
    const ROUNDS: usize = 20;
    let mut driver = clients.remove(0);
    for _ in 0..ROUNDS {
        driver
            .send(r#"{"execute": "stop"}{"execute": "cont"}"#)
            .await;
    }
    let mut expected = Vec::new();
    for _ in 0..ROUNDS {
        expected.extend(["STOP", "RESUME"]);
    }
    let mut seen = Vec::new();
    while seen.len() < expected.len() {
        let message = driver.next().await.unwrap();
        if let Some(name) = message.get("event").and_then(Value::as_str) {
            seen.push(name.to_string());
        }
    }
    assert_eq!(seen, expected);
    for (n, client) in clients.iter_mut().enumerate() {
        let mut names = Vec::new();
        while names.len() < expected.len() {
            let message = client.next().await.unwrap();
            names.push(
                message
                    .get("event")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string(),
            );
        }
        assert_eq!(names, expected, "client {n}");
    }
    proxy.stop();
    assert_eq!(proxy.ended().await, Ended::Stopped);
    assert!(!path.exists(), "the socket file is removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_cut_off_and_the_others_go_on() {
    let (_sim, _dir, proxy, path) = one_listener().await;

    // The stuck client asks for big replies and never reads them.
    let mut stuck = Raw::negotiated(&path).await;
    let big = r#"{"execute": "query-qmp-schema"}"#.repeat(400);
    let writer = tokio::spawn(async move {
        let _ = stuck.write.write_all(big.as_bytes()).await;
        stuck
    });

    let mut other = Raw::negotiated(&path).await;
    let started = Instant::now();
    for k in 0..2000 {
        other
            .send(&format!(r#"{{"execute": "query-status", "id": {k}}}"#))
            .await;
        let reply = other.reply().await;
        assert_eq!(reply.get("id").and_then(Value::as_i64), Some(k));
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(20),
        "the other client was held up: {took:?}"
    );

    // The stuck client is disconnected once its backlog passed the bound.
    let mut stuck = writer.await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ended = false;
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(30), stuck.lines.next_line()).await {
            Ok(Ok(Some(_))) => continue,
            _ => {
                ended = true;
                break;
            }
        }
    }
    assert!(ended, "the client that did not read was cut off");
    proxy.stop();
    proxy.ended().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_listener_refuses_with_the_policy_and_the_audit_log_redacts() {
    let sim = Simulator::start().await.unwrap();
    let dir = qmp_test_support::temp_dir();
    let audit = dir.path().join("audit.jsonl");
    let text = format!(
        r#"{{"listen": [{{"address": "unix:{}"}}, {{"address": "unix:{}", "read-only": true}}], "audit": "{}"}}"#,
        dir.path().join("rw.sock").display(),
        dir.path().join("ro.sock").display(),
        audit.display()
    );
    let file = FileConfig::parse(&text).unwrap();
    let mut config = ProxyConfig::new(Upstream::Unix(sim.socket().into()), file.listen);
    config.audit = file.audit;
    let proxy = Proxy::start(config).await.unwrap();
    let ro_path = dir.path().join("ro.sock");

    let mut ro = Raw::negotiated(&ro_path).await;
    ro.send(r#"{"execute": "stop", "id": "s"}"#).await;
    let reply = ro.reply().await;
    assert_eq!(
        reply.to_string(),
        format!(
            r#"{{"id": "s", "error": {{"class": "GenericError", "desc": "The command stop has been refused by the proxy's policy for unix:{}: read-only"}}}}"#,
            ro_path.display()
        )
    );
    ro.send(r#"{"execute": "query-status"}"#).await;
    let status = ro.reply().await;
    assert_eq!(
        status
            .get("return")
            .and_then(|r| r.get("status"))
            .and_then(Value::as_str),
        Some("running")
    );
    assert!(
        !sim.received_commands().contains(&"stop".to_string()),
        "stop never reached QEMU"
    );

    ro.send(
        r#"{"execute": "set_password", "arguments": {"protocol": "vnc", "password": "hunter2"}}"#,
    )
    .await;
    ro.reply().await;
    let mut rw = Raw::negotiated(&dir.path().join("rw.sock")).await;
    rw.send(r#"{"execute": "object-add", "arguments": {"qom-type": "secret", "id": "sec0", "data": "s3cr3t"}}"#)
        .await;
    rw.reply().await;

    proxy.stop();
    proxy.ended().await;
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(!log.contains("hunter2") && !log.contains("s3cr3t"), "{log}");
    let lines: Vec<Value> = log
        .lines()
        .map(|l| qmp_wire::from_str(l).unwrap())
        .collect();
    let refused: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("refused").is_some())
        .collect();
    assert_eq!(refused.len(), 2, "{log}");
    assert_eq!(
        refused[0]
            .get("message")
            .and_then(|m| m.get("execute"))
            .and_then(Value::as_str),
        Some("stop")
    );
    assert_eq!(
        refused[0].get("refused").and_then(Value::as_str),
        Some("read-only")
    );
    assert_eq!(
        refused[1]
            .get("message")
            .and_then(|m| m.get("arguments"))
            .and_then(|a| a.get("password"))
            .and_then(Value::as_str),
        Some("<redacted>")
    );
    let secret = lines
        .iter()
        .find(|l| {
            l.get("message")
                .and_then(|m| m.get("execute"))
                .and_then(Value::as_str)
                == Some("object-add")
        })
        .unwrap();
    assert_eq!(
        secret
            .get("message")
            .and_then(|m| m.get("arguments"))
            .and_then(|a| a.get("data"))
            .and_then(Value::as_str),
        Some("<redacted>")
    );
    assert!(lines
        .iter()
        .all(|l| l.get("timestamp").is_some() && l.get("direction").is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descriptors_travel_with_their_command() {
    let (_sim, _dir, proxy, path) = one_listener().await;
    let path2 = path.clone();
    let replies = tokio::task::spawn_blocking(move || {
        use std::io::{BufRead, BufReader, Write};
        let stream = std::os::unix::net::UnixStream::connect(&path2).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        (&stream)
            .write_all(br#"{"execute": "qmp_capabilities"}"#)
            .unwrap();
        let mut replies = Vec::new();
        let read = |reader: &mut BufReader<_>| {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            line
        };
        replies.push(read(&mut reader));
        let file = std::fs::File::open("/dev/null").unwrap();
        use std::os::fd::AsFd;
        qmp_test_support::socket::send_with_fds(
            &stream,
            br#"{"execute": "getfd", "arguments": {"fdname": "f1"}}"#,
            &[file.as_fd()],
        )
        .unwrap();
        replies.push(read(&mut reader));
        (&stream)
            .write_all(br#"{"execute": "closefd", "arguments": {"fdname": "f1"}}"#)
            .unwrap();
        replies.push(read(&mut reader));
        (&stream)
            .write_all(br#"{"execute": "getfd", "arguments": {"fdname": "f2"}}"#)
            .unwrap();
        replies.push(read(&mut reader));
        replies
    })
    .await
    .unwrap();
    assert_eq!(replies[1].trim_end(), r#"{"return": {}}"#);
    assert_eq!(
        replies[2].trim_end(),
        r#"{"return": {}}"#,
        "f1 reached the simulator"
    );
    assert_eq!(
        replies[3].trim_end(),
        r#"{"error": {"class": "GenericError", "desc": "No file descriptor supplied via SCM_RIGHTS"}}"#
    );
    proxy.stop();
    proxy.ended().await;
}

/// What a client gets until the end of its stream, sorted: event names
/// and other messages as text.
async fn rest(raw: &mut Raw) -> Vec<String> {
    let mut seen = Vec::new();
    while let Some(message) = raw.next().await {
        seen.push(match message.get("event").and_then(Value::as_str) {
            Some(name) => name.to_string(),
            None => message.to_string(),
        });
    }
    seen.sort();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quit_ends_every_session_and_the_proxy() {
    let (_sim, _dir, proxy, path) = one_listener().await;
    let mut a = Raw::negotiated(&path).await;
    let mut b = Raw::negotiated(&path).await;
    a.send(r#"{"execute": "quit", "id": 1}"#).await;
    // Each sees what QEMU sent, then the end of the stream: the client
    // that quit its reply and SHUTDOWN, the other SHUTDOWN.
    assert_eq!(
        rest(&mut a).await,
        ["SHUTDOWN", r#"{"return": {}, "id": 1}"#]
    );
    assert_eq!(rest(&mut b).await, ["SHUTDOWN"]);
    assert!(matches!(proxy.ended().await, Ended::UpstreamClosed(_)));
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takeover_keeps_the_path_and_gives_it_back() {
    let sim = Simulator::start().await.unwrap();
    let original = sim.socket().to_path_buf();
    let mut config = ProxyConfig::new(Upstream::Unix(original.clone()), Vec::new());
    config.takeover = true;
    let proxy = Proxy::start(config).await.unwrap();
    assert_eq!(proxy.addresses(), [ListenAddress::Unix(original.clone())]);
    let (mut raw, greeting) = Raw::connect(&original).await;
    assert!(greeting.get("QMP").is_some());
    raw.send(r#"{"execute": "qmp_capabilities"}{"execute": "query-status", "id": 2}"#)
        .await;
    raw.reply().await;
    assert!(raw.reply().await.get("return").is_some());
    proxy.stop();
    proxy.ended().await;
    // The simulator's own socket is back at its path.
    let (_, greeting) = Raw::connect(&original).await;
    assert!(greeting.get("QMP").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_waits_for_the_upstream_to_come_back() {
    let dir = qmp_test_support::temp_dir();
    let upstream = dir.path().join("qemu.sock");
    let first = Simulator::start().await.unwrap();
    std::fs::rename(first.socket(), &upstream).unwrap();
    let mut config = ProxyConfig::new(
        Upstream::Unix(upstream.clone()),
        vec![ListenerConfig::new(listener_in(dir.path(), "p.sock"))],
    );
    config.reconnect = Some(Duration::from_millis(50));
    let proxy = Proxy::start(config).await.unwrap();
    let path = path_of(&proxy.addresses()[0]);

    let mut before = Raw::negotiated(&path).await;
    first.stop().await;
    assert_eq!(
        rest(&mut before).await,
        Vec::<String>::new(),
        "the session ends with the upstream"
    );

    let second = Simulator::start().await.unwrap();
    std::fs::rename(second.socket(), &upstream).unwrap();
    let mut after = Raw::negotiated(&path).await;
    after
        .send(r#"{"execute": "query-status", "id": "again"}"#)
        .await;
    assert_eq!(
        after.reply().await.get("id").and_then(Value::as_str),
        Some("again")
    );
    proxy.stop();
    assert_eq!(proxy.ended().await, Ended::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_listeners_default_to_loopback() {
    let sim = Simulator::start().await.unwrap();
    let address: ListenAddress = "tcp:0".parse().unwrap();
    let proxy = proxy_of(&sim, vec![ListenerConfig::new(address)]).await;
    let ListenAddress::Tcp(bound) = proxy.addresses()[0] else {
        panic!("a TCP address")
    };
    assert!(bound.ip().is_loopback(), "{bound}");
    assert_ne!(bound.port(), 0, "the chosen port is reported");
    let client = qmp_client::Client::builder()
        .connect_tcp(bound)
        .await
        .unwrap();
    let status = client.execute("query-status", ()).await.unwrap();
    assert!(status.get("status").is_some());
    proxy.stop();
    proxy.ended().await;
}
