//! Lenient and strict replay of small recordings, with and without a
//! recorded schema: repeats, commands never recorded, QEMU's argument
//! checks, events around replies, and the report.

use qmp_client::Client;
use qmp_server::ServerConfig;
use qmp_sim::replay::{Order, Recording, Replay};

const GREETING: &str = r#"{"recv": {"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "x"}, "capabilities": ["oob"]}}, "raw": ""}"#;

fn recording(extra: &[String]) -> Recording {
    let mut lines = vec![
        r#"{"scenario": "t", "qemu": "7.2.22", "kind": "qmp", "argv": []}"#.to_string(),
        GREETING.to_string(),
        r#"{"send": "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"oob\"]}}"}"#.into(),
        r#"{"recv": {"return": {}}, "raw": ""}"#.into(),
        r#"{"send": "{\"execute\":\"stop\"}"}"#.into(),
        r#"{"recv": {"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}, "raw": ""}"#.into(),
        r#"{"recv": {"return": {}}, "raw": ""}"#.into(),
        r#"{"send": "{\"execute\":\"query-status\"}"}"#.into(),
        r#"{"recv": {"return": {"status": "paused", "singlestep": false, "running": false}}, "raw": ""}"#.into(),
        r#"{"send": "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine\",\"property\":\"type\"}}"}"#.into(),
        r#"{"recv": {"return": "none-machine"}, "raw": ""}"#.into(),
    ];
    lines.extend_from_slice(extra);
    Recording::parse(&lines.join("\n")).unwrap()
}

#[tokio::test]
async fn lenient_replay_answers_in_any_order_and_reports() {
    let replay = Replay::start(
        recording(&[]),
        Order::Lenient,
        ServerConfig::qmp(Default::default()),
    )
    .await
    .unwrap();
    let client = Client::connect_unix(replay.socket()).await.unwrap();
    assert_eq!(client.greeting().unwrap().version.package, "x");
    let mut stops = client.subscribe("STOP");
    let status = client.execute("query-status", ()).await.unwrap();
    assert_eq!(
        status.get("status").and_then(|s| s.as_str()),
        Some("paused")
    );
    // Asked twice: the recorded reply again.
    client.execute("query-status", ()).await.unwrap();
    client.execute("stop", ()).await.unwrap();
    assert_eq!(stops.next_event().await.unwrap().timestamp.seconds, 1);
    let error = client
        .execute(
            "qom-get",
            serde_json::json!({"path": "/machine", "property": "kernel"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("qmp replay: 'qom-get {\"path\": \"/machine\", \"property\": \"kernel\"}' is not in the recording"), "{error}");
    let report = replay.stop().await;
    assert_eq!(report.matched, 3);
    assert_eq!(report.unmatched.len(), 1);
    assert_eq!(
        report.never_sent,
        ["qom-get {\"path\": \"/machine\", \"property\": \"type\"}"]
    );
    assert!(!report.is_exact());
}

#[tokio::test]
async fn with_a_recorded_schema_commands_are_checked_and_the_stand_in_answers_the_rest() {
    let Some(path) =
        qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json")
    else {
        return;
    };
    let reply = std::fs::read_to_string(path).unwrap();
    let reply: qmp_wire::Value = qmp_wire::from_str(&reply).unwrap();
    let schema = reply.get("return").cloned().unwrap_or(reply);
    let schema_lines = [
        r#"{"send": "{\"execute\":\"query-qmp-schema\"}"}"#.to_string(),
        format!(r#"{{"recv": {{"return": {schema}}}, "raw": ""}}"#),
    ];
    let replay = Replay::start(
        recording(&schema_lines),
        Order::Lenient,
        ServerConfig::qmp(Default::default()),
    )
    .await
    .unwrap();
    let client = Client::connect_unix(replay.socket()).await.unwrap();
    // QEMU's own argument check, before the recording is looked at.
    let error = client
        .execute("qom-get", serde_json::json!({"path": "/machine"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("Parameter 'property' is missing"), "{error}");
    // Never recorded, but in the schema: the stand-in answers.
    let name = client.execute("query-name", ()).await.unwrap();
    assert!(name.as_object().is_some(), "{name}");
    let error = client
        .execute("no-such-command", ())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("The command no-such-command has not been found"),
        "{error}"
    );
    let report = replay.stop().await;
    // Every command the recording lacks is reported, whoever answered it.
    assert_eq!(
        report.unmatched,
        [
            r#"qom-get {"path": "/machine"}"#,
            "query-name",
            "no-such-command"
        ]
    );
}

#[tokio::test]
async fn strict_replay_names_the_expected_command() {
    let replay = Replay::start(
        recording(&[]),
        Order::Strict,
        ServerConfig::qmp(Default::default()),
    )
    .await
    .unwrap();
    let client = Client::connect_unix(replay.socket()).await.unwrap();
    let error = client
        .execute("query-status", ())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("qmp replay: expected 'stop' (recorded command 1), got 'query-status'"),
        "{error}"
    );
    client.execute("stop", ()).await.unwrap();
    client.execute("query-status", ()).await.unwrap();
    let report = replay.stop().await;
    assert_eq!(report.matched, 2);
    assert_eq!(report.out_of_order, ["query-status"]);
    assert_eq!(report.never_sent.len(), 1);
}

proptest::proptest! {
    /// A recording file is input: any text is read or refused, never a panic.
    #[test]
    fn any_recording_text_is_read_or_refused(lines in proptest::collection::vec(
        proptest::prop_oneof![
            proptest::string::string_regex(".{0,40}").unwrap(),
            proptest::sample::select(vec![
                GREETING.to_string(),
                r#"{"send": "{\"execute\":\"stop\"}"}"#.to_string(),
                r#"{"send": "{\"execute\":"}"#.to_string(),
                r#"{"recv": {"return": {}}, "raw": ""}"#.to_string(),
                r#"{"recv": {"event": "STOP"}, "raw": ""}"#.to_string(),
                r#"{"recv": [1, 2], "at_us": -5}"#.to_string(),
                r#"{"eof": "A"}"#.to_string(),
            ]),
        ],
        0..12,
    )) {
        let _ = Recording::parse(&lines.join("\n"));
    }
}
