//! The QMP message model: what a server sends (greeting, response, event)
//! and what a client sends (request), converted to and from [`Value`]s with
//! QEMU's framing errors. Objects are built with members in the order QEMU
//! inserts them, so that [`crate::MemberOrder::Qemu`] encodes them exactly
//! as QEMU sends them.

mod command;
mod error_class;
mod event;
mod greeting;
mod request;
mod response;

pub use command::{Command, Empty, EventData, OobCommand};
pub use error_class::ErrorClass;
pub use event::{Event, Timestamp};
pub use greeting::{Greeting, QemuVersion, VersionInfo};
pub use request::{FramingError, Request};
pub use response::{QmpError, Response};

use crate::{Map, Value};

/// Any message a server sends, as a client reads it.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerMessage {
    /// The greeting sent on connect.
    Greeting(Greeting),
    /// The reply to a request.
    Response(Response),
    /// An asynchronous event.
    Event(Event),
}

/// A server message that is none of the known kinds, or malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised QMP message: {0}")]
pub struct MessageError(pub String);

impl ServerMessage {
    /// Classifies and reads a decoded server message. Unknown members are
    /// ignored so that messages from other QEMU versions still read.
    pub fn from_value(value: Value) -> Result<ServerMessage, MessageError> {
        let Value::Object(map) = value else {
            return Err(MessageError(format!("not an object: {value}")));
        };
        if map.contains_key("QMP") {
            Greeting::from_map(map).map(ServerMessage::Greeting)
        } else if map.contains_key("event") {
            Event::from_map(map).map(ServerMessage::Event)
        } else if map.contains_key("return") || map.contains_key("error") {
            Response::from_map(map).map(ServerMessage::Response)
        } else {
            Err(MessageError(Value::Object(map).to_string()))
        }
    }

    /// The message as a value, members in the order QEMU inserts them
    /// (encode with [`crate::MemberOrder::Qemu`] for QEMU's bytes).
    pub fn to_value(&self) -> Value {
        match self {
            ServerMessage::Greeting(g) => g.to_value(),
            ServerMessage::Response(r) => r.to_value(),
            ServerMessage::Event(e) => e.to_value(),
        }
    }
}

/// Builds an object from members given in order.
pub(crate) fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
    let mut map = Map::with_capacity(N);
    for (key, value) in members {
        map.insert(key, value);
    }
    Value::Object(map)
}

/// Member `key` of `map` as a string, or an error naming it.
pub(crate) fn string_member(map: &Map, key: &str) -> Result<String, MessageError> {
    map.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| MessageError(format!("member '{key}' missing or not a string")))
}
