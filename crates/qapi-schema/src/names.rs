//! Name rules of the QAPI language (downstream `__RFQDN_` and `x-`
//! prefixes, case rules per role) and QEMU's mapping of names to C
//! identifiers, which clash checks compare.

use crate::hash::fnv1a;

/// Words `c_name` protects with a `q_` prefix: C89, C99, C11, GCC and C++
/// keywords plus a few predefined macros that pollute the namespace
/// (`unix`, `errno`, `mips`, `sparc`, `i386`, `linux`). Sorted by bytes
/// for binary search.
const PROTECTED_WORDS: &[&str] = &[
    "_Alignas",
    "_Alignof",
    "_Atomic",
    "_Bool",
    "_Complex",
    "_Generic",
    "_Imaginary",
    "_Noreturn",
    "_Static_assert",
    "_Thread_local",
    "and",
    "and_eq",
    "asm",
    "auto",
    "bitand",
    "bitor",
    "bool",
    "break",
    "case",
    "catch",
    "char",
    "class",
    "const",
    "const_cast",
    "continue",
    "default",
    "delete",
    "do",
    "double",
    "dynamic_cast",
    "else",
    "enum",
    "errno",
    "explicit",
    "export",
    "extern",
    "false",
    "float",
    "for",
    "friend",
    "goto",
    "i386",
    "if",
    "inline",
    "int",
    "linux",
    "long",
    "mips",
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
    "q_{raw}",
    "register",
    "reinterpret_cast",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "sparc",
    "static",
    "static_cast",
    "struct",
    "switch",
    "template",
    "this",
    "throw",
    "true",
    "try",
    "typedef",
    "typeid",
    "typename",
    "typeof",
    "union",
    "unix",
    "unsigned",
    "using",
    "virtual",
    "void",
    "volatile",
    "wchar_t",
    "while",
    "xor",
    "xor_eq",
];

/// Longest word in [`PROTECTED_WORDS`].
const PROTECTED_MAX_LEN: usize = 16;

/// The bytes of QEMU's `c_name(name, protect=False)`: every character
/// outside `[A-Za-z0-9_]` becomes one `_` (UTF-8 continuation bytes are
/// dropped, so a multi-byte character yields a single `_`).
pub fn c_name_raw_bytes(name: &str) -> impl Iterator<Item = u8> + Clone + '_ {
    name.bytes().filter(|b| b & 0xc0 != 0x80).map(|b| {
        if b.is_ascii_alphanumeric() || b == b'_' {
            b
        } else {
            b'_'
        }
    })
}

/// True when `c_name` adds the `q_` prefix: the raw C name is a protected
/// word or starts with a digit.
fn is_protected(name: &str) -> bool {
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return true;
    }
    let mut buf = [0u8; PROTECTED_MAX_LEN];
    let mut len = 0;
    for b in c_name_raw_bytes(name) {
        let Some(slot) = buf.get_mut(len) else {
            return false;
        };
        *slot = b;
        len += 1;
    }
    let raw = buf.get(..len).unwrap_or(&[]);
    PROTECTED_WORDS
        .binary_search_by(|w| w.as_bytes().cmp(raw))
        .is_ok()
}

/// The bytes of QEMU's `c_name(name)`, without allocating.
pub fn c_name_bytes(name: &str) -> impl Iterator<Item = u8> + Clone + '_ {
    let prefix: &[u8] = if is_protected(name) { b"q_" } else { b"" };
    prefix.iter().copied().chain(c_name_raw_bytes(name))
}

/// A hash of `c_name(name)`: names with equal C names hash equally. The
/// `q_` that `c_name` may add is left out of the hash (and so is a leading
/// `q_` of the raw C name), so hashing needs no keyword lookup.
pub fn c_name_hash(name: &str) -> u64 {
    let raw = c_name_raw_bytes(name);
    let skip = if raw.clone().take(2).eq(*b"q_") { 2 } else { 0 };
    fnv1a(raw.skip(skip))
}

/// True when two names have the same C name (`c_name(a) == c_name(b)`).
pub fn c_name_eq(a: &str, b: &str) -> bool {
    a == b || c_name_bytes(a).eq(c_name_bytes(b))
}

fn is_stem(s: &str) -> bool {
    // On bytes: a non-ASCII character fails either way.
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
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

    /// QEMU's `c_name(name, protect=False)` as a string.
    fn c_name_raw(name: &str) -> String {
        c_name_raw_bytes(name).map(char::from).collect()
    }

    /// QEMU's `c_name(name)` as a string.
    fn c_name(name: &str) -> String {
        c_name_bytes(name).map(char::from).collect()
    }

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
        assert_eq!(c_name("and-eq"), "q_and_eq");
        assert_eq!(c_name("reinterpret_cast"), "q_reinterpret_cast");
        assert_eq!(c_name("reinterpret_casts"), "reinterpret_casts");
        assert_eq!(c_name_raw("a\u{e9}b"), "a_b");
        assert!(c_name_eq("a-b", "a_b"));
        assert!(c_name_eq("a\u{e9}b", "a.b"));
        assert!(!c_name_eq("int", "int_"));
        assert!(c_name_eq("q_int", "int"));
        for (a, b) in [("q_int", "int"), ("1x", "q-1x"), ("a-b", "a.b")] {
            assert_eq!(c_name_hash(a), c_name_hash(b));
        }
    }

    #[test]
    fn protected_words_sorted() {
        assert!(PROTECTED_WORDS.windows(2).all(|w| w[0] < w[1]));
        let longest = PROTECTED_WORDS.iter().map(|w| w.len()).max();
        assert_eq!(longest, Some(PROTECTED_MAX_LEN));
    }

    #[test]
    fn camel() {
        assert!(is_camel("Foo"));
        assert!(!is_camel("FOO"));
        assert!(!is_camel("foo"));
        assert!(!is_camel("Foo-bar"));
    }
}
