//! The generated client and server sides: commands become requests,
//! events decode into one enum, and the dispatcher validates with QEMU's
//! errors before calling the server's methods.

#![cfg(qapi_generated)]

use std::future::Future;
use std::pin::pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use qapi_gen_check::{qga, qmp, test_schema};
use qmp_wire::{Command, ErrorClass, EventData, Map, QmpError, Value};
use serde_json::json;

/// Polls a future that never waits (the test servers answer at once).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn map(value: serde_json::Value) -> Map {
    match Value::from(value) {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// A command's (allow-oob, success-response).
fn flags<C: Command>() -> (bool, bool) {
    (C::ALLOW_OOB, C::SUCCESS_RESPONSE)
}

/// Compiles only for a command whose generated type allows `exec-oob`.
fn oob_command<C: qmp_wire::OobCommand>() {
    assert!(C::ALLOW_OOB);
}

#[test]
fn commands_become_requests_and_replies_decode() {
    let request = qmp::commands::QomList {
        path: "/machine".into(),
    }
    .to_request()
    .expect("request");
    assert_eq!(request.command, "qom-list");
    assert_eq!(request.arguments, Some(map(json!({"path": "/machine"}))));
    assert_eq!(
        qmp::commands::Stop {}
            .to_request()
            .expect("request")
            .arguments,
        None
    );
    assert_eq!(flags::<qmp::commands::MigratePause>(), (true, true));
    oob_command::<qmp::commands::MigratePause>();
    assert_eq!(flags::<qmp::commands::QmpCapabilities>(), (false, true));
    assert_eq!(flags::<qga::commands::GuestShutdown>(), (false, false));
    // A reply from a newer QEMU with an extra member still reads.
    let reply = json!({"running": true, "status": "running", "singlestep": false, "new": 1});
    let status: <qmp::commands::QueryStatus as Command>::Returns =
        serde_json::from_value(reply).expect("tolerant reply");
    assert!(status.running);
    assert_eq!(status.status, qmp::RunState::Running);
}

#[test]
fn events_decode_into_one_enum() {
    let data = map(json!({"guest": true, "reason": "guest-shutdown"}));
    let event = qmp::Event::decode("SHUTDOWN", Some(data)).expect("decodes");
    let qmp::Event::Shutdown(shutdown) = &event else {
        panic!("not SHUTDOWN: {event:?}");
    };
    assert!(shutdown.guest);
    assert_eq!(shutdown.reason, qmp::ShutdownCause::GuestShutdown);
    assert_eq!(event.name(), qmp::events::Shutdown::NAME);
    let stop = qmp::Event::decode("STOP", None).expect("decodes");
    assert_eq!(stop, qmp::Event::Stop(qmp::events::Stop {}));
    let unknown = qmp::Event::decode("FUTURE_EVENT", Some(map(json!({"x": 1})))).expect("kept");
    assert_eq!(unknown.name(), "FUTURE_EVENT");
    assert!(qmp::Event::decode("SHUTDOWN", Some(map(json!({"guest": 1})))).is_err());
}

/// A server that implements three commands and records what it got.
#[derive(Default)]
struct TestServer {
    seen: Mutex<Vec<String>>,
}

impl qmp::server::Server for TestServer {
    async fn qom_list(
        &self,
        args: qmp::commands::QomList,
    ) -> Result<Vec<qmp::ObjectPropertyInfo>, QmpError> {
        self.seen.lock().expect("lock").push(args.path.clone());
        Ok(vec![qmp::ObjectPropertyInfo {
            name: "type".into(),
            r#type: "string".into(),
            description: None,
            default_value: None,
        }])
    }

    async fn stop(&self) -> Result<(), QmpError> {
        Ok(())
    }

    async fn migrate_set_parameters(
        &self,
        args: qmp::commands::MigrateSetParameters,
    ) -> Result<(), QmpError> {
        let bandwidth = args.0.max_bandwidth.unwrap_or_default();
        self.seen
            .lock()
            .expect("lock")
            .push(format!("max-bandwidth={bandwidth}"));
        Ok(())
    }
}

fn dispatch(
    server: &TestServer,
    name: &str,
    args: serde_json::Value,
) -> Option<Result<Value, QmpError>> {
    block_on(qmp::server::dispatch(server, name, map(args)))
}

fn generic(text: &str) -> Option<Result<Value, QmpError>> {
    Some(Err(QmpError::generic(text)))
}

#[test]
fn dispatcher_validates_then_calls_the_method() {
    let server = TestServer::default();
    let ok = dispatch(&server, "qom-list", json!({"path": "/machine"}));
    assert_eq!(
        ok,
        Some(Ok(Value::from(json!([{"name": "type", "type": "string"}]))))
    );
    assert_eq!(
        dispatch(&server, "qom-list", json!({"path": 1})),
        generic("Invalid parameter type for 'path', expected: string")
    );
    assert_eq!(
        dispatch(&server, "qom-list", json!({"bogus": 1})),
        generic("Parameter 'path' is missing")
    );
    assert_eq!(
        dispatch(&server, "stop", json!({})),
        Some(Ok(Value::Object(Map::new())))
    );
    assert_eq!(
        dispatch(&server, "stop", json!({"x": 1})),
        generic("Parameter 'x' is unexpected")
    );
    assert_eq!(
        dispatch(
            &server,
            "migrate-set-parameters",
            json!({"multifd-zlib-level": 300})
        ),
        generic("Parameter 'multifd-zlib-level' expects uint8_t")
    );
    // QEMU accepts negative sizes, wrapped.
    assert_eq!(
        dispatch(
            &server,
            "migrate-set-parameters",
            json!({"max-bandwidth": -1})
        ),
        Some(Ok(Value::Object(Map::new())))
    );
    assert_eq!(
        dispatch(&server, "cont", json!({})),
        Some(Err(QmpError::new(
            ErrorClass::CommandNotFound,
            "The command cont has not been found"
        )))
    );
    // gen: false commands and unknown ones are the server's business.
    assert_eq!(
        dispatch(&server, "device_add", json!({"driver": "x"})),
        None
    );
    assert_eq!(dispatch(&server, "no-such-command", json!({})), None);
    assert_eq!(
        *server.seen.lock().expect("lock"),
        vec![
            "/machine".to_string(),
            format!("max-bandwidth={}", u64::MAX)
        ]
    );
    let table = qmp::server::COMMANDS;
    let device_add = table
        .iter()
        .find(|c| c.name == "device_add")
        .expect("listed");
    assert!(!device_add.generated);
    let guest_shutdown = qga::server::COMMANDS
        .iter()
        .find(|c| c.name == "guest-shutdown");
    assert_eq!(guest_shutdown.map(|c| c.success_response), Some(false));
}

#[test]
fn introspection_is_embedded_as_qemu_sends_it() {
    let Some(path) =
        qmp_test_support::shared_path("qemu/expected/10.0-all-conditions-query-qmp-schema.json")
    else {
        return;
    };
    let want = qmp_wire::from_slice(&std::fs::read(path).expect("read")).expect("json");
    let got = qmp_wire::from_str(qmp::QUERY_QMP_SCHEMA).expect("embedded list is JSON");
    assert!(got == want, "embedded introspection differs from QEMU's");
}

#[test]
fn the_test_schema_corners_generate_usable_types() {
    // `__org.qemu_x-Union1` and friends read as CamelCase.
    let value = json!({"__org.qemu_x-member1": "__org.qemu_x-value", "array": []});
    let union: test_schema::OrgQemuXUnion = serde_json::from_value(value.clone()).expect("reads");
    assert_eq!(union.org_qemu_x_member1.tag(), "__org.qemu_x-value");
    assert_eq!(serde_json::to_value(&union).ok(), Some(value));
    let event = test_schema::Event::decode(
        "__ORG.QEMU_X-EVENT",
        Some(map(
            json!({"__org.qemu_x-member1": "__org.qemu_x-value", "__org.qemu_x-member2": "m"}),
        )),
    )
    .expect("decodes");
    assert_eq!(event.name(), "__ORG.QEMU_X-EVENT");
    let alt: test_schema::AltStrObj = serde_json::from_value(json!("s")).expect("reads");
    assert_eq!(alt, test_schema::AltStrObj::S("s".into()));
}

#[test]
fn blockdev_add_null_co_builds_in_one_expression() {
    let add = qmp::commands::BlockdevAdd::from(
        qmp::BlockdevOptions::null_co(qmp::BlockdevOptionsNull::default().with_size(1 << 20))
            .with_node_name("n0"),
    );
    assert_eq!(
        serde_json::to_value(&add).expect("serialises"),
        json!({"driver": "null-co", "node-name": "n0", "size": 1048576})
    );
    assert_eq!(add.to_request().expect("request").command, "blockdev-add");
}

#[test]
fn structs_have_constructors_and_setters() {
    // Required members through new (strings from &str), optional ones unset.
    let get = qmp::commands::QomGet::new("/machine", "type");
    assert_eq!(
        serde_json::to_value(&get).expect("serialises"),
        json!({"path": "/machine", "property": "type"})
    );
    // All optional: Default, then setters.
    let stats = qmp::commands::QueryBlockstats::default().with_query_nodes(true);
    assert_eq!(stats.query_nodes, Some(true));
    assert_eq!(
        serde_json::to_value(qmp::commands::QueryBlockstats::default()).expect("serialises"),
        json!({})
    );
    // Another branch of the same type.
    let file =
        qmp::BlockdevOptions::null_aio(qmp::BlockdevOptionsNull::default()).with_read_only(true);
    assert_eq!(file.driver.tag(), "null-aio");
    assert_eq!(file.read_only, Some(true));
    // A union whose base has a required member besides the tag; a branch
    // without members of its own (spice) takes the base members alone.
    let vnc = qmp::SetPasswordOptions::vnc("secret", qmp::SetPasswordOptionsVnc::default());
    assert_eq!(
        serde_json::to_value(&vnc).expect("serialises"),
        json!({"protocol": "vnc", "password": "secret"})
    );
    let spice =
        qmp::SetPasswordOptions::spice("secret").with_connected(qmp::SetPasswordAction::Keep);
    assert_eq!(
        serde_json::to_value(&spice).expect("serialises"),
        json!({"protocol": "spice", "password": "secret", "connected": "keep"})
    );
}
