//! Requests encoded straight to bytes, without building a value first:
//! `{"execute": NAME, "arguments": {...}, "id": N}` in QEMU's member order
//! (`exec-oob` for out of band). Byte for byte what encoding
//! `qmp_wire::Request::to_value` gives.

use qmp_wire::{Encoder, Map, Value};

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
    out.extend_from_slice(if oob {
        b"{\"exec-oob\": "
    } else {
        b"{\"execute\": "
    });
    if is_plain(command) {
        out.push(b'"');
        out.extend_from_slice(command.as_bytes());
        out.push(b'"');
    } else {
        encoder.write_value(&Value::from(command), &mut out);
    }
    if let Some(arguments) = arguments {
        out.extend_from_slice(b", \"arguments\": ");
        encoder.write_value(&Value::Object(arguments), &mut out);
    }
    if let Some(id) = id {
        out.extend_from_slice(b", \"id\": ");
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

    fn reference(command: &str, arguments: Option<Map>, id: Option<i64>, oob: bool) -> Vec<u8> {
        let request = Request {
            command: command.to_owned(),
            arguments,
            id: id.map(Value::Int),
            oob,
        };
        let mut out = Vec::new();
        Encoder::QMP.write_value(&request.to_value(), &mut out);
        out
    }

    #[test]
    fn matches_encoding_the_request_value() {
        let mut args = Map::new();
        args.insert("id", "dev\u{e9}\"0");
        args.insert("n", -3);
        for (command, arguments, id, oob) in [
            ("query-name", None, Some(1), false),
            ("migrate-pause", None, Some(-42), true),
            ("device_del", Some(args.clone()), Some(i64::MAX), false),
            ("qmp_capabilities", Some(Map::new()), None, false),
            ("odd \"name\"\u{e9}", Some(args), Some(0), true),
        ] {
            assert_eq!(
                encode(&Encoder::QMP, command, arguments.clone(), id, oob),
                reference(command, arguments, id, oob),
                "{command}"
            );
        }
    }
}
