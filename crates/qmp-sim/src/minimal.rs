//! The smallest value valid for a type of a `query-qmp-schema` list: what
//! the simulator returns for commands it does not simulate.

use qapi_schema::introspect::{EntryKind, JsonType, SchemaInfo};
use qmp_wire::{Map, Value};

/// Deeper than this, recursive types give up and return `{}`.
const MAX_DEPTH: usize = 16;

/// The smallest valid value of type `name`: `""`, `0`, `false`, `null`,
/// the first enum value, `[]`, and objects with only their mandatory
/// members (a union also gets its first branch's mandatory members).
pub fn minimal_value(info: &SchemaInfo, name: &str) -> Value {
    build(info, name, 0)
}

fn build(info: &SchemaInfo, name: &str, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::Object(Map::new());
    }
    if name.starts_with('[') {
        return Value::Array(Vec::new());
    }
    let Some(entry) = info.get(name) else {
        return Value::Object(Map::new());
    };
    match &entry.kind {
        EntryKind::Builtin { json_type } => match json_type {
            JsonType::String => Value::String(String::new()),
            JsonType::Int => Value::Int(0),
            JsonType::Number => Value::Double(0.0),
            JsonType::Boolean => Value::Bool(false),
            JsonType::Null | JsonType::Value => Value::Null,
            _ => Value::Object(Map::new()),
        },
        EntryKind::Enum { values, .. } => values
            .first()
            .map_or(Value::Null, |v| Value::String(v.clone())),
        EntryKind::Array { .. } => Value::Array(Vec::new()),
        EntryKind::Object {
            members,
            tag,
            variants,
        } => {
            let mut map = Map::new();
            for member in members.iter().filter(|m| !m.optional) {
                map.insert(member.name.clone(), build(info, &member.ty, depth + 1));
            }
            let branch = tag
                .as_ref()
                .and_then(|tag| map.get(tag).and_then(Value::as_str))
                .and_then(|case| variants.iter().find(|v| v.case == case));
            if let Some(branch) = branch {
                if let Value::Object(extra) = build(info, &branch.ty, depth + 1) {
                    for (k, v) in extra {
                        map.insert(k, v);
                    }
                }
            }
            Value::Object(map)
        }
        EntryKind::Alternate { members } => members
            .first()
            .map_or(Value::Null, |ty| build(info, ty, depth + 1)),
        _ => Value::Object(Map::new()),
    }
}
