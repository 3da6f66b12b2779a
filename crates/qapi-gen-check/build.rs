//! Generates Rust code for QEMU 10.0's qapi, qga and storage-daemon
//! schemas and for qapi-schema-test.json, from `$QMP_SHARED`. When the
//! schemas are absent the crate builds without them and its tests skip
//! with the reason (or the build fails under `QMP_TEST_STRICT=1`).

use std::path::PathBuf;

/// (module file, schema path under the shared folder, conditions file).
const SCHEMAS: [(&str, &str, Option<&str>); 4] = [
    (
        "qmp.rs",
        "qemu/10.0/qapi/qapi-schema.json",
        Some("qemu/expected/10.0-x86_64-conditions.txt"),
    ),
    ("qga.rs", "qemu/10.0/qga/qapi-schema.json", None),
    (
        "storage_daemon.rs",
        "qemu/10.0/storage-daemon/qapi/qapi-schema.json",
        Some("qemu/expected/10.0-x86_64-conditions.txt"),
    ),
    (
        "test_schema.rs",
        "qemu/10.0/tests/qapi-schema/qapi-schema-test.json",
        None,
    ),
];

fn main() {
    println!("cargo::rustc-check-cfg=cfg(qapi_generated)");
    println!("cargo:rerun-if-env-changed={}", qmp_test_support::SHARED_ENV);
    println!("cargo:rerun-if-env-changed={}", qmp_test_support::STRICT_ENV);
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let shared = qmp_test_support::shared_dir();
    let missing: Vec<PathBuf> = SCHEMAS
        .iter()
        .flat_map(|(_, schema, conds)| std::iter::once(*schema).chain(*conds))
        .map(|p| shared.join(p))
        .filter(|p| !p.exists())
        .collect();
    if let Some(first) = missing.first() {
        let reason = format!(
            "{} not found (set {} to the shared reference folder); generated-code tests skipped",
            first.display(),
            qmp_test_support::SHARED_ENV
        );
        if qmp_test_support::strict() {
            panic!("{}=1: {reason}", qmp_test_support::STRICT_ENV);
        }
        println!("cargo:warning={reason}");
        println!("cargo:rerun-if-changed={}", first.display());
        return;
    }
    for (file, schema, conds) in SCHEMAS {
        let mut builder = qapi_gen::Builder::new(shared.join(schema)).file_name(file);
        if let Some(conds) = conds {
            builder = builder
                .conditions_file(shared.join(conds))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        builder
            .compile(&out_dir)
            .unwrap_or_else(|e| panic!("{schema}: {e}"));
    }
    println!("cargo:rustc-cfg=qapi_generated");
}
