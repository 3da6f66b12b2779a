//! Runs every registered case of QEMU 10.0's QAPI schema test suite and
//! compares the dump (stdout) and the error text (stderr) with the `.out`
//! and `.err` expectations byte for byte, as `test-qapi.py` does.

use std::path::Path;

use qapi_schema::{dump, load};

/// Files in the suite folder that are not cases: helpers included by other
/// cases, and stale leftovers not registered in QEMU's meson.build.
const NOT_CASES: [&str; 8] = [
    "include-cycle-b",
    "include-cycle-c",
    "include-repetition-sub",
    "include-simple-sub",
    "sub-sub-module",
    "doc-non-first-section",
    "enum-dict-no-name",
    "event-args-if-unboxed",
];

/// The case whose schema file deliberately does not exist.
const MISSING_CASE: &str = "missing-schema";

fn case_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read test suite folder")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".json").map(str::to_string)
        })
        .filter(|n| !NOT_CASES.contains(&n.as_str()))
        .collect();
    names.push(MISSING_CASE.to_string());
    names.sort();
    names
}

/// What the harness would print for one case: (stdout, stderr).
fn run_case(dir: &str, name: &str) -> (String, String) {
    match load(&format!("{dir}/{name}.json")) {
        Ok(schema) => (dump(&schema), String::new()),
        Err(err) => (
            String::new(),
            format!("{err}\n").replace(&format!("{dir}/"), ""),
        ),
    }
}

#[test]
fn qemu_test_suite_passes() {
    let Some(dir) = qmp_test_support::shared_path("qemu/10.0/tests/qapi-schema") else {
        return;
    };
    let dir_str = dir.to_string_lossy().into_owned();
    let names = case_names(&dir);
    let mut failures = Vec::new();
    for name in &names {
        let (out, err) = run_case(&dir_str, name);
        let expected_out =
            std::fs::read_to_string(dir.join(format!("{name}.out"))).unwrap_or_default();
        let expected_err =
            std::fs::read_to_string(dir.join(format!("{name}.err"))).unwrap_or_default();
        if out != expected_out || err != expected_err {
            failures.push(format!(
                "{name} FAIL\n--- expected err\n{expected_err}--- actual err\n{err}--- out {}",
                if out == expected_out {
                    "matches"
                } else {
                    "differs"
                }
            ));
        }
    }
    let passed = names.len() - failures.len();
    println!(
        "qapi-schema test suite: {passed}/{} cases pass",
        names.len()
    );
    for f in &failures {
        println!("{f}");
    }
    assert_eq!(names.len(), 207, "expected 207 registered cases");
    assert!(
        failures.is_empty(),
        "{} of {} cases failed",
        failures.len(),
        names.len()
    );
}
