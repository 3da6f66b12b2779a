//! A QAPI schema rebuilt from a `query-qmp-schema` list, so that code can
//! be generated for a QEMU whose schema source one does not have: the
//! reply alone says what is on the wire.
//!
//! What the list does not keep is made up: type names QEMU masked (the
//! numbers) are derived from the path that first reaches the type, such
//! as `BlockdevAddArg` (the argument type of `blockdev-add`),
//! `QueryStatusRet`, `BlockJobCompletedData` (an event's data) and
//! `BlockdevAddArgCache` (member `cache` of that), branches of a union
//! whose type has no members become implicit branches, alternate
//! branches are named after their JSON type, and a pragma allows every
//! name and return type that QEMU's own schema allowed by exception. Real
//! type names (an unmasked list) are kept where they are valid type names.
//! Docs, `if` conditions, `gen` and `success-response` are not in the
//! list and do not come back; types no command or event reaches are left
//! out.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;

use super::{Entry, EntryKind, MemberInfo, SchemaInfo};

/// Why a list could not be turned into a schema.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot rebuild a schema from the query-qmp-schema list: {0}")]
pub struct SourceError(String);

impl SchemaInfo {
    /// QAPI schema text that gives this list's commands, events and
    /// types on the wire (see the [`source` module](crate::introspect::source)).
    pub fn to_schema_source(&self) -> Result<String, SourceError> {
        let names = Names::derive(self)?;
        let mut out = String::from(
            "# Rebuilt from a query-qmp-schema reply by qmp-rs: type names are derived, not QEMU's.\n\n",
        );
        let commands: Vec<&str> = self.commands().map(|e| e.name.as_str()).collect();
        let types: Vec<&str> = names.in_order.iter().map(String::as_str).collect();
        let _ = writeln!(
            out,
            "{{ 'pragma': {{ 'doc-required': false,\n    'command-name-exceptions': {},\n    'command-returns-exceptions': {},\n    'member-name-exceptions': {} }} }}\n",
            list(&commands)?,
            list(&commands)?,
            list(&types)?
        );
        for entry in self.entries() {
            let text = match &entry.kind {
                EntryKind::Command {
                    arg_type,
                    ret_type,
                    allow_oob,
                } => {
                    let mut text = format!("{{ 'command': {}", quote(&entry.name)?);
                    self.data(&names, &mut text, arg_type)?;
                    if !self.is_empty_object(ret_type) {
                        let _ = write!(text, ",\n  'returns': {}", names.type_ref(self, ret_type)?);
                    }
                    if *allow_oob {
                        text.push_str(",\n  'allow-oob': true");
                    }
                    text
                }
                EntryKind::Event { arg_type } => {
                    let mut text = format!("{{ 'event': {}", quote(&entry.name)?);
                    self.data(&names, &mut text, arg_type)?;
                    text
                }
                _ => match names.by_entry.get(&entry.name) {
                    Some(name) => self.type_expr(&names, entry, name)?,
                    None => continue,
                },
            };
            out.push_str(&text);
            out.push_str(&features(&entry.features)?);
            out.push_str(" }\n\n");
        }
        Ok(out)
    }

    /// True for an object type without members or branches.
    fn is_empty_object(&self, name: &str) -> bool {
        matches!(
            self.get(name).map(|e| &e.kind),
            Some(EntryKind::Object { members, tag: None, .. }) if members.is_empty()
        )
    }

    /// `, 'data': T` of a command or event (with `'boxed'` for a union).
    fn data(&self, names: &Names, text: &mut String, arg_type: &str) -> Result<(), SourceError> {
        if self.is_empty_object(arg_type) {
            return Ok(());
        }
        let _ = write!(text, ",\n  'data': {}", names.type_ref(self, arg_type)?);
        if matches!(
            self.get(arg_type).map(|e| &e.kind),
            Some(EntryKind::Object { tag: Some(_), .. })
        ) {
            text.push_str(", 'boxed': true");
        }
        Ok(())
    }

    /// The expression defining type `entry` as `name` (without its
    /// features and closing brace).
    fn type_expr(&self, names: &Names, entry: &Entry, name: &str) -> Result<String, SourceError> {
        let name = quote(name)?;
        Ok(match &entry.kind {
            EntryKind::Enum { members, .. } => {
                let mut values = Vec::with_capacity(members.len());
                for m in members {
                    values.push(format!(
                        "{{ 'name': {}{} }}",
                        quote(&m.name)?,
                        features(&m.features)?
                    ));
                }
                format!(
                    "{{ 'enum': {name},\n  'data': [ {} ]",
                    values.join(",\n            ")
                )
            }
            EntryKind::Object {
                members, tag: None, ..
            } => {
                format!(
                    "{{ 'struct': {name},\n  'data': {}",
                    self.members(names, members)?
                )
            }
            EntryKind::Object {
                members,
                tag: Some(tag),
                variants,
            } => {
                let mut branches = Vec::new();
                for v in variants.iter().filter(|v| !self.is_empty_object(&v.ty)) {
                    branches.push(format!(
                        "{}: {}",
                        quote(&v.case)?,
                        names.type_ref(self, &v.ty)?
                    ));
                }
                format!(
                    "{{ 'union': {name},\n  'base': {},\n  'discriminator': {},\n  'data': {{ {} }}",
                    self.members(names, members)?,
                    quote(tag)?,
                    branches.join(",\n            ")
                )
            }
            EntryKind::Alternate { members } => {
                let mut taken = HashSet::new();
                let mut branches = Vec::new();
                for ty in members {
                    let word = self.json_word(ty);
                    let mut branch = word.to_string();
                    let mut n = 2;
                    while !taken.insert(branch.clone()) {
                        branch = format!("{word}{n}");
                        n += 1;
                    }
                    branches.push(format!(
                        "{}: {}",
                        quote(&branch)?,
                        names.type_ref(self, ty)?
                    ));
                }
                format!(
                    "{{ 'alternate': {name},\n  'data': {{ {} }}",
                    branches.join(",\n            ")
                )
            }
            _ => return Err(SourceError(format!("'{}' is not a named type", entry.name))),
        })
    }

    /// `{ 'name': T, '*opt': { 'type': T, 'features': [...] }, ... }`.
    fn members(&self, names: &Names, members: &[MemberInfo]) -> Result<String, SourceError> {
        let mut parts = Vec::with_capacity(members.len());
        for m in members {
            let key = quote(&format!("{}{}", if m.optional { "*" } else { "" }, m.name))?;
            let ty = names.type_ref(self, &m.ty)?;
            let feats = features(&m.features)?;
            if feats.is_empty() {
                parts.push(format!("{key}: {ty}"));
            } else {
                parts.push(format!("{key}: {{ 'type': {ty}{feats} }}"));
            }
        }
        Ok(format!("{{ {} }}", parts.join(",\n            ")))
    }

    /// A word for the JSON type of `ty` (an alternate branch's name).
    fn json_word(&self, ty: &str) -> &'static str {
        match self.get(ty).map(|e| &e.kind) {
            Some(EntryKind::Builtin { json_type }) => match json_type.as_str() {
                "string" => "str",
                "int" => "int",
                "number" => "number",
                "boolean" => "bool",
                "null" => "null",
                _ => "value",
            },
            Some(EntryKind::Enum { .. }) => "enum",
            Some(EntryKind::Array { .. }) => "list",
            Some(EntryKind::Object { .. }) => "object",
            _ => "value",
        }
    }
}

/// `'text'`, or an error for text a QAPI string cannot hold as it is.
fn quote(text: &str) -> Result<String, SourceError> {
    if text.contains(['\'', '\\']) || text.chars().any(char::is_control) {
        Err(SourceError(format!(
            "the name {text:?} cannot be written in a schema"
        )))
    } else {
        Ok(format!("'{text}'"))
    }
}

/// `[ 'a', 'b' ]`.
fn list(items: &[&str]) -> Result<String, SourceError> {
    let quoted: Result<Vec<String>, SourceError> = items.iter().map(|i| quote(i)).collect();
    Ok(format!("[ {} ]", quoted?.join(", ")))
}

/// `, 'features': [ ... ]` when there are features.
fn features(features: &Option<Vec<String>>) -> Result<String, SourceError> {
    match features {
        Some(list_of) if !list_of.is_empty() => {
            let items: Vec<&str> = list_of.iter().map(String::as_str).collect();
            Ok(format!(", 'features': {}", list(&items)?))
        }
        _ => Ok(String::new()),
    }
}

/// CamelCase for a type name: each alphanumeric word capitalised, the
/// rest of it lower case; a leading digit gets a `T` before it.
fn camel(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    if !out.starts_with(|c: char| c.is_ascii_uppercase()) {
        out.insert(0, 'T');
    }
    out
}

/// True when `name` can stay: a real CamelCase name QAPI allows.
fn valid_type_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    matches!(bytes.first(), Some(b) if b.is_ascii_uppercase())
        && bytes.iter().all(|b| b.is_ascii_alphanumeric())
        && bytes.iter().skip(1).any(|b| b.is_ascii_lowercase())
        && !name.ends_with("List")
}

/// The names chosen for the list's named types.
struct Names {
    /// Entry name -> schema name.
    by_entry: HashMap<String, String>,
    /// The schema names, in the order they were chosen.
    in_order: Vec<String>,
}

impl Names {
    /// Names every type a command or event reaches, breadth first, each
    /// after the first path that reaches it.
    fn derive(info: &SchemaInfo) -> Result<Names, SourceError> {
        let mut queue: VecDeque<(String, String)> = VecDeque::new();
        for entry in info.entries() {
            let stem = camel(&entry.name);
            match &entry.kind {
                EntryKind::Command {
                    arg_type, ret_type, ..
                } => {
                    queue.push_back((arg_type.clone(), format!("{stem}Arg")));
                    queue.push_back((ret_type.clone(), format!("{stem}Ret")));
                }
                EntryKind::Event { arg_type } => {
                    queue.push_back((arg_type.clone(), format!("{stem}Data")));
                }
                _ => {}
            }
        }
        let mut names = Names {
            by_entry: HashMap::new(),
            in_order: Vec::new(),
        };
        let mut taken: HashSet<String> = HashSet::new();
        let mut visited: HashSet<String> = HashSet::new();
        while let Some((entry_name, suggestion)) = queue.pop_front() {
            if !visited.insert(entry_name.clone()) {
                continue;
            }
            let entry = info.get(&entry_name).ok_or_else(|| {
                SourceError(format!(
                    "it names type '{entry_name}' but has no entry for it"
                ))
            })?;
            let name = match &entry.kind {
                EntryKind::Builtin { .. } => continue,
                // Written inline: the element takes the name.
                EntryKind::Array { element_type } => {
                    queue.push_back((element_type.clone(), suggestion));
                    continue;
                }
                _ => {
                    let wanted = if valid_type_name(&entry_name) {
                        entry_name.clone()
                    } else if suggestion.ends_with("List") {
                        format!("{suggestion}Value")
                    } else {
                        suggestion
                    };
                    let mut name = wanted.clone();
                    let mut n = 2;
                    while !taken.insert(name.clone()) {
                        name = format!("{wanted}{n}");
                        n += 1;
                    }
                    name
                }
            };
            match &entry.kind {
                EntryKind::Object {
                    members, variants, ..
                } => {
                    for m in members {
                        queue.push_back((m.ty.clone(), format!("{name}{}", camel(&m.name))));
                    }
                    for v in variants {
                        queue.push_back((v.ty.clone(), format!("{name}{}", camel(&v.case))));
                    }
                }
                EntryKind::Alternate { members } => {
                    for ty in members {
                        queue.push_back((
                            ty.clone(),
                            format!("{name}{}", camel(info.json_word(ty))),
                        ));
                    }
                }
                _ => {}
            }
            names.by_entry.insert(entry_name, name.clone());
            names.in_order.push(name);
        }
        Ok(names)
    }

    /// How the schema refers to type `entry_name`: a built-in's name, an
    /// array as `[ 'T' ]`, or the chosen name.
    fn type_ref(&self, info: &SchemaInfo, entry_name: &str) -> Result<String, SourceError> {
        match info.get(entry_name).map(|e| &e.kind) {
            Some(EntryKind::Builtin { .. }) => quote(entry_name),
            Some(EntryKind::Array { element_type }) => {
                if matches!(
                    info.get(element_type).map(|e| &e.kind),
                    Some(EntryKind::Array { .. })
                ) {
                    return Err(SourceError(format!(
                        "array '{entry_name}' holds arrays, which a schema cannot say"
                    )));
                }
                Ok(format!("[ {} ]", self.type_ref(info, element_type)?))
            }
            Some(_) => match self.by_entry.get(entry_name) {
                Some(name) => quote(name),
                None => Err(SourceError(format!("type '{entry_name}' has no name"))),
            },
            None => Err(SourceError(format!(
                "it names type '{entry_name}' but has no entry for it"
            ))),
        }
    }
}
