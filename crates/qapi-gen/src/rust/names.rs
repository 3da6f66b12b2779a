//! Rust names for QAPI names: CamelCase types and variants, snake_case
//! fields and methods, keywords escaped, `__RFQDN_` and `x-` prefixes and
//! leading digits handled, collisions resolved with a numeric suffix.

use std::collections::HashSet;

/// Words Rust reserves (strict, reserved, and edition-dependent ones).
const KEYWORDS: [&str; 52] = [
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: [&str; 4] = ["self", "Self", "super", "crate"];

/// The alphanumeric words of a QAPI name (`__com.redhat_x-foo` gives
/// `com`, `redhat`, `x`, `foo`).
fn words(name: &str) -> impl Iterator<Item = &str> {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// `CamelCase`: each word capitalised; words written in capitals (as in
/// event names) are lowered first; existing inner capitals are kept.
pub fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for word in words(name) {
        let shouting = word.len() > 1
            && word.chars().any(|c| c.is_ascii_uppercase())
            && !word.chars().any(|c| c.is_ascii_lowercase());
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            for c in chars {
                out.push(if shouting { c.to_ascii_lowercase() } else { c });
            }
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    if NOT_RAW.contains(&out.as_str()) {
        out.push_str("Value");
    }
    out
}

/// `snake_case`: words lowered and joined by `_`, camel humps split;
/// keywords become raw identifiers (`r#type`).
pub fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for word in words(name) {
        if !out.is_empty() {
            out.push('_');
        }
        let mut prev_lower = false;
        for c in word.chars() {
            if c.is_ascii_uppercase() && prev_lower {
                out.push('_');
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            out.push(c.to_ascii_lowercase());
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    escape_keyword(out)
}

/// `r#kw` for keywords that allow it, `kw_` for the others.
fn escape_keyword(name: String) -> String {
    if NOT_RAW.contains(&name.as_str()) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name.as_str()) {
        format!("r#{name}")
    } else {
        name
    }
}

/// Names taken in one namespace; [`Namespace::claim`] makes a name unique.
#[derive(Debug, Default)]
pub struct Namespace {
    taken: HashSet<String>,
}

impl Namespace {
    /// Takes `name`, or `name2`, `name3`, ... when it is taken.
    pub fn claim(&mut self, name: String) -> String {
        if self.taken.insert(name.clone()) {
            return name;
        }
        let base = name.strip_prefix("r#").unwrap_or(&name);
        let mut n = 2;
        loop {
            let candidate = format!("{base}{n}");
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }

    /// True when `name` is taken.
    pub fn contains(&self, name: &str) -> bool {
        self.taken.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_variants() {
        assert_eq!(camel("BlockdevOptions"), "BlockdevOptions");
        assert_eq!(camel("SHUTDOWN"), "Shutdown");
        assert_eq!(camel("BLOCK_JOB_COMPLETED"), "BlockJobCompleted");
        assert_eq!(camel("__org.qemu_x-Union1"), "OrgQemuXUnion1");
        assert_eq!(camel("null-co"), "NullCo");
        assert_eq!(camel("x-foo"), "XFoo");
        assert_eq!(camel("1"), "V1");
        assert_eq!(camel("kp_0"), "Kp0");
        assert_eq!(camel("self"), "SelfValue");
    }

    #[test]
    fn fields_and_methods() {
        assert_eq!(snake("node-name"), "node_name");
        assert_eq!(snake("type"), "r#type");
        assert_eq!(snake("self"), "self_");
        assert_eq!(snake("__com.redhat_foo"), "com_redhat_foo");
        assert_eq!(snake("cpuIndex"), "cpu_index");
        assert_eq!(snake("ACPI"), "acpi");
        assert_eq!(snake("3d"), "_3d");
        assert_eq!(snake("query-qmp-schema"), "query_qmp_schema");
    }

    #[test]
    fn collisions_get_suffixes() {
        let mut ns = Namespace::default();
        assert_eq!(ns.claim("a_b".into()), "a_b");
        assert_eq!(ns.claim("a_b".into()), "a_b2");
        assert_eq!(ns.claim("r#type".into()), "r#type");
        assert_eq!(ns.claim("r#type".into()), "type2");
    }
}
