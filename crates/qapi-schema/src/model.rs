//! The semantic model: modules and entities in QEMU's order, with resolved
//! types, flattened members, variants, conditions, features, docs and source
//! positions. Built and checked by `build`; walked by generators.

use crate::doc::Doc;
use crate::hash::NameMap;
use crate::ifcond::IfCond;
use crate::parser::Pragma;
use crate::source::{Meta, SourceInfo, Sources};

/// Index of an entity in [`Schema::entities`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityId(pub usize);

impl EntityId {
    /// Placeholder for a type reference not resolved yet (never present in
    /// a checked schema).
    pub(crate) const UNRESOLVED: EntityId = EntityId(usize::MAX);
}

/// Index of a module in [`Schema::modules`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleId(pub usize);

/// Name of the module holding the built-in types.
pub const BUILTIN_MODULE: &str = "./builtin";

/// Feature names every schema has, in this order.
pub const SPECIAL_FEATURES: [&str; 2] = ["deprecated", "unstable"];

/// Most distinct feature names a schema may use (special ones included).
pub const MAX_FEATURES: usize = 64;

/// A module: one schema file (or `./builtin`) and the entities defined in
/// it, in definition order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// `./builtin`, or the file's path relative to the root schema's folder.
    pub name: String,
    /// Entities of this module, in definition order.
    pub entities: Vec<EntityId>,
}

/// A feature of a definition, member or enum value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feature {
    /// The name.
    pub name: String,
    /// Its condition.
    pub ifcond: Option<IfCond>,
    /// The position of the definition carrying it.
    pub info: Option<SourceInfo>,
}

impl Feature {
    /// True for the feature names with meaning to QEMU (`deprecated`,
    /// `unstable`).
    pub fn is_special(&self) -> bool {
        SPECIAL_FEATURES.contains(&self.name.as_str())
    }
}

/// A member of an object type (struct member, command/event parameter,
/// union base member).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The name, without the `*` of optional members.
    pub name: String,
    /// The type's name (`FooList` for `['Foo']`).
    pub type_name: String,
    /// The resolved type.
    pub ty: EntityId,
    /// True for `*name` members.
    pub optional: bool,
    /// Its condition.
    pub ifcond: Option<IfCond>,
    /// Its features.
    pub features: Vec<Feature>,
    /// Name of the type that declares it (`q_obj_X-arg` for inline
    /// parameters).
    pub defined_in: String,
    /// Position of the declaring definition.
    pub info: Option<SourceInfo>,
}

/// A value of an enum type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumValue {
    /// The value.
    pub name: String,
    /// Its condition.
    pub ifcond: Option<IfCond>,
    /// Its features.
    pub features: Vec<Feature>,
}

/// A branch of a union or alternate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    /// The branch name (an enum value for unions).
    pub name: String,
    /// The type's name.
    pub type_name: String,
    /// The resolved type.
    pub ty: EntityId,
    /// Its condition.
    pub ifcond: Option<IfCond>,
    /// True for the `q_empty` branches added for enum values without an
    /// explicit branch.
    pub implicit: bool,
}

/// JSON type of values of a type, as introspection reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JsonType {
    /// JSON string
    String,
    /// JSON number
    Number,
    /// JSON integer
    Int,
    /// JSON boolean
    Boolean,
    /// JSON null
    Null,
    /// any JSON value
    Value,
    /// JSON array
    Array,
    /// JSON object
    Object,
}

impl JsonType {
    /// The name QEMU uses (`string`, `int`, `boolean`, `value`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Number => "number",
            JsonType::Int => "int",
            JsonType::Boolean => "boolean",
            JsonType::Null => "null",
            JsonType::Value => "value",
            JsonType::Array => "array",
            JsonType::Object => "object",
        }
    }
}

/// A built-in type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltinType {
    /// Its JSON type.
    pub json_type: JsonType,
    /// The C type QEMU maps it to.
    pub c_type: &'static str,
}

/// The built-in types in definition order: name, JSON type, C type.
pub const BUILTIN_TYPES: [(&str, JsonType, &str); 15] = [
    ("str", JsonType::String, "char *"),
    ("number", JsonType::Number, "double"),
    ("int", JsonType::Int, "int64_t"),
    ("int8", JsonType::Int, "int8_t"),
    ("int16", JsonType::Int, "int16_t"),
    ("int32", JsonType::Int, "int32_t"),
    ("int64", JsonType::Int, "int64_t"),
    ("uint8", JsonType::Int, "uint8_t"),
    ("uint16", JsonType::Int, "uint16_t"),
    ("uint32", JsonType::Int, "uint32_t"),
    ("uint64", JsonType::Int, "uint64_t"),
    ("size", JsonType::Int, "uint64_t"),
    ("bool", JsonType::Boolean, "bool"),
    ("any", JsonType::Value, "QObject *"),
    ("null", JsonType::Null, "QNull *"),
];

/// Values of the predefined enum `QType` (the tag of alternates).
pub const QTYPE_VALUES: [&str; 7] = [
    "none", "qnull", "qnum", "qstring", "qdict", "qlist", "qbool",
];

/// An enum type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumType {
    /// The values in order.
    pub values: Vec<EnumValue>,
    /// The `prefix` for C constants, if given.
    pub prefix: Option<String>,
}

/// An array type `TList` (`['T']` in the schema).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayType {
    /// The element type's name.
    pub element_name: String,
    /// The resolved element type.
    pub element: EntityId,
}

/// The branches of a union.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Branches {
    /// The discriminator member name.
    pub tag_name: String,
    /// The discriminator member (from the flattened base).
    pub tag_member: Option<Member>,
    /// The branches: explicit ones in source order, then implicit ones.
    pub variants: Vec<Variant>,
}

/// A struct, union, or implicit object type (`q_empty`, `q_obj_*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectType {
    /// The base type's name, if any.
    pub base_name: Option<String>,
    /// The resolved base type.
    pub base: Option<EntityId>,
    /// Members declared by this type itself.
    pub local_members: Vec<Member>,
    /// All members: the base's (recursively), then the local ones.
    pub members: Vec<Member>,
    /// For unions: the branches.
    pub branches: Option<Branches>,
}

impl ObjectType {
    /// True when the type was written as a union.
    pub fn is_union(&self) -> bool {
        self.branches.is_some()
    }
}

/// An alternate type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlternateType {
    /// The implicit tag member `type` of enum `QType`.
    pub tag_member: Member,
    /// The branches in source order.
    pub variants: Vec<Variant>,
}

/// A command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command {
    /// Name of the argument type (`q_obj_NAME-arg` for inline data).
    pub arg_type_name: Option<String>,
    /// The resolved argument type.
    pub arg_type: Option<EntityId>,
    /// Name of the return type.
    pub ret_type_name: Option<String>,
    /// The resolved return type.
    pub ret_type: Option<EntityId>,
    /// `gen` (false: no marshalling code).
    pub gen: bool,
    /// `success-response` (false: no reply on success).
    pub success_response: bool,
    /// `boxed`
    pub boxed: bool,
    /// `allow-oob`
    pub allow_oob: bool,
    /// `allow-preconfig`
    pub allow_preconfig: bool,
    /// `coroutine`
    pub coroutine: bool,
}

/// A flag of a command: its key in the schema, its value when the key is
/// absent (the other value is the only one it may be given), and the field
/// of [`Command`] that holds it.
pub(crate) struct CommandFlag {
    pub key: &'static str,
    pub default: bool,
    pub field: fn(&mut Command) -> &mut bool,
}

/// The command flags in the order QEMU checks them: the one list the
/// expression checks, the command's valid keys and its definition read.
pub(crate) const COMMAND_FLAGS: [CommandFlag; 6] = [
    CommandFlag {
        key: "gen",
        default: true,
        field: |c| &mut c.gen,
    },
    CommandFlag {
        key: "success-response",
        default: true,
        field: |c| &mut c.success_response,
    },
    CommandFlag {
        key: "boxed",
        default: false,
        field: |c| &mut c.boxed,
    },
    CommandFlag {
        key: "allow-oob",
        default: false,
        field: |c| &mut c.allow_oob,
    },
    CommandFlag {
        key: "allow-preconfig",
        default: false,
        field: |c| &mut c.allow_preconfig,
    },
    CommandFlag {
        key: "coroutine",
        default: false,
        field: |c| &mut c.coroutine,
    },
];

/// An event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Name of the data type (`q_obj_NAME-arg` for inline data).
    pub arg_type_name: Option<String>,
    /// The resolved data type.
    pub arg_type: Option<EntityId>,
    /// `boxed`
    pub boxed: bool,
}

/// What a definition defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefinitionKind {
    /// A built-in type.
    Builtin(BuiltinType),
    /// An enum.
    Enum(EnumType),
    /// An array.
    Array(ArrayType),
    /// A struct, union or implicit object.
    Object(ObjectType),
    /// An alternate.
    Alternate(AlternateType),
    /// A command.
    Command(Command),
    /// An event.
    Event(Event),
}

/// A named definition: a type, command or event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    /// The name.
    pub name: String,
    /// Where it is defined (`None` for built-in and predefined types);
    /// implicit types carry the position of the definition that made them.
    pub info: Option<SourceInfo>,
    /// Index of its doc block in [`Schema::docs`].
    pub doc: Option<usize>,
    /// Its condition (arrays: their element's).
    pub ifcond: Option<IfCond>,
    /// Its features.
    pub features: Vec<Feature>,
    /// The module it belongs to.
    pub module: ModuleId,
    /// What it defines.
    pub kind: DefinitionKind,
}

impl Definition {
    /// The meta word QEMU uses in messages: `built-in`, `enum`, `array`,
    /// `struct`, `union`, `alternate`, `command`, `event`.
    pub fn meta(&self) -> &'static str {
        match &self.kind {
            DefinitionKind::Builtin(_) => "built-in",
            DefinitionKind::Enum(_) => "enum",
            DefinitionKind::Array(_) => "array",
            DefinitionKind::Object(o) if o.is_union() => "union",
            DefinitionKind::Object(_) => "struct",
            DefinitionKind::Alternate(_) => "alternate",
            DefinitionKind::Command(_) => "command",
            DefinitionKind::Event(_) => "event",
        }
    }

    /// The definition's [`Meta`] when it is written in the schema.
    pub fn source_meta(&self) -> Option<Meta> {
        Some(match &self.kind {
            DefinitionKind::Enum(_) => Meta::Enum,
            DefinitionKind::Object(o) if o.is_union() => Meta::Union,
            DefinitionKind::Object(_) => Meta::Struct,
            DefinitionKind::Alternate(_) => Meta::Alternate,
            DefinitionKind::Command(_) => Meta::Command,
            DefinitionKind::Event(_) => Meta::Event,
            _ => return None,
        })
    }

    /// True for types (everything but commands and events).
    pub fn is_type(&self) -> bool {
        !matches!(
            self.kind,
            DefinitionKind::Command(_) | DefinitionKind::Event(_)
        )
    }

    /// True for types the schema did not spell out: built-in types, arrays,
    /// `q_empty`, `q_obj_*` and `QType`.
    pub fn is_implicit(&self) -> bool {
        match &self.kind {
            DefinitionKind::Builtin(_) | DefinitionKind::Array(_) => true,
            DefinitionKind::Object(_) => self.name.starts_with("q_"),
            DefinitionKind::Enum(_) => self.name == "QType",
            _ => self.info.is_none(),
        }
    }

    /// The JSON type of values of this type (`None` for commands/events).
    pub fn json_type(&self) -> Option<JsonType> {
        match &self.kind {
            DefinitionKind::Builtin(b) => Some(b.json_type),
            DefinitionKind::Enum(_) => Some(JsonType::String),
            DefinitionKind::Array(_) => Some(JsonType::Array),
            DefinitionKind::Object(_) => Some(JsonType::Object),
            DefinitionKind::Alternate(_) => Some(JsonType::Value),
            DefinitionKind::Command(_) | DefinitionKind::Event(_) => None,
        }
    }

    /// How QEMU describes the definition in messages (`struct type 'Foo'`,
    /// `array type ['int']`, `command 'x'`).
    pub fn describe(&self) -> String {
        match &self.kind {
            DefinitionKind::Array(a) => format!("array type ['{}']", a.element_name),
            DefinitionKind::Command(_) | DefinitionKind::Event(_) => {
                format!("{} '{}'", self.meta(), self.name)
            }
            _ => format!("{} type '{}'", self.meta(), self.name),
        }
    }

    /// The object type, if this is one.
    pub fn as_object(&self) -> Option<&ObjectType> {
        match &self.kind {
            DefinitionKind::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The enum type, if this is one.
    pub fn as_enum(&self) -> Option<&EnumType> {
        match &self.kind {
            DefinitionKind::Enum(e) => Some(e),
            _ => None,
        }
    }
}

/// An include directive, recorded where it appears (also when the file was
/// already included and is skipped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Include {
    /// The included module.
    pub target: ModuleId,
    /// Position of the directive.
    pub info: SourceInfo,
    /// The module containing the directive.
    pub module: ModuleId,
}

/// An entity: an include directive or a definition.
// Nearly every entity is a definition, so boxing it would only add an
// indirection to the common case.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entity {
    /// `{ 'include': ... }`
    Include(Include),
    /// A type, command or event.
    Definition(Definition),
}

impl Entity {
    /// The module the entity belongs to.
    pub fn module(&self) -> ModuleId {
        match self {
            Entity::Include(i) => i.module,
            Entity::Definition(d) => d.module,
        }
    }

    /// The definition, if this is one.
    pub fn as_definition(&self) -> Option<&Definition> {
        match self {
            Entity::Definition(d) => Some(d),
            Entity::Include(_) => None,
        }
    }
}

/// A checked schema.
#[derive(Clone, Debug)]
pub struct Schema {
    /// The root schema path as given.
    pub path: String,
    /// The files read, with their include positions.
    pub sources: Sources,
    /// The pragma settings in force.
    pub pragma: Pragma,
    /// Modules: `./builtin`, the root, then included files in order of
    /// first inclusion.
    pub modules: Vec<Module>,
    /// All entities in definition order.
    pub entities: Vec<Entity>,
    /// Doc blocks in source order (include tree flattened).
    pub docs: Vec<Doc>,
    /// Distinct feature names used, special ones first, in first-use order.
    pub feature_names: Vec<String>,
    pub(crate) index: NameMap<EntityId>,
}

impl Schema {
    /// The entity with this id.
    pub fn entity(&self, id: EntityId) -> Option<&Entity> {
        self.entities.get(id.0)
    }

    /// The definition with this id.
    pub fn definition(&self, id: EntityId) -> Option<&Definition> {
        self.entity(id).and_then(Entity::as_definition)
    }

    /// The definition named `name`.
    pub fn lookup(&self, name: &str) -> Option<&Definition> {
        self.index.get(name).and_then(|&id| self.definition(id))
    }

    /// The id of the definition named `name`.
    pub fn lookup_id(&self, name: &str) -> Option<EntityId> {
        self.index.get(name).copied()
    }

    /// All definitions in definition order.
    pub fn definitions(&self) -> impl Iterator<Item = &Definition> {
        self.entities.iter().filter_map(Entity::as_definition)
    }

    /// The module with this id.
    pub fn module(&self, id: ModuleId) -> Option<&Module> {
        self.modules.get(id.0)
    }

    /// The doc block of a definition.
    pub fn doc_of(&self, def: &Definition) -> Option<&Doc> {
        def.doc.and_then(|i| self.docs.get(i))
    }
}
