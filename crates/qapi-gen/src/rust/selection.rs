//! Bindings for some QAPI modules only: the commands and events of the
//! chosen modules, and every type they reach; a client that uses the
//! block, machine and migration modules builds that much and no more.

use std::collections::HashSet;

use qapi_schema::{Conditions, DefinitionKind, EntityId, Schema};

/// True when the schema file `module` (`block-core.json`) is one of
/// `wanted` (by stem: `block` takes `block.json`, `block-core.json` and
/// `block-export.json`).
fn chosen(module: &str, wanted: &[String]) -> bool {
    let file = module.rsplit('/').next().unwrap_or(module);
    let stem = file.strip_suffix(".json").unwrap_or(file);
    wanted.iter().any(|w| {
        stem == w
            || stem
                .strip_prefix(w.as_str())
                .is_some_and(|r| r.starts_with('-'))
    })
}

/// The modules' commands and events whose condition holds.
pub(super) fn roots(
    schema: &Schema,
    conditions: &Conditions,
    wanted: &[String],
) -> HashSet<EntityId> {
    schema
        .modules
        .iter()
        .filter(|m| chosen(&m.name, wanted))
        .flat_map(|m| m.entities.iter().copied())
        .filter(|&id| {
            schema.definition(id).is_some_and(|d| {
                conditions.holds(d.ifcond.as_ref())
                    && matches!(
                        d.kind,
                        DefinitionKind::Command(_) | DefinitionKind::Event(_)
                    )
            })
        })
        .collect()
}

/// `roots` and every entity they refer to, through arguments, returns,
/// members, bases, branches and array elements.
pub(super) fn reachable(schema: &Schema, roots: &HashSet<EntityId>) -> HashSet<EntityId> {
    let mut seen: HashSet<EntityId> = HashSet::new();
    let mut todo: Vec<EntityId> = roots.iter().copied().collect();
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Some(def) = schema.definition(id) else {
            continue;
        };
        let mut refer = |id: Option<EntityId>| todo.extend(id);
        match &def.kind {
            DefinitionKind::Command(c) => {
                refer(c.arg_type);
                refer(c.ret_type);
            }
            DefinitionKind::Event(e) => refer(e.arg_type),
            DefinitionKind::Array(a) => refer(Some(a.element)),
            DefinitionKind::Object(o) => {
                refer(o.base);
                for m in &o.members {
                    refer(Some(m.ty));
                }
                if let Some(b) = &o.branches {
                    for v in &b.variants {
                        refer(Some(v.ty));
                    }
                }
            }
            DefinitionKind::Alternate(a) => {
                for v in &a.variants {
                    refer(Some(v.ty));
                }
            }
            _ => {}
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::chosen;

    #[test]
    fn modules_are_chosen_by_stem() {
        let wanted = ["block".to_string(), "machine".to_string()];
        assert!(chosen("block-core.json", &wanted));
        assert!(chosen("qapi/block.json", &wanted));
        assert!(chosen("machine-target.json", &wanted));
        assert!(!chosen("blockjob.json", &wanted));
        assert!(!chosen("migration.json", &wanted));
    }
}
