//! Validation of JSON values against [`SchemaInfo`], reproducing QEMU's
//! QObject input visitor: members in schema order, first failure wins,
//! missing before unexpected, and QEMU's texts and naming of the culprit
//! (full path for missing/unexpected/wrong type, bare name for enum values
//! and narrow integer ranges).
//!
//! Integer widths: introspection folds every integer type into `int`, so a
//! list read from a server validates all integers as `int64`. A list that
//! keeps the built-in integer types (`uint8`, `size`, ...; `qapi-gen` makes
//! one on request) gets QEMU's range checks for each width.

use std::collections::HashSet;

use qmp_wire::{Map, Value};

use super::{Entry, EntryKind, JsonType, MemberInfo, SchemaInfo};

/// Why a value does not conform; `Display` is QEMU's text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The command is not in the list (QEMU's `CommandNotFound` text).
    #[error("The command {0} has not been found")]
    CommandNotFound(String),
    /// A mandatory member is absent.
    #[error("Parameter '{0}' is missing")]
    Missing(String),
    /// A member the type does not have.
    #[error("Parameter '{0}' is unexpected")]
    Unexpected(String),
    /// A value of the wrong JSON type. For alternates QEMU names the
    /// alternate type; from a masked list that name is its number.
    #[error("Invalid parameter type for '{path}', expected: {expected}")]
    InvalidType {
        /// Where (full path, or the bare name for alternates).
        path: String,
        /// The expected JSON type word, or the alternate's name.
        expected: String,
    },
    /// A string that is not one of the enum's values.
    #[error("Parameter '{name}' does not accept value '{value}'")]
    InvalidEnumValue {
        /// The bare member name (`null` for list elements).
        name: String,
        /// The rejected value.
        value: String,
    },
    /// An integer out of range, or not representable as `uint64`.
    #[error("Parameter '{name}' expects {expected}")]
    InvalidValue {
        /// The member (full path for `uint64`, bare name for narrow types).
        name: String,
        /// The C type: `uint64`, `uint8_t`, `int16_t`, ...
        expected: &'static str,
    },
    /// The list refers to a type it does not contain.
    #[error("schema information lacks type '{0}'")]
    UnknownType(String),
}

impl SchemaInfo {
    /// Validates the arguments of command `name` (`{}` when absent) as
    /// QEMU does before running it.
    pub fn validate_command_arguments(
        &self,
        name: &str,
        args: &Map,
    ) -> Result<(), ValidationError> {
        let Some(arg_type) = self.arg_type(name) else {
            return Err(ValidationError::CommandNotFound(name.to_string()));
        };
        Visitor::new(self).root(arg_type, args)
    }

    /// Validates the `data` of event `name` (`{}` when absent).
    pub fn validate_event_data(&self, name: &str, data: &Map) -> Result<(), ValidationError> {
        let Some(data_type) = self.event_data(name) else {
            return Err(ValidationError::UnknownType(name.to_string()));
        };
        Visitor::new(self).root(data_type, data)
    }

    /// Validates `value` as a value of type `type_name` at the top level.
    pub fn validate_value(&self, type_name: &str, value: &Value) -> Result<(), ValidationError> {
        Visitor::new(self).visit(type_name, None, value)
    }
}

/// One step of the path to the value being visited.
#[derive(Clone, Copy, Debug)]
enum Step<'a> {
    /// A member of an object.
    Member(&'a str),
    /// An element of a list.
    Index(usize),
}

/// The integer rules of one built-in integer type.
#[derive(Clone, Copy, Debug)]
enum IntRule {
    /// `int`, `int64`: any integer representable as int64.
    Int64,
    /// `uint64`, `size`: any integer, negative ones wrapped.
    Uint64,
    /// A narrow signed type: int64 rules, then a range.
    Signed(i64, i64, &'static str),
    /// A narrow unsigned type: uint64 rules, then a maximum.
    Unsigned(u64, &'static str),
}

impl IntRule {
    fn for_builtin(name: &str) -> IntRule {
        match name {
            "int8" => IntRule::Signed(i8::MIN.into(), i8::MAX.into(), "int8_t"),
            "int16" => IntRule::Signed(i16::MIN.into(), i16::MAX.into(), "int16_t"),
            "int32" => IntRule::Signed(i32::MIN.into(), i32::MAX.into(), "int32_t"),
            "uint8" => IntRule::Unsigned(u8::MAX.into(), "uint8_t"),
            "uint16" => IntRule::Unsigned(u16::MAX.into(), "uint16_t"),
            "uint32" => IntRule::Unsigned(u32::MAX.into(), "uint32_t"),
            "uint64" | "size" => IntRule::Uint64,
            _ => IntRule::Int64,
        }
    }
}

/// QEMU's `qnum_get_try_int`.
fn try_int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(*i),
        Value::UInt(u) => i64::try_from(*u).ok(),
        _ => None,
    }
}

/// QEMU's `qobject_input_type_uint64`: unsigned, or negative wrapped.
fn try_uint64(value: &Value) -> Option<u64> {
    match value {
        Value::UInt(u) => Some(*u),
        // Wrapping is QEMU's documented backward compatibility.
        Value::Int(i) => Some(*i as u64),
        _ => None,
    }
}

/// The JSON type of a value as QEMU's `QType` sees it, for alternates.
fn qtype_matches(json: Option<JsonType>, value: &Value) -> bool {
    match json {
        Some(JsonType::String) => matches!(value, Value::String(_)),
        Some(JsonType::Int) | Some(JsonType::Number) => {
            matches!(value, Value::Int(_) | Value::UInt(_) | Value::Double(_))
        }
        Some(JsonType::Boolean) => matches!(value, Value::Bool(_)),
        Some(JsonType::Null) => matches!(value, Value::Null),
        Some(JsonType::Object) => matches!(value, Value::Object(_)),
        Some(JsonType::Array) => matches!(value, Value::Array(_)),
        Some(JsonType::Value) | None => false,
    }
}

/// A walk over a value, keeping the path QEMU prints.
struct Visitor<'a> {
    info: &'a SchemaInfo,
    path: Vec<Step<'a>>,
}

impl<'a> Visitor<'a> {
    fn new(info: &'a SchemaInfo) -> Self {
        Visitor {
            info,
            path: Vec::new(),
        }
    }

    fn entry(&self, name: &str) -> Result<&'a Entry, ValidationError> {
        self.info
            .get(name)
            .ok_or_else(|| ValidationError::UnknownType(name.to_string()))
    }

    /// QEMU's `full_name()`: the path, then `name`.
    fn full_name(&self, name: Option<&str>) -> String {
        let mut out = String::new();
        let steps = self.path.iter().copied();
        for step in steps.chain(name.map(Step::Member)) {
            match step {
                Step::Member(m) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(m);
                }
                Step::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }

    fn wrong_type(&self, name: Option<&str>, expected: &str) -> ValidationError {
        ValidationError::InvalidType {
            path: self.full_name(name),
            expected: expected.to_string(),
        }
    }

    /// The arguments of a command or the data of an event.
    fn root(mut self, type_name: &str, map: &'a Map) -> Result<(), ValidationError> {
        let entry = self.entry(type_name)?;
        self.object_body(entry, map)
    }

    fn visit(
        &mut self,
        ty: &str,
        name: Option<&'a str>,
        value: &'a Value,
    ) -> Result<(), ValidationError> {
        let entry = self.entry(ty)?;
        match &entry.kind {
            EntryKind::Builtin { json_type } => self.builtin(&entry.name, *json_type, name, value),
            EntryKind::Enum { values, .. } => {
                let Value::String(s) = value else {
                    return Err(self.wrong_type(name, "string"));
                };
                if values.iter().any(|v| v == s) {
                    Ok(())
                } else {
                    Err(ValidationError::InvalidEnumValue {
                        name: name.unwrap_or("null").to_string(),
                        value: s.clone(),
                    })
                }
            }
            EntryKind::Array { element_type } => {
                let Value::Array(items) = value else {
                    return Err(self.wrong_type(name, "array"));
                };
                self.enter(name, |v| {
                    items.iter().enumerate().try_for_each(|(i, item)| {
                        v.path.push(Step::Index(i));
                        let result = v.visit(element_type, None, item);
                        v.path.pop();
                        result
                    })
                })
            }
            EntryKind::Object { .. } => {
                let Value::Object(map) = value else {
                    return Err(self.wrong_type(name, "object"));
                };
                self.enter(name, |v| v.object_body(entry, map))
            }
            EntryKind::Alternate { members } => {
                for branch in members {
                    let json = self.entry(branch)?;
                    if qtype_matches(json_type_of(json), value) {
                        return self.visit(branch, name, value);
                    }
                }
                Err(ValidationError::InvalidType {
                    path: name.unwrap_or("null").to_string(),
                    expected: entry.name.clone(),
                })
            }
            EntryKind::Command { .. } | EntryKind::Event { .. } => {
                Err(ValidationError::UnknownType(ty.to_string()))
            }
        }
    }

    /// Runs `f` with `name` pushed on the path (list elements have none).
    fn enter<T>(&mut self, name: Option<&'a str>, f: impl FnOnce(&mut Self) -> T) -> T {
        let pushed = name.is_some();
        if let Some(n) = name {
            self.path.push(Step::Member(n));
        }
        let result = f(self);
        if pushed {
            self.path.pop();
        }
        result
    }

    fn builtin(
        &self,
        builtin: &str,
        json_type: JsonType,
        name: Option<&str>,
        value: &Value,
    ) -> Result<(), ValidationError> {
        let ok = match json_type {
            JsonType::String => matches!(value, Value::String(_)),
            JsonType::Number => matches!(value, Value::Int(_) | Value::UInt(_) | Value::Double(_)),
            JsonType::Boolean => matches!(value, Value::Bool(_)),
            JsonType::Null => matches!(value, Value::Null),
            JsonType::Value => true,
            JsonType::Int => return self.integer(IntRule::for_builtin(builtin), name, value),
            JsonType::Array | JsonType::Object => false,
        };
        if ok {
            Ok(())
        } else {
            Err(self.wrong_type(name, qemu_type_word(json_type)))
        }
    }

    fn integer(
        &self,
        rule: IntRule,
        name: Option<&str>,
        value: &Value,
    ) -> Result<(), ValidationError> {
        let bare = || name.unwrap_or("null").to_string();
        match rule {
            IntRule::Int64 | IntRule::Signed(..) => {
                let Some(i) = try_int(value) else {
                    return Err(self.wrong_type(name, "integer"));
                };
                match rule {
                    IntRule::Signed(min, max, c_type) if i < min || i > max => {
                        Err(ValidationError::InvalidValue {
                            name: bare(),
                            expected: c_type,
                        })
                    }
                    _ => Ok(()),
                }
            }
            IntRule::Uint64 | IntRule::Unsigned(..) => {
                let Some(u) = try_uint64(value) else {
                    return Err(ValidationError::InvalidValue {
                        name: self.full_name(name),
                        expected: "uint64",
                    });
                };
                match rule {
                    IntRule::Unsigned(max, c_type) if u > max => {
                        Err(ValidationError::InvalidValue {
                            name: bare(),
                            expected: c_type,
                        })
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// The members of an object (and of the union branches its tag
    /// selects), then the check for members it does not have.
    fn object_body(&mut self, entry: &'a Entry, map: &'a Map) -> Result<(), ValidationError> {
        let mut seen: HashSet<&str> = HashSet::new();
        let info = self.info;
        for level in info.branch_members(entry, Some(map)) {
            let members = level.map_err(|name| ValidationError::UnknownType(name.to_string()))?;
            for member in members {
                self.member(member, map, &mut seen)?;
            }
        }
        match map.keys().find(|k| !seen.contains(k.as_str())) {
            Some(key) => Err(ValidationError::Unexpected(self.full_name(Some(key)))),
            None => Ok(()),
        }
    }

    fn member(
        &mut self,
        member: &'a MemberInfo,
        map: &'a Map,
        seen: &mut HashSet<&'a str>,
    ) -> Result<(), ValidationError> {
        match map.get(&member.name) {
            Some(value) => {
                seen.insert(member.name.as_str());
                self.visit(&member.ty, Some(member.name.as_str()), value)
            }
            None if member.optional => Ok(()),
            None => Err(ValidationError::Missing(self.full_name(Some(&member.name)))),
        }
    }
}

/// The JSON type of values of an entry'a type.
fn json_type_of(entry: &Entry) -> Option<JsonType> {
    match &entry.kind {
        EntryKind::Builtin { json_type } => Some(*json_type),
        EntryKind::Enum { .. } => Some(JsonType::String),
        EntryKind::Array { .. } => Some(JsonType::Array),
        EntryKind::Object { .. } => Some(JsonType::Object),
        _ => None,
    }
}

/// The word QEMU's input visitor prints for a built-in JSON type.
fn qemu_type_word(json_type: JsonType) -> &'static str {
    match json_type {
        JsonType::String => "string",
        JsonType::Number => "number",
        JsonType::Int => "integer",
        JsonType::Boolean => "boolean",
        JsonType::Null => "null",
        JsonType::Value => "value",
        JsonType::Array => "array",
        JsonType::Object => "object",
    }
}
