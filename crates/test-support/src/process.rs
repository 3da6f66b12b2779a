//! The programs tests start: a real QEMU or anything taking QEMU's `-qmp`
//! option (`qmp fake-qemu`), `qmp serve`, `qmp proxy`, a real qemu-ga, or any child a
//! test spawned itself. One type, [`TestProcess`], owns each: it waits for the socket,
//! and on drop kills and reaps the process and removes its private folder.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::fixtures::{qemu_command, temp_dir};

/// How long a started program may take to open its socket.
const STARTUP: Duration = Duration::from_secs(20);

/// The unprivileged user (and group) a guest agent is demoted to.
const NOBODY: u32 = 65534;

/// A program started for a test: killed, reaped and cleaned up on drop,
/// pass or fail.
pub struct TestProcess {
    child: Child,
    socket: PathBuf,
    /// Private folders, removed after the process is gone.
    _dirs: Vec<tempfile::TempDir>,
}

impl TestProcess {
    /// A real QEMU: `binary -machine none -nodefaults -display none`, the
    /// `extra` options, and its QMP monitor on a socket in a private folder.
    pub fn qemu(binary: &Path, extra: &[&str]) -> std::io::Result<TestProcess> {
        let mut command = qemu_command(binary);
        command.args(extra);
        TestProcess::monitor(command)
    }

    /// Any program that takes QEMU's `-qmp unix:PATH,server=on,wait=off`
    /// (QEMU, or `qmp fake-qemu` with QEMU's options), with that option
    /// added; waits until the monitor accepts connections (the probe
    /// connection is closed again at once).
    pub fn monitor(mut command: Command) -> std::io::Result<TestProcess> {
        let process = TestProcess::listening(|socket| {
            command
                .arg("-qmp")
                .arg(format!("unix:{},server=on,wait=off", socket.display()));
            command
        })?;
        // QEMU serves one client at a time: let it notice the probe left.
        std::thread::sleep(Duration::from_millis(50));
        Ok(process)
    }

    /// `qmp serve --unix SOCKET` and the `extra` options, with the `qmp`
    /// binary at `qmp`; waits until it accepts connections.
    pub fn serve(qmp: &Path, extra: &[&str]) -> std::io::Result<TestProcess> {
        TestProcess::listening(|socket| {
            let mut command = Command::new(qmp);
            command.arg("serve").arg("--unix").arg(socket).args(extra);
            command.stderr(Stdio::null());
            command
        })
    }

    /// `qmp proxy UPSTREAM --listen unix:SOCKET` and the `extra` options,
    /// with the `qmp` binary at `qmp`; waits until it accepts connections.
    pub fn proxy(qmp: &Path, upstream: &Path, extra: &[&str]) -> std::io::Result<TestProcess> {
        TestProcess::listening(|socket| {
            let mut command = Command::new(qmp);
            command
                .arg("proxy")
                .arg(upstream)
                .arg("--listen")
                .arg(format!("unix:{}", socket.display()))
                .args(extra);
            command.stderr(Stdio::null());
            command
        })
    }

    /// Spawns the command `build` makes for a monitor socket in a private
    /// folder, and waits until the socket accepts connections (the probe
    /// connection is closed again at once).
    fn listening(build: impl FnOnce(&Path) -> Command) -> std::io::Result<TestProcess> {
        let dir = temp_dir();
        let socket = dir.path().join("qmp.sock");
        let child = build(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()?;
        let mut process = TestProcess {
            child,
            socket,
            _dirs: vec![dir],
        };
        process.wait_until("open its monitor socket", |socket| {
            std::os::unix::net::UnixStream::connect(socket).is_ok()
        })?;
        Ok(process)
    }

    /// A real `qemu-ga -m unix-listen` with its socket and state folder in
    /// a private folder. When the tests run as root the agent runs as
    /// `nobody`, so that commands like `guest-shutdown` cannot act on the
    /// machine.
    pub fn qga(binary: &Path) -> std::io::Result<TestProcess> {
        let dir = temp_dir();
        let socket = dir.path().join("qga.sock");
        let mut process = TestProcess::qga_at(binary, &socket)?;
        process._dirs.push(dir);
        Ok(process)
    }

    /// [`TestProcess::qga`] with its socket at `socket` (whose folder the
    /// agent, perhaps demoted to `nobody`, must be able to write to; it is
    /// made world-writable here).
    pub fn qga_at(binary: &Path, socket: &Path) -> std::io::Result<TestProcess> {
        use std::os::unix::fs::PermissionsExt;
        use std::os::unix::process::CommandExt;
        let state = temp_dir();
        // The demoted agent creates its socket and state files here.
        let folders = [socket.parent().unwrap_or(Path::new(".")), state.path()];
        for folder in folders {
            std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o777))?;
        }
        let mut command = Command::new(binary);
        command
            .args(["-m", "unix-listen", "-p"])
            .arg(socket)
            .arg("-t")
            .arg(state.path())
            .stdin(Stdio::null());
        if rustix::process::geteuid().is_root() {
            command.uid(NOBODY).gid(NOBODY);
        }
        let mut process = TestProcess {
            child: command.spawn()?,
            socket: socket.to_owned(),
            _dirs: vec![state],
        };
        process.wait_until("create its socket", |socket| socket.exists())?;
        Ok(process)
    }

    /// A child the test spawned itself (no socket of ours).
    pub fn adopt(child: Child) -> TestProcess {
        TestProcess {
            child,
            socket: PathBuf::new(),
            _dirs: Vec::new(),
        }
    }

    /// Waits until `ready(socket)` holds, failing if the program exits
    /// first or [`STARTUP`] passes.
    fn wait_until(&mut self, what: &str, ready: impl Fn(&Path) -> bool) -> std::io::Result<()> {
        let deadline = Instant::now() + STARTUP;
        while !ready(&self.socket) {
            if let Some(status) = self.child.try_wait()? {
                return Err(std::io::Error::other(format!(
                    "the program exited ({status}) before it could {what}"
                )));
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the program did not {what} within {STARTUP:?}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// The monitor's (or agent's) socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The child process (to signal it or wait for its exit).
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for TestProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
