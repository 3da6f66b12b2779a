//! The guest agent client. qemu-ga has no greeting and no negotiation, and
//! its channel may hold a previous client's partial input and unread
//! output, so before the first command and after any timeout or
//! cancellation the client resynchronises: it sends 0xFF (a lexical error
//! that resets the agent's parser) and `guest-sync-delimited` with a random
//! id, skips everything up to the 0xFF byte that prefixes that reply, and
//! skips replies with other ids. Commands run one at a time; a reply
//! without an id counts as the current command's (agents that do not echo
//! ids). Commands that never reply (`guest-shutdown`, `guest-suspend-*`)
//! are sent without waiting.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use qmp_wire::{Command, Decoder, Encoder, JsonError, Map, Request, ServerMessage, Value};
use tokio::net::UnixStream;
use tokio::sync::Mutex;

use crate::reader::skip_line;
use crate::transcript::{self, MessageDirection, Transcript};
use crate::transport::{ByteStream, ReadHalf, Transport, WriteHalf};
use crate::{Arguments, Error, Result};

/// The byte that resets the agent's parser and delimits the sync reply.
const SENTINEL: u8 = 0xFF;

/// Settings for a guest agent connection.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// Time allowed for one resynchronisation.
    pub sync_timeout: Duration,
    /// Default per-command timeout (`None`: no limit).
    pub call_timeout: Option<Duration>,
    /// Largest reply accepted.
    pub max_reply_bytes: usize,
    /// Where to log every message in and out, timestamped.
    pub transcript: Option<std::path::PathBuf>,
}

impl Default for AgentConfig {
    fn default() -> AgentConfig {
        AgentConfig {
            sync_timeout: Duration::from_secs(10),
            call_timeout: None,
            max_reply_bytes: crate::config::DEFAULT_MAX_REPLY_BYTES,
            transcript: None,
        }
    }
}

/// A guest agent connection. Commands from several tasks are serialised.
pub struct GuestAgent {
    conn: Mutex<Conn>,
    config: AgentConfig,
}

struct Conn {
    read: ReadHalf,
    write: WriteHalf,
    decoder: Decoder,
    buf: BytesMut,
    /// False until a sync succeeded, and again whenever a command's reply
    /// was not read to the end (timeout, cancellation, fire-and-forget).
    in_sync: bool,
    next_id: i64,
    transcript: Option<Arc<Transcript>>,
}

impl GuestAgent {
    /// Connects to the agent's unix socket (`qemu-ga -m unix-listen`, or a
    /// QEMU chardev wired to the guest's virtio-serial port).
    pub async fn connect_unix(path: impl AsRef<Path>, config: AgentConfig) -> Result<GuestAgent> {
        GuestAgent::new(Transport::unix(path.as_ref()).await?, config)
    }

    /// Connects to an agent that may not be ready yet (qemu-ga still
    /// starting, or a guest that has not booted its agent), trying again
    /// until `within` has passed: each try opens a fresh socket and makes a
    /// new `guest-sync-delimited`, waiting at most
    /// [`READY_TRY_TIMEOUT`](crate::READY_TRY_TIMEOUT) for its reply.
    pub async fn connect_unix_when_ready(
        path: impl AsRef<Path>,
        config: AgentConfig,
        within: Duration,
    ) -> Result<GuestAgent> {
        let path = path.as_ref();
        crate::ready::until_ready(within, |limit| {
            let config = config.clone();
            async move {
                let agent = GuestAgent::connect_unix(path, config).await?;
                {
                    let mut conn = agent.conn.lock().await;
                    conn.in_sync = false;
                    conn.sync(limit).await?;
                }
                Ok(agent)
            }
        })
        .await
    }

    /// Runs over a connected unix socket.
    pub fn from_unix_stream(stream: UnixStream, config: AgentConfig) -> Result<GuestAgent> {
        GuestAgent::new(Transport::from_unix(stream), config)
    }

    /// Runs over any byte stream.
    pub fn from_stream<S: ByteStream>(stream: S, config: AgentConfig) -> Result<GuestAgent> {
        GuestAgent::new(Transport::from_stream(stream), config)
    }

    fn new(transport: Transport, config: AgentConfig) -> Result<GuestAgent> {
        let limits = qmp_wire::Limits {
            max_message_bytes: config.max_reply_bytes,
            ..qmp_wire::Limits::QEMU
        };
        Ok(GuestAgent {
            conn: Mutex::new(Conn {
                read: transport.read,
                write: transport.write,
                decoder: Decoder::with_limits(limits),
                buf: BytesMut::with_capacity(4096),
                in_sync: false,
                next_id: 1,
                transcript: transcript::open(config.transcript.as_deref(), None)?,
            }),
            config,
        })
    }

    /// Resynchronises now (done anyway before the first command and after
    /// a timeout).
    pub async fn sync(&self) -> Result<()> {
        let mut conn = self.conn.lock().await;
        conn.in_sync = false;
        conn.sync(self.config.sync_timeout).await
    }

    /// Executes `command` and returns its `return` value.
    pub async fn execute(&self, command: &str, arguments: impl Into<Arguments>) -> Result<Value> {
        self.execute_with_timeout(command, arguments, self.config.call_timeout)
            .await
    }

    /// Executes `command` with a timeout (`None`: no limit). After a
    /// timeout the next command resynchronises first.
    pub async fn execute_with_timeout(
        &self,
        command: &str,
        arguments: impl Into<Arguments>,
        timeout: Option<Duration>,
    ) -> Result<Value> {
        let arguments = arguments.into().into_map()?;
        let mut conn = self.conn.lock().await;
        let sync_timeout = self.config.sync_timeout;
        let call = conn.call(command, arguments, sync_timeout);
        match timeout {
            Some(limit) => tokio::time::timeout(limit, call)
                .await
                .map_err(|_| Error::reply_timeout(command, limit))?,
            None => call.await,
        }
    }

    /// Sends a command that never replies (`guest-shutdown`,
    /// `guest-suspend-*`) without waiting. Should it fail after all, its
    /// error reply is skipped by the next resynchronisation.
    pub async fn execute_no_reply(
        &self,
        command: &str,
        arguments: impl Into<Arguments>,
    ) -> Result<()> {
        let arguments = arguments.into().into_map()?;
        let mut conn = self.conn.lock().await;
        if !conn.in_sync {
            conn.sync(self.config.sync_timeout).await?;
        }
        conn.in_sync = false;
        let request = Request {
            command: command.to_owned(),
            arguments,
            id: None,
            oob: false,
        };
        conn.send(&Encoder::QGA.message_bytes(&request.to_value()))
            .await
    }

    /// Executes a typed command. Commands without a success response are
    /// sent without waiting, and `C::Returns` is read from `{}`.
    pub async fn call<C: Command>(&self, command: &C) -> Result<C::Returns> {
        let arguments = command.arguments()?;
        if !C::SUCCESS_RESPONSE {
            self.execute_no_reply(C::NAME, arguments).await?;
            return crate::error::decode(Value::Object(Map::new()), || {
                format!("the reply to {}", C::NAME)
            });
        }
        let value = self.execute(C::NAME, arguments).await?;
        crate::error::decode(value, || format!("the reply to {}", C::NAME))
    }
}

impl Conn {
    async fn call(
        &mut self,
        command: &str,
        arguments: Option<Map>,
        sync_timeout: Duration,
    ) -> Result<Value> {
        if !self.in_sync {
            self.sync(sync_timeout).await?;
        }
        self.in_sync = false;
        let id = self.next_id;
        self.next_id += 1;
        let request = Request {
            command: command.to_owned(),
            arguments,
            id: Some(Value::Int(id)),
            oob: false,
        };
        self.send(&Encoder::QGA.message_bytes(&request.to_value()))
            .await?;
        loop {
            let message = match self.read_message().await {
                Err(Error::ReplyTooLarge { limit }) => {
                    // Replies come in order once in sync: this was ours.
                    self.in_sync = true;
                    return Err(Error::ReplyTooLarge { limit });
                }
                other => other?,
            };
            match ServerMessage::from_value(message) {
                Ok(ServerMessage::Response(r))
                    if r.id.is_none() || r.id == Some(Value::Int(id)) =>
                {
                    self.in_sync = true;
                    return r.result.map_err(Error::Qmp);
                }
                Ok(ServerMessage::Response(r)) => {
                    tracing::debug!(id = ?r.id, "skipped a stale agent reply");
                }
                Ok(other) => tracing::debug!("skipped agent output: {}", other.to_value()),
                Err(e) => tracing::warn!("skipped agent output: {e}"),
            }
        }
    }

    /// 0xFF, `guest-sync-delimited` with a random id, then skip to the
    /// reply carrying that id.
    async fn sync(&mut self, timeout: Duration) -> Result<()> {
        tokio::time::timeout(timeout, self.sync_steps())
            .await
            .map_err(|_| Error::reply_timeout("guest-sync-delimited", timeout))??;
        self.in_sync = true;
        Ok(())
    }

    async fn sync_steps(&mut self) -> Result<()> {
        let token = random_sync_id();
        let mut arguments = Map::new();
        arguments.insert("id", token);
        let request = Request::new("guest-sync-delimited").with_arguments(arguments);
        let mut bytes = vec![SENTINEL];
        Encoder::QGA.write_message(&request.to_value(), &mut bytes);
        self.send(&bytes).await?;
        loop {
            self.skip_to_sentinel().await?;
            match self.read_message().await {
                Ok(Value::Object(reply))
                    if reply.get("return").and_then(Value::as_i64) == Some(token) =>
                {
                    return Ok(());
                }
                Ok(other) => tracing::debug!("skipped stale agent output: {other}"),
                Err(Error::ReplyTooLarge { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Discards input up to and including the next 0xFF byte.
    async fn skip_to_sentinel(&mut self) -> Result<()> {
        loop {
            if let Some(at) = self.buf.iter().position(|&b| b == SENTINEL) {
                self.buf.advance(at + 1);
                self.decoder.reset();
                return Ok(());
            }
            self.buf.clear();
            self.fill().await?;
        }
    }

    /// The next decoded message. Invalid JSON is skipped; a message over
    /// the size limit is skipped to its line end and reported.
    async fn read_message(&mut self) -> Result<Value> {
        loop {
            if !self.buf.is_empty() && !self.decoder.has_ready() {
                let used = self.decoder.feed_until_message(&self.buf);
                self.buf.advance(used);
            }
            match self.decoder.next() {
                Some(Ok(value)) => {
                    if let Some(t) = &self.transcript {
                        t.record(MessageDirection::Received, value.to_string().as_bytes());
                    }
                    return Ok(value);
                }
                Some(Err(JsonError::TokenSize | JsonError::TokenCount | JsonError::Nesting)) => {
                    let mut tail = Vec::new();
                    while !skip_line(&mut self.buf, &mut tail) {
                        tail.clear();
                        self.fill().await?;
                    }
                    self.decoder.reset();
                    return Err(Error::ReplyTooLarge {
                        limit: self.decoder.limits().max_message_bytes,
                    });
                }
                Some(Err(e)) => tracing::debug!("skipped invalid agent output: {e}"),
                None if self.buf.is_empty() => self.fill().await?,
                None => {}
            }
        }
    }

    /// Reads more input; EOF is an error.
    async fn fill(&mut self) -> Result<()> {
        match self.read.read_buf(&mut self.buf).await {
            Ok(0) => Err(Error::disconnected("the agent closed the connection")),
            Ok(_) => Ok(()),
            Err(e) => Err(Error::disconnected(format!(
                "read from the agent failed: {e}"
            ))),
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        if let Some(t) = &self.transcript {
            t.record(MessageDirection::Sent, bytes);
        }
        self.write
            .write_all(bytes)
            .await
            .map_err(|e| Error::disconnected(format!("write to the agent failed: {e}")))
    }
}

/// A random id for `guest-sync-delimited`, positive and exact in a double.
fn random_sync_id() -> i64 {
    let random = RandomState::new().hash_one(std::time::SystemTime::now());
    (random & 0x001F_FFFF_FFFF_FFFF) as i64
}
