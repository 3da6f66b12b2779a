//! Types: enums (with a catch-all for values from other QEMU versions),
//! structs (base members flattened), unions (base members plus a branch
//! enum chosen by the discriminator) and alternates (chosen by JSON type).

use std::fmt::Write as _;

use qapi_schema::{
    AlternateType, Definition, DefinitionKind, EntityId, EnumType, JsonType, Member, ObjectType,
};

use super::constructors::{Read, Slot};
use super::docs::{doc_alias, doc_comment};
use super::names::{camel, snake, Namespace};
use super::{Gen, Scope};

/// Branches differ in size as the schema makes them; boxing them all
/// would cost every user an allocation.
const LARGE: &str = "#[allow(clippy::large_enum_variant)]\n";

/// Serde's `skip_serializing_if` for optional members.
/// Which serde impls a struct gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Directions {
    /// `Serialize`.
    pub serialize: bool,
    /// `Deserialize`.
    pub deserialize: bool,
}

impl Directions {
    /// Both ways (the types commands and events share).
    pub const BOTH: Directions = Directions {
        serialize: true,
        deserialize: true,
    };
}

const SKIP_NONE: &str = "skip_serializing_if = \"::std::option::Option::is_none\"";

/// Rust variant names for `names` (camel case, made unique), and the
/// namespace they were claimed in, for a catch-all variant after them.
pub(super) fn variant_names<'n>(names: impl Iterator<Item = &'n str>) -> (Vec<String>, Namespace) {
    let mut ns = Namespace::default();
    let rust = names.map(|name| ns.claim(camel(name))).collect();
    (rust, ns)
}

impl Gen<'_> {
    /// The item(s) for one generated type.
    pub(super) fn type_item(&self, id: EntityId, def: &Definition) -> String {
        self.item(|| match &def.kind {
            DefinitionKind::Enum(e) => self.enum_item(id, def, e),
            DefinitionKind::Object(o) if o.is_union() => self.union_item(id, def, o),
            DefinitionKind::Object(_) => self.struct_item(id, def),
            DefinitionKind::Alternate(a) => self.alternate_item(id, def, a),
            _ => String::new(),
        })
    }

    fn name_of(&self, id: EntityId) -> &str {
        self.type_names.get(&id).map_or("", String::as_str)
    }

    /// The doc comment of case `name` (an enum value or a variant) of
    /// definition `owner`: its description, else its wire name.
    fn case_doc(&self, owner: &str, name: &str) -> String {
        let doc = self
            .described(owner, name)
            .unwrap_or_else(|| format!("`{name}`"));
        doc_comment(&doc, "    ")
    }

    /// The Rust type of a value of `ty` held inside `container`, boxed when
    /// holding it by value would close a cycle.
    fn held_type(&self, container: Option<EntityId>, ty: EntityId, scope: Scope) -> String {
        let rust = self.rust_type(ty, scope);
        match container {
            Some(c) if self.cycles.needs_box(c, ty) => format!("{}<{rust}>", self.std("Box")),
            _ => rust,
        }
    }

    /// Doc comment, doc alias and `#[deprecated]` of definition `id`.
    fn def_header(&self, id: EntityId, def: &Definition) -> String {
        let mut out = doc_comment(&self.def_doc(def), "");
        out.push_str(&doc_alias(&def.name, self.name_of(id)));
        out.push_str(&self.deprecated_attr(&def.features, ""));
        out
    }

    fn enum_item(&self, id: EntityId, def: &Definition, e: &EnumType) -> String {
        let name = self.name_of(id);
        let string = self.std("String");
        let values: Vec<_> = e
            .values
            .iter()
            .filter(|v| self.holds(v.ifcond.as_ref()))
            .collect();
        let (variants, mut ns) = variant_names(values.iter().map(|v| v.name.as_str()));
        let other = ns.claim("Other".to_string());
        let mut out = self.def_header(id, def);
        // No PartialOrd/Ord: QAPI enums have no order, and the derives cost
        // a fifth of the bindings' compile time.
        out.push_str("#[derive(Clone, PartialEq, Eq, Hash)]\n");
        let _ = writeln!(out, "pub enum {name} {{");
        for (v, variant) in values.iter().zip(&variants) {
            out.push_str(&self.case_doc(&def.name, &v.name));
            let deprecated = self.deprecated_attr(&v.features, "    ");
            if !deprecated.is_empty() {
                self.touched_deprecated.set(true);
            }
            out.push_str(&deprecated);
            let _ = writeln!(out, "    {variant},");
        }
        let _ = writeln!(
            out,
            "    /// A value this code does not know (from another QEMU version).\n    {other}({string}),\n}}\n"
        );
        let list = values
            .iter()
            .map(|v| format!("{:?}", v.name))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(out, "impl {name} {{");
        let _ = writeln!(
            out,
            "    /// The values this code knows, in schema order.\n    pub const VALUES: &'static [&'static str] = &[{list}];\n"
        );
        // `#[inline]` here and below: compiled where used, not for every
        // enum of the schema.
        out.push_str("    /// The name on the wire.\n    #[inline]\n    pub fn as_str(&self) -> &str {\n        match self {\n");
        for (v, variant) in values.iter().zip(&variants) {
            let _ = writeln!(out, "            Self::{variant} => {:?},", v.name);
        }
        let _ = writeln!(
            out,
            "            Self::{other}(name) => name,\n        }}\n    }}\n"
        );
        let _ = writeln!(
            out,
            "    /// The value named `name` (`{other}` when unknown).\n    #[inline]\n    pub fn from_name(name: &str) -> Self {{"
        );
        if values.is_empty() {
            let _ = writeln!(out, "        Self::{other}(name.into())\n    }}\n}}\n");
        } else {
            out.push_str("        match name {\n");
            for (v, variant) in values.iter().zip(&variants) {
                let _ = writeln!(out, "            {:?} => Self::{variant},", v.name);
            }
            let _ = writeln!(
                out,
                "            _ => Self::{other}(name.into()),\n        }}\n    }}\n}}\n"
            );
        }
        let _ = writeln!(
            out,
            "impl ::std::fmt::Display for {name} {{\n    #[inline]\n    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{\n        f.write_str(self.as_str())\n    }}\n}}\n"
        );
        let _ = write!(
            out,
            "impl ::std::fmt::Debug for {name} {{\n    #[inline]\n    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{\n        match self {{\n"
        );
        for variant in &variants {
            let _ = writeln!(
                out,
                "            Self::{variant} => f.write_str({:?}),",
                variant.trim_start_matches("r#")
            );
        }
        let _ = writeln!(
            out,
            "            Self::{other}(name) => f.debug_tuple({:?}).field(name).finish(),\n        }}\n    }}\n}}\n",
            other.trim_start_matches("r#")
        );
        let _ = writeln!(
            out,
            "impl ::serde::Serialize for {name} {{\n    fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> {result}<S::Ok, S::Error> {{\n        serializer.serialize_str(self.as_str())\n    }}\n}}\n",
            result = self.std("Result")
        );
        let _ = writeln!(
            out,
            "impl<'de> ::serde::Deserialize<'de> for {name} {{\n    fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> {result}<Self, D::Error> {{\n        let name: {string} = ::serde::Deserialize::deserialize(deserializer)?;\n        Ok(Self::from_name(&name))\n    }}\n}}\n",
            result = self.std("Result")
        );
        out
    }

    /// True for types whose values may be JSON `null` (an optional member
    /// of such a type must tell `null` from absent).
    fn nullable(&self, id: EntityId) -> bool {
        match self.schema.definition(id).map(|d| (&d.name, &d.kind)) {
            Some((name, DefinitionKind::Builtin(_))) => name == "null" || name == "any",
            Some((_, DefinitionKind::Alternate(a))) => a
                .variants
                .iter()
                .any(|v| self.json_type(v.ty) == Some(JsonType::Null)),
            _ => false,
        }
    }

    fn json_type(&self, id: EntityId) -> Option<JsonType> {
        self.schema.definition(id).and_then(Definition::json_type)
    }

    /// True for `uint64`/`size` (and arrays of them): QEMU accepts
    /// negative integers there, wrapped.
    fn needs_compat(&self, id: EntityId) -> bool {
        match self.schema.definition(id).map(|d| (&d.name, &d.kind)) {
            Some((name, DefinitionKind::Builtin(_))) => name == "uint64" || name == "size",
            Some((_, DefinitionKind::Array(a))) => self.needs_compat(a.element),
            _ => false,
        }
    }

    /// One struct field for a member, and what a constructor or setter
    /// needs to know of it. With `serde_attributes` the field carries the
    /// attributes serde's derive needs; without, [`Self::codec`] reads and
    /// writes it.
    pub(super) fn field(
        &self,
        member: &Member,
        container: Option<EntityId>,
        scope: Scope,
        ns: &mut Namespace,
        serde_attributes: bool,
    ) -> (String, Slot) {
        let rust_name = ns.claim(snake(&member.name));
        let mut ty = self.held_type(container, member.ty, scope);
        let read = if self.needs_compat(member.ty) {
            Read::Compat
        } else if member.optional && self.nullable(member.ty) {
            Read::PresentIsSome
        } else {
            Read::Plain
        };
        let slot = Slot {
            field: rust_name.clone(),
            wire: member.name.clone(),
            ty: ty.clone(),
            optional: member.optional,
            deprecated: self.deprecated_attr(&member.features, "    "),
            read,
        };
        let mut attrs = Vec::new();
        if rust_name.trim_start_matches("r#") != member.name {
            attrs.push(format!("rename = {:?}", member.name));
        }
        if member.optional {
            ty = format!("{}<{ty}>", self.std("Option"));
            attrs.push("default".to_string());
            attrs.push(SKIP_NONE.to_string());
        }
        match read {
            Read::Compat => attrs.push(format!(
                "deserialize_with = \"{}__rt::compat\"",
                scope.prefix()
            )),
            Read::PresentIsSome => attrs.push(format!(
                "deserialize_with = \"{}__rt::some\"",
                scope.prefix()
            )),
            Read::Plain => {}
        }
        let mut out = doc_comment(&self.member_doc(member).unwrap_or_default(), "    ");
        let deprecated = self.deprecated_attr(&member.features, "    ");
        if !deprecated.is_empty() {
            self.touched_deprecated.set(true);
        }
        out.push_str(&deprecated);
        if serde_attributes && !attrs.is_empty() {
            let _ = writeln!(out, "    #[serde({})]", attrs.join(", "));
        }
        let _ = writeln!(out, "    pub {rust_name}: {ty},");
        (out, slot)
    }

    /// The fields of `members`, and their slots.
    pub(super) fn fields(
        &self,
        members: &[&Member],
        container: Option<EntityId>,
        scope: Scope,
        ns: &mut Namespace,
        serde_attributes: bool,
    ) -> (String, Vec<Slot>) {
        let mut out = String::new();
        let mut slots = Vec::with_capacity(members.len());
        for m in members {
            let (text, slot) = self.field(m, container, scope, ns, serde_attributes);
            out.push_str(&text);
            slots.push(slot);
        }
        (out, slots)
    }

    /// `Serialize` and `Deserialize` of a struct with `slots`, written out
    /// rather than derived: each member is one call of a helper shared by
    /// every struct (generic only over the member's type), which compiles
    /// in a fraction of the time serde's derive takes. Unknown members are
    /// ignored, as the derive ignores them.
    pub(super) fn codec(
        &self,
        name: &str,
        slots: &[Slot],
        scope: Scope,
        directions: Directions,
    ) -> String {
        self.codec_with_branch(name, slots, None, scope, directions)
    }

    /// [`Self::codec`] of a union: `branch` is the field holding the branch
    /// enum, whose members (its tag among them) sit beside the base's.
    fn codec_with_branch(
        &self,
        name: &str,
        slots: &[Slot],
        branch: Option<&str>,
        scope: Scope,
        directions: Directions,
    ) -> String {
        let rt = format!("{}__rt", scope.prefix());
        let mut out = String::new();
        if branch.is_none() {
            out.push_str(&Self::debug_impl(name, slots));
        }
        if directions.serialize {
            out.push_str(&self.serialize_impl(name, slots, branch, &rt));
        }
        if directions.deserialize {
            out.push_str(&self.deserialize_impl(name, slots, branch, &rt));
        }
        out
    }

    /// `Debug` as derived, but `#[inline]`: compiled only where used.
    fn debug_impl(name: &str, slots: &[Slot]) -> String {
        let mut out = format!(
            "impl ::std::fmt::Debug for {name} {{\n    #[inline]\n    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{\n        f.debug_struct({name:?})"
        );
        for slot in slots {
            let _ = write!(
                out,
                "\n            .field({:?}, &self.{})",
                slot.field.trim_start_matches("r#"),
                slot.field
            );
        }
        out.push_str("\n            .finish()\n    }\n}\n\n");
        out
    }

    fn serialize_impl(&self, name: &str, slots: &[Slot], branch: Option<&str>, rt: &str) -> String {
        let result = self.std("Result");
        let mut out = format!(
            "impl ::serde::Serialize for {name} {{\n    fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> {result}<S::Ok, S::Error> {{\n        #[allow(unused_mut)]\n        let mut map = ::serde::Serializer::serialize_map(serializer, ::std::option::Option::None)?;\n"
        );
        for slot in slots {
            let put = if slot.optional { "put_some" } else { "put" };
            let _ = writeln!(
                out,
                "        {rt}::{put}(&mut map, {:?}, &self.{})?;",
                slot.wire, slot.field
            );
        }
        if let Some(branch) = branch {
            let _ = writeln!(
                out,
                "        {rt}::serialize_members(&mut map, &self.{branch})?;"
            );
        }
        out.push_str("        ::serde::ser::SerializeMap::end(map)\n    }\n}\n\n");
        out
    }

    fn deserialize_impl(
        &self,
        name: &str,
        slots: &[Slot],
        branch: Option<&str>,
        rt: &str,
    ) -> String {
        let result = self.std("Result");
        let mut out = String::new();
        // Generic over the error type, so that nothing is compiled for a
        // type until a program reads one.
        let _ = write!(
            out,
            "impl<'de> ::serde::Deserialize<'de> for {name} {{\n    fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> {result}<Self, D::Error> {{\n        {rt}::decode(deserializer, Self::from_members::<D::Error>)\n    }}\n}}\n\n"
        );
        let _ = write!(
            out,
            "impl {name} {{\n    #[allow(unused_variables)]\n    fn from_members<E: ::serde::de::Error>(members: &mut {rt}::Members) -> {result}<Self, E> {{\n        Ok(Self {{\n"
        );
        for slot in slots {
            let take = match (slot.optional, slot.read) {
                (false, Read::Compat) => "required_compat",
                (false, _) => "required",
                (true, Read::Compat) => "optional_compat",
                (true, Read::PresentIsSome) => "optional_present",
                (true, Read::Plain) => "optional",
            };
            let _ = writeln!(
                out,
                "            {}: {rt}::{take}(members, {:?})?,",
                slot.field, slot.wire
            );
        }
        if let Some(branch) = branch {
            let _ = writeln!(out, "            {branch}: {rt}::branch(members)?,");
        }
        out.push_str("        })\n    }\n}\n\n");
        out
    }

    /// `#[derive(...)]` of structs (their serde and `Debug` impls are
    /// [`Self::codec`]'s):
    /// `Default` when every member is optional.
    pub(super) fn struct_derives(members: &[&Member]) -> &'static str {
        if members.iter().all(|m| m.optional) {
            "#[derive(Clone, Default, PartialEq)]\n"
        } else {
            "#[derive(Clone, PartialEq)]\n"
        }
    }

    fn struct_item(&self, id: EntityId, def: &Definition) -> String {
        let members = self.members_of(id);
        let mut out = self.def_header(id, def);
        out.push_str(Self::struct_derives(&members));
        let name = self.name_of(id);
        let _ = writeln!(out, "pub struct {name} {{");
        let (fields, slots) = self.fields(
            &members,
            Some(id),
            Scope::Root,
            &mut Namespace::default(),
            false,
        );
        out.push_str(&fields);
        out.push_str("}\n\n");
        out.push_str(&self.codec(name, &slots, Scope::Root, Directions::BOTH));
        out.push_str(&self.constructors(name, &slots, &[]));
        out
    }

    fn union_item(&self, id: EntityId, def: &Definition, o: &ObjectType) -> String {
        let Some(branches) = &o.branches else {
            return String::new();
        };
        let tag = branches.tag_name.as_str();
        let branch_enum = self.branch_names.get(&id).map_or("", String::as_str);
        let base: Vec<&Member> = self
            .members_of(id)
            .into_iter()
            .filter(|m| m.name != tag)
            .collect();
        let mut out = self.def_header(id, def);
        out.push_str("#[derive(Clone, Debug, PartialEq)]\n");
        let name = self.name_of(id);
        let _ = writeln!(out, "pub struct {name} {{");
        let mut ns = Namespace::default();
        let (fields, mut slots) = self.fields(&base, Some(id), Scope::Root, &mut ns, false);
        out.push_str(&fields);
        let tag_field = ns.claim(snake(tag));
        let _ = writeln!(
            out,
            "    /// The branch selected by `{tag}`, with its members.\n    pub {tag_field}: {branch_enum},\n}}\n"
        );
        out.push_str(&self.codec_with_branch(
            name,
            &slots,
            Some(&tag_field),
            Scope::Root,
            Directions::BOTH,
        ));
        slots.push(Slot {
            field: tag_field,
            wire: tag.to_string(),
            ty: branch_enum.to_string(),
            optional: false,
            deprecated: String::new(),
            read: Read::Plain,
        });
        out.push_str(&self.constructors(
            name,
            &slots,
            &self.branch_constructors(id, o, branch_enum),
        ));
        out.push_str(&self.branch_enum(id, def, o, branch_enum));
        out
    }

    fn branch_enum(&self, id: EntityId, def: &Definition, o: &ObjectType, name: &str) -> String {
        let Some(branches) = &o.branches else {
            return String::new();
        };
        let tag = branches.tag_name.as_str();
        let variants: Vec<_> = branches
            .variants
            .iter()
            .filter(|v| self.holds(v.ifcond.as_ref()))
            .collect();
        let (rust, mut ns) = variant_names(variants.iter().map(|v| v.name.as_str()));
        let other = ns.claim("Other".to_string());
        let string = self.std("String");
        let result = self.std("Result");
        let mut out = format!(
            "/// The branches of [`{}`], selected by `{tag}`.\n#[derive(Clone, Debug, PartialEq)]\n{LARGE}pub enum {name} {{\n",
            self.name_of(id)
        );
        let mut data = Vec::new();
        for (v, r) in variants.iter().zip(&rust) {
            let doc = self
                .described(&def.name, &v.name)
                .unwrap_or_else(|| format!("`{tag}` is `{}`.", v.name));
            out.push_str(&doc_comment(&doc, "    "));
            if v.implicit {
                let _ = writeln!(out, "    {r},");
            } else {
                let ty = self.held_type(Some(id), v.ty, Scope::Root);
                let _ = writeln!(out, "    {r}({ty}),");
                data.push((v, r, self.cycles.needs_box(id, v.ty)));
            }
        }
        let _ = writeln!(
            out,
            "    /// A branch this code does not know (its members are dropped).\n    {other}({string}),\n}}\n"
        );
        let _ = writeln!(
            out,
            "impl {name} {{\n    /// The value of `{tag}`.\n    pub fn tag(&self) -> &str {{\n        match self {{"
        );
        for (v, r) in variants.iter().zip(&rust) {
            let pattern = if v.implicit {
                r.clone()
            } else {
                format!("{r}(_)")
            };
            let _ = writeln!(out, "            Self::{pattern} => {:?},", v.name);
        }
        let _ = writeln!(
            out,
            "            Self::{other}(tag) => tag,\n        }}\n    }}\n}}\n"
        );
        // Serialize: the tag, then the branch's members.
        let _ = writeln!(
            out,
            "impl ::serde::Serialize for {name} {{\n    fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> {result}<S::Ok, S::Error> {{\n        use ::serde::ser::SerializeMap;\n        let mut map = serializer.serialize_map(None)?;\n        map.serialize_entry({tag:?}, self.tag())?;"
        );
        match data.as_slice() {
            [] => {}
            [(_, r, _)] => {
                let _ = writeln!(
                    out,
                    "        if let Self::{r}(branch) = self {{\n            __rt::serialize_members(&mut map, branch)?;\n        }}"
                );
            }
            _ => {
                out.push_str("        match self {\n");
                for (_, r, _) in &data {
                    let _ = writeln!(
                        out,
                        "            Self::{r}(branch) => __rt::serialize_members(&mut map, branch)?,"
                    );
                }
                out.push_str("            _ => {}\n        }\n");
            }
        }
        out.push_str("        map.end()\n    }\n}\n\n");
        // Deserialize: the tag picks the branch type for the other members.
        let members = if data.is_empty() { "_" } else { "members" };
        let _ = writeln!(
            out,
            "impl<'de> ::serde::Deserialize<'de> for {name} {{\n    fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> {result}<Self, D::Error> {{\n        let (tag, {members}) = __rt::take_tag(deserializer, {tag:?})?;\n        Ok(match tag.as_str() {{"
        );
        for (v, r) in variants.iter().zip(&rust) {
            if v.implicit {
                let _ = writeln!(out, "            {:?} => Self::{r},", v.name);
            } else if self.cycles.needs_box(id, v.ty) {
                let _ = writeln!(
                    out,
                    "            {:?} => Self::{r}({}::new(__rt::from_members(members)?)),",
                    v.name,
                    self.std("Box")
                );
            } else {
                let _ = writeln!(
                    out,
                    "            {:?} => Self::{r}(__rt::from_members(members)?),",
                    v.name
                );
            }
        }
        let _ = writeln!(
            out,
            "            _ => Self::{other}(tag),\n        }})\n    }}\n}}\n"
        );
        out
    }

    fn alternate_item(&self, id: EntityId, def: &Definition, a: &AlternateType) -> String {
        let name = self.name_of(id);
        let result = self.std("Result");
        let variants: Vec<_> = a
            .variants
            .iter()
            .filter(|v| self.holds(v.ifcond.as_ref()))
            .collect();
        let (rust, _) = variant_names(variants.iter().map(|v| v.name.as_str()));
        let mut out = self.def_header(id, def);
        let _ = writeln!(
            out,
            "#[derive(Clone, Debug, PartialEq)]\n{LARGE}pub enum {name} {{"
        );
        let mut arms = Vec::new();
        for (v, r) in variants.iter().zip(&rust) {
            let json = self.json_type(v.ty);
            out.push_str(&self.case_doc(&def.name, &v.name));
            if json == Some(JsonType::Null) {
                let _ = writeln!(out, "    {r},");
            } else {
                let ty = self.held_type(Some(id), v.ty, Scope::Root);
                let _ = writeln!(out, "    {r}({ty}),");
            }
            arms.push((v, r, json));
        }
        out.push_str("}\n\n");
        let _ = writeln!(
            out,
            "impl ::serde::Serialize for {name} {{\n    fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> {result}<S::Ok, S::Error> {{\n        match self {{"
        );
        for (_, r, json) in &arms {
            if *json == Some(JsonType::Null) {
                let _ = writeln!(out, "            Self::{r} => serializer.serialize_unit(),");
            } else {
                let _ = writeln!(
                    out,
                    "            Self::{r}(value) => ::serde::Serialize::serialize(value, serializer),"
                );
            }
        }
        out.push_str("        }\n    }\n}\n\n");
        let _ = writeln!(
            out,
            "impl<'de> ::serde::Deserialize<'de> for {name} {{\n    fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> {result}<Self, D::Error> {{\n        let value: ::serde_json::Value = ::serde::Deserialize::deserialize(deserializer)?;\n        match value {{"
        );
        let mut expected = Vec::new();
        for (v, r, json) in &arms {
            let (pattern, word) = match json {
                Some(JsonType::String) => ("::serde_json::Value::String(_)", "string"),
                Some(JsonType::Int) | Some(JsonType::Number) => {
                    ("::serde_json::Value::Number(_)", "number")
                }
                Some(JsonType::Boolean) => ("::serde_json::Value::Bool(_)", "boolean"),
                Some(JsonType::Null) => ("::serde_json::Value::Null", "null"),
                Some(JsonType::Object) => ("::serde_json::Value::Object(_)", "object"),
                Some(JsonType::Array) => ("::serde_json::Value::Array(_)", "array"),
                Some(JsonType::Value) | None => continue,
            };
            expected.push(word);
            let decode = if self.needs_compat(v.ty) {
                "__rt::compat(value).map_err(::serde::de::Error::custom)"
            } else {
                "__rt::from_value(value)"
            };
            if *json == Some(JsonType::Null) {
                let _ = writeln!(out, "            {pattern} => Ok(Self::{r}),");
                continue;
            }
            let body = if self.cycles.needs_box(id, v.ty) {
                format!("{decode}.map(|v| Self::{r}({}::new(v)))", self.std("Box"))
            } else {
                format!("{decode}.map(Self::{r})")
            };
            let _ = writeln!(out, "            value @ {pattern} => {body},");
        }
        let _ = writeln!(
            out,
            "            _ => Err(::serde::de::Error::custom({:?})),\n        }}\n    }}\n}}\n",
            format!(
                "invalid type for {}: expected {}",
                def.name,
                expected.join(" or ")
            )
        );
        out
    }
}
