//! Conditions (`'if'`): the condition tree, its evaluation against a set of
//! defined symbols, and its renderings (Python repr for the test dump, C
//! preprocessor expression for generators).

use std::collections::HashSet;
use std::fmt;

/// A condition on a definition, member, branch, enum value or feature.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IfCond {
    /// A symbol: true when defined.
    Name(String),
    /// `{'all': [...]}`: true when every operand is.
    All(Vec<IfCond>),
    /// `{'any': [...]}`: true when some operand is.
    Any(Vec<IfCond>),
    /// `{'not': C}`
    Not(Box<IfCond>),
}

/// Anything that can answer "is this symbol defined?".
pub trait Symbols {
    /// True when `symbol` is defined.
    fn is_defined(&self, symbol: &str) -> bool;
}

impl Symbols for HashSet<String> {
    fn is_defined(&self, symbol: &str) -> bool {
        self.contains(symbol)
    }
}

impl Symbols for HashSet<&str> {
    fn is_defined(&self, symbol: &str) -> bool {
        self.contains(symbol)
    }
}

impl Symbols for [&str] {
    fn is_defined(&self, symbol: &str) -> bool {
        self.contains(&symbol)
    }
}

impl<F: Fn(&str) -> bool> Symbols for F {
    fn is_defined(&self, symbol: &str) -> bool {
        self(symbol)
    }
}

impl IfCond {
    /// Evaluates the condition with the given symbols defined.
    pub fn eval<S: Symbols + ?Sized>(&self, symbols: &S) -> bool {
        match self {
            IfCond::Name(n) => symbols.is_defined(n),
            IfCond::All(ops) => ops.iter().all(|c| c.eval(symbols)),
            IfCond::Any(ops) => ops.iter().any(|c| c.eval(symbols)),
            IfCond::Not(c) => !c.eval(symbols),
        }
    }

    /// The C preprocessor expression QEMU generates (`defined(X)`, `!`,
    /// `&&`, `||`, sub-expressions parenthesised).
    pub fn to_c(&self) -> String {
        self.c_expr(true)
    }

    fn c_expr(&self, top: bool) -> String {
        match self {
            IfCond::Name(n) => format!("defined({n})"),
            IfCond::Not(c) => format!("!{}", c.c_expr(false)),
            IfCond::All(ops) | IfCond::Any(ops) => {
                let op = if matches!(self, IfCond::All(_)) {
                    " && "
                } else {
                    " || "
                };
                let inner: Vec<String> = ops.iter().map(|c| c.c_expr(false)).collect();
                let joined = inner.join(op);
                if top || ops.len() == 1 {
                    joined
                } else {
                    format!("({joined})")
                }
            }
        }
    }

    /// Python `repr` of the stored value (`'A'`, `{'all': ['A', 'B']}`).
    pub fn python_repr(&self) -> String {
        let mut out = String::new();
        self.write_repr(&mut out);
        out
    }

    fn write_repr(&self, out: &mut String) {
        let (key, ops): (&str, &[IfCond]) = match self {
            IfCond::Name(n) => {
                out.push('\'');
                out.push_str(n);
                out.push('\'');
                return;
            }
            IfCond::Not(c) => {
                out.push_str("{'not': ");
                c.write_repr(out);
                out.push('}');
                return;
            }
            IfCond::All(ops) => ("all", ops),
            IfCond::Any(ops) => ("any", ops),
        };
        out.push_str("{'");
        out.push_str(key);
        out.push_str("': [");
        for (i, c) in ops.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            c.write_repr(out);
        }
        out.push_str("]}");
    }
}

/// Python `str()` of the stored value: a bare symbol as is, compound
/// conditions as their repr (the form of `if` lines in the test dump).
impl fmt::Display for IfCond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IfCond::Name(n) => f.write_str(n),
            _ => f.write_str(&self.python_repr()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> IfCond {
        IfCond::Name(s.to_string())
    }

    #[test]
    fn renders_like_python() {
        let c = IfCond::Not(Box::new(IfCond::Any(vec![n("A"), n("B")])));
        assert_eq!(c.to_string(), "{'not': {'any': ['A', 'B']}}");
        assert_eq!(n("X").to_string(), "X");
    }

    #[test]
    fn evaluates() {
        let c = IfCond::All(vec![n("A"), IfCond::Not(Box::new(n("B")))]);
        assert!(c.eval(&["A"][..]));
        assert!(!c.eval(&["A", "B"][..]));
        assert_eq!(c.to_c(), "defined(A) && !defined(B)");
    }
}
