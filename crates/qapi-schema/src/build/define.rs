//! Defining the entities: the built-in and predefined types, then each
//! checked expression with the array and implicit object types it needs,
//! duplicate names rejected; and the registry of feature names.

use crate::error::Error;
use crate::expr::{
    BranchExpr, CheckedExpr, DefExpr, DefKind, FeatureExpr, MemberExpr, Members, TypeRef,
};
use crate::ifcond::IfCond;
use crate::model::*;
use crate::source::SourceInfo;

use super::{Builder, State};

fn feature(f: FeatureExpr, info: SourceInfo) -> Feature {
    Feature {
        name: f.name,
        ifcond: f.ifcond,
        info: Some(info),
    }
}

impl Builder {
    pub(super) fn register_feature(&mut self, name: &str, info: Option<SourceInfo>) {
        if self.feature_set.insert(name.to_string()) {
            self.feature_names.push(name.to_string());
            self.feature_infos.push(info);
        }
    }

    fn make_features(&mut self, features: Vec<FeatureExpr>, info: SourceInfo) -> Vec<Feature> {
        for f in &features {
            self.register_feature(&f.name, Some(info));
        }
        features.into_iter().map(|f| feature(f, info)).collect()
    }

    fn def_entity(&mut self, entity: Entity) -> EntityId {
        self.entities.push(entity);
        self.state.push(State::Unchecked);
        EntityId(self.entities.len() - 1)
    }

    fn def_definition(&mut self, def: Definition) -> Result<EntityId, Error> {
        let name = def.name.clone();
        let info = def.info;
        let id = self.def_entity(Entity::Definition(def));
        if let Some(other) = self.index.get(&name).and_then(|&o| self.definition(o)) {
            let msg = match other.info {
                Some(other_info) => format!(
                    "'{name}' is already defined\n{}",
                    Error::at(&self.sources, other_info, None, "previous definition")
                ),
                None => format!("{} is already defined", other.describe()),
            };
            return Err(self.err(info, msg));
        }
        self.index.insert(name, id);
        Ok(id)
    }

    fn new_definition(
        name: &str,
        info: Option<SourceInfo>,
        doc: Option<usize>,
        ifcond: Option<IfCond>,
        features: Vec<Feature>,
        kind: DefinitionKind,
    ) -> Definition {
        Definition {
            name: name.to_string(),
            info,
            doc,
            ifcond,
            features,
            module: ModuleId(0),
            kind,
        }
    }

    fn is_type_name(&self, name: &str) -> bool {
        self.index
            .get(name)
            .and_then(|&id| self.definition(id))
            .is_some_and(Definition::is_type)
    }

    fn make_array_type(
        &mut self,
        element: &str,
        info: Option<SourceInfo>,
    ) -> Result<String, Error> {
        let name = format!("{element}List");
        if !self.is_type_name(&name) {
            let kind = DefinitionKind::Array(ArrayType {
                element_name: element.to_string(),
                element: EntityId::UNRESOLVED,
            });
            self.def_definition(Self::new_definition(
                &name,
                info,
                None,
                None,
                Vec::new(),
                kind,
            ))?;
        }
        Ok(name)
    }

    fn type_name(&mut self, ty: TypeRef, info: SourceInfo) -> Result<String, Error> {
        match ty {
            TypeRef::Name(n) => Ok(n),
            TypeRef::Array(elem) => self.make_array_type(&elem, Some(info)),
        }
    }

    fn make_members(
        &mut self,
        members: Vec<MemberExpr>,
        owner: &str,
        info: SourceInfo,
    ) -> Result<Vec<Member>, Error> {
        let mut out = Vec::with_capacity(members.len());
        for m in members {
            let type_name = self.type_name(m.ty, info)?;
            let features = self.make_features(m.features, info);
            out.push(Member {
                name: m.name,
                type_name,
                ty: EntityId::UNRESOLVED,
                optional: m.optional,
                ifcond: m.ifcond,
                features,
                defined_in: owner.to_string(),
                info: Some(info),
            });
        }
        Ok(out)
    }

    fn make_variants(
        &mut self,
        branches: Vec<BranchExpr>,
        info: SourceInfo,
    ) -> Result<Vec<Variant>, Error> {
        let mut out = Vec::with_capacity(branches.len());
        for b in branches {
            out.push(Variant {
                name: b.name,
                type_name: self.type_name(b.ty, info)?,
                ty: EntityId::UNRESOLVED,
                ifcond: b.ifcond,
                implicit: false,
            });
        }
        Ok(out)
    }

    /// Defines `q_obj_NAME-ROLE` for inline members; `None` when empty.
    fn make_implicit_object(
        &mut self,
        owner: &str,
        role: &str,
        members: Vec<MemberExpr>,
        info: SourceInfo,
        ifcond: &Option<IfCond>,
    ) -> Result<Option<String>, Error> {
        if members.is_empty() {
            return Ok(None);
        }
        let name = format!("q_obj_{owner}-{role}");
        let local = self.make_members(members, &name, info)?;
        if !self.index.contains_key(&name) {
            let kind = DefinitionKind::Object(ObjectType {
                base_name: None,
                base: None,
                local_members: local,
                members: Vec::new(),
                branches: None,
            });
            self.def_definition(Self::new_definition(
                &name,
                Some(info),
                None,
                ifcond.clone(),
                Vec::new(),
                kind,
            ))?;
        }
        Ok(Some(name))
    }

    fn def_predefineds(&mut self) -> Result<(), Error> {
        for (name, json_type, c_type) in BUILTIN_TYPES {
            let kind = DefinitionKind::Builtin(BuiltinType { json_type, c_type });
            self.def_definition(Self::new_definition(
                name,
                None,
                None,
                None,
                Vec::new(),
                kind,
            ))?;
            self.make_array_type(name, None)?;
        }
        let empty = DefinitionKind::Object(ObjectType {
            base_name: None,
            base: None,
            local_members: Vec::new(),
            members: Vec::new(),
            branches: None,
        });
        self.def_definition(Self::new_definition(
            "q_empty",
            None,
            None,
            None,
            Vec::new(),
            empty,
        ))?;
        let values = QTYPE_VALUES
            .iter()
            .map(|v| EnumValue {
                name: v.to_string(),
                ifcond: None,
                features: Vec::new(),
            })
            .collect();
        let qtype = DefinitionKind::Enum(EnumType {
            values,
            prefix: None,
        });
        self.def_definition(Self::new_definition(
            "QType",
            None,
            None,
            None,
            Vec::new(),
            qtype,
        ))?;
        Ok(())
    }

    fn def_expr(&mut self, def: DefExpr) -> Result<(), Error> {
        let DefExpr {
            name,
            info,
            doc,
            ifcond,
            features,
            flags,
            kind,
        } = def;
        let features = self.make_features(features, info);
        let kind = match kind {
            DefKind::Enum { values, prefix } => {
                let values = values
                    .into_iter()
                    .map(|v| EnumValue {
                        name: v.name,
                        ifcond: v.ifcond,
                        features: self.make_features(v.features, info),
                    })
                    .collect();
                DefinitionKind::Enum(EnumType { values, prefix })
            }
            DefKind::Struct { base, members } => DefinitionKind::Object(ObjectType {
                base_name: base,
                base: None,
                local_members: self.make_members(members, &name, info)?,
                members: Vec::new(),
                branches: None,
            }),
            DefKind::Union {
                base,
                discriminator,
                branches,
            } => {
                let base_name = match base {
                    Members::Named(n) => Some(n),
                    Members::Inline(m) => {
                        self.make_implicit_object(&name, "base", m, info, &ifcond)?
                    }
                };
                let variants = self.make_variants(branches, info)?;
                DefinitionKind::Object(ObjectType {
                    base_name,
                    base: None,
                    local_members: Vec::new(),
                    members: Vec::new(),
                    branches: Some(Branches {
                        tag_name: discriminator,
                        tag_member: None,
                        variants,
                    }),
                })
            }
            DefKind::Alternate { branches } => {
                let variants = self.make_variants(branches, info)?;
                DefinitionKind::Alternate(AlternateType {
                    tag_member: Member {
                        name: "type".to_string(),
                        type_name: "QType".to_string(),
                        ty: EntityId::UNRESOLVED,
                        optional: false,
                        ifcond: None,
                        features: Vec::new(),
                        defined_in: name.clone(),
                        info: Some(info),
                    },
                    variants,
                })
            }
            DefKind::Command { data, returns } => {
                let arg_type_name = self.args_type(data, &name, info, &ifcond)?;
                let ret_type_name = match returns {
                    Some(r) => Some(self.type_name(r, info)?),
                    None => None,
                };
                DefinitionKind::Command(Command {
                    arg_type_name,
                    ret_type_name,
                    ..flags
                })
            }
            DefKind::Event { data } => DefinitionKind::Event(Event {
                arg_type_name: self.args_type(data, &name, info, &ifcond)?,
                arg_type: None,
                boxed: flags.boxed,
            }),
        };
        let definition = Definition {
            name,
            info: Some(info),
            doc,
            ifcond,
            features,
            module: ModuleId(0),
            kind,
        };
        self.def_definition(definition)?;
        Ok(())
    }

    /// The argument type of a command or event `owner`, defining the
    /// implicit `q_obj_OWNER-arg` for inline members.
    fn args_type(
        &mut self,
        data: Option<Members>,
        owner: &str,
        info: SourceInfo,
        ifcond: &Option<IfCond>,
    ) -> Result<Option<String>, Error> {
        match data {
            None => Ok(None),
            Some(Members::Named(n)) => Ok(Some(n)),
            Some(Members::Inline(m)) => self.make_implicit_object(owner, "arg", m, info, ifcond),
        }
    }

    pub(crate) fn define_all(&mut self, exprs: Vec<CheckedExpr>) -> Result<(), Error> {
        self.def_predefineds()?;
        // Definitions and includes, plus about as many array and implicit
        // types.
        let expected = exprs.len() * 2;
        self.entities.reserve(expected);
        self.state.reserve(expected);
        self.index.reserve(expected);
        for expr in exprs {
            match expr {
                CheckedExpr::Include { path, info } => {
                    let target = self.make_module(&path);
                    self.def_entity(Entity::Include(Include {
                        target,
                        info,
                        module: ModuleId(0),
                    }));
                }
                CheckedExpr::Definition(def) => self.def_expr(def)?,
            }
        }
        Ok(())
    }
}
