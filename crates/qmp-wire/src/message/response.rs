//! Replies to requests: a return value or an error with class and text.

use super::{object, string_member, ErrorClass, MessageError};
use crate::{Map, Value};

/// A reply: `{"return": VALUE, "id": ID}` or
/// `{"error": {"class": CLASS, "desc": TEXT}, "id": ID}`. Members are in the
/// order QEMU inserts them; encoded in QEMU's member order
/// ([`crate::MemberOrder::Qemu`]) an error reply reads `{"id": ..., "error": ...}`
/// as QEMU sends it.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// The return value, or the error.
    pub result: Result<Value, QmpError>,
    /// The id of the request, echoed.
    pub id: Option<Value>,
}

/// A QMP error reply's payload.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{class}: {desc}")]
pub struct QmpError {
    /// The error class.
    pub class: ErrorClass,
    /// The human-readable text.
    pub desc: String,
}

impl QmpError {
    /// An error of class `class` with text `desc`.
    pub fn new(class: ErrorClass, desc: impl Into<String>) -> QmpError {
        QmpError {
            class,
            desc: desc.into(),
        }
    }

    /// A `GenericError` with text `desc`.
    pub fn generic(desc: impl Into<String>) -> QmpError {
        QmpError::new(ErrorClass::GenericError, desc)
    }
}

impl Response {
    /// A successful reply.
    pub fn ok(value: impl Into<Value>, id: Option<Value>) -> Response {
        Response {
            result: Ok(value.into()),
            id,
        }
    }

    /// An error reply.
    pub fn error(error: QmpError, id: Option<Value>) -> Response {
        Response {
            result: Err(error),
            id,
        }
    }

    /// The reply as a value, members in the order QEMU inserts them.
    pub fn to_value(&self) -> Value {
        let mut map = Map::with_capacity(2);
        match &self.result {
            Ok(value) => map.insert("return", value.clone()),
            Err(error) => map.insert(
                "error",
                object([
                    ("class", error.class.as_str().into()),
                    ("desc", error.desc.as_str().into()),
                ]),
            ),
        };
        if let Some(id) = &self.id {
            map.insert("id", id.clone());
        }
        Value::Object(map)
    }

    pub(super) fn from_map(mut map: Map) -> Result<Response, MessageError> {
        let id = map.remove("id");
        if let Some(value) = map.remove("return") {
            return Ok(Response::ok(value, id));
        }
        let error = map
            .get("error")
            .and_then(Value::as_object)
            .ok_or_else(|| MessageError("reply has neither 'return' nor 'error'".into()))?;
        let class = ErrorClass::from_name(&string_member(error, "class")?);
        let desc = string_member(error, "desc")?;
        Ok(Response::error(QmpError { class, desc }, id))
    }
}
