//! Walking `query-qmp-schema` types for the shell: the members an object
//! (or a union branch chosen by the arguments typed so far) accepts, the
//! type behind a dotted key, and the words a value of a type may be.

use qapi_schema::introspect::{EntryKind, JsonType, MemberInfo, SchemaInfo};
use qmp_wire::{Map, Value};

/// Deepest nesting followed (schemas are acyclic in practice; this keeps a
/// malformed list from looping).
const MAX_DEPTH: usize = 32;

/// The argument type of command `name`.
pub fn command_arg_type<'a>(schema: &'a SchemaInfo, name: &str) -> Option<&'a str> {
    match &schema.command(name)?.kind {
        EntryKind::Command { arg_type, .. } => Some(arg_type),
        _ => None,
    }
}

/// The object type behind `name`: itself, or an alternate's object branch.
fn object_type<'a>(schema: &'a SchemaInfo, name: &'a str) -> Option<&'a str> {
    match &schema.get(name)?.kind {
        EntryKind::Object { .. } => Some(name),
        EntryKind::Alternate { members } => members
            .iter()
            .find(|m| {
                matches!(
                    schema.get(m).map(|e| &e.kind),
                    Some(EntryKind::Object { .. })
                )
            })
            .map(String::as_str),
        _ => None,
    }
}

/// The members of object type `name` (or an alternate's object branch),
/// with those of the union branch that `given` (the arguments at this
/// level) selects through the tag.
pub fn members<'a>(schema: &'a SchemaInfo, name: &str, given: Option<&Map>) -> Vec<&'a MemberInfo> {
    let mut out = Vec::new();
    collect_members(schema, name, given, 0, &mut out);
    out
}

fn collect_members<'a>(
    schema: &'a SchemaInfo,
    name: &str,
    given: Option<&Map>,
    depth: usize,
    out: &mut Vec<&'a MemberInfo>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let Some(entry) = schema.get(name) else {
        return;
    };
    let Some(object) = object_type(schema, &entry.name) else {
        return;
    };
    let Some(EntryKind::Object {
        members,
        tag,
        variants,
    }) = schema.get(object).map(|e| &e.kind)
    else {
        return;
    };
    out.extend(members.iter());
    let chosen = tag
        .as_deref()
        .and_then(|tag| given?.get(tag)?.as_str())
        .and_then(|case| variants.iter().find(|v| v.case == case));
    if let Some(variant) = chosen {
        collect_members(schema, &variant.ty, given, depth + 1, out);
    }
}

/// The type of the member at dotted `path` below type `root`, using the
/// arguments typed so far to choose union branches.
pub fn member_type<'a>(
    schema: &'a SchemaInfo,
    root: &'a str,
    path: &[&str],
    given: &Map,
) -> Option<&'a str> {
    let mut ty = root;
    let mut level = Some(given);
    for part in path {
        let member = members(schema, ty, level)
            .into_iter()
            .find(|m| m.name == *part)?;
        ty = &member.ty;
        level = level.and_then(|m| m.get(part)).and_then(Value::as_object);
    }
    Some(ty)
}

/// The arguments typed so far at dotted `path` (a nested object), if any.
pub fn given_at<'m>(given: &'m Map, path: &[&str]) -> Option<&'m Map> {
    path.iter()
        .try_fold(given, |map, part| map.get(part)?.as_object())
}

/// How a member's value is written: a plain value, a nested object, or
/// either (an alternate with an object branch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Takes `key=value`.
    pub scalar: bool,
    /// Takes `key.member=value`.
    pub object: bool,
}

/// The shape of values of type `name`.
pub fn shape(schema: &SchemaInfo, name: &str) -> Shape {
    let kind = schema.get(name).map(|e| &e.kind);
    let object = object_type(schema, name).is_some();
    let scalar = !matches!(kind, Some(EntryKind::Object { .. }))
        && !matches!(kind, Some(EntryKind::Alternate { members }) if members.iter().all(|m| object_type(schema, m).is_some()));
    Shape { scalar, object }
}

/// The words a value of type `name` may be: an enum's values, `true` and
/// `false` for booleans, the union of an alternate's branches.
pub fn value_words(schema: &SchemaInfo, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    collect_values(schema, name, 0, &mut out);
    out
}

fn collect_values(schema: &SchemaInfo, name: &str, depth: usize, out: &mut Vec<String>) {
    if depth > MAX_DEPTH {
        return;
    }
    match schema.get(name).map(|e| &e.kind) {
        Some(EntryKind::Enum { values, .. }) => out.extend(values.iter().cloned()),
        Some(EntryKind::Builtin {
            json_type: JsonType::Boolean,
        }) => out.extend(["true".to_owned(), "false".to_owned()]),
        Some(EntryKind::Alternate { members }) => {
            for member in members {
                collect_values(schema, member, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// The actions `transaction` takes, and each one's data type: the
/// branches of the union that `actions`' elements are.
pub fn transaction_actions(schema: &SchemaInfo) -> Vec<(&str, &str)> {
    let Some(arg_type) = command_arg_type(schema, "transaction") else {
        return Vec::new();
    };
    let Some(actions) = members(schema, arg_type, None)
        .into_iter()
        .find(|m| m.name == "actions")
    else {
        return Vec::new();
    };
    let element = match schema.get(&actions.ty).map(|e| &e.kind) {
        Some(EntryKind::Array { element_type }) => element_type.as_str(),
        _ => return Vec::new(),
    };
    let Some(EntryKind::Object { variants, .. }) = schema.get(element).map(|e| &e.kind) else {
        return Vec::new();
    };
    variants
        .iter()
        .filter_map(|v| {
            let data = members(schema, &v.ty, None)
                .into_iter()
                .find(|m| m.name == "data")?;
            Some((v.case.as_str(), data.ty.as_str()))
        })
        .collect()
}
