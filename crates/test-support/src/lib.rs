//! Test support for qmp-rs: finds the shared reference data (`QMP_SHARED`)
//! and the real QEMU binaries, and decides what a test does when one of them
//! is missing.
//!
//! Without `QMP_TEST_STRICT=1` a test whose prerequisite is missing prints
//! why and returns early (a skip); with it, the test fails. This crate owns
//! that policy and nothing else: it does not start QEMU or parse anything.
//!
//! ```no_run
//! let Some(transcripts) = qmp_test_support::shared_path("conformance/transcripts") else {
//!     return; // skipped, with the reason printed
//! };
//! ```

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

/// QEMU's full schemas as `(name, folder)`: the name the expected files
/// use (`qemu/expected/10.0-NAME.dump.out`) and the folder holding
/// `qapi-schema.json` under `qemu/VERSION/`.
pub const FULL_SCHEMAS: [(&str, &str); 3] = [
    ("qmp", "qapi"),
    ("qga", "qga"),
    ("storage-daemon", "storage-daemon/qapi"),
];

/// QEMU 10.0's folder of full schema `(name, folder)` (see
/// [`FULL_SCHEMAS`]) and QEMU's dump of it, or `None` after reporting
/// either missing.
#[track_caller]
pub fn qemu_10_0_schema_and_dump((name, folder): (&str, &str)) -> Option<(PathBuf, PathBuf)> {
    let dir = shared_path(&format!("qemu/10.0/{folder}"))?;
    let dump = shared_path(&format!("qemu/expected/10.0-{name}.dump.out"))?;
    Some((dir, dump))
}

/// The options every test QEMU runs with: no default devices, no display.
pub const QEMU_HEADLESS: [&str; 3] = ["-nodefaults", "-display", "none"];

/// The machine of tests that need none.
pub const QEMU_NO_MACHINE: [&str; 2] = ["-machine", "none"];

/// `binary` with [`QEMU_NO_MACHINE`] and [`QEMU_HEADLESS`]. Add `-qmp`
/// (and anything else) before spawning.
pub fn qemu_command(binary: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(binary);
    command.args(QEMU_NO_MACHINE).args(QEMU_HEADLESS);
    command
}

/// A real QEMU started for a test or a benchmark: `-machine none
/// -nodefaults -display none` plus extra options, its QMP monitor on a unix
/// socket in a private folder. Killed, reaped and cleaned up on drop.
pub struct QemuProcess {
    child: std::process::Child,
    socket: PathBuf,
    dir: PathBuf,
}

impl QemuProcess {
    /// Starts `binary` and waits (up to 20 s) until its monitor socket
    /// accepts connections. The probe connection is closed again at once.
    pub fn start(binary: &Path, extra: &[&str]) -> std::io::Result<QemuProcess> {
        let mut command = qemu_command(binary);
        command.args(extra);
        QemuProcess::spawn(command)
    }

    /// Starts any program that takes QEMU's `-qmp unix:PATH,server=on,wait=off`
    /// (QEMU, or `qmp fake-qemu` with QEMU's options), with that option
    /// added, and waits as [`QemuProcess::start`] does.
    pub fn spawn(mut command: std::process::Command) -> std::io::Result<QemuProcess> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let dir = env::temp_dir().join(format!(
            "qmp-test-qemu-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let socket = dir.join("qmp.sock");
        let child = command
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", socket.display()))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()?;
        let mut process = QemuProcess { child, socket, dir };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&process.socket).is_err() {
            if std::time::Instant::now() > deadline || process.child.try_wait()?.is_some() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the program did not open its monitor socket",
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // QEMU serves one client at a time: let it notice the probe left.
        std::thread::sleep(std::time::Duration::from_millis(50));
        Ok(process)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child process (to signal it or wait for its exit).
    pub fn child(&mut self) -> &mut std::process::Child {
        &mut self.child
    }

    /// The monitor socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for QemuProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A real `qemu-ga -m unix-listen` started for a test, in a private folder
/// with its state directory. When the tests run as root the agent runs as
/// `nobody`, so that commands like `guest-shutdown` cannot act on the
/// machine. Killed, reaped and cleaned up on drop.
pub struct QgaProcess {
    child: std::process::Child,
    socket: PathBuf,
    dir: PathBuf,
}

/// The unprivileged user (and group) a guest agent is demoted to.
const NOBODY: u32 = 65534;

impl QgaProcess {
    /// Starts `binary` and waits (up to 10 s) for its socket.
    pub fn start(binary: &Path) -> std::io::Result<QgaProcess> {
        use std::os::unix::fs::PermissionsExt;
        use std::os::unix::process::CommandExt;
        use std::sync::atomic::{AtomicUsize, Ordering};
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let dir = env::temp_dir().join(format!(
            "qmp-test-qga-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let state = dir.join("state");
        std::fs::create_dir_all(&state)?;
        // The demoted agent creates its socket and state files here.
        for folder in [&dir, &state] {
            std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o777))?;
        }
        let socket = dir.join("qga.sock");
        let mut command = std::process::Command::new(binary);
        command
            .args(["-m", "unix-listen", "-p"])
            .arg(&socket)
            .arg("-t")
            .arg(&state)
            .stdin(std::process::Stdio::null());
        if rustix::process::geteuid().is_root() {
            command.uid(NOBODY).gid(NOBODY);
        }
        let process = QgaProcess {
            child: command.spawn()?,
            socket,
            dir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !process.socket.exists() {
            if std::time::Instant::now() > deadline {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "qemu-ga did not create its socket",
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Ok(process)
    }

    /// The agent's socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The agent's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the agent runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for QgaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
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
