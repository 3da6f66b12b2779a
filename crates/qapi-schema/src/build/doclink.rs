//! Doc linking: connects each definition's members, values, branches and
//! features to the descriptions of its doc block, reporting the
//! undocumented ones.

use crate::doc::Doc;
use crate::error::Error;
use crate::model::*;
use crate::source::{SourceInfo, Sources};

use super::Builder;

impl Builder {
    /// Connects the definition `id` to its doc block, if it has one.
    pub(super) fn connect_doc(&mut self, id: EntityId) -> Result<(), Error> {
        let Some(def) = self.entities.get(id.0).and_then(Entity::as_definition) else {
            return Ok(());
        };
        let Some(doc) = def.doc.and_then(|d| self.docs.get_mut(d)) else {
            return Ok(());
        };
        let excepted = doc.dialect().excuses_undocumented_members()
            || doc
                .symbol
                .as_deref()
                .is_some_and(|s| self.pragma.documentation_exceptions.iter().any(|e| e == s));
        DocLinker {
            doc,
            entities: &self.entities,
            sources: &self.sources,
            excepted,
        }
        .connect(def)
    }
}

/// Connects a definition's members and features to its doc block.
struct DocLinker<'b> {
    doc: &'b mut Doc,
    entities: &'b [Entity],
    sources: &'b Sources,
    /// Whether undocumented members are accepted: the definition is in
    /// `documentation-exceptions`, or its dialect excuses them.
    excepted: bool,
}

impl DocLinker<'_> {
    fn err(&self, info: Option<SourceInfo>, msg: String) -> Error {
        Error::at_opt(self.sources, info, msg)
    }

    fn features(&mut self, features: &[Feature]) -> Result<(), Error> {
        for f in features {
            if !self.doc.connect_feature(&f.name) {
                return Err(self.err(f.info, format!("feature '{}' lacks documentation", f.name)));
            }
        }
        Ok(())
    }

    fn member(&mut self, role: &str, name: &str, info: Option<SourceInfo>) -> Result<(), Error> {
        if !self.doc.connect_member(name, self.excepted) {
            return Err(self.err(info, format!("{role} '{name}' lacks documentation")));
        }
        Ok(())
    }

    fn members(&mut self, members: &[Member]) -> Result<(), Error> {
        for m in members {
            self.member("member", &m.name, m.info)?;
            self.features(&m.features)?;
        }
        Ok(())
    }

    /// The members of an implicit argument or base type belong to the doc
    /// of the definition that made it.
    fn implicit(&mut self, id: Option<EntityId>) -> Result<(), Error> {
        let Some(def) = id
            .and_then(|i| self.entities.get(i.0))
            .and_then(Entity::as_definition)
            .filter(|d| d.is_implicit())
        else {
            return Ok(());
        };
        self.features(&def.features)?;
        if let Some(obj) = def.as_object() {
            self.members(&obj.local_members)?;
        }
        Ok(())
    }

    fn connect(mut self, def: &Definition) -> Result<(), Error> {
        self.features(&def.features)?;
        match &def.kind {
            DefinitionKind::Enum(e) => {
                for v in &e.values {
                    self.member("value", &v.name, def.info)?;
                    self.features(&v.features)?;
                }
            }
            DefinitionKind::Object(o) => {
                self.implicit(o.base)?;
                self.members(&o.local_members)?;
            }
            DefinitionKind::Alternate(a) => {
                for v in &a.variants {
                    self.member("branch", &v.name, def.info)?;
                }
            }
            DefinitionKind::Command(c) => self.implicit(c.arg_type)?,
            DefinitionKind::Event(e) => self.implicit(e.arg_type)?,
            DefinitionKind::Builtin(_) | DefinitionKind::Array(_) => {}
        }
        Ok(())
    }
}
