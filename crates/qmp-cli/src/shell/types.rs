//! Walking `query-qmp-schema` types for the shell: the members an object
//! (or a union branch chosen by the arguments typed so far) accepts, the
//! type behind a dotted key, and the words a value of a type may be.

use qapi_schema::introspect::{EntryKind, JsonType, MemberInfo, SchemaInfo};
use qmp_wire::{Map, Value};

/// Deepest nesting of alternates followed (schemas are acyclic in
/// practice; this keeps a malformed list from looping).
const MAX_DEPTH: usize = 32;

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
    let Some(object) = object_type(schema, name).and_then(|object| schema.get(object)) else {
        return Vec::new();
    };
    schema
        .branch_members(object, given)
        .map_while(Result::ok)
        .flatten()
        .collect()
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
    let Some(arg_type) = schema.arg_type("transaction") else {
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
