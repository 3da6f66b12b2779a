//! The checks of a doc block against its definition: which sections the
//! definition's kind allows, and that every description names a member or
//! feature (connected while the definition is built).

use crate::error::Error;
use crate::source::Sources;

use super::model::{Doc, Section, SectionKind};

impl Doc {
    /// Connects a member, value or branch to its description; `excepted`
    /// says whether the definition is in `documentation-exceptions`. Returns
    /// false when the member is undocumented and not excepted.
    pub(crate) fn connect_member(&mut self, name: &str, excepted: bool) -> bool {
        let idx = match self.find(&self.args, name) {
            Some(idx) => idx,
            None => {
                if !excepted {
                    return false;
                }
                // Stub description, placed after the leading member sections.
                self.store.push(Section::new(
                    self.info,
                    SectionKind::Member,
                    Some(name.to_string()),
                ));
                let idx = self.store.len() - 1;
                self.args.push(idx);
                let mut at = 1;
                if self.order.len() > 1 {
                    while at < self.order.len()
                        && self.store.get(self.order[at]).map(|s| s.kind)
                            == Some(SectionKind::Member)
                    {
                        at += 1;
                    }
                }
                let at = at.min(self.order.len());
                self.order.insert(at, idx);
                idx
            }
        };
        if let Some(s) = self.store.get_mut(idx) {
            s.connected = true;
        }
        true
    }

    /// Connects a feature to its description; false when undocumented.
    pub(crate) fn connect_feature(&mut self, name: &str) -> bool {
        match self.find(&self.features, name) {
            Some(idx) => {
                if let Some(s) = self.store.get_mut(idx) {
                    s.connected = true;
                }
                true
            }
            None => false,
        }
    }

    /// Pass-2 checks of the sections against the definition kind.
    pub(crate) fn check_expr(
        &self,
        sources: &Sources,
        is_command: bool,
        has_returns: bool,
    ) -> Result<(), Error> {
        if is_command {
            if let Some(ret) = self.returns() {
                if !has_returns && self.dialect().returns_needs_return_type() {
                    return Err(Error::at(
                        sources,
                        ret.info,
                        None,
                        "'Returns' section, but command doesn't return anything",
                    ));
                }
            }
        } else if let Some(section) = self.returns().or_else(|| self.errors()) {
            return Err(Error::at(
                sources,
                section.info,
                None,
                format!(
                    "'{}' section is only valid for commands",
                    section.kind.title()
                ),
            ));
        }
        Ok(())
    }

    /// Final check: every description must have matched something.
    pub(crate) fn check(&self, sources: &Sources) -> Result<(), Error> {
        for (list, what) in [(&self.args, "member"), (&self.features, "feature")] {
            let bogus: Vec<&Section> = list
                .iter()
                .filter_map(|&i| self.store.get(i))
                .filter(|s| !s.connected)
                .collect();
            let Some(first) = bogus.first() else {
                continue;
            };
            let names: Vec<&str> = bogus.iter().filter_map(|s| s.name.as_deref()).collect();
            let plural = bogus.len() > 1;
            return Err(Error::at(
                sources,
                first.info,
                None,
                format!(
                    "documented {what}{} '{}' {} not exist",
                    if plural { "s" } else { "" },
                    names.join("', '"),
                    if plural { "do" } else { "does" }
                ),
            ));
        }
        Ok(())
    }
}
