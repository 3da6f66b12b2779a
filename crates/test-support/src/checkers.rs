//! The outside checkers tests run: the conformance kit's `compare.py`
//! over a set of transcripts, and Python scripts driving a server.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The transcripts of the conformance kit's `transcripts` folder, sorted.
pub fn transcripts(conformance: &Path) -> Vec<PathBuf> {
    let mut transcripts: Vec<PathBuf> = std::fs::read_dir(conformance.join("transcripts"))
        .expect("transcripts folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    transcripts.sort();
    transcripts
}

/// Runs `compare.py ARGS TRANSCRIPTS` with `env`, in two halves side by
/// side (each transcript starts its own server); fails the test unless
/// every transcript passes. Prints the checkers' output.
pub fn compare_all(
    python: &Path,
    conformance: &Path,
    transcripts: &[PathBuf],
    args: &[&OsStr],
    env: &[(&str, &OsStr)],
) {
    let runs: Vec<_> = transcripts
        .chunks(transcripts.len().div_ceil(2).max(1))
        .map(|half| {
            Command::new(python)
                .arg(conformance.join("compare.py"))
                .args(args)
                .args(half)
                .envs(env.iter().copied())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run compare.py")
        })
        .collect();
    let mut passed = 0;
    for run in runs {
        let output = run.wait_with_output().expect("compare.py output");
        let stdout = String::from_utf8_lossy(&output.stdout);
        println!("{stdout}");
        let summary = stdout.lines().last().unwrap_or_default();
        assert!(
            output.status.success() && summary.contains(" passed, 0 failed"),
            "conformance failures:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        passed += summary
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
    }
    assert_eq!(passed, transcripts.len());
    println!(
        "conformance: {passed} of {} transcripts pass",
        transcripts.len()
    );
}

/// Runs `python SCRIPT SOCKET`; fails the test unless it succeeds, and
/// returns what it printed.
pub fn run_python_script(python: &Path, script: &Path, socket: &Path) -> String {
    let output = Command::new(python)
        .arg(script)
        .arg(socket)
        .output()
        .expect("run the Python script");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{}: {stdout}\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Runs Python's `qmp-shell SOCKET` with `input` on its standard input
/// (one command a line) and returns what it printed.
pub fn run_qmp_shell(shell: &Path, socket: &Path, input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(shell)
        .arg(socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qmp-shell");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write commands");
    let output = child.wait_with_output().expect("qmp-shell output");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
