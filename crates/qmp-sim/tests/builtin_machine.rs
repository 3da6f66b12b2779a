//! The built-in simulated machine through a raw QMP connection: its schema,
//! devices with DEVICE_DELETED, a block job's events, a migration's events,
//! scripted replies and the record of received commands.

use std::time::Duration;

use qmp_sim::{Rule, Simulator};
use qmp_wire::{ErrorClass, Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    /// Events read while waiting for replies.
    events: Vec<Value>,
}

impl Client {
    async fn connect(sim: &Simulator) -> Client {
        let stream = UnixStream::connect(sim.socket()).await.unwrap();
        let (read, write) = stream.into_split();
        let mut client = Client {
            reader: BufReader::new(read),
            writer: write,
            events: Vec::new(),
        };
        let greeting = client.message().await;
        assert!(greeting.get("QMP").is_some());
        client
            .execute("qmp_capabilities", r#"{"enable": ["oob"]}"#)
            .await
            .unwrap();
        client
    }

    async fn message(&mut self) -> Value {
        let mut line = Vec::new();
        tokio::time::timeout(
            Duration::from_secs(10),
            self.reader.read_until(b'\n', &mut line),
        )
        .await
        .expect("a message within 10 s")
        .unwrap();
        qmp_wire::from_slice(&line).expect("valid JSON")
    }

    /// Sends a request and returns its result, collecting events meanwhile.
    async fn send(
        &mut self,
        verb: &str,
        command: &str,
        args: &str,
    ) -> Result<Value, (String, String)> {
        let request = format!(r#"{{"{verb}": "{command}", "arguments": {args}, "id": "x"}}"#);
        self.writer.write_all(request.as_bytes()).await.unwrap();
        loop {
            let message = self.message().await;
            if message.get("event").is_some() {
                self.events.push(message);
                continue;
            }
            if let Some(value) = message.get("return") {
                return Ok(value.clone());
            }
            let error = message.get("error").expect("return or error");
            let text = |k: &str| {
                error
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            return Err((text("class"), text("desc")));
        }
    }

    async fn execute(&mut self, command: &str, args: &str) -> Result<Value, (String, String)> {
        self.send("execute", command, args).await
    }

    /// Reads until `count` events named `name` were seen; returns all events seen.
    async fn events_until(&mut self, name: &str, count: usize) -> Vec<Value> {
        while self.count(name) < count {
            let message = self.message().await;
            assert!(message.get("event").is_some(), "unexpected {message}");
            self.events.push(message);
        }
        std::mem::take(&mut self.events)
    }

    fn count(&self, name: &str) -> usize {
        self.events
            .iter()
            .filter(|e| e.get("event").and_then(Value::as_str) == Some(name))
            .count()
    }
}

fn describe(event: &Value) -> String {
    let name = event
        .get("event")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match event
        .get("data")
        .and_then(|d| d.get("status").or_else(|| d.get("pass")))
    {
        Some(Value::String(status)) => format!("{name}:{status}"),
        Some(pass) => format!("{name}:{pass}"),
        None => name.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_schema_is_served_and_validated() {
    let sim = Simulator::start().await.unwrap();
    let mut c = Client::connect(&sim).await;
    let schema = c.execute("query-qmp-schema", "{}").await.unwrap();
    let names: Vec<&str> = schema
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.get("name").and_then(Value::as_str))
        .collect();
    for command in [
        "query-status",
        "stop",
        "cont",
        "system_reset",
        "system_powerdown",
        "quit",
        "query-name",
        "query-uuid",
        "query-kvm",
        "human-monitor-command",
        "device_add",
        "device_del",
        "qom-list",
        "qom-get",
        "blockdev-add",
        "blockdev-del",
        "query-named-block-nodes",
        "query-jobs",
        "job-cancel",
        "job-dismiss",
        "migrate",
        "query-migrate",
        "migrate-pause",
        "DEVICE_DELETED",
        "JOB_STATUS_CHANGE",
        "MIGRATION",
        "MIGRATION_PASS",
    ] {
        assert!(
            names.contains(&command),
            "{command} missing from the schema"
        );
    }
    assert_eq!(
        c.execute("qom-get", r#"{"path": "/machine"}"#).await,
        Err((
            "GenericError".into(),
            "Parameter 'property' is missing".into()
        ))
    );
    assert_eq!(
        c.execute("device_add", r#"{"id": "x"}"#).await,
        Err((
            "GenericError".into(),
            "Parameter 'driver' is missing".into()
        ))
    );
    assert_eq!(
        c.execute("query-kvm", "{}").await.unwrap().get("present"),
        Some(&Value::Bool(false))
    );
    assert_eq!(
        c.send("exec-oob", "migrate-pause", "{}").await,
        Err((
            "GenericError".into(),
            "migrate-pause is currently only supported during postcopy-active state".into()
        ))
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_come_and_go_with_device_deleted() {
    let sim = Simulator::start().await.unwrap();
    let mut c = Client::connect(&sim).await;
    // Device properties beyond the declared arguments are accepted.
    c.execute(
        "device_add",
        r#"{"driver": "virtio-net-pci", "id": "net0", "mac": "52:54:00:12:34:56"}"#,
    )
    .await
    .unwrap();
    assert_eq!(
        c.execute(
            "qom-get",
            r#"{"path": "/machine/peripheral/net0", "property": "type"}"#
        )
        .await
        .unwrap(),
        Value::from("virtio-net-pci")
    );
    assert_eq!(
        c.execute("device_add", r#"{"driver": "e1000", "id": "net0"}"#)
            .await,
        Err(("GenericError".into(), "Duplicate device ID 'net0'".into()))
    );
    c.execute("device_del", r#"{"id": "net0"}"#).await.unwrap();
    let events = c.events_until("DEVICE_DELETED", 1).await;
    let deleted = events.last().unwrap().get("data").unwrap();
    assert_eq!(deleted.get("device"), Some(&Value::from("net0")));
    assert_eq!(
        deleted.get("path"),
        Some(&Value::from("/machine/peripheral/net0"))
    );
    assert_eq!(
        c.execute("device_del", r#"{"id": "net0"}"#).await,
        Err(("DeviceNotFound".into(), "Device 'net0' not found".into()))
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_job_advances_with_qemus_events() {
    let sim = Simulator::start().await.unwrap();
    let mut c = Client::connect(&sim).await;
    c.execute(
        "blockdev-add",
        r#"{"driver": "null-co", "node-name": "disk0", "size": 1048576}"#,
    )
    .await
    .unwrap();
    let nodes = c.execute("query-named-block-nodes", "{}").await.unwrap();
    assert_eq!(nodes.as_array().map(Vec::len), Some(1));
    assert_eq!(
        c.execute("block-stream", r#"{"device": "nope"}"#).await,
        Err((
            "GenericError".into(),
            "Cannot find device='nope' nor node-name='nope'".into()
        ))
    );
    c.execute("block-stream", r#"{"device": "disk0", "job-id": "job0"}"#)
        .await
        .unwrap();
    let jobs = c.execute("query-jobs", "{}").await.unwrap();
    assert_eq!(jobs.as_array().map(Vec::len), Some(1));
    assert_eq!(
        c.execute("blockdev-del", r#"{"node-name": "disk0"}"#).await,
        Err((
            "GenericError".into(),
            "Node 'disk0' is busy: block device is in use by block job: stream".into()
        ))
    );
    let events = c.events_until("BLOCK_JOB_COMPLETED", 1).await;
    let mut sequence: Vec<String> = events.iter().map(describe).collect();
    // The remaining status changes follow the completion event.
    let more = c.events_until("JOB_STATUS_CHANGE", 2).await;
    sequence.extend(more.iter().map(describe));
    assert_eq!(
        sequence,
        [
            "JOB_STATUS_CHANGE:created",
            "JOB_STATUS_CHANGE:running",
            "JOB_STATUS_CHANGE:waiting",
            "JOB_STATUS_CHANGE:pending",
            "BLOCK_JOB_COMPLETED",
            "JOB_STATUS_CHANGE:concluded",
            "JOB_STATUS_CHANGE:null",
        ]
    );
    assert_eq!(
        c.execute("query-jobs", "{}").await.unwrap(),
        Value::Array(vec![])
    );
    // Cancelled, and kept until dismissed.
    c.execute(
        "block-stream",
        r#"{"device": "disk0", "job-id": "job1", "auto-dismiss": false}"#,
    )
    .await
    .unwrap();
    c.events_until("JOB_STATUS_CHANGE", 2).await;
    c.execute("job-cancel", r#"{"id": "job1"}"#).await.unwrap();
    let events = c.events_until("BLOCK_JOB_CANCELLED", 1).await;
    assert!(events
        .iter()
        .any(|e| describe(e) == "JOB_STATUS_CHANGE:aborting"));
    c.events_until("JOB_STATUS_CHANGE", 1).await; // concluded
    c.execute("job-dismiss", r#"{"id": "job1"}"#).await.unwrap();
    assert_eq!(
        c.execute("job-dismiss", r#"{"id": "job1"}"#).await,
        Err(("GenericError".into(), "Job not found".into()))
    );
    c.execute("blockdev-del", r#"{"node-name": "disk0"}"#)
        .await
        .unwrap();
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_advances_with_qemus_events() {
    let sim = Simulator::start().await.unwrap();
    let mut c = Client::connect(&sim).await;
    assert_eq!(
        c.execute("query-migrate", "{}").await.unwrap(),
        Value::Object(Map::new())
    );
    c.execute("migrate", r#"{"uri": "tcp:127.0.0.1:4444"}"#)
        .await
        .unwrap();
    assert_eq!(
        c.execute("migrate", r#"{"uri": "tcp:127.0.0.1:4444"}"#)
            .await,
        Err((
            "GenericError".into(),
            "There's a migration process in progress".into()
        ))
    );
    let events = c.events_until("MIGRATION", 3).await;
    let sequence: Vec<String> = events.iter().map(describe).collect();
    assert_eq!(
        sequence,
        [
            "MIGRATION:setup",
            "MIGRATION:active",
            "MIGRATION_PASS:1",
            "MIGRATION_PASS:2",
            "MIGRATION_PASS:3",
            "STOP",
            "MIGRATION:completed",
        ]
    );
    let info = c.execute("query-migrate", "{}").await.unwrap();
    assert_eq!(info.get("status"), Some(&Value::from("completed")));
    assert_eq!(
        info.get("ram").and_then(|r| r.get("remaining")),
        Some(&Value::Int(0))
    );
    let status = c.execute("query-status", "{}").await.unwrap();
    assert_eq!(status.get("status"), Some(&Value::from("postmigrate")));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_replies_and_the_record_of_commands() {
    let sim = Simulator::start().await.unwrap();
    let mut args = Map::new();
    args.insert("id", "net9");
    sim.script(
        Rule::failing(
            "device_del",
            ErrorClass::DeviceNotFound,
            "scripted: no such device",
        )
        .with_arguments(args)
        .times(1),
    );
    sim.script(
        Rule::returning(
            "query-name",
            [("name", "scripted")].into_iter().collect::<Map>(),
        )
        .with_event("WATCHDOG", None)
        .with_delay(Duration::from_millis(50)),
    );
    let mut c = Client::connect(&sim).await;
    assert_eq!(
        c.execute("device_del", r#"{"id": "net9"}"#).await,
        Err(("DeviceNotFound".into(), "scripted: no such device".into()))
    );
    // Used up: the simulator's own answer now.
    assert_eq!(
        c.execute("device_del", r#"{"id": "net9"}"#).await,
        Err(("DeviceNotFound".into(), "Device 'net9' not found".into()))
    );
    // Arguments are still checked first.
    assert_eq!(
        c.execute("device_del", "{}").await,
        Err(("GenericError".into(), "Parameter 'id' is missing".into()))
    );
    let name = c.execute("query-name", "{}").await.unwrap();
    assert_eq!(name.get("name"), Some(&Value::from("scripted")));
    assert_eq!(
        c.count("WATCHDOG"),
        1,
        "the scripted event came before the reply"
    );
    assert_eq!(
        sim.received_commands(),
        [
            "qmp_capabilities",
            "device_del",
            "device_del",
            "device_del",
            "query-name"
        ]
    );
    sim.stop().await;
}

/// A server built around a machine is freed once its last handle goes:
/// the machine's link back to its server must not keep it alive (the
/// session fuzzer found 190 KB leaked per server when it did).
#[tokio::test]
async fn a_built_server_is_freed_with_its_last_handle() {
    let api = qmp_sim::SimApi::builtin().unwrap();
    let machine = qmp_sim::Machine::new(&qmp_sim::MachineOptions::default());
    let server = qmp_sim::qemu::build_server(
        &api,
        &machine,
        qmp_server::ServerConfig::qmp(qmp_sim::qemu::default_version()),
    );
    let weak = server.downgrade();
    drop(server);
    assert!(weak.upgrade().is_none(), "the server outlived its handles");
    drop(machine);
}
