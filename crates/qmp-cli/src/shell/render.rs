//! What the shell prints: replies and events as JSON (QEMU's pretty layout
//! or one line), HMP output as text, and the shell's own messages; in color
//! only when stdout is a terminal.

use std::io::IsTerminal;

use qmp_wire::{Event, QmpError, Response, Value};

use crate::exec::encoder;

const RED: &str = "\x1b[31m";
const CYAN: &str = "\x1b[36m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

/// How to print.
#[derive(Clone, Copy, Debug)]
pub struct Renderer {
    /// One line per message instead of the pretty layout.
    pub compact: bool,
    /// ANSI colors.
    pub color: bool,
}

impl Renderer {
    /// Pretty or compact, colored when stdout is a terminal and `NO_COLOR`
    /// is unset.
    pub fn new(compact: bool) -> Renderer {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Renderer { compact, color }
    }

    fn json(&self, value: &Value) -> String {
        let mut out = Vec::new();
        encoder(self.compact).write_message(value, &mut out);
        // The encoder writes ASCII only.
        String::from_utf8_lossy(&out).into_owned()
    }

    fn paint(&self, color: &str, text: String) -> String {
        if !self.color {
            return text;
        }
        // Line by line, so that a line printed above the prompt keeps its color.
        let mut out = String::with_capacity(text.len() + 16);
        for line in text.split_inclusive('\n') {
            let (body, end) = match line.strip_suffix('\n') {
                Some(body) => (body, "\n"),
                None => (line, ""),
            };
            out.push_str(color);
            out.push_str(body);
            out.push_str(RESET);
            out.push_str(end);
        }
        out
    }

    /// A reply as qmp-shell prints it: `{"return": ...}` or `{"error": ...}`.
    pub fn reply(&self, result: &Result<Value, QmpError>) -> String {
        let response = Response {
            result: result.clone(),
            id: None,
        };
        let text = self.json(&response.to_value());
        match result {
            Ok(_) => text,
            Err(_) => self.paint(RED, text),
        }
    }

    /// A request, as `--verbose` shows it before sending.
    pub fn request(&self, command: &str, arguments: &qmp_wire::Map) -> String {
        let request = qmp_wire::Request::new(command).with_arguments(arguments.clone());
        self.json(&request.to_value())
    }

    /// A `--logfile` entry, as qmp-shell writes it: the request with its
    /// reply's `return` or `error` member added, never colored.
    pub fn log_entry(
        &self,
        command: &str,
        arguments: &qmp_wire::Map,
        result: &Result<Value, QmpError>,
    ) -> String {
        let request = qmp_wire::Request::new(command).with_arguments(arguments.clone());
        let mut entry = request.to_value();
        let reply = Response {
            result: result.clone(),
            id: None,
        }
        .to_value();
        if let (Value::Object(entry), Value::Object(reply)) = (&mut entry, reply) {
            for (key, value) in reply {
                entry.insert(key, value);
            }
        }
        self.json(&entry)
    }

    /// An event as QEMU sends it.
    pub fn event(&self, event: &Event) -> String {
        self.paint(CYAN, self.json(&event.to_value()))
    }

    /// HMP output: the text, or the error as `CLASS: TEXT`.
    pub fn hmp(&self, result: &Result<Value, QmpError>) -> String {
        match result {
            Ok(Value::String(text)) => crate::terminal::safe(text).into_owned(),
            Ok(other) => self.json(other),
            Err(error) => self.paint(
                RED,
                format!("{}: {}\n", error.class, crate::terminal::safe(&error.desc)),
            ),
        }
    }

    /// A message of the shell's own (a refused input, a notice); any text
    /// from the server in it is escaped.
    pub fn notice(&self, text: &str) -> String {
        self.paint(YELLOW, format!("{}\n", crate::terminal::safe(text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qmp_wire::ErrorClass;

    #[test]
    fn replies_pretty_compact_and_colored() {
        let plain = Renderer {
            compact: true,
            color: false,
        };
        let mut status = qmp_wire::Map::new();
        status.insert("status", "running");
        assert_eq!(
            plain.reply(&Ok(Value::Object(status.clone()))),
            "{\"return\": {\"status\": \"running\"}}\n"
        );
        let pretty = Renderer {
            compact: false,
            ..plain
        };
        assert_eq!(
            pretty.reply(&Ok(Value::Object(status))),
            "{\n    \"return\": {\n        \"status\": \"running\"\n    }\n}\n"
        );
        let colored = Renderer {
            color: true,
            ..plain
        };
        let error = QmpError::new(ErrorClass::GenericError, "no");
        assert_eq!(
            colored.reply(&Err(error.clone())),
            "\x1b[31m{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}}\x1b[0m\n"
        );
        assert_eq!(plain.hmp(&Err(error)), "GenericError: no\n");
        assert_eq!(plain.hmp(&Ok(Value::String("text\r\n".into()))), "text\r\n");
    }
}
