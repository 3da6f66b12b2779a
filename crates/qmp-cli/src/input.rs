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
/// `transaction( ... )`, or `COMMAND key=value ...`.
pub fn parse_line(line: &str) -> Result<CommandLine, InputError> {
    let trimmed = line.trim();
    if trimmed.starts_with('{') {
        return raw_json(trimmed);
    }
    let words = split_words(trimmed)?;
    let Some((command, rest)) = words.split_first() else {
        return Err(error("empty input"));
    };
    if let Some(after) = command.strip_prefix("transaction(") {
        let mut words: Vec<String> = rest.to_vec();
        if !after.is_empty() {
            words.insert(0, after.to_owned());
        }
        return transaction(&words);
    }
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

/// `transaction( A k=v ; B k=v )` as `{"actions": [{"type": A, "data": {...}}, ...]}`.
fn transaction(words: &[String]) -> Result<CommandLine, InputError> {
    let Some(last) = words.last() else {
        return Err(error("transaction( needs actions and a closing )"));
    };
    let mut words: Vec<String> = words.to_vec();
    if last == ")" {
        words.pop();
    } else if let Some(stripped) = last.strip_suffix(')') {
        let stripped = stripped.to_owned();
        words.pop();
        words.push(stripped);
    } else {
        return Err(error("transaction( needs a closing )"));
    }
    let mut actions = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let flush = |current: &mut Vec<String>, actions: &mut Vec<Value>| -> Result<(), InputError> {
        let Some((name, pairs)) = current.split_first() else {
            return Ok(());
        };
        let mut data = Map::new();
        add_pairs(&mut data, pairs.iter().map(String::as_str))?;
        let mut action = Map::new();
        action.insert("type", name.as_str());
        action.insert("data", data);
        actions.push(Value::Object(action));
        current.clear();
        Ok(())
    };
    for word in words {
        let ends = word.ends_with(';');
        let word = word.trim_end_matches(';');
        if !word.is_empty() {
            current.push(word.to_owned());
        }
        if ends {
            flush(&mut current, &mut actions)?;
        }
    }
    flush(&mut current, &mut actions)?;
    let mut arguments = Map::new();
    arguments.insert("actions", Value::Array(actions));
    Ok(CommandLine {
        command: "transaction".into(),
        arguments,
    })
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
    }
}
