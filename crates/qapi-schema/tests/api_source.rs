//! `ApiSource` loads QEMU's schemas and saved replies the one way every
//! command uses: a 7.2 schema (QEMU 7.2's doc syntax) loads without a flag,
//! a saved reply and a schema are told apart by content, and a schema
//! that fails both doc syntaxes reports QEMU 10.0's error.

use std::path::PathBuf;

use qapi_schema::introspect::{Api, ApiSource, IntrospectOptions, SchemaInfo};
use qapi_schema::{load_with, Conditions, FsReader, LoadOptions};

fn shared(path: &str) -> Option<PathBuf> {
    qmp_test_support::shared_path(path)
}

#[test]
fn a_qemu_7_2_schema_loads_with_its_conditions_and_equals_the_reply() {
    let (Some(schema), Some(conditions), Some(reply)) = (
        shared("qemu/7.2/qapi/qapi-schema.json"),
        shared("qemu/expected/7.2-x86_64-conditions.txt"),
        shared("qemu/expected/7.2-x86_64-query-qmp-schema.json"),
    ) else {
        return;
    };
    let source = ApiSource::Schema {
        path: schema,
        conditions: Some(conditions.clone()),
    };
    let Ok(Api::Schema {
        schema,
        conditions: loaded,
    }) = source.load()
    else {
        panic!("the 7.2 schema loads as a schema");
    };
    assert_eq!(
        loaded,
        Conditions::from_file(&conditions).expect("conditions")
    );
    let built = SchemaInfo::from_schema(&schema, &loaded, IntrospectOptions::default());
    let Ok(Api::Introspection { wire, info }) = ApiSource::Introspection(reply).load() else {
        panic!("the saved reply loads as a reply");
    };
    assert_eq!(built.to_value(), wire);
    assert_eq!(built, info);
}

#[test]
fn detect_tells_a_reply_from_a_schema() {
    let (Some(schema), Some(reply)) = (
        shared("qemu/7.2/qapi/qapi-schema.json"),
        shared("qemu/expected/7.2-x86_64-query-qmp-schema.json"),
    ) else {
        return;
    };
    assert!(matches!(
        ApiSource::Detect(reply).load(),
        Ok(Api::Introspection { .. })
    ));
    let Ok(api @ Api::Schema { .. }) = ApiSource::Detect(schema).load() else {
        panic!("the 7.2 schema loads as a schema");
    };
    // Real names and integer widths: the list the diff compares.
    let info = api.into_info();
    assert!(info.get("BlockdevOptions").is_some());
    assert!(info.get("uint64").is_some());
}

#[test]
fn failures_name_the_file() {
    let temp = qmp_test_support::temp_dir();
    let dir = temp.path();
    let missing = dir.join("missing.json");
    let error = |source: ApiSource| match source.load() {
        Ok(_) => panic!("loads"),
        Err(e) => e.to_string(),
    };
    assert!(error(ApiSource::Introspection(missing.clone()))
        .starts_with(&format!("cannot read {}: ", missing.display())));
    let bad_reply = dir.join("bad-reply.json");
    std::fs::write(&bad_reply, r#"[{"name": 1}]"#).expect("write");
    assert_eq!(
        error(ApiSource::Detect(bad_reply.clone())),
        format!(
            "{}: query-qmp-schema element 0: 'name' must be a string, not integer",
            bad_reply.display()
        )
    );
    // Not a reply, and a schema in neither doc syntax (a 7.2 `Note:`
    // section, and an undefined type): QEMU 10.0's error.
    let bad_schema = dir.join("bad-schema.json");
    let text = "##\n# @x:\n#\n# Note: old syntax\n##\n{ 'command': 'x', 'data': 'Missing' }\n";
    std::fs::write(&bad_schema, text).expect("write");
    let shown = bad_schema.display().to_string();
    let dialect = |relaxed_docs| match load_with(&shown, LoadOptions { relaxed_docs }, &FsReader) {
        Ok(_) => panic!("{shown} loads"),
        Err(e) => e.to_string(),
    };
    assert_ne!(dialect(false), dialect(true));
    assert_eq!(error(ApiSource::Detect(bad_schema.clone())), dialect(false));
    let source = ApiSource::Schema {
        path: bad_schema,
        conditions: None,
    };
    assert_eq!(error(source), dialect(false));
}
