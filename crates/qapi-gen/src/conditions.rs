//! Which `if` conditions hold when generating: all of them, or those
//! satisfied by a set of defined symbols (a build configuration).

use std::collections::HashSet;

use qapi_schema::IfCond;

/// How `if` conditions are decided at generation time.
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

    /// The symbols of a conditions file: one symbol a line (first word),
    /// `#` comments, and sections `[DEFINED]` / `[UNDEFINED]`; only symbols
    /// in `[DEFINED]` (or before any section) are defined.
    pub fn parse_file(text: &str) -> Conditions {
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
        let c = Conditions::parse_file("# x\n[DEFINED]\nA\nB  # b\n\n[UNDEFINED]\nC (inferred)\n");
        let sym = |s: &str| IfCond::Name(s.to_string());
        assert!(c.holds(Some(&sym("A"))));
        assert!(c.holds(Some(&sym("B"))));
        assert!(!c.holds(Some(&sym("C"))));
        assert!(c.holds(None));
        assert!(Conditions::All.holds(Some(&sym("C"))));
    }
}
