//! Commands and events as Rust types: the traits that generated code
//! implements and that clients execute.

use serde::{Deserialize, Serialize};

use super::Request;
use crate::{Map, Value};

/// A QMP command as a type. The value itself holds the arguments (it must
/// serialize to an object, or to `null`/`{}` for none); [`Command::Returns`]
/// is what the reply's `return` member decodes into.
pub trait Command: Serialize {
    /// The command's name on the wire.
    const NAME: &'static str;
    /// True when the command may be sent with `exec-oob`.
    const ALLOW_OOB: bool = false;
    /// False for commands that never reply (QAPI `success-response: false`,
    /// such as the guest agent's `guest-shutdown`).
    const SUCCESS_RESPONSE: bool = true;
    /// The type of the `return` value.
    type Returns: for<'de> Deserialize<'de>;

    /// The arguments as a map, `None` when there are none.
    fn arguments(&self) -> Result<Option<Map>, serde_json::Error> {
        match Value::from_serialize(self)? {
            Value::Null => Ok(None),
            Value::Object(map) if map.is_empty() => Ok(None),
            Value::Object(map) => Ok(Some(map)),
            other => Err(serde::ser::Error::custom(format!(
                "arguments of {} must serialize to an object, not {}",
                Self::NAME,
                other.type_name()
            ))),
        }
    }

    /// The request for this command (in band; set `oob` and `id` as needed).
    fn to_request(&self) -> Result<Request, serde_json::Error> {
        let mut request = Request::new(Self::NAME);
        request.arguments = self.arguments()?;
        Ok(request)
    }
}

/// A command that may be sent out of band (`exec-oob`): the generated type
/// of every command whose schema says `allow-oob: true` implements it, and
/// clients accept only these for typed out-of-band calls. Implement it only
/// where [`Command::ALLOW_OOB`] is true.
pub trait OobCommand: Command {}

/// A QMP event as a type: its name, and its `data` member as the value.
pub trait EventData: for<'de> Deserialize<'de> {
    /// The event's name on the wire.
    const NAME: &'static str;
}

/// The return value of commands that return nothing (QEMU sends `{}`).
/// Any members are ignored, so a later QEMU that returns more still reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Stop;

    impl Command for Stop {
        const NAME: &'static str = "stop";
        type Returns = Empty;
    }

    #[derive(Serialize)]
    struct QomGet<'a> {
        path: &'a str,
        property: &'a str,
    }

    impl Command for QomGet<'_> {
        const NAME: &'static str = "qom-get";
        type Returns = Value;
    }

    #[test]
    fn commands_become_requests() {
        let stop = Stop.to_request().unwrap();
        assert_eq!(stop, Request::new("stop"));
        let get = QomGet {
            path: "/machine",
            property: "type",
        }
        .to_request()
        .unwrap();
        assert_eq!(get.command, "qom-get");
        assert_eq!(
            get.arguments.unwrap().get("path").and_then(Value::as_str),
            Some("/machine")
        );
        let empty: Empty = Value::Object(Map::new()).deserialize_into().unwrap();
        assert_eq!(empty, Empty {});
    }
}
