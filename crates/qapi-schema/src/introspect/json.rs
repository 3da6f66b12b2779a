//! The JSON form of [`SchemaInfo`]: written as QEMU sends it, and read
//! back from a live server's `query-qmp-schema` reply.

use qmp_wire::{Encoder, Map, MemberOrder, Value};

use super::Entry;
use super::{EntryKind, EnumMemberInfo, JsonType, MemberInfo, SchemaInfo, VariantInfo};

/// Why a `query-qmp-schema` reply could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The reply is not a JSON array.
    #[error("query-qmp-schema reply must be an array, not {0}")]
    NotAnArray(&'static str),
    /// An element is malformed.
    #[error("query-qmp-schema element {index}: {message}")]
    BadEntry {
        /// Position of the element in the list.
        index: usize,
        /// What is wrong with it.
        message: String,
    },
}

impl SchemaInfo {
    /// The list as a JSON value, members in QEMU's generator order.
    pub fn to_value(&self) -> Value {
        Value::Array(self.entries.iter().map(entry_to_value).collect())
    }

    /// The list as the bytes of a `return` value, members in QEMU's hash
    /// order (what a QEMU monitor sends, without the line ending).
    pub fn to_wire_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 96);
        Encoder::QMP
            .with_order(MemberOrder::Qemu)
            .write_value(&self.to_value(), &mut out);
        out
    }

    /// Reads a `query-qmp-schema` return value.
    pub fn from_value(value: &Value) -> Result<SchemaInfo, LoadError> {
        let Value::Array(items) = value else {
            return Err(LoadError::NotAnArray(value.type_name()));
        };
        let entries = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                entry_from_value(item).map_err(|message| LoadError::BadEntry { index, message })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SchemaInfo::new(entries))
    }
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(s.as_str())).collect())
}

fn with_features(mut map: Map, features: &Option<Vec<String>>) -> Value {
    if let Some(features) = features {
        map.insert("features", strings(features));
    }
    Value::Object(map)
}

fn entry_to_value(entry: &Entry) -> Value {
    let mut map = Map::with_capacity(6);
    map.insert("name", entry.name.as_str());
    map.insert("meta-type", entry.kind.meta_type());
    match &entry.kind {
        EntryKind::Builtin { json_type } => {
            map.insert("json-type", json_type.as_str());
        }
        EntryKind::Enum { members, values } => {
            let members = members
                .iter()
                .map(|m| {
                    let mut obj = Map::with_capacity(2);
                    obj.insert("name", m.name.as_str());
                    with_features(obj, &m.features)
                })
                .collect::<Vec<_>>();
            map.insert("members", members);
            map.insert("values", strings(values));
        }
        EntryKind::Array { element_type } => {
            map.insert("element-type", element_type.as_str());
        }
        EntryKind::Object {
            members,
            tag,
            variants,
        } => {
            let members = members.iter().map(member_to_value).collect::<Vec<_>>();
            map.insert("members", members);
            if let Some(tag) = tag {
                map.insert("tag", tag.as_str());
                let variants = variants
                    .iter()
                    .map(|v| {
                        let mut obj = Map::with_capacity(2);
                        obj.insert("case", v.case.as_str());
                        obj.insert("type", v.ty.as_str());
                        Value::Object(obj)
                    })
                    .collect::<Vec<_>>();
                map.insert("variants", variants);
            }
        }
        EntryKind::Alternate { members } => {
            let members = members
                .iter()
                .map(|t| Value::Object(std::iter::once(("type", t.as_str())).collect()))
                .collect::<Vec<_>>();
            map.insert("members", members);
        }
        EntryKind::Command {
            arg_type,
            ret_type,
            allow_oob,
        } => {
            map.insert("arg-type", arg_type.as_str());
            map.insert("ret-type", ret_type.as_str());
            if *allow_oob {
                map.insert("allow-oob", true);
            }
        }
        EntryKind::Event { arg_type } => {
            map.insert("arg-type", arg_type.as_str());
        }
    }
    with_features(map, &entry.features)
}

fn member_to_value(m: &MemberInfo) -> Value {
    let mut obj = Map::with_capacity(4);
    obj.insert("name", m.name.as_str());
    obj.insert("type", m.ty.as_str());
    if m.optional {
        obj.insert("default", Value::Null);
    }
    with_features(obj, &m.features)
}

/// Accessors over one JSON object with messages naming the key.
struct Fields<'a>(&'a Map);

impl<'a> Fields<'a> {
    fn of(value: &'a Value, what: &str) -> Result<Fields<'a>, String> {
        value
            .as_object()
            .map(Fields)
            .ok_or_else(|| format!("{what} must be an object, not {}", value.type_name()))
    }

    fn str(&self, key: &str) -> Result<String, String> {
        match self.0.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(format!(
                "'{key}' must be a string, not {}",
                other.type_name()
            )),
            None => Err(format!("'{key}' is missing")),
        }
    }

    fn list(&self, key: &str) -> Result<&'a [Value], String> {
        match self.0.get(key) {
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(format!(
                "'{key}' must be an array, not {}",
                other.type_name()
            )),
            None => Err(format!("'{key}' is missing")),
        }
    }

    fn opt_list(&self, key: &str) -> Result<&'a [Value], String> {
        if self.0.contains_key(key) {
            self.list(key)
        } else {
            Ok(&[])
        }
    }

    fn features(&self) -> Result<Option<Vec<String>>, String> {
        if !self.0.contains_key("features") {
            return Ok(None);
        }
        self.list("features")?
            .iter()
            .map(|f| {
                f.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("feature must be a string, not {}", f.type_name()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

fn json_type_from(word: &str) -> Result<JsonType, String> {
    Ok(match word {
        "string" => JsonType::String,
        "number" => JsonType::Number,
        "int" => JsonType::Int,
        "boolean" => JsonType::Boolean,
        "null" => JsonType::Null,
        "value" => JsonType::Value,
        other => return Err(format!("unknown json-type '{other}'")),
    })
}

fn entry_from_value(value: &Value) -> Result<Entry, String> {
    let fields = Fields::of(value, "element")?;
    let name = fields.str("name")?;
    let meta = fields.str("meta-type")?;
    let kind = match meta.as_str() {
        "builtin" => EntryKind::Builtin {
            json_type: json_type_from(&fields.str("json-type")?)?,
        },
        "enum" => {
            let members = match fields.0.get("members") {
                Some(_) => fields
                    .list("members")?
                    .iter()
                    .map(|m| {
                        let m = Fields::of(m, "enum member")?;
                        Ok(EnumMemberInfo {
                            name: m.str("name")?,
                            features: m.features()?,
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?,
                None => Vec::new(),
            };
            let values = fields
                .list("values")?
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        format!("enum value must be a string, not {}", v.type_name())
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            // Servers older than QEMU 6.0 send only `values`.
            let members = if members.is_empty() {
                values
                    .iter()
                    .map(|v| EnumMemberInfo {
                        name: v.clone(),
                        features: None,
                    })
                    .collect()
            } else {
                members
            };
            EntryKind::Enum { members, values }
        }
        "array" => EntryKind::Array {
            element_type: fields.str("element-type")?,
        },
        "object" => {
            let members = fields
                .list("members")?
                .iter()
                .map(|m| {
                    let m = Fields::of(m, "object member")?;
                    Ok(MemberInfo {
                        name: m.str("name")?,
                        ty: m.str("type")?,
                        optional: m.0.contains_key("default"),
                        features: m.features()?,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            let tag = match fields.0.get("tag") {
                Some(_) => Some(fields.str("tag")?),
                None => None,
            };
            let variants = fields
                .opt_list("variants")?
                .iter()
                .map(|v| {
                    let v = Fields::of(v, "variant")?;
                    Ok(VariantInfo {
                        case: v.str("case")?,
                        ty: v.str("type")?,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            EntryKind::Object {
                members,
                tag,
                variants,
            }
        }
        "alternate" => EntryKind::Alternate {
            members: fields
                .list("members")?
                .iter()
                .map(|m| Fields::of(m, "alternate member")?.str("type"))
                .collect::<Result<Vec<_>, String>>()?,
        },
        "command" => EntryKind::Command {
            arg_type: fields.str("arg-type")?,
            ret_type: fields.str("ret-type")?,
            allow_oob: match fields.0.get("allow-oob") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(format!(
                        "'allow-oob' must be a boolean, not {}",
                        other.type_name()
                    ))
                }
            },
        },
        "event" => EntryKind::Event {
            arg_type: fields.str("arg-type")?,
        },
        other => return Err(format!("unknown meta-type '{other}'")),
    };
    Ok(Entry {
        name,
        features: fields.features()?,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<SchemaInfo, LoadError> {
        SchemaInfo::from_value(&qmp_wire::from_str(text).expect("test JSON"))
    }

    #[test]
    fn bad_replies_are_errors() {
        assert_eq!(load("{}"), Err(LoadError::NotAnArray("object")));
        let err = |text| load(text).map_err(|e| e.to_string());
        assert_eq!(
            err(r#"[{"meta-type": "event", "arg-type": "0"}]"#),
            Err("query-qmp-schema element 0: 'name' is missing".to_string())
        );
        assert_eq!(
            err(r#"[{"name": "x", "meta-type": "gizmo"}]"#),
            Err("query-qmp-schema element 0: unknown meta-type 'gizmo'".to_string())
        );
        assert_eq!(
            err(r#"[{"name": "x", "meta-type": "object", "members": [{"name": 1}]}]"#),
            Err("query-qmp-schema element 0: 'name' must be a string, not integer".to_string())
        );
    }

    #[test]
    fn round_trips_with_feature_lists_kept_as_sent() {
        let text = r#"[{"name": "c", "meta-type": "command", "arg-type": "0", "ret-type": "0", "allow-oob": true, "features": []},
            {"name": "0", "meta-type": "object", "members": [{"name": "m", "type": "int", "default": null, "features": ["deprecated"]}]},
            {"name": "int", "meta-type": "builtin", "json-type": "int"}]"#;
        let info = load(text).expect("loads");
        assert_eq!(
            info.command("c").map(|e| e.features.clone()),
            Some(Some(Vec::new()))
        );
        assert_eq!(info.to_value(), qmp_wire::from_str(text).expect("json"));
    }
}
