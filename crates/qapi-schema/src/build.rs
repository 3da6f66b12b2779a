//! Pass 3: defines the entities (built-ins first, then each expression with
//! the arrays and implicit types it needs), reports duplicates, then checks
//! each entity (type resolution, clashes, union and alternate rules) and
//! connects its documentation, in entity order, as QEMU does.

use std::collections::{HashMap, HashSet};

use crate::doc::Doc;
use crate::error::Error;
use crate::expr::{
    BranchExpr, CheckedExpr, DefExpr, DefKind, FeatureExpr, MemberExpr, Members, TypeRef,
};
use crate::hash::NameMap;
use crate::ifcond::IfCond;
use crate::model::*;
use crate::names;
use crate::parser::Pragma;
use crate::pathutil;
use crate::source::{FileId, SourceInfo, Sources};

/// The name and declaring definition of a name taken in a clash check.
#[derive(Clone, Copy, Debug)]
enum TakenName<'n> {
    /// A member of the object being checked: index into its member list.
    Member(usize),
    /// Anything else.
    Other { name: &'n str, defined_in: &'n str },
}

/// A name already taken in a clash check, with what is needed to describe
/// it.
#[derive(Clone, Copy, Debug)]
struct Taken<'n> {
    role: &'static str,
    name: TakenName<'n>,
}

impl<'n> Taken<'n> {
    fn other(role: &'static str, name: &'n str, defined_in: &'n str) -> Self {
        Taken {
            role,
            name: TakenName::Other { name, defined_in },
        }
    }

    /// The name and declaring definition, with member indices looked up in
    /// `members`.
    fn names<'m>(&self, members: &'m [Member]) -> (&'m str, &'m str)
    where
        'n: 'm,
    {
        match self.name {
            TakenName::Member(i) => members
                .get(i)
                .map_or(("", ""), |m| (m.name.as_str(), m.defined_in.as_str())),
            TakenName::Other { name, defined_in } => (name, defined_in),
        }
    }
}

/// The names taken so far in one clash check, compared by C name. A list
/// with a hash of each C name: objects are small, and a branch's names are
/// dropped again by truncating.
#[derive(Default)]
struct Seen<'n> {
    entries: Vec<(u64, Taken<'n>)>,
}

impl<'n> Seen<'n> {
    /// The entry whose C name equals that of `name`.
    fn find(&self, hash: u64, name: &str, members: &[Member]) -> Option<&Taken<'n>> {
        self.entries
            .iter()
            .filter(|(h, _)| *h == hash)
            .map(|(_, t)| t)
            .find(|t| names::c_name_eq(t.names(members).0, name))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Unchecked,
    InProgress,
    Complete,
}

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

fn feature(f: FeatureExpr, info: SourceInfo) -> Feature {
    Feature {
        name: f.name,
        ifcond: f.ifcond,
        info: Some(info),
    }
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

    fn err(&self, info: Option<SourceInfo>, msg: impl Into<String>) -> Error {
        match info {
            Some(info) => Error::at(&self.sources, info, None, msg),
            None => Error::bare(msg),
        }
    }

    fn module_name(&self, fname: &str) -> String {
        if fname.starts_with("./") {
            fname.to_string()
        } else {
            pathutil::relpath(fname, &self.schema_dir)
        }
    }

    fn make_module(&mut self, fname: &str) -> ModuleId {
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

    fn register_feature(&mut self, name: &str, info: Option<SourceInfo>) {
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

    // ----- definition -----

    fn def_entity(&mut self, entity: Entity) -> EntityId {
        self.entities.push(entity);
        self.state.push(State::Unchecked);
        EntityId(self.entities.len() - 1)
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

    // ----- checking -----

    fn describe_member(
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

    fn describe_taken(&self, t: &Taken, members: &[Member], info: Option<SourceInfo>) -> String {
        let (name, defined_in) = t.names(members);
        self.describe_member(t.role, name, defined_in, info)
    }

    /// Adds `taken` to `seen`, or reports the name it collides with;
    /// `members` is the member list of the object being checked.
    fn check_clash<'n>(
        &self,
        seen: &mut Seen<'n>,
        members: &[Member],
        info: Option<SourceInfo>,
        taken: Taken<'n>,
    ) -> Result<(), Error> {
        let name = taken.names(members).0;
        let hash = names::c_name_hash(name);
        if let Some(other) = seen.find(hash, name, members) {
            return Err(self.err(
                info,
                format!(
                    "{} collides with {}",
                    self.describe_taken(&taken, members, info),
                    self.describe_taken(other, members, info)
                ),
            ));
        }
        seen.entries.push((hash, taken));
        Ok(())
    }

    fn check_feature_clash(
        &self,
        features: &[Feature],
        defined_in: &str,
        info: Option<SourceInfo>,
    ) -> Result<(), Error> {
        let mut seen = Seen::default();
        for f in features {
            self.check_clash(
                &mut seen,
                &[],
                info,
                Taken::other("feature", &f.name, defined_in),
            )?;
        }
        Ok(())
    }

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

    fn check_entity(&mut self, id: EntityId) -> Result<(), Error> {
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
                .find(
                    names::c_name_hash(&branches.tag_name),
                    &branches.tag_name,
                    &members,
                )
                .and_then(|t| match t.name {
                    TakenName::Member(i) => members.get(i),
                    TakenName::Other { .. } => None,
                })
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

    /// Appends `m` to the members of the object being checked, after
    /// checking its name against `seen`.
    fn add_member(
        &self,
        seen: &mut Seen,
        members: &mut Vec<Member>,
        m: Member,
        info: Option<SourceInfo>,
    ) -> Result<(), Error> {
        members.push(m);
        let idx = members.len() - 1;
        let taken = Taken {
            role: "member",
            name: TakenName::Member(idx),
        };
        let clash = self.check_clash(seen, members, info, taken);
        if clash.is_err() {
            members.truncate(idx);
        }
        clash
    }

    /// Adds the members of a checked struct type (a base, so without
    /// branches) to the members of the object being checked.
    fn add_base_members(
        &self,
        base: EntityId,
        info: Option<SourceInfo>,
        seen: &mut Seen,
        members: &mut Vec<Member>,
    ) -> Result<(), Error> {
        let Some(obj) = self.definition(base).and_then(Definition::as_object) else {
            return Ok(());
        };
        members.reserve_exact(obj.members.len());
        for m in &obj.members {
            self.add_member(seen, members, m.clone(), info)?;
        }
        Ok(())
    }

    /// Checks the members of a checked object type used as a branch (and,
    /// per branch of it, its branch members) against `seen`, reporting
    /// clashes at `info`. `seen` is left as it was.
    fn clash_branch<'s>(
        &'s self,
        id: EntityId,
        info: Option<SourceInfo>,
        seen: &mut Seen<'s>,
        members: &[Member],
    ) -> Result<(), Error> {
        let Some(obj) = self.definition(id).and_then(Definition::as_object) else {
            return Ok(());
        };
        let mark = seen.entries.len();
        let mut result = Ok(());
        for m in &obj.members {
            result = self.check_clash(
                seen,
                members,
                info,
                Taken::other("member", &m.name, &m.defined_in),
            );
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            if let Some(branches) = &obj.branches {
                for v in &branches.variants {
                    result = self.clash_branch(v.ty, info, seen, members);
                    if result.is_err() {
                        break;
                    }
                }
            }
        }
        seen.entries.truncate(mark);
        result
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

    fn connect_doc(&mut self, id: EntityId) -> Result<(), Error> {
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

    fn assign_modules(&mut self) {
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
        match info {
            Some(info) => Error::at(self.sources, info, None, msg),
            None => Error::bare(msg),
        }
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
