//! QEMU's full schemas: 10.0's three load cleanly and dump exactly as
//! QEMU's harness does; 7.2's three load with relaxed docs and are rejected
//! by the 10.0 rules, as QEMU 10.0 rejects them.

use qapi_schema::{dump, load, load_with, FsReader, LoadOptions};
use qmp_test_support::FULL_SCHEMAS;

#[test]
fn qemu_10_0_schemas_dump_like_qemu() {
    for (name, folder) in FULL_SCHEMAS {
        let Some((dir, expected)) = qmp_test_support::qemu_10_0_schema_and_dump((name, folder))
        else {
            return;
        };
        let path = dir.join("qapi-schema.json");
        let schema = load(&path.to_string_lossy()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = std::fs::read_to_string(expected).expect("expected dump");
        let actual = dump(&schema);
        assert!(actual == expected, "{name}: dump differs from QEMU's");
        println!("{name}: {} entities, dump identical", schema.entities.len());
    }
}

#[test]
fn qemu_7_2_schemas_load_with_relaxed_docs_only() {
    for (_, folder) in FULL_SCHEMAS {
        let Some(dir) = qmp_test_support::shared_path(&format!("qemu/7.2/{folder}")) else {
            return;
        };
        let path = dir.join("qapi-schema.json").to_string_lossy().into_owned();
        let relaxed = LoadOptions { relaxed_docs: true };
        if let Err(e) = load_with(&path, relaxed, &FsReader) {
            panic!("7.2 {folder} with relaxed docs: {e}");
        }
        assert!(
            load(&path).is_err(),
            "7.2 {folder} must fail the 10.0 doc rules"
        );
    }
}

#[test]
fn qemu_7_2_first_error_matches_qemu_10_0() {
    let Some(dir) = qmp_test_support::shared_path("qemu/7.2/qapi") else {
        return;
    };
    let dir = dir.to_string_lossy().into_owned();
    let err = load(&format!("{dir}/qapi-schema.json")).expect_err("10.0 rules reject 7.2");
    let text = err.to_string().replace(&format!("{dir}/"), "");
    assert_eq!(
        text,
        "qapi-schema.json:32:1: '=' heading must come first in a comment block"
    );
}
