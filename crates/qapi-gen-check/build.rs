//! Generates Rust code for QEMU 10.0's qapi, qga and storage-daemon
//! schemas, for qapi-schema-test.json, and from the real QEMU 7.2's saved
//! query-qmp-schema reply, from `$QMP_SHARED`. When the
//! schemas are absent the crate builds without them and its tests skip
//! with the reason (or the build fails under `QMP_TEST_STRICT=1`).

use std::path::PathBuf;

/// (module file, schema path under the shared folder, conditions file,
/// with the server part).
const SCHEMAS: [(&str, &str, Option<&str>, bool); 4] = [
    // Every condition true, so every type of the schema is generated
    // (the storage daemon below is generated for an x86_64 build).
    ("qmp.rs", "qemu/10.0/qapi/qapi-schema.json", None, true),
    ("qga.rs", "qemu/10.0/qga/qapi-schema.json", None, true),
    (
        "storage_daemon.rs",
        "qemu/10.0/storage-daemon/qapi/qapi-schema.json",
        Some("qemu/expected/10.0-x86_64-conditions.txt"),
        false,
    ),
    (
        "test_schema.rs",
        "qemu/10.0/tests/qapi-schema/qapi-schema-test.json",
        None,
        true,
    ),
];

/// The real QEMU 7.2 binary's query-qmp-schema reply, under the shared folder.
const REPLY_7_2: &str = "qemu/expected/7.2-x86_64-query-qmp-schema.json";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(qapi_generated)");
    println!(
        "cargo:rerun-if-env-changed={}",
        qmp_test_support::SHARED_ENV
    );
    println!(
        "cargo:rerun-if-env-changed={}",
        qmp_test_support::STRICT_ENV
    );
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let shared = qmp_test_support::shared_dir();
    let missing: Vec<PathBuf> = SCHEMAS
        .iter()
        .flat_map(|(_, schema, conds, _)| std::iter::once(*schema).chain(*conds))
        .chain([REPLY_7_2])
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
    for (file, schema, conds, server) in SCHEMAS {
        let mut builder = qapi_gen::Builder::new(shared.join(schema))
            .file_name(file)
            .server(server);
        if let Some(conds) = conds {
            builder = builder
                .conditions_file(shared.join(conds))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        builder
            .compile(&out_dir)
            .unwrap_or_else(|e| panic!("{schema}: {e}"));
    }
    // A client of three modules only: what they reach compiles alone.
    let (_, qmp_schema, _, _) = SCHEMAS[0];
    qapi_gen::Builder::new(shared.join(qmp_schema))
        .file_name("qmp_some_modules.rs")
        .modules(["block", "machine", "migration"])
        .compile(&out_dir)
        .unwrap_or_else(|e| panic!("{qmp_schema}: {e}"));
    // From the real QEMU 7.2's saved reply alone (no schema source).
    let reply = shared.join(REPLY_7_2);
    qapi_gen::Builder::from_introspection(&reply)
        .file_name("qmp_7_2_reply.rs")
        .compile(&out_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", reply.display()));
    write_type_table(&shared, &out_dir);
    println!("cargo:rustc-cfg=qapi_generated");
}

/// `qmp_types.rs`: every generated type of the QMP schema by QAPI name,
/// with a function that reads a JSON value into it and writes it back
/// (for the round-trip tests).
fn write_type_table(shared: &std::path::Path, out_dir: &std::path::Path) {
    let (_, schema, conds, server) = SCHEMAS[0];
    let schema = shared.join(schema);
    let schema = qapi_schema::load(&schema.to_string_lossy()).unwrap_or_else(|e| panic!("{e}"));
    let conds = conds.map(|c| shared.join(c)).map(|c| {
        qapi_gen::Conditions::from_file(&c).unwrap_or_else(|e| panic!("{}: {e}", c.display()))
    });
    let options = qapi_gen::RustOptions {
        conditions: conds.unwrap_or_default(),
        server,
        ..Default::default()
    };
    let mut table = String::from(
        "/// (QAPI type name, JSON -> Rust -> JSON) for every generated QMP type.\n#[allow(deprecated)]\npub const QMP_TYPES: &[(&str, RoundTrip)] = &[\n",
    );
    for (qapi, rust) in qapi_gen::type_names(&schema, &options) {
        table.push_str(&format!(
            "    ({qapi:?}, round_trip::<qapi_gen_check::qmp::{rust}>),\n"
        ));
    }
    table.push_str("];\n");
    let path = out_dir.join("qmp_types.rs");
    std::fs::write(&path, table).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
