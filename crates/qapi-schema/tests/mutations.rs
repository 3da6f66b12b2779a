//! Mutates valid schemas (byte deletions, insertions of significant
//! characters, duplications) and checks that the front end returns a schema
//! or an error, never panics.

use proptest::prelude::*;
use qapi_schema::{dump, load_str, LoadOptions};

/// A small valid schema touching most of the language.
const SEED: &str = r#"# A seed schema
{ 'pragma': { 'doc-required': true,
              'documentation-exceptions': [ 'Loose' ] } }

##
# = Heading
##

##
# @Colour:
#
# Colours.
#
# @red: red
# @green: green
#
# Features:
# @shiny: it shines
##
{ 'enum': 'Colour', 'data': [ 'red', { 'name': 'green', 'if': 'GREEN' } ],
  'features': [ 'shiny' ] }

##
# @Base:
#
# @kind: the kind
# @id: an id
##
{ 'struct': 'Base', 'data': { 'kind': 'Colour', '*id': 'int' } }

##
# @Loose:
##
{ 'struct': 'Loose', 'data': { 'list': ['str'] } }

##
# @Shape:
##
{ 'union': 'Shape', 'base': 'Base', 'discriminator': 'kind',
  'data': { 'red': 'Loose' },
  'if': { 'all': [ 'A', { 'not': 'B' } ] } }

##
# @Either:
#
# @s: a string
# @b: a base
##
{ 'alternate': 'Either', 'data': { 's': 'str', 'b': 'Base' } }

##
# @do-it:
#
# @arg: argument
#
# Features:
# @deprecated: going away
#
# Returns: a shape
#
# Since: 1.0
##
{ 'command': 'do-it', 'data': { 'arg': 'Either' }, 'returns': 'Loose',
  'allow-oob': true, 'features': [ 'deprecated' ] }

##
# @DONE:
#
# @x: x
##
{ 'event': 'DONE', 'data': { 'x': 'bool' } }
"#;

/// Characters that matter to the lexer and the checks.
const ALPHABET: &[u8] = b"{}[]:,'#@\n *-_.xXqAZ09\\\t=";

#[derive(Clone, Debug)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, byte: u8 },
    Duplicate { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..16).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), prop::sample::select(ALPHABET))
            .prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for m in mutations {
        let n = bytes.len().max(1);
        match *m {
            Mutation::Delete { at, len } => {
                let at = at % n;
                let end = (at + len).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            Mutation::Insert { at, byte } => bytes.insert((at % n).min(bytes.len()), byte),
            Mutation::Duplicate { at, len } => {
                let at = (at % n).min(bytes.len());
                let end = (at + len).min(bytes.len());
                let chunk = bytes[at..end].to_vec();
                bytes.splice(at..at, chunk);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn seed_is_valid() {
    let schema =
        load_str("seed.json", SEED, LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(dump(&schema).contains("command do-it q_obj_do-it-arg -> Loose"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mutated_schemas_never_panic(mutations in prop::collection::vec(mutation(), 1..6), relaxed in any::<bool>()) {
        let text = apply(SEED, &mutations);
        match load_str("seed.json", &text, LoadOptions { relaxed_docs: relaxed }) {
            Ok(schema) => { let _ = dump(&schema); }
            Err(err) => prop_assert!(!err.to_string().is_empty()),
        }
    }
}
