//! The API change report between two `SchemaInfo` lists: commands, events,
//! types, members and enum values added, removed or changed, and items
//! that became deprecated or unstable.
//!
//! Both lists may have real type names (built from QAPI schemas) or
//! QEMU's masked numbers (saved `query-qmp-schema` replies). With real
//! names on both sides, changes inside a named type are reported once,
//! under the type; otherwise they are reported under the first command or
//! event argument path that leads to them.

use std::collections::HashSet;
use std::fmt;

use super::{has_feature, Entry, EntryKind, MemberInfo, SchemaInfo};

/// What happened to an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// New in the newer list.
    Added,
    /// Gone from the newer list.
    Removed,
    /// Present in both, but different.
    Changed,
    /// Newly marked `deprecated`.
    Deprecated,
    /// Newly marked `unstable`.
    Unstable,
}

impl ChangeKind {
    /// The word for reports.
    pub fn word(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
            ChangeKind::Deprecated => "deprecated",
            ChangeKind::Unstable => "unstable",
        }
    }
}

/// One difference.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// The item, e.g. `command 'migrate' argument 'blk'`.
    pub what: String,
    /// Details, e.g. `type str -> int` or `now optional`.
    pub detail: Option<String>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.word(), self.what)?;
        if let Some(detail) = &self.detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

/// True when `name` is one of QEMU's masked type names.
fn masked(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
}

/// True when type `name` is reported under its own name (real, named,
/// not an implicit argument type).
fn reportable(name: &str, named: bool) -> bool {
    named && !name.starts_with("q_") && !name.starts_with('[')
}

/// One of the [`Entry`] lookups of a command's or event's types.
type TypeOf = fn(&Entry) -> Option<&str>;

struct Differ<'a> {
    old: &'a SchemaInfo,
    new: &'a SchemaInfo,
    named: bool,
    changes: Vec<Change>,
    /// Type pairs already compared.
    seen: HashSet<(String, String)>,
}

/// The changes from `old` to `new`.
pub fn diff(old: &SchemaInfo, new: &SchemaInfo) -> Vec<Change> {
    let named = !old
        .entries()
        .iter()
        .chain(new.entries())
        .any(|e| masked(&e.name));
    let mut differ = Differ {
        old,
        new,
        named,
        changes: Vec::new(),
        seen: HashSet::new(),
    };
    differ.roots(true);
    differ.roots(false);
    if named {
        differ.unused_types();
    }
    differ.changes
}

impl<'a> Differ<'a> {
    fn push(&mut self, kind: ChangeKind, what: String, detail: Option<String>) {
        self.changes.push(Change { kind, what, detail });
    }

    /// Commands (or events): added, removed, and compared.
    fn roots(&mut self, commands: bool) {
        let meta = if commands { "command" } else { "event" };
        let list = |info: &'a SchemaInfo| -> Vec<&'a Entry> {
            if commands {
                info.commands().collect()
            } else {
                info.events().collect()
            }
        };
        let (old, new) = (list(self.old), list(self.new));
        for entry in &old {
            if !new.iter().any(|e| e.name == entry.name) {
                self.push(
                    ChangeKind::Removed,
                    format!("{meta} '{}'", entry.name),
                    None,
                );
            }
        }
        for entry in &new {
            let what = format!("{meta} '{}'", entry.name);
            let Some(before) = old.iter().find(|e| e.name == entry.name) else {
                self.push(ChangeKind::Added, what, None);
                continue;
            };
            self.features(&what, &before.features, &entry.features);
            let oob = |e: &Entry| {
                matches!(
                    e.kind,
                    EntryKind::Command {
                        allow_oob: true,
                        ..
                    }
                )
            };
            if oob(before) != oob(entry) {
                let detail = if oob(entry) {
                    "now allows out-of-band"
                } else {
                    "no longer allows out-of-band"
                };
                self.push(ChangeKind::Changed, what.clone(), Some(detail.into()));
            }
            let parts: &[(&str, TypeOf)] = if commands {
                &[("argument", Entry::arg_type), ("return", Entry::ret_type)]
            } else {
                &[("data", Entry::arg_type)]
            };
            for (part, type_of) in parts {
                if let (Some(a), Some(b)) = (type_of(before), type_of(entry)) {
                    self.types(&format!("{what} {part}"), a, b);
                }
            }
        }
    }

    /// Newly deprecated or unstable.
    fn features(&mut self, what: &str, old: &Option<Vec<String>>, new: &Option<Vec<String>>) {
        for (feature, kind) in [
            ("deprecated", ChangeKind::Deprecated),
            ("unstable", ChangeKind::Unstable),
        ] {
            if has_feature(new, feature) && !has_feature(old, feature) {
                self.push(kind, what.to_owned(), None);
            }
        }
    }

    /// A short description of a type for "type X -> Y" details.
    fn describe(&self, info: &SchemaInfo, name: &str) -> String {
        match info.get(name).map(|e| &e.kind) {
            Some(EntryKind::Builtin { .. }) => name.to_owned(),
            Some(EntryKind::Array { element_type }) => {
                format!("[{}]", self.describe(info, element_type))
            }
            Some(kind) if !self.named || masked(name) => kind.meta_type().to_owned(),
            Some(kind) => format!("{} {name}", kind.meta_type()),
            None => name.to_owned(),
        }
    }

    /// Compares the types at `path` (`old` and `new` name them).
    fn types(&mut self, path: &str, old: &str, new: &str) {
        let (Some(before), Some(after)) = (self.old.get(old), self.new.get(new)) else {
            return;
        };
        // With real names, a named type is compared once, under its name.
        let under_name = reportable(old, self.named) && reportable(new, self.named);
        if under_name && old != new {
            self.push(
                ChangeKind::Changed,
                path.to_owned(),
                Some(format!(
                    "type {} -> {}",
                    self.describe(self.old, old),
                    self.describe(self.new, new)
                )),
            );
            return;
        }
        if !self.seen.insert((old.to_owned(), new.to_owned())) {
            return;
        }
        let path = if under_name {
            format!(
                "{} '{new}'",
                after.kind.meta_type().replace("object", "type")
            )
        } else {
            path.to_owned()
        };
        if under_name {
            self.features(&path, &before.features, &after.features);
        }
        match (&before.kind, &after.kind) {
            (EntryKind::Builtin { .. }, EntryKind::Builtin { .. }) => {
                if old != new {
                    self.push(
                        ChangeKind::Changed,
                        path,
                        Some(format!("type {old} -> {new}")),
                    );
                }
            }
            (EntryKind::Array { element_type: a }, EntryKind::Array { element_type: b }) => {
                self.types(&format!("{path}[]"), a, b);
            }
            (EntryKind::Enum { members: a, .. }, EntryKind::Enum { members: b, .. }) => {
                for value in a.iter().filter(|v| !b.iter().any(|w| w.name == v.name)) {
                    self.push(
                        ChangeKind::Removed,
                        format!("{path} value '{}'", value.name),
                        None,
                    );
                }
                for value in b {
                    let what = format!("{path} value '{}'", value.name);
                    match a.iter().find(|v| v.name == value.name) {
                        Some(was) => self.features(&what, &was.features, &value.features),
                        None => self.push(ChangeKind::Added, what, None),
                    }
                }
            }
            (
                EntryKind::Object {
                    members: a,
                    variants: va,
                    ..
                },
                EntryKind::Object {
                    members: b,
                    variants: vb,
                    ..
                },
            ) => {
                self.members(&path, a, b);
                for variant in va.iter().filter(|v| !vb.iter().any(|w| w.case == v.case)) {
                    self.push(
                        ChangeKind::Removed,
                        format!("{path} branch '{}'", variant.case),
                        None,
                    );
                }
                for variant in vb {
                    let what = format!("{path} branch '{}'", variant.case);
                    match va.iter().find(|v| v.case == variant.case) {
                        Some(was) => self.types(&what, &was.ty, &variant.ty),
                        None => self.push(ChangeKind::Added, what, None),
                    }
                }
            }
            (EntryKind::Alternate { members: a }, EntryKind::Alternate { members: b }) => {
                let describe_all = |info: &SchemaInfo, list: &[String]| -> Vec<String> {
                    list.iter().map(|t| self.describe(info, t)).collect()
                };
                let (da, db) = (describe_all(self.old, a), describe_all(self.new, b));
                if da != db {
                    self.push(
                        ChangeKind::Changed,
                        path,
                        Some(format!(
                            "alternative of {} -> {}",
                            da.join(" | "),
                            db.join(" | ")
                        )),
                    );
                }
            }
            _ => self.push(
                ChangeKind::Changed,
                path,
                Some(format!(
                    "type {} -> {}",
                    self.describe(self.old, old),
                    self.describe(self.new, new)
                )),
            ),
        }
    }

    /// Members of an object: added, removed, optional or not, retyped.
    fn members(&mut self, path: &str, old: &[MemberInfo], new: &[MemberInfo]) {
        // Right under a command or event, members are its arguments or data.
        let direct = [" argument", " data", " return"]
            .iter()
            .any(|s| path.ends_with(s));
        let name_of = |m: &MemberInfo| {
            if direct {
                format!("{path} '{}'", m.name)
            } else {
                format!("{path} member '{}'", m.name)
            }
        };
        for member in old.iter().filter(|m| !new.iter().any(|n| n.name == m.name)) {
            self.push(ChangeKind::Removed, name_of(member), None);
        }
        for member in new {
            let what = name_of(member);
            let Some(was) = old.iter().find(|m| m.name == member.name) else {
                let detail = if member.optional {
                    "optional"
                } else {
                    "mandatory"
                };
                self.push(ChangeKind::Added, what, Some(detail.into()));
                continue;
            };
            if was.optional != member.optional {
                let detail = if member.optional {
                    "now optional"
                } else {
                    "now mandatory"
                };
                self.push(ChangeKind::Changed, what.clone(), Some(detail.into()));
            }
            self.features(&what, &was.features, &member.features);
            self.types(&what, &was.ty, &member.ty);
        }
    }

    /// Named types no command or event reaches, added or removed.
    fn unused_types(&mut self) {
        let named = |info: &'a SchemaInfo| {
            info.entries()
                .iter()
                .filter(|e| !matches!(e.kind, EntryKind::Command { .. } | EntryKind::Event { .. }))
                .filter(|e| reportable(&e.name, true))
                .map(|e| e.name.as_str())
                .collect::<HashSet<&str>>()
        };
        let (old, new) = (named(self.old), named(self.new));
        let mut removed: Vec<&str> = old.difference(&new).copied().collect();
        let mut added: Vec<&str> = new.difference(&old).copied().collect();
        removed.sort_unstable();
        added.sort_unstable();
        for name in removed {
            self.push(ChangeKind::Removed, format!("type '{name}'"), None);
        }
        for name in added {
            self.push(ChangeKind::Added, format!("type '{name}'"), None);
        }
    }
}
