//! Setting a connection up: the greeting (with a timeout), the reader and
//! writer tasks, and capabilities negotiation.

use std::sync::Arc;

use bytes::BytesMut;
use qmp_wire::io::BusyPoll;
use qmp_wire::{Decoder, Encoder, Greeting, Map, ServerMessage, Value};
use tokio::task::JoinHandle;

use crate::child::ChildGuard;
use crate::client::{Client, Inner};
use crate::config::{Capabilities, ClientConfig, Handshake};
use crate::reader::Reader;
use crate::session::Shared;
use crate::transcript::{self, MessageDirection};
use crate::transport::Transport;
use crate::writer::Outbox;
use crate::{Error, Result};

/// The capabilities this client knows how to use.
pub const SUPPORTED_CAPABILITIES: &[&str] = &["oob"];

/// Aborts a task when dropped.
pub(crate) struct TaskGuard(pub(crate) JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads the greeting, starts the tasks and negotiates.
pub(crate) async fn establish(
    transport: Transport,
    config: ClientConfig,
    mut child: Option<ChildGuard>,
) -> Result<Client> {
    let transcript = transcript::open(
        config.transcript.as_deref(),
        config.transcript_sink.as_ref(),
    )?;
    let mut reader = Reader {
        read: transport.read,
        decoder: Decoder::with_limits(config.limits()),
        buf: BytesMut::with_capacity(16 * 1024),
        transcript: transcript.clone(),
        busy_poll: BusyPoll::new(config.busy_poll),
        child: None,
    };
    let greeting = match config.handshake {
        Handshake::Negotiate => match read_greeting(&mut reader, config.greeting_timeout).await {
            Ok(greeting) => Some(greeting),
            Err(e) => return Err(explain_child_exit(e, child.as_mut()).await),
        },
        Handshake::Skip => None,
    };
    let can_pass_fds = transport.write.can_pass_fds();
    let (outbox, writer) = Outbox::new(transport.write, transcript);
    let shared = Shared::new(
        outbox,
        Encoder::REQUEST,
        config.inband_limit,
        config.event_buffer,
        config.slow_command_warning,
        config.in_band_ids,
    );
    tokio::spawn(writer.run(Arc::downgrade(&shared)));
    if let Some(sink) = &config.event_sink {
        shared.events.attach_sink(sink.clone());
    }
    let early_events = config
        .early_events
        .clone()
        .map(|filter| shared.events.subscribe(filter));
    let has_child = child.is_some();
    let child: crate::child::SharedChild = Arc::new(std::sync::Mutex::new(child));
    reader.child = has_child.then(|| Arc::clone(&child));
    let reader_task = TaskGuard(tokio::spawn(reader.run(shared.clone())));
    let enable = match &greeting {
        None => Vec::new(),
        Some(greeting) => {
            let enable = match &config.capabilities {
                Capabilities::Offered => greeting
                    .capabilities
                    .iter()
                    .filter(|c| SUPPORTED_CAPABILITIES.contains(&c.as_str()))
                    .cloned()
                    .collect(),
                Capabilities::Exactly(list) => list.clone(),
            };
            negotiate(&shared, &enable, &config).await?;
            enable
        }
    };
    Ok(Client::from_inner(Inner {
        shared,
        greeting,
        enabled: enable,
        can_pass_fds,
        config,
        child,
        early_events: std::sync::Mutex::new(early_events),
        _reader: reader_task,
    }))
}

/// Sends `qmp_capabilities` with `enable` (omitted when empty).
async fn negotiate(shared: &Arc<Shared>, enable: &[String], config: &ClientConfig) -> Result<()> {
    let arguments = (!enable.is_empty()).then(|| {
        let list: Vec<Value> = enable.iter().map(|c| Value::from(c.as_str())).collect();
        let mut map = Map::new();
        map.insert("enable", list);
        map
    });
    let reply = async {
        shared
            .send("qmp_capabilities", arguments, false, Vec::new())
            .await?
            .reply()
            .await
    };
    match tokio::time::timeout(config.greeting_timeout, reply).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(Error::Qmp(e))) => Err(Error::Negotiation(e)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::reply_timeout(
            "qmp_capabilities",
            config.greeting_timeout,
        )),
    }
}

/// The first bytes the server sent, kept to explain a bad greeting.
#[derive(Default)]
struct GreetingExcerpt {
    bytes: Vec<u8>,
    total: usize,
}

impl GreetingExcerpt {
    /// How much of the start of the input is kept.
    const KEEP: usize = 80;

    fn add(&mut self, input: &[u8]) {
        let room = Self::KEEP.saturating_sub(self.bytes.len());
        self.bytes
            .extend_from_slice(input.get(..room.min(input.len())).unwrap_or_default());
        self.total += input.len();
    }

    /// True when the input cannot begin a greeting (an object).
    fn cannot_be_a_greeting(&self) -> bool {
        self.bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b != b'{')
    }

    /// The error for input that is no greeting.
    fn error(&self, what: &str) -> Error {
        Error::Protocol(format!(
            "{what}: the server sent {} bytes that are not a QMP greeting, starting {}",
            self.total,
            crate::error::printable(&self.bytes)
        ))
    }
}

/// Reads messages until the greeting; fails at once on input that cannot
/// begin one, and explains a greeting that never completes.
async fn read_greeting(reader: &mut Reader, timeout: std::time::Duration) -> Result<Greeting> {
    let mut excerpt = GreetingExcerpt::default();
    match tokio::time::timeout(timeout, read_greeting_into(reader, &mut excerpt)).await {
        Ok(result) => result,
        Err(_) if excerpt.total > 0 => {
            Err(excerpt.error(&format!("no complete greeting within {timeout:?}")))
        }
        Err(_) => Err(Error::timeout(timeout)),
    }
}

async fn read_greeting_into(
    reader: &mut Reader,
    excerpt: &mut GreetingExcerpt,
) -> Result<Greeting> {
    loop {
        if !reader.buf.is_empty() {
            let used = reader.decoder.feed_until_message(&reader.buf);
            bytes::Buf::advance(&mut reader.buf, used);
        }
        if let Some(item) = reader.decoder.next() {
            let value = item.map_err(|e| excerpt.error(&format!("bad greeting ({e})")))?;
            if let Some(t) = &reader.transcript {
                // As the server wrote it (its member order), not rebuilt.
                t.record(MessageDirection::Received, value.to_string().as_bytes());
            }
            return match ServerMessage::from_value(value) {
                Ok(ServerMessage::Greeting(greeting)) => Ok(greeting),
                Ok(other) => Err(Error::Protocol(format!(
                    "expected the greeting, got {}",
                    other.to_value()
                ))),
                Err(e) => Err(Error::Protocol(format!("bad greeting: {e}"))),
            };
        }
        if reader.buf.is_empty() {
            let before = reader.buf.len();
            if reader.read.read_buf(&mut reader.buf).await? == 0 {
                return Err(Error::disconnected(
                    "the server closed the connection before the greeting",
                ));
            }
            excerpt.add(reader.buf.get(before..).unwrap_or_default());
            if excerpt.cannot_be_a_greeting() {
                return Err(excerpt.error("bad greeting"));
            }
        }
    }
}

/// When a launched child died before greeting, says so: the program, how
/// it ended and its last words.
async fn explain_child_exit(error: Error, child: Option<&mut ChildGuard>) -> Error {
    let Some(child) = child else {
        return error;
    };
    match child.wait_exit(std::time::Duration::from_millis(500)).await {
        Some(status) => child.exited_error(status, "the greeting"),
        None => error,
    }
}
