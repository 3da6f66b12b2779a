//! Pass 2: context-free checks of each definition, in QEMU's order, and
//! its normalisation (sugar removed) into typed expressions.

use crate::doc::Doc;
use crate::error::Error;
use crate::ifcond::IfCond;
use crate::model::{Command, COMMAND_FLAGS};
use crate::names::{c_name_raw_bytes, is_camel, name_stem, violates_lower, violates_upper};
use crate::parser::{Pragma, TopExpr, MAX_NESTING};
use crate::source::{Meta, SourceInfo, Sources};
use crate::value::{Object, Value};

use std::fmt;

/// What a message is about, formatted only when an error is reported:
/// `PREFIX 'NAME'`.
struct Quoted<'a>(&'a str, &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} '{}'", self.0, self.1)
    }
}

/// `SOURCE member 'KEY'`
struct Keyed<'a>(&'a dyn fmt::Display, &'a str);

impl fmt::Display for Keyed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} member '{}'", self.0, self.1)
    }
}

/// `'if' condition of SOURCE`
struct IfSource<'a>(&'a dyn fmt::Display);

impl fmt::Display for IfSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'if' condition of {}", self.0)
    }
}

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

/// The keys a command may have besides `command`: its own, then its flags.
const COMMAND_KEYS: [&str; 4 + COMMAND_FLAGS.len()] = {
    const OWN: [&str; 4] = ["data", "returns", "if", "features"];
    let mut keys = [""; 4 + COMMAND_FLAGS.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = if i < OWN.len() {
            OWN[i]
        } else {
            COMMAND_FLAGS[i - OWN.len()].key
        };
        i += 1;
    }
    keys
};

struct Checker<'a> {
    sources: &'a mut Sources,
    pragma: &'a Pragma,
    info: SourceInfo,
}

fn sorted_quoted<'k>(keys: impl IntoIterator<Item = &'k str>) -> String {
    let mut keys: Vec<&str> = keys.into_iter().collect();
    keys.sort_unstable();
    keys.dedup();
    keys.iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Wraps a non-object member value as `{'type': value}` (or `{'name': ...}`):
/// the object, or the single value standing for the given key.
enum Sugared<'v> {
    Object(&'v Object),
    Bare(&'v Value),
}

impl<'v> Sugared<'v> {
    fn of(value: &'v Value) -> Self {
        match value {
            Value::Object(o) => Sugared::Object(o),
            other => Sugared::Bare(other),
        }
    }

    /// The value of `key`, where a bare value stands for `main_key`.
    fn get(&self, key: &str, main_key: &str) -> Option<&'v Value> {
        match self {
            Sugared::Object(o) => o.get(key),
            Sugared::Bare(v) => (key == main_key).then_some(*v),
        }
    }
}

/// The value of `key` in a member value, where a bare (non-object) value
/// stands for `main_key`; mutable, so that strings can be moved out.
fn member_mut<'v>(value: &'v mut Value, key: &str, main_key: &str) -> Option<&'v mut Value> {
    match value {
        Value::Object(o) => o.get_mut(key),
        other => (key == main_key).then_some(other),
    }
}

impl Checker<'_> {
    fn err(&self, msg: impl Into<String>) -> Error {
        Error::at(self.sources, self.info, None, msg)
    }

    fn check_keys(
        &self,
        value: &Object,
        source: &dyn fmt::Display,
        required: &[&str],
        optional: &[&str],
    ) -> Result<(), Error> {
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|k| !value.contains(k))
            .collect();
        if !missing.is_empty() {
            return Err(self.err(format!(
                "{source} misses key{} {}",
                if missing.len() > 1 { "s" } else { "" },
                sorted_quoted(missing)
            )));
        }
        let unknown: Vec<&str> = value
            .keys()
            .filter(|k| !required.contains(k) && !optional.contains(k))
            .collect();
        if !unknown.is_empty() {
            return Err(self.err(format!(
                "{source} has unknown key{} {}\nValid keys are {}.",
                if unknown.len() > 1 { "s" } else { "" },
                sorted_quoted(unknown),
                sorted_quoted(required.iter().chain(optional.iter()).copied())
            )));
        }
        Ok(())
    }

    fn check_sugared_keys(
        &self,
        value: &Sugared,
        source: &dyn fmt::Display,
        required: &[&str],
        optional: &[&str],
    ) -> Result<(), Error> {
        match value {
            Sugared::Object(o) => self.check_keys(o, source, required, optional),
            // `{main_key: value}` always passes.
            Sugared::Bare(_) => Ok(()),
        }
    }

    fn name_stem<'n>(&self, name: &'n str, source: &dyn fmt::Display) -> Result<&'n str, Error> {
        name_stem(name).ok_or_else(|| self.err(format!("{source} has an invalid name")))
    }

    fn check_name_lower(
        &self,
        name: &str,
        source: &dyn fmt::Display,
        permit_upper: bool,
        permit_underscore: bool,
    ) -> Result<(), Error> {
        let stem = self.name_stem(name, source)?;
        if violates_lower(stem, permit_upper, permit_underscore) {
            return Err(self.err(format!("name of {source} must not use uppercase or '_'")));
        }
        Ok(())
    }

    fn check_defn_name(&self, name: &str, meta: Meta) -> Result<(), Error> {
        let source = meta.as_str();
        match meta {
            Meta::Event => {
                if violates_upper(self.name_stem(name, &source)?) {
                    return Err(self.err("name of event must not use lowercase or '-'"));
                }
            }
            Meta::Command => {
                let permit = self
                    .pragma
                    .command_name_exceptions
                    .iter()
                    .any(|n| n == name);
                self.check_name_lower(name, &source, false, permit)?;
            }
            _ => {
                if !is_camel(self.name_stem(name, &source)?) {
                    return Err(self.err(format!("name of {source} must use CamelCase")));
                }
                if name.ends_with("List") {
                    return Err(self.err(format!("{source} name should not end in 'List'")));
                }
            }
        }
        Ok(())
    }

    fn check_if(
        &self,
        value: &Sugared,
        source: &dyn fmt::Display,
    ) -> Result<Option<IfCond>, Error> {
        match value.get("if", "") {
            None => Ok(None),
            Some(cond) => self.check_cond(cond, source, 0).map(Some),
        }
    }

    fn check_cond(
        &self,
        cond: &Value,
        source: &dyn fmt::Display,
        depth: usize,
    ) -> Result<IfCond, Error> {
        if depth > MAX_NESTING {
            return Err(self.err(format!("'if' condition of {source} is nested too deeply")));
        }
        let obj = match cond {
            Value::Str(s) => {
                let mut bytes = s.bytes();
                let valid = matches!(bytes.next(), Some(b) if b.is_ascii_uppercase())
                    && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
                if !valid {
                    return Err(self.err(format!(
                        "'if' condition '{s}' of {source} is not a valid identifier"
                    )));
                }
                return Ok(IfCond::Name(s.clone()));
            }
            Value::Object(o) => o,
            _ => {
                return Err(self.err(format!(
                    "'if' condition of {source} must be a string or an object"
                )))
            }
        };
        self.check_keys(obj, &IfSource(source), &[], &["all", "any", "not"])?;
        let Some((op, operand)) = obj.iter().next().filter(|_| obj.len() == 1) else {
            return Err(self.err(format!("'if' condition of {source} has conflicting keys")));
        };
        if op == "not" {
            return Ok(IfCond::Not(Box::new(self.check_cond(
                operand,
                source,
                depth + 1,
            )?)));
        }
        let Some(operands) = operand.as_array() else {
            return Err(self.err(format!("'{op}' condition of {source} must be an array")));
        };
        if operands.is_empty() {
            return Err(self.err(format!("'if' condition [] of {source} is useless")));
        }
        let conds = operands
            .iter()
            .map(|c| self.check_cond(c, source, depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if op == "all" {
            IfCond::All(conds)
        } else {
            IfCond::Any(conds)
        })
    }

    // The checks below move the strings they keep out of the expression
    // (nothing reads them again) instead of copying them.

    fn check_features(&self, features: Option<&mut Value>) -> Result<Vec<FeatureExpr>, Error> {
        let Some(features) = features else {
            return Ok(Vec::new());
        };
        let Some(items) = features.as_array_mut() else {
            return Err(self.err("'features' must be an array"));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let source = "'features' member";
            self.check_sugared_keys(&Sugared::of(item), &source, &["name"], &["if"])?;
            let Some(Value::Str(name)) = member_mut(item, "name", "name") else {
                return Err(self.err(format!("{source} requires a string name")));
            };
            let name = std::mem::take(name);
            let source = Quoted(source, &name);
            self.check_name_lower(&name, &source, false, false)?;
            let ifcond = self.check_if(&Sugared::of(item), &source)?;
            out.push(FeatureExpr { name, ifcond });
        }
        Ok(out)
    }

    fn check_type_name(
        &self,
        value: &mut Value,
        source: &dyn fmt::Display,
    ) -> Result<String, Error> {
        match value {
            Value::Str(s) => Ok(std::mem::take(s)),
            _ => Err(self.err(format!("{source} should be a type name"))),
        }
    }

    fn check_type_name_or_array(
        &self,
        value: &mut Value,
        source: &dyn fmt::Display,
    ) -> Result<TypeRef, Error> {
        match value {
            Value::Str(s) => Ok(TypeRef::Name(std::mem::take(s))),
            Value::Array(items) => match items.as_mut_slice() {
                [Value::Str(s)] => Ok(TypeRef::Array(std::mem::take(s))),
                _ => Err(self.err(format!(
                    "{source}: array type must contain single type name"
                ))),
            },
            _ => Err(self.err(format!("{source} should be a type name or array"))),
        }
    }

    fn check_type_implicit(
        &self,
        value: &mut Value,
        source: &dyn fmt::Display,
        parent_name: Option<&str>,
    ) -> Result<Vec<MemberExpr>, Error> {
        let Some(members) = value.as_object_mut() else {
            return Err(self.err(format!("{source} should be an object or type name")));
        };
        let permissive =
            parent_name.is_some_and(|p| self.pragma.member_name_exceptions.iter().any(|n| n == p));
        let mut out = Vec::with_capacity(members.len());
        for (key, arg) in members.iter_mut() {
            let key = std::mem::take(key);
            let key_source = Keyed(source, &key);
            let (name, optional) = match key.strip_prefix('*') {
                Some(rest) => (rest, true),
                None => (key.as_str(), false),
            };
            self.check_name_lower(name, &key_source, permissive, permissive)?;
            let cname = c_name_raw_bytes(name);
            if cname.clone().eq(*b"u") || cname.take(4).eq(*b"has_") {
                return Err(self.err(format!("{key_source} uses reserved name")));
            }
            let sugared = Sugared::of(arg);
            self.check_sugared_keys(&sugared, &key_source, &["type"], &["if", "features"])?;
            let ifcond = self.check_if(&sugared, &key_source)?;
            let features = self.check_features(member_mut(arg, "features", "type"))?;
            let ty = match member_mut(arg, "type", "type") {
                Some(t) => self.check_type_name_or_array(t, &key_source)?,
                None => return Err(self.err(format!("{key_source} misses key 'type'"))),
            };
            let mut name = key;
            if optional {
                name.remove(0);
            }
            out.push(MemberExpr {
                name,
                optional,
                ty,
                ifcond,
                features,
            });
        }
        Ok(out)
    }

    fn check_type_name_or_implicit(
        &self,
        value: &mut Value,
        source: &dyn fmt::Display,
        parent_name: Option<&str>,
    ) -> Result<Members, Error> {
        if let Value::Str(s) = value {
            return Ok(Members::Named(std::mem::take(s)));
        }
        Ok(Members::Inline(self.check_type_implicit(
            value,
            source,
            parent_name,
        )?))
    }

    fn check_enum(&self, expr: &mut Object, name: &str) -> Result<DefKind, Error> {
        let not_array = || self.err("'data' must be an array");
        if expr.get("data").and_then(Value::as_array).is_none() {
            return Err(not_array());
        }
        let prefix = match expr.get_mut("prefix") {
            None => None,
            Some(Value::Str(p)) => Some(std::mem::take(p)),
            Some(_) => return Err(self.err("'prefix' must be a string")),
        };
        let Some(items) = expr.get_mut("data").and_then(Value::as_array_mut) else {
            return Err(not_array());
        };
        let permissive = self.pragma.member_name_exceptions.iter().any(|n| n == name);
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            let source = "'data' member";
            self.check_sugared_keys(&Sugared::of(item), &source, &["name"], &["if", "features"])?;
            let Some(Value::Str(value)) = member_mut(item, "name", "name") else {
                return Err(self.err(format!("{source} requires a string name")));
            };
            let value = std::mem::take(value);
            let source = Quoted(source, &value);
            // Enum values may start with a digit: check as if prefixed.
            let checked = if value.starts_with(|c: char| c.is_ascii_digit()) {
                std::borrow::Cow::Owned(format!("d{value}"))
            } else {
                std::borrow::Cow::Borrowed(value.as_str())
            };
            self.check_name_lower(&checked, &source, permissive, permissive)?;
            let ifcond = self.check_if(&Sugared::of(item), &source)?;
            let features = self.check_features(member_mut(item, "features", "name"))?;
            values.push(EnumValueExpr {
                name: value,
                ifcond,
                features,
            });
        }
        Ok(DefKind::Enum { values, prefix })
    }

    fn check_branches(&self, data: &mut Object, alternate: bool) -> Result<Vec<BranchExpr>, Error> {
        let mut out = Vec::with_capacity(data.len());
        for (key, value) in data.iter_mut() {
            let key = std::mem::take(key);
            let source = Quoted("'data' member", &key);
            if alternate {
                self.check_name_lower(&key, &source, false, false)?;
            }
            let sugared = Sugared::of(value);
            self.check_sugared_keys(&sugared, &source, &["type"], &["if"])?;
            let ifcond = self.check_if(&sugared, &source)?;
            let Some(ty) = member_mut(value, "type", "type") else {
                return Err(self.err(format!("{source} misses key 'type'")));
            };
            let ty = if alternate {
                self.check_type_name_or_array(ty, &source)?
            } else {
                TypeRef::Name(self.check_type_name(ty, &source)?)
            };
            out.push(BranchExpr {
                name: key,
                ty,
                ifcond,
            });
        }
        Ok(out)
    }

    fn check_union(&self, expr: &mut Object, name: &str) -> Result<DefKind, Error> {
        let mut absent = Value::Bool(false);
        let base = expr.get_mut("base").unwrap_or(&mut absent);
        let base = self.check_type_name_or_implicit(base, &"'base'", Some(name))?;
        let Some(Value::Str(discriminator)) = expr.get_mut("discriminator") else {
            return Err(self.err("'discriminator' requires a string name"));
        };
        let discriminator = std::mem::take(discriminator);
        let Some(data) = expr.get_mut("data").and_then(Value::as_object_mut) else {
            return Err(self.err("'data' must be an object"));
        };
        Ok(DefKind::Union {
            base,
            discriminator,
            branches: self.check_branches(data, false)?,
        })
    }

    fn check_alternate(&self, expr: &mut Object) -> Result<DefKind, Error> {
        let data = expr.get_mut("data");
        if !data.as_deref().is_some_and(Value::is_truthy) {
            return Err(self.err("'data' must not be empty"));
        }
        let Some(data) = data.and_then(Value::as_object_mut) else {
            return Err(self.err("'data' must be an object"));
        };
        Ok(DefKind::Alternate {
            branches: self.check_branches(data, true)?,
        })
    }

    /// `data` of a command or event.
    fn check_args(&self, expr: &mut Object) -> Result<Option<Members>, Error> {
        let boxed = expr.get("boxed").is_some_and(Value::is_truthy);
        let args = expr.get_mut("data");
        if boxed && args.is_none() {
            return Err(self.err("'boxed': true requires 'data'"));
        }
        let Some(args) = args else {
            return Ok(None);
        };
        if boxed {
            return Ok(Some(Members::Named(self.check_type_name(args, &"'data'")?)));
        }
        self.check_type_name_or_implicit(args, &"'data'", None)
            .map(Some)
    }

    /// The flags of any definition (the key checks leave them to commands,
    /// and `boxed` to events too).
    fn check_flags(&self, expr: &Object) -> Result<Command, Error> {
        let mut flags = Command::default();
        for flag in &COMMAND_FLAGS {
            *(flag.field)(&mut flags) = match expr.get(flag.key) {
                None => flag.default,
                Some(Value::Bool(b)) if *b != flag.default => *b,
                Some(_) => {
                    return Err(self.err(format!(
                        "flag '{}' may only use {} value",
                        flag.key,
                        if flag.default { "false" } else { "true" }
                    )))
                }
            };
        }
        if expr.contains("allow-oob") && expr.contains("coroutine") {
            return Err(self.err("flags 'allow-oob' and 'coroutine' are incompatible"));
        }
        Ok(flags)
    }

    fn check_definition(
        &mut self,
        expr: &mut Object,
        info: SourceInfo,
        doc: Option<&Doc>,
    ) -> Result<(Meta, String, DefKind), Error> {
        self.info = info;
        let metas: Vec<Meta> = Meta::ALL
            .into_iter()
            .filter(|m| expr.contains(m.as_str()))
            .collect();
        let [meta] = metas.as_slice() else {
            return Err(self.err(
                "expression must have exactly one key 'enum', 'struct', 'union', 'alternate', 'command', 'event'",
            ));
        };
        let meta = *meta;
        let Some(Value::Str(name)) = expr.get_mut(meta.as_str()) else {
            return Err(self.err(format!("'{}' requires a string name", meta.as_str())));
        };
        let name = std::mem::take(name);
        self.sources.set_defn(info, meta, &name);
        self.check_defn_name(&name, meta)?;
        if let Some(doc) = doc {
            if doc.symbol.as_deref() != Some(name.as_str()) {
                return Err(self.err(format!(
                    "documentation comment is for '{}'",
                    doc.symbol.as_deref().unwrap_or("")
                )));
            }
            doc.check_expr(
                self.sources,
                meta == Meta::Command,
                expr.contains("returns"),
            )?;
        } else if self.pragma.doc_required {
            return Err(self.err("documentation comment required"));
        }
        let source = meta.as_str();
        let kind = match meta {
            Meta::Enum => {
                self.check_keys(
                    expr,
                    &source,
                    &["enum", "data"],
                    &["if", "features", "prefix"],
                )?;
                self.check_enum(expr, &name)?
            }
            Meta::Union => {
                self.check_keys(
                    expr,
                    &source,
                    &["union", "base", "discriminator", "data"],
                    &["if", "features"],
                )?;
                self.check_union(expr, &name)?
            }
            Meta::Alternate => {
                self.check_keys(expr, &source, &["alternate", "data"], &["if", "features"])?;
                self.check_alternate(expr)?
            }
            Meta::Struct => {
                self.check_keys(
                    expr,
                    &source,
                    &["struct", "data"],
                    &["base", "if", "features"],
                )?;
                let mut absent = Value::Bool(false);
                let data = expr.get_mut("data").unwrap_or(&mut absent);
                let members = self.check_type_implicit(data, &"'data'", Some(&name))?;
                let base = match expr.get_mut("base") {
                    None => None,
                    Some(b) => Some(self.check_type_name(b, &"'base'")?),
                };
                DefKind::Struct { base, members }
            }
            Meta::Command => {
                self.check_keys(expr, &source, &["command"], &COMMAND_KEYS)?;
                let data = self.check_args(expr)?;
                let returns = match expr.get_mut("returns") {
                    None => None,
                    Some(r) => Some(self.check_type_name_or_array(r, &"'returns'")?),
                };
                DefKind::Command { data, returns }
            }
            Meta::Event => {
                self.check_keys(
                    expr,
                    &source,
                    &["event"],
                    &["data", "boxed", "if", "features"],
                )?;
                DefKind::Event {
                    data: self.check_args(expr)?,
                }
            }
        };
        Ok((meta, name, kind))
    }
}

/// Runs pass 2 over all expressions in order.
pub(crate) fn check_exprs(
    exprs: Vec<TopExpr>,
    sources: &mut Sources,
    pragma: &Pragma,
    docs: &[Doc],
) -> Result<Vec<CheckedExpr>, Error> {
    sources.reserve_defns(exprs.len());
    let mut checker = Checker {
        sources,
        pragma,
        info: SourceInfo {
            file: crate::source::FileId(0),
            line: 0,
        },
    };
    let mut out = Vec::with_capacity(exprs.len());
    for expr in exprs {
        let (mut expr, info, doc) = match expr {
            TopExpr::Include { path, info } => {
                out.push(CheckedExpr::Include { path, info });
                continue;
            }
            TopExpr::Definition { expr, info, doc } => (expr, info, doc),
        };
        let (meta, name, kind) =
            checker.check_definition(&mut expr, info, doc.and_then(|d| docs.get(d)))?;
        let whole = Sugared::Object(&expr);
        let ifcond = checker.check_if(&whole, &meta.as_str())?;
        let features = checker.check_features(expr.get_mut("features"))?;
        let flags = checker.check_flags(&expr)?;
        out.push(CheckedExpr::Definition(DefExpr {
            name,
            info,
            doc,
            ifcond,
            features,
            flags,
            kind,
        }));
    }
    Ok(out)
}
