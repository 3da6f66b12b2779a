//! The audit log: one JSON line per message a client sends or gets, with
//! the listener, the client, the direction and a timestamp; secret
//! arguments replaced by `"<redacted>"` before anything is written.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{LineWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use qmp_wire::{Encoder, Map, Timestamp, Value};
use serde::Deserialize;

use crate::error::{Error, Result};

/// What replaces a redacted value.
pub const REDACTED: &str = "<redacted>";

/// One secret argument: `member` of `command`'s arguments (also looked for
/// in an `object-add`'s legacy `props`), optionally only when another
/// argument has a given value (`object-add` of a `secret` object).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RedactRule {
    /// The command.
    pub command: String,
    /// The argument whose value is secret.
    pub member: String,
    /// Only when these arguments have these (string) values.
    #[serde(default)]
    pub when: BTreeMap<String, String>,
}

impl RedactRule {
    fn new(command: &str, member: &str) -> RedactRule {
        RedactRule {
            command: command.into(),
            member: member.into(),
            when: BTreeMap::new(),
        }
    }

    /// The rules used unless the configuration gives its own: passwords,
    /// a `secret` object's data, and data written to a guest file or a
    /// ring buffer.
    pub fn defaults() -> Vec<RedactRule> {
        vec![
            RedactRule::new("set_password", "password"),
            RedactRule::new("change-vnc-password", "password"),
            RedactRule {
                when: [("qom-type".into(), "secret".into())].into(),
                ..RedactRule::new("object-add", "data")
            },
            RedactRule::new("guest-file-write", "buf-b64"),
            RedactRule::new("guest-set-user-password", "password"),
            RedactRule::new("ringbuf-write", "data"),
        ]
    }

    fn applies(&self, command: &str, arguments: &Map) -> bool {
        self.command == command
            && self.when.iter().all(|(key, value)| {
                arguments.get(key).and_then(Value::as_str) == Some(value.as_str())
            })
    }
}

/// Copies `arguments` with every secret of `rules` replaced.
pub fn redact(rules: &[RedactRule], command: &str, arguments: &Map) -> Map {
    let mut copy = arguments.clone();
    for rule in rules.iter().filter(|r| r.applies(command, arguments)) {
        if let Some(value) = copy.get_mut(&rule.member) {
            *value = REDACTED.into();
        }
        if let Some(Value::Object(props)) = copy.get_mut("props") {
            if let Some(value) = props.get_mut(&rule.member) {
                *value = REDACTED.into();
            }
        }
    }
    copy
}

/// Which way a logged message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From a client.
    In,
    /// To a client.
    Out,
    /// An event from QEMU, to every client.
    Event,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::Event => "event",
        }
    }
}

/// Where the proxy writes its audit lines.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    out: Mutex<LineWriter<File>>,
}

impl AuditLog {
    /// Appends to `path` (created 0600 if missing).
    pub fn open(path: &Path) -> Result<AuditLog> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| Error::Audit {
                path: path.into(),
                source,
            })?;
        Ok(AuditLog {
            path: path.into(),
            out: Mutex::new(LineWriter::new(file)),
        })
    }

    /// Writes one line: `{"timestamp": ..., "listener": ..., "client": N,
    /// "direction": ..., "message": ...}` plus any `extra` members
    /// (`refused`). `client` is `None` for events (sent to every client).
    pub fn record(
        &self,
        listener: &str,
        client: Option<u64>,
        direction: Direction,
        message: Value,
        extra: &[(&str, Value)],
    ) {
        let now = Timestamp::now();
        let mut stamp = Map::new();
        stamp.insert("seconds", now.seconds);
        stamp.insert("microseconds", now.microseconds);
        let mut line = Map::new();
        line.insert("timestamp", stamp);
        line.insert("listener", listener);
        line.insert("client", client.map_or(Value::Null, Value::from));
        line.insert("direction", direction.as_str());
        line.insert("message", message);
        for (key, value) in extra {
            line.insert(*key, value.clone());
        }
        let bytes = Encoder::QGA.message_bytes(&Value::Object(line));
        let Ok(mut out) = self.out.lock() else { return };
        if let Err(e) = out.write_all(&bytes) {
            tracing::error!(path = %self.path.display(), "audit log write failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(value: Value) -> Map {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn redacts_secrets_only() {
        let rules = RedactRule::defaults();
        let args =
            map(qmp_wire::from_str(r#"{"protocol": "vnc", "password": "hunter2"}"#).unwrap());
        let out = redact(&rules, "set_password", &args);
        assert_eq!(out.get("password").and_then(Value::as_str), Some(REDACTED));
        assert_eq!(out.get("protocol").and_then(Value::as_str), Some("vnc"));

        let secret =
            map(qmp_wire::from_str(r#"{"qom-type": "secret", "id": "s0", "data": "k"}"#).unwrap());
        let out = redact(&rules, "object-add", &secret);
        assert_eq!(out.get("data").and_then(Value::as_str), Some(REDACTED));

        let other = map(qmp_wire::from_str(
            r#"{"qom-type": "memory-backend-ram", "id": "m", "data": "x"}"#,
        )
        .unwrap());
        let out = redact(&rules, "object-add", &other);
        assert_eq!(out.get("data").and_then(Value::as_str), Some("x"));
    }
}
