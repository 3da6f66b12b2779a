//! An async client for the QEMU Machine Protocol (QMP), with a blocking
//! facade, and a client for the QEMU Guest Agent (QGA).
//!
//! This crate owns the client side of a connection: transports (unix, TCP,
//! any stream, a launched QEMU on a socketpair, QEMU connecting in), the
//! greeting and negotiation, request ids and reply routing, out-of-band
//! calls, QEMU's in-band queue limit, timeouts and cancellation, events,
//! descriptor passing, the guest agent's resynchronisation, and the
//! transcript. It does not own the bytes (that is `qmp-wire`) nor any
//! command's schema (generated code implements `qmp_wire::Command`).
//!
//! One way in, [`Client::builder`] (configuration, then a transport), and
//! one way to call, [`Client::execute_with`] / [`Client::call_with`] with
//! [`CallOptions`] (a deadline, descriptors, out of band, in any
//! combination); `execute`, `call` and `call_oob` are shorthands. The
//! [blocking facade](blocking) has the same builder and calls. Helpers
//! that know QEMU's commands (descriptors, jobs, migration, `device_del`,
//! `quit`) are the [`QemuExt`] trait's.
//!
//! ```no_run
//! # async fn demo() -> qmp_client::Result<()> {
//! use std::time::Duration;
//! use qmp_client::{CallOptions, Client};
//!
//! let client = Client::builder()
//!     .call_timeout(Duration::from_secs(5))
//!     .connect_unix("/run/qemu/qmp.sock")
//!     .await?;
//! let version = client.execute("query-version", ()).await?;
//! let options = CallOptions::new().out_of_band().timeout(Duration::from_secs(1));
//! client.execute_with("migrate-pause", (), options).await?;
//! println!("{version}");
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod arguments;
pub mod blocking;
mod builder;
mod call;
mod child;
mod client;
mod connect;
mod diagnostics;
mod error;
mod events;
mod fdpass;
mod launch;
mod qemu;
mod qga;
mod qga_workflows;
mod reader;
mod ready;
mod request;
mod session;
mod tls;
mod transcript;
mod transport;
mod waiters;
mod writer;

pub mod config;

pub use arguments::Arguments;
pub use builder::{Async, ClientBuilder};
pub use call::{Band, CallOptions, CallableIn, InBand, OutOfBand};
pub use client::Client;
pub use config::{Capabilities, ClientConfig, Handshake};
pub use connect::SUPPORTED_CAPABILITIES;
pub use diagnostics::{Diagnostic, DiagnosticStream};
pub use error::{Error, Result};
pub use events::{decode_event, EventFilter, EventSink, EventStream, TypedEventStream};
pub use fdpass::MAX_FDS_PER_MESSAGE;
pub use launch::{QemuLauncher, QmpListener, MONITOR_CHARDEV_ID};
pub use qemu::QemuExt;
pub use qga::{AgentConfig, GuestAgent};
pub use qga_workflows::{ExecOutput, GuestProgram, FILE_CHUNK};
pub use ready::READY_TRY_TIMEOUT;
pub use tls::TlsOptions;
pub use transcript::{MessageDirection, TranscriptSink};
pub use transport::ByteStream;
pub use waiters::{JobOutcome, POLL_INTERVAL};

pub use qmp_wire::{Command, Empty, Event, EventData, Greeting, Map, OobCommand, QmpError, Value};
