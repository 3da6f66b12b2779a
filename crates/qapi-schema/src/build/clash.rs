//! Name clash checks: members, branches, enum values and features whose C
//! names collide, with QEMU's description of both names.

use crate::error::Error;
use crate::model::*;
use crate::names;
use crate::source::SourceInfo;

use super::Builder;

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
pub(super) struct Taken<'n> {
    role: &'static str,
    name: TakenName<'n>,
}

impl<'n> Taken<'n> {
    pub(super) fn other(role: &'static str, name: &'n str, defined_in: &'n str) -> Self {
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
pub(super) struct Seen<'n> {
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

    /// The member of `members` (the object being checked) taken here whose
    /// C name equals that of `name`.
    pub(super) fn member<'m>(&self, name: &str, members: &'m [Member]) -> Option<&'m Member> {
        match self.find(names::c_name_hash(name), name, members)?.name {
            TakenName::Member(i) => members.get(i),
            TakenName::Other { .. } => None,
        }
    }
}

impl Builder {
    fn describe_taken(&self, t: &Taken, members: &[Member], info: Option<SourceInfo>) -> String {
        let (name, defined_in) = t.names(members);
        self.describe_member(t.role, name, defined_in, info)
    }

    /// Adds `taken` to `seen`, or reports the name it collides with;
    /// `members` is the member list of the object being checked.
    pub(super) fn check_clash<'n>(
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

    pub(super) fn check_feature_clash(
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

    /// Appends `m` to the members of the object being checked, after
    /// checking its name against `seen`.
    pub(super) fn add_member(
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
    pub(super) fn add_base_members(
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
    pub(super) fn clash_branch<'s>(
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
}
