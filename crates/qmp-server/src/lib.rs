//! A QMP server framework that speaks exactly as QEMU does.
//!
//! A [`Server`] is built from a [`ServerConfig`] (greeting version, offered
//! capabilities, QMP or guest-agent mode, output layout, event throttling)
//! and a [`CommandSet`] of handlers with their argument validators. It
//! serves unix sockets (0600), TCP (plain or TLS, see [`TlsConfig`]),
//! stdio, open fds and streams, or dials out. Each connection is a session with QEMU's behaviour: greeting,
//! capabilities negotiation, `execute` and `exec-oob`, QEMU's framing and
//! dispatch errors, QEMU's in-band queue and suspension rules, events to
//! sessions in command mode through an [`Emitter`] with QEMU's throttling,
//! file descriptors passed with SCM_RIGHTS, and the guest agent's 0xFF
//! sentinel.
//!
//! The bytes (JSON dialect, encoding, message model) belong to `qmp-wire`;
//! validators computed from a QAPI schema and simulated commands belong to
//! `qmp-sim`.
#![warn(missing_docs)]

mod builtin;
mod commands;
mod conn;
mod dispatch;
mod encoded;
mod events;
mod faults;
mod fds;
mod memory;
mod outbox;
mod server;
mod session;
mod tls;

pub use builtin::fd_commands;
pub use commands::{Call, CommandEntry, CommandResult, CommandSet, Handler, Reply, Validator};
pub use encoded::EncodedJson;
pub use events::{Emitter, ThrottleRule, ThrottleTable};
pub use faults::Faults;
pub use fds::{default_unclaimed_fd_budget, MAX_FDS_PER_READ};
pub use outbox::MAX_OUTPUT_BACKLOG;
pub use server::{ConnectTarget, RequestObserver, Server, ServerBuilder, ServerConfig, WeakServer};
pub use session::{SessionHandle, MAX_QUEUED_REQUESTS, QGA_SENTINEL};
pub use tls::{TlsConfig, TLS_HANDSHAKE_TIMEOUT};

/// What a server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A QMP monitor: greeting, negotiation, CRLF line endings.
    Qmp,
    /// The guest agent: no greeting or negotiation, LF line endings,
    /// `guest-sync-delimited` replies behind a 0xFF byte.
    GuestAgent,
}
