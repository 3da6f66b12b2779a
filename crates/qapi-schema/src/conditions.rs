//! Which `if` conditions hold for a build: all of them, or those that a
//! set of defined symbols makes true, read from a conditions file.

use std::collections::HashSet;
use std::path::Path;

use crate::ifcond::IfCond;

/// How `if` conditions are decided when a schema becomes introspection
/// data or code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Conditions {
    /// Every condition is true.
    #[default]
    All,
    /// A condition holds when these symbols make it true.
    Defined(HashSet<String>),
}

impl Conditions {
    /// True when the (optional) condition holds; absent means true.
    pub fn holds(&self, cond: Option<&IfCond>) -> bool {
        match (self, cond) {
            (_, None) | (Conditions::All, _) => true,
            (Conditions::Defined(symbols), Some(c)) => c.eval(symbols),
        }
    }

    /// Reads the conditions file at `path` (see [`Conditions::parse`]).
    pub fn from_file(path: impl AsRef<Path>) -> std::io::Result<Conditions> {
        std::fs::read_to_string(path).map(|text| Conditions::parse(&text))
    }

    /// The symbols of a conditions file's text: one symbol a line (first
    /// word), `#` comments, and sections `[DEFINED]` / `[UNDEFINED]`; only
    /// symbols in `[DEFINED]` (or before any section) are defined.
    pub fn parse(text: &str) -> Conditions {
        let mut defined = HashSet::new();
        let mut in_defined = true;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            match line {
                "" => {}
                "[DEFINED]" => in_defined = true,
                "[UNDEFINED]" => in_defined = false,
                _ if line.starts_with('[') => in_defined = false,
                _ => {
                    if let (true, Some(symbol)) = (in_defined, line.split_whitespace().next()) {
                        defined.insert(symbol.to_string());
                    }
                }
            }
        }
        Conditions::Defined(defined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sections_and_comments() {
        let c = Conditions::parse("# x\n[DEFINED]\nA\nB  # b\n\n[UNDEFINED]\nC (inferred)\n");
        let sym = |s: &str| IfCond::Name(s.to_string());
        assert!(c.holds(Some(&sym("A"))));
        assert!(c.holds(Some(&sym("B"))));
        assert!(!c.holds(Some(&sym("C"))));
        assert!(c.holds(None));
        assert!(Conditions::All.holds(Some(&sym("C"))));
    }
}
