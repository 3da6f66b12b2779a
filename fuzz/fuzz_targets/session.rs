#![no_main]
//! Drives whole QMP sessions (greeting, negotiation, `execute`/`exec-oob`,
//! JSON errors, partial writes, hang-ups) against a qmp-server built either
//! with a few toy commands or as the qmp-sim QEMU stand-in, and checks the
//! session's invariants: no panic, every output line is CRLF-terminated
//! JSON, replies never outnumber the messages sent, each reply's id is the
//! id of a message sent, and the session ends once the client has closed.
//!
//! The runtime's clock is paused: it jumps ahead whenever every task is
//! idle, so waits and timeouts cost no real time nor depend on load.
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use qmp_server::{CommandEntry, CommandSet, EncodedJson, Reply, Server, ServerConfig};
use qmp_sim::qemu::validator_for;
use qmp_sim::{Machine, MachineOptions, SimApi};
use qmp_wire::{Decoder, Encoder, Map, MemberOrder, QmpError, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

const MAX_ACTIONS: usize = 64;
/// Virtual time the client script may take before the session counts as stalled.
const SCRIPT_BUDGET: Duration = Duration::from_secs(30);
/// Virtual time the session may take to end once the client has closed.
const END_BUDGET: Duration = Duration::from_secs(1);

#[rustfmt::skip]
const COMMANDS: &[&str] = &[
    "qmp_capabilities", "query-status", "query-commands", "query-version", "getfd", "closefd",
    "stop", "cont", "quit", "query-qmp-schema", "system_reset", "x-exit-preconfig", "device_add",
    "device_del", "qom-list", "qom-get", "blockdev-add", "blockdev-del", "block-stream",
    "job-cancel", "job-dismiss", "query-jobs", "migrate", "query-migrate", "migrate-pause",
    "migrate-recover", "add-fd", "remove-fd", "query-fdsets", "human-monitor-command", "set_link",
    "eject", "echo", "x-slow", "x-silent", "x-disabled",
];
#[rustfmt::skip]
const KEYS: &[&str] = &[
    "enable", "fdname", "id", "driver", "node-name", "job-id", "device", "path", "property", "uri",
    "command-line", "fdset-id", "fd", "opaque", "bus", "up", "force", "execute",
];
#[rustfmt::skip]
const STRINGS: &[&str] = &[
    "oob", "", "fd0", "9lives", "virtio-net-pci", "null-co", "node0", "job0", "/machine",
    "/machine/peripheral", "type", "info status", "unix:/nonexistent", "exec:true", "net0",
];

#[derive(Arbitrary, Debug)]
struct Input {
    /// The qmp-sim stand-in, else a bare server with toy commands.
    sim: bool,
    offer_oob: bool,
    preconfig: bool,
    /// Capacity of the in-memory pipe, in 16-byte steps (plus 1).
    pipe: u8,
    /// Writes are cut into pieces this long (0: whole), with a yield between.
    chunk: u8,
    actions: Vec<Action>,
}

#[derive(Arbitrary, Debug)]
enum Action {
    Request {
        oob: bool,
        name: Name,
        id: Option<Json>,
        arguments: Option<Json>,
        extra: Option<(Key, Json)>,
    },
    /// `qmp_capabilities`, enabling `oob` or not.
    Negotiate(bool),
    Raw(Vec<u8>),
    /// Let the server run this many virtual milliseconds.
    Wait(u8),
    /// Half-close: no more input, read what is left.
    Close,
    /// Drop the connection at once.
    HangUp,
}

#[derive(Arbitrary, Debug)]
enum Name {
    Known(u8),
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Key {
    Known(u8),
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Known(u8),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(Key, Json)>),
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list.get(usize::from(i) % list.len())
        .copied()
        .unwrap_or_default()
}

impl Key {
    fn text(&self) -> String {
        match self {
            Key::Known(i) => pick(KEYS, *i).to_string(),
            Key::Other(s) => s.clone(),
        }
    }
}

impl Json {
    fn value(&self, depth: usize) -> Value {
        match self {
            _ if depth > 8 => Value::Null,
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Int(i) => Value::Int(*i),
            Json::UInt(u) => Value::UInt(*u),
            Json::Double(d) => Value::Double(*d),
            Json::Known(i) => pick(STRINGS, *i).into(),
            Json::Str(s) => s.as_str().into(),
            Json::Array(items) => Value::Array(items.iter().map(|j| j.value(depth + 1)).collect()),
            Json::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.text(), v.value(depth + 1)))
                    .collect(),
            ),
        }
    }
}

impl Action {
    /// The bytes this action sends.
    fn bytes(&self) -> Vec<u8> {
        let mut map = Map::new();
        match self {
            Action::Request {
                oob,
                name,
                id,
                arguments,
                extra,
            } => {
                let name = match name {
                    Name::Known(i) => pick(COMMANDS, *i).to_string(),
                    Name::Other(s) => s.clone(),
                };
                map.insert(if *oob { "exec-oob" } else { "execute" }, name);
                if let Some(arguments) = arguments {
                    map.insert("arguments", arguments.value(0));
                }
                if let Some(id) = id {
                    map.insert("id", id.value(0));
                }
                if let Some((key, value)) = extra {
                    map.insert(key.text(), value.value(0));
                }
            }
            Action::Negotiate(oob) => {
                map.insert("execute", "qmp_capabilities");
                if *oob {
                    let mut arguments = Map::new();
                    arguments.insert("enable", Value::Array(vec!["oob".into()]));
                    map.insert("arguments", arguments);
                }
            }
            Action::Raw(bytes) => return bytes.clone(),
            _ => return Vec::new(),
        }
        Encoder::QMP.message_bytes(&Value::Object(map))
    }
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("tokio runtime")
    })
}

/// The stateless part of the qmp-sim stand-in, made once: every command of
/// the built-in API with its options, validator and smallest-value handler,
/// and `query-qmp-schema` encoded once.
fn sim_commands() -> &'static CommandSet {
    static SET: OnceLock<CommandSet> = OnceLock::new();
    SET.get_or_init(|| {
        let api = SimApi::builtin().expect("built-in simulator API");
        let info = Arc::new(api.validation.clone());
        let mut set = CommandSet::new();
        for (name, allow_oob, ret_type) in api.commands() {
            if matches!(
                name,
                "qmp_capabilities" | "query-qmp-schema" | "query-version" | "query-commands"
            ) {
                continue;
            }
            let value = Reply::Value(qmp_sim::minimal_value(&info, ret_type));
            let open = api.open_arguments.contains(name);
            set.add(
                CommandEntry::new(name, move |_| std::future::ready(Ok(value.clone())))
                    .allow_oob(allow_oob)
                    .allow_preconfig(api.preconfig.contains(name))
                    .validator(validator_for(&info, name, open)),
            );
        }
        let schema = Reply::Encoded(Arc::new(EncodedJson::new(
            api.wire.clone(),
            MemberOrder::Qemu,
        )));
        set.add(
            CommandEntry::new("query-qmp-schema", move |_| {
                std::future::ready(Ok(schema.clone()))
            })
            .allow_preconfig(true)
            .no_arguments(),
        );
        set
    })
}

/// What `qmp_sim::qemu::build_server` makes, but without `Machine::attach`:
/// the machine would hold the server whose handlers hold the machine, an
/// Arc cycle that leaks every server (~190 KB each). The one loss:
/// `x-exit-preconfig` leaves the server in preconfig.
fn sim_server(config: ServerConfig, options: &MachineOptions) -> Server {
    let base = sim_commands();
    let mut builder = Server::builder(config).commands(base);
    let simulated = Machine::new(options)
        .commands()
        .into_iter()
        .chain(qmp_server::fd_commands());
    for entry in simulated {
        if let Some(api_entry) = base.get(&entry.name) {
            // The machine's handler, with the API's options and validator.
            builder = builder.command(CommandEntry {
                handler: entry.handler,
                ..(**api_entry).clone()
            });
        }
    }
    let server = builder.build();
    server.set_preconfig(options.preconfig);
    server
}

/// A fresh server for one session (built inside the runtime).
fn server(input: &Input) -> Server {
    let mut config = ServerConfig::qmp(qmp_sim::qemu::default_version());
    config.offer_oob = input.offer_oob;
    config.busy_poll = Duration::ZERO; // it reads the wall clock
    if input.sim {
        return sim_server(
            config,
            &MachineOptions {
                preconfig: input.preconfig,
                ..Default::default()
            },
        );
    }
    let echo = CommandEntry::new(
        "echo",
        |call| async move { Ok(Reply::from(call.arguments)) },
    );
    let slow = CommandEntry::new("x-slow", |_| async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        Ok(Reply::from(Map::new()))
    });
    let stop = CommandEntry::new("stop", |call| async move {
        call.events.emit("STOP", None);
        Ok(Reply::from(Map::new()))
    });
    let quit = CommandEntry::new("quit", |call| async move {
        call.session.close_after_reply();
        Ok(Reply::from(Map::new()))
    });
    let refuse = |_| async { Err(QmpError::generic("refused")) };
    let server = Server::builder(config)
        .command(echo.allow_oob(true).allow_preconfig(true))
        .command(slow.allow_oob(true))
        .command(stop.no_arguments())
        .command(quit)
        .command(CommandEntry::new("cont", refuse))
        .command(
            CommandEntry::new("x-silent", |_| async { Ok(Reply::from(Map::new())) })
                .success_response(false),
        )
        .command(CommandEntry::new("x-disabled", refuse).disable("for fuzzing"))
        .build();
    server.set_preconfig(input.preconfig);
    server
}

/// Runs one session; returns the bytes sent and the complete lines received.
async fn session(input: &Input) -> (Vec<u8>, Vec<u8>) {
    let server = server(input);
    let pipe = 1 + 16 * usize::from(input.pipe);
    let (client, server_end) = tokio::io::duplex(pipe);
    let serving = tokio::spawn(async move { server.serve_stream(server_end).await });
    let (mut rx, mut tx) = tokio::io::split(client);
    let received = Arc::new(Mutex::new(Vec::new()));
    let reader = tokio::spawn({
        let received = Arc::clone(&received);
        async move {
            let mut buf = [0u8; 1024];
            while let Ok(n @ 1..) = rx.read(&mut buf).await {
                received.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        }
    });

    let mut sent = Vec::new();
    let mut hung_up = false;
    let script = async {
        for action in input.actions.iter().take(MAX_ACTIONS) {
            match action {
                Action::Wait(ms) => tokio::time::sleep(Duration::from_millis(u64::from(*ms))).await,
                Action::Close => break,
                Action::HangUp => {
                    hung_up = true;
                    break;
                }
                _ => {
                    let bytes = action.bytes();
                    let chunk = if input.chunk == 0 {
                        bytes.len().max(1)
                    } else {
                        usize::from(input.chunk)
                    };
                    for mut piece in bytes.chunks(chunk) {
                        while !piece.is_empty() {
                            let Ok(n @ 1..) = tx.write(piece).await else {
                                return; // the server closed (quit)
                            };
                            sent.extend_from_slice(&piece[..n]);
                            piece = &piece[n..];
                        }
                        tokio::task::yield_now().await;
                    }
                }
            }
        }
    };
    if tokio::time::timeout(SCRIPT_BUDGET, script).await.is_err() {
        panic!("session stalled: the client could not send its input");
    }
    let reader = if hung_up {
        reader.abort();
        drop(tx);
        None
    } else {
        let _ = tx.shutdown().await;
        Some(reader)
    };
    let ended = tokio::time::timeout(END_BUDGET, serving).await;
    assert!(ended.is_ok(), "session did not end after the client closed");
    if let Some(reader) = reader {
        let read = tokio::time::timeout(END_BUDGET, reader).await;
        assert!(read.is_ok(), "output did not end after the session ended");
    }
    let mut received = std::mem::take(&mut *received.lock().unwrap());
    if hung_up {
        // A hang-up may cut the last line short.
        let complete = received
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        received.truncate(complete);
    }
    (sent, received)
}

/// Checks the output against what was sent.
fn check(sent: &[u8], received: &[u8]) {
    // What the server can have read: the messages of the input.
    let mut decoder = Decoder::new();
    decoder.feed(sent);
    let mut ids: Vec<Option<Value>> = std::iter::from_fn(|| decoder.next())
        .map(|item| item.ok().and_then(|v| v.get("id").cloned()))
        .collect();
    let messages = ids.len();

    assert!(
        received.is_empty() || received.ends_with(b"\r\n"),
        "unterminated output line"
    );
    let mut replies = 0;
    for (n, line) in received
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let line = line.strip_suffix(b"\r").expect("line not ended with CRLF");
        let value = qmp_wire::from_slice(line).unwrap_or_else(|e| {
            panic!(
                "output line is not JSON ({e}): {:?}",
                String::from_utf8_lossy(line)
            )
        });
        let Value::Object(map) = &value else {
            panic!("output line is not an object: {value}")
        };
        if n == 0 {
            assert!(
                map.contains_key("QMP"),
                "first line is not the greeting: {value}"
            );
            continue;
        }
        if map.contains_key("event") {
            continue;
        }
        assert!(
            map.contains_key("return") ^ map.contains_key("error"),
            "neither reply nor event: {value}"
        );
        replies += 1;
        assert!(
            replies <= messages,
            "{replies} replies to {messages} messages"
        );
        let id = map.get("id").cloned();
        let Some(i) = ids.iter().position(|sent| *sent == id) else {
            panic!("reply with an id no message carried: {value}\nids sent: {ids:?}");
        };
        ids.remove(i);
    }
}

/// Lets what the commands started (jobs, migration, event timers) run out:
/// nothing may outlive a session by more than a virtual minute.
async fn settle() {
    let alive = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    for _ in 0..600 {
        if alive() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{} tasks still alive a virtual minute after the session",
        alive()
    );
}

fuzz_target!(|input: Input| {
    let (sent, received) = runtime().block_on(async {
        let out = session(&input).await;
        settle().await;
        out
    });
    if std::env::var_os("SESSION_TRACE").is_some() {
        let text = String::from_utf8_lossy;
        eprintln!("{input:#?}\n>>> {}\n<<< {}", text(&sent), text(&received));
    }
    check(&sent, &received);
});
