//! Schema paths in libvirt's syntax answered by `SchemaInfo::query`: on a
//! small schema with every kind of step, and on QEMU 7.2's saved reply
//! (masked type names), as libvirt probes it.

use qapi_schema::introspect::{ApiSource, IntrospectOptions, QueryError, SchemaInfo};
use qapi_schema::{load_str, Conditions, LoadOptions};

const SCHEMA: &str = "
{ 'enum': 'Aio', 'data': [ 'threads', { 'name': 'native', 'features': [ 'fast' ] } ] }
{ 'enum': 'Driver', 'data': [ 'file', 'null' ] }
{ 'struct': 'FileOpts', 'data': { 'filename': 'str', '*aio': 'Aio' },
  'features': [ 'dynamic' ] }
{ 'union': 'Options', 'base': { 'driver': 'Driver', '*node-name': 'str' },
  'discriminator': 'driver', 'data': { 'file': 'FileOpts' } }
{ 'alternate': 'Ref', 'data': { 'inline': 'FileOpts', 'name': 'str' } }
{ 'struct': 'Holder', 'data': { 'refs': [ 'Ref' ], '__com.example_x': 'int' } }
{ 'command': 'add', 'data': 'Options', 'boxed': true, 'features': [ 'deprecated' ] }
{ 'command': 'list', 'returns': [ 'Holder' ] }
{ 'event': 'DONE', 'data': { 'id': 'str', '*error': 'str' } }
";

fn info(options: IntrospectOptions) -> SchemaInfo {
    let schema =
        load_str("q.json", SCHEMA, LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    SchemaInfo::from_schema(&schema, &Conditions::All, options)
}

#[test]
fn every_kind_of_step_masked_or_not() {
    for info in [
        info(IntrospectOptions::default()),
        info(IntrospectOptions::VALIDATION),
    ] {
        let yes = |path: &str| assert_eq!(info.query(path), Ok(true), "{path}");
        let no = |path: &str| assert_eq!(info.query(path), Ok(false), "{path}");
        yes("add");
        yes("add/arg-type/driver/^null");
        yes("add/arg-type/*node-name");
        no("add/arg-type/*driver");
        yes("add/arg-type/+file/aio/^native");
        yes("add/arg-type/+file/aio/^native/$fast");
        no("add/arg-type/+file/aio/^threads/$fast");
        no("add/arg-type/+file/aio/^io_uring");
        // A branch without members of its own is still a branch.
        yes("add/arg-type/+null");
        no("add/arg-type/+nbd");
        yes("add/arg-type/+file/$dynamic");
        yes("add/$deprecated");
        no("list/$deprecated");
        // Arrays are stepped through, alternates answer through any branch.
        yes("list/ret-type/refs/filename/!string");
        no("list/ret-type/refs/filename/!int");
        yes("list/ret-type/ __com.example_x");
        // Events; a command's step that does not exist.
        yes("DONE/arg-type/*error");
        no("DONE/ret-type");
        no("add/returns");
        no("no-such-command/arg-type");
        // A step that does not fit the entry answers no.
        no("add/arg-type/driver/name");
        no("add/arg-type/^file");
    }
}

#[test]
fn malformed_paths_are_errors() {
    let info = info(IntrospectOptions::default());
    for path in ["", "add//x", "add/$deprecated/x", "add/arg-type/_x"] {
        assert!(
            matches!(info.query(path), Err(QueryError::Malformed { .. })),
            "{path}"
        );
    }
    let err = info.query("add/$a/b").err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("malformed schema path 'add/$a/b': '$a' must be the last component")
    );
}

#[test]
fn a_broken_list_is_an_error_not_an_answer() {
    let list = qmp_wire::from_str(
        r#"[{"name": "c", "meta-type": "command", "arg-type": "9", "ret-type": "9"}]"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let info = SchemaInfo::from_value(&list).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(info.query("c"), Ok(true));
    assert!(matches!(
        info.query("c/arg-type/x"),
        Err(QueryError::Broken { .. })
    ));
}

#[test]
fn libvirt_probes_on_the_qemu_7_2_reply() {
    let Some(path) =
        qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json")
    else {
        return;
    };
    let info = ApiSource::Introspection(path)
        .load()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_info();
    for (path, want) in [
        ("blockdev-add/arg-type/+file/aio/^io_uring", true),
        ("blockdev-add/arg-type/+file/$dynamic-auto-read-only", true),
        (
            "blockdev-add/arg-type/+qcow2/encrypt/+luks/key-secret",
            true,
        ),
        ("query-machines/ret-type/deprecated", true),
        ("migrate/arg-type/*blk", true),
        // Added after 7.2.
        ("migrate/arg-type/channels", false),
        ("HV_BALLOON_STATUS_REPORT", false),
        ("blockdev-add/arg-type/+file/aio/^no-such-mode", false),
    ] {
        assert_eq!(info.query(path), Ok(want), "{path}");
    }
}
