//! A QMP monitor test double over the wire layer: it decodes, frames,
//! answers four commands the way QEMU 7.2 does, and encodes. Only the wire
//! layer is under test; the commands are what the recorded scenarios use.

#![allow(dead_code)] // each test crate uses a different part

use qmp_wire::{
    Decoded, Decoder, Encoder, ErrorClass, Map, MemberOrder, QmpError, Request, Response, Value,
};

/// The monitor side: negotiation state and the test double's commands.
pub struct Monitor {
    pub decoder: Decoder,
    encoder: Encoder,
    negotiated: bool,
    oob: bool,
}

impl Monitor {
    pub fn new(pretty: bool) -> Monitor {
        Monitor {
            decoder: Decoder::new(),
            encoder: Encoder::QMP
                .with_pretty(pretty)
                .with_order(MemberOrder::Qemu),
            negotiated: false,
            oob: false,
        }
    }

    pub fn reply(&mut self, item: Decoded) -> Vec<u8> {
        let response = match item {
            Err(json_error) => Response::error(QmpError::generic(json_error.to_string()), None),
            Ok(value) => match Request::from_value(value, self.oob) {
                Err(framing) => Response::error(QmpError::generic(framing.desc), framing.id),
                Ok(request) => {
                    let result = self.dispatch(&request);
                    Response {
                        result,
                        id: request.id,
                    }
                }
            },
        };
        self.encoder.message_bytes(&response.to_value())
    }

    fn dispatch(&mut self, request: &Request) -> Result<Value, QmpError> {
        let args = request.arguments_or_empty();
        let not_found = |desc: String| Err(QmpError::new(ErrorClass::CommandNotFound, desc));
        match (request.command.as_str(), self.negotiated) {
            ("qmp_capabilities", false) => {
                self.oob = args
                    .get("enable")
                    .and_then(Value::as_array)
                    .is_some_and(|caps| caps.iter().any(|c| c.as_str() == Some("oob")));
                self.negotiated = true;
                Ok(Value::Object(Map::new()))
            }
            ("qmp_capabilities", true) => {
                not_found("Capabilities negotiation is already complete, command ignored".into())
            }
            (_, false) => {
                not_found("Expecting capabilities negotiation with 'qmp_capabilities'".into())
            }
            ("query-name" | "query-status", true) => {
                if let Some(extra) = args.keys().next() {
                    return Err(QmpError::generic(format!(
                        "Parameter '{extra}' is unexpected"
                    )));
                }
                if request.command == "query-name" {
                    return Ok(Value::Object(Map::new()));
                }
                let status: Map = [
                    ("running", Value::Bool(true)),
                    ("singlestep", Value::Bool(false)),
                    ("status", Value::from("running")),
                ]
                .into_iter()
                .collect();
                Ok(Value::Object(status))
            }
            ("human-monitor-command", true) if !args.contains_key("command-line") => {
                Err(QmpError::generic("Parameter 'command-line' is missing"))
            }
            (name, true) => not_found(format!("The command {name} has not been found")),
        }
    }

    /// Feeds bytes and returns the replies they produced.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.decoder.feed(bytes);
        let mut replies = Vec::new();
        while let Some(item) = self.decoder.next() {
            replies.push(self.reply(item));
        }
        replies
    }
}

/// Pieces of QEMU's dialect, valid and invalid, to build hostile streams
/// from. Requests in them only name unknown commands, which the test double
/// answers as QEMU does.
pub const FRAGMENTS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b" ",
    b"\n",
    b"\t",
    b"\"",
    b"'",
    b"\"ab",
    b"\\",
    b"\\u00e9",
    b"\\uD800",
    b"\\uDC00",
    b"\\n",
    b"\\x",
    b"1",
    b"0",
    b"-",
    b"12",
    b".5",
    b"e+3",
    b"E",
    b"true",
    b"nul",
    b"l",
    b"x",
    b"TRUE",
    b"%",
    b"\x01",
    b"\x00",
    b"\x7f",
    b"\xff",
    b"\xfe",
    b"\xc3\xa9",
    b"\xc3",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xef\xbf\xbf",
    b"{\"execute\": \"x\"}",
    b"{\"execute\": \"nope\", \"id\": ",
    b"\"id\"",
    b"\"exec-oob\"",
    b"\"arguments\"",
];
