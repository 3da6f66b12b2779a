//! Requests, and QEMU's framing rules for turning a decoded value into one.

use crate::hash_order::qemu_member_order;
use crate::{Map, Value};

/// A command request: `{"execute": NAME, "arguments": {...}, "id": ID}` or,
/// out of band, `{"exec-oob": NAME, ...}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The command name.
    pub command: String,
    /// The `arguments` member, if present (absent means `{}`).
    pub arguments: Option<Map>,
    /// The `id` member, any JSON value, echoed in the reply.
    pub id: Option<Value>,
    /// True for `exec-oob`.
    pub oob: bool,
}

/// A request that breaks QEMU's framing rules. QEMU answers it with a
/// `GenericError` whose `desc` is [`FramingError::desc`] and echoes the
/// `id` when the input was an object that had one.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{desc}")]
pub struct FramingError {
    /// QEMU's text.
    pub desc: String,
    /// The request's `id`, when QEMU echoes it.
    pub id: Option<Value>,
}

impl Request {
    /// A request to execute `command` in band.
    pub fn new(command: impl Into<String>) -> Request {
        Request {
            command: command.into(),
            arguments: None,
            id: None,
            oob: false,
        }
    }

    /// The same request with arguments.
    pub fn with_arguments(mut self, arguments: Map) -> Request {
        self.arguments = Some(arguments);
        self
    }

    /// The same request with an id.
    pub fn with_id(mut self, id: impl Into<Value>) -> Request {
        self.id = Some(id.into());
        self
    }

    /// The same request, out of band (`exec-oob`) or not.
    pub fn out_of_band(mut self, oob: bool) -> Request {
        self.oob = oob;
        self
    }

    /// The arguments, `{}` when absent.
    pub fn arguments_or_empty(&self) -> Map {
        self.arguments.clone().unwrap_or_default()
    }

    /// The request as a value: `execute` (or `exec-oob`), `arguments`, `id`.
    pub fn to_value(&self) -> Value {
        let verb = if self.oob { "exec-oob" } else { "execute" };
        let mut map = Map::with_capacity(3);
        map.insert(verb, self.command.as_str());
        if let Some(arguments) = &self.arguments {
            map.insert("arguments", arguments.clone());
        }
        if let Some(id) = &self.id {
            map.insert("id", id.clone());
        }
        Value::Object(map)
    }

    /// Applies QEMU's framing rules to a decoded value. `oob_enabled` tells
    /// whether the connection negotiated the `oob` capability: without it
    /// `exec-oob` is an unexpected member.
    ///
    /// The checks and their order are QEMU's: not an object; then each
    /// member in QEMU's hash order (`execute`/`exec-oob` must be strings
    /// and not both present, `arguments` must be an object, `id` may be
    /// anything, anything else is unexpected); then a missing `execute`.
    pub fn from_value(value: Value, oob_enabled: bool) -> Result<Request, FramingError> {
        let Value::Object(mut map) = value else {
            return Err(FramingError {
                desc: "QMP input must be a JSON object".into(),
                id: None,
            });
        };
        let id = map.remove("id");
        let fail = |desc: String| FramingError {
            desc,
            id: id.clone(),
        };
        let mut verb: Option<&str> = None;
        for index in qemu_member_order(&map) {
            let Some((key, member)) = map.as_slice().get(index) else {
                continue;
            };
            match key.as_str() {
                "execute" | "exec-oob" if key == "execute" || oob_enabled => {
                    if !matches!(member, Value::String(_)) {
                        return Err(fail(format!("QMP input member '{key}' must be a string")));
                    }
                    if let Some(first) = verb {
                        return Err(fail(format!(
                            "QMP input member '{key}' clashes with '{first}'"
                        )));
                    }
                    verb = Some(if key == "execute" {
                        "execute"
                    } else {
                        "exec-oob"
                    });
                }
                "arguments" => {
                    if !matches!(member, Value::Object(_)) {
                        return Err(fail(
                            "QMP input member 'arguments' must be an object".into(),
                        ));
                    }
                }
                _ => return Err(fail(format!("QMP input member '{key}' is unexpected"))),
            }
        }
        let Some(verb) = verb else {
            return Err(fail("QMP input lacks member 'execute'".into()));
        };
        let command = match map.remove(verb) {
            Some(Value::String(name)) => name,
            _ => return Err(fail("QMP input lacks member 'execute'".into())),
        };
        let arguments = match map.remove("arguments") {
            Some(Value::Object(arguments)) => Some(arguments),
            _ => None,
        };
        Ok(Request {
            command,
            arguments,
            id,
            oob: verb == "exec-oob",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::from_str;

    fn frame(text: &str, oob: bool) -> Result<Request, FramingError> {
        Request::from_value(from_str(text).unwrap(), oob)
    }

    fn desc(text: &str, oob: bool) -> (String, Option<Value>) {
        let err = frame(text, oob).unwrap_err();
        (err.desc, err.id)
    }

    #[test]
    fn accepts_requests() {
        let r = frame(
            r#"{"execute": "stop", "arguments": {"a": 1}, "id": [1]}"#,
            false,
        )
        .unwrap();
        assert_eq!(r.command, "stop");
        assert_eq!(r.arguments.unwrap().get("a"), Some(&Value::Int(1)));
        assert_eq!(r.id, Some(Value::Array(vec![Value::Int(1)])));
        let r = frame(r#"{"exec-oob": "migrate-pause"}"#, true).unwrap();
        assert!(r.oob);
        assert_eq!(Request::from_value(r.to_value(), true).unwrap(), r);
    }

    #[test]
    fn framing_errors_in_qemus_order() {
        assert_eq!(
            desc("[1]", false),
            ("QMP input must be a JSON object".into(), None)
        );
        assert_eq!(
            desc(r#"{"execute": "a", "exec-oob": "b", "id": 1}"#, true).0,
            "QMP input member 'execute' clashes with 'exec-oob'"
        );
        assert_eq!(
            desc(r#"{"exec-oob": "b", "execute": "a"}"#, true).0,
            "QMP input member 'execute' clashes with 'exec-oob'"
        );
        assert_eq!(
            desc(r#"{"execute": "a", "exec-oob": "b", "id": 1}"#, false),
            (
                "QMP input member 'exec-oob' is unexpected".into(),
                Some(Value::Int(1))
            )
        );
        assert_eq!(
            desc(r#"{"exec-oob": 1}"#, true).0,
            "QMP input member 'exec-oob' must be a string"
        );
        assert_eq!(
            desc(r#"{"execute": "a", "extra": true}"#, false).0,
            "QMP input member 'extra' is unexpected"
        );
        assert_eq!(
            desc(r#"{"execute": 1, "arguments": []}"#, false).0,
            "QMP input member 'execute' must be a string"
        );
        assert_eq!(
            desc(r#"{"execute": "a", "arguments": null, "id": "x"}"#, false),
            (
                "QMP input member 'arguments' must be an object".into(),
                Some(Value::from("x"))
            )
        );
        assert_eq!(
            desc(r#"{"id": 1}"#, false).0,
            "QMP input lacks member 'execute'"
        );
        assert_eq!(
            desc(r#"{"Execute": "a"}"#, false).0,
            "QMP input member 'Execute' is unexpected"
        );
    }
}
