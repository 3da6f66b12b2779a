//! The client against a scripted peer: the paths a real QEMU rarely takes
//! (stray and late replies, oversized replies, disconnects, the in-band
//! limit, timeouts), checked message by message.

mod common;

use std::time::{Duration, Instant};

use common::events::DeviceDeleted;
use futures_util::StreamExt;
use qmp_client::{
    CallOptions, Capabilities, Client, ClientConfig, Command, Error, EventFilter, Handshake,
    QemuExt, Value,
};
use qmp_wire::Decoder;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

const GREETING: &str = r#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}"#;

/// The server end of a connection, scripted by the test.
struct Peer {
    stream: UnixStream,
    decoder: Decoder,
}

impl Peer {
    /// A connected pair: the client's end, and the peer on the other.
    fn pair() -> (UnixStream, Peer) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let peer = Peer {
            stream: theirs,
            decoder: Decoder::new(),
        };
        (ours, peer)
    }

    async fn send(&mut self, text: &str) {
        self.stream.write_all(text.as_bytes()).await.unwrap();
        self.stream.write_all(b"\r\n").await.unwrap();
    }

    /// The next request the client sent.
    async fn request(&mut self) -> Value {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(item) = self.decoder.next() {
                return item.unwrap();
            }
            let n = self.stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "client closed");
            self.decoder.feed(&buf[..n]);
        }
    }

    /// Reads a request and returns its id as JSON text.
    async fn request_id(&mut self) -> (String, String) {
        let request = self.request().await;
        let name = request
            .get("execute")
            .or_else(|| request.get("exec-oob"))
            .and_then(Value::as_str)
            .unwrap()
            .to_owned();
        (name, request.get("id").unwrap().to_string())
    }

    /// Answers `qmp_capabilities`.
    async fn negotiate(&mut self) -> Value {
        let request = self.request().await;
        assert_eq!(
            request.get("execute").and_then(Value::as_str),
            Some("qmp_capabilities")
        );
        let id = request.get("id").unwrap().to_string();
        self.send(&format!(r#"{{"return": {{}}, "id": {id}}}"#))
            .await;
        request
    }
}

/// A connected client and its scripted peer.
async fn connect(config: ClientConfig) -> (Client, Peer) {
    let (ours, mut peer) = Peer::pair();
    let server = async {
        peer.send(GREETING).await;
        peer.negotiate().await;
        peer
    };
    let (client, peer) = tokio::join!(
        Client::builder().config(config).from_unix_stream(ours),
        server
    );
    (client.unwrap(), peer)
}

/// `n` concurrent `query-status` calls, each on its own task.
fn spawn_query_status(
    client: &Client,
    n: usize,
) -> Vec<tokio::task::JoinHandle<qmp_client::Result<Value>>> {
    (0..n)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.execute("query-status", ()).await })
        })
        .collect()
}

#[tokio::test]
async fn negotiates_oob_when_offered() {
    let (ours, mut peer) = Peer::pair();
    let server = async {
        peer.send(GREETING).await;
        peer.negotiate().await
    };
    let (client, request) = tokio::join!(Client::builder().from_unix_stream(ours), server);
    let client = client.unwrap();
    assert_eq!(
        request.get("arguments").unwrap().to_string(),
        r#"{"enable": ["oob"]}"#
    );
    assert!(client.oob_enabled());
    assert_eq!(client.greeting().map(|g| g.version.qemu.major), Some(7));
}

#[tokio::test]
async fn negotiates_a_chosen_set() {
    let config = ClientConfig {
        capabilities: Capabilities::Exactly(vec![]),
        ..ClientConfig::default()
    };
    let (client, _peer) = connect(config).await;
    assert!(!client.oob_enabled());
    assert!(matches!(
        client
            .execute_with("migrate-pause", (), CallOptions::new().out_of_band())
            .await,
        Err(Error::OobNotEnabled)
    ));
}

#[tokio::test]
async fn negotiation_error_is_reported() {
    let (ours, mut peer) = Peer::pair();
    let server = async {
        peer.send(GREETING).await;
        let (_, id) = peer.request_id().await;
        peer.send(&format!(
            r#"{{"id": {id}, "error": {{"class": "GenericError", "desc": "Capability oob not available"}}}}"#
        ))
        .await;
        peer
    };
    let (client, _peer) = tokio::join!(Client::builder().from_unix_stream(ours), server);
    match client {
        Err(Error::Negotiation(e)) => assert_eq!(e.desc, "Capability oob not available"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn greeting_timeout() {
    let (ours, _theirs) = UnixStream::pair().unwrap();
    let config = ClientConfig {
        greeting_timeout: Duration::from_millis(100),
        ..ClientConfig::default()
    };
    let result = Client::builder()
        .config(config)
        .from_unix_stream(ours)
        .await;
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
}

#[tokio::test]
async fn stray_replies_never_reach_the_wrong_caller() {
    let (client, mut peer) = connect(ClientConfig::default()).await;
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.execute("query-name", ()).await }
    });
    let (_, id) = peer.request_id().await;
    peer.send(r#"{"return": "unknown id", "id": 999999}"#).await;
    peer.send(r#"{"return": "string id", "id": "x"}"#).await;
    peer.send(
        r#"{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}"#,
    )
    .await;
    peer.send(r#"{"return": "no id"}"#).await;
    peer.send(r#"{"unknown": "message"}"#).await;
    peer.send(&format!(r#"{{"return": {{"name": "right"}}, "id": {id}}}"#))
        .await;
    let value = call.await.unwrap().unwrap();
    assert_eq!(value.get("name").and_then(Value::as_str), Some("right"));
}

#[tokio::test]
async fn error_reply_is_typed() {
    let (client, mut peer) = connect(ClientConfig::default()).await;
    let call = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .execute("device_del", serde_json::json!({"id": "nope"}))
                .await
        }
    });
    let (_, id) = peer.request_id().await;
    peer.send(&format!(
        r#"{{"id": {id}, "error": {{"class": "DeviceNotFound", "desc": "Device 'nope' not found"}}}}"#
    ))
    .await;
    let err = call.await.unwrap().unwrap_err();
    let qmp = err.as_qmp().unwrap();
    assert_eq!(qmp.class, qmp_wire::ErrorClass::DeviceNotFound);
    assert_eq!(qmp.desc, "Device 'nope' not found");
}

#[tokio::test]
async fn late_reply_after_timeout_is_dropped() {
    let (client, mut peer) = connect(ClientConfig::default()).await;
    let slow = client
        .execute_with(
            "slow",
            (),
            CallOptions::new().timeout(Duration::from_millis(50)),
        )
        .await;
    assert!(matches!(slow, Err(Error::Timeout { .. })), "{slow:?}");
    let (name, slow_id) = peer.request_id().await;
    assert_eq!(name, "slow");
    // A cancelled call: its future is dropped before the reply.
    let cancelled = tokio::spawn({
        let client = client.clone();
        async move { client.execute("cancelled", ()).await }
    });
    let (_, cancelled_id) = peer.request_id().await;
    cancelled.abort();
    let _ = cancelled.await;
    let next = tokio::spawn({
        let client = client.clone();
        async move { client.execute("next", ()).await }
    });
    let (_, next_id) = peer.request_id().await;
    peer.send(&format!(r#"{{"return": "late", "id": {slow_id}}}"#))
        .await;
    peer.send(&format!(
        r#"{{"return": "cancelled", "id": {cancelled_id}}}"#
    ))
    .await;
    peer.send(&format!(r#"{{"return": "mine", "id": {next_id}}}"#))
        .await;
    assert_eq!(next.await.unwrap().unwrap(), Value::from("mine"));
}

#[tokio::test]
async fn disconnect_fails_every_pending_call_at_once() {
    let (client, mut peer) = connect(ClientConfig::default()).await;
    let calls = spawn_query_status(&client, 5);
    for _ in 0..5 {
        peer.request_id().await;
    }
    let mut events = client.subscribe(EventFilter::any());
    let start = Instant::now();
    drop(peer);
    for call in calls {
        let result = call.await.unwrap();
        assert!(matches!(result, Err(Error::Disconnected(_))), "{result:?}");
    }
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(events.next().await.is_none(), "subscriptions end");
    assert!(client
        .execute("after", ())
        .await
        .unwrap_err()
        .is_disconnected());
}

#[tokio::test]
async fn oversized_reply_fails_its_call_and_the_connection_goes_on() {
    let config = ClientConfig {
        max_reply_bytes: 1024,
        ..ClientConfig::default()
    };
    let (client, mut peer) = connect(config).await;
    let big = tokio::spawn({
        let client = client.clone();
        async move { client.execute("big", ()).await }
    });
    let (_, big_id) = peer.request_id().await;
    let small = tokio::spawn({
        let client = client.clone();
        async move { client.execute("small", ()).await }
    });
    let (_, small_id) = peer.request_id().await;
    let payload = "x".repeat(100_000);
    peer.send(&format!(
        r#"{{"return": {{"data": "{payload}", "more": [1, 2]}}, "id": {big_id}}}"#
    ))
    .await;
    peer.send(&format!(r#"{{"return": "fine", "id": {small_id}}}"#))
        .await;
    let err = big.await.unwrap().unwrap_err();
    assert!(
        matches!(err, Error::ReplyTooLarge { limit: 1024 }),
        "{err:?}"
    );
    assert_eq!(small.await.unwrap().unwrap(), Value::from("fine"));
}

#[tokio::test]
async fn at_most_eight_in_band_requests_in_flight_and_oob_still_goes() {
    let (client, mut peer) = connect(ClientConfig::default()).await;
    let calls = spawn_query_status(&client, 20);
    let mut ids = Vec::new();
    for _ in 0..8 {
        ids.push(peer.request_id().await.1);
    }
    let oob = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .execute_with("migrate-pause", (), CallOptions::new().out_of_band())
                .await
        }
    });
    let (name, oob_id) = peer.request_id().await;
    assert_eq!(
        name, "migrate-pause",
        "the 9th request on the wire is the oob one"
    );
    peer.send(&format!(r#"{{"return": {{}}, "id": {oob_id}}}"#))
        .await;
    oob.await.unwrap().unwrap();
    let mut answered = 0;
    while answered < 20 {
        let id = ids.remove(0);
        peer.send(&format!(r#"{{"return": {{}}, "id": {id}}}"#))
            .await;
        answered += 1;
        if answered + ids.len() < 20 {
            ids.push(peer.request_id().await.1);
        }
        assert!(ids.len() <= 8);
    }
    for call in calls {
        call.await.unwrap().unwrap();
    }
}

#[derive(Serialize)]
struct QomGet<'a> {
    path: &'a str,
    property: &'a str,
}

impl Command for QomGet<'_> {
    const NAME: &'static str = "qom-get";
    type Returns = String;
}

#[tokio::test]
async fn typed_commands_and_events() {
    let (client, mut peer) = connect(ClientConfig::default()).await;
    let mut typed = client.subscribe_typed::<DeviceDeleted>();
    let mut only_disk =
        client.subscribe(EventFilter::name("DEVICE_DELETED").with_member("device", "disk0"));
    let call = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .call(&QomGet {
                    path: "/machine",
                    property: "type",
                })
                .await
        }
    });
    let request = peer.request().await;
    assert_eq!(
        request.get("arguments").unwrap().to_string(),
        r#"{"path": "/machine", "property": "type"}"#
    );
    let id = request.get("id").unwrap().to_string();
    let event = |dev: &str| {
        format!(
            r#"{{"timestamp": {{"seconds": 1, "microseconds": 2}}, "event": "DEVICE_DELETED", "data": {{"device": "{dev}", "path": "/p/{dev}"}}}}"#
        )
    };
    peer.send(&event("net0")).await;
    peer.send(&event("disk0")).await;
    peer.send(&format!(
        r#"{{"return": "pc-i440fx-7.2-machine", "id": {id}}}"#
    ))
    .await;
    assert_eq!(call.await.unwrap().unwrap(), "pc-i440fx-7.2-machine");
    let first = typed.next().await.unwrap().unwrap();
    assert_eq!(
        (first.device.as_deref(), first.path.as_str()),
        (Some("net0"), "/p/net0")
    );
    assert_eq!(
        typed.next().await.unwrap().unwrap().device.as_deref(),
        Some("disk0")
    );
    let disk = only_disk
        .next_timeout(Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        disk.data.unwrap().get("device"),
        Some(&Value::from("disk0"))
    );
    assert!(only_disk.try_next().is_none());
}

/// `device_del` of `device` on its own task, acknowledged by `peer` with
/// `{}` (what comes next is up to the test).
async fn device_del_acknowledged(
    client: &Client,
    peer: &mut Peer,
    device: &'static str,
    within: Duration,
) -> tokio::task::JoinHandle<qmp_client::Result<Option<qmp_client::Event>>> {
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.device_del(device, within).await }
    });
    let (name, id) = peer.request_id().await;
    assert_eq!(name, "device_del");
    peer.send(&format!(r#"{{"return": {{}}, "id": {id}}}"#))
        .await;
    call
}

#[tokio::test]
async fn device_del_waits_for_its_event() {
    let (client, mut peer) = connect(ClientConfig::default()).await;
    let call = device_del_acknowledged(&client, &mut peer, "disk0", Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!call.is_finished(), "waits for DEVICE_DELETED");
    peer.send(r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "DEVICE_DELETED", "data": {"device": "other", "path": "/x"}}"#).await;
    peer.send(r#"{"timestamp": {"seconds": 1, "microseconds": 3}, "event": "DEVICE_DELETED", "data": {"device": "disk0", "path": "/y"}}"#).await;
    let event = call.await.unwrap().unwrap().expect("the event");
    assert_eq!(event.data.unwrap().get("path"), Some(&Value::from("/y")));
}

/// The DEVICE_DELETED event never comes (missed): after `POLL_INTERVAL`
/// the waiter asks `qom-list` of the device's path, and `DeviceNotFound`
/// says it is gone. A QOM path matches the event's `path` member.
#[tokio::test]
async fn device_del_polls_when_the_event_is_missed() {
    let (client, mut peer) = connect(ClientConfig::default()).await;
    let call = device_del_acknowledged(&client, &mut peer, "net0", Duration::from_secs(5)).await;
    let request = peer.request().await;
    assert_eq!(
        request.get("execute").and_then(Value::as_str),
        Some("qom-list")
    );
    assert_eq!(
        request
            .get("arguments")
            .and_then(|a| a.get("path"))
            .and_then(Value::as_str),
        Some("/machine/peripheral/net0")
    );
    let id = request.get("id").unwrap().to_string();
    peer.send(&format!(
        r#"{{"error": {{"class": "DeviceNotFound", "desc": "Device '/machine/peripheral/net0' not found"}}, "id": {id}}}"#
    ))
    .await;
    assert_eq!(call.await.unwrap().unwrap(), None, "gone, seen by polling");

    let by_path = device_del_acknowledged(
        &client,
        &mut peer,
        "/machine/peripheral-anon/device[0]",
        Duration::from_secs(5),
    )
    .await;
    peer.send(r#"{"timestamp": {"seconds": 1, "microseconds": 3}, "event": "DEVICE_DELETED", "data": {"path": "/machine/peripheral-anon/device[0]"}}"#).await;
    assert!(
        by_path.await.unwrap().unwrap().is_some(),
        "the event, by path"
    );
}

#[tokio::test]
async fn device_del_has_a_deadline() {
    let (client, mut peer) = connect(ClientConfig::default()).await;
    let call =
        device_del_acknowledged(&client, &mut peer, "disk0", Duration::from_millis(100)).await;
    let err = call.await.unwrap().unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(err.to_string().contains("device_del"), "{err}");
}

#[tokio::test]
async fn wait_for_event_times_out() {
    let (client, _peer) = connect(ClientConfig::default()).await;
    let result = client
        .wait_for_event("NEVER", Duration::from_millis(50))
        .await;
    assert!(matches!(result, Err(Error::Timeout { .. })));
}

#[tokio::test]
async fn transcript_logs_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("transcript.log");
    let config = ClientConfig {
        transcript: Some(path.clone()),
        ..ClientConfig::default()
    };
    let (client, mut peer) = connect(config).await;
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.execute("query-name", ()).await }
    });
    let (_, id) = peer.request_id().await;
    peer.send(&format!(r#"{{"return": {{}}, "id": {id}}}"#))
        .await;
    call.await.unwrap().unwrap();
    drop(client);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains(" <- {\"QMP\""), "{text}");
    assert!(
        lines[1].contains(" -> {\"execute\":\"qmp_capabilities\""),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("-> {\"execute\":\"query-name\"")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(&format!("<- {{\"return\": {{}}, \"id\": {id}}}"))),
        "{text}"
    );
    let stamp = lines[0].split(' ').next().unwrap();
    assert!(stamp.contains('.') && stamp.replace('.', "").chars().all(|c| c.is_ascii_digit()));
}

#[tokio::test]
async fn plain_streams_cannot_pass_descriptors() {
    let (ours, theirs) = tokio::io::duplex(4096);
    let (mut read, mut write) = tokio::io::split(theirs);
    let server = async move {
        write.write_all(GREETING.as_bytes()).await.unwrap();
        let mut decoder = Decoder::new();
        let mut buf = [0u8; 1024];
        let request = loop {
            if let Some(item) = decoder.next() {
                break item.unwrap();
            }
            let n = read.read(&mut buf).await.unwrap();
            decoder.feed(&buf[..n]);
        };
        let id = request.get("id").unwrap().to_string();
        write
            .write_all(format!(r#"{{"return": {{}}, "id": {id}}}"#).as_bytes())
            .await
            .unwrap();
        (read, write)
    };
    let (client, _server) = tokio::join!(Client::builder().from_stream(ours), server);
    let client = client.unwrap();
    let (fd, _) = std::os::unix::net::UnixStream::pair().unwrap();
    let result = client.getfd("x", fd.into()).await;
    assert!(
        matches!(result, Err(Error::FdPassingUnsupported)),
        "{result:?}"
    );
}

/// Requests larger than the socket buffer, sent while the peer reads
/// nothing, most of them cancelled by their timeout midway: once the peer
/// reads (answering each), every request on the wire is whole (a cancelled call never leaves
/// half a request behind, whether it was written from the caller's task or
/// queued for the writer), in-band ids are unique, and later calls work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_calls_never_tear_requests() {
    let (client, mut peer) = connect(ClientConfig::default()).await;
    let big = "x".repeat(300 * 1024);
    let calls: Vec<_> = (0..12)
        .map(|n| {
            let client = client.clone();
            let big = big.clone();
            tokio::spawn(async move {
                let mut args = qmp_client::Map::new();
                args.insert("data", big);
                let options = CallOptions::new().timeout(Duration::from_millis(50 + 10 * n));
                let command = "human-monitor-command";
                if n % 3 == 2 {
                    client
                        .execute_with(command, args, options.out_of_band())
                        .await
                } else {
                    client.execute_with(command, args, options).await
                }
            })
        })
        .collect();
    for call in calls {
        let result = call.await.unwrap();
        assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    }
    let mut seen = std::collections::HashSet::new();
    let next = client.execute("query-status", ());
    let mut next = std::pin::pin!(next);
    loop {
        tokio::select! {
            reply = &mut next => {
                reply.expect("a call after the cancelled ones");
                break;
            }
            request = peer.request() => {
                if let Some(data) = request.get("arguments").and_then(|a| a.get("data")) {
                    assert_eq!(data.as_str().map(str::len), Some(big.len()), "a torn request");
                }
                // Abandoned in-band calls hold their slot until answered.
                let id = request.get("id").unwrap().to_string();
                assert!(seen.insert(id.clone()), "a repeated id");
                peer.send(&format!(r#"{{"return": {{"status": "running"}}, "id": {id}}}"#)).await;
            }
        }
    }
}

/// Replies reach their callers whether the reader busy-polls or parks, on a
/// multi-thread runtime (where the reader reads the socket directly while
/// polling), for replies that come at once, after the polling window, and
/// in pieces; a reply bigger than the read buffer arrives whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_arrive_with_busy_polling_on_and_off() {
    for busy_poll in [Duration::ZERO, Duration::from_micros(200)] {
        let config = ClientConfig {
            busy_poll,
            ..ClientConfig::default()
        };
        let (client, mut peer) = connect(config).await;
        for round in 0..20u64 {
            let call = spawn_query_status(&client, 1).pop().unwrap();
            let (_, id) = peer.request_id().await;
            let reply = format!(r#"{{"return": {{"round": {round}}}, "id": {id}}}"#);
            match round % 4 {
                0 => {}
                1 => tokio::time::sleep(Duration::from_millis(3)).await,
                2 => {
                    let (head, tail) = reply.split_at(reply.len() / 2);
                    peer.stream.write_all(head.as_bytes()).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    peer.send(tail).await;
                    let value = call.await.unwrap().unwrap();
                    assert_eq!(value.get("round").and_then(Value::as_u64), Some(round));
                    continue;
                }
                _ => tokio::task::yield_now().await,
            }
            peer.send(&reply).await;
            let value = call.await.unwrap().unwrap();
            let got = value.get("round").and_then(Value::as_u64);
            assert_eq!(got, Some(round), "{busy_poll:?}");
        }
        let call = spawn_query_status(&client, 1).pop().unwrap();
        let (_, id) = peer.request_id().await;
        let big = "x".repeat(100_000);
        peer.send(&format!(r#"{{"return": {{"big": "{big}"}}, "id": {id}}}"#))
            .await;
        let value = call.await.unwrap().unwrap();
        assert_eq!(value.get("big").and_then(Value::as_str), Some(&*big));
    }
}

/// `Handshake::Skip`: no greeting is awaited and no qmp_capabilities sent;
/// the first request on the wire is the caller's.
#[tokio::test]
async fn skipping_the_handshake_sends_commands_at_once() {
    let (ours, mut peer) = Peer::pair();
    let config = ClientConfig {
        handshake: Handshake::Skip,
        ..ClientConfig::default()
    };
    let client = Client::builder()
        .config(config)
        .from_unix_stream(ours)
        .await
        .unwrap();
    assert!(client.greeting().is_none());
    assert!(!client.oob_enabled());
    let call = spawn_query_status(&client, 1).pop().unwrap();
    let (name, id) = peer.request_id().await;
    assert_eq!(name, "query-status");
    peer.send(&format!(
        r#"{{"return": {{"status": "running"}}, "id": {id}}}"#
    ))
    .await;
    let value = call.await.unwrap().unwrap();
    assert_eq!(value.get("status").and_then(Value::as_str), Some("running"));
}

#[tokio::test]
async fn a_greeting_that_is_no_greeting_fails_at_once_and_says_what_came() {
    let (ours, mut peer) = Peer::pair();
    peer.send("SSH-2.0-OpenSSH_9.2\x1b[2J").await;
    let started = Instant::now();
    let err = Client::builder().from_unix_stream(ours).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no timeout wait"
    );
    let text = err.to_string();
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
    assert!(text.contains("not a QMP greeting"), "{text}");
    assert!(
        text.contains("SSH-2.0-OpenSSH_9.2\\x1b[2J"),
        "escaped: {text}"
    );
    assert!(!text.contains('\x1b'), "no raw escape reaches a terminal");
}

#[tokio::test]
async fn a_greeting_that_never_completes_is_named_not_a_bare_timeout() {
    let (ours, mut peer) = Peer::pair();
    peer.stream
        .write_all(b"{\"QMP\": {\"version\": ")
        .await
        .unwrap();
    let config = ClientConfig {
        greeting_timeout: Duration::from_millis(200),
        ..ClientConfig::default()
    };
    let err = Client::builder()
        .config(config)
        .from_unix_stream(ours)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("no complete greeting within 200ms"), "{text}");
    assert!(text.contains("20 bytes"), "{text}");
}

#[tokio::test]
async fn a_reply_nested_too_deep_fails_its_call_with_the_nesting_limit() {
    let (client, mut peer) = connect(ClientConfig::default()).await;
    let deep = tokio::spawn({
        let client = client.clone();
        async move { client.execute("deep", ()).await }
    });
    let (_, id) = peer.request_id().await;
    let nested = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
    peer.send(&format!(r#"{{"return": {nested}, "id": {id}}}"#))
        .await;
    let err = deep.await.unwrap().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("JSON nesting depth limit exceeded"), "{text}");
    assert!(!text.contains("larger than"), "{text}");
    // The connection goes on.
    let next = tokio::spawn({
        let client = client.clone();
        async move { client.execute("next", ()).await }
    });
    let (_, id) = peer.request_id().await;
    peer.send(&format!(r#"{{"return": 7, "id": {id}}}"#)).await;
    assert_eq!(next.await.unwrap().unwrap(), Value::from(7));
}

#[tokio::test]
async fn invalid_json_from_the_server_closes_the_connection_instead_of_hanging() {
    let (client, mut peer) = connect(ClientConfig::default()).await;
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.execute("query-status", ()).await }
    });
    peer.request_id().await;
    peer.send(r#"{"return": {]}"#).await;
    let err = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("the call must not wait forever")
        .unwrap()
        .unwrap_err();
    assert!(err.is_disconnected(), "{err:?}");
    assert!(err.to_string().contains("invalid JSON"), "{err}");
    let later = client.execute("query-status", ()).await.unwrap_err();
    assert!(later.is_disconnected(), "{later:?}");
}

#[tokio::test]
async fn a_timed_out_call_keeps_its_id_and_its_late_reply_is_reported() {
    let (client, mut peer) = connect(ClientConfig::default()).await;
    let mut diagnostics = client.diagnostics();
    let options = CallOptions::new().timeout(Duration::from_millis(100));
    let slow = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .execute_with("blockdev-add", qmp_wire::Map::new(), options)
                .await
        }
    });
    let (_, late_id) = peer.request_id().await;
    let err = slow.await.unwrap().unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(err.to_string(), "no reply to blockdev-add within 100ms");
    // A call made after the timeout gets a new id; the late reply, sent
    // first, must not be taken for its answer.
    let next = tokio::spawn({
        let client = client.clone();
        async move { client.execute("query-status", ()).await }
    });
    let (_, next_id) = peer.request_id().await;
    assert_ne!(next_id, late_id);
    tokio::time::sleep(Duration::from_millis(50)).await;
    peer.send(&format!(r#"{{"return": "late", "id": {late_id}}}"#))
        .await;
    peer.send(&format!(r#"{{"return": "mine", "id": {next_id}}}"#))
        .await;
    assert_eq!(next.await.unwrap().unwrap(), Value::from("mine"));
    match diagnostics.next().await {
        Some(qmp_client::Diagnostic::LateReply {
            command,
            id,
            late_by,
            error,
        }) => {
            assert_eq!(&*command, "blockdev-add");
            assert_eq!(id.to_string(), late_id);
            assert!(late_by >= Duration::from_millis(50), "{late_by:?}");
            assert_eq!(error, None);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn per_command_deadlines_override_the_default_and_slow_replies_are_reported() {
    let config = ClientConfig {
        call_timeout: Some(Duration::from_secs(30)),
        command_timeouts: [("query-status".to_owned(), Duration::from_millis(100))].into(),
        slow_command_warning: Some(Duration::from_millis(50)),
        ..ClientConfig::default()
    };
    assert_eq!(
        config.deadline_for("device_add", None),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        config.deadline_for("query-status", Some(Duration::from_secs(2))),
        Some(Duration::from_secs(2))
    );
    let (client, mut peer) = connect(config).await;
    let mut diagnostics = client.diagnostics();
    let quick = tokio::spawn({
        let client = client.clone();
        async move { client.execute("query-status", ()).await }
    });
    peer.request_id().await;
    let err = quick.await.unwrap().unwrap_err();
    assert_eq!(err.to_string(), "no reply to query-status within 100ms");
    let slow = tokio::spawn({
        let client = client.clone();
        async move { client.execute("device_add", ()).await }
    });
    let (_, id) = peer.request_id().await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    peer.send(&format!(r#"{{"return": {{}}, "id": {id}}}"#))
        .await;
    assert!(slow.await.unwrap().is_ok(), "within its 30 s");
    match diagnostics.next().await {
        Some(qmp_client::Diagnostic::SlowReply { command, took, .. }) => {
            assert_eq!(&*command, "device_add");
            assert!(took >= Duration::from_millis(100), "{took:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[derive(Serialize)]
struct QueryCpusFast {}

#[derive(serde::Deserialize, Debug)]
#[allow(dead_code)]
struct CpuInfoFast {
    #[serde(rename = "cpu-index")]
    cpu_index: i64,
    #[serde(rename = "thread-id")]
    thread_id: i64,
}

impl Command for QueryCpusFast {
    const NAME: &'static str = "query-cpus-fast";
    type Returns = Vec<CpuInfoFast>;
}

#[tokio::test]
async fn a_reply_of_the_wrong_type_names_the_command_and_the_member() {
    let (client, mut peer) = connect(ClientConfig::default()).await;
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call(&QueryCpusFast {}).await }
    });
    let (_, id) = peer.request_id().await;
    peer.send(&format!(
        r#"{{"return": [{{"cpu-index": 0, "thread-id": 7}}, {{"cpu-index": 1, "thread-id": "x"}}], "id": {id}}}"#
    ))
    .await;
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(
        err.to_string(),
        "the reply to query-cpus-fast does not match its type at [1].thread-id: \
         invalid type: string \"x\", expected i64"
    );
}

#[tokio::test]
async fn a_missing_socket_is_named() {
    let err = Client::connect_unix("/nonexistent/qmp-rs/qmp.sock")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot connect to /nonexistent/qmp-rs/qmp.sock: No such file or directory (os error 2)"
    );
}

#[tokio::test]
async fn typed_streams_have_next_event_and_next_timeout() {
    let (client, mut peer) = connect(ClientConfig::default()).await;
    let mut typed = client.subscribe_typed::<DeviceDeleted>();
    let quiet = typed.next_timeout(Duration::from_millis(50)).await;
    assert!(matches!(quiet, Err(Error::Timeout { .. })), "{quiet:?}");
    peer.send(r#"{"event": "DEVICE_DELETED", "data": {"device": "d0", "path": "/machine/peripheral/d0"}, "timestamp": {"seconds": 1, "microseconds": 0}}"#).await;
    peer.send(r#"{"event": "DEVICE_DELETED", "data": {"path": 7}, "timestamp": {"seconds": 1, "microseconds": 0}}"#).await;
    let first = typed.next_event().await.unwrap().unwrap();
    assert_eq!(first.device.as_deref(), Some("d0"));
    let err = typed
        .next_timeout(Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the data of event DEVICE_DELETED does not match its type at path:"),
        "{err}"
    );
    assert_eq!(typed.missed(), 0);
}
