//! `qmp shell` driven in a pseudo-terminal as a person would: type, Tab
//! complete a command, an argument and an enum value, run commands, see
//! events arrive (also while a line is being typed), leave with Ctrl-D;
//! against the built-in simulator and against a real QEMU. Also the shell
//! reading a pipe, as Python's qmp-shell does.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use qmp_test_support::{QEMU_HEADLESS, QEMU_NO_MACHINE};
use rexpect::session::{spawn_with_options, Options, PtySession};

const QMP: &str = env!("CARGO_BIN_EXE_qmp");

/// Time allowed for any one thing to appear (the machine is slow and loaded).
const WAIT: Duration = Duration::from_secs(15);

/// A `qmp shell` in a pty, with what it printed so far (escapes stripped).
struct Shell {
    pty: PtySession,
    seen: String,
    /// Where the next search starts in `seen`.
    mark: usize,
}

impl Shell {
    fn start(args: &[&str], history: &Path) -> Shell {
        let mut command = Command::new(QMP);
        command
            .arg("shell")
            .arg("--history")
            .arg(history)
            .args(args)
            .env("TERM", "xterm")
            .env_remove("NO_COLOR");
        let options = Options::new()
            .timeout_ms(Some(WAIT.as_millis() as u64))
            .strip_ansi_escape_codes(true);
        let pty = spawn_with_options(command, options).expect("start qmp shell in a pty");
        Shell {
            pty,
            seen: String::new(),
            mark: 0,
        }
    }

    /// Reads what is there; false at the end of output.
    fn pump(&mut self) -> bool {
        let mut any = false;
        while let Some(c) = self.pty.try_read() {
            self.seen.push(c);
            any = true;
        }
        if !any {
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Waits until every needle appeared after the mark (in any order),
    /// then moves the mark past the last of them.
    fn wait_for_all(&mut self, needles: &[&str]) {
        let deadline = Instant::now() + WAIT;
        loop {
            let rest = self.seen.get(self.mark..).unwrap_or("");
            let ends: Option<Vec<usize>> = needles
                .iter()
                .map(|n| rest.find(n).map(|at| at + n.len()))
                .collect();
            if let Some(ends) = ends {
                self.mark += ends.into_iter().max().unwrap_or(0);
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited {WAIT:?} for {needles:?} after:\n{}\n---- the shell printed after that:\n{}",
                self.seen.get(..self.mark).unwrap_or(""),
                rest
            );
            self.pump();
        }
    }

    fn wait_for(&mut self, needle: &str) {
        self.wait_for_all(&[needle]);
    }

    /// Types text (keys such as Tab as `\t`, Enter as `\r`).
    fn type_keys(&mut self, keys: &str) {
        self.pty.send(keys).expect("type");
        self.pty.flush().expect("flush");
    }

    /// Types a line and presses Enter.
    fn enter(&mut self, line: &str) {
        self.type_keys(&format!("{line}\r"));
    }

    /// Ctrl-D at an empty prompt, then the exit status.
    fn leave(mut self) {
        self.pty.send_control('d').expect("Ctrl-D");
        self.exits();
    }

    /// Waits for the shell to end, successfully.
    fn exits(self) {
        let status = self.pty.process().wait().expect("wait for qmp shell");
        // nix's WaitStatus, which rexpect does not re-export: `Exited(pid, 0)`.
        let status = format!("{status:?}");
        assert!(
            status.starts_with("Exited(") && status.ends_with(", 0)"),
            "qmp shell ended with {status}; it printed:\n{}",
            self.seen
        );
    }
}

fn history_lines(history: &Path) -> String {
    std::fs::read_to_string(history).unwrap_or_default()
}

#[test]
fn shell_on_the_simulator_completes_checks_runs_and_shows_events() {
    let dir = qmp_test_support::temp_dir();
    let history = dir.path().join("history");
    let mut shell = Shell::start(&[], &history);
    shell.wait_for_all(&["Welcome to the QMP low-level shell!", "(QEMU) "]);

    // A command by Tab.
    shell.type_keys("query-sta\t");
    shell.wait_for("tus ");
    shell.enter("");
    shell.wait_for_all(&["\"return\": {", "\"status\": \"running\"", "(QEMU) "]);

    // An argument name and an enum value by Tab, then a nested argument.
    shell.type_keys("blockdev-add dri\t");
    shell.wait_for("ver=");
    shell.type_keys("null-c\t");
    shell.wait_for("o ");
    shell.enter("node-name=n0");
    shell.wait_for_all(&["\"return\": {", "(QEMU) "]);
    shell.type_keys("blockdev-add driver=raw node-name=top file.dri\t");
    shell.wait_for("file.driver=");
    shell.type_keys("fi\t");
    shell.wait_for("le ");
    shell.enter("file.filename=/tmp/disk.img");
    shell.wait_for_all(&["\"return\": {", "(QEMU) "]);

    // The schema refuses input before it is sent, in QEMU's words.
    shell.enter("device_del");
    shell.wait_for_all(&[
        "Not sent: GenericError: Parameter 'id' is missing",
        "(QEMU) ",
    ]);
    shell.enter("blockdev-add driver=nfs");
    shell.wait_for("Parameter 'driver' does not accept value 'nfs'");

    // A command with an event, and a line typed ahead while it runs.
    shell.type_keys("stop\rquery-status\r");
    shell.wait_for_all(&["\"return\": {", "\"event\": \"STOP\"", "\"timestamp\""]);
    shell.wait_for("\"status\": \"paused\"");

    // An event arriving while a line is typed: it prints above, the line stays.
    shell.enter("block-stream device=n0");
    shell.wait_for("\"return\": {");
    shell.type_keys("query-na");
    shell.wait_for("\"event\": \"BLOCK_JOB_COMPLETED\"");
    shell.wait_for("(QEMU) query-na");
    shell.type_keys("\t");
    shell.wait_for("(QEMU) query-name");
    shell.enter("");
    shell.wait_for("\"return\": {");

    // A transaction over several lines, with its own prompt (the
    // simulator has no `transaction`: the schema check says so).
    shell.enter("transaction(");
    shell.wait_for("TRANS> ");
    shell.enter(")");
    shell.wait_for_all(&["The command transaction has not been found", "(QEMU) "]);

    shell.leave();
    let saved = history_lines(&history);
    assert!(saved.contains("query-status"), "history: {saved}");
    assert!(saved.contains("block-stream device=n0"), "history: {saved}");
}

#[test]
fn shell_on_real_qemu_completes_runs_and_shows_events() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    let dir = qmp_test_support::temp_dir();
    let history = dir.path().join("history");
    let qemu = qemu.to_string_lossy().into_owned();
    let launch = ["--launch", "--", &qemu];
    let mut shell = Shell::start(
        &[&launch[..], &QEMU_NO_MACHINE, &QEMU_HEADLESS, &["-S"]].concat(),
        &history,
    );
    shell.wait_for_all(&["Connected to QEMU ", "(QEMU) "]);

    // Tab completes the common prefix; a second Tab lists the choices.
    shell.type_keys("query-sta\t");
    shell.wait_for("(QEMU) query-stat");
    shell.type_keys("\t");
    shell.wait_for_all(&["query-stats-schemas", "query-status", "(QEMU) query-stat"]);
    shell.type_keys("u\t");
    shell.wait_for("s ");
    shell.enter("");
    shell.wait_for_all(&["\"status\": \"prelaunch\"", "(QEMU) "]);

    // An argument and an enum value by Tab.
    shell.type_keys("set-action pan\t");
    shell.wait_for("ic=");
    shell.type_keys("pau\t");
    shell.wait_for("se ");
    shell.enter("");
    shell.wait_for_all(&["\"return\": {", "(QEMU) "]);

    // A nested argument (a union branch chosen by driver=) and its enum.
    shell.type_keys("blockdev-add driver=raw node-name=top file.dri\t");
    shell.wait_for("file.driver=");
    shell.type_keys("null-c\t");
    shell.wait_for("o ");
    shell.enter("");
    shell.wait_for_all(&["\"return\": {", "(QEMU) "]);

    // A transaction over several lines, its actions completed too.
    shell.enter("transaction(");
    shell.wait_for("TRANS> ");
    shell.type_keys("block-dirty-bitmap-a\t");
    shell.wait_for("dd ");
    shell.enter("node=top name=b0");
    shell.wait_for("TRANS> ");
    shell.enter(")");
    shell.wait_for_all(&["\"return\": {", "(QEMU) "]);

    // Refused before sending, with QEMU's own text.
    shell.enter("blockdev-del");
    shell.wait_for("Not sent: GenericError: Parameter 'node-name' is missing");

    // Events.
    shell.enter("cont");
    shell.wait_for_all(&["\"return\": {", "\"event\": \"RESUME\""]);
    shell.enter("stop");
    shell.wait_for_all(&["\"return\": {", "\"event\": \"STOP\""]);
    shell.wait_for("(QEMU) ");

    // HMP through the same connection, raw JSON too.
    shell.enter(
        r#"{"execute": "human-monitor-command", "arguments": {"command-line": "info status"}}"#,
    );
    shell.wait_for("VM status: paused");

    // QEMU goes away: the shell says so at once, and leaves at the next Enter.
    shell.enter("quit");
    shell.wait_for_all(&["\"event\": \"SHUTDOWN\"", "Disconnected: "]);
    shell.enter("");
    shell.exits();
    assert!(history_lines(&history).contains("set-action panic=pause"));
}

/// Runs `qmp ARGS` with `input` piped in, as qmp-shell is fed from a
/// script; returns what it printed and its status.
fn shell_fed(args: &[&std::ffi::OsStr], input: &str) -> std::process::Output {
    let mut child = Command::new(QMP)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qmp shell");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    child.wait_with_output().expect("qmp shell")
}

#[test]
fn shell_reads_a_pipe_like_qmp_shell() {
    let input = "query-status\n\
                 stop\n\
                 device_del\n\
                 nosuch a=1\n\
                 x a\n\
                 transaction(\n\
                 )\n\
                 query-status\n";
    let output = shell_fed(
        &["shell", "--sim", "--compact"].map(std::ffi::OsStr::new),
        input,
    );
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines
            .first()
            .is_some_and(|l| l.starts_with(r#"{"return": {"#) && l.contains("running")),
        "{stdout}"
    );
    // QEMU sends STOP before stop's reply; the shell prints them so.
    assert!(
        lines
            .get(1)
            .is_some_and(|l| l.contains(r#""event": "STOP""#)),
        "{stdout}"
    );
    assert_eq!(lines.get(2), Some(&r#"{"return": {}}"#), "{stdout}");
    for expected in [
        "Not sent: GenericError: Parameter 'id' is missing",
        "Not sent: CommandNotFound: The command nosuch has not been found",
        "Error while parsing command line: Expected a key=value pair, got 'a'",
        "Not sent: CommandNotFound: The command transaction has not been found",
        r#""status": "paused""#,
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    assert!(!stdout.contains('\x1b'), "no color into a pipe");
}

/// `-l FILE`: every command sent, with its reply's `return` or `error`,
/// one JSON object each, as qmp-shell logs them; refused input is not sent
/// and so not logged.
#[test]
fn shell_logs_commands_and_replies_with_l() {
    let dir = qmp_test_support::temp_dir();
    let log = dir.path().join("qmp.log");
    let args = ["shell", "--sim", "--compact", "-l"].map(std::ffi::OsStr::new);
    let output = shell_fed(
        &[&args[..], &[log.as_os_str()]].concat(),
        "query-name\ndevice_del\ndevice_del id=nope\n",
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let logged = std::fs::read_to_string(&log).expect("log file");
    assert_eq!(
        logged,
        "{\"execute\": \"query-name\", \"arguments\": {}, \"return\": {}}\n\
         {\"execute\": \"device_del\", \"arguments\": {\"id\": \"nope\"}, \"error\": \
         {\"class\": \"DeviceNotFound\", \"desc\": \"Device 'nope' not found\"}}\n"
    );
    let unwritable = Command::new(QMP)
        .args(["shell", "--sim", "-l"])
        .arg(dir.path().join("no/such/dir/log"))
        .stdin(Stdio::null())
        .output()
        .expect("qmp shell");
    assert_eq!(unwritable.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unwritable.stderr).contains("cannot create the log file"));
}

/// `-N` against the real qemu-ga: no greeting is awaited and no
/// qmp_capabilities sent, so the agent's commands run at once (qmp-shell's
/// use of -N); the missing schema is reported, not fatal.
#[test]
fn shell_skips_negotiation_with_n_for_the_guest_agent() {
    let Some(program) = qmp_test_support::qemu_ga() else {
        return;
    };
    let agent = qmp_test_support::TestProcess::qga(&program).expect("start qemu-ga");
    let args = ["shell", "--compact", "-N"].map(std::ffi::OsStr::new);
    let output = shell_fed(
        &[&args[..], &[agent.socket().as_os_str()]].concat(),
        "guest-ping\nguest-info\n",
    );
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&r#"{"return": {}}"#), "{stdout}");
    assert!(
        lines
            .get(1)
            .is_some_and(|l| l.contains(r#""supported_commands""#)),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("No schema"), "{stderr}");
}
