//! The expressions pass 2 produces: definitions with the sugar removed
//! and their parts (members, branches, values, features) typed.

use crate::ifcond::IfCond;
use crate::model::Command;
use crate::source::SourceInfo;

/// A feature as written.
#[derive(Clone, Debug)]
pub(crate) struct FeatureExpr {
    pub name: String,
    pub ifcond: Option<IfCond>,
}

/// A type reference: a name or a one-element array.
#[derive(Clone, Debug)]
pub(crate) enum TypeRef {
    Name(String),
    Array(String),
}

/// A struct-like member.
#[derive(Clone, Debug)]
pub(crate) struct MemberExpr {
    pub name: String,
    pub optional: bool,
    pub ty: TypeRef,
    pub ifcond: Option<IfCond>,
    pub features: Vec<FeatureExpr>,
}

/// An enum value.
#[derive(Clone, Debug)]
pub(crate) struct EnumValueExpr {
    pub name: String,
    pub ifcond: Option<IfCond>,
    pub features: Vec<FeatureExpr>,
}

/// A union or alternate branch.
#[derive(Clone, Debug)]
pub(crate) struct BranchExpr {
    pub name: String,
    pub ty: TypeRef,
    pub ifcond: Option<IfCond>,
}

/// A type name or inline members (`data` of commands and events, union
/// `base`).
#[derive(Clone, Debug)]
pub(crate) enum Members {
    Named(String),
    Inline(Vec<MemberExpr>),
}

/// What a definition defines, normalised.
#[derive(Clone, Debug)]
pub(crate) enum DefKind {
    Enum {
        values: Vec<EnumValueExpr>,
        prefix: Option<String>,
    },
    Struct {
        base: Option<String>,
        members: Vec<MemberExpr>,
    },
    Union {
        base: Members,
        discriminator: String,
        branches: Vec<BranchExpr>,
    },
    Alternate {
        branches: Vec<BranchExpr>,
    },
    Command {
        data: Option<Members>,
        returns: Option<TypeRef>,
    },
    Event {
        data: Option<Members>,
    },
}

/// A checked definition.
#[derive(Clone, Debug)]
pub(crate) struct DefExpr {
    pub name: String,
    pub info: SourceInfo,
    pub doc: Option<usize>,
    pub ifcond: Option<IfCond>,
    pub features: Vec<FeatureExpr>,
    /// The flags (`gen`, `boxed`, ...), as the fields of a command without
    /// types; events read only `boxed`, other definitions none.
    pub flags: Command,
    pub kind: DefKind,
}

/// A checked top-level expression.
// Nearly every expression is a definition, so boxing it would only add an
// allocation to the common case.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(crate) enum CheckedExpr {
    Include { path: String, info: SourceInfo },
    Definition(DefExpr),
}
