//! Turning token bytes into values and error texts: string unescaping and
//! (modified) UTF-8 validation as QEMU's parser does it, number conversion
//! with QEMU's int64 / uint64 / double rule, and the rendering of raw token
//! bytes inside error messages.

use super::{ParseError, StringShape};
use crate::Value;

/// Decodes a complete string token (quotes included) into its value.
///
/// `shape` tells what the lexer saw: without a backslash the body needs no
/// unescaping, and without bytes from 0x80 up it is plain ASCII.
pub(crate) fn decode_string(token: &[u8], shape: StringShape) -> Result<String, ParseError> {
    // The lexer guarantees an opening and a closing quote.
    let body_end = token.len().saturating_sub(1);
    let body = token.get(1..body_end).unwrap_or_default();
    if !shape.escaped && !shape.non_ascii {
        debug_assert!(body.is_ascii());
        // SAFETY: the lexer saw no byte from 0x80 up in this token, so the
        // body is ASCII, which is valid UTF-8.
        return Ok(unsafe { String::from_utf8_unchecked(body.to_vec()) });
    }
    let mut out = String::with_capacity(body.len());
    if !shape.escaped {
        push_raw(&mut out, body)?;
        return Ok(out);
    }
    let mut pos = 1;
    while pos < body_end {
        let rest = token.get(pos..body_end).unwrap_or_default();
        let Some(backslash) = rest.iter().position(|&b| b == b'\\') else {
            push_raw(&mut out, rest)?;
            break;
        };
        push_raw(&mut out, rest.get(..backslash).unwrap_or_default())?;
        let at = pos + backslash;
        pos = unescape(token, at, &mut out)?;
    }
    Ok(out)
}

/// Handles the escape whose backslash is at `token[at]`; returns the index
/// just past it.
fn unescape(token: &[u8], at: usize, out: &mut String) -> Result<usize, ParseError> {
    let simple = match token.get(at + 1) {
        Some(b'"') => '"',
        Some(b'\'') => '\'',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => return unescape_unicode(token, at, out),
        _ => return Err(ParseError::InvalidEscape),
    };
    out.push(simple);
    Ok(at + 2)
}

/// `\uXXXX`, possibly a surrogate pair `\uD8xx\uDCxx`. Mirrors QEMU: the
/// four positions after `\u` are always skipped, and the error names the
/// escape text as far as it was read.
fn unescape_unicode(token: &[u8], at: usize, out: &mut String) -> Result<usize, ParseError> {
    let mut end = at + 6;
    let mut code = hex4(token, at + 2);
    if let Some(high @ 0xD800..=0xDBFF) = code {
        if token.get(end) == Some(&b'\\') && token.get(end + 1) == Some(&b'u') {
            code = match hex4(token, end + 2) {
                Some(low @ 0xDC00..=0xDFFF) => {
                    end += 6;
                    Some(0x10000 + ((high & 0x3FF) << 10) + (low & 0x3FF))
                }
                _ => None,
            };
        }
    }
    match code.and_then(valid_char) {
        Some(c) => {
            out.push(c);
            Ok(end)
        }
        None => {
            let text = token.get(at..end.min(token.len())).unwrap_or_default();
            Err(ParseError::InvalidUnicode(c_text(text)))
        }
    }
}

/// Four hex digits at `token[at..at + 4]`, any case.
fn hex4(token: &[u8], at: usize) -> Option<u32> {
    let digits = token.get(at..at + 4)?;
    digits
        .iter()
        .try_fold(0u32, |acc, &d| Some(acc * 16 + char::from(d).to_digit(16)?))
}

/// A code point QEMU accepts in a string: a Unicode scalar value that is
/// not a noncharacter.
fn valid_char(code: u32) -> Option<char> {
    char::from_u32(code).filter(|&c| !is_noncharacter(c))
}

fn is_noncharacter(c: char) -> bool {
    let code = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE
}

/// Appends a run of raw string bytes, which must be modified UTF-8: UTF-8
/// without noncharacters, plus the two-byte form C0 80 for U+0000.
fn push_raw(out: &mut String, mut bytes: &[u8]) -> Result<(), ParseError> {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(text) => return push_checked(out, text),
            Err(err) => {
                let (good, bad) = bytes.split_at(err.valid_up_to());
                let text = std::str::from_utf8(good).map_err(|_| ParseError::InvalidUtf8)?;
                push_checked(out, text)?;
                match bad {
                    [0xC0, 0x80, rest @ ..] => {
                        out.push('\0');
                        bytes = rest;
                    }
                    _ => return Err(ParseError::InvalidUtf8),
                }
            }
        }
    }
}

fn push_checked(out: &mut String, text: &str) -> Result<(), ParseError> {
    if !text.is_ascii() && text.chars().any(is_noncharacter) {
        return Err(ParseError::InvalidUtf8);
    }
    out.push_str(text);
    Ok(())
}

/// Converts an integer token: int64 if it fits, else uint64 if it is not
/// negative and fits, else a double.
pub(crate) fn integer_value(token: &[u8]) -> Value {
    // Up to 18 digits always fit in an i64: add them up directly.
    let (negative, digits) = match token {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, token),
    };
    if digits.len() <= 18 {
        let magnitude = digits
            .iter()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d.wrapping_sub(b'0')));
        return Value::Int(if negative { -magnitude } else { magnitude });
    }
    let text = std::str::from_utf8(token).unwrap_or_default();
    if let Ok(i) = text.parse::<i64>() {
        Value::Int(i)
    } else if let (false, Ok(u)) = (text.starts_with('-'), text.parse::<u64>()) {
        Value::UInt(u)
    } else {
        float_value(token)
    }
}

/// Converts a number token to a double (overflow gives an infinity,
/// underflow zero, as `strtod` does).
pub(crate) fn float_value(token: &[u8]) -> Value {
    let text = std::str::from_utf8(token).unwrap_or_default();
    Value::Double(text.parse::<f64>().unwrap_or(f64::NAN))
}

/// Renders raw bytes the way they appear when QEMU prints them inside an
/// error text: cut at the first NUL (C strings), each invalid modified
/// UTF-8 sequence replaced by U+FFFD.
pub(crate) fn c_text(bytes: &[u8]) -> String {
    let bytes = bytes.split(|&b| b == 0).next().unwrap_or_default();
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        let (decoded, used) = decode_one(rest);
        out.push(decoded.unwrap_or(char::REPLACEMENT_CHARACTER));
        rest = rest.get(used.max(1)..).unwrap_or_default();
    }
    out
}

/// Decodes one modified UTF-8 sequence the way QEMU's reader does: returns
/// the character (or `None` when invalid) and how many bytes it consumed.
/// An invalid sequence consumes its lead byte and the continuation bytes
/// that were present.
fn decode_one(bytes: &[u8]) -> (Option<char>, usize) {
    const MIN_FOR_LENGTH: [u32; 5] = [0x80, 0x800, 0x10000, 0x20_0000, 0x400_0000];
    let Some(&lead) = bytes.first() else {
        return (None, 0);
    };
    if lead < 0x80 {
        return (Some(char::from(lead)), 1);
    }
    if lead >= 0xFE || lead & 0x40 == 0 {
        return (None, 1);
    }
    let len = lead.leading_ones() as usize;
    let mut code = u32::from(lead) & ((1 << (7 - len)) - 1);
    for i in 1..len {
        match bytes.get(i) {
            Some(&b) if b & 0xC0 == 0x80 => code = (code << 6) | u32::from(b & 0x3F),
            _ => return (None, i),
        }
    }
    let overlong = MIN_FOR_LENGTH
        .get(len - 2)
        .is_some_and(|&min| code < min && !(code == 0 && len == 2));
    if overlong {
        return (None, len);
    }
    (valid_char(code), len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(token: &[u8]) -> StringShape {
        StringShape {
            escaped: token.contains(&b'\\'),
            non_ascii: !token.is_ascii(),
        }
    }

    fn s(token: &str) -> Result<String, ParseError> {
        decode_string(token.as_bytes(), shape(token.as_bytes()))
    }

    #[test]
    fn escapes() {
        assert_eq!(
            s(r#""a\"b\\c\/d\b\f\n\r\t\'""#).unwrap(),
            "a\"b\\c/d\u{8}\u{c}\n\r\t'"
        );
        assert_eq!(s(r#"'x\u00e9\u20AC\uD83D\uDE00'"#).unwrap(), "xé€😀");
        assert_eq!(s(r#""\u0000""#).unwrap(), "\0");
        assert_eq!(s(r#""\x""#), Err(ParseError::InvalidEscape));
    }

    #[test]
    fn unicode_escape_errors_name_the_escape() {
        let text = |t: &str| match s(t) {
            Err(ParseError::InvalidUnicode(text)) => text,
            other => panic!("{other:?}"),
        };
        assert_eq!(text(r#""\uD800""#), r"\uD800");
        assert_eq!(text(r#""\uDC00""#), r"\uDC00");
        assert_eq!(text(r#""\uD800\u0041""#), r"\uD800");
        assert_eq!(text(r#""a\uDBFF\uDFFF""#), r"\uDBFF\uDFFF");
        assert_eq!(text(r#""\u12G4""#), r"\u12G4");
        assert_eq!(text(r#""\u12""#), "\\u12\"");
        assert_eq!(text(r#""\uFFFF""#), r"\uFFFF");
    }

    #[test]
    fn raw_bytes_are_modified_utf8() {
        let raw = |b: &[u8]| {
            let token = [b"\"", b, b"\""].concat();
            decode_string(&token, shape(&token))
        };
        assert_eq!(raw(b"\xc3\xa9").unwrap(), "é");
        assert_eq!(raw(b"a\xc0\x80b").unwrap(), "a\0b");
        for bad in [
            &b"\xc3"[..],
            b"\xc1\x81",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"\x80",
            b"\xe0\x80\xaf",
            b"\xef\xbf\xbf",
            b"\xef\xb7\x90",
        ] {
            assert_eq!(raw(bad), Err(ParseError::InvalidUtf8), "{bad:?}");
        }
    }

    #[test]
    fn numbers_follow_qemus_kinds() {
        assert!(matches!(integer_value(b"-0"), Value::Int(0)));
        assert!(matches!(
            integer_value(b"9223372036854775808"),
            Value::UInt(9223372036854775808)
        ));
        assert!(
            matches!(integer_value(b"18446744073709551616"), Value::Double(d) if d == 1.8446744073709552e19)
        );
        assert!(
            matches!(integer_value(b"-9223372036854775809"), Value::Double(d) if d == -9_223_372_036_854_775_808.0)
        );
        assert!(matches!(float_value(b"1e400"), Value::Double(d) if d == f64::INFINITY));
        assert!(matches!(float_value(b"1e-400"), Value::Double(d) if d == 0.0));
    }

    #[test]
    fn c_text_cuts_at_nul_and_replaces_invalid_sequences() {
        assert_eq!(c_text(b"\"a\x00b"), "\"a");
        assert_eq!(c_text(b"\xff"), "\u{FFFD}");
        assert_eq!(c_text(b"\"\xfe"), "\"\u{FFFD}");
        assert_eq!(c_text(b"x\xc3"), "x\u{FFFD}");
        assert_eq!(c_text(b"\xc3x"), "\u{FFFD}x");
        assert_eq!(c_text(b"\xc0\x80"), "\0");
        assert_eq!(c_text(b"\xe2\x82\xac"), "€");
        assert_eq!(c_text(b"\x01"), "\u{1}");
    }
}
