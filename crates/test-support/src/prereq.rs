//! Prerequisites and the policy for a missing one: the shared reference
//! folder (`QMP_SHARED`), the real QEMU, qemu-ga and Python's qemu.qmp, and
//! what a test does without them (skip, or fail under `QMP_TEST_STRICT=1`).

use std::env;
use std::path::{Path, PathBuf};

/// Environment variable naming the shared reference folder.
pub const SHARED_ENV: &str = "QMP_SHARED";
/// Environment variable that turns skips into failures when set to `1`.
pub const STRICT_ENV: &str = "QMP_TEST_STRICT";

/// True when missing prerequisites must fail tests instead of skipping them.
pub fn strict() -> bool {
    env::var(STRICT_ENV).is_ok_and(|v| v == "1")
}

/// Reports a missing prerequisite: panics in strict mode, prints a skip
/// notice otherwise. Call it and then return from the test.
#[track_caller]
pub fn skip(reason: &str) {
    if strict() {
        panic!("{STRICT_ENV}=1 and a test prerequisite is missing: {reason}");
    }
    eprintln!("skipped: {reason}");
    println!("skipped: {reason}");
}

/// The shared reference folder: `$QMP_SHARED`, else `../shared` relative to
/// the workspace root. Returns the path whether or not it exists.
pub fn shared_dir() -> PathBuf {
    match env::var_os(SHARED_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("..").join("shared"),
    }
}

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    // This crate lives in <root>/crates/test-support.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A file or folder under the shared reference folder, or `None` after
/// reporting it missing (see [`skip`]).
#[track_caller]
pub fn shared_path(relative: &str) -> Option<PathBuf> {
    let path = shared_dir().join(relative);
    if path.exists() {
        Some(path)
    } else {
        skip(&format!(
            "{} not found (set {SHARED_ENV} to the shared reference folder)",
            path.display()
        ));
        None
    }
}

/// Looks a program up on `PATH` without reporting anything.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// A required program, or `None` after reporting it missing.
#[track_caller]
pub fn program(name: &str, install_hint: &str) -> Option<PathBuf> {
    let found = find_program(name);
    if found.is_none() {
        skip(&format!("{name} not found on PATH ({install_hint})"));
    }
    found
}

/// The real `qemu-system-x86_64` (`$QMP_QEMU` overrides the lookup).
#[track_caller]
pub fn qemu_system() -> Option<PathBuf> {
    overridden("QMP_QEMU")
        .or_else(|| program("qemu-system-x86_64", "apt-get install qemu-system-x86"))
}

/// The real `qemu-ga` guest agent (`$QMP_QGA` overrides the lookup).
#[track_caller]
pub fn qemu_ga() -> Option<PathBuf> {
    overridden("QMP_QGA").or_else(|| program("qemu-ga", "apt-get install qemu-guest-agent"))
}

fn overridden(var: &str) -> Option<PathBuf> {
    env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Python 3 with the `qemu.qmp` package importable, or `None` after
/// reporting it missing.
#[track_caller]
pub fn python_with_qemu_qmp() -> Option<PathBuf> {
    let python = program("python3", "install Python 3")?;
    let ok = std::process::Command::new(&python)
        .args(["-c", "import qemu.qmp"])
        .output()
        .is_ok_and(|out| out.status.success());
    if ok {
        Some(python)
    } else {
        skip("the Python package qemu.qmp is not installed (python3 -m pip install qemu.qmp)");
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_program_that_exists() {
        assert!(find_program("sh").is_some());
        assert!(find_program("no-such-program-qmp-rs").is_none());
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml"))
            .expect("workspace manifest");
        assert!(manifest.contains("[workspace]"));
    }
}
