//! Name rules of the QAPI language (downstream `__RFQDN_` and `x-`
//! prefixes, case rules per role) and QEMU's mapping of names to C
//! identifiers, which clash checks compare.

/// Words `c_name` protects with a `q_` prefix: C89, C99, C11, GCC and C++
/// keywords plus a few predefined macros that pollute the namespace.
const PROTECTED_WORDS: &[&str] = &[
    // C89
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "int",
    "long",
    "register",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while", // C99
    "inline",
    "restrict",
    "_Bool",
    "_Complex",
    "_Imaginary", // C11
    "_Alignas",
    "_Alignof",
    "_Atomic",
    "_Generic",
    "_Noreturn",
    "_Static_assert",
    "_Thread_local", // GCC
    "asm",
    "typeof", // C++
    "and",
    "and_eq",
    "bitand",
    "bitor",
    "bool",
    "catch",
    "class",
    "const_cast",
    "delete",
    "dynamic_cast",
    "explicit",
    "export",
    "false",
    "friend",
    "mutable",
    "namespace",
    "new",
    "not",
    "not_eq",
    "operator",
    "or",
    "or_eq",
    "private",
    "protected",
    "public",
    "reinterpret_cast",
    "static_cast",
    "template",
    "this",
    "throw",
    "true",
    "try",
    "typeid",
    "typename",
    "using",
    "virtual",
    "wchar_t",
    "xor",
    "xor_eq", // namespace pollution
    "unix",
    "errno",
    "mips",
    "sparc",
    "i386",
    "linux",
];

/// QEMU's `c_name(name, protect=False)`: every character outside
/// `[A-Za-z0-9_]` becomes `_`.
pub fn c_name_raw(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// QEMU's `c_name(name)`: [`c_name_raw`], then a `q_` prefix for C keywords
/// and names starting with a digit.
pub fn c_name(name: &str) -> String {
    let raw = c_name_raw(name);
    if PROTECTED_WORDS.contains(&raw.as_str()) || raw.starts_with(|c: char| c.is_ascii_digit()) {
        format!("q_{raw}")
    } else {
        raw
    }
}

fn is_stem(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Length of a downstream prefix `__RFQDN_` at the start of `name`.
fn downstream_prefix_len(name: &str) -> Option<usize> {
    let rest = name.strip_prefix("__")?;
    let run = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'-')
        .count();
    (run > 0 && rest.as_bytes().get(run) == Some(&b'_')).then_some(2 + run + 1)
}

/// The stem of a valid name (without `__RFQDN_` and `x-` prefixes), or
/// `None` if the name is invalid (including names whose C name starts with
/// the reserved `q_`).
pub fn name_stem(name: &str) -> Option<&str> {
    let prefixes: &[usize] = &match downstream_prefix_len(name) {
        Some(n) => [n, 0],
        None => [0, 0],
    };
    let mut stem = None;
    for &p in prefixes {
        let rest = &name[p..];
        let after_x = rest
            .get(..2)
            .filter(|p| p.eq_ignore_ascii_case("x-"))
            .and_then(|_| rest.get(2..));
        if let Some(after) = after_x.filter(|a| is_stem(a)) {
            stem = Some(after);
            break;
        }
        if is_stem(rest) {
            stem = Some(rest);
            break;
        }
    }
    let stem = stem?;
    // The C name starts with the reserved `q_`.
    let bytes = name.as_bytes();
    if bytes.first() == Some(&b'q') && bytes.get(1).is_some_and(|b| !b.is_ascii_alphanumeric()) {
        return None;
    }
    Some(stem)
}

/// True when the stem breaks the lower-case rule (no upper case, no `_`),
/// with the given permissions.
pub fn violates_lower(stem: &str, permit_upper: bool, permit_underscore: bool) -> bool {
    (!permit_upper && stem.bytes().any(|b| b.is_ascii_uppercase()))
        || (!permit_underscore && stem.contains('_'))
}

/// True when the stem breaks the event rule (no lower case, no `-`).
pub fn violates_upper(stem: &str) -> bool {
    stem.bytes().any(|b| b.is_ascii_lowercase() || b == b'-')
}

/// True when the stem is CamelCase: an upper-case letter, then letters and
/// digits including at least one lower-case letter.
pub fn is_camel(stem: &str) -> bool {
    let bytes = stem.as_bytes();
    matches!(bytes.first(), Some(b) if b.is_ascii_uppercase())
        && bytes.iter().all(|b| b.is_ascii_alphanumeric())
        && bytes.iter().skip(1).any(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems() {
        assert_eq!(name_stem("foo"), Some("foo"));
        assert_eq!(name_stem("x-foo"), Some("foo"));
        assert_eq!(name_stem("__org.qemu_x-foo"), Some("foo"));
        assert_eq!(name_stem("__foo"), None);
        assert_eq!(name_stem("q-unix"), None);
        assert_eq!(name_stem("Q_x"), Some("Q_x"));
        assert_eq!(name_stem("*oops"), None);
        assert_eq!(name_stem("x-_a"), Some("x-_a"));
        assert_eq!(name_stem(""), None);
    }

    #[test]
    fn c_names() {
        assert_eq!(c_name("a-b"), "a_b");
        assert_eq!(c_name("int"), "q_int");
        assert_eq!(c_name("1x"), "q_1x");
    }

    #[test]
    fn camel() {
        assert!(is_camel("Foo"));
        assert!(!is_camel("FOO"));
        assert!(!is_camel("foo"));
        assert!(!is_camel("Foo-bar"));
    }
}
