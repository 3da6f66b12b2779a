//! [`SchemaInfo::from_schema`]: the `query-qmp-schema` list built from a
//! compiled schema exactly as QEMU's generator builds it (commands and
//! events in schema order, then types in order of first use; type names
//! masked as numbers assigned before conditions are applied; integer types
//! folded into `int`), with conditions decided at generation time.

use std::collections::{HashMap, HashSet};

use super::{Entry, EntryKind, EnumMemberInfo, MemberInfo, SchemaInfo, VariantInfo};
use crate::{Conditions, Definition, DefinitionKind, EntityId, Feature, JsonType, Schema};

/// How [`SchemaInfo::from_schema`] builds the list (the default is QEMU's
/// output).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntrospectOptions {
    /// Real type names instead of numbers (QEMU's `-u`).
    pub unmask: bool,
    /// Fold `intN`/`uintN`/`size` into `int` as QEMU does. Turn off for a
    /// list that keeps integer widths, so a validator can check ranges
    /// (not QEMU's wire output).
    pub fold_integers: bool,
    /// List every type of the schema, not only those reachable from
    /// commands and events (not QEMU's wire output; for tools and tests
    /// that need the whole schema).
    pub all_types: bool,
}

impl IntrospectOptions {
    /// Real type names and integer widths kept: the list that argument
    /// validation with QEMU's range checks, the simulator and the schema
    /// diff use (not QEMU's wire output).
    pub const VALIDATION: IntrospectOptions = IntrospectOptions {
        unmask: true,
        fold_integers: false,
        all_types: false,
    };
}

impl Default for IntrospectOptions {
    fn default() -> Self {
        IntrospectOptions {
            unmask: false,
            fold_integers: true,
            all_types: false,
        }
    }
}

impl SchemaInfo {
    /// Builds the `query-qmp-schema` list of `schema`, with `if`
    /// conditions decided by `conditions`.
    pub fn from_schema(
        schema: &Schema,
        conditions: &Conditions,
        options: IntrospectOptions,
    ) -> SchemaInfo {
        let mut gen = Generator {
            schema,
            conditions,
            options,
            used: Vec::new(),
            used_set: HashSet::new(),
            numbers: HashMap::new(),
            entries: Vec::new(),
        };
        for module in &schema.modules {
            for &id in &module.entities {
                if let Some(def) = schema.definition(id) {
                    if !def.is_type() {
                        gen.visit(def);
                    }
                }
            }
        }
        if options.all_types {
            for def in schema.definitions().filter(|d| d.is_type()) {
                if let Some(id) = schema.lookup_id(&def.name) {
                    gen.use_type(id);
                }
            }
        }
        let mut next = 0;
        while let Some(&id) = gen.used.get(next) {
            next += 1;
            if let Some(def) = schema.definition(id) {
                gen.visit(def);
            }
        }
        SchemaInfo::new(gen.entries)
    }
}

/// One generation pass.
struct Generator<'a> {
    schema: &'a Schema,
    conditions: &'a Conditions,
    options: IntrospectOptions,
    /// Types in order of first use: the work queue.
    used: Vec<EntityId>,
    used_set: HashSet<EntityId>,
    /// Masked names, numbered in order of first need.
    numbers: HashMap<&'a str, usize>,
    entries: Vec<Entry>,
}

impl<'a> Generator<'a> {
    fn name(&mut self, name: &'a str) -> String {
        if self.options.unmask {
            return name.to_string();
        }
        let next = self.numbers.len();
        self.numbers.entry(name).or_insert(next).to_string()
    }

    fn is_int(&self, id: EntityId) -> bool {
        self.schema.definition(id).is_some_and(|d| {
            matches!(d.kind, DefinitionKind::Builtin(_)) && d.json_type() == Some(JsonType::Int)
        })
    }

    /// QEMU's `_use_type`: queues the type and returns its name.
    fn use_type(&mut self, mut id: EntityId) -> String {
        let schema = self.schema;
        if self.options.fold_integers {
            let folded = match schema.definition(id).map(|d| &d.kind) {
                Some(DefinitionKind::Builtin(_)) if self.is_int(id) => schema.lookup_id("int"),
                Some(DefinitionKind::Array(a)) if self.is_int(a.element) => {
                    schema.lookup_id("intList")
                }
                _ => None,
            };
            id = folded.unwrap_or(id);
        }
        if self.used_set.insert(id) {
            self.used.push(id);
        }
        let Some(def) = schema.definition(id) else {
            return String::new();
        };
        match &def.kind {
            DefinitionKind::Builtin(_) => def.name.clone(),
            DefinitionKind::Array(a) => format!("[{}]", self.use_type(a.element)),
            _ => self.name(&def.name),
        }
    }

    /// The feature list: present when the definition has features, even
    /// if all of them are compiled out (QEMU then sends `[]`).
    fn features(&self, features: &[Feature]) -> Option<Vec<String>> {
        if features.is_empty() {
            return None;
        }
        let names = features
            .iter()
            .filter(|f| self.conditions.holds(f.ifcond.as_ref()))
            .map(|f| f.name.clone())
            .collect();
        Some(names)
    }

    fn empty_type(&self) -> EntityId {
        self.schema.lookup_id("q_empty").unwrap_or(EntityId(0))
    }

    fn visit(&mut self, def: &'a Definition) {
        let kind = match &def.kind {
            DefinitionKind::Builtin(b) => EntryKind::Builtin {
                json_type: b.json_type,
            },
            DefinitionKind::Enum(e) => {
                let values: Vec<_> = e
                    .values
                    .iter()
                    .filter(|v| self.conditions.holds(v.ifcond.as_ref()))
                    .collect();
                EntryKind::Enum {
                    members: values
                        .iter()
                        .map(|v| EnumMemberInfo {
                            name: v.name.clone(),
                            features: self.features(&v.features),
                        })
                        .collect(),
                    values: values.iter().map(|v| v.name.clone()).collect(),
                }
            }
            DefinitionKind::Array(a) => {
                let element_type = self.use_type(a.element);
                let name = format!("[{element_type}]");
                return self.push(name, def, EntryKind::Array { element_type });
            }
            DefinitionKind::Object(o) => {
                let mut members = Vec::with_capacity(o.members.len());
                for m in &o.members {
                    let ty = self.use_type(m.ty);
                    if self.conditions.holds(m.ifcond.as_ref()) {
                        members.push(MemberInfo {
                            name: m.name.clone(),
                            ty,
                            optional: m.optional,
                            features: self.features(&m.features),
                        });
                    }
                }
                let mut variants = Vec::new();
                if let Some(b) = &o.branches {
                    for v in &b.variants {
                        let ty = self.use_type(v.ty);
                        if self.conditions.holds(v.ifcond.as_ref()) {
                            variants.push(VariantInfo {
                                case: v.name.clone(),
                                ty,
                            });
                        }
                    }
                }
                EntryKind::Object {
                    members,
                    tag: o.branches.as_ref().map(|b| b.tag_name.clone()),
                    variants,
                }
            }
            DefinitionKind::Alternate(a) => {
                let mut members = Vec::with_capacity(a.variants.len());
                for v in &a.variants {
                    let ty = self.use_type(v.ty);
                    if self.conditions.holds(v.ifcond.as_ref()) {
                        members.push(ty);
                    }
                }
                EntryKind::Alternate { members }
            }
            DefinitionKind::Command(c) => {
                let arg = c.arg_type.unwrap_or_else(|| self.empty_type());
                let ret = c.ret_type.unwrap_or_else(|| self.empty_type());
                EntryKind::Command {
                    arg_type: self.use_type(arg),
                    ret_type: self.use_type(ret),
                    allow_oob: c.allow_oob,
                }
            }
            DefinitionKind::Event(e) => {
                let arg = e.arg_type.unwrap_or_else(|| self.empty_type());
                EntryKind::Event {
                    arg_type: self.use_type(arg),
                }
            }
        };
        let name = match def.kind {
            DefinitionKind::Command(_) | DefinitionKind::Event(_) | DefinitionKind::Builtin(_) => {
                def.name.clone()
            }
            _ => self.name(&def.name),
        };
        self.push(name, def, kind);
    }

    fn push(&mut self, name: String, def: &Definition, kind: EntryKind) {
        if self.conditions.holds(def.ifcond.as_ref()) {
            let features = self.features(&def.features);
            self.entries.push(Entry {
                name,
                features,
                kind,
            });
        }
    }
}
