//! Requests encoded straight to bytes, without building a value first:
//! `{"execute": NAME, "arguments": {...}, "id": N}` in QEMU's member order
//! (`exec-oob` for out of band). Byte for byte what encoding
//! `qmp_wire::Request::to_value` gives.

use qmp_wire::{Encoder, Map, Style, Value};

/// One request as bytes, without a line ending: QEMU needs none, and a line
/// ending it has not read when it exits (after `quit`) would make the kernel
/// reset the connection instead of closing it.
pub(crate) fn encode(
    encoder: &Encoder,
    command: &str,
    arguments: Option<Map>,
    id: Option<i64>,
    oob: bool,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + command.len());
    // The separators after `:` and `,` that the encoder's style writes.
    let (colon, comma): (&[u8], &[u8]) = match encoder.style {
        Style::Output => (b": ", b", "),
        Style::Request => (b":", b","),
    };
    let key = |out: &mut Vec<u8>, first: bool, name: &[u8]| {
        out.extend_from_slice(if first { b"{" } else { comma });
        out.push(b'"');
        out.extend_from_slice(name);
        out.push(b'"');
        out.extend_from_slice(colon);
    };
    key(&mut out, true, if oob { b"exec-oob" } else { b"execute" });
    if is_plain(command) {
        out.push(b'"');
        out.extend_from_slice(command.as_bytes());
        out.push(b'"');
    } else {
        encoder.write_value(&Value::from(command), &mut out);
    }
    if let Some(arguments) = arguments {
        key(&mut out, false, b"arguments");
        encoder.write_value(&Value::Object(arguments), &mut out);
    }
    if let Some(id) = id {
        key(&mut out, false, b"id");
        out.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
    }
    out.push(b'}');
    out
}

/// True when `s` needs no escaping: printable ASCII without `"` or `\`.
fn is_plain(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;
    use qmp_wire::Request;

    fn reference(
        encoder: &Encoder,
        command: &str,
        arguments: Option<Map>,
        id: Option<i64>,
        oob: bool,
    ) -> Vec<u8> {
        let request = Request {
            command: command.to_owned(),
            arguments,
            id: id.map(Value::Int),
            oob,
        };
        let mut out = Vec::new();
        encoder.write_value(&request.to_value(), &mut out);
        out
    }

    #[test]
    fn matches_encoding_the_request_value() {
        let mut args = Map::new();
        args.insert("id", "dev\u{e9}\"0");
        args.insert("n", -3);
        args.insert("ratio", 2.0);
        for encoder in [Encoder::QMP, Encoder::REQUEST] {
            for (command, arguments, id, oob) in [
                ("query-name", None, Some(1), false),
                ("migrate-pause", None, Some(-42), true),
                ("device_del", Some(args.clone()), Some(i64::MAX), false),
                ("qmp_capabilities", Some(Map::new()), None, false),
                ("odd \"name\"\u{e9}", Some(args.clone()), Some(0), true),
            ] {
                assert_eq!(
                    encode(&encoder, command, arguments.clone(), id, oob),
                    reference(&encoder, command, arguments, id, oob),
                    "{command}"
                );
            }
        }
    }

    #[test]
    fn requests_are_tight_and_keep_doubles() {
        let mut args = Map::new();
        args.insert("cpu-index", 1.0);
        args.insert("list", Value::Array(vec![Value::Int(0), Value::Int(0)]));
        let bytes = encode(&Encoder::REQUEST, "x", Some(args), Some(7), false);
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            r#"{"execute":"x","arguments":{"cpu-index":1.0,"list":[0,0]},"id":7}"#
        );
    }
}
