//! Command arguments as callers give them: nothing, a map, or a JSON value
//! that must be an object.

use qmp_wire::{Map, Value};

use crate::{Error, Result};

/// The `arguments` of a request. Build it from `()` (none), a [`Map`], a
/// [`Value`] or a `serde_json::Value` (which must be an object or `null`).
#[derive(Clone, Debug)]
pub struct Arguments(Result<Option<Map>, String>);

impl Arguments {
    /// No arguments.
    pub fn none() -> Arguments {
        Arguments(Ok(None))
    }

    /// Any serializable value (it must serialize to an object or `null`).
    pub fn from_serialize<T: serde::Serialize + ?Sized>(value: &T) -> Arguments {
        match Value::from_serialize(value) {
            Ok(v) => Arguments::from(v),
            Err(e) => Arguments(Err(e.to_string())),
        }
    }

    /// The map to send, or the reason these are no valid arguments.
    pub(crate) fn into_map(self) -> Result<Option<Map>> {
        self.0.map_err(Error::InvalidArguments)
    }
}

impl Default for Arguments {
    fn default() -> Arguments {
        Arguments::none()
    }
}

impl From<()> for Arguments {
    fn from(_: ()) -> Arguments {
        Arguments::none()
    }
}

impl From<Map> for Arguments {
    fn from(map: Map) -> Arguments {
        Arguments(Ok(Some(map)))
    }
}

impl From<Option<Map>> for Arguments {
    fn from(map: Option<Map>) -> Arguments {
        Arguments(Ok(map))
    }
}

impl From<Value> for Arguments {
    fn from(value: Value) -> Arguments {
        match value {
            Value::Null => Arguments::none(),
            Value::Object(map) => Arguments::from(map),
            other => Arguments(Err(format!(
                "arguments must be an object, not {}",
                other.type_name()
            ))),
        }
    }
}

impl From<serde_json::Value> for Arguments {
    fn from(value: serde_json::Value) -> Arguments {
        Arguments::from(Value::from(value))
    }
}
