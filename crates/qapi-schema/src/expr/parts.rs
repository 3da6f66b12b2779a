//! The checks of the parts definitions share: valid keys, names,
//! conditions, features, type references and members, and the sugar of
//! members written as a bare type or name.

use std::fmt;

use crate::error::Error;
use crate::ifcond::IfCond;
use crate::names::{c_name_raw_bytes, name_stem, violates_lower};
use crate::parser::MAX_NESTING;
use crate::value::{Object, Value};

use super::ast::{FeatureExpr, MemberExpr, Members, TypeRef};
use super::check::Checker;

/// What a message is about, formatted only when an error is reported:
/// `PREFIX 'NAME'`.
pub(super) struct Quoted<'a>(pub(super) &'a str, pub(super) &'a str);

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
pub(super) enum Sugared<'v> {
    Object(&'v Object),
    Bare(&'v Value),
}

impl<'v> Sugared<'v> {
    pub(super) fn of(value: &'v Value) -> Self {
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
pub(super) fn member_mut<'v>(
    value: &'v mut Value,
    key: &str,
    main_key: &str,
) -> Option<&'v mut Value> {
    match value {
        Value::Object(o) => o.get_mut(key),
        other => (key == main_key).then_some(other),
    }
}

impl Checker<'_> {
    pub(super) fn check_keys(
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

    pub(super) fn check_sugared_keys(
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

    pub(super) fn name_stem<'n>(
        &self,
        name: &'n str,
        source: &dyn fmt::Display,
    ) -> Result<&'n str, Error> {
        name_stem(name).ok_or_else(|| self.err(format!("{source} has an invalid name")))
    }

    pub(super) fn check_name_lower(
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
    pub(super) fn check_if(
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

    pub(super) fn check_features(
        &self,
        features: Option<&mut Value>,
    ) -> Result<Vec<FeatureExpr>, Error> {
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

    pub(super) fn check_type_name(
        &self,
        value: &mut Value,
        source: &dyn fmt::Display,
    ) -> Result<String, Error> {
        match value {
            Value::Str(s) => Ok(std::mem::take(s)),
            _ => Err(self.err(format!("{source} should be a type name"))),
        }
    }

    pub(super) fn check_type_name_or_array(
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

    pub(super) fn check_type_implicit(
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

    pub(super) fn check_type_name_or_implicit(
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
}
