//! Connection settings: timeouts, capabilities, limits, transcript.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// QEMU's limit on in-band requests queued per monitor
/// (`QMP_REQ_QUEUE_LEN_MAX`); more in flight would stop QEMU reading, and
/// with it any `exec-oob` sent after them.
pub const QMP_REQ_QUEUE_LEN_MAX: usize = 8;
/// The default limit on the size of one reply or event (10 MiB).
pub const DEFAULT_MAX_REPLY_BYTES: usize = 10 << 20;
/// The default time allowed for the greeting.
pub const DEFAULT_GREETING_TIMEOUT: Duration = Duration::from_secs(10);
/// The default number of events buffered per subscriber.
pub const DEFAULT_EVENT_BUFFER: usize = 1024;

/// Which capabilities to enable during negotiation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Capabilities {
    /// Every capability this client supports that the server offers
    /// (today: `oob`).
    #[default]
    Offered,
    /// Exactly these (negotiation fails if the server refuses one).
    Exactly(Vec<String>),
}

/// How a connection starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Handshake {
    /// Wait for the greeting, then negotiate capabilities (QMP).
    #[default]
    Negotiate,
    /// Neither: commands are sent at once. For a peer that sends no
    /// greeting (a guest agent that echoes ids, as qemu-ga does; see
    /// [`GuestAgent`](crate::GuestAgent) for one that may not), or a
    /// monitor the caller negotiates by hand. qmp-shell's `-N`.
    Skip,
}

/// Settings for a QMP connection. `ClientConfig::default()` suits most uses.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Time allowed for the server's greeting.
    pub greeting_timeout: Duration,
    /// Whether to wait for the greeting and negotiate.
    pub handshake: Handshake,
    /// Capabilities to enable.
    pub capabilities: Capabilities,
    /// Largest reply or event accepted; a larger one fails its call.
    pub max_reply_bytes: usize,
    /// Default per-call timeout (`None`: wait as long as the connection lives).
    pub call_timeout: Option<Duration>,
    /// Timeouts of particular commands, overriding `call_timeout` (a
    /// `device_add` of a VFIO device may need seconds where a query needs
    /// one); a per-call timeout overrides both.
    pub command_timeouts: HashMap<String, Duration>,
    /// Report replies slower than this (a `tracing` warning and a
    /// [`Diagnostic::SlowReply`](crate::Diagnostic::SlowReply)).
    pub slow_command_warning: Option<Duration>,
    /// In-band requests allowed in flight at once.
    pub inband_limit: usize,
    /// Events buffered per subscriber before further ones are dropped for it.
    pub event_buffer: usize,
    /// Where to log every message in and out, timestamped.
    pub transcript: Option<PathBuf>,
    /// Hand every message in and out to this callback instead (see
    /// [`TranscriptSink`](crate::TranscriptSink)); it wins over `transcript`.
    pub transcript_sink: Option<crate::TranscriptSink>,
    /// The longest the reader polls the socket before it lets the runtime
    /// park, waiting for the next message. The window adapts between zero
    /// and this (see [`qmp_wire::io::busy_poll`]): it stays open against a
    /// server that answers within it, which saves a wake-up per reply, and
    /// closes against a slow or idle one. `Duration::ZERO` turns polling
    /// off.
    pub busy_poll: Duration,
    /// Subscribe to these events before negotiation, so that none that
    /// arrive the moment it completes are missed; take the stream with
    /// [`Client::take_early_events`](crate::Client::take_early_events).
    pub early_events: Option<crate::EventFilter>,
    /// Called with every event as the reader decodes it, before anything
    /// read after it is routed (see [`EventSink`](crate::EventSink)).
    pub event_sink: Option<crate::EventSink>,
    /// Give in-band requests ids (the default). Off, in-band requests go
    /// without one and their replies are matched in order, which QEMU
    /// keeps for in-band commands (out-of-band requests always carry an
    /// id): a proxy forwards a request exactly as its client wrote it,
    /// without the four tokens an id adds.
    pub in_band_ids: bool,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            greeting_timeout: DEFAULT_GREETING_TIMEOUT,
            handshake: Handshake::Negotiate,
            capabilities: Capabilities::Offered,
            max_reply_bytes: DEFAULT_MAX_REPLY_BYTES,
            call_timeout: None,
            command_timeouts: HashMap::new(),
            slow_command_warning: None,
            inband_limit: QMP_REQ_QUEUE_LEN_MAX,
            event_buffer: DEFAULT_EVENT_BUFFER,
            transcript: None,
            transcript_sink: None,
            busy_poll: qmp_wire::io::busy_poll::DEFAULT_MAX_WINDOW,
            early_events: None,
            event_sink: None,
            in_band_ids: true,
        }
    }
}

impl ClientConfig {
    /// The deadline of a call of `command`: `per_call`, else the
    /// command's entry in `command_timeouts`, else `call_timeout`.
    pub fn deadline_for(&self, command: &str, per_call: Option<Duration>) -> Option<Duration> {
        per_call
            .or_else(|| self.command_timeouts.get(command).copied())
            .or(self.call_timeout)
    }

    /// The decoder limits for replies under this configuration.
    pub(crate) fn limits(&self) -> qmp_wire::Limits {
        qmp_wire::Limits {
            max_message_bytes: self.max_reply_bytes,
            ..qmp_wire::Limits::QEMU
        }
    }
}
