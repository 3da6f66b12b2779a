//! Rust code generation: from a compiled schema, one module of types,
//! client-side commands and events, and (optionally) a server trait with a
//! dispatcher. Conditions are decided at generation time.
//!
//! Generated code depends on `serde`, `serde_json` and `qmp-wire`; the
//! server part also on `qapi-schema` (its validator gives QEMU's argument
//! errors before anything is deserialised).

mod api;
mod constructors;
mod docs;
mod names;
mod recursion;
mod runtime;
mod selection;
mod types;

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use qapi_schema::introspect::{IntrospectOptions, SchemaInfo};
use qapi_schema::{
    Conditions, Definition, DefinitionKind, EntityId, Feature, IfCond, Member, Schema,
};

use names::{camel, Namespace};

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RustOptions {
    /// Which `if` conditions hold.
    pub conditions: Conditions,
    /// Also generate the `server` module (trait and dispatcher; default
    /// no, as a client does not need it); it needs the `qapi-schema` crate.
    pub server: bool,
    /// Only the commands and events of these QAPI modules (schema files by
    /// stem: `block` is `block.json`, `block-core.json`, `block-export.json`),
    /// and the types they reach; empty: all.
    pub modules: Vec<String>,
}

impl Default for RustOptions {
    fn default() -> Self {
        RustOptions {
            conditions: Conditions::All,
            server: false,
            modules: Vec::new(),
        }
    }
}

/// Generates the Rust module for `schema` (unformatted but indented).
pub fn generate(schema: &Schema, options: &RustOptions) -> String {
    let gen = Gen::new(schema, options);
    gen.module()
}

/// The QAPI name and the Rust name of each generated type (enums,
/// structs, unions, alternates), in definition order.
pub fn type_names(schema: &Schema, options: &RustOptions) -> Vec<(String, String)> {
    let gen = Gen::new(schema, options);
    Gen::type_ids(schema, options)
        .into_iter()
        .filter_map(|id| {
            let def = schema.definition(id)?;
            Some((def.name.clone(), gen.type_names.get(&id)?.clone()))
        })
        .collect()
}

/// Where generated code refers to other items from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// The module root.
    Root,
    /// A submodule (`commands`, `events`, `server`).
    Sub,
}

impl Scope {
    fn prefix(self) -> &'static str {
        match self {
            Scope::Root => "",
            Scope::Sub => "super::",
        }
    }
}

/// Standard types a schema may shadow (QAPI has a struct `String`).
const STD_TYPES: [(&str, &str); 5] = [
    ("String", "::std::string::String"),
    ("Vec", "::std::vec::Vec"),
    ("Option", "::std::option::Option"),
    ("Box", "::std::boxed::Box"),
    ("Result", "::std::result::Result"),
];

/// The generation state shared by the emitters.
struct Gen<'a> {
    schema: &'a Schema,
    options: &'a RustOptions,
    /// Rust names of the generated types.
    type_names: HashMap<EntityId, String>,
    /// Rust names of the branch enums of unions.
    branch_names: HashMap<EntityId, String>,
    /// Standard types shadowed by a generated name.
    shadowed: HashSet<&'static str>,
    /// Types whose by-value members must be boxed.
    cycles: recursion::Cycles,
    /// Set when an emitted item refers to something deprecated.
    touched_deprecated: Cell<bool>,
    /// The entities the chosen modules reach (`None`: everything).
    selection: Option<HashSet<EntityId>>,
}

/// Names the module root reserves for itself.
const ROOT_ITEMS: [&str; 3] = ["Event", "QUERY_QMP_SCHEMA", "SCHEMA_NAME"];

impl<'a> Gen<'a> {
    fn new(schema: &'a Schema, options: &'a RustOptions) -> Gen<'a> {
        let mut root = Namespace::default();
        for item in ROOT_ITEMS {
            root.claim(item.to_string());
        }
        let mut type_names = HashMap::new();
        for id in Self::type_ids(schema, options) {
            if let Some(def) = schema.definition(id) {
                type_names.insert(id, root.claim(camel(&def.name)));
            }
        }
        let mut branch_names = HashMap::new();
        for (&id, name) in &type_names {
            let is_union = schema
                .definition(id)
                .and_then(Definition::as_object)
                .is_some_and(|o| o.is_union());
            if is_union {
                branch_names.insert(id, format!("{name}Branch"));
            }
        }
        // Claim branch names in a stable order.
        let mut unions: Vec<EntityId> = branch_names.keys().copied().collect();
        unions.sort();
        for id in unions {
            if let Some(name) = branch_names.get_mut(&id) {
                *name = root.claim(std::mem::take(name));
            }
        }
        let shadowed = STD_TYPES
            .iter()
            .map(|(short, _)| *short)
            .filter(|short| root.contains(short))
            .collect();
        let cycles = recursion::Cycles::new(schema, &type_names);
        Gen {
            schema,
            options,
            type_names,
            branch_names,
            shadowed,
            cycles,
            touched_deprecated: Cell::new(false),
            selection: Self::selection(schema, options),
        }
    }

    /// The entities the chosen modules reach (`None`: all modules).
    fn selection(schema: &Schema, options: &RustOptions) -> Option<HashSet<EntityId>> {
        if options.modules.is_empty() {
            return None;
        }
        let roots = selection::roots(schema, &options.conditions, &options.modules);
        Some(selection::reachable(schema, &roots))
    }

    /// True when entity `id` is generated (a module choice may leave it out).
    fn selected(&self, id: EntityId) -> bool {
        self.selection
            .as_ref()
            .is_none_or(|kept| kept.contains(&id))
    }

    /// The types that become Rust items: enums, alternates and objects the
    /// schema spells out, whose condition holds, that the chosen modules
    /// reach, in definition order.
    fn type_ids(schema: &Schema, options: &RustOptions) -> Vec<EntityId> {
        let conditions = &options.conditions;
        let selection = Self::selection(schema, options);
        (0..schema.entities.len())
            .map(EntityId)
            .filter(|id| selection.as_ref().is_none_or(|kept| kept.contains(id)))
            .filter(|&id| {
                schema.definition(id).is_some_and(|def| {
                    conditions.holds(def.ifcond.as_ref())
                        && match &def.kind {
                            DefinitionKind::Enum(_) | DefinitionKind::Alternate(_) => true,
                            DefinitionKind::Object(_) => !def.name.starts_with("q_"),
                            _ => false,
                        }
                })
            })
            .collect()
    }

    fn holds(&self, cond: Option<&IfCond>) -> bool {
        self.options.conditions.holds(cond)
    }

    /// A standard type's name, as a full path when the schema shadows it.
    fn std(&self, short: &'static str) -> &'static str {
        if self.shadowed.contains(short) {
            STD_TYPES
                .iter()
                .find(|(s, _)| *s == short)
                .map_or(short, |(_, full)| full)
        } else {
            short
        }
    }

    fn is_deprecated(features: &[Feature]) -> bool {
        features.iter().any(|f| f.name == "deprecated")
    }

    /// `#[deprecated]` when the features say so (conditions considered).
    fn deprecated_attr(&self, features: &[Feature], indent: &str) -> String {
        let deprecated = features
            .iter()
            .any(|f| f.name == "deprecated" && self.holds(f.ifcond.as_ref()));
        if deprecated {
            // The item's own impls and derives refer to it.
            self.touched_deprecated.set(true);
            format!("{indent}#[deprecated]\n")
        } else {
            String::new()
        }
    }

    /// The Rust type of values of type `id`.
    fn rust_type(&self, id: EntityId, scope: Scope) -> String {
        let Some(def) = self.schema.definition(id) else {
            return "::serde_json::Value".to_string();
        };
        match &def.kind {
            DefinitionKind::Builtin(_) => builtin_type(&def.name, self.std("String")).to_string(),
            DefinitionKind::Array(a) => {
                format!("{}<{}>", self.std("Vec"), self.rust_type(a.element, scope))
            }
            _ => match self.type_names.get(&id) {
                Some(name) => {
                    if Self::is_deprecated(&def.features) {
                        self.touched_deprecated.set(true);
                    }
                    format!("{}{name}", scope.prefix())
                }
                None => "::qmp_wire::Empty".to_string(),
            },
        }
    }

    /// The members of an object type whose condition holds.
    fn members_of(&self, id: EntityId) -> Vec<&'a Member> {
        self.schema
            .definition(id)
            .and_then(Definition::as_object)
            .map(|o| {
                o.members
                    .iter()
                    .filter(|m| self.holds(m.ifcond.as_ref()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The whole module.
    fn module(&self) -> String {
        let mut out = String::with_capacity(1 << 20);
        let _ = writeln!(
            out,
            "// @generated by qapi-gen from the QAPI schema {:?}. Do not edit.\n",
            self.schema.path
        );
        let _ = writeln!(
            out,
            "/// The root schema file this module was generated from.\npub const SCHEMA_NAME: &str = {:?};\n",
            self.schema.path
        );
        let masked = SchemaInfo::from_schema(
            self.schema,
            &self.options.conditions,
            IntrospectOptions::default(),
        );
        let wire = String::from_utf8_lossy(&masked.to_wire_bytes()).into_owned();
        let _ = writeln!(
            out,
            "/// The `query-qmp-schema` return value as QEMU sends it (type names\n/// masked, members in QEMU's order), ready to send without re-encoding.\npub const QUERY_QMP_SCHEMA: &str = {wire:?};\n"
        );
        for def in self.schema.definitions() {
            if let Some(id) = self.schema.lookup_id(&def.name) {
                if self.type_names.contains_key(&id) {
                    out.push_str(&self.type_item(id, def));
                }
            }
        }
        out.push_str(&self.commands_module());
        out.push_str(&self.events_module());
        out.push_str(&self.event_enum());
        if self.options.server {
            out.push_str(&self.server_module());
        }
        out.push_str(runtime::RUNTIME);
        // The module's own allowance (an `include!`d file cannot carry an
        // inner `#![allow]`): on each public top-level item, which covers
        // what is inside, submodules included.
        allow_before(&out, "missing_docs", &["pub "])
    }

    /// Wraps `body` (items at column 0) in `pub mod name { ... }`.
    fn submodule(doc: &str, name: &str, body: &str) -> String {
        let mut out = format!("/// {doc}\npub mod {name} {{\n");
        for line in body.lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                out.push_str("    ");
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str("}\n\n");
        out
    }

    /// Emits `item` (built by `f`) with `#[allow(deprecated)]` when it
    /// refers to anything deprecated.
    fn item(&self, f: impl FnOnce() -> String) -> String {
        let outer = self.touched_deprecated.replace(false);
        let body = f();
        let touched = self.touched_deprecated.replace(outer);
        if touched {
            self.touched_deprecated.set(true);
            allow_deprecated(&body)
        } else {
            body
        }
    }
}

/// Puts `#[allow(deprecated)]` before each top-level item of `code`.
fn allow_deprecated(code: &str) -> String {
    allow_before(code, "deprecated", &["pub ", "impl"])
}

/// Puts `#[allow(lint)]` before each line of `code` that starts with one
/// of `starts` (items start at column 0 after their doc comments and
/// attributes; nested items are indented).
fn allow_before(code: &str, lint: &str, starts: &[&str]) -> String {
    let mut out = String::with_capacity(code.len() + code.len() / 32);
    for line in code.lines() {
        if starts.iter().any(|p| line.starts_with(p)) {
            let _ = writeln!(out, "#[allow({lint})]");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The Rust type of a built-in QAPI type.
fn builtin_type(name: &str, string: &'static str) -> &'static str {
    match name {
        "str" => string,
        "number" => "f64",
        "int8" => "i8",
        "int16" => "i16",
        "int32" => "i32",
        "uint8" => "u8",
        "uint16" => "u16",
        "uint32" => "u32",
        "uint64" | "size" => "u64",
        "bool" => "bool",
        "null" => "()",
        "any" => "::serde_json::Value",
        _ => "i64",
    }
}
