//! Conditions found from a reply: the real QEMU 7.2 binary's saved reply
//! against QEMU 7.2's schema reproduces the conditions file derived for it
//! by hand, up to the symbols the reply cannot tell.

use std::collections::BTreeSet;

use qapi_schema::introspect::{infer_conditions, ApiSource, IntrospectOptions, SchemaInfo};
use qapi_schema::{load_detecting, load_str, Conditions, FsReader, LoadOptions};

/// The `[DEFINED]` symbols of a conditions file.
fn defined(text: &str) -> BTreeSet<String> {
    match Conditions::parse(text) {
        Conditions::Defined(set) => set.into_iter().collect(),
        Conditions::All => BTreeSet::new(),
    }
}

#[test]
fn a_small_schema_round_trips() {
    let schema = load_str(
        "c.json",
        "{ 'command': 'a', 'if': 'HAVE_A' }
         { 'command': 'b', 'if': 'HAVE_B' }
         { 'enum': 'Letter', 'data': [ 'x', { 'name': 'y', 'if': { 'all': [ 'HAVE_A', 'HAVE_Y' ] } },
                                   { 'name': 'z', 'if': { 'not': 'HAVE_Z' } } ] }
         { 'command': 'c', 'data': { 'e': 'Letter' } }
         { 'command': 'd', 'if': { 'any': [ 'HAVE_B', 'HAVE_D' ] } }",
        LoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let truth = Conditions::Defined(["HAVE_A", "HAVE_Y"].map(String::from).into());
    let reply = SchemaInfo::from_schema(&schema, &truth, IntrospectOptions::default());
    let found = infer_conditions(&schema, &reply);
    assert!(found.exact, "{}", found.to_file());
    assert_eq!(found.defined, ["HAVE_A", "HAVE_Y"].map(String::from).into());
    // 'd' is absent, so neither HAVE_B nor HAVE_D; 'z' is present: no HAVE_Z.
    assert_eq!(
        found.undefined,
        ["HAVE_B", "HAVE_D", "HAVE_Z"].map(String::from).into()
    );
    assert!(found.no_effect.is_empty());
    // The file form reads back as the same conditions.
    assert_eq!(defined(&found.to_file()), found.defined);
}

#[test]
fn the_qemu_7_2_reply_gives_its_conditions_file() {
    let (Some(schema), Some(reply), Some(expected)) = (
        qmp_test_support::shared_path("qemu/7.2/qapi/qapi-schema.json"),
        qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json"),
        qmp_test_support::shared_path("qemu/expected/7.2-x86_64-conditions.txt"),
    ) else {
        return;
    };
    let (schema, _) =
        load_detecting(&schema.to_string_lossy(), &FsReader).unwrap_or_else(|e| panic!("{e}"));
    let reply = ApiSource::Introspection(reply)
        .load()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_info();
    let found = infer_conditions(&schema, &reply);
    assert!(found.exact, "{}", found.to_file());
    let want = defined(&std::fs::read_to_string(expected).unwrap_or_else(|e| panic!("{e}")));
    // Every difference from the hand-made file is a symbol the reply
    // cannot tell (the file marks those '(inferred)', from knowing the
    // target).
    let differ: BTreeSet<String> = found.defined.symmetric_difference(&want).cloned().collect();
    assert!(
        differ.is_subset(&found.no_effect),
        "{differ:?} vs {:?}",
        found.no_effect
    );
}
