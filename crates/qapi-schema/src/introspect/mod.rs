//! `SchemaInfo`: the `query-qmp-schema` model (what QEMU's
//! `qapi/introspect.json` describes), its JSON form both ways, and a
//! validator of argument values against it with QEMU's error texts.
//!
//! This module is introspection's one owner: it builds a `SchemaInfo`
//! from a compiled [`Schema`](crate::Schema) exactly as QEMU's generator
//! does ([`SchemaInfo::from_schema`]; `qapi-gen` calls this), reads one
//! from a live server's reply ([`SchemaInfo::from_value`]), loads either
//! from a file ([`ApiSource`]: a schema or a saved reply, with one policy
//! for QEMU 7.2's doc syntax), and uses it (lookups such as
//! [`SchemaInfo::arg_type`], [`SchemaInfo::validate_command_arguments`],
//! [`diff()`]).

mod api;
pub mod diff;
mod generate;
mod infer;
mod json;
mod lookup;
pub mod query;
pub mod source;
mod validate;

use std::collections::HashMap;

pub use crate::model::JsonType;
pub use api::{Api, ApiError, ApiSource};
pub use diff::{diff, Change, ChangeKind, Compat};
pub use generate::IntrospectOptions;
pub use infer::{infer_conditions, schema_symbols, InferredConditions};
pub use json::LoadError;
pub use lookup::{BranchMembers, MAX_BRANCH_DEPTH};
pub use query::{QueryError, MAX_QUERY_DEPTH};
pub use source::SourceError;
pub use validate::ValidationError;

/// The list `query-qmp-schema` returns, with an index by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SchemaInfo {
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

/// One element of the list: a command, event or type.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The name (types: a decimal string when masked, or the real name).
    pub name: String,
    /// Feature names, in order; `Some` exactly when the key is present
    /// (QEMU sends `[]` when every feature was compiled out).
    pub features: Option<Vec<String>>,
    /// What the entry describes (`meta-type` and its members).
    pub kind: EntryKind,
}

/// What an entry describes, by `meta-type`.
#[derive(Clone, Debug, PartialEq)]
pub enum EntryKind {
    /// `builtin`: a built-in type with its JSON type.
    Builtin {
        /// `json-type`
        json_type: JsonType,
    },
    /// `enum`
    Enum {
        /// `members`: the values with their features.
        members: Vec<EnumMemberInfo>,
        /// `values`: the value names (legacy duplicate of `members`).
        values: Vec<String>,
    },
    /// `array`
    Array {
        /// `element-type`
        element_type: String,
    },
    /// `object`: a struct, union or implicit argument type.
    Object {
        /// `members`: the flattened members (base first).
        members: Vec<MemberInfo>,
        /// `tag`: the discriminator of a union.
        tag: Option<String>,
        /// `variants`: a union's branches, implicit ones included.
        variants: Vec<VariantInfo>,
    },
    /// `alternate`: the branch types (branch names are not exposed).
    Alternate {
        /// `members[].type`
        members: Vec<String>,
    },
    /// `command`
    Command {
        /// `arg-type`
        arg_type: String,
        /// `ret-type`
        ret_type: String,
        /// `allow-oob`
        allow_oob: bool,
    },
    /// `event`
    Event {
        /// `arg-type`
        arg_type: String,
    },
}

impl EntryKind {
    /// The `meta-type` word.
    pub fn meta_type(&self) -> &'static str {
        match self {
            EntryKind::Builtin { .. } => "builtin",
            EntryKind::Enum { .. } => "enum",
            EntryKind::Array { .. } => "array",
            EntryKind::Object { .. } => "object",
            EntryKind::Alternate { .. } => "alternate",
            EntryKind::Command { .. } => "command",
            EntryKind::Event { .. } => "event",
        }
    }
}

/// A value of an enum type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumMemberInfo {
    /// The value.
    pub name: String,
    /// Its features (`Some` exactly when the key is present).
    pub features: Option<Vec<String>>,
}

/// A member of an object type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    /// The member name.
    pub name: String,
    /// The type's (possibly masked) name.
    pub ty: String,
    /// True when the member is optional (`"default": null` on the wire).
    pub optional: bool,
    /// Its features (`Some` exactly when the key is present).
    pub features: Option<Vec<String>>,
}

/// A branch of a union.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariantInfo {
    /// The tag value selecting it.
    pub case: String,
    /// The branch type's name.
    pub ty: String,
}

/// True when an optional feature list names `feature`.
pub fn has_feature(features: &Option<Vec<String>>, feature: &str) -> bool {
    features.iter().flatten().any(|f| f == feature)
}

impl SchemaInfo {
    /// A list from entries in order (a later duplicate name shadows an
    /// earlier one in lookups).
    pub fn new(entries: Vec<Entry>) -> SchemaInfo {
        let index = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.clone(), i))
            .collect();
        SchemaInfo { entries, index }
    }

    /// The entries in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry named `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.index.get(name).and_then(|&i| self.entries.get(i))
    }

    /// The command named `name`.
    pub fn command(&self, name: &str) -> Option<&Entry> {
        self.get(name)
            .filter(|e| matches!(e.kind, EntryKind::Command { .. }))
    }

    /// The event named `name`.
    pub fn event(&self, name: &str) -> Option<&Entry> {
        self.get(name)
            .filter(|e| matches!(e.kind, EntryKind::Event { .. }))
    }

    /// Commands in order.
    pub fn commands(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::Command { .. }))
    }

    /// Events in order.
    pub fn events(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::Event { .. }))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
