//! Lookups over a [`SchemaInfo`]: a command's argument and return types,
//! an event's data type, and the members of an object together with those
//! of the union branches that given arguments select. The validator, the
//! shell, the simulator and the API diff all ask these questions here.

use qmp_wire::Map;

use super::{Entry, EntryKind, MemberInfo, SchemaInfo};

/// The most object levels a [`BranchMembers`] walk visits (an object and
/// the union branches below it); a malformed list whose branches lead
/// back to themselves ends there instead of looping.
pub const MAX_BRANCH_DEPTH: usize = 33;

impl Entry {
    /// The argument type of a command, or the data type of an event.
    pub fn arg_type(&self) -> Option<&str> {
        match &self.kind {
            EntryKind::Command { arg_type, .. } | EntryKind::Event { arg_type } => Some(arg_type),
            _ => None,
        }
    }

    /// The return type of a command.
    pub fn ret_type(&self) -> Option<&str> {
        match &self.kind {
            EntryKind::Command { ret_type, .. } => Some(ret_type),
            _ => None,
        }
    }
}

impl SchemaInfo {
    /// The argument type of command `name`.
    pub fn arg_type(&self, name: &str) -> Option<&str> {
        self.command(name)?.arg_type()
    }

    /// The return type of command `name`.
    pub fn ret_type(&self, name: &str) -> Option<&str> {
        self.command(name)?.ret_type()
    }

    /// The data type of event `name`.
    pub fn event_data(&self, name: &str) -> Option<&str> {
        self.event(name)?.arg_type()
    }

    /// The members of object type `object`, level by level: its own, then
    /// those of the union branch that the tag's value in `given` selects,
    /// and so on down (see [`BranchMembers`]).
    pub fn branch_members<'a, 'g>(
        &'a self,
        object: &'a Entry,
        given: Option<&'g Map>,
    ) -> BranchMembers<'a, 'g> {
        BranchMembers {
            info: self,
            next: Some(Level::Entry(object)),
            given,
            depth: 0,
        }
    }
}

/// The walk of [`SchemaInfo::branch_members`]: for each level, the
/// object's members (base first, as listed) or, ending the walk, the name
/// of a type the list lacks or of one that is not an object.
#[derive(Clone, Debug)]
pub struct BranchMembers<'a, 'g> {
    info: &'a SchemaInfo,
    next: Option<Level<'a>>,
    given: Option<&'g Map>,
    depth: usize,
}

/// The next level of a walk.
#[derive(Clone, Copy, Debug)]
enum Level<'a> {
    /// The object the walk starts from.
    Entry(&'a Entry),
    /// A branch's type, still to be looked up.
    Name(&'a str),
}

impl<'a> Iterator for BranchMembers<'a, '_> {
    type Item = Result<&'a [MemberInfo], &'a str>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.next.take()?;
        if self.depth >= MAX_BRANCH_DEPTH {
            return None;
        }
        self.depth += 1;
        let entry = match next {
            Level::Entry(entry) => entry,
            Level::Name(name) => match self.info.get(name) {
                Some(entry) => entry,
                None => return Some(Err(name)),
            },
        };
        let EntryKind::Object {
            members,
            tag,
            variants,
        } = &entry.kind
        else {
            return Some(Err(&entry.name));
        };
        let case = tag
            .as_deref()
            .and_then(|tag| self.given?.get(tag)?.as_str());
        self.next = case
            .and_then(|case| variants.iter().find(|v| v.case == case))
            .map(|v| Level::Name(&v.ty));
        Some(Ok(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> SchemaInfo {
        let text = r#"[
            {"name": "c", "meta-type": "command", "arg-type": "0", "ret-type": "str"},
            {"name": "E", "meta-type": "event", "arg-type": "1"},
            {"name": "0", "meta-type": "object", "members": [{"name": "t", "type": "str"}],
             "tag": "t", "variants": [{"case": "a", "type": "1"}, {"case": "loop", "type": "0"},
                                      {"case": "gone", "type": "9"}]},
            {"name": "1", "meta-type": "object", "members": [{"name": "x", "type": "str"}]},
            {"name": "str", "meta-type": "builtin", "json-type": "string"}]"#;
        let value = qmp_wire::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        SchemaInfo::from_value(&value).unwrap_or_else(|e| panic!("{e}"))
    }

    fn walk(info: &SchemaInfo, case: &str) -> Vec<Result<Vec<String>, String>> {
        let given: Map = [("t".to_string(), qmp_wire::Value::from(case))]
            .into_iter()
            .collect();
        let Some(object) = info.get("0") else {
            panic!("no type 0");
        };
        info.branch_members(object, Some(&given))
            .map(|level| {
                level
                    .map(|members| members.iter().map(|m| m.name.clone()).collect())
                    .map_err(str::to_string)
            })
            .collect()
    }

    #[test]
    fn looks_up_command_and_event_types() {
        let info = info();
        assert_eq!(info.arg_type("c"), Some("0"));
        assert_eq!(info.ret_type("c"), Some("str"));
        assert_eq!(info.event_data("E"), Some("1"));
        assert_eq!(info.arg_type("E"), None);
        assert_eq!(info.event_data("c"), None);
    }

    #[test]
    fn walks_the_branches_the_tag_selects() {
        let info = info();
        let t = || Ok(vec!["t".to_string()]);
        assert_eq!(walk(&info, "a"), [t(), Ok(vec!["x".to_string()])]);
        assert_eq!(walk(&info, "none"), [t()]);
        assert_eq!(walk(&info, "gone"), [t(), Err("9".to_string())]);
        assert_eq!(walk(&info, "loop").len(), MAX_BRANCH_DEPTH);
        // The validator walks the same way: a branch cycle ends, not loops.
        let looping: Map = [("t".to_string(), qmp_wire::Value::from("loop"))]
            .into_iter()
            .collect();
        assert_eq!(info.validate_command_arguments("c", &looping), Ok(()));
        let Some(not_object) = info.get("str") else {
            panic!("no str");
        };
        let levels: Vec<_> = info.branch_members(not_object, None).collect();
        assert_eq!(levels, [Err("str")]);
    }
}
