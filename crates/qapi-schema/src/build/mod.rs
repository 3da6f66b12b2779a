//! Pass 3: builds the semantic model from the checked expressions, as
//! QEMU does: defines every entity first (`define`), then, in entity order,
//! checks each one (`check`, with the name clash checks in `clash`) and
//! connects its documentation (`doclink`); last, it assigns the entities to
//! their modules (`modules`) and checks the doc blocks and the feature
//! count.

mod check;
mod clash;
mod define;
mod doclink;
mod modules;

use std::collections::{HashMap, HashSet};

use crate::doc::Doc;
use crate::error::Error;
use crate::hash::NameMap;
use crate::model::*;
use crate::parser::Pragma;
use crate::pathutil;
use crate::source::{FileId, SourceInfo, Sources};

/// How far an entity's checks have got (objects are checked on first use,
/// which finds types that contain themselves).
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Unchecked,
    InProgress,
    Complete,
}

/// The schema being built: its entities, modules and features so far.
pub(crate) struct Builder {
    sources: Sources,
    pragma: Pragma,
    docs: Vec<Doc>,
    root: String,
    schema_dir: String,
    entities: Vec<Entity>,
    index: NameMap<EntityId>,
    state: Vec<State>,
    modules: Vec<Module>,
    module_index: HashMap<String, ModuleId>,
    /// Modules by the file path they were made from.
    path_modules: HashMap<String, ModuleId>,
    file_modules: HashMap<FileId, ModuleId>,
    feature_names: Vec<String>,
    feature_infos: Vec<Option<SourceInfo>>,
    feature_set: HashSet<String>,
}

impl Builder {
    pub(crate) fn new(root: &str, sources: Sources, pragma: Pragma, docs: Vec<Doc>) -> Self {
        let mut b = Builder {
            sources,
            pragma,
            docs,
            root: root.to_string(),
            schema_dir: pathutil::dirname(root).to_string(),
            entities: Vec::new(),
            index: NameMap::default(),
            state: Vec::new(),
            modules: Vec::new(),
            module_index: HashMap::new(),
            path_modules: HashMap::new(),
            file_modules: HashMap::new(),
            feature_names: Vec::new(),
            feature_infos: Vec::new(),
            feature_set: HashSet::new(),
        };
        for name in SPECIAL_FEATURES {
            b.register_feature(name, None);
        }
        b.make_module(BUILTIN_MODULE);
        b.make_module(root);
        b
    }

    /// An error at `info`, if there is one.
    fn err(&self, info: Option<SourceInfo>, msg: impl Into<String>) -> Error {
        Error::at_opt(&self.sources, info, msg)
    }

    fn definition(&self, id: EntityId) -> Option<&Definition> {
        self.entities.get(id.0).and_then(Entity::as_definition)
    }

    fn definition_mut(&mut self, id: EntityId) -> Option<&mut Definition> {
        match self.entities.get_mut(id.0) {
            Some(Entity::Definition(d)) => Some(d),
            _ => None,
        }
    }

    /// How QEMU names a member, branch, value or feature in messages: with
    /// its owner unless the error is reported inside that owner.
    pub(super) fn describe_member(
        &self,
        role: &str,
        name: &str,
        defined_in: &str,
        info: Option<SourceInfo>,
    ) -> String {
        let mut role = role.to_string();
        let mut meta = "type";
        let mut owner = defined_in;
        if let Some(rest) = owner.strip_prefix("q_obj_") {
            if let Some(cmd) = rest.strip_suffix("-arg") {
                role = "parameter".to_string();
                meta = "command";
                owner = cmd;
            } else if let Some(base) = rest.strip_suffix("-base") {
                role = format!("base {role}");
                owner = base;
            }
        }
        let context = info.and_then(|i| self.sources.defn(i)).map(|(_, n)| n);
        if context != Some(owner) {
            format!("{role} '{name}' of {meta} '{owner}'")
        } else {
            format!("{role} '{name}'")
        }
    }

    /// Checks everything and returns the finished schema.
    pub(crate) fn check_all(mut self) -> Result<Schema, Error> {
        for idx in 0..self.entities.len() {
            self.check_entity(EntityId(idx))?;
            self.connect_doc(EntityId(idx))?;
        }
        self.assign_modules();
        for doc in &self.docs {
            doc.check(&self.sources)?;
        }
        if self.feature_names.len() > MAX_FEATURES {
            let info = self.feature_infos.get(MAX_FEATURES).copied().flatten();
            return Err(self.err(
                info,
                format!("Maximum of {MAX_FEATURES} schema features is permitted"),
            ));
        }
        Ok(Schema {
            path: self.root,
            sources: self.sources,
            pragma: self.pragma,
            modules: self.modules,
            entities: self.entities,
            docs: self.docs,
            feature_names: self.feature_names,
            index: self.index,
        })
    }
}
