//! `qmp qapi check|dump` as a process, run from the schema's own folder as
//! QEMU's expected dumps were produced.

use std::process::Command;

fn qmp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_qmp"))
}

/// Runs `qmp ARGS...` in `dir` (schemas name their includes relative to it).
/// Runs `command`; the test fails (showing its stderr) unless it exits 0.
fn run_ok(command: &mut Command) -> std::process::Output {
    let out = command.output().expect("run qmp");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn qmp_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    qmp().args(args).current_dir(dir).output().expect("run qmp")
}

#[test]
fn dump_of_full_schemas_matches_qemu() {
    for (name, folder) in qmp_test_support::FULL_SCHEMAS {
        let Some((dir, expected)) = qmp_test_support::qemu_10_0_schema_and_dump((name, folder))
        else {
            return;
        };
        // `test-dump`, and `dump`, its old name, kept as an alias.
        let command = if name == "qmp" { "test-dump" } else { "dump" };
        let out = qmp_in(&dir, &["qapi", command, "qapi-schema.json"]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout == std::fs::read(expected).expect("expected dump"),
            "{name}: dump differs"
        );
        let check = qmp_in(&dir, &["qapi", "check", "qapi-schema.json"]);
        assert!(check.status.success() && check.stdout.is_empty() && check.stderr.is_empty());
    }
}

#[test]
fn check_prints_qemu_errors_and_fails() {
    let Some(dir) = qmp_test_support::shared_path("qemu/10.0/tests/qapi-schema") else {
        return;
    };
    let out = qmp_in(&dir, &["qapi", "check", "include-nested-err.json"]);
    assert_eq!(out.status.code(), Some(1));
    let expected = std::fs::read(dir.join("include-nested-err.err")).expect("expected error");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&expected)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn relaxed_docs_accept_qemu_7_2() {
    let Some(dir) = qmp_test_support::shared_path("qemu/7.2/qga") else {
        return;
    };
    let strict = qmp_in(&dir, &["qapi", "check", "qapi-schema.json"]);
    assert_eq!(strict.status.code(), Some(1));
    // QEMU's text, then what to do about it.
    let stderr = String::from_utf8_lossy(&strict.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&"note: the schema reads in QEMU 7.2's older doc syntax; pass --relaxed-docs"),
        "{stderr}"
    );
    assert!(
        lines.len() >= 2 && lines[lines.len() - 2].starts_with("qapi-schema.json:"),
        "{stderr}"
    );
    // The generator detects the syntax by itself.
    let rust = qmp_in(
        &dir,
        &["qapi", "rust", "qapi-schema.json", "-o", "-", "--no-format"],
    );
    assert!(
        rust.status.success() && rust.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&rust.stderr)
    );
    assert!(String::from_utf8_lossy(&rust.stdout).contains("pub struct GuestShutdown"));
    let relaxed = qmp_in(
        &dir,
        &["qapi", "check", "--relaxed-docs", "qapi-schema.json"],
    );
    assert!(
        relaxed.status.success(),
        "{}",
        String::from_utf8_lossy(&relaxed.stderr)
    );
}

#[test]
fn introspect_reproduces_the_qemu_7_2_reply() {
    let Some(dir) = qmp_test_support::shared_path("qemu/7.2/qapi") else {
        return;
    };
    let Some(expected) =
        qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json")
    else {
        return;
    };
    let Some(conditions) = qmp_test_support::shared_path("qemu/expected/7.2-x86_64-conditions.txt")
    else {
        return;
    };
    let out = run_ok(
        qmp()
            .args(["qapi", "introspect", "qapi-schema.json", "--relaxed-docs"])
            .arg("--conditions")
            .arg(conditions)
            .current_dir(&dir),
    );
    let want = std::fs::read(expected).expect("expected reply");
    let mut got = b"{\"return\": ".to_vec();
    got.extend(out.stdout.strip_suffix(b"\n").unwrap_or(&out.stdout));
    got.extend(b"}\r\n");
    assert!(
        got == want,
        "introspect output differs from QEMU 7.2.22's reply"
    );
}

#[test]
fn rust_writes_the_generated_module() {
    let Some(schema) = qmp_test_support::shared_path("qemu/10.0/qga/qapi-schema.json") else {
        return;
    };
    let dir = qmp_test_support::temp_dir();
    let file = dir.path().join("qga.rs");
    run_ok(
        qmp()
            .args(["qapi", "rust"])
            .arg(&schema)
            .arg("-o")
            .arg(&file),
    );
    let code = std::fs::read_to_string(&file).expect("generated file");
    assert!(code.contains("impl ::qmp_wire::Command for GuestShutdown"));
    // The server part is opt-in.
    assert!(!code.contains("pub trait Server"));
    let out = qmp()
        .args(["qapi", "rust", "--server", "--no-format", "-o", "-"])
        .arg(&schema)
        .output()
        .expect("run qmp");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("pub trait Server"));
}

#[test]
fn conditions_of_the_running_qemu_7_2_match_its_conditions_file() {
    let (Some(binary), Some(schema), Some(expected)) = (
        qmp_test_support::qemu_system(),
        qmp_test_support::shared_path("qemu/7.2/qapi/qapi-schema.json"),
        qmp_test_support::shared_path("qemu/expected/7.2-x86_64-conditions.txt"),
    ) else {
        return;
    };
    let qemu = qmp_test_support::TestProcess::qemu(&binary, &[]).expect("start QEMU");
    let dir = qmp_test_support::temp_dir();
    let file = dir.path().join("conditions.txt");
    let out = qmp()
        .args(["qapi", "conditions", "--server"])
        .arg(qemu.socket())
        .arg(&schema)
        .arg("-o")
        .arg(&file)
        .output()
        .expect("run qmp");
    // 0: the schema gives the reply exactly with the symbols found.
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).expect("conditions file");
    let defined = |text: &str| match qapi_schema::Conditions::parse(text) {
        qapi_schema::Conditions::Defined(set) => set,
        qapi_schema::Conditions::All => panic!("no sections"),
    };
    let want = std::fs::read_to_string(expected).expect("expected file");
    // The hand-made file's '(inferred)' symbols are ones the reply cannot
    // tell; here they are marked '(no effect)' and may differ.
    let unknowable: std::collections::HashSet<String> = text
        .lines()
        .filter_map(|l| l.strip_suffix(" (no effect)"))
        .map(String::from)
        .collect();
    let differ: Vec<String> = defined(&text)
        .symmetric_difference(&defined(&want))
        .filter(|s| !unknowable.contains(*s))
        .cloned()
        .collect();
    assert!(differ.is_empty(), "{differ:?}\n{text}");
    assert!(defined(&text).contains("TARGET_I386") && defined(&text).contains("CONFIG_SPICE"));
    // The same from the saved reply, written to standard output.
    let reply = qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json")
        .expect("saved reply");
    let saved = qmp()
        .args(["qapi", "conditions", "--server"])
        .arg(&reply)
        .arg(&schema)
        .output()
        .expect("run qmp");
    assert_eq!(saved.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&saved.stdout), text);
}

#[test]
fn rust_from_a_saved_reply_alone() {
    let Some(reply) =
        qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json")
    else {
        return;
    };
    let out = run_ok(
        qmp()
            .args(["qapi", "rust", "--no-format", "-o", "-", "--introspection"])
            .arg(&reply),
    );
    let code = String::from_utf8_lossy(&out.stdout);
    // Masked type names are derived from the paths that reach them.
    assert!(code.contains("pub struct QueryStatusRet {"));
    assert!(code.contains("    type Returns = super::QueryStatusRet;"));
    // A schema and a reply are one or the other.
    let both = qmp()
        .args(["qapi", "rust", "-o", "-", "x.json", "--introspection"])
        .arg(&reply)
        .output()
        .expect("run qmp");
    assert_eq!(both.status.code(), Some(2));
}
