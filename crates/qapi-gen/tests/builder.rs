//! The build-script API on real files: QEMU's error texts through
//! `Display` and `Debug`, and QEMU 7.2's doc syntax detected.

use std::error::Error;

use qapi_gen::{BuildError, Builder};
use qmp_test_support::{shared_path, temp_dir};

fn quiet(builder: Builder) -> Builder {
    builder.format(false).emit_rerun_if_changed(false)
}

#[test]
fn schema_errors_print_as_qemu_prints_them_through_display_and_debug() {
    let dir = temp_dir();
    let path = dir.path().join("bad.json");
    std::fs::write(
        &path,
        "{ 'command': 'ok' }\n{ 'struct': 'S', 'data': { 'a': 'int' }\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = match quiet(Builder::new(&path)).generate() {
        Ok(_) => panic!("a broken schema generated code"),
        Err(err) => err,
    };
    let shown = format!("{}:2:40: expected ',' or '}}'", path.display());
    assert_eq!(err.to_string(), shown);
    // What `fn main() -> Result<(), Box<dyn Error>>` prints after "Error: ".
    let boxed: Box<dyn Error> = Box::new(err);
    assert_eq!(format!("{boxed:?}"), shown);
}

#[test]
fn io_errors_name_the_file() {
    let err = quiet(Builder::new("/nonexistent/qapi-schema.json"))
        .conditions_file("/nonexistent/conditions.txt")
        .err();
    let Some(err @ BuildError::Io { .. }) = err else {
        panic!("no I/O error: {err:?}");
    };
    assert!(
        format!("{err:?}").starts_with("/nonexistent/conditions.txt: "),
        "{err}"
    );
}

#[test]
fn qemu_7_2_doc_syntax_is_detected() {
    let Some(schema) = shared_path("qemu/7.2/qapi/qapi-schema.json") else {
        return;
    };
    let code = quiet(Builder::new(&schema))
        .generate()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(code.contains("    #[doc(alias = \"query-status\")]\n    #[derive(Clone, Default,"));
    // Asked for QEMU 10.0's syntax, it fails with QEMU's text.
    let strict = quiet(Builder::new(&schema)).relaxed_docs(false).generate();
    let Err(err) = strict else {
        panic!("QEMU 7.2's docs read as QEMU 10.0's");
    };
    let text = err.to_string();
    assert!(
        text.ends_with(":32:1: '=' heading must come first in a comment block"),
        "{text}"
    );
    assert_eq!(format!("{err:?}"), text);
}
