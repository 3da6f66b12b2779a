//! The Rust generator on small schemas: what the generated text contains
//! for conditions, features, recursion, names and the two sides. (The
//! generated code for QEMU's schemas is compiled and exercised in the
//! `qapi-gen-check` crate.)

use std::collections::HashSet;

use qapi_gen::{generate, Conditions, RustOptions};
use qapi_schema::{load_str, LoadOptions};

const SCHEMA: &str = r#"
{ 'enum': 'Color', 'data': [ 'red', { 'name': 'x-blue', 'if': 'HAVE_BLUE' },
                              { 'name': 'old', 'features': [ 'deprecated' ] } ] }
{ 'struct': 'Node',
  'data': { 'type': 'Color', '*next': 'Node', 'children': [ 'Node' ],
            '*shiny': { 'type': 'bool', 'if': 'HAVE_SHINE' },
            '*size': 'size' } }
{ 'struct': 'Legacy', 'data': { 'a': { 'type': 'int', 'features': [ 'deprecated' ] } } }
{ 'command': 'get-node', 'data': { 'id': 'str' }, 'returns': 'Node',
  'allow-oob': true }
{ 'command': 'use-legacy', 'data': 'Legacy', 'boxed': true,
  'features': [ 'deprecated' ] }
{ 'command': 'only-blue', 'if': 'HAVE_BLUE' }
{ 'event': 'NODE_CHANGED', 'data': { 'node': 'Node' } }
"#;

fn code(conditions: Conditions, server: bool) -> String {
    let schema =
        load_str("test.json", SCHEMA, LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    generate(
        &schema,
        &RustOptions {
            conditions,
            server,
            ..Default::default()
        },
    )
}

fn defined(symbols: &[&str]) -> Conditions {
    Conditions::Defined(
        symbols
            .iter()
            .map(|s| s.to_string())
            .collect::<HashSet<_>>(),
    )
}

#[test]
fn conditions_are_resolved_at_generation_time() {
    let none = code(defined(&[]), true);
    assert!(!none.contains("XBlue"));
    assert!(!none.contains("pub shiny"));
    assert!(!none.contains("only-blue"));
    let all = code(Conditions::All, true);
    assert!(all.contains("    XBlue,"));
    assert!(all.contains("pub shiny: Option<bool>,"));
    assert!(all.contains("\"only-blue\""));
}

#[test]
fn names_features_recursion_and_sides() {
    let code = code(Conditions::All, true);
    // Keywords become raw identifiers; the wire name needs no rename.
    assert!(code.contains("    pub r#type: Color,\n"));
    // Recursion by value is boxed; through an array it is not.
    assert!(code.contains("pub next: Option<Box<Node>>,"));
    assert!(code.contains("pub children: Vec<Node>,"));
    // size reads negative integers as QEMU does.
    assert!(code.contains("_compat(members, \"size\")"), "{code}");
    // Deprecated things are marked, and their users allow it.
    assert!(code.contains("#[deprecated]\n    Old,"));
    assert!(code
        .contains("#[allow(deprecated)]\n#[allow(missing_docs)]\npub struct Legacy {\n    #[deprecated]\n    pub a: i64,"));
    assert!(code.contains("    #[deprecated]\n    #[derive(Clone, Debug, PartialEq, ::serde::Serialize, ::serde::Deserialize)]\n    #[serde(transparent)]\n    #[allow(deprecated)]\n    pub struct UseLegacy(pub super::Legacy);"), "{code}");
    // Tolerant enums keep unknown values.
    assert!(code.contains("Other(String),"));
    // Commands, events, server.
    assert!(code.contains("impl ::qmp_wire::Command for GetNode {"));
    assert!(code.contains("const ALLOW_OOB: bool = true;"));
    // Only a command that allows oob is an OobCommand.
    assert_eq!(
        code.matches("impl ::qmp_wire::OobCommand for ").count(),
        code.matches("const ALLOW_OOB: bool = true;").count()
    );
    assert!(code.contains("impl ::qmp_wire::EventData for NodeChanged {"));
    assert!(code.contains("NodeChanged(events::NodeChanged),"));
    assert!(code.contains("pub trait Server {"));
    assert!(code.contains("::qapi_schema::introspect::SchemaInfo"));
}

#[test]
fn without_the_server_no_qapi_schema_dependency() {
    let code = code(Conditions::All, false);
    assert!(!code.contains("pub mod server"));
    assert!(!code.contains("qapi_schema"));
}

#[test]
fn wire_names_are_doc_aliases_and_the_module_allows_missing_docs() {
    let code = code(Conditions::All, false);
    assert!(code.contains("#[doc(alias = \"get-node\")]\n"), "{code}");
    assert!(code.contains("#[doc(alias = \"NODE_CHANGED\")]\n"));
    // No alias where the names agree.
    assert!(!code.contains("#[doc(alias = \"Node\")]"));
    // Every public top-level item carries the allowance; nested ones
    // inherit it from their module.
    let lines: Vec<&str> = code.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("pub ") {
            assert_eq!(
                lines.get(i.wrapping_sub(1)),
                Some(&"#[allow(missing_docs)]"),
                "{line}"
            );
        }
    }
    assert!(code.contains("#[allow(missing_docs)]\npub mod commands {"));
}

#[test]
fn the_server_part_is_opt_in() {
    let options = RustOptions::default();
    assert!(!options.server);
    let schema =
        load_str("test.json", SCHEMA, LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(!generate(&schema, &options).contains("pub mod server"));
}

#[test]
fn structs_get_constructors_and_setters() {
    let code = code(Conditions::All, false);
    // Node has required members: new() takes them, the optional ones get
    // setters (a boxed one takes anything that converts into the box).
    assert!(code.contains("pub fn new(r#type: impl ::std::convert::Into<Color>, children: impl ::std::convert::Into<Vec<Node>>) -> Self {"), "{code}");
    assert!(code.contains(
        "pub fn with_next(mut self, next: impl ::std::convert::Into<Box<Node>>) -> Self {"
    ));
    assert!(
        code.contains("pub fn with_size(mut self, size: impl ::std::convert::Into<u64>) -> Self {")
    );
    // A command whose members are all optional derives Default instead.
    let schema = load_str(
        "t.json",
        "{ 'command': 'c', 'data': { '*a': 'int' } }",
        LoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let code = generate(&schema, &RustOptions::default());
    assert!(code.contains("Default,"));
    assert!(!code.contains("pub fn new("));
    assert!(code.contains("pub fn with_a(mut self, a: impl ::std::convert::Into<i64>) -> Self {"));
}

#[test]
fn union_branches_have_constructors() {
    let schema = load_str(
        "u.json",
        "{ 'enum': 'Kind', 'data': [ 'plain', 'extra' ] }
         { 'struct': 'Data', 'data': { '*x': 'int' } }
         { 'union': 'Choice', 'base': { 'kind': 'Kind', 'id': 'str', '*tag2': 'str' },
           'discriminator': 'kind', 'data': { 'extra': 'Data' } }",
        LoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let code = generate(&schema, &RustOptions::default());
    assert!(code.contains("pub fn new(id: impl ::std::convert::Into<String>, kind: impl ::std::convert::Into<ChoiceBranch>) -> Self {"), "{code}");
    assert!(code.contains("pub fn plain(id: impl ::std::convert::Into<String>) -> Self {\n        Self::new(id, ChoiceBranch::Plain)\n    }"));
    assert!(code.contains("pub fn extra(id: impl ::std::convert::Into<String>, branch: Data) -> Self {\n        Self::new(id, ChoiceBranch::Extra(branch))\n    }"));
    assert!(code.contains("pub fn with_tag2(mut self"));
}
