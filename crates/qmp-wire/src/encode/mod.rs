//! The encoder: values to bytes exactly as QEMU writes them.
//!
//! Compact layout is `{"a": 1, "b": [1, 2]}`; pretty layout is QEMU's
//! `pretty=on` (four spaces per level, empty containers as `{` newline
//! indent `}`). Output is pure ASCII: every character outside 0x20..0x7E is
//! a `\uXXXX` escape with upper-case hex, surrogate pairs above U+FFFF. Each
//! message ends with CRLF on a QMP monitor and LF on the guest agent; in
//! pretty layout every line ends that way.

mod number;
mod string;

use crate::hash_order::qemu_member_order;
use crate::{Map, Value};

/// The line ending written after each message (and, in pretty layout,
/// after each line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineEnding {
    /// `\r\n`, as QEMU's monitor writes.
    CrLf,
    /// `\n`, as qemu-ga writes.
    Lf,
}

impl LineEnding {
    fn bytes(self) -> &'static [u8] {
        match self {
            LineEnding::CrLf => b"\r\n",
            LineEnding::Lf => b"\n",
        }
    }
}

/// The order members of objects are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberOrder {
    /// The order of the [`Map`] (insertion order).
    Insertion,
    /// QEMU's hash-table order, for byte-exact output (see [`crate::hash_order`]).
    Qemu,
}

/// How to write values: layout, member order, line ending.
///
/// ```
/// use qmp_wire::{Encoder, Map, Value};
/// let mut reply = Map::new();
/// reply.insert("return", Map::new());
/// reply.insert("id", "é");
/// let bytes = Encoder::QMP.message_bytes(&Value::Object(reply));
/// assert_eq!(bytes, b"{\"return\": {}, \"id\": \"\\u00E9\"}\r\n");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoder {
    /// QEMU's `pretty=on` layout.
    pub pretty: bool,
    /// Member order.
    pub order: MemberOrder,
    /// Line ending.
    pub line_ending: LineEnding,
    /// What the bytes are for: QEMU's output, or requests to QEMU.
    pub style: Style,
}

/// Output as QEMU writes it, or requests as a client should send them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// QEMU's own output: `, ` and `: ` separators, doubles as `%.17g`.
    Output,
    /// Requests: no space after `,` and `:` (QEMU reads its monitor a byte
    /// at a time, and counts no whitespace), and every double spelled so
    /// that it reads back as a double (`1.0`, `-0.0`; `%.17g`'s `1` would
    /// reach a parameter of type `int` as an integer). Applies to the
    /// compact layout.
    Request,
}

impl Default for Encoder {
    fn default() -> Encoder {
        Encoder::QMP
    }
}

impl Encoder {
    /// A QMP monitor: compact, insertion order, CRLF.
    pub const QMP: Encoder = Encoder {
        pretty: false,
        order: MemberOrder::Insertion,
        line_ending: LineEnding::CrLf,
        style: Style::Output,
    };

    /// The guest agent: compact, insertion order, LF.
    pub const QGA: Encoder = Encoder {
        pretty: false,
        order: MemberOrder::Insertion,
        line_ending: LineEnding::Lf,
        style: Style::Output,
    };

    /// A client's requests: compact without spaces, insertion order,
    /// doubles that stay doubles ([`Style::Request`]).
    pub const REQUEST: Encoder = Encoder {
        style: Style::Request,
        ..Encoder::QMP
    };

    /// The same encoder with pretty layout on or off.
    pub const fn with_pretty(self, pretty: bool) -> Encoder {
        Encoder { pretty, ..self }
    }

    /// The same encoder with another member order.
    pub const fn with_order(self, order: MemberOrder) -> Encoder {
        Encoder { order, ..self }
    }

    /// Appends `value` without a final line ending.
    pub fn write_value(&self, value: &Value, out: &mut Vec<u8>) {
        Writer {
            encoder: self,
            out,
            depth: 0,
        }
        .value(value);
    }

    /// Appends `value` and the line ending: one message on the wire.
    pub fn write_message(&self, value: &Value, out: &mut Vec<u8>) {
        self.write_value(value, out);
        out.extend_from_slice(self.line_ending.bytes());
    }

    /// One message as bytes.
    pub fn message_bytes(&self, value: &Value) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.write_message(value, &mut out);
        out
    }
}

/// One encoding pass.
struct Writer<'a> {
    encoder: &'a Encoder,
    out: &'a mut Vec<u8>,
    depth: usize,
}

impl Writer<'_> {
    fn value(&mut self, value: &Value) {
        match value {
            Value::Null => self.out.extend_from_slice(b"null"),
            Value::Bool(true) => self.out.extend_from_slice(b"true"),
            Value::Bool(false) => self.out.extend_from_slice(b"false"),
            Value::Int(i) => number::write_i64(self.out, *i),
            Value::UInt(u) => number::write_u64(self.out, *u),
            Value::Double(d) if self.encoder.style == Style::Request => {
                number::write_exact_f64(self.out, *d)
            }
            Value::Double(d) => number::write_f64(self.out, *d),
            Value::String(s) => string::write_str(self.out, s),
            Value::Array(items) => self.array(items),
            Value::Object(map) => self.object(map),
        }
    }

    /// Before an element: `, ` (or `,` and a new line) after the first; a
    /// new line before the first in pretty layout.
    fn separator(&mut self, first: bool) {
        if !first {
            self.out.push(b',');
        }
        if self.encoder.pretty {
            self.newline();
        } else if !first && self.encoder.style == Style::Output {
            self.out.push(b' ');
        }
    }

    fn newline(&mut self) {
        self.out.extend_from_slice(self.encoder.line_ending.bytes());
        self.out.resize(self.out.len() + 4 * self.depth, b' ');
    }

    fn close(&mut self, bracket: u8) {
        self.depth -= 1;
        if self.encoder.pretty {
            self.newline();
        }
        self.out.push(bracket);
    }

    fn array(&mut self, items: &[Value]) {
        self.out.push(b'[');
        self.depth += 1;
        for (i, item) in items.iter().enumerate() {
            self.separator(i == 0);
            self.value(item);
        }
        self.close(b']');
    }

    fn object(&mut self, map: &Map) {
        self.out.push(b'{');
        self.depth += 1;
        match self.encoder.order {
            MemberOrder::Insertion => {
                for (i, (key, value)) in map.iter().enumerate() {
                    self.member(i == 0, key, value);
                }
            }
            MemberOrder::Qemu => {
                let members = map.as_slice();
                for (n, i) in qemu_member_order(map).into_iter().enumerate() {
                    if let Some((key, value)) = members.get(i) {
                        self.member(n == 0, key, value);
                    }
                }
            }
        }
        self.close(b'}');
    }

    fn member(&mut self, first: bool, key: &str, value: &Value) {
        self.separator(first);
        string::write_str(self.out, key);
        self.out.extend_from_slice(match self.encoder.style {
            Style::Output => b": ",
            Style::Request => b":",
        });
        self.value(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::from_str;

    fn compact(text: &str) -> String {
        let v = from_str(text).unwrap();
        String::from_utf8(Encoder::QMP.message_bytes(&v)).unwrap()
    }

    #[test]
    fn compact_layout() {
        assert_eq!(
            compact(r#"{"a":[1,2,{}],"b":[]}"#),
            "{\"a\": [1, 2, {}], \"b\": []}\r\n"
        );
        assert_eq!(
            compact("[1.0, -0.0, 0.1]"),
            "[1, -0, 0.10000000000000001]\r\n"
        );
    }

    #[test]
    fn pretty_layout_is_qemus() {
        let v = from_str(r#"{"return": {}, "id": [1, {"a": 2}]}"#).unwrap();
        let text = Encoder::QMP.with_pretty(true).message_bytes(&v);
        let want = "{\r\n    \"return\": {\r\n    },\r\n    \"id\": [\r\n        1,\r\n        {\r\n            \"a\": 2\r\n        }\r\n    ]\r\n}\r\n";
        assert_eq!(String::from_utf8(text).unwrap(), want);
    }

    #[test]
    fn qemu_member_order_reorders_objects() {
        // Recorded from QEMU: an echoed id {"b":1,"a":2} comes back reordered.
        let v = from_str(r#"{"b": 1, "a": 2}"#).unwrap();
        let text = Encoder::QMP.with_order(MemberOrder::Qemu).message_bytes(&v);
        assert_eq!(text, b"{\"a\": 2, \"b\": 1}\r\n");
        let v = from_str(r#"{"id": 1, "error": {"desc": "d", "class": "c"}}"#).unwrap();
        let text = Encoder::QMP.with_order(MemberOrder::Qemu).message_bytes(&v);
        assert_eq!(
            text,
            b"{\"id\": 1, \"error\": {\"class\": \"c\", \"desc\": \"d\"}}\r\n"
        );
    }
}
