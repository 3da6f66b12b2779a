//! The conditions a QEMU binary was built with, found from its
//! `query-qmp-schema` reply and the schema it was built from: which `if`
//! symbols must be defined for the schema to give exactly that reply.
//!
//! A command or event whose condition is one symbol tells that symbol at
//! once (present: defined). The other symbols are then settled one at a
//! time, each kept in the state that brings the generated list closer to
//! the reply (fewer [`diff`] changes), until no single change helps.
//! Symbols whose state changes nothing in the generated list are reported
//! as such: the reply cannot tell them.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{diff, Change, IntrospectOptions, SchemaInfo};
use crate::{Conditions, DefinitionKind, IfCond, Schema};

/// The conditions found for a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InferredConditions {
    /// Symbols found defined.
    pub defined: BTreeSet<String>,
    /// Symbols found undefined (every other symbol the schema uses).
    pub undefined: BTreeSet<String>,
    /// Symbols (among either set) whose state does not change the list
    /// the schema gives: the reply says nothing about them.
    pub no_effect: BTreeSet<String>,
    /// Differences left between the list the schema gives with
    /// [`InferredConditions::defined`] and the reply; empty when it gives
    /// the reply exactly.
    pub remaining: Vec<Change>,
    /// True when the list generated with the defined symbols equals the
    /// reply entry for entry, in order.
    pub exact: bool,
}

impl InferredConditions {
    /// The defined symbols as [`Conditions`].
    pub fn conditions(&self) -> Conditions {
        Conditions::Defined(self.defined.iter().cloned().collect())
    }

    /// The conditions file ([`Conditions::parse`] reads it back): a
    /// `[DEFINED]` and an `[UNDEFINED]` section, symbols the reply cannot
    /// tell marked, and the differences left as comments.
    pub fn to_file(&self) -> String {
        let mut out = String::from(
            "# Conditions found by comparing a query-qmp-schema reply with the schema.\n",
        );
        if self.exact {
            out.push_str("# With the DEFINED symbols the schema gives the reply exactly.\n");
        } else {
            let _ = writeln!(
                out,
                "# With the DEFINED symbols {} differences remain (listed at the end).",
                self.remaining.len()
            );
        }
        out.push_str(
            "# (no effect): the reply does not depend on the symbol; its state is a guess.\n",
        );
        for (heading, symbols) in [
            ("[DEFINED]", &self.defined),
            ("[UNDEFINED]", &self.undefined),
        ] {
            let _ = writeln!(out, "\n{heading}");
            for symbol in symbols {
                let mark = if self.no_effect.contains(symbol) {
                    " (no effect)"
                } else {
                    ""
                };
                let _ = writeln!(out, "{symbol}{mark}");
            }
        }
        if !self.remaining.is_empty() {
            out.push_str("\n# Differences left:\n");
            for change in &self.remaining {
                let _ = writeln!(out, "# {change}");
            }
        }
        out
    }
}

/// Calls `f` on every `if` condition of `schema` and on each of their
/// sub-conditions.
fn for_each_condition(schema: &Schema, mut f: impl FnMut(&IfCond)) {
    let mut conds: Vec<&IfCond> = Vec::new();
    for def in schema.definitions() {
        conds.extend(&def.ifcond);
        conds.extend(def.features.iter().filter_map(|f| f.ifcond.as_ref()));
        match &def.kind {
            DefinitionKind::Enum(e) => {
                conds.extend(e.values.iter().filter_map(|v| v.ifcond.as_ref()));
            }
            DefinitionKind::Object(o) => {
                for m in &o.members {
                    conds.extend(&m.ifcond);
                    conds.extend(m.features.iter().filter_map(|f| f.ifcond.as_ref()));
                }
                let variants = o.branches.iter().flat_map(|b| &b.variants);
                conds.extend(variants.filter_map(|v| v.ifcond.as_ref()));
            }
            DefinitionKind::Alternate(a) => {
                conds.extend(a.variants.iter().filter_map(|v| v.ifcond.as_ref()));
            }
            _ => {}
        }
    }
    while let Some(cond) = conds.pop() {
        f(cond);
        match cond {
            IfCond::Name(_) => {}
            IfCond::All(ops) | IfCond::Any(ops) => conds.extend(ops),
            IfCond::Not(op) => conds.push(op),
        }
    }
}

/// Every symbol an `if` condition of `schema` mentions.
pub fn schema_symbols(schema: &Schema) -> BTreeSet<String> {
    let mut symbols = BTreeSet::new();
    for_each_condition(schema, |cond| {
        if let IfCond::Name(name) = cond {
            symbols.insert(name.clone());
        }
    });
    symbols
}

/// A change to a set of defined symbols.
#[derive(Clone, Copy)]
enum Move<'s> {
    /// Define the symbol, or undefine it when defined.
    Toggle(&'s String),
    /// Define all of these.
    Define(&'s BTreeSet<String>),
    /// Undefine all of these.
    Undefine(&'s BTreeSet<String>),
}

impl Move<'_> {
    fn apply(self, defined: &BTreeSet<String>) -> BTreeSet<String> {
        match self {
            Move::Toggle(symbol) => {
                let mut trial = defined.clone();
                if !trial.remove(symbol) {
                    trial.insert(symbol.clone());
                }
                trial
            }
            Move::Define(group) => defined.union(group).cloned().collect(),
            Move::Undefine(group) => defined.difference(group).cloned().collect(),
        }
    }
}

/// The symbol sets of the schema's `all` and `any` conditions over plain
/// symbols.
fn symbol_groups(schema: &Schema) -> BTreeSet<BTreeSet<String>> {
    let mut groups = BTreeSet::new();
    for_each_condition(schema, |cond| {
        if let IfCond::All(ops) | IfCond::Any(ops) = cond {
            let names: BTreeSet<String> = ops
                .iter()
                .filter_map(|op| match op {
                    IfCond::Name(name) => Some(name.clone()),
                    _ => None,
                })
                .collect();
            if names.len() > 1 {
                groups.insert(names);
            }
        }
    });
    groups
}

/// Finds the conditions under which `schema` gives `reply` (a server's
/// `query-qmp-schema` list). Commands and events whose condition is one
/// symbol tell that symbol; the others are then changed one at a time
/// (or those of one `all`/`any` condition together), each change kept
/// when the generated list comes closer to the reply, until none helps.
pub fn infer_conditions(schema: &Schema, reply: &SchemaInfo) -> InferredConditions {
    let symbols = schema_symbols(schema);
    let generate = |defined: &BTreeSet<String>| {
        let conditions = Conditions::Defined(defined.iter().cloned().collect());
        SchemaInfo::from_schema(schema, &conditions, IntrospectOptions::default())
    };
    let distance = |defined: &BTreeSet<String>| diff(&generate(defined), reply).len();
    // Commands and events under one symbol tell it directly.
    let mut defined: BTreeSet<String> = schema
        .definitions()
        .filter(|d| {
            matches!(
                d.kind,
                DefinitionKind::Command(_) | DefinitionKind::Event(_)
            )
        })
        .filter_map(|d| match &d.ifcond {
            Some(IfCond::Name(symbol)) if reply.get(&d.name).is_some() => Some(symbol.clone()),
            _ => None,
        })
        .collect();
    // Moves: one symbol toggled, or the symbols of an 'all' or 'any'
    // condition defined or undefined together (so that `all: [A, B]` can
    // become true when neither A nor B alone changes anything).
    let groups = symbol_groups(schema);
    let mut best = distance(&defined);
    // Passes of single toggles, each kept when it helps; a pass of groups
    // only when no toggle helps any more.
    let mut use_groups = false;
    while best > 0 {
        let moves: Vec<Move<'_>> = if use_groups {
            groups
                .iter()
                .flat_map(|g| [Move::Define(g), Move::Undefine(g)])
                .collect()
        } else {
            symbols.iter().map(Move::Toggle).collect()
        };
        let mut improved = false;
        for step in moves {
            let trial = step.apply(&defined);
            let d = distance(&trial);
            if d < best {
                best = d;
                defined = trial;
                improved = true;
            }
        }
        match (improved, use_groups) {
            (true, _) => use_groups = false,
            (false, false) => use_groups = true,
            (false, true) => break,
        }
    }
    let found = generate(&defined);
    let no_effect = symbols
        .iter()
        .filter(|symbol| generate(&Move::Toggle(symbol).apply(&defined)) == found)
        .cloned()
        .collect();
    InferredConditions {
        undefined: symbols.difference(&defined).cloned().collect(),
        remaining: diff(&found, reply),
        exact: found == *reply,
        defined,
        no_effect,
    }
}
