//! The checks of each kind of definition (enum, struct, union, alternate,
//! command, event) and of the keys, name, doc and flags of a definition,
//! in QEMU's order.

use crate::doc::Doc;
use crate::error::Error;
use crate::model::{Command, COMMAND_FLAGS};
use crate::names::{is_camel, violates_upper};
use crate::parser::{Pragma, TopExpr};
use crate::source::{Meta, SourceInfo, Sources};
use crate::value::{Object, Value};

use super::ast::{BranchExpr, CheckedExpr, DefExpr, DefKind, EnumValueExpr, Members, TypeRef};
use super::parts::{member_mut, Quoted, Sugared};

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

/// Checks the definitions of one schema, one at a time.
pub(super) struct Checker<'a> {
    pub(super) sources: &'a mut Sources,
    pub(super) pragma: &'a Pragma,
    pub(super) info: SourceInfo,
}

impl Checker<'_> {
    /// An error at the definition being checked.
    pub(super) fn err(&self, msg: impl Into<String>) -> Error {
        Error::at(self.sources, self.info, None, msg)
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
