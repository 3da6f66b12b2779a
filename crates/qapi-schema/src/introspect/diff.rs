//! The API change report between two `SchemaInfo` lists: commands, events,
//! types, members and enum values added, removed, changed or renamed, and
//! items that became deprecated or unstable, each classified for clients
//! ([`Compat`]) as `buf breaking` classifies protobuf changes: what a
//! client sends (command arguments) may not lose anything it could send
//! nor demand anything new; what it receives (returns, event data) may
//! not lose anything it could rely on. Type names are not on the wire, so
//! a type renamed with the same contents is no break.
//!
//! Both lists may have real type names (built from QAPI schemas) or
//! QEMU's masked numbers (saved `query-qmp-schema` replies). With real
//! names on both sides, changes inside a named type are reported once,
//! under the type; otherwise they are reported under the first command or
//! event argument path that leads to them.

use std::collections::{HashMap, HashSet};
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
    /// A named type under a new name (its contents are compared as well).
    Renamed,
}

/// What a change means to a client of the older API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Compat {
    /// A client of the older API may fail against the newer one: a
    /// command, event, argument or enum value it could send removed; an
    /// argument made mandatory, added as mandatory or changed in type; a
    /// member it receives removed, made optional or changed in type; a
    /// command no longer allowed out of band.
    Breaking,
    /// A client of the older API works unchanged.
    Compatible,
    /// A type renamed; nothing changes on the wire by the rename itself.
    Rename,
}

impl Compat {
    /// The word for reports.
    pub fn word(self) -> &'static str {
        match self {
            Compat::Breaking => "breaking",
            Compat::Compatible => "compatible",
            Compat::Rename => "rename",
        }
    }
}

/// Which way the values of a type travel, seen from the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Side {
    /// Sent by the client: command arguments.
    Input,
    /// Received by the client: command returns and event data.
    Output,
}

impl Side {
    /// `Breaking` when `breaks` holds for this side.
    fn compat(self, input_breaks: bool, output_breaks: bool) -> Compat {
        let breaks = match self {
            Side::Input => input_breaks,
            Side::Output => output_breaks,
        };
        if breaks {
            Compat::Breaking
        } else {
            Compat::Compatible
        }
    }
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
            ChangeKind::Renamed => "renamed",
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
    /// What it means to a client.
    pub compat: Compat,
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

/// The integers a built-in integer type takes from a client (QEMU's
/// `uint64` and `size` also take negative numbers, wrapped) and the ones
/// it can send to a client; `None` for other types.
fn int_ranges(name: &str) -> Option<((i128, i128), (i128, i128))> {
    let range = |min: i128, max: i128| Some(((min, max), (min, max)));
    match name {
        "int" | "int64" => range(i64::MIN.into(), i64::MAX.into()),
        "int32" => range(i32::MIN.into(), i32::MAX.into()),
        "int16" => range(i16::MIN.into(), i16::MAX.into()),
        "int8" => range(i8::MIN.into(), i8::MAX.into()),
        "uint32" => range(0, u32::MAX.into()),
        "uint16" => range(0, u16::MAX.into()),
        "uint8" => range(0, u8::MAX.into()),
        "uint64" | "size" => Some(((i64::MIN.into(), u64::MAX.into()), (0, u64::MAX.into()))),
        _ => None,
    }
}

/// What a change between built-in types means on `side`: compatible for
/// integers when every value a client could send is still taken, or every
/// value it may receive was possible before; breaking otherwise.
fn builtin_change(old: &str, new: &str, side: Side) -> Compat {
    let (Some((old_in, old_out)), Some((new_in, new_out))) = (int_ranges(old), int_ranges(new))
    else {
        return Compat::Breaking;
    };
    let within =
        |inner: (i128, i128), outer: (i128, i128)| outer.0 <= inner.0 && inner.1 <= outer.1;
    side.compat(!within(old_in, new_in), !within(new_out, old_out))
}

/// One of the [`Entry`] lookups of a command's or event's types.
type TypeOf = fn(&Entry) -> Option<&str>;

struct Differ<'a> {
    old: &'a SchemaInfo,
    new: &'a SchemaInfo,
    named: bool,
    changes: Vec<Change>,
    /// Type pairs already compared, with the side they were compared for.
    seen: HashSet<(String, String, Side)>,
    /// Renames already reported.
    renames: HashSet<(String, String)>,
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
        renames: HashSet::new(),
    };
    differ.roots(true);
    differ.roots(false);
    if named {
        differ.unused_types();
    }
    merge_sides(differ.changes)
}

/// One change per item: a type that is both sent and received reports its
/// changes once for each side; the worse class stands.
fn merge_sides(changes: Vec<Change>) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::with_capacity(changes.len());
    let mut index: HashMap<(ChangeKind, String, Option<String>), usize> = HashMap::new();
    for change in changes {
        let key = (change.kind, change.what.clone(), change.detail.clone());
        match index.get(&key).and_then(|&i| out.get_mut(i)) {
            Some(kept) => kept.compat = kept.compat.min(change.compat),
            None => {
                index.insert(key, out.len());
                out.push(change);
            }
        }
    }
    out
}

impl<'a> Differ<'a> {
    fn push(&mut self, compat: Compat, kind: ChangeKind, what: String, detail: Option<String>) {
        self.changes.push(Change {
            kind,
            what,
            detail,
            compat,
        });
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
                    Compat::Breaking,
                    ChangeKind::Removed,
                    format!("{meta} '{}'", entry.name),
                    None,
                );
            }
        }
        for entry in &new {
            let what = format!("{meta} '{}'", entry.name);
            let Some(before) = old.iter().find(|e| e.name == entry.name) else {
                self.push(Compat::Compatible, ChangeKind::Added, what, None);
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
                let (compat, detail) = if oob(entry) {
                    (Compat::Compatible, "now allows out-of-band")
                } else {
                    (Compat::Breaking, "no longer allows out-of-band")
                };
                self.push(
                    compat,
                    ChangeKind::Changed,
                    what.clone(),
                    Some(detail.into()),
                );
            }
            let parts: &[(&str, TypeOf, Side)] = if commands {
                &[
                    ("argument", Entry::arg_type, Side::Input),
                    ("return", Entry::ret_type, Side::Output),
                ]
            } else {
                &[("data", Entry::arg_type, Side::Output)]
            };
            for (part, type_of, side) in parts {
                if let (Some(a), Some(b)) = (type_of(before), type_of(entry)) {
                    self.types(&format!("{what} {part}"), a, b, *side);
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
                self.push(Compat::Compatible, kind, what.to_owned(), None);
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

    /// Compares the types at `path` (`old` and `new` name them), whose
    /// values travel on `side`.
    fn types(&mut self, path: &str, old: &str, new: &str, side: Side) {
        let (Some(before), Some(after)) = (self.old.get(old), self.new.get(new)) else {
            return;
        };
        // With real names, a named type is compared once, under its name.
        let under_name = reportable(old, self.named) && reportable(new, self.named);
        if under_name && old != new {
            let builtin = matches!(before.kind, EntryKind::Builtin { .. })
                || matches!(after.kind, EntryKind::Builtin { .. });
            let same_kind = before.kind.meta_type() == after.kind.meta_type();
            let renamed = self.new.get(old).is_none() && self.old.get(new).is_none();
            if builtin || !same_kind {
                let both_builtin = matches!(before.kind, EntryKind::Builtin { .. })
                    && matches!(after.kind, EntryKind::Builtin { .. });
                let compat = if both_builtin {
                    builtin_change(old, new, side)
                } else {
                    Compat::Breaking
                };
                self.retyped(compat, path, old, new, "");
                return;
            }
            if !renamed {
                // Another type here, both types living on: its contents
                // decide, compared at this path.
                let start = self.changes.len();
                if self.seen.insert((old.to_owned(), new.to_owned(), side)) {
                    self.contents(path, old, new, side);
                }
                let found = self.changes.get(start..).unwrap_or_default();
                let (compat, note) = if found.iter().any(|c| c.compat == Compat::Breaking) {
                    (Compat::Breaking, "")
                } else if found.is_empty() {
                    (Compat::Rename, ", the same on the wire")
                } else {
                    (Compat::Compatible, "")
                };
                self.retyped(compat, path, old, new, note);
                return;
            }
            // A rename: reported once, then the contents are compared
            // (under the new name) like those of any other type.
            if self.renames.insert((old.to_owned(), new.to_owned())) {
                let meta = before.kind.meta_type().replace("object", "type");
                self.push(
                    Compat::Rename,
                    ChangeKind::Renamed,
                    format!("{meta} '{old}'"),
                    Some(format!("now '{new}'")),
                );
            }
        }
        if !self.seen.insert((old.to_owned(), new.to_owned(), side)) {
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
        self.contents(&path, old, new, side);
    }

    /// `changed: PATH (type OLD -> NEW[note])`.
    fn retyped(&mut self, compat: Compat, path: &str, old: &str, new: &str, note: &str) {
        let detail = format!(
            "type {} -> {}{note}",
            self.describe(self.old, old),
            self.describe(self.new, new)
        );
        self.push(compat, ChangeKind::Changed, path.to_owned(), Some(detail));
    }

    /// Compares what types `old` and `new` hold, reporting under `path`.
    fn contents(&mut self, path: &str, old: &str, new: &str, side: Side) {
        let (Some(before), Some(after)) = (self.old.get(old), self.new.get(new)) else {
            return;
        };
        let path = path.to_owned();
        match (&before.kind, &after.kind) {
            (EntryKind::Builtin { .. }, EntryKind::Builtin { .. }) => {
                if old != new {
                    self.push(
                        builtin_change(old, new, side),
                        ChangeKind::Changed,
                        path,
                        Some(format!("type {old} -> {new}")),
                    );
                }
            }
            (EntryKind::Array { element_type: a }, EntryKind::Array { element_type: b }) => {
                self.types(&format!("{path}[]"), a, b, side);
            }
            (EntryKind::Enum { members: a, .. }, EntryKind::Enum { members: b, .. }) => {
                // A value the client could send is gone; one it receives
                // no more cannot break it.
                for value in a.iter().filter(|v| !b.iter().any(|w| w.name == v.name)) {
                    self.push(
                        side.compat(true, false),
                        ChangeKind::Removed,
                        format!("{path} value '{}'", value.name),
                        None,
                    );
                }
                for value in b {
                    let what = format!("{path} value '{}'", value.name);
                    match a.iter().find(|v| v.name == value.name) {
                        Some(was) => self.features(&what, &was.features, &value.features),
                        None => self.push(Compat::Compatible, ChangeKind::Added, what, None),
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
                self.members(&path, a, b, side);
                for variant in va.iter().filter(|v| !vb.iter().any(|w| w.case == v.case)) {
                    self.push(
                        side.compat(true, false),
                        ChangeKind::Removed,
                        format!("{path} branch '{}'", variant.case),
                        None,
                    );
                }
                for variant in vb {
                    let what = format!("{path} branch '{}'", variant.case);
                    match va.iter().find(|v| v.case == variant.case) {
                        Some(was) => self.types(&what, &was.ty, &variant.ty, side),
                        None => self.push(Compat::Compatible, ChangeKind::Added, what, None),
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
                        Compat::Breaking,
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
            _ => self.retyped(Compat::Breaking, &path, old, new, ""),
        }
    }

    /// Members of an object: added, removed, optional or not, retyped.
    fn members(&mut self, path: &str, old: &[MemberInfo], new: &[MemberInfo], side: Side) {
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
            self.push(Compat::Breaking, ChangeKind::Removed, name_of(member), None);
        }
        for member in new {
            let what = name_of(member);
            let Some(was) = old.iter().find(|m| m.name == member.name) else {
                let detail = if member.optional {
                    "optional"
                } else {
                    "mandatory"
                };
                let compat = side.compat(!member.optional, false);
                self.push(compat, ChangeKind::Added, what, Some(detail.into()));
                continue;
            };
            if was.optional != member.optional {
                let detail = if member.optional {
                    "now optional"
                } else {
                    "now mandatory"
                };
                let compat = side.compat(!member.optional, member.optional);
                self.push(
                    compat,
                    ChangeKind::Changed,
                    what.clone(),
                    Some(detail.into()),
                );
            }
            self.features(&what, &was.features, &member.features);
            self.types(&what, &was.ty, &member.ty, side);
        }
    }

    /// Named types no command or event reaches, added or removed.
    fn unused_types(&mut self) {
        let named = |info: &'a SchemaInfo| {
            info.entries()
                .iter()
                .filter(|e| {
                    !matches!(
                        e.kind,
                        EntryKind::Command { .. }
                            | EntryKind::Event { .. }
                            | EntryKind::Builtin { .. }
                    )
                })
                .filter(|e| reportable(&e.name, true))
                .map(|e| e.name.as_str())
                .collect::<HashSet<&str>>()
        };
        let (mut old, mut new) = (named(self.old), named(self.new));
        // A renamed type is reported as renamed, not as removed and added.
        for (was, now) in &self.renames {
            old.remove(was.as_str());
            new.remove(now.as_str());
        }
        let mut removed: Vec<&str> = old.difference(&new).copied().collect();
        let mut added: Vec<&str> = new.difference(&old).copied().collect();
        removed.sort_unstable();
        added.sort_unstable();
        // No command or event reaches them: nothing on the wire changes.
        for name in removed {
            self.push(
                Compat::Compatible,
                ChangeKind::Removed,
                format!("type '{name}'"),
                None,
            );
        }
        for name in added {
            self.push(
                Compat::Compatible,
                ChangeKind::Added,
                format!("type '{name}'"),
                None,
            );
        }
    }
}
