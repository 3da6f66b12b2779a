//! Replay of a recorded conversation as a fake QEMU (`qmp replay`): the
//! recording (QEMU's transcript format, as `qmp record` writes it) read
//! into exchanges, each command answered with the recorded reply of the
//! matching recorded command (same name and arguments; the id is the
//! client's), recorded events sent at their place, and a report of what
//! matched.
//!
//! Strict replay wants the recorded commands in the recorded order: any
//! other command gets an error naming the expected one. Lenient replay
//! takes them in any order (the first unused match, else the last used
//! one); a command never recorded is answered by the schema-driven
//! stand-in when the recording holds a `query-qmp-schema` reply (whose
//! argument checks, with QEMU's texts, apply to every command), else with
//! an error saying so.

use std::collections::VecDeque;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qmp_server::{
    Call, CommandEntry, CommandResult, EncodedJson, Handler, Reply, Server, ServerConfig,
};
use qmp_wire::{
    Decoder, Event, Map, MemberOrder, QmpError, Request, ServerMessage, Value, VersionInfo,
};

use crate::{ApiError, SimApi};

/// One recorded command and what QEMU answered.
#[derive(Clone, Debug, PartialEq)]
pub struct Exchange {
    /// The command.
    pub command: String,
    /// Its arguments (`{}` for none).
    pub arguments: Map,
    /// Events QEMU sent between the command and its reply.
    pub before: Vec<Event>,
    /// The reply.
    pub reply: Result<Value, QmpError>,
    /// Events QEMU sent after the reply (before the next command), with
    /// how long after it.
    pub after: Vec<(Duration, Event)>,
    /// QEMU closed the connection after this reply (`quit`).
    pub closes: bool,
}

/// A recording read into exchanges.
#[derive(Clone, Debug)]
pub struct Recording {
    /// The greeting's version.
    pub version: VersionInfo,
    /// The greeting's capabilities.
    pub capabilities: Vec<String>,
    /// The commands, in recorded order (negotiation left out).
    pub exchanges: Vec<Exchange>,
    /// The recorded `query-qmp-schema` reply, if the session asked for it.
    pub schema: Option<Value>,
}

/// A recording that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RecordingError(pub String);

/// A request waiting for its recorded reply while reading.
struct Sent {
    request: Request,
    before: Vec<Event>,
}

impl Recording {
    /// Reads a recording file.
    pub fn read_file(path: &Path) -> Result<Recording, RecordingError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RecordingError(format!("{}: {e}", path.display())))?;
        Recording::parse(&text)
            .map_err(|RecordingError(e)| RecordingError(format!("{}: {e}", path.display())))
    }

    /// Reads a recording's text.
    pub fn parse(text: &str) -> Result<Recording, RecordingError> {
        let mut greeting = None;
        let mut pending: std::collections::VecDeque<Sent> = Default::default();
        let mut exchanges: Vec<Exchange> = Vec::new();
        let mut last_reply_at = 0u64;
        for (n, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let step = qmp_wire::from_str(line)
                .map_err(|e| RecordingError(format!("line {}: {e}", n + 1)))?;
            let at = step
                .get("at_us")
                .and_then(Value::as_u64)
                .unwrap_or(last_reply_at);
            if let Some(text) = step.get("send").and_then(Value::as_str) {
                let mut decoder = Decoder::new();
                decoder.feed(text.as_bytes());
                while let Some(item) = decoder.next() {
                    if let Ok(request) = item
                        .map_err(|_| ())
                        .and_then(|v| Request::from_value(v, true).map_err(|_| ()))
                    {
                        pending.push_back(Sent {
                            request,
                            before: Vec::new(),
                        });
                    }
                }
            } else if step.get("eof").is_some() {
                if let Some(last) = exchanges.last_mut() {
                    last.closes = true;
                }
            } else if let Some(message) = step.get("recv") {
                match ServerMessage::from_value(message.clone()) {
                    Ok(ServerMessage::Greeting(g)) => greeting = Some(g),
                    Ok(ServerMessage::Event(event)) => match pending.front_mut() {
                        Some(sent) => sent.before.push(event),
                        None => {
                            if let Some(last) = exchanges.last_mut() {
                                let after = Duration::from_micros(at.saturating_sub(last_reply_at));
                                last.after.push((after, event));
                            }
                        }
                    },
                    Ok(ServerMessage::Response(response)) => {
                        let Some(sent) = pending.pop_front() else {
                            continue;
                        };
                        last_reply_at = at;
                        if sent.request.command == "qmp_capabilities" {
                            continue;
                        }
                        exchanges.push(Exchange {
                            command: sent.request.command,
                            arguments: sent.request.arguments.unwrap_or_default(),
                            before: sent.before,
                            reply: response.result,
                            after: Vec::new(),
                            closes: false,
                        });
                    }
                    Err(_) => {}
                }
            }
        }
        let Some(greeting) = greeting else {
            return Err(RecordingError("no greeting recorded".into()));
        };
        let schema = exchanges
            .iter()
            .find(|e| e.command == "query-qmp-schema")
            .and_then(|e| e.reply.clone().ok());
        Ok(Recording {
            version: greeting.version,
            capabilities: greeting.capabilities,
            exchanges,
            schema,
        })
    }
}

/// How a replay matches commands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Any order.
    #[default]
    Lenient,
    /// The recorded order.
    Strict,
}

/// What a replay saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Commands answered from the recording.
    pub matched: usize,
    /// Commands the recording does not have (name and arguments).
    pub unmatched: Vec<String>,
    /// Strict replay: commands that came where another was recorded.
    pub out_of_order: Vec<String>,
    /// Recorded commands never sent.
    pub never_sent: Vec<String>,
}

impl ReplayReport {
    /// True when the clients did exactly what was recorded.
    pub fn is_exact(&self) -> bool {
        self.unmatched.is_empty() && self.out_of_order.is_empty() && self.never_sent.is_empty()
    }
}

impl fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "replay: {} commands matched the recording", self.matched)?;
        for (label, list) in [
            ("not in the recording", &self.unmatched),
            ("out of order", &self.out_of_order),
            ("recorded but never sent", &self.never_sent),
        ] {
            writeln!(f, "replay: {} {label}", list.len())?;
            for item in list {
                writeln!(f, "  {item}")?;
            }
        }
        Ok(())
    }
}

struct State {
    used: Vec<bool>,
    next: usize,
    last_used: Vec<Option<usize>>,
    report: ReplayReport,
    /// What [`Replayer::observe`] chose for the latest requests, by
    /// [`request_key`], until their handler takes it; requests the server
    /// answered itself never take theirs, so only the latest
    /// [`MAX_CHOSEN`] are kept.
    chosen: VecDeque<(String, Choice)>,
}

/// Choices kept for requests on their way to a handler: far more than
/// can be in flight (QEMU queues 8 in-band commands per session).
const MAX_CHOSEN: usize = 1024;

/// What the replay chose for one request: an exchange, the stand-in
/// (`None`), or an error reply.
type Choice = Result<Option<usize>, QmpError>;

/// Identifies a request between the server's observer and its handler.
fn request_key(out_of_band: bool, command: &str, arguments: &Map, id: Option<&Value>) -> String {
    format!(
        "{out_of_band}|{command}|{}|{}",
        crate::profile::canonical_arguments(arguments),
        id.map(Value::to_string).unwrap_or_default()
    )
}

/// Serves a recording; shared by the replay server's handlers.
pub struct Replayer {
    recording: Recording,
    order: Order,
    state: Mutex<State>,
    finished: tokio::sync::watch::Sender<bool>,
}

/// `name {arguments}` for reports and errors.
fn describe(command: &str, arguments: &Map) -> String {
    if arguments.is_empty() {
        command.to_string()
    } else {
        format!("{command} {}", Value::Object(arguments.clone()))
    }
}

impl Replayer {
    /// A replayer of `recording`.
    pub fn new(recording: Recording, order: Order) -> Arc<Replayer> {
        let count = recording.exchanges.len();
        Arc::new(Replayer {
            recording,
            order,
            state: Mutex::new(State {
                used: vec![false; count],
                next: 0,
                last_used: vec![None; count],
                report: ReplayReport::default(),
                chosen: VecDeque::new(),
            }),
            finished: tokio::sync::watch::Sender::new(false),
        })
    }

    /// Waits until the recorded session's end has been replayed (the reply
    /// after which QEMU closed the connection, such as `quit`'s). Pending
    /// forever when the recording does not end that way.
    pub async fn finished(&self) {
        let _ = self.finished.subscribe().wait_for(|done| *done).await;
    }

    /// The recording.
    pub fn recording(&self) -> &Recording {
        &self.recording
    }

    /// What happened so far, with the recorded commands not yet sent.
    pub fn report(&self) -> ReplayReport {
        let Ok(state) = self.state.lock() else {
            return ReplayReport::default();
        };
        let mut report = state.report.clone();
        report.never_sent = self
            .recording
            .exchanges
            .iter()
            .zip(&state.used)
            .filter(|(_, used)| !**used)
            .map(|(e, _)| describe(&e.command, &e.arguments))
            .collect();
        report
    }

    /// Sees every well-framed request as it arrives, before the server
    /// answers any itself (an `exec-oob` of a command without `allow-oob`,
    /// arguments that fail validation), and keeps the recorded order with
    /// it; the handler then answers with what was chosen here.
    /// `stand_in_behind`: commands not recorded may go to the stand-in.
    fn observe(&self, request: &Request, stand_in_behind: bool) {
        if request.command == "qmp_capabilities" {
            return;
        }
        let none = Map::new();
        let arguments = request.arguments.as_ref().unwrap_or(&none);
        let can_fall_back = stand_in_behind && self.order == Order::Lenient;
        let choice = self.select(&request.command, arguments, can_fall_back);
        let key = request_key(
            request.oob,
            &request.command,
            arguments,
            request.id.as_ref(),
        );
        if let Ok(mut state) = self.state.lock() {
            if state.chosen.len() == MAX_CHOSEN {
                state.chosen.pop_front();
            }
            state.chosen.push_back((key, choice));
        }
    }

    /// What [`Replayer::observe`] chose for `call`, or a choice made now
    /// (a server without the observer).
    fn choice_for(&self, call: &Call, can_fall_back: bool) -> Choice {
        let key = request_key(
            call.out_of_band,
            &call.command,
            &call.arguments,
            call.id.as_ref(),
        );
        let observed = self.state.lock().ok().and_then(|mut state| {
            let at = state.chosen.iter().position(|(k, _)| *k == key)?;
            state.chosen.remove(at).map(|(_, choice)| choice)
        });
        observed.unwrap_or_else(|| self.select(&call.command, &call.arguments, can_fall_back))
    }

    /// The exchange answering `command`, or the error reply; `Ok(None)`
    /// when the stand-in is to answer.
    fn select(
        &self,
        command: &str,
        arguments: &Map,
        can_fall_back: bool,
    ) -> Result<Option<usize>, QmpError> {
        let Ok(mut state) = self.state.lock() else {
            return Err(QmpError::generic("qmp replay: internal error"));
        };
        let exchanges = &self.recording.exchanges;
        let same = |e: &Exchange| e.command == command && &e.arguments == arguments;
        let found = match self.order {
            Order::Strict => match exchanges.get(state.next) {
                Some(expected) if same(expected) => Some(state.next),
                Some(expected) => {
                    let got = describe(command, arguments);
                    let text = format!(
                        "qmp replay: expected '{}' (recorded command {}), got '{got}'",
                        describe(&expected.command, &expected.arguments),
                        state.next + 1
                    );
                    state.report.out_of_order.push(got);
                    return Err(QmpError::generic(text));
                }
                None => {
                    let got = describe(command, arguments);
                    state.report.out_of_order.push(got.clone());
                    return Err(QmpError::generic(format!(
                        "qmp replay: the recording has no more commands, got '{got}'"
                    )));
                }
            },
            Order::Lenient => {
                let unused = exchanges
                    .iter()
                    .enumerate()
                    .position(|(i, e)| same(e) && !state.used.get(i).copied().unwrap_or(true));
                let again = || {
                    exchanges
                        .iter()
                        .enumerate()
                        .rev()
                        .find(|(i, e)| {
                            same(e) && state.last_used.get(*i).copied().flatten().is_some()
                        })
                        .map(|(i, _)| i)
                };
                unused.or_else(again)
            }
        };
        match found {
            Some(index) => {
                if let Some(used) = state.used.get_mut(index) {
                    *used = true;
                }
                if let Some(last) = state.last_used.get_mut(index) {
                    *last = Some(index);
                }
                state.next = index + 1;
                state.report.matched += 1;
                Ok(Some(index))
            }
            None if can_fall_back => {
                state.report.unmatched.push(describe(command, arguments));
                Ok(None)
            }
            None => {
                let got = describe(command, arguments);
                state.report.unmatched.push(got.clone());
                Err(QmpError::generic(format!(
                    "qmp replay: '{got}' is not in the recording"
                )))
            }
        }
    }

    /// Answers `call` from exchange `index`: events before, the reply,
    /// events after at their recorded delay, and the close.
    async fn answer(&self, index: usize, call: &Call) -> CommandResult {
        let Some(exchange) = self.recording.exchanges.get(index) else {
            return Err(QmpError::generic("qmp replay: internal error"));
        };
        // Recorded bytes as QEMU wrote them: its member order is kept.
        let exact = |event: &Event| EncodedJson::new(event.to_value(), MemberOrder::Insertion);
        for event in &exchange.before {
            call.events.relay_encoded(&exact(event));
        }
        if !exchange.after.is_empty() {
            let after = exchange.after.clone();
            let events = call.events.clone();
            tokio::spawn(async move {
                // At least a moment, so that the reply goes first.
                tokio::time::sleep(Duration::from_millis(1)).await;
                let mut waited = Duration::ZERO;
                for (delay, event) in after {
                    if let Some(rest) = delay.checked_sub(waited) {
                        tokio::time::sleep(rest).await;
                        waited = delay;
                    }
                    events
                        .relay_encoded(&EncodedJson::new(event.to_value(), MemberOrder::Insertion));
                }
            });
        }
        if exchange.closes {
            call.session.close_after_reply();
            self.finished.send_replace(true);
        }
        exchange
            .reply
            .clone()
            .map(|value| Reply::Encoded(Arc::new(EncodedJson::new(value, MemberOrder::Insertion))))
    }

    /// A handler answering from the recording, else with `fallback`.
    fn handler(self: &Arc<Self>, fallback: Option<Handler>) -> Handler {
        let replayer = Arc::clone(self);
        Arc::new(move |call: Call| {
            let replayer = Arc::clone(&replayer);
            let fallback = fallback.clone();
            Box::pin(async move {
                let strict = replayer.order == Order::Strict;
                match replayer.choice_for(&call, fallback.is_some() && !strict)? {
                    Some(index) => replayer.answer(index, &call).await,
                    None => match fallback {
                        Some(fallback) => fallback(call).await,
                        None => Err(QmpError::generic("qmp replay: internal error")),
                    },
                }
            })
        })
    }
}

/// A server replaying `replayer`'s recording with `config` (its greeting
/// is the recorded one). With a recorded schema, every command is checked
/// against it and commands never recorded get the stand-in's answers
/// (lenient replay); without one, everything goes to the recording.
pub fn build_replay_server(
    replayer: &Arc<Replayer>,
    config: ServerConfig,
) -> Result<Server, ApiError> {
    let recording = replayer.recording();
    let config = ServerConfig {
        version: recording.version.clone(),
        offer_oob: recording.capabilities.iter().any(|c| c == "oob"),
        ..config
    };
    let observer = |stand_in_behind: bool| -> qmp_server::RequestObserver {
        let replayer = Arc::clone(replayer);
        Arc::new(move |request: &Request| replayer.observe(request, stand_in_behind))
    };
    let Some(wire) = recording.schema.clone() else {
        let handler = replayer.handler(None);
        let observe = observer(false);
        return Ok(Server::builder(config)
            .observe(move |request| observe(request))
            .forward_unknown(move |call| handler(call))
            .build());
    };
    let info = qapi_schema::introspect::SchemaInfo::from_value(&wire).map_err(|error| {
        ApiError::Introspection {
            path: "the recorded query-qmp-schema reply".into(),
            error,
        }
    })?;
    let api = SimApi::from_reply(wire.clone(), info);
    // The server's own queries go through the recording too (in a strict
    // replay they have their place), with the recorded answers behind.
    let version = recording.version.to_value();
    let schema = Arc::new(EncodedJson::new(wire, MemberOrder::Insertion));
    let own = [
        CommandEntry::new("query-version", move |_| {
            let version = version.clone();
            async move { Ok(Reply::Value(version)) }
        }),
        CommandEntry::new("query-qmp-schema", move |_| {
            let schema = Arc::clone(&schema);
            async move { Ok(Reply::Encoded(schema)) }
        }),
    ];
    let wrap = |entry: CommandEntry| {
        let handler = replayer.handler(Some(Arc::clone(&entry.handler)));
        CommandEntry { handler, ..entry }
    };
    let extra = own
        .into_iter()
        .map(|entry| wrap(entry).allow_preconfig(true).no_arguments())
        .collect();
    let assembled = crate::qemu::Assembly::new(api)
        .config(config)
        .observer(observer(true))
        .build_wrapped(wrap, extra)
        .map_err(|reason| ApiError::Read {
            path: "the replayed machine".into(),
            error: std::io::Error::other(reason),
        })?;
    Ok(assembled.server)
}

/// A replay served on a fresh unix socket, for tests.
pub struct Replay {
    replayer: Arc<Replayer>,
    served: crate::served::Served,
}

impl Replay {
    /// Serves `recording` (inside a tokio runtime).
    pub async fn start(
        recording: Recording,
        order: Order,
        config: ServerConfig,
    ) -> Result<Replay, ApiError> {
        let replayer = Replayer::new(recording, order);
        let server = build_replay_server(&replayer, config)?;
        Ok(Replay {
            replayer,
            served: crate::served::Served::start(server, "qmp-replay-")?,
        })
    }

    /// The socket to connect to.
    pub fn socket(&self) -> &Path {
        self.served.socket()
    }

    /// The replayer (its report, its end).
    pub fn replayer(&self) -> &Arc<Replayer> {
        &self.replayer
    }

    /// Stops serving and returns the report.
    pub async fn stop(self) -> ReplayReport {
        self.served.stop().await;
        self.replayer.report()
    }
}
