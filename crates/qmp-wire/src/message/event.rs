//! Asynchronous events and their timestamps.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{object, string_member, MessageError};
use crate::{Map, Value};

/// `{"timestamp": {"seconds": S, "microseconds": US}, "event": NAME, "data": {...}}`;
/// `data` is omitted when the event has none.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The event name.
    pub name: String,
    /// The event's data, if it has any.
    pub data: Option<Map>,
    /// When the event happened.
    pub timestamp: Timestamp,
}

/// Host wall-clock time of an event, as QEMU stamps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds since the Unix epoch (-1 when the clock failed).
    pub seconds: i64,
    /// Microseconds, 0..=999999 (-1 when the clock failed).
    pub microseconds: i64,
}

impl Timestamp {
    /// The current wall-clock time; `{-1, -1}` if the clock is before 1970,
    /// as QEMU reports a failed clock.
    pub fn now() -> Timestamp {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(since) => Timestamp {
                seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
                microseconds: i64::from(since.subsec_micros()),
            },
            Err(_) => Timestamp {
                seconds: -1,
                microseconds: -1,
            },
        }
    }
}

impl Event {
    /// An event stamped now.
    pub fn new(name: impl Into<String>, data: Option<Map>) -> Event {
        Event {
            name: name.into(),
            data,
            timestamp: Timestamp::now(),
        }
    }

    /// The event as a value, members in the order QEMU inserts them (which
    /// is also QEMU's output order).
    pub fn to_value(&self) -> Value {
        let timestamp = object([
            ("seconds", self.timestamp.seconds.into()),
            ("microseconds", self.timestamp.microseconds.into()),
        ]);
        match &self.data {
            Some(data) => object([
                ("timestamp", timestamp),
                ("event", self.name.as_str().into()),
                ("data", data.clone().into()),
            ]),
            None => object([
                ("timestamp", timestamp),
                ("event", self.name.as_str().into()),
            ]),
        }
    }

    pub(super) fn from_map(mut map: Map) -> Result<Event, MessageError> {
        let name = string_member(&map, "event")?;
        let data = match map.remove("data") {
            Some(Value::Object(data)) => Some(data),
            Some(Value::Null) | None => None,
            Some(other) => {
                return Err(MessageError(format!(
                    "event data is not an object: {other}"
                )))
            }
        };
        let stamp = map.get("timestamp");
        let field = |key: &str| {
            stamp
                .and_then(|t| t.get(key))
                .and_then(Value::as_i64)
                .unwrap_or(-1)
        };
        Ok(Event {
            name,
            data,
            timestamp: Timestamp {
                seconds: field("seconds"),
                microseconds: field("microseconds"),
            },
        })
    }
}
