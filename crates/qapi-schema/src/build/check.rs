//! The checks of each kind of entity, in entity order: type references
//! resolved, bases and branches of unions, alternates' branch types,
//! command and event arguments and returns, special features on types.

use crate::error::Error;
use crate::model::*;
use crate::source::SourceInfo;

use super::clash::{Seen, Taken};
use super::{Builder, State};

impl Builder {
    /// The checks every definition gets; types also reject special features.
    fn check_definition_base(&self, def: &Definition) -> Result<(), Error> {
        self.check_feature_clash(&def.features, &def.name, def.info)?;
        if def.is_type() {
            if let Some(f) = def.features.iter().find(|f| f.is_special()) {
                return Err(self.err(
                    def.info,
                    format!("feature '{}' is not supported for types", f.name),
                ));
            }
        }
        Ok(())
    }

    fn resolve_type(
        &self,
        name: &str,
        info: Option<SourceInfo>,
        what: &str,
    ) -> Result<EntityId, Error> {
        self.resolve_type_with(name, info, || what.to_string())
    }

    /// Resolves a type name; `what` (the user of the name) is only
    /// formatted for the error.
    fn resolve_type_with(
        &self,
        name: &str,
        info: Option<SourceInfo>,
        what: impl FnOnce() -> String,
    ) -> Result<EntityId, Error> {
        match self.index.get(name) {
            Some(&id) if self.definition(id).is_some_and(Definition::is_type) => Ok(id),
            _ => Err(self.err(info, format!("{} uses unknown type '{name}'", what()))),
        }
    }

    fn resolve_member(
        &self,
        m: &mut Member,
        role: &'static str,
        info: Option<SourceInfo>,
    ) -> Result<(), Error> {
        m.ty = self.resolve_type_with(&m.type_name, info, || {
            self.describe_member(role, &m.name, &m.defined_in, info)
        })?;
        self.check_feature_clash(&m.features, &m.name, info)
    }

    pub(super) fn check_entity(&mut self, id: EntityId) -> Result<(), Error> {
        let Some(def) = self.definition(id) else {
            return Ok(());
        };
        match &def.kind {
            DefinitionKind::Object(_) => self.check_object(id),
            DefinitionKind::Builtin(_) => self.check_definition_base(def),
            DefinitionKind::Enum(e) => {
                self.check_definition_base(def)?;
                let mut seen = Seen::default();
                for v in &e.values {
                    self.check_clash(
                        &mut seen,
                        &[],
                        def.info,
                        Taken::other("value", &v.name, &def.name),
                    )?;
                }
                Ok(())
            }
            DefinitionKind::Array(a) => {
                self.check_definition_base(def)?;
                let what = def
                    .info
                    .and_then(|i| self.sources.defn(i))
                    .map_or("", |(meta, _)| meta.as_str());
                let element = self.resolve_type(&a.element_name, def.info, what)?;
                let ifcond = self.definition(element).and_then(|e| e.ifcond.clone());
                if let Some(Definition {
                    kind: DefinitionKind::Array(a),
                    ifcond: cond,
                    ..
                }) = self.definition_mut(id)
                {
                    a.element = element;
                    *cond = ifcond;
                }
                Ok(())
            }
            DefinitionKind::Alternate(_) => self.check_alternate(id),
            DefinitionKind::Command(_) | DefinitionKind::Event(_) => {
                self.check_command_or_event(id)
            }
        }
    }

    fn check_object(&mut self, id: EntityId) -> Result<(), Error> {
        let Some(def) = self.definition(id).filter(|d| d.as_object().is_some()) else {
            return Ok(());
        };
        match self.state.get(id.0) {
            Some(State::Complete) => return Ok(()),
            Some(State::InProgress) => {
                return Err(self.err(def.info, format!("object {} contains itself", def.name)));
            }
            _ => {}
        }
        self.check_definition_base(def)?;
        let info = def.info;
        let name = def.name.clone();
        if let Some(s) = self.state.get_mut(id.0) {
            *s = State::InProgress;
        }
        let mut obj = self.take_object(id);
        let mut seen = Seen::default();
        let mut members: Vec<Member> = Vec::new();
        if let Some(base_name) = &obj.base_name {
            let base = self.resolve_type(base_name, info, "'base'")?;
            let base_def = self.definition(base);
            let is_struct = base_def
                .and_then(Definition::as_object)
                .is_some_and(|o| !o.is_union());
            if !is_struct {
                let descr = base_def.map(Definition::describe).unwrap_or_default();
                return Err(self.err(
                    info,
                    format!("'base' requires a struct type, {descr} isn't"),
                ));
            }
            self.check_object(base)?;
            self.add_base_members(base, info, &mut seen, &mut members)?;
            obj.base = Some(base);
        }
        members.reserve_exact(obj.local_members.len());
        for m in obj.local_members.iter_mut() {
            self.resolve_member(m, "member", info)?;
            self.add_member(&mut seen, &mut members, m.clone(), info)?;
        }
        if let Some(branches) = obj.branches.as_mut() {
            let tag = seen
                .member(&branches.tag_name, &members)
                .filter(|m| m.name == branches.tag_name)
                .cloned();
            self.check_branches(branches, &name, info, tag)?;
            for v in &branches.variants {
                self.clash_branch(v.ty, info, &mut seen, &members)?;
            }
        }
        obj.members = members;
        if let Some(d) = self.definition_mut(id) {
            d.kind = DefinitionKind::Object(obj);
        }
        if let Some(s) = self.state.get_mut(id.0) {
            *s = State::Complete;
        }
        Ok(())
    }

    /// Moves an object type out of its entity for checking, leaving a
    /// stand-in that still tells a union from a struct (error messages on
    /// recursive definitions read it).
    fn take_object(&mut self, id: EntityId) -> ObjectType {
        let empty = |union: bool| ObjectType {
            base_name: None,
            base: None,
            local_members: Vec::new(),
            members: Vec::new(),
            branches: union.then(|| Branches {
                tag_name: String::new(),
                tag_member: None,
                variants: Vec::new(),
            }),
        };
        match self.definition_mut(id) {
            Some(Definition {
                kind: DefinitionKind::Object(obj),
                ..
            }) => {
                let stand_in = empty(obj.is_union());
                std::mem::replace(obj, stand_in)
            }
            _ => empty(false),
        }
    }
    fn check_branches(
        &mut self,
        branches: &mut Branches,
        union: &str,
        info: Option<SourceInfo>,
        tag: Option<Member>,
    ) -> Result<(), Error> {
        let tag_name = branches.tag_name.clone();
        let Some(tag) = tag else {
            return Err(self.err(
                info,
                format!("discriminator '{tag_name}' is not a member of 'base'"),
            ));
        };
        let base_is_implicit = tag.defined_in.starts_with("q_");
        let base = if base_is_implicit {
            "'base'".to_string()
        } else {
            format!("base type '{}'", tag.defined_in)
        };
        let Some(tag_def) = self.definition(tag.ty).filter(|d| d.as_enum().is_some()) else {
            return Err(self.err(
                info,
                format!("discriminator member '{tag_name}' of {base} must be of enum type"),
            ));
        };
        if tag.optional {
            return Err(self.err(
                info,
                format!("discriminator member '{tag_name}' of {base} must not be optional"),
            ));
        }
        if tag.ifcond.is_some() {
            return Err(self.err(
                info,
                format!("discriminator member '{tag_name}' of {base} must not be conditional"),
            ));
        }
        let enum_values: &[EnumValue] = tag_def.as_enum().map_or(&[], |e| &e.values);
        let explicit = branches.variants.len();
        for value in enum_values {
            let named = branches
                .variants
                .get(..explicit)
                .is_some_and(|vs| vs.iter().any(|v| v.name == value.name));
            if !named {
                branches.variants.push(Variant {
                    name: value.name.clone(),
                    type_name: "q_empty".to_string(),
                    ty: EntityId::UNRESOLVED,
                    ifcond: value.ifcond.clone(),
                    implicit: true,
                });
            }
        }
        // Whether each branch names a value, worked out before the loop
        // below needs `self` mutably.
        let is_value: Vec<bool> = branches
            .variants
            .iter()
            .map(|v| enum_values.iter().any(|e| e.name == v.name))
            .collect();
        let enum_descr = tag_def.describe();
        if branches.variants.is_empty() {
            return Err(self.err(info, "union has no branches"));
        }
        for (v, is_value) in branches.variants.iter_mut().zip(is_value) {
            let owner = if v.implicit {
                tag.defined_in.as_str()
            } else {
                union
            };
            let what = || self.describe_member("branch", &v.name, owner, info);
            v.ty = self.resolve_type_with(&v.type_name, info, what)?;
            if !is_value {
                return Err(self.err(
                    info,
                    format!("branch '{}' is not a value of {enum_descr}", v.name),
                ));
            }
            let vdef = self.definition(v.ty);
            if vdef.and_then(Definition::as_object).is_none() {
                let descr = vdef.map(Definition::describe).unwrap_or_default();
                return Err(self.err(info, format!("{} cannot use {descr}", what())));
            }
            self.check_object(v.ty)?;
        }
        branches.tag_member = Some(tag);
        Ok(())
    }

    fn check_alternate(&mut self, id: EntityId) -> Result<(), Error> {
        let Some(def) = self.definition(id).cloned() else {
            return Ok(());
        };
        let DefinitionKind::Alternate(mut alt) = def.kind.clone() else {
            return Ok(());
        };
        let info = def.info;
        self.check_definition_base(&def)?;
        self.resolve_member(&mut alt.tag_member, "member", info)?;
        for v in alt.variants.iter_mut() {
            let what = || self.describe_member("branch", &v.name, &def.name, info);
            v.ty = self.resolve_type_with(&v.type_name, info, what)?;
        }
        let mut seen = Seen::default();
        let mut types_seen: Vec<(&'static str, String)> = Vec::new();
        for v in &alt.variants {
            self.check_clash(
                &mut seen,
                &[],
                info,
                Taken::other("branch", &v.name, &def.name),
            )?;
            let vdef = self.definition(v.ty);
            let what = || self.describe_member("branch", &v.name, &def.name, info);
            let qtype = match vdef.and_then(Definition::json_type) {
                Some(JsonType::Null) => "QTYPE_QNULL",
                Some(JsonType::String) => "QTYPE_QSTRING",
                Some(JsonType::Number | JsonType::Int) => "QTYPE_QNUM",
                Some(JsonType::Boolean) => "QTYPE_QBOOL",
                Some(JsonType::Array) => "QTYPE_QLIST",
                Some(JsonType::Object) => "QTYPE_QDICT",
                Some(JsonType::Value) | None => {
                    let descr = vdef.map(Definition::describe).unwrap_or_default();
                    return Err(self.err(info, format!("{} cannot use {descr}", what())));
                }
            };
            let mut conflicting = vec![qtype];
            if qtype == "QTYPE_QSTRING" {
                match vdef.and_then(Definition::as_enum) {
                    Some(e) => {
                        if e.values.iter().any(|m| m.name == "on" || m.name == "off") {
                            conflicting.push("QTYPE_QBOOL");
                        }
                        if e.values.iter().any(|m| {
                            m.name
                                .starts_with(|c: char| matches!(c, '-' | '+' | '.' | '0'..='9'))
                        }) {
                            conflicting.push("QTYPE_QNUM");
                        }
                    }
                    None => {
                        conflicting.push("QTYPE_QNUM");
                        conflicting.push("QTYPE_QBOOL");
                    }
                }
            }
            for qt in conflicting {
                if let Some((_, other)) = types_seen.iter().find(|(t, _)| *t == qt) {
                    return Err(self.err(
                        info,
                        format!("{} can't be distinguished from '{other}'", what()),
                    ));
                }
                types_seen.push((qt, v.name.clone()));
            }
        }
        if let Some(d) = self.definition_mut(id) {
            d.kind = DefinitionKind::Alternate(alt);
        }
        Ok(())
    }

    fn check_command_or_event(&mut self, id: EntityId) -> Result<(), Error> {
        let Some(def) = self.definition(id).cloned() else {
            return Ok(());
        };
        self.check_definition_base(&def)?;
        let info = def.info;
        let (what, arg_name, boxed) = match &def.kind {
            DefinitionKind::Command(c) => ("command", c.arg_type_name.clone(), c.boxed),
            DefinitionKind::Event(e) => ("event", e.arg_type_name.clone(), e.boxed),
            _ => return Ok(()),
        };
        let mut arg_type = None;
        if let Some(arg_name) = &arg_name {
            let arg = self.resolve_type(arg_name, info, &format!("{what}'s 'data'"))?;
            let arg_def = self.definition(arg);
            let Some(obj) = arg_def.and_then(Definition::as_object) else {
                let descr = arg_def.map(Definition::describe).unwrap_or_default();
                return Err(self.err(info, format!("{what}'s 'data' cannot take {descr}")));
            };
            if obj.is_union() && !boxed {
                let descr = arg_def.map(Definition::describe).unwrap_or_default();
                return Err(self.err(
                    info,
                    format!("{what}'s 'data' can take {descr} only with 'boxed': true"),
                ));
            }
            self.check_object(arg)?;
            let conditional = self
                .definition(arg)
                .and_then(Definition::as_object)
                .is_some_and(|o| o.members.iter().any(|m| m.ifcond.is_some()));
            if conditional && !boxed {
                return Err(self.err(
                    info,
                    format!("conditional {what} arguments require 'boxed': true"),
                ));
            }
            arg_type = Some(arg);
        }
        let mut ret_type = None;
        if let DefinitionKind::Command(c) = &def.kind {
            if let Some(ret_name) = &c.ret_type_name {
                let ret = self.resolve_type(ret_name, info, "command's 'returns'")?;
                if !self.pragma.command_returns_exceptions.contains(&def.name) {
                    let ret_def = self.definition(ret);
                    let elem = match ret_def.map(|d| &d.kind) {
                        Some(DefinitionKind::Array(a)) => self.definition(a.element),
                        _ => ret_def,
                    };
                    if elem.and_then(Definition::as_object).is_none() {
                        let descr = ret_def.map(Definition::describe).unwrap_or_default();
                        return Err(
                            self.err(info, format!("command's 'returns' cannot take {descr}"))
                        );
                    }
                }
                ret_type = Some(ret);
            }
        }
        match self.definition_mut(id).map(|d| &mut d.kind) {
            Some(DefinitionKind::Command(c)) => {
                c.arg_type = arg_type;
                c.ret_type = ret_type;
            }
            Some(DefinitionKind::Event(e)) => e.arg_type = arg_type,
            _ => {}
        }
        Ok(())
    }
}
