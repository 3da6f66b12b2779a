//! Module assignment: a module per schema file (named relative to the root
//! schema's folder) and `./builtin`, and each entity put in the module of
//! the file that defines it.

use crate::model::*;
use crate::pathutil;
use crate::source::SourceInfo;

use super::Builder;

impl Builder {
    fn module_name(&self, fname: &str) -> String {
        if fname.starts_with("./") {
            fname.to_string()
        } else {
            pathutil::relpath(fname, &self.schema_dir)
        }
    }

    pub(super) fn make_module(&mut self, fname: &str) -> ModuleId {
        if let Some(&id) = self.path_modules.get(fname) {
            return id;
        }
        let id = self.make_named_module(self.module_name(fname));
        self.path_modules.insert(fname.to_string(), id);
        id
    }

    fn make_named_module(&mut self, name: String) -> ModuleId {
        if let Some(&id) = self.module_index.get(&name) {
            return id;
        }
        let id = ModuleId(self.modules.len());
        self.modules.push(Module {
            name: name.clone(),
            entities: Vec::new(),
        });
        self.module_index.insert(name, id);
        id
    }

    fn module_of_info(&mut self, info: Option<SourceInfo>) -> ModuleId {
        let Some(info) = info else {
            return ModuleId(0);
        };
        if let Some(&id) = self.file_modules.get(&info.file) {
            return id;
        }
        let path = self.sources.path(info.file).to_string();
        let id = self.make_module(&path);
        self.file_modules.insert(info.file, id);
        id
    }

    pub(super) fn assign_modules(&mut self) {
        for idx in 0..self.entities.len() {
            let info = match &self.entities[idx] {
                Entity::Include(i) => Some(i.info),
                Entity::Definition(d) => match &d.kind {
                    DefinitionKind::Array(a) => self.definition(a.element).and_then(|e| e.info),
                    _ => d.info,
                },
            };
            let module = self.module_of_info(info);
            match &mut self.entities[idx] {
                Entity::Include(i) => i.module = module,
                Entity::Definition(d) => d.module = module,
            }
            if let Some(m) = self.modules.get_mut(module.0) {
                m.entities.push(EntityId(idx));
            }
        }
    }
}
