//! qmp-shell's input syntax, shared by `qmp shell` and `qmp exec`:
//! `COMMAND key=value ...` with JSON values, dotted keys for nested
//! objects, `transaction( action args ; action args )`, or a raw JSON
//! request.

use qmp_wire::{Map, Value};

/// A parsed line: the command and its arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandLine {
    /// The command name.
    pub command: String,
    /// The arguments (empty when none).
    pub arguments: Map,
}

/// Input that does not follow the syntax.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

fn error(text: impl Into<String>) -> InputError {
    InputError(text.into())
}

/// A value as qmp-shell reads it: an integer, `true`/`false` (any case),
/// JSON for text starting with `{` or `[`, otherwise the text as a string.
pub fn parse_value(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::Int(i);
    }
    if text.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if text.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if text.starts_with(['{', '[']) {
        if let Ok(value) = qmp_wire::from_str(text) {
            return value;
        }
    }
    Value::String(text.to_owned())
}

/// Adds `key=value` words to `arguments`, with dotted keys making nested
/// objects (qmp-shell's rules and messages).
pub fn add_pairs<'a>(
    arguments: &mut Map,
    words: impl IntoIterator<Item = &'a str>,
) -> Result<(), InputError> {
    for word in words {
        let Some((key, text)) = word.split_once('=') else {
            return Err(error(format!("Expected a key=value pair, got '{word}'")));
        };
        let value = parse_value(text);
        let path: Vec<&str> = key.split('.').collect();
        let Some((last, parents)) = path.split_last() else {
            continue;
        };
        let mut current = &mut *arguments;
        let mut walked = Vec::new();
        for part in parents {
            walked.push(*part);
            if !current.contains_key(part) {
                current.insert(*part, Map::new());
            }
            current = match current.get_mut(part) {
                Some(Value::Object(inner)) => inner,
                _ => {
                    return Err(error(format!(
                        "Cannot use \"{}\" as both leaf and non-leaf key",
                        walked.join(".")
                    )))
                }
            };
        }
        match current.get(last) {
            Some(Value::Object(_)) => {
                return Err(error(format!(
                    "Cannot use \"{}\" as both leaf and non-leaf key",
                    walked.join(".")
                )))
            }
            Some(_) => return Err(error(format!("Cannot set \"{key}\" multiple times"))),
            None => {
                current.insert(*last, value);
            }
        }
    }
    Ok(())
}

/// Splits a line into words as a POSIX shell would (quotes, backslashes).
pub fn split_words(line: &str) -> Result<Vec<String>, InputError> {
    shlex::split(line).ok_or_else(|| error("unbalanced quotes"))
}

/// Parses one complete input: raw JSON (`{"execute": ...}`), a
/// `transaction( ... )` on one line, or `COMMAND key=value ...`.
pub fn parse_line(line: &str) -> Result<CommandLine, InputError> {
    let mut reader = LineReader::default();
    match reader.feed(line)? {
        Some(command) => Ok(command),
        None if reader.in_transaction() => Err(error("transaction( needs a closing )")),
        None => Err(error("empty input")),
    }
}

/// qmp-shell's reader, line by line: outside or inside a `transaction(`
/// block, which may span lines (one or more actions a line, `;` between
/// actions on one line, `)` alone or at the end of the last action closes
/// it).
#[derive(Debug, Default)]
pub struct LineReader {
    /// The actions so far, when inside a transaction.
    actions: Option<Vec<Value>>,
}

impl LineReader {
    /// True inside a `transaction(` block.
    pub fn in_transaction(&self) -> bool {
        self.actions.is_some()
    }

    /// Leaves a transaction block unsent.
    pub fn abandon(&mut self) {
        self.actions = None;
    }

    /// Reads one line: a command to send, or `None` when there is nothing
    /// to send yet (an empty line, or a transaction still open). A line in
    /// error inside a transaction is dropped and the transaction stays open.
    pub fn feed(&mut self, line: &str) -> Result<Option<CommandLine>, InputError> {
        let trimmed = line.trim();
        if !self.in_transaction() && trimmed.starts_with('{') {
            return raw_json(trimmed).map(Some);
        }
        let mut words = split_words(trimmed)?;
        if !self.in_transaction() {
            let Some(first) = words.first() else {
                return Ok(None);
            };
            let Some(after) = first.strip_prefix("transaction(") else {
                return command(&words).map(Some);
            };
            let after = after.to_owned();
            words.remove(0);
            if !after.is_empty() {
                words.insert(0, after);
            }
            self.actions = Some(Vec::new());
        }
        self.transaction_words(words)
    }

    fn transaction_words(
        &mut self,
        mut words: Vec<String>,
    ) -> Result<Option<CommandLine>, InputError> {
        if words.first().is_some_and(|w| w == ")") {
            let actions = self.actions.take().unwrap_or_default();
            if words.len() > 1 {
                return Err(error(
                    "Unexpected input after close of Transaction sub-shell",
                ));
            }
            return Ok(Some(transaction(actions)));
        }
        let closes = match words.last_mut() {
            Some(last) if last == ")" => {
                words.pop();
                true
            }
            Some(last) if last.ends_with(')') => {
                last.pop();
                true
            }
            _ => false,
        };
        let parsed = actions(&words)?;
        let actions = self.actions.get_or_insert_with(Vec::new);
        actions.extend(parsed);
        if closes {
            Ok(Some(transaction(self.actions.take().unwrap_or_default())))
        } else {
            Ok(None)
        }
    }
}

/// `COMMAND key=value ...`
fn command(words: &[String]) -> Result<CommandLine, InputError> {
    let Some((command, rest)) = words.split_first() else {
        return Err(error("empty input"));
    };
    let mut arguments = Map::new();
    add_pairs(&mut arguments, rest.iter().map(String::as_str))?;
    Ok(CommandLine {
        command: command.clone(),
        arguments,
    })
}

fn raw_json(text: &str) -> Result<CommandLine, InputError> {
    let value = qmp_wire::from_str(text).map_err(|e| error(e.to_string()))?;
    let request = qmp_wire::Request::from_value(value, true).map_err(|e| error(e.desc))?;
    Ok(CommandLine {
        command: request.command,
        arguments: request.arguments.unwrap_or_default(),
    })
}

/// Splits transaction words at `;` into actions: `ACTION k=v ...` as
/// `{"type": ACTION, "data": {...}}`.
fn actions(words: &[String]) -> Result<Vec<Value>, InputError> {
    let mut actions = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut flush = |current: &mut Vec<&str>| -> Result<(), InputError> {
        let Some((name, pairs)) = current.split_first() else {
            return Ok(());
        };
        let mut data = Map::new();
        add_pairs(&mut data, pairs.iter().copied())?;
        let mut action = Map::new();
        action.insert("type", *name);
        action.insert("data", data);
        actions.push(Value::Object(action));
        current.clear();
        Ok(())
    };
    for word in words {
        let word = word.as_str();
        let ends = word.ends_with(';');
        let word = word.trim_end_matches(';');
        if !word.is_empty() {
            current.push(word);
        }
        if ends {
            flush(&mut current)?;
        }
    }
    flush(&mut current)?;
    Ok(actions)
}

/// `{"actions": [...]}` for the `transaction` command.
fn transaction(actions: Vec<Value>) -> CommandLine {
    let mut arguments = Map::new();
    arguments.insert("actions", Value::Array(actions));
    CommandLine {
        command: "transaction".into(),
        arguments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Value {
        Value::Object(parse_line(line).unwrap().arguments)
    }

    #[test]
    fn key_value_pairs_with_json_values_and_dotted_keys() {
        let line = parse_line("blockdev-add driver=qcow2 node-name=disk file.driver=file file.filename=/tmp/a read-only=true size=42 opts='{\"a\":[1]}'").unwrap();
        assert_eq!(line.command, "blockdev-add");
        assert_eq!(
            Value::Object(line.arguments),
            qmp_wire::from_str(r#"{"driver": "qcow2", "node-name": "disk", "file": {"driver": "file", "filename": "/tmp/a"}, "read-only": true, "size": 42, "opts": {"a": [1]}}"#).unwrap()
        );
        assert_eq!(
            args("x s='a b' n=-7 t=False"),
            qmp_wire::from_str(r#"{"s": "a b", "n": -7, "t": false}"#).unwrap()
        );
    }

    #[test]
    fn qmp_shells_errors() {
        assert_eq!(
            parse_line("x a").unwrap_err().0,
            "Expected a key=value pair, got 'a'"
        );
        assert_eq!(
            parse_line("x a=1 a=2").unwrap_err().0,
            "Cannot set \"a=2\" multiple times".replace("a=2", "a")
        );
        assert_eq!(
            parse_line("x a=1 a.b=2").unwrap_err().0,
            "Cannot use \"a\" as both leaf and non-leaf key"
        );
    }

    #[test]
    fn raw_json_and_transactions() {
        let raw = parse_line(r#"{"execute": "stop", "arguments": {"a": 1}}"#).unwrap();
        assert_eq!(raw.command, "stop");
        let t = parse_line("transaction( abort ; block-dirty-bitmap-add node=d name=b )").unwrap();
        assert_eq!(t.command, "transaction");
        assert_eq!(
            Value::Object(t.arguments),
            qmp_wire::from_str(r#"{"actions": [{"type": "abort", "data": {}}, {"type": "block-dirty-bitmap-add", "data": {"node": "d", "name": "b"}}]}"#).unwrap()
        );
        assert_eq!(
            parse_line("transaction( abort").unwrap_err().0,
            "transaction( needs a closing )"
        );
    }

    #[test]
    fn transactions_over_several_lines() {
        let mut reader = LineReader::default();
        assert_eq!(reader.feed("transaction(").unwrap(), None);
        assert!(reader.in_transaction());
        assert_eq!(reader.feed("abort").unwrap(), None);
        assert!(reader.feed("x a").is_err(), "a bad action is refused");
        assert!(reader.in_transaction(), "and the block stays open");
        assert_eq!(reader.feed("").unwrap(), None);
        assert_eq!(
            reader.feed("block-dirty-bitmap-add node=d name=b").unwrap(),
            None
        );
        let t = reader.feed(")").unwrap().unwrap();
        assert!(!reader.in_transaction());
        assert_eq!(
            Value::Object(t.arguments),
            qmp_wire::from_str(r#"{"actions": [{"type": "abort", "data": {}}, {"type": "block-dirty-bitmap-add", "data": {"node": "d", "name": "b"}}]}"#).unwrap()
        );
        assert_eq!(reader.feed("transaction( abort").unwrap(), None);
        let t = reader.feed("abort )").unwrap().unwrap();
        assert_eq!(
            t.arguments
                .get("actions")
                .and_then(Value::as_array)
                .map(Vec::len),
            Some(2)
        );
        reader.feed("transaction(").unwrap();
        assert_eq!(
            reader.feed(") x").unwrap_err().0,
            "Unexpected input after close of Transaction sub-shell"
        );
        assert!(!reader.in_transaction());
        assert_eq!(reader.feed("   ").unwrap(), None);
    }
}
