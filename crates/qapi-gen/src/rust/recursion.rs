//! Recursive types: which by-value references close a cycle and must be
//! boxed. Arrays are already indirect, so only direct members, union
//! branches and alternate branches count (strongly connected components,
//! Tarjan's algorithm).

use std::collections::HashMap;

use qapi_schema::{DefinitionKind, EntityId, Schema};

/// The strongly connected components of the by-value reference graph.
#[derive(Debug, Default)]
pub struct Cycles {
    component: HashMap<EntityId, usize>,
    self_loops: std::collections::HashSet<EntityId>,
}

impl Cycles {
    /// Computes the components among the generated types.
    pub fn new(schema: &Schema, generated: &HashMap<EntityId, String>) -> Cycles {
        let mut ids: Vec<EntityId> = generated.keys().copied().collect();
        ids.sort();
        let edges: HashMap<EntityId, Vec<EntityId>> = ids
            .iter()
            .map(|&id| {
                let targets = direct_refs(schema, id)
                    .into_iter()
                    .filter(|t| generated.contains_key(t))
                    .collect();
                (id, targets)
            })
            .collect();
        let mut tarjan = Tarjan {
            edges: &edges,
            index: HashMap::new(),
            low: HashMap::new(),
            stack: Vec::new(),
            on_stack: std::collections::HashSet::new(),
            next: 0,
            component: HashMap::new(),
            components: 0,
        };
        for &id in &ids {
            if !tarjan.index.contains_key(&id) {
                tarjan.visit(id);
            }
        }
        let self_loops = edges
            .iter()
            .filter(|(id, targets)| targets.contains(id))
            .map(|(id, _)| *id)
            .collect();
        Cycles {
            component: tarjan.component,
            self_loops,
        }
    }

    /// True when a by-value reference from `from` to `to` closes a cycle.
    pub fn needs_box(&self, from: EntityId, to: EntityId) -> bool {
        if from == to {
            return self.self_loops.contains(&from);
        }
        match (self.component.get(&from), self.component.get(&to)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }
}

/// Types a value of `id` contains by value.
fn direct_refs(schema: &Schema, id: EntityId) -> Vec<EntityId> {
    match schema.definition(id).map(|d| &d.kind) {
        Some(DefinitionKind::Object(o)) => o
            .members
            .iter()
            .map(|m| m.ty)
            .chain(
                o.branches
                    .iter()
                    .flat_map(|b| b.variants.iter().map(|v| v.ty)),
            )
            .collect(),
        Some(DefinitionKind::Alternate(a)) => a.variants.iter().map(|v| v.ty).collect(),
        _ => Vec::new(),
    }
}

/// Tarjan's strongly connected components, recursive (schemas have at
/// most a few thousand types).
struct Tarjan<'e> {
    edges: &'e HashMap<EntityId, Vec<EntityId>>,
    index: HashMap<EntityId, usize>,
    low: HashMap<EntityId, usize>,
    stack: Vec<EntityId>,
    on_stack: std::collections::HashSet<EntityId>,
    next: usize,
    component: HashMap<EntityId, usize>,
    components: usize,
}

impl Tarjan<'_> {
    fn visit(&mut self, v: EntityId) {
        self.index.insert(v, self.next);
        self.low.insert(v, self.next);
        self.next += 1;
        self.stack.push(v);
        self.on_stack.insert(v);
        let targets = self.edges.get(&v).cloned().unwrap_or_default();
        for w in targets {
            if !self.index.contains_key(&w) {
                self.visit(w);
                let lw = self.low.get(&w).copied().unwrap_or(usize::MAX);
                self.lower(v, lw);
            } else if self.on_stack.contains(&w) {
                let iw = self.index.get(&w).copied().unwrap_or(usize::MAX);
                self.lower(v, iw);
            }
        }
        if self.low.get(&v) == self.index.get(&v) {
            while let Some(w) = self.stack.pop() {
                self.on_stack.remove(&w);
                self.component.insert(w, self.components);
                if w == v {
                    break;
                }
            }
            self.components += 1;
        }
    }

    fn lower(&mut self, v: EntityId, to: usize) {
        if let Some(l) = self.low.get_mut(&v) {
            *l = (*l).min(to);
        }
    }
}
