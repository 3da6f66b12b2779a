//! The bytes of the QEMU Machine Protocol.
//!
//! This crate owns the wire format and nothing above it:
//! * [`Decoder`]: QEMU's JSON dialect read incrementally, with QEMU's error
//!   texts, recovery and limits ([`decode`]);
//! * [`Encoder`]: values written byte for byte as QEMU writes them
//!   ([`encode`]), with QEMU's member order available ([`hash_order`]);
//! * [`Value`] and [`Map`]: the value model, with QEMU's three number kinds;
//! * the message model ([`message`]): greeting, requests with QEMU's
//!   framing errors, responses, events, error classes;
//! * with the `tokio-codec` feature, a tokio-util codec (module `codec`).
//!
//! Sessions, negotiation, dispatch and transports belong to `qmp-server`
//! and `qmp-client`. The socket I/O they do the same way lives here, since
//! this is the crate both depend on: module `io` (the `tokio-io` feature), the
//! adaptive busy-polling window and a socket write half.

#![warn(missing_docs)]

pub mod decode;
pub mod encode;
pub mod hash_order;
mod map;
pub mod message;
mod value;

#[cfg(feature = "tokio-codec")]
pub mod codec;
#[cfg(feature = "tokio-io")]
pub mod io;

pub use decode::{from_slice, from_str, Decoded, Decoder, JsonError, Limits, ParseError};
pub use encode::{Encoder, LineEnding, MemberOrder, Style};
pub use map::Map;
pub use message::{
    Command, Empty, ErrorClass, Event, EventData, FramingError, Greeting, MessageError, OobCommand,
    QemuVersion, QmpError, Request, Response, ServerMessage, Timestamp, VersionInfo,
};
pub use value::Value;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
