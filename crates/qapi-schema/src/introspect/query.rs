//! Schema paths: "does this QEMU have X?" asked the way libvirt asks it
//! (`blockdev-add/arg-type/+file/aio/^io_uring`), answered from a
//! [`SchemaInfo`] (a live server's `query-qmp-schema`, a saved reply, or a
//! compiled schema).
//!
//! A path is components separated by `/`. The first names an entry (a
//! command, an event, or a type by the name the list uses). Each further
//! component steps into the entry reached so far:
//!
//! | component | on | means |
//! |---|---|---|
//! | `arg-type`, `ret-type` | command, event | its argument (or data) type, its return type |
//! | `name` | object | the type of member `name` |
//! | `*name` | object | the same, and the member must be optional |
//! | `+case` | union | the branch type selected by tag value `case` |
//! | `^value` | enum | the enum has `value` (last, or followed by one `$feature` of that value) |
//! | `!json-type` | built-in | the built-in's JSON type is `json-type` (`string`, `int`, `number`, `boolean`, `null`, `value`); last |
//! | `$feature` | command, event, object | the entry has `feature`; last |
//! | ` name` | as `name` | a leading space lets a name start with any character |
//!
//! Arrays are stepped through to their element type; an alternate answers
//! yes when any of its branch types does. A step that does not fit the
//! entry (a member of an enum, `^` on an object) answers no. A path that
//! cannot be read at all (empty, an empty component, a `$`, `!` or `^`
//! component followed by others it does not allow, a name starting with a
//! character that is neither a letter nor one of the prefixes) is an
//! error, as is a list whose names refer to entries it does not have.

use std::fmt;

use super::{has_feature, EntryKind, SchemaInfo};

/// How deep a path may lead through arrays and alternates, which do not
/// consume a component; deeper means a list that refers to itself.
pub const MAX_QUERY_DEPTH: usize = 64;

/// Why a path could not be answered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The path is not in the path syntax.
    #[error("malformed schema path '{path}': {reason}")]
    Malformed {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The list refers to an entry it does not have, or loops.
    #[error("schema path '{path}': the schema is broken at '{component}': {reason}")]
    Broken {
        /// The path as given.
        path: String,
        /// The component being answered.
        component: String,
        /// What is wrong with the list.
        reason: String,
    },
}

/// One component of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step<'p> {
    /// A member, or a command's `arg-type`/`ret-type`; `optional` for `*`.
    Name { name: &'p str, optional: bool },
    /// `+case`
    Branch(&'p str),
    /// `^value`, with the feature of a following `$feature`.
    EnumValue(&'p str, Option<&'p str>),
    /// `!json-type`
    JsonType(&'p str),
    /// `$feature`
    Feature(&'p str),
}

impl fmt::Display for Step<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Name { name, optional } => {
                write!(f, "{}{name}", if *optional { "*" } else { "" })
            }
            Step::Branch(case) => write!(f, "+{case}"),
            Step::EnumValue(value, None) => write!(f, "^{value}"),
            Step::EnumValue(value, Some(feature)) => write!(f, "^{value}/${feature}"),
            Step::JsonType(ty) => write!(f, "!{ty}"),
            Step::Feature(feature) => write!(f, "${feature}"),
        }
    }
}

/// A path read into its entry name and steps.
fn parse(path: &str) -> Result<(&str, Vec<Step<'_>>), QueryError> {
    let malformed = |reason: String| QueryError::Malformed {
        path: path.to_string(),
        reason,
    };
    let mut parts = path.split('/');
    let first = parts.next().unwrap_or_default();
    if first.is_empty() {
        return Err(malformed("it names no command, event or type".into()));
    }
    let parts: Vec<&str> = parts.collect();
    let mut steps = Vec::with_capacity(parts.len());
    let mut i = 0;
    while let Some(&part) = parts.get(i) {
        i += 1;
        let mut chars = part.chars();
        let Some(prefix) = chars.next() else {
            return Err(malformed(format!("component {} is empty", i + 1)));
        };
        let rest = chars.as_str();
        if !prefix.is_ascii_alphabetic() && rest.is_empty() {
            return Err(malformed(format!("'{part}' names nothing")));
        }
        let last = i == parts.len();
        let step = match prefix {
            c if c.is_ascii_alphabetic() => Step::Name {
                name: part,
                optional: false,
            },
            ' ' => Step::Name {
                name: rest,
                optional: false,
            },
            '*' => Step::Name {
                name: rest,
                optional: true,
            },
            '+' => Step::Branch(rest),
            '^' => {
                let feature = match parts.get(i) {
                    None => None,
                    Some(next) if i + 1 == parts.len() && next.len() > 1 => {
                        next.strip_prefix('$')
                    }
                    Some(_) => None,
                };
                if !last && feature.is_none() {
                    return Err(malformed(format!(
                        "'{part}' may be followed only by one '$feature'"
                    )));
                }
                i += usize::from(feature.is_some());
                Step::EnumValue(rest, feature)
            }
            '!' | '$' if !last => {
                return Err(malformed(format!("'{part}' must be the last component")));
            }
            '!' => Step::JsonType(rest),
            '$' => Step::Feature(rest),
            _ => {
                return Err(malformed(format!(
                    "'{part}' starts with '{prefix}', which is not a prefix (a name that starts so is written with a leading space)"
                )))
            }
        };
        steps.push(step);
    }
    Ok((first, steps))
}

/// Checks that `path` is in the path syntax, without answering it (so a
/// caller can refuse a malformed path before it loads a schema).
pub fn check(path: &str) -> Result<(), QueryError> {
    parse(path).map(|_| ())
}

impl SchemaInfo {
    /// Answers a schema path in libvirt's syntax (see the
    /// [`query` module](crate::introspect::query)): `Ok(true)` when the entry, member, branch,
    /// enum value, JSON type or feature exists, `Ok(false)` when it does
    /// not, an error for a malformed path or a broken list.
    ///
    /// ```
    /// # use qapi_schema::{load_str, LoadOptions, Conditions};
    /// # use qapi_schema::introspect::{IntrospectOptions, SchemaInfo};
    /// let schema = load_str("s.json", "
    ///     { 'enum': 'Aio', 'data': [ 'threads', 'native' ] }
    ///     { 'command': 'open', 'data': { 'file': 'str', '*aio': 'Aio' } }",
    ///     LoadOptions::default()).map_err(|e| e.to_string())?;
    /// let info = SchemaInfo::from_schema(&schema, &Conditions::All, IntrospectOptions::default());
    /// assert_eq!(info.query("open/arg-type/*aio/^native"), Ok(true));
    /// assert_eq!(info.query("open/arg-type/*file"), Ok(false));
    /// assert!(info.query("open/$").is_err());
    /// # Ok::<(), String>(())
    /// ```
    pub fn query(&self, path: &str) -> Result<bool, QueryError> {
        let (first, steps) = parse(path)?;
        if self.get(first).is_none() {
            return Ok(false);
        }
        Walk { info: self, path }.answer(first, &steps, 0)
    }
}

/// One path being answered.
struct Walk<'a> {
    info: &'a SchemaInfo,
    path: &'a str,
}

impl Walk<'_> {
    fn broken(&self, component: &str, reason: String) -> QueryError {
        QueryError::Broken {
            path: self.path.to_string(),
            component: component.to_string(),
            reason,
        }
    }

    /// Whether `steps` lead somewhere from the entry `name`.
    fn answer(&self, name: &str, steps: &[Step<'_>], depth: usize) -> Result<bool, QueryError> {
        let Some((step, rest)) = steps.split_first() else {
            return Ok(true);
        };
        if depth > MAX_QUERY_DEPTH {
            return Err(self.broken(&step.to_string(), "the types refer to themselves".into()));
        }
        let Some(entry) = self.info.get(name) else {
            return Err(self.broken(&step.to_string(), format!("the list has no entry '{name}'")));
        };
        let next = |ty: &str| self.answer(ty, rest, depth + 1);
        match (&entry.kind, step) {
            (
                EntryKind::Command { .. } | EntryKind::Event { .. } | EntryKind::Object { .. },
                Step::Feature(feature),
            ) => Ok(has_feature(&entry.features, feature)),
            (
                EntryKind::Command {
                    arg_type, ret_type, ..
                },
                Step::Name {
                    name,
                    optional: false,
                },
            ) => match *name {
                "arg-type" => next(arg_type),
                "ret-type" => next(ret_type),
                _ => Ok(false),
            },
            (
                EntryKind::Event { arg_type },
                Step::Name {
                    name: "arg-type",
                    optional: false,
                },
            ) => next(arg_type),
            (EntryKind::Object { members, .. }, Step::Name { name, optional }) => {
                match members.iter().find(|m| m.name == *name) {
                    Some(m) if m.optional || !optional => next(&m.ty),
                    _ => Ok(false),
                }
            }
            (EntryKind::Object { variants, .. }, Step::Branch(case)) => {
                match variants.iter().find(|v| v.case == *case) {
                    Some(v) => next(&v.ty),
                    None => Ok(false),
                }
            }
            (EntryKind::Enum { members, .. }, Step::EnumValue(value, feature)) => {
                Ok(match members.iter().find(|m| m.name == *value) {
                    Some(m) => feature.is_none_or(|f| has_feature(&m.features, f)),
                    None => false,
                })
            }
            (EntryKind::Builtin { json_type }, Step::JsonType(ty)) => Ok(json_type.as_str() == *ty),
            // Arrays are stepped through: the same step on the element.
            (EntryKind::Array { element_type }, _) => self.answer(element_type, steps, depth + 1),
            (EntryKind::Alternate { members }, _) => {
                for ty in members {
                    if self.answer(ty, steps, depth + 1)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_into_steps() {
        let (first, steps) = parse("blockdev-add/arg-type/+file/aio/^io_uring").unwrap_or_default();
        assert_eq!(first, "blockdev-add");
        assert_eq!(
            steps,
            [
                Step::Name {
                    name: "arg-type",
                    optional: false
                },
                Step::Branch("file"),
                Step::Name {
                    name: "aio",
                    optional: false
                },
                Step::EnumValue("io_uring", None),
            ]
        );
        let (_, steps) = parse("x/^v/$f").unwrap_or_default();
        assert_eq!(steps, [Step::EnumValue("v", Some("f"))]);
        let (_, steps) = parse("x/ __com.redhat_y/*z").unwrap_or_default();
        assert_eq!(
            steps,
            [
                Step::Name {
                    name: "__com.redhat_y",
                    optional: false
                },
                Step::Name {
                    name: "z",
                    optional: true
                }
            ]
        );
    }

    #[test]
    fn malformed_paths_say_why() {
        for (path, reason) in [
            ("", "it names no command, event or type"),
            ("/x", "it names no command, event or type"),
            ("x//y", "component 2 is empty"),
            ("x/$f/y", "'$f' must be the last component"),
            ("x/!int/y", "'!int' must be the last component"),
            ("x/^v/w", "'^v' may be followed only by one '$feature'"),
            ("x/^v/$f/$g", "'^v' may be followed only by one '$feature'"),
            ("x/+", "'+' names nothing"),
            (
                "x/_y",
                "'_y' starts with '_', which is not a prefix (a name that starts so is written with a leading space)",
            ),
        ] {
            assert_eq!(
                parse(path),
                Err(QueryError::Malformed {
                    path: path.into(),
                    reason: reason.into()
                }),
                "{path}"
            );
        }
    }
}
