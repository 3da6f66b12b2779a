//! How `diff` classifies changes for clients: what a client sends may not
//! lose anything or demand more, what it receives may not lose anything;
//! type names are not on the wire.

use qapi_schema::introspect::{diff, Change, ChangeKind, Compat, IntrospectOptions, SchemaInfo};
use qapi_schema::{load_str, Conditions, LoadOptions};

fn info(text: &str, options: IntrospectOptions) -> SchemaInfo {
    let schema = load_str("d.json", text, LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    SchemaInfo::from_schema(&schema, &Conditions::All, options)
}

/// The changes from `old` to `new` as `(class, line)`, with real names.
fn changes(old: &str, new: &str) -> Vec<(Compat, String)> {
    let (old, new) = (
        info(old, IntrospectOptions::VALIDATION),
        info(new, IntrospectOptions::VALIDATION),
    );
    diff(&old, &new)
        .into_iter()
        .map(|c: Change| (c.compat, c.to_string()))
        .collect()
}

fn has(list: &[(Compat, String)], compat: Compat, line: &str) -> bool {
    list.iter().any(|(c, l)| *c == compat && l == line)
}

const OLD: &str = "
{ 'enum': 'Mode', 'data': [ 'a', 'b' ] }
{ 'enum': 'State', 'data': [ 'on', 'off' ] }
{ 'struct': 'Info', 'data': { 'state': 'State', 'size': 'int', '*note': 'str' } }
{ 'command': 'set', 'data': { 'mode': 'Mode', '*level': 'int', 'old': 'str', '*count': 'int' } }
{ 'command': 'get', 'returns': 'Info' }
{ 'command': 'gone' }
{ 'event': 'DONE', 'data': { 'id': 'str' } }
";

const NEW: &str = "
{ 'enum': 'Mode', 'data': [ 'a', 'c' ] }
{ 'enum': 'State', 'data': [ 'on' ] }
{ 'struct': 'Info', 'data': { 'state': 'State', '*size': 'int', 'note': 'str', 'extra': 'int' } }
{ 'command': 'set', 'data': { 'mode': 'Mode', 'level': 'int', '*count': 'uint64', 'new': 'str' } }
{ 'command': 'get', 'returns': 'Info' }
{ 'command': 'fresh' }
{ 'event': 'DONE', 'data': { 'id': 'str', 'more': 'int' } }
";

#[test]
fn arguments_and_returns_are_classified_by_direction() {
    let list = changes(OLD, NEW);
    let breaking = [
        "removed: command 'gone'",
        // What a client sends.
        "removed: enum 'Mode' value 'b'",
        "removed: command 'set' argument 'old'",
        "added: command 'set' argument 'new' (mandatory)",
        "changed: command 'set' argument 'level' (now mandatory)",
        // What it receives.
        "changed: type 'Info' member 'size' (now optional)",
    ];
    for line in breaking {
        assert!(has(&list, Compat::Breaking, line), "{line}: {list:?}");
    }
    let compatible = [
        "added: command 'fresh'",
        "added: enum 'Mode' value 'c'",
        // A value the client only receives, gone: nothing it reads breaks.
        "removed: enum 'State' value 'off'",
        "changed: type 'Info' member 'note' (now mandatory)",
        "added: type 'Info' member 'extra' (mandatory)",
        "added: event 'DONE' data 'more' (mandatory)",
        // QEMU's uint64 takes every int a client could send.
        "changed: command 'set' argument 'count' (type int -> uint64)",
    ];
    for line in compatible {
        assert!(has(&list, Compat::Compatible, line), "{line}: {list:?}");
    }
    assert_eq!(list.len(), breaking.len() + compatible.len(), "{list:?}");
}

#[test]
fn a_returned_integer_that_grows_breaks_one_that_is_sent_does_not() {
    let old = "{ 'struct': 'Reply', 'data': { 'v': 'int32' } }
               { 'command': 'c', 'data': { 'n': 'int32', 'm': 'int' }, 'returns': 'Reply' }";
    let new = "{ 'struct': 'Reply', 'data': { 'v': 'int' } }
               { 'command': 'c', 'data': { 'n': 'int', 'm': 'int32' }, 'returns': 'Reply' }";
    assert_eq!(
        changes(old, new),
        [
            (
                Compat::Compatible,
                "changed: command 'c' argument 'n' (type int32 -> int)".to_string()
            ),
            (
                Compat::Breaking,
                "changed: command 'c' argument 'm' (type int -> int32)".to_string()
            ),
            (
                Compat::Breaking,
                "changed: type 'Reply' member 'v' (type int32 -> int)".to_string()
            ),
        ]
    );
}

#[test]
fn renames_that_keep_the_wire_shape_are_not_breaking() {
    let old = "
        { 'enum': 'CipherAlgorithm', 'data': [ 'aes', 'des' ] }
        { 'struct': 'Name', 'data': { 'str': 'str' } }
        { 'struct': 'Other', 'data': { 'str': 'str' } }
        { 'command': 'encrypt', 'data': { 'alg': 'CipherAlgorithm', 'key': 'Name' } }
        { 'command': 'keep', 'data': { 'o': 'Other' } }";
    let new = "
        { 'enum': 'CipherAlgo', 'data': [ 'aes', 'des', 'sm4' ] }
        { 'struct': 'Name', 'data': { 'str': 'str' } }
        { 'struct': 'Other', 'data': { 'str': 'str' } }
        { 'command': 'encrypt', 'data': { 'alg': 'CipherAlgo', 'key': 'Other' } }
        { 'command': 'keep', 'data': { 'o': 'Other' } }";
    let list = changes(old, new);
    assert_eq!(
        list,
        [
            (
                Compat::Rename,
                "renamed: enum 'CipherAlgorithm' (now 'CipherAlgo')".to_string()
            ),
            (
                Compat::Compatible,
                "added: enum 'CipherAlgo' value 'sm4'".to_string()
            ),
            (
                Compat::Rename,
                "changed: command 'encrypt' argument 'key' (type object Name -> object Other, the same on the wire)"
                    .to_string()
            ),
            (Compat::Compatible, "removed: type 'Name'".to_string()),
        ]
    );
    assert!(diff(
        &info(old, IntrospectOptions::VALIDATION),
        &info(new, IntrospectOptions::VALIDATION)
    )
    .iter()
    .all(|c| c.kind != ChangeKind::Changed || c.compat != Compat::Breaking));
}

#[test]
fn a_type_used_both_ways_keeps_the_worse_class() {
    let old = "{ 'struct': 'Pair', 'data': { 'a': 'int', 'b': 'int' } }
               { 'command': 'put', 'data': { 'p': 'Pair' } }
               { 'command': 'get', 'returns': 'Pair' }";
    let new = "{ 'struct': 'Pair', 'data': { 'a': 'int', '*b': 'int' } }
               { 'command': 'put', 'data': { 'p': 'Pair' } }
               { 'command': 'get', 'returns': 'Pair' }";
    // Optional is fine to send, but a client that reads 'b' may miss it.
    assert_eq!(
        changes(old, new),
        [(
            Compat::Breaking,
            "changed: type 'Pair' member 'b' (now optional)".to_string()
        )]
    );
}
