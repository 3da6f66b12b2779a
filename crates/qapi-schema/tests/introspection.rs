//! The generated `query-qmp-schema` lists equal QEMU's: the reply of the
//! real QEMU 7.2.22 binary (also byte for byte) and QEMU 10.0's generator
//! output for every reference schema and condition set.

use qapi_schema::introspect::{IntrospectOptions, SchemaInfo};
use qapi_schema::{load_with, Conditions, FsReader, LoadOptions};
use qmp_wire::Value;

/// Loads the expected list (a bare list or a `{"return": [...]}` reply).
fn expected(name: &str) -> Option<(Vec<u8>, Value)> {
    let path = qmp_test_support::shared_path(&format!("qemu/expected/{name}"))?;
    let bytes = std::fs::read(path).expect("read expected list");
    let value = qmp_wire::from_slice(&bytes).expect("expected list is JSON");
    let list = match value.get("return") {
        Some(list) => list.clone(),
        None => value,
    };
    Some((bytes, list))
}

fn conditions(name: &str) -> Option<Conditions> {
    let path = qmp_test_support::shared_path(&format!("qemu/expected/{name}"))?;
    Some(Conditions::from_file(path).expect("read conditions"))
}

fn generated(
    schema: &str,
    relaxed_docs: bool,
    conditions: &Conditions,
    unmask: bool,
) -> Option<SchemaInfo> {
    let path = qmp_test_support::shared_path(schema)?;
    let schema = load_with(
        &path.to_string_lossy(),
        LoadOptions { relaxed_docs },
        &FsReader,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let options = IntrospectOptions {
        unmask,
        ..IntrospectOptions::default()
    };
    Some(SchemaInfo::from_schema(&schema, conditions, options))
}

/// Compares entry by entry, so a failure names the first difference.
fn assert_same(name: &str, got: &Value, want: &Value) {
    let (Some(got), Some(want)) = (got.as_array(), want.as_array()) else {
        panic!("{name}: not lists");
    };
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(g == w, "{name}: entry {i} differs:\n got  {g}\n want {w}");
    }
    assert_eq!(got.len(), want.len(), "{name}: entry count");
}

fn check(
    schema: &str,
    relaxed: bool,
    conds: Option<Conditions>,
    unmask: bool,
    expected_name: &str,
) {
    let Some(conds) = conds else { return };
    let Some(info) = generated(schema, relaxed, &conds, unmask) else {
        return;
    };
    let Some((_, want)) = expected(expected_name) else {
        return;
    };
    assert_same(expected_name, &info.to_value(), &want);
    let reloaded = SchemaInfo::from_value(&want).expect("expected list loads");
    assert_eq!(
        reloaded, info,
        "{expected_name}: loading the list gives the same model"
    );
}

#[test]
fn qemu_7_2_binary_reply_is_reproduced_byte_for_byte() {
    let Some(conds) = conditions("7.2-x86_64-conditions.txt") else {
        return;
    };
    let Some(info) = generated("qemu/7.2/qapi/qapi-schema.json", true, &conds, false) else {
        return;
    };
    let Some((bytes, want)) = expected("7.2-x86_64-query-qmp-schema.json") else {
        return;
    };
    assert_same("7.2", &info.to_value(), &want);
    let mut reply = b"{\"return\": ".to_vec();
    reply.extend(info.to_wire_bytes());
    reply.push(b'}');
    let line = bytes
        .strip_suffix(b"\r\n")
        .or(bytes.strip_suffix(b"\n"))
        .unwrap_or(&bytes);
    assert!(reply == line, "7.2: bytes differ from the binary's reply");
}

#[test]
fn qemu_10_0_x86_64() {
    check(
        "qemu/10.0/qapi/qapi-schema.json",
        false,
        conditions("10.0-x86_64-conditions.txt"),
        false,
        "10.0-x86_64-query-qmp-schema.json",
    );
}

#[test]
fn qemu_10_0_all_conditions() {
    check(
        "qemu/10.0/qapi/qapi-schema.json",
        false,
        Some(Conditions::All),
        false,
        "10.0-all-conditions-query-qmp-schema.json",
    );
}

#[test]
fn qemu_10_0_storage_daemon() {
    check(
        "qemu/10.0/storage-daemon/qapi/qapi-schema.json",
        false,
        conditions("10.0-x86_64-conditions.txt"),
        false,
        "10.0-storage-daemon-query-qmp-schema.json",
    );
}

#[test]
fn qapi_schema_test_conditions_off_on_and_unmasked() {
    let schema = "qemu/10.0/tests/qapi-schema/qapi-schema-test.json";
    let none = || Some(Conditions::Defined(Default::default()));
    check(
        schema,
        false,
        none(),
        false,
        "10.0-qapi-schema-test-query-qmp-schema.json",
    );
    check(
        schema,
        false,
        Some(Conditions::All),
        false,
        "10.0-qapi-schema-test-all-conditions-query-qmp-schema.json",
    );
    check(
        schema,
        false,
        none(),
        true,
        "10.0-qapi-schema-test-unmasked-query-qmp-schema.json",
    );
}
