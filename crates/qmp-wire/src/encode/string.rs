//! String escaping as QEMU's JSON writer does it: pure ASCII output.
//!
//! `"` and `\` are escaped, as are BS, FF, LF, CR and TAB by their short
//! forms; every other character below U+0020 or from U+007F up becomes
//! `\uXXXX` with upper-case hex (a surrogate pair above U+FFFF). `/` is
//! left alone. Noncharacters (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF) are written
//! as `\uFFFD`, as QEMU does, because QEMU's parser would refuse them.

/// Bytes that cannot be copied as they are.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = b < 0x20 || b >= 0x7F || b == b'"' as usize || b == b'\\' as usize;
        b += 1;
    }
    table
};

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `s` as a quoted JSON string.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !NEEDS_ESCAPE[usize::from(b)] {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[copied..i]);
        if b < 0x80 {
            write_ascii_escape(out, b);
            i += 1;
        } else {
            let c = s
                .get(i..)
                .and_then(|rest| rest.chars().next())
                .unwrap_or('\u{FFFD}');
            write_unicode_escape(out, c);
            i += c.len_utf8();
        }
        copied = i;
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

fn write_ascii_escape(out: &mut Vec<u8>, b: u8) {
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0C => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => return write_u_escape(out, u16::from(b)),
    };
    out.extend_from_slice(&[b'\\', short]);
}

fn write_unicode_escape(out: &mut Vec<u8>, c: char) {
    let code = u32::from(c);
    let is_noncharacter = (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE;
    if is_noncharacter {
        return write_u_escape(out, 0xFFFD);
    }
    let mut units = [0u16; 2];
    for unit in c.encode_utf16(&mut units) {
        write_u_escape(out, *unit);
    }
}

fn write_u_escape(out: &mut Vec<u8>, unit: u16) {
    out.extend_from_slice(&[
        b'\\',
        b'u',
        HEX[usize::from(unit >> 12)],
        HEX[usize::from((unit >> 8) & 0xF)],
        HEX[usize::from((unit >> 4) & 0xF)],
        HEX[usize::from(unit & 0xF)],
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_qemu() {
        assert_eq!(q("plain/text"), r#""plain/text""#);
        assert_eq!(q("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(q("\u{8}\u{c}\n\r\t"), r#""\b\f\n\r\t""#);
        assert_eq!(q("\0\u{1}\u{1b}\u{7f}"), r#""\u0000\u0001\u001B\u007F""#);
        assert_eq!(q("é€😀"), r#""\u00E9\u20AC\uD83D\uDE00""#);
        assert_eq!(q("\u{FFFF}\u{FDD0}\u{1FFFE}"), r#""\uFFFD\uFFFD\uFFFD""#);
    }
}
