//! Tab completion from `query-qmp-schema`: command names, argument names
//! (dotted ones for nested objects, union branches chosen by the tag
//! already typed), enum and boolean values, and `transaction(` actions and
//! their arguments. Pure functions over the text before the cursor.

use qapi_schema::introspect::SchemaInfo;
use qmp_wire::{Map, Value};

use super::types;
use crate::input::add_pairs;

/// Where the replaced text starts, and the candidates replacing it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    /// Byte offset in the line where the word being completed starts.
    pub start: usize,
    /// Replacements for the text from `start` to the cursor, sorted.
    pub candidates: Vec<String>,
}

/// A word of the line: where it starts, and its text without quotes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Word {
    start: usize,
    text: String,
}

/// Splits `line` into words as a POSIX shell would, keeping offsets; the
/// flag tells whether the last word is still being typed (no space after).
fn words(line: &str) -> (Vec<Word>, bool) {
    let mut out: Vec<Word> = Vec::new();
    let mut current: Option<Word> = None;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if quote == Some(c) {
            quote = None;
            current.get_or_insert(Word {
                start: i,
                text: String::new(),
            });
            continue;
        } else if quote.is_none() && (c == '\'' || c == '"') {
            quote = Some(c);
            current.get_or_insert(Word {
                start: i,
                text: String::new(),
            });
            continue;
        } else if quote != Some('\'') && c == '\\' {
            escaped = true;
            current.get_or_insert(Word {
                start: i,
                text: String::new(),
            });
            continue;
        } else if quote.is_none() && c.is_whitespace() {
            out.extend(current.take());
            continue;
        }
        current
            .get_or_insert(Word {
                start: i,
                text: String::new(),
            })
            .text
            .push(c);
    }
    let open = current.is_some();
    out.extend(current);
    (out, open)
}

/// Candidates among `names` starting with `prefix`, each followed by `suffix`.
fn matching<'a>(
    names: impl IntoIterator<Item = &'a str>,
    prefix: &str,
    suffix: &str,
) -> Vec<String> {
    let mut out: Vec<String> = names
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .map(|n| format!("{n}{suffix}"))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Completes the first word of `line` from `names` (HMP commands).
pub fn complete_first_word<'a>(names: impl IntoIterator<Item = &'a str>, line: &str) -> Completion {
    let (words, open) = words(line);
    match (words.as_slice(), open) {
        ([], _) => Completion {
            start: line.len(),
            candidates: matching(names, "", " "),
        },
        ([word], true) => Completion {
            start: word.start,
            candidates: matching(names, &word.text, " "),
        },
        _ => Completion::default(),
    }
}

/// Completes `line` (the text before the cursor) in qmp-shell's syntax;
/// `in_transaction` is true inside a multi-line `transaction(` block.
pub fn complete(schema: &SchemaInfo, line: &str, in_transaction: bool) -> Completion {
    if !in_transaction && line.trim_start().starts_with('{') {
        return Completion::default();
    }
    let (mut all, open) = words(line);
    let mut current = match open {
        true => all.pop(),
        false => None,
    }
    .unwrap_or(Word {
        start: line.len(),
        text: String::new(),
    });
    let mut transaction = in_transaction;
    if !transaction {
        let first = all.first_mut().unwrap_or(&mut current);
        if let Some(after) = first.text.strip_prefix("transaction(") {
            first.start += first.text.len() - after.len();
            first.text = after.to_owned();
            transaction = true;
        }
    }
    // The words of the command, or of the transaction action being typed.
    let mut segment: Vec<&str> = Vec::new();
    for word in &all {
        let text = match transaction {
            true => word.text.trim_end_matches(';'),
            false => word.text.as_str(),
        };
        if !text.is_empty() {
            segment.push(text);
        }
        if transaction && word.text.ends_with(';') {
            segment.clear();
        }
    }
    let Some((name, pairs)) = segment.split_first() else {
        return names(schema, transaction, &current);
    };
    let actions = types::transaction_actions(schema);
    let root = match transaction {
        true => actions.iter().find(|(a, _)| a == name).map(|(_, ty)| *ty),
        false => schema.arg_type(name),
    };
    let Some(root) = root else {
        return Completion::default();
    };
    let mut given = Map::new();
    for pair in pairs {
        // Best effort: a bad pair only loses its own hints.
        let _ = add_pairs(&mut given, [*pair]);
    }
    match current.text.split_once('=') {
        Some((key, prefix)) => value(schema, root, &given, line, &current, key, prefix),
        None => key(schema, root, &given, &current),
    }
}

/// Command names, or the actions of a transaction.
fn names(schema: &SchemaInfo, transaction: bool, current: &Word) -> Completion {
    let candidates = if transaction {
        let actions = types::transaction_actions(schema);
        matching(actions.iter().map(|(a, _)| *a), &current.text, " ")
    } else {
        let mut names = matching(
            schema.commands().map(|e| e.name.as_str()),
            &current.text,
            " ",
        );
        if schema.arg_type("transaction").is_some()
            && "transaction(".starts_with(current.text.as_str())
        {
            names.push("transaction( ".to_owned());
            names.sort();
        }
        names
    };
    Completion {
        start: current.start,
        candidates,
    }
}

/// Argument names after `key.path.` for the word being typed.
fn key(schema: &SchemaInfo, root: &str, given: &Map, current: &Word) -> Completion {
    let (parent, partial) = match current.text.rsplit_once('.') {
        Some((parent, partial)) => (Some(parent), partial),
        None => (None, current.text.as_str()),
    };
    let path: Vec<&str> = parent.map(|p| p.split('.').collect()).unwrap_or_default();
    let Some(ty) = types::member_type(schema, root, &path, given) else {
        return Completion::default();
    };
    let level = types::given_at(given, &path);
    let prefix = parent.map(|p| format!("{p}.")).unwrap_or_default();
    let mut candidates = Vec::new();
    for member in types::members(schema, ty, level) {
        if !member.name.starts_with(partial) {
            continue;
        }
        let typed = level.and_then(|l| l.get(&member.name));
        let shape = types::shape(schema, &member.ty);
        if shape.scalar && typed.is_none() {
            candidates.push(format!("{prefix}{}=", member.name));
        }
        if shape.object && !typed.is_some_and(|v| !matches!(v, Value::Object(_))) {
            candidates.push(format!("{prefix}{}.", member.name));
        }
    }
    candidates.sort();
    candidates.dedup();
    Completion {
        start: current.start,
        candidates,
    }
}

/// Values for `key=` (enum values, booleans) for the word being typed.
fn value(
    schema: &SchemaInfo,
    root: &str,
    given: &Map,
    line: &str,
    current: &Word,
    key: &str,
    prefix: &str,
) -> Completion {
    // Only unquoted words: their offsets in the line are the text's.
    if line.get(current.start..) != Some(current.text.as_str()) {
        return Completion::default();
    }
    let path: Vec<&str> = key.split('.').collect();
    let Some(ty) = types::member_type(schema, root, &path, given) else {
        return Completion::default();
    };
    let words = types::value_words(schema, ty);
    Completion {
        start: current.start + key.len() + 1,
        candidates: matching(words.iter().map(String::as_str), prefix, " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> SchemaInfo {
        let value = qmp_wire::from_str(
            r#"[
            {"name": "query-status", "meta-type": "command", "arg-type": "0", "ret-type": "0"},
            {"name": "query-name", "meta-type": "command", "arg-type": "0", "ret-type": "0"},
            {"name": "blockdev-add", "meta-type": "command", "arg-type": "1", "ret-type": "0"},
            {"name": "transaction", "meta-type": "command", "arg-type": "10", "ret-type": "0"},
            {"name": "0", "meta-type": "object", "members": []},
            {"name": "1", "meta-type": "object", "tag": "driver",
             "members": [{"name": "driver", "type": "2"}, {"name": "node-name", "type": "str", "default": null},
                         {"name": "read-only", "type": "bool", "default": null}],
             "variants": [{"case": "raw", "type": "3"}, {"case": "null-co", "type": "4"}]},
            {"name": "2", "meta-type": "enum", "values": ["file", "null-aio", "null-co", "raw"]},
            {"name": "3", "meta-type": "object", "members": [{"name": "file", "type": "5"}]},
            {"name": "4", "meta-type": "object", "members": [{"name": "size", "type": "int", "default": null}]},
            {"name": "5", "meta-type": "alternate", "members": [{"type": "1"}, {"type": "str"}]},
            {"name": "10", "meta-type": "object", "members": [{"name": "actions", "type": "[11]"}]},
            {"name": "[11]", "meta-type": "array", "element-type": "11"},
            {"name": "11", "meta-type": "object", "tag": "type", "members": [{"name": "type", "type": "12"}],
             "variants": [{"case": "abort", "type": "13"}, {"case": "blockdev-add-x", "type": "14"}]},
            {"name": "12", "meta-type": "enum", "values": ["abort", "blockdev-add-x"]},
            {"name": "13", "meta-type": "object", "members": [{"name": "data", "type": "0"}]},
            {"name": "14", "meta-type": "object", "members": [{"name": "data", "type": "1"}]},
            {"name": "str", "meta-type": "builtin", "json-type": "string"},
            {"name": "int", "meta-type": "builtin", "json-type": "int"},
            {"name": "bool", "meta-type": "builtin", "json-type": "boolean"}
            ]"#,
        )
        .unwrap();
        SchemaInfo::from_value(&value).unwrap()
    }

    fn complete_at(line: &str) -> (usize, Vec<String>) {
        let c = complete(&schema(), line, false);
        (c.start, c.candidates)
    }

    #[test]
    fn command_names() {
        assert_eq!(
            complete_at("query-"),
            (0, vec!["query-name ".into(), "query-status ".into()])
        );
        assert_eq!(complete_at("  query-s"), (2, vec!["query-status ".into()]));
        assert_eq!(
            complete_at("tr"),
            (0, vec!["transaction ".into(), "transaction( ".into()])
        );
        assert_eq!(complete_at("{\"execute\": \"q"), (0, vec![]));
    }

    #[test]
    fn argument_names_nested_and_by_union_branch() {
        assert_eq!(
            complete_at("blockdev-add "),
            (
                13,
                vec!["driver=".into(), "node-name=".into(), "read-only=".into()]
            )
        );
        assert_eq!(
            complete_at("blockdev-add driver=raw n"),
            (24, vec!["node-name=".into()])
        );
        assert_eq!(
            complete_at("blockdev-add driver=raw fi"),
            (24, vec!["file.".into(), "file=".into()])
        );
        assert_eq!(
            complete_at("blockdev-add driver=raw file.d"),
            (24, vec!["file.driver=".into()])
        );
        assert_eq!(
            complete_at("blockdev-add driver=raw file.driver=null-co file.s"),
            (44, vec!["file.size=".into()])
        );
        // Given leaves are not offered again.
        assert_eq!(complete_at("blockdev-add driver=raw dr"), (24, vec![]));
        assert_eq!(complete_at("nosuch a"), (0, vec![]));
    }

    #[test]
    fn enum_and_boolean_values() {
        assert_eq!(
            complete_at("blockdev-add driver=null"),
            (20, vec!["null-aio ".into(), "null-co ".into()])
        );
        assert_eq!(
            complete_at("blockdev-add driver=raw file.driver=f"),
            (36, vec!["file ".into()])
        );
        assert_eq!(
            complete_at("blockdev-add read-only="),
            (23, vec!["false ".into(), "true ".into()])
        );
        assert_eq!(complete_at("blockdev-add node-name=x"), (23, vec![]));
        assert_eq!(complete_at("blockdev-add driver='nu"), (0, vec![]));
    }

    #[test]
    fn transaction_actions_and_their_arguments() {
        assert_eq!(complete_at("transaction( a"), (13, vec!["abort ".into()]));
        assert_eq!(complete_at("transaction(a"), (12, vec!["abort ".into()]));
        assert_eq!(
            complete_at("transaction( abort ; blockdev-add-x driver=raw no"),
            (47, vec!["node-name=".into()])
        );
        let c = complete(&schema(), "blockdev-add-x d", true);
        assert_eq!((c.start, c.candidates), (15, vec!["driver=".into()]));
        let c = complete(&schema(), "", true);
        assert_eq!(
            c.candidates,
            vec!["abort ".to_owned(), "blockdev-add-x ".into()]
        );
    }

    #[test]
    fn on_qemu_7_2s_schema() {
        let Some(path) =
            qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json")
        else {
            return;
        };
        let text = std::fs::read_to_string(path).unwrap();
        let value = qmp_wire::from_str(&text).unwrap();
        let reply = match &value {
            Value::Object(map) => map.get("return").cloned().unwrap_or(value.clone()),
            _ => value.clone(),
        };
        let schema = SchemaInfo::from_value(&reply).unwrap();
        let at = |line: &str| complete(&schema, line, false).candidates;
        assert_eq!(at("query-statu"), vec!["query-status "]);
        assert_eq!(at("set-action pan"), vec!["panic="]);
        assert_eq!(at("set-action panic=pa"), vec!["pause "]);
        assert_eq!(
            at("blockdev-add driver=qcow2 node-name=a file.dri"),
            vec!["file.driver="]
        );
        assert_eq!(
            at("blockdev-add driver=qcow2 file.driver=file file.filen"),
            vec!["file.filename="]
        );
        assert_eq!(
            at("transaction( block-dirty-bitmap-a"),
            vec!["block-dirty-bitmap-add "]
        );
        assert_eq!(
            at("transaction( block-dirty-bitmap-add node=n gr"),
            vec!["granularity="]
        );
        let inside = complete(&schema, "block-dirty-bitmap-add na", true).candidates;
        assert_eq!(inside, vec!["name="]);
    }

    #[test]
    fn odd_input_gives_no_candidates_and_no_panic() {
        let schema = schema();
        for line in [
            "'",
            "\"a",
            "\\",
            "=",
            "a=",
            "blockdev-add =",
            "blockdev-add .",
            "blockdev-add a..b=",
            "blockdev-add driver=raw file..",
            "transaction(;",
            "transaction( ; ;",
            "é=ü",
            "blockdev-add driver=raw driver.x=",
            "blockdev-add file.driver=raw file=x fi",
            "blockdev-add 'dri",
            ")",
            "transaction( )",
        ] {
            for in_transaction in [false, true] {
                let c = complete(&schema, line, in_transaction);
                assert!(c.start <= line.len(), "{line:?}");
            }
        }
    }

    #[test]
    fn first_words() {
        let c = complete_first_word(["info", "stop", "system_reset"], "s");
        assert_eq!(
            (c.start, c.candidates),
            (0, vec!["stop ".into(), "system_reset ".into()])
        );
        assert_eq!(
            complete_first_word(["info"], "info v").candidates,
            Vec::<String>::new()
        );
    }

    #[test]
    fn words_keep_offsets_and_drop_quotes() {
        let (w, open) = words("a 'b c'=d e\\ f ");
        assert!(!open);
        let texts: Vec<_> = w.iter().map(|w| (w.start, w.text.as_str())).collect();
        assert_eq!(texts, vec![(0, "a"), (2, "b c=d"), (10, "e f")]);
    }
}
